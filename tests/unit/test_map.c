/*
 * Applying mapping tables to records: values at their paths, array
 * compaction, guards, same-record references, automatic Data Absent
 * Reason (primitive, complex, choice, nodar), required-binding checks,
 * deterministic ids and located rejects. Records come from an in-memory
 * source, so these tests need no database.
 */
#include "core/dhp.h"
#include "core/fileio.h"
#include "map/map.h"

#include "cu.h"

#include <unistd.h>

/* ---- an in-memory source: one row of named text columns (NULL = SQL NULL) */

struct mem_source {
	struct source base;
	const char *const *cols;
	const char *const *vals;
	int ncols;
	bool served;
};

static int mem_resolve(struct source *s, const char *path)
{
	struct mem_source *m = (struct mem_source *)s;
	for (int i = 0; i < m->ncols; i++)
		if (streq(m->cols[i], path))
			return i;
	return -1;
}

static int mem_next(struct source *s, struct dhp_error *err)
{
	(void)err;
	struct mem_source *m = (struct mem_source *)s;
	if (m->served)
		return 0;
	m->served = true;
	s->record_no++;
	return 1;
}

static void mem_get(const struct source *s, int h, struct value *out)
{
	const struct mem_source *m = (const struct mem_source *)s;
	const char *v = m->vals[h];
	*out = v ? (struct value){V_TEXT, v, strlen(v)} : (struct value){V_NULL, "", 0};
}

static void mem_close(struct source *s)
{
	(void)s;
}

static const struct source_ops mem_ops = {
    .resolve = mem_resolve,
    .next = mem_next,
    .get = mem_get,
    .close = mem_close,
};

/* ---- fixtures ------------------------------------------------------------ */

static char tmpdir[] = "/tmp/dhp-maptest2.XXXXXX";
static struct mapset ms;
static struct map_ctx ctx;
static struct mapped out;

static void put(const char *name, const char *text)
{
	char *p = fileio_join(tmpdir, name);
	FILE *f = fopen(p, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	free(p);
}

static const char *const cols[] = {"id",     "pinfl", "passport", "dob", "sex",
				   "status", "temp",  "taken",	  "code"};

/* Map one row through the table; returns map_record's result. */
static int map_row_with(const char *map_text, const char *const *vals, struct dhp_error *err)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -f %s/*.map", tmpdir);
	if (system(cmd))
		abort();
	put("t.map", map_text);
	mapset_free(&ms);
	char profiles[512];
	snprintf(profiles, sizeof(profiles), "%s/mappings/profiles", getenv("DHP_SRCDIR"));
	struct mapset_paths mp = {tmpdir, profiles, NULL};
	if (mapset_load(&ms, &mp, err)) {
		fprintf(stderr, "\n  load: %s: %s\n", err->where, err->msg);
		return -2;
	}
	struct mem_source src = {
	    {.ops = &mem_ops, .name = "t"}, cols, vals, (int)ARRAY_SIZE(cols), false};
	if (mstream_bind(&ms.streams[0], &src.base, err))
		return -2;
	source_next(&src.base, err);
	return map_record(&ctx, &ms.streams[0], &src.base, &out, err);
}

static const char *js(const struct jnode *n, const char *path)
{
	/* dotted path with [i] indexes, like golden_check's; read on a json-c copy */
	static char result[2048];
	json_object *root = jtree_to_jsonc(n), *o = root;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = strtok(buf, "."); s && o; s = strtok(NULL, ".")) {
		char *br = strchr(s, '[');
		int idx = -1;
		if (br) {
			idx = atoi(br + 1);
			*br = '\0';
		}
		json_object *c = NULL;
		if (!json_object_object_get_ex(o, s, &c)) {
			o = NULL;
			break;
		}
		o = c;
		if (idx >= 0)
			o = json_object_is_type(o, json_type_array)
				? json_object_array_get_idx(o, (size_t)idx)
				: NULL;
	}
	const char *r = NULL;
	if (o) {
		snprintf(result, sizeof(result), "%s",
			 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
		r = result;
	}
	json_object_put(root);
	return r;
}

#define HEAD "@query q.sql\n@key id\n@table people\n"

