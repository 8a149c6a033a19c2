/* mn_net.c: the netpoller. Sockets and pipes are switched to non-blocking mode the first
 * time a G uses them and registered edge-triggered with one epoll instance. A G whose
 * read/write/accept/connect gets EAGAIN queues itself on the fd's reader or writer list
 * and parks; whichever M polls (an idle M blocking in epoll_wait with the earliest timer
 * as timeout, a scheduler without work, or sysmon every 10 ms) readies it. A sequence
 * number per direction, bumped on every readiness event, closes the window between the
 * EAGAIN and the park. Regular files cannot be polled: their calls go through
 * entersyscall/exitsyscall instead, so a slow disk costs an M, never a P. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mn_impl.h"

enum { FD_UNKNOWN, FD_POLL, FD_FILE };

/* Poll descriptors are type-stable: a closed fd's descriptor goes to a free list, never
 * back to malloc, until the run ends. An epoll event read just before the close may still
 * point to it; at worst it bumps a sequence number and wakes waiters of the fd that reused
 * it, who simply retry their call. */
typedef struct mn_pd {
	int kind;
	int lk;
	_Atomic uint32_t rseq, wseq;
	mn_waitq rq, wq;
	struct mn_pd *all, *free;
} mn_pd;

static int mn_epfd = -1, mn_evfd = -1;
static _Atomic(mn_pd *) *mn_fds;
static int mn_nfds;
static _Atomic int mn_nwaiters;
static int mn_fdlk;             /* the table, the free list and the list of all pds */
static mn_pd *mn_pd_all, *mn_pd_free;

int mn__netpoll_init(void)
{
	struct rlimit rl;
	mn_nfds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 20) ? (int)rl.rlim_cur
									      : (1 << 20);
	mn_fds = calloc((size_t)mn_nfds, sizeof *mn_fds);
	mn_epfd = epoll_create1(EPOLL_CLOEXEC);
	mn_evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!mn_fds || mn_epfd < 0 || mn_evfd < 0)
		return -1;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	return epoll_ctl(mn_epfd, EPOLL_CTL_ADD, mn_evfd, &ev);
}

void mn__netpoll_close(void)
{
	for (mn_pd *pd = mn_pd_all, *n; pd; pd = n) {
		n = pd->all;
		free(pd);
	}
	mn_pd_all = mn_pd_free = NULL;
	free(mn_fds);
	mn_fds = NULL;
	if (mn_epfd >= 0)
		close(mn_epfd);
	if (mn_evfd >= 0)
		close(mn_evfd);
	mn_epfd = mn_evfd = -1;
	atomic_store(&mn_nwaiters, 0);
}

void mn__netpoll_break(void)
{
	uint64_t one = 1;
	if (mn_evfd >= 0 && write(mn_evfd, &one, sizeof one) < 0) {
		/* EAGAIN: already pending, which is all we want */
	}
}

int mn__netpoll_waiters(void)
{
	return atomic_load_explicit(&mn_nwaiters, memory_order_relaxed);
}

static void mn_pd_wake(mn_waitq *q, mn_g **list)
{
	mn_sudog *s;
	while ((s = mn__wq_pop(q))) {
		s->g->link = *list;
		*list = s->g;
		atomic_fetch_sub(&mn_nwaiters, 1);
	}
}

/* epoll_wait with a timeout in nanoseconds: epoll_pwait2 (Linux 5.11) where the kernel has
 * it, else epoll_wait's milliseconds rounded up, which wakes timers up to 1 ms late. */
static int mn_epoll_wait_ns(struct epoll_event *evs, int max, int64_t timeout_ns)
{
#ifdef SYS_epoll_pwait2
	static _Atomic int no_pwait2;
	if (timeout_ns >= 0 && !atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
		struct timespec ts = {timeout_ns / 1000000000, timeout_ns % 1000000000};
		long n = syscall(SYS_epoll_pwait2, mn_epfd, evs, max, &ts, NULL, (size_t)0);
		if (n >= 0 || errno != ENOSYS)
			return (int)n;
		atomic_store(&no_pwait2, 1);
	}
#endif
	int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
	return epoll_wait(mn_epfd, evs, max, ms);
}

