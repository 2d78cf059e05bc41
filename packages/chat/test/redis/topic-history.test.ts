/**
 * Topic lines in history (test/hub/topic-history.ts) on two nodes sharing Redis: the TOPIC script
 * keeps each topic event in the room's `topics` zset (the stream is trimmed), which history reads.
 * A zset that a node of an older version left behind a deleted room (its DELETE_ROOM did not know
 * the key) is dropped when a room of the name is created again.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { register, TestClient } from '../helpers.js';
import { topicHistoryScenario } from '../hub/topic-history.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

const limits = {
  historyPage: 3,
  roomRate: { burst: 100, perSecond: 100 },
  requestRate: { burst: 100, perSecond: 100 },
  messageRate: { burst: 100, perSecond: 100 },
};

describe('topic lines in history, on two nodes', () => {
  it('a page carries the topic events of the seqs it covers, read from Redis', async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'topichist:', limits });
    servers.push(...nodes);
    await topicHistoryScenario(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (c) => clients.push(c),
    );
  });
});

describe('topic lines left by an older node', () => {
  it('a room made again under the name shows none of them', async () => {
    const prefix = 'topicleft:';
    const [node] = await startChatServersOnRedis(1, { url: redis().url, prefix, limits });
    servers.push(node);
    // What an older node's deletion of `trips` left: its counter (kept by every version) and its
    // topic lines (the zset its DELETE_ROOM did not unlink).
    const raw = new Redis(redis().url);
    try {
      await raw.set(`${prefix}room:{trips}:seq`, 5);
      const line = (seq: number, text: string) =>
        JSON.stringify({ type: 'topic', room: 'trips', seq, user: 'mallory', text, ts: 1 });
      await raw.zadd(`${prefix}room:{trips}:topics`, 2, line(2, 'Old'), 4, line(4, 'Older still'));
    } finally {
      await raw.quit();
    }
    const origin = node.url.replace(/\/$/, '');
    const { join } = TestClient.nodes([origin], (c) => clients.push(c));
    const alice = (await join(0, await register(origin, 'alice'))).client;
    expect(await alice.request('joined', { type: 'create', room: 'trips' })).toMatchObject({
      owner: 'alice',
    });
    expect(await alice.request('ack', { type: 'send', id: 'm1', room: 'trips', text: 'hi' })).toMatchObject({
      seq: 6,
    });
    const page = await alice.request('history', { type: 'history', room: 'trips' });
    expect(page).toMatchObject({ type: 'history', messages: [{ seq: 6 }], hasMore: false });
    expect(page).not.toHaveProperty('events');
    // Its own lines are kept as before.
    expect(await alice.request('ack', { type: 'topic', room: 'trips', text: 'New' })).toMatchObject({
      seq: 7,
    });
    const again = await alice.request('history', { type: 'history', room: 'trips' });
    expect(again).toMatchObject({ events: [{ seq: 7, text: 'New', user: 'alice' }] });
  });
});
