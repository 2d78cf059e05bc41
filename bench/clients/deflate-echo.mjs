#!/usr/bin/env node
// Closed-loop load client for scenario 7: echo of 16 KiB JSON-like text messages with
// permessage-deflate on both sides. wsload has no deflate, so this client uses the ws client
// (with perMessageDeflate, ws's defaults) and is pinned to its own core by the runner.
//
//   node bench/clients/deflate-echo.mjs --url ws://127.0.0.1:PORT/ --conns 100 --size 16384 \
//        --warmup 2 --duration 5 --pid SERVER_PID
//
// Each connection keeps one message in flight: it sends a message and sends the next when the
// echo arrives. Every echo is compared with what was sent. The messages differ from each other
// (ids, numbers, names), as a real JSON feed does, so the compressor cannot just point back at
// the previous message.
//
// Prints one JSON line on stdout: msgs, msgs_per_s, mb_per_s (uncompressed payload, one
// direction), errors, the server's RSS before the connections and at the end of the measure
// window, rss_per_conn_kib, this client's CPU use (client_cpu_pct, % of one core) and the
// server's over the measure window (server_cpu_pct, from /proc/PID/stat).
// Exit status: 0 ok; 1 errors (mismatches, closed connections); 2 usage; 3 the server did not
// accept permessage-deflate (the runner reports "not available").
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { readCpuSeconds, readRss } from '../lib/proc.mjs';

export function parseArgs(argv) {
  const o = { url: null, conns: 100, size: 16384, warmup: 2, duration: 5, pid: 0, variants: 64 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[i + 1];
    if (!(k in o) || v === undefined) usage(`bad argument: ${argv[i]}`);
    o[k] = k === 'url' ? v : Number(v);
    if (k !== 'url' && !Number.isFinite(o[k])) usage(`bad number for --${k}: ${v}`);
  }
  if (!o.url || !/^ws:\/\/(127\.\d+\.\d+\.\d+|localhost)(:\d+)?\//.test(o.url))
    usage('--url ws://127.0.0.1:PORT/ required');
  return o;
}

function usage(msg) {
  console.error(`deflate-echo: ${msg}`);
  process.exit(2);
}

/** A deterministic pseudo-random generator (xorshift32), so every run sends the same messages. */
function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const WORDS = [
  'alpha',
  'bravo',
  'delta',
  'echo',
  'harbor',
  'ripple',
  'tide',
  'wave',
  'coral',
  'reef',
  'surf',
  'current',
];

/** A JSON array of records, exactly `size` bytes long (padded in the last record's note). */
export function jsonMessage(size, seed) {
  const r = rng(seed);
  const pick = () => WORDS[Math.floor(r() * WORDS.length)];
  const records = [];
  let id = seed * 1000;
  let text = '[]';
  for (;;) {
    const rec = {
      id: id++,
      user: `${pick()}_${Math.floor(r() * 1e6)}`,
      email: `${pick()}.${pick()}@example.com`,
      active: r() > 0.3,
      score: Math.round(r() * 1e6) / 100,
      tags: [pick(), pick(), pick()],
      created: new Date(1.7e12 + Math.floor(r() * 3e10)).toISOString(),
      note: '',
    };
    const next = JSON.stringify([...records, rec]);
    if (next.length > size - 16) break;
    records.push(rec);
    text = next;
  }
  // Pad to the exact size inside the last record's note field.
  const last = records[records.length - 1];
  last.note = 'x'.repeat(size - text.length);
  text = JSON.stringify(records);
  if (text.length !== size) throw new Error(`message is ${text.length} bytes, wanted ${size}`);
  return text;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const messages = Array.from({ length: o.variants }, (_, i) => jsonMessage(o.size, i + 1));
  const rssBefore = readRss(o.pid);
  let phase = 'ramp'; // ramp -> warmup -> measure -> done
  let msgs = 0;
  let errors = 0;
  const errorKinds = {};
  const error = (kind) => {
    errors++;
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };
  const sockets = [];

  const open = (i) =>
    new Promise((resolve) => {
      const ws = new WebSocket(o.url, { perMessageDeflate: true });
      let next = i % messages.length;
      let expected = null;
      const send = () => {
        expected = messages[next];
        next = (next + 1) % messages.length;
        ws.send(expected);
      };
      ws.on('open', () => {
        sockets.push(ws);
        resolve(ws);
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary || data.length !== expected.length || data.toString() !== expected) error('mismatch');
        else if (phase === 'measure') msgs++;
        if (phase !== 'done') send();
      });
      ws.on('error', () => error('error'));
      ws.on('close', () => {
        if (phase !== 'done') error('closed');
        resolve(null);
      });
      ws.start = send;
    });

  // Ramp: at most 64 handshakes at a time.
  for (let i = 0; i < o.conns; i += 64) {
    await Promise.all(Array.from({ length: Math.min(64, o.conns - i) }, (_, k) => open(i + k)));
  }
  if (sockets.length !== o.conns) {
    finish({ error: `only ${sockets.length} of ${o.conns} connections opened` }, 1);
    return;
  }
  const negotiated = sockets.every((ws) => ws.extensions.includes('permessage-deflate'));
  if (!negotiated) {
    for (const ws of sockets) ws.terminate();
    finish({ error: 'the server did not accept permessage-deflate' }, 3);
    return;
  }

  phase = 'warmup';
  for (const ws of sockets) ws.start();
  await new Promise((r) => setTimeout(r, o.warmup * 1000));
  phase = 'measure';
  const cpu0 = process.cpuUsage();
  const serverCpu0 = readCpuSeconds(o.pid);
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, o.duration * 1000));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = cpuSince(serverCpu0, o.pid);
  const counted = msgs;
  const rssLoaded = readRss(o.pid);
  phase = 'done';
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise((r) => {
          ws.once('close', r);
          ws.close(1000);
          setTimeout(() => {
            ws.terminate();
            r();
          }, 2000).unref();
        }),
    ),
  );
  finishRun(o, { seconds, counted, rssBefore, rssLoaded, errors, errorKinds, cpu, serverCpu });
}

/** The server's CPU seconds since `before` (a readCpuSeconds value), or null. */
export function cpuSince(before, pid) {
  const now = readCpuSeconds(pid);
  return before == null || now == null ? null : now - before;
}

/** The one JSON line both scenario-7 clients print at the end of a run; exit 1 on errors. */
export function finishRun(o, run, extra = {}) {
  const { seconds, counted, rssBefore, rssLoaded, errors, errorKinds, cpu, serverCpu } = run;
  const rssPerConn = rssBefore != null && rssLoaded != null ? (rssLoaded - rssBefore) / o.conns / 1024 : null;
  finish(
    {
      ...extra,
      conns: o.conns,
      size: o.size,
      duration_s: Number(seconds.toFixed(3)),
      msgs: counted,
      msgs_per_s: counted / seconds,
      mb_per_s: (counted * o.size) / seconds / 1e6,
      rss_before: rssBefore,
      rss_loaded: rssLoaded,
      rss_per_conn_kib: rssPerConn,
      errors,
      ...(errors ? { error_kinds: errorKinds, error: `errors: ${JSON.stringify(errorKinds)}` } : {}),
      client_cpu_pct: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
      ...(serverCpu == null ? {} : { server_cpu_pct: (serverCpu / seconds) * 100 }),
    },
    errors ? 1 : 0,
  );
}

export function finish(result, code) {
  process.stdout.write(`${JSON.stringify({ mode: 'deflate-echo', ...result })}\n`);
  process.exitCode = code;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
