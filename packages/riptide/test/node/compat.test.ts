/**
 * ws compatibility: the tutorials riptide grew from (/work/shared/seeds) run unchanged with
 * `require('ws')` swapped for `require('riptide')`. Only the fixed port is replaced by 0, so the
 * tests can run side by side: the system gives the server a free port, and a hook preloaded into
 * the server's process (the tutorials print nothing once listening) says which. A free port
 * taken beforehand and closed for the child to bind could be given to another test file's server
 * in between.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * Preloaded (`-r`) into a tutorial's server: prints the port its server got once it listens. Node's
 * http.Server is a net.Server, so every server the script starts passes through here.
 */
const PORT_HOOK = `const net = require('node:net');
const emit = net.Server.prototype.emit;
net.Server.prototype.emit = function (event, ...args) {
  if (event === 'listening') process.stderr.write('(test) listening on port ' + this.address().port + '\\n');
  return emit.call(this, event, ...args);
};
`;

/** Run a script as a CommonJS program that resolves 'riptide' to this package. */
function runScript(name: string, source: string, port: number, preload: string[] = []) {
  const file = join(dir, name);
  writeFileSync(file, source.replaceAll('PORT', String(port)));
  const child = spawn(process.execPath, [...preload, file], {
    env: { ...process.env, NODE_PATH: join(packageRoot, '..', '..', 'node_modules') },
  });
  children.push(child);
  let out = '';
  // 'close' (its output all read), not 'exit': what it printed just before exiting may be unread then.
  let closed = false;
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  child.on('close', () => {
    closed = true;
  });
  return {
    child,
    output: () => out,
    /**
     * Resolves when the output holds `pattern` (checked on each chunk; no clock), with the match
     * of a RegExp; rejects once the output has ended without it.
     */
    waitFor(pattern: string | RegExp): Promise<string[]> {
      const find = (): string[] | null =>
        typeof pattern === 'string' ? (out.includes(pattern) ? [pattern] : null) : out.match(pattern);
      return new Promise((resolve, reject) => {
        const done = () => {
          child.stdout!.off('data', check);
          child.stderr!.off('data', check);
          child.off('close', ended);
        };
        const check = () => {
          const match = find();
          if (!match) return;
          done();
          resolve(match);
        };
        const ended = () => {
          done();
          reject(new Error(`${name} exited (${child.exitCode}) before printing ${pattern}; output:\n${out}`));
        };
        child.stdout!.on('data', check);
        child.stderr!.on('data', check);
        child.on('close', ended);
        check();
        if (closed) ended();
      });
    },
  };
}

/** Start a tutorial's server on a port the system picks; resolves once it listens, with the port. */
async function startServer(name: string, source: string) {
  writeFileSync(join(dir, 'port-hook.cjs'), PORT_HOOK);
  const server = runScript(name, source, 0, ['-r', join(dir, 'port-hook.cjs')]);
  const [, port] = await server.waitFor(/\(test\) listening on port (\d+)\n/);
  return { ...server, port: Number(port) };
}

/** A client of the server on `port` (it listens: startServer said so), with the messages it got. */
async function connectTo(port: number): Promise<WebSocket & { inbox: string[] }> {
  const ws = Object.assign(new WebSocket(`ws://localhost:${port}`), { inbox: [] as string[] });
  // A welcome message can arrive together with the 101: collect from the start.
  ws.on('message', (d) => ws.inbox.push(String(d)));
  await once(ws, 'open');
  return ws;
}

describe('ws tutorials run unchanged on riptide', () => {
  it('seed 000: server and browser-style client', async () => {
    const { port, ...server } = await startServer('server-000.cjs', SERVER_000);
    await server.waitFor('WebSocket server started');
    const client = runScript('client-000.cjs', CLIENT_000, port);
    await client.waitFor('Received: Message received');
    expect(client.output()).toContain('WebSocket connection established');
    await server.waitFor('Received: Hello server!');
    client.child.kill();
    await server.waitFor('Connection closed');
  });

  it('seed 001: the server answers a message', async () => {
    const { port, ...server } = await startServer('server-001.cjs', SERVER_001);
    const ws = await connectTo(port);
    const reply = once<[Buffer]>(ws, 'message');
    ws.send('Greetings, programs');
    expect((await reply)[0].toString()).toBe('Received, initiating...');
    await server.waitFor("Flyn says: ' Greetings, programs '");
    ws.terminate();
  });

  it('seed 002: broadcast chat server with wss.clients and WebSocket.OPEN', async () => {
    const { port } = await startServer('server-002.cjs', SERVER_002);
    const connect = async () => {
      const ws = await connectTo(port);
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
