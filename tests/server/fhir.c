/*
 * fhir.c: OperationOutcome building, time stamps and the validation rules
 * of dhp-testserver.
 *
 * The rules are few on purpose: enough that a loader's error handling and
 * bisection of failed transactions is exercised (missing meta.profile,
 * required elements of Patient/Observation/Encounter, and a planted marker
 * string), with messages shaped like the DHP server's (HAPI style:
 * "Observation.status: minimum required = 1, but only found 0 (from ...)").
 */
#include "core/dhp.h"

#include <time.h>

#include "testserver.h"

/* ---- OperationOutcome ---- */

void outcome_init(struct outcome *oc)
{
	oc->issues = json_object_new_array();
	oc->status = 0;
}

void outcome_free(struct outcome *oc)
{
	json_object_put(oc->issues);
	oc->issues = NULL;
}

bool outcome_empty(const struct outcome *oc)
{
	return json_object_array_length(oc->issues) == 0;
}

static json_object *issue(const char *severity, const char *code, const char *expr,
			  const char *details, const char *diagnostics)
{
	json_object *is = json_object_new_object();
	json_object_object_add(is, "severity", json_object_new_string(severity));
	json_object_object_add(is, "code", json_object_new_string(code));
	if (details) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "text", json_object_new_string(details));
		json_object_object_add(is, "details", d);
	}
	if (diagnostics)
		json_object_object_add(is, "diagnostics", json_object_new_string(diagnostics));
	if (expr) {
		json_object *a = json_object_new_array();
		json_object_array_add(a, json_object_new_string(expr));
		json_object_object_add(is, "expression", a);
	}
	return is;
}

void outcome_add(struct outcome *oc, int status, const char *code, const char *expr,
		 const char *details, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	json_object_array_add(oc->issues, issue("error", code, expr, details, sb.buf));
	strbuf_release(&sb);
	if (!oc->status)
		oc->status = status;
}

json_object *outcome_take(struct outcome *oc)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "resourceType", json_object_new_string("OperationOutcome"));
	json_object_object_add(o, "issue", oc->issues);
	oc->issues = json_object_new_array();
	return o;
}

json_object *outcome_one(const char *severity, const char *code, const char *details,
			 const char *diagnostics)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "resourceType", json_object_new_string("OperationOutcome"));
	json_object *a = json_object_new_array();
	json_object_array_add(a, issue(severity, code, NULL, details, diagnostics));
	json_object_object_add(o, "issue", a);
	return o;
}

/* ---- JSON ---- */

