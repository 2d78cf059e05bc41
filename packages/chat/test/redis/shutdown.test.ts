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
import { afterEach, describe, expect, it } from 'vitest';
import { type ChatServer, startChatServer } from '../../src/server/chat-server.js';
import { UnavailableError } from '../../src/server/ports.js';
import { ChatNode, cleanupAll, PATIENCE_MS, RedisServer, SimClient, waitUntil } from './helpers.js';

afterEach(cleanupAll);

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
