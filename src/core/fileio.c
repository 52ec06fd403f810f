#include "core/dhp.h"
#include "core/fileio.h"

#include <errno.h>

char *fileio_read(const char *path, size_t *len, struct dhp_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		dhp_fail(err, DHP_EIO, path, "cannot open file: %s", strerror(errno));
		return NULL;
	}
	size_t alloc = 4096, n = 0;
	char *buf = xmalloc(alloc);
	for (;;) {
		if (n + 1 >= alloc) {
			if (alloc >= FILEIO_MAX) {
				fclose(f);
				free(buf);
				dhp_fail(err, DHP_ELIMIT, path, "file is larger than %u MiB",
					 FILEIO_MAX >> 20);
				return NULL;
			}
			alloc *= 2;
			buf = xrealloc(buf, alloc);
		}
		size_t got = fread(buf + n, 1, alloc - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		dhp_fail(err, DHP_EIO, path, "cannot read file");
		return NULL;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

char *fileio_join(const char *dir, const char *rel)
{
	if (rel[0] == '/' || !dir || !*dir)
		return xstrdup(rel);
	size_t a = strlen(dir), b = strlen(rel);
	char *p = xmalloc(a + b + 2);
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, rel, b + 1);
	return p;
}

char *fileio_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}
