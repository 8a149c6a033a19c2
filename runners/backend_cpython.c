/* backend_cpython.c: `cpython-threads`, `cpython-asyncio`, `cpython-mp`, the real CPython as
 * the reference the C models are checked against. They do not run the C workload: the cell's
 * Python twin (workloads/py/<workload>.py) runs in the embedded interpreter (pyembed.h) with
 * the cell's parameters, under threading, asyncio or multiprocessing (fork start method), and
 * its checksum and latencies land in the repetition exactly where the C root puts them. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pyembed.h"
#include "threads/thr.h"
#include "workload.h"

/* Append to buf (size n, used *at) with truncation detection. */
static void cpy_put(char *buf, size_t n, size_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void cpy_put(char *buf, size_t n, size_t *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(buf + *at, n - *at, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= n - *at)
		cb_abort("error", "cpython: twin arguments do not fit in %zu bytes", n);
	*at += (size_t)w;
}

/* Append the twin's key=value;... pairs as string entries (names are [a-z_0-9]; values are
 * fds, ports and paths, quoted with repr-safe escaping of ' and \). */
static void cpy_put_twin(char *buf, size_t n, size_t *at, const char *twin)
{
	const char *p = twin;
	while (*p) {
		const char *eq = strchr(p, '='), *end = strchr(p, ';');
		if (!end)
			end = p + strlen(p);
		if (!eq || eq > end)
			cb_abort("error", "cpython: malformed twin pair in '%s'", twin);
		cpy_put(buf, n, at, ", '%.*s': '", (int)(eq - p), p);
		for (const char *v = eq + 1; v < end; v++)
			cpy_put(buf, n, at, (*v == '\'' || *v == '\\') ? "\\%c" : "%c", *v);
		cpy_put(buf, n, at, "'");
		p = *end ? end + 1 : end;
	}
}

/* The twin's arguments as a Python dict literal: the cell's shape, the workload's params by
 * name, the backend's params by name, and what prepare() left for twins. */
static void cpy_args(const cb_backend *be, const cb_backend_cfg *cfg, const cb_rep *r, char *buf,
		     size_t n)
{
	const cb_cell *c = r->cell;
	size_t at = 0;
	cpy_put(buf, n, &at, "{'tasks': %lld, 'size': %lld, 'workers': %d",
		(long long)c->tasks, (long long)c->size, cfg->workers);
	for (int i = 0; c->wl->params && c->wl->params[i].name; i++)
		cpy_put(buf, n, &at, ", '%s': %lld", c->wl->params[i].name, (long long)c->p[i]);
	for (int i = 0; be->params && be->params[i].name; i++)
		cpy_put(buf, n, &at, ", '%s': %lld", be->params[i].name, (long long)cfg->p[i]);
	cpy_put_twin(buf, n, &at, r->twin);
	cpy_put(buf, n, &at, "}");
}

static uint64_t cpy_run(const cb_backend *be, const char *model, const cb_backend_cfg *cfg,
			void *arg, size_t len)
{
	cb_rep *r;
	if (len != sizeof r)
		cb_abort("error", "cpython: the root's argument is not a cb_rep pointer");
	memcpy(&r, arg, sizeof r);
	char args[2048];
	cpy_args(be, cfg, r, args, sizeof args);
	pyembed_result res;
	pyembed_run(r->cell->wl->name, model, args, &res);
	/* Like the other reference runtimes, the row times the program, not the start of its
	 * runtime: the first repetition of a cell also starts the interpreter. */
	r->wall_ns = res.wall_ns;
	if (res.has_ops)
		r->ops = res.ops;
	if (res.has_lat) {
		r->has_lat = 1;
		r->p50_ns = res.p50_ns;
		r->p99_ns = res.p99_ns;
		r->max_ns = res.max_ns;
	}
	if (res.note[0]) {
		size_t used = strlen(r->note);
		snprintf(r->note + used, sizeof r->note - used, "%s%s", used ? "; " : "", res.note);
	}
	return res.checksum;
}

static int64_t cpy_no_limit(const cb_backend_cfg *cfg, const char **why)
{
	(void)cfg;
	*why = NULL;
	return 0; /* the twins refuse sizes they cannot reach themselves, with a reason */
}

#define CPY_THREADS_PARAMS(X)                                                             \
	X(CPY_P_SWITCH_US, "switch_us", 5000, 1, 10 * 1000 * 1000,                        \
	  "switch interval in microseconds (sys.setswitchinterval x 1e6)")
CB_PARAMS(cpy_threads_params, CPY_THREADS_PARAMS);
static const cb_param_def cpy_no_params[] = {{NULL, 0, 0, 0, NULL}};

#define CPY_BACKEND(id, nm, model, sum, prm, limit, procs, thr, one)                          \
	static uint64_t cpy_run_##id(const cb_backend_cfg *cfg, cb_fn root, void *arg,       \
				     size_t len)                                              \
	{                                                                                     \
		(void)root; /* the Python twin stands in for the C root */                    \
		return cpy_run(&cb_backend_##id, model, cfg, arg, len);                       \
	}                                                                                     \
	const cb_backend cb_backend_##id = {                                                  \
		.name = nm, .summary = sum, .params = prm, .concurrent = 1,                   \
		.tasks_are_processes = procs, .tasks_are_threads = thr, .max_tasks = limit,   \
		.one_runner = one,                                                             \
		.run = cpy_run_##id,                                                          \
	}

extern const cb_backend cb_backend_cpython_threads, cb_backend_cpython_asyncio,
	cb_backend_cpython_mp;

CPY_BACKEND(cpython_threads, "cpython-threads", "threads",
	    "embedded CPython: the Python twin with one threading.Thread per task, under the "
	    "real GIL",
	    cpy_threads_params, cb_thr_max_tasks, 0, 1, 1);
CPY_BACKEND(cpython_asyncio, "cpython-asyncio", "asyncio",
	    "embedded CPython: the Python twin with one asyncio task per task on one event loop",
	    cpy_no_params, cpy_no_limit, 0, 0, 1);
CPY_BACKEND(cpython_mp, "cpython-mp", "mp",
	    "embedded CPython: the Python twin on a multiprocessing.Pool of `workers` processes "
	    "(fork start method)",
	    cpy_no_params, cpy_no_limit, 1, 0, 0);

/* bench serve under a cpython-* backend: io.echo's twin with tasks 0 serves on lfd until
 * stop_fd (a pipe bench serve's signal handler writes to) is readable, then ends every
 * connection; bytes echoed and connections served come back as its checksum and ops. */
int cb_cpython_serve(const cb_backend *be, int lfd, int stop_fd, int workers, uint64_t *bytes,
		     uint64_t *conns)
{
	const char *model = be == &cb_backend_cpython_threads ? "threads"
			    : be == &cb_backend_cpython_asyncio ? "asyncio" : "mp";
	char args[256];
	snprintf(args, sizeof args, "{'tasks': 0, 'size': 0, 'workers': %d, 'listen_fd': '%d', "
		 "'stop_fd': '%d'}", workers, lfd, stop_fd);
	pyembed_result res;
	pyembed_run("io.echo", model, args, &res);
	*bytes = res.checksum;
	*conns = res.has_ops ? res.ops : 0;
	return 0;
}
