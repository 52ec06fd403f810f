/*
 * conv.c: value conversions behind the mapping transforms (see conv.h).
 *
 * These run once per value for millions of rows, so the success paths
 * parse by hand, format into a stack buffer and append to `out` once;
 * snprintf is used only to write `why` on failure. The only state is the
 * time zone cache at the end of the dates section.
 */
#include "core/dhp.h"
#include "map/conv.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#define FOUND_MAX 40 /* bytes of the offending value quoted in `why` */

/* ---- messages ---------------------------------------------------------- */

/* Append s[0..n) to `w` (capacity `cap`, NUL-terminated) as the quoted
 * found value: at most FOUND_MAX bytes cut at a UTF-8 boundary, control
 * bytes shown as '?' so the message stays one line. */
static void quote_found(char *w, size_t cap, const char *s, size_t n)
{
	size_t len = strlen(w);
	bool cut = n > FOUND_MAX;
	if (cut) {
		n = FOUND_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	if (len + n + 6 > cap)
		return;
	w[len++] = '\'';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		w[len++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (cut) {
		memcpy(w + len, "...", 3);
		len += 3;
	}
	w[len++] = '\'';
	w[len] = '\0';
}

/* why = "expected WHAT, found 'S'". */
static int fail_expected(char *why, const char *what, const char *s, size_t n)
{
	if (why) {
		snprintf(why, CONV_WHY_MAX, "expected %s, found ", what);
		quote_found(why, CONV_WHY_MAX, s, n);
	}
	return -1;
}

/* ---- white space and case ---------------------------------------------- */

static bool is_ascii_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Length of the Unicode white space (or BOM / zero width space, which
 * spreadsheets leave in cells) that starts at s, 0 if none. */
static size_t uspace_at(const unsigned char *s, size_t n)
{
	if (n >= 1 && is_ascii_space(s[0]))
		return 1;
	if (n >= 2 && s[0] == 0xC2 && (s[1] == 0xA0 || s[1] == 0x85))
		return 2;
	if (n < 3)
		return 0;
	if (s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) /* U+1680 */
		return 3;
	/* U+2000-200B, line and paragraph separators, narrow NBSP */
	if (s[0] == 0xE2 && s[1] == 0x80 &&
	    ((s[2] >= 0x80 && s[2] <= 0x8B) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
		return 3;
	if (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) /* U+205F */
		return 3;
	if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) /* U+3000 */
		return 3;
	if (s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) /* U+FEFF */
		return 3;
	return 0;
}

/* Length of the white space that ends s[0..n), 0 if none. */
static size_t uspace_before(const unsigned char *s, size_t n)
{
	if (n >= 1 && is_ascii_space(s[n - 1]))
		return 1;
	for (size_t k = 2; k <= 3 && k <= n; k++)
		if (uspace_at(s + n - k, k) == k)
			return k;
	return 0;
}

__attribute__((noinline)) static void trim_spaces(const char **s, size_t *n)
{
	const unsigned char *p = (const unsigned char *)*s;
	size_t len = *n, k;
	while ((k = uspace_at(p, len)) != 0) {
		p += k;
		len -= k;
	}
	while ((k = uspace_before(p, len)) != 0)
		len -= k;
	*s = (const char *)p;
	*n = len;
}

/* Most values start and end with a visible ASCII character (0x21-0x7F):
 * then there is nothing to trim, as no multi-byte space starts or ends at
 * an ASCII byte, and the test costs less than a call of trim_spaces(). */
void conv_trim(const char **s, size_t *n)
{
	const unsigned char *p = (const unsigned char *)*s;
	size_t len = *n;
	if (len && (unsigned char)(p[0] - 0x21) < 0x5F && (unsigned char)(p[len - 1] - 0x21) < 0x5F)
		return;
	trim_spaces(s, n);
}

/* Simple (1:1) case mapping of a code point below U+0800; returns cp
 * itself when it has no mapping in that direction. */
static unsigned map_case(unsigned cp, bool upper)
{
	if (cp < 0x80) {
		if (upper && cp >= 'a' && cp <= 'z')
			return cp - 32;
		if (!upper && cp >= 'A' && cp <= 'Z')
			return cp + 32;
		return cp;
	}
	if (cp >= 0xC0 && cp <= 0xFF) { /* Latin-1: À-Þ <-> à-þ, not × ÷ */
		if (cp == 0xD7 || cp == 0xF7 || cp == 0xDF)
			return cp;
		if (cp == 0xFF)
			return upper ? 0x178 : cp;
		if (cp <= 0xDE)
			return upper ? cp : cp + 32;
		return upper ? cp - 32 : cp;
	}
	if (cp >= 0x100 && cp <= 0x17F) { /* Latin Extended-A */
		switch (cp) {
		case 0x130:
			return upper ? cp : 'i';
		case 0x131:
			return upper ? 'I' : cp;
		case 0x138: /* kra */
		case 0x149:
			return cp; /* ŉ has no 1:1 upper case */
		case 0x178:
			return upper ? cp : 0xFF;
		case 0x17F:
			return upper ? 'S' : cp;
		}
		/* Pairs start on an even code point except in 0139-0148 and 0179-017E. */
		bool odd_upper = (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E);
		bool is_upper = ((cp & 1) != 0) == odd_upper;
		if (upper && !is_upper)
			return cp - 1;
		if (!upper && is_upper)
			return cp + 1;
		return cp;
	}
	if (cp >= 0x400 && cp <= 0x4FF) { /* Cyrillic */
		if (cp <= 0x40F)
			return upper ? cp : cp + 0x50;
		if (cp <= 0x42F)
			return upper ? cp : cp + 0x20;
		if (cp <= 0x44F)
			return upper ? cp - 0x20 : cp;
		if (cp <= 0x45F)
			return upper ? cp - 0x50 : cp;
		if (cp == 0x4C0)
			return upper ? cp : 0x4CF;
		if (cp == 0x4CF)
			return upper ? 0x4C0 : cp;
		bool paired = (cp >= 0x460 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x4FF);
		if (!paired)
			return cp;
		/* Ӂ-ӎ (04C1-04CE) pair odd/even, the rest even/odd. */
		bool odd_upper = cp >= 0x4C1 && cp <= 0x4CE;
		bool is_upper = ((cp & 1) != 0) == odd_upper;
		if (upper && !is_upper)
			return cp - 1;
		if (!upper && is_upper)
			return cp + 1;
		return cp;
	}
	return cp;
}

/* Case-map s[0..n) into dst, which has room for n bytes: no mapping in
 * our ranges makes the UTF-8 longer. Returns the bytes written. */
static size_t map_into(const char *s, size_t n, char *dst, bool upper)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;
	for (size_t i = 0; i < n;) {
		/* Only one and two byte sequences have case in our ranges; any
		 * other byte (incl. invalid UTF-8) is copied unchanged. */
		unsigned cp, m;
		if (p[i] < 0x80) {
			m = map_case(p[i], upper);
			dst[w++] = (char)m;
			i++;
			continue;
		}
		if (p[i] < 0xC2 || p[i] > 0xDF || i + 1 >= n || (p[i + 1] & 0xC0) != 0x80) {
			dst[w++] = (char)p[i++];
			continue;
		}
		cp = ((p[i] & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
		m = map_case(cp, upper);
		if (m < 0x80) {
			dst[w++] = (char)m;
		} else {
			dst[w++] = (char)(0xC0 | (m >> 6));
			dst[w++] = (char)(0x80 | (m & 0x3F));
		}
		i += 2;
	}
	return w;
}

static void map_string(const char *s, size_t n, struct strbuf *out, bool upper)
{
	char buf[256];
	while (n > 0) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);
		/* Do not split a two byte sequence between chunks. */
		if (k < n && (unsigned char)s[k - 1] >= 0xC0)
			k--;
		strbuf_add(out, buf, map_into(s, k, buf, upper));
		s += k;
		n -= k;
	}
}

void conv_upper(const char *s, size_t n, struct strbuf *out)
{
	map_string(s, n, out, true);
}

void conv_lower(const char *s, size_t n, struct strbuf *out)
{
	map_string(s, n, out, false);
}

/* ---- dates ------------------------------------------------------------- */

struct dt {
	int year, month, day; /* month, day 0 when not given */
	int prec;	      /* 1 year, 2 month, 3 day */
	bool has_time;
	int hour, min, sec;
	const char *frac; /* fraction digits (no mark), nfrac 0 when none */
	size_t nfrac;
	char tz; /* 0 no offset, 'Z', '+' or '-' */
	int off_h, off_m;
};

struct cursor {
	const char *p, *end;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static size_t digit_run(const struct cursor *c)
{
	const char *q = c->p;
	while (q < c->end && is_digit(*q))
		q++;
	return (size_t)(q - c->p);
}

/* Read exactly k digits. */
static bool take_num(struct cursor *c, size_t k, int *v)
{
	if ((size_t)(c->end - c->p) < k)
		return false;
	int r = 0;
	for (size_t i = 0; i < k; i++) {
		if (!is_digit(c->p[i]))
			return false;
		r = r * 10 + (c->p[i] - '0');
	}
	c->p += k;
	*v = r;
	return true;
}

/* Read 1 or 2 digits followed by no further digit. */
static bool take_num12(struct cursor *c, int *v)
{
	size_t k = digit_run(c);
	return (k == 1 || k == 2) && take_num(c, k, v);
}

static bool take_ch(struct cursor *c, char ch)
{
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

static bool at_end(const struct cursor *c)
{
	return c->p == c->end;
}

/* Offset: Z | (+|-)hh[[:]mm]. Seconds in offsets (PostgreSQL prints LMT
 * offsets such as +04:37:11) cannot be written in FHIR and are refused. */
static bool take_offset(struct cursor *c, struct dt *d)
{
	if (take_ch(c, 'Z') || take_ch(c, 'z')) {
		d->tz = 'Z';
		return true;
	}
	if (at_end(c) || (*c->p != '+' && *c->p != '-'))
		return false;
	d->tz = *c->p++;
	if (!take_num(c, 2, &d->off_h))
		return false;
	d->off_m = 0;
	if (take_ch(c, ':')) {
		if (!take_num(c, 2, &d->off_m))
			return false;
	} else if (!at_end(c) && !take_num(c, 2, &d->off_m)) {
		return false;
	}
	return d->off_m < 60 && (d->off_h < 14 || (d->off_h == 14 && d->off_m == 0));
}

/* Fraction digits after '.' or ','. */
static bool take_frac(struct cursor *c, struct dt *d)
{
	if (!take_ch(c, '.') && !take_ch(c, ','))
		return true;
	d->frac = c->p;
	d->nfrac = digit_run(c);
	c->p += d->nfrac;
	return d->nfrac >= 1 && d->nfrac <= 9; /* FHIR allows up to 9 */
}

/* Optional offset at the end, after at most one space. */
static bool take_tail(struct cursor *c, struct dt *d)
{
	if (at_end(c))
		return true;
	if (*c->p == ' ' && c->end - c->p > 1)
		c->p++;
	return take_offset(c, d) && at_end(c);
}

/* h[h]:mm[:ss[.f+]][offset] */
static bool take_clock(struct cursor *c, struct dt *d)
{
	d->has_time = true;
	if (!take_num12(c, &d->hour) || !take_ch(c, ':') || !take_num(c, 2, &d->min))
		return false;
	if (take_ch(c, ':')) {
		if (!take_num(c, 2, &d->sec) || !take_frac(c, d))
			return false;
	}
	return take_tail(c, d);
}

/* hhmm[ss[.f+]][offset], HL7 DTM style. */
static bool take_compact_clock(struct cursor *c, struct dt *d)
{
	size_t k = digit_run(c);
	d->has_time = true;
	if (k != 4 && k != 6)
		return false;
	take_num(c, 2, &d->hour);
	take_num(c, 2, &d->min);
	if (k == 6) {
		take_num(c, 2, &d->sec);
		if (!take_frac(c, d))
			return false;
	}
	return take_tail(c, d);
}

/* YYYY-MM[-DD[(T| )time]] after the year was read. */
static bool parse_iso(struct cursor *c, struct dt *d)
{
	if (!take_ch(c, '-') || !take_num(c, 2, &d->month))
		return false;
	d->prec = 2;
	if (at_end(c))
		return true;
	if (!take_ch(c, '-') || !take_num(c, 2, &d->day))
		return false;
	d->prec = 3;
	if (at_end(c))
		return true;
	if (!take_ch(c, 'T') && !take_ch(c, 't') && !take_ch(c, ' '))
		return false;
	return take_clock(c, d);
}

/* D[D].M[M].YYYY[ time] */
static bool parse_dotted(struct cursor *c, struct dt *d)
{
	if (!take_num12(c, &d->day) || !take_ch(c, '.') || !take_num12(c, &d->month) ||
	    !take_ch(c, '.') || digit_run(c) != 4 || !take_num(c, 4, &d->year))
		return false;
	d->prec = 3;
	if (at_end(c))
		return true;
	return take_ch(c, ' ') && take_clock(c, d);
}

/* YYYY, YYYYMM, YYYYMMDD, YYYYMMDD[T]hhmm[ss[.f+]][offset] */
static bool parse_compact(struct cursor *c, struct dt *d, size_t k)
{
	take_num(c, 4, &d->year);
	d->prec = 1;
	if (k >= 6) {
		take_num(c, 2, &d->month);
		d->prec = 2;
	}
	if (k >= 8) {
		take_num(c, 2, &d->day);
		d->prec = 3;
	}
	if (k == 4 || k == 6)
		return at_end(c);
	if (k == 8) {
		if (at_end(c))
			return true;
		return (take_ch(c, 'T') || take_ch(c, 't')) && take_compact_clock(c, d);
	}
	return (k == 12 || k == 14) && take_compact_clock(c, d);
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static bool calendar_ok(const struct dt *d)
{
	if (d->year < 1 || d->year > 9999) /* FHIR has no year 0000 */
		return false;
	if (d->prec >= 2 && (d->month < 1 || d->month > 12))
		return false;
	if (d->prec >= 3 && (d->day < 1 || d->day > days_in_month(d->year, d->month)))
		return false;
	if (d->has_time && (d->hour > 23 || d->min > 59 || d->sec > 60))
		return false;
	return true;
}

/* Parse any accepted form of a date or date-time; false when not one. */
static bool parse_dt(const char *s, size_t n, struct dt *d)
{
	struct cursor c = {s, s + n};
	memset(d, 0, sizeof(*d));
	size_t k = digit_run(&c);
	bool ok;
	if (k == 4 && c.p + 4 < c.end && c.p[4] == '-') {
		take_num(&c, 4, &d->year);
		ok = parse_iso(&c, d);
	} else if ((k == 1 || k == 2) && c.p + k < c.end && c.p[k] == '.') {
		ok = parse_dotted(&c, d);
	} else if (k >= 4) {
		ok = parse_compact(&c, d, k);
	} else {
		ok = false;
	}
	return ok && calendar_ok(d);
}

static char *put2(char *w, int v)
{
	w[0] = (char)('0' + v / 10);
	w[1] = (char)('0' + v % 10);
	return w + 2;
}

/* YYYY[-MM[-DD]] with the precision of d. */
static char *put_date(char *w, const struct dt *d)
{
	w = put2(w, d->year / 100);
	w = put2(w, d->year % 100);
	if (d->prec >= 2) {
		*w++ = '-';
		w = put2(w, d->month);
	}
	if (d->prec >= 3) {
		*w++ = '-';
		w = put2(w, d->day);
	}
	return w;
}

#define DATE_FORMS "a date (YYYY-MM-DD, DD.MM.YYYY, YYYYMMDD)"
#define DATETIME_FORMS                                                                             \
	"a date-time (YYYY-MM-DD hh:mm[:ss][+hh:mm], DD.MM.YYYY hh:mm[:ss], YYYYMMDDhhmm[ss])"

int conv_date(const char *s, size_t n, struct strbuf *out, char *why)
{
	struct dt d;
	conv_trim(&s, &n);
	if (!parse_dt(s, n, &d))
		return fail_expected(why, DATE_FORMS, s, n);
	char buf[16];
	char *w = put_date(buf, &d);
	strbuf_add(out, buf, (size_t)(w - buf));
	return 0;
}

/*
 * Time zones. The offset of a local time comes from mktime() under TZ,
 * which needs the process-wide TZ variable and costs more than all the
 * parsing, so results are cached per zone and local day: a day whose first
 * and last second have the same offset has it throughout, because no two
 * transitions of a zone in the tz database are less than four days apart.
 * Days with a transition (two a year in DST zones) ask mktime() for every
 * value. TZ is switched only on a cache miss, so a few zones used side by
 * side stay cheap.
 *
 * TZ is left set to the last zone asked for: localtime() elsewhere in the
 * process follows it.
 */
#define TZ_SLOTS 4
#define TZ_NAME_MAX 64
#define DAY_CACHE 4096 /* power of two; about 11 years of days per zone */

struct day_entry {
	int32_t day; /* days since 1970-01-01 */
	int32_t off_start, off_end;
	bool used;
};

struct tz_slot {
	char name[TZ_NAME_MAX];
	bool valid;
	struct day_entry days[DAY_CACHE];
};

static struct tz_slot tz_slots[TZ_SLOTS];
static unsigned tz_next_slot;

static bool tz_name_ok(const char *tz)
{
	size_t n = strlen(tz);
	if (n == 0 || n >= TZ_NAME_MAX || tz[0] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = tz[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) ||
			  c == '/' || c == '_' || c == '-' || c == '+' || c == '.';
		/* No component may start with '.', which rules out "..". */
		if (!ok || (c == '.' && (i == 0 || tz[i - 1] == '/')))
			return false;
	}
	return true;
}

/* The zone is a TZif file under TZDIR (as glibc looks it up). Otherwise
 * glibc would silently use UTC, so this check is what turns a misspelt
 * zone into an error. */
bool conv_tz_valid(const char *tz)
{
	if (!tz)
		tz = "Asia/Tashkent";
	if (!tz_name_ok(tz))
		return false;
	const char *dir = getenv("TZDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char magic[4];
	ssize_t r = read(fd, magic, sizeof(magic));
	close(fd);
	return r == 4 && memcmp(magic, "TZif", 4) == 0;
}

static struct tz_slot *tz_slot_for(const char *tz)
{
	for (unsigned i = 0; i < TZ_SLOTS; i++)
		if (tz_slots[i].name[0] && streq(tz_slots[i].name, tz))
			return &tz_slots[i];
	struct tz_slot *z = &tz_slots[tz_next_slot++ % TZ_SLOTS];
	memset(z, 0, sizeof(*z));
	z->valid = conv_tz_valid(tz);
	memcpy(z->name, tz, strlen(tz) + 1); /* fits: checked by the caller */
	return z;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int32_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Offset (seconds east) that makes the local wall clock y-m-d h:mi:s an
 * instant in the current TZ: written time minus mktime()'s instant. For a
 * time in a spring-forward gap this is the offset before the gap (glibc
 * moves the time forward), for a repeated time the one mktime() picks. */
static bool probe_offset(int32_t day, int y, int m, int d, int h, int mi, int s, int32_t *off)
{
	struct tm tm = {0};
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	tm.tm_wday = -1; /* mktime() sets it on success; -1 can be a valid time_t */
	time_t t = mktime(&tm);
	if (tm.tm_wday == -1)
		return false;
	int64_t local = (int64_t)day * 86400 + h * 3600 + mi * 60 + s;
	*off = (int32_t)(local - (int64_t)t);
	return true;
}

/* Point TZ at the zone. Compared with the environment rather than
 * remembered, so that a TZ set elsewhere in the process cannot go stale. */
static void tz_select(const struct tz_slot *z)
{
	const char *cur = getenv("TZ");
	if (cur && streq(cur, z->name))
		return;
	setenv("TZ", z->name, 1);
	tzset();
}

/* 0 and *off set, -1 unknown zone, -2 mktime() failed. */
static int local_offset(const char *tz, const struct dt *d, int32_t *off)
{
	if (strlen(tz) >= TZ_NAME_MAX)
		return -1;
	struct tz_slot *z = tz_slot_for(tz);
	if (!z->valid)
		return -1;
	int32_t day = days_from_civil(d->year, d->month, d->day);
	struct day_entry *e = &z->days[(uint32_t)day & (DAY_CACHE - 1)];
	if (!e->used || e->day != day) {
		tz_select(z);
		e->used = false;
		if (!probe_offset(day, d->year, d->month, d->day, 0, 0, 0, &e->off_start) ||
		    !probe_offset(day, d->year, d->month, d->day, 23, 59, 59, &e->off_end))
			return -2;
		e->day = day;
		e->used = true;
	}
	if (e->off_start == e->off_end) {
		*off = e->off_start;
		return 0;
	}
	tz_select(z);
	/* A leap second is looked up as the second before it. */
	if (!probe_offset(day, d->year, d->month, d->day, d->hour, d->min,
			  d->sec > 59 ? 59 : d->sec, off))
		return -2;
	return 0;
}

static int fail_offset(char *why, int rc, const char *tz, const char *s, size_t n)
{
	if (!why)
		return -1;
	if (rc == -1) {
		snprintf(why, CONV_WHY_MAX,
			 "expected a time zone name (e.g. Asia/Tashkent), found ");
		quote_found(why, CONV_WHY_MAX, tz, strlen(tz));
	} else {
		snprintf(why, CONV_WHY_MAX, "expected a local time that exists in %.64s, found ",
			 tz);
		quote_found(why, CONV_WHY_MAX, s, n);
	}
	return -1;
}

static char *put_offset(char *w, char sign, int h, int m)
{
	*w++ = sign;
	w = put2(w, h);
	*w++ = ':';
	return put2(w, m);
}

int conv_datetime(const char *s, size_t n, const char *tz, struct strbuf *out, char *why)
{
	struct dt d;
	conv_trim(&s, &n);
	if (!parse_dt(s, n, &d))
		return fail_expected(why, DATETIME_FORMS, s, n);
	char buf[48];
	char *w = put_date(buf, &d);
	if (d.has_time) {
		*w++ = 'T';
		w = put2(w, d.hour);
		*w++ = ':';
		w = put2(w, d.min);
		*w++ = ':';
		w = put2(w, d.sec);
		if (d.nfrac) {
			*w++ = '.';
			memcpy(w, d.frac, d.nfrac);
			w += d.nfrac;
		}
		if (d.tz == 'Z') {
			*w++ = 'Z';
		} else if (d.tz) {
			w = put_offset(w, d.tz, d.off_h, d.off_m);
		} else {
			int32_t off;
			if (!tz)
				tz = "Asia/Tashkent";
			int rc = local_offset(tz, &d, &off);
			if (rc < 0)
				return fail_offset(why, rc, tz, s, n);
			/* FHIR offsets are whole minutes; local mean time offsets
			 * (before ~1924) are rounded, the wall clock is kept. */
			char sign = off < 0 ? '-' : '+';
			int32_t a = off < 0 ? -off : off;
			a = (a + 30) / 60;
			w = put_offset(w, sign, (int)(a / 60), (int)(a % 60));
		}
	}
	strbuf_add(out, buf, (size_t)(w - buf));
	return 0;
}

/* ---- numbers ----------------------------------------------------------- */

/* The parts of a decimal number, pointers into the input. */
struct num {
	bool neg;
	const char *ip; /* integer digits, leading zeros skipped */
	size_t ni;
	const char *fp; /* fraction digits */
	size_t nf;
	bool mark;	/* a decimal mark was present */
	const char *ep; /* exponent, from after 'e' (sign included) */
	size_t ne;
	char e; /* 'e' or 'E' as written, 0 when none */
};

static bool parse_num(const char *s, size_t n, struct num *x)
{
	struct cursor c = {s, s + n};
	memset(x, 0, sizeof(*x));
	if (take_ch(&c, '-'))
		x->neg = true;
	else
		take_ch(&c, '+');
	size_t k = digit_run(&c);
	size_t zeros = 0;
	while (zeros < k && c.p[zeros] == '0')
		zeros++;
	x->ip = c.p + zeros;
	x->ni = k - zeros;
	c.p += k;
	if (take_ch(&c, '.') || take_ch(&c, ',')) {
		x->mark = true;
		x->fp = c.p;
		x->nf = digit_run(&c);
		c.p += x->nf;
	}
	if (k == 0 && x->nf == 0)
		return false;
	if (!at_end(&c) && (*c.p == 'e' || *c.p == 'E')) {
		x->e = *c.p++;
		x->ep = c.p;
		if (!take_ch(&c, '+'))
			take_ch(&c, '-');
		size_t ke = digit_run(&c);
		if (ke == 0 || ke > 9)
			return false;
		c.p += ke;
		x->ne = (size_t)(c.p - x->ep);
	}
	return at_end(&c);
}

/*
 * Emitted as a JSON number, so the text must also be valid JSON: leading
 * zeros go ("007" -> "7", ".5" -> "0.5"), a bare mark goes ("5." -> "5"),
 * every written fraction digit stays (FHIR keeps precision).
 */
int conv_decimal(const char *s, size_t n, struct strbuf *out, char *why)
{
	struct num x;
	conv_trim(&s, &n);
	if (!parse_num(s, n, &x))
		return fail_expected(why, "a decimal number (12.5, 12,5, -3, 1e3)", s, n);
	if (x.neg)
		strbuf_addch(out, '-');
	if (x.ni)
		strbuf_add(out, x.ip, x.ni);
	else
		strbuf_addch(out, '0');
	if (x.nf) {
		strbuf_addch(out, '.');
		strbuf_add(out, x.fp, x.nf);
	}
	if (x.e) {
		strbuf_addch(out, x.e);
		strbuf_add(out, x.ep, x.ne);
	}
	return 0;
}

int conv_integer(const char *s, size_t n, struct strbuf *out, char *why)
{
	struct num x;
	conv_trim(&s, &n);
	bool ok = parse_num(s, n, &x) && !x.e && x.ni <= 10;
	for (size_t i = 0; ok && i < x.nf; i++)
		ok = x.fp[i] == '0';
	int64_t v = 0;
	for (size_t i = 0; ok && i < x.ni; i++)
		v = v * 10 + (x.ip[i] - '0');
	if (x.neg)
		v = -v;
	if (!ok || v < INT32_MIN || v > INT32_MAX)
		return fail_expected(why, "an integer from -2147483648 to 2147483647", s, n);
	char buf[16], *w = buf + sizeof(buf);
	uint64_t a = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
	do {
		*--w = (char)('0' + a % 10);
		a /= 10;
	} while (a);
	if (v < 0)
		*--w = '-';
	strbuf_add(out, w, (size_t)(buf + sizeof(buf) - w));
	return 0;
}

/* ---- booleans ---------------------------------------------------------- */

int conv_boolean(const char *s, size_t n, bool *out, char *why)
{
	/* Lower-case spellings; Uzbek yo'q with every apostrophe in use. */
	static const char *const yes[] = {"t", "true", "1", "yes", "y", "ha", "да", "ҳа", "д"};
	static const char *const no[] = {"f",	 "false", "0",	  "no",	 "n",	"yo'q", "yoʻq",
					 "yo’q", "yo‘q",  "yo`q", "нет", "йўқ", "н"};
	conv_trim(&s, &n);
	if (n > 0 && n <= 16) {
		char buf[17];
		buf[map_into(s, n, buf, false)] = '\0';
		for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
			if (streq(buf, yes[i])) {
				*out = true;
				return 0;
			}
		for (size_t i = 0; i < ARRAY_SIZE(no); i++)
			if (streq(buf, no[i])) {
				*out = false;
				return 0;
			}
	}
	return fail_expected(why, "a boolean (true/false, 1/0, yes/no, ha/yo'q, да/нет)", s, n);
}
