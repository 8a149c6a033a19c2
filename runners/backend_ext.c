/* backend_ext.c: reference runs of real runtimes as separate programs: node-ref runs the
 * Node.js twin of a workload (workloads/ref/node/<name>.js), go-ref the Go twin
 * (workloads/ref/go/<name>/, built with `go build` into build/ref/go/). A twin takes the
 * cell's parameters as --tasks/--size/--workers/--<param> and prints one line of key=value
 * pairs: wall_ns (its own clock, runtime start-up excluded), ops, checksum, and p50_ns,
 * p99_ns, max_ns, bytes_per_task where it has them. hyperfine times the same programs as
 * whole processes. A missing runtime or twin is `unsupported` with the reason.
 *
 * One twin process per cell process, as a C backend runs a cell's repetitions in one
 * process: the twin starts on the cell's first repetition (a calibration probe or the
 * warm-up) and is fed one repetition at a time over a Unix socket (Node's own IPC channel,
 * NODE_CHANNEL_FD, JSON lines; the Go twins speak the same, workloads/ref/go/twin), so the
 * warm-up (--warmup, --warmup-ms) settles V8's JIT and Go's heap and GC in the very process
 * that then runs the measured repetitions. A repetition's listening socket (io.echo,
 * mix.convoy) travels with its message (SCM_RIGHTS, Node's handle envelope). Each
 * repetition's row counts the twin's CPU time from /proc (getrusage cannot see a child that
 * is still alive). Workloads that measure a runtime's memory (cb_workload.cold: micro.idle)
 * get a fresh twin every repetition, since a warm heap would hide what they measure. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "task.h"
#include "workload.h"

typedef struct ext_runtime {
	const char *name;      /* backend name */
	const char *tool;      /* the runtime's command, looked up in PATH */
	const char *what;      /* Debian package that provides it */
	const char *twins;     /* workloads whose twins follow the protocol above, space-separated */
} ext_runtime;

/* Twin file names by workload (the part after the dot, except where noted). */
static const char *twin_name(const char *wl)
{
	const char *dot = strchr(wl, '.');
	return dot ? dot + 1 : wl;
}

/* The checkout's root: build/bench lives in <root>/build. */
static void repo_root(char *out, size_t n)
{
	char exe[PATH_MAX];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[k > 0 ? k : 0] = 0;
	char *d = dirname(dirname(exe));
	snprintf(out, n, "%s", d);
}

static int in_path(const char *tool)
{
	const char *path = getenv("PATH");
	if (!path)
		return 0;
	char *copy = strdup(path), *save = NULL;
	int found = 0;
	for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", dir, tool);
		found = access(p, X_OK) == 0;
	}
	free(copy);
	return found;
}

static uint64_t field(const char *line, const char *key, int *found)
{
	char pat[64];
	snprintf(pat, sizeof pat, "%s=", key);
	for (const char *p = line; (p = strstr(p, pat)); p++)
		if (p == line || p[-1] == ' ') {
			*found = 1;
			return strtoull(p + strlen(pat), NULL, 10);
		}
	*found = 0;
	return 0;
}

/* ---- the repetition's arguments ------------------------------------------------------ */

enum { EXT_MAX_ARGS = 2 * (CB_MAX_PARAMS + 6), EXT_ARG = 300 };
typedef struct ext_args {
	char v[EXT_MAX_ARGS][EXT_ARG];
	int n;
} ext_args;

static void add_arg(ext_args *a, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_arg(ext_args *a, const char *key, const char *fmt, ...)
{
	snprintf(a->v[a->n++], EXT_ARG, "--%s", key);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->v[a->n++], EXT_ARG, fmt, ap);
	va_end(ap);
}

