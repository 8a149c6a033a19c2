/* test_harness.c: unit tests of the harness pieces: number parsing, CSV writer, histogram,
 * registry and cell parameters. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "hist.h"
#include "testutil.h"
#include "util.h"

Test(parse, accepts_plain_and_suffixed_numbers, .timeout = 10)
{
	int64_t v;
	cr_assert_eq(cb_parse_int("42", &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(cb_parse_int("10k", &v), 0);
	cr_assert_eq(v, 10000);
	cr_assert_eq(cb_parse_int("1M", &v), 0);
	cr_assert_eq(v, 1000000);
	cr_assert_eq(cb_parse_int("-3", &v), 0);
	cr_assert_eq(v, -3);
}

Test(parse, rejects_junk_and_overflow, .timeout = 10)
{
	int64_t v;
	const char *bad[] = {"", "abc", "1.5", "12x", "k", "--1", "99999999999999999999",
			     "9223372036854775807k", " 1", "1 "};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_expect_eq(cb_parse_int(bad[i], &v), -1, "accepted \"%s\"", bad[i]);
}

static cb_meta meta(void)
{
	cb_meta m;
	cb_meta_fill(&m, "run,\"x\"");
	return m;
}

Test(csv, header_has_the_design_schema, .timeout = 10)
{
	const char *h = CB_CSV_HEADER;
	int commas = 0;
	for (const char *p = h; *p; p++)
		commas += *p == ',';
	cr_assert_eq(commas, CB_NCOLUMNS - 1);
	cr_assert_str_eq(CB_SCHEMA, "2");
	cr_assert(strncmp(h, "schema,run_id,utc,", 18) == 0);
	/* schema 2 appends after note; schema-1 readers find their columns where they were */
	cr_assert(strstr(h, ",checksum,status,note,round,seed,steal_ns,psi_cpu_us,loadavg1,p90_ns,p999_ns\r\n"));
	cr_assert_eq(CB_COL_note, 31);
	cr_assert_eq(CB_COL_round, 32);
	cr_assert_eq(CB_NCOLUMNS, 39);
}

/* The column indices are the header's own order: field k of the header is CB_COL_<name>. */
Test(csv, column_indices_follow_the_header, .timeout = 10)
{
	const char *p = CB_CSV_HEADER;
	char store[1024], *f[CB_NCOLUMNS + 1];
	cr_assert_eq(tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1), CB_NCOLUMNS);
	cr_assert_str_eq(f[CB_COL_wall_ns], "wall_ns");
	cr_assert_str_eq(f[CB_COL_steal_ns], "steal_ns");
	cr_assert_str_eq(f[CB_COL_psi_cpu_us], "psi_cpu_us");
	cr_assert_str_eq(f[CB_COL_p999_ns], "p999_ns");
}

Test(csv, noise_round_and_seed_columns, .timeout = 10)
{
	cb_meta m = meta();
	m.seed = 424242;
	cb_row r;
	memset(&r, 0, sizeof r);
	r.backend = "mn", r.workload = "mix.latency", r.status = "ok";
	r.wall_ns = 1000, r.round = 3;
	r.noise.steal_ns = 7000000, r.noise.have_psi = 1, r.noise.psi_cpu_us = 1234;
	r.noise.loadavg1 = 1.5;
	r.has_lat = 1, r.p50_ns = 10, r.p99_ns = 20, r.max_ns = 30;
	char buf[4096], store[4096], *f[CB_NCOLUMNS + 1];
	cr_assert_gt(cb_csv_format(&m, &r, buf, sizeof buf), 0);
	const char *p = buf;
	cr_assert_eq(tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1), CB_NCOLUMNS);
	cr_assert_str_eq(f[CB_COL_round], "3");
	cr_assert_str_eq(f[CB_COL_seed], "424242");
	cr_assert_str_eq(f[CB_COL_steal_ns], "7000000");
	cr_assert_str_eq(f[CB_COL_psi_cpu_us], "1234");
	cr_assert_str_eq(f[CB_COL_loadavg1], "1.50");
	cr_assert_str_eq(f[CB_COL_p90_ns], "", "no histogram tail recorded: empty p90");
	cr_assert_str_eq(f[CB_COL_p99_ns], "20");
	/* a kernel without /proc/pressure: the column is empty, not zero */
	r.noise.have_psi = 0;
	r.has_p90 = 1, r.p90_ns = 15, r.p999_ns = 25;
	cr_assert_gt(cb_csv_format(&m, &r, buf, sizeof buf), 0);
	p = buf;
	tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1);
	cr_assert_str_eq(f[CB_COL_psi_cpu_us], "");
	cr_assert_str_eq(f[CB_COL_p90_ns], "15");
	cr_assert_str_eq(f[CB_COL_p999_ns], "25");
}

