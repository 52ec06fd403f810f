#include "core/dhp.h"
#include "core/strbuf.h"
#include "map/conv.h"

#include "cu.h"

/*
 * Helpers report the caller's line (CU_assertImplementation), so a failing
 * case in a long table is found at once.
 */
typedef int (*conv_fn)(const char *s, size_t n, struct strbuf *out, char *why);

static const char *dt_zone = "Asia/Tashkent";

static int datetime_in_zone(const char *s, size_t n, struct strbuf *out, char *why)
{
	return conv_datetime(s, n, dt_zone, out, why);
}

static void check(bool ok, int line, const char *what)
{
	CU_assertImplementation(ok, (unsigned)line, what, __FILE__, "", CU_FALSE);
}

/* f(in) succeeds with exactly `want`, appended after what `out` held. */
static void expect_ok(conv_fn f, const char *in, const char *want, int line)
{
	struct strbuf out = STRBUF_INIT;
	char why[CONV_WHY_MAX] = "";
	strbuf_addstr(&out, "<");
	int rc = f(in, strlen(in), &out, why);
	bool ok = rc == 0 && streq(out.buf + 1, want) && out.buf[0] == '<';
	if (!ok)
		fprintf(stderr, "\n  %s:%d: '%s' -> rc %d '%s' (%s), expected '%s'\n", __FILE__,
			line, in, rc, out.buf + 1, why, want);
	check(ok, line, in);
	strbuf_release(&out);
}

/* f(in) fails, leaves `out` alone, and says `want_why` (NULL: anything). */
static void expect_fail(conv_fn f, const char *in, const char *want_why, int line)
{
	struct strbuf out = STRBUF_INIT;
	char why[CONV_WHY_MAX] = "";
	strbuf_addstr(&out, "keep");
	int rc = f(in, strlen(in), &out, why);
	bool ok =
	    rc == -1 && streq(out.buf, "keep") && why[0] && (!want_why || streq(why, want_why));
	if (!ok)
		fprintf(stderr, "\n  %s:%d: '%s' -> rc %d out '%s' why '%s'%s%s\n", __FILE__, line,
			in, rc, out.buf, why, want_why ? ", expected why " : "",
			want_why ? want_why : "");
	check(ok, line, in);
	strbuf_release(&out);
}

#define OK(f, in, want) expect_ok(f, in, want, __LINE__)
#define FAIL(f, in) expect_fail(f, in, NULL, __LINE__)
#define FAIL_WHY(f, in, why) expect_fail(f, in, why, __LINE__)

#define DATE_WHY "expected a date (YYYY-MM-DD, DD.MM.YYYY, YYYYMMDD), found "
#define DATETIME_WHY                                                                               \
	"expected a date-time (YYYY-MM-DD hh:mm[:ss][+hh:mm], DD.MM.YYYY hh:mm[:ss], "             \
	"YYYYMMDDhhmm[ss]), found "

/* ---- trim, upper, lower ------------------------------------------------ */

static void trimmed(const char *in, const char *want, int line)
{
	const char *s = in;
	size_t n = strlen(in);
	conv_trim(&s, &n);
	bool ok = n == strlen(want) && memcmp(s, want, n) == 0;
	if (!ok)
		fprintf(stderr, "\n  %s:%d: trim got '%.*s', expected '%s'\n", __FILE__, line,
			(int)n, s, want);
	check(ok, line, in);
}

static void test_trim(void)
{
	trimmed("  abc\t\r\n", "abc", __LINE__);
	trimmed("\xC2\xA0Toshkent\xC2\xA0", "Toshkent", __LINE__); /* NBSP */
	trimmed("\xE2\x80\xAF 12 \xE2\x80\xAF", "12", __LINE__);   /* narrow NBSP */
	trimmed("\xEF\xBB\xBFsource", "source", __LINE__);	   /* BOM */
	trimmed("\xE3\x80\x80x\xE2\x80\x83", "x", __LINE__);	   /* ideographic, em */
	trimmed("a\xC2\xA0 b", "a\xC2\xA0 b", __LINE__);	   /* inner kept */
	trimmed(" \xC2\xA0 \t", "", __LINE__);
	trimmed("", "", __LINE__);
	trimmed("\xC2", "\xC2", __LINE__);		/* truncated UTF-8 is not space */
	trimmed("Ўзбекистон ", "Ўзбекистон", __LINE__); /* ends in 0x9D 0xD0 0xBD */
}

