/**
 * Harness for the multi-node tests: a private redis-server (free port, temporary directory, AOF
 * with fsync on every write), chat nodes as child processes of the built server, and a client that
 * behaves like the web page (applies room events in seq order, keeps an outbox until acknowledged,
 * resends it after a reconnect or when the service is back) and records what it saw.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, beforeAll } from 'vitest';
import WebSocket from 'ws';
import { type ChatServer, startChatServer } from '../../src/server/chat-server.js';
import type { Clock } from '../../src/server/ports.js';
import type { ChatMessage, Limits, RoomState, ServerMessage } from '../../src/shared/protocol.js';
import type { TestClient } from '../helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const nodeMain = join(here, 'node-main.mjs');
const builtServer = join(here, '..', '..', 'dist', 'server', 'chat-server.js');
const builtBackend = join(here, '..', '..', 'dist', 'server', 'backends', 'redis', 'index.js');

const cleanups: (() => Promise<void> | void)[] = [];

export async function cleanupAll(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `check` returns true, polling; throws with `what` after `timeoutMs`. */
/**
 * How long a wait on real processes (Redis, chat nodes, their sockets) may take before it counts as
 * a failure. A deadline, not a barrier: every wait returns as soon as its condition holds, so this
 * only decides how slow a machine may be (CI runs the suite under a parallel CPU load, where the
 * multi-node tests take several times as long as on a quiet machine).
 */
export const PATIENCE_MS = 60_000;

export async function waitUntil(what: string, check: () => boolean, timeoutMs = PATIENCE_MS): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The built server's command (npm start's), for the tests of its Redis flags and variables. */
const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'server', 'main.js');

/**
 * The built server (npm start) with these arguments (after `--port 0 --db :memory:`) and variables:
 * its output (both streams) and exit code, once it says it listens (then stopped with SIGTERM) or
 * exits by itself. The runner's own CHAT_ variables for Redis are cleared (an empty one is unset).
 */
export async function runMainUntilListening(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ out: string; code: number | null }> {
  const child = spawn(process.execPath, [MAIN, '--port', '0', '--db', ':memory:', ...args], {
    env: {
      ...process.env,
      CHAT_REDIS_URL: '',
      CHAT_REDIS_PASSWORD: '',
      CHAT_REDIS_PASSWORD_FILE: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve) => {
      const take = (c: Buffer) => {
        out += c;
        if (/listening on/.test(out)) resolve();
      };
      child.stdout?.on('data', take);
      child.stderr?.on('data', take);
      void exit.then(() => resolve());
    });
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return { out, code: await exit };
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * A port nothing listened on a moment ago. Only for a child process to bind, which may find it
 * taken by then (another test file's listen(0) may be given it): RedisServer.start tries again with
 * another. For "a port nothing listens on" use refusedPort() (test-support/ports.ts).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Fails (never skips) when redis-server is missing or the server is not built. */
export function requirements(): void {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'pipe' });
  } catch {
    throw new Error(
      'redis-server is not installed: the multi-node tests need it (Debian: apt-get install redis-server)',
    );
  }
  if (!existsSync(builtServer) || !existsSync(builtBackend))
    throw new Error('the chat is not built: run `npm run build` first');
  const srcTime = statSync(join(here, '..', '..', 'src', 'server', 'backends', 'redis', 'index.ts')).mtimeMs;
  if (statSync(builtBackend).mtimeMs < srcTime)
    throw new Error('dist/ is older than src/: run `npm run build` first');
}

/** redis-server could not bind its port: another process has it. */
class PortTakenError extends Error {}

/** How many ports RedisServer.start tries before it gives up (each was free a moment before). */
const START_ATTEMPTS = 5;

/**
 * Certificates for a Redis over TLS, made with openssl in `dir`: a private CA, Redis's certificate
 * signed by it for `serverNames` (subjectAltName entries, e.g. IP:127.0.0.1, DNS:redis.internal),
 * and a client certificate signed by it. Paths to PEM files.
 */
export interface TlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

