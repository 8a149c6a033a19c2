/* cpu.hash: T tasks each hash their own buffer with SHA-256, rounds times. The buffer is the
 * task's argument, so process backends really ship it. native=1 marks the kernel as native
 * code (like a C extension such as hashlib): a GIL is released around it. */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

#define HASH_PARAMS(X)                                                                    \
	X(HASH_P_ROUNDS, "rounds", 4, 1, 10000,                                           \
	  "times each buffer is hashed (the digest is fed back in)")                      \
	X(HASH_P_NATIVE, "native", 0, 0, 1,                                               \
	  "1: kernel runs as a native region (no safe points; GIL released)")
CB_PARAMS(hash_params, HASH_PARAMS);

typedef struct hash_arg {
	uint32_t rounds, native;
	uint8_t data[];
} hash_arg;

static uint64_t hash_kernel(uint8_t *data, size_t len, uint32_t rounds, int safepoints)
{
	uint8_t out[32];
	for (uint32_t i = 0; i < rounds; i++) {
		wl_sha256(data, len, out, safepoints);
		memcpy(data, out, len < 32 ? len : 32);
	}
	uint64_t v;
	memcpy(&v, out, sizeof v);
	return v;
}

static uint64_t hash_task(void *arg, size_t len)
{
	hash_arg *a = arg;
	size_t n = len - sizeof *a;
	if (a->native) {
		cb_native_begin();
		uint64_t v = hash_kernel(a->data, n, a->rounds, 0);
		cb_native_end();
		return v;
	}
	return hash_kernel(a->data, n, a->rounds, 1);
}

static size_t buf_bytes(const cb_cell *c) { return (size_t)c->size * 1024; }

static uint64_t hash_root(void *arg, size_t len)
{
	(void)len;
	const cb_cell *c = wl_rep(arg)->cell;
	size_t n = buf_bytes(c), alen = sizeof(hash_arg) + n;
	hash_arg *a = malloc(alen);
	cb_task **t = malloc((size_t)c->tasks * sizeof *t);
	if (!a || !t)
		cb_abort("unsupported", "cannot allocate %zu bytes of buffers", alen);
	a->rounds = (uint32_t)c->p[HASH_P_ROUNDS];
	a->native = (uint32_t)c->p[HASH_P_NATIVE];
	for (int64_t i = 0; i < c->tasks; i++) {
		wl_fill(a->data, n, (uint64_t)i);
		t[i] = cb_spawn(hash_task, a, alen); /* copied: a is reused for the next task */
	}
	uint64_t sum = 0;
	for (int64_t i = 0; i < c->tasks; i++)
		sum += cb_join(t[i]);
	free(t);
	free(a);
	return sum;
}

/* The expected sum, computed on one thread outside any backend, once per cell process and
 * shape (calibration changes the rounds between repetitions). */
static uint64_t expected_sum(const cb_cell *c)
{
	static int64_t have_tasks = -1, have_size, have_rounds;
	static uint64_t sum;
	if (have_tasks == c->tasks && have_size == c->size && have_rounds == c->p[HASH_P_ROUNDS])
		return sum;
	if (c->known_knob && c->known_knob == c->p[HASH_P_ROUNDS]) /* an earlier round's */
		return c->known_expected;
	sum = 0;
	size_t n = buf_bytes(c);
	uint8_t *buf = malloc(n ? n : 1);
	for (int64_t i = 0; i < c->tasks; i++) {
		wl_fill(buf, n, (uint64_t)i);
		sum += hash_kernel(buf, n, (uint32_t)c->p[HASH_P_ROUNDS], 0);
	}
	free(buf);
	have_tasks = c->tasks, have_size = c->size, have_rounds = c->p[HASH_P_ROUNDS];
	return sum;
}

static int hash_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	r->checksum = result;
	r->expected = expected_sum(r->cell);
	r->ops = (uint64_t)r->cell->tasks;
	return 0;
}

static int64_t hash_peak(const cb_cell *c) { return c->tasks + 1; }

static const char *hash_check(const cb_cell *c, char *buf, size_t n)
{
	if ((double)c->tasks * (double)buf_bytes(c) > 8.0 * (1 << 30))
		return snprintf(buf, n, "cpu.hash: tasks x size = %.1f GiB of buffers (at most 8 GiB)",
				(double)c->tasks * (double)buf_bytes(c) / (1 << 30)), buf;
	return NULL;
}

const cb_workload cb_wl_cpu_hash = {
	.name = "cpu.hash", .unit = "tasks",
	.scale = "rounds",
	.summary = "T tasks each SHA-256 their own buffer (passed by value) rounds times",
	.tasks_doc = "tasks", .tasks_def = 8, .tasks_max = 100000,
	.size_doc = "KiB per buffer", .size_def = 1024, .size_max = 1 << 20,
	.params = hash_params, .independent = 1, .check = hash_check, .peak_tasks = hash_peak,
	.root = hash_root, .finish = hash_finish,
};
