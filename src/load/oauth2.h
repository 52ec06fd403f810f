/*
 * oauth2.h: OAuth 2.0 client_credentials tokens for the DHP SSO.
 *
 * POST {token_url} with grant_type=client_credentials, client_id,
 * client_secret (and scope when set), in one of three body styles:
 *   form     application/x-www-form-urlencoded (DHP's documented form)
 *   json     {"grant_type": ..., "client_id": ..., ...}
 *   ehealth  {"token": {...}} (Ukraine's eHealth, at /oauth/tokens)
 * The token is cached and fetched again shortly before expires_in ends, or
 * when the caller saw a 401 (oauth_invalidate).
 *
 * The secret comes from a file (refused when group or others can read it,
 * as ssh does with keys) or an environment variable, never from argv, and
 * is never logged: error messages name the token URL and the server's
 * OAuth `error` / `error_description`, nothing else.
 *
 * Without a secret, the tokens of a person's `dhp-import login` (see
 * login.h) can seed the cache (oauth_use_cache): the access token is used
 * while it lasts, then renewed with grant_type=refresh_token (and client_id)
 * on expiry or after a 401, and the new tokens are written back to the
 * token cache file.
 */
#ifndef DHP_OAUTH2_H
#define DHP_OAUTH2_H

#include <time.h>

#include "core/err.h"
#include "load/http.h"

enum oauth_style { OAUTH_FORM, OAUTH_JSON, OAUTH_EHEALTH };

struct oauth {
	char *token_url;
	char *client_id;
	char *secret;
	char *scope;
	enum oauth_style style;
	char *token;	     /* cached access token, or NULL */
	time_t expires_at;   /* when to fetch a new one */
	long fetched;	     /* tokens fetched so far (for the report) */
	char *refresh_token; /* from login or the token cache, or NULL */
	char *cache_file;    /* token cache to write renewed tokens to, or NULL */
	time_t expires_real; /* when the access token expires (the cache's expires_at) */
};

/* Read the secret: from `file` if given (mode must deny group/others), else
 * from the environment variable `env`. -1 and *err (exit 2 material) when
 * neither gives one. */
int oauth_load_secret(struct oauth *o, const char *file, const char *env, struct dhp_error *err);

/* "form", "json" or "ehealth"; -1 if unknown. */
int oauth_style_parse(const char *s);

/* A valid bearer token (cached or fetched). -1 and *err naming the token URL
 * and the OAuth error when the endpoint refuses; *fatal is set when retrying
 * cannot help (400/401: wrong credentials or request). */
int oauth_bearer(struct oauth *o, struct http *h, const char **token, bool *fatal,
		 struct dhp_error *err);

/* Seed the cache from the token cache file `path` (login.h) for the client
 * already in *o (token_url, client_id); renewed tokens are written back to
 * it. -1 and *err (exit 2 material) when the file is unreadable, loose
 * (group or others can read it), or belongs to another client or token URL. */
int oauth_use_cache(struct oauth *o, const char *path, struct dhp_error *err);

/* One token request with the given form fields (name, value, ..., NULL;
 * sent in o->style), the answer taken into *o (access_token, refresh_token,
 * expires_in). For grants other than client_credentials and refresh_token,
 * e.g. login's authorization_code. Same errors as oauth_bearer. */
int oauth_grant(struct oauth *o, struct http *h, const char *const *fields, bool *fatal,
		struct dhp_error *err);

/* Forget the cached token (after a 401). */
void oauth_invalidate(struct oauth *o);

void oauth_free(struct oauth *o);

#endif
