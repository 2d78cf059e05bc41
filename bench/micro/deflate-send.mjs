// The cost of one compressed send() on a server-side WebSocket, for small messages (the path
// that must not slow down when large messages are compressed in slices): a riptide server with
// permessage-deflate, one raw TCP client that negotiated it and discards what it reads, and
// batches of send() calls timed with process.cpuUsage() around the synchronous loop (where
// compression happens), the batch then flushed and written before the next one. Prints the
// median CPU microseconds per send over the batches, for each size and both context settings.
//
//   node bench/micro/deflate-send.mjs [RIPTIDE_ENTRY] [BATCHES]
//
// RIPTIDE_ENTRY: the riptide build to load (default: the package by name); pass a copy of an
// older dist (e.g. /tmp/base/dist/esm/index.js) to compare before and after a change, and run
// the two alternately, several times, on a busy machine.
import { createHash } from 'node:crypto';
import * as net from 'node:net';

const entry = process.argv[2] ?? 'riptide';
const BATCHES = Number(process.argv[3] ?? 200);
const PER_BATCH = 50;
const { WebSocketServer } = await import(entry);

function message(size) {
  let s = '';
  for (let i = 0; s.length < size; i++)
    s += `{"id":${i},"type":"chat","user":"ada","text":"hello world ${i % 7}"},`;
  return Buffer.from(s.slice(0, size));
}

async function connect(port) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const key = createHash('sha1').update(String(Math.random())).digest('base64').slice(0, 22) + '==';
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      'Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n',
  );
  socket.on('data', () => {}); // discard
  return socket;
}

async function run(serverNoContextTakeover, size) {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: { serverNoContextTakeover },
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  const connected = new Promise((resolve) => wss.once('connection', resolve));
  const client = await connect(wss.address().port);
  const ws = await connected;
  if (ws.extensions !== 'permessage-deflate') throw new Error('permessage-deflate not negotiated');
  const msg = message(size);
  const samples = [];
  for (let b = 0; b < BATCHES + 10; b++) {
    const start = process.cpuUsage();
    for (let i = 0; i < PER_BATCH; i++) ws.send(msg);
    const used = process.cpuUsage(start);
    if (b >= 10) samples.push((used.user + used.system) / PER_BATCH); // 10 batches of warm-up
    // Let the batch be flushed and written.
    await new Promise((resolve) => ws.send('', resolve));
  }
  client.destroy();
  await new Promise((resolve) => wss.close(resolve));
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

for (const takeover of [false, true]) {
  for (const size of [1024, 16384]) {
    const us = await run(!takeover, size);
    console.log(
      `${(size / 1024).toString().padStart(2)} KiB, context takeover ${takeover ? 'on ' : 'off'}: ${us.toFixed(1)} us CPU per send (median of ${BATCHES} batches of ${PER_BATCH})`,
    );
  }
}
