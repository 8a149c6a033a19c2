/* backend_uv.c: the Node.js backend: every task is a coroutine resumed from callbacks of one
 * real libuv loop (models/uvco); files on libuv's thread pool (UV_THREADPOOL_SIZE, 4). */
#include <errno.h>
#include <string.h>

#include "task.h"
#include "uvco/uvco.h"

static const cb_param_def uv_params[] = {
	{"pool", 0, 0, 1024,
	 "libuv thread pool size (UV_THREADPOOL_SIZE); 0 = the environment's or libuv's 4"},
	{NULL, 0, 0, 0, NULL},
};

static uint64_t uv_be_run(const cb_backend_cfg *cfg, cb_fn root, void *arg, size_t len)
{
	uvco_opts o = {.pool_threads = (int)cfg->p[0], .on_thread = cb_stat_thread};
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

static int64_t uv_be_max_tasks(const cb_backend_cfg *cfg, const char **why)
{
	(void)cfg;
	(void)why;
	return 0; /* a parked task costs its live stack bytes on the heap */
}

static int uv_be_send(cb_chan *c, const void *elem)
{
	if (coop_chan_send((coop_chan *)c, elem) == COOP_CLOSED)
		cb_abort("error", "send on a closed channel");
	return CB_OK;
}

static cb_task *uv_be_spawn(cb_fn fn, const void *a, size_t l) { return (cb_task *)coop_spawn(fn, a, l); }
static uint64_t uv_be_join(cb_task *t) { return coop_join((coop_task *)t); }
static cb_chan *uv_be_chan_make(size_t e, size_t c) { return (cb_chan *)coop_chan_make(e, c); }
static int uv_be_recv(cb_chan *c, void *e) { return coop_chan_recv((coop_chan *)c, e); }
static int uv_be_try_recv(cb_chan *c, void *e) { return coop_chan_try_recv((coop_chan *)c, e); }
static void uv_be_close_chan(cb_chan *c) { coop_chan_close((coop_chan *)c); }
static void uv_be_free_chan(cb_chan *c) { coop_chan_free((coop_chan *)c); }

const cb_backend cb_backend_uv = {
	.name = "uv",
	.summary = "Node.js: coroutines resumed from callbacks of one libuv loop (uv_timer, "
		   "uv_tcp/uv_pipe streams, setImmediate yields); files on libuv's thread pool",
	.params = uv_params,
	.concurrent = 1,
	.max_tasks = uv_be_max_tasks,
	.run = uv_be_run,
	.spawn = uv_be_spawn,
	.join = uv_be_join,
	.yield = uvco_yield,
	.sleep_ns = uvco_sleep_ns,
	.chan_make = uv_be_chan_make,
	.chan_send = uv_be_send,
	.chan_recv = uv_be_recv,
	.chan_try_recv = uv_be_try_recv,
	.chan_close = uv_be_close_chan,
	.chan_free = uv_be_free_chan,
	.open = uvco_open,
	.read = uvco_read,
	.write = uvco_write,
	.accept = uvco_accept,
	.connect = uvco_connect,
	.close = uvco_close,
	/* safepoint_slow, native_begin/end: NULL; native code runs on the loop thread, as a
	 * synchronous addon call does in Node */
};
