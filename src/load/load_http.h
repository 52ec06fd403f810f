/*
 * load_http.h: the DHP loader: records into a FHIR server as transactions.
 *
 * Start: an OAuth2 token (a refused token request stops the run before any
 * data is sent) and [base]/metadata, read once to learn per resource type
 * whether the server accepts conditional create.
 *
 * Records are gathered up to N per transaction (a record's resources always
 * travel together). For each batch:
 *  1. One `batch` Bundle of searches finds, by business identifier, the
 *     resources that already exist and the targets of conditional
 *     references (Type?identifier=...), which are rewritten to Type/id.
 *  2. Per resource: absent -> POST (with ifNoneExist where the server
 *     supports conditional create); present and equal in content -> nothing
 *     is sent (unchanged); present and different -> PUT Type/id with
 *     ifMatch W/"version" from the search. A PUT without If-Match is never
 *     sent; no DELETE is ever sent.
 *  3. The transaction is POSTed to [base]. 2xx: counted from the
 *     transaction-response. 412: re-read and retry (bounded). Other 4xx
 *     with an OperationOutcome: the batch is split in halves until the
 *     failing records are isolated; those are rejected with the server's
 *     diagnostics, the others loaded. 401: a new token, once. 429/503/5xx,
 *     timeouts and resets: retried after Retry-After or exponential backoff
 *     with full jitter; after max_failures consecutive failures the run
 *     stops (every record already confirmed stays counted).
 * Counts per record: loaded (something created or updated), unchanged,
 * rejected.
 */
#ifndef DHP_LOAD_HTTP_H
#define DHP_LOAD_HTTP_H

#include "core/err.h"
#include "load/oauth2.h"
#include "map/map.h"

struct httpload;

/* Where rejected records go (the CLI writes them to the reject file). */
typedef void (*httpload_reject_fn)(void *ctx, const char *table, const char *key,
				   const struct dhp_error *why);

struct httpload_opts {
	const char *base; /* FHIR base URL, without trailing slash */
	const char *ca_file;
	long timeout_s;
	int records_per_bundle;
	int concurrency;     /* transactions in flight (workers, connections); default 4 */
	int max_attempts;    /* per request, transport/5xx/429 (default 6) */
	int max_failures;    /* consecutive failed requests before stopping (default 10) */
	double backoff_base; /* seconds (default 0.5) */
	double backoff_cap;  /* seconds (default 30) */
	httpload_reject_fn reject;
	void *reject_ctx;
};

struct httpload_counts {
	long loaded, unchanged, rejected; /* records */
	long created, updated, same;	  /* resources */
	long requests, retries, tokens;
};

/* Takes ownership of *auth's contents. NULL and *err (exit 1: the token
 * endpoint or metadata failed; nothing was sent). */
struct httpload *httpload_open(const struct httpload_opts *o, struct oauth *auth,
			       struct dhp_error *err);
/* Queue one record; its resources are copied out of the mapper's arena.
 * Batches go to `concurrency` workers, each with its own connection;
 * two batches that share a business identifier are never in flight
 * together. -1 = the run must stop (err says why). */
int httpload_add(struct httpload *hl, struct mapped *m, const char *table, struct dhp_error *err);
/* Send what is queued and wait until the server confirmed all of it (used
 * between streams: visits refer to the patients loaded before them). */
int httpload_barrier(struct httpload *hl, struct dhp_error *err);
int httpload_finish(struct httpload *hl, struct dhp_error *err);
const struct httpload_counts *httpload_counts(const struct httpload *hl);
void httpload_free(struct httpload *hl);

#endif
