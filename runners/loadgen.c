/* loadgen.c: the echo load generator, a separate process (bench loadgen) so that the server
 * under test never shares a scheduler with its client.
 *
 * Closed loop: each connection sends one message, waits for the whole echo, checks every
 * byte, records the round trip, and sends the next, for a count of messages or until a
 * duration ends. The report counts the round trips that came back intact (requests), the
 * echoes that came back wrong or not at all (errors) and the bytes sent: a server that
 * echoes as many bytes as it got, but not the right ones, cannot pass for a good one.
 * All connections are opened first; then it reports "R" and waits for a byte on the go
 * fd, so that the server's timed run does not include the client's start-up. One
 * thread and epoll: a load generator that needed threads would compete with the server for
 * the same cores. Works against any echo server on 127.0.0.1. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "harness.h"
#include "hist.h"
#include "util.h"

typedef struct lg_conn {
	int fd;
	uint64_t sent_msgs;   /* messages fully sent */
	size_t out_off;       /* bytes of the current message sent */
	size_t in_off;        /* bytes of the current echo received */
	uint64_t t_send;
	int done;
	int bad;              /* a byte of the current echo differed from what was sent */
} lg_conn;

static uint8_t pattern(int conn, uint64_t msg, size_t j)
{
	return (uint8_t)((unsigned)conn * 131u + (unsigned)msg * 7u + (unsigned)j);
}

static void fill(uint8_t *buf, int conn, uint64_t msg, size_t len)
{
	for (size_t j = 0; j < len; j++)
		buf[j] = pattern(conn, msg, j);
}

static void usage(void)
{
	puts("usage: bench loadgen --port N [--conns N] [--msg BYTES] [--count N | --duration-ms N]\n"
	     "                     [--go-fd FD] [--report-fd FD]\n"
	     "Drives an echo server on 127.0.0.1:PORT with N closed-loop connections and prints\n"
	     "requests, errors, bytes, p50_ns, p99_ns, max_ns, elapsed_ns (to --report-fd or stdout):\n"
	     "round trips echoed intact, echoes wrong or missing, bytes sent. Exit status 1 if any\n"
	     "echo was wrong or missing.");
}

