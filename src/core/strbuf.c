#include "core/dhp.h"
#include "core/strbuf.h"

char strbuf_empty[1];

void strbuf_init(struct strbuf *sb, size_t cap)
{
	*sb = (struct strbuf)STRBUF_INIT;
	sb->cap = cap;
}

void strbuf_release(struct strbuf *sb)
{
	size_t cap = sb->cap;
	if (sb->alloc)
		free(sb->buf);
	strbuf_init(sb, cap);
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->toobig = false;
	if (sb->alloc)
		sb->buf[0] = '\0';
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
	char *r = sb->alloc ? sb->buf : xstrdup("");
	if (len)
		*len = sb->len;
	strbuf_init(sb, sb->cap);
	return r;
}

/* Make room for `extra` more bytes; false (and toobig set) past the cap. */
static bool grow(struct strbuf *sb, size_t extra)
{
	size_t cap = sb->cap ? sb->cap : STRBUF_DEFAULT_CAP;
	if (sb->toobig || extra > cap - sb->len) {
		sb->toobig = true;
		return false;
	}
	size_t need = sb->len + extra + 1;
	if (need > sb->alloc) {
		size_t n = sb->alloc ? sb->alloc : 64;
		while (n < need)
			n *= 2;
		if (sb->alloc) {
			sb->buf = xrealloc(sb->buf, n);
		} else {
			sb->buf = xmalloc(n);
			sb->buf[0] = '\0';
		}
		sb->alloc = n;
	}
	return true;
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	if (!grow(sb, len))
		return;
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void strbuf_addstr(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addch(struct strbuf *sb, char c)
{
	strbuf_add(sb, &c, 1);
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0 || !grow(sb, (size_t)n))
		return;
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

/* Bytes JSON needs escaped: control characters, '"' and '\\'. */
static bool needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

void strbuf_add_json_escaped(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;
	while (i < len) {
		/* the common case: a long run of plain bytes, copied at once; the
		 * run is found 8 bytes at a time (a byte < 0x20, '"' or '\\' in
		 * the word sets its high bit in `hit`) */
		size_t start = i;
		while (i + 8 <= len) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
			uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
			uint64_t hit = ((w - ones * 0x20) & ~w & high) | ((q - ones) & ~q & high) |
				       ((b - ones) & ~b & high);
			if (hit)
				break;
			i += 8;
		}
		while (i < len && !needs_escape((unsigned char)s[i]))
			i++;
		strbuf_add(sb, s + start, i - start);
		if (i == len)
			break;
		unsigned char c = (unsigned char)s[i++];
		switch (c) {
		case '"':
			strbuf_add(sb, "\\\"", 2);
			break;
		case '\\':
			strbuf_add(sb, "\\\\", 2);
			break;
		case '\n':
			strbuf_add(sb, "\\n", 2);
			break;
		case '\r':
			strbuf_add(sb, "\\r", 2);
			break;
		case '\t':
			strbuf_add(sb, "\\t", 2);
			break;
		default: {
			char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			strbuf_add(sb, u, 6);
		}
		}
	}
}
