/*
 * fuzz_maptable.c: libFuzzer target for the mapping-table parser and checker.
 *
 * Each input becomes the only .map file of a scratch mapping directory
 * (beside a tiny query file and a code table) and is loaded against the
 * shipped UZ Core profile tables (a handful of them, copied once) and a small datatype
 * library, so parsing, datatype expansion, path resolution, transform typing and code-table
 * loading all see hostile text.
 */
#include "core/dhp.h"
#include "core/fileio.h"
#include "map/maptable.h"

#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/dhp-fuzz-map.XXXXXX";
static char *map_path;

static void put(const char *name, const void *text, size_t len)
{
	char *p = fileio_join(dir, name);
	FILE *f = fopen(p, "w");
	if (f) {
		fwrite(text, 1, len, f);
		fclose(f);
	}
	free(p);
}

static bool setup(void)
{
	if (map_path)
		return true;
	if (!mkdtemp(dir))
		return false;
	char *codes = fileio_join(dir, "codes");
	if (mkdir(codes, 0700)) {
		free(codes);
		return false;
	}
	free(codes);
	put("q.sql", "SELECT 1 AS id\n", 15);
	/* A few profile tables only: loading all of them would dominate each run. */
	static const char *const tabs[] = {"datatypes",		"uz-core-patient",
					   "uz-core-encounter", "uz-core-observation",
					   "uz-core-condition", "vitalsigns-bodytemp"};
	char *pdir = fileio_join(dir, "profiles");
	if (mkdir(pdir, 0700)) {
		free(pdir);
		return false;
	}
	free(pdir);
	for (size_t i = 0; i < ARRAY_SIZE(tabs); i++) {
		char src[512], dst[128];
		snprintf(src, sizeof(src), "%s/mappings/profiles/%s.tsv", DHP_SOURCE_DIR, tabs[i]);
		snprintf(dst, sizeof(dst), "profiles/%s.tsv", tabs[i]);
		struct dhp_error err = DHP_ERROR_INIT;
		size_t len;
		char *text = fileio_read(src, &len, &err);
		if (!text)
			return false;
		put(dst, text, len);
		free(text);
	}
	put("codes/g.csv", "source,target,system,display\nM,male,s,Male\n*,unknown,s,\n", 56);
	/* a datatype library beside the input, so that rows using xpn, cwe, nm
	 * expand (the input may be a library itself as well) */
	static const char lib[] = "@datatype XPN HumanName\n"
				  ".family  .1.1  trim\n"
				  ".given[0]  .2\n"
				  ".use  .7  code(g)\n"
				  "@datatype CWE CodeableConcept\n"
				  ".coding[0]  -  when(.1)\n"
				  ".coding[0].code  .1\n"
				  ".text  .9.2\n"
				  "@datatype NM Quantity\n"
				  ".  -  when(.)\n"
				  ".value  .  decimal\n"
				  ".unit  $1.2  default($1)\n";
	put("dt.map", lib, sizeof(lib) - 1);
	map_path = fileio_join(dir, "t.map");
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!setup())
		return 0;
	put("t.map", data, size);
	char profiles[64];
	snprintf(profiles, sizeof(profiles), "%s/profiles", dir);
	struct mapset_paths mp = {dir, profiles, NULL};
	struct mapset ms;
	struct dhp_error err = DHP_ERROR_INIT;
	if (mapset_load(&ms, &mp, &err) != 0 && !err.msg[0])
		abort(); /* a failure must always say why */
	mapset_free(&ms);
	return 0;
}
