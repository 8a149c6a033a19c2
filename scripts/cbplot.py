"""cbplot.py: running the gnuplot scripts of plots/ on data files written by the scripts.

The Python side only extracts numbers: it writes whitespace-separated data files and one
parameter file (gnuplot assignments) into a temporary folder, then runs
`gnuplot params.gp plots/<chart>.gp` (gnuplot runs its file arguments in one session) with an
argument list, never through a shell. Strings reach gnuplot single-quoted, quotes doubled,
so a host or CPU name cannot inject gnuplot commands.
"""

import functools
import os
import re
import shutil
import subprocess

import cbmodels
import cbresults as R
import cbstats as S

PLOTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plots")

# Legend order: baseline, the six models, then the real runtimes.
ORDER = cbmodels.CHART_ORDER


def order_key(backend):
    return (ORDER.index(backend), "") if backend in ORDER else (len(ORDER), backend)


def gp_string(s):
    """A gnuplot single-quoted string literal (no escapes inside; ' is written '')."""
    return "'" + str(s).replace("'", "''").replace("\n", " ") + "'"


def safe_name(s):
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", s)


def find_gnuplot():
    g = shutil.which("gnuplot")
    if not g:
        raise R.InputError("gnuplot not found (install gnuplot-nox)")
    return g


@functools.lru_cache(maxsize=None)
def terminals(gnuplot):
    """(png terminal, svg terminal) settings: pngcairo where built in, else libgd png."""
    try:
        probe = subprocess.run([gnuplot, "-e", "set terminal pngcairo"], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=20)
        cairo = probe.returncode == 0 and not probe.stderr.strip()
    except (OSError, subprocess.SubprocessError):
        cairo = False
    png = "pngcairo noenhanced size 1000,620 font 'DejaVu Sans,10'" if cairo else "png noenhanced size 1000,620"
    return png, "svg noenhanced size 1000,620 dynamic"


def style_of(name):
    """Line style number of a backend (plots/common.gp defines 1..12): the same colour and
    point in every chart. A name like 'mn@B' takes its backend's style."""
    be = name.split("@")[0].replace(SELF_SUFFIX, "")
    return ORDER.index(be) % 12 + 1 if be in ORDER else 12


def point(x, est):
    """(x, median, lo, hi) of a chart point from an Est (lo = hi = median without an interval)."""
    if est is None or est.value is None:
        return None
    lo = est.lo if est.lo is not None else est.value
    hi = est.hi if est.hi is not None else est.value
    return (x, est.value, lo, hi)


def write_series(tmp, prefix, series):
    """series: {name: [(x, y, lo, hi), ...]} -> (files, names, styles) as space-separated
    strings; each data file has the columns x, median, 95% interval low, high (error bars)."""
    files, names, styles = [], [], []
    for name in sorted(series, key=order_key):
        pts = sorted(p for p in series[name] if p is not None and p[0] is not None and p[1] is not None)
        if not pts:
            continue
        path = os.path.join(tmp, f"{prefix}_{safe_name(name)}.dat")
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"# {name}: x median lo hi\n")
            for x, y, lo, hi in pts:
                f.write(f"{x:.10g} {y:.10g} {lo:.10g} {hi:.10g}\n")
        files.append(path)
        names.append(safe_name(name))
        styles.append(str(style_of(name)))
    return " ".join(files), " ".join(names), " ".join(styles)


def run_chart(gnuplot, tmp, chart, outbase, variables, formats=("png", "svg")):
    """Run plots/<chart>.gp with variables; return the files written.

    gnuplot draws under temporary names beside the charts, which are renamed into place
    only once drawn whole (as R.write_atomic does for text): a failed or interrupted run
    leaves the previous charts, never half a PNG."""
    png, svg = terminals(gnuplot)
    params = os.path.join(tmp, f"params_{chart}.gp")
    d, name = os.path.split(outbase)
    drawing = os.path.join(d, f".{name}.tmp{os.getpid()}")
    base = {"plots_dir": PLOTS_DIR, "outbase": drawing, "formats": " ".join(formats),
            "png_term": png, "svg_term": svg}
    base.update(variables)
    with open(params, "w", encoding="utf-8") as f:
        for k, v in base.items():
            f.write(f"{k} = {v:.10g}\n" if isinstance(v, (int, float)) else f"{k} = {gp_string(v)}\n")
    script = os.path.join(PLOTS_DIR, chart + ".gp")
    drawn = [f"{drawing}.{fmt}" for fmt in formats]
    made = [f"{outbase}.{fmt}" for fmt in formats]
    try:
        res = subprocess.run([gnuplot, params, script], stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=120)
        if res.returncode != 0:
            err = (res.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise RuntimeError(f"gnuplot {chart}.gp failed: {err}")
        missing = [m for m, t in zip(made, drawn) if not os.path.isfile(t) or os.path.getsize(t) == 0]
        if missing:
            raise RuntimeError(f"gnuplot {chart}.gp wrote no {', '.join(missing)}")
        for t, m in zip(drawn, made):
            os.replace(t, m)
    finally:
        for t in drawn:
            if os.path.exists(t):
                os.unlink(t)
    return made


# Real runtimes, whose fib is their own code (an interpreter's or Go's): charted against their
# own 1-worker time, never against C's serial fib (Go would read 0.3-0.6x and look serial).
SELF_RELATIVE = cbmodels.REFERENCES
SELF_SUFFIX = "-self"        # legend names are single words: go-ref-self


def speedup_series(run):
    """({name: [(workers, speedup, lo, hi)]}, (tasks, size)) of cpu.fib, or None.

    The C backends' speedup is over serial cpu.fib of the (tasks, size) with the most cells,
    per round against the serial cell of the same rounds (cbstats.cell_ratio; schema 1: of the
    same workers); the real
    runtimes' is over their own 1-worker cell, named '<backend>-self'."""
    cells = [c for c in run.cells.values() if c.workload == "cpu.fib" and c.ok]
    serial = {}
    for c in cells:
        if c.backend == "serial":
            serial.setdefault((c.tasks, c.size), []).append(c)
    swept = [c for c in cells if (c.tasks, c.size) in serial and c.backend not in SELF_RELATIVE]
    if not swept:
        return None
    counts = {}
    for c in swept:
        counts[(c.tasks, c.size)] = counts.get((c.tasks, c.size), 0) + 1
    key = max(counts, key=counts.get)
    wall = (lambda r: r["wall_ns"])
    series = {}
    for c in swept:
        if (c.tasks, c.size) == key:
            base = ([s for s in serial[key] if S.same_rounds(s.ok, c.ok)]
                    or [s for s in serial[key] if s.workers == c.workers] or serial[key])
            series.setdefault(c.backend, []).append(point(c.workers, S.cell_ratio(base[0], c, wall, name="speedup")))
    for be in SELF_RELATIVE:
        mine = [c for c in cells if c.backend == be]
        if not mine:
            continue
        tasks, size = max((c.tasks, c.size) for c in mine)
        line = [c for c in mine if (c.tasks, c.size) == (tasks, size)]
        one = [c for c in line if c.workers == 1]
        if one:
            series[be + SELF_SUFFIX] = [point(c.workers, S.cell_ratio(one[0], c, wall, name="self speedup"))
                                        for c in line]
    return series, key
