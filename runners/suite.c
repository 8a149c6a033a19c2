/* suite.c: bench suite, the matrix of backends x workloads x parameter sets into a results
 * folder (runs.csv, machine.json). Each cell runs in its own process under a watchdog
 * (cell.c), so one crash or hang costs one row, not the run. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

/* One parameter set of a workload. flags: SWEEP runs it at workers 1, 2, 4, ... up to the
 * usable CPUs, the CPU count itself and twice it (SWEEP_TO_NCPU: without twice it); PER_CPU
 * makes tasks a count per usable CPU (tasks x ncpu); CPU_TASKS raises tasks to at least
 * TASKS_PER_CPU per CPU, so a 64-CPU box has work for all its cores; NO_SERIAL leaves out
 * the backends that run tasks one after another, where their row would only say that
 * (200 sleeps of 20 ms are 4 s a repetition on serial; an iterative server under an open-loop
 * schedule over 100 connections falls behind at every offered load); NO_PROCS leaves out the
 * backends whose tasks are processes (cb_backend.tasks_are_processes), at task counts past
 * the mp twin's own limit (workloads/py/micro_idle.py: 2000): each forked process inherits
 * the descriptors of the ones before it, and 10000 idle ones took 177 s a repetition
 * (10000 sleepers: 68 s; skynet's 11111: 62 s); NO_THREADS the backends whose tasks are OS
 * threads (cb_backend.tasks_are_threads), at counts where creating them is the whole cell
 * (100000 spawns: 40 s a round on threads and gil). CHART_ONLY: a set that no mark of the
 * table reads (its charts and the fidelity table's figures do) runs CHART_ROUNDS rounds, not
 * every round: the extra rounds go to the cells behind the marks. OWN_CORE_PEAK: the open
 * loop's closed-loop peak with the load generator on a core of its own (see RATE_SWEEP),
 * planned only where the matrix's own io.echo cells share the CPUs with it (2 or 3 usable
 * CPUs; on 4 or more they already leave it one). ONE_RUNNER: only the backends that run their
 * tasks' code on one thread at a time (cb_backend.one_runner: a GIL, an event loop), where one
 * hog keeps every slot busy (the preemption mark's cell, see latency_cell in scripts/table). */
typedef struct suite_set {
	const char *workload;
	int64_t tasks, size;   /* 0: the workload's default */
	const char *params;    /* "k=v;k=v" */
	int flags;             /* SWEEP, PER_CPU, ... */
	int py;                /* 1: only the cpython-* backends, -1: all but them, 0: all */
	int min_ms;            /* calibrate to this instead of --min-time (0: --min-time) */
} suite_set;
enum { SWEEP = 1, PER_CPU = 2, CPU_TASKS = 4, RATE_SWEEP = 8, SWEEP_TO_NCPU = 16, NO_SERIAL = 32,
       NO_PROCS = 64, NO_THREADS = 128, CHART_ONLY = 256, OWN_CORE_PEAK = 512, ONE_RUNNER = 1024 };
#define TASKS_PER_CPU 4
/* Workloads driven by the load generator (io.echo, mix.convoy) run their server at ncpu - 1
 * workers on a box of this many usable CPUs or more, and the generator on the last CPU alone
 * (cb_split_client_cpu), so that the client never takes a core from the server it measures;
 * on 2 or 3 CPUs a server of ncpu - 1 workers would lose a third to a half of its parallelism,
 * so there the closed loops share the CPUs. The open loop (RATE_SWEEP) and its peak
 * (OWN_CORE_PEAK) leave the generator a core on every box of 2 CPUs or more: an open loop
 * measures latency from each request's intended send time, and a generator that shares its
 * cores with the server falls behind its schedule and adds its own delay. On the 2-vCPU box,
 * sharing, its send lag p99 passed 1 ms at 4 of 6 models' 50% and 90% points (mn's spinning
 * Ms: 1.9-22 ms), so the table's latency-under-load row could not be read there. */
#define CLIENT_CORE_MIN_CPUS 4
static int sweep_workers(int ncpu)
{
	return ncpu >= 2 ? ncpu - 1 : 1;
}

/* mix.latency's probe lasts as long as its hogs: their rounds are calibrated so that the
 * probe runs this long, and its p99 comes from about 600 wakes (300 in QUICK): the 6th
 * slowest, and the rounds give it an interval. (1000 wakes made the 45 latency cells alone
 * 7 minutes of a full run on 2 cores.) */
#define LATENCY_MS_FULL 600
#define LATENCY_MS_QUICK 300

/* io.echo and mix.convoy measure a steady-state window of the load generator: 0.6 s after a
 * 0.2 s warm-up (QUICK: 0.3 s after 0.1 s); duration_ms is the whole, warmup_ms its start.
 * 0.6 s holds 3000 round trips at the slowest backend's 5000/s, and 7 rounds of a second's
 * window over the 72 windowed cells were 15 minutes of a full run on 2 cores. */
#define WINDOW_FULL "duration_ms=800;warmup_ms=200"
#define WINDOW_QUICK "duration_ms=400;warmup_ms=100"

/* RATE_SWEEP: io.echo open loop at these percentages of the backend's own closed-loop peak
 * at RATE_PEAK_CONNS connections (a set of the same run, before the sweep): the latency
 * against offered load, and its knee. QUICK runs only the loads the table judges (its
 * "latency under load" row: p99 at 50% and 90%). mix.convoy's open loop is the echo service
 * at a modest fixed rate beside the hogs (CONVOY_RATE: one request each 5 ms). */
#define N_OF(a) (int)(sizeof(a) / sizeof(a)[0])
static const int rate_pcts_full[] = {25, 50, 75, 90, 100, 110};
static const int rate_pcts_quick[] = {50, 90};
/* The full sweep's other points are the chart's alone: they run CHART_ROUNDS rounds. */
#define CHART_ROUNDS 3
static int judged_pct(int pct)
{
	for (int k = 0; k < N_OF(rate_pcts_quick); k++)
		if (rate_pcts_quick[k] == pct)
			return 1;
	return 0;
}
#define RATE_PEAK_CONNS 100
#define CONVOY_RATE ";rate=200"

/* The interpreted twins run the same algorithms 30 to 100 times slower than C: their sets
 * (py = 1) are smaller, so that the matrix finishes, and every row says which size ran. */
#define C_ONLY -1
#define PY_ONLY 1

