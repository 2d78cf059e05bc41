/**
 * The done-markers of the start's older-layout passes (store.ts, indexSkeletons, indexInvitations,
 * indexMentions): `index:<pass>:v<n>` holds the time (ms) a full pass ended with no node of an older
 * version connected; a start that finds it skips the pass.
 *
 * Theory of operation
 * - A pass rewrites what nodes of versions before a layout wrote (accounts without their
 *   `skeleton:<s>` key, invitations without `invites-due` or `declined:<user>`, mentions without
 *   the per-author zsets). Nodes of this version never write those layouts; nodes of an older
 *   version still running in a rolling upgrade do, at any time (the accounts: only a version before
 *   the skeleton keys, which signs up with SET NX of user:<name> alone; every version since writes
 *   the skeleton key with the account, as SIGN_UP does).
 * - So the marker is written only when no such node is connected to Redis, before the pass and
 *   after it: every connection of a node of this version is named `<role>@<NODE_LAYOUT>`
 *   (connection.ts); every older version named them `chat-cmd`, `chat-reader` and `chat-sub`
 *   (since the first Redis store), which CLIENT LIST shows. During an upgrade the passes run at
 *   every start, as before; the first start once every node runs this version writes the marker.
 * - A Redis that refuses CLIENT LIST (an ACL) cannot tell: no marker, the passes run at every start.
 * - A marker whose write fails (a Redis at maxmemory with noeviction, a lost connection) leaves the
 *   pass done and unmarked: its own warning (index.ts), and the next start runs the pass again.
 * - What CLIENT LIST cannot show: an older node with no connection open at either check (cut off
 *   from Redis then, or started and stopped between them). What it writes past the pass's SCAN is
 *   covered by no start once the marker is written: as after a downgrade, DEL the marker.
 * - A node of an older version started again after the marker (a downgrade) writes older layouts
 *   the marker does not cover: DEL the marker keys once it is gone (README-redis.md).
 * - A later layout change bumps its pass's `v<n>`, so a marker of the layout before does not skip
 *   it, and NODE_LAYOUT, so the nodes of this version count as older then. A change of
 *   nameSkeleton (name-skeleton.ts) is one for `skeletons:v<n>`: the keys of the accounts from
 *   before would hold the old skeletons.
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './keys.js';

/** What the connections of a node of this version are named after (`chat-cmd@2`...). */
export const NODE_LAYOUT = 2;

/** The name of a node's connection: `chat-cmd@2`, `chat-reader@2`, `chat-sub@2`. */
export const connectionName = (role: 'cmd' | 'reader' | 'sub') => `chat-${role}@${NODE_LAYOUT}`;

/** The start's passes over older layouts, by their marker's name (keys.ts, indexDone). */
export const PASSES = {
  skeletons: 'skeletons:v1',
  invitations: 'invitations:v1',
  mentions: 'mentions:v1',
} as const;
export type Pass = keyof typeof PASSES;

/** A connection CLIENT LIST shows of a node of a version before NODE_LAYOUT. */
const OLDER_NODE = /(?:^| )name=chat-(?:cmd|reader|sub)(?:@(\d+))?(?: |$)/gm;

/**
 * Whether a node of an older version may be connected: one of its connections is in CLIENT LIST,
 * or Redis refuses CLIENT LIST (nothing can be told then). Other failures throw (the pass fails).
 */
export async function olderNodeConnected(redis: Redis): Promise<boolean> {
  let list: string;
  try {
    list = String(await redis.client('LIST'));
  } catch (err) {
    if ((err as { name?: string }).name === 'ReplyError') return true;
    throw err;
  }
  for (const [, layout] of list.matchAll(OLDER_NODE))
    if (layout === undefined || Number(layout) < NODE_LAYOUT) return true;
  return false;
}

/** When the pass's marker says it was done (ms), or null: the pass runs. */
export async function doneAt(redis: Redis, keys: RedisKeys, pass: Pass): Promise<number | null> {
  const raw = await redis.get(keys.indexDone(PASSES[pass]));
  const at = raw === null ? Number.NaN : Number(raw);
  return Number.isFinite(at) ? at : null;
}

/** Writes the pass's marker, done at `at`. */
export async function markDone(redis: Redis, keys: RedisKeys, pass: Pass, at: number): Promise<void> {
  await redis.set(keys.indexDone(PASSES[pass]), String(at));
}
