/* loop_cases.h: tests every event-loop backend (aloop, uv) must pass beyond the conformance
 * suite's (test_conformance.c: spawn, channels, fds), written against the task API. Included by test_aloop.c and test_uv.c after they define LOOP_BE (the backend)
 * and LOOP_SUITE (the Criterion suite name). Globals here are the tests' own bookkeeping;
 * the workloads' share-nothing rule does not apply to tests. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sys/syscall.h>

#include "task.h"
#include "testutil.h"

static uint64_t lc_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Run root on the backend with its parameter param (NULL: none) set to value, the others 0. */
static uint64_t lc_run(cb_fn root, const void *arg, size_t len, const char *param, int64_t value)
{
	cb_backend_use(&LOOP_BE);
	cb_backend_cfg cfg = {.workers = 1};
	if (param)
		cfg.p[tu_slot(LOOP_BE.params, param)] = value;
	return LOOP_BE.run(&cfg, root, (void *)arg, len);
}

/* Busy for ns of wall time without awaiting (safe points are no-ops on event loops). */
static void lc_spin(uint64_t ns)
{
	uint64_t end = lc_now() + ns;
	while (lc_now() < end)
		cb_safepoint();
}

/* ---- timers fire in deadline order ------------------------------------------------- */

/* Each sleeper reads the clock just before it sleeps: its deadline is that start plus its
 * ms, or later by however long the box stalled the task before the loop read its own clock
 * in the sleep (aloop; uv updates its cached time there, in whole ms, truncated). A
 * marker spawned after the sleepers runs once every one of them has started its sleep
 * (FIFO ready queue): its clock reading bounds every sleeper's loop-side start from above.
 * So a timer that fired after another is out of order only when its latest possible
 * deadline is before the earlier one's earliest: on a loaded box that stalls us between
 * spawns, deadlines really are reordered and that is what the loop promises to follow. */
typedef struct { cb_chan *out; uint64_t ms; } lc_sleeper_arg;
typedef struct { uint64_t ms, start; } lc_slept; /* start: ns, our clock */
#define LC_TIMER_ROUND_MS 1 /* uv_now is whole ms: a deadline may lead ours by up to 1 ms */

#define LC_CLOCK_SLACK_MS 5 /* a deadline read off the clock may lead the loop's by this much */

static uint64_t lc_sleeper(void *arg, size_t len)
{
	(void)len;
	lc_sleeper_arg a;
	memcpy(&a, arg, sizeof a);
	lc_slept s = {a.ms, lc_now()};
	cb_sleep_ns(a.ms * 1000000u);
	cb_chan_send(a.out, &s);
	return a.ms;
}

static uint64_t lc_clock_task(void *arg, size_t len)
{
	(void)arg, (void)len;
	return lc_now();
}

static uint64_t lc_timers_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	static const uint64_t ms[] = {40, 5, 25, 1, 15, 30, 10};
	enum { N = sizeof ms / sizeof *ms };
	cb_chan *out = cb_chan_make(sizeof(lc_slept), N);
	cb_task *t[N];
	for (int i = 0; i < N; i++) {
		lc_sleeper_arg a = {out, ms[i]};
		t[i] = cb_spawn(lc_sleeper, &a, sizeof a);
	}
	uint64_t marker = cb_join(cb_spawn(lc_clock_task, NULL, 0));
	lc_slept s[N];
	uint64_t disorder = 0, earliest = 0; /* the latest earliest-deadline fired so far, ns */
	for (int i = 0; i < N; i++) {
		disorder += cb_chan_recv(out, &s[i]) != CB_OK;
		uint64_t lo = s[i].start + (s[i].ms - LC_TIMER_ROUND_MS) * 1000000u;
		uint64_t hi = marker + s[i].ms * 1000000u;
		disorder += hi < earliest;
		earliest = lo > earliest ? lo : earliest;
	}
	for (int i = 0; i < N; i++)
		cb_join(t[i]);
	cb_chan_free(out);
	/* asserted outside the coroutine: a failure must not unwind through a task's stack */
	return disorder ? 0 : 1;
}

