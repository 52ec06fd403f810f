/*
 * bundle.c: POST [base] with a transaction or batch Bundle.
 *
 * Transaction: every entry is checked first (structure and validation
 * without the lock, then If-None-Exist, If-Match and references under it),
 * and only when all pass is anything stored; otherwise the reply is one
 * OperationOutcome naming the entries (Bundle.entry[i]...) and the store is
 * as it was. That is the DHP behaviour the loader's bisection relies on.
 * Batch: each entry on its own, with its own response status.
 */
#include "core/dhp.h"

#include "testserver.h"

/* What an entry asks for, read from entry.request. */
struct entry {
	json_object *obj;
	const char *method, *url, *fullurl;
	struct wop w;
	bool is_write, is_delete;
	char type[64];
	char id[64];
};

static const char *str_member(json_object *o, const char *key)
{
	json_object *v;
	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static const char *status_text(int status)
{
	switch (status) {
	case 200:
		return "200 OK";
	case 201:
		return "201 Created";
	case 400:
		return "400 Bad Request";
	case 404:
		return "404 Not Found";
	case 405:
		return "405 Method Not Allowed";
	case 409:
		return "409 Conflict";
	case 412:
		return "412 Precondition Failed";
	default:
		return "500 Internal Server Error";
	}
}

/*
 * Read entry i into e. Request-level problems (no request, bad method or
 * url) go to oc. Returns false when the entry cannot be processed.
 */
static bool read_entry(const struct server *s, json_object *obj, size_t i, struct entry *e,
		       bool transaction, struct outcome *oc)
{
	struct strbuf ex = STRBUF_INIT;
	bool ok = false;
	memset(e, 0, sizeof(*e));
	e->obj = obj;
	snprintf(e->w.expr, sizeof(e->w.expr), "Bundle.entry[%zu]", i);
	json_object *req;
	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "request", &req) ||
	    !json_object_is_type(req, json_type_object)) {
		strbuf_addf(&ex, "%s.request", e->w.expr);
		outcome_add(oc, 400, "required", ex.buf, NULL,
			    "Bundle.entry.request: minimum required = 1, but only found 0");
		goto out;
	}
	e->method = str_member(req, "method");
	e->url = str_member(req, "url");
	e->fullurl = str_member(obj, "fullUrl");
	if (!e->method || !e->url || !*e->url) {
		strbuf_addf(&ex, "%s.request", e->w.expr);
		outcome_add(oc, 400, "required", ex.buf, NULL,
			    "Bundle.entry.request.method and .url are required");
		goto out;
	}
	strbuf_addf(&ex, "%s.request.method", e->w.expr);
	if (streq(e->method, "DELETE")) {
		e->is_delete = true;
		outcome_add(
		    oc, 405, "not-supported", ex.buf, NULL,
		    "DELETE is not allowed: deletion on DHP is logical (set status instead)");
		goto out;
	}
	if (streq(e->method, "GET") || streq(e->method, "HEAD")) {
		if (transaction) {
			outcome_add(oc, 400, "not-supported", ex.buf, NULL,
				    "%s entries are not supported in a transaction by "
				    "dhp-testserver (use a batch)",
				    e->method);
			goto out;
		}
		ok = true;
		goto out;
	}
	if (!streq(e->method, "POST") && !streq(e->method, "PUT")) {
		outcome_add(oc, 400, "not-supported", ex.buf, NULL,
			    "request.method %s is not supported", e->method);
		goto out;
	}
	e->is_write = true;
	e->w.is_put = streq(e->method, "PUT");
	strbuf_reset(&ex);
	strbuf_addf(&ex, "%s.request.url", e->w.expr);
	const char *u = e->url;
	if (*u == '/')
		u++;
	size_t tl = strcspn(u, "/?");
	if (tl >= sizeof(e->type)) {
		outcome_add(oc, 400, "value", ex.buf, NULL, "request.url %s: bad type", e->url);
		goto out;
	}
	memcpy(e->type, u, tl);
	e->type[tl] = '\0';
	e->w.ts = store_type(&s->store, e->type, tl);
	if (!e->w.ts) {
		outcome_add(oc, 400, "value", ex.buf, NULL,
			    "request.url %s: unknown resource type '%s'", e->url, e->type);
		goto out;
	}
	if (e->w.is_put) {
		const char *id = u + tl;
		if (*id != '/' || !id[1] || strchr(id + 1, '/') || strchr(id + 1, '?') ||
		    strlen(id + 1) >= sizeof(e->id)) {
			outcome_add(oc, 400, "value", ex.buf, NULL,
				    "request.url %s: a PUT needs Type/id (conditional update is "
				    "not supported by DHP)",
				    e->url);
			goto out;
		}
		snprintf(e->id, sizeof(e->id), "%s", id + 1);
		e->w.put_id = e->id;
		e->w.if_match = str_member(req, "ifMatch");
	} else {
		if (u[tl]) {
			outcome_add(oc, 400, "value", ex.buf, NULL,
				    "request.url %s: a create is POST to the bare type", e->url);
			goto out;
		}
		e->w.if_none_exist = str_member(req, "ifNoneExist");
	}
	e->w.fullurl = e->fullurl;
	if (!json_object_object_get_ex(obj, "resource", &e->w.res) ||
	    !json_object_is_type(e->w.res, json_type_object)) {
		strbuf_reset(&ex);
		strbuf_addf(&ex, "%s.resource", e->w.expr);
		outcome_add(oc, 400, "required", ex.buf, NULL,
			    "Bundle.entry.resource is required for %s", e->method);
		goto out;
	}
	ok = true;
