/* test_refs.c: the Go and Node twins of cpu.hash, io.pipe, io.file, micro.ring and
 * mix.convoy through `bench run --backend go-ref|node-ref`: each small cell's rows are ok
 * (the twin's checksum equals the one the C workload expects), and where the workload is
 * deterministic the checksum is the one the threads backend computes for the same cell.
 * A cell's warm-up and measured repetitions run in one twin process (micro.idle's excepted).
 * Skipped, saying so, where go or node is not installed. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <limits.h>
#include <sys/stat.h>

#include "csv.h"
#include "testutil.h"

typedef struct ref_case {
	char backend[16], workload[16], tasks[8], size[8], param[32];
	int deterministic; /* the checksum depends on the cell alone (not on a client's pace) */
} ref_case;

ParameterizedTestParameters(refs, twin_checksum_is_the_workloads)
{
	static ref_case cases[] = {
#define REF_CASES(be)                                                                     \
	{be, "cpu.hash", "3", "16", "rounds=2", 1}, {be, "cpu.hash", "3", "16", "native=1", 1}, \
	{be, "io.pipe", "2", "200", "msg=100", 1}, {be, "io.file", "3", "64", "chunk_kb=4", 1},  \
	{be, "micro.ring", "7", "500", "", 1}, {be, "mix.convoy", "1", "64", "duration_ms=200", 0}
		REF_CASES("go-ref"), REF_CASES("node-ref"),
#undef REF_CASES
	};
	return cr_make_param_array(ref_case, cases, sizeof cases / sizeof cases[0]);
}

/* The checksum column of the first data row of csv, or "" (status into st). */
static void first_row(const char *csv, char *sum, size_t n, char *st, size_t stn)
{
	char *s = tu_slurp(csv);
	cr_assert_not_null(s, "%s was written", csv);
	const char *p = s;
	char store[8192], *f[CB_NCOLUMNS + 1];
	cr_assert_gt(tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1), 0); /* header */
	int nf = tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1);
	cr_assert_eq(nf, CB_NCOLUMNS, "a whole row");
	snprintf(sum, n, "%s", f[CB_COL_checksum]);
	snprintf(st, stn, "%s|%s", f[CB_COL_status], f[CB_COL_note]);
	free(s);
}

static void run_cell(const ref_case *c, const char *backend, const char *csv)
{
	char *argv[24] = {"bench", "run", "--backend", (char *)backend, "--workload", (char *)c->workload,
			  "--tasks", (char *)c->tasks, "--size", (char *)c->size, "--reps", "2",
			  "--warmup", "0", "--timeout", "120", "--quiet", "--csv", (char *)csv};
	int n = 19;
	if (c->param[0]) {
		argv[n++] = "--param";
		argv[n++] = (char *)c->param;
	}
	argv[n] = NULL;
	char err[2048];
	int rc = tu_run(argv, err, sizeof err, NULL, 0);
	cr_assert_eq(rc, 0, "%s %s: exit %d: %s", backend, c->workload, rc, err);
}

ParameterizedTest(ref_case *c, refs, twin_checksum_is_the_workloads, .timeout = 240)
{
	int go = !strcmp(c->backend, "go-ref");
	if (!tu_in_path(go ? "go" : "node"))
		cr_skip("%s not installed (Debian package %s): %s twins not tested", go ? "go" : "node",
			go ? "golang-go" : "nodejs", c->backend);
	if (go)
		cr_assert_eq(tu_make_refs(), 0, "make refs built the Go twins");
	char dir[] = "/tmp/cbrefs-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char csv[64], ref_csv[64];
	snprintf(csv, sizeof csv, "%s/twin.csv", dir);
	snprintf(ref_csv, sizeof ref_csv, "%s/threads.csv", dir);
	run_cell(c, c->backend, csv);
	char sum[32], st[300];
	first_row(csv, sum, sizeof sum, st, sizeof st);
	cr_assert_eq(strncmp(st, "ok|", 3), 0, "%s %s: status ok (got %s)", c->backend, c->workload, st);
	cr_assert_neq(sum[0], 0, "a checksum");
	if (!strcmp(c->workload, "cpu.hash") && !strcmp(c->backend, "node-ref"))
		cr_assert_not_null(strstr(st, strstr(c->param, "native=1") ? "worker_threads" : "main thread"),
				   "the note says how Node ran the hashing: %s", st);
	if (c->deterministic) {
		run_cell(c, "threads", ref_csv);
		char want[32], wst[300];
		first_row(ref_csv, want, sizeof want, wst, sizeof wst);
		cr_assert_str_eq(sum, want, "%s %s: the twin's checksum is the C workload's", c->backend,
				 c->workload);
	}
	char rm[64];
	snprintf(rm, sizeof rm, "rm -rf %s", dir);
	cr_expect_eq(system(rm), 0);
}

