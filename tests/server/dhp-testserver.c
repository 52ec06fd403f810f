/*
 * dhp-testserver: a local DHP-compatible FHIR R5 server for dhp-import's
 * tests and benchmark (see tests/server/README.md).
 *
 * This file: command line, the HTTP layer (libmicrohttpd, one thread per
 * connection so that --delay-ms and slow clients block nobody else),
 * OAuth2 client credentials, fault injection, request log and statistics.
 * The FHIR interactions are in ops.c and bundle.c, the store in store.c.
 */
#include "core/dhp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <ctype.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testserver.h"

#define MAX_BODY (256u << 20)
#define FHIR_JSON "application/fhir+json; charset=utf-8"
#define PLAIN_JSON "application/json; charset=utf-8"

/* ---- configuration (read-only once the daemon runs) ---- */

static struct {
	unsigned port;
	const char *bind;
	const char *port_file, *log_file, *stats_file, *capstmt_file;
	const char *cond_spec;
	char *client_id, *client_secret;
	double fail_rate, unavailable_rate, throttle_rate, drop_rate, drop_after_rate;
	unsigned delay_ms;
	long token_ttl;
	bool force_412, public_metadata;
	uint64_t seed;
} cfg = {
    .bind = "127.0.0.1",
    .cond_spec = "dhp",
    .capstmt_file = DHP_TESTSERVER_CAPSTMT,
    .token_ttl = 3600,
    .seed = 1,
};

static struct server srv = {.lock = PTHREAD_MUTEX_INITIALIZER};
static char *capability; /* the /metadata body */
static size_t capability_len;
static FILE *log_fp;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;
	fputs("dhp-testserver: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* splitmix64: small, seedable, and the same sequence everywhere, so --seed reproduces faults. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A request being received (MHD's per-request pointer). */
struct request_body {
	struct strbuf body;
	int64_t t0;
};

/* ---- replies ---- */

struct reply {
	int status;
	char *body; /* malloc'd, or NULL */
	size_t len;
	const char *ctype;
	bool persistent; /* body is static (capability): do not free */
	struct {
		const char *name;
		char value[320];
	} hdr[8];
	int nhdr;
};

static void add_header(struct reply *rp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_header(struct reply *rp, const char *name, const char *fmt, ...)
{
	if (rp->nhdr >= (int)ARRAY_SIZE(rp->hdr))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rp->hdr[rp->nhdr].value, sizeof(rp->hdr[rp->nhdr].value), fmt, ap);
	va_end(ap);
	rp->hdr[rp->nhdr++].name = name;
}

/* Reply with o (consumed). */
static void reply_json(struct reply *rp, int status, json_object *o, const char *ctype)
{
	rp->status = status;
	rp->body = json_dump(o, &rp->len);
	rp->ctype = ctype;
	json_object_put(o);
}

static void reply_outcome(struct reply *rp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void reply_outcome(struct reply *rp, int status, const char *code, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	reply_json(rp, status, outcome_one("error", code, NULL, sb.buf), FHIR_JSON);
	strbuf_release(&sb);
}

static void oauth_error(struct reply *rp, int status, const char *error, const char *desc)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(error));
	json_object_object_add(o, "error_description", json_object_new_string(desc));
	reply_json(rp, status, o, PLAIN_JSON);
	add_header(rp, "Cache-Control", "no-store");
}

/* ---- statistics ---- */

static void bump(struct hmap *m, const char *key)
{
	struct hmap_entry *e = hmap_slot(m, key, strlen(key));
	e->value = (void *)((uintptr_t)e->value + 1);
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct hmap_entry *)a)->key, ((const struct hmap_entry *)b)->key);
}

/* The counts of m, sorted by key so that the stats file diffs well. */
static void counts_json(json_object *parent, const char *name, const struct hmap *m)
{
	json_object *o = json_object_new_object();
	struct hmap_entry *es = xcalloc(m->count ? m->count : 1, sizeof(*es));
	size_t n = 0;
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i].key)
			es[n++] = m->slots[i];
	qsort(es, n, sizeof(*es), by_key);
	for (size_t i = 0; i < n; i++)
		json_object_object_add(o, es[i].key,
				       json_object_new_int64((int64_t)(uintptr_t)es[i].value));
	free(es);
	json_object_object_add(parent, name, o);
}

#define COUNTER(o, name)                                                                           \
	json_object_object_add(o, #name, json_object_new_int64((int64_t)srv.n.name))

/* Under the lock. */
static json_object *stats_json(void)
{
	json_object *o = json_object_new_object();
	COUNTER(o, requests);
	counts_json(o, "by_method", &srv.n.by_method);
	counts_json(o, "by_status", &srv.n.by_status);
	counts_json(o, "by_method_status", &srv.n.by_method_status);
	COUNTER(o, token_requests);
	COUNTER(o, tokens_issued);
	COUNTER(o, token_failures);
	COUNTER(o, authorizations);
	COUNTER(o, code_exchanges);
	COUNTER(o, refreshes);
	COUNTER(o, unauthorized);
	COUNTER(o, creates);
	COUNTER(o, updates);
	COUNTER(o, reads);
	COUNTER(o, vreads);
	COUNTER(o, searches);
	COUNTER(o, cond_create_matches);
	COUNTER(o, transactions);
	COUNTER(o, transactions_failed);
	COUNTER(o, transaction_entries);
	COUNTER(o, batches);
	COUNTER(o, batch_entries);
	COUNTER(o, batch_entries_failed);
	COUNTER(o, deletes);
	COUNTER(o, version_mismatches);
	COUNTER(o, forced_412);
	COUNTER(o, validation_failures);
	json_object *f = json_object_new_object();
	json_object_object_add(f, "500", json_object_new_int64((int64_t)srv.n.fault_500));
	json_object_object_add(f, "503", json_object_new_int64((int64_t)srv.n.fault_503));
	json_object_object_add(f, "429", json_object_new_int64((int64_t)srv.n.fault_429));
	json_object_object_add(f, "drop", json_object_new_int64((int64_t)srv.n.drops));
	json_object_object_add(f, "drop_after", json_object_new_int64((int64_t)srv.n.drops_after));
	json_object_object_add(o, "faults", f);
	json_object *r = json_object_new_object();
	size_t total = 0;
	for (size_t i = 0; i < srv.store.nnames; i++) {
		const struct typestore *ts = hmap_gets(&srv.store.types, srv.store.names[i]);
		if (ts->nall)
			json_object_object_add(r, ts->name,
					       json_object_new_int64((int64_t)ts->nall));
		total += ts->nall;
	}
	json_object_object_add(o, "resources", r);
	json_object_object_add(o, "resources_total", json_object_new_int64((int64_t)total));
	return o;
}

/* Write the stats file through a rename, so a reader never sees half of it. */
static char *write_stats(size_t *len)
{
	pthread_mutex_lock(&srv.lock);
	json_object *o = stats_json();
	pthread_mutex_unlock(&srv.lock);
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE);
	char *text = xstrdup(s);
	json_object_put(o);
	if (len)
		*len = strlen(text);
	if (cfg.stats_file) {
		struct strbuf tmp = STRBUF_INIT;
		strbuf_addf(&tmp, "%s.tmp", cfg.stats_file);
		FILE *f = fopen(tmp.buf, "w");
		if (f) {
			fputs(text, f);
			fputc('\n', f);
			if (fclose(f) == 0)
				rename(tmp.buf, cfg.stats_file);
		} else {
			fprintf(stderr, "dhp-testserver: cannot write %s: %s\n", tmp.buf,
				strerror(errno));
		}
		strbuf_release(&tmp);
	}
	return text;
}

