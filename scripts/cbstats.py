"""cbstats.py: confidence intervals, paired ratios and noisy repetitions (Python standard
library only: random, statistics, zlib).

Every figure the table or a chart quotes is an Est: the median of a cell's repetitions with a
95% confidence interval from a percentile bootstrap (resample the repetitions with
replacement, take the median of each resample, keep the middle 95% of those medians). A
ratio of two cells (a speedup, a model against its real runtime, one backend against
another, a worker count against another) is taken per round: rows of the two cells that ran
in the same round of the same round group are divided one by one, and the ratios are
bootstrapped like any figure. Schema 2: the suite runs a round group (every backend and
worker count of a set, its serial baseline, the sets a table divides by one another) in
rounds, each round every cell once, seconds apart, in a shuffled order; every row carries
its round and its group's seed, so two rows pair when both match. Schema-1 rows have no round; they
pair by repetition number, which is repetition order, not interleaving: the Est says so.
Where no pairing exists at all the ratio is of two medians, each side resampled on its own,
and the Est says that too.

Why a bootstrap of the median: 3 to 10 repetitions on a shared box are neither normal nor
independent of the box's load; the median ignores one slow repetition and the bootstrap
needs no distribution. With n repetitions the interval is often [min, max] (for n = 5 the
chance that a resample's median is the smallest value is 5.8%, above the 2.5% tail). Below
SMALL_N values that is not a 95% interval: the range of n values holds the median with
probability 1 - 2^(1-n), 75% at 3 (QUICK's rounds), 87.5% at 4 (94% at 5, near enough), and
no distribution-free 95% interval of a median exists below 6. Three QUICK runs decided marks 'both ways' from three rounds
each (threads' CPU-bound ratio to fork's: 0.81-0.89 per round in one run, 0.88-0.96 in the
one before). So there the interval is the hull of the bootstrap's and the Student-t
interval of the log values (the geometric mean's: the figures are positive and their noise
multiplicative), which widens with the spread at few values; from SMALL_N values on, the
bootstrap alone. More rounds narrow it.

Determinism: each bootstrap draws from a generator seeded with a CRC of the figure's name and
values, so the same runs.csv gives the same intervals, whatever order figures are computed in.
"""

import math
import random
import statistics
import zlib

CONFIDENCE = 0.95            # two-sided interval of every figure
RESAMPLES = 2000             # bootstrap resamples: the interval's ends move by < 1% of a spread
MIN_REPS = 3                 # fewer values than this give no interval (a mark cannot be decided)
SMALL_N = 5                  # below this many values the bootstrap is widened (see above)
T975 = {2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}  # Student t, 97.5% quantile, by degrees of freedom
# A repetition is noisy when its steal (or CPU pressure) share of its wall time is both above
# a floor that matters and several times the median share of its cell's other repetitions.
STEAL_FLOOR = 0.02           # 2% of the CPUs' time stolen by the hypervisor
PSI_FLOOR = 0.10             # 10% of the wall time with some task waiting for a CPU
NOISY_FACTOR = 3.0           # 'far above the others': 3x their median share


class Est:
    """A figure: value (median), lo..hi (its 95% interval, None when too few values), n, and
    how a ratio's two sides were paired ('' for a plain median)."""

    def __init__(self, value, lo, hi, n, how="", cells=()):
        self.value, self.lo, self.hi, self.n, self.how = value, lo, hi, n, how
        self.cells = tuple(cells)    # the cells it was computed from (re-run when undecided)

    @property
    def decided_interval(self):
        return self.lo is not None and self.hi is not None

    def inverse(self):
        """1 / the figure, interval ends swapped (a ratio read the other way round)."""
        f = (lambda x: None if not x else 1 / x)
        return Est(f(self.value), f(self.hi), f(self.lo), self.n, self.how, self.cells)

    def __repr__(self):
        return f"Est({self.value!r}, [{self.lo!r}, {self.hi!r}], n={self.n}, {self.how!r})"


