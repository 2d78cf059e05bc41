/**
 * Test helpers: a chat server on a free port with its own temporary database, sign-in over HTTP,
 * and a WebSocket client that records every server message and waits for the ones a test expects.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  const server = await startChatServer({ port: 0, dbPath, log: () => {}, ...options });
  const testServer = { ...server, close: server.close, dir, dbPath, origin: server.url.replace(/\/$/, '') };
  cleanups.push(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return testServer;
}

export async function cleanup(): Promise<void> {
  const all = cleanups.splice(0);
  for (const fn of all.reverse()) await fn();
}

/** Signs in (registering on first use) and returns the session cookie ("name=value"). */
export async function login(origin: string, name: string, password = 'correct horse'): Promise<string> {
  const res = await fetch(`${origin}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify({ name, password }),
  });
  if (res.status !== 200) throw new Error(`login ${name}: ${res.status} ${await res.text()}`);
  const cookie = res.headers.get('set-cookie') ?? '';
  return cookie.split(';')[0];
}

type Of<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

let barrierCount = 0;

/** Resolves once `check()` holds, looking again every 10 ms: a wait on a condition, no deadline. */
export async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

export class TestClient {
  readonly messages: ServerMessage[] = [];
  readonly ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  #waiters: { match: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }[] = [];

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as ServerMessage;
      this.messages.push(message);
      for (const w of [...this.#waiters]) {
        if (w.match(message)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(message);
        }
      }
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
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

  /** Connects and completes the hello; resolves with the welcome. */
  static async join(
    origin: string,
    cookie: string,
    rooms?: Record<string, number>,
  ): Promise<{ client: TestClient; welcome: Of<'welcome'> }> {
    const client = await TestClient.connect(origin, cookie);
    const welcome = client.next('welcome');
    client.send({ v: 1, type: 'hello', ...(rooms ? { rooms } : {}) });
    return { client, welcome: await welcome };
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
   * failure (what was received instead) before the test's own timeout.
   */
  next<T extends ServerMessage['type']>(
    type: T,
    where: (m: Of<T>) => boolean = () => true,
    timeoutMs = 20_000,
  ): Promise<Of<T>> {
    const match = (m: ServerMessage) => m.type === type && where(m as Of<T>);
    for (let i = 0; i < this.messages.length; i++) {
      if (match(this.messages[i])) {
        const found = this.messages[i];
        this.messages.splice(i, 1);
        return Promise.resolve(found as Of<T>);
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`timed out waiting for ${type}; got ${JSON.stringify(this.messages.slice(-5))}`));
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (m: ServerMessage) => {
          clearTimeout(timer);
          this.messages.splice(this.messages.indexOf(m), 1);
          resolve(m as Of<T>);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /**
   * A request/reply round trip ('rooms'): the server answers on this connection's queue, after
   * everything this client asked before, and writes the answer after everything it sent this
   * client before. Proves "nothing else arrived" without a sleep: call it on the client whose
   * action is being checked, then on the one that would see its effect.
   */
  async barrier(): Promise<void> {
    const ref = `barrier-${++barrierCount}`;
    this.send({ v: 1, type: 'rooms', ref });
    await this.next('rooms', (m) => m.ref === ref);
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

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
