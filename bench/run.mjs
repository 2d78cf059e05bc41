#!/usr/bin/env node
// The benchmark runner (issues 5 and 17): riptide against ws 8 (with its native add-ons),
// uWebSockets.js (when the optional `uwebsockets` package loads) and raw node:net servers, on
// one machine, in one run, plus the scale curves.
//
//   npm run bench                 full run: 3 rounds, writes bench/RESULTS.md, bench/ratios.svg,
//                                 the curve charts bench/curve-*.svg, bench/results/latest.json
//                                 (+ a dated copy)
//   npm run bench -- --quick      short runs (< 5 min), writes under bench/results/dev/
//
// For every scenario and server: start the server pinned to one core (taskset), wait for its
// "listening <port>" line, run the load generator pinned to the other core, stop the server with
// SIGTERM. Rounds repeat all scenarios; within a round the servers' order rotates, so slow drift
// of the shared machine hits every server alike. Medians over the rounds are reported.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  idleSettled,
  readCpuInfo,
  readCpuSeconds,
  readFdLimit,
  readLoadAvg,
  readRss,
  readRssAnon,
  rssPerConnKiB,
} from './lib/proc.mjs';
import { renderCurveSvgs, renderMarkdown, renderSvg, summarize } from './lib/report.mjs';
import {
  CURVES,
  costMetrics,
  curveScenarios,
  deflateArgs,
  lastRssReadMs,
  PROFILES,
  SCENARIOS,
  SERVERS,
  scenarioTitle,
  serverOrder,
  wsloadArgs,
} from './lib/scenarios.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH, '..');
// The load generator is built from its C source in the repository (cc and make).
const WSLOAD_DIR = join(BENCH, 'wsload');
const WSLOAD = join(WSLOAD_DIR, 'wsload');
const EXIT_UNAVAILABLE = 3;

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: node bench/run.mjs [options]
  --quick              short warm-up and measure windows (whole run < 5 min)
  --rounds N           rounds (default 3; at least 3 for reported results)
  --only 1,2,7         run only these scenarios; curve names (idle, bcast, size), points
                       (bcast-10k) or "curves" select the scale curves, "main" scenarios 1-8
  --servers riptide,ws only these servers (riptide, ws, uws, raw)
  --warmup S --duration S   override the windows (seconds)
  --conns N            receivers / idle connections of scenarios 4 and 5 (default 10000)
  --settle MS          delay between the hold line and reading RSS (scenario 5)
  --idle MS            longest wait for scenario 5's second RSS reading, once the server
                       has given memory back (default 120000; 0 = not read, as in --quick)
  --server-cpu N --client-cpu N   cores for taskset (default 0 and 1)
  --no-build           do not rebuild the riptide library first
  --report FILE        only render RESULTS.md and ratios.svg again from a saved run
                       (bench/results/*.json), e.g. after editing bench/ANALYSIS.md
  --help`;

function parseOptions(argv) {
  const o = { quick: false, build: true, serverCpu: 0, clientCpu: 1, overrides: {} };
  const take = (i) => {
    if (i + 1 >= argv.length) fail(`missing value for ${argv[i]}`);
    return argv[i + 1];
  };
  const num = (v, name) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) fail(`invalid ${name}: ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--quick':
        o.quick = true;
        break;
      case '--no-build':
        o.build = false;
        break;
      case '--rounds':
        o.overrides.rounds = num(take(i++), a);
        break;
      case '--warmup':
        o.overrides.warmup = num(take(i++), a);
        break;
      case '--duration':
        o.overrides.duration = num(take(i++), a);
        break;
      case '--conns':
        o.overrides.bigConns = num(take(i++), a);
        break;
      case '--settle':
        o.overrides.settleMs = num(take(i++), a);
        break;
      case '--idle':
        o.overrides.idleMs = num(take(i++), a);
        break;
      case '--only':
        o.only = take(i++).split(',');
        break;
      case '--servers':
        o.servers = take(i++).split(',');
        break;
      case '--server-cpu':
        o.serverCpu = num(take(i++), a);
        break;
      case '--client-cpu':
        o.clientCpu = num(take(i++), a);
        break;
      case '--report':
        o.report = take(i++);
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        fail(`unknown option: ${a}\n${USAGE}`);
    }
  }
  return o;
}

function fail(msg) {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

const opts = parseOptions(process.argv.slice(2));
const profile = {
  ...(opts.quick ? PROFILES.quick : PROFILES.full),
  ...opts.overrides,
  serverCpu: opts.serverCpu,
  clientCpu: opts.clientCpu,
};
/** Whether `--only` selects a scenario: its id, its curve's id, "curves" or "main". */
function selected(sc) {
  if (!opts.only) return true;
  return opts.only.some(
    (w) =>
      w === String(sc.id) || w === sc.curve || (w === 'curves' && sc.curve) || (w === 'main' && !sc.curve),
  );
}
const scenarios = [...SCENARIOS, ...curveScenarios(profile)].filter(selected);
if (scenarios.length === 0) fail('no scenario selected');
for (const s of opts.servers ?? []) if (!(s in SERVERS)) fail(`unknown server: ${s}`);
// The reference results (bench/RESULTS.md) come only from a full, unrestricted run.
const official = !opts.quick && !opts.only && !opts.servers && Object.keys(opts.overrides).length === 0;
const outDir = official ? BENCH : join(BENCH, 'results', 'dev');

// ---------------------------------------------------------------------------------------------
// Child processes: every one is tracked and killed if the runner stops early.

const children = new Set();
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
function killAll() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
}

