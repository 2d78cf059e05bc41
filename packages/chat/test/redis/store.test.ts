/**
 * The store contract on Redis (test/backends/store-contract.ts, the same as SQLite's), plus what is
 * Redis's own: stream ids are the seqs and the streams are trimmed; errors while Redis is down are
 * UnavailableError; committed events reach every node in order; the throttle is shared by nodes;
 * presence across two backends with expiry of a dead one.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { refusedPort } from '../../../../test-support/ports.js';
import { DEFAULT_SIGN_IN_BACKOFF } from '../../src/server/backends/backoff.js';
import { RedisAttachments } from '../../src/server/backends/redis/attachments.js';
import { RedisBus } from '../../src/server/backends/redis/bus.js';
import { createRedisBackend, type RedisBackendOptions } from '../../src/server/backends/redis/index.js';
import { RedisKeys, toStoreError } from '../../src/server/backends/redis/keys.js';
import type { RedisPresence } from '../../src/server/backends/redis/presence.js';
import { parseLogEntry, RedisStore } from '../../src/server/backends/redis/store.js';
import { ManualClock } from '../../src/server/clock.js';
import {
  type Backend,
  type BackendOptions,
  type LogChange,
  UnavailableError,
} from '../../src/server/ports.js';
import { bansContract } from '../backends/bans-contract.js';
import { blocksContract } from '../backends/blocks-contract.js';
import { asMembers } from '../backends/members.js';
import { messagePartsContract } from '../backends/message-parts-contract.js';
import { storeContract } from '../backends/store-contract.js';
import { RedisServer, redisServerForThisFile, sleep, waitUntil } from './helpers.js';
import { connect } from './loss.js';

const backends: Backend[] = [];
afterEach(async () => {
  for (const b of backends.splice(0)) await b.close();
});

const clock = new ManualClock();
const common: BackendOptions = {
  clock,
  log: () => {},
  buckets: {
    messages: { burst: 3, perSecond: 1 },
    rooms: { burst: 10, perSecond: 1 },
    requests: { burst: 10, perSecond: 1 },
    signInPerIp: { burst: 10, perSecond: 1 },
    signUpPerIp: { burst: 10, perSecond: 1 },
  },
  signInBackoff: DEFAULT_SIGN_IN_BACKOFF,
};

let prefixes = 0;
async function bareBackend(url: string, extra: Partial<RedisBackendOptions> = {}): Promise<Backend> {
  // Each backend of a test gets its own key prefix unless the test shares one on purpose.
  const b = await createRedisBackend({ url, prefix: `t${prefixes++}:`, ...extra }, common);
  backends.push(b);
  return b;
}

const msg = (room: string, user: string, clientId: string, text = clientId) =>
  ({ type: 'message', room, user, clientId, text, ts: 1763780000000 }) as const;
const quotas = { maxRooms: 100, maxOwnedRooms: 100 };
const room = (name: string) => ({ name, kind: 'public' as const, owner: 'x', createdAt: 0 });

const sharedServer = redisServerForThisFile();

/** Waits until the async `check` holds (each look is a round trip to Redis). */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
}

/** The tests below append as users they never joined: asMembers joins them first (members.ts). */
async function backend(url: string, extra: Partial<RedisBackendOptions> = {}): Promise<Backend> {
  const b = await bareBackend(url, extra);
  const rooms = asMembers(b.rooms);
  // A proxy, not a copy: `available` is a getter.
  return new Proxy(b, { get: (target, prop) => (prop === 'rooms' ? rooms : Reflect.get(target, prop)) });
}

storeContract('Redis', async () => {
  const b = await bareBackend(sharedServer().url);
  return { accounts: b.accounts, rooms: b.rooms };
});

blocksContract('Redis', async () => {
  // Two nodes on the same keys.
  const prefix = `t${prefixes++}:`;
  const a = await bareBackend(sharedServer().url, { prefix });
  const b = await bareBackend(sharedServer().url, { prefix });
  return { rooms: a.rooms, other: b.rooms };
});

bansContract('Redis', async () => {
  const prefix = `t${prefixes++}:`;
  const b = await bareBackend(sharedServer().url, { prefix });
  // A ban left behind a room deleted by a node from before bans (its DELETE_ROOM kept the key).
  const leftover = async (room: string, user: string) => {
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    try {
      await raw.zadd(new RedisKeys(prefix).bans(room), 0, user);
    } finally {
      await raw.quit();
    }
  };
  // The same write, into a room that exists: a ban an older node stored (of the owner, say).
  return { rooms: b.rooms, leftover, olderBan: leftover };
});

messagePartsContract('Redis', async () => {
  const b = await bareBackend(sharedServer().url);
  return { accounts: b.accounts, rooms: b.rooms };
});

describe('RedisStore look-alike names', () => {
  it('lets one of two look-alike names signing up at once on two nodes succeed', async () => {
    // Regression (lookalike): both succeeded; the skeleton key is written by the sign-up script.
    const a = await bareBackend(sharedServer().url, { prefix: 'alike:' });
    const b = await bareBackend(sharedServer().url, { prefix: 'alike:' });
    const user = (name: string) => ({ name, passwordHash: 'h', createdAt: 1 });
    const results = await Promise.all([
      a.accounts.createUser(user('alice')),
      b.accounts.createUser(user('aIice')),
      a.accounts.createUser(user('a1ice')),
      b.accounts.createUser(user('AIice')),
    ]);
    expect(results.filter((r) => r === 'created')).toHaveLength(1);
    // The others are refused; `aIice` and `AIice` are one name ignoring case, so when one of them
    // is the one created (the two nodes' scripts run in either order) the other is 'taken'.
    expect(results.filter((r) => r === 'similar' || r === 'taken')).toHaveLength(3);
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    try {
      const users = (await raw.keys('alike:user:*')).sort();
      expect(users).toHaveLength(1);
      expect(await raw.keys('alike:skeleton:*')).toEqual(['alike:skeleton:alice']);
      expect(await raw.get('alike:skeleton:alice')).toBe(users[0]?.slice('alike:user:'.length));
    } finally {
      await raw.quit();
    }
  });

  it('gives the accounts stored before skeleton keys theirs from the start: look-alikes stored before stay, new ones are refused', async () => {
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    // As a server before this version wrote them (SET NX of user:<name lower> alone), two of
    // them look-alikes; more than one SCAN step's worth of other keys around them.
    const old = (name: string, createdAt: number) =>
      raw.set(`before:user:${name.toLowerCase()}`, JSON.stringify({ name, passwordHash: 'h', createdAt }));
    try {
      await old('alice', 1);
      await old('aIice', 2);
      await old('Bob', 3);
      await raw.mset(
        Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`before:room:{r${i}}:seq`, '1'])),
      );
    } finally {
      await raw.quit();
    }
    const b = await bareBackend(sharedServer().url, { prefix: 'before:' });
    const { accounts } = b;
    // In the background from the start: /_stats says when it is done.
    await waitUntil('the skeleton index done', () => b.stats().skeletonIndex === 'done');
    const user = (name: string) => ({ name, passwordHash: 'h', createdAt: 9 });
    expect(await accounts.createUser(user('a1ice'))).toBe('similar');
    expect(await accounts.createUser(user('B0b'))).toBe('similar');
    expect(await accounts.createUser(user('carol'))).toBe('created');
    expect(await accounts.createUser(user('caroI'))).toBe('similar');
    // Both look-alikes from before still sign in.
    expect(await accounts.getUser('alice')).toMatchObject({ name: 'alice', createdAt: 1 });
    expect(await accounts.getUser('aiice')).toMatchObject({ name: 'aIice', createdAt: 2 });
  });
});

describe('RedisStore invitations from before the expiry index', () => {
  it('indexes them at a node start, once however often nodes start, so the sweep expires and reports them', async () => {
    // Regression: invitations written before `invites-due` existed were never in it, so the sweep
    // never expired them (nor told their users); they lay in the invitee's list until a welcome.
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    const p = 'oldinv:';
    try {
      // As a server of the version before wrote them: the two hashes, no zset entry. And one
      // written by this version (indexed), which the start leaves as it is; more than one SCAN
      // step's worth of other keys around them.
      const old = async (user: string, room: string, at: number) => {
        await raw.hset(`${p}invites:${user}`, room, JSON.stringify({ by: 'alice', at }));
        await raw.hset(`${p}room:{${room}}:invited`, user, String(at));
      };
      await old('bob', 'plans', 100);
      await old('bob', 'trip', 5000);
      await old('Carol', 'plans', 200);
      await raw.hset(`${p}invites:dan`, 'plans', JSON.stringify({ by: 'alice', at: 300 }));
      await raw.zadd(`${p}invites-due`, 300, 'plans\ndan');
      await raw.mset(
        Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`${p}room:{r${i}}:seq`, '1'])),
      );
      const first = await bareBackend(sharedServer().url, { prefix: p });
      // Another node starting at once indexes the same invitations: nothing twice.
      await bareBackend(sharedServer().url, { prefix: p });
      // The sweep waits for the start's index: no polling needed.
      const expired = await first.rooms.expireInvitations(1000);
      expect(expired.sort((a, b) => (a.user < b.user ? -1 : 1))).toEqual([
        { user: 'Carol', room: 'plans' },
        { user: 'bob', room: 'plans' },
        { user: 'dan', room: 'plans' },
      ]);
      expect(await first.rooms.expireInvitations(1000)).toEqual([]);
      // The young one stays, indexed with its own time, and expires in its turn.
      expect(await raw.zrange(`${p}invites-due`, '0', '-1', 'WITHSCORES')).toEqual(['trip\nbob', '5000']);
      expect(await first.rooms.invitations('bob', 1000)).toMatchObject([{ room: 'trip', at: 5000 }]);
      expect(await first.rooms.expireInvitations(5000)).toEqual([{ user: 'bob', room: 'trip' }]);
      expect(first.stats().invitationIndex).toBe('done');
    } finally {
      await raw.quit();
    }
  });
});

describe('RedisStore invitations declined before declined:<user>', () => {
  it('gives them their entry at a node start, so that a block of the owner drops their room side', async () => {
    // Regression: a decline by a node of the version before dropped the invitee's side alone, so
    // a block of the owner found nothing and the owner went on seeing the invitee until it expired.
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    const p = 'olddecl:';
    const limits = { perUser: 10, perRoom: 10, expiredAt: 0 };
    try {
      const first = await bareBackend(sharedServer().url, { prefix: p });
      const { rooms } = first;
      await waitUntil('the first index over', () => first.stats().invitationIndex === 'done');
      for (const [owner, name] of [
        ['ben', 'r1'],
        ['ben', 'r2'],
        ['ben', 'r3'],
        ['cid', 'c1'],
      ] as const) {
        await rooms.createRoom({ name, kind: 'private', owner, createdAt: 0 }, quotas);
        await rooms.join(owner, name, 10);
        expect(await rooms.invite(name, 'ann', owner, 1000, limits)).toBe('invited');
      }
      // Declined as such a node declined: the invitee's side dropped alone (r1, and c1 by cid); r3
      // from before `invites-due` as well. r2 stays pending.
      for (const name of ['r1', 'r3', 'c1']) expect(await raw.hdel(`${p}invites:ann`, name)).toBe(1);
      expect(await raw.zrem(`${p}invites-due`, 'r3\nann')).toBe(1);
      // As before an upgrade: the first node's done-marker gone, so the next start runs the pass.
      await raw.del(`${p}index:invitations:v1`);

      const second = await bareBackend(sharedServer().url, { prefix: p });
      await waitUntil('the second index over', () => second.stats().invitationIndex === 'done');
      const declined = await raw.hgetall(`${p}declined:ann`);
      expect(Object.fromEntries(Object.entries(declined).map(([r, d]) => [r, JSON.parse(d)]))).toEqual({
        r1: { by: 'ben', at: 1000 },
        r3: { by: 'ben', at: 1000 },
        c1: { by: 'cid', at: 1000 },
      });
      expect((await raw.zrange(`${p}invites-due`, '0', '-1')).sort()).toEqual([
        'c1\nann',
        'r1\nann',
        'r2\nann',
        'r3\nann',
      ]);
      expect(await second.rooms.block('ann', 'ben', 10)).toEqual({ result: 'blocked', dropped: ['r2'] });
      for (const name of ['r1', 'r2', 'r3'])
        expect([name, await second.rooms.invitees(name)]).toEqual([name, []]);
      expect(await second.rooms.invitees('c1')).toEqual(['ann']);
      // cid's expires in its turn, untold (she declined it), with its entry.
      expect(await second.rooms.expireInvitations(1000)).toEqual([]);
      expect(await second.rooms.invitees('c1')).toEqual([]);
      expect(await raw.hlen(`${p}declined:ann`)).toBe(0);
    } finally {
      await raw.quit();
    }
  });
});

