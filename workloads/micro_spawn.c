/* micro.spawn: the cost of spawning and joining a task. N tasks in batches of B: spawn B,
 * join B (as `go` + WaitGroup, Thread.start/join, Pool.apply_async/get). */
#include <stdlib.h>

#include "common.h"

static uint64_t nop_task(void *arg, size_t len)
{
	(void)len;
	uint64_t i;
	memcpy(&i, arg, sizeof i);
	return i + 1;
}

static uint64_t spawn_root(void *arg, size_t len)
{
	(void)len;
	const cb_cell *c = wl_rep(arg)->cell;
	int64_t batch = c->size;
	cb_task **t = malloc((size_t)batch * sizeof *t);
	uint64_t sum = 0;
	for (int64_t done = 0; done < c->tasks; done += batch) {
		int64_t k = c->tasks - done < batch ? c->tasks - done : batch;
		for (int64_t i = 0; i < k; i++) {
			uint64_t v = (uint64_t)(done + i);
			t[i] = cb_spawn(nop_task, &v, sizeof v);
		}
		for (int64_t i = 0; i < k; i++)
			sum += cb_join(t[i]);
	}
	free(t);
	return sum;
}

static int spawn_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	uint64_t N = (uint64_t)r->cell->tasks;
	r->checksum = result;
	r->expected = N * (N + 1) / 2;
	r->ops = N;
	return 0;
}

static int64_t spawn_peak(const cb_cell *c) { return (c->size < c->tasks ? c->size : c->tasks) + 1; }

const cb_workload cb_wl_micro_spawn = {
	.name = "micro.spawn", .unit = "tasks",
	.summary = "spawn+join cost: N trivial tasks, spawned and joined in batches of B",
	.tasks_doc = "tasks", .tasks_def = 100000, .tasks_max = 1000000000,
	.size_doc = "batch: tasks spawned before joining them", .size_def = 100, .size_max = 10000000,
	.independent = 1, .peak_tasks = spawn_peak, .root = spawn_root, .finish = spawn_finish,
};
