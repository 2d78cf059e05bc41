#!/usr/bin/env node
// Issue 12, hole 6: how long a healthy client waits while another connection floods the server
// with compressed messages that each inflate to 1 MiB (about 1 KiB on the wire), riptide vs ws in
// the same run.
//
//   npm run build && node bench/attack-inflate-flood.mjs [--rounds 3] [--duration 10] [--attackers 1]
//                                                      [--dist DIR: another riptide build's dist/esm]
//
// Per round and per server (the order alternates between rounds, so drift on this shared
// machine hits both alike):
//   - the server (pinned to core 0): the library's WebSocketServer with perMessageDeflate: true,
//     echoing every message of at most 1 KiB (the healthy client's) and counting the flood's,
//     which it inflates and drops: the cost under test is inflating, not compressing echoes;
//   - the attackers (core 1): raw sockets that negotiate permessage-deflate and write ready-made
//     frames (RSV1, masked, 1 MiB of one byte value deflated to ~1 KiB) as fast as the server
//     reads them;
//   - after 1 s, the healthy client (core 1, `ws` without compression, a neutral client) sends a
//     32-byte message every 5 ms for --duration seconds and records each echo's round trip.
// Output: per server, the median over rounds of the healthy client's p50 / p99 / max round trip
// and of the flood's rate (MiB inflated per second); then riptide's p99 over ws's.
// ws runs with its native add-ons (bench/servers/common.mjs checks them).
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { constants, deflateRawSync } from 'node:zlib';

const SELF = fileURLToPath(import.meta.url);
const MiB = 1024 * 1024;
const { values: opts } = parseArgs({
  options: {
    role: { type: 'string' },
    impl: { type: 'string' },
    port: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    attackers: { type: 'string', default: '1' },
    dist: {
      type: 'string',
      default: fileURLToPath(new URL('../packages/riptide/dist/esm', import.meta.url)),
    },
  },
});

if (opts.role === 'server') await server(opts.impl);
else if (opts.role === 'attacker') attacker(Number(opts.port));
else if (opts.role === 'healthy') await healthy(Number(opts.port), Number(opts.duration));
else await main();

async function server(impl) {
  let WebSocketServer;
  if (impl === 'ws') {
    const { assertWsNativeAddons } = await import('./servers/common.mjs');
    assertWsNativeAddons();
    ({ WebSocketServer } = await import('ws'));
  } else {
    ({ WebSocketServer } = await import(`${opts.dist}/index.js`));
  }
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
  let flood = 0;
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      if (data.length <= 1024) ws.send(data, { binary: isBinary });
      else flood += data.length;
    });
  });
  wss.on('listening', () => process.stdout.write(`listening ${wss.address().port}\n`));
  process.once('SIGTERM', () => {
    process.stdout.write(`flood ${flood}\n`);
    process.exit(0);
  });
}

function attacker(port) {
  const payload = deflateRawSync(Buffer.alloc(MiB, 0x61), { finishFlush: constants.Z_SYNC_FLUSH });
  const body = payload.subarray(0, payload.length - 4); // RFC 7692 7.2.1: no 00 00 ff ff tail
  const header = Buffer.from([0xc2, 0x80 | 126, body.length >> 8, body.length & 0xff, 0, 0, 0, 0]);
  const frame = Buffer.concat([header, body]); // mask key 0: the payload goes as is
  const batch = Buffer.concat(Array.from({ length: 16 }, () => frame));
  const socket = connect(port, '127.0.0.1', () => {
    socket.write(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n',
    );
  });
  let upgraded = false;
  socket.on('data', (d) => {
    if (upgraded) return;
    if (!d.toString('latin1').includes('permessage-deflate')) {
      console.error('attacker: permessage-deflate not accepted');
      process.exit(1);
    }
    upgraded = true;
    const pump = () => {
      while (socket.write(batch));
    };
    socket.on('drain', pump);
    pump();
  });
  socket.on('error', (err) => {
    console.error(`attacker: ${err.message}`);
    process.exit(1);
  });
}

