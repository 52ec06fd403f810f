#include "core/dhp.h"
#include "fhir/jtree.h"

#define CHUNK (64u << 10)

struct jchunk {
	struct jchunk *next;
	size_t used, size;
	max_align_t data[]; /* aligned for any node */
};

void jarena_init(struct jarena *a)
{
	a->head = a->spare = NULL;
}

/* alloc() when the chunk being filled has no room: a new one. */
__attribute__((noinline)) static void *alloc_chunk(struct jarena *a, size_t n)
{
	struct jchunk *c;
	size_t size = n > CHUNK ? n : CHUNK;
	if (a->spare && a->spare->size >= size) {
		c = a->spare;
		a->spare = c->next;
	} else {
		c = xmalloc(sizeof(*c) + size);
		c->size = size;
	}
	c->used = n;
	c->next = a->head;
	a->head = c;
	return c->data;
}

/* n bytes from the arena, aligned for any node. Inline: nodes and members
 * are allocated by the million, and their sizes round at compile time. */
static inline void *alloc(struct jarena *a, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	struct jchunk *c = a->head;
	if (!c || c->size - c->used < n)
		return alloc_chunk(a, n);
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

void jarena_reset(struct jarena *a)
{
	while (a->head) {
		struct jchunk *c = a->head;
		a->head = c->next;
		c->next = a->spare;
		a->spare = c;
	}
}

void jarena_release(struct jarena *a)
{
	jarena_reset(a);
	while (a->spare) {
		struct jchunk *c = a->spare;
		a->spare = c->next;
		free(c);
	}
}

static struct jnode *node(struct jarena *a, enum jtype t)
{
	struct jnode *n = alloc(a, sizeof(*n));
	memset(n, 0, sizeof(*n));
	n->type = t;
	return n;
}

struct jnode *j_obj(struct jarena *a)
{
	return node(a, J_OBJ);
}

struct jnode *j_arr(struct jarena *a)
{
	return node(a, J_ARR);
}

static struct jnode *text(struct jarena *a, enum jtype t, const char *s, size_t n)
{
	struct jnode *j = node(a, t);
	char *copy = alloc(a, n + 1);
	memcpy(copy, s, n);
	copy[n] = '\0';
	j->u.str.s = copy;
	j->u.str.n = n;
	return j;
}

struct jnode *j_str(struct jarena *a, const char *s, size_t n)
{
	return text(a, J_STR, s, n);
}

struct jnode *j_num(struct jarena *a, const char *s, size_t n)
{
	return text(a, J_NUM, s, n);
}

struct jnode *j_bool(struct jarena *a, bool b)
{
	struct jnode *j = node(a, J_BOOL);
	j->u.b = b;
	return j;
}

/* Whether member key k is key: the same pointer (keys are mostly the mapping
 * set's element names), else compared, the first byte inline since most
 * keys of an object differ there already. */
static inline bool key_eq(const char *k, const char *key)
{
	return k == key || (k[0] == key[0] && streq(k, key));
}

struct jnode *j_get(const struct jnode *obj, const char *key)
{
	if (!obj || obj->type != J_OBJ)
		return NULL;
	for (const struct jmember *m = obj->u.obj.first; m; m = m->next)
		if (key_eq(m->key, key))
			return m->val;
	return NULL;
}

void j_set(struct jarena *a, struct jnode *obj, const char *key, struct jnode *val)
{
	for (struct jmember *m = obj->u.obj.first; m; m = m->next)
		if (key_eq(m->key, key)) {
			m->val = val;
			return;
		}
	struct jmember *m = alloc(a, sizeof(*m));
	m->key = key;
	m->val = val;
	m->next = NULL;
	if (obj->u.obj.last)
		obj->u.obj.last->next = m;
	else
		obj->u.obj.first = m;
	obj->u.obj.last = m;
}

void j_del(struct jnode *obj, const char *key)
{
	struct jmember *prev = NULL;
	for (struct jmember *m = obj->u.obj.first; m; prev = m, m = m->next) {
		if (!streq(m->key, key))
			continue;
		if (prev)
			prev->next = m->next;
		else
			obj->u.obj.first = m->next;
		if (obj->u.obj.last == m)
			obj->u.obj.last = prev;
		return;
	}
}

struct jnode *j_at(const struct jnode *arr, size_t i)
{
	return arr && arr->type == J_ARR && i < arr->u.arr.n ? arr->u.arr.items[i] : NULL;
}

void j_put(struct jarena *a, struct jnode *arr, size_t i, struct jnode *val)
{
	if (i >= arr->u.arr.alloc) {
		size_t n = arr->u.arr.alloc ? arr->u.arr.alloc * 2 : 4;
		while (n <= i)
			n *= 2;
		struct jnode **items = alloc(a, n * sizeof(*items));
		if (arr->u.arr.n)
			memcpy(items, arr->u.arr.items, arr->u.arr.n * sizeof(*items));
		arr->u.arr.items = items;
		arr->u.arr.alloc = n;
	}
	for (size_t k = arr->u.arr.n; k < i; k++)
		arr->u.arr.items[k] = NULL;
	arr->u.arr.items[i] = val;
	if (i >= arr->u.arr.n)
		arr->u.arr.n = i + 1;
}

void j_push(struct jarena *a, struct jnode *arr, struct jnode *val)
{
	j_put(a, arr, arr->u.arr.n, val);
}

/*
 * The writer fills the strbuf's memory directly: a resource is a few
 * hundred pieces of a few bytes, and an append each (with its room check,
 * length update and NUL) cost more than the bytes. Each piece checks room
 * for its worst case against `end` and is written with a raw pointer;
 * only when the room runs out does room() grow the buffer. A piece whose
 * worst case the cap does not allow goes through the strbuf appends,
 * which apply the cap to what is actually written (and keep a broken
 * buffer as it was). The write position p is passed and returned, not
 * stored, so that it stays in a register.
 */
struct jw {
	struct strbuf *sb;
	char *end; /* where the NUL of a full buffer goes; the position once broken */
};

/* w->end for the buffer as it is now, sb->len being the position. */
static void jw_sync(struct jw *w)
{
	struct strbuf *sb = w->sb;
	w->end = sb->buf + sb->len;
	if (!sb->toobig && sb->alloc)
		w->end += sb->alloc - 1 - sb->len;
}

static inline bool fits(const struct jw *w, const char *p, size_t need)
{
	return (size_t)(w->end - p) >= need;
}

/* Room for need bytes at p: the position (the buffer may have moved), or
 * NULL when the cap does not allow them; sb->len is p's offset either way. */
__attribute__((noinline)) static char *room(struct jw *w, char *p, size_t need)
{
	struct strbuf *sb = w->sb;
	sb->len = (size_t)(p - sb->buf);
	bool ok = strbuf_reserve(sb, need);
	jw_sync(w);
	return ok ? sb->buf + sb->len : NULL;
}

/* A piece room() could not make room for, appended (escaped or not) at
 * sb->len through the strbuf functions; returns the new position. */
__attribute__((noinline)) static char *append(struct jw *w, const char *s, size_t n, bool escape)
{
	struct strbuf *sb = w->sb;
	if (escape)
		strbuf_add_json_escaped(sb, s, n);
	else
		strbuf_add(sb, s, n);
	jw_sync(w);
	return sb->buf + sb->len;
}

/* n bytes as they are. */
static inline char *put(struct jw *w, char *p, const char *s, size_t n)
{
	if (!fits(w, p, n) && !(p = room(w, p, n)))
		return append(w, s, n, false);
	memcpy(p, s, n);
	return p + n;
}

/* put_str() of a long string, or one the cap leaves no room for at its
 * worst case. */
__attribute__((noinline)) static char *put_str_append(struct jw *w, char *p, const char *s,
						      size_t n)
{
	w->sb->len = (size_t)(p - w->sb->buf);
	p = append(w, "\"", 1, false);
	p = append(w, s, n, true);
	return put(w, p, "\"", 1);
}

/* A string, quoted and escaped. */
static inline char *put_str(struct jw *w, char *p, const char *s, size_t n)
{
	size_t need = 6 * n + 2;
	if (n > STRBUF_ESCAPE_AHEAD || !fits(w, p, need)) {
		char *at = n > STRBUF_ESCAPE_AHEAD ? NULL : room(w, p, need);
		if (!at) /* the buffer did not move */
			return put_str_append(w, p, s, n);
		p = at;
	}
	*p++ = '"';
	p = json_escape_to(p, s, n);
	*p++ = '"';
	return p;
}

/* Bytes a key may hold unescaped: not control characters (nor the NUL
 * that ends it), '"' or '\\'. */
static const unsigned char plain_key[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

#define KEY_FAST 48 /* longest key copied without knowing its length; 4 | KEY_FAST */

/* A member's `, "key": ` (` "key": ` for the first). Keys are element
 * names, short and with nothing to escape: copied byte by byte, up to
 * KEY_FAST of them, into room reserved for that. A longer key, or one with
 * something to escape, is written as a string instead. */
static inline char *put_key(struct jw *w, char *p, const char *key, bool first)
{
	if (!fits(w, p, KEY_FAST + 6)) {
		char *at = room(w, p, KEY_FAST + 6);
		p = at ? at : w->sb->buf + w->sb->len;
		if (!at)
			goto other;
	}
	char *q = p;
	if (!first)
		*q++ = ',';
	*q++ = ' ';
	*q++ = '"';
	/* four bytes a round, each read only when the one before was not the
	 * NUL; the length is checked once a round */
	const unsigned char *k = (const unsigned char *)key;
	size_t i = 0;
	for (;; i += 4) {
		if (i == KEY_FAST) /* longer keys: k[i] is not the NUL */
			break;
		if (!plain_key[k[i]])
			break;
		q[i] = (char)k[i];
		if (!plain_key[k[i + 1]]) {
			i += 1;
			break;
		}
		q[i + 1] = (char)k[i + 1];
		if (!plain_key[k[i + 2]]) {
			i += 2;
			break;
		}
		q[i + 2] = (char)k[i + 2];
		if (!plain_key[k[i + 3]]) {
			i += 3;
			break;
		}
		q[i + 3] = (char)k[i + 3];
	}
	if (k[i])
		goto other;
	q += i;
	memcpy(q, "\": ", 3);
	return q + 3;
other:
	p = put(w, p, first ? " " : ", ", first ? 1 : 2);
	p = put_str(w, p, key, strlen(key));
	return put(w, p, ": ", 2);
}

static char *put_node(struct jw *w, char *p, const struct jnode *n);

/* A member's or item's value: strings, most of them, written here rather
 * than through one more call. */
static inline char *put_value(struct jw *w, char *p, const struct jnode *n)
{
	if (n && n->type == J_STR)
		return put_str(w, p, n->u.str.s, n->u.str.n);
	return put_node(w, p, n);
}

static char *put_node(struct jw *w, char *p, const struct jnode *n)
{
	if (!n)
		return put(w, p, "null", 4);
	switch (n->type) {
	case J_OBJ:
		p = put(w, p, "{", 1);
		for (const struct jmember *m = n->u.obj.first; m; m = m->next) {
			p = put_key(w, p, m->key, m == n->u.obj.first);
			p = put_value(w, p, m->val);
		}
		return put(w, p, " }", 2);
	case J_ARR:
		p = put(w, p, "[", 1);
		for (size_t i = 0; i < n->u.arr.n; i++) {
			p = i ? put(w, p, ", ", 2) : put(w, p, " ", 1);
			p = put_value(w, p, n->u.arr.items[i]);
		}
		return put(w, p, " ]", 2);
	case J_STR:
		return put_str(w, p, n->u.str.s, n->u.str.n);
	case J_NUM:
		return put(w, p, n->u.str.s, n->u.str.n);
	case J_BOOL:
		return n->u.b ? put(w, p, "true", 4) : put(w, p, "false", 5);
	case J_NULL:
		break;
	}
	return put(w, p, "null", 4);
}

void j_write(struct strbuf *sb, const struct jnode *n)
{
	struct jw w = {sb, NULL};
	jw_sync(&w);
	char *p = put_node(&w, sb->buf + sb->len, n);
	sb->len = (size_t)(p - sb->buf);
	if (sb->alloc)
		sb->buf[sb->len] = '\0';
}

json_object *jtree_to_jsonc(const struct jnode *n)
{
	if (!n)
		return NULL;
	switch (n->type) {
	case J_OBJ: {
		json_object *o = json_object_new_object();
		for (const struct jmember *m = n->u.obj.first; m; m = m->next)
			json_object_object_add(o, m->key, jtree_to_jsonc(m->val));
		return o;
	}
	case J_ARR: {
		json_object *o = json_object_new_array();
		for (size_t i = 0; i < n->u.arr.n; i++)
			json_object_array_add(o, jtree_to_jsonc(n->u.arr.items[i]));
		return o;
	}
	case J_STR:
		return json_object_new_string_len(n->u.str.s, (int)n->u.str.n);
	case J_NUM: {
		/* integers stay integers; decimals keep their digits */
		if (!memchr(n->u.str.s, '.', n->u.str.n) && !memchr(n->u.str.s, 'e', n->u.str.n) &&
		    !memchr(n->u.str.s, 'E', n->u.str.n))
			return json_object_new_int64(strtoll(n->u.str.s, NULL, 10));
		return json_object_new_double_s(strtod(n->u.str.s, NULL), n->u.str.s);
	}
	case J_BOOL:
		return json_object_new_boolean(n->u.b);
	case J_NULL:
		return NULL;
	}
	return NULL;
}
