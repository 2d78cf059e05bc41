/**
 * ChatStore on Redis: what lets several chat nodes serve one chat.
 *
 * Theory of operation
 * - Every room has ONE counter (`room:{r}:seq`) and ONE stream (`room:{r}:log`). appendEvent is a
 *   Lua script (atomic in Redis) that INCRs the counter and XADDs the event with the explicit
 *   stream id `<seq>-0`, so stream ids ARE the room's sequence numbers: no gaps, one order that
 *   every node reads the same way. The stream is trimmed to about `streamRetention` entries
 *   (MAXLEN ~): it serves replay (eventsAfter) and live fan-out (fanout-redis.ts), never history.
 * - History keeps every message, like the SQLite store: `room:{r}:msgs` (hash seq -> the message
 *   as it is now, JSON) and `room:{r}:idx` (sorted set of message seqs, for paging). Edits and
 *   deletes rewrite the hash entry in the same script that logs them.
 * - Unread counts are exact and O(log n): `room:{r}:live` holds the seqs of messages not deleted
 *   and `room:{r}:by:<user>` the user's own; unread = ZCOUNT live - ZCOUNT by:user after a seq.
 * - Dedup: `room:{r}:dedup:<user>:<clientId>` -> seq, written by the append script, expiring after
 *   `dedupTtlSeconds` (default 7 days). A client resends unacknowledged messages right after it
 *   reconnects, so a window of days is generous; older ids are forgotten to bound memory.
 * - Durability: a method resolves after Redis replied. With `appendonly yes` and `appendfsync
 *   always`, Redis writes and fsyncs the AOF before it replies, so an acknowledged message survives
 *   a crash of Redis itself (with `everysec`, up to one second of acknowledged writes can be lost;
 *   redis-backend.ts warns at start). Scripts are replicated and persisted as one MULTI/EXEC.
 * - Keys of one room share the hash tag `{room}` so the per-room scripts touch one slot.
 * - Errors: when Redis cannot be reached (or is loading, read-only, out of memory) a method
 *   rejects with UnavailableError (code 'unavailable'); the hub answers the client with that code
 *   and acknowledges nothing. Any other error is a bug and is rethrown as is.
 */
import type { Redis } from 'ioredis';
import type { ChatMessage, RoomEvent } from '../../shared/protocol.js';
import {
  type AppendInput,
  type AppendResult,
  type ChatStore,
  type Membership,
  type SessionRecord,
  UnavailableError,
  type UserRecord,
} from './types.js';

export interface RedisStoreOptions {
  /** Prefix of every key (several chats can share one Redis). Default 'chat:'. */
  prefix?: string;
  /** Approximate number of events kept in each room's stream (replay window). Default 10000. */
  streamRetention?: number;
  /** Seconds a (user, client id) is remembered for dedup. Default 7 days. */
  dedupTtlSeconds?: number;
  /** Called once by close() (the backend closes its connections there). */
  onClose?: () => Promise<void>;
  /** The backend's view of Redis's health: while false, calls fail at once as unavailable. */
  isAvailable?: () => boolean;
}

/** Redis replies that mean "not now" rather than "this request is wrong". */
const UNAVAILABLE_REPLY = /^(LOADING|MISCONF|READONLY|BUSY|MASTERDOWN|NOREPLICAS|OOM|CLUSTERDOWN|TRYAGAIN)\b/;

/** Maps a failed Redis call to UnavailableError unless it is a genuine error reply. */
export function toStoreError(err: unknown): Error {
  if (err instanceof UnavailableError) return err;
  const e = err as Error & { name?: string };
  if (e?.name === 'ReplyError' && !UNAVAILABLE_REPLY.test(e.message)) return e;
  return new UnavailableError(`chat storage (Redis) is unavailable: ${e?.message ?? e}`, { cause: err });
}

const J = JSON.stringify;

