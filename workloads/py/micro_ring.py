"""micro.ring twin: a token passed n times around a ring of T tasks (thread-ring). Each task
counts the tokens it receives; the one that receives 0 ends the ring by closing (sending
CLOSED to) the next, which passes the close on. Checksum: n + 1 receipts in all."""

import asyncio
import queue
import threading

import twin

CLOSED = None
COST_S = {'threads': 20e-6, 'asyncio': 5e-6}


def check(a, model):
    twin.refuse_slow(a.size * COST_S[model], f"micro.ring: {a.size} passes over {model}")


def run_threads(a):
    check(a, 'threads')
    chans = [queue.Queue(1) for _ in range(a.tasks)]
    seen = [0] * a.tasks

    def task(i):
        inq, outq = chans[i], chans[(i + 1) % a.tasks]
        while (tok := inq.get()) is not CLOSED:
            seen[i] += 1
            if tok == 0:
                break
            outq.put(tok - 1)
        outq.put(CLOSED)

    threads = [threading.Thread(target=task, args=(i,)) for i in range(a.tasks)]
    twin.start_threads(threads)
    chans[0].put(a.size)
    twin.join_threads(threads)
    return sum(seen)


def run_asyncio(a):
    check(a, 'asyncio')

    async def task(inq, outq):
        seen = 0
        while (tok := await inq.get()) is not CLOSED:
            seen += 1
            if tok == 0:
                break
            await outq.put(tok - 1)
        await outq.put(CLOSED)
        return seen

    async def main():
        chans = [asyncio.Queue(1) for _ in range(a.tasks)]
        tasks = [asyncio.create_task(task(chans[i], chans[(i + 1) % a.tasks]))
                 for i in range(a.tasks)]
        await chans[0].put(a.size)
        return sum(await asyncio.gather(*tasks))

    return asyncio.run(main())
