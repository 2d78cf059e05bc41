/**
 * Three chat nodes on one Redis: clients spread over the nodes chat in several rooms and every
 * client sees every room's events once, in one order, the same as history; and a node with no
 * subscriber for a room receives none of that room's traffic.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/server/ports.js';
import type { ServerMessage } from '../../src/shared/protocol.js';
import { register, TestClient } from '../helpers.js';
import {
  ChatNode,
  cleanupAll,
  closedAfterEachTest,
  RedisServer,
  SimClient,
  sleep,
  startChatServersOnRedis,
  userNames,
  waitUntil,
} from './helpers.js';

afterEach(cleanupAll);
const { servers, clients } = closedAfterEachTest();
const admins: Redis[] = [];
afterEach(() => {
  for (const admin of admins.splice(0)) admin.disconnect();
});

describe('several nodes on Redis', () => {
  it('delivers every room event to every client on every node once, in the same order, matching history', async () => {
    const redis = await RedisServer.start();
    const nodes = await ChatNode.startMany(3, redis.url);
    // 9 users, 3 per node; rooms: general (everyone), red (users 0-5), blue (users 3-8).
    const names = userNames(9);
    const clients = await SimClient.spreadOver(nodes, names);
    const roomsOf = (i: number) => ['general', ...(i <= 5 ? ['red'] : []), ...(i >= 3 ? ['blue'] : [])];
    clients[0].request({ type: 'create', room: 'red' });
    await clients[0].next('joined', (m) => m.room === 'red');
    clients[3].request({ type: 'create', room: 'blue' });
    await clients[3].next('joined', (m) => m.room === 'blue');
    for (const [i, c] of clients.entries()) {
      for (const room of roomsOf(i).slice(1)) {
        if (c.head.has(room)) continue;
        c.request({ type: 'join', room });
        await c.next('joined', (m) => m.room === room);
      }
    }

    // Everyone sends 15 messages to each of their rooms at once, interleaved across nodes.
    const sent = new Map<string, string[]>();
    for (let k = 0; k < 15; k++) {
      for (const [i, c] of clients.entries()) {
        for (const room of roomsOf(i)) {
          const id = c.send(room, `${c.user} says ${k} in ${room}`);
          sent.set(room, [...(sent.get(room) ?? []), id]);
        }
      }
      await sleep(5);
    }
    await waitUntil('every acknowledgement', () => clients.every((c) => c.outbox.size === 0));
    const total = (room: string) => sent.get(room)?.length ?? 0;
    await waitUntil('every delivery', () =>
      clients.every((c, i) => roomsOf(i).every((room) => c.messages(room).length === total(room))),
    );

    for (const room of ['general', 'red', 'blue']) {
      const members = clients.filter((_, i) => roomsOf(i).includes(room));
      const reference = members[0].messages(room);
      // Seqs 1..n, no gap, no repeat; every sent id exactly once.
      expect(reference.map((m) => m.seq)).toEqual(Array.from({ length: total(room) }, (_, i) => i + 1));
      expect(new Set(reference.map((m) => `${m.user}/${m.id}`)).size).toBe(total(room));
      expect(reference.map((m) => m.id).sort()).toEqual([...(sent.get(room) ?? [])].sort());
      // The same order on every client, whichever node it is on.
      for (const c of members) {
        expect(c.messages(room)).toEqual(reference);
        expect(c.waiting.get(room)?.size ?? 0).toBe(0);
      }
      // Each acknowledgement names the seq the message got.
      for (const m of reference) expect(clients.find((c) => c.user === m.user)?.acks.get(m.id)).toBe(m.seq);
      // History, asked on another node, is the same list.
      const asker = members[members.length - 1];
      const pages: typeof reference = [];
      let before: number | undefined;
      for (;;) {
        asker.request({ type: 'history', ref: `h${before ?? 0}`, room, ...(before ? { before } : {}) });
        const page = await asker.next('history', (h) => h.ref === `h${before ?? 0}`);
        pages.unshift(...page.messages);
        if (!page.hasMore) break;
        before = page.messages[0].seq;
      }
      expect(pages).toEqual(reference);
    }
  });

  it('deduplicates a message resent through another node, and carries typing and presence across nodes', async () => {
    const redis = await RedisServer.start();
    const [a, b] = await ChatNode.startMany(2, redis.url);
    const ann = await SimClient.connect(a.origin, 'ann');
    const ben = await SimClient.connect(b.origin, 'ben');
    await waitUntil('ann online for ben', () => ben.online.get('general')?.has('ann') === true);
    const id = ann.send('general', 'once only');
    await waitUntil('ack', () => ann.acks.has(id));
    const seq = ann.acks.get(id);
    // The same message (same id) arrives again through node b, as after a reconnect elsewhere.
    ann.close();
    await ann.connectTo(b.origin);
    ann.request({ type: 'send', id, room: 'general', text: 'once only' });
    const dup = await ann.next('ack', (m) => m.id === id);
    expect(dup).toMatchObject({ seq, duplicate: true });
    ann.request({ type: 'typing', room: 'general' });
    await waitUntil('typing on the other node', () =>
      ben.all.some((m) => m.type === 'typing' && m.user === 'ann'),
    );
    ben.send('general', 'after');
    await waitUntil('both see it', () => ann.head.get('general') === 2 && ben.head.get('general') === 2);
    expect(ben.messages('general').map((m) => m.text)).toEqual(['once only', 'after']);
  });

  it('sends a room\u2019s traffic only to the nodes that have subscribers for it', async () => {
    const redis = await RedisServer.start();
    const [a, b, c] = await ChatNode.startMany(3, redis.url);
    const ann = await SimClient.connect(a.origin, 'ann');
    const ben = await SimClient.connect(b.origin, 'ben');
    const cat = await SimClient.connect(c.origin, 'cat'); // only in general
    ann.request({ type: 'create', room: 'quiet' });
    await ann.next('joined', (m) => m.room === 'quiet');
    ben.request({ type: 'join', room: 'quiet' });
    await ben.next('joined', (m) => m.room === 'quiet');
    const ids = Array.from({ length: 20 }, (_, i) => (i % 2 ? ann : ben).send('quiet', `psst ${i}`));
    ann.request({ type: 'typing', room: 'quiet' });
    await waitUntil('acks', () => ann.outbox.size === 0);
    ann.request({ type: 'edit', room: 'quiet', seq: ann.acks.get(ids[1]), text: 'edited' });
    await waitUntil('delivery', () => ann.messages('quiet').length === 20 && ben.head.get('quiet') === 21);
    cat.send('general', 'hello');
    await waitUntil(
      'general delivery',
      () => ann.messages('general').length === 1 && cat.messages('general').length === 1,
    );

    const [sa, sb, sc] = await Promise.all([a.stats(), b.stats(), c.stats()]);
    expect(sa.roomEventsReceived.quiet).toBe(21);
    expect(sb.roomEventsReceived.quiet).toBe(21);
    expect(sa.topicMessagesReceived['room:quiet']).toBeGreaterThan(0); // presence, member, typing
    // Node c has no subscriber for quiet: not one of its events, notices or typing reached it.
    expect(sc.rooms).toEqual(['general']);
    expect(sc.roomEventsReceived.quiet).toBeUndefined();
    expect(sc.topicMessagesReceived['room:quiet']).toBeUndefined();
    expect(sc.roomEventsReceived.general).toBe(1);
    expect(cat.all.some((m) => 'room' in m && m.room === 'quiet')).toBe(false);

    // Once its last subscriber leaves, a node stops reading the room.
    ben.request({ type: 'leave', room: 'quiet' });
    await ben.next('left');
    const before = (await b.stats()).roomEventsReceived.quiet;
    ann.send('quiet', 'anyone?');
    await waitUntil('ann sees it', () => ann.messages('quiet').length === 21);
    // Barrier: a later event in general, which b still reads, reaches ben; had b still been
    // reading quiet, the earlier quiet event would have reached b first.
    ann.send('general', 'after the quiet one');
    await waitUntil('ben sees the general one', () =>
      ben.messages('general').some((m) => m.text === 'after the quiet one'),
    );
    const after = await b.stats();
    expect(after.rooms).toEqual(['general']);
    expect(after.roomEventsReceived.quiet).toBe(before);
  });
});

/** The online list of `room` as a client sees it: its welcome's list, then each presence notice. */
function onlineSeen(
  client: TestClient,
  welcome: { rooms: { room: string; online: string[] }[] },
  room: string,
) {
  const seen = new Set(welcome.rooms.find((r) => r.room === room)?.online);
  client.ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as ServerMessage;
    if (m.type === 'presence' && m.room === room) {
      if (m.online) seen.add(m.user);
      else seen.delete(m.user);
    }
  });
  return () => [...seen].sort();
}

