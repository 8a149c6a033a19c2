/* test_e2e.c: the bench command from outside: every (backend, workload) pair of the smoke
 * matrix gives rows that are ok with the checksum verified, or unsupported with a reason;
 * bad input exits 2 with one line and writes nothing; a crash or hang becomes a row. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "testutil.h"
#include "util.h"

static char tmpdir[64];
static void mk_tmp(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/cbe2e-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}
static void rm_tmp(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	cr_expect_eq(system(cmd), 0);
}

/* One Criterion test per backend built into this binary. Parameters are copied into the
 * test's process, which may not share our addresses: names travel by value. */
typedef struct be_name {
	char s[32];
} be_name;

ParameterizedTestParameters(e2e, quick_matrix)
{
	static be_name names[32];
	size_t n = 0;
	for (size_t i = 0; i < cb_nbackends && n < 32; i++)
		if (cb_backends[i])
			snprintf(names[n++].s, sizeof names[0].s, "%s", cb_backends[i]->name);
	return cr_make_param_array(be_name, names, n);
}

/* mn's row note says how often the repetition preempted (backend_mn.c). mix.latency's hog
 * runs past the 10 ms preemption slice, so a build that preempts must have preempted; one
 * that must not (TSan: `make test-tsan` sets CB_EXPECT_PREEMPT=0) must say it is off, so a
 * sanitizer build that silently never preempts fails either way. */
static void check_preemptions(const char *note)
{
	const char *e = getenv("CB_EXPECT_PREEMPT");
	if (e && !strcmp(e, "0")) {
		cr_assert_not_null(strstr(note, "preemption off"), "mn mix.latency: preemption expected off: %s", note);
		return;
	}
	const char *p = strstr(note, "preemptions=");
	cr_assert_not_null(p, "mn mix.latency: no preemption count: %s", note);
	cr_assert_gt(strtoll(p + strlen("preemptions="), NULL, 10), 0, "mn mix.latency: the hog was never preempted: %s", note);
}

ParameterizedTest(be_name *bn, e2e, quick_matrix, .timeout = 400, .init = mk_tmp, .fini = rm_tmp)
{
	const char *nm = bn->s;
	const char **name = &nm;
	char out[256], err[65536], so[4096];
	snprintf(out, sizeof out, "%s/run", tmpdir);
	char *argv[] = {"bench", "suite", "--smoke", "--reps", "1", "--min-time", "0", "--timeout", "60", "--out", out,
			"--backends", (char *)*name, NULL};
	int rc = tu_run(argv, err, sizeof err, so, sizeof so);
	cr_assert_eq(rc, 0, "suite failed (%d): %s", rc, err);
	char path[300];
	snprintf(path, sizeof path, "%s/machine.json", out);
	cr_assert_eq(access(path, R_OK), 0, "machine.json written");
	snprintf(path, sizeof path, "%s/runs.csv", out);
	char *csv = tu_slurp(path);
	cr_assert_not_null(csv);
	const char *p = csv;
	char store[8192], *f[CB_NCOLUMNS + 1];
	cr_assert_eq(tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1), CB_NCOLUMNS, "header");
	int rows = 0, ok = 0, latency_rows = 0;
	char seen[64][32];
	int nseen = 0;
	int nf;
	while ((nf = tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1)) > 0) {
		cr_assert_eq(nf, CB_NCOLUMNS, "row %d has %d fields", rows, nf);
		rows++;
		cr_assert_str_eq(f[CB_COL_backend], *name);
		const char *st = f[CB_COL_status], *note = f[CB_COL_note];
		if (!strcmp(st, "ok")) {
			ok++;
			cr_assert_neq(f[CB_COL_checksum][0], 0, "ok row carries its checksum");
			cr_assert_neq(f[CB_COL_wall_ns][0], 0, "ok row carries its wall time");
		} else
			cr_assert(!strcmp(st, "unsupported") && *note, "%s %s: status %s: %s", *name, f[CB_COL_workload], st, note);
		if (!strcmp(*name, "mn") && !strcmp(f[CB_COL_workload], "mix.latency") && !strcmp(st, "ok")) {
			check_preemptions(note);
			latency_rows++;
		}
		int dup = 0;
		for (int i = 0; i < nseen; i++)
			dup |= !strcmp(seen[i], f[CB_COL_workload]);
		if (!dup && nseen < 64)
			snprintf(seen[nseen++], 32, "%s", f[CB_COL_workload]);
	}
	cr_assert_geq(nseen, 14, "every workload has a row (%d seen)", nseen);
	if (!strcmp(*name, "mn"))
		cr_assert_gt(latency_rows, 0, "mn ran mix.latency (its hog is what preemption is checked on)");
	/* Reference runtimes may be missing here (no go, no node): all unsupported is right. */
	if (!strstr(*name, "-ref"))
		cr_assert_gt(ok, 0);
	free(csv);
}

/* ---- bad input ------------------------------------------------------------------------ */

typedef struct bad_case {
	const char *args[16];
	const char *says; /* a word the error line must contain */
} bad_case;
/* The same, by value, as Criterion hands parameters to the test's process. */
typedef struct bad_param {
	char args[16][64];
	char says[64];
} bad_param;

static const bad_case bad[] = {
	{{"frobnicate"}, "frobnicate"},
	{{"run"}, "--backend"},
	{{"run", "--backend", "threads"}, "--workload"},
	{{"run", "--backend", "nope", "--workload", "cpu.fib"}, "nope"},
	{{"run", "--backend", "threads", "--workload", "cpu.nope"}, "cpu.nope"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--tasks", "abc"}, "abc"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--tasks", "-4"}, "-4"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--tasks", "0"}, "--tasks"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--size", "99"}, "--size"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--size", "1.5"}, "1.5"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--workers", "0"}, "--workers"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--workers", "99999999"}, "--workers"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--reps", "0"}, "--reps"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--timeout", "0"}, "--timeout"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--tasks"}, "--tasks"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--bogus"}, "--bogus"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "extra"}, "extra"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--round", "2"}, "--seed"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--seed", "2"}, "--round"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--round", "0", "--seed", "2"}, "--round"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--param", "x=1"}, "x"},
	{{"run", "--backend", "threads", "--workload", "micro.chan", "--param", "cap=-1"}, "cap"},
	{{"run", "--backend", "threads", "--workload", "micro.chan", "--param", "cap"}, "KEY=VALUE"},
	{{"run", "--backend", "threads", "--workload", "micro.chan", "--param", "cap=1e3"}, "cap"},
	{{"run", "--backend", "threads", "--workload", "micro.skynet", "--size", "999"}, "power"},
	{{"run", "--backend", "threads", "--workload", "micro.ring", "--tasks", "1"}, "ring"},
	{{"run", "--backend", "threads", "--workload", "cpu.hash", "--tasks", "100000", "--size", "1000000"}, "GiB"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--csv", "/nonexistent/dir/x.csv"}, "/nonexistent"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--csv", "/proc/version"}, "/proc/version"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--csv", "/tmp"}, "directory"},
	{{"run", "--backend", "threads", "--workload", "cpu.fib", "--tasks", "99999999999999999999"}, "--tasks"},
	{{"suite", "--backends", "threads,nope"}, "nope"},
	{{"suite", "--workloads", "cpu.fib,"}, "empty"},
	{{"suite", "--reps", "x"}, "--reps"},
	{{"suite", "--frob"}, "--frob"},
	{{"suite", "--out", "/nonexistent/deeper/run"}, "/nonexistent"},
	{{"list", "extra"}, "extra"},
	{{"loadgen"}, "--port"},
	{{"loadgen", "--port", "70000"}, "70000"},
	{{"loadgen", "--port", "80", "--conns", "zero"}, "zero"},
};

