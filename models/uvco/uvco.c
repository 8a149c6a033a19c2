/* uvco.c: Node.js's execution model on the real libuv.
 *
 * Glossary (Node's names in parentheses). Loop: libuv's uv_run on the thread's own stack
 * (the event loop). Task: a coop task, a coroutine standing for an async function; it runs
 * until it awaits. Microtasks: coop's ready queue in drain mode; a task woken by another
 * (a channel hand-over, a join) is a resolved promise whose continuation runs before the
 * loop goes on. Immediates: tasks that yielded (setImmediate), run in libuv's check phase.
 *
 * Every libuv callback does the same two things: wake the task the handle or request
 * belongs to, then run the ready queue until it is empty (Node drains microtasks after each
 * callback). So code between two awaits runs to completion and nothing preempts it: a CPU
 * loop in one task delays every timer, socket and immediate for its full duration.
 *
 * Mapping of the task API. spawn: the child runs at once until its first await, then the
 * parent goes on (calling an async function). sleep: setTimeout's design, one uv_timer
 * and per-duration lists (uvco_timer.c), whole milliseconds rounded up. yield:
 * setImmediate. Sockets and pipes: uv_tcp / uv_pipe streams opened on the workload's fds
 * (uvco_stream.c). Files: uv_fs_* on libuv's thread pool (uvco_fs.c). Native regions run on the loop thread, as a synchronous
 * addon call does in Node; offloading one would be uv_queue_work, which needs the region's
 * code to move to a pool thread and is not done here.
 *
 * At the end of a run every handle is closed with uv_walk + uv_close and the loop is
 * closed with uv_loop_close, which fails if anything was left behind. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvco_int.h"

uvco uvco_g;

static int pool_started;  /* size the process's libuv pool started with; 0: not yet */
static void (*pool_on_thread)(int);

static int pool_env_size(void)
{
	const char *v = getenv("UV_THREADPOOL_SIZE");
	int n = v ? atoi(v) : 4;
	if (n < 1)
		n = 1;
	if (n > 1024) /* libuv's MAX_THREADPOOL_SIZE */
		n = 1024;
	return n;
}

int uvco_pool_size(void) { return pool_started ? pool_started : pool_env_size(); }

/* Before the first uv_fs_* request: libuv starts all its pool threads then. */
void uvco_pool_used(void)
{
	if (pool_started)
		return;
	pool_started = pool_env_size();
	if (pool_on_thread)
		pool_on_thread(pool_started);
}

void uvco_settle(void)
{
	coop_run_ready();
	if (coop_done(uvco_g.root) && coop_live() == 0)
		uv_stop(&uvco_g.loop);
}

uvco_fd *uvco_fd_find(int fd)
{
	return fd >= 0 && (size_t)fd < uvco_g.nfds ? uvco_g.fds[fd] : NULL;
}

int uvco_fd_set(int fd, uvco_fd *f)
{
	uvco *u = &uvco_g;
	if ((size_t)fd >= u->nfds) {
		size_t n = u->nfds ? u->nfds : 64;
		while (n <= (size_t)fd)
			n *= 2;
		uvco_fd **t = realloc(u->fds, n * sizeof *t);
		if (!t)
			return -1;
		memset(t + u->nfds, 0, (n - u->nfds) * sizeof *t);
		u->fds = t;
		u->nfds = n;
	}
	u->fds[fd] = f;
	return 0;
}

void uvco_sleep_ns(uint64_t ns)
{
	if (ns == 0)
		uvco_yield();
	else
		uvco_timers_sleep(&uvco_g.timers, &uvco_g.loop, (ns + 999999) / 1000000);
}

/* ---- setImmediate ---------------------------------------------------------------- */

static void on_idle(uv_idle_t *h) { (void)h; }

static void on_check(uv_check_t *h)
{
	uvco *u = &uvco_g;
	(void)h;
	/* the immediates queued before this phase; those they queue wait for the next one */
	coop_waitq now = u->immediates;
	u->immediates = (coop_waitq){NULL, NULL};
	while (coop_wake_one(&now))
		uvco_settle();
	if (coop_waitq_empty(&u->immediates))
		uv_idle_stop(&u->idle);
}

void uvco_yield(void)
{
	uvco *u = &uvco_g;
	if (coop_waitq_empty(&u->immediates))
		uv_idle_start(&u->idle, on_idle);
	coop_wait(&u->immediates);
}

/* ---- run and teardown ------------------------------------------------------------ */

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (uv_is_closing(h))
		return;
	switch (h->type) {
	case UV_TCP:
	case UV_NAMED_PIPE: uv_close(h, uvco_stream_closed); break;
	default: uv_close(h, NULL); break; /* check, idle, timer: part of uvco_g */
	}
}

int uvco_run(const uvco_opts *o, coop_fn root, const void *arg, size_t len, uint64_t *result)
{
	uvco *u = &uvco_g;
	if (o->pool_threads > 0) {
		if (pool_started && pool_started != o->pool_threads) {
			errno = EBUSY;
			return -1;
		}
		char v[16];
		snprintf(v, sizeof v, "%d", o->pool_threads);
		setenv("UV_THREADPOOL_SIZE", v, 1);
	}
	pool_on_thread = o->on_thread;
	memset(u, 0, sizeof *u);
	/* Node ignores SIGPIPE at startup: a write to a closed socket is an EPIPE error */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
	sigaction(SIGPIPE, &ign, &old_pipe);
	int r = uv_loop_init(&u->loop);
	if (r < 0) {
		sigaction(SIGPIPE, &old_pipe, NULL);
		errno = -r;
		return -1;
	}
	uv_check_init(&u->loop, &u->check);
	uv_check_start(&u->check, on_check);
	uv_unref((uv_handle_t *)&u->check); /* only pending immediates keep the loop alive */
	uv_idle_init(&u->loop, &u->idle);
	uvco_timers_init(&u->timers, &u->loop);
	coop_opts co = {.drain = 1, .eager_spawn = 1, .on_overflow = o->on_stack_overflow};
	int rc = -1, err = 0;
	if (coop_init(&co) != 0) {
		err = errno;
		goto out_loop;
	}
	if (!(u->root = coop_spawn(root, arg, len))) {
		err = errno;
		goto out_coop;
	}
	uvco_settle(); /* the main script, up to its first await */
	uv_run(&u->loop, UV_RUN_DEFAULT);
	if (coop_done(u->root) && coop_live() == 0) {
		*result = coop_reap(u->root);
		rc = 0;
	} else {
		err = EDEADLK;
	}
out_coop:
	for (size_t i = 0; i < u->nfds; i++) /* file entries have no handle to close */
		if (u->fds[i] && u->fds[i]->kind == UVCO_FILE)
			free(u->fds[i]);
	free(u->fds);
	u->fds = NULL;
	u->nfds = 0;
	uv_walk(&u->loop, close_walk, NULL);
	uv_run(&u->loop, UV_RUN_DEFAULT); /* close callbacks */
	uvco_timers_fini(&u->timers);
	coop_fini();
out_loop:
	if (uv_loop_close(&u->loop) != 0 && rc == 0) {
		fprintf(stderr, "uvco: loop still has handles after the run\n");
		err = ENOTEMPTY;
		rc = -1;
	}
	sigaction(SIGPIPE, &old_pipe, NULL);
	errno = err;
	return rc;
}
