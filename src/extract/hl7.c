/*
 * hl7.c: HL7 v2 ER7 reading, parsing, addressing and unescaping (see hl7.h).
 *
 * Reader. The file is read in READ_CHUNK pieces into one fixed buffer and
 * cut into physical lines at CR, LF and CRLF; the MLLP block characters
 * (0x0B start, 0x1C end) end a line and the message as well. At the start
 * of a line at most PEEK bytes are looked at to classify it; the rest of
 * the line is copied straight into the message buffer (or skipped), so a
 * line of any length costs no memory but the message itself. Where the
 * contract leaves room, these choices were made:
 *  - A segment line starts with an id [A-Z][A-Z0-9]{2} and the field
 *    separator of the current message. MSH, FHS, BHS, BTS and FTS may be
 *    followed by any punctuation (they define or reuse the separator) or
 *    by the end of the line. A bare id on a line of its own is text: "END"
 *    or "CBC" in a report is likelier than a segment without fields.
 *  - Text directly after a segment line continues that segment. It is
 *    joined with the escape sequence \.br\ (with a space when the message
 *    has no escape character), because a line break in the text is what
 *    the sender meant, and hl7_unescape() turns it back into "\n".
 *  - A line of blanks and control characters only (^Z, NUL padding) is a
 *    blank line. Blank lines are ignored, but text after one is not taken
 *    as a continuation: it may as well be a footer or garbage, so it is
 *    skipped and reported (-1, FILE:LINE) instead of being glued into the
 *    last field. Inside a message that report comes right after the
 *    message; outside one, the lines up to the next MSH are skipped with
 *    one report. Segments before any MSH are handled the same way.
 *  - Envelope segments (FHS, BHS, BTS, FTS) are never part of a message;
 *    one in the middle of a message ends it. A message outside any BHS
 *    opens an implicit batch, so "FHS MSH MSH FTS|1" is one batch of two.
 *    BTS-1 counts the messages of its batch (every MSH, also those that
 *    could not be returned) and FTS-1 the batches of its file. A mismatch
 *    is remembered with the trailer's line, and at the end of the file
 *    the first one is returned (-1, FILE:LINE) with the number of all of
 *    them in the detail. A missing header or trailer is not a problem.
 *
 * Parser. One pass over the message records segment boundaries (CR, and
 * LF for callers that pass text that did not come from the reader). The
 * first field access to a segment records where its fields start (the
 * field index below); repetitions, components and subcomponents are found
 * by counting separators in the one field asked for.
 *
 * MSH-2 written as ^~\\& (a backslash doubled by an export that escaped
 * it once too often) is read as the four encoding characters ^~\& with a
 * stray duplicate, not as a truncation character '&' after a repeated '\';
 * the same goes for ^~\\&# with a truncation character. Field access
 * returns MSH-2 as written.
 */
#include "core/dhp.h"
#include "extract/hl7.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <limits.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define READ_CHUNK (64u << 10)
#define PEEK 64	   /* bytes classified at a line start: id, separators, BTS-1 */
#define SP_MAX 100 /* newlines one \.sp N\ may produce: N is not a reason to grow */

/* ---- reading files ------------------------------------------------------ */

/* Bytes that end a physical line. */
static const unsigned char line_end[256] = {['\r'] = 1, ['\n'] = 1, [0x0B] = 1, [0x1C] = 1};

enum rstate {
	R_IDLE, /* between messages */
	R_MSG,	/* inside a message */
	R_SKIP, /* skipping lines already reported, up to the next MSH or envelope */
};

enum kind { K_EMPTY, K_MSH, K_FHS, K_BHS, K_BTS, K_FTS, K_SEG, K_TEXT };

enum out { OUT_NONE, OUT_MSG, OUT_BIG };

struct hl7_reader {
	int fd;
	bool own_fd; /* not stdin */
	char *name;  /* for locations */
	unsigned char *buf;
	size_t pos, end;
	bool eof;
	int read_errno; /* a failed read, reported once the buffered data is used */
	long line;	/* physical line at pos, 1-based */
	bool after_cr;	/* the last terminator was CR: an LF right after it belongs to it */

	enum rstate state;
	struct strbuf msg; /* the message being read, capped at HL7_MAX_MESSAGE */
	char fs, ec;	   /* separators in force, for segment lines and joins */
	bool blank;	   /* a blank line since the message's last segment line */
	long msgno, msgline;
	long ret_no, ret_line; /* of the last message returned */
	enum out out;	       /* a finished message waiting to be returned */

	bool pend; /* text inside the message, reported after it */
	struct dhp_error pend_err;
	long pend_more;

	bool batch_open; /* explicit (BHS) or implicit (a message) */
	long batch_msgs, file_batches;
	int problems; /* envelope problems; the first is kept */
	struct dhp_error problem;
	bool finished;
};

static bool is_upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* ASCII punctuation, whatever the locale. */
static bool is_punct(unsigned char c)
{
	return c > ' ' && c < 0x7F && !is_upper(c) && !is_digit(c) && !(c >= 'a' && c <= 'z');
}

struct hl7_reader *hl7_reader_open(const char *path, struct dhp_error *err)
{
	bool std = streq(path, "-");
	int fd = std ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		dhp_fail(err, DHP_EIO, path, "cannot open file: %s", strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (!std)
			close(fd);
		dhp_fail(err, DHP_EIO, path, "cannot open file: %s", strerror(EISDIR));
		return NULL;
	}
	struct hl7_reader *r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	r->own_fd = !std;
	r->name = xstrdup(std ? "<stdin>" : path);
	r->buf = xmalloc(READ_CHUNK);
	r->line = 1;
	r->state = R_IDLE;
	r->fs = '|';
	r->ec = '\\';
	strbuf_init(&r->msg, HL7_MAX_MESSAGE);
	return r;
}

void hl7_reader_close(struct hl7_reader *r)
{
	if (!r)
		return;
	if (r->own_fd)
		close(r->fd);
	free(r->name);
	free(r->buf);
	strbuf_release(&r->msg);
	free(r);
}

long hl7_reader_msgno(const struct hl7_reader *r)
{
	return r->ret_no;
}

long hl7_reader_line(const struct hl7_reader *r)
{
	return r->ret_line;
}

/* Make `want` bytes available at pos unless the file ends first; returns
 * how many are. Only a short tail (< want <= PEEK) is ever moved. */
