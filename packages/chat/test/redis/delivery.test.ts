/**
 * The delivery promises across nodes sharing Redis (issue 15, items 1, 2 and 5): resuming with
 * hello on any node while a room has traffic gives each event once and in order (it used to repeat
 * the events around `synced` in 3-5 of 30 resumptions); a sync on a live connection does not let
 * newer events overtake the replay; a user's rate limit is one budget whichever nodes they use.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/server/clock.js';
import type { Limits, ServerMessage } from '../../src/shared/protocol.js';
import { register, TestClient, waitFor } from '../helpers.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

let prefixes = 0;
async function nodes(count: number, limits: Partial<Limits> = {}, clock?: ManualClock): Promise<string[]> {
  const nodes = await startChatServersOnRedis(count, {
    url: redis().url,
    prefix: `delivery${prefixes++}:`,
    limits: { messageRate: { burst: 10_000, perSecond: 10_000 }, ...limits },
    clock,
  });
  servers.push(...nodes);
  return nodes.map((node) => node.url.replace(/\/$/, ''));
}

type EventMessage = Extract<ServerMessage, { type: 'message' }>;

/** The seqs of general's events and the synced marker, in the order received. */
function stream(messages: ServerMessage[]): (number | string)[] {
  const out: (number | string)[] = [];
  for (const m of messages) {
    if (m.type === 'message' && m.message.room === 'general') out.push(m.message.seq);
    else if (m.type === 'synced' || m.type === 'reset') out.push(`${m.type} ${m.head}`);
  }
  return out;
}

describe('exactly once across nodes', () => {
  it('30 resumptions on changing nodes during traffic: each event once, in order, around synced', async () => {
    const origins = await nodes(3);
    const writer = (await TestClient.join(origins[0], await register(origins[0], 'writer'))).client;
    clients.push(writer);
    const readerCookie = await register(origins[0], 'reader');
    let sent = 0;
    let writing = true;
    const traffic = (async () => {
      while (writing) {
        sent++;
        await writer.request('ack', { type: 'send', id: `w${sent}`, room: 'general', text: `${sent}` });
      }
    })();
    let last = 0;
    for (let round = 0; round < 30; round++) {
      const origin = origins[round % 3];
      const { client } = await TestClient.join(origin, readerCookie, { general: last });
      clients.push(client);
      // Read until well past synced, so live events after the replay are checked too.
      const syncedHead = () =>
        (client.messages.find((m) => m.type === 'synced') as { head: number } | undefined)?.head;
      await waitFor(() => {
        const head = syncedHead();
        return head !== undefined && client.all('message').some((m) => m.message.seq >= head + 3);
      }, `round ${round}: synced and live events`);
      const got = stream(client.messages); // in the order received
      const head = syncedHead() as number;
      const end = got.at(-1) as number;
      expect(got, `round ${round} on node ${round % 3}`).toEqual([
        ...range(last + 1, head),
        `synced ${head}`,
        ...range(head + 1, end),
      ]);
      last = end;
      client.ws.terminate();
    }
    writing = false;
    await traffic;
    expect(sent).toBeGreaterThan(60);
  });

  it('a sync on a live connection answers in order while events keep coming from another node', async () => {
    const origins = await nodes(2);
    const writer = (await TestClient.join(origins[0], await register(origins[0], 'writer'))).client;
    const reader = (await TestClient.join(origins[1], await register(origins[0], 'reader'))).client;
    clients.push(writer, reader);
    for (let i = 1; i <= 30; i++)
      writer.send({ v: 2, type: 'send', id: `a${i}`, room: 'general', text: `${i}` });
    await waitFor(() => reader.all('message').length === 30, 'the first 30');
    reader.messages.length = 0;
    for (let i = 31; i <= 80; i++)
      writer.send({ v: 2, type: 'send', id: `a${i}`, room: 'general', text: `${i}` });
    reader.send({ v: 2, type: 'sync', ref: 's', room: 'general', after: 10 });
    await waitFor(() => reader.all('message').some((m) => m.message.seq === 80), 'seq 80');
    await reader.barrier();
    const got: (number | string)[] = [];
    for (const m of reader.messages) {
      if (m.type === 'message') got.push((m as EventMessage).message.seq);
      if (m.type === 'synced') got.push(`synced ${m.head}`);
    }
    const replayStart = got.indexOf(11);
    const before = got.slice(0, replayStart); // live events before the sync took effect
    expect(before).toEqual(Array.from({ length: before.length }, (_, i) => 31 + i));
    const marker = got.findIndex((x) => typeof x === 'string');
    const head = Number(String(got[marker]).split(' ')[1]);
    expect(got.slice(replayStart)).toEqual([
      ...Array.from({ length: head - 10 }, (_, i) => 11 + i),
      `synced ${head}`,
      ...Array.from({ length: 80 - head }, (_, i) => head + 1 + i),
    ]);
  });
});

const range = (from: number, to: number) =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

describe('limits across nodes', () => {
  it('gives a user one message budget for all their connections on all nodes', async () => {
    const clock = new ManualClock();
    const origins = await nodes(3, { messageRate: { burst: 6, perSecond: 1 } }, clock);
    const cookie = await register(origins[0], 'alice');
    const tabs = [];
    for (const origin of origins) tabs.push((await TestClient.join(origin, cookie)).client);
    clients.push(...tabs);
    const replies = [];
    for (let i = 0; i < 9; i++)
      replies.push(
        await tabs[i % 3].request('ack', { type: 'send', id: `m${i}`, room: 'general', text: 'x' }),
      );
    expect(replies.map((r) => r.type)).toEqual([...Array(6).fill('ack'), 'error', 'error', 'error']);
    expect(replies[6]).toMatchObject({ code: 'rate_limited', retryAfterMs: 1000 });
    clock.advance(1000);
    expect(
      (await tabs[2].request('ack', { type: 'send', id: 'later', room: 'general', text: 'x' })).type,
    ).toBe('ack');
  });
});