ParameterizedTestParameters(badinput, exits_2_with_one_line)
{
	static bad_param ps[sizeof bad / sizeof *bad];
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		for (int k = 0; bad[i].args[k]; k++)
			snprintf(ps[i].args[k], 64, "%s", bad[i].args[k]);
		snprintf(ps[i].says, 64, "%s", bad[i].says);
	}
	return cr_make_param_array(bad_param, ps, sizeof bad / sizeof *bad);
}

ParameterizedTest(bad_param *bp, badinput, exits_2_with_one_line, .timeout = 30, .init = mk_tmp, .fini = rm_tmp)
{
	bad_case c = {.says = bp->says}, *bc = &c;
	for (int k = 0; k < 16 && bp->args[k][0]; k++)
		c.args[k] = bp->args[k];
	char *argv[24];
	int n = 0;
	argv[n++] = "bench";
	for (int i = 0; bc->args[i]; i++)
		argv[n++] = (char *)bc->args[i];
	/* Every case also asks for a CSV in a fresh folder: none may appear. */
	char csv[128];
	snprintf(csv, sizeof csv, "%s/out.csv", tmpdir);
	int has_csv = 0;
	for (int i = 0; bc->args[i]; i++)
		has_csv |= !strcmp(bc->args[i], "--csv");
	if (!strcmp(bc->args[0], "run") && !has_csv) {
		argv[n++] = "--csv";
		argv[n++] = csv;
	}
	argv[n] = NULL;
	char err[4096];
	int rc = tu_run(argv, err, sizeof err, NULL, 0);
	cr_assert_eq(rc, 2, "%s: exit %d, stderr: %s", bc->args[0], rc, err);
	size_t len = strlen(err);
	cr_assert_gt(len, 0);
	cr_assert(strchr(err, '\n') == err + len - 1, "one line, got: %s", err);
	cr_assert(strstr(err, bc->says), "error names the problem (%s): %s", bc->says, err);
	cr_assert_eq(access(csv, F_OK), -1, "nothing written");
}

Test(cli, help_and_version, .timeout = 30)
{
	char err[4096], out[8192];
	char *v[] = {"bench", "--version", NULL};
	cr_assert_eq(tu_run(v, err, sizeof err, out, sizeof out), 0);
	cr_assert(strstr(out, "concbench"));
	const char *cmds[] = {"run", "suite", "list", "loadgen"};
	for (int i = 0; i < 4; i++) {
		char *h[] = {"bench", (char *)cmds[i], "--help", NULL};
		cr_assert_eq(tu_run(h, err, sizeof err, out, sizeof out), 0, "%s --help", cmds[i]);
		cr_assert(strstr(out, "usage"), "%s --help prints usage", cmds[i]);
	}
}

Test(cli, run_writes_whole_rows_and_header_once, .timeout = 60, .init = mk_tmp, .fini = rm_tmp)
{
	char csv[128], err[8192], out[4096];
	snprintf(csv, sizeof csv, "%s/r.csv", tmpdir);
	char *a[] = {"bench", "run", "--backend", "threads", "--workload", "cpu.fib", "--tasks", "2",
		     "--size", "20", "--reps", "3", "--csv", csv, "--quiet", NULL};
	cr_assert_eq(tu_run(a, err, sizeof err, out, sizeof out), 0, "%s", err);
	cr_assert_eq(tu_run(a, err, sizeof err, out, sizeof out), 0, "%s", err);
	char *s = tu_slurp(csv);
	const char *p = s;
	char store[8192], *f[CB_NCOLUMNS + 1];
	int rows = -1;
	while (tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1) > 0) {
		rows++;
		if (rows > 0) {
			cr_assert_str_eq(f[CB_COL_status], "ok");
			cr_assert_str_eq(f[CB_COL_checksum], "13530"); /* 2 x fib(20) */
			cr_assert(strstr(f[CB_COL_params], "stack_kb=0"), "params list backend params: %s", f[CB_COL_params]);
		}
	}
	cr_assert_eq(rows, 6, "header once, 3 rows per run");
	cr_assert(strstr(out, "median"), "summary printed: %s", out);
	free(s);
}

static int count_rows(const char *csv, const char *status, char *note, size_t n)
{
	char *s = tu_slurp(csv);
	if (!s)
		return -1;
	const char *p = s;
	char store[8192], *f[CB_NCOLUMNS + 1];
	int rows = 0;
	tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1);
	while (tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1) == CB_NCOLUMNS) {
		if (!strcmp(f[CB_COL_status], status))
			rows++;
		snprintf(note, n, "%s", f[CB_COL_note]);
	}
	free(s);
	return rows;
}

Test(faults, crash_becomes_a_row_naming_the_signal, .timeout = 60, .init = mk_tmp, .fini = rm_tmp)
{
	char csv[128], err[8192], note[600];
	snprintf(csv, sizeof csv, "%s/c.csv", tmpdir);
	char *a[] = {"bench", "run", "--backend", "threads", "--workload", "test.crash", "--csv", csv,
		     "--quiet", NULL};
	cr_assert_eq(tu_run(a, err, sizeof err, NULL, 0), 1);
	cr_assert_eq(count_rows(csv, "crash", note, sizeof note), 1);
	/* SIGSEGV, or SIGABRT when a sanitizer reports the fault first */
	cr_assert(strstr(note, "signal 11") || strstr(note, "signal 6"), "%s", note);
}

Test(faults, hang_becomes_a_timeout_row, .timeout = 60, .init = mk_tmp, .fini = rm_tmp)
{
	char csv[128], err[8192], note[600];
	snprintf(csv, sizeof csv, "%s/h.csv", tmpdir);
	char *a[] = {"bench", "run", "--backend", "threads", "--workload", "test.hang", "--timeout", "2",
		     "--csv", csv, "--quiet", NULL};
	cr_assert_eq(tu_run(a, err, sizeof err, NULL, 0), 1);
	cr_assert_eq(count_rows(csv, "timeout", note, sizeof note), 1);
}

