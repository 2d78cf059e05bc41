/**
 * A `read` sent by a client that has not got its `reset` yet, after Redis lost acknowledged writes
 * and new messages took the lost seqs: the client names seqs it saw with other events. With the tag
 * of the event at its seq (as the page sends it) the node sees that the log no longer holds that
 * event and leaves the marker where it is; the new messages stay unread. A `read` without a tag
 * (a client from before tags) marks them, as it always did.
 *
 * The loss is real: a redis-server without AOF, a SAVE, more writes, `DEBUG RELOAD NOSAVE` (the
 * connections stay open, so only the nodes' checks can notice). Waits are for what must arrive.
 */
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { LOG_TAG } from '../../src/shared/protocol.js';
import { ChatNode, cleanupAll, RedisServer, SimClient, waitUntil } from './helpers.js';
import { connect, lines, SNAPSHOT_ONLY, sendAll } from './loss.js';

let reads = 0;
/** Asks to move c's read marker in general to `seq` (naming `tag` if given); the marker now. */
async function read(c: SimClient, seq: number, tag?: string): Promise<number> {
  const ref = `read${++reads}`;
  c.request({ type: 'read', ref, room: 'general', seq, ...(tag === undefined ? {} : { tag }) });
  return (await c.next('read', (m) => m.ref === ref)).seq;
}

/** c's unread count in general in the welcome of a new connection to `origin`. */
async function unreadOnReconnect(c: SimClient, origin: string): Promise<number | undefined> {
  c.close();
  await c.connectTo(origin);
  const welcome = c.all.filter((m) => m.type === 'welcome').at(-1);
  return welcome?.type === 'welcome' ? welcome.rooms.find((r) => r.room === 'general')?.unread : undefined;
}

describe("a read sent before the client got its reset, after Redis lost what the read's seq was", () => {
  afterEach(cleanupAll);

  it('names the tag of its event: the marker stays, the new messages stay unread; without a tag they are marked', async () => {
    const redis = await RedisServer.start(SNAPSHOT_ONLY);
    const nodes = await ChatNode.startMany(2, redis.url);
    const ann = await SimClient.connect(nodes[0].origin, 'ann');
    const ben = await SimClient.connect(nodes[1].origin, 'ben');
    const cal = await SimClient.connect(nodes[1].origin, 'cal');
    await sendAll(ann, ['old1', 'old2', 'old3']);
    await waitUntil(
      'old3 at ben and cal',
      () => ben.head.get('general') === 3 && cal.head.get('general') === 3,
    );
    for (const c of [ben, cal]) expect(await read(c, 3, c.tags.get('general'))).toBe(3);
    const raw = await connect(redis.url);
    await raw.cmd.call('SAVE');
    await sendAll(ann, ['old4', 'old5']);
    await waitUntil(
      'old5 at ben and cal',
      () => ben.head.get('general') === 5 && cal.head.get('general') === 5,
    );
    const tag5 = ben.tags.get('general') as string;
    expect(tag5).toMatch(LOG_TAG);

    // Redis comes back with old1..old3 (and both markers at 3); new4 and new5 take seqs 4 and 5.
    await (raw.cmd as Redis).call('DEBUG', 'RELOAD', 'NOSAVE');
    await raw.close();
    expect(await sendAll(ann, ['new4', 'new5'])).toEqual([4, 5]);

    // ben's page has shown old4 and old5 and marks them read, naming old5's tag. Whether node 1 has
    // noticed the loss by now (its check runs every 2 s) or not, the read must not mark new4, new5.
    expect(await read(ben, 5, tag5)).toBe(3);
    // cal's client names no tag: it marks seq 5, new4 and new5 with it (the limit tags lift).
    expect(await read(cal, 5)).toBe(5);

    // The node says `reset` (the tagged read made it check the room at once, else its next check
    // does); ben reloads the room and marks what he now shows.
    const held = ['1 old1', '2 old2', '3 old3', '4 new4', '5 new5'];
    await waitUntil(
      'ben to hold what Redis holds',
      () => JSON.stringify(lines(ben, 'general')) === JSON.stringify(held),
    );
    expect(ben.resets.map((r) => ({ room: r.room, head: r.head }))).toEqual([{ room: 'general', head: 5 }]);
    expect(await unreadOnReconnect(ben, nodes[1].origin)).toBe(2);
    expect(await unreadOnReconnect(cal, nodes[1].origin)).toBe(0);
    const tagNow = ben.tags.get('general') as string;
    expect(tagNow).toMatch(LOG_TAG);
    expect(tagNow).not.toBe(tag5);
    expect(await read(ben, 5, tagNow)).toBe(5);
    expect(await unreadOnReconnect(ben, nodes[1].origin)).toBe(0);
  });
});
