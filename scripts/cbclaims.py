"""cbclaims.py: the article's claims as data, and the one judge that checks them (Python
standard library only).

One Claim per row of the comparison table: what it measures (the Table method that returns
its figures), its checks (each a figure, the thresholds that cut the figure's range into named
bands, and the band's unit), the value the article expects of each model (one band per
check, or a set of accepted classes for structural facts), and the article's text per model.
scripts/table computes figures; judge() below turns figures into marks; rendering is apart.

A figure is an Est with its 95% interval (cbstats), classified into the band its whole
interval lies in; or a structural fact (counts of threads, the style of a twin) given as the
set of classes it belongs to. The judge:
  ✅  every check's class is the expected one
  ❌  some check's class is decided and is another pole (not an in-between band)
  ❔  otherwise: an interval straddles a threshold, a value sits in an in-between band (a
      partial parallelism, a task neither light nor heavy), or the run cannot tell
  ➖  nothing measured
"""

from collections import namedtuple

import cbstats as S

HOLDS, FAILS, UNCLEAR, NA = "✅", "❌", "❔", "➖"

# ---- thresholds (documented in the table's legend) -------------------------------------------
PARALLEL_FRACTION = 0.5      # parallel: cores busy >= 1 + 0.5 x (usable CPUs - 1), half the extra cores
SERIAL_SPEEDUP = 1.2         # not parallel: cores busy (and speedup) < 1.2
PREEMPT_P99_NS = 50e6        # preemptive: p99 wake delay < 50 ms, five of Go's 10 ms time slices,
                             # judged at one hog per worker: real Go 1.19 measures 19-23 ms there on
                             # 2 CPUs (a woken probe waits out a hog's slice and sysmon's check), so
                             # a mark at two slices (20 ms, as before) put the reference runtime on
                             # its threshold; a cooperative loop makes the probe wait for a whole
                             # hog (600-900 ms in the matrix, always > 2 x this)
SCALE_FACTOR = 3.0           # 'handles scale': within 3x of the best model at the largest cell
CHEAP_SPAWN_NS = 5e3         # cheap spawn: spawn+join < 5 µs
LIGHT_TASK_BYTES = 8192      # light task ('a few KiB'): < two pages resident per parked task
HEAVY_TASK_BYTES = 65536     # heavy task: >= 64 KiB resident per parked task
CHEAP_SWITCH_NS = 1e3        # cheap switch: rendezvous round trip (two switches) < 1 µs
FEW_THREADS_SLACK = 8        # M:N: OS threads <= 2 x ncpu + 8 whatever the task count
POOL_THREADS = 8             # event loop: loop thread + a small pool (libuv's 4) + slack
TIE_FRACTION = 0.10          # 'best for': within 10% of the best model counts as winning, judged by the
                             # interval of the per-round ratio to every other model (scripts/table)
SIMPLE_LOC_FACTOR = 2.0      # simple: twin's lines <= 2 x the shortest twin of the workload (Go and
                             # JS count a whole program, Python one function without twin.py's helpers)
LIKE_FACTOR = 0.8            # Go verdict: 'like X' = at least 80% of X's figure
CONVOY_BANDS = (0.25, 0.75)  # fidelity: I/O with hogs / without: collapses < 0.25 <= drops < 0.75 <= holds
GROWTH_BANDS = (1.5, 4.0)    # fidelity: cost at the most tasks / at the fewest: flat < 1.5 <= grows < 4 <= steep
# A p99 wake delay from fewer wakes than this is one of their two largest (the probe of a
# model that makes it wait long wakes only tens of times in its window): between two full runs
# such a figure moved across the mark (gil with 2 hogs on 2 workers: 15-26 ms from 88-118
# wakes a repetition, then 59-116 ms from 20-66), far beyond its interval from 3 repetitions.
# It decides the preemption class only when its whole interval lies FEW_WAKES_MARGIN times
# beyond the mark.
MIN_P99_WAKES = 200
FEW_WAKES_MARGIN = 2
LOW_LATENCY_P99_NS = 1e6     # latency under load: io.echo open-loop p99 < 1 ms (a round trip on loopback
                             # is tens of µs; 1 ms is queueing), also the chart's knee
