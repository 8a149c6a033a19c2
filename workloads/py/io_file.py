"""io.file twin: T tasks each read their own (page-cached) file, made by prepare() in the
directory a.dir as f0..f{T-1}, in chunks of chunk_kb KiB, hashing every byte (FNV-1a-like,
as the C task). Checksum: the sum of the hashes."""

import asyncio
import os
import threading

import twin

M64 = (1 << 64) - 1
SEED, PRIME = 0xcbf29ce484222325, 0x100000001b3


def fold(data, h):
    for b in data:
        h = ((h * PRIME) & M64) ^ b
    return h


def check(a, parallel):
    twin.refuse_slow(a.tasks * a.size * 1024 * 0.1e-6 / parallel,
                     f"io.file: hashing {a.tasks} x {a.size} KiB byte by byte")


def path(a, i):
    return os.path.join(a.dir, f"f{i}")


def read_hash(p, chunk):
    h = SEED
    with open(p, 'rb', buffering=0) as f:
        while data := f.read(chunk):
            h = fold(data, h)
    return h


def run_threads(a):
    check(a, 1)
    res = [0] * a.tasks

    def task(i):
        res[i] = read_hash(path(a, i), a.chunk_kb * 1024)

    threads = [threading.Thread(target=task, args=(i,)) for i in range(a.tasks)]
    twin.start_threads(threads)
    twin.join_threads(threads)
    return sum(res) & M64


def run_asyncio(a):
    # asyncio has no file readiness: reads go to the default thread pool (asyncio.to_thread),
    # the hashing stays on the loop.
    check(a, 1)

    async def task(i):
        h = SEED
        with open(path(a, i), 'rb', buffering=0) as f:
            while data := await asyncio.to_thread(f.read, a.chunk_kb * 1024):
                h = fold(data, h)
        return h

    async def main():
        return sum(await asyncio.gather(*(task(i) for i in range(a.tasks)))) & M64

    return asyncio.run(main())


def read_hash_args(args):
    return read_hash(*args)


def run_mp(a):
    check(a, min(a.tasks, a.workers))
    with twin.Pool(a.workers) as pool:
        jobs = [(path(a, i), a.chunk_kb * 1024) for i in range(a.tasks)]
        return sum(pool.map(read_hash_args, jobs)) & M64
