/*
 * conv.h: value conversions behind the mapping transforms.
 *
 * Pure functions over (pointer, length) input: no allocation except into
 * the caller's strbuf, no global state except the time zone cache. Each
 * returns 0 and appends the normalised FHIR text to `out`, or returns -1,
 * leaves `out` unchanged and writes into `why` one lower-case line saying
 * what was expected and what was found, e.g.
 *   "expected a date (YYYY-MM-DD, DD.MM.YYYY, YYYYMMDD), found '31.02.2024'".
 * The found text is shortened to 40 bytes (a value, never a whole record).
 */
#ifndef DHP_CONV_H
#define DHP_CONV_H

#include <stdbool.h>
#include <stddef.h>

#include "core/strbuf.h"

#define CONV_WHY_MAX 200

/* Strip ASCII and Unicode (NBSP) white space at both ends. */
void conv_trim(const char **s, size_t *n);

/* UTF-8 aware case mapping for ASCII, Latin-1 supplement, Latin Extended-A
 * (Uzbek oʻ gʻ sh ch use ASCII + U+02BB, which has no case) and Cyrillic
 * (U+0400-U+04FF, incl. Uzbek ў қ ғ ҳ). Invalid UTF-8 is copied as is. */
void conv_upper(const char *s, size_t n, struct strbuf *out);
void conv_lower(const char *s, size_t n, struct strbuf *out);

/* FHIR date, precision kept: YYYY | YYYY-MM | YYYY-MM-DD. Accepts those,
 * DD.MM.YYYY, YYYYMMDD, YYYYMM, and timestamps (the time part is dropped).
 * Calendar-checked (31.02 fails, leap years honoured). */
int conv_date(const char *s, size_t n, struct strbuf *out, char *why);

/* FHIR dateTime. Accepts ISO 8601 / PostgreSQL text ('2024-03-12 14:30:05',
 * '2024-03-12T14:30', '2024-03-12 14:30:05.123+05', '...+05:00', '...Z'),
 * DD.MM.YYYY HH:MM[:SS], YYYYMMDDHHMM[SS][.S+][+HHMM] (HL7 DTM).
 * With a time: seconds always emitted (':00' added), fractions kept, the
 * offset kept when given, else the offset of local time in zone `tz`
 * (IANA name, e.g. "Asia/Tashkent"; NULL = "Asia/Tashkent") for that
 * instant, from the system tz database. Without a time: the date with its
 * precision (a dateTime may be a bare date). */
int conv_datetime(const char *s, size_t n, const char *tz, struct strbuf *out, char *why);

/* Decimal: optional sign, digits, '.' or ',' as decimal mark, optional
 * exponent; leading '+' dropped; digits kept as written (12.50 stays 12.50,
 * FHIR keeps precision). Thousands separators are rejected. */
int conv_decimal(const char *s, size_t n, struct strbuf *out, char *why);

/* Integer: optional sign and digits, fits in int32 (FHIR integer); a
 * decimal with only zeros after the mark ("12.0") is accepted as 12. */
int conv_integer(const char *s, size_t n, struct strbuf *out, char *why);

/* Boolean: t/f, true/false, 1/0, yes/no, y/n, ha/yo'q (Uzbek), да/нет;
 * case-insensitive. */
int conv_boolean(const char *s, size_t n, bool *out, char *why);

/* Check that the time zone exists in the tz database. */
bool conv_tz_valid(const char *tz);

#endif
