#include "core/dhp.h"
#include "core/fileio.h"
#include "map/profile.h"

#include <dirent.h>

/* Split line into tab-separated fields in place; returns the count. */
static int split_tabs(char *line, char **f, int max)
{
	int n = 0;
	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == '\t') {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

static char *dup_or_null(const char *s)
{
	return (!*s || streq(s, "-")) ? NULL : xstrdup(s);
}

static void parse_types(struct pelem *e, char *s)
{
	if (!*s || streq(s, "-"))
		return;
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		e->types = xrealloc(e->types, (size_t)(e->ntypes + 1) * sizeof(*e->types));
		e->types[e->ntypes++] = xstrdup(tok);
	}
}

static void parse_flags(struct pelem *e, char *s)
{
	if (strstr(s, "MS"))
		e->flags |= PE_MS;
	if (strstr(s, "nodar"))
		e->flags |= PE_NODAR;
	if (strstr(s, "modifier"))
		e->flags |= PE_MODIFIER;
	if (strstr(s, "array"))
		e->flags |= PE_ARRAY;
}

/* "required URL = c1 c2 ..." */
static void parse_binding(struct pelem *e, char *s)
{
	if (!*s || streq(s, "-"))
		return;
	char *eq = strstr(s, " = ");
	if (eq) {
		*eq = '\0';
		for (char *tok = strtok(eq + 3, " "); tok; tok = strtok(NULL, " "))
			hmap_put(&e->codes, tok, strlen(tok), e);
	}
	char *sp = strchr(s, ' ');
	if (sp) {
		*sp = '\0';
		e->valueset = xstrdup(sp + 1);
	}
	e->strength = xstrdup(s);
}

static int parse_row(struct profile *p, char *line, int lineno, struct dhp_error *err)
{
	char *f[7];
	char where[300];
	if (split_tabs(line, f, 7) != 7) {
		snprintf(where, sizeof(where), "%s:%d:1", p->file, lineno);
		return dhp_fail(err, DHP_ESYNTAX, where,
				"expected 7 tab-separated columns (path min max types flags fixed "
				"binding)");
	}
	ALLOC_GROW(p->elems, p->n + 1, p->alloc);
	struct pelem *e = &p->elems[p->n++];
	memset(e, 0, sizeof(*e));
	e->path = xstrdup(f[0]);
	e->min = atoi(f[1]);
	e->max = streq(f[2], "*") ? -1 : atoi(f[2]);
	e->line = lineno;
	parse_types(e, f[3]);
	parse_flags(e, f[4]);
	e->fixed = dup_or_null(f[5]);
	parse_binding(e, f[6]);
	return 0;
}

static int parse_directive(struct profile *p, char *line, int lineno, struct dhp_error *err)
{
	char *arg = line + strcspn(line, " \t");
	if (*arg)
		*arg++ = '\0';
	arg += strspn(arg, " \t");
	if (streq(line, "@profile"))
		p->url = xstrdup(arg);
	else if (streq(line, "@resource"))
		p->resource = xstrdup(arg);
	else if (streq(line, "@default"))
		p->is_default = true;
	else if (!streq(line, "@source")) {
		char where[300];
		snprintf(where, sizeof(where), "%s:%d:1", p->file, lineno);
		return dhp_fail(err, DHP_ESYNTAX, where, "unknown directive '%s'", line);
	}
	return 0;
}

static void profile_free(struct profile *p);

/* Remember a mandatory element (min >= 1, not inside a slice, below the
 * resource) with its path split into names: every mapped resource is
 * checked against these, so the work is done once here. */
static void index_mandatory(struct profile *p, size_t i)
{
	struct pelem *e = &p->elems[i];
	const char *dot = strchr(e->path, '.');
	if (e->min < 1 || strchr(e->path, ':') || !dot)
		return;
	for (const char *s = dot + 1;; s++) {
		const char *end = s + strcspn(s, ".");
		e->segs = xrealloc(e->segs, (size_t)(e->nseg + 1) * sizeof(*e->segs));
		e->segs[e->nseg++] = xstrndup(s, (size_t)(end - s));
		if (!*end)
			break;
		s = end;
	}
	p->mand = xrealloc(p->mand, (p->nmand + 1) * sizeof(*p->mand));
	p->mand[p->nmand++] = i;
}

