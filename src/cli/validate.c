/*
 * validate.c: `validate` and `run --dry-run`: everything but the send.
 *
 * All sources are opened and bound to their mapping tables before the first
 * record is read, so a configuration problem (an unknown column, say) stops
 * the run before any output. A data problem rejects that record only.
 */
#include "core/dhp.h"
#include "core/fileio.h"
#include "core/log.h"
#include "cli/cli.h"
#include "cli/report.h"
#include "extract/extract_hl7.h"
#include "extract/extract_pg.h"
#include "load/load_dir.h"
#include "load/load_http.h"
#include "load/login.h"
#include "map/conv.h"
#include "map/map.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resolve defaults and check that what validate needs is there. */
static int prepare_paths(struct job_conf *c, struct mapset_paths *mp, struct dhp_error *err)
{
	bool hl7 = streq(c->source_type, "hl7v2");
	if (!c->mappings && hl7)
		c->mappings = cli_default_dir("mappings/hl7v2"); /* the shipped HL7v2 mappings */
	if (!c->mappings)
		return dhp_fail(err, DHP_ECONFIG, c->file,
				"no mapping tables: give --mappings DIR or [mapping] dir");
	if (!c->profiles)
		c->profiles = cli_default_dir("mappings/profiles");
	if (!c->terminology)
		c->terminology = cli_default_dir("mappings/terminology");
	if (!c->profiles)
		return dhp_fail(err, DHP_ECONFIG, c->file,
				"cannot find the UZ Core profile tables: give --profiles DIR");
	if (!conv_tz_valid(c->timezone))
		return dhp_fail(
		    err, DHP_ECONFIG, c->file,
		    "unknown time zone '%s' (expected an IANA name such as Asia/Tashkent)",
		    c->timezone);
	if (c->since) {
		char why[CONV_WHY_MAX];
		struct strbuf sb = STRBUF_INIT;
		int bad = conv_datetime(c->since, strlen(c->since), c->timezone, &sb, why);
		strbuf_release(&sb);
		if (bad)
			return dhp_fail(err, DHP_ECONFIG, c->file, "watermark (since): %s", why);
	}
	mp->mappings = c->mappings;
	mp->profiles = c->profiles;
	mp->terminology = c->terminology;
	return 0;
}

static void progress(const struct report *r, const char *table, double t0, bool final)
{
	double dt = now() - t0;
	fprintf(stderr, "\r%-12s %10ld records  %8ld rejected  %9.0f rec/s%s", table, r->extracted,
		r->rejected, dt > 0 ? (double)r->extracted / dt : 0.0, final ? "\n" : "");
	fflush(stderr);
}

struct run {
	struct cli_opts *o;
	struct mapset ms;
	struct pgx *db;
	struct source **src;
	struct dirload *dl;
	struct httpload *hl; /* run: the DHP loader instead of dl */
	struct map_ctx ctx;
	struct mapped m;
	struct report rep;
	double t0;
};

