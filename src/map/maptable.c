/*
 * maptable.c: parse and statically check mapping tables.
 *
 * Parsing works on one line at a time with a small cursor (struct lex) that
 * knows its column, so every error can say FILE:LINE:COL. Checking resolves
 * each target path through the profile table of the resource and the
 * datatype table, then compares the FHIR type of the leaf with what the
 * transform chain produces.
 */
#include "core/dhp.h"
#include "core/fileio.h"
#include "map/codetable.h"
#include "map/conv.h"
#include "map/maptable.h"

#include <ctype.h>
#include <dirent.h>

/* Parsing state of one file. */
struct pfile {
	struct mapset *ms;
	const char *file; /* owned by ms->files */
	const char *dir;
	int line;
	struct mstream *stream; /* the @query's stream, once known */
	struct mres **res;	/* blocks of this file, bound to the stream at the end */
	int nres, ares;
	struct operand *keys;
	int nkeys;
	char *table;
	int order;
	int key_line;
	char **messages; /* @message of this file */
	int nmessages;
	struct dhp_error *err;
	/* the datatype transform of the row being parsed (xpn, cwe(...)) */
	struct {
		char *name;
		struct operand *args;
		int nargs, col;
	} dtuse;
	int depth; /* datatype templates being expanded inside each other */
};

struct lex {
	const char *p;
	const char *start; /* beginning of the line, for columns */
};

static int col_of(const struct lex *lx, const char *at)
{
	return (int)(at - lx->start) + 1;
}

static int fail_at(struct pfile *pf, int col, enum dhp_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct pfile *pf, int col, enum dhp_code code, const char *fmt, ...)
{
	char where[256];
	va_list ap;
	snprintf(where, sizeof(where), "%s:%d:%d", pf->file, pf->line, col);
	va_start(ap, fmt);
	dhp_vfail(pf->err, code, where, fmt, ap);
	va_end(ap);
	return -1;
}

static void skip_ws(struct lex *lx)
{
	while (*lx->p == ' ' || *lx->p == '\t')
		lx->p++;
}

static bool at_end(const struct lex *lx)
{
	return !*lx->p || *lx->p == '#';
}

/* A double-quoted literal at lx->p; returns the unescaped text or NULL. */
static char *lex_quoted(struct pfile *pf, struct lex *lx)
{
	const char *q = lx->p;
	struct strbuf sb = STRBUF_INIT;
	for (lx->p++; *lx->p && *lx->p != '"'; lx->p++) {
		if (*lx->p == '\\' && (lx->p[1] == '"' || lx->p[1] == '\\'))
			lx->p++;
		strbuf_addch(&sb, *lx->p);
	}
	if (*lx->p != '"') {
		strbuf_release(&sb);
		fail_at(pf, col_of(lx, q), DHP_ESYNTAX, "unterminated string literal");
		return NULL;
	}
	lx->p++;
	return strbuf_detach(&sb, NULL);
}

/* A bare word: everything up to white space or one of the stop characters. */
static char *lex_word(struct lex *lx, const char *stops)
{
	const char *s = lx->p;
	while (*lx->p && !strchr(" \t#", *lx->p) && !strchr(stops, *lx->p))
		lx->p++;
	return xstrndup(s, (size_t)(lx->p - s));
}

/* One operand: a quoted literal or a bare word (column, unless literal_ok). */
static int lex_operand(struct pfile *pf, struct lex *lx, const char *stops, struct operand *op)
{
	skip_ws(lx);
	memset(op, 0, sizeof(*op));
	op->handle = -1;
	op->line = pf->line;
	op->col = col_of(lx, lx->p);
	if (*lx->p == '"') {
		op->text = lex_quoted(pf, lx);
		return op->text ? 0 : -1;
	}
	op->text = lex_word(lx, stops);
	if (!*op->text) {
		free(op->text);
		op->text = NULL;
		return fail_at(pf, op->col, DHP_ESYNTAX, "expected a value, found '%.20s'",
			       *lx->p ? lx->p : "end of line");
	}
	op->is_col = true;
	return 0;
}

static void operand_free(struct operand *op)
{
	free(op->text);
}

/* Argument list after '(' up to ')'; operands are returned unclassified. */
static int lex_args(struct pfile *pf, struct lex *lx, struct operand **args, int *nargs)
{
	*args = NULL;
	*nargs = 0;
	lx->p++; /* '(' */
	skip_ws(lx);
	if (*lx->p == ')') {
		lx->p++;
		return 0;
	}
	for (;;) {
		struct operand op;
		if (lex_operand(pf, lx, ",)", &op))
			return -1;
		*args = xrealloc(*args, (size_t)(*nargs + 1) * sizeof(**args));
		(*args)[(*nargs)++] = op;
		skip_ws(lx);
		if (*lx->p == ',') {
			lx->p++;
			continue;
		}
		if (*lx->p == ')') {
			lx->p++;
			return 0;
		}
		return fail_at(pf, col_of(lx, lx->p), DHP_ESYNTAX,
			       "expected ',' or ')', found '%.20s'",
			       *lx->p ? lx->p : "end of line");
	}
}

static void args_free(struct operand *args, int n)
{
	for (int i = 0; i < n; i++)
		operand_free(&args[i]);
	free(args);
}

/* ---- conditions ------------------------------------------------------- */

static void cond_free(struct cond *c)
{
	if (!c)
		return;
	operand_free(&c->lhs);
	for (int i = 0; i < c->nvals; i++)
		free(c->vals[i]);
	free(c->vals);
	free(c->lens);
	free(c);
}

static int cond_add_val(struct pfile *pf, struct lex *lx, struct cond *c)
{
	skip_ws(lx);
	if (*lx->p != '"')
		return fail_at(pf, col_of(lx, lx->p), DHP_ESYNTAX,
			       "expected a quoted value in condition, found '%.20s'",
			       *lx->p ? lx->p : "end of line");
	char *v = lex_quoted(pf, lx);
	if (!v)
		return -1;
	c->vals = xrealloc(c->vals, (size_t)(c->nvals + 1) * sizeof(*c->vals));
	c->lens = xrealloc(c->lens, (size_t)(c->nvals + 1) * sizeof(*c->lens));
	c->lens[c->nvals] = strlen(v);
	c->vals[c->nvals++] = v;
	return 0;
}

/* COND: col | !col | col = "v" | col != "v" | col in ("a", "b"); ends at ')' */
static struct cond *parse_cond(struct pfile *pf, struct lex *lx)
{
	struct cond *c = xcalloc(1, sizeof(*c));
	skip_ws(lx);
	c->op = C_PRESENT;
	if (*lx->p == '!') {
		c->op = C_ABSENT;
		lx->p++;
	}
	if (lex_operand(pf, lx, "!=)(", &c->lhs))
		goto bad;
	if (!c->lhs.is_col) {
		fail_at(pf, c->lhs.col, DHP_ESYNTAX,
			"a condition tests a source column, not a literal");
		goto bad;
	}
	skip_ws(lx);
	if (c->op == C_ABSENT || *lx->p == ')' || !*lx->p)
		return c;
	if (lx->p[0] == '=') {
		lx->p++;
		c->op = C_EQ;
		if (cond_add_val(pf, lx, c))
			goto bad;
	} else if (lx->p[0] == '!' && lx->p[1] == '=') {
		lx->p += 2;
		c->op = C_NE;
		if (cond_add_val(pf, lx, c))
			goto bad;
	} else if (strncmp(lx->p, "in", 2) == 0) {
		lx->p += 2;
		skip_ws(lx);
		if (*lx->p != '(') {
			fail_at(pf, col_of(lx, lx->p), DHP_ESYNTAX, "expected '(' after 'in'");
			goto bad;
		}
		lx->p++;
		c->op = C_IN;
		for (;;) {
			if (cond_add_val(pf, lx, c))
				goto bad;
			skip_ws(lx);
			if (*lx->p == ',') {
				lx->p++;
				continue;
			}
			if (*lx->p == ')') {
				lx->p++;
				break;
			}
			fail_at(pf, col_of(lx, lx->p), DHP_ESYNTAX,
				"expected ',' or ')' in 'in' list");
			goto bad;
		}
	} else {
		fail_at(pf, col_of(lx, lx->p), DHP_ESYNTAX,
			"expected '=', '!=', 'in' or ')' in condition, found '%.20s'", lx->p);
		goto bad;
	}
	return c;
bad:
	cond_free(c);
	return NULL;
}

/* when(...) / @when: the lexer is just after the opening '(' or the directive. */
static struct cond *parse_cond_paren(struct pfile *pf, struct lex *lx)
{
	struct cond *c = parse_cond(pf, lx);
	if (!c)
		return NULL;
	skip_ws(lx);
	if (*lx->p != ')') {
		fail_at(pf, col_of(lx, lx->p), DHP_ESYNTAX, "expected ')' to close when(");
		cond_free(c);
		return NULL;
	}
	lx->p++;
	return c;
}

/* ---- transforms ------------------------------------------------------- */

struct xf_def {
	const char *name;
	enum xf_kind kind;
	int min_args, max_args;
};

