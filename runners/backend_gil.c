/* backend_gil.c: `gil`, CPython threads: the 1:1 thread backend (thr.h) with every task's
 * interpreter code serialized by CPython's GIL (models/gil). A task holds the GIL while it
 * runs, drops it around blocking calls, sleeps and native regions (Py_BEGIN/END_ALLOW_THREADS)
 * and, at safe points, when a waiter's drop request raised cb_eval_breaker. Spawning waits
 * for the new thread to run (wait_start), as threading.Thread.start() waits for _started. */

#include "gil/gil.h"
#include "threads/thr.h"

#define GIL_PARAMS(X)                                                                     \
	X(GIL_P_SWITCH_US, "switch_us", GIL_DEFAULT_INTERVAL_US, 1, 10 * 1000 * 1000,     \
	  "switch interval in microseconds (sys.setswitchinterval x 1e6)")
CB_PARAMS(gil_params, GIL_PARAMS);

static gil *gil_the;               /* the interpreter's one GIL, for the cell's run */
static _Thread_local char gil_me;  /* its address names the calling thread (the tstate) */

static void gil_be_setup(const cb_backend_cfg *cfg)
{
	gil_the = gil_create((uint64_t)cfg->p[GIL_P_SWITCH_US], &cb_eval_breaker);
	if (!gil_the)
		cb_abort("error", "gil: cannot create the lock");
}

static void gil_be_teardown(void)
{
	gil_destroy(gil_the);
	gil_the = NULL;
}

static void gil_be_attach(void)
{
	gil_take(gil_the, &gil_me);
}

static void gil_be_detach(void)
{
	gil_drop(gil_the, &gil_me);
}

static void gil_be_safepoint(void)
{
	gil_yield(gil_the, &gil_me); /* no-op in a thread that is not the holder */
}

static const cb_thr_lock gil_lock = {
	.setup = gil_be_setup,
	.teardown = gil_be_teardown,
	.attach = gil_be_attach,
	.detach = gil_be_detach,
	.safepoint = gil_be_safepoint,
	.wait_start = 1,
};

static uint64_t gil_be_run(const cb_backend_cfg *cfg, cb_fn root, void *arg, size_t len)
{
	return cb_thr_run(&gil_lock, cfg, root, arg, len);
}


const cb_backend cb_backend_gil = {
	.name = "gil",
	.summary = "one pthread per task, interpreter code serialized by CPython's GIL "
		   "(switch interval, drop requests, forced switching)",
	.params = gil_params,
	.max_tasks = cb_thr_max_tasks,
	.tasks_are_threads = 1,
	.one_runner = 1,
	.run = gil_be_run,
	CB_THR_OPS,
};
