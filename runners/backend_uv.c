/* backend_uv.c: the Node.js backend: every task is a coroutine resumed from callbacks of one
 * real libuv loop (models/uvco); files on libuv's thread pool (UV_THREADPOOL_SIZE, 4). */
#include <errno.h>
#include <string.h>

#include "coop_ops.h"
#include "uvco/uvco.h"

#define UV_PARAMS(X)                                                                      \
	X(UV_P_POOL, "pool", 0, 0, 1024,                                                  \
	  "libuv thread pool size (UV_THREADPOOL_SIZE); 0 = the environment's or libuv's 4")
CB_PARAMS(uv_params, UV_PARAMS);

static uint64_t uv_be_run(const cb_backend_cfg *cfg, cb_fn root, void *arg, size_t len)
{
	uvco_opts o = {
		.pool_threads = (int)cfg->p[UV_P_POOL],
		.on_thread = cb_stat_thread,
		.on_stack_overflow = cb_coop_overflow,
	};
	uint64_t result = 0;
	if (uvco_run(&o, root, arg, len, &result) != 0) {
		if (errno == EDEADLK)
			cb_abort("error", "uv: tasks wait and the loop has nothing left to wake them");
		if (errno == EBUSY && o.pool_threads)
			cb_abort("unsupported", "uv: libuv's thread pool already runs %d threads in this "
				 "process and cannot be resized", uvco_pool_size());
		cb_abort("error", "uv: %s", strerror(errno));
	}
	return result;
}

const cb_backend cb_backend_uv = {
	.name = "uv",
	.summary = "Node.js: coroutines resumed from callbacks of one libuv loop (uv_timer, "
		   "uv_tcp/uv_pipe streams, setImmediate yields); files on libuv's thread pool",
	.params = uv_params,
	.one_runner = 1,
	CB_COOP_OPS,
	.run = uv_be_run,
	.yield = uvco_yield,
	.sleep_ns = uvco_sleep_ns,
	.open = uvco_open,
	.read = uvco_read,
	.write = uvco_write,
	.accept = uvco_accept,
	.connect = uvco_connect,
	.close = uvco_close,
	/* safepoint_slow, native_begin/end: NULL; native code runs on the loop thread, as a
	 * synchronous addon call does in Node */
};
