/* io.sleep: N tasks each sleep d ms at once. Concurrency: the ideal wall time is d whatever
 * N; it measures timers and the cost of N waiting tasks. */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

static uint64_t sleep_task(void *arg, size_t len)
{
	(void)len;
	uint64_t ns;
	memcpy(&ns, arg, sizeof ns);
	cb_sleep_ns(ns);
	return 1;
}

static uint64_t sleep_root(void *arg, size_t len)
{
	(void)len;
	const cb_cell *c = wl_rep(arg)->cell;
	uint64_t ns = (uint64_t)c->size * 1000000u;
	return wl_spawn_sum(sleep_task, &ns, sizeof ns, c->tasks);
}

static int sleep_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	r->checksum = result;
	r->expected = (uint64_t)r->cell->tasks;
	r->ops = (uint64_t)r->cell->tasks;
	return 0;
}

static const char *sleep_refuse(const cb_cell *c, char *buf, size_t n)
{
	double total_s = (double)c->tasks * (double)c->size / 1000.0;
	if (!c->be->concurrent && total_s > 5)
		return snprintf(buf, n, "serial sleeps one after another: %.1f s in all (refused above 5 s)",
				total_s), buf;
	return NULL;
}

static int64_t sleep_peak(const cb_cell *c) { return c->tasks + 1; }

const cb_workload cb_wl_io_sleep = {
	.name = "io.sleep", .unit = "tasks",
	.summary = "N tasks each sleep d ms at the same time (timers, concurrency)",
	.tasks_doc = "sleepers", .tasks_def = 1000, .tasks_max = 10000000,
	.size_doc = "sleep in ms", .size_def = 100, .size_max = 60000,
	.serial_doc = "sleeps one after another (N x d), refused when that exceeds 5 s",
	.refuse = sleep_refuse, .peak_tasks = sleep_peak, .root = sleep_root, .finish = sleep_finish,
};
