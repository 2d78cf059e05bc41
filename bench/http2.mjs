// WebSockets over HTTP/2 (RFC 8441) against WebSockets over their own TLS connections, with
// riptide on both sides (issue 18):
//
//   1. N WebSockets on ONE HTTP/2 connection vs N WebSockets on N TLS connections (HTTP/1.1
//      upgrades): the server's and the client's memory per WebSocket (RSS and V8 heap growth after
//      a full GC), and the time to open each WebSocket (opened one after another).
//   2. Echo throughput of one WebSocket: over one HTTP/2 stream vs over one TLS connection, for
//      small and large messages, with a window of messages in flight.
//
// The server and the client run in separate processes (node --expose-gc), pinned to different
// cores when taskset is there, as bench/run.mjs does. Both modes talk TLS: browsers only speak
// HTTP/2 over TLS, and the saving HTTP/2 brings is mostly the TLS connections it does not open.
// `--plain` runs the same over cleartext (h2c with prior knowledge vs ws://).
//
// Run (after `npm run build`):
//   node bench/http2.mjs [--conns 1000] [--rounds 3] [--plain] [--server-window BYTES] [--skip-conns]
// --server-window raises the server's HTTP/2 receive windows (docs/http2.md, "Tuning a server").
// Results: a table on stdout and bench/results/dev/http2.json (git-ignored).
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = fileURLToPath(import.meta.url);
const lib = new URL('../packages/riptide/dist/esm/index.js', import.meta.url);
const fixtures = new URL('../packages/riptide/test/fixtures/', import.meta.url);

const ECHO_SIZES = [
  { size: 64, messages: 40_000 },
  { size: 16 * 1024, messages: 8_000 },
  { size: 1024 * 1024, messages: 200 },
];
const WINDOW = 32;

// ------------------------------------------------------------------------------------------
// server child: an echo server on node's HTTP/2 secure server (HTTP/1.1 allowed) or, with
// --plain, a cleartext HTTP/2 server for h2c and an http.Server for ws://

async function server(plain, mode, window) {
  const { WebSocketServer } = await import(lib);
  let http;
  if (plain) {
    http =
      mode === 'h2'
        ? (await import('node:http2')).createServer()
        : (await import('node:http')).createServer();
  } else {
    const { createSecureServer } = await import('node:http2');
    http = createSecureServer({
      key: readFileSync(new URL('test-key.pem', fixtures)),
      cert: readFileSync(new URL('test-cert.pem', fixtures)),
      allowHTTP1: true,
      ...(window > 0 ? { settings: { initialWindowSize: window } } : {}),
    });
  }
  // --server-window: the tuning docs/http2.md describes (per stream, and 4x per connection)
  if (window > 0) http.on('session', (session) => session.setLocalWindowSize(4 * window));
  const wss = new WebSocketServer({ server: http, maxPayload: 0 });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  http.listen(0, '127.0.0.1', () => process.send({ listening: http.address().port }));
  process.on('message', (msg) => {
    if (msg === 'memory') process.send({ memory: memory(), clients: wss.clients.size });
  });
}

function memory() {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

// ------------------------------------------------------------------------------------------
// client child

async function client(plain, mode, port, task, conns) {
  const { WebSocket } = await import(lib);
  const url = `${plain ? 'ws' : 'wss'}://127.0.0.1:${port}/`;
  const options = { rejectUnauthorized: false, perMessageDeflate: false, http2: mode === 'h2' };
  const open = () =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });

  if (task === 'conns') {
    const before = memory();
    process.send({ before });
    const sockets = [];
    const times = [];
    for (let i = 0; i < conns; i++) {
      const t0 = process.hrtime.bigint();
      sockets.push(await open());
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    // one round trip on every WebSocket: all are really open
    await Promise.all(
      sockets.map(
        (ws) =>
          new Promise((resolve) => {
            ws.once('message', resolve);
            ws.send('x');
          }),
      ),
    );
    process.send({ after: memory(), times });
    await new Promise((resolve) => process.once('message', resolve));
    for (const ws of sockets) ws.terminate();
    return;
  }

  // task 'echo': one WebSocket, WINDOW messages in flight
  const ws = await open();
  const results = [];
  for (const { size, messages } of ECHO_SIZES) {
    const payload = Buffer.alloc(size, 0x61);
    // warm-up: a tenth of the messages
    await echoRun(ws, payload, Math.max(WINDOW, Math.floor(messages / 10)));
    const t0 = process.hrtime.bigint();
    await echoRun(ws, payload, messages);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    results.push({ size, messages, seconds });
  }
  process.send({ echo: results });
  ws.close();
}

