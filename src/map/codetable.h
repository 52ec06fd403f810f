/*
 * codetable.h: CSV code tables (local code -> national/international code).
 *
 * File format: UTF-8 CSV (RFC 4180 quoting), first line a header whose
 * first column is `source` and second `target`; further columns (system,
 * display, ...) are addressed by name. Source values are matched exactly
 * after trimming white space. A row whose source is `*` is the fallback for
 * every value not listed. Blank lines and lines starting with '#' are skipped.
 * A duplicate source is an error (FILE:LINE).
 */
#ifndef DHP_CODETABLE_H
#define DHP_CODETABLE_H

#include <stddef.h>

#include "core/err.h"

struct codetable;

/* Load a table; NULL and *err (FILE:LINE:COL) on failure. Free with codetable_free(). */
struct codetable *codetable_load(const char *path, struct dhp_error *err);
void codetable_free(struct codetable *t);

/* Index of the column named `name`, or -1. Column 1 is `target`. */
int codetable_column(const struct codetable *t, const char *name);

/* The value in column `col` for source key s[0..n), the fallback row's when
 * the key is not listed, or NULL when neither exists. An empty cell gives "".
 * Borrowed: valid until codetable_free(). */
const char *codetable_lookup(const struct codetable *t, const char *s, size_t n, int col);

/* Path the table was loaded from (for messages). */
const char *codetable_path(const struct codetable *t);

#endif
