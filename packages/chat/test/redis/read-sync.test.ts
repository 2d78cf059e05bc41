/**
 * The read marker shared by a user's tabs (test/hub/read-sync.ts) on two nodes sharing Redis: the
 * tabs are on different nodes, so the news goes through the user's topic on Redis. A node that
 * could not hear it (pub/sub is at most once) tells its tabs the marker, and the membership changes
 * it missed, once it hears the bus again.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { register, TestClient } from '../helpers.js';
import { readInOtherTabs } from '../hub/read-sync.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();
const admins: Redis[] = [];
afterEach(() => {
  for (const admin of admins.splice(0)) admin.disconnect();
});

describe('read in another tab, on two nodes', () => {
  it("tells the user's connections on the other node when the marker moves forward", async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'read-sync:' });
    servers.push(...nodes);
    await readInOtherTabs(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (c) => clients.push(c),
    );
  });
});

describe('read in another tab while the other node cannot hear it (pub/sub is at most once)', () => {
  it('tells that node’s tabs the marker, and the room they were invited to, once its subscription is back', async () => {
    // Regression: the `read` and the `joined` published while node b's subscriber was away never
    // reached it: bob's tab there kept the messages he had read as unread, and never showed the
    // room alice invited him to, until it was reloaded. Node b connects as its own ACL user, so
    // its subscriber is kept away until the test turns that user on again.
    const admin = new Redis(redis().url, { lazyConnect: true });
    admins.push(admin);
    await admin.connect();
    await admin.call('ACL', 'SETUSER', 'readb', 'on', '>secret', '~*', '&*', '+@all');
    const [a] = await startChatServersOnRedis(1, { url: redis().url, prefix: 'read-lost:' });
    servers.push(a);
    const [b] = await startChatServersOnRedis(1, {
      url: redis().url.replace('redis://', 'redis://readb:secret@'),
      prefix: 'read-lost:',
    });
    servers.push(b);
    const [one, two] = [a, b].map((node) => node.url.replace(/\/$/, ''));
    const { on, join } = TestClient.nodes([one, two], (c) => clients.push(c));
    const bobCookie = await register(on(0), 'bob');
    const tab1 = (await join(0, bobCookie)).client;
    const tab2 = (await join(1, bobCookie)).client;
    const alice = (await join(0, await register(on(0), 'alice'))).client;

    await admin.call('ACL', 'SETUSER', 'readb', 'off');
    expect(await admin.call('CLIENT', 'KILL', 'USER', 'readb', 'TYPE', 'pubsub')).toBe(1);
    for (const id of ['a1', 'a2', 'a3'])
      await alice.request('ack', { type: 'send', id, room: 'general', text: id });
    // Node b's reader still delivers the messages; only its notices are lost.
    for (let seq = 1; seq <= 3; seq++) await tab2.next('message', (m) => m.message.seq === seq);
    expect(await tab1.request('read', { type: 'read', room: 'general', seq: 3 })).toMatchObject({ seq: 3 });
    await alice.request('joined', { type: 'create', room: 'plans', private: true });
    await alice.request('invited', { type: 'invite', room: 'plans', user: 'bob' });
    await tab1.request('joined', { type: 'accept', room: 'plans' });
    await tab2.barrier();
    expect(tab2.all('read')).toEqual([]);
    expect(tab2.all('joined')).toEqual([]);

    await admin.call('ACL', 'SETUSER', 'readb', 'on');
    expect(await tab2.next('read')).toEqual({ v: 2, type: 'read', room: 'general', seq: 3 });
    expect(await tab2.next('joined')).toMatchObject({ room: 'plans', kind: 'private', owner: 'alice' });
    // The tab on node a, which heard everything, is told nothing again.
    await tab1.barrier();
    expect(tab1.all('read')).toEqual([]);
  });
});
