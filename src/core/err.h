/*
 * err.h: errors that carry a stable code, a located message and details.
 *
 * Contract (after git's `struct strbuf *err`): a function that can fail
 * returns int (0 ok, -1 failed) and fills *err only on failure, so calls can
 * be chained. Reporting needs no malloc: all text lives in fixed buffers.
 *
 * The location is text, already formatted for the source kind:
 *   config and mapping files   FILE:LINE:COL
 *   database rows              TABLE:KEY:COLUMN
 *   HL7v2 messages             FILE:msg#N:SEG-F
 * It names where the problem is, never patient data: records are named by
 * source location and key, not by name or PINFL.
 */
#ifndef DHP_ERR_H
#define DHP_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* Stable error codes: their names appear in reject files and reports. */
enum dhp_code {
	DHP_OK = 0,
	DHP_ESYNTAX,	/* malformed config / mapping / code table line */
	DHP_EPATH,	/* unknown element path or directive */
	DHP_ETYPE,	/* type mismatch between transform and target */
	DHP_ETRANSFORM, /* unknown transform or bad arguments */
	DHP_ECODETABLE, /* unknown code table or code not in it */
	DHP_EIO,	/* file could not be read or written */
	DHP_ECONNECT,	/* database unreachable or login refused */
	DHP_EQUERY,	/* query failed */
	DHP_EVALUE,	/* value could not be converted (bad date, number) */
	DHP_EKEY,	/* record has no key */
	DHP_EREQUIRED,	/* mandatory element empty and DAR not allowed */
	DHP_ECONFIG,	/* invalid configuration value */
	DHP_ELIMIT,	/* input exceeds a size cap */
};

struct dhp_error {
	enum dhp_code code;
	char where[256];  /* location, see above; may be empty */
	char msg[512];	  /* primary: one line, lower case, no full stop */
	char detail[512]; /* optional: facts (SQLSTATE, errno text, found value) */
};

#define DHP_ERROR_INIT                                                                             \
	{                                                                                          \
		DHP_OK, "", "", ""                                                                 \
	}

/* Human name of a code, e.g. "value" for DHP_EVALUE. Never NULL. */
const char *dhp_code_name(enum dhp_code code);

/* Set code, location and message. Always returns -1, for `return dhp_fail(...)`. */
int dhp_fail(struct dhp_error *err, enum dhp_code code, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int dhp_vfail(struct dhp_error *err, enum dhp_code code, const char *where, const char *fmt,
	      va_list ap) __attribute__((format(printf, 4, 0)));
/* Fill the detail line. */
void dhp_detail(struct dhp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Clear *err back to DHP_ERROR_INIT. */
void dhp_error_clear(struct dhp_error *err);

#endif
