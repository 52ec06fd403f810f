#include "core/dhp.h"
#include "core/err.h"
#include "core/strbuf.h"
#include "map/codetable.h"

#include <fcntl.h>
#include <unistd.h>

#include "cu.h"

/* Fixture path: $DHP_SRCDIR/tests/data/codes/NAME. */
static const char *fixture(const char *name)
{
	static char path[1024];
	const char *src = getenv("DHP_SRCDIR");
	snprintf(path, sizeof(path), "%s/tests/data/codes/%s", src ? src : ".", name);
	return path;
}

static const char *lookup(const struct codetable *t, const char *key, const char *column)
{
	return codetable_lookup(t, key, strlen(key), codetable_column(t, column));
}

/* Load `name`, expect failure with `code`, where = path + where_suffix and msg. */
static void expect_error(const char *name, enum dhp_code code, const char *where_suffix,
			 const char *msg)
{
	struct dhp_error err = DHP_ERROR_INIT;
	const char *path = fixture(name);
	char where[1100];
	snprintf(where, sizeof(where), "%s%s", path, where_suffix);
	struct codetable *t = codetable_load(path, &err);
	CU_ASSERT_PTR_NULL(t);
	codetable_free(t);
	CU_ASSERT_EQUAL(err.code, code);
	CU_ASSERT_STR(err.where, where);
	CU_ASSERT_STR(err.msg, msg);
}

