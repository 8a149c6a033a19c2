/* io.echo: a plain TCP echo server on 127.0.0.1 under the backend (one task per connection),
 * driven by the load generator in a separate process: C connections sending messages of
 * size bytes. Closed loop (rate=0): each connection sends its next message when the echo is
 * back, msgs of them, or for duration_ms; open loop (rate=R): R requests/s over all the
 * connections at their intended times, latency measured from those (loadgen.c). With
 * duration_ms the client measures a steady-state window (the warmup_ms first are not
 * counted): requests/s is its own count over its own window, the same for every backend
 * and twin. Requests/s and round-trip percentiles come from the client's side, as a user
 * would see them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "common.h"
#include "harness.h"

/* The client's params (loadgen.c), io.echo's whole table and the first of test.echo_fault's;
 * none is passed to a twin, which only serves (ECHO_CLIENT). */
#define ECHO_CLIENT "msgs duration_ms warmup_ms rate arrival"
#define ECHO_PARAMS(X)                                                                     \
	X(ECHO_P_MSGS, "msgs", 200, 1, 1000000000,                                          \
	  "messages (round trips) per connection, when duration_ms is 0")                    \
	X(ECHO_P_DURATION, "duration_ms", 0, 0, 3600000,                                    \
	  "how long the client sends (0: msgs per connection); a steady-state window")      \
	X(ECHO_P_WARMUP, "warmup_ms", 0, 0, 3600000,                                        \
	  "first part of duration_ms not counted (warm-up)")                                 \
	X(ECHO_P_RATE, "rate", 0, 0, 1000000000,                                            \
	  "open loop: requests/s over all connections (0: closed loop)")                     \
	X(ECHO_P_ARRIVAL, "arrival", 0, 0, 1,                                               \
	  "open loop inter-arrival: 0 constant, 1 exponential (Poisson)")
CB_PARAMS(echo_params, ECHO_PARAMS);

static void echo_client(const cb_cell *c, cb_loadgen_opts *o)
{
	*o = (cb_loadgen_opts){.conns = (int)c->tasks, .msg = (int)c->size, .count = c->p[ECHO_P_MSGS],
			       .duration_ms = c->p[ECHO_P_DURATION] - c->p[ECHO_P_WARMUP],
			       .warmup_ms = c->p[ECHO_P_WARMUP], .rate = c->p[ECHO_P_RATE],
			       .arrival = (int)c->p[ECHO_P_ARRIVAL]};
	if (!c->p[ECHO_P_DURATION])
		o->duration_ms = o->warmup_ms = 0;
}

static int echo_prepare(cb_rep *r, char *err, size_t n)
{
	cb_loadgen_opts o;
	echo_client(r->cell, &o);
	return wl_served_start(r, &o, err, n);
}

extern const cb_workload cb_wl_test_echo_fault;
static cb_task *echo_spawn(const cb_cell *c, int fd, int64_t i);

static uint64_t echo_root(void *arg, size_t len)
{
	(void)len;
	cb_rep *r = wl_rep(arg);
	const wl_served *s = r->priv;
	int64_t conns = r->cell->tasks;
	cb_task **t = malloc((size_t)conns * sizeof *t);
	wl_served_go(s);
	for (int64_t i = 0; i < conns; i++) {
		int fd = wl_served_accept(s);
		t[i] = echo_spawn(r->cell, fd, i);
	}
	uint64_t bytes = 0;
	for (int64_t i = 0; i < conns; i++)
		bytes += cb_join(t[i]);
	free(t);
	return bytes;
}

static int echo_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	cb_loadgen_report lg;
	if (wl_served_report(r, &lg, err, n) < 0)
		return -1;
	const cb_cell *c = r->cell;
	/* The bytes the server echoed. The client checks every byte: each echo that came back
	 * wrong or not at all adds one to the expected value, which no server reaches (it can
	 * echo at most what it was sent), so a bad echo fails the run even when the count is
	 * right. */
	r->checksum = result;
	if (c->p[ECHO_P_DURATION] || c->p[ECHO_P_RATE]) /* sized by time or by a schedule: what was sent */
		r->expected = lg.bytes + lg.errors;
	else
		r->expected = (uint64_t)c->tasks * (uint64_t)c->p[ECHO_P_MSGS] * (uint64_t)c->size + lg.errors;
	return 0;
}

