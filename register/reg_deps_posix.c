/*
 * reg_deps_posix.c - explaining why a module does not load: read its ELF dynamic
 * section (DT_NEEDED, DT_RPATH, DT_RUNPATH) without running any of its code,
 * and look for each needed library where the dynamic loader would.
 *
 * Search order reproduced (ld.so(8)): DT_RPATH when there is no DT_RUNPATH,
 * LD_LIBRARY_PATH (only when the child keeps it), DT_RUNPATH, the
 * directories of /etc/ld.so.conf (stand-in for ld.so.cache), then the
 * default directories. $ORIGIN expands to the module's directory.
 * Trap: the file is untrusted; every offset and size read from it is
 * checked against the file size, and strings are bounded.
 */
#include "reg_private.h"

#include <elf.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/path.h"

#define DEPS_MAX_NEEDED 256
#define DEPS_MAX_DIRS 128

struct dirlist {
	char *dir[DEPS_MAX_DIRS];
	const char *why[DEPS_MAX_DIRS];
	size_t n;
	int oom;             /* a directory was dropped for want of memory */
};

static void dl_add(struct dirlist *d, const char *dir, size_t len, const char *why)
{
	if (d->n >= DEPS_MAX_DIRS || len == 0)
		return;
	for (size_t i = 0; i < d->n; i++)
		if (strlen(d->dir[i]) == len && strncmp(d->dir[i], dir, len) == 0)
			return;
	d->dir[d->n] = mem_strndup(dir, len);
	if (d->dir[d->n])
		d->why[d->n++] = why;
	else
		d->oom = 1;
}

/* Split a ':' list, expanding $ORIGIN / ${ORIGIN}. */
static void dl_add_list(struct dirlist *d, const char *list, const char *origin, const char *why)
{
	while (list && *list) {
		size_t n = strcspn(list, ":");
		char tmp[4096];
		size_t o = 0;
		for (size_t i = 0; i < n && o + 1 < sizeof(tmp);) {
			if (strncmp(list + i, "$ORIGIN", 7) == 0 || strncmp(list + i, "${ORIGIN}", 9) == 0) {
				int w = snprintf(tmp + o, sizeof(tmp) - o, "%s", origin);
				o += w > 0 ? (size_t)w : 0;
				if (o >= sizeof(tmp))
					o = sizeof(tmp) - 1;
				i += list[i + 1] == '{' ? 9 : 7;
			} else {
				tmp[o++] = list[i++];
			}
		}
		tmp[o] = '\0';
		dl_add(d, tmp, o, why);
		list += n;
		if (*list == ':')
			list++;
	}
}

