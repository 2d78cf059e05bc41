/**
 * Attachments on Redis, with a cap on their total size (Redis holds them in memory).
 *
 *   att:<id>              hash: r = the record (JSON), d = the bytes, g = the incarnation of its
 *                         room when it was uploaded (the room's `gen`, keys.ts; absent: 0)
 *   att:bytes             the bytes of every file held (checked against the cap at each upload)
 *   att:unbound           zset id -> created at: files not yet bound to a stored message
 *   att:unused:<user>     zset id -> created at: the user's uploads not claimed by a send
 *   att:msg:{room}:<seq>  set of the ids bound to that message (freed when it is deleted); the
 *                         message's append (store.ts APPEND) binds them in its own script, as BIND
 *   att:room:{room}       set of the ids uploaded to that room (freed when the room is deleted)
 *
 * A room of the name may be created again at once after a deletion, and its members may upload
 * before the deleted room's files are dropped (in the background, by the last steps of the
 * deletion's grave: store.ts DELETE_ROOM; or by dropRoom). `att:room:{room}` then holds the files of both rooms; `g` tells them apart: dropRoom
 * deletes only the files of incarnations older than the room of the name that exists at that
 * moment (all of them when none exists), and claim takes only files of the room that exists, so a
 * message of the new room never carries a file that the old room's dropRoom deletes.
 *
 * Every change is one Lua script, so the byte count stays exact. Files are deleted by the scripts
 * (expiry, a deleted message), never by key expiry, which would leave the count behind.
 */
import type { Redis } from 'ioredis';
import type { Attachment } from '../../../shared/protocol.js';
import type { AttachmentRecord, AttachmentStore, PutAttachmentResult } from '../../ports.js';
import { publicPart } from '../sqlite/attachments.js';
import { type Availability, callRedis, type RedisKeys } from './keys.js';

// KEYS: 1 att:<id>, 2 bytes, 3 unbound, 4 unused:<user>, 5 room:{room}, 6 the room's gen. ARGV:
// 1 id, 2 record, 3 data, 4 size, 5 cap, 6 max unused, 7 created at.
const PUT = `
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[6]) then return 'too_many_unused' end
if tonumber(redis.call('GET', KEYS[2]) or '0') + tonumber(ARGV[4]) > tonumber(ARGV[5]) then return 'full' end
redis.call('HSET', KEYS[1], 'r', ARGV[2], 'd', ARGV[3], 'g', redis.call('GET', KEYS[6]) or '0')
redis.call('INCRBY', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[7], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
return 'stored'
`;

// KEYS: att:<id> for each id, then unused:<user>, then the room's gen. ARGV: 1 user, 2 room,
// 3 client id, 4.. ids. -> the records (JSON) in order, or false if one cannot be claimed by this
// message (a file of a deleted room of the name cannot: its dropRoom is still to come).
const CLAIM = `
local n = #KEYS - 2
local gen = redis.call('GET', KEYS[n + 2]) or '0'
local records = {}
for i = 1, n do
  local raw = redis.call('HGET', KEYS[i], 'r')
  if not raw then return false end
  if (redis.call('HGET', KEYS[i], 'g') or '0') ~= gen then return false end
  local r = cjson.decode(raw)
  if r.user ~= ARGV[1] or r.room ~= ARGV[2] then return false end
  if r.clientId ~= nil and r.clientId ~= ARGV[3] then return false end
  records[i] = r
end
local out = {}
for i = 1, n do
  records[i].clientId = ARGV[3]
  local raw = cjson.encode(records[i])
  redis.call('HSET', KEYS[i], 'r', raw)
  redis.call('ZREM', KEYS[n + 1], ARGV[3 + i])
  out[i] = raw
end
return out
`;

// KEYS: att:<id> for each id, then unbound, then att:msg:{room}:<seq>. ARGV: 1 seq, 2.. ids.
const BIND = `
local n = #KEYS - 2
for i = 1, n do
  local raw = redis.call('HGET', KEYS[i], 'r')
  if raw then
    local r = cjson.decode(raw)
    r.seq = tonumber(ARGV[1])
    redis.call('HSET', KEYS[i], 'r', cjson.encode(r))
    redis.call('ZREM', KEYS[n + 1], ARGV[1 + i])
    redis.call('SADD', KEYS[n + 2], ARGV[1 + i])
  end
end
return n
`;

// KEYS: att:<id> for each id, then unused:<user>. ARGV: 1 user, 2 client id, 3.. ids.
// Unclaims the files of a refused message: unused again (back in the user's unused set).
const RELEASE = `
local n = #KEYS - 1
for i = 1, n do
  local raw = redis.call('HGET', KEYS[i], 'r')
  if raw then
    local r = cjson.decode(raw)
    if r.user == ARGV[1] and r.clientId == ARGV[2] and r.seq == nil then
      r.clientId = nil
      redis.call('HSET', KEYS[i], 'r', cjson.encode(r))
      redis.call('ZADD', KEYS[n + 1], r.createdAt, ARGV[2 + i])
    end
  end
end
return n
`;