/* Count a request by method and status ("dropped" when no answer went out). */
static void account(const char *method, int status)
{
	char st[16], ms[48];
	if (status)
		snprintf(st, sizeof(st), "%d", status);
	else
		snprintf(st, sizeof(st), "dropped");
	snprintf(ms, sizeof(ms), "%.20s %s", method, st);
	pthread_mutex_lock(&srv.lock);
	srv.n.requests++;
	bump(&srv.n.by_method, method);
	bump(&srv.n.by_status, st);
	bump(&srv.n.by_method_status, ms);
	pthread_mutex_unlock(&srv.lock);
}

/* ---- request log ---- */

static enum MHD_Result add_name(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	(void)kind;
	(void)value; /* values are never logged: they hold identifiers (PINFL) */
	struct strbuf *sb = cls;
	strbuf_addch(sb, sb->len ? '&' : '?');
	strbuf_addstr(sb, key);
	return MHD_YES;
}

static void log_request(struct MHD_Connection *c, const char *method, const char *url, int status,
			int64_t t0)
{
	if (!log_fp)
		return;
	char ts[40], st[16];
	fmt_instant(ts, sizeof(ts), now_ms());
	if (status)
		snprintf(st, sizeof(st), "%d", status);
	else
		snprintf(st, sizeof(st), "DROP");
	struct strbuf names = STRBUF_INIT, line = STRBUF_INIT;
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_name, &names);
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	/* Only the scheme, never the credentials. */
	const char *scheme = !auth				? "none"
			     : !strncasecmp(auth, "Bearer ", 7) ? "bearer"
			     : !strncasecmp(auth, "Basic ", 6)	? "basic"
								: "other";
	strbuf_addf(&line, "%s %s %s%s %s auth=%s %lldms\n", ts, method, url, names.buf, st, scheme,
		    (long long)(mono_ms() - t0));
	for (size_t i = 0; i + 1 < line.len; i++)
		if ((unsigned char)line.buf[i] < 0x20)
			line.buf[i] = '?';
	pthread_mutex_lock(&log_lock);
	fputs(line.buf, log_fp);
	fflush(log_fp);
	pthread_mutex_unlock(&log_lock);
	strbuf_release(&names);
	strbuf_release(&line);
}

/* ---- OAuth2 ---- */

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

static char *b64decode(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(n + 1), *o = out;
	unsigned acc = 0;
	int bits = 0;
	for (; *s && *s != '='; s++) {
		int v = b64val((unsigned char)*s);
		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (char)((acc >> bits) & 0xff);
		}
	}
	*o = '\0';
	return out;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value);

/*
 * Authorization code grants (dhp-import login) and refresh tokens, under
 * srv.lock. A code is good once and for 60 s; a refresh token is rotated
 * (the old one stops working) every time it is used.
 */
struct authz {
	char client_id[128], redirect_uri[256], challenge[64];
	int64_t expiry; /* mono_ms */
	bool used;
};
static struct hmap codes = HMAP_INIT;	       /* code -> struct authz * */
static struct hmap refresh_tokens = HMAP_INIT; /* token -> client id (malloc'd), or NULL */

static void random_hex(char *out, size_t nbytes)
{
	unsigned char rnd[32];
	if (nbytes > sizeof(rnd) || getrandom(rnd, nbytes, 0) != (ssize_t)nbytes)
		die("getrandom: %s", strerror(errno));
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
}

/* BASE64URL(SHA-256(verifier)), no padding (RFC 7636 4.2). */
static void s256(const char *verifier, char out[44])
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!EVP_Digest(verifier, strlen(verifier), md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		die("SHA-256 failed");
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < 32; i++) {
		acc = (acc << 8) | md[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64[(acc >> bits) & 63];
		}
	}
	if (bits)
		out[o++] = b64[(acc << (6 - bits)) & 63];
	out[o] = '\0';
}

/* A code_verifier as RFC 7636 4.1 has it: 43-128 unreserved characters. */
static bool verifier_ok(const char *v)
{
	size_t n = strlen(v);
	if (n < 43 || n > 128)
		return false;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("-._~", *p))
			return false;
	return true;
}

/* Loopback redirect URIs only (RFC 8252 7.3): http://127.0.0.1:PORT/... or localhost. */
static bool redirect_ok(const char *uri)
{
	return uri &&
	       (!strncmp(uri, "http://127.0.0.1:", 17) || !strncmp(uri, "http://localhost:", 17) ||
		!strncmp(uri, "http://[::1]:", 13));
}

