/**
 * A user no longer in a room cannot learn, by resending a message id, whether the room still
 * exists or what is stored there: the scenario, run on one SQLite node
 * (test/hub/resend-after-removal.test.ts) and on two nodes sharing Redis
 * (test/redis/resend-after-removal.test.ts).
 *
 * bob sends the same message (`id` m1, same text) to `plans` in three states of the room: before it
 * ever existed; after his removal (alice's message, not his, is stored under m1 there); after the
 * room's deletion (his own message was stored under m1 before it). Each time from a tab that still
 * lists the room (its news held back for good: the store is changed directly, no notice is sent, so
 * the store's own check answers) and from a fresh tab (whose welcome no longer lists it: the hub's
 * answer from outside the room). Every answer is the same frame, byte for byte, but for its `ref`:
 * `not_member`. (The resend of his own message while the room exists is acknowledged instead, as
 * docs/chat-protocol.md section 3 says: test/hub/write-after-removal.ts; it tells him nothing but
 * his own message.) Writes from the tab still listing a deleted room (edit, react) answer the same.
 */
import { expect } from 'vitest';
import type { ServerMessage } from '../../src/shared/protocol.js';
import { register, TestClient } from '../helpers.js';

export interface Store {
  /** Drops the membership in the store only: no notice reaches the user's connections. */
  dropMembership(user: string, room: string): Promise<boolean>;
  /** Deletes the room in the store only: no notice reaches its members' connections. */
  dropRoom(room: string): Promise<boolean>;
}

/** A tab that keeps every frame as it came (text), to compare answers byte for byte. */
function recorded(client: TestClient): string[] {
  const frames: string[] = [];
  client.ws.on('message', (data) => frames.push(String(data)));
  return frames;
}

export async function resendAfterRemoval(
  origins: string[],
  store: Store,
  track: (c: TestClient) => void,
): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const aliceCookie = await register(on(0), 'alice');
  const bobCookie = await register(on(1), 'bob');
  const alice = (await join(0, aliceCookie)).client;
  const stale = (await join(1, bobCookie)).client;
  const staleFrames = recorded(stale);
  const m1 = { type: 'send', id: 'm1', room: 'plans', text: 'see you at 9' };

  const answers: { what: string; frame: string }[] = [];
  /** Sends `m1` from `tab` and keeps its answer's frame, without its ref. */
  const resend = async (what: string, tab: TestClient, frames: string[]): Promise<ServerMessage> => {
    const reply = await tab.request('ack', m1);
    const ref = (reply as { ref?: string }).ref;
    const frame = frames.find((f) => f.includes(`"ref":"${ref}"`));
    expect(frame, what).toBeDefined();
    answers.push({ what, frame: String(frame).replace(`"ref":"${ref}",`, '') });
    return reply;
  };
  const fresh = async (): Promise<{ tab: TestClient; frames: string[] }> => {
    const { client, welcome } = await join(1, bobCookie);
    expect(welcome.rooms.map((r) => r.room)).not.toContain('plans');
    return { tab: client, frames: recorded(client) };
  };

  // 1. The room never existed.
  await resend('never existed', stale, staleFrames);

  // 2. bob is removed; under m1 the room holds alice's message, none of his.
  expect(await alice.request('joined', { type: 'create', room: 'plans', private: true })).toMatchObject({
    kind: 'private',
  });
  expect(await alice.request('invited', { type: 'invite', room: 'plans', user: 'bob' })).toMatchObject({
    type: 'invited',
  });
  await stale.request('joined', { type: 'accept', room: 'plans' });
  expect(await alice.request('ack', m1)).toMatchObject({ type: 'ack', seq: 1 });
  expect(await store.dropMembership('bob', 'plans')).toBe(true);
  await resend('removed, from a tab still listing the room', stale, staleFrames);
  const afterRemoval = await fresh();
  await resend('removed, from a new tab', afterRemoval.tab, afterRemoval.frames);

  // 3. bob is back, stores his own m1, and the room is deleted.
  expect(await alice.request('invited', { type: 'invite', room: 'plans', user: 'bob' })).toMatchObject({
    type: 'invited',
  });
  await afterRemoval.tab.request('joined', { type: 'accept', room: 'plans' });
  expect(await stale.request('ack', m1)).toMatchObject({ type: 'ack', id: 'm1', seq: 2 });
  expect(
    await stale.request('ack', { type: 'react', room: 'plans', target: 2, emoji: '👍', on: true }),
  ).toMatchObject({ type: 'ack', seq: 3 });
  expect(await store.dropRoom('plans')).toBe(true);
  await resend('deleted, from a tab still listing the room', stale, staleFrames);
  await resend('deleted, from another tab still listing it', afterRemoval.tab, afterRemoval.frames);
  const afterDeletion = await fresh();
  await resend('deleted, from a new tab', afterDeletion.tab, afterDeletion.frames);

  const expected =
    '{"v":2,"type":"error","code":"not_member","message":"you are not in room plans","id":"m1"}';
  for (const { what, frame } of answers) expect(frame, what).toBe(expected);
  expect(answers).toHaveLength(6);
  // The stale tab's other writes to the deleted room answer as a removal does.
  const refused = { type: 'error', code: 'not_member', message: 'you are not in room plans' };
  expect(await stale.request('ack', { type: 'edit', room: 'plans', seq: 2, text: 'at 10' })).toMatchObject(
    refused,
  );
  expect(await stale.request('ack', { type: 'delete', room: 'plans', seq: 2 })).toMatchObject(refused);
  expect(
    await stale.request('ack', { type: 'react', room: 'plans', target: 2, emoji: '👍', on: false }),
  ).toMatchObject(refused);
}
