/* mix.convoy: one echo connection's requests/s beside H CPU hogs in the same process (the
 * GIL convoy effect: an I/O task that must win the lock back after every read). The client
 * runs for duration_ms, of which the last duration_ms - warmup_ms are its measured window;
 * hogs compute fib(hog_n) rounds, checking each result, until the connection is done or
 * duration_ms has passed on their own clock. Closed loop (rate=0): requests/s is the
 * figure; open loop (rate=R, a modest fixed rate): the echo service's latency percentiles
 * beside the hogs are (the convoy and a blocked event loop show as latency). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "harness.h"
#include "util.h"

/* warmup_ms, rate and arrival are the client's alone (loadgen.c), not passed to a twin
 * (client_params) */
#define CONVOY_PARAMS(X)                                                                  \
	X(CONVOY_P_DURATION_MS, "duration_ms", 1000, 10, 3600000,                         \
	  "how long the client sends requests")                                           \
	X(CONVOY_P_HOG_N, "hog_n", 25, 10, 40, "n of each hog round's fib(n)")            \
	X(CONVOY_P_WARMUP, "warmup_ms", 0, 0, 3600000,                                    \
	  "first part of duration_ms not counted (warm-up)")                              \
	X(CONVOY_P_RATE, "rate", 0, 0, 1000000000, "open loop: requests/s (0: closed loop)") \
	X(CONVOY_P_ARRIVAL, "arrival", 0, 0, 1,                                           \
	  "open loop inter-arrival: 0 constant, 1 exponential (Poisson)")
CB_PARAMS(convoy_params, CONVOY_PARAMS);

typedef struct chog_arg {
	cb_chan *stop;
	int32_t n;
	uint64_t limit_ns; /* a hog also stops after the client's duration: on a cooperative
	                    * loop no stop message can reach it before it gives the loop up */
} chog_arg;

static uint64_t chog_task(void *arg, size_t len)
{
	(void)len;
	chog_arg a;
	memcpy(&a, arg, sizeof a);
	uint64_t want = wl_fib_value(a.n), t0 = cb_now_ns();
	int bad = 0;
	char dummy;
	do
		bad |= wl_fib(a.n) != want;
	while (cb_chan_try_recv(a.stop, &dummy) == CB_EMPTY && cb_now_ns() - t0 < a.limit_ns);
	return !bad; /* 1: every round was right */
}

static int convoy_prepare(cb_rep *r, char *err, size_t n)
{
	const cb_cell *c = r->cell;
	cb_loadgen_opts o = {.conns = 1, .msg = (int)c->size, .duration_ms = c->p[CONVOY_P_DURATION_MS] - c->p[CONVOY_P_WARMUP],
			     .warmup_ms = c->p[CONVOY_P_WARMUP], .rate = c->p[CONVOY_P_RATE], .arrival = (int)c->p[CONVOY_P_ARRIVAL]};
	return wl_served_start(r, &o, err, n);
}

/* Read one whole message of size bytes from fd and echo it; the bytes echoed. */
static uint64_t echo_first(int fd, size_t size)
{
	char *buf = malloc(size);
	if (!buf)
		cb_abort("error", "mix.convoy: out of memory");
	size_t got = 0;
	while (got < size) {
		ssize_t r = cb_read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* the client went away: its report says so */
		got += (size_t)r;
	}
	if (got && wl_write_full(fd, buf, got) < 0)
		got = 0;
	free(buf);
	return got;
}

static uint64_t convoy_root(void *arg, size_t len)
{
	(void)len;
	cb_rep *r = wl_rep(arg);
	const cb_cell *c = r->cell;
	const wl_served *s = r->priv;
	wl_served_go(s);
	int fd = wl_served_accept(s);
	/* The client's clock starts at its first echo (loadgen.c): echo its first message before
	 * any hog exists, so that the hogs, which last duration_ms from here, cover the whole
	 * window (on a cooperative loop a hog spawned first would delay that echo, and the
	 * window would open only once the hog was done). */
	uint64_t first = echo_first(fd, (size_t)c->size);
	cb_task *echo = cb_spawn(wl_echo_task, &fd, sizeof fd);
	chog_arg ha = {cb_chan_make(1, 0), (int32_t)c->p[CONVOY_P_HOG_N],
		       (uint64_t)c->p[CONVOY_P_DURATION_MS] * 1000000u};
	cb_task **hogs = malloc((size_t)(c->tasks + 1) * sizeof *hogs);
	for (int64_t i = 0; i < c->tasks; i++)
		hogs[i] = cb_spawn(chog_task, &ha, sizeof ha);
	uint64_t sum = first + cb_join(echo);
	cb_chan_close(ha.stop);
	for (int64_t i = 0; i < c->tasks; i++)
		sum += cb_join(hogs[i]);
	free(hogs);
	cb_chan_free(ha.stop);
	return sum;
}

static int convoy_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	cb_loadgen_report lg;
	if (wl_served_report(r, &lg, err, n) < 0)
		return -1;
	const cb_cell *c = r->cell;
	/* Bytes echoed, as the independent client sent them, plus one per correct hog; a wrong
	 * or missing echo adds one that no run can make up, as in io.echo. */
	r->checksum = result;
	r->expected = lg.bytes + (uint64_t)c->tasks + lg.errors;
	return 0;
}

static const char *convoy_check(const cb_cell *c, char *buf, size_t n)
{
	if (c->p[CONVOY_P_WARMUP] >= c->p[CONVOY_P_DURATION_MS])
		return snprintf(buf, n, "mix.convoy: warmup_ms=%lld leaves no window of duration_ms=%lld",
				(long long)c->p[CONVOY_P_WARMUP], (long long)c->p[CONVOY_P_DURATION_MS]), buf;
	return NULL;
}

static int64_t convoy_peak(const cb_cell *c) { return c->tasks + 2; }

const cb_workload cb_wl_mix_convoy = {
	.name = "mix.convoy", .unit = "round trips",
	.summary = "one echo connection's requests/s beside H CPU hogs in the same process",
	.tasks_doc = "hogs", .tasks_def = 1, .tasks_max = 4096, .tasks_zero_ok = 1,
	.size_doc = "message bytes", .size_def = 64, .size_max = 1 << 20,
	.params = convoy_params,
	.serial_doc = "unsupported: the hogs must run beside the connection",
	.check = convoy_check, .peak_tasks = convoy_peak, .prepare = convoy_prepare, .root = convoy_root,
	.finish = convoy_finish, .cleanup = wl_served_stop,
	.client_params = "warmup_ms rate arrival", .warm_param = "warmup_ms",
};
