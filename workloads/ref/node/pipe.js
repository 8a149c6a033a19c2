// pipe.js: twin of io.pipe: P pairs of async tasks ping-pong a message, n round trips per
// pair. Node has no pipe(2): each pair talks over a Unix-domain socket (libuv's pipe
// handle, what Node calls a pipe: net.createServer on a path), one connection per pair;
// the row's note says so. Ping fills message i as wl_fill(i) does and checks the echo;
// pong writes each message back. Checksum: 2 per round trip (one per side).
//   node pipe.js [--tasks 4] [--size 10000] [--msg 64] [--rounds R]
'use strict';
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { now, fill, Reader, main } = require('./common');
let n, msg;

async function ping(sock) {
  const rd = new Reader(sock), buf = Buffer.alloc(msg), want = Buffer.alloc(msg);
  let good = 0;
  for (let i = 0; i < n; i++) {
    fill(buf, i);
    sock.write(Buffer.from(buf));
    const back = await rd.read(msg);
    fill(want, i);
    if (back.equals(want)) good++;
  }
  sock.end();
  return good;
}

async function pong(sock) {
  const rd = new Reader(sock);
  let seen = 0;
  for (let i = 0; i < n; i++) {
    const m = await rd.read(msg);
    if (m.length < msg) break;
    sock.write(m);
    seen++;
  }
  sock.end();
  return seen;
}

main(async (opt) => {
  const pairs = opt('tasks', 4), rounds = opt('rounds', 1);
  n = opt('size', 10000);
  msg = opt('msg', 64);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'concbench-pipe-'));
  const where = path.join(dir, 's');
  const pongs = [];
  const server = net.createServer((s) => pongs.push(pong(s)));
  await new Promise((r) => server.listen(where, r));
  let wall = 0n, ok = 0;
  for (let k = 0; k < rounds; k++) {
    pongs.length = 0;
    const socks = await Promise.all(Array.from({ length: pairs }, () => new Promise((r) => {
      const s = net.connect(where, () => r(s));
    })));
    while (pongs.length < pairs) await new Promise((r) => setImmediate(r));
    const t0 = now();
    const sides = await Promise.all([...socks.map(ping), ...pongs]);
    wall = now() - t0;
    ok = sides.reduce((a, b) => a + b, 0);
  }
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { workload: 'io.pipe', tasks: pairs, size: n, wall_ns: wall, ops: pairs * n, checksum: ok,
    note: 'Node has no pipe(2): each pair over a Unix-domain socket (libuv pipe handle)' };
});
