#include "core/dhp.h"
#include "core/conf.h"
#include "core/fileio.h"

#include <errno.h>
#include <glob.h>
#include <ini.h>
#include <limits.h>

void conf_init(struct job_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->source_type = xstrdup("pg");
	c->timezone = xstrdup("Asia/Tashkent");
	c->records_per_bundle = 0; /* by source: 50 rows, or 1 HL7 message (conf.h) */
}

void conf_free(struct job_conf *c)
{
	char **tstrs[] = {&c->base,
			  &c->token_url,
			  &c->client_id,
			  &c->client_secret_file,
			  &c->client_secret_env,
			  &c->scope,
			  &c->token_style,
			  &c->ca_file,
			  &c->state,
			  &c->authorize_url,
			  &c->token_cache};
	for (size_t i = 0; i < ARRAY_SIZE(tstrs); i++)
		free(*tstrs[i]);
	for (int i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	free(c->charset);
	free(c->unmapped);
	char **strs[] = {&c->file,     &c->source_type, &c->db,		 &c->since,
			 &c->mappings, &c->profiles,	&c->terminology, &c->timezone,
			 &c->out_dir,  &c->rejects,	&c->report};
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		free(*strs[i]);
	memset(c, 0, sizeof(*c));
}

enum kind { STR, PATH, INT, GLOB, PORT };

struct key_def {
	const char *section, *key;
	enum kind kind;
	size_t offset;
};

#define F(field) offsetof(struct job_conf, field)
static const struct key_def keys[] = {
    {"source", "type", STR, F(source_type)},
    {"source", "db", STR, F(db)},
    {"source", "since", STR, F(since)},
    {"source", "charset", STR, F(charset)},
    {"source", "unmapped", STR, F(unmapped)},
    {"source", "files", GLOB, 0},
    {"mapping", "dir", PATH, F(mappings)},
    {"mapping", "profiles", PATH, F(profiles)},
    {"mapping", "terminology", PATH, F(terminology)},
    {"mapping", "timezone", STR, F(timezone)},
    {"output", "dir", PATH, F(out_dir)},
    {"output", "records_per_bundle", INT, F(records_per_bundle)},
    {"output", "rejects", PATH, F(rejects)},
    {"output", "report", PATH, F(report)},
    {"target", "base", STR, F(base)},
    {"target", "token_url", STR, F(token_url)},
    {"target", "client_id", STR, F(client_id)},
    {"target", "client_secret_file", PATH, F(client_secret_file)},
    {"target", "client_secret_env", STR, F(client_secret_env)},
    {"target", "scope", STR, F(scope)},
    {"target", "token_style", STR, F(token_style)},
    {"target", "ca_file", PATH, F(ca_file)},
    {"target", "state", PATH, F(state)},
    {"target", "timeout", INT, F(timeout)},
    {"target", "concurrency", INT, F(concurrency)},
    {"target", "max_attempts", INT, F(max_attempts)},
    {"target", "max_failures", INT, F(max_failures)},
    {"target", "authorize_url", STR, F(authorize_url)},
    {"target", "redirect_port", PORT, F(redirect_port)},
    {"target", "token_cache", PATH, F(token_cache)},
};

void conf_add_file(struct job_conf *c, const char *path)
{
	c->files = xrealloc(c->files, (size_t)(c->nfiles + 1) * sizeof(*c->files));
	c->files[c->nfiles++] = xstrdup(path);
}

/* files = a.hl7 exports/day-1.hl7 ...: space-separated glob patterns, relative
 * to the job file. */
static int add_glob(struct job_conf *c, const char *value, const char *base_dir,
		    struct dhp_error *err, const char *where)
{
	char *copy = xstrdup(value), *save = NULL;
	int rc = 0;
	for (char *tok = strtok_r(copy, " \t", &save); tok && rc == 0;
	     tok = strtok_r(NULL, " \t", &save)) {
		char *pattern = fileio_join(base_dir, tok);
		glob_t g;
		int r = glob(pattern, GLOB_NOCHECK | GLOB_BRACE, NULL, &g);
		if (r == 0)
			for (size_t i = 0; i < g.gl_pathc; i++)
				conf_add_file(c, g.gl_pathv[i]);
		else
			rc = dhp_fail(err, DHP_ECONFIG, where, "cannot expand files '%s'", tok);
		if (r == 0)
			globfree(&g);
		free(pattern);
	}
	free(copy);
	return rc;
}

int conf_set(struct job_conf *c, const char *section, const char *key, const char *value,
	     const char *base_dir, struct dhp_error *err, const char *where)
{
	const struct key_def *d = NULL;
	bool section_known = false;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		section_known |= streq(keys[i].section, section);
		if (streq(keys[i].section, section) && streq(keys[i].key, key))
			d = &keys[i];
	}
	if (!section_known)
		return dhp_fail(err, DHP_ECONFIG, where,
				"unknown section '[%s]' (expected [source], [mapping], [output] or "
				"[target])",
				section);
	if (!d)
		return dhp_fail(err, DHP_ECONFIG, where, "unknown key '%s' in section [%s]", key,
				section);
	char *base = (char *)c;
	if (d->kind == INT) {
		char *end;
		long v = strtol(value, &end, 10);
		if (!*value || *end || v < 1 || v > 10000)
			return dhp_fail(err, DHP_ECONFIG, where,
					"%s must be a whole number from 1 to 10000, found '%s'",
					key, value);
		*(int *)(base + d->offset) = (int)v;
		return 0;
	}
	if (d->kind == PORT) {
		char *end;
		long v = strtol(value, &end, 10);
		if (!*value || *end || v < 1 || v > 65535)
			return dhp_fail(err, DHP_ECONFIG, where,
					"%s must be a TCP port from 1 to 65535, found '%s'", key,
					value);
		*(int *)(base + d->offset) = (int)v;
		return 0;
	}
	if (d->kind == GLOB)
		return add_glob(c, value, base_dir, err, where);
	char **slot = (char **)(base + d->offset);
	free(*slot);
	*slot = d->kind == PATH ? fileio_join(base_dir, value) : xstrdup(value);
	if (streq(key, "type") && !streq(value, "pg") && !streq(value, "hl7v2"))
		return dhp_fail(err, DHP_ECONFIG, where,
				"unsupported source type '%s' (expected pg or hl7v2)", value);
	return 0;
}

