/*
 * load_http.c: records into a FHIR server as transactions (see load_http.h).
 */
#include "core/dhp.h"
#include "core/hmap.h"
#include "load/http.h"
#include "load/load_http.h"

#include <ctype.h>
#include <json-c/json.h>
#include <pthread.h>
#include <time.h>

enum action { A_POST, A_PUT, A_SAME };

struct lres {
	const char *type; /* borrowed from the mapping set */
	json_object *json;
	char uuid[37];
	char *query; /* "Type?identifier=..." or NULL */
	enum action action;
	char *id, *version; /* of the existing resource */
};

struct lrec {
	char *table, *key, *where;
	struct lres *res;
	int n;
	bool done; /* rejected or counted */
};

/* What a search found. */
struct found {
	int matches;
	char *id, *version;
	json_object *resource;
};

struct httpload;

/* One connection and the batch it is loading. Workers run in their own
 * threads; everything shared (token, counters, rejects, claims) is in the
 * struct httpload they point to, behind its mutex. */
struct worker {
	struct httpload_opts o;
	struct httpload *pool;
	struct http *h;
	struct oauth *auth;   /* shared: lock the pool to use it */
	struct hmap *ccreate; /* shared, read-only: types with conditionalCreate */
	struct lrec *recs;    /* the batch */
	int n, alloc;
	struct hmap found;	  /* query -> struct found* (per batch) */
	struct httpload_counts c; /* this batch's counts, added to the pool's at its end */
	int consecutive_failures;
	struct strbuf url;
};

static int pool_bearer(struct worker *w, char *header, size_t len, bool *fatal,
		       struct dhp_error *err);
static void pool_invalidate(struct worker *w);
static void pool_reject(struct worker *w, const struct lrec *rec, const struct dhp_error *why);

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	nanosleep(&ts, NULL);
}

/* ---- one request with auth and retries ----------------------------------- */

/* Send with a bearer token; retries transport errors, 429 and 5xx, and a
 * 401 once with a new token. 0: a final response is in *r. -1: stop the
 * run (credentials refused, or too many consecutive failures). 1 (only
 * with `replan`): no answer arrived, and the request may have been
 * applied: a transaction must be planned again rather than resent as is,
 * or resources without conditional create would be created twice. */
static int fhir_send(struct worker *hl, const char *method, const char *url, const char *body,
		     size_t len, struct http_resp *r, bool replan, struct dhp_error *err)
{
	bool renewed = false;
	for (int attempt = 1;; attempt++) {
		char auth[4200];
		bool fatal;
		if (pool_bearer(hl, auth, sizeof(auth), &fatal, err)) {
			if (fatal)
				return -1;
			r->transport_error = true; /* the token endpoint is down: retry */
		} else {
			const char *headers[] = {auth, "Accept: application/fhir+json",
						 "Content-Type: application/fhir+json", NULL};
			hl->c.requests++;
			http_request(hl->h, method, url, headers, body, len, r, err);
			memset(auth, 0, sizeof(auth));
			if (r->status == 401 && !renewed) {
				pool_invalidate(hl);
				renewed = true;
				attempt--;
				continue;
			}
			if (!http_retryable(r)) {
				hl->consecutive_failures = 0;
				return 0;
			}
			if (!r->transport_error)
				dhp_fail(err, DHP_ECONNECT, url, "HTTP %ld", r->status);
		}
		if (++hl->consecutive_failures >= hl->o.max_failures) {
			dhp_detail(err, "%d consecutive failed requests; stopping",
				   hl->consecutive_failures);
			return -1;
		}
		if (attempt >= hl->o.max_attempts) {
			dhp_detail(err, "gave up after %d attempts", attempt);
			return -1;
		}
		hl->c.retries++;
		sleep_s(http_retry_delay(r, attempt, hl->o.backoff_base, hl->o.backoff_cap));
		if (replan && r->transport_error)
			return 1;
	}
}

/* ---- start: token and metadata --------------------------------------------- */

static int read_metadata(struct worker *hl, struct dhp_error *err)
{
	struct http_resp r;
	http_resp_init(&r);
	strbuf_reset(&hl->url);
	strbuf_addf(&hl->url, "%s/metadata", hl->o.base);
	int rc = fhir_send(hl, "GET", hl->url.buf, NULL, 0, &r, false, err);
	json_object *cs = rc == 0 && r.status == 200 ? json_tokener_parse(r.body.buf) : NULL;
	json_object *rest, *res;
	if (rc == 0 && (!cs || !json_object_object_get_ex(cs, "rest", &rest))) {
		rc = dhp_fail(err, DHP_ECONNECT, hl->url.buf,
			      "expected a CapabilityStatement, found HTTP %ld", r.status);
	} else if (rc == 0) {
		json_object *rest0 = json_object_array_get_idx(rest, 0);
		if (rest0 && json_object_object_get_ex(rest0, "resource", &res))
			for (size_t i = 0; i < json_object_array_length(res); i++) {
				json_object *e = json_object_array_get_idx(res, i), *t, *cc;
				if (json_object_object_get_ex(e, "type", &t) &&
				    json_object_object_get_ex(e, "conditionalCreate", &cc) &&
				    json_object_get_boolean(cc)) {
					const char *ty = json_object_get_string(t);
					hmap_put(hl->ccreate, ty, strlen(ty), hl);
				}
			}
	}
	json_object_put(cs);
	http_resp_release(&r);
	return rc;
}

