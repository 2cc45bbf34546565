/*
 * excom.h - the sliver of COM the Example Mail Suite modules share: a static
 * class factory object for DllGetClassObject, and GUID comparison.
 * Header-only (each module is built from one .c file); include it once.
 *
 * The object handed out by DllGetClassObject must be a real COM object:
 * `register verify` (and anything else that activates a class) calls
 * IUnknown::Release through the third slot of its vtable.
 */
#ifndef EXAMPLES_EXCOM_H
#define EXAMPLES_EXCOM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <setupkit/reg.h>

/* {00000000-0000-0000-C000-000000000046} */
static const IID excom_iid_iunknown = { 0x00000000, 0x0000, 0x0000,
	{ 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46 } };
/* {00000001-0000-0000-C000-000000000046} */
static const IID excom_iid_iclassfactory = { 0x00000001, 0x0000, 0x0000,
	{ 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46 } };

static inline int excom_guid_eq(REFGUID a, REFGUID b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" (38 characters and a NUL). */
static inline void excom_guid_string(REFGUID g, char out[39])
{
	snprintf(out, 39, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}",
		 (unsigned)g->Data1, (unsigned)g->Data2, (unsigned)g->Data3,
		 g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3],
		 g->Data4[4], g->Data4[5], g->Data4[6], g->Data4[7]);
}

/* IClassFactory: IUnknown's three slots, then CreateInstance, LockServer. */
struct excom_factory;
struct excom_factory_vtbl {
	HRESULT (*QueryInterface)(struct excom_factory *self, REFIID riid, void **ppv);
	uint32_t (*AddRef)(struct excom_factory *self);
	uint32_t (*Release)(struct excom_factory *self);
	HRESULT (*CreateInstance)(struct excom_factory *self, void *outer, REFIID riid,
				  void **ppv);
	HRESULT (*LockServer)(struct excom_factory *self, int lock);
};

struct excom_factory {
	const struct excom_factory_vtbl *lpVtbl;
};

static long excom_server_locks;

static HRESULT excom_cf_query_interface(struct excom_factory *self, REFIID riid, void **ppv)
{
	if (!ppv)
		return E_POINTER;
	*ppv = NULL;
	if (!riid)
		return E_INVALIDARG;
	if (!excom_guid_eq(riid, &excom_iid_iunknown) &&
	    !excom_guid_eq(riid, &excom_iid_iclassfactory))
		return E_NOINTERFACE;
	*ppv = self;
	self->lpVtbl->AddRef(self);
	return S_OK;
}

/* The factory is a static object: reference counting is a formality. */
static uint32_t excom_cf_add_ref(struct excom_factory *self)
{
	(void)self;
	return 2;
}

static uint32_t excom_cf_release(struct excom_factory *self)
{
	(void)self;
	return 1;
}

/* The sample classes have no instances; only activation is exercised. */
static HRESULT excom_cf_create_instance(struct excom_factory *self, void *outer, REFIID riid,
					void **ppv)
{
	(void)self;
	(void)outer;
	(void)riid;
	if (!ppv)
		return E_POINTER;
	*ppv = NULL;
	return E_NOTIMPL;
}

static HRESULT excom_cf_lock_server(struct excom_factory *self, int lock)
{
	(void)self;
	if (lock)
		excom_server_locks++;
	else if (excom_server_locks > 0)
		excom_server_locks--;
	return S_OK;
}

static const struct excom_factory_vtbl excom_factory_vtbl = {
	excom_cf_query_interface, excom_cf_add_ref, excom_cf_release,
	excom_cf_create_instance, excom_cf_lock_server,
};

static struct excom_factory excom_factory_object = { &excom_factory_vtbl };

/* DllGetClassObject for a module serving the n classes in `classes`. */
static inline HRESULT excom_get_class_object(REFCLSID rclsid, REFIID riid, void **ppv,
					     const CLSID *const *classes, size_t n)
{
	if (!ppv)
		return E_POINTER;
	*ppv = NULL;
	if (!rclsid || !riid)
		return E_INVALIDARG;
	for (size_t i = 0; i < n; i++)
		if (excom_guid_eq(rclsid, classes[i]))
			return excom_cf_query_interface(&excom_factory_object, riid, ppv);
	return CLASS_E_CLASSNOTAVAILABLE;
}

static inline HRESULT excom_can_unload_now(void)
{
	return excom_server_locks > 0 ? S_FALSE : S_OK;
}

/* "a.b.c.d" -> DLLVERSIONINFO (which has no field for d). */
static inline HRESULT excom_get_version(DLLVERSIONINFO *info, const char *version)
{
	uint32_t part[3] = { 0, 0, 0 };
	const char *p = version;

	if (!info)
		return E_POINTER;
	if (info->cbSize < sizeof(*info))
		return E_INVALIDARG;
	for (int i = 0; i < 3 && *p; i++) {
		while (*p >= '0' && *p <= '9')
			part[i] = part[i] * 10u + (uint32_t)(*p++ - '0');
		if (*p == '.')
			p++;
	}
	info->dwMajorVersion = part[0];
	info->dwMinorVersion = part[1];
	info->dwBuildNumber = part[2];
	info->dwPlatformID = 2;   /* DLLVER_PLATFORM_NT */
	return S_OK;
}

#endif
