/* test_mp.c: the mp model (models/mp) — frames, Pipe, Queue, Process, Pool, spawn. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mp/mp.h"
#include "mp/mp_frame.h"
#include "fuzz/fuzz_mp_frame.c"

/* No child of the test process may remain: waitpid reports none at all. */
static void assert_no_children(void)
{
	int st;
	cr_assert_eq(waitpid(-1, &st, WNOHANG), -1, "a child is still there");
	cr_assert_eq(errno, ECHILD);
}

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h ^ n;
}

static uint64_t task_fnv(void *arg, size_t len)
{
	return fnv(arg, len);
}

static uint64_t task_square(void *arg, size_t len)
{
	uint64_t x;
	cr_assert_eq(len, sizeof x);
	memcpy(&x, arg, sizeof x);
	return x * x + 1;
}

static uint64_t task_pid(void *arg, size_t len)
{
	(void)arg;
	(void)len;
	return (uint64_t)getpid();
}

static uint64_t task_sleep_ms(void *arg, size_t len)
{
	uint32_t ms;
	memcpy(&ms, arg, len < 4 ? len : 4);
	usleep(ms * 1000u);
	return ms;
}

static uint64_t task_crash(void *arg, size_t len)
{
	(void)arg;
	(void)len;
	abort();
}

static const size_t sizes[] = {0, 1, 7, 8, 4095, 4096, 4097, 65535, 65536, 65537, 1 << 20};
#define NSIZES (sizeof sizes / sizeof *sizes)

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *b = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 131 + seed + (i >> 8));
	return b;
}

/* ---- frames ---------------------------------------------------------------------------- */

static uint64_t echo_child(void *arg, size_t len)
{
	mp_conn ends[2], c; /* ours, and the parent's, which a forked child must close */
	memcpy(ends, arg, len);
	c = ends[0];
	mp_conn_close(&ends[1]);
	void *m;
	size_t n;
	int k = 0;
	while (mp_conn_recv(&c, &m, &n) == MP_OK) {
		mp_conn_send(&c, m, n);
		free(m);
		k++;
	}
	return (uint64_t)k;
}

Test(mp_frame, pipe_round_trip_many_sizes, .timeout = 20)
{
	mp_conn a, b;
	cr_assert_eq(mp_pipe(1, &a, &b), MP_OK);
	mp_conn ends[2] = {b, a};
	mp_process *p = mp_process_start(MP_START_FORK, echo_child, ends, sizeof ends);
	cr_assert_not_null(p);
	mp_conn_close(&b);
	for (size_t i = 0; i < NSIZES; i++) {
		uint8_t *m = pattern(sizes[i], (unsigned)i);
		cr_assert_eq(mp_conn_send(&a, m, sizes[i]), MP_OK);
		void *back;
		size_t n;
		cr_assert_eq(mp_conn_recv(&a, &back, &n), MP_OK);
		cr_assert_eq(n, sizes[i]);
		cr_assert(memcmp(back, m, n) == 0, "size %zu corrupted", sizes[i]);
		free(back);
		free(m);
	}
	mp_conn_close(&a);
	uint64_t k;
	cr_assert_eq(mp_process_join(p, &k), MP_OK);
	cr_assert_eq(k, NSIZES);
	assert_no_children();
}

Test(mp_frame, pool_arguments_round_trip_many_sizes, .timeout = 20)
{
	mp_pool *p = mp_pool_new(2, MP_START_FORK);
	cr_assert_not_null(p);
	const void *args[NSIZES];
	uint64_t res[NSIZES];
	for (size_t i = 0; i < NSIZES; i++)
		args[i] = pattern(sizes[i], (unsigned)i + 9);
	for (size_t cs = 1; cs <= 3; cs += 2) {
		memset(res, 0, sizeof res);
		cr_assert_eq(mp_pool_map(p, task_fnv, args, sizes, NSIZES, cs, res), MP_OK);
		for (size_t i = 0; i < NSIZES; i++)
			cr_assert_eq(res[i], fnv(args[i], sizes[i]), "size %zu", sizes[i]);
	}
	for (size_t i = 0; i < NSIZES; i++)
		free((void *)args[i]);
	mp_pool_free(p);
	assert_no_children();
}

/* A valid stream of every frame type, for the malformed-input tests to damage. */
static size_t valid_stream(uint8_t *b)
{
	size_t n = 0;
	uint8_t one[3] = {1, 2, 3};
	mp_frame_hdr_put(b + n, MP_F_TASK, MP_TASK_FIXED + 4 + 3 + 4);
	mp_task_fixed_put(b + n + 8, 42, 99, 2);
	mp_put32(b + n + 8 + MP_TASK_FIXED, 3);
	memcpy(b + n + 8 + MP_TASK_FIXED + 4, one, 3);
	mp_put32(b + n + 8 + MP_TASK_FIXED + 7, 0);
	n += 8 + MP_TASK_FIXED + 11;
	uint64_t vals[2] = {5, 6};
	n += mp_result_encode(b + n, 42, 0, 1000, vals, 2);
	mp_frame_hdr_put(b + n, MP_F_VALUE, 8);
	mp_put64(b + n + 8, 77);
	n += 16;
	mp_frame_hdr_put(b + n, MP_F_CLOSE, 4);
	memset(b + n + 8, 0, 4);
	n += 12;
	return n;
}

