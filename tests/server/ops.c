/*
 * ops.c: the interactions of dhp-testserver, shared by plain REST calls,
 * transaction entries and batch entries, so that all three answer alike.
 *
 * A write goes in two steps. wop_plan checks everything that can fail
 * (If-None-Exist, If-Match, existence) and assigns ids without changing the
 * store; wop_resolve_refs rewrites references; wop_commit then cannot fail.
 * A transaction plans and resolves every entry before it commits any, which
 * is what makes it atomic.
 */
#include "core/dhp.h"

#include <uuid/uuid.h>

#include "testserver.h"

static void new_uuid(char *buf)
{
	uuid_t u;
	uuid_generate_random(u);
	uuid_unparse_lower(u, buf);
}

/* The expression naming the request of an entry, or NULL for a REST call. */
static const char *req_expr(const struct wop *w, struct strbuf *sb, const char *field)
{
	if (!*w->expr)
		return NULL;
	strbuf_addf(sb, "%s.request.%s", w->expr, field);
	return sb->buf;
}

/* Version number of an If-Match value: W/"3", "3" or 3; 0 when unreadable. */
static unsigned long parse_etag(const char *s)
{
	while (*s == ' ')
		s++;
	if (!strncmp(s, "W/", 2))
		s += 2;
	bool quoted = *s == '"';
	if (quoted)
		s++;
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || (quoted && *end != '"'))
		return 0;
	return v;
}

static bool plan_put(struct server *s, struct wop *w, struct outcome *oc)
{
	struct strbuf ex = STRBUF_INIT;
	bool ok = false;
	json_object *idv;
	const char *bid = json_object_object_get_ex(w->res, "id", &idv) &&
				  json_object_is_type(idv, json_type_string)
			      ? json_object_get_string(idv)
			      : NULL;
	if (!bid || !streq(bid, w->put_id)) {
		if (*w->expr)
			strbuf_addf(&ex, "%s.resource.ofType(%s).id", w->expr, w->ts->name);
		else
			strbuf_addf(&ex, "%s.id", w->ts->name);
		outcome_add(oc, 400, bid ? "value" : "required", ex.buf, NULL,
			    "%s.id: an update must carry the id of the URL (%s), found %s",
			    w->ts->name, w->put_id, bid ? bid : "none");
		goto out;
	}
	w->rec = store_get(w->ts, w->put_id);
	if (!w->rec) {
		outcome_add(oc, 404, "not-found", req_expr(w, &ex, "url"), NULL,
			    "%s/%s is not known (dhp-testserver assigns ids and does not create on "
			    "PUT)",
			    w->ts->name, w->put_id);
		goto out;
	}
	size_t cur = w->rec->nvers;
	if (s->force_412_pending) {
		s->force_412_pending = false;
		s->n.forced_412++;
		outcome_add(
		    oc, 412, "invalid", req_expr(w, &ex, "ifMatch"), "Version is mismatch",
		    "%s/%s: 412 forced by --force-412-first-put (current version W/\"%zu\")",
		    w->ts->name, w->put_id, cur);
		goto out;
	}
	if (!w->if_match || !*w->if_match) {
		s->n.version_mismatches++;
		outcome_add(oc, 412, "invalid", req_expr(w, &ex, "ifMatch"), "Version is mismatch",
			    "%s/%s: If-Match is required on every update (current version "
			    "W/\"%zu\")",
			    w->ts->name, w->put_id, cur);
		goto out;
	}
	unsigned long want = parse_etag(w->if_match);
	if (want != cur) {
		s->n.version_mismatches++;
		outcome_add(oc, 412, "invalid", req_expr(w, &ex, "ifMatch"), "Version is mismatch",
			    "%s/%s: If-Match %s, current version W/\"%zu\"", w->ts->name, w->put_id,
			    w->if_match, cur);
		goto out;
	}
	w->kind = WOP_UPDATE;
	ok = true;
out:
	strbuf_release(&ex);
	return ok;
}

