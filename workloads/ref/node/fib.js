// fib.js: twin of cpu.fib: T async tasks each compute fib(n). One thread: no parallelism.
//   node fib.js [--tasks 8] [--size 30]
'use strict';
const { opt, now, report, fib } = require('./common');
const tasks = opt('tasks', 8), n = opt('size', 30);

async function task() {
  return fib(n);
}

(async () => {
  const t0 = now();
  const r = await Promise.all(Array.from({ length: tasks }, task));
  const wall = now() - t0;
  report({ workload: 'cpu.fib', tasks, size: n, wall_ns: wall, ops: tasks, checksum: r.reduce((a, b) => a + b, 0) });
})();
