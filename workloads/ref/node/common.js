// common.js: what the Node.js twins share: options, timing, the report line, a channel.
//
// Every twin runs the same algorithm as its C workload (workloads/<name>.c) with Node's own
// primitives: async functions for tasks, Promise.all for join, setImmediate for yield,
// timers/promises for sleep, and the Chan below for channels. Each prints one line:
//   workload=<name> tasks=<T> size=<S> wall_ns=<ns> ops=<n> checksum=<c> [extra=...]
'use strict';

function opt(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 && i + 1 < process.argv.length ? Number(process.argv[i + 1]) : def;
}

const now = () => process.hrtime.bigint();

function report(fields) {
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${v}`);
  process.stdout.write(parts.join(' ') + '\n');
}

// fib exactly as wl_fib (recursive, fib(0)=0, fib(1)=1).
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

// A channel with the task API's semantics: FIFO, capacity (0 = rendezvous: send resolves
// once a receiver took the element), close; recv resolves to {ok, value}.
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

module.exports = { opt, now, report, fib, Chan };
