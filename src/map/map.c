/*
 * map.c: apply mapping tables to a record (see map.h).
 *
 * Values flow through a transform chain as (text, length, kind) views over
 * two scratch buffers that alternate, so a chain costs no allocation once
 * the buffers have grown. json-c objects are created only for the values
 * that reach the resource.
 */
#include "core/dhp.h"
#include "map/codetable.h"
#include "map/conv.h"
#include "map/map.h"

#include <ctype.h>
#include <openssl/evp.h>

#define DAR_URL "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

/* A value on its way through a chain. null means absent. */
struct val {
	const char *s;
	size_t n;
	bool null;
	enum vkind kind;
};

/* Namespace of dhp-import's UUID v5 resource ids (a fixed random UUID). */
static const unsigned char uuid_ns[16] = {0x6b, 0x1e, 0x39, 0x0c, 0x52, 0x4f, 0x4b, 0x7e,
					  0x9d, 0x1a, 0x3f, 0x2c, 0x88, 0x51, 0xa0, 0x17};

void map_ctx_init(struct map_ctx *ctx, const char *tz)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->tz = tz;
	strbuf_init(&ctx->a, 0);
	strbuf_init(&ctx->b, 0);
	strbuf_init(&ctx->path, 0);
	strbuf_init(&ctx->dt_in, 0);
	strbuf_init(&ctx->dt_out, 0);
	jarena_init(&ctx->arena);
	ctx->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	ctx->digest = EVP_MD_CTX_new();
	if (!ctx->sha1 || !ctx->digest)
		dhp_fatal("cannot set up SHA-1 (OpenSSL)");
}

void map_ctx_release(struct map_ctx *ctx)
{
	strbuf_release(&ctx->a);
	strbuf_release(&ctx->b);
	strbuf_release(&ctx->path);
	strbuf_release(&ctx->dt_in);
	strbuf_release(&ctx->dt_out);
	free(ctx->guard);
	free(ctx->guard_rep);
	jarena_release(&ctx->arena);
	EVP_MD_CTX_free(ctx->digest);
	EVP_MD_free(ctx->sha1);
	hmap_clear(&ctx->stats.dar_by_elem);
	hmap_clear(&ctx->stats.by_type);
}

void stats_count(struct hmap *m, const char *key, long n)
{
	struct hmap_entry *e = hmap_slot(m, key, strlen(key));
	e->value = (void *)((intptr_t)e->value + n);
}

void mapped_reset(struct mapped *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->res[i].if_none_exist); /* the trees live in the context's arena */
	m->n = 0;
}

void mapped_free(struct mapped *m)
{
	mapped_reset(m);
	free(m->res);
	free(m->block_at);
	free(m->block_n);
	memset(m, 0, sizeof(*m));
}

/* ---- reading values ---------------------------------------------------- */

#define PATH_MEMO 8	  /* path steps remembered between rows */
#define MAP_MAX_REPS 1000 /* repetitions a [*] row reads; more rejects the record */

/* Record state during one map_record call. */
struct rec {
	struct map_ctx *ctx;
	const struct mstream *st;
	struct source *src;
	struct mapped *out;
	struct dhp_error *err;
	int cur;  /* index in out->res of the resource being mapped */
	int star; /* the repetition a [*] target step takes */
	/* The containers the last value went into, step by step: consecutive
	 * rows mostly share a prefix (identifier[0].type.coding[0]...), and
	 * nodes are never removed while a resource is built. */
	const struct jnode *path_root;
	const struct pstep *path_steps;
	int path_n;
	int path_idx[PATH_MEMO];
	struct jnode *path_node[PATH_MEMO];
	/* an array item was placed past the end, leaving holes: only then
	 * (or with no profile, meta.profile being empty) has compact() work */
	bool holes;
};

static struct val read_operand(const struct rec *rc, const struct operand *op)
{
	struct val v = {op->text, 0, false, K_STRING};
	if (!op->is_col) {
		v.n = strlen(op->text);
		return v;
	}
	struct value x;
	source_get(rc->src, op->handle, &x);
	v.s = x.s;
	v.n = x.len;
	v.null = x.type == V_NULL;
	/* Text of only white space counts as absent, as hospital IT expects. */
	if (!v.null) {
		const char *s = v.s;
		size_t n = v.n;
		conv_trim(&s, &n);
		v.null = n == 0;
	}
	return v;
}

/* read_operand() for a condition, which compares the trimmed text: trimmed
 * once; true when absent. */
static bool read_trimmed(const struct rec *rc, const struct operand *op, const char **s, size_t *n)
{
	if (!op->is_col) {
		*s = op->text;
		*n = strlen(op->text);
		conv_trim(s, n);
		return false; /* a literal is there even when blank */
	}
	struct value x;
	source_get(rc->src, op->handle, &x);
	*s = x.s;
	*n = x.len;
	if (x.type == V_NULL)
		return true;
	conv_trim(s, n);
	return *n == 0;
}

static bool cond_holds(const struct rec *rc, const struct cond *c)
{
	if (!c)
		return true;
	const char *s;
	size_t n;
	bool null = read_trimmed(rc, &c->lhs, &s, &n);
	switch (c->op) {
	case C_PRESENT:
		return !null;
	case C_ABSENT:
		return null;
	case C_EQ:
	case C_NE:
	case C_IN: {
		bool match = false;
		for (int i = 0; !null && i < c->nvals; i++)
			match |= c->lens[i] == n && memcmp(c->vals[i], s, n) == 0;
		return c->op == C_NE ? !match : match;
	}
	}
	return false;
}

/* The location of a row's source: TABLE:KEY:COLUMN. */
static void row_where(const struct rec *rc, const struct mrow *row, char *buf, size_t len)
{
	const char *col = row->operand.is_col ? row->operand.text : row->target;
	snprintf(buf, len, "%s:%s", rc->out->where, col);
}

