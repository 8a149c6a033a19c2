/* micro.yield: T tasks each yield n times: the cost of one switch (Gosched, sched_yield,
 * await asyncio.sleep(0), setImmediate). */
#include <stdlib.h>

#include "common.h"

static uint64_t yield_task(void *arg, size_t len)
{
	(void)len;
	int64_t n;
	memcpy(&n, arg, sizeof n);
	for (int64_t i = 0; i < n; i++)
		cb_yield();
	return (uint64_t)n;
}

static uint64_t yield_root(void *arg, size_t len)
{
	(void)len;
	const cb_cell *c = wl_rep(arg)->cell;
	return wl_spawn_sum(yield_task, &c->size, sizeof c->size, c->tasks);
}

static int yield_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	r->checksum = result;
	r->expected = r->ops = (uint64_t)r->cell->tasks * (uint64_t)r->cell->size;
	return 0;
}

static int64_t yield_peak(const cb_cell *c) { return c->tasks + 1; }

const cb_workload cb_wl_micro_yield = {
	.name = "micro.yield", .unit = "yields",
	.scale = "size",
	.summary = "T tasks each yield n times: the cost of one switch",
	.tasks_doc = "tasks", .tasks_def = 2, .tasks_max = 100000,
	.size_doc = "yields per task", .size_def = 100000, .size_max = 1000000000,
	.serial_doc = "unsupported: with one task at a time there is nothing to switch to",
	.peak_tasks = yield_peak, .root = yield_root, .finish = yield_finish,
};
