/*
 * Mapping tables: parsing, the static check against the UZ Core profile
 * tables, and the exact FILE:LINE:COL messages users will see.
 */
#include "core/dhp.h"
#include "core/fileio.h"
#include "map/maptable.h"

#include "cu.h"

#include <unistd.h>

static char tmpdir[] = "/tmp/dhp-maptest.XXXXXX";

static void write_file(const char *name, const char *text)
{
	char *p = fileio_join(tmpdir, name);
	FILE *f = fopen(p, "w");
	if (!f)
		abort(); /* also used by the suite setup, outside any test */
	fputs(text, f);
	fclose(f);
	free(p);
}

static void remove_maps(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -f %s/*.map", tmpdir);
	if (system(cmd) != 0)
		abort();
}

/* Load a one-file mapping set; returns 0/-1 and fills err. */
static int load(const char *map_text, struct mapset *ms, struct dhp_error *err)
{
	remove_maps();
	write_file("t.map", map_text);
	char profiles[512];
	snprintf(profiles, sizeof(profiles), "%s/mappings/profiles", getenv("DHP_SRCDIR"));
	struct mapset_paths mp = {tmpdir, profiles, NULL};
	return mapset_load(ms, &mp, err);
}

#define HEAD "@query q.sql\n@key id\n"

/* Expect a load error at "t.map:LINE:COL" whose message contains `needle`. */
static void expect_error(const char *text, int line, int col, const char *needle)
{
	struct mapset ms;
	struct dhp_error err = DHP_ERROR_INIT;
	int rc = load(text, &ms, &err);
	CU_ASSERT_EQUAL(rc, -1);
	char where[512];
	snprintf(where, sizeof(where), "%s/t.map:%d:%d", tmpdir, line, col);
	CU_ASSERT_STR(err.where, where);
	if (!strstr(err.msg, needle))
		fprintf(stderr, "\n  message '%s' lacks '%s'\n", err.msg, needle);
	CU_ASSERT(strstr(err.msg, needle) != NULL);
	mapset_free(&ms);
}

static void test_good_table(void)
{
	struct mapset ms;
	struct dhp_error err = DHP_ERROR_INIT;
	int rc = load(HEAD "@resource Patient\n"
			   "identifier[0].system  \"https://dhp.uz/fhir/core/sid/pid/uz/ni\"  "
			   "when(pinfl)\n"
			   "identifier[0].value   pinfl   trim\n"
			   "identifier[1]         -       when(passport)\n"
			   "identifier[1].value   passport\n"
			   "name.family           last_name  # comment\n"
			   "name.given[1]         middle_name\n"
			   "birthDate             dob     date | absent(asked-unknown)\n"
			   "gender                sex     map(M=male, F=female, *=unknown)\n"
			   "@resource Encounter\n"
			   "status                st      default(\"unknown\")\n"
			   "subject               ref(Patient)\n"
			   "actualPeriod.start    admitted  datetime(Asia/Tashkent)\n",
		      &ms, &err);
	if (rc)
		fprintf(stderr, "\n  %s: %s\n", err.where, err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(ms.nstreams, 1);
	struct mstream *st = &ms.streams[0];
	CU_ASSERT_STR(st->table, "q");
	CU_ASSERT_EQUAL(st->nres, 2);
	struct mres *p = st->res[0];
	CU_ASSERT_STR(p->profiles[0],
		      "https://dhp.uz/fhir/core/StructureDefinition/uz-core-patient");
	/* name is repeating: a missing index means [0]; given[1] keeps its index */
	CU_ASSERT_EQUAL(p->rows[4].steps[0].index, 0);
	CU_ASSERT_EQUAL(p->rows[5].steps[1].index, 1);
	CU_ASSERT_STR(p->rows[6].type, "date");
	CU_ASSERT_EQUAL(p->rows[6].out, K_DATE);
	CU_ASSERT_STR(p->rows[6].absent, "asked-unknown");
	/* the guard on identifier[1] covers identifier[1].value */
	CU_ASSERT_EQUAL(p->rows[3].nguards, 1);
	CU_ASSERT_EQUAL(st->res[1]->rows[1].ref_res, 0);
	CU_ASSERT_STR(st->res[1]->rows[2].type, "dateTime");
	mapset_free(&ms);
}

static void test_errors(void)
{
	expect_error(HEAD "@resource Patient\nbirthDat  dob  date\n", 4, 1,
		     "unknown element 'birthDat'");
	expect_error(HEAD "@resource Patient\nbirthDate  dob  decimal\n", 4, 17,
		     "'birthDate' is a date but the row gives a decimal");
	expect_error(HEAD "@resource Patient\nbirthDate  dob\n", 4, 12, "add the 'date' transform");
	expect_error(HEAD "@resource Patient\nbirthDate  dob  dat\n", 4, 17,
		     "unknown transform 'dat'");
	expect_error(HEAD "@resource Patient\ngender  sex  code(nosuch)\n", 4, 19,
		     "unknown code table 'nosuch'");
	expect_error(HEAD "@resource Patient\nbirthDate  \"31.02.2024\"\n", 4, 12,
		     "literal for Patient.birthDate");
	expect_error(HEAD "@resource Patient\ngender.x  sex\n", 4, 1, "has no element 'x'");
	expect_error(HEAD "@resource Patient\nbirthDate[2]  dob  date\n", 4, 1, "is not repeating");
	expect_error(HEAD "@resource Encounter\nsubject  pid\n", 4, 10, "is a Reference");
	expect_error(HEAD "@resource Encounter\nsubject  ref(Patient)\n", 4, 10,
		     "no @resource Patient Patient");
	expect_error(HEAD "@resourc Patient\n", 3, 1, "unknown directive '@resourc'");
	expect_error("@key id\n@resource Patient\n", 1, 1, "missing @query");
	expect_error(HEAD "@resource Patient\ngender  sex  when(sex = male)\n", 4, 25,
		     "expected a quoted value");
	expect_error(HEAD "@resource Patient\ngender  \"x\n", 4, 9, "unterminated string");
	expect_error(HEAD "@resource Patient\nbirthDate  dob  date | absent(dunno)\n", 4, 1,
		     "not a Data Absent Reason code");
	expect_error(HEAD "@resource Patient\n@profile https://example.org/nope\n", 3, 1,
		     "unknown profile 'https://example.org/nope'");
	expect_error(HEAD "@resource Patient\nname  last_name\n", 4, 1, "'name' is a HumanName");
}

static int setup(void)
{
	if (!mkdtemp(tmpdir))
		return 1;
	write_file("q.sql", "SELECT 1 AS id\n");
	return 0;
}

static int teardown(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd);
}

static CU_TestInfo tests[] = {
    {"a good table compiles", test_good_table},
    {"errors are located", test_errors},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {{"maptable", setup, teardown, NULL, NULL, tests},
				 CU_SUITE_INFO_NULL};
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_register_suites(suites);
	CU_basic_set_mode(CU_BRM_NORMAL);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