Test(LOOP_SUITE, timers_fire_in_order, .timeout = 20)
{
	cr_assert_eq(lc_run(lc_timers_root, NULL, 0, NULL, 0), 1);
}

/* Many timers with scattered durations: they wake in deadline order (the heap is right). */
typedef struct { cb_chan *out; uint64_t ms; } lc_stamp_arg;
typedef struct { uint64_t deadline, start; } lc_stamp; /* ms */

static uint64_t lc_stamped_sleeper(void *arg, size_t len)
{
	(void)len;
	lc_stamp_arg a;
	memcpy(&a, arg, sizeof a);
	/* whole ms, as uv rounds them, so both loops see the same deadlines */
	lc_stamp s = {0, lc_now() / 1000000u};
	s.deadline = s.start + a.ms;
	cb_sleep_ns(a.ms * 1000000u);
	cb_chan_send(a.out, &s);
	return 1;
}

static uint64_t lc_many_timers_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	enum { N = 600 };
	cb_chan *out = cb_chan_make(sizeof(lc_stamp), N);
	cb_task **t = malloc(N * sizeof *t);
	lc_stamp *s = malloc(N * sizeof *s);
	uint64_t base = lc_now() / 1000000u;
	uint32_t x = 12345;
	for (int i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		lc_stamp_arg a = {out, 2 + (x >> 16) % 40};
		t[i] = cb_spawn(lc_stamped_sleeper, &a, sizeof a);
	}
	uint64_t n = 0, disorder = 0, last_start = base;
	for (int i = 0; i < N; i++) {
		disorder += cb_chan_recv(out, &s[i]) != CB_OK;
		last_start = s[i].start > last_start ? s[i].start : last_start;
	}
	/* A task reads the clock after the loop's cached time, which its timer counts from: a
	 * deadline it reports leads the loop's by up to the time from the spawns to its start
	 * (longer when spawning 600 tasks is slow: sanitizers, a box that stalls us). Two
	 * wakes are out of order only past that lead. Counted here, asserted outside the
	 * coroutine, so that a failure never unwinds through a task's stack. */
	uint64_t slack = LC_CLOCK_SLACK_MS + (last_start - base), prev = 0;
	for (int i = 0; i < N; i++) {
		disorder += s[i].deadline + slack < prev;
		prev = s[i].deadline > prev ? s[i].deadline : prev;
	}
	for (int i = 0; i < N; i++)
		n += cb_join(t[i]);
	free(s);
	free(t);
	cb_chan_free(out);
	return disorder ? 0 : n;
}

Test(LOOP_SUITE, many_timers_wake_in_deadline_order, .timeout = 20)
{
	cr_assert_eq(lc_run(lc_many_timers_root, NULL, 0, NULL, 0), 600);
}

/* ---- a task blocked on a socket does not block the others -------------------------- */

static int lc_seq, lc_reader_done_at, lc_ticker_done_at;

static uint64_t lc_reader(void *arg, size_t len)
{
	(void)len;
	int fd;
	memcpy(&fd, arg, sizeof fd);
	char buf[16];
	ssize_t n = cb_read(fd, buf, sizeof buf);
	lc_reader_done_at = ++lc_seq;
	return n == 5 && memcmp(buf, "hello", 5) == 0;
}

static uint64_t lc_ticker(void *arg, size_t len)
{
	(void)len;
	int fd;
	memcpy(&fd, arg, sizeof fd);
	for (int i = 0; i < 5; i++) {
		cb_yield();
		cb_sleep_ns(1000000);
	}
	lc_ticker_done_at = ++lc_seq;
	return cb_write(fd, "hello", 5) == 5;
}