out:
	strbuf_release(&ex);
	return ok;
}

static json_object *response_entry(const struct wop *w, bool want_repr)
{
	char loc[200], etag[32], lm[40];
	const struct version *v = rec_current(w->rec);
	json_object *e = json_object_new_object(), *r = json_object_new_object();
	int status = w->kind == WOP_CREATE ? 201 : 200;
	json_object_object_add(r, "status", json_object_new_string(status_text(status)));
	snprintf(loc, sizeof(loc), "%s/%s/_history/%zu", w->ts->name, w->rec->id, w->rec->nvers);
	json_object_object_add(r, "location", json_object_new_string(loc));
	snprintf(etag, sizeof(etag), "W/\"%zu\"", w->rec->nvers);
	json_object_object_add(r, "etag", json_object_new_string(etag));
	fmt_instant(lm, sizeof(lm), v->mtime_ms);
	json_object_object_add(r, "lastModified", json_object_new_string(lm));
	if (want_repr)
		json_object_object_add(e, "resource",
				       w->kind == WOP_EXISTING ? version_json(v)
							       : json_object_get(w->res));
	json_object_object_add(e, "response", r);
	return e;
}

static json_object *new_bundle(const char *type)
{
	json_object *b = json_object_new_object();
	json_object_object_add(b, "resourceType", json_object_new_string("Bundle"));
	json_object_object_add(b, "type", json_object_new_string(type));
	return b;
}

static int transaction(struct server *s, json_object *entries, bool scan_marker, bool want_repr,
		       json_object **reply)
{
	size_t n = entries ? json_object_array_length(entries) : 0;
	struct entry *es = xcalloc(n ? n : 1, sizeof(*es));
	struct outcome oc;
	struct hmap fullurls = HMAP_INIT, targets = HMAP_INIT;
	char **owned = xcalloc(n ? n : 1, sizeof(*owned));
	int status;
	outcome_init(&oc);

	/* Checks that need no lock: structure and validation of every entry. */
	for (size_t i = 0; i < n; i++) {
		struct entry *e = &es[i];
		if (!read_entry(s, json_object_array_get_idx(entries, i), i, e, true, &oc))
			continue;
		resource_validate(&s->store, e->w.res, e->type, e->w.expr, scan_marker, &oc);
		if (e->fullurl && hmap_gets(&fullurls, e->fullurl)) {
			struct strbuf ex = STRBUF_INIT;
			strbuf_addf(&ex, "%s.fullUrl", e->w.expr);
			outcome_add(&oc, 400, "invalid", ex.buf, NULL,
				    "fullUrl %s appears more than once in the Bundle", e->fullurl);
			strbuf_release(&ex);
		} else if (e->fullurl) {
			hmap_put(&fullurls, e->fullurl, strlen(e->fullurl), e);
		}
	}
	pthread_mutex_lock(&s->lock);
	s->n.transactions++;
	s->n.transaction_entries += n;
	for (size_t i = 0; i < n; i++)
		s->n.deletes += es[i].is_delete;
	if (!outcome_empty(&oc)) {
		s->n.validation_failures++;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		struct entry *e = &es[i];
		if (!wop_plan(s, &e->w, &oc))
			continue;
		char t[160];
		wop_target(&e->w, t, sizeof(t));
		if (e->w.is_put && hmap_gets(&targets, t)) {
			struct strbuf ex = STRBUF_INIT;
			strbuf_addf(&ex, "%s.request.url", e->w.expr);
			outcome_add(&oc, 400, "invalid", ex.buf, NULL,
				    "%s is the target of more than one entry", t);
			strbuf_release(&ex);
		}
		owned[i] = xstrdup(t);
		hmap_put(&targets, t, strlen(t), owned[i]);
		if (e->fullurl)
			hmap_put(&fullurls, e->fullurl, strlen(e->fullurl), owned[i]);
	}
	if (!outcome_empty(&oc))
		goto fail;
	for (size_t i = 0; i < n; i++)
		wop_resolve_refs(s, &es[i].w, &fullurls, &targets, &oc);
	if (!outcome_empty(&oc))
		goto fail;

	/* Everything checked: from here nothing can fail. */
	int64_t now = now_ms();
	*reply = new_bundle("transaction-response");
	json_object *out = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		wop_commit(s, &es[i].w, now);
		json_object_array_add(out, response_entry(&es[i].w, want_repr));
	}
	pthread_mutex_unlock(&s->lock);
	json_object_object_add(*reply, "entry", out);
	status = 200;
	goto out;
