/**
 * The event reader (backends/redis/events.ts) is woken when its room set changes, and no wake can be
 * lost: a room opened while the reader is between two reads (its next XREAD already built from the
 * old room set, not yet at Redis) is read at once, not after the XREAD's block timeout.
 *
 * The race is forced, not hoped for: the reader connection's `xread` is wrapped so that the first
 * read, once the loop has built it, waits until a second room has been opened and the wake has
 * reached Redis (a PING answered on the command connection after it) before it is sent. The block
 * timeout is far longer than the wait for the event, so a lost wake fails the test.
 *
 * And stop() does not wait for Redis: a read blocked at a hung Redis is abandoned.
 * Its per-room counts (/_stats) hold any room name, `constructor` too.
 */
import type { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { connectRedis, type RedisConnections } from '../../src/server/backends/redis/connection.js';
import { RedisCommittedEvents } from '../../src/server/backends/redis/events.js';
import { RedisKeys } from '../../src/server/backends/redis/keys.js';
import { RedisStore } from '../../src/server/backends/redis/store.js';
import { PATIENCE_MS, RedisServer, redisServerForThisFile, waitUntil } from './helpers.js';
import { connect } from './loss.js';

const server = redisServerForThisFile();
const quotas = { maxRooms: 100, maxOwnedRooms: 100 };
const roomInfo = (name: string) => ({ name, kind: 'public' as const, owner: 'x', createdAt: 0 });
const message = (room: string, text: string) =>
  ({ type: 'message', room, user: 'ann', clientId: text, text, ts: 1763780000000 }) as const;

const opened: { redis: RedisConnections; events: RedisCommittedEvents }[] = [];
afterEach(async () => {
  for (const { redis, events } of opened.splice(0)) {
    await events.stop();
    await redis.close();
  }
});

let prefixes = 0;

type Xread = (...args: unknown[]) => Promise<unknown>;

it('reads a room opened while the reader is between two reads at once, not after blockMs', async () => {
  const redis = await connect(server().url);
  const keys = new RedisKeys(`ev${prefixes++}:`);
  const store = new RedisStore(redis.cmd, keys);
  for (const name of ['a', 'b']) {
    await store.createRoom(roomInfo(name), quotas);
    await store.join('ann', name, 9);
  }
  // Far beyond the wait below: only a wake can end this read in time.
  const blockMs = 10 * PATIENCE_MS;
  const events = new RedisCommittedEvents(redis.cmd, redis.reader, keys, { blockMs, checkMs: 1e9 });
  opened.push({ redis, events });
  const delivered: string[] = [];
  const listener = (room: string) => (seq: number, payload: string) => {
    const event = JSON.parse(payload) as { message: { text: string } };
    delivered.push(`${room} ${seq} ${event.message.text}`);
  };

  const reader = redis.reader as unknown as { xread: Xread };
  const xread = reader.xread.bind(redis.reader) as Xread;
  let raced = false;
  let streamsOfFirstRead: string[] = [];
  reader.xread = async (...args: unknown[]) => {
    if (!raced) {
      raced = true;
      streamsOfFirstRead = args.filter((a): a is string => typeof a === 'string' && a.endsWith('}:log'));
      // The loop has built this read from room set {a}. Open b now and let the wake reach Redis
      // before the read does: a wake that only ends a read already blocked is lost here.
      await events.open('b', listener('b'));
      await (redis.cmd as Redis).ping();
    }
    return xread(...args);
  };

  await events.open('a', listener('a'));
  await waitUntil('the first read to start', () => raced);
  expect(streamsOfFirstRead).toEqual([keys.log('a')]);
  await store.appendEvent(message('b', 'hello b'));
  await waitUntil('the event of b', () => delivered.length === 1, PATIENCE_MS);
  expect(delivered).toEqual(['b 1 hello b']);
  // And a still reads as before.
  await store.appendEvent(message('a', 'hello a'));
  await waitUntil('the event of a', () => delivered.length === 2, PATIENCE_MS);
  expect(delivered[1]).toBe('a 1 hello a');
  // The wake stream holds at most one entry and expires, so a dead node leaves nothing behind.
  const wakeKeys = await redis.cmd.keys(`${keys.prefix}wake:*`);
  expect(wakeKeys).toHaveLength(1);
  expect(await redis.cmd.xlen(wakeKeys[0])).toBe(1);
  const ttl = await redis.cmd.pttl(wakeKeys[0]);
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(60_000);
});

it('stops at once when stop() comes while the reader is between two reads', async () => {
  const redis = await connect(server().url);
  const keys = new RedisKeys(`ev${prefixes++}:`);
  const events = new RedisCommittedEvents(redis.cmd, redis.reader, keys, {
    blockMs: 10 * PATIENCE_MS,
    checkMs: 1e9,
  });
  opened.push({ redis, events });
  const reader = redis.reader as unknown as { xread: Xread };
  const xread = reader.xread.bind(redis.reader) as Xread;
  let stopped: Promise<void> | undefined;
  reader.xread = async (...args: unknown[]) => {
    if (!stopped) {
      stopped = events.stop();
      await (redis.cmd as Redis).ping();
    }
    return xread(...args);
  };
  await events.open('a', () => {});
  await waitUntil('the first read to start', () => stopped !== undefined);
  // The test's own timeout is far below blockMs: a lost wake fails it.
  await stopped;
  // Its wake stream (written by that wake) goes with it, not a minute later.
  expect(await redis.cmd.keys(`${keys.prefix}wake:*`)).toEqual([]);
});

it('stops at once, and its connections close, while its read is blocked at a hung Redis', async () => {
  // A Redis of its own, stopped (SIGSTOP) under the reader: it answers nothing and keeps the
  // connections open. The reader's connection has no command timeout and the read's block and
  // the command timeout are far beyond the test's own timeout: only not waiting for Redis passes.
  const hung = await RedisServer.start();
  const redis = await connectRedis(
    { url: hung.url, connectTimeoutMs: 10_000, commandTimeoutMs: 10 * PATIENCE_MS },
    () => {},
  );
  const keys = new RedisKeys(`ev${prefixes++}:`);
  const events = new RedisCommittedEvents(redis.cmd, redis.reader, keys, {
    blockMs: 10 * PATIENCE_MS,
    checkMs: 1e9,
  });
  const reader = redis.reader as unknown as { xread: Xread };
  const xread = reader.xread.bind(redis.reader) as Xread;
  let reading: Promise<unknown> | undefined;
  reader.xread = (...args: unknown[]) => {
    reading = xread(...args);
    return reading;
  };
  await events.open('a', () => {});
  await waitUntil('the read to be sent', () => reading !== undefined);
  // Blocked at Redis: a PING sent after the read on the command connection is answered.
  await (redis.cmd as Redis).ping();
  hung.proc?.kill('SIGSTOP');
  try {
    const pending = (redis.cmd as Redis).get('x').then(
      () => 'answered',
      () => 'failed',
    );
    await events.stop();
    await redis.close();
    expect(await pending).toBe('failed');
  } finally {
    hung.proc?.kill('SIGCONT');
  }
});

it('counts the events of a room named `constructor` as a number in its stats', async () => {
  // Regression: the counts were a plain object, so `constructor` started from Object's
  // constructor and /_stats showed its source text with "1" appended.
  const redis = await connect(server().url);
  const keys = new RedisKeys(`ev${prefixes++}:`);
  const store = new RedisStore(redis.cmd, keys);
  await store.createRoom(roomInfo('constructor'), quotas);
  await store.join('ann', 'constructor', 9);
  const events = new RedisCommittedEvents(redis.cmd, redis.reader, keys, { blockMs: 50, checkMs: 1e9 });
  opened.push({ redis, events });
  const delivered: number[] = [];
  await events.open('constructor', (seq) => delivered.push(seq));
  await store.appendEvent(message('constructor', 'hello'));
  await waitUntil('the event', () => delivered.length === 1, PATIENCE_MS);
  expect(events.stats.roomEventsReceived.constructor).toBe(1);
});

it('forgets the count of a room once the room is closed here', async () => {
  // Regression: roomEventsReceived kept a count for every room this node ever read, closed or not
  // (rooms created and deleted, or emptied here, piled up for the life of the node).
  const redis = await connect(server().url);
  const keys = new RedisKeys(`ev${prefixes++}:`);
  const store = new RedisStore(redis.cmd, keys);
  await store.createRoom(roomInfo('brief'), quotas);
  await store.join('ann', 'brief', 9);
  const events = new RedisCommittedEvents(redis.cmd, redis.reader, keys, { blockMs: 50, checkMs: 1e9 });
  opened.push({ redis, events });
  const delivered: number[] = [];
  await events.open('brief', (seq) => delivered.push(seq));
  await store.appendEvent(message('brief', 'hello'));
  await waitUntil('the event', () => delivered.length === 1, PATIENCE_MS);
  expect(events.stats.roomEventsReceived).toEqual({ brief: 1 });
  events.close('brief');
  expect(Object.keys(events.stats.roomEventsReceived)).toEqual([]);
});

it('logs a read cut off by a closed connection as that, not as an ioredis option to change', async () => {
  // Regression: the line read "Reached the max retries per request limit (which is 0). Refer to
  // "maxRetriesPerRequest" option for details." (ioredis's words for a command whose connection
  // closed), which sent operators looking for a setting when Redis had restarted.
  const redis = await connect(server().url);
  const keys = new RedisKeys(`ev${prefixes++}:`);
  const lines: string[] = [];
  const events = new RedisCommittedEvents(redis.cmd, redis.reader, keys, {
    blockMs: 10 * PATIENCE_MS,
    checkMs: 1e9,
    log: (line) => lines.push(line),
  });
  opened.push({ redis, events });
  const reader = redis.reader as unknown as { xread: Xread };
  const xread = reader.xread.bind(redis.reader) as Xread;
  let reading: Promise<unknown> | undefined;
  reader.xread = (...args: unknown[]) => {
    reading ??= xread(...args);
    return reading;
  };
  await events.open('a', () => {});
  await waitUntil('the read to be sent', () => reading !== undefined);
  // Blocked at Redis (a PING sent after it on the command connection is answered): cut it off.
  await (redis.cmd as Redis).ping();
  const port = (redis.reader as unknown as { stream: { localPort: number } }).stream.localPort;
  await (redis.cmd as Redis).client('KILL', 'ADDR', `127.0.0.1:${port}`);
  await waitUntil('the failure logged', () => lines.length > 0);
  expect(lines).toEqual([
    'chat: redis event read failed, retrying: the connection to Redis closed before it answered',
  ]);
});