describe('RedisStore declined invitations (declined:<user>)', () => {
  const limits = (perUser: number, expiredAt = 0) => ({ perUser, perRoom: 10, expiredAt });
  async function privateRooms(rooms: Backend['rooms'], owner: string, names: string[]) {
    for (const name of names) {
      await rooms.createRoom({ name, kind: 'private', owner, createdAt: 0 }, quotas);
      await rooms.join(owner, name, 10);
    }
  }

  it('keeps them to the per-user cap at each invitation, the oldest first; a block drops the room side of those kept', async () => {
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    const p = 'declcap:';
    try {
      const { rooms } = await bareBackend(sharedServer().url, { prefix: p });
      await privateRooms(rooms, 'ben', ['r1', 'r2', 'r3', 'r4']);
      // Declining frees a place: three declined with a cap of 2.
      for (const [i, name] of ['r1', 'r2', 'r3'].entries()) {
        expect(await rooms.invite(name, 'ann', 'ben', 1000 + i, limits(2))).toBe('invited');
        expect(await rooms.dropInvitation('ann', name)).toBe(true);
      }
      expect((await raw.hkeys(`${p}declined:ann`)).sort()).toEqual(['r1', 'r2', 'r3']);
      expect(await rooms.invite('r4', 'ann', 'ben', 1003, limits(2))).toBe('invited');
      // Kept to the cap: the oldest (r1) no longer held, its room side left to its expiry.
      expect((await raw.hkeys(`${p}declined:ann`)).sort()).toEqual(['r2', 'r3']);
      expect(await rooms.block('ann', 'ben', 10)).toEqual({ result: 'blocked', dropped: ['r4'] });
      for (const name of ['r2', 'r3', 'r4']) expect([name, await rooms.invitees(name)]).toEqual([name, []]);
      expect(await rooms.invitees('r1')).toEqual(['ann']);
      expect(await raw.hlen(`${p}declined:ann`)).toBe(0);
      expect(await raw.zrange(`${p}invites-due`, '0', '-1')).toEqual(['r1\nann']);
      // An invitation of the user drops the expired ones with their room side.
      await raw.hset(`${p}declined:ann`, 'r1', JSON.stringify({ by: 'ben', at: 1000 }));
      await privateRooms(rooms, 'cid', ['c1']);
      expect(await rooms.invite('c1', 'ann', 'cid', 3000, limits(2, 2000))).toBe('invited');
      expect(await raw.hlen(`${p}declined:ann`)).toBe(0);
      expect(await rooms.invitees('r1')).toEqual([]);
      expect(await raw.zrange(`${p}invites-due`, '0', '-1')).toEqual(['c1\nann']);
    } finally {
      await raw.quit();
    }
  });

  it("goes with its room side (expiry, the room's deletion, the owner taking it back); one from before, or of an invitation since, is left alone", async () => {
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    const p = 'declgone:';
    try {
      const { rooms } = await bareBackend(sharedServer().url, { prefix: p });
      await privateRooms(rooms, 'ben', ['r1', 'r2', 'r3', 'r4']);
      for (const [name, at] of [
        ['r1', 1000],
        ['r2', 5000],
        ['r3', 5000],
      ] as const) {
        expect(await rooms.invite(name, 'ann', 'ben', at, limits(10))).toBe('invited');
        expect(await rooms.dropInvitation('ann', name)).toBe(true);
      }
      expect(await raw.hlen(`${p}declined:ann`)).toBe(3);
      expect(await rooms.expireInvitations(2000)).toEqual([]); // r1's, untold: she declined it
      expect((await raw.hkeys(`${p}declined:ann`)).sort()).toEqual(['r2', 'r3']);
      expect(await rooms.deleteRoom('r2')).toBe(true);
      expect(await rooms.dropInvitation('ann', 'r3', 'ben')).toBe(true);
      expect(await raw.hlen(`${p}declined:ann`)).toBe(0);

      // Declined on a node of the version before (the invitee's side dropped alone): until a
      // node's start indexes it, a block cannot find it, and its room side stays until it expires.
      expect(await rooms.invite('r4', 'ann', 'ben', 6000, limits(10))).toBe('invited');
      expect(await raw.hdel(`${p}invites:ann`, 'r4')).toBe(1);
      // And an entry of r1 left by such a node (r1's room side dropped without it) while cid's r1,
      // made since under the name, invites her: the block of ben leaves cid's invitation alone.
      expect(await rooms.deleteRoom('r1')).toBe(true);
      await privateRooms(rooms, 'cid', ['r1']);
      expect(await rooms.invite('r1', 'ann', 'cid', 7000, limits(10))).toBe('invited');
      await raw.hset(`${p}declined:ann`, 'r1', JSON.stringify({ by: 'ben', at: 1000 }));
      expect(await rooms.block('ann', 'ben', 10)).toEqual({ result: 'blocked', dropped: [] });
      expect(await rooms.invitees('r4')).toEqual(['ann']);
      expect(await rooms.invitees('r1')).toEqual(['ann']);
      expect((await rooms.invitations('ann', 0)).map((i) => i.room)).toEqual(['r1']);
      expect(await raw.hlen(`${p}declined:ann`)).toBe(0);
      expect(await rooms.expireInvitations(6000)).toEqual([]);
      expect(await rooms.invitees('r4')).toEqual([]);
    } finally {
      await raw.quit();
    }
  });
});

describe('RedisStore mentions from before the per-author zsets', () => {
  /**
   * Mentions of ann as a server from before the per-author zsets stored them: mention:ann and
   * `ann` in mentioned alone (seqs 1-3 by ben, 4 by cid; 5 by ben mentions cid), written by this
   * version and then stripped of what it adds.
   */
  async function oldMentions(rooms: Backend['rooms'], raw: import('ioredis').Redis, p: string) {
    await rooms.createRoom(room('team'), quotas);
    const say = (user: string, clientId: string, mentions: string[]) =>
      rooms.appendEvent({ ...msg('team', user, clientId), mentions });
    for (const id of ['b1', 'b2', 'b3']) await say('ben', id, ['ann']);
    await say('cid', 'c1', ['ann']);
    await say('ben', 'b4', ['cid']);
    const perAuthor = ['ann:ben', 'ann:cid', 'cid:ben'];
    expect(await raw.del(...perAuthor.map((x) => `${p}room:{team}:mention:${x}`))).toBe(3);
    expect(await raw.srem(`${p}room:{team}:mentioned`, ...perAuthor)).toBe(3);
  }

  it("indexes them by author at a node start, so a blocked author's older mentions leave the count", async () => {
    // Regression: mentions stored before e412f2d had no per-author entry, so a count went on taking
    // in the older mentions of an author the reader blocks until she read past them.
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    const p = 'oldmen:';
    try {
      const writer = await backend(sharedServer().url, { prefix: p });
      // Its own start's index is over before the old mentions are written: they are as before,
      // and so is the keyspace: no done-marker (a version before it wrote none).
      await waitUntil('the first mention index done', () => writer.stats().mentionIndex === 'done');
      expect(await raw.del(`${p}index:mentions:v1`)).toBe(1);
      await oldMentions(writer.rooms, raw, p);
      // And an entry a node of the version before left behind: its deletion of seq 9 took it out
      // of mention:ann alone.
      await raw.zadd(`${p}room:{team}:mention:ann:ben`, 9, '9');
      await raw.sadd(`${p}room:{team}:mentioned`, 'ann:ben');
      await writer.rooms.block('ann', 'ben', 10);
      // Before the index: ben's three still count (4, less the stale entry), and after seq 3 cid's
      // one is taken away by that entry.
      expect(await writer.rooms.mentionCount('team', 'ann', 0)).toBe(3);
      expect(await writer.rooms.mentionCount('team', 'ann', 3)).toBe(0);

      // Two nodes of this version start on those keys: each indexes them, once in effect.
      const a = await bareBackend(sharedServer().url, { prefix: p });
      const b = await bareBackend(sharedServer().url, { prefix: p });
      // Each indexes them, or finds the other's done-marker (written once its pass is through).
      await waitUntil('the mention indexes over', () =>
        [a, b].every((node) => node.stats().mentionIndex !== 'running'),
      );
      for (const node of [a, b]) expect(node.stats().mentionIndex).toMatch(/^(done|skipped: done at )/);
      expect(await a.rooms.mentionCount('team', 'ann', 0)).toBe(1); // cid's alone
      expect(await b.rooms.mentionCount('team', 'cid', 0)).toBe(1); // cid blocks nobody
      expect(await b.rooms.block('cid', 'ben', 10)).toMatchObject({ result: 'blocked' });
      expect(await a.rooms.mentionCount('team', 'cid', 0)).toBe(0);
      expect(await a.rooms.unblock('ann', 'ben')).toBe(true);
      expect(await b.rooms.mentionCount('team', 'ann', 0)).toBe(4);
      expect(await raw.zrange(`${p}room:{team}:mention:ann:ben`, '0', '-1')).toEqual(['1', '2', '3']);
      expect((await raw.smembers(`${p}room:{team}:mentioned`)).sort()).toEqual([
        'ann',
        'ann:ben',
        'ann:cid',
        'cid',
        'cid:ben',
      ]);
    } finally {
      await raw.quit();
    }
  });

  it('steps through a long mention zset in bounded steps, and changes nothing when run again', async () => {
    const redis = await connect(sharedServer().url);
    try {
      const p = 'menstep:';
      const keys = new RedisKeys(p);
      const steps: [string, number][] = [];
      const store = new RedisStore(redis.cmd, keys, {
        mentionChunk: 2,
        mentionStepped: (key, read) => steps.push([key.slice(p.length), read]),
      });
      const rooms = asMembers(store);
      await oldMentions(rooms, redis.cmd, p);
      await rooms.appendEvent({ ...msg('team', 'ben', 'b5'), mentions: ['ann'] }); // 6, as now
      await rooms.appendEvent({ type: 'delete', room: 'team', user: 'ben', target: 2, ts: 1 });
      expect(await store.indexMentions()).toBe('done');
      // mention:ann (1, 3, 4, 6) in steps of 2; mention:cid (5); the per-author zsets (6; 1, 3; 4;
      // 5) read back against it, in whatever order the SCAN found them.
      const read = (key: string) => steps.filter(([k]) => k === key).map(([, n]) => n);
      expect(read('room:{team}:mention:ann')).toEqual([2, 2, 0]);
      expect(read('room:{team}:mention:cid')).toEqual([1]);
      for (const [, n] of steps) expect(n).toBeLessThanOrEqual(2);
      await store.block('ann', 'ben', 10);
      expect(await store.mentionCount('team', 'ann', 0)).toBe(1);
      const before = await redis.cmd.zrange(`${p}room:{team}:mention:ann:ben`, '0', '-1');
      expect(before).toEqual(['1', '3', '6']);
      // Its done-marker skips it; without the marker (as after an operator's DEL) it runs again.
      const marker = await redis.cmd.get(`${p}index:mentions:v1`);
      expect(await store.indexMentions()).toEqual({ skipped: Number(marker) });
      expect(await redis.cmd.del(`${p}index:mentions:v1`)).toBe(1);
      steps.length = 0;
      expect(await store.indexMentions()).toBe('done');
      expect(read('room:{team}:mention:ann')).toEqual([2, 2, 0]);
      expect(await redis.cmd.zrange(`${p}room:{team}:mention:ann:ben`, '0', '-1')).toEqual(before);
      expect(await store.mentionCount('team', 'ann', 0)).toBe(1);
      await store.close();
    } finally {
      await redis.close();
    }
  });
});

describe('RedisStore done-markers of the start passes', () => {
  it('skips a pass whose marker says it was done; a node of an older version connected keeps the marker from being written', async () => {
    // Regression: every start read every mention zset and invitation hash again (about 7 us a
    // mention a start, for ever), though nothing of this version writes what they look for.
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    const p = 'marks:';
    const done = (b: Backend) =>
      ['skeletonIndex', 'invitationIndex', 'mentionIndex'].every((f) => b.stats()[f] !== 'running');
    try {
      const first = await backend(sharedServer().url, { prefix: p });
      await waitUntil('the first indexes over', () => done(first));
      expect(first.stats()).toMatchObject({
        skeletonIndex: 'done',
        invitationIndex: 'done',
        mentionIndex: 'done',
      });
      const marked = Number(await raw.get(`${p}index:mentions:v1`));
      expect(Number(await raw.get(`${p}index:invitations:v1`))).toBeGreaterThan(0);
      expect(marked).toBeGreaterThan(0);

      // What only a node of a version before writes, after the marker: a later start skips it.
      await first.rooms.createRoom(room('team'), quotas);
      await first.rooms.appendEvent({ ...msg('team', 'ben', 'b1'), mentions: ['ann'] });
      await raw.del(`${p}room:{team}:mention:ann:ben`);
      await raw.srem(`${p}room:{team}:mentioned`, 'ann:ben');
      await first.rooms.block('ann', 'ben', 10);
      expect(await first.rooms.mentionCount('team', 'ann', 0)).toBe(1);
      const second = await bareBackend(sharedServer().url, { prefix: p });
      await waitUntil('the second indexes over', () => done(second));
      expect(second.stats().mentionIndex).toBe(`skipped: done at ${new Date(marked).toISOString()}`);
      expect(second.stats().invitationIndex).toMatch(/^skipped: done at \d{4}-\d\d-\d\dT/);
      expect(second.stats().skeletonIndex).toMatch(/^skipped: done at \d{4}-\d\d-\d\dT/);
      expect(await second.rooms.mentionCount('team', 'ann', 0)).toBe(1);

      // Without the marker, while a node of an older version is connected (named as they name
      // their connections): the pass runs and writes none, so that node's later writes are covered
      // by the next start.
      expect(await raw.del(`${p}index:mentions:v1`, `${p}index:invitations:v1`)).toBe(2);
      const older = new Redis(sharedServer().url, { connectionName: 'chat-cmd', retryStrategy: () => null });
      try {
        await older.ping();
        const third = await bareBackend(sharedServer().url, { prefix: p });
        await waitUntil('the third indexes over', () => done(third));
        expect(third.stats()).toMatchObject({ invitationIndex: 'done', mentionIndex: 'done' });
        expect(await raw.exists(`${p}index:mentions:v1`, `${p}index:invitations:v1`)).toBe(0);
        expect(await third.rooms.mentionCount('team', 'ann', 0)).toBe(0);
      } finally {
        // Killed by id from another connection: Redis frees it before it answers, so it is out of
        // CLIENT LIST for the next start (a QUIT's connection is freed after its answer).
        await raw.client('KILL', 'ID', String(await older.client('ID')));
        older.disconnect();
      }
      expect(String(await raw.client('LIST'))).not.toMatch(/ name=chat-cmd /);
      const fourth = await bareBackend(sharedServer().url, { prefix: p });
      await waitUntil('the fourth indexes over', () => done(fourth));
      expect(fourth.stats()).toMatchObject({ invitationIndex: 'done', mentionIndex: 'done' });
      expect(await raw.exists(`${p}index:mentions:v1`, `${p}index:invitations:v1`)).toBe(2);
    } finally {
      await raw.quit();
    }
  });
});

