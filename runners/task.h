/* task.h: the task API every backend implements and every workload is written against.
 *
 * Workloads are plain blocking code: spawn a task with a by-value argument, join it for a
 * 64-bit result, yield, sleep, talk over channels, read and write file descriptors. Each
 * backend provides these calls the way the runtime it models would (a pthread per task, a G
 * on an M:N scheduler, a coroutine on an event loop, a worker process...). Workloads call the
 * cb_* functions below; they dispatch to the backend selected for the cell (cb_backend_use).
 *
 * Rules (DESIGN.md): tasks share nothing but their argument, their result and channels; a
 * task's argument is copied (for process backends it crosses a pipe), so it must not hold
 * pointers, except to channels, which every backend knows how to carry across a spawn.
 */
#ifndef CB_TASK_H
#define CB_TASK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

typedef struct cb_task cb_task; /* a spawned task; joined exactly once */
typedef struct cb_chan cb_chan; /* a channel of fixed-size elements */

/* A task body: gets its private copy of the argument, returns a 64-bit result. */
typedef uint64_t (*cb_fn)(void *arg, size_t len);

/* Arguments are copied bytes of any length: small ones (a few words) are the common case,
 * large ones (cpu.hash buffers) must really travel, e.g. across a pipe for process backends.
 * Backends may store arguments up to CB_ARG_INLINE bytes inline and copy larger ones. */
#define CB_ARG_INLINE 64
#define CB_ELEM_MAX 256  /* largest channel element, bytes */

/* Channel and call results. */
enum { CB_OK = 0, CB_CLOSED = -1, CB_EMPTY = -2 };

/* ---- The API workloads use ---------------------------------------------------------- */

cb_task *cb_spawn(cb_fn fn, const void *arg, size_t len); /* never NULL: failure aborts the cell */
uint64_t cb_join(cb_task *t);                            /* waits, returns the result, frees t */
void cb_yield(void);
void cb_sleep_ns(uint64_t ns);
/* Wait until the backend has reclaimed what it reclaims from parked tasks (mn shrinks their
 * stacks after shrink_ms), at most max_ns: -1 the backend reclaims nothing so, 0 it did not
 * settle in time, 1 it settled. A memory reading of parked tasks comes after it. */
int cb_settle(int64_t max_ns);

cb_chan *cb_chan_make(size_t elem, size_t cap); /* cap 0 = rendezvous */
int cb_chan_send(cb_chan *c, const void *elem); /* CB_OK; sending on a closed channel aborts */
int cb_chan_recv(cb_chan *c, void *elem);       /* CB_OK or CB_CLOSED (closed and drained) */
int cb_chan_try_recv(cb_chan *c, void *elem);   /* CB_OK, CB_EMPTY or CB_CLOSED; never blocks */
void cb_chan_close(cb_chan *c);
void cb_chan_free(cb_chan *c); /* by the task that made it, once nobody uses it */

/* File descriptors: blocking from the task's point of view. Sockets and pipes are made
 * non-blocking underneath by backends that poll; regular files may go to a thread pool. */
int cb_open(const char *path, int flags, int mode);
ssize_t cb_read(int fd, void *buf, size_t n);
ssize_t cb_write(int fd, const void *buf, size_t n);
int cb_accept(int fd);
int cb_connect(int fd, const struct sockaddr *addr, socklen_t len);
int cb_close(int fd);
/* fds handed to these calls may be blocking; backends that poll make them non-blocking. */

/* Safe point: CPU loops call it every few thousand iterations. It costs one relaxed load
 * unless a backend raised the eval breaker (the GIL's drop request). */
extern atomic_int cb_eval_breaker;
void cb_safepoint_slow(void);
static inline void cb_safepoint(void)
{
	if (atomic_load_explicit(&cb_eval_breaker, memory_order_relaxed))
		cb_safepoint_slow();
}

/* Native region: code that does not touch interpreter state (a C extension's kernel). */
void cb_native_begin(void);
void cb_native_end(void);

/* Stop the whole cell with a status other than ok ("unsupported", "error") and a reason.
 * Callable from any task of any backend, including from worker processes. */
