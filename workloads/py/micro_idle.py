"""micro.idle twin: N tasks report ready and park until a gate opens; the cell's resident
memory (PSS of all its processes) grown since before the spawns, divided by N, is the cost of
one idle task (the row's note). Checksum: N (each task returns 1 once released)."""

import asyncio
import queue
import threading

import twin

MP_MAX_TASKS = 2000  # the mp twin parks one process per task


def note(before, after, n):
    if before > 0 and after > 0:
        return f"bytes_per_task={(after - before) // n}"
    return "bytes_per_task unknown (no /proc smaps_rollup)"


def run_threads(a):
    ready, gate = queue.Queue(), threading.Event()
    out = [0] * a.tasks

    def task(i):
        ready.put(1)
        gate.wait()
        out[i] = 1

    threads = [threading.Thread(target=task, args=(i,)) for i in range(a.tasks)]
    before = twin.mem_pss()
    twin.start_threads(threads)
    for _ in range(a.tasks):
        ready.get()
    after = twin.mem_pss()
    gate.set()
    twin.join_threads(threads)
    return {'checksum': sum(out), 'note': note(before, after, a.tasks)}


def run_asyncio(a):
    async def task(ready, gate):
        ready.put_nowait(1)
        await gate.wait()
        return 1

    async def main():
        ready, gate = asyncio.Queue(), asyncio.Event()
        before = twin.mem_pss()
        tasks = [asyncio.create_task(task(ready, gate)) for _ in range(a.tasks)]
        for _ in range(a.tasks):
            await ready.get()
        after = twin.mem_pss()
        gate.set()
        return {'checksum': sum(await asyncio.gather(*tasks)), 'note': note(before, after, a.tasks)}

    return asyncio.run(main())


def mp_task(ready, gate, done):
    ready.put(1)
    gate.wait()
    done.put(1)


def run_mp(a):
    if a.tasks > MP_MAX_TASKS:
        raise twin.Unsupported(f"micro.idle: {a.tasks} idle processes "
                               f"(the mp twin parks a process per task; limit {MP_MAX_TASKS})")
    ctx = twin.mp_context()
    ready, done, gate = ctx.SimpleQueue(), ctx.SimpleQueue(), ctx.Event()
    procs = [ctx.Process(target=mp_task, args=(ready, gate, done)) for _ in range(a.tasks)]
    before = twin.mem_pss()
    for p in procs:
        p.start()
    twin.stat_processes(len(procs))
    for _ in procs:
        ready.get()
    after = twin.mem_pss()
    gate.set()
    total = sum(done.get() for _ in procs)
    for p in procs:
        p.join()
    twin.stat_processes(-len(procs))
    return {'checksum': total, 'note': note(before, after, a.tasks)}