// KEYS: 1 seq, 2 log, 3 msgs, 4 idx, 5 live, 6 by:<user>, 7 dedup key (messages)
// ARGV: 1 kind, 2 stream retention, 3 payload head, 4 payload tail, 5 dedup ttl, 6 target,
//       7 user, 8 text, 9 ts
// For a message, ARGV 3/4 are the message JSON around its seq; for edit/delete, the event's.
const APPEND = `
local kind = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
local function log(seq, payload)
  local ok = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'e', payload)
  if type(ok) == 'table' and ok.err then
    redis.call('DECR', KEYS[1])
    return ok.err
  end
  return nil
end
if kind == 'message' then
  local prior = redis.call('GET', KEYS[7])
  if prior then return {'duplicate', redis.call('HGET', KEYS[3], prior)} end
  local seq = redis.call('INCR', KEYS[1])
  local msg = ARGV[3] .. seq .. ARGV[4]
  local err = log(seq, '{"v":1,"type":"message","message":' .. msg .. '}')
  if err then return redis.error_reply(err) end
  redis.call('HSET', KEYS[3], seq, msg)
  redis.call('ZADD', KEYS[4], seq, seq)
  redis.call('ZADD', KEYS[5], seq, seq)
  redis.call('ZADD', KEYS[6], seq, seq)
  redis.call('SET', KEYS[7], seq, 'EX', ARGV[5])
  return {'ok', seq}
end
local current = redis.call('HGET', KEYS[3], ARGV[6])
if not current then return {'not_found'} end
local m = cjson.decode(current)
if m.deleted then return {'not_found'} end
if m.user ~= ARGV[7] then return {'forbidden'} end
local seq = redis.call('INCR', KEYS[1])
local err = log(seq, ARGV[3] .. seq .. ARGV[4])
if err then return redis.error_reply(err) end
if kind == 'edit' then
  m.text = ARGV[8]
  m.editedAt = tonumber(ARGV[9])
else
  m.text = ''
  m.deleted = true
  redis.call('ZREM', KEYS[5], ARGV[6])
  redis.call('ZREM', KEYS[6], ARGV[6])
end
redis.call('HSET', KEYS[3], ARGV[6], cjson.encode(m))
return {'ok', seq}
`;

// KEYS: 1 idx, 2 msgs. ARGV: 1 before (exclusive), 2 limit. Newest first.
const BEFORE = `
local seqs = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '-inf', 'LIMIT', 0, ARGV[2])
if #seqs == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(seqs))
`;

// KEYS: 1 rooms hash, 2 seq. ARGV: 1 name, 2 record.
const CREATE_ROOM = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('SET', KEYS[2], 0, 'NX')
return 1
`;

// KEYS: 1 rooms hash, 2 member:<user>, 3 room members set, 4 seq. ARGV: 1 room, 2 user.
const JOIN = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local head = redis.call('GET', KEYS[4]) or '0'
if redis.call('HSETNX', KEYS[2], ARGV[1], head) == 0 then return 0 end
redis.call('SADD', KEYS[3], ARGV[2])
return 1
`;

