/**
 * Reconnecting in the middle of a reaction burst (issue #16): the scenario, run on one SQLite node
 * (test/hub/reactions.test.ts) and on two nodes sharing Redis (test/redis/reactions.test.ts).
 *
 * Two users (on different nodes when there are two) set and remove 150 reactions while bob, who
 * saw the first events live, resumes with hello {general: lastSeq}. He must get every event after
 * lastSeq exactly once, in seq order, around `synced`; and the reactions he builds from what he
 * received (the messages' current reactions, then each `reacted` event) must equal the room's state
 * as `history` shows it afterwards.
 */
import { expect } from 'vitest';
import type { Reactions, ServerMessage } from '../../src/shared/protocol.js';
import { register, TestClient, waitFor } from '../helpers.js';

const EMOJI = ['👍', '🎉', '❤️'];
const MESSAGES = 10;
const PER_USER = 75;

/** The reacts of one user: each changes the state (on for 30, off for the same 30, on again...). */
function reacts(k: number): { target: number; emoji: string; on: boolean } {
  return { target: 1 + (k % 10), emoji: EMOJI[Math.floor(k / 10) % 3], on: Math.floor(k / 30) % 2 === 0 };
}

const seqOf = (m: ServerMessage): number | null =>
  m.type === 'message' ? m.message.seq : m.type === 'reacted' ? m.seq : null;

/** Applies received events to a reaction state per message seq. */
function apply(state: Map<number, Reactions>, messages: ServerMessage[]): void {
  for (const m of messages) {
    if (m.type === 'message') state.set(m.message.seq, structuredClone(m.message.reactions ?? {}));
    if (m.type !== 'reacted') continue;
    const reactions = state.get(m.target) ?? {};
    const users = new Set(reactions[m.emoji] ?? []);
    if (m.on) users.add(m.user);
    else users.delete(m.user);
    if (users.size > 0) reactions[m.emoji] = [...users].sort();
    else delete reactions[m.emoji];
    state.set(m.target, reactions);
  }
}

const range = (from: number, to: number) =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** origins[0]: alice and bob's resumption; origins[1] (may be the same): carol and bob's first connection. */
export async function reactionBurst(
  origins: [string, string],
  track: (c: TestClient) => void,
): Promise<void> {
  const alice = await TestClient.user(origins[0], 'alice');
  const carol = await TestClient.user(origins[1], 'carol');
  const bobCookie = await register(origins[0], 'bob');
  const { client: bob1 } = await TestClient.join(origins[1], bobCookie);
  track(alice);
  track(carol);
  track(bob1);
  for (let i = 1; i <= MESSAGES; i++)
    expect(
      (await alice.request('ack', { type: 'send', id: `m${i}`, room: 'general', text: `m${i}` })).type,
    ).toBe('ack');
  const fire = (from: number, to: number) => {
    for (let k = from; k < to; k++)
      for (const user of [alice, carol]) user.send({ v: 2, type: 'react', room: 'general', ...reacts(k) });
  };
  // A first part of the burst reaches bob live; he drops in the middle of it.
  fire(0, 25);
  await waitFor(() => bob1.all('reacted').length >= 20, 'bob sees the burst');
  bob1.ws.terminate();
  await bob1.closed;
  const firstPart = bob1.messages.filter((m) => seqOf(m) !== null);
  const seen = firstPart.map((m) => seqOf(m) as number);
  expect(seen).toEqual(range(1, seen.length)); // live: once, in order
  const last = seen.length;
  // The rest of the burst while he resumes from the last seq he has.
  fire(25, 40);
  const resumed = TestClient.join(origins[0], bobCookie, { general: last });
  // More of the burst while the hello is on its way and replayed (the server interleaves them).
  const more = (async () => {
    for (let k = 40; k < PER_USER; k += 5) {
      fire(k, Math.min(k + 5, PER_USER));
      await alice.barrier();
    }
  })();
  const { client: bob2 } = await resumed;
  await more;
  track(bob2);
  const end = MESSAGES + 2 * PER_USER;
  await waitFor(() => bob2.all('reacted').some((m) => m.seq === end), `seq ${end} at bob`, 20_000);
  await bob2.barrier();
  // Every react was a change: each was acknowledged with its own event, none as a duplicate.
  await waitFor(
    () => alice.all('ack').length === PER_USER && carol.all('ack').length === PER_USER,
    'every react acknowledged',
  );
  expect([...alice.all('ack'), ...carol.all('ack')].filter((a) => a.duplicate)).toEqual([]);

  const got: (number | string)[] = [];
  for (const m of bob2.messages) {
    const seq = seqOf(m);
    if (seq !== null && (m.type === 'message' ? m.message.room : (m as { room: string }).room) === 'general')
      got.push(seq);
    if (m.type === 'synced' || m.type === 'reset') got.push(`${m.type} ${m.head}`);
  }
  const synced = got.find((x) => typeof x === 'string') as string;
  expect(synced).toMatch(/^synced \d+$/);
  const head = Number(synced.split(' ')[1]);
  expect(got).toEqual([...range(last + 1, head), synced, ...range(head + 1, end)]);

  // What bob built from the events equals the room's state.
  const state = new Map<number, Reactions>();
  apply(state, firstPart);
  apply(state, bob2.messages);
  const history = await bob2.request('history', { type: 'history', room: 'general' });
  if (history.type !== 'history') throw new Error(`history failed: ${JSON.stringify(history)}`);
  expect(history.messages).toHaveLength(MESSAGES);
  for (const m of history.messages)
    expect(state.get(m.seq) ?? {}, `message ${m.seq}`).toEqual(m.reactions ?? {});
  // After 75 changes per user (30 on, 30 off, 15 on), each user has 15 reactions standing.
  const standing = history.messages.flatMap((m) => Object.values(m.reactions ?? {}).flat());
  expect(standing.filter((u) => u === 'alice')).toHaveLength(15);
  expect(standing.filter((u) => u === 'carol')).toHaveLength(15);
}