static int xf_fail(const struct rec *rc, const struct mres *r, const struct mrow *row,
		   const char *why)
{
	char where[400];
	row_where(rc, row, where, sizeof(where));
	dhp_fail(rc->err, DHP_EVALUE, where, "%s", why);
	dhp_detail(rc->err, "mapping %s:%d, element %s", r->file, row->line, row->elem_path);
	return -1;
}

static void base64(const char *s, size_t n, struct strbuf *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63],
			     i + 1 < n ? tab[v >> 6 & 63] : '=', i + 2 < n ? tab[v & 63] : '='};
		strbuf_add(out, q, 4);
	}
}

/* conv_datetime() through a memo of the last value converted: rows of one
 * message read the same time stamp again (OBR-7 for the report and for each
 * of its observations), and a conversion asks the time zone database. */
static int datetime_memo(struct map_ctx *ctx, const char *s, size_t n, const char *tz,
			 struct strbuf *out, char *why)
{
	struct strbuf *in = &ctx->dt_in, *res = &ctx->dt_out;
	if (ctx->dt_valid && ctx->dt_tz == tz && in->len == n && memcmp(in->buf, s, n) == 0) {
		strbuf_add(out, res->buf, res->len);
		return 0;
	}
	int ok = conv_datetime(s, n, tz, out, why);
	ctx->dt_valid = ok == 0 && !out->toobig;
	if (ctx->dt_valid) {
		ctx->dt_tz = tz;
		strbuf_reset(in);
		strbuf_add(in, s, n);
		strbuf_reset(res);
		strbuf_add(res, out->buf, out->len);
		ctx->dt_valid = !in->toobig && !res->toobig;
	}
	return ok;
}

/* Apply one transform; the result goes to the scratch buffer not holding the input. */
static int apply_xf(struct rec *rc, const struct mres *r, const struct mrow *row,
		    const struct xform *x, struct val *v)
{
	struct map_ctx *ctx = rc->ctx;
	struct strbuf *out = v->s == ctx->a.buf ? &ctx->b : &ctx->a;
	char why[CONV_WHY_MAX];
	int ok = 0;
	if (v->null && x->kind != XF_DEFAULT)
		return 0;
	strbuf_reset(out);
	switch (x->kind) {
	case XF_TRIM:
		conv_trim(&v->s, &v->n);
		v->null = v->n == 0;
		return 0;
	case XF_UPPER:
		conv_upper(v->s, v->n, out);
		break;
	case XF_LOWER:
		conv_lower(v->s, v->n, out);
		break;
	case XF_DATE:
		ok = conv_date(v->s, v->n, out, why);
		v->kind = K_DATE;
		break;
	case XF_DATETIME:
		ok = datetime_memo(ctx, v->s, v->n, x->nargs ? x->args[0].text : ctx->tz, out, why);
		v->kind = K_DATETIME;
		break;
	case XF_DECIMAL:
		ok = conv_decimal(v->s, v->n, out, why);
		v->kind = K_DECIMAL;
		break;
	case XF_INTEGER:
		ok = conv_integer(v->s, v->n, out, why);
		v->kind = K_INTEGER;
		break;
	case XF_BOOLEAN: {
		bool b = false;
		ok = conv_boolean(v->s, v->n, &b, why);
		strbuf_addstr(out, b ? "true" : "false");
		v->kind = K_BOOLEAN;
		break;
	}
	case XF_CODE: {
		/* codetable_lookup() trims: only the message needs it here */
		const char *hit = codetable_lookup(x->table, v->s, v->n, x->table_col);
		if (!hit) {
			const char *s = v->s;
			size_t n = v->n;
			conv_trim(&s, &n);
			snprintf(why, sizeof(why), "no entry for '%.*s' in code table '%s' (%s)",
				 (int)(n > 40 ? 40 : n), s, x->args[0].text,
				 codetable_path(x->table));
			ok = -1;
			break;
		}
		/* the table's text lives as long as the mapping set: no copy */
		v->s = hit;
		v->n = strlen(hit);
		v->null = v->n == 0;
		v->kind = K_STRING;
		return 0;
	}
	case XF_MAP: {
		const char *s = v->s;
		size_t n = v->n;
		conv_trim(&s, &n);
		const char *hit = hmap_get(&x->pairs, s, n);
		if (!hit)
			hit = x->fallback;
		if (!hit) {
			snprintf(why, sizeof(why),
				 "no entry for '%.*s' in map() (and no '*' fallback)",
				 (int)(n > 40 ? 40 : n), s);
			ok = -1;
			break;
		}
		v->s = hit; /* in the mapping set, like a code table's text */
		v->n = strlen(hit);
		v->null = v->n == 0;
		v->kind = K_STRING;
		return 0;
	}
	case XF_CONCAT:
		strbuf_add(out, v->s, v->n);
		for (int i = 0; i < x->nargs; i++) {
			struct val a = read_operand(rc, &x->args[i]);
			if (!a.null)
				strbuf_add(out, a.s, a.n);
		}
		v->kind = K_STRING;
		break;
	case XF_JOIN:
		/* the value only decides that the row applies: "W1^101^A" as "W1 101 A" */
		for (int i = 1; i < x->nargs; i++) {
			struct val a = read_operand(rc, &x->args[i]);
			if (a.null)
				continue;
			if (out->len)
				strbuf_addstr(out, x->args[0].text);
			strbuf_add(out, a.s, a.n);
		}
		v->kind = K_STRING;
		break;
	case XF_DEFAULT:
		if (!v->null)
			return 0;
		*v = read_operand(rc, &x->args[0]);
		return 0;
	case XF_SPLIT: {
		const char *sep = x->args[0].text;
		size_t seplen = strlen(sep);
		const char *s = v->s, *end = v->s + v->n;
		for (int i = 0; i < x->split_index && s; i++) {
			const char *hit = seplen ? memmem(s, (size_t)(end - s), sep, seplen) : NULL;
			s = hit ? hit + seplen : NULL;
		}
		if (!s) {
			v->null = true;
			return 0;
		}
		const char *hit = seplen ? memmem(s, (size_t)(end - s), sep, seplen) : NULL;
		strbuf_add(out, s, (size_t)((hit ? hit : end) - s));
		v->kind = K_STRING;
		break;
	}
	case XF_BASE64:
		/* Attachment.data: the text as UTF-8 bytes, base64 (RFC 4648) */
		base64(v->s, v->n, out);
		v->kind = K_STRING;
		break;
	case XF_REF:
		/* The value stays the identifier value; emit_value builds the Reference. */
		v->kind = K_REFERENCE;
		return 0;
	}
	if (ok)
		return xf_fail(rc, r, row, why);
	if (out->toobig) {
		snprintf(why, sizeof(why), "value too large");
		return xf_fail(rc, r, row, why);
	}
	v->s = out->buf;
	v->n = out->len;
	v->null = out->len == 0;
	return 0;
}

