/*
 * extract_hl7.c: HL7 v2 messages as records (see extract_hl7.h).
 */
#include "core/dhp.h"
#include "core/hmap.h"
#include "extract/extract_hl7.h"
#include "extract/hl7.h"

#include <ctype.h>

#define RING 16 /* values alive at once: a chain reads a few operands */
#define STAR (-1)

/* A value read of a path: of segment `seg`, repetition `rep`, in message
 * `gen` (0 = none). */
struct last_read {
	long gen, seg;
	int rep;
	struct value v;
};

#define LAST_SLOTS 4 /* repetitions of a path remembered: slot (rep - 1) % 4 */

struct hpath {
	char seg[4];
	int field, rep, comp, sub; /* rep STAR for [*]; 0 = not given */
	int memo;		   /* index into hl7_source.memo */
	char *text;
	/* The values last read, one per repetition slot: a mapping often
	 * reads a path twice in a row, for a condition and then for the
	 * value, and [*] rows read repetitions 1..n again row after row (a
	 * guard, then each row under it). Values in the ring are not kept,
	 * the ring being reused. */
	struct last_read last[LAST_SLOTS];
	long reps_gen, reps_seg; /* likewise for h_reps() */
	int reps;
	/* the path whose h_reps() memo this one uses: the count depends on
	 * segment and field only, and the rows of a [*] data type (PID-3[*].1,
	 * PID-3[*].4.1, ...) each ask it for the same field */
	int reps_of;
};

/* The segment that paths of segment id `id` read (segment_for()), for one
 * message and focus: segment_for() searches the message, and the paths of one
 * segment (PID-3, PID-5, PID-7, ...) are read one after the other with the
 * same answer. */
/* Where the segments of one id are in one message, found once per message
 * (see occurrences()): a result with 20,000 OBX would otherwise scan the
 * message for every occurrence it focuses on. */
struct occurrences {
	long gen; /* hl7_source.gen it was found for; 0 = never */
	int *at;  /* segment indexes, ascending */
	int n;
	size_t alloc;
};

struct seg_memo {
	char id[4];
	long gen; /* hl7_source.gen it was found for; 0 = never */
	int focus;
	long seg;
	struct occurrences occ; /* of this id */
};

struct hl7_source {
	struct source base;
	char *const *files;
	int nfiles, fileno;
	struct hl7_reader *reader;
	const char *charset; /* override, or NULL */
	struct hl7_msg msg;
	struct strbuf utf8; /* the message converted to UTF-8 when needed */
	struct hpath *paths;
	int npaths;
	size_t apaths;
	struct hmap path_index; /* path text -> index in paths + 1 */
	char (*groups)[4];
	struct occurrences *occ; /* per group */
	int ngroups;
	int focus; /* segment index, or -1 */
	struct seg_memo *memo;
	int nmemo;
	long gen; /* counts messages: a memo of an older one is stale */
	struct strbuf ring[RING];
	int ring_next;
	long total; /* messages over all files, for record_no */
};

/* "PID-5[2].1.1", "MSH-9.1", "OBX-5[*]" */
static bool parse_path(const char *s, struct hpath *p)
{
	memset(p, 0, sizeof(*p));
	size_t n = 0;
	while (n < 3 && (isupper((unsigned char)s[n]) || isdigit((unsigned char)s[n])))
		n++;
	if (n != 3 || !isupper((unsigned char)s[0]))
		return false;
	memcpy(p->seg, s, 3);
	s += 3;
	if (!*s)
		return true; /* the segment itself: a group, not a value */
	if (*s != '-')
		return false;
	char *end;
	long f = strtol(s + 1, &end, 10);
	if (end == s + 1 || f < 1 || f > 999)
		return false;
	p->field = (int)f;
	s = end;
	if (*s == '[') {
		if (s[1] == '*' && s[2] == ']') {
			p->rep = STAR;
			s += 3;
		} else {
			long r = strtol(s + 1, &end, 10);
			if (end == s + 1 || *end != ']' || r < 1 || r > 100000)
				return false;
			p->rep = (int)r;
			s = end + 1;
		}
	}
	for (int level = 0; *s == '.' && level < 2; level++) {
		long c = strtol(s + 1, &end, 10);
		if (end == s + 1 || c < 1 || c > 999)
			return false;
		if (level == 0)
			p->comp = (int)c;
		else
			p->sub = (int)c;
		s = end;
	}
	return *s == '\0';
}

