/* suite.c: bench suite, the matrix of backends x workloads x parameter sets into a results
 * folder (runs.csv, machine.json). Each cell runs in its own process under a watchdog
 * (cell.c), so one crash or hang costs one row, not the run. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

/* One parameter set of a workload. flags: SWEEP runs it at workers 1..ncpu (and 2*ncpu);
 * PER_CPU makes tasks a count per online CPU (tasks x ncpu). */
typedef struct suite_set {
	const char *workload;
	int64_t tasks, size;   /* 0: the workload's default */
	const char *params;    /* "k=v;k=v" */
	int flags;             /* SWEEP, PER_CPU */
	int py;                /* 1: only the cpython-* backends, -1: all but them, 0: all */
} suite_set;
enum { SWEEP = 1, PER_CPU = 2 };

/* The interpreted twins run the same algorithms 30 to 100 times slower than C: their sets
 * (py = 1) are smaller, so that the matrix finishes, and every row says which size ran. */
#define C_ONLY -1
#define PY_ONLY 1

/* Sizes are chosen so that the slowest backend (the embedded CPython twins) finishes each
 * cell in seconds on 2 cores, and so that every chart has a sweep to draw: workers for the
 * CPU workloads, connections for echo, hogs for the mixed ones, tasks for spawn and idle. */
static const suite_set quick_sets[] = {
	{"cpu.fib", 4, 30, "", SWEEP, 0},
	{"cpu.hash", 4, 64, "native=0;rounds=2", 0, 0},
	{"cpu.hash", 4, 64, "native=1;rounds=2", 0, 0},
	{"io.sleep", 200, 20, "", 0, 0},
	{"io.echo", 10, 1024, "msgs=200", 0, 0},
	{"io.pipe", 4, 500, "", 0, 0},
	{"io.file", 4, 1024, "", 0, 0},
	{"mix.latency", 1, 30, "rounds=10", 0, C_ONLY},
	{"mix.latency", 1, 25, "rounds=20", 0, PY_ONLY},
	{"mix.convoy", 1, 64, "duration_ms=300", 0, 0},
	{"micro.spawn", 2000, 0, "", 0, 0},
	{"micro.yield", 2, 5000, "", 0, 0},
	{"micro.chan", 0, 5000, "cap=0", 0, 0},
	{"micro.chan", 0, 5000, "cap=128", 0, 0},
	{"micro.skynet", 0, 100, "", 0, 0},
	{"micro.ring", 100, 2000, "", 0, 0},
	{"micro.idle", 200, 0, "", 0, 0},
	{NULL, 0, 0, NULL, 0, 0},
};
static const suite_set full_sets[] = {
	{"cpu.fib", 8, 34, "", SWEEP, C_ONLY},
	{"cpu.fib", 8, 25, "", SWEEP, PY_ONLY},
	{"cpu.hash", 8, 256, "native=0", SWEEP, C_ONLY},
	{"cpu.hash", 8, 256, "native=1", SWEEP, C_ONLY},
	{"cpu.hash", 8, 16, "native=0", SWEEP, PY_ONLY},
	{"cpu.hash", 8, 16, "native=1", SWEEP, PY_ONLY},
	{"io.sleep", 10000, 100, "", 0, 0},
	{"io.sleep", 100000, 100, "", 0, C_ONLY},
	{"io.echo", 10, 1024, "msgs=200", 0, 0},
	{"io.echo", 100, 1024, "msgs=200", 0, 0},
	{"io.echo", 1000, 1024, "msgs=50", 0, 0},
	{"io.pipe", 8, 20000, "", 0, C_ONLY},
	{"io.pipe", 8, 2000, "", 0, PY_ONLY},
	{"io.file", 8, 4096, "", 0, 0},
	{"mix.latency", 0, 27, "rounds=400", 0, C_ONLY},
	{"mix.latency", 1, 27, "rounds=400", 0, C_ONLY},
	{"mix.latency", 2, 27, "rounds=400", 0, C_ONLY},
	{"mix.latency", 4, 27, "rounds=400", 0, C_ONLY},
	{"mix.latency", 0, 22, "rounds=40", 0, PY_ONLY},
	{"mix.latency", 1, 22, "rounds=40", 0, PY_ONLY},
	{"mix.latency", 2, 22, "rounds=40", 0, PY_ONLY},
	{"mix.convoy", 0, 64, "duration_ms=1000", 0, 0},
	{"mix.convoy", 1, 64, "duration_ms=1000", 0, 0},
	{"mix.convoy", 2, 64, "duration_ms=1000", 0, 0},
	{"micro.spawn", 1000, 0, "", 0, 0},
	{"micro.spawn", 10000, 0, "", 0, 0},
	{"micro.spawn", 100000, 0, "", 0, C_ONLY},
	{"micro.yield", 2, 200000, "", 0, C_ONLY},
	/* two tasks per worker: every yield switches, on every backend (with one task per
	 * worker an M:N scheduler's yield finds nothing else to run and returns) */
	{"micro.yield", 2, 200000, "", PER_CPU, C_ONLY},
	{"micro.yield", 2, 20000, "", 0, PY_ONLY},
	{"micro.chan", 0, 100000, "cap=0", 0, C_ONLY},
	{"micro.chan", 0, 100000, "cap=128", 0, C_ONLY},
	{"micro.chan", 0, 10000, "cap=0", 0, PY_ONLY},
	{"micro.chan", 0, 10000, "cap=128", 0, PY_ONLY},
	{"micro.skynet", 0, 10000, "", 0, 0},
	{"micro.skynet", 0, 1000000, "", 0, C_ONLY},
	{"micro.ring", 503, 100000, "", 0, C_ONLY},
	{"micro.ring", 503, 10000, "", 0, PY_ONLY},
	{"micro.idle", 1000, 0, "", 0, 0},
	{"micro.idle", 10000, 0, "", 0, 0},
	{"micro.idle", 100000, 0, "", 0, C_ONLY},
	{NULL, 0, 0, NULL, 0, 0},
};

