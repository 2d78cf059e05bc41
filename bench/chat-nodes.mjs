#!/usr/bin/env node
// The chat on 1, 2 and 3 nodes sharing one Redis: a room of 100 clients spread evenly over the
// nodes, 10 of them sending. Reports delivered messages per second (message events received by all
// clients together) and end-to-end latency (send -> each receiver), p50 and p99.
//
//   npm run build && node bench/chat-nodes.mjs [--nodes 1,2,3] [--clients 100] [--senders 10]
//        [--seconds 5] [--rate 100] [--window 8] [--fsync always|everysec] [--workers 2]
//        [--profile DIR]
// The clients run in `workers` worker threads (one thread cannot receive this many messages).
// (--profile writes a V8 CPU profile of every node into DIR.)
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
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
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
    profile: { type: 'string' },
    workers: { type: 'string', default: '2' },
  },
});
const NODE_COUNTS = values.nodes.split(',').map(Number);
const CLIENTS = Number(values.clients);
const SENDERS = Number(values.senders);
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const WINDOW = Number(values.window);
const WORKERS = Number(values.workers);

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
    limits: { messageRate: { burst: 1e6, perSecond: 1e6 }, requestRate: { burst: 1e6, perSecond: 1e6 } },
    signInPerIp: { burst: 1e6, perSecond: 1e6 },
    signUpPerIp: { burst: 1e6, perSecond: 1e6 },
    // Every bench client is one user: lift the per-user socket cap.
    maxSocketsPerUser: 1e6,
  };
  const prof = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [];
  const proc = spawn(process.execPath, [...prof, join(here, 'chat-node.mjs'), JSON.stringify(opts)], {
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

/** Signs up (or in, when an earlier run on this Redis created the name); returns the cookie. */
async function login(origin, name) {
  const attempt = (path) =>
    fetch(`${origin}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: JSON.stringify({ name, password: 'bench password' }),
    });
  let res = await attempt('/api/register');
  if (res.status === 409) res = await attempt('/api/login');
  if (res.status !== 200 && res.status !== 201) throw new Error(`sign-in ${res.status}`);
  return res.headers.get('set-cookie').split(';')[0];
}

// Absolute milliseconds with sub-millisecond precision, comparable across worker threads.
const now = () => performance.timeOrigin + performance.now();

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
            this.stats.latencies.push(now() - t);
          }
        } else if (m.type === 'ack') {
          this.inflight--;
          this.onAck?.();
        } else if (m.type === 'error') {
          this.stats.errors++;
        }
      });
      this.ws.once('open', () => this.ws.send(JSON.stringify({ v: 2, type: 'hello' })));
    });
    this.n = 0;
  }
  send() {
    this.inflight++;
    const id = `${this.name}-${++this.n}`;
    this.ws.send(JSON.stringify({ v: 2, type: 'send', id, room: 'general', text: `${now()} hello` }));
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// ---- a client worker: its share of the clients; runs the load it is told to and reports ----
async function clientWorker({ clients: specs }) {
  const stats = { delivered: 0, latencies: [], errors: 0, measuring: false, startedAt: 0 };
  const clients = specs.map((c) =>
    Object.assign(new Client(c.name, c.origin, c.cookie, stats), { sender: c.sender }),
  );
  await Promise.all(clients.map((c) => c.ready));
  parentPort.postMessage({ type: 'ready' });
  parentPort.on('message', async (cmd) => {
    if (cmd.type === 'close') {
      for (const c of clients) c.ws.terminate();
      parentPort.close();
      return;
    }
    const senders = clients.filter((c) => c.sender);
    let running = true;
    const loops = [];
    if (cmd.mode === 'saturated') {
      for (const s of senders) {
        const pump = () => {
          while (running && s.inflight < cmd.window) s.send();
        };
        s.onAck = pump;
        pump();
      }
    } else {
      for (const [i, s] of senders.entries()) {
        loops.push(
          (async () => {
            await sleep((i * 1000) / cmd.perSender / senders.length);
            const start = performance.now();
            for (let k = 0; running; k++) {
              s.send();
              await sleep(Math.max(0, start + ((k + 1) * 1000) / cmd.perSender - performance.now()));
            }
          })(),
        );
      }
    }
    await sleep(1000); // warm-up
    stats.delivered = 0;
    stats.latencies = [];
    stats.errors = 0;
    stats.startedAt = now();
    stats.measuring = true;
    await sleep(cmd.seconds * 1000);
    stats.measuring = false;
    const elapsed = (now() - stats.startedAt) / 1000;
    running = false;
    for (const s of senders) s.onAck = null;
    await Promise.all(loops);
    for (let i = 0; i < 100 && senders.some((s) => s.inflight > 0); i++) await sleep(50);
    const latencies = Float64Array.from(stats.latencies);
    parentPort.postMessage(
      { type: 'result', delivered: stats.delivered, elapsed, errors: stats.errors, latencies },
      [latencies.buffer],
    );
  });
}

async function main() {
  const results = [];
  for (const n of NODE_COUNTS) {
    const redis = await startRedis();
    const nodes = [];
    for (let i = 0; i < n; i++) nodes.push(await startNode(redis.url));
    // Clients spread round-robin over the nodes; worker w drives clients w, w + W, w + 2W ...
    const specs = [];
    for (let i = 0; i < CLIENTS; i++) {
      const origin = nodes[i % n].origin;
      const name = `b${i}`;
      specs.push({ name, origin, cookie: await login(origin, name), sender: i < SENDERS });
    }
    const workers = [];
    for (let w = 0; w < WORKERS; w++) {
      const worker = new Worker(fileURLToPath(import.meta.url), {
        workerData: { clients: specs.filter((_, i) => i % WORKERS === w) },
        argv: process.argv.slice(2),
      });
      await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      workers.push(worker);
    }
    for (const mode of ['saturated', 'paced']) {
      const replies = await Promise.all(
        workers.map(
          (worker) =>
            new Promise((resolve) => {
              worker.once('message', resolve);
              worker.postMessage({
                type: 'run',
                mode,
                window: WINDOW,
                perSender: RATE / SENDERS,
                seconds: SECONDS,
              });
            }),
        ),
      );
      const elapsed = Math.max(...replies.map((r) => r.elapsed));
      const all = new Float64Array(replies.reduce((k, r) => k + r.latencies.length, 0));
      let at = 0;
      for (const r of replies) {
        all.set(r.latencies, at);
        at += r.latencies.length;
      }
      all.sort();
      const r = {
        delivered: Math.round(replies.reduce((k, x) => k + x.delivered, 0) / elapsed),
        p50: percentile(all, 50),
        p99: percentile(all, 99),
        errors: replies.reduce((k, x) => k + x.errors, 0),
      };
      results.push({ nodes: n, mode, ...r });
      console.error(
        `${n} node(s) ${mode}: ${r.delivered} delivered/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, errors ${r.errors}`,
      );
    }
    for (const worker of workers) {
      worker.postMessage({ type: 'close' });
      await new Promise((resolve) => worker.once('exit', resolve));
    }
    for (const node of nodes) {
      node.proc.kill('SIGTERM');
      await new Promise((r) => node.proc.once('exit', r));
    }
    await redis.stop();
  }

  console.log(
    `\nchat-nodes: ${CLIENTS} clients in one room, ${SENDERS} senders, ${SECONDS} s per run, appendfsync ${values.fsync}, ` +
      `${WORKERS} client threads, node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'})\n`,
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
}

if (isMainThread) await main();
else await clientWorker(workerData);
