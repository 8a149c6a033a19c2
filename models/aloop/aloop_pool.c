/* aloop_pool.c: the default executor (asyncio's loop.run_in_executor / to_thread on a
 * ThreadPoolExecutor): regular-file calls run on worker threads while the task awaits.
 *
 * Like ThreadPoolExecutor, a worker is started on submit when none is idle, up to max
 * (min(32, cpus + 4)). A finished job goes to a done list and the worker writes the eventfd
 * that sits in the loop's epoll set, which is how asyncio's call_soon_threadsafe wakes the
 * selector (there through a self-pipe). A job's buffer is a bounce buffer when the task's
 * is on the run stack, which other tasks overwrite while this one is parked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <unistd.h>

#include "aloop_int.h"

enum { JOB_READ, JOB_WRITE, JOB_OPEN };

struct aloop_job {
	aloop_job *next;
	int op, fd, flags, mode;
	void *buf;           /* where the worker reads to / writes from */
	size_t n;
	char *path;
	ssize_t res;
	int err;
	coop_task *task;
};

int aloop_pool_init(aloop_pool *p, int max)
{
	memset(p, 0, sizeof *p);
	p->max = max;
	p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->evfd < 0)
		return -1;
	if (!(p->threads = calloc((size_t)max, sizeof *p->threads))) {
		close(p->evfd);
		return -1;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	return 0;
}

static void job_do(aloop_job *j)
{
	switch (j->op) {
	case JOB_READ: j->res = read(j->fd, j->buf, j->n); break;
	case JOB_WRITE: {
		size_t done = 0;
		j->res = 0;
		while (done < j->n) {
			ssize_t r = write(j->fd, (char *)j->buf + done, j->n - done);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				j->res = -1;
				break;
			}
			done += (size_t)r;
		}
		if (j->res == 0)
			j->res = (ssize_t)done;
		break;
	}
	case JOB_OPEN: j->res = open(j->path, j->flags | O_CLOEXEC, j->mode); break;
	}
	j->err = errno;
}

static void *worker(void *arg)
{
	aloop_pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->todo && !p->stop) {
			p->idle++;
			pthread_cond_wait(&p->cv, &p->mu);
			p->idle--;
		}
		if (!p->todo)
			break;
		aloop_job *j = p->todo;
		p->todo = j->next;
		if (!p->todo)
			p->todo_tail = NULL;
		pthread_mutex_unlock(&p->mu);
		job_do(j);
		pthread_mutex_lock(&p->mu);
		j->next = p->done;
		p->done = j;
		uint64_t one = 1;
		if (write(p->evfd, &one, sizeof one) < 0) { /* counter cannot overflow here */ }
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Submit j and park until a worker finished it. */
static void await_job(aloop_pool *p, aloop_job *j)
{
	j->task = coop_self();
	j->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->todo_tail)
		p->todo_tail->next = j;
	else
		p->todo = j;
	p->todo_tail = j;
	int start = p->idle == 0 && p->nthreads < p->max;
	if (start && pthread_create(&p->threads[p->nthreads], NULL, worker, p) == 0) {
		p->nthreads++;
		if (aloop_g.o.on_thread)
			aloop_g.o.on_thread(+1);
	} else {
		pthread_cond_signal(&p->cv);
	}
	/* if no thread could start and none exists, the job is never run: the loop reports
	 * EDEADLK rather than hanging */
	pthread_mutex_unlock(&p->mu);
	p->pending++;
	coop_park();
}

void aloop_pool_reap(aloop_pool *p)
{
	uint64_t v;
	if (read(p->evfd, &v, sizeof v) < 0) { /* spurious: nothing to drain */ }
	pthread_mutex_lock(&p->mu);
	aloop_job *j = p->done;
	p->done = NULL;
	pthread_mutex_unlock(&p->mu);
	while (j) {
		aloop_job *next = j->next;
		p->pending--;
		coop_wake(j->task);
		j = next;
	}
}

ssize_t aloop_pool_read(int fd, void *buf, size_t n)
{
	/* the job record must not live on the run stack either */
	aloop_job *jp = malloc(sizeof *jp);
	int bounce = coop_on_stack(buf, n);
	void *b = bounce ? malloc(n ? n : 1) : buf;
	if (!jp || !b) {
		free(jp);
		if (bounce)
			free(b);
		errno = ENOMEM;
		return -1;
	}
	*jp = (aloop_job){.op = JOB_READ, .fd = fd, .n = n, .buf = b};
	await_job(&aloop_g.pool, jp);
	ssize_t r = jp->res;
	int err = jp->err;
	if (r > 0 && bounce)
		memcpy(buf, b, (size_t)r);
	if (bounce)
		free(b);
	free(jp);
	errno = err;
	return r;
}

ssize_t aloop_pool_write(int fd, const void *buf, size_t n)
{
	aloop_job *jp = malloc(sizeof *jp);
	int bounce = coop_on_stack(buf, n);
	void *b = bounce ? malloc(n ? n : 1) : (void *)buf;
	if (!jp || !b) {
		free(jp);
		if (bounce)
			free(b);
		errno = ENOMEM;
		return -1;
	}
	if (bounce)
		memcpy(b, buf, n);
	*jp = (aloop_job){.op = JOB_WRITE, .fd = fd, .n = n, .buf = b};
	await_job(&aloop_g.pool, jp);
	ssize_t r = jp->res;
	int err = jp->err;
	if (bounce)
		free(b);
	free(jp);
	errno = err;
	return r;
}

int aloop_pool_open(const char *path, int flags, int mode)
{
	aloop_job *jp = malloc(sizeof *jp);
	char *pc = strdup(path);
	if (!jp || !pc) {
		free(jp);
		free(pc);
		errno = ENOMEM;
		return -1;
	}
	*jp = (aloop_job){.op = JOB_OPEN, .path = pc, .flags = flags, .mode = mode};
	await_job(&aloop_g.pool, jp);
	int r = (int)jp->res, err = jp->err;
	free(pc);
	free(jp);
	errno = err;
	return r;
}

void aloop_pool_fini(aloop_pool *p, void (*on_thread)(int))
{
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++) {
		pthread_join(p->threads[i], NULL);
		if (on_thread)
			on_thread(-1);
	}
	free(p->threads);
	close(p->evfd);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
}
