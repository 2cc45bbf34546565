/*
 * test_manifest_malformed.c - a table of malformed inputs. Each must be
 * refused with an input-class error at the exact line (the line whose text
 * holds the marker "; <<", or 0 when the error is about the whole file) and
 * a message that says what is wrong. Nothing may be returned on failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifests/manifest.h"

/* 9 lines: the smallest valid product definition. */
#define H "[setupkit]\nformat = 2\nkind = product\n[product]\ncode = p\nname = P\nversion = 1.0\n[component c]\npayload = c\n"
#define F "[file f]\ncomponent = c\nsource = f\n"   /* needs a dest */
#define SVC(n) "[service " n "]\ncomponent = c\nstart = s\nstop = s\nstatus = s\n"
#define MEDIA_H "[setupkit]\nformat = 2\nkind = media\n[product]\ncode = p\nname = P\nversion = 1.0\n" \
	"[payload c]\narchive = c.zip\nsize = 1\nentries = 1\nunpacked = 1\n" \
	"sha256 = 0000000000000000000000000000000000000000000000000000000000000000\n[component c]\npayload = c\n"
#define SP_H "[setupkit]\nformat = 2\nkind = servicepack\n[servicepack]\nproduct = p\npayload = sp\nnew_version = 1.1\n"
#define ANS_H "[setupkit]\nformat = 2\nkind = answers\n[install]\nproduct = p\n"
#define LONG50 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

struct bad_case {
	const char *text;
	enum manifest_kind kind;
	const char *msg;
};

