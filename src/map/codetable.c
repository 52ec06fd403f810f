/*
 * codetable.c: CSV code tables (see codetable.h).
 *
 * The file is read whole (up to CODETABLE_MAX bytes), checked to be UTF-8,
 * and parsed as RFC 4180 CSV into one arena: every cell is unquoted,
 * trimmed and NUL-terminated there, and rows are an array of cell pointers.
 * The raw text is kept until the end of loading so that errors can quote
 * it and count columns in characters. Sources go into an open-addressing
 * hash table (FNV-1a, linear probing, load factor at most 1/2).
 */
#include "core/dhp.h"
#include "map/codetable.h"
#include "map/conv.h"

#include <errno.h>
#include <strings.h>
#include <sys/stat.h>

#define CODETABLE_MAX (64u << 20)
#define FOUND_MAX 40

struct codetable {
	char *path;
	char *arena;  /* all cells, NUL-terminated */
	char **cells; /* nrows * ncols, row 0 is the header */
	size_t ncols;
	size_t nrows;	  /* data rows, header included */
	uint32_t *hash;	  /* per row: hash of the source */
	uint32_t *srclen; /* per row: length of the source */
	uint32_t *slots;  /* row index, 0 = empty (row 0 is the header) */
	size_t mask;
	size_t fallback; /* row of the '*' source, 0 = none */
};

/* Parser state over the raw text. */
struct parser {
	const char *path;
	const char *raw;
	size_t len;
	size_t base; /* where the text starts, after a BOM */
	size_t pos;
	size_t line; /* line number at pos */
	char *w;     /* write position in the arena */
	struct dhp_error *err;
};

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* Column (in characters, 1-based) of raw offset pos; text starts at base
 * (after a BOM). */
static size_t column_of(const char *raw, size_t base, size_t pos)
{
	size_t start = pos, col = 1;
	while (start > base && raw[start - 1] != '\n')
		start--;
	for (size_t i = start; i < pos; i++)
		if (((unsigned char)raw[i] & 0xC0) != 0x80)
			col++;
	return col;
}

/* Line number of raw offset pos, counted from a known (line, offset). */
static size_t line_of(const char *raw, size_t known_line, size_t known_pos, size_t pos)
{
	for (size_t i = known_pos; i < pos; i++)
		if (raw[i] == '\n')
			known_line++;
	return known_line;
}

/* Fail with where = FILE:LINE:COL for raw offset pos on `line`. */
static int fail_at(struct parser *ps, size_t line, size_t pos, enum dhp_code code, const char *fmt,
		   ...) __attribute__((format(printf, 5, 6)));
static int fail_at(struct parser *ps, size_t line, size_t pos, enum dhp_code code, const char *fmt,
		   ...)
{
	char where[256];
	snprintf(where, sizeof(where), "%s:%zu:%zu", ps->path, line,
		 column_of(ps->raw, ps->base, pos));
	va_list ap;
	va_start(ap, fmt);
	dhp_vfail(ps->err, code, where, fmt, ap);
	va_end(ap);
	return -1;
}

/* s[0..n) quoted for a message: at most FOUND_MAX bytes cut at a UTF-8
 * boundary, control bytes as '?'. */
