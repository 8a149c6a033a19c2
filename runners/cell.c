/* cell.c: one cell (backend x workload x parameters), measured in a child process.
 *
 * The harness process is a supervisor: it forks the cell into its own process group, reads
 * finished rows from a pipe and appends each to the CSV (csvfile.c: whole or not at all),
 * and watches the clock. A crash becomes a `crash` row naming the signal, a hang a
 * `timeout` row, a cb_abort() an `unsupported`/`error` row; in every case the whole group is
 * killed and reaped, so nothing outlives the cell. Rows travel as single lines below
 * PIPE_BUF, so a row is either whole or absent, and each is checked to be one whole CSV
 * record before it is appended.
 *
 * No row is lost between the pipe and the exit: once waitpid has seen the cell exit,
 * everything it wrote is in the pipe, so the pipe is read until it is empty (not until EOF:
 * a grandchild may still hold it open). A cell killed at its deadline keeps the rows it had
 * sent; one whose every repetition is in by then gets no timeout row. The first append that
 * fails (disk full, file or folder removed, read-only) stops the cell and the run:
 * CB_EXIT_LOST, one line naming the file, the cause and the rows not written.
 *
 * Test hook: CB_TEST_REAP_DELAY_MS=N (read once) sleeps N ms between each poll of the pipe
 * and the waitpid that follows, widening the window in which a cell writes its last row and
 * exits; tests use it to show that the drain keeps that row. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

volatile int cb_interrupted;
static void on_signal(int sig) { cb_interrupted = sig; }

void cb_cell_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Past RLIMIT_FSIZE a write fails with EFBIG, reported like a full disk, instead of
	 * killing the harness between a row's first and last byte. */
	signal(SIGXFSZ, SIG_IGN);
	/* Orphans of a cell (a fork worker whose parent died) come back to us to be reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* ---- parameters ------------------------------------------------------------------- */

void cb_cell_defaults(cb_cell *c, const cb_backend *be, const cb_workload *wl)
{
	memset(c, 0, sizeof *c);
	c->be = be;
	c->wl = wl;
	c->cfg.workers = cb_ncpu();
	c->cfg.independent = wl->independent;
	c->cfg.cold = wl->cold;
	c->tasks = wl->tasks_def;
	c->size = wl->size_def;
	for (int i = 0; wl->params && wl->params[i].name; i++)
		c->p[i] = wl->params[i].def;
	for (int i = 0; be->params && be->params[i].name; i++)
		c->cfg.p[i] = be->params[i].def;
}

int cb_param_slot(const cb_param_def *defs, const char *name)
{
	for (int i = 0; defs && defs[i].name; i++)
		if (!strcmp(defs[i].name, name))
			return i;
	return -1;
}

static int set_in(const cb_param_def *defs, int64_t *vals, const char *key, const char *val,
		  char *why, size_t n)
{
	int i = cb_param_slot(defs, key);
	if (i < 0)
		return -1;
	int64_t v;
	if (cb_parse_int(val, &v) < 0)
		return snprintf(why, n, "--param %s=%s: not a number", key, val), -2;
	if (v < defs[i].min || v > defs[i].max)
		return snprintf(why, n, "--param %s=%s: out of range %" PRId64 "..%" PRId64, key,
				val, defs[i].min, defs[i].max), -2;
	vals[i] = v;
	return 0;
}

int cb_cell_set_param(cb_cell *c, const char *kv, char *why, size_t n)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return snprintf(why, n, "--param %s: expected KEY=VALUE", kv), -2;
	char key[64];
	snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
	int r = set_in(c->wl->params, c->p, key, eq + 1, why, n);
	if (r == -1)
		r = set_in(c->be->params, c->cfg.p, key, eq + 1, why, n);
	if (r == -1)
		snprintf(why, n, "--param %s: unknown parameter for %s on %s (see bench list)", key,
			 c->wl->name, c->be->name);
	return r;
}