static const struct xf_def xf_defs[] = {
    {"trim", XF_TRIM, 0, 0},	   {"upper", XF_UPPER, 0, 0},	    {"lower", XF_LOWER, 0, 0},
    {"date", XF_DATE, 0, 0},	   {"datetime", XF_DATETIME, 0, 1}, {"decimal", XF_DECIMAL, 0, 0},
    {"integer", XF_INTEGER, 0, 0}, {"boolean", XF_BOOLEAN, 0, 0},   {"code", XF_CODE, 1, 2},
    {"map", XF_MAP, 1, 64},	   {"concat", XF_CONCAT, 1, 16},    {"default", XF_DEFAULT, 1, 1},
    {"split", XF_SPLIT, 2, 2},	   {"ref", XF_REF, 2, 2},	    {"base64", XF_BASE64, 0, 0},
    {"join", XF_JOIN, 2, 16},
};

static const struct codetable *get_codetable(struct pfile *pf, const struct operand *name)
{
	struct mapset *ms = pf->ms;
	struct codetable *t = hmap_gets(&ms->codetables, name->text);
	if (t)
		return t;
	char file[512];
	snprintf(file, sizeof(file), "codes/%s.csv", name->text);
	char *path = fileio_join(pf->dir, file);
	FILE *probe = fopen(path, "r");
	if (!probe && ms->terminology_dir) {
		free(path);
		snprintf(file, sizeof(file), "%s.csv", name->text);
		path = fileio_join(ms->terminology_dir, file);
		probe = fopen(path, "r");
	}
	if (!probe) {
		fail_at(pf, name->col, DHP_ECODETABLE,
			"unknown code table '%s' (looked for %s/codes/%s.csv%s%s)", name->text,
			pf->dir, name->text, ms->terminology_dir ? " and in " : "",
			ms->terminology_dir ? ms->terminology_dir : "");
		free(path);
		return NULL;
	}
	fclose(probe);
	t = codetable_load(path, pf->err);
	free(path);
	if (t)
		hmap_put(&ms->codetables, name->text, strlen(name->text), t);
	return t;
}

/* KEY and VALUE of map() may be quoted ("a b"=x, M="https://..."): strip the quotes in place. */
static char *unquote(char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s[n - 1] = '\0';
		return s + 1;
	}
	return s;
}

/* Check and prepare the arguments of a transform by kind. */
static int xf_prepare(struct pfile *pf, struct xform *x)
{
	switch (x->kind) {
	case XF_DATETIME:
		if (x->nargs && !conv_tz_valid(x->args[0].text))
			return fail_at(pf, x->args[0].col, DHP_ETRANSFORM,
				       "unknown time zone '%s' (expected an IANA name such as "
				       "Asia/Tashkent)",
				       x->args[0].text);
		if (x->nargs)
			x->args[0].is_col = false;
		return 0;
	case XF_CODE:
		x->table = get_codetable(pf, &x->args[0]);
		if (!x->table)
			return -1;
		x->table_col = 1;
		if (x->nargs == 2) {
			x->table_col = codetable_column(x->table, x->args[1].text);
			if (x->table_col < 0)
				return fail_at(pf, x->args[1].col, DHP_ECODETABLE,
					       "code table '%s' has no column '%s'",
					       x->args[0].text, x->args[1].text);
		}
		return 0;
	case XF_MAP:
		for (int i = 0; i < x->nargs; i++) {
			char *eq = strchr(x->args[i].text, '=');
			if (!eq)
				return fail_at(pf, x->args[i].col, DHP_ETRANSFORM,
					       "map() expects KEY=VALUE pairs, found '%s'",
					       x->args[i].text);
			*eq = '\0';
			char *key = unquote(x->args[i].text), *val = unquote(eq + 1);
			if (streq(key, "*"))
				x->fallback = val;
			else
				hmap_put(&x->pairs, key, strlen(key), val);
		}
		return 0;
	case XF_JOIN:
		x->args[0].is_col = false; /* the separator */
		return 0;
	case XF_SPLIT: {
		char *end;
		long n = strtol(x->args[1].text, &end, 10);
		if (*end || n < 0 || n > 1000)
			return fail_at(pf, x->args[1].col, DHP_ETRANSFORM,
				       "split() expects a part number 0..1000, found '%s'",
				       x->args[1].text);
		x->split_index = (int)n;
		x->args[0].is_col = false;
		x->args[1].is_col = false;
		return 0;
	}
	case XF_REF:
		/* ref(TYPE, "identifier system"): both are names, not columns */
		x->args[0].is_col = false;
		x->args[1].is_col = false;
		if (!isupper((unsigned char)x->args[0].text[0]))
			return fail_at(pf, x->args[0].col, DHP_ETRANSFORM,
				       "ref() expects a resource type such as Patient, found '%s'",
				       x->args[0].text);
		return 0;
	default:
		return 0;
	}
}

static int parse_xform(struct pfile *pf, struct lex *lx, struct xform *x)
{
	memset(x, 0, sizeof(*x));
	x->line = pf->line;
	x->col = col_of(lx, lx->p);
	char *name = lex_word(lx, "(|");
	const struct xf_def *def = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(xf_defs); i++)
		if (streq(xf_defs[i].name, name))
			def = &xf_defs[i];
	if (!def) {
		fail_at(pf, x->col, DHP_ETRANSFORM,
			"unknown transform '%s' (expected trim, upper, lower, date, datetime, "
			"decimal, integer, boolean, code, map, concat, join, default, split, ref, "
			"base64)",
			name);
		free(name);
		return -1;
	}
	free(name);
	x->kind = def->kind;
	if (*lx->p == '(' && lex_args(pf, lx, &x->args, &x->nargs))
		return -1;
	if (x->nargs < def->min_args || x->nargs > def->max_args) {
		if (def->min_args == def->max_args)
			return fail_at(pf, x->col, DHP_ETRANSFORM,
				       "%s() takes %d argument%s, found %d", def->name,
				       def->min_args, def->min_args == 1 ? "" : "s", x->nargs);
		return fail_at(pf, x->col, DHP_ETRANSFORM,
			       "%s() takes %d to %d arguments, found %d", def->name, def->min_args,
			       def->max_args, x->nargs);
	}
	/* Names of tables and columns of code tables are not source columns. */
	if (x->kind == XF_CODE)
		for (int i = 0; i < x->nargs; i++)
			x->args[i].is_col = false;
	if (x->kind == XF_MAP)
		for (int i = 0; i < x->nargs; i++)
			x->args[i].is_col = false;
	return xf_prepare(pf, x);
}

static void xform_free(struct xform *x)
{
	args_free(x->args, x->nargs);
	hmap_clear(&x->pairs);
}

/* ---- target paths ----------------------------------------------------- */

/* The set's copy of element name `name` (which it takes): map.c compares
 * the names of two rows' paths by pointer. */
static const char *intern(struct mapset *ms, char *name)
{
	const char *have = hmap_gets(&ms->names, name);
	if (have) {
		free(name);
		return have;
	}
	hmap_put(&ms->names, name, strlen(name), name);
	return name;
}

static int parse_path(struct pfile *pf, struct lex *lx, struct mrow *row)
{
	const char *s = lx->p;
	row->target = lex_word(lx, "");
	const char *p = row->target;
	while (*p) {
		const char *b = p;
		while (*p && *p != '.' && *p != '[')
			p++;
		if (p == b || !(isalpha((unsigned char)*b) || *b == '_'))
			return fail_at(pf, col_of(lx, s + (b - row->target)), DHP_EPATH,
				       "malformed element path '%s'", row->target);
		char *name = xstrndup(b, (size_t)(p - b));
		struct pstep st = {name, -1};
		if (p[0] == '[' && p[1] == '*' && p[2] == ']') {
			st.index = PSTEP_STAR;
			p += 3;
		} else if (*p == '[') {
			char *end;
			long idx = strtol(p + 1, &end, 10);
			if (end == p + 1 || *end != ']' || idx < 0 || idx > 1000) {
				free(name);
				return fail_at(pf, col_of(lx, s + (p - row->target)), DHP_EPATH,
					       "malformed index in '%s' (expected [0] .. [1000])",
					       row->target);
			}
			st.index = (int)idx;
			p = end + 1;
		}
		st.name = intern(pf->ms, name);
		row->steps = xrealloc(row->steps, (size_t)(row->nsteps + 1) * sizeof(*row->steps));
		row->steps[row->nsteps++] = st;
		if (*p == '.')
			p++;
		else if (*p)
			return fail_at(pf, col_of(lx, s + (p - row->target)), DHP_EPATH,
				       "malformed element path '%s'", row->target);
	}
	return 0;
}

/* ---- directives and rows ---------------------------------------------- */

static struct mres *cur_res(struct pfile *pf)
{
	return pf->nres ? pf->res[pf->nres - 1] : NULL;
}

