/* mn_restart.c: the sleeps and waits a G calls directly (not through mn), restarted when a
 * preemption signal has cut them short.
 *
 * sysmon does not signal the thread of a G blocked in the kernel (mn_sysmon.c), but its look
 * at the thread's state and its signal are two steps: a G that enters a sleep between them
 * (sysmon descheduled in between, on a loaded box, for milliseconds), or a thread just woken
 * inside its call (it reads as running), still takes the signal, and nanosleep, poll,
 * epoll_wait and select fail with EINTR even under SA_RESTART. So the executable defines
 * them: called from a G outside the runtime, the call runs inside the runtime (in_rt raised:
 * no preemption can switch or migrate the G meanwhile) and, when it fails with EINTR while a
 * SIGURG reached this M during it, goes on for the time left. Any other caller, and an EINTR
 * from any other signal, gets libc's behaviour untouched. The real functions are the next
 * definitions after the executable's (dlsym RTLD_NEXT: libc, or a sanitizer's interceptor). */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "mn_impl.h"

mn_m *mn__getm(void);

/* real_: the next definition of name, looked up once. Threads that are not Gs (the threads
 * and gil backends sleep through these too) race on the first look-up: the cached pointer is
 * atomic (relaxed: every thread stores the same value, and nothing else is published). */
#define MN_REAL(name) \
	static _Atomic(__typeof__(name) *) real_cached_; \
	__typeof__(name) *real_ = atomic_load_explicit(&real_cached_, memory_order_relaxed); \
	if (!real_) \
		atomic_store_explicit(&real_cached_, \
				      real_ = (__typeof__(name) *)dlsym(RTLD_NEXT, #name), \
				      memory_order_relaxed)

/* The running G if it may be restarted (a G outside the runtime), else NULL. */
static mn_g *mn_restartable(void)
{
	mn_g *g = mn__getg();
	return g && !g->in_rt ? g : NULL;
}

/* Did a SIGURG reach g's M since *seen, and the call fail with EINTR? Updates *seen. */
static int mn_cut_short(mn_g *g, int failed_eintr, unsigned *seen)
{
	unsigned now = g->m->sigurgs;
	int cut = failed_eintr && now != *seen;
	*seen = now;
	return cut;
}

static int64_t mn_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req, struct timespec *rem)
{
	MN_REAL(clock_nanosleep);
	mn_g *g = mn_restartable();
	if (!g)
		return real_(clk, flags, req, rem);
	mn__enter(g);
	struct timespec left = *req, after;
	unsigned seen = g->m->sigurgs;
	int r;
	while ((r = real_(clk, flags, &left, &after)) == EINTR && mn_cut_short(g, 1, &seen))
		if (!(flags & TIMER_ABSTIME))
			left = after;
	if (r == EINTR && rem && !(flags & TIMER_ABSTIME))
		*rem = after;
	mn__leave(g);
	return r;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	MN_REAL(nanosleep);
	if (!mn_restartable())
		return real_(req, rem);
	int r = clock_nanosleep(CLOCK_REALTIME, 0, req, rem); /* what nanosleep measures */
	if (r) {
		*mn__errno() = r;
		return -1;
	}
	return 0;
}

int usleep(useconds_t us)
{
	MN_REAL(usleep);
	if (!mn_restartable())
		return real_(us);
	struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
	return nanosleep(&ts, NULL);
}

unsigned sleep(unsigned s)
{
	MN_REAL(sleep);
	if (!mn_restartable())
		return real_(s);
	struct timespec ts = {(time_t)s, 0}, rem = {0, 0};
	if (nanosleep(&ts, &rem) == 0)
		return 0;
	return (unsigned)rem.tv_sec + (rem.tv_nsec > 0);
}

/* The calls that wait with a timeout in milliseconds: restarted with what is left. */
static int mn_ms_left(int timeout_ms, int64_t deadline)
{
	if (timeout_ms < 0)
		return -1;
	int64_t left = deadline - mn_mono_ns();
	return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	MN_REAL(poll);
	mn_g *g = mn_restartable();
	if (!g)
		return real_(fds, n, timeout_ms);
	mn__enter(g);
	int64_t deadline = mn_mono_ns() + (int64_t)timeout_ms * 1000000;
	unsigned seen = g->m->sigurgs;
	int r, t = timeout_ms;
	while ((r = real_(fds, n, t)) < 0 && mn_cut_short(g, *mn__errno() == EINTR, &seen))
		t = mn_ms_left(timeout_ms, deadline);
	mn__leave(g);
	return r;
}

int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout_ms)
{
	MN_REAL(epoll_wait);
	mn_g *g = mn_restartable();
	if (!g)
		return real_(epfd, evs, max, timeout_ms);
	mn__enter(g);
	int64_t deadline = mn_mono_ns() + (int64_t)timeout_ms * 1000000;
	unsigned seen = g->m->sigurgs;
	int r, t = timeout_ms;
	while ((r = real_(epfd, evs, max, t)) < 0 && mn_cut_short(g, *mn__errno() == EINTR, &seen))
		t = mn_ms_left(timeout_ms, deadline);
	mn__leave(g);
	return r;
}

/* select: Linux leaves the sets as they were on EINTR and the timeout at what is left. */
int select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *timeout)
{
	MN_REAL(select);
	mn_g *g = mn_restartable();
	if (!g)
		return real_(nfds, rd, wr, ex, timeout);
	mn__enter(g);
	unsigned seen = g->m->sigurgs;
	int r;
	while ((r = real_(nfds, rd, wr, ex, timeout)) < 0 &&
	       mn_cut_short(g, *mn__errno() == EINTR, &seen))
		;
	mn__leave(g);
	return r;
}
