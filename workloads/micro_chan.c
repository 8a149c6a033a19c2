/* micro.chan: cap=0: two tasks ping-pong over two rendezvous channels (round-trip cost);
 * cap>0: a producer streams n values through one buffered channel (throughput). */
#include "common.h"

#define CHAN_PARAMS(X)                                                                    \
	X(CHAN_P_CAP, "cap", 0, 0, 1000000,                                               \
	  "channel capacity: 0 = rendezvous ping-pong, >0 = buffered stream")
CB_PARAMS(chan_params, CHAN_PARAMS);

typedef struct chan_arg {
	cb_chan *a, *b;
	int64_t n;
} chan_arg;

static uint64_t ping_task(void *arg, size_t len)
{
	(void)len;
	chan_arg x;
	memcpy(&x, arg, sizeof x);
	uint64_t sum = 0;
	for (int64_t i = 0; i < x.n; i++) {
		uint64_t v = (uint64_t)i, back;
		cb_chan_send(x.a, &v);
		if (cb_chan_recv(x.b, &back) != CB_OK)
			cb_abort("error", "pong channel closed early");
		sum += back == v + 1 ? back : 0;
	}
	return sum;
}

static uint64_t pong_task(void *arg, size_t len)
{
	(void)len;
	chan_arg x;
	memcpy(&x, arg, sizeof x);
	uint64_t v;
	while (cb_chan_recv(x.a, &v) == CB_OK) {
		v++;
		cb_chan_send(x.b, &v);
	}
	return 0;
}

static uint64_t producer_task(void *arg, size_t len)
{
	(void)len;
	chan_arg x;
	memcpy(&x, arg, sizeof x);
	for (int64_t i = 0; i < x.n; i++) {
		uint64_t v = (uint64_t)i;
		cb_chan_send(x.a, &v);
	}
	cb_chan_close(x.a);
	return 0;
}

static uint64_t consumer_task(void *arg, size_t len)
{
	(void)len;
	chan_arg x;
	memcpy(&x, arg, sizeof x);
	uint64_t v, sum = 0;
	while (cb_chan_recv(x.a, &v) == CB_OK)
		sum += v;
	return sum;
}

static uint64_t chan_root(void *arg, size_t len)
{
	(void)len;
	const cb_cell *c = wl_rep(arg)->cell;
	int64_t cap = c->p[CHAN_P_CAP];
	chan_arg x = {cb_chan_make(sizeof(uint64_t), (size_t)cap), NULL, c->size};
	uint64_t sum;
	if (cap == 0) {
		x.b = cb_chan_make(sizeof(uint64_t), 0);
		cb_task *pong = cb_spawn(pong_task, &x, sizeof x);
		cb_task *ping = cb_spawn(ping_task, &x, sizeof x);
		sum = cb_join(ping);
		cb_chan_close(x.a);
		sum += cb_join(pong);
		cb_chan_free(x.b);
	} else {
		cb_task *cons = cb_spawn(consumer_task, &x, sizeof x);
		cb_task *prod = cb_spawn(producer_task, &x, sizeof x);
		sum = cb_join(prod);
		sum += cb_join(cons);
	}
	cb_chan_free(x.a);
	return sum;
}

static int chan_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	uint64_t N = (uint64_t)r->cell->size;
	r->checksum = result;
	r->expected = r->cell->p[CHAN_P_CAP] == 0 ? N * (N + 1) / 2 : N * (N - 1) / 2;
	r->ops = N;
	return 0;
}

static int64_t chan_peak(const cb_cell *c) { (void)c; return 3; }

const cb_workload cb_wl_micro_chan = {
	.name = "micro.chan", .unit = "messages",
	.scale = "size",
	.summary = "cap=0: rendezvous ping-pong round trips; cap>0: buffered channel stream",
	.tasks_doc = "unused (always 2 tasks)", .tasks_def = 2, .tasks_max = 2,
	.size_doc = "round trips (cap=0) or messages (cap>0)", .size_def = 100000, .size_max = 1000000000,
	.params = chan_params,
	.serial_doc = "unsupported: sender and receiver must run at once",
	.peak_tasks = chan_peak, .root = chan_root, .finish = chan_finish,
};
