/* serve.c: bench serve: the io.echo server of a backend, standalone on 127.0.0.1 until
 * SIGINT/SIGTERM, for load generators other than bench loadgen (the way vmbench runs its
 * servers under its own client).
 *
 * The server is io.echo's: a task per connection running wl_echo_task under the chosen
 * backend, accepted by the root task. What serve adds is a life without a known end:
 * - Finished connections are reaped as the server goes: each connection's task, once its
 *   client closed, sends its slot on a `done` channel that the root drains before every
 *   accept, joining the task. --conns-max bounds the connections served at once; beyond it
 *   the root waits for one to finish and newcomers wait in the listen backlog.
 * - Stopping: the signal handler wakes the root's accept by connecting to the server itself
 *   (socket and connect are async-signal-safe; shutting the listening socket down instead
 *   would make libuv retry its failing accept forever), and shuts every open connection
 *   down (its reader sees EOF, its client a closed connection). The root keeps its own dup of
 *   each connection for that, so the handler never touches an fd number a task may have
 *   closed and the kernel reused. Then the root joins every task, and run() returns with
 *   nothing left running, fork's worker processes included.
 * Round trips served are bytes echoed / --size, the message size the clients send.
 *
 * go-ref and node-ref serve with their twin's echo server (workloads/ref/go/echo, workloads/ref/node/echo.js), a separate
 * program that accepts on the listening socket made here: it runs until the signal, which
 * is passed on to it (SIGTERM); it ends its connections itself and reports what it echoed,
 * and is reaped before serve exits (cb_ext_serve, backend_ext.c). The cpython-* backends serve
 * with io.echo's Python twin in the embedded interpreter (threads, asyncio, a pre-forked
 * Pool); the signal handler writes to a stop pipe that the twin watches beside its sockets
 * (cb_cpython_serve, backend_cpython.c). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "harness.h"
#include "util.h"

extern const cb_workload cb_wl_io_echo;

#define SERVE_CONNS_DEF 1024   /* connections served at once by default */
#define SERVE_CONNS_MAX 65536  /* io.echo's own ceiling */
#define SERVE_BACKLOG_SLACK 64 /* listen backlog beyond conns-max, as io.echo's */

static const char serve_usage[] =
	"usage: bench serve --backend B [--port N] [--conns-max N] [--size N] [--workers N]\n"
	"Runs io.echo's server under backend B (a task per connection) on 127.0.0.1:PORT\n"
	"(0 = a free port) until SIGINT or SIGTERM. Prints \"port=N\" first; at the end, after\n"
	"every connection is closed, \"served round_trips=R bytes=B connections=C\", where\n"
	"R = B / --size (the clients' message size, default 1024). At most --conns-max\n"
	"connections are served at once (default 1024); more wait in the listen backlog.\n"
	"go-ref and node-ref run their twin's echo server (Go: a goroutine per connection; Node:\n"
	"one event loop), started by serve and stopped with it; the cpython-* backends run\n"
	"io.echo's Python twin (a thread per connection, asyncio streams, a pre-forked Pool).";

static int serve_lfd = -1, serve_port;
static _Atomic int *serve_dup; /* per slot: the root's dup of the connection, or -1 */
static int serve_slots;
static atomic_int serve_stop;

/* A twin's server is stopped by cb_ext_serve, which looks at serve_stop (no wake-up
 * connection: the twin would count it as a client). */
static void serve_twin_on_signal(int sig)
{
	(void)sig;
	atomic_store(&serve_stop, 1);
}

static int serve_stop_w = -1; /* the cpython twins' stop pipe */
static void serve_py_on_signal(int sig)
{
	(void)sig;
	int saved = errno;
	if (write(serve_stop_w, "S", 1) < 0) /* a full pipe is readable already */
		(void)0;
	errno = saved;
}

static void print_port(void)
{
	printf("port=%d\n", serve_port);
	fflush(stdout);
}

static void serve_on_signal(int sig)
{
	(void)sig;
	int saved = errno;
	atomic_store(&serve_stop, 1);
	int w = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)serve_port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (w >= 0) {
		/* Queued even when nobody accepts yet; a full backlog wakes accept anyway. */
		(void)connect(w, (struct sockaddr *)&sa, sizeof sa);
		close(w);
	}
	for (int i = 0; i < serve_slots; i++) {
		int fd = atomic_load(&serve_dup[i]);
		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
	}
	errno = saved;
}

