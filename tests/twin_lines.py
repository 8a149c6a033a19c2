#!/usr/bin/env python3
"""twin_lines.py: scripts/cbtwins.py counts the lines between twin:begin/end markers, the same
way for Go, Node and Python, and says so where a twin has none (tests/test_scripts.c runs it).

  python3 tests/twin_lines.py FIXTURE_DIR    fixture twins in FIXTURE_DIR (made here): exact counts
  python3 tests/twin_lines.py --real         the tree's io.echo twins are all marked

Exits 0 when every check holds, 1 with one line per failed check otherwise."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import cbtwins  # noqa: E402

# Each fixture counts what its comments say: the lines a reader sees as code inside the
# markers, nothing outside (options, protocol, report), no comment, blank or docstring line.
GO = """package main

import "fmt"

// twin:begin
func work(n int) int { // counted
	/* a block comment
	   over two lines */
	return n + 1 // counted
}

// twin:end

func main() {
	n := 3 // option parsing: not counted
	// twin:begin
	r := work(n) // counted
	// twin:end
	fmt.Println(r)
}
"""
GO_LINES = 4

NODE_COMMON = """'use strict';
function opt() { return 1; }
// twin:begin helper
function helper(x) {
  return x * 2;
}
// twin:end
module.exports = { opt, helper };
"""
NODE = """'use strict';
const { helper } = require('./common');
// twin:begin
// twin:uses helper
async function task(x) {

  return helper(x);
}
// twin:end
console.log('report line');
// twin:begin
// twin:uses helper
task(1).then(() => {});
// twin:end
"""
NODE_LINES = 4 + 3  # the twin's marked lines, then helper once although two regions name it

PY_SHARED = '''"""The fixture's shared module."""


def fib(n):
    """Docstring: not counted."""
    return n if n < 2 else fib(n - 1) + fib(n - 2)
'''
PY = '''"""fixture workload twin."""

import threading

import twin


# twin:begin threads mp
def shared(x):
    """Docstring lines are not counted."""
    return x + 1
# twin:end


def run_threads(a):
    check = a  # refusing too big a cell: not counted
    # twin:begin threads
    # twin:uses fib
    t = threading.Thread(target=shared, args=(twin.fib(3),))

    t.start()
    # twin:end
    print("report")  # not counted
    # twin:begin threads
    t.join()
    # twin:end
    return check


def run_asyncio(a):
    return a  # no asyncio region: unmarked


def run_mp(a):
    # twin:begin mp
    return shared(a)
    # twin:end
'''
PY_LINES = {"gil": 2 + 3 + 2, "fork": 2 + 1, "aloop": None}  # threads: shared, 3 marked, fib's 2

UNMARKED_GO = "package main\n\nfunc main() {\n\tprintln(1)\n}\n"
BAD_NODE = "// twin:begin\nconst a = 1;\n// twin:begin\nconst b = 2;\n// twin:end\n"


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def fixture(root):
    fails = []

    def expect(model, workload, lines, unmarked=None):
        t = cbtwins.twin(root, model, workload)
        if t is None:
            fails.append(f"{model} {workload}: no twin found")
        elif t["lines"] != lines or (unmarked and unmarked not in (t["unmarked"] or "")):
            fails.append(f"{model} {workload}: lines {t['lines']} ({t['unmarked']}), want {lines} ({unmarked})")

    write(root, "workloads/ref/go/fib/main.go", GO)
    write(root, "workloads/ref/go/echo/main.go", UNMARKED_GO)
    write(root, "workloads/ref/node/common.js", NODE_COMMON)
    write(root, "workloads/ref/node/fib.js", NODE)
    write(root, "workloads/ref/node/echo.js", BAD_NODE)
    write(root, "workloads/py/twin.py", PY_SHARED)
    write(root, "workloads/py/cpu_fib.py", PY)
    write(root, "workloads/py/io_echo.py", PY.replace("twin.fib(3)", "twin.nothing(3)")
          .replace("# twin:uses fib", "# twin:uses nothing"))
    expect("mn", "cpu.fib", GO_LINES)
    expect("uv", "cpu.fib", NODE_LINES)
    for model, lines in PY_LINES.items():
        expect(model, "cpu.fib", lines, None if lines else "unmarked")
    expect("mn", "io.echo", None, "unmarked")
    expect("uv", "io.echo", None, "bad markers: twin:begin inside an open region at echo.js:3")
    expect("gil", "io.echo", None, "bad markers: twin:uses nothing: no such function")
    expect("fork", "io.echo", PY_LINES["fork"])  # the mp regions name no missing helper
    return fails


def real():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    fails = []
    for model in ("mn", "uv", "gil", "aloop", "fork"):
        t = cbtwins.twin(root, model, "io.echo")
        if t is None or t["lines"] is None or t["lines"] <= 0:
            fails.append(f"{model} io.echo: {t and t['unmarked'] or 'no twin'}")
    return fails


def main():
    if len(sys.argv) != 2:
        print("usage: twin_lines.py FIXTURE_DIR | --real", file=sys.stderr)
        return 2
    fails = real() if sys.argv[1] == "--real" else fixture(sys.argv[1])
    for f in fails:
        print(f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
