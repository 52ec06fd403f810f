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
	json_object *entry; /* entries of the open bundle */
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
	return dl;
}

static int write_bundle(struct dirload *dl, struct dhp_error *err)
{
	if (!dl->entry)
		return 0;
	json_object *b = json_object_new_object();
	json_object_object_add(b, "resourceType", json_object_new_string("Bundle"));
	json_object_object_add(b, "type", json_object_new_string("transaction"));
	json_object_object_add(b, "entry", dl->entry);
	dl->entry = NULL;
	dl->records = 0;
	dl->bundles++;
	char name[64], tmp[80];
	snprintf(name, sizeof(name), "bundle-%06ld.json", dl->bundles);
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	char *path = fileio_join(dl->dir, name), *tpath = fileio_join(dl->dir, tmp);
	size_t len;
	const char *text = json_object_to_json_string_length(
	    b, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE,
	    &len);
	FILE *f = fopen(tpath, "w");
	int rc = 0;
	if (!f || fwrite(text, 1, len, f) != len || fputc('\n', f) == EOF || fclose(f)) {
		rc = dhp_fail(err, DHP_EIO, tpath, "cannot write bundle: %s", strerror(errno));
		if (f)
			fclose(f);
	} else if (rename(tpath, path)) {
		rc = dhp_fail(err, DHP_EIO, path, "cannot rename bundle: %s", strerror(errno));
	}
	json_object_put(b);
	free(path);
	free(tpath);
	return rc;
}

int dirload_add(struct dirload *dl, const struct mapped *m, struct dhp_error *err)
{
	if (!dl->entry)
		dl->entry = json_object_new_array();
	for (int i = 0; i < m->n; i++) {
		const struct mapped_res *r = &m->res[i];
		char urn[64];
		snprintf(urn, sizeof(urn), "urn:uuid:%s", r->uuid);
		json_object *e = json_object_new_object(), *req = json_object_new_object();
		json_object_object_add(e, "fullUrl", json_object_new_string(urn));
		json_object_object_add(e, "resource", json_object_get(r->json));
		json_object_object_add(req, "method", json_object_new_string("POST"));
		json_object_object_add(req, "url", json_object_new_string(r->def->type));
		if (r->if_none_exist)
			json_object_object_add(req, "ifNoneExist",
					       json_object_new_string(r->if_none_exist));
		json_object_object_add(e, "request", req);
		json_object_array_add(dl->entry, e);
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
	json_object_put(dl->entry);
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
