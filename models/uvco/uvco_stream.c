/* uvco_stream.c: sockets and pipes as libuv streams (uv_tcp_open / uv_pipe_open).
 *
 * Streams rather than uv_poll: they are what Node's net.Socket sits on (libuv does the
 * reading into our buffer, uv_try_write then the write queue, uv_listen + uv_accept), and
 * any connected or listening TCP socket, pipe or Unix socket can be wrapped. uv_poll would
 * model a native addon polling an fd, not Node's I/O path.
 *
 * A stream is opened on a dup of the workload's fd: uv_close closes the dup, so an fd the
 * harness made and closes itself is never closed twice. Accepted connections are the one
 * exception: their fd is libuv's own and is handed to the workload.
 *
 * Reading is Node's flowing mode: once a task reads, libuv keeps reading into a per-stream
 * buffer and stops at a high-water mark (backpressure) until tasks drain it; a read returns
 * what is buffered, or parks. A write is tried at once (uv_try_write, which is what Node's
 * socket.write does first); what does not fit is copied and queued with uv_write, and the
 * task waits for its callback (await once(socket, 'drain')). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uvco_int.h"

enum { RBUF = 64 * 1024, HWM = 16 * 1024 };

typedef struct wreq {
	uv_write_t req;
	coop_task *task;
	int status;
	char data[];
} wreq;

typedef struct creq {
	uv_connect_t req;
	coop_task *task;
	int status;
} creq;

void uvco_stream_closed(uv_handle_t *h)
{
	uvco_fd *f = h->data;
	free(f->buf);
	free(f);
}

static int fail(int uverr)
{
	errno = -uverr;
	return -1;
}

/* The stream behind fd, wrapping it on first use. NULL with errno. */
static uvco_fd *stream_get(int fd, int want_file_ok)
{
	uvco_fd *f = uvco_fd_find(fd);
	if (f)
		return f;
	uv_handle_type ty = uv_guess_handle(fd);
	if (ty == UV_FILE && want_file_ok) {
		if (!(f = calloc(1, sizeof *f)) || uvco_fd_set(fd, f) != 0) {
			free(f);
			errno = ENOMEM;
			return NULL;
		}
		f->kind = UVCO_FILE;
		f->fd = fd;
		return f;
	}
	if (ty != UV_TCP && ty != UV_NAMED_PIPE) {
		errno = ty == UV_UNKNOWN_HANDLE ? EBADF : ENOTSUP;
		return NULL;
	}
	if (!(f = calloc(1, sizeof *f)))
		return NULL;
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0) {
		free(f);
		return NULL;
	}
	int r = ty == UV_TCP ? uv_tcp_init(&uvco_g.loop, &f->h.tcp)
			     : uv_pipe_init(&uvco_g.loop, &f->h.pipe, 0);
	if (r != 0) {
		free(f);
		close(d);
		errno = -r;
		return NULL;
	}
	f->h.handle.data = f;
	r = ty == UV_TCP ? uv_tcp_open(&f->h.tcp, d) : uv_pipe_open(&f->h.pipe, d);
	if (r != 0 || uvco_fd_set(fd, f) != 0) {
		uv_close(&f->h.handle, uvco_stream_closed); /* the handle does not own d yet */
		close(d);
		errno = r ? -r : ENOMEM;
		return NULL;
	}
	f->kind = UVCO_STREAM;
	f->fd = fd;
	return f;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	uvco_fd *f = h->data;
	(void)suggested;
	if (!f->buf && !(f->buf = malloc(RBUF))) {
		*b = uv_buf_init(NULL, 0); /* on_read gets UV_ENOBUFS */
		return;
	}
	if (f->head == f->tail) {
		f->head = f->tail = 0;
	} else if (RBUF - f->tail < HWM) {
		memmove(f->buf, f->buf + f->head, f->tail - f->head);
		f->tail -= f->head;
		f->head = 0;
	}
	*b = uv_buf_init(f->buf + f->tail, (unsigned)(RBUF - f->tail));
}

static void read_stop(uvco_fd *f)
{
	uv_read_stop(&f->h.stream);
	f->reading = 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	uvco_fd *f = s->data;
	(void)b;
	if (n > 0) {
		f->tail += (size_t)n;
		if (f->tail - f->head >= HWM)
			read_stop(f);
	} else if (n < 0) {
		if (n == UV_EOF)
			f->eof = 1;
		else
			f->err = (int)n;
		read_stop(f);
	}
	coop_wake_all(&f->readers);
	uvco_settle();
}

static int read_start(uvco_fd *f)
{
	int r = uv_read_start(&f->h.stream, on_alloc, on_read);
	if (r == 0)
		f->reading = 1;
	return r;
}

