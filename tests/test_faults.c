/* test_faults.c: the fault matrix of runs.csv (issue 18): whatever happens to the disk, the
 * file, the folder or the processes, runs.csv holds only whole rows, the user gets one clear
 * line and the documented exit status, and no process of the run is left behind.
 *
 * Each case is a Criterion test, so its own process. Disks that fill up and file systems
 * that turn read-only are small tmpfs mounts made inside a private mount namespace of the
 * test process (root only: they vanish with it, nothing leaks onto the host); without root
 * the full disk is RLIMIT_FSIZE. A run under test carries CB_TEST_MARK=<test pid> in its
 * environment, which tells its processes apart from everyone else's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "harness.h"
#include "testutil.h"
#include "util.h"

#define WAIT_STEP_US 10000 /* polling step while waiting for a run to get somewhere */
#define FIELDS header_fields() /* of this version's rows, whatever its schema */

static int header_fields(void)
{
	size_t len;
	return cb_csv_scan_record(CB_CSV_HEADER, strlen(CB_CSV_HEADER), &len);
}

static char tmpdir[64], mark[64];
static int mounted; /* a tmpfs is mounted on tmpdir/m */

static void mk_tmp(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/cbfault-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(mark, sizeof mark, "CB_TEST_MARK=%d", getpid());
}