/* machine.json names the Go and Node that the reference rows ran, or null without them. */
Test(refs, machine_json_records_go_and_node, .timeout = 120)
{
	char dir[] = "/tmp/cbrefs-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char out[64], path[96];
	snprintf(out, sizeof out, "%s/run", dir);
	char *argv[] = {"bench", "suite", "--quick", "--backends", "serial", "--workloads", "micro.spawn",
			"--reps", "1", "--out", out, NULL};
	char err[4096];
	cr_assert_eq(tu_run(argv, err, sizeof err, NULL, 0), 0, "suite: %s", err);
	snprintf(path, sizeof path, "%s/machine.json", out);
	char *mj = tu_slurp(path);
	cr_assert_not_null(mj);
	const char *tools[2][3] = {{"go", "go version 2>/dev/null", "\"go\": "},
				   {"node", "node --version 2>/dev/null", "\"node\": "}};
	for (int i = 0; i < 2; i++) {
		char want[256] = "", line[300];
		FILE *p = popen(tools[i][1], "r");
		if (p && fgets(want, sizeof want, p))
			want[strcspn(want, "\n")] = 0;
		if (p)
			pclose(p);
		if (want[0])
			snprintf(line, sizeof line, "%s\"%s\"", tools[i][2], want);
		else
			snprintf(line, sizeof line, "%snull", tools[i][2]);
		cr_assert_not_null(strstr(mj, line), "machine.json has %s", line);
	}
	free(mj);
	char rm[64];
	snprintf(rm, sizeof rm, "rm -rf %s", dir);
	cr_expect_eq(system(rm), 0);
}

/* Lines of path that hold `word`. */
static int count_lines(const char *path, const char *word)
{
	char *s = tu_slurp(path);
	int n = 0;
	for (const char *p = s; p && (p = strstr(p, word)); p += strlen(word))
		n++;
	free(s);
	return n;
}

typedef struct persist_case {
	char workload[16], tasks[8], size[8];
	int cold; /* measures the runtime's memory: a fresh twin every repetition */
} persist_case;

ParameterizedTestParameters(refs, one_twin_process_runs_a_cells_repetitions)
{
	static persist_case cases[] = {
		{"cpu.fib", "2", "18", 0}, {"io.echo", "4", "256", 0}, {"micro.idle", "200", "1", 1},
	};
	return cr_make_param_array(persist_case, cases, sizeof cases / sizeof cases[0]);
}

/* The warm-up and the measured repetitions of a node-ref cell run in one Node process (a
 * `node` in PATH that logs each start and execs the real one counts them), each measured
 * repetition a row of its own with its round and an ok checksum; micro.idle, which measures a
 * fresh runtime's memory, starts one per repetition instead. */
ParameterizedTest(persist_case *pc, refs, one_twin_process_runs_a_cells_repetitions, .timeout = 240)
{
	char real[PATH_MAX] = "";
	FILE *p = popen("command -v node", "r");
	if (p && fgets(real, sizeof real, p))
		real[strcspn(real, "\n")] = 0;
	if (p)
		pclose(p);
	if (!real[0])
		cr_skip("node not installed (Debian package nodejs): node-ref's process not tested");
	enum { WARMUP = 2, REPS = 3 };
	char dir[] = "/tmp/cbrefs-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char wrap[64], log[64], csv[64], path[8192];
	snprintf(wrap, sizeof wrap, "%s/node", dir);
	snprintf(log, sizeof log, "%s/starts", dir);
	snprintf(csv, sizeof csv, "%s/rows.csv", dir);
	FILE *w = fopen(wrap, "w");
	cr_assert_not_null(w);
	fprintf(w, "#!/bin/sh\necho node-start >>%s\nexec %s \"$@\"\n", log, real);
	fclose(w);
	cr_assert_eq(chmod(wrap, 0755), 0);
	snprintf(path, sizeof path, "%s:%s", dir, getenv("PATH"));
	setenv("PATH", path, 1);
	char warm[8], reps[8];
	snprintf(warm, sizeof warm, "%d", WARMUP);
	snprintf(reps, sizeof reps, "%d", REPS);
	char *argv[] = {"bench", "run", "--backend", "node-ref", "--workload", pc->workload, "--tasks",
			pc->tasks, "--size", pc->size, "--reps", reps, "--warmup", warm, "--warmup-ms", "0",
			"--timeout", "120", "--quiet", "--csv", csv, NULL};
	char err[2048];
	cr_assert_eq(tu_run(argv, err, sizeof err, NULL, 0), 0, "%s: %s", pc->workload, err);
	int starts = count_lines(log, "node-start");
	/* a cold cell runs a fresh twin per repetition and no warm-up (nothing would carry over) */
	cr_assert_eq(starts, pc->cold ? REPS : 1, "%s: %d node processes for %d warm-up and %d "
		     "measured repetitions", pc->workload, starts, WARMUP, REPS);
	char *s = tu_slurp(csv);
	cr_assert_not_null(s);
	const char *q = s;
	char store[8192], *f[CB_NCOLUMNS + 1];
	cr_assert_gt(tu_csv_record(&q, store, sizeof store, f, CB_NCOLUMNS + 1), 0); /* header */
	for (int r = 1; r <= REPS; r++) {
		cr_assert_eq(tu_csv_record(&q, store, sizeof store, f, CB_NCOLUMNS + 1), CB_NCOLUMNS, "row %d", r);
		cr_assert_str_eq(f[CB_COL_status], "ok", "row %d: %s", r, f[CB_COL_note]);
		cr_assert_eq(atoi(f[CB_COL_round]), r, "row %d carries its round", r);
	}
	free(s);
	char rm[64];
	snprintf(rm, sizeof rm, "rm -rf %s", dir);
	cr_expect_eq(system(rm), 0);
}