typedef struct serve_done {
	int32_t slot;
	int32_t other_process; /* the task ran in a process of its own (fork): the root's copy
	                        * of the accepted fd is still open and the root closes it */
} serve_done;

typedef struct serve_conn {
	int fd;
	int32_t slot;
	int32_t root_pid;
	cb_chan *done;
} serve_conn;

static uint64_t serve_conn_task(void *arg, size_t len)
{
	(void)len;
	serve_conn a;
	memcpy(&a, arg, sizeof a);
	uint64_t bytes = wl_echo_task(&a.fd, sizeof a.fd);
	serve_done d = {a.slot, getpid() != a.root_pid};
	cb_chan_send(a.done, &d);
	return bytes;
}

typedef struct serve_state {
	cb_task **task;   /* per slot; NULL = free */
	int *orig;        /* per slot: the accepted fd number in the root's process */
	uint64_t bytes, conns;
	int live;
} serve_state;

static void serve_reap(serve_state *s, const serve_done *d)
{
	s->bytes += cb_join(s->task[d->slot]);
	s->task[d->slot] = NULL;
	int fd = atomic_exchange(&serve_dup[d->slot], -1);
	close(fd);
	if (d->other_process)
		close(s->orig[d->slot]);
	s->live--;
}

static uint64_t serve_root(void *arg, size_t len)
{
	(void)len;
	serve_state *s;
	memcpy(&s, arg, sizeof s);
	cb_chan *done = cb_chan_make(sizeof(serve_done), (size_t)serve_slots);
	int32_t pid = (int32_t)getpid();
	serve_done d;
	while (!atomic_load(&serve_stop)) {
		while (cb_chan_try_recv(done, &d) == CB_OK)
			serve_reap(s, &d);
		if (s->live == serve_slots) {
			cb_chan_recv(done, &d); /* a stop shuts every connection: one will finish */
			serve_reap(s, &d);
			continue;
		}
		int fd = cb_accept(serve_lfd);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (!atomic_load(&serve_stop))
				fprintf(stderr, "bench serve: accept: %s\n", strerror(errno));
			break;
		}
		if (atomic_load(&serve_stop)) { /* the handler's wake-up, or a client too late */
			cb_close(fd);
			break;
		}
		int slot = 0;
		while (s->task[slot])
			slot++;
		int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (dup < 0) {
			fprintf(stderr, "bench serve: connection refused: %s\n", strerror(errno));
			cb_close(fd);
			continue;
		}
		atomic_store(&serve_dup[slot], dup);
		if (atomic_load(&serve_stop)) /* the handler ran between the accept and the store */
			shutdown(dup, SHUT_RDWR);
		s->orig[slot] = fd;
		serve_conn c = {fd, slot, pid, done};
		s->task[slot] = cb_spawn(serve_conn_task, &c, sizeof c);
		s->live++;
		s->conns++;
	}
	atomic_store(&serve_stop, 1);
	for (int i = 0; i < serve_slots; i++) {
		int fd = atomic_load(&serve_dup[i]);
		if (fd >= 0)
			shutdown(fd, SHUT_RDWR);
	}
	while (s->live) {
		cb_chan_recv(done, &d);
		serve_reap(s, &d);
	}
	cb_chan_free(done);
	return s->bytes;
}

