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
import importlib.util
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
    name = workload.replace('.', '_')
    if importlib.util.find_spec(name) is None:
        raise Unsupported(f"{workload} has no Python twin yet (workloads/py/{name}.py)")
    mod = importlib.import_module(name)
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


# ---- shared by several twins ---------------------------------------------------------------

# Estimated time a twin accepts for one repetition: a cell runs a warm-up and several
# repetitions under one watchdog (300 s per cell in `bench suite`).
BUDGET_S = 60.0

# Recursive fib calls CPython makes per second on a current x86-64 core (3.11: about 8-10M);
# deliberately optimistic so that only clearly unreachable sizes are refused.
FIB_CALLS_PER_S = 12e6


def fib(n):
    """The same recursion as the C kernel (wl_fib), in plain Python."""
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def fib_value(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def fib_calls(n):
    """Calls fib(n) makes: 2 fib(n+1) - 1."""
    return 2 * fib_value(n + 1) - 1


def refuse_slow(seconds, what):
    """Refuse a cell whose estimated CPython time exceeds the budget, saying why."""
    if seconds > BUDGET_S:
        raise Unsupported(f"{what}: about {seconds:.0f} s in CPython "
                          f"(twins refuse more than {BUDGET_S:.0f} s)")


def mp_context():
    """multiprocessing with the fork start method: the embedding process is not a python
    executable that spawn or forkserver could re-run."""
    import multiprocessing
    return multiprocessing.get_context('fork')


class Pool:
    """multiprocessing.Pool of a.workers processes that is closed and joined (not
    terminated) on exit, and counted in the row's processes; the helper threads the Pool
    runs in this process (worker, task and result handlers) count in its OS threads."""

    def __init__(self, workers, **kw):
        import threading
        self.workers = workers
        before = threading.active_count()
        self.pool = mp_context().Pool(workers, **kw)
        self.helpers = max(0, threading.active_count() - before)
        stat_processes(workers)
        stat_threads(self.helpers)

    def __enter__(self):
        return self.pool

    def __exit__(self, *exc):
        if exc[0] is None:
            self.pool.close()
        else:
            self.pool.terminate()
        self.pool.join()
        stat_processes(-self.workers)
        stat_threads(-self.helpers)
        return False


def start_threads(threads):
    for k, t in enumerate(threads):
        try:
            t.start()
        except RuntimeError as e:  # "can't start new thread": an OS limit, not a bug
            raise Unsupported(f"threading: thread {k + 1} of {len(threads)} "
                              f"could not start ({e})") from e
        stat_threads(1)


def join_threads(threads):
    for t in threads:
        t.join()
    stat_threads(-len(threads))


def listen_socket(a):
    """The listening socket prepare() opened, as a Python socket of its own (a dup: the C
    side closes the original)."""
    import os
    import socket
    return socket.socket(fileno=os.dup(a.int('listen_fd')))


def release_client(a):
    """Let the load generator start sending (it waits for a byte on the go pipe)."""
    import os
    if os.write(a.int('go_fd'), b'G') != 1:
        raise OSError("cannot start the load generator")


ECHO_BUF = 16384


def echo_blocking(conn, stop_fd=None):
    """Echo everything read from a blocking socket back until EOF (or, for bench serve, until
    the stop pipe stop_fd becomes readable: the connection is then closed, so its client sees
    EOF); return bytes echoed."""
    import select
    total = 0
    p = None
    if stop_fd is not None:
        p = select.poll()
        p.register(conn, select.POLLIN)
        p.register(stop_fd, select.POLLIN)
    with conn:
        while True:
            if p is not None and any(fd == stop_fd for fd, _ in p.poll()):
                break
            try:
                data = conn.recv(ECHO_BUF)
            except ConnectionResetError:
                break
            if not data:
                break
            conn.sendall(data)
            total += len(data)
    return total


def stop_requested(stop_fd, timeout_ms=0):
    """Whether bench serve's stop pipe (a.stop_fd) has become readable: the signal came."""
    import select
    p = select.poll()
    p.register(stop_fd, select.POLLIN)
    return bool(p.poll(timeout_ms))


def echo_until(conn, stop_fd):
    """echo_blocking for bench serve: also ends once the stop pipe is readable."""
    return echo_blocking(conn, stop_fd)


def echo_first(conn, size):
    """Read one whole message of size bytes from a blocking socket and echo it; the bytes
    echoed (fewer when the client went away). mix.convoy's twins call it before any hog
    exists, as workloads/mix_convoy.c does: the client's clock starts at its first echo, so
    the hogs, started after it, cover the whole measured window."""
    got = b''
    while len(got) < size:
        try:
            part = conn.recv(size - len(got))
        except ConnectionResetError:
            break
        if not part:
            break
        got += part
    if got:
        try:
            conn.sendall(got)
        except (BrokenPipeError, ConnectionResetError):
            return 0
    return len(got)


async def echo_first_stream(reader, writer, size):
    """The asyncio streams version of echo_first."""
    import asyncio
    try:
        got = await reader.readexactly(size)
    except asyncio.IncompleteReadError as e:
        got = e.partial
    except ConnectionResetError:
        return 0
    if got:
        writer.write(got)
        try:
            await writer.drain()
        except ConnectionResetError:
            return 0
    return len(got)


async def echo_stream(reader, writer):
    """The asyncio streams version of echo_blocking."""
    total = 0
    try:
        while True:
            data = await reader.read(ECHO_BUF)
            if not data:
                break
            writer.write(data)
            await writer.drain()
            total += len(data)
    except ConnectionResetError:
        pass
    writer.close()
    try:
        await writer.wait_closed()
    except ConnectionResetError:
        pass
    return total


def mem_pss():
    """Resident memory (PSS, bytes) of every process of the cell, or -1 if unknown."""
    return _concbench.mem_pss()