static const struct bad_case cases[] = {
	/* structure */
	{ "[setupkit]\nformat = 2\nkind = product\nflavour = x ; <<\n", MANIFEST_PRODUCT, "unknown key 'flavour' in [setupkit]" },
	{ H "[component d]\npayload = d\n  requires = c ; <<\n", MANIFEST_PRODUCT, "indented line continues the value of 'payload'" },
	{ "[setupkit]\nformat = 2\nkind = product\n[product]\ncode = p\nname = P\nversion = 1.0\ndefault_dir = /opt/../etc ; <<\n[component c]\npayload = c\n", MANIFEST_PRODUCT, "'default_dir' must be an absolute path without '.', '..'" },
	{ H "[registry r]\ncomponent = c\nkey = HKLM\\Software\ntype = REG_DWORD\ndata = +5 ; <<\n", MANIFEST_PRODUCT, "data '+5' is not a valid REG_DWORD" },
	{ H "[bogus] ; <<\n", MANIFEST_PRODUCT, "unknown section [bogus] in a product definition; expected" },
	{ H F "dest = {app}/f\nfoo = 1 ; <<\n", MANIFEST_PRODUCT, "unknown key 'foo' in [file f] of a product definition; expected one of: component, source, dest" },
	{ H "[service a] ; <<\ncomponent = c\nstart = s\nstop = s\n", MANIFEST_PRODUCT, "[service a] has no 'status'" },
	{ H "[component c] ; <<\npayload = c\n", MANIFEST_PRODUCT, "duplicate section [component c] (first at line 8)" },
	/* several duplicates: the first repeat in file order is reported, against its first occurrence */
	{ H "[component d]\npayload = d\n[component e]\npayload = e\n[component e] ; <<\npayload = e\n[component d]\npayload = d\n[component c]\npayload = c\n",
	  MANIFEST_PRODUCT, "duplicate section [component e] (first at line 12)" },
	{ H "[file f]\ncomponent = c\ncomponent = d ; <<\n", MANIFEST_PRODUCT, "duplicate key 'component' (first set at line 11)" },
	{ H "[file f] ; <<\ncomponent = c\nsource = f\n", MANIFEST_PRODUCT, "[file f] has no 'dest', which is required" },
	{ H "this is not ini ; <<\n", MANIFEST_PRODUCT, "syntax error: expected '[section]', 'key = value'" },
	{ "format = 2 ; <<\n[setupkit]\n", MANIFEST_PRODUCT, "key 'format' before the first [section]" },
	{ "[product] ; <<\ncode = p\n", MANIFEST_PRODUCT, "the file must start with a [setupkit] section" },
	{ "[setupkit]\nformat = 3 ; <<\nkind = product\n", MANIFEST_PRODUCT, "format 3 is newer than this setupkit understands (formats 1 to 2)" },
	{ "[setupkit]\nformat = 0 ; <<\nkind = product\n", MANIFEST_PRODUCT, "format 0 is not supported" },
	{ "[setupkit]\nformat = two ; <<\nkind = product\n", MANIFEST_PRODUCT, "'format' must be a whole number" },
	{ "[setupkit]\nformat = 2\nkind = thing ; <<\n", MANIFEST_PRODUCT, "unknown kind 'thing'" },
	{ "[setupkit] ; <<\nformat = 2\nkind = answers\n[install]\nproduct = p\n", MANIFEST_PRODUCT, "this is an answer file, but a product definition was expected" },
	{ "[setupkit]\nformat = 2\nkind = product\n[component c]\npayload = c\n", MANIFEST_PRODUCT, "a product definition needs a [product] section" },
	{ H "[file] ; <<\n", MANIFEST_PRODUCT, "section [file] needs a name" },
	{ H "[product x] ; <<\n", MANIFEST_PRODUCT, "section [product] takes no name" },
	{ H "[ ] ; <<\n", MANIFEST_PRODUCT, "empty section name" },
	{ H "[component d] x ; <<\n", MANIFEST_PRODUCT, "text after ']' of section [component d]" },
	{ H "[file f]\ncomponent = c\n  more ; <<\n", MANIFEST_PRODUCT, "indented line continues the value of 'component'" },
	/* a key longer than inih's 50-byte name buffer: the indented line is
	 * still refused as a continuation of it (inih passed a cut name) */
	{ H "[file f]\ncomponent = c\nx" LONG50 " = 1\n  more ; <<\n", MANIFEST_PRODUCT, "indented line continues the value of 'x" },
	{ H F "dest = {app}/" LONG50 LONG50 LONG50 LONG50 " ; <<\n", MANIFEST_PRODUCT, "line is longer than 198 bytes" },
	/* quoting */
	{ H "[file f]\ncomponent = c\nsource = \"abc ; <<\n", MANIFEST_PRODUCT, "missing closing quote in the value" },
	{ H "[file f]\ncomponent = c\nsource = \"abc\" def ; <<\n", MANIFEST_PRODUCT, "text after the closing quote" },
	{ H "[file f]\ncomponent = c\nsource = \"a\\qb\" ; <<\n", MANIFEST_PRODUCT, "unknown escape '\\q'" },
	/* paths and tokens */
	{ H F "dest = /usr/lib/f ; <<\n", MANIFEST_PRODUCT, "destination '/usr/lib/f' must start with a directory token" },
	{ H F "dest = {app}/../etc/passwd ; <<\n", MANIFEST_PRODUCT, "must be a token and a relative path without '.', '..'" },
	{ H F "dest = {app}/a//b ; <<\n", MANIFEST_PRODUCT, "must be a token and a relative path without" },
	{ H F "dest = {app}\\bin\\x ; <<\n", MANIFEST_PRODUCT, "must be a token and a relative path without" },
	{ H F "dest = {windir}/x ; <<\n", MANIFEST_PRODUCT, "unknown directory token '{windir}'" },
	{ H F "dest = {app} ; <<\n", MANIFEST_PRODUCT, "names a directory, not a file" },
	{ H "[file f]\ncomponent = c\nsource = /etc/passwd ; <<\ndest = {app}/f\n", MANIFEST_PRODUCT, "source '/etc/passwd' must be a path relative to the source tree" },
	{ H "[file f]\ncomponent = c\nsource = ../secret ; <<\ndest = {app}/f\n", MANIFEST_PRODUCT, "source '../secret' must be a path relative" },
	{ "[setupkit]\nformat = 2\nkind = product\n[product]\ncode = p\nname = P\nversion = 1.0\ndefault_dir = opt/p ; <<\n[component c]\npayload = c\n", MANIFEST_PRODUCT, "'default_dir' must be an absolute path" },
	{ "[setupkit]\nformat = 2\nkind = product\n[product]\ncode = my app ; <<\nname = P\nversion = 1.0\n[component c]\npayload = c\n", MANIFEST_PRODUCT, "product code 'my app' may only hold" },
	/* values */
	{ H F "dest = {app}/f\nversion = 1.2.x ; <<\n", MANIFEST_PRODUCT, "version: bad version '1.2.x'" },
	{ H F "dest = {app}/f\nversion = 1.70000 ; <<\n", MANIFEST_PRODUCT, "part 2 is larger than 65535" },
	{ "[setupkit]\nformat = 2\nkind = product\n[product]\ncode = p\nname = P\nversion = 1.2.3.4.5 ; <<\n[component c]\npayload = c\n", MANIFEST_PRODUCT, "more than four parts" },
	{ H F "dest = {app}/f\nmode = 0999 ; <<\n", MANIFEST_PRODUCT, "mode '0999' must be octal" },
	{ H F "dest = {app}/f\nmode = 017777 ; <<\n", MANIFEST_PRODUCT, "mode '017777' must be octal" },
	{ H F "dest = {app}/f\nflags = selfreg, bogus ; <<\n", MANIFEST_PRODUCT, "unknown file flag 'bogus'" },
	{ H F "dest = {app}/f\nflags = selfreg,,shared ; <<\n", MANIFEST_PRODUCT, "empty item in the list 'flags'" },
	{ H F "dest = {app}/f\nselfreg = yes ; <<\n", MANIFEST_PRODUCT, "key 'selfreg' is not part of format 2 (format 2 writes it as 'flags = selfreg')" },
	{ "[setupkit]\nformat = 1\nkind = product\n[product]\ncode = p\nname = P\nversion = 1.0\ndefault_dir = /x ; <<\n", MANIFEST_PRODUCT, "key 'default_dir' is not part of format 1 (format 1 calls it 'directory')" },
	{ H "[file f] ; <<\ncomponent = c\nsource = f\ndest = {app}/f\nflags = symlink\n", MANIFEST_PRODUCT, "has flag 'symlink' but no 'target'" },
	{ H "[component d]\npayload = d\ndefault = maybe ; <<\n", MANIFEST_PRODUCT, "'default' must be yes or no, not 'maybe'" },
	/* references and cycles */
	{ H "[file f] ; <<\ncomponent = nosuch\nsource = f\ndest = {app}/f\n", MANIFEST_PRODUCT, "file 'f' belongs to component 'nosuch', which is not defined" },
	{ H "[component d] ; <<\npayload = d\nrequires = zz\n", MANIFEST_PRODUCT, "component 'd' requires 'zz', which is not defined" },
	{ H "[component d] ; <<\npayload = d\nrequires = e\n[component e]\npayload = e\nrequires = d\n", MANIFEST_PRODUCT, "component requirements form a cycle: d -> e -> d" },
	{ H "[service a] ; <<\ncomponent = c\nstart = s\nstop = s\nstatus = s\ndepends_on = b\n" SVC("b") "depends_on = c\n" SVC("c") "depends_on = a\n", MANIFEST_PRODUCT, "service start-order constraints form a cycle: a -> b -> c -> a" },
	{ H "[service a] ; <<\ncomponent = c\nstart = s\nstop = s\nstatus = s\nstart_before = b\n" SVC("b") "start_before = a\n", MANIFEST_PRODUCT, "service start-order constraints form a cycle" },
	{ H "[service a] ; <<\ncomponent = c\nstart = s\nstop = s\nstatus = s\ndepends_on = zz\n", MANIFEST_PRODUCT, "service 'a' depends on 'zz', which is not declared" },
	{ H "[service a] ; <<\ncomponent = c\nstop = s\nstatus = s\n", MANIFEST_PRODUCT, "[service a] has no 'start'" },
	{ H SVC("a") "start_type = sometimes ; <<\n", MANIFEST_PRODUCT, "start_type 'sometimes' must be auto, manual or disabled" },
	{ H F "dest = {app}/f\n[file g] ; <<\ncomponent = c\nsource = g\ndest = {app}/f\n", MANIFEST_PRODUCT, "file 'g' has the same destination '{app}/f' as file 'f'" },
	{ H "[file z]\ncomponent = c\nsource = z\ndest = {app}/y\n[file a]\ncomponent = c\nsource = a\ndest = {app}/x\n"
	  "[file b] ; <<\ncomponent = c\nsource = b\ndest = {app}/y\n[file b2]\ncomponent = c\nsource = b2\ndest = {app}/x\n",
	  MANIFEST_PRODUCT, "file 'b' has the same destination '{app}/y' as file 'z' (line 10)" },
	{ H "[file f] ; <<\ncomponent = c\nsource = f\ndest = {app}/f\nafter = g\n[file g]\ncomponent = c\nsource = g\ndest = {app}/g\nafter = f\n", MANIFEST_PRODUCT, "module registration orders ('after') form a cycle: f -> g -> f" },
	{ H "[file f] ; <<\ncomponent = c\nsource = f\ndest = {app}/f\nafter = zz\n", MANIFEST_PRODUCT, "file 'f' registers after 'zz', which is not a file here" },
	/* extensions and registry */
	{ H "[extension x]\npoint = whenever ; <<\ncommand = true\n", MANIFEST_PRODUCT, "unknown extension point 'whenever'" },
	{ H "[extension x]\npoint = after-files\ncommand = true\ntimeout = 0 ; <<\n", MANIFEST_PRODUCT, "timeout must be at least 1 second" },
	{ H "[extension x]\npoint = after-files\ncommand = true\ntimeout = ten ; <<\n", MANIFEST_PRODUCT, "'timeout' must be a whole number, not 'ten'" },
	{ H "[registry r]\ncomponent = c\nkey = HKXX\\Software ; <<\ndata = 1\n", MANIFEST_PRODUCT, "registry key 'HKXX\\Software' must start with HKLM" },
	{ H "[registry r]\ncomponent = c\nkey = HKLM\\Software\ntype = REG_FOO ; <<\ndata = 1\n", MANIFEST_PRODUCT, "unknown registry type 'REG_FOO'" },
	{ H "[registry r]\ncomponent = c\nkey = HKLM\\Software\ntype = REG_DWORD\ndata = 0x100000000 ; <<\n", MANIFEST_PRODUCT, "data '0x100000000' is not a valid REG_DWORD" },
	{ H "[registry r]\ncomponent = c\nkey = HKLM\\Software\ntype = REG_BINARY\ndata = 01,f ; <<\n", MANIFEST_PRODUCT, "odd number of hex digits" },
	{ H "[registry r] ; <<\ncomponent = c\nkey = HKLM\\Software\n", MANIFEST_PRODUCT, "[registry r] has no 'data'" },
	/* media manifests */
	{ MEDIA_H "[file f]\ncomponent = c\ndest = {app}/f\nentry = f\nsize = 1\nsha256 = xyz ; <<\n", MANIFEST_MEDIA, "'sha256' must be 64 lowercase hex digits" },
	{ MEDIA_H "[file f] ; <<\ncomponent = c\ndest = {app}/f\nsize = 1\nsha256 = 0000000000000000000000000000000000000000000000000000000000000000\n", MANIFEST_MEDIA, "[file f] has no 'entry'" },
	{ MEDIA_H "[file f]\ncomponent = c\ndest = {app}/f\nsize = 1\nsha256 = 0000000000000000000000000000000000000000000000000000000000000000\nentry = ../f ; <<\n", MANIFEST_MEDIA, "entry name '../f' must be a clean relative path" },
	{ MEDIA_H "[component d] ; <<\npayload = d\n", MANIFEST_MEDIA, "component 'd' uses payload 'd', which has no [payload d] section" },
	{ MEDIA_H "[file f]\ncomponent = c\nsource = x ; <<\n", MANIFEST_MEDIA, "unknown key 'source' in [file f] of a media manifest" },
	/* service packs */
	{ SP_H "level = 0 ; <<\napplies_to = 1.0\n", MANIFEST_SP, "level must be 1 or more" },
	{ SP_H "level = 2\napplies_to = 1.0\nsupersedes = 3 ; <<\n", MANIFEST_SP, "supersedes '3' must list earlier levels (1 to 1)" },
	{ SP_H "level = 1\napplies_to = 2.0 - 1.0 ; <<\n", MANIFEST_SP, "applies_to range '2.0 - 1.0' is empty" },
	{ SP_H "level = 1\napplies_to = 1.0\n[component c] ; <<\npayload = c\n", MANIFEST_SP, "unknown section [component c] in a service-pack definition" },
	/* answer files */
	{ ANS_H "dir = opt/x ; <<\n", MANIFEST_ANSWERS, "dir 'opt/x' must be an absolute path" },
	{ ANS_H "colour = blue ; <<\n", MANIFEST_ANSWERS, "unknown key 'colour' in [install] of an answer file" },
	{ ANS_H "accept_license = sure ; <<\n", MANIFEST_ANSWERS, "'accept_license' must be yes or no, not 'sure'" },
	{ ANS_H "[service x]\nstart_type = later ; <<\n", MANIFEST_ANSWERS, "start_type 'later' must be auto, manual or disabled" },
	{ "[setupkit] ; <<\nformat = 2\nkind = answers\n", MANIFEST_ANSWERS, "an answer file needs a [install] section" },
};

