/* test_conformance.c: the task API's contract (runners/task.h), one list of cases run on
 * every backend, as libuv runs one test list on every platform. A backend that cannot meet
 * a case by design (serial runs one task at a time; the event loops never preempt a CPU
 * loop) is listed once, in conf_exceptions, with the reason; the test then says so and is
 * skipped, never silently passed.
 *
 * Cases follow the workloads' rule: tasks share nothing but their argument, their result
 * and channels (the fork backend runs them in other processes), so every check runs in the
 * root, which runs in the test process on every backend, and a failed check returns the
 * line that failed. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "task.h"
#include "testutil.h"
#include "util.h"

/* Every backend the conformance suite runs on, by registry name (cb_backend_<id>); X gets
 * each name and a for whatever list it pairs them with. */
#define CONF_BACKENDS(X, a) X(serial, a) X(threads, a) X(gil, a) X(mn, a) X(fork, a) X(aloop, a) X(uv, a)

#define CONF_CASES(X)                                                                     \
	X(spawn_join_copies_arguments) X(nested_spawns) X(yield_returns) X(sleep_sleeps)    \
	X(rendezvous_send_waits_for_receiver) X(buffered_channel_is_fifo)                  \
	X(buffered_send_blocks_when_full)                                                  \
	X(close_drains_then_reports_closed) X(close_wakes_blocked_receivers)               \
	X(pipe_write_then_read) X(read_to_eof) X(tcp_accept_and_connect)                   \
	X(cpu_loop_with_safe_points_lets_others_run) X(native_region_lets_others_run)

/* The cases a backend does not meet by design, with the reason; nothing else is skipped. */
static const struct {
	const char *backend, *test, *why;
} conf_exceptions[] = {
	{"serial", "rendezvous_send_waits_for_receiver", "one task at a time: a rendezvous needs a second running task"},
	{"serial", "buffered_send_blocks_when_full", "one task at a time: a full buffer with no receiver running is a deadlock"},
	{"serial", "close_wakes_blocked_receivers", "one task at a time: a blocked receiver is a deadlock"},
	{"serial", "read_to_eof", "one task at a time: a reader that parks is a deadlock"},
	{"serial", "tcp_accept_and_connect", "one task at a time: client and server cannot both wait"},
	{"serial", "cpu_loop_with_safe_points_lets_others_run", "one task at a time"},
	{"serial", "native_region_lets_others_run", "one task at a time"},
	{"aloop", "cpu_loop_with_safe_points_lets_others_run", "cooperative: only an await switches (asyncio)"},
	{"aloop", "native_region_lets_others_run", "cooperative: native code holds the loop's thread"},
	{"uv", "cpu_loop_with_safe_points_lets_others_run", "cooperative: a callback runs to completion (Node)"},
	{"uv", "native_region_lets_others_run", "cooperative: native code holds the loop's thread"},
};

static const char *conf_exception(const char *backend, const char *test)
{
	for (size_t i = 0; i < sizeof conf_exceptions / sizeof *conf_exceptions; i++)
		if (!strcmp(conf_exceptions[i].backend, backend) && !strcmp(conf_exceptions[i].test, test))
			return conf_exceptions[i].why;
	return NULL;
}

/* A root returns CONF_PASS, or the line of the check that failed. */
#define CONF_PASS 1000000u
#define CONF_CHECK(cond)                                                                  \
	do {                                                                              \
		if (!(cond))                                                              \
			return (uint64_t)__LINE__;                                        \
	} while (0)

static uint64_t conf_run(const cb_backend *be, cb_fn root)
{
	cb_backend_cfg cfg = {.workers = 2};
	for (int i = 0; be->params && be->params[i].name; i++)
		cfg.p[i] = be->params[i].def;
	cb_backend_use(be);
	return be->run(&cfg, root, NULL, 0);
}

/* ---- spawn and join ------------------------------------------------------------------ */

typedef struct {
	uint32_t i;
	unsigned char bytes[1000]; /* longer than any inline argument: it must really travel */
} conf_big_arg;

