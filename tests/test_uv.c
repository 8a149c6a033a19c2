/* test_uv.c: the Node.js backend on libuv: the event-loop cases (loop_cases.h) plus files
 * on libuv's thread pool and its size setting. */
#include "task.h"
extern const cb_backend cb_backend_uv;
#define LOOP_BE cb_backend_uv
#define LOOP_SUITE uv
#include <sys/syscall.h>

#include "loop_cases.h"

static int lc_threads_before;

static uint64_t lc_pool_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	lc_distinct_openers(24);
	/* libuv started its whole pool at the first request; no other threads */
	uint64_t threads = lc_status_field("/proc/self/status", "\nThreads:");
	return threads - (uint64_t)lc_threads_before;
}

static int lc_threads_now(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

Test(uv, files_on_pool_threads_default_size, .timeout = 20)
{
	unsetenv("UV_THREADPOOL_SIZE");
	lc_threads_before = lc_threads_now();
	cr_assert_eq(lc_run(lc_pool_root, NULL, 0, NULL, 0), 4, "libuv's default pool is 4");
}

Test(uv, pool_param_sets_the_pool_size, .timeout = 20)
{
	lc_threads_before = lc_threads_now();
	cr_assert_eq(lc_run(lc_pool_root, NULL, 0, "pool", 3), 3);
}

Test(uv, uv_threadpool_size_is_honoured, .timeout = 20)
{
	setenv("UV_THREADPOOL_SIZE", "2", 1);
	lc_threads_before = lc_threads_now();
	cr_assert_eq(lc_run(lc_pool_root, NULL, 0, NULL, 0), 2);
}

static uint64_t lc_nop_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	return lc_opener_tid(NULL, 0) != 0;
}

/* libuv's pool cannot change size once started: a second run asking for another size is
 * refused as unsupported (exit 3) rather than silently running with the old one. */
Test(uv, pool_cannot_be_resized_in_one_process, .timeout = 20, .exit_code = 3)
{
	cr_assert_eq(lc_run(lc_nop_root, NULL, 0, "pool", 2), 1);
	lc_run(lc_nop_root, NULL, 0, "pool", 5);
}
