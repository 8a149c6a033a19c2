// skynet.js: twin of micro.skynet: a tree of async tasks, fanout children each, the leaves
// return their number; sum 499999500000 for a million leaves.
//   node skynet.js [--size 1000000] [--fanout 10]
'use strict';
const { now, main } = require('./common');
let fanout;

// twin:begin
async function sky(num, sz) {
  if (sz === 1) return num;
  const sub = sz / fanout;
  const ps = new Array(fanout);
  for (let i = 0; i < fanout; i++) ps[i] = sky(num + i * sub, sub);
  let sum = 0;
  for (let i = 0; i < fanout; i++) sum += await ps[i];
  return sum;
}
// twin:end

main(async (opt) => {
  const size = opt('size', 1000000);
  fanout = opt('fanout', 10);
  const t0 = now();
  // twin:begin
  const sum = await sky(0, size);
  // twin:end
  const wall = now() - t0;
  let tasks = 0;
  for (let k = size; k >= 1; k /= fanout) tasks += k;
  return { workload: 'micro.skynet', tasks: 1, size, wall_ns: wall, ops: tasks, checksum: sum };
});
