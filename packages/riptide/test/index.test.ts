import { execFileSync } from 'node:child_process';
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
});