/* --smoke: every workload once, at QUICK's sizes, on every backend: a check that each pair
 * runs and gives ok rows (the tests run it), not a table (one scale each, no growth). The
 * Python twins park, fork or chain fewer tasks: cpython-mp forks a process per task, and
 * 111 of them (skynet) took over 60 s on a loaded 2-vCPU box. */
static const suite_set smoke_sets[] = {
	{"cpu.fib", 4, 30, "", SWEEP | CPU_TASKS, 0, 0},
	{"cpu.hash", 4, 64, "native=0;rounds=2", CPU_TASKS, 0, 0},
	{"cpu.hash", 4, 64, "native=1;rounds=2", CPU_TASKS, 0, 0},
	{"io.sleep", 200, 20, "", 0, 0, 0},
	{"io.echo", 10, 1024, WINDOW_QUICK, 0, 0, 0},
	{"io.echo", 100, 1024, WINDOW_QUICK, 0, 0, 0},
	{"io.echo", RATE_PEAK_CONNS, 1024, WINDOW_QUICK, OWN_CORE_PEAK | NO_SERIAL, 0, 0},
	{"io.echo", RATE_PEAK_CONNS, 1024, WINDOW_QUICK, RATE_SWEEP | NO_SERIAL, 0, 0},
	{"io.pipe", 4, 500, "", 0, 0, 0},
	{"io.file", 4, 1024, "", 0, 0, 0},
	{"mix.latency", 1, 30, "rounds=10;min_ms=0", 0, C_ONLY, LATENCY_MS_QUICK},
	{"mix.latency", 1, 25, "rounds=20;min_ms=0", 0, PY_ONLY, LATENCY_MS_QUICK},
	{"mix.convoy", 1, 64, WINDOW_QUICK, 0, 0, 0},
	{"mix.convoy", 1, 64, WINDOW_QUICK CONVOY_RATE, 0, 0, 0},
	{"micro.spawn", 2000, 0, "", 0, 0, 0},
	{"micro.yield", 2, 5000, "", 0, 0, 0},
	{"micro.chan", 0, 5000, "cap=0", 0, 0, 0},
	{"micro.chan", 0, 5000, "cap=128", 0, 0, 0},
	{"micro.skynet", 0, 100, "", 0, C_ONLY, 0},
	{"micro.skynet", 0, 10, "", 0, PY_ONLY, 0},
	{"micro.ring", 100, 2000, "", 0, C_ONLY, 0},
	{"micro.ring", 10, 200, "", 0, PY_ONLY, 0},
	{"micro.idle", 200, 0, "", 0, C_ONLY, 0},
	{"micro.idle", 20, 0, "", 0, PY_ONLY, 0},
	{NULL, 0, 0, NULL, 0, 0, 0},
};
/* Sizes are chosen so that the slowest backend (the embedded CPython twins) finishes each
 * cell in seconds on 2 cores, and so that every chart has a sweep to draw: workers for the
 * CPU workloads, connections for echo, hogs for the mixed ones, tasks for spawn and idle.
 *
 * QUICK is the cells behind the comparison table's marks and the Go verdict, and nothing
 * else, so that it ends in about 3 minutes on 2 cores with its extra rounds: cpu.fib's sweep
 * (parallelism, best for CPU-bound, the speedup shapes), io.sleep at the full matrix's
 * largest scale and io.echo at one scale (concurrency, timers, I/O at scale), the open loop
 * at the two judged loads, mix.latency with a hog per usable CPU (preemption: the cell the
 * table judges, see latency_cell in scripts/table), micro.spawn, micro.chan and micro.idle,
 * on the C models and the Go and Node twins (the Go verdict's figures). The charts of other
 * workloads, the growth shapes, the convoy and the Python twins (the fidelity rows of fork,
 * gil and aloop; no mark of the comparison table reads them) need the full matrix: the
 * three Python twins were 56 of QUICK's 177 s on the 2-vCPU box, its embedded
 * interpreter's start-up and mp's Pool paid in every round. The C io.sleep is the full
 * matrix's 100000 sleeps of 100 ms: at 200 sleepers the threads and gil concurrency marks
 * read "scales" where the full run, at 100000 (more threads than this box's
 * vm.max_map_count allows: unsupported), reads "lags", the contradiction QUICK must not
 * make; the green models' repetition is 0.2-0.3 s, and the refusals cost nothing. */
/* QUICK's cpu.fib repetitions last the full matrix's 200 ms (at 1 worker; the other worker
 * counts run its count, see lead_first), not QUICK's 50: the
 * parallelism marks divide a 1-worker time by a 2-worker one, and at 50 ms (25 ms on 2
 * workers) one 4 ms scheduler tick lost to the shared box is a sixth of a repetition: the
 * medians of mn's 2-worker speedup in three QUICK runs spread 1.42x (max / min). The other
 * QUICK cells keep 50 ms. */
#define FIB_MS_QUICK 200
/* ... and its C tasks are fib(34), the full matrix's cell (~35 ms a task here), not fib(30):
 * with tasks of ~5 ms (8 OS threads created every round of the calibrated count) threads'
 * speedup read 1.11x [1.09, 1.15] in a QUICK run (1.68 cores busy) against 1.74x [1.71, 2.03]
 * in the full run, the parallelism mark QUICK runs contradicted; one cell for both. */
