// idle.js: twin of micro.idle: N async tasks parked on a channel at once; resident memory
// growth per task (RSS, after a full GC when node runs with --expose-gc).
//   node --expose-gc idle.js [--tasks 10000]
'use strict';
const { now, Chan, main } = require('./common');

// twin:begin
async function idle(ready, gate) {
  await ready.send(1);
  const r = await gate.recv();
  return r.ok ? 0 : 1; // parked until the gate closes
}
// twin:end

main(async (opt) => {
  const n = opt('tasks', 10000);
  const gc = global.gc || (() => {});
  const t0 = now();
  // twin:begin
  // twin:uses Chan
  const ready = new Chan(n), gate = new Chan(0);
  // twin:end
  gc();
  const before = process.memoryUsage().rss;
  // twin:begin
  const ps = new Array(n);
  for (let i = 0; i < n; i++) ps[i] = idle(ready, gate);
  for (let i = 0; i < n; i++) await ready.recv();
  // twin:end
  gc();
  const after = process.memoryUsage().rss;
  // twin:begin
  gate.close();
  const r = await Promise.all(ps);
  // twin:end
  const wall = now() - t0;
  return { workload: 'micro.idle', tasks: n, size: 1, wall_ns: wall, ops: n, checksum: r.reduce((a, b) => a + b, 0),
    bytes_per_task: Math.round((after - before) / n) };
});