static void redirect_to(struct reply *rp, const char *uri, const char *params)
{
	rp->status = 302;
	add_header(rp, "Location", "%s%s%s", uri, strchr(uri, '?') ? "&" : "?", params);
	add_header(rp, "Cache-Control", "no-store");
}

static void url_param(struct strbuf *sb, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	if (sb->len)
		strbuf_addch(sb, '&');
	strbuf_addf(sb, "%s=", name);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p))
			strbuf_addch(sb, (char)*p);
		else
			strbuf_addf(sb, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
	}
}

/* GET /oauth/authorize: a test server approves every valid request at once
 * (302 to redirect_uri?code=...&state=...). A bad client or redirect_uri is
 * answered 400 (never redirected, RFC 6749 4.1.2.1); other problems are
 * redirected with error=. */
static void authorize(struct MHD_Connection *c, const char *method, struct reply *rp)
{
	struct query q = {0};
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
	const char *id = query_get(&q, "client_id"), *uri = query_get(&q, "redirect_uri");
	const char *state = query_get(&q, "state"), *rtype = query_get(&q, "response_type");
	const char *chal = query_get(&q, "code_challenge");
	const char *cmeth = query_get(&q, "code_challenge_method");
	struct strbuf params = STRBUF_INIT;
	if (!streq(method, "GET")) {
		oauth_error(rp, 405, "invalid_request", "the authorization endpoint takes GET");
		add_header(rp, "Allow", "GET");
	} else if (!id || !streq(id, cfg.client_id)) {
		oauth_error(rp, 400, "invalid_client", "unknown client_id");
	} else if (!redirect_ok(uri) || strlen(uri) >= sizeof(((struct authz *)0)->redirect_uri)) {
		oauth_error(rp, 400, "invalid_request",
			    "redirect_uri must be a loopback http URI (http://127.0.0.1:PORT/...)");
	} else if (!rtype || !streq(rtype, "code")) {
		url_param(&params, "error", "unsupported_response_type");
		url_param(&params, "error_description", "only response_type=code is supported");
	} else if (!chal || strlen(chal) != 43 || !cmeth || !streq(cmeth, "S256")) {
		url_param(&params, "error", "invalid_request");
		url_param(&params, "error_description",
			  "PKCE is required: code_challenge (43 characters) and "
			  "code_challenge_method=S256");
	} else {
		struct authz *a = xcalloc(1, sizeof(*a));
		snprintf(a->client_id, sizeof(a->client_id), "%s", id);
		snprintf(a->redirect_uri, sizeof(a->redirect_uri), "%s", uri);
		snprintf(a->challenge, sizeof(a->challenge), "%s", chal);
		a->expiry = mono_ms() + 60000;
		char code[33];
		random_hex(code, 16);
		pthread_mutex_lock(&srv.lock);
		free(hmap_put(&codes, code, strlen(code), a));
		srv.n.authorizations++;
		pthread_mutex_unlock(&srv.lock);
		url_param(&params, "code", code);
	}
	if (params.len) {
		if (state)
			url_param(&params, "state", state);
		redirect_to(rp, uri, params.buf);
	}
	strbuf_release(&params);
	query_free(&q);
}

/* The authorization_code grant; true when the code is good for this client
 * (else the reply is set). */
static bool redeem_code(const struct query *form, const char *id, struct reply *rp)
{
	const char *code = query_get(form, "code"), *uri = query_get(form, "redirect_uri");
	const char *verifier = query_get(form, "code_verifier");
	const char *why = NULL;
	pthread_mutex_lock(&srv.lock);
	struct authz *a = code ? hmap_gets(&codes, code) : NULL;
	if (!a || a->used || mono_ms() > a->expiry)
		why = !a	? "unknown authorization code"
		      : a->used ? "the authorization code was used already"
				: "the authorization code expired";
	else if (!streq(a->client_id, id))
		why = "the authorization code was issued to another client";
	else if (!uri || !streq(uri, a->redirect_uri))
		why = "redirect_uri differs from the authorization request";
	else if (!verifier || !verifier_ok(verifier))
		why = "code_verifier is missing or malformed";
	else {
		char chal[44];
		s256(verifier, chal);
		if (!streq(chal, a->challenge))
			why = "code_verifier does not match the code_challenge";
	}
	if (a)
		a->used = true; /* one attempt per code, right or wrong (RFC 6749 4.1.2) */
	if (!why)
		srv.n.code_exchanges++;
	pthread_mutex_unlock(&srv.lock);
	if (why)
		oauth_error(rp, 400, "invalid_grant", why);
	return !why;
}

/* The refresh_token grant: true when the token is live for this client; it
 * is revoked (rotation). */
static bool redeem_refresh(const struct query *form, const char *id, struct reply *rp)
{
	const char *rt = query_get(form, "refresh_token");
	pthread_mutex_lock(&srv.lock);
	char *owner = rt ? hmap_gets(&refresh_tokens, rt) : NULL;
	bool ok = owner && streq(owner, id);
	if (ok) {
		free(hmap_put(&refresh_tokens, rt, strlen(rt), NULL));
		srv.n.refreshes++;
	}
	pthread_mutex_unlock(&srv.lock);
	if (!ok)
		oauth_error(rp, 400, "invalid_grant",
			    !rt ? "refresh_token is required"
				: "the refresh token is unknown, used or of another client");
	return ok;
}

