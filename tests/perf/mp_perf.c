/* mp_perf.c: micro-benchmarks of the mp model (models/mp), lmbench style: a warm-up, then
 * REPS repetitions, the median reported with its unit (min and max beside it).
 *
 *   bw_pipe      raw pipe bandwidth: one process writes 64 KiB chunks, another reads them
 *                (lmbench bw_pipe), MiB/s
 *   bw_pool      large arguments through Pool(1): map of a trivial task over 1 MiB
 *                arguments (sent from the caller's memory) and apply_async (serialized, a
 *                copy, as cb_spawn does), submitted 4 ahead or all 256 at once, MiB/s
 *   bw_ratio     the two above back to back per repetition: pool / raw, in %
 *   overhead     Pool(W).map of a trivial task at chunksize 1 (and at the default), us/task
 *   start        Process start + join of a trivial task, fork and spawn, us/process, beside
 *                the floor: a bare fork + _exit + waitpid of this binary
 *
 * usage: mp_perf [bw_pipe|bw_pool|bw_ratio|overhead|start|all] [workers]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mp/mp.h"

#define REPS 11
#define XFER (64 * 1024)
#define BW_TOTAL (256u << 20)   /* bytes per bandwidth repetition */
#define ARG_BYTES (1u << 20)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Run f REPS times after one warm-up; print the median of value = f() with its unit. */
static void report(const char *what, const char *unit, double (*f)(void *), void *ctx)
{
	double v[REPS];
	f(ctx);
	for (int i = 0; i < REPS; i++)
		v[i] = f(ctx);
	qsort(v, REPS, sizeof *v, cmp);
	printf("%-44s %10.2f %s  (min %.2f, max %.2f, %d reps)\n", what, v[REPS / 2], unit, v[0],
	       v[REPS - 1], REPS);
	fflush(stdout);
}

/* ---- raw pipe ---- */

static double bw_pipe(void *ctx)
{
	int psz = *(int *)ctx;
	int p[2];
	if (pipe(p) < 0)
		exit(1);
	if (psz)
		fcntl(p[1], F_SETPIPE_SZ, psz);
	static char buf[XFER];
	double t0 = now_s();
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		size_t got = 0;
		ssize_t r;
		while ((r = read(p[0], buf, sizeof buf)) > 0)
			got += (size_t)r;
		_exit(got == BW_TOTAL ? 0 : 1);
	}
	close(p[0]);
	for (size_t sent = 0; sent < BW_TOTAL; sent += XFER)
		if (write(p[1], buf, XFER) != XFER)
			exit(1);
	close(p[1]);
	int st;
	waitpid(pid, &st, 0);
	double t = now_s() - t0;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		exit(1);
	return BW_TOTAL / t / (1 << 20);
}

/* ---- pool ---- */

static uint64_t first_byte(void *arg, size_t len)
{
	return len ? ((uint8_t *)arg)[0] + len : 0;
}

static uint64_t identity(void *arg, size_t len)
{
	uint64_t x = 0;
	memcpy(&x, arg, len < 8 ? len : 8);
	return x;
}

struct bw_ctx { mp_pool *p; uint8_t *arg; int apply, window; };

static double bw_pool(void *vctx)
{
	struct bw_ctx *c = vctx;
	enum { K = BW_TOTAL / ARG_BYTES };
	const void *args[K];
	size_t lens[K];
	uint64_t res[K];
	for (int i = 0; i < K; i++) {
		args[i] = c->arg;
		lens[i] = ARG_BYTES;
	}
	double t0 = now_s();
	if (c->apply) {
		/* At most `window` submitted ahead of the results collected (K: all at once). */
		mp_async *a[K];
		int sub = 0;
		for (int got = 0; got < K; got++) {
			while (sub < K && sub - got < c->window)
				a[sub++] = mp_pool_apply_async(c->p, first_byte, c->arg, ARG_BYTES);
			if (mp_async_get(c->p, a[got], &res[got]) != MP_OK)
				exit(1);
		}
	} else if (mp_pool_map(c->p, first_byte, args, lens, K, 1, res) != MP_OK) {
		exit(1);
	}
	double t = now_s() - t0;
	for (int i = 0; i < K; i++)
		if (res[i] != c->arg[0] + (uint64_t)ARG_BYTES)
			exit(1);
	return BW_TOTAL / t / (1 << 20);
}

struct ov_ctx { mp_pool *p; size_t n, cs; int apply; };

static double overhead(void *vctx)
{
	struct ov_ctx *c = vctx;
	uint64_t *x = malloc(c->n * 8), *res = malloc(c->n * 8);
	const void **args = malloc(c->n * sizeof *args);
	size_t *lens = malloc(c->n * sizeof *lens);
	for (size_t i = 0; i < c->n; i++) {
		x[i] = i;
		args[i] = &x[i];
		lens[i] = 8;
	}
	double t0 = now_s();
	if (mp_pool_map(c->p, identity, args, lens, c->n, c->cs, res) != MP_OK)
		exit(1);
	double t = now_s() - t0;
	for (size_t i = 0; i < c->n; i++)
		if (res[i] != i)
			exit(1);
	free(x);
	free(res);
	free(args);
	free(lens);
	return t / (double)c->n * 1e6;
}

