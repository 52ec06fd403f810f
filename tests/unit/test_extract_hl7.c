/*
 * The HL7v2 source: path addressing, unescaping, NULLs, repetitions, group
 * focus (an OBX reads its own OBR), per-message locations, and a bad
 * message rejected without stopping the stream.
 */
#include "core/dhp.h"
#include "extract/extract_hl7.h"

#include "cu.h"

#include <unistd.h>

static char path[] = "/tmp/dhp-hl7src.XXXXXX";

static const char text[] =
    "MSH|^~\\&|LAB|HOSP|DHP|UZ|20240312093000+0500||ORU^R01^ORU_R01|M1|P|2.5.1\r"
    "PID|1||111^^^HOSP^MR~31234567890123^^^UZ^NI||Karimov^Anvar\\T\\Co||19800312|M\r"
    "OBR|1||F1|58410-2^CBC^LN\r"
    "OBX|1|NM|718-7^Hgb^LN||13.5|g/dL\r"
    "NTE|1||haemolysed\r"
    "OBX|2|ST|X^Note^L||line1\\.br\\line2|\"\"\r"
    "OBR|2||F2|24323-8^CMP^LN\r"
    "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L\r"
    "\r"
    "garbage line without segment structure\r" /* becomes a continuation: harmless */
    "PID|1||no MSH before this\r";

static const char *val(struct source *s, const char *p)
{
	int h = source_resolve(s, p);
	CU_ASSERT_FATAL(h >= 0);
	struct value v;
	source_get(s, h, &v);
	if (v.type == V_NULL)
		return NULL;
	/* values are slices of the message, not NUL-terminated: copy for comparing */
	static char buf[8][256];
	static int next;
	char *b = buf[next++ % 8];
	snprintf(b, 256, "%.*s", (int)v.len, v.s);
	return b;
}

static void test_source(void)
{
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1));
	close(fd);
	char *files[] = {path};
	struct dhp_error err = DHP_ERROR_INIT;
	struct source *s = hl7src_open(files, 1, NULL, &err);
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL_FATAL(source_next(s, &err), 1);
	char where[64];
	snprintf(where, sizeof(where), "%s:msg#1", path);
	CU_ASSERT_STR(s->where, where);
	CU_ASSERT_STR(val(s, "MSH-9.1"), "ORU");
	CU_ASSERT_STR(val(s, "MSH-9.2"), "R01");
	CU_ASSERT_STR(val(s, "MSH-10"), "M1");
	CU_ASSERT_STR(val(s, "PID-5.2"), "Anvar&Co"); /* \T\ unescaped */
	CU_ASSERT_STR(val(s, "PID-3[2].1"), "31234567890123");
	CU_ASSERT_STR(val(s, "PID-3.5"), "MR");
	CU_ASSERT_PTR_NULL(val(s, "PID-4"));
	CU_ASSERT_EQUAL(source_resolve(s, "PID5"), -1);
	CU_ASSERT_EQUAL(source_resolve(s, "PID-0"), -1);
	/* [*] reads the repetition the engine sets */
	int star = source_resolve(s, "PID-3[*].5");
	CU_ASSERT_EQUAL(s->ops->reps(s, star), 2);
	s->rep = 1;
	CU_ASSERT_STR(val(s, "PID-3[*].5"), "NI");
	s->rep = 0;
	/* groups: the second OBX of the message reads its own OBR */
	int obx = s->ops->resolve_group(s, "OBX"), obr = s->ops->resolve_group(s, "OBR");
	CU_ASSERT_EQUAL(s->ops->group_count(s, obx), 3);
	int anchor = s->ops->group_focus(s, obx, 1);
	CU_ASSERT_STR(val(s, "OBX-5"), "line1\nline2"); /* \.br\ */
	CU_ASSERT_PTR_NULL(val(s, "OBX-6"));		/* explicit null "" */
	CU_ASSERT_STR(val(s, "OBR-3"), "F1");
	CU_ASSERT_PTR_NULL(val(s, "NTE-3")); /* the note belongs to the first OBX */
	CU_ASSERT_EQUAL(s->ops->group_of(s, anchor, obr), 2);
	s->ops->group_focus(s, obx, 2);
	CU_ASSERT_STR(val(s, "OBR-3"), "F2");
	CU_ASSERT_STR(val(s, "OBX-5"), "5.4");
	CU_ASSERT_STR(val(s, "PID-8"), "M");
	s->ops->group_focus(s, obx, 0);
	CU_ASSERT_STR(val(s, "NTE-3"), "haemolysed");
	s->ops->focus_clear(s);
	CU_ASSERT_STR(val(s, "OBX-5"), "13.5");
	/* the PID without MSH is a bad record, located, and the stream ends after it */
	int got = source_next(s, &err);
	CU_ASSERT_EQUAL(got, SOURCE_BAD_RECORD);
	CU_ASSERT(strncmp(err.where, path, strlen(path)) == 0);
	CU_ASSERT_EQUAL(source_next(s, &err), 0);
	source_close(s);
	unlink(path);
}

static CU_TestInfo tests[] = {
    {"paths, groups and locations", test_source},
    CU_TEST_INFO_NULL,
};

CU_MAIN("extract_hl7")