static const char *echo_check(const cb_cell *c, char *buf, size_t n)
{
	if (c->p[ECHO_P_WARMUP] && !c->p[ECHO_P_DURATION])
		return snprintf(buf, n, "%s: warmup_ms needs duration_ms (a window to warm up for)",
				c->wl->name), buf;
	if (c->p[ECHO_P_DURATION] && c->p[ECHO_P_WARMUP] >= c->p[ECHO_P_DURATION])
		return snprintf(buf, n, "%s: warmup_ms=%lld leaves no window of duration_ms=%lld",
				c->wl->name, (long long)c->p[ECHO_P_WARMUP], (long long)c->p[ECHO_P_DURATION]), buf;
	int64_t m = wl_somaxconn();
	if (c->tasks > m)
		return snprintf(buf, n, "io.echo: %lld connections exceed net.core.somaxconn = %lld "
				"(the client opens them all before the server starts)",
				(long long)c->tasks, (long long)m), buf;
	return NULL;
}

static const char *echo_refuse(const cb_cell *c, char *buf, size_t n)
{
	struct rlimit rl;
	/* One fd per connection in the server's process (and as many in the client's). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)c->tasks + 64 > rl.rlim_cur)
		return snprintf(buf, n, "%lld connections need more fds than RLIMIT_NOFILE = %llu allows",
				(long long)c->tasks, (unsigned long long)rl.rlim_cur), buf;
	return NULL;
}

static int64_t echo_peak(const cb_cell *c) { return c->tasks + 1; }

const cb_workload cb_wl_io_echo = {
	.name = "io.echo", .unit = "round trips",
	.summary = "TCP echo server on 127.0.0.1, a task per connection, driven by bench loadgen",
	.tasks_doc = "connections", .tasks_def = 100, .tasks_max = 65536,
	.size_doc = "message bytes", .size_def = 1024, .size_max = 1 << 20,
	.params = echo_params,
	.serial_doc = "iterative server: connections are served one after another",
	.check = echo_check, .refuse = echo_refuse, .peak_tasks = echo_peak, .prepare = echo_prepare, .root = echo_root,
	.finish = echo_finish, .cleanup = wl_served_stop, .client_params = ECHO_CLIENT, .warm_param = "warmup_ms",
};

/* test.echo_fault (test only, hidden): io.echo whose echo tasks misbehave on purpose, so
 * that the tests can show that a server which corrupts bytes but echoes as many, or a task
 * that ends early while the others run, gives a failed row, and never a hang or an ok. */
enum { FAULT_FLIP = 1, FAULT_QUIT = 2 };

/* io.echo's parameters first, in their slots: its prepare and finish serve these cells too. */
#define FAULT_PARAMS(X)                                                                      \
	X(FAULT_P_FAULT, "fault", FAULT_FLIP, FAULT_FLIP, FAULT_QUIT,                        \
	  "1 = every task flips a bit of each read and echoes as many bytes; 2 = the first " \
	  "connection's task closes it after its first echo")
CB_PARAMS_AFTER(fault_params, echo_params, ECHO_PARAMS, FAULT_PARAMS);

typedef struct fault_arg {
	int fd;
	int32_t fault, first; /* first: the first connection's task */
} fault_arg;

static uint64_t faulty_echo_task(void *arg, size_t len)
{
	(void)len;
	fault_arg a;
	memcpy(&a, arg, sizeof a);
	wl_echo_fault f = {a.fault == FAULT_FLIP, a.fault == FAULT_QUIT && a.first};
	return wl_echo_fd(a.fd, &f);
}

static cb_task *echo_spawn(const cb_cell *c, int fd, int64_t i)
{
	if (c->wl != &cb_wl_test_echo_fault)
		return cb_spawn(wl_echo_task, &fd, sizeof fd);
	fault_arg a = {fd, (int32_t)c->p[FAULT_P_FAULT], i == 0};
	return cb_spawn(faulty_echo_task, &a, sizeof a);
}

const cb_workload cb_wl_test_echo_fault = {
	.name = "test.echo_fault", .unit = "round trips",
	.summary = "test only: io.echo with echo tasks that corrupt bytes or end early",
	.tasks_doc = "connections", .tasks_def = 4, .tasks_max = 65536,
	.size_doc = "message bytes", .size_def = 64, .size_max = 1 << 20,
	.params = fault_params, .hidden = 1,
	.serial_doc = "iterative server: connections are served one after another",
	.check = echo_check, .refuse = echo_refuse, .peak_tasks = echo_peak, .prepare = echo_prepare,
	.root = echo_root, .finish = echo_finish, .cleanup = wl_served_stop, .client_params = ECHO_CLIENT, .warm_param = "warmup_ms",
};
