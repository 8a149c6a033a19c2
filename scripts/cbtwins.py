"""cbtwins.py: lines of code and programming style of the real runtimes' twins of a workload.

The table's 'ease of use' row is measured on source, not asserted: for each model, the twin of
the same workload in the runtime it re-creates (Go for mn, Node.js for uv, CPython threading /
asyncio / multiprocessing for gil / aloop / fork).

One rule for every runtime. A twin is a whole program: option parsing, the harness's protocol
(IPC, the listening socket handed over, the client's go-ahead), `bench serve`'s signal
handling, timing and the report line. None of that is what a user of the runtime writes for
the workload, and its size differs from runtime to runtime, so it is not counted. What is
counted is marked in the twin's source, between comment lines

  Go, JS:  // twin:begin           ...   // twin:end
  Python:  # twin:begin threads    ...   # twin:end      (tags: threads, asyncio, mp)

A Python module holds the three models' twins, so its regions name the models they belong to
(one or several: `# twin:begin threads mp` for a helper two of them share). A twin may have
several regions; their lines add up. Inside the markers goes everything the workload's logic
needs (the tasks, the server loop, the channel ping-pong, the join, the checksum's sum, the
helper functions they call), and nothing of the above; imports stay outside in every
language. A helper of the runtime's shared module that the logic calls (twin.py's
echo_blocking, common.js's Chan) is counted too, once per twin, by naming it inside a region:
`# twin:uses echo_blocking` counts that function or class of workloads/py/twin.py (found by
its definition), `// twin:uses Chan` the region `// twin:begin Chan` of common.js (Node) or
of workloads/ref/go/twin (Go).

Lines of code are the non-blank lines between the markers that are neither comments nor
docstrings (the marker lines are comments). A twin file without a region for the model is
'unmarked', and a region left open, a nested begin, an end without a begin or a helper named
but not found is 'bad markers': the twin then has lines None and a reason, and the table
shows it as not comparable instead of counting it some other way.

Style is read from the counted code:

  async-await   the code declares async functions or awaits (asyncio, async JS)
  callbacks     JS whose work is passed as functions to events/timers, without await
  blocking      straight-line calls that block the task (goroutines, threads, Pool.map)

Where twins live: workloads/py/<wl>.py (one module per workload, run_threads, run_asyncio,
run_mp), workloads/ref/go/ and workloads/ref/node/ (a file or a folder whose name is the
workload, e.g. io_echo.go, io-echo.js, echo.js or echo/main.go). Missing twins give None.
"""

import ast
import glob
import os
import re

import cbmodels

PY_TAG = {"gil": "threads", "aloop": "asyncio", "fork": "mp"}  # a Python region's tag per model
RUNTIME = {m.name: m.twin for m in cbmodels.MODEL_TABLE if m.twin}  # the shared per-model table
# The runtime's shared module, where a `twin:uses NAME` helper is looked up.
SHARED = {"py": ("workloads", "py", "twin.py"), "node": ("workloads", "ref", "node", "common.js"),
          "go": ("workloads", "ref", "go", "twin")}
MARKER = re.compile(r"^\s*(?://|#)\s*twin:(begin|end|uses)\b(.*)$")


class BadMarkers(Exception):
    """Markers that do not delimit regions: the twin is not comparable, said why."""


def _norm(s):
    return re.sub(r"[^a-z0-9]", "", s.lower())


def _names(workload):
    """Spellings a twin's file may use: io_echo, ioecho, echo."""
    short = workload.split(".", 1)[-1]
    return {_norm(workload), _norm(short)}


def _code_lines(text, py):
    """The source's lines with comments and docstrings blanked (line numbers kept)."""
    if py:
        lines = text.splitlines()
        try:
            tree = ast.parse(text)
        except SyntaxError as e:
            raise BadMarkers(f"does not parse ({e.msg}, line {e.lineno})") from e
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body:
                first = body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                        and isinstance(first.value.value, str):
                    for i in range(first.lineno, first.end_lineno + 1):
                        lines[i - 1] = ""
        return [("" if s.strip().startswith("#") else s) for s in lines]
    # /* */ blocks become as many empty lines, so that numbers still match the markers'
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return [("" if s.strip().startswith("//") else s) for s in text.splitlines()]


def _regions(text, path):
    """[(tags, [line index...], [helper names used])] of the twin:begin/end regions of text."""
    out, cur = [], None
    for i, line in enumerate(text.splitlines()):
        m = MARKER.match(line)
        if not m:
            if cur is not None:
                cur[1].append(i)
            continue
        kind, args = m.group(1), m.group(2).split()
        where = f"{os.path.basename(path)}:{i + 1}"
        if kind == "begin":
            if cur is not None:
                raise BadMarkers(f"twin:begin inside an open region at {where}")
            cur = (frozenset(args) or frozenset([""]), [], [])
        elif kind == "end":
            if cur is None:
                raise BadMarkers(f"twin:end without twin:begin at {where}")
            out.append(cur)
            cur = None
        else:
            if cur is None or not args:
                raise BadMarkers(f"twin:uses outside a region or naming nothing at {where}")
            cur[2].extend(args)
    if cur is not None:
        raise BadMarkers(f"twin:begin never ended in {os.path.basename(path)}")
    return out