static int open_sources(struct run *R, struct dhp_error *err)
{
	R->src = xcalloc((size_t)R->ms.nstreams, sizeof(*R->src));
	R->rep.streams = xcalloc((size_t)R->ms.nstreams, sizeof(*R->rep.streams));
	for (int i = 0; i < R->ms.nstreams; i++) {
		struct mstream *st = &R->ms.streams[i];
		R->rep.streams[i].table = xstrdup(st->table);
		R->rep.nstreams++;
		struct job_conf *c = &R->o->conf;
		if (st->by_message != streq(c->source_type, "hl7v2")) {
			dhp_fail(
			    err, DHP_ECONFIG, st->key_file, "%s tables cannot read a %s source",
			    st->by_message ? "@message (HL7v2)" : "@query (SQL)", c->source_type);
			return EXIT_USAGE;
		}
		if (st->by_message)
			R->src[i] = hl7src_open(c->files, c->nfiles, c->charset, err);
		else
			R->src[i] = pgx_open(R->db, st->query_file, st->table, c->since, err);
		if (!R->src[i])
			return EXIT_FAIL;
		if (mstream_bind(st, R->src[i], err))
			return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Extract, map and write one stream; -1 when the source fails. */
static int run_stream(struct run *R, int i, struct dhp_error *err)
{
	struct mstream *st = &R->ms.streams[i];
	struct stream_count *sc = &R->rep.streams[i];
	struct dhp_error why = DHP_ERROR_INIT;
	int got;
	while ((got = source_next(R->src[i], &why)) >= 1) {
		R->rep.extracted++;
		sc->extracted++;
		R->m.key[0] = '\0';
		if (got == 1 && map_record(&R->ctx, st, R->src[i], &R->m, &why) == 0) {
			if (R->hl ? httpload_add(R->hl, &R->m, st->table, err)
				  : dirload_add(R->dl, &R->m, err))
				return -1;
			if (!R->hl) { /* the loader counts what the server confirms */
				R->rep.loaded++;
				sc->loaded++;
			}
		} else {
			const char *key = R->m.key[0] ? R->m.key : "";
			if (report_reject(&R->rep, st->table, key, &why, err))
				return -1;
			log_msg(LOG_DEBUG, why.where, "rejected: %s", why.msg);
			R->rep.rejected++;
			sc->rejected++;
		}
		if (R->o->progress && (R->rep.extracted & 1023) == 0)
			progress(&R->rep, st->table, R->t0, false);
	}
	/* the next stream may refer to this one's resources: wait until loaded */
	if (got >= 0 && R->hl && httpload_barrier(R->hl, err))
		return -1;
	if (R->o->progress)
		progress(&R->rep, st->table, R->t0, true);
	if (got < 0)
		*err = why;
	return got < 0 ? -1 : 0;
}

static int finish(struct run *R, int status)
{
	struct job_conf *c = &R->o->conf;
	struct dhp_error err = DHP_ERROR_INIT;
	R->rep.seconds = now() - R->t0;
	R->rep.stats = &R->ctx.stats;
	R->rep.skipped = R->ctx.skipped;
	if (R->dl) {
		R->rep.bundles = dirload_bundles(R->dl);
		R->rep.resources = dirload_resources(R->dl);
	}
	if (R->hl) {
		const struct httpload_counts *hc = httpload_counts(R->hl);
		R->rep.loaded = hc->loaded;
		R->rep.unchanged = hc->unchanged;
		R->rep.rejected += hc->rejected;
		R->rep.created = hc->created;
		R->rep.updated = hc->updated;
		R->rep.same = hc->same;
		R->rep.requests = hc->requests;
		R->rep.retries = hc->retries;
		R->rep.tokens = hc->tokens;
		R->rep.target = R->o->conf.base;
	}
	if (R->rep.rejects)
		fflush(R->rep.rejects);
	if (!R->o->quiet && (R->dl || R->hl))
		report_summary(&R->rep, stdout);
	if (c->report && report_write_json(&R->rep, c->report, &err)) {
		log_error(&err);
		status = EXIT_FAIL;
	}
	if (status == EXIT_OK && R->rep.rejected)
		status = EXIT_REJECTS;
	for (int i = 0; R->src && i < R->ms.nstreams; i++)
		source_close(R->src[i]);
	free(R->src);
	pgx_disconnect(R->db);
	dirload_free(R->dl);
	httpload_free(R->hl);
	mapped_free(&R->m);
	map_ctx_release(&R->ctx);
	mapset_free(&R->ms);
	report_free(&R->rep);
	return status;
}

static void on_server_reject(void *ctx, const char *table, const char *key,
			     const struct dhp_error *why)
{
	struct run *R = ctx;
	struct dhp_error err = DHP_ERROR_INIT;
	log_msg(LOG_DEBUG, why->where, "rejected by the server: %s", why->msg);
	if (report_reject(&R->rep, table, key, why, &err))
		log_error(&err);
}

/* OAuth2 settings from [target]; 0 or -1 with *err (a configuration problem).
 * With a client secret (file or environment): client_credentials. Without
 * one, the token cache of `dhp-import login`, when there is one. */
static int target_auth(struct job_conf *c, struct oauth *auth, struct dhp_error *err)
{
	memset(auth, 0, sizeof(*auth));
	if (!c->token_url || !c->client_id)
		return dhp_fail(err, DHP_ECONFIG, c->file,
				"no OAuth2 client: give --token-url and --client-id (or [target] "
				"token_url, client_id)");
	int style = oauth_style_parse(c->token_style);
	if (style < 0)
		return dhp_fail(err, DHP_ECONFIG, c->file,
				"token_style must be form, json or ehealth, found '%s'",
				c->token_style);
	auth->style = (enum oauth_style)style;
	auth->token_url = xstrdup(c->token_url);
	auth->client_id = xstrdup(c->client_id);
	auth->scope = c->scope ? xstrdup(c->scope) : NULL;
	const char *env = c->client_secret_env ? c->client_secret_env : "DHP_CLIENT_SECRET";
	const char *val = getenv(env);
	if (!c->client_secret_file && !(val && *val)) {
		char *cache = c->token_cache ? xstrdup(c->token_cache) : login_cache_default();
		if (cache && access(cache, F_OK) == 0) {
			int rc = oauth_use_cache(auth, cache, err);
			free(cache);
			return rc;
		}
		free(cache);
	}
	return oauth_load_secret(auth, c->client_secret_file, env, err);
}

/* The DHP loader from [target]: gets a token, reads /metadata. NULL and
 * *err on failure (nothing has been sent); *status says which exit. */
static struct httpload *open_loader(struct run *R, int *status, struct dhp_error *err)
{
	struct job_conf *c = &R->o->conf;
	struct oauth auth;
	*status = EXIT_USAGE;
	if (!c->base) {
		dhp_fail(err, DHP_ECONFIG, c->file,
			 "run needs --base URL (or [target] base); use --dry-run to only validate");
		return NULL;
	}
	if (target_auth(c, &auth, err)) {
		oauth_free(&auth);
		return NULL;
	}
	size_t bl = strlen(c->base);
	while (bl && c->base[bl - 1] == '/')
		c->base[--bl] = '\0';
	struct httpload_opts lo = {
	    .base = c->base,
	    .ca_file = c->ca_file,
	    .timeout_s = c->timeout,
	    .records_per_bundle = c->records_per_bundle,
	    .max_attempts = c->max_attempts,
	    .max_failures = c->max_failures,
	    .reject = on_server_reject,
	    .reject_ctx = R,
	};
	*status = EXIT_FAIL;
	struct httpload *hl = httpload_open(&lo, &auth, err);
	oauth_free(&auth);
	return hl;
}

int cmd_token(struct cli_opts *o)
{
	struct dhp_error err = DHP_ERROR_INIT;
	struct oauth auth;
	if (target_auth(&o->conf, &auth, &err)) {
		log_error(&err);
		oauth_free(&auth);
		return EXIT_USAGE;
	}
	struct http *h = http_new(o->conf.ca_file, o->conf.timeout);
	const char *token;
	bool fatal;
	int rc = oauth_bearer(&auth, h, &token, &fatal, &err);
	if (rc)
		log_error(&err);
	else if (!o->quiet && auth.cache_file) /* never the token itself: it is a credential */
		printf("%s: token of the login of client '%s' (%s), valid about %ld s\n",
		       auth.token_url, auth.client_id,
		       auth.fetched ? "renewed, saved" : "from the token cache",
		       (long)(auth.expires_real - time(NULL)));
	else if (!o->quiet)
		printf("%s: token for client '%s' received, valid about %ld s\n", auth.token_url,
		       auth.client_id, (long)(auth.expires_real - time(NULL)));
	http_free(h);
	oauth_free(&auth);
	return rc ? EXIT_FAIL : EXIT_OK;
}

/* DHP_LOGIN_TIMEOUT: seconds to wait for the browser (default 300). */
static int login_wait(struct dhp_error *err)
{
	const char *v = getenv("DHP_LOGIN_TIMEOUT");
	if (!v || !*v)
		return 300;
	char *end;
	long s = strtol(v, &end, 10);
	if (*end || s < 1 || s > 86400)
		return dhp_fail(err, DHP_ECONFIG, "DHP_LOGIN_TIMEOUT",
				"must be a number of seconds from 1 to 86400, found '%s'", v);
	return (int)s;
}

int cmd_login(struct cli_opts *o)
{
	struct job_conf *c = &o->conf;
	struct dhp_error err = DHP_ERROR_INIT;
	struct oauth auth;
	memset(&auth, 0, sizeof(auth));
	int wait_s = login_wait(&err);
	char *cache = c->token_cache ? xstrdup(c->token_cache) : login_cache_default();
	int style = oauth_style_parse(c->token_style);
	if (wait_s < 0) {
		/* err is set */
	} else if (!c->authorize_url || !c->token_url || !c->client_id) {
		dhp_fail(&err, DHP_ECONFIG, c->file,
			 "login needs --authorize-url, --token-url and --client-id (or [target] "
			 "authorize_url, token_url, client_id)");
	} else if (style < 0) {
		dhp_fail(&err, DHP_ECONFIG, c->file,
			 "token_style must be form, json or ehealth, found '%s'", c->token_style);
	} else if (!cache) {
		dhp_fail(&err, DHP_ECONFIG, c->file,
			 "no place for the tokens: give --token-cache FILE (or [target] "
			 "token_cache); neither XDG_CACHE_HOME nor HOME is set");
	}
	const char *env = c->client_secret_env ? c->client_secret_env : "DHP_CLIENT_SECRET";
	const char *val = getenv(env);
	/* a public client has no secret; a confidential one sends it */
	if (!err.msg[0] && (c->client_secret_file || (val && *val)))
		oauth_load_secret(&auth, c->client_secret_file, env, &err);
	if (err.msg[0]) {
		log_error(&err);
		free(cache);
		oauth_free(&auth);
		return EXIT_USAGE;
	}
	auth.style = (enum oauth_style)style;
	auth.token_url = xstrdup(c->token_url);
	auth.client_id = xstrdup(c->client_id);
	struct login_opts lo = {
	    .authorize_url = c->authorize_url,
	    .scope = c->scope,
	    .cache_file = cache,
	    .ca_file = c->ca_file,
	    .http_timeout_s = c->timeout,
	    .port = c->redirect_port,
	    .wait_s = wait_s,
	    .open_browser = true,
	    .out = stdout,
	};
	int rc = login_run(&lo, &auth, &err);
	if (rc)
		log_error(&err);
	else if (!o->quiet) /* never the tokens themselves */
		printf("%s: logged in as client '%s'; tokens saved to %s (access token valid "
		       "about %ld s%s)\n",
		       auth.token_url, auth.client_id, cache,
		       (long)(auth.expires_real - time(NULL)),
		       auth.refresh_token ? ", renewable" : "");
	free(cache);
	oauth_free(&auth);
	return rc ? EXIT_FAIL : EXIT_OK;
}

/* Stop the run: log the error, keep it for the report, clean up. */
static int stop(struct run *R, int status, const struct dhp_error *err)
{
	log_error(err);
	if (!R->rep.failure)
		R->rep.failure = xstrdup(err->msg);
	return finish(R, status);
}

int cmd_validate(struct cli_opts *o)
{
	struct run R = {.o = o};
	struct job_conf *c = &o->conf;
	struct dhp_error err = DHP_ERROR_INIT;
	struct mapset_paths mp;
	R.t0 = now();
	R.rep.command = o->command;
	map_ctx_init(&R.ctx, c->timezone);
	if (!c->records_per_bundle)
		c->records_per_bundle = streq(c->source_type, "hl7v2") ? 1 : 50;
	if (c->unmapped && !streq(c->unmapped, "reject") && !streq(c->unmapped, "skip")) {
		dhp_fail(&err, DHP_ECONFIG, c->file, "unmapped must be reject or skip, found '%s'",
			 c->unmapped);
		return stop(&R, EXIT_USAGE, &err);
	}
	R.ctx.skip_unmapped = c->unmapped && streq(c->unmapped, "skip");
	if (!c->out_dir && !o->load) {
		dhp_fail(&err, DHP_ECONFIG, c->file,
			 "no output directory: give --out DIR or [output] dir");
		return stop(&R, EXIT_USAGE, &err);
	}
	if (prepare_paths(c, &mp, &err) || mapset_load(&R.ms, &mp, &err)) {
		return stop(&R, EXIT_USAGE, &err);
	}
	if (!c->rejects)
		c->rejects = fileio_join(c->out_dir ? c->out_dir : ".", "rejects.jsonl");
	unlink(c->rejects); /* a reject file always belongs to the latest run */
	R.rep.rejects_path = c->rejects;
	R.rep.out_dir = c->out_dir;
	int lstatus = EXIT_FAIL;
	/* Credentials first: a refused token stops the run before anything is read. */
	if (o->load &&
	    (report_open_rejects(&R.rep, &err) || !(R.hl = open_loader(&R, &lstatus, &err))))
		return stop(&R, lstatus, &err);
	if (streq(c->source_type, "hl7v2")) {
		if (!c->nfiles) {
			dhp_fail(
			    &err, DHP_ECONFIG, c->file,
			    "no input files: give them after the options or as [source] files");
			return stop(&R, EXIT_USAGE, &err);
		}
		/* A wrong path is a usage error, found before any output. */
		for (int i = 0; i < c->nfiles; i++)
			if (strcmp(c->files[i], "-") != 0 && access(c->files[i], R_OK) != 0) {
				dhp_fail(&err, DHP_EIO, c->files[i], "cannot read input file: %s",
					 strerror(errno));
				return stop(&R, EXIT_USAGE, &err);
			}
	} else if (!(R.db = pgx_connect(c->db, c->timezone, &err))) {
		return stop(&R, EXIT_FAIL, &err);
	}
	int status = open_sources(&R, &err);
	if (status) {
		return stop(&R, status, &err);
	}
	if (!o->load && !(R.dl = dirload_open(c->out_dir, c->records_per_bundle, &err)))
		return stop(&R, EXIT_FAIL, &err);
	for (int i = 0; i < R.ms.nstreams; i++) {
		if (run_stream(&R, i, &err)) {
			log_error(&err);
			R.rep.failure = xstrdup(err.msg);
			status = EXIT_FAIL;
			break;
		}
	}
	/* Even after a failure the records already mapped are written or sent. */
	if (R.hl ? httpload_finish(R.hl, &err) : dirload_finish(R.dl, &err)) {
		log_error(&err);
		status = EXIT_FAIL;
	}
	return finish(&R, status);
}

int cmd_check(struct cli_opts *o)
{
	struct job_conf *c = &o->conf;
	struct dhp_error err = DHP_ERROR_INIT;
	struct mapset_paths mp;
	struct mapset ms;
	memset(&ms, 0, sizeof(ms));
	if (prepare_paths(c, &mp, &err) || mapset_load(&ms, &mp, &err)) {
		log_error(&err);
		mapset_free(&ms);
		return EXIT_USAGE;
	}
	if (!o->quiet) {
		int nres = 0;
		for (int i = 0; i < ms.nstreams; i++)
			nres += ms.streams[i].nres;
		printf("%s: %d mapping tables, %d resource blocks, %d record streams", c->mappings,
		       ms.nfiles - ms.nlibraries, nres, ms.nstreams);
		if (ms.ndts)
			printf(", %d datatype templates", ms.ndts);
		printf(": ok\n");
	}
	mapset_free(&ms);
	return EXIT_OK;
}