static int h_resolve(struct source *src, const char *path)
{
	struct hl7_source *h = (struct hl7_source *)src;
	struct hpath p;
	void *known = hmap_gets(&h->path_index, path); /* a mapping set reads a path many times */
	if (known)
		return (int)((intptr_t)known - 1);
	if (!parse_path(path, &p) || !p.field)
		return -1;
	for (p.memo = 0; p.memo < h->nmemo && !streq(h->memo[p.memo].id, p.seg); p.memo++)
		;
	if (p.memo == h->nmemo) {
		h->memo = xrealloc(h->memo, (size_t)(h->nmemo + 1) * sizeof(*h->memo));
		h->memo[h->nmemo++] = (struct seg_memo){.gen = 0};
		memcpy(h->memo[p.memo].id, p.seg, 4);
	}
	for (p.reps_of = 0; p.reps_of < h->npaths; p.reps_of++) {
		const struct hpath *q = &h->paths[p.reps_of];
		if (q->memo == p.memo && q->field == p.field)
			break;
	}
	ALLOC_GROW(h->paths, (size_t)h->npaths + 1, h->apaths);
	p.text = xstrdup(path);
	h->paths[h->npaths] = p;
	hmap_put(&h->path_index, path, strlen(path), (void *)(intptr_t)(h->npaths + 1));
	return h->npaths++;
}

/* Segments that belong to the segment before them in the standard message
 * structures (v2.5.1 ch. 2-7): notes after a result, the route after a
 * vaccination, timing after an order. Focused on such a parent, a path of
 * one of its children reads the child that follows it. */
static const char children[][2][4] = {
    {"OBX", "NTE"}, {"OBR", "NTE"}, {"ORC", "NTE"}, {"PID", "NTE"}, {"PID", "PD1"}, {"PV1", "PV2"},
    {"RXA", "RXR"}, {"RXA", "NTE"}, {"RXE", "RXR"}, {"RXE", "TQ1"}, {"RXE", "RXC"}, {"RXO", "RXR"},
    {"RXO", "RXC"}, {"ORC", "TQ1"}, {"OBR", "TQ1"}, {"SPM", "SAC"}, {"TXA", "NTE"}, {"IN1", "IN2"},
};

/* Segment ids are 4-byte NUL-padded arrays: compare them as words (this
 * runs for every value read, hundreds of times per message). */
static inline bool id_eq(const char *a, const char *b)
{
	uint32_t x, y;
	memcpy(&x, a, 4);
	memcpy(&y, b, 4);
	return x == y;
}

static bool is_child(const char *parent, const char *seg)
{
	for (size_t i = 0; i < ARRAY_SIZE(children); i++)
		if (id_eq(children[i][1], seg) && id_eq(children[i][0], parent))
			return true;
	return false;
}

/* The segments of id `id` in the current message, listed once per message. */
static const struct occurrences *occurrences(const struct hl7_source *h, const char *id,
					     struct occurrences *o)
{
	if (o->gen == h->gen)
		return o;
	o->gen = h->gen;
	o->n = 0;
	for (size_t i = 0; i < h->msg.nsegs; i++)
		if (id_eq(h->msg.segs[i].id, id)) {
			ALLOC_GROW(o->at, (size_t)o->n + 1, o->alloc);
			o->at[o->n++] = (int)i;
		}
	return o;
}

/* The last occurrence at or before segment index `at`, or -1 (binary search). */
static int at_or_before(const struct occurrences *o, long at)
{
	int lo = 0, hi = o->n; /* the answer is o->at[lo - 1] */
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (o->at[mid] <= at)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? o->at[lo - 1] : -1;
}

/* The segment a path of segment id mo->id reads: the focus itself, a child
 * in the run of children right after the focus (and no other), the
 * nearest occurrence before the focus, or the first in the message. */
static long segment_for(const struct hl7_source *h, struct seg_memo *mo)
{
	const struct hl7_msg *m = &h->msg;
	const char *seg = mo->id;
	if (h->focus >= 0) {
		const char *parent = m->segs[h->focus].id;
		if (is_child(parent, seg)) {
			/* only its own children: never the previous result's note */
			for (size_t i = (size_t)h->focus + 1;
			     i < m->nsegs && is_child(parent, m->segs[i].id); i++)
				if (id_eq(m->segs[i].id, seg))
					return (long)i;
			return -1;
		}
	}
	const struct occurrences *o = occurrences(h, seg, &mo->occ);
	int before = h->focus >= 0 ? at_or_before(o, h->focus) : -1;
	return before >= 0 ? before : o->n ? o->at[0] : -1;
}

/* memo_segment() when the memo is stale; out of line, so that the check
 * of a fresh memo inlines into every read. */
__attribute__((noinline)) static long memo_fill(const struct hl7_source *h, struct seg_memo *mo)
{
	mo->seg = segment_for(h, mo);
	mo->gen = h->gen;
	mo->focus = h->focus;
	return mo->seg;
}

