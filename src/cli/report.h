/*
 * report.h: run counters, the terminal summary and the JSON run report.
 *
 * Counts always add up: extracted = loaded + unchanged + rejected. Rejected
 * records go to the reject file as JSON lines, one per record:
 *   {"where":"labs:1042:collected_text","table":"labs","key":"1042",
 *    "code":"value","message":"...","detail":"mapping lab.map:31 ..."}
 * Neither the summary nor the reject file carries patient data: records
 * are named by table and key, problems by column, expectation and the
 * offending value of that one field.
 */
#ifndef DHP_REPORT_H
#define DHP_REPORT_H

#include <stdio.h>

#include "core/err.h"
#include "core/hmap.h"
#include "map/map.h"

struct stream_count {
	char *table;
	long extracted, loaded, rejected;
};

struct report {
	const char *command;
	long extracted, loaded, unchanged, rejected;
	long bundles, resources;
	long skipped; /* messages of unmapped types skipped (counted as loaded/unchanged) */
	long created, updated, same, requests, retries, tokens; /* run: on the server */
	const char *target;					/* run: the FHIR base */
	double seconds;
	struct stream_count *streams;
	int nstreams;
	const struct map_stats *stats;
	const char *out_dir;
	const char *rejects_path;
	FILE *rejects; /* opened lazily at the first reject */
	char *failure; /* why the run stopped early, or NULL */
};

/* Open the reject file now (run: the loader's threads write to it too;
 * each line is one fprintf, which stdio keeps whole). */
int report_open_rejects(struct report *r, struct dhp_error *err);
/* Write one reject line; opens the file on first use. */
int report_reject(struct report *r, const char *table, const char *key, const struct dhp_error *why,
		  struct dhp_error *err);
void report_summary(const struct report *r, FILE *out);
int report_write_json(const struct report *r, const char *path, struct dhp_error *err);
void report_free(struct report *r);

#endif
