/* mn.h: a Go-style M:N scheduler. G tasks (stackful coroutines) run on P processors, each
 * P driven by one M (OS thread) at a time; see mn_sched.c for the design. Every call below
 * except mn_main must be made from inside a G. */
#ifndef MN_H
#define MN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define MN_ARG_INLINE 48 /* argument bytes kept inside the G; longer ones are malloc'd */
#define MN_ELEM_MAX 256 /* largest channel element */

typedef struct mn_g mn_g;
typedef struct mn_chan mn_chan;
typedef uint64_t (*mn_fn)(void *arg, size_t len);

/* Stack a G must leave free for the runtime below its deepest frame: what the runtime itself
 * may push there. The deepest is a preemption: the kernel's signal frame (3.3 KiB with
 * AVX-512), the handler and the switch, and a libc function's first call from there, whose
 * lazy binding saves the vector registers again (~3 KiB): 6.5 KiB measured on x86-64
 * (tests/test_mn.c sweeps it). MN_STACK_MIN, the smallest stack_size accepted, leaves a
 * task as much again for its own frames. */
#define MN_STACK_RESERVE (12 * 1024)
#define MN_STACK_MIN (2 * MN_STACK_RESERVE)

#define MN_STACK_DEFAULT (64 * 1024) /* stack_size 0 */
#define MN_PREEMPT_NS 10000000       /* preempt_ns 0: 10 ms, Go's forcePreemptNS */
#define MN_SYSCALL_NS 20000          /* syscall_ns 0: 20 us, Go's sysmon retake delay */
#define MN_SHRINK_NS 1000000000      /* shrink_ns 0: 1 s (Go shrinks at a GC, not soon */
					/* after a park: see mn_sched.c) */

typedef struct mn_config {
	int procs;               /* Ps; <= 0: online CPUs */
	size_t stack_size;       /* usable bytes per G stack, >= MN_STACK_MIN; 0: 64 KiB */
	int64_t preempt_ns;      /* async preemption after a G ran this long; 0: 10 ms, <0: off */
	int64_t syscall_ns;      /* sysmon retakes a P blocked in a syscall this long; 0: 20 us */
	/* The stack of a G parked this long is shrunk: its live bytes copied aside, its pages
	 * given back, the bytes put back at the same addresses before it runs again (so
	 * pointers into it stay valid). 0: 10 ms, <0: off. While a G is parked, no other G may
	 * read or write its stack (a channel element it waits with is the exception: mn copies
	 * it only once the stack is back). See mn_shrink.c. */
	int64_t shrink_ns;
	/* Called (from a signal handler) when a G overflows its stack; msg names the G. NULL:
	 * print msg and die of SIGSEGV. */
	void (*on_stack_overflow)(const char *msg);
	void (*on_thread)(int delta); /* an M (OS thread) started (+1) or ended (-1) */
	/* Called when the runtime runs out of a resource it cannot do without (memory for a
	 * G's stack on its first run, an M thread); must not return. NULL: print msg, abort. */
	void (*on_exhausted)(const char *msg);
	/* Start from a cold runtime: release the stacks and G descriptors an earlier run in
	 * this process left for reuse (see mn_release) before starting. */
	int cold;
} mn_config;

/* Run root(arg) as the first G on the calling thread (it becomes M0) and return its result
 * once every G has finished. Tears everything down but its G stacks and descriptors, which
 * the next run reuses (a Go process keeps its stacks the same way); may be called again. */
uint64_t mn_main(const mn_config *cfg, mn_fn root, const void *arg, size_t len);
/* Give back the stacks and G descriptors kept for the next run (outside any run). */
void mn_release(void);
/* How many stacks are kept for the next run (outside any run). Each P caches stacks
 * privately and a P whose cache and the global pool are both empty takes a fresh slab, even
 * when another P's cache holds spare stacks (as a Go P refills its stackcache from the global
 * pool, never from another P). So a run ends with at most its peak of live Gs plus
 * MN_STACK_SLACK_PER_P stacks per P: a warm run reuses the kept stacks, and it may add up to
 * that slack to them, depending on how Gs spread over the Ps; the count never grows beyond it. */