/* ---- building JSON ----------------------------------------------------- */

/* Text kept in the record's arena (for keys built on the fly). */
static const char *arena_text(struct jarena *a, const char *s)
{
	return j_str(a, s, strlen(s))->u.str.s;
}

static struct jnode *new_reference(const struct rec *rc, const struct mrow *row,
				   const struct val *v)
{
	struct jarena *A = &rc->ctx->arena;
	struct jnode *ref = j_obj(A);
	struct strbuf *sb = &rc->ctx->path;
	strbuf_reset(sb);
	if (row->src == S_LOCALREF) {
		/* v carries the referenced resource's uuid (see map_local_ref) */
		strbuf_addstr(sb, "urn:uuid:");
		strbuf_add(sb, v->s, v->n);
		j_set(A, ref, "reference", j_str(A, sb->buf, sb->len));
		return ref;
	}
	/* ref(TYPE, SYSTEM) on an identifier value: a conditional reference the
	 * loader resolves to Type/id; the identifier keeps it meaningful on disk. */
	const struct xform *x = &row->xf[row->nxf - 1];
	for (int i = row->nxf - 1; i >= 0; i--)
		if (row->xf[i].kind == XF_REF)
			x = &row->xf[i];
	const char *type = x->args[0].text, *system = x->args[1].text;
	strbuf_addstr(sb, type);
	strbuf_addstr(sb, "?identifier=");
	strbuf_addstr(sb, system);
	strbuf_addch(sb, '|');
	strbuf_add(sb, v->s, v->n);
	j_set(A, ref, "reference", j_str(A, sb->buf, sb->len));
	j_set(A, ref, "type", j_str(A, type, strlen(type)));
	struct jnode *id = j_obj(A);
	j_set(A, id, "system", j_str(A, system, strlen(system)));
	j_set(A, id, "value", j_str(A, v->s, v->n));
	j_set(A, ref, "identifier", id);
	return ref;
}

static struct jnode *new_value(const struct rec *rc, const struct mrow *row, const struct val *v)
{
	struct jarena *A = &rc->ctx->arena;
	switch (v->kind) {
	case K_DECIMAL: /* the digits as converted: FHIR keeps a decimal's precision */
		return j_num(A, v->s, v->n);
	case K_INTEGER: {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%lld", strtoll(v->s, NULL, 10));
		return j_num(A, buf, (size_t)n);
	}
	case K_BOOLEAN:
		return j_bool(A, v->n == 4 && memcmp(v->s, "true", 4) == 0);
	case K_REFERENCE:
		return new_reference(rc, row, v);
	default:
		return j_str(A, v->s, v->n);
	}
}

/* The array index step st stands for: its own, the current [*]
 * repetition, or (for the step named by bump_step) its own plus bump. */
static int step_index(const struct rec *rc, const struct pstep *st, bool bumped, int bump)
{
	int idx = st->index == PSTEP_STAR ? rc->star : st->index;
	return bumped ? idx + bump : idx;
}

/* j_put(), noting a hole left before index idx. */
static void put_item(struct rec *rc, struct jnode *arr, size_t idx, struct jnode *val)
{
	rc->holes |= idx > arr->u.arr.n;
	j_put(&rc->ctx->arena, arr, idx, val);
}

/* The child of `parent` for step st at array index idx, created when absent.
 * Element names live in the mapping set, which outlives every record. */
static struct jnode *child(struct rec *rc, struct jnode *parent, const struct pstep *st, int idx)
{
	struct jarena *A = &rc->ctx->arena;
	struct jnode *c = j_get(parent, st->name);
	if (!c) {
		c = st->index != -1 ? j_arr(A) : j_obj(A);
		j_set(A, parent, st->name, c);
	}
	if (st->index == -1)
		return c;
	struct jnode *item = j_at(c, (size_t)idx);
	if (!item) {
		item = j_obj(A);
		put_item(rc, c, (size_t)idx, item);
	}
	return item;
}

/* How many leading containers of the row's path are those of the last
 * value placed (names are interned: equal names are equal pointers). */
static int path_shared(const struct rec *rc, const struct jnode *root, const struct mrow *row)
{
	if (rc->path_root != root)
		return 0;
	int n = 0, max = row->nsteps - 1 < rc->path_n ? row->nsteps - 1 : rc->path_n;
	while (n < max && row->steps[n].name == rc->path_steps[n].name &&
	       step_index(rc, &row->steps[n], false, 0) == rc->path_idx[n])
		n++;
	return n;
}

