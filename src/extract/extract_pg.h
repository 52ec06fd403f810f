/*
 * extract_pg.h: the PostgreSQL source.
 *
 * One connection per run, one READ ONLY REPEATABLE READ transaction around
 * all of the run's queries, so every stream sees the same snapshot. Each
 * query runs as a server-side cursor fetched in batches (PGX_BATCH rows),
 * so memory does not grow with the table. The watermark placeholder
 * `:since` in the query text becomes the bound parameter $1::timestamptz
 * (never spliced into SQL); without a watermark it is bound to -infinity.
 *
 * Connection settings work as in psql: a conninfo string or URI, the PG*
 * environment variables, ~/.pgpass and service files (libpq does all of it).
 */
#ifndef DHP_EXTRACT_PG_H
#define DHP_EXTRACT_PG_H

#include "core/err.h"
#include "extract/source.h"

#define PGX_BATCH 2000

struct pgx;

/* Connect, set the session time zone (timestamptz text then carries the
 * job's offset) and open the transaction. NULL and *err naming host and
 * port on failure. */
struct pgx *pgx_connect(const char *conninfo, const char *tz, struct dhp_error *err);
void pgx_disconnect(struct pgx *db);

/* Declare a cursor for the query in `query_file`; `table` names records in
 * locations; `since` is the watermark text or NULL. The source is valid
 * until source_close(); streams are read one after another. */
struct source *pgx_open(struct pgx *db, const char *query_file, const char *table,
			const char *since, struct dhp_error *err);

/* Replace the :since placeholder (outside quotes and comments) by
 * $1::timestamptz; returns the new text (caller frees) and the count. */
char *pgx_bind_since(const char *sql, int *count);

#endif
