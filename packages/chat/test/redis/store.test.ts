/**
 * The ChatStore contract on Redis (the same behaviour the SQLite store has), plus what is Redis's
 * own: stream ids are the seqs, the streams are trimmed, errors while Redis is down are
 * UnavailableError, and presence across two backends with expiry of a dead one.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connectRedis, type RedisBackend } from '../../src/server/redis-backend.js';
import { UnavailableError } from '../../src/server/storage/types.js';
import { cleanupAll, freePort, RedisServer, sleep, waitUntil } from './helpers.js';

const backends: RedisBackend[] = [];
afterEach(async () => {
  for (const b of backends.splice(0)) await b.store.close();
  await cleanupAll();
});

async function backend(url: string, extra: Record<string, unknown> = {}): Promise<RedisBackend> {
  const b = await connectRedis({ url, ...extra }, () => {});
  backends.push(b);
  return b;
}

const msg = (room: string, user: string, clientId: string, text = clientId) =>
  ({ type: 'message', room, user, clientId, text, ts: 1763780000000 }) as const;

describe('RedisStore', () => {
  it('numbers events per room from 1 without gaps, dedups by (user, client id), and logs them in a stream', async () => {
    const redis = await RedisServer.start();
    const { store } = await backend(redis.url);
    expect(await store.createRoom('a', 'x', 0)).toBe(true);
    expect(await store.createRoom('a', 'x', 0)).toBe(false);
    await store.createRoom('b', 'x', 0);
    const r1 = await store.appendEvent(msg('a', 'ann', 'c1', 'héllo "quoted" / <b>'));
    const r2 = await store.appendEvent(msg('b', 'ann', 'c2'));
    const r3 = await store.appendEvent(msg('a', 'ben', 'c1'));
    const dup = await store.appendEvent(msg('a', 'ann', 'c1', 'changed'));
    expect([r1, r2, r3].map((r) => r.ok && r.event.type === 'message' && r.event.message.seq)).toEqual([
      1, 1, 2,
    ]);
    expect(dup).toMatchObject({
      ok: true,
      duplicate: true,
      event: { message: { seq: 1, text: 'héllo "quoted" / <b>', user: 'ann', id: 'c1' } },
    });
    expect(await store.head('a')).toBe(2);
    expect(await store.appendEvent(msg('nope', 'ann', 'c9'))).toEqual({ ok: false, reason: 'not_found' });
    const events = await store.eventsAfter('a', 0, 10);
    expect(events.map((e) => e.type === 'message' && e.message.id)).toEqual(['c1', 'c1']);
    expect(events[0]).toEqual({
      type: 'message',
      message: { room: 'a', seq: 1, id: 'c1', user: 'ann', text: 'héllo "quoted" / <b>', ts: 1763780000000 },
    });
  });

  it('records edits and deletes as events and applies them to the message', async () => {
    const redis = await RedisServer.start();
    const { store } = await backend(redis.url);
    await store.createRoom('a', 'x', 0);
    await store.appendEvent(msg('a', 'ann', 'c1', 'first'));
    await store.appendEvent(msg('a', 'ben', 'c2', 'second'));
    expect(
      await store.appendEvent({ type: 'edit', room: 'a', user: 'ben', target: 1, text: 'x', ts: 5 }),
    ).toEqual({
      ok: false,
      reason: 'forbidden',
    });
    expect(
      await store.appendEvent({ type: 'edit', room: 'a', user: 'ann', target: 9, text: 'x', ts: 5 }),
    ).toEqual({
      ok: false,
      reason: 'not_found',
    });
    const edit = await store.appendEvent({
      type: 'edit',
      room: 'a',
      user: 'ann',
      target: 1,
      text: 'fixed',
      ts: 1763780000123,
    });
    expect(edit).toEqual({
      ok: true,
      duplicate: false,
      event: { type: 'edited', room: 'a', seq: 3, target: 1, user: 'ann', text: 'fixed', ts: 1763780000123 },
    });
    const del = await store.appendEvent({ type: 'delete', room: 'a', user: 'ben', target: 2, ts: 7 });
    expect(del).toMatchObject({ ok: true, event: { type: 'deleted', seq: 4, target: 2 } });
    expect(await store.appendEvent({ type: 'delete', room: 'a', user: 'ben', target: 2, ts: 8 })).toEqual({
      ok: false,
      reason: 'not_found',
    });
    const page = await store.messagesBefore('a', 100, 10);
    expect(page).toEqual([
      { room: 'a', seq: 2, id: 'c2', user: 'ben', text: '', ts: 1763780000000, deleted: true },
      { room: 'a', seq: 1, id: 'c1', user: 'ann', text: 'fixed', ts: 1763780000000, editedAt: 1763780000123 },
    ]);
    expect(await store.messagesBefore('a', 2, 10)).toHaveLength(1);
    // Replay shows messages as they are now, then the change events in order.
    const replay = await store.eventsAfter('a', 0, 10);
    expect(replay.map((e) => e.type)).toEqual(['message', 'message', 'edited', 'deleted']);
    expect(replay[1]).toMatchObject({ message: { text: '', deleted: true } });
    expect(await store.eventsAfter('a', 3, 10)).toHaveLength(1);
  });

  it('keeps memberships, read markers and exact unread counts', async () => {
    const redis = await RedisServer.start();
    const { store } = await backend(redis.url);
    await store.createRoom('a', 'x', 0);
    expect(await store.join('ann', 'nope')).toBe(false);
    expect(await store.join('ann', 'a')).toBe(true);
    expect(await store.join('ann', 'a')).toBe(false);
    for (let i = 1; i <= 5; i++) await store.appendEvent(msg('a', i % 2 ? 'ben' : 'ann', `m${i}`));
    await store.join('ben', 'a');
    expect(await store.memberships('ben')).toEqual([{ room: 'a', lastRead: 5 }]);
    expect(await store.members('a')).toEqual(['ann', 'ben']);
    expect(await store.listRooms()).toEqual([{ name: 'a', members: 2 }]);
    // ann read nothing: ben's 3 messages are unread; one of them deleted leaves 2.
    expect(await store.unreadCount('a', 'ann', 0)).toBe(3);
    await store.appendEvent({ type: 'delete', room: 'a', user: 'ben', target: 1, ts: 1 });
    expect(await store.unreadCount('a', 'ann', 0)).toBe(2);
    expect(await store.unreadCount('a', 'ann', 3)).toBe(1);
    await store.markRead('ann', 'a', 4);
    await store.markRead('ann', 'a', 2); // never back
    await store.markRead('ann', 'a', 999); // never past head (6)
    expect(await store.memberships('ann')).toEqual([{ room: 'a', lastRead: 6 }]);
    expect(await store.leave('ann', 'a')).toBe(true);
    expect(await store.leave('ann', 'a')).toBe(false);
    expect(await store.members('a')).toEqual(['ben']);
  });

  it('stores users case-insensitively and expires sessions', async () => {
    const redis = await RedisServer.start();
    const { store } = await backend(redis.url);
    expect(await store.createUser({ name: 'Ann', passwordHash: 'h', createdAt: 1 })).toBe(true);
    expect(await store.createUser({ name: 'ann', passwordHash: 'h2', createdAt: 2 })).toBe(false);
    expect(await store.getUser('ANN')).toEqual({ name: 'Ann', passwordHash: 'h', createdAt: 1 });
    await store.createSession({ token: 't1', user: 'Ann', expiresAt: Date.now() + 150 });
    await store.createSession({ token: 't2', user: 'Ann', expiresAt: Date.now() + 60_000 });
    expect(await store.getSession('t2')).toMatchObject({ user: 'Ann' });
    await sleep(200); // past t1's expiry; a slower machine only waits longer
    expect(await store.getSession('t1')).toBeNull();
    expect(await store.getSession('t2')).toMatchObject({ user: 'Ann' });
    await store.deleteSession('t2');
    expect(await store.getSession('t2')).toBeNull();
  });

  it('trims each stream to about its retention while history keeps every message', async () => {
    const redis = await RedisServer.start();
    const { store } = await backend(redis.url, { streamRetention: 100 });
    await store.createRoom('a', 'x', 0);
    for (let i = 1; i <= 400; i++) await store.appendEvent(msg('a', 'ann', `m${i}`));
    const replay = await store.eventsAfter('a', 0, 1000);
    expect(replay.length).toBeGreaterThanOrEqual(100);
    expect(replay.length).toBeLessThan(400);
    expect(replay.at(-1)).toMatchObject({ message: { seq: 400 } });
    let total = 0;
    let before = 401;
    for (;;) {
      const page = await store.messagesBefore('a', before, 50);
      if (page.length === 0) break;
      total += page.length;
      before = page.at(-1)?.seq ?? 0;
    }
    expect(total).toBe(400);
  });

  it('rejects with UnavailableError while Redis is down and works again when it is back', async () => {
    const redis = await RedisServer.start();
    const b = await backend(redis.url);
    const changes: boolean[] = [];
    b.onServiceChange((up) => changes.push(up));
    await b.store.createRoom('a', 'x', 0);
    await b.store.appendEvent(msg('a', 'ann', 'c1'));
    await redis.stop('SIGKILL');
    await waitUntil('the backend to notice', () => !b.available);
    const err = await b.store.appendEvent(msg('a', 'ann', 'c2')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).code).toBe('unavailable');
    await redis.restart();
    await waitUntil('the backend to reconnect', () => b.available, 10_000);
    expect(changes).toEqual([false, true]);
    // appendfsync always: the message acknowledged before the crash is there.
    expect(await b.store.head('a')).toBe(1);
    const r = await b.store.appendEvent(msg('a', 'ann', 'c2'));
    expect(r).toMatchObject({ ok: true, duplicate: false, event: { message: { seq: 2 } } });
  });
});

describe('connectRedis', () => {
  it('waits for a Redis that starts late, and fails clearly when none answers', async () => {
    const port = await freePort();
    await expect(
      connectRedis({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 500 }, () => {}),
    ).rejects.toThrow(`could not reach Redis at 127.0.0.1:${port} within 500 ms`);
    await expect(connectRedis({ url: 'http://127.0.0.1:1' }, () => {})).rejects.toThrow('redis://');
    await expect(connectRedis({ url: 'redis://127.0.0.1:1', bogus: 1 } as never, () => {})).rejects.toThrow(
      'unknown option "bogus"',
    );
    // A node started before its Redis: connects once Redis is up.
    const redis = await RedisServer.start();
    await redis.stop('SIGKILL');
    const pending = connectRedis({ url: redis.url, connectTimeoutMs: 8000 }, () => {});
    await sleep(700);
    await redis.restart();
    const b = await pending;
    backends.push(b);
    expect(await b.store.createRoom('late', 'x', 0)).toBe(true);
  });
});

describe('RedisPresence', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('counts connections across nodes, beats every ttl/3, and drops a dead node\u2019s users at the first sweep past the ttl', async () => {
    // The heartbeat intervals are faked and beats are run by hand, so no check depends on a timer
    // firing in time on a loaded machine; expiry itself is decided by Redis's clock.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const ttl = 600;
    const redis = await RedisServer.start();
    const a = await backend(redis.url, { presenceTtlMs: ttl });
    const b = await backend(redis.url, { presenceTtlMs: ttl });
    expect(await a.presence.add('r', 'ann', 'a-1')).toBe(true);
    expect(await b.presence.add('r', 'ann', 'b-1')).toBe(false); // second device
    expect(await b.presence.add('r', 'ben', 'b-2')).toBe(true);
    expect(await a.presence.online('r')).toEqual(['ann', 'ben']);
    expect(await a.presence.remove('r', 'ann', 'a-1')).toBe(false); // b-1 still there
    expect(await b.presence.remove('r', 'ann', 'b-1')).toBe(true);
    expect(await a.presence.online('r')).toEqual(['ben']);

    // Each node beats every ttl/3.
    const beats = vi.spyOn(b.presence, 'beat');
    vi.advanceTimersByTime(ttl / 3 - 1);
    expect(beats).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(beats).toHaveBeenCalledTimes(1);
    await beats.mock.results[0].value;
    beats.mockRestore();

    // Beats keep ben online past the ttl: b refreshes, then a sweeps, over two ttls of real time
    // (the waits are lower bounds only: a slower machine waits longer and changes nothing).
    for (let round = 0; round < 6; round++) {
      await sleep(ttl / 3);
      await b.presence.beat();
      await a.presence.beat();
      expect(await a.presence.online('r')).toEqual(['ben']);
    }
    // b "dies": it stops beating. a sweeps the room because it has a connection there.
    await a.presence.add('r', 'cat', 'a-3');
    b.presence.close();
    await sleep(ttl + 50); // past b's last refresh + ttl on Redis's clock
    await a.presence.beat(); // the first sweep past the ttl
    expect(await a.presence.online('r')).toEqual(['cat']);
  });
});
