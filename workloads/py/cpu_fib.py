"""cpu.fib twin: T tasks each compute recursive fib(n), spawned and joined `rounds` times;
the checksum is the sum of results."""

import asyncio
import threading

import twin


def check(a, parallel):
    t = a.rounds * a.tasks * twin.fib_calls(a.size) / twin.FIB_CALLS_PER_S / parallel
    twin.refuse_slow(t, f"cpu.fib: {a.tasks} x fib({a.size})")


def run_threads(a):
    check(a, 1)  # the GIL: one thread computes at a time
    # twin:begin threads
    return sum(threads_round(a) for _ in range(a.rounds))
    # twin:end


# twin:begin threads
def threads_round(a):
    results = [0] * a.tasks

    def task(i):
        # twin:uses fib
        results[i] = twin.fib(a.size)

    threads = [threading.Thread(target=task, args=(i,)) for i in range(a.tasks)]
    twin.start_threads(threads)
    twin.join_threads(threads)
    return sum(results)
# twin:end


def run_asyncio(a):
    check(a, 1)

    # twin:begin asyncio
    async def task():
        # twin:uses fib
        return twin.fib(a.size)

    async def main():
        total = 0
        for _ in range(a.rounds):
            total += sum(await asyncio.gather(*(task() for _ in range(a.tasks))))
        return total

    return asyncio.run(main())
    # twin:end


def run_mp(a):
    check(a, max(1, min(a.workers, a.tasks)))
    # twin:begin mp
    with twin.Pool(a.workers) as pool:
        # twin:uses fib
        return sum(sum(pool.map(twin.fib, [a.size] * a.tasks)) for _ in range(a.rounds))
    # twin:end