static const suite_set quick_sets[] = {
	{"cpu.fib", 4, 34, "", SWEEP | SWEEP_TO_NCPU | CPU_TASKS, C_ONLY, FIB_MS_QUICK},
	{"io.sleep", 100000, 100, "", NO_SERIAL, C_ONLY, 0},
	{"io.echo", 100, 1024, WINDOW_QUICK, NO_SERIAL, C_ONLY, 0},
	{"io.echo", RATE_PEAK_CONNS, 1024, WINDOW_QUICK, OWN_CORE_PEAK | NO_SERIAL, C_ONLY, 0},
	{"io.echo", RATE_PEAK_CONNS, 1024, WINDOW_QUICK, RATE_SWEEP | NO_SERIAL, C_ONLY, 0},
	{"mix.latency", 1, 30, "rounds=10;min_ms=0", PER_CPU, C_ONLY, LATENCY_MS_QUICK},
	/* one hog where one thread runs the tasks: the GIL's probe behind 2 hogs on 2 workers
	 * woke 15-117 times a repetition, too few for a p99 to decide (16-180 ms), behind one it
	 * waits out the 5 ms switch interval, as the full matrix's 1-hog cell shows */
	{"mix.latency", 1, 30, "rounds=10;min_ms=0", ONE_RUNNER, C_ONLY, LATENCY_MS_QUICK},
	{"micro.spawn", 2000, 0, "", 0, C_ONLY, 0},
	/* the full matrix's largest spawn cell, the one the table judges: a Pool's start-up
	 * spread over 2000 tasks put fork at 3.6-5.1 us a task against 5 us (the mark flipped
	 * between QUICK runs), over 100000 at 0.9 us */
	{"micro.spawn", 100000, 0, "", NO_THREADS, C_ONLY, 0},
	{"micro.chan", 0, 5000, "cap=0", 0, C_ONLY, 0},
	{"micro.idle", 200, 0, "", 0, C_ONLY, 0},
	{NULL, 0, 0, NULL, 0, 0, 0},
};
static const suite_set full_sets[] = {
	{"cpu.fib", 8, 34, "", SWEEP | CPU_TASKS, C_ONLY, 0},
	{"cpu.fib", 8, 25, "", SWEEP | CPU_TASKS, PY_ONLY, 0},
	/* to the usable CPUs: oversubscription is cpu.fib's question */
	{"cpu.hash", 8, 256, "native=0", SWEEP | SWEEP_TO_NCPU | CPU_TASKS | CHART_ONLY, C_ONLY, 0},
	{"cpu.hash", 8, 256, "native=1", SWEEP | SWEEP_TO_NCPU | CPU_TASKS, C_ONLY, 0},
	{"cpu.hash", 8, 16, "native=0", SWEEP | SWEEP_TO_NCPU | CPU_TASKS | CHART_ONLY, PY_ONLY, 0},
	{"cpu.hash", 8, 16, "native=1", SWEEP | SWEEP_TO_NCPU | CPU_TASKS, PY_ONLY, 0},
	/* not on the process backends: 10000 forked sleepers took fork 68 s a round, and the
	 * table judges concurrency at 100000 (fork: unsupported there) */
	{"io.sleep", 10000, 100, "", NO_PROCS, 0, 0},
	{"io.sleep", 100000, 100, "", 0, C_ONLY, 0},
	{"io.echo", 10, 1024, WINDOW_FULL, CHART_ONLY, 0, 0},
	{"io.echo", 100, 1024, WINDOW_FULL, 0, 0, 0},
	{"io.echo", 1000, 1024, WINDOW_FULL, 0, 0, 0},
	/* the sweep's points in QUICK windows; the points the table judges (50% and 90%) run
	 * every round, the chart's others CHART_ROUNDS */
	{"io.echo", RATE_PEAK_CONNS, 1024, WINDOW_QUICK, OWN_CORE_PEAK | NO_SERIAL, 0, 0},
	{"io.echo", RATE_PEAK_CONNS, 1024, WINDOW_QUICK, RATE_SWEEP | NO_SERIAL, 0, 0},
	{"io.pipe", 8, 20000, "", CHART_ONLY, C_ONLY, 0},
	{"io.pipe", 8, 2000, "", CHART_ONLY, PY_ONLY, 0},
	{"io.file", 8, 4096, "", CHART_ONLY, 0, 0},
	{"mix.latency", 0, 27, "rounds=400;min_ms=600", 0, C_ONLY, 0},
	{"mix.latency", 1, 27, "rounds=400;min_ms=0", 0, C_ONLY, LATENCY_MS_FULL},
	{"mix.latency", 1, 27, "rounds=400;min_ms=0", PER_CPU, C_ONLY, LATENCY_MS_FULL},
	{"mix.latency", 2, 27, "rounds=400;min_ms=0", PER_CPU, C_ONLY, LATENCY_MS_FULL},
	{"mix.latency", 0, 22, "rounds=40;min_ms=600", 0, PY_ONLY, 0},
	{"mix.latency", 1, 22, "rounds=40;min_ms=0", 0, PY_ONLY, LATENCY_MS_FULL},
	{"mix.latency", 1, 22, "rounds=40;min_ms=0", PER_CPU, PY_ONLY, LATENCY_MS_FULL},
	/* closed loop only: the table and the charts read no open-loop convoy (--smoke keeps one
	 * to check that it runs) */
	{"mix.convoy", 0, 64, WINDOW_FULL, 0, 0, 0},
	{"mix.convoy", 1, 64, WINDOW_FULL, 0, 0, 0},
	{"mix.convoy", 2, 64, WINDOW_FULL, 0, 0, 0},
	{"micro.spawn", 1000, 0, "", 0, 0, 0},
	{"micro.spawn", 10000, 0, "", 0, 0, 0},
	/* the green and pooled models at 100000: an OS thread per task is 40 s a round there,
	 * and the fidelity and growth rows read it at 1000 and 10000 */
	{"micro.spawn", 100000, 0, "", NO_THREADS, C_ONLY, 0},
	{"micro.yield", 2, 200000, "", CHART_ONLY, C_ONLY, 0},
	/* two tasks per worker: every yield switches, on every backend (with one task per
	 * worker an M:N scheduler's yield finds nothing else to run and returns) */
	{"micro.yield", 2, 200000, "", PER_CPU | CHART_ONLY, C_ONLY, 0},
	{"micro.yield", 2, 20000, "", CHART_ONLY, PY_ONLY, 0},
	{"micro.chan", 0, 100000, "cap=0", 0, C_ONLY, 0},
	{"micro.chan", 0, 100000, "cap=128", CHART_ONLY, C_ONLY, 0},
	{"micro.chan", 0, 10000, "cap=0", 0, PY_ONLY, 0},
	{"micro.chan", 0, 10000, "cap=128", CHART_ONLY, PY_ONLY, 0},
	/* Trees of 1111 tasks on every backend but the mp twin (a Python process per task:
	 * 65 ms each), 11111 on the green and pooled ones (an OS thread per task: 45 s a round
	 * under gil), a million on the C ones that can */
	{"micro.skynet", 0, 1000, "", 0, C_ONLY, 0},
	{"micro.skynet", 0, 1000, "", NO_PROCS, PY_ONLY, 0},
	{"micro.skynet", 0, 10000, "", NO_PROCS | NO_THREADS, 0, 0},
	{"micro.skynet", 0, 1000000, "", 0, C_ONLY, 0},
	{"micro.ring", 503, 100000, "", CHART_ONLY, C_ONLY, 0},
	/* not the mp twin's: 503 Python processes took 46 s a round */
	{"micro.ring", 503, 10000, "", CHART_ONLY | NO_PROCS, PY_ONLY, 0},
	/* 100 idle tasks on every backend (the mp twin's largest: 1000 of its processes took
	 * 59 s a round), 1000 on all others, 10000 on the green ones (10000 idle threads under
	 * the GIL: 12-24 s a round), 100000 on the C ones that can */
	{"micro.idle", 100, 0, "", 0, 0, 0},
	{"micro.idle", 1000, 0, "", 0, C_ONLY, 0},
	{"micro.idle", 1000, 0, "", NO_PROCS, PY_ONLY, 0},
	{"micro.idle", 10000, 0, "", NO_PROCS | NO_THREADS, 0, 0},
	{"micro.idle", 100000, 0, "", 0, C_ONLY, 0},
	{NULL, 0, 0, NULL, 0, 0, 0},
};