static struct profile *load_one(const char *path, struct dhp_error *err)
{
	char *text = fileio_read(path, NULL, err);
	if (!text)
		return NULL;
	struct profile *p = xcalloc(1, sizeof(*p));
	p->file = xstrdup(path);
	int lineno = 0, rc = 0;
	for (char *line = text, *next; line && rc == 0; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		size_t len = strlen(line);
		if (len && line[len - 1] == '\r')
			line[len - 1] = '\0';
		if (!*line || *line == '#')
			continue;
		if (*line == '@')
			rc = parse_directive(p, line, lineno, err);
		else
			rc = parse_row(p, line, lineno, err);
	}
	free(text);
	if (rc == 0 && !p->resource) {
		char where[300];
		snprintf(where, sizeof(where), "%s:1:1", path);
		rc = dhp_fail(err, DHP_ESYNTAX, where, "missing '@resource' directive");
	}
	if (rc) {
		profile_free(p);
		return NULL;
	}
	for (size_t i = 0; i < p->n; i++) {
		hmap_put(&p->index, p->elems[i].path, strlen(p->elems[i].path), &p->elems[i]);
		index_mandatory(p, i);
	}
	return p;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int profiles_load(struct profiles *ps, const char *dir, struct dhp_error *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return dhp_fail(err, DHP_EIO, dir, "cannot open profile directory");
	char **names = NULL;
	size_t n = 0, alloc = 0;
	for (struct dirent *de; (de = readdir(d));) {
		size_t len = strlen(de->d_name);
		if (len > 4 && streq(de->d_name + len - 4, ".tsv")) {
			ALLOC_GROW(names, n + 1, alloc);
			names[n++] = fileio_join(dir, de->d_name);
		}
	}
	closedir(d);
	/* Sorted, so that load order and messages do not depend on readdir. */
	qsort(names, n, sizeof(*names), cmp_str);
	int rc = 0;
	ps->dir = xstrdup(dir);
	for (size_t i = 0; i < n; i++) {
		struct profile *p = rc ? NULL : load_one(names[i], err);
		free(names[i]);
		if (!p) {
			rc = -1;
			continue;
		}
		if (streq(p->resource, "datatypes")) {
			ps->datatypes = p;
		} else {
			ALLOC_GROW(ps->list, ps->n + 1, ps->alloc);
			ps->list[ps->n++] = p;
		}
	}
	free(names);
	if (rc == 0 && !ps->datatypes)
		rc = dhp_fail(err, DHP_EIO, dir,
			      "no datatypes table (datatypes.tsv) in profile directory");
	return rc;
}

static void profile_free(struct profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct pelem *e = &p->elems[i];
		free(e->path);
		for (int t = 0; t < e->ntypes; t++)
			free(e->types[t]);
		free(e->types);
		free(e->fixed);
		free(e->strength);
		free(e->valueset);
		hmap_clear(&e->codes);
		for (int k = 0; k < e->nseg; k++)
			free(e->segs[k]);
		free(e->segs);
	}
	free(p->elems);
	free(p->mand);
	hmap_clear(&p->index);
	free(p->url);
	free(p->resource);
	free(p->file);
	free(p);
}

void profiles_free(struct profiles *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		profile_free(ps->list[i]);
	free(ps->list);
	profile_free(ps->datatypes);
	free(ps->dir);
	memset(ps, 0, sizeof(*ps));
}

const struct profile *profiles_by_url(const struct profiles *ps, const char *url)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->list[i]->url && streq(ps->list[i]->url, url))
			return ps->list[i];
	return NULL;
}

const struct profile *profiles_default(const struct profiles *ps, const char *resource)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->list[i]->is_default && streq(ps->list[i]->resource, resource))
			return ps->list[i];
	return NULL;
}

const struct pelem *profile_elem(const struct profile *p, const char *path, size_t len)
{
	return hmap_get(&p->index, path, len);
}

bool pelem_is_array(const struct pelem *e)
{
	return e->max != 1 || (e->flags & PE_ARRAY);
}

bool fhir_is_primitive(const char *type)
{
	return type[0] >= 'a' && type[0] <= 'z';
}
