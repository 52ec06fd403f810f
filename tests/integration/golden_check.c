/*
 * golden_check: checks the meaning of the bundles `validate` wrote for the
 * sample HIS (sql/his-seed.sql, dirty cases in sql/README.md).
 *
 *   golden_check OUTDIR REPORT.json CONNINFO
 *
 * Structure: every file is a transaction Bundle; every entry has a urn:uuid
 * fullUrl, POST to its resource type, a UZ Core meta.profile; every
 * urn:uuid reference resolves inside its bundle. Meaning: each Patient,
 * Encounter and Condition is compared with its source row, read again from
 * PostgreSQL; the documented dirty cases give exactly the documented
 * output; the report's counts add up. Prints one line per failed check and
 * exits 1 if any failed.
 */
#include "core/dhp.h"
#include "core/hmap.h"

#include <dirent.h>
#include <json-c/json.h>
#include <libpq-fe.h>

static int failures, checks;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		checks++;                                                                          \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);                                \
			printf(__VA_ARGS__);                                                       \
			putchar('\n');                                                             \
		}                                                                                  \
	} while (0)

#define MRN "https://his.example-hospital.uz/fhir/sid/mrn"
#define VISIT "https://his.example-hospital.uz/fhir/sid/visit"
#define NI "https://dhp.uz/fhir/core/sid/pid/uz/ni"
#define DAR "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

/* Resources found, by "Type|identifier-value" of their first business id. */
static struct hmap by_key;
static json_object *bundles[4096];
static int nbundles;
static long counts[4]; /* Patient, Encounter, Observation, Condition */

static json_object *get(json_object *o, const char *path)
{
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
		if (!json_object_object_get_ex(o, s, &c))
			return NULL;
		o = c;
		if (idx >= 0)
			o = json_object_is_type(o, json_type_array)
				? json_object_array_get_idx(o, (size_t)idx)
				: NULL;
	}
	return o;
}

static const char *str(json_object *o, const char *path)
{
	json_object *v = get(o, path);
	return v ? json_object_get_string(v) : NULL;
}

static size_t alen(json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static bool eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* The identifier value of `system` in resource r, or NULL. */
static const char *ident(json_object *r, const char *system)
{
	json_object *ids = get(r, "identifier");
	for (size_t i = 0; i < alen(ids); i++) {
		json_object *id = json_object_array_get_idx(ids, i);
		if (eq(str(id, "system"), system))
			return str(id, "value");
	}
	return NULL;
}

static void check_refs(json_object *node, struct hmap *urns, const char *file)
{
	if (json_object_is_type(node, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(node); i++)
			check_refs(json_object_array_get_idx(node, i), urns, file);
	} else if (json_object_is_type(node, json_type_object)) {
		json_object_object_foreach(node, k, v)
		{
			if (strcmp(k, "reference") == 0 &&
			    json_object_is_type(v, json_type_string)) {
				const char *ref = json_object_get_string(v);
				if (strncmp(ref, "urn:uuid:", 9) == 0)
					CHECK(hmap_gets(urns, ref),
					      "%s: reference %s does not resolve in the bundle",
					      file, ref);
				else
					CHECK(
					    strstr(ref, "?identifier=") != NULL,
					    "%s: reference %s is neither urn:uuid nor conditional",
					    file, ref);
			}
			check_refs(v, urns, file);
		}
	}
}

static void index_resource(json_object *r)
{
	const char *type = str(r, "resourceType");
	const char *id = NULL;
	static const char *const types[] = {"Patient", "Encounter", "Observation", "Condition"};
	for (int i = 0; i < 4; i++)
		if (eq(type, types[i]))
			counts[i]++;
	if (eq(type, "Patient"))
		id = ident(r, MRN);
	else if (eq(type, "Encounter"))
		id = ident(r, VISIT);
	else
		id = str(r, "identifier[0].value");
	if (!id)
		return;
	char key[256];
	snprintf(key, sizeof(key), "%s|%s", type, id);
	/* Several vital-sign Observations share a session id: keep the first. */
	if (!hmap_gets(&by_key, key))
		hmap_put(&by_key, key, strlen(key), r);
}

static void check_bundle(json_object *b, const char *file)
{
	CHECK(eq(str(b, "resourceType"), "Bundle"), "%s: not a Bundle", file);
	CHECK(eq(str(b, "type"), "transaction"), "%s: not a transaction", file);
	json_object *entries = get(b, "entry");
	struct hmap urns = HMAP_INIT;
	size_t n = entries ? json_object_array_length(entries) : 0;
	CHECK(n > 0, "%s: no entries", file);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(entries, i);
		const char *url = str(e, "fullUrl");
		CHECK(url && strncmp(url, "urn:uuid:", 9) == 0 && strlen(url) == 45,
		      "%s: entry %zu fullUrl '%s'", file, i, url ? url : "");
		if (url) {
			CHECK(!hmap_gets(&urns, url), "%s: duplicate fullUrl %s", file, url);
			hmap_put(&urns, url, strlen(url), e);
		}
		json_object *r = get(e, "resource");
		const char *type = str(r, "resourceType");
		CHECK(eq(str(e, "request.method"), "POST"), "%s: entry %zu method", file, i);
		CHECK(eq(str(e, "request.url"), type), "%s: entry %zu url vs type", file, i);
		const char *prof = str(r, "meta.profile[0]");
		CHECK(prof && strncmp(prof, "https://dhp.uz/fhir/core/StructureDefinition/uz-core-",
				      53) == 0,
		      "%s: entry %zu meta.profile '%s'", file, i, prof ? prof : "");
		const char *ine = str(e, "request.ifNoneExist");
		CHECK(ine && strncmp(ine, "identifier=", 11) == 0,
		      "%s: entry %zu has no ifNoneExist", file, i);
		index_resource(r);
	}
	check_refs(b, &urns, file);
	hmap_clear(&urns);
}