function echoRun(ws, payload, total) {
  return new Promise((resolve) => {
    let sent = 0;
    let received = 0;
    const onMessage = () => {
      received++;
      if (received === total) {
        ws.off('message', onMessage);
        resolve();
      } else if (sent < total) {
        sent++;
        ws.send(payload);
      }
    };
    ws.on('message', onMessage);
    for (; sent < Math.min(WINDOW, total); sent++) ws.send(payload);
  });
}

// ------------------------------------------------------------------------------------------
// orchestrator

function hasTaskset() {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const TASKSET = hasTaskset();

function spawnRole(core, args) {
  const execArgv = ['--expose-gc'];
  // fork() cannot prefix taskset; pin the child itself once it runs (taskset -p on its pid).
  const child = fork(here, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (TASKSET)
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(child.pid)], { stdio: 'ignore' });
  return child;
}

function next(child, key) {
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (msg && key in msg) {
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(msg);
      }
    };
    const onExit = (code) => reject(new Error(`child exited (${code}) while waiting for ${key}`));
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** The arguments of a child: --role <role> <transport> <mode> and the role's own. */
function roleArgs(role, opts, mode, ...rest) {
  return ['--role', role, opts.plain ? 'plain' : 'tls', mode, ...rest.map(String)];
}

async function startServer(opts, mode) {
  const child = spawnRole(0, roleArgs('server', opts, mode, opts.window));
  const { listening } = await next(child, 'listening');
  return { child, port: listening };
}