static void cased(bool upper, const char *in, const char *want, int line)
{
	struct strbuf out = STRBUF_INIT;
	if (upper)
		conv_upper(in, strlen(in), &out);
	else
		conv_lower(in, strlen(in), &out);
	bool ok = streq(out.buf, want);
	if (!ok)
		fprintf(stderr, "\n  %s:%d: %s('%s') = '%s', expected '%s'\n", __FILE__, line,
			upper ? "upper" : "lower", in, out.buf, want);
	check(ok, line, in);
	strbuf_release(&out);
}

static void test_case_mapping(void)
{
	cased(true, "oʻzbek tili", "OʻZBEK TILI", __LINE__); /* U+02BB kept */
	cased(false, "OʻZBEK Gʻalla", "oʻzbek gʻalla", __LINE__);
	cased(true, "Ўзбекистон", "ЎЗБЕКИСТОН", __LINE__);
	cased(false, "ЎЗБЕКИСТОН", "ўзбекистон", __LINE__);
	cased(true, "қўғҳ", "ҚЎҒҲ", __LINE__);
	cased(false, "ҚЎҒҲ", "қўғҳ", __LINE__);
	cased(true, "Ёлка", "ЁЛКА", __LINE__);
	cased(false, "ЁЛКА", "ёлка", __LINE__);
	cased(true, "щъыэюя", "ЩЪЫЭЮЯ", __LINE__);
	cased(false, "ІЇЄҐ", "іїєґ", __LINE__);
	cased(true, "Ӂӏәө", "ӁӀӘӨ", __LINE__); /* odd/even pairs, palochka */
	cased(true, "ärger ÿ ß", "ÄRGER Ÿ ß", __LINE__);
	cased(false, "ÀÉÎÕÜ ×", "àéîõü ×", __LINE__);
	cased(true, "ğüşıçö ľń", "ĞÜŞIÇÖ ĽŃ", __LINE__);
	cased(false, "İĞŸŽ", "iğÿž", __LINE__);
	cased(true, "abc \xFF\xC3 x", "ABC \xFF\xC3 X", __LINE__); /* invalid copied */
	cased(true, "日本 ok", "日本 OK", __LINE__);
	cased(true, "", "", __LINE__);

	/* Longer than the internal chunk, with a two byte letter on each boundary. */
	struct strbuf in = STRBUF_INIT, want = STRBUF_INIT;
	strbuf_addch(&in, 'a');
	strbuf_addch(&want, 'A');
	for (int i = 0; i < 300; i++) {
		strbuf_addstr(&in, "ё");
		strbuf_addstr(&want, "Ё");
	}
	cased(true, in.buf, want.buf, __LINE__);
	strbuf_release(&in);
	strbuf_release(&want);
}

/* ---- dates ------------------------------------------------------------- */

static void test_date_forms(void)
{
	OK(conv_date, "2024", "2024");
	OK(conv_date, "2024-03", "2024-03");
	OK(conv_date, "2024-03-12", "2024-03-12");
	OK(conv_date, "12.03.2024", "2024-03-12");
	OK(conv_date, "5.3.2024", "2024-03-05");
	OK(conv_date, "20240312", "2024-03-12");
	OK(conv_date, "202403", "2024-03");
	OK(conv_date, "2024-03-12 14:30:05", "2024-03-12");
	OK(conv_date, "2024-03-12T14:30:05.123+05:00", "2024-03-12");
	OK(conv_date, "2024-03-12 23:59:59.999999+05", "2024-03-12");
	OK(conv_date, "12.03.2024 14:30", "2024-03-12");
	OK(conv_date, "20240312143005", "2024-03-12");
	OK(conv_date, "202403121430+0500", "2024-03-12");
	OK(conv_date,
	   " \xC2\xA0"
	   "2024-03-12\t",
	   "2024-03-12");
	OK(conv_date, "0001-01-01", "0001-01-01");
	OK(conv_date, "9999-12-31", "9999-12-31");
}