_Noreturn void cb_abort(const char *status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- What a backend provides --------------------------------------------------------- */

typedef struct cb_param_def {
	const char *name;  /* key of --param KEY=VALUE */
	int64_t def;       /* default */
	int64_t min, max;  /* accepted range, inclusive */
	const char *doc;   /* one line, with the unit */
} cb_param_def;

#define CB_MAX_PARAMS 12

/* A parameter table and the enum of its slots come from one list, so that reordering the
 * list cannot change which slot code reads (libuv's UV_ERRNO_MAP): LIST(X) calls
 * X(SLOT, "name", def, min, max, "doc") once a parameter, and CB_PARAMS(table, LIST)
 * declares enum { SLOT, ... } and the {NULL}-terminated `static const cb_param_def table[]`.
 * Code reads cfg->p[SLOT] (a backend's) or cell->p[SLOT] (a workload's). */
#define CB_PARAM_SLOT_(slot, name, def, min, max, doc) slot,
#define CB_PARAM_DEF_(slot, name, def, min, max, doc) {name, def, min, max, doc},
#define CB_PARAMS(table, LIST)                                                            \
	enum { LIST(CB_PARAM_SLOT_) table##_count };                                      \
	_Static_assert(table##_count <= CB_MAX_PARAMS, #table ": more than CB_MAX_PARAMS"); \
	static const cb_param_def table[] = {LIST(CB_PARAM_DEF_){NULL, 0, 0, 0, NULL}}

/* The same for a table that begins with the parameters of base (made by CB_PARAMS from
 * BASE_LIST), in the same slots: a variant that runs its base's code, which reads the
 * base's slots, on cells of its own. */
#define CB_PARAMS_AFTER(table, base, BASE_LIST, LIST)                                     \
	enum { table##_first_ = base##_count - 1, LIST(CB_PARAM_SLOT_) table##_count };   \
	_Static_assert(table##_count <= CB_MAX_PARAMS, #table ": more than CB_MAX_PARAMS"); \
	static const cb_param_def table[] = {                                             \
		BASE_LIST(CB_PARAM_DEF_) LIST(CB_PARAM_DEF_){NULL, 0, 0, 0, NULL}}

/* The slot of the parameter called name in defs ({NULL}-terminated; NULL: none), or -1:
 * what reads a parameter by its name (--param, calibration, tests) finds it here. */
int cb_param_slot(const cb_param_def *defs, const char *name);

/* How a backend is configured for one cell. */
typedef struct cb_backend_cfg {
	int workers;                  /* --workers: Ps, pool size, ...; online CPUs by default */
	int independent;              /* the root's children never talk to each other (no channels,
	                               * no nested spawns): a backend may run them on a pool */
	int cold;                     /* the workload measures memory: a backend that keeps memory
	                               * from one repetition for the next (stacks, like a Go
	                               * process) releases it first */
	int64_t p[CB_MAX_PARAMS];     /* values of the backend's params, in its params[] order */
} cb_backend_cfg;

typedef struct cb_backend {
	const char *name;
	const char *summary;          /* how it maps tasks onto its resources, one line */
	const cb_param_def *params;   /* backend-specific params, {NULL} terminated */
	int concurrent;               /* 0: tasks run one after another (serial) */
	int tasks_are_processes;      /* 1: each task is an OS process (fork, cpython-mp) */
	int tasks_are_threads;        /* 1: each task is an OS thread (threads, gil, cpython-threads) */
	int one_runner;               /* 1: one thread runs the tasks' code at a time, whatever the
				       * workers (a GIL, an event loop: gil, aloop, uv and their twins) */
	/* Largest number of tasks that may be alive at once, or 0 for "no fixed limit";
	 * why is the reason quoted when a cell needs more. */
	int64_t (*max_tasks)(const cb_backend_cfg *cfg, const char **why);

	/* Run root(arg) as the first task and return its result once it and every task it
	 * spawned are done. Called once per repetition; everything is torn down after, except
	 * memory a runtime keeps for reuse as a long-lived process would (mn's stacks), which
	 * cfg->cold releases. */
	uint64_t (*run)(const cb_backend_cfg *cfg, cb_fn root, void *arg, size_t len);

	cb_task *(*spawn)(cb_fn fn, const void *arg, size_t len);
	uint64_t (*join)(cb_task *t);
	void (*yield)(void);
	void (*sleep_ns)(uint64_t ns);
	cb_chan *(*chan_make)(size_t elem, size_t cap);
	int (*chan_send)(cb_chan *c, const void *elem); /* CB_OK, or CB_CLOSED: cb_chan_send
	                                                   * aborts the cell, for every backend */
	int (*chan_recv)(cb_chan *c, void *elem);
	int (*chan_try_recv)(cb_chan *c, void *elem);
	void (*chan_close)(cb_chan *c);
	void (*chan_free)(cb_chan *c);
	int (*open)(const char *path, int flags, int mode);
	ssize_t (*read)(int fd, void *buf, size_t n);
	ssize_t (*write)(int fd, const void *buf, size_t n);
	int (*accept)(int fd);
	int (*connect)(int fd, const struct sockaddr *addr, socklen_t len);
	int (*close)(int fd);
	void (*safepoint_slow)(void); /* NULL: the eval breaker is never raised */
	void (*native_begin)(void);   /* NULL: nothing to release */
	void (*native_end)(void);
	/* NULL, or a wait (from a task) until the memory the runtime gives back from parked
	 * tasks has been given back (mn: stack shrinking); 1 if it settled within max_ns. */
	int (*settle)(int64_t max_ns);
	/* NULL, or what the repetition that just ended did inside the backend that its row
	 * should say (mn: how many async preemptions), written into buf as one line; the
	 * runner appends it to the row's note after "; ". Called in the cell's process, after
	 * run returns. */
	void (*rep_note)(const cb_backend_cfg *cfg, char *buf, size_t n);
} cb_backend;

/* Select the backend of this process (the cell's child process). */
void cb_backend_use(const cb_backend *be);

/* Peak-resource bookkeeping reported in the CSV (os_threads, processes). Backends call
 * these when they create or end OS threads and processes of their own. */
void cb_stat_thread(int delta);
void cb_stat_process(int delta);

#endif
