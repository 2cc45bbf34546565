/*
 * reg_winreg.c - the Win32-compatible spellings (<setupkit/winreg.h>) as
 * thin wrappers over sk_reg_*. Reserved arguments, classes, options and
 * access masks are accepted and ignored: the store has no ACLs, no volatile
 * keys and no WOW64 redirection.
 */
#include "reg_private.h"

#include <setupkit/winreg.h>

LONG WINAPI RegCreateKeyExA(HKEY hKey, LPCSTR lpSubKey, DWORD Reserved, LPSTR lpClass,
	DWORD dwOptions, REGSAM samDesired, LPSECURITY_ATTRIBUTES lpSecurityAttributes,
	PHKEY phkResult, LPDWORD lpdwDisposition)
{
	int created = 0;
	LONG rc;

	(void)Reserved; (void)lpClass; (void)dwOptions; (void)samDesired;
	(void)lpSecurityAttributes;
	rc = (LONG)sk_reg_create_key(hKey, lpSubKey, phkResult, &created);
	if (rc == ERROR_SUCCESS && lpdwDisposition)
		*lpdwDisposition = created ? REG_CREATED_NEW_KEY : REG_OPENED_EXISTING_KEY;
	return rc;
}

LONG WINAPI RegCreateKeyA(HKEY hKey, LPCSTR lpSubKey, PHKEY phkResult)
{
	return (LONG)sk_reg_create_key(hKey, lpSubKey, phkResult, NULL);
}

LONG WINAPI RegOpenKeyExA(HKEY hKey, LPCSTR lpSubKey, DWORD ulOptions, REGSAM samDesired,
	PHKEY phkResult)
{
	(void)ulOptions; (void)samDesired;
	return (LONG)sk_reg_open_key(hKey, lpSubKey, phkResult);
}

LONG WINAPI RegOpenKeyA(HKEY hKey, LPCSTR lpSubKey, PHKEY phkResult)
{
	return (LONG)sk_reg_open_key(hKey, lpSubKey, phkResult);
}

LONG WINAPI RegSetValueExA(HKEY hKey, LPCSTR lpValueName, DWORD Reserved, DWORD dwType,
	const BYTE *lpData, DWORD cbData)
{
	(void)Reserved;
	return (LONG)sk_reg_set_value(hKey, lpValueName, dwType, lpData, cbData);
}

LONG WINAPI RegQueryValueExA(HKEY hKey, LPCSTR lpValueName, LPDWORD lpReserved,
	LPDWORD lpType, LPBYTE lpData, LPDWORD lpcbData)
{
	(void)lpReserved;
	return (LONG)sk_reg_query_value(hKey, lpValueName, lpType, lpData, lpcbData);
}

LONG WINAPI RegDeleteValueA(HKEY hKey, LPCSTR lpValueName)
{
	return (LONG)sk_reg_delete_value(hKey, lpValueName);
}

LONG WINAPI RegDeleteKeyA(HKEY hKey, LPCSTR lpSubKey)
{
	return (LONG)sk_reg_delete_key(hKey, lpSubKey);
}

LONG WINAPI RegDeleteTreeA(HKEY hKey, LPCSTR lpSubKey)
{
	return (LONG)sk_reg_delete_tree(hKey, lpSubKey);
}

LONG WINAPI RegEnumKeyExA(HKEY hKey, DWORD dwIndex, LPSTR lpName, LPDWORD lpcchName,
	LPDWORD lpReserved, LPSTR lpClass, LPDWORD lpcchClass, PFILETIME lpftLastWriteTime)
{
	(void)lpReserved;
	if (lpClass && lpcchClass && *lpcchClass)
		lpClass[0] = '\0';
	if (lpcchClass)
		*lpcchClass = 0;
	if (lpftLastWriteTime)
		lpftLastWriteTime->dwLowDateTime = lpftLastWriteTime->dwHighDateTime = 0;
	return (LONG)sk_reg_enum_key(hKey, dwIndex, lpName, lpcchName);
}

LONG WINAPI RegEnumValueA(HKEY hKey, DWORD dwIndex, LPSTR lpValueName, LPDWORD lpcchValueName,
	LPDWORD lpReserved, LPDWORD lpType, LPBYTE lpData, LPDWORD lpcbData)
{
	(void)lpReserved;
	return (LONG)sk_reg_enum_value(hKey, dwIndex, lpValueName, lpcchValueName, lpType,
				       lpData, lpcbData);
}

LONG WINAPI RegCloseKey(HKEY hKey)
{
	return (LONG)sk_reg_close_key(hKey);
}

void *const reg_winreg_exports[] = {
	(void *)RegCreateKeyExA, (void *)RegCreateKeyA, (void *)RegOpenKeyExA,
	(void *)RegOpenKeyA, (void *)RegSetValueExA, (void *)RegQueryValueExA,
	(void *)RegDeleteValueA, (void *)RegDeleteKeyA, (void *)RegDeleteTreeA,
	(void *)RegEnumKeyExA, (void *)RegEnumValueA, (void *)RegCloseKey, NULL,
};