static int in_list(const char *csv, const char *name)
{
	if (!csv)
		return 1;
	size_t n = strlen(name);
	for (const char *p = csv; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == n && !strncmp(p, name, n))
			return 1;
		p += l + (e ? 1 : 0);
	}
	return 0;
}

/* Every name of a comma list must exist: a typo must not silently shrink the matrix. */
static void check_list(const char *csv, int backends)
{
	if (!csv)
		return;
	char *copy = strdup(csv), *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (backends ? !cb_backend_find(t) : !cb_workload_find(t) || cb_workload_find(t)->hidden)
			cb_usage_error("suite: unknown %s %s (see bench list)", backends ? "backend" : "workload", t);
	if (!*csv || csv[strlen(csv) - 1] == ',')
		cb_usage_error("suite: empty name in --%s %s", backends ? "backends" : "workloads", csv);
	free(copy);
}

static const char suite_usage[] =
	"usage: bench suite [--quick | --smoke] [--out DIR] [--backends a,b] [--workloads x,y]\n"
	"                   [--reps N] [--timeout SEC] [--min-time MS] [--seed N]\n"
	"                   [--cell-budget-ms MS]\n"
	"                   [--dry-run [--cpus N]]\n"
	"Runs the matrix, each cell in its own process under a watchdog, into DIR/runs.csv and\n"
	"DIR/machine.json (DIR defaults to results/<host>-<utc>). Progress goes to stderr.\n"
	"Cells that the table divides by one another form a round group (every backend and worker\n"
	"count of a set, the serial baseline once; consecutive sets of one workload): round r\n"
	"runs one repetition of each, in an order shuffled with the group's seed (derived from\n"
	"--seed, recorded in machine.json; every row carries its group's), then round r+1;\n"
	"--reps is the number of rounds; past 3, a cell whose processes have taken\n"
	"--cell-budget-ms in all runs no more (its repetitions are long; default 4000, 0: every\n"
	"cell runs every round); a cell that only a chart reads runs 3. A count-sized workload is calibrated in round 1 so that a\n"
	"repetition lasts --min-time; later rounds run the count found.\n"
	"The matrix scales with the usable CPUs (affinity and cgroup quota): --dry-run prints the\n"
	"planned cells and runs nothing; --cpus N plans for an N-CPU box instead.\n"
	"--quick runs only the cells behind the comparison table's marks and the Go verdict, on\n"
	"the C models and the Go and Node twins (about 3 minutes on 2 cores); --smoke runs every\n"
	"workload once on every backend at QUICK's sizes (a check).\n"
	"Defaults: all backends and workloads; --reps 7 (3 with --quick or --smoke); --min-time\n"
	"200 (50); --timeout 300 per cell process (60); --seed from the clock.\n"
	"Exit status: 0 done (cells not ok are rows too), 2 bad input (nothing run), 3 a row could\n"
	"not be written (disk full, file or folder removed, read-only): the run stops there and\n"
	"runs.csv holds only whole rows, 130 interrupted.";

#define ROUNDS_FULL 7
#define ROUNDS_QUICK 3
/* A cell's rounds are sized by time too: once it has run LONG_MIN_ROUNDS rounds, it stops as
 * soon as its processes have taken CELL_BUDGET_MS in all (--cell-budget-ms): a cell of
 * 0.5 s a round runs all 7, one of 1 s (an echo window, a latency probe) stops at 4, one of
 * 1.4 s or more at 3. A long repetition already averages the short spells of a shared box;
 * at 7 rounds the dozen cells of 2 to 25 s a repetition (10000 idle threads under the GIL,
 * 1000 processes of the mp twin, 100000 spawns) took a third of a full run, and at 8 s the
 * windows and probes of about a second took 7 rounds each and the run 40 minutes on 2
 * cores. The table's intervals say how many rounds each figure had; the extra rounds
 * (scripts/more-rounds) add more where a mark is undecided. */
#define LONG_MIN_ROUNDS 3
#define CELL_BUDGET_MS 4000
#define MIN_TIME_MS_FULL 200
#define MIN_TIME_MS_QUICK 50
#define MAX_CPUS 65536

/* A growable list of cells: the matrix of a big box is never cut short. */
typedef struct cell_list {
	cb_cell *v;
	int *group;  /* cells of one round group (see same_group) share a number */
	int *min_ms; /* the set's calibration target, 0: --min-time */
	int *pct;    /* RATE_SWEEP: the rate is this % of the backend's peak; 0: as planned */
	int *max_rounds; /* CHART_ROUNDS for a chart's cell, 0: every round */
	int *lead;   /* a sweep's cell: the index of its backend's 1-worker cell, whose calibrated
		      * count it runs (-1: it calibrates its own) */
	int n, cap;
} cell_list;

static void cell_list_free(cell_list *l)
{
	free(l->v), free(l->group), free(l->min_ms), free(l->pct), free(l->max_rounds), free(l->lead);
}

static cb_cell *cell_add(cell_list *l, int group, int min_ms)
{
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 256;
		cb_cell *v = realloc(l->v, (size_t)cap * sizeof *v);
		if (v)
			l->v = v;
		int *g = realloc(l->group, (size_t)cap * sizeof *g);
		if (g)
			l->group = g;
		int *m = realloc(l->min_ms, (size_t)cap * sizeof *m);
		if (m)
			l->min_ms = m;
		int *pc = realloc(l->pct, (size_t)cap * sizeof *pc);
		if (pc)
			l->pct = pc;
		int *mr = realloc(l->max_rounds, (size_t)cap * sizeof *mr);
		if (mr)
			l->max_rounds = mr;
		int *ld = realloc(l->lead, (size_t)cap * sizeof *ld);
		if (ld)
			l->lead = ld;
		if (!v || !g || !m || !pc || !mr || !ld)
			cb_usage_error("suite: out of memory planning %d cells", cap);
		l->cap = cap;
	}
	l->group[l->n] = group;
	l->min_ms[l->n] = min_ms;
	l->pct[l->n] = 0;
	l->max_rounds[l->n] = 0;
	l->lead[l->n] = -1;
	cb_cell *c = &l->v[l->n++];
	memset(c, 0, sizeof *c);
	return c;
}

