/* mp_pool.c: Pool(W) — W worker processes running submitted tasks, as multiprocessing.Pool.
 *
 * The model (what a Python program using multiprocessing pays, and nothing it does not):
 * - Workers are OS processes started by fork or by spawn (fork + exec of this binary, see
 *   mp_spawn.c). Each task's function travels as a token, its argument as bytes, its result
 *   as 8 bytes: everything crosses pipes as frames (mp_frame.h) and is decoded strictly.
 * - map splits its input in chunks (Pool.map's default chunksize ceil(n / (4W))); a chunk is
 *   one TASK frame and comes back as one RESULT frame. apply_async is a chunk of one.
 *
 * Rejected: CPython's exact plumbing (one shared inqueue pipe behind a process-shared lock,
 * one shared outqueue, task/result handler threads in the parent). The shared inqueue needs
 * a lock per get and cannot tell which worker held a task when one dies, which is why
 * CPython's Pool hangs forever when a worker is killed. Chosen: one task pipe and one result
 * pipe per worker, driven by the parent from a poll() loop (pump); it pays the same
 * serialization, pipe crossings and process switches, and knows what each worker holds.
 *
 * Scheduling: tasks wait in the parent's pending FIFO and are handed to the live worker
 * with the fewest chunks in flight, up to a per-worker limit that keeps about 200 us of work
 * queued (from the worker's measured time per chunk, at least 2): short tasks are batched
 * many per pipe write, long tasks stay in the parent so idle workers can take them (and no
 * worker gets more while 4 MiB are still to be written to it). A task handed to a worker
 * is serialized into that worker's write buffer, which is reused batch after batch; an
 * apply_async task that has to wait keeps a copy of its argument until then.
 * Workers batch results the same way: they write what they have when their input runs dry
 * or when the oldest unsent result is 100 us old.
 *
 * Failure: a worker that dies (crash, kill -9, cb_abort) closes its result pipe; the
 * parent's poll wakes at once on EOF, and the pool is broken, as concurrent.futures'
 * BrokenProcessPool: the other workers are killed and reaped, every pending and in-flight
 * task fails with MP_EBROKEN, later submissions fail at once. A malformed frame from a
 * worker breaks the pool the same way (MP_EPROTO on the tasks). Workers die with the parent
 * (PR_SET_PDEATHSIG) and stay in its process group, so the group's Ctrl-C reaches them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mp_int.h"

#define QUEUED_NS 200000     /* work kept queued per worker */
#define LIMIT_MIN 2
#define LIMIT_MAX 512
#define COPY_MAX 512         /* map arguments up to this size are copied into the write buffer */
#define OUTQ_MAX (4u << 20)  /* no new task for a worker with this much still to write */
#define CLOSE_GRACE_NS 1000000000ull /* idle workers get this long to exit at close */

struct mp_async {
	uint64_t id, fn;
	uint32_t count;
	const void *const *args;      /* count arguments (borrowed) */
	const size_t *lens;
	uint64_t *results;            /* count results */
	int status, done;
	struct mp_async *next;        /* pending or in-flight FIFO */
	struct mp_async *aprev, *anext; /* apply_async jobs owned by the pool */
	const void *one_arg;          /* apply_async: a chunk of one */
	size_t one_len;
	uint64_t one_result;
	int borrowed;                 /* map: arguments may be sent from the caller's memory */
	int assigned;                 /* handed to a worker (its frame is in the write queue) */
	void *own;                    /* apply_async still pending: its private copy */
};
typedef struct mp_async job;

struct seg { const uint8_t *ptr; size_t off, len; }; /* ptr NULL: bytes at off in outq */

typedef struct outq {
	uint8_t *bytes;               /* serialized frames, reused from one batch to the next */
	size_t blen, bcap;
	struct seg *seg;
	size_t nseg, segcap, head;
	size_t queued;                /* bytes not yet written */
} outq;