describe('RedisStore done-marker of the skeleton pass', () => {
  /** SCANs Redis has run so far (INFO commandstats). */
  const scans = async (redis: { info(section: string): Promise<string> }) =>
    Number(/^cmdstat_scan:calls=(\d+)/m.exec(String(await redis.info('commandstats')))?.[1] ?? 0);

  it('indexes the skeletons at every start while a node of an older version is connected, then writes its marker, and a start after it runs no SCAN', async () => {
    // Regression: the skeleton pass (a SCAN of the whole keyspace, about 15 s per 1.1 million keys)
    // ran at every start for ever, though a node of this version never writes an account without
    // its skeleton key (SIGN_UP writes both).
    const { Redis } = await import('ioredis');
    const redis = await connect(sharedServer().url);
    const p = 'skelmark:';
    const old = (name: string) =>
      redis.cmd.set(
        `${p}user:${name.toLowerCase()}`,
        JSON.stringify({ name, passwordHash: 'h', createdAt: 1 }),
      );
    try {
      const store = new RedisStore(redis.cmd, new RedisKeys(p));
      await old('alice'); // as a server before the skeleton keys wrote it
      // A node of a version before: named as those name their connections (chat-cmd, no @2).
      const older = new Redis(sharedServer().url, { connectionName: 'chat-cmd', retryStrategy: () => null });
      try {
        await older.ping();
        expect(await store.indexSkeletons()).toBe('done');
        expect(await redis.cmd.get(`${p}skeleton:alice`)).toBe('alice');
        expect(await redis.cmd.exists(`${p}index:skeletons:v1`)).toBe(0);
        // What such a node (from before f7b1ffa) may still write meanwhile: the next start covers it.
        await old('Bob');
        expect(await store.indexSkeletons()).toBe('done');
        expect(await redis.cmd.get(`${p}skeleton:bob`)).toBe('bob');
        expect(await redis.cmd.exists(`${p}index:skeletons:v1`)).toBe(0);
      } finally {
        // Killed by id from another connection: out of CLIENT LIST before the answer (the
        // done-markers test above).
        await redis.cmd.client('KILL', 'ID', String(await older.client('ID')));
        older.disconnect();
      }
      expect(String(await redis.cmd.client('LIST'))).not.toMatch(/ name=chat-cmd /);
      expect(await store.indexSkeletons()).toBe('done');
      const marked = Number(await redis.cmd.get(`${p}index:skeletons:v1`));
      expect(marked).toBeGreaterThan(0);

      // The next start skips the pass: no SCAN at all, and an account written now without its
      // skeleton (only a node of a version before could) stays without one.
      await old('carol');
      const before = await scans(redis.cmd);
      expect(await store.indexSkeletons()).toEqual({ skipped: marked });
      expect(await scans(redis.cmd)).toBe(before);
      expect(await redis.cmd.exists(`${p}skeleton:carol`)).toBe(0);
      // Without the marker (an operator's DEL after a downgrade, README-redis.md) it runs again.
      expect(await redis.cmd.del(`${p}index:skeletons:v1`)).toBe(1);
      expect(await store.indexSkeletons()).toBe('done');
      expect(await scans(redis.cmd)).toBeGreaterThan(before);
      expect(await redis.cmd.get(`${p}skeleton:carol`)).toBe('carol');
      await store.close();
    } finally {
      await redis.close();
    }
  });

  it('warns that the marker could not be written, not that the index failed, when Redis is full at the start', async () => {
    // Regression: a marker's SET refused by a Redis at maxmemory (noeviction) was logged as "could
    // not index ...", though the pass had indexed everything and only its marker was missing.
    const server = await RedisServer.start(['--maxmemory-policy', 'noeviction']);
    const admin = await connect(server.url);
    try {
      // The other two passes done before: their markers' GETs, queued at the start before any
      // write, skip them, so the skeletons' marker is the start's first write.
      await admin.cmd.mset('full:index:invitations:v1', '1000', 'full:index:mentions:v1', '2000');
      await admin.cmd.config('SET', 'maxmemory', '1'); // reads go on, every write is refused
      const lines: string[] = [];
      let passed: () => void = () => {};
      const over = new Promise<void>((resolve) => {
        passed = resolve;
      });
      const b = await createRedisBackend(
        { url: server.url, prefix: 'full:' },
        {
          ...common,
          // The pass's own line is the barrier, whatever it says.
          log: (line) => {
            lines.push(line);
            if (/^chat: (could not index|indexed) /.test(line)) passed();
          },
        },
      );
      backends.push(b);
      await over;
      expect(lines.filter((l) => /^chat: (could not index|indexed) /.test(l))).toEqual([
        "chat: indexed the skeletons of existing accounts, but could not write the done-marker full:index:skeletons:v1 (chat storage (Redis) is unavailable: OOM command not allowed when used memory > 'maxmemory'.); the next start indexes them again",
      ]);
      expect(b.stats()).toMatchObject({
        skeletonIndex: 'done',
        invitationIndex: 'skipped: done at 1970-01-01T00:00:01.000Z',
        mentionIndex: 'skipped: done at 1970-01-01T00:00:02.000Z',
      });
      expect(await admin.cmd.exists('full:index:skeletons:v1')).toBe(0);
    } finally {
      await admin.close();
    }
  });
});

describe('RedisStore invitations by the account spelling', () => {
  it("keys them by the invitee's account whatever case the caller spells it in: seen, accepted, declined, dropped by a block", async () => {
    // Regression: invites:<user> was keyed by the name as passed, so an invitation to `ANN` was
    // not the account Ann's (not listed, not accepted, a second one made beside it).
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    const p = 'invcase:';
    try {
      const { accounts, rooms } = await bareBackend(sharedServer().url, { prefix: p });
      expect(await accounts.createUser({ name: 'Ann', passwordHash: 'h', createdAt: 1 })).toBe('created');
      for (const name of ['sec', 'den', 'tri']) {
        await rooms.createRoom({ name, kind: 'private', owner: 'ben', createdAt: 0 }, quotas);
        await rooms.join('ben', name, 10);
      }
      const limits = { perUser: 10, perRoom: 10, expiredAt: 0 };
      expect(await rooms.invite('sec', 'ANN', 'ben', 1000, limits)).toBe('invited');
      expect(await rooms.invite('sec', 'ann', 'ben', 1001, limits)).toBe('already_invited');
      expect(await rooms.invitations('Ann', 0)).toEqual([{ room: 'sec', user: 'Ann', by: 'ben', at: 1000 }]);
      expect(await rooms.invitees('sec')).toEqual(['Ann']);
      expect(await raw.zrange(`${p}invites-due`, '0', '-1')).toEqual(['sec\nAnn']);
      expect(await rooms.accept('Ann', 'sec', 10, 0)).toBe('joined');
      expect(await rooms.invite('sec', 'aNN', 'ben', 1002, limits)).toBe('member');

      expect(await rooms.invite('den', 'ann', 'ben', 1003, limits)).toBe('invited');
      expect(await rooms.dropInvitation('Ann', 'den')).toBe(true); // declined
      expect(await rooms.invitees('den')).toEqual(['Ann']);
      expect(await rooms.invite('tri', 'ANN', 'ben', 1004, limits)).toBe('invited');
      expect(await rooms.block('Ann', 'ben', 10)).toEqual({ result: 'blocked', dropped: ['tri'] });
      expect(await rooms.invitees('den')).toEqual([]);
      expect(await rooms.invitees('tri')).toEqual([]);
      expect(await rooms.invitations('ann', 0)).toEqual([]);
      expect((await raw.keys(`${p}invites:*`)).concat(await raw.keys(`${p}declined:*`))).toEqual([]);
    } finally {
      await raw.quit();
    }
  });
});