/* Worker counts of a sweep: 1, 2, 4, ... below ncpu, then ncpu and 2 x ncpu. */
int cb_suite_sweep(int ncpu, int *out, int max)
{
	int n = 0;
	for (int w = 1; w < ncpu && n < max; w *= 2)
		out[n++] = w;
	if (n < max && (!n || out[n - 1] != ncpu))
		out[n++] = ncpu;
	if (n < max)
		out[n++] = 2 * ncpu;
	return n;
}

/* Sets that the table divides by one another share a round group: consecutive sets of one
 * workload for the same backends (hogs against no hogs, the most tasks against the fewest),
 * and every worker count of a sweep (each against the serial baseline and against the
 * backend's own 1-worker cell). A ratio is then taken round by round between rows measured
 * seconds apart, not between medians measured minutes apart. */
static int same_group(const suite_set *prev, const suite_set *s)
{
	/* A rate sweep is a group of its own, after the peaks it is a percentage of: each
	 * backend's closed-loop rate at RATE_PEAK_CONNS, measured by the group before it. Its
	 * offered loads and backends share its rounds. */
	if (prev && ((prev->flags | s->flags) & RATE_SWEEP))
		return 0;
	return prev && !strcmp(prev->workload, s->workload) && prev->py == s->py;
}

/* Cell i of l planned earlier, the same as the last one (backend, workload, tasks, size,
 * workers, params, offered load), or -1: on one CPU a set of a hog per CPU is the set of one
 * hog, and a cell planned twice would run twice a round, its rows one cell's. */
static int planned_before(const cell_list *l)
{
	const cb_cell *c = &l->v[l->n - 1];
	for (int i = 0; i < l->n - 1; i++) {
		const cb_cell *o = &l->v[i];
		if (o->be == c->be && o->wl == c->wl && o->tasks == c->tasks && o->size == c->size &&
		    o->cfg.workers == c->cfg.workers && l->pct[i] == l->pct[l->n - 1] &&
		    !memcmp(o->p, c->p, sizeof o->p) && !memcmp(o->cfg.p, c->cfg.p, sizeof o->cfg.p))
			return i;
	}
	return -1;
}

static void plan(cell_list *l, const suite_set *sets, const int *pcts, int npcts, const char *wlist,
		 const char *bl, int ncpu)
{
	char why[256];
	int group = -1;
	const suite_set *prev = NULL;
	for (const suite_set *s = sets; s->workload; s++) {
		if (!in_list(wlist, s->workload))
			continue;
		if ((s->flags & OWN_CORE_PEAK) && (ncpu < 2 || ncpu >= CLIENT_CORE_MIN_CPUS))
			continue; /* the closed loops of the matrix leave the generator a core, or none can */
		if (!same_group(prev, s))
			group++;
		prev = s;
		const cb_workload *wl = cb_workload_find(s->workload);
		int ws[64], nw = 1;
		ws[0] = 0; /* 0: the default (usable CPUs) */
		if (s->flags & SWEEP)
			nw = cb_suite_sweep(ncpu, ws, 64);
		if ((s->flags & SWEEP_TO_NCPU) && nw > 1)
			nw--; /* the last point is twice ncpu */
		if (s->flags & RATE_SWEEP) /* the offered loads, at the usable CPUs */
			for (nw = 0; nw < npcts; nw++)
				ws[nw] = 0;
		int first[256]; /* each backend's cell at the sweep's first worker count */
		for (size_t b = 0; b < sizeof first / sizeof *first; b++)
			first[b] = -1;
		for (int k = 0; k < nw; k++) {
			for (size_t b = 0; b < cb_nbackends; b++) {
				const cb_backend *be = cb_backends[b];
				if (!be || !in_list(bl, be->name))
					continue;
				int is_py = !strncmp(be->name, "cpython-", 8);
				if ((s->py == PY_ONLY && !is_py) || (s->py == C_ONLY && is_py))
					continue;
				/* a backend that runs tasks one after another ignores workers: one
				 * baseline per sweep (at 1 worker), in the rounds of every worker count */
				if (!be->concurrent && (ws[k] > 1 || (s->flags & NO_SERIAL)))
					continue;
				if ((be->tasks_are_processes && (s->flags & NO_PROCS)) ||
				    (be->tasks_are_threads && (s->flags & NO_THREADS)) ||
				    (!be->one_runner && (s->flags & ONE_RUNNER)))
					continue;
				cb_cell *c = cell_add(l, group, s->min_ms);
				if ((s->flags & SWEEP) && b < sizeof first / sizeof *first) {
					if (k == 0)
						first[b] = l->n - 1;
					else
						l->lead[l->n - 1] = first[b];
				}
				if (s->flags & RATE_SWEEP)
					l->pct[l->n - 1] = pcts[k];
				if ((s->flags & CHART_ONLY) || ((s->flags & RATE_SWEEP) && !judged_pct(pcts[k])))
					l->max_rounds[l->n - 1] = CHART_ROUNDS;
				cb_cell_defaults(c, be, wl);
				c->cfg.workers = ws[k] ? ws[k] : ncpu;
				/* a load generator's own core, where the box has one to spare */
				if (wl->client_params && !ws[k] && ncpu >= CLIENT_CORE_MIN_CPUS)
					c->cfg.workers = ncpu - 1;
				if (s->flags & (RATE_SWEEP | OWN_CORE_PEAK))
					c->cfg.workers = sweep_workers(ncpu);
				if (s->tasks || wl->tasks_zero_ok)
					c->tasks = s->flags & PER_CPU ? s->tasks * ncpu : s->tasks;
				if ((s->flags & CPU_TASKS) && c->tasks < (int64_t)TASKS_PER_CPU * ncpu)
					c->tasks = (int64_t)TASKS_PER_CPU * ncpu;
				if (s->size)
					c->size = s->size;
				char kv[256];
				snprintf(kv, sizeof kv, "%s", s->params);
				char *save = NULL;
				for (char *t = strtok_r(kv, ";", &save); t; t = strtok_r(NULL, ";", &save))
					if (cb_cell_set_param(c, t, why, sizeof why) < 0)
						cb_usage_error("suite: built-in set for %s: %s", wl->name, why);
				int dup = planned_before(l);
				if (dup >= 0) {
					l->n--;
					if (b < sizeof first / sizeof *first && first[b] == l->n)
						first[b] = dup;
				}
			}
		}
	}
}

