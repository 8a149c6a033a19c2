/* thr.h: the 1:1 thread backend's operations, shared by `threads` and `gil`. One pthread per
 * task, blocking system calls, channels on a mutex and condition variables. The only
 * difference between the two backends is the lock below: NULL for `threads` (free-threaded
 * Python 3.13t, C or Java threads), CPython's GIL for `gil`. */
#ifndef CB_THR_H
#define CB_THR_H

#include "task.h"

typedef struct cb_thr_lock {
	void (*setup)(const cb_backend_cfg *cfg); /* before the root task starts */
	void (*teardown)(void);                   /* after every task has ended */
	void (*attach)(void);    /* the calling thread (re)enters interpreter code: take */
	void (*detach)(void);    /* it leaves for blocking I/O, sleep, native code or its end */
	void (*safepoint)(void); /* cb_eval_breaker was raised: honour the drop request */
	/* Spawning waits (detached) until the new thread runs under the lock, as CPython's
	 * threading.Thread.start() waits for its _started event. */
	int wait_start;
} cb_thr_lock;

/* Run root under the thread backend with lock (NULL = none). */
uint64_t cb_thr_run(const cb_thr_lock *lock, const cb_backend_cfg *cfg, cb_fn root, void *arg,
		    size_t len);
/* Stack size of threads created from now on (0 = system default). */
void cb_thr_set_stack(size_t bytes);
int64_t cb_thr_max_tasks(const cb_backend_cfg *cfg, const char **why);

cb_task *cb_thr_spawn(cb_fn fn, const void *arg, size_t len);
uint64_t cb_thr_join(cb_task *t);
void cb_thr_yield(void);
void cb_thr_sleep_ns(uint64_t ns);
cb_chan *cb_thr_chan_make(size_t elem, size_t cap);
int cb_thr_chan_send(cb_chan *c, const void *elem);
int cb_thr_chan_recv(cb_chan *c, void *elem);
int cb_thr_chan_try_recv(cb_chan *c, void *elem);
void cb_thr_chan_close(cb_chan *c);
void cb_thr_chan_free(cb_chan *c);
int cb_thr_open(const char *path, int flags, int mode);
ssize_t cb_thr_read(int fd, void *buf, size_t n);
ssize_t cb_thr_write(int fd, const void *buf, size_t n);
int cb_thr_accept(int fd);
int cb_thr_connect(int fd, const struct sockaddr *addr, socklen_t len);
int cb_thr_close(int fd);
void cb_thr_safepoint_slow(void);
void cb_thr_native_begin(void);
void cb_thr_native_end(void);

/* Initializer for a cb_backend that uses these operations; name, summary, params, run and
 * max_tasks are set by each backend. */
#define CB_THR_OPS                                                                          \
	.concurrent = 1, .spawn = cb_thr_spawn, .join = cb_thr_join, .yield = cb_thr_yield,  \
	.sleep_ns = cb_thr_sleep_ns, .chan_make = cb_thr_chan_make,                          \
	.chan_send = cb_thr_chan_send, .chan_recv = cb_thr_chan_recv,                        \
	.chan_try_recv = cb_thr_chan_try_recv, .chan_close = cb_thr_chan_close,              \
	.chan_free = cb_thr_chan_free, .open = cb_thr_open, .read = cb_thr_read,             \
	.write = cb_thr_write, .accept = cb_thr_accept, .connect = cb_thr_connect,           \
	.close = cb_thr_close, .safepoint_slow = cb_thr_safepoint_slow,                      \
	.native_begin = cb_thr_native_begin, .native_end = cb_thr_native_end

#endif