/* Place value at the row's target; step bump_step (or -1) is shifted by bump. */
static void set_path(struct rec *rc, struct jnode *root, const struct mrow *row,
		     struct jnode *value, int bump_step, int bump)
{
	struct jarena *A = &rc->ctx->arena;
	int from = bump_step < 0 ? path_shared(rc, root, row) : 0;
	struct jnode *node = from ? rc->path_node[from - 1] : root;
	for (int i = from; i < row->nsteps - 1; i++) {
		int idx = step_index(rc, &row->steps[i], i == bump_step, bump);
		node = child(rc, node, &row->steps[i], idx);
		if (bump_step < 0 && i < PATH_MEMO) {
			rc->path_idx[i] = idx;
			rc->path_node[i] = node;
		}
	}
	if (bump_step < 0) {
		rc->path_root = root;
		rc->path_steps = row->steps;
		rc->path_n = row->nsteps - 1 < PATH_MEMO ? row->nsteps - 1 : PATH_MEMO;
	}
	int li = row->nsteps - 1;
	const struct pstep *last = &row->steps[li];
	if (last->index == -1) {
		j_set(A, node, last->name, value);
		return;
	}
	struct jnode *arr = j_get(node, last->name);
	if (!arr) {
		arr = j_arr(A);
		j_set(A, node, last->name, arr);
	}
	put_item(rc, arr, (size_t)step_index(rc, last, li == bump_step, bump), value);
}

/* Drop array holes (rows that produced nothing) and containers left empty;
 * false when n itself ends up empty. */
static bool compact(struct jnode *n)
{
	if (n->type == J_ARR) {
		size_t w = 0;
		for (size_t i = 0; i < n->u.arr.n; i++) {
			struct jnode *e = n->u.arr.items[i];
			if (e && compact(e))
				n->u.arr.items[w++] = e;
		}
		n->u.arr.n = w;
		return w > 0;
	}
	if (n->type == J_OBJ) {
		struct jmember *prev = NULL;
		for (struct jmember *m = n->u.obj.first; m; m = m->next) {
			if (m->val && compact(m->val)) {
				prev = m;
				continue;
			}
			if (prev)
				prev->next = m->next;
			else
				n->u.obj.first = m->next;
			if (n->u.obj.last == m)
				n->u.obj.last = prev;
		}
		return n->u.obj.first != NULL;
	}
	return true;
}

/* ---- Data Absent Reason ------------------------------------------------ */

static struct jnode *dar_extension(struct jarena *A, const char *code)
{
	struct jnode *ext = j_obj(A), *arr = j_arr(A), *holder = j_obj(A);
	j_set(A, ext, "url", j_str(A, DAR_URL, strlen(DAR_URL)));
	j_set(A, ext, "valueCode", j_str(A, code, strlen(code)));
	j_push(A, arr, ext);
	j_set(A, holder, "extension", arr);
	return holder;
}

/* Is element `name` ("status", "value[x]") present in node? */
static bool has_elem(const struct jnode *node, const char *name)
{
	size_t n = strlen(name);
	bool choice = n > 3 && streq(name + n - 3, "[x]");
	for (const struct jmember *m = node->u.obj.first; m; m = m->next) {
		const char *key = m->key[0] == '_' ? m->key + 1 : m->key;
		if (choice ? strncmp(key, name, n - 3) == 0 && isupper((unsigned char)key[n - 3])
			   : streq(key, name))
			return true;
	}
	return false;
}

static bool is_prefix_of(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);
	return strncmp(prefix, path, n) == 0 && (path[n] == '.' || path[n] == '[');
}

/* The DAR code mapping rows chose for element `path` (absent()), else "unknown". */
static const char *dar_code_for(const struct mres *r, const char *path)
{
	for (int i = 0; i < r->nrows; i++) {
		const struct mrow *row = &r->rows[i];
		if (row->absent && row->elem_path &&
		    (streq(row->elem_path, path) || is_prefix_of(path, row->elem_path)))
			return row->absent;
	}
	return "unknown";
}

static void add_dar(struct jarena *A, struct jnode *node, const struct pelem *e, const char *name,
		    const char *code)
{
	const char *type = e->ntypes ? e->types[0] : "BackboneElement";
	char key[160];
	size_t n = strlen(name);
	if (n > 3 && streq(name + n - 3, "[x]"))
		snprintf(key, sizeof(key), "%.*s%c%s", (int)(n - 3), name,
			 toupper((unsigned char)type[0]), type + 1);
	else
		snprintf(key, sizeof(key), "%s", name);
	struct jnode *dar = dar_extension(A, code);
	if (fhir_is_primitive(type)) {
		char under[170];
		snprintf(under, sizeof(under), "_%s", key);
		if (pelem_is_array(e)) {
			/* a repeating primitive: value array of null, extension array aligned */
			struct jnode *vals = j_arr(A), *exts = j_arr(A);
			j_push(A, vals, NULL);
			j_push(A, exts, dar);
			j_set(A, node, arena_text(A, key), vals);
			j_set(A, node, arena_text(A, under), exts);
		} else {
			j_set(A, node, arena_text(A, under), dar);
		}
	} else if (pelem_is_array(e)) {
		struct jnode *arr = j_arr(A);
		j_push(A, arr, dar);
		j_set(A, node, arena_text(A, key), arr);
	} else {
		j_set(A, node, arena_text(A, key), dar);
	}
}

/* Walk `segs` (element names under the resource) and fill the last one where
 * every parent is present. -1 when the element is nodar (err set). */
static int dar_walk(struct rec *rc, const struct mres *r, const struct pelem *e, struct jnode *node,
		    char **segs, int nseg, int depth)
{
	if (!node)
		return 0;
	if (node->type == J_ARR) {
		for (size_t i = 0; i < node->u.arr.n; i++)
			if (dar_walk(rc, r, e, node->u.arr.items[i], segs, nseg, depth))
				return -1;
		return 0;
	}
	if (node->type != J_OBJ)
		return 0;
	if (depth == nseg - 1) {
		if (has_elem(node, segs[depth]))
			return 0;
		if (e->flags & PE_NODAR) {
			char where[400];
			snprintf(where, sizeof(where), "%s", rc->out->where);
			dhp_fail(rc->err, DHP_EREQUIRED, where,
				 "%s is required by %s and has no value; it cannot take a Data "
				 "Absent Reason",
				 e->path, r->tabs[0]->url);
			dhp_detail(rc->err, "mapping %s:%d (@resource %s)", r->file, r->line,
				   r->name);
			return -1;
		}
		add_dar(&rc->ctx->arena, node, e, segs[depth], dar_code_for(r, e->path));
		rc->ctx->stats.dar++;
		stats_count(&rc->ctx->stats.dar_by_elem, e->path, 1);
		return 0;
	}
	/* a parent absent: its children are not required */
	return dar_walk(rc, r, e, j_get(node, segs[depth]), segs, nseg, depth + 1);
}

