/* backend_serial.c: the baseline. Tasks run one after another on the calling thread: spawn
 * runs the task to completion at once and join hands back its result. The denominator of
 * every speedup. Channels are plain queues; a receive that would wait for another task is a
 * deadlock in a serial program and ends the cell with an error. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "task.h"

struct cb_task {
	uint64_t result;
};

struct cb_chan {
	size_t elem, cap, head, len;
	int closed;
	unsigned char *buf;
};

static uint64_t serial_run(const cb_backend_cfg *cfg, cb_fn root, void *arg, size_t len)
{
	(void)cfg;
	return root(arg, len);
}

static cb_task *serial_spawn(cb_fn fn, const void *arg, size_t len)
{
	cb_task *t = malloc(sizeof *t);
	if (!t)
		return NULL;
	/* The task gets its own copy of the argument, as on every backend. */
	void *copy = malloc(len ? len : 1);
	if (!copy) {
		free(t);
		return NULL;
	}
	if (len)
		memcpy(copy, arg, len);
	t->result = fn(copy, len);
	free(copy);
	return t;
}

static uint64_t serial_join(cb_task *t)
{
	uint64_t r = t->result;
	free(t);
	return r;
}

static void serial_yield(void) {}

static void serial_sleep(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static cb_chan *serial_chan_make(size_t elem, size_t cap)
{
	cb_chan *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->elem = elem;
	c->cap = cap;
	c->buf = malloc(elem * (cap ? cap : 1));
	if (!c->buf) {
		free(c);
		return NULL;
	}
	return c;
}

static int serial_send(cb_chan *c, const void *e)
{
	if (c->closed)
		return CB_CLOSED;
	if (c->len == c->cap)
		cb_abort("error", "deadlock: serial send on a %s channel with no receiver running",
			 c->cap ? "full" : "rendezvous");
	memcpy(c->buf + ((c->head + c->len) % c->cap) * c->elem, e, c->elem);
	c->len++;
	return CB_OK;
}

static int serial_try_recv(cb_chan *c, void *e)
{
	if (!c->len)
		return c->closed ? CB_CLOSED : CB_EMPTY;
	memcpy(e, c->buf + c->head * c->elem, c->elem);
	c->head = (c->head + 1) % c->cap;
	c->len--;
	return CB_OK;
}

static int serial_recv(cb_chan *c, void *e)
{
	int r = serial_try_recv(c, e);
	if (r == CB_EMPTY)
		cb_abort("error", "deadlock: serial receive on an empty channel with no sender running");
	return r;
}

static void serial_close(cb_chan *c) { c->closed = 1; }
static void serial_free(cb_chan *c)
{
	free(c->buf);
	free(c);
}

static int serial_open(const char *p, int f, int m) { return open(p, f | O_CLOEXEC, m); }
static ssize_t serial_read(int fd, void *b, size_t n) { return read(fd, b, n); }
static ssize_t serial_write(int fd, const void *b, size_t n) { return write(fd, b, n); }
static int serial_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC); }
static int serial_connect(int fd, const struct sockaddr *a, socklen_t l) { return connect(fd, a, l); }
static int serial_close_fd(int fd) { return close(fd); }

const cb_backend cb_backend_serial = {
	.name = "serial",
	.summary = "baseline: tasks run one after another on one thread (spawn runs the task, join returns its result)",
	.concurrent = 0,
	.run = serial_run,
	.spawn = serial_spawn,
	.join = serial_join,
	.yield = serial_yield,
	.sleep_ns = serial_sleep,
	.chan_make = serial_chan_make,
	.chan_send = serial_send,
	.chan_recv = serial_recv,
	.chan_try_recv = serial_try_recv,
	.chan_close = serial_close,
	.chan_free = serial_free,
	.open = serial_open,
	.read = serial_read,
	.write = serial_write,
	.accept = serial_accept,
	.connect = serial_connect,
	.close = serial_close_fd,
};