void cb_cell_params(const cb_cell *c, char *buf, size_t n)
{
	size_t at = 0;
	buf[0] = 0;
	for (int pass = 0; pass < 2; pass++) {
		const cb_param_def *d = pass ? c->be->params : c->wl->params;
		const int64_t *v = pass ? c->cfg.p : c->p;
		for (int i = 0; d && d[i].name && at < n; i++)
			at += (size_t)snprintf(buf + at, n - at, "%s%s=%" PRId64, at ? ";" : "",
					       d[i].name, v[i]);
	}
}

/* ---- the child: repetitions ---------------------------------------------------------- */

/* What says which cell and repetition a row is; measurements are left zero. */
static void row_identity(cb_row *row, const cb_cell *c, int rep)
{
	memset(row, 0, sizeof *row);
	cb_utc_now(row->utc, sizeof row->utc);
	row->backend = c->be->name;
	row->workload = c->wl->name;
	row->tasks = c->tasks;
	row->workers = c->cfg.workers;
	row->size = c->size;
	cb_cell_params(c, row->params, sizeof row->params);
	row->rep = rep;
}

static int64_t tv_ns(struct timeval tv) { return (int64_t)tv.tv_sec * 1000000000 + tv.tv_usec * 1000; }

static void send_line(const char *s, size_t len)
{
	if (write(cb_status_fd, s, len) != (ssize_t)len)
		_exit(4);
}

/* A note is one line of text: the row travels the pipe as one line (the CSV would quote a
 * line break, but the line splitter of the supervisor would cut the row there). */
static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

static void child_abort_on_refusal(const cb_cell *c)
{
	const cb_workload *wl = c->wl;
	if (!c->be->concurrent && wl->serial_doc && !strncmp(wl->serial_doc, "unsupported", 11))
		cb_abort("unsupported", "%s", wl->serial_doc + (wl->serial_doc[11] == ':' ? 13 : 11));
	char buf[400];
	const char *why = wl->refuse ? wl->refuse(c, buf, sizeof buf) : NULL;
	if (why)
		cb_abort("unsupported", "%s", why);
	if (wl->peak_tasks && c->be->max_tasks) {
		const char *lim = "";
		int64_t max = c->be->max_tasks(&c->cfg, &lim);
		int64_t need = wl->peak_tasks(c);
		if (max > 0 && need > max)
			cb_abort("unsupported", "needs %" PRId64 " tasks alive at once; %s allows %" PRId64 " (%s)",
				 need, c->be->name, max, lim);
	}
}

/* One repetition, timed: the workload's prepare/run/finish/cleanup around the backend's run. */
typedef struct rep_meas {
	cb_rep r;
	struct rusage s0, s1, c0, c1;
	uint64_t t0, t1;
	cb_noise n0, n1;
	char be_note[120]; /* the backend's rep_note, "" without one */
} rep_meas;

static void rep_once(const cb_cell *c, rep_meas *m)
{
	memset(m, 0, sizeof *m);
	m->r.cell = c;
	char err[300] = "";
	if (c->wl->prepare && c->wl->prepare(&m->r, err, sizeof err) < 0) {
		if (c->wl->cleanup)
			c->wl->cleanup(&m->r);
		cb_abort("error", "prepare: %s", err);
	}
	cb_stat_reset();
	cb_noise_sample(&m->n0);
	getrusage(RUSAGE_SELF, &m->s0);
	getrusage(RUSAGE_CHILDREN, &m->c0);
	cb_rep *rp = &m->r;
	m->t0 = cb_now_ns();
	uint64_t result = c->be->run(&c->cfg, c->wl->root, &rp, sizeof rp);
	m->t1 = cb_now_ns();
	getrusage(RUSAGE_SELF, &m->s1);
	getrusage(RUSAGE_CHILDREN, &m->c1);
	cb_noise_sample(&m->n1);
	if (c->be->rep_note) {
		c->be->rep_note(&c->cfg, m->be_note, sizeof m->be_note);
		one_line(m->be_note);
	}
	int fin = c->wl->finish(&m->r, result, err, sizeof err);
	if (c->wl->cleanup)
		c->wl->cleanup(&m->r);
	if (fin < 0)
		cb_abort("error", "%s", err);
}

