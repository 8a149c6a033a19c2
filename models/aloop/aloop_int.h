/* aloop_int.h: state shared by the files of the aloop model. */
#ifndef ALOOP_INT_H
#define ALOOP_INT_H

#include <pthread.h>

#include "aloop.h"

typedef struct aloop_timer {
	uint64_t when;      /* CLOCK_MONOTONIC ns */
	uint64_t seq;       /* FIFO among equal deadlines */
	coop_task *task;
} aloop_timer;

typedef struct aloop_fd {
	unsigned char kind;   /* ALOOP_FD_* */
	unsigned char readable; /* 0: a read came back short; the next waits for an event */
	unsigned char hup;    /* epoll reported hang-up or error: sticky, no edge comes again */
	coop_waitq readers, writers; /* parked until epoll reports the fd ready */
} aloop_fd;

enum { ALOOP_FD_UNKNOWN, ALOOP_FD_POLL, ALOOP_FD_FILE };

typedef struct aloop_job aloop_job;

typedef struct aloop_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	aloop_job *todo, *todo_tail; /* submitted, not picked up */
	aloop_job *done;             /* finished, not yet seen by the loop */
	int max, nthreads, idle, stop;
	pthread_t *threads;
	size_t pending;              /* submitted by the loop, not yet reaped (loop thread only) */
	int evfd;                    /* written by workers: wakes epoll */
} aloop_pool;

typedef struct aloop {
	aloop_opts o;
	int epfd;
	aloop_timer *heap;
	size_t nheap, heap_cap;
	uint64_t timer_seq;
	aloop_fd *fds;
	size_t nfds;
	size_t io_waiting;   /* tasks parked on fds */
	aloop_pool pool;
} aloop;

extern aloop aloop_g; /* the loop of this (single) loop thread */

uint64_t aloop_now(void);

/* Timer heap (aloop_timer.c). */
int aloop_heap_push(aloop *l, uint64_t when, coop_task *t);
aloop_timer *aloop_heap_peek(aloop *l);
void aloop_heap_pop(aloop *l);

/* fds and epoll (aloop_io.c). */
void aloop_io_ready(aloop *l, int fd, uint32_t events);
void aloop_io_fini(aloop *l);

/* Executor (aloop_pool.c). */
int aloop_pool_init(aloop_pool *p, int max);
void aloop_pool_reap(aloop_pool *p);  /* evfd readable: wake tasks whose jobs finished */
void aloop_pool_fini(aloop_pool *p, void (*on_thread)(int));
ssize_t aloop_pool_read(int fd, void *buf, size_t n);
ssize_t aloop_pool_write(int fd, const void *buf, size_t n);
int aloop_pool_open(const char *path, int flags, int mode);

#endif
