/*
 * reg_hresult.c - names and meanings of HRESULT codes, for messages like
 * "DllRegisterServer returned 0x80040201 (SELFREG_E_CLASS: ...)".
 * Unknown codes are decoded by facility (HRESULT_FROM_WIN32 gives the Win32
 * error number).
 */
#include "reg_private.h"

#include <stdio.h>

#include <setupkit/reg.h>

static const struct {
	int32_t hr;
	const char *name, *meaning;
} table[] = {
	{ S_OK, "S_OK", "success" },
	{ S_FALSE, "S_FALSE", "success, with nothing to do" },
	{ E_NOTIMPL, "E_NOTIMPL", "not implemented" },
	{ E_NOINTERFACE, "E_NOINTERFACE", "no such interface supported" },
	{ E_POINTER, "E_POINTER", "invalid pointer" },
	{ E_FAIL, "E_FAIL", "unspecified failure" },
	{ E_UNEXPECTED, "E_UNEXPECTED", "catastrophic failure" },
	{ E_ACCESSDENIED, "E_ACCESSDENIED", "general access denied error" },
	{ E_OUTOFMEMORY, "E_OUTOFMEMORY", "out of memory" },
	{ E_INVALIDARG, "E_INVALIDARG", "one or more arguments are invalid" },
	{ CLASS_E_CLASSNOTAVAILABLE, "CLASS_E_CLASSNOTAVAILABLE",
	  "the module does not provide this class" },
	{ SELFREG_E_TYPELIB, "SELFREG_E_TYPELIB", "the module could not register its type library" },
	{ SELFREG_E_CLASS, "SELFREG_E_CLASS", "the module could not register all its classes" },
};

const char *reg_hresult_name(int32_t hr)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].hr == hr)
			return table[i].name;
	return NULL;
}

char *reg_hresult_describe(int32_t hr, char *buf, size_t size)
{
	uint32_t u = (uint32_t)hr;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].hr == hr) {
			snprintf(buf, size, "0x%08X (%s: %s)", u, table[i].name, table[i].meaning);
			return buf;
		}
	if ((u & 0xFFFF0000u) == 0x80070000u)
		snprintf(buf, size, "0x%08X (HRESULT_FROM_WIN32: Win32 error %u)", u, u & 0xFFFFu);
	else if (hr < 0)
		snprintf(buf, size, "0x%08X (failure, facility %u, code %u)", u,
			 (u >> 16) & 0x1FFFu, u & 0xFFFFu);
	else
		snprintf(buf, size, "0x%08X (success code)", u);
	return buf;
}
