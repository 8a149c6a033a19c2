/* aloop_io.c: awaiting file descriptors, asyncio's sock_recv / sock_sendall / sock_accept /
 * sock_connect: try the system call first; if it would block, park the task until epoll
 * says the fd is ready, then try again.
 *
 * asyncio adds and removes a selector reader around every wait (level-triggered). We register
 * each fd once, edge-triggered for both directions, and keep who waits in a table indexed by
 * fd: the same wake-ups with one epoll_ctl per fd instead of two per wait. Edges are never
 * lost: a task parks only after the call returned EAGAIN, and nothing else reads the events
 * between that call and the park (one thread).
 *
 * A read that returns less than asked has drained the socket, so the next one parks at once
 * instead of making a system call that would fail with EAGAIN: this is asyncio's transport
 * path (a stream reads on readiness callbacks only), not sock_recv's try-first one. Data
 * that arrives after that short read is a new edge, which the next epoll_wait reports.
 * A hang-up or an error is not: once the peer has closed, its EPOLLHUP / EPOLLRDHUP edge
 * has been delivered (often in the same event as the last data) and none comes again. So
 * the fd remembers it (hup, until the fd is closed) and a short read after it does not
 * make the next one park: that one makes the call, which returns the rest, then 0 (EOF) or
 * the error. (EAGAIN still parks: the kernel says the end is not reached, and whatever
 * changes that is a new edge.) Regular files cannot be polled (epoll_ctl
 * says EPERM): their reads and writes go to the executor (aloop_pool.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "aloop_int.h"

static aloop_fd *fd_slot(aloop *l, int fd)
{
	if ((size_t)fd >= l->nfds) {
		size_t n = l->nfds ? l->nfds : 64;
		while (n <= (size_t)fd)
			n *= 2;
		aloop_fd *t = realloc(l->fds, n * sizeof *t);
		if (!t)
			return NULL;
		memset(t + l->nfds, 0, (n - l->nfds) * sizeof *t);
		l->fds = t;
		l->nfds = n;
	}
	return &l->fds[fd];
}

/* Classify fd on first use: registered in epoll and non-blocking, or a regular file. */
static aloop_fd *fd_get(aloop *l, int fd)
{
	if (fd < 0) {
		errno = EBADF;
		return NULL;
	}
	aloop_fd *f = fd_slot(l, fd);
	if (!f || f->kind != ALOOP_FD_UNKNOWN)
		return f;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = fd};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 || errno == EEXIST) {
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
			return NULL;
		f->kind = ALOOP_FD_POLL;
		f->readable = 1;
		f->hup = 0;
	} else if (errno == EPERM) {
		f->kind = ALOOP_FD_FILE;
	} else {
		return NULL;
	}
	return f;
}

void aloop_io_ready(aloop *l, int fd, uint32_t events)
{
	if ((size_t)fd >= l->nfds)
		return;
	aloop_fd *f = &l->fds[fd];
	uint32_t bad = EPOLLERR | EPOLLHUP;
	/* everyone retries: with edge triggering, a task left waiting might never be told */
	if (events & (EPOLLRDHUP | bad))
		f->hup = 1;
	if (events & (EPOLLIN | EPOLLRDHUP | bad)) {
		f->readable = 1;
		l->io_waiting -= coop_wake_all(&f->readers);
	}
	if (events & (EPOLLOUT | bad))
		l->io_waiting -= coop_wake_all(&f->writers);
}

static void await_fd(aloop *l, aloop_fd *f, int write)
{
	l->io_waiting++;
	coop_wait(write ? &f->writers : &f->readers);
}

ssize_t aloop_read(int fd, void *buf, size_t n)
{
	aloop *l = &aloop_g;
	aloop_fd *f = fd_get(l, fd);
	if (!f)
		return -1;
	if (f->kind == ALOOP_FD_FILE)
		return aloop_pool_read(fd, buf, n);
	for (;;) {
		if (!f->readable) {
			await_fd(l, f, 0);
			f = &l->fds[fd]; /* the table may have moved while we were parked */
			if (f->kind != ALOOP_FD_POLL) { /* closed meanwhile */
				errno = EBADF;
				return -1;
			}
			continue;
		}
		ssize_t r = read(fd, buf, n);
		if (r > 0 && (size_t)r < n && !f->hup)
			f->readable = 0;
		if (r >= 0) /* EOF (0) stays readable: no event would come again */
			return r;
		if (errno == EAGAIN)
			f->readable = 0;
		else if (errno != EINTR)
			return -1;
	}
}

ssize_t aloop_write(int fd, const void *buf, size_t n)
{
	aloop *l = &aloop_g;
	aloop_fd *f = fd_get(l, fd);
	if (!f)
		return -1;
	if (f->kind == ALOOP_FD_FILE)
		return aloop_pool_write(fd, buf, n);
	size_t done = 0;
	while (done < n) {
		ssize_t r = write(fd, (const char *)buf + done, n - done);
		if (r >= 0)
			done += (size_t)r;
		else if (errno == EAGAIN)
			await_fd(l, f, 1);
		else if (errno != EINTR)
			return -1;
		f = &l->fds[fd];
	}
	return (ssize_t)n;
}

int aloop_accept(int fd)
{
	aloop *l = &aloop_g;
	aloop_fd *f = fd_get(l, fd);
	if (!f)
		return -1;
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c >= 0)
			return c;
		if (errno == EAGAIN)
			await_fd(l, f, 0);
		else if (errno != EINTR && errno != ECONNABORTED)
			return -1;
		f = &l->fds[fd];
	}
}

int aloop_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	aloop *l = &aloop_g;
	aloop_fd *f = fd_get(l, fd);
	if (!f)
		return -1;
	if (connect(fd, addr, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	await_fd(l, f, 1);
	int err = 0;
	socklen_t el = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		return -1;
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

int aloop_open(const char *path, int flags, int mode)
{
	return aloop_pool_open(path, flags, mode);
}

int aloop_close(int fd)
{
	aloop *l = &aloop_g;
	if (fd >= 0 && (size_t)fd < l->nfds) {
		aloop_fd *f = &l->fds[fd];
		if (f->kind == ALOOP_FD_POLL)
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		/* whoever still waits on fd wakes up and gets EBADF from its retry */
		aloop_io_ready(l, fd, EPOLLERR);
		f->kind = ALOOP_FD_UNKNOWN;
	}
	return close(fd);
}

void aloop_io_fini(aloop *l)
{
	free(l->fds);
	l->fds = NULL;
	l->nfds = 0;
}