describe('RedisStore', () => {
  it('logs events in the room stream with the seq as stream id', async () => {
    const { rooms } = await backend(sharedServer().url, { prefix: 'ids:' });
    await rooms.createRoom(room('a'), quotas);
    await rooms.appendEvent(msg('a', 'ann', 'c1'));
    await rooms.appendEvent({ type: 'edit', room: 'a', user: 'ann', target: 1, text: 'x', ts: 2 });
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    const entries = await raw.xrange('ids:room:{a}:log', '-', '+');
    await raw.quit();
    expect(entries.map(([id]) => id)).toEqual(['1-0', '2-0']);
  });

  it('moves the read marker for a tag when the log cannot tell: its entry trimmed away, or without a tag', async () => {
    const { rooms } = await backend(sharedServer().url, { prefix: 'readtag:' });
    await rooms.createRoom(room('a'), quotas);
    await rooms.join('ann', 'a', 10);
    for (const id of ['b1', 'b2']) await rooms.appendEvent(msg('a', 'ben', id));
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    // Seq 2's entry gone as a trim takes it; seq 3 appended as a node from before tags did.
    await raw.xdel('readtag:room:{a}:log', '2-0');
    await raw.incr('readtag:room:{a}:seq');
    await raw.xadd('readtag:room:{a}:log', '3-0', 'e', '{"v":2,"type":"message","message":{}}');
    await raw.quit();
    expect(await rooms.markRead('ann', 'a', 2, 'AAAAAAAA')).toEqual({ seq: 2, moved: true });
    expect(await rooms.markRead('ann', 'a', 3, 'AAAAAAAA')).toEqual({ seq: 3, moved: true });
  });

  it('refuses a reused client id through another node; an id stored before digests dedups as it did', async () => {
    const a = await backend(sharedServer().url, { prefix: 'reuse:' });
    const b = await backend(sharedServer().url, { prefix: 'reuse:' });
    await a.rooms.createRoom(room('r'), quotas);
    await a.rooms.appendEvent(msg('r', 'ann', 'c1', 'one'));
    // b is another node (or this one after a restart): what it knows of c1 is in Redis.
    expect(await b.rooms.appendEvent(msg('r', 'ann', 'c1', 'two'))).toEqual({
      ok: false,
      reason: 'id_reused',
    });
    expect(await b.rooms.appendEvent(msg('r', 'ann', 'c1', 'one'))).toMatchObject({
      duplicate: true,
      event: { message: { seq: 1, text: 'one' } },
    });
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    try {
      // The seq where an earlier version kept it (a node of either version reads the other's).
      expect(await raw.get('reuse:room:{r}:dedup:ann:c1')).toBe('1');
      expect(await raw.get('reuse:room:{r}:digest:ann:c1')).toMatch(/^[\w-]{43}$/);
      // What an earlier version wrote: the seq alone. Any resend of that id is its duplicate.
      await b.rooms.appendEvent(msg('r', 'ann', 'c2', 'old'));
      expect(await raw.del('reuse:room:{r}:digest:ann:c2')).toBe(1);
    } finally {
      await raw.quit();
    }
    expect(await a.rooms.appendEvent(msg('r', 'ann', 'c2', 'changed'))).toMatchObject({
      duplicate: true,
      event: { message: { seq: 2, text: 'old' } },
    });
    expect(await a.rooms.head('r')).toBe(2);
  });

  it('trims each stream to about its retention while history keeps every message', async () => {
    const { rooms: store } = await backend(sharedServer().url, { streamRetention: 100 });
    await store.createRoom(room('a'), quotas);
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

  it('trims a stream that only leaves grow (no message between them) to about its retention too', async () => {
    // Regression: a leave's entry (LOG_CHANGE) was added untrimmed: joining and leaving a room
    // where nobody writes, again and again, grew its stream without bound.
    const { rooms: store } = await backend(sharedServer().url, { streamRetention: 10, prefix: 'churn:' });
    await store.createRoom(room('quiet'), quotas);
    for (let i = 0; i < 400; i++) {
      expect(await store.join('bob', 'quiet', 9)).toBe('joined');
      expect(await store.leave('bob', 'quiet', 0)).toBe(true);
    }
    const redis = await connect(sharedServer().url);
    try {
      const log = new RedisKeys('churn:').log('quiet');
      expect(await redis.cmd.xlen(log)).toBeLessThan(200);
      // The newest is kept: the next change follows it.
      expect((await redis.cmd.xrevrange(log, '+', '-', 'COUNT', 1))[0][0]).toBe('0-400');
    } finally {
      await redis.close();
    }
  });

  it('rejects with UnavailableError while Redis is down and works again when it is back', async () => {
    const redis = await RedisServer.start();
    const b = await backend(redis.url);
    const changes: boolean[] = [];
    b.onServiceChange((up) => changes.push(up));
    await b.rooms.createRoom(room('a'), quotas);
    await b.rooms.appendEvent(msg('a', 'ann', 'c1'));
    await redis.stop('SIGKILL');
    await waitUntil('the backend to notice', () => !b.available);
    const err = await b.rooms.appendEvent(msg('a', 'ann', 'c2')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).code).toBe('unavailable');
    await redis.restart();
    await waitUntil('the backend to reconnect', () => b.available);
    expect(changes).toEqual([false, true]);
    // appendfsync always: the message acknowledged before the crash is there.
    expect(await b.rooms.head('a')).toBe(1);
    const r = await b.rooms.appendEvent(msg('a', 'ann', 'c2'));
    expect(r).toMatchObject({ ok: true, duplicate: false, event: { message: { seq: 2 } } });
  });
});

describe('RedisStore sessions per user', () => {
  it("keeps a user's tokens in sessions:<user> scored by expiry, with the session keys: pruned, trimmed, left on sign-out, expiring with the latest", async () => {
    const { accounts } = await bareBackend(sharedServer().url, { prefix: 'sess:' });
    const { Redis } = await import('ioredis');
    const raw = new Redis(sharedServer().url);
    try {
      const day = 24 * 3600 * 1000;
      await accounts.createSession({ token: 'old', user: 'ann', expiresAt: 1000 + day }, 1000, 3);
      await accounts.createSession({ token: 'a', user: 'ann', expiresAt: 3000 + 30 * day }, 3000, 3);
      await accounts.createSession({ token: 'b', user: 'ann', expiresAt: 4000 + 30 * day }, 4000, 3);
      expect(await raw.zrange('sess:sessions:ann', '0', '-1', 'WITHSCORES')).toEqual([
        'old',
        String(1000 + day),
        'a',
        String(3000 + 30 * day),
        'b',
        String(4000 + 30 * day),
      ]);
      // The set lives as long as its latest session, not longer (nor forever).
      const ttl = await raw.pttl('sess:sessions:ann');
      expect(ttl).toBeGreaterThan(30 * day - 60_000);
      expect(ttl).toBeLessThanOrEqual(30 * day);
      // Past its expiry 'old' is pruned, not ended; at the cap the oldest live one goes, key and all.
      const later = 2000 + day;
      expect(
        await accounts.createSession({ token: 'c', user: 'ann', expiresAt: later + 30 * day }, later, 3),
      ).toEqual([]);
      expect(
        await accounts.createSession(
          { token: 'd', user: 'ann', expiresAt: later + 30 * day + 1 },
          later + 1,
          3,
        ),
      ).toEqual(['a']);
      expect(await raw.exists('sess:session:a')).toBe(0);
      expect(await raw.zrange('sess:sessions:ann', '0', '-1')).toEqual(['b', 'c', 'd']);
      // A sign-out takes the token out of the set with its key.
      await accounts.deleteSession('c');
      expect(await raw.exists('sess:session:c')).toBe(0);
      expect(await raw.zrange('sess:sessions:ann', '0', '-1')).toEqual(['b', 'd']);
      await accounts.deleteSession('b');
      await accounts.deleteSession('d');
      expect(await raw.exists('sess:sessions:ann')).toBe(0);
    } finally {
      raw.disconnect();
    }
  });
});

describe('createRedisBackend', () => {
  it('is unavailable while a reachable Redis refuses writes (OOM at maxmemory), says why, and is back once a write goes through', async () => {
    // Regression: Redis at its maxmemory with noeviction (the documented setting) still answered
    // PING, so the node stayed "available": every send was answered `unavailable`, and the page,
    // which holds such messages until `service` says available again, held them for good, with
    // nothing in the log.
    const server = await RedisServer.start(['--maxmemory-policy', 'noeviction']);
    const lines: string[] = [];
    const b = await createRedisBackend(
      { url: server.url, prefix: 'oom:' },
      { ...common, log: (line) => lines.push(line) },
    );
    backends.push(b);
    const changes: boolean[] = [];
    b.onServiceChange((available) => changes.push(available));
    expect(await b.rooms.createRoom(room('r'), quotas)).toBe('created');
    // The start's passes end with a write (their done-markers): over before Redis refuses writes.
    await waitUntil('the start passes over', () =>
      ['skeletonIndex', 'invitationIndex', 'mentionIndex'].every((f) => b.stats()[f] !== 'running'),
    );
    const raw = await connect(server.url);
    try {
      await raw.cmd.config('SET', 'maxmemory', '1');
      await expect(b.rooms.createRoom(room('s'), quotas)).rejects.toBeInstanceOf(UnavailableError);
      expect(b.available).toBe(false);
      expect(changes).toEqual([false]);
      expect(lines).toEqual([
        `chat: Redis at ${server.url.slice('redis://'.length)} refuses commands (OOM command not allowed when used memory > 'maxmemory'); refusing writes until it accepts them`,
      ]);
      await raw.cmd.config('SET', 'maxmemory', '0');
      await waitUntil('the node available again', () => b.available, 10_000);
      expect(changes).toEqual([false, true]);
      expect(await b.rooms.createRoom(room('s'), quotas)).toBe('created');
    } finally {
      await raw.close();
    }
  });

  it('takes a MULTI aborted by a refused command (EXECABORT) for unavailable, not for a bug', () => {
    const reply = (message: string, extra: object = {}) =>
      Object.assign(new Error(message), { name: 'ReplyError' }, extra);
    const oom = reply("OOM command not allowed when used memory > 'maxmemory'.");
    const aborted = reply('EXECABORT Transaction discarded because of previous errors.', {
      previousErrors: [oom],
    });
    expect(toStoreError(aborted)).toBeInstanceOf(UnavailableError);
    // One aborted by a wrong command is a bug, as before.
    const wrong = reply('EXECABORT Transaction discarded because of previous errors.', {
      previousErrors: [reply("ERR unknown command 'nope'")],
    });
    expect(toStoreError(wrong)).toBe(wrong);
  });

  it('waits for a Redis that starts late, and fails clearly when none answers', async () => {
    // A port nothing listens on: one freed by a server just closed could be another file's server's.
    const { port, release } = await refusedPort();
    try {
      await expect(
        createRedisBackend({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 500 }, common),
      ).rejects.toThrow(`could not reach Redis at 127.0.0.1:${port} within 500 ms`);
    } finally {
      await release();
    }
    await expect(createRedisBackend({ url: 'http://127.0.0.1:1' }, common)).rejects.toThrow('redis://');
    await expect(
      createRedisBackend({ url: 'redis://127.0.0.1:1', bogus: 1 } as never, common),
    ).rejects.toThrow('unknown option "bogus"');
    // A node started before its Redis: connects once Redis is up.
    const redis = await RedisServer.start();
    await redis.stop('SIGKILL');
    const pending = createRedisBackend({ url: redis.url, connectTimeoutMs: 8000 }, common);
    await redis.restart();
    const b = await pending;
    backends.push(b);
    expect(await b.rooms.createRoom(room('late'), quotas)).toBe('created');
  });
});

describe('RedisCommittedEvents', () => {
  it('delivers the events committed after open() to every node, each once, in seq order', async () => {
    const a = await backend(sharedServer().url, { prefix: 'feed:' });
    const b = await backend(sharedServer().url, { prefix: 'feed:' });
    await a.rooms.createRoom(room('r'), quotas);
    await a.rooms.appendEvent(msg('r', 'ann', 'before'));
    const seen: Record<string, number[]> = { a: [], b: [] };
    expect(await a.events.open('r', (seq) => seen.a.push(seq))).toBe(1);
    expect(await b.events.open('r', (seq) => seen.b.push(seq))).toBe(1);
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).rooms.appendEvent(msg('r', 'ann', `m${i}`))),
    );
    await waitUntil('both nodes to read 30 events', () => seen.a.length === 30 && seen.b.length === 30);
    const expected = Array.from({ length: 30 }, (_, i) => i + 2);
    expect(seen.a).toEqual(expected);
    expect(seen.b).toEqual(expected);
    // A closed room is no longer read.
    b.events.close('r');
    await a.rooms.appendEvent(msg('r', 'ann', 'late'));
    await waitUntil('node a to read it', () => seen.a.length === 31);
    expect(seen.b).toHaveLength(30);
  });

  it('hands leaves, removals and deletions to `changed` in stream order, never to the listener; no reader counts them', async () => {
    const [a, b, c] = [0, 1, 2].map(() => backend(sharedServer().url, { prefix: 'changes:' }));
    const [na, nb, nc] = await Promise.all([a, b, c]);
    await na.rooms.createRoom(room('r'), quotas);
    for (const user of ['bob', 'cat']) expect(await na.rooms.join(user, 'r', 9)).toBe('joined');
    await na.rooms.appendEvent(msg('r', 'ann', 'm1'));
    const seen: string[] = [];
    const changed = (change: LogChange) =>
      seen.push(
        change.op === 'left' ? `left ${change.user}${change.reason ? ` ${change.reason}` : ''}` : 'deleted',
      );
    expect(await na.events.open('r', (seq) => seen.push(`e${seq}`), undefined, changed)).toBe(1);
    expect(await nb.rooms.leave('bob', 'r', 0, 'removed')).toBe(true);
    await nb.rooms.appendEvent(msg('r', 'ann', 'm2'));
    expect(await nb.rooms.leave('cat', 'r', 0)).toBe(true);
    // A leave that changes nothing writes nothing.
    expect(await nb.rooms.leave('cat', 'r', 0)).toBe(false);
    await nb.rooms.appendEvent(msg('r', 'ann', 'm3'));
    await waitUntil('node a to read them', () => seen.length === 4);
    expect(seen).toEqual(['left bob removed', 'e2', 'left cat', 'e3']);

    // The stream: the changes take no seq, and sit between the events.
    const keys = new RedisKeys('changes:');
    const redis = await connect(sharedServer().url);
    const ids = (await redis.cmd.xrange(keys.log('r'), '-', '+')).map(([id]) => id);
    // A node of the version before changes parses the entry (its eventsAfter): no event, no seq.
    const [, fields] = (await redis.cmd.xrange(keys.log('r'), '1-1', '1-1'))[0];
    expect(parseLogEntry(fields)).toEqual({});
    await redis.close();
    expect(ids).toEqual(['1-0', '1-1', '2-0', '2-1', '3-0']);
    expect(await nb.rooms.head('r')).toBe(3);
    const events = await nb.rooms.eventsAfter('r', 0, 10);
    expect(events.map((e) => (e.type === 'message' ? e.message.seq : -1))).toEqual([1, 2, 3]);
    // A page of one after seq 1 is the event at 2, not the change before it.
    expect((await nb.rooms.eventsAfter('r', 1, 1)).map((e) => e.type)).toEqual(['message']);
    expect((await nb.rooms.messagesAfter('r', 0, 10)).map((m) => m.seq)).toEqual([1, 2, 3]);
    expect((await nb.rooms.messagesBefore('r', 4, 10)).map((m) => m.seq)).toEqual([3, 2, 1]);
    expect(await nb.rooms.unreadCount('r', 'dan', 0)).toBe(3);

    // Opened after the changes: they are not handed over again.
    const late: string[] = [];
    expect(
      await nc.events.open(
        'r',
        (seq) => late.push(`e${seq}`),
        undefined,
        (x) => late.push(x.op),
      ),
    ).toBe(3);
    await na.rooms.appendEvent(msg('r', 'ann', 'm4'));
    await waitUntil('both to read m4', () => seen.length === 5 && late.length === 1);
    expect(late).toEqual(['e4']);

    // A deletion, then a room of the name again: its events come after the deletion.
    expect(await na.rooms.deleteRoom('r')).toBe(true);
    await na.rooms.createRoom(room('r'), quotas);
    await na.rooms.appendEvent(msg('r', 'ann', 'new'));
    await waitUntil('both to read the new room', () => seen.length === 7 && late.length === 3);
    expect(seen.slice(4)).toEqual(['e4', 'deleted', 'e5']);
    expect(late).toEqual(['e4', 'deleted', 'e5']);
    expect((await nb.rooms.eventsAfter('r', 4, 10)).map((e) => e.type)).toEqual(['message']);
  });

  it('hands over a deletion that follows a removal at the same seq (the deletion id comes after the removal, not at `<seq>-1` again)', async () => {
    // Regression: DELETE_ROOM emptied the stream, then wrote its change at `<seq>-1`, the id of
    // the removal just before it: a node that had read the removal was at that id and never read
    // the deletion, so the room created again reached the deleted room's connections first.
    const [na, nb] = await Promise.all(
      [0, 1].map(() => backend(sharedServer().url, { prefix: 'redelete:' })),
    );
    await na.rooms.createRoom(room('r'), quotas);
    expect(await na.rooms.join('bob', 'r', 9)).toBe('joined');
    await na.rooms.appendEvent(msg('r', 'ann', 'm1'));
    const seen: string[] = [];
    const changed = (change: LogChange) =>
      seen.push(change.op === 'left' ? `left ${change.user}` : 'deleted');
    expect(await na.events.open('r', (seq) => seen.push(`e${seq}`), undefined, changed)).toBe(1);
    expect(await nb.rooms.leave('bob', 'r', 0, 'removed')).toBe(true);
    await waitUntil('node a to read the removal', () => seen.length === 1);
    expect(await nb.rooms.deleteRoom('r')).toBe(true);
    await nb.rooms.createRoom(room('r'), quotas);
    await nb.rooms.appendEvent(msg('r', 'ann', 'new'));
    await waitUntil('node a to read the new room', () => seen.includes('e2'));
    expect(seen).toEqual(['left bob', 'deleted', 'e2']);
    // Deleted again: its entry follows the new room's last event.
    expect(await nb.rooms.deleteRoom('r')).toBe(true);
    const keys = new RedisKeys('redelete:');
    const redis = await connect(sharedServer().url);
    try {
      expect((await redis.cmd.xrange(keys.log('r'), '-', '+')).map(([id]) => id)).toEqual(['2-1']);
    } finally {
      await redis.close();
    }
    await waitUntil('node a to read the second deletion', () => seen.length === 4);
    expect(seen.at(-1)).toBe('deleted');
  });
});

/**
 * `keys` without the streams that hold only a deletion's entry (store.ts, LOG_CHANGE): a deleted
 * room's log keeps it, as its counter is kept; anything more is a leftover.
 */
async function withoutDeletionLogs(
  redis: Awaited<ReturnType<typeof connect>>,
  keys: string[],
): Promise<string[]> {
  const kept: string[] = [];
  for (const key of keys) {
    if (key.endsWith(':log')) {
      const entries = await redis.cmd.xrange(key, '-', '+', 'COUNT', 2);
      if (entries.length === 1 && !entries[0][0].endsWith('-0') && entries[0][1].includes('deleted'))
        continue;
    }
    kept.push(key);
  }
  return kept;
}

/** Every page of the room's members as `user` sees them, `limit` at a time. */
async function allMembers(store: RedisStore, user: string, room: string, limit: number): Promise<string[]> {
  const seen: string[] = [];
  for (let after = ''; ; ) {
    const res = await store.listMembers(user, room, after, limit);
    if (!res.ok) throw new Error(`${user} is not a member of ${room}`);
    if (res.members.length === 0) return seen;
    seen.push(...res.members);
    after = res.members[res.members.length - 1];
  }
}

const listed = (members: string[]) => ({ ok: true, members });

/** A room as the store wrote it before rosters: each member's hash entry and the member set. */
async function legacyRoom(
  redis: Awaited<ReturnType<typeof connect>>,
  keys: RedisKeys,
  name: string,
  names: string[],
) {
  const write = redis.cmd.pipeline();
  for (const user of names) write.hset(keys.member(user), name, '0');
  for (let i = 0; i < names.length; i += 1000)
    write.sadd(keys.room(name, 'members'), ...names.slice(i, i + 1000));
  await write.exec();
}