static int dir_resource(struct pfile *pf, struct lex *lx)
{
	skip_ws(lx);
	int col = col_of(lx, lx->p);
	char *type = lex_word(lx, "");
	skip_ws(lx);
	char *name = at_end(lx) ? xstrdup(type) : lex_word(lx, "");
	if (!isupper((unsigned char)type[0])) {
		free(name);
		int r = fail_at(pf, col, DHP_ESYNTAX,
				"expected a FHIR resource type after @resource, found '%s'", type);
		free(type);
		return r;
	}
	struct mres *r = xcalloc(1, sizeof(*r));
	r->type = type;
	r->name = name;
	r->file = pf->file;
	r->line = pf->line;
	pf->res = xrealloc(pf->res, (size_t)(pf->nres + 1) * sizeof(*pf->res));
	pf->res[pf->nres++] = r;
	struct mapset *ms = pf->ms;
	ms->all = xrealloc(ms->all, (size_t)(ms->nall + 1) * sizeof(*ms->all));
	ms->all[ms->nall++] = r;
	return 0;
}

static int dir_profile(struct pfile *pf, struct lex *lx, struct mres *r)
{
	for (skip_ws(lx); !at_end(lx); skip_ws(lx)) {
		r->profiles =
		    xrealloc(r->profiles, (size_t)(r->nprofiles + 1) * sizeof(*r->profiles));
		r->profiles[r->nprofiles++] = lex_word(lx, "");
	}
	if (!r->nprofiles)
		return fail_at(pf, col_of(lx, lx->p), DHP_ESYNTAX, "@profile needs a profile URL");
	return 0;
}

static int dir_key(struct pfile *pf, struct lex *lx)
{
	pf->key_line = pf->line;
	for (;;) {
		struct operand op;
		if (lex_operand(pf, lx, ",", &op))
			return -1;
		pf->keys = xrealloc(pf->keys, (size_t)(pf->nkeys + 1) * sizeof(*pf->keys));
		pf->keys[pf->nkeys++] = op;
		skip_ws(lx);
		if (*lx->p != ',')
			break;
		lx->p++;
	}
	return 0;
}

static struct mstream *find_stream(struct mapset *ms, const char *query)
{
	for (int i = 0; i < ms->nstreams; i++)
		if (streq(ms->streams[i].query_file, query))
			return &ms->streams[i];
	return NULL;
}

/* Bind the file to the stream named `key` (taking the string), creating it. */
static void use_stream(struct pfile *pf, char *key)
{
	struct mapset *ms = pf->ms;
	pf->stream = find_stream(ms, key);
	if (pf->stream) {
		free(key);
		return;
	}
	ms->streams = xrealloc(ms->streams, (size_t)(ms->nstreams + 1) * sizeof(*ms->streams));
	pf->stream = &ms->streams[ms->nstreams++];
	memset(pf->stream, 0, sizeof(*pf->stream));
	pf->stream->query_file = key;
	pf->stream->order = 100;
}

static int dir_query(struct pfile *pf, struct lex *lx)
{
	if (pf->stream && pf->stream->by_message)
		return fail_at(pf, 1, DHP_ESYNTAX,
			       "a table has either @query or @message, not both");
	skip_ws(lx);
	int col = col_of(lx, lx->p);
	char *rel = *lx->p == '"' ? lex_quoted(pf, lx) : lex_word(lx, "");
	if (!rel || !*rel) {
		free(rel);
		return fail_at(pf, col, DHP_ESYNTAX, "@query needs a .sql file name");
	}
	char *path = fileio_join(pf->dir, rel);
	free(rel);
	FILE *f = fopen(path, "r");
	if (!f) {
		int r = fail_at(pf, col, DHP_EIO, "cannot open query file '%s'", path);
		free(path);
		return r;
	}
	fclose(f);
	use_stream(pf, path);
	return 0;
}

/* @message ADT^A01 ADT^A04 ...: tables of message sources share one stream. */
static int dir_message(struct pfile *pf, struct lex *lx)
{
	for (skip_ws(lx); !at_end(lx); skip_ws(lx)) {
		pf->messages = xrealloc(pf->messages, (size_t)(pf->nmessages + 1) * sizeof(char *));
		pf->messages[pf->nmessages++] = lex_word(lx, "");
	}
	if (!pf->nmessages)
		return fail_at(pf, col_of(lx, lx->p), DHP_ESYNTAX,
			       "@message needs message types such as ADT^A01 or ORU^*");
	if (pf->stream && !pf->stream->by_message)
		return fail_at(pf, 1, DHP_ESYNTAX,
			       "a table has either @query or @message, not both");
	use_stream(pf, xstrdup("@message"));
	pf->stream->by_message = true;
	if (!pf->table)
		pf->table = xstrdup("hl7v2");
	return 0;
}

static int parse_directive(struct pfile *pf, struct lex *lx)
{
	const char *at = lx->p;
	char *name = lex_word(lx, "");
	int rc = 0;
	struct mres *r = cur_res(pf);
	bool file_level = !r;
	if (streq(name, "@resource")) {
		rc = dir_resource(pf, lx);
	} else if (streq(name, "@profile") && r) {
		rc = dir_profile(pf, lx, r);
	} else if (streq(name, "@when") && r) {
		skip_ws(lx);
		r->when = parse_cond(pf, lx);
		rc = r->when ? 0 : -1;
	} else if (streq(name, "@for-each") && r) {
		skip_ws(lx);
		free(r->foreach);
		r->foreach = lex_word(lx, "");
		r->foreach_line = pf->line;
		if (!*r->foreach)
			rc = fail_at(pf, col_of(lx, at), DHP_ESYNTAX,
				     "@for-each needs a segment or group name such as OBX");
	} else if (streq(name, "@query") && file_level) {
		rc = dir_query(pf, lx);
	} else if (streq(name, "@message") && file_level) {
		rc = dir_message(pf, lx);
	} else if (streq(name, "@key") && file_level) {
		rc = dir_key(pf, lx);
	} else if (streq(name, "@table") && file_level) {
		skip_ws(lx);
		free(pf->table);
		pf->table = lex_word(lx, "");
	} else if (streq(name, "@order") && file_level) {
		skip_ws(lx);
		char *v = lex_word(lx, ""), *end;
		pf->order = (int)strtol(v, &end, 10);
		if (!*v || *end)
			rc = fail_at(pf, col_of(lx, at), DHP_ESYNTAX,
				     "@order expects a number, found '%s'", v);
		free(v);
	} else if (streq(name, "@profile") || streq(name, "@when") || streq(name, "@for-each")) {
		rc = fail_at(pf, col_of(lx, at), DHP_ESYNTAX, "%s must follow a @resource line",
			     name);
	} else if (streq(name, "@query") || streq(name, "@key") || streq(name, "@table") ||
		   streq(name, "@order") || streq(name, "@message")) {
		rc = fail_at(pf, col_of(lx, at), DHP_ESYNTAX,
			     "%s must come before the first @resource line", name);
	} else {
		rc = fail_at(pf, col_of(lx, at), DHP_ESYNTAX,
			     "unknown directive '%s' (expected @query, @message, @key, @table, "
			     "@order, @resource, @profile, @for-each or @when)",
			     name);
	}
	free(name);
	if (rc == 0) {
		skip_ws(lx);
		if (!at_end(lx))
			rc = fail_at(pf, col_of(lx, lx->p), DHP_ESYNTAX, "unexpected text '%.20s'",
				     lx->p);
	}
	return rc;
}

static int parse_source(struct pfile *pf, struct lex *lx, struct mrow *row)
{
	skip_ws(lx);
	int col = col_of(lx, lx->p);
	if (at_end(lx))
		return fail_at(pf, col, DHP_ESYNTAX, "expected a source after the target '%s'",
			       row->target);
	if (lx->p[0] == '-' && (!lx->p[1] || strchr(" \t#", lx->p[1]))) {
		lx->p++;
		row->src = S_NONE;
		return 0;
	}
	if (strncmp(lx->p, "ref(", 4) == 0) {
		lx->p += 3;
		struct operand *args;
		int n;
		if (lex_args(pf, lx, &args, &n))
			return -1;
		if (n < 1 || n > 2) {
			args_free(args, n);
			return fail_at(pf, col, DHP_ESYNTAX,
				       "ref() takes a resource type and an optional name");
		}
		/* Keep the type/name in operand.text as "TYPE NAME" until check time. */
		char buf[256];
		snprintf(buf, sizeof(buf), "%s %s", args[0].text,
			 n == 2 ? args[1].text : args[0].text);
		args_free(args, n);
		row->src = S_LOCALREF;
		row->operand.text = xstrdup(buf);
		row->operand.col = col;
		row->operand.line = pf->line;
		row->operand.handle = -1;
		return 0;
	}
	if (lex_operand(pf, lx, "|", &row->operand))
		return -1;
	row->src = row->operand.is_col ? S_COLUMN : S_LITERAL;
	return 0;
}

/* ---- datatype transforms ---------------------------------------------- */

/* The template named like the transform word at s ("xpn", "cwe(" ...),
 * for FHIR type `type`, or any of that name when type is NULL. */
static const struct dtmpl *find_dtmpl(const struct mapset *ms, const char *s, const char *type)
{
	size_t n = 0;
	while (isalnum((unsigned char)s[n]))
		n++;
	for (int i = 0; n && i < ms->ndts; i++) {
		const struct dtmpl *d = &ms->dts[i];
		if (strlen(d->name) == n && strncasecmp(d->name, s, n) == 0 &&
		    (!type || streq(d->type, type)))
			return d;
	}
	return NULL;
}

