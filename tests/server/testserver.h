/*
 * testserver.h: the parts of dhp-testserver shared by its source files.
 *
 * dhp-testserver is a local stand-in for the DHP FHIR server that the
 * loader's tests and benchmark run against: an in-memory store with the
 * platform's rules that matter to a loader (atomic transactions, If-Match
 * versioning, conditional create per type, identifier search, OAuth2
 * client credentials) plus fault knobs. It is test equipment, not a FHIR
 * server: it checks only the few validation rules the tests need.
 *
 * Threading: the HTTP layer runs one thread per connection; everything in
 * struct server below `lock` is guarded by that one mutex. Parsing,
 * validation and serialisation of request and response bodies happen
 * outside it, so the lock is held only for index look-ups and commits.
 */
#ifndef DHP_TESTSERVER_H
#define DHP_TESTSERVER_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/hmap.h"
#include "core/strbuf.h"

#define TS_MARKER "INVALID-TEST-MARKER"

/* ---- store.c: resources by type and id, versions, identifier index ---- */

struct version {
	char *json; /* the resource as served (id and meta filled in) */
	size_t len;
	int64_t mtime_ms; /* meta.lastUpdated, ms since the epoch */
};

/* One business identifier of a stored resource: key is "system|value" ("|value" without system). */
struct ident {
	char *key;
	size_t syslen; /* the value starts at key + syslen + 1 */
};

struct rec {
	struct typestore *ts;
	char id[40];
	uint64_t seq; /* creation order: search results come back in it */
	struct version *vers;
	size_t nvers, avers;
	struct ident *idents;
	size_t nidents;
};

/* The records one index key leads to, in creation order. */
struct reclist {
	size_t n, alloc;
	struct rec *v[];
};

struct typestore {
	char *name;
	bool cond_create;     /* conditionalCreate as declared in /metadata */
	struct hmap by_id;    /* id -> struct rec */
	struct hmap by_key;   /* "system|value" -> struct reclist */
	struct hmap by_value; /* "value" -> struct reclist (identifier=value without system) */
	struct rec **all;
	size_t nall, aall;
};

struct store {
	struct hmap types; /* name -> struct typestore */
	char **names;	   /* type names in declaration order, for the stats */
	size_t nnames, anames;
};

/* A parsed query string: name/value pairs, percent-decoded. */
struct qparam {
	char *name;
	char *value;
};
struct query {
	struct qparam *p;
	size_t n, alloc;
};

void query_add(struct query *q, const char *name, const char *value);
/* Parse "a=b&c=d" (percent- and '+'-decoding). */
void query_parse(struct query *q, const char *s);
void query_free(struct query *q);
const char *query_get(const struct query *q, const char *name);

struct typestore *store_add_type(struct store *st, const char *name, bool cond_create);
struct typestore *store_type(const struct store *st, const char *name, size_t len);
struct rec *store_get(const struct typestore *ts, const char *id);
/* Store a new resource: sets id and meta.versionId/lastUpdated in res, serialises it. */
struct rec *store_create(struct typestore *ts, const char *id, json_object *res, int64_t now_ms);
/* A new version of r from res (id and meta are set here too). */
void store_update(struct rec *r, json_object *res, int64_t now_ms);
const struct version *rec_current(const struct rec *r);
/*
 * Search ts with the parameters of q (identifier, _id; _count and _format
 * are skipped). Fills *out (malloc'd; free it) and returns the number of
 * matches, or -1 with a message in err for a parameter this server does not
 * support.
 */
long store_search(const struct typestore *ts, const struct query *q, struct rec ***out,
		  struct strbuf *err);
size_t store_count(const struct store *st);

/* ---- fhir.c: OperationOutcome, validation, references, time ---- */

/* Issues collected for one reply; status is the HTTP status of the first. */
struct outcome {
	json_object *issues;
	int status;
};

