// file.js: twin of io.file: T async tasks each read their own page-cached file (f<i> in the
// folder the harness prepared, --dir) with fs.promises in chunk_kb KiB reads (libuv's
// thread pool does the reads) and checksum it as io_file.c's sum_words does:
// h = h * 0x100000001b3 ^ byte (mod 2^64), kept as two 32-bit halves; checksum: the sum.
//   node file.js --dir D [--tasks 8] [--size KiB] [--chunk_kb 64] [--rounds R]
'use strict';
const fs = require('fs/promises');
const path = require('path');
const { optString, now, main } = require('./common');
let chunk, dir;

// h * 0x100000001b3 = h * 0x1b3 + (h << 40), on (hi, lo) halves; then ^ byte.
function sumWords(buf, n, h) {
  let hi = h[0], lo = h[1];
  for (let i = 0; i < n; i++) {
    const t = lo * 0x1b3;
    const carry = Math.floor(t / 4294967296);
    hi = (hi * 0x1b3 + carry + (lo << 8)) >>> 0;
    lo = ((t >>> 0) ^ buf[i]) >>> 0;
  }
  h[0] = hi;
  h[1] = lo;
}

async function task(i) {
  const fh = await fs.open(path.join(dir, `f${i}`), 'r');
  const buf = Buffer.alloc(chunk);
  const h = [0xcbf29ce4, 0x84222325];
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, chunk, null);
    if (bytesRead === 0) break;
    sumWords(buf, bytesRead, h);
  }
  await fh.close();
  return (BigInt(h[0]) << 32n) | BigInt(h[1]);
}

main(async (opt) => {
  const tasks = opt('tasks', 8), kib = opt('size', 1024), rounds = opt('rounds', 1);
  chunk = opt('chunk_kb', 64) * 1024;
  dir = optString('dir');
  if (dir === undefined) {
    process.stderr.write('file.js: --dir is required\n');
    process.exit(2);
  }
  let wall = 0n, sum = 0n;
  for (let k = 0; k < rounds; k++) {
    const t0 = now();
    const hs = await Promise.all(Array.from({ length: tasks }, (_, i) => task(i)));
    wall = now() - t0;
    sum = BigInt.asUintN(64, hs.reduce((a, b) => a + b, 0n));
  }
  return { workload: 'io.file', tasks, size: kib, wall_ns: wall, ops: tasks * kib * 1024, checksum: sum };
});