static void test_date_calendar(void)
{
	OK(conv_date, "2024-02-29", "2024-02-29");
	OK(conv_date, "2000-02-29", "2000-02-29");
	OK(conv_date, "29.02.2024", "2024-02-29");
	OK(conv_date, "2024-04-30", "2024-04-30");
	FAIL_WHY(conv_date, "31.02.2024", DATE_WHY "'31.02.2024'");
	FAIL_WHY(conv_date, "2023-02-29", DATE_WHY "'2023-02-29'");
	FAIL(conv_date, "1900-02-29");
	FAIL(conv_date, "2024-04-31");
	FAIL(conv_date, "2024-13-01");
	FAIL(conv_date, "13.13.2024");
	FAIL(conv_date, "2024-00-10");
	FAIL(conv_date, "2024-01-00");
	FAIL(conv_date, "00.01.2024");
	FAIL(conv_date, "202413");
	FAIL(conv_date, "20240230");
	FAIL(conv_date, "0000-01-01");	     /* FHIR has no year 0 */
	FAIL(conv_date, "2024-03-12 24:00"); /* a bad time fails the date too */
}

static void test_date_garbage(void)
{
	FAIL_WHY(conv_date, "вчера", DATE_WHY "'вчера'");
	FAIL_WHY(conv_date, "", DATE_WHY "''");
	FAIL_WHY(conv_date, " \xC2\xA0 ", DATE_WHY "''");
	FAIL_WHY(conv_date, "infinity", DATE_WHY "'infinity'");
	FAIL(conv_date, "-infinity");
	FAIL(conv_date, "2024-03-12 BC");
	FAIL(conv_date, "2024-3-12");
	FAIL(conv_date, "12.03.24");
	FAIL(conv_date, "12/03/2024");
	FAIL(conv_date, "24");
	FAIL(conv_date, "20245");
	FAIL(conv_date, "2024031");
	FAIL(conv_date, "12024-03-12");
	FAIL(conv_date, "2024-03-12T");
	FAIL(conv_date, "2024-03-12x");
	FAIL(conv_date, "2024-03-12+05:00");
	/* Found text: at most 40 bytes, cut on a character, one line. */
	FAIL_WHY(conv_date, "ЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎ", DATE_WHY "'ЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎЎ...'");
	FAIL_WHY(conv_date, "a\nb", DATE_WHY "'a?b'");
}