static void oauth(struct MHD_Connection *c, const char *method, bool json_style,
		  struct request_body *rb, struct reply *rp)
{
	struct query form = {0}, basic = {0};
	const char *grant = NULL, *id = NULL, *secret = NULL;
	json_object *jbody = NULL;
	bool ok = false;
	if (!streq(method, "POST")) {
		oauth_error(rp, 405, "invalid_request", "the token endpoint takes POST");
		add_header(rp, "Allow", "POST");
		goto out;
	}
	if (json_style) {
		json_object *t;
		jbody = json_parse(rb->body.buf, rb->body.len);
		if (!jbody || !json_object_object_get_ex(jbody, "token", &t) ||
		    !json_object_is_type(t, json_type_object)) {
			oauth_error(rp, 400, "invalid_request",
				    "expected a JSON body {\"token\": {\"grant_type\": ..., "
				    "\"client_id\": ..., \"client_secret\": ...}}");
			goto out;
		}
		json_object_object_foreach(t, k, v)
		{
			if (json_object_is_type(v, json_type_string))
				query_add(&form, k, json_object_get_string(v));
		}
	} else {
		query_parse(&form, rb->body.buf);
	}
	grant = query_get(&form, "grant_type");
	id = query_get(&form, "client_id");
	secret = query_get(&form, "client_secret");
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	bool used_basic = auth && !strncasecmp(auth, "Basic ", 6);
	if (used_basic) {
		/* RFC 6749 2.3.1: id and secret are form-encoded before base64. */
		char *dec = b64decode(auth + 6), *colon = strchr(dec, ':');
		if (colon) {
			*colon = '\0';
			struct strbuf qs = STRBUF_INIT;
			strbuf_addf(&qs, "id=%s&secret=%s", dec, colon + 1);
			query_parse(&basic, qs.buf);
			strbuf_release(&qs);
		}
		free(dec);
		if (secret) {
			oauth_error(rp, 400, "invalid_request",
				    "more than one client authentication method (Basic and body)");
			goto out;
		}
		if (id && query_get(&basic, "id") && !streq(id, query_get(&basic, "id"))) {
			oauth_error(rp, 400, "invalid_request",
				    "client_id in the body differs from the Basic credentials");
			goto out;
		}
		id = query_get(&basic, "id");
		secret = query_get(&basic, "secret");
	}
	if (!grant || !*grant) {
		oauth_error(rp, 400, "invalid_request", "grant_type is required");
		goto out;
	}
	bool by_code = streq(grant, "authorization_code"),
	     by_refresh = streq(grant, "refresh_token");
	if (!streq(grant, "client_credentials") && !by_code && !by_refresh) {
		oauth_error(rp, 400, "unsupported_grant_type",
			    "grant_type must be client_credentials, authorization_code or "
			    "refresh_token");
		goto out;
	}
	/* A person's login is a public client (RFC 6749 2.1): the client id
	 * identifies it, a secret is checked only when one is sent. */
	bool public_ok = (by_code || by_refresh) && id && !secret && streq(id, cfg.client_id);
	if (!public_ok &&
	    (!id || !secret || !streq(id, cfg.client_id) || !streq(secret, cfg.client_secret))) {
		oauth_error(rp, 401, "invalid_client",
			    !id || !secret ? "client authentication is required"
					   : "client authentication failed");
		if (used_basic)
			add_header(rp, "WWW-Authenticate", "Basic realm=\"dhp-testserver\"");
		goto out;
	}
	if ((by_code && !redeem_code(&form, id, rp)) ||
	    (by_refresh && !redeem_refresh(&form, id, rp)))
		goto out;
	char token[49], refresh[65];
	random_hex(token, 24);
	/* +1 keeps a zero expiry distinct from "no such token" (NULL). */
	int64_t expiry = mono_ms() + cfg.token_ttl * 1000 + 1;
	pthread_mutex_lock(&srv.lock);
	hmap_put(&srv.tokens, token, strlen(token), (void *)(uintptr_t)expiry);
	srv.n.tokens_issued++;
	if (by_code || by_refresh) {
		random_hex(refresh, 32);
		hmap_put(&refresh_tokens, refresh, strlen(refresh), xstrdup(id));
	}
	pthread_mutex_unlock(&srv.lock);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "access_token", json_object_new_string(token));
	json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
	json_object_object_add(o, "expires_in", json_object_new_int64(cfg.token_ttl));
	if (by_code || by_refresh)
		json_object_object_add(o, "refresh_token", json_object_new_string(refresh));
	reply_json(rp, 200, o, PLAIN_JSON);
	add_header(rp, "Cache-Control", "no-store");
	add_header(rp, "Pragma", "no-cache");
	ok = true;
out:
	pthread_mutex_lock(&srv.lock);
	srv.n.token_requests++;
	srv.n.token_failures += !ok;
	pthread_mutex_unlock(&srv.lock);
	json_object_put(jbody);
	query_free(&form);
	query_free(&basic);
}

/* Is the request's bearer token valid? Otherwise the 401 reply is set. */
static bool authorized(struct MHD_Connection *c, struct reply *rp)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	const char *why = NULL, *err = NULL;
	if (!auth || strncasecmp(auth, "Bearer ", 7)) {
		why = "Authorization: Bearer <access token> is required";
	} else {
		const char *tok = auth + 7;
		while (*tok == ' ')
			tok++;
		pthread_mutex_lock(&srv.lock);
		int64_t expiry = (int64_t)(uintptr_t)hmap_gets(&srv.tokens, tok);
		pthread_mutex_unlock(&srv.lock);
		if (!expiry) {
			why = "the access token is not known";
			err = "invalid_token";
		} else if (mono_ms() >= expiry - 1) {
			why = "the access token expired";
			err = "invalid_token";
		} else {
			return true;
		}
	}
	pthread_mutex_lock(&srv.lock);
	srv.n.unauthorized++;
	pthread_mutex_unlock(&srv.lock);
	reply_outcome(rp, 401, err ? "expired" : "login", "%s", why);
	if (err)
		add_header(
		    rp, "WWW-Authenticate",
		    "Bearer realm=\"dhp-testserver\", error=\"%s\", error_description=\"%s\"", err,
		    why);
	else
		add_header(rp, "WWW-Authenticate", "Bearer realm=\"dhp-testserver\"");
	return false;
}

/* ---- faults ---- */

enum fault { F_NONE, F_DROP, F_429, F_503, F_500, F_DROP_AFTER };

