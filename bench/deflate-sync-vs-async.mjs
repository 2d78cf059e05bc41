// Measures the cost of compressing + decompressing one small message with zlib, three ways:
//   sync-handle : a persistent raw deflate/inflate context driven synchronously through the
//                 zlib handle's writeSync (what src/deflate/codec.ts does)
//   async-stream: a persistent zlib stream driven with write() + flush(Z_SYNC_FLUSH, cb)
//                 (how ws does it; every message costs a threadpool round trip)
//   sync-oneshot: zlib.deflateRawSync / inflateRawSync per message (a new context each time;
//                 no context takeover)
// Run: node bench/deflate-sync-vs-async.mjs
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';

const { Z_SYNC_FLUSH } = zlib.constants;
const SIZES = [64, 256, 1024, 4096, 16384];
const TIME_MS = Number(process.env.BENCH_MS ?? 400);

function makeMessage(size) {
  // Half-compressible text: JSON-like records with random ids.
  let s = '';
  while (s.length < size)
    s += `{"id":"${randomBytes(4).toString('hex')}","type":"chat","text":"hello world"},`;
  return Buffer.from(s.slice(0, size));
}

function syncContext(kind) {
  const stream = kind === 'deflate' ? zlib.createDeflateRaw() : zlib.createInflateRaw();
  const handle = stream._handle;
  const state = stream._writeState;
  handle.onerror = (message) => {
    throw new Error(message);
  };
  const scratch = Buffer.allocUnsafe(64 * 1024);
  return (input) => {
    const chunks = [];
    let inOff = 0;
    let inLen = input.length;
    for (;;) {
      handle.writeSync(Z_SYNC_FLUSH, input, inOff, inLen, scratch, 0, scratch.length);
      const produced = scratch.length - state[0];
      chunks.push(Buffer.from(scratch.subarray(0, produced)));
      inOff += inLen - state[1];
      inLen = state[1];
      if (state[0] !== 0) break;
    }
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  };
}

function asyncContext(kind) {
  const stream = kind === 'deflate' ? zlib.createDeflateRaw() : zlib.createInflateRaw();
  let chunks = [];
  stream.on('data', (c) => chunks.push(c));
  return (input) =>
    new Promise((resolve) => {
      stream.write(input);
      stream.flush(Z_SYNC_FLUSH, () => {
        const out = Buffer.concat(chunks);
        chunks = [];
        resolve(out);
      });
    });
}

const TAIL = Buffer.from([0, 0, 0xff, 0xff]);

async function measure(name, size, fn) {
  const msg = makeMessage(size);
  const end = performance.now() + TIME_MS;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) await fn(msg);
    n += 50;
  }
  const usPerMsg = (TIME_MS * 1000) / n;
  return { name, size, usPerMsg };
}

const results = [];
for (const size of SIZES) {
  {
    const d = syncContext('deflate');
    const i = syncContext('inflate');
    results.push(
      await measure('sync-handle', size, (m) => {
        const c = d(m);
        i(Buffer.concat([c.subarray(0, c.length - 4), TAIL]));
      }),
    );
  }
  {
    const d = asyncContext('deflate');
    const i = asyncContext('inflate');
    results.push(
      await measure('async-stream', size, async (m) => {
        const c = await d(m);
        await i(Buffer.concat([c.subarray(0, c.length - 4), TAIL]));
      }),
    );
  }
  results.push(
    await measure('sync-oneshot', size, (m) => {
      const c = zlib.deflateRawSync(m, { finishFlush: Z_SYNC_FLUSH });
      zlib.inflateRawSync(Buffer.concat([c.subarray(0, c.length - 4), TAIL]), { finishFlush: Z_SYNC_FLUSH });
    }),
  );
}
console.log(`node ${process.version}, round trip (compress + decompress) per message, microseconds:`);
console.log('size     sync-handle  async-stream  sync-oneshot');
for (const size of SIZES) {
  const row = results.filter((r) => r.size === size).map((r) => r.usPerMsg.toFixed(1).padStart(12));
  console.log(`${String(size).padEnd(7)}${row.join('  ')}`);
}
