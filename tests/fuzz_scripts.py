#!/usr/bin/env python3
"""fuzz_scripts.py: a property test of the scripts' reading of run folders (issue 18).

Property: given any runs.csv (random bytes, or a real one damaged at random: cut, bytes
flipped, lines lost or doubled, fields replaced by odd values) and a machine.json, every
script (table, compare, plots) either writes its output and exits 0, or exits 2 with exactly
one line on stderr and writes nothing; never a traceback, never another status.

The scripts run in this process (loaded from their files, called through main_guard as
their __main__ does), which is what makes hundreds of cases fit in seconds; a few cases also
run as real processes to cover the entry point itself. plots, which runs gnuplot, is tried
on every PLOTS_EVERY-th case. Deterministic: the seed is printed, and --seed replays a run.
Exit 0 when every case held, 1 with the failing cases' files kept under --keep.

usage: tests/fuzz_scripts.py [--cases N] [--seed S] [--keep DIR]
"""

import argparse
import contextlib
import importlib.machinery
import importlib.util
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import traceback

sys.dont_write_bytecode = True
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "scripts")
FIX = os.path.join(ROOT, "tests", "fixtures")
sys.path.insert(0, SCRIPTS)
import cbresults as R  # noqa: E402

PLOTS_EVERY = 25       # gnuplot is the slow part: one case in this many also draws charts
SUBPROCESS_EVERY = 50  # one case in this many also runs each script as a real process

# Values a damaged field may take: numbers at and past the edges, words, CSV syntax.
ODD_VALUES = ["", "0", "-1", "1e400", "-1e400", "nan", "inf", "-inf", "1.5", "99999999999999999999999",
              "ok", "error", "crash", "x", '"', ",", "\r\n", "\n", "\x00", "é", "\ufeff", "1;2=3",
              "tasks=1;tasks=2", "=", ";;", "0x10", " 1", "1 ", "True", "None", "[]", "{}"]


