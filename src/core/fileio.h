/*
 * fileio.h: whole-file reads for small text inputs (config, mapping and
 * profile tables, SQL), capped so a wrong path to a huge file fails clearly.
 */
#ifndef DHP_FILEIO_H
#define DHP_FILEIO_H

#include <stddef.h>

#include "core/err.h"

#define FILEIO_MAX (16u << 20)

/* Read `path` into a NUL-terminated malloc'd buffer; NULL and *err on failure. */
char *fileio_read(const char *path, size_t *len, struct dhp_error *err);

/* Join dir and a relative path (an absolute `rel` is returned as is). Caller frees. */
char *fileio_join(const char *dir, const char *rel);

/* Directory part of a path ("." when none). Caller frees. */
char *fileio_dirname(const char *path);

#endif
