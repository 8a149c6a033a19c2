/* test_uv.c: the Node.js backend on libuv: the event-loop cases (loop_cases.h) plus files
 * on libuv's thread pool and its size setting. */
#include "task.h"
extern const cb_backend cb_backend_uv;
#define LOOP_BE cb_backend_uv
#define LOOP_SUITE uv
#include <sys/syscall.h>

#include "loop_cases.h"

/* A line "Key:\tvalue" of a /proc status file, read through the task API. */
static uint64_t lc_status_field(const char *path, const char *key)
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

/* /proc/thread-self names the thread that opened it: uv_fs_open ran there. */
static uint64_t lc_opener_tid(void *arg, size_t len)
{
	(void)arg, (void)len;
	return lc_status_field("/proc/thread-self/status", "\nPid:");
}

static int lc_threads_before;

static uint64_t lc_pool_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	enum { N = 24 };
	cb_task *t[N];
	for (int i = 0; i < N; i++)
		t[i] = cb_spawn(lc_opener_tid, NULL, 0);
	uint64_t loop_tid = (uint64_t)syscall(SYS_gettid), seen[N];
	int distinct = 0;
	for (int i = 0; i < N; i++) {
		uint64_t tid = cb_join(t[i]);
		cr_assert_neq(tid, loop_tid, "a file was opened on the loop thread");
		int dup = 0;
		for (int j = 0; j < distinct; j++)
			dup |= seen[j] == tid;
		if (!dup)
			seen[distinct++] = tid;
	}
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
	int64_t p[] = {3};
	cr_assert_eq(lc_run(lc_pool_root, NULL, 0, p, 1), 3);
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
	int64_t p[] = {2};
	cr_assert_eq(lc_run(lc_nop_root, NULL, 0, p, 1), 1);
	p[0] = 5;
	lc_run(lc_nop_root, NULL, 0, p, 1);
}