static void test_datetime_forms(void)
{
	dt_zone = "Asia/Tashkent";
	conv_fn f = datetime_in_zone;
	OK(f, "2024-03-12 14:30:05", "2024-03-12T14:30:05+05:00");
	OK(f, "2024-03-12T14:30:05", "2024-03-12T14:30:05+05:00");
	OK(f, "2024-03-12T14:30", "2024-03-12T14:30:00+05:00");
	OK(f, "2024-03-12 9:05", "2024-03-12T09:05:00+05:00");
	OK(f, "12.03.2024 14:30", "2024-03-12T14:30:00+05:00");
	OK(f, "12.03.2024 14:30:05", "2024-03-12T14:30:05+05:00");
	/* Offsets as given are kept, in FHIR form. */
	OK(f, "2024-03-12 14:30:05.123456+05", "2024-03-12T14:30:05.123456+05:00");
	OK(f, "2024-03-12 14:30:05+0500", "2024-03-12T14:30:05+05:00");
	OK(f, "2024-03-12T14:30:05+05:30", "2024-03-12T14:30:05+05:30");
	OK(f, "2024-03-12T14:30:05-03:00", "2024-03-12T14:30:05-03:00");
	OK(f, "2024-03-12T14:30:05 +05:00", "2024-03-12T14:30:05+05:00");
	OK(f, "2024-03-12T14:30:05Z", "2024-03-12T14:30:05Z");
	OK(f, "2024-03-12t14:30:05z", "2024-03-12T14:30:05Z");
	OK(f, "2024-03-12T14:30Z", "2024-03-12T14:30:00Z");
	OK(f, "2024-03-12T14:30:05+14:00", "2024-03-12T14:30:05+14:00");
	/* Fractions kept digit for digit, ',' as the mark too. */
	OK(f, "2024-03-12T14:30:05.1", "2024-03-12T14:30:05.1+05:00");
	OK(f, "2024-03-12T14:30:05.120", "2024-03-12T14:30:05.120+05:00");
	OK(f, "2024-03-12T14:30:05,5Z", "2024-03-12T14:30:05.5Z");
	OK(f, "2024-03-12T14:30:05.123456789Z", "2024-03-12T14:30:05.123456789Z");
	OK(f, "2016-12-31T23:59:60Z", "2016-12-31T23:59:60Z"); /* leap second */
	/* A bare date stays a date, precision kept. */
	OK(f, "2024-03-12", "2024-03-12");
	OK(f, "2024-03", "2024-03");
	OK(f, "2024", "2024");
	OK(f, "12.03.2024", "2024-03-12");
	OK(f, "20240312", "2024-03-12");
}

static void test_datetime_hl7(void)
{
	dt_zone = "Asia/Tashkent";
	conv_fn f = datetime_in_zone;
	OK(f, "202403121430", "2024-03-12T14:30:00+05:00");
	OK(f, "20240312143005", "2024-03-12T14:30:05+05:00");
	OK(f, "20240312143005.1234", "2024-03-12T14:30:05.1234+05:00");
	OK(f, "20240312143005.1234+0300", "2024-03-12T14:30:05.1234+03:00");
	OK(f, "20240312143005-0500", "2024-03-12T14:30:05-05:00");
	OK(f, "202403121430+0500", "2024-03-12T14:30:00+05:00");
	OK(f, "20240312T143005", "2024-03-12T14:30:05+05:00");
	FAIL(f, "2024031214");	     /* hour precision is not a FHIR dateTime */
	FAIL(f, "202403121430.5");   /* fraction only after seconds */
	FAIL(f, "2024031214300");    /* 13 digits */
	FAIL(f, "20240312143005+5"); /* offset needs two digits */
	FAIL(f, "20240312253005");
}

static void test_datetime_invalid(void)
{
	dt_zone = "Asia/Tashkent";
	conv_fn f = datetime_in_zone;
	FAIL_WHY(f, "вчера", DATETIME_WHY "'вчера'");
	FAIL_WHY(f, "infinity", DATETIME_WHY "'infinity'");
	FAIL_WHY(f, "", DATETIME_WHY "''");
	FAIL(f, "-infinity");
	FAIL(f, "2024-03-12 24:00");
	FAIL(f, "2024-03-12 14:60");
	FAIL(f, "2024-03-12 14:30:61");
	FAIL(f, "2024-03-12 14");
	FAIL(f, "2024-03-12 14:3");
	FAIL(f, "2024-03-12 114:30");
	FAIL(f, "2024-03-12  14:30");
	FAIL(f, "2024-03-12 14:30.5");		    /* fraction needs seconds */
	FAIL(f, "2024-03-12T14:30:05.");	    /* mark without digits */
	FAIL(f, "2024-03-12T14:30:05.1234567890Z"); /* more than 9 digits */
	FAIL(f, "2024-03-12T14:30:05+15:00");
	FAIL(f, "2024-03-12T14:30:05+14:30");
	FAIL(f, "2024-03-12T14:30:05+05:60");
	FAIL(f, "2024-03-12T14:30:05+04:37:11"); /* LMT offset with seconds */
	FAIL(f, "2024-03-12T14:30:05+5");
	FAIL(f, "2024-03-12T14:30:05 UTC");
	FAIL(f, "2024-03-12T14:30:05Z+05");
	FAIL(f, "2024-03-12 14:30:05 BC");
	FAIL(f, "31.02.2024 10:00");
	FAIL(f, "2023-02-29T10:00");
}

