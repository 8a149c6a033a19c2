/* cli.c: the bench command: list, run, suite, loadgen. Every bad input ends in one line
 * naming the problem and exit status 2, before anything is written. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

#ifndef CB_VERSION
#define CB_VERSION "dev"
#endif

static void print_params(const cb_param_def *d, const char *indent)
{
	for (int i = 0; d && d[i].name; i++)
		printf("%s--param %s=%" PRId64 "  (%" PRId64 "..%" PRId64 ") %s\n", indent, d[i].name,
		       d[i].def, d[i].min, d[i].max, d[i].doc);
}

static int cmd_list(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		puts("usage: bench list\nLists backends and workloads, one per line, with their parameters and defaults.");
		return 0;
	}
	if (argc > 1)
		cb_usage_error("list: unexpected argument %s", argv[1]);
	puts("backends:");
	for (size_t i = 0; i < cb_nbackends; i++) {
		if (!cb_backends[i])
			continue; /* not built into this binary */
		printf("  %-16s %s\n", cb_backends[i]->name, cb_backends[i]->summary);
		print_params(cb_backends[i]->params, "      ");
	}
	puts("workloads:");
	for (size_t i = 0; cb_workloads[i]; i++) {
		const cb_workload *w = cb_workloads[i];
		if (w->hidden)
			continue;
		printf("  %-14s unit=%s  --tasks %" PRId64 " (%s)  --size %" PRId64 " (%s)  %s\n", w->name,
		       w->unit, w->tasks_def, w->tasks_doc, w->size_def, w->size_doc, w->summary);
		print_params(w->params, "      ");
		printf("      on serial: %s\n", w->serial_doc ? w->serial_doc : "runs as is");
	}
	return 0;
}

static const char run_usage[] =
	"usage: bench run --backend B --workload W [--tasks N] [--size N] [--workers N]\n"
	"                 [--reps N] [--warmup N] [--timeout SEC] [--csv FILE]\n"
	"                 [--param KEY=VALUE ...] [--run-id ID] [--quiet]\n"
	"Runs one cell in a child process under a watchdog, prints median/min/max and appends one\n"
	"CSV row per counted repetition to FILE (header written when the file is new).\n"
	"Defaults: --workers = online CPUs, --reps 5, --warmup 1, --timeout 600.\n"
	"Numbers accept k, M, G suffixes (x1000). `bench list` shows every backend, workload and\n"
	"parameter.";

