/* backend_aloop.c: the asyncio backend: every task is a coroutine on one aloop event loop
 * (models/aloop); regular files go to its executor (min(32, cpus + 4) threads). */
#include <errno.h>
#include <string.h>

#include "aloop/aloop.h"
#include "task.h"

static const cb_param_def aloop_params[] = {
	{"pool", 0, 0, 1024, "executor threads for regular files; 0 = min(32, cpus + 4)"},
	{"slow_ms", 0, 0, 1000000, "warn when a task runs this long without awaiting, ms; 0 = off"},
	{NULL, 0, 0, 0, NULL},
};

static uint64_t aloop_be_run(const cb_backend_cfg *cfg, cb_fn root, void *arg, size_t len)
{
	aloop_opts o = {
		.pool_threads = (int)cfg->p[0],
		.slow_ns = (uint64_t)cfg->p[1] * 1000000u,
		.on_thread = cb_stat_thread,
	};
	uint64_t result = 0;
	if (aloop_run(&o, root, arg, len, &result) != 0) {
		if (errno == EDEADLK)
			cb_abort("error", "aloop: every task waits and nothing can wake them");
		cb_abort("error", "aloop: %s", strerror(errno));
	}
	return result;
}

static int64_t aloop_be_max_tasks(const cb_backend_cfg *cfg, const char **why)
{
	(void)cfg;
	(void)why;
	return 0; /* a parked task costs its live stack bytes on the heap */
}

static int aloop_be_send(cb_chan *c, const void *elem)
{
	if (coop_chan_send((coop_chan *)c, elem) == COOP_CLOSED)
		cb_abort("error", "send on a closed channel");
	return CB_OK;
}

/* COOP_OK/CLOSED/EMPTY have the values of CB_OK/CLOSED/EMPTY. */
static cb_task *aloop_be_spawn(cb_fn fn, const void *a, size_t l) { return (cb_task *)coop_spawn(fn, a, l); }
static uint64_t aloop_be_join(cb_task *t) { return coop_join((coop_task *)t); }
static cb_chan *aloop_be_chan_make(size_t e, size_t c) { return (cb_chan *)coop_chan_make(e, c); }
static int aloop_be_recv(cb_chan *c, void *e) { return coop_chan_recv((coop_chan *)c, e); }
static int aloop_be_try_recv(cb_chan *c, void *e) { return coop_chan_try_recv((coop_chan *)c, e); }
static void aloop_be_close_chan(cb_chan *c) { coop_chan_close((coop_chan *)c); }
static void aloop_be_free_chan(cb_chan *c) { coop_chan_free((coop_chan *)c); }

const cb_backend cb_backend_aloop = {
	.name = "aloop",
	.summary = "asyncio: coroutines on one thread, FIFO ready queue, timer heap, epoll; "
		   "regular files on a min(32, cpus+4)-thread executor",
	.params = aloop_params,
	.concurrent = 1,
	.max_tasks = aloop_be_max_tasks,
	.run = aloop_be_run,
	.spawn = aloop_be_spawn,
	.join = aloop_be_join,
	.yield = coop_yield,
	.sleep_ns = aloop_sleep_ns,
	.chan_make = aloop_be_chan_make,
	.chan_send = aloop_be_send,
	.chan_recv = aloop_be_recv,
	.chan_try_recv = aloop_be_try_recv,
	.chan_close = aloop_be_close_chan,
	.chan_free = aloop_be_free_chan,
	.open = aloop_open,
	.read = aloop_read,
	.write = aloop_write,
	.accept = aloop_accept,
	.connect = aloop_connect,
	.close = aloop_close,
	/* safepoint_slow, native_begin/end: NULL; nothing preempts and there is no lock */
};

_Static_assert((int)COOP_OK == (int)CB_OK && (int)COOP_CLOSED == (int)CB_CLOSED &&
		       (int)COOP_EMPTY == (int)CB_EMPTY,
	       "channel results are passed through");
