/**
 * A node dies (SIGKILL) in the middle of a conversation: its clients reconnect to the other nodes
 * and miss nothing (each event once, in order, their unacknowledged messages stored once), and its
 * users who do not come back leave the online lists. (That they leave within ttl + ttl/3 is shown
 * without a wall clock in store.test.ts: beats every ttl/3, dropped at the first sweep past the ttl.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ChatNode, cleanupAll, RedisServer, SimClient, userNames, waitUntil } from './helpers.js';

afterEach(cleanupAll);

const TTL = 3000;

describe('a node killed with SIGKILL', () => {
  it('loses no client: they reconnect elsewhere, miss nothing, and its users leave presence in time', async () => {
    const redis = await RedisServer.start();
    const nodes = await ChatNode.startMany(3, redis.url);
    const clients = await SimClient.spreadOver(nodes, userNames(6));
    // A user only on the doomed node, who will not come back.
    const lurker = await SimClient.connect(nodes[2].origin, 'lurker');
    const watcher = clients[0];
    await waitUntil(
      'lurker online for the watcher',
      () => watcher.online.get('general')?.has('lurker') === true,
    );

    // Everyone talks; node 2 dies while messages are in flight.
    const { sent, stop } = SimClient.keepTalking(clients, 'general', 15);
    // Kill once the talk is well under way (60 messages), not after a fixed time.
    await waitUntil('some talk', () => sent.size >= 60);
    await nodes[2].kill();
    const orphans = clients.filter((c) => c.origin === nodes[2].origin);
    expect(orphans).toHaveLength(2);
    await waitUntil('orphans to see the drop', () => orphans.every((c) => !c.open));
    // Messages sent while disconnected wait in the outbox and are resent after the reconnect.
    const sentBeforeDrop = sent.size;
    await waitUntil('sends while disconnected', () => sent.size >= sentBeforeDrop + 12);
    expect(orphans.reduce((n, c) => n + c.outbox.size, 0)).toBeGreaterThan(0);
    for (const [n, c] of orphans.entries()) await c.connectTo(nodes[n].origin);
    const sentAtReconnect = sent.size;
    await waitUntil('talk after the reconnect', () => sent.size >= sentAtReconnect + 30);
    await stop();

    await waitUntil('every acknowledgement', () => clients.every((c) => c.outbox.size === 0));
    // The highest seq acknowledged to anyone: every client must get that far (the heads seen so
    // far may all still lag behind it while the nodes' readers catch up).
    const head = Math.max(...clients.flatMap((c) => [...c.acks.values()]));
    await waitUntil('every delivery', () => clients.every((c) => c.head.get('general') === head));
    const reference = watcher.messages('general');
    expect(reference.map((m) => m.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    // Every message sent was stored exactly once (resent ones too), and every client saw the same.
    const stored = reference.filter((m) => m.user !== 'lurker').map((m) => m.id);
    expect(new Set(stored).size).toBe(stored.length);
    expect(stored.sort()).toEqual([...sent].sort());
    for (const c of clients) expect(c.messages('general')).toEqual(reference);

    // The lurker leaves the online list, announced once.
    await waitUntil('lurker offline', () => watcher.online.get('general')?.has('lurker') === false, TTL * 10);
    expect(watcher.presenceLog.filter((p) => p.user === 'lurker' && !p.online)).toHaveLength(1);
    // The reconnected users stayed online, and a fresh client sees the right list.
    const fresh = await SimClient.connect(nodes[1].origin, 'fresh');
    const online = [...(fresh.online.get('general') ?? [])].sort();
    expect(online).toEqual(['fresh', ...clients.map((c) => c.user)].sort());
    lurker.close();
  });
});