def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise BadMarkers(f"unreadable {path}: {e}") from e


def _count(text, py, tag, path):
    """(lines, counted lines, helpers used, any region found) of the regions of text tagged `tag` ('' untagged)."""
    code = _code_lines(text, py)
    regions = _regions(text, path)
    n, kept, uses = 0, [], []
    for tags, idx, used in regions:
        if tag in tags:
            for i in idx:
                if code[i].strip():
                    n += 1
                    kept.append(code[i])
            uses.extend(used)
    return n, kept, uses, any(tag in tags for tags, _, _ in regions)


def _helper(src_root, lang, name):
    """(lines, text) of helper `name` of the runtime's shared module."""
    where = os.path.join(src_root, *SHARED[lang])
    if lang == "py":
        text = _read(where)
        code = _code_lines(text, True)
        for node in ast.parse(text).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
                kept = [s for s in code[node.lineno - 1:node.end_lineno] if s.strip()]
                return len(kept), kept
        raise BadMarkers(f"twin:uses {name}: no such function in {SHARED[lang][-1]}")
    files = sorted(glob.glob(os.path.join(where, "*.go"))) if os.path.isdir(where) else [where]
    for p in files:
        n, kept, _, found = _count(_read(p), False, name, p)
        if found:
            return n, kept
    raise BadMarkers(f"twin:uses {name}: no region 'twin:begin {name}' in {SHARED[lang][-1]}")


def _files_for(root, workload, exts):
    """Files of the twin of workload under root: a matching file, or a matching folder."""
    if not os.path.isdir(root):
        return []
    want = _names(workload)
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        stem, ext = os.path.splitext(entry)
        if os.path.isfile(path) and ext in exts and _norm(stem) in want:
            return [path]
        if os.path.isdir(path) and _norm(entry) in want:
            files = [f for e in exts for f in glob.glob(os.path.join(path, "**", "*" + e), recursive=True)]
            files = [f for f in files if not f.endswith("_test.go") and "node_modules" not in f]
            if files:
                return sorted(files)
    return []


def measure(src_root, lang, files, tag):
    """{'lines', 'style', 'unmarked'} of the regions tagged `tag` in files, by the rule above:
    lines None and 'unmarked' the reason where the twin has no region or bad ones."""
    try:
        n, kept, uses, found = 0, [], [], False
        for p in files:
            fn, fk, fu, ff = _count(_read(p), lang == "py", tag, p)
            n, found = n + fn, found or ff
            kept += fk
            uses += fu
        if not found:
            return {"lines": None, "style": None,
                    "unmarked": "unmarked (no twin:begin" + (f" {tag}" if tag else "") + " region)"}
        for name in dict.fromkeys(uses):  # each helper once, however many regions name it
            hn, hk = _helper(src_root, lang, name)
            n += hn
            kept += hk
    except BadMarkers as e:
        return {"lines": None, "style": None, "unmarked": f"bad markers: {e}"}
    text = "\n".join(kept)
    if lang == "go":
        style = "blocking"
    elif re.search(r"\basync\b|\bawait\b", text):
        style = "async-await"
    else:
        style = "callbacks" if lang == "node" else "blocking"
    return {"lines": n, "style": style, "unmarked": None}


def twin(src_root, model, workload):
    """{'lines', 'style', 'unmarked', 'files', 'runtime'} for model's real-runtime twin, or None
    where it has none. lines is None (and unmarked says why) for a twin without markers."""
    if model in PY_TAG:
        lang, tag = "py", PY_TAG[model]
        path = os.path.join(src_root, "workloads", "py", workload.replace(".", "_") + ".py")
        files = [path] if os.path.isfile(path) else []
        if files and not re.search(r"^def run_%s\b" % tag, _read_or_empty(path), re.M):
            files = []  # the module has no twin for this model
    elif model in ("mn", "uv"):
        lang, tag = ("go", "") if model == "mn" else ("node", "")
        exts = (".go",) if model == "mn" else (".js", ".mjs", ".cjs")
        files = _files_for(os.path.join(src_root, "workloads", "ref", lang), workload, exts)
    else:
        return None
    if not files:
        return None
    got = measure(src_root, lang, files, tag)
    got.update(files=files, runtime=RUNTIME[model])
    return got


def _read_or_empty(path):
    try:
        return _read(path)
    except BadMarkers:
        return ""


def c_workload(src_root, workload):
    """Lines of the C workload itself (written once, blocking, against the task API)."""
    path = os.path.join(src_root, "workloads", workload.replace(".", "_") + ".c")
    try:
        return sum(1 for s in _code_lines(_read(path), False) if s.strip())
    except BadMarkers:
        return None