def _rng(name, values):
    return random.Random(zlib.crc32(f"{name}|{' '.join(f'{v:.9g}' for v in values)}".encode()))


def _percentiles(stats):
    stats.sort()
    tail = (1 - CONFIDENCE) / 2
    return stats[int(tail * len(stats))], stats[int((1 - tail) * len(stats)) - 1]


def _small_n_hull(vals, lo, hi):
    """lo..hi widened to the Student-t interval of vals where there are fewer than SMALL_N
    (of their logs when all are positive, so the ends stay positive and multiplicative)."""
    n = len(vals)
    if n >= SMALL_N or n - 1 not in T975:
        return lo, hi
    logs = min(vals) > 0
    xs = [math.log(v) for v in vals] if logs else vals
    spread = statistics.stdev(xs)
    if not spread:
        return lo, hi
    mid, half = statistics.fmean(xs), T975[n - 1] * spread / math.sqrt(n)
    a, b = mid - half, mid + half
    if logs:
        a, b = math.exp(a), math.exp(b)
    return min(lo, a), max(hi, b)


def median_ci(values, name="", how="", cells=()):
    """Est of the median of values with its bootstrap interval (None ends below MIN_REPS),
    widened below SMALL_N values."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None
    med = statistics.median(vals)
    if len(vals) < MIN_REPS:
        return Est(med, None, None, len(vals), how, cells)
    rng, n = _rng(name, vals), len(vals)
    meds = [statistics.median(rng.choices(vals, k=n)) for _ in range(RESAMPLES)]
    lo, hi = _small_n_hull(vals, *_percentiles(meds))
    return Est(med, lo, hi, n, how, cells)


def ratio_of_medians_ci(a, b, name=""):
    """Est of median(a) / median(b) for unpaired values: each side resampled on its own."""
    a = [float(v) for v in a if v is not None]
    b = [float(v) for v in b if v is not None and v]
    if not a or not b:
        return None
    value = statistics.median(a) / statistics.median(b)
    if min(len(a), len(b)) < MIN_REPS:
        return Est(value, None, None, min(len(a), len(b)), UNPAIRED)
    rng = _rng(name, a + [-1.0] + b)
    rs = [statistics.median(rng.choices(a, k=len(a))) / statistics.median(rng.choices(b, k=len(b)))
          for _ in range(RESAMPLES)]
    lo, hi = _percentiles(rs)
    if min(len(a), len(b)) < SMALL_N:
        # each side's own (widened) interval, the ends divided crosswise
        ea, eb = median_ci(a, name + "|a"), median_ci(b, name + "|b")
        if eb.lo > 0:
            lo, hi = min(lo, ea.lo / eb.hi), max(hi, ea.hi / eb.lo)
    return Est(value, lo, hi, min(len(a), len(b)), UNPAIRED)


PAIRED_ROUND = "paired by round"
PAIRED_REP = "paired by rep order"   # schema 1: rows carry no round; reps of two cells ran apart
UNPAIRED = "unpaired medians"


def has_rounds(rows):
    return bool(rows) and all(r.get("round") is not None for r in rows)


def same_rounds(a_rows, b_rows):
    """Whether two cells' rows ran in one round group: both carry rounds and share a group
    seed (schema 2)."""
    return (has_rounds(a_rows) and has_rounds(b_rows)
            and bool({r.get("seed") for r in a_rows} & {r.get("seed") for r in b_rows}))


def pair_rows(a_rows, b_rows):
    """([(row of a, row of b)], how): rows of the same round of the same round group (seed),
    or of the same rep number when the rows carry no round (schema 1)."""
    if has_rounds(a_rows) and has_rounds(b_rows):
        fields, how = ("seed", "round"), PAIRED_ROUND
    else:
        fields, how = ("rep",), PAIRED_REP
    def keyed(rows):
        # (..., k): the k-th row of that round, so that repetitions appended later with the
        # same numbers (extra rounds of a schema-1 file) pair with each other, not dropped
        out, seen = {}, {}
        for r in rows:
            k = tuple(r.get(f) for f in fields)
            seen[k] = seen.get(k, 0) + 1
            out[k + (seen[k],)] = r
        return out
    ai, bi = keyed(a_rows), keyed(b_rows)
    return [(ai[k], bi[k]) for k in ai if k in bi], how


def paired_ratio(a_cell, b_cell, fa, fb=None, name=""):
    """Est of the median per-round ratio fa(row of a) / fb(row of b) over a's and b's ok rows;
    the ratio of unpaired medians when fewer than MIN_REPS rows pair."""
    fb = fb or fa
    pairs, how = pair_rows(a_cell.ok, b_cell.ok)
    ratios = [fa(ra) / fb(rb) for ra, rb in pairs
              if fa(ra) is not None and fb(rb) not in (None, 0)]
    cells = (a_cell, b_cell)
    if len(ratios) >= MIN_REPS:
        return median_ci(ratios, name, how, cells)
    e = ratio_of_medians_ci([fa(r) for r in a_cell.ok], [fb(r) for r in b_cell.ok], name)
    if e is not None:
        e.cells = cells
    return e


def cell_ratio(a, b, fa, fb=None, name=""):
    """Est of fa(a) / fb(b) for two cells: per round when they ran in one round group (schema
    2: a shared group seed) or are the same cell of two backends (schema 1: by rep number),
    of two medians otherwise (the Est says which)."""
    fb = fb or fa
    label = f"{a.backend}/{b.backend}|{a.label()}|{b.label()}|{name}"
    if a.wkey() == b.wkey() or same_rounds(a.ok, b.ok):
        return paired_ratio(a, b, fa, fb, label)
    e = ratio_of_medians_ci([fa(r) for r in a.ok], [fb(r) for r in b.ok], label)
    if e is not None:
        e.cells = (a, b)
    return e


def share(part, whole):
    return part / whole if part is not None and whole else None


def steal_share(r, ncpu):
    """Fraction of the CPUs' time during a repetition that the hypervisor stole."""
    return share(r.get("steal_ns"), (r.get("wall_ns") or 0) * ncpu)


