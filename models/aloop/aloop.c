/* aloop.c: Python asyncio's execution model, in C.
 *
 * Glossary (asyncio's names in parentheses). Loop: one thread running aloop_run (the event
 * loop's run_forever). Task: a coop task, a coroutine that runs until an await point (an
 * asyncio Task wrapping a coroutine). Ready queue: FIFO of tasks to resume (loop._ready).
 * Timer heap: sleeping tasks by deadline (loop._scheduled). Executor: the thread pool for
 * calls that cannot be awaited natively (the default ThreadPoolExecutor).
 *
 * One round of the loop is asyncio's _run_once: wait in epoll for at most the time until the
 * first deadline (zero if tasks are ready), wake the tasks whose fds became ready, move the
 * expired timers to the ready queue, then run exactly the tasks that were ready at that
 * point; tasks they wake run in the next round. A task runs until it awaits: sleep, yield
 * (asyncio.sleep(0)), a channel operation that must wait (asyncio.Queue), join (awaiting a
 * task), or I/O that would block. Nothing preempts it: CPU work in one task stalls the whole
 * loop for its full duration, which is what the mixed workloads measure. The safe point is
 * therefore a no-op.
 *
 * Debug mode (asyncio's loop.slow_callback_duration, 100 ms when debug is on): a task that
 * ran longer than slow_ns without awaiting is reported on stderr with its id and function.
 *
 * Rejected: timerfd per sleeper (a syscall per sleep, asyncio has none), one task per OS
 * thread for files (asyncio bounds its executor). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "aloop_int.h"

aloop aloop_g;

uint64_t aloop_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void aloop_sleep_ns(uint64_t ns)
{
	coop_task *self = coop_self();
	if (ns == 0) { /* asyncio.sleep(0): a bare yield, no timer */
		coop_yield();
		return;
	}
	if (aloop_heap_push(&aloop_g, aloop_now() + ns, self) != 0) {
		fprintf(stderr, "aloop: out of memory for timers\n");
		abort();
	}
	coop_park();
}

static void warn_slow(const coop_task *t, uint64_t ran_ns)
{
	char name[256];
	coop_fn_name((const void *)(uintptr_t)coop_task_fn(t), name, sizeof name);
	fprintf(stderr, "aloop: slow task %" PRIu64 " (%s) ran %.3f ms without awaiting\n",
		coop_task_id(t), name, (double)ran_ns / 1e6);
}

static int default_pool(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		cpus = 1;
	return cpus + 4 < 32 ? (int)cpus + 4 : 32;
}

/* epoll timeout for this round: 0 with tasks ready, until the first deadline otherwise. */
static int wait_events(aloop *l, struct epoll_event *ev, int max)
{
	struct timespec ts, *tp = NULL;
	if (!coop_ready_empty()) {
		ts = (struct timespec){0, 0};
		tp = &ts;
	} else if (l->nheap) {
		uint64_t now = aloop_now(), when = aloop_heap_peek(l)->when;
		uint64_t d = when > now ? when - now : 0;
		ts = (struct timespec){(time_t)(d / 1000000000u), (long)(d % 1000000000u)};
		tp = &ts;
	}
	static int no_pwait2; /* kernels before 5.11 (and valgrind) lack it: whole ms then */
	int n;
	for (;;) {
		if (!no_pwait2) {
			n = epoll_pwait2(l->epfd, ev, max, tp, NULL);
			if (n < 0 && errno == ENOSYS) {
				no_pwait2 = 1;
				continue;
			}
		} else {
			int ms = !tp ? -1 : (int)((tp->tv_sec * 1000000000LL + tp->tv_nsec + 999999) / 1000000);
			n = epoll_wait(l->epfd, ev, max, ms);
		}
		if (n >= 0 || errno != EINTR)
			return n;
	}
}

static int loop(aloop *l, coop_task *root)
{
	enum { MAXEV = 256 };
	struct epoll_event ev[MAXEV];
	for (;;) {
		if (coop_done(root) && coop_live() == 0)
			return 0;
		if (coop_ready_empty() && !l->nheap && !l->io_waiting && !l->pool.pending) {
			errno = EDEADLK;
			return -1;
		}
		int n = wait_events(l, ev, MAXEV);
		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == l->pool.evfd)
				aloop_pool_reap(&l->pool);
			else
				aloop_io_ready(l, ev[i].data.fd, ev[i].events);
		}
		if (l->nheap) {
			uint64_t now = aloop_now();
			aloop_timer *t;
			while ((t = aloop_heap_peek(l)) && t->when <= now) {
				coop_wake(t->task);
				aloop_heap_pop(l);
			}
		}
		coop_run_ready();
	}
}

int aloop_run(const aloop_opts *o, coop_fn root, const void *arg, size_t len, uint64_t *result)
{
	aloop *l = &aloop_g;
	memset(l, 0, sizeof *l);
	l->o = *o;
	/* CPython ignores SIGPIPE at startup: a write to a closed socket is an EPIPE error */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
	sigaction(SIGPIPE, &ign, &old_pipe);
	coop_opts co = {.slow_ns = o->slow_ns, .on_slow = warn_slow, .on_overflow = o->on_stack_overflow};
	if (coop_init(&co) != 0)
		return -1;
	int rc = -1, err = 0;
	coop_task *rt = NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto out_coop;
	if (aloop_pool_init(&l->pool, o->pool_threads > 0 ? o->pool_threads : default_pool()) != 0)
		goto out_ep;
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->pool.evfd};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->pool.evfd, &ev) != 0)
		goto out_pool;
	if (!(rt = coop_spawn(root, arg, len)))
		goto out_pool;
	rc = loop(l, rt);
	if (rc == 0)
		*result = coop_reap(rt);
out_pool:
	err = errno;
	aloop_pool_fini(&l->pool, o->on_thread);
out_ep:
	if (!err)
		err = errno;
	close(l->epfd);
	aloop_io_fini(l);
	free(l->heap);
out_coop:
	if (!err)
		err = errno;
	coop_fini(); /* frees tasks left parked by a deadlock too */
	sigaction(SIGPIPE, &old_pipe, NULL);
	errno = err;
	return rc;
}
