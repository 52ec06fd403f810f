/*
 * fuzz_conf.c: libFuzzer target for the job file parser (libinih + our keys).
 */
#include "core/dhp.h"
#include "core/conf.h"

#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[] = "/tmp/dhp-fuzz-conf.XXXXXX";
static int fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fd < 0 && (fd = mkstemp(path)) < 0)
		return 0;
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	struct job_conf c;
	struct dhp_error err = DHP_ERROR_INIT;
	conf_init(&c);
	if (conf_load(&c, path, &err) != 0 && !err.msg[0])
		abort(); /* a failure must always say why */
	conf_free(&c);
	return 0;
}