typedef struct worker {
	pid_t pid;
	int task_wr, res_rd;          /* parent's ends, non-blocking */
	int alive;
	outq out;                     /* frames not yet written to the task pipe */
	uint8_t *in;                  /* result bytes not yet parsed */
	size_t in_len, in_cap;
	job *head, *tail;             /* chunks in flight, in the order sent */
	int inflight;
	uint64_t avg_ns;              /* smoothed worker time per chunk; 0 = unknown */
} worker;

struct mp_pool {
	int n, started;
	worker *w;
	job *pend_head, *pend_tail;   /* not yet handed to a worker */
	uint64_t next_id;
	int broken;                   /* MP_OK or the error every task now gets */
	job *owned;                   /* apply_async jobs not yet collected */
	mp_pool *next_pool;           /* every pool of this process, for mp_atfork_child */
};

static mp_pool *pools;

/* ---- parent side: buffers ----------------------------------------------------------- */

/* Drop what was written: owned bytes and segments move to the front, so the buffer is
 * reused (its pages stay warm) instead of growing while a pipe is never quite drained. */
static void outq_compact(outq *q)
{
	size_t from = q->blen;
	for (size_t i = q->head; i < q->nseg; i++)
		if (!q->seg[i].ptr) {
			from = q->seg[i].off;
			break;
		}
	if (from > 0) {
		memmove(q->bytes, q->bytes + from, q->blen - from);
		for (size_t i = q->head; i < q->nseg; i++)
			if (!q->seg[i].ptr)
				q->seg[i].off -= from;
		q->blen -= from;
	}
	if (q->head > 0) {
		memmove(q->seg, q->seg + q->head, (q->nseg - q->head) * sizeof *q->seg);
		q->nseg -= q->head;
		q->head = 0;
	}
}

static int outq_grow_segs(outq *q)
{
	if (q->nseg < q->segcap)
		return 0;
	outq_compact(q);
	if (q->nseg < q->segcap)
		return 0;
	size_t cap = q->segcap ? 2 * q->segcap : 16;
	struct seg *s = realloc(q->seg, cap * sizeof *s);
	if (!s)
		return -1;
	q->seg = s;
	q->segcap = cap;
	return 0;
}

static int outq_bytes(outq *q, const void *data, size_t n)
{
	if (n == 0)
		return 0;
	/* Room for a segment first: making it may compact, which must not happen between
	 * the copy below and its segment. */
	if (outq_grow_segs(q) < 0)
		return -1;
	if (q->blen + n > q->bcap)
		outq_compact(q);
	if (q->blen + n > q->bcap) {
		size_t cap = q->bcap ? q->bcap : 4096;
		while (cap < q->blen + n)
			cap *= 2;
		uint8_t *b = realloc(q->bytes, cap);
		if (!b)
			return -1;
		q->bytes = b;
		q->bcap = cap;
	}
	memcpy(q->bytes + q->blen, data, n);
	/* Extend the last owned segment when contiguous: many small tasks, one iovec. */
	struct seg *last = q->nseg > q->head ? &q->seg[q->nseg - 1] : NULL;
	if (last && !last->ptr && last->off + last->len == q->blen) {
		last->len += n;
	} else {
		q->seg[q->nseg++] = (struct seg){NULL, q->blen, n};
	}
	q->blen += n;
	q->queued += n;
	return 0;
}

static int outq_ref(outq *q, const void *data, size_t n)
{
	if (n == 0)
		return 0;
	if (outq_grow_segs(q) < 0)
		return -1;
	q->seg[q->nseg++] = (struct seg){data, 0, n};
	q->queued += n;
	return 0;
}

/* Write as much as the pipe takes. MP_OK (maybe with bytes left) or MP_ESYS (EPIPE...). */
static int outq_flush(outq *q, int fd)
{
	while (q->head < q->nseg) {
		struct iovec iov[64];
		int k = 0;
		for (size_t i = q->head; i < q->nseg && k < 64; i++, k++) {
			struct seg *s = &q->seg[i];
			iov[k].iov_base = (void *)(s->ptr ? s->ptr : q->bytes + s->off);
			iov[k].iov_len = s->len;
		}
		ssize_t w = writev(fd, iov, k);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? MP_OK : MP_ESYS;
		}
		q->queued -= (size_t)w;
		while (q->head < q->nseg && (size_t)w >= q->seg[q->head].len)
			w -= (ssize_t)q->seg[q->head++].len;
		if (q->head < q->nseg) {
			struct seg *s = &q->seg[q->head];
			if (s->ptr)
				s->ptr += w;
			else
				s->off += (size_t)w;
			s->len -= (size_t)w;
			return MP_OK; /* short write: the pipe is full */
		}
	}
	q->head = q->nseg = 0;
	q->blen = q->queued = 0;
	return MP_OK;
}