static int marker_line(const char *text)
{
	const char *m = strstr(text, "; <<");
	int line = 1;

	if (!m)
		return 0;
	for (const char *p = text; p < m; p++)
		line += *p == '\n';
	return line;
}

static void test_malformed_table(void **state)
{
	(void)state;
	size_t n = sizeof(cases) / sizeof(cases[0]);

	assert_true(n >= 40);
	for (size_t i = 0; i < n; i++) {
		struct manifest *m = (struct manifest *)0x1;
		struct err e;
		int want = marker_line(cases[i].text);

		/* A missing required section is reported for the whole file. */
		if (strstr(cases[i].msg, "needs a ["))
			want = 0;
		err_clear(&e);
		int rc = manifest_load_buffer("bad.ini", cases[i].text, strlen(cases[i].text),
					      cases[i].kind, &m, &e);
		if (rc != -1 || m != NULL)
			fail_msg("case %zu: accepted:\n%s", i, cases[i].text);
		if (e.cls != ERR_CLASS_INPUT)
			fail_msg("case %zu: class %s: %s", i, err_class_name(e.cls), e.msg);
		if (e.line != want)
			fail_msg("case %zu: line %d, want %d: %s", i, e.line, want, e.msg);
		if (!strstr(e.msg, cases[i].msg))
			fail_msg("case %zu: message\n  %s\nlacks\n  %s", i, e.msg, cases[i].msg);
		char prefix[32];
		if (want)
			snprintf(prefix, sizeof(prefix), "bad.ini:%d: ", want);
		else
			snprintf(prefix, sizeof(prefix), "bad.ini: ");
		if (strncmp(e.msg, prefix, strlen(prefix)) != 0)
			fail_msg("case %zu: message does not start with '%s': %s", i, prefix, e.msg);
	}
}

