#include <errno.h>
#include <poll.h>
/* testutil.h: helpers for the Criterion tests: run the bench binary, read its CSV. */
#ifndef CB_TESTUTIL_H
#define CB_TESTUTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "task.h"

/* The slot of parameter name in defs: tests set and read parameters by name, so that
 * reordering a table cannot change what they set. A name the table lacks ends the test. */
static inline int tu_slot(const cb_param_def *defs, const char *name)
{
	int i = cb_param_slot(defs, name);
	if (i < 0) {
		fprintf(stderr, "no parameter %s in the table\n", name);
		abort();
	}
	return i;
}

static inline const char *tu_bench(void)
{
	const char *b = getenv("CB_BENCH");
	return b && *b ? b : "./build/bench";
}

/* Whether `tool` is in PATH. */
static inline int tu_in_path(const char *tool)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

/* Build the Go twins (make refs) next to the bench binary; one test at a time builds them
 * (the lock), the others find them done. 0 when built. */
static inline int tu_make_refs(void)
{
	char bench[4096], cmd[2 * 4096 + 128];
	snprintf(bench, sizeof bench, "%s", tu_bench());
	char *slash = strrchr(bench, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(bench, sizeof bench, ".");
	snprintf(cmd, sizeof cmd, "flock %s/.refs.lock make -s --no-print-directory BUILD=%s refs >/dev/null",
		 bench, bench);
	return system(cmd);
}

/* Run argv (argv[0] ignored: the bench binary is used), capture stderr into err, return the
 * exit status (or 128+signal). */
static inline int tu_run(char *const argv[], char *err, size_t errn, char *out, size_t outn)
{
	int ep[2], op[2];
	if (pipe(ep) < 0 || pipe(op) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(ep[1], 2);
		dup2(op[1], 1);
		close(ep[0]), close(op[0]);
		execv(tu_bench(), argv);
		_exit(127);
	}
	close(ep[1]), close(op[1]);
	/* Both pipes at once (poll): a child that fills one while we wait on the other would
	 * block for ever (a long --dry-run plan on stdout). */
	size_t en = 0, on = 0;
	while (ep[0] >= 0 || op[0] >= 0) {
		struct pollfd pf[2] = {{.fd = ep[0], .events = POLLIN}, {.fd = op[0], .events = POLLIN}};
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		char tmp[4096];
		ssize_t r;
		if (ep[0] >= 0 && pf[0].revents) {
			r = read(ep[0], tmp, sizeof tmp);
			if (r > 0) {
				size_t k = (size_t)r < errn - 1 - en ? (size_t)r : errn - 1 - en;
				memcpy(err + en, tmp, k), en += k;
			} else if (r == 0 || errno != EINTR)
				close(ep[0]), ep[0] = -1;
		}
		if (op[0] >= 0 && pf[1].revents) {
			r = read(op[0], tmp, sizeof tmp);
			if (r > 0) {
				size_t k = out ? ((size_t)r < outn - 1 - on ? (size_t)r : outn - 1 - on) : 0;
				if (out)
					memcpy(out + on, tmp, k), on += k;
			} else if (r == 0 || errno != EINTR)
				close(op[0]), op[0] = -1;
		}
	}
	if (ep[0] >= 0)
		close(ep[0]);
	if (op[0] >= 0)
		close(op[0]);
	err[en] = 0;
	if (out)
		out[on] = 0;
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Fork: the child runs child(ctx, fd), fd the write end of a pipe (it may exec), and exits 0
 * if that returns; the parent reads the pipe to its end, the first n - 1 bytes into out (the
 * rest is drained, so the child never blocks on a full pipe), and reaps the child. Returns
 * its exit status, 128 + the signal that killed it, or -1 when it could not be started. */
static inline int tu_fork_read(void (*child)(void *ctx, int fd), void *ctx, char *out, size_t n)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	fflush(NULL); /* or the child flushes the parent's buffered output a second time */
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]), close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		child(ctx, p[1]);
		_exit(0);
	}
	close(p[1]);
	size_t have = 0;
	ssize_t r;
	char sink[4096];
	while ((r = read(p[0], have < n - 1 ? out + have : sink,
			 have < n - 1 ? n - 1 - have : sizeof sink)) > 0)
		if (have < n - 1)
			have += (size_t)r;
	out[have] = 0;
	close(p[0]);
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct tu_exec_arg {
	char *const *argv;
	int merge_stderr;
};

static inline void tu_exec_child(void *ctx, int fd)
{
	const struct tu_exec_arg *a = ctx;
	dup2(fd, 1);
	if (a->merge_stderr)
		dup2(fd, 2);
	close(fd);
	if (!strcmp(a->argv[0], "bench"))
		execv(tu_bench(), a->argv);
	else
		execvp(a->argv[0], a->argv);
	_exit(127);
}

/* Run argv (found in PATH, or the bench binary when argv[0] is "bench") with its stdout (and
 * its stderr too when merge_stderr) read to the end into out (tu_fork_read); returns its exit
 * status (127: it could not be executed). */
static inline int tu_exec_read(char *const argv[], int merge_stderr, char *out, size_t n)
{
	struct tu_exec_arg a = {argv, merge_stderr};
	return tu_fork_read(tu_exec_child, &a, out, n);
}

/* Minimal RFC 4180 reader: splits one record (which may span lines inside quotes) from *p
 * into fields (stored in buf), returns the field count, 0 at end of input. */
static inline int tu_csv_record(const char **p, char *buf, size_t bufn, char **fields, int maxf)
{
	const char *s = *p;
	if (!*s)
		return 0;
	int nf = 0;
	size_t at = 0;
	fields[nf++] = buf;
	int q = 0;
	for (; *s; s++) {
		if (q) {
			if (*s == '"' && s[1] == '"')
				buf[at++] = '"', s++;
			else if (*s == '"')
				q = 0;
			else
				buf[at++] = *s;
		} else if (*s == '"')
			q = 1;
		else if (*s == ',') {
			buf[at++] = 0;
			if (nf < maxf)
				fields[nf++] = buf + at;
		} else if (*s == '\r' && s[1] == '\n') {
			s += 2;
			break;
		} else if (*s == '\n') {
			s++;
			break;
		} else
			buf[at++] = *s;
		if (at + 2 >= bufn)
			break;
	}
	buf[at] = 0;
	*p = s;
	return nf;
}

static inline char *tu_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	size_t r = fread(b, 1, (size_t)n, f);
	b[r] = 0;
	fclose(f);
	return b;
}

/* Processes whose environment holds mark (say CB_TEST_MARK=<pid>): a run started with it in
 * its environment and everything that run started, to tell that none is left behind. */
static inline int tu_count_marked(const char *mark)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char path[300], buf[65536];
		snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t r = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = 0;
		for (ssize_t i = 0; i < r; i += (ssize_t)strlen(buf + i) + 1)
			if (!strcmp(buf + i, mark))
				n++;
	}
	if (d)
		closedir(d);
	return n;
}

#endif
