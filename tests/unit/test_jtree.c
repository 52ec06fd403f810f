/*
 * The arena JSON trees: members in insertion order, replacement, deletion,
 * arrays with holes, the written text (json-c's spaced layout, which the
 * bundle files keep), the json-c copy, and reuse of the arena.
 */
#include "core/dhp.h"
#include "fhir/jtree.h"

#include "cu.h"

static void test_build_and_write(void)
{
	struct jarena a;
	jarena_init(&a);
	for (int round = 0; round < 2; round++) { /* the second round reuses the memory */
		struct jnode *o = j_obj(&a), *arr = j_arr(&a);
		j_set(&a, o, "resourceType", j_str(&a, "Observation", 11));
		j_set(&a, o, "status", j_str(&a, "preliminary", 11));
		j_set(&a, o, "status", j_str(&a, "final", 5)); /* replaced in place */
		j_put(&a, arr, 2, j_num(&a, "36.60", 5));      /* holes at 0 and 1 */
		j_set(&a, o, "v", arr);
		j_set(&a, o, "ok", j_bool(&a, true));
		j_set(&a, o, "q", j_str(&a, "a\"b\n", 4));
		j_set(&a, o, "gone", j_obj(&a));
		j_del(o, "gone");
		CU_ASSERT_PTR_NULL(j_get(o, "gone"));
		CU_ASSERT_EQUAL(arr->u.arr.n, 3);
		CU_ASSERT_PTR_NULL(j_at(arr, 0));
		struct strbuf sb = STRBUF_INIT;
		j_write(&sb, o);
		CU_ASSERT_STR(sb.buf,
			      "{ \"resourceType\": \"Observation\", \"status\": \"final\", "
			      "\"v\": [ null, null, 36.60 ], \"ok\": true, \"q\": \"a\\\"b\\n\" }");
		strbuf_release(&sb);
		json_object *c = jtree_to_jsonc(o);
		CU_ASSERT_STR(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN),
			      "{\"resourceType\":\"Observation\",\"status\":\"final\","
			      "\"v\":[null,null,36.60],\"ok\":true,\"q\":\"a\\\"b\\n\"}");
		json_object_put(c);
		jarena_reset(&a);
	}
	/* a node larger than a chunk */
	struct jnode *big = j_arr(&a);
	for (size_t i = 0; i < 20000; i++)
		j_push(&a, big, j_num(&a, "1", 1));
	CU_ASSERT_EQUAL(big->u.arr.n, 20000);
	CU_ASSERT_STR(j_at(big, 19999)->u.str.s, "1");
	jarena_release(&a);
}

/* Keys: found by content whatever the pointer, written in one piece when
 * plain and through the escaper otherwise (too long for the writer's
 * buffer, or with characters JSON escapes). */
static void test_keys(void)
{
	struct jarena a;
	jarena_init(&a);
	struct jnode *o = j_obj(&a);
	const char *long_key =
	    "a-key-of-seventy-characters-which-is-longer-than-the-writer-buffer-xyz";
	j_set(&a, o, "code", j_num(&a, "1", 1));
	j_set(&a, o, "coding", j_num(&a, "2", 1));
	j_set(&a, o, "", j_num(&a, "3", 1));
	j_set(&a, o, "q\"k\\\n", j_num(&a, "4", 1));
	j_set(&a, o, long_key, j_num(&a, "5", 1));
	char copy[8];
	snprintf(copy, sizeof(copy), "%s", "coding");
	CU_ASSERT_STR(j_get(o, copy)->u.str.s, "2");
	copy[4] = '\0'; /* "codi" */
	CU_ASSERT_PTR_NULL(j_get(o, copy));
	CU_ASSERT_STR(j_get(o, "")->u.str.s, "3");
	j_set(&a, o, copy + 4, j_num(&a, "6", 1)); /* "" again, another pointer */
	struct strbuf sb = STRBUF_INIT;
	j_write(&sb, o);
	CU_ASSERT_STR(sb.buf,
		      "{ \"code\": 1, \"coding\": 2, \"\": 6, \"q\\\"k\\\\\\n\": 4, "
		      "\"a-key-of-seventy-characters-which-is-longer-than-the-writer-buffer-xyz\": "
		      "5 }");
	strbuf_release(&sb);
	jarena_release(&a);
}

/* The writer fills the buffer directly, checking room for each piece's
 * worst case: keys around the length it copies without knowing it,
 * strings with escapes at every offset of its 16- and 8-byte scans, and a
 * size cap that the worst cases pass but the text does not, or the text
 * passes: the result is what appends piece by piece give. */
