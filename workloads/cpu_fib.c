/* cpu.fib: T tasks each compute recursive fib(n). Parallelism: with W cores the wall time
 * should fall by W; under a GIL it does not. */
#include "common.h"

/* rounds: the tasks are spawned and joined this many times per repetition, the knob that
 * --min-time scales (the task count, what the parallelism is about, stays as asked). */
#define FIB_PARAMS(X)                                                                        \
	X(FIB_P_ROUNDS, "rounds", 1, 1, 1000000, "times the T tasks are spawned and joined")
CB_PARAMS(fib_params, FIB_PARAMS);

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
	uint64_t sum = 0;
	for (int64_t i = 0; i < c->p[FIB_P_ROUNDS]; i++)
		sum += wl_spawn_sum(fib_task, &n, sizeof n, c->tasks);
	return sum;
}

static int fib_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	r->checksum = result;
	uint64_t runs = (uint64_t)r->cell->tasks * (uint64_t)r->cell->p[FIB_P_ROUNDS];
	r->expected = runs * wl_fib_value((int)r->cell->size);
	r->ops = runs;
	return 0;
}

static int64_t fib_peak(const cb_cell *c) { return c->tasks + 1; }

const cb_workload cb_wl_cpu_fib = {
	.name = "cpu.fib", .unit = "tasks",
	.summary = "T tasks each compute recursive fib(n) (CPU-bound, parallelism)",
	.tasks_doc = "tasks", .tasks_def = 8, .tasks_max = 1000000,
	.size_doc = "n of fib(n)", .size_def = 30, .size_max = 45,
	.params = fib_params, .scale = "rounds",
	.independent = 1, .peak_tasks = fib_peak, .root = fib_root, .finish = fib_finish,
};