static size_t fill(struct hl7_reader *r, size_t want)
{
	while (r->end - r->pos < want && !r->eof) {
		if (r->pos) {
			memmove(r->buf, r->buf + r->pos, r->end - r->pos);
			r->end -= r->pos;
			r->pos = 0;
		}
		ssize_t n = read(r->fd, r->buf + r->end, READ_CHUNK - r->end);
		if (n > 0) {
			r->end += (size_t)n;
		} else if (n == 0) {
			r->eof = true;
		} else if (errno != EINTR) {
			r->read_errno = errno;
			r->eof = true;
		}
	}
	return r->end - r->pos;
}

static void end_line(struct hl7_reader *r, unsigned char c)
{
	r->pos++;
	r->line++;
	r->after_cr = c == '\r';
}

/* The first line end (line_end[]) in [q, e), or e. All of them are
 * control characters, which text rarely has: eight bytes at a time are
 * skipped while none of them is below 0x20 ((w - ones * 0x20) & ~w & high
 * flags such bytes), and only a word with one is looked at byte by byte. */
static const unsigned char *find_line_end(const unsigned char *q, const unsigned char *e)
{
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	for (;;) {
		uint64_t w;
		while (e - q >= 8 && (memcpy(&w, q, 8), !((w - ones * 0x20) & ~w & high)))
			q += 8;
		const unsigned char *stop = e - q >= 8 ? q + 8 : e;
		while (q < stop && !line_end[*q])
			q++;
		if (q < stop || q == e)
			return q;
	}
}

/* Consume the rest of the line and its CR/LF (an MLLP byte is left for
 * step(), as it ends the message too), appending the bytes to the message
 * when `keep`. With `look`, returns whether the line held anything but
 * blanks and control characters. */
static bool take_line(struct hl7_reader *r, bool keep, bool look)
{
	bool visible = false;
	for (;;) {
		if (r->pos == r->end && !fill(r, 1))
			return visible;
		const unsigned char *p = r->buf + r->pos, *e = r->buf + r->end;
		const unsigned char *q = find_line_end(p, e);
		for (const unsigned char *t = p; look && !visible && t < q; t++)
			visible = *t > ' ' && *t != 0x7F;
		if (keep)
			strbuf_add(&r->msg, p, (size_t)(q - p));
		r->pos += (size_t)(q - p);
		if (q < e) {
			if (*q == '\r' || *q == '\n')
				end_line(r, *q);
			return visible;
		}
	}
}

static enum kind classify(const struct hl7_reader *r, const unsigned char *p, size_t n)
{
	static const struct {
		char id[4];
		enum kind kind;
	} special[] = {
	    {"MSH", K_MSH}, {"FHS", K_FHS}, {"BHS", K_BHS}, {"BTS", K_BTS}, {"FTS", K_FTS},
	};
	if (p[0] == '\r' || p[0] == '\n')
		return K_EMPTY;
	if (n < 3 || !is_upper(p[0]) || !(is_upper(p[1]) || is_digit(p[1])) ||
	    !(is_upper(p[2]) || is_digit(p[2])))
		return K_TEXT;
	bool ends = n == 3 || line_end[p[3]];
	for (size_t i = 0; i < ARRAY_SIZE(special); i++)
		if (!memcmp(p, special[i].id, 3))
			return ends || is_punct(p[3]) ? special[i].kind : K_TEXT;
	return !ends && p[3] == (unsigned char)r->fs ? K_SEG : K_TEXT;
}

static void where_line(const struct hl7_reader *r, long line, char *where, size_t size)
{
	snprintf(where, size, "%s:%ld", r->name, line);
}

static void problem(struct hl7_reader *r, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct hl7_reader *r, long line, const char *fmt, ...)
{
	if (r->problems++)
		return;
	char where[sizeof(r->problem.where)];
	where_line(r, line, where, sizeof(where));
	va_list ap;
	va_start(ap, fmt);
	dhp_vfail(&r->problem, DHP_ESYNTAX, where, fmt, ap);
	va_end(ap);
}

static void close_batch(struct hl7_reader *r)
{
	if (r->batch_open)
		r->file_batches++;
	r->batch_open = false;
}

/* Check the count in BTS-1 or FTS-1 (line p[0..n), n <= PEEK) against `have`. */
static void check_count(struct hl7_reader *r, const unsigned char *p, size_t n, const char *field,
			long have, const char *what)
{
	if (n <= 3 || line_end[p[3]])
		return; /* no count given */
	size_t i = 4, e = 4;
	while (e < n && !line_end[p[e]] && p[e] != p[3])
		e++;
	while (i < e && p[i] == ' ')
		i++;
	while (e > i && p[e - 1] == ' ')
		e--;
	if (i == e)
		return;
	long count = 0;
	bool ok = e - i <= 9;
	for (size_t k = i; ok && k < e; k++) {
		ok = is_digit(p[k]);
		count = count * 10 + (p[k] - '0');
	}
	if (!ok) {
		char shown[21]; /* what was found, made printable for reports */
		size_t k = 0;
		for (; k < e - i && k < sizeof(shown) - 1; k++)
			shown[k] = p[i + k] >= ' ' && p[i + k] < 0x7F ? (char)p[i + k] : '?';
		shown[k] = '\0';
		problem(r, r->line, "%s is not a count: '%s'", field, shown);
	} else if (count != have)
		problem(r, r->line, "%s says %ld %s, found %ld", field, count, what, have);
}

static void envelope(struct hl7_reader *r, enum kind k, const unsigned char *p, size_t n)
{
	if ((k == K_FHS || k == K_BHS) && n > 3 && !line_end[p[3]])
		r->fs = (char)p[3];
	switch (k) {
	case K_FHS: /* a previous file may lack its FTS: not a problem */
		close_batch(r);
		r->file_batches = 0;
		break;
	case K_BHS:
		close_batch(r);
		r->batch_open = true;
		r->batch_msgs = 0;
		break;
	case K_BTS:
		check_count(r, p, n, "BTS-1", r->batch_open ? r->batch_msgs : 0, "messages");
		r->batch_open = true; /* a BTS without a batch closes an empty one */
		close_batch(r);
		break;
	case K_FTS:
		close_batch(r);
		check_count(r, p, n, "FTS-1", r->file_batches, "batches");
		r->file_batches = 0;
		break;
	default:
		break;
	}
}

