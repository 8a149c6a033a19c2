/* mn_impl.h: the scheduler's structures, shared by the files of models/mn only. */
#ifndef MN_IMPL_H
#define MN_IMPL_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "coro/coro.h"
#include "mn.h"

/* Happens-before edges that ThreadSanitizer cannot see, because they go through the kernel
 * by a path it does not intercept: release where the object is handed off, acquire where it
 * is taken. Each use says which edge it stands for; in other builds they are nothing. */
#ifdef CORO_TSAN
#include <sanitizer/tsan_interface.h>
#define MN_TSAN_RELEASE(addr) __tsan_release(addr)
#define MN_TSAN_ACQUIRE(addr) __tsan_acquire(addr)
#else
#define MN_TSAN_RELEASE(addr) ((void)(addr))
#define MN_TSAN_ACQUIRE(addr) ((void)(addr))
#endif

#define MN_RUNQ 256 /* local run queue slots per P (Go's size) */
#define MN_GBLOCK 256 /* Gs allocated at a time (mn_stack.c) */
#define MN_STACK_CACHE 64 /* stacks a P caches before it spills half to the global cache */
/* Each M's alternate signal stack, where the SIGSEGV/SIGBUS handlers run (a G's stack may be
 * the one that overflowed): room for the kernel's frame (~11 KiB with AMX) and the guard
 * report's dladdr and snprintf. */
#define MN_ALTSTACK (64 * 1024)

enum { G_IDLE, G_RUNNABLE, G_RUNNING, G_WAITING, G_SYSCALL, G_DEAD };
enum { P_IDLE, P_RUNNING, P_SYSCALL };
/* A G's stack-shrinking state, mn_g.sstate (mn_shrink.c) */
enum { S_RUN, S_PARKED, S_OLD, S_SHRINKING, S_SHRUNK, S_RESTORED, S_NOSTACK };

typedef struct mn_m mn_m;
typedef struct mn_p mn_p;

/* A slice of the global run queue: G pointers in an array, so that moving a batch between
 * a P and the global queue copies pointers without touching the Gs themselves. */
typedef struct mn_gbatch {
	struct mn_gbatch *next;
	int head, n;
	mn_g *g[MN_RUNQ / 2 + 1];
} mn_gbatch;

/* A goroutine-style waiter on a channel, mutex or fd (Go's sudog). Sudogs come from a per-P
 * cache, never from the waiting G's stack: other threads link and unlink them while the G
 * is parked, and a parked G's stack may be shrunk (mn_shrink.c: its pages given back). */
/* Shrunk stacks' buffers (mn_shrink.c): classes of MN_SBUF_GRAIN bytes up to MN_SBUF_MAX
 * (deeper frames take a malloc), MN_SBUF_CACHE free ones per class on a P. */
#define MN_SBUF_GRAIN 32
#define MN_SBUF_MAX 2048
#define MN_SBUF_CLASSES (MN_SBUF_MAX / MN_SBUF_GRAIN)
#define MN_SBUF_CACHE 32
#define MN_SUDOG_CACHE 128 /* sudogs a P keeps (it spills down to this at twice as many) */
typedef struct mn_sudog {
	mn_g *g;
	void *elem;        /* where the waker copies to or from: buf, the waiter's element, NULL */
	struct mn_sudog *next, *prev; /* wait queue; next also links the free caches */
	atomic_int *sel;   /* select: shared "decided" flag; NULL for a plain wait (and free) */
	int success;       /* set by the waker: 1 done, 0 woken by close */
	int idx;           /* select case index */
	atomic_int decided; /* select: the flag all its cases share, in the first case's sudog */
} mn_sudog;

