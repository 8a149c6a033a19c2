"""mix.latency twin: H hogs (rounds x fib(n) each) beside a probe that sleeps period_us and
records how late it wakes. Checksum: the hogs' sum; ops: probe wakes; p50/p99/max: lateness."""

import asyncio
import threading
import time

import twin


def check(a, parallel):
    t = a.tasks * a.rounds * twin.fib_calls(a.size) / twin.FIB_CALLS_PER_S / parallel
    twin.refuse_slow(t, f"mix.latency: {a.tasks} hogs x {a.rounds} x fib({a.size})")


# twin:begin threads asyncio mp
def hog(n, rounds):
    s = 0
    for _ in range(rounds):
        # twin:uses fib
        s += twin.fib(n)
    return s
# twin:end


def report(checksum, late):
    r = {'checksum': checksum, 'ops': len(late)}
    r.update(twin.percentiles(late))
    if late:
        r['note'] = f"mean wake delay {sum(late) / len(late) / 1e6:.3f} ms"
    return r


# twin:begin threads mp
def probe_blocking(period_ns, stop, late):
    """One wake per loop; stops after the wake that sees stop set (the C probe's do-while)."""
    while True:
        t0 = time.perf_counter_ns()
        time.sleep(period_ns / 1e9)
        d = time.perf_counter_ns() - t0
        late.append(d - period_ns if d > period_ns else 0)
        if stop():
            return
# twin:end


def run_threads(a):
    check(a, 1)
    # twin:begin threads
    t0 = time.perf_counter_ns()
    period = a.period_us * 1000
    late, stop = [], threading.Event()
    probe = threading.Thread(target=probe_blocking, args=(period, stop.is_set, late))
    sums = [0] * a.tasks

    def task(i):
        sums[i] = hog(a.size, a.rounds)

    hogs = [threading.Thread(target=task, args=(i,)) for i in range(a.tasks)]
    twin.start_threads([probe])
    twin.start_threads(hogs)
    twin.join_threads(hogs)
    ran = time.perf_counter_ns() - t0
    if ran < a.min_ms * 1000000:
        time.sleep((a.min_ms * 1000000 - ran) / 1e9)
    stop.set()
    twin.join_threads([probe])
    # twin:end
    return report(sum(sums), late)


def run_asyncio(a):
    check(a, 1)

    # twin:begin asyncio
    async def probe(period_ns, stop, late):
        while True:
            t0 = time.perf_counter_ns()
            await asyncio.sleep(period_ns / 1e9)
            d = time.perf_counter_ns() - t0
            late.append(d - period_ns if d > period_ns else 0)
            if stop.is_set():
                return

    async def hog_task():
        return hog(a.size, a.rounds)  # never awaits: the loop cannot preempt it

    async def main():
        t0 = time.perf_counter_ns()
        late, stop = [], asyncio.Event()
        p = asyncio.create_task(probe(a.period_us * 1000, stop, late))
        total = sum(await asyncio.gather(*(hog_task() for _ in range(a.tasks))))
        ran = time.perf_counter_ns() - t0
        if ran < a.min_ms * 1000000:
            await asyncio.sleep((a.min_ms * 1000000 - ran) / 1e9)
        stop.set()
        await p
        # twin:end
        return report(total, late)

    # twin:begin asyncio
    return asyncio.run(main())
    # twin:end


def run_mp(a):
    check(a, max(1, min(a.workers, a.tasks)))
    # Hogs in the pool's processes; the probe is the main process, which only waits.
    # twin:begin mp
    t0 = time.perf_counter_ns()
    period = a.period_us * 1000
    late = []
    with twin.Pool(max(1, a.workers)) as pool:
        results = [pool.apply_async(hog, (a.size, a.rounds)) for _ in range(a.tasks)]

        def done():
            return (all(r.ready() for r in results) and
                    time.perf_counter_ns() - t0 >= a.min_ms * 1000000)

        probe_blocking(period, done, late)
        total = sum(r.get() for r in results)
    # twin:end
    return report(total, late)