Test(mp_frame, valid_stream_accepted, .timeout = 5)
{
	uint8_t b[256];
	size_t n = valid_stream(b), frames = 0;
	cr_assert_eq(mp_frame_check_stream(b, n, &frames), MP_OK);
	cr_assert_eq(frames, 4);
}

Test(mp_frame, truncated_rejected_at_every_length, .timeout = 5)
{
	uint8_t b[256];
	size_t n = valid_stream(b);
	for (size_t cut = 1; cut < n; cut++) {
		int whole = 0; /* cuts at frame boundaries are valid shorter streams */
		size_t off = 0;
		mp_frame f;
		long got;
		while (off < cut && (got = mp_frame_parse(b + off, n - off, &f)) > 0) {
			off += (size_t)got;
			if (off == cut)
				whole = 1;
		}
		int rc = mp_frame_check_stream(b, cut, NULL);
		if (whole)
			cr_assert_eq(rc, MP_OK, "cut %zu", cut);
		else
			cr_assert_eq(rc, MP_EPROTO, "cut %zu accepted", cut);
	}
}

Test(mp_frame, malformed_rejected, .timeout = 5)
{
	uint8_t b[256], c[256];
	size_t n = valid_stream(b);
	struct { size_t off; uint8_t val; const char *what; } bad[] = {
		{0, 0x00, "magic"}, {1, 0x00, "magic"}, {2, 2, "version"},
		{3, 0, "type 0"}, {3, MP_F_TYPE_END, "unknown type"},
		{7, 0x80, "length beyond the type's maximum"},
		{8 + 16, 3, "task count larger than its items"},
		{8 + MP_TASK_FIXED, 4, "item length overruns"},
		{8 + MP_TASK_FIXED + 11 + 8 + 12, 3, "result count mismatch"},
		{8 + MP_TASK_FIXED + 11 + 8 + 8, 1, "positive status"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		memcpy(c, b, n);
		c[bad[i].off] = bad[i].val;
		cr_assert_eq(mp_frame_check_stream(c, n, NULL), MP_EPROTO, "%s accepted", bad[i].what);
	}
	memcpy(c, b, n);
	c[n - 1] = 1; /* non-zero padding in a CLOSE marker */
	cr_assert_eq(mp_frame_check_stream(c, n, NULL), MP_EPROTO);
	uint8_t v[16];
	mp_frame_hdr_put(v, MP_F_VALUE, 7); /* a VALUE is exactly 8 bytes */
	cr_assert_eq(mp_frame_check_stream(v, 15, NULL), MP_EPROTO);
	uint8_t t[8 + MP_TASK_FIXED];
	mp_frame_hdr_put(t, MP_F_TASK, MP_TASK_FIXED);
	mp_task_fixed_put(t + 8, 1, 1, 0); /* a chunk of no task */
	cr_assert_eq(mp_frame_check_stream(t, sizeof t, NULL), MP_EPROTO);
}

Test(mp_frame, truncated_on_a_pipe_is_an_error, .timeout = 5)
{
	mp_conn a, b;
	cr_assert_eq(mp_pipe(0, &a, &b), MP_OK);
	uint8_t h[MP_FRAME_HDR + 3] = {0};
	mp_frame_hdr_put(h, MP_F_MSG, 10); /* promises 10 bytes, delivers 3 */
	cr_assert_eq(write(b.wfd, h, sizeof h), (ssize_t)sizeof h);
	mp_conn_close(&b);
	void *m;
	size_t n;
	cr_assert_eq(mp_conn_recv(&a, &m, &n), MP_EPROTO);
	mp_conn_close(&a);
	cr_assert_eq(mp_pipe(0, &a, &b), MP_OK);
	cr_assert_eq(write(b.wfd, "MP\1\7\0", 5), 5); /* EOF inside a header */
	mp_conn_close(&b);
	cr_assert_eq(mp_conn_recv(&a, &m, &n), MP_EPROTO);
	mp_conn_close(&a);
}

/* The fuzzer's kept corpus replayed through its entry point (which aborts on any
 * inconsistency); for accepted streams, the first frame cut short must be rejected. */
Test(mp_frame, fuzz_corpus_regression, .timeout = 60)
{
	const char *dir = "tests/fuzz/corpus/mp_frame";
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "run from the repository root: %s missing", dir);
	struct dirent *e;
	int files = 0;
	static uint8_t buf[1 << 20];
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[512];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		cr_assert_not_null(f);
		size_t n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		cb_fuzz_mp_frame_one(buf, n);
		size_t frames = 0;
		if (mp_frame_check_stream(buf, n, &frames) == MP_OK && n > 0) {
			mp_frame fr;
			long got = mp_frame_parse(buf, n, &fr);
			cr_assert_gt(got, 0);
			cr_assert_eq(mp_frame_check_stream(buf, (size_t)got - 1, NULL), MP_EPROTO);
		}
		files++;
	}
	closedir(d);
	cr_assert_gt(files, 10, "corpus too small: %d files", files);
}

