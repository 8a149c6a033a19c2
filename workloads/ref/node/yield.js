// yield.js: twin of micro.yield: T async tasks each yield n times with setImmediate (a
// yield that lets I/O and timers run, like the uv backend's).
//   node yield.js [--tasks 2] [--size 100000]
'use strict';
const { setImmediate: immediate } = require('timers/promises');
const { opt, now, report } = require('./common');
const tasks = opt('tasks', 2), n = opt('size', 100000);

async function task() {
  for (let i = 0; i < n; i++) await immediate();
  return n;
}

(async () => {
  const t0 = now();
  const r = await Promise.all(Array.from({ length: tasks }, task));
  const wall = now() - t0;
  report({ workload: 'micro.yield', tasks, size: n, wall_ns: wall, ops: tasks * n, checksum: r.reduce((a, b) => a + b, 0) });
})();