mn_g *mn__netpoll(int64_t timeout_ns)
{
	struct epoll_event evs[128];
	int n = mn_epoll_wait_ns(evs, 128, timeout_ns);
	atomic_store(&mn_sched.last_poll, mn__now());
	mn_g *list = NULL;
	for (int i = 0; i < n; i++) {
		mn_pd *pd = evs[i].data.ptr;
		if (!pd) {
			/* a break: only a blocking poll drains it (as Go's netpoll does). A poll
			 * that does not block (sysmon's, a scheduler's look) taking it would leave
			 * the blocking poller asleep past the deadline or the stop it was for. */
			uint64_t v;
			if (timeout_ns != 0 && read(mn_evfd, &v, sizeof v) < 0) {
				/* raced with another reader: nothing left to drain */
			}
			continue;
		}
		/* the registration's release in mn_pd_get: the wait may be epoll_pwait2 by
		 * syscall(), which ThreadSanitizer does not intercept, so it never sees that the
		 * kernel orders the epoll_ctl that stored pd before the wait that returned it */
		MN_TSAN_ACQUIRE(pd);
		uint32_t e = evs[i].events;
		mn__lock(&pd->lk);
		if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			atomic_fetch_add(&pd->rseq, 1);
			mn_pd_wake(&pd->rq, &list);
		}
		if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
			atomic_fetch_add(&pd->wseq, 1);
			mn_pd_wake(&pd->wq, &list);
		}
		mn__unlock(&pd->lk);
	}
	return list;
}

/* The poll descriptor of fd, classifying and registering it on first use. */
static mn_pd *mn_pd_get(int fd)
{
	if (fd < 0 || fd >= mn_nfds)
		return NULL;
	mn_pd *pd = atomic_load_explicit(&mn_fds[fd], memory_order_acquire);
	if (pd)
		return pd;
	mn__lock(&mn_fdlk);
	if ((pd = mn_pd_free))
		mn_pd_free = pd->free;
	mn__unlock(&mn_fdlk);
	if (!pd) {
		pd = calloc(1, sizeof *pd);
		if (!pd)
			return NULL;
		mn__lock(&mn_fdlk);
		pd->all = mn_pd_all;
		mn_pd_all = pd;
		mn__unlock(&mn_fdlk);
	}
	struct stat st;
	pd->kind = FD_FILE;
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) &&
	    !S_ISDIR(st.st_mode)) {
		int fl = fcntl(fd, F_GETFL);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
					 .data.ptr = pd};
		MN_TSAN_RELEASE(pd); /* pd goes to whichever thread polls (mn__netpoll) */
		if (fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
		    epoll_ctl(mn_epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
			pd->kind = FD_POLL;
		else if (fl >= 0)
			fcntl(fd, F_SETFL, fl); /* not pollable (e.g. /dev/null): a file */
	}
	mn__lock(&mn_fdlk);
	mn_pd *old = atomic_load(&mn_fds[fd]);
	if (old) { /* another G registered it first */
		pd->free = mn_pd_free;
		mn_pd_free = pd;
		mn__unlock(&mn_fdlk);
		return old;
	}
	atomic_store_explicit(&mn_fds[fd], pd, memory_order_release);
	mn__unlock(&mn_fdlk);
	return pd;
}

/* Park until the direction's sequence number moves past seq. */
static void mn_pd_wait(mn_pd *pd, int write, uint32_t seq)
{
	mn_g *self = mn__getg();
	mn__lock(&pd->lk);
	if (atomic_load(write ? &pd->wseq : &pd->rseq) != seq) {
		mn__unlock(&pd->lk); /* became ready since the EAGAIN */
		return;
	}
	mn_sudog *sd = mn__sudog_get(self);
	sd->g = self;
	mn__wq_push(write ? &pd->wq : &pd->rq, sd);
	atomic_fetch_add(&mn_nwaiters, 1);
	mn__park(self, mn__unlock_hook, &pd->lk);
	mn__sudog_put(self, sd);
}

