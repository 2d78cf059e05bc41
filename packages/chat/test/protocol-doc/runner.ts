/**
 * Runs the protocol document's blocks (parse.ts) against a live chat: one server on SQLite, or two
 * nodes on Redis (users alternate between them, in the order they appear). Each block gets a fresh
 * chat and a fake clock.
 *
 * Matching: the messages a user receives are grouped by kind (replies; a room's events and
 * markers; a room's notices; service), and an expectation is checked against the first unconsumed
 * message of its own kind, which must equal it (`…` matches anything). At the end of a block a
 * ping/pong round trip per connected user proves nothing else arrived.
 */
import WebSocket from 'ws';
import type { ManualClock } from '../../src/server/clock.js';
import { type Limits, LOG_TAG, type ServerMessage } from '../../src/shared/protocol.js';
import { ANY, type Block, type Step } from './parse.js';

export interface Target {
  /** The origin (scheme://host:port) of the node serving this user. */
  origin(user: string): string;
  clock: ManualClock;
  /**
   * The backend tags room events and history replies (Redis: `tag`, see LOG_TAG): each tag must
   * of the right form is dropped before matching, since the examples hold for every backend.
   */
  tags?: boolean;
  close(): Promise<void>;
}

export type StartTarget = (limits: Partial<Limits>, admins: string[]) => Promise<Target>;

const PASSWORD = 'correct horse';
const WAIT_MS = 15_000;

/** Which ordered stream a server message belongs to (see the document's "order"). */
export function streamOf(value: unknown): string {
  const m = value as { type: string; room?: string; message?: { room: string } };
  switch (m.type) {
    case 'message':
      return `room ${m.message?.room}`;
    case 'edited':
    case 'deleted':
    case 'reacted':
    case 'topic':
    case 'synced':
    case 'reset':
    case 'joined':
    case 'left':
      return `room ${m.room}`;
    case 'presence':
    case 'member':
    case 'typing':
      return `notices ${m.room}`;
    case 'service':
      return 'service';
    default:
      return 'replies';
  }
}

/** `expected` (with ANY and … in strings) matches `actual`. */
export function matches(expected: unknown, actual: unknown): boolean {
  if (expected === ANY) return actual !== undefined;
  if (typeof expected === 'string' && expected.includes('…') && typeof actual === 'string') {
    const parts = expected.split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    return new RegExp(`^${parts.join('[\\s\\S]*')}$`).test(actual);
  }
  if (Array.isArray(expected))
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((e, i) => matches(e, actual[i]))
    );
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const keys = Object.keys(expected);
    const actualKeys = Object.keys(actual);
    if (keys.length !== actualKeys.length || !keys.every((k) => Object.hasOwn(actual, k))) return false;
    return keys.every((k) =>
      matches((expected as Record<string, unknown>)[k], (actual as Record<string, unknown>)[k]),
    );
  }
  return Object.is(expected, actual);
}

class User {
  cookie = '';
  ws: WebSocket | null = null;
  closedWith: number | null = null;
  readonly received: ServerMessage[] = [];
  lastStatus: { status: number; body?: unknown } | null = null;
  #wake: (() => void) | null = null;

  constructor(
    readonly name: string,
    readonly origin: string,
  ) {}