static uint64_t rep_wall(const rep_meas *m) { return m->r.wall_ns ? m->r.wall_ns : m->t1 - m->t0; }

/* ---- calibration: the count that makes a repetition last --min-time ------------------- */

/* The knob a workload scales (cb_workload.scale: "size" or one of its params), with its
 * upper bound; NULL when the workload is not count-sized. */
static int64_t *scale_knob(cb_cell *c, int64_t *max)
{
	const char *k = c->wl->scale;
	if (!k)
		return NULL;
	if (!strcmp(k, "size")) {
		*max = c->wl->size_max;
		return &c->size;
	}
	int i = cb_param_slot(c->wl->params, k);
	if (i < 0)
		return NULL;
	*max = c->wl->params[i].max;
	return &c->p[i];
}

/* The smallest value the cell's scaled knob takes (1 for size). */
static int64_t knob_min(const cb_cell *c)
{
	int i = c->wl->scale && strcmp(c->wl->scale, "size") ? cb_param_slot(c->wl->params, c->wl->scale) : -1;
	return i >= 0 && c->wl->params[i].min > 1 ? c->wl->params[i].min : 1;
}

#define WARMUP_COUNT_DIV 8

/* The next count to try after `count` took `wall_ns`, google/benchmark's rule: aim 40% past
 * the target (a repetition varies), grow at most CAL_MAX_GROWTH-fold per probe (a probe
 * far too short says little about the rate). */
#define CAL_OVERSHOOT 1.4
#define CAL_MAX_GROWTH 10.0
#define CAL_MAX_PROBES 12
int64_t cb_calibrate_next(int64_t count, uint64_t wall_ns, uint64_t target_ns, int64_t max)
{
	double mult = wall_ns ? (double)target_ns * CAL_OVERSHOOT / (double)wall_ns : CAL_MAX_GROWTH;
	if (mult > CAL_MAX_GROWTH)
		mult = CAL_MAX_GROWTH;
	double next = (double)count * mult;
	if (next < (double)count + 1)
		next = (double)count + 1;
	return next > (double)max ? max : (int64_t)next;
}

/* Find the count at which a repetition lasts min_time_ns twice in a row: start at a
 * CAL_START_DIV-th of the count the cell was given (its set's guess, never below the knob's
 * minimum) and grow from there, so that a backend for which the guess is far too big (the
 * 1:1 threads' rendezvous channel: 100000 round trips are 4 s) runs a short repetition, not
 * a long one, and a fast one still reaches the target in a few short probes. The probes are
 * the first warm-up. What it did goes into note (the rows say it). The confirming probe ran
 * the final count after a probe of it: it is kept in *last (*kept = 1) for the caller to
 * count as the first repetition, as google/benchmark reports the run that reached its
 * min_time (round 1 of a suite otherwise ran the count three times, a third of the matrix's
 * calibration cost). */