struct mn_g { /* 192 bytes: three cache lines, the fields of spawn, run and join first */
	coro ctx;
	mn_m *m;                  /* M running it (valid while running) */
	mn_g *link;               /* global queue, free lists, ready lists */
	int in_rt;                /* >0: inside the runtime; async preemption must not switch */
	uint16_t status;
	uint16_t has_stack;
	_Atomic uint32_t sstate;  /* S_RUN...: shrinking of its stack (mn_shrink.c) */
	uint32_t len;             /* argument bytes */
	uint64_t id;
	mn_fn fn;
	union {
		uint64_t result;  /* once it has ended */
		mn_sudog *wake;   /* while it runs: the select case that woke it */
	};
	_Atomic(uintptr_t) join;  /* 0, MN_JOIN_DONE, or the joining G */
	union {
		unsigned char *argp; /* until it starts: arg, or a malloc'd copy of a long one */
		void *sbuf;          /* once started: its stack's bytes while shrunk */
	};
	unsigned char arg[MN_ARG_INLINE] __attribute__((aligned(16)));
};
_Static_assert(sizeof(mn_g) % 64 == 0, "a G spans whole cache lines");
#define MN_JOIN_DONE ((uintptr_t)1)

/* A sleeping G in its P's timer heap (the deadline kept inline for the comparisons). */
typedef struct mn_timer {
	int64_t when;
	mn_g *g;
} mn_timer;

/* Hook run right after a switch, on the context switched to: it publishes the G that was
 * switched away from (now safely off its stack), e.g. unlocks the channel it waits on. */
typedef void (*mn_hook)(mn_g *prev, void *arg);

struct mn_p {
	int id;
	_Atomic int status;
	_Atomic(mn_m *) m;         /* M holding it (sysmon signals it) */
	_Atomic uint32_t schedtick; /* Gs started on this P */
	_Atomic uint32_t syscalltick;
	_Atomic uint32_t head;     /* run queue: consumers CAS head */
	_Atomic uint32_t tail;     /* only the owner stores tail */
	_Atomic(mn_g *) runq[MN_RUNQ];
	_Atomic(mn_g *) runnext;
	mn_p *link;                /* idle list */
	/* caches: no lock, owner only */
	mn_g *gfree;
	int ngfree;
	coro_stack *stacks;
	int nstacks;
	mn_sudog *sudogs;
	int nsudogs;
	struct mn_sbuf *sbufs[MN_SBUF_CLASSES]; /* free shrink buffers by class (mn_shrink.c) */
	uint16_t nsbufs[MN_SBUF_CLASSES];
	/* timers of Gs sleeping, a 4-ary min-heap on when (mn_time.c) */
	int tlk;
	struct mn_timer *theap;
	int tn, tcap;
	_Atomic int64_t tnext;     /* earliest when, INT64_MAX if none */
	uint64_t gid_next, gid_end; /* batch of G ids */
	_Atomic int64_t live;      /* Gs spawned minus Gs ended on this P (owner writes) */
	uint32_t yields;           /* mn_yield calls that found nothing else to run */
	_Atomic uint32_t preempt_tick; /* sysmon asks the G started at this tick to yield */
	_Atomic int preempt_req;
	/* sysmon's view */
	uint32_t sm_tick, sm_sctick;
	int64_t sm_when, sm_signalled, sm_sctime;
	_Atomic int64_t syscall_when;
};

struct mn_m {
	mn_g *curg;                /* first: mn__getg reads it from assembly */
	coro g0;                   /* the thread's own stack: runs the scheduler */
	mn_p *p;
	mn_p *nextp;               /* handed over by startm */
	int spinning;
	int id;
	_Atomic int park;          /* futex word */
	mn_m *link;                /* idle list */
	pthread_t thread;
	int has_thread;
	_Atomic int tid;           /* kernel thread id, set by the thread itself (preemption) */
	mn_g *nextg;               /* to run next, handed to g0 to give it a stack first */
	mn_sudog *sudog;           /* a free sudog (mn__sudog_get) */
	mn_chan **sel_order;       /* the channels a parking select unlocks (its hook's) */
	int sel_n;
	mn_hook hook;
	void *hook_arg;
	mn_g *hook_g;
	uint64_t rnd;
	void *altstack;
	int statfd;                /* sysmon's /proc/self/task/<tid>/stat of this M, or -1 */
	volatile unsigned sigurgs; /* SIGURGs this M took (mn_restart.c) */
	mn_m *alllink;
};

/* Scheduler internals used by the other files. */
mn_g *mn__getg(void);
mn_m *mn__getm(void);                     /* this thread's M, or NULL (mn_preempt.c) */
void mn__setm(mn_m *m);
/* Switch away from self, the running G, waiting. hook must call mn__parked(prev) before it
 * publishes prev, and must read nothing on prev's stack (mn_shrink.c). */
