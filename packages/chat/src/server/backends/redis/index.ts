/**
 * The several-nodes backend: every port on one shared Redis (README-redis.md).
 *
 *   store      store.ts     accounts, rooms, memberships, logs (Lua scripts, one round trip each)
 *   events     events.ts    committed events: one XREAD loop over the streams of this node's rooms
 *   bus        bus.ts       notices over pub/sub, subscribed per topic while this node needs it
 *   presence   presence.ts  connection ids with expiry, refreshed by their node; swept when it dies
 *   throttle   throttle.ts  rate limits, typing gate and sign-in backoff shared by every node
 */
import { PROTOCOL_VERSION } from '../../../shared/protocol.js';
import type { Backend, BackendOptions } from '../../ports.js';
import { ScanSearch } from '../../search/scan.js';
import { RedisAttachments } from './attachments.js';
import { RedisBus } from './bus.js';
import { connectRedis, type RedisTlsFiles } from './connection.js';
import { PASSES, type Pass } from './done-markers.js';
import { RedisCommittedEvents } from './events.js';
import { type Availability, RedisKeys, redisFailure } from './keys.js';
import { checkPresenceTtl, RedisPresence } from './presence.js';
import { type IndexOutcome, RedisStore } from './store.js';
import { RedisThrottle } from './throttle.js';

export interface RedisBackendOptions {
  /** redis://[user:password@]host:port[/db] (rediss:// for TLS). */
  url: string;
  /**
   * Redis's password, kept out of the URL (connection.ts): the URL may still name an ACL user. A
   * URL with a password and this too is refused, as is an empty one.
   */
  password?: string;
  /** Key prefix (several chats may share one Redis). Default 'chat:'. */
  prefix?: string;
  /** Presence expiry of a dead node's connections, ms. Default 20000. */
  presenceTtlMs?: number;
  /** Approximate events kept per room stream. Default 10000. */
  streamRetention?: number;
  /** rediss:// only: Redis's CA, and a client certificate and key (connection.ts). */
  tls?: RedisTlsFiles;
  /** How long start waits for Redis, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** A command without a reply after this long fails as unavailable, ms. Default 5000. */
  commandTimeoutMs?: number;
  /** Bytes of attachments held in Redis in total (uploads beyond get 507). Default 256 MiB. */
  maxAttachmentBytes?: number;
}

