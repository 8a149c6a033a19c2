/* uv_echo.c: a plain libuv TCP echo server, callbacks only, no coroutines: the baseline the
 * uv backend's io.echo is compared with (same libuv, same loop, none of our task layer).
 *
 *   build/uv_echo [--port N] [--conns N]
 *
 * Listens on 127.0.0.1:N (0 = any free port), prints "port=<n>" on stdout once listening,
 * and exits after --conns connections have come and gone (0 = serve until SIGINT/SIGTERM).
 * Drive it with `bench loadgen --port <n> ...`. Each read is echoed with uv_try_write, the
 * rest queued with uv_write (what Node's socket.write does), so the comparison with the uv
 * backend isolates the cost of running the handler as a task. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum { RBUF = 64 * 1024 };

typedef struct conn {
	uv_tcp_t tcp;
	char buf[RBUF];
} conn;

typedef struct wreq {
	uv_write_t req;
	char data[];
} wreq;

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sigint, sigterm;
static long conns_left = -1; /* connections to serve before exiting; -1: forever */

static void on_server_closed(uv_handle_t *h) { (void)h; }

static void stop_all(void)
{
	uv_close((uv_handle_t *)&server, on_server_closed);
	uv_close((uv_handle_t *)&sigint, NULL);
	uv_close((uv_handle_t *)&sigterm, NULL);
}

static void on_conn_closed(uv_handle_t *h)
{
	free(h->data);
	if (conns_left > 0 && --conns_left == 0)
		stop_all();
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)suggested;
	conn *c = h->data;
	*b = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_written(uv_write_t *req, int status)
{
	(void)status;
	free(req->data);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	if (n < 0) {
		uv_close((uv_handle_t *)s, on_conn_closed);
		return;
	}
	if (n == 0)
		return;
	uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
	int w = uv_try_write(s, &out, 1);
	if (w == n)
		return;
	if (w < 0 && w != UV_EAGAIN) {
		uv_close((uv_handle_t *)s, on_conn_closed);
		return;
	}
	size_t done = w > 0 ? (size_t)w : 0, rest = (size_t)n - done;
	wreq *r = malloc(sizeof *r + rest); /* the read buffer is reused: copy the rest */
	if (!r) {
		uv_close((uv_handle_t *)s, on_conn_closed);
		return;
	}
	memcpy(r->data, b->base + done, rest);
	r->req.data = r;
	out = uv_buf_init(r->data, (unsigned)rest);
	if (uv_write(&r->req, s, &out, 1, on_written) != 0) {
		free(r);
		uv_close((uv_handle_t *)s, on_conn_closed);
	}
}

static void on_connection(uv_stream_t *srv, int status)
{
	if (status < 0)
		return;
	conn *c = malloc(sizeof *c);
	if (!c)
		return;
	uv_tcp_init(loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0 ||
	    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
		uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_signal(uv_signal_t *h, int signum)
{
	(void)h, (void)signum;
	stop_all();
}

static void close_leftover(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, h->type == UV_TCP && h != (uv_handle_t *)&server ? on_conn_closed : NULL);
}

int main(int argc, char **argv)
{
	int port = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--conns"))
			conns_left = atol(argv[i + 1]) > 0 ? atol(argv[i + 1]) : -1;
		else {
			fprintf(stderr, "usage: %s [--port N] [--conns N]\n", argv[0]);
			return 2;
		}
	}
	loop = uv_default_loop();
	struct sockaddr_in sa;
	uv_ip4_addr("127.0.0.1", port, &sa);
	uv_tcp_init(loop, &server);
	int r = uv_tcp_bind(&server, (const struct sockaddr *)&sa, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&server, 511, on_connection);
	if (r != 0) {
		fprintf(stderr, "uv_echo: %s\n", uv_strerror(r));
		return 1;
	}
	int len = sizeof sa;
	uv_tcp_getsockname(&server, (struct sockaddr *)&sa, &len);
	printf("port=%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	uv_signal_init(loop, &sigint);
	uv_signal_start(&sigint, on_signal, SIGINT);
	uv_signal_init(loop, &sigterm);
	uv_signal_start(&sigterm, on_signal, SIGTERM);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_walk(loop, close_leftover, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	return uv_loop_close(loop) == 0 ? 0 : 1;
}