static const char patient_map[] =
    HEAD "@resource Patient\n"
	 "identifier[0]         -   when(pinfl)\n"
	 "identifier[0].system  \"https://dhp.uz/fhir/core/sid/pid/uz/ni\"\n"
	 "identifier[0].value   pinfl\n"
	 "identifier[1]         -   when(passport)\n"
	 "identifier[1].system  \"https://dhp.uz/fhir/core/sid/pid/uz/ppn/local\"\n"
	 "identifier[1].value   passport | upper\n"
	 "birthDate             dob   date\n"
	 "gender                sex   map(M=male, F=female, *=unknown)\n";

static void test_values_and_compaction(void)
{
	const char *vals[] = {"7", NULL, "ab123", "12.03.1980", "M", NULL, NULL, NULL, NULL};
	struct dhp_error err = DHP_ERROR_INIT;
	CU_ASSERT_EQUAL_FATAL(map_row_with(patient_map, vals, &err), 0);
	CU_ASSERT_EQUAL_FATAL(out.n, 1);
	const struct jnode *p = out.res[0].json;
	/* no PINFL: the passport moves to identifier[0] */
	CU_ASSERT_STR(js(p, "identifier[0].value"), "\"AB123\"");
	CU_ASSERT_STR(js(p, "identifier[0].system"),
		      "\"https://dhp.uz/fhir/core/sid/pid/uz/ppn/local\"");
	CU_ASSERT_PTR_NULL(js(p, "identifier[1]"));
	CU_ASSERT_STR(js(p, "birthDate"), "\"1980-03-12\"");
	CU_ASSERT_STR(js(p, "gender"), "\"male\"");
	CU_ASSERT_STR(js(p, "meta.profile[0]"),
		      "\"https://dhp.uz/fhir/core/StructureDefinition/uz-core-patient\"");
	CU_ASSERT_STR(out.res[0].if_none_exist,
		      "identifier=https://dhp.uz/fhir/core/sid/pid/uz/ppn/local|AB123");
	CU_ASSERT_STR(out.where, "people:7");
}

static void test_base64(void)
{
	static const char m[] = HEAD "@resource Patient\n"
				     "identifier[0].value  id\n"
				     "photo[0].data  dob  base64\n";
	struct dhp_error err = DHP_ERROR_INIT;
	const char *v1[] = {"1", NULL, NULL, "Oʻzbek", NULL, NULL, NULL, NULL, NULL};
	CU_ASSERT_EQUAL_FATAL(map_row_with(m, v1, &err), 0);
	CU_ASSERT_STR(js(out.res[0].json, "photo[0].data"), "\"T8q7emJlaw==\"");
	const char *v2[] = {"1", NULL, NULL, "ab", NULL, NULL, NULL, NULL, NULL};
	CU_ASSERT_EQUAL_FATAL(map_row_with(m, v2, &err), 0);
	CU_ASSERT_STR(js(out.res[0].json, "photo[0].data"), "\"YWI=\"");
}

