"""cbtwins.py: lines of code and programming style of the real runtimes' twins of a workload.

The table's 'ease of use' row is measured on source, not asserted: for each model, the twin of
the same workload in the runtime it re-creates (Go for mn, Node.js for uv, CPython threading /
asyncio / multiprocessing for gil / aloop / fork). Lines of code count non-blank lines that
are neither comments nor docstrings. Style is read from the code:

  async-await   the code declares async functions or awaits (asyncio, async JS)
  callbacks     JS whose work is passed as functions to events/timers, without await
  blocking      straight-line calls that block the task (goroutines, threads, Pool.map)

Where twins live: workloads/py/<wl>.py (one module per workload, one function per model:
run_threads, run_asyncio, run_mp; shared helpers in twin.py are not counted),
workloads/ref/go/ and workloads/ref/node/ (a file or a folder whose name is the workload,
e.g. io_echo.go, io-echo.js, echo.js or io_echo/main.go). Missing twins give None ('n/a').
"""

import ast
import glob
import os
import re

import cbmodels

PY_FUNC = {"gil": "run_threads", "aloop": "run_asyncio", "fork": "run_mp"}
RUNTIME = {m.name: m.twin for m in cbmodels.MODEL_TABLE if m.twin}  # the shared per-model table


def _norm(s):
    return re.sub(r"[^a-z0-9]", "", s.lower())


def _names(workload):
    """Spellings a twin's file may use: io_echo, ioecho, echo."""
    short = workload.split(".", 1)[-1]
    return {_norm(workload), _norm(short)}


def _count_c_like(text):
    """Non-blank lines outside // and /* */ comments (Go, JS, C)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    n = 0
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("//"):
            n += 1
    return n


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


def _js_style(text):
    if re.search(r"\basync\b|\bawait\b", text):
        return "async-await"
    return "callbacks"


def _py_function(path, name):
    """(lines, style) of function `name` in a Python file, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            src = f.read()
        tree = ast.parse(src)
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    lines = src.splitlines()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            skip = set()  # docstring lines of this function and of nested ones
            for sub in ast.walk(node):
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub.body:
                    first = sub.body[0]
                    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
                            and isinstance(first.value.value, str):
                        skip.update(range(first.lineno, first.end_lineno + 1))
            n = 0
            for i in range(node.lineno, node.end_lineno + 1):
                s = lines[i - 1].strip()
                if s and not s.startswith("#") and i not in skip:
                    n += 1
            is_async = any(isinstance(sub, (ast.AsyncFunctionDef, ast.Await)) for sub in ast.walk(node))
            return n, "async-await" if is_async else "blocking"
    return None


def twin(src_root, model, workload):
    """{'lines', 'style', 'files', 'runtime'} for model's real-runtime twin, or None."""
    if model in PY_FUNC:
        path = os.path.join(src_root, "workloads", "py", workload.replace(".", "_") + ".py")
        got = _py_function(path, PY_FUNC[model]) if os.path.isfile(path) else None
        if not got:
            return None
        return {"lines": got[0], "style": got[1], "files": [path], "runtime": RUNTIME[model]}
    if model in ("mn", "uv"):
        lang = "go" if model == "mn" else "node"
        exts = (".go",) if model == "mn" else (".js", ".mjs", ".cjs")
        files = _files_for(os.path.join(src_root, "workloads", "ref", lang), workload, exts)
        if not files:
            return None
        text = ""
        for p in files:
            try:
                with open(p, encoding="utf-8") as f:
                    text += f.read() + "\n"
            except (OSError, UnicodeDecodeError):
                return None
        style = "blocking" if model == "mn" else _js_style(text)
        return {"lines": _count_c_like(text), "style": style, "files": files, "runtime": RUNTIME[model]}
    return None


def c_workload(src_root, workload):
    """Lines of the C workload itself (written once, blocking, against the task API)."""
    path = os.path.join(src_root, "workloads", workload.replace(".", "_") + ".c")
    try:
        with open(path, encoding="utf-8") as f:
            return _count_c_like(f.read())
    except OSError:
        return None