// Deletes one file by id: its hash, its byte count, its place in the sets. ARGV prefix: att:.
const FORGET = `
local function forget(prefix, bytes, unbound, id)
  local raw = redis.call('HGET', prefix .. id, 'r')
  redis.call('ZREM', unbound, id)
  if not raw then return 0 end
  local r = cjson.decode(raw)
  redis.call('DEL', prefix .. id)
  redis.call('DECRBY', bytes, r.size)
  redis.call('ZREM', prefix .. 'unused:' .. r.user, id)
  redis.call('SREM', prefix .. 'room:{' .. r.room .. '}', id)
  return 1
end
`;

// KEYS: 1 att:msg:{room}:<seq>, 2 bytes, 3 unbound. ARGV: 1 att: prefix.
const DROP = `${FORGET}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do forget(ARGV[1], KEYS[2], KEYS[3], id) end
redis.call('DEL', KEYS[1])
return 1
`;

// KEYS: 1 room:{room}, 2 bytes, 3 unbound, 4 rooms, 5 the room's gen. ARGV: 1 att: prefix, 2 room,
// 3 SSCAN cursor, 4 SSCAN count. -> { next cursor, files deleted }.
// One bounded step over the room's set: the files of the deleted rooms of the name go, those of a
// room of it that exists now stay (checked at each step, so a room created again between two steps
// keeps its files). dropRoom repeats the step until the cursor is back to 0.
const DROP_ROOM = `${FORGET}
local live = nil
if redis.call('HEXISTS', KEYS[4], ARGV[2]) == 1 then live = tonumber(redis.call('GET', KEYS[5]) or '0') end
local scan = redis.call('SSCAN', KEYS[1], ARGV[3], 'COUNT', tonumber(ARGV[4]))
local n = 0
for _, id in ipairs(scan[2]) do
  if live == nil or tonumber(redis.call('HGET', ARGV[1] .. id, 'g') or '0') < live then
    local raw = redis.call('HGET', ARGV[1] .. id, 'r')
    if raw then
      local r = cjson.decode(raw)
      if r.seq then redis.call('DEL', ARGV[1] .. 'msg:{' .. ARGV[2] .. '}:' .. r.seq) end
    end
    n = n + forget(ARGV[1], KEYS[2], KEYS[3], id)
    redis.call('SREM', KEYS[1], id)
  end
end
return { scan[1], n }
`;

/** Ids of a room's set visited per DROP_ROOM step (SSCAN's COUNT: a hint, so a step is about this). */
export const DROP_ROOM_STEP = 500;

type DropRoomStep = {
  chatAttDropRoom(...args: (string | number)[]): Promise<[string, number]>;
};

/** Defines DROP_ROOM on the client (the store's graves run it too: store.ts). */
export function defineDropRoomStep(redis: Redis): void {
  if (!('chatAttDropRoom' in redis))
    redis.defineCommand('chatAttDropRoom', { numberOfKeys: 5, lua: DROP_ROOM });
}

/**
 * One DROP_ROOM step over the files uploaded to rooms named `room` from SSCAN `cursor`: the next
 * cursor ('0': done) and the files deleted. A step may run again or on several nodes at once
 * (every deletion in it is idempotent), and at any time after the deletion: only files of rooms of
 * the name that do not exist at that step go.
 */
export function dropRoomStep(
  redis: Redis,
  keys: RedisKeys,
  room: string,
  cursor: string,
  count = DROP_ROOM_STEP,
): Promise<[string, number]> {
  const p = keys.prefix;
  return (redis as Redis & DropRoomStep).chatAttDropRoom(
    `${p}att:room:{${room}}`,
    `${p}att:bytes`,
    `${p}att:unbound`,
    keys.rooms(),
    keys.generation(room),
    `${p}att:`,
    room,
    cursor,
    count,
  );
}

// KEYS: 1 unbound, 2 bytes. ARGV: 1 before, 2 att: prefix, 3 at most this many.
const EXPIRE = `${FORGET}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local n = 0
for _, id in ipairs(ids) do n = n + forget(ARGV[2], KEYS[2], KEYS[1], id) end
return n
`;

type Commands = {
  chatAttPut(...args: (string | number | Buffer)[]): Promise<PutAttachmentResult>;
  chatAttClaim(...args: (string | number)[]): Promise<string[] | null>;
  chatAttBind(...args: (string | number)[]): Promise<number>;
  chatAttRelease(...args: (string | number)[]): Promise<number>;
  chatAttDrop(...args: (string | number)[]): Promise<number>;
  chatAttExpire(...args: (string | number)[]): Promise<number>;
};

/** The record as stored: null fields left out (Lua's cjson has no null that survives a round trip). */
function encodeRecord(r: AttachmentRecord): string {
  const { clientId, seq, ...rest } = r;
  return JSON.stringify({
    ...rest,
    ...(clientId !== null ? { clientId } : {}),
    ...(seq !== null ? { seq } : {}),
  });
}

function decodeRecord(raw: string): AttachmentRecord {
  const r = JSON.parse(raw) as Omit<AttachmentRecord, 'clientId' | 'seq'> & {
    clientId?: string;
    seq?: number;
  };
  return { ...r, clientId: r.clientId ?? null, seq: r.seq ?? null };
}