static uint64_t lc_blocked_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cb_task *r = cb_spawn(lc_reader, &sv[0], sizeof sv[0]);
	cb_task *w = cb_spawn(lc_ticker, &sv[1], sizeof sv[1]);
	uint64_t ok = cb_join(r) + cb_join(w);
	cb_close(sv[0]);
	cb_close(sv[1]);
	return ok;
}

Test(LOOP_SUITE, blocked_socket_does_not_block_others, .timeout = 20)
{
	cr_assert_eq(lc_run(lc_blocked_root, NULL, 0, NULL, 0), 2);
	cr_assert_lt(lc_ticker_done_at, lc_reader_done_at,
		     "the ticker ran its 5 rounds while the reader was blocked");
}

/* ---- no preemption: CPU work delays everyone by its full duration ------------------ */

static uint64_t lc_probe(void *arg, size_t len)
{
	(void)arg, (void)len;
	uint64_t t0 = lc_now();
	cb_sleep_ns(1000000);
	return lc_now() - t0 - 1000000; /* how late the 1 ms timer's task resumed */
}

static uint64_t lc_hog(void *arg, size_t len)
{
	(void)len;
	uint64_t ns;
	memcpy(&ns, arg, sizeof ns);
	uint64_t t0 = lc_now();
	lc_spin(ns);
	return lc_now() - t0;
}

static uint64_t lc_preempt_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	uint64_t hog_ns = 150000000;
	cb_task *p = cb_spawn(lc_probe, NULL, 0);
	cb_task *h = cb_spawn(lc_hog, &hog_ns, sizeof hog_ns);
	uint64_t late = cb_join(p);
	uint64_t ran = cb_join(h);
	cr_assert_geq(ran, hog_ns);
	/* the probe's wake-up waited for (nearly) the whole hog: nothing cut it short */
	cr_assert_geq(late, hog_ns - 10000000, "probe woke %lu ns late, hog ran %lu ns",
		      (unsigned long)late, (unsigned long)ran);
	return 1;
}

Test(LOOP_SUITE, cpu_work_delays_others_fully, .timeout = 20)
{
	cr_assert_eq(lc_run(lc_preempt_root, NULL, 0, NULL, 0), 1);
}

/* ---- TCP: accept, connect, read, write --------------------------------------------- */

typedef struct { int lfd, port, msgs; } lc_tcp_arg;

static uint64_t lc_echo_conn(void *arg, size_t len)
{
	(void)len;
	int fd;
	memcpy(&fd, arg, sizeof fd);
	char buf[1024];
	uint64_t bytes = 0;
	ssize_t n;
	while ((n = cb_read(fd, buf, sizeof buf)) > 0) {
		cr_assert_eq(cb_write(fd, buf, (size_t)n), n);
		bytes += (uint64_t)n;
	}
	cb_close(fd);
	return bytes;
}

static uint64_t lc_client(void *arg, size_t len)
{
	(void)len;
	lc_tcp_arg a;
	memcpy(&a, arg, sizeof a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a.port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(cb_connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	char msg[300], back[300];
	for (int i = 0; i < a.msgs; i++) {
		memset(msg, 'a' + i % 26, sizeof msg);
		cr_assert_eq(cb_write(fd, msg, sizeof msg), (ssize_t)sizeof msg);
		size_t got = 0;
		while (got < sizeof back) {
			ssize_t n = cb_read(fd, back + got, sizeof back - got);
			cr_assert_gt(n, 0);
			got += (size_t)n;
		}
		cr_assert_eq(memcmp(msg, back, sizeof msg), 0);
	}
	cb_close(fd);
	return (uint64_t)a.msgs * sizeof msg;
}

static uint64_t lc_tcp_root(void *arg, size_t len)
{
	(void)len;
	lc_tcp_arg a;
	memcpy(&a, arg, sizeof a);
	enum { C = 8 };
	cb_task *cl[C], *sv[C];
	for (int i = 0; i < C; i++)
		cl[i] = cb_spawn(lc_client, &a, sizeof a);
	for (int i = 0; i < C; i++) {
		int fd = cb_accept(a.lfd);
		cr_assert_geq(fd, 0);
		sv[i] = cb_spawn(lc_echo_conn, &fd, sizeof fd);
	}
	uint64_t sent = 0, echoed = 0;
	for (int i = 0; i < C; i++)
		sent += cb_join(cl[i]);
	for (int i = 0; i < C; i++)
		echoed += cb_join(sv[i]);
	cr_assert_eq(sent, echoed);
	cb_close(a.lfd);
	return sent;
}

Test(LOOP_SUITE, tcp_echo, .timeout = 20)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(lfd, 64), 0);
	socklen_t sl = sizeof sa;
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	lc_tcp_arg a = {lfd, ntohs(sa.sin_port), 50};
	cr_assert_eq(lc_run(lc_tcp_root, &a, sizeof a, NULL, 0), 8u * 50 * 300);
}