static void test_lookup(void)
{
	struct dhp_error err = DHP_ERROR_INIT;
	struct codetable *t = codetable_load(fixture("icd10.csv"), &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STR(codetable_path(t), fixture("icd10.csv"));
	CU_ASSERT_STR(lookup(t, "A01", "target"), "A01.0");
	CU_ASSERT_STR(codetable_lookup(t, "A01", 3, 1), "A01.0");
	CU_ASSERT_STR(lookup(t, "A01", "system"), "http://hl7.org/fhir/sid/icd-10");
	/* Keys and cells are trimmed, NBSP included. */
	CU_ASSERT_STR(lookup(t, " A01\xC2\xA0", "target"), "A01.0");
	CU_ASSERT_STR(lookup(t, "B02", "target"), "B02.9");
	CU_ASSERT_STR(lookup(t, "oʻzbek", "target"), "Z00");
	/* Exact match otherwise: case and inner space matter. */
	CU_ASSERT_STR(lookup(t, "a01", "target"), "R69");
	CU_ASSERT_STR(lookup(t, "C03", "target"), "R69");
	CU_ASSERT_STR(lookup(t, "A01\0x", "target"), "A01.0"); /* strlen stops at NUL */
	CU_ASSERT_STR(codetable_lookup(t, "A01\0x", 5, 1), "R69");
	codetable_free(t);
}

static void test_columns(void)
{
	struct dhp_error err = DHP_ERROR_INIT;
	struct codetable *t = codetable_load(fixture("icd10.csv"), &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(codetable_column(t, "source"), 0);
	CU_ASSERT_EQUAL(codetable_column(t, "target"), 1);
	CU_ASSERT_EQUAL(codetable_column(t, "system"), 2);
	CU_ASSERT_EQUAL(codetable_column(t, "display"), 3);
	CU_ASSERT_EQUAL(codetable_column(t, "Display"), 3);
	CU_ASSERT_EQUAL(codetable_column(t, "nope"), -1);
	CU_ASSERT_EQUAL(codetable_column(t, ""), -1);
	CU_ASSERT_PTR_NULL(codetable_lookup(t, "A01", 3, 4));
	CU_ASSERT_PTR_NULL(codetable_lookup(t, "A01", 3, -1));
	codetable_free(t);
}

static void test_fallback(void)
{
	struct dhp_error err = DHP_ERROR_INIT;
	struct codetable *t = codetable_load(fixture("icd10.csv"), &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STR(lookup(t, "Z99.9", "target"), "R69");
	CU_ASSERT_STR(lookup(t, "Z99.9", "display"), "Unknown");
	CU_ASSERT_STR(lookup(t, "*", "target"), "R69");
	codetable_free(t);

	t = codetable_load(fixture("gender_crlf_bom.csv"), &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NULL(lookup(t, "X", "target")); /* no '*' row */
	codetable_free(t);
}

static void test_quoted(void)
{
	struct dhp_error err = DHP_ERROR_INIT;
	struct codetable *t = codetable_load(fixture("icd10.csv"), &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STR(lookup(t, "A01", "display"), "Тиф, брюшной");
	CU_ASSERT_STR(lookup(t, "B02", "display"), "Herpes \"zoster\"");
	CU_ASSERT_STR(lookup(t, "C 03", "target"), "C03");
	CU_ASSERT_STR(lookup(t, "C 03", "display"), ""); /* empty cell */
	CU_ASSERT_STR(lookup(t, "D04", "display"), "two\nlines");
	CU_ASSERT_STR(lookup(t, "oʻzbek", "display"), "quoted, with blanks around");
	CU_ASSERT_STR(lookup(t, "#5", "target"), "X05"); /* quoted '#' is no comment */
	CU_ASSERT_STR(lookup(t, "#5", "system"), "");
	codetable_free(t);
}

static void test_crlf_bom(void)
{
	struct dhp_error err = DHP_ERROR_INIT;
	struct codetable *t = codetable_load(fixture("gender_crlf_bom.csv"), &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(codetable_column(t, "display"), 2);
	CU_ASSERT_STR(lookup(t, "M", "target"), "male");
	CU_ASSERT_STR(lookup(t, "F", "display"), "Ayol");
	CU_ASSERT_STR(lookup(t, "U", "target"), "unknown");
	CU_ASSERT_STR(lookup(t, "U", "display"), "Nomaʼlum\r\n(unknown)"); /* kept in quotes */
	codetable_free(t);
}

static void test_bad_header(void)
{
	expect_error("bad_header.csv", DHP_ESYNTAX, ":1:1",
		     "expected header 'source,target,...', found 'code,target'");
}

static void test_wrong_column_count(void)
{
	/* Columns count characters: "Б1,Ж,x," is 7. */
	expect_error("too_many_columns.csv", DHP_ESYNTAX, ":3:8", "expected 3 columns, found 4");
	/* The row starts on line 3; its end (after `line",b`), where a column is
	 * missing, is on 4. */
	expect_error("too_few_columns.csv", DHP_ESYNTAX, ":4:8", "expected 3 columns, found 2");
}

static void test_duplicate(void)
{
	expect_error("duplicate.csv", DHP_ESYNTAX, ":6:1",
		     "duplicate source 'A' (first at line 2)");
}

static void test_syntax_errors(void)
{
	expect_error("unterminated.csv", DHP_ESYNTAX, ":3:3",
		     "unterminated quoted field (no closing '\"')");
	expect_error("stray_quote.csv", DHP_ESYNTAX, ":2:12",
		     "'\"' inside an unquoted field (quote the whole field and write the quote "
		     "as \"\")");
	expect_error("cp1251.csv", DHP_ESYNTAX, ":3:1",
		     "invalid UTF-8 (save the table as UTF-8, not Windows-1251)");
}

static void test_missing_file(void)
{
	struct dhp_error err = DHP_ERROR_INIT;
	const char *path = fixture("no-such-table.csv");
	CU_ASSERT_PTR_NULL(codetable_load(path, &err));
	CU_ASSERT_EQUAL(err.code, DHP_EIO);
	CU_ASSERT_STR(err.where, path);
	CU_ASSERT_STR(err.msg, "cannot open code table");
	CU_ASSERT_STR(err.detail, "No such file or directory");
	CU_ASSERT_PTR_NULL(codetable_load(path, NULL)); /* err is optional */
}

/* ---- small tables written on the fly ------------------------------------ */

static char tmp_path[64];

static struct codetable *load_text(const char *text, size_t len, struct dhp_error *err)
{
	snprintf(tmp_path, sizeof(tmp_path), "/tmp/dhp-codetable-XXXXXX");
	int fd = mkstemp(tmp_path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, len) == (ssize_t)len);
	close(fd);
	dhp_error_clear(err);
	struct codetable *t = codetable_load(tmp_path, err);
	unlink(tmp_path);
	return t;
}

static void load_fails_n(const char *text, size_t len, const char *where_suffix, const char *msg)
{
	struct dhp_error err;
	struct codetable *t = load_text(text, len, &err);
	CU_ASSERT_PTR_NULL(t);
	codetable_free(t);
	char where[128];
	snprintf(where, sizeof(where), "%s%s", tmp_path, where_suffix);
	CU_ASSERT_STR(err.where, where);
	CU_ASSERT_STR(err.msg, msg);
}

static void load_fails(const char *text, const char *where_suffix, const char *msg)
{
	load_fails_n(text, strlen(text), where_suffix, msg);
}

static void test_edge_cases(void)
{
	load_fails("", ":1:1", "expected header 'source,target,...', found end of file");
	load_fails("# only a comment\n\n", ":3:1",
		   "expected header 'source,target,...', found end of file");
	load_fails("source\nA\n", ":1:1", "expected header 'source,target,...', found 'source'");
	load_fails("source,target,\nA,1,\n", ":1:15", "empty column name");
	load_fails("source,target,Target\n", ":1:15", "duplicate column name 'Target'");
	load_fails("source,target\n,1\n", ":2:1", "empty source (write '*' for the fallback row)");
	load_fails("source,target\n*,1\n*,2\n", ":3:1", "duplicate source '*' (first at line 2)");
	load_fails("source,target\n\"A\" x,1\n", ":2:5",
		   "expected ',' or end of line after a closing quote, found 'x'");
	const char nul[] = "source,target\nA,1\0\n";
	load_fails_n(nul, sizeof(nul) - 1, ":2:4", "NUL byte in a code table");

	struct dhp_error err;
	/* Header only, no final newline, last cell at end of file. */
	const char only[] = "source,target";
	struct codetable *t = load_text(only, sizeof(only) - 1, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NULL(codetable_lookup(t, "x", 1, 1));
	codetable_free(t);

	const char last[] = "source,target\nA,\"1\"";
	t = load_text(last, sizeof(last) - 1, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STR(codetable_lookup(t, "A", 1, 1), "1");
	codetable_free(t);
}

static void test_many_rows(void)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "source,target\n");
	for (int i = 0; i < 20000; i++)
		strbuf_addf(&sb, "K%d,V%d\n", i, i * 7);
	struct dhp_error err;
	struct codetable *t = load_text(sb.buf, sb.len, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	int bad = 0;
	for (int i = 0; i < 20000; i++) {
		char k[16], v[16];
		snprintf(k, sizeof(k), "K%d", i);
		snprintf(v, sizeof(v), "V%d", i * 7);
		const char *got = codetable_lookup(t, k, strlen(k), 1);
		bad += !got || !streq(got, v);
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_PTR_NULL(codetable_lookup(t, "K20000", 6, 1));
	codetable_free(t);
	strbuf_release(&sb);
}

/* A sparse file over the cap is refused before anything is read. */
static void test_size_cap(void)
{
	char path[] = "/tmp/dhp-codetable-big-XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(ftruncate(fd, (off_t)(64u << 20) + 1) == 0);
	close(fd);
	struct dhp_error err = DHP_ERROR_INIT;
	CU_ASSERT_PTR_NULL(codetable_load(path, &err));
	unlink(path);
	CU_ASSERT_EQUAL(err.code, DHP_ELIMIT);
	CU_ASSERT_STR(err.where, path);
	CU_ASSERT_STR(err.msg, "code table is larger than 64 MiB");
}

static CU_TestInfo tests[] = {
    {"lookup", test_lookup},
    {"columns by name", test_columns},
    {"fallback row", test_fallback},
    {"quoted fields", test_quoted},
    {"crlf and bom", test_crlf_bom},
    {"bad header", test_bad_header},
    {"wrong column count", test_wrong_column_count},
    {"duplicate source", test_duplicate},
    {"syntax errors", test_syntax_errors},
    {"missing file", test_missing_file},
    {"edge cases", test_edge_cases},
    {"many rows", test_many_rows},
    {"size cap", test_size_cap},
    CU_TEST_INFO_NULL,
};

CU_MAIN("codetable")
