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
	char *token;	   /* cached access token, or NULL */
	time_t expires_at; /* when to fetch a new one */
	long fetched;	   /* tokens fetched so far (for the report) */
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

/* Forget the cached token (after a 401). */
void oauth_invalidate(struct oauth *o);

void oauth_free(struct oauth *o);

#endif
