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

/* A member's `, "key": ` (` "key": ` for the first) in one append: keys
 * are element names, short and with nothing to escape; any other key goes
 * through the escaper. */
static void write_key(struct strbuf *sb, const char *key, bool first)
{
	char buf[64];
	size_t n = 0;
	if (!first)
		buf[n++] = ',';
	buf[n++] = ' ';
	buf[n++] = '"';
	size_t start = n;
	for (const char *k = key; *k; k++) {
		unsigned char c = (unsigned char)*k;
		if (n == sizeof(buf) - 3 || c < 0x20 || c == '"' || c == '\\') {
			strbuf_add(sb, buf, start);
			strbuf_add_json_escaped(sb, key, strlen(key));
			strbuf_add(sb, "\": ", 3);
			return;
		}
		buf[n++] = (char)c;
	}
	buf[n++] = '"';
	buf[n++] = ':';
	buf[n++] = ' ';
	strbuf_add(sb, buf, n);
}

void j_write(struct strbuf *sb, const struct jnode *n)
{
	if (!n) {
		strbuf_addstr(sb, "null");
		return;
	}
	switch (n->type) {
	case J_OBJ:
		strbuf_addch(sb, '{');
		for (const struct jmember *m = n->u.obj.first; m; m = m->next) {
			write_key(sb, m->key, m == n->u.obj.first);
			j_write(sb, m->val);
		}
		strbuf_add(sb, " }", 2);
		break;
	case J_ARR:
		strbuf_addch(sb, '[');
		for (size_t i = 0; i < n->u.arr.n; i++) {
			strbuf_addstr(sb, i ? ", " : " ");
			j_write(sb, n->u.arr.items[i]);
		}
		strbuf_add(sb, " ]", 2);
		break;
	case J_STR:
		strbuf_addch(sb, '"');
		strbuf_add_json_escaped(sb, n->u.str.s, n->u.str.n);
		strbuf_addch(sb, '"');
		break;
	case J_NUM:
		strbuf_add(sb, n->u.str.s, n->u.str.n);
		break;
	case J_BOOL:
		strbuf_addstr(sb, n->u.b ? "true" : "false");
		break;
	case J_NULL:
		strbuf_addstr(sb, "null");
		break;
	}
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
