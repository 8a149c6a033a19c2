/* test_cpython.c: the cpython-* reference backends: the embedded interpreter runs a twin and
 * hands back its checksum and latencies; the cell's parameters reach the twin (the switch
 * interval through sys.setswitchinterval); a twin that raises gives an `error` row with the
 * exception's last line, one that refuses gives an `unsupported` row. */
#include <criterion/criterion.h>
#include <limits.h>
#include <sys/stat.h>

#include "pyembed.h"
#include "csv.h"
#include "testutil.h"

/* ---- in process ---------------------------------------------------------------------- */

Test(cpython, twin_reports_its_checksum, .timeout = 60)
{
	pyembed_result r;
	/* 3 threads of fib(15) = 610 each. */
	pyembed_run("cpu.fib", "threads", "{'tasks': 3, 'size': 15, 'workers': 2, 'rounds': 1, 'switch_us': 5000}",
		    &r);
	cr_assert_eq(r.checksum, 1830);
	pyembed_run("cpu.fib", "asyncio", "{'tasks': 4, 'size': 10, 'workers': 2, 'rounds': 1}", &r);
	cr_assert_eq(r.checksum, 220, "the interpreter is reused: a second run works too");
}

Test(cpython, twin_reports_latencies, .timeout = 60)
{
	pyembed_result r;
	pyembed_run("mix.latency", "threads",
		    "{'tasks': 1, 'size': 12, 'workers': 2, 'rounds': 3, 'period_us': 1000, "
		    "'min_ms': 100, 'switch_us': 5000}",
		    &r);
	cr_assert_eq(r.checksum, 3 * 144);
	cr_assert(r.has_lat && r.has_ops);
	/* how often the probe wakes in its 100 ms is the box's to say (a loaded box may run
	 * its thread once); that it woke and timed itself is the twin's */
	cr_assert_geq(r.ops, 1, "the probe woke %lu times in 100 ms", (unsigned long)r.ops);
	cr_assert_leq(r.p50_ns, r.max_ns);
}

/* ---- through the bench command ----------------------------------------------------------- */

static char tmpdir[64];
static void mk_tmp(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/cbpy-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}
static void rm_tmp(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	cr_expect_eq(system(cmd), 0);
}