static void start_message(struct hl7_reader *r, const unsigned char *p, size_t n)
{
	r->state = R_MSG;
	r->msgno++;
	r->msgline = r->line;
	strbuf_reset(&r->msg);
	r->blank = false;
	size_t k = 3;
	while (k < n && k < 7 && !line_end[p[k]])
		k++;
	r->fs = k > 3 ? (char)p[3] : '|';
	r->ec = k > 6 ? (char)p[6] : '\0';
	if (!r->batch_open) {
		r->batch_open = true;
		r->batch_msgs = 0;
	}
	r->batch_msgs++;
}

static void finish_message(struct hl7_reader *r)
{
	strbuf_addch(&r->msg, '\r');
	r->out = r->msg.toobig ? OUT_BIG : OUT_MSG;
	r->state = R_IDLE;
}

/* A continuation line: join it to the last segment. */
static void continuation(struct hl7_reader *r)
{
	size_t mark = r->msg.len;
	bool big = r->msg.toobig;
	if (r->ec) {
		char join[5] = {r->ec, '.', 'b', 'r', r->ec};
		strbuf_add(&r->msg, join, sizeof(join));
	} else {
		strbuf_addch(&r->msg, ' ');
	}
	if (!take_line(r, true, true)) {
		/* only blanks after all: a blank line, taken back */
		r->msg.len = mark;
		if (r->msg.alloc)
			r->msg.buf[mark] = '\0';
		r->msg.toobig = big;
		r->blank = true;
	}
}

/* One line, or one framing byte. 0: go on; -1: report *err; 1: end of file. */
static int step(struct hl7_reader *r, struct dhp_error *err)
{
	char where[sizeof(err->where)];
	size_t n = fill(r, PEEK);
	if (n == 0) {
		if (r->read_errno) {
			/* what was read of the message is not the message: drop it */
			r->state = R_IDLE;
			where_line(r, r->line, where, sizeof(where));
			dhp_fail(err, DHP_EIO, where, "cannot read file: %s",
				 strerror(r->read_errno));
			r->read_errno = 0;
			return -1;
		}
		if (r->state == R_MSG) {
			finish_message(r);
			return 0;
		}
		return 1;
	}
	const unsigned char *p = r->buf + r->pos;
	if (r->after_cr) {
		r->after_cr = false;
		if (p[0] == '\n') {
			r->pos++;
			return 0;
		}
	}
	if (p[0] == 0x0B || p[0] == 0x1C) { /* MLLP start or end block: a message boundary */
		r->pos++;
		if (r->state == R_MSG)
			finish_message(r);
		r->state = R_IDLE;
		return 0;
	}
	if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
		r->pos += 3;
		return 0;
	}
	enum kind k = classify(r, p, n);
	switch (k) {
	case K_EMPTY:
		end_line(r, p[0]);
		r->blank = true;
		return 0;
	case K_MSH:
		if (r->state == R_MSG) {
			finish_message(r); /* the line is read again for the next message */
			return 0;
		}
		start_message(r, p, n);
		take_line(r, true, false);
		return 0;
	case K_FHS:
	case K_BHS:
	case K_BTS:
	case K_FTS:
		if (r->state == R_MSG) {
			finish_message(r);
			return 0;
		}
		envelope(r, k, p, n);
		r->state = R_IDLE;
		take_line(r, false, false);
		return 0;
	case K_SEG:
		if (r->state == R_MSG) {
			strbuf_addch(&r->msg, '\r');
			r->blank = false;
			take_line(r, true, false);
			return 0;
		}
		if (r->state == R_SKIP) {
			take_line(r, false, false);
			return 0;
		}
		where_line(r, r->line, where, sizeof(where));
		dhp_fail(err, DHP_ESYNTAX, where,
			 "segment %.3s outside any message (no MSH before it); skipped up to the "
			 "next MSH",
			 (const char *)p);
		r->state = R_SKIP;
		take_line(r, false, false);
		return -1;
	case K_TEXT:
		break;
	}
	if (r->state == R_MSG && !r->blank) {
		continuation(r);
		return 0;
	}
	long line = r->line;
	if (!take_line(r, false, true)) {
		r->blank = true;
		return 0;
	}
	if (r->state == R_SKIP)
		return 0;
	where_line(r, line, where, sizeof(where));
	if (r->state == R_MSG) {
		if (r->pend) {
			r->pend_more++;
		} else {
			r->pend = true;
			r->pend_more = 0;
			dhp_fail(&r->pend_err, DHP_ESYNTAX, where,
				 "text after a blank line inside message #%ld is not a segment; "
				 "ignored",
				 r->msgno);
		}
		return 0;
	}
	dhp_fail(err, DHP_ESYNTAX, where,
		 "text outside any message (not a segment); skipped up to the next MSH");
	r->state = R_SKIP;
	return -1;
}

int hl7_reader_next(struct hl7_reader *r, const char **text, size_t *len, struct dhp_error *err)
{
	for (;;) {
		if (r->out != OUT_NONE) {
			bool big = r->out == OUT_BIG;
			r->out = OUT_NONE;
			r->ret_no = r->msgno;
			r->ret_line = r->msgline;
			if (big) {
				char where[sizeof(err->where)];
				snprintf(where, sizeof(where), "%s:msg#%ld", r->name, r->msgno);
				dhp_fail(err, DHP_ELIMIT, where,
					 "message larger than %u MiB; skipped",
					 HL7_MAX_MESSAGE >> 20);
				dhp_detail(err, "its MSH is on line %ld", r->msgline);
				return -1;
			}
			*text = r->msg.buf;
			*len = r->msg.len;
			return 1;
		}
		if (r->pend && r->state != R_MSG) {
			r->pend = false;
			*err = r->pend_err;
			if (r->pend_more)
				dhp_detail(err, "and %ld more such lines in the same message",
					   r->pend_more);
			return -1;
		}
		if (r->finished)
			return 0;
		int rc = step(r, err);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			r->finished = true;
			if (!r->problems)
				return 0;
			*err = r->problem;
			if (r->problems > 1)
				dhp_detail(err,
					   "%d envelope problems in this file, this is the first",
					   r->problems);
			return -1;
		}
	}
}

/* ---- parsing ------------------------------------------------------------ */