#define CAL_START_DIV 16
static int calibrate(cb_cell *c, uint64_t min_time_ns, char *note, size_t n, rep_meas *last, int *kept)
{
	int64_t max = 0, *knob = scale_knob(c, &max);
	*kept = 0;
	if (!knob || !min_time_ns)
		return 0;
	*knob = *knob / CAL_START_DIV > knob_min(c) ? *knob / CAL_START_DIV : knob_min(c);
	uint64_t w = 0;
	int probes = 0;
	/* The process's first repetition pays for cold caches, lazy binding, an embedded
	 * interpreter's start-up (CPython: 0.5 s); the confirming probe below keeps it from
	 * making the count far too small. */
	while (probes < CAL_MAX_PROBES) {
		rep_meas m;
		rep_once(c, &m);
		probes++;
		w = rep_wall(&m);
		/* A shared box has slow spells: a count that reached the target once must reach
		 * it again before it is kept (the faster of the two probes decides). */
		if (w >= min_time_ns && probes < CAL_MAX_PROBES) {
			rep_once(c, last);
			probes++;
			uint64_t w2 = rep_wall(last);
			w = w2 < w ? w2 : w;
			*kept = w >= min_time_ns;
		}
		if (w >= min_time_ns || *knob >= max)
			break;
		*knob = cb_calibrate_next(*knob, w, min_time_ns, max);
	}
	snprintf(note, n, "calibrated %s=%" PRId64 " in %d probes: last %.1f ms for a target of %.1f ms%s",
		 c->wl->scale, *knob, probes, (double)w / 1e6, (double)min_time_ns / 1e6,
		 w >= min_time_ns ? "" : *knob >= max ? " (the knob's maximum)" : " (probes exhausted)");
	return probes;
}

