#include "core/dhp.h"
#include "core/strbuf.h"
#include "core/err.h"

#include "cu.h"

static void test_append_and_detach(void)
{
	struct strbuf sb = STRBUF_INIT;
	CU_ASSERT_STR(sb.buf, "");
	strbuf_addstr(&sb, "Toshkent");
	strbuf_addch(&sb, ' ');
	strbuf_addf(&sb, "%d", 2024);
	CU_ASSERT_STR(sb.buf, "Toshkent 2024");
	CU_ASSERT_EQUAL(sb.len, 13);
	size_t len;
	char *s = strbuf_detach(&sb, &len);
	CU_ASSERT_STR(s, "Toshkent 2024");
	CU_ASSERT_EQUAL(len, 13);
	CU_ASSERT_STR(sb.buf, "");
	free(s);
}

static void test_cap_is_sticky(void)
{
	struct strbuf sb;
	strbuf_init(&sb, 8);
	strbuf_addstr(&sb, "12345");
	strbuf_addstr(&sb, "6789"); /* would pass the cap */
	CU_ASSERT(sb.toobig);
	CU_ASSERT_STR(sb.buf, "12345");
	strbuf_addstr(&sb, "x"); /* no-op once broken */
	CU_ASSERT_STR(sb.buf, "12345");
	strbuf_reset(&sb);
	CU_ASSERT(!sb.toobig);
	strbuf_addstr(&sb, "abc");
	CU_ASSERT_STR(sb.buf, "abc");
	strbuf_release(&sb);
}

/* Appends that fit in the buffer take a shortcut without the cap check:
 * the buffer never grows past the cap, so they cannot pass it either. */
static void test_cap_exact(void)
{
	struct strbuf sb;
	strbuf_init(&sb, 100);
	for (int i = 0; i < 99; i++)
		strbuf_addch(&sb, 'x');
	strbuf_addstr(&sb, "y"); /* exactly at the cap */
	CU_ASSERT(!sb.toobig);
	CU_ASSERT_EQUAL(sb.len, 100);
	CU_ASSERT(sb.alloc <= 101);
	strbuf_addch(&sb, 'z');
	CU_ASSERT(sb.toobig);
	CU_ASSERT_EQUAL(sb.len, 100);
	CU_ASSERT_EQUAL(sb.buf[99], 'y');
	CU_ASSERT_EQUAL(sb.buf[100], '\0');
	strbuf_reset(&sb);
	strbuf_add(&sb, "abcdefgh", 8);
	CU_ASSERT_STR(sb.buf, "abcdefgh");
	strbuf_release(&sb);
}

static void test_json_escape(void)
{
	struct strbuf sb = STRBUF_INIT;
	const char in[] = "a\"b\\c\n\x01Oʻzbek";
	strbuf_add_json_escaped(&sb, in, sizeof(in) - 1);
	CU_ASSERT_STR(sb.buf, "a\\\"b\\\\c\\n\\u0001Oʻzbek");
	/* escapes found at every offset of the 8-byte scan, and none invented */
	const char longer[] = "0123456789abc\"ef0123456\x1f"
			      "89abcdef\\Ўзбекистон0123456789";
	strbuf_reset(&sb);
	strbuf_add_json_escaped(&sb, longer, sizeof(longer) - 1);
	CU_ASSERT_STR(sb.buf, "0123456789abc\\\"ef0123456\\u001f89abcdef\\\\Ўзбекистон0123456789");
	strbuf_release(&sb);
}

