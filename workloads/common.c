/* common.c: kernels and helpers shared by workloads (see common.h). */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "harness.h"
#include "hist.h"

uint64_t wl_fib(int n)
{
	if (n < 2)
		return (uint64_t)n;
	cb_safepoint();
	return wl_fib(n - 1) + wl_fib(n - 2);
}

uint64_t wl_fib_value(int n)
{
	uint64_t a = 0, b = 1;
	for (int i = 0; i < n; i++) {
		uint64_t t = a + b;
		a = b;
		b = t;
	}
	return a;
}

/* SHA-256 (FIPS 180-4), written plainly: the point is a memory-touching CPU kernel with a
 * result anyone can check, not speed records. */
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

void wl_sha256(const uint8_t *data, size_t len, uint8_t out[32], int safepoints)
{
	uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	size_t i = 0;
	for (; i + 64 <= len; i += 64) {
		sha_block(h, data + i);
		if (safepoints && (i & 1023) == 0)
			cb_safepoint();
	}
	uint8_t last[128] = {0};
	size_t rest = len - i;
	memcpy(last, data + i, rest);
	last[rest] = 0x80;
	size_t tail = rest + 9 <= 64 ? 64 : 128;
	uint64_t bits = (uint64_t)len * 8;
	for (int k = 0; k < 8; k++)
		last[tail - 1 - k] = (uint8_t)(bits >> (8 * k));
	sha_block(h, last);
	if (tail == 128)
		sha_block(h, last + 64);
	for (int k = 0; k < 8; k++) {
		out[4 * k] = (uint8_t)(h[k] >> 24);
		out[4 * k + 1] = (uint8_t)(h[k] >> 16);
		out[4 * k + 2] = (uint8_t)(h[k] >> 8);
		out[4 * k + 3] = (uint8_t)h[k];
	}
}

void wl_fill(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15u + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
		buf[i] = (uint8_t)x;
	}
}

int wl_listen(int backlog, int *port, char *err, size_t n)
{
	*port = 0;
	return wl_listen_on(backlog, port, err, n);
}

int wl_listen_on(int backlog, int *port, char *err, size_t n)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return snprintf(err, n, "socket: %s", strerror(errno)), -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never beyond this machine */
	socklen_t sl = sizeof sa;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, backlog) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		snprintf(err, n, "listen on 127.0.0.1:%d: %s", *port, strerror(errno));
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

int64_t wl_somaxconn(void)
{
	FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
	long long v = 4096;
	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = 4096;
		fclose(f);
	}
	return v;
}

void wl_rep_latency(cb_rep *r, const cb_hist *h)
{
	r->has_lat = h->count > 0;
	r->p50_ns = cb_hist_quantile(h, 0.5);
	r->p99_ns = cb_hist_quantile(h, 0.99);
	r->max_ns = h->max;
}

ssize_t wl_read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = cb_read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -1 : (ssize_t)got;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

ssize_t wl_write_full(int fd, const void *buf, size_t n)
{
	size_t put = 0;
	while (put < n) {
		ssize_t r = cb_write(fd, (const char *)buf + put, n - put);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		put += (size_t)r;
	}
	return (ssize_t)put;
}

uint64_t wl_echo_fd(int fd, const wl_echo_fault *fault)
{
	/* Heap, not stack: tasks of M:N and event-loop backends run on small stacks. */
	enum { BUF = 16384 };
	char *buf = malloc(BUF);
	if (!buf)
		cb_abort("error", "echo: out of memory");
	uint64_t bytes = 0;
	for (;;) {
		ssize_t r = cb_read(fd, buf, BUF);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* EOF: the client is done (a reset counts as done: bytes tell) */
		if (fault && fault->flip)
			buf[0] ^= 1;
		if (wl_write_full(fd, buf, (size_t)r) < 0)
			break;
		bytes += (uint64_t)r;
		if (fault && fault->quit_after_one)
			break;
	}
	free(buf);
	cb_close(fd);
	return bytes;
}

