/* test_fuzz.c: replays every kept fuzzing input (tests/fuzz/corpus/<target>/) through the
 * fuzz targets' entry points, so inputs that once crashed stay fixed. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz/fuzz_params.c"

static int replay(const char *dir, int (*one)(const uint8_t *, size_t))
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "corpus %s", dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		static uint8_t buf[1 << 20];
		size_t len = fread(buf, 1, sizeof buf, f);
		fclose(f);
		one(buf, len);
		n++;
	}
	closedir(d);
	return n;
}

Test(fuzz_corpus, params, .timeout = 120)
{
	cr_assert_gt(replay("tests/fuzz/corpus/params", cb_fuzz_params_one), 5);
}
