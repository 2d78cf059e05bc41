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
 *   them online for good. A set whose nodes all died stays until a node has a connection in the
 *   room again and sweeps it (one small key per such room). The users' connection sets may
 *   expire (ttl * 2): the room set's score is what a sweep reads.
 * - All times come from Redis (TIME inside the scripts), so the nodes' clocks do not matter.
 * - remove() never fails: if Redis is unreachable the connection is forgotten locally, no longer
 *   refreshed, and expires like a dead node's.
 */
import type { Redis } from 'ioredis';
import type { Presence } from '../../ports.js';
import type { RedisKeys } from './keys.js';
import { toStoreError } from './keys.js';

export interface RedisPresenceOptions {
  /** A connection not refreshed for this long is offline. Default 20000 (so gone within 30 s). */
  ttlMs?: number;
  /** Called when a user comes online or goes offline in a room other than through add/remove. */
  onChange?: (room: string, user: string, online: boolean) => void;
  log?: (line: string) => void;
}

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// KEYS: 1 room set, 2 user's connection set. ARGV: 1 user, 2 conn, 3 ttl. -> 1 if first.
const ADD = `${NOW}
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local first = (not score) or tonumber(score) < now
redis.call('ZADD', KEYS[2], now + ttl, ARGV[2])
redis.call('ZADD', KEYS[1], 'GT', now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl * 2)
redis.call('PERSIST', KEYS[1])
if first then return 1 end
return 0
`;

// KEYS: 1 room set, 2 user's connection set. ARGV: 1 user, 2 conn. -> 1 if it was the last.
const REMOVE = `${NOW}
local removed = redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if removed == 0 then return 0 end
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
return 1
`;

// KEYS: 1 room set, 2 user's connection set. ARGV: 1 user, 2 ttl, 3.. conns. -> 1 if re-added.
const REFRESH = `${NOW}
local ttl = tonumber(ARGV[2])
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
local back = (not score) or tonumber(score) < now
for i = 3, #ARGV do redis.call('ZADD', KEYS[2], now + ttl, ARGV[i]) end
redis.call('ZADD', KEYS[1], 'GT', now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[2], ttl * 2)
redis.call('PERSIST', KEYS[1])
if back then return 1 end
return 0
`;

// KEYS: 1 room set. ARGV: 1 prefix of the users' connection sets. -> users that expired.
const SWEEP = `${NOW}
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
  for _, user in ipairs(gone) do redis.call('DEL', ARGV[1] .. user) end
end
return gone
`;

// KEYS: 1 room set. -> users online now.
const ONLINE = `${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
`;

type Commands = {
  presenceAdd(...args: (string | number)[]): Promise<number>;
  presenceRemove(...args: (string | number)[]): Promise<number>;
  presenceRefresh(...args: (string | number)[]): Promise<number>;
  presenceSweep(...args: (string | number)[]): Promise<string[]>;
  presenceOnline(...args: (string | number)[]): Promise<string[]>;
};

export class RedisPresence implements Presence {
  readonly #redis: Redis & Commands;
  readonly #keys: RedisKeys;
  readonly #ttl: number;
  readonly #onChange: (room: string, user: string, online: boolean) => void;
  readonly #log: (line: string) => void;
  /** This node's connections: room -> user -> connection ids. */
  readonly #local = new Map<string, Map<string, Set<string>>>();
  readonly #timer: NodeJS.Timeout;
  #beating = false;

  constructor(redis: Redis, keys: RedisKeys, options: RedisPresenceOptions = {}) {
    this.#keys = keys;
    this.#ttl = options.ttlMs ?? 20_000;
    if (!Number.isInteger(this.#ttl) || this.#ttl < 300)
      throw new TypeError('RedisPresence: ttlMs must be an integer of at least 300');
    this.#onChange = options.onChange ?? (() => {});
    this.#log = options.log ?? (() => {});
    const define = (name: string, lua: string, keys: number) => {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: keys, lua });
    };
    define('presenceAdd', ADD, 2);
    define('presenceRemove', REMOVE, 2);
    define('presenceRefresh', REFRESH, 2);
    define('presenceSweep', SWEEP, 1);
    define('presenceOnline', ONLINE, 1);
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
          user,
          connId,
          this.#ttl,
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
        (await this.#redis.presenceRemove(this.#roomKey(room), this.#userKey(room, user), user, connId)) === 1
      );
    } catch (err) {
      this.#log(`chat: presence remove failed, the entry will expire: ${(err as Error).message}`);
      return false;
    }
  }

  async online(room: string): Promise<string[]> {
    try {
      return (await this.#redis.presenceOnline(this.#roomKey(room))).sort();
    } catch (err) {
      throw toStoreError(err);
    }
  }

  /** One heartbeat: refresh this node's connections, then sweep expired users of its rooms. */
  async beat(): Promise<void> {
    if (this.#beating) return;
    this.#beating = true;
    try {
      for (const [room, users] of [...this.#local]) {
        // Sent together (one pipelined write), answered in order.
        const refreshed = [...users]
          .filter(([, conns]) => conns.size > 0)
          .map(async ([user, conns]) => {
            const back = await this.#redis.presenceRefresh(
              this.#roomKey(room),
              this.#userKey(room, user),
              user,
              this.#ttl,
              ...conns,
            );
            if (back === 1) this.#onChange(room, user, true);
          });
        await Promise.all(refreshed);
        const gone = await this.#redis.presenceSweep(this.#roomKey(room), this.#userKey(room, ''));
        for (const user of gone) this.#onChange(room, user, false);
      }
    } catch {
      // Redis is unreachable: the next beat tries again (entries expire meanwhile, see above).
    } finally {
      this.#beating = false;
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