/*
 * The field index. A mapping reads a few dozen values from each segment,
 * and finding field f by counting separators from the start made every
 * read cost O(f) memchr calls. Instead the first access to a segment
 * records where its first FX_MAX pieces start (piece 1 is the segment id,
 * piece f + 1 field f), in one array shared by the message's segments and
 * reused from message to message; when that is all of them, one more
 * offset (the segment's length + 1, where a next piece would start) lets
 * the last piece be found like the others. A field past FX_MAX is found
 * by scanning on from the last recorded piece. Once a message's index holds FX_BUDGET
 * offsets, further segments are not indexed but scanned as before, so a
 * hostile message (100000 segments of 100 fields) costs bounded memory.
 * Offsets are 32-bit; a longer segment is never indexed.
 */
#define FX_MAX 128u	     /* pieces recorded per segment */
#define FX_BUDGET (1u << 20) /* offsets recorded per message: 4 MB */

enum fx_state {
	FX_UNBUILT, /* not accessed yet in this message */
	FX_ALL,	    /* every piece recorded */
	FX_SOME,    /* the first FX_MAX pieces recorded; there may be more */
	FX_NONE,    /* not indexed: scan */
};

/*
 * The component cuts. A mapping reads several components of one field
 * (PID-5.1, PID-5.2, ...; OBX-3.1, OBX-3.2, OBX-3.3), and finding
 * component c by counting separators from the start of the repetition
 * made each read scan all the components before it. The first read of a
 * component of a (short) repetition records where all its components start
 * (up to CUT_MAX), so the reads that follow find theirs at once. A few
 * repetitions are remembered per message, by position.
 */
#define CUT_MAX 24 /* component starts recorded per repetition */
#define CUTS 16	   /* repetitions remembered; a power of two */

struct cut {
	uint32_t gen; /* hl7_fields.gen of the message it is for; 0 = unused */
	uint32_t seg;
	int f, r;
	uint32_t end; /* where the repetition ends (relative to the segment), when `all` */
	uint8_t n;    /* components whose start is recorded */
	bool all;     /* n is all of them */
	uint32_t start[CUT_MAX]; /* component i + 1 starts at start[i] */
};

struct hl7_fields {
	uint32_t *pos; /* piece start offsets, relative to their segment */
	size_t n, alloc;
	unsigned char cls[256]; /* C_RS, C_CS, C_SS: which separator a byte is */
	uint64_t rs8, cs8, ss8; /* the separators repeated in every byte of a word */
	uint32_t gen;		/* counts the messages parsed, for the cuts */
	struct cut cuts[CUTS];
};

/* A field up to this long is cut into repetition, component and
 * subcomponent in one pass with scan() (cut_short); a longer one (an
 * embedded document, say) level by level with memchr. */
#define SHORT_FIELD 64

enum { C_RS = 1, C_CS = 2, C_SS = 4 };

void hl7_msg_release(struct hl7_msg *m)
{
	free(m->segs);
	if (m->fields)
		free(m->fields->pos);
	free(m->fields);
	*m = (struct hl7_msg)HL7_MSG_INIT;
}

static void add_segment(struct hl7_msg *m, size_t off, size_t len)
{
	ALLOC_GROW(m->segs, m->nsegs + 1, m->asegs);
	struct hl7_seg *s = &m->segs[m->nsegs++];
	s->off = off;
	s->len = len;
	s->fx_at = 0;
	s->fx_n = 0;
	s->fx_state = FX_UNBUILT;
	s->plain = false;
	size_t k = 0;
	if (m->nsegs == 1) { /* checked: MSH, whatever the separator (it may be 'S') */
		memcpy(s->id, "MSH", 4);
		return;
	}
	memset(s->id, 0, sizeof(s->id)); /* NUL-padded: ids compare as 4-byte words */
	while (k < 3 && k < len && m->text[off + k] != m->fs) {
		s->id[k] = m->text[off + k];
		k++;
	}
}

int hl7_parse(struct hl7_msg *m, const char *text, size_t len, struct dhp_error *err)
{
	m->text = text;
	m->len = len;
	m->nsegs = 0;
	if (!m->fields)
		m->fields = xcalloc(1, sizeof(*m->fields));
	m->fields->n = 0;
	if (++m->fields->gen == 0) { /* wrapped: forget every cut */
		memset(m->fields->cuts, 0, sizeof(m->fields->cuts));
		m->fields->gen = 1;
	}
	if (len < 3 || memcmp(text, "MSH", 3) != 0)
		return dhp_fail(err, DHP_ESYNTAX, "MSH", "message does not start with MSH");
	if (len < 4 || text[3] == '\r' || text[3] == '\n')
		return dhp_fail(err, DHP_ESYNTAX, "MSH-1", "field separator missing");
	char fs = text[3];
	size_t e = 4;
	while (e < len && text[e] != fs && text[e] != '\r' && text[e] != '\n')
		e++;
	char enc[8];
	size_t ne = 0;
	for (size_t i = 4; i < e && ne < sizeof(enc); i++) {
		/* ^~\\& is ^~\& with a backslash doubled by an export bug */
		if (i == 7 && text[i] == '\\' && text[i - 1] == '\\' && e - 4 >= 5)
			continue;
		enc[ne++] = text[i];
	}
	if (e - 4 > sizeof(enc) || ne < 4 || ne > 5)
		return dhp_fail(err, DHP_ESYNTAX, "MSH-2",
				"encoding characters: expected 4 or 5, found %zu", e - 4);
	for (size_t i = 0; i < ne; i++)
		for (size_t j = 0; j <= i; j++)
			if ((j == i ? fs : enc[j]) == enc[i])
				return dhp_fail(err, DHP_ESYNTAX, "MSH-2",
						"encoding character %zu (0x%02X) repeats another "
						"separator",
						i + 1, (unsigned char)enc[i]);
	m->fs = fs;
	m->cs = enc[0];
	m->rs = enc[1];
	m->ec = enc[2];
	m->ss = enc[3];
	m->tc = ne == 5 ? enc[4] : '\0';
	unsigned char *cls = m->fields->cls;
	memset(cls, 0, sizeof(m->fields->cls));
	cls[(unsigned char)m->rs] = C_RS; /* all different: checked above */
	cls[(unsigned char)m->cs] = C_CS;
	cls[(unsigned char)m->ss] = C_SS;
	m->fields->rs8 = 0x0101010101010101u * (unsigned char)m->rs;
	m->fields->cs8 = 0x0101010101010101u * (unsigned char)m->cs;
	m->fields->ss8 = 0x0101010101010101u * (unsigned char)m->ss;

	size_t off = 0;
	while (off < len) {
		const char *cr = memchr(text + off, '\r', len - off);
		size_t end = cr ? (size_t)(cr - text) : len;
		const char *lf = memchr(text + off, '\n', end - off);
		if (lf)
			end = (size_t)(lf - text);
		if (end > off) {
			if (m->nsegs == HL7_MAX_SEGMENTS) {
				char where[32];
				snprintf(where, sizeof(where), "segment %d", HL7_MAX_SEGMENTS + 1);
				m->nsegs = 0;
				return dhp_fail(err, DHP_ELIMIT, where,
						"more than %d segments in the message",
						HL7_MAX_SEGMENTS);
			}
			add_segment(m, off, end - off);
		}
		off = end + 1;
	}
	return 0;
}

