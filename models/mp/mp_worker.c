/* mp_worker.c: the loop of a Pool worker process (the parent's side is mp_pool.c).
 *
 * It reads TASK frames from its task pipe (as many as one read brings), runs every task of
 * each chunk on a private, aligned copy of its argument, and answers each chunk with one
 * RESULT frame. Results are batched: written when the input runs dry (before blocking),
 * when 32 KiB are pending, when the oldest unsent one is 100 us old, or right after a
 * chunk that ran longer than that, so that a burst of tiny tasks costs a few system calls
 * while a long task's result is not held back behind the next task. EOF on
 * the task pipe means the pool was closed: flush and exit. A malformed frame, or a task
 * pipe that ends inside a frame, ends the worker with a non-zero status, which the parent
 * sees as EOF: the pool breaks rather than guessing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mp_int.h"

#define RESULT_DELAY_NS 100000
#define WORKER_OUT_MAX 32768
#define SCRATCH 512 /* arguments up to this size are copied to an aligned stack buffer */

typedef struct wbuf { uint8_t *p; size_t len, cap; } wbuf;

static void wbuf_reserve(wbuf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		_exit(4);
	b->p = p;
	b->cap = cap;
}

static void worker_flush(int fd, wbuf *out)
{
	if (out->len && mp_write_all(fd, out->p, out->len) != MP_OK)
		_exit(0); /* the parent is gone: nothing left to do */
	out->len = 0;
}

/* Run one chunk, append its RESULT frame; returns how long the chunk ran. */
static uint64_t worker_run(const mp_frame *f, wbuf *out, wbuf *vals)
{
	mp_task_view v;
	if (mp_task_decode(f, &v) != MP_OK)
		_exit(5); /* the parent sees the pool break */
	mp_fn fn = mp_fn_from_token(v.fn);
	uint64_t t0 = mp_now_ns();
	int32_t status = fn ? MP_OK : MP_EBADFN;
	uint32_t count = fn ? v.count : 0;
	vals->len = 0;
	wbuf_reserve(vals, 8 * (size_t)count);
	uint64_t *res = (uint64_t *)(void *)vals->p;
	_Alignas(max_align_t) uint8_t scratch[SCRATCH];
	size_t pos = 0;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t len;
		const uint8_t *a = mp_task_item(&v, &pos, &len);
		/* The task gets a private, aligned copy; big aligned ones are already private. */
		if (len <= sizeof scratch) {
			memcpy(scratch, a, len);
			res[i] = fn(scratch, len);
		} else if (((uintptr_t)a & (_Alignof(max_align_t) - 1)) == 0) {
			res[i] = fn((void *)a, len);
		} else {
			void *c = malloc(len);
			if (!c)
				_exit(4);
			memcpy(c, a, len);
			res[i] = fn(c, len);
			free(c);
		}
	}
	uint64_t el = mp_now_ns() - t0;
	wbuf_reserve(out, MP_FRAME_HDR + MP_RESULT_FIXED + 8 * (size_t)count);
	out->len += mp_result_encode(out->p + out->len, v.id, status, el, res, count);
	return el;
}

uint64_t mp_worker_main(void *arg, size_t len)
{
	int fds[2];
	if (len != sizeof fds)
		_exit(6);
	memcpy(fds, arg, sizeof fds);
	int in = fds[0], outfd = fds[1];
	fcntl(in, F_SETFL, O_NONBLOCK); /* only this worker reads this pipe */
	wbuf ib = {0}, out = {0}, vals = {0};
	wbuf_reserve(&ib, 65536);
	size_t off = 0;
	uint64_t first_unsent = 0;
	for (;;) {
		mp_frame f;
		long got;
		while ((got = mp_frame_parse(ib.p + off, ib.len - off, &f)) > 0) {
			if (f.type != MP_F_TASK)
				_exit(5);
			size_t before = out.len;
			uint64_t el = worker_run(&f, &out, &vals);
			off += (size_t)got;
			uint64_t now = mp_now_ns();
			if (before == 0)
				first_unsent = now;
			/* A chunk that ran long is answered at once: batching only pays for short
			 * ones, and holding its result would hold the parent's next dispatch. */
			if (out.len > WORKER_OUT_MAX || el > RESULT_DELAY_NS ||
			    now - first_unsent > RESULT_DELAY_NS)
				worker_flush(outfd, &out);
		}
		if (got < 0)
			_exit(5);
		/* Keep the partial frame, at the front, with room for all of it. */
		memmove(ib.p, ib.p + off, ib.len - off);
		ib.len -= off;
		off = 0;
		if (ib.len >= MP_FRAME_HDR)
			wbuf_reserve(&ib, MP_FRAME_HDR + mp_get32(ib.p + 4) - ib.len);
		if (ib.cap - ib.len < 4096)
			wbuf_reserve(&ib, 65536);
		ssize_t r = read(in, ib.p + ib.len, ib.cap - ib.len);
		if (r > 0) {
			ib.len += (size_t)r;
		} else if (r < 0 && errno == EAGAIN) {
			worker_flush(outfd, &out); /* input ran dry: send what is done */
			struct pollfd pfd = {.fd = in, .events = POLLIN};
			poll(&pfd, 1, -1);
		} else if (r == 0) {
			worker_flush(outfd, &out);
			_exit(ib.len ? 5 : 0); /* EOF: the pool was closed */
		} else if (errno != EINTR) {
			_exit(7);
		}
	}
}
