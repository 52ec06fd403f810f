/*
 * profile.h: UZ Core profile constraints, loaded from the profile tables in
 * mappings/profiles/ (format: docs/mapping-spec.md section 5 and
 * dhp-import-mapping(5)).
 *
 * A profile is a list of elements (path, cardinality, types, flags, fixed
 * value, binding) indexed by path. The pseudo-profile "datatypes" holds the
 * elements of FHIR complex datatypes (Coding.system, ...), so a mapping
 * path can be followed from a resource into its datatypes. Everything is
 * loaded once at start-up and read-only afterwards.
 */
#ifndef DHP_PROFILE_H
#define DHP_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "core/hmap.h"

enum pelem_flags {
	PE_MS = 1 << 0,	      /* must support */
	PE_NODAR = 1 << 1,    /* mandatory, but a DAR cannot satisfy it */
	PE_MODIFIER = 1 << 2, /* modifier element */
	PE_ARRAY = 1 << 3,    /* the base element repeats: a JSON array even when max is 1 */
};

struct pelem {
	char *path;   /* "Observation.value[x]", slices as "Patient.identifier:nationalId" */
	int min, max; /* max -1 = unbounded */
	char **types; /* FHIR type codes; "@Observation.referenceRange" = content reference */
	int ntypes;
	unsigned flags;
	char *fixed;	   /* "pattern:{...}" / "fixed:..." or NULL */
	char *strength;	   /* binding strength or NULL */
	char *valueset;	   /* bound value set or NULL */
	struct hmap codes; /* required binding codes (value = non-NULL marker), may be empty */
	int line;	   /* line in the table file */
	char **segs;	   /* mandatory elements: the names after the type, split once */
	int nseg;
};

struct profile {
	char *url;
	char *resource; /* resource type, or "datatypes" */
	char *file;
	bool is_default;
	struct pelem *elems;
	size_t n, alloc;
	struct hmap index; /* path -> struct pelem* */
	size_t *mand;	   /* indexes of the mandatory elements outside slices (for DAR) */
	size_t nmand;
};

struct profiles {
	struct profile **list;
	size_t n, alloc;
	struct profile *datatypes;
	char *dir;
};

/* Load every *.tsv of dir; errors are FILE:LINE:COL. 0 or -1. */
int profiles_load(struct profiles *ps, const char *dir, struct dhp_error *err);
void profiles_free(struct profiles *ps);

const struct profile *profiles_by_url(const struct profiles *ps, const char *url);
const struct profile *profiles_default(const struct profiles *ps, const char *resource);

/* The element at `path` (length len) or NULL. */
const struct pelem *profile_elem(const struct profile *p, const char *path, size_t len);

/* True when the element is a JSON array (it may repeat in the base resource). */
bool pelem_is_array(const struct pelem *e);

/* True when `type` names a FHIR primitive type (lower-case first letter). */
bool fhir_is_primitive(const char *type);

#endif
