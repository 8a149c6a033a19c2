"""io.echo twin: an echo server on the listening socket prepare() opened, driven by the
harness's load generator (C connections, msgs messages each). Checksum: bytes echoed.

tasks == 0 is bench serve's: serve on a.listen_fd until the stop pipe a.stop_fd becomes
readable (the signal came), then end every connection; returns bytes echoed as the checksum
and the connections served as ops."""

import asyncio
import select
import threading

import twin


def serve_threads(a):
    """bench serve under threading: a thread per connection until the stop."""
    lsock, stop = twin.listen_socket(a), a.int('stop_fd')
    echoed, threads = [], []
    try:
        while True:
            ready = select.select([lsock, stop], [], [])[0]
            if stop in ready:
                break
            conn, _ = lsock.accept()
            t = threading.Thread(target=lambda conn=conn: echoed.append(twin.echo_until(conn, stop)))
            twin.start_threads([t])
            threads.append(t)
    finally:
        lsock.close()
        twin.join_threads(threads)
    return {'checksum': sum(echoed), 'ops': len(threads)}


def run_threads(a):
    # threading: the classic thread-per-connection server.
    if a.tasks == 0:
        return serve_threads(a)
    lsock = twin.listen_socket(a)
    twin.release_client(a)
    # twin:begin threads
    echoed = [0] * a.tasks
    threads = []
    try:
        for i in range(a.tasks):
            conn, _ = lsock.accept()

            def serve(i=i, conn=conn):
                # twin:uses echo_blocking
                echoed[i] = twin.echo_blocking(conn)

            t = threading.Thread(target=serve)
            twin.start_threads([t])
            threads.append(t)
    finally:
        lsock.close()
        twin.join_threads(threads)
    return sum(echoed)
    # twin:end


async def serve_asyncio(a):
    """bench serve under asyncio: the streams server until the stop pipe is readable."""
    lsock = twin.listen_socket(a)
    lsock.setblocking(False)
    loop = asyncio.get_running_loop()
    stopped = loop.create_future()
    loop.add_reader(a.int('stop_fd'), lambda: stopped.done() or stopped.set_result(None))
    tasks, writers = [], []

    def on_connect(reader, writer):
        writers.append(writer)
        tasks.append(asyncio.ensure_future(twin.echo_stream(reader, writer)))

    server = await asyncio.start_server(on_connect, sock=lsock)
    await stopped
    loop.remove_reader(a.int('stop_fd'))
    server.close()
    for w in writers:
        w.close()  # its echo_stream reads EOF and ends
    total = sum(await asyncio.gather(*tasks))
    await server.wait_closed()
    return {'checksum': total, 'ops': len(tasks)}


def run_asyncio(a):
    # asyncio: a streams server; the run ends once every connection was served.
    if a.tasks == 0:
        return asyncio.run(serve_asyncio(a))

    # twin:begin asyncio
    async def main():
        # twin:end
        lsock = twin.listen_socket(a)
        lsock.setblocking(False)
        # twin:begin asyncio
        loop = asyncio.get_running_loop()
        tasks = []
        all_accepted = loop.create_future()

        def on_connect(reader, writer):
            # twin:uses echo_stream
            tasks.append(asyncio.ensure_future(twin.echo_stream(reader, writer)))
            if len(tasks) == a.tasks and not all_accepted.done():
                all_accepted.set_result(None)

        server = await asyncio.start_server(on_connect, sock=lsock)
        # twin:end
        twin.release_client(a)
        # twin:begin asyncio
        await all_accepted
        server.close()
        total = sum(await asyncio.gather(*tasks))
        await server.wait_closed()
        return total

    return asyncio.run(main())
    # twin:end


_lsock = None  # the listening socket, inherited by the pool's processes
_accepted = None  # connections accepted so far, shared by them


# twin:begin mp
def mp_init(lsock, accepted):
    global _lsock, _accepted
    _lsock, _accepted = lsock, accepted
# twin:end


def mp_serve(conns, stop=None):
    """A pre-forked worker: accept and serve connections until all conns are taken (conns
    == 0, bench serve: until the stop pipe is readable). Returns (bytes, connections)."""
    # twin:begin mp
    total = served = 0
    # twin:end
    if stop is not None:
        while True:
            with _accepted.get_lock():  # one worker at a time waits in accept
                if select.select([_lsock, stop], [], [])[0] != [_lsock]:
                    return total, served
                conn, _ = _lsock.accept()
            served += 1
            total += twin.echo_until(conn, stop)
    # twin:begin mp
    while True:
        with _accepted.get_lock():
            if _accepted.value >= conns:
                return total
            _accepted.value += 1
            conn, _ = _lsock.accept()
        # twin:uses echo_blocking
        total += twin.echo_blocking(conn)
    # twin:end


def run_mp(a):
    # multiprocessing: a pre-forked server; W processes share the listening socket.
    lsock = twin.listen_socket(a)
    if a.tasks == 0:
        try:
            with twin.Pool(max(1, a.workers), initializer=mp_init, initargs=(lsock, twin.mp_context().Value('q', 0))) as pool:
                done = [pool.apply_async(mp_serve, (0, a.int('stop_fd'))) for _ in range(max(1, a.workers))]
                got = [r.get() for r in done]
                return {'checksum': sum(b for b, _ in got), 'ops': sum(c for _, c in got)}
        finally:
            lsock.close()
    # twin:begin mp
    accepted = twin.mp_context().Value('q', 0)
    workers = max(1, min(a.workers, a.tasks))
    try:
        with twin.Pool(workers, initializer=mp_init, initargs=(lsock, accepted)) as pool:
            results = [pool.apply_async(mp_serve, (a.tasks,)) for _ in range(workers)]
            # twin:end
            twin.release_client(a)
            # twin:begin mp
            return sum(r.get() for r in results)
    finally:
        lsock.close()
    # twin:end
