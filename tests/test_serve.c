/* test_serve.c: bench serve from outside. Every backend's echo server (the C backends', the
 * Go and Node twins' for go-ref and node-ref, the Python twin's for cpython-*) is driven by bench loadgen, by an
 * independent Python-sockets client written here, and by one connection the test holds open
 * across the stop; the round trips the server reports are exactly those the clients counted,
 * the held connection sees EOF, and nothing is left running (the twin's process included).
 * go-ref and node-ref are skipped, saying so, where go or node is not installed. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "harness.h"
#include "testutil.h"

enum {
	MSG = 64,        /* message bytes: every client's and the server's --size */
	LG_CONNS = 8,    /* bench loadgen connections */
	LG_COUNT = 50,   /* round trips per loadgen connection */
	PY_CONNS = 3,    /* Python client connections, one after another */
	PY_COUNT = 40,   /* round trips per Python connection */
};

/* The independent client: plain blocking sockets, each echo checked byte for byte; prints
 * the round trips it completed. */
static const char py_client[] =
	"import socket, sys\n"
	"port, conns, count, msg = map(int, sys.argv[1:5])\n"
	"done = 0\n"
	"for c in range(conns):\n"
	"    with socket.create_connection(('127.0.0.1', port)) as s:\n"
	"        for i in range(count):\n"
	"            data = bytes((c * 131 + i + k) & 255 for k in range(msg))\n"
	"            s.sendall(data)\n"
	"            got = b''\n"
	"            while len(got) < msg:\n"
	"                part = s.recv(msg - len(got))\n"
	"                if not part:\n"
	"                    sys.exit('server closed early')\n"
	"                got += part\n"
	"            if got != data:\n"
	"                sys.exit('bad echo')\n"
	"            done += 1\n"
	"print(done)\n";

typedef struct be_name {
	char s[32];
} be_name;

/* Every backend: the C backends' echo server under the task API, the Go and Node twins'
 * servers, and io.echo's Python twin in the embedded CPython. */
ParameterizedTestParameters(serve, clients_count_what_the_server_served)
{
	static be_name names[32];
	size_t n = 0;
	for (size_t i = 0; i < cb_nbackends && n < 30; i++)
		if (cb_backends[i] && cb_backends[i]->join)
			snprintf(names[n++].s, sizeof names[0].s, "%s", cb_backends[i]->name);
	snprintf(names[n++].s, sizeof names[0].s, "go-ref");
	snprintf(names[n++].s, sizeof names[0].s, "node-ref");
	for (size_t i = 0; i < cb_nbackends && n < 32; i++)
		if (cb_backends[i] && !strncmp(cb_backends[i]->name, "cpython-", 8))
			snprintf(names[n++].s, sizeof names[0].s, "%s", cb_backends[i]->name);
	return cr_make_param_array(be_name, names, n);
}

static int connect_to(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "connect: %s", strerror(errno));
	return fd;
}

