/* mn_sched.c: the scheduler of mn, a Go-style M:N runtime.
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
 * Async preemption safety. The SIGURG handler runs on the G's own stack (SIGURG blocked)
 * and, when it decides to preempt, switches away from inside the handler; the G resumes
 * later, maybe on another M, by returning from the handler, and sigreturn restores every
 * register (the handler first rewrites the saved signal mask and alternate stack to those
 * of the thread it now runs on). The handler preempts only when all of these hold:
 *   1. the G is not inside the runtime: every mn entry point raises g->in_rt before it
 *      touches shared state and lowers it as its last act, and a G is always resumed
 *      inside the runtime, so runtime locks, half-updated queues and the switch itself are
 *      never interrupted. The two lookups a G makes before raising in_rt (its M and G from
 *      thread-local storage) live in a linker section, mn_nopreempt, that the handler
 *      treats as runtime code;
 *   2. the interrupted PC lies in the executable's own text, and libc (with malloc and
 *      its locks) is a separate shared object: a G inside libc, the vDSO or any shared
 *      library is left alone and sysmon signals again 1 ms later. When malloc resolves
 *      inside the executable (static libc, a statically linked sanitizer runtime: the
 *      Makefile links clang's ASan runtime shared for that reason) async preemption is
 *      switched off altogether, and so it is under ThreadSanitizer, which runs handlers
 *      deferred from its own frames (mn_preempt_enabled says which);
 *   3. the G is running, not in a syscall, and is the one sysmon asked to preempt (its P's
 *      schedule tick has not moved since).
 * Limits. Workload code that keeps the address of a thread-local variable (errno included:
 * glibc declares __errno_location const) in a register across a preemption could use
 * another thread's copy after migrating; the task API keeps errno inside the runtime's
 * calls. Code that libc calls back (qsort comparators, pthread_once routines) runs in own
 * text above libc's frames and locks and could be preempted and migrated there: such calls
 * go between mn_nopreempt_begin and mn_nopreempt_end (mn.h), which raise in_rt. The SIGSEGV
 * and SIGBUS handlers block SIGURG: they run on the M's alternate stack, where a switch
 * would save a G's context.
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
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "mn_impl.h"

struct mn_sched mn_sched;

#define MN_STACK_CACHE 64
#define MN_G_CACHE 64
#define MN_SLAB 64
#define MN_GBLOCK 256
_Static_assert(MN_STACK_CACHE <= MN_STACK_SLACK_PER_P && MN_SLAB <= MN_STACK_SLACK_PER_P,
	       "a P's cache and a fresh slab must fit the kept-stack slack mn.h promises");

/* ---- small helpers ------------------------------------------------------------------- */

/* Thread-local lookups. A G that switches may resume on another thread, so no compiler may
 * reuse a TLS address computed before a switch, and a G calls these before it has entered
 * the runtime (g->in_rt still 0): preempted between loading its M and loading the M's
 * current G, mn__getg would resume on another thread holding the old thread's M. So they
 * are assembly (mn_tls_<arch>.S), which no compiler inlines, in the section mn_nopreempt
 * that the preemption handler treats as runtime code; tests/test_mn.c checks that no other
 * code reads mn_tls_m. Other targets get C (never preempted: mn_sig_pc knows no PC there). */
#if defined(__x86_64__) || defined(__aarch64__)
#define MN_TLS_ASM 1
#endif
__attribute__((visibility("hidden"))) _Thread_local mn_m *mn_tls_m;
mn_m *mn__getm(void);
void mn__setm(mn_m *m);
extern const char __start_mn_nopreempt[], __stop_mn_nopreempt[];
_Static_assert(offsetof(mn_m, curg) == 0, "mn__getg reads curg at offset 0 of an M");

#ifndef MN_TLS_ASM
__attribute__((noinline, section("mn_nopreempt"))) mn_m *mn__getm(void)
{
	return mn_tls_m;
}

__attribute__((noinline, section("mn_nopreempt"))) mn_g *mn__getg(void)
{
	mn_m *m = mn_tls_m;
	return m ? m->curg : NULL;
}

__attribute__((noinline, section("mn_nopreempt"))) void mn__setm(mn_m *m)
{
	mn_tls_m = m;
}

/* errno's address belongs to the thread, and glibc declares __errno_location const: code
 * that touches errno after a possible switch goes through this, inside the runtime. */
__attribute__((noinline, section("mn_nopreempt"))) int *mn__errno(void)
{
	return &errno;
}
#endif

#define mn_getm mn__getm

int64_t mn__now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void mn_cpu_relax(void)
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

void mn__lock_slow(int *lk)
{
	for (int spins = 0;; spins++) {
		if (!__atomic_load_n(lk, __ATOMIC_RELAXED) &&
		    !__atomic_exchange_n(lk, 1, __ATOMIC_ACQUIRE))
			return;
		if (spins < 64)
			mn_cpu_relax();
		else
			sched_yield(); /* the holder's thread was descheduled */
	}
}

void mn__unlock_hook(mn_g *prev, void *lk)
{
	(void)prev;
	mn__unlock(lk);
}

static void mn_futex_wait(_Atomic int *w, int val, int64_t timeout_ns)
{
	struct timespec ts, *tp = NULL;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tp = &ts;
	}
	syscall(SYS_futex, (int *)w, FUTEX_WAIT_PRIVATE, val, tp, NULL, 0);
}

static void mn_futex_wake(_Atomic int *w)
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
	return mn_rand(mn_getm());
}

static _Noreturn void mn_fatal(const char *msg)
{
	if (mn_sched.cfg.on_exhausted)
		mn_sched.cfg.on_exhausted(msg);
	fprintf(stderr, "mn: fatal: %s\n", msg);
	abort();
}

/* ---- waiter queues --------------------------------------------------------------------- */

/* ---- run queues ---------------------------------------------------------------------- */

static int mn_runq_empty(mn_p *p)
{
	return atomic_load_explicit(&p->head, memory_order_acquire) ==
		       atomic_load_explicit(&p->tail, memory_order_acquire) &&
	       !atomic_load_explicit(&p->runnext, memory_order_acquire);
}