static bool is_msh(const struct hl7_seg *s)
{
	return s->id[0] == 'M' && s->id[1] == 'S' && s->id[2] == 'H' && !s->id[3];
}

/* Piece `idx` (1-based) of s[0..n) cut at `sep`, as [*b, *e). */
static bool piece(const char *s, size_t n, char sep, long idx, size_t *b, size_t *e)
{
	size_t at = 0;
	for (long i = 1; i < idx; i++) {
		const char *q = memchr(s + at, sep, n - at);
		if (!q)
			return false;
		at = (size_t)(q - s) + 1;
	}
	const char *q = memchr(s + at, sep, n - at);
	*b = at;
	*e = q ? (size_t)(q - s) : n;
	return true;
}

/* Record where the pieces of segment sg start (see FX_MAX above). */
static void index_segment(const struct hl7_msg *m, struct hl7_seg *sg)
{
	struct hl7_fields *fx = m->fields;
	const char *s = m->text + sg->off, *q;
	/* one pass for the whole segment spares one per value read */
	sg->plain = !memchr(s, m->ec, sg->len);
	if (sg->len >= UINT32_MAX || fx->n > FX_BUDGET - FX_MAX - 1) {
		sg->fx_state = FX_NONE; /* fx_n stays 0 */
		return;
	}
	ALLOC_GROW(fx->pos, fx->n + FX_MAX + 1, fx->alloc);
	uint32_t *p = fx->pos + fx->n;
	size_t k = 0, at = 0;
	p[k++] = 0;
	while (k < FX_MAX && (q = memchr(s + at, m->fs, sg->len - at))) {
		at = (size_t)(q - s) + 1;
		p[k++] = (uint32_t)at;
	}
	sg->fx_at = (uint32_t)fx->n;
	sg->fx_state = k < FX_MAX ? FX_ALL : FX_SOME;
	if (k < FX_MAX) /* where a piece after the last would start: it ends there */
		p[k++] = (uint32_t)sg->len + 1;
	sg->fx_n = (uint16_t)k;
	fx->n += k;
}

/* seg_piece() for all but a recorded piece followed by another. */
__attribute__((noinline)) static bool seg_piece_rest(const struct hl7_msg *m, struct hl7_seg *sg,
						     long idx, size_t *b, size_t *e)
{
	if (sg->fx_state == FX_UNBUILT)
		index_segment(m, sg);
	const char *s = m->text + sg->off;
	if (sg->fx_state == FX_NONE)
		return piece(s, sg->len, m->fs, idx, b, e);
	const uint32_t *p = m->fields->pos + sg->fx_at;
	long n = sg->fx_n;
	if (idx < n) {
		*b = p[idx - 1];
		*e = p[idx] - 1;
		return true;
	}
	if (sg->fx_state == FX_ALL)
		return false;
	size_t at = p[n - 1];
	if (!piece(s + at, sg->len - at, m->fs, idx - n + 1, b, e))
		return false;
	*b += at;
	*e += at;
	return true;
}

/* Piece `idx` (>= 2) of segment sg cut at the field separator, as [*b, *e)
 * relative to the segment: piece() through the field index. fx_n is 0
 * while the segment is not indexed, so the test below is all a lookup of
 * an indexed field costs. */
static inline bool seg_piece(const struct hl7_msg *m, struct hl7_seg *sg, long idx, size_t *b,
			     size_t *e)
{
	if (idx < sg->fx_n) {
		const uint32_t *p = m->fields->pos + sg->fx_at;
		*b = p[idx - 1];
		*e = p[idx] - 1;
		return true;
	}
	return seg_piece_rest(m, sg, idx, b, e);
}

/* Field f of segment seg as [*b, *e) relative to the segment; for MSH-1
 * and MSH-2 *whole is set (they are never cut by the other separators). */
static bool field(const struct hl7_msg *m, size_t seg, int f, size_t *b, size_t *e, bool *whole)
{
	*whole = false;
	if (seg >= m->nsegs || f < 1)
		return false;
	struct hl7_seg *sg = &m->segs[seg];
	if (is_msh(sg)) {
		if (f == 1) {
			if (sg->len < 4)
				return false;
			*b = 3;
			*e = 4;
			*whole = true;
			return true;
		}
		*whole = f == 2;
		f--;
	}
	/* field f starts after the f-th separator: piece f + 1 */
	return seg_piece(m, sg, (long)f + 1, b, e);
}

/* The first byte of [p, end) that is one of the separators in `stop` (C_*
 * bits), or end. Eight bytes are tested at a time: for x = word ^ sep8,
 * (x - ones) & ~x & high flags the bytes of the word equal to the separator,
 * and its lowest bit is exact (a borrow only flags a byte above a real
 * match), so on a little-endian machine it gives the first one. */
static inline const unsigned char *scan(const struct hl7_fields *fx, const unsigned char *p,
					const unsigned char *end, unsigned stop)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	/* one word per separator of `stop`, repeated when there are fewer */
	uint64_t a = stop & C_CS ? fx->cs8 : stop & C_RS ? fx->rs8 : fx->ss8;
	uint64_t b = stop & C_RS ? fx->rs8 : a, c = stop & C_SS ? fx->ss8 : a;
	while (end - p >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		uint64_t xa = w ^ a, xb = w ^ b, xc = w ^ c;
		uint64_t hit =
		    (((xa - ones) & ~xa) | ((xb - ones) & ~xb) | ((xc - ones) & ~xc)) & high;
		if (hit)
			return p + __builtin_ctzll(hit) / 8;
		p += 8;
	}
#endif
	while (p < end && !(fx->cls[*p] & stop))
		p++;
	return p;
}

