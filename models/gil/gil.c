/* gil.c: CPython's "new GIL" (3.2+), the lock that lets one thread at a time run
 * interpreter code.
 *
 * Glossary
 *   holder       the thread that runs interpreter code now (at most one).
 *   waiter       a thread blocked in gil_take.
 *   interval     the switch interval (sys.setswitchinterval; 5 ms by default).
 *   drop request a waiter's demand that the holder release the GIL at its next safe point.
 *   eval breaker the one word the holder polls at every safe point (CPython checks it at
 *                backward jumps and calls); the GIL raises it with a drop request.
 *
 * The problem. A holder that spins in Python code never blocks, so it never releases the
 * GIL on its own. Something must make it let others in, and the choice of that something
 * is what gives CPython threads their observable behaviour: how long a woken I/O thread
 * waits, how much throughput an I/O thread keeps beside a CPU hog (the convoy effect), why
 * two CPU threads are no faster than one.
 *
 * Rejected designs.
 *   - A plain mutex released and re-taken every N safe points (the old GIL of CPython 2's
 *     "check interval"): the releasing thread usually re-takes it before a waiter has even
 *     been scheduled, so waiters starve on multicore machines. That is the behaviour
 *     CPython 3.2 replaced; modelling it would model the wrong interpreter.
 *   - A fair FIFO (ticket) lock handed over at every safe point: fair, but nothing like
 *     CPython, where the holder keeps the GIL for a whole interval unless it blocks.
 *
 * The chosen design, CPython's own:
 *   - The GIL is a flag (locked) under a mutex; changes are signalled on a condition
 *     variable (cond). The mutex is held for short moments only.
 *   - A waiter sleeps on cond for at most one interval. If it times out and the GIL has not
 *     changed hands meanwhile (switch_number is the same), it sets the drop request, which
 *     raises the eval breaker. It then keeps waiting: it has no priority over other waiters.
 *   - The holder sees the eval breaker at its next safe point, drops the GIL and takes it
 *     again (gil_yield). Threads that block (I/O, sleep, native code) drop it before and
 *     take it after, without any request.
 *   - Forced switching: a thread that drops while a drop request is pending waits on
 *     switch_cond until some other thread has taken the GIL (last_holder changed).
 *     Without it the dropping thread, already running, would re-take the GIL before the
 *     woken waiter gets a CPU, and the request would be served by nobody.
 *   - Bookkeeping: last_holder is the thread that holds or last held the GIL; switch_number
 *     counts the times it went to a different thread. Both feed the two checks above.
 *
 * Ordering invariants.
 *   - locked and switch_number change only under mutex; a waiter reads them under mutex.
 *   - last_holder changes only under switch_mutex (at take) or by the holder itself just
 *     before it drops; the forced-switch wait reads it under switch_mutex, and the taker
 *     signals switch_cond under switch_mutex, so the wakeup cannot be lost.
 *   - holder is written only by the thread that holds the GIL (set after taking, cleared
 *     before dropping), so gil_held_by(who) is exact when asked by who itself.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "gil.h"

struct gil {
	pthread_mutex_t mutex;        /* guards locked (writes), switch_number */
	pthread_cond_t cond;          /* signalled when the GIL is released */
	pthread_mutex_t switch_mutex; /* guards last_holder updates at take */
	pthread_cond_t switch_cond;   /* signalled when a thread has taken the GIL */
	atomic_int locked;            /* the GIL itself */
	unsigned long switch_number;  /* hand-overs to a different thread since creation */
	_Atomic(const void *) last_holder; /* holds or last held the GIL */
	_Atomic(const void *) holder;      /* holds it now, NULL when free */
	atomic_int drop_request;      /* a waiter timed out: the holder must drop */
	atomic_int *breaker;          /* eval breaker raised with drop_request */
	atomic_int own_breaker;       /* used when the creator gave none */
	_Atomic uint64_t interval_us; /* switch interval */
	_Atomic uint64_t n_switches, n_drop_requests, n_forced_waits;
};

static void gil_set_drop_request(gil *g)
{
	atomic_store_explicit(&g->drop_request, 1, memory_order_relaxed);
	atomic_store_explicit(g->breaker, 1, memory_order_release);
	atomic_fetch_add_explicit(&g->n_drop_requests, 1, memory_order_relaxed);
}

static void gil_reset_drop_request(gil *g)
{
	atomic_store_explicit(&g->drop_request, 0, memory_order_relaxed);
	atomic_store_explicit(g->breaker, 0, memory_order_release);
}

gil *gil_create(uint64_t interval_us, atomic_int *breaker)
{
	gil *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	pthread_condattr_t ca;
	int err = pthread_condattr_init(&ca);
	/* A timed wait measured on the monotonic clock is immune to wall-clock steps. */
	if (!err)
		err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!err)
		err = pthread_cond_init(&g->cond, &ca);
	if (!err)
		err = pthread_cond_init(&g->switch_cond, NULL);
	pthread_condattr_destroy(&ca);
	if (!err)
		err = pthread_mutex_init(&g->mutex, NULL);
	if (!err)
		err = pthread_mutex_init(&g->switch_mutex, NULL);
	if (err) {
		free(g);
		errno = err;
		return NULL;
	}
	g->breaker = breaker ? breaker : &g->own_breaker;
	atomic_store(g->breaker, 0);
	atomic_store(&g->interval_us, interval_us);
	return g;
}

