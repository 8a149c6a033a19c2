"""micro.skynet twin: every task spawns fanout children until the leaves; a leaf returns its
number, parents sum: L (L - 1) / 2 for L leaves."""

import asyncio
import threading

import twin

# Tasks alive at once that a twin accepts: one OS process per task is the limit for mp.
MP_MAX_TASKS = 2000


def total_tasks(a):
    total, k = 0, a.size
    while k >= 1:
        total += a.size // k
        k //= a.fanout
    return total


def run_threads(a):
    twin.refuse_slow(total_tasks(a) * 50e-6, f"micro.skynet: {total_tasks(a)} threads")

    # twin:begin threads
    def sky(num, size, out, slot):
        if size == 1:
            out[slot] = num
            return
        sub = size // a.fanout
        res = [0] * a.fanout
        kids = [threading.Thread(target=sky, args=(num + i * sub, sub, res, i))
                for i in range(a.fanout)]
        twin.start_threads(kids)
        twin.join_threads(kids)
        out[slot] = sum(res)

    out = [0]
    root = threading.Thread(target=sky, args=(0, a.size, out, 0))
    twin.start_threads([root])
    twin.join_threads([root])
    return out[0]
    # twin:end


def run_asyncio(a):
    twin.refuse_slow(total_tasks(a) * 5e-6, f"micro.skynet: {total_tasks(a)} asyncio tasks")

    # twin:begin asyncio
    async def sky(num, size):
        if size == 1:
            return num
        sub = size // a.fanout
        kids = [asyncio.create_task(sky(num + i * sub, sub)) for i in range(a.fanout)]
        s = 0
        for k in kids:
            s += await k
        return s

    async def main():
        return await asyncio.create_task(sky(0, a.size))

    return asyncio.run(main())
    # twin:end


# twin:begin mp
def mp_sky(num, size, fanout, out):
    if size == 1:
        out.send(num)
        return
    ctx = twin.mp_context()
    sub = size // fanout
    kids = []
    for i in range(fanout):
        r, w = ctx.Pipe(duplex=False)
        p = ctx.Process(target=mp_sky, args=(num + i * sub, sub, fanout, w))
        p.start()
        w.close()
        kids.append((p, r))
    s = 0
    for p, r in kids:
        s += r.recv()
        p.join()
    out.send(s)
# twin:end


def run_mp(a):
    n = total_tasks(a)
    if n > MP_MAX_TASKS:
        raise twin.Unsupported(f"micro.skynet: {n} processes alive at once "
                               f"(the mp twin runs a process per task; limit {MP_MAX_TASKS})")
    # twin:begin mp
    ctx = twin.mp_context()
    r, w = ctx.Pipe(duplex=False)
    root = ctx.Process(target=mp_sky, args=(0, a.size, a.fanout, w))
    root.start()
    # twin:end
    twin.stat_processes(n)
    # twin:begin mp
    w.close()
    s = r.recv()
    root.join()
    # twin:end
    twin.stat_processes(-n)
    # twin:begin mp
    r.close()
    return s
    # twin:end