static void child_main(const cb_cell *cell, const cb_run_opts *o, int wfd)
{
	cb_status_fd = wfd;
	cb_backend_use(cell->be);
	child_abort_on_refusal(cell);

	cb_cell cc = *cell, *c = &cc;
	char cal[200] = "";
	uint64_t cal_t0 = cb_now_ns();
	rep_meas last;
	int kept = 0;
	int probes = calibrate(c, o->min_time_ns, cal, sizeof cal, &last, &kept);
	int64_t kmax, *knob = scale_knob(c, &kmax);
	char line[4000];
	if (knob && o->min_time_ns) {
		int n = snprintf(line, sizeof line, "CAL\t%" PRId64 "\n", *knob);
		send_line(line, (size_t)n);
	}
	/* Warm-up: at least o->warmup repetitions and, when there is any, o->warmup_ns; the
	 * calibration probes count (they ran the same cell in this process). A repetition
	 * that opens with its own uncounted warm-up (a window's warmup_ms) needs none: a
	 * warm-up repetition would run the whole window twice; nor does a cold one, which
	 * measures a fresh runtime each time (nothing of a warm-up would carry over). */
	const char *wp = c->wl->warm_param;
	int no_warmup = (wp && c->p[cb_param_slot(c->wl->params, wp)] > 0) || c->cfg.cold;
	int warmups = no_warmup ? 0 : o->warmup;
	uint64_t warm_end = cal_t0 + (warmups ? o->warmup_ns : 0);
	/* The calibration's confirming probe is the first repetition when the probes before it
	 * were the whole warm-up: as many repetitions and as long. */
	kept = kept && probes - 1 >= warmups && last.t0 >= warm_end;
	/* A count-sized cell warms up at a WARMUP_COUNT_DIV-th of its count (the same code,
	 * caches and pools), repeated until the warm-up time has passed: a whole repetition of
	 * mix.latency's 1 s probe would double the cell's time for no more warmth. */
	int64_t count = knob ? *knob : 0;
	if (knob)
		*knob = count / WARMUP_COUNT_DIV > knob_min(c) ? count / WARMUP_COUNT_DIV : knob_min(c);
	int fl = c->wl->floor_param ? cb_param_slot(c->wl->params, c->wl->floor_param) : -1;
	int64_t floor_v = fl >= 0 ? c->p[fl] : 0;
	if (fl >= 0)
		c->p[fl] = floor_v / WARMUP_COUNT_DIV;
	for (int w = warmups ? probes : 0; !kept && (w < warmups || cb_now_ns() < warm_end); w++) {
		rep_meas m;
		rep_once(c, &m);
	}
	if (knob)
		*knob = count;
	if (fl >= 0)
		c->p[fl] = floor_v;

	cb_row row;
	for (int rep = 0; rep < o->reps; rep++) {
		rep_meas m;
		if (rep == 0 && kept)
			m = last;
		else
			rep_once(c, &m);
		cb_rep *r = &m.r;
		row_identity(&row, c, o->round ? o->round - 1 + rep : rep);
		row.round = o->round ? o->round + rep : rep + 1;
		row.noise = cb_noise_delta(&m.n0, &m.n1);
		row.wall_ns = (int64_t)rep_wall(&m);
		row.user_ns = tv_ns(m.s1.ru_utime) - tv_ns(m.s0.ru_utime) + tv_ns(m.c1.ru_utime) - tv_ns(m.c0.ru_utime);
		row.sys_ns = tv_ns(m.s1.ru_stime) - tv_ns(m.s0.ru_stime) + tv_ns(m.c1.ru_stime) - tv_ns(m.c0.ru_stime);
		row.user_ns += (int64_t)r->child_user_ns; /* a child still alive (a twin) */
		row.sys_ns += (int64_t)r->child_sys_ns;
		row.maxrss_kb = m.s1.ru_maxrss > m.c1.ru_maxrss ? m.s1.ru_maxrss : m.c1.ru_maxrss;
		if (r->child_maxrss_kb > row.maxrss_kb)
			row.maxrss_kb = r->child_maxrss_kb;
		row.ops = r->ops;
		row.ops_per_s = r->rate > 0 ? r->rate : row.wall_ns > 0 ? (double)r->ops * 1e9 / (double)row.wall_ns : 0;
		row.has_lat = r->has_lat;
		row.p50_ns = r->p50_ns;
		row.p99_ns = r->p99_ns;
		row.max_ns = r->max_ns;
		row.has_p90 = r->has_p90;
		row.p90_ns = r->p90_ns;
		row.p999_ns = r->p999_ns;
		row.os_threads = cb_stat_threads_peak();
		row.processes = cb_stat_processes_peak();
		row.vol_ctxsw = (m.s1.ru_nvcsw - m.s0.ru_nvcsw) + (m.c1.ru_nvcsw - m.c0.ru_nvcsw);
		row.invol_ctxsw = (m.s1.ru_nivcsw - m.s0.ru_nivcsw) + (m.c1.ru_nivcsw - m.c0.ru_nivcsw);
		row.has_checksum = 1;
		row.checksum = r->checksum;
		row.status = r->checksum == r->expected ? "ok" : "mismatch";
		/* The workload's note first: readers match prefixes there ("fell behind:"). */
		char wnote[sizeof r->note + sizeof m.be_note + 2];
		snprintf(wnote, sizeof wnote, "%s%s%s", r->note, *r->note && *m.be_note ? "; " : "", m.be_note);
		char calr[sizeof cal + 40];
		snprintf(calr, sizeof calr, "%s%s", cal, rep == 0 && kept ? ", the last probe is this repetition" : "");
		if (r->checksum != r->expected)
			snprintf(row.note, sizeof row.note, "expected checksum %" PRIu64 "%s%s%s%s",
				 r->expected, *wnote ? "; " : "", wnote, *calr ? "; " : "", calr);
		else
			snprintf(row.note, sizeof row.note, "%s%s%s", wnote, *wnote && *calr ? "; " : "", calr);
		one_line(row.note);
		if (knob && r->checksum == r->expected) { /* for later rounds (cb_cell.known_knob) */
			int el = snprintf(line, sizeof line, "EXP\t%" PRId64 "\t%" PRIu64 "\n", *knob,
					  r->expected);
			send_line(line, (size_t)el);
		}
		int hl = snprintf(line, sizeof line, "ROW\t%s\t%" PRId64 "\t%" PRIu64 "\t%.17g\t", row.status,
				  row.wall_ns, row.ops, row.ops_per_s);
		int n = cb_csv_format(o->meta, &row, line + hl, sizeof line - (size_t)hl);
		if (n < 0)
			cb_abort("error", "row too long");
		send_line(line, (size_t)(hl + n));
	}
	_exit(0);
}

/* ---- the supervisor -------------------------------------------------------------------- */

enum { POLL_MS = 50 }; /* longest wait on the pipe before looking at the child and the clock */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Append a row to the CSV, unless an earlier append of this cell failed: then the row is
 * counted as not written (the run stops, see cb_cell_run). */
