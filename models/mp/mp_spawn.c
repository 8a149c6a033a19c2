/* mp_spawn.c: starting a child process, by fork or by "spawn" (fork + exec of this very
 * binary), and the tokens that name functions across the exec.
 *
 * fork: the child is a copy of the parent; it resets what it must not share (mp_child_setup)
 * and calls fn directly: the argument is already in its memory (CPython's fork start method
 * does not pickle Process arguments either).
 * spawn: the child execs this program's file with MP_SPAWN_FD=<fd>:<code size> in its
 * environment (a child whose code size differs exits instead of running); a
 * constructor in this file sees it before main() runs, reads one START frame from that fd
 * (function token, boot function and bytes, the argument, the fds to use) and runs the
 * task in the fresh program. Only fds the parent listed survive the exec (everything mp
 * creates is close-on-exec), as CPython's spawn passes only the fds it duplicates: the
 * child's own pipes, the queues' and the fds its task was lent or given
 * (mp_process_start_fds).
 * Functions travel as offsets from the start of the executable, which are the same in
 * every exec of the same file whatever the load address (PIE/ASLR).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mp_int.h"

extern char **environ;
extern const char __executable_start[], etext[]; /* provided by the GNU linker */

mp_hooks mp_hooks_now;
static mp_boot_fn spawn_boot;
static uint8_t *spawn_boot_bytes;
static size_t spawn_boot_len;

void mp_set_hooks(const mp_hooks *h)
{
	mp_hooks_now = h ? *h : (mp_hooks){0};
}

void mp_set_spawn_boot(mp_boot_fn boot, const void *bytes, size_t len)
{
	free(spawn_boot_bytes);
	spawn_boot_bytes = NULL;
	spawn_boot_len = 0;
	spawn_boot = boot;
	if (boot && len && (spawn_boot_bytes = malloc(len))) {
		memcpy(spawn_boot_bytes, bytes, len);
		spawn_boot_len = len;
	}
}

void mp_process_delta(int delta)
{
	mp_arena_count_process(delta);
	if (mp_hooks_now.process_delta)
		mp_hooks_now.process_delta(delta);
}

uint64_t mp_code_token(const void *code)
{
	uintptr_t c = (uintptr_t)code, lo = (uintptr_t)__executable_start, hi = (uintptr_t)etext;
	return c >= lo && c < hi ? (uint64_t)(c - lo) : UINT64_MAX;
}

const void *mp_code_from_token(uint64_t tok)
{
	uintptr_t lo = (uintptr_t)__executable_start, hi = (uintptr_t)etext;
	return tok < hi - lo ? (const void *)(lo + (uintptr_t)tok) : NULL;
}

uint64_t mp_fn_token(mp_fn fn)
{
	return mp_code_token((const void *)fn);
}

mp_fn mp_fn_from_token(uint64_t tok)
{
	return (mp_fn)mp_code_from_token(tok);
}

void mp_child_setup(pid_t parent)
{
	/* Die with the parent; if it is already gone, the signal will never come. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	/* Ctrl-C to the process group must end children too, whatever the parent catches. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	mp_atfork_child();
	if (mp_hooks_now.atfork_child)
		mp_hooks_now.atfork_child();
}

static void run_and_exit(mp_fn fn, void *arg, size_t len, int result_fd)
{
	uint64_t v = fn(arg, len);
	fflush(NULL); /* what the task printed; the parent flushed before forking, as CPython */
	if (result_fd >= 0) {
		uint8_t fr[MP_FRAME_HDR + 8];
		mp_frame_hdr_put(fr, MP_F_VALUE, 8);
		mp_put64(fr + MP_FRAME_HDR, v);
		if (mp_write_all(result_fd, fr, sizeof fr) != MP_OK)
			_exit(3);
	}
	_exit(0);
}

/* The environment of a spawned child: ours plus MP_SPAWN_FD, built before fork because
 * only async-signal-safe calls are allowed between fork and exec. */
static char **spawn_env(int fd, char *slot, size_t n)
{
	/* The fd, and the size of our code: a child whose code differs (the binary was
	 * rebuilt meanwhile) must not run tokens meant for another layout. */
	size_t k = 0;
	while (environ[k])
		k++;
	char **env = malloc((k + 2) * sizeof *env);
	if (!env)
		return NULL;
	snprintf(slot, n, "MP_SPAWN_FD=%d:%zu", fd, (size_t)(etext - __executable_start));
	size_t j = 0;
	env[j++] = slot;
	for (size_t i = 0; i < k; i++)
		if (strncmp(environ[i], "MP_SPAWN_FD=", 12) != 0)
			env[j++] = environ[i];
	env[j] = NULL;
	return env;
}

