// echo.js: the Node.js twin of io.echo's server: a net echo server on 127.0.0.1, the same
// protocol as build/uv_echo, driven by `bench loadgen`.
//
//   node workloads/ref/node/echo.js [--port N] [--conns N]
//   node workloads/ref/node/echo.js --listen-fd FD --tasks N   (as bench's node-ref backend)
//   node workloads/ref/node/echo.js --listen-fd FD --tasks 0   (as bench serve runs it)
//
// --port: prints "port=<n>" once listening; exits after --conns connections have come and
// gone (0 = serve until SIGINT/SIGTERM). Each chunk is written back as it arrives (flowing
// mode). --listen-fd (or, run by the harness repetition after repetition, the listening
// socket that comes with each message, see common.js): accepts on the socket the harness
// hands over and, once --tasks connections are done, prints the report line of the other
// twins (checksum = bytes echoed). --tasks 0 prints "listening", serves until SIGINT/SIGTERM,
// then ends every connection and prints bytes echoed and connections served.
'use strict';
const net = require('net');
const { opt, now, main } = require('./common');

// Serve on `where` (a handle, {fd} or {host, port}) until `left` connections are done
// (0: until stop() is called); resolves to {bytes, conns} once the server and every
// connection are closed.
// Only the echo itself is the workload's code (twin:begin/end, scripts/cbtwins.py): not the
// connection set and stop() that bench serve needs, nor the count of connections it reports.
function serve(where, left, onListening) {
  // twin:begin
  let bytes = 0, conns = 0;
  // twin:end
  const open = new Set();
  // twin:begin
  const server = net.createServer((sock) => {
    // twin:end
    conns++;
    open.add(sock);
    // twin:begin
    sock.on('data', (chunk) => {
      bytes += chunk.length;
      sock.write(chunk);
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      // twin:end
      open.delete(sock);
      // twin:begin
      if (left > 0 && --left === 0) server.close();
    });
  });
  const done = new Promise((resolve) => server.on('close', () => resolve({ bytes, conns })));
  server.listen(where, () => onListening && onListening(server));
  // twin:end
  let stopped = false;
  const stop = () => {
    if (stopped) return; // SIGINT from a terminal and bench serve's SIGTERM both come
    stopped = true;
    server.close();
    for (const s of open) s.destroy();
  };
  return { done, stop };
}

if (opt('listen-fd', -1) < 0 && !process.send) {
  // standalone, on a port of its own (workloads/ref/c/echo_ref.sh)
  const s = serve({ host: '127.0.0.1', port: opt('port', 0), backlog: 511 }, opt('conns', 0), (server) =>
    process.stdout.write(`port=${server.address().port}\n`));
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, s.stop);
  s.done.then(() => process.exit(0));
} else {
  main(async (opt, handle) => {
    const tasks = opt('tasks', 100);
    const t0 = now();
    // --tasks 0: "listening" once the signal handlers are in (bench serve waits for it)
    const s = serve(handle || { fd: opt('listen-fd', -1) }, tasks, tasks === 0 ?
      () => process.stdout.write('listening\n') : null);
    if (tasks === 0)
      for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, s.stop);
    const { bytes, conns } = await s.done;
    if (tasks === 0) return { workload: 'io.echo', checksum: bytes, connections: conns };
    return { workload: 'io.echo', wall_ns: now() - t0, checksum: bytes };
  });
}
