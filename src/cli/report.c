#include "core/dhp.h"
#include "cli/report.h"

#include <errno.h>
#include <json-c/json.h>

int report_open_rejects(struct report *r, struct dhp_error *err)
{
	if (!r->rejects)
		r->rejects = fopen(r->rejects_path, "w");
	if (!r->rejects)
		return dhp_fail(err, DHP_EIO, r->rejects_path, "cannot open reject file: %s",
				strerror(errno));
	return 0;
}

int report_reject(struct report *r, const char *table, const char *key, const struct dhp_error *why,
		  struct dhp_error *err)
{
	if (!r->rejects && report_open_rejects(r, err))
		return -1;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "where", json_object_new_string(why->where));
	json_object_object_add(o, "table", json_object_new_string(table));
	json_object_object_add(o, "key", json_object_new_string(key));
	json_object_object_add(o, "code", json_object_new_string(dhp_code_name(why->code)));
	json_object_object_add(o, "message", json_object_new_string(why->msg));
	if (why->detail[0])
		json_object_object_add(o, "detail", json_object_new_string(why->detail));
	fprintf(r->rejects, "%s\n",
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return 0;
}

/* Entries of a counter map, sorted by key for stable output. */
static int cmp_entry(const void *a, const void *b)
{
	return strcmp((*(const struct hmap_entry *const *)a)->key,
		      (*(const struct hmap_entry *const *)b)->key);
}

static const struct hmap_entry **sorted(const struct hmap *m, size_t *n)
{
	const struct hmap_entry **v = xcalloc(m->count + 1, sizeof(*v));
	*n = 0;
	for (size_t i = 0; i < m->nslots; i++)
		if (m->slots[i].key)
			v[(*n)++] = &m->slots[i];
	qsort(v, *n, sizeof(*v), cmp_entry);
	return v;
}

static void print_counts(FILE *out, const char *label, const struct hmap *m)
{
	size_t n;
	const struct hmap_entry **v = sorted(m, &n);
	if (n) {
		fprintf(out, "  %-11s", label);
		for (size_t i = 0; i < n; i++)
			fprintf(out, "%s%s %ld", i ? ", " : "", v[i]->key,
				(long)(intptr_t)v[i]->value);
		fputc('\n', out);
	}
	free(v);
}

void report_summary(const struct report *r, FILE *out)
{
	fprintf(out, "dhp-import %s: %s in %.1f s\n", r->command,
		r->failure ? "stopped" : "finished", r->seconds);
	fprintf(out, "  %-11s%ld records", "extracted", r->extracted);
	for (int i = 0; i < r->nstreams; i++)
		fprintf(out, "%s%s %ld", i ? ", " : " (", r->streams[i].table,
			r->streams[i].extracted);
	fprintf(out, "%s\n", r->nstreams ? ")" : "");
	if (r->target) {
		fprintf(out, "  %-11s%ld records into %s (%ld resources created, %ld updated)\n",
			"loaded", r->loaded, r->target, r->created, r->updated);
		fprintf(out, "  %-11s%ld records (%ld resources already on the server as mapped)\n",
			"unchanged", r->unchanged, r->same);
		fprintf(out, "  %-11s%ld (%ld retried)\n", "requests", r->requests, r->retries);
	} else {
		fprintf(out, "  %-11s%ld records, %ld resources in %ld bundles (%s)\n", "written",
			r->loaded, r->resources, r->bundles, r->out_dir ? r->out_dir : "-");
	}
	fprintf(out, "  %-11s%ld records%s%s%s\n", "rejected", r->rejected, r->rejected ? " (" : "",
		r->rejected ? r->rejects_path : "", r->rejected ? ")" : "");
	if (r->stats) {
		print_counts(out, "resources", &r->stats->by_type);
		fprintf(out, "  %-11s%ld elements filled with Data Absent Reason\n", "absent",
			r->stats->dar);
		if (r->skipped)
			fprintf(out,
				"  %-11s%ld messages of types no table maps (--unmapped skip)\n",
				"skipped", r->skipped);
		print_counts(out, "by element", &r->stats->dar_by_elem);
	}
	if (r->failure)
		fprintf(out, "  %-11s%s\n", "stopped by", r->failure);
}

