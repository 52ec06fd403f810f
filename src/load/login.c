#include "core/dhp.h"
#include "core/fileio.h"
#include "core/strbuf.h"
#include "load/http.h"
#include "load/login.h"
#include "load/oauth2.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <spawn.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define CACHE_MAX (64u << 10)
#define REQUEST_MAX 16384

/* ---- the token cache ---- */

char *login_cache_default(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	struct strbuf sb = STRBUF_INIT;
	/* XDG: a relative XDG_CACHE_HOME is invalid and is ignored */
	if (xdg && xdg[0] == '/')
		strbuf_addf(&sb, "%s/dhp-import/token.json", xdg);
	else if (home && *home)
		strbuf_addf(&sb, "%s/.cache/dhp-import/token.json", home);
	else
		return NULL;
	return strbuf_detach(&sb, NULL);
}

void login_cache_free(struct token_cache *tc)
{
	if (tc->access_token)
		memset(tc->access_token, 0, strlen(tc->access_token));
	if (tc->refresh_token)
		memset(tc->refresh_token, 0, strlen(tc->refresh_token));
	free(tc->token_url);
	free(tc->client_id);
	free(tc->access_token);
	free(tc->refresh_token);
	memset(tc, 0, sizeof(*tc));
}

static char *json_str(json_object *o, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string) ||
	    !*json_object_get_string(v))
		return NULL;
	return xstrdup(json_object_get_string(v));
}