/* ---- parked tasks keep their stacks (the run stack is shared, see coop_task.c) ----- */

static uint64_t lc_stack_keeper(void *arg, size_t len)
{
	(void)len;
	uint32_t id;
	memcpy(&id, arg, sizeof id);
	volatile uint32_t frame[200]; /* lives on the run stack across every await */
	for (int i = 0; i < 200; i++)
		frame[i] = id * 1000u + (uint32_t)i;
	for (int round = 0; round < 4; round++) {
		if (round % 2)
			cb_yield();
		else
			cb_sleep_ns(1000000u * (id % 3 + 1));
		for (int i = 0; i < 200; i++)
			cr_assert_eq(frame[i], id * 1000u + (uint32_t)i, "task %u lost its frame", id);
	}
	return id;
}

static uint64_t lc_stacks_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	enum { N = 2000 };
	cb_task **t = malloc(N * sizeof *t);
	for (uint32_t i = 0; i < N; i++)
		t[i] = cb_spawn(lc_stack_keeper, &i, sizeof i);
	uint64_t sum = 0;
	for (int i = 0; i < N; i++)
		sum += cb_join(t[i]);
	free(t);
	return sum;
}

Test(LOOP_SUITE, parked_tasks_keep_their_frames, .timeout = 30)
{
	cr_assert_eq(lc_run(lc_stacks_root, NULL, 0, NULL, 0), 2000u * 1999 / 2);
}

/* ---- files: a read into a stack buffer survives other tasks running meanwhile ------ */

/* The file is the test's own (mkstemp): test_aloop and test_uv share this case, and other
 * checkouts on the box run it too; with one fixed path, one process's unlink or truncating
 * rewrite made another's readers fail to open it or sum a half-written file. */
static char lc_file_path[64];

static uint64_t lc_file_reader(void *arg, size_t len)
{
	(void)arg, (void)len;
	int fd = cb_open(lc_file_path, O_RDONLY, 0);
	cr_assert_geq(fd, 0);
	unsigned char buf[4096]; /* on the run stack: the pool must not write here directly */
	uint64_t sum = 0;
	ssize_t n;
	while ((n = cb_read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++)
			sum += buf[i];
	cr_assert_eq(n, 0);
	cb_close(fd);
	return sum;
}

static uint64_t lc_busy_yielder(void *arg, size_t len)
{
	(void)arg, (void)len;
	volatile unsigned char scribble[8192]; /* overwrites the run stack while readers wait */
	for (int r = 0; r < 200; r++) {
		for (size_t i = 0; i < sizeof scribble; i += 64)
			scribble[i] = 0xAA;
		cb_yield();
	}
	return scribble[0];
}

static uint64_t lc_files_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	enum { R = 6 };
	cb_task *t[R], *y = cb_spawn(lc_busy_yielder, NULL, 0);
	for (int i = 0; i < R; i++)
		t[i] = cb_spawn(lc_file_reader, NULL, 0);
	uint64_t s = 0;
	for (int i = 0; i < R; i++) {
		uint64_t v = cb_join(t[i]);
		cr_assert(i == 0 || v == s / (uint64_t)i, "readers disagree");
		s += v;
	}
	cb_join(y);
	return s / R;
}