static void read_ldconf(struct dirlist *d, const char *file, int depth)
{
	FILE *f;
	char line[1024];

	if (depth > 4 || !(f = fopen(file, "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		line[strcspn(line, "#\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*p)
			continue;
		if (strncmp(p, "include", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
			glob_t g;
			char *pat = p + 8;
			while (*pat == ' ' || *pat == '\t')
				pat++;
			if (glob(pat, 0, NULL, &g) == 0) {
				for (size_t i = 0; i < g.gl_pathc; i++)
					read_ldconf(d, g.gl_pathv[i], depth + 1);
				globfree(&g);
			}
			continue;
		}
		if (*p == '/')
			dl_add(d, p, strlen(p), "/etc/ld.so.conf");
	}
	fclose(f);
}

struct elf_info {
	char *needed[DEPS_MAX_NEEDED];
	size_t nneeded;
	char *rpath, *runpath;
	int is64;
	unsigned machine;
};

static int rd(FILE *f, uint64_t off, void *buf, size_t n, uint64_t fsize)
{
	if (off > fsize || n > fsize - off)
		return -1;
	if (fseeko(f, (off_t)off, SEEK_SET) != 0 || fread(buf, 1, n, f) != n)
		return -1;
	return 0;
}

/* The string at off into *out (allocated): 0; -1 when off is past the end
 * (damaged headers); -2 out of memory, which must not pass for damage. */
static int rd_str(FILE *f, uint64_t off, uint64_t fsize, char **out)
{
	char buf[4096];
	size_t n = 0;

	*out = NULL;
	if (off >= fsize || fseeko(f, (off_t)off, SEEK_SET) != 0)
		return -1;
	while (n + 1 < sizeof(buf)) {
		int c = fgetc(f);
		if (c == EOF || c == 0)
			break;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	*out = mem_strdup(buf);
	return *out ? 0 : -2;
}

static int elf_read(const char *path, struct elf_info *info, struct err *e)
{
	FILE *f = fopen(path, "rb");
	unsigned char ident[EI_NIDENT];
	struct stat st;
	uint64_t phoff, dynoff = 0, dynsz = 0, strtab = 0, stroff = 0;
	unsigned phnum, phentsize;
	uint64_t load_vaddr[64], load_off[64], load_sz[64];
	size_t nload = 0, ndyn;
	uint64_t needed_off[DEPS_MAX_NEEDED], rpath_off = UINT64_MAX, runpath_off = UINT64_MAX;
	size_t nneeded = 0;
	int rc = -1;

	memset(info, 0, sizeof(*info));
	if (!f)
		return err_errno(e, "cannot open module '%s'", path);
	if (fstat(fileno(f), &st) != 0 || rd(f, 0, ident, sizeof(ident), (uint64_t)st.st_size) < 0 ||
	    memcmp(ident, ELFMAG, SELFMAG) != 0 ||
	    (ident[EI_CLASS] != ELFCLASS32 && ident[EI_CLASS] != ELFCLASS64) ||
	    ident[EI_DATA] != ELFDATA2LSB) {
		err_set(e, ERR_CLASS_INPUT, "'%s' is not a little-endian ELF file", path);
		goto out;
	}
	uint64_t fsize = (uint64_t)st.st_size;
	info->is64 = ident[EI_CLASS] == ELFCLASS64;
	if (info->is64) {
		Elf64_Ehdr h;
		if (rd(f, 0, &h, sizeof(h), fsize) < 0)
			goto bad;
		phoff = h.e_phoff; phnum = h.e_phnum; phentsize = h.e_phentsize;
		info->machine = h.e_machine;
		if (phentsize != sizeof(Elf64_Phdr))
			goto bad;
	} else {
		Elf32_Ehdr h;
		if (rd(f, 0, &h, sizeof(h), fsize) < 0)
			goto bad;
		phoff = h.e_phoff; phnum = h.e_phnum; phentsize = h.e_phentsize;
		info->machine = h.e_machine;
		if (phentsize != sizeof(Elf32_Phdr))
			goto bad;
	}
	for (unsigned i = 0; i < phnum && i < 256; i++) {
		uint64_t type, off, vaddr, filesz;
		if (info->is64) {
			Elf64_Phdr p;
			if (rd(f, phoff + (uint64_t)i * phentsize, &p, sizeof(p), fsize) < 0)
				goto bad;
			type = p.p_type; off = p.p_offset; vaddr = p.p_vaddr; filesz = p.p_filesz;
		} else {
			Elf32_Phdr p;
			if (rd(f, phoff + (uint64_t)i * phentsize, &p, sizeof(p), fsize) < 0)
				goto bad;
			type = p.p_type; off = p.p_offset; vaddr = p.p_vaddr; filesz = p.p_filesz;
		}
		if (type == PT_LOAD && nload < 64) {
			load_vaddr[nload] = vaddr; load_off[nload] = off; load_sz[nload] = filesz;
			nload++;
		} else if (type == PT_DYNAMIC) {
			dynoff = off;
			dynsz = filesz;
		}
	}
	if (!dynsz) {
		rc = 0;  /* static object: needs nothing */
		goto out;
	}
	ndyn = (size_t)(dynsz / (info->is64 ? sizeof(Elf64_Dyn) : sizeof(Elf32_Dyn)));
	for (size_t i = 0; i < ndyn && i < 4096; i++) {
		int64_t tag;
		uint64_t val;
		if (info->is64) {
			Elf64_Dyn d;
			if (rd(f, dynoff + i * sizeof(d), &d, sizeof(d), fsize) < 0)
				goto bad;
			tag = d.d_tag; val = d.d_un.d_val;
		} else {
			Elf32_Dyn d;
			if (rd(f, dynoff + i * sizeof(d), &d, sizeof(d), fsize) < 0)
				goto bad;
			tag = d.d_tag; val = d.d_un.d_val;
		}
		if (tag == DT_NULL)
			break;
		if (tag == DT_NEEDED && nneeded < DEPS_MAX_NEEDED)
			needed_off[nneeded++] = val;
		else if (tag == DT_STRTAB)
			strtab = val;
		else if (tag == DT_RPATH)
			rpath_off = val;
		else if (tag == DT_RUNPATH)
			runpath_off = val;
	}
	for (size_t i = 0; i < nload; i++)
		if (strtab >= load_vaddr[i] && strtab < load_vaddr[i] + load_sz[i])
			stroff = strtab - load_vaddr[i] + load_off[i];
	if (!stroff)
		goto bad;
	for (size_t i = 0; i < nneeded; i++) {
		int r = rd_str(f, stroff + needed_off[i], fsize, &info->needed[i]);
		if (r == -2)
			goto nomem;
		if (r < 0)
			goto bad;
		info->nneeded++;
	}
	/* A path list past the end is ignored, as before; memory is not. */
	if (rpath_off != UINT64_MAX && rd_str(f, stroff + rpath_off, fsize, &info->rpath) == -2)
		goto nomem;
	if (runpath_off != UINT64_MAX && rd_str(f, stroff + runpath_off, fsize, &info->runpath) == -2)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	err_nomem(e, "reading the dynamic section of a module");
	goto out;
bad:
	err_set(e, ERR_CLASS_INPUT, "'%s': damaged ELF headers", path);
out:
	fclose(f);
	return rc;
}

static const char *multiarch(unsigned machine)
{
	switch (machine) {
	case EM_X86_64: return "x86_64-linux-gnu";
	case EM_AARCH64: return "aarch64-linux-gnu";
	case EM_386: return "i386-linux-gnu";
	case EM_ARM: return "arm-linux-gnueabihf";
	default: return NULL;
	}
}

/* The loader's system directories for an object of this machine and class:
 * /etc/ld.so.conf's (stand-in for ld.so.cache), then the defaults. */
static void add_system_dirs(struct dirlist *d, unsigned machine, int is64)
{
	const char *ma = multiarch(machine);

	read_ldconf(d, "/etc/ld.so.conf", 0);
	if (ma) {
		char t[64];
		snprintf(t, sizeof(t), "/lib/%s", ma);
		dl_add(d, t, strlen(t), "default");
		snprintf(t, sizeof(t), "/usr/lib/%s", ma);
		dl_add(d, t, strlen(t), "default");
	}
	if (is64) {
		dl_add(d, "/lib64", 6, "default");
		dl_add(d, "/usr/lib64", 10, "default");
	}
	dl_add(d, "/lib", 4, "default");
	dl_add(d, "/usr/lib", 8, "default");
}

int reg_deps_read(const char *path, struct reg_deps *d, struct err *e)
{
	struct elf_info info;
	struct dirlist dl;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	memset(&dl, 0, sizeof(dl));
	if (elf_read(path, &info, e) < 0)
		goto out;   /* info is zeroed first, then filled as far as it got */
	d->needed = mem_array(info.nneeded + 1, sizeof(char *));
	add_system_dirs(&dl, info.machine, info.is64);
	d->sysdirs = mem_array(dl.n + 1, sizeof(char *));
	if (!d->needed || !d->sysdirs || dl.oom) {
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
	d->rpath = info.rpath;
	d->runpath = info.runpath;
	info.rpath = info.runpath = NULL;
	rc = 0;
out:
	for (size_t i = 0; i < info.nneeded; i++)
		mem_free(info.needed[i]);
	mem_free(info.rpath);
	mem_free(info.runpath);
	for (size_t j = 0; j < dl.n; j++)
		mem_free(dl.dir[j]);
	if (rc)
		reg_deps_destroy(d);
	return rc;
}

char *reg_deps_diagnose(const char *module, int keep_env, int *bad_format, struct err *e)
{
	struct elf_info info;
	struct dirlist d;
	struct reg_sbuf b = { NULL, 0, 0, 0 };
	char *origin = path_dirname(module);

	*bad_format = 0;
	memset(&d, 0, sizeof(d));
	if (!origin)
		return err_nomem(e, "diagnosis"), NULL;
	if (elf_read(module, &info, e) < 0) {
		*bad_format = e->cls == ERR_CLASS_INPUT;
		mem_free(origin);
		return NULL;
	}
	if (info.rpath && !info.runpath)
		dl_add_list(&d, info.rpath, origin, "DT_RPATH");
	if (keep_env)
		dl_add_list(&d, getenv("LD_LIBRARY_PATH"), origin, "LD_LIBRARY_PATH");
	if (info.runpath)
		dl_add_list(&d, info.runpath, origin, "DT_RUNPATH");
	add_system_dirs(&d, info.machine, info.is64);

	reg_sb_add(&b, "%s", "");
	for (size_t i = 0; i < info.nneeded; i++) {
		const char *lib = info.needed[i];
		int found = 0;
		if (strchr(lib, '/')) {
			found = access(lib, F_OK) == 0;
		} else {
			for (size_t j = 0; j < d.n && !found; j++) {
				char *p = path_join(d.dir[j], lib);
				found = p && access(p, F_OK) == 0;
				mem_free(p);
			}
		}
		if (found)
			continue;
		reg_sb_add(&b, "%s  missing library '%s' (DT_NEEDED of the module); searched:",
		       b.n ? "\n" : "", lib);
		if (strchr(lib, '/'))
			reg_sb_add(&b, " the path itself");
		for (size_t j = 0; j < d.n; j++)
			reg_sb_add(&b, "%s %s (%s)", j ? "," : "", d.dir[j], d.why[j]);
		{
			char *p = path_join(origin, lib);
			int beside = 0;
			for (size_t j = 0; j < d.n; j++)
				if (strcmp(d.dir[j], origin) == 0)
					beside = 1;
			if (p && !beside && access(p, F_OK) == 0)
				reg_sb_add(&b, "\n  hint: '%s' is in the module's directory '%s', which the "
				       "loader does not search; link the module with -Wl,-rpath,'$ORIGIN'",
				       lib, origin);
			mem_free(p);
		}
		reg_sb_add(&b, "\n  install the package providing '%s' or ship it beside the module", lib);
	}
	for (size_t i = 0; i < info.nneeded; i++)
		mem_free(info.needed[i]);
	mem_free(info.rpath);
	mem_free(info.runpath);
	for (size_t j = 0; j < d.n; j++)
		mem_free(d.dir[j]);
	mem_free(origin);
	if (b.oom || d.oom) {
		mem_free(b.s);
		return err_nomem(e, "diagnosis"), NULL;
	}
	return b.s;
}