export function makeCertificates(dir: string, serverNames = 'IP:127.0.0.1'): TlsFiles {
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=riptide test CA',
  );
  const sign = (name: string, subject: string, ext: string | null) => {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
      '-subj',
      subject,
    );
    if (ext !== null) writeFileSync(f(`${name}.ext`), `subjectAltName=${ext}\n`);
    openssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${name}.pem`),
      '-days',
      '2',
      ...(ext !== null ? ['-extfile', f(`${name}.ext`)] : []),
    );
  };
  sign('server', '/CN=redis', serverNames);
  sign('client', '/CN=chat', null);
  return {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}

/** A redis-server that speaks TLS only (its plain port off), with these certificates. */
export interface RedisTls {
  files: TlsFiles;
  /** Redis's tls-auth-clients: a client certificate signed by the CA is required. Default false. */
  authClients?: boolean;
}

export class RedisServer {
  proc: ChildProcess | null = null;
  /** redis://127.0.0.1:port, or rediss:// for a TLS server. */
  readonly url: string;

  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly args: readonly string[],
    readonly tls?: RedisTls,
  ) {
    this.url = `${tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`;
  }

  /** A redis-server over TLS on a free port: its certificates are made in its own directory. */
  static async startTls(
    options: { serverNames?: string; authClients?: boolean } = {},
    args: readonly string[] = [],
  ): Promise<RedisServer> {
    requirements();
    const certDir = mkdtempSync(join(tmpdir(), 'riptide-redis-tls-'));
    cleanups.push(() => rmSync(certDir, { recursive: true, force: true }));
    const files = makeCertificates(certDir, options.serverNames);
    return RedisServer.start(args, freePort, { files, authClients: options.authClients ?? false });
  }

  /** The certificates of a server from startTls. */
  get tlsFiles(): TlsFiles {
    if (!this.tls) throw new Error('this redis-server does not speak TLS: start it with startTls');
    return this.tls.files;
  }

  /**
   * `args` follow the defaults on the command line, so they override them (e.g. `--appendonly no`
   * for a Redis that loses what it acknowledged since its last snapshot).
   */
  static async start(
    args: readonly string[] = [],
    ports: () => Promise<number> = freePort,
    tls?: RedisTls,
  ): Promise<RedisServer> {
    requirements();
    const dir = mkdtempSync(join(tmpdir(), 'riptide-redis-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // The port was free when freePort() closed its server; redis-server binds it a moment later,
    // by when another process may have been given it: then try another.
    for (let attempt = 1; ; attempt++) {
      const server = new RedisServer(await ports(), dir, args, tls);
      cleanups.push(() => server.stop('SIGKILL'));
      try {
        await server.restart();
        return server;
      } catch (err) {
        if (!(err instanceof PortTakenError) || attempt === START_ATTEMPTS) throw err;
      }
    }
  }

  /**
   * Starts redis-server (again) on the same port and directory; resolves when it accepts commands.
   * After a stop() the port is free until then: another process may be given it meanwhile (a small
   * chance, not removed: the nodes know this URL, so no other port will do), and the restart then
   * fails, saying so.
   */
  async restart(): Promise<void> {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
        ...(this.tls
          ? [
              '--port',
              '0',
              '--tls-port',
              String(this.port),
              '--tls-cert-file',
              this.tls.files.serverCert,
              '--tls-key-file',
              this.tls.files.serverKey,
              '--tls-ca-cert-file',
              this.tls.files.ca,
              '--tls-auth-clients',
              this.tls.authClients ? 'yes' : 'no',
            ]
          : []),
        ...this.args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc = proc;
    let out = '';
    proc.stdout?.on('data', (c: Buffer) => {
      out += c;
    });
    proc.stderr?.on('data', (c: Buffer) => {
      out += c;
    });
    // 'close': it exited and all it wrote has been read (at 'exit' the reason may be unread).
    let closed = false;
    proc.once('close', () => {
      closed = true;
    });
    const start = Date.now();
    for (;;) {
      if (closed) {
        if (/bind: Address already in use/.test(out))
          throw new PortTakenError(`port ${this.port} was taken by another process: ${out}`);
        throw new Error(`redis-server exited: ${out}`);
      }
      // Ours, not a server of another test file that has this port (ours then fails to bind it).
      if (await this.#ping(proc.pid)) return;
      if (Date.now() - start > PATIENCE_MS) throw new Error(`redis-server did not start: ${out}`);
      await sleep(50);
    }
  }

  #ping(pid: number | undefined): Promise<boolean> {
    return new Promise((resolve) => {
      const sock = new WebSocketlessSocket(this.port, this.tls?.files);
      sock.ping(pid).then(resolve, () => resolve(false));
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill(signal);
    await exited;
  }
}

/**
 * One redis-server for all the tests of a file: started before the first (in `beforeAll`), stopped
 * with everything else these helpers started (`cleanupAll`) after the last. Call it at the top of
 * the file; the function it returns gives the server inside tests and hooks.
 */
export function redisServerForThisFile(): () => RedisServer {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await RedisServer.start();
    return () => cleanupAll();
  });
  return () => {
    if (!server) throw new Error('the redis-server starts in beforeAll: use it in a test or a hook');
    return server;
  };
}

/**
 * `count` chat servers in this process (the sources, not dist/) on one Redis under one key prefix,
 * each on a free port, without log output or the periodic sweep, started one after the other. The
 * caller closes them.
 */
export async function startChatServersOnRedis(
  count: number,
  options: { url: string; prefix: string; limits?: Partial<Limits>; clock?: Clock; admins?: string[] },
): Promise<ChatServer[]> {
  const servers: ChatServer[] = [];
  for (let i = 0; i < count; i++)
    servers.push(
      await startChatServer({
        port: 0,
        redis: { url: options.url, prefix: options.prefix },
        ...(options.limits ? { limits: options.limits } : {}),
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.admins ? { admins: options.admins } : {}),
        sweepIntervalMs: 0,
        log: () => {},
      }),
    );
  return servers;
}

/**
 * Lists for the in-process chat servers and the TestClients of a file's tests: after each test its
 * clients are cut off (terminated, no closing handshake) and then its servers closed. Call it at the
 * top of the file.
 */
export function closedAfterEachTest(): { servers: ChatServer[]; clients: TestClient[] } {
  const servers: ChatServer[] = [];
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    for (const server of servers.splice(0)) await server.close();
  });
  return { servers, clients };
}

/**
 * A bare RESP PING over TCP (the tests must not depend on the client under test to see Redis up),
 * and INFO to see which redis-server answered: true once the process `pid` answers PONG.
 */
class WebSocketlessSocket {
  constructor(
    readonly port: number,
    readonly tls?: TlsFiles,
  ) {}
  ping(pid: number | undefined): Promise<boolean> {
    return Promise.all([import('node:net'), import('node:tls')]).then(
      ([net, tls]) =>
        new Promise<boolean>((resolve) => {
          const files = this.tls;
          // Over TLS, the harness's own check that this is its redis-server: it trusts the CA, and
          // presents the client certificate (a server may require it); the name is not the point.
          const s = files
            ? tls.connect({
                port: this.port,
                host: '127.0.0.1',
                ca: readFileSync(files.ca),
                cert: readFileSync(files.clientCert),
                key: readFileSync(files.clientKey),
                checkServerIdentity: () => undefined,
              })
            : net.connect(this.port, '127.0.0.1');
          let data = '';
          s.setTimeout(1000, () => {
            s.destroy();
            resolve(false);
          });
          s.on(files ? 'secureConnect' : 'connect', () => s.write('PING\r\nINFO server\r\n'));
          s.on('data', (c) => {
            data += c;
            if (!data.includes('\r\n')) return;
            // Not ready (e.g. -LOADING while it reads its AOF): no PONG.
            if (!data.startsWith('+PONG')) {
              s.destroy();
              resolve(false);
              return;
            }
            const id = /\r\nprocess_id:(\d+)\r\n/.exec(data);
            if (!id) return;
            s.destroy();
            resolve(Number(id[1]) === pid);
          });
          s.on('error', () => resolve(false));
        }),
    );
  }
}

export interface NodeStats {
  connections: number;
  available: boolean;
  rooms: string[];
  roomEventsReceived: Record<string, number>;
  /** Rooms this node found with a log that went back in Redis, and re-based. */
  logRegressions: number;
  topicMessagesReceived: Record<string, number>;
}

export class ChatNode {
  output = '';
  private constructor(
    readonly proc: ChildProcess,
    readonly origin: string,
  ) {}

  /** Starts a node of the built server against Redis, with test-friendly limits. */
  static async start(redisUrl: string, options: Record<string, unknown> = {}): Promise<ChatNode> {
    const opts = {
      redis: { url: redisUrl, presenceTtlMs: 3000 },
      signInPerIp: { burst: 1000, perSecond: 1000 },
      signUpPerIp: { burst: 1000, perSecond: 1000 },
      limits: {
        messageRate: { burst: 1000, perSecond: 1000 },
        roomRate: { burst: 1000, perSecond: 1000 },
        requestRate: { burst: 1000, perSecond: 1000 },
      },
      ...options,
    };
    const proc = spawn(process.execPath, [nodeMain, JSON.stringify(opts)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill('SIGKILL');
        await exited;
      }
    });
    let out = '';
    const origin = await new Promise<string>((resolve, reject) => {
      proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk;
        const match = /listening on (http:\/\/[^/\s]+)\//.exec(out);
        if (match) resolve(match[1]);
      });
      proc.stderr?.on('data', (chunk: Buffer) => {
        out += chunk;
      });
      proc.once('exit', (code) => reject(new Error(`chat node exited with ${code}: ${out}`)));
    });
    const node = new ChatNode(proc, origin);
    proc.stdout?.on('data', (c: Buffer) => {
      node.output += c;
    });
    proc.stderr?.on('data', (c: Buffer) => {
      node.output += c;
    });
    return node;
  }

  /** `count` nodes on the same Redis with the same options, started side by side. */
  static startMany(
    count: number,
    redisUrl: string,
    options: Record<string, unknown> = {},
  ): Promise<ChatNode[]> {
    return Promise.all(Array.from({ length: count }, () => ChatNode.start(redisUrl, options)));
  }

  async stats(): Promise<NodeStats> {
    const res = await fetch(`${this.origin}/_stats`);
    return (await res.json()) as NodeStats;
  }

  async kill(): Promise<void> {
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill('SIGKILL');
    await exited;
  }
}

/** The names user0, user1, … of `count` users. */
export const userNames = (count: number): string[] => Array.from({ length: count }, (_, i) => `user${i}`);

/** Signs up on a node (or in, if the name exists); returns the session cookie. */
export async function login(origin: string, name: string, password = 'correct horse'): Promise<string> {
  const attempt = (path: string) =>
    fetch(`${origin}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: JSON.stringify({ name, password }),
    });
  let res = await attempt('/api/register');
  if (res.status === 409) res = await attempt('/api/login');
  if (res.status !== 200 && res.status !== 201)
    throw new Error(`sign-in ${name}: ${res.status} ${await res.text()}`);
  return (res.headers.get('set-cookie') ?? '').split(';')[0];
}

