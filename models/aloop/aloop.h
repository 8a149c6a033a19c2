/* aloop.h: Python asyncio's execution model in C: one thread, a FIFO ready queue, a binary
 * timer heap and epoll; tasks (coop tasks, models/coop) switch only at await points. Regular
 * files go to a small thread pool like asyncio's default executor. */
#ifndef ALOOP_H
#define ALOOP_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "coop/coop.h"

typedef struct aloop_opts {
	int pool_threads;        /* executor size; 0: min(32, online CPUs + 4) like asyncio */
	uint64_t slow_ns;        /* 0: off; else warn on stderr about a task that ran this long
	                          * without awaiting (asyncio's debug slow_callback_duration) */
	void (*on_thread)(int delta); /* told when executor threads start (+1) and end (-1) */
	void (*on_stack_overflow)(const char *msg); /* coop_opts.on_overflow: a task overflowed */
} aloop_opts;

/* Run root(arg) as the first task of a fresh loop until it and every task it spawned have
 * ended; everything (executor threads, epoll, tasks) is released before returning.
 * 0 and *result, or -1 with errno (EDEADLK: tasks wait for something nothing will do). */
int aloop_run(const aloop_opts *o, coop_fn root, const void *arg, size_t len, uint64_t *result);

/* Await points, called from tasks. Spawn, join, yield and channels are coop's. */
void aloop_sleep_ns(uint64_t ns);
int aloop_open(const char *path, int flags, int mode);
ssize_t aloop_read(int fd, void *buf, size_t n);
ssize_t aloop_write(int fd, const void *buf, size_t n); /* all n bytes, or -1 */
int aloop_accept(int fd);
int aloop_connect(int fd, const struct sockaddr *addr, socklen_t len);
int aloop_close(int fd);

#endif