/* Built-in transforms win over datatype names. */
static bool builtin_xform(const char *s)
{
	size_t n = strcspn(s, "(| \t#");
	for (size_t i = 0; i < ARRAY_SIZE(xf_defs); i++)
		if (strlen(xf_defs[i].name) == n && strncmp(xf_defs[i].name, s, n) == 0)
			return true;
	return false;
}

static void dtuse_clear(struct pfile *pf)
{
	free(pf->dtuse.name);
	args_free(pf->dtuse.args, pf->dtuse.nargs);
	memset(&pf->dtuse, 0, sizeof(pf->dtuse));
}

static int parse_dtuse(struct pfile *pf, struct lex *lx, const struct mrow *row)
{
	const char *at = lx->p;
	if (row->nxf || pf->dtuse.name)
		return fail_at(pf, col_of(lx, at), DHP_ETRANSFORM,
			       "a datatype transform comes alone: no other transform before it");
	pf->dtuse.col = col_of(lx, at);
	pf->dtuse.name = lex_word(lx, "(|");
	if (*lx->p == '(')
		return lex_args(pf, lx, &pf->dtuse.args, &pf->dtuse.nargs);
	return 0;
}

/* Join a relative HL7 path (parts, e.g. {4, 1} for ".4.1") to the path P a
 * datatype row reads. A composite used inside a component has its parts as
 * subcomponents, and one inside a subcomponent has only its first part:
 * ".a.1" below a component is P.a, ".1" below a subcomponent is P itself;
 * anything deeper does not exist (false: the template row is dropped). */
static bool join_path(const char *p, const int *parts, int nparts, struct strbuf *out)
{
	const char *dash = strchr(p, '-');
	int level = 0;
	for (const char *q = dash ? dash : p; *q; q++)
		level += *q == '.';
	strbuf_addstr(out, p);
	for (int i = 0; i < nparts; i++) {
		if (level + i < 2)
			strbuf_addf(out, ".%d", parts[i]);
		else if (parts[i] != 1)
			return false;
	}
	return true;
}

/* Template text with its references resolved: "." and ".N[.M]" name parts
 * of the source path, "$K" and "$K.N[.M]" the K-th argument of the
 * transform. Quoted literals are copied as they are. False when a reference
 * cannot be resolved (an argument not given, a part too deep). */
static bool subst_refs(const char *t, const struct operand *src, const struct operand *args,
		       int nargs, struct strbuf *out)
{
	bool boundary = true;
	while (*t) {
		if (*t == '"') {
			const char *q = t + 1;
			while (*q && *q != '"')
				q += q[0] == '\\' && q[1] ? 2 : 1;
			if (*q)
				q++;
			strbuf_add(out, t, (size_t)(q - t));
			t = q;
			boundary = false;
			continue;
		}
		const struct operand *base = NULL;
		const char *r = t;
		if (boundary && *t == '$' && isdigit((unsigned char)t[1])) {
			int k = t[1] - '0';
			if (k < 1 || k > nargs)
				return false;
			base = &args[k - 1];
			r = t + 2;
		} else if (boundary && *t == '.' &&
			   (isdigit((unsigned char)t[1]) || !t[1] || strchr(" \t),|=!", t[1]))) {
			base = src;
		}
		if (!base) {
			boundary = strchr(" \t(,|!=", *t) != NULL;
			strbuf_addch(out, *t++);
			continue;
		}
		int parts[8], n = 0;
		while (*r == '.' && isdigit((unsigned char)r[1]) && n < 8) {
			char *end;
			parts[n++] = (int)strtol(r + 1, &end, 10);
			r = end;
		}
		if (base == src && !n)
			r++; /* "." alone: the path itself */
		if (!base->is_col) {
			if (n)
				return false; /* a literal has no parts */
			strbuf_addch(out, '"');
			for (const char *c = base->text; *c; c++) {
				if (*c == '"' || *c == '\\')
					strbuf_addch(out, '\\');
				strbuf_addch(out, *c);
			}
			strbuf_addch(out, '"');
		} else if (!join_path(base->text, parts, n, out)) {
			return false;
		}
		t = r;
		boundary = false;
	}
	return true;
}

static int parse_row(struct pfile *pf, struct lex *lx);
static int resolve_profiles(struct pfile *pf, struct mres *r);
static int check_path(struct pfile *pf, const struct mres *r, struct mrow *row);

/* Replace the row just parsed (the last of r), which uses a datatype
 * transform, by the rows of the template for its target's type. Its when()
 * stays as a guard over those rows only. */
static int expand_dtuse(struct pfile *pf, struct mres *r)
{
	struct mrow *row = &r->rows[r->nrows - 1];
	int at = r->nrows - 1, col = row->col, rc = 0;
	const char *name = pf->dtuse.name;
	if (row->src != S_COLUMN)
		return fail_at(pf, pf->dtuse.col, DHP_ETRANSFORM,
			       "%s() reads a source path (such as PID-5[*]), not %s", name,
			       row->src == S_LITERAL ? "a literal" : "ref() or '-'");
	if (row->absent)
		return fail_at(pf, pf->dtuse.col, DHP_ETRANSFORM,
			       "%s() fills its parts one by one: absent() cannot go with it", name);
	if (pf->depth >= 4)
		return fail_at(pf, pf->dtuse.col, DHP_ETRANSFORM,
			       "datatype templates nest too deeply at %s() (one uses itself?)",
			       name);
	if (resolve_profiles(pf, r) || check_path(pf, r, row))
		return -1;
	const struct dtmpl *d = find_dtmpl(pf->ms, name, row->type);
	if (!d) {
		struct strbuf types = STRBUF_INIT;
		for (int i = 0; i < pf->ms->ndts; i++)
			if (strcasecmp(pf->ms->dts[i].name, name) == 0)
				strbuf_addf(&types, "%s%s", types.len ? ", " : "",
					    pf->ms->dts[i].type);
		rc = fail_at(pf, pf->dtuse.col, DHP_ETYPE,
			     "'%s' is a %s, but datatype %s() fills %s", row->target, row->type,
			     name, types.buf);
		strbuf_release(&types);
		return rc;
	}
	/* what the template rows need of the row, before r->rows moves */
	char *target = xstrdup(row->target);
	struct operand src = row->operand;
	row->operand.text = NULL;
	if (row->when) {
		row->src = S_NONE; /* the guard of the expansion */
		row->guard = true;
	} else {
		free(row->target);
		free(row->steps);
		free(row->elem_path);
		r->nrows--;
		at = -1;
	}
	struct operand *args = pf->dtuse.args;
	int nargs = pf->dtuse.nargs;
	char *dname = pf->dtuse.name;
	memset(&pf->dtuse, 0, sizeof(pf->dtuse));
	int first = r->nrows;
	pf->depth++;
	struct strbuf text = STRBUF_INIT;
	for (int i = 0; i < d->nrows && rc == 0; i++) {
		const char *t = d->rows[i];
		size_t tn = strcspn(t, " \t");
		strbuf_reset(&text);
		strbuf_addstr(&text, target);
		if (tn > 1)
			strbuf_add(&text, t, tn);
		strbuf_addch(&text, ' ');
		if (!subst_refs(t + tn, &src, args, nargs, &text))
			continue; /* refers to a part this use does not have */
		struct lex lx = {text.buf, text.buf};
		int before = r->nrows;
		rc = parse_row(pf, &lx);
		for (int k = before; k < r->nrows; k++) {
			r->rows[k].col = col;
			if (!r->rows[k].origin)
				r->rows[k].origin = d->origins[i];
		}
		if (rc)
			dhp_detail(pf->err, "in the row made by %s() from %s: %s", dname,
				   d->origins[i], text.buf);
	}
	pf->depth--;
	for (int k = first; k < r->nrows; k++)
		if (r->rows[k].guard && !r->rows[k].scope_end)
			r->rows[k].scope_end = r->nrows;
	if (at >= 0)
		r->rows[at].scope_end = r->nrows;
	strbuf_release(&text);
	free(target);
	operand_free(&src);
	args_free(args, nargs);
	free(dname);
	return rc;
}

static int parse_chain(struct pfile *pf, struct lex *lx, struct mrow *row)
{
	for (;;) {
		skip_ws(lx);
		if (at_end(lx))
			return 0;
		if (*lx->p == '|') {
			lx->p++;
			skip_ws(lx);
		}
		const char *at = lx->p;
		if (strncmp(at, "when(", 5) == 0) {
			lx->p += 5;
			if (row->when)
				return fail_at(pf, col_of(lx, at), DHP_ESYNTAX,
					       "only one when() per row");
			row->when = parse_cond_paren(pf, lx);
			if (!row->when)
				return -1;
			continue;
		}
		if (strncmp(at, "absent(", 7) == 0) {
			lx->p += 7;
			skip_ws(lx);
			free(row->absent);
			row->absent = lex_word(lx, ")");
			skip_ws(lx);
			if (*lx->p != ')' || !*row->absent)
				return fail_at(pf, col_of(lx, at), DHP_ESYNTAX,
					       "absent() expects one Data Absent Reason code");
			lx->p++;
			continue;
		}
		if (!builtin_xform(at) && find_dtmpl(pf->ms, at, NULL)) {
			if (parse_dtuse(pf, lx, row))
				return -1;
			continue;
		}
		if (pf->dtuse.name)
			return fail_at(pf, col_of(lx, at), DHP_ETRANSFORM,
				       "datatype transform %s() comes alone: no other transform "
				       "after it",
				       pf->dtuse.name);
		row->xf = xrealloc(row->xf, (size_t)(row->nxf + 1) * sizeof(*row->xf));
		if (parse_xform(pf, lx, &row->xf[row->nxf])) {
			xform_free(&row->xf[row->nxf]);
			return -1;
		}
		row->nxf++;
	}
}