static void test_datetime_zones(void)
{
	conv_fn f = datetime_in_zone;
	dt_zone = "Asia/Tashkent";
	OK(f, "2024-07-01 12:00", "2024-07-01T12:00:00+05:00");
	/* Soviet era: UTC+6, and +7 in summer (DST 1981-1990). */
	OK(f, "1985-07-01 12:00", "1985-07-01T12:00:00+07:00");
	OK(f, "1985-01-15 12:00", "1985-01-15T12:00:00+06:00");
	OK(f, "1992-01-01 12:00", "1992-01-01T12:00:00+05:00");
	/* Local mean time before 1924 (+04:37:11) rounds to whole minutes. */
	OK(f, "1900-01-01 00:00", "1900-01-01T00:00:00+04:37");

	/* A transition day is not cached as a whole. */
	dt_zone = "Europe/Berlin";
	OK(f, "2024-03-31 01:59:59", "2024-03-31T01:59:59+01:00");
	OK(f, "2024-03-31 03:00", "2024-03-31T03:00:00+02:00");
	OK(f, "2024-03-31 12:00", "2024-03-31T12:00:00+02:00");
	/* In the spring gap: the offset before it, so the instant is real. */
	OK(f, "2024-03-31 02:30", "2024-03-31T02:30:00+01:00");
	OK(f, "2024-10-27 01:59", "2024-10-27T01:59:00+02:00");
	OK(f, "2024-10-27 03:00", "2024-10-27T03:00:00+01:00");
	OK(f, "2024-12-01 10:00", "2024-12-01T10:00:00+01:00");

	/* Zones used side by side each keep their own cache. */
	for (int i = 0; i < 3; i++) {
		dt_zone = "America/New_York";
		OK(f, "2024-07-04 09:00", "2024-07-04T09:00:00-04:00");
		OK(f, "2024-01-04 09:00", "2024-01-04T09:00:00-05:00");
		dt_zone = "Asia/Kolkata";
		OK(f, "2024-07-04 09:00", "2024-07-04T09:00:00+05:30");
		dt_zone = "UTC";
		OK(f, "2024-07-04 09:00", "2024-07-04T09:00:00+00:00");
		dt_zone = "Asia/Tashkent";
		OK(f, "2024-07-04 09:00", "2024-07-04T09:00:00+05:00");
		dt_zone = "Asia/Kathmandu"; /* a fifth zone evicts one */
		OK(f, "2024-07-04 09:00", "2024-07-04T09:00:00+05:45");
	}

	/* NULL means Asia/Tashkent. */
	struct strbuf out = STRBUF_INIT;
	char why[CONV_WHY_MAX];
	CU_ASSERT_EQUAL(conv_datetime("1985-07-01 12:00", 16, NULL, &out, why), 0);
	CU_ASSERT_STR(out.buf, "1985-07-01T12:00:00+07:00");
	strbuf_release(&out);

	dt_zone = "Mars/Olympus_Mons";
	FAIL_WHY(f, "2024-07-01 12:00",
		 "expected a time zone name (e.g. Asia/Tashkent), found 'Mars/Olympus_Mons'");
	dt_zone = "../../../etc/passwd";
	FAIL(f, "2024-07-01 12:00");
	/* An offset in the value needs no zone. */
	OK(f, "2024-07-01 12:00+05", "2024-07-01T12:00:00+05:00");
}

