/*
 * extract_hl7.h: the HL7 v2 (ER7) source: one record per message, read from
 * any number of files in turn (hl7.h does the reading and parsing).
 *
 * Paths address the message as in the v2-to-FHIR mapping tables:
 *   SEG-F            field F (first repetition, all components)
 *   SEG-F.C[.S]      component C, subcomponent S
 *   SEG-F[R]...      repetition R (1-based); SEG-F[*] the repetition a
 *                    [*] mapping row is on (struct source.rep)
 * Values are unescaped (\F\, \X..\, \.br\, ...) and converted to UTF-8 from
 * the message's MSH-18 character set (or the job's override). Empty fields
 * and the explicit null "" are NULL.
 *
 * Groups: a segment id names the group of its occurrences (@for-each OBX).
 * Focused on one occurrence, paths of that segment read from it and paths
 * of other segments from their nearest occurrence before it, so inside an
 * OBX loop OBR-4 is the OBX's order and PID-3 the patient's.
 *
 * A message that cannot be read or parsed is a record-level error (the
 * caller rejects it and goes on); locations are FILE:msg#N.
 */
#ifndef DHP_EXTRACT_HL7_H
#define DHP_EXTRACT_HL7_H

#include "core/err.h"
#include "extract/source.h"

/* next() result for a message that must be rejected (err filled). */
#define SOURCE_BAD_RECORD 2

/* Open a source over files[0..nfiles). `charset` overrides MSH-18 (an
 * HL7 or iconv name) or is NULL. Files are opened one at a time, lazily. */
struct source *hl7src_open(char *const *files, int nfiles, const char *charset,
			   struct dhp_error *err);

#endif