static int fill_dar(struct rec *rc, const struct mres *r, struct jnode *res)
{
	for (int t = 0; t < r->nprofiles; t++) {
		const struct profile *p = r->tabs[t];
		for (size_t i = 0; i < p->nmand; i++) {
			const struct pelem *e = &p->elems[p->mand[i]];
			if (dar_walk(rc, r, e, res, e->segs, e->nseg, 0))
				return -1;
		}
	}
	return 0;
}

/* ---- one row, one resource, one record --------------------------------- */

/* A code placed into an element bound (required) to an enumerated value set
 * must be one of its codes: the server would refuse the whole transaction. */
static int check_binding(struct rec *rc, const struct mres *r, const struct mrow *row,
			 const struct val *v)
{
	const struct pelem *e = row->binding;
	if (!e || hmap_get(&e->codes, v->s, v->n))
		return 0;
	char where[400];
	row_where(rc, row, where, sizeof(where));
	dhp_fail(rc->err, DHP_ECODETABLE, where,
		 "code '%.*s' for %s is not in the required value set %s",
		 (int)(v->n > 40 ? 40 : v->n), v->s, e->path, e->valueset ? e->valueset : "");
	dhp_detail(rc->err, "mapping %s:%d", r->file, row->line);
	return -1;
}

/* Guard row gi's condition for the current repetition, evaluated once. */
static bool guard_holds(const struct rec *rc, const struct mres *r, int gi)
{
	struct map_ctx *ctx = rc->ctx;
	if (ctx->guard[gi] < 0 || ctx->guard_rep[gi] != rc->src->rep) {
		ctx->guard[gi] = (signed char)cond_holds(rc, r->rows[gi].when);
		ctx->guard_rep[gi] = rc->src->rep;
	}
	return ctx->guard[gi];
}

static bool guards_hold(const struct rec *rc, const struct mres *r, const struct mrow *row)
{
	for (int g = 0; g < row->nguards; g++)
		if (!guard_holds(rc, r, row->guards[g]))
			return false;
	return true;
}

/* Does instance b (of the referenced block) belong with instance a? Either
 * single: yes. Otherwise by group: b inside a's occurrence (the OBXs of this
 * OBR) when a's group is the parent, or a inside b's (the OBR of this OBX). */
static bool ref_matches(const struct rec *rc, const struct mapped_res *a,
			const struct mapped_res *b)
{
	const struct source *src = rc->src;
	if (b->anchor < 0 || a->anchor < 0)
		return true;
	if (!src->ops->group_at || !src->ops->group_of)
		return false;
	int ga = a->def->foreach_handle, gb = b->def->foreach_handle;
	/* The group that occurs first in the message is the parent (OBR before OBX). */
	if (src->ops->group_at(src, ga, 0) <= src->ops->group_at(src, gb, 0))
		return src->ops->group_of(src, b->anchor, ga) == a->anchor;
	return src->ops->group_of(src, a->anchor, gb) == b->anchor;
}

/* ref(TYPE[, NAME]): a reference to each matching instance built from this
 * record; into an array target they go to consecutive indexes. */
static void map_local_ref(struct rec *rc, const struct mrow *row, struct jnode *res)
{
	int bump_step = -1;
	for (int i = 0; i < row->nsteps; i++)
		if (row->steps[i].index >= 0)
			bump_step = i;
	const struct mapped_res *a = &rc->out->res[rc->cur];
	int n = 0, from = rc->out->block_at[row->ref_res];
	for (int i = from; i < from + rc->out->block_n[row->ref_res]; i++) {
		const struct mapped_res *b = &rc->out->res[i];
		if (!ref_matches(rc, a, b))
			continue;
		struct val v = {b->uuid, strlen(b->uuid), false, K_REFERENCE};
		set_path(rc, res, row, new_value(rc, row, &v), bump_step, n);
		if (++n == 1 && bump_step < 0)
			break; /* a single-valued target takes the first */
	}
}

/* A uri never holds a space or one of "<>\\^`{|}: a system built from a
 * sender's facility name ("Winchester House") is percent-encoded instead of
 * making the whole resource invalid. */
static bool uri_unsafe(unsigned char c)
{
	/* the controls and space in the table too: one load per byte, every
	 * system URL of every coding being scanned */
	static const bool bad[256] = {
	    [0] = 1,   [1] = 1,	   [2] = 1,   [3] = 1,	 [4] = 1,   [5] = 1,   [6] = 1,
	    [7] = 1,   [8] = 1,	   [9] = 1,   [10] = 1,	 [11] = 1,  [12] = 1,  [13] = 1,
	    [14] = 1,  [15] = 1,   [16] = 1,  [17] = 1,	 [18] = 1,  [19] = 1,  [20] = 1,
	    [21] = 1,  [22] = 1,   [23] = 1,  [24] = 1,	 [25] = 1,  [26] = 1,  [27] = 1,
	    [28] = 1,  [29] = 1,   [30] = 1,  [31] = 1,	 [32] = 1,  ['"'] = 1, ['<'] = 1,
	    ['>'] = 1, ['\\'] = 1, ['^'] = 1, ['`'] = 1, ['{'] = 1, ['|'] = 1, ['}'] = 1};
	return bad[c];
}