/* If-None-Exist of a create: sets w->kind/rec to the match, if any. */
static bool plan_if_none_exist(struct wop *w, struct outcome *oc)
{
	struct strbuf ex = STRBUF_INIT, err = STRBUF_INIT;
	struct query q = {0};
	struct rec **recs = NULL;
	long n = -1;
	bool ok = false;
	if (!w->ts->cond_create) {
		outcome_add(oc, 400, "not-supported", req_expr(w, &ex, "ifNoneExist"), NULL,
			    "conditional create not supported for %s", w->ts->name);
		goto out;
	}
	/* Some clients send "Type?identifier=..." rather than the bare query. */
	const char *qs = w->if_none_exist, *qm = strchr(qs, '?');
	query_parse(&q, qm ? qm + 1 : qs);
	if (q.n)
		n = store_search(w->ts, &q, &recs, &err);
	if (n < 0) {
		outcome_add(oc, 400, "invalid", req_expr(w, &ex, "ifNoneExist"), NULL,
			    "If-None-Exist '%s': %s", w->if_none_exist,
			    err.len ? err.buf : "empty query");
	} else if (n > 1) {
		outcome_add(oc, 412, "multiple-matches", req_expr(w, &ex, "ifNoneExist"), NULL,
			    "If-None-Exist '%s' matched %ld %s resources", w->if_none_exist, n,
			    w->ts->name);
	} else {
		if (n == 1) {
			w->kind = WOP_EXISTING;
			w->rec = recs[0];
		}
		ok = true;
	}
out:
	free(recs);
	query_free(&q);
	strbuf_release(&ex);
	strbuf_release(&err);
	return ok;
}

bool wop_plan(struct server *s, struct wop *w, struct outcome *oc)
{
	if (w->is_put)
		return plan_put(s, w, oc);
	w->kind = WOP_CREATE;
	if (w->if_none_exist && *w->if_none_exist && !plan_if_none_exist(w, oc))
		return false;
	if (w->kind == WOP_CREATE)
		new_uuid(w->new_id);
	return true;
}

void wop_target(const struct wop *w, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s", w->ts->name, w->kind == WOP_CREATE ? w->new_id : w->rec->id);
}

unsigned wop_version(const struct wop *w)
{
	return w->rec ? (unsigned)w->rec->nvers : 1;
}

/* ---- references ---- */

struct refctx {
	struct server *s;
	const struct wop *w;
	const struct hmap *fullurls, *targets;
	struct outcome *oc;
	const char *base;
	struct walk walk;
};

static void ref_issue(struct refctx *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ref_issue(struct refctx *c, const char *code, const char *fmt, ...)
{
	struct strbuf ex = STRBUF_INIT, msg = STRBUF_INIT;
	strbuf_addstr(&ex, c->base);
	walk_path(&c->walk, &ex);
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	outcome_add(c->oc, 400, code, ex.buf, NULL, "%s", msg.buf);
	strbuf_release(&ex);
	strbuf_release(&msg);
}

/* "Type?identifier=..." → "Type/id" when exactly one resource matches. */
static void conditional_ref(struct refctx *c, json_object *v, const char *ref, const char *qm)
{
	const struct typestore *ts = store_type(&c->s->store, ref, (size_t)(qm - ref));
	if (!ts) {
		ref_issue(c, "invalid", "conditional reference %s: unknown resource type", ref);
		return;
	}
	struct query q = {0};
	struct strbuf err = STRBUF_INIT;
	struct rec **recs = NULL;
	long n = -1;
	query_parse(&q, qm + 1);
	if (q.n)
		n = store_search(ts, &q, &recs, &err);
	query_free(&q);
	if (n < 0)
		ref_issue(c, "invalid", "conditional reference %s: %s", ref,
			  err.len ? err.buf : "empty query");
	else if (n != 1)
		ref_issue(c, n ? "multiple-matches" : "not-found",
			  "conditional reference %s matched %ld resources (exactly 1 required)",
			  ref, n);
	else {
		char to[160];
		snprintf(to, sizeof(to), "%s/%s", ts->name, recs[0]->id);
		json_object_set_string(v, to);
	}
	free(recs);
	strbuf_release(&err);
}

static void check_local_ref(struct refctx *c, const char *ref)
{
	const char *slash = strchr(ref, '/');
	if (!slash || strchr(slash + 1, '/') || !slash[1])
		return;
	const struct typestore *ts = store_type(&c->s->store, ref, (size_t)(slash - ref));
	if (!ts)
		return;
	if (!store_get(ts, slash + 1) && !(c->targets && hmap_gets(c->targets, ref)))
		ref_issue(c, "not-found", "reference %s: no such resource on the server", ref);
}

static void one_ref(struct refctx *c, json_object *v)
{
	const char *ref = json_object_get_string(v);
	const char *to = c->fullurls ? hmap_gets(c->fullurls, ref) : NULL;
	if (to) {
		json_object_set_string(v, to);
		return;
	}
	if (!strncmp(ref, "urn:uuid:", 9) || !strncmp(ref, "urn:oid:", 8)) {
		if (c->fullurls)
			ref_issue(c, "invalid",
				  "reference %s is not the fullUrl of any entry of this Bundle",
				  ref);
		else
			ref_issue(c, "invalid",
				  "reference %s: urn: references resolve only inside a transaction",
				  ref);
		return;
	}
	const char *qm = strchr(ref, '?');
	if (qm && !memchr(ref, '/', (size_t)(qm - ref)) && qm > ref) {
		conditional_ref(c, v, ref, qm);
		return;
	}
	if (c->s->check_refs)
		check_local_ref(c, ref);
}

static void walk_refs(struct refctx *c, json_object *o)
{
	struct walk *w = &c->walk;
	if (w->depth >= (int)ARRAY_SIZE(w->key))
		return;
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			w->key[w->depth] = k;
			w->idx[w->depth++] = -1;
			if (streq(k, "reference") && json_object_is_type(v, json_type_string))
				one_ref(c, v);
			else
				walk_refs(c, v);
			w->depth--;
		}
	} else if (json_object_is_type(o, json_type_array)) {
		size_t n = json_object_array_length(o);
		for (size_t i = 0; i < n; i++) {
			w->key[w->depth] = NULL;
			w->idx[w->depth++] = (long)i;
			walk_refs(c, json_object_array_get_idx(o, i));
			w->depth--;
		}
	}
}

