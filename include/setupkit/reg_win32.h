/*
 * setupkit/reg_win32.h - included by <setupkit/reg.h> when building a module
 * for Windows (a real DLL): the COM types come from <windows.h>, and the
 * sk_reg_* calls are static inline wrappers over advapi32's wide API
 * (setupkit/reg_win32_impl.h), so the same module source builds on both
 * systems. Strings stay UTF-8 at the sk_reg_* interface, as on POSIX.
 * <setupkit/winreg.h> is plain <windows.h> there.
 */
#ifndef SETUPKIT_PUBLIC_REG_WIN32_H
#define SETUPKIT_PUBLIC_REG_WIN32_H

#include <windows.h>

#define SK_REG_API static inline

#ifndef SELFREG_E_CLASS   /* <olectl.h>'s */
#define SELFREG_E_TYPELIB ((HRESULT)0x80040200L)
#define SELFREG_E_CLASS   ((HRESULT)0x80040201L)
#endif

#ifndef DLLVER_PLATFORM_WINDOWS   /* <shlwapi.h> defines it with the struct */
typedef struct _DLLVERSIONINFO {
	DWORD cbSize;
	DWORD dwMajorVersion;
	DWORD dwMinorVersion;
	DWORD dwBuildNumber;
	DWORD dwPlatformID;
} DLLVERSIONINFO;
#endif

#endif
