/* micro.idle: memory per idle task. N tasks report ready and block on one channel; with all
 * of them parked, the resident memory (PSS of every process of the cell, so processes and
 * threads count too) grown since before the spawns, divided by N, is the cost of a task.
 * A backend that gives memory back from tasks parked a while (mn shrinks their stacks) has
 * done so before the reading (cb_settle: a parked task's steady cost, as a long-lived
 * program's idle tasks have it); the note says when it did not settle in time. */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "util.h"

#define IDLE_SETTLE_NS 120000000000LL /* 120 s: settling 1M parked mn Gs took ~40 s on 2 vCPUs */

typedef struct idle_arg {
	cb_chan *ready, *gate;
} idle_arg;

static uint64_t idle_task(void *arg, size_t len)
{
	(void)len;
	idle_arg a;
	memcpy(&a, arg, sizeof a);
	char b = 1;
	cb_chan_send(a.ready, &b);
	return cb_chan_recv(a.gate, &b) == CB_CLOSED; /* parked until the gate closes */
}

static uint64_t idle_root(void *arg, size_t len)
{
	(void)len;
	cb_rep *r = wl_rep(arg);
	int64_t n = r->cell->tasks;
	cb_task **t = malloc((size_t)n * sizeof *t);
	idle_arg a = {cb_chan_make(1, (size_t)n), cb_chan_make(1, 0)};
	int64_t before = cb_mem_group_pss();
	for (int64_t i = 0; i < n; i++)
		t[i] = cb_spawn(idle_task, &a, sizeof a);
	char b;
	for (int64_t i = 0; i < n; i++)
		cb_chan_recv(a.ready, &b);
	int settled = cb_settle(IDLE_SETTLE_NS);
	int64_t after = cb_mem_group_pss();
	cb_chan_close(a.gate);
	uint64_t sum = 0;
	for (int64_t i = 0; i < n; i++)
		sum += cb_join(t[i]);
	cb_chan_free(a.ready);
	cb_chan_free(a.gate);
	free(t);
	if (before > 0 && after > 0)
		snprintf(r->note, sizeof r->note, "bytes_per_task=%lld%s",
			 (long long)((after - before) / n),
			 settled == 0 ? " (read before the backend had settled)" : "");
	else
		snprintf(r->note, sizeof r->note, "bytes_per_task unknown (no /proc smaps_rollup)");
	return sum;
}

static int idle_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	r->checksum = result;
	r->expected = r->ops = (uint64_t)r->cell->tasks;
	return 0;
}

static int64_t idle_peak(const cb_cell *c) { return c->tasks + 1; }

const cb_workload cb_wl_micro_idle = {
	.name = "micro.idle", .unit = "tasks",
	.summary = "memory per idle task: N tasks parked on a channel, resident growth / N",
	.tasks_doc = "idle tasks", .tasks_def = 10000, .tasks_max = 10000000,
	.size_doc = "unused", .size_def = 1, .size_max = 1,
	.serial_doc = "unsupported: tasks must be parked at the same time",
	.cold = 1, .peak_tasks = idle_peak, .root = idle_root, .finish = idle_finish,
};
