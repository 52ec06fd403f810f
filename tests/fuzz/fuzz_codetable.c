/*
 * fuzz_codetable.c: libFuzzer target for the code table loader.
 *
 * codetable.h has only a path-based entry point, so each input is written
 * to one temporary file (in /dev/shm when there is one, to keep it off the
 * disk) and loaded from there. A table that loads is then queried with
 * slices of the input, for every column name the header could have.
 */
#include "core/dhp.h"
#include "core/err.h"
#include "map/codetable.h"

#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];
static int fd = -1;

static bool write_input(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		snprintf(path, sizeof(path), "%s/dhp-fuzz-codetable-XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		fd = mkstemp(path);
		if (fd < 0)
			return false;
		unlink(path); /* loaded through /proc/self/fd, gone at exit */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	return ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!write_input(data, size))
		return 0;
	struct dhp_error err = DHP_ERROR_INIT;
	struct codetable *t = codetable_load(path, &err);
	if (!t) {
		/* Every failure is reported, on one line, with a location. */
		if (err.code == DHP_OK || !err.msg[0] || !err.where[0] || strchr(err.msg, '\n'))
			abort();
		return 0;
	}
	static const char *const names[] = {"source", "target", "system", "display", "x"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		int col = codetable_column(t, names[i]);
		if (i < 2 && col != (int)i)
			abort();
		/* Keys: every line of the input, and a few prefixes. */
		const char *s = (const char *)data;
		for (size_t a = 0, b = 0; b <= size; b++) {
			if (b == size || s[b] == '\n' || s[b] == ',') {
				const char *v = codetable_lookup(t, s + a, b - a, col);
				if (v)
					(void)strlen(v);
				a = b + 1;
			}
		}
		for (size_t n = 0; n < 8 && n <= size; n++)
			(void)codetable_lookup(t, s, n, col);
	}
	(void)codetable_lookup(t, "x", 1, 1000);
	if (strcmp(codetable_path(t), path) != 0)
		abort();
	codetable_free(t);
	return 0;
}
