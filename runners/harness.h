/* harness.h: the harness's internal pieces: running one cell under a watchdog, the suite,
 * the load generator and machine metadata. */
#ifndef CB_HARNESS_H
#define CB_HARNESS_H

#include <stdatomic.h>
#include <stdint.h>

#include "csv.h"
#include "workload.h"

extern int cb_status_fd; /* where cb_abort and rows go in a cell's process; -1 elsewhere */
void cb_stat_reset(void);
int cb_stat_threads_peak(void);
int cb_stat_processes_peak(void);

/* Warm-up lasts at least this long (and one repetition) unless asked otherwise. */
#define CB_WARMUP_MS_DEFAULT 100

typedef struct cb_run_opts {
	int reps, warmup;
	uint64_t warmup_ns;      /* warm-up lasts at least this long too (when warmup > 0) */
	uint64_t min_time_ns;    /* calibrate the workload's knob to this; 0: counts as given */
	int round;               /* 1-based round of the first rep (suite: one rep per cell process,
				  * bench run --round); rep k is round + k. 0: rep + 1 */
	int64_t timeout_s;       /* watchdog for the whole cell */
	const char *csv;         /* NULL: no CSV */
	const cb_meta *meta;
	int verbose;             /* per-repetition lines and a summary on stdout */
} cb_run_opts;

/* What a cell produced, for summaries and progress. */
typedef struct cb_cell_result {
	int rows;                /* rows written */
	int ok_rows;
	char status[16];         /* last status seen */
	char note[600];
	double wall_med_ns, wall_min_ns, wall_max_ns;
	double ops;              /* ops of one repetition */
	double rate_med;         /* median ops_per_s of the ok rows (0: none) */
	int write_errno;         /* why the first failed append failed; 0 if none did */
	int lost_rows;           /* rows not written because of it */
	int64_t calibrated;      /* the knob's value calibration chose (0: none ran) */
	int64_t exp_knob;        /* an ok row's expected checksum at this knob value (0: none) */
	uint64_t exp_value;
} cb_cell_result;

/* Run one cell in a child process (own process group) under a watchdog; append its rows
 * to o->csv. Returns 0 when every row is ok, 1 otherwise, 130 if interrupted,
 * CB_EXIT_LOST (message printed) if a row could not be written: the run must stop. */
int cb_cell_run(const cb_cell *cell, const cb_run_opts *o, cb_cell_result *res);
/* Set by SIGINT/SIGTERM handlers installed by cb_cell_signals(). */
extern volatile int cb_interrupted;
void cb_cell_signals(void);

/* "key=value;..." of every workload and backend parameter of the cell. */
void cb_cell_params(const cb_cell *c, char *buf, size_t n);
/* Fill a cell with defaults for be x wl. */
void cb_cell_defaults(cb_cell *c, const cb_backend *be, const cb_workload *wl);
/* Apply --param key=value: 0 ok, -1 unknown key, -2 bad value (why says which). */
int cb_cell_set_param(cb_cell *c, const char *kv, char *why, size_t n);

/* machine.json */
/* The noise probe: one fixed loop timed NOISE_PROBE_RUNS times; its spread says how noisy
 * the box was when the run started and ended. */
typedef struct cb_probe {
	uint64_t median_ns, min_ns, max_ns;
	int runs;
} cb_probe;
void cb_noise_probe(cb_probe *p);
/* What the suite adds to machine.json beyond the machine itself. */
typedef struct cb_machine_info {
	uint64_t seed;
	int rounds, min_time_ms;
	int cell_budget_ms;      /* past 3 rounds, a cell stops once it has had this long (0: never) */
	cb_probe probe_start, probe_end;
	int have_end;            /* probe_end measured (the run finished) */
} cb_machine_info;
int cb_machine_json(const char *path, const cb_meta *m, const cb_machine_info *mi);
/* Worker counts of a sweep (suite.c): 1, 2, 4, ... below ncpu, ncpu, 2 x ncpu. */
int cb_suite_sweep(int ncpu, int *out, int max);
/* A round group's seed from the run's (every row of the group carries it), and the shuffled
 * order of the group's n cells in one round, from the group's seed (suite.c). */
