/* mix.latency: H CPU hogs (each rounds x fib(n), a fixed amount of work) beside a probe that
 * asks to wake every period; the probe's wake delay (how late it runs) shows whether and how
 * quickly the scheduler takes the CPU from a hog: preemption. */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "hist.h"
#include "util.h"

#define LAT_PARAMS(X)                                                                     \
	X(LAT_P_ROUNDS, "rounds", 40, 1, 1000000, "fib(n) computations per hog")          \
	X(LAT_P_PERIOD_US, "period_us", 1000, 10, 10000000,                               \
	  "probe's sleep between wakes, microseconds")                                    \
	X(LAT_P_MIN_MS, "min_ms", 100, 0, 3600000,                                        \
	  "the probe runs at least this long, hogs or not")
CB_PARAMS(lat_params, LAT_PARAMS);

typedef struct lat_summary {
	uint64_t count, p50, p90, p99, p999, max, sum;
} lat_summary;

typedef struct probe_arg {
	cb_chan *stop, *report;
	uint64_t period_ns;
} probe_arg;

typedef struct hog_arg {
	int32_t n;
	int64_t rounds;
} hog_arg;

static uint64_t probe_task(void *arg, size_t len)
{
	(void)len;
	probe_arg a;
	memcpy(&a, arg, sizeof a);
	cb_hist *h = malloc(sizeof *h);
	cb_hist_init(h);
	char dummy;
	do {
		uint64_t t0 = cb_now_ns();
		cb_sleep_ns(a.period_ns);
		uint64_t late = cb_now_ns() - t0;
		cb_hist_add(h, late > a.period_ns ? late - a.period_ns : 0);
	} while (cb_chan_try_recv(a.stop, &dummy) == CB_EMPTY);
	lat_summary s = {h->count, cb_hist_quantile(h, 0.5), cb_hist_quantile(h, 0.9),
			 cb_hist_quantile(h, 0.99), cb_hist_quantile(h, 0.999), h->max, h->sum};
	free(h);
	cb_chan_send(a.report, &s);
	return 0;
}

static uint64_t hog_task(void *arg, size_t len)
{
	(void)len;
	hog_arg a;
	memcpy(&a, arg, sizeof a);
	uint64_t s = 0;
	for (int64_t i = 0; i < a.rounds; i++)
		s += wl_fib(a.n);
	return s;
}

static uint64_t lat_root(void *arg, size_t len)
{
	(void)len;
	cb_rep *r = wl_rep(arg);
	const cb_cell *c = r->cell;
	uint64_t t0 = cb_now_ns();
	probe_arg pa = {cb_chan_make(1, 0), cb_chan_make(sizeof(lat_summary), 1),
			(uint64_t)c->p[LAT_P_PERIOD_US] * 1000};
	cb_task *probe = cb_spawn(probe_task, &pa, sizeof pa);
	cb_task **hogs = malloc((size_t)(c->tasks + 1) * sizeof *hogs);
	hog_arg ha = {(int32_t)c->size, c->p[LAT_P_ROUNDS]};
	for (int64_t i = 0; i < c->tasks; i++)
		hogs[i] = cb_spawn(hog_task, &ha, sizeof ha);
	uint64_t sum = 0;
	for (int64_t i = 0; i < c->tasks; i++)
		sum += cb_join(hogs[i]);
	free(hogs);
	uint64_t ran = cb_now_ns() - t0, min = (uint64_t)c->p[LAT_P_MIN_MS] * 1000000u;
	if (ran < min)
		cb_sleep_ns(min - ran);
	cb_chan_close(pa.stop);
	lat_summary s;
	if (cb_chan_recv(pa.report, &s) != CB_OK)
		cb_abort("error", "probe sent no report");
	cb_join(probe);
	cb_chan_free(pa.stop);
	cb_chan_free(pa.report);
	r->has_lat = s.count > 0;
	r->p50_ns = s.p50;
	r->p99_ns = s.p99;
	r->has_p90 = s.count > 0;
	r->p90_ns = s.p90;
	r->p999_ns = s.p999;
	r->max_ns = s.max;
	r->ops = s.count;
	if (s.count) /* the same words as the Python twins' note */
		snprintf(r->note, sizeof r->note, "mean wake delay %.3f ms",
			 (double)s.sum / (double)s.count / 1e6);
	return sum;
}

static int lat_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	const cb_cell *c = r->cell;
	r->checksum = result;
	r->expected =
		(uint64_t)c->tasks * (uint64_t)c->p[LAT_P_ROUNDS] * wl_fib_value((int)c->size);
	return 0;
}

static int64_t lat_peak(const cb_cell *c) { return c->tasks + 2; }

const cb_workload cb_wl_mix_latency = {
	.name = "mix.latency", .unit = "probe wakes",
	.summary = "H CPU hogs (rounds x fib(n) each) beside a probe waking every period: wake delay p50/p99/max",
	.tasks_doc = "hogs", .tasks_def = 1, .tasks_max = 4096, .tasks_zero_ok = 1,
	.size_doc = "n of each hog's fib(n)", .size_def = 27, .size_max = 40,
	.params = lat_params,
	/* more rounds make the hogs, and with them the probe, last --min-time (the suite sets
	 * it to 1 s so that p99 comes from >= 1000 wakes) */
	.scale = "rounds", .floor_param = "min_ms",
	.serial_doc = "unsupported: the probe must run beside the hogs",
	.peak_tasks = lat_peak, .root = lat_root, .finish = lat_finish,
};