static json_object *counts_json(const struct hmap *m)
{
	json_object *o = json_object_new_object();
	size_t n;
	const struct hmap_entry **v = sorted(m, &n);
	for (size_t i = 0; i < n; i++)
		json_object_object_add(o, v[i]->key, json_object_new_int64((intptr_t)v[i]->value));
	free(v);
	return o;
}

int report_write_json(const struct report *r, const char *path, struct dhp_error *err)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "command", json_object_new_string(r->command));
	json_object_object_add(o, "status",
			       json_object_new_string(r->failure    ? "failed"
						      : r->rejected ? "rejects"
								    : "ok"));
	json_object_object_add(o, "extracted", json_object_new_int64(r->extracted));
	json_object_object_add(o, "loaded", json_object_new_int64(r->loaded));
	json_object_object_add(o, "unchanged", json_object_new_int64(r->unchanged));
	json_object_object_add(o, "rejected", json_object_new_int64(r->rejected));
	json_object_object_add(o, "dar", json_object_new_int64(r->stats ? r->stats->dar : 0));
	json_object_object_add(o, "skipped", json_object_new_int64(r->skipped));
	json_object_object_add(o, "dar_by_element",
			       r->stats ? counts_json(&r->stats->dar_by_elem)
					: json_object_new_object());
	json_object_object_add(
	    o, "resources", r->stats ? counts_json(&r->stats->by_type) : json_object_new_object());
	json_object_object_add(o, "resources_total", json_object_new_int64(r->resources));
	json_object_object_add(o, "bundles", json_object_new_int64(r->bundles));
	if (r->target) {
		json_object_object_add(o, "target", json_object_new_string(r->target));
		json_object_object_add(o, "created", json_object_new_int64(r->created));
		json_object_object_add(o, "updated", json_object_new_int64(r->updated));
		json_object_object_add(o, "unchanged_resources", json_object_new_int64(r->same));
		json_object_object_add(o, "requests", json_object_new_int64(r->requests));
		json_object_object_add(o, "retries", json_object_new_int64(r->retries));
		json_object_object_add(o, "tokens", json_object_new_int64(r->tokens));
	}
	json_object_object_add(o, "out_dir",
			       r->out_dir ? json_object_new_string(r->out_dir) : NULL);
	json_object_object_add(o, "reject_file",
			       r->rejects_path ? json_object_new_string(r->rejects_path) : NULL);
	json_object *streams = json_object_new_array();
	for (int i = 0; i < r->nstreams; i++) {
		json_object *s = json_object_new_object();
		json_object_object_add(s, "table", json_object_new_string(r->streams[i].table));
		json_object_object_add(s, "extracted",
				       json_object_new_int64(r->streams[i].extracted));
		json_object_object_add(s, "loaded", json_object_new_int64(r->streams[i].loaded));
		json_object_object_add(s, "rejected",
				       json_object_new_int64(r->streams[i].rejected));
		json_object_array_add(streams, s);
	}
	json_object_object_add(o, "streams", streams);
	json_object_object_add(o, "seconds", json_object_new_double(r->seconds));
	if (r->failure)
		json_object_object_add(o, "failure", json_object_new_string(r->failure));
	int rc = 0;
	if (json_object_to_file_ext(path, o,
				    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					JSON_C_TO_STRING_NOSLASHESCAPE))
		rc = dhp_fail(err, DHP_EIO, path, "cannot write report: %s", strerror(errno));
	json_object_put(o);
	return rc;
}

void report_free(struct report *r)
{
	if (r->rejects)
		fclose(r->rejects);
	for (int i = 0; i < r->nstreams; i++)
		free(r->streams[i].table);
	free(r->streams);
	free(r->failure);
	memset(r, 0, sizeof(*r));
}