describe('RedisStore member rosters', () => {
  it('pages the members of a room stored before rosters existed, and keeps the roster through joins, leaves and deletion', async () => {
    const redis = await connect(sharedServer().url);
    try {
      const keys = new RedisKeys('legacy:');
      const store = new RedisStore(redis.cmd, keys);
      await store.createRoom(room('old'), quotas);
      // More names than one step of the build takes (1000).
      const legacy = Array.from({ length: 2500 }, (_, i) => `u${String(i).padStart(4, '0')}`);
      legacy.push('_x', '-y', 'Ann');
      await legacyRoom(redis, keys, 'old', legacy);
      const roster = keys.room('old', 'roster');
      expect(await redis.cmd.exists(roster)).toBe(0);
      // Changes made by this version before anyone lists: the roster then holds only those names.
      expect(await store.leave('u0000', 'old', 700)).toBe(true);
      expect(await store.join('Zed', 'old', 10)).toBe('joined');
      expect(await redis.cmd.zrange(roster, '0', '-1')).toEqual(['Zed']);
      const expected = [...legacy.filter((n) => n !== 'u0000'), 'Zed'].sort();
      expect(expected.slice(0, 3)).toEqual(['-y', 'Ann', 'Zed']);
      expect(await store.listMembers('Ann', 'old', '', 3)).toEqual(listed(expected.slice(0, 3)));
      expect(await redis.cmd.zcard(roster)).toBe(expected.length);
      expect(await redis.cmd.exists(keys.room('old', 'rosterscan'))).toBe(0);
      // Built once; from now on kept by the scripts.
      expect(await store.leave('u0001', 'old', 700)).toBe(true);
      expect(await store.join('amy', 'old', 10)).toBe('joined');
      // Kept by JOIN and LEAVE themselves (not rebuilt by the listing that follows).
      expect(await redis.cmd.zscore(roster, 'u0001')).toBeNull();
      expect(await redis.cmd.zscore(roster, 'amy')).toBe('0');
      expect(await redis.cmd.zcard(roster)).toBe(expected.length);
      const now = expected
        .filter((n) => n !== 'u0001')
        .concat('amy')
        .sort();
      expect(await allMembers(store, 'amy', 'old', 1000)).toEqual(now);
      expect(await redis.cmd.zcard(roster)).toBe(await redis.cmd.scard(keys.room('old', 'members')));
      await store.deleteRoom('old');
      expect(await redis.cmd.exists(roster)).toBe(0);
      expect(await store.listMembers('amy', 'old', '', 10)).toEqual({ ok: false, reason: 'not_member' });
      await store.close(); // its cleanup, before the connection goes
    } finally {
      await redis.close();
    }
  });

  it('builds the roster of a large room from before rosters in bounded steps, then reads the page', async () => {
    const redis = await connect(sharedServer().url);
    try {
      const keys = new RedisKeys('chunked:');
      const steps: number[] = [];
      const chunk = 50;
      const store = new RedisStore(redis.cmd, keys, {
        rosterChunk: chunk,
        rosterStepped: (_room, added) => void steps.push(added),
      });
      await store.createRoom(room('big'), quotas);
      const legacy = Array.from({ length: 5000 }, (_, i) => `m${String(i).padStart(4, '0')}`);
      await legacyRoom(redis, keys, 'big', legacy);
      const scan = keys.room('big', 'rosterscan');
      // A non-member is refused before anything is built.
      expect(await store.listMembers('outsider', 'big', '', 10)).toEqual({ ok: false, reason: 'not_member' });
      expect(steps).toEqual([]);
      expect(await redis.cmd.exists(keys.room('big', 'roster'))).toBe(0);

      expect(await store.listMembers('m0042', 'big', 'm0099', 3)).toEqual(
        listed(['m0100', 'm0101', 'm0102']),
      );
      // Many steps, none of them the whole set: SSCAN's COUNT is a hint (a step takes whole hash
      // buckets, so a few more than the chunk at times), far from 5000 in one script.
      expect(steps.length).toBeGreaterThanOrEqual(legacy.length / (2 * chunk));
      for (const added of steps) expect(added).toBeLessThanOrEqual(2 * chunk);
      expect(steps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(legacy.length);
      expect(await redis.cmd.exists(scan)).toBe(0);
      expect(await redis.cmd.zcard(keys.room('big', 'roster'))).toBe(legacy.length);
      // Whole and current now: the next listings build nothing.
      steps.length = 0;
      expect(await allMembers(store, 'm4999', 'big', 700)).toEqual(legacy);
      expect(steps).toEqual([]);
    } finally {
      await redis.close();
    }
  });

  it('ends with the right roster when members join and leave between the steps of a build', async () => {
    const redis = await connect(sharedServer().url);
    try {
      const keys = new RedisKeys('interleaved:');
      let step = 0;
      const joined: string[] = [];
      const left: string[] = [];
      // The steps are interleaved with another node's joins and leaves (`other`), and with a
      // listing on a third node (`peer`), which takes over the build in progress (the shared cursor).
      const other = new RedisStore(redis.cmd, keys, { rosterChunk: 40 });
      const interleave = {
        rosterChunk: 40,
        rosterStepped: async () => {
          step++;
          if (step > 40) return;
          const name = `n${String(step).padStart(3, '0')}`;
          expect(await other.join(name, 'busy', 10)).toBe('joined');
          joined.push(name);
          // A member from before (maybe scanned already, maybe not) leaves; one who joined during the
          // build leaves again; one leaves and comes back.
          const gone = `o${String(step * 37).padStart(4, '0')}`;
          expect(await other.leave(gone, 'busy', 700)).toBe(true);
          left.push(gone);
          if (step % 5 === 0) {
            expect(await other.leave(joined[joined.length - 3] ?? name, 'busy', 700)).toBe(true);
            left.push(joined[joined.length - 3] ?? name);
          }
          if (step % 7 === 0) {
            const back = `o${String(step * 3).padStart(4, '0')}`;
            expect(await other.leave(back, 'busy', 700)).toBe(true);
            expect(await other.join(back, 'busy', 10)).toBe('joined');
          }
          // A third node lists meanwhile: it is not served from the incomplete roster; it goes on
          // with the build from where the first one is (its steps interleaved the same way) to its
          // end; the first then finds no build in progress and reads its page.
          if (step === 3) peerPage = await peer.listMembers('o0002', 'busy', 'o0001', 5);
        },
      };
      let peerPage: unknown;
      const store = new RedisStore(redis.cmd, keys, interleave);
      const peer = new RedisStore(redis.cmd, keys, interleave);
      await store.createRoom(room('busy'), quotas);
      const legacy = Array.from({ length: 3000 }, (_, i) => `o${String(i).padStart(4, '0')}`);
      await legacyRoom(redis, keys, 'busy', legacy);
      const first = await store.listMembers('o0001', 'busy', '', 5);
      expect(step).toBeGreaterThan(40);
      const members = keys.room('busy', 'members');
      const truth = (await redis.cmd.smembers(members)).sort();
      expect(truth).toHaveLength(3000 + 40 - left.length);
      expect(first).toEqual(listed(truth.slice(0, 5)));
      // (No step touches o0002-o0006.)
      expect(peerPage).toEqual(listed(['o0002', 'o0003', 'o0004', 'o0005', 'o0006']));
      expect((await redis.cmd.zrange(keys.room('busy', 'roster'), '0', '-1')).sort()).toEqual(truth);
      expect(await allMembers(store, 'o0001', 'busy', 500)).toEqual(truth);
    } finally {
      await redis.close();
    }
  });

  it('resumes a build left half done (its node died) from the stored cursor', async () => {
    const redis = await connect(sharedServer().url);
    try {
      const keys = new RedisKeys('resumed:');
      const died = new Error('the node died');
      let dying = 0;
      const dies = new RedisStore(redis.cmd, keys, {
        rosterChunk: 30,
        rosterStepped: () => {
          if (++dying === 20) throw died;
        },
      });
      const steps: number[] = [];
      const next = new RedisStore(redis.cmd, keys, {
        rosterChunk: 30,
        rosterStepped: (_room, added) => void steps.push(added),
      });
      await dies.createRoom(room('half'), quotas);
      const legacy = Array.from({ length: 2000 }, (_, i) => `h${String(i).padStart(4, '0')}`);
      await legacyRoom(redis, keys, 'half', legacy);
      await expect(dies.listMembers('h0000', 'half', '', 10)).rejects.toMatchObject({ cause: died });
      const scan = keys.room('half', 'rosterscan');
      const cursor = await redis.cmd.get(scan);
      expect(cursor).not.toBeNull();
      expect(cursor).not.toBe('0');
      const partial = await redis.cmd.zcard(keys.room('half', 'roster'));
      expect(partial).toBeGreaterThan(0);
      expect(partial).toBeLessThan(legacy.length);
      // Meanwhile a leave, kept in the roster as always.
      expect(await next.leave('h1999', 'half', 700)).toBe(true);
      // The next listing, on another node, resumes (not from the start: fewer names than the set
      // are added) and reads the page only when the build is done.
      expect(await next.listMembers('h0000', 'half', 'h1996', 10)).toEqual(listed(['h1997', 'h1998']));
      expect(steps.reduce((a, b) => a + b, 0)).toBeLessThan(legacy.length - partial + 100);
      expect(await redis.cmd.exists(scan)).toBe(0);
      expect(await allMembers(next, 'h0000', 'half', 400)).toEqual(legacy.slice(0, 1999));
      // Deleting the room ends a build in progress with it.
      await redis.cmd.set(scan, '0');
      await next.deleteRoom('half');
      expect(await redis.cmd.exists(scan)).toBe(0);
      await next.settled(); // its cleanup, before the connection goes
    } finally {
      await redis.close();
    }
  });

  it('refuses the list to a user removed through another node, in the same script as the page', async () => {
    const redis = await connect(sharedServer().url);
    try {
      const keys = new RedisKeys('removed:');
      const a = new RedisStore(redis.cmd, keys);
      const b = new RedisStore(redis.cmd, keys);
      await a.createRoom(room('r'), quotas);
      for (const name of ['ann', 'bob']) expect(await a.join(name, 'r', 10)).toBe('joined');
      expect(await a.listMembers('bob', 'r', '', 10)).toEqual(listed(['ann', 'bob']));
      expect(await b.leave('bob', 'r', 700)).toBe(true);
      expect(await a.listMembers('bob', 'r', 'ann', 10)).toEqual({ ok: false, reason: 'not_member' });
      // The check is on the member set, the truth the writes check too (APPEND's SISMEMBER).
      await redis.cmd.srem(keys.room('r', 'members'), 'ann');
      expect(await a.listMembers('ann', 'r', '', 10)).toEqual({ ok: false, reason: 'not_member' });
    } finally {
      await redis.close();
    }
  });
});

describe('RedisStore room deletion in bounded steps', () => {
  /** The room's members (as `legacyRoom` writes them) and some of their messages and mentions. */
  async function bigRoom(store: RedisStore, redis: Awaited<ReturnType<typeof connect>>, keys: RedisKeys) {
    const names = Array.from({ length: 3000 }, (_, i) => `m${String(i).padStart(4, '0')}`);
    await store.createRoom(room('big'), quotas);
    await legacyRoom(redis, keys, 'big', names);
    // 120 authors (by:<user>) and 120 users mentioned (mention:<user>, and mention:<user>:<author>
    // for the counts that leave out blocked authors), with a few messages each.
    for (let i = 0; i < 120; i++) {
      const res = await store.appendEvent({
        ...msg('big', names[i], `c${i}`),
        mentions: [names[2999 - i]],
      });
      expect(res).toMatchObject({ ok: true });
    }
    return names;
  }

  /** Every key under the prefix that is not one a deleted room keeps (seq, tip, base, gen) or a send's. */
  async function leftovers(redis: Awaited<ReturnType<typeof connect>>, prefix: string): Promise<string[]> {
    const all = await redis.cmd.keys(`${prefix}*`);
    return (await withoutDeletionLogs(redis, all))
      .filter((key) => !/:(seq|tip|base|gen|dedup:.*|digest:.*)$/.test(key))
      .sort();
  }

  it('deletes a room of thousands of members in steps of about the chunk, gone for every node at once; the name can be created again meanwhile', async () => {
    const redis = await connect(sharedServer().url);
    try {
      const keys = new RedisKeys('graves:');
      const chunk = 50;
      const steps: number[] = [];
      // Node b acts while node a is between its first and second step (and again later): the old
      // room's cleanup is pending for all of it.
      let during: (() => Promise<void>) | undefined;
      let later: (() => Promise<void>) | undefined;
      const a = new RedisStore(redis.cmd, keys, {
        graveChunk: chunk,
        graveStepped: async (r, done) => {
          expect(r).toBe('big');
          steps.push(done);
          if (steps.length === 1) await during?.();
          if (steps.length === 30) await later?.();
        },
      });
      const b = new RedisStore(redis.cmd, keys);
      const names = await bigRoom(a, redis, keys);
      await a.createRoom(room('other'), quotas);
      expect(await a.join('m2500', 'other', 10)).toBe('joined');
      const head = await a.head('big');
      expect(head).toBe(120);

      let checked = 0;
      // The names whose entry the first step has not cleared yet. Which names a step takes is
      // SSCAN's order, which follows Redis's hash seed (random at each server start): the test
      // reads it rather than assuming m1000 or m0005 are still pending.
      const pending = new Set<string>();
      let stale = '';
      during = async () => {
        const held = await Promise.all(names.map((n) => redis.cmd.hexists(keys.member(n), 'big')));
        for (const [i, n] of names.entries()) if (held[i] === 1) pending.add(n);
        // Most entries are still in member:<user> (one step of at most 50 names done) ...
        expect(pending.size).toBe(names.length - steps[0]);
        expect(steps[0]).toBeGreaterThan(0);
        // ... a plain member (no author, not mentioned, not acted for below) still pending:
        stale = [...pending].find((n) => n >= 'm1100' && n < 'm2000') ?? '';
        expect(stale).not.toBe('');
        expect(await redis.cmd.zcard(keys.graves())).toBe(1);
        // ... yet for both nodes the room is gone: no room, no membership, no listing, no writes.
        for (const node of [a, b]) {
          expect(await node.getRoom('big')).toBeNull();
          expect(await node.listRooms('', 10)).toEqual([{ room: 'other', kind: 'public', members: 1 }]);
          for (const user of ['m0000', 'm1000', 'm2500', 'm2999']) {
            expect(await node.isMember(user, 'big')).toBe(false);
            expect((await node.memberships(user)).map((m) => m.room)).not.toContain('big');
            expect(await node.listMembers(user, 'big', '', 10)).toEqual({ ok: false, reason: 'not_member' });
          }
          expect((await node.memberships('m2500')).map((m) => m.room)).toEqual(['other']);
          expect(await node.appendEvent(msg('big', 'm1000', 'after'))).toEqual({
            ok: false,
            reason: 'no_room',
          });
          expect(await node.join('m1000', 'big', 10)).toBe('no_room');
          expect(await node.leave('m1001', 'big', 700)).toBe(false);
          expect(await node.markRead('m1002', 'big', 100)).toEqual({ seq: 0, moved: false });
        }
        // The stale entries do not count against the room quota: m1003 (in 'big' only) joins
        // another room with a quota of one.
        expect(await b.join('m1003', 'other', 1)).toBe('joined');
        // Created again at once, on the other node: its members are exactly those who join it.
        expect(await b.createRoom(room('big'), quotas)).toBe('created');
        expect(await b.listRooms('', 10)).toEqual([
          { room: 'big', kind: 'public', members: 0 },
          { room: 'other', kind: 'public', members: 2 },
        ]);
        expect(await b.join('m1000', 'big', 10)).toBe('joined'); // an old member: a new membership
        expect(await b.join('m0005', 'big', 10)).toBe('joined'); // an old author
        expect(await b.join('newbie', 'big', 10)).toBe('joined');
        expect(await b.listMembers('newbie', 'big', '', 10)).toEqual(listed(['m0005', 'm1000', 'newbie']));
        for (const node of [a, b]) {
          expect(await node.isMember('m1000', 'big')).toBe(true);
          expect(await node.isMember('m1001', 'big')).toBe(false);
          expect(await node.memberships('m1000')).toEqual([
            { room: 'big', kind: 'public', owner: 'x', lastRead: head },
          ]);
          expect((await node.memberships('m1001')).map((m) => m.room)).toEqual([]);
          // (m1001's stale entry went with its leave above; `stale`'s is still there, not a membership.)
          expect(await redis.cmd.hexists(keys.member(stale), 'big')).toBe(1);
          expect(await node.memberships(stale)).toEqual([]);
          expect(await node.isMember(stale, 'big')).toBe(false);
          expect(await node.markRead(stale, 'big', head + 1)).toEqual({ seq: 0, moved: false });
          // A member of the old room only is not one of the new: refused as such.
          expect(await node.appendEvent(msg('big', 'm1001', 'stale'))).toEqual({
            ok: false,
            reason: 'not_member',
          });
          expect(await node.listMembers('m1001', 'big', '', 10)).toEqual({ ok: false, reason: 'not_member' });
          expect(await node.leave('m1001', 'big', 700)).toBe(false);
        }
        // The old author writes in the new room (its by: zset now holds both rooms' seqs); the new
        // room's seqs continue the old one's.
        expect(await b.appendEvent({ ...msg('big', 'm0005', 'new'), mentions: ['newbie'] })).toMatchObject({
          ok: true,
          event: { message: { seq: head + 1 } },
        });
        expect(await b.unreadCount('big', 'm0005', head)).toBe(0);
        expect(await b.unreadCount('big', 'newbie', head)).toBe(1);
        expect(await b.mentionCount('big', 'newbie', head)).toBe(1);
        checked++;
      };
      later = async () => {
        // Halfway: the new room is untouched by the old one's steps.
        expect(await b.listMembers('newbie', 'big', '', 10)).toEqual(listed(['m0005', 'm1000', 'newbie']));
        expect(await a.isMember('m1000', 'big')).toBe(true);
        checked++;
      };

      expect(await a.deleteRoom('big')).toBe(true);
      await a.settled(); // the cleanup, after the answer
      expect(checked).toBe(2);
      // Many steps, none more than the chunk of work: 3000 names, then the 360 zsets.
      expect(steps.length).toBeGreaterThanOrEqual(3000 / chunk);
      for (const done of steps) expect(done).toBeLessThanOrEqual(chunk);
      expect(steps.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(3000 + 360);

      // Cleared: no entry of the old room, no grave; the new room's memberships and counts intact.
      expect(await redis.cmd.zcard(keys.graves())).toBe(0);
      for (const user of names) {
        const held = await redis.cmd.hexists(keys.member(user), 'big');
        expect([user, held]).toEqual([user, user === 'm1000' || user === 'm0005' ? 1 : 0]);
      }
      expect(await redis.cmd.zrange(keys.room('big', 'by:m0005'), '0', '-1')).toEqual([String(head + 1)]);
      expect(await redis.cmd.zrange(keys.room('big', 'mention:newbie'), '0', '-1')).toEqual([
        String(head + 1),
      ]);
      expect(await b.unreadCount('big', 'newbie', head)).toBe(1);
      expect(await b.unreadCount('big', 'm0005', head)).toBe(0);
      expect(await allMembers(a, 'newbie', 'big', 2)).toEqual(['m0005', 'm1000', 'newbie']);
      expect(await leftovers(redis, 'graves:')).toEqual(
        [
          'graves:member:m0005',
          'graves:member:m1000',
          'graves:member:m1003',
          'graves:member:m2500',
          'graves:member:newbie',
          'graves:room:{big}:authors',
          'graves:room:{big}:by:m0005',
          'graves:room:{big}:idx',
          'graves:room:{big}:live',
          'graves:room:{big}:log',
          'graves:room:{big}:members',
          'graves:room:{big}:mention:newbie',
          'graves:room:{big}:mention:newbie:m0005',
          'graves:room:{big}:mentioned',
          'graves:room:{big}:msgs',
          'graves:room:{big}:roster',
          'graves:room:{other}:members',
          'graves:room:{other}:roster',
          'graves:rooms',
          'graves:roomcount',
          'graves:owned:x',
          'graves:public',
        ].sort(),
      );
    } finally {
      await redis.close();
    }
  });

  it('a sweep leaves a grave its deleting node still clears (its lease), and the node clears it all', async () => {
    const redis = await connect(sharedServer().url);
    try {
      const keys = new RedisKeys('graves-leased:');
      const other = new RedisStore(redis.cmd, keys, { graveChunk: 40 });
      let sweeps = 0;
      let self: RedisStore | undefined;
      const a = new RedisStore(redis.cmd, keys, {
        graveChunk: 40,
        graveStepped: async () => {
          // Between two steps: another node's sweep and this node's own come round.
          if (++sweeps > 2) return;
          expect((await other.expireEmptyRooms(0)).rooms).toEqual([]);
          expect((await self!.expireEmptyRooms(0)).rooms).toEqual([]);
        },
      });
      self = a;
      const names = await bigRoom(a, redis, keys);
      expect(await a.deleteRoom('big')).toBe(true);
      await a.settled();
      expect(sweeps).toBeGreaterThan(2);
      expect(await redis.cmd.zcard(keys.graves())).toBe(0);
      for (const user of names) expect([user, await redis.cmd.exists(keys.member(user))]).toEqual([user, 0]);
      expect(await leftovers(redis, 'graves-leased:')).toEqual([
        'graves-leased:owned:x',
        'graves-leased:roomcount',
      ]);
    } finally {
      await redis.close();
    }
  });

  it('leaves the cleanup of a node that died midway to the next sweep of any node', async () => {
    const redis = await connect(sharedServer().url);
    try {
      const keys = new RedisKeys('graves-died:');
      const died = new Error('the node died');
      let dying = 0;
      const logged: string[] = [];
      const dies = new RedisStore(redis.cmd, keys, {
        graveChunk: 40,
        graveStepped: () => {
          if (++dying === 10) throw died;
        },
        log: (line) => void logged.push(line),
      });
      const steps: number[] = [];
      const next = new RedisStore(redis.cmd, keys, {
        graveChunk: 40,
        graveStepped: (_room, done) => void steps.push(done),
      });
      const names = await bigRoom(dies, redis, keys);
      // Answered at once; its cleanup fails in the background: logged, never an unhandled rejection.
      expect(await dies.deleteRoom('big')).toBe(true);
      await dies.settled();
      expect(logged).toEqual(['chat: clearing deleted room big failed (a sweep retries): the node died']);
      expect(dying).toBe(10);
      // Gone for everyone already; the grave and most entries are left.
      expect(await next.getRoom('big')).toBeNull();
      expect(await next.isMember('m2000', 'big')).toBe(false);
      expect(await next.memberships('m2000')).toEqual([]);
      expect(await redis.cmd.zcard(keys.graves())).toBe(1);
      const left = await Promise.all(names.map((u) => redis.cmd.hexists(keys.member(u), 'big')));
      const pending = left.filter((h) => h === 1).length;
      expect(pending).toBe(3000 - 10 * 40);
      // The dead node's lease holds for a while: a sweep leaves the grave alone meanwhile.
      expect((await next.expireEmptyRooms(0)).rooms).toEqual([]);
      expect(steps).toEqual([]);
      expect(await redis.cmd.zcard(keys.graves())).toBe(1);
      // Its lease runs out (Redis expires it; here at once) and another node's sweep finishes it
      // (from where it was: only the names left).
      const leases = await redis.cmd.keys('graves-died:*:lease');
      expect(leases).toHaveLength(1);
      expect(await redis.cmd.del(...leases)).toBe(1);
      expect((await next.expireEmptyRooms(0)).rooms).toEqual([]);
      expect(steps.reduce((x, y) => x + y, 0)).toBe(pending + 360);
      for (const done of steps) expect(done).toBeLessThanOrEqual(40);
      expect(await redis.cmd.zcard(keys.graves())).toBe(0);
      for (const user of names) expect([user, await redis.cmd.exists(keys.member(user))]).toEqual([user, 0]);
      expect(await leftovers(redis, 'graves-died:')).toEqual([
        'graves-died:owned:x',
        'graves-died:roomcount',
      ]);
    } finally {
      await redis.close();
    }
  });
});

describe('RedisStore room deletion: the cleanup after the answer', () => {
  /**
   * Every key under the prefix (SCAN of the keyspace) but those a deleted room keeps (seq, tip,
   * base, gen), the byte count, and a send's dedup keys, which expire on their own (checked here).
   */
  async function leftovers(redis: Awaited<ReturnType<typeof connect>>, prefix: string): Promise<string[]> {
    const all: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.cmd.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      all.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    for (const key of all.filter((k) => /:(dedup|digest):/.test(k)))
      expect([key, (await redis.cmd.ttl(key)) > 0]).toEqual([key, true]);
    return (await withoutDeletionLogs(redis, all))
      .filter((key) => !/:(seq|tip|base|gen|att:bytes|dedup:.*|digest:.*)$/.test(key))
      .sort();
  }

  /** 2000 members, 100 authors mentioning 100 others, 60 files (30 of them sent). */
  async function bigRoom(store: RedisStore, redis: Awaited<ReturnType<typeof connect>>, keys: RedisKeys) {
    const names = Array.from({ length: 2000 }, (_, i) => `m${String(i).padStart(4, '0')}`);
    await store.createRoom(room('big'), quotas);
    await legacyRoom(redis, keys, 'big', names);
    for (let i = 0; i < 100; i++)
      expect(
        await store.appendEvent({ ...msg('big', names[i], `c${i}`), mentions: [names[1999 - i]] }),
      ).toMatchObject({ ok: true });
    const files = new RedisAttachments(redis.cmd, keys, Number.POSITIVE_INFINITY, () => true);
    for (let i = 0; i < 60; i++) {
      const id = `f${i}`;
      const user = names[i % 3];
      const record = { id, name: 'x.txt', type: 'text/plain', size: 1, room: 'big', user, createdAt: 1 };
      expect(await files.put({ ...record, clientId: null, seq: null }, Buffer.from('x'), 100)).toBe('stored');
      if (i % 2 === 0) {
        expect(await files.claim([id], user, 'big', `s${i}`)).not.toBeNull();
        await files.bind('big', [id], 1 + (i % 100));
      }
    }
    expect(await redis.cmd.get(`${keys.prefix}att:bytes`)).toBe('60');
    return { names, files };
  }

  it("answers before its cleanup's first step (held at a barrier), then clears members, mentions and files in bounded steps to no leftover key", async () => {
    const redis = await connect(sharedServer().url);
    try {
      const keys = new RedisKeys('cleanup:');
      const steps: number[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let firstStep!: (first: 'step') => void;
      const stepped = new Promise<'step'>((resolve) => {
        firstStep = resolve;
      });
      const a = new RedisStore(redis.cmd, keys, {
        graveChunk: 100,
        fileChunk: 20,
        graveStepped: async (r, done) => {
          expect(r).toBe('big');
          steps.push(done);
          if (steps.length === 1) {
            firstStep('step');
            await gate;
          }
        },
      });
      const { names } = await bigRoom(a, redis, keys);
      const answered = a.deleteRoom('big').then((deleted) => ({ deleted }));
      // The answer comes first; the first step is then held until released.
      expect(await Promise.race([answered, stepped])).toEqual({ deleted: true });
      expect(await stepped).toBe('step');
      expect(steps).toHaveLength(1);
      expect(await redis.cmd.zcard(keys.graves())).toBe(1);
      expect(await a.getRoom('big')).toBeNull();
      expect(await a.memberships(names[1500])).toEqual([]);
      // Created again while the old room's unread and mention entries wait for their steps: they
      // count for nothing in the new room, from any seq.
      expect(await a.createRoom(room('big'), quotas)).toBe('created');
      expect(await a.join('dan', 'big', 10)).toBe('joined');
      expect(await redis.cmd.zcard(keys.room('big', `mention:${names[1999]}`))).toBe(1); // still there
      expect(await a.mentionCount('big', names[1999], 0)).toBe(0);
      expect(await a.appendEvent({ ...msg('big', 'dan', 'd1'), mentions: [names[1999]] })).toMatchObject({
        ok: true,
      });
      expect(await a.mentionCount('big', names[1999], 0)).toBe(1);
      expect(await a.unreadCount('big', names[0], 0)).toBe(1); // its old message not subtracted
      release();
      await a.settled();
      // Bounded steps: 2000 names by 100, then 300 zsets (by:, mention: and mention:<user>:<author>
      // of 100 messages), then 60 files by SSCAN COUNT 20.
      expect(steps.length).toBeGreaterThanOrEqual(2000 / 100 + 3 + 60 / 20);
      for (const done of steps) expect(done).toBeLessThanOrEqual(100);
      expect(steps.reduce((x, y) => x + y, 0)).toBe(2000 + 300 + 60);
      // The new room's own entry is kept; the new room deleted in turn, nothing is left.
      expect(await redis.cmd.zrange(keys.room('big', `mention:${names[1999]}`), '0', '-1')).toEqual(['101']);
      expect(await a.deleteRoom('big')).toBe(true);
      await a.settled();
      expect(await redis.cmd.zcard(keys.graves())).toBe(0);
      expect(await redis.cmd.get('cleanup:att:bytes')).toBe('0');
      expect(await leftovers(redis, 'cleanup:')).toEqual(['cleanup:owned:x', 'cleanup:roomcount']);
    } finally {
      await redis.close();
    }
  });

  it('a node closed after one step runs none after; its cleanup is finished by a node started after it, once its lease ran out', async () => {
    const redis = await connect(sharedServer().url);
    try {
      const keys = new RedisKeys('cleanup-closed:');
      const steps: number[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let firstStep!: () => void;
      const stepped = new Promise<void>((resolve) => {
        firstStep = resolve;
      });
      const dies = new RedisStore(redis.cmd, keys, {
        graveChunk: 100,
        fileChunk: 20,
        graveStepped: async (_room, done) => {
          steps.push(done);
          firstStep();
          await gate;
        },
      });
      const { names } = await bigRoom(dies, redis, keys);
      expect(await dies.deleteRoom('big')).toBe(true);
      await stepped;
      // Shutdown while the step is in flight: close() waits for it (a round trip proves it still waits).
      let closed = false;
      const closing = dies.close().then(() => {
        closed = true;
      });
      expect(await redis.cmd.ping()).toBe('PONG');
      expect(closed).toBe(false);
      release();
      await closing;
      const calls = Number(
        /^cmdstat_evalsha:calls=(\d+)/m.exec(await redis.cmd.info('commandstats'))?.[1] ?? 0,
      );
      // No step after close: the grave and most entries are left; the room is gone for everyone.
      expect(steps).toHaveLength(1);
      expect(await redis.cmd.zcard(keys.graves())).toBe(1);
      const pending = (await Promise.all(names.map((u) => redis.cmd.hexists(keys.member(u), 'big')))).filter(
        (held) => held === 1,
      ).length;
      expect(pending).toBe(2000 - steps[0]);
      expect(
        Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(await redis.cmd.info('commandstats'))?.[1] ?? 0),
      ).toBe(calls);

      // The node starts again (a new store): its sweep leaves the grave alone while the lease holds.
      const after: number[] = [];
      const restarted = new RedisStore(redis.cmd, keys, {
        graveChunk: 100,
        fileChunk: 20,
        graveStepped: (_room, done) => void after.push(done),
      });
      expect((await restarted.expireEmptyRooms(0)).rooms).toEqual([]);
      expect(after).toEqual([]);
      // The lease runs out (Redis expires it; here at once): the next sweep finishes the cleanup.
      const leases = await redis.cmd.keys('cleanup-closed:*:lease');
      expect(leases).toHaveLength(1);
      expect(await redis.cmd.del(...leases)).toBe(1);
      expect((await restarted.expireEmptyRooms(0)).rooms).toEqual([]);
      expect(after.reduce((x, y) => x + y, 0)).toBe(pending + 300 + 60);
      for (const done of after) expect(done).toBeLessThanOrEqual(100);
      expect(await redis.cmd.zcard(keys.graves())).toBe(0);
      expect(await redis.cmd.get('cleanup-closed:att:bytes')).toBe('0');
      expect(await leftovers(redis, 'cleanup-closed:')).toEqual([
        'cleanup-closed:owned:x',
        'cleanup-closed:roomcount',
      ]);
    } finally {
      await redis.close();
    }
  });
});

describe('RedisStore member rosters beside a node of the version before them', () => {
  it('builds the roster again when a page holds a name the set lost (the counts agree)', async () => {
    const redis = await connect(sharedServer().url);
    try {
      const keys = new RedisKeys('rolling:');
      const store = new RedisStore(redis.cmd, keys);
      await store.createRoom(room('r'), quotas);
      for (const name of ['ann', 'bob', 'cy']) expect(await store.join(name, 'r', 10)).toBe('joined');
      expect(await store.listMembers('cy', 'r', '', 10)).toEqual(listed(['ann', 'bob', 'cy']));
      // A node of the previous version (its LEAVE and JOIN change the set alone): ann leaves, dan
      // joins. Set and roster still count 3.
      const members = keys.room('r', 'members');
      await redis.cmd.hdel(keys.member('ann'), 'r');
      await redis.cmd.srem(members, 'ann');
      await redis.cmd.hset(keys.member('dan'), 'r', '0');
      await redis.cmd.sadd(members, 'dan');
      expect(await redis.cmd.zcard(keys.room('r', 'roster'))).toBe(3);
      expect(await store.listMembers('cy', 'r', '', 10)).toEqual(listed(['bob', 'cy', 'dan']));
      // Again, bob for eve; a page past the stale name cannot see it (it lacks eve until then)...
      await redis.cmd.hdel(keys.member('bob'), 'r');
      await redis.cmd.srem(members, 'bob');
      await redis.cmd.hset(keys.member('eve'), 'r', '0');
      await redis.cmd.sadd(members, 'eve');
      expect(await store.listMembers('cy', 'r', 'bob', 10)).toEqual(listed(['cy', 'dan']));
      // ...the first page that holds it rebuilds the roster: from then on every page is right.
      expect(await store.listMembers('cy', 'r', '', 1)).toEqual(listed(['cy']));
      expect(await store.listMembers('cy', 'r', 'cy', 10)).toEqual(listed(['dan', 'eve']));
    } finally {
      await redis.close();
    }
  });
});

describe('RedisThrottle', () => {
  it('shares one token bucket and one typing gate between nodes, by the callers\u2019 clock', async () => {
    const a = await backend(sharedServer().url, { prefix: 'throttle:' });
    const b = await backend(sharedServer().url, { prefix: 'throttle:' });
    const now = clock.now();
    // burst 3, 1 per second, whichever node counts.
    expect(await a.throttle.take('messages', 'ann', now)).toBe(0);
    expect(await b.throttle.take('messages', 'ann', now)).toBe(0);
    expect(await a.throttle.take('messages', 'ann', now)).toBe(0);
    expect(await b.throttle.take('messages', 'ann', now)).toBe(1000);
    expect(await a.throttle.take('messages', 'ann', now + 250)).toBe(750);
    expect(await b.throttle.take('messages', 'ann', now + 1000)).toBe(0);
    expect(await a.throttle.take('messages', 'ben', now)).toBe(0);
    expect(await a.throttle.once('ann\ngeneral', 1000, now)).toBe(true);
    expect(await b.throttle.once('ann\ngeneral', 1000, now + 999)).toBe(false);
    expect(await b.throttle.once('ann\ngeneral', 1000, now + 1000)).toBe(true);
    for (let i = 0; i < 4; i++) expect(await a.throttle.signInAttempt('Ann', now)).toBe(0);
    expect(await b.throttle.signInWait('ann', now)).toBe(0);
    expect(await b.throttle.signInAttempt('ANN', now)).toBe(0);
    expect(await a.throttle.signInWait('ann', now + 400)).toBe(600);
    // Refused while it must wait, and not counted: the wait stays that of the fifth failure.
    expect(await a.throttle.signInAttempt('ann', now + 400)).toBe(600);
    expect(await b.throttle.signInAttempt('ann', now + 1000)).toBe(0);
    expect(await a.throttle.signInWait('ann', now + 1000)).toBe(2000);
    await a.throttle.signInSucceeded('ann');
    expect(await b.throttle.signInWait('ann', now + 400)).toBe(0);
    // Attempts at once, on both nodes: each meets the count of those before it (five free, then
    // every one must wait), as the script checks and counts in one step.
    const burst = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).throttle.signInAttempt('cat', now)),
    );
    expect(burst.filter((w) => w === 0)).toHaveLength(5);
    expect(burst.filter((w) => w === 1000)).toHaveLength(15);
  });
});

