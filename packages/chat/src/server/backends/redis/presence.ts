/**
 * Presence across nodes on Redis, right when a node dies.
 *
 * Theory of operation
 * - Per room, `presence:{room}` is a sorted set of users scored by the time (Redis's clock, ms)
 *   until which they count as online, and `presence:{room}:<user>` a sorted set of that user's
 *   connection ids scored by their own expiry. Invariant: a user's score in the room set is at
 *   least the expiry of each of their connections (every write does ZADD GT on it).
 * - A node refreshes the expiry of its own connections every ttl/3 (the heartbeat). A node that
 *   dies stops refreshing, so its connections expire within `ttlMs`; every node sweeps the rooms it
 *   has connections in on the same tick, removes users whose score has passed, and announces them
 *   offline (`onChange(room, user, false)`); the ZREM decides which node announces, so it happens
 *   once. A user of a dead node therefore leaves every online list within ttl + ttl/3.
 * - add()/remove() keep the hub's contract (first connection in / last one out) across nodes. A
 *   refresh that finds its user gone (Redis was unreachable longer than the ttl and another node
 *   swept them) adds them back and announces them online again.
 * - The room set never expires by time (PERSIST, for a set an earlier version gave a TTL): its
 *   users leave it only through REMOVE or a SWEEP, which announce them, and Redis drops the set
 *   when it is empty. An expiry would take away unannounced the users who left while no node could
 *   reach Redis (Redis down longer than the expiry): the clients that saw them online would keep
 *   them online for good. The users' connection sets may expire (ttl * 2): the room set's score is
 *   what a sweep reads.
 * - `presence-rooms` scores each room by the latest expiry written to its set (every ADD and
 *   REFRESH raises it with ZADD GT), so a room scored in the past has only expired users. Each beat
 *   also sweeps (ORPHANS) up to ORPHANS_PER_BEAT rooms scored more than a ttl in the past (and
 *   ORPHAN_USERS_PER_BEAT users of them), whether or not this node has a connection there: a set
 *   whose remove failed and whose nodes all left or died is swept and its users announced offline
 *   like any other, instead of staying for good. The
 *   extra ttl leaves the nodes that do have connections there three beats after their users'
 *   expiry to refresh them first, so they are not announced offline and back online.
 * - After an outage of Redis longer than about 1.5 ttl every entry has expired, and the first node
 *   back would sweep (its rooms, ORPHANS) users whose own node has not refreshed them yet: they
 *   would be announced offline and, at that node's next beat, online again. So a node whose beat
 *   failed (it lost Redis) sweeps nothing from then until GRACE_BEATS beats after its first one back
 *   (about a ttl): those beats refresh its own connections only, and by their end every node back
 *   at about the same moment has refreshed its users (within a beat of its return). Meanwhile its
 *   online() is the room set as it is, expired users included (no sweep has said they left), so the
 *   resync after the outage (room-channel.ts) tells no one offline; and its notices to tell again
 *   (retell) wait too, since ANNOUNCE would read an unrefreshed user as offline. A node that did not
 *   lose Redis sweeps as before, so the users of a node partitioned away alone are still swept by
 *   the others. The cost: a user who left, or whose node died, while Redis was down is announced
 *   offline up to a ttl later (within ttl + ttl/3 of Redis's return rather than ttl/3), and a notice
 *   lost meanwhile is told again that much later. Any failed beat starts it, a short blip too, so a
 *   node that dies about then may also go up to a ttl late if every node saw the blip; otherwise a
 *   node that dies while Redis is up keeps the ttl + ttl/3 bound.
 * - A room set written by a version before `presence-rooms` has no entry there, so ORPHANS never
 *   finds it. From its first beat, each node looks for such sets (INDEX): one SCAN step a beat
 *   (MATCH on the room sets' key pattern, COUNT INDEX_SCAN_COUNT), its cursor kept for the next
 *   beat, until the scan is through; a set found without an entry gets one, scored by its latest
 *   expiry, so the orphan sweep takes it like any other. Entries are only added where none is
 *   (ZADD NX): what the other scripts wrote is never lowered.
 * - A presence notice whose PUBLISH failed (this node's command connection dropped between the
 *   write and the notice) is not lost: retell(room, user) keeps it, and when the command connection
 *   is back (retellPending, and every beat until it succeeds) one script reads the user's presence
 *   and PUBLISHes it (ANNOUNCE). Read and publish are one step on Redis, so a change made by another
 *   node after it is published after it too: what the room hears last is the truth.
 * - All times come from Redis (TIME inside the scripts), so the nodes' clocks do not matter.
 * - remove() never fails: if Redis is unreachable the connection is forgotten locally, no longer
 *   refreshed, and expires like a dead node's.
 */
