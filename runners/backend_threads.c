/* backend_threads.c: `threads`, 1:1 OS threads without a global lock: the threads model
 * (models/threads) with no lock plugged in, one pthread per task. */
#include "threads/thr.h"

#define THREADS_PARAMS(X)                                                                 \
	X(THREADS_P_STACK_KB, "stack_kb", 0, 0, 1 << 20,                                  \
	  "thread stack size in KiB (0 = system default, ulimit -s)")
CB_PARAMS(threads_params, THREADS_PARAMS);

static uint64_t threads_run(const cb_backend_cfg *cfg, cb_fn root, void *arg, size_t len)
{
	cb_thr_set_stack((size_t)cfg->p[THREADS_P_STACK_KB] * 1024);
	return cb_thr_run(NULL, cfg, root, arg, len);
}

const cb_backend cb_backend_threads = {
	.name = "threads",
	.summary = "1:1 OS threads without a global lock (C/Java threads, Python 3.13t): one pthread per task",
	.params = threads_params,
	.max_tasks = cb_thr_max_tasks,
	.tasks_are_threads = 1,
	.run = threads_run,
	CB_THR_OPS,
};
