// echo.js: the Node.js twin of io.echo's server: a net echo server on 127.0.0.1, the same
// protocol as build/uv_echo, driven by `bench loadgen`.
//
//   node workloads/ref/node/echo.js [--port N] [--conns N]
//   node workloads/ref/node/echo.js --listen-fd FD --tasks N   (as bench's node-ref backend)
//
// Prints "port=<n>" once listening; exits after --conns connections have come and gone
// (0 = serve until SIGINT/SIGTERM). Each chunk is written back as it arrives (flowing mode).
// With --listen-fd it accepts on the socket the harness hands over and, at the end, prints
// the report line of the other twins (checksum = bytes echoed).
'use strict';
const net = require('net');

function opt(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? Number(process.argv[i + 1]) : def;
}

const port = opt('--port', 0);
const fd = opt('--listen-fd', -1);
let left = fd >= 0 ? opt('--tasks', 0) : opt('--conns', 0);
let bytes = 0;
const t0 = process.hrtime.bigint();

const server = net.createServer((sock) => {
  sock.on('data', (chunk) => {
    bytes += chunk.length;
    sock.write(chunk);
  });
  sock.on('error', () => sock.destroy());
  sock.on('close', () => {
    if (left > 0 && --left === 0) server.close();
  });
});
if (fd >= 0) {
  server.on('close', () => {
    const wall = process.hrtime.bigint() - t0;
    process.stdout.write(`workload=io.echo wall_ns=${wall} checksum=${bytes}\n`);
  });
  server.listen({ fd });
} else {
  server.listen({ host: '127.0.0.1', port, backlog: 511 }, () => {
    process.stdout.write(`port=${server.address().port}\n`);
  });
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)));
