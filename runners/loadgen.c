/* loadgen.c: the echo load generator, a separate process (bench loadgen) so that the server
 * under test never shares a scheduler with its client.
 *
 * Closed loop (--rate 0): each connection sends one message, waits for the whole echo,
 * checks every byte, records the round trip, and sends the next. Open loop (--rate R): a
 * schedule of R requests/s over all connections (constant or exponential inter-arrival
 * times), dealt out round-robin so every connection gets the same share; each request is
 * sent at its intended time whether or not earlier echoes came back (echoes come back in
 * order, so a connection pipelines), and its latency runs from the intended time, not the
 * actual send (wrk2's correction of coordinated omission): a server that stalls 50 ms
 * makes every request due in those 50 ms wait, and the percentiles show it. How late the
 * generator itself sent (send lag) is measured too: a point where it could not keep its
 * schedule says so (CB_BEHIND_*), so that it is not read as the server's latency.
 *
 * It runs for a count of messages per connection, or for a steady-state window: --warmup-ms
 * after the server's first echo (its start-up is not the window's), --duration-ms long;
 * only what happens in the window is counted (round
 * trips completed in it; latencies of requests due in it, or completed in it in closed
 * loop), over the window's own length, the same clock for every server and twin. After the
 * window no new request is sent; what is in flight is awaited, then the connections close.
 * The report counts the round trips that came back intact (requests), the echoes that came
 * back wrong or not at all (errors) and all bytes sent: a server that echoes as many bytes
 * as it got, but not the right ones, cannot pass for a good one.
 * All connections are opened first; then it reports "R" and waits for a byte on the go
 * fd, so that the server's timed run does not include the client's start-up. One
 * thread and epoll: a load generator that needed threads would compete with the server for
 * the same cores. Works against any echo server on 127.0.0.1. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
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

/* Open loop: how long in-flight requests are awaited after the window before they count
 * as missing. A server past its peak works off its queue well within this; fork at 100
 * connections and 2 workers reaches its last connections only as the first ones close
 * (about 5 s on the shared 2-CPU box). */
#define DRAIN_MS 20000
#define READ_BUF (64 * 1024) /* a read may hold several pipelined echoes */
#define MAX_IN_FLIGHT 4096   /* requests due and unanswered per connection (open loop) */

typedef struct lg_conn {
	int fd;
	uint64_t due;         /* messages due so far (scheduled; closed loop: sent + 1 when idle) */
	uint64_t sent;        /* messages fully sent */
	uint64_t recvd;       /* echoes fully received */
	size_t out_off;       /* bytes of message `sent` written */
	size_t in_off;        /* bytes of echo `recvd` received */
	uint64_t *when;       /* intended send time of message k at when[k & (cap - 1)] */
	uint64_t cap;         /* a power of two > due - recvd */
	int done, want_out;
	int bad;              /* a byte of the current echo differed from what was sent */
} lg_conn;

typedef struct lg {
	const cb_loadgen_opts *o;
	lg_conn *cs;
	int ep;
	uint8_t *out, *want;
	uint64_t ws, we;      /* the window [ws, we); count mode: [start, end of time) */
	uint64_t up_at;       /* when the first echo came back (0: not yet) */
	uint64_t requests, errors, bytes, sent_in_window;
	cb_hist *lat, *lag;
	int active;
} lg;

static uint8_t pattern(int conn, uint64_t msg, size_t j)
{
	return (uint8_t)((unsigned)conn * 131u + (unsigned)msg * 7u + (unsigned)j);
}

static void fill(uint8_t *buf, int conn, uint64_t msg, size_t len)
{
	for (size_t j = 0; j < len; j++)
		buf[j] = pattern(conn, msg, j);
}

static int in_window(const lg *g, uint64_t t) { return t >= g->ws && t < g->we; }