# ... and queues only from QUEUE_MARGIN times that: a shared box's stalls only ever add latency,
# so a p99 under the mark is the server's while one just above it may be the box's (a few-ms
# stall of the guest reaches the p99 of a 0.3 s window). mn at 90% of its peak read 1.05 ms
# [1.03, 1.15] in a full run and 471 us [458, 493] in a QUICK run ten minutes later: a flip
# from intervals over rounds seconds apart. Between the two: undecided, never a cross.
QUEUE_MARGIN = 1.5
LOAD_PCTS = (50, 90)         # ... at these offered loads, in % of the backend's own closed-loop peak


def parallel_threshold(ncpu):
    return max(SERIAL_SPEEDUP, 1 + PARALLEL_FRACTION * (ncpu - 1))


Check = namedtuple("Check", "figure thresholds bands between unit")
"""figure: the name the measure gives the figure; thresholds(ncpu) -> ascending cut points;
bands: the names of the len(thresholds) + 1 bands; between: bands no model is expected in
(a value there is undecided, never a cross by default); unit: 'x', 'ns', 'B' for the legend."""

Claim = namedtuple("Claim", "key label measure checks expect says")

SPEEDUP = Check("speedup", lambda n: [SERIAL_SPEEDUP], ("no speedup", "speedup"), (), "x")
CORES = Check("cores busy", lambda n: [SERIAL_SPEEDUP, parallel_threshold(n)],
              ("serial", "partial", "parallel"), ("partial",), "cores")
P99 = Check("p99", lambda n: [PREEMPT_P99_NS], ("preemptive", "cooperative"), (), "ns")
SCALE = Check("behind best", lambda n: [SCALE_FACTOR], ("scales", "lags"), (), "x")
LIKE = Check("ratio", lambda n: [LIKE_FACTOR], ("unlike", "like"), (), "x")
GROWTH = Check("cost growth", lambda n: list(GROWTH_BANDS), ("flat", "grows", "steep"), (), "x")
LOAD = Check("p99", lambda n: [LOW_LATENCY_P99_NS, LOW_LATENCY_P99_NS * QUEUE_MARGIN],
             ("low latency", "near the mark", "queues"), ("near the mark",), "ns")
CONVOY = Check("with hogs / without", lambda n: list(CONVOY_BANDS), ("collapses", "drops", "holds"), (), "x")


def per_model(**kw):
    return kw