/* ---- per batch: find what exists ------------------------------------------- */

static void found_clear(struct worker *hl)
{
	for (size_t i = 0; i < hl->found.nslots; i++) {
		struct found *f = hl->found.slots[i].value;
		if (!f)
			continue;
		free(f->id);
		free(f->version);
		json_object_put(f->resource);
		free(f);
	}
	hmap_clear(&hl->found);
}

static void want(struct worker *hl, const char *query)
{
	struct hmap_entry *e = hmap_slot(&hl->found, query, strlen(query));
	if (!e->value)
		e->value = xcalloc(1, sizeof(struct found));
}

/* Conditional references ("Type?identifier=...") anywhere in a resource. */
static void collect_refs(struct worker *hl, json_object *o)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			collect_refs(hl, json_object_array_get_idx(o, i));
	} else if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			if (streq(k, "reference") && json_object_is_type(v, json_type_string) &&
			    strstr(json_object_get_string(v), "?identifier="))
				want(hl, json_object_get_string(v));
			else
				collect_refs(hl, v);
		}
	}
}

static void record_found(struct found *f, json_object *searchset)
{
	json_object *total, *entries, *res, *id, *meta, *ver;
	f->matches = 0;
	if (json_object_object_get_ex(searchset, "entry", &entries))
		f->matches = (int)json_object_array_length(entries);
	else if (json_object_object_get_ex(searchset, "total", &total))
		f->matches = json_object_get_int(total);
	if (f->matches != 1 ||
	    !json_object_object_get_ex(json_object_array_get_idx(entries, 0), "resource", &res))
		return;
	if (json_object_object_get_ex(res, "id", &id))
		f->id = xstrdup(json_object_get_string(id));
	if (json_object_object_get_ex(res, "meta", &meta) &&
	    json_object_object_get_ex(meta, "versionId", &ver))
		f->version = xstrdup(json_object_get_string(ver));
	f->resource = json_object_get(res);
}

/* Percent-decode s[0..n) into out (a '%' not followed by two hex digits stays). */
static void pct_decode(const char *s, size_t n, struct strbuf *out)
{
	for (size_t i = 0; i < n; i++) {
		char hex[3] = {0};
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			hex[0] = s[i + 1];
			hex[1] = s[i + 2];
			strbuf_addch(out, (char)strtol(hex, NULL, 16));
			i += 2;
		} else {
			strbuf_addch(out, s[i]);
		}
	}
}

/* "Type?identifier=system|value" (raw, or encoded as ifNoneExist is) as a
 * search URL with system and value each percent-encoded: a '+', ',' or '&'
 * in an identifier must not change what is searched. */
static void search_url(const char *query, struct strbuf *u)
{
	const char *eq = strstr(query, "?identifier=");
	if (!eq) {
		strbuf_addstr(u, query);
		return;
	}
	const char *val = eq + 12, *bar = strchr(val, '|');
	strbuf_add(u, query, (size_t)(val - query));
	struct strbuf part = STRBUF_INIT;
	if (bar) {
		pct_decode(val, (size_t)(bar - val), &part);
		http_urlencode(part.buf, u);
		strbuf_addstr(u, "%7C");
		strbuf_reset(&part);
		val = bar + 1;
	}
	pct_decode(val, strlen(val), &part);
	http_urlencode(part.buf, u);
	strbuf_release(&part);
}

/* One batch Bundle of GETs for every query of records [lo, hi). */
static int lookup(struct worker *hl, int lo, int hi, struct dhp_error *err)
{
	found_clear(hl);
	for (int i = lo; i < hi; i++)
		for (int k = 0; !hl->recs[i].done && k < hl->recs[i].n; k++) {
			struct lres *r = &hl->recs[i].res[k];
			if (r->query)
				want(hl, r->query);
			collect_refs(hl, r->json);
		}
	if (!hl->found.count)
		return 0;
	json_object *b = json_object_new_object(), *entries = json_object_new_array();
	json_object_object_add(b, "resourceType", json_object_new_string("Bundle"));
	json_object_object_add(b, "type", json_object_new_string("batch"));
	const char **order = xcalloc(hl->found.count, sizeof(*order));
	size_t n = 0;
	for (size_t i = 0; i < hl->found.nslots; i++) {
		if (!hl->found.slots[i].key)
			continue;
		order[n++] = hl->found.slots[i].key;
		json_object *e = json_object_new_object(), *req = json_object_new_object();
		struct strbuf u = STRBUF_INIT;
		search_url(hl->found.slots[i].key, &u);
		json_object_object_add(req, "method", json_object_new_string("GET"));
		json_object_object_add(req, "url", json_object_new_string(u.buf));
		strbuf_release(&u);
		json_object_object_add(e, "request", req);
		json_object_array_add(entries, e);
	}
	json_object_object_add(b, "entry", entries);
	size_t len;
	const char *text = json_object_to_json_string_length(b, JSON_C_TO_STRING_PLAIN, &len);
	struct http_resp r;
	http_resp_init(&r);
	int rc = fhir_send(hl, "POST", hl->o.base, text, len, &r, false, err);
	json_object_put(b);
	json_object *resp = rc == 0 && r.status / 100 == 2 ? json_tokener_parse(r.body.buf) : NULL;
	json_object *rentries;
	if (rc == 0 && (!resp || !json_object_object_get_ex(resp, "entry", &rentries))) {
		rc =
		    dhp_fail(err, DHP_ECONNECT, hl->o.base,
			     "search batch failed: HTTP %ld (expected a batch-response)", r.status);
	} else if (rc == 0) {
		for (size_t i = 0; i < n && i < json_object_array_length(rentries); i++) {
			json_object *res;
			if (json_object_object_get_ex(json_object_array_get_idx(rentries, i),
						      "resource", &res))
				record_found(hmap_gets(&hl->found, order[i]), res);
		}
	}
	json_object_put(resp);
	free(order);
	http_resp_release(&r);
	return rc;
}

