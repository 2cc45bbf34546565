/*
 * reg_deps_win32.c - explaining why a module does not load, on Windows: read
 * the import directory of its PE image without running any of its code,
 * and look for each imported DLL where LoadLibraryExW(path, NULL,
 * LOAD_WITH_ALTERED_SEARCH_PATH) would. The Windows twin of reg_deps_posix.c:
 * same contracts (reg.h), same message wording.
 *
 * Search order reproduced (the documented alternate search order, with
 * SafeDllSearchMode on): the module's folder, the system folder, the 16-bit
 * system folder, the Windows folder, the current folder, then each folder
 * of %PATH%. Not reproduced: KnownDLLs (they are in the system folder
 * anyway), side-by-side assemblies named by a manifest, .local redirection
 * and SetDllDirectory/AddDllDirectory. API-set names (api-ms-win-*,
 * ext-ms-*) are resolved by the loader without a file and are left out of
 * `needed`; so are delay-load imports, which do not stop a load. A DLL
 * imported twice (linkers may emit two descriptors) is listed once.
 * Only images for this process's machine are accepted (PE32+ for x86-64):
 * the others cannot be loaded here, whatever they import.
 * Traps: the file is untrusted; every RVA is mapped through the section
 * table, every offset and size is checked against the file size, names are
 * bounded and must be printable. Strings are UTF-8 inside setupkit; every
 * call that touches the system uses the W API.
 */
#include "reg_private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <windows.h>

#include "common/mem.h"
#include "common/os.h"

#define DEPS_MAX_NEEDED 256    /* DLL names kept, like reg_deps.c */
#define DEPS_MAX_DIRS 128
#define DEPS_MAX_DESC 4096     /* import descriptors scanned */
#define DEPS_NAME_MAX 1024     /* longest DLL name accepted, bytes */

#define PE_MAX_SECTIONS 96     /* the Windows loader's own limit */
#define PE_DOS_SIZE 64
#define PE_FILEHDR_SIZE 24     /* "PE\0\0" + IMAGE_FILE_HEADER */
#define PE_SECTION_SIZE 40
#define PE_IMPORT_DESC_SIZE 20
#define PE_OPT_MAX 240         /* optional header bytes read: PE32+ with 16 directories */
#define PE_MAGIC_PE32 0x10b
#define PE_MAGIC_PE32PLUS 0x20b

#if defined(__x86_64__) || defined(_M_AMD64)
#define PE_HOST_MACHINE 0x8664
#define PE_HOST_MAGIC PE_MAGIC_PE32PLUS
#elif defined(__aarch64__) || defined(_M_ARM64)
#define PE_HOST_MACHINE 0xaa64
#define PE_HOST_MAGIC PE_MAGIC_PE32PLUS
#elif defined(__i386__) || defined(_M_IX86)
#define PE_HOST_MACHINE 0x14c
#define PE_HOST_MAGIC PE_MAGIC_PE32
#else
#error "reg_deps_win32.c: unknown machine"
#endif

/* ---- names and folders ---- */

static int ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* ASCII case-insensitive comparison of a[0..n) and b[0..n). */
static int ascii_ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

static int is_sep(char c)
{
	return c == '\\' || c == '/';
}

/* API-set contract names: the loader maps them to a host DLL, no file. */
static int is_api_set(const char *name)
{
	size_t n = strlen(name);

	return (n >= 11 && ascii_ieq(name, "api-ms-win-", 11)) ||
	       (n >= 7 && ascii_ieq(name, "ext-ms-", 7));
}

/* dir + "\\" + name (no doubled separator); NULL on out of memory. */
static char *win_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	return mem_printf("%s%s%s", dir, n && is_sep(dir[n - 1]) ? "" : "\\", name);
}

/* 1 when path names an existing file (not a folder), 0 when not, -1 when
 * memory ran out. */
static int file_exists(const char *path)
{
	wchar_t *w = os_wide(path);
	DWORD a;

	if (!w)
		return -1;
	a = GetFileAttributesW(w);
	mem_free(w);
	return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
}

