// Retained JavaScript heap per idle connection, for a riptide (or ws) server, measured with the
// garbage collector run to completion before and after N connections are opened.
//
//   node bench/idle-heap.mjs [--conns 5000] [--lib riptide|ws]
//
// The script forks itself: the child is the server (run with --expose-gc), this process opens N
// raw TCP connections and completes a WebSocket handshake on each (no client library, so only the
// server's heap is in the figure), then asks the server to measure and prints one JSON line:
//   { lib, conns, heapBefore, heapWith, heapPerConn, externalPerConn, rssPerConn }
// Unlike scenario 5 of the benchmark (RSS, which includes the kernel's socket buffers and the
// allocator's slack), this counts only what the library's objects cost, with little noise.
import { fork } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1];
};
const conns = Number(opt('conns', '5000'));
const lib = opt('lib', 'riptide');

if (process.env.IDLE_HEAP_SERVER === '1') {
  const mod = lib === 'ws' ? await import('ws') : await import('riptide');
  const { WebSocketServer } = mod;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  // The listeners a typical server adds (the benchmark's echo server does the same).
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const settle = async () => {
    for (let i = 0; i < 6; i++) {
      globalThis.gc();
      await new Promise((r) => setImmediate(r));
    }
    return process.memoryUsage();
  };
  let before;
  wss.on('listening', async () => {
    before = await settle();
    process.send({ port: wss.address().port });
  });
  process.on('message', async (msg) => {
    if (msg !== 'measure') return;
    const withConns = await settle();
    const n = wss.clients.size;
    process.send({
      lib,
      conns: n,
      heapBefore: before.heapUsed,
      heapWith: withConns.heapUsed,
      heapPerConn: Math.round((withConns.heapUsed - before.heapUsed) / n),
      externalPerConn: Math.round((withConns.external - before.external) / n),
      rssPerConn: Math.round((withConns.rss - before.rss) / n),
    });
  });
} else {
  const child = fork(fileURLToPath(import.meta.url), args, {
    execArgv: ['--expose-gc'],
    env: { ...process.env, IDLE_HEAP_SERVER: '1' },
  });
  const { port } = await new Promise((r) => child.once('message', r));
  const request =
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  const sockets = [];
  const open = () =>
    new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write(request));
      s.once('data', (d) =>
        d.toString('latin1').startsWith('HTTP/1.1 101') ? resolve(s) : reject(new Error(String(d))),
      );
      s.once('error', reject);
    });
  // 100 handshakes at a time (the listen backlog is not the subject here).
  for (let i = 0; i < conns; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(conns, i + 100); j++) batch.push(open());
    sockets.push(...(await Promise.all(batch)));
  }
  child.send('measure');
  const result = await new Promise((r) => child.once('message', r));
  console.log(JSON.stringify(result));
  for (const s of sockets) s.destroy();
  child.kill();
}