/* Steal and pressure are cumulative counters: a sample is monotonic and a delta is >= 0. */
Test(noise, sample_reads_proc_and_deltas_are_counters, .timeout = 10)
{
	cb_noise a, b;
	cb_noise_sample(&a);
	volatile uint64_t x = 0;
	for (int i = 0; i < 1000000; i++)
		x += (uint64_t)i;
	cb_noise_sample(&b);
	cr_assert_geq(b.steal_ns, a.steal_ns);
	cr_assert_eq(a.have_psi, access("/proc/pressure/cpu", R_OK) == 0);
	if (a.have_psi)
		cr_assert_geq(b.psi_cpu_us, a.psi_cpu_us);
	cr_assert_geq(a.loadavg1, 0.0);
	cb_noise d = cb_noise_delta(&a, &b);
	cr_assert_eq(d.steal_ns, b.steal_ns - a.steal_ns);
	cr_assert_eq(d.loadavg1, a.loadavg1, "load average is the one at the start");
	/* a counter that went backwards (a wrapped or reset counter) gives 0, not 2^64 - k */
	cb_noise back = cb_noise_delta(&b, &a);
	cr_assert(back.steal_ns == 0 || b.steal_ns == a.steal_ns);
}

/* google/benchmark's rule: 1.4 x target / elapsed, at most 10x per probe, never shrinking,
 * capped at the knob's maximum. */
Test(calibrate, next_count_grows_toward_the_target, .timeout = 10)
{
	const uint64_t ms = 1000000;
	cr_assert_eq(cb_calibrate_next(100, 100 * ms, 200 * ms, 1000000), 280);
	cr_assert_eq(cb_calibrate_next(100, 1 * ms, 200 * ms, 1000000), 1000, "growth capped at 10x");
	cr_assert_eq(cb_calibrate_next(100, 0, 200 * ms, 1000000), 1000, "a zero reading grows 10x");
	cr_assert_eq(cb_calibrate_next(1, 199 * ms, 200 * ms, 1000000), 2, "always at least one more");
	cr_assert_eq(cb_calibrate_next(500, 1 * ms, 200 * ms, 600), 600, "capped at the maximum");
}

static void write_file(const char *dir, const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, rel);
	for (char *s = p + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(p, 0755);
		*s = '/';
	}
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f, "%s", p);
	fputs(text, f);
	fclose(f);
}