/* segment_for() through the memo of the path's segment id. */
static inline long memo_segment(struct hl7_source *h, const struct hpath *p)
{
	struct seg_memo *mo = &h->memo[p->memo];
	if (mo->gen != h->gen || mo->focus != h->focus)
		return memo_fill(h, mo);
	return mo->seg;
}

static void h_get(const struct source *src, int handle, struct value *out)
{
	/* ring, memo and the paths' last values are scratch */
	struct hl7_source *h = (struct hl7_source *)(uintptr_t)src;
	struct hpath *p = &h->paths[handle];
	*out = (struct value){V_NULL, "", 0};
	long seg = memo_segment(h, p);
	if (seg < 0)
		return;
	int rep = p->rep == STAR ? src->rep + 1 : p->rep ? p->rep : 1;
	struct last_read *lr = &p->last[(unsigned)(rep - 1) % LAST_SLOTS];
	if (lr->gen == h->gen && lr->seg == seg && lr->rep == rep) {
		*out = lr->v;
		return;
	}
	lr->gen = h->gen;
	lr->seg = seg;
	lr->rep = rep;
	lr->v = *out;
	struct hl7_slice v;
	if (!hl7_get(&h->msg, (size_t)seg, p->field, rep, p->comp, p->sub, &v) || v.n == 0 ||
	    hl7_is_null(v))
		return;
	if (h->msg.segs[seg].plain || !memchr(v.s, h->msg.ec, v.n)) {
		/* nothing to unescape: the message text itself (not NUL-terminated) */
		*out = (struct value){V_TEXT, v.s, v.n};
		lr->v = *out;
		return;
	}
	lr->gen = 0;
	struct strbuf *sb = &h->ring[h->ring_next++ % RING];
	strbuf_reset(sb);
	hl7_unescape(&h->msg, v.s, v.n, sb);
	if (!sb->len)
		return;
	*out = (struct value){V_TEXT, sb->buf, sb->len};
}

static int h_reps(const struct source *src, int handle)
{
	struct hl7_source *h = (struct hl7_source *)(uintptr_t)src; /* memo and reps are scratch */
	struct hpath *p = &h->paths[h->paths[handle].reps_of];
	long seg = memo_segment(h, p);
	if (seg < 0)
		return 0;
	if (p->reps_gen != h->gen || p->reps_seg != seg) {
		p->reps_gen = h->gen;
		p->reps_seg = seg;
		p->reps = hl7_reps(&h->msg, (size_t)seg, p->field);
	}
	return p->reps;
}

static int h_resolve_group(struct source *src, const char *name)
{
	struct hl7_source *h = (struct hl7_source *)src;
	struct hpath p;
	if (!parse_path(name, &p) || p.field)
		return -1;
	for (int i = 0; i < h->ngroups; i++)
		if (streq(h->groups[i], p.seg))
			return i;
	h->groups = xrealloc(h->groups, (size_t)(h->ngroups + 1) * sizeof(*h->groups));
	memcpy(h->groups[h->ngroups], p.seg, 4);
	h->occ = xrealloc(h->occ, (size_t)(h->ngroups + 1) * sizeof(*h->occ));
	h->occ[h->ngroups] = (struct occurrences){.gen = 0};
	return h->ngroups++;
}

static const struct occurrences *occurrences_of(const struct source *src, int group)
{
	struct hl7_source *h = (struct hl7_source *)(uintptr_t)src; /* the lists are scratch */
	return occurrences(h, h->groups[group], &h->occ[group]);
}

static int h_group_count(const struct source *src, int group)
{
	return occurrences_of(src, group)->n;
}

static int h_group_at(const struct source *src, int group, int occurrence)
{
	const struct occurrences *o = occurrences_of(src, group);
	return occurrence >= 0 && occurrence < o->n ? o->at[occurrence] : -1;
}

static int h_group_focus(struct source *src, int group, int occurrence)
{
	struct hl7_source *h = (struct hl7_source *)src;
	h->focus = h_group_at(src, group, occurrence);
	return h->focus;
}

static void h_focus_clear(struct source *src)
{
	((struct hl7_source *)src)->focus = -1;
}

static int h_group_of(const struct source *src, int anchor, int group)
{
	return at_or_before(occurrences_of(src, group), anchor);
}

/* The message's character set: the override, else MSH-18 (first repetition). */
static const char *charset_of(struct hl7_source *h, struct dhp_error *err)
{
	const char *name = h->charset;
	size_t n = name ? strlen(name) : 0;
	struct hl7_slice v = {NULL, 0};
	if (!name && hl7_get(&h->msg, 0, 18, 1, 0, 0, &v) && v.n) {
		name = v.s;
		n = v.n;
	}
	if (!name || !n)
		return "UTF-8";
	const char *iconv_name = hl7_charset_iconv_name(name, n);
	if (!iconv_name)
		dhp_fail(err, DHP_EVALUE, h->base.where,
			 "unknown character set '%.*s' in MSH-18 (expected e.g. UNICODE UTF-8, "
			 "8859/1, 8859/5, WINDOWS-1251, KOI8-R; or set the job's charset)",
			 (int)(n > 30 ? 30 : n), name);
	return iconv_name;
}