/* Narrow the field s[*b, *e) to repetition r, component c and subcomponent
 * sc as hl7_get() does with piece() level by level, but in one pass that
 * stops at the end of the part asked for. A component ends at the end of
 * its repetition too, a subcomponent at the end of its component. */
static bool cut_short(const struct hl7_msg *m, const char *s, size_t *b, size_t *e, int r, int c,
		      int sc)
{
	const struct hl7_fields *fx = m->fields;
	const unsigned char *p = (const unsigned char *)s + *b,
			    *end = (const unsigned char *)s + *e;
	for (int k = 1; k < r; k++) {
		p = scan(fx, p, end, C_RS);
		if (p == end)
			return false;
		p++;
	}
	unsigned stop = C_RS;
	if (c > 0) {
		stop |= C_CS;
		for (int k = 1; k < c; k++) {
			p = scan(fx, p, end, stop);
			if (p == end || fx->cls[*p] != C_CS)
				return false;
			p++;
		}
	}
	if (sc > 0) {
		stop |= C_SS;
		for (int k = 1; k < sc; k++) {
			p = scan(fx, p, end, stop);
			if (p == end || fx->cls[*p] != C_SS)
				return false;
			p++;
		}
	}
	const unsigned char *q = scan(fx, p, end, stop);
	*b = (size_t)(p - (const unsigned char *)s);
	*e = (size_t)(q - (const unsigned char *)s);
	return true;
}

/* The cut of repetition r of field s[b, e) of segment seg, recorded if it
 * was not (see CUTS above); NULL when the repetition does not exist. */
static const struct cut *cut_of(const struct hl7_msg *m, size_t seg, int f, int r, const char *s,
				size_t b, size_t e)
{
	struct hl7_fields *fx = m->fields;
	struct cut *ct = &fx->cuts[((size_t)seg * 7 + (size_t)f * 3 + (size_t)r) & (CUTS - 1)];
	if (ct->gen == fx->gen && ct->seg == seg && ct->f == f && ct->r == r)
		return ct;
	const unsigned char *base = (const unsigned char *)s, *p = base + b, *end = base + e;
	for (int k = 1; k < r; k++) {
		p = scan(fx, p, end, C_RS);
		if (p == end)
			return NULL;
		p++;
	}
	ct->gen = fx->gen;
	ct->seg = (uint32_t)seg;
	ct->f = f;
	ct->r = r;
	ct->n = 0;
	ct->all = false;
	for (;;) {
		if (ct->n == CUT_MAX)
			return ct;
		ct->start[ct->n++] = (uint32_t)(p - base);
		p = scan(fx, p, end, C_RS | C_CS);
		if (p == end || fx->cls[*p] == C_RS)
			break;
		p++;
	}
	ct->all = true;
	ct->end = (uint32_t)(p - base);
	return ct;
}

/* cut_short() for c > 0 through the recorded cuts; -1 when they cannot
 * tell (a component past CUT_MAX). */
static int cut_component(const struct hl7_msg *m, size_t seg, int f, const char *s, size_t *b,
			 size_t *e, int r, int c, int sc)
{
	const struct cut *ct = cut_of(m, seg, f, r, s, *b, *e);
	if (!ct)
		return 0;
	size_t pb, pe;
	if (c < ct->n) {
		pb = ct->start[c - 1];
		pe = ct->start[c] - 1;
	} else if (!ct->all) {
		return -1;
	} else if (c == ct->n) {
		pb = ct->start[c - 1];
		pe = ct->end;
	} else {
		return 0;
	}
	if (sc > 0) {
		/* a component holds no other separator than the subcomponents' */
		const struct hl7_fields *fx = m->fields;
		const unsigned char *p = (const unsigned char *)s + pb,
				    *end = (const unsigned char *)s + pe;
		for (int k = 1; k < sc; k++) {
			p = scan(fx, p, end, C_SS);
			if (p == end)
				return 0;
			p++;
		}
		pb = (size_t)(p - (const unsigned char *)s);
		pe = (size_t)(scan(fx, p, end, C_SS) - (const unsigned char *)s);
	}
	*b = pb;
	*e = pe;
	return 1;
}

bool hl7_get(const struct hl7_msg *m, size_t seg, int f, int r, int c, int sc,
	     struct hl7_slice *out)
{
	size_t b, e;
	bool whole;
	*out = (struct hl7_slice){NULL, 0};
	if (r < 1 || c < 0 || sc < 0 || (c == 0 && sc > 0) || !field(m, seg, f, &b, &e, &whole))
		return false;
	const char *s = m->text + m->segs[seg].off;
	if (whole) {
		if (r != 1 || c > 1 || sc > 1)
			return false;
	} else if (e - b <= SHORT_FIELD) {
		int got = c > 0 ? cut_component(m, seg, f, s, &b, &e, r, c, sc) : -1;
		if (!got || (got < 0 && !cut_short(m, s, &b, &e, r, c, sc)))
			return false;
	} else {
		size_t b2, e2;
		if (!piece(s + b, e - b, m->rs, r, &b2, &e2))
			return false;
		e = b + e2;
		b += b2;
		if (c > 0) {
			if (!piece(s + b, e - b, m->cs, c, &b2, &e2))
				return false;
			e = b + e2;
			b += b2;
		}
		if (sc > 0) {
			if (!piece(s + b, e - b, m->ss, sc, &b2, &e2))
				return false;
			e = b + e2;
			b += b2;
		}
	}
	out->s = s + b;
	out->n = e - b;
	return true;
}

static int count_char(const char *s, size_t n, char c)
{
	int k = 0;
	for (const char *q; k < INT_MAX && (q = memchr(s, c, n));
	     n -= (size_t)(q + 1 - s), s = q + 1)
		k++;
	return k;
}

int hl7_reps(const struct hl7_msg *m, size_t seg, int f)
{
	size_t b, e;
	bool whole;
	if (!field(m, seg, f, &b, &e, &whole) || b == e)
		return 0;
	if (whole)
		return 1;
	int k = count_char(m->text + m->segs[seg].off + b, e - b, m->rs);
	return k < INT_MAX ? k + 1 : k;
}

int hl7_nfields(const struct hl7_msg *m, size_t seg)
{
	if (seg >= m->nsegs)
		return 0;
	struct hl7_seg *sg = &m->segs[seg];
	if (sg->fx_state == FX_UNBUILT)
		index_segment(m, sg);
	int k =
	    sg->fx_state == FX_ALL ? sg->fx_n - 2 : count_char(m->text + sg->off, sg->len, m->fs);
	if (!is_msh(sg))
		return k;
	/* MSH-1 is the byte after "MSH", even where no separator follows it */
	return k ? (k < INT_MAX ? k + 1 : k) : sg->len >= 4;
}

