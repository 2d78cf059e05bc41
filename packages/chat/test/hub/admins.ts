/**
 * Server admins (ChatServerOptions.admins, main.ts --admin): the scenario, run on one SQLite node
 * (test/hub/admins.test.ts) and on two nodes sharing Redis (test/redis/admins.test.ts), each
 * started with `admins: ['ROOT']` (the account is `root`: names match ignoring case). With two,
 * root's, alice's and bob's tabs are on both nodes.
 *
 * adminScenario: welcome says who is an admin; a non-admin is still refused in general; root bans
 * bob from general (`left` on both his tabs, his join refused `banned`), lists and lifts it, and
 * root's other tab hears each as `removed`/`unbanned` without ref; root bans in alice's public
 * room, and alice's tabs hear it (and root's hear alice's own ban); root deletes bob's message in
 * a public room (the `deleted` event names root) and sets general's topic (eve may not); in a
 * private room and in a direct message root is refused all of it, by the hub and by the store's
 * own step (asked directly, with the flag).
 */
import { expect } from 'vitest';
import type { RoomStore } from '../../src/server/ports.js';
import { dmRoom } from '../../src/shared/protocol.js';
import { register, TestClient } from '../helpers.js';

const error = (code: string, message?: string) => ({ type: 'error', code, ...(message ? { message } : {}) });
const BANNED = error('banned');
const FORBIDDEN_DELETE = error('forbidden', 'you can only change your own messages');

