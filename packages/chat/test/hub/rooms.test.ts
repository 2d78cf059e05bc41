/**
 * Rooms: joining and leaving with the right notices, quotas and the paged room list, expiry of empty
 * rooms on a fake clock, deletion by the owner, private rooms and direct messages that never reach
 * anyone else (issue 15, items 4, 6 and 9).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryBus } from '../../src/server/backends/memory/bus.js';
import { ManualClock } from '../../src/server/clock.js';
import type { Connection } from '../../src/server/hub/connection.js';
import { LocalRooms, ROOMS_TOPIC } from '../../src/server/hub/local-rooms.js';
import { RETRY_DELAYS_MS } from '../../src/server/hub/rerun.js';
import type { Backend } from '../../src/server/ports.js';
import { PROTOCOL_VERSION, type ServerMessage } from '../../src/shared/protocol.js';
import { cleanup, register, startTestServer, TestClient } from '../helpers.js';

afterEach(cleanup);

const roomsOf = (messages: ServerMessage[]) =>
  new Set(messages.flatMap((m) => ('room' in m ? [m.room] : m.type === 'message' ? [m.message.room] : [])));

describe('joining and leaving', () => {
  it('create answers joined; join, leave and their notices are right, other tabs follow', async () => {
    const server = await startTestServer();
    const alice = await TestClient.user(server.origin, 'alice');
    const bobCookie = await register(server.origin, 'bob');
    const bob = (await TestClient.join(server.origin, bobCookie)).client;
    const bobTab2 = (await TestClient.join(server.origin, bobCookie)).client;
    await alice.next('presence', (m) => m.user === 'bob');

    expect(await alice.request('joined', { type: 'create', room: 'rust' })).toEqual({
      v: 2,
      type: 'joined',
      ref: 'r1',
      room: 'rust',
      kind: 'public',
      owner: 'alice',
      head: 0,
      unread: 0,
      mentions: 0,
      online: ['alice'],
    });
    expect(await alice.request('error', { type: 'create', room: 'rust' })).toMatchObject({
      code: 'room_exists',
    });
    expect(await alice.request('error', { type: 'join', room: 'nope' })).toMatchObject({
      code: 'no_such_room',
    });
    expect(await alice.request('error', { type: 'create', room: 'Bad Name' })).toMatchObject({
      code: 'bad_room_name',
    });

    const joined = await bob.request('joined', { type: 'join', room: 'rust' });
    expect(joined).toMatchObject({ room: 'rust', online: ['alice', 'bob'] });
    // bob's other tab enters too, without a ref.
    expect(await bobTab2.next('joined')).toMatchObject({ room: 'rust' });
    // Everyone in the room hears a member notice (the member's own connections too) and the
    // presence in the room; nobody hears "offline".
    expect(await alice.next('member')).toMatchObject({ room: 'rust', user: 'alice', joined: true });
    expect(await alice.next('member')).toEqual({
      v: 2,
      type: 'member',
      room: 'rust',
      user: 'bob',
      joined: true,
    });
    expect(await alice.next('presence', (m) => m.room === 'rust' && m.user === 'bob')).toMatchObject({
      user: 'bob',
      online: true,
    });

    expect(await bob.request('left', { type: 'leave', room: 'rust' })).toEqual({
      v: 2,
      type: 'left',
      ref: 'r2',
      room: 'rust',
    });
    expect(await bobTab2.next('left')).toEqual({ v: 2, type: 'left', room: 'rust' });
    expect(await alice.next('member')).toMatchObject({ user: 'bob', joined: false });
    expect(await alice.next('presence', (m) => m.room === 'rust' && m.user === 'bob')).toMatchObject({
      user: 'bob',
      online: false,
    });
    await alice.barrier();
    // bob stays online in general: nobody was told he went offline there.
    expect(alice.all('presence').filter((m) => m.room === 'general' && m.user === 'bob')).toEqual([]);
    // A request about the room he left is refused with its ref.
    expect(await bob.request('error', { type: 'read', room: 'rust', seq: 0 })).toMatchObject({
      code: 'not_member',
    });
  });

  it('counts unread messages for a returning member and moves the read marker', async () => {
    const server = await startTestServer();
    const alice = await TestClient.user(server.origin, 'alice');
    const bobCookie = await register(server.origin, 'bob');
    const bob = (await TestClient.join(server.origin, bobCookie)).client;
    await bob.close();
    for (let i = 1; i <= 3; i++)
      await alice.request('ack', { type: 'send', id: `u${i}`, room: 'general', text: `${i}` });
    const { client: back, welcome } = await TestClient.join(server.origin, bobCookie);
    expect(welcome.rooms).toEqual([
      {
        room: 'general',
        kind: 'public',
        owner: null,
        head: 3,
        unread: 3,
        mentions: 0,
        online: ['alice', 'bob'],
      },
    ]);
    expect(await back.request('read', { type: 'read', room: 'general', seq: 2 })).toMatchObject({ seq: 2 });
    expect(await back.request('read', { type: 'read', room: 'general', seq: 1 })).toMatchObject({ seq: 2 });
    const { welcome: again } = await TestClient.join(server.origin, bobCookie);
    expect(again.rooms[0].unread).toBe(1);
  });
});

describe('quotas and the room list', () => {
  it('caps memberships per user, rooms per owner and rooms in total', async () => {
    const server = await startTestServer({
      limits: { maxRoomsPerUser: 3, maxOwnedRooms: 2, maxRooms: 4, roomRate: { burst: 100, perSecond: 1 } },
    });
    const alice = await TestClient.user(server.origin, 'alice');
    const bob = await TestClient.user(server.origin, 'bob');
    await alice.request('joined', { type: 'create', room: 'a1' });
    await alice.request('joined', { type: 'create', room: 'a2' });
    expect(await alice.request('error', { type: 'create', room: 'a3' })).toMatchObject({
      code: 'too_many_rooms',
    });
    await alice.request('left', { type: 'leave', room: 'a2' });
    expect(await alice.request('error', { type: 'create', room: 'a3' })).toMatchObject({
      code: 'room_quota',
      message: 'you own 2 rooms, the most allowed',
    });
    await bob.request('joined', { type: 'create', room: 'b1' });
    expect(await bob.request('error', { type: 'create', room: 'b2' })).toMatchObject({
      code: 'room_quota',
      message: 'the server has 4 rooms, the most allowed',
    });
  });

  it('pages the public room list by name; private rooms and direct messages are not listed', async () => {
    const server = await startTestServer({
      limits: { roomsPage: 2, roomRate: { burst: 100, perSecond: 1 } },
    });
    const alice = await TestClient.user(server.origin, 'alice');
    await TestClient.user(server.origin, 'bob');
    for (const room of ['c', 'a', 'b']) await alice.request('joined', { type: 'create', room });
    await alice.request('joined', { type: 'create', room: 'secret', private: true });
    await alice.request('joined', { type: 'dm', user: 'bob' });
    const first = await alice.request('rooms', { type: 'rooms' });
    expect(first).toMatchObject({
      rooms: [
        { room: 'a', kind: 'public', members: 1 },
        { room: 'b', kind: 'public', members: 1 },
      ],
      next: 'b',
    });
    const second = await alice.request('rooms', { type: 'rooms', after: 'b' });
    expect(second).toMatchObject({ rooms: [{ room: 'c' }, { room: 'general', members: 2 }] });
    expect('next' in second).toBe(false);
  });

  it('deletes a room emptied longer than emptyRoomTtlMs, by the fake clock; general stays', async () => {
    const clock = new ManualClock();
    const server = await startTestServer({ clock, limits: { emptyRoomTtlMs: 60_000 } });
    const alice = await TestClient.user(server.origin, 'alice');
    await alice.request('joined', { type: 'create', room: 'brief' });
    await alice.request('ack', { type: 'send', id: 'b1', room: 'brief', text: 'soon gone' });
    await alice.request('left', { type: 'leave', room: 'brief' });
    await alice.request('left', { type: 'leave', room: 'general' });
    clock.advance(60_000);
    expect(await server.hub.sweep()).toEqual([]);
    clock.advance(1);
    expect(await server.hub.sweep()).toEqual(['brief']);
    expect(await alice.request('error', { type: 'join', room: 'brief' })).toMatchObject({
      code: 'no_such_room',
    });
    // The name is free again; its numbering continues (no seq is ever reused for the name).
    expect(await alice.request('joined', { type: 'create', room: 'brief' })).toMatchObject({ head: 1 });
    expect(await alice.request('joined', { type: 'join', room: 'general' })).toMatchObject({
      room: 'general',
    });
  });

  it('lets the owner delete a room: every member is told, its history is gone', async () => {
    const server = await startTestServer();
    const alice = await TestClient.user(server.origin, 'alice');
    const bob = await TestClient.user(server.origin, 'bob');
    await alice.request('joined', { type: 'create', room: 'tmp' });
    await bob.request('joined', { type: 'join', room: 'tmp' });
    expect(await bob.request('error', { type: 'delete_room', room: 'tmp' })).toMatchObject({
      code: 'forbidden',
    });
    expect(await alice.request('error', { type: 'delete_room', room: 'general' })).toMatchObject({
      code: 'forbidden',
    });
    expect(await alice.request('left', { type: 'delete_room', room: 'tmp' })).toMatchObject({
      room: 'tmp',
      reason: 'deleted',
    });
    expect(await bob.next('left')).toEqual({ v: 2, type: 'left', room: 'tmp', reason: 'deleted' });
    expect(await bob.request('error', { type: 'history', room: 'tmp' })).toMatchObject({
      code: 'not_member',
    });
  });
});

describe('general missing from the store (a Redis that came back empty)', () => {
  it('a create of it makes it again as the default room, ownerless, joining the user; a private one is refused', async () => {
    // Regression: the first user to `create general` after the store lost it owned it (and could
    // delete it, make it private, invite and remove) until a node restarted.
    const server = await startTestServer();
    const aliceCookie = await register(server.origin, 'alice');
    const bobCookie = await register(server.origin, 'bob');
    const lose = async () => expect(await server.backend.rooms.deleteRoom('general')).toBe(true);
    await lose();
    const alice = (await TestClient.join(server.origin, aliceCookie)).client;
    const bob = (await TestClient.join(server.origin, bobCookie)).client;
    expect(await alice.request('joined', { type: 'create', room: 'general' })).toMatchObject({
      type: 'joined',
      room: 'general',
      kind: 'public',
      owner: null,
    });
    expect(await server.backend.rooms.getRoom('general')).toMatchObject({ kind: 'public', owner: null });
    expect(await alice.request('error', { type: 'delete_room', room: 'general' })).toMatchObject({
      code: 'forbidden',
    });
    // There now: a create of it is refused as of any room that exists; joining it works.
    expect(await bob.request('error', { type: 'create', room: 'general' })).toMatchObject({
      code: 'room_exists',
    });
    expect(await bob.request('joined', { type: 'join', room: 'general' })).toMatchObject({ owner: null });
    // Missing again, asked for as a private room (one nobody else could see or join): made again as
    // the public default room, which is not what was asked for, so refused, the user not in it.
    await lose();
    expect(await bob.request('error', { type: 'create', room: 'general', private: true })).toMatchObject({
      code: 'room_exists',
      message: 'room general already exists',
    });
    expect(await server.backend.rooms.getRoom('general')).toMatchObject({ kind: 'public', owner: null });
    expect(await server.backend.rooms.isMember('bob', 'general')).toBe(false);
    expect(await bob.request('joined', { type: 'join', room: 'general' })).toMatchObject({ owner: null });
  });

  it('a join of it makes it again as the default room, not no_such_room', async () => {
    // Regression: a join of general after the store lost it answered no_such_room, where a create
    // of it made it again.
    const server = await startTestServer();
    const aliceCookie = await register(server.origin, 'alice');
    expect(await server.backend.rooms.deleteRoom('general')).toBe(true);
    const alice = (await TestClient.join(server.origin, aliceCookie)).client;
    expect(await alice.request('joined', { type: 'join', room: 'general' })).toMatchObject({
      type: 'joined',
      room: 'general',
      kind: 'public',
      owner: null,
    });
    expect(await server.backend.rooms.getRoom('general')).toMatchObject({ kind: 'public', owner: null });
    expect(await server.backend.rooms.isMember('alice', 'general')).toBe(true);
    // Any other missing room is still no_such_room.
    expect(await alice.request('error', { type: 'join', room: 'random' })).toMatchObject({
      code: 'no_such_room',
    });
  });
});

describe('a room deleted and created again under its name', () => {
  it('resuming from a seq of the deleted room answers reset, not the new room as its continuation', async () => {
    const server = await startTestServer();
    const alice = await TestClient.user(server.origin, 'alice');
    const bobCookie = await register(server.origin, 'bob');
    const bob = (await TestClient.join(server.origin, bobCookie)).client;
    await alice.request('joined', { type: 'create', room: 'tmp' });
    await bob.request('joined', { type: 'join', room: 'tmp' });
    await alice.request('ack', { type: 'send', id: 'a1', room: 'tmp', text: 'old one' });
    await alice.request('ack', { type: 'send', id: 'a2', room: 'tmp', text: 'old two' });
    await bob.next('message', (m) => m.message.seq === 2);
    // bob's tab holds tmp up to seq 2 and goes away; meanwhile the room is deleted, created again
    // (its numbering continues after 2) and bob joins it from another device.
    await bob.close();
    await alice.request('left', { type: 'delete_room', room: 'tmp' });
    await alice.request('joined', { type: 'create', room: 'tmp' });
    const other = (await TestClient.join(server.origin, bobCookie)).client;
    expect(await other.request('joined', { type: 'join', room: 'tmp' })).toMatchObject({ head: 2 });
    await alice.request('ack', { type: 'send', id: 'a3', room: 'tmp', text: 'new three' });

    // The tab comes back naming seq 2 of the old room. The events after it are the new room's,
    // but the messages up to it are gone: the tab must drop what it holds (reset), not continue.
    const back = await TestClient.connect(server.origin, bobCookie);
    back.send({ v: 2, type: 'hello', ref: 'h', rooms: { tmp: 2 } });
    expect(await back.next('reset', (m) => m.room === 'tmp')).toMatchObject({ ref: 'h', head: 3 });
    await back.barrier();
    expect(back.all('synced').filter((m) => m.room === 'tmp')).toEqual([]);
    // So does a sync from there; one from a seq of the new room is a plain replay.
    expect(await back.request('reset', { type: 'sync', room: 'tmp', after: 2 })).toMatchObject({
      type: 'reset',
      head: 3,
    });
    expect(await back.request('synced', { type: 'sync', room: 'tmp', after: 3 })).toMatchObject({
      type: 'synced',
      head: 3,
    });
  });
});

describe('private rooms and direct messages', () => {
  it('a private room is invisible to outsiders; the owner invites; its events reach members only', async () => {
    const server = await startTestServer();
    const alice = await TestClient.user(server.origin, 'alice');
    const bobCookie = await register(server.origin, 'bob');
    const bob = (await TestClient.join(server.origin, bobCookie)).client;
    const eve = await TestClient.user(server.origin, 'eve');
    expect(await alice.request('joined', { type: 'create', room: 'plans', private: true })).toMatchObject({
      kind: 'private',
      owner: 'alice',
    });
    await alice.request('ack', { type: 'send', id: 'p1', room: 'plans', text: 'for members' });
    // To eve the room does not exist: joining, reading, posting and listing all fail the same way.
    expect(await eve.request('error', { type: 'join', room: 'plans' })).toMatchObject({
      code: 'no_such_room',
    });
    expect(await eve.request('error', { type: 'history', room: 'plans' })).toMatchObject({
      code: 'not_member',
    });
    expect(await eve.request('error', { type: 'sync', room: 'plans', after: 0 })).toMatchObject({
      code: 'not_member',
    });
    expect(await eve.request('error', { type: 'invite', room: 'plans', user: 'eve' })).toMatchObject({
      code: 'not_member',
    });
    expect((await eve.request('rooms', { type: 'rooms' })) as { rooms: { room: string }[] }).toMatchObject({
      rooms: [{ room: 'general' }],
    });
    expect(await alice.request('error', { type: 'invite', room: 'plans', user: 'nobody' })).toMatchObject({
      code: 'no_such_user',
    });
    expect(await alice.request('invited', { type: 'invite', room: 'plans', user: 'BOB' })).toMatchObject({
      room: 'plans',
      user: 'bob',
    });
    // bob's open connection is told of the invitation; he is not in the room until he accepts.
    expect(await bob.next('invitation')).toEqual({
      v: 2,
      type: 'invitation',
      room: 'plans',
      by: 'alice',
      ts: expect.any(Number),
    });
    expect(await bob.request('error', { type: 'history', room: 'plans' })).toMatchObject({
      code: 'not_member',
    });
    expect(await bob.request('joined', { type: 'accept', room: 'plans' })).toMatchObject({
      room: 'plans',
      kind: 'private',
      head: 1,
    });
    expect(await bob.request('history', { type: 'history', room: 'plans' })).toMatchObject({
      messages: [{ text: 'for members' }],
    });
    expect(await bob.request('error', { type: 'invite', room: 'plans', user: 'eve' })).toMatchObject({
      code: 'forbidden',
    });
    await bob.request('ack', { type: 'send', id: 'b1', room: 'plans', text: 'thanks' });
    await alice.next('message', (m) => m.message.id === 'b1');
    await eve.barrier();
    expect(roomsOf(eve.messages).has('plans')).toBe(false);
    const { welcome } = await TestClient.join(server.origin, bobCookie);
    expect(welcome.rooms.map((r) => r.room)).toEqual(['general', 'plans']);
  });

  it('inviting a member, or oneself, is refused already_member: nothing done, no notice', async () => {
    // Regression: both were answered `invited`, as if someone had been let in, so the page could
    // not tell the owner that nothing happened.
    const server = await startTestServer();
    const alice = await TestClient.user(server.origin, 'alice');
    const bob = await TestClient.user(server.origin, 'bob');
    await alice.request('joined', { type: 'create', room: 'plans', private: true });
    await alice.request('invited', { type: 'invite', room: 'plans', user: 'bob' });
    await bob.request('joined', { type: 'accept', room: 'plans' });
    await alice.next('member', (m) => m.user === 'bob');
    expect(await alice.request('error', { type: 'invite', room: 'plans', user: 'BOB' })).toEqual({
      v: 2,
      type: 'error',
      ref: 'r3',
      code: 'already_member',
      message: 'bob is already in room plans',
    });
    expect(await alice.request('error', { type: 'invite', room: 'plans', user: 'Alice' })).toEqual({
      v: 2,
      type: 'error',
      ref: 'r4',
      code: 'already_member',
      message: 'you are already in room plans',
    });
    // No second member notice or joined (the first ones were taken above): the barriers prove
    // nothing else arrived meanwhile.
    await alice.barrier();
    await bob.barrier();
    expect(alice.messages.filter((m) => m.type === 'member' && m.user === 'bob')).toEqual([]);
    expect(bob.messages.filter((m) => m.type === 'joined' && m.room === 'plans')).toEqual([]);
  });

  it('a direct message is one room for two users, whoever starts it; nobody else can enter it', async () => {
    const server = await startTestServer();
    const alice = await TestClient.user(server.origin, 'Alice');
    const bob = await TestClient.user(server.origin, 'bob');
    const eve = await TestClient.user(server.origin, 'eve');
    const opened = await alice.request('joined', { type: 'dm', user: 'bob' });
    expect(opened).toMatchObject({ room: 'dm:alice:bob', kind: 'dm', owner: null });
    expect(await bob.next('joined')).toMatchObject({ room: 'dm:alice:bob', kind: 'dm' });
    expect(await bob.request('joined', { type: 'dm', user: 'alice' })).toMatchObject({
      room: 'dm:alice:bob',
    });
    await alice.request('ack', { type: 'send', id: 'd1', room: 'dm:alice:bob', text: 'psst' });
    expect(await bob.next('message')).toMatchObject({ message: { room: 'dm:alice:bob', text: 'psst' } });
    expect(await eve.request('error', { type: 'join', room: 'dm:alice:bob' })).toMatchObject({
      code: 'bad_room_name',
    });
    expect(await eve.request('error', { type: 'history', room: 'dm:alice:bob' })).toMatchObject({
      code: 'not_member',
    });
    expect(await alice.request('error', { type: 'dm', user: 'alice' })).toMatchObject({
      code: 'bad_message',
    });
    expect(await alice.request('error', { type: 'dm', user: 'nobody' })).toMatchObject({
      code: 'no_such_user',
    });
    await eve.barrier();
    expect(roomsOf(eve.messages).has('dm:alice:bob')).toBe(false);
  });
});

describe('a room named after what every object inherits', () => {
  it('an invitation to a room named `constructor` does not stop the invitee from ever saying hello', async () => {
    // Regression: the hello looked rooms up in its `rooms` and `tags` objects by plain indexing,
    // so `constructor` found Object's constructor: every hello of a member of such a room failed
    // `internal`, and the member stayed not_ready (not even able to leave it), once a stranger
    // had created one and invited them.
    const server = await startTestServer();
    const eve = await TestClient.user(server.origin, 'eve');
    const bobCookie = await register(server.origin, 'bob');
    await eve.request('joined', { type: 'create', room: 'constructor', private: true });
    await eve.request('ack', { type: 'send', id: 'e1', room: 'constructor', text: 'hi' });
    await eve.request('invited', { type: 'invite', room: 'constructor', user: 'bob' });
    const first = await TestClient.join(server.origin, bobCookie);
    expect(first.welcome.invitations).toEqual([{ room: 'constructor', by: 'eve', ts: expect.any(Number) }]);
    await first.client.request('joined', { type: 'accept', room: 'constructor' });
    first.client.ws.close();
    const hellos: (Record<string, number> | undefined)[] = [undefined, { general: 0 }, { constructor: 0 }];
    for (const rooms of hellos) {
      const { client, welcome } = await TestClient.join(server.origin, bobCookie, rooms);
      expect(welcome.rooms.map((r) => r.room)).toEqual(['constructor', 'general']);
      expect(await client.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });
      expect(client.messages.filter((m) => m.type === 'error')).toEqual([]);
      client.ws.close();
    }
  });
});

describe('a deleted room with many members', () => {
  it('is told in one notice on the rooms topic, not one per member, and every connection in it hears it', async () => {
    const server = await startTestServer();
    const alice = await TestClient.user(server.origin, 'alice');
    const bob = await TestClient.user(server.origin, 'bob');
    await alice.request('joined', { type: 'create', room: 'big' });
    await bob.request('joined', { type: 'join', room: 'big' });
    // Members with no connection (offline users): the deletion need not publish anything for them.
    for (let i = 0; i < 200; i++) expect(await server.backend.rooms.join(`u${i}`, 'big', 99)).toBe('joined');
    const topics: string[] = [];
    const publish = server.backend.bus.publish.bind(server.backend.bus);
    server.backend.bus.publish = (topic, payload) => {
      topics.push(topic);
      publish(topic, payload);
    };
    expect(await alice.request('left', { type: 'delete_room', room: 'big' })).toMatchObject({
      room: 'big',
      reason: 'deleted',
    });
    expect(await bob.next('left')).toEqual({ v: 2, type: 'left', room: 'big', reason: 'deleted' });
    expect(topics.filter((t) => t === ROOMS_TOPIC)).toHaveLength(1);
    expect(topics.filter((t) => t.startsWith('user:'))).toEqual([]);
    // alice's own connection was taken out by the deletion itself (its answer, consumed above):
    // the notice gives it no second `left`.
    await alice.barrier();
    expect(alice.all('left')).toEqual([]);
  });
});

/**
 * LocalRooms on a fake backend whose room online list is `online()`; what it publishes (the
 * payloads) is collected in `published`.
 */