def load_script(name):
    loader = importlib.machinery.SourceFileLoader(f"cb_script_{name}", os.path.join(SCRIPTS, name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def damage(rng, data):
    """One to four random edits of bytes data."""
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(9)
        n = len(data)
        if kind == 0 and n:                       # cut
            data = data[:rng.randrange(n)]
        elif kind == 1 and n:                     # flip bytes
            b = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(n)] = rng.randrange(256)
            data = bytes(b)
        elif kind == 2:                           # insert CSV syntax or garbage
            at = rng.randrange(n + 1)
            data = data[:at] + rng.choice([b'"', b",", b"\r", b"\n", b"\r\n", b'""', b"\x00", b"\xff",
                                           os.urandom(rng.randint(1, 16))]) + data[at:]
        elif kind in (3, 4):                      # lose, double or swap lines
            lines = data.split(b"\n")
            if len(lines) > 1:
                i = rng.randrange(len(lines))
                if kind == 3:
                    del lines[i]
                else:
                    j = rng.randrange(len(lines))
                    lines.insert(j, lines[i])
                    if rng.random() < 0.5:
                        lines[i], lines[j] = lines[j], lines[i]
                data = b"\n".join(lines)
        elif kind in (5, 6, 7):                   # a field of a row replaced by an odd value
            lines = data.split(b"\r\n")
            if len(lines) > 1:
                i = rng.randrange(1 if kind == 7 else min(2, len(lines)), len(lines)) if len(lines) > 2 else 0
                fields = lines[i].split(b",")
                j = rng.randrange(len(fields))
                fields[j] = rng.choice(ODD_VALUES).encode()
                lines[i] = b",".join(fields)
                data = b"\r\n".join(lines)
        else:                                     # line ends changed
            data = data.replace(b"\r\n", rng.choice([b"\n", b"\r", b"\r\r\n", b"\n\n"]))
    return data


def damaged_machine(rng, text):
    m = json.loads(text)
    kind = rng.randrange(4)
    if kind == 0:
        return text
    if kind == 1:
        return text[:rng.randrange(len(text))]
    key = rng.choice(list(m))
    m[key] = rng.choice([None, 0, -1, 1e308, "", "x", [], {}, [1, 2], True, "0"])
    if kind == 3:
        m["ncpu_online"] = rng.choice([0, -3, "two", None, 2.5, 10**30])
    return json.dumps(m)


def make_case(rng, folder):
    """Write a run folder; return a short description of what it holds."""
    os.makedirs(folder)
    src = rng.choice(["run-a", "run-b"])
    with open(os.path.join(FIX, src, "runs.csv"), "rb") as f:
        good = f.read()
    with open(os.path.join(FIX, src, "machine.json"), encoding="utf-8") as f:
        machine = f.read()
    r = rng.random()
    if r < 0.15:
        data, what = os.urandom(rng.randint(0, 3000)), "random bytes"
    elif r < 0.25:
        data = good.split(b"\r\n", 1)[0] + b"\r\n" + os.urandom(rng.randint(0, 2000))
        what = "header + random bytes"
    else:
        data, what = damage(rng, good), f"damaged {src}"
    with open(os.path.join(folder, "runs.csv"), "wb") as f:
        f.write(data)
    if rng.random() < 0.2:
        machine, what = damaged_machine(rng, machine), what + ", damaged machine.json"
    with open(os.path.join(folder, "machine.json"), "w", encoding="utf-8") as f:
        f.write(machine)
    return what


def call(mod, argv):
    """(status, stdout, stderr, traceback or None) of mod.main under main_guard."""
    out, err = io.StringIO(), io.StringIO()
    old = sys.argv
    sys.argv = argv
    tb = None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = R.main_guard(mod.main)
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else 1
    except Exception:  # what the property forbids
        rc, tb = None, traceback.format_exc()
    finally:
        sys.argv = old
    return rc, out.getvalue(), err.getvalue(), tb


def outputs_of(script, folder, out):
    if script == "table":
        return [os.path.join(out, "t.md"), os.path.join(out, "t.csv")]
    if script == "compare":
        return [os.path.join(out, "cmp", "compare.md"), os.path.join(out, "cmp", "compare.csv")]
    return [os.path.join(out, "charts")]


def argv_of(script, folder, out):
    if script == "table":
        return ["table", folder, "--out", os.path.join(out, "t.md"), "--csv", os.path.join(out, "t.csv")]
    if script == "compare":
        return ["compare", os.path.join(FIX, "run-b"), folder, "--out", os.path.join(out, "cmp"),
                "--no-plot", "--quiet"]
    return ["plots", folder, "--out", os.path.join(out, "charts")]


def judge(script, rc, err, tb, outs):
    """None when the property holds, else what broke it."""
    if tb:
        return "traceback:\n" + tb
    lines = err.splitlines()
    if rc == 0:
        missing = [p for p in outs if not os.path.exists(p)]
        return f"exit 0 without {missing}" if missing else None
    if rc == 2:
        if len(lines) != 1 or not err.endswith("\n"):
            return f"exit 2 with {len(lines)} lines on stderr:\n{err}"
        written = [p for p in outs if os.path.exists(p) and not os.path.isdir(p)]
        written += [p for p in outs if os.path.isdir(p) and os.listdir(p)]
        return f"exit 2 but wrote {written}" if written else None
    if rc == 1 and script == "plots" and "gnuplot" in err:
        return None  # gnuplot's own failure on odd data is reported, one line, exit 1
    return f"exit status {rc}:\n{err}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", default=None, help="copy failing cases here")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 32)
    rng = random.Random(seed)
    mods = {s: load_script(s) for s in ("table", "compare", "plots")}
    has_gnuplot = shutil.which("gnuplot") is not None
    fails, counts = [], {"ok": 0, "refused": 0}
    with tempfile.TemporaryDirectory(prefix="cb-fuzz-scripts-") as tmp:
        for i in range(a.cases):
            folder = os.path.join(tmp, f"case{i}")
            what = make_case(rng, folder)
            scripts = ["table", "compare"] + (["plots"] if has_gnuplot and i % PLOTS_EVERY == 0 else [])
            for s in scripts:
                out = os.path.join(tmp, f"out{i}-{s}")
                os.makedirs(out)
                outs = outputs_of(s, folder, out)
                rc, _, err, tb = call(mods[s], argv_of(s, folder, out))
                bad = judge(s, rc, err, tb, outs)
                if not bad and i % SUBPROCESS_EVERY == 0:
                    shutil.rmtree(out)
                    os.makedirs(out)
                    p = subprocess.run([sys.executable, os.path.join(SCRIPTS, s)] + argv_of(s, folder, out)[1:],
                                       capture_output=True, text=True, timeout=120)
                    bad = judge(s, p.returncode, p.stderr, "Traceback" in p.stderr and p.stderr, outs)
                if bad:
                    fails.append((i, s, what, bad))
                    if a.keep:
                        shutil.copytree(folder, os.path.join(a.keep, f"case{i}"), dirs_exist_ok=True)
                else:
                    counts["ok" if rc == 0 else "refused"] += 1
                shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(folder)
    print(f"fuzz_scripts: seed {seed}: {a.cases} run folders, {counts['ok']} script runs wrote their output, "
          f"{counts['refused']} refused in one line, {len(fails)} broke the property")
    for i, s, what, bad in fails[:10]:
        print(f"case {i} ({what}), {s}: {bad}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