CLAIMS = (
    Claim("parallelism", "Parallelism (cpu.fib cores busy and speedup over serial at ncpu workers)",
          "m_parallelism", (CORES, SPEEDUP),
          per_model(mn=("parallel", "speedup"), fork=("parallel", "speedup"), threads=("parallel", "speedup"),
                    gil=("serial", "no speedup"), aloop=("serial", "no speedup"), uv=("serial", "no speedup")),
          per_model(mn="goroutines run on all cores", fork="processes run on all cores",
                    threads="OS threads run on all cores", gil="the GIL: one thread at a time",
                    aloop="one thread: no parallelism", uv="one JS thread: no parallelism")),
    Claim("concurrency", "Concurrency (io.sleep / io.echo at the largest scale, against the best model)",
          "m_concurrency", (SCALE._replace(figure="sleep"), SCALE._replace(figure="echo")),
          per_model(mn=("scales", "scales"), fork=("lags", "lags"), threads=("scales", "scales"),
                    gil=("scales", "scales"), aloop=("scales", "scales"), uv=("scales", "scales")),
          per_model(mn="100k+ goroutines", fork="a process per worker: not for many I/O tasks",
                    threads="thousands of threads", gil="threads fine for I/O (GIL released)",
                    aloop="many connections on one thread", uv="built for many connections")),
    Claim("preemption", "Preemption (mix.latency p99 wake delay under hogs)", "m_preemption", (P99,),
          per_model(mn=("preemptive",), fork=("preemptive",), threads=("preemptive",), gil=("preemptive",),
                    aloop=("cooperative",), uv=("cooperative",)),
          per_model(mn="preemptive (async preemption)", fork="the OS preempts processes",
                    threads="the OS preempts threads", gil="GIL handed over every 5 ms",
                    aloop="cooperative: a hog blocks the loop", uv="cooperative: a hog blocks the loop")),
    Claim("threads", "OS threads / processes used", "m_threads",
          (Check("threads", None, (), (), ""),),
          per_model(mn=({"few threads"},), fork=({"process per worker"},), threads=({"thread per task"},),
                    gil=({"thread per task"},), aloop=({"one thread"},), uv=({"loop + pool"},)),
          per_model(mn="M:N: few OS threads", fork="a process per worker", threads="one OS thread per task",
                    gil="one OS thread per task", aloop="one thread", uv="one loop thread + small pool")),
    Claim("spawn", "Spawn cost (micro.spawn, spawn+join)", "m_spawn",
          (Check("per task", lambda n: [CHEAP_SPAWN_NS], ("cheap", "costly"), (), "ns"),),
          per_model(mn=("cheap",), fork=("costly",), threads=("costly",), gil=("costly",),
                    aloop=("cheap",), uv=("cheap",)),
          per_model(mn="cheap (~1 µs)", fork="costly (process / IPC)", threads="costly (kernel thread)",
                    gil="costly (kernel thread)", aloop="cheap (an object)", uv="cheap (a callback)")),
    Claim("memory", "Memory per task (micro.idle, resident)", "m_memory",
          (Check("bytes per task", lambda n: [LIGHT_TASK_BYTES, HEAVY_TASK_BYTES],
                 ("light", "neither light nor heavy", "heavy"), ("neither light nor heavy",), "B"),),
          per_model(mn=("light",), fork=("heavy",), threads=("heavy",), gil=("heavy",),
                    aloop=("light",), uv=("light",)),
          per_model(mn="a few KiB (2 KiB stack)", fork="MiBs (a process)", threads="MiBs (a thread stack)",
                    gil="MiBs (a thread stack)", aloop="a few KiB (a task object)", uv="a few KiB (a closure)")),
    Claim("switch", "Switch / IPC cost (micro.chan rendezvous round trip)", "m_switch",
          (Check("per round trip", lambda n: [CHEAP_SWITCH_NS], ("cheap", "costly"), (), "ns"),),
          per_model(mn=("cheap",), fork=("costly",), threads=("costly",), gil=("costly",),
                    aloop=("cheap",), uv=("cheap",)),
          per_model(mn="cheap (user space)", fork="costly (pipes + pickling)", threads="costly (kernel switch)",
                    gil="costly (kernel + GIL hand-off)", aloop="cheap (user space)", uv="cheap (user space)")),
    Claim("load", "Latency under load (io.echo open loop: p99 at 50% and 90% of the model's own peak)",
          "m_load", (LOAD._replace(figure="p99 at 50%"), LOAD._replace(figure="p99 at 90%")),
          per_model(mn=("low latency", "low latency"), fork=("low latency", "queues"),
                    threads=("low latency", "low latency"), gil=("low latency", "low latency"),
                    aloop=("low latency", "low latency"), uv=("low latency", "low latency")),
          per_model(mn="built for high-concurrency I/O (scalable servers)",
                    fork="a process per worker: connections wait for a free one",
                    threads="a thread per connection serves each at once",
                    gil="threads fine for I/O (GIL released on reads)",
                    aloop="extremely efficient for many concurrent connections",
                    uv="brilliant at high-concurrency I/O")),
    Claim("scheduler", "Scheduler", "m_scheduler", (Check("rows", None, (), (), ""),),
          {m: ({"agrees"},) for m in ("mn", "fork", "threads", "gil", "aloop", "uv")},
          {}),
    Claim("ease", "Ease of use (twin of io.echo: lines, style)", "m_ease", (Check("twin", None, (), (), ""),),
          per_model(mn=({"simple blocking"},), fork=({"simple blocking"},), threads=({"simple blocking"},),
                    gil=({"simple blocking"},), aloop=({"async-await"},), uv=({"callbacks", "async-await"},)),
          per_model(mn="simple blocking code", fork="simple Pool API", threads="simple blocking code",
                    gil="simple blocking code", aloop="async/await colours functions", uv="callbacks / promises")),
    Claim("best", "Best for (on this machine)", "m_best", (Check("classes won", None, (), (), ""),),
          per_model(mn=({"CPU-bound", "I/O at scale"},), fork=({"CPU-bound"},), threads=({"CPU-bound"},),
                    gil=({"I/O at scale", "timers"},), aloop=({"I/O at scale", "timers"},),
                    uv=({"I/O at scale", "timers"},)),
          None),  # the text is the expected classes themselves: it cannot drift from them
)
BY_KEY = {c.key: c for c in CLAIMS}


