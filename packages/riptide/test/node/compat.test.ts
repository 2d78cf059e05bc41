/**
 * ws compatibility: the tutorials riptide grew from (/work/shared/seeds) run unchanged with
 * `require('ws')` swapped for `require('riptide')`. Only the fixed port is replaced by a free
 * one, so the tests can run side by side.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from '../../src/index.js';
import { ensureBuilt, packageRoot } from '../package-entry.js';
import { once } from './helpers.js';

// Seed 000: the server and the client, verbatim but for the require and the port.
const SERVER_000 = `const WebSocket = require('riptide');
const wss = new WebSocket.Server({ port: PORT });
wss.on('connection', (ws) => {
ws.on('message', (message) => {
console.log(\`Received: \${message}\`);
ws.send('Message received');
});
ws.on('close', () => {
console.log('Connection closed');
});
});
console.log('WebSocket server started');
`;

const CLIENT_000 = `const WebSocket = require('riptide');
const ws = new WebSocket('ws://localhost:PORT');
ws.onopen = () => {
console.log('WebSocket connection established');
ws.send('Hello server!');
};
ws.onmessage = (event) => {
console.log(\`Received: \${event.data}\`);
};
ws.onclose = () => {
console.log('WebSocket connection closed');
};
`;

// Seed 001: the server.
const SERVER_001 = `const Websocket = require("riptide");

// Creating a server listening for ws connections on this port
const wsServer = new Websocket.Server({port: PORT})

wsServer.on("connection", (socket) => {
	// do somethiong
	console.log("got connection request from Flyn, on socket ", typeof socket);

	socket.on("message", (msg)=>{
		// do somthing with the message which comes in as raw data not a string
		console.log("Flyn says: '", msg.toString(), "'");
		socket.send("Received, initiating...");
	});
})
`;

// Seed 002: the broadcast chat server.
const SERVER_002 = `const WebSocket = require('riptide');
const wss = new WebSocket.Server({ port: PORT });

wss.on('connection', (ws) => {
  console.log('New client connected');

  ws.on('message', (message) => {
    console.log(\`Received: \${message}\`);
    // Broadcast to all clients
    wss.clients.forEach((client) => {
      if (client.readyState === WebSocket.OPEN) {
        client.send(\`Server: \${message}\`);
      }
    });
  });

  ws.send('Welcome to the chat!');
});
`;

let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'riptide-compat-'));
}, 120_000);
afterEach(() => {
  for (const c of children.splice(0)) c.kill();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Run a script as a CommonJS program that resolves 'riptide' to this package. */
function runScript(name: string, source: string, port: number) {
  const file = join(dir, name);
  writeFileSync(file, source.replaceAll('PORT', String(port)));
  const child = spawn(process.execPath, [file], {
    env: { ...process.env, NODE_PATH: join(packageRoot, '..', '..', 'node_modules') },
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return {
    child,
    output: () => out,
    /** Resolves when the output holds `text` (checked on each chunk; no clock), rejects on exit. */
    waitFor(text: string): Promise<string> {
      return new Promise((resolve, reject) => {
        const done = () => {
          child.stdout!.off('data', check);
          child.stderr!.off('data', check);
          child.off('exit', exited);
        };
        const check = () => {
          if (!out.includes(text)) return;
          done();
          resolve(out);
        };
        const exited = (code: number | null) => {
          done();
          reject(
            new Error(`${name} exited (${code}) before printing ${JSON.stringify(text)}; output:\n${out}`),
          );
        };
        child.stdout!.on('data', check);
        child.stderr!.on('data', check);
        child.on('exit', exited);
        check();
        if (child.exitCode !== null) exited(child.exitCode);
      });
    },
  };
}

/**
 * Connect once the child's server listens (it prints nothing we could wait for): attempts until
 * one opens, however long the child takes to start on a loaded machine, while it runs.
 */
async function connectWhenUp(port: number, child: ChildProcess): Promise<WebSocket & { inbox: string[] }> {
  while (child.exitCode === null) {
    const attempt = Object.assign(new WebSocket(`ws://localhost:${port}`), { inbox: [] as string[] });
    // A welcome message can arrive together with the 101: collect from the start.
    attempt.on('message', (d) => attempt.inbox.push(String(d)));
    const opened = await Promise.race([
      once(attempt, 'open').then(() => true),
      once(attempt, 'close').then(() => false),
    ]);
    if (opened) return attempt;
    await new Promise((r) => setTimeout(r, 50)); // a pause between attempts, not a barrier
  }
  throw new Error(`the server on port ${port} exited (${child.exitCode})`);
}

describe('ws tutorials run unchanged on riptide', () => {
  it('seed 000: server and browser-style client', async () => {
    const port = await freePort();
    const server = runScript('server-000.cjs', SERVER_000, port);
    await server.waitFor('WebSocket server started');
    const client = runScript('client-000.cjs', CLIENT_000, port);
    await client.waitFor('Received: Message received');
    expect(client.output()).toContain('WebSocket connection established');
    await server.waitFor('Received: Hello server!');
    client.child.kill();
    await server.waitFor('Connection closed');
  });

  it('seed 001: the server answers a message', async () => {
    const port = await freePort();
    const server = runScript('server-001.cjs', SERVER_001, port);
    const ws = await connectWhenUp(port, server.child);
    const reply = once<[Buffer]>(ws, 'message');
    ws.send('Greetings, programs');
    expect((await reply)[0].toString()).toBe('Received, initiating...');
    await server.waitFor("Flyn says: ' Greetings, programs '");
    ws.terminate();
  });

  it('seed 002: broadcast chat server with wss.clients and WebSocket.OPEN', async () => {
    const port = await freePort();
    const server = runScript('server-002.cjs', SERVER_002, port);
    const connect = async () => {
      const ws = await connectWhenUp(port, server.child);
      while (ws.inbox.length === 0) await once(ws, 'message');
      expect(ws.inbox.shift()).toBe('Welcome to the chat!');
      return ws;
    };
    const alice = await connect();
    const bob = await connect();
    const atBob = once<[Buffer]>(bob, 'message');
    const atAlice = once<[Buffer]>(alice, 'message');
    alice.send('hi all');
    expect((await atBob)[0].toString()).toBe('Server: hi all');
    expect((await atAlice)[0].toString()).toBe('Server: hi all');
    alice.terminate();
    bob.terminate();
  });
});
