/*
 * dhp.h: included first by every .c file of dhp-import.
 *
 * Holds the few things every module needs: standard headers, the
 * allocation wrappers that end the program on out-of-memory (a batch tool
 * has nothing better to do; the state stays consistent because nothing is
 * committed before the server confirms), and small helpers.
 */
#ifndef DHP_H
#define DHP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocate or die with one clear message (exit status 1). */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* A failure nothing can recover from (the library cannot do its job at
 * all): one message on stderr, exit status 1. */
_Noreturn void dhp_fatal(const char *what);

/* Grow an array *pa of *palloc elements so that it holds at least n. */
#define ALLOC_GROW(pa, n, palloc)                                                                  \
	do {                                                                                       \
		if ((n) > (palloc)) {                                                              \
			size_t new_alloc_ = (palloc) ? (palloc)*2 : 8;                             \
			while (new_alloc_ < (n))                                                   \
				new_alloc_ *= 2;                                                   \
			(pa) = xrealloc((pa), new_alloc_ * sizeof(*(pa)));                         \
			(palloc) = new_alloc_;                                                     \
		}                                                                                  \
	} while (0)

static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

#endif