/**
 * Nodes a and b on one Redis; b connects as its own Redis user, so that its subscriber alone can be
 * cut off and kept away (the user disabled: its reconnections fail) while its other connections go
 * on. `admin` is a connection of the test's own.
 */
async function twoNodes() {
  const redis = await RedisServer.start();
  const admin = new Redis(redis.url, { lazyConnect: true });
  await admin.connect();
  await admin.call('ACL', 'SETUSER', 'nodeb', 'on', '>secret', '~*', '&*', '+@all');
  const [a] = await startChatServersOnRedis(1, { url: redis.url, prefix: 'presync:' });
  servers.push(a);
  const [b] = await startChatServersOnRedis(1, {
    url: redis.url.replace('redis://', 'redis://nodeb:secret@'),
    prefix: 'presync:',
  });
  servers.push(b);
  const onA = a.url.replace(/\/$/, '');
  const onB = b.url.replace(/\/$/, '');
  const join = async (origin: string, cookie: string) => {
    const joined = await TestClient.join(origin, cookie);
    clients.push(joined.client);
    return joined;
  };
  admins.push(admin);
  return { admin, a, b, onA, onB, join };
}

describe('presence after a node lost its subscription (pub/sub is at most once)', () => {
  it('tells the clients of a node whose subscriber was away who went offline and who came online meanwhile', async () => {
    const { admin, onA, onB, join } = await twoNodes();
    const carol = await join(onA, await register(onA, 'carol'));
    const alice = await join(onA, await register(onA, 'alice'));
    const daveCookie = await register(onA, 'dave');
    const bobCookie = await register(onB, 'bob');
    const bob = await join(onB, bobCookie);
    const bobSees = onlineSeen(bob.client, bob.welcome, 'general');
    expect(bobSees()).toEqual(['alice', 'bob', 'carol']);
    await alice.client.next('presence', (m) => m.user === 'bob' && m.online);

    await admin.call('ACL', 'SETUSER', 'nodeb', 'off');
    expect(await admin.call('CLIENT', 'KILL', 'USER', 'nodeb', 'TYPE', 'pubsub')).toBe(1);
    // Meanwhile, on node a: carol leaves, dave arrives. Node a hears both (alice is told).
    carol.client.ws.close();
    await alice.client.next('presence', (m) => m.user === 'carol' && !m.online);
    await join(onA, daveCookie);
    await alice.client.next('presence', (m) => m.user === 'dave' && m.online);
    // A second tab of bob's on node b is given the store's list, which disagrees with the first's.
    const bob2 = await join(onB, bobCookie);
    expect(bob2.welcome.rooms.find((r) => r.room === 'general')?.online).toEqual(['alice', 'bob', 'dave']);
    const bob2Sees = onlineSeen(bob2.client, bob2.welcome, 'general');
    await bob.client.barrier();
    expect(bobSees()).toEqual(['alice', 'bob', 'carol']); // both notices were lost to node b

    await admin.call('ACL', 'SETUSER', 'nodeb', 'on');
    await Promise.all([
      bob.client.next('presence', (m) => m.user === 'carol' && !m.online),
      bob.client.next('presence', (m) => m.user === 'dave' && m.online),
    ]);
    await Promise.all([bob.client.barrier(), bob2.client.barrier()]);
    expect(bobSees()).toEqual(['alice', 'bob', 'dave']);
    expect(bob2Sees()).toEqual(['alice', 'bob', 'dave']);
    // Node b hears the room again: a later change reaches both tabs as usual.
    alice.client.ws.close();
    await bob.client.next('presence', (m) => m.user === 'alice' && !m.online);
    await bob2.client.next('presence', (m) => m.user === 'alice' && !m.online);
    expect(bobSees()).toEqual(['bob', 'dave']);
  });

  it('resyncs once the service is back when the store could not be read as the subscription came back', async () => {
    const { admin, b, onA, onB, join } = await twoNodes();
    const carol = await join(onA, await register(onA, 'carol'));
    const alice = await join(onA, await register(onA, 'alice'));
    const bob = await join(onB, await register(onB, 'bob'));
    const bobSees = onlineSeen(bob.client, bob.welcome, 'general');
    await alice.client.next('presence', (m) => m.user === 'bob' && m.online);

    await admin.call('ACL', 'SETUSER', 'nodeb', 'off');
    expect(await admin.call('CLIENT', 'KILL', 'USER', 'nodeb', 'TYPE', 'pubsub')).toBe(1);
    carol.client.ws.close();
    await alice.client.next('presence', (m) => m.user === 'carol' && !m.online);
    // Node b's first read of an online list once its subscriber is back fails as unavailable.
    const presence = b.backend.presence;
    const online = presence.online.bind(presence);
    let refuse: (() => void) | undefined;
    const refused = new Promise<void>((resolve) => {
      refuse = resolve;
    });
    presence.online = () => {
      presence.online = online;
      refuse?.();
      return Promise.reject(new UnavailableError('storage went away'));
    };
    await admin.call('ACL', 'SETUSER', 'nodeb', 'on');
    await refused;
    await bob.client.barrier();
    expect(bobSees()).toEqual(['alice', 'bob', 'carol']);

    // Node b's command connection drops and comes back: the service is back, the resync runs.
    expect(await admin.call('CLIENT', 'KILL', 'USER', 'nodeb', 'TYPE', 'normal')).toBe(2);
    await bob.client.next('service', (m) => m.available);
    await bob.client.next('presence', (m) => m.user === 'carol' && !m.online);
    await bob.client.barrier();
    expect(bobSees()).toEqual(['alice', 'bob']);
  });
});