static void test_nul_byte_and_empty(void **state)
{
	(void)state;
	static const char t[] = "[setupkit]\nformat = 2\x00\nkind = product\n";
	struct manifest *m = NULL;
	struct err e;

	assert_int_equal(manifest_load_buffer("nul.ini", t, sizeof(t) - 1, 0, &m, &e), -1);
	assert_string_equal(e.msg, "nul.ini:2: NUL byte in the file; a manifest is text");
	assert_int_equal(manifest_load_buffer("empty.ini", "", 0, 0, &m, &e), -1);
	assert_non_null(strstr(e.msg, "empty file"));
	assert_int_equal(manifest_load("/nonexistent/dir/x.ini", 0, &m, &e), -1);
	assert_int_equal(e.cls, ERR_CLASS_IO);
	assert_non_null(strstr(e.msg, "cannot open '/nonexistent/dir/x.ini'"));
}

static void test_valid_header_is_valid(void **state)
{
	(void)state;
	/* The fixtures above are malformed only where the marker says. */
	struct manifest *m = NULL;
	struct err e;
	const char *ok[] = { H, H F "dest = {app}/f\n", MEDIA_H, SP_H "level = 1\napplies_to = 1.0\n", ANS_H };
	enum manifest_kind k[] = { MANIFEST_PRODUCT, MANIFEST_PRODUCT, MANIFEST_MEDIA, MANIFEST_SP, MANIFEST_ANSWERS };

	for (int i = 0; i < 5; i++) {
		if (manifest_load_buffer("ok.ini", ok[i], strlen(ok[i]), k[i], &m, &e))
			fail_msg("%d: %s", i, e.msg);
		manifest_free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_header_is_valid),
		cmocka_unit_test(test_malformed_table),
		cmocka_unit_test(test_nul_byte_and_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