static const char *const dar_codes[] = {
    "unknown",	    "asked-unknown",	 "temp-unknown",      "not-asked",     "asked-declined",
    "masked",	    "not-applicable",	 "unsupported",	      "as-text",       "error",
    "not-a-number", "negative-infinity", "positive-infinity", "not-performed", "not-permitted",
};

static int parse_row(struct pfile *pf, struct lex *lx)
{
	struct mres *r = cur_res(pf);
	if (!r)
		return fail_at(pf, col_of(lx, lx->p), DHP_ESYNTAX,
			       "mapping row before any @resource line");
	if (r->nrows == r->arows) {
		r->arows = r->arows ? r->arows * 2 : 16;
		r->rows = xrealloc(r->rows, (size_t)r->arows * sizeof(*r->rows));
	}
	struct mrow *row = &r->rows[r->nrows++];
	memset(row, 0, sizeof(*row));
	row->line = pf->line;
	row->col = col_of(lx, lx->p);
	row->operand.handle = -1;
	if (parse_path(pf, lx, row) || parse_source(pf, lx, row) || parse_chain(pf, lx, row)) {
		dtuse_clear(pf);
		return -1;
	}
	if (pf->dtuse.name) {
		int rc = expand_dtuse(pf, r);
		dtuse_clear(pf); /* what expand_dtuse did not take over */
		return rc;
	}
	if (row->absent) {
		bool ok = false;
		for (size_t i = 0; i < ARRAY_SIZE(dar_codes); i++)
			ok |= streq(dar_codes[i], row->absent);
		if (!ok)
			return fail_at(
			    pf, row->col, DHP_ESYNTAX,
			    "absent(%s): not a Data Absent Reason code (expected unknown, "
			    "asked-unknown, not-asked, masked, ...)",
			    row->absent);
	}
	row->guard = row->src == S_NONE && row->when;
	return 0;
}

/* ---- checking ---------------------------------------------------------- */

static bool type_is(const char *t, const char *const *set)
{
	for (; *set; set++)
		if (streq(t, *set))
			return true;
	return false;
}

static const char *const string_like[] = {"string", "code",	"uri", "url",  "canonical",
					  "id",	    "markdown", "oid", "uuid", "base64Binary",
					  "xhtml",  "time",	NULL};
static const char *const int_like[] = {"integer", "positiveInt", "unsignedInt", "integer64", NULL};

/* Find the profile element for `name` under `prefix`, following choice types:
 * valueQuantity -> value[x] typed Quantity. Sets *type. */
static const struct pelem *find_elem(const struct profile *p, const char *prefix, const char *name,
				     const char **type, struct strbuf *path)
{
	strbuf_reset(path);
	strbuf_addf(path, "%s.%s", prefix, name);
	const struct pelem *e = profile_elem(p, path->buf, path->len);
	if (e) {
		*type = e->ntypes ? e->types[0] : "BackboneElement";
		return e;
	}
	size_t n = strlen(name);
	for (size_t k = n - 1; k > 0; k--) {
		if (!isupper((unsigned char)name[k]))
			continue;
		strbuf_reset(path);
		strbuf_addf(path, "%s.%.*s[x]", prefix, (int)k, name);
		e = profile_elem(p, path->buf, path->len);
		if (!e)
			continue;
		for (int t = 0; t < e->ntypes; t++) {
			const char *ty = e->types[t];
			if (tolower((unsigned char)ty[0]) == tolower((unsigned char)name[k]) &&
			    streq(ty + 1, name + k + 1)) {
				*type = ty;
				return e;
			}
		}
		return NULL;
	}
	return NULL;
}

static bool is_complex(const char *type)
{
	return !fhir_is_primitive(type);
}

/* Resolve the row's target through the profile and datatypes; set elem_path, type. */
static int check_path(struct pfile *pf, const struct mres *r, struct mrow *row)
{
	const struct profile *prof = r->tabs[0];
	const struct profile *dt = pf->ms->profiles.datatypes;
	const struct profile *cur = prof;
	struct strbuf prefix = STRBUF_INIT, path = STRBUF_INIT;
	strbuf_addstr(&prefix, r->type);
	const char *type = r->type;
	int rc = 0;
	for (int i = 0; i < row->nsteps && rc == 0; i++) {
		struct pstep *st = &row->steps[i];
		const struct pelem *e = find_elem(cur, prefix.buf, st->name, &type, &path);
		if (!e && (streq(st->name, "extension") || streq(st->name, "id"))) {
			/* every element inherits Element.id and Element.extension */
			e = find_elem(dt, "Element", st->name, &type, &path);
			if (e && cur == prof) {
				free(row->elem_path);
				row->elem_path = NULL;
				cur = dt; /* not a profile element: no profile path beyond here */
			}
		}
		if (strchr(st->name, ':')) {
			rc = fail_at(pf, row->col, DHP_EPATH,
				     "'%s': slice names are not part of a target path; write the "
				     "element with an index and fill the slice's fixed values",
				     row->target);
			break;
		}
		if (!e) {
			rc = fail_at(pf, row->col, DHP_EPATH,
				     "unknown element '%s' in '%s' (no %s.%s in %s)", st->name,
				     row->target, prefix.buf, st->name,
				     cur == dt	? "the FHIR datatypes"
				     : cur->url ? cur->url
						: cur->file);
			break;
		}
		if (st->index == PSTEP_STAR && !pelem_is_array(e))
			rc =
			    fail_at(pf, row->col, DHP_EPATH,
				    "'%s' is not repeating but '%s' has [*]", e->path, row->target);
		else if (st->index == -1 && pelem_is_array(e))
			st->index = 0; /* a repeating element without index means [0] */
		else if (st->index == 0 && !pelem_is_array(e))
			st->index = -1; /* [0] on a single element is the element itself */
		if (st->index > 0 && e->max == 1)
			rc = fail_at(pf, row->col, DHP_EPATH,
				     "'%s' is not repeating (max 1) but '%s' indexes it [%d]",
				     e->path, row->target, st->index);
		if (e->max == 0)
			rc = fail_at(pf, row->col, DHP_EPATH,
				     "'%s' is prohibited by the profile (max 0)", e->path);
		if (cur == prof && e->path[0]) {
			free(row->elem_path);
			row->elem_path = xstrdup(e->path);
		}
		if (i + 1 == row->nsteps)
			break;
		/* descend */
		if (type[0] == '@') {
			strbuf_reset(&prefix);
			strbuf_addstr(&prefix, type + 1);
		} else if (streq(type, "BackboneElement") || streq(type, "Element")) {
			strbuf_reset(&prefix);
			strbuf_addstr(&prefix, e->path);
		} else if (is_complex(type)) {
			cur = dt;
			strbuf_reset(&prefix);
			strbuf_addstr(&prefix, type);
		} else {
			rc =
			    fail_at(pf, row->col, DHP_EPATH, "'%s' is a %s and has no element '%s'",
				    e->path, type, row->steps[i + 1].name);
		}
	}
	row->type = type;
	strbuf_release(&prefix);
	strbuf_release(&path);
	return rc;
}

/* What the chain produces, or -1 with an error when a transform cannot take its input. */
static int check_chain(struct pfile *pf, struct mrow *row)
{
	enum vkind k = row->src == S_LOCALREF ? K_REFERENCE : K_STRING;
	for (int i = 0; i < row->nxf; i++) {
		const struct xform *x = &row->xf[i];
		if (k == K_REFERENCE)
			return fail_at(
			    pf, x->col, DHP_ETYPE,
			    "a transform cannot follow a reference (ref() gives a Reference)");
		switch (x->kind) {
		case XF_DATE:
			k = K_DATE;
			break;
		case XF_DATETIME:
			k = K_DATETIME;
			break;
		case XF_DECIMAL:
			k = K_DECIMAL;
			break;
		case XF_INTEGER:
			k = K_INTEGER;
			break;
		case XF_BOOLEAN:
			k = K_BOOLEAN;
			break;
		case XF_REF:
			k = K_REFERENCE;
			break;
		case XF_DEFAULT:
			break;
		default:
			k = K_STRING;
			break;
		}
	}
	row->out = k;
	return 0;
}

