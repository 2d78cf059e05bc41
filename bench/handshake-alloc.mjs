// What a server allocates per WebSocket handshake, and how much of it survives V8's scavenges,
// while N connections open (issue 17, scenario 5's ramp). Counts, not timings.
//
//   node bench/handshake-alloc.mjs [--servers riptide,raw] [--mode gc|sample] [--conns N]
//        [--warmup N] [--top 25] [--runs 1] [--dump PREFIX]
//
// --mode gc (default; --conns 10000): a fresh server (bench/servers/<echo script> 0, pinned to
//   CPU 0 as the runner does, run with --trace-gc-nvp) opens N connections with
//   `bench/wsload/wsload hold` on CPU 1; V8's per-collection figures are summed from 1 s before
//   the ramp to 1 s after wsload's hold line and divided by N: allocated, promoted,
//   new_space_survived (copied within the young generation), and their sum "survived". Also the
//   new space's size then and VmRSS per connection (the same reading as scenario 5's first).
// --mode sample (--conns 2000): after a warm-up ramp of --warmup connections (default 2000,
//   opened, held 1 s and closed), V8's sampling heap profiler (256 B interval, objects collected
//   by minor and major GCs included) runs over a second ramp of N; prints bytes allocated per
//   connection, and the top allocation sites: each sample is charged to the innermost frame of
//   riptide's dist or of the server script, else to its innermost frame. --dump PREFIX writes
//   the samples (stack and bytes) to PREFIX-<server>.json.
// One JSON line per server and run. Needs `make -C bench/wsload` and `npm run build`.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { spawnHold } from './lib/hold.mjs';
import { readRss, rssPerConnKiB } from './lib/proc.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const SCRIPTS = { riptide: 'riptide-echo.mjs', ws: 'ws-echo.mjs', raw: 'raw-net.mjs' };

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1];
};
const servers = opt('servers', 'riptide,raw').split(',');
const mode = opt('mode', 'gc');
const conns = Number(opt('conns', mode === 'gc' ? '10000' : '2000'));
const warmup = Number(opt('warmup', '2000'));
const top = Number(opt('top', '25'));
const runs = Number(opt('runs', '1'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startServer(name) {
  const flags = ['--import', `${here}lib/alloc-probe.mjs`];
  if (mode === 'gc') flags.push('--trace-gc-nvp');
  const server = spawn(
    'taskset',
    ['-c', '0', process.execPath, ...flags, `${here}servers/${SCRIPTS[name]}`, '0'],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ALLOC_PROBE: mode } },
  );
  const state = { server, lines: [], waiters: [] };
  createInterface({ input: server.stdout }).on('line', (line) => {
    state.lines.push(line);
    for (const w of state.waiters.splice(0)) w();
  });
  return state;
}

/** Resolve with the first line (from index `from`) that `match` accepts. */
async function waitLine(state, match, from = 0) {
  for (;;) {
    const found = state.lines.slice(from).find(match);
    if (found !== undefined) return found;
    await new Promise((r) => state.waiters.push(r));
  }
}

function hold(name, port, n, seconds, onHold) {
  const load = spawnHold(name, port, n, seconds);
  createInterface({ input: load.stdout }).on('line', (line) => {
    if (line.startsWith('{"mode":"hold","open":')) onHold(JSON.parse(line));
  });
  return new Promise((r) => load.once('exit', r));
}

async function mark(state, n) {
  state.server.kill('SIGUSR2');
  await waitLine(state, (l) => l === `probe mark ${n}`);
}

const NVP = /^\[\d+:0x[0-9a-f]+\]\s+\d+ ms: (.*)$/;

function sumGc(lines) {
  const sums = { allocated: 0, promoted: 0, new_space_survived: 0 };
  const kinds = {};
  for (const line of lines) {
    const m = NVP.exec(line);
    if (!m) continue;
    const f = Object.fromEntries(m[1].split(' ').map((kv) => kv.split('=')));
    kinds[f.gc] = (kinds[f.gc] ?? 0) + 1;
    for (const k of Object.keys(sums)) sums[k] += Number(f[k] ?? 0);
  }
  return { sums, kinds };
}

function attribute(samples) {
  const byFrame = new Map();
  let total = 0;
  for (const { stack, self } of samples) {
    total += self;
    let frame = stack[stack.length - 1];
    for (let i = stack.length - 1; i >= 0; i--) {
      if (/ riptide\/|-echo\.mjs:|raw-(net|handshake)\.mjs:/.test(stack[i])) {
        frame = stack[i];
        break;
      }
    }
    byFrame.set(frame, (byFrame.get(frame) ?? 0) + self);
  }
  return { total, byFrame };
}

async function measure(name) {
  const state = startServer(name);
  const exited = new Promise((r) => state.server.once('exit', r));
  const port = Number((await waitLine(state, (l) => l.startsWith('listening '))).split(' ')[1]);
  await sleep(1000);
  const before = readRss(state.server.pid);
  const result = { server: name, mode, conns };
  if (mode === 'sample') {
    await hold(name, port, warmup, 1, () => {});
    await sleep(1000);
  }
  await mark(state, 1);
  const from = state.lines.length;
  let holdLine = null;
  const done = hold(name, port, conns, 3, (h) => {
    holdLine = h;
  });
  while (holdLine === null) await sleep(20);
  await sleep(1000);
  await mark(state, 2);
  const upTo = state.lines.indexOf('probe mark 2');
  if (holdLine.open !== conns) result.open = holdLine.open;
  const spaces = JSON.parse((await waitLine(state, (l) => l.startsWith('probe-spaces '), upTo)).slice(13));
  result.newSpaceMiB = spaces.new_space.size / 2 ** 20;
  const mib = (x) => Math.round((x / 2 ** 20) * 10) / 10;
  result.physicalMiB = Object.fromEntries(
    Object.entries(spaces)
      .filter(([, s]) => s.physical >= 2 ** 19)
      .map(([k, s]) => [k.replace(/_space$/, ''), mib(s.physical)]),
  );
  result.usedMiB = Object.fromEntries(
    Object.entries(spaces)
      .filter(([, s]) => s.used >= 2 ** 19)
      .map(([k, s]) => [k.replace(/_space$/, ''), mib(s.used)]),
  );
  if (mode === 'gc') {
    result.rssKiBPerConn = Math.round(rssPerConnKiB(before, readRss(state.server.pid), conns) * 100) / 100;
    const { sums, kinds } = sumGc(state.lines.slice(from, upTo));
    result.perConn = {
      allocated: Math.round(sums.allocated / conns),
      promoted: Math.round(sums.promoted / conns),
      newSpaceSurvived: Math.round(sums.new_space_survived / conns),
      survived: Math.round((sums.promoted + sums.new_space_survived) / conns),
    };
    result.collections = kinds;
  } else {
    const profileLine = await waitLine(state, (l) => l.startsWith('probe-profile '), upTo);
    const samples = JSON.parse(profileLine.slice(14));
    const dump = opt('dump', null);
    if (dump !== null) writeFileSync(`${dump}-${name}.json`, JSON.stringify(samples));
    const { total, byFrame } = attribute(samples);
    result.allocatedPerConn = Math.round(total / conns);
    result.top = [...byFrame]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, bytes]) => [frame, Math.round(bytes / conns)]);
  }
  await done;
  state.server.kill('SIGTERM');
  await exited;
  return result;
}

for (let r = 0; r < runs; r++) {
  for (const name of servers) console.log(JSON.stringify(await measure(name)));
}
