/**
 * ws's own README examples (read from node_modules/ws/README.md at run time, not copied here) run
 * as programs twice: importing 'ws', then importing 'riptide', nothing else changed between the
 * two runs. What a peer written with ws sees of each (messages, their type, events, close codes,
 * status codes) and what the program prints must be the same.
 *
 * The same rewrites apply to both runs, for the examples to run here: port 8080 becomes 0 (a
 * hook preloaded into the program says which port it got), the remote hosts become a local
 * server, the certificate paths the test's, `authenticate` (left to the reader) is given, and the
 * client heartbeat example's timers run a hundred times faster, and the server heartbeat's
 * interval runs when the test says.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WS, { WebSocketServer as WsServer } from 'ws';
import { ensureBuilt, packageRoot } from '../package-entry.js';
import { once } from './helpers.js';

type Lib = 'ws' | 'riptide';

const readme = readFileSync(join(packageRoot, '..', '..', 'node_modules', 'ws', 'README.md'), 'utf8');

/** The README's `js` code blocks under a heading, in order. */
function examples(heading: string): string[] {
  const at = readme.indexOf(`${heading}\n`);
  if (at === -1) throw new Error(`no section ${heading} in ws's README`);
  const next = readme.slice(at + heading.length).search(/^#{2,3} /m);
  const section = readme.slice(at, next === -1 ? undefined : at + heading.length + next);
  return [...section.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

const fixtures = join(packageRoot, 'test', 'fixtures');

/**
 * Preloaded (`-r`) into each program: prints the port of each server that listens; defines the
 * README's `authenticate` (a request whose `x-user` header names the client); with
 * FAST_TIMERS=n, runs timers n times faster.
 */
const PRELOAD = `const net = require('node:net');
const emit = net.Server.prototype.emit;
net.Server.prototype.emit = function (event, ...args) {
  if (event === 'listening') process.stderr.write('(test) listening on port ' + this.address().port + '\\n');
  return emit.call(this, event, ...args);
};
globalThis.authenticate = (request, next) => {
  const user = request.headers['x-user'];
  if (user === undefined) next(new Error('who are you?'));
  else next(null, user);
};
if (process.env.TICKS) {
  // setInterval's callbacks run when the test writes a line to stdin (each run then says
  // "(test) tick N" on stderr), not on the clock: a loaded machine cannot make a pong late.
  const intervals = [];
  globalThis.setInterval = (fn, _ms, ...args) => {
    const entry = { fn, args };
    intervals.push(entry);
    return entry;
  };
  globalThis.clearInterval = (entry) => {
    const at = intervals.indexOf(entry);
    if (at !== -1) intervals.splice(at, 1);
  };
  let ticks = 0;
  let line = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (text) => {
    line += text;
    for (let at = line.indexOf('\\n'); at !== -1; at = line.indexOf('\\n')) {
      line = line.slice(at + 1);
      for (const { fn, args } of [...intervals]) fn(...args);
      process.stderr.write('(test) tick ' + ++ticks + '\\n');
    }
  });
}
if (process.env.FAST_TIMERS) {
  const factor = Number(process.env.FAST_TIMERS);
  for (const name of ['setTimeout', 'setInterval']) {
    const original = globalThis[name];
    globalThis[name] = (fn, ms, ...args) => original(fn, Math.ceil((ms ?? 0) / factor), ...args);
  }
}
`;

let dir: string;
const children: ChildProcess[] = [];
/** What each program of the scenario running printed to stderr, but for the port hook's lines. */
let stderrs: (() => string)[] = [];
const cleanups: (() => void | Promise<void>)[] = [];

beforeAll(() => {
  ensureBuilt();
  // In the package, so that 'ws' and 'riptide' resolve from the programs as from an application.
  dir = mkdtempSync(join(packageRoot, 'test', '.ws-readme-'));
  writeFileSync(join(dir, 'preload.cjs'), PRELOAD);
}, 120_000);
afterEach(async () => {
  for (const c of children.splice(0)) c.kill();
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let count = 0;

/** Run `code` importing `lib`, with the rewrites for this test given as [from, to] pairs. */
function run(
  lib: Lib,
  code: string,
  rewrites: [string | RegExp, string][] = [],
  env: Record<string, string> = {},
) {
  let source = code.replaceAll(/from 'ws';/g, `from '${lib}';`);
  for (const [from, to] of rewrites) source = source.replaceAll(from, to);
  const file = join(dir, `example-${++count}-${lib}.mjs`);
  writeFileSync(file, source);
  const child = spawn(process.execPath, ['-r', join(dir, 'preload.cjs'), file], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  stderrs.push(() => stderr.replaceAll(/^\(test\) .*\n/gm, ''));
  return {
    child,
    exited,
    stdout: () => stdout,
    /** Resolves once stdout or stderr holds `pattern`, with the match; rejects if the program ends first. */
    waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = (stdout + stderr).match(pattern);
          if (match === null) return;
          child.stdout!.off('data', check);
          child.stderr!.off('data', check);
          resolve(match);
        };
        child.stdout!.on('data', check);
        child.stderr!.on('data', check);
        void exited.then(() => reject(new Error(`${file} ended without ${pattern}:\n${stdout}${stderr}`)));
        check();
      });
    },
  };
}

/** Run a server example; resolves with its port once it listens. */
async function serve(lib: Lib, code: string, rewrites: [string | RegExp, string][] = [], env = {}) {
  const program = run(lib, code, [[/\b8080\b/g, '0'], ...rewrites], env);
  const [, port] = await program.waitFor(/\(test\) listening on port (\d+)\n/);
  return { ...program, port: Number(port) };
}

/** A ws server for a client example to talk to (the README's remote hosts). */
async function peerServer(options: ConstructorParameters<typeof WsServer>[0] = {}) {
  const wss = new WsServer({ port: 0, host: '127.0.0.1', ...options });
  await once(wss, 'listening');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  );
  return { wss, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
}

/** A ws client of an example's server; records what it gets. */
async function peerClient(url: string, options: ConstructorParameters<typeof WS>[2] = {}) {
  const ws = new WS(url, options);
  cleanups.push(() => ws.terminate());
  const got: string[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) =>
    got.push(`${isBinary ? 'binary' : 'text'} ${isBinary ? data.toString('hex') : data.toString()}`),
  );
  ws.on('close', (code) => got.push(`close ${code}`));
  const opened = await new Promise<string>((resolve) => {
    ws.once('open', () => resolve('open'));
    ws.once('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`));
    ws.once('error', (err: Error & { code?: string }) => resolve(`error ${err.code ?? ''} ${err.message}`));
  });
  return { ws, got, opened };
}

/** What arrived from a peer, as a line: `text hello`, `binary 0102`. */
function describeMessage(data: Buffer, isBinary: boolean): string {
  return `${isBinary ? 'binary' : 'text'} ${isBinary ? data.toString('hex') : data.toString()}`;
}

/** Run a scenario with ws, then with riptide, and compare what each showed. */
async function same(scenario: (lib: Lib) => Promise<unknown>): Promise<unknown> {
  // Copies: the lists a peer records go on growing as the clean-ups close it. What the programs
  // printed to stderr (warnings, errors) is compared too.
  const observe = async (lib: Lib) => {
    stderrs = [];
    const seen = structuredClone(await scenario(lib));
    return { seen, stderr: stderrs.map((read) => read()) };
  };
  const reference = await observe('ws');
  for (const c of children.splice(0)) c.kill();
  for (const c of cleanups.splice(0).reverse()) await c();
  expect(await observe('riptide')).toEqual(reference);
  return reference.seen;
}

describe("ws's README examples, with 'riptide' imported instead of 'ws'", () => {
  it('WebSocket compression: the server example negotiates what ws negotiates', async () => {
    const [code] = examples('## WebSocket compression');
    const seen = await same(async (lib) => {
      const { port } = await serve(lib, code);
      const { ws, opened } = await peerClient(`ws://127.0.0.1:${port}`);
      return [opened, ws.extensions];
    });
    expect((seen as string[])[1]).toContain('permessage-deflate');
  });

  it('WebSocket compression: a client with perMessageDeflate false offers nothing', async () => {
    const [, code] = examples('## WebSocket compression');
    await same(async (lib) => {
      const { wss, url } = await peerServer();
      const request = once<[WS, { headers: Record<string, string> }]>(wss, 'connection');
      run(lib, code, [['ws://www.host.com/path', `${url}/path`]]);
      const [, req] = await request;
      return [req.headers['sec-websocket-extensions'] ?? 'no extensions'];
    });
  });

  it('Sending and receiving text data', async () => {
    const [code] = examples('### Sending and receiving text data');
    const seen = await same(async (lib) => {
      const { wss, url } = await peerServer();
      const connected = once<[WS, { url: string }]>(wss, 'connection');
      const program = run(lib, code, [['ws://www.host.com/path', `${url}/path`]]);
      const [peer, req] = await connected;
      const [data, isBinary] = await once<[Buffer, boolean]>(peer, 'message');
      peer.send('text back');
      peer.send(Buffer.from('binary back'));
      await program.waitFor(/received: binary back\n/);
      peer.close(1000);
      const exit = await program.exited;
      return [req.url, describeMessage(data, isBinary), program.stdout(), exit];
    });
    expect(seen).toEqual(['/path', 'text something', 'received: text back\nreceived: binary back\n', 0]);
  });

  it('Sending binary data: a Float32Array', async () => {
    const [code] = examples('### Sending binary data');
    await same(async (lib) => {
      const { wss, url } = await peerServer();
      const connected = once<[WS]>(wss, 'connection');
      run(lib, code, [['ws://www.host.com/path', `${url}/path`]]);
      const [peer] = await connected;
      return describeMessage(...(await once<[Buffer, boolean]>(peer, 'message')));
    });
  });

  it('Simple server', async () => {
    const [code] = examples('### Simple server');
    const seen = await same(async (lib) => {
      const program = await serve(lib, code);
      const { ws, got, opened } = await peerClient(`ws://127.0.0.1:${program.port}`);
      while (got.length < 1) await once(ws, 'message');
      ws.send('hello');
      ws.send(Buffer.from([0x68, 0x69]));
      await program.waitFor(/received: hi\n/);
      return [opened, got, program.stdout()];
    });
    expect(seen).toEqual(['open', ['text something'], 'received: hello\nreceived: hi\n']);
  });

  it('External HTTP/S server', async () => {
    const [code] = examples('### External HTTP/S server');
    await same(async (lib) => {
      const program = await serve(lib, code, [
        ['/path/to/cert.pem', join(fixtures, 'test-cert.pem')],
        ['/path/to/key.pem', join(fixtures, 'test-key.pem')],
      ]);
      const { ws, got, opened } = await peerClient(`wss://127.0.0.1:${program.port}`, {
        rejectUnauthorized: false,
      });
      while (got.length < 1) await once(ws, 'message');
      ws.send('over tls');
      await program.waitFor(/received: over tls\n/);
      return [opened, got, program.stdout()];
    });
  });

  it('Multiple servers sharing a single HTTP/S server: noServer, handleUpgrade, routing by path', async () => {
    const [code] = examples('### Multiple servers sharing a single HTTP/S server');
    const seen = await same(async (lib) => {
      const { port } = await serve(lib, code);
      const foo = await peerClient(`ws://127.0.0.1:${port}/foo`);
      const bar = await peerClient(`ws://127.0.0.1:${port}/bar?x=1`);
      const other = await peerClient(`ws://127.0.0.1:${port}/baz`);
      foo.ws.close(4001);
      bar.ws.close(4002);
      await Promise.all([once(foo.ws, 'close'), once(bar.ws, 'close')]);
      return [foo.opened, bar.opened, other.opened, foo.got, bar.got];
    });
    expect((seen as string[]).slice(0, 2)).toEqual(['open', 'open']);
  });

  it('Client authentication: 401 without a user, the user given to the connection handler', async () => {
    const [code] = examples('### Client authentication');
    const seen = await same(async (lib) => {
      const program = await serve(lib, code);
      const stranger = await peerClient(`ws://127.0.0.1:${program.port}`);
      const alice = await peerClient(`ws://127.0.0.1:${program.port}`, { headers: { 'x-user': 'alice' } });
      alice.ws.send('hi');
      await program.waitFor(/from user alice\n/);
      return [stranger.opened, alice.opened, program.stdout()];
    });
    expect(seen).toEqual(['refused 401', 'open', 'Received message hi from user alice\n']);
  });

  it.each([
    [0, 'to every client, the sender included'],
    [1, 'to every other client'],
  ])('Server broadcast %i: %s, text and binary as they came', async (index) => {
    const code = examples('### Server broadcast')[index];
    await same(async (lib) => {
      const { port } = await serve(lib, code);
      const clients = [];
      for (let i = 0; i < 3; i++) clients.push(await peerClient(`ws://127.0.0.1:${port}`));
      const [a, b, c] = clients;
      a.ws.send('to all');
      a.ws.send(Buffer.from([1, 2, 3]));
      // b and c get both; a gets both back, or nothing (then its own close is the barrier).
      for (const { ws, got } of [b, c]) while (got.length < 2) await once(ws, 'message');
      a.ws.close(1000);
      await once(a.ws, 'close');
      return clients.map(({ got }) => got);
    });
  });

  it('Round-trip time: a number sent, echoed, read back as a number', async () => {
    const [code] = examples('### Round-trip time');
    const seen = await same(async (lib) => {
      const { wss, url } = await peerServer();
      const received: string[] = [];
      wss.on('connection', (peer) =>
        peer.on('message', (data: Buffer, isBinary: boolean) => {
          received.push(
            `${isBinary ? 'binary' : 'text'} ${/^\d{13}$/.test(data.toString()) ? 'a time' : data}`,
          );
          peer.send(data, { binary: isBinary });
          if (received.length === 2) peer.close(1000);
        }),
      );
      const program = run(lib, code, [['wss://websocket-echo.com/', `${url}/`]], { FAST_TIMERS: '100' });
      const exit = await program.exited;
      return [
        received,
        program.stdout().replaceAll(/Round-trip time: \d+ ms/g, 'Round-trip time: N ms'),
        exit,
      ];
    });
    expect(seen).toEqual([
      ['text a time', 'text a time'],
      'connected\nRound-trip time: N ms\nRound-trip time: N ms\ndisconnected\n',
      0,
    ]);
  });

  it('Use the Node.js streams API: stdin to the WebSocket, the WebSocket to stdout', async () => {
    const [code] = examples('### Use the Node.js streams API');
    const seen = await same(async (lib) => {
      const { wss, url } = await peerServer();
      const connected = once<[WS]>(wss, 'connection');
      const program = run(lib, code, [['wss://websocket-echo.com/', `${url}/`]]);
      const [peer] = await connected;
      const received: string[] = [];
      peer.on('message', (data: Buffer, isBinary: boolean) => {
        received.push(describeMessage(data, isBinary));
        peer.send(`echo ${data}`);
      });
      const closed = once<[number]>(peer, 'close');
      program.child.stdin!.write('line one\n');
      await program.waitFor(/echo line one\n/);
      program.child.stdin!.end();
      const [code_] = await closed;
      return [received, program.stdout(), code_, await program.exited];
    });
    expect(seen).toEqual([['binary 6c696e65206f6e650a'], 'echo line one\n', 1005, 0]);
  });

  it('How to get the IP address of the client: the request is the upgrade request', async () => {
    const [code] = examples('### How to get the IP address of the client?');
    await same(async (lib) => {
      const program = await serve(
        lib,
        code.replace('const ip = req.socket.remoteAddress;', '$&\n  console.log(ip);'),
      );
      await peerClient(`ws://127.0.0.1:${program.port}`);
      await program.waitFor(/127\.0\.0\.1\n/);
      return program.stdout();
    });
  });

  it('How to detect and close broken connections: the server terminates a client that does not answer pings', async () => {
    const [code] = examples('### How to detect and close broken connections?');
    const seen = await same(async (lib) => {
      // The example's 30 s interval runs when the test says (TICKS), and the live client's pong
      // is known to have reached the server before the next run: no race with the clock.
      const program = await serve(lib, code, [], { TICKS: '1' });
      let ticks = 0;
      const tick = async () => {
        program.child.stdin!.write('tick\n');
        await program.waitFor(new RegExp(`\\(test\\) tick ${++ticks}\\n`));
      };
      const alive = await peerClient(`ws://127.0.0.1:${program.port}`);
      const silent = await peerClient(`ws://127.0.0.1:${program.port}`, { autoPong: false });
      // Its pong went before this ping, so the server read it before answering ours.
      const pongRead = async () => {
        const pong = once(alive.ws, 'pong');
        alive.ws.ping();
        await pong;
      };
      const pings = [once(alive.ws, 'ping'), once(silent.ws, 'ping')];
      await tick();
      await Promise.all(pings);
      await pongRead();
      const closed = once(silent.ws, 'close');
      let ping = once(alive.ws, 'ping');
      await tick(); // the silent one answered nothing: terminated; the live one pinged again
      await Promise.all([closed, ping]);
      await pongRead();
      ping = once(alive.ws, 'ping');
      await tick();
      await ping;
      return [silent.got, alive.ws.readyState];
    });
    expect(seen).toEqual([['close 1006'], WS.OPEN]);
  });

  it('How to detect and close broken connections: the client terminates when the pings stop', async () => {
    const [, code] = examples('### How to detect and close broken connections?');
    await same(async (lib) => {
      const { wss, url } = await peerServer({ autoPong: true });
      const connected = once<[WS]>(wss, 'connection');
      const program = run(lib, code, [['wss://websocket-echo.com/', `${url}/`]], { FAST_TIMERS: '100' });
      const [peer] = await connected;
      const closed = once<[number]>(peer, 'close');
      peer.ping();
      return [(await closed)[0], await program.exited, program.stdout()];
    });
  });
});
