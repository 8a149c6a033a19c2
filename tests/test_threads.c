/* test_threads.c: the 1:1 thread backend through the task API: spawn/join, argument copies,
 * channel semantics (rendezvous, buffered order, close, try_recv), blocking I/O. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <unistd.h>

#include "task.h"
#include "workload.h"
#include "util.h"

static uint64_t run_threads(cb_fn root)
{
	const cb_backend *be = cb_backend_find("threads");
	cb_backend_use(be);
	cb_backend_cfg cfg = {.workers = 2};
	int dummy = 0;
	return be->run(&cfg, root, &dummy, sizeof dummy);
}

static uint64_t square(void *arg, size_t len)
{
	cr_assert_eq(len, sizeof(uint64_t));
	uint64_t v;
	memcpy(&v, arg, sizeof v);
	*(uint64_t *)arg = 0; /* scribbling on our copy must not touch the spawner's */
	return v * v;
}

static uint64_t spawn_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	cb_task *t[50];
	uint64_t vals[50];
	for (uint64_t i = 0; i < 50; i++) {
		vals[i] = i;
		t[i] = cb_spawn(square, &vals[i], sizeof vals[i]);
	}
	uint64_t s = 0;
	for (int i = 0; i < 50; i++)
		s += cb_join(t[i]);
	for (uint64_t i = 0; i < 50; i++)
		cr_assert_eq(vals[i], i);
	return s;
}

Test(threads, spawn_join_results_and_copies, .timeout = 30)
{
	cr_assert_eq(run_threads(spawn_root), 40425); /* sum of squares 0..49 */
}

typedef struct chan_pair {
	cb_chan *c;
	int64_t n;
	atomic_int *stage;
} chan_pair;

static uint64_t slow_receiver(void *arg, size_t len)
{
	(void)len;
	chan_pair p;
	memcpy(&p, arg, sizeof p);
	usleep(50000);
	atomic_store(p.stage, 1);
	int64_t v;
	cr_assert_eq(cb_chan_recv(p.c, &v), CB_OK);
	return (uint64_t)v;
}

static uint64_t rendezvous_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	atomic_int stage = 0;
	chan_pair p = {cb_chan_make(sizeof(int64_t), 0), 0, &stage};
	cb_task *t = cb_spawn(slow_receiver, &p, sizeof p);
	int64_t v = 77;
	cb_chan_send(p.c, &v);
	/* The send returned, so the receiver must already have been taking it. */
	cr_assert_eq(atomic_load(&stage), 1, "rendezvous send returned before a receiver came");
	uint64_t r = cb_join(t);
	cb_chan_free(p.c);
	return r;
}

Test(threads, rendezvous_send_waits_for_receiver, .timeout = 30)
{
	cr_assert_eq(run_threads(rendezvous_root), 77);
}

static uint64_t producer(void *arg, size_t len)
{
	(void)len;
	chan_pair p;
	memcpy(&p, arg, sizeof p);
	for (int64_t i = 0; i < p.n; i++)
		cb_chan_send(p.c, &i);
	cb_chan_close(p.c);
	return 0;
}

static uint64_t buffered_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	chan_pair p = {cb_chan_make(sizeof(int64_t), 7), 10000, NULL};
	cb_task *t = cb_spawn(producer, &p, sizeof p);
	int64_t v, want = 0;
	while (cb_chan_recv(p.c, &v) == CB_OK) {
		cr_assert_eq(v, want, "FIFO order");
		want++;
	}
	cr_assert_eq(want, 10000);
	cr_assert_eq(cb_chan_recv(p.c, &v), CB_CLOSED, "closed stays closed");
	cr_assert_eq(cb_chan_try_recv(p.c, &v), CB_CLOSED);
	cb_join(t);
	cb_chan_free(p.c);
	return 1;
}

Test(threads, buffered_order_and_close, .timeout = 30)
{
	cr_assert_eq(run_threads(buffered_root), 1);
}

static uint64_t try_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	cb_chan *c = cb_chan_make(sizeof(int), 2);
	int v = 5, out = 0;
	cr_assert_eq(cb_chan_try_recv(c, &out), CB_EMPTY);
	cb_chan_send(c, &v);
	cb_chan_close(c);
	cr_assert_eq(cb_chan_try_recv(c, &out), CB_OK, "buffered values survive close");
	cr_assert_eq(out, 5);
	cr_assert_eq(cb_chan_try_recv(c, &out), CB_CLOSED);
	cb_chan_free(c);
	return 1;
}

Test(threads, try_recv_empty_value_closed, .timeout = 30)
{
	cr_assert_eq(run_threads(try_root), 1);
}

typedef struct pipe_arg {
	int fd;
} pipe_arg;

static uint64_t reader(void *arg, size_t len)
{
	(void)len;
	pipe_arg a;
	memcpy(&a, arg, sizeof a);
	char b[4];
	return cb_read(a.fd, b, sizeof b) == 4 && !memcmp(b, "ping", 4);
}

static uint64_t io_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pipe_arg a = {p[0]};
	cb_task *t = cb_spawn(reader, &a, sizeof a);
	cb_sleep_ns(20000000); /* the reader blocks meanwhile; we still run */
	cr_assert_eq(cb_write(p[1], "ping", 4), 4);
	uint64_t ok = cb_join(t);
	cb_close(p[0]);
	cb_close(p[1]);
	return ok;
}

Test(threads, blocked_reader_does_not_block_others, .timeout = 30)
{
	cr_assert_eq(run_threads(io_root), 1);
}

Test(threads, max_tasks_has_a_reason, .timeout = 10)
{
	const char *why = NULL;
	cb_backend_cfg cfg = {.workers = 1};
	int64_t m = cb_backend_find("threads")->max_tasks(&cfg, &why);
	cr_assert_gt(m, 100);
	cr_assert_lt(m, 1111112, "a million threads is beyond a default Linux box");
	cr_assert(why && *why);
}