/* ---- Pool ------------------------------------------------------------------------------ */

static void map_squares(mp_pool *p, size_t n, size_t cs)
{
	uint64_t *x = malloc(n * sizeof *x), *res = calloc(n, sizeof *res);
	const void **args = malloc(n * sizeof *args);
	size_t *lens = malloc(n * sizeof *lens);
	for (size_t i = 0; i < n; i++) {
		x[i] = i * 7919 + 3;
		args[i] = &x[i];
		lens[i] = sizeof x[i];
	}
	cr_assert_eq(mp_pool_map(p, task_square, args, lens, n, cs, res), MP_OK);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(res[i], x[i] * x[i] + 1, "item %zu (chunksize %zu)", i, cs);
	free(x);
	free(res);
	free(args);
	free(lens);
}

Test(mp_pool, map_results_in_order, .timeout = 30)
{
	mp_pool *p = mp_pool_new(3, MP_START_FORK);
	cr_assert_not_null(p);
	size_t cs[] = {0, 1, 2, 7, 1000, 5000};
	for (size_t i = 0; i < sizeof cs / sizeof *cs; i++)
		map_squares(p, 2000, cs[i]);
	map_squares(p, 1, 0);
	mp_pool_free(p);
	assert_no_children();
}

Test(mp_pool, default_chunksize_is_pool_maps, .timeout = 5)
{
	cr_assert_eq(mp_pool_default_chunksize(100, 2), 13);  /* ceil(100 / 8) */
	cr_assert_eq(mp_pool_default_chunksize(8, 2), 1);
	cr_assert_eq(mp_pool_default_chunksize(9, 2), 2);
	cr_assert_eq(mp_pool_default_chunksize(100000, 4), 6250);
	cr_assert_eq(mp_pool_default_chunksize(1, 8), 1);
}

/* A chunk runs in one worker: consecutive items of a chunk report the same pid. */
Test(mp_pool, chunks_run_whole_in_one_worker, .timeout = 20)
{
	mp_pool *p = mp_pool_new(2, MP_START_FORK);
	cr_assert_not_null(p);
	enum { N = 600 };
	static uint64_t res[N];
	static const void *args[N];
	static size_t lens[N];
	for (size_t cs = 5; cs <= 150; cs *= 30) {
		cr_assert_eq(mp_pool_map(p, task_pid, args, lens, N, cs, res), MP_OK);
		int switches = 0;
		for (size_t i = 1; i < N; i++) {
			if (i % cs)
				cr_assert_eq(res[i], res[i - 1], "chunk of %zu split at %zu", cs, i);
			switches += res[i] != res[i - 1];
			cr_assert(res[i] == (uint64_t)mp_pool_worker_pid(p, 0) ||
			          res[i] == (uint64_t)mp_pool_worker_pid(p, 1));
		}
		cr_assert_leq(switches, N / cs);
	}
	mp_pool_free(p);
	assert_no_children();
}

Test(mp_pool, apply_async_collected_in_any_order, .timeout = 20)
{
	mp_pool *p = mp_pool_new(2, MP_START_FORK);
	enum { N = 300 };
	mp_async *a[N];
	for (uint64_t i = 0; i < N; i++)
		a[i] = mp_pool_apply_async(p, task_square, &i, sizeof i);
	for (int i = N - 1; i >= 0; i--) {
		uint64_t r = 0;
		cr_assert_eq(mp_async_get(p, a[i], &r), MP_OK);
		cr_assert_eq(r, (uint64_t)i * i + 1);
	}
	mp_pool_free(p);
	assert_no_children();
}

Test(mp_pool, killed_worker_breaks_pool_and_parent_goes_on, .timeout = 20)
{
	mp_pool *p = mp_pool_new(2, MP_START_FORK);
	uint32_t ms = 2000;
	mp_async *a[6];
	for (int i = 0; i < 6; i++)
		a[i] = mp_pool_apply_async(p, task_sleep_ms, &ms, sizeof ms);
	cr_assert_eq(kill(mp_pool_worker_pid(p, 0), SIGKILL), 0);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(mp_async_get(p, a[i], NULL), MP_EBROKEN, "task %d", i);
	cr_assert_eq(mp_pool_broken(p), MP_EBROKEN);
	uint64_t x = 3, r;
	mp_async *late = mp_pool_apply_async(p, task_square, &x, sizeof x);
	cr_assert_eq(mp_async_get(p, late, &r), MP_EBROKEN);
	mp_pool_free(p);
	assert_no_children();
	/* The parent goes on: a new pool works. */
	p = mp_pool_new(2, MP_START_FORK);
	map_squares(p, 100, 0);
	mp_pool_free(p);
	assert_no_children();
}

