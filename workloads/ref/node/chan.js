// chan.js: twin of micro.chan: cap=0: ping-pong round trips over two rendezvous channels;
// cap>0: a producer streams n values through one buffered channel to a consumer.
//   node chan.js [--size 100000] [--cap 0]
'use strict';
const { now, Chan, main } = require('./common');
let n;

// twin:begin
async function ping(a, b) {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    await a.send(i);
    const r = await b.recv();
    sum += r.value === i + 1 ? r.value : 0;
  }
  a.close();
  return sum;
}

async function pong(a, b) {
  for (;;) {
    const r = await a.recv();
    if (!r.ok) return 0;
    await b.send(r.value + 1);
  }
}

async function producer(a) {
  for (let i = 0; i < n; i++) await a.send(i);
  a.close();
  return 0;
}

async function consumer(a) {
  let sum = 0;
  for (;;) {
    const r = await a.recv();
    if (!r.ok) return sum;
    sum += r.value;
  }
}
// twin:end

main(async (opt) => {
  n = opt('size', 100000);
  const cap = opt('cap', 0);
  const t0 = now();
  // twin:begin
  // twin:uses Chan
  const a = new Chan(cap);
  let sum;
  if (cap === 0) {
    const b = new Chan(0);
    const p = pong(a, b);
    sum = await ping(a, b);
    await p;
  } else {
    const c = consumer(a);
    await producer(a);
    sum = await c;
  }
  // twin:end
  const wall = now() - t0;
  return { workload: 'micro.chan', tasks: 2, size: n, cap, wall_ns: wall, ops: n, checksum: sum };
});
