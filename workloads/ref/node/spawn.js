// spawn.js: twin of micro.spawn: N trivial async tasks, spawned and joined in batches of B.
//   node spawn.js [--tasks 100000] [--size 100]
'use strict';
const { now, main } = require('./common');

// twin:begin
async function nop(i) {
  return i + 1;
}
// twin:end

main(async (opt) => {
  const tasks = opt('tasks', 100000), batch = opt('size', 100);
  const t0 = now();
  // twin:begin
  let sum = 0;
  for (let done = 0; done < tasks; done += batch) {
    const k = Math.min(batch, tasks - done);
    const ps = new Array(k);
    for (let i = 0; i < k; i++) ps[i] = nop(done + i);
    for (let i = 0; i < k; i++) sum += await ps[i];
  }
  // twin:end
  const wall = now() - t0;
  return { workload: 'micro.spawn', tasks, size: batch, wall_ns: wall, ops: tasks, checksum: sum };
});