def psi_share(r):
    """Fraction of a repetition's wall time during which some task waited for a CPU."""
    psi = r.get("psi_cpu_us")
    return share(psi * 1e3 if psi is not None else None, r.get("wall_ns"))


def noisy_reps(cell, ncpu):
    """[(row, reason)] of the cell's ok rows whose steal or CPU pressure share is far above
    the cell's other repetitions (see STEAL_FLOOR, PSI_FLOOR, NOISY_FACTOR)."""
    out = []
    for r in cell.ok:
        others = [o for o in cell.ok if o is not r]
        for what, fn, floor in (("steal", lambda x: steal_share(x, ncpu), STEAL_FLOOR),
                                ("CPU pressure", psi_share, PSI_FLOOR)):
            mine = fn(r)
            theirs = [v for v in (fn(o) for o in others) if v is not None]
            if mine is None or mine < floor:
                continue
            if not theirs or mine >= NOISY_FACTOR * statistics.median(theirs):
                out.append((r, f"{what} {mine:.0%}"))
                break
    return out


def band_of(x, thresholds):
    """Index of the band x falls in: 0 below thresholds[0], ..., len(thresholds) above the last
    (a value equal to a threshold is in the band above it)."""
    i = 0
    while i < len(thresholds) and x >= thresholds[i]:
        i += 1
    return i


def classify(est, thresholds):
    """The band index the whole interval lies in, or None when it straddles a threshold or
    there is no interval (too few repetitions)."""
    if est is None or not est.decided_interval:
        return None
    lo, hi = band_of(est.lo, thresholds), band_of(est.hi, thresholds)
    return lo if lo == hi else None