uint64_t wl_echo_task(void *arg, size_t len)
{
	(void)len;
	int fd;
	memcpy(&fd, arg, sizeof fd);
	return wl_echo_fd(fd, NULL);
}

int wl_served_start(cb_rep *r, const cb_loadgen_opts *o, char *err, size_t n)
{
	cb_loadgen_opts lo = *o;
	wl_served *s = calloc(1, sizeof *s);
	if (!s)
		return snprintf(err, n, "out of memory"), -1;
	s->lfd = wl_listen(lo.conns + 64, &s->port, err, n);
	if (s->lfd < 0) {
		free(s);
		return -1;
	}
	lo.port = s->port;
	int cpu = cb_split_client_cpu(r->cell->cfg.workers);
	lo.pinned = cpu >= 0, lo.cpu = cpu;
	s->client_cpu = cpu;
	s->pid = cb_loadgen_start(&lo, &s->go_fd, &s->report_fd, err, n);
	if (s->pid < 0) {
		close(s->lfd);
		free(s);
		return -1;
	}
	s->windowed = lo.duration_ms > 0;
	s->rate = lo.rate;
	r->priv = s;
	snprintf(r->twin, sizeof r->twin, "listen_fd=%d;go_fd=%d;port=%d", s->lfd, s->go_fd, s->port);
	return 0;
}

void wl_served_stop(cb_rep *r)
{
	wl_served *s = r->priv;
	if (!s)
		return;
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->go_fd >= 0)
		close(s->go_fd);
	if (s->report_fd >= 0)
		close(s->report_fd);
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	free(s);
	r->priv = NULL;
}

void wl_served_go(const wl_served *s)
{
	if (cb_write(s->go_fd, "G", 1) != 1)
		cb_abort("error", "cannot start the load generator: %s", strerror(errno));
}

int wl_served_accept(const wl_served *s)
{
	int fd;
	while ((fd = cb_accept(s->lfd)) < 0 && errno == EINTR)
		;
	if (fd < 0)
		cb_abort("error", "accept: %s", strerror(errno));
	return fd;
}

uint64_t wl_spawn_sum(cb_fn fn, const void *arg, size_t len, int64_t n)
{
	cb_task **t = malloc((size_t)(n ? n : 1) * sizeof *t);
	if (!t)
		cb_abort("unsupported", "cannot allocate %lld task handles", (long long)n);
	for (int64_t i = 0; i < n; i++)
		t[i] = cb_spawn(fn, arg, len);
	uint64_t sum = 0;
	for (int64_t i = 0; i < n; i++)
		sum += cb_join(t[i]);
	free(t);
	return sum;
}

int wl_served_report(cb_rep *r, cb_loadgen_report *lg, char *err, size_t n)
{
	wl_served *s = r->priv;
	int rc = cb_loadgen_finish(s->pid, s->report_fd, lg, err, n);
	s->pid = -1;
	s->report_fd = -1;
	if (rc < 0)
		return -1;
	r->ops = lg->requests;
	r->has_lat = 1;
	r->p50_ns = lg->p50_ns;
	r->p99_ns = lg->p99_ns;
	r->max_ns = lg->max_ns;
	r->has_p90 = 1;
	r->p90_ns = lg->p90_ns;
	r->p999_ns = lg->p999_ns;
	/* A window's requests/s is the load generator's own count over its own window (the
	 * same clock for every backend and twin); a count-sized run keeps ops / wall. */
	if (s->windowed && lg->elapsed_ns)
		r->rate = (double)lg->requests * 1e9 / (double)lg->elapsed_ns;
	if (lg->errors)
		snprintf(r->note, sizeof r->note, "client saw %llu bad or missing echoes",
			 (unsigned long long)lg->errors);
	else if (lg->behind)
		cb_loadgen_behind_note(lg, s->rate, r->note, sizeof r->note);
	if (s->client_cpu >= 0) {
		size_t k = strlen(r->note);
		snprintf(r->note + k, sizeof r->note - k, "%sload generator alone on CPU %d",
			 k ? "; " : "", s->client_cpu);
	}
	return 0;
}
