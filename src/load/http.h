/*
 * http.h: one HTTP/1.1-or-2 connection to a server, through libcurl.
 *
 * A struct http owns one curl easy handle, so connections are kept alive
 * between requests. TLS verification is always on (CURLOPT_SSL_VERIFYPEER
 * and VERIFYHOST are never turned off); a CA file may be given. Proxies come
 * from the environment as curl reads them (http_proxy, https_proxy,
 * no_proxy). Compressed responses are accepted.
 *
 * http_request() makes exactly one attempt; retrying is the caller's policy
 * (see http_retry_delay()). Nothing here logs: request and response bodies
 * carry patient data and Authorization headers carry secrets.
 */
#ifndef DHP_HTTP_H
#define DHP_HTTP_H

#include <stdbool.h>

#include "core/err.h"
#include "core/strbuf.h"

struct http;

struct http_resp {
	long status; /* 0 when no response arrived */
	struct strbuf body;
	char etag[64]; /* ETag header, e.g. W/"3" */
	char location[512];
	double retry_after;   /* seconds from Retry-After, or -1 */
	bool transport_error; /* timeout, reset, refused, ... */
};

struct http *http_new(const char *ca_file, long timeout_s);
void http_free(struct http *h);

void http_resp_init(struct http_resp *r);
void http_resp_release(struct http_resp *r);

/* One request. `headers` is a NULL-terminated list of "Name: value" lines.
 * Returns 0 when a response arrived (any status), -1 on a transport error
 * (resp->transport_error set, *err says what curl said, naming the URL). */
int http_request(struct http *h, const char *method, const char *url, const char *const *headers,
		 const char *body, size_t len, struct http_resp *resp, struct dhp_error *err);

/* Is this outcome worth another attempt: transport errors, 429, 5xx. */
bool http_retryable(const struct http_resp *r);

/* Delay before attempt n+1 (n >= 1): Retry-After when the server gave one
 * (capped at cap_s), else exponential backoff with full jitter:
 * uniform(0, min(cap_s, base_s * 2^(n-1))). */
double http_retry_delay(const struct http_resp *r, int n, double base_s, double cap_s);

/* URL-encode s into out (RFC 3986 unreserved kept). */
void http_urlencode(const char *s, struct strbuf *out);

#endif