struct dirlist {
	char *dir[DEPS_MAX_DIRS];
	const char *why[DEPS_MAX_DIRS];
	size_t n;
	int oom;             /* a folder was dropped for want of memory */
};

/* Length of dir without its trailing separators ("C:\" keeps its own). */
static size_t dir_len(const char *dir, size_t len)
{
	while (len > 1 && is_sep(dir[len - 1]) && !(len == 3 && dir[1] == ':'))
		len--;
	return len;
}

/* Add dir[0..len) unless empty, already listed (folders compare like
 * Windows names: ASCII case folded, '/' as '\', trailing separators
 * ignored) or the list is full. */
static void dl_add(struct dirlist *d, const char *dir, size_t len, const char *why)
{
	size_t k = dir_len(dir, len);

	if (d->n >= DEPS_MAX_DIRS || len == 0)
		return;
	for (size_t i = 0; i < d->n; i++) {
		const char *o = d->dir[i];
		size_t ok = dir_len(o, strlen(o)), j;
		if (ok != k)
			continue;
		for (j = 0; j < k; j++) {
			char a = is_sep(o[j]) ? '\\' : (char)ascii_lower((unsigned char)o[j]);
			char c = is_sep(dir[j]) ? '\\' : (char)ascii_lower((unsigned char)dir[j]);
			if (a != c)
				break;
		}
		if (j == k)
			return;
	}
	d->dir[d->n] = mem_strndup(dir, len);
	if (d->dir[d->n])
		d->why[d->n++] = why;
	else
		d->oom = 1;
}

enum sys_path { SP_SYSTEM, SP_WINDOWS, SP_CURRENT, SP_PATH, SP_FULL };

/* One of the system's paths as allocated UTF-8: the system, Windows or
 * current folder, %PATH%, or the full path of arg (SP_FULL). NULL when the
 * system has none (not an error) or, with *oom set, when memory ran out or
 * the text is not valid UTF-16 (os_utf8 cannot tell the two apart). */
static char *sys_path(enum sys_path which, const wchar_t *arg, int *oom)
{
	wchar_t *w = NULL;
	DWORD cap = MAX_PATH + 1;
	char *s = NULL;

	for (int tries = 0; tries < 3; tries++) {
		DWORD n = 0;
		mem_free(w);
		if (!(w = mem_array(cap, sizeof(wchar_t)))) {
			*oom = 1;
			return NULL;
		}
		switch (which) {
		case SP_SYSTEM: n = GetSystemDirectoryW(w, cap); break;
		case SP_WINDOWS: n = GetWindowsDirectoryW(w, cap); break;
		case SP_CURRENT: n = GetCurrentDirectoryW(cap, w); break;
		case SP_PATH: n = GetEnvironmentVariableW(L"PATH", w, cap); break;
		case SP_FULL: n = GetFullPathNameW(arg, cap, w, NULL); break;
		}
		if (n == 0)
			break;          /* none (or unset %PATH%) */
		if (n < cap) {
			if (!(s = os_utf8(w)))
				*oom = 1;
			break;
		}
		cap = n + 1;        /* too small: n is the size needed */
	}
	mem_free(w);
	return s;
}

/* The folders the loader searches after the module's own, in its order:
 * system, 16-bit system, Windows, current, then %PATH% (empty entries
 * skipped). */
static void add_system_dirs(struct dirlist *d)
{
	char *sys = sys_path(SP_SYSTEM, NULL, &d->oom);
	char *win = sys_path(SP_WINDOWS, NULL, &d->oom);
	char *cur = sys_path(SP_CURRENT, NULL, &d->oom);
	char *path = sys_path(SP_PATH, NULL, &d->oom);

	if (sys)
		dl_add(d, sys, strlen(sys), "system folder");
	if (win) {
		char *w16 = win_join(win, "System");
		if (w16)
			dl_add(d, w16, strlen(w16), "16-bit system folder");
		else
			d->oom = 1;
		mem_free(w16);
		dl_add(d, win, strlen(win), "Windows folder");
	}
	if (cur)
		dl_add(d, cur, strlen(cur), "current folder");
	for (const char *p = path; p && *p;) {
		size_t n = strcspn(p, ";");
		dl_add(d, p, n, "PATH");
		p += n;
		if (*p == ';')
			p++;
	}
	mem_free(sys);
	mem_free(win);
	mem_free(cur);
	mem_free(path);
}