ssize_t uvco_read(int fd, void *buf, size_t n)
{
	uvco_fd *f = stream_get(fd, 1);
	if (!f)
		return -1;
	if (f->kind == UVCO_FILE)
		return uvco_fs_read(fd, buf, n);
	for (;;) {
		size_t have = f->tail - f->head;
		if (have) {
			size_t m = have < n ? have : n;
			memcpy(buf, f->buf + f->head, m);
			f->head += m;
			int r;
			if (!f->reading && !f->eof && !f->err && have - m < HWM && (r = read_start(f)))
				return fail(r);
			return (ssize_t)m;
		}
		if (n == 0 || f->eof)
			return 0;
		if (f->err)
			return fail(f->err);
		int r;
		if (!f->reading && (r = read_start(f)))
			return fail(r);
		coop_wait(&f->readers);
		if (uvco_fd_find(fd) != f) { /* closed meanwhile */
			errno = EBADF;
			return -1;
		}
	}
}

static void on_write(uv_write_t *req, int status)
{
	wreq *w = req->data;
	w->status = status;
	coop_wake(w->task);
	uvco_settle();
}

ssize_t uvco_write(int fd, const void *buf, size_t n)
{
	uvco_fd *f = stream_get(fd, 1);
	if (!f)
		return -1;
	if (f->kind == UVCO_FILE)
		return uvco_fs_write(fd, buf, n);
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
	int r = uv_try_write(&f->h.stream, &b, 1);
	if (r == (int)n)
		return (ssize_t)n;
	if (r < 0 && r != UV_EAGAIN)
		return fail(r);
	size_t done = r > 0 ? (size_t)r : 0;
	wreq *w = malloc(sizeof *w + (n - done));
	if (!w) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(w->data, (const char *)buf + done, n - done);
	w->task = coop_self();
	w->req.data = w;
	b = uv_buf_init(w->data, (unsigned)(n - done));
	if ((r = uv_write(&w->req, &f->h.stream, &b, 1, on_write)) != 0) {
		free(w);
		return fail(r);
	}
	coop_park();
	int status = w->status;
	free(w);
	return status < 0 ? fail(status) : (ssize_t)n;
}

static void on_connection(uv_stream_t *server, int status)
{
	uvco_fd *f = server->data;
	if (status == 0)
		f->backlog_ready++;
	else
		f->err = status;
	coop_wake_one(&f->acceptors);
	uvco_settle();
}

int uvco_accept(int fd)
{
	uvco_fd *f = stream_get(fd, 0);
	if (!f)
		return -1;
	int r;
	if (!f->listening) {
		if ((r = uv_listen(&f->h.stream, 511, on_connection)) != 0) /* Node's backlog */
			return fail(r);
		f->listening = 1;
	}
	while (f->backlog_ready == 0) {
		if (f->err) {
			int e = f->err;
			f->err = 0;
			return fail(e);
		}
		coop_wait(&f->acceptors);
		if (uvco_fd_find(fd) != f) {
			errno = EBADF;
			return -1;
		}
	}
	f->backlog_ready--;
	uvco_fd *c = calloc(1, sizeof *c);
	if (!c) {
		errno = ENOMEM;
		return -1;
	}
	int tcp = f->h.handle.type == UV_TCP;
	r = tcp ? uv_tcp_init(&uvco_g.loop, &c->h.tcp) : uv_pipe_init(&uvco_g.loop, &c->h.pipe, 0);
	c->h.handle.data = c;
	if (r != 0) {
		free(c);
		return fail(r);
	}
	uv_os_fd_t cfd = -1;
	if ((r = uv_accept(&f->h.stream, &c->h.stream)) != 0 ||
	    (r = uv_fileno(&c->h.handle, &cfd)) != 0 || (r = uvco_fd_set(cfd, c) ? UV_ENOMEM : 0)) {
		uv_close(&c->h.handle, uvco_stream_closed);
		return fail(r);
	}
	c->kind = UVCO_STREAM;
	c->fd = cfd;
	c->own = 1;
	return cfd;
}

static void on_connect(uv_connect_t *req, int status)
{
	creq *c = req->data;
	c->status = status;
	coop_wake(c->task);
	uvco_settle();
}

int uvco_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	(void)len;
	uvco_fd *f = stream_get(fd, 0);
	if (!f)
		return -1;
	if (f->h.handle.type != UV_TCP) {
		errno = EAFNOSUPPORT; /* Unix sockets: libuv connects those by path */
		return -1;
	}
	creq *c = malloc(sizeof *c);
	if (!c) {
		errno = ENOMEM;
		return -1;
	}
	c->task = coop_self();
	c->req.data = c;
	int r = uv_tcp_connect(&c->req, &f->h.tcp, addr, on_connect);
	if (r != 0) {
		free(c);
		return fail(r);
	}
	coop_park();
	r = c->status;
	free(c);
	return r < 0 ? fail(r) : 0;
}

int uvco_close(int fd)
{
	uvco_fd *f = uvco_fd_find(fd);
	if (!f)
		return close(fd);
	uvco_fd_set(fd, NULL);
	if (f->kind == UVCO_FILE) {
		free(f);
		return uvco_fs_close(fd);
	}
	/* tasks still waiting on fd see that it is gone */
	coop_wake_all(&f->readers);
	coop_wake_all(&f->acceptors);
	uv_close(&f->h.handle, uvco_stream_closed); /* closes the handle's fd now */
	return f->own ? 0 : close(fd);
}