import type { Redis } from 'ioredis';
import type { Log, Presence } from '../../ports.js';
import type { RedisKeys } from './keys.js';
import { globEscape, redisFailure, toStoreError } from './keys.js';

export interface RedisPresenceOptions {
  /** A connection not refreshed for this long is offline. Default 20000 (so gone within 30 s). */
  ttlMs?: number;
  /** Called when a user comes online or goes offline in a room other than through add/remove. */
  onChange?: (room: string, user: string, online: boolean) => void;
  /**
   * The channel and the payload of a room's presence notice, for ANNOUNCE (retell). Default: none
   * (retell keeps nothing).
   */
  notice?: { channel(room: string): string; payload(room: string, user: string, online: boolean): string };
  log?: Log;
}

/**
 * How long a sweep's mark of a user it took out of a room set (and announced offline) lasts. The
 * set's users are announced offline by the node whose sweep removed them, but a node whose command
 * connection hung (a network partition, a stalled Redis) may have a REFRESH of theirs still in
 * flight: it runs when the connection is back, after the node gave up waiting for its reply, and
 * puts them back in the set unannounced. The next REFRESH then finds them online and announced no
 * one: every client would show them offline while they are there. So a sweep marks whom it took
 * out (`room:{r}:presence-swept`, user -> when), REFRESH answers "back" while the mark is there, and
 * the node clears the mark (UNMARK) only after it announced them online. A connection's reply can
 * be held back only as long as TCP keeps retransmitting (about 15 minutes by default on Linux): an
 * hour is ample, and the key goes an hour after the room's last sweep.
 */
const SWEPT_MARK_MS = 3_600_000;
/** The swept marks' key: the room set's key followed by this. */
const SWEPT_SUFFIX = '-swept';

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// KEYS: 1 room set, 2 user's connection set, 3 presence-rooms. ARGV: 1 user, 2 conn, 3 ttl, 4 room.
// -> 1 if first.
const ADD = `${NOW}
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local first = (not score) or tonumber(score) < now
redis.call('ZADD', KEYS[2], now + ttl, ARGV[2])
redis.call('ZADD', KEYS[1], 'GT', now + ttl, ARGV[1])
redis.call('ZADD', KEYS[3], 'GT', now + ttl, ARGV[4])
redis.call('PEXPIRE', KEYS[2], ttl * 2)
redis.call('PERSIST', KEYS[1])
if first then return 1 end
return 0
`;

// KEYS: 1 room set, 2 user's connection set, 3 swept marks. ARGV: 1 user, 2 conn. -> 1 if it was
// the last (the caller announces them offline, so a mark of an earlier sweep has served).
const REMOVE = `${NOW}
local removed = redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if removed == 0 then return 0 end
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
`;

// KEYS: 1 room set, 2 user's connection set, 3 presence-rooms, 4 swept marks. ARGV: 1 user, 2 ttl,
// 3 room, 4.. conns. -> {1 if re-added or marked swept, the mark ('' if none)}. The mark stays: the
// caller clears it (UNMARK) once it has announced the user online, so a REFRESH whose reply was lost
// (it ran after the node's command timed out) does not take it along.
const REFRESH = `${NOW}
local ttl = tonumber(ARGV[2])
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local mark = redis.call('HGET', KEYS[4], ARGV[1])
local back = (not score) or tonumber(score) < now or mark
for i = 4, #ARGV do redis.call('ZADD', KEYS[2], now + ttl, ARGV[i]) end
redis.call('ZADD', KEYS[1], 'GT', now + ttl, ARGV[1])
redis.call('ZADD', KEYS[3], 'GT', now + ttl, ARGV[3])
redis.call('PEXPIRE', KEYS[2], ttl * 2)
redis.call('PERSIST', KEYS[1])
if back then return {1, mark or ''} end
return {0, ''}
`;