static int cmd_run(int argc, char **argv)
{
	const char *bname = NULL, *wname = NULL, *csv = NULL, *run_id = NULL;
	const char *sp[64];
	int nsp = 0, quiet = 0;
	int64_t tasks = -1, size = -1, workers = -1, reps = 5, warmup = 1, timeout = 600;
	static const struct option opts[] = {
		{"backend", 1, 0, 'b'}, {"workload", 1, 0, 'w'}, {"tasks", 1, 0, 't'},
		{"size", 1, 0, 's'}, {"workers", 1, 0, 'W'}, {"reps", 1, 0, 'r'},
		{"warmup", 1, 0, 'u'}, {"timeout", 1, 0, 'T'}, {"csv", 1, 0, 'c'},
		{"param", 1, 0, 'p'}, {"run-id", 1, 0, 'i'}, {"quiet", 0, 0, 'q'},
		{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int o;
	opterr = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case 'b': bname = optarg; break;
		case 'w': wname = optarg; break;
		case 't': tasks = cb_num_arg("--tasks", optarg, 0, INT64_MAX); break;
		case 's': size = cb_num_arg("--size", optarg, 1, INT64_MAX); break;
		case 'W': workers = cb_num_arg("--workers", optarg, 1, 4096); break;
		case 'r': reps = cb_num_arg("--reps", optarg, 1, 10000); break;
		case 'u': warmup = cb_num_arg("--warmup", optarg, 0, 10000); break;
		case 'T': timeout = cb_num_arg("--timeout", optarg, 1, 7 * 86400); break;
		case 'c': csv = optarg; break;
		case 'p':
			if (nsp == 64)
				cb_usage_error("run: too many --param");
			sp[nsp++] = optarg;
			break;
		case 'i': run_id = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': puts(run_usage); return 0;
		case ':': cb_usage_error("run: %s needs a value", argv[optind - 1]);
		default: cb_usage_error("run: unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		cb_usage_error("run: unexpected argument %s", argv[optind]);
	if (!bname)
		cb_usage_error("run: --backend is required (see bench list)");
	if (!wname)
		cb_usage_error("run: --workload is required (see bench list)");
	const cb_backend *be = cb_backend_find(bname);
	if (!be)
		cb_usage_error("run: unknown backend %s (see bench list)", bname);
	const cb_workload *wl = cb_workload_find(wname);
	if (!wl)
		cb_usage_error("run: unknown workload %s (see bench list)", wname);
	cb_cell c;
	cb_cell_defaults(&c, be, wl);
	if (tasks >= 0) {
		if (tasks == 0 && !wl->tasks_zero_ok)
			cb_usage_error("run: --tasks 0: %s needs at least one task", wl->name);
		if (tasks > wl->tasks_max)
			cb_usage_error("run: --tasks %" PRId64 ": %s allows at most %" PRId64, tasks, wl->name, wl->tasks_max);
		c.tasks = tasks;
	}
	if (size > 0) {
		if (size > wl->size_max)
			cb_usage_error("run: --size %" PRId64 ": %s allows at most %" PRId64 " (%s)", size,
				       wl->name, wl->size_max, wl->size_doc);
		c.size = size;
	}
	if (workers > 0)
		c.cfg.workers = (int)workers;
	char why[300];
	for (int i = 0; i < nsp; i++)
		if (cb_cell_set_param(&c, sp[i], why, sizeof why) < 0)
			cb_usage_error("run: %s", why);
	if (wl->check && wl->check(&c, why, sizeof why))
		cb_usage_error("run: %s", why);
	if (csv && cb_csv_check_writable(csv, why, sizeof why) < 0)
		cb_usage_error("run: --csv %s: %s", csv, why);

	cb_meta meta;
	cb_meta_fill(&meta, run_id);
	cb_run_opts ro = {.reps = (int)reps, .warmup = (int)warmup, .timeout_s = timeout,
			  .csv = csv, .meta = &meta, .verbose = !quiet};
	cb_cell_signals();
	if (!quiet) {
		char params[512];
		cb_cell_params(&c, params, sizeof params);
		fprintf(stderr, "%s on %s: tasks=%" PRId64 " size=%" PRId64 " workers=%d %s\n", wl->name,
			be->name, c.tasks, c.size, c.cfg.workers, params);
	}
	cb_cell_result res;
	int rc = cb_cell_run(&c, &ro, &res);
	if (rc == 130) {
		fprintf(stderr, "bench: interrupted; rows already written are whole\n");
		return 130;
	}
	if (res.ok_rows)
		printf("%s %s: wall median %.3f ms (min %.3f, max %.3f) over %d reps; %.0f %s, %.1f ns each, %.0f %s/s\n",
		       be->name, wl->name, res.wall_med_ns / 1e6, res.wall_min_ns / 1e6,
		       res.wall_max_ns / 1e6, res.ok_rows, res.ops, wl->unit,
		       res.ops ? res.wall_med_ns / res.ops : 0,
		       res.wall_med_ns ? res.ops * 1e9 / res.wall_med_ns : 0, wl->unit);
	if (res.ok_rows != res.rows || !res.rows)
		printf("%s %s: %s: %s\n", be->name, wl->name, res.status, res.note);
	return rc;
}

static void usage(FILE *f)
{
	fputs("usage: bench <command> [options]\n"
	      "commands:\n"
	      "  list     backends and workloads with their parameters and defaults\n"
	      "  run      one cell (backend x workload x parameters); see bench run --help\n"
	      "  suite    the matrix into a results folder; see bench suite --help\n"
	      "  loadgen  the echo load generator (used by io.echo and mix.convoy)\n"
	      "options: --help, --version\n", f);
}

/* Echo servers with thousands of connections need thousands of fds: the soft limit goes up
 * to the hard one, as a server operator would set it. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int cb_main(int argc, char **argv)
{
	raise_fd_limit();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("concbench %s (%s)\n", CB_VERSION, CB_GIT_REV);
		return 0;
	}
	if (!strcmp(cmd, "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "suite"))
		return cb_suite_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "loadgen"))
		return cb_loadgen_main(argc - 1, argv + 1);
	cb_usage_error("unknown command %s (try bench --help)", cmd);
}
