/* thr.c: the 1:1 threads model, no global lock: one pthread per task, blocking system
 * calls, channels on a mutex and condition variables. This is C or Java threads, and Python
 * 3.13t (free-threaded). The `gil` backend (runners/backend_gil.c) runs exactly this code with
 * CPython's GIL plugged into the cb_thr_lock hooks: the lock is the only difference.
 *
 * Where the hooks fire is where CPython releases the GIL: around every call that can block
 * (join, sleep, yield, channel waits, fd I/O) and native regions; a thread takes it when it
 * starts and drops it when it ends. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "thr.h"
#include "util.h"

struct cb_task {
	pthread_t th;
	cb_fn fn;
	size_t len;
	uint64_t result;
	sem_t started;       /* posted once running under the lock, if glk->wait_start */
	unsigned char arg[]; /* the task's own copy */
};

struct cb_chan {
	pthread_mutex_t mu;
	pthread_cond_t can_recv, can_send, taken;
	size_t elem, cap, head, len;
	uint64_t put_seq, take_seq; /* rendezvous: a sender returns once its element was taken */
	int closed;
	unsigned char *buf;
};

static const cb_thr_lock *glk; /* NULL: no global lock */
static size_t stack_bytes;     /* 0: the system default */

#define DETACH() do { if (glk) glk->detach(); } while (0)
#define ATTACH() do { if (glk) glk->attach(); } while (0)

static void *thr_main(void *p)
{
	cb_task *t = p;
	ATTACH();
	if (glk && glk->wait_start)
		sem_post(&t->started);
	t->result = t->fn(t->arg, t->len);
	DETACH();
	return NULL;
}

uint64_t cb_thr_run(const cb_thr_lock *lock, const cb_backend_cfg *cfg, cb_fn root, void *arg,
		    size_t len)
{
	glk = lock;
	if (glk && glk->setup)
		glk->setup(cfg);
	ATTACH();
	uint64_t r = root(arg, len);
	DETACH();
	if (glk && glk->teardown)
		glk->teardown();
	glk = NULL;
	return r;
}

void cb_thr_set_stack(size_t bytes) { stack_bytes = bytes; }

/* Threads the OS lets this process create: the system's task limits (cb_limit) and
 * vm.max_map_count (each thread stack costs two mappings). */
int64_t cb_thr_max_tasks(const cb_backend_cfg *cfg, const char **why)
{
	(void)cfg;
	static cb_limit lim;
	cb_limit_init(&lim);
	long long maps = cb_read_sysctl("/proc/sys/vm/max_map_count");
	if (maps > 0)
		cb_limit_min(&lim, maps / 2, "vm.max_map_count (2 mappings per thread stack) = %lld",
			     maps);
	*why = lim.why;
	return cb_limit_result(&lim);
}

cb_task *cb_thr_spawn(cb_fn fn, const void *arg, size_t len)
{
	cb_task *t = malloc(sizeof *t + len);
	if (!t)
		return NULL;
	t->fn = fn;
	t->len = len;
	if (len)
		memcpy(t->arg, arg, len);
	int wait_start = glk && glk->wait_start;
	if (wait_start)
		sem_init(&t->started, 0, 0);
	pthread_attr_t at;
	pthread_attr_init(&at);
	if (stack_bytes)
		pthread_attr_setstacksize(&at, stack_bytes);
	int e = pthread_create(&t->th, &at, thr_main, t);
	pthread_attr_destroy(&at);
	if (e) {
		if (wait_start)
			sem_destroy(&t->started);
		free(t);
		errno = e;
		return NULL;
	}
	cb_stat_thread(+1);
	if (wait_start) {
		DETACH();
		while (sem_wait(&t->started) < 0 && errno == EINTR)
			;
		ATTACH();
		sem_destroy(&t->started);
	}
	return t;
}

uint64_t cb_thr_join(cb_task *t)
{
	DETACH();
	pthread_join(t->th, NULL);
	ATTACH();
	cb_stat_thread(-1);
	uint64_t r = t->result;
	free(t);
	return r;
}

void cb_thr_yield(void)
{
	DETACH();
	sched_yield();
	ATTACH();
}

void cb_thr_sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
	DETACH();
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
	ATTACH();
}

/* ---- channels ---------------------------------------------------------------------- */

cb_chan *cb_thr_chan_make(size_t elem, size_t cap)
{
	cb_chan *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->buf = malloc(elem * (cap ? cap : 1));
	if (!c->buf) {
		free(c);
		return NULL;
	}
	c->elem = elem;
	c->cap = cap;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->can_recv, NULL);
	pthread_cond_init(&c->can_send, NULL);
	pthread_cond_init(&c->taken, NULL);
	return c;
}

