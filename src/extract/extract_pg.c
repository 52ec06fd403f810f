#include "core/dhp.h"
#include "core/fileio.h"
#include "core/strbuf.h"
#include "extract/extract_pg.h"

#include <ctype.h>
#include <libpq-fe.h>

struct pgx {
	PGconn *conn;
	int ncursors;
};

struct pg_source {
	struct source base;
	struct pgx *db;
	char cursor[32];
	PGresult *res; /* current batch */
	int row, nrows;
	bool done;
	char *table;
	char *query_file;
	enum vtype *types; /* per column */
	int ncols;
};

/* First line of a libpq message, without the trailing newline. */
static void first_line(const char *msg, char *out, size_t len)
{
	size_t n = strcspn(msg, "\n");
	snprintf(out, len, "%.*s", (int)n, msg);
}

struct pgx *pgx_connect(const char *conninfo, const char *tz, struct dhp_error *err)
{
	const char *keys[] = {"dbname", "fallback_application_name", "client_encoding", NULL};
	const char *vals[] = {conninfo ? conninfo : "", "dhp-import", "UTF8", NULL};
	PGconn *conn = PQconnectdbParams(keys, vals, 1);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		char line[400], where[200];
		first_line(conn ? PQerrorMessage(conn) : "out of memory", line, sizeof(line));
		const char *host = conn ? PQhost(conn) : NULL;
		const char *port = conn ? PQport(conn) : NULL;
		snprintf(where, sizeof(where), "database %s%s%s%s", host && *host ? "host " : "",
			 host && *host ? host : "(default socket)", port && *port ? " port " : "",
			 port && *port ? port : "");
		dhp_fail(err, DHP_ECONNECT, where, "could not connect: %s", line);
		PQfinish(conn);
		return NULL;
	}
	const char *params[] = {tz};
	PGresult *r = PQexecParams(conn,
				   "SELECT set_config('TimeZone', $1, false), "
				   "set_config('DateStyle', 'ISO, YMD', false), "
				   "set_config('extra_float_digits', '3', false)",
				   1, NULL, params, NULL, NULL, 0);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	if (ok) {
		r = PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
	}
	if (!ok) {
		char line[400];
		first_line(PQerrorMessage(conn), line, sizeof(line));
		dhp_fail(err, DHP_EQUERY, "database", "cannot set up the session: %s", line);
		PQfinish(conn);
		return NULL;
	}
	struct pgx *db = xcalloc(1, sizeof(*db));
	db->conn = conn;
	return db;
}

void pgx_disconnect(struct pgx *db)
{
	if (!db)
		return;
	/* Read only: ending the transaction either way changes nothing. */
	PQclear(PQexec(db->conn, "COMMIT"));
	PQfinish(db->conn);
	free(db);
}

/* Length of a dollar-quote tag at s ("$$", "$tag$"), or 0. */
static size_t dollar_tag(const char *s)
{
	size_t i = 1;
	while (isalnum((unsigned char)s[i]) || s[i] == '_')
		i++;
	return s[i] == '$' ? i + 1 : 0;
}

char *pgx_bind_since(const char *sql, int *count)
{
	struct strbuf sb = STRBUF_INIT;
	*count = 0;
	for (const char *p = sql; *p;) {
		const char *end = p + 1;
		if (*p == '\'' || *p == '"') {
			end = strchr(p + 1, *p);
			end = end ? end + 1 : p + strlen(p);
		} else if (p[0] == '-' && p[1] == '-') {
			end = p + strcspn(p, "\n");
		} else if (p[0] == '/' && p[1] == '*') {
			end = strstr(p + 2, "*/");
			end = end ? end + 2 : p + strlen(p);
		} else if (p[0] == '$' && dollar_tag(p)) {
			size_t t = dollar_tag(p);
			char tag[64];
			snprintf(tag, sizeof(tag), "%.*s", (int)(t < 63 ? t : 63), p);
			const char *close = strstr(p + t, tag);
			end = close ? close + t : p + strlen(p);
		} else if (p[0] == ':' && p[1] == ':') {
			end = p + 2; /* a cast, not a placeholder */
		} else if (strncmp(p, ":since", 6) == 0 && !isalnum((unsigned char)p[6]) &&
			   p[6] != '_') {
			strbuf_addstr(&sb, "$1::timestamptz");
			(*count)++;
			p += 6;
			continue;
		}
		strbuf_add(&sb, p, (size_t)(end - p));
		p = end;
	}
	return strbuf_detach(&sb, NULL);
}

