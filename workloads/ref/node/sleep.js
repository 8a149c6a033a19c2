// sleep.js: twin of io.sleep: N async tasks each sleep d ms at the same time.
//   node sleep.js [--tasks 1000] [--size 100]
'use strict';
const { setTimeout: sleep } = require('timers/promises');
const { now, main } = require('./common');
let ms;

// twin:begin
async function task() {
  await sleep(ms);
  return 1;
}
// twin:end

main(async (opt) => {
  const tasks = opt('tasks', 1000);
  ms = opt('size', 100);
  const t0 = now();
  // twin:begin
  const ps = new Array(tasks);
  for (let i = 0; i < tasks; i++) ps[i] = task();
  const r = await Promise.all(ps);
  // twin:end
  const wall = now() - t0;
  return { workload: 'io.sleep', tasks, size: ms, wall_ns: wall, ops: tasks, checksum: r.reduce((a, b) => a + b, 0) };
});