static void uri_safe(struct rec *rc, struct val *v)
{
	size_t i = 0;
	while (i < v->n && !uri_unsafe((unsigned char)v->s[i]))
		i++;
	if (i == v->n)
		return;
	struct strbuf *out = v->s == rc->ctx->a.buf ? &rc->ctx->b : &rc->ctx->a;
	static const char hex[] = "0123456789ABCDEF";
	strbuf_reset(out);
	for (i = 0; i < v->n; i++) {
		unsigned char c = (unsigned char)v->s[i];
		if (!uri_unsafe(c)) {
			strbuf_addch(out, (char)c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			strbuf_add(out, e, 3);
		}
	}
	v->s = out->buf;
	v->n = out->len;
}

static int map_value_row(struct rec *rc, const struct mres *r, const struct mrow *row,
			 struct jnode *res)
{
	if (!guards_hold(rc, r, row) || !cond_holds(rc, row->when))
		return 0;
	if (row->src == S_LOCALREF) {
		map_local_ref(rc, row, res);
		return 0;
	}
	struct val v = read_operand(rc, &row->operand);
	for (int i = 0; i < row->nxf; i++)
		if (apply_xf(rc, r, row, &row->xf[i], &v))
			return -1;
	if (!v.null && row->uri_like)
		uri_safe(rc, &v);
	/* an instant needs a time and an offset: a source that only has the
	 * date (OBR-22 as 20240312, say) leaves the element out, as FHIR has
	 * no partial instant */
	if (!v.null && row->out == K_DATETIME && row->instant && !memchr(v.s, 'T', v.n))
		v.null = true;
	if (v.null)
		return 0;
	v.kind = row->out;
	if (check_binding(rc, r, row, &v))
		return -1;
	set_path(rc, res, row, new_value(rc, row, &v), -1, 0);
	return 0;
}

static int map_row(struct rec *rc, const struct mres *r, const struct mrow *row, struct jnode *res)
{
	if (row->src == S_NONE)
		return 0;
	if (!row->star_src)
		return map_value_row(rc, r, row, res);
	/* [*]: once per repetition of the source field */
	struct source *src = rc->src;
	int n = src->ops->reps ? src->ops->reps(src, row->star_src->handle) : 0;
	if (n > MAP_MAX_REPS) {
		/* a million repetitions is no patient's data, and reading
		 * repetition i walks the i before it: refuse, do not hang */
		char where[400];
		snprintf(where, sizeof(where), "%s:%s", rc->out->where, row->star_src->text);
		dhp_fail(rc->err, DHP_ELIMIT, where,
			 "%d repetitions, more than the %d a mapping row reads", n, MAP_MAX_REPS);
		dhp_detail(rc->err, "mapping %s:%d, element %s", r->file, row->line,
			   row->elem_path ? row->elem_path : row->target);
		return -1;
	}
	int rc_ = 0;
	for (int j = 0; j < n && rc_ == 0; j++) {
		src->rep = j;
		rc->star = j;
		rc_ = map_value_row(rc, r, row, res);
	}
	src->rep = 0;
	rc->star = 0;
	return rc_;
}

static bool has_system_value(const struct jnode *id)
{
	return id && j_get(id, "system") && j_get(id, "value");
}

/* The identifier a resource is found by: the official one (a PINFL, say),
 * else the first with both system and value. */
static const struct jnode *business_id(const struct jnode *res)
{
	const struct jnode *ids = j_get(res, "identifier"), *first = NULL;
	if (!ids)
		return NULL;
	if (ids->type != J_ARR)
		return has_system_value(ids) ? ids : NULL;
	for (size_t i = 0; i < ids->u.arr.n; i++) {
		const struct jnode *x = ids->u.arr.items[i], *use;
		if (!has_system_value(x))
			continue;
		use = j_get(x, "use");
		if (use && use->type == J_STR && streq(use->u.str.s, "official"))
			return x;
		if (!first)
			first = x;
	}
	return first;
}

/* Characters kept as they are in a search parameter value. */
static bool query_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '/';
}

/* "identifier=system|value" of the business identifier, URL-safe. */
static char *if_none_exist(const struct jnode *res)
{
	const struct jnode *id = business_id(res);
	if (!id)
		return NULL;
	const struct jnode *parts[2] = {j_get(id, "system"), j_get(id, "value")};
	if (parts[0]->type != J_STR || parts[1]->type != J_STR)
		return NULL;
	static const char hex[] = "0123456789ABCDEF";
	struct strbuf sb = STRBUF_INIT;
	strbuf_add(&sb, "identifier=", 11);
	for (int p = 0; p < 2; p++) {
		if (p)
			strbuf_addch(&sb, '|');
		const unsigned char *c = (const unsigned char *)parts[p]->u.str.s;
		size_t n = parts[p]->u.str.n;
		for (size_t i = 0; i < n;) {
			size_t run = i;
			while (run < n && query_safe(c[run]))
				run++;
			strbuf_add(&sb, c + i, run - i);
			if (run == n)
				break;
			char e[3] = {'%', hex[c[run] >> 4], hex[c[run] & 15]};
			strbuf_add(&sb, e, 3);
			i = run + 1;
		}
	}
	return strbuf_detach(&sb, NULL);
}

static struct jnode *new_resource(struct jarena *A, const struct mres *r)
{
	struct jnode *res = j_obj(A), *meta = j_obj(A), *prof = j_arr(A);
	j_set(A, res, "resourceType", j_str(A, r->type, strlen(r->type)));
	for (int i = 0; i < r->nprofiles; i++)
		j_push(A, prof, j_str(A, r->profiles[i], strlen(r->profiles[i])));
	j_set(A, meta, "profile", prof);
	j_set(A, res, "meta", meta);
	return res;
}

/* A resource without a business identifier (system and value) could not be
 * found again on a re-run and would be created twice. It gets its
 * deterministic id as an identifier, {"system": "urn:ietf:rfc:3986",
 * "value": "urn:uuid:..."}, derived from the source record like its
 * fullUrl, so re-runs find it. Not where the profile allows no more
 * identifiers, and not for a Patient whose identifier is a Data Absent
 * Reason (an unidentified patient stays recognisably so). */