/* A literal with no transforms must already be a valid value of the target type. */
static int check_literal(struct pfile *pf, struct mrow *row)
{
	const char *t = row->type, *s = row->operand.text;
	char why[CONV_WHY_MAX];
	struct strbuf sb = STRBUF_INIT;
	int rc = 0;
	bool b = false;
	if (streq(t, "date")) {
		rc = conv_date(s, strlen(s), &sb, why);
		row->out = K_DATE;
	} else if (streq(t, "dateTime") || streq(t, "instant")) {
		rc = conv_datetime(s, strlen(s), NULL, &sb, why);
		row->out = K_DATETIME;
	} else if (streq(t, "decimal")) {
		rc = conv_decimal(s, strlen(s), &sb, why);
		row->out = K_DECIMAL;
	} else if (type_is(t, int_like)) {
		rc = conv_integer(s, strlen(s), &sb, why);
		row->out = K_INTEGER;
	} else if (streq(t, "boolean")) {
		rc = conv_boolean(s, strlen(s), &b, why);
		row->out = K_BOOLEAN;
	}
	if (rc == 0 && row->out == K_BOOLEAN)
		strbuf_addstr(&sb, b ? "true" : "false");
	if (rc == 0 && sb.len) {
		/* emit the normalised form ("12,5" is 12.5 in JSON) */
		free(row->operand.text);
		row->operand.text = strbuf_detach(&sb, NULL);
	}
	strbuf_release(&sb);
	if (rc)
		return fail_at(pf, row->operand.col, DHP_ETYPE, "literal for %s (%s): %s",
			       row->elem_path, t, why);
	return 0;
}

static const char *kind_name(enum vkind k)
{
	static const char *const names[] = {"text",	  "a date",    "a dateTime", "a decimal",
					    "an integer", "a boolean", "a Reference"};
	return names[k];
}

/* The transform a target type needs, for the hint in messages. */
static const char *needed_transform(const char *t)
{
	if (streq(t, "date"))
		return "date";
	if (streq(t, "dateTime") || streq(t, "instant"))
		return "datetime";
	if (streq(t, "decimal"))
		return "decimal";
	if (type_is(t, int_like))
		return "integer";
	if (streq(t, "boolean"))
		return "boolean";
	return NULL;
}

static int check_types(struct pfile *pf, struct mrow *row)
{
	const char *t = row->type;
	if (row->src == S_NONE) {
		if (!row->when && !row->absent)
			return fail_at(pf, row->col, DHP_ESYNTAX,
				       "row for '%s' has no source: '-' needs when() or absent()",
				       row->target);
		return 0;
	}
	if (check_chain(pf, row))
		return -1;
	if (row->src == S_LITERAL && row->nxf == 0)
		return check_literal(pf, row);
	bool ok;
	enum vkind k = row->out;
	if (streq(t, "Reference"))
		ok = k == K_REFERENCE;
	else if (k == K_REFERENCE)
		ok = false;
	else if (streq(t, "date"))
		ok = k == K_DATE;
	else if (streq(t, "dateTime"))
		ok = k == K_DATETIME || k == K_DATE;
	else if (streq(t, "instant"))
		ok = k == K_DATETIME;
	else if (streq(t, "decimal"))
		ok = k == K_DECIMAL || k == K_INTEGER;
	else if (type_is(t, int_like))
		ok = k == K_INTEGER;
	else if (streq(t, "boolean"))
		ok = k == K_BOOLEAN;
	else if (type_is(t, string_like))
		ok = true;
	else
		return fail_at(
		    pf, row->col, DHP_ETYPE,
		    "'%s' is a %s: map its parts (e.g. '%s.%s') instead of the whole element",
		    row->target, t, row->target,
		    streq(t, "CodeableConcept") ? "coding[0].code"
		    : streq(t, "Identifier")	? "value"
		    : streq(t, "Quantity")	? "value"
		    : streq(t, "Period")	? "start"
		    : streq(t, "HumanName")	? "family"
						: "...");
	if (ok)
		return 0;
	const char *need = needed_transform(t);
	int col = row->nxf ? row->xf[row->nxf - 1].col : row->operand.col;
	if (streq(t, "Reference"))
		return fail_at(
		    pf, col, DHP_ETYPE,
		    "'%s' is a Reference: use ref(TYPE) for a resource of the same record "
		    "or the transform ref(TYPE, \"identifier system\")",
		    row->target);
	if (need)
		return fail_at(pf, col, DHP_ETYPE, "'%s' is a %s but the row gives %s%s%s%s",
			       row->target, t, kind_name(k), " (add the '", need, "' transform)");
	return fail_at(pf, col, DHP_ETYPE, "'%s' is a %s but the row gives %s", row->target, t,
		       kind_name(k));
}

static bool is_prefix_path(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);
	return strncmp(prefix, path, n) == 0 && (path[n] == '.' || path[n] == '[');
}

static bool op_star(const struct operand *op)
{
	return op && op->is_col && op->text && strstr(op->text, "[*]");
}

/* A [*] in the target repeats the row over the repetitions of a [*] source
 * path: the row's own, its when(), or a guard's over it. */
static int check_star(struct pfile *pf, const struct mres *r, struct mrow *row)
{
	int nstar = 0;
	for (int s = 0; s < row->nsteps; s++)
		nstar += row->steps[s].index == PSTEP_STAR;
	const struct operand *src = NULL;
	if (op_star(&row->operand))
		src = &row->operand;
	else if (row->when && op_star(&row->when->lhs))
		src = &row->when->lhs;
	for (int g = 0; !src && g < row->nguards; g++) {
		const struct cond *c = r->rows[row->guards[g]].when;
		if (c && op_star(&c->lhs))
			src = &c->lhs;
	}
	if (nstar > 1)
		return fail_at(pf, row->col, DHP_EPATH, "'%s': only one [*] per target",
			       row->target);
	if (nstar && !src)
		return fail_at(pf, row->col, DHP_EPATH,
			       "'%s' has [*] but no source path with [*] gives the repetitions",
			       row->target);
	if (!nstar && op_star(&row->operand))
		return fail_at(pf, row->operand.col, DHP_EPATH,
			       "'%s' reads repetitions ([*]) into '%s', which has no [*]",
			       row->operand.text, row->target);
	row->star_src = nstar ? src : NULL;
	return 0;
}

/* The profile tables of a resource block (its @profile, else the default
 * UZ Core profile of its type); errors are located at the @resource line. */
static int resolve_profiles(struct pfile *pf, struct mres *r)
{
	struct profiles *ps = &pf->ms->profiles;
	if (r->tabs)
		return 0;
	int saved_line = pf->line, rc = 0;
	pf->line = r->line;
	if (!r->nprofiles) {
		const struct profile *p = profiles_default(ps, r->type);
		if (!p)
			return fail_at(pf, 1, DHP_EPATH,
				       "no UZ Core profile table for resource type '%s' (in %s); "
				       "name one with @profile",
				       r->type, ps->dir);
		r->profiles = xmalloc(sizeof(*r->profiles));
		r->profiles[0] = xstrdup(p->url);
		r->nprofiles = 1;
	}
	r->tabs = xcalloc((size_t)r->nprofiles, sizeof(*r->tabs));
	for (int i = 0; i < r->nprofiles && rc == 0; i++) {
		r->tabs[i] = profiles_by_url(ps, r->profiles[i]);
		if (!r->tabs[i])
			rc = fail_at(pf, 1, DHP_EPATH, "unknown profile '%s' (no table in %s)",
				     r->profiles[i], ps->dir);
		else if (!streq(r->tabs[i]->resource, r->type))
			rc = fail_at(pf, 1, DHP_EPATH, "profile '%s' constrains %s, not %s",
				     r->profiles[i], r->tabs[i]->resource, r->type);
	}
	pf->line = saved_line;
	return rc;
}

/* What map.c would otherwise work out for every value: the target's type
 * class and the required binding of a code. */
static void row_flags(const struct mres *r, struct mrow *row)
{
	const char *t = row->type;
	row->uri_like = streq(t, "uri") || streq(t, "url") || streq(t, "canonical");
	row->instant = streq(t, "instant");
	row->binding = NULL;
	if (!row->elem_path || !streq(t, "code"))
		return;
	const struct pelem *e = NULL;
	for (int i = 0; i < r->nprofiles && !e; i++)
		e = profile_elem(r->tabs[i], row->elem_path, strlen(row->elem_path));
	if (e && e->codes.count)
		row->binding = e;
}

/* Does guard row g cover row i? A guard covers the rows under its target;
 * one made by a datatype transform only those of its own expansion. */
static bool guard_covers(const struct mres *r, int g, int i)
{
	const struct mrow *gr = &r->rows[g];
	const char *t = r->rows[i].target;
	if (g == i || !gr->guard)
		return false;
	if (!gr->scope_end)
		return is_prefix_path(gr->target, t);
	/* a datatype's rows may fill the guarded element itself (dtm into a dateTime) */
	return i > g && i < gr->scope_end &&
	       (streq(gr->target, t) || is_prefix_path(gr->target, t));
}

/* A datatype guard whose condition does not depend on the repetition and
 * that covers every row of its range lets map.c skip the range at once
 * (most of a result's value rows are for the value types it is not). */
static void set_skip(struct mres *r, int g)
{
	struct mrow *gr = &r->rows[g];
	gr->skip_to = 0;
	if (!gr->guard || !gr->scope_end || op_star(&gr->when->lhs))
		return;
	for (int i = g + 1; i < gr->scope_end; i++)
		if (!guard_covers(r, g, i))
			return;
	gr->skip_to = gr->scope_end;
}

