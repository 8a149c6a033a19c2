/* uvco.h: Node.js's execution model on the real libuv: coop tasks (models/coop) resumed from
 * libuv callbacks on one uv loop, sleeps on uv_timer, sockets and pipes on uv streams, files
 * on libuv's thread pool (uv_fs_*). */
#ifndef UVCO_H
#define UVCO_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "coop/coop.h"

typedef struct uvco_opts {
	int pool_threads;             /* 0: UV_THREADPOOL_SIZE or libuv's default (4); else set
	                               * UV_THREADPOOL_SIZE before the pool's first use */
	void (*on_thread)(int delta); /* told when the thread pool starts (+size) */
	void (*on_stack_overflow)(const char *msg); /* coop_opts.on_overflow: a task overflowed */
} uvco_opts;

/* Run root(arg) as the first task (Node's main script) until it and every task it spawned
 * have ended; then close every handle and the loop. 0 and *result, or -1 with errno
 * (EDEADLK: tasks wait and libuv has nothing left that could wake them; EBUSY: the process's
 * libuv pool already runs with another size, it cannot change). */
int uvco_run(const uvco_opts *o, coop_fn root, const void *arg, size_t len, uint64_t *result);

/* Await points, called from tasks. Spawn, join and channels are coop's. */
void uvco_yield(void);              /* await new Promise(r => setImmediate(r)) */
void uvco_sleep_ns(uint64_t ns);    /* setTimeout: whole milliseconds, rounded up */
int uvco_open(const char *path, int flags, int mode);
ssize_t uvco_read(int fd, void *buf, size_t n);
ssize_t uvco_write(int fd, const void *buf, size_t n); /* all n bytes, or -1 */
int uvco_accept(int fd);
int uvco_connect(int fd, const struct sockaddr *addr, socklen_t len);
int uvco_close(int fd);

/* The size of libuv's thread pool in this process (after the first uvco_run that used it,
 * or what it will be). */
int uvco_pool_size(void);

#endif