int cb_loadgen_main(int argc, char **argv)
{
	int port = 0, conns = 1, msg = 64, go_fd = -1, rep_fd = 1;
	int64_t count = 1000, duration_ms = 0;
	static const struct option opts[] = {
		{"port", 1, 0, 'p'}, {"conns", 1, 0, 'c'}, {"msg", 1, 0, 'm'},
		{"count", 1, 0, 'n'}, {"duration-ms", 1, 0, 'd'}, {"go-fd", 1, 0, 'g'},
		{"report-fd", 1, 0, 'r'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int o;
	opterr = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case 'p': port = (int)cb_num_arg("loadgen --port", optarg, 1, 65535); break;
		case 'c': conns = (int)cb_num_arg("loadgen --conns", optarg, 1, 100000); break;
		case 'm': msg = (int)cb_num_arg("loadgen --msg", optarg, 1, 1 << 24); break;
		case 'n': count = cb_num_arg("loadgen --count", optarg, 1, INT64_MAX / 2); break;
		case 'd': duration_ms = cb_num_arg("loadgen --duration-ms", optarg, 1, 86400000); break;
		case 'g': go_fd = (int)cb_num_arg("loadgen --go-fd", optarg, 0, 1 << 20); break;
		case 'r': rep_fd = (int)cb_num_arg("loadgen --report-fd", optarg, 0, 1 << 20); break;
		case 'h': usage(); return 0;
		case ':': cb_usage_error("loadgen: %s needs a value", argv[optind - 1]);
		default: cb_usage_error("loadgen: unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		cb_usage_error("loadgen: unexpected argument %s", argv[optind]);
	if (!port)
		cb_usage_error("loadgen: --port is required");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);

	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lg_conn *cs = calloc((size_t)conns, sizeof *cs);
	uint8_t *out = malloc((size_t)msg), *in = malloc((size_t)msg), *want = malloc((size_t)msg);
	cb_hist *h = malloc(sizeof *h);
	if (!cs || !out || !in || !want || !h) {
		fprintf(stderr, "bench loadgen: out of memory\n");
		return 1;
	}
	cb_hist_init(h);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < conns; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			fprintf(stderr, "bench loadgen: connection %d to 127.0.0.1:%d: %s\n", i, port,
				strerror(errno));
			return 1;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		cs[i].fd = fd;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
	if (go_fd >= 0) {
		if (write(rep_fd, "R", 1) != 1)
			return 1;
		char b;
		if (read(go_fd, &b, 1) != 1)
			return 1; /* the cell went away before starting: nothing to measure */
	}

	uint64_t start = cb_now_ns(), stop_at = duration_ms ? start + (uint64_t)duration_ms * 1000000u : 0;
	uint64_t requests = 0, errors = 0, bytes = 0; /* bytes: sent */
	int active = conns;
	/* Send the first message on every connection; later ones go out as echoes complete. */
	for (int i = 0; i < conns; i++) {
		lg_conn *c = &cs[i];
		fill(out, i, 0, (size_t)msg);
		c->t_send = cb_now_ns();
		ssize_t w = write(c->fd, out, (size_t)msg);
		c->out_off = w > 0 ? (size_t)w : 0;
		bytes += c->out_off;
		if (c->out_off < (size_t)msg) {
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
	}
	struct epoll_event evs[256];
	while (active > 0) {
		int n = epoll_wait(ep, evs, 256, 1000);
		if (n < 0 && errno != EINTR)
			break;
		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			lg_conn *c = &cs[i];
			if (c->done)
				continue;
			if ((evs[k].events & EPOLLOUT) && c->out_off < (size_t)msg) {
				fill(out, i, c->sent_msgs, (size_t)msg);
				ssize_t w = write(c->fd, out + c->out_off, (size_t)msg - c->out_off);
				if (w > 0) {
					c->out_off += (size_t)w;
					bytes += (uint64_t)w;
				}
				if (c->out_off == (size_t)msg) {
					struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
			}
			if (!(evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			ssize_t r = read(c->fd, in, (size_t)msg - c->in_off);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) { /* the server closed or failed mid-exchange */
				errors++;
				c->done = 1;
				active--;
				close(c->fd);
				continue;
			}
			fill(want, i, c->sent_msgs, (size_t)msg);
			c->bad |= memcmp(in, want + c->in_off, (size_t)r) != 0;
			c->in_off += (size_t)r;
			if (c->in_off < (size_t)msg)
				continue;
			uint64_t now = cb_now_ns();
			cb_hist_add(h, now - c->t_send);
			if (c->bad)
				errors++; /* one per wrong echo, however many of its bytes differ */
			else
				requests++;
			c->bad = 0;
			c->sent_msgs++;
			c->in_off = 0;
			int finished = stop_at ? now >= stop_at : c->sent_msgs >= (uint64_t)count;
			if (finished) {
				c->done = 1;
				active--;
				close(c->fd);
				continue;
			}
			fill(out, i, c->sent_msgs, (size_t)msg);
			c->t_send = now;
			ssize_t w = write(c->fd, out, (size_t)msg);
			c->out_off = w > 0 ? (size_t)w : 0;
			bytes += c->out_off;
			if (c->out_off < (size_t)msg) {
				struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			}
		}
	}
	uint64_t elapsed = cb_now_ns() - start;
	char line[256];
	int len = snprintf(line, sizeof line,
			   "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			   requests, errors, bytes, cb_hist_quantile(h, 0.5), cb_hist_quantile(h, 0.99),
			   h->max, elapsed);
	if (write(rep_fd, line, (size_t)len) != len)
		return 1;
	close(ep);
	free(cs), free(out), free(in), free(want), free(h);
	return errors ? 1 : 0;
}

int cb_loadgen_start(int port, int conns, int msg, int64_t count, int64_t duration_ms,
		     int *go_fd, int *report_fd, char *err, size_t n)
{
	int go[2], rep[2];
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0)
		return snprintf(err, n, "pipe: %s", strerror(errno)), -1;
	char a[7][32];
	snprintf(a[0], 32, "%d", port);
	snprintf(a[1], 32, "%d", conns);
	snprintf(a[2], 32, "%d", msg);
	snprintf(a[3], 32, "%" PRId64, count);
	snprintf(a[4], 32, "%" PRId64, duration_ms);
	snprintf(a[5], 32, "%d", go[0]);
	snprintf(a[6], 32, "%d", rep[1]);
	pid_t pid = fork();
	if (pid < 0)
		return snprintf(err, n, "fork: %s", strerror(errno)), -1;
	if (pid == 0) {
		fcntl(go[0], F_SETFD, 0);
		fcntl(rep[1], F_SETFD, 0);
		char *argv[] = {"bench", "loadgen", "--port", a[0], "--conns", a[1], "--msg", a[2],
				duration_ms ? "--duration-ms" : "--count", duration_ms ? a[4] : a[3],
				"--go-fd", a[5], "--report-fd", a[6], NULL};
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(go[0]);
	close(rep[1]);
	/* Wait until every connection is open (the "R"), so timing starts on a ready client. */
	struct pollfd pf = {.fd = rep[0], .events = POLLIN};
	char b = 0;
	if (poll(&pf, 1, 30000) <= 0 || read(rep[0], &b, 1) != 1 || b != 'R') {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(go[1]), close(rep[0]);
		return snprintf(err, n, "load generator did not connect to 127.0.0.1:%d", port), -1;
	}
	*go_fd = go[1];
	*report_fd = rep[0];
	return pid;
}

/* Once the server's run is over the client has nothing left to wait for (every server-side
 * connection is closed): a report later than this will not come. */
#define LOADGEN_REPORT_MS 10000

int cb_loadgen_finish(int pid, int report_fd, cb_loadgen_report *r, char *err, size_t n)
{
	char line[256];
	size_t have = 0;
	uint64_t deadline = cb_now_ns() + (uint64_t)LOADGEN_REPORT_MS * 1000000u;
	struct pollfd pf = {.fd = report_fd, .events = POLLIN};
	for (uint64_t now; have < sizeof line - 1 && (now = cb_now_ns()) < deadline;) {
		int k = poll(&pf, 1, (int)((deadline - now) / 1000000u) + 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		ssize_t got = read(report_fd, line + have, sizeof line - 1 - have);
		if (got <= 0)
			break;
		have += (size_t)got;
		if (memchr(line, '\n', have))
			break;
	}
	line[have] = 0;
	close(report_fd);
	/* No report line: late if the deadline passed (then kill it: it would never be reaped
	 * otherwise), or it died before it wrote one (EOF), which its exit status says. */
	int late = !memchr(line, '\n', have) && cb_now_ns() >= deadline;
	if (!memchr(line, '\n', have))
		kill(pid, SIGKILL);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	memset(r, 0, sizeof *r);
	if (late)
		return snprintf(err, n, "load generator gave no report within %d ms; killed",
				LOADGEN_REPORT_MS), -1;
	if (sscanf(line, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
		   &r->requests, &r->errors, &r->bytes, &r->p50_ns, &r->p99_ns, &r->max_ns,
		   &r->elapsed_ns) != 7)
		return snprintf(err, n, "load generator gave no report (%s %d)",
				WIFSIGNALED(st) ? "killed by signal" : "exit status",
				WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st)), -1;
	/* Its exit status says whether every echo was right; one that failed otherwise after
	 * reporting (a signal, a lost write) counts as a missing echo. */
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) && !r->errors)
		r->errors = 1;
	return 0;
}