/* ---- unescaping ---------------------------------------------------------- */

static int hexval(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hexval((unsigned char)s[i]) < 0)
			return false;
	return true;
}

/* Offset of the first byte that does not start a valid UTF-8 sequence
 * (RFC 3629: no overlong forms, surrogates or values past U+10FFFF), or n. */
static size_t utf8_bad(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
#if defined(__SSE2__)
		/* ASCII runs dominate: 16 bytes at a time (their high bits) */
		while (n - i >= 16 &&
		       !_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)(s + i))))
			i += 16;
		if (i == n)
			break;
#endif
		if (n - i >= 8) { /* ASCII runs dominate: 8 bytes at a time */
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (!(w & 0x8080808080808080u)) {
				i += 8;
				continue;
			}
		}
		unsigned c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k = 2;
		unsigned lo = 0x80, hi = 0xBF;
		if (c >= 0xC2 && c <= 0xDF)
			k = 1;
		else if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		else if (c >= 0xE1 && c <= 0xEF)
			;
		else if (c == 0xF0 && (k = 3))
			lo = 0x90;
		else if (c == 0xF4 && (k = 3))
			hi = 0x8F;
		else if (c >= 0xF1 && c <= 0xF3)
			k = 3;
		else
			return i;
		if (n - i <= k || s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t j = 2; j <= k; j++)
			if ((s[i + j] & 0xC0) != 0x80)
				return i;
		i += k + 1;
	}
	return n;
}

/* \Xhh...\: the bytes, when they are UTF-8 text (no NUL); anything else
 * (bytes of another charset, odd digits) is left to the caller to keep. */
static bool hex_bytes(const char *s, size_t n, struct strbuf *out)
{
	if (n % 2 || !all_hex(s, n))
		return false;
	size_t mark = out->len;
	for (size_t i = 0; i < n; i += 2) {
		int v = hexval((unsigned char)s[i]) << 4 | hexval((unsigned char)s[i + 1]);
		if (v == 0)
			break;
		strbuf_addch(out, (char)v);
	}
	if (out->len - mark == n / 2 &&
	    utf8_bad((const unsigned char *)out->buf + mark, n / 2) == n / 2)
		return true;
	out->len = mark;
	if (out->alloc)
		out->buf[mark] = '\0';
	return false;
}

/* \.xx args\ formatting commands: .br, .ce and .sp give line breaks, the
 * others (.in, .ti, .fi, .nf, .sk, ...) shape layout we do not keep. */
static bool format_command(const char *s, size_t n, struct strbuf *out)
{
	if (n < 2 || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') ||
	    !((s[1] | 0x20) >= 'a' && (s[1] | 0x20) <= 'z'))
		return false;
	size_t i = 2;
	if (i < n && s[i] == ' ')
		i++;
	bool minus = i < n && s[i] == '-';
	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	size_t digits = i;
	long num = 0;
	for (; i < n && is_digit((unsigned char)s[i]); i++)
		if (num <= SP_MAX)
			num = num * 10 + (s[i] - '0');
	if (i != n)
		return false;
	char cmd[3] = {(char)(s[0] | 0x20), (char)(s[1] | 0x20), '\0'};
	if (streq(cmd, "br") || streq(cmd, "ce")) {
		strbuf_addch(out, '\n');
	} else if (streq(cmd, "sp")) {
		long lines = digits == n ? 1 : minus ? 0 : num > SP_MAX ? SP_MAX : num;
		for (long k = 0; k < lines; k++)
			strbuf_addch(out, '\n');
	}
	return true;
}

/* Decode one escape sequence, its text between the escape characters being
 * c[0..k); false when unknown (the caller keeps it as written). */
static bool decode(const struct hl7_msg *m, const char *c, size_t k, struct strbuf *out)
{
	if (k == 0)
		return false;
	if (k == 1) {
		char v = 0;
		switch (c[0]) {
		case 'F':
			v = m->fs;
			break;
		case 'S':
			v = m->cs;
			break;
		case 'T':
			v = m->ss;
			break;
		case 'R':
			v = m->rs;
			break;
		case 'E':
			v = m->ec;
			break;
		case 'P':
			v = m->tc;
			break;
		case 'H': /* highlighting on/off: no place for it in text */
		case 'N':
			return true;
		default:
			break;
		}
		if (v) {
			strbuf_addch(out, v);
			return true;
		}
	}
	switch (c[0]) {
	case 'X':
		return hex_bytes(c + 1, k - 1, out);
	case 'C': /* ISO 2022 single-byte set switch: the text is UTF-8 already */
		return k == 5 && all_hex(c + 1, 4);
	case 'M': /* multi-byte set switch */
		return (k == 5 || k == 7) && all_hex(c + 1, k - 1);
	case 'Z': /* locally defined: meaningless to us */
		return true;
	case '.':
		return format_command(c + 1, k - 1, out);
	default:
		return false;
	}
}

int hl7_unescape(const struct hl7_msg *m, const char *s, size_t n, struct strbuf *out)
{
	char ec = m->ec;
	int unknown = 0;
	if (!ec) {
		strbuf_add(out, s, n);
		return 0;
	}
	size_t i = 0;
	while (i < n) {
		const char *a = memchr(s + i, ec, n - i);
		if (!a) {
			strbuf_add(out, s + i, n - i);
			break;
		}
		size_t ai = (size_t)(a - s);
		strbuf_add(out, s + i, ai - i);
		const char *z = memchr(a + 1, ec, n - ai - 1);
		if (!z) { /* unterminated: kept as written */
			strbuf_add(out, a, n - ai);
			unknown++;
			break;
		}
		size_t zi = (size_t)(z - s);
		if (!decode(m, a + 1, zi - ai - 1, out)) {
			strbuf_add(out, a, zi + 1 - ai);
			unknown++;
		}
		i = zi + 1;
	}
	return unknown;
}

/* ---- character sets ------------------------------------------------------ */

