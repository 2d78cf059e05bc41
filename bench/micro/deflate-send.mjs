// The cost of one compressed send() on a server-side WebSocket, for small messages (the path
// that must not slow down when large messages are compressed in slices): a riptide server with
// permessage-deflate, one raw TCP client that negotiated it and discards what it reads, and
// batches of send() calls timed with process.cpuUsage() around the synchronous loop (where
// compression happens), each batch then flushed and written before the next one. Prints the
// median CPU microseconds per send over the batches, for each size and both context settings.
//
//   node bench/micro/deflate-send.mjs [BATCHES] [ENTRY...]
//
// ENTRY: riptide builds to load (default: the package by name). With two (e.g. a copy of an
// older dist, /tmp/base/dist/esm/index.js, and `riptide`), both run in this one process and
// their batches alternate, so a busy machine disturbs both alike: a before/after comparison.
import { createHash } from 'node:crypto';
import * as net from 'node:net';

const BATCHES = Number(process.argv[2] ?? 300);
const entries = process.argv.length > 3 ? process.argv.slice(3) : ['riptide'];
const PER_BATCH = 50;
const WARMUP = 20;
const builds = [];
for (const entry of entries) builds.push({ entry, lib: await import(entry) });

function message(size) {
  let s = '';
  for (let i = 0; s.length < size; i++)
    s += `{"id":${i},"type":"chat","user":"ada","text":"hello world ${i % 7}"},`;
  return Buffer.from(s.slice(0, size));
}

async function connect(port) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const key = `${createHash('sha1').update(String(Math.random())).digest('base64').slice(0, 22)}==`;
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      'Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n',
  );
  socket.on('data', () => {}); // discard
  return socket;
}

async function open(lib, serverNoContextTakeover) {
  const wss = new lib.WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: { serverNoContextTakeover },
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  const connected = new Promise((resolve) => wss.once('connection', resolve));
  const client = await connect(wss.address().port);
  const ws = await connected;
  if (ws.extensions !== 'permessage-deflate') throw new Error('permessage-deflate not negotiated');
  return { wss, client, ws, samples: [] };
}

/** One batch: CPU microseconds per send; then the batch is flushed and written. */
async function batch(ws, msg) {
  const start = process.cpuUsage();
  for (let i = 0; i < PER_BATCH; i++) ws.send(msg);
  const used = process.cpuUsage(start);
  await new Promise((resolve) => ws.send('', resolve));
  return (used.user + used.system) / PER_BATCH;
}

for (const takeover of [false, true]) {
  for (const size of [1024, 16384]) {
    const msg = message(size);
    const runs = [];
    for (const { lib } of builds) runs.push(await open(lib, !takeover));
    for (let b = 0; b < BATCHES + WARMUP; b++) {
      for (const run of runs) {
        const us = await batch(run.ws, msg);
        if (b >= WARMUP) run.samples.push(us);
      }
    }
    for (let i = 0; i < runs.length; i++) {
      const { wss, client, samples } = runs[i];
      client.destroy();
      await new Promise((resolve) => wss.close(resolve));
      samples.sort((a, c) => a - c);
      const median = samples[samples.length >> 1];
      console.log(
        `${(size / 1024).toString().padStart(2)} KiB, context takeover ${takeover ? 'on ' : 'off'}, ${builds[i].entry}: ${median.toFixed(1)} us CPU per send (median of ${BATCHES} batches of ${PER_BATCH})`,
      );
    }
  }
}
