/**
 * Redis comes back empty while the nodes run on (restarted without its AOF, as with
 * `--appendonly no`): accounts created after that start in `general` like every account, on any
 * node, and talk there across nodes (default-room.ts; nothing made `general` again before).
 */
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
});
