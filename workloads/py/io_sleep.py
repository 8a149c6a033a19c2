"""io.sleep twin: N tasks each sleep d ms at the same time; each returns 1."""

import asyncio
import threading
import time

import twin


def run_threads(a):
    # twin:begin threads
    done = [0] * a.tasks

    def task(i):
        time.sleep(a.size / 1000)
        done[i] = 1

    threads = [threading.Thread(target=task, args=(i,)) for i in range(a.tasks)]
    twin.start_threads(threads)
    twin.join_threads(threads)
    return sum(done)
    # twin:end


def run_asyncio(a):
    # twin:begin asyncio
    async def task():
        await asyncio.sleep(a.size / 1000)
        return 1

    async def main():
        return sum(await asyncio.gather(*(task() for _ in range(a.tasks))))

    return asyncio.run(main())
    # twin:end


# twin:begin mp
def sleeper(ms):
    time.sleep(ms / 1000)
    return 1
# twin:end


def run_mp(a):
    # A pool of W processes runs W sleeps at a time: N/W rounds of d.
    rounds = -(-a.tasks // a.workers)
    twin.refuse_slow(rounds * a.size / 1000, f"io.sleep: {a.tasks} sleeps on {a.workers} processes")
    # twin:begin mp
    with twin.Pool(a.workers) as pool:
        return sum(pool.map(sleeper, [a.size] * a.tasks))
    # twin:end