/* A fake cgroup tree: v2's cpu.max with the tightest limit on a parent, v1's quota files. */
Test(cpus, cgroup_quota_v2_v1_and_unlimited, .timeout = 10)
{
	char dir[] = "/tmp/cbcg-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char sys[300], proc[300];
	snprintf(sys, sizeof sys, "%s/sys", dir);
	snprintf(proc, sizeof proc, "%s/cgroup", dir);
	write_file(dir, "sys/cpu.max", "max 100000\n");
	write_file(dir, "sys/a/cpu.max", "150000 100000\n");
	write_file(dir, "sys/a/b/cpu.max", "max 100000\n");
	write_file(dir, "cgroup", "0::/a/b\n");
	cr_assert_float_eq(cb_cgroup_quota_cpus(sys, proc), 1.5, 1e-9, "the parent's 1.5 CPUs bind");
	cr_assert_eq(cb_usable_cpus_of(64, 1.5), 2, "1.5 CPUs of quota: two threads");
	cr_assert_eq(cb_usable_cpus_of(1, 1.5), 1, "affinity to one CPU wins");
	cr_assert_eq(cb_usable_cpus_of(4, 0), 4, "no quota: the affinity");
	write_file(dir, "sys/a/cpu.max", "max 100000\n");
	cr_assert_eq(cb_cgroup_quota_cpus(sys, proc), 0.0, "unlimited");
	write_file(dir, "cgroup", "4:cpu,cpuacct:/k\n3:cpuset:/\n");
	write_file(dir, "sys/cpu,cpuacct/k/cpu.cfs_quota_us", "300000\n");
	write_file(dir, "sys/cpu,cpuacct/k/cpu.cfs_period_us", "100000\n");
	cr_assert_float_eq(cb_cgroup_quota_cpus(sys, proc), 3.0, 1e-9, "v1 quota");
	write_file(dir, "sys/cpu,cpuacct/k/cpu.cfs_quota_us", "-1\n");
	cr_assert_eq(cb_cgroup_quota_cpus(sys, proc), 0.0, "v1 -1: unlimited");
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* The affinity mask is what this process may run on: pinned to one CPU, one is usable. */
Test(cpus, affinity_counts_the_mask, .timeout = 10)
{
	cpu_set_t old, one;
	cr_assert_eq(sched_getaffinity(0, sizeof old, &old), 0);
	CPU_ZERO(&one);
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &old)) {
			CPU_SET(i, &one);
			break;
		}
	cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0);
	int pinned = cb_affinity_cpus();
	sched_setaffinity(0, sizeof old, &old);
	cr_assert_eq(pinned, 1);
	cr_assert_eq(cb_affinity_cpus(), CPU_COUNT(&old));
}

Test(csv, row_quotes_fields_and_round_trips, .timeout = 10)
{
	cb_meta m = meta();
	cb_row r;
	memset(&r, 0, sizeof r);
	snprintf(r.utc, sizeof r.utc, "2026-01-01T00:00:00Z");
	r.backend = "threads";
	r.workload = "cpu.fib";
	r.tasks = 8, r.workers = 2, r.size = 30, r.rep = 3;
	snprintf(r.params, sizeof r.params, "a=1;b=2");
	r.wall_ns = 123456789;
	r.ops = 8;
	r.ops_per_s = 64.8;
	r.has_checksum = 1;
	r.checksum = 6656320;
	r.status = "ok";
	snprintf(r.note, sizeof r.note, "line one\nsays \"hi\", then");
	char buf[4096];
	int n = cb_csv_format(&m, &r, buf, sizeof buf);
	cr_assert_gt(n, 0);
	cr_assert(buf[n - 2] == '\r' && buf[n - 1] == '\n');
	const char *p = buf;
	char store[4096], *f[CB_NCOLUMNS + 1];
	int nf = tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1);
	cr_assert_eq(nf, CB_NCOLUMNS);
	cr_assert_str_eq(f[CB_COL_schema], CB_SCHEMA);
	cr_assert_str_eq(f[CB_COL_run_id], "run,\"x\"");
	cr_assert_str_eq(f[CB_COL_backend], "threads");
	cr_assert_str_eq(f[CB_COL_params], "a=1;b=2");
	cr_assert_str_eq(f[CB_COL_wall_ns], "123456789");
	cr_assert_str_eq(f[CB_COL_p50_ns], "", "no latency: empty p50");
	cr_assert_str_eq(f[CB_COL_checksum], "6656320");
	cr_assert_str_eq(f[CB_COL_status], "ok");
	cr_assert_str_eq(f[CB_COL_note], "line one\nsays \"hi\", then");
}

Test(csv, failed_rows_leave_measurements_empty, .timeout = 10)
{
	cb_meta m = meta();
	cb_row r;
	memset(&r, 0, sizeof r);
	r.backend = "threads", r.workload = "micro.skynet", r.status = "unsupported";
	r.wall_ns = 5;
	snprintf(r.note, sizeof r.note, "too many threads");
	char buf[4096], store[4096], *f[CB_NCOLUMNS + 1];
	cr_assert_gt(cb_csv_format(&m, &r, buf, sizeof buf), 0);
	const char *p = buf;
	cr_assert_eq(tu_csv_record(&p, store, sizeof store, f, CB_NCOLUMNS + 1), CB_NCOLUMNS);
	cr_assert_str_eq(f[CB_COL_wall_ns], "");
	cr_assert_str_eq(f[CB_COL_status], "unsupported");
}