static void test_writer(void)
{
	struct jarena a;
	jarena_init(&a);
	char key[64];
	for (size_t n = 44; n <= 52; n++) {
		memset(key, 'k', n);
		key[n] = '\0';
		struct jnode *o = j_obj(&a);
		j_set(&a, o, key, j_bool(&a, false));
		struct strbuf sb = STRBUF_INIT, want = STRBUF_INIT;
		j_write(&sb, o);
		strbuf_addstr(&want, "{ \"");
		strbuf_addstr(&want, key);
		strbuf_addstr(&want, "\": false }");
		CU_ASSERT_STR(sb.buf, want.buf);
		strbuf_release(&sb);
		strbuf_release(&want);
	}
	/* strings of 0 to 40 bytes with one byte to escape at each offset */
	const char specials[] = {'"', '\\', '\n', '\x01', '\x1f', '\t'};
	for (size_t n = 0; n <= 40; n++) {
		for (size_t at = 0; at <= n; at++) {
			for (size_t k = 0; k < sizeof(specials); k++) {
				char s[48];
				for (size_t i = 0; i < n; i++)
					s[i] = (char)('a' + i % 26);
				if (at < n)
					s[at] = specials[k];
				struct jnode *arr = j_arr(&a);
				j_push(&a, arr, j_str(&a, s, n));
				struct strbuf sb = STRBUF_INIT, want = STRBUF_INIT;
				j_write(&sb, arr);
				strbuf_addstr(&want, "[ \"");
				strbuf_add_json_escaped(&want, s, n);
				strbuf_addstr(&want, "\" ]");
				CU_ASSERT_STR(sb.buf, want.buf);
				CU_ASSERT_EQUAL(sb.len, strlen(sb.buf));
				strbuf_release(&sb);
				strbuf_release(&want);
				if (at == n)
					break; /* nothing to escape: once */
			}
		}
	}
	/* a string longer than what is escaped into room reserved ahead */
	{
		size_t n = STRBUF_ESCAPE_AHEAD + 5;
		char *big = xmalloc(n);
		memset(big, 'b', n);
		big[1000] = '"';
		struct jnode *o = j_obj(&a);
		j_set(&a, o, "k", j_str(&a, "v", 1));
		j_set(&a, o, "big", j_str(&a, big, n));
		j_set(&a, o, "z", j_bool(&a, true));
		struct strbuf sb = STRBUF_INIT, want = STRBUF_INIT;
		strbuf_addstr(&sb, "x");
		j_write(&sb, o);
		strbuf_addstr(&want, "x{ \"k\": \"v\", \"big\": \"");
		strbuf_add_json_escaped(&want, big, n);
		strbuf_addstr(&want, "\", \"z\": true }");
		CU_ASSERT_EQUAL(sb.len, want.len);
		CU_ASSERT(sb.len == want.len && memcmp(sb.buf, want.buf, sb.len) == 0);
		CU_ASSERT(sb.alloc < 2 * want.len + 64); /* not reserved at six times */
		strbuf_release(&sb);
		strbuf_release(&want);
		free(big);
	}
	/* the cap: { "code": "abcdefghij" } is 24 bytes, after "xy" */
	struct jnode *o = j_obj(&a);
	j_set(&a, o, "code", j_str(&a, "abcdefghij", 10));
	for (size_t cap = 20; cap <= 80; cap++) {
		struct strbuf sb;
		strbuf_init(&sb, cap);
		strbuf_addstr(&sb, "xy");
		j_write(&sb, o);
		CU_ASSERT(sb.alloc <= cap + 1);
		CU_ASSERT_EQUAL(sb.toobig, cap < 26);
		CU_ASSERT(sb.len <= cap && sb.len == strlen(sb.buf));
		if (cap >= 26)
			CU_ASSERT_STR(sb.buf, "xy{ \"code\": \"abcdefghij\" }");
		if (cap == 20) /* as far as whole pieces fit */
			CU_ASSERT_STR(sb.buf, "xy{ \"code\": \"");
		j_write(&sb, o); /* a broken buffer stays as it was */
		CU_ASSERT_EQUAL(sb.toobig, cap < 50);
		CU_ASSERT(sb.len <= cap && sb.len == strlen(sb.buf) && sb.alloc <= cap + 1);
		if (cap < 26)
			CU_ASSERT(strncmp(sb.buf, "xy{ \"code\": \"", 13) == 0 && sb.len < 26);
		if (cap >= 50)
			CU_ASSERT_STR(sb.buf,
				      "xy{ \"code\": \"abcdefghij\" }{ \"code\": \"abcdefghij\" }");
		strbuf_release(&sb);
	}
	jarena_release(&a);
}

static CU_TestInfo tests[] = {
    {"build, write, copy, reuse", test_build_and_write},
    {"keys", test_keys},
    {"writer: room, escapes, cap", test_writer},
    CU_TEST_INFO_NULL,
};

CU_MAIN("jtree")