Test(faults, unsupported_size_is_a_row_with_a_reason, .timeout = 60, .init = mk_tmp, .fini = rm_tmp)
{
	char csv[128], err[8192], note[600];
	snprintf(csv, sizeof csv, "%s/u.csv", tmpdir);
	char *a[] = {"bench", "run", "--backend", "threads", "--workload", "micro.skynet", "--csv", csv,
		     "--quiet", NULL};
	cr_assert_eq(tu_run(a, err, sizeof err, NULL, 0), 1);
	cr_assert_eq(count_rows(csv, "unsupported", note, sizeof note), 1);
	cr_assert(strstr(note, "1111112 tasks"), "reason names the need: %s", note);
}

/* The suite measures a round group (a set at every worker count, the serial baseline once)
 * in rounds: round r runs every cell of the group once, in the order the group's seed
 * shuffles, then round r+1, so that each speedup pairs a serial row and a parallel row of
 * the same round. Rows carry their round and the group's seed, and the noise of the box. */
Test(cli, suite_runs_rounds_with_every_backend_once_per_round, .timeout = 240, .init = mk_tmp,
     .fini = rm_tmp)
{
	enum { ROUNDS = 3, MAXM = 64 };
	char out[256], err[8192], so[4096];
	snprintf(out, sizeof out, "%s/order", tmpdir);
	char *a[] = {"bench", "suite", "--smoke", "--reps", "3", "--seed", "11", "--min-time", "1",
		     "--out", out, "--backends", "serial,threads,mn", "--workloads", "cpu.fib", NULL};
	cr_assert_eq(tu_run(a, err, sizeof err, so, sizeof so), 0, "%s", err);
	/* the group's members in plan order: serial at 1 worker only, threads and mn at each */
	char member[MAXM][32];
	int ws[64], nw = cb_suite_sweep(cb_ncpu(), ws, 64), nm = 0, follows[MAXM];
	for (int g = 0; g < nw; g++)
		for (int b = ws[g] == 1 ? 0 : 1; b < 3; b++) {
			follows[nm] = g > 0; /* runs the count of its backend's 1-worker cell */
			snprintf(member[nm++], sizeof member[0], "%s:%d",
				 (const char *[]){"serial", "threads", "mn"}[b], ws[g]);
		}
	char gseed[32];
	snprintf(gseed, sizeof gseed, "%" PRIu64, cb_suite_group_seed(11, 0));
	char path[300];
	snprintf(path, sizeof path, "%s/runs.csv", out);
	char *s = tu_slurp(path);
	cr_assert_not_null(s);
	const char *p = s;
	char store[8192], *f[CB_NCOLUMNS + 1], seq[4096] = "";
	int seen[ROUNDS + 1][MAXM] = {{0}};
	tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1);
	int psi = access("/proc/pressure/cpu", R_OK) == 0, rows = 0;
	while (tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1) == CB_NCOLUMNS) {
		char me[64];
		snprintf(me, sizeof me, "%s:%s", f[CB_COL_backend], f[CB_COL_workers]);
		size_t k = strlen(seq);
		snprintf(seq + k, sizeof seq - k, "%s:%s ", me, f[CB_COL_round]);
		int r = atoi(f[CB_COL_round]), m = 0;
		while (m < nm && strcmp(member[m], me))
			m++;
		cr_assert_lt(m, nm, "%s is no member of the group", me);
		cr_assert(r >= 1 && r <= ROUNDS, "round %s", f[CB_COL_round]);
		seen[r][m]++;
		cr_assert_str_eq(f[CB_COL_status], "ok", "%s", f[CB_COL_note]);
		cr_assert_str_eq(f[CB_COL_seed], gseed, "every row carries its group's seed");
		cr_assert_eq(atoi(f[CB_COL_rep]), r - 1, "rep = round - 1");
		char *end;
		strtoull(f[CB_COL_steal_ns], &end, 10);
		cr_assert(*f[CB_COL_steal_ns] && !*end, "steal_ns %s", f[CB_COL_steal_ns]);
		cr_assert_eq(*f[CB_COL_psi_cpu_us] != 0, psi, "psi_cpu_us '%s'", f[CB_COL_psi_cpu_us]);
		strtod(f[CB_COL_loadavg1], &end);
		cr_assert(*f[CB_COL_loadavg1] && !*end, "loadavg1 %s", f[CB_COL_loadavg1]);
		rows++;
	}
	/* rounds 1..R, every member once in each */
	for (int r = 1; r <= ROUNDS; r++)
		for (int m = 0; m < nm; m++)
			cr_assert_eq(seen[r][m], 1, "%s ran %d times in round %d", member[m], seen[r][m], r);
	cr_assert_eq(rows, nm * ROUNDS);
	/* the expected sequence: round by round, the group seed's order inside each; in round 1
	 * the 1-worker cells first (they calibrate the count the others then run) */
	char want[4096] = "";
	int shuffled = 0;
	for (int r = 1; r <= ROUNDS; r++) {
		int order[MAXM];
		cb_suite_order(cb_suite_group_seed(11, 0), r, order, nm);
		for (int pass = 0; pass < 2; pass++)
			for (int i = 0; i < nm; i++) {
				if (r == 1 ? follows[order[i]] != pass : pass)
					continue;
				size_t k = strlen(want);
				snprintf(want + k, sizeof want - k, "%s:%d ", member[order[i]], r);
				shuffled |= order[i] != i;
			}
	}
	cr_assert_str_eq(seq, want, "got %s", seq);
	/* the seed shuffles: not every round runs in plan order */
	cr_assert(shuffled);
	free(s);
	snprintf(path, sizeof path, "%s/machine.json", out);
	s = tu_slurp(path);
	cr_assert(strstr(s, "\"seed\": 11,"), "%s", s);
	cr_assert(strstr(s, "\"noise_probe_start\": {\"runs\": 20"), "%s", s);
	cr_assert(strstr(s, "\"noise_probe_end\": {\"runs\": 20"), "%s", s);
	char usable[64];
	snprintf(usable, sizeof usable, "\"cpus_usable\": %d,", cb_ncpu());
	cr_assert(strstr(s, usable), "%s", s);
	free(s);
}

/* A speedup divides equal work: a sweep's cells at 2 and more workers run the count the
 * backend's 1-worker cell calibrated (strong scaling), not a count of their own, which on
 * 2 workers would be about twice as many rounds. */
