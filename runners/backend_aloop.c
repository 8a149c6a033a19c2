/* backend_aloop.c: the asyncio backend: every task is a coroutine on one aloop event loop
 * (models/aloop); regular files go to its executor (min(32, cpus + 4) threads). */
#include <errno.h>
#include <string.h>

#include "aloop/aloop.h"
#include "coop_ops.h"

#define ALOOP_PARAMS(X)                                                                   \
	X(ALOOP_P_POOL, "pool", 0, 0, 1024,                                               \
	  "executor threads for regular files; 0 = min(32, cpus + 4)")                    \
	X(ALOOP_P_SLOW_MS, "slow_ms", 0, 0, 1000000,                                      \
	  "warn when a task runs this long without awaiting, ms; 0 = off")
CB_PARAMS(aloop_params, ALOOP_PARAMS);

static uint64_t aloop_be_run(const cb_backend_cfg *cfg, cb_fn root, void *arg, size_t len)
{
	aloop_opts o = {
		.pool_threads = (int)cfg->p[ALOOP_P_POOL],
		.slow_ns = (uint64_t)cfg->p[ALOOP_P_SLOW_MS] * 1000000u,
		.on_thread = cb_stat_thread,
		.on_stack_overflow = cb_coop_overflow,
	};
	uint64_t result = 0;
	if (aloop_run(&o, root, arg, len, &result) != 0) {
		if (errno == EDEADLK)
			cb_abort("error", "aloop: every task waits and nothing can wake them");
		cb_abort("error", "aloop: %s", strerror(errno));
	}
	return result;
}

const cb_backend cb_backend_aloop = {
	.name = "aloop",
	.summary = "asyncio: coroutines on one thread, FIFO ready queue, timer heap, epoll; "
		   "regular files on a min(32, cpus+4)-thread executor",
	.params = aloop_params,
	.one_runner = 1,
	CB_COOP_OPS,
	.run = aloop_be_run,
	.yield = coop_yield,
	.sleep_ns = aloop_sleep_ns,
	.open = aloop_open,
	.read = aloop_read,
	.write = aloop_write,
	.accept = aloop_accept,
	.connect = aloop_connect,
	.close = aloop_close,
	/* safepoint_slow, native_begin/end: NULL; nothing preempts and there is no lock */
};