const char *hl7_charset_iconv_name(const char *msh18, size_t n)
{
	static const char *const iso8859[] = {
	    NULL,	  "ISO-8859-1",	 "ISO-8859-2",	"ISO-8859-3",  "ISO-8859-4",  "ISO-8859-5",
	    "ISO-8859-6", "ISO-8859-7",	 "ISO-8859-8",	"ISO-8859-9",  "ISO-8859-10", "ISO-8859-11",
	    NULL,	  "ISO-8859-13", "ISO-8859-14", "ISO-8859-15", "ISO-8859-16",
	};
	static const char *const prefixes[] = {"8859/", "ISO-8859-", "ISO8859-", "ISO_8859-"};
	static const struct {
		const char *hl7, *iconv;
	} names[] = {
	    /* ASCII as UTF-8: a superset, and "ASCII" messages often carry UTF-8 */
	    {"ASCII", "UTF-8"},
	    {"US-ASCII", "UTF-8"},
	    {"ISO IR6", "UTF-8"},
	    {"UNICODE UTF-8", "UTF-8"},
	    {"UTF-8", "UTF-8"},
	    {"UTF8", "UTF-8"},
	    {"ISO IR100", "ISO-8859-1"},
	    {"ISO IR144", "ISO-8859-5"},
	    {"WINDOWS-1250", "CP1250"},
	    {"CP1250", "CP1250"},
	    {"WINDOWS-1251", "CP1251"},
	    {"CP1251", "CP1251"},
	    {"WINDOWS-1252", "CP1252"},
	    {"CP1252", "CP1252"},
	    {"KOI8-R", "KOI8-R"},
	    {"KOI8-U", "KOI8-U"},
	    {"GB 18030-2000", "GB18030"},
	    {"GB18030", "GB18030"},
	    {"BIG-5", "BIG5"},
	    {"BIG5", "BIG5"},
	    {"KS X 1001", "EUC-KR"},
	};
	while (n && msh18[0] == ' ') {
		msh18++;
		n--;
	}
	while (n && msh18[n - 1] == ' ')
		n--;
	if (!n)
		return "UTF-8";
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		size_t pn = strlen(prefixes[i]);
		if (n > pn && n <= pn + 2 && !strncasecmp(msh18, prefixes[i], pn)) {
			size_t num = 0;
			for (size_t k = pn; k < n; k++) {
				if (!is_digit((unsigned char)msh18[k]))
					return NULL;
				num = num * 10 + (size_t)(msh18[k] - '0');
			}
			return num < ARRAY_SIZE(iso8859) ? iso8859[num] : NULL;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strlen(names[i].hl7) == n && !strncasecmp(msh18, names[i].hl7, n))
			return names[i].iconv;
	return NULL;
}

/* "msg byte 1234 (segment 5, PID)" for text offset off (both 1-based). */
static void locate_byte(const char *text, size_t len, size_t off, char *where, size_t size)
{
	size_t seg = 1, start = 0;
	for (size_t i = 0; i < off; i++)
		if (text[i] == '\r' || text[i] == '\n') {
			seg++;
			start = i + 1;
		}
	char id[4];
	size_t k = 0;
	for (; k < 3 && start + k < len; k++) {
		unsigned char c = (unsigned char)text[start + k];
		if (!is_upper(c) && !is_digit(c))
			break;
		id[k] = (char)c;
	}
	id[k] = '\0';
	snprintf(where, size, "msg byte %zu (segment %zu, %s)", off + 1, seg, k ? id : "?");
}

/* Whether the invalid UTF-8 at bad is a sequence cut short by the end. */
static bool utf8_cut(const char *text, size_t len, size_t bad)
{
	unsigned c = (unsigned char)text[bad];
	size_t need = c >= 0xF0 && c <= 0xF4   ? 4
		      : c >= 0xE0 && c <= 0xEF ? 3
		      : c >= 0xC2 && c <= 0xDF ? 2
					       : 0;
	if (!need || len - bad >= need)
		return false;
	for (size_t i = bad + 1; i < len; i++)
		if (((unsigned char)text[i] & 0xC0) != 0x80)
			return false;
	return true;
}

static int bad_byte(const char *text, size_t len, size_t off, const char *from, bool truncated,
		    struct dhp_error *err)
{
	char where[sizeof(err->where)];
	locate_byte(text, len, off, where, sizeof(where));
	dhp_fail(err, DHP_EVALUE, where, "invalid byte for character set %s", from);
	if (truncated)
		dhp_detail(err, "incomplete sequence at the end of the message");
	else
		dhp_detail(err, "byte 0x%02X", (unsigned char)text[off]);
	return -1;
}

static int too_big(struct dhp_error *err)
{
	return dhp_fail(err, DHP_ELIMIT, "msg", "message too large once converted to UTF-8");
}

int hl7_to_utf8(const char *text, size_t len, const char *from, struct strbuf *out,
		struct dhp_error *err)
{
	if (!from || !strcasecmp(from, "UTF-8") || !strcasecmp(from, "UTF8")) {
		size_t bad = utf8_bad((const unsigned char *)text, len);
		if (bad < len)
			return bad_byte(text, len, bad, "UTF-8", utf8_cut(text, len, bad), err);
		strbuf_add(out, text, len);
		return out->toobig ? too_big(err) : 0;
	}
	iconv_t cd = iconv_open("UTF-8", from);
	if (cd == (iconv_t)-1)
		return dhp_fail(err, DHP_EVALUE, "MSH-18",
				"character set %s not supported by iconv", from);
	char *in = (char *)(uintptr_t)text; /* iconv's prototype; it does not write */
	size_t left = len;
	char obuf[8192];
	int rc = 0;
	/* the last round (left == 0) flushes the shift state of stateful charsets */
	for (bool last = false; !rc && !last;) {
		char *o = obuf;
		size_t room = sizeof(obuf);
		last = !left;
		size_t got =
		    last ? iconv(cd, NULL, NULL, &o, &room) : iconv(cd, &in, &left, &o, &room);
		int e = got == (size_t)-1 ? errno : 0;
		strbuf_add(out, obuf, (size_t)(o - obuf));
		if (e == EILSEQ || e == EINVAL)
			rc = bad_byte(text, len, (size_t)(in - text), from, e == EINVAL, err);
		else if (e && e != E2BIG)
			rc = dhp_fail(err, DHP_EVALUE, "msg", "conversion from %s failed: %s", from,
				      strerror(e));
		else if (out->toobig)
			rc = too_big(err);
		else if (e == E2BIG)
			last = false;
	}
	iconv_close(cd);
	return rc;
}