static enum vtype type_of(Oid oid)
{
	switch (oid) {
	case 16:
		return V_BOOL;
	case 20:
	case 21:
	case 23:
		return V_INT;
	case 700:
	case 701:
	case 1700:
		return V_DECIMAL;
	case 1082:
		return V_DATE;
	case 1114:
		return V_TIMESTAMP;
	case 1184:
		return V_TIMESTAMPTZ;
	default:
		return V_TEXT;
	}
}

static int query_fail(struct pg_source *s, PGresult *r, const char *what, struct dhp_error *err)
{
	char line[400];
	first_line(PQresultErrorMessage(r), line, sizeof(line));
	dhp_fail(err, DHP_EQUERY, s->query_file, "%s: %s", what, line);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
	if (state)
		dhp_detail(err, "SQLSTATE %s%s%s", state, pos ? ", at character " : "",
			   pos ? pos : "");
	PQclear(r);
	return -1;
}

static int pg_resolve(struct source *src, const char *path)
{
	struct pg_source *s = (struct pg_source *)src;
	for (int i = 0; i < s->ncols; i++)
		if (streq(PQfname(s->res, i), path))
			return i;
	return -1;
}

static int fetch(struct pg_source *s, struct dhp_error *err)
{
	char sql[64];
	snprintf(sql, sizeof(sql), "FETCH %d FROM %s", PGX_BATCH, s->cursor);
	PGresult *r = PQexec(s->db->conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return query_fail(s, r, "query failed while reading rows", err);
	/* Keep the column description of the first batch for resolve. */
	PQclear(s->res);
	s->res = r;
	s->row = 0;
	s->nrows = PQntuples(r);
	s->done = s->nrows < PGX_BATCH;
	return 0;
}

static int pg_next(struct source *src, struct dhp_error *err)
{
	struct pg_source *s = (struct pg_source *)src;
	if (s->row + 1 < s->nrows) {
		s->row++;
		s->base.record_no++;
		return 1;
	}
	if (s->done)
		return 0;
	if (fetch(s, err))
		return -1;
	if (s->nrows == 0)
		return 0;
	s->base.record_no++;
	return 1;
}

static void pg_get(const struct source *src, int h, struct value *out)
{
	const struct pg_source *s = (const struct pg_source *)src;
	if (PQgetisnull(s->res, s->row, h)) {
		*out = (struct value){V_NULL, "", 0};
		return;
	}
	out->type = s->types[h];
	out->s = PQgetvalue(s->res, s->row, h);
	out->len = (size_t)PQgetlength(s->res, s->row, h);
}

static void pg_close(struct source *src)
{
	struct pg_source *s = (struct pg_source *)src;
	char sql[64];
	snprintf(sql, sizeof(sql), "CLOSE %s", s->cursor);
	PQclear(PQexec(s->db->conn, sql));
	PQclear(s->res);
	free(s->types);
	free(s->table);
	free(s->query_file);
	free(s);
}

static const struct source_ops pg_ops = {
    .resolve = pg_resolve,
    .next = pg_next,
    .get = pg_get,
    .close = pg_close,
};

struct source *pgx_open(struct pgx *db, const char *query_file, const char *table,
			const char *since, struct dhp_error *err)
{
	char *sql = fileio_read(query_file, NULL, err);
	if (!sql)
		return NULL;
	int nsince;
	char *bound = pgx_bind_since(sql, &nsince);
	free(sql);
	struct pg_source *s = xcalloc(1, sizeof(*s));
	s->base.ops = &pg_ops;
	s->db = db;
	s->table = xstrdup(table);
	s->base.name = s->table;
	s->query_file = xstrdup(query_file);
	snprintf(s->cursor, sizeof(s->cursor), "dhp_c%d", ++db->ncursors);
	struct strbuf decl = STRBUF_INIT;
	strbuf_addf(&decl, "DECLARE %s NO SCROLL CURSOR FOR %s", s->cursor, bound);
	free(bound);
	const char *params[] = {since ? since : "-infinity"};
	PGresult *r = PQexecParams(db->conn, decl.buf, nsince ? 1 : 0, NULL, nsince ? params : NULL,
				   NULL, NULL, 0);
	strbuf_release(&decl);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		query_fail(s, r, "query failed", err);
		free(s->table);
		free(s->query_file);
		free(s);
		return NULL;
	}
	PQclear(r);
	if (fetch(s, err)) {
		pg_close(&s->base);
		return NULL;
	}
	s->row = -1; /* before the first row of the first batch */
	s->ncols = PQnfields(s->res);
	s->types = xcalloc((size_t)s->ncols + 1, sizeof(*s->types));
	for (int i = 0; i < s->ncols; i++)
		s->types[i] = type_of(PQftype(s->res, i));
	return &s->base;
}
