/* test_harness.c: unit tests of the harness pieces: number parsing, CSV writer, histogram,
 * registry and cell parameters. */
#include <criterion/criterion.h>
#include <inttypes.h>

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
	cr_assert_eq(commas, 31, "32 columns");
	cr_assert(strncmp(h, "schema,run_id,utc,", 18) == 0);
	cr_assert(strstr(h, ",checksum,status,note\r\n"));
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
	char store[4096], *f[40];
	int nf = tu_csv_record(&p, store, sizeof store, f, 40);
	cr_assert_eq(nf, 32);
	cr_assert_str_eq(f[0], CB_SCHEMA);
	cr_assert_str_eq(f[1], "run,\"x\"");
	cr_assert_str_eq(f[9], "threads");
	cr_assert_str_eq(f[14], "a=1;b=2");
	cr_assert_str_eq(f[16], "123456789");
	cr_assert_str_eq(f[22], "", "no latency: empty p50");
	cr_assert_str_eq(f[29], "6656320");
	cr_assert_str_eq(f[30], "ok");
	cr_assert_str_eq(f[31], "line one\nsays \"hi\", then");
}

Test(csv, failed_rows_leave_measurements_empty, .timeout = 10)
{
	cb_meta m = meta();
	cb_row r;
	memset(&r, 0, sizeof r);
	r.backend = "threads", r.workload = "micro.skynet", r.status = "unsupported";
	r.wall_ns = 5;
	snprintf(r.note, sizeof r.note, "too many threads");
	char buf[4096], store[4096], *f[40];
	cr_assert_gt(cb_csv_format(&m, &r, buf, sizeof buf), 0);
	const char *p = buf;
	cr_assert_eq(tu_csv_record(&p, store, sizeof store, f, 40), 32);
	cr_assert_str_eq(f[16], "");
	cr_assert_str_eq(f[30], "unsupported");
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
	cr_assert_eq(c.p[0], 16);
	cr_assert_eq(cb_cell_set_param(&c, "stack_kb=256", why, sizeof why), 0, "backend param");
	cr_assert_eq(cb_cell_set_param(&c, "bogus=1", why, sizeof why), -1);
	cr_assert(strstr(why, "bogus"));
	cr_assert_eq(cb_cell_set_param(&c, "cap=x", why, sizeof why), -2);
	cr_assert_eq(cb_cell_set_param(&c, "cap=-1", why, sizeof why), -2);
	cr_assert_eq(cb_cell_set_param(&c, "cap", why, sizeof why), -2);
	cb_cell_params(&c, buf, sizeof buf);
	cr_assert_str_eq(buf, "cap=16;stack_kb=256");
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
