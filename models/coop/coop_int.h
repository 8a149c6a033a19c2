/* coop_int.h: the task record, shared by coop_task.c and coop_chan.c only. */
#ifndef COOP_INT_H
#define COOP_INT_H

#include "coop.h"
#include "coro/coro.h"

struct coop_task {
	coro ctx;                   /* registers while parked; its stack is the run stack */
	coop_task *next;            /* ready queue or channel wait queue */
	coop_task *all_prev, *all_next; /* every task not yet freed, for coop_fini */
	coop_task *joiner;          /* task waiting in coop_join */
	unsigned char *save;        /* copy of the used run stack while another task runs */
	size_t save_len, save_cap;
	unsigned char *xfer;        /* channel element parked with the task (not on a stack) */
	size_t xfer_cap;
	int wait_status;            /* COOP_OK / COOP_CLOSED, set by whoever wakes the task */
	unsigned started : 1, done : 1;
	uint64_t id;
	coop_fn fn;
	uint64_t result;
	size_t len;
	unsigned char arg[];        /* private copy of the argument */
};

/* The run stack: size bytes above a guard no frame can jump (coop_guard.c); freed with
 * coro_stack_free. 0 or -1 with errno. */
int coop_stack_alloc(coro_stack *st, size_t size);
/* For the loop's lifetime, on the calling (loop) thread: report a fault in st's guard as the
 * running task's overflow through on_overflow (NULL: on stderr), then die of it. */
int coop_fault_install(const coro_stack *st, void (*on_overflow)(const char *msg));
void coop_fault_remove(void);

/* Make t->xfer hold at least n bytes (aborts the process on ENOMEM: no way to report). */
void coop_xfer_reserve(coop_task *t, size_t n);

#endif