Test(LOOP_SUITE, file_reads, .timeout = 20)
{
	snprintf(lc_file_path, sizeof lc_file_path, "/tmp/concbench_loop_test_file_XXXXXX");
	int fd = mkstemp(lc_file_path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	cr_assert(f);
	uint64_t want = 0;
	for (int i = 0; i < 100000; i++) {
		unsigned char b = (unsigned char)(i * 7 + i / 300);
		fputc(b, f);
		want += b;
	}
	fclose(f);
	cr_assert_eq(lc_run(lc_files_root, NULL, 0, NULL, 0), want);
	unlink(lc_file_path);
}

/* ---- a deadlock ends the cell instead of hanging ----------------------------------- */

static uint64_t lc_deadlock_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	cb_chan *c = cb_chan_make(1, 0);
	char x;
	cb_chan_recv(c, &x); /* nobody will ever send */
	return 1;
}

Test(LOOP_SUITE, deadlock_aborts, .timeout = 20, .exit_code = 3)
{
	lc_run(lc_deadlock_root, NULL, 0, NULL, 0);
}

/* ---- files on pool threads: which thread did the open ----------------------------- */

/* A line "Key:\tvalue" of a /proc status file, read through the task API. */
static inline uint64_t lc_status_field(const char *path, const char *key)
{
	int fd = cb_open(path, O_RDONLY, 0);
	cr_assert_geq(fd, 0);
	char buf[4096];
	ssize_t n = cb_read(fd, buf, sizeof buf - 1);
	cr_assert_gt(n, 0);
	buf[n] = 0;
	cb_close(fd);
	char *p = strstr(buf, key);
	cr_assert(p, "%s has no %s", path, key);
	return strtoull(p + strlen(key), NULL, 10);
}

/* /proc/thread-self names the thread that opened it: the open ran there. */
static inline uint64_t lc_opener_tid(void *arg, size_t len)
{
	(void)arg, (void)len;
	return lc_status_field("/proc/thread-self/status", "\nPid:");
}

/* Spawn n openers; none may open on the loop thread. Returns how many threads opened. */
static inline int lc_distinct_openers(int n)
{
	cb_task *t[64];
	uint64_t seen[64];
	cr_assert_leq(n, 64);
	for (int i = 0; i < n; i++)
		t[i] = cb_spawn(lc_opener_tid, NULL, 0);
	uint64_t loop_tid = (uint64_t)syscall(SYS_gettid);
	int distinct = 0;
	for (int i = 0; i < n; i++) {
		uint64_t tid = cb_join(t[i]);
		cr_assert_neq(tid, loop_tid, "a file was opened on the loop thread");
		int dup = 0;
		for (int j = 0; j < distinct; j++)
			dup |= seen[j] == tid;
		if (!dup)
			seen[distinct++] = tid;
	}
	return distinct;
}

/* ---- a task that overflows the run stack: a crash row naming it --------------------- */

extern int cb_status_fd; /* where cb_abort writes its line (harness.h) */

/* Frames far larger than a page that write only near their bottom (frame[0], and the return
 * address each call pushes): the pattern that jumps a one-page guard. 40 MB in all: past the
 * 1 MiB run stack and past any guard below it. */
enum { LC_DEEP_FRAME = 20 * 1024, LC_DEEP_DEPTH = 2000 };

__attribute__((noinline)) static uint64_t lc_deep(uint64_t depth)
{
	volatile char frame[LC_DEEP_FRAME];
	frame[0] = (char)depth;
	return depth ? lc_deep(depth - 1) + (uint64_t)frame[0] : (uint64_t)frame[0];
}