static uint64_t conf_sum_bytes(void *arg, size_t len)
{
	conf_big_arg a;
	if (len != sizeof a)
		return 0;
	memcpy(&a, arg, sizeof a);
	uint64_t s = 0;
	for (size_t k = 0; k < sizeof a.bytes; k++)
		s += a.bytes[k];
	return s * 100 + a.i;
}

static uint64_t spawn_join_copies_arguments(void *arg, size_t len)
{
	(void)arg, (void)len;
	enum { N = 16 };
	cb_task *t[N];
	conf_big_arg a;
	uint64_t want[N];
	for (uint32_t i = 0; i < N; i++) {
		a.i = i;
		memset(a.bytes, (int)i + 1, sizeof a.bytes);
		want[i] = (uint64_t)(i + 1) * sizeof a.bytes * 100 + i;
		t[i] = cb_spawn(conf_sum_bytes, &a, sizeof a);
		memset(a.bytes, 0xEE, sizeof a.bytes); /* the task has its own copy */
	}
	for (int i = N - 1; i >= 0; i--) /* join order is free */
		CONF_CHECK(cb_join(t[i]) == want[i]);
	return CONF_PASS;
}

static uint64_t conf_tree(void *arg, size_t len)
{
	(void)len;
	uint32_t depth;
	memcpy(&depth, arg, sizeof depth);
	if (depth == 0)
		return 1;
	depth--;
	cb_task *a = cb_spawn(conf_tree, &depth, sizeof depth);
	cb_task *b = cb_spawn(conf_tree, &depth, sizeof depth);
	return 1 + cb_join(a) + cb_join(b);
}

static uint64_t nested_spawns(void *arg, size_t len)
{
	(void)arg, (void)len;
	uint32_t depth = 4;
	CONF_CHECK(conf_tree(&depth, sizeof depth) == 31); /* 2^5 - 1 tasks in the tree */
	return CONF_PASS;
}

/* ---- yield and sleep ----------------------------------------------------------------- */

static uint64_t conf_yielder(void *arg, size_t len)
{
	(void)arg, (void)len;
	for (int i = 0; i < 1000; i++)
		cb_yield();
	return 1000;
}

static uint64_t yield_returns(void *arg, size_t len)
{
	(void)arg, (void)len;
	cb_task *a = cb_spawn(conf_yielder, NULL, 0), *b = cb_spawn(conf_yielder, NULL, 0);
	for (int i = 0; i < 100; i++)
		cb_yield();
	CONF_CHECK(cb_join(a) + cb_join(b) == 2000);
	return CONF_PASS;
}

#define CONF_NAP_NS 20000000u /* 20 ms */

static uint64_t conf_napper(void *arg, size_t len)
{
	(void)arg, (void)len;
	uint64_t t0 = cb_now_ns();
	cb_sleep_ns(CONF_NAP_NS);
	return cb_now_ns() - t0;
}

static uint64_t sleep_sleeps(void *arg, size_t len)
{
	(void)arg, (void)len;
	cb_task *t = cb_spawn(conf_napper, NULL, 0);
	uint64_t t0 = cb_now_ns();
	cb_sleep_ns(CONF_NAP_NS);
	/* a sleep may end late on a busy box, never early (timers round up) */
	CONF_CHECK(cb_now_ns() - t0 >= CONF_NAP_NS - 1000000u);
	CONF_CHECK(cb_join(t) >= CONF_NAP_NS - 1000000u);
	return CONF_PASS;
}

/* ---- channels ------------------------------------------------------------------------ */

typedef struct {
	cb_chan *c;
	int64_t n;
} conf_chan_arg;

/* Sends 1..n, then returns the time its last send returned. */
static uint64_t conf_sender(void *arg, size_t len)
{
	(void)len;
	conf_chan_arg a;
	memcpy(&a, arg, sizeof a);
	for (int64_t v = 1; v <= a.n; v++)
		cb_chan_send(a.c, &v);
	return cb_now_ns();
}