/* The folder of module, made absolute the way the loader does
 * (GetFullPathNameW); allocated, NULL with *oom set on failure. */
static char *module_folder(const char *module, int *oom)
{
	wchar_t *w = os_wide(module);
	char *full, *dir = NULL;
	size_t n;

	if (!w) {
		*oom = 1;
		return NULL;
	}
	full = sys_path(SP_FULL, w, oom);
	mem_free(w);
	if (!full) {
		if (!*oom)  /* GetFullPathNameW refused it: keep the path as given */
			full = mem_strdup(module);
		if (!full) {
			*oom = 1;
			return NULL;
		}
	}
	n = strlen(full);
	while (n && !is_sep(full[n - 1]))
		n--;
	if (n == 0)
		dir = mem_strdup(".");
	else
		dir = mem_strndup(full, dir_len(full, n));
	if (!dir)
		*oom = 1;
	mem_free(full);
	return dir;
}

/* ---- reading the PE image ---- */

struct pe_section {
	uint32_t va, vsize, rawoff, rawsize;
};

struct pe_image {
	FILE *f;
	uint64_t fsize;
	uint32_t hdrsize;          /* SizeOfHeaders, bounded by the file size */
	struct pe_section sec[PE_MAX_SECTIONS];
	unsigned nsec;
};

struct pe_info {
	char *needed[DEPS_MAX_NEEDED];
	size_t nneeded;
};

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int rd(FILE *f, uint64_t off, void *buf, size_t n, uint64_t fsize)
{
	if (off > fsize || n > fsize - off)
		return -1;
	if (_fseeki64(f, (__int64)off, SEEK_SET) != 0 || fread(buf, 1, n, f) != n)
		return -1;
	return 0;
}

/* Where the image byte at rva comes from: 1 from the file at *off, with
 * *avail bytes of file data from there to the end of its section; 0 from
 * zero fill (past the raw data, inside the virtual size); -1 nowhere (not
 * in the image: damaged headers). */
static int pe_map(const struct pe_image *im, uint32_t rva, uint64_t *off, uint64_t *avail)
{
	for (unsigned i = 0; i < im->nsec; i++) {
		const struct pe_section *s = &im->sec[i];
		uint64_t virt = s->vsize ? s->vsize : s->rawsize, raw = s->rawsize;
		if (raw > virt)
			raw = virt;     /* the loader maps no more than the virtual size */
		if (rva < s->va || rva - s->va >= (virt > raw ? virt : raw))
			continue;
		if (rva - s->va >= raw)
			return 0;
		*off = (uint64_t)s->rawoff + (rva - s->va);
		*avail = raw - (rva - s->va);
		return 1;
	}
	if (rva < im->hdrsize) {   /* the headers are mapped at rva 0 */
		*off = rva;
		*avail = im->hdrsize - rva;
		return 1;
	}
	return -1;
}

/* The DLL name at rva into *out (allocated UTF-8): 0; -1 damaged (outside
 * the file data, unterminated within DEPS_NAME_MAX, empty, control
 * characters, not text in the ANSI code page the loader reads it in);
 * -2 out of memory, which must not pass for damage. */