/* ---- per batch: decide what to send ----------------------------------------- */

static void reject(struct worker *hl, struct lrec *rec, enum dhp_code code, const char *msg,
		   const char *detail)
{
	struct dhp_error why = DHP_ERROR_INIT;
	dhp_fail(&why, code, rec->where, "%s", msg);
	if (detail)
		dhp_detail(&why, "%s", detail);
	pool_reject(hl, rec, &why);
	rec->done = true;
	hl->c.rejected++;
}

/* The urn:uuid of a resource of this batch with that business identifier. */
static const char *batch_urn(struct worker *hl, int lo, int hi, const char *query)
{
	for (int i = lo; i < hi; i++)
		for (int k = 0; !hl->recs[i].done && k < hl->recs[i].n; k++)
			if (hl->recs[i].res[k].query && streq(hl->recs[i].res[k].query, query))
				return hl->recs[i].res[k].uuid;
	return NULL;
}

/* Rewrite conditional references to Type/id (or urn:uuid); false when one
 * has no target (msg says which). */
static bool resolve_refs(struct worker *hl, int lo, int hi, json_object *o, char *msg, size_t mlen)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!resolve_refs(hl, lo, hi, json_object_array_get_idx(o, i), msg, mlen))
				return false;
	} else if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			if (!streq(k, "reference") || !json_object_is_type(v, json_type_string) ||
			    !strstr(json_object_get_string(v), "?identifier=")) {
				if (!resolve_refs(hl, lo, hi, v, msg, mlen))
					return false;
				continue;
			}
			const char *q = json_object_get_string(v);
			struct found *f = hmap_gets(&hl->found, q);
			char target[300];
			const char *urn = NULL;
			if (f && f->matches == 1 && f->id) {
				snprintf(target, sizeof(target), "%.*s/%s", (int)strcspn(q, "?"), q,
					 f->id);
			} else if ((urn = batch_urn(hl, lo, hi, q))) {
				snprintf(target, sizeof(target), "urn:uuid:%s", urn);
			} else {
				snprintf(msg, mlen, "reference %s: %s on the server", q,
					 f && f->matches > 1 ? "several matches" : "no match");
				return false;
			}
			json_object_object_add(o, "reference", json_object_new_string(target));
		}
	}
	return true;
}

/* Deep equality where numbers compare by value: we send 89 as a decimal,
 * the server's JSON gives it back as an integer. */
static bool json_same(json_object *a, json_object *b)
{
	json_type ta = json_object_get_type(a), tb = json_object_get_type(b);
	bool na = ta == json_type_int || ta == json_type_double;
	bool nb = tb == json_type_int || tb == json_type_double;
	if (na && nb)
		return json_object_get_double(a) == json_object_get_double(b);
	if (ta != tb)
		return false;
	if (ta == json_type_array) {
		size_t n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!json_same(json_object_array_get_idx(a, i),
				       json_object_array_get_idx(b, i)))
				return false;
		return true;
	}
	if (ta == json_type_object) {
		if (json_object_object_length(a) != json_object_object_length(b))
			return false;
		json_object_object_foreach(a, k, v)
		{
			json_object *w;
			if (!json_object_object_get_ex(b, k, &w) || !json_same(v, w))
				return false;
		}
		return true;
	}
	return json_object_equal(a, b);
}

/* Same content as the server's copy? (ids and server metadata aside) */
static bool same_content(json_object *ours, json_object *theirs)
{
	static const char *const skip[] = {"id", "meta", "text"};
	for (int pass = 0; pass < 2; pass++) {
		json_object *a = pass ? theirs : ours, *b = pass ? ours : theirs;
		json_object_object_foreach(a, k, v)
		{
			bool skipped = false;
			for (size_t i = 0; i < ARRAY_SIZE(skip); i++)
				skipped |= streq(k, skip[i]);
			json_object *w;
			if (!skipped && (!json_object_object_get_ex(b, k, &w) || !json_same(v, w)))
				return false;
		}
	}
	return true;
}