uint64_t cb_suite_group_seed(uint64_t seed, int group);
void cb_suite_order(uint64_t gseed, int round, int *order, int n);

/* Load generator (bench loadgen), a separate process driving io.echo / mix.convoy. */
int cb_loadgen_main(int argc, char **argv);
/* How it drives the server. count: messages per connection when duration_ms is 0. With
 * duration_ms it measures a steady-state window: warmup_ms after the start, duration_ms
 * long. rate 0: closed loop; rate R: open loop at R requests/s over all connections
 * (arrival: CB_ARRIVAL_CONST or CB_ARRIVAL_POISSON), latency from each intended send time. */
enum { CB_ARRIVAL_CONST = 0, CB_ARRIVAL_POISSON = 1 };
typedef struct cb_loadgen_opts {
	int port, conns, msg;
	int64_t count, duration_ms, warmup_ms, rate;
	int arrival;
	int pinned, cpu; /* pinned: the load generator runs on CPU cpu alone */
} cb_loadgen_opts;
/* Where the box has a CPU to spare beside a server of `workers` workers (usable CPUs, quota
 * included, above workers), the load generator gets the highest CPU of this process's
 * affinity to itself and every thread of the server (this process now, and what it starts
 * later) the others, so that the client never takes a core from the server it measures
 * (wrk2's and mutilate's set-up). Returns the client's CPU, or -1: too few CPUs, shared. */
int cb_split_client_cpu(int workers);
/* Why an open-loop point is not the server's latency (bits of behind). */
enum {
	CB_BEHIND_RATE = 1, /* achieved below CB_BEHIND_RATE_FRAC of the asked rate */
	CB_BEHIND_LAG = 2,  /* send lag (actual - intended send time) beyond CB_BEHIND_LAG_NS at p99 */
};
#define CB_BEHIND_RATE_FRAC 0.95
#define CB_BEHIND_LAG_NS 1000000u
typedef struct cb_loadgen_report {
	uint64_t requests, errors, bytes;  /* requests: round trips completed in the window */
	uint64_t p50_ns, p99_ns, max_ns, elapsed_ns; /* elapsed: the window */
	uint64_t p90_ns, p999_ns;
	uint64_t sent;                     /* requests sent in the window */
	uint64_t lag_p99_ns;               /* open loop: send lag at p99 */
	uint64_t behind;                   /* CB_BEHIND_* bits; 0 in closed loop */
} cb_loadgen_report;
/* Start a load generator against 127.0.0.1:port; it connects everything, then waits for a
 * byte on the returned go fd. Returns its pid, or -1. */
int cb_loadgen_start(const cb_loadgen_opts *o, int *go_fd, int *report_fd, char *err, size_t n);
int cb_loadgen_finish(int pid, int report_fd, cb_loadgen_report *r, char *err, size_t n);
/* "fell behind: ..." for a report with behind bits, for a row's note ("" if none). */
void cb_loadgen_behind_note(const cb_loadgen_report *r, int64_t rate, char *buf, size_t n);

/* google/benchmark's next count for calibration (cell.c), exposed for tests. */
int64_t cb_calibrate_next(int64_t count, uint64_t wall_ns, uint64_t target_ns, int64_t max);

int cb_suite_main(int argc, char **argv);
/* bench serve: a backend's io.echo server on 127.0.0.1 until SIGINT/SIGTERM (serve.c). */
int cb_serve_main(int argc, char **argv);
/* bench serve of go-ref / node-ref: the twin's echo server on lfd until *stop (backend_ext.c);
 * ready() once it serves. 0, or -1 with err. */
int cb_ext_serve(const cb_backend *be, int lfd, int workers, atomic_int *stop, void (*ready)(void),
		 uint64_t *bytes, uint64_t *conns, char *err, size_t n);
/* bench serve of cpython-*: the Python twin's echo server on lfd until stop_fd is readable
 * (backend_cpython.c). */
int cb_cpython_serve(const cb_backend *be, int lfd, int stop_fd, int workers, uint64_t *bytes,
		     uint64_t *conns);

#endif
