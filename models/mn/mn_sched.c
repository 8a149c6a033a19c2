/* mn_sched.c: the scheduler of mn, a Go-style M:N runtime.
 *
 * Files, one concern each (as Go's runtime splits proc.go from stack.go, preempt.go, time.go):
 *   mn_sched.c    Ps and Ms, switching, system calls, finding work, a run (this file)
 *   mn_runq.c     the run queues: per-P rings with runnext, the global queue
 *   mn_stack.c    G stacks and G descriptors: caches, slabs, guards, what a run keeps;
 *                 sudogs (wait records)
 *   mn_shrink.c   giving back the stack pages of Gs parked long (Go's stack shrinking)
 *   mn_preempt.c  async preemption (SIGURG) and why it is safe
 *   mn_sysmon.c   sysmon: retaking Ps from syscalls, asking for preemption, polling
 *   mn_time.c     sleeping Gs (per-P timer heaps);  mn_net.c  the netpoller
 *   mn_chan.c, mn_sync.c  channels, mutex and wait group;  mn_restart.c  EINTR restarts
 *   mn_impl.h     the structures and internals these share
 *
 * Glossary
 *   G  a task: a stackful coroutine with a small by-value argument and a 64-bit result.
 *   M  an OS thread. Each M has a "g0": its own thread stack, which runs the scheduler.
 *   P  a processor: the right to run Gs, with a local run queue and caches. There are
 *      exactly `procs` Ps; an M runs Gs only while it holds a P.
 *
 * The problem. Millions of tasks must be cheap to create and switch, use every core, and
 * never stall because one of them blocks the thread under it (a system call, a read on a
 * pipe, a sleep) or hogs the CPU.
 *
 * Rejected designs.
 *   - One OS thread per task: creation costs microseconds and megabytes, switches go
 *     through the kernel. That is the `threads` backend.
 *   - N:1 (one thread, an event loop): no parallelism. That is `aloop`.
 *   - M:N with one global run queue under a lock: every spawn, wakeup and switch contends
 *     on that lock (Go before 1.1).
 *   - Ms without Ps (queues per thread): an M blocked in a system call would strand its
 *     queue, and the number of Ms could not exceed the parallelism without losing
 *     locality. Ps are the unit of parallelism; Ms come and go around blocking calls.
 *
 * The chosen design is Go's (runtime/proc.go), scaled down:
 *   - Each P has a bounded ring of runnable Gs (256) that only its owner pushes to and
 *     that thieves take half of with one CAS on its head; plus a runnext slot holding the
 *     G most recently spawned or woken by the running G, so a send/receive pair or a
 *     spawn/join pair hands off without going through the ring. A full ring spills half
 *     to a global queue (mutex), which every P also checks every 61 schedule ticks so a
 *     busy P cannot starve it.
 *   - An M out of work looks at: its timers, runnext and ring, the global queue, the
 *     netpoller (without blocking), then steals from the Ps in random order. At most half
 *     the busy Ps' worth of Ms spin like this at once, and a spinner watches the queues
 *     for ~20 us more while other Ps are busy. An M that finds nothing gives its P
 *     back to the idle list and either blocks in epoll (one M at a time, with a timeout
 *     set to the earliest timer) or sleeps on a futex until startm hands it a P. Whenever
 *     work is queued while Ps are idle and nobody spins, wakep starts one spinning M.
 *   - Switches are direct: a G that parks switches straight to the next runnable G of
 *     its P when there is one, and to g0 otherwise. The parked G is published (put on a
 *     wait list, its channel unlocked...) by a hook that runs on the next context, after
 *     the switch has saved its registers, so no other M can resume it half-saved.
 *   - Stacks are mmap'd 64 at a time with a guard page each (a guard region that costs no
 *     VMA where the kernel has them), committed lazily by the kernel except their top page,
 *     faulted in for the whole batch by one call, and cached per P (and globally beyond 64
 *     per P); a G gets its stack when it first runs, so Gs that are only queued cost their
 *     192-byte descriptor (three cache lines). Gs are recycled the same way. A run hands
 *     its stacks (their touched pages still resident) and G blocks to the next run in the
 *     process, as a Go process keeps its stack pools: without that, 100k sleepers paid a
 *     freshly committed page each, every repetition (half the CPU time of io.sleep).
 *     mn_config.cold and mn_release give them back.
   - A G parked longer than shrink_ns (1 s) has its stack shrunk by sysmon: its live
     bytes copied aside, its pages given back, the bytes put back at the same addresses
     before it runs again (mn_shrink.c). So nothing another thread touches may live on a
     G's stack while it is parked: wait records (sudogs) come from per-M/per-P caches, and
     a waker that copies a channel element into a parked G claims the G first.
     Why 1 s and not sooner: a shrink costs a copy out, a page release (a TLB shootdown
     across the Ms) and, at the wake, a page fault and a copy back. Go shrinks stacks at a
     garbage collection, not soon after a park; at 10 ms every one of 100k sleepers of
     100 ms paid all of that (io.sleep 313 ms a repetition against 217 ms unshrunk, 2-4x
     the system time, on the 2-vCPU box), where only a long idle task gains from it.
 *   - A scheduler taking a G from a long ring prefetches the top of the next G's stack
 *     (and the descriptor of the one after): with 100k runnable Gs each first touch of a
 *     stack is a cache and TLB miss. Timer heaps are 4-ary, as Go's are, so a pop sifts
 *     through half the levels, each level's four children in one cache line.
 *   - Blocking system calls are bracketed by entersyscall/exitsyscall: the P is marked
 *     as in a syscall, and sysmon, a thread of its own, hands it to another M if the call
 *     lasts more than ~20 us. exitsyscall gets the P back if nobody took it, else any idle
 *     P, else queues the G globally and parks the M.
 *   - sysmon also preempts a G that has run 10 ms (the P's schedule tick has not moved)
 *     by sending its M a SIGURG, and one that has run 1 ms while a timer of its P is
 *     overdue (Go would let the sleeper wait out the 10 ms); polls the network when nobody
 *     has for 10 ms; starts an M when timers are overdue or queues are not empty while Ps
 *     sit idle; and sleeps for good while every P is idle.
 *   - A G blocked in a system call it made directly, without entersyscall (usleep, poll, a
 *     blocking read of its own), is left alone: the signal would end the call with EINTR
 *     (sleeps, poll, epoll_wait and select are never restarted), so sysmon first reads its
 *     thread's state from /proc and signals only a thread that is running. The look and
 *     the signal are not atomic, so those calls are also defined by mn (mn_restart.c) and
 *     restarted for the time left when a SIGURG cut them short. Such a G keeps its P for
 *     the length of the call, as a cgo call without entersyscall would in Go.
 *
 * When the SIGURG handler may switch a G away, and what workload code must therefore not
 * do, is the design comment of mn_preempt.c ("Async preemption safety").
 *
 * Invariants.
 *   - A G is on at most one of: a run queue, runnext, the global queue, a wait list, an
 *     M (running). Whoever moves it from a wait list to a queue owns that transition
 *     under the wait list's lock.
 *   - A parked G's context is saved before anything that can resume it becomes visible
 *     (the post-switch hook).
 *   - Only a P's owner writes its ring tail, runnext (thieves CAS it to NULL), caches
 *     and live count; thieves CAS the head.
 *   - The run ends when the root G has ended and every P is idle with the sum of the Ps'
 *     live counts at zero (computed under the scheduler lock, where it is exact).
 *   - Teardown joins every M and sysmon and closes the epoll fd; every stack and G is
 *     free then, and is either kept for the next run or unmapped/freed (mn_release).
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mn_impl.h"

struct mn_sched mn_sched;

#define MN_M_STACK (256 * 1024) /* an M thread's own stack (g0): the scheduler, hooks */
#define MN_GQ_TICKS 61          /* a P takes from the global queue first every 61 ticks */
#define MN_INJECT_CHUNK 64      /* Gs put on the global queue per lock from outside a P */
#define MN_GID_BATCH 1024       /* G ids a P takes from the global counter at a time */
#define MN_YIELD_POLL 64        /* yields with nothing else to run between looks at timers */
#define MN_SPIN_NS 20000        /* a spinning M watches the queues this long before idling */
#define MN_LOCK_SPINS 64        /* pause spins before a contended spinlock yields the CPU */