/* Wait on cv; the first time a wait is needed, the global lock is released (with the
 * channel's mutex dropped meanwhile, so the lock order is always global lock first). */
static void chan_wait(cb_chan *c, pthread_cond_t *cv, int *detached)
{
	if (glk && !*detached) {
		pthread_mutex_unlock(&c->mu);
		glk->detach();
		*detached = 1;
		pthread_mutex_lock(&c->mu);
		return; /* re-check the condition before sleeping */
	}
	pthread_cond_wait(cv, &c->mu);
}

int cb_thr_chan_send(cb_chan *c, const void *e)
{
	int det = 0, r = CB_OK;
	size_t slots = c->cap ? c->cap : 1;
	pthread_mutex_lock(&c->mu);
	while (c->len == slots && !c->closed)
		chan_wait(c, &c->can_send, &det);
	if (c->closed) {
		r = CB_CLOSED;
		goto out;
	}
	memcpy(c->buf + ((c->head + c->len) % slots) * c->elem, e, c->elem);
	c->len++;
	pthread_cond_signal(&c->can_recv);
	if (!c->cap) {
		uint64_t mine = ++c->put_seq;
		while (c->take_seq < mine && !c->closed)
			chan_wait(c, &c->taken, &det);
		if (c->take_seq < mine)
			r = CB_CLOSED;
	}
out:
	pthread_mutex_unlock(&c->mu);
	if (det)
		glk->attach();
	return r;
}

static int take(cb_chan *c, void *e)
{
	size_t slots = c->cap ? c->cap : 1;
	memcpy(e, c->buf + c->head * c->elem, c->elem);
	c->head = (c->head + 1) % slots;
	c->len--;
	if (!c->cap) {
		c->take_seq++;
		pthread_cond_broadcast(&c->taken);
	}
	pthread_cond_signal(&c->can_send);
	return CB_OK;
}

int cb_thr_chan_recv(cb_chan *c, void *e)
{
	int det = 0, r;
	pthread_mutex_lock(&c->mu);
	while (!c->len && !c->closed)
		chan_wait(c, &c->can_recv, &det);
	r = c->len ? take(c, e) : CB_CLOSED;
	pthread_mutex_unlock(&c->mu);
	if (det)
		glk->attach();
	return r;
}

int cb_thr_chan_try_recv(cb_chan *c, void *e)
{
	pthread_mutex_lock(&c->mu);
	int r = c->len ? take(c, e) : c->closed ? CB_CLOSED : CB_EMPTY;
	pthread_mutex_unlock(&c->mu);
	return r;
}

void cb_thr_chan_close(cb_chan *c)
{
	pthread_mutex_lock(&c->mu);
	c->closed = 1;
	pthread_cond_broadcast(&c->can_recv);
	pthread_cond_broadcast(&c->can_send);
	pthread_cond_broadcast(&c->taken);
	pthread_mutex_unlock(&c->mu);
}

void cb_thr_chan_free(cb_chan *c)
{
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->can_recv);
	pthread_cond_destroy(&c->can_send);
	pthread_cond_destroy(&c->taken);
	free(c->buf);
	free(c);
}

/* ---- blocking I/O: the lock is released around every call that may block ------------ */

int cb_thr_open(const char *p, int f, int m)
{
	DETACH();
	int r = open(p, f | O_CLOEXEC, m);
	int e = errno;
	ATTACH();
	errno = e;
	return r;
}

#define BLOCKING(type, call)            \
	do {                            \
		DETACH();               \
		type r_ = (call);       \
		int e_ = errno;         \
		ATTACH();               \
		errno = e_;             \
		return r_;              \
	} while (0)

ssize_t cb_thr_read(int fd, void *b, size_t n) { BLOCKING(ssize_t, read(fd, b, n)); }
ssize_t cb_thr_write(int fd, const void *b, size_t n) { BLOCKING(ssize_t, write(fd, b, n)); }
int cb_thr_accept(int fd) { BLOCKING(int, accept4(fd, NULL, NULL, SOCK_CLOEXEC)); }
int cb_thr_connect(int fd, const struct sockaddr *a, socklen_t l) { BLOCKING(int, connect(fd, a, l)); }
int cb_thr_close(int fd) { return close(fd); }

void cb_thr_safepoint_slow(void)
{
	if (glk && glk->safepoint)
		glk->safepoint();
}
void cb_thr_native_begin(void) { DETACH(); }
void cb_thr_native_end(void) { ATTACH(); }
