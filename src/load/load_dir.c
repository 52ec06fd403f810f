#include "core/dhp.h"
#include "core/fileio.h"
#include "load/load_dir.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

struct dirload {
	char *dir;
	int per_bundle;
	int records;	    /* records in the open bundle */
	int entries;	    /* entries in the open bundle */
	struct strbuf text; /* the open bundle's JSON, reused from bundle to bundle */
	long bundles, resources;
};

/* mkdir -p */
static int make_dirs(const char *dir, struct dhp_error *err)
{
	char *p = xstrdup(dir);
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0777) && errno != EEXIST) {
			dhp_fail(err, DHP_EIO, p, "cannot create directory: %s", strerror(errno));
			free(p);
			return -1;
		}
		if (!c)
			break;
		*s = c;
	}
	free(p);
	return 0;
}

static void remove_stale(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));) {
		size_t n = strlen(de->d_name);
		if (strncmp(de->d_name, "bundle-", 7) == 0 && n > 5 &&
		    streq(de->d_name + n - 5, ".json")) {
			char *path = fileio_join(dir, de->d_name);
			unlink(path);
			free(path);
		}
	}
	closedir(d);
}

struct dirload *dirload_open(const char *dir, int records_per_bundle, struct dhp_error *err)
{
	if (make_dirs(dir, err))
		return NULL;
	remove_stale(dir);
	struct dirload *dl = xcalloc(1, sizeof(*dl));
	dl->dir = xstrdup(dir);
	dl->per_bundle = records_per_bundle > 0 ? records_per_bundle : 50;
	strbuf_init(&dl->text, 512u << 20);
	return dl;
}

/* Bundles are written as text entry by entry: each resource is serialised
 * (and can be freed) as soon as its record is added, and the one text
 * buffer is reused, so no bundle-sized JSON tree or string is ever built. */
static int write_bundle(struct dirload *dl, struct dhp_error *err)
{
	if (!dl->records)
		return 0;
	strbuf_addstr(&dl->text, "\n  ]\n}\n");
	dl->records = 0;
	dl->entries = 0;
	dl->bundles++;
	char name[64], tmp[80];
	snprintf(name, sizeof(name), "bundle-%06ld.json", dl->bundles);
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	char *path = fileio_join(dl->dir, name), *tpath = fileio_join(dl->dir, tmp);
	FILE *f = fopen(tpath, "w");
	int rc = 0;
	if (dl->text.toobig)
		rc = dhp_fail(err, DHP_ELIMIT, path,
			      "bundle larger than the size cap; lower "
			      "records_per_bundle");
	else if (!f || fwrite(dl->text.buf, 1, dl->text.len, f) != dl->text.len || fclose(f)) {
		rc = dhp_fail(err, DHP_EIO, tpath, "cannot write bundle: %s", strerror(errno));
		f = NULL;
	} else if (rename(tpath, path)) {
		rc = dhp_fail(err, DHP_EIO, path, "cannot rename bundle: %s", strerror(errno));
	}
	if (f && rc)
		fclose(f);
	strbuf_reset(&dl->text);
	free(path);
	free(tpath);
	return rc;
}

int dirload_add(struct dirload *dl, const struct mapped *m, struct dhp_error *err)
{
	if (!dl->records)
		strbuf_addstr(&dl->text, "{\n  \"resourceType\": \"Bundle\",\n  \"type\": "
					 "\"transaction\",\n  \"entry\": [");
	for (int i = 0; i < m->n; i++) {
		const struct mapped_res *r = &m->res[i];
		char urn[64];
		snprintf(urn, sizeof(urn), "urn:uuid:%s", r->uuid);
		strbuf_addstr(&dl->text, dl->entries++ ? ",\n    " : "\n    ");
		strbuf_addf(&dl->text, "{ \"fullUrl\": \"urn:uuid:%s\", \"resource\": ", r->uuid);
		j_write(&dl->text, r->json);
		strbuf_addf(&dl->text, ", \"request\": { \"method\": \"POST\", \"url\": \"%s\"",
			    r->def->type);
		if (r->if_none_exist) {
			strbuf_addstr(&dl->text, ", \"ifNoneExist\": \"");
			strbuf_add_json_escaped(&dl->text, r->if_none_exist,
						strlen(r->if_none_exist));
			strbuf_addch(&dl->text, '"');
		}
		strbuf_addstr(&dl->text, " } }");
		dl->resources++;
	}
	if (++dl->records >= dl->per_bundle)
		return write_bundle(dl, err);
	return 0;
}

int dirload_finish(struct dirload *dl, struct dhp_error *err)
{
	return write_bundle(dl, err);
}

void dirload_free(struct dirload *dl)
{
	if (!dl)
		return;
	strbuf_release(&dl->text);
	free(dl->dir);
	free(dl);
}

long dirload_bundles(const struct dirload *dl)
{
	return dl->bundles;
}

long dirload_resources(const struct dirload *dl)
{
	return dl->resources;
}