static enum fault roll_fault(void)
{
	if (cfg.drop_rate + cfg.throttle_rate + cfg.unavailable_rate + cfg.fail_rate +
		cfg.drop_after_rate <=
	    0)
		return F_NONE;
	/* One draw per request, so the fault sequence depends only on --seed and request order. */
	pthread_mutex_lock(&srv.lock);
	double u = (double)(rng_next(&srv.rng) >> 11) / (double)(1ull << 53);
	enum fault f = F_NONE;
	double t = cfg.drop_rate;
	if (u < t)
		f = F_DROP, srv.n.drops++;
	else if (u < (t += cfg.throttle_rate))
		f = F_429, srv.n.fault_429++;
	else if (u < (t += cfg.unavailable_rate))
		f = F_503, srv.n.fault_503++;
	else if (u < (t += cfg.fail_rate))
		f = F_500, srv.n.fault_500++;
	else if (u < (t += cfg.drop_after_rate))
		f = F_DROP_AFTER, srv.n.drops_after++;
	pthread_mutex_unlock(&srv.lock);
	return f;
}

/* ---- FHIR interactions ---- */

static void base_url(struct MHD_Connection *c, bool fhir_prefix, char *buf, size_t n)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	snprintf(buf, n, "http://%s%s", host ? host : "127.0.0.1", fhir_prefix ? "/fhir" : "");
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	(void)kind;
	query_add(cls, key, value);
	return MHD_YES;
}

static bool prefer(struct MHD_Connection *c, const char *what)
{
	const char *p = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Prefer");
	return p && strstr(p, what);
}

static json_object *parse_body(struct request_body *rb, struct reply *rp)
{
	if (rb->body.toobig) {
		reply_outcome(rp, 413, "too-costly", "request body larger than %u bytes", MAX_BODY);
		return NULL;
	}
	json_object *o = json_parse(rb->body.buf, rb->body.len);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		reply_outcome(rp, 400, "structure", "the request body is not a JSON object");
		return NULL;
	}
	return o;
}

static bool json_content(struct MHD_Connection *c, struct reply *rp)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	if (!ct || strstr(ct, "json"))
		return true;
	reply_outcome(rp, 415, "not-supported",
		      "Content-Type %s: this server speaks application/fhir+json", ct);
	return false;
}

static void set_version_headers(struct reply *rp, const char *base, const struct rec *r)
{
	char lm[40];
	const struct version *v = rec_current(r);
	add_header(rp, "ETag", "W/\"%zu\"", r->nvers);
	fmt_http_date(lm, sizeof(lm), v->mtime_ms);
	add_header(rp, "Last-Modified", "%s", lm);
	add_header(rp, "Location", "%s/%s/%s/_history/%zu", base, r->ts->name, r->id, r->nvers);
}

/* POST [base]/Type and PUT [base]/Type/id. */
static void rest_write(struct MHD_Connection *c, struct typestore *ts, const char *put_id,
		       struct request_body *rb, const char *base, struct reply *rp)
{
	if (!json_content(c, rp))
		return;
	json_object *res = parse_body(rb, rp);
	if (!res)
		return;
	struct outcome oc;
	struct wop w;
	outcome_init(&oc);
	memset(&w, 0, sizeof(w));
	w.is_put = put_id != NULL;
	w.ts = ts;
	w.res = res;
	w.put_id = put_id;
	w.if_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Match");
	w.if_none_exist = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Exist");
	bool scan = memmem(rb->body.buf, rb->body.len, TS_MARKER, strlen(TS_MARKER)) != NULL;
	json_object *body = NULL;
	int status = 0;
	if (!resource_validate(&srv.store, res, ts->name, NULL, scan, &oc)) {
		pthread_mutex_lock(&srv.lock);
		srv.n.validation_failures++;
		pthread_mutex_unlock(&srv.lock);
	} else {
		pthread_mutex_lock(&srv.lock);
		if (wop_plan(&srv, &w, &oc) && wop_resolve_refs(&srv, &w, NULL, NULL, &oc)) {
			wop_commit(&srv, &w, now_ms());
			status = w.kind == WOP_CREATE ? 201 : 200;
			set_version_headers(rp, base, w.rec);
			if (!prefer(c, "return=minimal"))
				body = w.kind == WOP_EXISTING ? version_json(rec_current(w.rec))
							      : json_object_get(res);
		}
		pthread_mutex_unlock(&srv.lock);
	}
	if (status) {
		if (body)
			reply_json(rp, status, body, FHIR_JSON);
		else
			rp->status = status;
	} else {
		reply_json(rp, oc.status, outcome_take(&oc), FHIR_JSON);
	}
	outcome_free(&oc);
	json_object_put(res);
}

static void rest_read(struct MHD_Connection *c, const char *path, const char *base,
		      struct reply *rp)
{
	struct query q = {0};
	json_object *res = NULL;
	char etag[32] = "";
	int64_t mtime = 0;
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &q);
	pthread_mutex_lock(&srv.lock);
	int status = rest_get(&srv, path, &q, base, &res, etag, sizeof(etag), &mtime);
	pthread_mutex_unlock(&srv.lock);
	query_free(&q);
	reply_json(rp, status, res, FHIR_JSON);
	if (*etag) {
		char lm[40];
		add_header(rp, "ETag", "%s", etag);
		fmt_http_date(lm, sizeof(lm), mtime);
		add_header(rp, "Last-Modified", "%s", lm);
	}
}