bool wop_resolve_refs(struct server *s, struct wop *w, const struct hmap *fullurls,
		      const struct hmap *targets, struct outcome *oc)
{
	struct strbuf base = STRBUF_INIT;
	if (*w->expr)
		strbuf_addf(&base, "%s.resource.ofType(%s)", w->expr, w->ts->name);
	else
		strbuf_addstr(&base, w->ts->name);
	struct refctx c = {s, w, fullurls, targets, oc, base.buf, {{0}, {0}, 0}};
	size_t before = json_object_array_length(oc->issues);
	walk_refs(&c, w->res);
	strbuf_release(&base);
	return json_object_array_length(oc->issues) == before;
}

void wop_commit(struct server *s, struct wop *w, int64_t now)
{
	switch (w->kind) {
	case WOP_CREATE:
		w->rec = store_create(w->ts, w->new_id, w->res, now);
		s->n.creates++;
		break;
	case WOP_EXISTING:
		s->n.cond_create_matches++;
		break;
	case WOP_UPDATE:
		store_update(w->rec, w->res, now);
		s->n.updates++;
		break;
	}
}

/* ---- reads and searches ---- */

json_object *version_json(const struct version *v)
{
	return json_parse(v->json, v->len);
}

json_object *searchset(struct rec **recs, long n, long total, const char *base, const char *self)
{
	char id[40], ts[40];
	json_object *b = json_object_new_object();
	json_object_object_add(b, "resourceType", json_object_new_string("Bundle"));
	new_uuid(id);
	json_object_object_add(b, "id", json_object_new_string(id));
	json_object *meta = json_object_new_object();
	fmt_instant(ts, sizeof(ts), now_ms());
	json_object_object_add(meta, "lastUpdated", json_object_new_string(ts));
	json_object_object_add(b, "meta", meta);
	json_object_object_add(b, "type", json_object_new_string("searchset"));
	json_object_object_add(b, "total", json_object_new_int64(total));
	json_object *links = json_object_new_array(), *l = json_object_new_object();
	json_object_object_add(l, "relation", json_object_new_string("self"));
	json_object_object_add(l, "url", json_object_new_string(self));
	json_object_array_add(links, l);
	json_object_object_add(b, "link", links);
	json_object *entries = json_object_new_array();
	for (long i = 0; i < n; i++) {
		json_object *e = json_object_new_object();
		struct strbuf url = STRBUF_INIT;
		strbuf_addf(&url, "%s/%s/%s", base, recs[i]->ts->name, recs[i]->id);
		json_object_object_add(e, "fullUrl", json_object_new_string(url.buf));
		strbuf_release(&url);
		json_object_object_add(e, "resource", version_json(rec_current(recs[i])));
		json_object *sm = json_object_new_object();
		json_object_object_add(sm, "mode", json_object_new_string("match"));
		json_object_object_add(e, "search", sm);
		json_object_array_add(entries, e);
	}
	json_object_object_add(b, "entry", entries);
	return b;
}