static int check_resource(struct pfile *pf, struct mres *r)
{
	int saved_line = pf->line;
	if (resolve_profiles(pf, r))
		return -1;
	for (int i = 0; i < r->nrows; i++) {
		struct mrow *row = &r->rows[i];
		pf->line = row->line;
		if (check_path(pf, r, row) || check_types(pf, row)) {
			if (row->origin)
				dhp_detail(pf->err, "in a row made from %s", row->origin);
			return -1;
		}
		row_flags(r, row);
		for (int g = 0; g < r->nrows; g++)
			if (guard_covers(r, g, i)) {
				row->guards =
				    xrealloc(row->guards, (size_t)(row->nguards + 1) * sizeof(int));
				row->guards[row->nguards++] = g;
			}
		if (check_star(pf, r, row)) {
			if (row->origin)
				dhp_detail(pf->err, "in a row made from %s", row->origin);
			return -1;
		}
	}
	for (int g = 0; g < r->nrows; g++)
		set_skip(r, g);
	char idpath[160];
	int n = snprintf(idpath, sizeof(idpath), "%s.identifier", r->type);
	r->id_elem = profile_elem(r->tabs[0], idpath, (size_t)n < sizeof(idpath) ? (size_t)n : 0);
	pf->line = saved_line;
	return 0;
}

/* Bind a parsed file's resources and key to its stream. */
static int attach_file(struct pfile *pf)
{
	pf->line = 1;
	if (!pf->stream)
		return fail_at(pf, 1, DHP_ESYNTAX,
			       "missing @query (the extraction query this table maps)");
	if (!pf->nkeys)
		return fail_at(pf, 1, DHP_ESYNTAX,
			       "missing @key (the column(s) naming each record)");
	if (!pf->nres)
		return fail_at(pf, 1, DHP_ESYNTAX, "no @resource block");
	struct mstream *st = pf->stream;
	if (!st->nkeys) {
		st->keys = pf->keys;
		st->nkeys = pf->nkeys;
		st->key_file = xstrdup(pf->file);
		st->key_line = pf->key_line;
		pf->keys = NULL;
		pf->nkeys = 0;
	} else {
		bool same = st->nkeys == pf->nkeys;
		for (int i = 0; same && i < pf->nkeys; i++)
			same = streq(st->keys[i].text, pf->keys[i].text);
		if (!same) {
			pf->line = pf->key_line;
			return fail_at(pf, 1, DHP_ESYNTAX,
				       "@key differs from %s:%d for the same @query", st->key_file,
				       st->key_line);
		}
	}
	if (pf->table && !st->table)
		st->table = xstrdup(pf->table);
	if (pf->order)
		st->order = pf->order;
	for (int i = 0; i < pf->nres; i++) {
		st->res = xrealloc(st->res, (size_t)(st->nres + 1) * sizeof(*st->res));
		st->res[st->nres++] = pf->res[i];
		pf->res[i]->nmessages = pf->nmessages;
		pf->res[i]->messages = xcalloc((size_t)pf->nmessages + 1, sizeof(char *));
		for (int m = 0; m < pf->nmessages; m++)
			pf->res[i]->messages[m] = xstrdup(pf->messages[m]);
	}
	for (int i = 0; i < pf->nres; i++)
		if (check_resource(pf, pf->res[i]))
			return -1;
	return 0;
}

/* The next line of a table's text (cut in place), or NULL at the end. */
static char *next_line(char **text)
{
	char *line = *text;
	if (!line)
		return NULL;
	char *next = strchr(line, '\n');
	if (next)
		*next++ = '\0';
	*text = next;
	size_t len = strlen(line);
	if (len && line[len - 1] == '\r')
		line[len - 1] = '\0';
	return line;
}

static char *skip_bom(char *text)
{
	return strncmp(text, "\xEF\xBB\xBF", 3) == 0 ? text + 3 : text;
}

/* A datatype library: a .map file whose first directive is @datatype. */
static bool is_library(char *text)
{
	for (char *p = skip_bom(text); *p;) {
		p += strspn(p, " \t\r\n");
		if (*p != '#')
			return strncmp(p, "@datatype", 9) == 0 && strchr(" \t", p[9]);
		p += strcspn(p, "\n");
	}
	return false;
}

static int dir_datatype(struct pfile *pf, struct lex *lx)
{
	skip_ws(lx);
	int col = col_of(lx, lx->p);
	char *name = lex_word(lx, "");
	skip_ws(lx);
	char *type = lex_word(lx, "");
	skip_ws(lx);
	int rc = 0;
	bool alnum = *name != '\0';
	for (const char *c = name; *c; c++)
		alnum &= isalnum((unsigned char)*c) != 0;
	if (!alnum || !*type || !at_end(lx))
		rc =
		    fail_at(pf, col, DHP_ESYNTAX,
			    "expected '@datatype NAME FHIRTYPE' (such as @datatype XPN HumanName)");
	struct mapset *ms = pf->ms;
	for (int i = 0; rc == 0 && i < ms->ndts; i++)
		if (strcasecmp(ms->dts[i].name, name) == 0 && streq(ms->dts[i].type, type))
			rc = fail_at(pf, col, DHP_ESYNTAX,
				     "@datatype %s %s is already defined at %s:%d", name, type,
				     ms->dts[i].file, ms->dts[i].line);
	if (rc) {
		free(name);
		free(type);
		return rc;
	}
	ms->dts = xrealloc(ms->dts, (size_t)(ms->ndts + 1) * sizeof(*ms->dts));
	ms->dts[ms->ndts++] =
	    (struct dtmpl){.name = name, .type = type, .file = pf->file, .line = pf->line};
	return 0;
}

/* A template row: its target starts with '.' (the target of the row that
 * uses the datatype); the rest is checked when a row uses it. */
static int template_row(struct pfile *pf, struct lex *lx)
{
	struct mapset *ms = pf->ms;
	if (!ms->ndts || ms->dts[ms->ndts - 1].file != pf->file)
		return fail_at(pf, col_of(lx, lx->p), DHP_ESYNTAX,
			       "template row before any @datatype line");
	if (*lx->p != '.')
		return fail_at(pf, col_of(lx, lx->p), DHP_EPATH,
			       "a template row's target starts with '.' (the element the "
			       "datatype fills), found '%.20s'",
			       lx->p);
	struct dtmpl *d = &ms->dts[ms->ndts - 1];
	d->rows = xrealloc(d->rows, (size_t)(d->nrows + 1) * sizeof(*d->rows));
	d->origins = xrealloc(d->origins, (size_t)(d->nrows + 1) * sizeof(*d->origins));
	d->rows[d->nrows] = xstrdup(lx->p);
	struct strbuf o = STRBUF_INIT;
	strbuf_addf(&o, "datatype %s (%s) at %s:%d", d->name, d->type, pf->file, pf->line);
	d->origins[d->nrows++] = strbuf_detach(&o, NULL);
	return 0;
}

/* Read a datatype library: @datatype blocks only. */
static int parse_library(struct pfile *pf, char *text)
{
	int rc = 0;
	for (char *rest = skip_bom(text), *line; rc == 0 && (line = next_line(&rest));) {
		pf->line++;
		struct lex lx = {line, line};
		skip_ws(&lx);
		if (at_end(&lx))
			continue;
		if (strncmp(lx.p, "@datatype", 9) == 0 && strchr(" \t", lx.p[9])) {
			lx.p += 9;
			rc = dir_datatype(pf, &lx);
		} else if (*lx.p == '@') {
			rc = fail_at(pf, col_of(&lx, lx.p), DHP_ESYNTAX,
				     "a datatype library holds @datatype blocks only; tables "
				     "(@resource ...) go in files of their own");
		} else {
			rc = template_row(pf, &lx);
		}
	}
	return rc;
}

/* Parse a table file, or in the first pass (libraries true) a datatype
 * library; each pass skips the other kind. */
static int parse_file(struct mapset *ms, const char *path, bool libraries, struct dhp_error *err)
{
	char *text = fileio_read(path, NULL, err);
	if (!text)
		return -1;
	if (is_library(text) != libraries) {
		free(text);
		return 0;
	}
	ms->files = xrealloc(ms->files, (size_t)(ms->nfiles + 1) * sizeof(*ms->files));
	ms->files[ms->nfiles++] = xstrdup(path);
	char *dir = fileio_dirname(path);
	struct pfile pf = {.ms = ms, .file = ms->files[ms->nfiles - 1], .dir = dir, .err = err};
	int rc = 0;
	if (libraries) {
		ms->nlibraries++;
		rc = parse_library(&pf, text);
		free(dir);
		free(text);
		return rc;
	}
	for (char *rest = skip_bom(text), *line; rc == 0 && (line = next_line(&rest));) {
		pf.line++;
		struct lex lx = {line, line};
		skip_ws(&lx);
		if (at_end(&lx))
			continue;
		rc = *lx.p == '@' ? parse_directive(&pf, &lx) : parse_row(&pf, &lx);
	}
	if (rc == 0)
		rc = attach_file(&pf);
	args_free(pf.keys, pf.nkeys);
	for (int i = 0; i < pf.nmessages; i++)
		free(pf.messages[i]);
	free(pf.messages);
	free(pf.res);
	free(pf.table);
	free(dir);
	free(text);
	return rc;
}

