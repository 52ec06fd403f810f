/*
 * cu.h: the one CUnit runner every unit test file uses.
 *
 * A test file defines its test functions, a `static CU_TestInfo tests[]`
 * table ending in CU_TEST_INFO_NULL, and then writes CU_MAIN("suite name").
 * The process exits non-zero when any assertion failed.
 */
#ifndef DHP_TEST_CU_H
#define DHP_TEST_CU_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#define CU_MAIN(suite_name)                                                                        \
	int main(void)                                                                             \
	{                                                                                          \
		CU_SuiteInfo suites[] = {{suite_name, NULL, NULL, NULL, NULL, tests},              \
					 CU_SUITE_INFO_NULL};                                      \
		if (CU_initialize_registry() != CUE_SUCCESS)                                       \
			return 2;                                                                  \
		CU_register_suites(suites);                                                        \
		CU_basic_set_mode(CU_BRM_NORMAL);                                                  \
		CU_basic_run_tests();                                                              \
		unsigned fails = CU_get_number_of_failures();                                      \
		CU_cleanup_registry();                                                             \
		return fails ? 1 : 0;                                                              \
	}

/* Compare a NUL-terminated result with an expected string, showing both on failure. */
#define CU_ASSERT_STR(actual, expected)                                                            \
	do {                                                                                       \
		const char *a_ = (actual), *e_ = (expected);                                       \
		if (!a_ || strcmp(a_, e_) != 0)                                                    \
			fprintf(stderr, "\n  %s:%d: got '%s', expected '%s'\n", __FILE__,          \
				__LINE__, a_ ? a_ : "(null)", e_);                                 \
		CU_ASSERT(a_ &&strcmp(a_, e_) == 0);                                               \
	} while (0)

#endif
