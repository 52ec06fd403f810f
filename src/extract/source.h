/*
 * source.h: the source-neutral record abstraction.
 *
 * A source (one backend per file: extract_pg.c today; HL7v2 and XML next)
 * yields records, one unit of input each: a SQL row, an HL7v2 message, an
 * XML record element. The mapping engine never sees the backend: it
 * compiles each source path once into a handle (source_resolve) and then
 * reads typed values by handle (record_get), so a 10-million-row run does
 * no per-row name lookups.
 *
 * Values are borrowed: valid until the next source_next() call.
 */
#ifndef DHP_SOURCE_H
#define DHP_SOURCE_H

#include <stddef.h>

#include "core/err.h"

/* What the source knows about a value's type; text is always given. */
enum vtype {
	V_NULL,
	V_TEXT,
	V_INT,
	V_DECIMAL,
	V_BOOL,
	V_DATE,
	V_TIMESTAMP,   /* without time zone: local time of the job's zone */
	V_TIMESTAMPTZ, /* with an offset in the text */
};

struct value {
	enum vtype type;
	const char *s; /* len bytes, not necessarily NUL-terminated; "" when V_NULL */
	size_t len;
};

struct source;

struct source_ops {
	/* Compile a source path (a column name for pg) into a handle >= 0, or
	 * return -1 when the source has no such path. */
	int (*resolve)(struct source *src, const char *path);
	/* Advance to the next record: 1 got one, 0 end of input, -1 error. */
	int (*next)(struct source *src, struct dhp_error *err);
	/* Read a value of the current record. */
	void (*get)(const struct source *src, int handle, struct value *out);
	void (*close)(struct source *src);

	/* Nested sources only (HL7v2 segments and groups); NULL in flat ones.
	 * A group ("OBX") is compiled to a handle like a path. Focusing on
	 * occurrence i of a group makes paths of that segment read from it and
	 * paths of other segments from their nearest occurrence before it. An
	 * anchor identifies one occurrence (a segment index). */
	int (*resolve_group)(struct source *src, const char *name);
	int (*group_count)(const struct source *src, int group);
	int (*group_focus)(struct source *src, int group, int i);    /* -> anchor */
	int (*group_at)(const struct source *src, int group, int i); /* anchor, no focus */
	void (*focus_clear)(struct source *src);
	/* The anchor of the occurrence of `group` that `anchor` belongs to (its
	 * nearest occurrence at or before `anchor`), or -1. */
	int (*group_of)(const struct source *src, int anchor, int group);
	/* Repetitions behind a value handle compiled from a path with [*]. */
	int (*reps)(const struct source *src, int handle);
};

struct source {
	const struct source_ops *ops;
	const char *name; /* location prefix: table/stream name, file name */
	long record_no;	  /* 1-based number of the current record */
	int rep;	  /* 0-based repetition that [*] handles read */
	char where[128];  /* the record's location when the source names it (FILE:msg#N) */
};

static inline int source_resolve(struct source *s, const char *path)
{
	return s->ops->resolve(s, path);
}
static inline int source_next(struct source *s, struct dhp_error *err)
{
	return s->ops->next(s, err);
}
static inline void source_get(const struct source *s, int h, struct value *out)
{
	s->ops->get(s, h, out);
}
static inline void source_close(struct source *s)
{
	if (s)
		s->ops->close(s);
}

#endif
