/* cell.c: one cell (backend x workload x parameters), measured in a child process.
 *
 * The harness process is a supervisor: it forks the cell into its own process group, reads
 * finished rows from a pipe and appends each to the CSV with a single write, and watches the
 * clock. A crash becomes a `crash` row naming the signal, a hang a `timeout` row, a
 * cb_abort() an `unsupported`/`error` row; in every case the whole group is killed and
 * reaped, so nothing outlives the cell. Rows travel as single lines below PIPE_BUF, so a row
 * is either whole or absent. */
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
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

static int set_in(const cb_param_def *defs, int64_t *vals, const char *key, const char *val,
		  char *why, size_t n)
{
	for (int i = 0; defs && defs[i].name; i++) {
		if (strcmp(defs[i].name, key))
			continue;
		int64_t v;
		if (cb_parse_int(val, &v) < 0)
			return snprintf(why, n, "--param %s=%s: not a number", key, val), -2;
		if (v < defs[i].min || v > defs[i].max)
			return snprintf(why, n, "--param %s=%s: out of range %" PRId64 "..%" PRId64,
					key, val, defs[i].min, defs[i].max), -2;
		vals[i] = v;
		return 0;
	}
	return -1;
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
	for (int i = 0; c->wl->params && c->wl->params[i].name; i++)
		if (!strcmp(c->wl->params[i].name, k)) {
			*max = c->wl->params[i].max;
			return &c->p[i];
		}
	return NULL;
}

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

/* Grow the cell's knob until a repetition lasts min_time_ns twice in a row (never below the
 * count it was given). The probes are the first warm-up. What it did goes into note (the rows say it). */
static int calibrate(cb_cell *c, uint64_t min_time_ns, char *note, size_t n)
{
	int64_t max = 0, *knob = scale_knob(c, &max);
	if (!knob || !min_time_ns)
		return 0;
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
			rep_once(c, &m);
			probes++;
			uint64_t w2 = rep_wall(&m);
			w = w2 < w ? w2 : w;
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
	int probes = calibrate(c, o->min_time_ns, cal, sizeof cal);
	int64_t kmax, *knob = scale_knob(c, &kmax);
	char line[4000];
	if (knob && o->min_time_ns) {
		int n = snprintf(line, sizeof line, "CAL\t%" PRId64 "\n", *knob);
		send_line(line, (size_t)n);
	}
	/* Warm-up: at least o->warmup repetitions and, when there is any, o->warmup_ns; the
	 * calibration probes count (they ran the same cell in this process). */
	uint64_t warm_end = cal_t0 + (o->warmup ? o->warmup_ns : 0);
	for (int w = o->warmup ? probes : 0; w < o->warmup || cb_now_ns() < warm_end; w++) {
		rep_meas m;
		rep_once(c, &m);
	}

	cb_row row;
	for (int rep = 0; rep < o->reps; rep++) {
		rep_meas m;
		rep_once(c, &m);
		cb_rep *r = &m.r;
		row_identity(&row, c, o->round ? o->round - 1 : rep);
		row.round = o->round ? o->round : rep + 1;
		row.noise = cb_noise_delta(&m.n0, &m.n1);
		row.wall_ns = (int64_t)rep_wall(&m);
		row.user_ns = tv_ns(m.s1.ru_utime) - tv_ns(m.s0.ru_utime) + tv_ns(m.c1.ru_utime) - tv_ns(m.c0.ru_utime);
		row.sys_ns = tv_ns(m.s1.ru_stime) - tv_ns(m.s0.ru_stime) + tv_ns(m.c1.ru_stime) - tv_ns(m.c0.ru_stime);
		row.maxrss_kb = m.s1.ru_maxrss > m.c1.ru_maxrss ? m.s1.ru_maxrss : m.c1.ru_maxrss;
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
		if (r->checksum != r->expected)
			snprintf(row.note, sizeof row.note, "expected checksum %" PRIu64 "%s%s%s%s",
				 r->expected, *r->note ? "; " : "", r->note, *cal ? "; " : "", cal);
		else
			snprintf(row.note, sizeof row.note, "%s%s%s", r->note, *r->note && *cal ? "; " : "", cal);
		int hl = snprintf(line, sizeof line, "ROW\t%s\t%" PRId64 "\t%" PRIu64 "\t", row.status,
				  row.wall_ns, row.ops);
		int n = cb_csv_format(o->meta, &row, line + hl, sizeof line - (size_t)hl);
		if (n < 0)
			cb_abort("error", "row too long");
		send_line(line, (size_t)(hl + n));
	}
	_exit(0);
}

