/*
 * fuzz_hl7.c: libFuzzer target for HL7 v2: reader, parser, field access,
 * unescaping and character set conversion.
 *
 * The reader has only a path-based entry point, so each input is written
 * to one temporary file (in /dev/shm when there is one) and read back
 * through /proc/self/fd, as fuzz_codetable.c does. Every message is parsed,
 * every position up to one past the last is read and unescaped, and the
 * message is converted to UTF-8 from a charset chosen by the first input
 * byte (or its MSH-18) and parsed again. The raw input is parsed directly
 * as well, so the parser also sees the LF, MLLP and envelope bytes the
 * reader takes out.
 *
 * Besides memory safety it checks the contracts: a failure says what and
 * where on one line; a message ends in '\r', holds no LF or MLLP byte and
 * fits HL7_MAX_MESSAGE; a value lies inside its segment; unescaping valid
 * UTF-8 gives valid UTF-8; reading ends.
 */
#include "core/dhp.h"
#include "core/err.h"
#include "core/strbuf.h"
#include "extract/hl7.h"

#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ITEMS 8 /* repetitions, components, subcomponents walked beyond */

static char path[64];
static int fd = -1;

static bool write_input(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		snprintf(path, sizeof(path), "%s/dhp-fuzz-hl7-XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		fd = mkstemp(path);
		if (fd < 0)
			return false;
		unlink(path); /* read through /proc/self/fd, gone at exit */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	return ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size;
}

static void check_error(const struct dhp_error *err)
{
	if (err->code == DHP_OK || !err->msg[0] || !err->where[0] || strchr(err->msg, '\n'))
		abort();
}

/* A plain validator of our own, so hl7_to_utf8's is checked against it. */
static bool utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], k;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			k = 1;
			cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			k = 2;
			cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (unsigned j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3F);
		}
		static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
		if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k + 1;
	}
	return true;
}

static bool valid_utf8(const char *s, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	struct dhp_error err = DHP_ERROR_INIT;
	bool ok = hl7_to_utf8(s, n, "UTF-8", &sb, &err) == 0;
	if (ok != utf8_ok((const unsigned char *)s, n))
		abort();
	if (ok && (sb.len != n || memcmp(sb.buf, s, n) != 0))
		abort(); /* valid UTF-8 is copied as is */
	if (!ok)
		check_error(&err);
	strbuf_release(&sb);
	return ok;
}

/* Read and unescape one value; it must lie inside its segment. */
static void check_value(const struct hl7_msg *m, size_t seg, struct hl7_slice v, bool utf8,
			struct strbuf *out)
{
	const char *s = m->text + m->segs[seg].off;
	if (v.s < s || v.s + v.n > s + m->segs[seg].len || memchr(v.s, '\r', v.n))
		abort();
	strbuf_reset(out);
	int unknown = hl7_unescape(m, v.s, v.n, out);
	if (unknown < 0 ||
	    (utf8 && !out->toobig && !utf8_ok((const unsigned char *)out->buf, out->len)))
		abort();
}

/* Every position of the message, up to one past the last at each level. */
static void walk(const struct hl7_msg *m, bool utf8)
{
	struct strbuf out = STRBUF_INIT;
	long budget = 4000; /* keeps one input from taking long */
	for (size_t seg = 0; seg < m->nsegs && budget > 0; seg++) {
		const struct hl7_seg *sg = &m->segs[seg];
		if (sg->off > m->len || sg->len > m->len - sg->off || strlen(sg->id) > 3)
			abort();
		int nf = hl7_nfields(m, seg);
		for (int f = 1; f <= nf + 1 && budget > 0; f++) {
			int reps = hl7_reps(m, seg, f);
			if (reps < 0 || (f > nf && reps))
				abort();
			for (int r = 1; r <= reps + 1 && r <= MAX_ITEMS && budget > 0; r++) {
				struct hl7_slice v;
				if (!hl7_get(m, seg, f, r, 0, 0, &v)) {
					if (v.n || r <= reps)
						abort();
					continue;
				}
				budget--;
				check_value(m, seg, v, utf8, &out);
				for (int c = 1; c <= MAX_ITEMS && budget > 0; c++) {
					if (!hl7_get(m, seg, f, r, c, 0, &v))
						break;
					budget--;
					check_value(m, seg, v, utf8, &out);
					for (int sc = 1; sc <= MAX_ITEMS && budget > 0; sc++) {
						if (!hl7_get(m, seg, f, r, c, sc, &v))
							break;
						budget--;
						check_value(m, seg, v, utf8, &out);
					}
				}
			}
		}
	}
	struct hl7_slice v;
	if (hl7_get(m, m->nsegs, 1, 1, 0, 0, &v) || hl7_get(m, 0, 0, 1, 0, 0, &v) ||
	    hl7_get(m, 0, 3, 0, 0, 0, &v) || hl7_get(m, 0, 3, 1, 0, 1, &v))
		abort();
	strbuf_release(&out);
}

