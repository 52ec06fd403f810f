/*
 * hl7.h: HL7 v2 ER7 ("pipe and hat") messages: reading files, parsing,
 * addressing, unescaping.
 *
 * Reading (hl7_reader): a file is streamed in constant memory and cut into
 * messages, whatever the envelope: one message or many, batch/file
 * envelopes (FHS/BHS/BTS/FTS, with or without trailers; counts in BTS-1 and
 * FTS-1 checked when present), MLLP framing (0x0B ... 0x1C 0x0D), segment
 * terminators CR, LF, CRLF or mixed, a UTF-8 BOM, continuation lines (a
 * physical line that does not start with a segment id is joined to the
 * previous segment), blank lines and trailing garbage. Each message is
 * returned with segments separated by '\r' only, and with its location
 * (file line of its MSH, message ordinal). A message larger than
 * HL7_MAX_MESSAGE is an error for that message; reading goes on with the
 * next MSH.
 *
 * Parsing (hl7_parse): indexes one message without copying it: segment
 * start/end offsets and the encoding characters from MSH-1/MSH-2 (any
 * characters; 4 or 5 of them, the 5th being the truncation character of
 * v2.7+). Field access then walks the segment text on demand, so no
 * per-field allocation happens on the hot path. Never reads past `len`.
 * The first access to a segment records where its fields start, in memory
 * kept from message to message, so the lookups that follow go straight to
 * the field. The accessors take the message as const but update that
 * index: one hl7_msg is not to be read from two threads at once.
 *
 * Numbering follows the standard: fields, repetitions, components and
 * subcomponents are 1-based; for MSH, MSH-1 is the field separator itself
 * and MSH-2 the encoding characters, so MSH-9 is the message type.
 *
 * Values are returned raw (still escaped); hl7_unescape() decodes escape
 * sequences into UTF-8 text.
 */
#ifndef DHP_HL7_H
#define DHP_HL7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/strbuf.h"

#define HL7_MAX_MESSAGE (16u << 20) /* bytes */
#define HL7_MAX_SEGMENTS 100000

/* ---- reading files ------------------------------------------------------ */

struct hl7_reader;

/* Open a file (or "-" for stdin). NULL and *err on failure. */
struct hl7_reader *hl7_reader_open(const char *path, struct dhp_error *err);
void hl7_reader_close(struct hl7_reader *r);

/* Next message: 1 and the text and length (valid until the next call; segments end
 * in '\r'), 0 at end of file, -1 for a message that cannot be returned (too
 * large, no MSH before segments, ...) with *err located as
 * "FILE:msg#N" or "FILE:LINE"; the caller may call again to continue with
 * the next message. At end of file, envelope problems (a BTS/FTS count
 * that does not match, a missing trailer is NOT an error) are reported once
 * as -1 as well. */
int hl7_reader_next(struct hl7_reader *r, const char **text, size_t *len, struct dhp_error *err);
/* Ordinal (1-based) of the last message returned, and the file line of its MSH. */
long hl7_reader_msgno(const struct hl7_reader *r);
long hl7_reader_line(const struct hl7_reader *r);

/* ---- parsing ------------------------------------------------------------ */

struct hl7_seg {
	size_t off, len; /* the segment text, without its terminator */
	char id[4];	 /* "PID", "ZPI", ... NUL-padded (3 chars, or fewer if malformed) */
	/* No escape character in the segment: its values need no
	 * hl7_unescape(). Known once a field of it was read (hl7_get(),
	 * hl7_reps()); false until then. */
	bool plain;
	/* private to hl7.c: where the segment's field offsets are in the index */
	uint32_t fx_at;
	uint16_t fx_n;
	uint8_t fx_state;
};

struct hl7_fields; /* the field index (hl7.c) */

struct hl7_msg {
	const char *text; /* borrowed */
	size_t len;
	char fs, cs, rs, ec, ss, tc; /* field, component, repetition, escape, subcomponent,
					 truncation ('\0' when absent) separators */
	struct hl7_seg *segs;
	size_t nsegs, asegs;	   /* reused from message to message */
	struct hl7_fields *fields; /* likewise; NULL until the first hl7_parse */
};

#define HL7_MSG_INIT                                                                               \
	{                                                                                          \
		NULL, 0, '|', '^', '~', '\\', '&', '\0', NULL, 0, 0, NULL                          \
	}

/* Index a message. Fails (with the reason, located "msg" relative: e.g.
 * "MSH-2") when it does not start with MSH, the encoding characters are
 * missing or repeated, or there are more than HL7_MAX_SEGMENTS segments. */
int hl7_parse(struct hl7_msg *m, const char *text, size_t len, struct dhp_error *err);
void hl7_msg_release(struct hl7_msg *m);

/* A slice of the message text. */
struct hl7_slice {
	const char *s;
	size_t n;
};

/* The raw value at segment `seg` (index into segs), field f (>= 1),
 * repetition r (>= 1), component c (>= 1, or 0 = the whole repetition),
 * subcomponent sc (>= 1, or 0 = the whole component). Returns false when
 * the position does not exist (out->n = 0). An explicit null ("") is
 * returned as the two characters "" (hl7_is_null() tells). */
bool hl7_get(const struct hl7_msg *m, size_t seg, int f, int r, int c, int sc,
	     struct hl7_slice *out);
/* Number of repetitions of field f of segment seg (0 when empty/absent). */
int hl7_reps(const struct hl7_msg *m, size_t seg, int f);
/* Number of fields of segment seg (for MSH, counting MSH-1). */
int hl7_nfields(const struct hl7_msg *m, size_t seg);

static inline bool hl7_is_null(struct hl7_slice v)
{
	return v.n == 2 && v.s[0] == '"' && v.s[1] == '"';
}

/* Decode escape sequences of m's encoding into out (UTF-8 in, UTF-8 out):
 * \F\ \S\ \T\ \R\ \E\ \P\ (truncation), \Xhh..\ (bytes), \Cxxyy\ and
 * \Mxxyyzz\ (charset switches: dropped), \.br\ -> "\n", \H\ \N\ (highlight
 * on/off: dropped), \.sp\ \.sp N\ -> N newlines, \.in\ \.ti\ \.ce\ \.fi\
 * \.nf\ and other formatting commands -> dropped (\.ce\ gives "\n"), \Zxx\
 * (locally defined) -> dropped. An unknown or unterminated escape is kept
 * literally. Returns the number of unknown escapes (0 when all known). */
int hl7_unescape(const struct hl7_msg *m, const char *s, size_t n, struct strbuf *out);

/* ---- character sets -------------------------------------------------------- */

/* Map an MSH-18 value (e.g. "UNICODE UTF-8", "8859/1", "8859/5", "ASCII",
 * "WINDOWS-1251", "CP1251", "KOI8-R") to an iconv name, or NULL if unknown.
 * Empty means ASCII/UTF-8 (treated as UTF-8). */
const char *hl7_charset_iconv_name(const char *msh18, size_t n);

/* Convert a message from charset `from` (an iconv name) to UTF-8 into out.
 * Invalid bytes are an error located by byte offset and segment
 * ("msg byte 1234 (segment 5, PID)"), never replaced. Valid UTF-8 input
 * with from = "UTF-8" is checked and copied. */
int hl7_to_utf8(const char *text, size_t len, const char *from, struct strbuf *out,
		struct dhp_error *err);

#endif