type RoomEventMessage = Extract<ServerMessage, { type: 'message' | 'edited' | 'deleted' }>;
const seqOf = (e: RoomEventMessage) => (e.type === 'message' ? e.message.seq : e.seq);

/** A chat client that behaves like the web page and records everything for assertions. */
export class SimClient {
  ws: WebSocket | null = null;
  origin = '';
  /** Room events applied, per room, in the order applied. */
  readonly applied = new Map<string, RoomEventMessage[]>();
  /** Highest seq applied per room. */
  readonly head = new Map<string, number>();
  /** The tag of the event at each room's head (RoomEvent `tag`), when known. */
  readonly tags = new Map<string, string>();
  /** Like the page, name the tags when resuming; false: a client from before tags existed. */
  sendTags = true;
  /** Events that arrived beyond head + 1, per room, waiting for the gap to be filled. */
  readonly waiting = new Map<string, Map<number, RoomEventMessage>>();
  /** Acknowledged client ids -> seq. */
  readonly acks = new Map<string, number>();
  /** Sent, not yet acknowledged. */
  readonly outbox = new Map<string, { room: string; text: string }>();
  readonly errors: Extract<ServerMessage, { type: 'error' }>[] = [];
  readonly service: boolean[] = [];
  readonly online = new Map<string, Set<string>>();
  readonly presenceLog: { room: string; user: string; online: boolean; at: number }[] = [];
  readonly all: ServerMessage[] = [];
  /** `reset`s received; like the page, each reloads the room with `history`. */
  readonly resets: Extract<ServerMessage, { type: 'reset' }>[] = [];
  /** Rooms reset and not yet reloaded: their events wait for the history. */
  readonly #reloading = new Set<string>();
  /** The room of each reload (`history`) not answered yet, by ref. */
  readonly #reloadRefs = new Map<string, string>();
  /**
   * Rooms whose reload was refused as `unavailable`: like the page, asked again once the service is
   * back (a node may send `reset` from its reader before its command connection is back).
   */
  readonly #refusedReloads = new Set<string>();
  welcomed = false;
  #n = 0;
  #synced = new Set<string>();

