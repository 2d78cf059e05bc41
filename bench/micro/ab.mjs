// Before/after check of a change at the server, on a busy machine: runs the same wsload command
// against two or more server scripts, alternating them round by round, each server pinned to
// CPU 0 and wsload to CPU 1, and prints the server's CPU time per unit of work (user, system,
// total, from /proc/PID/stat at wsload's first and last "measure" progress line) and its page
// faults and read/write syscalls (/proc/PID/io syscr, syscw) per unit, with the median over rounds.
// The kernel counts read/readv/write/writev there, not recv/send: uWS's sockets read 0. CPU per unit is what another process on the
// same cores disturbs least (wall-clock throughput is printed but not meant for conclusions).
//
//   node bench/micro/ab.mjs --rounds 5 --load 'broadcast -c 2000 -s 64 --text -i 0' \
//     base=/tmp/base/servers/riptide-broadcast.mjs new=bench/servers/riptide-broadcast.mjs
//
// A "before" copy: copy packages/riptide/{package.json,dist} to DIR/node_modules/riptide and
// bench/servers/*.mjs to DIR/servers/ (the servers import 'riptide' by name).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const WSLOAD = join(here, '..', 'wsload', 'wsload');
const TICK = 100; // clock ticks per second (/proc/PID/stat), CLK_TCK on Linux x86-64

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '5' },
    load: { type: 'string', default: 'echo -c 100 -p 10 -s 64 --text' },
    warmup: { type: 'string', default: '1' },
    duration: { type: 'string', default: '4' },
    'server-cpu': { type: 'string', default: '0' },
    'client-cpu': { type: 'string', default: '1' },
  },
});
const variants = positionals.map((p) => {
  const i = p.indexOf('=');
  return { name: p.slice(0, i), script: p.slice(i + 1) };
});
if (variants.length === 0) {
  console.error('usage: node bench/micro/ab.mjs [--rounds N] [--load "..."] name=server.mjs ...');
  process.exit(2);
}

function readStat(pid) {
  // Fields after the command name (which may hold spaces): state is field 3.
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { minflt: Number(f[7]), utime: Number(f[11]) / TICK, stime: Number(f[12]) / TICK, ...readIo(pid) };
}

function readIo(pid) {
  // Read- and write-type syscalls (read, recvmsg, readv... / write, writev, sendmsg...) so far.
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { syscr: Number(/syscr: (\d+)/.exec(text)[1]), syscw: Number(/syscw: (\d+)/.exec(text)[1]) };
}

function startServer(script) {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', values['server-cpu'], process.execPath, script, '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /listening (\d+)/.exec(buf);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`${script} exited ${code}`)));
  });
}

function runLoad(port) {
  return new Promise((resolve) => {
    const args = [
      '-c',
      values['client-cpu'],
      WSLOAD,
      ...values.load.split(/\s+/),
      '--url',
      `ws://127.0.0.1:${port}/`,
      '-w',
      values.warmup,
      '-d',
      values.duration,
      '-v',
    ];
    const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const marks = [];
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => {
      err += d;
      let nl;
      while ((nl = err.indexOf('\n')) >= 0) {
        const line = err.slice(0, nl);
        err = err.slice(nl + 1);
        if (/^\[\s*[\d.]+s\] measure\b/.test(line)) marks.push(performance.now());
        child.emit('progress', line);
      }
    });
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop();
      let json = null;
      try {
        json = JSON.parse(last);
      } catch {}
      resolve({ code, json });
    });
    resolve.child = child;
    runLoad.current = child;
  });
}

function rateOf(json) {
  return json.msgs_per_s ?? json.deliveries_per_s ?? json.handshakes_per_s ?? null;
}

async function measure(v) {
  const { child: server, port } = await startServer(v.script);
  const pid = server.pid;
  let first = null;
  let last = null;
  const loadDone = runLoad(port);
  runLoad.current.on('progress', (line) => {
    if (!/^\[\s*[\d.]+s\] measure\b/.test(line)) return;
    const s = { ...readStat(pid), at: performance.now() };
    if (first === null) first = s;
    else last = s;
  });
  const { code, json } = await loadDone;
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  if (json === null || first === null || last === null) return { ok: false, code };
  const secs = (last.at - first.at) / 1000;
  const rate = rateOf(json);
  const units = rate * secs;
  return {
    ok: code === 0,
    rate,
    user: ((last.utime - first.utime) * 1e6) / units,
    sys: ((last.stime - first.stime) * 1e6) / units,
    flt: (last.minflt - first.minflt) / units,
    rd: (last.syscr - first.syscr) / units,
    wr: (last.syscw - first.syscw) / units,
    cpuPct: ((last.utime - first.utime + last.stime - first.stime) / secs) * 100,
  };
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const results = new Map(variants.map((v) => [v.name, []]));
const rounds = Number(values.rounds);
for (let r = 0; r < rounds; r++) {
  // Rotate the order every round, so drift hits every variant alike.
  for (let k = 0; k < variants.length; k++) {
    const v = variants[(k + r) % variants.length];
    const m = await measure(v);
    if (!m.ok) console.error(`round ${r} ${v.name}: failed (${m.code})`);
    else results.get(v.name).push(m);
    const f = (x, d = 2) => (x === undefined ? '-' : x.toFixed(d));
    console.error(
      `round ${r} ${v.name}: rate ${f(m.rate, 0)} user ${f(m.user)} sys ${f(m.sys)} µs/unit, flt ${f(m.flt, 3)}, reads ${f(m.rd, 3)} writes ${f(m.wr, 3)} /unit, cpu ${f(m.cpuPct, 0)}%`,
    );
  }
}
console.log(`load: wsload ${values.load}; ${rounds} rounds; medians (µs of server CPU per unit)`);
console.log('variant  user  sys  total  faults/unit  reads/unit  writes/unit  rate  cpu%');
for (const [name, ms] of results) {
  if (ms.length === 0) continue;
  const total = ms.map((m) => m.user + m.sys);
  console.log(
    `${name}  ${median(ms.map((m) => m.user)).toFixed(3)}  ${median(ms.map((m) => m.sys)).toFixed(3)}  ${median(total).toFixed(3)}  ${median(ms.map((m) => m.flt)).toFixed(4)}  ${median(ms.map((m) => m.rd)).toFixed(3)}  ${median(ms.map((m) => m.wr)).toFixed(3)}  ${median(ms.map((m) => m.rate)).toFixed(0)}  ${median(ms.map((m) => m.cpuPct)).toFixed(0)}`,
  );
}
