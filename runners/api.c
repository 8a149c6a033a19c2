/* api.c: the task API's dispatch to the backend of this process, cb_abort, and the
 * peak-resource counters. One indirect call per operation: small beside every backend's
 * own cost, and the same for all of them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "task.h"

atomic_int cb_eval_breaker;
static const cb_backend *be;
int cb_status_fd = -1;

static atomic_int threads_now = 1, threads_peak = 1, procs_now = 1, procs_peak = 1;

void cb_backend_use(const cb_backend *b) { be = b; }

static void raise_peak(atomic_int *now, atomic_int *peak, int delta)
{
	int v = atomic_fetch_add(now, delta) + delta;
	int p = atomic_load(peak);
	while (v > p && !atomic_compare_exchange_weak(peak, &p, v))
		;
}
void cb_stat_thread(int delta) { raise_peak(&threads_now, &threads_peak, delta); }
void cb_stat_process(int delta) { raise_peak(&procs_now, &procs_peak, delta); }

void cb_stat_reset(void)
{
	atomic_store(&threads_peak, atomic_load(&threads_now));
	atomic_store(&procs_peak, atomic_load(&procs_now));
}
int cb_stat_threads_peak(void) { return atomic_load(&threads_peak); }
int cb_stat_processes_peak(void) { return atomic_load(&procs_peak); }

void cb_abort(const char *status, const char *fmt, ...)
{
	char line[1024];
	int n = snprintf(line, sizeof line, "ABORT\t%s\t", status);
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	for (int i = 0; i < n; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	line[n++] = '\n';
	/* One write below PIPE_BUF: atomic even when several processes abort at once. */
	if (write(cb_status_fd >= 0 ? cb_status_fd : 2, line, (size_t)n) < 0)
		(void)0;
	_exit(3);
}

cb_task *cb_spawn(cb_fn fn, const void *arg, size_t len)
{
	cb_task *t = be->spawn(fn, arg, len);
	if (!t)
		cb_abort("unsupported", "%s cannot create another task: %s", be->name,
			 strerror(errno));
	return t;
}
uint64_t cb_join(cb_task *t) { return be->join(t); }
void cb_yield(void) { be->yield(); }
void cb_sleep_ns(uint64_t ns) { be->sleep_ns(ns); }
int cb_settle(int64_t max_ns) { return be->settle ? be->settle(max_ns) : -1; }

cb_chan *cb_chan_make(size_t elem, size_t cap)
{
	if (elem == 0 || elem > CB_ELEM_MAX)
		cb_abort("error", "channel element of %zu bytes (1..%d)", elem, CB_ELEM_MAX);
	cb_chan *c = be->chan_make(elem, cap);
	if (!c)
		cb_abort("unsupported", "%s cannot make a channel: %s", be->name, strerror(errno));
	return c;
}
int cb_chan_send(cb_chan *c, const void *elem)
{
	int r = be->chan_send(c, elem);
	if (r == CB_CLOSED)
		cb_abort("error", "send on a closed channel");
	return r;
}
int cb_chan_recv(cb_chan *c, void *elem) { return be->chan_recv(c, elem); }
int cb_chan_try_recv(cb_chan *c, void *elem) { return be->chan_try_recv(c, elem); }
void cb_chan_close(cb_chan *c) { be->chan_close(c); }
void cb_chan_free(cb_chan *c) { be->chan_free(c); }

int cb_open(const char *path, int flags, int mode) { return be->open(path, flags, mode); }
ssize_t cb_read(int fd, void *buf, size_t n) { return be->read(fd, buf, n); }
ssize_t cb_write(int fd, const void *buf, size_t n) { return be->write(fd, buf, n); }
int cb_accept(int fd) { return be->accept(fd); }
int cb_connect(int fd, const struct sockaddr *a, socklen_t l) { return be->connect(fd, a, l); }
int cb_close(int fd) { return be->close(fd); }

void cb_safepoint_slow(void)
{
	if (be->safepoint_slow)
		be->safepoint_slow();
}
void cb_native_begin(void)
{
	if (be->native_begin)
		be->native_begin();
}
void cb_native_end(void)
{
	if (be->native_end)
		be->native_end();
}