/** A presence notice as the hub and presence.ts write it (room-channel.ts reads it the same way). */
const PRESENCE_NOTICE = /^\{"v":\d+,"type":"presence"/;
/**
 * A read marker moved (hub/local-rooms.ts, UserEvent), as JSON.stringify writes it. (`rooms`, below,
 * is local-rooms.ts's ROOMS_TOPIC: a backend does not import the hub.)
 */
const READ_EVENT = /^\{"op":"read"/;

const KNOWN = new Set([
  'url',
  'password',
  'prefix',
  'presenceTtlMs',
  'streamRetention',
  'connectTimeoutMs',
  'commandTimeoutMs',
  'maxAttachmentBytes',
  'tls',
]);

export async function createRedisBackend(
  options: RedisBackendOptions,
  common: BackendOptions,
): Promise<Backend> {
  for (const key of Object.keys(options))
    if (!KNOWN.has(key)) throw new TypeError(`redis: unknown option "${key}"`);
  const { log } = common;
  // Checked before connecting: a refused start holds no connection.
  if (options.presenceTtlMs !== undefined) checkPresenceTtl(options.presenceTtlMs);
  const redis = await connectRedis(
    {
      url: options.url,
      ...(options.password !== undefined ? { password: options.password } : {}),
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      commandTimeoutMs: options.commandTimeoutMs ?? 5000,
      probeKey: `${options.prefix ?? 'chat:'}probe`,
      ...(options.tls ? { tls: options.tls } : {}),
    },
    log,
  );
  const keys = new RedisKeys(options.prefix ?? 'chat:');
  // A refusal of a reachable Redis (OOM...) makes the node unavailable, as a lost one does.
  const isAvailable: Availability = Object.assign(() => redis.available, {
    refused: (reason: string) => redis.refused(reason),
  });
  const events = new RedisCommittedEvents(redis.cmd, redis.reader, keys, { log });
  const store = new RedisStore(redis.cmd, keys, {
    isAvailable,
    delivered: events,
    log,
    ...(options.streamRetention !== undefined ? { streamRetention: options.streamRetention } : {}),
  });
  // Accounts from before the skeleton keys (or written since by an older node) get theirs, so that
  // a look-alike of them is refused (store.ts, indexSkeletons). In the background, from the start
  // on: it is a SCAN of the whole keyspace (1.1 million keys, 100,000 of them accounts, took about
  // 15 s on a busy 2-core machine), which a start, run again at every restart, should not wait for;
  // until it reaches an old account, a look-alike of it may still sign up. A Redis refusing SCAN
  // (an ACL) or lost meanwhile is a warning: sign-ups still write and check skeleton keys. Skipped
  // once its done-marker is written, as the two below (done-markers.ts).
  let closing: Promise<void> | undefined;
  /**
   * A background index from the start: its state for /_stats (`skipped: done at <ISO time>` where
   * its done-marker said so: done-markers.ts), a failure a warning. A pass done whose marker could
   * not be written is `done`, with a warning of its own: the index is there, the next start runs
   * the pass again.
   */
  const background = (
    pass: Pass,
    run: (stopped: () => boolean) => Promise<IndexOutcome>,
    what: string,
    warning: string,
  ) => {
    const job = { state: 'running' as string, done: Promise.resolve() };
    job.done = run(() => closing !== undefined).then(
      (outcome) => {
        if (typeof outcome !== 'object') job.state = outcome;
        else if ('skipped' in outcome)
          job.state = `skipped: done at ${new Date(outcome.skipped).toISOString()}`;
        else {
          job.state = 'done';
          if (!closing)
            log(
              `chat: indexed ${what}, but could not write the done-marker ${keys.indexDone(PASSES[pass])} (${redisFailure(outcome.unmarked)}); the next start indexes them again`,
              'warning',
            );
        }
      },
      (err: unknown) => {
        job.state = 'failed';
        if (!closing) log(warning.replace('%s', redisFailure(err)), 'warning');
      },
    );
    return job;
  };
  const skeletons = background(
    'skeletons',
    (stopped) => store.indexSkeletons(stopped),
    'the skeletons of existing accounts',
    'chat: could not index the skeletons of existing accounts (%s); a look-alike of an account signed up before this version may be accepted until a node starts and indexes them',
  );
  // Invitations written before the `invites-due` index (or since by a node of that version) are put
  // in it (store.ts, indexInvitations), so the sweep expires them and tells their users, and those
  // declined before `declined:<user>` get their entry there, so a block drops them. In the
  // background from the start, as the skeletons (SCANs of the keyspace); the store's sweep of
  // invitations waits for it. A failure is a warning: the next start indexes them. Skipped once its
  // done-marker is written, as the mentions' below (done-markers.ts).
  const invitations = background(
    'invitations',
    (stopped) => store.indexInvitations(stopped),
    'the pending and declined invitations made before this version',
    'chat: could not index the pending invitations made before this version (%s); they expire once a node starts and indexes them',
  );
  // Mentions written before the per-author mention zsets (or since by a node of that version) get
  // their entry there (store.ts, indexMentions), so that a mention count leaves out those of the
  // authors the reader blocks. In the background from the start, as the skeletons (a SCAN of the
  // keyspace, then each mention zset in bounded steps); until it has gone by a room, a count there
  // may take in such older mentions of a blocked author, as before. A failure is a warning: the
  // next start indexes them.
  const mentions = background(
    'mentions',
    (stopped) => store.indexMentions(stopped),
    'the mentions made before this version by author',
    'chat: could not index the mentions made before this version by author (%s); a mention count may include older mentions by blocked users until a node starts and indexes them',
  );
  const notice = (room: string, user: string, online: boolean) =>
    JSON.stringify({ v: PROTOCOL_VERSION, type: 'presence', room, user, online });
  // A notice whose PUBLISH failed was heard by no node, and none would learn of it otherwise (each
  // resyncs only when its own subscriber comes back). Once Redis is back, a presence notice is told
  // again as it is by then (presence.ts, retell), and a membership change, a deleted room or a
  // sign-out is published again as it was: their listeners check the store before acting
  // (membership.ts onUserEvent, Hub), so one heard late does nothing wrong. The rest are not: a
  // `read` heard late could move a badge back, a room's `member` notice say what no longer holds.
  const bus = new RedisBus(redis.cmd, redis.sub, keys, (topic, payload) => {
    if (topic.startsWith('room:') && PRESENCE_NOTICE.test(payload)) {
      const { room, user } = JSON.parse(payload) as { room: string; user: string };
      presence.retell(room, user);
    } else if (topic === 'rooms' || (topic.startsWith('user:') && !READ_EVENT.test(payload)))
      bus.keep(topic, payload);
  });
  const presence = new RedisPresence(redis.cmd, keys, {
    ...(options.presenceTtlMs !== undefined ? { ttlMs: options.presenceTtlMs } : {}),
    // A dead node's user expired, or a user re-added after an outage: tell the room.
    onChange: (room, user, online) => bus.publish(`room:${room}`, notice(room, user, online)),
    notice: { channel: (room) => bus.channel(`room:${room}`), payload: notice },
    log,
  });
  redis.onChange((available) => {
    if (!available) return;
    void presence.retellPending();
    bus.publishKept();
  });
  const throttle = new RedisThrottle(redis.cmd, keys, common.buckets, common.signInBackoff, isAvailable);
  return {
    name: 'redis',
    accounts: store,
    rooms: store,
    events,
    bus,
    presence,
    throttle,
    // Redis has no word index here: search scans each room's history, newest first, with a
    // budget of messages per request (search/scan.ts).
    search: new ScanSearch(store),
    attachments: new RedisAttachments(
      redis.cmd,
      keys,
      options.maxAttachmentBytes ?? common.maxAttachmentBytesTotal ?? 256 * 1024 * 1024,
      isAvailable,
    ),
    get available() {
      return redis.available;
    },
    onServiceChange: (listener) => redis.onChange(listener),
    stats: () => ({
      backend: 'redis',
      available: redis.available,
      rooms: events.rooms,
      presenceTtlMs: presence.ttlMs,
      skeletonIndex: skeletons.state,
      invitationIndex: invitations.state,
      mentionIndex: mentions.state,
      ...events.stats,
      ...bus.stats,
    }),
    close() {
      closing ??= (async () => {
        await skeletons.done; // stops after the SCAN step it is in
        await invitations.done; // the same
        await mentions.done; // after the step it is in
        presence.close();
        await store.close(); // a deleted room's cleanup step in flight ends first
        await events.stop();
        await redis.close();
      })();
      return closing;
    },
  };
}
