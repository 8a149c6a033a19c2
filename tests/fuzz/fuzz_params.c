/* fuzz_params.c: libFuzzer target for the command-line value parsers: numbers with suffixes
 * and --param KEY=VALUE against every workload and backend parameter table. The input is
 * one string; a crash, a sanitizer report or a value accepted outside its declared range is
 * a bug. Also compiled into tests/test_fuzz.c to replay the kept corpus in make test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "util.h"

int cb_fuzz_params_one(const uint8_t *data, size_t size)
{
	char s[512];
	size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
	memcpy(s, data, n);
	s[n] = 0;
	int64_t v;
	if (cb_parse_int(s, &v) == 0) {
		/* Whatever parsed must print back to a number that parses to the same value. */
		char back[32];
		snprintf(back, sizeof back, "%lld", (long long)v);
		int64_t w;
		if (cb_parse_int(back, &w) != 0 || w != v)
			abort();
	}
	for (size_t b = 0; b < cb_nbackends; b++) {
		if (!cb_backends[b])
			continue;
		for (size_t i = 0; cb_workloads[i]; i++) {
			cb_cell c;
			cb_cell_defaults(&c, cb_backends[b], cb_workloads[i]);
			char why[300];
			if (cb_cell_set_param(&c, s, why, sizeof why) != 0)
				continue;
			/* Accepted: every value must sit inside its declared range. */
			for (int k = 0; c.wl->params && c.wl->params[k].name; k++)
				if (c.p[k] < c.wl->params[k].min || c.p[k] > c.wl->params[k].max)
					abort();
			for (int k = 0; c.be->params && c.be->params[k].name; k++)
				if (c.cfg.p[k] < c.be->params[k].min || c.cfg.p[k] > c.be->params[k].max)
					abort();
			char buf[512];
			cb_cell_params(&c, buf, sizeof buf);
		}
	}
	return 0;
}

#ifdef CB_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return cb_fuzz_params_one(data, size);
}
#endif
