/* test_threads.c: the 1:1 thread backend beyond the conformance suite (test_conformance.c
 * holds the channel semantics): a task's writes to its argument stay its own, a blocked
 * reader blocks only itself, the thread limit has a reason. */
#include <criterion/criterion.h>
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