Test(cli, suite_sweep_runs_the_one_worker_count_at_every_worker_count, .timeout = 120, .init = mk_tmp,
     .fini = rm_tmp)
{
	char out[256], err[8192], so[4096];
	snprintf(out, sizeof out, "%s/lead", tmpdir);
	char *a[] = {"bench", "suite", "--smoke", "--reps", "1", "--min-time", "60", "--out", out,
		     "--backends", "mn", "--workloads", "cpu.fib", NULL};
	cr_assert_eq(tu_run(a, err, sizeof err, so, sizeof so), 0, "%s", err);
	char path[300];
	snprintf(path, sizeof path, "%s/runs.csv", out);
	char *s = tu_slurp(path);
	cr_assert_not_null(s);
	const char *p = s;
	char store[8192], *f[CB_NCOLUMNS + 1], one[64] = "";
	int rows = 0, calibrated = 0;
	tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1);
	while (tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1) == CB_NCOLUMNS) {
		cr_assert_str_eq(f[CB_COL_status], "ok", "%s", f[CB_COL_note]);
		const char *r = strstr(f[CB_COL_params], "rounds=");
		cr_assert_not_null(r, "%s", f[CB_COL_params]);
		int w = atoi(f[CB_COL_workers]);
		if (strstr(f[CB_COL_note], "calibrated rounds=")) {
			calibrated++;
			cr_assert_eq(w, 1, "only the 1-worker cell calibrates: %s", f[CB_COL_note]);
		}
		char cnt[64];
		snprintf(cnt, sizeof cnt, "%.*s", (int)strcspn(r, ";"), r);
		if (!rows++)
			snprintf(one, sizeof one, "%s", cnt);
		cr_assert_str_eq(cnt, one, "workers=%d ran %s, the sweep's first cell %s", w, cnt, one);
	}
	cr_assert_eq(calibrated, 1);
	int ws[64];
	cr_assert_eq(rows, cb_suite_sweep(cb_ncpu(), ws, 64), "one row a worker count of the sweep");
	free(s);
}

/* Rows of csv whose backend is be, counted by round (rounds[r], r <= 8). */
static int rows_by_round(const char *csv, const char *be, int *rounds)
{
	char *s = tu_slurp(csv);
	cr_assert_not_null(s);
	const char *p = s;
	char store[8192], *f[CB_NCOLUMNS + 1];
	int n = 0;
	tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1);
	while (tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1) == CB_NCOLUMNS)
		if (!strcmp(f[CB_COL_backend], be)) {
			int r = atoi(f[CB_COL_round]);
			cr_assert(r >= 1 && r <= 8, "round %s", f[CB_COL_round]);
			rounds[r]++, n++;
		}
	free(s);
	return n;
}

/* A cell whose processes have had --cell-budget-ms stops after 3 rounds, where the others
 * go on (a budget of 1 ms: every cell is past it from round 1); with 0 every cell runs every
 * round, except a chart's cell (micro.yield: no mark reads it), which runs 3 whatever the
 * budget; machine.json records the budget. */
Test(cli, suite_stops_a_long_cell_after_three_rounds, .timeout = 240, .init = mk_tmp, .fini = rm_tmp)
{
	for (int k = 0; k < 3; k++) {
		int budget = k == 1, chart = k == 2;
		const char *wl = chart ? "micro.yield" : "micro.spawn";
		char out[256], err[8192], so[4096], path[300], ms[8];
		snprintf(out, sizeof out, "%s/budget%d-%d", tmpdir, budget, k);
		snprintf(ms, sizeof ms, "%d", budget);
		char *a[] = {"bench", "suite", "--reps", "5", "--min-time", "5", "--out", out, "--backends",
			     "mn", "--workloads", (char *)wl, "--cell-budget-ms", ms, NULL};
		cr_assert_eq(tu_run(a, err, sizeof err, so, sizeof so), 0, "%s", err);
		snprintf(path, sizeof path, "%s/runs.csv", out);
		int rounds[9] = {0}, n = rows_by_round(path, "mn", rounds);
		int cells = rounds[1];
		cr_assert_geq(cells, 2, "%s's C sets on mn: %d cells", wl, cells);
		int all = !budget && !chart;
		for (int r = 1; r <= 5; r++)
			cr_assert_eq(rounds[r], r <= 3 || all ? cells : 0, "%s, budget %d ms: %d rows in round %d",
				     wl, budget, rounds[r], r);
		cr_assert_eq(n, cells * (all ? 5 : 3));
		if (budget)
			cr_assert(strstr(err, "no more rounds: its 3 took"), "the stop is said: %s", err);
		snprintf(path, sizeof path, "%s/machine.json", out);
		char *s = tu_slurp(path), want[64];
		snprintf(want, sizeof want, "\"cell_budget_ms\": %d,", budget);
		cr_assert(s && strstr(s, want), "%s in %s", want, s);
		free(s);
	}
}

/* Run argv (a `bench run` of one repetition writing csv) and read its one row into f, the
 * fields stored in store. */
static void one_row(char *const argv[], const char *csv, char *store, size_t n, char **f)
{
	char err[8192];
	cr_assert_eq(tu_run(argv, err, sizeof err, NULL, 0), 0, "%s", err);
	char *s = tu_slurp(csv);
	cr_assert_not_null(s);
	const char *p = s;
	tu_csv_record(&p, store, n, f, CB_NCOLUMNS + 1); /* the header */
	cr_assert_eq(tu_csv_record(&p, store, n, f, CB_NCOLUMNS + 1), CB_NCOLUMNS);
	free(s); /* the fields live in store */
}

/* One row of `bench run` with --min-time: the count calibration chose, and its note. */
static void calibrated_row(const char *backend, const char *workers, const char *min_ms,
			   int64_t *rounds, int64_t *ops, char *note, size_t n)
{
	char csv[128];
	snprintf(csv, sizeof csv, "%s/cal-%s.csv", tmpdir, backend);
	char *a[] = {"bench", "run", "--backend", (char *)backend, "--workload", "cpu.fib", "--tasks", "2",
		     "--size", "12", "--workers", (char *)workers, "--min-time", (char *)min_ms, "--reps", "1",
		     "--warmup", "0", "--csv", csv, "--quiet", NULL};
	char store[8192], *f[CB_NCOLUMNS + 1];
	one_row(a, csv, store, sizeof store, f);
	cr_assert_str_eq(f[CB_COL_status], "ok", "%s", f[CB_COL_note]);
	const char *r = strstr(f[CB_COL_params], "rounds=");
	cr_assert_not_null(r, "%s", f[CB_COL_params]);
	*rounds = atoll(r + 7);
	*ops = atoll(f[CB_COL_ops]);
	snprintf(note, n, "%s", f[CB_COL_note]);
}

/* Calibration grows the workload's knob (cpu.fib: rounds of its tasks, never fewer tasks)
 * until a probe lasts --min-time, on a slow backend (the embedded CPython twin, 50x slower
 * than C and ~40 ms of thread set-up a repetition) and on fast ones (serial C, mn on two
 * workers); the row records the count. The fast backends' target is 150 ms, far above what
 * one round of fib(12) costs even with a thread start on a loaded box (42 ms seen at load
 * 100 against a 30 ms target left nothing to calibrate). */
