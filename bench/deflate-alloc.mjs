// Bytes of ArrayBuffer memory a riptide server allocates per permessage-deflate echo: scenario 7's
// message (16 KiB of JSON-like text, the client offering client_no_context_takeover), counted,
// not timed. Scenario 7's RSS under load is mostly these Buffers waiting for V8's next scavenge,
// so fewer bytes per echo is less RSS per connection.
//
//   node bench/deflate-alloc.mjs [--lib NAME=DIR ...] [--echoes 1000] [--warmup 500] [--sites]
//
// Each --lib (default: this checkout's packages/riptide) is a directory holding riptide's
// package.json and dist/. For each, a child server (node --expose-gc --trace-gc, a 64 MiB young
// generation so no scavenge runs during the window) echoes with `perMessageDeflate: true`; this
// process is the client: one raw connection, one message in flight, its requests compressed and
// masked once before the run. 100 echoes before --warmup ends the server forces a full GC; at its
// end it reads process.memoryUsage(), and after --echoes more it reads it again. The growth of arrayBuffers (and
// external) divided by the echoes is the bytes allocated per echo: nothing was collected in
// between (the child's --trace-gc lines are counted to prove it; the result says `gcs`).
// --sites also counts, in the server, the bytes asked of Buffer.allocUnsafe, allocUnsafeSlow,
// alloc, from and concat per echo by caller (the JavaScript allocations; zlib's and the socket's
// native ones show only in arrayBuffers).
//
// One JSON line per library.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { constants, deflateRawSync } from 'node:zlib';
import { jsonMessage } from './clients/deflate-echo.mjs';

const here = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1];
};

if (args[0] === '--child') await child(args[1], Number(args[2]), Number(args[3]), args[4] === 'sites');
else await main();

// The full GC runs this many echoes before the window opens: V8 frees the dead ArrayBuffers'
// memory on a background thread after a GC, which would otherwise shrink arrayBuffers inside it.
const SETTLE = 100;

async function child(dir, warmup, echoes, sites) {
  const { WebSocketServer } = await import(pathToFileURL(join(dir, 'dist/esm/index.js')).href);
  const counts = new Map();
  let counting = false;
  if (sites) {
    for (const name of ['allocUnsafe', 'allocUnsafeSlow', 'alloc', 'from', 'concat']) {
      const original = Buffer[name];
      Buffer[name] = function (...a) {
        const b = original.apply(this, a);
        if (counting && Buffer.isBuffer(b)) {
          const frame =
            new Error().stack
              .split('\n')[2]
              ?.trim()
              .replace(/\(.*\/dist\/esm\//, '(') ?? '?';
          const key = `${name} ${frame}`;
          const c = counts.get(key) ?? { calls: 0, bytes: 0 };
          c.calls++;
          c.bytes += b.length;
          counts.set(key, c);
        }
        return b;
      };
    }
  }
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
  let n = 0;
  let before;
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      n++;
      if (n === warmup - SETTLE) {
        globalThis.gc();
      } else if (n === warmup) {
        before = process.memoryUsage();
        counting = true;
        console.log('MARK start');
      } else if (n === warmup + echoes) {
        counting = false;
        const after = process.memoryUsage();
        console.log('MARK end');
        const perEcho = (k) => Math.round((after[k] - before[k]) / echoes);
        const bySite = [...counts]
          .map(([site, c]) => ({ site, calls: c.calls / echoes, bytes: Math.round(c.bytes / echoes) }))
          .sort((a, b) => b.bytes - a.bytes);
        console.log(
          `RESULT ${JSON.stringify({ arrayBuffers: perEcho('arrayBuffers'), external: perEcho('external'), heapUsed: perEcho('heapUsed'), ...(sites ? { bySite } : {}) })}`,
        );
      }
      ws.send(data, { binary: isBinary });
    });
  });
  wss.on('listening', () => console.log(`PORT ${wss.address().port}`));
  process.on('SIGTERM', () => process.exit(0));
}

/** One request frame: compressed without context (tail removed), RSV1 + FIN + text, masked. */
function requestFrame(text) {
  const full = deflateRawSync(Buffer.from(text), { finishFlush: constants.Z_SYNC_FLUSH });
  const payload = full.subarray(0, full.length - 4);
  const len = payload.length;
  const head = len < 126 ? 2 : 4;
  const frame = Buffer.alloc(head + 4 + len);
  frame[0] = 0xc1;
  if (len < 126) frame[1] = 0x80 | len;
  else {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  }
  const mask = randomBytes(4);
  mask.copy(frame, head);
  for (let i = 0; i < len; i++) frame[head + 4 + i] = payload[i] ^ mask[i & 3];
  return frame;
}

async function measure(name, dir, warmup, echoes, sites) {
  const server = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--trace-gc',
      '--min-semi-space-size=64',
      '--max-semi-space-size=64',
      here,
      '--child',
      dir,
      String(warmup),
      String(echoes),
      sites ? 'sites' : '',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let inWindow = false;
  let gcs = 0;
  let result = null;
  const port = await new Promise((res, rej) => {
    server.on('exit', (code) => rej(new Error(`server exited ${code}`)));
    createInterface({ input: server.stdout }).on('line', (line) => {
      if (line.startsWith('PORT ')) res(Number(line.slice(5)));
      else if (line === 'MARK start') inWindow = true;
      else if (line === 'MARK end') inWindow = false;
      else if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7));
      else if (inWindow && /Scavenge|Mark-Compact|Minor/.test(line)) gcs++;
    });
  });
  const frames = Array.from({ length: 8 }, (_, i) => requestFrame(jsonMessage(16384, i + 1)));
  const total = warmup + echoes + 2;
  await new Promise((res, rej) => {
    const sock = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    let sent = 0;
    const next = () => {
      if (sent === total) return sock.end(res);
      sock.write(frames[sent++ % frames.length]);
    };
    sock.on('error', rej);
    sock.on('connect', () =>
      sock.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits\r\n\r\n`,
      ),
    );
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        if (!/permessage-deflate/i.test(buf.subarray(0, end).toString()))
          rej(new Error('no permessage-deflate'));
        upgraded = true;
        buf = buf.subarray(end + 4);
        next();
      }
      for (;;) {
        if (buf.length < 2) return;
        let len = buf[1] & 0x7f;
        let head = 2;
        if (len === 126) {
          if (buf.length < 4) return;
          len = buf.readUInt16BE(2);
          head = 4;
        } else if (len === 127) {
          if (buf.length < 10) return;
          len = Number(buf.readBigUInt64BE(2));
          head = 10;
        }
        if (buf.length < head + len) return;
        buf = buf.subarray(head + len);
        next();
      }
    });
  });
  await new Promise((r) => setTimeout(r, 200));
  server.kill('SIGTERM');
  return { lib: name, echoes, gcs, ...result };
}

async function main() {
  const libs = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--lib') {
      const [name, dir] = args[++i].split('=');
      libs.push([name, resolve(dir)]);
    }
  }
  if (libs.length === 0) libs.push(['this', join(dirname(here), '..', 'packages', 'riptide')]);
  const warmup = Number(opt('warmup', '500'));
  const echoes = Number(opt('echoes', '1000'));
  for (const [name, dir] of libs) {
    console.log(JSON.stringify(await measure(name, dir, warmup, echoes, args.includes('--sites'))));
  }
}