/* Append n Gs to the global queue, filling the last batch before starting a new one. */
static void mn_gq_put(mn_g *const *gs, int n)
{
	const int cap = MN_RUNQ / 2 + 1;
	mn_gbatch *spare = NULL;
	mn__lock(&mn_sched.lk);
	atomic_fetch_add(&mn_sched.gq_n, n);
	while (n > 0) {
		mn_gbatch *b = mn_sched.gq_last;
		if (!b || b->head + b->n == cap) {
			if (!(b = mn_sched.gq_free)) {
				/* malloc outside the spinlock */
				mn__unlock(&mn_sched.lk);
				spare = malloc(sizeof *spare);
				if (!spare)
					mn_fatal("out of memory for the global run queue");
				mn__lock(&mn_sched.lk);
				spare->next = mn_sched.gq_free;
				mn_sched.gq_free = spare;
				continue;
			}
			mn_sched.gq_free = b->next;
			b->next = NULL;
			b->head = b->n = 0;
			if (mn_sched.gq_last)
				mn_sched.gq_last->next = b;
			else
				mn_sched.gq_first = b;
			mn_sched.gq_last = b;
		}
		int k = cap - (b->head + b->n);
		if (k > n)
			k = n;
		memcpy(&b->g[b->head + b->n], gs, sizeof(mn_g *) * (size_t)k);
		b->n += k;
		gs += k;
		n -= k;
	}
	mn__unlock(&mn_sched.lk);
}

static void mn_gq_put1(mn_g *g)
{
	mn_gq_put(&g, 1);
}

/* The ring is full: move half of it plus g to the global queue in one batch. Not inlined:
 * its 1 KiB batch would otherwise sit in the frame of every caller on a G's stack. */
__attribute__((noinline, cold)) static int mn_runq_put_slow(mn_p *p, mn_g *g, uint32_t h, uint32_t t)
{
	mn_g *batch[MN_RUNQ / 2 + 1];
	uint32_t n = (t - h) / 2;
	for (uint32_t i = 0; i < n; i++)
		batch[i] = atomic_load_explicit(&p->runq[(h + i) % MN_RUNQ], memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&p->head, &h, h + n, memory_order_release,
						     memory_order_relaxed))
		return 0;
	batch[n] = g;
	mn_gq_put(batch, (int)n + 1);
	return 1;
}

/* Returns 1 when the queue proper grew (worth waking a thief), 0 when g only took the
 * empty runnext slot. */
static int mn_runq_put(mn_p *p, mn_g *g, int next)
{
	if (next) {
		/* Thieves only ever take runnext (CAS to NULL): an empty slot stays empty until
		 * the owner fills it, so a plain store does; a full one needs the exchange. */
		if (!atomic_load_explicit(&p->runnext, memory_order_relaxed)) {
			atomic_store_explicit(&p->runnext, g, memory_order_release);
			return 0;
		}
		g = atomic_exchange_explicit(&p->runnext, g, memory_order_acq_rel);
		if (!g)
			return 0;
	}
	for (;;) {
		uint32_t h = atomic_load_explicit(&p->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&p->tail, memory_order_relaxed);
		if (t - h < MN_RUNQ) {
			atomic_store_explicit(&p->runq[t % MN_RUNQ], g, memory_order_relaxed);
			atomic_store_explicit(&p->tail, t + 1, memory_order_release);
			return 1;
		}
		if (mn_runq_put_slow(p, g, h, t))
			return 1;
	}
}

/* Start loading what g touches first when it runs: the top of its saved stack (the
 * registers coro__swap pops and the frames it returns through), or for a G's first run the
 * top of the stack it will get. With thousands of runnable Gs these lines are cold, and
 * each first pop would otherwise stall on a cache and TLB miss. The fields are read with
 * relaxed atomics: a thief may be running g already, and a stale value only wastes a
 * prefetch (which never faults). ThreadSanitizer would still see a plain write racing with
 * these reads, so its builds go without the hint. */
static inline void mn_prefetch_g(mn_p *p, mn_g *g, mn_g *before)
{
#ifdef CORO_TSAN
	(void)p, (void)g, (void)before;
	return;
#endif
	const char *sp;
	if (__atomic_load_n(&g->has_stack, __ATOMIC_RELAXED)) {
		sp = __atomic_load_n((char **)&g->ctx.sp, __ATOMIC_RELAXED);
	} else {
		/* the cached stack it will get: the top one, unless `before` (to run first)
		 * takes that one */
		int i = p->nstacks - 1 - !__atomic_load_n(&before->has_stack, __ATOMIC_RELAXED);
		if (i < 0)
			return;
		sp = (const char *)p->stacks[i].lo + p->stacks[i].size - 256;
	}
	for (int i = 0; i < 4; i++)
		__builtin_prefetch(sp + 64 * i, 1, 3);
}

static mn_g *mn_runq_get(mn_p *p)
{
	mn_g *g = atomic_load_explicit(&p->runnext, memory_order_relaxed);
	if (g && atomic_compare_exchange_strong(&p->runnext, &g, NULL))
		return g;
	for (;;) {
		uint32_t h = atomic_load_explicit(&p->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&p->tail, memory_order_relaxed);
		if (t == h)
			return NULL;
		g = atomic_load_explicit(&p->runq[h % MN_RUNQ], memory_order_relaxed);
		if (atomic_compare_exchange_strong_explicit(&p->head, &h, h + 1, memory_order_release,
							    memory_order_relaxed)) {
			/* a long queue: warm up the next G's stack and the one after's descriptor */
			if (t - h > 1)
				mn_prefetch_g(p, atomic_load_explicit(&p->runq[(h + 1) % MN_RUNQ],
								      memory_order_relaxed), g);
			if (t - h > 2) {
				const char *g2 = (const char *)atomic_load_explicit(
					&p->runq[(h + 2) % MN_RUNQ], memory_order_relaxed);
				__builtin_prefetch(g2, 1, 3);
				__builtin_prefetch(g2 + 64, 1, 3);
			}
			return g;
		}
	}
}

/* Steal half of victim's ring into p's; the runnext slot only when stealnext (it is the
 * handoff its owner is about to run). Returns one G to run, the rest stay queued on p. */
static mn_g *mn_runq_steal(mn_p *p, mn_p *victim, int stealnext)
{
	uint32_t t = atomic_load_explicit(&p->tail, memory_order_relaxed);
	uint32_t n;
	for (;;) {
		uint32_t h = atomic_load_explicit(&victim->head, memory_order_acquire);
		uint32_t vt = atomic_load_explicit(&victim->tail, memory_order_acquire);
		n = vt - h;
		n -= n / 2;
		if (n == 0) {
			if (!stealnext)
				return NULL;
			mn_g *g = atomic_load(&victim->runnext);
			if (!g)
				return NULL;
			if (atomic_load(&victim->status) == P_RUNNING) {
				/* The running G readied it and is probably about to block (a channel
				 * handoff): give the owner ~3 us to run it itself, as Go does, or
				 * the pair would bounce between cores. */
				uint32_t tick = atomic_load_explicit(&victim->schedtick,
								     memory_order_relaxed);
				int64_t until = mn__now() + 3000;
				while (mn__now() < until)
					mn_cpu_relax();
				if (atomic_load_explicit(&victim->schedtick, memory_order_relaxed) != tick)
					return NULL;
			}
			if (atomic_compare_exchange_strong(&victim->runnext, &g, NULL))
				return g;
			return NULL;
		}
		if (n > MN_RUNQ / 2)
			continue; /* read head and tail at different times */
		for (uint32_t i = 0; i < n; i++) {
			mn_g *g = atomic_load_explicit(&victim->runq[(h + i) % MN_RUNQ],
						       memory_order_relaxed);
			atomic_store_explicit(&p->runq[(t + i) % MN_RUNQ], g, memory_order_relaxed);
		}
		if (atomic_compare_exchange_strong_explicit(&victim->head, &h, h + n,
							    memory_order_release, memory_order_relaxed))
			break;
	}
	n--;
	mn_g *g = atomic_load_explicit(&p->runq[(t + n) % MN_RUNQ], memory_order_relaxed);
	if (n)
		atomic_store_explicit(&p->tail, t + n, memory_order_release);
	return g;
}