/* Values cut from valid UTF-8 at ASCII separators are valid UTF-8 (and any
 * separator goes, so a non-ASCII one may cut a character in two). */
static bool ascii_separators(const struct hl7_msg *m)
{
	return (unsigned char)m->fs < 0x80 && (unsigned char)m->cs < 0x80 &&
	       (unsigned char)m->rs < 0x80 && (unsigned char)m->ec < 0x80 &&
	       (unsigned char)m->ss < 0x80 && (unsigned char)m->tc < 0x80;
}

static void parse_and_walk(struct hl7_msg *m, const char *text, size_t len, bool utf8)
{
	struct dhp_error err = DHP_ERROR_INIT;
	if (hl7_parse(m, text, len, &err)) {
		check_error(&err);
		if (m->nsegs)
			abort();
		return;
	}
	if (!m->nsegs || strcmp(m->segs[0].id, "MSH") != 0)
		abort();
	walk(m, utf8 && ascii_separators(m));
}

/* Convert the message from a charset the input picks, then parse again. */
static void convert(struct hl7_msg *m, const char *text, size_t len, uint8_t pick)
{
	static const char *const charsets[] = {"UTF-8",	 "ISO-8859-1", "ISO-8859-5",
					       "CP1251", "KOI8-R",     "GB18030"};
	const char *from = charsets[pick % ARRAY_SIZE(charsets)];
	struct hl7_slice v;
	if (pick >= 0x80 && hl7_get(m, 0, 18, 1, 0, 0, &v)) {
		const char *name = hl7_charset_iconv_name(v.s, v.n);
		if (name)
			from = name;
	}
	struct strbuf utf8 = STRBUF_INIT;
	strbuf_init(&utf8, HL7_MAX_MESSAGE * 2);
	struct dhp_error err = DHP_ERROR_INIT;
	if (hl7_to_utf8(text, len, from, &utf8, &err)) {
		check_error(&err);
		if (err.code != DHP_ELIMIT && strncmp(err.where, "msg byte ", 9) != 0)
			abort();
	} else {
		if (!valid_utf8(utf8.buf, utf8.len))
			abort();
		parse_and_walk(m, utf8.buf, utf8.len, true);
	}
	strbuf_release(&utf8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hl7_msg m = HL7_MSG_INIT;
	const char *raw = (const char *)data;
	parse_and_walk(&m, raw, size, valid_utf8(raw, size));

	if (!write_input(data, size))
		return 0;
	struct dhp_error err = DHP_ERROR_INIT;
	struct hl7_reader *r = hl7_reader_open(path, &err);
	if (!r)
		abort();
	const char *text;
	size_t len;
	int rc;
	long results = 0, last_no = 0;
	while ((rc = hl7_reader_next(r, &text, &len, &err)) != 0) {
		if (++results > (long)size + 2)
			abort(); /* every result uses up input */
		if (hl7_reader_msgno(r) < last_no)
			abort();
		last_no = hl7_reader_msgno(r);
		if (rc < 0) {
			check_error(&err);
			dhp_error_clear(&err);
			continue;
		}
		if (rc != 1 || len < 4 || len > HL7_MAX_MESSAGE || memcmp(text, "MSH", 3) != 0 ||
		    text[len - 1] != '\r' || memchr(text, '\n', len) || memchr(text, 0x0B, len) ||
		    memchr(text, 0x1C, len) || hl7_reader_line(r) < 1)
			abort();
		parse_and_walk(&m, text, len, valid_utf8(text, len));
		if (m.nsegs)
			convert(&m, text, len, size ? data[0] : 0);
	}
	if (hl7_reader_next(r, &text, &len, &err) != 0)
		abort();
	hl7_reader_close(r);
	hl7_msg_release(&m);
	return 0;
}