static uint64_t rendezvous_send_waits_for_receiver(void *arg, size_t len)
{
	(void)arg, (void)len;
	conf_chan_arg a = {cb_chan_make(sizeof(int64_t), 0), 1};
	cb_task *t = cb_spawn(conf_sender, &a, sizeof a);
	cb_sleep_ns(CONF_NAP_NS); /* the sender is blocked in its send meanwhile */
	uint64_t before_recv = cb_now_ns();
	int64_t v = 0;
	CONF_CHECK(cb_chan_recv(a.c, &v) == CB_OK && v == 1);
	CONF_CHECK(cb_join(t) >= before_recv); /* the send returned only once it was taken */
	cb_chan_free(a.c);
	return CONF_PASS;
}

static uint64_t buffered_channel_is_fifo(void *arg, size_t len)
{
	(void)arg, (void)len;
	enum { N = 64 };
	conf_chan_arg a = {cb_chan_make(sizeof(int64_t), N), N};
	cb_task *t = cb_spawn(conf_sender, &a, sizeof a); /* never blocks: room for all */
	for (int64_t want = 1; want <= N; want++) {
		int64_t v;
		CONF_CHECK(cb_chan_recv(a.c, &v) == CB_OK && v == want);
	}
	cb_join(t);
	int64_t v;
	CONF_CHECK(cb_chan_try_recv(a.c, &v) == CB_EMPTY);
	cb_chan_free(a.c);
	return CONF_PASS;
}

/* The sender of buffered_send_blocks_when_full: a.n sends fill the buffer and go through
 * at once, which it says on a.full; then one more, and the time that one returned. */
typedef struct {
	conf_chan_arg data;
	cb_chan *full;
} conf_filler_arg;

static uint64_t conf_filler(void *arg, size_t len)
{
	(void)len;
	conf_filler_arg a;
	memcpy(&a, arg, sizeof a);
	for (int64_t v = 1; v <= a.data.n; v++)
		cb_chan_send(a.data.c, &v);
	int64_t token = 1;
	cb_chan_send(a.full, &token);
	int64_t v = a.data.n + 1;
	cb_chan_send(a.data.c, &v);
	return cb_now_ns();
}

static uint64_t buffered_send_blocks_when_full(void *arg, size_t len)
{
	(void)arg, (void)len;
	enum { CAP = 4 };
	conf_filler_arg a = {{cb_chan_make(sizeof(int64_t), CAP), CAP},
			     cb_chan_make(sizeof(int64_t), 1)};
	cb_task *t = cb_spawn(conf_filler, &a, sizeof a);
	int64_t v;
	/* CAP sends went through with no receiver: nothing has been received yet */
	CONF_CHECK(cb_chan_recv(a.full, &v) == CB_OK);
	cb_sleep_ns(CONF_NAP_NS); /* the sender is blocked in its last send meanwhile */
	uint64_t before_recv = cb_now_ns();
	for (int64_t want = 1; want <= CAP + 1; want++) /* in order across the ring's wrap */
		CONF_CHECK(cb_chan_recv(a.data.c, &v) == CB_OK && v == want);
	CONF_CHECK(cb_join(t) >= before_recv); /* the last send waited for room */
	cb_chan_free(a.data.c);
	cb_chan_free(a.full);
	return CONF_PASS;
}

static uint64_t close_drains_then_reports_closed(void *arg, size_t len)
{
	(void)arg, (void)len;
	cb_chan *c = cb_chan_make(sizeof(int64_t), 8);
	int64_t v;
	CONF_CHECK(cb_chan_try_recv(c, &v) == CB_EMPTY);
	for (v = 1; v <= 3; v++)
		CONF_CHECK(cb_chan_send(c, &v) == CB_OK);
	cb_chan_close(c);
	/* what was sent before the close is still received, by either call */
	CONF_CHECK(cb_chan_recv(c, &v) == CB_OK && v == 1);
	CONF_CHECK(cb_chan_try_recv(c, &v) == CB_OK && v == 2);
	CONF_CHECK(cb_chan_recv(c, &v) == CB_OK && v == 3);
	CONF_CHECK(cb_chan_recv(c, &v) == CB_CLOSED);
	CONF_CHECK(cb_chan_try_recv(c, &v) == CB_CLOSED);
	cb_chan_free(c);
	return CONF_PASS;
}