/* splitmix64: a small seeded generator, so that a seed always gives the same orders. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The seed of group `group`'s shuffles, from the run's seed: every row of the group carries
 * it, so rows of one round of one group pair (same seed, same round) and rows of two groups,
 * which never ran side by side, do not. */
uint64_t cb_suite_group_seed(uint64_t seed, int group)
{
	uint64_t st = seed ^ (uint64_t)group * 0x9e3779b97f4a7c15ull;
	return next_rand(&st) >> 1; /* >> 1: fits --seed's range, so a row's seed can be given back */
}

/* The order in which round `round` of a group of n cells runs them (Fisher-Yates), from the
 * group's seed. */
void cb_suite_order(uint64_t gseed, int round, int *order, int n)
{
	uint64_t st = gseed ^ (uint64_t)round * 0x100000001b3ull;
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(next_rand(&st) % (uint64_t)(i + 1));
		int t = order[i];
		order[i] = order[j], order[j] = t;
	}
}

/* A speedup divides a backend's 1-worker time by its N-worker time: both must run the same
 * count, or a cost paid once a repetition (a Pool's start, thread creation) weighs more in
 * the shorter one. Calibrated each to its own time, the mp twin's 1-worker cell ran rounds=2
 * and its 2-worker cell rounds=2 in one full run, 3 and 4 in the next, and its speedup read
 * 1.26x (partial) and then 1.57x (parallel): the fidelity row flipped. So a sweep's other
 * worker counts run the count its 1-worker cell calibrated (their repetitions last the target
 * divided by their speedup), and in round 1 those cells run first: order's cells of a group
 * (from g0) that lead come before those that follow, each part in its shuffled order. */
static void lead_first(const cell_list *l, int g0, int *order, int n)
{
	int *tmp = malloc((size_t)n * sizeof *tmp), m = 0;
	if (!tmp)
		return; /* unordered: a follower then calibrates its own count */
	for (int pass = 0; pass < 2; pass++)
		for (int k = 0; k < n; k++)
			if ((l->lead[g0 + order[k]] >= 0) == pass)
				tmp[m++] = order[k];
	memcpy(order, tmp, (size_t)n * sizeof *tmp);
	free(tmp);
}

/* The plan, group by group: what one round runs together. The time is a floor, from the
 * count-sized cells alone: each of their rounds warms up (at least one repetition and
 * CB_WARMUP_MS_DEFAULT) and then runs one repetition of at least its target. */
static void print_plan(const cell_list *l, int ncpu, int rounds, int min_ms, const char *why)
{
	int groups = l->n ? l->group[l->n - 1] + 1 : 0;
	double floor_s = 0;
	for (int i = 0; i < l->n; i++) {
		int t = l->min_ms[i] ? l->min_ms[i] : min_ms;
		if (l->v[i].wl->scale)
			floor_s += rounds * (t + (t > CB_WARMUP_MS_DEFAULT ? t : CB_WARMUP_MS_DEFAULT)) / 1e3;
	}
	printf("plan for %d usable CPU%s (%s): %d cells in %d round groups, %d rounds, --min-time %d ms, "
	       "at least %.0f s\n", ncpu, ncpu == 1 ? "" : "s", why, l->n, groups, rounds, min_ms, floor_s);
	for (int i = 0; i < l->n; i++) {
		const cb_cell *c = &l->v[i];
		if (!i || l->group[i] != l->group[i - 1]) {
			int n = 0;
			while (i + n < l->n && l->group[i + n] == l->group[i])
				n++;
			printf("group %d: %d cells, each round runs every one of them once, shuffled\n",
			       l->group[i] + 1, n);
		}
		char params[512];
		cb_cell_params(c, params, sizeof params);
		printf("%-15s %-13s tasks=%" PRId64 " workers=%d size=%" PRId64 " %s", c->be->name,
		       c->wl->name, c->tasks, c->cfg.workers, c->size, params);
		if (l->lead[i] >= 0)
			printf("  (the count its %d-worker cell calibrated)", l->v[l->lead[i]].cfg.workers);
		else if (l->min_ms[i])
			printf("  (calibrated to %d ms)", l->min_ms[i]);
		if (l->pct[i])
			printf("  (rate: %d%% of its closed-loop peak at %d connections and %d worker%s)",
			       l->pct[i], RATE_PEAK_CONNS, c->cfg.workers, c->cfg.workers == 1 ? "" : "s");
		if (l->max_rounds[i] && l->max_rounds[i] < rounds)
			printf("  (a chart's cell: %d rounds)", l->max_rounds[i]);
		putchar('\n');
	}
	printf("%d cells\n", l->n);
}

/* ---- RATE_SWEEP: offered loads relative to each backend's own peak ---------------------- */

/* Each backend's closed-loop requests/s at RATE_PEAK_CONNS connections, one per round. */
typedef struct rate_peaks {
	double *v; /* [backend index * rounds + k] */
	int *n;    /* per backend index */
	int rounds;
	int workers; /* the sweep's server workers: a peak at other workers is another server */
} rate_peaks;

static int backend_index(const cb_backend *be)
{
	for (size_t b = 0; b < cb_nbackends; b++)
		if (cb_backends[b] == be)
			return (int)b;
	return 0;
}

/* Keep the rate of a closed-loop windowed io.echo cell at RATE_PEAK_CONNS connections. */
static void peak_note(rate_peaks *pk, const cell_list *l, int i, const cb_cell_result *res)
{
	const cb_cell *c = &l->v[i];
	if (l->pct[i] || strcmp(c->wl->name, "io.echo") || c->tasks != RATE_PEAK_CONNS ||
	    c->cfg.workers != pk->workers ||
	    c->p[cb_param_slot(c->wl->params, "rate")] != 0 ||
	    c->p[cb_param_slot(c->wl->params, "duration_ms")] <= 0 || !res->ok_rows)
		return;
	int b = backend_index(c->be);
	if (pk->n[b] < pk->rounds)
		pk->v[b * pk->rounds + pk->n[b]++] = res->rate_med;
}

