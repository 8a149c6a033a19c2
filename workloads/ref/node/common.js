// common.js: what the Node.js twins share: options, timing, the report line, a channel, and
// the loop that runs a twin's repetitions inside one process.
//
// Every twin runs the same algorithm as its C workload (workloads/<name>.c) with Node's own
// primitives: async functions for tasks, Promise.all for join, setImmediate for yield,
// timers/promises for sleep, and the Chan below for channels. Each is a function of one
// repetition, main(run): run(opt, handle) resolves to the fields of one report line:
//   workload=<name> tasks=<T> size=<S> wall_ns=<ns> ops=<n> checksum=<c> [extra=...]
//
// One process, many repetitions (as the C harness runs a cell): the harness
// (runners/backend_ext.c) starts the twin once per cell process with an IPC channel
// (NODE_CHANNEL_FD, Node's own, JSON messages) and sends one message per repetition,
// {args: [...]}; a listening socket (io.echo, mix.convoy) comes as the message's handle. The
// twin answers with its report line on stdout. So the warm-up repetitions run the same code
// in the same process as the measured ones: V8 has compiled and optimised it, the heap has
// grown. Without a channel the twin runs once from its command line.
'use strict';

let argv = process.argv.slice(2); // this repetition's arguments

function opt(name, def) {
  const i = argv.indexOf('--' + name);
  return i >= 0 && i + 1 < argv.length ? Number(argv[i + 1]) : def;
}

// A string option (io.file's --dir), or undefined.
function optString(name) {
  const i = argv.indexOf('--' + name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : undefined;
}

const now = () => process.hrtime.bigint();

function report(fields) {
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${v}`);
  process.stdout.write(parts.join(' ') + '\n');
}

// fib exactly as wl_fib (recursive, fib(0)=0, fib(1)=1).
// twin:begin fib
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
// twin:end

// A channel with the task API's semantics: FIFO, capacity (0 = rendezvous: send resolves
// once a receiver took the element), close; recv resolves to {ok, value}.
// twin:begin Chan
class Chan {
  constructor(cap) {
    this.cap = cap;
    this.buf = [];
    this.senders = []; // {value, resolve}
    this.receivers = []; // resolve
    this.closed = false;
  }
  send(value) {
    if (this.closed) throw new Error('send on a closed channel');
    const r = this.receivers.shift();
    if (r) {
      r({ ok: true, value });
      return Promise.resolve();
    }
    if (this.buf.length < this.cap) {
      this.buf.push(value);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.senders.push({ value, resolve }));
  }
  recv() {
    if (this.buf.length) {
      const value = this.buf.shift();
      const s = this.senders.shift();
      if (s) {
        this.buf.push(s.value);
        s.resolve();
      }
      return Promise.resolve({ ok: true, value });
    }
    const s = this.senders.shift();
    if (s) {
      s.resolve();
      return Promise.resolve({ ok: true, value: s.value });
    }
    if (this.closed) return Promise.resolve({ ok: false });
    return new Promise((resolve) => this.receivers.push(resolve));
  }
  close() {
    this.closed = true;
    for (const r of this.receivers.splice(0)) r({ ok: false });
  }
}
// twin:end

// Run the twin: once from the command line, or once per message of the harness's channel,
// one at a time (the harness waits for each report before it sends the next).
function main(run) {
  if (!process.send) {
    run(opt, null).then(report);
    return;
  }
  let queue = Promise.resolve();
  process.on('message', (msg, handle) => {
    queue = queue.then(async () => {
      argv = msg.args.map(String);
      report(await run(opt, handle || null));
    });
  });
}

module.exports = { opt, optString, now, report, fib, Chan, main };

// wl_fill: xorshift64 from seed*golden+1, one byte per step (cpu.hash buffers, io.pipe
// messages), in BigInt only for the seed's product; the steps run on two 32-bit halves.
function fill(buf, seed) {
  const x0 = BigInt.asUintN(64, BigInt(seed) * 0x9e3779b97f4a7c15n + 1n);
  let hi = Number(x0 >> 32n) >>> 0, lo = Number(x0 & 0xffffffffn) >>> 0;
  for (let i = 0; i < buf.length; i++) {
    // x ^= x << 13
    hi = (hi ^ ((hi << 13) | (lo >>> 19))) >>> 0;
    lo = (lo ^ (lo << 13)) >>> 0;
    // x ^= x >> 7
    lo = (lo ^ ((lo >>> 7) | (hi << 25))) >>> 0;
    hi = (hi ^ (hi >>> 7)) >>> 0;
    // x ^= x << 17
    hi = (hi ^ ((hi << 17) | (lo >>> 15))) >>> 0;
    lo = (lo ^ (lo << 17)) >>> 0;
    buf[i] = lo & 0xff;
  }
}

// Reads of exactly n bytes from a stream (a socket): chunks are queued as they arrive.
class Reader {
  constructor(stream) {
    this.chunks = [];
    this.have = 0;
    this.want = null; // {n, resolve}
    this.ended = false;
    stream.on('data', (c) => {
      this.chunks.push(c);
      this.have += c.length;
      this.settle();
    });
    stream.on('end', () => {
      this.ended = true;
      this.settle();
    });
  }
  settle() {
    const w = this.want;
    if (!w || (this.have < w.n && !this.ended)) return;
    this.want = null;
    const all = Buffer.concat(this.chunks);
    const n = Math.min(w.n, all.length);
    this.chunks = n < all.length ? [all.subarray(n)] : [];
    this.have = all.length - n;
    w.resolve(all.subarray(0, n));
  }
  read(n) {
    return new Promise((resolve) => {
      this.want = { n, resolve };
      this.settle();
    });
  }
}

module.exports.fill = fill;
module.exports.Reader = Reader;