  /** Resolves at the next message or close (or after `ms`). */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/** What the document's examples used: types sent and received, error codes seen. */
export interface Coverage {
  sent: Set<string>;
  received: Set<string>;
  errors: Set<string>;
}

export async function runBlock(block: Block, start: StartTarget, coverage: Coverage): Promise<void> {
  const limits = block.steps.find((s) => s.step.kind === 'limits')?.step as
    | Extract<Step, { kind: 'limits' }>
    | undefined;
  const admins = block.steps.find((s) => s.step.kind === 'admins')?.step as
    | Extract<Step, { kind: 'admins' }>
    | undefined;
  const target = await start((limits?.limits ?? {}) as Partial<Limits>, admins?.users ?? []);
  const users = new Map<string, User>();
  const order: string[] = [];
  const user = (name: string) => {
    let u = users.get(name);
    if (!u) {
      order.push(name);
      u = new User(name, target.origin(name));
      users.set(name, u);
    }
    return u;
  };
  let where = `docs/chat-protocol.md:${block.line}`;
  const fail = (message: string): never => {
    throw new Error(`${where}: ${message}`);
  };

  async function http(
    u: User,
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: unknown,
  ) {
    const res = await fetch(`${u.origin}${path}`, {
      method,
      headers: {
        origin: u.origin,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(u.cookie ? { cookie: u.cookie } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) u.cookie = setCookie.split(';')[0].endsWith('=') ? '' : setCookie.split(';')[0];
    const text = await res.text();
    u.lastStatus = { status: res.status, ...(text ? { body: JSON.parse(text) } : {}) };
  }

  function open(u: User, headers: Record<string, string>): Promise<void> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`${u.origin.replace('http', 'ws')}/ws`, {
        headers: { origin: u.origin, ...(u.cookie ? { cookie: u.cookie } : {}), ...headers },
      });
      ws.on('unexpected-response', (_req, res) => {
        u.lastStatus = { status: res.statusCode ?? 0 };
        res.resume();
        resolve();
      });
      ws.on('error', () => {});
      ws.on('open', () => {
        u.ws = ws;
        u.closedWith = null;
        u.lastStatus = { status: 101 };
        resolve();
      });
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as ServerMessage;
        // A tag of another form stays, and fails the match.
        const tagged = m as { tag?: unknown };
        if (target.tags && typeof tagged.tag === 'string' && LOG_TAG.test(tagged.tag)) delete tagged.tag;
        u.received.push(m);
        u.notify();
      });
      ws.on('close', (code) => {
        if (u.ws === ws) u.closedWith = code;
        u.notify();
      });
    });
  }

  /** The next unconsumed message of `stream` (waiting for it), or a failure. */
  async function take(u: User, stream: string, what: string): Promise<ServerMessage> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const i = u.received.findIndex((m) => streamOf(m) === stream);
      if (i >= 0) return u.received.splice(i, 1)[0];
      if (Date.now() > deadline || u.closedWith !== null)
        fail(`${u.name} did not receive ${what}; unconsumed: ${JSON.stringify(u.received).slice(0, 800)}`);
      await u.changed(deadline - Date.now());
    }
  }

  const send = (u: User, text: string) => {
    if (!u.ws || u.ws.readyState !== WebSocket.OPEN) fail(`${u.name} has no open WebSocket`);
    u.ws?.send(text);
  };

  try {
    for (const { line, text, step } of block.steps) {
      where = `docs/chat-protocol.md:${line}`;
      switch (step.kind) {
        case 'comment':
        case 'limits':
        case 'admins':
          break;
        case 'later':
          target.clock.advance(step.ms);
          break;
        case 'accounts': {
          const list = step.users.map(user);
          for (const u of list) {
            await http(u, 'POST', '/api/register', {}, { name: u.name, password: PASSWORD });
            if (u.lastStatus?.status !== 201)
              fail(`could not register ${u.name}: ${JSON.stringify(u.lastStatus)}`);
            if (!step.connect) continue;
            await open(u, {});
            send(u, JSON.stringify({ v: 2, type: 'hello', ref: 'setup' }));
            await take(u, 'replies', 'its welcome');
          }
          // Setup noise: each connected user hears the later ones come online, then nothing more.
          if (step.connect)
            for (const [i, u] of list.entries())
              for (const later of list.slice(i)) {
                const seen = (m: ServerMessage) => m.type === 'presence' && m.user === later.name && m.online;
                const deadline = Date.now() + WAIT_MS;
                while (!u.received.some(seen)) {
                  if (Date.now() > deadline) fail(`${u.name} never heard ${later.name} come online`);
                  await u.changed(deadline - Date.now());
                }
              }
          for (const u of list) if (step.connect) await barrier(u);
          for (const u of list) u.received.length = 0;
          break;
        }
        case 'sendJson': {
          const u = user(step.user);
          // "…N bytes…" in a sent string stands for a text of N bytes.
          const textToSend = step.text.replace(/"…(\d+) bytes…"/g, (_, n) =>
            JSON.stringify('x'.repeat(Number(n))),
          );
          const sent = JSON.parse(textToSend) as { type?: unknown };
          coverage.sent.add(String(sent.type));
          send(u, textToSend);
          break;
        }
        case 'sendRaw':
          send(user(step.user), step.text);
          break;
        case 'close': {
          const u = user(step.user);
          const ws = u.ws;
          u.ws = null;
          if (!ws) fail(`${u.name} has no WebSocket to close`);
          await new Promise<void>((resolve) => {
            ws?.once('close', () => resolve());
            ws?.close();
          });
          break;
        }
        case 'http': {
          const u = user(step.user);
          if (step.method === 'GET' && step.path === '/ws') await open(u, step.headers);
          else await http(u, step.method, step.path, step.headers, step.body);
          break;
        }
        case 'expectStatus': {
          const u = user(step.user);
          const got = u.lastStatus;
          u.lastStatus = null;
          if (!got) fail(`${u.name} made no request before ${text}`);
          if (got?.status !== step.status || (step.body !== undefined && !matches(step.body, got.body)))
            fail(`expected ${text}, got ${got?.status} ${JSON.stringify(got?.body)}`);
          break;
        }
        case 'expectClose': {
          const u = user(step.user);
          const deadline = Date.now() + WAIT_MS;
          while (u.closedWith === null && Date.now() < deadline) await u.changed(deadline - Date.now());
          if (u.closedWith !== step.code) fail(`expected ${text}, got close ${u.closedWith}`);
          u.ws = null;
          break;
        }
        case 'expectJson': {
          const u = user(step.user);
          const expected = step.expected as { type: string; code?: string };
          coverage.received.add(expected.type);
          if (expected.type === 'error' && expected.code) coverage.errors.add(expected.code);
          const got = await take(u, streamOf(expected), text);
          if (!matches(step.expected, got))
            fail(`expected\n  ${text}\ngot\n  ${step.user} ← ${JSON.stringify(got)}`);
          break;
        }
      }
    }
    where = `docs/chat-protocol.md:${block.line} (end of the block)`;
    for (const name of order) {
      const u = users.get(name) as User;
      if (!u.ws) continue;
      await barrier(u);
      if (u.received.length > 0) fail(`${name} also received ${JSON.stringify(u.received).slice(0, 800)}`);
    }
  } finally {
    for (const u of users.values()) u.ws?.terminate();
    await target.close();
  }

  async function barrier(u: User): Promise<void> {
    send(u, JSON.stringify({ v: 2, type: 'ping', ref: 'doc-barrier' }));
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const i = u.received.findIndex((m) => 'ref' in m && m.ref === 'doc-barrier');
      if (i >= 0) {
        u.received.splice(i, 1);
        return;
      }
      if (Date.now() > deadline || u.closedWith !== null) fail(`${u.name}: no answer to the final ping`);
      await u.changed(deadline - Date.now());
    }
  }
}
