/* micro.ring: a token passed around a ring of T tasks over rendezvous channels, n passes
 * (the thread-ring benchmark). Every pass wakes a different task: switch plus channel cost. */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

typedef struct ring_arg {
	cb_chan *in, *out;
} ring_arg;

static uint64_t ring_task(void *arg, size_t len)
{
	(void)len;
	ring_arg a;
	memcpy(&a, arg, sizeof a);
	uint64_t seen = 0;
	int64_t tok;
	/* The task that receives 0 ends the ring: closing its out channel makes the next task
	 * close its own, and so on around. */
	while (cb_chan_recv(a.in, &tok) == CB_OK) {
		seen++;
		if (tok == 0)
			break;
		tok--;
		cb_chan_send(a.out, &tok);
	}
	cb_chan_close(a.out);
	return seen;
}

static uint64_t ring_root(void *arg, size_t len)
{
	(void)len;
	const cb_cell *c = wl_rep(arg)->cell;
	int64_t n = c->tasks;
	cb_chan **ch = malloc((size_t)n * sizeof *ch);
	cb_task **t = malloc((size_t)n * sizeof *t);
	for (int64_t i = 0; i < n; i++)
		ch[i] = cb_chan_make(sizeof(int64_t), 0);
	for (int64_t i = 0; i < n; i++) {
		ring_arg a = {ch[i], ch[(i + 1) % n]};
		t[i] = cb_spawn(ring_task, &a, sizeof a);
	}
	int64_t tok = c->size;
	cb_chan_send(ch[0], &tok);
	uint64_t sum = 0;
	for (int64_t i = 0; i < n; i++)
		sum += cb_join(t[i]);
	for (int64_t i = 0; i < n; i++)
		cb_chan_free(ch[i]);
	free(ch);
	free(t);
	return sum;
}

static int ring_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	r->checksum = result;
	r->expected = (uint64_t)r->cell->size + 1;
	r->ops = (uint64_t)r->cell->size;
	return 0;
}

static const char *ring_check(const cb_cell *c, char *buf, size_t n)
{
	if (c->tasks < 2)
		return snprintf(buf, n, "micro.ring: a ring needs at least 2 tasks"), buf;
	return NULL;
}

static int64_t ring_peak(const cb_cell *c) { return c->tasks + 1; }

const cb_workload cb_wl_micro_ring = {
	.name = "micro.ring", .unit = "passes",
	.scale = "size",
	.summary = "token ring: T tasks pass a token over rendezvous channels n times",
	.tasks_doc = "tasks in the ring", .tasks_def = 503, .tasks_max = 1000000,
	.size_doc = "token passes", .size_def = 100000, .size_max = 1000000000,
	.serial_doc = "unsupported: every task waits for its neighbour",
	.check = ring_check, .peak_tasks = ring_peak, .root = ring_root, .finish = ring_finish,
};
