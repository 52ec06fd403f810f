/*
 * Mapping tables: parsing, the static check against the UZ Core profile
 * tables, and the exact FILE:LINE:COL messages users will see.
 */
#include "core/dhp.h"
#include "core/fileio.h"
#include "map/maptable.h"

#include "cu.h"

#include <sys/stat.h>
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

/* ---- datatype transforms ---------------------------------------------- */

static const char dt_lib[] = "# a datatype library\n"
			     "@datatype XPN HumanName\n"
			     ".family        .1.1   trim\n"
			     ".given[0]      .2\n"
			     ".use           .7     code(name-use)\n"
			     "@datatype NM Quantity\n"
			     ".              -      when(.)\n"
			     ".value         .      decimal\n"
			     ".unit          $1.2   default($1.1)\n"
			     "@datatype SN Range\n"
			     ".              -      when(.3 = \"-\")\n"
			     ".low.value     .2     decimal\n"
			     ".high.value    .4     decimal\n"
			     "@datatype XTN ContactPoint\n"
			     ".              -      when(.)\n"
			     ".value         .1\n"
			     ".use           $1\n"
			     "@datatype CWE CodeableConcept\n"
			     ".coding[0].code  .1\n"
			     ".coding[0].system  .3.2\n"
			     ".text          .9\n"
			     "@datatype DTM dateTime\n"
			     ".              .1     datetime\n";

#define V2HEAD "@message ORU^R01\n@key MSH-10\n"

/* Load the library above as dt.map beside table t.map. */
static int load_dt(const char *lib, const char *map_text, struct mapset *ms, struct dhp_error *err)
{
	remove_maps();
	write_file("dt.map", lib);
	write_file("t.map", map_text);
	char *codes = fileio_join(tmpdir, "codes");
	mkdir(codes, 0755);
	free(codes);
	write_file("codes/name-use.csv", "source,target\nL,official\n");
	char profiles[512];
	snprintf(profiles, sizeof(profiles), "%s/mappings/profiles", getenv("DHP_SRCDIR"));
	struct mapset_paths mp = {tmpdir, profiles, NULL};
	return mapset_load(ms, &mp, err);
}

/* A row the test goes on to read: fail and stop the test without it. */
#define NEED(p)                                                                                    \
	do {                                                                                       \
		CU_ASSERT_PTR_NOT_NULL(p);                                                         \
		if (!(p))                                                                          \
			return;                                                                    \
	} while (0)

static const struct mrow *row_for(const struct mres *r, const char *target, const char *source)
{
	for (int i = 0; i < r->nrows; i++)
		if (streq(r->rows[i].target, target) &&
		    (!source ? r->rows[i].src == S_NONE
			     : r->rows[i].operand.text && streq(r->rows[i].operand.text, source)))
			return &r->rows[i];
	return NULL;
}