static void rm_tmp(void)
{
	char cmd[160];
	if (mounted) {
		snprintf(cmd, sizeof cmd, "%s/m", tmpdir);
		umount2(cmd, MNT_DETACH);
		mounted = 0;
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(faults, .init = mk_tmp, .fini = rm_tmp, .timeout = 60);

static const char *in_tmp(const char *name)
{
	static char bufs[8][256];
	static int k;
	char *b = bufs[k++ % 8];
	snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
	return b;
}

/* A tmpfs of size bytes at tmpdir/m, in a mount namespace of this test process only; NULL
 * when this process may not mount (not root). */
static const char *small_disk(const char *size)
{
	const char *m = in_tmp("m");
	mkdir(m, 0755);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return NULL;
	char opts[64];
	snprintf(opts, sizeof opts, "size=%s", size);
	if (mount("tmpfs", m, "tmpfs", 0, opts) < 0)
		return NULL;
	mounted = 1;
	return m;
}

/* bench argv... in the background with the mark in its environment, stderr into a file,
 * stdout to /dev/null; an RLIMIT_FSIZE when fsize > 0. */
static pid_t start_bench(rlim_t fsize, const char *env, char *const argv[])
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		putenv(mark);
		if (env)
			putenv((char *)env);
		if (fsize) {
			struct rlimit rl = {fsize, fsize};
			setrlimit(RLIMIT_FSIZE, &rl);
		}
		int e = open(in_tmp("stderr"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int o = open("/dev/null", O_WRONLY);
		dup2(e, 2), dup2(o, 1);
		execv(tu_bench(), argv);
		_exit(127);
	}
	return pid;
}

/* Exit status of pid (or 128 + signal). */
static int wait_exit(pid_t pid)
{
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int line_count(const char *path)
{
	char *s = tu_slurp(path);
	int n = 0;
	for (char *p = s; p && *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

/* Wait until path holds at least lines lines (header included). */
static void wait_lines(const char *path, int lines)
{
	for (int i = 0; i < 2000 && line_count(path) < lines; i++)
		usleep(WAIT_STEP_US);
	cr_assert_geq(line_count(path), lines, "%s never reached %d lines", path, lines);
}

/* Every process of the run is gone (a killed supervisor's cells die of PDEATHSIG, which
 * takes a moment). */
static void assert_none_left(void)
{
	for (int i = 0; i < 500 && tu_count_marked(mark); i++)
		usleep(WAIT_STEP_US);
	cr_assert_eq(tu_count_marked(mark), 0, "processes of the run are left behind");
}

/* The file is absent, empty, or a header and whole rows of FIELDS fields. Returns the rows
 * and, in statuses, their status column joined by spaces. */
static int assert_whole(const char *csv, char *statuses, size_t n)
{
	if (statuses)
		statuses[0] = 0;
	char *s = tu_slurp(csv);
	if (!s || !*s) {
		free(s);
		return 0;
	}
	size_t len = strlen(s), at = 0, rl;
	cr_assert(len >= 2 && !strcmp(s + len - 2, "\r\n"), "%s does not end with a whole row", csv);
	cr_assert(!strncmp(s, CB_CSV_HEADER, strlen(CB_CSV_HEADER)), "%s: header", csv);
	int rows = -1;
	while (at < len) {
		int nf = cb_csv_scan_record(s + at, len - at, &rl);
		cr_assert_eq(nf, FIELDS, "%s: record %d has %d fields", csv, rows + 1, nf);
		if (rows >= 0 && statuses) {
			const char *p = s + at;
			char store[8192], *f[CB_NCOLUMNS + 1];
			tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1);
			snprintf(statuses + strlen(statuses), n - strlen(statuses), "%s ",
				 f[CB_COL_status]);
		}
		at += rl;
		rows++;
	}
	free(s);
	return rows;
}

/* The run's stderr holds exactly one line starting with prefix; it holds needle. */
static void assert_one_message(const char *prefix, const char *needle)
{
	char *e = tu_slurp(in_tmp("stderr"));
	cr_assert_not_null(e);
	int found = 0;
	for (char *l = e; *l;) {
		char *nl = strchr(l, '\n');
		if (!strncmp(l, prefix, strlen(prefix))) {
			found++;
			cr_assert(strstr(l, needle) && (!nl || strstr(l, needle) < nl), "'%s' lacks '%s'", l, needle);
		}
		if (!nl)
			break;
		l = nl + 1;
	}
	cr_assert_eq(found, 1, "%d lines '%s...' in stderr:\n%s", found, prefix, e);
	free(e);
}

/* A long serial cpu.fib run appending to csv: a row every quarter millisecond or so, for
 * seconds (fib(22) ran its 10000 repetitions in 0.6 s on a fast box). */
#define LONG_RUN(csv) \
	(char *[]){"bench", "run", "--backend", "serial", "--workload", "cpu.fib", "--tasks", "2", \
		   "--size", "25", "--reps", "10000", "--warmup", "0", "--csv", (char *)(csv),   \
		   "--quiet", NULL}

/* ---- the disk, the file, the folder ----------------------------------------------------- */

Test(faults, disk_full_at_the_first_row)
{
	const char *m = small_disk("4k");
	if (!m)
		cr_skip_test("needs root for a tmpfs (the RLIMIT_FSIZE case covers a full disk)");
	/* fill the disk: the first row (and its header) find no room */
	FILE *f = fopen(in_tmp("m/filler"), "w");
	cr_assert_not_null(f);
	static char page[4096];
	while (fwrite(page, 1, sizeof page, f) == sizeof page && fflush(f) == 0)
		;
	fclose(f);
	char csv[256];
	snprintf(csv, sizeof csv, "%s/runs.csv", m);
	cr_assert_eq(wait_exit(start_bench(0, NULL, LONG_RUN(csv))), CB_EXIT_LOST);
	assert_one_message("bench: cannot write", "disk full: ");
	cr_assert_eq(assert_whole(csv, NULL, 0), 0, "no row, and no header alone either");
	assert_none_left();
}

/* A suite on a disk that fills up after some rows: it stops at the first failed row, and
 * the folder is still one that the scripts read. */
Test(faults, disk_full_mid_run_stops_and_the_table_still_reads_it, .timeout = 90)
{
	const char *m = small_disk("12k"); /* machine.json's page, and two of runs.csv */
	if (!m)
		cr_skip_test("needs root for a tmpfs (the RLIMIT_FSIZE case covers a full disk)");
	char out[256], csv[300];
	snprintf(out, sizeof out, "%s/run", m);
	snprintf(csv, sizeof csv, "%s/runs.csv", out);
	/* no cell budget: every cell runs every round until the disk is full (with one, the
	 * cells could stop after a few seconds' rounds and the run end before it) */
	char *a[] = {"bench", "suite", "--quick", "--reps", "1000", "--cell-budget-ms", "0",
		     "--backends", "serial,threads", "--workloads", "cpu.fib", "--out", out, NULL};
	cr_assert_eq(wait_exit(start_bench(0, NULL, a)), CB_EXIT_LOST);
	assert_one_message("bench: cannot write", "disk full: ");
	char *e = tu_slurp(in_tmp("stderr"));
	cr_assert_null(strstr(e, "done:"), "the suite went on: %s", e);
	free(e);
	int rows = assert_whole(csv, NULL, 0);
	cr_assert_gt(rows, 5, "rows before the disk filled are kept");
	char *t[] = {"python3", "scripts/table", out, "--out", (char *)in_tmp("t.md"), "--csv",
		     (char *)in_tmp("t.csv"), NULL};
	pid_t pid = fork();
	if (pid == 0) {
		int o = open("/dev/null", O_WRONLY);
		dup2(o, 1), dup2(o, 2);
		execvp("python3", t);
		_exit(127);
	}
	cr_assert_eq(wait_exit(pid), 0, "scripts/table reads what was written");
	assert_none_left();
}

Test(faults, file_size_limit_mid_run)
{
	const char *csv = in_tmp("runs.csv");
	/* header and a handful of rows fit under 4 KiB */
	cr_assert_eq(wait_exit(start_bench(4096, NULL, LONG_RUN(csv))), CB_EXIT_LOST);
	assert_one_message("bench: cannot write", "file size limit reached: ");
	int rows = assert_whole(csv, NULL, 0);
	cr_assert(rows > 2 && rows * 100 < 4096, "%d rows", rows);
	assert_none_left();
}

Test(faults, output_folder_removed_mid_run)
{
	const char *dir = in_tmp("out"), *csv = in_tmp("out/runs.csv");
	mkdir(dir, 0755);
	pid_t pid = start_bench(0, NULL, LONG_RUN(csv));
	wait_lines(csv, 3);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s 2>/dev/null", dir);
	struct stat st;
	for (int i = 0; i < 100 && stat(dir, &st) == 0; i++) /* a row may land while rm runs */
		(void)!system(cmd);
	cr_assert_neq(stat(dir, &st), 0, "the folder is gone");
	cr_assert_eq(wait_exit(pid), CB_EXIT_LOST);
	assert_one_message("bench: cannot write", "file or its folder removed: ");
	assert_none_left();
}

Test(faults, runs_csv_made_read_only_mid_run)
{
	const char *m = small_disk("1m");
	char csv[256];
	snprintf(csv, sizeof csv, "%s/runs.csv", m ? m : tmpdir);
	pid_t pid = start_bench(0, NULL, LONG_RUN(csv));
	wait_lines(csv, 3);
	if (m) { /* root writes through file modes: the file system itself turns read-only */
		int r;
		for (int i = 0; (r = mount(NULL, m, NULL, MS_REMOUNT | MS_RDONLY, NULL)) < 0 && errno == EBUSY && i < 1000; i++)
			usleep(1000); /* busy while the row being appended is open */
		cr_assert_eq(r, 0, "remount read-only: %s", strerror(errno));
	} else
		cr_assert_eq(chmod(csv, 0444), 0);
	cr_assert_eq(wait_exit(pid), CB_EXIT_LOST);
	assert_one_message("bench: cannot write", m ? "read-only file system: " : "permission denied: ");
	cr_assert_gt(assert_whole(csv, NULL, 0), 1);
	assert_none_left();
}

/* ---- processes ------------------------------------------------------------------------- */

/* The first child of pid whose command line starts with argv0 [argv1], waited for at most
 * tries steps; -1 if none came. */
static pid_t find_child_within(pid_t pid, const char *arg1, int tries)
{
	for (int i = 0; i < tries; i++, usleep(WAIT_STEP_US)) {
		char path[64], buf[4096];
		snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		int c, found = 0;
		while (!found && fscanf(f, "%d", &c) == 1) {
			if (!arg1)
				found = c;
			snprintf(path, sizeof path, "/proc/%d/cmdline", c);
			int fd = open(path, O_RDONLY);
			ssize_t r = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
			if (fd >= 0)
				close(fd);
			if (arg1 && r > 0 && (size_t)r > strlen(buf) + 1 && !strcmp(buf + strlen(buf) + 1, arg1))
				found = c;
		}
		fclose(f);
		if (found)
			return found;
	}
	return -1;
}

static pid_t find_child(pid_t pid, const char *arg1)
{
	pid_t c = find_child_within(pid, arg1, 2000);
	if (c < 0)
		cr_assert_fail("no child %s of %d", arg1 ? arg1 : "", pid);
	return c;
}

/* The supervisor dies without a word (SIGKILL): its cells, their workers and the load
 * generator die with it; the file holds whole rows. */
Test(faults, sigkill_of_the_suite_leaves_no_cell_running, .timeout = 90)
{
	const char *out = in_tmp("k"), *csv = in_tmp("k/runs.csv");
	char *a[] = {"bench", "suite", "--quick", "--reps", "1000", "--backends", "fork,threads",
		     "--workloads", "io.echo", "--out", (char *)out, NULL};
	pid_t pid = start_bench(0, NULL, a);
	wait_lines(csv, 2);
	/* Each repetition is a cell process of its own: catch one while its load generator is up. */
	pid_t lg = -1;
	for (int i = 0; i < 200 && lg < 0; i++)
		lg = find_child_within(find_child(pid, NULL), "loadgen", 20);
	cr_assert_gt(lg, 0, "a cell's load generator came up");
	kill(pid, SIGKILL);
	cr_assert_eq(wait_exit(pid), 128 + SIGKILL);
	assert_none_left();
	assert_whole(csv, NULL, 0);
}

Test(faults, sigkill_of_a_cell_is_a_crash_row)
{
	const char *csv = in_tmp("runs.csv");
	char *a[] = {"bench", "run", "--backend", "threads", "--workload", "cpu.fib", "--tasks", "2",
		     "--size", "25", "--reps", "10000", "--warmup", "0", "--csv", (char *)csv, NULL};
	pid_t pid = start_bench(0, NULL, a);
	wait_lines(csv, 3);
	kill(find_child(pid, NULL), SIGKILL);
	cr_assert_eq(wait_exit(pid), 1);
	static char st[1 << 20];
	int rows = assert_whole(csv, st, sizeof st);
	cr_assert(strstr(st, "ok crash "), "ok rows, then one crash row: %s", st);
	cr_assert_eq(strstr(st, "crash") - st, (long)strlen(st) - 6, "the crash row is last");
	cr_assert_gt(rows, 2);
	char *s = tu_slurp(csv);
	cr_assert(strstr(s, ",crash,killed by signal 9 (Killed),"), "the crash row names the signal");
	free(s);
	assert_none_left();
}

/* Ctrl-C pressed twice, or a service manager's SIGTERM repeated: one clean stop. */
static void signal_twice(int sig)
{
	const char *out = in_tmp("s"), *csv = in_tmp("s/runs.csv");
	char *a[] = {"bench", "suite", "--quick", "--reps", "1000", "--backends", "threads,fork",
		     "--workloads", "io.echo,cpu.fib", "--out", (char *)out, NULL};
	pid_t pid = start_bench(0, NULL, a);
	wait_lines(csv, 3);
	kill(pid, sig);
	usleep(20000);
	kill(pid, sig);
	cr_assert_eq(wait_exit(pid), 130);
	assert_one_message("bench: interrupted", "holds only whole rows");
	assert_whole(csv, NULL, 0);
	assert_none_left();
}

Test(faults, sigint_twice) { signal_twice(SIGINT); }
Test(faults, sigterm_twice) { signal_twice(SIGTERM); }

Test(faults, load_generator_killed_mid_window_is_an_error_row)
{
	const char *csv = in_tmp("runs.csv");
	char *a[] = {"bench", "run", "--backend", "threads", "--workload", "io.echo", "--tasks", "4",
		     "--param", "msgs=100000000", "--reps", "1", "--warmup", "0", "--csv", (char *)csv,
		     "--quiet", NULL};
	pid_t pid = start_bench(0, NULL, a);
	pid_t lg = find_child(find_child(pid, NULL), "loadgen");
	usleep(300000); /* its connections are up: inside the measured window */
	kill(lg, SIGKILL);
	cr_assert_eq(wait_exit(pid), 1);
	char st[256];
	cr_assert_eq(assert_whole(csv, st, sizeof st), 1);
	cr_assert_str_eq(st, "error ");
	char *s = tu_slurp(csv);
	cr_assert(strstr(s, "load generator gave no report (killed by signal 9)") ||
		  strstr(s, "load generator did not connect"), "%s", s); /* a box too busy to connect in 0.3 s */
	free(s);
	assert_none_left();
}

/* A backend that runs out of address space (RLIMIT_AS on the whole run, supervisor
 * included): the cell's row says why, the supervisor still writes it whole. A cheaper
 * sibling of e2e's address_space_exhaustion test (2 GiB, a million tasks). */
Test(faults, address_space_limit_is_a_row_with_a_reason)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	cr_skip_test("sanitizer builds reserve more address space than the limit tested here");
#endif
	const char *backends[] = {"threads", "mn"};
	for (int i = 0; i < 2; i++) {
		if (!cb_backend_find(backends[i]))
			continue;
		char csv[300], st[64];
		snprintf(csv, sizeof csv, "%s/%s.csv", tmpdir, backends[i]);
		pid_t pid = fork();
		if (pid == 0) {
			struct rlimit rl = {(rlim_t)512 << 20, (rlim_t)512 << 20};
			setrlimit(RLIMIT_AS, &rl);
			char *a[] = {"bench", "run", "--backend", (char *)backends[i], "--workload", "micro.idle",
				     "--tasks", "20000", "--reps", "1", "--warmup", "0", "--csv", csv, "--quiet", NULL};
			execv(tu_bench(), a);
			_exit(127);
		}
		cr_assert_eq(wait_exit(pid), 1, "%s: a failed cell, not a crashed run", backends[i]);
		cr_assert_eq(assert_whole(csv, st, sizeof st), 1);
		cr_assert(!strcmp(st, "unsupported ") || !strcmp(st, "error "), "%s: %s", backends[i], st);
		char *s = tu_slurp(csv);
		cr_assert(strstr(s, backends[i]) && !strstr(s, "crash"), "%s", s);
		free(s);
	}
	assert_none_left();
}

/* ---- the drain: no row lost between the pipe and waitpid -------------------------------- */

/* With the reaper slowed down, a cell's last rows (and an ABORT line) land in the pipe
 * after the last poll and before waitpid sees the exit: they must still be read. */
Test(faults, delayed_reaper_keeps_the_last_rows)
{
	const char *csv = in_tmp("runs.csv");
	/* A cell slow enough that the supervisor's first poll (50 ms) finds nothing, and fast
	 * enough that it sends its rows and exits while the reaper sleeps: the window of the
	 * issue. The harness before the drain lost every row of 2 of 6 such runs under
	 * `strace -e inject=wait4:delay_enter=200000` (the same delay, injected from outside). */
	for (int i = 0; i < 3; i++) {
		char *a[] = {"bench", "run", "--backend", "serial", "--workload", "cpu.fib", "--tasks", "2",
			     "--size", "34", "--reps", "2", "--csv", (char *)csv, "--quiet", NULL};
		cr_assert_eq(wait_exit(start_bench(0, "CB_TEST_REAP_DELAY_MS=200", a)), 0);
	}
	char st[512];
	cr_assert_eq(assert_whole(csv, st, sizeof st), 6);
	cr_assert_str_eq(st, "ok ok ok ok ok ok ");
	char *u[] = {"bench", "run", "--backend", "threads", "--workload", "micro.skynet", "--csv",
		     (char *)in_tmp("u.csv"), "--quiet", NULL};
	cr_assert_eq(wait_exit(start_bench(0, "CB_TEST_REAP_DELAY_MS=200", u)), 1);
	cr_assert_eq(assert_whole(in_tmp("u.csv"), st, sizeof st), 1);
	cr_assert_str_eq(st, "unsupported ", "the ABORT line is read, not lost to the exit");
}

/* A cell killed at its deadline keeps the rows it had sent, then gets its timeout row. The
 * cell's 10000 repetitions take ~7 s here (fib(22)'s took 0.6 s on a fast box: they ended
 * before the 1 s deadline, exit 0, one run in a few). */
Test(faults, timeout_keeps_the_rows_sent_before_it)
{
	const char *csv = in_tmp("runs.csv");
	char *a[] = {"bench", "run", "--backend", "serial", "--workload", "cpu.fib", "--tasks", "2",
		     "--size", "27", "--reps", "10000", "--warmup", "0", "--timeout", "1", "--csv",
		     (char *)csv, "--quiet", NULL};
	cr_assert_eq(wait_exit(start_bench(0, NULL, a)), 1);
	static char st[1 << 20];
	int rows = assert_whole(csv, st, sizeof st);
	cr_assert_gt(rows, 2);
	cr_assert_eq(strstr(st, "timeout") - st, (long)strlen(st) - 8, "ok rows, then the timeout row");
	assert_none_left();
}

/* ---- bad files and values: refused before anything runs -------------------------------- */

/* bench run on an existing file with content: exit 2, one line holding needle, the file
 * byte for byte as it was. */
static void expect_refused_file(const char *content, size_t len, const char *needle)
{
	const char *csv = in_tmp("bad.csv");
	FILE *f = fopen(csv, "wb");
	fwrite(content, 1, len, f);
	fclose(f);
	char *a[] = {"bench", "run", "--backend", "serial", "--workload", "cpu.fib", "--tasks", "2",
		     "--size", "18", "--csv", (char *)csv, "--quiet", NULL};
	char err[4096];
	cr_assert_eq(tu_run(a, err, sizeof err, NULL, 0), 2, "%s", err);
	cr_assert(strstr(err, needle), "'%s' lacks '%s'", err, needle);
	cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
	FILE *g = fopen(csv, "rb");
	char back[8192];
	size_t n = fread(back, 1, sizeof back, g);
	fclose(g);
	cr_assert(n == len && !memcmp(back, content, len), "the file was changed (%s)", needle);
}

Test(faults, damaged_or_foreign_files_are_refused_with_their_line)
{
	char good[4096];
	const char *csv = in_tmp("good.csv");
	char *a[] = {"bench", "run", "--backend", "serial", "--workload", "cpu.fib", "--tasks", "2",
		     "--size", "18", "--reps", "2", "--csv", (char *)csv, "--quiet", NULL};
	char err[4096];
	cr_assert_eq(tu_run(a, err, sizeof err, NULL, 0), 0, "%s", err);
	char *s = tu_slurp(csv);
	size_t len = strlen(s), hl = strlen(CB_CSV_HEADER);
	cr_assert_lt(len, sizeof good);
	memcpy(good, s, len);
	free(s);
	struct {
		const char *what, *needle;
		char text[8192];
		size_t len;
	} c[10];
	int n = 0;
#define CASE(w, nd, ...)                                                                         \
	(c[n].what = (w), c[n].needle = (nd), c[n].len = (size_t)snprintf(c[n].text, sizeof c[n].text, __VA_ARGS__), n++)
	CASE("foreign header", "line 1 is \"a,b,c\"", "a,b,c\r\n1,2,3\r\n");
	CASE("header without its CRLF", "not a concbench runs.csv", "%.*s", (int)hl - 2, good);
	CASE("half row at the end", "line 3: the file ends in a half row", "%.*s", (int)len - 40, good);
	CASE("unterminated quote at the end", "line 4: the file ends in a half row", "%s1,\"abc", good);
	CASE("glued rows", "line 3: a half or damaged row (", "%.*s%s", (int)len - 40, good, good + hl);
	CASE("unknown schema", "line 4: a row of unknown schema \"9\"", "%s9,x\r\n", good);
	CASE("empty line", "line 4: a row of unknown schema \"\"", "%s\r\n", good);
	CASE("stray quote", "line 4: not RFC 4180", "%s1,a\"b\r\n", good);
	CASE("bare CR", "line 4: not RFC 4180", "%s1,a\rb\r\n", good);
	CASE("the header twice", "line 2: a row of unknown schema \"schema\"", "%s%s", CB_CSV_HEADER, CB_CSV_HEADER);
#undef CASE
	for (int i = 0; i < n; i++) {
		cr_log_info("%s", c[i].what);
		expect_refused_file(c[i].text, c[i].len, c[i].needle);
	}
	/* a schema-1 file is appended to (the scripts read it) */
	FILE *f = fopen(in_tmp("v1.csv"), "w");
	fputs(cb_csv_header_v1, f);
	fclose(f);
	char *b[] = {"bench", "run", "--backend", "serial", "--workload", "cpu.fib", "--tasks", "2",
		     "--size", "18", "--reps", "1", "--csv", (char *)in_tmp("v1.csv"), "--quiet", NULL};
	cr_assert_eq(tu_run(b, err, sizeof err, NULL, 0), 0, "%s", err);
}

/* Values: the run id is validated (exit 2 before anything runs), any other text is quoted;
 * a run id with commas and quotes is a valid one, and comes back as it went in. */
Test(faults, run_id_validated_or_quoted)
{
	char long_id[200];
	memset(long_id, 'x', sizeof long_id - 1);
	long_id[sizeof long_id - 1] = 0;
	const char *bad[][2] = {{"a\nb", "control character 0x0a"}, {"a\rb", "control character 0x0d"},
				{"a\x01", "control character 0x01"},  {"caf\xe9", "not UTF-8 at byte 3"},
				{"\xed\xa0\x80", "not UTF-8"},        {long_id, "199 bytes, at most 127"}};
	const char *csv = in_tmp("ids.csv");
	char err[4096];
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *a[] = {"bench", "run", "--backend", "serial", "--workload", "cpu.fib", "--run-id",
			     (char *)bad[i][0], "--csv", (char *)csv, "--quiet", NULL};
		cr_assert_eq(tu_run(a, err, sizeof err, NULL, 0), 2, "%s", err);
		cr_assert(strstr(err, bad[i][1]), "%s", err);
		cr_assert_eq(access(csv, F_OK), -1, "nothing written");
	}
	const char *odd = "a,\"b\" ; c=1 é";
	char *a[] = {"bench", "run", "--backend", "serial", "--workload", "cpu.fib", "--tasks", "2",
		     "--size", "18", "--reps", "1", "--run-id", (char *)odd, "--csv", (char *)csv, "--quiet", NULL};
	cr_assert_eq(tu_run(a, err, sizeof err, NULL, 0), 0, "%s", err);
	char *s = tu_slurp(csv);
	const char *p = s;
	char store[8192], *f[CB_NCOLUMNS + 1];
	tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1);
	cr_assert_eq(tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1), FIELDS);
	cr_assert_str_eq(f[CB_COL_run_id], odd);
	free(s);
	/* the suite's run id is its folder's name */
	char *u[] = {"bench", "suite", "--out", (char *)in_tmp("a\nb"), "--backends", "serial", "--workloads", "cpu.fib", NULL};
	cr_assert_eq(tu_run(u, err, sizeof err, NULL, 0), 2, "%s", err);
	cr_assert(strstr(err, "the folder's name is the run id: control character 0x0a"), "%s", err);
}

