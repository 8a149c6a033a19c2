/* test_gil.c: the GIL model (models/gil) on its own: mutual exclusion, drop requests served
 * within about a switch interval, blocking regions that let others run, and the interval's
 * effect on hand-off time. Bounds are deliberately generous: these check the mechanism,
 * not its speed. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "gil/gil.h"

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ---- mutual exclusion ---------------------------------------------------------------- */

static gil *g;
static atomic_int breaker;
static atomic_int inside, max_inside;
static atomic_int stop;

static void spin_inside(int iters)
{
	int n = atomic_fetch_add(&inside, 1) + 1;
	int m = atomic_load(&max_inside);
	while (n > m && !atomic_compare_exchange_weak(&max_inside, &m, n))
		;
	for (volatile int i = 0; i < iters; i++)
		;
	atomic_fetch_sub(&inside, 1);
}

static void *excl_worker(void *arg)
{
	int me = 0; /* its address is this thread's identity */
	(void)arg;
	gil_take(g, &me);
	for (int round = 0; round < 400; round++) {
		spin_inside(2000);
		if (atomic_load_explicit(&breaker, memory_order_relaxed))
			gil_yield(g, &me);
		if (round % 50 == 0) { /* a blocking call: drop around it */
			gil_drop(g, &me);
			usleep(100);
			gil_take(g, &me);
		}
	}
	gil_drop(g, &me);
	return NULL;
}

Test(gil, mutual_exclusion, .timeout = 30)
{
	g = gil_create(100, &breaker);
	cr_assert_not_null(g);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, excl_worker, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(atomic_load(&max_inside), 1, "%d threads held the GIL at once",
		     atomic_load(&max_inside));
	gil_stats s = gil_get_stats(g);
	cr_assert_gt(s.switches, 4, "the GIL never changed hands (%lu switches)",
		     (unsigned long)s.switches);
	gil_destroy(g);
}

/* ---- a waiter gets the GIL from a spinning holder ------------------------------------ */

static atomic_int hog_ready;
static atomic_uint_fast64_t hog_safepoints;

/* Spins through safe points while holding the GIL, as a CPU-bound Python thread does. */
static void *hog(void *arg)
{
	int me = 0;
	(void)arg;
	gil_take(g, &me);
	atomic_store(&hog_ready, 1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (volatile int i = 0; i < 200; i++)
			;
		atomic_fetch_add_explicit(&hog_safepoints, 1, memory_order_relaxed);
		if (atomic_load_explicit(&breaker, memory_order_relaxed))
			gil_yield(g, &me);
	}
	gil_drop(g, &me);
	return NULL;
}

/* Median time for a thread that wants the GIL to get it while a hog spins (ns). */
static uint64_t handoff_ns(uint64_t interval_us, int rounds)
{
	g = gil_create(interval_us, &breaker);
	cr_assert_not_null(g);
	atomic_store(&stop, 0);
	atomic_store(&hog_ready, 0);
	pthread_t h;
	pthread_create(&h, NULL, hog, NULL);
	while (!atomic_load(&hog_ready))
		usleep(100);
	uint64_t d[64];
	int me = 0;
	for (int r = 0; r < rounds; r++) {
		uint64_t t0 = now_ns();
		gil_take(g, &me);
		d[r] = now_ns() - t0;
		cr_assert(gil_held_by(g, &me));
		gil_drop(g, &me);
		usleep(200); /* let the hog take it back and settle */
	}
	atomic_store(&stop, 1);
	pthread_join(h, NULL);
	gil_stats s = gil_get_stats(g);
	cr_assert_geq(s.drop_requests, 1, "the waiter never had to ask");
	gil_destroy(g);
	for (int i = 1; i < rounds; i++) /* insertion sort, rounds is small */
		for (int j = i; j > 0 && d[j - 1] > d[j]; j--) {
			uint64_t x = d[j];
			d[j] = d[j - 1];
			d[j - 1] = x;
		}
	return d[rounds / 2];
}

Test(gil, waiter_served_within_interval, .timeout = 30)
{
	uint64_t med = handoff_ns(5000, 9);
	/* It must wait for its timed wait to expire, then the hog's next safe point. */
	cr_assert_lt(med, 10 * 5000 * 1000u, "median hand-off %lu ns with a 5 ms interval",
		     (unsigned long)med);
	cr_assert_gt(atomic_load(&hog_safepoints), 0);
}

Test(gil, interval_changes_handoff_time, .timeout = 30)
{
	uint64_t short_ns = handoff_ns(1000, 7);
	uint64_t long_ns = handoff_ns(50000, 7);
	/* 50x apart in theory; demand only 5x so a loaded box still passes. */
	cr_assert_gt(long_ns, 5 * short_ns, "1 ms: %lu ns, 50 ms: %lu ns",
		     (unsigned long)short_ns, (unsigned long)long_ns);
	cr_assert_gt(long_ns, 25 * 1000 * 1000u, "a 50 ms interval handed off in %lu ns",
		     (unsigned long)long_ns);
}

/* ---- a blocking region lets another thread run --------------------------------------- */

static atomic_int other_ran;

static void *other(void *arg)
{
	int me = 0;
	(void)arg;
	gil_take(g, &me);
	atomic_store(&other_ran, 1);
	gil_drop(g, &me);
	return NULL;
}

Test(gil, blocking_region_lets_others_run, .timeout = 30)
{
	/* A huge interval: the other thread can only get in through the blocking region. */
	g = gil_create(60 * 1000 * 1000, &breaker);
	int me = 0;
	gil_take(g, &me);
	pthread_t t;
	pthread_create(&t, NULL, other, NULL);
	usleep(20000);
	cr_assert_eq(atomic_load(&other_ran), 0, "ran while the GIL was held");
	gil_drop(g, &me); /* e.g. Py_BEGIN_ALLOW_THREADS around read() */
	uint64_t t0 = now_ns();
	while (!atomic_load(&other_ran) && now_ns() - t0 < 5000000000u)
		usleep(100);
	cr_assert_eq(atomic_load(&other_ran), 1, "the other thread never ran");
	gil_take(g, &me); /* Py_END_ALLOW_THREADS */
	gil_drop(g, &me);
	pthread_join(t, NULL);
	cr_assert_eq(atomic_load(&breaker), 0, "no drop request should have been needed");
	gil_destroy(g);
}

/* A holder that drops while a request is pending waits until the requester took the GIL. */
Test(gil, forced_switch_waits_for_taker, .timeout = 30)
{
	g = gil_create(1000, &breaker);
	int me = 0;
	gil_take(g, &me);
	pthread_t t;
	atomic_store(&other_ran, 0);
	pthread_create(&t, NULL, other, NULL);
	while (!atomic_load(&breaker)) /* the other thread times out and asks */
		usleep(100);
	cr_assert_eq(gil_yield(g, &me), 1);
	/* Back from gil_yield: the GIL went to the other thread in between. */
	cr_assert_eq(atomic_load(&other_ran), 1);
	cr_assert_eq(gil_yield(g, &me), 0, "no request pending any more");
	gil_drop(g, &me);
	pthread_join(t, NULL);
	gil_destroy(g);
}
