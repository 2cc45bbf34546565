/*
 * setupkit/reg.h - the registry API and module ABI for self-registering
 * modules (the public header module authors include).
 *
 * A module is a shared object built with
 *     cc -shared -fPIC mod.c $(pkg-config --cflags --libs setupkit)
 * and loaded by `register` (or `setup`) in a child process. The sk_reg_*
 * functions are NOT linked into the module: they are resolved at load time
 * from the process that loads it, so `pkg-config --libs` is empty.
 *
 * Keys are backslash separated, case-insensitive and case-preserving, under
 * the roots SK_HKEY_LOCAL_MACHINE, SK_HKEY_CURRENT_USER, SK_HKEY_USERS and
 * SK_HKEY_CLASSES_ROOT (a view of HKEY_LOCAL_MACHINE\Software\Classes).
 * Every key has an unnamed default value (name NULL or "").
 * Functions return SK_ERROR_* codes with the Win32 numbering (0 is success).
 * Writes made while an entry point runs are buffered and committed only when
 * the entry point returns a success HRESULT (S_OK or S_FALSE).
 * For Win32 spellings (RegCreateKeyExA, ...) include <setupkit/winreg.h>.
 */
#ifndef SETUPKIT_PUBLIC_REG_H
#define SETUPKIT_PUBLIC_REG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- COM-style module ABI ---- */

#ifdef _WIN32
/* On Windows a module is a real DLL: HRESULT, GUID, S_OK ... are
 * <windows.h>'s, and the sk_reg_* calls below are inline wrappers over
 * advapi32 (setupkit/reg_win32.h). */
#include <setupkit/reg_win32.h>
#else
#define SK_REG_API   /* the sk_reg_* functions come from the loading process */
typedef int32_t HRESULT;

#define S_OK                       ((HRESULT)0x00000000)
#define S_FALSE                    ((HRESULT)0x00000001)
#define E_NOTIMPL                  ((HRESULT)0x80004001)
#define E_NOINTERFACE              ((HRESULT)0x80004002)
#define E_POINTER                  ((HRESULT)0x80004003)
#define E_FAIL                     ((HRESULT)0x80004005)
#define E_UNEXPECTED               ((HRESULT)0x8000FFFF)
#define E_ACCESSDENIED             ((HRESULT)0x80070005)
#define E_OUTOFMEMORY              ((HRESULT)0x8007000E)
#define E_INVALIDARG               ((HRESULT)0x80070057)
#define CLASS_E_CLASSNOTAVAILABLE  ((HRESULT)0x80040111)
#define SELFREG_E_TYPELIB          ((HRESULT)0x80040200)
#define SELFREG_E_CLASS            ((HRESULT)0x80040201)

#define SUCCEEDED(hr)  ((HRESULT)(hr) >= 0)
#define FAILED(hr)     ((HRESULT)(hr) < 0)

typedef struct _GUID {
	uint32_t Data1;
	uint16_t Data2;
	uint16_t Data3;
	uint8_t  Data4[8];
} GUID;
typedef GUID CLSID;
typedef GUID IID;
typedef const GUID *REFGUID;
typedef const GUID *REFCLSID;
typedef const GUID *REFIID;
#endif /* _WIN32 */

#ifndef _WIN32
typedef struct _DLLVERSIONINFO {
	uint32_t cbSize;
	uint32_t dwMajorVersion;
	uint32_t dwMinorVersion;
	uint32_t dwBuildNumber;
	uint32_t dwPlatformID;
} DLLVERSIONINFO;
#endif

#if defined(_WIN32)
#define SK_EXPORT __declspec(dllexport)
#undef STDAPI
#define STDAPI SK_EXPORT HRESULT WINAPI
#elif defined(__GNUC__)
#define SK_EXPORT __attribute__((visibility("default")))
#define STDAPI SK_EXPORT HRESULT
#else
#define SK_EXPORT
#define STDAPI SK_EXPORT HRESULT
#endif

/* Entry points a module may export (all optional except the one called). */
STDAPI DllRegisterServer(void);
STDAPI DllUnregisterServer(void);
#ifdef _WIN32
STDAPI DllInstall(BOOL install, LPCWSTR cmdline);   /* Windows' own signature */
#else
STDAPI DllInstall(int install, const char *cmdline);
#endif
STDAPI DllGetClassObject(REFCLSID rclsid, REFIID riid, void **ppv);
STDAPI DllCanUnloadNow(void);
STDAPI DllGetVersion(DLLVERSIONINFO *info);

/* ---- registry API ---- */

