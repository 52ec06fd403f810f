/*
 * load_dir.h: the dry-run loader, transaction Bundles written to files.
 *
 * Records are gathered into FHIR R5 transaction Bundles of up to N source
 * records each (the resources of one record always travel together) and
 * written as DIR/bundle-000001.json, ... (one entry per line, written to
 * a temporary name and renamed, so a crash never leaves half a bundle).
 * Each entry: fullUrl urn:uuid:..., the resource, request POST TYPE with
 * ifNoneExist on the business identifier when there is one. Stale
 * bundle-*.json files of an earlier run in DIR are removed at open.
 */
#ifndef DHP_LOAD_DIR_H
#define DHP_LOAD_DIR_H

#include "core/err.h"
#include "map/map.h"

struct dirload;

struct dirload *dirload_open(const char *dir, int records_per_bundle, struct dhp_error *err);
/* Add one record's resources (copied by reference count; m may be reset after). */
int dirload_add(struct dirload *dl, const struct mapped *m, struct dhp_error *err);
/* Write the last partial bundle. */
int dirload_finish(struct dirload *dl, struct dhp_error *err);
void dirload_free(struct dirload *dl);

long dirload_bundles(const struct dirload *dl);
long dirload_resources(const struct dirload *dl);

#endif