Test(csv, append_writes_header_once, .timeout = 10)
{
	char dir[] = "/tmp/cbtest-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof path, "%s/x.csv", dir);
	char why[128];
	cr_assert_eq(cb_csv_check_writable(path, why, sizeof why), 0);
	cr_assert_eq(access(path, F_OK), -1, "checking must not create the file");
	cr_assert_eq(cb_csv_append(path, "a\r\n", 3), 0);
	cr_assert_eq(cb_csv_append(path, "b\r\n", 3), 0);
	char *s = tu_slurp(path);
	cr_assert(strncmp(s, "schema,", 7) == 0);
	cr_assert(strstr(s, "\r\na\r\nb\r\n"));
	cr_assert_null(strstr(s + 1, "schema,"));
	free(s);
	cr_assert_eq(cb_csv_check_writable("/nonexistent-dir/x.csv", why, sizeof why), -1);
	cr_assert_eq(cb_csv_check_writable(dir, why, sizeof why), -1, "a folder is not a CSV");
	unlink(path);
	rmdir(dir);
}

Test(hist, quantiles_within_bucket_error, .timeout = 10)
{
	cb_hist *h = malloc(sizeof *h);
	cb_hist_init(h);
	for (uint64_t v = 1; v <= 100000; v++)
		cb_hist_add(h, v * 1000);
	uint64_t p50 = cb_hist_quantile(h, 0.5), p99 = cb_hist_quantile(h, 0.99);
	cr_assert(p50 >= 50000000 && p50 <= 50000000 + 50000000 / 60, "p50 %" PRIu64, p50);
	cr_assert(p99 >= 99000000 && p99 <= 99000000 + 99000000 / 60, "p99 %" PRIu64, p99);
	cr_assert_eq(cb_hist_quantile(h, 1.0), 100000000);
	cr_assert_eq(h->max, 100000000);
	free(h);
}

Test(hist, small_values_exact_and_merge, .timeout = 10)
{
	cb_hist a, b;
	cb_hist_init(&a);
	cb_hist_init(&b);
	cr_assert_eq(cb_hist_quantile(&a, 0.5), 0, "empty");
	for (int i = 0; i < 10; i++)
		cb_hist_add(&a, 7);
	for (int i = 0; i < 30; i++)
		cb_hist_add(&b, 40);
	cb_hist_merge(&a, &b);
	cr_assert_eq(a.count, 40);
	cr_assert_eq(cb_hist_quantile(&a, 0.2), 7);
	cr_assert_eq(cb_hist_quantile(&a, 0.5), 40);
	cr_assert_eq(a.min, 7);
}

Test(registry, names_unique_and_findable, .timeout = 10)
{
	cr_assert_not_null(cb_backend_find("serial"));
	cr_assert_not_null(cb_backend_find("threads"));
	cr_assert_null(cb_backend_find("nope"));
	int nw = 0;
	for (size_t i = 0; cb_workloads[i]; i++, nw++) {
		const cb_workload *w = cb_workloads[i];
		cr_assert_eq(cb_workload_find(w->name), w);
		cr_assert(w->root && w->finish && w->unit && w->summary, "%s incomplete", w->name);
		cr_assert(w->tasks_def <= w->tasks_max && w->size_def <= w->size_max, "%s defaults", w->name);
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(cb_workloads[j]->name, w->name);
	}
	cr_assert_geq(nw, 14);
	for (size_t i = 0; i < cb_nbackends; i++)
		if (cb_backends[i])
			cr_assert_eq(cb_backend_find(cb_backends[i]->name), cb_backends[i]);
}

Test(cell, params_validated_and_listed, .timeout = 10)
{
	cb_cell c;
	cb_cell_defaults(&c, cb_backend_find("threads"), cb_workload_find("micro.chan"));
	char why[256], buf[512];
	cr_assert_eq(cb_cell_set_param(&c, "cap=16", why, sizeof why), 0);
	cr_assert_eq(c.p[tu_slot(c.wl->params, "cap")], 16);
	cr_assert_eq(cb_cell_set_param(&c, "stack_kb=256", why, sizeof why), 0, "backend param");
	cr_assert_eq(cb_cell_set_param(&c, "bogus=1", why, sizeof why), -1);
	cr_assert(strstr(why, "bogus"));
	cr_assert_eq(cb_cell_set_param(&c, "cap=x", why, sizeof why), -2);
	cr_assert_eq(cb_cell_set_param(&c, "cap=-1", why, sizeof why), -2);
	cr_assert_eq(cb_cell_set_param(&c, "cap", why, sizeof why), -2);
	cb_cell_params(&c, buf, sizeof buf);
	cr_assert_str_eq(buf, "cap=16;stack_kb=256");
}

