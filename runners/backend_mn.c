/* backend_mn.c: the `mn` backend, Go's runtime model: tasks are Gs of the M:N scheduler in
 * models/mn (work-stealing Ps, Ms created around blocking calls, netpoller, timers, async
 * preemption). --workers sets the number of Ps, like GOMAXPROCS. */
#include <inttypes.h>
#include <stdio.h>

#include "coro/coro.h" /* CORO_TSAN: why preemption is off */

#include "mn/mn.h"
#include "task.h"

/* The smallest stack_kb accepted leaves the runtime its own deepest path twice over (mn.h). */
#define MN_PARAMS(X)                                                                      \
	X(MN_P_STACK_KB, "stack_kb", MN_STACK_DEFAULT / 1024, MN_STACK_MIN / 1024, 65536, \
	  "usable stack per G, KiB (reserved; committed on touch)")                       \
	X(MN_P_PREEMPT_MS, "preempt_ms", MN_PREEMPT_NS / 1000000, 0, 10000,               \
	  "async preemption of a G running this long, ms (0: off)")                       \
	X(MN_P_SYSCALL_US, "syscall_us", MN_SYSCALL_NS / 1000, 1, 1000000,                \
	  "sysmon retakes a P blocked in a syscall after, us")                            \
	X(MN_P_SHRINK_MS, "shrink_ms", MN_SHRINK_NS / 1000000, 0, 100000,                 \
	  "a parked G's stack is shrunk after, ms (0: off)")
CB_PARAMS(mn_params, MN_PARAMS);

/* Out of memory or threads: the cell cannot run at this size (a row, not a crash). */
static _Noreturn void mn_be_exhausted(const char *msg)
{
	cb_abort("unsupported", "mn: %s", msg);
}

/* The row says which task overflowed (status error) rather than a bare "killed by signal 11". */
static _Noreturn void mn_be_overflow(const char *msg)
{
	cb_abort("error", "%s", msg);
}

/* mn_preemptions counts since the process started: the count when this repetition began. */
static uint64_t mn_be_preempt0;

static uint64_t mn_be_run(const cb_backend_cfg *cfg, cb_fn root, void *arg, size_t len)
{
	mn_be_preempt0 = mn_preemptions();
	mn_config c = {
		.procs = cfg->workers,
		.stack_size = (size_t)cfg->p[MN_P_STACK_KB] * 1024,
		.preempt_ns = cfg->p[MN_P_PREEMPT_MS] ? cfg->p[MN_P_PREEMPT_MS] * 1000000 : -1,
		.syscall_ns = cfg->p[MN_P_SYSCALL_US] * 1000,
		.shrink_ns = cfg->p[MN_P_SHRINK_MS] ? cfg->p[MN_P_SHRINK_MS] * 1000000 : -1,
		.on_stack_overflow = mn_be_overflow,
		.on_exhausted = mn_be_exhausted,
		.on_thread = cb_stat_thread,
		.cold = cfg->cold,
	};
	return mn_main(&c, root, arg, len);
}

/* The row says how often the repetition preempted, or why it never could: a build that
 * silently never preempts then shows (tests/test_e2e.c asserts it on mix.latency's hog). */
static void mn_be_rep_note(const cb_backend_cfg *cfg, char *buf, size_t n)
{
	if (!mn_preempt_enabled())
#ifdef CORO_TSAN
		snprintf(buf, n, "preemption off (ThreadSanitizer build)");
#else
		snprintf(buf, n, "preemption off (malloc inside the executable's text)");
#endif
	else if (!cfg->p[MN_P_PREEMPT_MS])
		snprintf(buf, n, "preemption off (preempt_ms=0)");
	else
		snprintf(buf, n, "preemptions=%" PRIu64, mn_preemptions() - mn_be_preempt0);
}

static int64_t mn_be_max_tasks(const cb_backend_cfg *cfg, const char **why)
{
	(void)cfg;
	(void)why;
	return 0; /* bounded by memory only: a live G costs its descriptor and touched pages */
}

static cb_task *mn_be_spawn(cb_fn fn, const void *arg, size_t len)
{
	return (cb_task *)mn_go(fn, arg, len);
}

static uint64_t mn_be_join(cb_task *t)
{
	return mn_join((mn_g *)t);
}

static cb_chan *mn_be_chan_make(size_t elem, size_t cap)
{
	return (cb_chan *)mn_chan_make(elem, cap);
}

static int mn_be_chan_send(cb_chan *c, const void *elem)
{
	return mn_chan_send((mn_chan *)c, elem);
}

/* mn's MN_OK/MN_CLOSED/MN_EMPTY have the same values as CB_OK/CB_CLOSED/CB_EMPTY. */
_Static_assert((int)MN_OK == (int)CB_OK && (int)MN_CLOSED == (int)CB_CLOSED &&
		       (int)MN_EMPTY == (int)CB_EMPTY,
	       "channel results differ");

static int mn_be_chan_recv(cb_chan *c, void *elem)
{
	return mn_chan_recv((mn_chan *)c, elem);
}

static int mn_be_chan_try_recv(cb_chan *c, void *elem)
{
	return mn_chan_try_recv((mn_chan *)c, elem);
}

static void mn_be_chan_close(cb_chan *c)
{
	mn_chan_close((mn_chan *)c);
}

static void mn_be_chan_free(cb_chan *c)
{
	mn_chan_free((mn_chan *)c);
}

const cb_backend cb_backend_mn = {
	.name = "mn",
	.summary = "Go runtime model: G tasks on P processors (--workers) run by M threads; work "
		   "stealing, netpoller, timers, async preemption",
	.params = mn_params,
	.concurrent = 1,
	.max_tasks = mn_be_max_tasks,
	.run = mn_be_run,
	.spawn = mn_be_spawn,
	.join = mn_be_join,
	.yield = mn_yield,
	.sleep_ns = mn_sleep_ns,
	.chan_make = mn_be_chan_make,
	.chan_send = mn_be_chan_send,
	.chan_recv = mn_be_chan_recv,
	.chan_try_recv = mn_be_chan_try_recv,
	.chan_close = mn_be_chan_close,
	.chan_free = mn_be_chan_free,
	.open = mn_open,
	.read = mn_read,
	.write = mn_write,
	.accept = mn_accept,
	.connect = mn_connect,
	.close = mn_close,
	.rep_note = mn_be_rep_note,
	.settle = mn_shrink_settle,
};