/* Set a sweep cell's rate from its backend's median peak; -1 if there is none. */
static int peak_apply(const rate_peaks *pk, const cell_list *l, int i)
{
	cb_cell *c = &l->v[i];
	int b = backend_index(c->be), n = pk->n[b];
	if (!n)
		return -1;
	double v[n];
	memcpy(v, pk->v + b * pk->rounds, sizeof v);
	for (int x = 1; x < n; x++) /* insertion sort: at most a few rounds */
		for (int y = x; y > 0 && v[y - 1] > v[y]; y--) {
			double t = v[y];
			v[y] = v[y - 1], v[y - 1] = t;
		}
	double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	int64_t rate = (int64_t)(med * l->pct[i] / 100.0 + 0.5);
	char kv[64], why[128];
	snprintf(kv, sizeof kv, "rate=%" PRId64, rate > 0 ? rate : 1);
	return cb_cell_set_param(c, kv, why, sizeof why) < 0 ? -1 : 0;
}

/* Set the workload's scaled knob (its `scale`) of c to v. */
static void set_knob(cb_cell *c, int64_t v)
{
	const char *k = c->wl->scale;
	if (!k)
		return;
	if (!strcmp(k, "size")) {
		c->size = v;
		return;
	}
	int i = cb_param_slot(c->wl->params, k);
	if (i >= 0)
		c->p[i] = v;
}