void outcome_init(struct outcome *oc);
void outcome_free(struct outcome *oc);
bool outcome_empty(const struct outcome *oc);
/* details may be NULL; expr may be NULL. */
void outcome_add(struct outcome *oc, int status, const char *code, const char *expr,
		 const char *details, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The OperationOutcome (a new object; oc keeps nothing). */
json_object *outcome_take(struct outcome *oc);
/* A one-issue OperationOutcome. */
json_object *outcome_one(const char *severity, const char *code, const char *details,
			 const char *diagnostics);

int64_t now_ms(void);
/* FHIR instant, "2026-02-24T10:00:00.123Z" (buf >= 32). */
void fmt_instant(char *buf, size_t n, int64_t ms);
/* RFC 7231 HTTP-date (buf >= 32). */
void fmt_http_date(char *buf, size_t n, int64_t ms);

/*
 * Check res against the server's rules. expr_base is the FHIRPath of the
 * resource ("Patient", "Bundle.entry[3].resource.ofType(Patient)") or NULL
 * to build it from the type; want_type is the type the URL names (NULL: any
 * known type). scan_marker: also look for TS_MARKER in every string (callers
 * skip the walk when the raw body lacks the marker). Returns true when no
 * issue was added.
 */
bool resource_validate(const struct store *st, json_object *res, const char *want_type,
		       const char *entry_expr, bool scan_marker, struct outcome *oc);

/* Where a walk over a resource is: keys and array indexes (-1 for keys), for issue expressions. */
struct walk {
	const char *key[128];
	long idx[128];
	int depth;
};
/* Append ".key[3].key" for the walk's position. */
void walk_path(const struct walk *w, struct strbuf *sb);

/* Parse JSON text of n bytes; NULL when invalid or followed by anything but white space. */
json_object *json_parse(const char *s, size_t n);
/* Reorder the members of object o: the keys in first (those present) come first. */
void json_keys_first(json_object *o, const char *const *first, size_t nfirst);
/* Serialise compactly (no "\/" escapes) into a malloc'd buffer. */
char *json_dump(json_object *o, size_t *len);

/* ---- server state (dhp-testserver.c) ---- */

struct counters {
	unsigned long requests, token_requests, tokens_issued, token_failures, unauthorized;
	unsigned long authorizations, code_exchanges, refreshes; /* login: code + PKCE */
	unsigned long creates, updates, reads, vreads, searches, cond_create_matches;
	unsigned long transactions, transactions_failed, transaction_entries;
	unsigned long batches, batch_entries, batch_entries_failed;
	unsigned long deletes, version_mismatches, forced_412, validation_failures;
	unsigned long fault_500, fault_503, fault_429, drops, drops_after;
	struct hmap by_method, by_status, by_method_status; /* values are counts cast to pointers */
};

struct server {
	pthread_mutex_t lock; /* guards everything below */
	struct store store;
	struct counters n;
	struct hmap tokens; /* token -> expiry (ms, monotonic clock) cast to a pointer */
	uint64_t rng;
	bool force_412_pending;
	/* read-only after start-up */
	bool check_refs;
};

/* ---- ops.c: the write path shared by REST calls, transactions and batches ---- */

enum wop_kind { WOP_CREATE, WOP_EXISTING, WOP_UPDATE };

/* One POST or PUT: planned (checks, ids) under the lock, then committed. */
struct wop {
	bool is_put;
	struct typestore *ts;
	json_object *res; /* borrowed; rewritten and given id/meta on commit */
	const char *if_none_exist, *if_match;
	const char *put_id;
	const char *fullurl;
	char expr[48]; /* "Bundle.entry[3]" or "" for a plain REST call */
	/* plan */
	enum wop_kind kind;
	struct rec *rec;
	char new_id[40];
};

/* Under the lock. Adds issues to oc and returns false when the write cannot happen. */
bool wop_plan(struct server *s, struct wop *w, struct outcome *oc);
/*
 * Under the lock, after every wop_plan of a request succeeded: rewrite the
 * references in w->res (fullurls maps bundle fullUrl -> "Type/id"; targets
 * holds the "Type/id" of resources created by this request).
 */
bool wop_resolve_refs(struct server *s, struct wop *w, const struct hmap *fullurls,
		      const struct hmap *targets, struct outcome *oc);
/* Under the lock; cannot fail. */
void wop_commit(struct server *s, struct wop *w, int64_t now_ms);
/* "Type/id" of the planned write (buf >= 128). */
void wop_target(const struct wop *w, char *buf, size_t n);
unsigned wop_version(const struct wop *w);

/* A searchset Bundle for recs (the caller holds the lock: the records are read). */
json_object *searchset(struct rec **recs, long n, long total, const char *base, const char *self);
/* Parse a stored version back to JSON. */
json_object *version_json(const struct version *v);

/* ---- bundle.c ---- */

/* POST [base] with a Bundle; returns the HTTP status, *reply the Bundle or OperationOutcome. */
int bundle_process(struct server *s, json_object *bundle, const char *base, bool scan_marker,
		   bool want_repr, json_object **reply);

/* The `GET` interactions, shared by the REST layer and batches. Under the lock. */
int rest_get(struct server *s, const char *path, const struct query *q, const char *base,
	     json_object **reply, char *etag, size_t etag_n, int64_t *mtime);

#endif