static void load_bundles(const char *dir)
{
	DIR *d = opendir(dir);
	CHECK(d != NULL, "cannot open %s", dir);
	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));) {
		if (strncmp(de->d_name, "bundle-", 7) != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		json_object *b = json_object_from_file(path);
		CHECK(b != NULL, "%s: not JSON", path);
		if (!b || nbundles == (int)ARRAY_SIZE(bundles))
			continue;
		bundles[nbundles++] = b;
		check_bundle(b, de->d_name);
	}
	closedir(d);
}

static json_object *find(const char *type, const char *id)
{
	char key[256];
	snprintf(key, sizeof(key), "%s|%s", type, id);
	return hmap_gets(&by_key, key);
}

static PGresult *query(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	CHECK(PQresultStatus(r) == PGRES_TUPLES_OK, "query failed: %s", PQerrorMessage(c));
	return r;
}

static const char *col(PGresult *r, int row, int c)
{
	return PQgetisnull(r, row, c) ? NULL : PQgetvalue(r, row, c);
}

/* Every Patient against its row: MRN, PINFL, birth date, family name. */
static void check_patients(PGconn *c)
{
	PGresult *r = query(c, "SELECT patient_id::text, nullif(trim(pinfl), '00000000000000'), "
			       "CASE WHEN birth_date <> '1900-01-01' THEN birth_date::text END, "
			       "nullif(trim(last_name), '') FROM his.patients");
	for (int i = 0; i < PQntuples(r); i++) {
		const char *mrn = col(r, i, 0), *pinfl = col(r, i, 1), *born = col(r, i, 2),
			   *family = col(r, i, 3);
		json_object *p = find("Patient", mrn);
		CHECK(p != NULL, "patients:%s: no Patient with MRN identifier", mrn);
		if (!p)
			continue;
		const char *ni = ident(p, NI);
		CHECK(pinfl ? eq(ni, pinfl) : ni == NULL, "patients:%s: PINFL identifier %s", mrn,
		      ni ? "differs" : "missing");
		CHECK(born ? eq(str(p, "birthDate"), born) : get(p, "birthDate") == NULL,
		      "patients:%s: birthDate", mrn);
		CHECK(family ? eq(str(p, "name[0].family"), family) : true,
		      "patients:%s: family name", mrn);
	}
	PQclear(r);
}

/* Every Encounter against its visit: start time with +05:00, patient reference. */
static void check_encounters(PGconn *c)
{
	PGresult *r =
	    query(c, "SELECT visit_id::text, to_char(admitted_at, "
		     "'YYYY-MM-DD\"T\"HH24:MI:SS') || '+05:00', patient_id::text FROM his.visits");
	long found = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *id = col(r, i, 0), *start = col(r, i, 1), *mrn = col(r, i, 2);
		json_object *e = find("Encounter", id);
		bool rejected = eq(id, "5002") || eq(id, "5005") || eq(id, "5008");
		CHECK(rejected ? e == NULL : e != NULL, "visits:%s: Encounter %s", id,
		      rejected ? "present but the visit must be rejected" : "missing");
		if (!e)
			continue;
		found++;
		CHECK(eq(str(e, "actualPeriod.start"), start),
		      "visits:%s: start '%s', expected '%s'", id, str(e, "actualPeriod.start"),
		      start);
		CHECK(eq(str(e, "subject.identifier.value"), mrn) &&
			  eq(str(e, "subject.identifier.system"), MRN),
		      "visits:%s: subject does not name patient %s", id, mrn);
		CHECK(eq(str(e, "type[0].coding[0].system"),
			 "https://terminology.dhp.uz/fhir/core/CodeSystem/encounter-type-cs"),
		      "visits:%s: no national encounter type", id);
	}
	CHECK(found == counts[1], "Encounters: %ld matched visits, %ld in bundles", found,
	      counts[1]);
	PQclear(r);
}

