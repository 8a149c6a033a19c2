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
    # twin:begin threads
    ready, gate = queue.Queue(), threading.Event()
    out = [0] * a.tasks

    def task(i):
        ready.put(1)
        gate.wait()
        out[i] = 1

    threads = [threading.Thread(target=task, args=(i,)) for i in range(a.tasks)]
    # twin:end
    before = twin.mem_pss()
    # twin:begin threads
    twin.start_threads(threads)
    for _ in range(a.tasks):
        ready.get()
    # twin:end
    after = twin.mem_pss()
    # twin:begin threads
    gate.set()
    twin.join_threads(threads)
    # twin:end
    return {'checksum': sum(out), 'note': note(before, after, a.tasks)}


def run_asyncio(a):
    # twin:begin asyncio
    async def task(ready, gate):
        ready.put_nowait(1)
        await gate.wait()
        return 1

    async def main():
        ready, gate = asyncio.Queue(), asyncio.Event()
        # twin:end
        before = twin.mem_pss()
        # twin:begin asyncio
        tasks = [asyncio.create_task(task(ready, gate)) for _ in range(a.tasks)]
        for _ in range(a.tasks):
            await ready.get()
        # twin:end
        after = twin.mem_pss()
        # twin:begin asyncio
        gate.set()
        # twin:end
        return {'checksum': sum(await asyncio.gather(*tasks)), 'note': note(before, after, a.tasks)}

    # twin:begin asyncio
    return asyncio.run(main())
    # twin:end


# twin:begin mp
def mp_task(ready, gate, done):
    ready.put(1)
    gate.wait()
    done.put(1)
# twin:end


def run_mp(a):
    if a.tasks > MP_MAX_TASKS:
        raise twin.Unsupported(f"micro.idle: {a.tasks} idle processes "
                               f"(the mp twin parks a process per task; limit {MP_MAX_TASKS})")
    # twin:begin mp
    ctx = twin.mp_context()
    ready, done, gate = ctx.SimpleQueue(), ctx.SimpleQueue(), ctx.Event()
    procs = [ctx.Process(target=mp_task, args=(ready, gate, done)) for _ in range(a.tasks)]
    # twin:end
    before = twin.mem_pss()
    # twin:begin mp
    for p in procs:
        p.start()
    # twin:end
    twin.stat_processes(len(procs))
    # twin:begin mp
    for _ in procs:
        ready.get()
    # twin:end
    after = twin.mem_pss()
    # twin:begin mp
    gate.set()
    total = sum(done.get() for _ in procs)
    for p in procs:
        p.join()
    # twin:end
    twin.stat_processes(-len(procs))
    return {'checksum': total, 'note': note(before, after, a.tasks)}
