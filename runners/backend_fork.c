/* backend_fork.c: Python's multiprocessing (models/mp): tasks are OS processes, arguments
 * and results cross pipes as serialized frames, channels are pipes.
 *
 * Mapping (the idiomatic one for a Python program):
 * - Independent tasks (the root's children never talk to each other: cpu.fib, cpu.hash,
 *   micro.spawn, io.file) go to a Pool(W), W = --workers, made when the run starts:
 *   spawn = Pool.apply_async (the argument is serialized into the task pipe), join =
 *   AsyncResult.get. The pool's start-up is part of the run, as it is of a Python program.
 * - Otherwise every task is its own Process (fork, or spawn with start=1) so that it can
 *   use channels and spawn tasks of its own (skynet: children fork grandchildren). With
 *   fork the argument is inherited, not serialized (CPython's fork start method does not
 *   pickle Process arguments); the result comes back as a frame on a pipe.
 * - Channels are mp queues (pipes in a shared arena) made before the processes that use
 *   them fork: a cb_chan * is the queue's arena index + 1, valid in every process forked
 *   or spawned afterwards. A channel made by one task and passed to a task that was not
 *   started after it (a sibling's channel) is not supported. Rendezvous channels keep
 *   their semantics (the send returns once a receiver took the element, through an ack
 *   pipe); a buffered channel holds cap elements, each an 8-byte header plus the element
 *   in a pipe that grows to /proc/sys/fs/pipe-max-size at most and is filled page by page
 *   (1 MiB here: 65279 elements of 8 bytes, 3824 of 256; mp_queue.c says why). A cap beyond
 *   what its pipe surely holds is unsupported, with the number that fits: senders would
 *   otherwise block earlier than cap says.
 *   Close is EOF for receivers: they drain what was sent, then see CB_CLOSED.
 * - Blocking calls (sleep, yield, fd I/O) block the process: the plain system calls of
 *   the thread backend, whose global lock is not in play here.
 * - A task process that dies, or a pool worker that dies (broken pool), aborts the cell
 *   with status error. Children die with their parent (PR_SET_PDEATHSIG), stay in the
 *   cell's process group, and every one is reaped before run() returns.
 * - start=1 (spawn) fork+execs the harness binary for every process; the new program
 *   rebuilds this backend's state from boot bytes before running the task.
 * - Fds in arguments. Tasks get fd numbers in their arguments (sockets, pipes), as a Python
 *   program passes socket and Connection objects to Process(args=...). An fd that this
 *   process got from cb_accept or cb_open and whose number is in a task's argument (an
 *   aligned int) is given to that task: the parent closes its copy once the task started,
 *   as a Python server closes its copy of a connection after Process.start(). Without it
 *   every connection stays open in the parent (the client never sees the server's end, and
 *   the parent runs out of fds over repetitions). Any other open fd named in the argument
 *   (pipes the parent made itself, which it still uses) is lent: the parent keeps it.
 *   A spawned child gets exactly the fds its argument names, as CPython's spawn duplicates
 *   only what it pickles; a forked child inherits every fd, as fork does. Pool tasks
 *   (independent workloads) take no fds: their workers were started before.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"
#include "mp/mp.h"
#include "threads/thr.h"
#include "util.h"

#define FORK_CHANNELS 65536 /* channels per run (the arena is sparse: untouched pages are free) */

#define FORK_PARAMS(X)                                                                    \
	X(FORK_P_START, "start", 0, 0, 1,                                                 \
	  "process start method: 0 = fork, 1 = spawn (fork + exec of the harness)")
CB_PARAMS(fork_params, FORK_PARAMS);

/* What a spawned child needs to act as this backend. */
typedef struct fork_boot {
	int32_t how;        /* enum mp_start */
	int32_t status_fd;  /* the harness's abort pipe (inherited: it is not close-on-exec) */
} fork_boot;

extern const cb_backend cb_backend_fork;
static enum mp_start start_how;
static mp_pool *pool; /* independent tasks go here; NULL: a Process per task */

static void fork_boot_child(const void *bytes, size_t len)
{
	fork_boot b;
	if (len != sizeof b)
		_exit(121);
	memcpy(&b, bytes, sizeof b);
	start_how = (enum mp_start)b.how;
	cb_status_fd = b.status_fd;
	cb_backend_use(&cb_backend_fork);
}

/* Fds this process got from cb_accept or cb_open and still holds: the ones it may give to
 * a task (see the top of this file). Usually one at a time: a server accepts, then spawns. */
static int *own_fds;
static size_t n_own, cap_own;