#ifdef _WIN32
typedef HKEY SK_HKEY;
#define SK_HKEY_CLASSES_ROOT   HKEY_CLASSES_ROOT
#define SK_HKEY_CURRENT_USER   HKEY_CURRENT_USER
#define SK_HKEY_LOCAL_MACHINE  HKEY_LOCAL_MACHINE
#define SK_HKEY_USERS          HKEY_USERS
#else
typedef struct sk_hkey *SK_HKEY;

#define SK_HKEY_CLASSES_ROOT   ((SK_HKEY)(uintptr_t)0x80000000u)
#define SK_HKEY_CURRENT_USER   ((SK_HKEY)(uintptr_t)0x80000001u)
#define SK_HKEY_LOCAL_MACHINE  ((SK_HKEY)(uintptr_t)0x80000002u)
#define SK_HKEY_USERS          ((SK_HKEY)(uintptr_t)0x80000003u)
#endif

/* Value types (Win32 numbering). String data is UTF-8 bytes. */
#define SK_REG_NONE       0u
#define SK_REG_SZ         1u
#define SK_REG_EXPAND_SZ  2u
#define SK_REG_BINARY     3u
#define SK_REG_DWORD      4u
#define SK_REG_MULTI_SZ   7u
#define SK_REG_QWORD      11u

/* Result codes (Win32 numbering). */
#define SK_ERROR_SUCCESS            0
#define SK_ERROR_FILE_NOT_FOUND     2
#define SK_ERROR_ACCESS_DENIED      5
#define SK_ERROR_INVALID_HANDLE     6
#define SK_ERROR_OUTOFMEMORY        14
#define SK_ERROR_INVALID_PARAMETER  87
#define SK_ERROR_MORE_DATA          234
#define SK_ERROR_NO_MORE_ITEMS      259
#define SK_ERROR_BADDB              1009
#define SK_ERROR_BADKEY             1010
#define SK_ERROR_CANTWRITE          1013

/* Open key `subkey` under `parent` (a root or an open key), creating it and
 * any missing parents. *created (may be NULL) is 1 when it did not exist.
 * Close the result with sk_reg_close_key. */
SK_REG_API long sk_reg_create_key(SK_HKEY parent, const char *subkey, SK_HKEY *out, int *created);
/* Open an existing key; SK_ERROR_FILE_NOT_FOUND when it does not exist. */
SK_REG_API long sk_reg_open_key(SK_HKEY parent, const char *subkey, SK_HKEY *out);
/* Close a key opened above; closing a root is a no-op. */
SK_REG_API long sk_reg_close_key(SK_HKEY key);

/* Set a value (name NULL or "" is the default value); data is copied. */
SK_REG_API long sk_reg_set_value(SK_HKEY key, const char *name, uint32_t type,
                      const void *data, uint32_t len);
/* REG_SZ convenience: stores value including its terminating NUL. */
SK_REG_API long sk_reg_set_string(SK_HKEY key, const char *name, const char *value);
SK_REG_API long sk_reg_set_dword(SK_HKEY key, const char *name, uint32_t value);

/* Read a value. type and data may be NULL; *len is in: size of data,
 * out: size of the value. SK_ERROR_MORE_DATA when data is too small. */
SK_REG_API long sk_reg_query_value(SK_HKEY key, const char *name, uint32_t *type,
                        void *data, uint32_t *len);
SK_REG_API long sk_reg_delete_value(SK_HKEY key, const char *name);
/* Delete subkey (NULL: the key itself) with everything under it. */
SK_REG_API long sk_reg_delete_tree(SK_HKEY key, const char *subkey);
/* Delete an empty subkey (SK_ERROR_ACCESS_DENIED when it has subkeys). */
SK_REG_API long sk_reg_delete_key(SK_HKEY key, const char *subkey);

/* Enumerate: index 0, 1, ... until SK_ERROR_NO_MORE_ITEMS. *name_len is in:
 * size of name including NUL, out: length without NUL. Order: by name,
 * case-insensitively. */
SK_REG_API long sk_reg_enum_key(SK_HKEY key, uint32_t index, char *name, uint32_t *name_len);
SK_REG_API long sk_reg_enum_value(SK_HKEY key, uint32_t index, char *name, uint32_t *name_len,
                       uint32_t *type, void *data, uint32_t *len);

/* Absolute path of the module being registered (borrowed, valid while the
 * entry point runs), or NULL outside a registration. */
SK_REG_API const char *sk_reg_module_path(void);

#ifdef _WIN32
#include <setupkit/reg_win32_impl.h>   /* their definitions */
#endif

#ifdef __cplusplus
}
#endif

#endif