async function healthy(port, duration) {
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const sent = new Map();
  const rtts = [];
  ws.on('message', (data) => {
    const id = data.toString().slice(0, 8);
    const t0 = sent.get(id);
    if (t0 !== undefined) {
      rtts.push(performance.now() - t0);
      sent.delete(id);
    }
  });
  let n = 0;
  const timer = setInterval(() => {
    const id = String(n++).padStart(8, '0');
    sent.set(id, performance.now());
    ws.send(`${id}${'.'.repeat(24)}`);
  }, 5);
  await new Promise((resolve) => setTimeout(resolve, duration * 1000));
  clearInterval(timer);
  // Wait (up to 10 s) for the echoes still in flight: a stalled server's late answers count.
  const deadline = Date.now() + 10_000;
  while (sent.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const t0 of sent.values()) rtts.push(performance.now() - t0); // never answered: at least this
  ws.terminate();
  rtts.sort((a, b) => a - b);
  const q = (p) => rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))];
  process.stdout.write(
    `${JSON.stringify({ n: rtts.length, p50: q(0.5), p99: q(0.99), max: rtts.at(-1) })}\n`,
  );
}

function run(args, core) {
  const child = spawn('taskset', ['-c', String(core), process.execPath, SELF, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s) => (out += s));
  const line = (re) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const m = re.exec(out);
        if (m) resolve(m);
      };
      child.stdout.on('data', check);
      child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${out}`)));
      check();
    });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { child, line, exited, out: () => out };
}

async function measure(impl, duration, attackers) {
  const srv = run(['--role', 'server', '--impl', impl, '--dist', opts.dist], 0);
  const [, port] = await srv.line(/listening (\d+)/);
  const atk = Array.from({ length: attackers }, () => run(['--role', 'attacker', '--port', port], 1));
  await new Promise((r) => setTimeout(r, 1000));
  const start = performance.now();
  const h = run(['--role', 'healthy', '--port', port, '--duration', String(duration)], 1);
  const [json] = await h.line(/\{.*\}\n/);
  const seconds = (performance.now() - start) / 1000;
  for (const a of atk) a.child.kill('SIGKILL');
  srv.child.kill('SIGTERM');
  await srv.exited;
  const flood = Number(/flood (\d+)/.exec(srv.out())?.[1] ?? 0);
  return { ...JSON.parse(json), floodMiBps: flood / MiB / (seconds + 1) };
}

async function main() {
  const rounds = Number(opts.rounds);
  const duration = Number(opts.duration);
  const attackers = Number(opts.attackers);
  const results = { riptide: [], ws: [] };
  for (let round = 0; round < rounds; round++) {
    for (const impl of round % 2 === 0 ? ['riptide', 'ws'] : ['ws', 'riptide']) {
      const r = await measure(impl, duration, attackers);
      results[impl].push(r);
      console.log(
        `round ${round + 1} ${impl.padEnd(7)} healthy RTT p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ` +
          `max ${r.max.toFixed(1)} ms (${r.n} echoes); flood inflated ${r.floodMiBps.toFixed(0)} MiB/s`,
      );
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const summary = {};
  for (const impl of ['riptide', 'ws']) {
    const rs = results[impl];
    summary[impl] = {
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      max: median(rs.map((r) => r.max)),
      flood: median(rs.map((r) => r.floodMiBps)),
    };
    const s = summary[impl];
    console.log(
      `${impl.padEnd(7)} median of ${rounds}: p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, ` +
        `max ${s.max.toFixed(1)} ms; flood ${s.flood.toFixed(0)} MiB/s`,
    );
  }
  console.log(
    `riptide p99 / ws p99 = ${(summary.riptide.p99 / summary.ws.p99).toFixed(2)} (goal: at most 2)`,
  );
}
