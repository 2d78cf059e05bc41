/**
 * Redis comes back empty while the nodes run on (restarted without its AOF, as with
 * `--appendonly no`): accounts created after that start in `general` like every account, on any
 * node, and talk there across nodes (default-room.ts; nothing made `general` again before); a
 * user still connected who creates `general` gets it ownerless (hub/membership.ts).
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatNode, cleanupAll, RedisServer, SimClient, waitUntil } from './helpers.js';

afterEach(cleanupAll);

describe('a Redis that came back empty', () => {
  it('puts the accounts created afterwards in general, ownerless, and they talk across nodes', async () => {
    const redis = await RedisServer.start(['--appendonly', 'no']);
    const nodes = await ChatNode.startMany(2, redis.url);
    // A client on each node: its `service` notices say when that node lost Redis and had it back.
    const before = await SimClient.spreadOver(nodes, ['before0', 'before1']);
    await redis.stop('SIGKILL');
    await waitUntil('both nodes to lose Redis', () => before.every((c) => c.service.includes(false)));
    await redis.restart();
    await waitUntil('both nodes to have it back', () => before.every((c) => c.service.at(-1) === true));
    const carol = await SimClient.connect(nodes[1].origin, 'carol');
    const dave = await SimClient.connect(nodes[0].origin, 'dave');
    for (const c of [carol, dave]) {
      const welcome = c.all.find((m) => m.type === 'welcome');
      expect(welcome?.type === 'welcome' && welcome.rooms.map((r) => [r.room, r.owner])).toEqual([
        ['general', null],
      ]);
    }
    carol.send('general', 'anyone here?');
    await waitUntil('dave to get it', () => dave.messages('general').length === 1);
    expect(dave.messages('general')[0]).toMatchObject({ user: 'carol', text: 'anyone here?' });
    dave.request({ type: 'rooms', ref: 'r1' });
    const listing = await dave.next('rooms', (m) => m.ref === 'r1');
    expect(listing.rooms).toEqual([{ room: 'general', kind: 'public', members: 2 }]);
  });

  it('makes general again, ownerless, for a user still connected who creates it', async () => {
    // Regression: the first user to `create general` then owned it (could delete it, and the
    // accounts created afterwards were put in a room of theirs). Flushed while the nodes run: no
    // outage, so the connected users' sockets stay until something rechecks their sessions (after
    // a restart their sessions are rechecked when the nodes have Redis back: gone, they are
    // signed out, and the sign-up that follows makes general, as above).
    const redis = await RedisServer.start(['--appendonly', 'no']);
    const nodes = await ChatNode.startMany(2, redis.url);
    const [ann, ben] = await SimClient.spreadOver(nodes, ['ann', 'ben']);
    const admin = new Redis(redis.url);
    try {
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
    const answer = (c: SimClient, ref: string) => c.all.find((m) => 'ref' in m && m.ref === ref);
    const ask = async (c: SimClient, message: Record<string, unknown> & { ref: string }) => {
      c.request(message);
      await waitUntil(`${c.user}'s answer to ${message.ref}`, () => answer(c, message.ref) !== undefined);
      return answer(c, message.ref);
    };
    expect(await ask(ann, { type: 'create', ref: 'c1', room: 'general' })).toMatchObject({
      type: 'joined',
      room: 'general',
      kind: 'public',
      owner: null,
    });
    expect(await ask(ben, { type: 'create', ref: 'c2', room: 'general' })).toMatchObject({
      type: 'error',
      code: 'room_exists',
    });
    expect(await ask(ann, { type: 'delete_room', ref: 'd1', room: 'general' })).toMatchObject({
      type: 'error',
      code: 'forbidden',
    });
    const cat = await SimClient.connect(nodes[1].origin, 'cat');
    const welcome = cat.all.find((m) => m.type === 'welcome');
    expect(welcome?.type === 'welcome' && welcome.rooms.map((r) => [r.room, r.owner])).toEqual([
      ['general', null],
    ]);
  });
});