/* The value of the identifier with `system` in resource r, or NULL. */
static const char *ident_value(json_object *r, const char *system)
{
	json_object *ids, *sys, *val;
	if (!json_object_object_get_ex(r, "identifier", &ids) ||
	    !json_object_is_type(ids, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(ids); i++) {
		json_object *id = json_object_array_get_idx(ids, i);
		if (json_object_object_get_ex(id, "system", &sys) &&
		    json_object_object_get_ex(id, "value", &val) &&
		    streq(json_object_get_string(sys), system))
			return json_object_get_string(val);
	}
	return NULL;
}

/* Does the server's resource carry, in a system we also send, another value?
 * Then two source records claim one resource (a patient registered twice
 * with one PINFL, say): updating would erase the other record's identity. */
static bool conflicting_ids(json_object *ours, json_object *theirs, char *msg, size_t len)
{
	json_object *ids, *sys, *val;
	if (!json_object_object_get_ex(ours, "identifier", &ids) ||
	    !json_object_is_type(ids, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(ids); i++) {
		json_object *id = json_object_array_get_idx(ids, i);
		if (!json_object_object_get_ex(id, "system", &sys) ||
		    !json_object_object_get_ex(id, "value", &val))
			continue;
		const char *other = ident_value(theirs, json_object_get_string(sys));
		if (other && !streq(other, json_object_get_string(val))) {
			snprintf(msg, len,
				 "the server's resource with this business identifier has %s|%s, "
				 "this record %s|%s: two source records for one resource?",
				 json_object_get_string(sys), other, json_object_get_string(sys),
				 json_object_get_string(val));
			return true;
		}
	}
	return false;
}

/* Replace every reference `from` by `to` in o. */
static void replace_ref(json_object *o, const char *from, const char *to)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			replace_ref(json_object_array_get_idx(o, i), from, to);
	} else if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			if (streq(k, "reference") && json_object_is_type(v, json_type_string) &&
			    streq(json_object_get_string(v), from))
				json_object_object_add(o, "reference", json_object_new_string(to));
			else
				replace_ref(v, from, to);
		}
	}
}

/* Resources of a record that already exist are not POSTed (and unchanged
 * ones not sent at all): the record's urn:uuid references to them become
 * their Type/id on the server. */
static void point_at_existing(struct lrec *rec)
{
	for (int k = 0; k < rec->n; k++) {
		const struct lres *t = &rec->res[k];
		if (!t->id)
			continue;
		char from[64], to[300];
		snprintf(from, sizeof(from), "urn:uuid:%s", t->uuid);
		snprintf(to, sizeof(to), "%s/%s", t->type, t->id);
		for (int j = 0; j < rec->n; j++)
			replace_ref(rec->res[j].json, from, to);
	}
}

/* Find what exists for each resource of a record (id and version), reject
 * the record on ambiguity; false when it was rejected. */
static bool match_existing(struct worker *hl, int lo, int hi, struct lrec *rec)
{
	char msg[400];
	for (int k = 0; k < rec->n; k++) {
		struct lres *r = &rec->res[k];
		if (!resolve_refs(hl, lo, hi, r->json, msg, sizeof(msg))) {
			reject(hl, rec, DHP_EREQUIRED, msg, r->type);
			return false;
		}
		struct found *f = r->query ? hmap_gets(&hl->found, r->query) : NULL;
		free(r->id);
		free(r->version);
		r->id = r->version = NULL;
		r->action = A_POST;
		if (f && f->matches > 1) {
			snprintf(msg, sizeof(msg), "%s %s matches %d resources on the server",
				 r->type, r->query, f->matches);
			reject(hl, rec, DHP_EKEY, msg, NULL);
			return false;
		}
		if (!f || f->matches == 0 || !f->id)
			continue;
		if (conflicting_ids(r->json, f->resource, msg, sizeof(msg))) {
			reject(hl, rec, DHP_EKEY, msg, f->id);
			return false;
		}
		if (!f->version) {
			/* a PUT without If-Match is never sent */
			snprintf(msg, sizeof(msg), "%s/%s: the server gave no version", r->type,
				 f->id);
			reject(hl, rec, DHP_EKEY, msg, NULL);
			return false;
		}
		r->id = xstrdup(f->id);
		r->version = xstrdup(f->version);
	}
	return true;
}

/* Two records of one batch may build the same resource (two messages about
 * one patient): only the later one is sent, and the earlier record's
 * references follow it, so one transaction never creates it twice. */
struct seen {
	struct lrec *rec;
	struct lres *res;
};

static void supersede(struct seen *prev, const struct lres *r)
{
	char from[64], to[300];
	snprintf(from, sizeof(from), "urn:uuid:%s", prev->res->uuid);
	if (r->id)
		snprintf(to, sizeof(to), "%s/%s", r->type, r->id);
	else
		snprintf(to, sizeof(to), "urn:uuid:%s", r->uuid);
	prev->res->action = A_SAME;
	for (int j = 0; j < prev->rec->n; j++)
		replace_ref(prev->rec->res[j].json, from, to);
}