// KEYS: 1 swept marks. ARGV: 1 user, 2 the mark REFRESH returned. Clears it if no sweep wrote
// another since.
const UNMARK = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`;

// Marks `user` swept from a room set (its swept marks `key`): see SWEPT_MARK_MS.
const MARK = `
local function markSwept(key, user, now)
  redis.call('HSET', key, user, now)
  redis.call('PEXPIRE', key, ${SWEPT_MARK_MS})
end
`;

// KEYS: 1 room set, 2 swept marks. ARGV: 1 prefix of the users' connection sets. -> users that
// expired.
const SWEEP = `${NOW}${MARK}
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
  for _, user in ipairs(gone) do
    redis.call('DEL', ARGV[1] .. user)
    markSwept(KEYS[2], user, now)
  end
end
return gone
`;

// KEYS: 1 room set. -> users online now.
const ONLINE = `${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
`;

// KEYS: 1 presence-rooms. ARGV: 1 the room sets' key up to the room's name, 2 what follows it,
// 3 grace (ms), 4 most rooms, 5 most users. -> room, user, room, user... of the users that expired.
// A room scored more than `grace` in the past: every user in its set expired (the score is the
// latest expiry written to it). A set that turns out to hold a later score (written without this
// index) gets that score back in the index instead of being looked at on every beat. At most
// `most users` leave in one run (a script blocks every node: SECURITY.md): a set with more expired
// users keeps its old score, so the next run takes it first and goes on.
const ORPHANS = `${NOW}${MARK}
local rooms = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[3])), 'LIMIT', 0, tonumber(ARGV[4]))
local budget = tonumber(ARGV[5])
local out = {}
for _, room in ipairs(rooms) do
  if budget <= 0 then break end
  local set = ARGV[1] .. room .. ARGV[2]
  local gone = redis.call('ZRANGEBYSCORE', set, '-inf', '(' .. now, 'LIMIT', 0, budget)
  budget = budget - #gone
  for _, user in ipairs(gone) do
    redis.call('ZREM', set, user)
    redis.call('DEL', set .. ':' .. user)
    markSwept(set .. '${SWEPT_SUFFIX}', user, now)
    out[#out + 1] = room
    out[#out + 1] = user
  end
  local last = redis.call('ZRANGE', set, -1, -1, 'WITHSCORES')
  if #last == 0 then redis.call('ZREM', KEYS[1], room)
  else redis.call('ZADD', KEYS[1], 'GT', last[2], room) end
end
return out
`;

// KEYS: 1 presence-rooms. ARGV: 1 the room sets' key up to the room's name, 2 what follows it,
// 3.. rooms whose set a SCAN found. -> how many entries it added. A set with no entry gets one,
// scored by the latest expiry in it (what ADD and REFRESH would have written).
const INDEX = `
local added = 0
for i = 3, #ARGV do
  local set = ARGV[1] .. ARGV[i] .. ARGV[2]
  if not redis.call('ZSCORE', KEYS[1], ARGV[i]) and redis.call('TYPE', set).ok == 'zset' then
    local last = redis.call('ZRANGE', set, -1, -1, 'WITHSCORES')
    if #last > 0 then added = added + redis.call('ZADD', KEYS[1], 'NX', last[2], ARGV[i]) end
  end
end
return added
`;

// KEYS: 1 room set. ARGV: 1 user, 2 channel, 3 the notice if online, 4 if offline. -> 1 if online.
const ANNOUNCE = `${NOW}
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) >= now then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
redis.call('PUBLISH', ARGV[2], ARGV[4])
return 0
`;

/** Rooms one beat sweeps at most for orphans (ORPHANS); the rest wait for the next beats. */
const ORPHANS_PER_BEAT = 100;
/** Users one beat sweeps at most from those rooms, all together; the rest wait for the next beats. */
const ORPHAN_USERS_PER_BEAT = 1000;

/**
 * Beats of a node back from losing Redis that refresh its connections and sweep nothing (the first
 * one back included): about one ttl (a beat every ttl/3), so every node back at about the same
 * moment has refreshed its own users before any of them sweeps.
 */
const GRACE_BEATS = 3;

/** Keys one beat's SCAN step asks for (INDEX); a hint to Redis, which may answer a few more. */
const INDEX_SCAN_COUNT = 100;

/** Redis refused the command itself (ACL `NOPERM`, or renamed away), as opposed to failing it. */
function refusedCommand(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return message.startsWith('NOPERM') || message.startsWith('ERR unknown command');
}

type Commands = {
  presenceAdd(...args: (string | number)[]): Promise<number>;
  presenceRemove(...args: (string | number)[]): Promise<number>;
  presenceRefresh(...args: (string | number)[]): Promise<[number, string]>;
  presenceUnmark(...args: (string | number)[]): Promise<number>;
  presenceSweep(...args: (string | number)[]): Promise<string[]>;
  presenceOnline(...args: (string | number)[]): Promise<string[]>;
  presenceOrphans(...args: (string | number)[]): Promise<string[]>;
  presenceAnnounce(...args: (string | number)[]): Promise<number>;
  presenceIndex(...args: (string | number)[]): Promise<number>;
};

/** The longest delay a Node timer takes (a longer one fires after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A presence ttl as RedisPresence takes it, else a TypeError. At most a Node timer's delay: a
 * longer one made the refresh (every ttl/3) fire every 1 ms past 3 times that, and node's warning
 * was all an operator saw.
 */
export function checkPresenceTtl(ttlMs: number): number {
  if (!Number.isInteger(ttlMs) || ttlMs < 300 || ttlMs > MAX_TIMER_MS)
    throw new TypeError(`RedisPresence: ttlMs must be an integer from 300 to ${MAX_TIMER_MS}`);
  return ttlMs;
}

export class RedisPresence implements Presence {
  readonly #redis: Redis & Commands;
  readonly #keys: RedisKeys;
  readonly #ttl: number;
  readonly #onChange: (room: string, user: string, online: boolean) => void;
  readonly #log: Log;
  readonly #notice: RedisPresenceOptions['notice'];
  /** Rooms and users whose presence notice could not be published: room -> users (retell). */
  readonly #untold = new Map<string, Set<string>>();
  #retelling = false;
  /** This node's connections: room -> user -> connection ids. */
  readonly #local = new Map<string, Map<string, Set<string>>>();
  readonly #timer: NodeJS.Timeout;
  #beating = false;
  /** A beat failed (Redis unreachable) and none has succeeded since. */
  #lost = false;
  /** Beats left, after the first one back, that refresh without sweeping (GRACE_BEATS). */
  #grace = 0;
  /** The SCAN cursor of the look for room sets without an index entry (INDEX); null once through. */
  #indexCursor: string | null = '0';

  constructor(redis: Redis, keys: RedisKeys, options: RedisPresenceOptions = {}) {
    this.#keys = keys;
    this.#ttl = checkPresenceTtl(options.ttlMs ?? 20_000);
    this.#onChange = options.onChange ?? (() => {});
    this.#log = options.log ?? (() => {});
    this.#notice = options.notice;
    const define = (name: string, lua: string, keys: number) => {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: keys, lua });
    };
    define('presenceAdd', ADD, 3);
    define('presenceRemove', REMOVE, 3);
    define('presenceRefresh', REFRESH, 4);
    define('presenceUnmark', UNMARK, 1);
    define('presenceSweep', SWEEP, 2);
    define('presenceOnline', ONLINE, 1);
    define('presenceOrphans', ORPHANS, 1);
    define('presenceAnnounce', ANNOUNCE, 1);
    define('presenceIndex', INDEX, 1);
    this.#redis = redis as Redis & Commands;
    this.#timer = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.#ttl / 3)));
    this.#timer.unref();
  }

  get ttlMs(): number {
    return this.#ttl;
  }

  #roomKey(room: string): string {
    return this.#keys.room(room, 'presence');
  }

  #sweptKey(room: string): string {
    return this.#roomKey(room) + SWEPT_SUFFIX;
  }

  #userKey(room: string, user: string): string {
    return this.#keys.room(room, `presence:${user}`);
  }

  async add(room: string, user: string, connId: string): Promise<boolean> {
    let users = this.#local.get(room);
    if (!users) {
      users = new Map();
      this.#local.set(room, users);
    }
    let conns = users.get(user);
    if (!conns) {
      conns = new Set();
      users.set(user, conns);
    }
    conns.add(connId);
    try {
      return (
        (await this.#redis.presenceAdd(
          this.#roomKey(room),
          this.#userKey(room, user),
          this.#keys.presenceRooms(),
          user,
          connId,
          this.#ttl,
          room,
        )) === 1
      );
    } catch (err) {
      throw toStoreError(err);
    }
  }

  async remove(room: string, user: string, connId: string): Promise<boolean> {
    const users = this.#local.get(room);
    const conns = users?.get(user);
    if (conns?.delete(connId) && conns.size === 0) {
      users?.delete(user);
      if (users?.size === 0) this.#local.delete(room);
    }
    try {
      return (
        (await this.#redis.presenceRemove(
          this.#roomKey(room),
          this.#userKey(room, user),
          this.#sweptKey(room),
          user,
          connId,
        )) === 1
      );
    } catch (err) {
      // Not removed, or removed with the reply lost (Redis ran it after the command timed out):
      // then the user is out of the set and no one would announce it. The room is told the
      // user's presence as Redis has it once it answers (retell); an entry not removed expires.
      this.retell(room, user);
      this.#log(
        `chat: presence remove failed (${redisFailure(err)}); the entry expires if it was not removed, and the room is told once Redis answers`,
        'error',
      );
      return false;
    }
  }

  async online(room: string): Promise<string[]> {
    try {
      // Back from losing Redis: a user not yet refreshed by their node is not gone until a sweep
      // says so, so the list is the set's users as they are (the resync then tells no one offline).
      if (this.#settling) return (await this.#redis.zrange(this.#roomKey(room), '0', '-1')).sort();
      return (await this.#redis.presenceOnline(this.#roomKey(room))).sort();
    } catch (err) {
      throw toStoreError(err);
    }
  }

  /** This node lost Redis and is not GRACE_BEATS beats past its return: it sweeps nothing. */
  get #settling(): boolean {
    return this.#lost || this.#grace > 0;
  }

  /**
   * One heartbeat: refresh this node's connections, then sweep expired users of its rooms. Back from
   * losing Redis, the first GRACE_BEATS beats only refresh (see the theory of operation).
   */
  async beat(): Promise<void> {
    if (this.#beating) return;
    this.#beating = true;
    const settling = this.#settling;
    try {
      // Redis answers again (a node without connections sends nothing else while settling).
      if (this.#lost) await this.#redis.ping();
      for (const [room, users] of [...this.#local]) {
        // Sent together (one pipelined write), answered in order.
        const refreshed = [...users]
          .filter(([, conns]) => conns.size > 0)
          .map(async ([user, conns]) => {
            const [back, mark] = await this.#redis.presenceRefresh(
              this.#roomKey(room),
              this.#userKey(room, user),
              this.#keys.presenceRooms(),
              this.#sweptKey(room),
              user,
              this.#ttl,
              room,
              ...conns,
            );
            if (back !== 1) return;
            this.#onChange(room, user, true);
            if (mark !== '') await this.#redis.presenceUnmark(this.#sweptKey(room), user, mark);
          });
        await Promise.all(refreshed);
        if (settling) continue;
        const gone = await this.#redis.presenceSweep(
          this.#roomKey(room),
          this.#sweptKey(room),
          this.#userKey(room, ''),
        );
        for (const user of gone) this.#onChange(room, user, false);
      }
      if (settling) {
        if (this.#lost) this.#grace = GRACE_BEATS;
        this.#lost = false;
        this.#grace--;
        return;
      }
      // A room's set key around its name (a name never holds a newline: validate.ts).
      const [head, tail] = this.#roomKey('\n').split('\n');
      try {
        await this.#indexStep(head, tail);
      } catch (err) {
        // SCAN refused (an ACL without it, or a renamed command) would otherwise fail every beat
        // here, before the sweep and the re-told notices: the look is given up, said once. Any
        // other failure keeps the cursor, and the steps below find out for themselves.
        if (refusedCommand(err)) {
          this.#indexCursor = null;
          this.#log(
            `chat: presence: Redis refused SCAN (${(err as Error).message}); room sets written before the presence-rooms index are swept only by nodes with a connection in their room`,
            'warning',
          );
        }
      }
      const orphans = await this.#redis.presenceOrphans(
        this.#keys.presenceRooms(),
        head,
        tail,
        this.#ttl,
        ORPHANS_PER_BEAT,
        ORPHAN_USERS_PER_BEAT,
      );
      for (let i = 0; i + 1 < orphans.length; i += 2) this.#onChange(orphans[i], orphans[i + 1], false);
      await this.retellPending();
    } catch {
      // Redis is unreachable: the next beat tries again (entries expire meanwhile, see above).
      this.#lost = true;
      this.#grace = 0;
    } finally {
      this.#beating = false;
    }
  }

  /**
   * One bounded step of the look for room sets an earlier version wrote without an entry in
   * `presence-rooms` (INDEX): one SCAN from the cursor the last step left, and one script for what
   * it found. A failed step keeps its cursor, so the next beat does it again.
   */
  async #indexStep(head: string, tail: string): Promise<void> {
    if (this.#indexCursor === null) return;
    const [cursor, keys] = await this.#redis.scan(
      this.#indexCursor,
      'MATCH',
      `${globEscape(head)}*${globEscape(tail)}`,
      'COUNT',
      INDEX_SCAN_COUNT,
    );
    // A user's connection set never matches (its key ends with the user's name, never with a '}').
    const rooms = keys
      .map((key) => key.slice(head.length, key.length - tail.length))
      .filter((room) => !room.includes('}'));
    if (rooms.length > 0) await this.#redis.presenceIndex(this.#keys.presenceRooms(), head, tail, ...rooms);
    this.#indexCursor = cursor === '0' ? null : cursor;
  }

  /** The look for room sets without an index entry is through (tests). */
  get indexed(): boolean {
    return this.#indexCursor === null;
  }

  /**
   * The presence notice of `user` in `room` could not be published (the command connection
   * dropped): it is told again, as it is by then, once Redis answers (retellPending).
   */
  retell(room: string, user: string): void {
    if (!this.#notice) return;
    let users = this.#untold.get(room);
    if (!users) {
      users = new Set();
      this.#untold.set(room, users);
    }
    users.add(user);
  }

  /** Users whose presence notice waits to be told again (tests, /_stats). */
  get untold(): number {
    let n = 0;
    for (const users of this.#untold.values()) n += users.size;
    return n;
  }

  /**
   * Publishes the presence, as Redis has it now, of each user whose notice was lost (ANNOUNCE: read
   * and PUBLISH in one step). Called when the command connection is back and by every beat; one at
   * a time; what fails stays for the next call. Never rejects.
   */
  async retellPending(): Promise<void> {
    const notice = this.#notice;
    // Settling: a user not yet refreshed by their node would be told offline (a beat tells later).
    if (!notice || this.#retelling || this.#untold.size === 0 || this.#settling) return;
    this.#retelling = true;
    try {
      for (const [room, users] of [...this.#untold]) {
        for (const user of [...users]) {
          await this.#redis.presenceAnnounce(
            this.#roomKey(room),
            user,
            notice.channel(room),
            notice.payload(room, user, true),
            notice.payload(room, user, false),
          );
          users.delete(user);
        }
        if (users.size === 0) this.#untold.delete(room);
      }
    } catch {
      // Redis is unreachable again: the next beat, or its return, tries again.
    } finally {
      this.#retelling = false;
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
