/* micro.skynet: every task spawns fanout children until the leaves, each leaf returns its
 * number, parents sum: 1,111,111 tasks for 1M leaves, sum 499999500000. The classic test of
 * task creation at scale. */
#include <stdio.h>

#include "common.h"

#define SKYNET_PARAMS(X)                                                                  \
	X(SKYNET_P_FANOUT, "fanout", 10, 2, 100, "children per task")
CB_PARAMS(skynet_params, SKYNET_PARAMS);

typedef struct sky_arg {
	int64_t num, size, div;
} sky_arg;

static uint64_t sky_task(void *arg, size_t len)
{
	(void)len;
	sky_arg a;
	memcpy(&a, arg, sizeof a);
	if (a.size == 1)
		return (uint64_t)a.num;
	cb_task *t[100];
	int64_t sub = a.size / a.div;
	for (int64_t i = 0; i < a.div; i++) {
		sky_arg c = {a.num + i * sub, sub, a.div};
		t[i] = cb_spawn(sky_task, &c, sizeof c);
	}
	uint64_t sum = 0;
	for (int64_t i = 0; i < a.div; i++)
		sum += cb_join(t[i]);
	return sum;
}

static uint64_t sky_root(void *arg, size_t len)
{
	(void)len;
	const cb_cell *c = wl_rep(arg)->cell;
	sky_arg a = {0, c->size, c->p[SKYNET_P_FANOUT]};
	return cb_join(cb_spawn(sky_task, &a, sizeof a));
}

static int64_t sky_total(const cb_cell *c)
{
	int64_t total = 0;
	for (int64_t k = c->size; k >= 1; k /= c->p[SKYNET_P_FANOUT])
		total += c->size / k;
	return total;
}

static int sky_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	uint64_t L = (uint64_t)r->cell->size;
	r->checksum = result;
	r->expected = L * (L - 1) / 2;
	r->ops = (uint64_t)sky_total(r->cell);
	return 0;
}

static const char *sky_check(const cb_cell *c, char *buf, size_t n)
{
	int64_t k = c->size;
	while (k % c->p[SKYNET_P_FANOUT] == 0)
		k /= c->p[SKYNET_P_FANOUT];
	if (k != 1)
		return snprintf(buf, n, "micro.skynet: --size %lld is not a power of fanout %lld",
				(long long)c->size, (long long)c->p[SKYNET_P_FANOUT]), buf;
	return NULL;
}

/* Every task may be alive at once (a parent waits for all its children). */
static int64_t sky_peak(const cb_cell *c) { return sky_total(c) + 1; }

const cb_workload cb_wl_micro_skynet = {
	.name = "micro.skynet", .unit = "tasks",
	.summary = "skynet: a tree of tasks, fanout children each, leaves return their number",
	.tasks_doc = "unused (the tree's size follows from size and fanout)", .tasks_def = 1, .tasks_max = 1,
	.size_doc = "leaves (a power of fanout)", .size_def = 1000000, .size_max = 100000000,
	.params = skynet_params, .check = sky_check, .peak_tasks = sky_peak, .root = sky_root,
	.finish = sky_finish,
};