static void set_events(lg *g, int i, int out)
{
	lg_conn *c = &g->cs[i];
	if (c->want_out == out)
		return;
	c->want_out = out;
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = (uint32_t)i};
	epoll_ctl(g->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_close(lg *g, lg_conn *c)
{
	c->done = 1;
	g->active--;
	close(c->fd);
}

/* Message `due` of connection c becomes due at time t. */
static void push_due(lg_conn *c, uint64_t t)
{
	if (c->due - c->recvd == c->cap) { /* full: double, keeping indices k & (cap - 1) */
		uint64_t ncap = c->cap * 2, *nw = malloc(ncap * sizeof *nw);
		if (!nw) {
			fprintf(stderr, "bench loadgen: out of memory for in-flight requests\n");
			exit(1);
		}
		for (uint64_t k = c->recvd; k < c->due; k++)
			nw[k & (ncap - 1)] = c->when[k & (c->cap - 1)];
		free(c->when);
		c->when = nw, c->cap = ncap;
	}
	c->when[c->due & (c->cap - 1)] = t;
	c->due++;
}

/* Write what is due on connection i, as far as the socket takes it. */
static void send_due(lg *g, int i)
{
	lg_conn *c = &g->cs[i];
	size_t msg = (size_t)g->o->msg;
	while (c->sent < c->due) {
		fill(g->out, i, c->sent, msg);
		ssize_t w = write(c->fd, g->out + c->out_off, msg - c->out_off);
		if (w <= 0)
			break; /* EAGAIN: EPOLLOUT resumes; an error shows as EOF on the read side */
		c->out_off += (size_t)w;
		g->bytes += (uint64_t)w;
		if (c->out_off < msg)
			break;
		uint64_t t = c->when[c->sent & (c->cap - 1)];
		if (g->o->rate && in_window(g, t)) {
			cb_hist_add(g->lag, cb_now_ns() - t);
			g->sent_in_window++;
		} else if (!g->o->rate && in_window(g, t))
			g->sent_in_window++;
		c->sent++;
		c->out_off = 0;
	}
	set_events(g, i, c->sent < c->due);
}

/* An echo completed at now: record it; closed loop: send the next or finish. */
static void echo_done(lg *g, int i, uint64_t now)
{
	lg_conn *c = &g->cs[i];
	const cb_loadgen_opts *o = g->o;
	uint64_t t = c->when[c->recvd & (c->cap - 1)];
	if (!g->up_at)
		g->up_at = now;
	/* Open loop: the latency of a request due in the window, from its intended time;
	 * closed loop: of a round trip that ended in the window. A first message sent before
	 * the server was up (t < up_at) counts in neither: its wait is the server's start-up
	 * (a twin accepting its connections one by one), not its steady state. */
	int primed = t < g->up_at && (o->duration_ms || o->rate);
	if (!primed && in_window(g, o->rate ? t : now))
		cb_hist_add(g->lat, now - t);
	if (c->bad)
		g->errors++; /* one per wrong echo, however many of its bytes differ */
	else if (!primed && in_window(g, now))
		g->requests++;
	c->bad = 0;
	c->recvd++;
	c->in_off = 0;
	if (o->rate)
		return;
	/* closed loop with a window: the clock starts below (main loop) on the first echo */
	int finished = o->duration_ms ? g->we != UINT64_MAX && now >= g->we : c->recvd >= (uint64_t)o->count;
	if (!finished) {
		push_due(c, now);
		send_due(g, i);
	}
}

static void read_echo(lg *g, int i, uint8_t *in)
{
	lg_conn *c = &g->cs[i];
	size_t msg = (size_t)g->o->msg;
	ssize_t r = read(c->fd, in, READ_BUF);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	uint64_t got = c->recvd * msg + c->in_off + (r > 0 ? (uint64_t)r : 0);
	if (r <= 0 || got > c->sent * msg + c->out_off) {
		/* The server closed or failed mid-exchange, or echoed bytes it was never sent. */
		g->errors += c->due - c->recvd > 0 ? c->due - c->recvd : 1;
		c->recvd = c->sent = c->due;
		conn_close(g, c);
		return;
	}
	uint64_t now = cb_now_ns();
	for (size_t at = 0; at < (size_t)r;) {
		size_t take = msg - c->in_off < (size_t)r - at ? msg - c->in_off : (size_t)r - at;
		fill(g->want, i, c->recvd, msg);
		c->bad |= memcmp(in + at, g->want + c->in_off, take) != 0;
		c->in_off += take;
		at += take;
		if (c->in_off == msg)
			echo_done(g, i, now);
	}
}

/* splitmix64 and an exponential inter-arrival time of mean mean_ns (Poisson arrivals). */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double exp_gap(uint64_t *s, double mean_ns)
{
	double u = ((double)(next_rand(s) >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
	return -log(u) * mean_ns;
}

static void usage(void)
{
	puts("usage: bench loadgen --port N [--conns N] [--msg BYTES] [--count N | --duration-ms N]\n"
	     "                     [--warmup-ms N] [--rate R [--arrival const|poisson]]\n"
	     "                     [--go-fd FD] [--report-fd FD]\n"
	     "Drives an echo server on 127.0.0.1:PORT with N connections. Closed loop by default\n"
	     "(each connection sends its next message when the echo is back); --rate R: open loop,\n"
	     "R requests/s over all connections at their intended times (--arrival const, the\n"
	     "default, or poisson), latency measured from the intended time. --duration-ms: a\n"
	     "steady-state window of that length after --warmup-ms (default 0); only the window\n"
	     "counts. Prints one line (to --report-fd or stdout):\n"
	     "  requests errors bytes p50_ns p99_ns max_ns elapsed_ns p90_ns p999_ns sent lag_p99_ns behind\n"
	     "round trips echoed intact in the window, echoes wrong or missing, bytes sent, latency\n"
	     "percentiles, the window's length, requests sent in it, the send lag's p99 and why the\n"
	     "point is not the server's latency (bits: 1 achieved < 95% of --rate, 2 send lag p99\n"
	     "> 1 ms; 0 = on schedule). Exit status 1 if any echo was wrong or missing.");
}

int cb_loadgen_main(int argc, char **argv)
{
	cb_loadgen_opts o = {.conns = 1, .msg = 64, .count = 1000};
	int go_fd = -1, rep_fd = 1;
	static const struct option opts[] = {
		{"port", 1, 0, 'p'}, {"conns", 1, 0, 'c'}, {"msg", 1, 0, 'm'},
		{"count", 1, 0, 'n'}, {"duration-ms", 1, 0, 'd'}, {"warmup-ms", 1, 0, 'w'},
		{"rate", 1, 0, 'R'}, {"arrival", 1, 0, 'a'}, {"go-fd", 1, 0, 'g'},
		{"report-fd", 1, 0, 'r'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int opt;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': o.port = (int)cb_num_arg("loadgen --port", optarg, 1, 65535); break;
		case 'c': o.conns = (int)cb_num_arg("loadgen --conns", optarg, 1, 100000); break;
		case 'm': o.msg = (int)cb_num_arg("loadgen --msg", optarg, 1, 1 << 24); break;
		case 'n': o.count = cb_num_arg("loadgen --count", optarg, 1, INT64_MAX / 2); break;
		case 'd': o.duration_ms = cb_num_arg("loadgen --duration-ms", optarg, 1, 86400000); break;
		case 'w': o.warmup_ms = cb_num_arg("loadgen --warmup-ms", optarg, 0, 86400000); break;
		case 'R': o.rate = cb_num_arg("loadgen --rate", optarg, 0, 1000000000); break;
		case 'a':
			if (!strcmp(optarg, "const"))
				o.arrival = CB_ARRIVAL_CONST;
			else if (!strcmp(optarg, "poisson"))
				o.arrival = CB_ARRIVAL_POISSON;
			else
				cb_usage_error("loadgen --arrival %s: expected const or poisson", optarg);
			break;
		case 'g': go_fd = (int)cb_num_arg("loadgen --go-fd", optarg, 0, 1 << 20); break;
		case 'r': rep_fd = (int)cb_num_arg("loadgen --report-fd", optarg, 0, 1 << 20); break;
		case 'h': usage(); return 0;
		case ':': cb_usage_error("loadgen: %s needs a value", argv[optind - 1]);
		default: cb_usage_error("loadgen: unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		cb_usage_error("loadgen: unexpected argument %s", argv[optind]);
	if (!o.port)
		cb_usage_error("loadgen: --port is required");
	if (o.warmup_ms && !o.duration_ms)
		cb_usage_error("loadgen: --warmup-ms needs --duration-ms (a window to warm up for)");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);

	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lg g = {.o = &o};
	g.cs = calloc((size_t)o.conns, sizeof *g.cs);
	g.out = malloc((size_t)o.msg), g.want = malloc((size_t)o.msg);
	uint8_t *in = malloc(READ_BUF);
	g.lat = malloc(sizeof *g.lat), g.lag = malloc(sizeof *g.lag);
	if (!g.cs || !g.out || !in || !g.want || !g.lat || !g.lag) {
		fprintf(stderr, "bench loadgen: out of memory\n");
		return 1;
	}
	cb_hist_init(g.lat);
	cb_hist_init(g.lag);
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.ep < 0) {
		fprintf(stderr, "bench loadgen: epoll: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < o.conns; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			fprintf(stderr, "bench loadgen: connection %d to 127.0.0.1:%d: %s\n", i, o.port,
				strerror(errno));
			return 1;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		g.cs[i].fd = fd;
		g.cs[i].cap = 16;
		g.cs[i].when = malloc(16 * sizeof *g.cs[i].when);
		if (!g.cs[i].when) {
			fprintf(stderr, "bench loadgen: out of memory\n");
			return 1;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev);
	}
	if (go_fd >= 0) {
		if (write(rep_fd, "R", 1) != 1)
			return 1;
		char b;
		if (read(go_fd, &b, 1) != 1)
			return 1; /* the cell went away before starting: nothing to measure */
	}

	/* Until the server is up (its first echo), nothing counts: a twin's runtime starts
	 * after the go byte (node: 0.1-0.5 s on a loaded box), and its start-up must not eat the
	 * window. Every connection sends one first message now; the first echo to come back
	 * starts the clock: the warm-up, the window, and in open loop the schedule. A count-sized
	 * closed loop counts everything from the go byte, as before. */
	uint64_t start = cb_now_ns();
	g.ws = UINT64_MAX, g.we = UINT64_MAX;
	if (!o.duration_ms && !o.rate)
		g.ws = start;
	g.active = o.conns;
	for (int i = 0; i < o.conns; i++) {
		push_due(&g.cs[i], start);
		send_due(&g, i);
	}
	/* The schedule (open loop): request k of all is due at next_due and goes to
	 * connection k % conns; it ends at the window's end or after count per connection. */
	uint64_t k_all = 0, seed = 1, drain_end = UINT64_MAX;
	uint64_t total = o.duration_ms ? UINT64_MAX : (uint64_t)o.count * (uint64_t)o.conns;
	double gap_ns = o.rate ? 1e9 / (double)o.rate : 0, next_due = 0;
	enum { PRIMING, SCHEDULING, OVER } phase = o.rate ? PRIMING : OVER;
	struct epoll_event evs[256];
	while (g.active > 0) {
		uint64_t now = cb_now_ns(), wake_at = 0; /* 0: no request to schedule */
		if (g.up_at && g.ws == UINT64_MAX) { /* the server just answered: start the clock */
			g.ws = g.up_at + (uint64_t)o.warmup_ms * 1000000u;
			g.we = o.duration_ms ? g.ws + (uint64_t)o.duration_ms * 1000000u : UINT64_MAX;
			if (!o.duration_ms)
				g.ws = g.up_at;
			next_due = (double)g.up_at;
			if (phase == PRIMING)
				phase = SCHEDULING;
		}
		if (phase == SCHEDULING) {
			/* A connection with MAX_IN_FLIGHT requests unanswered holds the schedule back:
			 * memory stays bounded, and the requests it delays keep their intended times
			 * (their wait counts). The window's end stops it however far behind it is:
			 * the achieved rate then says so. */
			int blocked = 0;
			if (now >= g.we)
				phase = OVER;
			while (phase == SCHEDULING && (uint64_t)next_due <= now) {
				int i = (int)(k_all % (uint64_t)o.conns);
				lg_conn *c = &g.cs[i];
				if (!c->done && c->due - c->recvd >= MAX_IN_FLIGHT) {
					blocked = 1; /* its echoes (epoll) resume the schedule */
					break;
				}
				if (!c->done) {
					push_due(c, (uint64_t)next_due);
					send_due(&g, i);
				}
				k_all++;
				next_due = o.arrival == CB_ARRIVAL_POISSON
						   ? next_due + exp_gap(&seed, gap_ns)
						   : (double)g.up_at + (double)k_all * gap_ns;
				if (k_all >= total || (uint64_t)next_due >= g.we)
					phase = OVER;
			}
			if (phase == OVER) { /* the schedule is over: idle connections close now */
				drain_end = now + (uint64_t)DRAIN_MS * 1000000u;
				for (int i = 0; i < o.conns; i++)
					if (!g.cs[i].done && g.cs[i].recvd == g.cs[i].due)
						conn_close(&g, &g.cs[i]);
				if (!g.active)
					break;
			} else if (!blocked) {
				wake_at = (uint64_t)next_due;
			}
		}
		if (now >= drain_end) { /* in flight past the drain: missing echoes */
			for (int i = 0; i < o.conns; i++)
				if (!g.cs[i].done) {
					g.errors += g.cs[i].due - g.cs[i].recvd;
					conn_close(&g, &g.cs[i]);
				}
			break;
		}
		/* The next request's time is the wait's own timeout, in nanoseconds. A timerfd
		 * re-armed for every request (and read at every expiry) took 45% of the
		 * generator's time on the 2-vCPU box, whose interrupt-enabling path is slow, and
		 * the open loop's median latency read 140-190 µs against 70 µs now (aloop at
		 * 50k requests/s). A kernel before 5.11 lacks epoll_pwait2: milliseconds,
		 * rounded up (the requests' lag says what that costs). */
		uint64_t wait_ns = wake_at ? (wake_at > now ? wake_at - now : 0) : 1000000000u;
		struct timespec ts = {.tv_sec = (time_t)(wait_ns / 1000000000u), .tv_nsec = (long)(wait_ns % 1000000000u)};
		static int no_pwait2;
		int n = no_pwait2 ? -1 : epoll_pwait2(g.ep, evs, 256, &ts, NULL);
		if (n < 0 && (no_pwait2 || errno == ENOSYS)) {
			no_pwait2 = 1;
			n = epoll_wait(g.ep, evs, 256, (int)((wait_ns + 999999u) / 1000000u));
		}
		if (n < 0 && errno != EINTR)
			break;
		for (int k = 0; k < n; k++) {
			int i = (int)evs[k].data.u32;
			lg_conn *c = &g.cs[i];
			if (c->done)
				continue;
			if (evs[k].events & EPOLLOUT)
				send_due(&g, i);
			if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				read_echo(&g, i, in);
			/* Finished: nothing more due (closed loop), or the schedule over and every
			 * echo back (open loop). */
			if (!c->done && c->recvd == c->due && phase == OVER)
				conn_close(&g, c);
		}
	}
	uint64_t elapsed = o.duration_ms && g.we != UINT64_MAX ? g.we - g.ws
			   : cb_now_ns() - (g.ws != UINT64_MAX ? g.ws : start);
	uint64_t lag99 = cb_hist_quantile(g.lag, 0.99), behind = 0;
	if (o.rate) {
		double achieved = (double)g.requests * 1e9 / (double)elapsed;
		if (achieved < CB_BEHIND_RATE_FRAC * (double)o.rate)
			behind |= CB_BEHIND_RATE;
		if (lag99 > CB_BEHIND_LAG_NS)
			behind |= CB_BEHIND_LAG;
	}
	char line[512];
	int len = snprintf(line, sizeof line,
			   "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			   " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			   g.requests, g.errors, g.bytes, cb_hist_quantile(g.lat, 0.5),
			   cb_hist_quantile(g.lat, 0.99), g.lat->max, elapsed, cb_hist_quantile(g.lat, 0.9),
			   cb_hist_quantile(g.lat, 0.999), g.sent_in_window, lag99, behind);
	if (write(rep_fd, line, (size_t)len) != len)
		return 1;
	close(g.ep);
	for (int i = 0; i < o.conns; i++)
		free(g.cs[i].when);
	free(g.cs), free(g.out), free(in), free(g.want), free(g.lat), free(g.lag);
	return g.errors ? 1 : 0;
}

int cb_loadgen_start(const cb_loadgen_opts *o, int *go_fd, int *report_fd, char *err, size_t n)
{
	int go[2], rep[2];
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0)
		return snprintf(err, n, "pipe: %s", strerror(errno)), -1;
	char a[9][32];
	snprintf(a[0], 32, "%d", o->port);
	snprintf(a[1], 32, "%d", o->conns);
	snprintf(a[2], 32, "%d", o->msg);
	snprintf(a[3], 32, "%" PRId64, o->count);
	snprintf(a[4], 32, "%" PRId64, o->duration_ms);
	snprintf(a[5], 32, "%d", go[0]);
	snprintf(a[6], 32, "%d", rep[1]);
	snprintf(a[7], 32, "%" PRId64, o->warmup_ms);
	snprintf(a[8], 32, "%" PRId64, o->rate);
	pid_t pid = fork();
	if (pid < 0)
		return snprintf(err, n, "fork: %s", strerror(errno)), -1;
	if (pid == 0) {
		if (o->pinned) {
			cpu_set_t one;
			CPU_ZERO(&one);
			CPU_SET(o->cpu, &one);
			sched_setaffinity(0, sizeof one, &one);
		}
		fcntl(go[0], F_SETFD, 0);
		fcntl(rep[1], F_SETFD, 0);
		char *argv[24] = {"bench", "loadgen", "--port", a[0], "--conns", a[1], "--msg", a[2],
				  o->duration_ms ? "--duration-ms" : "--count", o->duration_ms ? a[4] : a[3],
				  "--go-fd", a[5], "--report-fd", a[6], "--rate", a[8],
				  "--arrival", o->arrival == CB_ARRIVAL_POISSON ? "poisson" : "const"};
		int k = 18;
		if (o->duration_ms)
			argv[k++] = "--warmup-ms", argv[k++] = a[7];
		argv[k] = NULL;
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
		return snprintf(err, n, "load generator did not connect to 127.0.0.1:%d", o->port), -1;
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
	char line[512];
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
	if (sscanf(line, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
		   &r->requests, &r->errors, &r->bytes, &r->p50_ns, &r->p99_ns, &r->max_ns,
		   &r->elapsed_ns, &r->p90_ns, &r->p999_ns, &r->sent, &r->lag_p99_ns, &r->behind) != 12)
		return snprintf(err, n, "load generator gave no report (%s %d)",
				WIFSIGNALED(st) ? "killed by signal" : "exit status",
				WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st)), -1;
	/* Its exit status says whether every echo was right; one that failed otherwise after
	 * reporting (a signal, a lost write) counts as a missing echo. */
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) && !r->errors)
		r->errors = 1;
	return 0;
}

void cb_loadgen_behind_note(const cb_loadgen_report *r, int64_t rate, char *buf, size_t n)
{
	*buf = 0;
	if (!r->behind)
		return;
	double achieved = r->elapsed_ns ? (double)r->requests * 1e9 / (double)r->elapsed_ns : 0;
	snprintf(buf, n, "fell behind: achieved %.0f of %" PRId64 " req/s (%.0f%%), send lag p99 %.2f ms; "
		 "not the server's latency", achieved, rate, rate ? 100.0 * achieved / (double)rate : 0,
		 (double)r->lag_p99_ns / 1e6);
}
