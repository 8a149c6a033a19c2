"""cpu.hash twin: T tasks each SHA-256 their own buffer (task i's buffer is the C side's
xorshift fill with seed i) `rounds` times, feeding the digest back into the buffer's first
32 bytes. Checksum: the sum of each final digest's first 8 bytes, little-endian.

native=1 hashes with hashlib, which releases the GIL around buffers of 2 KiB and more: the
C extension the native region models. native=0 hashes in pure Python: interpreter code.

The buffers are made once per process and kept (the first, warm-up repetition pays): the
C root's fill costs about a nanosecond a byte, a Python loop several hundred, and timing that
would measure the fill instead of the hashing."""

import asyncio
import hashlib
import struct
import threading

import twin

M32, M64 = 0xffffffff, (1 << 64) - 1
_buffers = {}

K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]


def fill(n, seed):
    """wl_fill: xorshift64 bytes, the low byte of each step."""
    x = (seed * 0x9e3779b97f4a7c15 + 1) & M64
    out = bytearray(n)
    for i in range(n):
        x ^= (x << 13) & M64
        x ^= x >> 7
        x ^= (x << 17) & M64
        out[i] = x & 0xff
    return bytes(out)


def buffer(n, seed):
    key = (n, seed)
    if key not in _buffers:
        _buffers[key] = fill(n, seed)
    return _buffers[key]


def sha256_py(data):
    """SHA-256 (FIPS 180-4) in plain Python: interpreter code, like the C kernel with safe
    points."""
    h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    n = len(data)
    tail = data[n - n % 64:] + b'\x80'
    tail += b'\x00' * ((56 - len(tail)) % 64) + struct.pack('>Q', n * 8)
    for chunk in (memoryview(data)[:n - n % 64], memoryview(tail)):
        for off in range(0, len(chunk), 64):
            w = list(struct.unpack('>16I', chunk[off:off + 64]))
            for i in range(16, 64):
                a, b = w[i - 15], w[i - 2]
                s0 = ((a >> 7 | a << 25) ^ (a >> 18 | a << 14) ^ (a >> 3)) & M32
                s1 = ((b >> 17 | b << 15) ^ (b >> 19 | b << 13) ^ (b >> 10)) & M32
                w.append((w[i - 16] + s0 + w[i - 7] + s1) & M32)
            a, b, c, d, e, f, g, hh = h
            for i in range(64):
                S1 = ((e >> 6 | e << 26) ^ (e >> 11 | e << 21) ^ (e >> 25 | e << 7)) & M32
                t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) & M32
                S0 = ((a >> 2 | a << 30) ^ (a >> 13 | a << 19) ^ (a >> 22 | a << 10)) & M32
                t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) & M32
                hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & M32, c, b, a, (t1 + t2) & M32
            h = [(x + y) & M32 for x, y in zip(h, (a, b, c, d, e, f, g, hh))]
    return struct.pack('>8I', *h)


def kernel(data, rounds, native):
    buf = bytearray(data)  # the task's own copy
    sha = (lambda b: hashlib.sha256(b).digest()) if native else sha256_py
    for _ in range(rounds):
        out = sha(buf)
        buf[:min(len(buf), 32)] = out[:min(len(buf), 32)]
    return int.from_bytes(out[:8], 'little')


def kernel_args(args):
    return kernel(*args)


def check(a, parallel):
    n = a.size * 1024
    per_byte = 5e-9 if a.native else 1.5e-6  # hashlib vs pure Python, optimistic
    twin.refuse_slow(a.tasks * n * a.rounds * per_byte / parallel,
                     f"cpu.hash: {a.tasks} x {a.rounds} x {a.size} KiB, native={a.native}")
    twin.refuse_slow(a.tasks * n * 0.3e-6, f"cpu.hash: making {a.tasks} x {a.size} KiB of buffers")


def run_threads(a):
    check(a, min(a.tasks, a.workers) if a.native else 1)
    n, res = a.size * 1024, [0] * a.tasks
    bufs = [buffer(n, i) for i in range(a.tasks)]

    def task(i):
        res[i] = kernel(bufs[i], a.rounds, a.native)

    threads = [threading.Thread(target=task, args=(i,)) for i in range(a.tasks)]
    twin.start_threads(threads)
    twin.join_threads(threads)
    return sum(res) & M64


def run_asyncio(a):
    check(a, 1)
    n = a.size * 1024
    bufs = [buffer(n, i) for i in range(a.tasks)]

    async def task(i):
        return kernel(bufs[i], a.rounds, a.native)

    async def main():
        return sum(await asyncio.gather(*(task(i) for i in range(a.tasks)))) & M64

    return asyncio.run(main())


def run_mp(a):
    check(a, min(a.tasks, a.workers))
    n = a.size * 1024
    jobs = [(buffer(n, i), a.rounds, a.native) for i in range(a.tasks)]  # pickled: shipped
    with twin.Pool(a.workers) as pool:
        return sum(pool.map(kernel_args, jobs)) & M64