static void quote_found(char *dst, size_t cap, const char *s, size_t n)
{
	bool cut = n > FOUND_MAX;
	if (cut) {
		n = FOUND_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	size_t w = 0;
	if (cap < FOUND_MAX + 6)
		return;
	dst[w++] = '\'';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		dst[w++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (cut) {
		memcpy(dst + w, "...", 3);
		w += 3;
	}
	dst[w++] = '\'';
	dst[w] = '\0';
}

/* ---- reading ----------------------------------------------------------- */

static int read_file(const char *path, char **data, size_t *len, struct dhp_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		dhp_fail(err, DHP_EIO, path, "cannot open code table");
		dhp_detail(err, "%s", strerror(e));
		return -1;
	}
	struct stat st;
	bool regular = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
	if (regular && st.st_size > CODETABLE_MAX) {
		fclose(f);
		return dhp_fail(err, DHP_ELIMIT, path, "code table is larger than %u MiB",
				CODETABLE_MAX >> 20);
	}
	/* Not trusting st_size: the file may be a pipe or still growing. */
	size_t alloc = regular ? (size_t)st.st_size + 1 : 4096, n = 0;
	char *buf = xmalloc(alloc);
	for (;;) {
		if (n == alloc)
			buf = xrealloc(buf, alloc *= 2);
		size_t r = fread(buf + n, 1, alloc - n, f);
		n += r;
		if (n > CODETABLE_MAX) {
			free(buf);
			fclose(f);
			return dhp_fail(err, DHP_ELIMIT, path, "code table is larger than %u MiB",
					CODETABLE_MAX >> 20);
		}
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno;
		free(buf);
		fclose(f);
		dhp_fail(err, DHP_EIO, path, "cannot read code table");
		dhp_detail(err, "%s", strerror(e));
		return -1;
	}
	fclose(f);
	*data = buf;
	*len = n;
	return 0;
}

/* Offset of the first byte that is not valid UTF-8 or is NUL, or len. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t k;
		uint32_t min, cp;
		if (c == 0)
			return i;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			k = 2, min = 0x80, cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			k = 3, min = 0x800, cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 4, min = 0x10000, cp = c & 0x07;
		} else {
			return i;
		}
		if (len - i < k)
			return i;
		for (size_t j = 1; j < k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return i;
		i += k;
	}
	return len;
}

/* ---- CSV --------------------------------------------------------------- */

struct fields {
	char **v;      /* cell pointers into the arena */
	size_t *start; /* raw offset where each field starts */
	size_t n, alloc, alloc_start;
};

static bool at_eol(const struct parser *ps)
{
	size_t p = ps->pos;
	return p == ps->len || ps->raw[p] == '\n' ||
	       (ps->raw[p] == '\r' && p + 1 < ps->len && ps->raw[p + 1] == '\n');
}

/* Step over the line end at pos (if any). */
static void skip_eol(struct parser *ps)
{
	if (ps->pos < ps->len && ps->raw[ps->pos] == '\r')
		ps->pos++;
	if (ps->pos < ps->len && ps->raw[ps->pos] == '\n') {
		ps->pos++;
		ps->line++;
	}
}

static void skip_blanks(struct parser *ps)
{
	while (ps->pos < ps->len && (ps->raw[ps->pos] == ' ' || ps->raw[ps->pos] == '\t'))
		ps->pos++;
}

/* Skip blank and comment lines; false at end of input. */
static bool next_record(struct parser *ps)
{
	while (ps->pos < ps->len) {
		size_t save = ps->pos;
		if (ps->raw[ps->pos] == '#') {
			while (ps->pos < ps->len && ps->raw[ps->pos] != '\n')
				ps->pos++;
		} else {
			skip_blanks(ps);
			if (!at_eol(ps)) {
				ps->pos = save;
				return true;
			}
		}
		if (ps->pos == ps->len)
			return false;
		skip_eol(ps);
	}
	return false;
}

/* A quoted field; pos is at the opening quote. */
static int quoted_field(struct parser *ps)
{
	size_t open = ps->pos, open_line = ps->line;
	ps->pos++;
	for (;;) {
		if (ps->pos == ps->len)
			return fail_at(ps, open_line, open, DHP_ESYNTAX,
				       "unterminated quoted field (no closing '\"')");
		char c = ps->raw[ps->pos++];
		if (c == '"') {
			if (ps->pos < ps->len && ps->raw[ps->pos] == '"') {
				ps->pos++;
				*ps->w++ = '"';
				continue;
			}
			break;
		}
		if (c == '\n')
			ps->line++;
		*ps->w++ = c;
	}
	skip_blanks(ps);
	if (!at_eol(ps) && ps->raw[ps->pos] != ',') {
		unsigned char c = (unsigned char)ps->raw[ps->pos];
		int k = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; /* valid UTF-8 here */
		return fail_at(ps, ps->line, ps->pos, DHP_ESYNTAX,
			       "expected ',' or end of line after a closing quote, found '%.*s'", k,
			       c < 0x20 ? "?" : ps->raw + ps->pos);
	}
	return 0;
}

static int unquoted_field(struct parser *ps)
{
	while (!at_eol(ps) && ps->raw[ps->pos] != ',') {
		if (ps->raw[ps->pos] == '"')
			return fail_at(ps, ps->line, ps->pos, DHP_ESYNTAX,
				       "'\"' inside an unquoted field (quote the whole field "
				       "and write the quote as \"\")");
		*ps->w++ = ps->raw[ps->pos++];
	}
	return 0;
}

/* Parse one record at pos into f; pos ends after its line end. */
static int parse_record(struct parser *ps, struct fields *f)
{
	f->n = 0;
	for (;;) {
		ALLOC_GROW(f->v, f->n + 1, f->alloc);
		ALLOC_GROW(f->start, f->n + 1, f->alloc_start);
		f->start[f->n] = ps->pos;
		char *cell = ps->w;
		skip_blanks(ps);
		int rc = ps->pos < ps->len && ps->raw[ps->pos] == '"' ? quoted_field(ps)
								      : unquoted_field(ps);
		if (rc)
			return rc;
		const char *s = cell;
		size_t n = (size_t)(ps->w - cell);
		conv_trim(&s, &n);
		size_t skip = (size_t)(s - cell);
		/* The terminator takes the place of the consumed delimiter. */
		cell[skip + n] = '\0';
		ps->w++;
		f->v[f->n++] = cell + skip;
		if (at_eol(ps))
			break;
		ps->pos++; /* ',' */
	}
	skip_eol(ps);
	return 0;
}

/* ---- table ------------------------------------------------------------- */

static int check_header(struct parser *ps, struct fields *f, size_t line, size_t pos)
{
	if (f->n < 2 || strcasecmp(f->v[0], "source") != 0 || strcasecmp(f->v[1], "target") != 0) {
		size_t end = pos;
		while (end < ps->len && ps->raw[end] != '\n' && ps->raw[end] != '\r')
			end++;
		char found[FOUND_MAX + 8];
		quote_found(found, sizeof(found), ps->raw + pos, end - pos);
		return fail_at(ps, line, pos, DHP_ESYNTAX,
			       "expected header 'source,target,...', found %s", found);
	}
	for (size_t i = 0; i < f->n; i++) {
		if (!*f->v[i])
			return fail_at(ps, line_of(ps->raw, line, pos, f->start[i]), f->start[i],
				       DHP_ESYNTAX, "empty column name");
		for (size_t j = 0; j < i; j++) {
			if (strcasecmp(f->v[i], f->v[j]) != 0)
				continue;
			char found[FOUND_MAX + 8];
			quote_found(found, sizeof(found), f->v[i], strlen(f->v[i]));
			return fail_at(ps, line_of(ps->raw, line, pos, f->start[i]), f->start[i],
				       DHP_ESYNTAX, "duplicate column name %s", found);
		}
	}
	return 0;
}

static int check_row(struct parser *ps, const struct fields *f, size_t ncols, size_t line,
		     size_t pos)
{
	if (f->n != ncols) {
		/* Point at the first extra field, or where the missing one should be. */
		size_t at = f->n > ncols ? f->start[ncols] : ps->pos;
		if (f->n < ncols)
			while (at > pos && (ps->raw[at - 1] == '\n' || ps->raw[at - 1] == '\r'))
				at--;
		return fail_at(ps, line_of(ps->raw, line, pos, at), at, DHP_ESYNTAX,
			       "expected %zu columns, found %zu", ncols, f->n);
	}
	if (!*f->v[0])
		return fail_at(ps, line, pos, DHP_ESYNTAX,
			       "empty source (write '*' for the fallback row)");
	return 0;
}

static int parse_all(struct codetable *t, struct parser *ps, uint32_t **lines)
{
	struct fields f = {0};
	size_t alloc_cells = 0, alloc_lines = 0;
	int rc = 0;
	while (rc == 0 && next_record(ps)) {
		size_t line = ps->line, pos = ps->pos;
		rc = parse_record(ps, &f);
		if (rc == 0 && t->nrows == 0) {
			rc = check_header(ps, &f, line, pos);
			t->ncols = f.n;
		} else if (rc == 0) {
			rc = check_row(ps, &f, t->ncols, line, pos);
		}
		if (rc)
			break;
		ALLOC_GROW(t->cells, (t->nrows + 1) * t->ncols, alloc_cells);
		memcpy(t->cells + t->nrows * t->ncols, f.v, t->ncols * sizeof(*f.v));
		ALLOC_GROW(*lines, t->nrows + 1, alloc_lines);
		(*lines)[t->nrows] = (uint32_t)line;
		t->nrows++;
	}
	if (rc == 0 && t->nrows == 0)
		rc = fail_at(ps, ps->line, ps->pos, DHP_ESYNTAX,
			     "expected header 'source,target,...', found end of file");
	free(f.v);
	free(f.start);
	return rc;
}

static int fail_duplicate(struct parser *ps, const char *src, size_t n, uint32_t line,
			  uint32_t first)
{
	char where[256], found[FOUND_MAX + 8];
	snprintf(where, sizeof(where), "%s:%u:1", ps->path, (unsigned)line);
	quote_found(found, sizeof(found), src, n);
	return dhp_fail(ps->err, DHP_ESYNTAX, where, "duplicate source %s (first at line %u)",
			found, (unsigned)first);
}

static int build_index(struct codetable *t, struct parser *ps, const uint32_t *lines)
{
	size_t cap = 8;
	while (cap < 2 * t->nrows)
		cap *= 2;
	t->slots = xcalloc(cap, sizeof(*t->slots));
	t->mask = cap - 1;
	t->hash = xmalloc(t->nrows * sizeof(*t->hash));
	t->srclen = xmalloc(t->nrows * sizeof(*t->srclen));
	for (size_t r = 1; r < t->nrows; r++) {
		const char *src = t->cells[r * t->ncols];
		size_t n = strlen(src);
		t->hash[r] = fnv1a(src, n);
		t->srclen[r] = (uint32_t)n;
		if (streq(src, "*")) {
			if (t->fallback)
				return fail_duplicate(ps, src, n, lines[r], lines[t->fallback]);
			t->fallback = r;
			continue;
		}
		size_t i = t->hash[r] & t->mask;
		for (; t->slots[i]; i = (i + 1) & t->mask) {
			uint32_t o = t->slots[i];
			if (t->hash[o] == t->hash[r] && t->srclen[o] == n &&
			    memcmp(t->cells[o * t->ncols], src, n) == 0)
				return fail_duplicate(ps, src, n, lines[r], lines[o]);
		}
		t->slots[i] = (uint32_t)r;
	}
	return 0;
}

struct codetable *codetable_load(const char *path, struct dhp_error *err)
{
	struct dhp_error dummy;
	if (!err)
		err = &dummy;
	char *raw = NULL;
	size_t len = 0;
	if (read_file(path, &raw, &len, err))
		return NULL;
	struct parser ps = {path, raw, len, 0, 0, 1, NULL, err};
	if (len >= 3 && memcmp(raw, "\xEF\xBB\xBF", 3) == 0)
		ps.base = ps.pos = 3;
	size_t bad = utf8_check((const unsigned char *)raw, len);
	struct codetable *t = xcalloc(1, sizeof(*t));
	t->path = xstrdup(path);
	uint32_t *lines = NULL;
	int rc;
	if (bad < len) {
		rc = fail_at(&ps, line_of(raw, 1, 0, bad), bad, DHP_ESYNTAX,
			     raw[bad] ? "invalid UTF-8 (save the table as UTF-8, not Windows-1251)"
				      : "NUL byte in a code table");
	} else {
		/* Cells never grow and each ends where a delimiter was: the input
		 * length plus one terminator for the last cell is enough. */
		t->arena = xmalloc(len + 1);
		ps.w = t->arena;
		rc = parse_all(t, &ps, &lines);
		if (rc == 0)
			rc = build_index(t, &ps, lines);
	}
	free(lines);
	free(raw);
	if (rc) {
		codetable_free(t);
		return NULL;
	}
	return t;
}

void codetable_free(struct codetable *t)
{
	if (!t)
		return;
	free(t->path);
	free(t->arena);
	free(t->cells);
	free(t->hash);
	free(t->srclen);
	free(t->slots);
	free(t);
}

int codetable_column(const struct codetable *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (strcasecmp(t->cells[i], name) == 0)
			return (int)i;
	return -1;
}

const char *codetable_lookup(const struct codetable *t, const char *s, size_t n, int col)
{
	if (col < 0 || (size_t)col >= t->ncols)
		return NULL;
	conv_trim(&s, &n);
	uint32_t h = fnv1a(s, n);
	for (size_t i = h & t->mask; t->slots[i]; i = (i + 1) & t->mask) {
		uint32_t r = t->slots[i];
		if (t->hash[r] == h && t->srclen[r] == n &&
		    memcmp(t->cells[r * t->ncols], s, n) == 0)
			return t->cells[r * t->ncols + (size_t)col];
	}
	if (t->fallback)
		return t->cells[t->fallback * t->ncols + (size_t)col];
	return NULL;
}

const char *codetable_path(const struct codetable *t)
{
	return t->path;
}