/* JSON string escaping, one byte at a time: the reference. */
static size_t ref_escape(const char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			out[o++] = '\\';
			out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20) {
			o += (size_t)sprintf(out + o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	return o;
}

/* Room reserved ahead for a worst case: granted within the cap, refused
 * (without breaking the buffer) past it, and never once broken. */
static void test_reserve(void)
{
	struct strbuf sb;
	strbuf_init(&sb, 100);
	CU_ASSERT(strbuf_reserve(&sb, 100));
	CU_ASSERT(sb.alloc >= 101 && sb.alloc <= 101);
	strbuf_addstr(&sb, "abc");
	CU_ASSERT(!strbuf_reserve(&sb, 98));
	CU_ASSERT(!sb.toobig);
	CU_ASSERT_STR(sb.buf, "abc");
	CU_ASSERT(strbuf_reserve(&sb, 97));
	/* escaping whose worst case passes the cap, but not its text */
	strbuf_add_json_escaped(&sb, "0123456789012345678901234567890123456789", 40);
	CU_ASSERT(!sb.toobig);
	CU_ASSERT_EQUAL(sb.len, 43);
	strbuf_add_json_escaped(&sb, "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"",
				29);
	CU_ASSERT(sb.toobig);
	CU_ASSERT(sb.len <= 100);
	CU_ASSERT(!strbuf_reserve(&sb, 1));
	strbuf_release(&sb);
	/* json_escape_to() at every length and offset, against a byte by byte
	 * reference, and strbuf_add_json_escaped() into a buffer capped below
	 * the worst case (its chunked path) */
	for (size_t n = 0; n <= 70; n++) {
		for (size_t at = 0; at <= n; at++) {
			char in[80], out[6 * 80];
			for (size_t i = 0; i < n; i++)
				in[i] = (char)(0x20 + (i * 7) % 90);
			for (size_t i = 0; i < n; i++)
				if (in[i] == '"' || in[i] == '\\')
					in[i] = 'q';
			if (at < n)
				in[at] = at % 3 ? '"' : (char)(at % 32);
			size_t len = (size_t)(json_escape_to(out, in, n) - out);
			char ref[6 * 80];
			size_t rlen = ref_escape(in, n, ref);
			CU_ASSERT_EQUAL(len, rlen);
			CU_ASSERT(memcmp(out, ref, len) == 0);
			struct strbuf capped;
			strbuf_init(&capped, 2 * n + 6); /* below 6n: chunk by chunk */
			strbuf_add_json_escaped(&capped, in, n);
			CU_ASSERT(!capped.toobig);
			CU_ASSERT(capped.len == rlen && memcmp(capped.buf, ref, rlen) == 0);
			strbuf_release(&capped);
		}
	}
	/* a string longer than one chunk, escapes at the chunk edges */
	char in[2000], ref[6 * 2000];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = i % 511 == 0 || i % 512 == 511 ? '"' : (char)('a' + i % 26);
	size_t rlen = ref_escape(in, sizeof(in), ref);
	struct strbuf capped;
	strbuf_init(&capped, rlen + 10); /* below 6n: chunk by chunk */
	strbuf_add_json_escaped(&capped, in, sizeof(in));
	CU_ASSERT(!capped.toobig);
	CU_ASSERT(capped.len == rlen && memcmp(capped.buf, ref, rlen) == 0);
	strbuf_release(&capped);
}

static void test_error_contract(void)
{
	struct dhp_error err = DHP_ERROR_INIT;
	CU_ASSERT_EQUAL(dhp_fail(&err, DHP_EVALUE, "visits:42:admitted_at", "bad date '%s'", "x"),
			-1);
	CU_ASSERT_STR(err.where, "visits:42:admitted_at");
	CU_ASSERT_STR(err.msg, "bad date 'x'");
	CU_ASSERT_STR(dhp_code_name(err.code), "value");
	dhp_error_clear(&err);
	CU_ASSERT_EQUAL(err.code, DHP_OK);
}

static CU_TestInfo tests[] = {
    {"append and detach", test_append_and_detach},
    {"size cap is sticky", test_cap_is_sticky},
    {"size cap: appends up to it exactly", test_cap_exact},
    {"json escaping", test_json_escape},
    {"reserve, escaping into reserved room", test_reserve},
    {"error contract", test_error_contract},
    CU_TEST_INFO_NULL,
};

CU_MAIN("core")
