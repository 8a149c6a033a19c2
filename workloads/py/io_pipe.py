"""io.pipe twin: P pairs ping-pong a msg-byte message over two OS pipes, n round trips each;
ping checks every echo against what it sent. Checksum: 2 P n (one per correct echo at ping,
one per message at pong). Message i is i's bytes repeated: distinct per round trip, cheap to
make in Python (the C side uses xorshift bytes; the checksum does not depend on content)."""

import asyncio
import os
import threading

import twin

COST_S = {'threads': 30e-6, 'asyncio': 30e-6, 'mp': 20e-6}


def check(a, model):
    twin.refuse_slow(a.tasks * a.size * COST_S[model], f"io.pipe: {a.tasks} x {a.size} round trips")


def message(i, n):
    b = i.to_bytes(8, 'little')
    return (b * (n // 8 + 1))[:n]


def read_full(fd, n):
    parts, got = [], 0
    while got < n:
        b = os.read(fd, n - got)
        if not b:
            raise EOFError("io.pipe: short read")
        parts.append(b)
        got += len(b)
    return b''.join(parts)


def write_full(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def ping(rfd, wfd, count, msg):
    ok = 0
    for i in range(count):
        m = message(i, msg)
        write_full(wfd, m)
        ok += read_full(rfd, msg) == m
    return ok


def pong(rfd, wfd, count, msg):
    for _ in range(count):
        write_full(wfd, read_full(rfd, msg))
    return count


def pairs(a):
    """Per pair: (ping's rfd, ping's wfd, pong's rfd, pong's wfd)."""
    out = []
    for _ in range(a.tasks):
        r1, w1 = os.pipe()  # ping -> pong
        r2, w2 = os.pipe()  # pong -> ping
        out.append((r2, w1, r1, w2))
    return out


def close_all(ps):
    for p in ps:
        for fd in p:
            os.close(fd)


def run_threads(a):
    check(a, 'threads')
    ps = pairs(a)
    res = [0] * (2 * a.tasks)

    def run(k, fn, rfd, wfd):
        res[k] = fn(rfd, wfd, a.size, a.msg)

    threads = []
    for i, (pr, pw, qr, qw) in enumerate(ps):
        threads.append(threading.Thread(target=run, args=(2 * i, pong, qr, qw)))
        threads.append(threading.Thread(target=run, args=(2 * i + 1, ping, pr, pw)))
    try:
        twin.start_threads(threads)
        twin.join_threads(threads)
    finally:
        close_all(ps)
    return sum(res)


def run_asyncio(a):
    check(a, 'asyncio')

    async def endpoints(rfd, wfd):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                     os.fdopen(rfd, 'rb', buffering=0, closefd=False))
        transport, proto = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(wfd, 'wb', buffering=0, closefd=False))
        writer = asyncio.StreamWriter(transport, proto, reader, loop)
        return reader, writer

    async def aping(rfd, wfd):
        reader, writer = await endpoints(rfd, wfd)
        ok = 0
        for i in range(a.size):
            m = message(i, a.msg)
            writer.write(m)
            await writer.drain()
            ok += await reader.readexactly(a.msg) == m
        writer.close()
        return ok

    async def apong(rfd, wfd):
        reader, writer = await endpoints(rfd, wfd)
        for _ in range(a.size):
            writer.write(await reader.readexactly(a.msg))
            await writer.drain()
        writer.close()
        return a.size

    async def main():
        ps = pairs(a)
        try:
            tasks = []
            for pr, pw, qr, qw in ps:
                tasks += [apong(qr, qw), aping(pr, pw)]
            return sum(await asyncio.gather(*tasks))
        finally:
            close_all(ps)

    return asyncio.run(main())


def run_mp(a):
    # Each task is a process; the pipes are inherited through fork.
    check(a, 'mp')
    ctx = twin.mp_context()
    ps = pairs(a)
    results = ctx.SimpleQueue()

    def run(fn, rfd, wfd):
        results.put(fn(rfd, wfd, a.size, a.msg))

    procs = []
    for pr, pw, qr, qw in ps:
        procs += [ctx.Process(target=run, args=(pong, qr, qw)),
                  ctx.Process(target=run, args=(ping, pr, pw))]
    try:
        for p in procs:
            p.start()
        twin.stat_processes(len(procs))
        total = sum(results.get() for _ in procs)
        for p in procs:
            p.join()
        twin.stat_processes(-len(procs))
    finally:
        close_all(ps)
    return total