/* ---- the supervisor -------------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Write a row the child could not write itself (crash, timeout, abort). */
static void synth_row(const cb_cell *c, const cb_run_opts *o, int rep, const char *status,
		      const char *note, cb_cell_result *res)
{
	cb_row row;
	row_identity(&row, c, o->round ? o->round - 1 : rep);
	row.round = o->round ? o->round : rep + 1;
	row.status = status;
	snprintf(row.note, sizeof row.note, "%s", note);
	char line[4000];
	int n = cb_csv_format(o->meta, &row, line, sizeof line);
	if (n > 0 && o->csv && cb_csv_append(o->csv, line, (size_t)n) < 0)
		fprintf(stderr, "bench: cannot write %s: %s\n", o->csv, strerror(errno));
	res->rows++;
	snprintf(res->status, sizeof res->status, "%s", status);
	snprintf(res->note, sizeof res->note, "%s", note);
}

static void handle_line(char *l, const cb_cell *c, const cb_run_opts *o, cb_cell_result *res,
			double *walls, int *nw, int *aborted)
{
	if (!strncmp(l, "ROW\t", 4)) {
		char *status = l + 4, *p = strchr(status, '\t');
		if (!p)
			return;
		*p++ = 0;
		double wall = strtod(p, &p);
		double ops = strtod(p + 1, &p);
		char *csvline = p + 1;
		size_t len = strlen(csvline);
		csvline[len++] = '\r'; /* the line splitter ate the row's CRLF */
		csvline[len++] = '\n';
		if (o->csv && cb_csv_append(o->csv, csvline, len) < 0)
			fprintf(stderr, "bench: cannot write %s: %s\n", o->csv, strerror(errno));
		res->rows++;
		res->ops = ops;
		if (!strcmp(status, "ok"))
			res->ok_rows++;
		snprintf(res->status, sizeof res->status, "%.15s", status);
		walls[(*nw)++] = wall;
		if (o->verbose)
			fprintf(stderr, "  rep %d/%d: %.3f ms %s\n", *nw, o->reps, wall / 1e6,
				strcmp(status, "ok") ? status : "");
	} else if (!strncmp(l, "CAL\t", 4)) {
		res->calibrated = strtoll(l + 4, NULL, 10);
	} else if (!strncmp(l, "ABORT\t", 6)) {
		char *status = l + 6, *note = strchr(status, '\t');
		if (!note)
			return;
		*note++ = 0;
		const char *st = !strcmp(status, "unsupported") ? "unsupported" : "error";
		synth_row(c, o, *nw, st, note, res);
		*aborted = 1;
	}
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
	pid_t pid = fork();
	if (pid < 0)
		cb_usage_error("fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv("TMPDIR", tmp, 1);
		close(p[0]);
		child_main(c, o, p[1]);
	}
	setpgid(pid, pid);
	close(p[1]);

	double *walls = calloc((size_t)o->reps + 1, sizeof *walls);
	int nw = 0, aborted = 0, status = 0, exited = 0;
	uint64_t deadline = cb_now_ns() + (uint64_t)o->timeout_s * 1000000000u;
	char buf[8192];
	size_t have = 0;
	int timed_out = 0, eof = 0;
	while (!exited || !eof) {
		if (cb_interrupted)
			break;
		if (cb_now_ns() > deadline) {
			timed_out = 1;
			break;
		}
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		int pr = eof ? 0 : poll(&pf, 1, 50);
		if (pr > 0) {
			ssize_t r = read(p[0], buf + have, sizeof buf - have - 1);
			if (r <= 0)
				eof = 1;
			else
				have += (size_t)r;
			char *nl;
			buf[have] = 0;
			while ((nl = memchr(buf, '\n', have))) {
				*nl = 0;
				size_t ll = (size_t)(nl - buf);
				if (ll && buf[ll - 1] == '\r')
					buf[ll - 1] = 0;
				if (!aborted)
					handle_line(buf, c, o, res, walls, &nw, &aborted);
				memmove(buf, nl + 1, have - ll - 1);
				have -= ll + 1;
			}
		} else if (eof) {
			usleep(20000);
		}
		if (!exited && waitpid(pid, &status, WNOHANG) == pid)
			exited = 1;
		/* A grandchild (load generator, worker) may hold the pipe open after the cell
		 * process is gone: the cell's end is what counts. */
		if (exited && pr == 0)
			eof = 1;
	}
	/* Whatever is left of the group goes now: workers, load generators, stragglers. */
	kill(-pid, SIGKILL);
	if (!exited)
		waitpid(pid, &status, 0);
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
	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);

	int rc = 0;
	if (cb_interrupted) {
		rc = 130;
	} else if (timed_out) {
		char note[128];
		snprintf(note, sizeof note, "no result within %" PRId64 " s; process group killed",
			 o->timeout_s);
		synth_row(c, o, nw, "timeout", note, res);
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
	if (rc == 0 && (res->ok_rows != res->rows || res->rows == 0))
		rc = 1;
	return rc;
}