int login_cache_read(const char *path, struct token_cache *tc, struct dhp_error *err)
{
	memset(tc, 0, sizeof(*tc));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return dhp_fail(err, DHP_EIO, path, "cannot read token cache: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return dhp_fail(err, DHP_ECONFIG, path, "token cache is not a regular file");
	}
	if (st.st_mode & 077) {
		close(fd);
		return dhp_fail(err, DHP_ECONFIG, path,
				"token cache is readable by others (mode %04o); remove it and run "
				"dhp-import login again",
				(unsigned)(st.st_mode & 07777));
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return dhp_fail(err, DHP_ECONFIG, path, "token cache belongs to another user");
	}
	char *buf = xmalloc(CACHE_MAX + 1);
	size_t len = 0;
	ssize_t n;
	while (len < CACHE_MAX && (n = read(fd, buf + len, CACHE_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			free(buf);
			return dhp_fail(err, DHP_EIO, path, "cannot read token cache: %s",
					strerror(e));
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	json_object *j = json_tokener_parse(buf);
	memset(buf, 0, len);
	free(buf);
	json_object *exp = NULL;
	if (j && json_object_is_type(j, json_type_object)) {
		tc->token_url = json_str(j, "token_url");
		tc->client_id = json_str(j, "client_id");
		tc->access_token = json_str(j, "access_token");
		tc->refresh_token = json_str(j, "refresh_token");
		if (json_object_object_get_ex(j, "expires_at", &exp))
			tc->expires_at = (time_t)json_object_get_int64(exp);
	}
	json_object_put(j);
	if (!tc->token_url || !tc->client_id || !tc->access_token || !exp) {
		login_cache_free(tc);
		return dhp_fail(err, DHP_ECONFIG, path,
				"not a token cache of dhp-import login (expected token_url, "
				"client_id, access_token, expires_at)");
	}
	return 0;
}

/* mkdir -p the parent directory of path, new directories mode 0700. */
static int make_parent(const char *path, struct dhp_error *err)
{
	char *dir = fileio_dirname(path);
	int rc = 0;
	for (char *p = dir + 1; rc == 0; p++) {
		bool end = *p == '\0';
		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST)
			rc = dhp_fail(err, DHP_EIO, dir, "cannot create directory: %s",
				      strerror(errno));
		if (end)
			break;
		*p = '/';
	}
	free(dir);
	return rc;
}

int login_cache_write(const char *path, const struct token_cache *tc, struct dhp_error *err)
{
	if (make_parent(path, err))
		return -1;
	json_object *j = json_object_new_object();
	json_object_object_add(j, "token_url", json_object_new_string(tc->token_url));
	json_object_object_add(j, "client_id", json_object_new_string(tc->client_id));
	json_object_object_add(j, "access_token", json_object_new_string(tc->access_token));
	if (tc->refresh_token)
		json_object_object_add(j, "refresh_token",
				       json_object_new_string(tc->refresh_token));
	json_object_object_add(j, "expires_at", json_object_new_int64((int64_t)tc->expires_at));
	struct strbuf text = STRBUF_INIT;
	strbuf_addstr(&text, json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	strbuf_addch(&text, '\n');
	json_object_put(j);

	/* A new file of our own (O_EXCL: never an existing file or a planted
	 * symlink), mode 0600 from its creation, then renamed over the cache. */
	struct strbuf tmp = STRBUF_INIT;
	int fd = -1;
	for (int tries = 0; fd < 0 && tries < 16; tries++) {
		char rnd[9];
		if (login_random(rnd, 8, err))
			break;
		strbuf_reset(&tmp);
		strbuf_addf(&tmp, "%s.%s.tmp", path, rnd);
		fd = open(tmp.buf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			dhp_fail(err, DHP_EIO, path, "cannot write token cache: %s",
				 strerror(errno));
			break;
		}
	}
	int rc = -1;
	if (fd >= 0) {
		size_t off = 0;
		while (off < text.len) {
			ssize_t n = write(fd, text.buf + off, text.len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				break;
			off += (size_t)n;
		}
		int e = off < text.len ? errno : 0;
		if (!e && fsync(fd))
			e = errno;
		if (close(fd) && !e)
			e = errno;
		if (!e && rename(tmp.buf, path))
			e = errno;
		if (e) {
			unlink(tmp.buf);
			dhp_fail(err, DHP_EIO, path, "cannot write token cache: %s", strerror(e));
		} else {
			rc = 0;
		}
	} else if (!err->msg[0]) {
		dhp_fail(err, DHP_EIO, path, "cannot create a temporary file next to it");
	}
	memset(text.buf, 0, text.len);
	strbuf_release(&text);
	strbuf_release(&tmp);
	return rc;
}

/* ---- PKCE ---- */

int login_random(char *out, size_t n, struct dhp_error *err)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				  "0123456789-._~";
	const unsigned nset = sizeof(set) - 1; /* 66 */
	const unsigned limit = 256 - 256 % nset;
	unsigned char rnd[64];
	size_t have = 0, used = 0;
	for (size_t i = 0; i < n;) {
		if (used == have) {
			ssize_t got = getrandom(rnd, sizeof(rnd), 0);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return dhp_fail(err, DHP_EIO, "getrandom", "no random bytes: %s",
						strerror(errno));
			have = (size_t)got;
			used = 0;
		}
		unsigned b = rnd[used++];
		if (b < limit) /* no modulo bias */
			out[i++] = set[b % nset];
	}
	out[n] = '\0';
	memset(rnd, 0, sizeof(rnd));
	return 0;
}

void login_challenge(const char *verifier, char out[44])
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	if (!EVP_Digest(verifier, strlen(verifier), md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32) {
		fprintf(stderr, "dhp-import: fatal: SHA-256 is not available\n");
		exit(1);
	}
	size_t o = 0;
	for (size_t i = 0; i < 32; i += 3) {
		unsigned v = (unsigned)md[i] << 16;
		if (i + 1 < 32)
			v |= (unsigned)md[i + 1] << 8;
		if (i + 2 < 32)
			v |= md[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (i + 1 < 32)
			out[o++] = b64[(v >> 6) & 63];
		if (i + 2 < 32)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0'; /* 32 bytes: 43 characters, no padding */
}

/* ---- the redirect listener ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int listen_loopback(int port, int *bound, struct dhp_error *err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return dhp_fail(err, DHP_EIO, "login", "cannot create a socket: %s",
				strerror(errno));
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8) ||
	    getsockname(fd, (struct sockaddr *)&a, &alen)) {
		int e = errno;
		close(fd);
		char where[32];
		snprintf(where, sizeof(where), "127.0.0.1:%d", port);
		return dhp_fail(err, DHP_EIO, where, "cannot listen for the login redirect: %s",
				strerror(e));
	}
	*bound = ntohs(a.sin_port);
	return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void answer(int fd, const char *status, const char *title, const char *text)
{
	struct strbuf body = STRBUF_INIT, head = STRBUF_INIT;
	strbuf_addf(&body,
		    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dhp-import: "
		    "%s</title></head>\n<body><h1>%s</h1><p>%s</p></body></html>\n",
		    title, title, text);
	strbuf_addf(&head,
		    "HTTP/1.1 %s\r\nContent-Type: text/html; charset=utf-8\r\n"
		    "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
		    status, body.len);
	send_all(fd, head.buf, head.len);
	send_all(fd, body.buf, body.len);
	strbuf_release(&body);
	strbuf_release(&head);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..n) ('+' is a space, as in a form). */
static char *pct_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < n && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)s[i + 2])) >= 0) {
			*o++ = (char)(h * 16 + l);
			i += 2;
		} else {
			*o++ = s[i] == '+' ? ' ' : s[i];
		}
	}
	*o = '\0';
	return out;
}

