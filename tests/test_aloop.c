/* test_aloop.c: the asyncio backend: the event-loop cases (loop_cases.h) plus the
 * executor for files and the slow-task warning. */
#define LOOP_BE cb_backend_aloop
#include "task.h"
extern const cb_backend cb_backend_aloop;
#define LOOP_SUITE aloop
#include <sys/syscall.h>

#include "loop_cases.h"

extern const cb_backend cb_backend_aloop;
int cb_stat_threads_peak(void);

static uint64_t lc_pool_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	return (uint64_t)lc_distinct_openers(16);
}

Test(aloop, files_go_to_a_bounded_executor, .timeout = 20)
{
	uint64_t distinct = lc_run(lc_pool_root, NULL, 0, "pool", 2);
	cr_assert_geq(distinct, 1);
	cr_assert_leq(distinct, 2, "%lu executor threads for pool=2", (unsigned long)distinct);
	cr_assert_leq(cb_stat_threads_peak(), 1 + 2);
}

static uint64_t lc_slow_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	uint64_t ns = 60000000;
	cb_task *h = cb_spawn(lc_hog, &ns, sizeof ns); /* task 2 */
	cb_join(h);
	return 1;
}

/* Run lc_slow_root with slow_ms and return what aloop wrote on stderr. */
static char *lc_slow_stderr(int64_t slow_ms)
{
	char path[] = "/tmp/concbench_slow_XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	uint64_t r = lc_run(lc_slow_root, NULL, 0, "slow_ms", slow_ms);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	cr_assert_eq(r, 1);
	static char out[4096];
	ssize_t n = pread(fd, out, sizeof out - 1, 0);
	out[n > 0 ? n : 0] = 0;
	close(fd);
	return out;
}

Test(aloop, slow_task_warning_names_the_task, .timeout = 20)
{
	char *out = lc_slow_stderr(20);
	/* task 2 is the hog; its function is found in the test binary's symbol table */
	cr_assert(strstr(out, "slow task 2 (lc_hog)"), "stderr was: %s", out);
	cr_assert(strstr(out, "without awaiting"), "stderr was: %s", out);
	cr_assert_null(strstr(out, "slow task 1 "), "the root awaited at once: %s", out);
}

Test(aloop, slow_task_warning_off_by_default, .timeout = 20)
{
	char *out = lc_slow_stderr(0);
	cr_assert_null(strstr(out, "slow task"), "stderr was: %s", out);
}
