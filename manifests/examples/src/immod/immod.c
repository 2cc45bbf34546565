/*
 * immod.c - the Example Mail Suite instant-messaging client module,
 * installed as "{app}/IM Client/im module.so" (a path with spaces).
 * Registers with the native sk_reg_* API of <setupkit/reg.h> (inetcomm and
 * chatcfg use the Win32 spellings), so both APIs are exercised.
 *
 * One source, two builds (see ../../examples.mk):
 *   modules/immod.so      IMMOD_VERSION "5.5.2448.0"
 *   sp3/modules/immod.so  IMMOD_VERSION "5.5.2448.3", IMMOD_FEATURES "sp3"
 *
 * DllRegisterServer writes:
 *   HKCR\im                       (default) = "URL:Instant Messaging",
 *                                 "URL Protocol" = ""
 *   HKCR\im\shell\open\command    (default) = "\"<this module's path>\" %1"
 *   HKCR\CLSID\{3F8B1D62-7C9E-4A25-B6D4-1E0C8A7F5B41}
 *                                 (default) = friendly name
 *       \InprocServer32           (default) = this module's path,
 *                                 ThreadingModel = Apartment
 *   HKLM\Software\Example\Mail Suite\IM Client
 *                                 Version = IMMOD_VERSION, Module = path,
 *                                 Features = IMMOD_FEATURES (SP build only)
 * The command line quotes the path (it holds spaces); a path holding a
 * double quote cannot be quoted that way, so registration refuses it.
 * DllUnregisterServer deletes all of it, then Mail Suite and Example under
 * HKLM\Software when each is left with no subkeys and no values.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setupkit/reg.h>
#include <setupkit/version.h>

#include "../common/excom.h"

#ifndef IMMOD_VERSION
#define IMMOD_VERSION "5.5.2448.0"
#endif

SETUPKIT_FILE_VERSION(IMMOD_VERSION);

#define PROTOCOL_KEY "im"
#define COMMAND_KEY  "im\\shell\\open\\command"
#define PRODUCT_KEY  "Software\\Example\\Mail Suite\\IM Client"

static const char *const parent_keys[] = {
	"Software\\Example\\Mail Suite",
	"Software\\Example",
};

/* {3F8B1D62-7C9E-4A25-B6D4-1E0C8A7F5B41} */
static const CLSID clsid_immod = { 0x3F8B1D62, 0x7C9E, 0x4A25,
	{ 0xB6, 0xD4, 0x1E, 0x0C, 0x8A, 0x7F, 0x5B, 0x41 } };
static const CLSID *const class_ids[] = { &clsid_immod };

static long put_sz(SK_HKEY root, const char *key, const char *name, const char *data)
{
	SK_HKEY h;
	long rc = sk_reg_create_key(root, key, &h, NULL);

	if (rc != SK_ERROR_SUCCESS)
		return rc;
	rc = sk_reg_set_string(h, name, data);
	sk_reg_close_key(h);
	return rc;
}

static long del_tree(SK_HKEY root, const char *key)
{
	long rc = sk_reg_delete_tree(root, key);

	return rc == SK_ERROR_FILE_NOT_FOUND ? SK_ERROR_SUCCESS : rc;
}

/* Delete root\key if it has neither subkeys nor values; 1 when deleted. */
static int prune_if_empty(SK_HKEY root, const char *key)
{
	SK_HKEY h;
	char name[256];
	uint32_t len = sizeof(name);
	int empty;

	if (sk_reg_open_key(root, key, &h) != SK_ERROR_SUCCESS)
		return 0;
	empty = sk_reg_enum_key(h, 0, name, &len) == SK_ERROR_NO_MORE_ITEMS;
	len = sizeof(name);
	if (empty)
		empty = sk_reg_enum_value(h, 0, name, &len, NULL, NULL, NULL) ==
			SK_ERROR_NO_MORE_ITEMS;
	sk_reg_close_key(h);
	return empty && sk_reg_delete_key(root, key) == SK_ERROR_SUCCESS;
}

