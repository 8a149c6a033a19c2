/* cpu.fib: T tasks each compute recursive fib(n). Parallelism: with W cores the wall time
 * should fall by W; under a GIL it does not. */
#include "common.h"

static uint64_t fib_task(void *arg, size_t len)
{
	(void)len;
	int32_t n;
	memcpy(&n, arg, sizeof n);
	return wl_fib(n);
}

static uint64_t fib_root(void *arg, size_t len)
{
	(void)len;
	const cb_cell *c = wl_rep(arg)->cell;
	int32_t n = (int32_t)c->size;
	return wl_spawn_sum(fib_task, &n, sizeof n, c->tasks);
}

static int fib_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	r->checksum = result;
	r->expected = (uint64_t)r->cell->tasks * wl_fib_value((int)r->cell->size);
	r->ops = (uint64_t)r->cell->tasks;
	return 0;
}

static int64_t fib_peak(const cb_cell *c) { return c->tasks + 1; }

const cb_workload cb_wl_cpu_fib = {
	.name = "cpu.fib", .unit = "tasks",
	.summary = "T tasks each compute recursive fib(n) (CPU-bound, parallelism)",
	.tasks_doc = "tasks", .tasks_def = 8, .tasks_max = 1000000,
	.size_doc = "n of fib(n)", .size_def = 30, .size_max = 45,
	.independent = 1, .peak_tasks = fib_peak, .root = fib_root, .finish = fib_finish,
};
