/**
 * The `search` request through a live server (SQLite): only the rooms a user is in at the time of
 * the request, direct messages for their two users only, paging through the hub, and the
 * validation of its fields. The doc's section 10 runs the same request on SQLite and Redis.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseClientMessage } from '../../src/server/hub/validate.js';
import { cleanup, startTestServer, TestClient } from '../helpers.js';

afterEach(cleanup);

const fast = { burst: 100, perSecond: 100 };

async function say(client: TestClient, room: string, id: string, text: string): Promise<number> {
  const ack = await client.request('ack', { type: 'send', id, room, text });
  if (ack.type !== 'ack') throw new Error(`send refused: ${JSON.stringify(ack)}`);
  return ack.seq;
}

describe('search', () => {
  it('searches the rooms the user is in now: not a room left, a DM only for its two users', async () => {
    const server = await startTestServer({ limits: { messageRate: fast, roomRate: fast } });
    const alice = await TestClient.user(server.origin, 'alice');
    const bob = await TestClient.user(server.origin, 'bob');
    const eve = await TestClient.user(server.origin, 'eve');
    await alice.request('joined', { type: 'create', room: 'garden' });
    await say(alice, 'garden', 'g1', 'tomatoes need water');
    await alice.request('joined', { type: 'dm', user: 'bob' });
    await say(alice, 'dm:alice:bob', 'd1', 'secret tomatoes recipe');
    await say(eve, 'general', 'e1', 'tomatoes are fruit');

    const rooms = async (who: TestClient) => {
      const reply = await who.request('search', { type: 'search', query: 'tomatoes' });
      if (reply.type !== 'search') throw new Error(JSON.stringify(reply));
      return reply.hits.map((h) => h.room).sort();
    };
    expect(await rooms(alice)).toEqual(['dm:alice:bob', 'garden', 'general']);
    expect(await rooms(bob)).toEqual(['dm:alice:bob', 'general']);
    expect(await rooms(eve)).toEqual(['general']);
    await alice.request('left', { type: 'leave', room: 'garden' });
    expect(await rooms(alice)).toEqual(['dm:alice:bob', 'general']);
    expect(
      await alice.request('search', { type: 'search', query: 'tomatoes', room: 'garden' }),
    ).toMatchObject({
      type: 'error',
      code: 'not_member',
    });
  });

  it('pages 20 hits at a time with next, newest first, and every hit once', async () => {
    const server = await startTestServer({ limits: { messageRate: fast } });
    const alice = await TestClient.user(server.origin, 'alice');
    for (let i = 1; i <= 45; i++)
      await say(alice, 'general', `m${i}`, i % 2 ? `odd number ${i}` : `even ${i}`);
    const seqs: number[] = [];
    const sizes: number[] = [];
    let before: string | undefined;
    do {
      const reply = await alice.request('search', {
        type: 'search',
        query: 'odd',
        ...(before ? { before } : {}),
      });
      if (reply.type !== 'search') throw new Error(JSON.stringify(reply));
      sizes.push(reply.hits.length);
      seqs.push(...reply.hits.map((h) => h.seq));
      before = reply.next;
    } while (before);
    expect(sizes).toEqual([20, 3]);
    expect(seqs).toEqual(Array.from({ length: 23 }, (_, i) => 45 - 2 * i));
  });
});

describe('validating search', () => {
  const parse = (m: Record<string, unknown>) => parseClientMessage(JSON.stringify({ v: 2, ...m }), 4096);

  it('accepts a query, a room and a cursor', () => {
    expect(parse({ type: 'search', query: 'x', room: 'dm:a:b', before: 'abc_-' })).toMatchObject({
      ok: true,
    });
  });

  it('refuses what is not a search', () => {
    expect(parse({ type: 'search' })).toMatchObject({ ok: false, message: 'search needs query' });
    expect(parse({ type: 'search', query: 5 })).toMatchObject({
      ok: false,
      message: 'query must be a string',
    });
    expect(parse({ type: 'search', query: 'x'.repeat(201) })).toMatchObject({
      ok: false,
      message: 'query is longer than 200 characters',
    });
    expect(parse({ type: 'search', query: 'x', before: 'a b' })).toMatchObject({
      ok: false,
      message: 'before must be a cursor from a search reply',
    });
    expect(parse({ type: 'search', query: 'x', before: 'a'.repeat(4097) })).toMatchObject({ ok: false });
    expect(parse({ type: 'search', query: 'x', room: 'Bad Room' })).toMatchObject({
      ok: false,
      code: 'bad_room_name',
    });
    expect(parse({ type: 'search', query: 'x', limit: 5 })).toMatchObject({
      ok: false,
      message: 'unknown field "limit" for search',
    });
  });
});