void mn__park(mn_g *self, mn_hook hook, void *arg);
void mn__ready(mn_g *g, int next);        /* make g runnable (runnext if next) */
void mn__ready_by(mn_g *self, mn_g *g, int next); /* the same, from the running G self */
void mn__inject(mn_g *list);              /* ready a list from outside any P */
/* switch from the running G g to next (NULL: to g0), hook to run once g is off its stack */
void mn__switch(mn_g *g, mn_g *next, mn_hook hook, void *arg);
mn_g *mn__next_local(mn_p *p);            /* a G to switch to directly, or NULL */
void mn__lock_slow(int *lk);
/* Spinlocks over short critical sections: the uncontended path inline. */
static inline void mn__lock(int *lk)
{
	if (__builtin_expect(__atomic_exchange_n(lk, 1, __ATOMIC_ACQUIRE), 0))
		mn__lock_slow(lk);
}
static inline void mn__unlock(int *lk)
{
	__atomic_store_n(lk, 0, __ATOMIC_RELEASE);
}
void mn__unlock_hook(mn_g *prev, void *lk);
static inline void mn__cpu_relax(void) /* in a spin loop */
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}
_Noreturn void mn__fatal(const char *msg); /* out of a resource the run cannot go on without */
int64_t mn__now(void);
int *mn__errno(void);                     /* errno of the thread running now */
void mn__futex_wait(_Atomic int *w, int val, int64_t timeout_ns); /* timeout < 0: none */
void mn__futex_wake(_Atomic int *w);
void mn__wakep(void);                     /* start a spinning M if Ps idle and none spins */
void mn__handoffp(mn_p *p);               /* a P taken from a syscall: to an M, or idle */
uint32_t mn__fastrand(void);              /* per-M xorshift */
static inline void mn__enter(mn_g *g) { g->in_rt++; }
static inline void mn__leave(mn_g *g) { g->in_rt--; }

/* Waiter queues (FIFO), doubly linked through the sudogs. */
static inline void mn__wq_push(mn_waitq *q, mn_sudog *s)
{
	s->next = NULL;
	s->prev = q->tail;
	if (q->tail)
		q->tail->next = s;
	else
		q->head = s;
	q->tail = s;
}

static inline void mn__wq_remove(mn_waitq *q, mn_sudog *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else if (q->head == s)
		q->head = s->next;
	else
		return; /* not queued */
	if (s->next)
		s->next->prev = s->prev;
	else
		q->tail = s->prev;
	s->next = s->prev = NULL;
}

/* The first waiter, skipping select waiters that another case has already decided. */
static inline mn_sudog *mn__wq_pop(mn_waitq *q)
{
	for (;;) {
		mn_sudog *s = q->head;
		if (!s)
			return NULL;
		mn__wq_remove(q, s);
		if (s->sel) {
			int z = 0;
			/* a select waits on several queues: the first waker to decide wins */
			if (!atomic_compare_exchange_strong(s->sel, &z, 1))
				continue;
		}
		return s;
	}
}

/* Run queues (mn_runq.c). Only p's owner puts and gets; any M steals. */
static inline int mn__runq_empty(mn_p *p) /* ring and runnext */
{
	return atomic_load_explicit(&p->head, memory_order_acquire) ==
		       atomic_load_explicit(&p->tail, memory_order_acquire) &&
	       !atomic_load_explicit(&p->runnext, memory_order_acquire);
}
int mn__runq_put(mn_p *p, mn_g *g, int next); /* 1 when the ring grew (worth waking a thief) */
mn_g *mn__runq_get_ring(mn_p *p);
static inline mn_g *mn__runq_get(mn_p *p) /* runnext first, then the ring; NULL if empty */
{
	mn_g *g = atomic_load_explicit(&p->runnext, memory_order_relaxed);
	if (g && atomic_compare_exchange_strong(&p->runnext, &g, NULL))
		return g;
	return mn__runq_get_ring(p); /* a call, as it was before the split (gcc's part.0) */
}
mn_g *mn__runq_steal(mn_p *p, mn_p *victim, int stealnext); /* half of victim's ring */
void mn__gq_put(mn_g *const *gs, int n);      /* append to the global queue */
static inline void mn__gq_put1(mn_g *g)
{
	mn__gq_put(&g, 1);
}
mn_g *mn__gq_get(mn_p *p, int max);           /* one to run, a batch more onto p's ring */