static void put_row(const cb_run_opts *o, const char *line, size_t len, cb_cell_result *res)
{
	if (!o->csv)
		return;
	if (!res->write_errno && cb_csv_append(o->csv, line, len) < 0)
		res->write_errno = errno ? errno : EIO;
	if (res->write_errno)
		res->lost_rows++;
}

/* Write a row the child could not write itself (crash, timeout, abort). */
static void synth_row(const cb_cell *c, const cb_run_opts *o, int rep, const char *status,
		      const char *note, cb_cell_result *res)
{
	cb_row row;
	row_identity(&row, c, o->round ? o->round - 1 + rep : rep);
	row.round = o->round ? o->round + rep : rep + 1;
	row.status = status;
	snprintf(row.note, sizeof row.note, "%s", note);
	one_line(row.note);
	char line[4000];
	int n = cb_csv_format(o->meta, &row, line, sizeof line);
	if (n > 0)
		put_row(o, line, (size_t)n, res);
	res->rows++;
	snprintf(res->status, sizeof res->status, "%s", status);
	snprintf(res->note, sizeof res->note, "%s", note);
}

/* Fields of this version's rows: a row a cell sends must be one whole record of them. */
static int row_fields(void)
{
	static int n;
	size_t len;
	if (!n)
		n = cb_csv_scan_record(CB_CSV_HEADER, strlen(CB_CSV_HEADER), &len);
	return n;
}

static void handle_line(char *l, const cb_cell *c, const cb_run_opts *o, cb_cell_result *res,
			double *walls, double *rates, int *nw, int *aborted)
{
	if (!strncmp(l, "ROW\t", 4)) {
		char *status = l + 4, *p = strchr(status, '\t');
		if (!p)
			return;
		*p++ = 0;
		double wall = strtod(p, &p);
		double ops = strtod(p + 1, &p);
		double rate = strtod(p + 1, &p);
		char *csvline = p + 1;
		size_t len = strlen(csvline), rl = 0;
		csvline[len++] = '\r'; /* the line splitter ate the row's CRLF */
		csvline[len++] = '\n';
		if (cb_csv_scan_record(csvline, len, &rl) != row_fields() || rl != len) {
			/* Never append what is not one whole row; the cell ends short of a row. */
			fprintf(stderr, "bench: %s %s sent a malformed row; not written\n", c->be->name,
				c->wl->name);
			return;
		}
		put_row(o, csvline, len, res);
		res->rows++;
		res->ops = ops;
		if (!strcmp(status, "ok"))
			res->ok_rows++;
		snprintf(res->status, sizeof res->status, "%.15s", status);
		if (!strcmp(status, "ok") && res->ok_rows <= o->reps + 1) /* rates has reps + 1 */
			rates[res->ok_rows - 1] = rate;
		walls[(*nw)++] = wall;
		if (o->verbose)
			fprintf(stderr, "  rep %d/%d: %.3f ms %s\n", *nw, o->reps, wall / 1e6,
				strcmp(status, "ok") ? status : "");
	} else if (!strncmp(l, "CAL\t", 4)) {
		res->calibrated = strtoll(l + 4, NULL, 10);
	} else if (!strncmp(l, "EXP\t", 4)) {
		char *p;
		int64_t k = strtoll(l + 4, &p, 10);
		if (*p == '\t' && k > 0) {
			res->exp_knob = k;
			res->exp_value = strtoull(p + 1, NULL, 10);
		}
	} else if (!strncmp(l, "ABORT\t", 6)) {
		char *status = l + 6, *note = strchr(status, '\t');
		if (!note)
			return;
		*note++ = 0;
		/* crash: a backend that caught its own fatal fault and named its cause */
		const char *st = !strcmp(status, "unsupported") ? "unsupported"
				 : !strcmp(status, "crash")     ? "crash"
								: "error";
		synth_row(c, o, *nw, st, note, res);
		*aborted = 1;
	}
}