static uint64_t conf_receiver(void *arg, size_t len)
{
	(void)len;
	cb_chan *c;
	memcpy(&c, arg, sizeof c);
	int64_t v;
	return cb_chan_recv(c, &v) == CB_CLOSED;
}

static uint64_t close_wakes_blocked_receivers(void *arg, size_t len)
{
	(void)arg, (void)len;
	enum { N = 4 };
	cb_chan *c = cb_chan_make(sizeof(int64_t), 0);
	cb_task *t[N];
	for (int i = 0; i < N; i++)
		t[i] = cb_spawn(conf_receiver, &c, sizeof c);
	cb_sleep_ns(CONF_NAP_NS); /* let them block */
	cb_chan_close(c);
	uint64_t woken = 0;
	for (int i = 0; i < N; i++)
		woken += cb_join(t[i]);
	CONF_CHECK(woken == N);
	cb_chan_free(c);
	return CONF_PASS;
}

/* ---- file descriptors ---------------------------------------------------------------- */

typedef struct {
	int fd;
	uint32_t bytes; /* to write; then the fd is closed */
} conf_writer_arg;

static uint64_t conf_writer(void *arg, size_t len)
{
	(void)len;
	conf_writer_arg a;
	memcpy(&a, arg, sizeof a);
	unsigned char buf[1024];
	uint64_t sum = 0;
	for (uint32_t at = 0; at < a.bytes;) {
		uint32_t k = a.bytes - at < sizeof buf ? a.bytes - at : (uint32_t)sizeof buf;
		for (uint32_t i = 0; i < k; i++)
			sum += buf[i] = (unsigned char)(at + i);
		ssize_t w = cb_write(a.fd, buf, k);
		if (w <= 0)
			return 0;
		at += (uint32_t)w;
	}
	cb_close(a.fd);
	return sum;
}

/* Read fd to EOF in reads of up to 4096 bytes; the byte sum, and the bytes in *n. */
static uint64_t conf_read_all(int fd, uint64_t *n)
{
	unsigned char buf[4096];
	uint64_t sum = 0;
	*n = 0;
	for (ssize_t r; (r = cb_read(fd, buf, sizeof buf)) != 0;) {
		if (r < 0)
			return 0;
		for (ssize_t i = 0; i < r; i++)
			sum += buf[i];
		*n += (uint64_t)r;
	}
	return sum;
}

/* The writer task writes bytes and closes its end; then the root reads to EOF. 16 KiB fits
 * in a pipe's buffer, so the writer never needs the reader to run (serial). A process
 * backend's task closed only its own copy of the write end: the root then still holds one,
 * which it must close to see EOF, as a Python parent closes its copy after Process.start();
 * in-process backends share the one the task closed (the inode tells the two apart). */
static uint64_t conf_pipe_case(uint32_t bytes)
{
	int p[2];
	struct stat w0, w1;
	CONF_CHECK(pipe(p) == 0 && fstat(p[1], &w0) == 0);
	conf_writer_arg a = {p[1], bytes};
	uint64_t wsum = cb_join(cb_spawn(conf_writer, &a, sizeof a));
	if (fstat(p[1], &w1) == 0 && w1.st_ino == w0.st_ino && w1.st_dev == w0.st_dev)
		close(p[1]);
	uint64_t n, sum = conf_read_all(p[0], &n);
	cb_close(p[0]);
	CONF_CHECK(n == bytes);
	CONF_CHECK(sum == wsum);
	return CONF_PASS;
}

static uint64_t pipe_write_then_read(void *arg, size_t len)
{
	(void)arg, (void)len;
	return conf_pipe_case(16384);
}

/* A reader parks on an empty pipe; a writer puts 12 bytes in it and closes it; the reader
 * gets the 12, then 0 (EOF), and must not park again after the short read. A task of a
 * process backend holds its own copy of the write end and closes it, as a Python child
 * closes the end it does not use; in-process, that copy is the root's. */
typedef struct {
	int rfd, wfd;
	pid_t root;
} conf_reader_arg;