/* --param and calibration find a parameter by its name, the workload's table first: a name
 * in both a workload's and a backend's table would leave the backend's unreachable, and one
 * twice in a table its second slot; each slot's default lies in its range. */
Test(cell, param_names_unique_in_every_cell, .timeout = 10)
{
	for (size_t b = 0; b < cb_nbackends; b++)
		for (size_t w = 0; cb_backends[b] && cb_workloads[w]; w++) {
			const cb_param_def *t[2] = {cb_workloads[w]->params, cb_backends[b]->params};
			for (int k = 0; k < 2; k++)
				for (int i = 0; t[k] && t[k][i].name; i++) {
					const cb_param_def *d = &t[k][i];
					cr_assert(d->min <= d->def && d->def <= d->max, "%s default", d->name);
					cr_assert_eq(cb_param_slot(t[k], d->name), i, "%s twice in %s",
						     d->name, k ? cb_backends[b]->name : cb_workloads[w]->name);
					cr_assert(k == 0 || cb_param_slot(t[0], d->name) < 0,
						  "%s of %s hidden by %s's", d->name, cb_backends[b]->name,
						  cb_workloads[w]->name);
				}
		}
}

#include <arpa/inet.h>
#include <netinet/in.h>

#include "common.h"

Test(security, servers_listen_on_loopback_only, .timeout = 10)
{
	char err[128];
	int port = 0;
	int fd = wl_listen(16, &port, err, sizeof err);
	cr_assert_geq(fd, 0, "%s", err);
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	cr_assert_eq(sa.sin_family, AF_INET);
	cr_assert_eq(ntohl(sa.sin_addr.s_addr), INADDR_LOOPBACK, "bound to 127.0.0.1, not beyond");
	cr_assert_gt(port, 0);
	close(fd);
}

/* A cell's process reports the expected checksum it checked its row against (EXP), and a
 * later process of the same cell given it (cb_cell.known_*, as bench suite passes it on)
 * uses it instead of recomputing: a wrong one given makes the row a mismatch, the right
 * one an ok row; at another knob value it is ignored. */
Test(cell, expected_sum_passed_to_later_rounds_is_used, .timeout = 60)
{
	cb_cell c;
	cb_cell_defaults(&c, cb_backend_find("serial"), cb_workload_find("cpu.hash"));
	c.tasks = 2, c.size = 4;
	char why[256];
	cr_assert_eq(cb_cell_set_param(&c, "rounds=3", why, sizeof why), 0);
	cb_meta meta;
	cb_meta_fill(&meta, "t");
	cb_run_opts ro = {.reps = 1, .warmup = 0, .timeout_s = 30, .meta = &meta};
	cb_cell_result res;
	cr_assert_eq(cb_cell_run(&c, &ro, &res), 0);
	cr_assert_eq(res.ok_rows, 1);
	cr_assert_eq(res.exp_knob, 3, "the knob the expected sum is for");
	uint64_t want = res.exp_value;
	cr_assert_neq(want, 0);

	c.known_knob = 3, c.known_expected = want ^ 1;
	cr_assert_eq(cb_cell_run(&c, &ro, &res), 1);
	cr_assert_str_eq(res.status, "mismatch", "the expected sum given was used");
	cr_assert_eq(res.exp_knob, 0, "a mismatched row reports no expected sum");

	c.known_expected = want;
	cr_assert_eq(cb_cell_run(&c, &ro, &res), 0);
	cr_assert_eq(res.ok_rows, 1);

	c.known_knob = 4, c.known_expected = want ^ 1; /* for another count: recomputed */
	cr_assert_eq(cb_cell_set_param(&c, "rounds=5", why, sizeof why), 0);
	cr_assert_eq(cb_cell_run(&c, &ro, &res), 0);
	cr_assert_eq(res.ok_rows, 1);
}