/* Decide per resource: POST, PUT (changed) or nothing (unchanged). */
static void plan(struct worker *hl, int lo, int hi)
{
	struct hmap seen = HMAP_INIT;
	for (int i = lo; i < hi; i++) {
		struct lrec *rec = &hl->recs[i];
		if (rec->done || !match_existing(hl, lo, hi, rec))
			continue;
		/* references between the record's own resources first, so that the
		 * comparison sees what the server stored */
		point_at_existing(rec);
		for (int k = 0; k < rec->n; k++) {
			struct lres *r = &rec->res[k];
			const struct found *f = r->id ? hmap_gets(&hl->found, r->query) : NULL;
			if (f)
				r->action = same_content(r->json, f->resource) ? A_SAME : A_PUT;
			if (!r->query)
				continue;
			struct hmap_entry *e = hmap_slot(&seen, r->query, strlen(r->query));
			if (e->value)
				supersede(e->value, r);
			else
				e->value = xmalloc(sizeof(struct seen));
			*(struct seen *)e->value = (struct seen){rec, r};
		}
	}
	for (size_t i = 0; i < seen.nslots; i++)
		free(seen.slots[i].value);
	hmap_clear(&seen);
}

/* ---- per batch: the transaction --------------------------------------------- */

/* "Observation.status: minimum required = 1 (Bundle.entry[2]...)" from an OperationOutcome. */
static void outcome_text(const char *body, char *out, size_t len)
{
	json_object *oo = json_tokener_parse(body), *issues;
	size_t w = 0;
	out[0] = '\0';
	if (oo && json_object_object_get_ex(oo, "issue", &issues))
		for (size_t i = 0; i < json_object_array_length(issues) && w < len; i++) {
			json_object *is = json_object_array_get_idx(issues, i), *d, *det, *txt, *ex;
			const char *msg = NULL;
			if (json_object_object_get_ex(is, "diagnostics", &d))
				msg = json_object_get_string(d);
			else if (json_object_object_get_ex(is, "details", &det) &&
				 json_object_object_get_ex(det, "text", &txt))
				msg = json_object_get_string(txt);
			const char *where =
			    json_object_object_get_ex(is, "expression", &ex)
				? json_object_get_string(json_object_array_get_idx(ex, 0))
				: NULL;
			int n = snprintf(out + w, len - w, "%s%s%s%s%s", w ? "; " : "",
					 msg ? msg : "(no diagnostics)", where ? " (" : "",
					 where ? where : "", where ? ")" : "");
			w += n > 0 ? (size_t)n : 0;
		}
	json_object_put(oo);
}

struct slot {
	int rec, res;
};

/* The transaction for records [lo, hi); *slots maps its entries back. */
static json_object *build_tx(struct worker *hl, int lo, int hi, struct slot **slots, int *n)
{
	json_object *b = json_object_new_object(), *entries = json_object_new_array();
	json_object_object_add(b, "resourceType", json_object_new_string("Bundle"));
	json_object_object_add(b, "type", json_object_new_string("transaction"));
	*n = 0;
	for (int i = lo; i < hi; i++)
		for (int k = 0; !hl->recs[i].done && k < hl->recs[i].n; k++) {
			struct lres *r = &hl->recs[i].res[k];
			if (r->action == A_SAME)
				continue;
			json_object *e = json_object_new_object(), *req = json_object_new_object();
			char buf[400];
			snprintf(buf, sizeof(buf), "urn:uuid:%s", r->uuid);
			json_object_object_add(e, "fullUrl", json_object_new_string(buf));
			if (r->action == A_PUT)
				json_object_object_add(r->json, "id",
						       json_object_new_string(r->id));
			json_object_object_add(e, "resource", json_object_get(r->json));
			json_object_object_add(
			    req, "method",
			    json_object_new_string(r->action == A_PUT ? "PUT" : "POST"));
			if (r->action == A_PUT) {
				snprintf(buf, sizeof(buf), "%s/%s", r->type, r->id);
				json_object_object_add(req, "url", json_object_new_string(buf));
				snprintf(buf, sizeof(buf), "W/\"%s\"", r->version);
				json_object_object_add(req, "ifMatch", json_object_new_string(buf));
			} else {
				json_object_object_add(req, "url", json_object_new_string(r->type));
				if (r->query && hmap_gets(hl->ccreate, r->type))
					json_object_object_add(
					    req, "ifNoneExist",
					    json_object_new_string(strchr(r->query, '?') + 1));
			}
			json_object_object_add(e, "request", req);
			json_object_array_add(entries, e);
			*slots = xrealloc(*slots, (size_t)(*n + 1) * sizeof(**slots));
			(*slots)[(*n)++] = (struct slot){i, k};
		}
	json_object_object_add(b, "entry", entries);
	return b;
}