Test(mp_pool, crashing_task_breaks_map, .timeout = 20)
{
	mp_pool *p = mp_pool_new(2, MP_START_FORK);
	enum { N = 64 };
	const void *args[N] = {0};
	size_t lens[N] = {0};
	uint64_t res[N];
	cr_assert_eq(mp_pool_map(p, task_crash, args, lens, N, 1, res), MP_EBROKEN);
	mp_pool_free(p);
	assert_no_children();
}

Test(mp_pool, abandoned_tasks_terminated_at_free, .timeout = 20)
{
	mp_pool *p = mp_pool_new(2, MP_START_FORK);
	uint32_t ms = 10000;
	for (int i = 0; i < 4; i++)
		mp_pool_apply_async(p, task_sleep_ms, &ms, sizeof ms);
	mp_pool_free(p); /* must not wait 10 s */
	assert_no_children();
}

/* ---- Process, spawn -------------------------------------------------------------------- */

static int boot_seen;
static void test_boot(const void *bytes, size_t len)
{
	if (len == sizeof boot_seen)
		memcpy(&boot_seen, bytes, len);
}

static uint64_t task_boot_seen(void *arg, size_t len)
{
	return (uint64_t)boot_seen + task_fnv(arg, len);
}

Test(mp_process, fork_and_spawn_return_results, .timeout = 20)
{
	int magic = 4242;
	mp_set_spawn_boot(test_boot, &magic, sizeof magic);
	uint8_t *arg = pattern(10000, 3);
	for (int how = MP_START_FORK; how <= MP_START_SPAWN; how++) {
		mp_process *p = mp_process_start(how, task_boot_seen, arg, 10000);
		cr_assert_not_null(p);
		uint64_t r;
		cr_assert_eq(mp_process_join(p, &r), MP_OK);
		/* fork inherits boot_seen (0 here); spawn gets it from the boot function */
		cr_assert_eq(r, (how == MP_START_SPAWN ? 4242u : 0u) + fnv(arg, 10000), "start %d", how);
	}
	free(arg);
	mp_set_spawn_boot(NULL, NULL, 0);
	assert_no_children();
}

Test(mp_process, died_without_result, .timeout = 20)
{
	for (int how = MP_START_FORK; how <= MP_START_SPAWN; how++) {
		mp_process *p = mp_process_start(how, task_crash, NULL, 0);
		uint64_t r;
		cr_assert_eq(mp_process_join(p, &r), MP_EDIED);
	}
	assert_no_children();
}

Test(mp_process, kill_all_reaps_everything, .timeout = 20)
{
	uint32_t ms = 10000;
	for (int i = 0; i < 5; i++)
		cr_assert_not_null(mp_process_start(MP_START_FORK, task_sleep_ms, &ms, sizeof ms));
	cr_assert_eq(mp_process_alive_count(), 5);
	mp_process_kill_all();
	cr_assert_eq(mp_process_alive_count(), 0);
	assert_no_children();
}

Test(mp_pool, spawn_mode_runs, .timeout = 30)
{
	mp_pool *p = mp_pool_new(2, MP_START_SPAWN);
	cr_assert_not_null(p);
	map_squares(p, 500, 1);
	map_squares(p, 500, 0);
	mp_pool_free(p);
	assert_no_children();
}

/* ---- Queue ------------------------------------------------------------------------------ */

struct qargs { int q, done; uint32_t n; };

static uint64_t producer(void *arg, size_t len)
{
	struct qargs a;
	memcpy(&a, arg, len);
	for (uint32_t i = 0; i < a.n; i++) {
		if (mp_queue_put(mp_queue_at(a.q), &i) != MP_OK)
			return 1;
		if (a.done >= 0)
			mp_queue_put(mp_queue_at(a.done), &i);
	}
	return 0;
}

static void drain_until(mp_queue *q, uint32_t n)
{
	uint32_t v, got = 0;
	while (got < n)
		if (mp_queue_get_nowait(q, &v) == MP_OK)
			got++;
		else
			usleep(1000);
}

Test(mp_queue, rendezvous_put_returns_after_take, .timeout = 20)
{
	cr_assert_eq(mp_arena_init(16), MP_OK);
	for (int how = MP_START_FORK; how <= MP_START_SPAWN; how++) {
		mp_queue *q = mp_queue_new(4, 0), *done = mp_queue_new(4, 100);
		struct qargs a = {mp_queue_index(q), mp_queue_index(done), 3};
		mp_process *p = mp_process_start(how, producer, &a, sizeof a);
		uint32_t v;
		for (uint32_t i = 0; i < 3; i++) {
			usleep(30000); /* give a broken put the time to return early */
			cr_assert_eq(mp_queue_get_nowait(done, &v), MP_EEMPTY, "put %u returned early", i);
			cr_assert_eq(mp_queue_get(q, &v), MP_OK);
			cr_assert_eq(v, i);
			cr_assert_eq(mp_queue_get(done, &v), MP_OK);
			cr_assert_eq(v, i);
		}
		uint64_t r;
		cr_assert_eq(mp_process_join(p, &r), MP_OK);
		cr_assert_eq(r, 0);
		mp_queue_free(q);
		mp_queue_free(done);
	}
	mp_arena_fini();
	assert_no_children();
}