json_object *json_parse(const char *s, size_t n)
{
	/* Deeper than json-c's default of 32: a Bundle entry's resource can nest that far. */
	json_tokener *tok = json_tokener_new_ex(256);
	json_object *o = json_tokener_parse_ex(tok, s, (int)n);
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		for (size_t i = json_tokener_get_parse_end(tok); i < n; i++)
			if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
				json_object_put(o);
				o = NULL;
				break;
			}
	} else {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

char *json_dump(json_object *o, size_t *len)
{
	size_t n;
	const char *s = json_object_to_json_string_length(
	    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (len)
		*len = n;
	return xstrndup(s, n);
}

void json_keys_first(json_object *o, const char *const *first, size_t nfirst)
{
	struct key {
		char *name;
		json_object *val;
	} *keys = NULL;
	size_t n = 0, alloc = 0;
	/* json-c keeps insertion order: take every key out and put them back in the new order. */
	json_object_object_foreach(o, k, v)
	{
		ALLOC_GROW(keys, n + 1, alloc);
		keys[n].name = xstrdup(k);
		keys[n++].val = json_object_get(v);
	}
	for (size_t i = 0; i < n; i++)
		json_object_object_del(o, keys[i].name);
	for (size_t f = 0; f < nfirst; f++)
		for (size_t i = 0; i < n; i++)
			if (keys[i].name && streq(keys[i].name, first[f])) {
				json_object_object_add(o, keys[i].name, keys[i].val);
				free(keys[i].name);
				keys[i].name = NULL;
			}
	for (size_t i = 0; i < n; i++)
		if (keys[i].name) {
			json_object_object_add(o, keys[i].name, keys[i].val);
			free(keys[i].name);
		}
	free(keys);
}

/* ---- time ---- */

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fmt_instant(char *buf, size_t n, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + k, n - k, ".%03dZ", (int)(ms % 1000));
}

void fmt_http_date(char *buf, size_t n, int64_t ms)
{
	static const char days[][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	/* Spelled out rather than strftime %a/%b: HTTP dates must not follow the locale. */
	snprintf(buf, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- validation ---- */

/* The FHIRPath of the resource for issue expressions. */
static void base_expr(struct strbuf *sb, const char *entry_expr, const char *type)
{
	if (entry_expr && *entry_expr)
		strbuf_addf(sb, "%s.resource.ofType(%s)", entry_expr, type);
	else
		strbuf_addstr(sb, type);
}

static const char *first_profile(json_object *res)
{
	json_object *meta, *prof;
	if (json_object_object_get_ex(res, "meta", &meta) &&
	    json_object_object_get_ex(meta, "profile", &prof) &&
	    json_object_is_type(prof, json_type_array) && json_object_array_length(prof) > 0 &&
	    json_object_is_type(json_object_array_get_idx(prof, 0), json_type_string))
		return json_object_get_string(json_object_array_get_idx(prof, 0));
	return NULL;
}

static bool present(json_object *res, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(res, key, &v) || json_object_is_type(v, json_type_null))
		return false;
	if (json_object_is_type(v, json_type_array))
		return json_object_array_length(v) > 0;
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string_len(v) > 0;
	return true;
}

static void require(json_object *res, const char *type, const char *key, const char *base,
		    struct outcome *oc)
{
	if (present(res, key))
		return;
	const char *prof = first_profile(res);
	outcome_add(oc, 400, "required", base, NULL,
		    "%s.%s: minimum required = 1, but only found 0 (from %s)", type, key,
		    prof ? prof : "base FHIR R5");
}

void walk_path(const struct walk *w, struct strbuf *sb)
{
	for (int i = 0; i < w->depth; i++)
		if (w->idx[i] >= 0)
			strbuf_addf(sb, "[%ld]", w->idx[i]);
		else
			strbuf_addf(sb, ".%s", w->key[i]);
}

static void find_marker(json_object *o, struct walk *w, const char *base, const char *type,
			struct outcome *oc)
{
	if (w->depth >= (int)ARRAY_SIZE(w->key))
		return;
	switch (json_object_get_type(o)) {
	case json_type_object: {
		json_object_object_foreach(o, k, v)
		{
			w->key[w->depth] = k;
			w->idx[w->depth++] = -1;
			find_marker(v, w, base, type, oc);
			w->depth--;
		}
		break;
	}
	case json_type_array: {
		size_t n = json_object_array_length(o);
		for (size_t i = 0; i < n; i++) {
			w->key[w->depth] = NULL;
			w->idx[w->depth++] = (long)i;
			find_marker(json_object_array_get_idx(o, i), w, base, type, oc);
			w->depth--;
		}
		break;
	}
	case json_type_string:
		if (strstr(json_object_get_string(o), TS_MARKER)) {
			struct strbuf ex = STRBUF_INIT, path = STRBUF_INIT;
			walk_path(w, &path);
			strbuf_addf(&ex, "%s%s", base, path.buf);
			outcome_add(oc, 400, "invariant", ex.buf, NULL,
				    "%s%s: value contains %s (a record the tests planted as "
				    "invalid)",
				    type, path.buf, TS_MARKER);
			strbuf_release(&ex);
			strbuf_release(&path);
		}
		break;
	default:
		break;
	}
}

bool resource_validate(const struct store *st, json_object *res, const char *want_type,
		       const char *entry_expr, bool scan_marker, struct outcome *oc)
{
	size_t before = json_object_array_length(oc->issues);
	struct strbuf base = STRBUF_INIT;
	json_object *rt;
	if (!json_object_is_type(res, json_type_object)) {
		base_expr(&base, entry_expr, want_type ? want_type : "Resource");
		outcome_add(oc, 400, "structure", base.buf, NULL,
			    "the resource is not a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(res, "resourceType", &rt) ||
	    !json_object_is_type(rt, json_type_string)) {
		base_expr(&base, entry_expr, want_type ? want_type : "Resource");
		outcome_add(oc, 400, "required", base.buf, NULL,
			    "resourceType: minimum required = 1, but only found 0");
		goto out;
	}
	const char *type = json_object_get_string(rt);
	base_expr(&base, entry_expr, type);
	if (!store_type(st, type, strlen(type))) {
		outcome_add(oc, 400, "value", base.buf, NULL,
			    "Unknown resource type '%s' (not in the server's CapabilityStatement)",
			    type);
		goto out;
	}
	if (want_type && !streq(want_type, type)) {
		outcome_add(oc, 400, "value", base.buf, NULL,
			    "resource type %s does not match the request URL type %s", type,
			    want_type);
		goto out;
	}
	json_object *meta, *prof;
	if (!json_object_object_get_ex(res, "meta", &meta) ||
	    !json_object_object_get_ex(meta, "profile", &prof) ||
	    !json_object_is_type(prof, json_type_array) || json_object_array_length(prof) == 0) {
		outcome_add(oc, 400, "required", base.buf, NULL,
			    "%s.meta.profile: minimum required = 1, but only found 0 (DHP "
			    "validates every resource against the UZ Core profile it names)",
			    type);
	} else {
		size_t n = json_object_array_length(prof);
		for (size_t i = 0; i < n; i++) {
			json_object *p = json_object_array_get_idx(prof, i);
			if (!json_object_is_type(p, json_type_string) ||
			    !json_object_get_string_len(p)) {
				struct strbuf ex = STRBUF_INIT;
				strbuf_addf(&ex, "%s.meta.profile[%zu]", base.buf, i);
				outcome_add(oc, 400, "value", ex.buf, NULL,
					    "%s.meta.profile[%zu]: not a canonical URL string",
					    type, i);
				strbuf_release(&ex);
			}
		}
	}
	if (streq(type, "Patient")) {
		require(res, type, "identifier", base.buf, oc);
	} else if (streq(type, "Observation")) {
		require(res, type, "status", base.buf, oc);
		require(res, type, "code", base.buf, oc);
	} else if (streq(type, "Encounter")) {
		require(res, type, "status", base.buf, oc);
	}
	if (scan_marker) {
		struct walk w;
		w.depth = 0;
		find_marker(res, &w, base.buf, type, oc);
	}
out:
	strbuf_release(&base);
	return json_object_array_length(oc->issues) == before;
}