int mn_open(const char *path, int flags, int mode)
{
	mn_g *self = mn__getg();
	mn__enter(self);
	mn_entersyscall();
	int fd = open(path, flags | O_CLOEXEC, mode);
	int e = *mn__errno();
	mn_exitsyscall();
	*mn__errno() = e;
	mn__leave(self);
	return fd;
}

/* One I/O call, parked on the netpoller on EAGAIN, or run as a blocking syscall. errno is
 * read and written through mn__errno: the G may come back on another thread. */
#define MN_IO(fd, write, call)                                                             \
	do {                                                                               \
		mn_g *self_ = mn__getg();                                                  \
		mn__enter(self_);                                                          \
		mn_pd *pd_ = mn_pd_get(fd);                                                \
		if (!pd_ || pd_->kind == FD_FILE) {                                        \
			mn_entersyscall();                                                 \
			ssize_t r_ = (call);                                               \
			int e_ = *mn__errno();                                             \
			mn_exitsyscall();                                                  \
			*mn__errno() = e_;                                                 \
			mn__leave(self_);                                                  \
			return r_;                                                         \
		}                                                                          \
		for (;;) {                                                                 \
			uint32_t seq_ = atomic_load((write) ? &pd_->wseq : &pd_->rseq);   \
			ssize_t r_ = (call);                                               \
			int e_ = *mn__errno();                                             \
			if (r_ >= 0 || (e_ != EAGAIN && e_ != EWOULDBLOCK)) {              \
				*mn__errno() = e_;                                         \
				mn__leave(self_);                                          \
				return r_;                                                 \
			}                                                                  \
			mn_pd_wait(pd_, (write), seq_);                                    \
		}                                                                          \
	} while (0)

ssize_t mn_read(int fd, void *buf, size_t n)
{
	MN_IO(fd, 0, read(fd, buf, n));
}

ssize_t mn_write(int fd, const void *buf, size_t n)
{
	MN_IO(fd, 1, write(fd, buf, n));
}

int mn_accept(int fd)
{
	MN_IO(fd, 0, accept4(fd, NULL, NULL, SOCK_CLOEXEC));
}

int mn_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	mn_g *self = mn__getg();
	mn__enter(self);
	mn_pd *pd = mn_pd_get(fd);
	uint32_t seq = pd ? atomic_load(&pd->wseq) : 0;
	int r = connect(fd, addr, len);
	int e = *mn__errno();
	if (r == 0 || e != EINPROGRESS || !pd || pd->kind != FD_POLL) {
		*mn__errno() = e;
		mn__leave(self);
		return r;
	}
	for (;;) {
		mn_pd_wait(pd, 1, seq);
		seq = atomic_load(&pd->wseq);
		int err = 0;
		socklen_t sl = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
			err = *mn__errno();
		struct sockaddr_storage peer;
		socklen_t pl = sizeof peer;
		if (!err && getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 &&
		    *mn__errno() == ENOTCONN)
			continue; /* an early event (registration), not the connect's */
		if (err != EINPROGRESS && err != EALREADY) {
			*mn__errno() = err;
			mn__leave(self);
			return err ? -1 : 0;
		}
	}
}

int mn_close(int fd)
{
	mn_g *self = mn__getg();
	mn__enter(self);
	if (fd >= 0 && fd < mn_nfds) {
		mn__lock(&mn_fdlk);
		mn_pd *pd = atomic_exchange(&mn_fds[fd], NULL);
		mn__unlock(&mn_fdlk);
		if (pd && pd->kind == FD_POLL)
			epoll_ctl(mn_epfd, EPOLL_CTL_DEL, fd, NULL);
		if (pd) {
			/* closing an fd another G waits on is a workload bug, as in Go */
			mn__lock(&mn_fdlk);
			pd->free = mn_pd_free;
			mn_pd_free = pd;
			mn__unlock(&mn_fdlk);
		}
	}
	int r = close(fd);
	mn__leave(self);
	return r; /* no switch since close: errno is this thread's */
}