/**
 * Drops the one backend's command connection (as a network blip would); `raw`'s own is spared. The
 * other tests' backends are closed after each test, so the test's backend is the only other one.
 */
async function killCommandConnection(raw: Awaited<ReturnType<typeof connect>>): Promise<void> {
  const mine = String(await raw.cmd.client('ID'));
  const list = String(await raw.cmd.client('LIST'));
  const victims = list
    .split('\n')
    .filter((line) => line.includes(' name=chat-cmd@2 ') && !line.startsWith(`id=${mine} `))
    .map((line) => /^id=(\d+) /.exec(line)?.[1]);
  expect(victims).toHaveLength(1);
  await raw.cmd.client('KILL', 'ID', String(victims[0]));
}

describe('RedisBus', () => {
  it('a stop while the subscriber connection subscribes again after a reconnect leaves no rejection unhandled', async () => {
    // Regression: ioredis's own resubscribe had no rejection handler, so a connection closed for
    // good before its answer (a node stopping just after Redis came back) rejected it unhandled,
    // which ends a Node process (the healthz test's stop met it once in a few runs).
    const raw = await connect(sharedServer().url);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const bus = new RedisBus(raw.cmd, raw.sub, new RedisKeys('resubscribe:'));
      const heard = new Promise<void>((resolve) => bus.subscribe('room:a', () => resolve()));
      await until(
        'subscribed',
        async () => (await raw.cmd.pubsub('NUMSUB', 'resubscribe:topic:room:a'))[1] === 1,
      );
      await raw.cmd.publish('resubscribe:topic:room:a', '{}');
      await heard;
      // Redis drops the subscriber connection; ioredis reconnects, the channel is subscribed again,
      // and the connection is closed for good right then, before Redis answers.
      raw.sub.once('ready', () => {
        raw.sub.disconnect();
        // At once, before the answer can be read (disconnect() alone ends the socket gracefully).
        (raw.sub as unknown as { stream: { destroy(): void } }).stream.destroy();
      });
      // 'end': ioredis has failed what waited on the connection (its close, on the socket's).
      const ended = new Promise((resolve) => raw.sub.once('end', resolve));
      await raw.cmd.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await ended;
      // Rejections left unhandled are reported before the next turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await raw.close();
    }
  });

  it('keeps a count only for the topics it listens to: a topic left, or a message heard after, leaves none', async () => {
    // Regression: topicMessagesReceived kept a count for every topic ever heard (each room that
    // came and went, each user who signed in), for the life of the node.
    const raw = await connect(sharedServer().url);
    try {
      const bus = new RedisBus(raw.cmd, raw.sub, new RedisKeys('counts:'));
      let heard = () => {};
      const listener = () => heard();
      bus.subscribe('room:a', listener);
      await until('subscribed', async () => (await raw.cmd.pubsub('NUMSUB', 'counts:topic:room:a'))[1] === 1);
      await new Promise<void>((resolve) => {
        heard = resolve;
        void raw.cmd.publish('counts:topic:room:a', '{}');
      });
      expect(bus.stats.topicMessagesReceived).toEqual({ 'room:a': 1 });
      bus.unsubscribe('room:a', listener);
      expect(bus.stats.topicMessagesReceived).toEqual({});
      // A message of the topic still on its way when the UNSUBSCRIBE went out counts for nothing.
      raw.sub.emit('message', 'counts:topic:room:a', '{}');
      expect(bus.stats.topicMessagesReceived).toEqual({});
    } finally {
      await raw.close();
    }
  });

  it('publishes again, in order, the membership notices whose PUBLISH failed, once Redis is back; not a read marker', async () => {
    // Regression: a `left` lost this way left the removed user's connections on the other nodes in
    // the room (live events and all) until their own node lost Redis and reconciled.
    const a = await backend(sharedServer().url, { prefix: 'kept:' });
    const raw = await connect(sharedServer().url);
    try {
      const heard: unknown[] = [];
      raw.sub.on('message', (channel: string, payload: string) => heard.push([channel, JSON.parse(payload)]));
      await raw.sub.subscribe('kept:topic:user:bob', 'kept:topic:rooms');
      const left = { op: 'left', room: 'plans', reason: 'removed' };
      const deleted = { op: 'left', room: 'old', reason: 'deleted' };
      const down = new Promise<void>((resolve) =>
        a.onServiceChange((available) => {
          if (available) return;
          a.bus.publish('user:bob', JSON.stringify({ op: 'read', room: 'plans', seq: 3, from: 'x-1' }));
          a.bus.publish('user:bob', JSON.stringify(left));
          a.bus.publish('rooms', JSON.stringify(deleted));
          resolve();
        }),
      );
      await killCommandConnection(raw);
      await down;
      await waitUntil('the notices published again', () => heard.length >= 2, 10_000);
      // Barrier: a notice published now comes after anything published again before it.
      a.bus.publish('user:bob', JSON.stringify({ op: 'joined', room: 'barrier' }));
      await waitUntil('the barrier', () => heard.length >= 3, 10_000);
      expect(heard).toEqual([
        ['kept:topic:user:bob', left],
        ['kept:topic:rooms', deleted],
        ['kept:topic:user:bob', { op: 'joined', room: 'barrier' }],
      ]);
      expect((a.bus as unknown as { kept: number }).kept).toBe(0);
    } finally {
      await raw.close();
    }
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
    const a = await backend(sharedServer().url, { prefix: 'presence:', presenceTtlMs: ttl });
    const b = await backend(sharedServer().url, { prefix: 'presence:', presenceTtlMs: ttl });
    const pa = a.presence as RedisPresence;
    const pb = b.presence as RedisPresence;
    expect(await pa.add('r', 'ann', 'a-1')).toBe(true);
    expect(await pb.add('r', 'ann', 'b-1')).toBe(false); // second device
    expect(await pb.add('r', 'ben', 'b-2')).toBe(true);
    expect(await pa.online('r')).toEqual(['ann', 'ben']);
    expect(await pa.remove('r', 'ann', 'a-1')).toBe(false); // b-1 still there
    expect(await pb.remove('r', 'ann', 'b-1')).toBe(true);
    expect(await pa.online('r')).toEqual(['ben']);

    // Each node beats every ttl/3.
    const beats = vi.spyOn(pb, 'beat');
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
      await pb.beat();
      await pa.beat();
      expect(await pa.online('r')).toEqual(['ben']);
    }
    // b "dies": it stops beating. a sweeps the room because it has a connection there.
    await pa.add('r', 'cat', 'a-3');
    pb.close();
    await sleep(ttl + 50); // past b's last refresh + ttl on Redis's clock
    await pa.beat(); // the first sweep past the ttl
    expect(await pa.online('r')).toEqual(['cat']);
  });

  it('announces offline a user who left while no node could reach Redis, however long that lasted', async () => {
    // Regression: the room set expired 2 ttl after its last refresh, so after an outage longer
    // than that the user who had left meanwhile was gone from Redis unannounced, and every client
    // that had seen them online kept them online.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const ttl = 600;
    const a = await backend(sharedServer().url, { prefix: 'outage:', presenceTtlMs: ttl });
    const b = await backend(sharedServer().url, { prefix: 'outage:', presenceTtlMs: ttl });
    const pa = a.presence as RedisPresence;
    const pb = b.presence as RedisPresence;
    expect(await pa.add('r', 'ann', 'a-1')).toBe(true);
    expect(await pb.add('r', 'ben', 'b-1')).toBe(true);
    // Redis is unreachable for both nodes: neither beats, and ben's last tab closes on b, whose
    // remove cannot reach Redis (here: b stops without one).
    pb.close();
    const published = vi.spyOn(a.bus, 'publish');
    await sleep(2 * ttl + 100); // a lower bound on Redis's clock: past every expiry of 2 ttl
    // Redis is back: a refreshes ann (announced again, her entry had expired) and sweeps ben.
    await pa.beat();
    const told = published.mock.calls.map(([topic, payload]) => [topic, JSON.parse(payload)]);
    expect(told).toContainEqual([
      'room:r',
      { v: 2, type: 'presence', room: 'r', user: 'ben', online: false },
    ]);
    expect(await pa.online('r')).toEqual(['ann']);
  });

  it('tells again, as Redis has it then, a presence notice whose PUBLISH failed because the command connection dropped', async () => {
    // Regression: the notice was lost for every node (each resyncs only when its own subscriber
    // comes back, and no subscriber went away), so the room showed the user wrong until something
    // else changed. The ttl is long: nothing expires by time during the test.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const a = await backend(sharedServer().url, { prefix: 'retell:', presenceTtlMs: 60_000 });
    const pa = a.presence as RedisPresence;
    const raw = await connect(sharedServer().url);
    try {
      const heard: unknown[] = [];
      raw.sub.on('message', (_channel: string, payload: string) => heard.push(JSON.parse(payload)));
      await raw.sub.subscribe('retell:topic:room:r'); // resolves once Redis confirmed it
      expect(await pa.add('r', 'ann', 'a-1')).toBe(true);
      // ann's first connection is in: the hub publishes her online, and that PUBLISH fails (the
      // command connection has just dropped). Before it is back, she leaves again through another
      // node (her entry removed from the room set).
      const down = new Promise<void>((resolve) =>
        a.onServiceChange((available) => {
          if (available) return;
          a.bus.publish(
            'room:r',
            JSON.stringify({ v: 2, type: 'presence', room: 'r', user: 'ann', online: true }),
          );
          void raw.cmd.zrem('retell:room:{r}:presence', 'ann').then(() => resolve());
        }),
      );
      await killCommandConnection(raw);
      await down;
      // Back (ioredis reconnects by itself): a tells the room ann's presence as Redis has it now.
      await waitUntil('ann told again', () => heard.length > 0, 10_000);
      expect(heard).toEqual([{ v: 2, type: 'presence', room: 'r', user: 'ann', online: false }]);
      expect(pa.untold).toBe(0);
    } finally {
      await raw.close();
    }
  });

  it('announces offline a user whose last tab closed while Redis stalled, when the remove ran after its command timed out', async () => {
    // Regression: the remove's reply was lost (Redis ran it once the stall ended, after the node
    // had given up waiting), so the user was out of the room set and no node announced it: every
    // client showed them online for good. CLIENT PAUSE is the stall; `a` waits 300 ms for a reply.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const a = await backend(sharedServer().url, {
      prefix: 'stall:',
      presenceTtlMs: 60_000,
      commandTimeoutMs: 300,
    });
    const b = await backend(sharedServer().url, { prefix: 'stall:', presenceTtlMs: 60_000 });
    const pa = a.presence as RedisPresence;
    const pb = b.presence as RedisPresence;
    const raw = await connect(sharedServer().url);
    try {
      const heard: unknown[] = [];
      raw.sub.on('message', (_channel: string, payload: string) => heard.push(JSON.parse(payload)));
      await raw.sub.subscribe('stall:topic:room:r');
      expect(await pa.add('r', 'ann', 'a-1')).toBe(true);
      expect(await pa.add('r', 'ann', 'a-2')).toBe(false);
      expect(await pa.remove('r', 'ann', 'a-2')).toBe(false); // Redis has the script from here on
      expect(await pb.add('r', 'ben', 'b-1')).toBe(true);
      await raw.cmd.client('PAUSE', 3000, 'ALL');
      // ann's last tab closes: the remove waits in Redis until the pause ends; `a` gives up first.
      expect(await pa.remove('r', 'ann', 'a-1')).toBe(false);
      // Redis runs it once the pause is over.
      await until(
        'the remove run by Redis',
        async () => (await raw.cmd.zscore('stall:room:{r}:presence', 'ann')) === null,
      );
      expect(heard).toEqual([]);
      await pa.beat();
      await waitUntil('ann announced', () => heard.length > 0, 10_000);
      expect(heard).toEqual([{ v: 2, type: 'presence', room: 'r', user: 'ann', online: false }]);
      expect(await pb.online('r')).toEqual(['ben']);
    } finally {
      await raw.close();
    }
  });

  it('announces online again a user swept meanwhile, when their refresh ran after its command timed out', async () => {
    // Regression: a node cut off from Redis (its connection hung, not closed) had its users swept
    // and announced offline by another node; its refresh, held back, ran when the connection came
    // back, after the node had given up waiting for the reply that said "re-added". The next
    // refresh found them online and announced nothing: every client showed them offline while they
    // were there. CLIENT PAUSE holds the refresh back; `a` waits 300 ms for a reply.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const ttl = 60_000;
    const a = await backend(sharedServer().url, {
      prefix: 'held:',
      presenceTtlMs: ttl,
      commandTimeoutMs: 300,
    });
    const b = await backend(sharedServer().url, { prefix: 'held:', presenceTtlMs: ttl });
    const pa = a.presence as RedisPresence;
    const pb = b.presence as RedisPresence;
    const raw = await connect(sharedServer().url);
    try {
      const heard: unknown[] = [];
      raw.sub.on('message', (_channel: string, payload: string) => heard.push(JSON.parse(payload)));
      await raw.sub.subscribe('held:topic:room:r');
      expect(await pa.add('r', 'ann', 'a-1')).toBe(true);
      expect(await pb.add('r', 'ben', 'b-1')).toBe(true);
      await pa.beat(); // Redis has a's scripts from here on
      // a stops reaching Redis; ann's entries expire (written into the keys instead of waited for)
      // and b's beat sweeps her and announces her offline.
      await raw.cmd.zadd('held:room:{r}:presence', 'XX', 1, 'ann');
      await pb.beat();
      const offline = { v: 2, type: 'presence', room: 'r', user: 'ann', online: false };
      await waitUntil('ann announced offline', () => heard.length === 1);
      expect(heard).toEqual([offline]);
      // a's next refresh is held back until its wait is over, and then runs: ann is back in the set.
      await raw.cmd.client('PAUSE', 3000, 'ALL');
      await pa.beat();
      await until('the refresh run by Redis', async () => (await pb.online('r')).includes('ann'));
      expect(heard).toEqual([offline]);
      // The next beat announces her online, once.
      await pa.beat();
      await pa.beat();
      const online = { ...offline, online: true };
      await waitUntil('ann announced online', () => heard.length === 2, 10_000);
      expect(await pb.online('r')).toEqual(['ann', 'ben']);
      await pa.beat();
      await pb.beat();
      expect(await raw.cmd.hgetall('held:room:{r}:presence-swept')).toEqual({});
      expect(heard).toEqual([offline, online]);
    } finally {
      await raw.close();
    }
  });

  it('sweeps the set of a room no node has a connection in once it is past its expiry by a ttl, and announces its users offline', async () => {
    // Regression: a room set whose remove failed stayed for good when no node had a connection in
    // the room any more (only nodes with connections there swept it). Expiry is written into the
    // keys (scores in the past on Redis's clock) instead of waited for.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const ttl = 60_000;
    const a = await backend(sharedServer().url, { prefix: 'orphans:', presenceTtlMs: ttl });
    const b = await backend(sharedServer().url, { prefix: 'orphans:', presenceTtlMs: ttl });
    const pa = a.presence as RedisPresence;
    const pb = b.presence as RedisPresence;
    expect(await pb.add('gone', 'ben', 'b-1')).toBe(true);
    expect(await pb.add('held', 'cat', 'b-2')).toBe(true);
    pb.close(); // b stops beating, its removes never reached Redis
    const raw = await connect(sharedServer().url);
    try {
      const [seconds, micros] = await raw.cmd.time();
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      // ben expired more than a ttl ago; cat expired less than a ttl ago (b may still refresh her).
      for (const [room, user, at] of [
        ['gone', 'ben', now - 2 * ttl],
        ['held', 'cat', now - ttl / 2],
      ] as const) {
        await raw.cmd.zadd(`orphans:room:{${room}}:presence`, at, user);
        await raw.cmd.zadd('orphans:presence-rooms', at, room);
      }
      const published = vi.spyOn(a.bus, 'publish');
      await pa.beat(); // a has no connection in either room
      expect(published.mock.calls.map(([topic, payload]) => [topic, JSON.parse(payload)])).toEqual([
        ['room:gone', { v: 2, type: 'presence', room: 'gone', user: 'ben', online: false }],
      ]);
      expect(await raw.cmd.exists('orphans:room:{gone}:presence', 'orphans:room:{gone}:presence:ben')).toBe(
        0,
      );
      expect(await raw.cmd.zscore('orphans:presence-rooms', 'gone')).toBeNull();
      expect(await raw.cmd.zscore('orphans:room:{held}:presence', 'cat')).not.toBeNull();
      // Swept once: the next beat finds nothing more to announce.
      await pa.beat();
      expect(published).toHaveBeenCalledTimes(1);
    } finally {
      await raw.close();
    }
  });

  it('finds the room sets written before the presence-rooms index, gives them an entry, and sweeps them like any other', async () => {
    // Regression: a set written by a version before the index had no entry there, so the orphan
    // sweep never saw it; only a node with a connection in that room swept it.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const ttl = 60_000;
    // A database of its own, so the whole scan is a few steps whatever the other tests left.
    const url = `${sharedServer().url}/7`;
    const raw = await connect(url);
    try {
      const [seconds, micros] = await raw.cmd.time();
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      // Old-style sets, no index entry: ann and bo expired long ago, cy still within her ttl.
      await raw.cmd.zadd('oldsets:room:{old}:presence', now - 2 * ttl, 'ann', now - 3 * ttl, 'bo');
      await raw.cmd.zadd('oldsets:room:{old}:presence:ann', now - 2 * ttl, 'conn-1');
      await raw.cmd.zadd('oldsets:room:{fresh}:presence', now + ttl, 'cy');
      // Enough sets that the scan takes several beats (one bounded SCAN step each).
      for (let i = 0; i < 300; i++) await raw.cmd.zadd(`oldsets:room:{live${i}}:presence`, now + ttl, 'dan');
      const a = await backend(url, { prefix: 'oldsets:', presenceTtlMs: ttl });
      const pa = a.presence as RedisPresence;
      const published = vi.spyOn(a.bus, 'publish');
      // Bounded: the scan of this file's Redis ends long before 50 steps.
      let beats = 0;
      for (; beats < 50 && !pa.indexed; beats++) await pa.beat();
      expect(published.mock.calls.map(([topic, payload]) => [topic, JSON.parse(payload)])).toEqual([
        ['room:old', { v: 2, type: 'presence', room: 'old', user: 'bo', online: false }],
        ['room:old', { v: 2, type: 'presence', room: 'old', user: 'ann', online: false }],
      ]);
      expect(await raw.cmd.exists('oldsets:room:{old}:presence', 'oldsets:room:{old}:presence:ann')).toBe(0);
      expect(await raw.cmd.zscore('oldsets:presence-rooms', 'old')).toBeNull();
      // Indexed by its latest expiry, left to its nodes (not past by a ttl): swept once it is.
      expect(await raw.cmd.zscore('oldsets:presence-rooms', 'fresh')).toBe(String(now + ttl));
      expect(await raw.cmd.zscore('oldsets:room:{fresh}:presence', 'cy')).toBe(String(now + ttl));
      expect(await raw.cmd.zcard('oldsets:presence-rooms')).toBe(301);
      expect(pa.indexed).toBe(true);
      expect(beats).toBeGreaterThan(1);
      // Swept once: the next beat finds nothing more to announce.
      await pa.beat();
      expect(published).toHaveBeenCalledTimes(2);
    } finally {
      await raw.close();
    }
  });

  it('goes on sweeping when Redis refuses SCAN to the node: the look for unindexed sets is given up, said once', async () => {
    // Regression: the look for sets without an index entry ran before the orphan sweep in one
    // try; an ACL without SCAN failed every beat there, so no orphan was ever swept again.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const ttl = 60_000;
    const raw = await connect(sharedServer().url);
    try {
      await raw.cmd.call('ACL', 'SETUSER', 'noscan', 'on', '>secret', '~*', '&*', '+@all', '-scan');
      const lines: string[] = [];
      const url = sharedServer().url.replace('redis://', 'redis://noscan:secret@');
      const a = await createRedisBackend(
        { url, prefix: 'noscan:', presenceTtlMs: ttl },
        { ...common, log: (line) => lines.push(line) },
      );
      backends.push(a);
      const pa = a.presence as RedisPresence;
      const [seconds, micros] = await raw.cmd.time();
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      await raw.cmd.zadd('noscan:room:{gone}:presence', now - 2 * ttl, 'ben');
      await raw.cmd.zadd('noscan:presence-rooms', now - 2 * ttl, 'gone');
      const published = vi.spyOn(a.bus, 'publish');
      await pa.beat();
      expect(published.mock.calls.map(([topic, payload]) => [topic, JSON.parse(payload)])).toEqual([
        ['room:gone', { v: 2, type: 'presence', room: 'gone', user: 'ben', online: false }],
      ]);
      expect(pa.indexed).toBe(true);
      await pa.beat();
      expect(lines.filter((line) => line.includes('refused SCAN'))).toHaveLength(1);
    } finally {
      await raw.cmd.call('ACL', 'DELUSER', 'noscan');
      await raw.close();
    }
  });

  it('sweeps at most 1000 orphaned users a beat, all rooms together, and goes on at the next beat', async () => {
    // Regression: one script swept up to 100 rooms' whole sets: a dead node's big rooms made one
    // script, blocking every node, of as many removals as they had users (SECURITY.md).
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const ttl = 60_000;
    const a = await backend(sharedServer().url, { prefix: 'budget:', presenceTtlMs: ttl });
    const pa = a.presence as RedisPresence;
    const raw = await connect(sharedServer().url);
    try {
      const [seconds, micros] = await raw.cmd.time();
      const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      const big = Array.from({ length: 1200 }, (_, i) => `u${String(i).padStart(4, '0')}`);
      await raw.cmd.zadd(
        'budget:room:{big}:presence',
        ...big.flatMap((user) => [String(now - 3 * ttl), user]),
      );
      await raw.cmd.zadd('budget:presence-rooms', now - 3 * ttl, 'big');
      await raw.cmd.zadd('budget:room:{small}:presence', now - 2 * ttl, 'sam');
      await raw.cmd.zadd('budget:presence-rooms', now - 2 * ttl, 'small');
      const published = vi.spyOn(a.bus, 'publish');
      const told = () =>
        published.mock.calls.map(([topic, payload]) => `${topic} ${JSON.parse(payload).user}`);
      await pa.beat();
      expect(told()).toEqual(big.slice(0, 1000).map((user) => `room:big ${user}`));
      // The rest wait, their room still first in the index.
      expect(await raw.cmd.zcard('budget:room:{big}:presence')).toBe(200);
      expect(await raw.cmd.zrange('budget:presence-rooms', '0', '-1')).toEqual(['big', 'small']);
      published.mockClear();
      await pa.beat();
      expect(told()).toEqual([...big.slice(1000).map((user) => `room:big ${user}`), 'room:small sam']);
      expect(await raw.cmd.exists('budget:room:{big}:presence', 'budget:room:{small}:presence')).toBe(0);
      expect(await raw.cmd.zcard('budget:presence-rooms')).toBe(0);
    } finally {
      await raw.close();
    }
  });
});
