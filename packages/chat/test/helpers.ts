/**
 * Test helpers: a chat server on a free port with its own temporary database, accounts over HTTP,
 * and a WebSocket client that records every server message, waits for the ones a test expects, and
 * proves "nothing else arrived" with a ping/pong round trip (the server answers requests in order,
 * after everything it queued on that socket before).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import WebSocket from 'ws';
import { type ChatServer, type ChatServerOptions, startChatServer } from '../src/server/chat-server.js';
import type { ClientMessage, ServerMessage } from '../src/shared/protocol.js';

export interface TestServer extends ChatServer {
  dir: string;
  dbPath: string;
  origin: string;
}

const cleanups: (() => Promise<void>)[] = [];

export async function startTestServer(options: Omit<ChatServerOptions, 'port'> = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'riptide-chat-'));
  const dbPath = options.dbPath ?? join(dir, 'chat.db');
  const server = await startChatServer({ port: 0, dbPath, log: () => {}, sweepIntervalMs: 0, ...options });
  const testServer = { ...server, close: server.close, dir, dbPath, origin: server.url.replace(/\/$/, '') };
  cleanups.push(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return testServer;
}

/** Runs `fn` at the end of the current test (before the servers close). */
export function onCleanup(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

export async function cleanup(): Promise<void> {
  const all = cleanups.splice(0);
  for (const fn of all.reverse()) await fn();
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made with the command docs/http2.md
 * gives (an EC key: quick to make), for the server's `tls` option.
 */
export function selfSignedCertificate(): { cert: Buffer; key: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'riptide-chat-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const PASSWORD = 'correct horse';

/** POSTs JSON to the API as the page would (same origin); returns status, body and cookie. */
export async function post(
  origin: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; cookie: string }> {
  const res = await fetch(`${origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    cookie: (res.headers.get('set-cookie') ?? '').split(';')[0],
  };
}

/** Creates the account and returns its session cookie ("name=value"). */
export async function register(origin: string, name: string, password = PASSWORD): Promise<string> {
  const res = await post(origin, '/api/register', { name, password });
  if (res.status !== 201) throw new Error(`register ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.cookie;
}

/** Signs in to an existing account and returns the session cookie. */
export async function login(origin: string, name: string, password = PASSWORD): Promise<string> {
  const res = await post(origin, '/api/login', { name, password });
  if (res.status !== 200) throw new Error(`login ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.cookie;
}

/**
 * `name` accepts their pending invitation to `room` from a connection of their own, signed in for
 * it and closed once the room is joined (they are offline again, a member now).
 */
export async function acceptInvitation(
  origin: string,
  name: string,
  room: string,
  password = PASSWORD,
): Promise<void> {
  const { client } = await TestClient.join(origin, await login(origin, name, password));
  const joined = await client.request('joined', { type: 'accept', room });
  if (joined.type !== 'joined')
    throw new Error(`${name} could not accept ${room}: ${JSON.stringify(joined)}`);
  await client.close();
}

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

export class TestClient {
  readonly messages: ServerMessage[] = [];
  readonly ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  #waiters: {
    match: (m: ServerMessage) => boolean;
    resolve: (m: ServerMessage) => void;
    reject: (err: Error) => void;
  }[] = [];
  #pings = 0;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as ServerMessage;
      this.messages.push(message);
      for (const w of [...this.#waiters]) {
        if (w.match(message)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(message);
          return;
        }
      }
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        // Nothing more can arrive: a waiter fails now, with what it was waiting for.
        for (const w of this.#waiters.splice(0)) w.reject(new Error(`the socket closed (${code})`));
      });
    });
  }

  static async connect(
    origin: string,
    cookie: string,
    headers: Record<string, string> = {},
  ): Promise<TestClient> {
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws`, {
      headers: { cookie, origin, ...headers },
    });
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return client;
  }

  /** Connects and completes the hello; resolves with the welcome (after any replay it asked for). */
  static async join(
    origin: string,
    cookie: string,
    rooms?: Record<string, number>,
  ): Promise<{ client: TestClient; welcome: Of<'welcome'> }> {
    const client = await TestClient.connect(origin, cookie);
    const welcome = client.next('welcome');
    client.send({ v: 2, type: 'hello', ...(rooms ? { rooms } : {}) });
    return { client, welcome: await welcome };
  }

  /**
   * For scenarios that run on one node or several: `on(i)` is node i (round robin over `origins`),
   * and `join(i, cookie)` connects a tab there, passes it to `track` (closed after the test) and
   * completes the hello.
   */
  static nodes(
    origins: string[],
    track: (c: TestClient) => void,
  ): {
    on: (i: number) => string;
    join: (i: number, cookie: string) => Promise<{ client: TestClient; welcome: Of<'welcome'> }>;
  } {
    const on = (i: number) => origins[i % origins.length];
    const join = async (i: number, cookie: string) => {
      const joined = await TestClient.join(on(i), cookie);
      track(joined.client);
      return joined;
    };
    return { on, join };
  }

  /**
   * The after-removal scenarios' start: alice on node 0 and bob on `bobNode` (default node 1),
   * a private `plans` alice created and invited bob to, and a public `lounge` both joined.
   */
  static async planAndLounge(
    origins: string[],
    track: (c: TestClient) => void,
    bobNode = 1,
  ): Promise<{ alice: TestClient; bob: TestClient }> {
    const { on, join } = TestClient.nodes(origins, track);
    const alice = (await join(0, await register(on(0), 'alice'))).client;
    const bob = (await join(bobNode, await register(on(bobNode), 'bob'))).client;
    expect(await alice.request('joined', { type: 'create', room: 'plans', private: true })).toMatchObject({
      kind: 'private',
    });
    expect(await alice.request('invited', { type: 'invite', room: 'plans', user: 'bob' })).toMatchObject({
      type: 'invited',
    });
    await bob.request('joined', { type: 'accept', room: 'plans' });
    expect(await alice.request('joined', { type: 'create', room: 'lounge' })).toMatchObject({
      kind: 'public',
    });
    expect(await bob.request('joined', { type: 'join', room: 'lounge' })).toMatchObject({ room: 'lounge' });
    return { alice, bob };
  }

  /** A registered user, connected and welcomed. */
  static async user(origin: string, name: string): Promise<TestClient> {
    return (await TestClient.join(origin, await register(origin, name))).client;
  }

  send(message: ClientMessage | Record<string, unknown>): void {
    this.ws.send(JSON.stringify(message));
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /**
   * The first message (not yet consumed by an earlier `next`) of this type matching `where`,
   * waiting up to `timeoutMs` for it: a generous bound that only turns a hang into a readable
   * failure (what was received instead) before the test's own timeout. Consumes it.
   */
  next<T extends ServerMessage['type']>(
    type: T,
    where: (m: Of<T>) => boolean = () => true,
    timeoutMs = 20_000,
  ): Promise<Of<T>> {
    return this.#take((m) => m.type === type && where(m as Of<T>), type, timeoutMs) as Promise<Of<T>>;
  }

  #take(match: (m: ServerMessage) => boolean, what: string, timeoutMs: number): Promise<ServerMessage> {
    const i = this.messages.findIndex(match);
    if (i >= 0) {
      const found = this.messages[i];
      this.messages.splice(i, 1);
      return Promise.resolve(found);
    }
    if (this.ws.readyState === WebSocket.CLOSED)
      return Promise.reject(new Error(`the socket is closed; waiting for ${what}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(-5)).slice(0, 600)}`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (m: ServerMessage) => {
          clearTimeout(timer);
          this.messages.splice(this.messages.indexOf(m), 1);
          resolve(m);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(new Error(`${err.message} while waiting for ${what}`));
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Sends a request with a fresh ref and resolves with its reply (of `type`, or an error). */
  request<T extends ServerMessage['type']>(
    type: T,
    message: Record<string, unknown>,
  ): Promise<Of<T> | Of<'error'>> {
    const ref = `r${++this.#pings}`;
    this.send({ v: 2, ...message, ref });
    return this.#take(
      (m) => (m.type === type || m.type === 'error') && (m as { ref?: string }).ref === ref,
      `${type} ${ref}`,
      10_000,
    ) as Promise<Of<T> | Of<'error'>>;
  }

  /**
   * A ping/pong round trip: resolves once everything the server queued on this socket before the
   * ping has arrived. Returns the messages received so far and not consumed.
   */
  async barrier(): Promise<ServerMessage[]> {
    const ref = `barrier${++this.#pings}`;
    this.send({ v: 2, type: 'ping', ref });
    await this.next('pong', (m) => m.ref === ref);
    return [...this.messages];
  }

  /** Messages received so far of a type (not consumed). */
  all<T extends ServerMessage['type']>(type: T): Of<T>[] {
    return this.messages.filter((m) => m.type === type) as Of<T>[];
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.closed;
  }
}

/** The status an upgrade gets (101 when it opens). */
export function upgradeStatus(origin: string, headers: Record<string, string>): Promise<number> {
  return new Promise<number>((resolve) => {
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws`, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('error', () => {});
  });
}

/** Waits until `check()` holds (a condition, polled; not a fixed delay). */
export async function waitFor(check: () => boolean, what = 'condition', timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
