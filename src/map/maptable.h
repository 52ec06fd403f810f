/*
 * maptable.h: mapping tables, compiled and checked.
 *
 * A mapping set is a directory of *.map files (syntax: dhp-import-mapping(5),
 * docs/mapping-spec.md). Loading parses every table, groups the tables by
 * record stream (the @query they name), resolves every target path against
 * the UZ Core profile tables and the datatype table, types each transform
 * chain, loads the code tables, and reports the first problem as
 * FILE:LINE:COL. After loading, the set is read-only; map.h applies it.
 */
#ifndef DHP_MAPTABLE_H
#define DHP_MAPTABLE_H

#include <stdbool.h>

#include "core/err.h"
#include "core/hmap.h"
#include "extract/source.h"
#include "map/profile.h"

struct codetable;

/* What a transform chain produces. */
enum vkind { K_STRING, K_DATE, K_DATETIME, K_DECIMAL, K_INTEGER, K_BOOLEAN, K_REFERENCE };

/* An argument or source operand: a column (resolved to a handle) or a literal. */
struct operand {
	bool is_col;
	char *text; /* column name or literal text */
	int handle; /* source handle once resolved, else -1 */
	int line, col;
};

enum xf_kind {
	XF_TRIM,
	XF_UPPER,
	XF_LOWER,
	XF_DATE,
	XF_DATETIME,
	XF_DECIMAL,
	XF_INTEGER,
	XF_BOOLEAN,
	XF_CODE,
	XF_MAP,
	XF_CONCAT,
	XF_DEFAULT,
	XF_SPLIT,
	XF_REF, /* conditional reference to a resource of another record */
	XF_BASE64,
	XF_JOIN, /* the present arguments, separated */
};

struct xform {
	enum xf_kind kind;
	struct operand *args;
	int nargs;
	const struct codetable *table; /* XF_CODE */
	int table_col;		       /* XF_CODE */
	struct hmap pairs;	       /* XF_MAP: key -> value (char *) */
	const char *fallback;	       /* XF_MAP: value of '*' */
	int split_index;	       /* XF_SPLIT */
	int line, col;
};

enum cond_op { C_PRESENT, C_ABSENT, C_EQ, C_NE, C_IN };

struct cond {
	enum cond_op op;
	struct operand lhs;
	char **vals;
	size_t *lens; /* of vals: compared for every row a condition guards */
	int nvals;
};

#define PSTEP_STAR (-2) /* [*]: the repetition being read */

struct pstep {
	const char *name; /* interned in the mapping set: equal names, equal pointers */
	int index;	  /* -1: single-valued element; PSTEP_STAR */
};

enum src_kind { S_COLUMN, S_LITERAL, S_LOCALREF, S_NONE };

struct mrow {
	int line, col;
	char *target; /* as written */
	struct pstep *steps;
	int nsteps;
	enum src_kind src;
	struct operand operand; /* S_COLUMN / S_LITERAL */
	int ref_res;		/* S_LOCALREF: index into the stream's resources */
	const struct operand
	    *star_src; /* target has a [*] step: the [*] operand giving its count */
	struct xform *xf;
	int nxf;
	struct cond *when;
	char *absent;	  /* DAR code chosen by absent(), or NULL */
	char *elem_path;  /* profile element path of the target, "Patient.birthDate" */
	const char *type; /* FHIR type of the target leaf */
	enum vkind out;	  /* what the chain produces */
	bool guard;	  /* `-` source with when(): guards the subtree */
	int *guards;	  /* indices (in the resource's rows) of guards covering this row */
	int nguards;
	bool uri_like;		     /* uri, url or canonical: unsafe characters percent-encoded */
	bool instant;		     /* an instant: a value without a time is left out */
	const struct pelem *binding; /* a code bound to an enumerated required value set */
	int scope_end;		     /* a guard from a datatype row: covers rows up to this index
					(exclusive) only, else every row under its target */
	const char *origin;	     /* datatype template row this row was expanded from, or NULL */
	int skip_to; /* a guard covering every row up to this index (exclusive) whatever
			the repetition: when it fails, map.c skips them all */
};

struct mres {
	char *type;
	char *name;
	char *foreach;	    /* @for-each group ("OBX"), or NULL: one resource per record */
	int foreach_handle; /* source group handle once bound */
	int foreach_line;
	char **messages; /* @message types this block applies to ("ADT^A01", "ORU^*"), or none */
	int nmessages;
	char **profiles;
	int nprofiles;
	const struct profile **tabs; /* profile tables found for the URLs (NULL if none) */
	const struct pelem *id_elem; /* TYPE.identifier in the first profile, or NULL */
	struct cond *when;
	struct mrow *rows;
	int nrows, arows;
	const char *file;
	int line;
};

/* A datatype template: `@datatype XPN HumanName` and the rows under it in a
 * datatype library file. A row `name[*]  PID-5[*]  xpn` is replaced by these
 * rows, their targets under the row's target and their `.N` paths under the
 * row's source path (dhp-import-mapping(5), "Datatype transforms"). */
struct dtmpl {
	char *name;	/* "XPN" */
	char *type;	/* the FHIR type it fills: "HumanName" */
	char **rows;	/* row text as written */
	char **origins; /* "datatype XPN (HumanName) at FILE:LINE", per row */
	int nrows;
	const char *file;
	int line;
};

struct mstream {
	char *query_file; /* absolute or relative to cwd; "@message" for message sources */
	bool by_message;  /* HL7v2: each record applies the blocks whose @message matches */
	int msgtype[3];	  /* handles of MSH-9.1, MSH-9.2 and EVN-1 once bound */
	char *table;	  /* location name */
	int order;
	struct operand *keys;
	int nkeys;
	struct mres **res; /* every resource block of every table bound to this stream */
	int nres, ares;
	char *key_file; /* where @key was given */
	int key_line;
};

struct mapset {
	struct mstream *streams; /* sorted by order, then query file */
	int nstreams, astreams;
	struct profiles profiles;
	struct hmap codetables; /* name -> struct codetable* */
	char *dir;
	char *terminology_dir;
	/* every allocated resource block, for freeing */
	struct mres **all;
	int nall, aall;
	char **files;
	int nfiles, afiles;
	struct dtmpl *dts; /* datatype templates of the set's library files */
	int ndts;
	int nlibraries;	   /* of the files, datatype libraries */
	struct hmap names; /* element names of target paths, interned (name -> char *) */
};

struct mapset_paths {
	const char *mappings;	 /* directory of *.map files */
	const char *profiles;	 /* directory of profile tables */
	const char *terminology; /* shared code tables (may be NULL) */
};

/* Load and check a mapping set. 0 or -1 with *err located at FILE:LINE:COL. */
int mapset_load(struct mapset *ms, const struct mapset_paths *paths, struct dhp_error *err);
void mapset_free(struct mapset *ms);

/* Resolve every column operand of a stream against an opened source. On an
 * unknown column: -1, *err names the mapping FILE:LINE:COL and the column. */
int mstream_bind(struct mstream *st, struct source *src, struct dhp_error *err);

#endif