static uint64_t lc_deep_task(void *arg, size_t len)
{
	(void)arg, (void)len;
	return lc_deep(LC_DEEP_DEPTH);
}

static uint64_t lc_overflow_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	/* a file open starts the pool: its threads' stacks are mapped next to the run stack */
	cr_assert_neq(lc_opener_tid(NULL, 0), 0);
	return cb_join(cb_spawn(lc_deep_task, NULL, 0)); /* task 2 */
}

typedef struct {
	cb_fn root;
	int with_stderr;
} lc_child_arg;

static void lc_child(void *ctx, int fd)
{
	const lc_child_arg *a = ctx;
	cb_status_fd = fd;
	if (a->with_stderr)
		dup2(fd, 2);
	lc_run(a->root, NULL, 0, NULL, 0);
}

/* Run root in a child process, as a cell runs: out gets the line it aborted with (ABORT,
 * status, note), and its stderr if with_stderr; returns its exit status, or 128 + the signal that killed it. */
static int lc_run_child(cb_fn root, char *out, size_t n, int with_stderr)
{
	lc_child_arg a = {root, with_stderr};
	int st = tu_fork_read(lc_child, &a, out, n);
	cr_assert_geq(st, 0, "no child process");
	return st;
}

/* The overflow is caught at its first access below the run stack, inside the guard, so
 * nothing below (a pool thread's stack) was written; the row names the task. */
Test(LOOP_SUITE, stack_overflow_is_a_crash_row_naming_the_task, .timeout = 30)
{
	char out[2048];
	int code = lc_run_child(lc_overflow_root, out, sizeof out, 0);
	cr_assert_eq(code, 3, "exit status %d (3: cb_abort), said: %s", code, out);
	cr_assert(strstr(out, "ABORT\tcrash\ttask stack overflow: task 2 (lc_deep_task)"),
		  "said: %s", out);
	cr_assert(strstr(out, "inside its"), "the fault was not in the guard: %s", out);
}

/* Where the pool's stacks are mapped does not matter: the run stack's own mapping keeps a
 * wide PROT_NONE gap below it (wider than a default 8 MiB thread stack, so wider than any
 * frame a thread could have). */
enum { LC_MIN_GUARD = 8 << 20 };

static uint64_t lc_guard_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	cr_assert_neq(lc_opener_tid(NULL, 0), 0);
	char here; /* on the run stack */
	uintptr_t me = (uintptr_t)&here, prev_lo = 0, prev_hi = 0, below = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	cr_assert(f);
	char line[512], perms[8], prev_perms[8] = "";
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
			continue;
		if (me >= lo && me < hi) {
			/* the gap must adjoin the stack and be inaccessible */
			if (prev_hi == lo && !strcmp(prev_perms, "---p"))
				below = prev_hi - prev_lo;
			break;
		}
		prev_lo = lo, prev_hi = hi;
		memcpy(prev_perms, perms, sizeof perms);
	}
	fclose(f);
	return below;
}

Test(LOOP_SUITE, run_stack_has_a_wide_guard_below_it, .timeout = 20)
{
	uint64_t guard = lc_run(lc_guard_root, NULL, 0, NULL, 0);
	cr_assert_geq(guard, LC_MIN_GUARD, "PROT_NONE below the run stack: %lu bytes",
		      (unsigned long)guard);
}

/* ---- AddressSanitizer sees the shared stack's bugs --------------------------------- */

#include "coop/coop.h"
#include "coro/coro.h" /* CORO_ASAN */

#define LC_STR_(x) #x
#define LC_STR(x) LC_STR_(x)

/* The model under test is the shared stack only while locals live there: with ASan's
 * detect_stack_use_after_return they move to the heap. coop refuses that at a task's first
 * run (abort); this checks the same from a workload's point of view, in every build. */
