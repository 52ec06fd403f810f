#include "core/dhp.h"
#include "load/http.h"

#include <curl/curl.h>
#include <math.h>
#include <strings.h>

struct http {
	CURL *curl;
	char *ca_file;
	long timeout_s;
};

struct http *http_new(const char *ca_file, long timeout_s)
{
	static bool global_done;
	if (!global_done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		global_done = true;
	}
	struct http *h = xcalloc(1, sizeof(*h));
	h->curl = curl_easy_init();
	if (!h->curl) {
		fprintf(stderr, "dhp-import: fatal: cannot initialise libcurl\n");
		exit(1);
	}
	h->ca_file = ca_file ? xstrdup(ca_file) : NULL;
	h->timeout_s = timeout_s > 0 ? timeout_s : 60;
	return h;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h->ca_file);
	free(h);
}

void http_resp_init(struct http_resp *r)
{
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->body, 256u << 20);
	r->retry_after = -1;
}

void http_resp_release(struct http_resp *r)
{
	strbuf_release(&r->body);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *user)
{
	struct strbuf *sb = user;
	strbuf_add(sb, ptr, size * nmemb);
	return sb->toobig ? 0 : size * nmemb;
}

/* Copy a header value (trimmed) into dst. */
static void header_value(const char *line, size_t n, size_t name_len, char *dst, size_t dlen)
{
	const char *v = line + name_len;
	size_t len = n - name_len;
	while (len && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	snprintf(dst, dlen, "%.*s", (int)(len < dlen ? len : dlen - 1), v);
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *user)
{
	struct http_resp *r = user;
	size_t n = size * nmemb;
	if (n > 5 && strncasecmp(line, "ETag:", 5) == 0)
		header_value(line, n, 5, r->etag, sizeof(r->etag));
	else if (n > 9 && strncasecmp(line, "Location:", 9) == 0)
		header_value(line, n, 9, r->location, sizeof(r->location));
	else if (n > 12 && strncasecmp(line, "Retry-After:", 12) == 0) {
		char v[64];
		header_value(line, n, 12, v, sizeof(v));
		char *end;
		double s = strtod(v, &end);
		/* an HTTP-date is rare from APIs; treat it as "a little while" */
		r->retry_after = end != v && s >= 0 ? s : 5;
	}
	return n;
}

int http_request(struct http *h, const char *method, const char *url, const char *const *headers,
		 const char *body, size_t len, struct http_resp *resp, struct dhp_error *err)
{
	CURL *c = h->curl;
	curl_easy_reset(c);
	strbuf_reset(&resp->body);
	resp->status = 0;
	resp->etag[0] = resp->location[0] = '\0';
	resp->retry_after = -1;
	resp->transport_error = false;
	struct curl_slist *hl = NULL;
	for (int i = 0; headers && headers[i]; i++)
		hl = curl_slist_append(hl, headers[i]);
	hl = curl_slist_append(hl, "Expect:"); /* no 100-continue round trip */
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else if (streq(method, "GET")) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, h->timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl has */
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "dhp-import/" DHP_VERSION);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (h->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	char ebuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(hl);
	if (rc != CURLE_OK) {
		resp->transport_error = true;
		dhp_fail(err, DHP_ECONNECT, url, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
		dhp_detail(err, "curl error %d", (int)rc);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	return 0;
}

bool http_retryable(const struct http_resp *r)
{
	return r->transport_error || r->status == 429 || r->status >= 500;
}

double http_retry_delay(const struct http_resp *r, int n, double base_s, double cap_s)
{
	if (r && r->retry_after >= 0)
		return r->retry_after < cap_s ? r->retry_after : cap_s;
	double ceiling = base_s * pow(2.0, n > 1 ? n - 1 : 0);
	if (ceiling > cap_s)
		ceiling = cap_s;
	/* full jitter: spreads retries of many clients after a shared outage */
	return ceiling * ((double)random() / (double)RAND_MAX);
}

void http_urlencode(const char *s, struct strbuf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			strbuf_addch(out, (char)*p);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			strbuf_add(out, e, 3);
		}
	}
}
