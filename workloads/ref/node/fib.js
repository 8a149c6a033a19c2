// fib.js: twin of cpu.fib: T async tasks each compute fib(n), spawned and joined `rounds`
// times. One thread: no parallelism.
//   node fib.js [--tasks 8] [--size 30] [--rounds 1]
'use strict';
const { now, fib, main } = require('./common');
let n;

// twin:begin
async function task() {
  return fib(n);
}
// twin:end

main(async (opt) => {
  const tasks = opt('tasks', 8), rounds = opt('rounds', 1);
  n = opt('size', 30);
  const t0 = now();
  // twin:begin
  // twin:uses fib
  let sum = 0;
  for (let i = 0; i < rounds; i++) {
    const r = await Promise.all(Array.from({ length: tasks }, task));
    sum += r.reduce((a, b) => a + b, 0);
  }
  // twin:end
  const wall = now() - t0;
  return { workload: 'cpu.fib', tasks, size: n, wall_ns: wall, ops: tasks * rounds, checksum: sum };
});
