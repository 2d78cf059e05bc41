/**
 * Presence after a Redis outage longer than 1.5 ttl (presence.ts, theory of operation): a node back
 * from losing Redis refreshes its own users and sweeps nothing for about a ttl, so a user whose node
 * is alive is never announced offline by the first node back, while a user of a node that stopped
 * beating still is, once. Beats are run by hand (the heartbeat timers are faked); the entries'
 * expiry during the outage is written into Redis instead of waited for.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SIGN_IN_BACKOFF } from '../../src/server/backends/backoff.js';
import { createRedisBackend } from '../../src/server/backends/redis/index.js';
import type { RedisPresence } from '../../src/server/backends/redis/presence.js';
import { ManualClock } from '../../src/server/clock.js';
import type { Backend, BackendOptions } from '../../src/server/ports.js';
import { redisServerForThisFile, waitUntil } from './helpers.js';

const backends: Backend[] = [];
const raws: Redis[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const b of backends.splice(0)) await b.close();
  for (const r of raws.splice(0)) r.disconnect();
});

const common: BackendOptions = {
  clock: new ManualClock(),
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

const server = redisServerForThisFile();

const TTL = 600;

async function node(prefix = 'flicker:'): Promise<Backend> {
  const b = await createRedisBackend({ url: server().url, prefix, presenceTtlMs: TTL }, common);
  backends.push(b);
  return b;
}

type Notice = { user: string; online: boolean };

/** Every presence notice `b` publishes (or tries to), in order. */
function notices(b: Backend): Notice[] {
  const told: Notice[] = [];
  const publish = b.bus.publish.bind(b.bus);
  vi.spyOn(b.bus, 'publish').mockImplementation((topic: string, payload: string) => {
    const { type, user, online } = JSON.parse(payload) as { type: string } & Notice;
    if (topic === 'room:r' && type === 'presence') told.push({ user, online });
    return publish(topic, payload);
  });
  return told;
}

describe('RedisPresence after a Redis outage longer than 1.5 ttl', () => {
  it('announces no live node\u2019s user offline, and a stopped node\u2019s user offline once', async () => {
    // Regression: the first node back swept the users whose own node had not refreshed them yet
    // (its room sweep and ORPHANS), so every user flickered offline and online; its resync, reading
    // the online list before their refresh, told its clients they were offline as well.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const a = await node();
    const b = await node();
    const c = await node();
    const [pa, pb, pc] = [a, b, c].map((n) => n.presence as RedisPresence);
    expect(await pa.add('r', 'ann', 'a-1')).toBe(true);
    expect(await pb.add('r', 'ben', 'b-1')).toBe(true);
    expect(await pc.add('r', 'cat', 'c-1')).toBe(true);
    await pa.beat();
    await pb.beat();
    // c stops beating (its node died); a and b run on.
    pc.close();

    await server().stop('SIGKILL');
    await waitUntil('both nodes see Redis gone', () => !a.available && !b.available);
    // Their beats fail meanwhile, as the timer's would.
    await pa.beat();
    await pb.beat();
    await server().restart();
    // The outage outlasted the ttl: every entry, and the room's index score, expired meanwhile.
    const raw = new Redis(server().url);
    raws.push(raw);
    for (const user of ['ann', 'ben', 'cat']) await raw.zadd('flicker:room:{r}:presence', 'XX', 1, user);
    await raw.zadd('flicker:presence-rooms', 'XX', 1, 'r');
    await waitUntil('both nodes back', () => a.available && b.available);

    const byA = notices(a);
    const byB = notices(b);
    // a is back first: it refreshes ann, and sweeps no one b has not refreshed yet.
    await pa.beat();
    expect(byA.filter((n) => !n.online)).toEqual([]);
    // What a's resync reads: ben and cat are not gone until a sweep says so.
    expect(await pa.online('r')).toEqual(['ann', 'ben', 'cat']);
    await pb.beat();
    // For about a ttl after its return (3 beats, a beat every ttl/3) neither node sweeps.
    for (let round = 0; round < 2; round++) {
      await pa.beat();
      await pb.beat();
    }
    const offline = () => [...byA, ...byB].filter((n) => !n.online);
    expect(offline()).toEqual([]);
    // Then cat, whose node stopped, goes offline, once; ann and ben never did.
    await pa.beat();
    await pb.beat();
    expect(offline()).toEqual([{ user: 'cat', online: false }]);
    expect(await pa.online('r')).toEqual(['ann', 'ben']);
    expect(await pb.online('r')).toEqual(['ann', 'ben']);
  });

  it('tells a notice lost during the outage only once the other nodes have refreshed their users', async () => {
    // Regression: a remove that failed while Redis was down was told again (ANNOUNCE, as Redis has
    // it) as soon as its node was back: before the user's other node had refreshed her, so she was
    // told offline, then online again by that node's refresh.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const a = await node('retold:');
    const b = await node('retold:');
    const [pa, pb] = [a, b].map((n) => n.presence as RedisPresence);
    expect(await pa.add('r', 'ann', 'a-1')).toBe(true);
    expect(await pb.add('r', 'ann', 'b-1')).toBe(false); // her second tab, on b
    await pa.beat();
    await pb.beat();

    await server().stop('SIGKILL');
    await waitUntil('both nodes see Redis gone', () => !a.available && !b.available);
    await pa.beat();
    await pb.beat();
    // Her tab on a closes: the remove cannot reach Redis, so a keeps her notice to tell again.
    expect(await pa.remove('r', 'ann', 'a-1')).toBe(false);
    expect(pa.untold).toBe(1);
    await server().restart();
    const raw = new Redis(server().url);
    const sub = new Redis(server().url);
    raws.push(raw, sub);
    await raw.zadd('retold:room:{r}:presence', 'XX', 1, 'ann'); // expired during the outage
    const heard: Notice[] = [];
    sub.on('message', (_channel: string, payload: string) => heard.push(JSON.parse(payload) as Notice));
    await sub.subscribe('retold:topic:room:r');
    await waitUntil('both nodes back', () => a.available && b.available);

    // a is back first: the notice waits while a settles (b has not refreshed ann yet).
    await pa.beat();
    expect(pa.untold).toBe(1);
    for (let round = 0; round < 3; round++) {
      await pb.beat();
      await pa.beat();
    }
    // Told, as it is by then: online (her tab on b).
    expect(pa.untold).toBe(0);
    await waitUntil('the notice heard', () => heard.some((n) => n.user === 'ann' && n.online));
    expect(heard.filter((n) => !n.online)).toEqual([]);
  });
});