export class RedisAttachments implements AttachmentStore {
  readonly #redis: Redis & Commands;
  readonly #keys: RedisKeys;
  readonly #maxTotal: number;
  readonly #isAvailable: Availability;

  constructor(redis: Redis, keys: RedisKeys, maxTotalBytes: number, isAvailable: Availability) {
    this.#keys = keys;
    this.#maxTotal = maxTotalBytes;
    this.#isAvailable = isAvailable;
    const define = (name: string, numberOfKeys: number, lua: string) => {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys, lua });
    };
    define('chatAttPut', 6, PUT);
    // Variable key counts: ioredis takes the count as the first argument when numberOfKeys is unset.
    if (!('chatAttClaim' in redis)) redis.defineCommand('chatAttClaim', { lua: CLAIM });
    if (!('chatAttBind' in redis)) redis.defineCommand('chatAttBind', { lua: BIND });
    if (!('chatAttRelease' in redis)) redis.defineCommand('chatAttRelease', { lua: RELEASE });
    define('chatAttDrop', 3, DROP);
    define('chatAttExpire', 2, EXPIRE);
    defineDropRoomStep(redis);
    this.#redis = redis as Redis & Commands;
  }

  #call<T>(fn: () => Promise<T>): Promise<T> {
    return callRedis(this.#isAvailable, fn);
  }

  #att(id: string): string {
    return `${this.#keys.prefix}att:${id}`;
  }

  put(record: AttachmentRecord, data: Buffer, maxUnused: number): Promise<PutAttachmentResult> {
    const p = this.#keys.prefix;
    return this.#call(() =>
      this.#redis.chatAttPut(
        this.#att(record.id),
        `${p}att:bytes`,
        `${p}att:unbound`,
        `${p}att:unused:${record.user}`,
        `${p}att:room:{${record.room}}`,
        this.#keys.generation(record.room),
        record.id,
        encodeRecord(record),
        data,
        data.length,
        Number.isFinite(this.#maxTotal) ? this.#maxTotal : Number.MAX_SAFE_INTEGER,
        maxUnused,
        record.createdAt,
      ),
    );
  }

  get(id: string): Promise<{ record: AttachmentRecord; data: Buffer } | null> {
    return this.#call(async () => {
      const [raw, data] = await Promise.all([
        this.#redis.hget(this.#att(id), 'r'),
        this.#redis.hgetBuffer(this.#att(id), 'd'),
      ]);
      return raw && data ? { record: decodeRecord(raw), data } : null;
    });
  }

  claim(ids: readonly string[], user: string, room: string, clientId: string): Promise<Attachment[] | null> {
    return this.#call(async () => {
      const out = await this.#redis.chatAttClaim(
        ids.length + 2,
        ...ids.map((id) => this.#att(id)),
        `${this.#keys.prefix}att:unused:${user}`,
        this.#keys.generation(room),
        user,
        room,
        clientId,
        ...ids,
      );
      return out ? out.map((raw) => publicPart(decodeRecord(raw))) : null;
    });
  }

  bind(room: string, ids: readonly string[], seq: number): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return this.#call(async () => {
      await this.#redis.chatAttBind(
        ids.length + 2,
        ...ids.map((id) => this.#att(id)),
        `${this.#keys.prefix}att:unbound`,
        this.#message(room, seq),
        seq,
        ...ids,
      );
    });
  }

  release(ids: readonly string[], user: string, clientId: string): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return this.#call(async () => {
      await this.#redis.chatAttRelease(
        ids.length + 1,
        ...ids.map((id) => this.#att(id)),
        `${this.#keys.prefix}att:unused:${user}`,
        user,
        clientId,
        ...ids,
      );
    });
  }

  #message(room: string, seq: number): string {
    return `${this.#keys.prefix}att:msg:{${room}}:${seq}`;
  }

  dropMessage(room: string, seq: number): Promise<void> {
    const p = this.#keys.prefix;
    return this.#call(async () => {
      await this.#redis.chatAttDrop(this.#message(room, seq), `${p}att:bytes`, `${p}att:unbound`, `${p}att:`);
    });
  }

  /** In bounded steps (DROP_ROOM_STEP ids each), so a room with many files never holds Redis long. */
  async dropRoom(room: string): Promise<number> {
    let cursor = '0';
    let dropped = 0;
    do {
      const from = cursor;
      const [next, n] = await this.#call(() => dropRoomStep(this.#redis, this.#keys, room, from));
      cursor = next;
      dropped += n;
    } while (cursor !== '0');
    return dropped;
  }

  expireUnused(before: number): Promise<number> {
    const p = this.#keys.prefix;
    return this.#call(() =>
      this.#redis.chatAttExpire(`${p}att:unbound`, `${p}att:bytes`, before, `${p}att:`, 1000),
    );
  }

  /** Bytes held (tests, /_stats). */
  bytes(): Promise<number> {
    return this.#call(async () => Number((await this.#redis.get(`${this.#keys.prefix}att:bytes`)) ?? 0));
  }
}
