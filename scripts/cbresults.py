"""cbresults.py: reading a concbench run folder (runs.csv, machine.json, hyperfine/*.json).

Shared by scripts/table, scripts/plots and scripts/compare so that every one of them reads
the same rows the same way: one parser, one notion of a cell, one median. Standard library
only (python3 is the suite's only scripting dependency).

A *cell* is what one `bench run` measured: backend x workload x tasks x workers x size x
params. Each counted repetition is one row; tables quote the median of the cell's `ok` rows
and keep min..max as its spread. A cell none of whose rows is ok keeps its status (the first
non-ok status and note) so tables can say 'unsupported' or 'timeout' instead of a number.

Schema: rows whose first column is "1" or "2" are read by header name. Schema 2 appends the
noise around each repetition (ADDED_V2: its round, the shuffle seed, steal time, CPU
pressure, load, two more percentiles); schema-1 rows get None there. Rows of any other schema
version are skipped with one warning per version (an older file may lack columns or give
them other meanings; guessing would put wrong numbers in a table). A file with no row of a
known schema at all is an error.
"""

import argparse
import contextlib
import csv
import glob
import json
import os
import math
import re
import statistics
import sys
import tempfile

import cbmodels

SCHEMA = "2"  # the newest; every schema in SCHEMAS is read
COLUMNS_V1 = ("schema run_id utc host cpu_model ncpu kernel cc git_rev backend workload tasks "
              "workers size params rep wall_ns user_ns sys_ns maxrss_kb ops ops_per_s p50_ns "
              "p99_ns max_ns os_threads processes vol_ctxsw invol_ctxsw checksum status note").split()
ADDED_V2 = "round seed steal_ns psi_cpu_us loadavg1 p90_ns p999_ns".split()
SCHEMAS = {"1": COLUMNS_V1, "2": COLUMNS_V1 + ADDED_V2}
COLUMNS = SCHEMAS[SCHEMA]
NUMERIC = ("wall_ns user_ns sys_ns maxrss_kb ops ops_per_s p50_ns p99_ns max_ns os_threads "
           "processes vol_ctxsw invol_ctxsw steal_ns psi_cpu_us loadavg1 p90_ns p999_ns").split()
INTEGER_KEYS = ("tasks", "workers", "size")
STATUSES = ("ok", "unsupported", "mismatch", "timeout", "crash", "error")

# The six models of the article's table and the real runtime each one re-creates live in
# cbmodels.MODEL_TABLE, shared by every script.
MODELS = cbmodels.MODELS
REFERENCE_OF = cbmodels.REFERENCE_OF


class InputError(Exception):
    """A run folder that cannot be read: the scripts print it on one line and exit 2."""


def warn(msg):
    print(f"warning: {msg}", file=sys.stderr)


def parse_params(s):
    """'a=1;b=x' -> {'a': '1', 'b': 'x'} (empty string -> {})."""
    out = {}
    for kv in filter(None, (s or "").split(";")):
        k, _, v = kv.partition("=")
        out[k] = v
    return out


def note_value(note, key):
    """The number after 'key=' in a row's note (micro.idle's bytes_per_task=N), or None."""
    m = re.search(r"(?:^|[;\s])" + re.escape(key) + r"=(-?[0-9.]+)", note or "")
    return float(m.group(1)) if m else None


def _number(s, where, col):
    if s == "":
        return None
    try:
        v = float(s)
    except ValueError:
        raise InputError(f"{where}: column {col}: not a number: {s!r}") from None
    if not math.isfinite(v):
        raise InputError(f"{where}: column {col}: not a finite number: {s!r}")
    return v


