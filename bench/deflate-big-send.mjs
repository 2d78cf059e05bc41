// How long one large compressed send() holds the event loop: a riptide server with
// permessage-deflate sends one compressible message of SIZE MiB to a raw TCP client that
// negotiated it and discards what it reads. Prints the time spent inside send(), the longest gap
// and median gap between two turns of the event loop (setImmediate callbacks, the first gap
// counted from the call to send(), the last up to the write callback), and the turns made.
//
//   node bench/deflate-big-send.mjs [SIZE_MIB] [ENTRY]
//
// ENTRY: the riptide build to load (default: the package by name), e.g. a copy of an older dist
// to compare with.
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';

const SIZE = Number(process.argv[2] ?? 20) * 1024 * 1024;
const entry = process.argv[3] ?? 'riptide';
const { WebSocketServer } = await import(entry);

const big = Buffer.alloc(SIZE);
const line = Buffer.from('{"id":12345,"user":"ada","text":"a large and very compressible message"}\n');
for (let at = 0; at < big.length; at += line.length) line.copy(big, at);

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
await new Promise((resolve) => wss.once('listening', resolve));
const connected = new Promise((resolve) => wss.once('connection', resolve));
const socket = net.connect(wss.address().port, '127.0.0.1');
await new Promise((resolve) => socket.once('connect', resolve));
const key = `${createHash('sha1').update('k').digest('base64').slice(0, 22)}==`;
socket.write(
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
    'Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n',
);
socket.on('data', () => {});
const ws = await connected;

let turns = 0;
let counting = true;
let last = 0;
const gaps = [];
const tick = () => {
  const now = performance.now();
  gaps.push(now - last);
  last = now;
  turns++;
  if (counting) setImmediate(tick);
};
const t0 = performance.now();
last = t0;
const written = new Promise((resolve) => ws.send(big, resolve));
const inSend = performance.now() - t0;
setImmediate(tick);
await written;
const total = performance.now() - t0;
counting = false;
gaps.push(performance.now() - last); // up to the write: the whole send when the loop never turned
gaps.sort((a, b) => a - b);
const longest = gaps[gaps.length - 1];
const median = gaps[gaps.length >> 1];
console.log(
  `${SIZE / 1024 / 1024} MiB: ${inSend.toFixed(1)} ms inside send(), ${total.toFixed(1)} ms until written, ` +
    `gaps between turns: longest ${longest.toFixed(1)} ms, median ${median.toFixed(1)} ms; ${turns} turns meanwhile (${entry})`,
);
socket.destroy();
wss.close();