static void own_fd(int fd)
{
	if (fd < 0)
		return;
	if (n_own == cap_own) {
		size_t cap = cap_own ? 2 * cap_own : 16;
		int *m = realloc(own_fds, cap * sizeof *m);
		if (!m)
			cb_abort("error", "fork: out of memory for fd %d", fd);
		own_fds = m;
		cap_own = cap;
	}
	own_fds[n_own++] = fd;
}

/* Forget fd; 1 if this process held it. */
static int disown_fd(int fd)
{
	for (size_t i = 0; i < n_own; i++)
		if (own_fds[i] == fd) {
			own_fds[i] = own_fds[--n_own];
			return 1;
		}
	return 0;
}

static void fork_atfork_child(void)
{
	pool = NULL; /* the parent's pool is not this process's (mp already closed its fds) */
}

/* Processes the OS lets the tree create: kernel.pid_max, kernel.threads-max (a process is
 * a kernel task), RLIMIT_NPROC, and memory at 256 KiB of kernel and private memory per idle
 * forked process at the least (cb_limit leaves a tenth to the rest of the system). Pool tasks are
 * not processes: independent workloads have no such limit. */
static int64_t fork_max_tasks(const cb_backend_cfg *cfg, const char **why)
{
	if (cfg->independent)
		return 0;
	static cb_limit lim;
	cb_limit_init(&lim);
	long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	if (pages > 0 && psz > 0)
		cb_limit_min(&lim, (int64_t)pages * psz / (256 * 1024),
			     "%lld MiB of free memory at 256 KiB per process",
			     (long long)pages * psz / (1 << 20));
	*why = lim.why;
	return cb_limit_result(&lim);
}

static uint64_t fork_run(const cb_backend_cfg *cfg, cb_fn root, void *arg, size_t len)
{
	start_how = cfg->p[FORK_P_START] ? MP_START_SPAWN : MP_START_FORK;
	mp_set_hooks(&(mp_hooks){.process_delta = cb_stat_process,
				 .atfork_child = fork_atfork_child});
	if (mp_arena_init(FORK_CHANNELS) != MP_OK)
		cb_abort("error", "fork: shared arena: %s", strerror(errno));
	fork_boot b = {(int32_t)start_how, cb_status_fd};
	mp_set_spawn_boot(fork_boot_child, &b, sizeof b);
	if (cfg->independent) {
		pool = mp_pool_new(cfg->workers, start_how);
		if (!pool)
			cb_abort("error", "fork: cannot start a pool of %d workers: %s", cfg->workers,
				 strerror(errno));
	}
	uint64_t r = root(arg, len);
	if (pool)
		mp_pool_free(pool);
	pool = NULL;
	mp_process_kill_all(); /* tasks never joined */
	/* This process counted its own children as it went (the hook); grandchildren were
	 * counted in the shared arena only: raise the harness's peak to the whole tree's
	 * (plus this process). */
	int extra = mp_arena_processes_peak() + 1 - cb_stat_processes_peak();
	if (extra > 0) {
		cb_stat_process(+extra);
		cb_stat_process(-extra);
	}
	mp_arena_fini();
	mp_set_spawn_boot(NULL, NULL, 0);
	mp_set_hooks(NULL);
	n_own = 0; /* what the root kept is closed by the workload's cleanup, not ours */
	return r;
}

/* The open fds an argument names (aligned ints, each once), split into those this process
 * gives away (it got them from accept or open) and those it lends. Returns a malloc'd
 * array: *ngive given fds first, then *nlend lent ones. */
static int *arg_fds(const void *arg, size_t len, int *ngive, int *nlend)
{
	size_t n = len / sizeof(int);
	int *give = calloc(n ? n : 1, sizeof *give), *lend = calloc(n ? n : 1, sizeof *lend);
	if (!give || !lend)
		cb_abort("error", "fork: out of memory for a %zu-byte argument", len);
	*ngive = *nlend = 0;
	for (size_t i = 0; i < n; i++) {
		int fd;
		memcpy(&fd, (const char *)arg + i * sizeof fd, sizeof fd);
		if (fd <= STDERR_FILENO || fd == cb_status_fd || fcntl(fd, F_GETFD) < 0)
			continue;
		int seen = 0;
		for (int k = 0; k < *ngive; k++)
			seen |= give[k] == fd;
		for (int k = 0; k < *nlend; k++)
			seen |= lend[k] == fd;
		if (seen)
			continue;
		int owned = 0;
		for (size_t k = 0; k < n_own; k++)
			owned |= own_fds[k] == fd;
		if (owned)
			give[(*ngive)++] = fd;
		else
			lend[(*nlend)++] = fd;
	}
	memcpy(give + *ngive, lend, (size_t)*nlend * sizeof *give);
	free(lend);
	return give;
}