static int not_found(json_object **reply, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int not_found(json_object **reply, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	*reply = outcome_one("error", "not-found", NULL, sb.buf);
	strbuf_release(&sb);
	return 404;
}

static int search(struct server *s, const struct typestore *ts, const struct query *q,
		  const char *base, json_object **reply)
{
	long count = 100;
	const char *cs = query_get(q, "_count");
	if (cs) {
		char *end;
		count = strtol(cs, &end, 10);
		if (end == cs || *end || count < 0) {
			*reply =
			    outcome_one("error", "invalid", NULL, "_count must be an integer >= 0");
			return 400;
		}
		/* No paging here: a page is all the loader ever needs for identifier look-ups. */
		if (count > 1000)
			count = 1000;
	}
	struct strbuf err = STRBUF_INIT, self = STRBUF_INIT;
	struct rec **recs;
	long n = store_search(ts, q, &recs, &err);
	if (n < 0) {
		*reply = outcome_one("error", "not-supported", NULL, err.buf);
		strbuf_release(&err);
		return 400;
	}
	s->n.searches++;
	strbuf_addf(&self, "%s/%s", base, ts->name);
	for (size_t i = 0; i < q->n; i++) {
		strbuf_addch(&self, i ? '&' : '?');
		strbuf_addstr(&self, q->p[i].name);
		strbuf_addch(&self, '=');
		for (const char *v = q->p[i].value; *v; v++)
			if (strchr("|&#%+ ", *v) || (unsigned char)*v < 0x20)
				strbuf_addf(&self, "%%%02X", (unsigned char)*v);
			else
				strbuf_addch(&self, *v);
	}
	*reply = searchset(recs, n < count ? n : count, n, base, self.buf);
	free(recs);
	strbuf_release(&self);
	strbuf_release(&err);
	return 200;
}

int rest_get(struct server *s, const char *path, const struct query *q, const char *base,
	     json_object **reply, char *etag, size_t etag_n, int64_t *mtime)
{
	char *p = xstrdup(path), *save = NULL;
	char *seg[5] = {0};
	int nseg = 0;
	for (char *t = strtok_r(p, "/", &save); t; t = strtok_r(NULL, "/", &save))
		if (nseg < (int)ARRAY_SIZE(seg))
			seg[nseg++] = t;
		else
			nseg++;
	int status;
	const struct typestore *ts = nseg ? store_type(&s->store, seg[0], strlen(seg[0])) : NULL;
	if (!ts) {
		status = not_found(reply, "Unknown resource type '%s'", nseg ? seg[0] : "");
		goto out;
	}
	if (nseg == 1) {
		status = search(s, ts, q, base, reply);
		goto out;
	}
	struct rec *r = store_get(ts, seg[1]);
	if (nseg == 2) {
		if (!r) {
			status = not_found(reply, "Resource %s/%s is not known", ts->name, seg[1]);
			goto out;
		}
		s->n.reads++;
		const struct version *v = rec_current(r);
		*reply = version_json(v);
		snprintf(etag, etag_n, "W/\"%zu\"", r->nvers);
		*mtime = v->mtime_ms;
		status = 200;
		goto out;
	}
	if (nseg == 4 && streq(seg[2], "_history")) {
		char *end;
		unsigned long vn = strtoul(seg[3], &end, 10);
		if (!r || *end || vn < 1 || vn > r->nvers) {
			status = not_found(reply, "Version %s of %s/%s is not known", seg[3],
					   ts->name, seg[1]);
			goto out;
		}
		s->n.vreads++;
		*reply = version_json(&r->vers[vn - 1]);
		snprintf(etag, etag_n, "W/\"%lu\"", vn);
		*mtime = r->vers[vn - 1].mtime_ms;
		status = 200;
		goto out;
	}
	*reply = outcome_one("error", "not-supported", NULL,
			     "dhp-testserver supports read, vread and search-type only");
	status = 400;
out:
	free(p);
	return status;
}