async function echoRound(opts, mode) {
  const srv = await startServer(opts, mode);
  const cli = spawnRole(1, roleArgs('client', opts, mode, srv.port, 'echo', 0));
  const { echo } = await next(cli, 'echo');
  await new Promise((resolve) => cli.once('exit', resolve));
  srv.child.kill('SIGKILL');
  return echo;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function kib(bytes) {
  return (bytes / 1024).toFixed(1);
}

async function main() {
  const { values } = parseArgs({
    options: {
      conns: { type: 'string', default: '1000' },
      rounds: { type: 'string', default: '3' },
      plain: { type: 'boolean', default: false },
      'server-window': { type: 'string', default: '0' },
      'skip-conns': { type: 'boolean', default: false },
    },
  });
  const opts = { plain: values.plain, window: Number(values['server-window']) };
  const conns = Number(values.conns);
  const rounds = Number(values.rounds);
  const plain = values.plain;
  const label = {
    h1: plain ? 'ws:// (HTTP/1.1), one TCP connection each' : 'wss:// over HTTP/1.1, one TLS connection each',
    h2: plain ? 'h2c, one connection for all' : 'wss:// over HTTP/2, one TLS connection for all',
  };
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    plain,
    conns,
    rounds,
    taskset: TASKSET,
    serverWindow: opts.window,
    conn: {},
    echo: {},
  };

  for (const mode of values['skip-conns'] ? [] : ['h1', 'h2']) {
    const rows = [];
    for (let r = 0; r < rounds; r++) {
      rows.push(await connsRound(opts, mode, conns));
    }
    out.conn[mode] = {
      serverRssPerWs: median(rows.map((x) => (x.serverAfter.rss - x.base.rss) / conns)),
      serverHeapPerWs: median(rows.map((x) => (x.serverAfter.heapUsed - x.base.heapUsed) / conns)),
      clientRssPerWs: median(rows.map((x) => (x.clientAfter.rss - x.clientBefore.rss) / conns)),
      clientHeapPerWs: median(rows.map((x) => (x.clientAfter.heapUsed - x.clientBefore.heapUsed) / conns)),
      openMedianMs: median(rows.map((x) => median(x.times))),
      openMeanMs: median(rows.map((x) => x.times.reduce((a, b) => a + b, 0) / x.times.length)),
      firstOpenMs: median(rows.map((x) => x.times[0])),
    };
  }
  for (const mode of ['h1', 'h2']) {
    const runs = [];
    for (let r = 0; r < rounds; r++) runs.push(await echoRound(opts, mode));
    out.echo[mode] = ECHO_SIZES.map(({ size, messages }, i) => {
      const seconds = median(runs.map((run) => run[i].seconds));
      return {
        size,
        messages,
        seconds,
        perSecond: messages / seconds,
        mibPerSecond: (messages * size) / seconds / 2 ** 20,
      };
    });
  }

  const lines = [];
  lines.push(
    `riptide over HTTP/2 vs HTTP/1.1, ${plain ? 'cleartext' : 'TLS'}; node ${process.version}; median of ${rounds} rounds${TASKSET ? '; server on core 0, client on core 1' : ''}; server windows ${opts.window > 0 ? `${opts.window} B per stream, 4x per connection` : "node's defaults"}`,
  );
  lines.push('');
  if (!values['skip-conns']) {
    lines.push(
      `${conns} WebSockets, opened one after another | server RSS/ws | server heap/ws | client RSS/ws | client heap/ws | open, median | open, mean | first open`,
      '--- | ---: | ---: | ---: | ---: | ---: | ---: | ---:',
    );
    for (const mode of ['h1', 'h2']) {
      const c = out.conn[mode];
      lines.push(
        `${label[mode]} | ${kib(c.serverRssPerWs)} KiB | ${kib(c.serverHeapPerWs)} KiB | ${kib(c.clientRssPerWs)} KiB | ${kib(c.clientHeapPerWs)} KiB | ${c.openMedianMs.toFixed(2)} ms | ${c.openMeanMs.toFixed(2)} ms | ${c.firstOpenMs.toFixed(1)} ms`,
      );
    }
    lines.push('');
  }
  lines.push(
    `echo over one WebSocket, ${WINDOW} messages in flight | ${ECHO_SIZES.map((e) => `${e.size >= 1024 * 1024 ? `${e.size / 2 ** 20} MiB` : e.size >= 1024 ? `${e.size / 1024} KiB` : `${e.size} B`}`).join(' | ')}`,
  );
  lines.push(`--- | ${ECHO_SIZES.map(() => '---:').join(' | ')}`);
  for (const mode of ['h1', 'h2']) {
    lines.push(
      `${mode === 'h1' ? (plain ? 'one TCP connection' : 'one TLS connection (HTTP/1.1)') : plain ? 'one h2c stream' : 'one HTTP/2 stream (TLS)'} | ${out.echo[mode].map((e) => `${Math.round(e.perSecond).toLocaleString('en-US')} msg/s (${e.mibPerSecond.toFixed(1)} MiB/s)`).join(' | ')}`,
    );
  }
  console.log(lines.join('\n'));
  const dir = new URL('results/dev/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    new URL(`http2${plain ? '-plain' : ''}${opts.window > 0 ? '-window' : ''}.json`, dir),
    `${JSON.stringify(out, null, 2)}\n`,
  );
}

/**
 * One server, one client opening `conns` WebSockets: the server's memory before and after, the
 * client's (it reports its baseline before it opens anything), and each WebSocket's open time.
 */
async function connsRound(opts, mode, conns) {
  const srv = await startServer(opts, mode);
  srv.child.send('memory');
  const base = (await next(srv.child, 'memory')).memory;
  const cli = spawnRole(1, roleArgs('client', opts, mode, srv.port, 'conns', conns));
  const { before: clientBefore } = await next(cli, 'before');
  const { after: clientAfter, times } = await next(cli, 'after');
  srv.child.send('memory');
  const { memory: serverAfter, clients } = await next(srv.child, 'memory');
  if (clients !== conns) throw new Error(`${mode}: the server has ${clients} clients, expected ${conns}`);
  cli.send('done');
  await new Promise((resolve) => cli.once('exit', resolve));
  srv.child.kill('SIGKILL');
  return { base, serverAfter, clientBefore, clientAfter, times };
}

const roleAt = process.argv.indexOf('--role');
if (roleAt !== -1) {
  const [role, transport, mode, ...rest] = process.argv.slice(roleAt + 1);
  const plain = transport === 'plain';
  if (role === 'server') await server(plain, mode, Number(rest[0]));
  else await client(plain, mode, Number(rest[0]), rest[1], Number(rest[2]));
} else {
  await main();
}