static int in_list(const char *csv, const char *name)
{
	if (!csv)
		return 1;
	size_t n = strlen(name);
	for (const char *p = csv; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == n && !strncmp(p, name, n))
			return 1;
		p += l + (e ? 1 : 0);
	}
	return 0;
}

/* Every name of a comma list must exist: a typo must not silently shrink the matrix. */
static void check_list(const char *csv, int backends)
{
	if (!csv)
		return;
	char *copy = strdup(csv), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (backends ? !cb_backend_find(t) : !cb_workload_find(t) || cb_workload_find(t)->hidden)
			cb_usage_error("suite: unknown %s %s (see bench list)", backends ? "backend" : "workload", t);
	if (!*csv || csv[strlen(csv) - 1] == ',')
		cb_usage_error("suite: empty name in --%s %s", backends ? "backends" : "workloads", csv);
	free(copy);
}

static const char suite_usage[] =
	"usage: bench suite [--quick] [--out DIR] [--backends a,b] [--workloads x,y]\n"
	"                   [--reps N] [--timeout SEC]\n"
	"Runs the matrix, each cell in its own process under a watchdog, into DIR/runs.csv and\n"
	"DIR/machine.json (DIR defaults to results/<host>-<utc>). Progress goes to stderr.\n"
	"Defaults: all backends and workloads; --reps 5 (2 with --quick); --timeout 300 per cell\n"
	"(60 with --quick).\n"
	"Exit status: 0 done (cells not ok are rows too), 2 bad input (nothing run), 3 a row could\n"
	"not be written (disk full, file or folder removed, read-only): the run stops there and\n"
	"runs.csv holds only whole rows, 130 interrupted.";

