"""micro.chan twin. cap=0: two tasks ping-pong n round trips (ping sends i, pong answers
i + 1; checksum n (n + 1) / 2). cap>0: a producer streams 0..n-1 through a queue of
capacity cap to a consumer that sums them (n (n - 1) / 2).

Python has no rendezvous channel: the ping-pong uses the runtime's own one-slot carriers
(queue.Queue, asyncio.Queue, a multiprocessing Pipe); a ping-pong waits for every answer, so
a sender is never more than one message ahead, as with a rendezvous."""

import asyncio
import queue
import threading

import twin

COST_S = {'threads': 20e-6, 'asyncio': 5e-6, 'mp': 30e-6}
DONE = None  # end of stream (the C side closes the channel)


def check(a, model):
    twin.refuse_slow(a.size * COST_S[model], f"micro.chan: {a.size} messages over {model}")


def run_threads(a):
    check(a, 'threads')
    # twin:begin threads
    n, out = a.size, [0, 0]
    if a.cap == 0:
        to_pong, to_ping = queue.Queue(1), queue.Queue(1)

        def ping():
            s = 0
            for i in range(n):
                to_pong.put(i)
                back = to_ping.get()
                s += back if back == i + 1 else 0
            to_pong.put(DONE)
            out[0] = s

        def pong():
            while (v := to_pong.get()) is not DONE:
                to_ping.put(v + 1)

        threads = [threading.Thread(target=pong), threading.Thread(target=ping)]
    else:
        q = queue.Queue(a.cap)

        def producer():
            for i in range(n):
                q.put(i)
            q.put(DONE)

        def consumer():
            s = 0
            while (v := q.get()) is not DONE:
                s += v
            out[1] = s

        threads = [threading.Thread(target=consumer), threading.Thread(target=producer)]
    twin.start_threads(threads)
    twin.join_threads(threads)
    return out[0] + out[1]
    # twin:end


def run_asyncio(a):
    check(a, 'asyncio')
    # twin:begin asyncio
    n = a.size

    async def main():
        if a.cap == 0:
            to_pong, to_ping = asyncio.Queue(1), asyncio.Queue(1)

            async def ping():
                s = 0
                for i in range(n):
                    await to_pong.put(i)
                    back = await to_ping.get()
                    s += back if back == i + 1 else 0
                await to_pong.put(DONE)
                return s

            async def pong():
                while (v := await to_pong.get()) is not DONE:
                    await to_ping.put(v + 1)
                return 0

            return sum(await asyncio.gather(pong(), ping()))
        q = asyncio.Queue(a.cap)

        async def producer():
            for i in range(n):
                await q.put(i)
            await q.put(DONE)
            return 0

        async def consumer():
            s = 0
            while (v := await q.get()) is not DONE:
                s += v
            return s

        return sum(await asyncio.gather(consumer(), producer()))

    return asyncio.run(main())
    # twin:end


# twin:begin mp
def mp_ping(conn, n, result):
    s = 0
    for i in range(n):
        conn.send(i)
        back = conn.recv()
        s += back if back == i + 1 else 0
    conn.send(DONE)
    result.send(s)


def mp_pong(conn):
    while (v := conn.recv()) is not DONE:
        conn.send(v + 1)


def mp_produce(q, n):
    for i in range(n):
        q.put(i)
    q.put(DONE)


def mp_consume(q, result):
    s = 0
    while (v := q.get()) is not DONE:
        s += v
    result.send(s)
# twin:end


def run_mp(a):
    check(a, 'mp')
    # twin:begin mp
    ctx = twin.mp_context()
    result_r, result_w = ctx.Pipe(duplex=False)
    if a.cap == 0:
        ping_end, pong_end = ctx.Pipe()
        procs = [ctx.Process(target=mp_pong, args=(pong_end,)),
                 ctx.Process(target=mp_ping, args=(ping_end, a.size, result_w))]
    else:
        q = ctx.Queue(a.cap)
        procs = [ctx.Process(target=mp_consume, args=(q, result_w)),
                 ctx.Process(target=mp_produce, args=(q, a.size))]
    for p in procs:
        p.start()
    # twin:end
    twin.stat_processes(len(procs))
    # twin:begin mp
    s = result_r.recv()
    for p in procs:
        p.join()
    # twin:end
    twin.stat_processes(-len(procs))
    # twin:begin mp
    result_r.close()
    result_w.close()
    # twin:end
    for p in procs:
        if p.exitcode != 0:
            raise RuntimeError(f"micro.chan: a worker process exited with {p.exitcode}")
    # twin:begin mp
    return s
    # twin:end
