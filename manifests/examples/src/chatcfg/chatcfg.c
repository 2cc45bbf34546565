/*
 * chatcfg.c - the Example Mail Suite chat configuration module. It links
 * against libchatsvc.so.1 (DT_NEEDED, found through DT_RUNPATH $ORIGIN), so
 * registering it fails unless the chat runtime is installed beside it.
 * Registers with the Win32-compatible API of <setupkit/winreg.h>.
 *
 * One source, two builds (see ../../examples.mk):
 *   modules/chatcfg.so      CHATCFG_VERSION "5.5.2448.0"
 *   sp2/modules/chatcfg.so  CHATCFG_VERSION "5.5.2448.2", CHATCFG_FEATURES "sp2"
 *
 * DllRegisterServer writes:
 *   HKLM\Software\Example\Mail Suite\Chat\Config
 *       MaxUsers     REG_DWORD  chatsvc_limit()
 *       ConfigModule REG_SZ     this module's path
 *       Version      REG_SZ     CHATCFG_VERSION
 *       Features     REG_SZ     CHATCFG_FEATURES (service-pack build only)
 *   HKCR\CLSID\{9E3A7C21-5B4D-4F86-A1C3-7D2E5F9B0A31}  (default) = friendly name
 *       \InprocServer32  (default) = this module's path, ThreadingModel = Apartment
 * DllUnregisterServer deletes them, then Chat, Mail Suite and Example under
 * HKLM\Software when each is left with no subkeys and no values.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <setupkit/reg.h>
#include <setupkit/version.h>
#include <setupkit/winreg.h>

#include "../common/excom.h"
#include "../libchatsvc/chatsvc.h"

#ifndef CHATCFG_VERSION
#define CHATCFG_VERSION "5.5.2448.0"
#endif

SETUPKIT_FILE_VERSION(CHATCFG_VERSION);

#define CONFIG_KEY "Software\\Example\\Mail Suite\\Chat\\Config"

/* Parents pruned on unregister when empty, innermost first. */
static const char *const parent_keys[] = {
	"Software\\Example\\Mail Suite\\Chat",
	"Software\\Example\\Mail Suite",
	"Software\\Example",
};

/* {9E3A7C21-5B4D-4F86-A1C3-7D2E5F9B0A31} */
static const CLSID clsid_chatcfg = { 0x9E3A7C21, 0x5B4D, 0x4F86,
	{ 0xA1, 0xC3, 0x7D, 0x2E, 0x5F, 0x9B, 0x0A, 0x31 } };
static const CLSID *const class_ids[] = { &clsid_chatcfg };

static LONG set_sz(HKEY h, const char *name, const char *data)
{
	return RegSetValueExA(h, name, 0, REG_SZ, (const BYTE *)data, (DWORD)strlen(data) + 1);
}

static LONG put_sz(HKEY root, const char *key, const char *name, const char *data)
{
	HKEY h;
	LONG rc = RegCreateKeyExA(root, key, 0, NULL, REG_OPTION_NON_VOLATILE, KEY_WRITE,
				  NULL, &h, NULL);

	if (rc != ERROR_SUCCESS)
		return rc;
	rc = set_sz(h, name, data);
	RegCloseKey(h);
	return rc;
}

static LONG write_config(const char *path)
{
	HKEY h;
	int limit = chatsvc_limit();
	DWORD max_users = limit > 0 ? (DWORD)limit : 0;
	LONG rc = RegCreateKeyExA(HKEY_LOCAL_MACHINE, CONFIG_KEY, 0, NULL,
				  REG_OPTION_NON_VOLATILE, KEY_WRITE, NULL, &h, NULL);

	if (rc != ERROR_SUCCESS)
		return rc;
	rc = RegSetValueExA(h, "MaxUsers", 0, REG_DWORD, (const BYTE *)&max_users,
			    sizeof(max_users));
	if (rc == ERROR_SUCCESS)
		rc = set_sz(h, "ConfigModule", path);
	if (rc == ERROR_SUCCESS)
		rc = set_sz(h, "Version", CHATCFG_VERSION);
#ifdef CHATCFG_FEATURES
	if (rc == ERROR_SUCCESS)
		rc = set_sz(h, "Features", CHATCFG_FEATURES);
#endif
	RegCloseKey(h);
	return rc;
}

static LONG del_tree(HKEY root, const char *key)
{
	LONG rc = RegDeleteTreeA(root, key);

	return rc == ERROR_FILE_NOT_FOUND ? ERROR_SUCCESS : rc;
}

/* Delete root\key if it has neither subkeys nor values; 1 when deleted. */
static int prune_if_empty(HKEY root, const char *key)
{
	HKEY h;
	char name[256];
	DWORD len = sizeof(name);
	int empty;

	if (RegOpenKeyExA(root, key, 0, KEY_READ, &h) != ERROR_SUCCESS)
		return 0;
	empty = RegEnumKeyExA(h, 0, name, &len, NULL, NULL, NULL, NULL) == ERROR_NO_MORE_ITEMS;
	len = sizeof(name);
	if (empty)
		empty = RegEnumValueA(h, 0, name, &len, NULL, NULL, NULL, NULL) ==
			ERROR_NO_MORE_ITEMS;
	RegCloseKey(h);
	return empty && RegDeleteKeyA(root, key) == ERROR_SUCCESS;
}

STDAPI DllRegisterServer(void)
{
	const char *path = sk_reg_module_path();
	char guid[39], key[96];

	if (!path)
		return E_UNEXPECTED;
	if (write_config(path) != ERROR_SUCCESS)
		return SELFREG_E_CLASS;
	excom_guid_string(&clsid_chatcfg, guid);
	snprintf(key, sizeof(key), "CLSID\\%s", guid);
	if (put_sz(HKEY_CLASSES_ROOT, key, NULL, "Example Chat Configuration") != ERROR_SUCCESS)
		return SELFREG_E_CLASS;
	snprintf(key, sizeof(key), "CLSID\\%s\\InprocServer32", guid);
	if (put_sz(HKEY_CLASSES_ROOT, key, NULL, path) != ERROR_SUCCESS ||
	    put_sz(HKEY_CLASSES_ROOT, key, "ThreadingModel", "Apartment") != ERROR_SUCCESS)
		return SELFREG_E_CLASS;
	return S_OK;
}

STDAPI DllUnregisterServer(void)
{
	char guid[39], key[96];

	excom_guid_string(&clsid_chatcfg, guid);
	snprintf(key, sizeof(key), "CLSID\\%s", guid);
	if (del_tree(HKEY_CLASSES_ROOT, key) != ERROR_SUCCESS ||
	    del_tree(HKEY_LOCAL_MACHINE, CONFIG_KEY) != ERROR_SUCCESS)
		return SELFREG_E_CLASS;
	for (size_t i = 0; i < sizeof(parent_keys) / sizeof(parent_keys[0]); i++)
		if (!prune_if_empty(HKEY_LOCAL_MACHINE, parent_keys[i]))
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
	return excom_get_version(info, CHATCFG_VERSION);
}