/* One ok (or unsupported) schema-2 row of a fabricated run. */
static void fake_row(const char *csv, const char *be, const char *wl, int64_t tasks, int64_t size,
		     const char *params, int round, const char *status, const char *note)
{
	cb_meta m;
	memset(&m, 0, sizeof m);
	snprintf(m.run_id, sizeof m.run_id, "fidelity");
	snprintf(m.host, sizeof m.host, "test");
	m.ncpu = 2;
	cb_row r;
	memset(&r, 0, sizeof r);
	snprintf(r.utc, sizeof r.utc, "2026-12-01T00:00:00Z");
	r.backend = be, r.workload = wl, r.tasks = tasks, r.workers = 2, r.size = size;
	snprintf(r.params, sizeof r.params, "%s", params);
	r.rep = round - 1, r.round = round;
	r.status = status;
	snprintf(r.note, sizeof r.note, "%s", note);
	if (!strcmp(status, "ok")) {
		r.wall_ns = 1000 * size + 7919 * round, r.ops = (uint64_t)size;
		r.ops_per_s = (double)r.ops * 1e9 / (double)r.wall_ns;
		r.has_checksum = 1;
	}
	char line[4096];
	int n = cb_csv_format(&m, &r, line, sizeof line);
	cr_assert_gt(n, 0);
	cr_assert_eq(cb_csv_append(csv, line, (size_t)n), 0);
}

/* The fidelity table pairs a model with its runtime although each calibrated its own count
 * (micro.chan: mn ran size 5000, go-ref 13574) and the runtime's twin ran a smaller set
 * (mix.latency's hogs), and a cell the runtime cannot run says why, not "no twin". */
Test(refs, fidelity_pairs_cells_whose_counts_differ, .timeout = 60)
{
	char dir[] = "/tmp/cbrefs-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char csv[64], md[64], cmd[256];
	snprintf(csv, sizeof csv, "%s/runs.csv", dir);
	snprintf(md, sizeof md, "%s/table.md", dir);
	for (int round = 1; round <= 3; round++) {
		fake_row(csv, "mn", "micro.chan", 2, 5000, "cap=0;stack_kb=64", round, "ok", "calibrated size=5000");
		fake_row(csv, "go-ref", "micro.chan", 2, 13574, "cap=0", round, "ok", "calibrated size=13574");
		fake_row(csv, "gil", "mix.latency", 1, 30, "rounds=57;period_us=1000;min_ms=0;switch_us=5000", round, "ok", "");
		fake_row(csv, "cpython-threads", "mix.latency", 1, 25, "rounds=20;period_us=1000;min_ms=0;switch_us=5000", round, "ok", "");
	}
	fake_row(csv, "mn", "micro.skynet", 0, 1000000, "fanout=10;stack_kb=64", 1, "ok", "");
	char mj[64];
	snprintf(mj, sizeof mj, "%s/machine.json", dir);
	snprintf(cmd, sizeof cmd, "cp tests/fixtures/run-a/machine.json %s", mj);
	cr_assert_eq(system(cmd), 0, "a machine.json for the run folder");
	fake_row(csv, "go-ref", "micro.skynet", 0, 1000000, "fanout=10", 1, "unsupported", "a reason of the twin's own");
	snprintf(cmd, sizeof cmd, "python3 scripts/table %s >/dev/null 2>&1", dir);
	int rc = system(cmd);
	if (rc) {
		snprintf(cmd, sizeof cmd, "python3 scripts/table %s >&2", dir);
		(void)!system(cmd);
	}
	cr_assert_eq(rc, 0, "scripts/table ran");
	char *t = tu_slurp(md);
	cr_assert_not_null(t);
	cr_assert_not_null(strstr(t, "| mn | go-ref | micro.chan"), "mn's micro.chan beside go-ref's:\n%s", t);
	cr_assert_not_null(strstr(t, "| gil | cpython-threads | mix.latency"), "gil's mix.latency beside CPython's");
	cr_assert_null(strstr(t, "no twin"), "no row says 'no twin'");
	cr_assert_not_null(strstr(t, "unsupported: a reason of the twin's own"), "the reason is shown");
	free(t);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}
