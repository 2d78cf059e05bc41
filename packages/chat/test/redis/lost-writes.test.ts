/**
 * Redis loses acknowledged writes (no AOF: it comes back from its last snapshot), so a room's
 * counter goes back and new events reuse seqs the nodes already delivered. The nodes notice
 * without a restart (log-regression.ts), re-base the room, and its clients reload it after `reset`.
 *
 * The loss is real: a redis-server without AOF, a SAVE, more writes, then either `DEBUG RELOAD
 * NOSAVE` (Redis reloads the snapshot, the connections stay open: only the checks can notice) or
 * SIGKILL and a restart (the nodes reconnect). Waits are for what must arrive; none is a barrier.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RedisConnections } from '../../src/server/backends/redis/connection.js';
import { RedisCommittedEvents, type RedisEventsOptions } from '../../src/server/backends/redis/events.js';
import { RedisKeys } from '../../src/server/backends/redis/keys.js';
import { RedisStore } from '../../src/server/backends/redis/store.js';
import type { ServerMessage } from '../../src/shared/protocol.js';
import { ChatNode, cleanupAll, PATIENCE_MS, RedisServer, SimClient, waitUntil } from './helpers.js';
import { connect, lines, SNAPSHOT_ONLY } from './loss.js';

const quotas = { maxRooms: 100, maxOwnedRooms: 100 };
const room = (name: string) => ({ name, kind: 'public' as const, owner: 'x', createdAt: 0 });
const message = (text: string) =>
  ({ type: 'message', room: 'r', user: 'ann', clientId: text, text, ts: 1763780000000 }) as const;

describe('the event reader notices a log that went back (connections stay open)', () => {
  let server: RedisServer;
  let prefixes = 0;
  const opened: { redis: RedisConnections; events: RedisCommittedEvents }[] = [];
  beforeAll(async () => {
    server = await RedisServer.start(SNAPSHOT_ONLY);
  });
  afterAll(cleanupAll);
  afterEach(async () => {
    for (const { redis, events } of opened.splice(0)) {
      await events.stop();
      await redis.close();
    }
  });

  /**
   * A node's reader and store on their own key prefix, with room `r` open; `delivered` lists what
   * the reader passed on, `rebases` the heads it re-based to, `warnings` its log lines.
   */
  async function node(options: RedisEventsOptions & { hint: boolean }) {
    const redis = await connect(server.url);
    const keys = new RedisKeys(`lw${prefixes++}:`);
    const warnings: string[] = [];
    const events = new RedisCommittedEvents(redis.cmd, redis.reader, keys, {
      ...options,
      log: (line) => warnings.push(line),
    });
    opened.push({ redis, events });
    const store = new RedisStore(redis.cmd, keys, options.hint ? { delivered: events } : {});
    await store.createRoom(room('r'), quotas);
    await store.join('ann', 'r', 9); // the store refuses the writes of non-members
    const delivered: { seq: number; text: string }[] = [];
    const rebases: number[] = [];
    await events.open(
      'r',
      (seq, payload) => {
        const event = JSON.parse(payload) as Extract<ServerMessage, { type: 'message' }>;
        delivered.push({ seq, text: event.message.text });
      },
      (head) => rebases.push(head),
    );
    const append = async (text: string) => {
      const res = await store.appendEvent(message(text));
      if (!res.ok || res.event.type !== 'message') throw new Error(`append ${text} failed`);
      return res.event.message.seq;
    };
    return { cmd: redis.cmd, events, store, append, delivered, rebases, warnings };
  }

  /** Appends old1..old3, snapshots, appends old4 and old5, waits for them; then Redis loses 4, 5. */
  async function loseTwo(n: Awaited<ReturnType<typeof node>>): Promise<void> {
    for (const text of ['old1', 'old2', 'old3']) await n.append(text);
    await n.cmd.call('SAVE');
    for (const text of ['old4', 'old5']) await n.append(text);
    await waitUntil('old5 delivered', () => n.delivered.length === 5);
    await (n.cmd as Redis).call('DEBUG', 'RELOAD', 'NOSAVE');
  }

  it('sees the broken chain on the first entry past its position, when the counter already passed it', async () => {
    // No counter check after the first, no hint: only the entries' chain can tell.
    const n = await node({ checkMs: 1e9, blockMs: 10 * PATIENCE_MS, hint: false });
    await loseTwo(n);
    expect(await n.append('new4')).toBe(4);
    expect(await n.append('new5')).toBe(5);
    expect(await n.append('new6')).toBe(6);
    await waitUntil('new6 delivered', () => n.delivered.length === 6);
    // new4 and new5 are in the store (clients reload them after `reset`); new6 follows live.
    expect(n.rebases).toEqual([5]);
    expect(n.delivered.map((d) => `${d.seq} ${d.text}`)).toEqual([
      '1 old1',
      '2 old2',
      '3 old3',
      '4 old4',
      '5 old5',
      '6 new6',
    ]);
    expect(n.warnings).toHaveLength(1);
    expect(n.warnings[0]).toBe(
      'chat: warning: the log of room r went back in Redis (it lost acknowledged writes?): ' +
        "this node had delivered up to seq 5, Redis holds 5; the room's clients reload it",
    );
    expect(n.events.stats.logRegressions).toBe(1);
  });

  /**
   * Redis lost old4 and old5, and new4 gets seq 4 again: the node re-bases to 4, once, and the next
   * event follows as usual.
   */
  async function reBasesAtFour(n: Awaited<ReturnType<typeof node>>): Promise<void> {
    await loseTwo(n);
    expect(await n.append('new4')).toBe(4);
    await waitUntil('the re-base', () => n.rebases.length > 0);
    expect(n.rebases).toEqual([4]);
    expect(await n.append('new5')).toBe(5);
    await waitUntil('new5 delivered', () => n.delivered.length === 6);
    expect(n.delivered.at(-1)).toEqual({ seq: 5, text: 'new5' });
    expect(n.rebases).toEqual([4]);
    expect(n.warnings).toHaveLength(1);
  }

  it("checks the counter at once when its own append gets a seq it already delivered (the store's hint)", async () => {
    // No periodic check, and a read that blocks longer than the test may take: a reader that went
    // on reading from its old position after the check would never deliver new5.
    await reBasesAtFour(await node({ checkMs: 1e9, blockMs: 10 * PATIENCE_MS, hint: true }));
  });

  it('checks the counters now and then, and finds a room still below its position', async () => {
    // No hint and no append after the loss: only the periodic check can notice the counter at
    // 3 < 5. (Appending before waiting would race the check: it could see 3 or, after new4, 4.)
    const n = await node({ checkMs: 50, blockMs: 50, hint: false });
    await loseTwo(n);
    await waitUntil('the re-base', () => n.rebases.length > 0);
    expect(n.rebases).toEqual([3]);
    expect(await n.append('new4')).toBe(4);
    await waitUntil('new4 delivered', () => n.delivered.length === 6);
    expect(n.delivered.at(-1)).toEqual({ seq: 4, text: 'new4' });
    expect(n.rebases).toEqual([3]);
    expect(n.warnings).toHaveLength(1);
  });

  it('never re-bases a log that did not go back: two nodes appending, checks before every read', async () => {
    const a = await node({ checkMs: 0, hint: true });
    // A second node on the same keys: its own nonces, its own reader.
    const redis = await connect(server.url);
    const keys = new RedisKeys(`lw${prefixes - 1}:`);
    const events = new RedisCommittedEvents(redis.cmd, redis.reader, keys, { checkMs: 0 });
    opened.push({ redis, events });
    const b = new RedisStore(redis.cmd, keys, { delivered: events });
    const seen: number[] = [];
    const rebasesB: number[] = [];
    await events.open(
      'r',
      (seq) => seen.push(seq),
      (head) => rebasesB.push(head),
    );
    for (let i = 1; i <= 40; i++) {
      const res = await (i % 2 ? a.store : b).appendEvent(message(`m${i}`));
      expect(res.ok).toBe(true);
    }
    await waitUntil('every event on both', () => a.delivered.length === 40 && seen.length === 40);
    expect(a.delivered.map((d) => d.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(a.rebases).toEqual([]);
    expect(rebasesB).toEqual([]);
    expect(a.warnings).toEqual([]);
  });

  it('never re-bases a room deleted and created again while it is open: its counter and tip stay', async () => {
    const n = await node({ checkMs: 0, hint: true });
    await n.append('first1');
    await n.append('first2');
    // Delivered before the delete, which takes the stream with it: else they are never read.
    await waitUntil('first2 delivered', () => n.delivered.length === 2);
    expect(await n.store.deleteRoom('r')).not.toBeNull();
    await n.store.createRoom(room('r'), quotas);
    await n.store.join('ann', 'r', 9);
    expect(await n.append('second')).toBe(3);
    await waitUntil('second delivered', () => n.delivered.length === 3);
    expect(n.delivered.map((d) => `${d.seq} ${d.text}`)).toEqual(['1 first1', '2 first2', '3 second']);
    expect(n.rebases).toEqual([]);
    expect(n.warnings).toEqual([]);
  });
});