/* ---- the writer: random field contents round-trip -------------------------------------- */

#define ROUNDTRIP_ROWS 400

/* A random text of pieces that CSV must quote or keep: separators, quotes, line breaks,
 * multi-byte UTF-8, spaces at the ends. */
static void random_text(unsigned *seed, char *out, size_t n)
{
	static const char *const pieces[] = {",", "\"", "\r", "\n", "\r\n", "\t", " ", ";", "=", "a",
					     "Z", "0", "é", "€", "😀", "\xc2\xa0", "\"\"", ",,", "x=1;y=2"};
	size_t at = 0;
	int len = rand_r(seed) % 40;
	for (int i = 0; i < len; i++) {
		const char *p = pieces[rand_r(seed) % (sizeof pieces / sizeof *pieces)];
		if (at + strlen(p) + 1 >= n)
			break;
		memcpy(out + at, p, strlen(p));
		at += strlen(p);
	}
	out[at] = 0;
}

static void hex_field(FILE *f, const char *name, const char *v)
{
	fprintf(f, "%s=", name);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		fprintf(f, "%02x", *p);
	fputc(' ', f);
}

Test(faults, random_text_fields_round_trip_through_python)
{
	unsigned seed = (unsigned)getpid();
	cr_log_info("seed %u", seed);
	const char *csv = in_tmp("rt.csv"), *exp = in_tmp("rt.expected");
	FILE *e = fopen(exp, "w");
	cr_assert_not_null(e);
	for (int i = 0; i < ROUNDTRIP_ROWS; i++) {
		cb_meta m;
		memset(&m, 0, sizeof m);
		random_text(&seed, m.run_id, sizeof m.run_id);
		random_text(&seed, m.host, sizeof m.host);
		random_text(&seed, m.cpu_model, sizeof m.cpu_model);
		random_text(&seed, m.kernel, sizeof m.kernel);
		random_text(&seed, m.cc, sizeof m.cc);
		random_text(&seed, m.git_rev, sizeof m.git_rev);
		m.ncpu = 2;
		char be[64], wl[64];
		random_text(&seed, be, sizeof be);
		random_text(&seed, wl, sizeof wl);
		cb_row r;
		memset(&r, 0, sizeof r);
		snprintf(r.utc, sizeof r.utc, "2026-01-01T00:00:00Z");
		r.backend = be, r.workload = wl, r.status = "ok";
		r.tasks = 1, r.workers = 1, r.size = 1, r.wall_ns = 1 + i, r.ops = 1;
		random_text(&seed, r.params, sizeof r.params);
		random_text(&seed, r.note, sizeof r.note);
		char line[4000];
		int n = cb_csv_format(&m, &r, line, sizeof line);
		cr_assert_gt(n, 0);
		size_t rl;
		cr_assert_eq(cb_csv_scan_record(line, (size_t)n, &rl), FIELDS, "the scanner agrees: %s", line);
		cr_assert_eq(rl, (size_t)n);
		cr_assert_eq(cb_csv_append(csv, line, (size_t)n), 0);
		hex_field(e, "run_id", m.run_id), hex_field(e, "host", m.host);
		hex_field(e, "cpu_model", m.cpu_model), hex_field(e, "kernel", m.kernel);
		hex_field(e, "cc", m.cc), hex_field(e, "git_rev", m.git_rev), hex_field(e, "backend", be);
		hex_field(e, "workload", wl), hex_field(e, "params", r.params), hex_field(e, "note", r.note);
		fputc('\n', e);
	}
	fclose(e);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "python3 tests/csv_roundtrip.py %s %s > %s 2>&1", csv, exp, in_tmp("rt.out"));
	int rc = system(cmd);
	char *out = tu_slurp(in_tmp("rt.out"));
	cr_assert_eq(rc, 0, "round trip (seed %u): %s", seed, out);
	free(out);
}