static void test_join(void)
{
	static const char m[] = HEAD "@resource Patient\n"
				     "identifier[0].value  id\n"
				     "name[0].text  id  join(\" \", passport, dob, sex)\n";
	struct dhp_error err = DHP_ERROR_INIT;
	/* the parts present, one separator between them, none for the absent */
	const char *v1[] = {"1", NULL, "W1", NULL, "A", NULL, NULL, NULL, NULL};
	CU_ASSERT_EQUAL_FATAL(map_row_with(m, v1, &err), 0);
	CU_ASSERT_STR(js(out.res[0].json, "name[0].text"), "\"W1 A\"");
	const char *v2[] = {"1", NULL, NULL, "101", NULL, NULL, NULL, NULL, NULL};
	CU_ASSERT_EQUAL_FATAL(map_row_with(m, v2, &err), 0);
	CU_ASSERT_STR(js(out.res[0].json, "name[0].text"), "\"101\"");
	/* nothing present: no element */
	const char *v3[] = {"1", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
	CU_ASSERT_EQUAL_FATAL(map_row_with(m, v3, &err), 0);
	CU_ASSERT_PTR_NULL(js(out.res[0].json, "name"));
}

static void test_instant_needs_time(void)
{
	static const char m[] = HEAD "@resource Observation\n"
				     "status  \"final\"\n"
				     "code.coding.code  \"x\"\n"
				     "issued  taken  datetime\n";
	struct dhp_error err = DHP_ERROR_INIT;
	const char *dated[] = {"1", NULL, NULL, NULL, NULL, NULL, NULL, "2024-03-12", NULL};
	CU_ASSERT_EQUAL_FATAL(map_row_with(m, dated, &err), 0);
	CU_ASSERT_PTR_NULL(js(out.res[0].json, "issued")); /* no partial instant */
	const char *timed[] = {"1", NULL, NULL, NULL, NULL, NULL, NULL, "2024-03-12 10:00", NULL};
	CU_ASSERT_EQUAL_FATAL(map_row_with(m, timed, &err), 0);
	CU_ASSERT_STR(js(out.res[0].json, "issued"), "\"2024-03-12T10:00:00+05:00\"");
}

static void test_uri_made_safe(void)
{
	static const char m[] = HEAD "@resource Patient\n"
				     "identifier[0].system  dob  concat(\"/mrn\")\n"
				     "identifier[0].value  id\n";
	struct dhp_error err = DHP_ERROR_INIT;
	const char *v[] = {"1", NULL, NULL, "urn:x:Winchester House", NULL, NULL, NULL, NULL, NULL};
	CU_ASSERT_EQUAL_FATAL(map_row_with(m, v, &err), 0);
	CU_ASSERT_STR(js(out.res[0].json, "identifier[0].system"),
		      "\"urn:x:Winchester%20House/mrn\"");
}

static void test_deterministic_ids(void)
{
	const char *vals[] = {"7", "31234567890123", NULL, NULL, "F", NULL, NULL, NULL, NULL};
	struct dhp_error err = DHP_ERROR_INIT;
	CU_ASSERT_EQUAL_FATAL(map_row_with(patient_map, vals, &err), 0);
	char first[37];
	memcpy(first, out.res[0].uuid, sizeof(first));
	CU_ASSERT_EQUAL(strlen(first), 36);
	CU_ASSERT_EQUAL(first[14], '5'); /* UUID version 5 */
	CU_ASSERT_EQUAL_FATAL(map_row_with(patient_map, vals, &err), 0);
	CU_ASSERT_STR(out.res[0].uuid, first);
	const char *other[] = {"8", "31234567890123", NULL, NULL, "F", NULL, NULL, NULL, NULL};
	CU_ASSERT_EQUAL_FATAL(map_row_with(patient_map, other, &err), 0);
	CU_ASSERT(strcmp(out.res[0].uuid, first) != 0);
}

static void test_dar_on_complex_and_choice(void)
{
	/* no identifier at all: Patient.identifier 1..* gets a DAR-only element */
	const char *vals[] = {"9", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
	struct dhp_error err = DHP_ERROR_INIT;
	long before = ctx.stats.dar;
	CU_ASSERT_EQUAL_FATAL(map_row_with(patient_map, vals, &err), 0);
	CU_ASSERT_STR(js(out.res[0].json, "identifier"),
		      "[{\"extension\":[{\"url\":\"http://hl7.org/fhir/StructureDefinition/"
		      "data-absent-reason\",\"valueCode\":\"unknown\"}]}]");
	CU_ASSERT_EQUAL(ctx.stats.dar, before + 1);
	CU_ASSERT_PTR_NULL(out.res[0].if_none_exist);

	/* vital signs: effective[x] 1..1 without a time -> _effectiveDateTime, chosen code */
	static const char vit[] =
	    HEAD "@resource Observation\n"
		 "@profile https://dhp.uz/fhir/core/StructureDefinition/uz-core-observation "
		 "http://hl7.org/fhir/StructureDefinition/vitalsigns "
		 "http://hl7.org/fhir/StructureDefinition/bodytemp\n"
		 "status  \"final\"\n"
		 "category.coding.system  "
		 "\"http://terminology.hl7.org/CodeSystem/observation-category\"\n"
		 "category.coding.code  \"vital-signs\"\n"
		 "code.coding.system  \"http://loinc.org\"\n"
		 "code.coding.code  \"8310-5\"\n"
		 "subject.reference  \"Patient/1\"\n"
		 "effectiveDateTime  taken  datetime | absent(not-asked)\n"
		 "valueQuantity.value  temp  decimal\n";
	const char *v2[] = {"1", NULL, NULL, NULL, NULL, NULL, "36.60", NULL, NULL};
	CU_ASSERT_EQUAL_FATAL(map_row_with(vit, v2, &err), 0);
	const struct jnode *o = out.res[0].json;
	CU_ASSERT_STR(js(o, "_effectiveDateTime.extension[0].valueCode"), "\"not-asked\"");
	CU_ASSERT_PTR_NULL(js(o, "effectiveDateTime"));
	CU_ASSERT_STR(js(o, "valueQuantity.value"), "36.60"); /* decimal digits kept */
	const char *v3[] = {"1", NULL, NULL, NULL, NULL, NULL, "36.6", "2024-03-12 09:30", NULL};
	CU_ASSERT_EQUAL_FATAL(map_row_with(vit, v3, &err), 0);
	CU_ASSERT_STR(js(out.res[0].json, "effectiveDateTime"), "\"2024-03-12T09:30:00+05:00\"");
	CU_ASSERT_PTR_NULL(js(out.res[0].json, "_effectiveDateTime"));
}

static void test_rejects(void)
{
	static const char enc[] =
	    HEAD "@resource Patient\n"
		 "identifier[0].value  id\n"
		 "birthDate  dob  date\n"
		 "@resource Encounter\n"
		 "status  status\n"
		 "type.coding.system  "
		 "\"https://terminology.dhp.uz/fhir/core/CodeSystem/encounter-type-cs\"\n"
		 "type.coding.code  code\n"
		 "subject  ref(Patient)\n";
	struct dhp_error err = DHP_ERROR_INIT;
	/* a good record: two resources, the Encounter points at the Patient's urn:uuid */
	const char *ok[] = {"5",	 NULL, NULL, "2001-02-03",	NULL,
			    "completed", NULL, NULL, "mserv-0001-00001"};
	CU_ASSERT_EQUAL_FATAL(map_row_with(enc, ok, &err), 0);
	CU_ASSERT_EQUAL_FATAL(out.n, 2);
	char urn[64];
	snprintf(urn, sizeof(urn), "\"urn:uuid:%s\"", out.res[0].uuid);
	CU_ASSERT_STR(js(out.res[1].json, "subject.reference"), urn);
	/* a bad date rejects the record, located at table:key:column */
	const char *bad[] = {"5",	  NULL, NULL, "31.02.2024",	 NULL,
			     "completed", NULL, NULL, "mserv-0001-00001"};
	CU_ASSERT_EQUAL(map_row_with(enc, bad, &err), -1);
	CU_ASSERT_STR(err.where, "people:5:dob");
	CU_ASSERT(strstr(err.msg, "found '31.02.2024'") != NULL);
	CU_ASSERT_EQUAL(out.n, 0);
	/* a mandatory modifier cannot take DAR */
	const char *nostatus[] = {
	    "5", NULL, NULL, NULL, NULL, NULL, NULL, NULL, "mserv-0001-00001"};
	CU_ASSERT_EQUAL(map_row_with(enc, nostatus, &err), -1);
	CU_ASSERT_EQUAL(err.code, DHP_EREQUIRED);
	CU_ASSERT(strstr(err.msg, "Encounter.status is required") != NULL);
	/* a code outside the required value set */
	const char *badcode[] = {
	    "5", NULL, NULL, NULL, NULL, "done", NULL, NULL, "mserv-0001-00001"};
	CU_ASSERT_EQUAL(map_row_with(enc, badcode, &err), -1);
	CU_ASSERT_STR(err.where, "people:5:status");
	CU_ASSERT(
	    strstr(err.msg, "code 'done' for Encounter.status is not in the required value set") !=
	    NULL);
	/* no key */
	const char *nokey[] = {NULL, NULL, NULL, NULL, NULL, "completed", NULL, NULL, NULL};
	CU_ASSERT_EQUAL(map_row_with(enc, nokey, &err), -1);
	CU_ASSERT_EQUAL(err.code, DHP_EKEY);
	CU_ASSERT_STR(err.where, "people:#1:id");
}

static int setup(void)
{
	if (!mkdtemp(tmpdir))
		return 1;
	put("q.sql", "SELECT 1\n");
	map_ctx_init(&ctx, "Asia/Tashkent");
	return 0;
}

static int teardown(void)
{
	mapped_free(&out);
	mapset_free(&ms);
	map_ctx_release(&ctx);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd);
}

static CU_TestInfo tests[] = {
    {"values, guards and array compaction", test_values_and_compaction},
    {"deterministic urn:uuid", test_deterministic_ids},
    {"base64", test_base64},
    {"join keeps the parts present", test_join},
    {"instant needs a time", test_instant_needs_time},
    {"uri made safe", test_uri_made_safe},
    {"data absent reason", test_dar_on_complex_and_choice},
    {"rejects are located", test_rejects},
    CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {{"map", setup, teardown, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	CU_register_suites(suites);
	CU_basic_set_mode(CU_BRM_NORMAL);
	CU_basic_run_tests();
	unsigned fails = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