/* What the supervisor has read of a cell's pipe and not yet split into lines. */
typedef struct cell_pipe {
	int fd;
	char buf[8192]; /* rows are < 4000 bytes; a ROW line carries one and a short prefix */
	size_t have;
	int eof;
} cell_pipe;

/* Read the (non-blocking) pipe until it is empty or at EOF, handling each whole line. */
static void pump(cell_pipe *cp, const cb_cell *c, const cb_run_opts *o, cb_cell_result *res,
		 double *walls, double *rates, int *nw, int *aborted)
{
	while (!cp->eof) {
		if (cp->have == sizeof cp->buf - 1) /* a line longer than any row: not one */
			cp->have = 0;
		ssize_t r = read(cp->fd, cp->buf + cp->have, sizeof cp->buf - cp->have - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			cp->eof = 1;
			return;
		}
		cp->have += (size_t)r;
		char *nl;
		while ((nl = memchr(cp->buf, '\n', cp->have))) {
			*nl = 0;
			size_t ll = (size_t)(nl - cp->buf);
			if (ll && cp->buf[ll - 1] == '\r')
				cp->buf[ll - 1] = 0;
			if (!*aborted)
				handle_line(cp->buf, c, o, res, walls, rates, nw, aborted);
			memmove(cp->buf, nl + 1, cp->have - ll - 1);
			cp->have -= ll + 1;
		}
	}
}

/* CB_TEST_REAP_DELAY_MS (see the top of this file), read once; 0 when unset. */
static int reap_delay_ms(void)
{
	static int ms = -1;
	if (ms < 0) {
		const char *v = getenv("CB_TEST_REAP_DELAY_MS");
		ms = v ? atoi(v) : 0;
		if (ms < 0)
			ms = 0;
	}
	return ms;
}

/* Remove a cell's temporary folder and whatever it left there (a killed cell cannot). */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

