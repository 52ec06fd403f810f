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

static CU_TestInfo tests[] = {
    {"build, write, copy, reuse", test_build_and_write},
    {"keys", test_keys},
    CU_TEST_INFO_NULL,
};

CU_MAIN("jtree")