static int outq_empty(const outq *q)
{
	return q->head == q->nseg;
}

static void outq_free(outq *q)
{
	free(q->bytes);
	free(q->seg);
	*q = (outq){0};
}

/* ---- parent side: jobs and workers ------------------------------------------------- */

static void finish(job *j, int status)
{
	j->status = status;
	j->done = 1;
}

static void break_pool(mp_pool *p, int why)
{
	if (p->broken)
		return;
	p->broken = why;
	for (int i = 0; i < p->started; i++) {
		worker *w = &p->w[i];
		if (w->alive) {
			kill(w->pid, SIGKILL);
			close(w->task_wr);
			close(w->res_rd);
			mp_reap(w->pid);
			w->alive = 0;
		}
		for (job *j = w->head; j; j = j->next)
			finish(j, why);
		w->head = w->tail = NULL;
		w->inflight = 0;
		outq_free(&w->out);
	}
	for (job *j = p->pend_head; j; j = j->next)
		finish(j, why);
	p->pend_head = p->pend_tail = NULL;
}

static int limit(const worker *w)
{
	if (!w->avg_ns)
		return LIMIT_MIN;
	uint64_t l = QUEUED_NS / w->avg_ns + 1;
	return l < LIMIT_MIN ? LIMIT_MIN : l > LIMIT_MAX ? LIMIT_MAX : (int)l;
}

static int assign(worker *w, job *j)
{
	size_t plen = MP_TASK_FIXED;
	for (uint32_t i = 0; i < j->count; i++)
		plen += 4 + j->lens[i];
	if (plen > MP_FRAME_MAX) {
		finish(j, MP_EPROTO);
		return 0;
	}
	uint8_t hdr[MP_FRAME_HDR + MP_TASK_FIXED];
	mp_frame_hdr_put(hdr, MP_F_TASK, (uint32_t)plen);
	mp_task_fixed_put(hdr + MP_FRAME_HDR, j->id, j->fn, j->count);
	if (outq_bytes(&w->out, hdr, sizeof hdr) < 0)
		return -1;
	for (uint32_t i = 0; i < j->count; i++) {
		uint8_t l[4];
		mp_put32(l, (uint32_t)j->lens[i]);
		if (outq_bytes(&w->out, l, 4) < 0)
			return -1;
		/* Serializing is a copy into the write buffer, as pickling is. map's big
		 * arguments go straight from the caller's memory (it waits for them), so map
		 * measures the pipe; apply_async pays the copy, as pickle.dumps would. */
		int rc = j->lens[i] <= COPY_MAX || !j->borrowed
		                 ? outq_bytes(&w->out, j->args[i], j->lens[i])
		                 : outq_ref(&w->out, j->args[i], j->lens[i]);
		if (rc < 0)
			return -1;
	}
	j->next = NULL;
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	w->inflight++;
	j->assigned = 1;
	return 0;
}

static void dispatch(mp_pool *p)
{
	while (p->pend_head && !p->broken) {
		worker *best = NULL;
		for (int i = 0; i < p->n; i++) {
			worker *w = &p->w[i];
			if (w->alive && w->inflight < limit(w) && w->out.queued < OUTQ_MAX &&
			    (!best || w->inflight < best->inflight))
				best = w;
		}
		if (!best)
			return;
		job *j = p->pend_head;
		p->pend_head = j->next;
		if (!p->pend_head)
			p->pend_tail = NULL;
		if (assign(best, j) < 0)
			break_pool(p, MP_ESYS);
	}
}