int cb_serve_main(int argc, char **argv)
{
	const char *bname = NULL;
	int64_t port = 0, conns = SERVE_CONNS_DEF, size = 1024, workers = -1;
	static const struct option opts[] = {
		{"backend", 1, 0, 'b'}, {"port", 1, 0, 'p'}, {"conns-max", 1, 0, 'c'},
		{"size", 1, 0, 's'}, {"workers", 1, 0, 'W'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int o;
	opterr = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case 'b': bname = optarg; break;
		case 'p': port = cb_num_arg("--port", optarg, 0, 65535); break;
		case 'c': conns = cb_num_arg("--conns-max", optarg, 1, SERVE_CONNS_MAX); break;
		case 's': size = cb_num_arg("--size", optarg, 1, cb_wl_io_echo.size_max); break;
		case 'W': workers = cb_num_arg("--workers", optarg, 1, 4096); break;
		case 'h': puts(serve_usage); return 0;
		case ':': cb_usage_error("serve: %s needs a value", argv[optind - 1]);
		default: cb_usage_error("serve: unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		cb_usage_error("serve: unexpected argument %s", argv[optind]);
	if (!bname)
		cb_usage_error("serve: --backend is required (see bench list)");
	const cb_backend *be = cb_backend_find(bname);
	if (!be)
		cb_usage_error("serve: unknown backend %s (see bench list)", bname);
	int is_twin = !strcmp(be->name, "go-ref") || !strcmp(be->name, "node-ref");
	int is_py = !strncmp(be->name, "cpython-", 8);
	cb_cell c;
	cb_cell_defaults(&c, be, &cb_wl_io_echo);
	if (workers > 0)
		c.cfg.workers = (int)workers;
	c.tasks = conns;

	char err[300];
	int p = (int)port;
	serve_lfd = wl_listen_on((int)conns + SERVE_BACKLOG_SLACK, &p, err, sizeof err);
	if (serve_lfd < 0)
		cb_usage_error("serve: %s", err);
	if (is_py) {
		int sp[2];
		if (pipe(sp) < 0)
			cb_usage_error("serve: pipe: %s", strerror(errno));
		serve_stop_w = sp[1];
		struct sigaction pa = {.sa_handler = serve_py_on_signal};
		sigemptyset(&pa.sa_mask);
		sigaction(SIGINT, &pa, NULL);
		sigaction(SIGTERM, &pa, NULL);
		signal(SIGPIPE, SIG_IGN);
		serve_port = p;
		print_port(); /* clients wait in the backlog while the interpreter starts */
		uint64_t bytes = 0, served = 0;
		cb_backend_use(be);
		cb_cpython_serve(be, serve_lfd, sp[0], c.cfg.workers, &bytes, &served);
		close(serve_lfd);
		printf("served round_trips=%" PRIu64 " bytes=%" PRIu64 " connections=%" PRIu64 "\n",
		       bytes / (uint64_t)size, bytes, served);
		return 0;
	}
	if (is_twin) {
		struct sigaction ta = {.sa_handler = serve_twin_on_signal};
		sigemptyset(&ta.sa_mask);
		sigaction(SIGINT, &ta, NULL);
		sigaction(SIGTERM, &ta, NULL);
		serve_port = p;
		uint64_t bytes = 0, served = 0;
		if (cb_ext_serve(be, serve_lfd, c.cfg.workers, &serve_stop, print_port, &bytes, &served,
				 err, sizeof err) < 0) {
			fprintf(stderr, "bench serve: %s\n", err);
			return 1;
		}
		close(serve_lfd);
		printf("served round_trips=%" PRIu64 " bytes=%" PRIu64 " connections=%" PRIu64 "\n",
		       bytes / (uint64_t)size, bytes, served);
		return 0;
	}
	serve_slots = (int)conns;
	serve_dup = malloc((size_t)conns * sizeof *serve_dup);
	serve_state st = {calloc((size_t)conns, sizeof(cb_task *)), calloc((size_t)conns, sizeof(int)), 0, 0, 0};
	if (!serve_dup || !st.task || !st.orig) {
		fprintf(stderr, "bench serve: out of memory for %" PRId64 " connections\n", conns);
		return 1;
	}
	for (int i = 0; i < serve_slots; i++)
		atomic_init(&serve_dup[i], -1);

	struct sigaction sa = {.sa_handler = serve_on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a client gone mid-echo is that connection's end, not ours */
	serve_port = p;
	printf("port=%d\n", p);
	fflush(stdout);

	cb_backend_use(be);
	serve_state *sp = &st;
	uint64_t bytes = be->run(&c.cfg, serve_root, &sp, sizeof sp);
	close(serve_lfd);
	printf("served round_trips=%" PRIu64 " bytes=%" PRIu64 " connections=%" PRIu64 "\n",
	       bytes / (uint64_t)size, bytes, st.conns);
	free(st.task);
	free(st.orig);
	free(serve_dup);
	return 0;
}
