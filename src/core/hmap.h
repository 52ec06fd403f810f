/*
 * hmap.h: a string-keyed hash map (open addressing, FNV-1a).
 *
 * Keys are copied into the map; values are borrowed pointers the caller
 * owns. Lookups take (pointer, length) so callers can probe with slices of
 * a larger buffer without copying. Used for profile element indexes and
 * report counters: small, built once, read many times.
 */
#ifndef DHP_HMAP_H
#define DHP_HMAP_H

#include <stddef.h>

struct hmap_entry {
	char *key;
	size_t keylen;
	void *value;
};

struct hmap {
	struct hmap_entry *slots;
	size_t nslots; /* power of two, or 0 */
	size_t count;
};

#define HMAP_INIT                                                                                  \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* Insert or replace; returns the previous value or NULL. */
void *hmap_put(struct hmap *m, const char *key, size_t keylen, void *value);
void *hmap_get(const struct hmap *m, const char *key, size_t keylen);
/* The slot of key, inserted with value NULL when absent (for counters). */
struct hmap_entry *hmap_slot(struct hmap *m, const char *key, size_t keylen);
/* Free the keys and the table (not the values). */
void hmap_clear(struct hmap *m);

#define hmap_gets(m, s) hmap_get((m), (s), strlen(s))

#endif
