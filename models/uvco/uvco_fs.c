/* uvco_fs.c: files on libuv's thread pool, as Node's fs.promises does: uv_fs_open /
 * uv_fs_read / uv_fs_write / uv_fs_close with a callback, the task parked meanwhile. A pool
 * thread writes into the buffer while other tasks run, so a buffer on the run stack (see
 * coop_task.c) is replaced by a bounce buffer. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "uvco_int.h"

typedef struct fsop {
	uv_fs_t req;
	coop_task *task;
} fsop;

static void on_fs(uv_fs_t *req)
{
	fsop *op = req->data;
	coop_wake(op->task);
	uvco_settle();
}

static fsop *fsop_new(void)
{
	uvco_pool_used();
	fsop *op = malloc(sizeof *op);
	if (!op) {
		errno = ENOMEM;
		return NULL;
	}
	op->task = coop_self();
	op->req.data = op;
	return op;
}

/* r: what the uv_fs_* call returned. Park until the pool did it; its result, errno set. */
static ssize_t fsop_wait(fsop *op, int r)
{
	ssize_t res = r;
	if (r == 0) {
		coop_park();
		res = op->req.result;
		uv_fs_req_cleanup(&op->req);
	}
	free(op);
	if (res < 0) {
		errno = (int)-res;
		return -1;
	}
	return res;
}

int uvco_open(const char *path, int flags, int mode)
{
	fsop *op = fsop_new();
	uvco_fd *f = calloc(1, sizeof *f);
	if (!op || !f) {
		free(op);
		free(f);
		errno = ENOMEM;
		return -1;
	}
	int fd = (int)fsop_wait(op, uv_fs_open(&uvco_g.loop, &op->req, path, flags | O_CLOEXEC,
					       mode, on_fs));
	if (fd < 0 || uvco_fd_set(fd, f) != 0) {
		free(f);
		return fd;
	}
	f->kind = UVCO_FILE;
	f->fd = fd;
	return fd;
}

ssize_t uvco_fs_read(int fd, void *buf, size_t n)
{
	int bounce = coop_on_stack(buf, n);
	char *b = bounce ? malloc(n ? n : 1) : buf;
	fsop *op = b ? fsop_new() : NULL;
	if (!op) {
		if (bounce)
			free(b);
		errno = ENOMEM;
		return -1;
	}
	uv_buf_t ub = uv_buf_init(b, (unsigned)n);
	ssize_t r = fsop_wait(op, uv_fs_read(&uvco_g.loop, &op->req, fd, &ub, 1, -1, on_fs));
	if (bounce) {
		if (r > 0)
			memcpy(buf, b, (size_t)r);
		free(b);
	}
	return r;
}

ssize_t uvco_fs_write(int fd, const void *buf, size_t n)
{
	int bounce = coop_on_stack(buf, n);
	char *b = bounce ? malloc(n ? n : 1) : (char *)buf;
	if (!b) {
		errno = ENOMEM;
		return -1;
	}
	if (bounce)
		memcpy(b, buf, n);
	size_t done = 0;
	ssize_t r = 0;
	while (done < n) {
		fsop *op = fsop_new();
		if (!op) {
			r = -1;
			break;
		}
		uv_buf_t ub = uv_buf_init(b + done, (unsigned)(n - done));
		r = fsop_wait(op, uv_fs_write(&uvco_g.loop, &op->req, fd, &ub, 1, -1, on_fs));
		if (r < 0)
			break;
		done += (size_t)r;
	}
	if (bounce)
		free(b);
	return r < 0 ? -1 : (ssize_t)n;
}

int uvco_fs_close(int fd)
{
	fsop *op = fsop_new();
	if (!op)
		return -1;
	return (int)fsop_wait(op, uv_fs_close(&uvco_g.loop, &op->req, fd, on_fs));
}