/**
 * `taskset -c CPU [prlimit --nofile=N:N] cmd args`: taskset and prlimit exec the command, so
 * the child's pid is the command's own. prlimit only when a scale point needs more file
 * descriptors than the hard limit (and the runner may raise it; see fdPlan).
 */
function pinned(cpu, cmd, args, nofile = 0) {
  const raise = nofile > 0 ? ['prlimit', `--nofile=${nofile}:${nofile}`] : [];
  return ['taskset', ['-c', String(cpu), ...raise, cmd, ...args]];
}

/**
 * File descriptors: node raises its soft limit to the hard limit by itself, and so does
 * wsload. A point that needs more than the hard limit allows runs under prlimit when this
 * process may raise hard limits (root with CAP_SYS_RESOURCE), and is skipped with a note
 * otherwise. Returns { nofile } (0: no raise needed) or { skip: reason }.
 */
const FD_SLACK = 256;
let fdRaisable;
function fdPlan(sc) {
  const need = (sc.fds ?? 0) + FD_SLACK;
  const { hard } = readFdLimit();
  if (hard === null || need <= hard) return { nofile: 0 };
  const want = Math.max(need, 1 << 17);
  if (fdRaisable === undefined) {
    try {
      execFileSync('prlimit', [`--nofile=${want}:${want}`, 'true'], { stdio: 'ignore' });
      fdRaisable = true;
    } catch {
      fdRaisable = false;
    }
  }
  if (fdRaisable) return { nofile: want };
  return {
    skip: `needs ${need} file descriptors per process; the hard limit here is ${hard} and raising it needs CAP_SYS_RESOURCE`,
  };
}

function shellQuote(args) {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(' ');
}

function rel(p) {
  return relative(ROOT, p) || '.';
}

