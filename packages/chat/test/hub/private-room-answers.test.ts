/**
 * What an outsider learns of a private room and its invitations (docs/chat-protocol.md, "Rooms"):
 * every request about it is answered as for a room that never existed, whoever is invited to it,
 * and nothing of it reaches them. And the reopening of a closed direct message (membership.ts,
 * reopenDm) keeps to the other user's cap on DMs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientMessage, ServerMessage } from '../../src/shared/protocol.js';
import { cleanup, register, startTestServer, TestClient } from '../helpers.js';

afterEach(cleanup);

const fast = {
  roomRate: { burst: 1000, perSecond: 1000 },
  requestRate: { burst: 1000, perSecond: 1000 },
  messageRate: { burst: 1000, perSecond: 1000 },
};

/** The request about `room`, every field an outsider could send. */
const about = (room: string): ClientMessage[] => [
  { v: 2, type: 'join', room },
  { v: 2, type: 'accept', room },
  { v: 2, type: 'decline', room },
  { v: 2, type: 'invite', room, user: 'carol' },
  { v: 2, type: 'remove', room, user: 'carol' },
  { v: 2, type: 'delete_room', room },
  { v: 2, type: 'members', room },
  { v: 2, type: 'history', room },
  { v: 2, type: 'leave', room },
  { v: 2, type: 'send', room, id: 'e1', text: 'hello?' },
  { v: 2, type: 'react', room, target: 1, emoji: '👍', on: true },
];

/** The answer without its ref, the room's name written as `ROOM`. */
async function answer(client: TestClient, request: ClientMessage, room: string): Promise<string> {
  const reply = await client.request(request.type as ServerMessage['type'], request);
  const { ref: _ref, ...rest } = reply as ServerMessage & { ref?: string };
  return JSON.stringify(rest).replaceAll(room, 'ROOM');
}

describe('a private room seen from outside', () => {
  it('answers every request as for a room that never was, with invitations pending and declined', async () => {
    const server = await startTestServer({ limits: fast });
    const alice = await TestClient.user(server.origin, 'alice');
    const carol = await TestClient.user(server.origin, 'carol');
    const eve = await TestClient.user(server.origin, 'eve');
    await register(server.origin, 'dave');
    await alice.request('joined', { type: 'create', room: 'secret', private: true });
    await alice.request('ack', { type: 'send', room: 'secret', id: 'a1', text: 'plans' });
    await alice.request('invited', { type: 'invite', room: 'secret', user: 'carol' });
    await alice.request('invited', { type: 'invite', room: 'secret', user: 'dave' });
    await carol.next('invitation', (m) => m.room === 'secret');

    const missing = [];
    for (const request of about('nosuch')) missing.push(await answer(eve, request, 'nosuch'));
    const hidden = [];
    for (const request of about('secret')) hidden.push(await answer(eve, request, 'secret'));
    expect(hidden).toEqual(missing);
    expect(missing.every((a) => a.includes('"type":"error"'))).toBe(true);

    // The invitees' choices change nothing for eve either: carol declines, then eve asks again.
    await carol.request('uninvited', { type: 'decline', room: 'secret' });
    const after = [];
    for (const request of about('secret')) after.push(await answer(eve, request, 'secret'));
    expect(after).toEqual(missing);
    // The room is untouched (to its owner carol's declined invitation is pending until it expires),
    // and nothing of it reached eve.
    expect(await server.backend.rooms.invitees('secret')).toEqual(['carol', 'dave']);
    expect(await server.backend.rooms.invitations('carol', 0)).toEqual([]);
    expect((await eve.barrier()).filter((m) => JSON.stringify(m).includes('secret'))).toEqual([]);
    expect(await alice.request('members', { type: 'members', room: 'secret' })).toMatchObject({
      members: ['alice'],
    });
  });
});

describe('a closed direct message reopened by a message', () => {
  it('does not put the other user past their cap on DMs; the message is stored for later', async () => {
    const server = await startTestServer({ limits: { ...fast, maxDmsPerUser: 2 } });
    const alice = await TestClient.user(server.origin, 'alice');
    const bob = await TestClient.user(server.origin, 'bob');
    await register(server.origin, 'p1');
    await register(server.origin, 'p2');
    const room = 'dm:alice:bob';
    await alice.request('joined', { type: 'dm', user: 'bob' });
    await bob.next('joined', (m) => m.room === room);
    // bob closes it, then fills his cap with two other conversations.
    await bob.request('left', { type: 'leave', room });
    await bob.request('joined', { type: 'dm', user: 'p1' });
    await bob.request('joined', { type: 'dm', user: 'p2' });

    expect(await alice.request('ack', { type: 'send', room, id: 'a1', text: 'still there?' })).toMatchObject({
      type: 'ack',
      seq: 1,
    });
    const dms = (await server.backend.rooms.memberships('bob')).filter((m) => m.kind === 'dm');
    expect(dms.map((m) => m.room).sort()).toEqual(['dm:bob:p1', 'dm:bob:p2']);
    // Not added back: no `joined` for it after his leave, nor the message.
    const since = await bob.barrier();
    const left = since.findIndex((m) => m.type === 'left' && m.room === room);
    expect(since.slice(left + 1).filter((m) => m.type === 'joined' && m.room === room)).toEqual([]);
    expect(since.filter((m) => m.type === 'message' && m.message.room === room)).toEqual([]);
    // Once he has room for it, he opens it and finds the message.
    await bob.request('left', { type: 'leave', room: 'dm:bob:p2' });
    expect(await bob.request('joined', { type: 'dm', user: 'alice' })).toMatchObject({ room, head: 1 });
  });
});
