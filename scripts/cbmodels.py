"""cbmodels.py: the per-model facts that scripts/table, scripts/plots and scripts/compare share
(one table, so that a column order, a real runtime or a legend cannot drift between them).

Each model of the article's table, in its column order: the backend re-creating it, the real
runtime it is compared with in the fidelity table (a reference backend of the run), the
runtime its twins are written for (workloads/py, workloads/ref) and how it schedules. Charts
order their legends (and so their colours) by CHART_ORDER. Standard library only.
"""

from collections import namedtuple

Model = namedtuple("Model", "name real twin scheduler")

MODEL_TABLE = (
    Model("mn", "go-ref", "Go",
          "M:N: G tasks on P processors on M threads, work stealing, async preemption, netpoller"),
    Model("fork", "cpython-mp", "CPython multiprocessing",
          "the OS schedules worker processes; a Pool sends pickled tasks over pipes"),
    Model("threads", None, None,
          "the OS scheduler, one kernel thread per task, preemptive"),
    Model("gil", "cpython-threads", "CPython threading",
          "OS threads, one holding the GIL; forced hand-off after the switch interval (5 ms)"),
    Model("aloop", "cpython-asyncio", "CPython asyncio",
          "one thread: ready queue, epoll, timer heap; switches only at await"),
    Model("uv", "node-ref", "Node.js",
          "libuv on one thread: timers, poll, check phases; thread pool for fs/offloaded work"),
)

MODELS = tuple(m.name for m in MODEL_TABLE)
BY_NAME = {m.name: m for m in MODEL_TABLE}
REFERENCE_OF = {m.name: m.real for m in MODEL_TABLE if m.real}
# The real runtimes' backends (reference runs: their code is Go, JavaScript or Python, not C).
REFERENCES = ("go-ref", "node-ref", "cpython-threads", "cpython-asyncio", "cpython-mp")
# Legend order of every chart: the baseline, the models in the table's column order, the real
# runtimes.
CHART_ORDER = ("serial",) + MODELS + REFERENCES
