/**
 * A client that was away while Redis lost acknowledged writes, and resumes once the room has
 * reached its old seq again: the nodes never saw it during the loss, so only what it names when it
 * resumes can tell. Each event carries a tag of its log entry; the client names the tag of its last
 * event (`hello` tags, `sync` tag) and the node answers `reset` when the entry at that seq is
 * another one now. A client that names no tag gets the replay it always got.
 *
 * The loss is real: a redis-server without AOF, a SAVE, more writes, `DEBUG RELOAD NOSAVE`.
 * Waits are for what must arrive (or for a node's /_stats to say so); none is a barrier.
 */
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { LOG_TAG } from '../../src/shared/protocol.js';
import { ChatNode, cleanupAll, PATIENCE_MS, RedisServer, SimClient, sleep, waitUntil } from './helpers.js';
import { connect, lines, SNAPSHOT_ONLY, sendAll } from './loss.js';

/** Moves c's read marker in general to `seq` (and waits for the reply). */
async function read(c: SimClient, seq: number): Promise<void> {
  const ref = `read-${seq}`;
  c.request({ type: 'read', ref, room: 'general', seq });
  expect(await c.next('read', (m) => m.ref === ref)).toMatchObject({ seq });
}

/** ben's unread count in general in the last welcome he got. */
function unread(c: SimClient): number | undefined {
  const welcome = c.all.filter((m) => m.type === 'welcome').at(-1);
  return welcome?.type === 'welcome' ? welcome.rooms.find((r) => r.room === 'general')?.unread : undefined;
}

/** Until the node has no connection and reads no room (its /_stats, asked again and again). */
async function idle(node: ChatNode): Promise<void> {
  const start = Date.now();
  for (;;) {
    const stats = await node.stats();
    if (stats.connections === 0 && stats.rooms.length === 0) return;
    if (Date.now() - start > PATIENCE_MS) throw new Error('timed out waiting for the node to be idle');
    await sleep(20);
  }
}

/**
 * ann (node 0) stays; ben (node 1) sees old1..old5 and goes away, and node 1 closes the room. Then
 * `lose` (or nothing), and ann posts three more, so the room passes ben's seq 5.
 */
async function benAway(lose: boolean) {
  const redis = await RedisServer.start(SNAPSHOT_ONLY);
  const nodes = await ChatNode.startMany(2, redis.url);
  const ann = await SimClient.connect(nodes[0].origin, 'ann');
  const ben = await SimClient.connect(nodes[1].origin, 'ben');
  await sendAll(ann, ['old1', 'old2', 'old3']);
  await waitUntil('old3 at ben', () => ben.head.get('general') === 3);
  await read(ben, 3);
  const raw = await connect(redis.url);
  await raw.cmd.call('SAVE');
  await sendAll(ann, ['old4', 'old5']);
  await waitUntil('old5 at ben', () => ben.head.get('general') === 5);
  await read(ben, 5);
  ben.close();
  // Node 1 forgets the room: it cannot have noticed the loss for ben, only his resume can.
  await idle(nodes[1]);
  if (lose) await (raw.cmd as Redis).call('DEBUG', 'RELOAD', 'NOSAVE');
  await raw.close();
  const texts = lose ? ['new4', 'new5', 'new6'] : ['new6', 'new7', 'new8'];
  expect(await sendAll(ann, texts)).toEqual(lose ? [4, 5, 6] : [6, 7, 8]);
  const held = lose
    ? ['1 old1', '2 old2', '3 old3', '4 new4', '5 new5', '6 new6']
    : ['1 old1', '2 old2', '3 old3', '4 old4', '5 old5', '6 new6', '7 new7', '8 new8'];
  // ann stayed connected: her node re-based the room and she reloaded it.
  await waitUntil(
    'ann to hold what Redis holds',
    () => JSON.stringify(lines(ann, 'general')) === JSON.stringify(held),
  );
  return { nodes, ann, ben, held };
}

describe('a client away while Redis lost acknowledged writes resumes after the room passed its seq', () => {
  afterEach(cleanupAll);

  it('names the tag of its last event and gets `reset`; after reloading it holds what Redis holds', async () => {
    const { nodes, ann, ben, held } = await benAway(true);
    const tagBefore = ben.tags.get('general');
    expect(tagBefore).toMatch(LOG_TAG);
    await ben.connectTo(nodes[1].origin);
    await waitUntil(
      'ben to hold what Redis holds',
      () => JSON.stringify(lines(ben, 'general')) === JSON.stringify(held),
    );
    expect(ben.resets).toEqual([{ v: 2, type: 'reset', room: 'general', head: 6 }]);
    // No `synced` for the room: the resume ended with the reset.
    expect(ben.all.filter((m) => m.type === 'synced')).toEqual([]);
    // The reload gave the head's tag; a live message follows as usual.
    expect(ben.tags.get('general')).toMatch(LOG_TAG);
    expect(ben.tags.get('general')).not.toBe(tagBefore);
    await sendAll(ann, ['new7']);
    await waitUntil('new7 at ben', () => ben.head.get('general') === 7);
    expect(lines(ben, 'general')).toEqual([...held, '7 new7']);
    expect((await nodes[1].stats()).logRegressions).toBe(0);
    // His read marker came back from the snapshot with the room (at 3, never above its counter):
    // new4..new6 count as unread.
    expect(unread(ben)).toBe(3);
  });

  it('names no tag (a client from before tags): the replay it always got, with the lost events kept', async () => {
    const { nodes, ben } = await benAway(true);
    ben.sendTags = false;
    await ben.connectTo(nodes[1].origin);
    await waitUntil('new6 at ben', () => ben.head.get('general') === 6);
    expect(ben.resets).toEqual([]);
    // The limit that tags lift: ben still shows old4 and old5, and never gets new4 and new5.
    expect(lines(ben, 'general')).toEqual(['1 old1', '2 old2', '3 old3', '4 old4', '5 old5', '6 new6']);
  });

  it('with nothing lost, names its tag and gets the replay, no reset', async () => {
    const { nodes, ben, held } = await benAway(false);
    await ben.connectTo(nodes[1].origin);
    await waitUntil('new8 at ben', () => ben.head.get('general') === 8);
    expect(ben.resets).toEqual([]);
    expect(lines(ben, 'general')).toEqual(held);
    expect(unread(ben)).toBe(3); // new6..new8, after his marker at 5
    const synced = ben.all.filter((m) => m.type === 'synced');
    expect(synced).toEqual([{ v: 2, type: 'synced', room: 'general', head: 8 }]);

    // `sync` names a tag too: the right one replays, any other is answered with `reset`.
    const tag = ben.tags.get('general') as string;
    ben.request({ type: 'sync', ref: 'same', room: 'general', after: 8, tag });
    expect(await ben.next('synced', (m) => m.ref === 'same')).toMatchObject({ room: 'general', head: 8 });
    const other = tag === 'AAAAAAAA' ? 'BBBBBBBB' : 'AAAAAAAA';
    ben.request({ type: 'sync', ref: 'other', room: 'general', after: 8, tag: other });
    expect(await ben.next('reset', (m) => m.ref === 'other')).toEqual({
      v: 2,
      type: 'reset',
      ref: 'other',
      room: 'general',
      head: 8,
    });
  });
});
