/* mp.h: Python's multiprocessing re-created in C — processes, pipes, queues, a pool — with
 * the costs that model has: every task argument and result crosses a pipe as a serialized,
 * length-prefixed frame, and every worker is a separate OS process.
 *
 * Modules (one file each): mp_frame (wire format and its strict decoder), mp_io (whole-buffer
 * reads and writes), mp_spawn (function tokens and the fork+exec "spawn" start method),
 * mp_process (Process: start, join, reaping, death with the parent), mp_conn (Pipe),
 * mp_queue (Queue in a shared arena: fixed-size items, capacity, rendezvous, shutdown),
 * mp_pool (Pool(W): apply_async, map, chunksize, broken-pool detection) and mp_worker
 * (a pool worker's loop).
 * The design of the whole model is at the top of mp_pool.c; each file explains its part.
 */
#ifndef MP_H
#define MP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Errors (negative); 0 is success. */
enum {
	MP_OK = 0,
	MP_EBROKEN = -1,  /* a worker died abruptly: the pool is broken, pending tasks fail */
	MP_EPROTO = -2,   /* a malformed or truncated frame arrived */
	MP_ECLOSED = -3,  /* queue shut down (and drained), or pool closed */
	MP_EEMPTY = -4,   /* non-blocking get found nothing */
	MP_ESYS = -5,     /* a system call failed (errno kept) */
	MP_EBADFN = -6,   /* a function token does not name code of this program */
	MP_EDIED = -7,    /* a Process ended without sending its result */
};
const char *mp_strerror(int err);

/* A task body: its private copy of the argument in, a 64-bit result out. */
typedef uint64_t (*mp_fn)(void *arg, size_t len);

/* ---- Start methods and hooks -------------------------------------------------------- */

enum mp_start { MP_START_FORK = 0, MP_START_SPAWN = 1 };

/* What the embedding program wants to hear about (all optional). */
typedef struct mp_hooks {
	void (*process_delta)(int delta);  /* a process was created (+1) or reaped (-1) */
	void (*atfork_child)(void);        /* in every forked child, before it runs anything */
} mp_hooks;
void mp_set_hooks(const mp_hooks *h);
/* Spawn mode: boot(bytes) is called first thing in every freshly exec'd child, to re-create
 * the program's state there (as CPython's spawn re-imports __main__). bytes are copied;
 * boot must be a function of this program (it travels as a token). NULL clears. */
typedef void (*mp_boot_fn)(const void *bytes, size_t len);
void mp_set_spawn_boot(mp_boot_fn boot, const void *bytes, size_t len);
/* The child side of a start: reset per-process state inherited from the parent (pools,
 * children, fds that must not stay open). Called by mp itself in every child it forks. */
void mp_atfork_child(void);

/* A function of this program as a position-independent token (an offset in the text
 * segment), so that a fork+exec'd copy of the binary resolves it to the same code. */
uint64_t mp_fn_token(mp_fn fn);
mp_fn mp_fn_from_token(uint64_t tok); /* NULL if the token does not land in our text */

/* Called from main() early (or by the constructor in mp_spawn.c): if this process was
 * started by the spawn method, run the child and never return. */
void mp_spawn_child_maybe(void);

/* ---- Process ------------------------------------------------------------------------ */

typedef struct mp_process mp_process;
/* Start fn(arg) in a new process. With fork the argument is inherited (as CPython's fork
 * start method does); with spawn it is serialized to the new program over a pipe. */
mp_process *mp_process_start(enum mp_start how, mp_fn fn, const void *arg, size_t len);
/* The same for a task whose argument names fds. lend: fds the child uses while the parent
 * keeps its own; give: fds handed over, closed in the parent once the child has started
 * (as a Python program closes its copy of a connection after Process.start(); left open if
 * the start fails). A spawned child gets these fds and no other fd of the parent's (as
 * CPython's spawn duplicates only the fds it pickles); a forked child inherits every fd,
 * as fork does. */
mp_process *mp_process_start_fds(enum mp_start how, mp_fn fn, const void *arg, size_t len,
                                 const int *lend, int nlend, const int *give, int ngive);
