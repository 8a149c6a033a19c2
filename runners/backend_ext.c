/* backend_ext.c: reference runs of real runtimes as separate programs: node-ref runs the
 * Node.js twin of a workload (workloads/ref/node/<name>.js), go-ref the Go twin
 * (workloads/ref/go/<name>/, built with `go build` into build/ref/go/). A twin takes the
 * cell's parameters as --tasks/--size/--workers/--<param> and prints one line of key=value
 * pairs: wall_ns (its own clock, runtime start-up excluded), ops, checksum, and p50_ns,
 * p99_ns, max_ns, bytes_per_task where it has them. hyperfine times the same programs as
 * whole processes. A missing runtime or twin is `unsupported` with the reason. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

static uint64_t ext_run(const ext_runtime *rt, cb_rep *r)
{
	const cb_cell *c = r->cell;
	char root[PATH_MAX], prog[PATH_MAX + 64];
	repo_root(root, sizeof root);
	const char *tw = twin_name(c->wl->name);
	int is_node = !strcmp(rt->name, "node-ref");
	if (is_node)
		snprintf(prog, sizeof prog, "%s/workloads/ref/node/%s.js", root, tw);
	else
		snprintf(prog, sizeof prog, "%s/build/ref/go/%s", root, tw);
	char word[64];
	snprintf(word, sizeof word, " %s ", c->wl->name);
	char list[512];
	snprintf(list, sizeof list, " %s ", rt->twins);
	if (!strstr(list, word))
		cb_abort("unsupported", "no %s twin of %s", rt->name, c->wl->name);
	if (!in_path(rt->tool))
		cb_abort("unsupported", "%s is not installed (Debian package %s)", rt->tool, rt->what);
	if (access(prog, R_OK) != 0)
		cb_abort("unsupported", "no %s twin of %s (%s)", rt->name, c->wl->name,
			 is_node ? "workloads/ref/node" : "build/ref/go: make refs");

	char args[CB_MAX_PARAMS + 4][2][48];
	char *argv[2 * (CB_MAX_PARAMS + 4) + 4];
	int n = 0, k = 0;
	argv[n++] = is_node ? "node" : prog;
	if (is_node)
		argv[n++] = prog;
	int64_t vals[3] = {c->tasks, c->size, c->cfg.workers};
	const char *names[3] = {"tasks", "size", "workers"};
	for (int i = 0; i < 3; i++, k++) {
		snprintf(args[k][0], 48, "--%s", names[i]);
		snprintf(args[k][1], 48, "%" PRId64, vals[i]);
		argv[n++] = args[k][0];
		argv[n++] = args[k][1];
	}
	for (int i = 0; c->wl->params && c->wl->params[i].name; i++, k++) {
		if (is_client_param(c->wl, c->wl->params[i].name)) { /* the twin only serves */
			k--;
			continue;
		}
		snprintf(args[k][0], 48, "--%s", c->wl->params[i].name);
		snprintf(args[k][1], 48, "%" PRId64, c->p[i]);
		argv[n++] = args[k][0];
		argv[n++] = args[k][1];
	}
	/* io.echo, mix.convoy: the twin serves on the harness's listening socket, the client
	 * released as soon as the twin exists (connections wait in the backlog until it
	 * accepts). io.file: the twin reads the files prepare() made, in --dir. */
	int lfd = -1, go_fd = -1;
	char lfd_arg[24], dir_arg[256];
	if (!strcmp(c->wl->name, "io.file") && sscanf(r->twin, "dir=%255s", dir_arg) == 1) {
		argv[n++] = "--dir";
		argv[n++] = dir_arg;
	}
	if (!strcmp(c->wl->name, "io.echo") || !strcmp(c->wl->name, "mix.convoy")) {
		if (sscanf(r->twin, "listen_fd=%d;go_fd=%d", &lfd, &go_fd) != 2)
			cb_abort("error", "io.echo gave the twin no listening socket");
		snprintf(lfd_arg, sizeof lfd_arg, "%d", lfd);
		argv[n++] = "--listen-fd";
		argv[n++] = lfd_arg;
	}
	argv[n] = NULL;

	int out[2], err[2];
	if (pipe(out) < 0 || pipe(err) < 0)
		cb_abort("error", "pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		cb_abort("error", "fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]), close(err[0]), close(out[1]), close(err[1]);
		if (lfd >= 0)
			fcntl(lfd, F_SETFD, 0); /* the twin inherits the listening socket */
		execvp(argv[0], argv);
		_exit(127);
	}
	cb_stat_process(+1);
	close(out[1]), close(err[1]);
	if (go_fd >= 0 && write(go_fd, "G", 1) != 1)
		cb_abort("error", "cannot start the load generator: %s", strerror(errno));
	static char so[8192], se[8192];
	size_t no = 0, ne = 0;
	ssize_t got;
	while ((got = read(out[0], so + no, sizeof so - 1 - no)) > 0)
		no += (size_t)got;
	while ((got = read(err[0], se + ne, sizeof se - 1 - ne)) > 0)
		ne += (size_t)got;
	so[no] = se[ne] = 0;
	close(out[0]), close(err[0]);
	int st;
	waitpid(pid, &st, 0);
	cb_stat_process(-1);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		while (ne && (se[ne - 1] == '\n' || se[ne - 1] == ' '))
			se[--ne] = 0;
		char *last = strrchr(se, '\n');
		cb_abort("error", "%s twin exited with %d: %s", rt->name,
			 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), last ? last + 1 : se);
	}
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
	.concurrent = 1, .run = node_run, .spawn = ext_spawn,
};

const cb_backend cb_backend_go_ref = {
	.name = "go-ref",
	.summary = "reference: the Go twin of the workload (goroutines, GOMAXPROCS = workers; its own clock)",
	.concurrent = 1, .run = go_run, .spawn = ext_spawn,
};