/* Take a batch from the global queue: one to run, some more onto p's ring. */
static mn_g *mn_gq_get(mn_p *p, int max)
{
	if (!atomic_load_explicit(&mn_sched.gq_n, memory_order_relaxed))
		return NULL;
	mn_g *got[MN_RUNQ / 2 + 1];
	mn__lock(&mn_sched.lk);
	mn_gbatch *b = mn_sched.gq_first;
	if (!b) {
		mn__unlock(&mn_sched.lk);
		return NULL;
	}
	int want = atomic_load(&mn_sched.gq_n) / mn_sched.nprocs + 1;
	if (max && want > max)
		want = max;
	if (want > b->n)
		want = b->n; /* one batch at a time: at most half a ring */
	memcpy(got, &b->g[b->head], sizeof(mn_g *) * (size_t)want);
	b->head += want;
	b->n -= want;
	if (!b->n) {
		mn_sched.gq_first = b->next;
		if (!mn_sched.gq_first)
			mn_sched.gq_last = NULL;
		b->next = mn_sched.gq_free;
		mn_sched.gq_free = b;
	}
	atomic_fetch_sub(&mn_sched.gq_n, want);
	mn__unlock(&mn_sched.lk);
	for (int i = 1; i < want; i++)
		mn_runq_put(p, got[i], 0);
	return got[0];
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

static _Atomic int mn_sysmon_word, mn_sysmon_asleep;

/* sysmon sleeps without a timeout while every P is idle; the first P to get busy again
 * wakes it. */
static void mn_sysmon_wake(void)
{
	if (atomic_exchange(&mn_sysmon_asleep, 0)) {
		atomic_store(&mn_sysmon_word, 1);
		mn_futex_wake(&mn_sysmon_word);
	}
}

/* sysmon sleeps until the next deadline it knows of (mn_sysmon_until); a sleeper whose
 * deadline comes earlier, parked behind a G that may keep the P, wakes it to recompute. */
static _Atomic int64_t mn_sysmon_until;

void mn__sysmon_deadline(int64_t when)
{
	if (when < atomic_load_explicit(&mn_sysmon_until, memory_order_relaxed) &&
	    !atomic_exchange(&mn_sysmon_word, 1))
		mn_futex_wake(&mn_sysmon_word);
}

static void mn_acquirep(mn_m *m, mn_p *p)
{
	m->p = p;
	atomic_store(&p->m, m);
	atomic_store(&p->status, P_RUNNING);
	if (atomic_load_explicit(&mn_sysmon_asleep, memory_order_relaxed))
		mn_sysmon_wake();
}

static void *mn_m_thread(void *arg);

static void mn_m_signals(mn_m *m)
{
	stack_t ss = {.ss_sp = m->altstack, .ss_size = 64 * 1024};
	sigaltstack(&ss, NULL);
}

static mn_m *mn_newm(void) /* sched.lk held */
{
	mn_m *m = calloc(1, sizeof *m);
	if (!m)
		mn_fatal("out of memory for an M");
	m->id = mn_sched.mcount++;
	m->rnd = 0x9e3779b97f4a7c15ull * (uint64_t)(m->id + 1);
	m->statfd = -1;
	m->altstack = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
	if (m->altstack == MAP_FAILED)
		mn_fatal("no memory for a signal stack");
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
		mn_futex_wake(&m->park);
		return;
	}
	/* A new M. Created under the lock (rare: Ms are reused) so that teardown, which
	 * takes the lock to stop, sees every M that will ever exist. */
	m = mn_newm();
	m->nextp = p;
	m->spinning = spinning;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 256 * 1024);
	if (pthread_create(&m->thread, &at, mn_m_thread, m) != 0)
		mn_fatal("cannot create an M thread");
	pthread_attr_destroy(&at);
	m->has_thread = 1;
	mn__unlock(&mn_sched.lk);
	if (mn_sched.cfg.on_thread)
		mn_sched.cfg.on_thread(+1);
}

/* Start a spinning M if there are idle Ps and nobody is already looking for work. */
static void mn_wakep(void)
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
		mn_futex_wait(&m->park, 0, -1);
	if (m->nextp) {
		mn_acquirep(m, m->nextp);
		m->nextp = NULL;
	}
}

