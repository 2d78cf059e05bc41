// What a server's JavaScript heap keeps per idle connection, by object kind: two heap snapshots
// of the same bench server (bench/servers/<echo script>, run with --heapsnapshot-signal), one
// before and one with N connections held open by `bench/wsload/wsload hold`; the self sizes of
// every node, summed by V8's type and name (constructor, closure name, "(string)", ...), the
// difference divided by N. A snapshot runs a full garbage collection first, so only what is
// reachable counts. Counts, not timings.
//
//   node bench/retained-heap.mjs [--servers riptide,raw] [--conns 2000] [--min 4]
//
// Prints one JSON line per server: bytes per connection in total and by kind (kinds below
// --min bytes per connection are summed into "other"). Needs `make -C bench/wsload` and
// `npm run build`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { spawnHold } from './lib/hold.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const SCRIPTS = { riptide: 'riptide-echo.mjs', ws: 'ws-echo.mjs', raw: 'raw-net.mjs' };

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1];
};
const servers = opt('servers', 'riptide,raw').split(',');
const conns = Number(opt('conns', '2000'));
const min = Number(opt('min', '4'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Self sizes summed by "type name" from a .heapsnapshot's text. */
export function sizesByKind(text) {
  const snap = JSON.parse(text);
  const meta = snap.snapshot.meta;
  const fields = meta.node_fields;
  const types = meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const out = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    let name = snap.strings[nodes[i + iName]];
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    else if (type === 'number' || type === 'code' || type === 'hidden') name = name.length > 40 ? '' : name;
    else if (name.length > 60) name = `${name.slice(0, 57)}...`;
    const key = `${type} ${name}`.trim();
    out.set(key, (out.get(key) ?? 0) + nodes[i + iSize]);
  }
  return out;
}

async function snapshot(server, dir) {
  const before = new Set(readdirSync(dir));
  server.kill('SIGUSR2');
  for (;;) {
    await sleep(200);
    const added = readdirSync(dir).filter((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (added.length === 0) continue;
    const file = join(dir, added[0]);
    // Written in one go; wait until its size stops changing.
    let last = -1;
    for (;;) {
      const text = readFileSync(file, 'utf8');
      if (text.length === last && text.endsWith('}')) {
        try {
          return sizesByKind(text);
        } catch {}
      }
      last = text.length;
      await sleep(300);
    }
  }
}

async function measure(name) {
  const dir = mkdtempSync(join(tmpdir(), 'retained-heap-'));
  const server = spawn(
    'taskset',
    ['-c', '0', process.execPath, '--heapsnapshot-signal=SIGUSR2', `${here}servers/${SCRIPTS[name]}`, '0'],
    { stdio: ['ignore', 'pipe', 'inherit'], cwd: dir },
  );
  const port = await new Promise((resolve) => {
    createInterface({ input: server.stdout }).on('line', (line) => {
      const m = /^listening (\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
  });
  await sleep(500);
  const base = await snapshot(server, dir);
  const load = spawnHold(name, port, conns, 600);
  await new Promise((resolve) => {
    createInterface({ input: load.stdout }).on('line', (line) => {
      if (line.startsWith('{"mode":"hold","open":')) resolve();
    });
  });
  await sleep(1000);
  const withConns = await snapshot(server, dir);
  load.kill('SIGINT');
  await new Promise((r) => load.once('exit', r));
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  const per = {};
  let total = 0;
  let other = 0;
  for (const key of new Set([...base.keys(), ...withConns.keys()])) {
    const d = ((withConns.get(key) ?? 0) - (base.get(key) ?? 0)) / conns;
    total += d;
    if (Math.abs(d) >= min) per[key] = Math.round(d);
    else other += d;
  }
  const sorted = Object.fromEntries(Object.entries(per).sort((a, b) => b[1] - a[1]));
  return { server: name, conns, perConn: Math.round(total), byKind: { ...sorted, other: Math.round(other) } };
}

for (const name of servers) console.log(JSON.stringify(await measure(name)));
