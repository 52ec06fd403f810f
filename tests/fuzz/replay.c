/*
 * replay.c: runs a fuzz target's LLVMFuzzerTestOneInput over every file of
 * the directories or files given, so ctest replays each corpus in the
 * ordinary (and the sanitizer) build without libFuzzer.
 */
#include "core/dhp.h"
#include "core/fileio.h"

#include <dirent.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	struct dhp_error err = DHP_ERROR_INIT;
	size_t len;
	char *buf = fileio_read(path, &len, &err);
	if (!buf) {
		fprintf(stderr, "replay: %s: %s\n", path, err.msg);
		return 1;
	}
	/* An exact-size copy, so a read past the input is caught by ASan. */
	uint8_t *exact = xmalloc(len ? len : 1);
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 0, bad = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			for (struct dirent *de; d && (de = readdir(d));) {
				if (de->d_name[0] == '.')
					continue;
				char *p = fileio_join(argv[i], de->d_name);
				bad += run_file(p);
				n++;
				free(p);
			}
			if (d)
				closedir(d);
		} else {
			bad += run_file(argv[i]);
			n++;
		}
	}
	printf("replay: %d inputs, %d unreadable\n", n, bad);
	return bad || n == 0;
}