/* Parse the results a worker sent. Returns how many chunks completed, or -1 if the
 * worker broke the protocol. */
static int take_results(worker *w)
{
	size_t off = 0;
	int done = 0;
	for (;;) {
		mp_frame f;
		mp_result_view v;
		long got = mp_frame_parse(w->in + off, w->in_len - off, &f);
		if (got == 0)
			break;
		if (got < 0 || mp_result_decode(&f, &v) != MP_OK)
			return -1;
		job *j = w->head;
		if (!j || v.id != j->id || (v.status == MP_OK && v.count != j->count))
			return -1; /* a result for a task this worker was not given */
		for (uint32_t i = 0; i < v.count; i++)
			j->results[i] = mp_get64(v.values + 8 * i);
		w->head = j->next;
		if (!w->head)
			w->tail = NULL;
		w->inflight--;
		w->avg_ns = w->avg_ns ? (3 * w->avg_ns + v.elapsed_ns) / 4 : v.elapsed_ns + 1;
		finish(j, v.status);
		off += (size_t)got;
		done++;
	}
	memmove(w->in, w->in + off, w->in_len - off);
	w->in_len -= off;
	return done;
}

/* Read everything a worker has sent. Returns chunks completed, MP_EPROTO if it sent
 * garbage, MP_EBROKEN if it is gone (EOF: it died) or MP_ESYS. */