static uint64_t conf_reader(void *arg, size_t len)
{
	(void)len;
	conf_reader_arg a;
	memcpy(&a, arg, sizeof a);
	if (getpid() != a.root)
		close(a.wfd);
	uint64_t n, sum = conf_read_all(a.rfd, &n);
	return n << 32 | sum;
}

static uint64_t read_to_eof(void *arg, size_t len)
{
	(void)arg, (void)len;
	int p[2];
	CONF_CHECK(pipe(p) == 0);
	conf_reader_arg a = {p[0], p[1], getpid()};
	cb_task *t = cb_spawn(conf_reader, &a, sizeof a);
	cb_sleep_ns(CONF_NAP_NS); /* the reader parks meanwhile */
	CONF_CHECK(cb_write(p[1], "hello, world", 12) == 12);
	cb_close(p[1]);
	uint64_t r = cb_join(t), sum = 0;
	for (const char *c = "hello, world"; *c; c++)
		sum += (unsigned char)*c;
	cb_close(p[0]);
	CONF_CHECK(r >> 32 == 12);
	CONF_CHECK((r & 0xffffffffu) == sum);
	return CONF_PASS;
}

typedef struct {
	struct sockaddr_in addr;
} conf_client_arg;

static uint64_t conf_client(void *arg, size_t len)
{
	(void)len;
	conf_client_arg a;
	memcpy(&a, arg, sizeof a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || cb_connect(fd, (struct sockaddr *)&a.addr, sizeof a.addr) < 0)
		return 0;
	char b[4] = {0};
	uint64_t ok = cb_write(fd, "ping", 4) == 4 && cb_read(fd, b, 4) == 4 && !memcmp(b, "pong", 4);
	cb_close(fd);
	return ok;
}

static uint64_t tcp_accept_and_connect(void *arg, size_t len)
{
	(void)arg, (void)len;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	conf_client_arg a = {.addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)}};
	socklen_t alen = sizeof a.addr;
	CONF_CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&a.addr, sizeof a.addr) == 0);
	CONF_CHECK(listen(lfd, 8) == 0 && getsockname(lfd, (struct sockaddr *)&a.addr, &alen) == 0);
	cb_task *t = cb_spawn(conf_client, &a, sizeof a);
	int fd = cb_accept(lfd);
	CONF_CHECK(fd >= 0);
	char b[4] = {0};
	CONF_CHECK(cb_read(fd, b, 4) == 4 && !memcmp(b, "ping", 4));
	CONF_CHECK(cb_write(fd, "pong", 4) == 4);
	CONF_CHECK(cb_join(t) == 1);
	cb_close(fd);
	cb_close(lfd);
	return CONF_PASS;
}

/* ---- safe points and native regions -------------------------------------------------- */

/* A CPU loop that only stops once another task has run: with safe points (the GIL's eval
 * breaker) or inside a native region (the GIL released), a preemptive or parallel backend
 * lets the other task run; a cooperative one never would (its exception). */
typedef struct {
	cb_chan *flag;
	int native;
} conf_spin_arg;

static uint64_t conf_spinner(void *arg, size_t len)
{
	(void)len;
	conf_spin_arg a;
	memcpy(&a, arg, sizeof a);
	uint64_t spins = 0;
	int64_t v;
	if (a.native)
		cb_native_begin();
	while (cb_chan_try_recv(a.flag, &v) == CB_EMPTY) {
		for (volatile int i = 0; i < 1000; i++)
			;
		if (!a.native)
			cb_safepoint();
		spins++;
	}
	if (a.native)
		cb_native_end();
	return spins + 1;
}

static uint64_t conf_flagger(void *arg, size_t len)
{
	(void)len;
	cb_chan *flag;
	memcpy(&flag, arg, sizeof flag);
	int64_t v = 1;
	cb_chan_send(flag, &v);
	return 1;
}

static uint64_t conf_spin_case(int native)
{
	conf_spin_arg a = {cb_chan_make(sizeof(int64_t), 1), native};
	cb_task *s = cb_spawn(conf_spinner, &a, sizeof a);
	cb_task *f = cb_spawn(conf_flagger, &a.flag, sizeof a.flag);
	CONF_CHECK(cb_join(f) == 1);
	CONF_CHECK(cb_join(s) >= 1);
	cb_chan_free(a.flag);
	return CONF_PASS;
}