/* The value of `name` in the query string q (up to a space), decoded; NULL
 * when absent. */
static char *query_value(const char *q, const char *name)
{
	size_t nl = strlen(name);
	while (q && *q && *q != ' ') {
		size_t len = strcspn(q, "& ");
		if (len > nl && !strncmp(q, name, nl) && q[nl] == '=')
			return pct_decode(q + nl + 1, len - nl - 1);
		if (len == nl && !strncmp(q, name, nl))
			return xstrdup("");
		q += len;
		if (*q == '&')
			q++;
	}
	return NULL;
}

/* Equal strings, compared in time independent of where they differ. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;
	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* Server-given text for a message: printable ASCII only, at most 200 bytes. */
static void clean_text(char *s)
{
	size_t i = 0;
	for (; s[i] && i < 200; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			s[i] = '?';
	s[i] = '\0';
}

/* One request head in buf: 1 when it is not the callback (answered 404;
 * the wait goes on), 0 with *code when it is, -1 and *err when the callback
 * is refused (wrong state, an error from the server, no code). */
static int handle_request(int cfd, char *buf, const char *state, const char *redirect_uri,
			  char **code, struct dhp_error *err)
{
	char *target = NULL;
	if (!strncmp(buf, "GET ", 4))
		target = buf + 4;
	/* absolute-form (through a proxy): http://127.0.0.1:PORT/callback?... */
	if (target && !strncmp(target, "http://", 7)) {
		char *path = strchr(target + 7, '/');
		target = path && path < target + strcspn(target, " \r\n") ? path : NULL;
	}
	size_t plen = target ? strcspn(target, "? \r\n") : 0;
	if (!target || plen != 9 || strncmp(target, "/callback", 9)) {
		answer(cfd, "404 Not Found", "Not found",
		       "This is dhp-import waiting for the login redirect.");
		return 1;
	}
	const char *q = target[plen] == '?' ? target + plen + 1 : "";
	char *got_state = query_value(q, "state"), *got_code = query_value(q, "code");
	char *error = query_value(q, "error"), *desc = query_value(q, "error_description");
	int rc;
	if (!got_state || !same_secret(got_state, state)) {
		answer(cfd, "400 Bad Request", "Login failed",
		       "The answer does not belong to this login (state mismatch). "
		       "Close this window and run dhp-import login again.");
		rc = dhp_fail(err, DHP_ECONNECT, redirect_uri,
			      "login redirect with a %s state: refused (a stale or forged "
			      "redirect)",
			      got_state ? "wrong" : "missing");
	} else if (error) {
		answer(cfd, "400 Bad Request", "Login failed",
		       "The authorization server refused the login. "
		       "See dhp-import's message in the terminal.");
		clean_text(error);
		if (desc)
			clean_text(desc);
		rc = dhp_fail(err, DHP_ECONNECT, redirect_uri, "login refused: %s%s%s", error,
			      desc ? ": " : "", desc ? desc : "");
	} else if (!got_code || !*got_code) {
		answer(cfd, "400 Bad Request", "Login failed",
		       "The redirect carries no authorization code.");
		rc = dhp_fail(err, DHP_ECONNECT, redirect_uri, "login redirect without a code");
	} else {
		answer(cfd, "200 OK", "Logged in",
		       "dhp-import received the authorization. You can close this window.");
		*code = got_code;
		got_code = NULL;
		rc = 0;
	}
	free(got_state);
	free(got_code);
	free(error);
	free(desc);
	return rc;
}

#define MAX_CLIENTS 8
#define CLIENT_IDLE_MS 30000

/* A connection of the browser's, its request head so far. */
struct client {
	int fd;
	size_t len;
	int64_t t0;
	char *buf;
};

static void drop_client(struct client *c, int *n, int i)
{
	close(c[i].fd);
	memset(c[i].buf, 0, c[i].len);
	free(c[i].buf);
	memmove(c + i, c + i + 1, (size_t)(*n - i - 1) * sizeof(*c));
	(*n)--;
}

/* Wait for GET /callback?... until wait_s have passed. Several connections
 * are served at once (a browser may open one it never uses); other requests
 * (a favicon, a probe) get 404 and the wait goes on. 0 with *code set, or
 * -1 and *err. */
static int await_code(int lfd, const char *state, const char *redirect_uri, int wait_s, char **code,
		      struct dhp_error *err)
{
	int64_t deadline = mono_ms() + (int64_t)wait_s * 1000;
	struct client cl[MAX_CLIENTS];
	int ncl = 0, rc = 1;
	*code = NULL;
	while (rc > 0) {
		int64_t now = mono_ms(), left = deadline - now;
		if (left <= 0) {
			rc = dhp_fail(err, DHP_ECONNECT, redirect_uri,
				      "no login redirect within %d s (the browser did not come "
				      "back; run dhp-import login again)",
				      wait_s);
			break;
		}
		for (int i = ncl - 1; i >= 0; i--)
			if (now - cl[i].t0 > CLIENT_IDLE_MS)
				drop_client(cl, &ncl, i);
		struct pollfd p[1 + MAX_CLIENTS];
		p[0] = (struct pollfd){lfd, POLLIN, 0};
		for (int i = 0; i < ncl; i++)
			p[1 + i] = (struct pollfd){cl[i].fd, POLLIN, 0};
		int r = poll(p, (nfds_t)(1 + ncl), left > 1000 ? 1000 : (int)left);
		if (r < 0 && errno != EINTR) {
			rc = dhp_fail(err, DHP_EIO, redirect_uri, "poll: %s", strerror(errno));
			break;
		}
		if (r <= 0)
			continue;
		/* clients first: accepting may drop the oldest one and shift the array */
		for (int i = ncl - 1; i >= 0 && rc > 0; i--) {
			if (!p[1 + i].revents)
				continue;
			struct client *c = &cl[i];
			ssize_t n = recv(c->fd, c->buf + c->len, REQUEST_MAX - 1 - c->len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				drop_client(cl, &ncl, i);
				continue;
			}
			c->len += (size_t)n;
			c->buf[c->len] = '\0';
			/* the request line is what matters: a full buffer is enough */
			if (!strstr(c->buf, "\r\n\r\n") && !strstr(c->buf, "\n\n") &&
			    c->len < REQUEST_MAX - 1)
				continue;
			rc = handle_request(c->fd, c->buf, state, redirect_uri, code, err);
			drop_client(cl, &ncl, i);
		}
		if (rc > 0 && (p[0].revents & POLLIN)) {
			int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd >= 0) {
				if (ncl == MAX_CLIENTS)
					drop_client(cl, &ncl, 0);
				cl[ncl++] =
				    (struct client){cfd, 0, mono_ms(), xmalloc(REQUEST_MAX)};
			}
		}
	}
	while (ncl)
		drop_client(cl, &ncl, ncl - 1);
	return rc;
}