static void test_datatypes(void)
{
	struct mapset ms;
	struct dhp_error err = DHP_ERROR_INIT;
	int rc = load_dt(dt_lib,
			 V2HEAD "@resource Patient\n"
				"name[*]   PID-5[*]  xpn\n"
				"telecom[3]  PID-14[2]  xtn(\"work\")\n"
				"name[5]  PID-9.3  XPN\n"
				"maritalStatus  PID-16.1  cwe\n"
				"@resource Observation\n"
				"@for-each OBX\n"
				"status  \"final\"\n"
				"code  OBX-3  cwe\n"
				"valueQuantity  OBX-5  nm(OBX-6) | when(OBX-2 = \"NM\")\n"
				"valueRange     OBX-5  sn | when(OBX-2 = \"SN\")\n"
				"effectiveDateTime  OBX-14  dtm | when(OBX-11 = \"F\")\n",
			 &ms, &err);
	if (rc)
		fprintf(stderr, "\n  %s: %s (%s)\n", err.where, err.msg, err.detail);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(ms.ndts, 6);
	const struct mres *p = ms.streams[0].res[0], *o = ms.streams[0].res[1];
	/* the xpn row became its template's rows, under its target and source */
	CU_ASSERT_EQUAL(p->nrows, 3 + 3 + 3 + 2);
	const struct mrow *fam = row_for(p, "name[*].family", "PID-5[*].1.1");
	NEED(fam);
	CU_ASSERT_EQUAL(fam->nxf, 1);
	CU_ASSERT(fam->star_src != NULL);
	CU_ASSERT(fam->origin && strstr(fam->origin, "datatype XPN (HumanName) at "));
	CU_ASSERT_PTR_NOT_NULL(row_for(p, "name[*].use", "PID-5[*].7"));
	/* a literal argument is a literal; the template's guard covers its rows */
	const struct mrow *use = row_for(p, "telecom[3].use", "work");
	NEED(use);
	CU_ASSERT_EQUAL(use->src, S_LITERAL);
	CU_ASSERT_EQUAL(use->nguards, 1);
	CU_ASSERT_PTR_NOT_NULL(row_for(p, "telecom[3].value", "PID-14[2].1"));
	/* a field's parts are components and subcomponents; inside a component
	 * they are subcomponents (XPN.1.1 is the subcomponent itself), and a part
	 * deeper than that (CWE.3.2) drops its row */
	CU_ASSERT_PTR_NOT_NULL(row_for(o, "code.coding[0].system", "OBX-3.3.2"));
	CU_ASSERT_PTR_NOT_NULL(row_for(p, "name[5].family", "PID-9.3.1"));
	CU_ASSERT_PTR_NOT_NULL(row_for(p, "name[5].given[0]", "PID-9.3.2"));
	CU_ASSERT_PTR_NOT_NULL(row_for(p, "maritalStatus.coding[0].code", "PID-16.1.1"));
	CU_ASSERT_PTR_NOT_NULL(row_for(p, "maritalStatus.text", "PID-16.1.9"));
	CU_ASSERT_PTR_NULL(row_for(p, "maritalStatus.coding[0].system", "PID-16.1.3"));
	/* a path argument's parts: $1.2 is OBX-6.2 */
	const struct mrow *unit = row_for(o, "valueQuantity.unit", "OBX-6.2");
	NEED(unit);
	CU_ASSERT_STR(unit->xf[0].args[0].text, "OBX-6.1");
	/* each row's when() guards its own expansion only: the value rows of
	 * nm() are under the NM guard and the template's, not the SN ones */
	const struct mrow *qv = row_for(o, "valueQuantity.value", "OBX-5");
	NEED(qv);
	CU_ASSERT_EQUAL(qv->nguards, 2);
	for (int g = 0; g < qv->nguards; g++)
		CU_ASSERT_STR(o->rows[qv->guards[g]].target, "valueQuantity");
	const struct mrow *low = row_for(o, "valueRange.low.value", "OBX-5.2");
	NEED(low);
	CU_ASSERT_EQUAL(low->nguards, 2);
	/* a template row filling the element itself is under the row's when() */
	const struct mrow *eff = row_for(o, "effectiveDateTime", "OBX-14.1");
	NEED(eff);
	CU_ASSERT_EQUAL(eff->nguards, 1);
	CU_ASSERT_EQUAL(eff->out, K_DATETIME);
	mapset_free(&ms);
}

/* Expect a load error (datatype library beside) at t.map:LINE:COL. */
static void expect_dt_error(const char *lib, const char *text, const char *file, int line, int col,
			    const char *needle)
{
	struct mapset ms;
	struct dhp_error err = DHP_ERROR_INIT;
	CU_ASSERT_EQUAL(load_dt(lib, text, &ms, &err), -1);
	char where[512];
	snprintf(where, sizeof(where), "%s/%s:%d:%d", tmpdir, file, line, col);
	CU_ASSERT_STR(err.where, where);
	if (!strstr(err.msg, needle) && !strstr(err.detail, needle))
		fprintf(stderr, "\n  '%s' / '%s' lacks '%s'\n", err.msg, err.detail, needle);
	CU_ASSERT(strstr(err.msg, needle) || strstr(err.detail, needle));
	mapset_free(&ms);
}

static void test_datatype_errors(void)
{
	/* the target's type has no template of that name */
	expect_dt_error(dt_lib, V2HEAD "@resource Patient\ngender  PID-8  xpn\n", "t.map", 4, 16,
			"'gender' is a code, but datatype xpn() fills HumanName");
	expect_dt_error(dt_lib, V2HEAD "@resource Patient\nname  PID-5  xpn | trim\n", "t.map", 4,
			20, "comes alone");
	expect_dt_error(dt_lib, V2HEAD "@resource Patient\nname  \"x\"  xpn\n", "t.map", 4, 12,
			"reads a source path");
	/* a template row that does not check is reported at the using row */
	expect_dt_error("@datatype XPN HumanName\n.famly  .1\n",
			V2HEAD "@resource Patient\nname  PID-5  xpn\n", "t.map", 4, 1,
			"datatype XPN (HumanName) at ");
	expect_dt_error("@datatype XPN HumanName\n@resource Patient\n", V2HEAD, "dt.map", 2, 1,
			"@datatype blocks only");
	expect_dt_error("@datatype XPN HumanName\nfamily  .1\n", V2HEAD, "dt.map", 2, 1,
			"starts with '.'");
	expect_dt_error("@datatype XPN HumanName\n@datatype xpn HumanName\n", V2HEAD, "dt.map", 2,
			11, "already defined");
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
    {"datatype transforms expand", test_datatypes},
    {"datatype errors are located", test_datatype_errors},
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