static void add_technical_id(struct jarena *A, const struct mapped_res *mr, struct jnode *res)
{
	const struct mres *r = mr->def;
	const struct pelem *e = r->id_elem;
	struct jnode *ids = j_get(res, "identifier");
	size_t have = ids && ids->type == J_ARR ? ids->u.arr.n : 0;
	bool valued = false;
	for (size_t i = 0; i < have; i++)
		valued |= j_get(ids->u.arr.items[i], "value") != NULL;
	if (!e || (e->max != -1 && have >= (size_t)e->max) ||
	    (streq(r->type, "Patient") && have && !valued))
		return;
	if (!ids) {
		ids = j_arr(A);
		j_set(A, res, "identifier", ids);
	}
	char urn[64] = "urn:uuid:";
	memcpy(urn + 9, mr->uuid, 36);
	struct jnode *id = j_obj(A);
	j_set(A, id, "system", j_str(A, "urn:ietf:rfc:3986", 17));
	j_set(A, id, "value", j_str(A, urn, 45));
	j_push(A, ids, id);
}

static int map_resource(struct rec *rc, int i)
{
	struct mapped_res *mr = &rc->out->res[i];
	const struct mres *r = mr->def;
	struct jnode *res = new_resource(&rc->ctx->arena, r);
	mr->json = res;
	rc->cur = i;
	rc->holes = false;
	struct map_ctx *ctx = rc->ctx;
	if (r->nrows > ctx->guard_alloc) {
		ctx->guard_alloc = r->nrows;
		ctx->guard = xrealloc(ctx->guard, (size_t)r->nrows);
		ctx->guard_rep = xrealloc(ctx->guard_rep, (size_t)r->nrows * sizeof(int));
	}
	memset(ctx->guard, -1, (size_t)r->nrows); /* a new instance: guards unknown */
	struct source *src = rc->src;
	if (mr->anchor >= 0)
		src->ops->group_focus(src, r->foreach_handle, mr->occurrence);
	int bad = 0;
	for (int k = 0; k < r->nrows && !bad; k++) {
		const struct mrow *row = &r->rows[k];
		if (row->skip_to && !guard_holds(rc, r, k)) {
			k = row->skip_to - 1; /* nothing under a failed guard maps */
			continue;
		}
		bad = map_row(rc, r, row, res);
	}
	if (mr->anchor >= 0)
		src->ops->focus_clear(src);
	if (bad)
		return -1;
	/* every container set_path() makes gets a value: without holes
	 * (and with meta.profile filled) nothing is empty */
	if (rc->holes || !r->nprofiles)
		compact(res);
	if (fill_dar(rc, r, res))
		return -1;
	mr->if_none_exist = if_none_exist(res);
	if (!mr->if_none_exist) {
		add_technical_id(&rc->ctx->arena, mr, res);
		mr->if_none_exist = if_none_exist(res);
	}
	return 0;
}

/* Append n bytes of s to buf (holding len, cut to size - 1), NUL-terminated. */
static size_t key_add(char *buf, size_t size, size_t len, const char *s, size_t n)
{
	if (n > size - 1 - len)
		n = size - 1 - len;
	memcpy(buf + len, s, n);
	buf[len + n] = '\0';
	return len + n;
}

/* Join the key columns with '/'. */
static int record_key(struct rec *rc)
{
	const struct mstream *st = rc->st;
	struct mapped *out = rc->out;
	size_t len = 0;
	out->key[0] = '\0';
	for (int i = 0; i < st->nkeys; i++) {
		struct val v = read_operand(rc, &st->keys[i]);
		if (!v.null)
			conv_trim(&v.s, &v.n); /* a char(n) key keeps no padding */
		if (v.null) {
			snprintf(out->where, sizeof(out->where), "%s:#%ld:%s", st->table,
				 rc->src->record_no, st->keys[i].text);
			return dhp_fail(rc->err, DHP_EKEY, out->where,
					"record has no key: key column '%s' is empty",
					st->keys[i].text);
		}
		if (i)
			len = key_add(out->key, sizeof(out->key), len, "/", 1);
		len = key_add(out->key, sizeof(out->key), len, v.s, v.n);
	}
	if (rc->src->where[0])
		key_add(out->where, sizeof(out->where), 0, rc->src->where, strlen(rc->src->where));
	else
		snprintf(out->where, sizeof(out->where), "%s:%s", st->table, out->key);
	return 0;
}

/* UUID v5 of the record's place and the resource's name. The place is the
 * key, plus for message files the message's ordinal in its file (HL7
 * senders do reuse control ids; two messages must not share fullUrls). */
static void name_part(struct strbuf *sb, const char *s)
{
	strbuf_addstr(sb, s);
	strbuf_addch(sb, '|');
}

/* UUID v5 (RFC 9562 5.5): SHA-1 of namespace and name, version and
 * variant bits set, lower-case text. OpenSSL's SHA-1 instead of libuuid's:
 * this runs for every resource, and OpenSSL's is several times faster. */
static void uuid_v5(struct map_ctx *ctx, const char *name, size_t n, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	if (!EVP_DigestInit_ex2(ctx->digest, ctx->sha1, NULL) ||
	    !EVP_DigestUpdate(ctx->digest, uuid_ns, sizeof(uuid_ns)) ||
	    !EVP_DigestUpdate(ctx->digest, name, n) || !EVP_DigestFinal_ex(ctx->digest, md, NULL))
		dhp_fatal("SHA-1 failed (OpenSSL)");
	md[6] = (unsigned char)((md[6] & 0x0F) | 0x50);
	md[8] = (unsigned char)((md[8] & 0x3F) | 0x80);
	static const char hex[] = "0123456789abcdef";
	for (int i = 0, o = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[md[i] >> 4];
		out[o++] = hex[md[i] & 15];
	}
	out[36] = '\0';
}