/* 240 s: one ASan run on a loaded box (load 40) took longer than 120 s for one backend. */
ParameterizedTest(be_name *bn, serve, clients_count_what_the_server_served, .timeout = 240)
{
	int go = !strcmp(bn->s, "go-ref"), node = !strcmp(bn->s, "node-ref");
	if ((go || node) && !tu_in_path(go ? "go" : "node"))
		cr_skip("%s not installed (Debian package %s): %s's serve not tested", go ? "go" : "node",
			go ? "golang-go" : "nodejs", bn->s);
	if (go)
		cr_assert_eq(tu_make_refs(), 0, "make refs built the Go twins");
	char mark[64], size_arg[16];
	snprintf(mark, sizeof mark, "CB_TEST_MARK=serve-%d", getpid());
	snprintf(size_arg, sizeof size_arg, "%d", MSG);
	int op[2];
	cr_assert_eq(pipe(op), 0);
	pid_t srv = fork();
	if (srv == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed or timed-out test leaves no server */
		putenv(mark);
		dup2(op[1], 1);
		close(op[0]);
		execl(tu_bench(), "bench", "serve", "--backend", bn->s, "--conns-max", "16", "--size",
		      size_arg, (char *)NULL);
		_exit(127);
	}
	close(op[1]);
	FILE *so = fdopen(op[0], "r");
	int port = 0;
	char line[128] = "";
	cr_assert_not_null(fgets(line, sizeof line, so), "%s: the server printed nothing", bn->s);
	cr_assert_eq(sscanf(line, "port=%d", &port), 1, "%s: the first line gives the port: %s", bn->s, line);
	cr_assert_gt(port, 0);

	char p[16], c[16], k[16], m[16], out[4096];
	snprintf(p, sizeof p, "%d", port);
	snprintf(c, sizeof c, "%d", LG_CONNS);
	snprintf(k, sizeof k, "%d", LG_COUNT);
	snprintf(m, sizeof m, "%d", MSG);
	char *lg[] = {"bench", "loadgen", "--port", p, "--conns", c, "--msg", m, "--count", k, NULL};
	cr_assert_eq(tu_exec_read(lg, 0, out, sizeof out), 0, "%s: loadgen ran", bn->s);
	unsigned long long lg_req = 0, lg_err = 1;
	cr_assert_eq(sscanf(out, "%llu %llu", &lg_req, &lg_err), 2, "loadgen report: %s", out);
	cr_assert_eq(lg_err, 0, "%s: loadgen saw bad echoes", bn->s);
	cr_assert_eq(lg_req, (unsigned long long)LG_CONNS * LG_COUNT);

	snprintf(c, sizeof c, "%d", PY_CONNS);
	snprintf(k, sizeof k, "%d", PY_COUNT);
	char *py[] = {"python3", "-c", (char *)py_client, p, c, k, m, NULL};
	cr_assert_eq(tu_exec_read(py, 0, out, sizeof out), 0, "%s: python client: %s", bn->s, out);
	unsigned long long py_rt = strtoull(out, NULL, 10);
	cr_assert_eq(py_rt, (unsigned long long)PY_CONNS * PY_COUNT);

	/* A connection still open when the stop comes: one round trip, then EOF from the server. */
	int held = connect_to(port);
	char buf[MSG];
	memset(buf, 'h', sizeof buf);
	cr_assert_eq(write(held, buf, sizeof buf), (ssize_t)sizeof buf);
	size_t got = 0;
	ssize_t r;
	while (got < sizeof buf && (r = read(held, buf + got, sizeof buf - got)) > 0)
		got += (size_t)r;
	cr_assert_eq(got, sizeof buf, "%s: the held connection's echo", bn->s);

	kill(srv, SIGTERM);
	r = read(held, buf, sizeof buf);
	cr_assert(r == 0 || (r < 0 && errno == ECONNRESET), "%s: the held connection is closed", bn->s);
	close(held);
	unsigned long long served = 0, bytes = 0, conns = 0;
	cr_assert_eq(fscanf(so, "served round_trips=%llu bytes=%llu connections=%llu", &served,
			    &bytes, &conns), 3, "%s: the last line counts what was served", bn->s);
	fclose(so);
	int st;
	waitpid(srv, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: clean exit (status %d)", bn->s, st);
	cr_assert_eq(served, lg_req + py_rt + 1, "%s: served %llu, the clients counted %llu", bn->s,
		     served, lg_req + py_rt + 1);
	cr_assert_eq(bytes, served * MSG);
	cr_assert_eq(conns, LG_CONNS + PY_CONNS + 1);
	cr_assert_eq(tu_count_marked(mark), 0, "%s: nothing of the server is left running", bn->s);
}

/* Bad input: one line, exit 2, and no server started. */
typedef struct bad_serve {
	char args[4][24];
	char want[40];
} bad_serve;

ParameterizedTestParameters(serve, bad_input_exits_2)
{
	static bad_serve cases[] = {
		{{"--backend", "nosuch"}, "unknown backend"},
		{{"--backend", "mn", "--port", "70000"}, "--port"},
		{{"--backend", "mn", "--conns-max", "0"}, "--conns-max"},
		{{"--port", "0"}, "--backend is required"},
	};
	return cr_make_param_array(bad_serve, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(bad_serve *b, serve, bad_input_exits_2, .timeout = 30)
{
	char *argv[8] = {"bench", "serve"};
	int n = 2;
	for (int i = 0; i < 4 && b->args[i][0]; i++)
		argv[n++] = b->args[i];
	argv[n] = NULL;
	char err[1024], out[256];
	int rc = tu_run(argv, err, sizeof err, out, sizeof out);
	cr_assert_eq(rc, 2, "exit 2 (got %d): %s", rc, err);
	cr_assert_not_null(strstr(err, b->want), "names the problem: %s", err);
	cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
	cr_assert_eq(out[0], 0, "nothing on stdout: %s", out);
}
