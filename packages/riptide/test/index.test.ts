import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, packageRoot } from './package-entry.js';

beforeAll(() => ensureBuilt(), 120_000);

function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: packageRoot, encoding: 'utf8' }).trim();
}

describe('the package entry points', () => {
  it("CommonJS: require('riptide') is WebSocket, with the other exports as properties (like ws)", () => {
    const out = run([
      '-e',
      `const WebSocket = require('riptide');
       const r = {
         name: WebSocket.name,
         server: WebSocket.Server === WebSocket.WebSocketServer && typeof WebSocket.Server,
         self: WebSocket.WebSocket === WebSocket,
         stream: typeof WebSocket.createWebSocketStream,
         states: [WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED],
         errors: [typeof WebSocket.UsageError, typeof WebSocket.ProtocolError, WebSocket.CloseCode.NORMAL],
       };
       process.stdout.write(JSON.stringify(r));`,
    ]);
    expect(JSON.parse(out)).toEqual({
      name: 'WebSocket',
      server: 'function',
      self: true,
      stream: 'function',
      states: [0, 1, 2, 3],
      errors: ['function', 'function', 1000],
    });
  });

  it("ESM: import WebSocket, { WebSocketServer } from 'riptide'", () => {
    const out = run([
      '--input-type=module',
      '-e',
      `import WebSocket, { WebSocketServer, Server, WebSocket as Named, createWebSocketStream } from 'riptide';
       process.stdout.write(JSON.stringify([WebSocket.name, WebSocketServer === Server, Named === WebSocket, typeof createWebSocketStream]));`,
    ]);
    expect(JSON.parse(out)).toEqual(['WebSocket', true, true, 'function']);
  });

  it('a CommonJS server and an ESM client talk to each other', () => {
    const out = run([
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';
       import WebSocket from 'riptide';
       const require = createRequire(import.meta.url);
       const CJS = require('riptide');
       const wss = new CJS.Server({ port: 0 }, () => {
         const ws = new WebSocket('ws://127.0.0.1:' + wss.address().port);
         ws.on('message', (m) => { process.stdout.write(String(m)); ws.close(); wss.close(); });
       });
       wss.on('connection', (ws) => ws.send('hello from cjs'));`,
    ]);
    expect(out).toBe('hello from cjs');
  });

  it("require('riptide')'s named properties can be replaced, as ws's (a test double's stub or spy)", () => {
    const script = (name: string) => `
      const m = require('${name}');
      const keys = ['Server', 'WebSocketServer', 'WebSocket', 'createWebSocketStream'];
      const shape = keys.map((k) => {
        const d = Object.getOwnPropertyDescriptor(m, k);
        return [k, d.writable, d.enumerable, d.configurable];
      });
      const original = m.createWebSocketStream;
      m.createWebSocketStream = () => 'stubbed';
      const stubbed = m.createWebSocketStream();
      m.createWebSocketStream = original;
      process.stdout.write(JSON.stringify([shape, stubbed, delete m.Server, 'Server' in m]));`;
    const ours = JSON.parse(run(['-e', script('riptide')]));
    expect(ours).toEqual(JSON.parse(run(['-e', script('ws')])));
    expect(ours[1]).toBe('stubbed');
  });
});

describe('the declarations (dist/*.d.ts)', () => {
  it("type-check code written for ws against both entry points, and keep riptide's internals out", () => {
    const dir = mkdtempSync(join(packageRoot, 'test', '.typecheck-'));
    try {
      writeFileSync(
        join(dir, 'consumer.cts'),
        `import WebSocket = require('riptide');
const wss: WebSocket.Server = new WebSocket.Server({ port: 0 });
const options: WebSocket.ServerOptions = { noServer: true, maxPayload: 1024 };
const ws = new WebSocket('ws://localhost:1', { perMessageDeflate: false });
const open: number = WebSocket.OPEN;
ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => void [data, isBinary]);
const usage: typeof WebSocket.UsageError = WebSocket.UsageError;
const server: WebSocket.WebSocketServer = wss;
// @ts-expect-error: internal members are stripped from the declarations
ws._proto;
export { open, options, server, usage };
`,
      );
      writeFileSync(
        join(dir, 'consumer.mts'),
        `import WebSocket, { type ServerOptions, WebSocketServer } from 'riptide';
const wss = new WebSocketServer({ noServer: true } satisfies ServerOptions);
wss.on('connection', (ws: WebSocket) => ws.send('hi'));
// ws's README broadcast and the README's publish: what a listener gets can be sent on as is.
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    for (const client of wss.clients)
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    wss.publish('news', data, { binary: isBinary });
  });
  // The browser API's events are typed by name, as in ws.
  ws.addEventListener('message', (event) => void event.data);
  ws.addEventListener('close', (event) => void [event.code, event.reason, event.wasClean]);
  ws.onclose = (event) => void event.code;
});
// The README's client: every error carries its code (RiptideError's, or Node's for a socket's).
const client = new WebSocket('wss://example.org/feed', ['v1'], { handshakeTimeout: 5_000 });
client.on('error', (err) => console.error(err.code, err.message));
wss.on('error', (err) => void err.code);
// @ts-expect-error: internal members are stripped from the declarations
wss._sweep();
`,
      );
      // The README's library examples, verbatim: a renamed option or method there fails here.
      const readme = readFileSync(join(packageRoot, '..', '..', 'README.md'), 'utf8');
      const section = readme.split('\n## The library\n')[1].split('\n## ')[0];
      const examples = [...section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
      expect(examples).toHaveLength(2);
      const exampleFiles = examples.map((code, i) => {
        writeFileSync(join(dir, `readme-${i}.mts`), code);
        return `readme-${i}.mts`;
      });
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            target: 'ES2022',
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: ['node'],
          },
          include: ['consumer.cts', 'consumer.mts', ...exampleFiles],
        }),
      );
      const tsc = join(packageRoot, '..', '..', 'node_modules', 'typescript', 'bin', 'tsc');
      execFileSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8' });
    } catch (err) {
      throw new Error(String((err as { stdout?: string }).stdout ?? err));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const declaration = readFileSync(join(packageRoot, 'dist', 'esm', 'node', 'websocket.d.ts'), 'utf8');
    // Declarations of internal members (the file's header may name them in prose).
    expect(declaration).not.toMatch(/@internal|^\s+(_proto|_flush\(|_attach\(|_flags)/m);
    expect(declaration).toMatch(/^\s+_socket: Duplex \| null;$/m);
    expect(readFileSync(join(packageRoot, 'dist', 'cjs', 'index.d.cts'), 'utf8')).toMatch(
      /^export = WebSocket;$/m,
    );
    // A hang guard, not a speed check: tsc over both entry points took 37 s at load 18.
  }, 240_000);
});

describe('instanceof between the ESM and the CommonJS copy (Symbol.for brands)', () => {
  it("a WebSocket, a WebSocketServer and the error classes of one copy are instances of the other's", () => {
    const out = run([
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';
       import * as esm from 'riptide';
       const cjs = createRequire(import.meta.url)('riptide');
       const wss = new cjs.Server({ noServer: true });
       const ws = new esm.WebSocket('ws://127.0.0.1:1');
       ws.on('error', () => {});
       ws.terminate();
       class Mine extends cjs.WebSocket {}
       const r = [
         esm.WebSocket !== cjs.WebSocket,
         ws instanceof cjs.WebSocket,
         wss instanceof esm.WebSocketServer,
         new esm.UsageError('X', 'y') instanceof cjs.UsageError,
         new cjs.ProtocolError('WS_ERR_INVALID_UTF8') instanceof esm.RiptideError,
         ws instanceof Mine,
         new esm.WebSocketServer({ noServer: true, WebSocket: Mine }) instanceof cjs.Server,
       ];
       wss.close();
       process.stdout.write(JSON.stringify(r));`,
    ]);
    expect(JSON.parse(out)).toEqual([true, true, true, true, true, false, true]);
  });
});
