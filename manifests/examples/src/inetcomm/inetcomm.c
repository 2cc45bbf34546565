/*
 * inetcomm.c - the Example Mail Suite's shared "Internet communication"
 * library: a plain library (inetcomm_send) that also self-registers two COM
 * classes through the Win32-compatible API of <setupkit/winreg.h>.
 *
 * One source, three builds (see ../../examples.mk):
 *   modules/inetcomm.so      INETCOMM_VERSION "5.5.2448.0"
 *   sp1/modules/inetcomm.so  INETCOMM_VERSION "5.5.2448.1", INETCOMM_FEATURES "sp1"
 *   sp4/modules/inetcomm.so  INETCOMM_VERSION "5.5.2448.4", INETCOMM_FEATURES "sp4"
 *
 * DllRegisterServer writes, for each class C (MimeOle, SMTPTransport):
 *   HKCR\CLSID\{C}                  (default) = friendly name
 *   HKCR\CLSID\{C}\InprocServer32   (default) = this module's path,
 *                                   ThreadingModel = Both
 *   HKCR\CLSID\{C}\ProgID           (default) = inetcomm.C
 *   HKCR\inetcomm.C                 (default) = friendly name
 *   HKCR\inetcomm.C\CLSID           (default) = {C}
 * and HKLM\Software\Example\inetcomm: Version = INETCOMM_VERSION,
 * Path = this module's path, and (service-pack builds) Features.
 * DllUnregisterServer deletes all of it, and HKLM\Software\Example too
 * when that is left empty.
 */
#include <stddef.h>
#include <string.h>

#include <setupkit/reg.h>
#include <setupkit/version.h>
#include <setupkit/winreg.h>

#include "../common/excom.h"
#include "inetcomm.h"

#ifndef INETCOMM_VERSION
#define INETCOMM_VERSION "5.5.2448.0"
#endif

SETUPKIT_FILE_VERSION(INETCOMM_VERSION);

#define INETCOMM_KEY  "Software\\Example\\inetcomm"
#define EXAMPLE_KEY   "Software\\Example"

/* {6D1C2B4E-8A3F-4C51-9E7D-2F4A6B8C0D11} */
static const CLSID clsid_mimeole = { 0x6D1C2B4E, 0x8A3F, 0x4C51,
	{ 0x9E, 0x7D, 0x2F, 0x4A, 0x6B, 0x8C, 0x0D, 0x11 } };
/* {6D1C2B4E-8A3F-4C51-9E7D-2F4A6B8C0D12} */
static const CLSID clsid_smtp = { 0x6D1C2B4E, 0x8A3F, 0x4C51,
	{ 0x9E, 0x7D, 0x2F, 0x4A, 0x6B, 0x8C, 0x0D, 0x12 } };

static const struct inetcomm_class {
	const CLSID *clsid;
	const char *name;
	const char *progid;
} classes[] = {
	{ &clsid_mimeole, "Example MIME Object Library", "inetcomm.MimeOle" },
	{ &clsid_smtp, "Example SMTP Transport", "inetcomm.SMTPTransport" },
};
#define NCLASSES (sizeof(classes) / sizeof(classes[0]))

static const CLSID *const class_ids[] = { &clsid_mimeole, &clsid_smtp };

int inetcomm_send(const char *message)
{
	if (!message)
		return -1;
	return (int)strlen(message);
}

/* root\key: set value `name` (NULL: the default value) to the string data. */
static LONG put_sz(HKEY root, const char *key, const char *name, const char *data)
{
	HKEY h;
	LONG rc = RegCreateKeyExA(root, key, 0, NULL, REG_OPTION_NON_VOLATILE, KEY_WRITE,
				  NULL, &h, NULL);

	if (rc != ERROR_SUCCESS)
		return rc;
	rc = RegSetValueExA(h, name, 0, REG_SZ, (const BYTE *)data, (DWORD)strlen(data) + 1);
	RegCloseKey(h);
	return rc;
}

/* Delete root\key and everything under it; a missing key is not an error. */
static LONG del_tree(HKEY root, const char *key)
{
	LONG rc = RegDeleteTreeA(root, key);

	return rc == ERROR_FILE_NOT_FOUND ? ERROR_SUCCESS : rc;
}