/* Pool bandwidth over raw pipe bandwidth, measured back to back in every repetition so
 * that load from other programs hits both sides alike; the median ratio is reported. */
static void bw_ratio(void)
{
	struct bw_ctx c = {mp_pool_new(1, MP_START_FORK), malloc(ARG_BYTES), 0, 4};
	memset(c.arg, 0x5a, ARG_BYTES);
	int dflt = 0;
	double rm[REPS], ra[REPS];
	bw_pipe(&dflt);
	bw_pool(&c);
	for (int i = 0; i < REPS; i++) {
		double raw = bw_pipe(&dflt);
		c.apply = 0;
		rm[i] = bw_pool(&c) / raw;
		c.apply = 1;
		ra[i] = bw_pool(&c) / raw;
	}
	qsort(rm, REPS, sizeof *rm, cmp);
	qsort(ra, REPS, sizeof *ra, cmp);
	printf("%-44s %10.0f %%  (min %.0f, max %.0f, %d reps)\n", "Pool(1).map 1 MiB args / raw pipe", 100 * rm[REPS / 2],
	       100 * rm[0], 100 * rm[REPS - 1], REPS);
	printf("%-44s %10.0f %%  (min %.0f, max %.0f, %d reps)\n", "Pool(1).apply_async 1 MiB, 4 ahead / raw pipe",
	       100 * ra[REPS / 2], 100 * ra[0], 100 * ra[REPS - 1], REPS);
	mp_pool_free(c.p);
	free(c.arg);
}

/* ---- process start ---- */

struct st_ctx { enum mp_start how; int n; };

static double start_join(void *vctx)
{
	struct st_ctx *c = vctx;
	uint64_t v = 7;
	double t0 = now_s();
	for (int i = 0; i < c->n; i++) {
		mp_process *p = mp_process_start(c->how, identity, &v, sizeof v);
		uint64_t r;
		if (!p || mp_process_join(p, &r) != MP_OK || r != 7)
			exit(1);
	}
	return (now_s() - t0) / c->n * 1e6;
}

/* The floor: fork, _exit, waitpid of this same binary, nothing else. */
static double bare_fork(void *vctx)
{
	int n = *(int *)vctx;
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		int st;
		waitpid(pid, &st, 0);
	}
	return (now_s() - t0) / n * 1e6;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "all";
	int w = argc > 2 ? atoi(argv[2]) : 2;
	int all = !strcmp(what, "all");
	if (all || !strcmp(what, "bw_pipe")) {
		int sizes[] = {0, 256 << 10, 1 << 20};
		const char *names[] = {"default (64 KiB)", "256 KiB", "1 MiB"};
		for (int i = 0; i < 3; i++) {
			char label[80];
			snprintf(label, sizeof label, "raw pipe, 64 KiB writes, pipe %s", names[i]);
			report(label, "MiB/s", bw_pipe, &sizes[i]);
		}
	}
	if (all || !strcmp(what, "bw_pool")) {
		struct bw_ctx c = {mp_pool_new(1, MP_START_FORK), malloc(ARG_BYTES), 0, 0};
		memset(c.arg, 0x5a, ARG_BYTES);
		report("Pool(1).map, 1 MiB arguments, chunksize 1", "MiB/s", bw_pool, &c);
		c.apply = 1;
		c.window = 4;
		report("Pool(1).apply_async 1 MiB args, 4 ahead", "MiB/s", bw_pool, &c);
		c.window = BW_TOTAL / ARG_BYTES;
		report("Pool(1).apply_async 1 MiB args, 256 at once", "MiB/s", bw_pool, &c);
		mp_pool_free(c.p);
		free(c.arg);
	}
	if (all || !strcmp(what, "bw_ratio"))
		bw_ratio();
	if (all || !strcmp(what, "overhead")) {
		char label[80];
		struct ov_ctx c = {mp_pool_new(w, MP_START_FORK), 100000, 1, 0};
		snprintf(label, sizeof label, "Pool(%d).map trivial task, chunksize 1", w);
		report(label, "us/task", overhead, &c);
		c.cs = 0;
		snprintf(label, sizeof label, "Pool(%d).map trivial task, default chunksize", w);
		report(label, "us/task", overhead, &c);
		mp_pool_free(c.p);
	}
	if (all || !strcmp(what, "start")) {
		struct st_ctx f = {MP_START_FORK, 200}, s = {MP_START_SPAWN, 50};
		int n = 200;
		report("bare fork + _exit + waitpid (the floor)", "us/process", bare_fork, &n);
		report("Process start + join, fork", "us/process", start_join, &f);
		report("Process start + join, spawn (fork + exec)", "us/process", start_join, &s);
	}
	return 0;
}
