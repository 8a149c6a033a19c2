"""twin.py: how the embedded CPython runs a workload's Python twin.

The C adapter (runners/backend_cpython.c) calls call(workload, model, args) once per
repetition. The twin of workload "cpu.fib" is the module cpu_fib next to this file; it
defines run_threads(a), run_asyncio(a) and/or run_mp(a) for the cpython-threads,
cpython-asyncio and cpython-mp backends. Each gets the cell's arguments as attributes
(a.tasks, a.size, a.workers, the workload's params by name, what prepare() set up for
twins, e.g. a.listen_fd) and returns the checksum, or a dict with 'checksum' and any of
'ops', 'p50_ns', 'p99_ns', 'max_ns', 'note'.

A twin that cannot run a cell raises Unsupported(reason); any other exception becomes an
'error' row carrying the exception's last line. Twins end everything they start (threads
joined, pools closed, loops closed) before returning.
"""

import ast
import importlib
import sys

import _concbench

MASK64 = (1 << 64) - 1


class Unsupported(Exception):
    """The twin cannot run this cell; the message is the row's reason."""


class Args:
    def __init__(self, d):
        self.__dict__.update(d)

    def int(self, name):
        """A twin argument that prepare() passed as text (an fd, a port)."""
        return int(getattr(self, name))


def stat_threads(delta):
    """Report OS threads started (+n) or ended (-n), for the row's os_threads."""
    _concbench.stat_thread(delta)


def stat_processes(delta):
    """Report processes started (+n) or ended (-n), for the row's processes."""
    _concbench.stat_process(delta)


def percentiles(samples_ns):
    """p50, p99 and max of latency samples, nearest-rank, like the C harness."""
    s = sorted(samples_ns)
    if not s:
        return {}
    n = len(s)

    def rank(q):
        return s[min(n - 1, max(0, (q * n + 99) // 100 - 1))]

    return {'p50_ns': rank(50), 'p99_ns': rank(99), 'max_ns': s[-1]}


def call(workload, model, args):
    a = Args(ast.literal_eval(args))
    mod = importlib.import_module(workload.replace('.', '_'))
    fn = getattr(mod, 'run_' + model, None)
    if fn is None:
        raise Unsupported(f"{workload} has no Python twin for {model}")
    saved = sys.getswitchinterval()
    if hasattr(a, 'switch_us'):
        sys.setswitchinterval(a.switch_us / 1e6)
    try:
        r = fn(a)
    finally:
        sys.setswitchinterval(saved)
    if isinstance(r, int):
        r = {'checksum': r}
    r['checksum'] &= MASK64
    return r