// KEYS: 1 member:<user>, 2 seq. ARGV: 1 room, 2 seq. The marker moves forward, never past head.
const MARK_READ = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
local want = math.min(tonumber(ARGV[2]), head)
if want > tonumber(current) then redis.call('HSET', KEYS[1], ARGV[1], want) end
return 1
`;

// KEYS: 1 rooms hash. ARGV: 1 members key prefix, 2 suffix. Flat [name, count, ...].
const LIST_ROOMS = `
local names = redis.call('HKEYS', KEYS[1])
local out = {}
for _, name in ipairs(names) do
  out[#out + 1] = name
  out[#out + 1] = redis.call('SCARD', ARGV[1] .. name .. ARGV[2])
end
return out
`;

type Commands = {
  chatAppend(...args: (string | number)[]): Promise<[string, string | number | null]>;
  chatBefore(...args: (string | number)[]): Promise<(string | null)[]>;
  chatCreateRoom(...args: (string | number)[]): Promise<number>;
  chatJoin(...args: (string | number)[]): Promise<number>;
  chatMarkRead(...args: (string | number)[]): Promise<number>;
  chatListRooms(...args: (string | number)[]): Promise<(string | number)[]>;
};

/** Key names, shared with the fan-out (which reads the streams). */
export class RedisKeys {
  constructor(readonly prefix: string) {}
  user(name: string): string {
    return `${this.prefix}user:${name.toLowerCase()}`;
  }
  session(token: string): string {
    return `${this.prefix}session:${token}`;
  }
  rooms(): string {
    return `${this.prefix}rooms`;
  }
  member(user: string): string {
    return `${this.prefix}member:${user}`;
  }
  room(room: string, part: string): string {
    return `${this.prefix}room:{${room}}:${part}`;
  }
  seq(room: string): string {
    return this.room(room, 'seq');
  }
  log(room: string): string {
    return this.room(room, 'log');
  }
  /** The room a stream key belongs to (inverse of log()). */
  roomOfLog(key: string): string | null {
    const head = `${this.prefix}room:{`;
    if (!key.startsWith(head) || !key.endsWith('}:log')) return null;
    return key.slice(head.length, -'}:log'.length);
  }
}

export class RedisStore implements ChatStore {
  readonly #redis: Redis & Commands;
  readonly #keys: RedisKeys;
  readonly #retention: number;
  readonly #dedupTtl: number;
  readonly #onClose: (() => Promise<void>) | undefined;
  readonly #isAvailable: (() => boolean) | undefined;
  #closed: Promise<void> | undefined;

  constructor(redis: Redis, options: RedisStoreOptions = {}) {
    this.#keys = new RedisKeys(options.prefix ?? 'chat:');
    this.#retention = options.streamRetention ?? 10_000;
    this.#dedupTtl = options.dedupTtlSeconds ?? 7 * 24 * 3600;
    if (!Number.isInteger(this.#retention) || this.#retention < 1)
      throw new TypeError('RedisStore: streamRetention must be a positive integer');
    if (!Number.isInteger(this.#dedupTtl) || this.#dedupTtl < 1)
      throw new TypeError('RedisStore: dedupTtlSeconds must be a positive integer');
    this.#onClose = options.onClose;
    this.#isAvailable = options.isAvailable;
    const define = (name: string, numberOfKeys: number, lua: string) => {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys, lua });
    };
    define('chatAppend', 7, APPEND);
    define('chatBefore', 2, BEFORE);
    define('chatCreateRoom', 2, CREATE_ROOM);
    define('chatJoin', 4, JOIN);
    define('chatMarkRead', 2, MARK_READ);
    define('chatListRooms', 1, LIST_ROOMS);
    this.#redis = redis as Redis & Commands;
  }

  get keys(): RedisKeys {
    return this.#keys;
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#isAvailable && !this.#isAvailable())
      throw new UnavailableError('chat storage (Redis) is unavailable');
    try {
      return await fn();
    } catch (err) {
      throw toStoreError(err);
    }
  }

  getUser(name: string): Promise<UserRecord | null> {
    return this.#call(async () => {
      const raw = await this.#redis.get(this.#keys.user(name));
      return raw ? (JSON.parse(raw) as UserRecord) : null;
    });
  }

  createUser(user: UserRecord): Promise<boolean> {
    return this.#call(
      async () => (await this.#redis.set(this.#keys.user(user.name), J(user), 'NX')) === 'OK',
    );
  }

  createSession(session: SessionRecord): Promise<void> {
    return this.#call(async () => {
      const ttl = Math.max(1, session.expiresAt - Date.now());
      await this.#redis.set(this.#keys.session(session.token), J(session), 'PX', ttl);
    });
  }

  getSession(token: string): Promise<SessionRecord | null> {
    return this.#call(async () => {
      const raw = await this.#redis.get(this.#keys.session(token));
      if (!raw) return null;
      const session = JSON.parse(raw) as SessionRecord;
      return session.expiresAt > Date.now() ? session : null;
    });
  }

  deleteSession(token: string): Promise<void> {
    return this.#call(async () => {
      await this.#redis.del(this.#keys.session(token));
    });
  }

  createRoom(name: string, createdBy: string, ts: number): Promise<boolean> {
    return this.#call(
      async () =>
        (await this.#redis.chatCreateRoom(
          this.#keys.rooms(),
          this.#keys.seq(name),
          name,
          J({ createdBy, createdAt: ts }),
        )) === 1,
    );
  }

  roomExists(name: string): Promise<boolean> {
    return this.#call(async () => (await this.#redis.hexists(this.#keys.rooms(), name)) === 1);
  }

  listRooms(): Promise<{ name: string; members: number }[]> {
    return this.#call(async () => {
      const flat = await this.#redis.chatListRooms(
        this.#keys.rooms(),
        `${this.#keys.prefix}room:{`,
        '}:members',
      );
      const rooms: { name: string; members: number }[] = [];
      for (let i = 0; i < flat.length; i += 2)
        rooms.push({ name: String(flat[i]), members: Number(flat[i + 1]) });
      return rooms.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  join(user: string, room: string): Promise<boolean> {
    return this.#call(
      async () =>
        (await this.#redis.chatJoin(
          this.#keys.rooms(),
          this.#keys.member(user),
          this.#keys.room(room, 'members'),
          this.#keys.seq(room),
          room,
          user,
        )) === 1,
    );
  }

  leave(user: string, room: string): Promise<boolean> {
    return this.#call(async () => {
      const [[err, removed]] = (await this.#redis
        .multi()
        .hdel(this.#keys.member(user), room)
        .srem(this.#keys.room(room, 'members'), user)
        .exec()) as [Error | null, number][];
      if (err) throw err;
      return removed === 1;
    });
  }

  memberships(user: string): Promise<Membership[]> {
    return this.#call(async () => {
      const all = await this.#redis.hgetall(this.#keys.member(user));
      return Object.keys(all)
        .sort()
        .map((room) => ({ room, lastRead: Number(all[room]) }));
    });
  }

  members(room: string): Promise<string[]> {
    return this.#call(async () => (await this.#redis.smembers(this.#keys.room(room, 'members'))).sort());
  }

  markRead(user: string, room: string, seq: number): Promise<void> {
    return this.#call(async () => {
      await this.#redis.chatMarkRead(this.#keys.member(user), this.#keys.seq(room), room, seq);
    });
  }

  unreadCount(room: string, user: string, after: number): Promise<number> {
    return this.#call(async () => {
      const res = (await this.#redis
        .pipeline()
        .zcount(this.#keys.room(room, 'live'), `(${after}`, '+inf')
        .zcount(this.#keys.room(room, `by:${user}`), `(${after}`, '+inf')
        .exec()) as [Error | null, number][];
      for (const [err] of res) if (err) throw err;
      return Math.max(0, res[0][1] - res[1][1]);
    });
  }

  appendEvent(input: AppendInput): Promise<AppendResult> {
    return this.#call(async () => {
      const k = this.#keys;
      const room = input.room;
      let head: string;
      let tail: string;
      if (input.type === 'message') {
        head = `{"room":${J(room)},"seq":`;
        tail = `,"id":${J(input.clientId)},"user":${J(input.user)},"text":${J(input.text)},"ts":${input.ts}}`;
      } else if (input.type === 'edit') {
        head = `{"v":1,"type":"edited","room":${J(room)},"seq":`;
        tail = `,"target":${input.target},"user":${J(input.user)},"text":${J(input.text)},"ts":${input.ts}}`;
      } else {
        head = `{"v":1,"type":"deleted","room":${J(room)},"seq":`;
        tail = `,"target":${input.target},"user":${J(input.user)},"ts":${input.ts}}`;
      }
      const [status, value] = await this.#redis.chatAppend(
        k.seq(room),
        k.log(room),
        k.room(room, 'msgs'),
        k.room(room, 'idx'),
        k.room(room, 'live'),
        k.room(room, `by:${input.user}`),
        input.type === 'message'
          ? k.room(room, `dedup:${input.user}:${input.clientId}`)
          : k.room(room, 'none'),
        input.type,
        this.#retention,
        head,
        tail,
        this.#dedupTtl,
        input.type === 'message' ? 0 : input.target,
        input.user,
        input.type === 'delete' ? '' : input.text,
        input.ts,
      );
      if (status === 'not_found' || status === 'forbidden') return { ok: false, reason: status };
      if (status === 'duplicate') {
        return {
          ok: true,
          duplicate: true,
          event: { type: 'message', message: JSON.parse(String(value)) as ChatMessage },
        };
      }
      const seq = Number(value);
      let event: RoomEvent;
      if (input.type === 'message') {
        event = {
          type: 'message',
          message: { room, seq, id: input.clientId, user: input.user, text: input.text, ts: input.ts },
        };
      } else if (input.type === 'edit') {
        event = {
          type: 'edited',
          room,
          seq,
          target: input.target,
          user: input.user,
          text: input.text,
          ts: input.ts,
        };
      } else {
        event = { type: 'deleted', room, seq, target: input.target, user: input.user, ts: input.ts };
      }
      return { ok: true, event, duplicate: false };
    });
  }

  head(room: string): Promise<number> {
    return this.#call(async () => Number((await this.#redis.get(this.#keys.seq(room))) ?? 0));
  }

  messagesBefore(room: string, before: number, limit: number): Promise<ChatMessage[]> {
    return this.#call(async () => {
      const rows = await this.#redis.chatBefore(
        this.#keys.room(room, 'idx'),
        this.#keys.room(room, 'msgs'),
        before,
        limit,
      );
      return rows.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as ChatMessage);
    });
  }

  eventsAfter(room: string, after: number, limit: number): Promise<RoomEvent[]> {
    return this.#call(async () => {
      const entries = await this.#redis.xrange(this.#keys.log(room), `${after + 1}-0`, '+', 'COUNT', limit);
      const events = entries.map(([, fields]) => parseLogEntry(fields));
      // A replayed message shows its current state (edited text, deleted), as in the SQLite store.
      const seqs = events.flatMap((e) => (e.type === 'message' ? [e.message.seq] : []));
      if (seqs.length === 0) return events;
      const current = await this.#redis.hmget(this.#keys.room(room, 'msgs'), ...seqs.map(String));
      const bySeq = new Map<number, ChatMessage>();
      for (const raw of current) {
        if (raw) {
          const m = JSON.parse(raw) as ChatMessage;
          bySeq.set(m.seq, m);
        }
      }
      return events.map((e) =>
        e.type === 'message' && bySeq.has(e.message.seq)
          ? { type: 'message', message: bySeq.get(e.message.seq) as ChatMessage }
          : e,
      );
    });
  }

  close(): Promise<void> {
    this.#closed ??= this.#onClose ? this.#onClose() : Promise.resolve();
    return this.#closed;
  }
}

/** A stream entry's fields ['e', payload] -> the room event (without the protocol's `v`). */
export function parseLogEntry(fields: string[]): RoomEvent {
  const i = fields.indexOf('e');
  const { v: _v, ...event } = JSON.parse(fields[i + 1]) as RoomEvent & { v: 1 };
  return event as RoomEvent;
}
