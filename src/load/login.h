/*
 * login.h: `dhp-import login`, the OAuth 2.0 authorization code flow with
 * PKCE (RFC 6749 4.1, RFC 7636 S256, RFC 8252 loopback redirect) for
 * migrations run by a person, and the token cache it leaves behind.
 *
 * The flow: a random code_verifier (64 characters of the unreserved set)
 * and state; a listening socket on 127.0.0.1 (a random free port unless one
 * is configured); the authorization URL printed on stdout (and opened with
 * xdg-open when DISPLAY is set); one redirect GET /callback?code=&state=
 * awaited with a time limit; the state compared; a small HTML page
 * answered; the code exchanged at the token endpoint with the verifier
 * (grant_type=authorization_code, the client secret only when one is
 * configured); the tokens saved in the token cache.
 *
 * The token cache is a JSON file
 *   {"token_url", "client_id", "access_token", "refresh_token", "expires_at"}
 * (expires_at in seconds since the epoch), created mode 0600 through
 * open(O_CREAT|O_EXCL) on a temporary name and rename(2), so no reader ever
 * sees a partial or loose file. A cache that group or others can read, or
 * that another user owns, is refused, as ssh refuses such keys. Tokens are
 * never printed or logged.
 */
#ifndef DHP_LOGIN_H
#define DHP_LOGIN_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "core/err.h"

struct oauth;

/* ---- the token cache ---- */

struct token_cache {
	char *token_url; /* the endpoint and client the tokens belong to */
	char *client_id;
	char *access_token;
	char *refresh_token; /* or NULL when the server issued none */
	time_t expires_at;   /* when the access token expires */
};

/* $XDG_CACHE_HOME/dhp-import/token.json, else ~/.cache/dhp-import/token.json;
 * NULL when neither XDG_CACHE_HOME nor HOME is set. Caller frees. */
char *login_cache_default(void);

/* Read a token cache. -1 and *err when it cannot be read, is not a regular
 * file, is readable by group or others, belongs to another user, or is not
 * a token cache. */
int login_cache_read(const char *path, struct token_cache *tc, struct dhp_error *err);

/* Write a token cache atomically, mode 0600 (missing parent directories are
 * created mode 0700). */
int login_cache_write(const char *path, const struct token_cache *tc, struct dhp_error *err);

void login_cache_free(struct token_cache *tc);

/* ---- PKCE ---- */

/* n random characters of RFC 3986's unreserved set (A-Z a-z 0-9 - . _ ~),
 * from getrandom(2), NUL-terminated (out holds n + 1). */
int login_random(char *out, size_t n, struct dhp_error *err);

/* BASE64URL(SHA-256(verifier)) without padding: 43 characters + NUL. */
void login_challenge(const char *verifier, char out[44]);

/* ---- the flow ---- */

struct login_opts {
	const char *authorize_url;
	const char *scope;	/* or NULL */
	const char *cache_file; /* where the tokens go */
	const char *ca_file;	/* for the token endpoint, or NULL */
	long http_timeout_s;
	int port;	   /* redirect port on 127.0.0.1; 0 = any free port */
	int wait_s;	   /* how long to wait for the redirect */
	bool open_browser; /* try xdg-open (only when DISPLAY is set) */
	FILE *out;	   /* where the authorization URL is printed */
};

/* Run the flow for the client of *auth (token_url, client_id, style and an
 * optional secret). On success the tokens are in *auth and in the cache
 * (auth->cache_file is set to it); -1 and *err otherwise (a state mismatch,
 * a refusal, a timeout, the token endpoint's answer). */
int login_run(const struct login_opts *lo, struct oauth *auth, struct dhp_error *err);

#endif
