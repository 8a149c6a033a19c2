/* common.h: pieces several workloads share: the root's view of its repetition, the CPU
 * kernels (recursive fib, SHA-256), loopback sockets and refusal helpers. */
#ifndef CB_WL_COMMON_H
#define CB_WL_COMMON_H

#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "task.h"
#include "workload.h"

/* The root task's argument is the cb_rep pointer, copied by value. */
static inline cb_rep *wl_rep(void *arg)
{
	cb_rep *r;
	memcpy(&r, arg, sizeof r);
	return r;
}

/* Recursive fib with a safe point in every call that recurses (CPython checks its eval
 * breaker at calls too). */
uint64_t wl_fib(int n);
/* fib(n) computed iteratively: the expected value, known without running the workload. */
uint64_t wl_fib_value(int n);

/* SHA-256 of len bytes; safe point every 16 blocks unless native. */
void wl_sha256(const uint8_t *data, size_t len, uint8_t out[32], int safepoints);
/* Deterministic buffer content for task i. */
void wl_fill(uint8_t *buf, size_t len, uint64_t seed);

/* A TCP socket listening on 127.0.0.1 on a free port. Returns the fd or -1 (err filled). */
int wl_listen(int backlog, int *port, char *err, size_t n);
/* The same on port *port (0: a free one, written back). */
int wl_listen_on(int backlog, int *port, char *err, size_t n);
/* The kernel's listen backlog limit (net.core.somaxconn). */
int64_t wl_somaxconn(void);

/* Percentiles of a histogram into the repetition. */
struct cb_hist;
void wl_rep_latency(cb_rep *r, const struct cb_hist *h);


/* Read or write exactly n bytes through the task API; returns n, 0 at EOF, -1 on error. */
ssize_t wl_read_full(int fd, void *buf, size_t n);
ssize_t wl_write_full(int fd, const void *buf, size_t n);

/* Spawn n tasks of fn, each with its own copy of the same argument; join them in order and
 * return the sum of their results. */
uint64_t wl_spawn_sum(cb_fn fn, const void *arg, size_t len, int64_t n);

/* Task: echo everything read from the fd in its argument back to it until EOF, then close
 * it. Returns the bytes echoed. Shared by io.echo and mix.convoy. */
uint64_t wl_echo_task(void *arg, size_t len);
/* The echo loop itself, on fd; fault (NULL in every benchmark) is test.echo_fault's: flip a
 * bit of each read, or end after the first echo. */
typedef struct wl_echo_fault {
	int flip, quit_after_one;
} wl_echo_fault;
uint64_t wl_echo_fd(int fd, const wl_echo_fault *fault);

/* State of a workload served by the load generator (io.echo, mix.convoy). */
typedef struct wl_served {
	int lfd, port, go_fd, report_fd, pid;
	int windowed;    /* the client measured a window: its rate is the row's requests/s */
	int64_t rate;    /* the open-loop rate asked (0: closed loop) */
	int client_cpu;  /* the load generator's own CPU, -1: it shares the server's */
} wl_served;
struct cb_loadgen_opts;
/* Listen, and start the load generator as o says (its port is filled in here). */
int wl_served_start(cb_rep *r, const struct cb_loadgen_opts *o, char *err, size_t n);
void wl_served_stop(cb_rep *r);
/* After the run: the client's report into the rep (ops, round-trip percentiles, a note on
 * bad echoes); the client is reaped. 0, or -1 with err. */
struct cb_loadgen_report;
int wl_served_report(cb_rep *r, struct cb_loadgen_report *lg, char *err, size_t n);
/* Root side: release the load generator and accept one connection. */
void wl_served_go(const wl_served *s);
int wl_served_accept(const wl_served *s);

#endif
