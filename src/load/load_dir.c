#include "core/dhp.h"
#include "core/fileio.h"
#include "load/load_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

/* "bundle-000042.json" and ".bundle-000042.json.tmp" (%06ld, without a
 * printf per file: with one record per bundle there is one file per record). */
static void bundle_names(long no, char name[32], char tmp[40])
{
	char digits[24];
	size_t k = 0, n = 0;
	unsigned long v = (unsigned long)no;
	do {
		digits[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (k < 6)
		digits[k++] = '0';
	memcpy(name, "bundle-", 7);
	n = 7;
	while (k)
		name[n++] = digits[--k];
	memcpy(name + n, ".json", 6);
	tmp[0] = '.';
	memcpy(tmp + 1, name, n + 5);
	memcpy(tmp + 1 + n + 5, ".tmp", 5);
}

/* Write all of buf to fd, retrying short writes; -1 with errno on failure. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Bundles are written as text entry by entry: each resource is serialised
 * (and can be freed) as soon as its record is added, and the one text
 * buffer is reused, so no bundle-sized JSON tree or string is ever built.
 * The file gets the whole text in one write(2): stdio would only copy it
 * into its buffer first and write it in pieces. */
static int write_bundle(struct dirload *dl, struct dhp_error *err)
{
	if (!dl->records)
		return 0;
	strbuf_addstr(&dl->text, "\n  ]\n}\n");
	dl->records = 0;
	dl->entries = 0;
	dl->bundles++;
	char name[32], tmp[40];
	bundle_names(dl->bundles, name, tmp);
	char *path = fileio_join(dl->dir, name), *tpath = fileio_join(dl->dir, tmp);
	int fd = open(tpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	int rc = 0;
	if (dl->text.toobig) {
		rc = dhp_fail(err, DHP_ELIMIT, path,
			      "bundle larger than the size cap; lower "
			      "records_per_bundle");
	} else if (fd < 0 || write_all(fd, dl->text.buf, dl->text.len)) {
		rc = dhp_fail(err, DHP_EIO, tpath, "cannot write bundle: %s", strerror(errno));
	} else {
		int closed = close(fd);
		fd = -1;
		if (closed)
			rc = dhp_fail(err, DHP_EIO, tpath, "cannot write bundle: %s",
				      strerror(errno));
		else if (rename(tpath, path))
			rc = dhp_fail(err, DHP_EIO, path, "cannot rename bundle: %s",
				      strerror(errno));
	}
	if (fd >= 0)
		close(fd);
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
		strbuf_addstr(&dl->text, dl->entries++ ? ",\n    " : "\n    ");
		strbuf_addstr(&dl->text, "{ \"fullUrl\": \"urn:uuid:");
		strbuf_addstr(&dl->text, r->uuid);
		strbuf_addstr(&dl->text, "\", \"resource\": ");
		j_write(&dl->text, r->json);
		strbuf_addstr(&dl->text, ", \"request\": { \"method\": \"POST\", \"url\": \"");
		strbuf_addstr(&dl->text, r->def->type);
		strbuf_addch(&dl->text, '"');
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