/* Count a successful transaction-response, record by record. */
static void count_success(struct worker *hl, int lo, int hi, const struct slot *slots, int n,
			  const char *body)
{
	json_object *resp = json_tokener_parse(body), *entries = NULL;
	if (resp)
		json_object_object_get_ex(resp, "entry", &entries);
	bool *changed = xcalloc((size_t)(hi - lo), sizeof(bool));
	for (int j = 0; j < n; j++) {
		json_object *e = entries ? json_object_array_get_idx(entries, (size_t)j) : NULL,
			    *rs, *st;
		const char *status = e && json_object_object_get_ex(e, "response", &rs) &&
					     json_object_object_get_ex(rs, "status", &st)
					 ? json_object_get_string(st)
					 : "";
		const struct lres *r = &hl->recs[slots[j].rec].res[slots[j].res];
		if (strncmp(status, "201", 3) == 0) {
			hl->c.created++;
			changed[slots[j].rec - lo] = true;
		} else if (r->action == A_PUT) {
			hl->c.updated++;
			changed[slots[j].rec - lo] = true;
		} else {
			hl->c.same++; /* a conditional create that found its match */
		}
	}
	for (int i = lo; i < hi; i++) {
		struct lrec *rec = &hl->recs[i];
		if (rec->done)
			continue;
		for (int k = 0; k < rec->n; k++)
			hl->c.same += rec->res[k].action == A_SAME;
		if (changed[i - lo])
			hl->c.loaded++;
		else
			hl->c.unchanged++;
		rec->done = true;
	}
	free(changed);
	json_object_put(resp);
}

static int load_range(struct worker *hl, int lo, int hi, int conflicts, struct dhp_error *err);

/* 4xx: isolate the failing records by halving; a single one is rejected. */
static int bisect(struct worker *hl, int lo, int hi, long status, const char *body,
		  struct dhp_error *err)
{
	int live = 0, only = -1;
	for (int i = lo; i < hi; i++)
		if (!hl->recs[i].done) {
			live++;
			only = i;
		}
	if (live == 1) {
		char text[1500], msg[1600];
		outcome_text(body, text, sizeof(text));
		snprintf(msg, sizeof(msg), "server refused the record: HTTP %ld%s%s", status,
			 text[0] ? ": " : "", text);
		reject(hl, &hl->recs[only], DHP_EVALUE, msg, NULL);
		return 0;
	}
	int mid = lo + (hi - lo) / 2;
	if (load_range(hl, lo, mid, 0, err))
		return -1;
	return load_range(hl, mid, hi, 0, err);
}