static int pe_name(const struct pe_image *im, uint32_t rva, char **out)
{
	char buf[DEPS_NAME_MAX + 1];
	uint64_t off, avail;
	size_t n, len;
	int high = 0;

	*out = NULL;
	if (pe_map(im, rva, &off, &avail) != 1)
		return -1;
	n = avail < sizeof(buf) ? (size_t)avail : sizeof(buf);
	if (rd(im->f, off, buf, n, im->fsize) < 0)
		return -1;
	for (len = 0; len < n && buf[len]; len++) {
		unsigned char c = (unsigned char)buf[len];
		if (c < 0x20 || c == 0x7f)
			return -1;
		high |= c >= 0x80;
	}
	if (len == 0 || len == n)
		return -1;
	if (!high) {
		*out = mem_strndup(buf, len);
		return *out ? 0 : -2;
	}
	/* Non-ASCII: the loader reads the name in the ANSI code page. */
	int wn = MultiByteToWideChar(CP_ACP, MB_ERR_INVALID_CHARS, buf, (int)len, NULL, 0);
	wchar_t *w;
	if (wn <= 0)
		return -1;
	if (!(w = mem_array((size_t)wn + 1, sizeof(wchar_t))))
		return -2;
	MultiByteToWideChar(CP_ACP, MB_ERR_INVALID_CHARS, buf, (int)len, w, wn);
	w[wn] = 0;
	*out = os_utf8(w);
	mem_free(w);
	return *out ? 0 : -2;
}

static const char *pe_machine_name(unsigned machine)
{
	switch (machine) {
	case 0x14c: return "32-bit x86";
	case 0x8664: return "x86-64";
	case 0xaa64: return "ARM64";
	case 0x1c0: case 0x1c2: case 0x1c4: return "32-bit ARM";
	case 0x200: return "Itanium";
	default: return NULL;
	}
}

/* Read the imported DLL names of the PE image at path into info (zeroed
 * first). Returns 0, the caller then owns info->needed[]; or -1 with e set
 * and info empty: ERR_CLASS_IO when the file cannot be opened or read,
 * ERR_CLASS_INPUT when it is not a PE image or not one this machine can
 * load, ERR_CLASS_NOMEM. */