Test(mp_queue, capacity_blocks_the_producer, .timeout = 20)
{
	cr_assert_eq(mp_arena_init(16), MP_OK);
	mp_queue *q = mp_queue_new(4, 4), *done = mp_queue_new(4, 100);
	cr_assert_eq(mp_queue_capacity(q), 4);
	struct qargs a = {mp_queue_index(q), mp_queue_index(done), 10};
	mp_process *p = mp_process_start(MP_START_FORK, producer, &a, sizeof a);
	drain_until(done, 4); /* four puts fit */
	usleep(50000);
	uint32_t v;
	cr_assert_eq(mp_queue_get_nowait(done, &v), MP_EEMPTY, "a fifth put did not block");
	for (uint32_t i = 0; i < 10; i++) {
		cr_assert_eq(mp_queue_get(q, &v), MP_OK);
		cr_assert_eq(v, i);
	}
	uint64_t r;
	cr_assert_eq(mp_process_join(p, &r), MP_OK);
	mp_arena_fini();
	assert_no_children();
}

static uint64_t consumer(void *arg, size_t len)
{
	int qi;
	memcpy(&qi, arg, len);
	uint32_t v;
	uint64_t sum = 0;
	while (mp_queue_get(mp_queue_at(qi), &v) == MP_OK)
		sum += v + 1;
	return sum;
}

Test(mp_queue, shutdown_drains_then_ends_every_reader, .timeout = 20)
{
	cr_assert_eq(mp_arena_init(4), MP_OK);
	mp_queue *q = mp_queue_new(4, 64);
	int qi = mp_queue_index(q);
	mp_process *c[3];
	for (int i = 0; i < 3; i++)
		c[i] = mp_process_start(i == 2 ? MP_START_SPAWN : MP_START_FORK, consumer, &qi,
		                        sizeof qi);
	uint64_t want = 0;
	for (uint32_t i = 0; i < 1000; i++) {
		cr_assert_eq(mp_queue_put(q, &i), MP_OK);
		want += i + 1;
	}
	mp_queue_shutdown(q);
	cr_assert_eq(mp_queue_put(q, &want), MP_ECLOSED);
	uint64_t sum = 0;
	for (int i = 0; i < 3; i++) {
		uint64_t r;
		cr_assert_eq(mp_process_join(c[i], &r), MP_OK);
		sum += r;
	}
	cr_assert_eq(sum, want);
	uint32_t v;
	cr_assert_eq(mp_queue_get(q, &v), MP_ECLOSED);
	cr_assert_eq(mp_queue_get_nowait(q, &v), MP_ECLOSED);
	mp_arena_fini();
	assert_no_children();
}

/* ---- the fork backend (runners/backend_fork.c) through the task API ----------------------- */

#include "task.h"
#include "testutil.h"
extern const cb_backend cb_backend_fork;

static uint64_t be_square(void *arg, size_t len)
{
	uint64_t x;
	memcpy(&x, arg, len);
	return x * x;
}

/* Under valgrind (make test-valgrind) every spawned process is a new valgrind: keep the
 * spawn-mode cases small there. */
static int under_valgrind(void)
{
	return getenv("CB_VALGRIND") != NULL;
}

static uint64_t be_spawn_join(void *arg, size_t len)
{
	(void)len;
	uint64_t n;
	memcpy(&n, arg, sizeof n);
	cb_task *t[40];
	for (uint64_t i = 0; i < n; i++)
		t[i] = cb_spawn(be_square, &i, sizeof i);
	uint64_t sum = 0;
	for (uint64_t i = 0; i < n; i++)
		sum += cb_join(t[i]);
	return sum; /* sum of i^2, i < n: 20540 for 40, 140 for 8 */
}

typedef struct tree { int64_t num, size; } tree;

static uint64_t be_tree(void *arg, size_t len)
{
	tree a;
	memcpy(&a, arg, len);
	if (a.size == 1)
		return (uint64_t)a.num;
	cb_task *t[10];
	for (int i = 0; i < 10; i++) {
		tree c = {a.num + i * (a.size / 10), a.size / 10};
		t[i] = cb_spawn(be_tree, &c, sizeof c);
	}
	uint64_t s = 0;
	for (int i = 0; i < 10; i++)
		s += cb_join(t[i]);
	return s;
}

static uint64_t be_tree_root(void *arg, size_t len)
{
	tree a = {0, 100};
	memcpy(&a.size, arg, len);
	return cb_join(cb_spawn(be_tree, &a, sizeof a)); /* 0 + ... + 99 = 4950 */
}

typedef struct chans { cb_chan *ping, *pong, *stream; } chans;

