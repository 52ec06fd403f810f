/*
 * The :since placeholder becomes a bound parameter, and only where it is a
 * placeholder: never inside strings, identifiers, comments, dollar quotes
 * or casts. (Extraction itself is covered by the integration tests against
 * a real server.)
 */
#include "core/dhp.h"
#include "extract/extract_pg.h"

#include "cu.h"

static void expect(const char *in, const char *want, int want_count)
{
	int n;
	char *out = pgx_bind_since(in, &n);
	CU_ASSERT_STR(out, want);
	CU_ASSERT_EQUAL(n, want_count);
	free(out);
}

static void test_bind_since(void)
{
	expect("SELECT * FROM t WHERE u > :since", "SELECT * FROM t WHERE u > $1::timestamptz", 1);
	expect("WHERE u > :since\nAND v > :since;",
	       "WHERE u > $1::timestamptz\nAND v > $1::timestamptz;", 2);
	expect("SELECT ':since', \":since\" FROM t", "SELECT ':since', \":since\" FROM t", 0);
	expect("SELECT 1 -- after :since\n", "SELECT 1 -- after :since\n", 0);
	expect("SELECT 1 /* :since */", "SELECT 1 /* :since */", 0);
	expect("SELECT $$ :since $$, $q$ :since $q$", "SELECT $$ :since $$, $q$ :since $q$", 0);
	expect("SELECT x::since_type, :sinceX, :since_", "SELECT x::since_type, :sinceX, :since_",
	       0);
	expect("SELECT 'it''s' WHERE a > :since", "SELECT 'it''s' WHERE a > $1::timestamptz", 1);
	expect("SELECT 'unterminated :since", "SELECT 'unterminated :since", 0);
}

static CU_TestInfo tests[] = {
    {"the :since placeholder", test_bind_since},
    CU_TEST_INFO_NULL,
};

CU_MAIN("extract_pg")
