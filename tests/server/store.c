/*
 * store.c: dhp-testserver's in-memory store.
 *
 * Every version is kept as serialised JSON rather than as a json-c tree:
 * a benchmark stores millions of resources, and a tree costs several times
 * the text. Reads parse the text again, which is rare in a load run.
 * The identifier index holds every identifier of the current version, so
 * search, If-None-Exist and conditional references see what a client sees.
 */
#include "core/dhp.h"

#include <ctype.h>

#include "testserver.h"

/* ---- query strings ---- */

void query_add(struct query *q, const char *name, const char *value)
{
	ALLOC_GROW(q->p, q->n + 1, q->alloc);
	q->p[q->n].name = xstrdup(name);
	q->p[q->n].value = xstrdup(value ? value : "");
	q->n++;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static char *pct_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
			   hexval((unsigned char)s[i + 2]) >= 0) {
			*o++ = (char)(hexval((unsigned char)s[i + 1]) * 16 +
				      hexval((unsigned char)s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

void query_parse(struct query *q, const char *s)
{
	while (s && *s) {
		size_t len = strcspn(s, "&");
		const char *eq = memchr(s, '=', len);
		size_t nlen = eq ? (size_t)(eq - s) : len;
		if (len) {
			char *name = pct_decode(s, nlen);
			char *value = eq ? pct_decode(eq + 1, len - nlen - 1) : xstrdup("");
			ALLOC_GROW(q->p, q->n + 1, q->alloc);
			q->p[q->n].name = name;
			q->p[q->n].value = value;
			q->n++;
		}
		s += len;
		if (*s == '&')
			s++;
	}
}

void query_free(struct query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		free(q->p[i].name);
		free(q->p[i].value);
	}
	free(q->p);
	q->p = NULL;
	q->n = q->alloc = 0;
}

const char *query_get(const struct query *q, const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (streq(q->p[i].name, name))
			return q->p[i].value;
	return NULL;
}

/* ---- types and records ---- */

struct typestore *store_add_type(struct store *st, const char *name, bool cond_create)
{
	struct typestore *ts = hmap_gets(&st->types, name);
	if (!ts) {
		ts = xcalloc(1, sizeof(*ts));
		ts->name = xstrdup(name);
		hmap_put(&st->types, name, strlen(name), ts);
		ALLOC_GROW(st->names, st->nnames + 1, st->anames);
		st->names[st->nnames++] = ts->name;
	}
	ts->cond_create = cond_create;
	return ts;
}

struct typestore *store_type(const struct store *st, const char *name, size_t len)
{
	return hmap_get(&st->types, name, len);
}

struct rec *store_get(const struct typestore *ts, const char *id)
{
	return hmap_gets(&ts->by_id, id);
}

const struct version *rec_current(const struct rec *r)
{
	return &r->vers[r->nvers - 1];
}

size_t store_count(const struct store *st)
{
	size_t n = 0;
	for (size_t i = 0; i < st->nnames; i++)
		n += ((struct typestore *)hmap_gets(&st->types, st->names[i]))->nall;
	return n;
}

/*
 * Lists start at one slot and live in one allocation with their header:
 * nearly every identifier names one resource, and with millions of
 * resources in a benchmark the index would otherwise outweigh the data.
 */
static void list_add(struct hmap *m, const char *key, size_t keylen, struct rec *r)
{
	struct hmap_entry *e = hmap_slot(m, key, keylen);
	struct reclist *l = e->value;
	if (!l) {
		l = xmalloc(sizeof(*l) + sizeof(l->v[0]));
		l->n = 0;
		l->alloc = 1;
	}
	/* A resource may carry the same identifier twice; index it once. */
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == r)
			return;
	if (l->n == l->alloc) {
		l->alloc *= 2;
		l = xrealloc(l, sizeof(*l) + l->alloc * sizeof(l->v[0]));
	}
	e->value = l;
	/* Keep creation order: an update re-adds an old record behind newer ones. */
	size_t at = l->n;
	while (at > 0 && l->v[at - 1]->seq > r->seq)
		at--;
	memmove(l->v + at + 1, l->v + at, (l->n - at) * sizeof(*l->v));
	l->v[at] = r;
	l->n++;
}

static void list_remove(struct hmap *m, const char *key, size_t keylen, struct rec *r)
{
	struct reclist *l = hmap_get(m, key, keylen);
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == r) {
			memmove(l->v + i, l->v + i + 1, (l->n - i - 1) * sizeof(*l->v));
			l->n--;
			return;
		}
}