/* Same-record references name a resource block of the same stream. */
static int resolve_local_refs(struct mstream *st, struct dhp_error *err)
{
	for (int i = 0; i < st->nres; i++)
		for (int j = 0; j < i; j++)
			if (streq(st->res[i]->type, st->res[j]->type) &&
			    streq(st->res[i]->name, st->res[j]->name)) {
				char where[300];
				snprintf(where, sizeof(where), "%s:%d:1", st->res[i]->file,
					 st->res[i]->line);
				return dhp_fail(
				    err, DHP_ESYNTAX, where,
				    "@resource %s %s is already built for these records at "
				    "%s:%d; give one of them another name",
				    st->res[i]->type, st->res[i]->name, st->res[j]->file,
				    st->res[j]->line);
			}
	for (int i = 0; i < st->nres; i++) {
		struct mres *r = st->res[i];
		for (int j = 0; j < r->nrows; j++) {
			struct mrow *row = &r->rows[j];
			if (row->src != S_LOCALREF)
				continue;
			char type[128], name[128];
			if (sscanf(row->operand.text, "%127s %127s", type, name) != 2)
				name[0] = type[0] = '\0';
			row->ref_res = -1;
			for (int k = 0; k < st->nres; k++)
				if (streq(st->res[k]->type, type) && streq(st->res[k]->name, name))
					row->ref_res = k;
			if (row->ref_res < 0) {
				char where[300];
				snprintf(where, sizeof(where), "%s:%d:%d", r->file, row->line,
					 row->operand.col);
				return dhp_fail(
				    err, DHP_EPATH, where,
				    "ref(%s%s%s): no @resource %s %s is built from the records "
				    "of %s",
				    type, streq(type, name) ? "" : ", ",
				    streq(type, name) ? "" : name, type, name, st->query_file);
			}
		}
	}
	return 0;
}

static int cmp_stream(const void *a, const void *b)
{
	const struct mstream *x = a, *y = b;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->query_file, y->query_file);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int mapset_load(struct mapset *ms, const struct mapset_paths *paths, struct dhp_error *err)
{
	memset(ms, 0, sizeof(*ms));
	ms->dir = xstrdup(paths->mappings);
	ms->terminology_dir = paths->terminology ? xstrdup(paths->terminology) : NULL;
	if (profiles_load(&ms->profiles, paths->profiles, err))
		return -1;
	DIR *d = opendir(paths->mappings);
	if (!d)
		return dhp_fail(err, DHP_EIO, paths->mappings, "cannot open mapping directory");
	char **names = NULL;
	size_t n = 0, alloc = 0;
	for (struct dirent *de; (de = readdir(d));) {
		size_t len = strlen(de->d_name);
		if (len > 4 && streq(de->d_name + len - 4, ".map")) {
			ALLOC_GROW(names, n + 1, alloc);
			names[n++] = fileio_join(paths->mappings, de->d_name);
		}
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_name);
	int rc =
	    n ? 0
	      : dhp_fail(err, DHP_EIO, paths->mappings, "no mapping tables (*.map) in directory");
	/* datatype libraries first: any table may use their templates */
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = parse_file(ms, names[i], true, err);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0)
			rc = parse_file(ms, names[i], false, err);
		free(names[i]);
	}
	free(names);
	for (int i = 0; rc == 0 && i < ms->nstreams; i++) {
		struct mstream *st = &ms->streams[i];
		rc = resolve_local_refs(st, err);
		if (!st->table) {
			const char *base = strrchr(st->query_file, '/');
			base = base ? base + 1 : st->query_file;
			st->table = xstrndup(base, strcspn(base, "."));
		}
	}
	if (rc == 0 && !ms->nstreams)
		rc = dhp_fail(err, DHP_EIO, paths->mappings,
			      "no mapping tables in directory (only datatype libraries)");
	if (rc == 0)
		qsort(ms->streams, (size_t)ms->nstreams, sizeof(*ms->streams), cmp_stream);
	return rc;
}

static void bind_fail(struct dhp_error *err, const struct operand *op, const char *file,
		      const struct mstream *st)
{
	char where[300];
	snprintf(where, sizeof(where), "%s:%d:%d", file, op->line, op->col);
	dhp_fail(err, DHP_EPATH, where, "column '%s' is not in the result of %s", op->text,
		 st->query_file);
}

static int bind_operand(struct operand *op, struct source *src, const char *file,
			const struct mstream *st, struct dhp_error *err)
{
	if (!op->is_col || !op->text)
		return 0;
	op->handle = source_resolve(src, op->text);
	if (op->handle < 0) {
		bind_fail(err, op, file, st);
		return -1;
	}
	return 0;
}

static int bind_cond(struct cond *c, struct source *src, const char *file, const struct mstream *st,
		     struct dhp_error *err)
{
	return c ? bind_operand(&c->lhs, src, file, st, err) : 0;
}

static int bind_foreach(struct mres *r, struct source *src, struct dhp_error *err)
{
	r->foreach_handle = src->ops->resolve_group ? src->ops->resolve_group(src, r->foreach) : -1;
	if (r->foreach_handle >= 0)
		return 0;
	char where[300];
	snprintf(where, sizeof(where), "%s:%d:1", r->file, r->foreach_line);
	return dhp_fail(err, DHP_EPATH, where, "@for-each %s: %s", r->foreach,
			src->ops->resolve_group
			    ? "not a segment or group of this source"
			    : "this source has no segments or groups to iterate");
}

int mstream_bind(struct mstream *st, struct source *src, struct dhp_error *err)
{
	for (int i = 0; i < st->nkeys; i++)
		if (bind_operand(&st->keys[i], src, st->key_file, st, err))
			return -1;
	if (st->by_message) {
		st->msgtype[0] = source_resolve(src, "MSH-9.1");
		st->msgtype[1] = source_resolve(src, "MSH-9.2");
		st->msgtype[2] = source_resolve(src, "EVN-1.1");
	}
	for (int i = 0; i < st->nres; i++) {
		struct mres *r = st->res[i];
		if (bind_cond(r->when, src, r->file, st, err))
			return -1;
		if (r->foreach && bind_foreach(r, src, err))
			return -1;
		for (int j = 0; j < r->nrows; j++) {
			struct mrow *row = &r->rows[j];
			if (bind_operand(&row->operand, src, r->file, st, err) ||
			    bind_cond(row->when, src, r->file, st, err))
				return -1;
			for (int k = 0; k < row->nxf; k++)
				for (int a = 0; a < row->xf[k].nargs; a++)
					if (bind_operand(&row->xf[k].args[a], src, r->file, st,
							 err))
						return -1;
		}
	}
	return 0;
}

static void mres_free(struct mres *r)
{
	for (int j = 0; j < r->nrows; j++) {
		struct mrow *row = &r->rows[j];
		free(row->target);
		free(row->steps);
		operand_free(&row->operand);
		for (int k = 0; k < row->nxf; k++)
			xform_free(&row->xf[k]);
		free(row->xf);
		cond_free(row->when);
		free(row->absent);
		free(row->elem_path);
		free(row->guards);
	}
	free(r->rows);
	for (int i = 0; i < r->nprofiles; i++)
		free(r->profiles[i]);
	free(r->profiles);
	free(r->tabs);
	for (int i = 0; i < r->nmessages; i++)
		free(r->messages[i]);
	free(r->messages);
	free(r->foreach);
	cond_free(r->when);
	free(r->type);
	free(r->name);
	free(r);
}

void mapset_free(struct mapset *ms)
{
	for (int i = 0; i < ms->nstreams; i++) {
		struct mstream *st = &ms->streams[i];
		free(st->query_file);
		free(st->table);
		args_free(st->keys, st->nkeys);
		free(st->res);
		free(st->key_file);
	}
	free(ms->streams);
	for (int i = 0; i < ms->nall; i++)
		mres_free(ms->all[i]);
	free(ms->all);
	for (int i = 0; i < ms->nfiles; i++)
		free(ms->files[i]);
	free(ms->files);
	for (int i = 0; i < ms->ndts; i++) {
		struct dtmpl *d = &ms->dts[i];
		for (int k = 0; k < d->nrows; k++) {
			free(d->rows[k]);
			free(d->origins[k]);
		}
		free(d->rows);
		free(d->origins);
		free(d->name);
		free(d->type);
	}
	free(ms->dts);
	for (size_t i = 0; i < ms->names.nslots; i++)
		if (ms->names.slots[i].key)
			free(ms->names.slots[i].value);
	hmap_clear(&ms->names);
	for (size_t i = 0; i < ms->codetables.nslots; i++)
		if (ms->codetables.slots[i].key)
			codetable_free(ms->codetables.slots[i].value);
	hmap_clear(&ms->codetables);
	profiles_free(&ms->profiles);
	free(ms->dir);
	free(ms->terminology_dir);
	memset(ms, 0, sizeof(*ms));
}
