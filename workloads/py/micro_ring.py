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
    # twin:begin threads
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
    # twin:end


def run_asyncio(a):
    check(a, 'asyncio')

    # twin:begin asyncio
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
    # twin:end


MP_COST_S = 60e-6  # one pass: a pipe write and a process wake-up on the next process
MP_MAX_PROCS = 2000  # processes alive at once that the mp twin accepts (as micro.skynet's)


# twin:begin mp
def mp_member(inq, outq, result):
    seen = 0
    while (tok := inq.recv()) is not CLOSED:
        seen += 1
        if tok == 0:
            break
        outq.send(tok - 1)
    outq.send(CLOSED)
    result.send(seen)
# twin:end


def run_mp(a):
    twin.refuse_slow(a.size * MP_COST_S, f"micro.ring: {a.size} passes over mp")
    if a.tasks > MP_MAX_PROCS:
        raise twin.Unsupported(f"micro.ring: {a.tasks} processes alive at once "
                               f"(the mp twin runs a process per task; limit {MP_MAX_PROCS})")
    # twin:begin mp
    ctx = twin.mp_context()
    # The ring's channels are pipes made before the processes fork, so each inherits its
    # own two ends (a pipe holds the one token in flight: a rendezvous in effect).
    pipes = [ctx.Pipe(duplex=False) for _ in range(a.tasks)]  # (recv end, send end)
    result_r, result_w = ctx.Pipe(duplex=False)
    procs = [ctx.Process(target=mp_member,
                         args=(pipes[i][0], pipes[(i + 1) % a.tasks][1], result_w))
             for i in range(a.tasks)]
    started = 0
    try:
        for p in procs:
            p.start()
            started += 1
            # twin:end
            twin.stat_processes(1)
        # twin:begin mp
        pipes[0][1].send(a.size)
        seen = sum(result_r.recv() for _ in procs)
    except BaseException:
        for p in procs[:started]:  # a ring short of a member never ends: stop it
            p.terminate()
        raise
    finally:
        for p in procs[:started]:
            p.join()
        # twin:end
        twin.stat_processes(-started)
        # twin:begin mp
        for r, w in pipes:
            r.close()
            w.close()
        result_r.close()
        result_w.close()
        # twin:end
    for p in procs:
        if p.exitcode != 0:
            raise RuntimeError(f"micro.ring: a ring process exited with {p.exitcode}")
    # twin:begin mp
    return seen
    # twin:end
