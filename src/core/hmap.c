#include "core/dhp.h"
#include "core/hmap.h"

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static struct hmap_entry *find(const struct hmap *m, const char *key, size_t keylen)
{
	size_t mask = m->nslots - 1;
	for (size_t i = fnv1a(key, keylen) & mask;; i = (i + 1) & mask) {
		struct hmap_entry *e = &m->slots[i];
		if (!e->key || (e->keylen == keylen && memcmp(e->key, key, keylen) == 0))
			return e;
	}
}

static void rehash(struct hmap *m)
{
	struct hmap old = *m;
	m->nslots = old.nslots ? old.nslots * 2 : 16;
	m->slots = xcalloc(m->nslots, sizeof(*m->slots));
	for (size_t i = 0; i < old.nslots; i++)
		if (old.slots[i].key)
			*find(m, old.slots[i].key, old.slots[i].keylen) = old.slots[i];
	free(old.slots);
}

struct hmap_entry *hmap_slot(struct hmap *m, const char *key, size_t keylen)
{
	/* Keep the load factor under 1/2 so probes stay short. */
	if ((m->count + 1) * 2 > m->nslots)
		rehash(m);
	struct hmap_entry *e = find(m, key, keylen);
	if (!e->key) {
		e->key = xstrndup(key, keylen);
		e->keylen = keylen;
		e->value = NULL;
		m->count++;
	}
	return e;
}

void *hmap_put(struct hmap *m, const char *key, size_t keylen, void *value)
{
	struct hmap_entry *e = hmap_slot(m, key, keylen);
	void *old = e->value;
	e->value = value;
	return old;
}

void *hmap_get(const struct hmap *m, const char *key, size_t keylen)
{
	if (!m->nslots)
		return NULL;
	return find(m, key, keylen)->value;
}

void hmap_clear(struct hmap *m)
{
	for (size_t i = 0; i < m->nslots; i++)
		free(m->slots[i].key);
	free(m->slots);
	*m = (struct hmap)HMAP_INIT;
}