def read_runs(path, warnings=None):
    """The schema-1 and schema-2 rows of runs.csv as dicts (numbers as float/int, None when
    empty). Warnings go to stderr, or into the list warnings when one is given."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, strict=True)
            try:
                header = next(reader)
            except StopIteration:
                raise InputError(f"{path}: empty file (no header)") from None
            if not header or header[0].lstrip("\ufeff") != "schema":
                raise InputError(f"{path}: line 1: not a concbench header (first column must be 'schema')")
            header[0] = "schema"
            rows, skipped = [], {}
            for rec in reader:
                where = f"{path}: line {reader.line_num}"
                if not rec:
                    continue
                if rec[0] not in SCHEMAS:
                    skipped[rec[0]] = skipped.get(rec[0], 0) + 1
                    continue
                missing = [c for c in SCHEMAS[rec[0]] if c not in header]
                if missing:
                    raise InputError(f"{path}: header lacks column(s) {', '.join(missing)} for schema {rec[0]}")
                if len(rec) != len(header):
                    raise InputError(f"{where}: {len(rec)} fields, header has {len(header)}")
                r = dict(zip(header, rec))
                for k in ADDED_V2:
                    r.setdefault(k, "")
                for k in INTEGER_KEYS:
                    try:
                        r[k] = int(r[k])
                    except ValueError:
                        raise InputError(f"{where}: column {k}: not an integer: {r[k]!r}") from None
                if r["status"] not in STATUSES:
                    raise InputError(f"{where}: unknown status {r['status']!r}")
                for k in NUMERIC:
                    r[k] = _number(r[k], where, k)
                extra = rec[0] == "2"  # schema 1 has no round: its pairing is by rep order
                for k in ("round", "seed"):
                    try:
                        r[k] = int(r[k]) if extra and r[k] != "" else None
                    except ValueError:
                        raise InputError(f"{where}: column {k}: not an integer: {r[k]!r}") from None
                if r["status"] == "ok" and (r["wall_ns"] is None or r["wall_ns"] <= 0):
                    raise InputError(f"{where}: ok row without a positive wall_ns")
                r["line"] = reader.line_num
                rows.append(r)
    except InputError:
        raise
    except csv.Error as e:
        raise InputError(f"{path}: line {reader.line_num + 1}: malformed CSV: {e}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    if not rows:
        found = ", ".join(repr(v) for v in sorted(skipped)) or "none"
        raise InputError(f"{path}: no rows of schema {' or '.join(SCHEMAS)} (schemas found: {found})")
    for ver, n in sorted(skipped.items()):
        (warnings.append if warnings is not None else warn)(
            f"{path}: {n} row(s) of schema {ver!r} skipped (this script reads schemas {', '.join(SCHEMAS)})")
    return rows


def read_machine(path):
    try:
        with open(path, encoding="utf-8") as f:
            m = json.load(f)
    except FileNotFoundError:
        raise InputError(f"{path}: missing (every run folder has its machine.json)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: malformed JSON: {e.msg} at line {e.lineno}") from None
    if not isinstance(m, dict):
        raise InputError(f"{path}: not a JSON object")
    return m


def _count(s):
    """'100k' -> 100000 (bench accepts k, M, G suffixes, x1000), None if not a count."""
    m = re.fullmatch(r"(\d+)([kMG]?)", s or "")
    return int(m.group(1)) * {"": 1, "k": 10**3, "M": 10**6, "G": 10**9}[m.group(2)] if m else None


# Reference programs are named by their short workload name (workloads/ref/node/fib.js).
SHORT_NAMES = {"fib": "cpu.fib", "hash": "cpu.hash", "sleep": "io.sleep", "echo": "io.echo",
               "pipe": "io.pipe", "file": "io.file", "latency": "mix.latency", "convoy": "mix.convoy",
               "spawn": "micro.spawn", "yield": "micro.yield", "chan": "micro.chan",
               "skynet": "micro.skynet", "ring": "micro.ring", "idle": "micro.idle"}


def _hyperfine_entry(res, path):
    """What a hyperfine result timed: backend, workload and any of tasks/size/workers, taken
    from its parameters (hyperfine -L/-P) or from the bench command line it ran."""
    p = res.get("parameters") or {}
    cmd = res.get("command") or ""
    e = {}
    for k in ("backend", "workload", "tasks", "size", "workers"):
        v = p.get(k)
        if v is None:
            m = re.search(r"--" + k + r"[= ](\S+)", cmd)
            v = m.group(1) if m else None
        if v is not None:
            e[k] = v if k in ("backend", "workload") else _count(str(v))
    ref = re.search(r"ref/(go|node)/([A-Za-z0-9_]+)", cmd)
    if "backend" not in e and ref:
        e["backend"] = ref.group(1) + "-ref"
        e.setdefault("workload", SHORT_NAMES.get(ref.group(2)))
        if "workers" not in e and ref.group(1) == "node":
            e["workers"] = None  # one thread whatever the cell's workers
    named = re.fullmatch(r"(.+)-([a-z]+\.[a-z]+)\.json", os.path.basename(path))
    if named:  # run-bench names its exports <backend>-<workload>.json
        e.setdefault("backend", named.group(1))
        e.setdefault("workload", named.group(2))
    e["command"] = cmd
    return e


def read_hyperfine(run_dir, warnings=None):
    """[{backend, workload, [tasks, size, workers,] median_s}] from hyperfine/*.json.

    hyperfine times whole processes (start-up included); a file that is not a hyperfine
    export is warned about and ignored: the CSV alone is enough for every table."""
    out = []
    for path in sorted(glob.glob(os.path.join(run_dir, "hyperfine", "*.json"))):
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            results = data["results"]
            if not isinstance(results, list):
                raise TypeError("results is not a list")
        except (OSError, ValueError, KeyError, TypeError) as e:
            (warnings.append if warnings is not None else warn)(
                f"{path}: not a hyperfine export ({e.__class__.__name__}); ignored")
            continue
        for res in results:
            if not isinstance(res, dict):
                continue
            e = _hyperfine_entry(res, path)
            med = res.get("median", res.get("mean"))
            if e.get("backend") and isinstance(med, (int, float)):
                e["median_s"] = float(med)
                out.append(e)
    return out


def hyperfine_of(entries, cell, ncpu):
    """Median whole-process seconds of the hyperfine results that timed this cell: same
    backend and workload, same tasks/size where the command gave them, same workers (bench's
    default is one per CPU)."""
    vals = [e["median_s"] for e in entries
            if e["backend"] == cell.backend and e.get("workload") in (None, cell.workload)
            and all(e.get(k) is None or e[k] == getattr(cell, k) for k in ("tasks", "size"))
            and e.get("workers", ncpu) in (None, cell.workers)]
    return statistics.median(vals) if vals else None


class Run:
    """One run folder: rows, machine, cells."""

    def __init__(self, run_dir):
        if not os.path.isdir(run_dir):
            raise InputError(f"{run_dir}: no such run folder")
        self.dir = run_dir
        self.name = os.path.basename(os.path.normpath(run_dir))
        self.machine = read_machine(os.path.join(run_dir, "machine.json"))
        # Warnings wait until the folder is known to be readable: a refused folder gets its
        # one line, not warnings about rows that will never be used.
        warnings = []
        self.rows = read_runs(os.path.join(run_dir, "runs.csv"), warnings)
        self.hyperfine = read_hyperfine(run_dir, warnings)
        try:
            self.ncpu = int(self.machine.get("ncpu_online") or self.rows[0]["ncpu"])
        except (TypeError, ValueError):
            raise InputError(f"{run_dir}: cannot tell the number of CPUs (machine.json ncpu_online)") from None
        self.cells = build_cells(self.rows)
        for w in warnings:
            warn(w)

    def title(self):
        m = self.machine
        host = m.get("host") or self.rows[0]["host"]
        cpu = m.get("cpu_model") or self.rows[0]["cpu_model"]
        return f"{host}, {cpu}, {self.ncpu} CPUs"

    def backends(self):
        return sorted({c.backend for c in self.cells.values()})

    def find(self, backend, workload, **want):
        """Cells of backend x workload whose tasks/workers/size or workload params equal want."""
        out = []
        for c in self.cells.values():
            if c.backend != backend or c.workload != workload:
                continue
            if all(getattr(c, k) == v if k in INTEGER_KEYS else c.wparams.get(k) == str(v)
                   for k, v in want.items()):
                out.append(c)
        return out


def is_open_loop(cell):
    """An io.echo / mix.convoy cell driven open loop (rate=R > 0): its figures are latencies
    at an offered load, not a closed loop's requests/s; only the latency-under-load row and
    chart read it."""
    try:
        return float(cell.wparams.get("rate", "0") or 0) > 0
    except ValueError:
        return False


BEHIND = "fell behind"   # the load generator's note on a point that is not the server's latency


def on_schedule(row):
    """An open-loop row whose load generator kept its schedule (no 'fell behind' note)."""
    return BEHIND not in (row["note"] or "")


def _num_param(cell, key):
    try:
        return float(cell.wparams.get(key, "0") or 0)
    except ValueError:
        return 0.0


def _open_loops(run, backend):
    return [c for c in run.cells.values()
            if c.backend == backend and c.workload == "io.echo" and is_open_loop(c)]


def peak_cell(run, backend, opens=None):
    """The closed-loop io.echo cell that is the peak of backend's open-loop sweep (its
    connections and workers: on 2 or 3 CPUs the sweep and its peak leave the load generator
    a core, beside closed loops that share them), ok, or None."""
    opens = _open_loops(run, backend) if opens is None else opens
    if not opens:
        return None
    tasks = max(c.tasks for c in opens)
    workers = {c.workers for c in opens if c.tasks == tasks}
    closed = [c for c in run.cells.values()
              if c.backend == backend and c.workload == "io.echo" and c.tasks == tasks and c.ok
              and not is_open_loop(c) and _num_param(c, "duration_ms") > 0 and c.workers in workers]
    return closed[0] if closed else None


def load_sweep(run, backend):
    """A backend's io.echo open-loop sweep: (peak, points) or None if it has none. peak: the
    median requests/s of its closed-loop windowed cell at the sweep's connections (None if
    not measured); points: [(cell, offered req/s, % of peak or None, on-schedule ok rows)],
    by offered load."""
    opens = _open_loops(run, backend)
    if not opens:
        return None
    tasks = max(c.tasks for c in opens)
    closed = [c for c in (peak_cell(run, backend, opens),) if c is not None]
    peak = None
    if closed:
        # The suite set each point's rate from the peak of the matrix's own rounds: extra
        # rounds (scripts/more-rounds) added later must not move the percentages.
        n = int(run.machine.get("rounds") or 0)
        rates = [r["ops_per_s"] for r in closed[0].ok
                 if r["ops_per_s"] is not None and (not n or not r.get("round") or r["round"] <= n)]
        peak = statistics.median(rates) if rates else closed[0].median("ops_per_s")
    pts = []
    for c in opens:
        if c.tasks == tasks:
            rate = _num_param(c, "rate")
            pts.append((c, rate, 100 * rate / peak if peak else None, [r for r in c.ok if on_schedule(r)]))
    return peak, sorted(pts, key=lambda p: p[1])


def plotted(point):
    """A sweep point drawn as the server's latency: at least half its ok rows on schedule."""
    c, _, _, rows = point
    return bool(c.ok) and 2 * len(rows) >= len(c.ok)


def point_p99(point):
    """Median p99 (ns) of a sweep point's on-schedule rows, or None."""
    vals = [r["p99_ns"] for r in point[3] if r["p99_ns"] is not None]
    return statistics.median(vals) if vals else None


def knee(points, limit_ns):
    """The highest offered load up to which every plotted point's p99 stays under limit_ns
    (None if the lowest is already above): the end of the flat part of the curve."""
    best = None
    for p in points:
        if not plotted(p):
            continue
        v = point_p99(p)
        if v is None or v >= limit_ns:
            break
        best = p
    return best


class Cell:
    def __init__(self, key, rows, wparams):
        self.backend, self.workload, self.tasks, self.workers, self.size, self.params = key
        self.rows = rows
        self.wparams = wparams          # the workload's own params (backend params removed)
        ok = [r for r in rows if r["status"] == "ok"]
        self.ok = ok
        bad = [r for r in rows if r["status"] != "ok"]
        self.status = "ok" if ok else bad[0]["status"]
        self.note = (bad[0]["note"] if bad else "") if not ok else (ok[0]["note"] or "")
        self.n = len(ok)

    def median(self, col):
        vals = [r[col] for r in self.ok if r[col] is not None]
        return statistics.median(vals) if vals else None

    def spread(self, col):
        vals = [r[col] for r in self.ok if r[col] is not None]
        return (min(vals), max(vals)) if vals else None

    def per_op(self, r):
        return r["wall_ns"] / r["ops"] if r["ops"] else None

    def median_per_op(self):
        vals = [self.per_op(r) for r in self.ok if r["ops"]]
        return statistics.median(vals) if vals else None

    def spread_per_op(self):
        vals = [self.per_op(r) for r in self.ok if r["ops"]]
        return (min(vals), max(vals)) if vals else None

    def median_note(self, key):
        vals = [v for v in (note_value(r["note"], key) for r in self.ok) if v is not None]
        return statistics.median(vals) if vals else None

    def peak(self, col):
        vals = [r[col] for r in self.ok if r[col] is not None]
        return max(vals) if vals else None

    def label(self):
        p = ";".join(f"{k}={v}" for k, v in sorted(self.wparams.items()))
        return f"{self.workload} tasks={self.tasks} workers={self.workers} size={self.size}" + (f" {p}" if p else "")

    def wkey(self):
        """The cell's key without the backend and its own params: what two backends share."""
        return (self.workload, self.tasks, self.workers, self.size,
                tuple(sorted(self.wparams.items())))


# The count calibration scales, where it is a param (bench list: each workload's knob). In a
# schema-2 run each backend of a set ran its own calibrated count, so the knob is no part
# of a cell's identity, and cpu.*'s times (and cpu.fib's ops, tasks x rounds) are taken per
# round: ratios across backends then divide the same work. mix.latency's hogs' rounds only
# set how long the probe runs, so only the identity drops them.
CALIBRATED_PARAM = {"cpu.fib": "rounds", "cpu.hash": "rounds", "mix.latency": "rounds"}
PER_ROUND = {"cpu.fib": ("wall_ns", "user_ns", "sys_ns", "ops"), "cpu.hash": ("wall_ns", "user_ns", "sys_ns"),
             "mix.latency": ()}


def per_calibrated_unit(r):
    """A schema-2 row of a calibrated workload: its params without the knob and its times per
    unit of the knob (rows of other schemas and workloads are returned as they are)."""
    knob = CALIBRATED_PARAM.get(r["workload"])
    if r["schema"] != "2" or not knob:
        return r
    p = parse_params(r["params"])
    try:
        n = int(p.pop(knob))
    except (KeyError, ValueError):
        return r
    if n <= 0:
        return r
    r = dict(r, params=";".join(f"{k}={v}" for k, v in p.items()), calibrated=n)
    for col in PER_ROUND[r["workload"]]:
        if r.get(col) is not None:
            r[col] = r[col] / n
    return r


def build_cells(rows):
    """Group rows into cells. A workload's own params are the keys every backend's rows of
    that workload carry (backend params such as stack_kb appear on one backend only)."""
    rows = [per_calibrated_unit(r) for r in rows]
    keys_by_wl = {}
    for r in rows:
        ks = set(parse_params(r["params"]))
        keys_by_wl.setdefault(r["workload"], []).append((r["backend"], ks))
    common = {}
    for wl, lst in keys_by_wl.items():
        per_backend = {}
        for be, ks in lst:
            per_backend.setdefault(be, set()).update(ks)
        sets = list(per_backend.values())
        common[wl] = set.intersection(*sets) if len(sets) > 1 else sets[0]
    groups = {}
    for r in rows:
        key = (r["backend"], r["workload"], r["tasks"], r["workers"], r["size"], r["params"])
        groups.setdefault(key, []).append(r)
    cells = {}
    for key, rs in groups.items():
        p = parse_params(key[5])
        cells[key] = Cell(key, rs, {k: v for k, v in p.items() if k in common[key[1]]})
    return cells


def load(run_dir):
    return Run(run_dir)


def fmt_ns(ns):
    """A duration with its unit, three significant digits."""
    if ns is None:
        return "–"
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if abs(ns) >= div * 0.9995:  # 999.6 µs reads 1 ms, not 1e+03 µs
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_bytes(b):
    if b is None:
        return "–"
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(b) >= div * 0.9995:
            return f"{b / div:.3g} {unit}"
    return f"{b:.0f} B"


def fmt_num(x):
    if x is None:
        return "–"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div * 0.9995:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"


def write_atomic(path, text):
    """Write text (str, or bytes) to path whole or not at all: into a temporary file of the
    same folder, flushed to disk, then renamed over path. A failure (disk full, folder gone)
    removes the temporary file and raises OSError; path keeps its old content or stays absent."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    d, base = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide results from the other users of a box
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def append_whole(path, data):
    """Append bytes data (whole CSV rows) to path whole or not at all: a short or failed write
    is cut back to the size before, as bench's own appends are (runners/csvfile.c)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


class ArgParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message):
        print(f"{self.prog}: {message}", file=sys.stderr)
        sys.exit(2)


def main_guard(fn):
    """Run fn(); an InputError becomes one line on stderr and exit status 2."""
    try:
        return fn()
    except InputError as e:
        print(f"{os.path.basename(sys.argv[0])}: {e}", file=sys.stderr)
        return 2


def md_text(s):
    """Text safe inside a Markdown table cell."""
    return str(s).replace("|", "\\|").replace("\n", " ")