/* Parse, convert to UTF-8 if the message says another charset, parse again. */
static int load_message(struct hl7_source *h, const char *text, size_t len, struct dhp_error *err)
{
	if (hl7_parse(&h->msg, text, len, err))
		return -1;
	const char *cs = charset_of(h, err);
	if (!cs)
		return -1;
	strbuf_reset(&h->utf8);
	if (hl7_to_utf8(text, len, cs, &h->utf8, err))
		return -1;
	if (streq(cs, "UTF-8"))
		return 0; /* checked, and the text is unchanged */
	return hl7_parse(&h->msg, h->utf8.buf, h->utf8.len, err);
}

static void locate(struct dhp_error *err, const char *where)
{
	/* hl7.h locates within the message ("MSH-2"): prefix the message's place */
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, where);
	if (err->where[0] && strncmp(err->where, where, strlen(where)) != 0)
		strbuf_addf(&sb, ":%s", err->where);
	size_t n = sb.len < sizeof(err->where) - 1 ? sb.len : sizeof(err->where) - 1;
	memcpy(err->where, sb.buf, n);
	err->where[n] = '\0';
	strbuf_release(&sb);
}

static int h_next(struct source *src, struct dhp_error *err)
{
	struct hl7_source *h = (struct hl7_source *)src;
	h->focus = -1;
	h->gen++;
	for (;;) {
		if (!h->reader) {
			if (h->fileno >= h->nfiles)
				return 0;
			h->reader = hl7_reader_open(h->files[h->fileno], err);
			if (!h->reader)
				return -1;
		}
		const char *text;
		size_t len;
		int got = hl7_reader_next(h->reader, &text, &len, err);
		if (got == 0) {
			hl7_reader_close(h->reader);
			h->reader = NULL;
			h->fileno++;
			continue;
		}
		h->total++;
		src->record_no = h->total;
		snprintf(src->where, sizeof(src->where), "%s:msg#%ld", h->files[h->fileno],
			 hl7_reader_msgno(h->reader));
		if (got < 0) {
			/* the reader locates its errors itself (FILE:LINE or FILE:msg#N) */
			if (strncmp(err->where, h->files[h->fileno], strlen(h->files[h->fileno])))
				locate(err, src->where);
			return SOURCE_BAD_RECORD;
		}
		if (load_message(h, text, len, err)) {
			locate(err, src->where);
			return SOURCE_BAD_RECORD;
		}
		return 1;
	}
}

static void h_close(struct source *src)
{
	struct hl7_source *h = (struct hl7_source *)src;
	hl7_reader_close(h->reader);
	hl7_msg_release(&h->msg);
	strbuf_release(&h->utf8);
	for (int i = 0; i < h->npaths; i++)
		free(h->paths[i].text);
	free(h->paths);
	hmap_clear(&h->path_index);
	for (int i = 0; i < h->nmemo; i++)
		free(h->memo[i].occ.at);
	free(h->memo);
	free(h->groups);
	for (int i = 0; i < h->ngroups; i++)
		free(h->occ[i].at);
	free(h->occ);
	for (int i = 0; i < RING; i++)
		strbuf_release(&h->ring[i]);
	free(h);
}

static const struct source_ops hl7_ops = {
    .resolve = h_resolve,
    .next = h_next,
    .get = h_get,
    .close = h_close,
    .resolve_group = h_resolve_group,
    .group_count = h_group_count,
    .group_focus = h_group_focus,
    .group_at = h_group_at,
    .focus_clear = h_focus_clear,
    .group_of = h_group_of,
    .reps = h_reps,
};

struct source *hl7src_open(char *const *files, int nfiles, const char *charset,
			   struct dhp_error *err)
{
	if (nfiles < 1) {
		dhp_fail(err, DHP_ECONFIG, "hl7v2", "no input files");
		return NULL;
	}
	struct hl7_source *h = xcalloc(1, sizeof(*h));
	h->base.ops = &hl7_ops;
	h->base.name = "hl7v2";
	h->files = files;
	h->nfiles = nfiles;
	h->charset = charset;
	h->msg = (struct hl7_msg)HL7_MSG_INIT;
	h->focus = -1;
	h->gen = 1; /* 0 marks memos and last values as never filled */
	strbuf_init(&h->utf8, HL7_MAX_MESSAGE * 2);
	for (int i = 0; i < RING; i++)
		strbuf_init(&h->ring[i], 0);
	return &h->base;
}
