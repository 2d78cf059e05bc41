/**
 * What the tests of Redis coming back with less share (lost-writes, resume-after-loss,
 * read-after-loss): a redis-server that snapshots only when asked, the chat's own connections to
 * it, and a client's view of a room.
 */
import { connectRedis } from '../../src/server/backends/redis/connection.js';
import { type SimClient, waitUntil } from './helpers.js';

/** Snapshots only when asked (SAVE); DEBUG allowed from localhost. */
export const SNAPSHOT_ONLY = ['--appendonly', 'no', '--enable-debug-command', 'local'];

/** The chat's own three connections to a Redis (as a node makes them). */
export const connect = (url: string) =>
  connectRedis({ url, connectTimeoutMs: 10_000, commandTimeoutMs: 5000 }, () => {});

/** A SimClient's messages in a room as `seq text`. */
export const lines = (c: SimClient, room: string) => c.messages(room).map((m) => `${m.seq} ${m.text}`);

/** Sends `texts` to general one after the other, each acknowledged; their seqs. */
export async function sendAll(from: SimClient, texts: string[]): Promise<number[]> {
  const seqs = [];
  for (const text of texts) {
    const id = from.send('general', text);
    await waitUntil(`ack of ${text}`, () => from.acks.has(id));
    seqs.push(from.acks.get(id) as number);
  }
  return seqs;
}