/* Delete root\key if it has neither subkeys nor values. */
static void prune_if_empty(HKEY root, const char *key)
{
	HKEY h;
	char name[256];
	DWORD len = sizeof(name);
	int empty;

	if (RegOpenKeyExA(root, key, 0, KEY_READ, &h) != ERROR_SUCCESS)
		return;
	empty = RegEnumKeyExA(h, 0, name, &len, NULL, NULL, NULL, NULL) == ERROR_NO_MORE_ITEMS;
	len = sizeof(name);
	if (empty)
		empty = RegEnumValueA(h, 0, name, &len, NULL, NULL, NULL, NULL) ==
			ERROR_NO_MORE_ITEMS;
	RegCloseKey(h);
	if (empty)
		RegDeleteKeyA(root, key);
}

static LONG register_class(const struct inetcomm_class *c, const char *path)
{
	char guid[39], key[128];
	LONG rc;

	excom_guid_string(c->clsid, guid);
	snprintf(key, sizeof(key), "CLSID\\%s", guid);
	if ((rc = put_sz(HKEY_CLASSES_ROOT, key, NULL, c->name)) != ERROR_SUCCESS)
		return rc;
	snprintf(key, sizeof(key), "CLSID\\%s\\InprocServer32", guid);
	if ((rc = put_sz(HKEY_CLASSES_ROOT, key, NULL, path)) != ERROR_SUCCESS ||
	    (rc = put_sz(HKEY_CLASSES_ROOT, key, "ThreadingModel", "Both")) != ERROR_SUCCESS)
		return rc;
	snprintf(key, sizeof(key), "CLSID\\%s\\ProgID", guid);
	if ((rc = put_sz(HKEY_CLASSES_ROOT, key, NULL, c->progid)) != ERROR_SUCCESS)
		return rc;
	if ((rc = put_sz(HKEY_CLASSES_ROOT, c->progid, NULL, c->name)) != ERROR_SUCCESS)
		return rc;
	snprintf(key, sizeof(key), "%s\\CLSID", c->progid);
	return put_sz(HKEY_CLASSES_ROOT, key, NULL, guid);
}

STDAPI DllRegisterServer(void)
{
	const char *path = sk_reg_module_path();

	if (!path)
		return E_UNEXPECTED;
	for (size_t i = 0; i < NCLASSES; i++)
		if (register_class(&classes[i], path) != ERROR_SUCCESS)
			return SELFREG_E_CLASS;
	if (put_sz(HKEY_LOCAL_MACHINE, INETCOMM_KEY, "Version", INETCOMM_VERSION) != ERROR_SUCCESS ||
	    put_sz(HKEY_LOCAL_MACHINE, INETCOMM_KEY, "Path", path) != ERROR_SUCCESS)
		return SELFREG_E_CLASS;
#ifdef INETCOMM_FEATURES
	if (put_sz(HKEY_LOCAL_MACHINE, INETCOMM_KEY, "Features", INETCOMM_FEATURES) !=
	    ERROR_SUCCESS)
		return SELFREG_E_CLASS;
#endif
	return S_OK;
}

STDAPI DllUnregisterServer(void)
{
	char guid[39], key[128];

	for (size_t i = 0; i < NCLASSES; i++) {
		excom_guid_string(classes[i].clsid, guid);
		snprintf(key, sizeof(key), "CLSID\\%s", guid);
		if (del_tree(HKEY_CLASSES_ROOT, key) != ERROR_SUCCESS ||
		    del_tree(HKEY_CLASSES_ROOT, classes[i].progid) != ERROR_SUCCESS)
			return SELFREG_E_CLASS;
	}
	if (del_tree(HKEY_LOCAL_MACHINE, INETCOMM_KEY) != ERROR_SUCCESS)
		return SELFREG_E_CLASS;
	prune_if_empty(HKEY_LOCAL_MACHINE, EXAMPLE_KEY);
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
	return excom_get_version(info, INETCOMM_VERSION);
}
