/**
 * Stopping a node whose Redis is hung (SIGSTOP: the TCP connections stay open, nothing answers).
 * The command timeout is far longer than any wait here, and the blocking reader has none at all: a
 * close that ends was not waiting for Redis. Pending store calls reject as unavailable, nothing is
 * left unhandled (vitest fails the run on an unhandled rejection; a node process would exit 1).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ChatServer, startChatServer } from '../../src/server/chat-server.js';
import { UnavailableError } from '../../src/server/ports.js';
import { ChatNode, cleanupAll, PATIENCE_MS, RedisServer, SimClient, waitUntil } from './helpers.js';

afterEach(async () => {
  vi.useRealTimers();
  await cleanupAll();
});

const HOUR = 3_600_000;
const mainJs = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'server', 'main.js');

/** `promise`, or a failure naming `what` if it has not settled within PATIENCE_MS (a deadline). */
async function within<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what}: still waiting after ${PATIENCE_MS} ms`)),
          PATIENCE_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function serverOn(redis: RedisServer): Promise<ChatServer> {
  return startChatServer({
    port: 0,
    redis: { url: redis.url, commandTimeoutMs: HOUR },
    sweepIntervalMs: 0,
    log: () => {},
  });
}

/** A client in `general` with one message acknowledged: the node's reader is blocked on its stream. */
async function talkingClient(server: ChatServer): Promise<SimClient> {
  const ann = await SimClient.connect(server.url.replace(/\/$/, ''), 'ann');
  const id = ann.send('general', 'before');
  await waitUntil('ack', () => ann.acks.has(id));
  return ann;
}

/** How `promise` settled: its value, or the error it rejected with (never left unhandled). */
function settled<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

describe('closing a node while its Redis is hung', () => {
  it('ends, and rejects the calls in flight, once the node knows Redis is hung', async () => {
    const redis = await RedisServer.start();
    const server = await serverOn(redis);
    const ann = await talkingClient(server);
    redis.proc?.kill('SIGSTOP');
    try {
      // Sent to the hung Redis before the node noticed: a send from the client (the hub's queue
      // waits for it while draining) and a store call made directly. Neither gets an answer.
      ann.send('general', 'during');
      const pending = settled(server.backend.accounts.getUser('ann'));
      await waitUntil('the client to hear of the outage', () => ann.service.includes(false));
      await within('close', server.close());
      expect(await pending).toEqual({ error: expect.any(UnavailableError) });
    } finally {
      redis.proc?.kill('SIGCONT');
    }
  });

  it('ends, and rejects the calls in flight, when Redis hung just before (not noticed yet)', async () => {
    const redis = await RedisServer.start();
    const server = await serverOn(redis);
    const ann = await talkingClient(server);
    redis.proc?.kill('SIGSTOP');
    try {
      ann.send('general', 'during');
      const pending = settled(server.backend.accounts.getUser('ann'));
      const closed = new Promise<number>((resolve) => ann.ws?.once('close', (code) => resolve(code)));
      await within('close', server.close());
      expect(await pending).toEqual({ error: expect.any(UnavailableError) });
      expect(await closed).toBe(1001);
    } finally {
      redis.proc?.kill('SIGCONT');
    }
  });

  it('a node process stopped with SIGTERM exits 0', async () => {
    const redis = await RedisServer.start();
    const node = await ChatNode.start(redis.url, { redis: { url: redis.url, commandTimeoutMs: HOUR } });
    const ann = await SimClient.connect(node.origin, 'ann');
    redis.proc?.kill('SIGSTOP');
    try {
      ann.send('general', 'during');
      const exited = new Promise<number | null>((resolve) => node.proc.once('exit', (code) => resolve(code)));
      node.proc.kill('SIGTERM');
      expect(await within('exit', exited)).toBe(0);
    } finally {
      redis.proc?.kill('SIGCONT');
    }
  });

  it('npm start (main.js) stopped with SIGTERM exits 0, with the default timeouts', async () => {
    const redis = await RedisServer.start();
    const child = spawn(process.execPath, [mainJs, '--port', '0', '--redis', redis.url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitUntil('listening', () => /listening on/.test(out) || child.exitCode !== null);
      const origin = /listening on (http:\/\/[^/\s]+)\//.exec(out)?.[1];
      expect(origin, out).toBeDefined();
      const ann = await SimClient.connect(origin as string, 'ann');
      redis.proc?.kill('SIGSTOP');
      try {
        ann.send('general', 'during');
        child.kill('SIGTERM');
        expect(await within('exit', exited), out).toBe(0);
      } finally {
        redis.proc?.kill('SIGCONT');
      }
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('closing a node while its Redis is healthy', () => {
  it('keeps what was acknowledged and lands what close sends last (the wake stream is deleted)', async () => {
    const redis = await RedisServer.start();
    const server = await serverOn(redis);
    const ann = await talkingClient(server);
    // A room opened while the reader is blocked on general's stream: that takes a wake, and so
    // the node has a wake stream that its close deletes.
    ann.request({ type: 'create', room: 'red' });
    await ann.next('joined', (m) => m.room === 'red');
    const id = ann.send('red', 'last');
    await waitUntil('ack', () => ann.acks.has(id)); // after the wake, on the same connection
    const check = new Redis(redis.url);
    try {
      expect(await check.keys('chat:wake:*')).toHaveLength(1);
      await within('close', server.close());
      expect(await check.keys('chat:wake:*')).toEqual([]);
    } finally {
      check.disconnect();
    }
    const again = await serverOn(redis);
    try {
      const texts = async (room: string) =>
        (await again.backend.rooms.messagesAfter(room, 0, 10)).map((m) => m.text);
      expect(await texts('general')).toEqual(['before']);
      expect(await texts('red')).toEqual(['last']);
    } finally {
      await again.close();
    }
  });
});

/** A promise and its resolve (a request/reply barrier). */
function barrier(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const SWEEP_MS = 1000;

/**
 * A node whose periodic sweep runs on a fake setInterval (Redis's own timers stay real), and whose
 * expireEmptyRooms is held at `hold` (given the call's stop signal) before it runs for real.
 */
async function sweepingServer(
  redis: RedisServer,
  lines: string[],
  hold: (call: number, stop: AbortSignal | undefined) => Promise<void>,
): Promise<{ server: ChatServer; calls: () => number }> {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  const server = await startChatServer({
    port: 0,
    redis: { url: redis.url },
    sweepIntervalMs: SWEEP_MS,
    log: (line) => lines.push(line),
  });
  const rooms = server.backend.rooms;
  const real = rooms.expireEmptyRooms.bind(rooms);
  let calls = 0;
  rooms.expireEmptyRooms = async (emptySince, stop) => {
    const call = ++calls;
    lines.push(`sweep ${call} entered`);
    try {
      await hold(call, stop);
      return await real(emptySince, stop);
    } finally {
      lines.push(`sweep ${call} ended`);
    }
  };
  return { server, calls: () => calls };
}

describe('the periodic sweep at shutdown', () => {
  it('close() stops a sweep in flight and waits for it before closing the stores; nothing is sent or logged after', async () => {
    const redis = await RedisServer.start();
    const lines: string[] = [];
    const entered = barrier();
    const backendClosing = barrier();
    const { server } = await sweepingServer(redis, lines, async (_call, stop) => {
      entered.open();
      // Held until close() asks it to stop, or (without the fix) until the stores close under it.
      const stopped = new Promise<void>((resolve) => stop?.addEventListener('abort', () => resolve()));
      await Promise.race([stopped, backendClosing.promise]);
    });
    const realClose = server.backend.close.bind(server.backend);
    server.backend.close = () => {
      lines.push('backend close');
      backendClosing.open();
      return realClose();
    };
    const check = new Redis(redis.url);
    try {
      // A name in the set of empty rooms without its room: a sweep's step would drop it (ZREM).
      await check.zadd('chat:empty', 0, 'ghost');
      vi.advanceTimersByTime(SWEEP_MS);
      await entered.promise;
      await within('close', server.close());
      lines.push('closed');
      expect(lines).toEqual(['sweep 1 entered', 'sweep 1 ended', 'backend close', 'closed']);
      // The sweep stopped before its steps (the name is left to the next sweep), and the node's
      // clients are gone: nothing of it can reach Redis after close.
      expect(await check.zscore('chat:empty', 'ghost')).toBe('0');
      const clients = String(await check.client('LIST'))
        .trim()
        .split('\n');
      expect(clients).toHaveLength(1); // this check's own
      // No sweep starts after close.
      vi.advanceTimersByTime(3 * SWEEP_MS);
      expect(lines.at(-1)).toBe('closed');
    } finally {
      check.disconnect();
    }
  });

  it('a sweep slower than the interval: the next tick does not start a second one alongside it', async () => {
    const redis = await RedisServer.start();
    const lines: string[] = [];
    const entered = barrier();
    const slow = barrier();
    const { server, calls } = await sweepingServer(redis, lines, async (call) => {
      if (call > 1) return;
      entered.open();
      await slow.promise; // Redis being slow
    });
    try {
      vi.advanceTimersByTime(SWEEP_MS);
      await entered.promise;
      vi.advanceTimersByTime(SWEEP_MS); // the next ticks, while the first sweep runs
      vi.advanceTimersByTime(SWEEP_MS);
      expect(calls()).toBe(1);
      slow.open();
      await waitUntil('the first sweep to end', () => lines.includes('sweep 1 ended'));
      // A tick after it ended sweeps again (one at a time, not never again).
      await waitUntil('a second sweep', () => {
        vi.advanceTimersByTime(SWEEP_MS);
        return calls() === 2;
      });
      expect(lines.slice(0, 3)).toEqual(['sweep 1 entered', 'sweep 1 ended', 'sweep 2 entered']);
    } finally {
      await within('close', server.close());
    }
    expect(lines.filter((l) => l.startsWith('chat:'))).toEqual([]);
  });
});