static uint64_t be_ponger(void *arg, size_t len)
{
	chans c;
	memcpy(&c, arg, len);
	uint64_t v, n = 0;
	while (cb_chan_recv(c.ping, &v) == CB_OK) {
		v++;
		cb_chan_send(c.pong, &v);
		n++;
	}
	for (uint64_t i = 0; i < 100; i++)
		cb_chan_send(c.stream, &i);
	cb_chan_close(c.stream);
	return n;
}

static uint64_t be_chan_root(void *arg, size_t len)
{
	(void)arg, (void)len;
	chans c = {cb_chan_make(8, 0), cb_chan_make(8, 0), cb_chan_make(8, 10)};
	cb_task *t = cb_spawn(be_ponger, &c, sizeof c);
	uint64_t v = 0, sum = 0;
	cr_assert_eq(cb_chan_try_recv(c.pong, &v), CB_EMPTY);
	for (int i = 0; i < 100; i++) {
		cb_chan_send(c.ping, &v);
		cr_assert_eq(cb_chan_recv(c.pong, &v), CB_OK);
	}
	cb_chan_close(c.ping);
	while (cb_chan_recv(c.stream, &v) == CB_OK)
		sum += v;
	cr_assert_eq(cb_chan_try_recv(c.stream, &v), CB_CLOSED);
	uint64_t n = cb_join(t);
	cb_chan_free(c.ping);
	cb_chan_free(c.pong);
	cb_chan_free(c.stream);
	return sum * 1000 + n; /* 4950 * 1000 + 100 round trips */
}

static uint64_t be_run(cb_fn root, int independent, int spawn, uint64_t n)
{
	cb_backend_use(&cb_backend_fork);
	cb_backend_cfg cfg = {.workers = 2, .independent = independent};
	cfg.p[tu_slot(cb_backend_fork.params, "start")] = spawn;
	uint64_t r = cb_backend_fork.run(&cfg, root, &n, sizeof n);
	assert_no_children();
	return r;
}

Test(fork_backend, pool_and_process_per_task, .timeout = 60)
{
	cr_assert_eq(be_run(be_spawn_join, 1, 0, 40), 20540, "pool, fork");
	cr_assert_eq(be_run(be_spawn_join, 0, 0, 40), 20540, "processes, fork");
	uint64_t n = under_valgrind() ? 8 : 40, want = under_valgrind() ? 140 : 20540;
	cr_assert_eq(be_run(be_spawn_join, 1, 1, n), want, "pool, spawn");
	cr_assert_eq(be_run(be_spawn_join, 0, 1, n), want, "processes, spawn");
}

Test(fork_backend, nested_spawns, .timeout = 60)
{
	cr_assert_eq(be_run(be_tree_root, 0, 0, 100), 4950);
	/* spawned children spawn grandchildren: 111 processes, or 11 under valgrind */
	if (under_valgrind())
		cr_assert_eq(be_run(be_tree_root, 0, 1, 10), 45);
	else
		cr_assert_eq(be_run(be_tree_root, 0, 1, 100), 4950);
}

Test(fork_backend, channels_between_processes, .timeout = 60)
{
	cr_assert_eq(be_run(be_chan_root, 0, 0, 0), 4950 * 1000 + 100);
	cr_assert_eq(be_run(be_chan_root, 0, 1, 0), 4950 * 1000 + 100);
}

Test(fork_backend, process_limit_has_a_reason, .timeout = 5)
{
	const char *why = NULL;
	cb_backend_cfg cfg = {.workers = 2};
	int64_t max = cb_backend_fork.max_tasks(&cfg, &why);
	cr_assert_gt(max, 0);
	cr_assert_lt(max, 1111112, "1M processes would be accepted");
	cr_assert_not_null(why);
	cfg.independent = 1;
	cr_assert_eq(cb_backend_fork.max_tasks(&cfg, &why), 0); /* pool tasks are not processes */
}

/* Many tasks of mixed sizes through apply_async and map: frames are serialized into
 * reused write buffers (compacted as they drain); every argument must arrive intact. */
Test(mp_pool, mixed_sizes_through_reused_buffers, .timeout = 60)
{
	mp_pool *p = mp_pool_new(2, MP_START_FORK);
	static const size_t mix[] = {8, 600, 0, 70000, 3, 300000, 4096, 1 << 20, 513};
	enum { N = 600, M = sizeof mix / sizeof *mix };
	uint8_t *pat[M];
	for (size_t k = 0; k < M; k++)
		pat[k] = pattern(mix[k], (unsigned)k * 7 + 1);
	mp_async *a[N];
	int sub = 0;
	for (int got = 0; got < N; got++) {
		/* keep a varying number ahead, so that buffers drain partly, then refill */
		while (sub < N && sub - got < 1 + (got * 37) % 50) {
			a[sub] = mp_pool_apply_async(p, task_fnv, pat[sub % M], mix[sub % M]);
			sub++;
		}
		uint64_t r;
		cr_assert_eq(mp_async_get(p, a[got], &r), MP_OK);
		cr_assert_eq(r, fnv(pat[got % M], mix[got % M]), "task %d, %zu bytes", got, mix[got % M]);
	}
	static const void *args[N];
	static size_t lens[N];
	static uint64_t res[N];
	for (int i = 0; i < N; i++) {
		args[i] = pat[i % M];
		lens[i] = mix[i % M];
	}
	for (size_t cs = 1; cs <= 7; cs += 6) {
		cr_assert_eq(mp_pool_map(p, task_fnv, args, lens, N, cs, res), MP_OK);
		for (int i = 0; i < N; i++)
			cr_assert_eq(res[i], fnv(args[i], lens[i]), "map item %d", i);
	}
	for (size_t k = 0; k < M; k++)
		free(pat[k]);
	mp_pool_free(p);
	assert_no_children();
}

