/**
 * The store checks membership with every write (ports.ts `not_member`), not only the connection's
 * room set: the scenario, run on one SQLite node (test/hub/write-after-removal.test.ts) and on two
 * nodes sharing Redis (test/redis/write-after-removal.test.ts).
 *
 * A connection learns that its user left or was removed only when the news reaches it (the user's
 * channel; on Redis, through pub/sub from another node). The window is held open for good here:
 * `dropMembership` removes bob's membership in the store directly, so no notice is ever sent and
 * his connection still lists the room. His writes there (send, reply, edit, delete, react) get
 * `not_member` as if he were out, nothing is stored or delivered, and the resend of his message
 * stored before is still acknowledged as its duplicate. alice, a member, writes as before. Both a
 * private room and a public one (whose membership is stored as well).
 */
import { expect } from 'vitest';
import { TestClient } from '../helpers.js';

export async function writeAfterRemoval(
  origins: string[],
  dropMembership: (user: string, room: string) => Promise<boolean>,
  track: (c: TestClient) => void,
): Promise<void> {
  const { alice, bob } = await TestClient.planAndLounge(origins, track);

  for (const room of ['plans', 'lounge']) {
    const b1 = { type: 'send', id: `${room}-b1`, room, text: 'my plan' };
    expect(await bob.request('ack', b1)).toMatchObject({ type: 'ack', seq: 1 });
    const react = { type: 'react', room, target: 1, emoji: '👍' };
    expect(await bob.request('ack', { ...react, on: true })).toMatchObject({ type: 'ack', seq: 2 });
    await alice.next('reacted', (m) => m.room === room);

    // Out in the store; bob's connection is never told (no `left`), so it still lists the room.
    expect(await dropMembership('bob', room)).toBe(true);
    await bob.barrier();
    expect(bob.all('left')).toEqual([]);

    const refused = (id?: string) => ({
      v: 2,
      type: 'error',
      ref: expect.any(String),
      ...(id === undefined ? {} : { id }),
      code: 'not_member',
      message: `you are not in room ${room}`,
    });
    const b2 = { type: 'send', id: `${room}-b2`, room, text: 'one more' };
    expect(await bob.request('ack', b2)).toEqual(refused(b2.id));
    expect(await bob.request('ack', { ...b2, id: `${room}-b3`, replyTo: 1 })).toEqual(refused(`${room}-b3`));
    expect(await bob.request('ack', { type: 'edit', room, seq: 1, text: 'changed' })).toEqual(refused());
    expect(await bob.request('ack', { type: 'delete', room, seq: 1 })).toEqual(refused());
    expect(await bob.request('ack', { ...react, on: false })).toEqual(refused());
    expect(await bob.request('ack', { ...react, emoji: '🎉', on: true })).toEqual(refused());
    // Already so: a member would get a duplicate ack; bob is refused like any other write.
    expect(await bob.request('ack', { ...react, on: true })).toEqual(refused());
    // The resend of his message stored before: its duplicate, as from outside the room.
    expect(await bob.request('ack', b1)).toMatchObject({ type: 'ack', seq: 1, duplicate: true });

    // A member writes as before; the log went on from bob's last event: nothing of his was stored.
    const a1 = { type: 'send', id: `${room}-a1`, room, text: 'noted' };
    expect(await alice.request('ack', a1)).toMatchObject({ type: 'ack', seq: 3 });
    const history = await alice.request('history', { type: 'history', room });
    expect(history).toMatchObject({
      head: 3,
      messages: [
        { seq: 1, user: 'bob', text: 'my plan', reactions: { '👍': ['bob'] } },
        { seq: 3, user: 'alice', text: 'noted' },
      ],
    });
    if (history.type === 'history') expect(history.messages).toHaveLength(2);
    // Nothing of bob's refused writes reached alice either (events come in seq order: a1 is last).
    await alice.next('message', (m) => m.message.id === a1.id);
    const seen = alice.messages.filter((m) =>
      m.type === 'message'
        ? m.message.room === room
        : (m.type === 'edited' || m.type === 'deleted' || m.type === 'reacted') && m.room === room,
    );
    expect(seen.map((m) => (m.type === 'message' ? m.message.id : m.type))).toEqual([b1.id]);
  }
}