static int read_worker(worker *w)
{
	int done = 0;
	for (;;) {
		if (w->in_cap - w->in_len < 4096) {
			size_t cap = w->in_cap ? 2 * w->in_cap : 65536;
			uint8_t *b = realloc(w->in, cap);
			if (!b)
				return MP_ESYS;
			w->in = b;
			w->in_cap = cap;
		}
		ssize_t r = read(w->res_rd, w->in + w->in_len, w->in_cap - w->in_len);
		if (r > 0) {
			w->in_len += (size_t)r;
			int d = take_results(w);
			if (d < 0)
				return MP_EPROTO;
			done += d;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return done;
		return MP_EBROKEN; /* EOF or error: the worker is gone */
	}
}

/* Drive the pool: hand out tasks, write, read results. With block, wait until at least
 * one chunk completes (or the pool breaks). */
static void pump(mp_pool *p, int block)
{
	struct pollfd pf[2 * p->n];
	worker *who[2 * p->n];
	for (;;) {
		if (p->broken)
			return;
		dispatch(p);
		int k = 0;
		for (int i = 0; i < p->n; i++) {
			worker *w = &p->w[i];
			if (!w->alive)
				continue;
			if (!outq_empty(&w->out) && outq_flush(&w->out, w->task_wr) != MP_OK) {
				break_pool(p, MP_EBROKEN);
				return;
			}
			pf[k] = (struct pollfd){.fd = w->res_rd, .events = POLLIN};
			who[k++] = w;
			if (!outq_empty(&w->out)) {
				pf[k] = (struct pollfd){.fd = w->task_wr, .events = POLLOUT};
				who[k++] = w;
			}
		}
		if (poll(pf, (nfds_t)k, block ? -1 : 0) < 0 && errno != EINTR) {
			break_pool(p, MP_ESYS);
			return;
		}
		int done = 0;
		for (int i = 0; i < k; i++) {
			if (!pf[i].revents || pf[i].events != POLLIN)
				continue; /* writable pipes are served at the top of the loop */
			int d = read_worker(who[i]);
			if (d < 0) {
				break_pool(p, d);
				return;
			}
			done += d;
		}
		if (!block || done)
			return;
	}
}

/* ---- API ----------------------------------------------------------------------------- */

size_t mp_pool_default_chunksize(size_t n, int workers)
{
	size_t d = 4 * (size_t)(workers > 0 ? workers : 1);
	return n ? (n + d - 1) / d : 1;
}

mp_pool *mp_pool_new(int workers, enum mp_start how)
{
	if (workers < 1) {
		errno = EINVAL;
		return NULL;
	}
	mp_pool *p = calloc(1, sizeof *p);
	if (!p || !(p->w = calloc((size_t)workers, sizeof *p->w))) {
		free(p);
		return NULL;
	}
	p->n = workers;
	p->next_pool = pools; /* before forking: later workers close earlier ones' fds */
	pools = p;
	for (int i = 0; i < workers; i++) {
		worker *w = &p->w[i];
		int tp[2], rp[2];
		if (pipe2(tp, O_CLOEXEC) < 0)
			goto fail;
		if (pipe2(rp, O_CLOEXEC) < 0) {
			close(tp[0]);
			close(tp[1]);
			goto fail;
		}
		int child_fds[2] = {tp[0], rp[1]}, parent_fds[2] = {tp[1], rp[0]};
		w->pid = mp_start_child(how, mp_worker_main, child_fds, sizeof child_fds, -1,
		                        child_fds, 2, parent_fds, 2);
		close(tp[0]);
		close(rp[1]);
		if (w->pid < 0) {
			close(tp[1]);
			close(rp[0]);
			goto fail;
		}
		w->task_wr = tp[1];
		w->res_rd = rp[0];
		fcntl(w->task_wr, F_SETFL, O_NONBLOCK);
		fcntl(w->res_rd, F_SETFL, O_NONBLOCK);
		w->alive = 1;
		p->started++;
	}
	return p;
fail:;
	int saved = errno;
	break_pool(p, MP_ESYS);
	mp_pool_free(p);
	errno = saved;
	return NULL;
}

/* Take a job that was not handed to a worker off the pending FIFO. */
static void pend_remove(mp_pool *p, job *j)
{
	job **at = &p->pend_head, *prev = NULL;
	while (*at && *at != j)
		prev = *at, at = &(*at)->next;
	if (!*at)
		return;
	*at = j->next;
	if (p->pend_tail == j)
		p->pend_tail = prev;
	j->next = NULL;
}

mp_async *mp_pool_apply_async(mp_pool *p, mp_fn fn, const void *arg, size_t len)
{
	job *j = malloc(sizeof *j);
	if (!j)
		return NULL;
	*j = (job){
		.id = p->next_id++, .fn = mp_fn_token(fn), .count = 1,
		.args = &j->one_arg, .lens = &j->one_len, .results = &j->one_result,
		.one_arg = arg, .one_len = len,
	};
	j->anext = p->owned;
	if (p->owned)
		p->owned->aprev = j;
	p->owned = j;
	if (p->broken) {
		finish(j, p->broken);
		return j;
	}
	if (p->pend_tail)
		p->pend_tail->next = j;
	else
		p->pend_head = j;
	p->pend_tail = j;
	dispatch(p);
	/* Serialized straight into a worker's write buffer if one had room; otherwise it
	 * waits in the parent with a copy of its own (the caller may reuse arg at once). */
	if (!j->assigned && !p->broken) {
		if (!(j->own = malloc(len ? len : 1))) {
			pend_remove(p, j); /* or it would be sent, after get freed it */
			finish(j, MP_ESYS);
			return j;
		}
		if (len)
			memcpy(j->own, arg, len);
		j->one_arg = j->own;
	}
	/* Send now to workers that may be idle, and big arguments at once; let small frames
	 * for busy workers accumulate into one write. */
	int room = 0;
	for (int i = 0; i < p->n; i++) {
		worker *w = &p->w[i];
		if (!w->alive)
			continue;
		if (!outq_empty(&w->out) && (w->inflight <= 2 || w->out.blen > 16384 || len > COPY_MAX) &&
		    outq_flush(&w->out, w->task_wr) != MP_OK) {
			break_pool(p, MP_EBROKEN);
			return j;
		}
		room |= w->inflight < limit(w);
	}
	if (!room)
		pump(p, 0); /* everyone is at the limit: collect what is done */
	return j;
}

int mp_async_get(mp_pool *p, mp_async *j, uint64_t *result)
{
	while (!j->done)
		pump(p, 1);
	int rc = j->status;
	if (rc == MP_OK && result)
		*result = j->one_result;
	if (j->aprev)
		j->aprev->anext = j->anext;
	else
		p->owned = j->anext;
	if (j->anext)
		j->anext->aprev = j->aprev;
	free(j->own);
	free(j);
	return rc;
}

int mp_pool_map(mp_pool *p, mp_fn fn, const void *const *args, const size_t *lens, size_t n,
                size_t chunksize, uint64_t *results)
{
	if (n == 0)
		return MP_OK;
	size_t cs = chunksize ? chunksize : mp_pool_default_chunksize(n, p->n);
	if (cs > MP_CHUNK_MAX)
		cs = MP_CHUNK_MAX; /* the wire's limit per frame */
	size_t nch = (n + cs - 1) / cs;
	job *jobs = calloc(nch, sizeof *jobs);
	if (!jobs)
		return MP_ESYS;
	uint64_t tok = mp_fn_token(fn);
	for (size_t c = 0; c < nch; c++) {
		job *j = &jobs[c];
		size_t first = c * cs;
		j->id = p->next_id++;
		j->fn = tok;
		j->count = (uint32_t)(n - first < cs ? n - first : cs);
		j->args = args + first;
		j->lens = lens + first;
		j->results = results + first;
		j->borrowed = 1;
		if (p->broken) {
			finish(j, p->broken);
			continue;
		}
		if (p->pend_tail)
			p->pend_tail->next = j;
		else
			p->pend_head = j;
		p->pend_tail = j;
	}
	int rc = MP_OK;
	for (size_t c = 0; c < nch; c++) {
		while (!jobs[c].done)
			pump(p, 1);
		if (rc == MP_OK)
			rc = jobs[c].status;
	}
	free(jobs);
	return rc;
}

int mp_pool_workers(const mp_pool *p)
{
	return p->n;
}

pid_t mp_pool_worker_pid(const mp_pool *p, int i)
{
	return i >= 0 && i < p->started ? p->w[i].pid : -1;
}

int mp_pool_broken(const mp_pool *p)
{
	return p->broken;
}

/* Wait until the worker closes its result pipe (it exited) or the deadline passes. */
static int wait_eof(int fd, uint64_t deadline)
{
	char buf[4096];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r == 0)
			return 1;
		if (r > 0 || errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return 1;
		uint64_t now = mp_now_ns();
		if (now >= deadline)
			return 0;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		poll(&pfd, 1, (int)((deadline - now) / 1000000 + 1));
	}
}