/* ---- issue 16: capacity a pipe really holds, fds given to tasks, a failed copy ---------- */

/* A queue's capacity is what its pipe holds however reads and writes interleave: filled to
 * the capacity, then read and refilled one item at a time (the oldest page partly read, the
 * case where counting bytes or whole pages promises too much), no put ever blocks (a
 * blocked put is this test's timeout). A capacity that fits under pipe-max-size is granted
 * as asked. */
Test(mp_queue, capacity_is_what_the_pipe_surely_holds, .timeout = 60)
{
	static const size_t items[] = {4, 8, 100, 256, 1000, MP_QUEUE_ITEM_MAX};
	static const size_t asks[] = {1, 96, 100, 246, 1000, 100000};
	enum { NI = sizeof items / sizeof *items, NA = sizeof asks / sizeof *asks };
	cr_assert_eq(mp_arena_init(NI * NA), MP_OK);
	uint8_t in[MP_QUEUE_ITEM_MAX], out[MP_QUEUE_ITEM_MAX];
	for (size_t i = 0; i < NI; i++)
		for (size_t k = 0; k < NA; k++) {
			size_t item = items[i], ask = asks[k];
			mp_queue *q = mp_queue_new(item, ask);
			cr_assert_not_null(q);
			size_t cap = mp_queue_capacity(q), most = mp_queue_capacity_max(item);
			cr_assert(cap >= 1 && cap <= ask, "item %zu, asked %zu: capacity %zu", item, ask, cap);
			if (ask <= most)
				cr_assert_eq(cap, ask, "item %zu: %zu fit, %zu asked, %zu granted", item, most, ask, cap);
			else
				cr_assert_eq(cap, most, "item %zu: the whole of pipe-max-size", item);
			uint32_t put = 0, got = 0;
			for (; put < cap; put++) {
				memset(in, (int)put, item);
				memcpy(in, &put, item < 4 ? item : 4);
				cr_assert_eq(mp_queue_put(q, in), MP_OK);
			}
			size_t rounds = 4096 / (8 + item) + 2; /* a page and more of single steps */
			for (size_t r = 0; r < rounds && r < cap + 2; r++) {
				cr_assert_eq(mp_queue_get_nowait(q, out), MP_OK);
				cr_assert_eq(memcmp(out, &got, item < 4 ? item : 4), 0, "item %u in order", got);
				got++;
				memcpy(in, &put, item < 4 ? item : 4);
				cr_assert_eq(mp_queue_put(q, in), MP_OK, "refill %zu after %zu", r, cap);
				put++;
			}
			while (got < put) {
				cr_assert_eq(mp_queue_get_nowait(q, out), MP_OK);
				got++;
			}
			cr_assert_eq(mp_queue_get_nowait(q, out), MP_EEMPTY);
			mp_queue_free(q);
		}
	mp_arena_fini();
}

/* Which fds in [3, FD_SPAN) are open, as a bit mask. */
enum { FD_SPAN = 64 };
static uint64_t open_fd_mask(void)
{
	uint64_t m = 0;
	for (int fd = 3; fd < FD_SPAN; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			m |= 1ull << fd;
	return m;
}

static int count_open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n - 1; /* the directory's own fd */
}

typedef struct fd_arg { int given, lent; } fd_arg;

/* A task: the fds open in its process. */
static uint64_t be_fd_mask(void *arg, size_t len)
{
	fd_arg a;
	memcpy(&a, arg, len);
	uint64_t m = open_fd_mask();
	cb_close(a.given);
	return m;
}

typedef struct fd_root_arg { int decoy[3]; int how; } fd_root_arg;

/* Opens files through the task API and gives each to a task with a pipe end it lends: the
 * parent's copy of a given fd is closed once the task started, a lent one stays; a spawned
 * child has the fds its argument names and none of the parent's others (decoys). */
