/* uvco_int.h: state shared by the files of the uvco model. */
#ifndef UVCO_INT_H
#define UVCO_INT_H

#include <uv.h>

#include "uvco.h"

enum { UVCO_NONE, UVCO_STREAM, UVCO_FILE };

/* What uvco knows about one of the workload's fds. */
typedef struct uvco_fd {
	int kind;               /* UVCO_STREAM / UVCO_FILE */
	int fd;                 /* the workload's fd number */
	int own;                /* the handle's fd is fd itself (accepted); else a dup of fd */
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} h;
	/* reading: Node's flowing mode, buffered up to a high-water mark */
	char *buf;
	size_t head, tail;      /* buffered bytes are buf[head, tail) */
	int reading, eof, err;  /* err: a libuv error code */
	coop_waitq readers;
	/* listening */
	int listening, backlog_ready; /* connections libuv reported and nobody accepted */
	coop_waitq acceptors;
} uvco_fd;

typedef struct uvco_sleeper uvco_sleeper;
typedef struct uvco_tlist uvco_tlist;

/* Node's timer design (uvco_timer.c). */
typedef struct uvco_timers {
	uv_timer_t timer;            /* the one libuv timer, armed for the earliest deadline */
	uvco_tlist **lists;          /* every duration seen, each with its FIFO of sleepers */
	size_t nlists, lists_cap;
	uvco_tlist *last;            /* the list used last (most sleeps repeat a duration) */
	uvco_tlist **heap;           /* non-empty lists by first deadline */
	size_t nheap, heap_cap;
	uvco_sleeper *free;          /* recycled sleeper records */
	void **blocks;               /* their allocation blocks, chained */
} uvco_timers;

void uvco_timers_init(uvco_timers *T, uv_loop_t *loop);
void uvco_timers_fini(uvco_timers *T);   /* after the timer handle was closed */
void uvco_timers_sleep(uvco_timers *T, uv_loop_t *loop, uint64_t ms);

typedef struct uvco {
	uv_loop_t loop;
	uv_check_t check;           /* runs setImmediate callbacks */
	uv_idle_t idle;             /* keeps poll from blocking while immediates wait */
	coop_waitq immediates;
	uvco_timers timers;
	uvco_fd **fds;              /* by fd number */
	size_t nfds;
	coop_task *root;
} uvco;

extern uvco uvco_g;

void uvco_settle(void);   /* after a callback woke tasks: run them (microtasks), maybe stop */
uvco_fd *uvco_fd_find(int fd);
int uvco_fd_set(int fd, uvco_fd *f);  /* -1 ENOMEM */
void uvco_stream_closed(uv_handle_t *h);
int uvco_fs_close(int fd);
ssize_t uvco_fs_read(int fd, void *buf, size_t n);
ssize_t uvco_fs_write(int fd, const void *buf, size_t n);
void uvco_pool_used(void);

#endif
