/*
 * conf.h: the job file (INI syntax, parsed with libinih), documented in
 * dhp-import.conf(5).
 *
 *   [source]   type = pg | hl7v2; db = CONNINFO; since = WATERMARK;
 *              files = GLOB...; charset = NAME (hl7v2)
 *   [mapping]  dir, profiles, terminology, timezone
 *   [output]   dir, records_per_bundle, rejects, report
 *   [target]   base, token_url, client_id, client_secret_file, client_secret_env,
 *              scope, token_style, ca_file, timeout, concurrency, max_attempts,
 *              max_failures, state, authorize_url, redirect_port, token_cache
 *
 * Unknown sections or keys and malformed values are errors naming
 * FILE:LINE. Relative paths are taken relative to the job file's directory,
 * so a job directory can be moved as a whole. The struct is filled once and
 * read-only afterwards; command-line options override it field by field.
 */
#ifndef DHP_CONF_H
#define DHP_CONF_H

#include "core/err.h"

struct job_conf {
	char *file; /* the job file, or NULL in zero-config mode */
	/* [source] */
	char *source_type; /* "pg" or "hl7v2" */
	char *db;	   /* conninfo / URI; NULL = PG* environment */
	char *since;	   /* watermark text or NULL */
	char *charset;	   /* hl7v2: overrides MSH-18, or NULL */
	char *unmapped;	   /* hl7v2: "reject" (default) or "skip" message types no table maps */
	char **files;	   /* hl7v2: input files (job file globs expanded, or argv) */
	int nfiles;
	/* [mapping] */
	char *mappings;
	char *profiles;
	char *terminology;
	char *timezone;
	/* [output] */
	char *out_dir;
	int records_per_bundle; /* 0 = by source: 50 for pg, 1 for hl7v2 (a message is
				   its own transaction, as the sender meant it) */
	char *rejects;
	char *report;
	/* [target] (run without --dry-run) */
	char *base;
	char *token_url;
	char *client_id;
	char *client_secret_file;
	char *client_secret_env; /* default DHP_CLIENT_SECRET */
	char *scope;
	char *token_style; /* form | json | ehealth */
	char *ca_file;
	char *state;
	int timeout;
	int concurrency;
	int max_attempts;
	int max_failures;
	char *authorize_url; /* login: the authorization endpoint */
	int redirect_port;   /* login: fixed port of the redirect; 0 = any free port */
	char *token_cache;   /* login's tokens; NULL = $XDG_CACHE_HOME/dhp-import/token.json */
};

/* Defaults: pg, Asia/Tashkent, 50 records per bundle; paths NULL. */
void conf_init(struct job_conf *c);
/* Parse a job file over the current values. 0 or -1 with *err at FILE:LINE. */
int conf_load(struct job_conf *c, const char *path, struct dhp_error *err);
/* Add input files (taking copies). */
void conf_add_file(struct job_conf *c, const char *path);
/* Set one key ("section.key" form, e.g. "output.dir") from a string value;
 * relative paths are kept as given (command-line values are cwd-relative). */
int conf_set(struct job_conf *c, const char *section, const char *key, const char *value,
	     const char *base_dir, struct dhp_error *err, const char *where);
void conf_free(struct job_conf *c);

#endif