/* A P left by a syscall (sysmon) goes to an M if there is work for it, else idles. */
static void mn_handoffp(mn_p *p)
{
	if (!mn_runq_empty(p) || atomic_load(&mn_sched.gq_n)) {
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

/* ---- Gs and stacks --------------------------------------------------------------------- */

static mn_g *mn_galloc(mn_p *p)
{
	mn_g *g = p->gfree;
	if (g) {
		p->gfree = g->link;
		p->ngfree--;
		return g;
	}
	mn__lock(&mn_sched.slk);
	if (mn_sched.gfree) {
		for (int i = 0; i < MN_G_CACHE / 2 && mn_sched.gfree; i++) {
			g = mn_sched.gfree;
			mn_sched.gfree = g->link;
			mn_sched.ngfree--;
			g->link = p->gfree;
			p->gfree = g;
			p->ngfree++;
		}
	} else {
		mn_g *block = NULL;
		if (posix_memalign((void **)&block, 64, sizeof(mn_g) * MN_GBLOCK))
			block = NULL;
		if (!block || (mn_sched.nallg == mn_sched.allgcap &&
			       !(mn_sched.allgcap = mn_sched.allgcap ? 2 * mn_sched.allgcap : 64,
				 mn_sched.allg_blocks = realloc(mn_sched.allg_blocks,
								sizeof(void *) * mn_sched.allgcap)))) {
			free(block);
			mn__unlock(&mn_sched.slk);
			return NULL;
		}
		mn_sched.allg_blocks[mn_sched.nallg++] = block;
		for (int i = 0; i < MN_GBLOCK; i++) {
			block[i].link = p->gfree;
			p->gfree = &block[i];
			p->ngfree++;
		}
	}
	mn__unlock(&mn_sched.slk);
	g = p->gfree;
	p->gfree = g->link;
	p->ngfree--;
	return g;
}

static void mn_gfree(mn_p *p, mn_g *g)
{
	g->status = G_IDLE;
	g->link = p->gfree;
	p->gfree = g;
	if (++p->ngfree <= 2 * MN_G_CACHE)
		return;
	mn__lock(&mn_sched.slk);
	while (p->ngfree > MN_G_CACHE) {
		g = p->gfree;
		p->gfree = g->link;
		p->ngfree--;
		g->link = mn_sched.gfree;
		mn_sched.gfree = g;
		mn_sched.ngfree++;
	}
	mn__unlock(&mn_sched.slk);
}

/* The cache of p is empty: refill it from the global cache or a fresh slab. Runs on g0
 * only (see mn_direct): a slab's mmap, guard installation and bookkeeping take more frame
 * than a G's stack may have left. */
__attribute__((noinline)) static int mn_stack_refill(mn_p *p)
{
	mn__lock(&mn_sched.slk);
	while (mn_sched.ngstacks && p->nstacks < MN_STACK_CACHE / 2)
		p->stacks[p->nstacks++] = mn_sched.gstacks[--mn_sched.ngstacks];
	mn__unlock(&mn_sched.slk);
	if (!p->nstacks) {
		coro_stack fresh[MN_SLAB];
		void *region;
		size_t rsize;
		if (coro_stack_alloc_many(fresh, MN_SLAB, mn_sched.stack_size, mn_sched.stack_guard,
					  &region, &rsize))
			return -1;
		coro_stack_populate_top(fresh, MN_SLAB); /* each will be used: fault in bulk */
		mn__lock(&mn_sched.slk);
		if (mn_sched.nslabs == mn_sched.slabcap) {
			int cap = mn_sched.slabcap ? 2 * mn_sched.slabcap : 64;
			void **s = realloc(mn_sched.slabs, sizeof(void *) * cap);
			size_t *z = s ? realloc(mn_sched.slab_sizes, sizeof(size_t) * cap) : NULL;
			if (s)
				mn_sched.slabs = s;
			if (!z) {
				mn__unlock(&mn_sched.slk);
				munmap(region, rsize);
				return -1;
			}
			mn_sched.slab_sizes = z;
			mn_sched.slabcap = cap;
		}
		mn_sched.slabs[mn_sched.nslabs] = region;
		mn_sched.slab_sizes[mn_sched.nslabs++] = rsize;
		mn__unlock(&mn_sched.slk);
		for (int i = 0; i < MN_SLAB; i++)
			p->stacks[p->nstacks++] = fresh[i];
	}
	return 0;
}

static inline int mn_stack_get(mn_p *p, coro_stack *out)
{
	if (!p->nstacks && mn_stack_refill(p))
		return -1;
	*out = p->stacks[--p->nstacks];
	return 0;
}

/* The top MN_STACK_OWNER bytes of every G stack hold the G that owns it (NULL while the
 * stack is free), so that a fault in any guard names its G, whichever M or context took it.
 * 16 keeps the coroutine's top 16-byte aligned. */
#define MN_STACK_OWNER 16

static inline mn_g **mn_stack_owner(const coro_stack *s, size_t size)
{
	return (mn_g **)((char *)s->lo + size - sizeof(mn_g *));
}

static void mn_stack_put(mn_p *p, const coro_stack *s)
{
	if (p->nstacks == MN_STACK_CACHE) {
		mn__lock(&mn_sched.slk);
		if (mn_sched.ngstacks + MN_STACK_CACHE / 2 > mn_sched.gstackcap) {
			int cap = mn_sched.gstackcap ? 2 * mn_sched.gstackcap : 1024;
			coro_stack *n = realloc(mn_sched.gstacks, sizeof(coro_stack) * cap);
			if (!n)
				mn_fatal("out of memory for the stack cache");
			mn_sched.gstacks = n;
			mn_sched.gstackcap = cap;
		}
		while (p->nstacks > MN_STACK_CACHE / 2)
			mn_sched.gstacks[mn_sched.ngstacks++] = p->stacks[--p->nstacks];
		mn__unlock(&mn_sched.slk);
	}
	p->stacks[p->nstacks++] = *s;
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
		mn_wakep(); /* the last spinner found work: there may be more */
}

/* Make g the M's current G; give it a stack on its first run, before it becomes m->curg
 * (a fault meanwhile is the switching G's). A refill only happens on g0 (mn_direct). */
static void mn_prepare(mn_m *m, mn_g *g)
{
	if (m->spinning)
		mn_resetspinning(m);
	if (!g->has_stack) {
		coro_stack s;
		if (mn_stack_get(m->p, &s))
			mn_fatal("out of memory for G stacks");
		*mn_stack_owner(&s, s.size) = g;
		s.size -= MN_STACK_OWNER;
		coro_init(&g->ctx, &s, mn_g_entry, g);
		g->has_stack = 1;
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
static void mn_switch(mn_g *g, mn_g *next, mn_hook hook, void *arg)
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
static mn_g *mn_next_local(mn_p *p)
{
	if (atomic_load_explicit(&p->schedtick, memory_order_relaxed) % 61 == 0 &&
	    atomic_load_explicit(&mn_sched.gq_n, memory_order_relaxed))
		return NULL;
	return mn_runq_get(p);
}

void mn__park(mn_g *g, mn_hook hook, void *arg)
{
	g->status = G_WAITING;
	mn_switch(g, mn_next_local(g->m->p), hook, arg);
}

static inline void mn_ready_on(mn_m *m, mn_g *g, int next)
{
	g->status = G_RUNNABLE;
	if (!m || !m->p) {
		mn_gq_put1(g);
		mn_wakep();
		return;
	}
	if (mn_runq_put(m->p, g, next))
		mn_wakep();
}

void mn__ready(mn_g *g, int next)
{
	mn_ready_on(mn_getm(), g, next);
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
	mn_m *m = mn_getm();
	if (m && m->p) {
		while (list) {
			mn_g *n = list->link;
			mn__ready(list, 0);
			list = n;
		}
		return;
	}
	int n = 0, total = 0;
	mn_g *chunk[64];
	for (mn_g *g = list; g; g = g->link) {
		g->status = G_RUNNABLE;
		chunk[n++] = g;
		if (n == 64) {
			mn_gq_put(chunk, n);
			total += n;
			n = 0;
		}
	}
	if (n)
		mn_gq_put(chunk, n);
	total += n;
	for (int i = 0; i < total && atomic_load(&mn_sched.npidle); i++)
		mn_wakep();
}

/* ---- the G side ---------------------------------------------------------------------- */

static void mn_exit_hook(mn_g *prev, void *arg)
{
	(void)arg;
	mn_p *p = mn_getm()->p;
	coro_stack *s = &prev->ctx.stack; /* in place: a copy stays live across mn_getm */
	s->size += MN_STACK_OWNER;
	*mn_stack_owner(s, s->size) = NULL;
	mn_stack_put(p, s);
	coro_destroy(&prev->ctx);
	prev->has_stack = 0;
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
	g->in_rt = 0;
	uint64_t r = g->fn(g->argp, g->len);
	g->in_rt = 1;
	if (g->argp != g->arg)
		free(g->argp);
	g->result = r;
	mn_m *m = g->m;
	mn_p *p = m->p;
	atomic_store_explicit(&p->live, atomic_load_explicit(&p->live, memory_order_relaxed) - 1,
			      memory_order_relaxed);
	mn_g *next = mn_next_local(p);
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
	mn_g *g = mn_galloc(p);
	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	g->argp = g->arg;
	if (len > UINT32_MAX) {
		mn_gfree(p, g);
		errno = EINVAL;
		return NULL;
	}
	if (len > MN_ARG_INLINE && !(g->argp = malloc(len))) {
		mn_gfree(p, g);
		errno = ENOMEM;
		return NULL;
	}
	if (p->gid_next == p->gid_end) {
		p->gid_next = atomic_fetch_add(&mn_sched.gid, 1024);
		p->gid_end = p->gid_next + 1024;
	}
	g->id = p->gid_next++;
	g->fn = fn;
	g->len = (uint32_t)len;
	if (len)
		memcpy(g->argp, arg, len);
	g->in_rt = 1; /* until its entry has run the pending hook */
	g->has_stack = 0;
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
	if (g && mn_runq_put(p, g, 1))
		mn_wakep();
	mn__leave(self);
	return g;
}

uint64_t mn_g_id(const mn_g *g)
{
	return g->id;
}

static void mn_join_hook(mn_g *prev, void *arg)
{
	mn_g *target = arg;
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
	mn_gfree(self->m->p, g);
	mn__leave(self);
	return r;
}

static void mn_yield_hook(mn_g *prev, void *arg)
{
	(void)arg;
	prev->status = G_RUNNABLE;
	mn_runq_put(prev->m->p, prev, 0); /* prev->m: the M this hook runs on */
}

void mn_yield(void)
{
	mn_g *g = mn__getg();
	mn__enter(g);
	mn_p *p = g->m->p;
	if (mn_runq_empty(p) && !atomic_load_explicit(&mn_sched.gq_n, memory_order_relaxed)) {
		/* nothing else to run here; now and then look at timers and the network */
		if (++p->yields % 64 == 0) {
			int64_t now = mn__now();
			if (atomic_load(&p->tnext) <= now)
				mn__timers_run(p, now);
			if (mn__netpoll_waiters() && !atomic_load(&mn_sched.polling))
				mn__inject(mn__netpoll(0));
		}
		if (mn_runq_empty(p)) {
			mn__leave(g);
			return;
		}
	}
	g->status = G_RUNNABLE;
	mn_switch(g, mn_next_local(p), mn_yield_hook, NULL);
	mn__leave(g);
}

void mn_nopreempt_begin(void)
{
	mn__enter(mn__getg()); /* in_rt > 0: the SIGURG handler leaves the G alone */
}

void mn_nopreempt_end(void)
{
	mn__leave(mn__getg());
}

int mn_procs(void)
{
	return mn_sched.nprocs;
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
	mn_gq_put1(prev);
	mn_wakep();
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
			mn_g *g = mn_runq_get(p);
			if (g)
				return g;
			g = mn_runq_steal(p, v, round == 3);
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
		if (!mn_runq_empty(&mn_sched.allp[i]))
			return 1;
	return 0;
}

static void mn_stop_all(void) /* sched.lk held */
{
	atomic_store(&mn_sched.stopping, 1);
	for (mn_m *m = mn_sched.midle; m; m = m->link) {
		atomic_store(&m->park, 1);
		mn_futex_wake(&m->park);
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
	if (atomic_load_explicit(&p->schedtick, memory_order_relaxed) % 61 == 0 &&
	    (g = mn_gq_get(p, 1)))
		return g;
	if ((g = mn_runq_get(p)) || (g = mn_gq_get(p, 0)))
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
			int64_t until = mn__now() + 20000;
			while (mn__now() < until && !mn_any_queued() &&
			       !atomic_load_explicit(&mn_sched.stopping, memory_order_relaxed))
				for (int i = 0; i < 32; i++)
					mn_cpu_relax();
			if (mn_any_queued())
				goto top;
		}
	}

	/* Nothing: give the P back. */
	mn__lock(&mn_sched.lk);
	if (mn_sched.gq_first) {
		mn__unlock(&mn_sched.lk);
		if ((g = mn_gq_get(p, 0)))
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
	sigset_t all;
	sigfillset(&all);
	sigdelset(&all, SIGURG);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* process signals go to the harness thread */
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

/* ---- sysmon and signals ------------------------------------------------------------------ */

static pthread_t mn_sysmon_thread;
static const void *mn_text_lo[8], *mn_text_hi[8];
static int mn_ntext, mn_preempt_ok;
static _Atomic uint64_t mn_npreempt; /* switches inside the SIGURG handler */

static int mn_phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	int *first = arg;
	if (*first) { /* the executable itself comes first */
		*first = 0;
		for (int i = 0; i < info->dlpi_phnum && mn_ntext < 8; i++) {
			const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
			if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
				mn_text_lo[mn_ntext] = (const char *)info->dlpi_addr + ph->p_vaddr;
				mn_text_hi[mn_ntext++] =
					(const char *)info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
			}
		}
	}
	return 0;
}

static int mn_in_text(const void *pc)
{
	if ((const char *)pc >= __start_mn_nopreempt && (const char *)pc < __stop_mn_nopreempt)
		return 0;
	for (int i = 0; i < mn_ntext; i++)
		if (pc >= mn_text_lo[i] && pc < mn_text_hi[i])
			return 1;
	return 0;
}

static void mn_text_init(void)
{
	if (mn_ntext)
		return;
	int first = 1;
	dl_iterate_phdr(mn_phdr_cb, &first);
	/* malloc (and its locks) must live outside the text we preempt in */
	void *mal = dlsym(RTLD_DEFAULT, "malloc");
	mn_preempt_ok = mn_ntext > 0 && mal && !mn_in_text(mal);
#ifdef CORO_TSAN
	/* ThreadSanitizer defers a signal handler to its next interceptor or sync point, which
	 * runs it from libtsan's frames with none of the interrupted PC's guarantees: a switch
	 * there would be unsound, and the handler would refuse every time anyway. Off, said. */
	mn_preempt_ok = 0;
#endif
}

uint64_t mn_preemptions(void)
{
	return atomic_load(&mn_npreempt);
}

int mn_preempt_enabled(void)
{
	mn_text_init();
	return mn_preempt_ok;
}

static const void *mn_sig_pc(void *ucv)
{
	ucontext_t *uc = ucv;
#if defined(__x86_64__)
	return (const void *)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
	return (const void *)uc->uc_mcontext.pc;
#else
	(void)uc;
	return NULL; /* unknown layout: never preempt */
#endif
}

static void mn_preempt_hook(mn_g *prev, void *arg)
{
	(void)arg;
	mn_gq_put1(prev); /* like Go: a preempted G goes to the global queue */
	/* This thread left its SIGURG handler by switching G, so the kernel never unblocked
	 * SIGURG for it: do it now, or none of its next Gs could be preempted. */
	sigset_t urg;
	sigemptyset(&urg);
	sigaddset(&urg, SIGURG);
	pthread_sigmask(SIG_UNBLOCK, &urg, NULL);
}

/* SIGURG, SIGURG blocked while it runs. Checks everything listed in the design comment,
 * then parks the G from inside the handler; when the G is resumed (maybe on another M) the
 * handler returns and sigreturn restores the interrupted registers. */
static void mn_sigurg(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	ucontext_t *uc = ucv;
	int saved = *mn__errno();
	mn_m *m = mn_getm();
	if (m)
		m->sigurgs++; /* a blocking call this cut short is restarted (mn_restart.c) */
	mn_g *g = m ? m->curg : NULL;
	mn_p *p = m ? m->p : NULL;
	if (!g || !p || g->in_rt || g->status != G_RUNNING || !mn_preempt_ok ||
	    atomic_load(&p->status) != P_RUNNING || !atomic_load(&p->preempt_req) ||
	    atomic_load(&p->preempt_tick) != atomic_load(&p->schedtick) ||
	    !mn_in_text(mn_sig_pc(uc))) {
		*mn__errno() = saved;
		return;
	}
	atomic_store(&p->preempt_req, 0);
	g->in_rt = 1;
	atomic_fetch_add_explicit(&mn_npreempt, 1, memory_order_relaxed);
	g->status = G_RUNNABLE;
	/* As Go's schedule() does, look at the P's timers before choosing: a sleeper whose
	 * deadline passed behind this G (often why it is preempted) runs next. */
	int64_t t = mn__now();
	if (atomic_load_explicit(&p->tnext, memory_order_relaxed) <= t)
		mn__timers_run(p, t);
	mn_switch(g, mn_next_local(p), mn_preempt_hook, NULL);
	/* Resumed, perhaps on another thread: sigreturn must restore this thread's own signal
	 * mask and alternate stack, not those of the thread the signal was taken on. */
	mn_m *now = g->m;
	pthread_sigmask(SIG_SETMASK, NULL, &uc->uc_sigmask);
	sigdelset(&uc->uc_sigmask, SIGURG);
	uc->uc_stack = (stack_t){.ss_sp = now->altstack, .ss_size = 64 * 1024};
	*mn__errno() = saved; /* the G's errno, on whichever thread resumed it */
	g->in_rt = 0;         /* last: from here on a new preemption is harmless */
}

/* The G whose stack guard holds addr, or NULL (set *guard when addr is in a guard at all).
 * Slabs are laid out guard first, stride after stride (coro_stack_alloc_many). */
static mn_g *mn_guard_owner(const void *addr, int *guard)
{
	uintptr_t a = (uintptr_t)addr, stride = mn_sched.stack_stride;
	*guard = 0;
	for (int i = 0; stride && i < mn_sched.nslabs; i++) {
		uintptr_t base = (uintptr_t)mn_sched.slabs[i];
		if (a < base || a >= base + mn_sched.slab_sizes[i])
			continue;
		uintptr_t off = (a - base) % stride;
		if (off >= mn_sched.stack_guard)
			return NULL; /* inside a stack, not its guard */
		*guard = 1;
		coro_stack s = {.lo = (void *)(a - off + mn_sched.stack_guard)};
		return *mn_stack_owner(&s, stride - mn_sched.stack_guard);
	}
	return NULL;
}

static void mn_sigsegv(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	int guard;
	mn_g *g = mn_guard_owner(si->si_addr, &guard);
	if (guard) {
		char msg[256];
		Dl_info di;
		if (g) {
			const char *name =
				dladdr((void *)g->fn, &di) && di.dli_sname ? di.dli_sname : "?";
			snprintf(msg, sizeof msg,
				 "task stack overflow: G %llu (entry %p %s) ran past its %zu KiB "
				 "stack",
				 (unsigned long long)g->id, (void *)g->fn, name,
				 mn_sched.stack_size / 1024);
		} else {
			snprintf(msg, sizeof msg, "fault in the guard of a free G stack at %p",
				 si->si_addr);
		}
		if (mn_sched.cfg.on_stack_overflow)
			mn_sched.cfg.on_stack_overflow(msg);
		dprintf(2, "mn: %s\n", msg);
	}
	signal(sig, SIG_DFL); /* re-executing the access now kills the process */
}

/* Is m's thread blocked in the kernel (a system call its G made without entersyscall:
 * usleep, poll, a blocking read)? Then a preemption signal would only cut that call short:
 * nanosleep, poll, epoll_wait and select fail with EINTR even under SA_RESTART. The state
 * is the one after the command name in /proc/self/task/<tid>/stat: S or D while blocked,
 * R while running or runnable. Read by sysmon only, before it signals; a G that blocks in
 * the microseconds between this look and the signal can still get EINTR. */
static int mn_thread_blocked(mn_m *m, int tid)
{
	char buf[512];
	if (m->statfd < 0) {
		snprintf(buf, sizeof buf, "/proc/self/task/%d/stat", tid);
		m->statfd = open(buf, O_RDONLY | O_CLOEXEC);
		if (m->statfd < 0)
			return 0;
	}
	ssize_t n = pread(m->statfd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && (paren[2] == 'S' || paren[2] == 'D');
}

static void *mn_sysmon(void *arg)
{
	(void)arg;
	/* How long sysmon sleeps. Go polls every 20 us while it has acted recently, backing
	 * off to 10 ms. Here it polls every 20 us only while system calls are being made (a P
	 * in a syscall must be retaken ~20 us in) or it has just acted, and otherwise sleeps
	 * until the next thing it has to do: the running Gs' preemption deadlines, a sleeper's
	 * deadline behind a G that has had 1 ms, the next network poll; at most `cap`, so that
	 * a G that started meanwhile is noticed (preempted at most cap late). Polling every
	 * 20 us throughout a CPU-bound run cost ~10% of a core, taken from the Gs. */
	const int64_t fast = 20000;
	int64_t cap = 10000000;
	int quiet = 0;             /* rounds since sysmon last acted or saw a system call */
	if (mn_sched.preempt_ns > 0 && mn_sched.preempt_ns / 5 < cap)
		cap = mn_sched.preempt_ns / 5;
	if (cap < fast)
		cap = fast;
	int64_t wait = fast;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (!atomic_load(&mn_sched.stopping)) {
		if (atomic_load(&mn_sched.npidle) == mn_sched.nprocs) {
			/* nothing runs: nothing to preempt or retake; a blocked poller owns the
			 * timers. Sleep until a P is acquired (or the run stops). */
			atomic_store(&mn_sysmon_asleep, 1);
			if (atomic_load(&mn_sched.npidle) == mn_sched.nprocs)
				wait = -1;
			else
				atomic_store(&mn_sysmon_asleep, 0);
		}
		mn_futex_wait(&mn_sysmon_word, 0, wait);
		atomic_store(&mn_sysmon_word, 0);
		if (wait < 0) {
			atomic_store(&mn_sysmon_asleep, 0);
			quiet = 0;
		}
		if (atomic_load(&mn_sched.stopping))
			break;
		int64_t now = mn__now(), next = now + cap;
		/* the longest this round may sleep, published before the Ps are looked at: a
		 * deadline set during the look and missed by it still wakes sysmon */
		atomic_store(&mn_sysmon_until, next);
		int acted = 0;
		if (mn__netpoll_waiters() && !atomic_load(&mn_sched.polling)) {
			int64_t due = atomic_load(&mn_sched.last_poll) + 10000000;
			if (now >= due) {
				mn_g *list = mn__netpoll(0);
				if (list) {
					mn__inject(list);
					acted = 1;
				}
				due = now + 10000000;
			}
			if (due < next)
				next = due;
		}
		if (atomic_load(&mn_sched.npidle) && !atomic_load(&mn_sched.nmspinning) &&
		    !atomic_load(&mn_sched.polling)) {
			int64_t t = mn__timers_next();
			if (t <= now) {
				mn_wakep(); /* overdue timers and nobody to run them */
				acted = 1;
			} else if (t < next) {
				next = t;
			}
		}
		for (int i = 0; i < mn_sched.nprocs; i++) {
			mn_p *p = &mn_sched.allp[i];
			int st = atomic_load(&p->status);
			uint32_t sct = atomic_load(&p->syscalltick);
			if (p->sm_sctick != sct) {
				p->sm_sctick = sct; /* system calls are being made: poll fast */
				p->sm_sctime = now;
				quiet = 0;
			}
			if (st == P_SYSCALL) {
				quiet = 0;
				if (now - p->sm_sctime >= mn_sched.syscall_ns &&
				    atomic_compare_exchange_strong(&p->status, &st, P_IDLE)) {
					mn_handoffp(p);
					acted = 1;
				}
			} else if (st == P_RUNNING) {
				uint32_t t = atomic_load_explicit(&p->schedtick, memory_order_relaxed);
				mn_m *pm = atomic_load(&p->m);
				int tid = pm ? atomic_load(&pm->tid) : 0;
				int stuck = p->sm_tick == t; /* same G as at the last look */
				if (!stuck) {
					p->sm_tick = t;
					p->sm_when = now;
				}
				if (mn_sched.preempt_ns <= 0 || !tid)
					continue;
				/* due: the G's time slice is up, or a sleeper's deadline has passed
				 * behind a G that has had 1 ms (Go would let it wait out the 10 ms) */
				int64_t tn = atomic_load(&p->tnext);
				int64_t due = p->sm_when + mn_sched.preempt_ns;
				int64_t early = tn > p->sm_when + 1000000 ? tn : p->sm_when + 1000000;
				if (tn != INT64_MAX && early < due)
					due = early;
				if (due < p->sm_signalled + 1000000) /* again every 1 ms while the G */
					due = p->sm_signalled + 1000000; /* sits somewhere unsafe */
				if (stuck && now >= due && mn_thread_blocked(pm, tid)) {
					p->sm_signalled = now; /* look again in 1 ms */
					due = now + 1000000;
				} else if (stuck && now >= due) {
					atomic_store(&p->preempt_tick, t);
					atomic_store(&p->preempt_req, 1);
					p->sm_signalled = now;
					syscall(SYS_tgkill, (int)getpid(), tid, SIGURG);
					due = now + 1000000;
				}
				if (due < next)
					next = due;
				if (stuck && !mn_runq_empty(p) && atomic_load(&mn_sched.npidle) &&
				    !atomic_load(&mn_sched.nmspinning)) {
					mn_wakep(); /* work queued behind a G that kept the P a tick */
					acted = 1;
				}
			}
		}
		if (acted)
			quiet = 0;
		if (quiet++ < 50) {
			wait = fast;
		} else {
			wait = next - now;
			if (wait < fast)
				wait = fast;
			if (wait > cap)
				wait = cap;
		}
		atomic_store(&mn_sysmon_until, now + wait);
	}
	return NULL;
}

/* ---- a run --------------------------------------------------------------------------------- */

static struct sigaction mn_old_urg, mn_old_segv, mn_old_bus;

static void mn_install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = mn_sigurg;
	/* not SA_ONSTACK: the handler may switch Gs, so it must run on the G's stack */
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGURG, &sa, &mn_old_urg);
	sa.sa_sigaction = mn_sigsegv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	/* a preemption inside the fault handler would save a G's context on the alternate
	 * stack, which the next signal on this M reuses */
	sigaddset(&sa.sa_mask, SIGURG);
	sigaction(SIGSEGV, &sa, &mn_old_segv);
	sigaction(SIGBUS, &sa, &mn_old_bus);
}

/* Memory a run leaves behind for the next one in the same process: the stack slabs (with
 * every stack in them free and its touched pages still resident) and the G blocks. A Go
 * process keeps its stack and heap spans the same way and returns them to the kernel
 * lazily; a repetition that follows another one therefore runs warm, as a long-lived Go
 * program does, and mn_config.cold (a workload that measures memory) starts from none. */
static struct mn_kept {
	void **slabs;
	size_t *slab_sizes;
	int nslabs, slabcap;
	coro_stack *stacks;
	int nstacks, stackcap;
	size_t stack_size;
	mn_g **gblocks;
	int ngblocks, gblockcap;
} mn_kept;

void mn_release(void)
{
	for (int i = 0; i < mn_kept.nslabs; i++)
		munmap(mn_kept.slabs[i], mn_kept.slab_sizes[i]);
	free(mn_kept.slabs);
	free(mn_kept.slab_sizes);
	free(mn_kept.stacks);
	for (int i = 0; i < mn_kept.ngblocks; i++)
		free(mn_kept.gblocks[i]);
	free(mn_kept.gblocks);
	memset(&mn_kept, 0, sizeof mn_kept);
}

size_t mn_kept_stacks(void)
{
	return (size_t)mn_kept.nstacks;
}

/* At the start of a run: adopt what the previous run kept (unless told to start cold or
 * the stack size differs). Every G of a kept block is free: the last run joined them all. */
static void mn_adopt_kept(int cold)
{
	if (cold || mn_kept.stack_size != mn_sched.stack_size)
		mn_release();
	mn_sched.slabs = mn_kept.slabs;
	mn_sched.slab_sizes = mn_kept.slab_sizes;
	mn_sched.nslabs = mn_kept.nslabs;
	mn_sched.slabcap = mn_kept.slabcap;
	mn_sched.gstacks = mn_kept.stacks;
	mn_sched.ngstacks = mn_kept.nstacks;
	mn_sched.gstackcap = mn_kept.stackcap;
	mn_sched.allg_blocks = mn_kept.gblocks;
	mn_sched.nallg = mn_kept.ngblocks;
	mn_sched.allgcap = mn_kept.gblockcap;
	for (int b = 0; b < mn_sched.nallg; b++)
		for (int i = 0; i < MN_GBLOCK; i++) {
			mn_g *g = &mn_sched.allg_blocks[b][i];
			g->status = G_IDLE;
			g->link = mn_sched.gfree;
			mn_sched.gfree = g;
			mn_sched.ngfree++;
		}
	memset(&mn_kept, 0, sizeof mn_kept);
}

/* At the end of a run: hand the stacks (the Ps' caches included) and G blocks to the next
 * run; release everything else. */
static void mn_free_all(void)
{
	int total = mn_sched.ngstacks;
	for (int i = 0; i < mn_sched.nprocs; i++)
		total += mn_sched.allp[i].nstacks;
	coro_stack *all = total > mn_sched.gstackcap
				  ? realloc(mn_sched.gstacks, sizeof(coro_stack) * (size_t)total)
				  : mn_sched.gstacks;
	if (all) {
		mn_sched.gstacks = all;
		if (total > mn_sched.gstackcap)
			mn_sched.gstackcap = total;
		for (int i = 0; i < mn_sched.nprocs; i++) {
			mn_p *p = &mn_sched.allp[i];
			while (p->nstacks)
				mn_sched.gstacks[mn_sched.ngstacks++] = p->stacks[--p->nstacks];
		}
	}
	mn_kept = (struct mn_kept){
		mn_sched.slabs, mn_sched.slab_sizes, mn_sched.nslabs, mn_sched.slabcap,
		mn_sched.gstacks, mn_sched.ngstacks, mn_sched.gstackcap, mn_sched.stack_size,
		mn_sched.allg_blocks, mn_sched.nallg, mn_sched.allgcap};
	if (!all && total) /* no memory to list the Ps' stacks: let everything go */
		mn_release();
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
		munmap(m->altstack, 64 * 1024);
		if (m->statfd >= 0)
			close(m->statfd);
		free(m);
	}
}

/* The guard below each G stack. mn and the code run on G stacks are built with
 * -fstack-clash-protection (Makefile), so no compiled frame moves the stack pointer a page
 * or more without touching each page on the way. What remains is the kernel's signal
 * frame (SIGURG lands on the G's stack), written below the 128-byte red zone in one piece,
 * lowest address first: the guard must be deeper than the largest frame the kernel builds
 * (AT_MINSIGSTKSZ: 3.3 KiB with AVX-512, ~11 KiB with AMX), and at least MN_GUARD_MIN for
 * library code built without probes. A guard region costs address space only. */
#define MN_GUARD_MIN (16 * 1024)
#define MN_RED_ZONE 128

static size_t mn_guard_size(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), frame = (size_t)getauxval(AT_MINSIGSTKSZ);
	size_t guard = frame + MN_RED_ZONE + page;
	if (guard < MN_GUARD_MIN)
		guard = MN_GUARD_MIN;
	return (guard + page - 1) & ~(page - 1);
}

