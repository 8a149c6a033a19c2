"""mix.convoy twin: one echo connection (the load generator's) served beside H hogs that
compute fib(hog_n) rounds, checking each result, until the connection is done or duration_ms
has passed on their own clock. As in workloads/mix_convoy.c, the first message is echoed
before any hog exists: the client's clock starts at that echo, so the hogs (each lasting
duration_ms from its start) cover the whole measured window, on every backend alike.
Checksum: bytes echoed plus one per hog whose every round was right."""

import asyncio
import threading
import time

import twin


def hog(n, stopped, duration_ms):
    want = twin.fib_value(n)
    bad = False
    t0 = time.monotonic_ns()
    while True:  # at least one round, like the C hog's do-while
        bad |= twin.fib(n) != want
        if stopped() or time.monotonic_ns() - t0 >= duration_ms * 1000000:
            return 0 if bad else 1


def run_threads(a):
    lsock = twin.listen_socket(a)
    twin.release_client(a)
    conn, _ = lsock.accept()
    lsock.close()
    echoed = [twin.echo_first(conn, a.size)]
    stop = threading.Event()
    good = [0] * a.tasks

    def echo():
        echoed[0] += twin.echo_blocking(conn)

    def task(i):
        good[i] = hog(a.hog_n, stop.is_set, a.duration_ms)

    server = threading.Thread(target=echo)
    hogs = [threading.Thread(target=task, args=(i,)) for i in range(a.tasks)]
    twin.start_threads([server])
    twin.start_threads(hogs)
    twin.join_threads([server])
    stop.set()
    twin.join_threads(hogs)
    return echoed[0] + sum(good)


def run_asyncio(a):
    async def hog_task():
        # Never awaits: the loop serves nothing until it returns (no preemption), and no stop
        # can reach it, so only its own clock ends it.
        return hog(a.hog_n, lambda: False, a.duration_ms)

    async def main():
        lsock = twin.listen_socket(a)
        lsock.setblocking(False)
        loop = asyncio.get_running_loop()
        twin.release_client(a)
        conn, _ = await loop.sock_accept(lsock)
        lsock.close()
        reader, writer = await asyncio.open_connection(sock=conn)
        first = await twin.echo_first_stream(reader, writer, a.size)
        server = asyncio.create_task(twin.echo_stream(reader, writer))
        hogs = [asyncio.create_task(hog_task()) for _ in range(a.tasks)]
        echoed = await server
        return first + echoed + sum(await asyncio.gather(*hogs))

    return asyncio.run(main())


_stop = None  # the hogs' stop event, inherited by the pool's processes


def mp_init(stop):
    global _stop
    _stop = stop


def mp_hog(n, duration_ms):
    return hog(n, _stop.is_set, duration_ms)


def run_mp(a):
    # Hogs in their own processes (a pool of one per hog), the server in the main process.
    lsock = twin.listen_socket(a)
    twin.release_client(a)
    conn, _ = lsock.accept()
    lsock.close()
    first = twin.echo_first(conn, a.size)
    if a.tasks == 0:
        return first + twin.echo_blocking(conn)
    stop = twin.mp_context().Event()
    with twin.Pool(a.tasks, initializer=mp_init, initargs=(stop,)) as pool:
        hogs = [pool.apply_async(mp_hog, (a.hog_n, a.duration_ms)) for _ in range(a.tasks)]
        echoed = first + twin.echo_blocking(conn)
        stop.set()
        good = sum(h.get() for h in hogs)
    return echoed + good
