/* mp_queue.c: Queue — fixed-size items between processes over a pipe, in a shared arena.
 *
 * Each item travels as one frame (8-byte header + item) written with a single write() of at
 * most PIPE_BUF bytes, which POSIX makes atomic; every reader reads exactly one frame's size,
 * so with all frames of a queue the same size a read always gets one whole frame. That is
 * why, unlike CPython's Queue, no reader or writer lock is needed.
 * - Capacity (maxsize > 0): a process-shared counting semaphore of free slots, as CPython's
 *   Queue(maxsize) uses a BoundedSemaphore. A pipe is a ring of page-sized slots: a write
 *   of at most PIPE_BUF bytes goes whole into the newest slot if it fits there, else into a
 *   fresh slot, and a slot is freed only once it is read to its end. A page thus holds
 *   floor(page / frame) frames, and the oldest slot, partly read, may hold a single one:
 *   (pages - 1) * floor(page / frame) + 1 frames always fit, however reads and writes
 *   interleave (counting bytes, or whole fresh pages, promises more than that: a put then
 *   blocks in write() below the capacity, for good if no other process reads). The pipe
 *   gets the fewest pages that surely hold maxsize frames plus a shutdown marker and a
 *   spare, at most /proc/sys/fs/pipe-max-size; if the kernel gives fewer (that limit, the
 *   per-user pipe pages), the capacity is what the pipe surely holds (mp_queue_capacity).
 * - Rendezvous (maxsize == 0): put holds a process-shared send lock, writes its frame and
 *   waits for the one-byte ack the receiving get writes to the queue's ack pipe, so a put
 *   returns only once its own item was taken.
 * - Shutdown: a CLOSE frame (zero padding, same size) queued behind the items. A get that
 *   reads it writes it back for the next reader and reports MP_ECLOSED: gets drain first,
 *   then all see the end, like EOF on a pipe that every process holds open. On a rendezvous
 *   queue it also writes a 'C' ack, so a put still waiting for a taker returns MP_ECLOSED.
 * Every queue has two read descriptions of its pipe: a non-blocking one for get_nowait
 * (O_NONBLOCK belongs to the open file description, shared by every process holding it,
 * so it cannot be toggled per call) and a blocking one, opened anew through
 * /proc/self/fd, for get. get blocks in read(), not poll(): the kernel wakes one blocked
 * reader per write (exclusive wait), where poll() would wake them all — with thousands of
 * processes parked on one queue, every item or shutdown marker would wake every one.
 * The arena is a memfd mapped shared, so spawned children (fresh programs) map the same
 * queues; the fds recorded there are inherited across fork, and across exec because the
 * spawn path clears their close-on-exec flag.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mp_int.h"

struct mp_queue {
	atomic_int state;        /* 0 free, 1 live, 2 freed by its maker */
	uint32_t item, frame;    /* item bytes; frame = header + item */
	uint32_t maxsize, cap;   /* asked, granted (0 = rendezvous) */
	int rfd, wfd;            /* the item pipe (rfd non-blocking) */
	int brfd;                /* the same pipe's read end, opened again, blocking */
	int ack_rfd, ack_wfd;    /* rendezvous acks */
	atomic_int closed;       /* shutdown called */
	pthread_mutex_t send_lock; /* rendezvous: one put in flight */
	sem_t slots;             /* free slots (maxsize > 0) */
};

struct arena {
	uint32_t max;
	atomic_uint next;        /* queues handed out so far */
	atomic_int procs, procs_peak; /* processes alive in the tree, and the most at once */
	struct mp_queue q[];
};

static struct arena *arena;
static size_t arena_size;
static int arena_memfd = -1;

int mp_arena_init(int max_queues)
{
	if (arena)
		mp_arena_fini();
	arena_size = sizeof(struct arena) + (size_t)max_queues * sizeof(struct mp_queue);
	arena_memfd = memfd_create("mp-arena", MFD_CLOEXEC);
	if (arena_memfd < 0)
		return MP_ESYS;
	if (ftruncate(arena_memfd, (off_t)arena_size) < 0)
		goto fail;
	arena = mmap(NULL, arena_size, PROT_READ | PROT_WRITE, MAP_SHARED, arena_memfd, 0);
	if (arena == MAP_FAILED)
		goto fail;
	arena->max = (uint32_t)max_queues;
	return MP_OK;
fail:
	arena = NULL;
	close(arena_memfd);
	arena_memfd = -1;
	return MP_ESYS;
}

int mp_arena_attach(int fd)
{
	off_t size = lseek(fd, 0, SEEK_END);
	if (size <= 0)
		return MP_ESYS;
	void *m = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return MP_ESYS;
	arena = m;
	arena_size = (size_t)size;
	arena_memfd = fd;
	return MP_OK;
}