static long register_all(const char *path)
{
	char guid[39], key[96];
	size_t n = strlen(path) + sizeof("\"\" %1");
	char *command = malloc(n);
	long rc;

	if (!command)
		return SK_ERROR_OUTOFMEMORY;
	snprintf(command, n, "\"%s\" %%1", path);
	rc = put_sz(SK_HKEY_CLASSES_ROOT, PROTOCOL_KEY, NULL, "URL:Instant Messaging");
	if (rc == SK_ERROR_SUCCESS)
		rc = put_sz(SK_HKEY_CLASSES_ROOT, PROTOCOL_KEY, "URL Protocol", "");
	if (rc == SK_ERROR_SUCCESS)
		rc = put_sz(SK_HKEY_CLASSES_ROOT, COMMAND_KEY, NULL, command);
	free(command);
	if (rc != SK_ERROR_SUCCESS)
		return rc;

	excom_guid_string(&clsid_immod, guid);
	snprintf(key, sizeof(key), "CLSID\\%s", guid);
	if ((rc = put_sz(SK_HKEY_CLASSES_ROOT, key, NULL, "Example Instant Messaging Client")) !=
	    SK_ERROR_SUCCESS)
		return rc;
	snprintf(key, sizeof(key), "CLSID\\%s\\InprocServer32", guid);
	if ((rc = put_sz(SK_HKEY_CLASSES_ROOT, key, NULL, path)) != SK_ERROR_SUCCESS ||
	    (rc = put_sz(SK_HKEY_CLASSES_ROOT, key, "ThreadingModel", "Apartment")) !=
	    SK_ERROR_SUCCESS)
		return rc;

	if ((rc = put_sz(SK_HKEY_LOCAL_MACHINE, PRODUCT_KEY, "Version", IMMOD_VERSION)) !=
	    SK_ERROR_SUCCESS ||
	    (rc = put_sz(SK_HKEY_LOCAL_MACHINE, PRODUCT_KEY, "Module", path)) != SK_ERROR_SUCCESS)
		return rc;
#ifdef IMMOD_FEATURES
	rc = put_sz(SK_HKEY_LOCAL_MACHINE, PRODUCT_KEY, "Features", IMMOD_FEATURES);
#endif
	return rc;
}

STDAPI DllRegisterServer(void)
{
	const char *path = sk_reg_module_path();

	if (!path)
		return E_UNEXPECTED;
	if (strchr(path, '"'))
		return E_INVALIDARG;
	return register_all(path) == SK_ERROR_SUCCESS ? S_OK : SELFREG_E_CLASS;
}

STDAPI DllUnregisterServer(void)
{
	char guid[39], key[96];

	excom_guid_string(&clsid_immod, guid);
	snprintf(key, sizeof(key), "CLSID\\%s", guid);
	if (del_tree(SK_HKEY_CLASSES_ROOT, PROTOCOL_KEY) != SK_ERROR_SUCCESS ||
	    del_tree(SK_HKEY_CLASSES_ROOT, key) != SK_ERROR_SUCCESS ||
	    del_tree(SK_HKEY_LOCAL_MACHINE, PRODUCT_KEY) != SK_ERROR_SUCCESS)
		return SELFREG_E_CLASS;
	for (size_t i = 0; i < sizeof(parent_keys) / sizeof(parent_keys[0]); i++)
		if (!prune_if_empty(SK_HKEY_LOCAL_MACHINE, parent_keys[i]))
			break;
	return S_OK;
}

STDAPI DllGetClassObject(REFCLSID rclsid, REFIID riid, void **ppv)
{
	return excom_get_class_object(rclsid, riid, ppv, class_ids,
				      sizeof(class_ids) / sizeof(class_ids[0]));
}

STDAPI DllCanUnloadNow(void)
{
	return excom_can_unload_now();
}

STDAPI DllGetVersion(DLLVERSIONINFO *info)
{
	return excom_get_version(info, IMMOD_VERSION);
}
