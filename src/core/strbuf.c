#include "core/dhp.h"
#include "core/strbuf.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* Make room for `extra` more bytes; false past the cap (or once broken),
 * with the buffer as it was. The buffer never grows past cap + 1 bytes:
 * the inline appends in strbuf.h rely on that to skip the cap check. */
static bool make_room(struct strbuf *sb, size_t extra)
{
	size_t cap = sb->cap ? sb->cap : STRBUF_DEFAULT_CAP;
	if (sb->toobig || extra > cap - sb->len)
		return false;
	size_t need = sb->len + extra + 1; /* <= cap + 1 */
	if (need > sb->alloc) {
		size_t n = sb->alloc ? sb->alloc : 64;
		while (n < need)
			n *= 2;
		if (n - 1 > cap)
			n = cap + 1;
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

/* make_room() for an append: past the cap, the buffer breaks. */
static bool grow(struct strbuf *sb, size_t extra)
{
	if (make_room(sb, extra))
		return true;
	sb->toobig = true;
	return false;
}

bool strbuf_reserve(struct strbuf *sb, size_t extra)
{
	if (!sb->toobig && extra < sb->alloc - sb->len)
		return true;
	return make_room(sb, extra);
}

void strbuf_add_grow(struct strbuf *sb, const void *data, size_t len)
{
	if (!grow(sb, len))
		return;
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
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

#define ONES 0x0101010101010101u
#define HIGH (ONES * 0x80)

/* The bytes of the word w that need escaping, each as its high bit set (0
 * when none). (x - ONES * k) & ~x & HIGH flags the bytes of x below k; for
 * '"' and '\\' that test (k = 1) runs on x = w ^ ONES * byte, whose high
 * bits are those of w, so one mask serves all three. A borrow can only flag
 * a byte above a real hit: the lowest flag is always exact. */
static uint64_t escapes8(uint64_t w)
{
	uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');
	return ((w - ONES * 0x20) | (q - ONES) | (b - ONES)) & ~w & HIGH;
}

/* The index of the first byte of s[0, len) that needs escaping, or len,
 * with the bytes before it copied to d; d has room for len bytes, and
 * some after that byte may have been copied too. Sixteen bytes at a time
 * where SSE2 is there (x86-64 always), else eight: most strings have
 * nothing to escape, and one pass over them both scans and copies. */
static size_t copy_plain(char *d, const char *s, size_t len)
{
	size_t i = 0;
#if defined(__SSE2__)
	if (len >= 16) {
		const __m128i q = _mm_set1_epi8('"'), b = _mm_set1_epi8('\\'),
			      c = _mm_set1_epi8(0x1F);
		for (;;) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
			/* max(x, 0x1F) == 0x1F: the bytes below 0x20, unsigned */
			__m128i hit =
			    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, b)),
					 _mm_cmpeq_epi8(_mm_max_epu8(x, c), c));
			_mm_storeu_si128((__m128i *)(void *)(d + i), x);
			unsigned m = (unsigned)_mm_movemask_epi8(hit);
			if (m)
				return i + (size_t)__builtin_ctz(m);
			if (i + 16 == len)
				return len;
			/* the tail as the last 16 bytes: those seen again are plain */
			i = i + 32 <= len ? i + 16 : len - 16;
		}
	}
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t w;
	while (i + 8 <= len) {
		memcpy(&w, s + i, 8);
		memcpy(d + i, &w, 8);
		uint64_t hit = escapes8(w);
		if (hit)
			return i + (size_t)__builtin_ctzll(hit) / 8;
		i += 8;
	}
	if (i < len && len >= 8) {
		/* the tail as the last 8 bytes: those before i are plain, so
		 * they flag nothing and borrow nothing */
		memcpy(&w, s + len - 8, 8);
		memcpy(d + len - 8, &w, 8);
		uint64_t hit = escapes8(w);
		return hit ? len - 8 + (size_t)__builtin_ctzll(hit) / 8 : len;
	}
#endif
	while (i < len && !needs_escape((unsigned char)s[i])) {
		d[i] = s[i];
		i++;
	}
	return i;
}

char *json_escape_to(char *dst, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	for (;;) {
		size_t k = copy_plain(dst, s, len);
		dst += k;
		if (k == len)
			return dst;
		unsigned char c = (unsigned char)s[k];
		s += k + 1;
		len -= k + 1;
		*dst++ = '\\';
		switch (c) {
		case '"':
		case '\\':
			*dst++ = (char)c;
			break;
		case '\n':
			*dst++ = 'n';
			break;
		case '\r':
			*dst++ = 'r';
			break;
		case '\t':
			*dst++ = 't';
			break;
		default:
			memcpy(dst, "u00", 3);
			dst[3] = hex[c >> 4];
			dst[4] = hex[c & 15];
			dst += 5;
		}
	}
}

void strbuf_add_json_escaped(struct strbuf *sb, const char *s, size_t len)
{
	/* the worst case reserved, one pass; else chunk by chunk through a
	 * local buffer, so that the cap is applied to what is written, not to
	 * the worst case, and a long string does not grow the buffer to six
	 * times its size */
	if (!len)
		return;
	if (len <= STRBUF_ESCAPE_AHEAD && strbuf_reserve(sb, 6 * len)) {
		sb->len = (size_t)(json_escape_to(sb->buf + sb->len, s, len) - sb->buf);
		sb->buf[sb->len] = '\0';
		return;
	}
	enum { CHUNK = 512 };
	char out[6 * CHUNK];
	for (size_t i = 0; i < len && !sb->toobig; i += CHUNK) {
		size_t n = len - i < CHUNK ? len - i : CHUNK;
		strbuf_add(sb, out, (size_t)(json_escape_to(out, s + i, n) - out));
	}
}
