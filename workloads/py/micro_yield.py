"""micro.yield twin: T tasks each yield n times (time.sleep(0) in a thread, await
asyncio.sleep(0), os.sched_yield() in a process). Checksum: T n."""

import asyncio
import os
import threading
import time

import twin

COST_S = {'threads': 2e-6, 'asyncio': 5e-6, 'mp': 1e-6}


def check(a, model):
    twin.refuse_slow(a.tasks * a.size * COST_S[model], f"micro.yield: {a.tasks} x {a.size} yields")


def run_threads(a):
    check(a, 'threads')
    # twin:begin threads
    done = [0] * a.tasks

    def task(i):
        for _ in range(a.size):
            time.sleep(0)  # releases the GIL and takes it back
        done[i] = a.size

    threads = [threading.Thread(target=task, args=(i,)) for i in range(a.tasks)]
    twin.start_threads(threads)
    twin.join_threads(threads)
    return sum(done)
    # twin:end


def run_asyncio(a):
    check(a, 'asyncio')

    # twin:begin asyncio
    async def task():
        for _ in range(a.size):
            await asyncio.sleep(0)
        return a.size

    async def main():
        return sum(await asyncio.gather(*(task() for _ in range(a.tasks))))

    return asyncio.run(main())
    # twin:end


# twin:begin mp
def yielder(n):
    for _ in range(n):
        os.sched_yield()
    return n
# twin:end


def run_mp(a):
    check(a, 'mp')
    # twin:begin mp
    with twin.Pool(a.workers) as pool:
        return sum(pool.map(yielder, [a.size] * a.tasks))
    # twin:end