/* A parameter of the load generator alone (cb_workload.client_params): a twin only serves. */
static int is_client_param(const cb_workload *wl, const char *name)
{
	if (!wl->client_params)
		return 0;
	size_t n = strlen(name);
	for (const char *p = wl->client_params; (p = strstr(p, name)); p += n)
		if ((p == wl->client_params || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return 1;
	return 0;
}

/* The cell's shape and parameters, and what prepare() left for the twin: io.file's folder. */
static void rep_args(const cb_cell *c, const cb_rep *r, ext_args *a)
{
	a->n = 0;
	add_arg(a, "tasks", "%" PRId64, c->tasks);
	add_arg(a, "size", "%" PRId64, c->size);
	add_arg(a, "workers", "%d", c->cfg.workers);
	for (int i = 0; c->wl->params && c->wl->params[i].name; i++)
		if (!is_client_param(c->wl, c->wl->params[i].name)) /* the twin only serves */
			add_arg(a, c->wl->params[i].name, "%" PRId64, c->p[i]);
	char dir[256];
	if (!strcmp(c->wl->name, "io.file") && sscanf(r->twin, "dir=%255s", dir) == 1)
		add_arg(a, "dir", "%s", dir);
}

/* ---- the twin process of this cell process ------------------------------------------- */

#define TWIN_FD 3          /* the channel's number in the twin (NODE_CHANNEL_FD, CB_TWIN_FD) */
#define ERR_KEEP 4096      /* bytes of the twin's stderr kept for an error's note */

typedef struct ext_proc {
	pid_t pid;                /* 0: no twin running */
	char prog[PATH_MAX + 64]; /* the twin it runs */
	int ctl, out, err;        /* our end of the channel; its stdout and stderr */
	char errbuf[ERR_KEEP];    /* the latest of its stderr */
	size_t nerr;
} ext_proc;
static ext_proc twin;

/* fork + exec the twin with its stdout and stderr on pipes; extra_fd >= 0 is inherited as is
 * (bench serve's listening socket), ctl >= 0 becomes TWIN_FD. */
static pid_t ext_spawn_proc(const ext_runtime *rt, const char *prog, char **args, int nargs, int ctl,
			    int extra_fd, int *out, int *err)
{
	int is_node = !strcmp(rt->name, "node-ref");
	char *argv[EXT_MAX_ARGS + 4];
	int n = 0;
	argv[n++] = is_node ? "node" : (char *)prog;
	if (is_node)
		argv[n++] = (char *)prog;
	for (int i = 0; i < nargs; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	int op[2], ep[2];
	if (pipe2(op, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0)
		cb_abort("error", "pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		cb_abort("error", "fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(op[1], 1);
		dup2(ep[1], 2);
		if (ctl >= 0) {
			if (ctl == TWIN_FD)
				fcntl(TWIN_FD, F_SETFD, 0);
			else
				dup2(ctl, TWIN_FD);
			/* Node opens its IPC channel on NODE_CHANNEL_FD; the Go twins read CB_TWIN_FD. */
			char num[16];
			snprintf(num, sizeof num, "%d", TWIN_FD);
			setenv(is_node ? "NODE_CHANNEL_FD" : "CB_TWIN_FD", num, 1);
			setenv("NODE_CHANNEL_SERIALIZATION_MODE", "json", 1);
		}
		if (extra_fd >= 0)
			fcntl(extra_fd, F_SETFD, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(op[1]), close(ep[1]);
	*out = op[0], *err = ep[0];
	return pid;
}

static void twin_start(const ext_runtime *rt, const char *prog)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		cb_abort("error", "socketpair: %s", strerror(errno));
	twin.pid = ext_spawn_proc(rt, prog, NULL, 0, sp[1], -1, &twin.out, &twin.err);
	close(sp[1]);
	twin.ctl = sp[0];
	twin.nerr = 0;
	snprintf(twin.prog, sizeof twin.prog, "%s", prog);
}

/* Close the channel (the twin's cue to exit) and reap it; its exit status. */
static int twin_stop(void)
{
	if (twin.ctl >= 0)
		close(twin.ctl);
	close(twin.out), close(twin.err);
	int st = 0;
	waitpid(twin.pid, &st, 0);
	twin.pid = 0;
	return st;
}

/* Keep the latest ERR_KEEP bytes of the twin's stderr; what read() returned. */
static ssize_t drain_err(void)
{
	char b[1024];
	ssize_t k = read(twin.err, b, sizeof b);
	if (k <= 0)
		return k;
	if (twin.nerr + (size_t)k > sizeof twin.errbuf - 1) {
		size_t drop = twin.nerr + (size_t)k - (sizeof twin.errbuf - 1);
		drop = drop > twin.nerr ? twin.nerr : drop;
		memmove(twin.errbuf, twin.errbuf + drop, twin.nerr - drop);
		twin.nerr -= drop;
	}
	memcpy(twin.errbuf + twin.nerr, b, (size_t)k);
	twin.nerr += (size_t)k;
	twin.errbuf[twin.nerr] = 0;
	return k;
}

/* The twin died before it answered: its status and the last line it wrote to stderr. */
_Noreturn static void twin_died(const ext_runtime *rt)
{
	while (drain_err() > 0 || (errno == EINTR && twin.nerr < sizeof twin.errbuf - 1))
		; /* to EOF: the twin is gone, and with it the last holder of the pipe */
	int st = twin_stop();
	char *se = twin.errbuf;
	size_t ne = twin.nerr;
	while (ne && (se[ne - 1] == '\n' || se[ne - 1] == ' '))
		se[--ne] = 0;
	char *last = strrchr(se, '\n');
	cb_abort("error", "%s twin exited with %d: %s", rt->name,
		 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), last ? last + 1 : se);
}

/* JSON string of s (the arguments are numbers and paths; quote and backslash escaped). */
static size_t json_str(char *o, size_t n, size_t at, const char *s)
{
	at += (size_t)snprintf(o + at, at < n ? n - at : 0, "\"");
	for (; *s && at + 3 < n; s++) {
		if (*s == '"' || *s == '\\')
			o[at++] = '\\';
		o[at++] = (unsigned char)*s < 0x20 ? ' ' : *s;
	}
	return at + (size_t)snprintf(o + at, at < n ? n - at : 0, "\"");
}

/* One repetition's message, with its listening socket attached when it has one. */
static void twin_send(const ext_args *a, int lfd)
{
	char msg[EXT_MAX_ARGS * (EXT_ARG + 4) + 128];
	size_t at = (size_t)snprintf(msg, sizeof msg, "%s{\"args\":[",
				     lfd >= 0 ? "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":" : "");
	for (int i = 0; i < a->n; i++) {
		if (i)
			msg[at++] = ',';
		at = json_str(msg, sizeof msg, at, a->v[i]);
	}
	at += (size_t)snprintf(msg + at, sizeof msg - at, "]}%s\n", lfd >= 0 ? "}" : "");
	if (at >= sizeof msg)
		cb_abort("error", "twin arguments do not fit in %zu bytes", sizeof msg);
	struct iovec iov = {.iov_base = msg, .iov_len = at};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (lfd >= 0) {
		/* libuv accepts until EAGAIN: Node 20 makes a received handle non-blocking, Node 18
		 * (Debian 12's nodejs) does not, and its loop then blocks in accept for good. */
		int fl = fcntl(lfd, F_GETFL);
		if (fl >= 0 && !(fl & O_NONBLOCK))
			fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof cm.buf;
		struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &lfd, sizeof lfd);
	}
	/* A twin that is gone fails the send (EPIPE); its report's read then sees the EOF and
	 * says how it ended, so the send's own result says nothing more. */
	while (sendmsg(twin.ctl, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* The twin's answer: the next line it prints that is a report (NULL: it died first). */
static int twin_read_line(char *line, size_t n)
{
	size_t have = 0;
	for (;;) {
		struct pollfd pf[2] = {{.fd = twin.out, .events = POLLIN}, {.fd = twin.err, .events = POLLIN}};
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pf[1].revents)
			drain_err();
		if (!pf[0].revents)
			continue;
		ssize_t k = read(twin.out, line + have, 1); /* byte by byte: nothing past the line is ours */
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		if (line[have] == '\n') {
			line[have] = 0;
			return 0;
		}
		if (have < n - 1)
			have++;
	}
}

/* utime + stime of a live process, in ns (/proc/PID/stat fields 14 and 15, in clock ticks). */
static void proc_cpu(pid_t pid, uint64_t *user_ns, uint64_t *sys_ns)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	*user_ns = *sys_ns = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t k = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (k <= 0)
		return;
	buf[k] = 0;
	const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	unsigned long long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return;
	uint64_t tick = (uint64_t)(1000000000 / sysconf(_SC_CLK_TCK));
	*user_ns = ut * tick, *sys_ns = st * tick;
}

/* Peak resident memory of a live process in KiB (VmHWM of /proc/PID/status), 0 if unknown. */
static long proc_hwm_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	long kb = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static int twin_file(const ext_runtime *rt, const cb_cell *c, char *prog, size_t n)
{
	char root[PATH_MAX];
	repo_root(root, sizeof root);
	const char *tw = twin_name(c->wl->name);
	if (!strcmp(rt->name, "node-ref"))
		snprintf(prog, n, "%s/workloads/ref/node/%s.js", root, tw);
	else
		snprintf(prog, n, "%s/build/ref/go/%s", root, tw);
	return access(prog, R_OK) == 0;
}

static uint64_t ext_run(const ext_runtime *rt, cb_rep *r)
{
	const cb_cell *c = r->cell;
	char prog[PATH_MAX + 64];
	char word[64];
	snprintf(word, sizeof word, " %s ", c->wl->name);
	char list[512];
	snprintf(list, sizeof list, " %s ", rt->twins);
	if (!strstr(list, word))
		cb_abort("unsupported", "no %s twin of %s", rt->name, c->wl->name);
	if (!in_path(rt->tool))
		cb_abort("unsupported", "%s is not installed (Debian package %s)", rt->tool, rt->what);
	if (!twin_file(rt, c, prog, sizeof prog))
		cb_abort("unsupported", "no %s twin of %s (%s)", rt->name, c->wl->name,
			 strcmp(rt->name, "node-ref") ? "build/ref/go: make refs" : "workloads/ref/node");

	/* io.echo, mix.convoy: the twin serves on the harness's listening socket, the client
	 * released as soon as the twin has the repetition (connections wait in the backlog
	 * until it accepts). */
	int lfd = -1, go_fd = -1;
	if (!strcmp(c->wl->name, "io.echo") || !strcmp(c->wl->name, "mix.convoy")) {
		if (sscanf(r->twin, "listen_fd=%d;go_fd=%d", &lfd, &go_fd) != 2)
			cb_abort("error", "%s gave the twin no listening socket", c->wl->name);
	}
	ext_args a;
	rep_args(c, r, &a);
	if (twin.pid && strcmp(twin.prog, prog))
		twin_stop(); /* another workload in this process (tests): another twin */
	if (!twin.pid)
		twin_start(rt, prog);
	cb_stat_process(+1);
	uint64_t u0, s0, u1, s1;
	proc_cpu(twin.pid, &u0, &s0);
	twin_send(&a, lfd);
	if (go_fd >= 0 && write(go_fd, "G", 1) != 1)
		cb_abort("error", "cannot start the load generator: %s", strerror(errno));
	char so[8192];
	if (twin_read_line(so, sizeof so) < 0)
		twin_died(rt);
	proc_cpu(twin.pid, &u1, &s1);
	r->child_user_ns = u1 - u0;
	r->child_sys_ns = s1 - s0;
	r->child_maxrss_kb = proc_hwm_kb(twin.pid);
	if (c->wl->cold) { /* the next repetition measures a fresh runtime's memory again */
		int st = twin_stop();
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			cb_abort("error", "%s twin exited with %d after its report", rt->name,
				 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	cb_stat_process(-1);
	int f;
	uint64_t checksum = field(so, "checksum", &f);
	if (!f)
		cb_abort("error", "%s twin printed no checksum: %.200s", rt->name, so);
	r->wall_ns = field(so, "wall_ns", &f);
	r->ops = field(so, "ops", &f);
	uint64_t p50 = field(so, "p50_ns", &f);
	if (f) {
		r->has_lat = 1;
		r->p50_ns = p50;
		r->p99_ns = field(so, "p99_ns", &f);
		r->max_ns = field(so, "max_ns", &f);
	}
	uint64_t bpt = field(so, "bytes_per_task", &f);
	if (f)
		snprintf(r->note, sizeof r->note, "bytes_per_task=%" PRIu64, bpt);
	/* note=<text to the end of the line>: how the twin expressed the cell (last field). */
	const char *note = strstr(so, " note=");
	if (note)
		snprintf(r->note, sizeof r->note, "%.*s", (int)strcspn(note + 6, "\n"), note + 6);
	return checksum;
}

/* The workload's own finish() still checks the checksum and sets expected; a twin's ops
 * and latencies, already stored in the rep, are kept when finish leaves them alone. */

static const ext_runtime node_rt = {"node-ref", "node", "nodejs",
	"cpu.fib cpu.hash io.sleep io.echo io.pipe io.file mix.latency mix.convoy micro.spawn micro.yield "
	"micro.chan micro.ring micro.skynet micro.idle"};
static const ext_runtime go_rt = {"go-ref", "go", "golang-go",
	"cpu.fib cpu.hash io.sleep io.echo io.pipe io.file mix.latency mix.convoy micro.spawn micro.yield "
	"micro.chan micro.ring micro.skynet micro.idle"};

static uint64_t node_run(const cb_backend_cfg *cfg, cb_fn root, void *arg, size_t len)
{
	(void)cfg, (void)root, (void)len;
	cb_rep *r;
	memcpy(&r, arg, sizeof r);
	return ext_run(&node_rt, r);
}

static uint64_t go_run(const cb_backend_cfg *cfg, cb_fn root, void *arg, size_t len)
{
	(void)cfg, (void)root, (void)len;
	cb_rep *r;
	memcpy(&r, arg, sizeof r);
	return ext_run(&go_rt, r);
}

/* The twin runs in its own process; the task API is never called in ours. */
static cb_task *ext_spawn(cb_fn fn, const void *a, size_t l)
{
	(void)fn, (void)a, (void)l;
	cb_abort("error", "reference backends run a separate program");
}

const cb_backend cb_backend_node_ref = {
	.name = "node-ref",
	.summary = "reference: the Node.js twin of the workload (one thread, event loop; its own clock)",
	.concurrent = 1, .one_runner = 1, .run = node_run, .spawn = ext_spawn,
};

const cb_backend cb_backend_go_ref = {
	.name = "go-ref",
	.summary = "reference: the Go twin of the workload (goroutines, GOMAXPROCS = workers; its own clock)",
	.concurrent = 1, .run = go_run, .spawn = ext_spawn,
};

/* ---- bench serve ----------------------------------------------------------------------- */

/* The twin's echo server standalone on lfd (io.echo's twin with --tasks 0) until *stop:
 * bench serve for go-ref and node-ref. The twin says "listening" once its signal handlers are
 * in; ready() is called then (bench serve prints the port). On *stop it gets SIGTERM, ends
 * every connection and prints what it echoed; the twin is reaped before this returns. */
int cb_ext_serve(const cb_backend *be, int lfd, int workers, atomic_int *stop, void (*ready)(void),
		 uint64_t *bytes, uint64_t *conns, char *err, size_t n)
{
	const ext_runtime *rt = !strcmp(be->name, "node-ref") ? &node_rt : &go_rt;
	static const cb_workload echo_name = {.name = "io.echo"};
	cb_cell c = {.be = be, .wl = &echo_name};
	char prog[PATH_MAX + 64];
	if (!in_path(rt->tool)) {
		snprintf(err, n, "%s is not installed (Debian package %s)", rt->tool, rt->what);
		return -1;
	}
	if (!twin_file(rt, &c, prog, sizeof prog)) {
		snprintf(err, n, "no %s twin of io.echo (%s)", rt->name,
			 rt == &node_rt ? "workloads/ref/node" : "build/ref/go: make refs");
		return -1;
	}
	ext_args a = {.n = 0};
	add_arg(&a, "listen-fd", "%d", lfd);
	add_arg(&a, "tasks", "0");
	add_arg(&a, "workers", "%d", workers);
	char *args[EXT_MAX_ARGS];
	for (int i = 0; i < a.n; i++)
		args[i] = a.v[i];
	twin.pid = ext_spawn_proc(rt, prog, args, a.n, -1, lfd, &twin.out, &twin.err);
	twin.ctl = -1;
	twin.nerr = 0;
	char line[512];
	int up = 0, signalled = 0;
	size_t have = 0;
	for (;;) {
		if (atomic_load(stop) && !signalled) {
			kill(twin.pid, SIGTERM);
			signalled = 1;
		}
		struct pollfd pf[2] = {{.fd = twin.out, .events = POLLIN}, {.fd = twin.err, .events = POLLIN}};
		if (poll(pf, 2, 100) <= 0) /* a stop is looked at every 100 ms at most */
			continue;
		if (pf[1].revents)
			drain_err();
		if (!pf[0].revents)
			continue;
		ssize_t k = read(twin.out, line + have, sizeof line - 1 - have);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		have += (size_t)k;
		line[have] = 0;
		char *nl;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			if (!strcmp(line, "listening") && !up) {
				up = 1;
				ready();
			} else if (strstr(line, "checksum=")) {
				int f;
				*bytes = field(line, "checksum", &f);
				*conns = field(line, "connections", &f);
				up = 2;
			}
			have -= (size_t)(nl + 1 - line);
			memmove(line, nl + 1, have + 1);
		}
		if (have == sizeof line - 1)
			have = 0; /* a line longer than any the twin prints: not one of its */
	}
	while (drain_err() > 0)
		;
	int st = twin_stop();
	if (up == 2 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	char *last = twin.errbuf;
	for (char *q = twin.errbuf; *q; q++)
		if (*q == '\n' && q[1])
			last = q + 1;
	snprintf(err, n, "%s echo twin exited with %d before its report: %s", rt->name,
		 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), last);
	return -1;
}
