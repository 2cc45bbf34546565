/*
 * setupkit/winreg.h - Win32 spellings of the setupkit registry API, so that
 * typical DllRegisterServer code (RegCreateKeyExA, RegSetValueExA, ...)
 * compiles unchanged on Linux. Only the ANSI (A) functions exist; strings
 * are UTF-8. Security attributes, classes and access masks are accepted and
 * ignored (there are no ACLs in the setupkit store).
 */
#ifndef SETUPKIT_WINREG_H
#define SETUPKIT_WINREG_H

#ifdef _WIN32
#include <setupkit/reg.h>   /* <windows.h>: the real advapi32 functions */
#else

#include <stdint.h>
#include <setupkit/reg.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef WINAPI
#define WINAPI
#endif
#ifndef APIENTRY
#define APIENTRY
#endif

typedef int32_t LONG;
typedef uint32_t DWORD;
typedef uint32_t ULONG;
typedef unsigned char BYTE;
typedef int BOOL;
typedef char CHAR;
typedef CHAR *LPSTR;
typedef const CHAR *LPCSTR;
typedef DWORD *LPDWORD;
typedef BYTE *LPBYTE;
typedef const BYTE *LPCBYTE;
typedef void *LPVOID;
typedef DWORD REGSAM;
typedef LONG LSTATUS;
typedef SK_HKEY HKEY;
typedef HKEY *PHKEY;
typedef struct _SECURITY_ATTRIBUTES *LPSECURITY_ATTRIBUTES;
typedef struct _FILETIME { DWORD dwLowDateTime, dwHighDateTime; } FILETIME, *PFILETIME;

#ifndef TRUE
#define TRUE 1
#define FALSE 0
#endif

#define HKEY_CLASSES_ROOT   SK_HKEY_CLASSES_ROOT
#define HKEY_CURRENT_USER   SK_HKEY_CURRENT_USER
#define HKEY_LOCAL_MACHINE  SK_HKEY_LOCAL_MACHINE
#define HKEY_USERS          SK_HKEY_USERS

#define REG_NONE       SK_REG_NONE
#define REG_SZ         SK_REG_SZ
#define REG_EXPAND_SZ  SK_REG_EXPAND_SZ
#define REG_BINARY     SK_REG_BINARY
#define REG_DWORD      SK_REG_DWORD
#define REG_DWORD_LITTLE_ENDIAN SK_REG_DWORD
#define REG_MULTI_SZ   SK_REG_MULTI_SZ
#define REG_QWORD      SK_REG_QWORD
#define REG_QWORD_LITTLE_ENDIAN SK_REG_QWORD

#define ERROR_SUCCESS            SK_ERROR_SUCCESS
#define ERROR_FILE_NOT_FOUND     SK_ERROR_FILE_NOT_FOUND
#define ERROR_ACCESS_DENIED      SK_ERROR_ACCESS_DENIED
#define ERROR_INVALID_HANDLE     SK_ERROR_INVALID_HANDLE
#define ERROR_OUTOFMEMORY        SK_ERROR_OUTOFMEMORY
#define ERROR_NOT_ENOUGH_MEMORY  8
#define ERROR_INVALID_PARAMETER  SK_ERROR_INVALID_PARAMETER
#define ERROR_MORE_DATA          SK_ERROR_MORE_DATA
#define ERROR_NO_MORE_ITEMS      SK_ERROR_NO_MORE_ITEMS
#define ERROR_BADDB              SK_ERROR_BADDB
#define ERROR_BADKEY             SK_ERROR_BADKEY
#define ERROR_CANTWRITE          SK_ERROR_CANTWRITE

#define KEY_QUERY_VALUE        0x0001
#define KEY_SET_VALUE          0x0002
#define KEY_CREATE_SUB_KEY     0x0004
#define KEY_ENUMERATE_SUB_KEYS 0x0008
#define KEY_NOTIFY             0x0010
#define KEY_CREATE_LINK        0x0020
#define KEY_WOW64_64KEY        0x0100
#define KEY_WOW64_32KEY        0x0200
#define KEY_READ               0x20019
#define KEY_WRITE              0x20006
#define KEY_EXECUTE            0x20019
#define KEY_ALL_ACCESS         0xF003F

#define REG_OPTION_NON_VOLATILE 0x0000
#define REG_OPTION_VOLATILE     0x0001
#define REG_CREATED_NEW_KEY     0x0001
#define REG_OPENED_EXISTING_KEY 0x0002

LONG WINAPI RegCreateKeyExA(HKEY hKey, LPCSTR lpSubKey, DWORD Reserved, LPSTR lpClass,
	DWORD dwOptions, REGSAM samDesired, LPSECURITY_ATTRIBUTES lpSecurityAttributes,
	PHKEY phkResult, LPDWORD lpdwDisposition);
LONG WINAPI RegCreateKeyA(HKEY hKey, LPCSTR lpSubKey, PHKEY phkResult);
LONG WINAPI RegOpenKeyExA(HKEY hKey, LPCSTR lpSubKey, DWORD ulOptions, REGSAM samDesired,
	PHKEY phkResult);
LONG WINAPI RegOpenKeyA(HKEY hKey, LPCSTR lpSubKey, PHKEY phkResult);
LONG WINAPI RegSetValueExA(HKEY hKey, LPCSTR lpValueName, DWORD Reserved, DWORD dwType,
	const BYTE *lpData, DWORD cbData);
LONG WINAPI RegQueryValueExA(HKEY hKey, LPCSTR lpValueName, LPDWORD lpReserved,
	LPDWORD lpType, LPBYTE lpData, LPDWORD lpcbData);
LONG WINAPI RegDeleteValueA(HKEY hKey, LPCSTR lpValueName);
LONG WINAPI RegDeleteKeyA(HKEY hKey, LPCSTR lpSubKey);
LONG WINAPI RegDeleteTreeA(HKEY hKey, LPCSTR lpSubKey);
LONG WINAPI RegEnumKeyExA(HKEY hKey, DWORD dwIndex, LPSTR lpName, LPDWORD lpcchName,
	LPDWORD lpReserved, LPSTR lpClass, LPDWORD lpcchClass, PFILETIME lpftLastWriteTime);
LONG WINAPI RegEnumValueA(HKEY hKey, DWORD dwIndex, LPSTR lpValueName, LPDWORD lpcchValueName,
	LPDWORD lpReserved, LPDWORD lpType, LPBYTE lpData, LPDWORD lpcbData);
LONG WINAPI RegCloseKey(HKEY hKey);

#ifdef __cplusplus
}
#endif

#endif /* _WIN32 */

#endif
