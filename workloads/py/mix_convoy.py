"""mix.convoy twin: one echo connection (the load generator's) served beside H hogs that
compute fib(hog_n) rounds, checking each result, until the connection is done. Checksum:
bytes echoed plus one per hog whose every round was right."""

import asyncio
import threading

import twin


def hog(n, stopped):
    want = twin.fib_value(n)
    bad = False
    while True:  # at least one round, like the C hog's do-while
        bad |= twin.fib(n) != want
        if stopped():
            return 0 if bad else 1


def run_threads(a):
    lsock = twin.listen_socket(a)
    twin.release_client(a)
    conn, _ = lsock.accept()
    lsock.close()
    echoed = [0]
    stop = threading.Event()
    good = [0] * a.tasks

    def echo():
        echoed[0] = twin.echo_blocking(conn)

    def task(i):
        good[i] = hog(a.hog_n, stop.is_set)

    server = threading.Thread(target=echo)
    hogs = [threading.Thread(target=task, args=(i,)) for i in range(a.tasks)]
    twin.start_threads([server])
    twin.start_threads(hogs)
    twin.join_threads([server])
    stop.set()
    twin.join_threads(hogs)
    return echoed[0] + sum(good)


def run_asyncio(a):
    if a.tasks > 0:
        raise twin.Unsupported("asyncio: a hog never awaits, so the loop would never serve the "
                               "connection nor stop the hog (no preemption)")

    async def main():
        lsock = twin.listen_socket(a)
        lsock.setblocking(False)
        loop = asyncio.get_running_loop()
        twin.release_client(a)
        conn, _ = await loop.sock_accept(lsock)
        lsock.close()
        reader, writer = await asyncio.open_connection(sock=conn)
        return await twin.echo_stream(reader, writer)

    return asyncio.run(main())


_stop = None  # the hogs' stop event, inherited by the pool's processes


def mp_init(stop):
    global _stop
    _stop = stop


def mp_hog(n):
    return hog(n, _stop.is_set)


def run_mp(a):
    # Hogs in their own processes (a pool of one per hog), the server in the main process.
    lsock = twin.listen_socket(a)
    twin.release_client(a)
    conn, _ = lsock.accept()
    lsock.close()
    if a.tasks == 0:
        return twin.echo_blocking(conn)
    stop = twin.mp_context().Event()
    with twin.Pool(a.tasks, initializer=mp_init, initargs=(stop,)) as pool:
        hogs = [pool.apply_async(mp_hog, (a.hog_n,)) for _ in range(a.tasks)]
        echoed = twin.echo_blocking(conn)
        stop.set()
        good = sum(h.get() for h in hogs)
    return echoed + good