int cb_suite_main(int argc, char **argv)
{
	int quick = 0, smoke = 0, dry = 0;
	const char *out = NULL, *bl = NULL, *wlist = NULL;
	int64_t reps = -1, timeout = -1, min_ms = -1, cpus = 0, seed = -1, budget_arg = -1;
	static const struct option opts[] = {
		{"quick", 0, 0, 'q'}, {"smoke", 0, 0, 'K'}, {"out", 1, 0, 'o'}, {"backends", 1, 0, 'b'},
		{"workloads", 1, 0, 'w'}, {"reps", 1, 0, 'r'}, {"timeout", 1, 0, 'T'},
		{"min-time", 1, 0, 'M'}, {"dry-run", 0, 0, 'd'}, {"cpus", 1, 0, 'C'},
		{"seed", 1, 0, 'S'}, {"cell-budget-ms", 1, 0, 'B'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	int o;
	opterr = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case 'q': quick = 1; break;
		case 'K': smoke = 1; break;
		case 'o': out = optarg; break;
		case 'b': bl = optarg; break;
		case 'w': wlist = optarg; break;
		case 'r': reps = cb_num_arg("suite: --reps", optarg, 1, 1000); break;
		case 'T': timeout = cb_num_arg("suite: --timeout", optarg, 1, 86400); break;
		case 'M': min_ms = cb_num_arg("suite: --min-time", optarg, 0, 3600000); break;
		case 'C': cpus = cb_num_arg("suite: --cpus", optarg, 1, MAX_CPUS); break;
		case 'S': seed = cb_num_arg("suite: --seed", optarg, 0, INT64_MAX); break;
		case 'B': budget_arg = cb_num_arg("suite: --cell-budget-ms", optarg, 0, 86400000); break;
		case 'd': dry = 1; break;
		case 'h': puts(suite_usage); return 0;
		case ':': cb_usage_error("suite: %s needs a value", argv[optind - 1]);
		default: cb_usage_error("suite: unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		cb_usage_error("suite: unexpected argument %s", argv[optind]);
	if (quick && smoke)
		cb_usage_error("suite: --quick and --smoke are two matrices: give one");
	int short_run = quick || smoke; /* QUICK's rounds, target time and timeout */
	if (cpus && !dry)
		cb_usage_error("suite: --cpus %" PRId64 " plans for another box: only with --dry-run", cpus);
	check_list(bl, 1);
	check_list(wlist, 0);

	int ncpu = cpus ? (int)cpus : cb_ncpu();
	int rounds = (int)(reps > 0 ? reps : short_run ? ROUNDS_QUICK : ROUNDS_FULL);
	int min_time = (int)(min_ms >= 0 ? min_ms : short_run ? MIN_TIME_MS_QUICK : MIN_TIME_MS_FULL);
	/* Build the whole list first: the progress line needs n, and bad sets fail early. */
	cell_list l = {0};
	if (smoke)
		plan(&l, smoke_sets, rate_pcts_quick, N_OF(rate_pcts_quick), wlist, bl, ncpu);
	else if (quick)
		plan(&l, quick_sets, rate_pcts_quick, N_OF(rate_pcts_quick), wlist, bl, ncpu);
	else
		plan(&l, full_sets, rate_pcts_full, N_OF(rate_pcts_full), wlist, bl, ncpu);
	if (!l.n)
		cb_usage_error("suite: no cell matches --backends/--workloads%s",
			       quick ? " (QUICK runs no Python twin: the full matrix does)" : "");
	if (dry) {
		print_plan(&l, ncpu, rounds, min_time, cpus ? "--cpus" : "affinity and cgroup quota");
		cell_list_free(&l);
		return 0;
	}

	cb_meta meta;
	cb_meta_fill(&meta, NULL);
	meta.seed = seed >= 0 ? (uint64_t)seed : cb_now_ns() ^ (uint64_t)getpid() << 32;
	char dir[1024];
	if (out)
		snprintf(dir, sizeof dir, "%s", out);
	else {
		char utc[32];
		cb_utc_now(utc, sizeof utc);
		snprintf(dir, sizeof dir, "results/%s-%s", meta.host, utc);
		mkdir("results", 0755);
	}
	const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	char why[256];
	if (cb_csv_check_text(base, sizeof meta.run_id - 1, why, sizeof why) < 0) /* the run id */
		cb_usage_error("suite: --out %s: the folder's name is the run id: %s", dir, why);
	snprintf(meta.run_id, sizeof meta.run_id, "%.127s", base);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		cb_usage_error("suite: --out %s: %s", dir, strerror(errno));
	char csv[1100], mj[1100];
	snprintf(csv, sizeof csv, "%s/runs.csv", dir);
	snprintf(mj, sizeof mj, "%s/machine.json", dir);
	if (cb_csv_check_writable(csv, why, sizeof why) < 0)
		cb_usage_error("suite: %s: %s", csv, why);
	/* Ctrl-C is handled from here on: machine.json runs `go version` and `node --version`,
	 * which take a moment, and an interrupt then must end the suite like any other. */
	cb_cell_signals();
	int budget_ms = rounds <= LONG_MIN_ROUNDS ? 0 : (int)(budget_arg >= 0 ? budget_arg : CELL_BUDGET_MS);
	cb_machine_info mi = {.seed = meta.seed, .rounds = rounds, .min_time_ms = min_time,
			      .cell_budget_ms = budget_ms};
	cb_noise_probe(&mi.probe_start);
	if (cb_machine_json(mj, &meta, &mi) < 0)
		cb_usage_error("suite: cannot write %s: %s", mj, strerror(errno));

	cb_run_opts ro = {.reps = 1, .warmup = 1, .warmup_ns = (uint64_t)CB_WARMUP_MS_DEFAULT * 1000000u,
			  .timeout_s = timeout > 0 ? timeout : short_run ? 60 : 300, .csv = csv,
			  .meta = &meta, .verbose = 0};
	uint64_t t0 = cb_now_ns();
	int bad = 0, done = 0, total = l.n * rounds, ret = 0;
	int *order = malloc((size_t)l.n * sizeof *order);
	rate_peaks peaks = {calloc(cb_nbackends * (size_t)rounds, sizeof(double)),
			    calloc(cb_nbackends, sizeof(int)), rounds, sweep_workers(ncpu)};
	char *calibrated = calloc((size_t)l.n, 1), *skip = calloc((size_t)l.n, 1);
	int64_t *knob_of = calloc((size_t)l.n, sizeof(int64_t)); /* the count round 1 found */
	double *spent = calloc((size_t)l.n, sizeof(double)); /* seconds of each cell's processes */
	/* Group by group (see same_group), round by round: every cell of the group once per
	 * round in a shuffled order, so that the figures a table divides are measured seconds
	 * apart and a slow spell of a shared machine hits them all, in no fixed order. Rows
	 * carry the group's seed: meta.seed is the run's until here (machine.json), then the
	 * group's. */
	uint64_t run_seed = meta.seed;
	for (int g0 = 0; g0 < l.n;) {
		int g1 = g0;
		while (g1 < l.n && l.group[g1] == l.group[g0])
			g1++;
		meta.seed = cb_suite_group_seed(run_seed, l.group[g0]);
		for (int r = 1; r <= rounds; r++) {
			cb_suite_order(meta.seed, r, order, g1 - g0);
			if (r == 1) /* a sweep's 1-worker cells calibrate before the cells that reuse it */
				lead_first(&l, g0, order, g1 - g0);
			for (int k = 0; k < g1 - g0; k++) {
				int i = g0 + order[k];
				cb_cell *c = &l.v[i];
				int ld = l.lead[i];
				if (!calibrated[i] && ld >= 0 && knob_of[ld] > 0) {
					set_knob(c, knob_of[ld]);
					calibrated[i] = 1;
					if (l.v[ld].known_knob == knob_of[ld])
						c->known_knob = l.v[ld].known_knob, c->known_expected = l.v[ld].known_expected;
				}
				if (skip[i] || (l.max_rounds[i] && r > l.max_rounds[i])) {
					done++;
					continue;
				}
				double el = (double)(cb_now_ns() - t0) / 1e9;
				double eta = done ? el / done * (total - done) : 0;
				fprintf(stderr, "[%d/%d] round %d/%d %-15s %-13s tasks=%" PRId64 " size=%" PRId64
					" workers=%d  elapsed %.0fs  ETA %.0fs\n", done + 1, total, r, rounds,
					c->be->name, c->wl->name, c->tasks, c->size, c->cfg.workers, el, eta);
				ro.round = r;
				int target = l.min_ms[i] ? l.min_ms[i] : min_time;
				ro.min_time_ns = calibrated[i] ? 0 : (uint64_t)target * 1000000u;
				cb_cell_result res;
				if (l.pct[i] && peak_apply(&peaks, &l, i) < 0) {
					fprintf(stderr, "        -> skipped: no closed-loop io.echo peak of %s at %d "
						"connections in this run\n", c->be->name, RATE_PEAK_CONNS);
					skip[i] = 1;
					done++;
					continue;
				}
				uint64_t c0 = cb_now_ns();
				int rc = cb_cell_run(c, &ro, &res);
				spent[i] += (double)(cb_now_ns() - c0) / 1e9;
				peak_note(&peaks, &l, i, &res);
				done++;
				if (rc == CB_EXIT_LOST) { /* cb_cell_run said what and why */
					ret = rc;
					goto out;
				}
				if (rc == 130) {
					fprintf(stderr, "bench: interrupted at %d/%d; %s holds only whole rows\n",
						done, total, csv);
					ret = 130;
					goto out;
				}
				/* later rounds run the count round 1 found */
				if (res.calibrated > 0)
					set_knob(c, knob_of[i] = res.calibrated);
				calibrated[i] |= res.calibrated > 0 || !c->wl->scale;
				if (res.exp_knob > 0) /* later rounds need not recompute it */
					c->known_knob = res.exp_knob, c->known_expected = res.exp_value;
				/* a cell that cannot run here says so once, not once a round */
				if (!res.ok_rows && !strcmp(res.status, "unsupported"))
					skip[i] = 1;
				else if (budget_ms && r >= LONG_MIN_ROUNDS && r < rounds && spent[i] * 1e3 >= budget_ms) {
					skip[i] = 1;
					fprintf(stderr, "        -> no more rounds: its %d took %.0f s (past %d, a "
						"cell stops once it has had %.1f s)\n", r, spent[i], LONG_MIN_ROUNDS, budget_ms / 1e3);
				}
				if (rc)
					bad++;
				if (strcmp(res.status, "ok"))
					fprintf(stderr, "        -> %s: %s\n", res.status, res.note);
			}
		}
		g0 = g1;
	}
	cb_noise_probe(&mi.probe_end);
	mi.have_end = 1;
	if (cb_machine_json(mj, &meta, &mi) < 0)
		fprintf(stderr, "bench: cannot rewrite %s: %s\n", mj, strerror(errno));
	fprintf(stderr, "done: %d cells x %d rounds in %.0f s (%d not ok: unsupported, errors...), results in %s\n",
		l.n, rounds, (double)(cb_now_ns() - t0) / 1e9, bad, dir);
	printf("%s\n", dir);
out:
	free(order), free(peaks.v), free(peaks.n), free(calibrated), free(skip), free(spent), free(knob_of);
	cell_list_free(&l);
	return ret;
}
