/* pyembed.h: the real CPython, embedded (libpython3), for the cpython-* reference backends.
 * One interpreter per process, started on first use and kept for every repetition; each call
 * runs one Python twin (workloads/py/<workload>.py) through workloads/py/twin.py. */
#ifndef PYEMBED_H
#define PYEMBED_H

#include <stdint.h>

#include "workload.h"

/* What a twin reports; has_* say which optional fields it set. */
typedef struct pyembed_result {
	uint64_t wall_ns;   /* the twin's call alone, without starting the interpreter */
	uint64_t checksum;
	int has_ops;
	uint64_t ops;
	int has_lat;
	uint64_t p50_ns, p99_ns, max_ns;
	char note[200];
} pyembed_result;

/* Run the twin of workload `workload` (e.g. "cpu.fib") under `model` ("threads", "asyncio"
 * or "mp") with the given arguments, a Python literal dict built by the caller (e.g.
 * "{'tasks': 2, 'size': 30}"). A Python exception ends the cell: cb_abort("error", <its
 * last line>), or cb_abort("unsupported", <reason>) for twin.Unsupported. */
void pyembed_run(const char *workload, const char *model, const char *args, pyembed_result *out);

#endif