static void test_tz_valid(void)
{
	CU_ASSERT(conv_tz_valid("Asia/Tashkent"));
	CU_ASSERT(conv_tz_valid("Asia/Samarkand"));
	CU_ASSERT(conv_tz_valid("UTC"));
	CU_ASSERT(conv_tz_valid("America/Argentina/Buenos_Aires"));
	CU_ASSERT(conv_tz_valid("Etc/GMT-5"));
	CU_ASSERT(conv_tz_valid(NULL));
	CU_ASSERT(!conv_tz_valid(""));
	CU_ASSERT(!conv_tz_valid("Asia/Nowhere"));
	CU_ASSERT(!conv_tz_valid("Asia")); /* a directory */
	CU_ASSERT(!conv_tz_valid("/etc/passwd"));
	CU_ASSERT(!conv_tz_valid("../zoneinfo/UTC"));
	CU_ASSERT(!conv_tz_valid("Asia/../UTC"));
	CU_ASSERT(!conv_tz_valid("UTC+5"));
	CU_ASSERT(!conv_tz_valid("Asia/Tashkent "));
}

/* ---- numbers and booleans ---------------------------------------------- */

#define DECIMAL_WHY "expected a decimal number (12.5, 12,5, -3, 1e3), found "

static void test_decimal(void)
{
	OK(conv_decimal, "12.5", "12.5");
	OK(conv_decimal, "12,5", "12.5");
	OK(conv_decimal, "+3", "3");
	OK(conv_decimal, "-3", "-3");
	OK(conv_decimal, "12.50", "12.50");
	OK(conv_decimal, "0.000", "0.000");
	OK(conv_decimal, "-0.001", "-0.001");
	OK(conv_decimal, "1e3", "1e3");
	OK(conv_decimal, "1.5E-03", "1.5E-03");
	OK(conv_decimal, "2,5e+2", "2.5e+2");
	OK(conv_decimal, "007", "7");
	OK(conv_decimal, "00.5", "0.5");
	OK(conv_decimal, ".5", "0.5");
	OK(conv_decimal, "-.5", "-0.5");
	OK(conv_decimal, "5.", "5");
	OK(conv_decimal, "0", "0");
	OK(conv_decimal,
	   " \xC2\xA0"
	   "36,6 ",
	   "36.6");
	OK(conv_decimal, "123456789012345678901234567890.5", "123456789012345678901234567890.5");
	FAIL_WHY(conv_decimal, "1 000", DECIMAL_WHY "'1 000'");
	FAIL_WHY(conv_decimal, "12,5 kg", DECIMAL_WHY "'12,5 kg'");
	FAIL(conv_decimal, "1\xC2\xA0"
			   "000");
	FAIL(conv_decimal, "1,000.5");
	FAIL(conv_decimal, "1.000,5");
	FAIL(conv_decimal, "12.5.3");
	FAIL(conv_decimal, "");
	FAIL(conv_decimal, "-");
	FAIL(conv_decimal, "+");
	FAIL(conv_decimal, ".");
	FAIL(conv_decimal, "--1");
	FAIL(conv_decimal, "+-1");
	FAIL(conv_decimal, "1e");
	FAIL(conv_decimal, "1e+");
	FAIL(conv_decimal, "e5");
	FAIL(conv_decimal, "1e1234567890");
	FAIL(conv_decimal, "0x10");
	FAIL(conv_decimal, "NaN");
	FAIL(conv_decimal, "inf");
	FAIL(conv_decimal, "- 1");
}

#define INTEGER_WHY "expected an integer from -2147483648 to 2147483647, found "

static void test_integer(void)
{
	OK(conv_integer, "42", "42");
	OK(conv_integer, "+42", "42");
	OK(conv_integer, "-42", "-42");
	OK(conv_integer, "0", "0");
	OK(conv_integer, "-0", "0");
	OK(conv_integer, "007", "7");
	OK(conv_integer, "12.0", "12");
	OK(conv_integer, "12,00", "12");
	OK(conv_integer, "12.", "12");
	OK(conv_integer, "2147483647", "2147483647");
	OK(conv_integer, "-2147483648", "-2147483648");
	OK(conv_integer, "0000000000002147483647", "2147483647");
	OK(conv_integer, " 5\xC2\xA0", "5");
	FAIL_WHY(conv_integer, "2147483648", INTEGER_WHY "'2147483648'");
	FAIL_WHY(conv_integer, "12.5", INTEGER_WHY "'12.5'");
	FAIL(conv_integer, "-2147483649");
	FAIL(conv_integer, "99999999999");
	FAIL(conv_integer, "18446744073709551617");
	FAIL(conv_integer, "1e3");
	FAIL(conv_integer, "12.01");
	FAIL(conv_integer, "1 000");
	FAIL(conv_integer, "");
	FAIL(conv_integer, "abc");
	FAIL(conv_integer, "-");
}