/* ---- small helpers ------------------------------------------------------------------- */

int64_t mn__now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void mn__lock_slow(int *lk)
{
	for (int spins = 0;; spins++) {
		if (!__atomic_load_n(lk, __ATOMIC_RELAXED) &&
		    !__atomic_exchange_n(lk, 1, __ATOMIC_ACQUIRE))
			return;
		if (spins < MN_LOCK_SPINS)
			mn__cpu_relax();
		else
			sched_yield(); /* the holder's thread was descheduled */
	}
}

void mn__unlock_hook(mn_g *prev, void *lk)
{
	mn__parked(prev);
	mn__unlock(lk);
}

void mn__futex_wait(_Atomic int *w, int val, int64_t timeout_ns)
{
	struct timespec ts, *tp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tp = &ts;
	}
	syscall(SYS_futex, (int *)w, FUTEX_WAIT_PRIVATE, val, tp, NULL, 0);
}

void mn__futex_wake(_Atomic int *w)
{
	syscall(SYS_futex, (int *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static uint32_t mn_rand(mn_m *m)
{
	m->rnd ^= m->rnd << 13;
	m->rnd ^= m->rnd >> 7;
	m->rnd ^= m->rnd << 17;
	return (uint32_t)(m->rnd >> 32);
}

uint32_t mn__fastrand(void)
{
	return mn_rand(mn__getm());
}

_Noreturn void mn__fatal(const char *msg)
{
	if (mn_sched.cfg.on_exhausted)
		mn_sched.cfg.on_exhausted(msg);
	fprintf(stderr, "mn: fatal: %s\n", msg);
	abort();
}

/* ---- Ps and Ms ----------------------------------------------------------------------- */

static void mn_pidle_put(mn_p *p) /* sched.lk held */
{
	atomic_store(&p->status, P_IDLE);
	atomic_store(&p->m, NULL);
	p->link = mn_sched.pidle;
	mn_sched.pidle = p;
	atomic_fetch_add(&mn_sched.npidle, 1);
}

static mn_p *mn_pidle_get(void) /* sched.lk held */
{
	mn_p *p = mn_sched.pidle;
	if (p) {
		mn_sched.pidle = p->link;
		atomic_fetch_sub(&mn_sched.npidle, 1);
	}
	return p;
}

static void mn_acquirep(mn_m *m, mn_p *p)
{
	m->p = p;
	atomic_store(&p->m, m);
	atomic_store(&p->status, P_RUNNING);
	if (atomic_load_explicit(&mn__sysmon_asleep, memory_order_relaxed))
		mn__sysmon_wake();
}

static void *mn_m_thread(void *arg);

static void mn_m_signals(mn_m *m)
{
	stack_t ss = {.ss_sp = m->altstack, .ss_size = MN_ALTSTACK};
	sigaltstack(&ss, NULL);
}

static mn_m *mn_newm(void) /* sched.lk held */
{
	mn_m *m = calloc(1, sizeof *m);
	if (!m)
		mn__fatal("out of memory for an M");
	m->id = mn_sched.mcount++;
	m->rnd = 0x9e3779b97f4a7c15ull * (uint64_t)(m->id + 1);
	m->statfd = -1;
	m->altstack = mmap(NULL, MN_ALTSTACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
	if (m->altstack == MAP_FAILED)
		mn__fatal("no memory for a signal stack");
	m->alllink = mn_sched.allm;
	mn_sched.allm = m;
	return m;
}

/* Give p (or an idle P) to an idle or new M. */
static void mn_startm(mn_p *p, int spinning)
{
	mn__lock(&mn_sched.lk);
	if (atomic_load(&mn_sched.stopping)) {
		if (p)
			mn_pidle_put(p);
		mn__unlock(&mn_sched.lk);
		if (spinning)
			atomic_fetch_sub(&mn_sched.nmspinning, 1);
		return;
	}
	if (!p) {
		p = mn_pidle_get();
		if (!p) {
			mn__unlock(&mn_sched.lk);
			if (spinning)
				atomic_fetch_sub(&mn_sched.nmspinning, 1);
			return;
		}
	}
	mn_m *m = mn_sched.midle;
	if (m) {
		mn_sched.midle = m->link;
		mn_sched.nmidle--;
		m->nextp = p;
		m->spinning = spinning;
		mn__unlock(&mn_sched.lk);
		atomic_store(&m->park, 1);
		mn__futex_wake(&m->park);
		return;
	}
	/* A new M. Created under the lock (rare: Ms are reused) so that teardown, which
	 * takes the lock to stop, sees every M that will ever exist. */
	m = mn_newm();
	m->nextp = p;
	m->spinning = spinning;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, MN_M_STACK);
	if (pthread_create(&m->thread, &at, mn_m_thread, m) != 0)
		mn__fatal("cannot create an M thread");
	pthread_attr_destroy(&at);
	m->has_thread = 1;
	mn__unlock(&mn_sched.lk);
	if (mn_sched.cfg.on_thread)
		mn_sched.cfg.on_thread(+1);
}

/* Start a spinning M if there are idle Ps and nobody is already looking for work. */
void mn__wakep(void)
{
	if (!atomic_load_explicit(&mn_sched.npidle, memory_order_relaxed))
		return;
	int z = 0;
	if (atomic_load_explicit(&mn_sched.nmspinning, memory_order_relaxed) ||
	    !atomic_compare_exchange_strong(&mn_sched.nmspinning, &z, 1))
		return;
	mn_startm(NULL, 1);
}

/* Park the M until startm hands it a P (or the run stops). */
static void mn_stopm(mn_m *m)
{
	mn__lock(&mn_sched.lk);
	if (atomic_load(&mn_sched.stopping)) {
		mn__unlock(&mn_sched.lk);
		return;
	}
	atomic_store(&m->park, 0);
	m->link = mn_sched.midle;
	mn_sched.midle = m;
	mn_sched.nmidle++;
	mn__unlock(&mn_sched.lk);
	while (!atomic_load(&m->park))
		mn__futex_wait(&m->park, 0, -1);
	if (m->nextp) {
		mn_acquirep(m, m->nextp);
		m->nextp = NULL;
	}
}

/* A P left by a syscall (sysmon) goes to an M if there is work for it, else idles. */
void mn__handoffp(mn_p *p)
{
	if (!mn__runq_empty(p) || atomic_load(&mn_sched.gq_n)) {
		mn_startm(p, 0);
		return;
	}
	int z = 0;
	if (!atomic_load(&mn_sched.nmspinning) && !atomic_load(&mn_sched.npidle) &&
	    atomic_compare_exchange_strong(&mn_sched.nmspinning, &z, 1)) {
		mn_startm(p, 1); /* no one else is looking for work: this one will */
		return;
	}
	mn__lock(&mn_sched.lk);
	mn_pidle_put(p);
	mn__unlock(&mn_sched.lk);
	if (atomic_load(&p->tnext) < atomic_load(&mn_sched.poll_until))
		mn__netpoll_break(); /* its timers now wait on the poller */
}

/* ---- switching ------------------------------------------------------------------------ */

static inline void mn_run_hook(mn_m *m)
{
	mn_hook h = m->hook;
	if (h) {
		m->hook = NULL;
		h(m->hook_g, m->hook_arg);
	}
}

static void mn_g_entry(void *arg);

static inline void mn_resetspinning(mn_m *m)
{
	m->spinning = 0;
	if (atomic_fetch_sub(&mn_sched.nmspinning, 1) == 1)
		mn__wakep(); /* the last spinner found work: there may be more */
}

/* Make g the M's current G; give it a stack on its first run, before it becomes m->curg
 * (a fault meanwhile is the switching G's). A refill only happens on g0 (mn_direct). */
static void mn_prepare(mn_m *m, mn_g *g)
{
	if (m->spinning)
		mn_resetspinning(m);
	/* one load for both of the rare cases: a first run, a G whose waker did not claim it */
	uint32_t st = atomic_load_explicit(&g->sstate, memory_order_acquire);
	if (__builtin_expect(st != S_RUN, 0)) {
		if (st == S_NOSTACK) {
			coro_stack s;
			if (mn__stack_get(m->p, &s))
				mn__fatal("out of memory for G stacks");
			*mn__stack_owner(&s, s.size) = g;
			s.size -= MN_STACK_OWNER;
			coro_init(&g->ctx, &s, mn_g_entry, g);
			g->has_stack = 1;
			atomic_store_explicit(&g->sstate, S_RUN, memory_order_relaxed);
		} else {
			mn__resume_slow(g); /* its stack back first, if sysmon shrank it */
		}
	}
	g->m = m;
	g->status = G_RUNNING;
	m->curg = g;
	atomic_store_explicit(&m->p->schedtick, atomic_load_explicit(&m->p->schedtick,
			      memory_order_relaxed) + 1, memory_order_relaxed);
}

/* next, if a G's stack may switch straight to it; else NULL, with next left in m->nextg
 * for g0 to run: next has no stack yet and the P's cache is empty, so it needs a refill,
 * which must not run on the stack of the G switching away. */
static inline mn_g *mn_direct(mn_m *m, mn_g *next)
{
	if (next && __builtin_expect(!next->has_stack && !m->p->nstacks, 0)) {
		m->nextg = next;
		return NULL;
	}
	return next;
}

/* Switch from the running G g to next (or to the scheduler), leaving hook to run once g
 * is off its stack. Returns when g is resumed, possibly on another M. */
void mn__switch(mn_g *g, mn_g *next, mn_hook hook, void *arg)
{
	mn_m *m = g->m;
	m->hook = hook;
	m->hook_arg = arg;
	m->hook_g = g;
	if ((next = mn_direct(m, next))) {
		mn_prepare(m, next);
		coro_switch(&g->ctx, &next->ctx);
	} else {
		m->curg = NULL;
		coro_switch(&g->ctx, &m->g0);
	}
	mn_run_hook(g->m);
}

/* The next G to run directly from a G that stops, if the local queue has one and the
 * global queue is not due. */
mn_g *mn__next_local(mn_p *p)
{
	if (atomic_load_explicit(&p->schedtick, memory_order_relaxed) % MN_GQ_TICKS == 0 &&
	    atomic_load_explicit(&mn_sched.gq_n, memory_order_relaxed))
		return NULL;
	return mn__runq_get(p);
}

void mn__park(mn_g *g, mn_hook hook, void *arg)
{
	g->status = G_WAITING;
	mn__switch(g, mn__next_local(g->m->p), hook, arg);
}

static inline void mn_ready_on(mn_m *m, mn_g *g, int next)
{
	g->status = G_RUNNABLE;
	if (!m || !m->p) {
		mn__gq_put1(g);
		mn__wakep();
		return;
	}
	if (mn__runq_put(m->p, g, next))
		mn__wakep();
}

void mn__ready(mn_g *g, int next)
{
	mn_ready_on(mn__getm(), g, next);
}

void mn__ready_by(mn_g *self, mn_g *g, int next)
{
	mn_ready_on(self->m, g, next);
}

/* Not inlined, for the same reason as mn_runq_put_slow (its chunk of 64 pointers). */
__attribute__((noinline)) void mn__inject(mn_g *list)
{
	if (!list)
		return;
	mn_m *m = mn__getm();
	if (m && m->p) {
		while (list) {
			mn_g *n = list->link;
			mn__ready(list, 0);
			list = n;
		}
		return;
	}
	int n = 0, total = 0;
	mn_g *chunk[MN_INJECT_CHUNK];
	for (mn_g *g = list; g; g = g->link) {
		g->status = G_RUNNABLE;
		chunk[n++] = g;
		if (n == MN_INJECT_CHUNK) {
			mn__gq_put(chunk, n);
			total += n;
			n = 0;
		}
	}
	if (n)
		mn__gq_put(chunk, n);
	total += n;
	for (int i = 0; i < total && atomic_load(&mn_sched.npidle); i++)
		mn__wakep();
}

/* ---- the G side ---------------------------------------------------------------------- */

static void mn_exit_hook(mn_g *prev, void *arg)
{
	(void)arg;
	mn_p *p = mn__getm()->p;
	coro_stack *s = &prev->ctx.stack; /* in place: a copy stays live across mn__getm */
	s->size += MN_STACK_OWNER;
	*mn__stack_owner(s, s->size) = NULL;
	mn__stack_put(p, s);
	coro_destroy(&prev->ctx);
	prev->has_stack = 0;
	atomic_store_explicit(&prev->sstate, S_NOSTACK, memory_order_relaxed);
	prev->status = G_DEAD;
	if (prev == mn_sched.root)
		atomic_store(&mn_sched.root_done, 1);
	uintptr_t j = atomic_exchange(&prev->join, MN_JOIN_DONE);
	if (j > MN_JOIN_DONE)
		mn__ready((mn_g *)j, 1);
}

static void mn_g_entry(void *arg)
{
	mn_g *g = arg;
	mn_run_hook(g->m);
	unsigned char *argp = g->argp; /* g->argp is g->sbuf from now on */
	g->sbuf = NULL;
	g->in_rt = 0;
	uint64_t r = g->fn(argp, g->len);
	g->in_rt = 1;
	if (argp != g->arg)
		free(argp);
	g->result = r;
	mn_m *m = g->m;
	mn_p *p = m->p;
	atomic_store_explicit(&p->live, atomic_load_explicit(&p->live, memory_order_relaxed) - 1,
			      memory_order_relaxed);
	mn_g *next = mn__next_local(p);
	m->hook = mn_exit_hook;
	m->hook_arg = NULL;
	m->hook_g = g;
	if ((next = mn_direct(m, next))) {
		mn_prepare(m, next);
		coro_switch_final(&g->ctx, &next->ctx);
	}
	m->curg = NULL;
	coro_switch_final(&g->ctx, &m->g0);
}

static mn_g *mn_newg(mn_p *p, mn_fn fn, const void *arg, size_t len)
{
	mn_g *g = mn__galloc(p);
	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	g->argp = g->arg;
	if (len > UINT32_MAX) {
		mn__gfree(p, g);
		errno = EINVAL;
		return NULL;
	}
	if (len > MN_ARG_INLINE && !(g->argp = malloc(len))) {
		mn__gfree(p, g);
		errno = ENOMEM;
		return NULL;
	}
	if (p->gid_next == p->gid_end) {
		p->gid_next = atomic_fetch_add(&mn_sched.gid, MN_GID_BATCH);
		p->gid_end = p->gid_next + MN_GID_BATCH;
	}
	g->id = p->gid_next++;
	g->fn = fn;
	g->len = (uint32_t)len;
	if (len)
		memcpy(g->argp, arg, len);
	g->in_rt = 1; /* until its entry has run the pending hook */
	g->has_stack = 0;
	atomic_store_explicit(&g->sstate, S_NOSTACK, memory_order_relaxed);
	g->wake = NULL;
	g->link = NULL;
	atomic_store_explicit(&g->join, 0, memory_order_relaxed);
	g->status = G_RUNNABLE;
	atomic_store_explicit(&p->live, atomic_load_explicit(&p->live, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	return g;
}

mn_g *mn_go(mn_fn fn, const void *arg, size_t len)
{
	mn_g *self = mn__getg();
	mn__enter(self);
	mn_p *p = self->m->p;
	mn_g *g = mn_newg(p, fn, arg, len);
	if (g && mn__runq_put(p, g, 1))
		mn__wakep();
	mn__leave(self);
	return g;
}

static void mn_join_hook(mn_g *prev, void *arg)
{
	mn_g *target = arg;
	mn__parked(prev);
	uintptr_t z = 0;
	if (!atomic_compare_exchange_strong(&target->join, &z, (uintptr_t)prev))
		mn__ready(prev, 1); /* it ended meanwhile */
}

uint64_t mn_join(mn_g *g)
{
	mn_g *self = mn__getg();
	mn__enter(self);
	if (atomic_load(&g->join) != MN_JOIN_DONE)
		mn__park(self, mn_join_hook, g);
	uint64_t r = g->result;
	mn__gfree(self->m->p, g);
	mn__leave(self);
	return r;
}

static void mn_yield_hook(mn_g *prev, void *arg)
{
	(void)arg;
	prev->status = G_RUNNABLE;
	mn__runq_put(prev->m->p, prev, 0); /* prev->m: the M this hook runs on */
}

void mn_yield(void)
{
	mn_g *g = mn__getg();
	mn__enter(g);
	mn_p *p = g->m->p;
	if (mn__runq_empty(p) && !atomic_load_explicit(&mn_sched.gq_n, memory_order_relaxed)) {
		/* nothing else to run here; now and then look at timers and the network */
		if (++p->yields % MN_YIELD_POLL == 0) {
			int64_t now = mn__now();
			if (atomic_load(&p->tnext) <= now)
				mn__timers_run(p, now);
			if (mn__netpoll_waiters() && !atomic_load(&mn_sched.polling))
				mn__inject(mn__netpoll(0));
		}
		if (mn__runq_empty(p)) {
			mn__leave(g);
			return;
		}
	}
	g->status = G_RUNNABLE;
	mn__switch(g, mn__next_local(p), mn_yield_hook, NULL);
	mn__leave(g);
}

/* ---- system calls ---------------------------------------------------------------------- */

void mn_entersyscall(void)
{
	mn_g *g = mn__getg();
	mn__enter(g);
	mn_p *p = g->m->p;
	g->status = G_SYSCALL;
	atomic_fetch_add(&p->syscalltick, 1);
	atomic_store(&p->status, P_SYSCALL);
}

static void mn_exitsyscall_hook(mn_g *prev, void *arg)
{
	(void)arg;
	mn__gq_put1(prev);
	mn__wakep();
}

void mn_exitsyscall(void)
{
	mn_g *g = mn__getg();
	mn_m *m = g->m;
	mn_p *p = m->p;
	int st = P_SYSCALL;
	if (atomic_compare_exchange_strong(&p->status, &st, P_RUNNING)) {
		atomic_fetch_add(&p->syscalltick, 1);
		g->status = G_RUNNING;
		mn__leave(g);
		return;
	}
	/* sysmon gave our P away: take any idle one, or queue the G and park the M */
	m->p = NULL;
	mn__lock(&mn_sched.lk);
	p = mn_pidle_get();
	mn__unlock(&mn_sched.lk);
	if (p) {
		mn_acquirep(m, p);
		g->status = G_RUNNING;
		mn__leave(g);
		return;
	}
	g->status = G_RUNNABLE;
	m->hook = mn_exitsyscall_hook;
	m->hook_arg = NULL;
	m->hook_g = g;
	m->curg = NULL;
	coro_switch(&g->ctx, &m->g0);
	mn_run_hook(g->m);
	mn__leave(g);
}

/* ---- finding work ---------------------------------------------------------------------- */

static mn_g *mn_steal_work(mn_m *m, mn_p *p)
{
	int n = mn_sched.nprocs;
	for (int round = 0; round < 4; round++) {
		int start = (int)(mn_rand(m) % (uint32_t)n);
		for (int i = 0; i < n; i++) {
			mn_p *v = &mn_sched.allp[(start + i) % n];
			if (v == p)
				continue;
			int64_t now;
			if (atomic_load_explicit(&v->tnext, memory_order_relaxed) <= (now = mn__now()))
				mn__timers_run(v, now); /* its owner is busy or away */
			mn_g *g = mn__runq_get(p);
			if (g)
				return g;
			g = mn__runq_steal(p, v, round == 3);
			if (g)
				return g;
		}
	}
	return NULL;
}

/* Work a thief could take now: rings and the global queue, not runnext handoffs. */
static int mn_any_queued(void)
{
	if (atomic_load_explicit(&mn_sched.gq_n, memory_order_relaxed))
		return 1;
	for (int i = 0; i < mn_sched.nprocs; i++) {
		mn_p *v = &mn_sched.allp[i];
		if (atomic_load_explicit(&v->head, memory_order_relaxed) !=
		    atomic_load_explicit(&v->tail, memory_order_relaxed))
			return 1;
	}
	return 0;
}

static int mn_any_work(void)
{
	if (atomic_load(&mn_sched.gq_n))
		return 1;
	for (int i = 0; i < mn_sched.nprocs; i++)
		if (!mn__runq_empty(&mn_sched.allp[i]))
			return 1;
	return 0;
}

static void mn_stop_all(void) /* sched.lk held */
{
	atomic_store(&mn_sched.stopping, 1);
	for (mn_m *m = mn_sched.midle; m; m = m->link) {
		atomic_store(&m->park, 1);
		mn__futex_wake(&m->park);
	}
	mn_sched.midle = NULL;
	mn__netpoll_break();
}

static mn_g *mn_findrunnable(mn_m *m)
{
top:
	if (atomic_load(&mn_sched.stopping))
		return NULL;
	if (!m->p) {
		mn_stopm(m);
		goto top;
	}
	mn_p *p = m->p;
	int64_t now = mn__now();
	if (atomic_load_explicit(&p->tnext, memory_order_relaxed) <= now)
		mn__timers_run(p, now);
	mn_g *g;
	if (atomic_load_explicit(&p->schedtick, memory_order_relaxed) % MN_GQ_TICKS == 0 &&
	    (g = mn__gq_get(p, 1)))
		return g;
	if ((g = mn__runq_get(p)) || (g = mn__gq_get(p, 0)))
		return g;
	if (mn__netpoll_waiters() && !atomic_load(&mn_sched.polling)) {
		mn_g *list = mn__netpoll(0);
		if (list) {
			mn__inject(list->link);
			return list;
		}
	}
	int busy = mn_sched.nprocs - atomic_load(&mn_sched.npidle);
	if (m->spinning || 2 * atomic_load(&mn_sched.nmspinning) < busy) {
		if (!m->spinning) {
			m->spinning = 1;
			atomic_fetch_add(&mn_sched.nmspinning, 1);
		}
		if ((g = mn_steal_work(m, p)))
			return g;
		/* Others are running and may queue work any moment (the next batch of a
		 * spawn loop, a reply): watch for ~20 us before paying for a futex sleep and
		 * wake-up. Only the spinning M does this, and only while some P is busy. */
		if (busy > 1) {
			int64_t until = mn__now() + MN_SPIN_NS;
			while (mn__now() < until && !mn_any_queued() &&
			       !atomic_load_explicit(&mn_sched.stopping, memory_order_relaxed))
				for (int i = 0; i < 32; i++)
					mn__cpu_relax();
			if (mn_any_queued())
				goto top;
		}
	}

	/* Nothing: give the P back. */
	mn__lock(&mn_sched.lk);
	if (mn_sched.gq_first) {
		mn__unlock(&mn_sched.lk);
		if ((g = mn__gq_get(p, 0)))
			return g;
		goto top;
	}
	m->p = NULL;
	mn_pidle_put(p);
	if (atomic_load(&mn_sched.npidle) == mn_sched.nprocs && atomic_load(&mn_sched.root_done)) {
		int64_t live = 0;
		for (int i = 0; i < mn_sched.nprocs; i++)
			live += atomic_load(&mn_sched.allp[i].live);
		if (live == 0) {
			mn_stop_all();
			mn__unlock(&mn_sched.lk);
			return NULL;
		}
	}
	mn__unlock(&mn_sched.lk);
	int was_spinning = m->spinning;
	if (was_spinning) {
		m->spinning = 0;
		atomic_fetch_sub(&mn_sched.nmspinning, 1);
	}
	/* Work queued between our last look and our going idle must not be lost: spinning Ms
	 * are the ones wakep relies on, so a spinner re-checks after dropping the count. */
	if (was_spinning && mn_any_work()) {
		mn__lock(&mn_sched.lk);
		p = mn_pidle_get();
		mn__unlock(&mn_sched.lk);
		if (p) {
			mn_acquirep(m, p);
			m->spinning = 1;
			atomic_fetch_add(&mn_sched.nmspinning, 1);
			goto top;
		}
	}
	int zero = 0;
	if (atomic_compare_exchange_strong(&mn_sched.polling, &zero, 1)) {
		/* The run may have stopped since the top of this loop, and the poller before us
		 * taken the stop's break (it drains the eventfd): blocking now would be for good,
		 * and teardown joins this M. A stop after this look finds us holding polling, and
		 * only the blocking poller drains the break (mn__netpoll), so its break waits for
		 * us. */
		if (atomic_load(&mn_sched.stopping)) {
			atomic_store(&mn_sched.polling, 0);
			return NULL;
		}
		int64_t next = mn__timers_next();
		atomic_store(&mn_sched.poll_until, next);
		now = mn__now();
		mn_g *list = mn__netpoll(next == INT64_MAX ? -1 : (next > now ? next - now : 0));
		atomic_store(&mn_sched.poll_until, INT64_MAX);
		atomic_store(&mn_sched.polling, 0);
		mn__lock(&mn_sched.lk);
		p = mn_pidle_get();
		mn__unlock(&mn_sched.lk);
		if (!p) {
			mn__inject(list);
			mn_stopm(m);
			goto top;
		}
		mn_acquirep(m, p);
		m->spinning = 1; /* expired timers may sit on any P: look everywhere */
		atomic_fetch_add(&mn_sched.nmspinning, 1);
		if (list) {
			mn__inject(list->link);
			return list;
		}
		goto top;
	}
	mn_stopm(m);
	goto top;
}

/* g0: the scheduler loop of one M. */
static void mn_schedule(mn_m *m)
{
	for (;;) {
		mn_run_hook(m);
		mn_g *g = m->nextg;
		if (g)
			m->nextg = NULL; /* chosen by a G that switched here for its stack */
		else if (!(g = mn_findrunnable(m)))
			return;
		mn_prepare(m, g);
		coro_switch(&m->g0, &g->ctx);
	}
}

static void mn_m_init(mn_m *m)
{
	mn__setm(m);
	atomic_store(&m->tid, (int)syscall(SYS_gettid));
	coro_init_thread(&m->g0);
	mn_m_signals(m);
}

static void *mn_m_thread(void *arg)
{
	mn_m *m = arg;
	/* Process signals go to the harness thread; an M takes SIGURG (preemption) and the
	 * faults. The mask is set whole, not added to: a thread starts with its creator's mask,
	 * and the creator may be sysmon, which blocks everything, or a G inside the SIGURG
	 * handler. An M that kept SIGSEGV blocked from its creator could not report a G's
	 * overflow: the kernel kills the process on a fault it may not deliver, without running
	 * the handler. */
	sigset_t mask;
	sigfillset(&mask);
	sigdelset(&mask, SIGURG);
	sigdelset(&mask, SIGSEGV);
	sigdelset(&mask, SIGBUS);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	mn_m_init(m);
	if (m->nextp) {
		mn_acquirep(m, m->nextp);
		m->nextp = NULL;
	}
	mn_schedule(m);
	stack_t ss = {.ss_flags = SS_DISABLE};
	sigaltstack(&ss, NULL);
	return NULL;
}

/* ---- a run --------------------------------------------------------------------------------- */

static struct sigaction mn_old_urg, mn_old_segv, mn_old_bus;

static void mn_install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = mn__sigurg;
	/* not SA_ONSTACK: the handler may switch Gs, so it must run on the G's stack */
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGURG, &sa, &mn_old_urg);
	sa.sa_sigaction = mn__sigsegv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	/* a preemption inside the fault handler would save a G's context on the alternate
	 * stack, which the next signal on this M reuses */
	sigaddset(&sa.sa_mask, SIGURG);
	sigaction(SIGSEGV, &sa, &mn_old_segv);
	sigaction(SIGBUS, &sa, &mn_old_bus);
}

/* At the end of a run: hand the stacks and G blocks to the next run (mn_stack.c); release
 * everything else. */
static void mn_free_all(void)
{
	mn__keep_stacks();
	mn__sudog_free_all();
	mn__sbuf_free_all();
	for (mn_gbatch *b = mn_sched.gq_free, *n; b; b = n) {
		n = b->next;
		free(b);
	}
	for (int i = 0; i < mn_sched.nprocs; i++) {
		free(mn_sched.allp[i].stacks);
		mn__timers_free(&mn_sched.allp[i]);
	}
	free(mn_sched.allp);
	for (mn_m *m = mn_sched.allm, *n; m; m = n) {
		n = m->alllink;
		munmap(m->altstack, MN_ALTSTACK);
		if (m->statfd >= 0)
			close(m->statfd);
		free(m->sel_order);
		free(m);
	}
}

uint64_t mn_main(const mn_config *cfg, mn_fn root, const void *arg, size_t len)
{
	memset(&mn_sched, 0, sizeof mn_sched);
	mn_sched.cfg = *cfg;
	mn_sched.nprocs = cfg->procs > 0 ? cfg->procs : (int)sysconf(_SC_NPROCESSORS_ONLN);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	mn_sched.stack_size = cfg->stack_size ? cfg->stack_size : MN_STACK_DEFAULT;
	if (mn_sched.stack_size < MN_STACK_MIN)
		mn__fatal("stack_size is below MN_STACK_MIN: the runtime's own frames do not fit");
	mn_sched.stack_size = (mn_sched.stack_size + page - 1) & ~(page - 1);
	mn_sched.stack_guard = mn__guard_size();
	mn_sched.stack_stride = mn_sched.stack_size + mn_sched.stack_guard;
	mn_sched.preempt_ns = cfg->preempt_ns ? cfg->preempt_ns : MN_PREEMPT_NS;
	mn_sched.syscall_ns = cfg->syscall_ns ? cfg->syscall_ns : MN_SYSCALL_NS;
	mn_sched.shrink_ns = cfg->shrink_ns ? cfg->shrink_ns : MN_SHRINK_NS;
	mn_sched.poll_until = INT64_MAX;
	mn_sched.gid = 1;
	mn__adopt_kept(cfg->cold);
	if (posix_memalign((void **)&mn_sched.allp, 64, sizeof(mn_p) * (size_t)mn_sched.nprocs))
		mn__fatal("out of memory for Ps");
	memset(mn_sched.allp, 0, sizeof(mn_p) * (size_t)mn_sched.nprocs);
	mn__lock(&mn_sched.lk);
	for (int i = mn_sched.nprocs - 1; i >= 0; i--) {
		mn_p *p = &mn_sched.allp[i];
		p->id = i;
		p->tnext = INT64_MAX;
		p->stacks = malloc(sizeof(coro_stack) * MN_STACK_CACHE);
		if (!p->stacks)
			mn__fatal("out of memory for Ps");
		if (i)
			mn_pidle_put(p);
	}
	mn_m *m0 = mn_newm();
	mn__unlock(&mn_sched.lk);
	if (mn__netpoll_init())
		mn__fatal("cannot create the netpoller");
	mn__text_init();
	mn_install_signals();
	mn_m_init(m0);
	mn_acquirep(m0, &mn_sched.allp[0]);
	mn__sysmon_start();
	if (cfg->on_thread)
		cfg->on_thread(+1);

	mn_g *g = mn_newg(m0->p, root, arg, len);
	if (!g)
		mn__fatal("cannot create the root G");
	mn_sched.root = g;
	mn__runq_put(m0->p, g, 1);
	mn_schedule(m0);

	/* stopping: every G has ended. sysmon first (it may start Ms), then the Ms. */
	mn__sysmon_stop();
	if (cfg->on_thread)
		cfg->on_thread(-1);
	mn__lock(&mn_sched.lk);
	mn_m *allm = mn_sched.allm;
	mn__unlock(&mn_sched.lk);
	for (mn_m *m = allm; m; m = m->alllink)
		if (m->has_thread) {
			pthread_join(m->thread, NULL);
			if (cfg->on_thread)
				cfg->on_thread(-1);
		}
	uint64_t r = g->result;
	stack_t ss = {.ss_flags = SS_DISABLE};
	sigaltstack(&ss, NULL);
	sigaction(SIGURG, &mn_old_urg, NULL);
	sigaction(SIGSEGV, &mn_old_segv, NULL);
	sigaction(SIGBUS, &mn_old_bus, NULL);
	mn__netpoll_close();
	mn_free_all();
	mn__setm(NULL);
	memset(&mn_sched, 0, sizeof mn_sched);
	return r;
}
