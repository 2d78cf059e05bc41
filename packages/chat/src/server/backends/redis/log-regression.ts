/**
 * Noticing that a room's log on Redis went back: Redis lost acknowledged writes (no AOF and a
 * restart, `everysec` and a crash, a failover to a lagging replica, a restored backup), so the room's
 * counter is below what this node has already delivered and the next events reuse those seqs.
 *
 * Theory of operation
 * - Every entry the append scripts add to a room's stream carries a nonce `n` (unique per append)
 *   and `p`, the nonce of the entry before it; the room's `tip` key holds the last entry's nonce.
 *   Counter, stream and tip change in one script, so every state Redis can come back with (an AOF
 *   or RDB point, a replica's copy) has them agree with each other.
 * - A node remembers, per open room, the seq it delivered last and that entry's nonce (LogPosition).
 *   The log went back if
 *     - the counter is below that seq, or equal to it with another tip (counterWentBack: read with
 *       one MGET for all the node's rooms, now and then and when a hint says so), or
 *     - the entry read right after it names another entry before it (chainBroken: checked on every
 *       entry XREAD returns, at no cost). This catches a room that got more new events than it lost
 *       before any counter check ran, which a counter check alone can no longer see.
 * - Clients (a room disconnected meanwhile is not reset by a node) learn a short tag of each entry
 *   (logTag of its nonce, the event's `tag`) and name the last one when they resume; the node
 *   checks it against the entry at that seq (RedisStore.resumePoint) and answers `reset` if it differs.
 *   A `read` names the tag of the event at its seq too: the read script leaves the marker where it
 *   is if the entry there is another one (RedisStore.markRead), and the room is checked at once.
 * - Entries or positions without a nonce (written before nonces existed) are never taken as
 *   evidence: these checks only say "went back" when the data proves it.
 */

import { createHash } from 'node:crypto';

/**
 * The tag clients see for an entry: 8 base64url characters (48 bits) of a hash of its nonce, so
 * that two entries of one seq (one lost, one new) get the same tag with odds of 2^-48. Nonces of one
 * node share their first characters, so a prefix of the nonce itself would not do.
 */
export function logTag(nonce: string): string {
  return createHash('sha256').update(nonce).digest('base64url').slice(0, 8);
}

/** Where a node stands in a room's log: the last seq it delivered and that entry's nonce. */
export interface LogPosition {
  seq: number;
  /** The nonce of the entry at `seq`; null when unknown (no entry yet, or an entry without one). */
  nonce: string | null;
}

/**
 * The room's counter (and tip: the nonce of its last entry, null if the key is missing) as read
 * now, against what this node delivered: true if the log went back.
 */
export function counterWentBack(delivered: LogPosition, counter: number, tip: string | null): boolean {
  if (counter < delivered.seq) return true;
  // The same seq, but another entry holds it: the events from some seq on were lost and as many
  // new ones were appended since.
  return counter === delivered.seq && delivered.nonce !== null && tip !== delivered.nonce;
}

/**
 * An entry read from the stream (its seq and its `p` field, undefined if it has none) against what
 * this node delivered: true if it is the next seq but does not follow the delivered entry, i.e. the
 * delivered entry is no longer in the log.
 */
export function chainBroken(delivered: LogPosition, seq: number, prev: string | undefined): boolean {
  return (
    seq === delivered.seq + 1 && delivered.nonce !== null && prev !== undefined && prev !== delivered.nonce
  );
}
