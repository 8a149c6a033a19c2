// convoy.js: twin of mix.convoy: one echo connection (the load generator's, on the socket
// the harness hands over, --listen-fd) served beside H hogs that compute fib(hog_n) rounds,
// checking each, until the connection is done or duration_ms has passed on their own
// clock. The hogs are synchronous code on the one thread: each holds the event loop for
// its whole run, and the connection is served only between hogs (the loop blocked). As in
// workloads/mix_convoy.c, the first message is echoed before any hog exists: the client's
// clock starts at that echo, so the hogs (each lasting duration_ms from its start) cover the
// whole measured window.
// Checksum: bytes echoed plus one per hog whose every round was right.
//   node convoy.js --listen-fd FD [--tasks H] [--size 64] [--duration_ms 1000] [--hog_n 25]
'use strict';
const net = require('net');
const { now, fib, main } = require('./common');

function fibValue(k) {
  let a = 0, b = 1;
  for (let i = 0; i < k; i++) [a, b] = [b, a + b];
  return a;
}

let hogN, want, limitNs;

// One hog: fib(hog_n) rounds, synchronous, until stop() says so or its time is up.
function hog(state) {
  const start = now();
  let bad = false;
  do bad = bad || fib(hogN) !== want;
  while (!state.stop && now() - start < limitNs);
  if (!bad) state.good++;
  state.done();
}

main((opt, handle) => new Promise((resolve) => {
  const hogs = opt('tasks', 1), durationMs = opt('duration_ms', 1000), fd = opt('listen-fd', -1);
  const size = opt('size', 64);
  hogN = opt('hog_n', 25);
  if ((fd < 0 && !handle) || opt('rounds', 1) !== 1) {
    process.stderr.write('convoy.js: --listen-fd is required and --rounds must be 1\n');
    process.exit(2);
  }
  want = fibValue(hogN);
  limitNs = BigInt(durationMs) * 1000000n;
  const t0 = now();
  let bytes = 0, left = hogs + 1;
  const state = { stop: false, good: 0, done: () => {
    if (--left > 0) return;
    resolve({ workload: 'mix.convoy', tasks: hogs, wall_ns: now() - t0, checksum: bytes + state.good });
  } };
  let started = false;
  // The hogs start once the first message is echoed (or the client went away before that).
  const startHogs = () => {
    if (started) return;
    started = true;
    for (let i = 0; i < hogs; i++) setImmediate(hog, state);
  };
  const server = net.createServer((sock) => {
    server.close(); // one connection, as the C workload accepts one
    sock.on('data', (chunk) => {
      bytes += chunk.length;
      if (bytes >= size) sock.write(chunk, startHogs); // once written: the client may see it
      else sock.write(chunk);
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      state.stop = true;
      startHogs();
      state.done();
    });
  });
  server.listen(handle || { fd });
}));