void gil_destroy(gil *g)
{
	if (!g)
		return;
	gil_reset_drop_request(g);
	pthread_cond_destroy(&g->cond);
	pthread_cond_destroy(&g->switch_cond);
	pthread_mutex_destroy(&g->mutex);
	pthread_mutex_destroy(&g->switch_mutex);
	free(g);
}

void gil_set_interval(gil *g, uint64_t interval_us)
{
	atomic_store_explicit(&g->interval_us, interval_us, memory_order_relaxed);
}

uint64_t gil_interval(const gil *g)
{
	return atomic_load_explicit(&g->interval_us, memory_order_relaxed);
}

/* Absolute CLOCK_MONOTONIC time one interval from now; like CPython, never less than 1 us. */
static struct timespec gil_deadline(const gil *g)
{
	uint64_t us = gil_interval(g);
	if (us < 1)
		us = 1;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	uint64_t ns = (uint64_t)t.tv_nsec + us * 1000u;
	t.tv_sec += (time_t)(ns / 1000000000u);
	t.tv_nsec = (long)(ns % 1000000000u);
	return t;
}

void gil_take(gil *g, const void *who)
{
	int saved_errno = errno; /* callers take the GIL back right after a failing syscall */
	pthread_mutex_lock(&g->mutex);
	while (atomic_load_explicit(&g->locked, memory_order_relaxed)) {
		unsigned long seen = g->switch_number;
		struct timespec until = gil_deadline(g);
		int rc = pthread_cond_timedwait(&g->cond, &g->mutex, &until);
		/* Ask only if the holder kept the GIL the whole interval: a waiter that merely
		 * lost a race for a freshly released GIL must give the new holder its interval. */
		if (rc == ETIMEDOUT && atomic_load_explicit(&g->locked, memory_order_relaxed) &&
		    g->switch_number == seen)
			gil_set_drop_request(g);
	}
	pthread_mutex_lock(&g->switch_mutex);
	atomic_store_explicit(&g->locked, 1, memory_order_relaxed);
	if (atomic_load_explicit(&g->last_holder, memory_order_relaxed) != who) {
		atomic_store_explicit(&g->last_holder, who, memory_order_relaxed);
		g->switch_number++;
		atomic_fetch_add_explicit(&g->n_switches, 1, memory_order_relaxed);
	}
	atomic_store_explicit(&g->holder, who, memory_order_relaxed);
	pthread_cond_signal(&g->switch_cond); /* a forced dropper may wait for exactly this */
	pthread_mutex_unlock(&g->switch_mutex);
	/* Whoever asked has been served (or we are the one who asked). */
	if (atomic_load_explicit(&g->drop_request, memory_order_relaxed))
		gil_reset_drop_request(g);
	pthread_mutex_unlock(&g->mutex);
	errno = saved_errno;
}

void gil_drop(gil *g, const void *who)
{
	atomic_store_explicit(&g->holder, NULL, memory_order_relaxed);
	atomic_store_explicit(&g->last_holder, who, memory_order_relaxed);
	pthread_mutex_lock(&g->mutex);
	atomic_store_explicit(&g->locked, 0, memory_order_relaxed);
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->mutex);

	if (!atomic_load_explicit(&g->drop_request, memory_order_relaxed))
		return;
	pthread_mutex_lock(&g->switch_mutex);
	if (atomic_load_explicit(&g->last_holder, memory_order_relaxed) == who) {
		gil_reset_drop_request(g);
		atomic_fetch_add_explicit(&g->n_forced_waits, 1, memory_order_relaxed);
		/* The requester is in gil_take and leaves it only by taking the GIL, so the loop
		 * ends; it also absorbs spurious wakeups, which CPython tolerates instead. */
		while (atomic_load_explicit(&g->last_holder, memory_order_relaxed) == who)
			pthread_cond_wait(&g->switch_cond, &g->switch_mutex);
	}
	pthread_mutex_unlock(&g->switch_mutex);
}

int gil_yield(gil *g, const void *who)
{
	if (!atomic_load_explicit(&g->drop_request, memory_order_acquire) || !gil_held_by(g, who))
		return 0;
	gil_drop(g, who);
	gil_take(g, who);
	return 1;
}

int gil_held_by(const gil *g, const void *who)
{
	return atomic_load_explicit(&g->holder, memory_order_relaxed) == who;
}

gil_stats gil_get_stats(gil *g)
{
	return (gil_stats){
		.switches = atomic_load_explicit(&g->n_switches, memory_order_relaxed),
		.drop_requests = atomic_load_explicit(&g->n_drop_requests, memory_order_relaxed),
		.forced_waits = atomic_load_explicit(&g->n_forced_waits, memory_order_relaxed),
	};
}