/* Gs and stacks (mn_stack.c). The caches of p belong to its owner. */
/* The fast paths of spawn and exit stay inline, as they were before the split. */
mn_g *mn__galloc_slow(mn_p *p);
static inline mn_g *mn__galloc(mn_p *p) /* a free G, NULL when out of memory */
{
	mn_g *g = p->gfree;
	if (!g)
		return mn__galloc_slow(p);
	p->gfree = g->link;
	p->ngfree--;
	return g;
}
void mn__gfree(mn_p *p, mn_g *g);
int mn__stack_refill(mn_p *p);                /* on g0 only: may map a slab */
static inline int mn__stack_get(mn_p *p, coro_stack *out)
{
	if (!p->nstacks && mn__stack_refill(p))
		return -1;
	*out = p->stacks[--p->nstacks];
	return 0;
}
void mn__stack_spill(mn_p *p);
static inline void mn__stack_put(mn_p *p, const coro_stack *s)
{
	if (p->nstacks == MN_STACK_CACHE)
		mn__stack_spill(p);
	p->stacks[p->nstacks++] = *s;
}
/* Sudogs (mn_stack.c): taken by a G that is about to wait, given back once it has resumed
 * (Go's acquireSudog/releaseSudog), on the M it runs on: one in the M's own slot (a G that
 * parks usually resumes after another G's sudog came back on the same M), the rest in the
 * P's cache, which spills to and refills from a global list. */
mn_sudog *mn__sudog_refill(mn_p *p);
void mn__sudog_spill(mn_p *p);
static inline mn_sudog *mn__sudog_get(mn_g *self)
{
	mn_m *m = self->m;
	mn_sudog *s = m->sudog;
	if (__builtin_expect(s != NULL, 1)) {
		m->sudog = NULL;
		return s;
	}
	mn_p *p = m->p;
	if (__builtin_expect(!(s = p->sudogs), 0))
		return mn__sudog_refill(p);
	p->sudogs = s->next;
	p->nsudogs--;
	return s;
}
static inline void mn__sudog_put(mn_g *self, mn_sudog *s)
{
	mn_m *m = self->m;
	if (__builtin_expect(!m->sudog, 1)) {
		m->sudog = s;
		return;
	}
	mn_p *p = m->p;
	s->next = p->sudogs;
	p->sudogs = s;
	if (__builtin_expect(++p->nsudogs > 2 * MN_SUDOG_CACHE, 0))
		mn__sudog_spill(p);
}
void mn__sudog_free_all(void);               /* at a run's end */
/* The top MN_STACK_OWNER bytes of every G stack hold the G that owns it (NULL while the
 * stack is free), so that a fault in any guard names its G, whichever M or context took it.
 * 16 keeps the coroutine's top 16-byte aligned. */
#define MN_STACK_OWNER 16

static inline mn_g **mn__stack_owner(const coro_stack *s, size_t size)
{
	return (mn_g **)((char *)s->lo + size - sizeof(mn_g *));
}

void mn__sigsegv(int sig, siginfo_t *si, void *uc); /* names the G whose guard was hit */
void mn__adopt_kept(int cold);                /* at a run's start: what the last run kept */
void mn__keep_stacks(void);                   /* at a run's end: keep stacks and G blocks */
size_t mn__guard_size(void);                  /* bytes of guard below each G stack */

/* Stack shrinking (mn_shrink.c). */
void mn__unshrink(mn_g *g, uint32_t old);
void mn__resume_slow(mn_g *g);
void mn__sbuf_free_all(void);             /* at a run's end */
int64_t mn__shrink_tick(int64_t now, int *pending); /* sysmon: a pass if due; the next due */
/* A waker about to copy into or out of a parked G's element (which may be on its stack):
 * the G is no longer shrinkable, and its stack is back. */
