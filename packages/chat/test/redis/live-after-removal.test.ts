/**
 * A removed user's connection on another node gets no event written after the removal, however late
 * the removal's bus notice comes (the change is an entry of the room's stream, read in order with
 * its events: events.ts, store.ts LOG_CHANGE). Two nodes sharing Redis: alice on the first, bob and
 * carol on the second (TestClient.planAndLounge, plus carol). bob's membership is dropped through
 * the first node's store directly, so no bus notice goes out at all (held back for good); alice
 * then writes. carol, on bob's node, gets every one of those events once, and so does alice; bob
 * gets none of them, and is told `left` (reason `removed`) instead. The notice delivered late after
 * that changes nothing (no second `left`). A room deleted without its notice and created again under
 * its name: the old room's connections on the other node get none of the new room's events.
 */
import { describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../src/shared/protocol.js';
import { register, TestClient } from '../helpers.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

/** The ids of the room's messages among `messages`. */
const idsIn = (messages: ServerMessage[], room: string) =>
  messages.flatMap((m) => (m.type === 'message' && m.message.room === room ? [m.message.id] : []));

async function twoNodes(prefix: string) {
  const nodes = await startChatServersOnRedis(2, {
    url: redis().url,
    prefix,
    limits: { messageRate: { burst: 1000, perSecond: 1000 } },
  });
  servers.push(...nodes);
  const origins = nodes.map((node) => node.url.replace(/\/$/, ''));
  const track = (c: TestClient) => clients.push(c);
  const { alice, bob } = await TestClient.planAndLounge(origins, track);
  const carol = (await TestClient.join(origins[1], await register(origins[1], 'carol'))).client;
  track(carol);
  expect(await alice.request('invited', { type: 'invite', room: 'plans', user: 'carol' })).toMatchObject({
    type: 'invited',
  });
  await carol.request('joined', { type: 'accept', room: 'plans' });
  expect(await carol.request('joined', { type: 'join', room: 'lounge' })).toMatchObject({ room: 'lounge' });
  return { nodes, alice, bob, carol };
}

describe('live events after a removal whose notice is held back, on two nodes', () => {
  it('reach the remaining members once each and never the removed user; the late notice changes nothing', async () => {
    const { nodes, alice, bob, carol } = await twoNodes('live-removal:');
    for (const room of ['plans', 'lounge']) {
      const before = { type: 'send', id: `${room}-a0`, room, text: 'before' };
      expect(await alice.request('ack', before)).toMatchObject({ type: 'ack' });
      for (const c of [alice, bob, carol]) await c.next('message', (m) => m.message.id === before.id);

      // Out in the store, with the stream entry; no bus notice at all.
      expect(await nodes[0].backend.rooms.leave('bob', room, Date.now(), 'removed')).toBe(true);
      const after = [1, 2, 3].map((i) => ({ type: 'send', id: `${room}-a${i}`, room, text: `after ${i}` }));
      for (const m of after) expect(await alice.request('ack', m)).toMatchObject({ type: 'ack' });
      for (const m of after) {
        await carol.next('message', (e) => e.message.id === m.id);
        await alice.next('message', (e) => e.message.id === m.id);
      }
      // Everything node 1 wrote to bob before carol's last event is in by now (same channel, and
      // bob's pong comes after it on his socket).
      await bob.barrier();
      expect(idsIn(bob.messages, room)).toEqual([]);
      expect(bob.all('left').filter((m) => m.room === room)).toEqual([
        { v: 2, type: 'left', room, reason: 'removed' },
      ]);
      // Exactly once on the members' side: nothing of the room left unconsumed.
      await carol.barrier();
      await alice.barrier();
      expect(idsIn(carol.messages, room)).toEqual([]);
      expect(idsIn(alice.messages, room)).toEqual([]);

      // The notices, delivered late, as the hub publishes them: bob's connection is out already.
      nodes[0].backend.bus.publish('user:bob', JSON.stringify({ op: 'left', room, reason: 'removed' }));
      const member = { v: 2, type: 'member', room, user: 'bob', joined: false } as const;
      nodes[0].backend.bus.publish(`room:${room}`, JSON.stringify(member));
      // Pub/sub keeps publish order on node 1's one subscriber connection: once carol has the
      // room's notice, node 1 has handled bob's.
      await carol.next('member', (m) => m.room === room && m.user === 'bob' && !m.joined);
      await bob.barrier();
      expect(bob.all('left').filter((m) => m.room === room)).toHaveLength(1);
      // The room's notice of his leaving: once, as his node told it with `left`, not again.
      expect(bob.all('member').filter((m) => m.room === room && m.user === 'bob' && !m.joined)).toHaveLength(
        1,
      );
    }
    // bob, on the same node, still gets what concerns him: a new invitation brings him back live.
    expect(await alice.request('invited', { type: 'invite', room: 'plans', user: 'bob' })).toMatchObject({
      type: 'invited',
    });
    await bob.request('joined', { type: 'accept', room: 'plans' });
    const back = { type: 'send', id: 'plans-back', room: 'plans', text: 'welcome back' };
    expect(await alice.request('ack', back)).toMatchObject({ type: 'ack' });
    await bob.next('message', (m) => m.message.id === back.id);
    await carol.next('message', (m) => m.message.id === back.id);
  });

  it('a room deleted without its notice and created again: its old connections get none of the new room', async () => {
    const { nodes, alice, bob } = await twoNodes('live-deleted:');
    const origins = nodes.map((node) => node.url.replace(/\/$/, ''));
    // Never in the deleted room: dave creates the new one on the first node, erin is in it on the
    // second (the witness that node 1 has published the new room's events).
    const dave = (await TestClient.join(origins[0], await register(origins[0], 'dave'))).client;
    const erin = (await TestClient.join(origins[1], await register(origins[1], 'erin'))).client;
    clients.push(dave, erin);
    // Deleted in the store, with the stream entry; no `rooms` notice.
    expect(await nodes[0].backend.rooms.deleteRoom('plans')).toBe(true);
    expect(await dave.request('joined', { type: 'create', room: 'plans', private: true })).toMatchObject({
      kind: 'private',
    });
    expect(await dave.request('invited', { type: 'invite', room: 'plans', user: 'erin' })).toMatchObject({
      type: 'invited',
    });
    await erin.request('joined', { type: 'accept', room: 'plans' });
    const sent = [1, 2].map((i) => ({ type: 'send', id: `new-${i}`, room: 'plans', text: `new ${i}` }));
    for (const m of sent) expect(await dave.request('ack', m)).toMatchObject({ type: 'ack' });
    for (const m of sent) {
      await erin.next('message', (e) => e.message.id === m.id);
      await dave.next('message', (e) => e.message.id === m.id);
    }
    for (const c of [alice, bob, erin, dave]) await c.barrier();
    // The old room's connections, on either node: none of the new room's events, told `left`.
    for (const c of [alice, bob]) {
      expect(idsIn(c.messages, 'plans')).toEqual([]);
      expect(c.all('left').filter((m) => m.room === 'plans')).toEqual([
        { v: 2, type: 'left', room: 'plans', reason: 'deleted' },
      ]);
    }
    // The new room's members: each event once.
    expect(idsIn(erin.messages, 'plans')).toEqual([]);
    expect(idsIn(dave.messages, 'plans')).toEqual([]);
  });
});
