#include "core/dhp.h"
#include "core/fileio.h"
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
				"no client secret: give --client-secret-file FILE or set %s",
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

static void request_body(const struct oauth *o, struct strbuf *sb, const char **ctype)
{
	if (o->style == OAUTH_FORM) {
		form_field(sb, "grant_type", "client_credentials");
		form_field(sb, "client_id", o->client_id);
		form_field(sb, "client_secret", o->secret);
		if (o->scope)
			form_field(sb, "scope", o->scope);
		*ctype = "Content-Type: application/x-www-form-urlencoded";
		return;
	}
	json_object *t = json_object_new_object();
	json_object_object_add(t, "grant_type", json_object_new_string("client_credentials"));
	json_object_object_add(t, "client_id", json_object_new_string(o->client_id));
	json_object_object_add(t, "client_secret", json_object_new_string(o->secret));
	if (o->scope)
		json_object_object_add(t, "scope", json_object_new_string(o->scope));
	json_object *root = t;
	if (o->style == OAUTH_EHEALTH) {
		root = json_object_new_object();
		json_object_object_add(root, "token", t);
	}
	strbuf_addstr(sb, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	*ctype = "Content-Type: application/json";
}

/* The token from a 200 body: {"access_token", "expires_in"}, at the top or,
 * as eHealth answers, inside "data". */
static int parse_token(struct oauth *o, const char *body, struct dhp_error *err)
{
	json_object *root = json_tokener_parse(body), *j = root, *data, *tok = NULL, *exp = NULL;
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
	long ttl =
	    json_object_object_get_ex(j, "expires_in", &exp) ? json_object_get_int(exp) : 300;
	/* renew a minute early (or at half-life for short tokens) */
	long margin = ttl > 120 ? 60 : ttl / 2;
	o->expires_at = time(NULL) + ttl - margin;
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

int oauth_bearer(struct oauth *o, struct http *h, const char **token, bool *fatal,
		 struct dhp_error *err)
{
	*fatal = false;
	if (o->token && time(NULL) < o->expires_at) {
		*token = o->token;
		return 0;
	}
	struct strbuf body = STRBUF_INIT;
	const char *ctype;
	request_body(o, &body, &ctype);
	const char *headers[] = {ctype, "Accept: application/json", NULL};
	struct http_resp r;
	http_resp_init(&r);
	int rc = http_request(h, "POST", o->token_url, headers, body.buf, body.len, &r, err);
	/* the body held the secret: wipe it before freeing */
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
	http_resp_release(&r);
	*token = rc == 0 ? o->token : NULL;
	return rc;
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
	free(o->token);
	free(o->token_url);
	free(o->client_id);
	free(o->scope);
	memset(o, 0, sizeof(*o));
}