pid_t mp_start_child(enum mp_start how, mp_fn fn, const void *arg, size_t len,
                     int result_fd, const int *keep, int nkeep,
                     const int *child_close, int nclose)
{
	/* CPython ignores SIGPIPE from startup: a dead peer shows up as EPIPE, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	fflush(NULL); /* or the child would print the parent's buffered output a second time */
	pid_t parent = getpid();
	if (how == MP_START_FORK) {
		pid_t pid = fork();
		if (pid < 0)
			return -1;
		if (pid == 0) {
			mp_child_setup(parent);
			for (int i = 0; i < nclose; i++)
				close(child_close[i]);
			mp_process_set_result_fd(result_fd);
			run_and_exit(fn, (void *)arg, len, result_fd);
		}
		mp_process_delta(+1);
		return pid;
	}

	int sp[2];
	if (pipe2(sp, O_CLOEXEC) < 0)
		return -1;
	uint8_t *frame = NULL;
	mp_start_view sv = {
		.fn = mp_fn_token(fn),
		.boot_fn = spawn_boot ? mp_code_token((const void *)spawn_boot) : 0,
		.result_fd = result_fd,
		.arena_fd = mp_arena_fd(),
		.boot = spawn_boot_bytes, .boot_len = (uint32_t)spawn_boot_len,
		.arg = arg, .arg_len = (uint32_t)len,
	};
	size_t flen = mp_start_encode(&frame, &sv);
	char slot[32];
	char **env = flen ? spawn_env(sp[0], slot, sizeof slot) : NULL;
	if (!env) {
		free(frame);
		close(sp[0]);
		close(sp[1]);
		errno = ENOMEM;
		return -1;
	}
	/* This program's path, not /proc/self/exe itself: under valgrind (or any loader
	 * that runs us as its client) that link names the loader, while readlink is made
	 * to answer with the client's path. */
	static char exe[PATH_MAX];
	if (!exe[0]) {
		ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (k <= 0 || (size_t)k >= sizeof exe - 1)
			strcpy(exe, "/proc/self/exe");
		else
			exe[k] = 0;
	}
	char *argv[] = {"concbench-mp-spawn", NULL};
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* survives the exec */
		if (getppid() != parent)
			_exit(1);
		mp_cloexec(sp[0], 0);
		for (int i = 0; i < nkeep; i++)
			mp_cloexec(keep[i], 0);
		if (sv.arena_fd >= 0)
			mp_cloexec(sv.arena_fd, 0);
		mp_queue_spawn_inherit();
		execve(exe, argv, env);
		_exit(127);
	}
	int saved = errno;
	free(env);
	close(sp[0]);
	if (pid > 0) {
		mp_process_delta(+1);
		/* A child that dies before reading shows up as EPIPE here and EOF at join. */
		mp_write_all(sp[1], frame, flen);
	}
	close(sp[1]);
	free(frame);
	errno = saved;
	return pid;
}

void mp_spawn_child_maybe(void)
{
	const char *s = getenv("MP_SPAWN_FD");
	if (!s)
		return;
	int fd = -1;
	size_t text = 0;
	if (sscanf(s, "%d:%zu", &fd, &text) != 2)
		_exit(120);
	unsetenv("MP_SPAWN_FD");
	if (text != (size_t)(etext - __executable_start))
		_exit(120); /* not the program that spawned us */
	signal(SIGPIPE, SIG_IGN);
	mp_frame f;
	uint8_t *payload = NULL;
	mp_start_view v;
	if (mp_read_frame(fd, &f, &payload) != MP_OK || f.type != MP_F_START ||
	    mp_start_decode(&f, &v) != MP_OK)
		_exit(125);
	close(fd);
	mp_fn fn = mp_fn_from_token(v.fn);
	if (!fn)
		_exit(124);
	/* Fds inherited on purpose must not leak into this child's own spawned children. */
	if (v.result_fd >= 0)
		mp_cloexec(v.result_fd, 1);
	if (v.arena_fd >= 0) {
		mp_cloexec(v.arena_fd, 1);
		if (mp_arena_attach(v.arena_fd) != MP_OK)
			_exit(123);
	}
	if (v.boot_fn) {
		mp_boot_fn boot = (mp_boot_fn)mp_code_from_token(v.boot_fn);
		if (!boot)
			_exit(124);
		boot(v.boot, v.boot_len);
		mp_set_spawn_boot(boot, v.boot, v.boot_len); /* for this child's own children */
	}
	void *arg = malloc(v.arg_len ? v.arg_len : 1); /* aligned private copy */
	if (!arg)
		_exit(122);
	memcpy(arg, v.arg, v.arg_len);
	mp_process_set_result_fd(v.result_fd);
	run_and_exit(fn, arg, v.arg_len, v.result_fd);
}

__attribute__((constructor)) static void mp_spawn_ctor(void)
{
	mp_spawn_child_maybe();
}