void mp_arena_count_process(int delta)
{
	if (!arena)
		return;
	int v = atomic_fetch_add(&arena->procs, delta) + delta;
	int p = atomic_load(&arena->procs_peak);
	while (v > p && !atomic_compare_exchange_weak(&arena->procs_peak, &p, v))
		;
}

int mp_arena_processes_peak(void)
{
	return arena ? atomic_load(&arena->procs_peak) : 0;
}

int mp_arena_fd(void)
{
	return arena_memfd;
}

static void close_fds(struct mp_queue *q)
{
	close(q->rfd);
	close(q->brfd);
	close(q->wfd);
	if (q->ack_rfd >= 0) {
		close(q->ack_rfd);
		close(q->ack_wfd);
	}
}

void mp_arena_fini(void)
{
	if (!arena)
		return;
	/* Only the queues still live in this process have fds open here. */
	uint32_t n = atomic_load(&arena->next);
	for (uint32_t i = 0; i < n && i < arena->max; i++)
		if (atomic_load(&arena->q[i].state) == 1)
			close_fds(&arena->q[i]);
	munmap(arena, arena_size);
	close(arena_memfd);
	arena = NULL;
	arena_memfd = -1;
}

void mp_queue_spawn_inherit(void)
{
	if (!arena)
		return;
	uint32_t n = atomic_load(&arena->next);
	for (uint32_t i = 0; i < n && i < arena->max; i++) {
		struct mp_queue *q = &arena->q[i];
		if (atomic_load(&q->state) != 1)
			continue;
		mp_cloexec(q->rfd, 0);
		mp_cloexec(q->brfd, 0);
		mp_cloexec(q->wfd, 0);
		if (q->ack_rfd >= 0) {
			mp_cloexec(q->ack_rfd, 0);
			mp_cloexec(q->ack_wfd, 0);
		}
	}
}

#define QUEUE_SPARE_FRAMES 2 /* beyond the items: a shutdown marker and one spare frame */

/* Frames a pipe of this many bytes holds whatever the order of reads and writes (top of
 * this file). */
static size_t pipe_sure_frames(size_t bytes, size_t page, size_t frame)
{
	size_t pages = bytes / page;
	return pages ? (pages - 1) * (page / frame) + 1 : 0;
}

/* The largest pipe an unprivileged process may ask for. */
static size_t pipe_max_bytes(void)
{
	static size_t max;
	if (!max) {
		FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
		unsigned long v = 0;
		if (!f || fscanf(f, "%lu", &v) != 1 || v == 0)
			v = 1u << 20; /* the kernel's default */
		if (f)
			fclose(f);
		max = v > INT_MAX ? INT_MAX : v;
	}
	return max;
}

size_t mp_queue_capacity_max(size_t item)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), frame = MP_FRAME_HDR + item;
	size_t fits = pipe_sure_frames(pipe_max_bytes(), page, frame);
	return fits > QUEUE_SPARE_FRAMES ? fits - QUEUE_SPARE_FRAMES : 0;
}

/* Give the pipe the fewest pages that surely hold want frames (small queues then cost two
 * pages, not sixteen), at most pipe-max-size. Returns the frames it surely holds. */
static size_t size_pipe(int fd, size_t frame, size_t want)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), per = page / frame;
	size_t pages = 1 + (want - 1 + per - 1) / per, max = pipe_max_bytes();
	size_t bytes = pages > max / page ? max : pages * page;
	fcntl(fd, F_SETPIPE_SZ, (int)bytes); /* may fail (per-user pipe pages): what it got */
	int got = fcntl(fd, F_GETPIPE_SZ);
	return pipe_sure_frames(got > 0 ? (size_t)got : page, page, frame);
}