describe('two chat nodes after Redis came back from an older snapshot', () => {
  afterEach(cleanupAll);

  const losses: { how: string; lose: (redis: RedisServer) => Promise<void> }[] = [
    {
      // A node's three connections come back in no fixed order: when its reader is back first, it
      // re-bases and sends `reset` while its commands are still refused, so the reload (`history`)
      // gets `unavailable` and the clients ask again after `service` says available, as the page does.
      how: 'Redis restarted from it (the nodes reconnect)',
      lose: async (redis) => {
        await redis.stop('SIGKILL');
        await redis.restart();
      },
    },
    {
      how: 'Redis reloaded it with the connections open (only the checks can tell)',
      lose: async (redis) => {
        const raw = await connect(redis.url);
        await (raw.cmd as Redis).call('DEBUG', 'RELOAD', 'NOSAVE');
        await raw.close();
      },
    },
  ];
  it.each(losses)(
    '$how: the clients on both nodes reload the room and get the new messages, no node restarts',
    async ({ lose }) => {
      const redis = await RedisServer.start(SNAPSHOT_ONLY);
      const nodes = await ChatNode.startMany(2, redis.url);
      const ann = await SimClient.connect(nodes[0].origin, 'ann');
      const ben = await SimClient.connect(nodes[1].origin, 'ben');
      const sendAll = async (from: SimClient, texts: string[]) => {
        for (const text of texts) {
          const id = from.send('general', text);
          await waitUntil(`ack of ${text}`, () => from.acks.has(id));
        }
      };
      await sendAll(ann, ['old1', 'old2', 'old3']);
      // The snapshot holds the users, their sessions, the room and its first three messages.
      const raw = await connect(redis.url);
      await raw.cmd.call('SAVE');
      await raw.close();
      await sendAll(ann, ['old4', 'old5']);
      await waitUntil('old5 on both', () => ann.head.get('general') === 5 && ben.head.get('general') === 5);

      await lose(redis);
      await waitUntil('both back', () => ann.service.at(-1) !== false && ben.service.at(-1) !== false);
      // Redis holds old1..old3: the next messages get seqs 4 and 5 again.
      await sendAll(ben, ['new4', 'new5']);
      expect([...ben.acks.values()].slice(-2)).toEqual([4, 5]);

      const expected = ['1 old1', '2 old2', '3 old3', '4 new4', '5 new5'];
      await waitUntil(
        'both to hold what Redis holds',
        () =>
          JSON.stringify(lines(ann, 'general')) === JSON.stringify(expected) &&
          JSON.stringify(lines(ben, 'general')) === JSON.stringify(expected),
      );
      // Each got `reset` (live, without a ref) and reloaded; then a live message reaches both.
      for (const c of [ann, ben]) expect(c.resets.map((r) => r.room)).toEqual(['general']);
      await sendAll(ann, ['new6']);
      await waitUntil('new6 on both', () => ann.head.get('general') === 6 && ben.head.get('general') === 6);
      expect(lines(ben, 'general').at(-1)).toBe('6 new6');
      // One warning per node for the room.
      for (const node of nodes)
        expect(node.output.match(/the log of room general went back/g)).toHaveLength(1);
      for (const node of nodes) expect((await node.stats()).logRegressions).toBe(1);
    },
  );

  it("answer a client resuming from a seq above the room's new head with reset", async () => {
    const redis = await RedisServer.start(SNAPSHOT_ONLY);
    const [node] = await ChatNode.startMany(1, redis.url);
    const ann = await SimClient.connect(node.origin, 'ann');
    const raw = await connect(redis.url);
    await raw.cmd.call('SAVE');
    for (const text of ['lost1', 'lost2']) {
      const id = ann.send('general', text);
      await waitUntil('ack', () => ann.acks.has(id));
    }
    await waitUntil('delivered', () => ann.head.get('general') === 2);
    ann.close();
    await (raw.cmd as Redis).call('DEBUG', 'RELOAD', 'NOSAVE');
    await raw.close();
    // Reconnecting with head 2 to a room that now has none.
    await ann.connectTo(node.origin);
    await waitUntil('reset', () => ann.resets.length === 1);
    expect(ann.resets[0]).toMatchObject({ room: 'general', head: 0 });
    expect(lines(ann, 'general')).toEqual([]);
  });
});