static void fhir(struct MHD_Connection *c, const char *method, const char *path,
		 struct request_body *rb, const char *base, struct reply *rp)
{
	if (!*path || streq(path, "/")) {
		if (!streq(method, "POST")) {
			reply_outcome(rp, 405, "not-supported",
				      "[base] takes POST of a transaction or batch Bundle");
			add_header(rp, "Allow", "POST");
			return;
		}
		if (!json_content(c, rp))
			return;
		json_object *b = parse_body(rb, rp), *reply = NULL;
		if (!b)
			return;
		bool scan = memmem(rb->body.buf, rb->body.len, TS_MARKER, strlen(TS_MARKER));
		int status =
		    bundle_process(&srv, b, base, scan, prefer(c, "return=representation"), &reply);
		reply_json(rp, status, reply, FHIR_JSON);
		json_object_put(b);
		return;
	}
	if (streq(path, "/metadata")) {
		if (!streq(method, "GET")) {
			reply_outcome(rp, 405, "not-supported", "metadata takes GET");
			return;
		}
		rp->status = 200;
		rp->body = capability;
		rp->len = capability_len;
		rp->persistent = true;
		rp->ctype = FHIR_JSON;
		return;
	}
	const char *p = path + 1;
	size_t tl = strcspn(p, "/");
	struct typestore *ts = store_type(&srv.store, p, tl);
	if (!ts) {
		reply_outcome(rp, 404, "not-found", "Unknown resource type '%.*s'", (int)tl, p);
		return;
	}
	const char *rest = p + tl; /* "", "/id", "/id/_history/n" */
	bool instance = rest[0] == '/' && rest[1] && !strchr(rest + 1, '/');
	if (rest[0] == '/' && (rest[1] == '$' || strstr(rest, "/$"))) {
		reply_outcome(rp, 400, "not-supported",
			      "operations are not supported by dhp-testserver");
		return;
	}
	if (streq(method, "DELETE")) {
		pthread_mutex_lock(&srv.lock);
		srv.n.deletes++;
		pthread_mutex_unlock(&srv.lock);
		reply_outcome(
		    rp, 405, "not-supported",
		    "DELETE is not allowed: deletion on DHP is logical (set status instead)");
		add_header(rp, "Allow", "GET, PUT");
		return;
	}
	if (streq(method, "GET")) {
		rest_read(c, p, base, rp);
		return;
	}
	if (streq(method, "POST") && !*rest) {
		rest_write(c, ts, NULL, rb, base, rp);
		return;
	}
	if (streq(method, "PUT") && instance) {
		rest_write(c, ts, rest + 1, rb, base, rp);
		return;
	}
	reply_outcome(rp, 405, "not-supported", "%s is not supported on %s", method, path);
	add_header(rp, "Allow", *rest ? "GET, PUT" : "GET, POST");
}

/* ---- the HTTP handler ---- */

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	(void)cls;
	(void)version;
	struct request_body *rb = *con_cls;
	if (!rb) {
		rb = xcalloc(1, sizeof(*rb));
		strbuf_init(&rb->body, MAX_BODY);
		rb->t0 = mono_ms();
		*con_cls = rb;
		return MHD_YES;
	}
	if (*upload_size) {
		strbuf_add(&rb->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}

	struct reply rp;
	memset(&rp, 0, sizeof(rp));
	bool drop = false, counted = true;
	/* The playground's base is .../fhir; accept both so a loader's base URL can be either. */
	bool prefix = !strncmp(url, "/fhir", 5) && (url[5] == '/' || !url[5]);
	const char *path = prefix ? url + 5 : url;
	char base[320];
	base_url(c, prefix, base, sizeof(base));

	if (streq(path, "/oauth/token") || streq(path, "/oauth/tokens")) {
		oauth(c, method, streq(path, "/oauth/tokens"), rb, &rp);
	} else if (streq(path, "/oauth/authorize")) {
		authorize(c, method, &rp);
	} else if (streq(path, "/_stats")) {
		counted = false;
		rp.status = 200;
		rp.body = write_stats(&rp.len);
		rp.ctype = PLAIN_JSON;
	} else {
		enum fault f = roll_fault();
		if (cfg.delay_ms)
			usleep(cfg.delay_ms * 1000u);
		if (f == F_DROP) {
			drop = true;
		} else if (f == F_429 || f == F_503) {
			reply_outcome(&rp, f == F_429 ? 429 : 503,
				      f == F_429 ? "throttled" : "transient",
				      "fault injected by dhp-testserver (%s)",
				      f == F_429 ? "--throttle-rate" : "--unavailable-rate");
			add_header(&rp, "Retry-After", "1");
		} else if (f == F_500) {
			reply_outcome(&rp, 500, "exception",
				      "fault injected by dhp-testserver (--fail-rate)");
		} else if ((cfg.public_metadata && streq(path, "/metadata")) ||
			   authorized(c, &rp)) {
			fhir(c, method, path, rb, base, &rp);
			drop = f == F_DROP_AFTER;
		}
	}

	if (counted)
		account(method, drop ? 0 : rp.status);
	log_request(c, method, url, drop ? 0 : rp.status, rb->t0);
	if (drop) {
		if (!rp.persistent)
			free(rp.body);
		return MHD_NO;
	}
	struct MHD_Response *resp;
	if (rp.persistent)
		resp = MHD_create_response_from_buffer(rp.len, rp.body, MHD_RESPMEM_PERSISTENT);
	else if (rp.body)
		resp = MHD_create_response_from_buffer(rp.len, rp.body, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	if (rp.body && rp.ctype)
		MHD_add_response_header(resp, "Content-Type", rp.ctype);
	for (int i = 0; i < rp.nhdr; i++)
		MHD_add_response_header(resp, rp.hdr[i].name, rp.hdr[i].value);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)rp.status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* MHD's error log, minus the line every deliberate drop (--drop-rate) would add. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (strstr(msg, "Application reported internal error"))
		return;
	fprintf(stderr, "dhp-testserver: libmicrohttpd: %s", msg);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	struct request_body *rb = *con_cls;
	if (!rb)
		return;
	strbuf_release(&rb->body);
	free(rb);
	*con_cls = NULL;
}

/* ---- CapabilityStatement ---- */

/*
 * Apply --conditional-create SPEC: "all", "none" or "dhp" (as captured),
 * then ",+Type" / ",-Type" to switch single types.
 */
static bool cond_for(const char *spec, const char *type, bool captured)
{
	char *s = xstrdup(spec), *save = NULL;
	bool v = captured;
	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (streq(t, "all"))
			v = true;
		else if (streq(t, "none"))
			v = false;
		else if (streq(t, "dhp"))
			v = captured;
		else if ((*t == '+' || *t == '-') && streq(t + 1, type))
			v = *t == '+';
	}
	free(s);
	return v;
}

