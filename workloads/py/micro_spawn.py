"""micro.spawn twin: N trivial tasks (task i returns i + 1), spawned and joined in batches of
B. Checksum: N (N + 1) / 2."""

import asyncio
import threading

import twin

# Rough per-task costs in CPython, optimistic, used only to refuse unreachable sizes.
COST_S = {'threads': 20e-6, 'asyncio': 2e-6, 'mp': 10e-6}


def check(a, model):
    twin.refuse_slow(a.tasks * COST_S[model], f"micro.spawn: {a.tasks} {model} tasks")


# twin:begin threads asyncio mp
def batches(a):
    for done in range(0, a.tasks, a.size):
        yield range(done, min(a.tasks, done + a.size))
# twin:end


def run_threads(a):
    check(a, 'threads')
    # twin:begin threads
    total = 0
    for batch in batches(a):
        results = {}

        def task(i):
            results[i] = i + 1

        threads = [threading.Thread(target=task, args=(i,)) for i in batch]
        twin.start_threads(threads)
        twin.join_threads(threads)
        total += sum(results.values())
    return total
    # twin:end


# twin:begin asyncio
async def nop(i):
    return i + 1
# twin:end


def run_asyncio(a):
    check(a, 'asyncio')

    # twin:begin asyncio
    async def main():
        total = 0
        for batch in batches(a):
            tasks = [asyncio.create_task(nop(i)) for i in batch]
            for t in tasks:
                total += await t
        return total

    return asyncio.run(main())
    # twin:end


# twin:begin mp
def plus_one(i):
    return i + 1
# twin:end


def run_mp(a):
    check(a, 'mp')
    # twin:begin mp
    total = 0
    with twin.Pool(a.workers) as pool:
        for batch in batches(a):
            results = [pool.apply_async(plus_one, (i,)) for i in batch]
            total += sum(r.get() for r in results)
    return total
    # twin:end