static void boolean_is(const char *in, int want, int line)
{
	bool v = !want;
	char why[CONV_WHY_MAX] = "";
	int rc = conv_boolean(in, strlen(in), &v, why);
	bool ok = want < 0 ? rc == -1 && why[0] : rc == 0 && v == (want == 1);
	if (!ok)
		fprintf(stderr, "\n  %s:%d: boolean('%s') -> rc %d value %d (%s)\n", __FILE__, line,
			in, rc, v, why);
	check(ok, line, in);
}

static void test_boolean(void)
{
	static const char *const yes[] = {
	    "t",  "T",	"true", "TRUE", "True", "1",  "yes", "Yes", "Y", "y",
	    "ha", "HA", "Ha",	"да",	"Да",	"ДА", "ҳа",  "Ҳа",  "Д", " true\xC2\xA0"};
	static const char *const no[] = {
	    "f",    "F",    "false", "FALSE", "0",    "no",  "NO",  "n",   "yo'q", "Yo'q", "YO'Q",
	    "yoʻq", "Yoʻq", "yo‘q",  "yo’q",  "yo`q", "нет", "НЕТ", "Нет", "йўқ",  "ЙЎҚ",  "н"};
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		boolean_is(yes[i], 1, __LINE__);
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		boolean_is(no[i], 0, __LINE__);
	static const char *const bad[] = {
	    "", "2", "maybe", "tru", "yesno", "ja", "нетт", "yo q", "truefalse-long-value-x"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		boolean_is(bad[i], -1, __LINE__);

	bool v = true;
	char why[CONV_WHY_MAX];
	CU_ASSERT_EQUAL(conv_boolean("maybe", 5, &v, why), -1);
	CU_ASSERT_STR(
	    why, "expected a boolean (true/false, 1/0, yes/no, ha/yo'q, да/нет), found 'maybe'");
	CU_ASSERT(v); /* untouched */
}

/* why may be NULL when the caller does not want it. */
static void test_why_optional(void)
{
	struct strbuf out = STRBUF_INIT;
	bool b;
	CU_ASSERT_EQUAL(conv_date("x", 1, &out, NULL), -1);
	CU_ASSERT_EQUAL(conv_datetime("x", 1, NULL, &out, NULL), -1);
	CU_ASSERT_EQUAL(conv_datetime("2024-01-01 10:00", 16, "No/Zone", &out, NULL), -1);
	CU_ASSERT_EQUAL(conv_decimal("x", 1, &out, NULL), -1);
	CU_ASSERT_EQUAL(conv_integer("x", 1, &out, NULL), -1);
	CU_ASSERT_EQUAL(conv_boolean("x", 1, &b, NULL), -1);
	CU_ASSERT_EQUAL(out.len, 0);
	strbuf_release(&out);
}

static CU_TestInfo tests[] = {
    {"trim ascii and unicode space", test_trim},
    {"upper/lower latin and cyrillic", test_case_mapping},
    {"date: accepted forms", test_date_forms},
    {"date: calendar checks", test_date_calendar},
    {"date: garbage and why text", test_date_garbage},
    {"datetime: accepted forms", test_datetime_forms},
    {"datetime: hl7 dtm", test_datetime_hl7},
    {"datetime: invalid", test_datetime_invalid},
    {"datetime: time zones", test_datetime_zones},
    {"tz names", test_tz_valid},
    {"decimal", test_decimal},
    {"integer", test_integer},
    {"boolean", test_boolean},
    {"why is optional", test_why_optional},
    CU_TEST_INFO_NULL,
};

CU_MAIN("conv")