/* A twins directory whose cpu_fib.py is body, beside the real twin.py. */
static void fake_twins(const char *body)
{
	char path[PATH_MAX], real[PATH_MAX];
	cr_assert_not_null(realpath("workloads/py/twin.py", real), "run from the source tree");
	snprintf(path, sizeof path, "%s/twin.py", tmpdir);
	cr_assert_eq(symlink(real, path), 0);
	snprintf(path, sizeof path, "%s/cpu_fib.py", tmpdir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(body, f);
	fclose(f);
	setenv("CB_PYDIR", tmpdir, 1);
}

/* Run bench with argv a, which writes one row to csv; its fields land in f (inside store). */
static void one_row(char **a, const char *csv, char *store, size_t n, char **f)
{
	char err[8192];
	unlink(csv);
	tu_run(a, err, sizeof err, NULL, 0);
	char *s = tu_slurp(csv);
	cr_assert_not_null(s, "no CSV: %s", err);
	const char *p = s;
	tu_csv_record(&p, store, n, f, CB_NCOLUMNS + 1);
	cr_assert_eq(tu_csv_record(&p, store, n, f, CB_NCOLUMNS + 1), CB_NCOLUMNS, "one row: %s", err);
	free(s);
}

/* Run one cell of cpu.fib under backend; return its one row's status, checksum and note. */
static void run_fib(const char *backend, const char *param, char *status, char *checksum,
		    char *note, size_t n)
{
	char csv[128], store[8192], *f[CB_NCOLUMNS + 1];
	snprintf(csv, sizeof csv, "%s/out.csv", tmpdir);
	char *a[] = {"bench", "run", "--backend", (char *)backend, "--workload", "cpu.fib", "--tasks",
		     "2", "--size", "12", "--reps", "1", "--warmup", "0", "--csv", csv, "--quiet",
		     "--param", (char *)(param ? param : "switch_us=5000"), NULL};
	if (!param)
		a[17] = NULL;
	one_row(a, csv, store, sizeof store, f);
	snprintf(status, 16, "%s", f[CB_COL_status]);
	snprintf(checksum, 32, "%s", f[CB_COL_checksum]);
	snprintf(note, n, "%s", f[CB_COL_note]);
}

Test(cpython, real_twin_row_is_ok, .timeout = 60, .init = mk_tmp, .fini = rm_tmp)
{
	char status[16], sum[32], note[600];
	run_fib("cpython-threads", NULL, status, sum, note, sizeof note);
	cr_assert_str_eq(status, "ok", "%s", note);
	cr_assert_str_eq(sum, "288"); /* 2 x fib(12) */
}

Test(cpython, failing_twin_is_an_error_row, .timeout = 60, .init = mk_tmp, .fini = rm_tmp)
{
	fake_twins("def run_threads(a):\n"
		   "    raise ValueError(f'no fib today ({a.tasks} tasks)')\n");
	char status[16], sum[32], note[600];
	run_fib("cpython-threads", NULL, status, sum, note, sizeof note);
	cr_assert_str_eq(status, "error");
	cr_assert(strstr(note, "ValueError: no fib today (2 tasks)"), "note: %s", note);
}

Test(cpython, refusing_twin_is_an_unsupported_row, .timeout = 60, .init = mk_tmp, .fini = rm_tmp)
{
	fake_twins("import twin\n"
		   "def run_mp(a):\n"
		   "    raise twin.Unsupported('too big for a pool')\n");
	char status[16], sum[32], note[600];
	run_fib("cpython-mp", NULL, status, sum, note, sizeof note);
	cr_assert_str_eq(status, "unsupported");
	cr_assert(strstr(note, "too big for a pool"), "note: %s", note);
	/* And a model the twin lacks is refused, not an error. */
	run_fib("cpython-asyncio", NULL, status, sum, note, sizeof note);
	cr_assert_str_eq(status, "unsupported", "%s", note);
}

Test(cpython, switch_interval_reaches_the_interpreter, .timeout = 60, .init = mk_tmp,
     .fini = rm_tmp)
{
	/* The fake twin returns the right checksum only if sys.getswitchinterval() is 1.5 ms. */
	fake_twins("import sys, twin\n"
		   "def run_threads(a):\n"
		   "    ok = abs(sys.getswitchinterval() - 0.0015) < 1e-9 and a.switch_us == 1500\n"
		   "    return a.tasks * twin.fib(a.size) if ok else 0\n");
	char status[16], sum[32], note[600];
	run_fib("cpython-threads", "switch_us=1500", status, sum, note, sizeof note);
	cr_assert_str_eq(status, "ok", "%s (checksum %s)", note, sum);
	run_fib("cpython-threads", "switch_us=5000", status, sum, note, sizeof note);
	cr_assert_str_eq(status, "mismatch", "the fake twin saw the wrong interval: %s", status);
}

/* cpython-mp: the Pool's helper threads in the parent (worker, task and result handlers)
 * count in the row's OS threads, its workers in its processes. */
Test(cpython, pool_helpers_count_as_threads, .timeout = 60, .init = mk_tmp, .fini = rm_tmp)
{
	char csv[128], store[8192], *f[CB_NCOLUMNS + 1];
	snprintf(csv, sizeof csv, "%s/mp.csv", tmpdir);
	char *a[] = {"bench", "run", "--backend", "cpython-mp", "--workload", "cpu.fib", "--tasks", "2",
		     "--size", "12", "--workers", "2", "--reps", "1", "--warmup", "0", "--csv", csv,
		     "--quiet", NULL};
	one_row(a, csv, store, sizeof store, f);
	cr_assert_str_eq(f[CB_COL_status], "ok", "%s", f[CB_COL_note]);
	cr_assert_geq(atoi(f[CB_COL_os_threads]), 3, "os_threads %s", f[CB_COL_os_threads]);
	cr_assert_geq(atoi(f[CB_COL_processes]), 3, "processes %s", f[CB_COL_processes]);
}
