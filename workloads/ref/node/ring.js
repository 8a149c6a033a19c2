// ring.js: twin of micro.ring (thread-ring): a token passed n times around a ring of T
// async tasks over rendezvous channels (common.js's Chan). Each counts the tokens it
// receives; the one that receives 0 closes its out channel, and each next one closes its
// own on seeing that. Checksum: n + 1 receipts.
//   node ring.js [--tasks 503] [--size 100000] [--rounds R]  (R rounds, the last reported)
'use strict';
const { now, Chan, main } = require('./common');

// twin:begin
async function member(inq, outq) {
  let seen = 0;
  for (;;) {
    const r = await inq.recv();
    if (!r.ok) break;
    seen++;
    if (r.value === 0) break;
    await outq.send(r.value - 1);
  }
  outq.close();
  return seen;
}
// twin:end

main(async (opt) => {
  const tasks = opt('tasks', 503), n = opt('size', 100000), rounds = opt('rounds', 1);
  let wall = 0n, seen = 0;
  for (let k = 0; k < rounds; k++) {
    // twin:begin
    // twin:uses Chan
    const ch = Array.from({ length: tasks }, () => new Chan(0));
    // twin:end
    const t0 = now();
    // twin:begin
    const ps = ch.map((c, i) => member(c, ch[(i + 1) % tasks]));
    await ch[0].send(n);
    seen = (await Promise.all(ps)).reduce((a, b) => a + b, 0);
    // twin:end
    wall = now() - t0;
  }
  return { workload: 'micro.ring', tasks, size: n, wall_ns: wall, ops: n, checksum: seen };
});
