// hash.js: twin of cpu.hash: T tasks each SHA-256 their own buffer (filled as wl_fill does)
// `rounds` times, the digest fed back into the buffer's first 32 bytes; checksum: the sum of
// each last digest's first 8 bytes (little-endian).
//   native=0: every task hashes on the main thread (crypto's hash is native code, but a
//             synchronous call holds the event loop: tasks run one after another).
//   native=1: the tasks go to a pool of --workers worker_threads, each buffer transferred
//             to its worker: what a Node user reaches for to offload CPU work, as a Python
//             user would a C extension that releases the GIL. The row's note says which.
//   node hash.js [--tasks 8] [--size KiB] [--rounds 4] [--native 0|1] [--workers W]
'use strict';
const crypto = require('crypto');
const os = require('os');
const { Worker, isMainThread, parentPort } = require('worker_threads');

function kernel(buf, rounds) {
  let out;
  for (let r = 0; r < rounds; r++) {
    out = crypto.createHash('sha256').update(buf).digest();
    out.copy(buf, 0, 0, Math.min(32, buf.length));
  }
  return out.readBigUInt64LE(0);
}

if (!isMainThread) {
  parentPort.on('message', ({ id, ab, rounds }) => {
    parentPort.postMessage({ id, v: kernel(Buffer.from(ab), rounds) });
  });
} else {
  const { now, fill, main } = require('./common');
  let rounds, native, pool;
  const waiting = new Map();
  let next = 0;
  function offload(buf) {
    const id = next++;
    const w = pool[id % pool.length];
    return new Promise((resolve) => {
      waiting.set(id, resolve);
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
      w.postMessage({ id, ab, rounds }, [ab]);
    });
  }
  async function task(buf) {
    return native ? offload(buf) : kernel(buf, rounds);
  }

  main(async (opt) => {
    const tasks = opt('tasks', 8), kib = opt('size', 1024);
    const nworkers = opt('workers', os.cpus().length);
    rounds = opt('rounds', 4);
    native = opt('native', 0);
    // The pool exists before the clock starts, as in a server that offloads its hashing.
    pool = native ? Array.from({ length: nworkers }, () => new Worker(__filename)) : [];
    for (const w of pool) w.on('message', ({ id, v }) => { waiting.get(id)(v); waiting.delete(id); });
    const bufs = Array.from({ length: tasks }, (_, i) => {
      const b = Buffer.alloc(kib * 1024);
      fill(b, i);
      return b;
    });
    const t0 = now();
    const vs = await Promise.all(bufs.map(task));
    const wall = now() - t0;
    const sum = BigInt.asUintN(64, vs.reduce((a, b) => a + b, 0n));
    for (const w of pool) await w.terminate();
    const note = native
      ? `native=1: each task hashed on one of ${nworkers} worker_threads (a C-extension-like offload)`
      : 'native=0: every task hashed on the main thread (the loop held)';
    return { workload: 'cpu.hash', tasks, size: kib, wall_ns: wall, ops: tasks, checksum: sum, note };
  });
}