function localRoomsReading(online: () => Promise<string[]>) {
  const backend = {
    bus: new MemoryBus(),
    events: { open: async () => 0, close: () => {} },
    presence: { add: async () => false, remove: async () => false, online },
  } as unknown as Backend;
  const published: string[] = [];
  const rooms = new LocalRooms(
    backend,
    (_topic, payload) => published.push(payload),
    () => {},
  );
  return { rooms, published };
}

describe('presence resync (LocalRooms.resyncPresence)', () => {
  it('a channel dropped while its online list is read tells nothing: a new channel of the room has the topic', async () => {
    let release!: (online: string[]) => void;
    const read = new Promise<string[]>((resolve) => {
      release = resolve;
    });
    const { rooms, published } = localRoomsReading(() => read);
    const conn = (user: string) => ({ user, id: user, rooms: new Map() }) as unknown as Connection;
    const alice = conn('alice');
    const old = await rooms.enter(alice, 'general');
    old.channel.listed([]); // alice's welcome said nobody was online
    const resync = rooms.resyncPresence(); // reads the store's list: bob online, at that moment
    await rooms.exit(alice, 'general'); // the channel is dropped while the read is out
    const fresh = await rooms.enter(conn('carol'), 'general');
    expect(fresh.channel).not.toBe(old.channel);
    // bob goes offline meanwhile: the new channel hears it, the dropped one cannot.
    release(['bob']);
    await resync;
    // A `presence bob online` from the dropped channel would reach carol on the room's topic, wrong for good.
    expect(published).toEqual([]);
  });
});

