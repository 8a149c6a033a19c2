"""io.echo twin: an echo server on the listening socket prepare() opened, driven by the
harness's load generator (C connections, msgs messages each). Checksum: bytes echoed."""

import asyncio
import threading

import twin


def run_threads(a):
    # threading: the classic thread-per-connection server.
    lsock = twin.listen_socket(a)
    twin.release_client(a)
    echoed = [0] * a.tasks
    threads = []
    try:
        for i in range(a.tasks):
            conn, _ = lsock.accept()

            def serve(i=i, conn=conn):
                echoed[i] = twin.echo_blocking(conn)

            t = threading.Thread(target=serve)
            twin.start_threads([t])
            threads.append(t)
    finally:
        lsock.close()
        twin.join_threads(threads)
    return sum(echoed)


def run_asyncio(a):
    # asyncio: a streams server; the run ends once every connection was served.
    async def main():
        lsock = twin.listen_socket(a)
        lsock.setblocking(False)
        loop = asyncio.get_running_loop()
        tasks = []
        all_accepted = loop.create_future()

        def on_connect(reader, writer):
            tasks.append(asyncio.ensure_future(twin.echo_stream(reader, writer)))
            if len(tasks) == a.tasks and not all_accepted.done():
                all_accepted.set_result(None)

        server = await asyncio.start_server(on_connect, sock=lsock)
        twin.release_client(a)
        await all_accepted
        server.close()
        total = sum(await asyncio.gather(*tasks))
        await server.wait_closed()
        return total

    return asyncio.run(main())


_lsock = None  # the listening socket, inherited by the pool's processes
_accepted = None  # connections accepted so far, shared by them


def mp_init(lsock, accepted):
    global _lsock, _accepted
    _lsock, _accepted = lsock, accepted


def mp_serve(conns):
    """A pre-forked worker: accept and serve connections until all conns are taken."""
    total = 0
    while True:
        with _accepted.get_lock():
            if _accepted.value >= conns:
                return total
            _accepted.value += 1
            conn, _ = _lsock.accept()
        total += twin.echo_blocking(conn)


def run_mp(a):
    # multiprocessing: a pre-forked server; W processes share the listening socket.
    lsock = twin.listen_socket(a)
    accepted = twin.mp_context().Value('q', 0)
    workers = max(1, min(a.workers, a.tasks))
    try:
        with twin.Pool(workers, initializer=mp_init, initargs=(lsock, accepted)) as pool:
            results = [pool.apply_async(mp_serve, (a.tasks,)) for _ in range(workers)]
            twin.release_client(a)
            return sum(r.get() for r in results)
    finally:
        lsock.close()