  constructor(
    readonly user: string,
    readonly cookie: string,
  ) {}

  static async connect(origin: string, user: string): Promise<SimClient> {
    const client = new SimClient(user, await login(origin, user));
    await client.connectTo(origin);
    return client;
  }

  /** A client per name, connected one after the other, the i-th to node i % nodes.length. */
  static async spreadOver(nodes: readonly ChatNode[], names: readonly string[]): Promise<SimClient[]> {
    const clients: SimClient[] = [];
    for (const [i, name] of names.entries())
      clients.push(await SimClient.connect(nodes[i % nodes.length].origin, name));
    return clients;
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Opens a socket to `origin`, says hello with the heads it has, and waits for the replay. */
  async connectTo(origin: string): Promise<void> {
    this.origin = origin;
    this.welcomed = false;
    this.#synced.clear();
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws`, {
      headers: { cookie: this.cookie, origin },
    });
    this.ws = ws;
    ws.on('message', (data) => this.#onMessage(JSON.parse(String(data)) as ServerMessage));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const known = Object.fromEntries(this.head);
    const tags = this.sendTags && this.tags.size > 0 ? { tags: Object.fromEntries(this.tags) } : {};
    ws.send(JSON.stringify({ v: 2, type: 'hello', rooms: known, ...tags }));
    await waitUntil(`${this.user}'s welcome`, () => this.welcomed);
    const rooms = Object.keys(known);
    await waitUntil(`${this.user}'s replay`, () => rooms.every((r) => this.#synced.has(r)));
    // Like the page: resend what was never acknowledged, with the same ids.
    for (const [id, m] of this.outbox) this.#send(id, m.room, m.text);
  }

  #onMessage(m: ServerMessage): void {
    this.all.push(m);
    switch (m.type) {
      case 'welcome':
        this.#rooms(m.rooms);
        this.welcomed = true;
        return;
      case 'joined':
        this.#rooms([m]);
        return;
      case 'message':
      case 'edited':
      case 'deleted': {
        const room = m.type === 'message' ? m.message.room : m.room;
        const seq = seqOf(m);
        if (seq <= (this.head.get(room) ?? 0)) return; // replay overlap: already applied
        // Like the page: an event beyond head + 1 waits until the gap is filled (by replay).
        let waiting = this.waiting.get(room);
        if (!waiting) {
          waiting = new Map();
          this.waiting.set(room, waiting);
        }
        waiting.set(seq, m);
        if (!this.#reloading.has(room)) this.#drain(room);
        return;
      }
      case 'synced':
        this.#synced.add(m.room);
        return;
      case 'reset':
        // Like the page: drop the room and reload it; the events after `head` follow.
        this.resets.push(m);
        this.#synced.add(m.room);
        this.#reloading.add(m.room);
        this.applied.set(m.room, []);
        this.waiting.get(m.room)?.clear();
        this.head.set(m.room, m.head);
        this.tags.delete(m.room);
        this.#reload(m.room);
        return;
      case 'history': {
        if (m.ref !== undefined) this.#reloadRefs.delete(m.ref);
        if (!m.ref?.startsWith('reload-') || !this.#reloading.has(m.room)) return;
        this.#reloading.delete(m.room);
        this.applied.set(
          m.room,
          m.messages.map((message) => ({ v: 2, type: 'message', message }) as RoomEventMessage),
        );
        if (m.head >= (this.head.get(m.room) ?? 0)) {
          this.head.set(m.room, m.head);
          if (m.tag === undefined) this.tags.delete(m.room);
          else this.tags.set(m.room, m.tag);
        }
        this.#drain(m.room);
        return;
      }
      case 'ack':
        if (m.id === undefined) return; // an edit's or a delete's
        this.acks.set(m.id, m.seq);
        this.outbox.delete(m.id);
        return;
      case 'error': {
        this.errors.push(m);
        const room = m.ref === undefined ? undefined : this.#reloadRefs.get(m.ref);
        if (room === undefined) return;
        this.#reloadRefs.delete(m.ref as string);
        if (m.code === 'unavailable' && this.#reloading.has(room)) this.#refusedReloads.add(room);
        return;
      }
      case 'service':
        this.service.push(m.available);
        if (!m.available) return;
        for (const [id, p] of this.outbox) this.#send(id, p.room, p.text);
        for (const room of this.#refusedReloads) if (this.#reloading.has(room)) this.#reload(room);
        this.#refusedReloads.clear();
        return;
      case 'presence': {
        let set = this.online.get(m.room);
        if (!set) {
          set = new Set();
          this.online.set(m.room, set);
        }
        if (m.online) set.add(m.user);
        else set.delete(m.user);
        this.presenceLog.push({ room: m.room, user: m.user, online: m.online, at: Date.now() });
        return;
      }
    }
  }

  /** Asks for the latest page of `room`, which was reset (its events wait for the answer). */
  #reload(room: string): void {
    const ref = `reload-${++this.#n}`;
    this.#reloadRefs.set(ref, room);
    this.ws?.send(JSON.stringify({ v: 2, type: 'history', ref, room }));
  }

  /** Applies the waiting events of `room` that follow its head; drops those at or below it. */
  #drain(room: string): void {
    const waiting = this.waiting.get(room);
    if (!waiting) return;
    let list = this.applied.get(room);
    if (!list) {
      list = [];
      this.applied.set(room, list);
    }
    for (;;) {
      const next = (this.head.get(room) ?? 0) + 1;
      const event = waiting.get(next);
      if (!event) break;
      waiting.delete(next);
      this.head.set(room, next);
      if (event.tag === undefined) this.tags.delete(room);
      else this.tags.set(room, event.tag);
      list.push(event);
    }
    const head = this.head.get(room) ?? 0;
    for (const seq of waiting.keys()) if (seq <= head) waiting.delete(seq);
  }

  #rooms(states: RoomState[]): void {
    for (const s of states) {
      this.online.set(s.room, new Set(s.online));
      // A room seen for the first time: take everything from its start.
      if (!this.head.has(s.room)) {
        this.head.set(s.room, 0);
        if (s.head > 0) this.ws?.send(JSON.stringify({ v: 2, type: 'sync', room: s.room, after: 0 }));
      }
    }
  }

  send(room: string, text: string): string {
    const id = `${this.user}-${++this.#n}`;
    this.outbox.set(id, { room, text });
    this.#send(id, room, text);
    return id;
  }

  #send(id: string, room: string, text: string): void {
    if (this.open) this.ws?.send(JSON.stringify({ v: 2, type: 'send', id, room, text }));
  }

  request(message: Record<string, unknown>): void {
    this.ws?.send(JSON.stringify({ v: 2, ...message }));
  }

  /** The next message of `type` matching `where` received from now on. */
  next<T extends ServerMessage['type']>(
    type: T,
    where: (m: Extract<ServerMessage, { type: T }>) => boolean = () => true,
    timeoutMs = PATIENCE_MS,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const from = this.all.length;
    return (async () => {
      let found: ServerMessage | undefined;
      await waitUntil(
        `${this.user}: ${type}`,
        () => {
          found = this.all
            .slice(from)
            .find((m) => m.type === type && where(m as Extract<ServerMessage, { type: T }>));
          return found !== undefined;
        },
        timeoutMs,
      );
      return found as Extract<ServerMessage, { type: T }>;
    })();
  }

  /**
   * Every client sends a message to `room` ("user k"), then waits `pauseMs` (a pace for the
   * traffic, not a barrier), round after round until `stop()`. `sent` holds every client id sent;
   * `stop()` resolves once the current round is over.
   */
  static keepTalking(
    clients: readonly SimClient[],
    room: string,
    pauseMs: number,
  ): { sent: Set<string>; stop: () => Promise<void> } {
    let talking = true;
    const sent = new Set<string>();
    const talk = (async () => {
      for (let k = 0; talking; k++) {
        for (const c of clients) sent.add(c.send(room, `${c.user} ${k}`));
        await sleep(pauseMs);
      }
    })();
    return {
      sent,
      stop: () => {
        talking = false;
        return talk;
      },
    };
  }

  /** Messages (ChatMessage) applied in a room, in order. */
  messages(room: string): ChatMessage[] {
    return (this.applied.get(room) ?? []).flatMap((e) => (e.type === 'message' ? [e.message] : []));
  }

  close(): void {
    this.ws?.terminate();
  }
}

/**
 * Takes `user` out of `room` in Redis as the LEAVE script of the version before log changes did:
 * the member set, the roster and the user's entry, without the entry in the room's stream (store.ts,
 * LOG_CHANGE) and without a bus notice. No node is told, so the user's connections keep listing the
 * room: the window in which the store alone must refuse them (the after-removal scenarios), held
 * open. Resolves false if the user was not a member.
 */
export async function dropUntold(url: string, prefix: string, user: string, room: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  try {
    const res = await redis
      .multi()
      .srem(`${prefix}room:{${room}}:members`, user)
      .zrem(`${prefix}room:{${room}}:roster`, user)
      .hdel(`${prefix}member:${user}`, room)
      .exec();
    return res?.[0]?.[1] === 1;
  } finally {
    redis.disconnect();
  }
}
