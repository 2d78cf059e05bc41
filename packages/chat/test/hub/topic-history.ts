/**
 * Topic lines in history (hub.ts, `history` `events`): the scenario, run on one SQLite node
 * (test/hub/topic-history.test.ts) and on two nodes sharing Redis (test/redis/topic-history.test.ts),
 * with pages of 3 messages. alice (the owner, node 0) writes the room below; bob (node 1) pages it.
 *
 *   seq  1 m1   2 topic "A"   3 m2   4 m3   5 m4   6 topic "B"   7 m5   8 edit of m5   9 topic ""
 *
 * Each page carries the topic events of the seqs it covers, from its oldest message (the room's
 * start when none is older) up to where the next page starts, so paging back meets each line once;
 * an edit (no line) is never among them. A room deleted and made again has none of the old one's.
 */
import { expect } from 'vitest';
import { register, TestClient } from '../helpers.js';

export async function topicHistoryScenario(origins: string[], track: (c: TestClient) => void): Promise<void> {
  const { on, join } = TestClient.nodes(origins, track);
  const alice = (await join(0, await register(on(0), 'alice'))).client;
  const bob = (await join(1, await register(on(1), 'bob'))).client;
  expect(await alice.request('joined', { type: 'create', room: 'trips' })).toMatchObject({ owner: 'alice' });
  expect(await bob.request('joined', { type: 'join', room: 'trips' })).toMatchObject({ room: 'trips' });
  let n = 0;
  const send = async () => {
    n++;
    expect(
      await alice.request('ack', { type: 'send', id: `m${n}`, room: 'trips', text: `${n}` }),
    ).toMatchObject({
      type: 'ack',
    });
  };
  const topic = async (text: string) =>
    expect(await alice.request('ack', { type: 'topic', room: 'trips', text })).toMatchObject({ type: 'ack' });
  await send();
  await topic('A');
  await send();
  await send();
  await send();
  await topic('B');
  await send();
  expect(await alice.request('ack', { type: 'edit', room: 'trips', seq: 7, text: '5!' })).toMatchObject({
    seq: 8,
  });
  await topic('');
  // bob has it all live (so the other node has delivered it), then reads it as a reloaded page would.
  await bob.next('topic', (m) => m.seq === 9);

  const line = (seq: number, text: string) => ({ type: 'topic', room: 'trips', seq, user: 'alice', text });
  const page = async (extra: Record<string, number>) => {
    const reply = await bob.request('history', { type: 'history', room: 'trips', ...extra });
    if (reply.type !== 'history') throw new Error(`history refused: ${JSON.stringify(reply)}`);
    return { seqs: reply.messages.map((m) => m.seq), events: reply.events, reply };
  };

  // The newest page: m3 m4 m5; the lines from m3 up to the head (B, cleared), not A (older page's).
  const latest = await page({});
  expect(latest.seqs).toEqual([4, 5, 7]);
  expect(latest.reply).toMatchObject({ head: 9, hasMore: true });
  expect(latest.events).toEqual([
    expect.objectContaining(line(6, 'B')),
    expect.objectContaining(line(9, '')),
  ]);
  expect(latest.events?.every((e) => e.type === 'topic' && typeof e.ts === 'number')).toBe(true);
  // Scrolled back: m1 m2 and the line between them; nothing older, so from the room's start.
  const older = await page({ before: 4 });
  expect(older.seqs).toEqual([1, 3]);
  expect(older.reply).toMatchObject({ hasMore: false });
  expect(older.events).toEqual([expect.objectContaining(line(2, 'A'))]);
  // Around m2 (one newer after it): m1 m2 m3, newer follow, so up to m3 only.
  const around = await page({ around: 3 });
  expect(around.seqs).toEqual([1, 3, 4]);
  expect(around.events).toEqual([expect.objectContaining(line(2, 'A'))]);
  // After m3: m4 m5, the last page, so the lines after m3 up to the head.
  const after = await page({ after: 4 });
  expect(after.seqs).toEqual([5, 7]);
  expect(after.events).toEqual([expect.objectContaining(line(6, 'B')), expect.objectContaining(line(9, ''))]);
  // Before m1: no message, no line (`events` absent when none).
  const none = await page({ before: 1 });
  expect(none.seqs).toEqual([]);
  expect(none.reply).not.toHaveProperty('events');

  // Deleted, the room's topic lines go with it: one made again under the name has none.
  expect(await alice.request('left', { type: 'delete_room', room: 'trips' })).toMatchObject({
    reason: 'deleted',
  });
  expect(await alice.request('joined', { type: 'create', room: 'trips' })).toMatchObject({ owner: 'alice' });
  await send();
  const again = await alice.request('history', { type: 'history', room: 'trips' });
  expect(again).toMatchObject({ type: 'history', messages: [{ seq: 10 }], hasMore: false });
  expect(again).not.toHaveProperty('events');
}
