/* io.echo: a plain TCP echo server on 127.0.0.1 under the backend (one task per connection),
 * driven by the load generator in a separate process: C connections, each sending msgs
 * messages of size bytes and waiting for each echo. Requests/s and round-trip percentiles
 * come from the client's side, as a user would see them. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "common.h"
#include "harness.h"

static const cb_param_def echo_params[] = {
	{"msgs", 200, 1, 1000000000, "messages (round trips) per connection"},
	{NULL, 0, 0, 0, NULL},
};

static int echo_prepare(cb_rep *r, char *err, size_t n)
{
	const cb_cell *c = r->cell;
	return wl_served_start(r, (int)c->tasks, (int)c->size, c->p[0], 0, err, n);
}

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
		t[i] = cb_spawn(wl_echo_task, &fd, sizeof fd);
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
	r->checksum = result;
	r->expected = (uint64_t)c->tasks * (uint64_t)c->p[0] * (uint64_t)c->size;
	return 0;
}

static const char *echo_check(const cb_cell *c, char *buf, size_t n)
{
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
	.finish = echo_finish, .cleanup = wl_served_stop,
};