int cb_cell_run(const cb_cell *c, const cb_run_opts *o, cb_cell_result *res)
{
	memset(res, 0, sizeof *res);
	/* Each cell gets a private TMPDIR, removed after it whatever the cell's fate. */
	const char *base = getenv("TMPDIR");
	char tmp[512];
	snprintf(tmp, sizeof tmp, "%.400s/concbench-cell-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmp))
		cb_usage_error("cannot create a temporary folder under %s: %s",
			       base && *base ? base : "/tmp", strerror(errno));
	int p[2];
	if (pipe(p) < 0)
		cb_usage_error("pipe: %s", strerror(errno));
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		cb_usage_error("fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) /* the supervisor died before the line above */
			_exit(1);
		setenv("TMPDIR", tmp, 1);
		close(p[0]);
		child_main(c, o, p[1]);
	}
	setpgid(pid, pid);
	close(p[1]);

	double *walls = calloc((size_t)o->reps + 1, sizeof *walls);
	double *rates = calloc((size_t)o->reps + 1, sizeof *rates);
	int nw = 0, aborted = 0, status = 0, exited = 0, timed_out = 0;
	uint64_t deadline = cb_now_ns() + (uint64_t)o->timeout_s * 1000000000u;
	cell_pipe *cp = calloc(1, sizeof *cp);
	cp->fd = p[0];
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	/* The child's exit is polled beside its pipe where the kernel has pidfds (5.3): a
	 * cell's last row comes just before its exit, and a sleep of up to POLL_MS between the
	 * two was about a tenth of a short cell's process, in every round. */
#ifdef SYS_pidfd_open
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#else
	int pidfd = -1;
#endif
	while (!cb_interrupted && !res->write_errno) {
		uint64_t now = cb_now_ns();
		if (now >= deadline) {
			/* One last look: a cell that exited right at its deadline is not late. */
			exited = waitpid(pid, &status, WNOHANG) == pid;
			timed_out = !exited;
			break;
		}
		uint64_t left_ms = (deadline - now) / 1000000 + 1;
		int wait_ms = left_ms < POLL_MS ? (int)left_ms : POLL_MS;
		struct pollfd pf[2] = {{.fd = cp->eof ? -1 : p[0], .events = POLLIN},
				       {.fd = pidfd, .events = POLLIN}};
		if (cp->eof && pidfd < 0) /* the cell closed its end: only its exit is awaited */
			usleep((useconds_t)wait_ms * 1000);
		else if (poll(pf, 2, wait_ms) > 0 && (pf[0].revents & (POLLIN | POLLHUP)))
			pump(cp, c, o, res, walls, rates, &nw, &aborted);
		if (reap_delay_ms())
			usleep((useconds_t)reap_delay_ms() * 1000);
		if (waitpid(pid, &status, WNOHANG) == pid) {
			exited = 1;
			break;
		}
	}
	/* Whatever is left of the group goes now: workers, load generators, stragglers. */
	kill(-pid, SIGKILL);
	if (!exited)
		waitpid(pid, &status, 0);
	/* The cell is gone, so everything it wrote is in the pipe: its last rows, or those it
	 * had sent before its deadline or a signal. */
	pump(cp, c, o, res, walls, rates, &nw, &aborted);
	if (timed_out && !aborted && nw >= o->reps)
		timed_out = 0; /* every repetition is in: the cell was late only in exiting */
	/* As subreaper we inherit the group's orphans; wait until none is left, zombies
	 * included (kill(-pgid, 0) succeeds while any member exists). */
	for (int i = 0; i < 2000 && kill(-pid, 0) == 0; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		usleep(1000);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	close(p[0]);
	if (pidfd >= 0)
		close(pidfd);
	free(cp);
	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

	int rc = 0;
	if (cb_interrupted) {
		rc = 130;
	} else if (res->write_errno) {
		/* stopped by the failed write: no row to add, the message below says it */
	} else if (timed_out) {
		char note[128];
		snprintf(note, sizeof note, "no result within %" PRId64 " s; process group killed",
			 o->timeout_s);
		synth_row(c, o, nw, "timeout", note, res);
	} else if (!exited) {
		/* killed at its deadline with every repetition in: its rows say it all */
	} else if (!aborted && WIFSIGNALED(status)) {
		char note[128];
		int sig = WTERMSIG(status);
		snprintf(note, sizeof note, "killed by signal %d (%s)", sig, strsignal(sig));
		synth_row(c, o, nw, "crash", note, res);
	} else if (!aborted && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		char note[128];
		snprintf(note, sizeof note, "cell process exited with status %d", WEXITSTATUS(status));
		synth_row(c, o, nw, "error", note, res);
	} else if (!aborted && nw < o->reps) {
		synth_row(c, o, nw, "error", "cell process ended without all its rows", res);
	}
	if (nw) {
		qsort(walls, (size_t)nw, sizeof *walls, cmp_d);
		res->wall_min_ns = walls[0];
		res->wall_max_ns = walls[nw - 1];
		res->wall_med_ns = nw % 2 ? walls[nw / 2] : (walls[nw / 2 - 1] + walls[nw / 2]) / 2;
	}
	free(walls);
	if (res->ok_rows) {
		int k = res->ok_rows <= o->reps + 1 ? res->ok_rows : o->reps + 1;
		qsort(rates, (size_t)k, sizeof *rates, cmp_d);
		res->rate_med = k % 2 ? rates[k / 2] : (rates[k / 2 - 1] + rates[k / 2]) / 2;
	}
	free(rates);
	if (res->write_errno) {
		fprintf(stderr, "bench: cannot write %s: %s: %d row%s not written; it holds only the "
			"whole rows before\n", o->csv, cb_csv_cause(res->write_errno), res->lost_rows,
			res->lost_rows == 1 ? "" : "s");
		return CB_EXIT_LOST;
	}
	if (rc == 0 && (res->ok_rows != res->rows || res->rows == 0))
		rc = 1;
	return rc;
}