/* Wait for the process, get its result; frees p. MP_EDIED if it died without one. */
int mp_process_join(mp_process *p, uint64_t *result);
pid_t mp_process_pid(const mp_process *p);
/* Kill and reap every process this process started and has not joined. */
void mp_process_kill_all(void);
int mp_process_alive_count(void);

/* ---- Pipe (Connection) ----------------------------------------------------------------- */

typedef struct mp_conn {
	int rfd, wfd;  /* the same fd twice for a duplex socket; -1 for the missing side */
} mp_conn;
/* Pipe(duplex): duplex gives two socket-connected ends, simplex a reader and a writer. */
int mp_pipe(int duplex, mp_conn *a, mp_conn *b);
int mp_conn_send(mp_conn *c, const void *data, size_t len);
/* Receive one message: *out is malloc'd (caller frees). MP_ECLOSED at EOF. */
int mp_conn_recv(mp_conn *c, void **out, size_t *len);
void mp_conn_close(mp_conn *c);

/* ---- Queue (a channel between processes) --------------------------------------------- */

/* Queues live in a shared arena (a memfd) created once per program run by mp_arena_init:
 * processes forked or spawned after a queue is made can use it through its handle or its
 * index. Items have a fixed size (<= MP_QUEUE_ITEM_MAX). */
#define MP_QUEUE_ITEM_MAX 1024
int mp_arena_init(int max_queues);
void mp_arena_fini(void);
int mp_arena_fd(void);            /* for spawned children (inherited across exec) */
int mp_arena_attach(int fd);      /* in a spawned child */
/* Most processes alive at once in the whole tree since mp_arena_init (mp counts the
 * processes it starts and reaps in every process of the tree). */
int mp_arena_processes_peak(void);

typedef struct mp_queue mp_queue;
/* maxsize > 0: put blocks while maxsize items are queued (clamped to what the pipe surely
 * holds, see mp_queue_capacity); maxsize == 0: rendezvous, put returns once a get took it. */
mp_queue *mp_queue_new(size_t item, size_t maxsize);
int mp_queue_put(mp_queue *q, const void *item);      /* MP_OK or MP_ECLOSED */
int mp_queue_get(mp_queue *q, void *item);            /* MP_OK or MP_ECLOSED */
int mp_queue_get_nowait(mp_queue *q, void *item);     /* + MP_EEMPTY */
void mp_queue_shutdown(mp_queue *q);                  /* gets drain then see MP_ECLOSED */
void mp_queue_free(mp_queue *q);                      /* closes this process's fds */
size_t mp_queue_capacity(const mp_queue *q);
/* The largest capacity a queue of such items can have: what a pipe of pipe-max-size bytes
 * surely holds (a process may be given less: per-user pipe pages). */
size_t mp_queue_capacity_max(size_t item);
int mp_queue_index(const mp_queue *q);
mp_queue *mp_queue_at(int index);                     /* NULL if no such queue */

/* ---- Pool ------------------------------------------------------------------------------ */

typedef struct mp_pool mp_pool;
typedef struct mp_async mp_async;
mp_pool *mp_pool_new(int workers, enum mp_start how);
/* Submit fn(arg); the argument is serialized now (the caller may reuse its buffer). */
mp_async *mp_pool_apply_async(mp_pool *p, mp_fn fn, const void *arg, size_t len);
/* Wait for the result; frees a. MP_EBROKEN if a worker died before it was done. */
int mp_async_get(mp_pool *p, mp_async *a, uint64_t *result);
/* results[i] = fn(args[i], lens[i]) for i < n, in order; chunksize 0 = Pool.map's default
 * ceil(n / (4 * workers)). Arguments are read in place (no copy) until map returns. */
int mp_pool_map(mp_pool *p, mp_fn fn, const void *const *args, const size_t *lens, size_t n,
                size_t chunksize, uint64_t *results);
size_t mp_pool_default_chunksize(size_t n, int workers);
int mp_pool_workers(const mp_pool *p);
pid_t mp_pool_worker_pid(const mp_pool *p, int i);
int mp_pool_broken(const mp_pool *p);
/* Frees p, leaving no worker behind. An idle pool is closed and joined: EOF on the task
 * pipes, workers exit and are reaped (one still there after 1 s is killed). A pool with
 * unfinished tasks, or a broken one, is terminated (workers killed), as Pool.__exit__. */
void mp_pool_free(mp_pool *p);

#endif
