#!/usr/bin/env node
// The chat on 1, 2 and 3 nodes sharing one Redis: a room of 100 clients spread evenly over the
// nodes, 10 of them sending. Reports delivered messages per second (message events received by all
// clients together) and end-to-end latency (send -> each receiver), p50 and p99.
//
//   npm run build && node bench/chat-nodes.mjs [--nodes 1,2,3] [--clients 100] [--senders 10]
//        [--seconds 5] [--rate 100] [--window 8] [--fsync always|everysec]
//
// Two runs per node count:
//   saturated  each sender keeps `window` messages unacknowledged in flight (closed loop): the most
//              the nodes deliver on this machine; latency is then mostly queueing.
//   paced      the senders together offer `rate` messages/s (x clients deliveries/s): latency when
//              the system is not saturated.
// Every node, Redis and the clients run on this one machine (the clients are this process), so
// adding nodes adds processes competing for the same cores: read the numbers with that in mind.
// Starts its own redis-server (temporary directory, AOF, appendfsync as given) and stops it after.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1,2,3' },
    clients: { type: 'string', default: '100' },
    senders: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '5' },
    rate: { type: 'string', default: '100' },
    window: { type: 'string', default: '8' },
    fsync: { type: 'string', default: 'always' },
  },
});
const NODE_COUNTS = values.nodes.split(',').map(Number);
const CLIENTS = Number(values.clients);
const SENDERS = Number(values.senders);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const WINDOW = Number(values.window);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const children = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'riptide-bench-redis-'));
  const port = await freePort();
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'].concat(
      ['--appendfsync', values.fsync],
    ),
    { stdio: 'ignore' },
  );
  children.push(proc);
  const { connect } = await import('node:net');
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.on('connect', () => s.write('PING\r\n'));
      s.on('data', (d) => {
        s.destroy();
        resolve(String(d).startsWith('+PONG'));
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    await sleep(50);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function startNode(url) {
  const opts = {
    redis: { url },
    limits: { rateBurst: 1e6, ratePerSecond: 1e6 },
    loginBurst: 1e6,
    loginPerSecond: 1e6,
  };
  const proc = spawn(process.execPath, [join(here, 'chat-node.mjs'), JSON.stringify(opts)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (c) => {
      out += c;
      const m = /listening on (http:\/\/[^/\s]+)\//.exec(out);
      if (m) resolve({ origin: m[1], proc });
    });
    proc.once('exit', (code) => reject(new Error(`node exited ${code}: ${out}`)));
  });
}

async function login(origin, name) {
  const res = await fetch(`${origin}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify({ name, password: 'bench password' }),
  });
  if (res.status !== 200) throw new Error(`login ${res.status}`);
  return res.headers.get('set-cookie').split(';')[0];
}

class Client {
  constructor(name, origin, cookie, stats) {
    this.name = name;
    this.stats = stats;
    this.ws = new WebSocket(`${origin.replace('http', 'ws')}/ws`, { headers: { cookie, origin } });
    this.inflight = 0;
    this.onAck = null;
    this.ready = new Promise((resolve, reject) => {
      this.ws.once('error', reject);
      this.ws.on('message', (data) => {
        const m = JSON.parse(String(data));
        if (m.type === 'welcome') resolve();
        else if (m.type === 'message') {
          const t = Number(m.message.text.slice(0, m.message.text.indexOf(' ')));
          if (this.stats.measuring && t >= this.stats.startedAt) {
            this.stats.delivered++;
            this.stats.latencies.push(performance.now() - t);
          }
        } else if (m.type === 'ack') {
          this.inflight--;
          this.onAck?.();
        } else if (m.type === 'error') {
          this.stats.errors++;
        }
      });
      this.ws.once('open', () => this.ws.send(JSON.stringify({ v: 1, type: 'hello' })));
    });
    this.n = 0;
  }
  send() {
    this.inflight++;
    const id = `${this.name}-${++this.n}`;
    this.ws.send(
      JSON.stringify({ v: 1, type: 'send', id, room: 'general', text: `${performance.now()} hello` }),
    );
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function run(clients, senders, mode) {
  const stats = clients[0].stats;
  let running = true;
  const loops = [];
  if (mode === 'saturated') {
    for (const s of senders) {
      const pump = () => {
        while (running && s.inflight < WINDOW) s.send();
      };
      s.onAck = pump;
      pump();
    }
  } else {
    const perSender = RATE / senders.length;
    for (const [i, s] of senders.entries()) {
      s.onAck = null;
      loops.push(
        (async () => {
          await sleep((i * 1000) / RATE);
          const start = performance.now();
          for (let k = 0; running; k++) {
            s.send();
            const due = start + ((k + 1) * 1000) / perSender;
            await sleep(Math.max(0, due - performance.now()));
          }
        })(),
      );
    }
  }
  await sleep(1000); // warm-up
  stats.delivered = 0;
  stats.latencies = [];
  stats.errors = 0;
  stats.startedAt = performance.now();
  stats.measuring = true;
  await sleep(SECONDS * 1000);
  stats.measuring = false;
  const elapsed = (performance.now() - stats.startedAt) / 1000;
  running = false;
  for (const s of senders) s.onAck = null;
  await Promise.all(loops);
  // Let in-flight messages drain before the next run.
  for (let i = 0; i < 100 && senders.some((s) => s.inflight > 0); i++) await sleep(50);
  const sorted = Float64Array.from(stats.latencies).sort();
  return {
    delivered: Math.round(stats.delivered / elapsed),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors: stats.errors,
  };
}

const results = [];
for (const n of NODE_COUNTS) {
  const redis = await startRedis();
  const nodes = [];
  for (let i = 0; i < n; i++) nodes.push(await startNode(redis.url));
  const stats = { delivered: 0, latencies: [], errors: 0, measuring: false, startedAt: 0 };
  const clients = [];
  for (let i = 0; i < CLIENTS; i++) {
    const origin = nodes[i % n].origin;
    const name = `b${i}`;
    clients.push(new Client(name, origin, await login(origin, name), stats));
  }
  await Promise.all(clients.map((c) => c.ready));
  // Senders spread over the nodes like everyone else.
  const senders = clients.slice(0, SENDERS);
  for (const mode of ['saturated', 'paced']) {
    const r = await run(clients, senders, mode);
    results.push({ nodes: n, mode, ...r });
    console.error(
      `${n} node(s) ${mode}: ${r.delivered} delivered/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, errors ${r.errors}`,
    );
  }
  for (const c of clients) c.ws.terminate();
  for (const node of nodes) {
    node.proc.kill('SIGTERM');
    await new Promise((r) => node.proc.once('exit', r));
  }
  await redis.stop();
}

console.log(
  `\nchat-nodes: ${CLIENTS} clients in one room, ${SENDERS} senders, ${SECONDS} s per run, appendfsync ${values.fsync}, ` +
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'})\n`,
);
console.log('| nodes | load | delivered msg/s | p50 latency | p99 latency | errors |');
console.log('| ----: | ---- | --------------: | ----------: | ----------: | -----: |');
for (const r of results) {
  const load = r.mode === 'saturated' ? `saturated (window ${WINDOW}/sender)` : `paced, ${RATE} msg/s in`;
  console.log(
    `| ${r.nodes} | ${load} | ${r.delivered} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.errors} |`,
  );
}
process.exit(0);