#define MN_STACK_SLACK_PER_P 64
size_t mn_kept_stacks(void);
/* Async preemptions (switches inside the SIGURG handler) since the process started, and
 * whether this build preempts at all (see mn_preempt.c: off under ThreadSanitizer). */
uint64_t mn_preemptions(void);
int mn_preempt_enabled(void);
/* Stack shrinking (mn_config.shrink_ns): stacks shrunk since the process started, Gs shrunk
 * right now, and, from a G, a wait until sysmon has shrunk every other parked G it can
 * (returns 1), or max_ns has passed (0); -1 at once when shrinking is off. */
uint64_t mn_shrinks(void);
int64_t mn_shrunk(void);
int mn_shrink_settle(int64_t max_ns);

/* Gs. mn_go copies the len bytes of arg for the new G; it returns NULL with errno ENOMEM
 * when out of memory. Every G is joined exactly once: mn_join waits for
 * it, returns its result and recycles it. */
mn_g *mn_go(mn_fn fn, const void *arg, size_t len);
uint64_t mn_join(mn_g *g);
void mn_yield(void);
void mn_sleep_ns(uint64_t ns);

/* Channels: cap 0 is a rendezvous. Results: */
enum { MN_OK = 0, MN_CLOSED = -1, MN_EMPTY = -2 };
mn_chan *mn_chan_make(size_t elem, size_t cap);
int mn_chan_send(mn_chan *c, const void *elem);  /* MN_OK, or MN_CLOSED: closed channel */
int mn_chan_recv(mn_chan *c, void *elem);        /* MN_OK, or MN_CLOSED once drained */
int mn_chan_try_recv(mn_chan *c, void *elem);    /* MN_OK, MN_EMPTY or MN_CLOSED */
void mn_chan_close(mn_chan *c);
void mn_chan_free(mn_chan *c);

typedef struct mn_case {
	mn_chan *c;
	int send;   /* 1: send *elem, 0: receive into elem (may be NULL) */
	void *elem;
	int result; /* out: MN_OK or MN_CLOSED for the chosen case */
} mn_case;
/* Wait until one case can proceed and do it; returns its index. With nonblock set, returns
 * -1 at once when none can (Go's select with a default case). Ready cases are chosen at
 * random so that none starves. */
int mn_select(mn_case *cases, int n, int nonblock);

/* A region async preemption must not interrupt, nestable: code that libc calls back (a
 * qsort comparator, a pthread_once routine) runs in the program's own text above libc's
 * frames and locks, where a preemption could move it to another thread. Bracket the call
 * into libc (or the callback) with these; the runtime's own calls need nothing. */
void mn_nopreempt_begin(void);
void mn_nopreempt_end(void);

/* Blocking system calls: between these the G keeps its M but gives up its P, which sysmon
 * hands to another M if the call lasts. */
void mn_entersyscall(void);
void mn_exitsyscall(void);

/* File descriptors, blocking for the G only: sockets and pipes are switched to
 * non-blocking mode and parked on the netpoller; regular files go through entersyscall. */
int mn_open(const char *path, int flags, int mode);
ssize_t mn_read(int fd, void *buf, size_t n);
ssize_t mn_write(int fd, const void *buf, size_t n);
int mn_accept(int fd);
int mn_connect(int fd, const struct sockaddr *addr, socklen_t len);
int mn_close(int fd);

/* A mutex and a wait group that park Gs, never Ms. Zero-initialised = ready to use. */
typedef struct mn_waitq {
	struct mn_sudog *head, *tail;
} mn_waitq;
typedef struct mn_mutex {
	int locked;
	int lk;       /* spinlock over the fields */
	mn_waitq q;
} mn_mutex;
void mn_mutex_lock(mn_mutex *m);
void mn_mutex_unlock(mn_mutex *m);

typedef struct mn_wg {
	int64_t count;
	int lk;
	mn_waitq q;
} mn_wg;
void mn_wg_add(mn_wg *w, int64_t delta);
void mn_wg_wait(mn_wg *w);

#endif