static uint64_t be_fd_root(void *arg, size_t len)
{
	fd_root_arg r;
	memcpy(&r, arg, len);
	int pp[2];
	cr_assert_eq(pipe2(pp, O_CLOEXEC), 0);
	enum { TASKS = 6 };
	cb_task *t[TASKS];
	int given[TASKS];
	for (int i = 0; i < TASKS; i++) {
		fd_arg a = {cb_open("/dev/null", O_RDONLY, 0), pp[i % 2]};
		cr_assert_geq(a.given, 3);
		cr_assert_lt(a.given, FD_SPAN);
		given[i] = a.given;
		t[i] = cb_spawn(be_fd_mask, &a, sizeof a);
		cr_assert_lt(fcntl(a.given, F_GETFD), 0, "task %d: the parent still holds fd %d", i, a.given);
		cr_assert_geq(fcntl(pp[i % 2], F_GETFD), 0, "task %d: a lent fd was closed", i);
	}
	for (int i = 0; i < TASKS; i++) {
		uint64_t m = cb_join(t[i]);
		cr_assert(m & (1ull << given[i]), "task %d: no fd %d (%#llx)", i, given[i], (unsigned long long)m);
		cr_assert(m & (1ull << pp[i % 2]), "task %d: no lent fd %d", i, pp[i % 2]);
		for (int k = 0; k < 3 && r.how == MP_START_SPAWN; k++)
			cr_assert(!(m & (1ull << r.decoy[k])), "task %d: spawned with decoy fd %d", i, r.decoy[k]);
	}
	close(pp[0]);
	close(pp[1]);
	return TASKS;
}

/* Spawned processes are slow to start under sanitizers and valgrind: few tasks, two runs. */
Test(fork_backend, given_fds_leave_the_parent_and_spawn_passes_only_named_ones, .timeout = 180)
{
	fd_root_arg r;
	for (int k = 0; k < 3; k++)
		r.decoy[k] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	for (r.how = MP_START_FORK; r.how <= MP_START_SPAWN; r.how++) {
		int before = count_open_fds();
		for (int rep = 0; rep < 2; rep++) {
			cb_backend_use(&cb_backend_fork);
			cb_backend_cfg cfg = {.workers = 2};
			cfg.p[tu_slot(cb_backend_fork.params, "start")] = r.how;
			cr_assert_eq(cb_backend_fork.run(&cfg, be_fd_root, &r, sizeof r), 6);
			assert_no_children();
			cr_assert_eq(count_open_fds(), before, "start %d, rep %d: fds grew", r.how, rep);
		}
	}
	for (int k = 0; k < 3; k++)
		close(r.decoy[k]);
}

/* The whole address space this process maps, from /proc/self/statm (pages). */
static size_t mapped_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;
	cr_assert(f && fscanf(f, "%lu", &pages) == 1);
	fclose(f);
	return pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* An apply_async argument that must wait in the parent (the only worker has more than
 * OUTQ_MAX still to write) is copied; when that copy fails for memory, the job fails at
 * once and is not left queued: the pool goes on, and nothing reads the freed job (it would
 * be sent later with whatever its memory then holds). The copy's failure is forced with an
 * address-space limit just above what the process maps. */
Test(mp_pool, failed_argument_copy_leaves_no_job_behind, .timeout = 60)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	cr_skip_test("a sanitizer's allocator aborts on an address-space limit instead of failing");
#endif
	if (under_valgrind())
		cr_skip_test("valgrind maps its own memory under the limit");
	enum { BIG = 16 << 20, SLACK = 4 << 20 };
	uint8_t *big = pattern(BIG, 5);
	mp_pool *p = mp_pool_new(1, MP_START_FORK);
	cr_assert_not_null(p);
	mp_async *first = mp_pool_apply_async(p, task_fnv, big, BIG); /* into the worker's buffer */
	cr_assert_not_null(first);
	struct rlimit old, lim;
	cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
	lim = old;
	lim.rlim_cur = mapped_bytes() + SLACK; /* room for the job record, not for its copy */
	cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
	mp_async *starved = mp_pool_apply_async(p, task_fnv, big, BIG);
	cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);
	cr_assert_not_null(starved);
	uint64_t r = 0;
	cr_assert_eq(mp_async_get(p, starved, &r), MP_ESYS, "the copy failed: the job failed");
	/* A job left queued would be sent with whatever next reuses its memory: garbage here. */
	enum { SPRAY_MIN = 16, SPRAY_MAX = 1024, SPRAY_STEP = 16 };
	void *spray[SPRAY_MAX / SPRAY_STEP];
	for (size_t k = 0, sz = SPRAY_MIN; sz <= SPRAY_MAX; k++, sz += SPRAY_STEP)
		memset(spray[k] = malloc(sz), 0xa5, sz);
	uint64_t x = 7;
	mp_async *later = mp_pool_apply_async(p, task_square, &x, sizeof x);
	cr_assert_eq(mp_async_get(p, first, &r), MP_OK);
	cr_assert_eq(r, fnv(big, BIG));
	cr_assert_eq(mp_async_get(p, later, &r), MP_OK);
	cr_assert_eq(r, 50);
	cr_assert_not(mp_pool_broken(p));
	mp_pool_free(p);
	for (size_t k = 0; k < SPRAY_MAX / SPRAY_STEP; k++)
		free(spray[k]);
	free(big);
	assert_no_children();
}
