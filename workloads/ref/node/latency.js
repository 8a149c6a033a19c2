// latency.js: twin of mix.latency: H CPU hogs (rounds x fib(n), no await inside) beside a
// probe that sleeps period_us and records how late it wakes: p50/p99/max in ns.
//   node latency.js [--tasks 1] [--size 27] [--rounds 40] [--period_us 1000] [--min_ms 100]
'use strict';
const { setTimeout: sleep } = require('timers/promises');
const { now, fib, Chan, main } = require('./common');
let n, rounds, period;

// twin:begin
async function probe(stop) {
  const lates = [];
  const periodNs = BigInt(Math.round(period * 1000));
  do {
    const t0 = now();
    await sleep(period / 1000); // Node's timers take ms (fractions are rounded up to 1 ms)
    const late = now() - t0;
    lates.push(Number(late > periodNs ? late - periodNs : 0n));
  } while (!stop.closed);
  // twin:end
  lates.sort((a, b) => a - b);
  const q = (p) => lates[Math.min(lates.length - 1, Math.floor(p * lates.length))];
  return { count: lates.length, p50: q(0.5), p99: q(0.99), max: lates[lates.length - 1] };
// twin:begin
}

async function hog() {
  let s = 0;
  // twin:uses fib
  for (let i = 0; i < rounds; i++) s += fib(n);
  return s;
}
// twin:end

main(async (opt) => {
  const hogs = opt('tasks', 1), minMs = opt('min_ms', 100);
  n = opt('size', 27);
  rounds = opt('rounds', 40);
  period = opt('period_us', 1000);
  // twin:begin
  const t0 = now();
  // twin:uses Chan
  const stop = new Chan(0);
  const p = probe(stop);
  const sums = await Promise.all(Array.from({ length: hogs }, hog));
  const ran = Number(now() - t0) / 1e6;
  if (ran < minMs) await sleep(minMs - ran);
  stop.close();
  const s = await p;
  // twin:end
  const wall = now() - t0;
  return { workload: 'mix.latency', tasks: hogs, size: n, wall_ns: wall, ops: s.count,
    checksum: sums.reduce((a, b) => a + b, 0), p50_ns: s.p50, p99_ns: s.p99, max_ns: s.max };
});
