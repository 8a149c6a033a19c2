/* io.file: T tasks each read their own file (created before timing, in a fresh temporary
 * folder, so it is in the page cache) in chunks and checksum it. Regular files cannot be
 * polled: this is where backends show their thread pools or blocking-call handling. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"

#define FILE_PARAMS(X)                                                                    \
	X(FILE_P_CHUNK_KB, "chunk_kb", 64, 1, 65536, "read size in KiB")
CB_PARAMS(file_params, FILE_PARAMS);

typedef struct file_state {
	char dir[256];
	uint64_t expected;
} file_state;

typedef struct file_arg {
	char path[300];
	uint32_t chunk;
} file_arg;

static uint64_t sum_words(const uint8_t *b, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = h * 0x100000001b3u ^ b[i];
	return h;
}

static void file_path(char *out, size_t n, const char *dir, int64_t i)
{
	snprintf(out, n, "%s/f%lld", dir, (long long)i);
}

static int file_prepare(cb_rep *r, char *err, size_t n)
{
	const cb_cell *c = r->cell;
	file_state *s = calloc(1, sizeof *s);
	const char *tmp = getenv("TMPDIR");
	snprintf(s->dir, sizeof s->dir, "%s/concbench-file-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(s->dir)) {
		snprintf(err, n, "mkdtemp %s: %s", s->dir, strerror(errno));
		free(s);
		return -1;
	}
	r->priv = s;
	size_t bytes = (size_t)c->size * 1024;
	uint8_t *buf = malloc(bytes);
	for (int64_t i = 0; i < c->tasks; i++) {
		char p[300];
		file_path(p, sizeof p, s->dir, i);
		wl_fill(buf, bytes, (uint64_t)i + 7);
		s->expected += sum_words(buf, bytes, 0xcbf29ce484222325u);
		int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, buf, bytes) != (ssize_t)bytes) {
			snprintf(err, n, "write %s: %s", p, strerror(errno));
			if (fd >= 0)
				close(fd);
			free(buf);
			return -1;
		}
		close(fd);
	}
	free(buf);
	snprintf(r->twin, sizeof r->twin, "dir=%.250s", s->dir);
	return 0;
}

static uint64_t file_task(void *arg, size_t len)
{
	(void)len;
	file_arg a;
	memcpy(&a, arg, sizeof a);
	int fd = cb_open(a.path, O_RDONLY, 0);
	if (fd < 0)
		cb_abort("error", "open %s: %s", a.path, strerror(errno));
	uint8_t *buf = malloc(a.chunk);
	uint64_t h = 0xcbf29ce484222325u;
	ssize_t r;
	while ((r = cb_read(fd, buf, a.chunk)) > 0)
		h = sum_words(buf, (size_t)r, h);
	if (r < 0)
		cb_abort("error", "read %s: %s", a.path, strerror(errno));
	cb_close(fd);
	free(buf);
	return h;
}

static uint64_t file_root(void *arg, size_t len)
{
	(void)len;
	cb_rep *r = wl_rep(arg);
	const cb_cell *c = r->cell;
	const file_state *s = r->priv;
	cb_task **t = malloc((size_t)c->tasks * sizeof *t);
	for (int64_t i = 0; i < c->tasks; i++) {
		file_arg a = {.chunk = (uint32_t)c->p[FILE_P_CHUNK_KB] * 1024};
		file_path(a.path, sizeof a.path, s->dir, i);
		t[i] = cb_spawn(file_task, &a, sizeof a);
	}
	uint64_t sum = 0;
	for (int64_t i = 0; i < c->tasks; i++)
		sum += cb_join(t[i]);
	free(t);
	return sum;
}

static int file_finish(cb_rep *r, uint64_t result, char *err, size_t n)
{
	(void)err, (void)n;
	const file_state *s = r->priv;
	r->checksum = result;
	r->expected = s->expected;
	r->ops = (uint64_t)r->cell->tasks * (uint64_t)r->cell->size * 1024;
	return 0;
}

static void file_cleanup(cb_rep *r)
{
	file_state *s = r->priv;
	if (!s)
		return;
	for (int64_t i = 0; i < r->cell->tasks; i++) {
		char p[300];
		file_path(p, sizeof p, s->dir, i);
		unlink(p);
	}
	rmdir(s->dir);
	free(s);
	r->priv = NULL;
}

static const char *file_check(const cb_cell *c, char *buf, size_t n)
{
	if ((double)c->tasks * (double)c->size > 4.0 * 1024 * 1024)
		return snprintf(buf, n, "io.file: tasks x size = %.1f GiB of files (at most 4 GiB)",
				(double)c->tasks * (double)c->size / 1048576.0), buf;
	return NULL;
}

static int64_t file_peak(const cb_cell *c) { return c->tasks + 1; }

const cb_workload cb_wl_io_file = {
	.name = "io.file", .unit = "bytes",
	.summary = "T tasks each read their own (page-cached) file in chunks and checksum it",
	.tasks_doc = "tasks (files)", .tasks_def = 8, .tasks_max = 100000,
	.size_doc = "KiB per file", .size_def = 1024, .size_max = 4 << 20,
	.params = file_params, .independent = 1, .check = file_check, .peak_tasks = file_peak,
	.prepare = file_prepare, .root = file_root, .finish = file_finish, .cleanup = file_cleanup,
};
