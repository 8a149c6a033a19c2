"""cbmodels.py: the per-model facts that scripts/table, scripts/plots and scripts/compare share
(one table, so that a column order, a real runtime or a legend cannot drift between them).

Each model of the article's table, in its column order: the backend re-creating it, the real
runtime it is compared with in the fidelity table (a reference backend of the run), the
runtime its twins are written for (workloads/py, workloads/ref), how it schedules, and the
legend text charts use. Standard library only.
"""

from collections import namedtuple

Model = namedtuple("Model", "name real twin scheduler legend")

MODEL_TABLE = (
    Model("mn", "go-ref", "Go",
          "M:N: G tasks on P processors on M threads, work stealing, async preemption, netpoller",
          "mn (Go-style M:N)"),
    Model("fork", "cpython-mp", "CPython multiprocessing",
          "the OS schedules worker processes; a Pool sends pickled tasks over pipes",
          "fork (multiprocessing)"),
    Model("threads", None, None,
          "the OS scheduler, one kernel thread per task, preemptive",
          "threads (1:1 OS threads)"),
    Model("gil", "cpython-threads", "CPython threading",
          "OS threads, one holding the GIL; forced hand-off after the switch interval (5 ms)",
          "gil (CPython threads)"),
    Model("aloop", "cpython-asyncio", "CPython asyncio",
          "one thread: ready queue, epoll, timer heap; switches only at await",
          "aloop (asyncio)"),
    Model("uv", "node-ref", "Node.js",
          "libuv on one thread: timers, poll, check phases; thread pool for fs/offloaded work",
          "uv (Node.js / libuv)"),
)

MODELS = tuple(m.name for m in MODEL_TABLE)
BY_NAME = {m.name: m for m in MODEL_TABLE}
REFERENCE_OF = {m.name: m.real for m in MODEL_TABLE if m.real}
# The references the models are compared with, and the runtime each one is.
REFERENCES = {"go-ref": "Go", "node-ref": "Node.js", "cpython-threads": "CPython threading",
              "cpython-asyncio": "CPython asyncio", "cpython-mp": "CPython multiprocessing"}