mp_queue *mp_queue_new(size_t item, size_t maxsize)
{
	if (!arena || item > MP_QUEUE_ITEM_MAX) {
		errno = EINVAL;
		return NULL;
	}
	uint32_t i = atomic_fetch_add(&arena->next, 1);
	if (i >= arena->max) {
		errno = ENOSPC;
		return NULL;
	}
	struct mp_queue *q = &arena->q[i];
	int p[2], a[2] = {-1, -1};
	if (pipe2(p, O_CLOEXEC) < 0)
		return NULL;
	if (maxsize == 0 && pipe2(a, O_CLOEXEC) < 0) {
		close(p[0]);
		close(p[1]);
		return NULL;
	}
	char path[40];
	snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
	int b = open(path, O_RDONLY | O_CLOEXEC);
	if (b < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		if (a[0] >= 0) {
			close(a[0]);
			close(a[1]);
		}
		errno = e;
		return NULL;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	q->brfd = b;
	q->item = (uint32_t)item;
	q->frame = (uint32_t)(MP_FRAME_HDR + item);
	q->maxsize = (uint32_t)(maxsize > UINT32_MAX ? UINT32_MAX : maxsize);
	q->rfd = p[0];
	q->wfd = p[1];
	q->ack_rfd = a[0];
	q->ack_wfd = a[1];
	atomic_store(&q->closed, 0);
	size_t fits = size_pipe(p[0], q->frame, (size_t)(maxsize ? q->maxsize : 1) + QUEUE_SPARE_FRAMES);
	fits = fits > QUEUE_SPARE_FRAMES ? fits - QUEUE_SPARE_FRAMES : 0;
	if (fits == 0) { /* not even one item and the markers */
		close(p[0]), close(p[1]), close(b);
		if (a[0] >= 0)
			close(a[0]), close(a[1]);
		errno = ENOSPC;
		return NULL;
	}
	q->cap = maxsize == 0 ? 0 : (uint32_t)(q->maxsize < fits ? q->maxsize : fits);
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&q->send_lock, &ma);
	pthread_mutexattr_destroy(&ma);
	sem_init(&q->slots, 1, q->cap);
	atomic_store(&q->state, 1);
	return q;
}

size_t mp_queue_capacity(const mp_queue *q)
{
	return q->cap;
}

int mp_queue_index(const mp_queue *q)
{
	return (int)(q - arena->q);
}

mp_queue *mp_queue_at(int index)
{
	if (!arena || index < 0 || (uint32_t)index >= atomic_load(&arena->next) ||
	    (uint32_t)index >= arena->max || atomic_load(&arena->q[index].state) != 1)
		return NULL;
	return &arena->q[index];
}

static void lock_send(mp_queue *q)
{
	if (pthread_mutex_lock(&q->send_lock) == EOWNERDEAD)
		pthread_mutex_consistent(&q->send_lock); /* a sender died mid-put: go on */
}

int mp_queue_put(mp_queue *q, const void *item)
{
	if (atomic_load(&q->closed))
		return MP_ECLOSED;
	uint8_t fr[MP_FRAME_HDR + MP_QUEUE_ITEM_MAX];
	mp_frame_hdr_put(fr, MP_F_ITEM, q->item);
	memcpy(fr + MP_FRAME_HDR, item, q->item);
	if (q->cap) {
		while (sem_wait(&q->slots) < 0 && errno == EINTR)
			;
		return mp_write_all(q->wfd, fr, q->frame);
	}
	lock_send(q);
	int rc = mp_write_all(q->wfd, fr, q->frame);
	char ack = 0;
	if (rc == MP_OK)
		rc = mp_read_all(q->ack_rfd, &ack, 1);
	pthread_mutex_unlock(&q->send_lock);
	return rc == MP_OK && ack == 'C' ? MP_ECLOSED : rc;
}

static int get(mp_queue *q, void *item, int wait)
{
	uint8_t fr[MP_FRAME_HDR + MP_QUEUE_ITEM_MAX];
	for (;;) {
		ssize_t r = read(wait ? q->brfd : q->rfd, fr, q->frame);
		if (r < 0 && errno == EAGAIN)
			return MP_EEMPTY;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return MP_ESYS;
		if (r != (ssize_t)q->frame)
			return MP_EPROTO;
		mp_frame f;
		if (mp_frame_parse(fr, (size_t)r, &f) != r || f.len != q->item)
			return MP_EPROTO;
		if (f.type == MP_F_CLOSE) {
			mp_write_all(q->wfd, fr, q->frame); /* pass the end on to the next reader */
			return MP_ECLOSED;
		}
		if (f.type != MP_F_ITEM)
			return MP_EPROTO;
		memcpy(item, f.payload, q->item);
		if (q->cap)
			sem_post(&q->slots);
		else
			mp_write_all(q->ack_wfd, "", 1);
		return MP_OK;
	}
}

int mp_queue_get(mp_queue *q, void *item)
{
	return get(q, item, 1);
}

int mp_queue_get_nowait(mp_queue *q, void *item)
{
	return get(q, item, 0);
}

void mp_queue_shutdown(mp_queue *q)
{
	if (atomic_exchange(&q->closed, 1))
		return;
	uint8_t fr[MP_FRAME_HDR + MP_QUEUE_ITEM_MAX] = {0};
	mp_frame_hdr_put(fr, MP_F_CLOSE, q->item);
	mp_write_all(q->wfd, fr, q->frame);
	if (q->ack_wfd >= 0) /* a put waiting for a taker gets MP_ECLOSED instead */
		mp_write_all(q->ack_wfd, "C", 1);
}

void mp_queue_free(mp_queue *q)
{
	close_fds(q);
	atomic_store(&q->state, 2);
}