export async function adminScenario(
  origins: string[],
  rooms: RoomStore,
  track: (c: TestClient) => void,
): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const rootCookie = await register(on(0), 'root');
  const { client: root, welcome: rootWelcome } = await join(0, rootCookie);
  const rootTab2 = (await join(1, rootCookie)).client;
  const aliceCookie = await register(on(0), 'alice');
  const alice = (await join(0, aliceCookie)).client;
  const aliceTab2 = (await join(1, aliceCookie)).client;
  const bobCookie = await register(on(1), 'bob');
  const { client: bob, welcome: bobWelcome } = await join(1, bobCookie);
  const bobTab2 = (await join(0, bobCookie)).client;
  const eveCookie = await register(on(1), 'eve');
  const eve = (await join(1, eveCookie)).client;
  await register(on(0), 'carol');

  // welcome tells an admin so (the page shows the controls); nobody else.
  expect(rootWelcome.admin).toBe(true);
  expect(bobWelcome).not.toHaveProperty('admin');

  // A non-admin is still refused in general, which has no owner.
  expect(await eve.request('removed', { type: 'remove', room: 'general', user: 'bob' })).toMatchObject(
    error('forbidden', 'only the owner of a room can remove from it'),
  );
  expect(await eve.request('bans', { type: 'bans', room: 'general' })).toMatchObject(error('forbidden'));
  expect(await eve.request('unbanned', { type: 'unban', room: 'general', user: 'bob' })).toMatchObject(
    error('forbidden'),
  );
  expect(await root.request('removed', { type: 'remove', room: 'general', user: 'root' })).toMatchObject(
    error('bad_message', 'you cannot remove yourself: use leave'),
  );

  // The admin bans bob from general: out on every tab and node, his join refused.
  expect(await root.request('removed', { type: 'remove', room: 'general', user: 'Bob' })).toEqual({
    v: 2,
    type: 'removed',
    ref: expect.any(String),
    room: 'general',
    user: 'bob',
  });
  for (const tab of [bob, bobTab2])
    expect(await tab.next('left', (m) => m.room === 'general')).toEqual({
      v: 2,
      type: 'left',
      room: 'general',
      reason: 'removed',
    });
  expect(await bob.request('joined', { type: 'join', room: 'general' })).toMatchObject(BANNED);
  // root's other tab (the other node) keeps its Banned list: the ban, without ref.
  expect(await rootTab2.next('removed', (m) => m.room === 'general')).toEqual({
    v: 2,
    type: 'removed',
    room: 'general',
    user: 'bob',
  });
  expect(await root.request('bans', { type: 'bans', room: 'general' })).toMatchObject({ users: ['bob'] });
  expect(await root.request('unbanned', { type: 'unban', room: 'general', user: 'bob' })).toMatchObject({
    type: 'unbanned',
    user: 'bob',
  });
  expect(await rootTab2.next('unbanned', (m) => m.room === 'general')).toEqual({
    v: 2,
    type: 'unbanned',
    room: 'general',
    user: 'bob',
  });
  expect(await bob.request('joined', { type: 'join', room: 'general' })).toMatchObject({ room: 'general' });
  expect(await bobTab2.next('joined', (m) => m.room === 'general')).toBeTruthy();

  // General's topic: nobody else may set it (it has no owner), the admin may.
  expect(await eve.request('ack', { type: 'topic', room: 'general', text: 'mine now' })).toMatchObject(
    error('forbidden'),
  );
  expect(await root.request('ack', { type: 'topic', room: 'general', text: 'Be kind' })).toMatchObject({
    type: 'ack',
    room: 'general',
  });
  expect(await eve.next('topic', (m) => m.room === 'general')).toMatchObject({
    user: 'root',
    text: 'Be kind',
  });
  // The tab that asked has its answer only (no second, refless copy).
  await root.barrier();
  expect([...root.all('removed'), ...root.all('unbanned')]).toEqual([]);

  // In alice's public room: root bans eve, and alice's tabs (the owner's) hear it; alice's own ban
  // of carol reaches her other tab and root's tabs.
  expect(await alice.request('joined', { type: 'create', room: 'lobby' })).toMatchObject({ owner: 'alice' });
  expect(await aliceTab2.next('joined', (m) => m.room === 'lobby')).toBeTruthy();
  for (const c of [root, eve])
    expect(await c.request('joined', { type: 'join', room: 'lobby' })).toBeTruthy();
  expect(await root.request('removed', { type: 'remove', room: 'lobby', user: 'eve' })).toMatchObject({
    type: 'removed',
  });
  expect(await eve.next('left', (m) => m.room === 'lobby')).toMatchObject({ reason: 'removed' });
  for (const tab of [alice, aliceTab2, rootTab2])
    expect(await tab.next('removed', (m) => m.room === 'lobby' && m.ref === undefined)).toMatchObject({
      user: 'eve',
    });
  expect(await alice.request('removed', { type: 'remove', room: 'lobby', user: 'carol' })).toMatchObject({
    type: 'removed',
  });
  for (const tab of [aliceTab2, root, rootTab2])
    expect(await tab.next('removed', (m) => m.room === 'lobby' && m.ref === undefined)).toMatchObject({
      user: 'carol',
    });
  expect(await alice.request('bans', { type: 'bans', room: 'lobby' })).toMatchObject({
    users: ['carol', 'eve'],
  });
  expect(await root.request('unbanned', { type: 'unban', room: 'lobby', user: 'carol' })).toMatchObject({
    type: 'unbanned',
  });
  for (const tab of [alice, aliceTab2])
    expect(await tab.next('unbanned', (m) => m.room === 'lobby')).toMatchObject({ user: 'carol' });

  // The admin deletes another's message in a public room; the event names who deleted it.
  const spam = await bob.request('ack', { type: 'send', id: 's1', room: 'general', text: 'spam' });
  if (spam.type !== 'ack') throw new Error(JSON.stringify(spam));
  expect(await eve.request('ack', { type: 'delete', room: 'general', seq: spam.seq })).toMatchObject(
    FORBIDDEN_DELETE,
  );
  expect(await root.request('ack', { type: 'delete', room: 'general', seq: spam.seq })).toMatchObject({
    type: 'ack',
    room: 'general',
  });
  expect(await bob.next('deleted', (m) => m.target === spam.seq)).toMatchObject({
    room: 'general',
    user: 'root',
  });
  // The counts of unread messages are not thrown off: on Redis the deleted message leaves its
  // author's zset (by:bob), not the deleter's, or eve, who blocks bob, would have root's next
  // message taken off her count for it (1 - 1).
  expect(await eve.request('blocked', { type: 'block', user: 'bob' })).toMatchObject({ users: ['bob'] });
  expect(
    await root.request('ack', { type: 'send', id: 'r1', room: 'general', text: 'be nice' }),
  ).toMatchObject({
    type: 'ack',
  });
  const { client: eveLater, welcome: eveWelcome } = await join(0, eveCookie);
  expect(eveWelcome.rooms.find((r) => r.room === 'general')?.unread).toBe(1);
  await eveLater.close();
  expect(await eve.request('blocked', { type: 'unblock', user: 'bob' })).toMatchObject({ users: [] });
  const history = await eve.request('history', { type: 'history', room: 'general' });
  if (history.type !== 'history') throw new Error(JSON.stringify(history));
  expect(history.messages.find((m) => m.seq === spam.seq)).toMatchObject({ deleted: true, text: '' });

  // A private room (root a member of it) and a direct message: nothing of it.
  expect(await alice.request('joined', { type: 'create', room: 'secret', private: true })).toMatchObject({
    kind: 'private',
  });
  for (const [c, name] of [
    [root, 'root'],
    [bob, 'bob'],
  ] as const) {
    expect(await alice.request('invited', { type: 'invite', room: 'secret', user: name })).toMatchObject({
      type: 'invited',
    });
    expect(await c.request('joined', { type: 'accept', room: 'secret' })).toMatchObject({ room: 'secret' });
  }
  const dm = dmRoom('root', 'bob');
  expect(await root.request('joined', { type: 'dm', user: 'bob' })).toMatchObject({ room: dm });
  for (const room of ['secret', dm]) {
    // A direct message's name is refused by these requests' shape already (roomName).
    const refused = error(room === dm ? 'bad_room_name' : 'forbidden');
    expect(await root.request('removed', { type: 'remove', room, user: 'bob' })).toMatchObject(refused);
    expect(await root.request('unbanned', { type: 'unban', room, user: 'bob' })).toMatchObject(refused);
    expect(await root.request('bans', { type: 'bans', room })).toMatchObject(refused);
    const said = await bob.request('ack', {
      type: 'send',
      id: room === dm ? 'p-dm' : 'p-secret',
      room,
      text: 'mine',
    });
    if (said.type !== 'ack') throw new Error(JSON.stringify(said));
    expect(await root.request('ack', { type: 'delete', room, seq: said.seq })).toMatchObject(
      FORBIDDEN_DELETE,
    );
    // The store's own step checks the kind whatever the hub says (its flag vouches for an admin).
    expect(await rooms.ban(room, 'bob', 'root', 100, true)).toBe('no_room');
    expect(await rooms.leave('bob', room, Date.now(), 'removed', 'root', true)).toBe(false);
    expect(
      await rooms.appendEvent({
        type: 'delete',
        room,
        user: 'root',
        target: said.seq,
        ts: Date.now(),
        admin: true,
      }),
    ).toMatchObject({ ok: false, reason: 'forbidden' });
    if (room === 'secret') {
      expect(await root.request('ack', { type: 'topic', room, text: 'ours' })).toMatchObject(
        error('forbidden'),
      );
      expect(await rooms.setTopic({ room, user: 'root', text: 'ours', ts: Date.now(), admin: true })).toEqual(
        {
          ok: false,
          reason: 'forbidden',
        },
      );
    }
    expect(await rooms.isMember('bob', room)).toBe(true);
  }
  for (const tab of [bob, bobTab2]) {
    await tab.barrier();
    expect(tab.all('left')).toEqual([]);
  }
}