/** Start a benchmark server pinned to the server core; resolves once it printed "listening <port>". */
async function startServer(script, extraArgs, nodeFlags = [], nofile = 0, env = null) {
  const scriptPath = join(BENCH, 'servers', script);
  const envPairs = env === null ? [] : Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const [cmd, args] = pinned(
    profile.serverCpu,
    process.execPath,
    [...nodeFlags, scriptPath, '0', ...extraArgs],
    nofile,
  );
  const child = track(
    spawn(cmd, args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(env === null ? {} : { env: { ...process.env, ...env } }),
    }),
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    if (stderr.length < 4000) stderr += d;
  });
  const lines = createInterface({ input: child.stdout });
  const display = shellQuote([
    ...(envPairs.length > 0 ? ['env', ...envPairs] : []),
    'taskset',
    '-c',
    String(profile.serverCpu),
    ...(nofile > 0 ? ['prlimit', `--nofile=${nofile}:${nofile}`] : []),
    'node',
    ...nodeFlags,
    rel(scriptPath),
    '0',
    ...extraArgs,
  ]);
  try {
    const port = await new Promise((res, rej) => {
      const timer = setTimeout(
        () => rej(new Error(`${script} did not print "listening <port>" within 15 s`)),
        15_000,
      );
      lines.on('line', (line) => {
        const m = /^listening (\d+)$/.exec(line);
        if (m) {
          clearTimeout(timer);
          res(Number(m[1]));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        const err = new Error(
          `${script} exited (${code ?? signal}) before listening: ${stderr.trim().split('\n').pop()}`,
        );
        err.unavailable = code === EXIT_UNAVAILABLE;
        rej(err);
      });
    });
    // taskset execs the command, so the child's pid is the server's own pid (RSS is read from it).
    const comm = readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim();
    if (comm !== 'node') throw new Error(`pid ${child.pid} is "${comm}", not node`);
    return { child, port, pid: child.pid, display, stderr: () => stderr };
  } catch (err) {
    child.kill('SIGKILL');
    await exited(child);
    throw err;
  }
}

async function stopServer(server) {
  const alive = server.child.exitCode === null && server.child.signalCode === null;
  if (alive) server.child.kill('SIGTERM');
  const killer = setTimeout(() => server.child.kill('SIGKILL'), 5000);
  const result = await exited(server.child);
  clearTimeout(killer);
  return { ...result, wasAlive: alive };
}

/**
 * Run a load generator pinned to the client core; `onLine` sees each stdout line as it comes,
 * `onErrLine` each stderr line.
 */
