/**
 * Room topics (hub/topics.ts): the scenario, run on one SQLite node (test/hub/topics.test.ts) and on
 * two nodes sharing Redis (test/redis/topics.test.ts). With two, alice (the owner) is on the first
 * node and bob's two tabs on both, so one of his tabs hears of the change from the other node.
 *
 * Every refusal first (each stores nothing: no event on any socket, no topic in `rooms`); then
 * alice sets the topic (trimmed): one `topic` event on every socket of the room, the listing,
 * `joined` and `welcome` carry it; the same text again is acknowledged `duplicate` and stores
 * nothing; it is not unread (nor a mention) to bob; a resume from before it replays it once; in a
 * direct message either user may; "" clears it; a room deleted and made again has none.
 */
import { expect } from 'vitest';
import { MAX_TOPIC_CHARS } from '../../src/shared/protocol.js';
import { login, register, TestClient } from '../helpers.js';

const error = (code: string, message?: string) => ({ type: 'error', code, ...(message ? { message } : {}) });

export async function topicScenario(origins: string[], track: (c: TestClient) => void): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const alice = (await join(0, await register(on(0), 'alice'))).client;
  const bobCookie = await register(on(1), 'bob');
  const bobTab1 = (await join(1, bobCookie)).client;
  const bobTab2 = (await join(0, bobCookie)).client;
  const eve = (await join(1, await register(on(1), 'eve'))).client;
  const carolCookie = await register(on(0), 'carol');

  expect(await alice.request('joined', { type: 'create', room: 'lobby' })).toMatchObject({ owner: 'alice' });
  expect(await bobTab1.request('joined', { type: 'join', room: 'lobby' })).toMatchObject({ room: 'lobby' });
  await bobTab2.next('joined', (m) => m.room === 'lobby');
  expect(await eve.request('joined', { type: 'join', room: 'lobby' })).toMatchObject({ room: 'lobby' });
  const sent = await alice.request('ack', { type: 'send', id: 'm1', room: 'lobby', text: 'hi' });
  if (sent.type !== 'ack') throw new Error(`send refused: ${JSON.stringify(sent)}`);
  const everyone = [alice, bobTab1, bobTab2, eve];
  for (const c of everyone) await c.next('message', (m) => m.message.room === 'lobby');

  // Refusals, each storing nothing.
  const topic = (c: TestClient, room: string, text: string) =>
    c.request('ack', { type: 'topic', room, text });
  expect(await topic(eve, 'lobby', 'mine now')).toMatchObject(
    error('forbidden', 'only the owner of a room can set its topic'),
  );
  expect(await topic(alice, 'general', 'Everyone')).toMatchObject(error('forbidden'));
  expect(await topic(alice, 'lobby', 'x'.repeat(MAX_TOPIC_CHARS + 1))).toMatchObject(
    error('bad_message', `text is longer than ${MAX_TOPIC_CHARS} characters`),
  );
  expect(await topic(alice, 'lobby', 'two\nlines')).toMatchObject(
    error('bad_message', 'text must be one line without control characters'),
  );
  expect(await topic(alice, 'lobby', 'a\u0007bell')).toMatchObject(error('bad_message'));
  expect(await topic(alice, 'lobby', '\u200B')).toMatchObject(
    error('bad_message', 'text must be visible text, or "" to clear it'),
  );
  expect(await topic(alice, 'nowhere', 'x')).toMatchObject(error('not_member'));
  for (const c of everyone) {
    await c.barrier();
    expect(c.all('topic')).toEqual([]);
  }
  const listed = async (c: TestClient) => {
    const rooms = await c.request('rooms', { type: 'rooms' });
    if (rooms.type !== 'rooms') throw new Error(`rooms refused: ${JSON.stringify(rooms)}`);
    return rooms.rooms.find((r) => r.room === 'lobby');
  };
  expect(await listed(eve)).toEqual({ room: 'lobby', kind: 'public', members: 3 });

  // Set (trimmed, at its longest): one event on every socket of every node, with the room's next seq.
  const text = `Plans for Friday ${'é'.repeat(MAX_TOPIC_CHARS - 17)}`;
  const ack = await topic(alice, 'lobby', `  ${text}\u00A0 `);
  expect(ack).toMatchObject({ type: 'ack', room: 'lobby', seq: sent.seq + 1 });
  expect(ack).not.toHaveProperty('duplicate');
  for (const c of everyone)
    expect(await c.next('topic', (m) => m.room === 'lobby')).toMatchObject({
      v: 2,
      type: 'topic',
      room: 'lobby',
      seq: sent.seq + 1,
      user: 'alice',
      text,
    });
  // The same again: acknowledged, nothing stored, nothing sent.
  expect(await topic(alice, 'lobby', text)).toMatchObject({
    type: 'ack',
    seq: sent.seq + 1,
    duplicate: true,
  });
  for (const c of everyone) {
    await c.barrier();
    expect(c.all('topic')).toEqual([]);
  }
  expect(await listed(eve)).toEqual({ room: 'lobby', kind: 'public', members: 3, topic: text });

  // joined and welcome carry it; it is no unread message (nor a mention) to bob.
  const carol = (await join(1, carolCookie)).client;
  expect(await carol.request('joined', { type: 'join', room: 'lobby' })).toMatchObject({
    room: 'lobby',
    topic: text,
  });
  const bobMarker = await bobTab1.request('read', { type: 'read', room: 'lobby', seq: sent.seq });
  expect(bobMarker).toMatchObject({ seq: sent.seq });
  const { client: bobTab3, welcome } = await join(1, await login(on(1), 'bob'));
  expect(welcome.rooms.find((r) => r.room === 'lobby')).toMatchObject({
    topic: text,
    head: sent.seq + 1,
    unread: 0,
    mentions: 0,
  });
  expect(welcome.rooms.find((r) => r.room === 'general')).not.toHaveProperty('topic');

  // A resume from before it replays it once, in order.
  const resumed = await TestClient.connect(on(0), bobCookie);
  track(resumed);
  resumed.send({ v: 2, type: 'hello', rooms: { lobby: sent.seq - 1 } });
  await resumed.next('welcome');
  await resumed.next('synced', (m) => m.room === 'lobby');
  await resumed.barrier();
  expect(resumed.all('topic')).toMatchObject([{ room: 'lobby', seq: sent.seq + 1, text }]);
  await resumed.next('topic');
  expect(resumed.all('message').map((m) => m.message.seq)).toEqual([sent.seq]);
  await bobTab3.barrier();
  expect(bobTab3.all('topic')).toEqual([]);

  // In a direct message either user may; cleared with "".
  const dm = await bobTab1.request('joined', { type: 'dm', user: 'eve' });
  if (dm.type !== 'joined') throw new Error(`dm refused: ${JSON.stringify(dm)}`);
  expect(await eve.next('joined', (m) => m.room === dm.room)).not.toHaveProperty('topic');
  expect(await topic(eve, dm.room, 'Our trip')).toMatchObject({ type: 'ack' });
  expect(await bobTab1.next('topic', (m) => m.room === dm.room)).toMatchObject({
    user: 'eve',
    text: 'Our trip',
  });
  expect(await topic(bobTab1, dm.room, '')).toMatchObject({ type: 'ack' });
  expect(await eve.next('topic', (m) => m.room === dm.room && m.text === '')).toMatchObject({ user: 'bob' });

  expect(await topic(alice, 'lobby', '')).toMatchObject({ type: 'ack', seq: sent.seq + 2 });
  for (const c of [...everyone, carol, bobTab3, resumed])
    expect(await c.next('topic', (m) => m.room === 'lobby')).toMatchObject({ seq: sent.seq + 2, text: '' });
  expect(await listed(eve)).toEqual({ room: 'lobby', kind: 'public', members: 4 });
  const { welcome: after } = await join(0, await login(on(0), 'eve'));
  expect(after.rooms.find((r) => r.room === 'lobby')).not.toHaveProperty('topic');

  // The topic goes with the room.
  expect(await topic(alice, 'lobby', 'Soon gone')).toMatchObject({ type: 'ack' });
  expect(await alice.request('left', { type: 'delete_room', room: 'lobby' })).toMatchObject({
    reason: 'deleted',
  });
  expect(await alice.request('joined', { type: 'create', room: 'lobby' })).not.toHaveProperty('topic');
}
