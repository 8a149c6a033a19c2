/* mp_process.c: Process — start a task in its own process, join it for its result.
 *
 * The result comes back as a VALUE frame on a pipe private to the child; the parent reads
 * it at join, then reaps the child. A child that dies first leaves EOF on that pipe (only
 * it holds the write end: forked children close the write ends they inherit), so join
 * reports MP_EDIED instead of hanging. Every process started and not yet joined is on a
 * list, so that the owner can kill and reap them all when a run ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mp_int.h"

struct mp_process {
	pid_t pid;
	int rfd;                      /* read end of the child's result pipe */
	mp_process *prev, *next;      /* live list */
};

static mp_process *live;
static int live_count;
static int self_result_fd = -1;

void mp_process_set_result_fd(int fd)
{
	self_result_fd = fd;
}

void mp_atfork_child(void)
{
	/* What the parent was waiting for is not ours: forget it (the records are the
	 * parent's memory, copied; they are simply dropped). Their read ends stay open here:
	 * harmless (EOF depends on write ends only), and closing them would cost every child
	 * one system call per live sibling, quadratic when thousands of tasks are alive. */
	live = NULL;
	live_count = 0;
	if (self_result_fd >= 0)
		close(self_result_fd);
	self_result_fd = -1;
	mp_pool_atfork_child();
}

int mp_reap(pid_t pid)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	mp_process_delta(-1);
	return st;
}

mp_process *mp_process_start(enum mp_start how, mp_fn fn, const void *arg, size_t len)
{
	return mp_process_start_fds(how, fn, arg, len, NULL, 0, NULL, 0);
}

mp_process *mp_process_start_fds(enum mp_start how, mp_fn fn, const void *arg, size_t len,
                                 const int *lend, int nlend, const int *give, int ngive)
{
	/* What the child keeps: its result pipe's write end, then the fds it was lent or given. */
	int nkeep = 1 + nlend + ngive;
	mp_process *p = malloc(sizeof *p);
	int *keep = malloc((size_t)nkeep * sizeof *keep);
	int fds[2];
	if (!p || !keep || pipe2(fds, O_CLOEXEC) < 0) {
		free(p);
		free(keep);
		return NULL;
	}
	keep[0] = fds[1];
	if (nlend)
		memcpy(keep + 1, lend, (size_t)nlend * sizeof *keep);
	if (ngive)
		memcpy(keep + 1 + nlend, give, (size_t)ngive * sizeof *keep);
	p->pid = mp_start_child(how, fn, arg, len, fds[1], keep, nkeep, &fds[0], 1);
	int saved = errno;
	free(keep);
	close(fds[1]);
	if (p->pid < 0) {
		close(fds[0]);
		free(p);
		errno = saved;
		return NULL;
	}
	for (int i = 0; i < ngive; i++)
		close(give[i]); /* the child's now */
	p->rfd = fds[0];
	p->prev = NULL;
	p->next = live;
	if (live)
		live->prev = p;
	live = p;
	live_count++;
	return p;
}

static void unlink_proc(mp_process *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		live = p->next;
	if (p->next)
		p->next->prev = p->prev;
	live_count--;
}

int mp_process_join(mp_process *p, uint64_t *result)
{
	mp_frame f;
	uint8_t *payload = NULL;
	int rc = mp_read_frame(p->rfd, &f, &payload);
	if (rc == MP_OK && f.type == MP_F_VALUE)
		*result = mp_get64(payload);
	else if (rc == MP_OK)
		rc = MP_EPROTO;
	else if (rc == MP_ECLOSED)
		rc = MP_EDIED;
	free(payload);
	close(p->rfd);
	int st = mp_reap(p->pid);
	if (rc == MP_OK && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		rc = MP_EDIED;
	unlink_proc(p);
	free(p);
	return rc;
}

pid_t mp_process_pid(const mp_process *p)
{
	return p->pid;
}

int mp_process_alive_count(void)
{
	return live_count;
}

void mp_process_kill_all(void)
{
	while (live) {
		mp_process *p = live;
		kill(p->pid, SIGKILL);
		close(p->rfd);
		mp_reap(p->pid);
		unlink_proc(p);
		free(p);
	}
}