static uint64_t cpu_loop_with_safe_points_lets_others_run(void *arg, size_t len)
{
	(void)arg, (void)len;
	return conf_spin_case(0);
}

static uint64_t native_region_lets_others_run(void *arg, size_t len)
{
	(void)arg, (void)len;
	return conf_spin_case(1);
}

/* ---- one Criterion test per backend x case ------------------------------------------- */

static void conf_case(const cb_backend *be, const char *be_name, const char *test, cb_fn root)
{
	const char *why = conf_exception(be_name, test);
	if (why)
		cr_skip_test("%s: %s", be_name, why);
	uint64_t r = conf_run(be, root);
	cr_assert_eq(r, CONF_PASS, "%s on %s: the check at tests/test_conformance.c:%llu failed",
		     test, be_name, (unsigned long long)r);
}

#define CONF_DECLARE(be, unused) extern const cb_backend cb_backend_##be;
CONF_BACKENDS(CONF_DECLARE, 0)

#define CONF_TEST(be, test)                                                               \
	Test(conformance_##be, test, .timeout = 30)                                       \
	{                                                                                 \
		conf_case(&cb_backend_##be, #be, #test, test);                           \
	}
#define CONF_TESTS_OF(test) CONF_BACKENDS(CONF_TEST, test)
CONF_CASES(CONF_TESTS_OF)

/* ---- sending on a closed channel ends the cell, with the same line on every backend ---- */

static uint64_t conf_send_on_closed(void *arg, size_t len)
{
	(void)arg, (void)len;
	cb_chan *c = cb_chan_make(sizeof(int), 1);
	cb_chan_close(c);
	int v = 1;
	cb_chan_send(c, &v);
	return CONF_PASS; /* not reached: the send aborts the cell */
}

typedef struct {
	const cb_backend *be;
	cb_fn root;
} conf_child_arg;

static void conf_child(void *ctx, int fd)
{
	const conf_child_arg *a = ctx;
	cb_status_fd = fd;
	_exit(conf_run(a->be, a->root) == CONF_PASS ? 0 : 1);
}

/* Run root on be in a child process, as a cell runs: its exit status, and what cb_abort
 * wrote to the status pipe in line. */
static int conf_run_child(const cb_backend *be, cb_fn root, char *line, size_t n)
{
	conf_child_arg a = {be, root};
	int st = tu_fork_read(conf_child, &a, line, n);
	cr_assert_geq(st, 0, "no child process");
	return st;
}

#define CONF_ABORT_TEST(be, unused)                                                       \
	Test(conformance_##be, send_on_closed_channel_aborts, .timeout = 30)              \
	{                                                                                 \
		char line[256];                                                           \
		int st = conf_run_child(&cb_backend_##be, conf_send_on_closed, line,      \
					sizeof line);                                     \
		cr_assert_eq(st, 3, "exit status %d, status pipe: %s", st, line);         \
		cr_assert_str_eq(line, "ABORT\terror\tsend on a closed channel\n");       \
	}
CONF_BACKENDS(CONF_ABORT_TEST, 0)

/* The exceptions name real backends and cases (a renamed case cannot leave a stale skip). */
Test(conformance, exceptions_name_known_backends_and_cases, .timeout = 10)
{
#define CONF_NAME2(x, unused) #x,
#define CONF_NAME(x) #x,
	static const char *const backends[] = {CONF_BACKENDS(CONF_NAME2, 0)};
	static const char *const cases[] = {CONF_CASES(CONF_NAME)};
	for (size_t i = 0; i < sizeof conf_exceptions / sizeof *conf_exceptions; i++) {
		int b = 0, c = 0;
		for (size_t k = 0; k < sizeof backends / sizeof *backends; k++)
			b |= !strcmp(backends[k], conf_exceptions[i].backend);
		for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
			c |= !strcmp(cases[k], conf_exceptions[i].test);
		cr_assert(b && c, "exception %s/%s names no such backend or case",
			  conf_exceptions[i].backend, conf_exceptions[i].test);
	}
}