static void unindex(struct rec *r)
{
	for (size_t i = 0; i < r->nidents; i++) {
		struct ident *id = &r->idents[i];
		list_remove(&r->ts->by_key, id->key, strlen(id->key), r);
		const char *val = id->key + id->syslen + 1;
		list_remove(&r->ts->by_value, val, strlen(val), r);
		free(id->key);
	}
	free(r->idents);
	r->idents = NULL;
	r->nidents = 0;
}

static void reindex(struct rec *r, json_object *res)
{
	unindex(r);
	json_object *ids;
	if (!json_object_object_get_ex(res, "identifier", &ids) ||
	    !json_object_is_type(ids, json_type_array))
		return;
	size_t n = json_object_array_length(ids);
	r->idents = xcalloc(n ? n : 1, sizeof(*r->idents));
	for (size_t i = 0; i < n; i++) {
		json_object *idf = json_object_array_get_idx(ids, i), *sys, *val;
		/* An identifier without a value cannot be searched for. */
		if (!json_object_object_get_ex(idf, "value", &val) ||
		    !json_object_is_type(val, json_type_string))
			continue;
		const char *system = "";
		if (json_object_object_get_ex(idf, "system", &sys) &&
		    json_object_is_type(sys, json_type_string))
			system = json_object_get_string(sys);
		struct strbuf key = STRBUF_INIT;
		strbuf_addf(&key, "%s|%s", system, json_object_get_string(val));
		struct ident *id = &r->idents[r->nidents++];
		id->syslen = strlen(system);
		id->key = strbuf_detach(&key, NULL);
		list_add(&r->ts->by_key, id->key, strlen(id->key), r);
		const char *v = id->key + id->syslen + 1;
		list_add(&r->ts->by_value, v, strlen(v), r);
	}
}

static void set_meta(json_object *res, const char *id, size_t version, int64_t now)
{
	static const char *const first[] = {"resourceType", "id", "meta"};
	char buf[40];
	json_object *meta;
	if (!json_object_object_get_ex(res, "meta", &meta) ||
	    !json_object_is_type(meta, json_type_object)) {
		meta = json_object_new_object();
		json_object_object_add(res, "meta", meta);
	}
	snprintf(buf, sizeof(buf), "%zu", version);
	json_object_object_add(meta, "versionId", json_object_new_string(buf));
	fmt_instant(buf, sizeof(buf), now);
	json_object_object_add(meta, "lastUpdated", json_object_new_string(buf));
	json_object_object_add(res, "id", json_object_new_string(id));
	/* Where FHIR servers put them, so stored resources read naturally. */
	json_keys_first(res, first, ARRAY_SIZE(first));
}