Test(cli, calibration_reaches_the_target_slow_and_fast, .timeout = 180, .init = mk_tmp, .fini = rm_tmp)
{
	static const char *const bes[][3] = {{"cpython-threads", "1", "300"}, {"serial", "1", "150"},
					     {"mn", "2", "150"}};
	for (size_t i = 0; i < sizeof bes / sizeof *bes; i++) {
		int64_t rounds, ops;
		char note[600];
		calibrated_row(bes[i][0], bes[i][1], bes[i][2], &rounds, &ops, note, sizeof note);
		double last, target;
		const char *c = strstr(note, "calibrated rounds=");
		cr_assert_not_null(c, "%s: %s", bes[i][0], note);
		cr_assert_eq(sscanf(strstr(c, ": last "), ": last %lf ms for a target of %lf ms", &last, &target), 2,
			     "%s", note);
		cr_assert_float_eq(target, atof(bes[i][2]), 1e-9);
		cr_assert_geq(last, target, "%s: the last probe reached the target: %s", bes[i][0], note);
		cr_assert_null(strstr(note, "exhausted"), "%s", note);
		cr_assert_geq(rounds, 1);
		if (strncmp(bes[i][0], "cpython", 7)) /* C's fib(12) twice takes microseconds */
			cr_assert_gt(rounds, 1, "%s: %s", bes[i][0], note);
		cr_assert_eq(ops, 2 * rounds, "%s: ops = tasks x rounds", bes[i][0]);
	}
}

/* The calibration's confirming probe, which ran the final count after a probe of it, is the
 * first repetition when the probes before it were the whole warm-up (google/benchmark reports
 * the run that reached its min_time): the first row says so and lasts the target; with a
 * warm-up of more repetitions than the probes before it, the probe is not counted. */
Test(cli, calibration_counts_its_confirming_probe_as_the_first_repetition, .timeout = 120, .init = mk_tmp,
     .fini = rm_tmp)
{
	static const char *const warmups[] = {"1", "30"};
	for (int k = 0; k < 2; k++) {
		char csv[128], err[8192];
		snprintf(csv, sizeof csv, "%s/kept-%d.csv", tmpdir, k);
		char *a[] = {"bench", "run", "--backend", "serial", "--workload", "cpu.fib", "--tasks", "2",
			     "--size", "12", "--min-time", "120", "--reps", "2", "--warmup", (char *)warmups[k],
			     "--warmup-ms", "100", "--csv", csv, "--quiet", NULL};
		cr_assert_eq(tu_run(a, err, sizeof err, NULL, 0), 0, "%s", err);
		char *s = tu_slurp(csv);
		cr_assert_not_null(s);
		const char *p = s;
		char store[8192], *f[CB_NCOLUMNS + 1];
		tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1);
		for (int rep = 0; rep < 2; rep++) {
			cr_assert_eq(tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1), CB_NCOLUMNS);
			cr_assert_str_eq(f[CB_COL_status], "ok", "%s", f[CB_COL_note]);
			int said = strstr(f[CB_COL_note], "the last probe is this repetition") != NULL;
			cr_assert_eq(said, k == 0 && rep == 0, "warm-up %s, rep %d: %s", warmups[k], rep,
				     f[CB_COL_note]);
			if (said)
				cr_assert_geq(atoll(f[CB_COL_wall_ns]), 120000000LL, "the kept probe reached the target");
		}
		cr_assert_lt(tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1), 1, "two rows");
		free(s);
	}
}

/* More rounds of a round group by hand: bench run --round N --seed S writes rounds N, N+1, ...
 * with the group's seed, so that they pair with the suite's rows of that group. */
Test(cli, run_round_and_seed_continue_a_round_group, .timeout = 60, .init = mk_tmp, .fini = rm_tmp)
{
	char csv[128], err[8192];
	snprintf(csv, sizeof csv, "%s/r.csv", tmpdir);
	char *a[] = {"bench", "run", "--backend", "serial", "--workload", "cpu.fib", "--tasks", "2",
		     "--size", "15", "--reps", "2", "--round", "4", "--seed", "123456789012", "--csv", csv,
		     "--quiet", NULL};
	cr_assert_eq(tu_run(a, err, sizeof err, NULL, 0), 0, "%s", err);
	char *s = tu_slurp(csv);
	cr_assert_not_null(s);
	const char *p = s;
	char store[8192], *f[CB_NCOLUMNS + 1];
	tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1);
	for (int want = 4; want <= 5; want++) {
		cr_assert_eq(tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1), CB_NCOLUMNS);
		cr_assert_eq(atoi(f[CB_COL_round]), want);
		cr_assert_eq(atoi(f[CB_COL_rep]), want - 1, "rep = round - 1, as in the suite");
		cr_assert_str_eq(f[CB_COL_seed], "123456789012");
	}
	cr_assert_lt(tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1), 1, "two rows");
	free(s);
}

/* The plan follows the usable CPUs: pinned to one CPU by taskset, the suite plans for one;
 * --cpus 64 plans a 64-CPU box: cpu.fib with 4 tasks per CPU, workers 1, 2, 4, ..., 64, 128. */