def says(claim, model):
    if claim.says is None:
        return ", ".join(sorted(claim.expect[model][0]))
    return claim.says.get(model, "")


class Figure:
    """What a measure hands the judge for one check: an Est (classified by the check's
    thresholds), or a structural set of classes; why: a reason the run cannot tell (the
    figure is then undecided whatever its value); text: how the table shows it; retry: cells
    whose further rounds could give the figure (an open-loop point whose load generator fell
    behind in too many of them), beside est's own."""

    def __init__(self, est=None, classes=None, why="", text="", retry=()):
        self.est, self.classes, self.why, self.text, self.retry = est, classes, why, text, tuple(retry)

    def cells(self):
        """The cells more rounds could decide this figure with."""
        return tuple(self.est.cells if self.est is not None else ()) + self.retry


class Verdict:
    """A judged claim for one model: mark, and per check (band name or None, reason)."""

    def __init__(self, mark, reasons, figures):
        self.mark, self.reasons, self.figures = mark, reasons, figures

    @property
    def undecided_by_interval(self):
        """The figures that more rounds could decide: an interval that straddles a threshold,
        too few repetitions for one, or cells to retry (Figure.retry)."""
        return [f for f, why in zip(self.figures, self.reasons)
                if f is not None and (why == "straddles" or why.endswith("no interval") or f.retry)]


def band(check, fig, ncpu):
    """(band name or None, why) of one figure under a check."""
    if fig.why:
        return None, fig.why
    if fig.classes is not None:
        return fig.classes, ""
    if fig.est is None:
        return None, "not measured"
    if not fig.est.decided_interval:
        return None, f"{fig.est.n} repetition{'s' if fig.est.n != 1 else ''}: no interval"
    i = S.classify(fig.est, check.thresholds(ncpu))
    if i is None:
        return None, "straddles"
    return check.bands[i], ""


def judge(claim, model, figures, ncpu):
    """The mark of claim for model given its figures (one per check, None where not
    measured)."""
    if all(f is None for f in figures):
        return Verdict(NA, ["not measured"] * len(figures), figures)
    marks, reasons = [], []
    for check, want, fig in zip(claim.checks, claim.expect[model], figures):
        if fig is None:
            reasons.append("not measured")
            continue
        got, why = band(check, fig, ncpu)
        if got is None:
            marks.append(UNCLEAR)
        elif isinstance(got, (set, frozenset)):
            marks.append(HOLDS if got & ({want} if isinstance(want, str) else set(want)) else FAILS)
        elif got == want:
            marks.append(HOLDS)
        elif got in check.between:
            marks.append(UNCLEAR)
            why = f"in between: {got}"
        else:
            marks.append(FAILS)
        reasons.append(why)
    mark = FAILS if FAILS in marks else UNCLEAR if UNCLEAR in marks else HOLDS if marks else NA
    return Verdict(mark, reasons, figures)


def classes_of(est, check, ncpu):
    """The band of est under check, or None when undecided: for comparisons of two shapes."""
    i = S.classify(est, check.thresholds(ncpu)) if est is not None else None
    return check.bands[i] if i is not None else None


# The article's one-line verdict on Go, three claims judged by the same judge (as model "mn").
GO_VERDICT = (
    Claim("parallelism like C", "", "v_parallel", (LIKE,), {"mn": ("like",)},
          {"mn": "mn's cpu.fib speedup at least 80% of C threads'"}),
    Claim("simplicity like Python", "", "v_simple", (Check("twins", None, (), (), ""),), {"mn": ({"like"},)},
          {"mn": "Go twins blocking and at most 2x the lines of Python threading's"}),
    Claim("I/O efficiency like Node.js", "", "v_io", (LIKE, LIKE), {"mn": ("like", "like")},
          {"mn": "io.echo requests/s at least 80% of Node's (mn vs uv, Go vs Node)"}),
)
