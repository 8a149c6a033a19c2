/* io.pipe: P pairs of tasks ping-pong a message over two pipes, n round trips per pair.
 * Each round trip is two blocking reads that must wake the other task. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

#define PIPE_PARAMS(X)                                                                    \
	X(PIPE_P_MSG, "msg", 64, 1, 65536, "message bytes")
CB_PARAMS(pipe_params, PIPE_PARAMS);

typedef struct pipe_arg {
	int rfd, wfd;
	int64_t count, msg;
	int ping;
} pipe_arg;

static uint64_t pipe_task(void *arg, size_t len)
{
	(void)len;
	pipe_arg a;
	memcpy(&a, arg, sizeof a);
	uint8_t *buf = malloc((size_t)a.msg), *want = malloc((size_t)a.msg);
	uint64_t ok = 0;
	for (int64_t i = 0; i < a.count; i++) {
		if (a.ping) {
			wl_fill(buf, (size_t)a.msg, (uint64_t)i);
			if (wl_write_full(a.wfd, buf, (size_t)a.msg) < 0)
				cb_abort("error", "pipe write: %s", strerror(errno));
			if (wl_read_full(a.rfd, buf, (size_t)a.msg) != a.msg)
				cb_abort("error", "pipe read: short");
			wl_fill(want, (size_t)a.msg, (uint64_t)i);
			ok += !memcmp(buf, want, (size_t)a.msg);
		} else {
			if (wl_read_full(a.rfd, buf, (size_t)a.msg) != a.msg)
				cb_abort("error", "pipe read: short");
			if (wl_write_full(a.wfd, buf, (size_t)a.msg) < 0)
				cb_abort("error", "pipe write: %s", strerror(errno));
			ok++;
		}
	}
	free(buf);
	free(want);
	return ok;
}

static uint64_t pipe_root(void *arg, size_t len)
{
	(void)len;
	const cb_cell *c = wl_rep(arg)->cell;
	int64_t pairs = c->tasks;
	int (*fds)[4] = malloc((size_t)pairs * sizeof *fds);
	cb_task **t = malloc((size_t)pairs * 2 * sizeof *t);
	for (int64_t i = 0; i < pairs; i++)
		if (pipe2(fds[i], O_CLOEXEC) < 0 || pipe2(fds[i] + 2, O_CLOEXEC) < 0)
			cb_abort("unsupported", "pipe pair %lld: %s", (long long)i, strerror(errno));
	for (int64_t i = 0; i < pairs; i++) {
		/* ping writes fds[1] and reads fds[2]; pong reads fds[0] and writes fds[3]. */
		pipe_arg ping = {fds[i][2], fds[i][1], c->size, c->p[PIPE_P_MSG], 1};
		pipe_arg pong = {fds[i][0], fds[i][3], c->size, c->p[PIPE_P_MSG], 0};
		t[2 * i] = cb_spawn(pipe_task, &pong, sizeof pong);
		t[2 * i + 1] = cb_spawn(pipe_task, &ping, sizeof ping);
	}
	uint64_t sum = 0;
	for (int64_t i = 0; i < 2 * pairs; i++)
		sum += cb_join(t[i]);
	for (int64_t i = 0; i < pairs; i++)
		for (int k = 0; k < 4; k++)
			cb_close(fds[i][k]);
	free(fds);
	free(t);
	return sum;
}

static int pipe_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	r->checksum = result;
	r->expected = 2 * (uint64_t)r->cell->tasks * (uint64_t)r->cell->size;
	r->ops = (uint64_t)r->cell->tasks * (uint64_t)r->cell->size;
	return 0;
}

static int64_t pipe_peak(const cb_cell *c) { return 2 * c->tasks + 1; }

const cb_workload cb_wl_io_pipe = {
	.name = "io.pipe", .unit = "round trips",
	.scale = "size",
	.summary = "P task pairs ping-pong a message over two pipes, n round trips each",
	.tasks_doc = "pairs", .tasks_def = 4, .tasks_max = 100000,
	.size_doc = "round trips per pair", .size_def = 10000, .size_max = 1000000000,
	.params = pipe_params,
	.serial_doc = "unsupported: a ping-pong needs both tasks running at once",
	.peak_tasks = pipe_peak, .root = pipe_root, .finish = pipe_finish,
};