Test(cli, dry_run_plans_for_the_usable_cpus, .timeout = 60)
{
	static char out[1 << 20];
	char err[4096];
	char *one[] = {"/usr/bin/taskset", "-c", "0", (char *)tu_bench(), "suite", "--dry-run", NULL};
	int fd[2];
	cr_assert_eq(pipe(fd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]), close(fd[1]);
		execv(one[0], one);
		_exit(127);
	}
	close(fd[1]);
	size_t n = 0;
	ssize_t r;
	while ((r = read(fd[0], out + n, sizeof out - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = 0;
	close(fd[0]);
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "taskset bench suite --dry-run: %d", st);
	cr_assert(strstr(out, "plan for 1 usable CPU (affinity"), "%.300s", out);
	/* no cell twice (on one CPU a set of a hog per CPU is the set of one hog): every cell
	 * line differs from every other */
	{
		static char copy[1 << 20];
		memcpy(copy, out, n + 1);
		char *ls[4096];
		int nl = 0;
		for (char *save = NULL, *t = strtok_r(copy, "\n", &save); t && nl < 4096; t = strtok_r(NULL, "\n", &save))
			if (strncmp(t, "group ", 6) && strncmp(t, "plan ", 5))
				ls[nl++] = t;
		cr_assert_gt(nl, 50);
		for (int i = 0; i < nl; i++)
			for (int j = i + 1; j < nl; j++)
				cr_assert_str_neq(ls[i], ls[j], "planned twice: %s", ls[i]);
	}
	char want[128];
	for (int w = 1; w <= 4; w *= 2) {
		snprintf(want, sizeof want, "%-13s tasks=8 workers=%d ", "cpu.fib", w);
		if (w < 4)
			cr_assert(strstr(out, want), "missing %s", want);
		else
			cr_assert_null(strstr(out, want), "one CPU: workers 1 and 2 only");
	}

	char *many[] = {"bench", "suite", "--dry-run", "--cpus", "64", NULL};
	cr_assert_eq(tu_run(many, err, sizeof err, out, sizeof out), 0, "%s", err);
	cr_assert(strstr(out, "plan for 64 usable CPUs"));
	for (int w = 1; w <= 128; w *= 2) {
		snprintf(want, sizeof want, "\n%-15s %-13s tasks=256 workers=%d size=34 ", "mn", "cpu.fib", w);
		cr_assert(strstr(out, want), "missing %s", want + 1);
	}
	cr_assert_null(strstr(out, "workers=3 "), "no worker count between the powers of two");
	/* nothing is dropped: the count line equals the cells listed */
	int lines = 0;
	for (const char *q = out; (q = strchr(q, '\n')); q++)
		lines++;
	int cells = 0;
	const char *head = strstr(out, "): ");
	cr_assert_not_null(head);
	int groups = 0;
	cr_assert_eq(sscanf(head, "): %d cells in %d round groups", &cells, &groups), 2);
	int group_lines = 0;
	for (const char *q = out; (q = strstr(q, "\ngroup ")); q++)
		group_lines++;
	cr_assert_eq(group_lines, groups);
	cr_assert_eq(lines, cells + groups + 2, "header, a line per group and per cell, count");
	/* the serial baseline runs once per sweep, at 1 worker, in the rounds of every count */
	snprintf(want, sizeof want, "\n%-15s %-13s tasks=256 workers=1 size=34 ", "serial", "cpu.fib");
	cr_assert(strstr(out, want), "missing %s", want + 1);
	snprintf(want, sizeof want, "\n%-15s %-13s tasks=256 workers=2 ", "serial", "cpu.fib");
	cr_assert_null(strstr(out, want), "serial ignores workers: once per sweep");
	/* where a task per OS thread or process is the whole cell, those backends sit out */
	for (int k = 0; k < 3; k++) {
		const char *be[] = {"threads", "gil", "fork"};
		snprintf(want, sizeof want, "\n%-15s %-13s tasks=%s ", be[k], k < 2 ? "micro.spawn" : "micro.skynet",
			 k < 2 ? "100000" : "1 workers=64 size=10000");
		cr_assert_null(strstr(out, want), "planned: %s", want + 1);
	}
	snprintf(want, sizeof want, "\n%-15s %-13s tasks=100000 ", "mn", "micro.spawn");
	cr_assert(strstr(out, want), "missing %s", want + 1);
	/* the open loop's points: the judged ones (50%, 90%) every round, the chart's 3; the
	 * server leaves the load generator a core (63 workers), as every io.echo cell does on a
	 * box this big, so no peak of its own is planned */
	int points = 0;
	for (const char *q = out; (q = strstr(q, "(rate: ")); q++, points++) {
		int pct = atoi(q + 7);
		const char *eol = strchr(q, '\n');
		const char *chart = strstr(q, "a chart's cell: 3 rounds");
		int is_chart = chart && chart < eol;
		cr_assert_eq(is_chart, pct != 50 && pct != 90, "%.120s", q);
		const char *w = strstr(q, "connections and 63 workers)");
		cr_assert(w && w < eol, "%.160s", q);
	}
	cr_assert_gt(points, 0);
	snprintf(want, sizeof want, "\n%-15s %-13s tasks=100 workers=64 ", "mn", "io.echo");
	cr_assert_null(strstr(out, want), "64 CPUs: every io.echo server leaves the generator a core");
	/* a tree of 11111 OS threads is the whole cell: the thread backends run 1111 */
	snprintf(want, sizeof want, "\n%-15s %-13s tasks=1 workers=64 size=10000 ", "gil", "micro.skynet");
	cr_assert_null(strstr(out, want), "planned: %s", want + 1);
	snprintf(want, sizeof want, "\n%-15s %-13s tasks=1 workers=64 size=1000 ", "gil", "micro.skynet");
	cr_assert(strstr(out, want), "missing %s", want + 1);

	/* 2 CPUs: the closed loops share them with the generator, the open loop and a peak of
	 * its own run the server on 1 worker and the generator on the other CPU */
	char *two[] = {"bench", "suite", "--dry-run", "--cpus", "2", NULL};
	cr_assert_eq(tu_run(two, err, sizeof err, out, sizeof out), 0, "%s", err);
	snprintf(want, sizeof want, "\n%-15s %-13s tasks=100 workers=2 size=1024 msgs=200;duration_ms=800;", "mn",
		 "io.echo");
	cr_assert(strstr(out, want), "missing %s", want + 1);
	snprintf(want, sizeof want, "\n%-15s %-13s tasks=100 workers=1 size=1024 msgs=200;duration_ms=400;"
		 "warmup_ms=100;rate=0;", "mn", "io.echo");
	const char *peak = strstr(out, want);
	cr_assert(peak, "missing %s", want + 1);
	cr_assert_neq(strchr(peak + 1, '\n')[-1], ')', "the peak is a closed loop, not a point: %.200s", peak + 1);
	const char *pt = strstr(out, "(rate: ");
	cr_assert(pt && pt > peak, "the peak runs before the sweep");
	for (const char *q = out; (q = strstr(q, "(rate: ")); q++) {
		const char *eol = strchr(q, '\n'), *w = strstr(q, "connections and 1 worker)");
		cr_assert(w && w < eol, "%.160s", q);
	}
}

/* mix.latency reports the mean wake delay beside p50/p99/max, in the Python twins' words;
 * the mean lies between 0 and the max. */
Test(cli, latency_note_has_the_mean_wake_delay, .timeout = 60, .init = mk_tmp, .fini = rm_tmp)
{
	char csv[128];
	snprintf(csv, sizeof csv, "%s/l.csv", tmpdir);
	char *a[] = {"bench", "run", "--backend", "threads", "--workload", "mix.latency", "--tasks", "1",
		     "--size", "20", "--param", "rounds=5", "--param", "min_ms=30", "--reps", "1",
		     "--warmup", "0", "--csv", csv, "--quiet", NULL};
	char store[8192], *f[CB_NCOLUMNS + 1];
	one_row(a, csv, store, sizeof store, f);
	double mean_ms = -1;
	cr_assert_eq(sscanf(f[CB_COL_note], "mean wake delay %lf ms", &mean_ms), 1, "note: %s", f[CB_COL_note]);
	double max_ms = atof(f[CB_COL_max_ns]) / 1e6; /* max_ns */
	cr_assert(mean_ms >= 0 && mean_ms <= max_ms + 0.001, "mean %.3f ms, max %.3f ms", mean_ms,
		  max_ms);
}

/* Run mn's micro.idle of 20000 tasks for reps repetitions, with `--param param` unless it
 * is NULL, and read each row's bytes_per_task into per and the last row's note into notes.
 * Returns the rows read. */
static int idle_rows(int reps, const char *param, long long *per, char *notes, size_t n)
{
	char csv[128], err[8192], nreps[8];
	snprintf(csv, sizeof csv, "%s/idle-%s.csv", tmpdir, param ? param : "default");
	snprintf(nreps, sizeof nreps, "%d", reps);
	char *a[] = {"bench", "run", "--backend", "mn", "--workload", "micro.idle", "--tasks", "20000",
		     "--reps", nreps, "--warmup", reps > 1 ? "1" : "0", "--csv", csv, "--quiet",
		     param ? "--param" : NULL, (char *)param, NULL};
	cr_assert_eq(tu_run(a, err, sizeof err, NULL, 0), 0, "%s", err);
	char *s = tu_slurp(csv);
	cr_assert_not_null(s);
	const char *p = s;
	char store[8192], *f[CB_NCOLUMNS + 1];
	int rows = 0;
	tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1);
	while (rows < reps && tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1) == CB_NCOLUMNS) {
		const char *b = strstr(f[CB_COL_note], "bytes_per_task=");
		cr_assert_not_null(b, "note: %s", f[CB_COL_note]);
		per[rows++] = atoll(b + strlen("bytes_per_task="));
		snprintf(notes, n, "%s", f[CB_COL_note]);
	}
	free(s);
	return rows;
}

