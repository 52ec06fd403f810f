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
			if (dirload_add(R->dl, &R->m, err))
				return -1;
			R->rep.loaded++;
			sc->loaded++;
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
	if (R->dl) {
		R->rep.bundles = dirload_bundles(R->dl);
		R->rep.resources = dirload_resources(R->dl);
	}
	if (R->rep.rejects)
		fflush(R->rep.rejects);
	if (!R->o->quiet && R->dl)
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
	mapped_free(&R->m);
	map_ctx_release(&R->ctx);
	mapset_free(&R->ms);
	report_free(&R->rep);
	return status;
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
	if (!c->out_dir) {
		dhp_fail(&err, DHP_ECONFIG, c->file,
			 "no output directory: give --out DIR or [output] dir");
		return stop(&R, EXIT_USAGE, &err);
	}
	if (prepare_paths(c, &mp, &err) || mapset_load(&R.ms, &mp, &err)) {
		return stop(&R, EXIT_USAGE, &err);
	}
	if (!c->rejects)
		c->rejects = fileio_join(c->out_dir, "rejects.jsonl");
	unlink(c->rejects); /* a reject file always belongs to the latest run */
	R.rep.rejects_path = c->rejects;
	R.rep.out_dir = c->out_dir;
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
	R.dl = dirload_open(c->out_dir, c->records_per_bundle, &err);
	if (!R.dl) {
		return stop(&R, EXIT_FAIL, &err);
	}
	for (int i = 0; i < R.ms.nstreams; i++) {
		if (run_stream(&R, i, &err)) {
			log_error(&err);
			R.rep.failure = xstrdup(err.msg);
			status = EXIT_FAIL;
			break;
		}
	}
	/* Even after a failure the bundles of the records already mapped are kept. */
	if (dirload_finish(R.dl, &err)) {
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
		printf("%s: %d mapping tables, %d resource blocks, %d record streams: ok\n",
		       c->mappings, ms.nfiles, nres, ms.nstreams);
	}
	mapset_free(&ms);
	return EXIT_OK;
}