describe('presence resync that could not read the store (fake setTimeout)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** LocalRooms on a fake backend whose online list fails `failures` times, then says bob. */
  async function roomsFailingReads(failures: number) {
    let reads = 0;
    const { rooms, published } = localRoomsReading(async () => {
      if (reads++ < failures) throw new Error('READONLY'); // one command refused: no outage
      return ['bob'];
    });
    const cr = await rooms.enter(
      { user: 'alice', id: 'alice', rooms: new Map() } as unknown as Connection,
      'general',
    );
    cr.channel.listed([]); // alice's welcome said nobody was online
    return { rooms, published, reads: () => reads };
  }

  it('runs again after 1 s when it failed with no outage marked (no `service` will come)', async () => {
    // Regression: a resync whose read failed waited for the service to be back, which a one-off
    // failure never marks; bob stayed offline on this node's pages until some later outage.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { rooms, published, reads } = await roomsFailingReads(1);
    await rooms.resyncPresence();
    expect(reads()).toBe(1);
    expect(published).toEqual([]);
    expect(rooms.resyncRetryScheduled).toBe(true);
    await vi.advanceTimersByTimeAsync(RETRY_DELAYS_MS[0]);
    expect(reads()).toBe(2);
    expect(published.map((p) => JSON.parse(p))).toEqual([
      { v: PROTOCOL_VERSION, type: 'presence', room: 'general', user: 'bob', online: true },
    ]);
    expect(rooms.resyncRetryScheduled).toBe(false);
  });

  it('a newer resync supersedes the pending retry, and close() ends it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { rooms, reads } = await roomsFailingReads(3);
    await rooms.resyncPresence();
    await rooms.resyncPresence(); // the bus came back again: its own run, not one more from the timer
    expect(reads()).toBe(2);
    expect(vi.getTimerCount()).toBe(1);
    rooms.close();
    expect(rooms.resyncRetryScheduled).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(3_600_000);
    rooms.serviceBack();
    expect(reads()).toBe(2);
  });
});