/* micro.idle measures memory, so mn (which keeps stacks from one repetition for the next)
 * must start each repetition cold: every row reports the stacks' pages again (with shrinking
 * off, which would give those pages back before the reading). */
Test(cli, idle_memory_is_measured_cold_every_rep, .timeout = 120, .init = mk_tmp, .fini = rm_tmp)
{
	if (!cb_backend_find("mn"))
		cr_skip("mn not built");
	long long per[3];
	char note[600];
	cr_assert_eq(idle_rows(3, "shrink_ms=0", per, note, sizeof note), 3);
	/* about the touched top page of a stack per G (a warm repetition would report next to
	 * nothing); the resident-set delta it is taken from also counts pages the rest of the
	 * process gave back meanwhile (4089 seen), hence three quarters of a page */
	for (int r = 0; r < 3; r++)
		cr_assert_geq(per[r], 3 * 4096 / 4, "rep %d: %lld bytes per idle G", r + 1, per[r]);
}

/* With stack shrinking on (the default), a parked G costs its descriptor, its sudog and the
 * copy of its live frames: well under the page it would otherwise keep (issue 19's goal is
 * 1 KiB; 0.55 KiB measured at 100k). The reading waits for the shrink to settle. */
Test(cli, idle_memory_with_shrinking_is_below_a_kib, .timeout = 120, .init = mk_tmp, .fini = rm_tmp)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* a sanitizer's malloc redzones and shadow memory are part of the resident set: 11650
	 * bytes per G read under ASan */
	cr_skip_test("sanitizer builds add their own memory to every task's");
#endif
	if (!cb_backend_find("mn"))
		cr_skip("mn not built");
	long long per[1];
	char note[600];
	cr_assert_eq(idle_rows(1, NULL, per, note, sizeof note), 1);
	cr_assert_null(strstr(note, "settled"), "note: %s", note);
	cr_assert_lt(per[0], 1024, "%lld bytes per idle G", per[0]);
}

Test(faults, sigint_mid_cell_leaves_whole_rows_and_no_process, .timeout = 120, .init = mk_tmp, .fini = rm_tmp)
{
	char out[256], mark[64];
	snprintf(out, sizeof out, "%s/int", tmpdir);
	snprintf(mark, sizeof mark, "CB_TEST_MARK=%d", getpid());
	/* io.echo cells keep a load-generator process and many threads busy when the signal lands. */
	pid_t pid = fork();
	if (pid == 0) {
		putenv(mark);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2);
		execl(tu_bench(), "bench", "suite", "--quick", "--reps", "200", "--backends", "threads,serial",
		      "--workloads", "io.echo,micro.spawn,cpu.fib", "--out", out, (char *)NULL);
		_exit(127);
	}
	/* Wait until a cell runs (a loaded machine may take a while to get there). */
	for (int i = 0; i < 300 && tu_count_marked(mark) < 2; i++)
		usleep(50000);
	usleep(300000);
	/* each round's repetition is a cell process of its own: catch the suite inside one */
	for (int i = 0; i < 300 && tu_count_marked(mark) < 2; i++)
		usleep(10000);
	cr_assert_gt(tu_count_marked(mark), 1, "the suite and a cell are running");
	kill(pid, SIGINT);
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "exit 130 on SIGINT (status %d)", st);
	usleep(200000);
	cr_assert_eq(tu_count_marked(mark), 0, "no process of the suite is left");
	char csv[300];
	snprintf(csv, sizeof csv, "%s/runs.csv", out);
	char *s = tu_slurp(csv);
	if (!s)
		return; /* interrupted before the first row: nothing written is whole too */
	size_t len = strlen(s);
	cr_assert(len >= 2 && s[len - 2] == '\r' && s[len - 1] == '\n', "ends with a whole row");
	const char *p = s;
	char store[8192], *f[CB_NCOLUMNS + 1];
	int nf;
	while ((nf = tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1)) > 0)
		cr_assert_eq(nf, CB_NCOLUMNS);
	free(s);
}

/* Resource exhaustion: more tasks than the address space allows ends in a row with a
 * reason (unsupported or error), never a crash. */
static void run_limited(const char *backend, const char *csv)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = {(rlim_t)2 << 30, (rlim_t)2 << 30}; /* 2 GiB of address space */
		setrlimit(RLIMIT_AS, &rl);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1), dup2(devnull, 2);
		execl(tu_bench(), "bench", "run", "--backend", backend, "--workload", "micro.idle",
		      "--tasks", "1000000", "--reps", "1", "--warmup", "0", "--timeout", "120", "--csv",
		      csv, "--quiet", (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s: a failed cell, not a crash (%d)", backend, st);
}

Test(faults, address_space_exhaustion_is_a_row_not_a_crash, .timeout = 300, .init = mk_tmp, .fini = rm_tmp)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	cr_skip_test("sanitizer builds reserve more address space than the limit tested here");
#endif
	const char *backends[] = {"mn", "threads"};
	for (int i = 0; i < 2; i++) {
		if (!cb_backend_find(backends[i]))
			continue;
		char csv[128], note[600];
		snprintf(csv, sizeof csv, "%s/%s.csv", tmpdir, backends[i]);
		run_limited(backends[i], csv);
		int unsup = count_rows(csv, "unsupported", note, sizeof note);
		int err = count_rows(csv, "error", note, sizeof note);
		cr_assert_eq(unsup + err, 1, "%s: one row with a reason (%d unsupported, %d error)", backends[i], unsup, err);
		cr_assert_eq(count_rows(csv, "crash", note, sizeof note), 0);
		cr_assert(note[0], "%s: the row says why", backends[i]);
	}
}