static bool has_dar(json_object *o, const char *code)
{
	return eq(str(o, "extension[0].url"), DAR) && eq(str(o, "extension[0].valueCode"), code);
}

static void check_dirty_cases(void)
{
	json_object *p;
	CHECK((p = find("Patient", "904")) && eq(str(p, "gender"), "unknown"),
	      "patient 904: gender");
	CHECK((p = find("Patient", "905")) && !get(p, "gender"),
	      "patient 905: gender must be absent");
	CHECK((p = find("Patient", "907")) && eq(str(p, "gender"), "male"),
	      "patient 907: 'э' -> male");
	CHECK((p = find("Patient", "914")) && eq(str(p, "name[0].family"), "Ўринбоева") &&
		  eq(str(p, "gender"), "female"),
	      "patient 914: Uzbek Cyrillic name and gender");
	CHECK((p = find("Patient", "916")) && eq(str(p, "name[0].family"), "TOSHMATOV") &&
		  alen(get(p, "name[0].given")) == 1,
	      "patient 916: trimmed name, one given");
	CHECK((p = find("Patient", "901")) &&
		  eq(str(p, "identifier[0].system"),
		     "https://dhp.uz/fhir/core/sid/pid/uz/ppn/local") &&
		  eq(str(p, "identifier[0].type.coding[0].code"), "PPN"),
	      "patient 901: passport identifier first after compaction");
	CHECK((p = find("Patient", "902")) && alen(get(p, "identifier")) == 1,
	      "patient 902: MRN only");
	json_object *e = find("Encounter", "5001");
	CHECK(e && eq(str(e, "status"), "unknown"), "visit 5001: status unknown");
	/* DIRTY 8007: no measurement time -> DAR on effective[x] of each vital sign */
	int dar_vitals = 0;
	for (int b = 0; b < nbundles; b++) {
		json_object *entries = get(bundles[b], "entry");
		for (size_t i = 0; i < alen(entries); i++) {
			json_object *r = get(json_object_array_get_idx(entries, i), "resource");
			json_object *dar = get(r, "_effectiveDateTime");
			if (!dar)
				continue;
			CHECK(has_dar(dar, "unknown") && !get(r, "effectiveDateTime"),
			      "DAR on effective[x] malformed");
			const char *vid = str(r, "identifier[0].value");
			CHECK(vid && strncmp(vid, "8007/", 5) == 0, "unexpected DAR on vitals %s",
			      vid);
			dar_vitals++;
		}
	}
	CHECK(dar_vitals == 2, "vitals 8007: %d Observations with DAR on effective, expected 2",
	      dar_vitals);
}

static long num(json_object *rep, const char *k)
{
	json_object *v = get(rep, k);
	return v ? json_object_get_int64(v) : -1;
}

static void check_report(const char *path)
{
	json_object *rep = json_object_from_file(path);
	CHECK(rep != NULL, "cannot read report %s", path);
	if (!rep)
		return;
	long ex = num(rep, "extracted"), lo = num(rep, "loaded"), un = num(rep, "unchanged"),
	     rj = num(rep, "rejected");
	CHECK(ex == lo + un + rj, "counts do not add up: %ld != %ld + %ld + %ld", ex, lo, un, rj);
	CHECK(rj == 10, "rejected %ld, expected 10 (sql/README.md)", rj);
	CHECK(num(rep, "dar") == 2, "dar %ld, expected 2", num(rep, "dar"));
	json_object *by = get(rep, "dar_by_element"), *eff = NULL;
	CHECK(by && json_object_object_get_ex(by, "Observation.effective[x]", &eff) &&
		  json_object_get_int64(eff) == 2,
	      "dar_by_element lacks Observation.effective[x]: 2");
	CHECK(num(rep, "resources.Patient") == counts[0], "report Patient %ld vs bundles %ld",
	      num(rep, "resources.Patient"), counts[0]);
	CHECK(num(rep, "resources.Observation") == counts[2], "report Observation count");
	CHECK(num(rep, "bundles") == nbundles, "report bundles %ld vs files %d",
	      num(rep, "bundles"), nbundles);
	json_object_put(rep);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: golden_check OUTDIR REPORT CONNINFO\n");
		return 2;
	}
	load_bundles(argv[1]);
	CHECK(counts[0] == 309, "Patients: %ld, expected 309", counts[0]);
	PGconn *c = PQconnectdb(argv[3]);
	CHECK(PQstatus(c) == CONNECTION_OK, "cannot connect: %s", PQerrorMessage(c));
	if (PQstatus(c) == CONNECTION_OK) {
		check_patients(c);
		check_encounters(c);
	}
	PQfinish(c);
	check_dirty_cases();
	check_report(argv[2]);
	for (int b = 0; b < nbundles; b++)
		json_object_put(bundles[b]);
	hmap_clear(&by_key);
	printf("golden_check: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