static int pe_read(const char *path, struct pe_info *info, struct err *e)
{
	struct pe_image *im = NULL;
	unsigned char dos[PE_DOS_SIZE], fh[PE_FILEHDR_SIZE], opt[PE_OPT_MAX];
	uint32_t lfanew, imp_rva = 0;
	unsigned machine, magic, optsize, nrva;
	FILE *f;
	__int64 end;
	int rc = -1;

	memset(info, 0, sizeof(*info));
	errno = 0;
	if (!(f = os_fopen(path, "rb"))) {
		if (errno)
			return err_errno(e, "cannot open module '%s'", path);
		return err_set(e, ERR_CLASS_IO, "cannot open module '%s'", path);
	}
	if (!(im = mem_zalloc(sizeof(*im)))) {
		err_nomem(e, "reading the imports of a module");
		goto out;
	}
	im->f = f;
	if (_fseeki64(f, 0, SEEK_END) != 0 || (end = _ftelli64(f)) < 0) {
		err_errno(e, "cannot read module '%s'", path);
		goto out;
	}
	im->fsize = (uint64_t)end;
	/* DOS header "MZ", e_lfanew, then "PE\0\0" and the COFF file header. */
	memset(fh, 0, sizeof(fh));
	lfanew = 0;
	if (rd(f, 0, dos, sizeof(dos), im->fsize) == 0 && dos[0] == 'M' && dos[1] == 'Z')
		lfanew = le32(dos + 0x3c);
	if (rd(f, lfanew, fh, sizeof(fh), im->fsize) < 0 ||
	    memcmp(fh, "PE\0\0", 4) != 0) {
		err_set(e, ERR_CLASS_INPUT, "'%s' is not a PE image (DLL or EXE)", path);
		goto out;
	}
	machine = le16(fh + 4);
	im->nsec = le16(fh + 6);
	optsize = le16(fh + 20);
	if (im->nsec > PE_MAX_SECTIONS || optsize < 2)
		goto bad;
	memset(opt, 0, sizeof(opt));
	if (rd(f, (uint64_t)lfanew + PE_FILEHDR_SIZE, opt, optsize < PE_OPT_MAX ? optsize : PE_OPT_MAX,
	       im->fsize) < 0)
		goto bad;
	magic = le16(opt);
	/* Offsets of SizeOfHeaders (60 in both), NumberOfRvaAndSizes and the
	 * data directories, PE32 / PE32+. */
	if (magic != PE_MAGIC_PE32 && magic != PE_MAGIC_PE32PLUS)
		goto bad;
	{
		unsigned nrva_at = magic == PE_MAGIC_PE32 ? 92 : 108, dirs_at = nrva_at + 4;
		if (optsize < dirs_at)
			goto bad;
		im->hdrsize = le32(opt + 60);
		if (im->hdrsize > im->fsize)
			im->hdrsize = (uint32_t)im->fsize;
		nrva = le32(opt + nrva_at);
		if (nrva > 16)
			nrva = 16;  /* the loader ignores the rest, so do we */
		if (optsize < dirs_at + 8 * nrva)
			goto bad;
		if (nrva > 1)   /* IMAGE_DIRECTORY_ENTRY_IMPORT */
			imp_rva = le32(opt + dirs_at + 8);
	}
	for (unsigned i = 0; i < im->nsec; i++) {
		unsigned char sh[PE_SECTION_SIZE];
		struct pe_section *s = &im->sec[i];
		if (rd(f, (uint64_t)lfanew + PE_FILEHDR_SIZE + optsize + (uint64_t)i * PE_SECTION_SIZE,
		       sh, sizeof(sh), im->fsize) < 0)
			goto bad;
		s->vsize = le32(sh + 8);
		s->va = le32(sh + 12);
		s->rawsize = le32(sh + 16);
		s->rawoff = le32(sh + 20);
		/* The loader refuses raw data past the end of the file (a
		 * truncated copy); so do we, wherever the cut is. */
		if (s->rawsize && ((uint64_t)s->rawoff > im->fsize ||
				   s->rawsize > im->fsize - s->rawoff))
			goto bad;
	}
	/* The import descriptors, up to the first without a name or IAT. */
	for (uint32_t i = 0; imp_rva && i < DEPS_MAX_DESC; i++) {
		unsigned char id[PE_IMPORT_DESC_SIZE];
		uint64_t off, avail;
		uint32_t name_rva;
		char *name;
		int r;
		if (imp_rva > UINT32_MAX - (i + 1) * PE_IMPORT_DESC_SIZE)
			goto bad;
		r = pe_map(im, imp_rva + i * PE_IMPORT_DESC_SIZE, &off, &avail);
		if (r == 0)
			break;  /* zero fill reads as the terminating descriptor */
		if (r < 0 || avail < sizeof(id) || rd(f, off, id, sizeof(id), im->fsize) < 0)
			goto bad;
		name_rva = le32(id + 12);
		if (name_rva == 0 || le32(id + 16) == 0)
			break;
		r = pe_name(im, name_rva, &name);
		if (r == -2)
			goto nomem;
		if (r < 0)
			goto bad;
		int keep = !is_api_set(name) && info->nneeded < DEPS_MAX_NEEDED;
		for (size_t k = 0; keep && k < info->nneeded; k++)
			if (strlen(info->needed[k]) == strlen(name) &&
			    ascii_ieq(info->needed[k], name, strlen(name)))
				keep = 0;
		if (keep)
			info->needed[info->nneeded++] = name;
		else
			mem_free(name);
	}
	/* The whole image was readable: now, is it for this machine? */
	if (machine == PE_HOST_MACHINE && magic != PE_HOST_MAGIC)
		goto bad;
	if (machine != PE_HOST_MACHINE) {
		const char *what = pe_machine_name(machine);
		if (what)
			err_set(e, ERR_CLASS_INPUT, "'%s' is a PE image for %s: not a loadable "
				"module for this machine", path, what);
		else
			err_set(e, ERR_CLASS_INPUT, "'%s' is a PE image for machine 0x%04x: not a "
				"loadable module for this machine", path, machine);
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	err_nomem(e, "reading the imports of a module");
	goto out;
bad:
	err_set(e, ERR_CLASS_INPUT, "'%s': damaged PE headers", path);
out:
	if (rc) {
		for (size_t k = 0; k < info->nneeded; k++)
			mem_free(info->needed[k]);
		info->nneeded = 0;
	}
	mem_free(im);
	fclose(f);
	return rc;
}

/* ---- the reg.h entry points ---- */

/* Windows: needed = the imported DLLs (see the top of this file), rpath
 * "$ORIGIN" (the loader looks in the module's own folder first, which is
 * what a run path of $ORIGIN says to setup_needed.c), runpath NULL,
 * sysdirs = the folders searched after the module's own. */
int reg_deps_read(const char *path, struct reg_deps *d, struct err *e)
{
	struct pe_info info;
	struct dirlist dl;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	memset(&dl, 0, sizeof(dl));
	if (pe_read(path, &info, e) < 0)
		goto out;   /* info is zeroed first and emptied on failure */
	d->needed = mem_array(info.nneeded + 1, sizeof(char *));
	d->rpath = mem_strdup("$ORIGIN");
	add_system_dirs(&dl);
	d->sysdirs = mem_array(dl.n + 1, sizeof(char *));
	if (!d->needed || !d->rpath || !d->sysdirs || dl.oom) {
		err_nomem(e, "reading a module's dependencies");
		goto out;
	}
	/* Hand the strings over; info and dl keep nothing. */
	memcpy(d->needed, info.needed, info.nneeded * sizeof(char *));
	d->nneeded = info.nneeded;
	info.nneeded = 0;
	memcpy(d->sysdirs, dl.dir, dl.n * sizeof(char *));
	d->nsysdirs = dl.n;
	dl.n = 0;
	rc = 0;
out:
	for (size_t i = 0; i < info.nneeded; i++)
		mem_free(info.needed[i]);
	for (size_t j = 0; j < dl.n; j++)
		mem_free(dl.dir[j]);
	if (rc)
		reg_deps_destroy(d);
	return rc;
}

/* keep_env is for LD_LIBRARY_PATH on POSIX; the registration child inherits
 * %PATH% either way, so it changes nothing here. */
char *reg_deps_diagnose(const char *module, int keep_env, int *bad_format, struct err *e)
{
	struct pe_info info;
	struct dirlist d;
	struct reg_sbuf b = { NULL, 0, 0, 0 };
	char *origin;

	(void)keep_env;
	*bad_format = 0;
	memset(&d, 0, sizeof(d));
	if (pe_read(module, &info, e) < 0) {
		*bad_format = e->cls == ERR_CLASS_INPUT;
		return NULL;
	}
	origin = module_folder(module, &d.oom);
	if (origin)
		dl_add(&d, origin, strlen(origin), "the module's folder");
	add_system_dirs(&d);

	reg_sb_add(&b, "%s", "");
	for (size_t i = 0; i < info.nneeded && !d.oom && !b.oom; i++) {
		const char *lib = info.needed[i];
		int abs = os_path_is_absolute(lib), found = 0;
		if (abs) {
			found = file_exists(lib);
		} else {
			for (size_t j = 0; j < d.n && !found; j++) {
				char *p = win_join(d.dir[j], lib);
				found = p ? file_exists(p) : -1;
				mem_free(p);
			}
		}
		if (found < 0)
			d.oom = 1;
		if (found)
			continue;
		reg_sb_add(&b, "%s  missing library '%s' (imported by the module); searched:",
		       b.n ? "\n" : "", lib);
		if (abs)
			reg_sb_add(&b, " the path itself");
		else
			for (size_t j = 0; j < d.n; j++)
				reg_sb_add(&b, "%s %s (%s)", j ? "," : "", d.dir[j], d.why[j]);
		reg_sb_add(&b, "\n  install the package providing '%s' or ship it beside the module", lib);
	}
	for (size_t i = 0; i < info.nneeded; i++)
		mem_free(info.needed[i]);
	for (size_t j = 0; j < d.n; j++)
		mem_free(d.dir[j]);
	mem_free(origin);
	if (b.oom || d.oom) {
		mem_free(b.s);
		return err_nomem(e, "diagnosis"), NULL;
	}
	return b.s;
}