uint64_t mn_main(const mn_config *cfg, mn_fn root, const void *arg, size_t len)
{
	memset(&mn_sched, 0, sizeof mn_sched);
	mn_sched.cfg = *cfg;
	mn_sched.nprocs = cfg->procs > 0 ? cfg->procs : (int)sysconf(_SC_NPROCESSORS_ONLN);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	mn_sched.stack_size = cfg->stack_size ? cfg->stack_size : 64 * 1024;
	if (mn_sched.stack_size < MN_STACK_MIN)
		mn_fatal("stack_size is below MN_STACK_MIN: the runtime's own frames do not fit");
	mn_sched.stack_size = (mn_sched.stack_size + page - 1) & ~(page - 1);
	mn_sched.stack_guard = mn_guard_size();
	mn_sched.stack_stride = mn_sched.stack_size + mn_sched.stack_guard;
	mn_sched.preempt_ns = cfg->preempt_ns ? cfg->preempt_ns : 10000000;
	mn_sched.syscall_ns = cfg->syscall_ns ? cfg->syscall_ns : 20000;
	mn_sched.poll_until = INT64_MAX;
	mn_sched.gid = 1;
	mn_adopt_kept(cfg->cold);
	if (posix_memalign((void **)&mn_sched.allp, 64, sizeof(mn_p) * (size_t)mn_sched.nprocs))
		mn_fatal("out of memory for Ps");
	memset(mn_sched.allp, 0, sizeof(mn_p) * (size_t)mn_sched.nprocs);
	mn__lock(&mn_sched.lk);
	for (int i = mn_sched.nprocs - 1; i >= 0; i--) {
		mn_p *p = &mn_sched.allp[i];
		p->id = i;
		p->tnext = INT64_MAX;
		p->stacks = malloc(sizeof(coro_stack) * MN_STACK_CACHE);
		if (!p->stacks)
			mn_fatal("out of memory for Ps");
		if (i)
			mn_pidle_put(p);
	}
	mn_m *m0 = mn_newm();
	mn__unlock(&mn_sched.lk);
	if (mn__netpoll_init())
		mn_fatal("cannot create the netpoller");
	mn_text_init();
	mn_install_signals();
	mn_m_init(m0);
	mn_acquirep(m0, &mn_sched.allp[0]);
	if (pthread_create(&mn_sysmon_thread, NULL, mn_sysmon, NULL))
		mn_fatal("cannot start sysmon");
	if (cfg->on_thread)
		cfg->on_thread(+1);

	mn_g *g = mn_newg(m0->p, root, arg, len);
	if (!g)
		mn_fatal("cannot create the root G");
	mn_sched.root = g;
	mn_runq_put(m0->p, g, 1);
	mn_schedule(m0);

	/* stopping: every G has ended. sysmon first (it may start Ms), then the Ms. */
	atomic_store(&mn_sysmon_asleep, 0);
	atomic_store(&mn_sysmon_word, 1);
	mn_futex_wake(&mn_sysmon_word);
	pthread_join(mn_sysmon_thread, NULL);
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
	mn_sysmon_word = 0;
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
