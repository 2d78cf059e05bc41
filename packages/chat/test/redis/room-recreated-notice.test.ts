/**
 * A room's deletion tells only the old room's members, not those of a room of the same name
 * created again before the notice went out (test/hub/room-recreated-notice.ts), on two nodes
 * sharing Redis: deleted on the first, created again and joined by eve on the second. And the
 * plain case: the deletion's one notice (on the `rooms` topic) reaches every member's connections
 * on every node.
 */
import { describe, expect, it } from 'vitest';
import { register, TestClient } from '../helpers.js';
import { roomRecreatedNotice } from '../hub/room-recreated-notice.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('a room deleted on one node while one of its name is created again on another', () => {
  it("the deletion's notice does not take eve out of the new room", async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'recreated-notice:' });
    servers.push(...nodes);
    await roomRecreatedNotice(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      nodes[0].backend.rooms,
      (c) => clients.push(c),
    );
  });
});

describe('a room deleted on one node', () => {
  it("its members' connections on every node are told, each once", async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'deleted-notice:' });
    servers.push(...nodes);
    const { on, join } = TestClient.nodes(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (c) => clients.push(c),
    );
    const alice = (await join(0, await register(on(0), 'alice'))).client;
    const bobCookie = await register(on(1), 'bob');
    const bobHere = (await join(0, bobCookie)).client;
    const bobThere = (await join(1, bobCookie)).client;
    expect(await alice.request('joined', { type: 'create', room: 'team' })).toMatchObject({ room: 'team' });
    expect(await bobThere.request('joined', { type: 'join', room: 'team' })).toMatchObject({ room: 'team' });
    await bobHere.next('joined', (m) => m.room === 'team');
    expect(await alice.request('left', { type: 'delete_room', room: 'team' })).toMatchObject({
      reason: 'deleted',
    });
    for (const bob of [bobHere, bobThere]) {
      expect(await bob.next('left')).toEqual({ v: 2, type: 'left', room: 'team', reason: 'deleted' });
      await bob.barrier();
      expect(bob.all('left')).toEqual([]);
    }
  });
});