static void make_uuid(struct map_ctx *ctx, const struct mstream *st, const char *key,
		      const char *where, const struct mres *r, int occurrence, char *out)
{
	const char *msg = where[0] ? strrchr(where, '/') : NULL;
	struct strbuf *name = &ctx->a;
	strbuf_reset(name);
	name_part(name, st->table);
	name_part(name, key);
	name_part(name, msg ? msg + 1 : where);
	name_part(name, r->type);
	name_part(name, r->name);
	/* the occurrence in decimal, as "%d" wrote it (snprintf cost more than
	 * the rest of the name) */
	char occ[16];
	size_t o = sizeof(occ);
	unsigned u = occurrence < 0 ? 0u - (unsigned)occurrence : (unsigned)occurrence;
	do
		occ[--o] = (char)('0' + u % 10);
	while (u /= 10);
	if (occurrence < 0)
		occ[--o] = '-';
	strbuf_add(name, occ + o, sizeof(occ) - o);
	/* the name was always cut at 511 bytes: keep identical ids */
	uuid_v5(ctx, name->buf, name->len < 511 ? name->len : 511, out);
}

static struct mapped_res *add_instance(struct map_ctx *ctx, struct mapped *out,
				       const struct mstream *st, const char *src_where, int k,
				       int anchor, int occurrence)
{
	if (out->n == out->alloc) {
		out->alloc = out->alloc ? out->alloc * 2 : 8;
		out->res = xrealloc(out->res, (size_t)out->alloc * sizeof(*out->res));
	}
	struct mapped_res *mr = &out->res[out->n++];
	out->block_n[k]++;
	memset(mr, 0, sizeof(*mr));
	mr->def = st->res[k];
	mr->def_index = k;
	mr->anchor = anchor;
	mr->occurrence = occurrence;
	make_uuid(ctx, st, out->key, src_where, st->res[k], occurrence, mr->uuid);
	return mr;
}

/* Does block r apply to this message (its @message list against MSH-9)? */
static bool message_matches(const struct mres *r, const char *type)
{
	if (!r->nmessages)
		return true;
	size_t tl = strlen(type);
	for (int i = 0; i < r->nmessages; i++) {
		const char *m = r->messages[i];
		size_t ml = strlen(m);
		if (streq(m, type) ||
		    (ml && m[ml - 1] == '*' && tl >= ml - 1 && strncmp(m, type, ml - 1) == 0))
			return true;
	}
	return false;
}

/* "ADT^A01" from MSH-9, or "" for sources without message types. */
static void message_type(const struct rec *rc, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!rc->st->by_message)
		return;
	struct value a = {V_NULL, "", 0}, b = {V_NULL, "", 0};
	const int *h = rc->st->msgtype;
	if (h[0] >= 0)
		source_get(rc->src, h[0], &a);
	if (h[1] >= 0)
		source_get(rc->src, h[1], &b);
	/* before v2.3 MSH-9 held the type alone and an ADT's event was EVN-1 */
	if (b.type == V_NULL && h[2] >= 0)
		source_get(rc->src, h[2], &b);
	size_t n = key_add(buf, len, 0, a.s, a.len > 20 ? 20 : a.len);
	if (b.type == V_NULL)
		return; /* no event at all: the type alone ("ORU") */
	n = key_add(buf, len, n, "^", 1);
	key_add(buf, len, n, b.s, b.len > 20 ? 20 : b.len);
}

/* Decide which resources the record builds (and their urn:uuid) before
 * mapping any, so that ref() can point at every one of them. */
static int plan_instances(struct rec *rc)
{
	const struct mstream *st = rc->st;
	struct source *src = rc->src;
	char type[48];
	message_type(rc, type, sizeof(type));
	int applicable = 0;
	struct mapped *out = rc->out;
	if (out->nblocks < st->nres) {
		out->nblocks = st->nres;
		out->block_at = xrealloc(out->block_at, (size_t)st->nres * sizeof(int));
		out->block_n = xrealloc(out->block_n, (size_t)st->nres * sizeof(int));
	}
	for (int k = 0; k < st->nres; k++) {
		const struct mres *r = st->res[k];
		out->block_at[k] = out->n; /* add_instance appends: block k's run */
		out->block_n[k] = 0;
		if (!message_matches(r, type))
			continue;
		applicable++;
		if (!r->foreach) {
			if (cond_holds(rc, r->when))
				add_instance(rc->ctx, rc->out, st, src->where, k, -1, 0);
			continue;
		}
		int n = src->ops->group_count(src, r->foreach_handle);
		for (int i = 0; i < n; i++) {
			int anchor = src->ops->group_focus(src, r->foreach_handle, i);
			bool ok = cond_holds(rc, r->when);
			src->ops->focus_clear(src);
			if (ok)
				add_instance(rc->ctx, rc->out, st, src->where, k, anchor, i);
		}
	}
	if (st->by_message && !applicable && rc->ctx->skip_unmapped) {
		rc->ctx->skipped++; /* the record builds nothing, as the job asked */
		return 0;
	}
	if (st->by_message && !applicable)
		return dhp_fail(rc->err, DHP_ECODETABLE, rc->out->where,
				"no mapping table for message type '%s' (no @message matches it)",
				type);
	return 0;
}

int map_record(struct map_ctx *ctx, const struct mstream *st, struct source *src,
	       struct mapped *out, struct dhp_error *err)
{
	struct rec rc = {.ctx = ctx, .st = st, .src = src, .out = out, .err = err};
	mapped_reset(out);
	jarena_reset(&ctx->arena); /* the previous record's trees are written or copied */
	if (record_key(&rc) || plan_instances(&rc)) {
		mapped_reset(out);
		return -1;
	}
	for (int i = 0; i < out->n; i++)
		if (map_resource(&rc, i)) {
			mapped_reset(out);
			return -1;
		}
	for (int i = 0; i < out->n; i++)
		stats_count(&ctx->stats.by_type, out->res[i].def->type, 1);
	return 0;
}
