/*
 * bench/hl7/floor.c: the file-writing floor of bench/hl7/run.sh.
 *
 *   floor DIR COUNT BYTES
 *
 * Writes COUNT files of BYTES bytes into DIR exactly as dhp-import's dry-run loader writes its
 * Bundles (fopen of a temporary name, fwrite, fclose, rename to bundle-NNNNNN.json) and nothing
 * else: the cost of one file per message, which no converter writing one Bundle file per message
 * can go below.  run.sh compiles it with cc -O2 into its scratch directory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: floor DIR COUNT BYTES\n");
		return 2;
	}
	const char *dir = argv[1];
	long n = atol(argv[2]);
	size_t size = (size_t)atol(argv[3]);
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 1;
	memset(buf, ' ', size);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	char tmp[4096], path[4096];
	for (long i = 1; i <= n; i++) {
		snprintf(tmp, sizeof(tmp), "%s/.bundle-%06ld.json.tmp", dir, i);
		snprintf(path, sizeof(path), "%s/bundle-%06ld.json", dir, i);
		FILE *f = fopen(tmp, "w");
		if (!f || fwrite(buf, 1, size, f) != size || fclose(f) || rename(tmp, path)) {
			perror(path);
			return 1;
		}
	}
	free(buf);
	return 0;
}