/* xdg-open URL, detached, output discarded; failures are ignored. */
static pid_t open_browser(const char *url)
{
	const char *display = getenv("DISPLAY");
	if (!display || !*display)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	char *argv[] = {xstrdup("xdg-open"), xstrdup(url), NULL};
	pid_t pid;
	if (posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, environ))
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	free(argv[0]);
	free(argv[1]);
	return pid;
}

static void query_field(struct strbuf *sb, const char *k, const char *v)
{
	strbuf_addch(sb, '&');
	strbuf_addstr(sb, k);
	strbuf_addch(sb, '=');
	http_urlencode(v, sb);
}

int login_run(const struct login_opts *lo, struct oauth *auth, struct dhp_error *err)
{
	char verifier[65], state[33], challenge[44];
	if (login_random(verifier, 64, err) || login_random(state, 32, err))
		return -1;
	login_challenge(verifier, challenge);
	int port = 0;
	int lfd = listen_loopback(lo->port, &port, err);
	if (lfd < 0)
		return -1;
	char redirect_uri[64];
	snprintf(redirect_uri, sizeof(redirect_uri), "http://127.0.0.1:%d/callback", port);

	struct strbuf url = STRBUF_INIT;
	strbuf_addstr(&url, lo->authorize_url);
	strbuf_addstr(&url, strchr(lo->authorize_url, '?') ? "&" : "?");
	strbuf_addstr(&url, "response_type=code");
	query_field(&url, "client_id", auth->client_id);
	query_field(&url, "redirect_uri", redirect_uri);
	query_field(&url, "state", state);
	query_field(&url, "code_challenge", challenge);
	query_field(&url, "code_challenge_method", "S256");
	if (lo->scope)
		query_field(&url, "scope", lo->scope);
	FILE *out = lo->out ? lo->out : stdout;
	fprintf(out,
		"To log in to %s as client '%s', open this address in a browser "
		"(waiting %d s):\n\n    %s\n\n",
		auth->token_url, auth->client_id, lo->wait_s, url.buf);
	fflush(out);
	pid_t browser = lo->open_browser ? open_browser(url.buf) : -1;
	strbuf_release(&url);

	char *code = NULL;
	int rc = await_code(lfd, state, redirect_uri, lo->wait_s, &code, err);
	close(lfd);
	if (browser > 0)
		waitpid(browser, NULL, WNOHANG);
	if (rc) {
		memset(verifier, 0, sizeof(verifier));
		return -1;
	}

	struct http *h = http_new(lo->ca_file, lo->http_timeout_s);
	const char *f[] = {"grant_type",
			   "authorization_code",
			   "code",
			   code,
			   "redirect_uri",
			   redirect_uri,
			   "client_id",
			   auth->client_id,
			   "code_verifier",
			   verifier,
			   auth->secret ? "client_secret" : NULL,
			   auth->secret,
			   NULL};
	bool fatal;
	rc = oauth_grant(auth, h, f, &fatal, err);
	http_free(h);
	memset(code, 0, strlen(code));
	free(code);
	memset(verifier, 0, sizeof(verifier));
	if (rc)
		return -1;
	struct token_cache tc = {auth->token_url, auth->client_id, auth->token, auth->refresh_token,
				 auth->expires_real};
	if (login_cache_write(lo->cache_file, &tc, err))
		return -1;
	free(auth->cache_file);
	auth->cache_file = xstrdup(lo->cache_file);
	return 0;
}
