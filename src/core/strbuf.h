/*
 * strbuf.h: a growable, NUL-terminated string with a size cap.
 *
 * Invariants (after git's strbuf): buf is never NULL (STRBUF_INIT points at
 * a static empty string), buf[len] == '\0'. Failure is sticky (after
 * PQExpBuffer): an append that would pass the cap sets `toobig`, leaves the
 * content as it was, and every later append is a no-op, so callers check
 * once at the end. The cap keeps hostile input from growing a buffer
 * without bound; 0 means the default cap STRBUF_DEFAULT_CAP.
 */
#ifndef DHP_STRBUF_H
#define DHP_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define STRBUF_DEFAULT_CAP (64u << 20)

struct strbuf {
	char *buf;
	size_t len;
	size_t alloc; /* 0 while buf is the static empty string; never above cap + 1 */
	size_t cap;   /* maximum len; 0 = STRBUF_DEFAULT_CAP */
	bool toobig;
};

extern char strbuf_empty[];
#define STRBUF_INIT                                                                                \
	{                                                                                          \
		strbuf_empty, 0, 0, 0, false                                                       \
	}

void strbuf_init(struct strbuf *sb, size_t cap);
/* Free the buffer and return to the STRBUF_INIT state (cap kept). */
void strbuf_release(struct strbuf *sb);
/* Empty the string, keep the memory, clear `toobig`. */
void strbuf_reset(struct strbuf *sb);
/* Hand the buffer to the caller (free() it); sb is re-initialised. */
char *strbuf_detach(struct strbuf *sb, size_t *len);

/*
 * Appends. The common case, room in the buffer already, is inline: the
 * JSON writer makes millions of tiny appends per run. It needs no cap
 * check because grow() never makes `alloc` larger than cap + 1, so what
 * fits in the buffer fits under the cap; `toobig` is tested so a broken
 * buffer stays as it was. Everything else goes to strbuf_add_grow().
 */
void strbuf_add_grow(struct strbuf *sb, const void *data, size_t len);

static inline void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	if (sb->toobig || len >= sb->alloc - sb->len) {
		strbuf_add_grow(sb, data, len);
		return;
	}
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

static inline void strbuf_addstr(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

static inline void strbuf_addch(struct strbuf *sb, char c)
{
	if (sb->toobig || sb->alloc - sb->len < 2) {
		strbuf_add_grow(sb, &c, 1);
		return;
	}
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Append s with JSON string escaping (no surrounding quotes). */
void strbuf_add_json_escaped(struct strbuf *sb, const char *s, size_t len);

/*
 * Writing into the buffer directly, for writers that would otherwise make
 * many small appends (the JSON writer): reserve room for a worst case,
 * write at buf + len, then set len and buf[len] = '\0' themselves.
 * strbuf_reserve() grows the buffer, within the cap, so that `extra` more
 * bytes and the NUL fit, and tells whether they do. Unlike an append it
 * never sets `toobig` (a worst case past the cap says nothing about what
 * will actually be written): when it fails, the writer appends the piece
 * with the functions above, which apply the cap exactly. False once the
 * buffer is broken.
 */
bool strbuf_reserve(struct strbuf *sb, size_t extra);
/* Strings up to this long are escaped into room reserved for their worst
 * case; longer ones piece by piece, so that the buffer grows with the text. */
#define STRBUF_ESCAPE_AHEAD (64u << 10)
/* Write s with JSON string escaping at dst, which has room for 6 * len
 * bytes (the worst case: every byte as \u00XX); returns the end. */
char *json_escape_to(char *dst, const char *s, size_t len);

#endif