fail:
	s->n.transactions_failed++;
	pthread_mutex_unlock(&s->lock);
	status = oc.status;
	*reply = outcome_take(&oc);
out:
	for (size_t i = 0; i < n; i++)
		free(owned[i]);
	free(owned);
	hmap_clear(&fullurls);
	hmap_clear(&targets);
	outcome_free(&oc);
	free(es);
	return status;
}

/* The reply entry of a failed batch entry. */
static json_object *failed_entry(int status, json_object *outcome)
{
	json_object *e = json_object_new_object(), *r = json_object_new_object();
	json_object_object_add(r, "status", json_object_new_string(status_text(status)));
	json_object_object_add(r, "outcome", outcome);
	json_object_object_add(e, "response", r);
	return e;
}

static json_object *batch_get(struct server *s, struct entry *e, const char *base)
{
	const char *u = e->url;
	if (*u == '/')
		u++;
	const char *qm = strchr(u, '?');
	char *path = qm ? xstrndup(u, (size_t)(qm - u)) : xstrdup(u);
	struct query q = {0};
	if (qm)
		query_parse(&q, qm + 1);
	json_object *res = NULL;
	char etag[32] = "";
	int64_t mtime = 0;
	pthread_mutex_lock(&s->lock);
	int status = rest_get(s, path, &q, base, &res, etag, sizeof(etag), &mtime);
	pthread_mutex_unlock(&s->lock);
	query_free(&q);
	free(path);
	if (status != 200)
		return failed_entry(status, res);
	json_object *out = json_object_new_object(), *r = json_object_new_object();
	json_object_object_add(r, "status", json_object_new_string("200 OK"));
	if (*etag) {
		char lm[40];
		json_object_object_add(r, "etag", json_object_new_string(etag));
		fmt_instant(lm, sizeof(lm), mtime);
		json_object_object_add(r, "lastModified", json_object_new_string(lm));
	}
	json_object_object_add(out, "resource", res);
	json_object_object_add(out, "response", r);
	return out;
}

static int batch(struct server *s, json_object *entries, const char *base, bool scan_marker,
		 bool want_repr, json_object **reply)
{
	size_t n = entries ? json_object_array_length(entries) : 0;
	json_object *out = json_object_new_array();
	unsigned long failed = 0, deletes = 0;
	for (size_t i = 0; i < n; i++) {
		struct entry e;
		struct outcome oc;
		json_object *re = NULL;
		outcome_init(&oc);
		if (!read_entry(s, json_object_array_get_idx(entries, i), i, &e, false, &oc)) {
			deletes += e.is_delete;
			re = failed_entry(oc.status, outcome_take(&oc));
		} else if (!e.is_write) {
			re = batch_get(s, &e, base);
		} else if (!resource_validate(&s->store, e.w.res, e.type, e.w.expr, scan_marker,
					      &oc)) {
			pthread_mutex_lock(&s->lock);
			s->n.validation_failures++;
			pthread_mutex_unlock(&s->lock);
			re = failed_entry(oc.status, outcome_take(&oc));
		} else {
			pthread_mutex_lock(&s->lock);
			if (wop_plan(s, &e.w, &oc) && wop_resolve_refs(s, &e.w, NULL, NULL, &oc)) {
				wop_commit(s, &e.w, now_ms());
				re = response_entry(&e.w, want_repr);
			}
			pthread_mutex_unlock(&s->lock);
			if (!re)
				re = failed_entry(oc.status, outcome_take(&oc));
		}
		json_object *resp;
		json_object_object_get_ex(re, "response", &resp);
		const char *st = str_member(resp, "status");
		if (st && *st != '2')
			failed++;
		json_object_array_add(out, re);
		outcome_free(&oc);
	}
	pthread_mutex_lock(&s->lock);
	s->n.batches++;
	s->n.batch_entries += n;
	s->n.batch_entries_failed += failed;
	s->n.deletes += deletes;
	pthread_mutex_unlock(&s->lock);
	*reply = new_bundle("batch-response");
	json_object_object_add(*reply, "entry", out);
	return 200;
}

int bundle_process(struct server *s, json_object *bundle, const char *base, bool scan_marker,
		   bool want_repr, json_object **reply)
{
	const char *rt = str_member(bundle, "resourceType");
	const char *type = str_member(bundle, "type");
	json_object *entries = NULL;
	if (!rt || !streq(rt, "Bundle")) {
		*reply = outcome_one("error", "invalid", NULL,
				     "POST [base] takes a Bundle of type transaction or batch");
		return 400;
	}
	if (json_object_object_get_ex(bundle, "entry", &entries) &&
	    !json_object_is_type(entries, json_type_array)) {
		*reply = outcome_one("error", "structure", NULL, "Bundle.entry must be an array");
		return 400;
	}
	if (type && streq(type, "transaction"))
		return transaction(s, entries, scan_marker, want_repr, reply);
	if (type && streq(type, "batch"))
		return batch(s, entries, base, scan_marker, want_repr, reply);
	*reply = outcome_one("error", "value", NULL,
			     "Bundle.type must be transaction or batch for POST [base]");
	return 400;
}