static int load_range(struct worker *hl, int lo, int hi, int conflicts, struct dhp_error *err)
{
	if (lo >= hi)
		return 0;
	if (lookup(hl, lo, hi, err))
		return -1;
	plan(hl, lo, hi);
	struct slot *slots = NULL;
	int n;
	json_object *tx = build_tx(hl, lo, hi, &slots, &n);
	int rc = 0;
	if (n == 0) {
		count_success(hl, lo, hi, slots, 0, "{}");
	} else {
		size_t len;
		const char *text = json_object_to_json_string_length(
		    tx, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
		struct http_resp r;
		http_resp_init(&r);
		rc = fhir_send(hl, "POST", hl->o.base, text, len, &r, true, err);
		if (rc == 1) {
			/* unknown outcome: search again and send only what is missing */
			rc = load_range(hl, lo, hi, conflicts, err);
		} else if (rc == 0 && r.status / 100 == 2) {
			count_success(hl, lo, hi, slots, n, r.body.buf);
		} else if (rc == 0 && r.status == 412 && conflicts < 3) {
			/* someone changed a resource since we read it: re-read, re-apply */
			rc = load_range(hl, lo, hi, conflicts + 1, err);
		} else if (rc == 0 && r.status / 100 == 4) {
			rc = bisect(hl, lo, hi, r.status, r.body.buf, err);
		} else if (rc == 0) {
			rc = dhp_fail(err, DHP_ECONNECT, hl->o.base, "transaction failed: HTTP %ld",
				      r.status);
		}
		http_resp_release(&r);
	}
	json_object_put(tx);
	free(slots);
	return rc;
}

/* ---- the pool: batches, workers, claims -------------------------------------- */

/* A batch of records waiting for a worker. */
struct batch {
	struct lrec *recs;
	int n, alloc;
	struct batch *next;
};

struct httpload {
	struct httpload_opts o;
	struct oauth auth;
	struct hmap ccreate;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct worker *workers;
	pthread_t *threads;
	int nworkers, started;
	struct batch *filling;		   /* the batch httpload_add fills */
	struct batch *queue, **queue_tail; /* waiting for a worker */
	int queued, busy;
	bool quit, failed;
	struct dhp_error err;	/* the first fatal error of a worker */
	struct hmap **inflight; /* business identifiers of each worker's batch, or NULL */
	struct httpload_counts c;
};

static int pool_bearer(struct worker *w, char *header, size_t len, bool *fatal,
		       struct dhp_error *err)
{
	struct httpload *p = w->pool;
	const char *token;
	pthread_mutex_lock(&p->mu);
	/* the cached token may be replaced by another worker: copy it while locked */
	int rc = oauth_bearer(&p->auth, w->h, &token, fatal, err);
	if (rc == 0)
		snprintf(header, len, "Authorization: Bearer %s", token);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

static void pool_invalidate(struct worker *w)
{
	pthread_mutex_lock(&w->pool->mu);
	oauth_invalidate(&w->pool->auth);
	pthread_mutex_unlock(&w->pool->mu);
}

static void pool_reject(struct worker *w, const struct lrec *rec, const struct dhp_error *why)
{
	struct httpload *p = w->pool;
	if (!p->o.reject)
		return;
	pthread_mutex_lock(&p->mu);
	p->o.reject(p->o.reject_ctx, rec->table, rec->key, why);
	pthread_mutex_unlock(&p->mu);
}

static void free_recs(struct lrec *recs, int n)
{
	for (int i = 0; i < n; i++) {
		struct lrec *rec = &recs[i];
		for (int k = 0; k < rec->n; k++) {
			json_object_put(rec->res[k].json);
			free(rec->res[k].query);
			free(rec->res[k].id);
			free(rec->res[k].version);
		}
		free(rec->res);
		free(rec->table);
		free(rec->key);
		free(rec->where);
	}
}

/* Business identifiers a batch creates or refers to. Two batches sharing
 * one must not be in flight together: each would find it absent and create
 * it. */
static void batch_keys(const struct batch *b, struct hmap *keys)
{
	for (int i = 0; i < b->n; i++)
		for (int k = 0; k < b->recs[i].n; k++)
			if (b->recs[i].res[k].query)
				hmap_put(keys, b->recs[i].res[k].query,
					 strlen(b->recs[i].res[k].query), (void *)(uintptr_t)b);
}

static bool keys_free(const struct httpload *p, const struct hmap *keys)
{
	for (int w = 0; w < p->nworkers; w++)
		for (size_t i = 0; p->inflight[w] && i < keys->nslots; i++)
			if (keys->slots[i].key &&
			    hmap_get(p->inflight[w], keys->slots[i].key, keys->slots[i].keylen))
				return false;
	return true;
}

static void add_counts(struct httpload_counts *to, const struct httpload_counts *c)
{
	to->loaded += c->loaded;
	to->unchanged += c->unchanged;
	to->rejected += c->rejected;
	to->created += c->created;
	to->updated += c->updated;
	to->same += c->same;
	to->requests += c->requests;
	to->retries += c->retries;
}

/* Load one batch on worker w (called without the lock). */
static void run_batch(struct worker *w, struct batch *b)
{
	struct httpload *p = w->pool;
	struct hmap keys = HMAP_INIT;
	batch_keys(b, &keys);
	pthread_mutex_lock(&p->mu);
	while (!keys_free(p, &keys))
		pthread_cond_wait(&p->cv, &p->mu);
	int slot = (int)(w - p->workers);
	p->inflight[slot] = &keys;
	bool failed = p->failed;
	pthread_mutex_unlock(&p->mu);

	struct dhp_error err = DHP_ERROR_INIT;
	int rc = 0;
	memset(&w->c, 0, sizeof(w->c));
	w->recs = b->recs;
	w->n = b->n;
	if (!failed)
		rc = load_range(w, 0, w->n, 0, &err);
	found_clear(w);

	pthread_mutex_lock(&p->mu);
	p->inflight[slot] = NULL;
	pthread_cond_broadcast(&p->cv);
	add_counts(&p->c, &w->c);
	if (rc && !p->failed) {
		p->failed = true;
		p->err = err;
	}
	pthread_mutex_unlock(&p->mu);
	hmap_clear(&keys);
	free_recs(b->recs, b->n);
	free(b->recs);
	free(b);
	w->recs = NULL;
	w->n = 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct httpload *p = w->pool;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->queue && !p->quit)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->queue)
			break;
		struct batch *b = p->queue;
		p->queue = b->next;
		if (!p->queue)
			p->queue_tail = &p->queue;
		p->queued--;
		p->busy++;
		pthread_mutex_unlock(&p->mu);
		run_batch(w, b);
		pthread_mutex_lock(&p->mu);
		p->busy--;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void worker_init(struct worker *w, struct httpload *p)
{
	memset(w, 0, sizeof(*w));
	w->o = p->o;
	w->pool = p;
	w->h = http_new(p->o.ca_file, p->o.timeout_s);
	w->auth = &p->auth;
	w->ccreate = &p->ccreate;
	strbuf_init(&w->url, 0);
}

static void worker_release(struct worker *w)
{
	found_clear(w);
	http_free(w->h);
	strbuf_release(&w->url);
}

struct httpload *httpload_open(const struct httpload_opts *o, struct oauth *auth,
			       struct dhp_error *err)
{
	struct httpload *p = xcalloc(1, sizeof(*p));
	p->o = *o;
	if (p->o.max_attempts < 1)
		p->o.max_attempts = 6;
	if (p->o.max_failures < 1)
		p->o.max_failures = 10;
	if (p->o.backoff_base <= 0)
		p->o.backoff_base = 0.5;
	if (p->o.backoff_cap <= 0)
		p->o.backoff_cap = 30;
	if (p->o.records_per_bundle < 1)
		p->o.records_per_bundle = 50;
	p->nworkers = p->o.concurrency > 0 ? p->o.concurrency : 4;
	p->auth = *auth;
	memset(auth, 0, sizeof(*auth));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->queue_tail = &p->queue;
	p->workers = xcalloc((size_t)p->nworkers, sizeof(*p->workers));
	p->threads = xcalloc((size_t)p->nworkers, sizeof(*p->threads));
	p->inflight = xcalloc((size_t)p->nworkers, sizeof(*p->inflight));
	for (int i = 0; i < p->nworkers; i++)
		worker_init(&p->workers[i], p);
	/* A refused token request stops everything before data is sent. */
	char header[4200];
	bool fatal;
	if (pool_bearer(&p->workers[0], header, sizeof(header), &fatal, err) ||
	    read_metadata(&p->workers[0], err)) {
		httpload_free(p);
		return NULL;
	}
	memset(header, 0, sizeof(header));
	for (; p->started < p->nworkers; p->started++)
		if (pthread_create(&p->threads[p->started], NULL, worker_main,
				   &p->workers[p->started])) {
			dhp_fail(err, DHP_EIO, "loader", "cannot start worker threads");
			httpload_free(p);
			return NULL;
		}
	return p;
}

/* Hand the filling batch to the workers; waits while every worker has one
 * queued already (bounded memory). */
static void submit(struct httpload *p)
{
	struct batch *b = p->filling;
	if (!b || !b->n)
		return;
	p->filling = NULL;
	pthread_mutex_lock(&p->mu);
	while (p->queued >= p->nworkers && !p->failed)
		pthread_cond_wait(&p->cv, &p->mu);
	*p->queue_tail = b;
	p->queue_tail = &b->next;
	p->queued++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static int check_failed(struct httpload *p, struct dhp_error *err)
{
	pthread_mutex_lock(&p->mu);
	bool failed = p->failed;
	if (failed)
		*err = p->err;
	pthread_mutex_unlock(&p->mu);
	return failed ? -1 : 0;
}

int httpload_add(struct httpload *p, struct mapped *m, const char *table, struct dhp_error *err)
{
	if (check_failed(p, err))
		return -1;
	if (!p->filling)
		p->filling = xcalloc(1, sizeof(*p->filling));
	struct batch *b = p->filling;
	if (b->n == b->alloc) {
		b->alloc = b->alloc ? b->alloc * 2 : 64;
		b->recs = xrealloc(b->recs, (size_t)b->alloc * sizeof(*b->recs));
	}
	struct lrec *rec = &b->recs[b->n++];
	memset(rec, 0, sizeof(*rec));
	rec->table = xstrdup(table);
	rec->key = xstrdup(m->key);
	rec->where = xstrdup(m->where);
	rec->n = m->n;
	rec->res = xcalloc((size_t)m->n + 1, sizeof(*rec->res));
	for (int k = 0; k < m->n; k++) {
		struct lres *r = &rec->res[k];
		r->type = m->res[k].def->type;
		/* a json-c copy: the mapper's tree lives only until its next record */
		r->json = jtree_to_jsonc(m->res[k].json);
		memcpy(r->uuid, m->res[k].uuid, sizeof(r->uuid));
		if (m->res[k].if_none_exist) {
			char q[1200];
			snprintf(q, sizeof(q), "%s?%s", r->type, m->res[k].if_none_exist);
			r->query = xstrdup(q);
		}
	}
	if (b->n >= p->o.records_per_bundle)
		submit(p);
	return 0;
}

int httpload_barrier(struct httpload *p, struct dhp_error *err)
{
	submit(p);
	pthread_mutex_lock(&p->mu);
	while ((p->queue || p->busy) && !p->failed)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
	return check_failed(p, err);
}

int httpload_finish(struct httpload *p, struct dhp_error *err)
{
	return httpload_barrier(p, err);
}

const struct httpload_counts *httpload_counts(const struct httpload *p)
{
	struct httpload *q = (struct httpload *)(uintptr_t)p;
	pthread_mutex_lock(&q->mu);
	q->c.tokens = q->auth.fetched;
	pthread_mutex_unlock(&q->mu);
	return &q->c;
}

void httpload_free(struct httpload *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	for (struct batch *b = p->queue, *next; b; b = next) {
		next = b->next;
		free_recs(b->recs, b->n);
		free(b->recs);
		free(b);
	}
	if (p->filling) {
		free_recs(p->filling->recs, p->filling->n);
		free(p->filling->recs);
		free(p->filling);
	}
	for (int i = 0; i < p->nworkers; i++)
		worker_release(&p->workers[i]);
	free(p->workers);
	free(p->threads);
	free(p->inflight);
	hmap_clear(&p->ccreate);
	oauth_free(&p->auth);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