/* ---- issue 16: fork's fds, echoes checked byte by byte, channel capacity ------------------ */

#include "mp/mp.h"

/* Run bench with argv under an fd limit; its exit status. */
static int run_nofile(rlim_t nofile, char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = {nofile, nofile};
		setrlimit(RLIMIT_NOFILE, &rl);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1), dup2(devnull, 2);
		execv(tu_bench(), argv);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The cell's fds do not grow from one repetition to the next: io.echo on fork, with the
 * fewest fds io.echo accepts (a connection each, plus 64), runs every repetition. A parent
 * that kept its copy of each connection needed another `tasks` fds per repetition. */
Test(faults, fork_echo_fds_do_not_grow_over_repetitions, .timeout = 300, .init = mk_tmp, .fini = rm_tmp)
{
	enum { CONNS = 40, REPS = 3, NOFILE_MARGIN = 64 }; /* echo_refuse's margin */
	for (int start = 0; start <= 1; start++) {
		char csv[128], note[600], sp[16];
		snprintf(csv, sizeof csv, "%s/fd%d.csv", tmpdir, start);
		snprintf(sp, sizeof sp, "start=%d", start);
		char *a[] = {"bench", "run", "--backend", "fork", "--workload", "io.echo", "--tasks", "40",
			     "--param", "msgs=5", "--param", sp, "--reps", "3", "--warmup", "1",
			     "--timeout", "120", "--csv", csv, "--quiet", NULL};
		int rc = run_nofile(CONNS + NOFILE_MARGIN, a);
		int ok = count_rows(csv, "ok", note, sizeof note);
		cr_assert_eq(ok, REPS, "start=%d: %d of %d reps ok (exit %d): %s", start, ok, REPS, rc, note);
		cr_assert_eq(rc, 0);
	}
}

/* A server that echoes as many bytes as it got, but wrong ones, or whose task closes its
 * connection early while the others run, gives a mismatch row naming the bad echoes: never
 * ok, and never a hang until the watchdog (the early end reaches the client at once). */
Test(faults, bad_or_missing_echoes_are_a_mismatch, .timeout = 300, .init = mk_tmp, .fini = rm_tmp)
{
	const char *be[][2] = {{"threads", NULL}, {"fork", "start=0"}, {"fork", "start=1"}};
	for (size_t b = 0; b < sizeof be / sizeof *be; b++)
		for (int fault = 1; fault <= 2; fault++) {
			char csv[128], note[600], fp[16];
			snprintf(csv, sizeof csv, "%s/e%zu%d.csv", tmpdir, b, fault);
			snprintf(fp, sizeof fp, "fault=%d", fault);
			char *a[] = {"bench", "run", "--backend", (char *)be[b][0], "--workload",
				     "test.echo_fault", "--param", fp, "--reps", "1", "--warmup", "0",
				     "--timeout", "100", "--csv", csv, "--quiet",
				     be[b][1] ? "--param" : NULL, (char *)be[b][1], NULL};
			char err[8192];
			cr_assert_eq(tu_run(a, err, sizeof err, NULL, 0), 1, "%s", err);
			cr_assert_eq(count_rows(csv, "mismatch", note, sizeof note), 1,
				     "%s %s fault=%d: %s", be[b][0], be[b][1] ? be[b][1] : "", fault, note);
			cr_assert(strstr(note, "bad or missing echoes"), "%s", note);
		}
}

/* A fork channel holds the capacity asked or the cell is unsupported with the number that
 * fits (what a pipe of pipe-max-size surely holds). */
Test(faults, fork_channel_capacity_is_asked_or_unsupported, .timeout = 120, .init = mk_tmp, .fini = rm_tmp)
{
	size_t most = mp_queue_capacity_max(sizeof(uint64_t));
	char fits[32], over[32], most_s[32];
	snprintf(fits, sizeof fits, "cap=%zu", most);
	snprintf(over, sizeof over, "cap=%zu", most + 1);
	snprintf(most_s, sizeof most_s, ": %zu do", most);
	char csv[128], note[600], err[8192];
	snprintf(csv, sizeof csv, "%s/cap.csv", tmpdir);
	char *a[] = {"bench", "run", "--backend", "fork", "--workload", "micro.chan", "--size", "2000",
		     "--param", over, "--reps", "1", "--warmup", "0", "--csv", csv, "--quiet", NULL};
	cr_assert_eq(tu_run(a, err, sizeof err, NULL, 0), 1, "%s", err);
	cr_assert_eq(count_rows(csv, "unsupported", note, sizeof note), 1, "%s", note);
	cr_assert(strstr(note, most_s), "names how many fit (%zu): %s", most, note);
	a[9] = fits;
	cr_assert_eq(tu_run(a, err, sizeof err, NULL, 0), 0, "%s", err);
	cr_assert_eq(count_rows(csv, "ok", note, sizeof note), 1, "%s", note);
}

/* ---- the load generator's own CPU ---------------------------------------------------- */

/* Where the box has a CPU to spare beside the server's workers, the load generator runs on
 * the highest CPU alone and the row says which; pinned to one CPU, the two share it and the
 * row says nothing of a CPU of its own. */
Test(cli, load_generator_gets_a_spare_cpu_alone, .timeout = 120, .init = mk_tmp, .fini = rm_tmp)
{
	cpu_set_t all;
	cr_assert_eq(sched_getaffinity(0, sizeof all, &all), 0);
	if (CPU_COUNT(&all) < 2 || cb_ncpu() < 2)
		cr_skip_test("one usable CPU: none to spare");
	int hi = CPU_SETSIZE - 1, lo = 0;
	while (!CPU_ISSET(hi, &all))
		hi--;
	while (!CPU_ISSET(lo, &all))
		lo++;
	char csv[2][300], note[2][2048], want[64];
	for (int pinned = 0; pinned < 2; pinned++) {
		snprintf(csv[pinned], sizeof csv[0], "%s/echo%d.csv", tmpdir, pinned);
		if (pinned) { /* the child inherits it */
			cpu_set_t one;
			CPU_ZERO(&one);
			CPU_SET(lo, &one);
			cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0);
		}
		char *a[] = {"bench", "run", "--backend", "threads", "--workload", "io.echo", "--tasks", "4",
			     "--workers", "1", "--param", "duration_ms=200", "--reps", "1", "--warmup", "0",
			     "--quiet", "--csv", csv[pinned], NULL};
		char store[8192], *f[CB_NCOLUMNS + 1];
		one_row(a, csv[pinned], store, sizeof store, f);
		snprintf(note[pinned], sizeof note[0], "%s", f[CB_COL_note]);
	}
	snprintf(want, sizeof want, "load generator alone on CPU %d", hi);
	cr_assert(strstr(note[0], want), "spare CPU: note '%s' lacks '%s'", note[0], want);
	cr_assert(!strstr(note[1], "load generator alone"), "one CPU: note '%s'", note[1]);
}
