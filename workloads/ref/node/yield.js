// yield.js: twin of micro.yield: T async tasks each yield n times with setImmediate (a
// yield that lets I/O and timers run, like the uv backend's).
//   node yield.js [--tasks 2] [--size 100000]
'use strict';
const { setImmediate: immediate } = require('timers/promises');
const { now, main } = require('./common');
let n;

// twin:begin
async function task() {
  for (let i = 0; i < n; i++) await immediate();
  return n;
}
// twin:end

main(async (opt) => {
  const tasks = opt('tasks', 2);
  n = opt('size', 100000);
  const t0 = now();
  // twin:begin
  const r = await Promise.all(Array.from({ length: tasks }, task));
  // twin:end
  const wall = now() - t0;
  return { workload: 'micro.yield', tasks, size: n, wall_ns: wall, ops: tasks * n, checksum: r.reduce((a, b) => a + b, 0) };
});