struct parse_ctx {
	struct job_conf *c;
	const char *path;
	char *dir;
	struct dhp_error *err;
	FILE *f;
	int line; /* line last handed to libinih */
	bool failed;
};

/* Debian's libinih calls handlers without a line number, so we feed it
 * line by line ourselves and know where each key came from. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_ctx *p = stream;
	char *r = fgets(str, num, p->f);
	if (r)
		p->line++;
	return r;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *p = user;
	if (p->failed)
		return 0;
	char where[256];
	snprintf(where, sizeof(where), "%s:%d", p->path, p->line);
	if (conf_set(p->c, section, name, value ? value : "", p->dir, p->err, where)) {
		p->failed = true;
		return 0;
	}
	return 1;
}

int conf_load(struct job_conf *c, const char *path, struct dhp_error *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return dhp_fail(err, DHP_EIO, path, "cannot open job file: %s", strerror(errno));
	struct parse_ctx p = {c, path, fileio_dirname(path), err, f, 0, false};
	int line = ini_parse_stream(read_line, &p, on_key, &p);
	fclose(f);
	free(p.dir);
	free(c->file);
	c->file = xstrdup(path);
	if (p.failed)
		return -1;
	if (line > 0) {
		char where[256];
		snprintf(where, sizeof(where), "%s:%d", path, line);
		return dhp_fail(err, DHP_ECONFIG, where,
				"expected '[section]' or 'key = value', found something else");
	}
	return 0;
}
