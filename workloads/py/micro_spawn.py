"""micro.spawn twin: N trivial tasks (task i returns i + 1), spawned and joined in batches of
B. Checksum: N (N + 1) / 2."""

import asyncio
import threading

import twin

# Rough per-task costs in CPython, optimistic, used only to refuse unreachable sizes.
COST_S = {'threads': 20e-6, 'asyncio': 2e-6, 'mp': 10e-6}


def check(a, model):
    twin.refuse_slow(a.tasks * COST_S[model], f"micro.spawn: {a.tasks} {model} tasks")


def batches(a):
    for done in range(0, a.tasks, a.size):
        yield range(done, min(a.tasks, done + a.size))


def run_threads(a):
    check(a, 'threads')
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


async def nop(i):
    return i + 1


def run_asyncio(a):
    check(a, 'asyncio')

    async def main():
        total = 0
        for batch in batches(a):
            tasks = [asyncio.create_task(nop(i)) for i in batch]
            for t in tasks:
                total += await t
        return total

    return asyncio.run(main())


def plus_one(i):
    return i + 1


def run_mp(a):
    check(a, 'mp')
    total = 0
    with twin.Pool(a.workers) as pool:
        for batch in batches(a):
            results = [pool.apply_async(plus_one, (i,)) for i in batch]
            total += sum(r.get() for r in results)
    return total
