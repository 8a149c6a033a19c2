/* coop.h: cooperative tasks on one thread, shared by the two event-loop models (aloop, the
 * asyncio model, and uvco, Node.js on libuv). A task is a stackful coroutine (models/coro)
 * that runs until it parks; a loop wakes it by putting it on the ready queue and resumes it
 * from coop_run_ready(). Channels and join park and wake tasks through the same queue, so
 * everything here is loop-agnostic: what differs between the models (how the ready queue is
 * drained, whether a spawned task starts at once, what sleeps and I/O are) is in coop_opts or
 * in each model.
 *
 * Single-threaded: none of these functions may be called from another thread. */
#ifndef COOP_H
#define COOP_H

#include <stddef.h>
#include <stdint.h>

typedef struct coop_task coop_task;
typedef struct coop_chan coop_chan;
typedef uint64_t (*coop_fn)(void *arg, size_t len);

enum { COOP_OK = 0, COOP_CLOSED = -1, COOP_EMPTY = -2 };

typedef struct coop_opts {
	size_t stack_size;     /* the run stack every task executes on, bytes (0: 1 MiB) */
	int drain;             /* 1: coop_run_ready runs until the queue is empty, including
	                        * tasks woken meanwhile (Node's microtask queue); 0: only the
	                        * tasks ready when it started (asyncio's _run_once) */
	int eager_spawn;       /* 1: a spawned task runs at once until its first await, then its
	                        * parent goes on (calling a JS async function); 0: it is queued
	                        * behind the ready tasks (asyncio.create_task) */
	uint64_t slow_ns;      /* 0: off; else call on_slow for a resume that ran this long */
	void (*on_slow)(const coop_task *t, uint64_t ran_ns);
	/* A task ran past the run stack into its guard: called from the fault handler, on an
	 * alternate stack, with a message naming the task. If it returns (or is NULL), the
	 * message goes to stderr and the process dies of the fault. */
	void (*on_overflow)(const char *msg);
} coop_opts;

int coop_init(const coop_opts *o);  /* 0 or -1 with errno */
void coop_fini(void);               /* frees every task, the run stack and the saved stacks */

coop_task *coop_spawn(coop_fn fn, const void *arg, size_t len); /* NULL with errno */
uint64_t coop_join(coop_task *t);   /* from a task: waits for t, returns its result, frees t */
/* From the loop (outside any task): has t ended? Its result, freeing t. */
int coop_done(const coop_task *t);
uint64_t coop_reap(coop_task *t);

coop_task *coop_self(void);          /* NULL outside a task */
void coop_park(void);                /* the current task waits until someone coop_wakes it */
void coop_wake(coop_task *t);        /* append t to the ready queue */
void coop_yield(void);               /* wake self, park: back of the ready queue */

/* A FIFO of parked tasks, for whatever a model lets tasks wait on (an fd, a timer list).
 * It is two pointers, linked through the tasks: it may live in any memory except the run
 * stack, and may be moved (realloc) while tasks wait in it. */
typedef struct coop_waitq {
	coop_task *head, *tail;
} coop_waitq;
void coop_wait(coop_waitq *q);                 /* park the current task at q's tail */
coop_task *coop_wake_one(coop_waitq *q);       /* wake q's head; NULL if q is empty */
size_t coop_wake_all(coop_waitq *q);           /* returns how many woke */
static inline int coop_waitq_empty(const coop_waitq *q) { return q->head == NULL; }

size_t coop_run_ready(void);         /* loop side; returns the number of resumes */
int coop_ready_empty(void);
size_t coop_live(void);              /* tasks spawned and not yet ended */

/* Does [p, p+n) lie on the run stack? Such memory is overwritten while its task is parked
 * (another task runs there), so nobody may write to it then: I/O done on the task's behalf
 * by another thread goes through a bounce buffer. */
int coop_on_stack(const void *p, size_t n);

uint64_t coop_task_id(const coop_task *t);
coop_fn coop_task_fn(const coop_task *t);
/* Name of the function at fn (a task's entry) from the executable's symbol table, else
 * dladdr's, else an address (coop_sym.c). */
void coop_fn_name(const void *fn, char *out, size_t n);

/* Channels with asyncio.Queue semantics: FIFO, a capacity (0 = rendezvous: the sender waits
 * until a receiver took its element), waiting senders and receivers served in FIFO order. */
coop_chan *coop_chan_make(size_t elem, size_t cap);            /* NULL with errno */
int coop_chan_send(coop_chan *c, const void *elem);  /* COOP_OK; COOP_CLOSED if closed */
int coop_chan_recv(coop_chan *c, void *elem);        /* COOP_OK or COOP_CLOSED (drained) */
int coop_chan_try_recv(coop_chan *c, void *elem);    /* ... or COOP_EMPTY */
void coop_chan_close(coop_chan *c);
void coop_chan_free(coop_chan *c);

#endif