static void add_version(struct rec *r, json_object *res, int64_t now)
{
	set_meta(res, r->id, r->nvers + 1, now);
	size_t len;
	const char *s = json_object_to_json_string_length(
	    res, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	/* Most resources never get a second version: grow from one, not ALLOC_GROW's eight. */
	if (r->nvers == r->avers) {
		r->avers = r->avers ? r->avers * 2 : 1;
		r->vers = xrealloc(r->vers, r->avers * sizeof(*r->vers));
	}
	struct version *v = &r->vers[r->nvers++];
	v->json = xstrndup(s, len);
	v->len = len;
	v->mtime_ms = now;
	reindex(r, res);
}

struct rec *store_create(struct typestore *ts, const char *id, json_object *res, int64_t now)
{
	struct rec *r = xcalloc(1, sizeof(*r));
	r->ts = ts;
	snprintf(r->id, sizeof(r->id), "%s", id);
	hmap_put(&ts->by_id, r->id, strlen(r->id), r);
	ALLOC_GROW(ts->all, ts->nall + 1, ts->aall);
	ts->all[ts->nall++] = r;
	/* Guarded by the server lock like everything else here. */
	static uint64_t seq;
	r->seq = ++seq;
	add_version(r, res, now);
	return r;
}

void store_update(struct rec *r, json_object *res, int64_t now)
{
	add_version(r, res, now);
}

/* ---- search ---- */

static bool rec_has(const struct rec *r, const char *alt)
{
	const char *bar = strchr(alt, '|');
	for (size_t i = 0; i < r->nidents; i++) {
		const struct ident *id = &r->idents[i];
		if (bar ? streq(id->key, alt) : streq(id->key + id->syslen + 1, alt))
			return true;
	}
	return false;
}

/* Does r match the (comma-separated, OR-ed) values of one parameter? */
static bool rec_matches(const struct rec *r, const struct qparam *p)
{
	char *vals = xstrdup(p->value), *save = NULL;
	bool hit = false;
	for (char *alt = strtok_r(vals, ",", &save); alt && !hit; alt = strtok_r(NULL, ",", &save))
		hit = streq(p->name, "_id") ? streq(r->id, alt) : rec_has(r, alt);
	free(vals);
	return hit;
}

static void candidates(const struct typestore *ts, const struct qparam *p, struct rec ***out,
		       size_t *n, size_t *alloc)
{
	char *vals = xstrdup(p->value), *save = NULL;
	for (char *alt = strtok_r(vals, ",", &save); alt; alt = strtok_r(NULL, ",", &save)) {
		if (streq(p->name, "_id")) {
			struct rec *r = store_get(ts, alt);
			if (r) {
				ALLOC_GROW(*out, *n + 1, *alloc);
				(*out)[(*n)++] = r;
			}
			continue;
		}
		const struct reclist *l =
		    strchr(alt, '|') ? hmap_gets(&ts->by_key, alt) : hmap_gets(&ts->by_value, alt);
		for (size_t i = 0; l && i < l->n; i++) {
			ALLOC_GROW(*out, *n + 1, *alloc);
			(*out)[(*n)++] = l->v[i];
		}
	}
	free(vals);
}

static int by_seq(const void *a, const void *b)
{
	const struct rec *x = *(struct rec *const *)a, *y = *(struct rec *const *)b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool param_ok(const struct qparam *p, struct strbuf *err)
{
	if (streq(p->name, "_id")) {
		if (!*p->value) {
			strbuf_addstr(err, "empty _id parameter");
			return false;
		}
		return true;
	}
	if (!streq(p->name, "identifier")) {
		strbuf_addf(err,
			    "unknown or unsupported search parameter '%s' (dhp-testserver "
			    "supports identifier, _id, _count)",
			    p->name);
		return false;
	}
	if (!*p->value) {
		strbuf_addstr(err, "empty identifier parameter");
		return false;
	}
	/* "system|" (any value in a system) is valid FHIR, but no loader needs it. */
	char *vals = xstrdup(p->value), *save = NULL;
	bool ok = true;
	for (char *alt = strtok_r(vals, ",", &save); alt && ok; alt = strtok_r(NULL, ",", &save)) {
		const char *bar = strchr(alt, '|');
		if (bar && !bar[1]) {
			strbuf_addf(err, "identifier=%s: a search by system alone is not supported",
				    alt);
			ok = false;
		}
	}
	free(vals);
	return ok;
}

long store_search(const struct typestore *ts, const struct query *q, struct rec ***out,
		  struct strbuf *err)
{
	const struct qparam *first = NULL;
	*out = NULL;
	for (size_t i = 0; i < q->n; i++) {
		const struct qparam *p = &q->p[i];
		if (streq(p->name, "_count") || streq(p->name, "_format") ||
		    streq(p->name, "_total"))
			continue;
		if (!param_ok(p, err))
			return -1;
		if (!first)
			first = p;
	}
	size_t n = 0, alloc = 0;
	if (!first) {
		if (ts->nall) {
			*out = xmalloc(ts->nall * sizeof(**out));
			memcpy(*out, ts->all, ts->nall * sizeof(**out));
		}
		return (long)ts->nall;
	}
	candidates(ts, first, out, &n, &alloc);
	/* OR-ed alternatives may name one record twice and break creation order. */
	if (n > 1) {
		qsort(*out, n, sizeof(**out), by_seq);
		size_t k = 1;
		for (size_t i = 1; i < n; i++)
			if ((*out)[i] != (*out)[k - 1])
				(*out)[k++] = (*out)[i];
		n = k;
	}
	/* Repeated parameters are AND-ed, as FHIR says. */
	for (size_t i = 0; i < q->n; i++) {
		const struct qparam *p = &q->p[i];
		if (p == first || (!streq(p->name, "identifier") && !streq(p->name, "_id")))
			continue;
		size_t k = 0;
		for (size_t j = 0; j < n; j++)
			if (rec_matches((*out)[j], p))
				(*out)[k++] = (*out)[j];
		n = k;
	}
	return (long)n;
}