int cb_suite_main(int argc, char **argv)
{
	int quick = 0;
	const char *out = NULL, *bl = NULL, *wlist = NULL;
	int64_t reps = -1, timeout = -1;
	static const struct option opts[] = {
		{"quick", 0, 0, 'q'}, {"out", 1, 0, 'o'}, {"backends", 1, 0, 'b'},
		{"workloads", 1, 0, 'w'}, {"reps", 1, 0, 'r'}, {"timeout", 1, 0, 'T'},
		{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int o;
	opterr = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		int64_t v;
		switch (o) {
		case 'q': quick = 1; break;
		case 'o': out = optarg; break;
		case 'b': bl = optarg; break;
		case 'w': wlist = optarg; break;
		case 'r':
		case 'T':
			if (cb_parse_int(optarg, &v) < 0)
				cb_usage_error("suite: --%s %s: not a number", o == 'r' ? "reps" : "timeout", optarg);
			if (v < 1 || v > (o == 'r' ? 1000 : 86400))
				cb_usage_error("suite: --%s %s: out of range", o == 'r' ? "reps" : "timeout", optarg);
			*(o == 'r' ? &reps : &timeout) = v;
			break;
		case 'h': puts(suite_usage); return 0;
		case ':': cb_usage_error("suite: %s needs a value", argv[optind - 1]);
		default: cb_usage_error("suite: unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		cb_usage_error("suite: unexpected argument %s", argv[optind]);
	check_list(bl, 1);
	check_list(wlist, 0);

	cb_meta meta;
	cb_meta_fill(&meta, NULL);
	char dir[1024];
	if (out)
		snprintf(dir, sizeof dir, "%s", out);
	else {
		char utc[32];
		cb_utc_now(utc, sizeof utc);
		snprintf(dir, sizeof dir, "results/%s-%s", meta.host, utc);
		mkdir("results", 0755);
	}
	const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	char why[256];
	if (cb_csv_check_text(base, sizeof meta.run_id - 1, why, sizeof why) < 0) /* the run id */
		cb_usage_error("suite: --out %s: the folder's name is the run id: %s", dir, why);
	snprintf(meta.run_id, sizeof meta.run_id, "%.127s", base);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		cb_usage_error("suite: --out %s: %s", dir, strerror(errno));
	char csv[1100], mj[1100];
	snprintf(csv, sizeof csv, "%s/runs.csv", dir);
	snprintf(mj, sizeof mj, "%s/machine.json", dir);
	if (cb_csv_check_writable(csv, why, sizeof why) < 0)
		cb_usage_error("suite: %s: %s", csv, why);

	/* Build the whole list first: the progress line needs n, and bad sets fail early. */
	const suite_set *sets = quick ? quick_sets : full_sets;
	int ncpu = cb_ncpu(), cap = 4096, n = 0;
	cb_cell *cells = calloc((size_t)cap, sizeof *cells);
	/* Cell by cell, every backend in turn: the figures a table puts side by side are
	 * measured within seconds of each other, so a slow spell of a shared machine (minutes
	 * long, on a VM) shifts them together instead of skewing one backend's ratios. */
	for (const suite_set *s = sets; s->workload; s++) {
		if (!in_list(wlist, s->workload))
			continue;
		const cb_workload *wl = cb_workload_find(s->workload);
		int wmax = s->flags & SWEEP ? ncpu * 2 : 1;
		for (int w = 1; w <= wmax; w = (w < ncpu ? w + 1 : w * 2)) {
			for (size_t b = 0; b < cb_nbackends && n < cap; b++) {
				const cb_backend *be = cb_backends[b];
				if (!be || !in_list(bl, be->name))
					continue;
				int is_py = !strncmp(be->name, "cpython-", 8);
				if ((s->py == PY_ONLY && !is_py) || (s->py == C_ONLY && is_py))
					continue;
				cb_cell *c = &cells[n];
				cb_cell_defaults(c, be, wl);
				if (s->tasks || wl->tasks_zero_ok)
					c->tasks = s->flags & PER_CPU ? s->tasks * ncpu : s->tasks;
				if (s->size)
					c->size = s->size;
				if (s->flags & SWEEP)
					c->cfg.workers = w;
				char kv[256];
				snprintf(kv, sizeof kv, "%s", s->params);
				char *save = NULL;
				for (char *t = strtok_r(kv, ";", &save); t; t = strtok_r(NULL, ";", &save))
					if (cb_cell_set_param(c, t, why, sizeof why) < 0)
						cb_usage_error("suite: built-in set for %s: %s", wl->name, why);
				n++;
			}
		}
	}
	if (!n)
		cb_usage_error("suite: no cell matches --backends/--workloads");
	/* Ctrl-C is handled from here on: machine.json runs `go version` and `node --version`,
	 * which take a moment, and an interrupt then must end the suite like any other. */
	cb_cell_signals();
	if (cb_machine_json(mj, &meta) < 0)
		cb_usage_error("suite: cannot write %s: %s", mj, strerror(errno));

	cb_run_opts ro = {.reps = (int)(reps > 0 ? reps : quick ? 2 : 5), .warmup = 1,
			  .timeout_s = timeout > 0 ? timeout : quick ? 60 : 300, .csv = csv,
			  .meta = &meta, .verbose = 0};
	uint64_t t0 = cb_now_ns();
	int bad = 0;
	for (int i = 0; i < n; i++) {
		cb_cell *c = &cells[i];
		double el = (double)(cb_now_ns() - t0) / 1e9;
		double eta = i ? el / i * (n - i) : 0;
		char params[512];
		cb_cell_params(c, params, sizeof params);
		fprintf(stderr, "[%d/%d] %-15s %-13s tasks=%" PRId64 " size=%" PRId64 " workers=%d  elapsed %.0fs  ETA %.0fs\n",
			i + 1, n, c->be->name, c->wl->name, c->tasks, c->size, c->cfg.workers, el, eta);
		cb_cell_result res;
		int rc = cb_cell_run(c, &ro, &res);
		if (rc == 130) {
			fprintf(stderr, "bench: interrupted at cell %d/%d; %s holds only whole rows\n", i + 1, n, csv);
			free(cells);
			return 130;
		}
		if (rc == CB_EXIT_LOST) { /* cb_cell_run said what and why */
			free(cells);
			return rc;
		}
		if (rc)
			bad++;
		if (strcmp(res.status, "ok"))
			fprintf(stderr, "        -> %s: %s\n", res.status, res.note);
	}
	fprintf(stderr, "done: %d cells in %.0f s (%d not ok: unsupported, errors...), results in %s\n", n,
		(double)(cb_now_ns() - t0) / 1e9, bad, dir);
	printf("%s\n", dir);
	free(cells);
	return 0;
}
