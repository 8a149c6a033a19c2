/* csv.h: the results schema (DESIGN.md) and an RFC 4180 writer that writes each row whole. */
#ifndef CB_CSV_H
#define CB_CSV_H

#include <stddef.h>
#include <stdint.h>

/* The columns of runs.csv, in order, once: the header, the column indices (CB_COL_<name>)
 * and the column count are generated from this list, so code never reads column `f[9]`.
 * Schema 2 appended everything after `note`; older files keep their own header. */
#define CB_COLUMNS(X)                                                                      \
	X(schema) X(run_id) X(utc) X(host) X(cpu_model) X(ncpu) X(kernel) X(cc) X(git_rev)  \
	X(backend) X(workload) X(tasks) X(workers) X(size) X(params) X(rep) X(wall_ns)      \
	X(user_ns) X(sys_ns) X(maxrss_kb) X(ops) X(ops_per_s) X(p50_ns) X(p99_ns) X(max_ns) \
	X(os_threads) X(processes) X(vol_ctxsw) X(invol_ctxsw) X(checksum) X(status) X(note) \
	X(round) X(seed) X(steal_ns) X(psi_cpu_us) X(loadavg1) X(p90_ns) X(p999_ns)

#define CB_SCHEMA "2"
#define CB_COL_ENUM_(name) CB_COL_##name,
enum { CB_COLUMNS(CB_COL_ENUM_) CB_NCOLUMNS };
#undef CB_COL_ENUM_
/* The header line: "schema,run_id,...,p999_ns\r\n" (the leading comma of each name is
 * skipped by starting one character in). */
#define CB_COL_NAME_(name) "," #name
#define CB_CSV_HEADER ((CB_COLUMNS(CB_COL_NAME_) "\r\n") + 1)

/* The box's noise around one repetition: steal and CPU pressure are deltas over it, the
 * load average is read at its start. have_psi is 0 where /proc/pressure/cpu is missing. */
typedef struct cb_noise {
	uint64_t steal_ns, psi_cpu_us;
	int have_psi;
	double loadavg1;
} cb_noise;
/* Counters now (steal and pressure totals so far, the load average). */
void cb_noise_sample(cb_noise *n);
/* b - a for the counters, a's load average. */
cb_noise cb_noise_delta(const cb_noise *a, const cb_noise *b);

/* Machine and build metadata carried by every row. */
typedef struct cb_meta {
	char run_id[128], host[128], cpu_model[160], kernel[128], cc[96], git_rev[48];
	int ncpu;
	uint64_t seed;             /* the round group's shuffle seed (suite, bench run --seed); 0: a lone run */
} cb_meta;

typedef struct cb_row {
	char utc[32];
	const char *backend, *workload;
	int64_t tasks, workers, size;
	char params[512];
	int rep;
	int64_t wall_ns, user_ns, sys_ns, maxrss_kb;
	uint64_t ops;
	double ops_per_s;
	int has_lat;
	uint64_t p50_ns, p99_ns, max_ns;
	int has_p90;               /* p90_ns/p999_ns are recorded (a histogram was kept) */
	uint64_t p90_ns, p999_ns;
	int os_threads, processes;
	int64_t vol_ctxsw, invol_ctxsw;
	int has_checksum;
	uint64_t checksum;
	const char *status;
	char note[600];
	int round;                 /* 1-based round the repetition ran in */
	cb_noise noise;            /* the box around the repetition */
} cb_row;

void cb_meta_fill(cb_meta *m, const char *run_id);
void cb_utc_now(char *buf, size_t n); /* 2026-11-27T09:44:44Z */

/* Format one row, CRLF-terminated, into buf. Returns its length, or -1 if it does not fit. */
int cb_csv_format(const cb_meta *m, const cb_row *r, char *buf, size_t n);

/* ---- runs.csv on disk (csvfile.c): whole rows or none ---- */

/* Exit status of a run that stopped because a row could not be written (disk full, file
 * or folder gone, read-only); the file then holds only the whole rows written before. */
#define CB_EXIT_LOST 3

/* The schema-1 header: files that start with it are appended to (the scripts read both). */
extern const char cb_csv_header_v1[];

/* Check, without creating or changing anything, that rows can be appended to path: a new
 * file in an existing writable folder, or an existing file that starts with a header of a
 * schema the scripts read and holds only whole records. 0, or -1 with a reason in why
 * (naming the line of a damaged record). */
int cb_csv_check_writable(const char *path, char *why, size_t n);
/* Append one row (a whole CRLF-terminated record) to path, the header first if the file is
 * new or empty. On a short or failed write the file is cut back to its size before, so it
 * never ends in half a row. Returns 0 or -1 (errno; ENOSPC for a short write). */
int cb_csv_append(const char *path, const char *row, size_t len);
/* A text the command line puts in a field (the run id): at most max bytes of UTF-8 without
 * control characters, so that a row stays one line of text. 0, or -1 with a reason. */
int cb_csv_check_text(const char *s, size_t max, char *why, size_t n);
/* What a failed append's errno means to a user ("disk full", "folder removed", ...). */
const char *cb_csv_cause(int err);
/* The record at s[0..n): its field count, its length (terminator included) in *len. -1 if
 * it does not end within n bytes (open quote, no line end), -2 if it is not RFC 4180 (a
 * quote inside an unquoted field, text after a closing quote). */
int cb_csv_scan_record(const char *s, size_t n, size_t *len);

#endif