static cb_task *fork_spawn(cb_fn fn, const void *arg, size_t len)
{
	if (pool)
		return (cb_task *)mp_pool_apply_async(pool, fn, arg, len);
	int ngive, nlend;
	int *fds = arg_fds(arg, len, &ngive, &nlend);
	mp_process *p = mp_process_start_fds(start_how, fn, arg, len, fds + ngive, nlend, fds, ngive);
	for (int i = 0; p && i < ngive; i++)
		disown_fd(fds[i]); /* closed by mp: the task's now */
	free(fds);
	return (cb_task *)p;
}

static uint64_t fork_join(cb_task *t)
{
	uint64_t r = 0;
	int rc = pool ? mp_async_get(pool, (mp_async *)t, &r) : mp_process_join((mp_process *)t, &r);
	if (rc != MP_OK)
		cb_abort("error", "fork: %s", mp_strerror(rc));
	return r;
}

static mp_queue *queue_of(cb_chan *c)
{
	mp_queue *q = mp_queue_at((int)((uintptr_t)c - 1));
	if (!q)
		cb_abort("error", "fork: channel %zu is not known in this process", (size_t)(uintptr_t)c);
	return q;
}

static cb_chan *fork_chan_make(size_t elem, size_t cap)
{
	mp_queue *q = mp_queue_new(elem, cap);
	if (!q)
		return NULL;
	if (mp_queue_capacity(q) < cap) {
		size_t got = mp_queue_capacity(q);
		mp_queue_free(q);
		cb_abort("unsupported",
			 "fork: a channel of %zu elements of %zu bytes does not fit in a pipe: %zu do "
			 "(at most %zu with /proc/sys/fs/pipe-max-size)",
			 cap, elem, got, mp_queue_capacity_max(elem));
	}
	return (cb_chan *)(uintptr_t)(mp_queue_index(q) + 1);
}

static int chan_status(int rc)
{
	switch (rc) {
	case MP_OK: return CB_OK;
	case MP_ECLOSED: return CB_CLOSED;
	case MP_EEMPTY: return CB_EMPTY;
	default: cb_abort("error", "fork: channel: %s (%s)", mp_strerror(rc), strerror(errno));
	}
}

static int fork_chan_send(cb_chan *c, const void *e) { return chan_status(mp_queue_put(queue_of(c), e)); }
static int fork_chan_recv(cb_chan *c, void *e) { return chan_status(mp_queue_get(queue_of(c), e)); }
static int fork_chan_try_recv(cb_chan *c, void *e)
{
	return chan_status(mp_queue_get_nowait(queue_of(c), e));
}
static void fork_chan_close(cb_chan *c) { mp_queue_shutdown(queue_of(c)); }
static void fork_chan_free(cb_chan *c) { mp_queue_free(queue_of(c)); }

static int fork_open(const char *path, int flags, int mode)
{
	int fd = cb_thr_open(path, flags, mode);
	own_fd(fd);
	return fd;
}

static int fork_accept(int fd)
{
	int c = cb_thr_accept(fd);
	own_fd(c);
	return c;
}

static int fork_close(int fd)
{
	disown_fd(fd);
	return cb_thr_close(fd);
}

const cb_backend cb_backend_fork = {
	.name = "fork",
	.summary = "Python multiprocessing: independent tasks on Pool(W) over pipes, others a "
		   "process each; channels are pipes",
	.params = fork_params,
	.concurrent = 1,
	.tasks_are_processes = 1, /* a Pool's only for independent tasks */
	.max_tasks = fork_max_tasks,
	.run = fork_run,
	.spawn = fork_spawn,
	.join = fork_join,
	/* A process blocks in the kernel as a thread does: the thread backend's calls. */
	.yield = cb_thr_yield,
	.sleep_ns = cb_thr_sleep_ns,
	.chan_make = fork_chan_make,
	.chan_send = fork_chan_send,
	.chan_recv = fork_chan_recv,
	.chan_try_recv = fork_chan_try_recv,
	.chan_close = fork_chan_close,
	.chan_free = fork_chan_free,
	.open = fork_open,
	.read = cb_thr_read,
	.write = cb_thr_write,
	.accept = fork_accept,
	.connect = cb_thr_connect,
	.close = fork_close,
};