void mp_pool_free(mp_pool *p)
{
	int busy = p->pend_head != NULL;
	for (int i = 0; i < p->started; i++)
		busy |= p->w[i].alive && p->w[i].inflight;
	if (busy) /* as Pool.__exit__: terminate, do not wait for abandoned work */
		break_pool(p, MP_ECLOSED);
	for (int i = 0; i < p->started; i++) /* EOF on their task pipes: workers exit */
		if (p->w[i].alive)
			close(p->w[i].task_wr);
	uint64_t deadline = mp_now_ns() + CLOSE_GRACE_NS;
	for (int i = 0; i < p->started; i++) {
		worker *w = &p->w[i];
		if (w->alive) {
			/* Idle workers exit at once; one that does not (stuck in a task, or somebody
			 * else holds its task pipe open) is killed rather than waited for forever. */
			if (!wait_eof(w->res_rd, deadline))
				kill(w->pid, SIGKILL);
			mp_reap(w->pid);
			close(w->res_rd);
		}
		outq_free(&w->out);
		free(w->in);
	}
	while (p->owned) {
		job *j = p->owned;
		p->owned = j->anext;
		free(j->own);
		free(j);
	}
	for (mp_pool **pp = &pools; *pp; pp = &(*pp)->next_pool)
		if (*pp == p) {
			*pp = p->next_pool;
			break;
		}
	free(p->w);
	free(p);
}

void mp_pool_atfork_child(void)
{
	for (mp_pool *p = pools; p; p = p->next_pool)
		for (int i = 0; i < p->started; i++)
			if (p->w[i].alive) {
				close(p->w[i].task_wr);
				close(p->w[i].res_rd);
			}
	pools = NULL;
}
