/*
 * map.h: apply a checked mapping set to one record.
 *
 * map_record() turns the current record of a source into the resources its
 * stream's tables build: evaluates conditions and transform chains, places
 * values at their element paths, compacts arrays, fills mandatory elements
 * the source left empty with the Data Absent Reason extension, checks
 * required-binding codes, and gives each resource a deterministic urn:uuid
 * (UUID v5 of table, key and resource name: the same input always gives the
 * same bundle).
 *
 * A data problem (no key, a value a transform cannot convert, a mandatory
 * element that cannot take a DAR, a code outside a required value set)
 * fails the whole record: -1 with *err located as TABLE:KEY:COLUMN; the
 * caller rejects the record and goes on.
 */
#ifndef DHP_MAP_H
#define DHP_MAP_H

#include "fhir/jtree.h"

#include "core/hmap.h"
#include "core/strbuf.h"
#include "map/maptable.h"

struct mapped_res {
	const struct mres *def;
	int def_index;	     /* index of def in the stream's resources */
	int anchor;	     /* @for-each: the source anchor of this occurrence; else -1 */
	int occurrence;	     /* @for-each: 0-based occurrence number */
	struct jnode *json;  /* in the context's arena: valid until the next map_record */
	char uuid[37];	     /* lower-case UUID text */
	char *if_none_exist; /* "identifier=system|value" or NULL; owned */
};

struct mapped {
	struct mapped_res *res;
	int n, alloc;
	/* the instances of resource block k are res[block_at[k] ..
	 * block_at[k] + block_n[k]) (ref() looks only there) */
	int *block_at, *block_n;
	int nblocks;
	char key[256];	 /* the record key, as in locations */
	char where[320]; /* TABLE:KEY, for messages */
};

/* Counters the report needs; keys of the maps are copied, values are counts. */
struct map_stats {
	long dar;
	struct hmap dar_by_elem; /* "Patient.identifier" -> count */
	struct hmap by_type;	 /* "Observation" -> count */
};

/* Scratch space reused from record to record (no per-record malloc for values). */
struct map_ctx {
	const char *tz;	    /* default time zone of datetime() */
	bool skip_unmapped; /* a message type no table maps is skipped, not rejected */
	long skipped;	    /* messages skipped so far */
	struct strbuf a, b, path;
	/* the last datetime() converted (see datetime_memo in map.c) */
	struct strbuf dt_in, dt_out;
	const char *dt_tz;
	bool dt_valid;
	struct map_stats stats;
	/* guard results of the resource being mapped, per row: -1 unknown,
	 * else 0/1 for repetition guard_rep[i] (a guard covers many rows) */
	signed char *guard;
	int *guard_rep;
	int guard_alloc;
	struct jarena arena; /* the current record's JSON trees */
	/* SHA-1 for the UUID v5 ids, fetched once: OpenSSL 3 looks the
	 * algorithm up again on every one-shot SHA1() call */
	struct evp_md_st *sha1;
	struct evp_md_ctx_st *digest;
};

void map_ctx_init(struct map_ctx *ctx, const char *tz);
void map_ctx_release(struct map_ctx *ctx);

/* Map the current record of src. On success out holds the resources (free
 * them with mapped_reset). On failure out is empty and *err says why. */
int map_record(struct map_ctx *ctx, const struct mstream *st, struct source *src,
	       struct mapped *out, struct dhp_error *err);

void mapped_reset(struct mapped *m);
void mapped_free(struct mapped *m);

/* Increment a counter in a stats map. */
void stats_count(struct hmap *m, const char *key, long n);

#endif
