/*
 * fuzz_conv.c: libFuzzer target for every conv_* function.
 *
 * Besides memory safety it checks the contracts: a failure leaves `out`
 * untouched and gives a one-line `why`; a success is a fixed point (the
 * normalised text converts to itself), and case mapping never grows text
 * and is idempotent.
 */
#include "core/dhp.h"
#include "core/strbuf.h"
#include "map/conv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef int (*conv_fn)(const char *s, size_t n, struct strbuf *out, char *why);

static const char *zone;

static int datetime(const char *s, size_t n, struct strbuf *out, char *why)
{
	return conv_datetime(s, n, zone, out, why);
}

static void check_why(const char *why)
{
	size_t n = strnlen(why, CONV_WHY_MAX);
	if (n == 0 || n == CONV_WHY_MAX || strchr(why, '\n'))
		abort();
}

static void check_conv(conv_fn f, const char *s, size_t n)
{
	struct strbuf out = STRBUF_INIT, again = STRBUF_INIT;
	char why[CONV_WHY_MAX];
	strbuf_addstr(&out, "#");
	if (f(s, n, &out, why)) {
		check_why(why);
		if (!streq(out.buf, "#"))
			abort();
	} else if (out.len < 2 || f(out.buf + 1, out.len - 1, &again, why) ||
		   !streq(again.buf, out.buf + 1)) {
		abort();
	}
	strbuf_release(&out);
	strbuf_release(&again);
}

static void check_case(void (*f)(const char *, size_t, struct strbuf *), const char *s, size_t n)
{
	struct strbuf once = STRBUF_INIT, twice = STRBUF_INIT;
	f(s, n, &once);
	f(once.buf, once.len, &twice);
	if (once.len > n || !streq(once.buf, twice.buf) || once.len != twice.len)
		abort();
	strbuf_release(&once);
	strbuf_release(&twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const zones[] = {"Asia/Tashkent",
					    "Europe/Berlin",
					    "America/New_York",
					    "Asia/Kathmandu",
					    "UTC",
					    "No/Such_Zone",
					    NULL};
	if (size == 0)
		return 0;
	zone = zones[data[0] % ARRAY_SIZE(zones)];
	const char *s = (const char *)data + 1;
	size_t n = size - 1;

	const char *t = s;
	size_t tn = n;
	conv_trim(&t, &tn);
	if (t < s || t + tn > s + n)
		abort();

	check_conv(conv_date, s, n);
	check_conv(datetime, s, n);
	check_conv(conv_decimal, s, n);
	check_conv(conv_integer, s, n);
	check_case(conv_upper, s, n);
	check_case(conv_lower, s, n);

	bool b;
	char why[CONV_WHY_MAX];
	if (conv_boolean(s, n, &b, why))
		check_why(why);
	return 0;
}