async function runLoad(cmd, args, { onStart, onLine, onErrLine, timeoutMs, nofile = 0 }) {
  const [c, a] = pinned(profile.clientCpu, cmd, args, nofile);
  const child = track(spawn(c, a, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  onStart?.(child);
  const lines = [];
  let stderr = '';
  child.stderr.on('data', (d) => {
    if (stderr.length < 4000) stderr += d;
  });
  if (onErrLine) createInterface({ input: child.stderr }).on('line', onErrLine);
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    onLine?.(line);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await exited(child);
  clearTimeout(timer);
  await sleep(10); // let readline deliver the last line
  return { code, signal, lines, stderr };
}

function lastJson(lines) {
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines[i]);
    } catch {}
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// One measurement

const commands = new Map(); // "scenario/server" -> display lines (port shown as <port>)

/** Sockets in TIME_WAIT in this network namespace (/proc/net/sockstat), or null if unknown. */
function timeWaitCount() {
  try {
    const m = /\btw (\d+)/.exec(readFileSync('/proc/net/sockstat', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Each handshake measurement leaves tens of thousands of sockets in TIME_WAIT for 60 s, and
 * the next one's connects and accepts cost more in the kernel while they are there (measured:
 * ws 3.4k handshakes/s with 50-80k of them, 9k with few). So every server starts its handshake
 * measurement from the same state: wait until fewer than profile.timeWaitBelow remain (at most
 * profile.timeWaitMaxMs). Returns the count at the start of the measurement.
 */
async function settleTimeWait() {
  const deadline = Date.now() + profile.timeWaitMaxMs;
  let count = timeWaitCount();
  while (count !== null && count > profile.timeWaitBelow && Date.now() < deadline) {
    await sleep(1000);
    count = timeWaitCount();
  }
  return count;
}

/**
 * The server's CPU use during wsload's measure window, as % of one core: /proc/PID/stat is read
 * at each of wsload's once-a-second progress lines (-v) labelled "measure", and the first and
 * last readings are compared. Null when fewer than two such lines came (a 1 s window).
 */
function serverCpuSampler(pid) {
  let first = null;
  let last = null;
  return {
    onProgress(line) {
      if (!/^\[\s*[\d.]+s\] measure\b/.test(line)) return;
      const sample = { cpu: readCpuSeconds(pid), at: performance.now() };
      if (sample.cpu === null) return;
      if (first === null) first = sample;
      else last = sample;
    },
    percent() {
      if (first === null || last === null || last.at <= first.at) return null;
      return ((last.cpu - first.cpu) / ((last.at - first.at) / 1000)) * 100;
    },
  };
}

async function measure(sc, serverName, round, variant = null) {
  const base = { round, scenario: sc.id, server: serverName };
  const fds = fdPlan(sc);
  if (fds.skip) return { ...base, status: 'skipped', error: fds.skip };
  let server;
  try {
    server = await startServer(
      sc.scripts[serverName],
      sc.serverArgs ?? [],
      variant?.nodeFlags,
      fds.nofile,
      variant?.env ?? null,
    );
  } catch (err) {
    return { ...base, status: err.unavailable ? 'unavailable' : 'failed', error: err.message };
  }
  const metrics = {};
  let loadResult;
  let loadDisplay;
  try {
    if (sc.load.tool === 'wsload') {
      const args = wsloadArgs(sc, serverName, profile, server.port, variant);
      loadDisplay = shellQuote([
        'taskset',
        '-c',
        String(profile.clientCpu),
        ...(fds.nofile > 0 ? ['prlimit', `--nofile=${fds.nofile}:${fds.nofile}`] : []),
        rel(WSLOAD),
        ...args,
      ]);
      let onLine;
      let rssRead;
      let loadChild = null;
      let anonBefore = null;
      const lastMs = lastRssReadMs(sc, profile, variant);
      if (sc.load.mode === 'hold') {
        await sleep(profile.settleMs);
        metrics.rss_before = readRss(server.pid);
        anonBefore = readRssAnon(server.pid);
        rssRead = new Promise((res) => {
          onLine = (line) => {
            if (!line.startsWith('{"mode":"hold","open":')) return;
            const immediate = readRss(server.pid);
            const at = performance.now();
            setTimeout(() => {
              const r = {
                immediate,
                settled: readRss(server.pid),
                anon: readRssAnon(server.pid),
                first: JSON.parse(line),
              };
              if (lastMs === profile.settleMs) {
                res(r);
                return;
              }
              // The idle reading (scenario 5): the same process, still holding every connection,
              // read once a second until V8 has given memory back (idleSettled) or at the
              // longest wait; then wsload is stopped (it closes and reports as at its end).
              const samples = [];
              const poll = setInterval(() => {
                samples.push(readRss(server.pid));
                const waited = performance.now() - at;
                if (!idleSettled(samples, metrics.rss_before, r.settled) && waited < lastMs) return;
                clearInterval(poll);
                res({
                  ...r,
                  idle: samples[samples.length - 1],
                  idleAnon: readRssAnon(server.pid),
                  idleWaitS: waited / 1000,
                });
                loadChild?.kill('SIGTERM');
              }, 1000);
            }, profile.settleMs);
          };
        });
      }
      if (sc.load.mode === 'connect') {
        const tw = await settleTimeWait();
        if (tw !== null) metrics.time_wait_at_start = tw;
      }
      const rampS = (sc.conns ?? 0) > 40000 ? Math.ceil(sc.conns / 2000) : 10;
      const timeoutMs =
        ((sc.warmup ?? profile.warmup) + (sc.duration ?? profile.duration) + rampS + 30) * 1000 + lastMs;
      const cpu = serverCpuSampler(server.pid);
      loadResult = await runLoad(WSLOAD, args, {
        onStart: (child) => {
          loadChild = child;
        },
        onLine,
        onErrLine: cpu.onProgress,
        timeoutMs,
        nofile: fds.nofile,
      });
      const json = lastJson(loadResult.lines);
      if (json) for (const [k, v] of Object.entries(json)) if (typeof v === 'number') metrics[k] = v;
      const cpuPct = cpu.percent();
      if (cpuPct !== null) metrics.server_cpu_pct = cpuPct;
      if (rssRead) {
        const r = await Promise.race([rssRead, sleep(1000).then(() => null)]);
        if (r) {
          const conns = r.first.open;
          metrics.rss_with = r.settled;
          metrics.rss_per_conn_kib = rssPerConnKiB(metrics.rss_before, r.settled, conns);
          metrics.rss_per_conn_kib_immediate = rssPerConnKiB(metrics.rss_before, r.immediate, conns);
          metrics.rss_before_mib = metrics.rss_before / 2 ** 20;
          metrics.rss_with_mib = r.settled / 2 ** 20;
          metrics.rss_anon_per_conn_kib = rssPerConnKiB(anonBefore, r.anon, conns);
          if (r.idle !== undefined) {
            metrics.rss_per_conn_kib_idle = rssPerConnKiB(metrics.rss_before, r.idle, conns);
            metrics.rss_anon_per_conn_kib_idle = rssPerConnKiB(anonBefore, r.idleAnon, conns);
            metrics.idle_wait_s = r.idleWaitS;
          }
          if (r.first.failed > 0 || conns < (sc.conns ?? profile.bigConns)) loadResult.code ||= 1;
        }
      }
      if (loadResult.code !== 0 || !json) {
        const why = json
          ? `errors=${json.errors ?? 0}${json.error_kinds ? ` ${JSON.stringify(json.error_kinds)}` : ''} lost=${json.lost ?? json.missing ?? json.dropped ?? 0}`
          : loadResult.stderr.trim().split('\n').pop();
        throw new Error(`wsload exited ${loadResult.code ?? loadResult.signal}: ${why}`);
      }
    } else {
      const script = join(BENCH, 'clients', 'deflate-echo-raw.mjs');
      const args = deflateArgs(sc, profile, server.port, server.pid);
      loadDisplay = shellQuote([
        'taskset',
        '-c',
        String(profile.clientCpu),
        'node',
        rel(script),
        ...args.map((a) => (a === String(server.pid) ? '<server-pid>' : a)),
      ]);
      loadResult = await runLoad(process.execPath, [script, ...args], {
        timeoutMs: (profile.warmup + profile.duration + 40) * 1000,
      });
      const json = lastJson(loadResult.lines);
      if (json) for (const [k, v] of Object.entries(json)) if (typeof v === 'number') metrics[k] = v;
      if (loadResult.code === EXIT_UNAVAILABLE) {
        const err = new Error(json?.error ?? 'permessage-deflate not available');
        err.unavailable = true;
        throw err;
      }
      if (loadResult.code !== 0 || !json) {
        throw new Error(
          `deflate-echo exited ${loadResult.code ?? loadResult.signal}: ${json?.error ?? loadResult.stderr.trim().split('\n').pop()}`,
        );
      }
    }
    Object.assign(metrics, costMetrics(sc, metrics));
    const key = `${sc.id}/${serverName}${variant ? ' (variant)' : ''}`;
    if (!commands.has(key)) {
      commands.set(key, [server.display, loadDisplay.replaceAll(`:${server.port}/`, ':<port>/')]);
    }
    return { ...base, status: 'ok', metrics };
  } catch (err) {
    return { ...base, status: err.unavailable ? 'unavailable' : 'failed', error: err.message, metrics };
  } finally {
    const stop = await stopServer(server);
    if (!stop.wasAlive)
      console.error(
        `  ! ${sc.scripts[serverName]} had exited (${stop.code ?? stop.signal}): ${server.stderr().trim().slice(-300)}`,
      );
    else if (stop.code !== 0)
      console.error(`  ! ${sc.scripts[serverName]} exited ${stop.code ?? stop.signal} on SIGTERM`);
  }
}

/** A variant's node flags and environment, as a command line would show them. */
function variantLabel(v) {
  return [...Object.entries(v.env ?? {}).map(([k, val]) => `${k}=${val}`), ...(v.nodeFlags ?? [])].join(' ');
}

/**
 * The scenario's variant (see `variant` in lib/scenarios.mjs): the same measurement with other
 * node flags or environment for the server; its metrics come back under the variant's names. A failed variant
 * leaves them out (the main measurement stands) and says so on stderr.
 */
async function measureVariant(sc, serverName, round) {
  const v = sc.variant;
  const r = await measure(sc, serverName, round, v);
  if (r.status !== 'ok') {
    console.error(`  ! ${sc.id} ${serverName} with ${variantLabel(v)}: ${r.status}: ${r.error}`);
    return {};
  }
  const out = {};
  for (const [from, to] of Object.entries(v.metrics)) if (r.metrics[from] != null) out[to] = r.metrics[from];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Main

function versions() {
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return 'not installed';
    }
  };
  const git = (...a) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' }).trim();
  let riptide = 'unknown';
  try {
    riptide = `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'packages') ? ' (with uncommitted changes)' : ''}`;
  } catch {}
  const wsloadSrc = createHash('sha256')
    .update(readFileSync(join(WSLOAD_DIR, 'wsload.c')))
    .digest('hex')
    .slice(0, 12);
  return {
    'riptide commit': riptide,
    ws: pkg('ws'),
    bufferutil: pkg('bufferutil'),
    'utf-8-validate': pkg('utf-8-validate'),
    uwebsockets: pkg('uwebsockets'),
    'bench/wsload/wsload.c sha256': wsloadSrc,
  };
}

function fmtMetric(sc, r) {
  if (r.status !== 'ok') return `${r.status}: ${r.error}`;
  return sc.metrics.map((m) => `${m.key}=${Number(r.metrics[m.key]?.toPrecision(4))}`).join(' ');
}

/**
 * --report FILE: render RESULTS.md (with the current ANALYSIS.md) and ratios.svg again from a
 * saved run (bench/results/*.json), without measuring anything.
 */
/**
 * Format a generated Markdown report the way `npm run lint` checks it (Biome aligns the tables),
 * so that a committed bench/RESULTS.md passes lint. Skipped quietly if Biome is not installed.
 */
function formatReport(path) {
  try {
    execFileSync('npx', ['--no-install', 'biome', 'format', '--write', path], { cwd: ROOT, stdio: 'ignore' });
  } catch {}
}

function rerender(file) {
  const { meta, summary } = JSON.parse(readFileSync(file, 'utf8'));
  const analysisPath = join(BENCH, 'ANALYSIS.md');
  const analysis = existsSync(analysisPath) ? `\n${readFileSync(analysisPath, 'utf8')}` : '';
  writeFileSync(join(BENCH, 'RESULTS.md'), renderMarkdown(summary, meta) + analysis);
  formatReport(join(BENCH, 'RESULTS.md'));
  writeFileSync(join(BENCH, 'ratios.svg'), renderSvg(summary));
  for (const [name, svg] of renderCurveSvgs(summary, CURVES)) writeFileSync(join(BENCH, name), svg);
  console.error(`bench: rendered bench/RESULTS.md and the charts from ${rel(resolve(file))}`);
}

async function main() {
  if (opts.report !== undefined) {
    rerender(opts.report);
    return;
  }
  const cpu = readCpuInfo();
  const cores = Math.max(profile.serverCpu, profile.clientCpu);
  if (cpu.processors && cpu.processors <= cores)
    fail(`CPU ${cores} does not exist (${cpu.processors} processors)`);
  if (profile.serverCpu === profile.clientCpu) fail('server and client must be pinned to different CPUs');

  console.error(`bench: building wsload (make -C ${rel(WSLOAD_DIR)}; needs cc and make)`);
  execFileSync('make', ['-s', '-C', WSLOAD_DIR], { stdio: 'inherit' });
  execFileSync(WSLOAD, ['--selftest'], { stdio: 'ignore' });
  if (opts.build) {
    console.error('bench: building the riptide library (npm run build -w riptide)');
    execFileSync('npm', ['run', '-s', 'build', '-w', 'riptide'], { cwd: ROOT, stdio: 'inherit' });
  }

  // The versions (the riptide commit and whether its sources differ from it) as built now: the
  // sources may change while the run goes on, and the run measures what was built here.
  const builtVersions = versions();
  const started = Date.now();
  const loadStart = readLoadAvg();
  const runs = [];
  const rounds = Math.max(1, Math.round(profile.rounds));
  const serverNames = (sc) =>
    Object.keys(sc.scripts).filter((s) => !opts.servers || opts.servers.includes(s));
  const unavailable = new Set(); // "scenario/server" found unavailable: not retried in later rounds
  for (let round = 0; round < rounds; round++) {
    for (const sc of scenarios) {
      if (sc.curve && round >= profile.curveRounds) continue;
      for (const s of serverOrder(serverNames(sc), round)) {
        const key = `${sc.id}/${s}`;
        let r;
        if (unavailable.has(key)) {
          r = {
            round,
            scenario: sc.id,
            server: s,
            status: runs.find((x) => x.scenario === sc.id && x.server === s)?.status ?? 'unavailable',
            error: runs.find((x) => x.scenario === sc.id && x.server === s)?.error,
          };
        } else {
          const t0 = Date.now();
          r = await measure(sc, s, round);
          if (r.status === 'ok' && sc.variant && profile.variants)
            Object.assign(r.metrics, await measureVariant(sc, s, round));
          r.wallSeconds = (Date.now() - t0) / 1000;
          if (r.status === 'unavailable' || r.status === 'skipped') unavailable.add(key);
        }
        runs.push(r);
        const took = r.wallSeconds ? ` (${r.wallSeconds.toFixed(1)} s)` : '';
        console.error(`[round ${round + 1}/${rounds}] ${sc.id} ${s.padEnd(7)} ${fmtMetric(sc, r)}${took}`);
      }
    }
  }
  const wallSeconds = (Date.now() - started) / 1000;

  const invocation =
    opts.quick || process.argv.length > 2
      ? `npm run bench -- ${process.argv.slice(2).join(' ')}`
      : 'npm run bench';
  const chosen = scenarios.map((sc) => ({
    ...sc,
    title: scenarioTitle(sc, profile),
    scripts: Object.fromEntries(serverNames(sc).map((s) => [s, sc.scripts[s]])),
  }));
  const summary = summarize(runs, chosen);
  const meta = {
    date: new Date().toISOString(),
    invocation,
    quick: opts.quick,
    rounds,
    node: process.version,
    cpu,
    versions: builtVersions,
    loadavg: { start: loadStart, end: readLoadAvg() },
    profile,
    wallSeconds,
    commands: [
      {
        title: 'the whole benchmark (builds wsload and the library, runs every scenario)',
        lines: [invocation],
      },
      { title: 'build the load generator', lines: [`make -C ${rel(WSLOAD_DIR)}`] },
      ...chosen.flatMap((sc) =>
        Object.keys(sc.scripts)
          .filter((s) => commands.has(`${sc.id}/${s}`))
          .flatMap((s) => [
            {
              title: `scenario ${sc.id}, ${s} (server first, then the load)`,
              lines: commands.get(`${sc.id}/${s}`),
            },
            ...(commands.has(`${sc.id}/${s} (variant)`)
              ? [
                  {
                    title: `scenario ${sc.id}, ${s}, variant with ${variantLabel(sc.variant)}`,
                    lines: commands.get(`${sc.id}/${s} (variant)`),
                  },
                ]
              : []),
          ]),
      ),
    ],
    method: [
      `Each measurement starts a fresh server process pinned to CPU ${profile.serverCpu}; the load generator runs pinned to CPU ${profile.clientCpu}. Windows: ${profile.warmup} s warm-up, ${profile.duration} s measured (wsload's ramp, drain and close phases are not counted); the scale curves' points: ${profile.curveWarmup} s and ${profile.curveDuration} s, in ${Math.min(profile.curveRounds, rounds)} round(s).`,
      'wsload (bench/wsload, built from its C source) verifies every echo and delivery; a run with errors, lost echoes or missing deliveries counts as failed and is left out of the medians.',
      `uWebSockets.js comes from the npm package uwebsockets (a devDependency; the servers report "not available" when its binary does not load): compression off, maxPayloadLength 100 MiB, no idle timeout, maxBackpressure 0 (unbounded, as riptide and ws queue; uWS's default drops sends past 64 KiB). Broadcast uses its pub/sub (app.publish).`,
      `Scale curves: above ${20000} connections wsload spreads its connections over several loopback source addresses (127.0.0.1, .2, ...: one address has about 28,000 ephemeral ports towards one server port). Node and wsload raise their soft fd limit to the hard limit; a point needing more than the hard limit runs under prlimit when the runner may raise it, and is reported as skipped otherwise.`,
      `Scenario 5: RSS is VmRSS from /proc/PID/status. "Before" is read ${profile.settleMs} ms after the server printed its listening line; "with" is read ${profile.settleMs} ms after wsload's first hold line (all ${profile.bigConns} connections open), the same settle delay for every server, so that handshakes still being processed and short-lived allocations are over. The reading without the delay is reported too.${profile.idleMs > profile.settleMs ? ` The same process is read again "once idle", still holding every connection: its RSS is read once a second from the settle reading on, until it has fallen by at least 10 % of what the connections added and then moved by less than 1 % of that for 5 s, or ${profile.idleMs / 1000} s after the hold line at the latest (then wsload is stopped). An idle server runs no collection and keeps the young generation the ramp grew until V8's memory reducer shrinks it: 8 s after a mark-compact, again every 8 s until the allocation rate counts as low, and after about 100 s regardless (22-60 s after the ramp in bench/idle-rss-time.mjs). The seconds waited are reported. The variant does not take this reading.` : ''} Per connection = (with − before) / open connections. No server forces a garbage collection.`,
      `Scenario 7: bench/clients/deflate-echo-raw.mjs (${profile.deflateConns} connections, one 16 KiB JSON-like text message in flight each) pinned to CPU ${profile.clientCpu}. It offers client_no_context_takeover, so its requests are compressed, framed and masked once before the run, and it checks the framing of every echo and the content of the first 3 per connection: the servers do all the inflating and deflating, the client almost none (see its CPU column). The server's RSS per connection is read at the end of the measure window, against the RSS before the client connected. (bench/clients/deflate-echo.mjs, a ws client that compresses like the server, was the first version: it ran at 100 % CPU and limited both servers.)`,
      "The raw node:net server answers the upgrade and reflects every byte (frames stay masked; wsload runs with --allow-masked); it follows the frame headers (lengths only: no unmasking, no copies) to find the client's close frame, and ends the connection after it, so closing does not wait for wsload's timeouts. In scenario 4 the raw server (bench/servers/raw-broadcast.mjs) forwards each client frame, unmasked, to every open socket with one socket.write each: the broadcast loop with no library.",
      "Server CPU: utime + stime of the server process from /proc/PID/stat, read at the first and the last of wsload's once-a-second progress lines (-v) in the measure window (scenario 7: at the start and end of the client's measure window); CPU µs per unit = CPU % / 100 × 10^6 / rate.",
      'ws runs with bufferutil and utf-8-validate (the servers assert the native add-ons load), perMessageDeflate off except in scenario 7, as the ws README writes its echo and broadcast servers.',
    ],
  };

  mkdirSync(join(BENCH, 'results', 'dev'), { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const stamp = meta.date.replace(/[:.]/g, '-');
  const raw = JSON.stringify({ meta, runs, summary }, null, 2);
  if (official) {
    writeFileSync(join(BENCH, 'results', 'latest.json'), raw);
    writeFileSync(join(BENCH, 'results', `run-${stamp}.json`), raw);
  } else {
    writeFileSync(join(outDir, `${opts.quick ? 'quick' : 'run'}-${stamp}.json`), raw);
    writeFileSync(join(outDir, 'latest.json'), raw);
  }
  // The hand-written analysis of goals not met (profiles, what was tried) follows the tables.
  const analysisPath = join(BENCH, 'ANALYSIS.md');
  const analysis = existsSync(analysisPath) ? `\n${readFileSync(analysisPath, 'utf8')}` : '';
  writeFileSync(join(outDir, 'RESULTS.md'), renderMarkdown(summary, meta) + analysis);
  if (official) formatReport(join(outDir, 'RESULTS.md'));
  writeFileSync(join(outDir, 'ratios.svg'), renderSvg(summary));
  for (const [name, svg] of renderCurveSvgs(summary, CURVES)) writeFileSync(join(outDir, name), svg);
  console.error(
    `bench: done in ${Math.round(wallSeconds)} s; wrote ${rel(join(outDir, 'RESULTS.md'))} and ${rel(join(outDir, 'ratios.svg'))}`,
  );
  const failed = runs.filter((r) => r.status === 'failed').length;
  if (failed) console.error(`bench: ${failed} measurement(s) failed (see the report)`);
  process.exitCode = failed ? 1 : 0;
}

await main();
