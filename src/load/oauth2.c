#include "core/dhp.h"
#include "core/fileio.h"
#include "core/log.h"
#include "load/login.h"
#include "load/oauth2.h"

#include <errno.h>
#include <json-c/json.h>
#include <sys/stat.h>

int oauth_style_parse(const char *s)
{
	if (!s || streq(s, "form"))
		return OAUTH_FORM;
	if (streq(s, "json"))
		return OAUTH_JSON;
	if (streq(s, "ehealth"))
		return OAUTH_EHEALTH;
	return -1;
}

int oauth_load_secret(struct oauth *o, const char *file, const char *env, struct dhp_error *err)
{
	free(o->secret);
	o->secret = NULL;
	if (file) {
		struct stat st;
		if (stat(file, &st))
			return dhp_fail(err, DHP_ECONFIG, file,
					"cannot read client secret file: %s", strerror(errno));
		if (st.st_mode & 077)
			return dhp_fail(err, DHP_ECONFIG, file,
					"client secret file is readable by others (mode %04o); "
					"chmod 600 it",
					(unsigned)(st.st_mode & 07777));
		size_t len;
		char *text = fileio_read(file, &len, err);
		if (!text)
			return -1;
		while (len &&
		       (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
			text[--len] = '\0';
		o->secret = text;
	} else if (env && getenv(env) && *getenv(env)) {
		o->secret = xstrdup(getenv(env));
	}
	if (!o->secret || !*o->secret)
		return dhp_fail(err, DHP_ECONFIG, "target",
				"no client secret: give --client-secret-file FILE or set %s "
				"(or log in with dhp-import login)",
				env ? env : "DHP_CLIENT_SECRET");
	return 0;
}

static void form_field(struct strbuf *sb, const char *k, const char *v)
{
	if (sb->len)
		strbuf_addch(sb, '&');
	strbuf_addstr(sb, k);
	strbuf_addch(sb, '=');
	http_urlencode(v, sb);
}

/* The body of a token request: fields (name, value, ..., NULL) as a form or,
 * in the JSON styles, as an object. */
static void request_body(const struct oauth *o, const char *const *fields, struct strbuf *sb,
			 const char **ctype)
{
	if (o->style == OAUTH_FORM) {
		for (size_t i = 0; fields[i]; i += 2)
			form_field(sb, fields[i], fields[i + 1]);
		*ctype = "Content-Type: application/x-www-form-urlencoded";
		return;
	}
	json_object *t = json_object_new_object();
	for (size_t i = 0; fields[i]; i += 2)
		json_object_object_add(t, fields[i], json_object_new_string(fields[i + 1]));
	json_object *root = t;
	if (o->style == OAUTH_EHEALTH) {
		root = json_object_new_object();
		json_object_object_add(root, "token", t);
	}
	strbuf_addstr(sb, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	*ctype = "Content-Type: application/json";
}

/* When to renew a token that lasts ttl more seconds: a minute early, or at
 * half-life for short tokens. */
static time_t renew_at(time_t now, long ttl)
{
	if (ttl <= 0)
		return 0;
	return now + ttl - (ttl > 120 ? 60 : ttl / 2);
}

/* The token from a 200 body: {"access_token", "expires_in", "refresh_token"},
 * at the top or, as eHealth answers, inside "data". */
static int parse_token(struct oauth *o, const char *body, struct dhp_error *err)
{
	json_object *root = json_tokener_parse(body), *j = root, *data, *tok = NULL, *exp = NULL,
		    *ref = NULL;
	if (j && json_object_object_get_ex(j, "data", &data) &&
	    json_object_is_type(data, json_type_object))
		j = data;
	if (!j || !json_object_object_get_ex(j, "access_token", &tok) ||
	    !json_object_is_type(tok, json_type_string)) {
		json_object_put(root);
		return dhp_fail(err, DHP_ECONNECT, o->token_url,
				"token endpoint answered 200 without an access_token");
	}
	free(o->token);
	o->token = xstrdup(json_object_get_string(tok));
	/* a server may keep the refresh token it issued before (RFC 6749 6) */
	if (json_object_object_get_ex(j, "refresh_token", &ref) &&
	    json_object_is_type(ref, json_type_string) && *json_object_get_string(ref)) {
		if (o->refresh_token)
			memset(o->refresh_token, 0, strlen(o->refresh_token));
		free(o->refresh_token);
		o->refresh_token = xstrdup(json_object_get_string(ref));
	}
	long ttl =
	    json_object_object_get_ex(j, "expires_in", &exp) ? json_object_get_int(exp) : 300;
	time_t now = time(NULL);
	o->expires_at = renew_at(now, ttl);
	o->expires_real = now + ttl;
	o->fetched++;
	json_object_put(root);
	return 0;
}

/* "invalid_client: bad secret" from an OAuth error body, for the message. */
static void oauth_error_text(const char *body, char *out, size_t len)
{
	json_object *j = json_tokener_parse(body), *e = NULL, *d = NULL;
	out[0] = '\0';
	if (j && json_object_object_get_ex(j, "error", &e)) {
		json_object_object_get_ex(j, "error_description", &d);
		snprintf(out, len, "%s%s%s", json_object_get_string(e), d ? ": " : "",
			 d ? json_object_get_string(d) : "");
	}
	json_object_put(j);
}

int oauth_grant(struct oauth *o, struct http *h, const char *const *fields, bool *fatal,
		struct dhp_error *err)
{
	*fatal = false;
	struct strbuf body = STRBUF_INIT;
	const char *ctype;
	request_body(o, fields, &body, &ctype);
	const char *headers[] = {ctype, "Accept: application/json", NULL};
	struct http_resp r;
	http_resp_init(&r);
	int rc = http_request(h, "POST", o->token_url, headers, body.buf, body.len, &r, err);
	/* the body held a secret, a code or a refresh token: wipe it before freeing */
	memset(body.buf, 0, body.len);
	strbuf_release(&body);
	if (rc == 0 && r.status == 200) {
		rc = parse_token(o, r.body.buf, err);
	} else if (rc == 0) {
		char why[300];
		oauth_error_text(r.body.buf, why, sizeof(why));
		dhp_fail(err, DHP_ECONNECT, o->token_url, "token request refused: HTTP %ld%s%s",
			 r.status, why[0] ? ": " : "", why);
		*fatal = r.status == 400 || r.status == 401 || r.status == 403;
		rc = -1;
	}
	if (r.body.buf)
		memset(r.body.buf, 0, r.body.len); /* the answer held the tokens */
	http_resp_release(&r);
	return rc;
}

/* Write the tokens back to the token cache after a refresh. A failure is
 * only a warning: the run goes on with the token it has. */
static void save_cache(const struct oauth *o)
{
	struct token_cache tc = {o->token_url, o->client_id, o->token, o->refresh_token,
				 o->expires_real};
	struct dhp_error err = DHP_ERROR_INIT;
	if (login_cache_write(o->cache_file, &tc, &err))
		log_msg(LOG_WARNING, err.where, "renewed tokens not saved: %s", err.msg);
}

int oauth_bearer(struct oauth *o, struct http *h, const char **token, bool *fatal,
		 struct dhp_error *err)
{
	*fatal = false;
	if (o->token && time(NULL) < o->expires_at) {
		*token = o->token;
		return 0;
	}
	*token = NULL;
	int rc;
	if (o->secret) {
		const char *f[] = {"grant_type",
				   "client_credentials",
				   "client_id",
				   o->client_id,
				   "client_secret",
				   o->secret,
				   o->scope ? "scope" : NULL,
				   o->scope,
				   NULL};
		rc = oauth_grant(o, h, f, fatal, err);
	} else if (o->refresh_token) {
		const char *f[] = {"grant_type",
				   "refresh_token",
				   "refresh_token",
				   o->refresh_token,
				   "client_id",
				   o->client_id,
				   NULL};
		rc = oauth_grant(o, h, f, fatal, err);
		if (rc && *fatal)
			dhp_detail(err, "the login has ended: run dhp-import login again");
		else if (rc == 0 && o->cache_file)
			save_cache(o);
	} else {
		*fatal = true;
		return dhp_fail(err, DHP_ECONNECT, o->cache_file ? o->cache_file : o->token_url,
				"the access token expired and there is no refresh token; run "
				"dhp-import login again");
	}
	*token = rc == 0 ? o->token : NULL;
	return rc;
}

int oauth_use_cache(struct oauth *o, const char *path, struct dhp_error *err)
{
	struct token_cache tc;
	if (login_cache_read(path, &tc, err))
		return -1;
	if (!streq(tc.token_url, o->token_url) || !streq(tc.client_id, o->client_id)) {
		dhp_fail(err, DHP_ECONFIG, path,
			 "the token cache holds a login of client '%s' at %s, not of '%s' at %s; "
			 "run dhp-import login",
			 tc.client_id, tc.token_url, o->client_id, o->token_url);
		login_cache_free(&tc);
		return -1;
	}
	free(o->token);
	free(o->refresh_token);
	free(o->cache_file);
	o->token = tc.access_token;
	o->refresh_token = tc.refresh_token;
	tc.access_token = tc.refresh_token = NULL;
	o->cache_file = xstrdup(path);
	time_t now = time(NULL);
	o->expires_real = tc.expires_at;
	o->expires_at = tc.expires_at > now ? renew_at(now, (long)(tc.expires_at - now)) : 0;
	login_cache_free(&tc);
	return 0;
}

void oauth_invalidate(struct oauth *o)
{
	o->expires_at = 0;
}

void oauth_free(struct oauth *o)
{
	if (o->secret)
		memset(o->secret, 0, strlen(o->secret));
	free(o->secret);
	if (o->token)
		memset(o->token, 0, strlen(o->token));
	if (o->refresh_token)
		memset(o->refresh_token, 0, strlen(o->refresh_token));
	free(o->token);
	free(o->refresh_token);
	free(o->cache_file);
	free(o->token_url);
	free(o->client_id);
	free(o->scope);
	memset(o, 0, sizeof(*o));
}
