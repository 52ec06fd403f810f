/*
 * jtree.h: the JSON trees the mapper builds, allocated from an arena.
 *
 * A record's resources are built, written out and thrown away together, so
 * their nodes come from one arena that is reset per record: no malloc and
 * no free per node (with json-c, allocation and freeing were half of a
 * run). Objects keep their members in insertion order (FHIR JSON reads
 * best that way, and the output is deterministic); lookups are linear,
 * which is fast for the small objects of FHIR resources. Keys are borrowed
 * (element names of the mapping set, literals); string values are copied
 * into the arena.
 *
 * Nothing here outlives jarena_reset(): a consumer that keeps a resource
 * (the HTTP loader) converts it with jtree_to_jsonc() first.
 */
#ifndef DHP_JTREE_H
#define DHP_JTREE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/strbuf.h"

enum jtype { J_NULL, J_OBJ, J_ARR, J_STR, J_NUM, J_BOOL };

struct jnode;

struct jmember {
	const char *key;
	struct jnode *val;
	struct jmember *next;
};

struct jnode {
	enum jtype type;
	union {
		struct {
			struct jmember *first, *last;
		} obj;
		struct {
			struct jnode **items; /* NULL items are holes */
			size_t n, alloc;
		} arr;
		struct {
			const char *s; /* J_STR text, or J_NUM digits as written */
			size_t n;
		} str;
		bool b;
	} u;
};

struct jchunk;

struct jarena {
	struct jchunk *head;  /* chunk being filled */
	struct jchunk *spare; /* chunks kept by reset */
};

void jarena_init(struct jarena *a);
/* Forget every node; the memory is kept for the next record. */
void jarena_reset(struct jarena *a);
void jarena_release(struct jarena *a);

struct jnode *j_obj(struct jarena *a);
struct jnode *j_arr(struct jarena *a);
struct jnode *j_str(struct jarena *a, const char *s, size_t n); /* copies s */
struct jnode *j_num(struct jarena *a, const char *s, size_t n); /* copies the digits */
struct jnode *j_bool(struct jarena *a, bool b);

/* Member `key` of obj, or NULL. */
struct jnode *j_get(const struct jnode *obj, const char *key);
/* Set member `key` (replacing its value, or appended at the end). */
void j_set(struct jarena *a, struct jnode *obj, const char *key, struct jnode *val);
/* Remove member `key` if present. */
void j_del(struct jnode *obj, const char *key);

/* Item i of arr (NULL for a hole or past the end). */
struct jnode *j_at(const struct jnode *arr, size_t i);
/* Put val at index i, growing the array with holes as needed. */
void j_put(struct jarena *a, struct jnode *arr, size_t i, struct jnode *val);
void j_push(struct jarena *a, struct jnode *arr, struct jnode *val);

/* Append the JSON text in json-c's spaced layout ({ "k": v }, [ a, b ]). */
void j_write(struct strbuf *sb, const struct jnode *n);
/* A json-c copy (caller owns it). */
json_object *jtree_to_jsonc(const struct jnode *n);

#endif