static void check_cond_spec(const char *spec, json_object *resources)
{
	char *s = xstrdup(spec), *save = NULL;
	for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (streq(t, "all") || streq(t, "none") || streq(t, "dhp"))
			continue;
		bool known = false;
		if (*t == '+' || *t == '-')
			for (size_t i = 0; i < json_object_array_length(resources); i++) {
				json_object *ty;
				if (json_object_object_get_ex(
					json_object_array_get_idx(resources, i), "type", &ty) &&
				    streq(json_object_get_string(ty), t + 1))
					known = true;
			}
		if (!known)
			die("--conditional-create: '%s' is neither all/none/dhp nor +Type/-Type of "
			    "a type in the CapabilityStatement",
			    t);
	}
	free(s);
}

static json_object *load_capability(void)
{
	FILE *f = fopen(cfg.capstmt_file, "rb");
	if (!f)
		die("cannot open the CapabilityStatement %s: %s (use --capability-statement)",
		    cfg.capstmt_file, strerror(errno));
	struct strbuf sb = STRBUF_INIT;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	fclose(f);
	json_object *cs = json_parse(sb.buf, sb.len), *rest, *resources;
	strbuf_release(&sb);
	if (!cs || !json_object_object_get_ex(cs, "rest", &rest) ||
	    !json_object_is_type(rest, json_type_array) || !json_object_array_length(rest) ||
	    !json_object_object_get_ex(json_object_array_get_idx(rest, 0), "resource",
				       &resources) ||
	    !json_object_is_type(resources, json_type_array))
		die("%s: not a CapabilityStatement with rest[0].resource", cfg.capstmt_file);
	check_cond_spec(cfg.cond_spec, resources);
	for (size_t i = 0; i < json_object_array_length(resources); i++) {
		json_object *r = json_object_array_get_idx(resources, i), *ty, *cc;
		if (!json_object_object_get_ex(r, "type", &ty))
			continue;
		const char *type = json_object_get_string(ty);
		bool captured = json_object_object_get_ex(r, "conditionalCreate", &cc) &&
				json_object_get_boolean(cc);
		bool v = cond_for(cfg.cond_spec, type, captured);
		json_object_object_add(r, "conditionalCreate", json_object_new_boolean(v));
		/* DHP has no conditional update; the loader must search + PUT with If-Match. */
		json_object_object_add(r, "conditionalUpdate", json_object_new_boolean(0));
		store_add_type(&srv.store, type, v);
		/* Type and flag first, so a test can grep
		 * '"type":"Patient","conditionalCreate":false'. */
		static const char *const first[] = {"type", "conditionalCreate"};
		json_keys_first(r, first, ARRAY_SIZE(first));
	}
	return cs;
}

static void finish_capability(json_object *cs, unsigned port)
{
	char url[128];
	snprintf(url, sizeof(url), "http://%s:%u", cfg.bind, port);
	json_object *impl = json_object_new_object(), *sw = json_object_new_object();
	json_object_object_add(
	    impl, "description",
	    json_object_new_string("dhp-testserver (local test double of the DHP "
				   "FHIR R5 server; captured CapabilityStatement)"));
	json_object_object_add(impl, "url", json_object_new_string(url));
	json_object_object_add(cs, "implementation", impl);
	json_object_object_add(sw, "name", json_object_new_string("dhp-testserver"));
	json_object_object_add(sw, "version", json_object_new_string(DHP_VERSION));
	json_object_object_add(cs, "software", sw);
	capability = json_dump(cs, &capability_len);
	json_object_put(cs);
}

/* ---- command line ---- */

static void usage(FILE *f)
{
	fputs(
	    "usage: dhp-testserver [options]\n"
	    "  --port N                 TCP port (0 = pick a free one; default 0)\n"
	    "  --bind ADDR              IPv4 address to listen on (default 127.0.0.1)\n"
	    "  --port-file FILE         write the port to FILE once listening\n"
	    "  --client-id ID           accepted OAuth2 client id (default dhp-import-test)\n"
	    "  --client-secret-file F   file holding the accepted client secret\n"
	    "                           (default secret: test-secret)\n"
	    "  --token-ttl S            access token lifetime in seconds (default 3600)\n"
	    "  --conditional-create SPEC  all | none | dhp (default), then ,+Type / ,-Type\n"
	    "  --capability-statement F the CapabilityStatement served from /metadata\n"
	    "  --check-references       reject references to Type/id that do not exist\n"
	    "  --public-metadata        serve /metadata without a token\n"
	    "  --fail-rate P            share of FHIR requests answered 500\n"
	    "  --unavailable-rate P     share answered 503 with Retry-After: 1\n"
	    "  --throttle-rate P        share answered 429 with Retry-After: 1\n"
	    "  --drop-rate P            share whose connection is closed without an answer\n"
	    "  --drop-after-rate P      share processed (committed) and then closed unanswered\n"
	    "  --delay-ms N             delay before answering each FHIR request\n"
	    "  --force-412-first-put    the first PUT is answered 412 even with a right If-Match\n"
	    "  --seed N                 seed of the fault draws (default 1)\n"
	    "  --log FILE               one line per request (never bodies or credentials)\n"
	    "  --stats-file FILE        statistics, written on SIGTERM/SIGINT/SIGUSR1 and GET "
	    "/_stats\n",
	    f);
}

static double rate(const char *opt, const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !(v >= 0 && v <= 1))
		die("%s: expected a share between 0 and 1, got '%s'", opt, s);
	return v;
}

static unsigned long number(const char *opt, const char *s, unsigned long max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (end == s || *end || errno || v > max || *s == '-')
		die("%s: expected a number up to %lu, got '%s'", opt, max, s);
	return v;
}

static char *read_secret(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die("cannot open %s: %s", path, strerror(errno));
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (!n)
		die("%s: the client secret is empty", path);
	return xstrdup(buf);
}