static inline void mn__claim(mn_g *g)
{
	uint32_t old = atomic_exchange_explicit(&g->sstate, S_RUN, memory_order_acq_rel);
	if (__builtin_expect(old >= S_SHRINKING, 0))
		mn__unshrink(g, old);
}
/* The hooks that publish a parked G (mn__park's) call this first: its context is saved now
 * (the hook runs after the switch), and it becomes shrinkable before a waker can claim it. */
static inline void mn__parked(mn_g *g)
{
	atomic_store_explicit(&g->sstate, S_PARKED, memory_order_release);
}

/* Async preemption (mn_preempt.c). */
void mn__text_init(void);                 /* where the program's own text is; once */
void mn__sigurg(int sig, siginfo_t *si, void *ucv);

/* sysmon (mn_sysmon.c). */
extern _Atomic int mn__sysmon_asleep;     /* sysmon sleeps until a P gets busy */
void mn__sysmon_wake(void);               /* a P got busy */
void mn__sysmon_deadline(int64_t when);   /* a deadline sysmon must watch */
void mn__sysmon_start(void);
void mn__sysmon_stop(void);

/* Timers (mn_time.c). */
int mn__timers_run(mn_p *p, int64_t now); /* ready the expired sleepers of p; how many */
int64_t mn__timers_next(void);               /* earliest over all Ps */
void mn__timers_free(mn_p *p);

/* Netpoller (mn_net.c). */
int mn__netpoll_init(void);
void mn__netpoll_close(void);
mn_g *mn__netpoll(int64_t timeout_ns);       /* ready Gs; timeout < 0 blocks */
void mn__netpoll_break(void);
int mn__netpoll_waiters(void);

extern struct mn_sched mn_sched;
struct mn_sched {
	int lk;
	int nprocs;
	mn_p *allp;
	mn_p *pidle;
	_Atomic int npidle;
	_Atomic int nmspinning;
	mn_m *midle;
	int nmidle;
	int mcount;
	mn_m *allm;
	struct mn_gbatch *gq_first, *gq_last; /* global run queue: arrays of G pointers */
	struct mn_gbatch *gq_free;
	_Atomic int gq_n;
	mn_g *root;
	_Atomic int root_done;
	_Atomic int stopping;
	_Atomic int polling;       /* an M is blocked in the netpoller */
	_Atomic int64_t poll_until;
	_Atomic int64_t last_poll;
	_Atomic uint64_t gid;
	size_t stack_size;
	size_t stack_guard;        /* bytes of guard below each G stack */
	size_t stack_stride;       /* guard + stack: the layout of a slab (coro_stack_alloc_many) */
	int64_t preempt_ns, syscall_ns;
	int64_t shrink_ns;         /* <= 0: stacks are never shrunk */
	int64_t shrink_next;       /* sysmon's: the next pass */
	int64_t shrink_pending;    /* parked Gs the last pass left unshrunk */
	_Atomic uint64_t shrink_seq;   /* passes begun */
	_Atomic uint64_t shrink_quiet; /* the last pass that left none parked unshrunk */
	_Atomic(mn_g *) settler;   /* the G in mn_shrink_settle, which passes skip */
	mn_config cfg;
	void **slabs;              /* stack regions, unmapped at teardown */
	size_t *slab_sizes;
	int nslabs, slabcap;
	int slk;
	coro_stack *gstacks;       /* stacks beyond the per-P caches */
	int ngstacks, gstackcap;
	mn_g *gfree;               /* Gs beyond the per-P caches */
	int ngfree;
	mn_sudog *sudogs;          /* sudogs beyond the per-P caches */
	int nsudogs;
	void *sudog_blocks;        /* every sudog allocation, freed at a run's end */
	mn_g **allg_blocks;        /* G allocations freed at teardown */
	int sblk;                  /* the shrink buffers beyond the per-P lists (mn_shrink.c) */
	struct mn_sbuf *sbufs[MN_SBUF_CLASSES];
	struct mn_sbuf_chunk *sbuf_chunks;
	char *sbuf_bump, *sbuf_end; /* the rest of the newest chunk */
	int nallg, allgcap;
};

#endif
