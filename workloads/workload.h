/* workload.h: how a workload plugs into the harness. A workload is written once against the
 * task API (task.h) and knows nothing of backends beyond their declared traits. */
#ifndef CB_WORKLOAD_H
#define CB_WORKLOAD_H

#include "task.h"

struct cb_workload;

/* Everything that defines one cell of the matrix, as parsed from the command line. */
typedef struct cb_cell {
	const cb_backend *be;
	const struct cb_workload *wl;
	cb_backend_cfg cfg;        /* workers and backend params */
	int64_t tasks, size;       /* meanings are the workload's (see bench list) */
	int64_t p[CB_MAX_PARAMS];  /* workload params, in the workload's params[] order */
	/* The expected checksum at the scaled knob = known_knob, as an earlier process of the
	 * same cell computed it and found the backend's result equal to it (0: none): a
	 * workload whose expected value costs a whole serial run (cpu.hash) need not pay it
	 * again in every round's process. bench suite passes it on; bench run leaves it 0. */
	int64_t known_knob;
	uint64_t known_expected;
} cb_cell;

/* One repetition: workload state and what the repetition reports beyond timing. */
typedef struct cb_rep {
	const cb_cell *cell;
	void *priv;                /* workload state between prepare and cleanup */
	uint64_t checksum;         /* computed by the run */
	uint64_t expected;         /* known without running (or from an independent party) */
	uint64_t ops;              /* units of work done (see the workload's unit) */
	int has_lat;               /* p50/p99/max below are meaningful */
	uint64_t p50_ns, p99_ns, max_ns;
	int has_p90;               /* p90/p999 below are meaningful too */
	uint64_t p90_ns, p999_ns;
	uint64_t wall_ns;          /* 0: the harness's clock; else the workload's own measurement
	                            * (reference programs exclude their runtime's start-up) */
	double rate;               /* ops per second measured by the workload itself (e.g. the
	                            * load generator's window); 0: ops / wall */
	char note[200];            /* appended to the row's note */
	char twin[256];            /* key=value;... set by prepare for reference runtimes (the
	                            * Python/Go/JS twins): fds and ports the twin must use */
	/* CPU time and peak memory of a child process that outlives the repetition (a twin
	 * kept for the next one): getrusage(RUSAGE_CHILDREN) sees a child only once reaped. */
	uint64_t child_user_ns, child_sys_ns;
	long child_maxrss_kb;
} cb_rep;

typedef struct cb_workload {
	const char *name;
	const char *unit;          /* what ops counts: "tasks", "switches", "round trips", ... */
	const char *summary;
	const char *tasks_doc;  int64_t tasks_def, tasks_max;
	int tasks_zero_ok;         /* --tasks 0 is meaningful (no hogs) */
	const char *size_doc;   int64_t size_def,  size_max;
	const cb_param_def *params; /* {NULL}-terminated */
	/* What calibration scales so a repetition lasts --min-time: "size" or a param's name;
	 * NULL: not count-sized (durations, memory, windows) */
	const char *scale;
	const char *serial_doc;    /* how it behaves on a non-concurrent backend */
	/* NULL if the parameters make sense, else what is wrong (bad input: exit status 2). */
	const char *(*check)(const cb_cell *c, char *buf, size_t n);
	/* NULL if the cell can run, else a reason (written into buf) for status unsupported. */
	const char *(*refuse)(const cb_cell *c, char *buf, size_t n);
	int64_t (*peak_tasks)(const cb_cell *c); /* tasks alive at once, for backend limits */
	int (*prepare)(cb_rep *r, char *err, size_t n);          /* untimed, optional */
	/* The root task; arg holds the cb_rep * (by value). It returns the checksum; a root that
	 * measures latencies stores them in the rep (has_lat, p50_ns...) before returning. */
	uint64_t (*root)(void *arg, size_t len);
	int hidden;                /* test-only: not in bench list nor in the suite */
	int independent;           /* the root's children never talk to each other (pool-able) */
	int cold;                  /* measures the runtime's memory: no reuse across repetitions */
	/* Params that are the load generator's alone, space-separated: a twin only serves, and
	 * is not passed them (backend_ext.c). */
	const char *client_params;
	/* A param that gives each repetition its own uncounted warm-up (a steady-state window's
	 * first ms): while it is > 0 the harness runs no warm-up repetition before the measured
	 * one, which would only run the whole window a second time. NULL: none. */
	const char *warm_param;
	/* A param that is a floor on a repetition's time (mix.latency's min_ms: the probe runs
	 * that long, hogs or not): the warm-up runs it at the fraction it runs the count at,
	 * since a warm-up repetition at a fraction of the count would still last the floor
	 * (600 ms of warm-up beside each 600 ms repetition without hogs). NULL: none. */
	const char *floor_param;
	int (*finish)(cb_rep *r, uint64_t result, char *err, size_t n); /* untimed */
	void (*cleanup)(cb_rep *r);                              /* optional */
} cb_workload;

/* Registry (runners/registry.c). */
extern const cb_backend *const cb_backends[]; /* cb_nbackends entries, NULL = not built */
extern const size_t cb_nbackends;
extern const cb_workload *const cb_workloads[];
const cb_backend *cb_backend_find(const char *name);
const cb_workload *cb_workload_find(const char *name);

#endif