static void parse_args(int argc, char **argv)
{
	enum {
		O_PORT = 256,
		O_BIND,
		O_PORT_FILE,
		O_CLIENT_ID,
		O_SECRET_FILE,
		O_TTL,
		O_COND,
		O_CAPSTMT,
		O_CHECK_REFS,
		O_PUBLIC_METADATA,
		O_FAIL,
		O_UNAVAIL,
		O_THROTTLE,
		O_DROP,
		O_DROP_AFTER,
		O_DELAY,
		O_FORCE412,
		O_SEED,
		O_LOG,
		O_STATS,
		O_HELP,
		O_VERSION,
	};
	static const struct option opts[] = {
	    {"port", required_argument, NULL, O_PORT},
	    {"bind", required_argument, NULL, O_BIND},
	    {"port-file", required_argument, NULL, O_PORT_FILE},
	    {"client-id", required_argument, NULL, O_CLIENT_ID},
	    {"client-secret-file", required_argument, NULL, O_SECRET_FILE},
	    {"token-ttl", required_argument, NULL, O_TTL},
	    {"conditional-create", required_argument, NULL, O_COND},
	    {"capability-statement", required_argument, NULL, O_CAPSTMT},
	    {"check-references", no_argument, NULL, O_CHECK_REFS},
	    {"public-metadata", no_argument, NULL, O_PUBLIC_METADATA},
	    {"fail-rate", required_argument, NULL, O_FAIL},
	    {"unavailable-rate", required_argument, NULL, O_UNAVAIL},
	    {"throttle-rate", required_argument, NULL, O_THROTTLE},
	    {"drop-rate", required_argument, NULL, O_DROP},
	    {"drop-after-rate", required_argument, NULL, O_DROP_AFTER},
	    {"delay-ms", required_argument, NULL, O_DELAY},
	    {"force-412-first-put", no_argument, NULL, O_FORCE412},
	    {"seed", required_argument, NULL, O_SEED},
	    {"log", required_argument, NULL, O_LOG},
	    {"stats-file", required_argument, NULL, O_STATS},
	    {"help", no_argument, NULL, O_HELP},
	    {"version", no_argument, NULL, O_VERSION},
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_PORT:
			cfg.port = (unsigned)number("--port", optarg, 65535);
			break;
		case O_BIND:
			cfg.bind = optarg;
			break;
		case O_PORT_FILE:
			cfg.port_file = optarg;
			break;
		case O_CLIENT_ID:
			free(cfg.client_id);
			cfg.client_id = xstrdup(optarg);
			break;
		case O_SECRET_FILE:
			free(cfg.client_secret);
			cfg.client_secret = read_secret(optarg);
			break;
		case O_TTL:
			cfg.token_ttl = (long)number("--token-ttl", optarg, 100000000);
			break;
		case O_COND:
			cfg.cond_spec = optarg;
			break;
		case O_CAPSTMT:
			cfg.capstmt_file = optarg;
			break;
		case O_CHECK_REFS:
			srv.check_refs = true;
			break;
		case O_PUBLIC_METADATA:
			cfg.public_metadata = true;
			break;
		case O_FAIL:
			cfg.fail_rate = rate("--fail-rate", optarg);
			break;
		case O_UNAVAIL:
			cfg.unavailable_rate = rate("--unavailable-rate", optarg);
			break;
		case O_THROTTLE:
			cfg.throttle_rate = rate("--throttle-rate", optarg);
			break;
		case O_DROP:
			cfg.drop_rate = rate("--drop-rate", optarg);
			break;
		case O_DROP_AFTER:
			cfg.drop_after_rate = rate("--drop-after-rate", optarg);
			break;
		case O_DELAY:
			cfg.delay_ms = (unsigned)number("--delay-ms", optarg, 600000);
			break;
		case O_FORCE412:
			cfg.force_412 = true;
			break;
		case O_SEED:
			cfg.seed = number("--seed", optarg, ~0ul);
			break;
		case O_LOG:
			cfg.log_file = optarg;
			break;
		case O_STATS:
			cfg.stats_file = optarg;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		case O_VERSION:
			printf("dhp-testserver %s\n", DHP_VERSION);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dhp-testserver: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
	if (cfg.fail_rate + cfg.unavailable_rate + cfg.throttle_rate + cfg.drop_rate +
		cfg.drop_after_rate >
	    1.0 + 1e-9)
		die("the fault rates add up to more than 1");
	if (!cfg.client_id)
		cfg.client_id = xstrdup("dhp-import-test");
	if (!cfg.client_secret)
		cfg.client_secret = xstrdup("test-secret");
}

static void write_port_file(unsigned port)
{
	struct strbuf tmp = STRBUF_INIT;
	strbuf_addf(&tmp, "%s.tmp", cfg.port_file);
	FILE *f = fopen(tmp.buf, "w");
	if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 ||
	    rename(tmp.buf, cfg.port_file) != 0)
		die("cannot write %s: %s", cfg.port_file, strerror(errno));
	strbuf_release(&tmp);
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	srv.rng = cfg.seed;
	srv.force_412_pending = cfg.force_412;
	json_object *cs = load_capability();
	if (cfg.log_file) {
		log_fp = fopen(cfg.log_file, "a");
		if (!log_fp)
			die("cannot open %s: %s", cfg.log_file, strerror(errno));
	}

	/*
	 * Block the stop signals before MHD starts its threads (they inherit
	 * the mask), so only sigwait below sees them and the stats file is
	 * written from one ordinary thread, not from a signal handler.
	 */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/*
	 * Bind the socket here rather than in MHD, so the port is known (and
	 * /metadata complete) before the first request can arrive.
	 */
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)cfg.port);
	if (inet_pton(AF_INET, cfg.bind, &sa.sin_addr) != 1)
		die("--bind %s: not an IPv4 address", cfg.bind);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) != 0)
		die("cannot listen on %s:%u: %s", cfg.bind, cfg.port, strerror(errno));
	unsigned port = ntohs(sa.sin_port);
	finish_capability(cs, port);

	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
		MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handler, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300, MHD_OPTION_END);
	if (!d)
		die("cannot start the HTTP daemon on %s:%u", cfg.bind, port);
	if (cfg.port_file)
		write_port_file(port);
	fprintf(stderr, "dhp-testserver: listening on http://%s:%u (pid %ld)\n", cfg.bind, port,
		(long)getpid());

	for (;;) {
		int sig;
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			free(write_stats(NULL));
			continue;
		}
		break;
	}
	MHD_stop_daemon(d);
	free(write_stats(NULL));
	if (log_fp)
		fclose(log_fp);
	return 0;
}