static uint64_t lc_local_where(void *arg, size_t len)
{
	(void)arg, (void)len;
	char buf[64];
	memset(buf, 1, sizeof buf);
	cb_yield();
	return (uint64_t)coop_on_stack(buf, sizeof buf) + (uint64_t)(buf[63] != 1);
}

static uint64_t lc_locals_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	cb_task *a = cb_spawn(lc_local_where, NULL, 0), *b = cb_spawn(lc_local_where, NULL, 0);
	return cb_join(a) + cb_join(b) + lc_local_where(NULL, 0);
}

Test(LOOP_SUITE, task_locals_live_on_the_run_stack, .timeout = 20)
{
	cr_assert_eq(lc_run(lc_locals_root, NULL, 0, NULL, 0), 3,
		     "a task's array is not on the run stack (or lost its bytes across a yield)");
}

#ifdef CORO_ASAN
/* With fake stacks switched on, the same test must not pass quietly: coop stops the run. */
static void lc_fake_stacks_child(void *ctx, int fd)
{
	(void)ctx;
	dup2(fd, 1);
	dup2(fd, 2);
	char filter[128];
	snprintf(filter, sizeof filter, "%s/task_locals_live_on_the_run_stack", LC_STR(LOOP_SUITE));
	/* a clean environment: Criterion's own variables would make it a test worker */
	char *env[] = {"ASAN_OPTIONS=detect_stack_use_after_return=1:detect_leaks=0", NULL};
	execle("/proc/self/exe", "test", "--filter", filter, (char *)NULL, env);
	_exit(127);
}

Test(LOOP_SUITE, fake_stacks_are_refused_loudly, .timeout = 60)
{
	static char out[65536];
	int st = tu_fork_read(lc_fake_stacks_child, NULL, out, sizeof out);
	cr_assert(st != 0, "passed with fake stacks: %s", out);
	cr_assert(strstr(out, "locals off the run stack"), "said: %s", out);
}

/* An overflow of a parked task's array is reported after it was evicted from the run stack
 * and restored, as before: its red zones travel with its frames. */
static uint64_t lc_overflower(void *arg, size_t len)
{
	(void)len;
	int idx;
	memcpy(&idx, arg, sizeof idx);
	char buf[32];
	memset(buf, 0, sizeof buf);
	cb_yield(); /* the scribbler runs: these frames are copied out and back */
	cb_yield();
	volatile char *p = buf;
	__asm__("" : "+r"(p)); /* an opaque pointer: ASan's check, not UBSan's bounds ones */
	return (uint64_t)p[idx];
}

static uint64_t lc_scribbler(void *arg, size_t len)
{
	(void)arg, (void)len;
	volatile char deeper[4096]; /* its own frames over the same addresses */
	for (size_t i = 0; i < sizeof deeper; i += 64)
		deeper[i] = 1;
	cb_yield();
	return deeper[0];
}

static uint64_t lc_asan_root(void *arg, size_t len)
{
	(void)len;
	cb_task *o = cb_spawn(lc_overflower, arg, sizeof(int));
	cb_task *w = cb_spawn(lc_scribbler, NULL, 0);
	return cb_join(o) + cb_join(w);
}

static int lc_asan_idx;
static uint64_t lc_asan_child_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	return lc_asan_root(&lc_asan_idx, sizeof lc_asan_idx);
}

Test(LOOP_SUITE, asan_reports_overflow_of_a_parked_tasks_array, .timeout = 30)
{
	char out[16384];
	lc_asan_idx = 31; /* in bounds: runs clean */
	int code = lc_run_child(lc_asan_child_root, out, sizeof out, 1);
	cr_assert_eq(code, 0, "in-bounds run failed (%d): %s", code, out);
	lc_asan_idx = 32; /* one past the end */
	code = lc_run_child(lc_asan_child_root, out, sizeof out, 1);
	cr_assert_neq(code, 0, "one past the end went unreported");
	cr_assert(strstr(out, "stack-buffer-overflow"), "said: %s", out);
}
#endif
