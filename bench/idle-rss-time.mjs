// How an idle server's RSS evolves after N connections have opened: scenario 5 reads it once,
// `settleMs` after the ramp; this reads it at several delays, to see whether V8 gives memory
// back by itself once the process has been idle for a while (its memory reducer starts about 8 s
// after a mark-compact and shrinks the young generation when the allocation rate is low).
//
//   node bench/idle-rss-time.mjs [--servers riptide,raw,ws] [--conns 10000]
//        [--at 1,5,10,20,30] [--node-flags "--trace-gc"]
//
// For each server, one at a time: start bench/servers/<echo script> 0 pinned to CPU 0 (as the
// runner does), read VmRSS 1 s after its listening line, open the connections with
// `bench/wsload/wsload hold` pinned to CPU 1, then read VmRSS at each delay (seconds after
// wsload's hold line). Prints one JSON line per server: per-connection KiB at each delay, VmRSS
// and RssAnon (without the node binary's file pages).
// Needs the load generator built (make -C bench/wsload) and the library built (npm run build).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { spawnHold } from './lib/hold.mjs';
import { readRss, readRssAnon, rssPerConnKiB } from './lib/proc.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const SCRIPTS = { riptide: 'riptide-echo.mjs', ws: 'ws-echo.mjs', raw: 'raw-net.mjs', uws: 'uws-echo.mjs' };

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1];
};
const servers = opt('servers', 'riptide,raw,ws').split(',');
const conns = Number(opt('conns', '10000'));
const at = opt('at', '1,5,10,20,30').split(',').map(Number);
const nodeFlags = opt('node-flags', '').split(' ').filter(Boolean);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function lines(stream, onLine) {
  createInterface({ input: stream }).on('line', onLine);
}

async function measure(name) {
  const server = spawn(
    'taskset',
    ['-c', '0', process.execPath, ...nodeFlags, `${here}servers/${SCRIPTS[name]}`, '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const gcLines = [];
  const port = await new Promise((resolve, reject) => {
    lines(server.stdout, (line) => {
      const m = /^listening (\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
      else gcLines.push({ t: performance.now(), line });
    });
    server.once('exit', (code) => reject(new Error(`${name} exited (${code}) before listening`)));
  });
  await sleep(1000);
  const before = readRss(server.pid);
  const anonBefore = readRssAnon(server.pid);
  const holdS = at[at.length - 1] + 2;
  const load = spawnHold(name, port, conns, holdS);
  const t0 = await new Promise((resolve) => {
    lines(load.stdout, (line) => {
      if (line.startsWith('{"mode":"hold","open":')) resolve(performance.now());
    });
  });
  const samples = { 0: rssPerConnKiB(before, readRss(server.pid), conns) };
  const anon = { 0: rssPerConnKiB(anonBefore, readRssAnon(server.pid), conns) };
  for (const s of at) {
    await sleep(Math.max(0, t0 + s * 1000 - performance.now()));
    samples[s] = rssPerConnKiB(before, readRss(server.pid), conns);
    anon[s] = rssPerConnKiB(anonBefore, readRssAnon(server.pid), conns);
  }
  const tEnd = performance.now();
  await new Promise((r) => load.once('exit', r));
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  const round = (x) => Math.round(x * 100) / 100;
  // The collections other than scavenges (and how many scavenges there were), by time from the
  // hold line: negative during the ramp.
  const at0 = (g) => `${((g.t - t0) / 1000).toFixed(1)}s`;
  const gcAfterRamp = gcLines
    .filter((g) => g.t <= tEnd && !/Scavenge/.test(g.line))
    .map(
      (g) => `${at0(g)} ${g.line.replace(/^\[[^\]]*\]\s+\d+ ms: /, '').replace(/ \(average mu.*?\)/, '')}`,
    );
  const scavenges = gcLines.filter((g) => /Scavenge/.test(g.line));
  gcAfterRamp.push(
    `${scavenges.filter((g) => g.t <= t0).length} scavenges up to the hold line, ${scavenges.filter((g) => g.t > t0 && g.t <= tEnd).length} after`,
  );
  console.log(
    JSON.stringify({
      server: name,
      conns,
      beforeMiB: round(before / 2 ** 20),
      kibPerConn: Object.fromEntries(Object.entries(samples).map(([k, v]) => [`${k}s`, round(v)])),
      anonKibPerConn: Object.fromEntries(Object.entries(anon).map(([k, v]) => [`${k}s`, round(v)])),
      ...(nodeFlags.length > 0 ? { gcAfterRamp } : {}),
    }),
  );
}

for (const name of servers) await measure(name);
