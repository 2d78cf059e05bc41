/**
 * The chat's store on Redis: what lets several chat nodes serve one chat (keys: keys.ts).
 *
 * Theory of operation
 * - Every room has ONE counter (`seq`) and ONE stream (`log`). appendEvent is a Lua script (atomic
 *   in Redis) that INCRs the counter and XADDs the event with the explicit stream id `<seq>-0`, so
 *   stream ids ARE the room's sequence numbers: no gaps, one order that every node reads the same
 *   way. The stream is trimmed to about `streamRetention` entries (MAXLEN ~): it serves replay
 *   (eventsAfter) and live delivery (events.ts), never history. Each entry also carries a nonce and
 *   its predecessor's, and `tip` the last nonce, so that the nodes notice when Redis comes back
 *   with less than they delivered (log-regression.ts).
 * - A leave (or removal) and a room's deletion are entries of the stream as well, `<seq>-<k>` with
 *   k >= 1, written by LEAVE and DELETE_ROOM (LOG_CHANGE): in order with the events, for the
 *   readers of every node (events.ts), and never an event (no seq, no nonce, skipped by
 *   eventsAfter).
 * - History keeps every message, like the SQLite store: `msgs` (hash seq -> the message as it is
 *   now, JSON) and `idx` (sorted set of message seqs, for paging). Edits and deletes rewrite the
 *   hash entry in the same script that logs them.
 * - Unread counts are exact and O(log n) per author subtracted: `live` holds the seqs of messages
 *   not deleted and `by:<user>` each user's own; unread = ZCOUNT live - ZCOUNT by:user after a
 *   seq, less ZCOUNT by:<author> for each author the user blocks (COUNT_AFTER).
 * - Replies, mentions, reactions (issue #16): a message's hash entry keeps `replyTo` (the seq it
 *   answers), `mentions` and `rx` (emoji -> users, the current reactions); reads turn them into
 *   the protocol's `reply` quote (of the replied-to message as it is now) and `reactions`
 *   (message-parts.ts). The live event of a reply carries the quote built by the append script.
 *   `mention:<user>` holds the seqs of live messages mentioning the user (not by the user),
 *   `mention:<user>:<author>` those by one author (the mention count leaves out the authors the
 *   reader blocks), and `mentioned` the names of both kinds after `mention:`. A reaction change is
 *   a `reacted` event logged by REACT, which also rewrites the message's `rx`.
 * - Topics: the room's info (the `rooms` hash, JSON) keeps `topic` (absent: none); TOPIC checks who
 *   may, logs the `topic` event and rewrites the info in one script, so the topic goes with the
 *   room's entry when it is deleted.
 * - Dedup: `dedup:<user>:<clientId>` -> seq and `digest:<user>:<clientId>` -> the digest of the send
 *   (send-digest.ts), written by the append script, expiring after `dedupTtlSeconds` (default 7
 *   days). A resend with the same digest is a duplicate, with another one 'id_reused'; an id without
 *   a digest key (stored before digests) dedups any resend, as it did. Two keys, not one value, so
 *   that nodes of either version read what the other wrote. STORED_SEND reads the same keys and
 *   writes nothing (storedSend: a resend from a user no longer in the room). A client resends
 *   unacknowledged messages right after it reconnects, so a window of days is generous; older ids
 *   are forgotten.
 * - Rooms: creation checks the quotas (`roomcount`, `owned:<user>`) in the same script; joining
 *   checks the user's room count; an emptied room enters `empty` with the time, and expiry deletes
 *   every key of it except `seq` and `tip` (a room created again under that name continues its
 *   numbering and its chain of nonces, so no reader's cursor can hide its first events and no
 *   reader takes the new room for a log that went back). Deletion (by the owner, or expiry) is one
 *   script of constant work that takes the room away for everyone (deleteRoom answers then), then
 *   bounded steps in the background that clear its members' entries and its files (DELETE_ROOM and
 *   GRAVE_STEP: a room of millions of members never blocks Redis in one script, nor its owner);
 *   the room's member set is the truth of who is a member meanwhile.
 * - Sessions: `session:<token>` (JSON, expiring) and, per user, `sessions:<user>`, a zset of their
 *   tokens by expiry that CREATE_SESSION prunes of the expired and trims to the cap (the oldest
 *   sessions' keys deleted in the same script as the new one is written) and DELETE_SESSION
 *   leaves; it expires with its latest session. Sessions written before the set existed are not in
 *   it: they do not count, and run out within their 30 days.
 * - Durability: a method resolves after Redis replied. With `appendonly yes` and `appendfsync
 *   always`, Redis writes and fsyncs the AOF before it replies, so an acknowledged message survives
 *   a crash of Redis itself (with `everysec`, up to one second of acknowledged writes can be lost;
 *   connection.ts warns at start). Scripts are replicated and persisted as one MULTI/EXEC.
 * - Errors: when Redis cannot be reached (or is loading, read-only, out of memory) a method rejects
 *   with UnavailableError; the hub answers the client with code 'unavailable' and acknowledges
 *   nothing. Any other error is a bug and is rethrown as is.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  type ChatMessage,
  DEFAULT_ROOM,
  dmPeer,
  PROTOCOL_VERSION,
  REPLY_EXCERPT_CHARS,
  type ReactedEvent,
  type ReplyQuote,
  type RoomEvent,
  type RoomListing,
  type TopicEvent,
} from '../../../shared/protocol.js';
import {
  type AcceptResult,
  type AccountStore,
  type AppendInput,
  type AppendResult,
  type BanResult,
  type BlockResult,
  type CreateRoomResult,
  type CreateUserResult,
  consoleLog,
  type ExpiredRooms,
  type InvitationLimits,
  type InvitationRecord,
  type InviteResult,
  type JoinResult,
  type Log,
  type Membership,
  type MembersPage,
  type ReactInput,
  type ReactResult,
  type ReadMark,
  type ResumePoint,
  type RoomCounts,
  type RoomInfo,
  type RoomQuotas,
  type RoomStore,
  type SendLookup,
  type SessionRecord,
  type StoredSend,
  type TopicInput,
  type TopicResult,
  UnavailableError,
  type UserRecord,
} from '../../ports.js';
import { quoteOf, reactionsOf } from '../message-parts.js';
import { nameSkeleton } from '../name-skeleton.js';
import { sendDigest, sendDigestOfIds } from '../send-digest.js';
import { DROP_ROOM_STEP, defineDropRoomStep, dropRoomStep } from './attachments.js';
import { RedisBans } from './bans.js';
import { FORGET_DECLINED_LUA, RedisBlocks } from './blocks.js';
import { doneAt, markDone, olderNodeConnected, type Pass } from './done-markers.js';
import { type Availability, callRedis, globEscape, type RedisKeys, redisFailure } from './keys.js';
import { logTag } from './log-regression.js';

export interface RedisStoreOptions {
  /** Approximate number of events kept in each room's stream (replay window). Default 10000. */
  streamRetention?: number;
  /** Seconds a (user, client id) is remembered for dedup. Default 7 days. */
  dedupTtlSeconds?: number;
  /** The backend's view of Redis's health: while false, calls fail at once as unavailable. */
  isAvailable?: Availability;
  /**
   * This node's delivered positions (events.ts): a seq assigned by an append that this node had
   * already delivered in the room before the append was sent can only mean the room's log went
   * back; the room is then checked at once (a hint, free: no extra round trip).
   */
  delivered?: DeliveredPositions;
  /**
   * Internal (tests): the SSCAN COUNT of one step of a roster build (LIST_MEMBERS). Default 1000.
   */
  rosterChunk?: number;
  /** Internal (tests): called after each step of a roster build with the names it added. */
  rosterStepped?: (room: string, added: number) => void | Promise<void>;
  /**
   * Internal (tests): the work of one step clearing a deleted room's grave (GRAVE_STEP): names
   * SPOPped, or by:/mention: entries removed. Default 1000.
   */
  graveChunk?: number;
  /**
   * Internal (tests): called after each step clearing a grave with the work it did (a step over the
   * room's files: the files it deleted).
   */
  graveStepped?: (room: string, done: number) => void | Promise<void>;
  /** Internal (tests): the SSCAN COUNT of a step over a deleted room's files. Default DROP_ROOM_STEP. */
  fileChunk?: number;
  /** Where a background cleanup's failure is reported (it is retried by a later sweep). */
  log?: Log;
  /** Internal (tests): the entries of one step of indexMentions (INDEX_MENTIONS). Default 1000. */
  mentionChunk?: number;
  /** Internal (tests): called after each step of indexMentions with the entries it read. */
  mentionStepped?: (key: string, read: number) => void;
  /**
   * Internal (tests): how long a deletion's lease on its grave lasts after its last step (the
   * sweep leaves a grave alone while its lease holds). Default 30000 ms.
   */
  graveLeaseMs?: number;
}

/**
 * How a start's pass over older layouts ended (indexSkeletons, indexInvitations, indexMentions):
 * 'done' (every key seen), 'stopped' (the node stopped first), skipped: its done-marker says it was
 * done then (ms; done-markers.ts), or unmarked: done, but the write of its done-marker failed (a
 * Redis at maxmemory refusing writes, a lost connection: the error), so the next start runs it again.
 */
export type IndexOutcome = 'done' | 'stopped' | { skipped: number } | { unmarked: unknown };

export interface DeliveredPositions {
  /** The last seq this node delivered in the room; -1 if it does not read the room. */
  delivered(room: string): number;
  /** Check the room's log now: it may have gone back. */
  suspect(room: string): void;
}

const J = JSON.stringify;

/**
 * Lua: the first n code points of a UTF-8 string (message-parts.ts excerpt() cuts at the same place).
 */
const EXCERPT_LUA = `
local function excerpt(s, n)
  local count = 0
  for i = 1, #s do
    local b = string.byte(s, i)
    if b < 128 or b >= 192 then
      count = count + 1
      if count > n then return string.sub(s, 1, i - 1) end
    end
  end
  return s
end
`;

// The room events' scripts (APPEND, REACT, TOPIC): the event `seq` (INCR'd by the caller) into the
// room's log stream, its entry naming the one before it (p) and becoming the tip (log-regression.ts).
// A failed XADD (Redis out of memory) gives the seq back and answers its error; else nil.
const LOG_EVENT = `
local function logEvent(seqKey, logKey, tipKey, retention, seq, payload, nonce)
  local prev = redis.call('GET', tipKey) or ''
  local ok = redis.pcall('XADD', logKey, 'MAXLEN', '~', retention, seq .. '-0', 'e', payload, 'n', nonce, 'p', prev)
  if type(ok) == 'table' and ok.err then
    redis.call('DECR', seqKey)
    return ok.err
  end
  redis.call('SET', tipKey, nonce)
  return nil
end
`;

// KEYS: 1 seq, 2 log, 3 msgs, 4 idx, 5 live, 6 by:<user>, 7 dedup key (messages), 8 rooms, 9 authors,
//       10 mentioned, 11 tip, 12 digest key (messages), 13 members, 14 att:unbound (attachments.ts),
//       15 blocks:<the other user> (a direct message; blocks.ts): a message or edit there of a user
//       it holds is {'blocked'}, checked after the membership
// ARGV: 1 kind, 2 stream retention, 3 payload head, 4 payload tail, 5 dedup ttl, 6 target,
//       7 user, 8 text, 9 ts, 10 room, 11 replyTo (0: none), 12 mentions (JSON array),
//       13 mention:<user> key prefix, 14 the entry's nonce (log-regression.ts), 15 its tag (logTag),
//       16 the send's digest (messages; send-digest.ts), 17 the att: key prefix, 18 '1' for a
//       message that needs both users of its DM (AppendInput bothInDm: {'dm_closed'} when the
//       members are fewer, one SCARD), or for a server admin's delete (AppendInput admin), 19..
//       the ids of the message's files (claimed by it before: attachments.ts CLAIM)
// For a message, ARGV 3/4 are the message JSON around its seq, without its closing brace; for
// edit/delete, the event's (whole).
// The author must be in the room's members at this moment (one SISMEMBER, in the script: no round
// trip), checked after a message's dedup (the resend of one's own stored message is answered even
// after leaving) and before anything else is read: {'not_member'}.
const APPEND = `
${EXCERPT_LUA}
${LOG_EVENT}
local kind = ARGV[1]
local mentions = cjson.decode(ARGV[12])
-- The message seq mentions these users (its author's own messages are never unread to them): in
-- mention:<u>, and in mention:<u>:<author>, which a count subtracts when u blocks the author
-- (COUNT_AFTER). Both are in mentioned (u, and u:author) for a deletion's steps (GRAVE_STEP).
local function mention(seq)
  for _, u in ipairs(mentions) do
    if u ~= ARGV[7] then
      redis.call('ZADD', ARGV[13] .. u, seq, seq)
      redis.call('ZADD', ARGV[13] .. u .. ':' .. ARGV[7], seq, seq)
      redis.call('SADD', KEYS[10], u, u .. ':' .. ARGV[7])
    end
  end
end
if redis.call('HEXISTS', KEYS[8], ARGV[10]) == 0 then return {'no_room'} end
-- In a direct message, KEYS[15] is blocks:<the other user> (blocks.ts): a user it holds writes nothing.
local function blockedDm()
  return string.sub(ARGV[10], 1, 3) == 'dm:' and redis.call('HEXISTS', KEYS[15], string.lower(ARGV[7])) == 1
end
local function log(seq, payload)
  return logEvent(KEYS[1], KEYS[2], KEYS[11], ARGV[2], seq, payload, ARGV[14])
end
if kind == 'message' then
  local prior = redis.call('GET', KEYS[7])
  if prior then
    local original = redis.call('HGET', KEYS[3], prior)
    if original then
      local digest = redis.call('GET', KEYS[12])
      if digest and digest ~= ARGV[16] then return {'id_reused'} end
      return {'duplicate', original}
    end
  end
  if redis.call('SISMEMBER', KEYS[13], ARGV[7]) == 0 then return {'not_member'} end
  if blockedDm() then return {'blocked'} end
  local live = ''
  local replyTo = tonumber(ARGV[11])
  if replyTo > 0 then
    local raw = redis.call('HGET', KEYS[3], replyTo)
    if not raw then return {'not_found'} end
    local t = cjson.decode(raw)
    if t.deleted then return {'not_found'} end
    live = ',"reply":' .. cjson.encode({seq = replyTo, user = t.user, text = excerpt(t.text, ${REPLY_EXCERPT_CHARS})})
  end
  -- Last: a closed DM is reopened (then the append asked again) only for a message that would be
  -- stored, never for a refused one.
  if ARGV[18] == '1' and redis.call('SCARD', KEYS[13]) < 2 then return {'dm_closed'} end
  local seq = redis.call('INCR', KEYS[1])
  local msg = ARGV[3] .. seq .. ARGV[4]
  local err = log(seq, '{"v":${PROTOCOL_VERSION},"type":"message","tag":"' .. ARGV[15] .. '","message":' .. msg .. live .. '}}')
  if err then return redis.error_reply(err) end
  if replyTo > 0 then msg = msg .. ',"replyTo":' .. replyTo end
  msg = msg .. '}'
  mention(seq)
  redis.call('HSET', KEYS[3], seq, msg)
  redis.call('ZADD', KEYS[4], seq, seq)
  redis.call('ZADD', KEYS[5], seq, seq)
  redis.call('ZADD', KEYS[6], seq, seq)
  redis.call('SADD', KEYS[9], ARGV[7])
  redis.call('SET', KEYS[7], seq, 'EX', ARGV[5])
  redis.call('SET', KEYS[12], ARGV[16], 'EX', ARGV[5])
  -- Its files are bound here, as attachments.ts BIND does, not by the hub's bind after the reply:
  -- a bind that failed (Redis gone between the two calls) or never ran (the node killed in between)
  -- left them in att:unbound, and the sweep of unused uploads deleted the files of a stored message.
  for i = 19, #ARGV do
    local raw = redis.call('HGET', ARGV[17] .. ARGV[i], 'r')
    if raw then
      local r = cjson.decode(raw)
      if r.room == ARGV[10] then
        r.seq = seq
        redis.call('HSET', ARGV[17] .. ARGV[i], 'r', cjson.encode(r))
        redis.call('ZREM', KEYS[14], ARGV[i])
        redis.call('SADD', ARGV[17] .. 'msg:{' .. ARGV[10] .. '}:' .. seq, ARGV[i])
      end
    end
  end
  -- the quote the live event carries (after ',"reply":')
  return {'ok', seq, string.sub(live, 10)}
end
if redis.call('SISMEMBER', KEYS[13], ARGV[7]) == 0 then return {'not_member'} end
local current = redis.call('HGET', KEYS[3], ARGV[6])
if not current then return {'not_found'} end
local m = cjson.decode(current)
if m.deleted then return {'not_found'} end
-- Another's message: only a server admin's delete (ARGV 18 '1', the hub's word), in a public room;
-- its author's by: zset loses it (KEYS[6] is the deleter's).
local byAuthor = KEYS[6]
if m.user ~= ARGV[7] then
  if kind ~= 'delete' or ARGV[18] ~= '1' or cjson.decode(redis.call('HGET', KEYS[8], ARGV[10])).kind ~= 'public' then
    return {'forbidden'}
  end
  byAuthor = string.sub(KEYS[6], 1, #KEYS[6] - #ARGV[7]) .. m.user
end
if kind == 'edit' and blockedDm() then return {'blocked'} end
local seq = redis.call('INCR', KEYS[1])
local err = log(seq, ARGV[3] .. seq .. ARGV[4])
if err then return redis.error_reply(err) end
local old = m.mentions or {}
for _, u in ipairs(old) do
  redis.call('ZREM', ARGV[13] .. u, ARGV[6])
  redis.call('ZREM', ARGV[13] .. u .. ':' .. m.user, ARGV[6])
end
if kind == 'edit' then
  m.text = ARGV[8]
  m.editedAt = tonumber(ARGV[9])
  if #mentions > 0 then m.mentions = mentions else m.mentions = nil end
  mention(ARGV[6])
else
  m.text = ''
  m.deleted = true
  m.attachments = nil
  m.mentions = nil
  m.rx = nil
  m.replyTo = nil
  redis.call('ZREM', KEYS[5], ARGV[6])
  redis.call('ZREM', byAuthor, ARGV[6])
end
redis.call('HSET', KEYS[3], ARGV[6], cjson.encode(m))
return {'ok', seq}
`;

// KEYS: 1 seq, 2 log, 3 msgs, 4 rooms, 5 tip, 6 members
// ARGV: 1 room, 2 target, 3 user, 4 emoji, 5 on ('1' or '0'), 6 max distinct emoji,
//       7 stream retention, 8 payload head, 9 payload tail, 10 the entry's nonce
// -> {'ok', seq} | {'noop', head} | {'no_room'} | {'not_member'} | {'not_found'} | {'too_many_reactions'}
// The user must be in the room's members at this moment (one SISMEMBER, as in APPEND).
const REACT = `${LOG_EVENT}
if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then return {'no_room'} end
if redis.call('SISMEMBER', KEYS[6], ARGV[3]) == 0 then return {'not_member'} end
local raw = redis.call('HGET', KEYS[3], ARGV[2])
if not raw then return {'not_found'} end
local m = cjson.decode(raw)
if m.deleted then return {'not_found'} end
local rx = m.rx or {}
local users = rx[ARGV[4]]
local at = nil
if users then
  for i, u in ipairs(users) do if u == ARGV[3] then at = i end end
end
local on = ARGV[5] == '1'
if (on and at) or (not on and not at) then
  return {'noop', tonumber(redis.call('GET', KEYS[1]) or '0')}
end
if on then
  if not users then
    local n = 0
    for _ in pairs(rx) do n = n + 1 end
    if n >= tonumber(ARGV[6]) then return {'too_many_reactions'} end
    users = {}
    rx[ARGV[4]] = users
  end
  users[#users + 1] = ARGV[3]
else
  table.remove(users, at)
  if #users == 0 then rx[ARGV[4]] = nil end
end
if next(rx) == nil then m.rx = nil else m.rx = rx end
local seq = redis.call('INCR', KEYS[1])
local err = logEvent(KEYS[1], KEYS[2], KEYS[5], ARGV[7], seq, ARGV[8] .. seq .. ARGV[9], ARGV[10])
if err then return redis.error_reply(err) end
redis.call('HSET', KEYS[3], ARGV[2], cjson.encode(m))
return {'ok', seq}
`;

// KEYS: 1 seq, 2 log, 3 rooms, 4 tip, 5 members, 6 topics (the room's topic events for history:
//       zset seq -> the event's JSON, as ARGV 9 .. seq .. ARGV 6)
// ARGV: 1 room, 2 user, 3 topic ('' clears it), 4 stream retention, 5 payload head, 6 payload tail,
//       7 the entry's nonce, 8 '1' if the hub vouches for a server admin, 9 the history entry's head
// -> {'ok', seq} | {'noop', head} | {'no_room'} | {'not_member'} | {'forbidden'}
// Who may (ports.ts, setTopic) is read from the room's info in the same script as the write: the
// owner of a public or private room, a member of a DM, a server admin in a public room (general
// too). The topic is kept in that info.
const TOPIC = `${LOG_EVENT}
local raw = redis.call('HGET', KEYS[3], ARGV[1])
if not raw then return {'no_room'} end
if redis.call('SISMEMBER', KEYS[5], ARGV[2]) == 0 then return {'not_member'} end
local info = cjson.decode(raw)
if info.kind ~= 'dm' and info.owner ~= ARGV[2] and not (ARGV[8] == '1' and info.kind == 'public') then
  return {'forbidden'}
end
local current = info.topic
if type(current) ~= 'string' then current = '' end
if current == ARGV[3] then return {'noop', tonumber(redis.call('GET', KEYS[1]) or '0')} end
local seq = redis.call('INCR', KEYS[1])
local err = logEvent(KEYS[1], KEYS[2], KEYS[4], ARGV[4], seq, ARGV[5] .. seq .. ARGV[6], ARGV[7])
if err then return redis.error_reply(err) end
if ARGV[3] == '' then info.topic = nil else info.topic = ARGV[3] end
redis.call('HSET', KEYS[3], ARGV[1], cjson.encode(info))
redis.call('ZADD', KEYS[6], seq, ARGV[9] .. seq .. ARGV[6])
return {'ok', seq}
`;

// KEYS: 1 idx, 2 msgs. ARGV: 1 seq, 2 limit. Oldest first, seq > ARGV 1.
const AFTER = `
local seqs = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0, ARGV[2])
if #seqs == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(seqs))
`;

// KEYS: 1 idx, 2 msgs. ARGV: 1 before (exclusive), 2 limit. Newest first.
const BEFORE = `
local seqs = redis.call('ZREVRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '-inf', 'LIMIT', 0, ARGV[2])
if #seqs == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(seqs))
`;

// KEYS: 1 rooms, 2 seq, 3 public, 4 roomcount, 5 owned:<owner>, 6 empty, 7 base, 8 gen, 9 bans,
//       10 topics
// ARGV: 1 name, 2 info JSON, 3 kind, 4 max rooms, 5 max owned, 6 owner ('' for none), 7 created at
// A new room has no bans and no topic lines: what a room of the name left (deleted by a node from
// before bans or before `topics`, whose DELETE_ROOM did not unlink them) is dropped here (bans.ts;
// TOPIC). The other keys DELETE_ROOM removes it has removed since they exist (keys.ts).
const CREATE_ROOM = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'exists' end
if ARGV[3] ~= 'dm' then
  if ARGV[6] ~= '' and tonumber(redis.call('GET', KEYS[5]) or '0') >= tonumber(ARGV[5]) then
    return 'owner_quota'
  end
  if tonumber(redis.call('GET', KEYS[4]) or '0') >= tonumber(ARGV[4]) then return 'server_quota' end
  redis.call('INCR', KEYS[4])
  if ARGV[6] ~= '' then redis.call('INCR', KEYS[5]) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('UNLINK', KEYS[9], KEYS[10])
redis.call('SET', KEYS[2], 0, 'NX')
redis.call('SET', KEYS[7], redis.call('GET', KEYS[2]))
redis.call('INCR', KEYS[8])
if ARGV[3] == 'public' then redis.call('ZADD', KEYS[3], 0, ARGV[1]) end
redis.call('ZADD', KEYS[6], ARGV[7], ARGV[1])
return 'created'
`;

// Deleting a room: DELETE_ROOM, then GRAVE_STEP again and again (deleteRoom drives them).
//
// A room's O(n) keys are its member set (n = its members: each one's `member:<user>` entry must
// go), `authors` and `mentioned` (each name has a `by:<user>` or `mention:<name>` zset), and the
// history (msgs, idx, live, log, roster). Removing all of it in one script blocked Redis for
// seconds for a room of a million members (every node stalls: Redis runs one script at a time,
// and past its busy limit answers BUSY to everyone). So:
//
// - DELETE_ROOM does O(1) work per key: it removes the room from `rooms`, `public`, `empty` and the
//   quota counters, UNLINKs the history (the keyspace entry goes at once, a large value is freed
//   off the main thread), and RENAMEs `members`, `authors` and `mentioned` to a grave of the room:
//   `room:{r}:grave:<id>:members` (and :authors, :mentioned), <id> random per deletion, so graves of
//   successive deletions of one name never meet. It records the grave in `graves` (zset: member
//   `<id>:<room>`, score the room's counter at deletion: every seq of the deleted room is at or
//   below it). After this one script the room is gone for every reader: no `rooms` entry (join,
//   send, react, create's 'exists' check, getRoom), no `public` entry (listings), no member set.
// - GRAVE_STEP removes one chunk: SPOP about `chunk` names of the grave's members and HDEL their
//   `member:<user>` entry of the room; then, once the members are done, per name of the grave's
//   authors/mentioned, the entries of its by:/mention: zset at or below the grave's counter. Its
//   three sets vanish with their last name. Then DROP_ROOM steps (attachments.ts) delete the files
//   uploaded to rooms of the name that no longer exist (a room with files gets a grave for them
//   alone), and GRAVE_END takes the grave out of `graves`, last.
//   deleteRoom answers after DELETE_ROOM: the steps run after, in the background (#clearGrave),
//   so the owner never waits for them (the hub tells the members by the room's name, not by these
//   names). A node that dies, loses Redis or closes meanwhile leaves the grave in `graves`, and any
//   node's sweep (expireEmptyRooms, every minute) finishes it; a failed background step is logged
//   and left to that sweep. Steps of two nodes on one grave take disjoint names (SPOP); every
//   HDEL, ZREM and file deletion is idempotent, so a step may run again. The deleting node holds
//   a lease on its grave (`room:{r}:grave:<id>:lease`, set by DELETE_ROOM and renewed by each of
//   its room steps, deleted by GRAVE_END) and a sweep's step leaves a leased grave alone, so the
//   sweeps that every node runs a minute do not repeat the work of a node still at it. (The file
//   steps do not renew it: a sweep may repeat them once it ran out, which is harmless.)
//
// Why a `member:<user>` entry still waiting for its step is never taken for membership:
// the member set is the truth. Every script that adds or removes a membership changes the entry
// and the set together (JOIN, LEAVE), and DELETE_ROOM takes the whole set away in one step, so
// "user in room:{r}:members" is exactly "user is a member of the room now", and an entry whose user
// is not in the set is stale (a deleted room's, waiting for its step). Each reader of the entries
// asks the set: isMember (SISMEMBER), JOIN (a stale entry is overwritten, as if absent, and stale
// entries are pruned before the room quota refuses a join: they do not count), LEAVE (nothing to
// leave), MARK_READ (no marker to move), memberships (a room whose set lacks the user is left out,
// so it is in no room list and no unread count). A room created again under the name starts with
// an empty set: its members are exactly those who joined it since. And a step never removes a
// live entry: it HDELs a user's entry only if the user is not in the room's set at that moment
// (the new room's, if the name was created again and the user joined it: then the entry is the
// new membership's, its marker written by that JOIN).
// The by:/mention: zsets have no incarnation either (the names are per room and user): a room
// created again continues the numbering (seq is kept), so its entries are all above the grave's
// counter and the step removes only those at or below it (a zset with none above is UNLINKed at
// once). Meanwhile the stale entries cannot be counted: unread and mention counts are taken after
// the room's base (COUNT_AFTER), the grave's counter or above, whatever seq they are asked from.

// A membership change in the room's log (events.ts reads it in order with the events; keys.ts):
// the entry `<seq>-<k>`, k >= 1, after the room's last entry (`<seq>-0`, or an earlier change at that
// seq) and before any later event (`<seq + 1>-0`). It takes no seq and leaves `tip` alone (it is not
// in the chain of nonces: log-regression.ts), and nothing counts it as a message: history, unread
// counts and search read msgs/idx/live, and eventsAfter skips it. Fields: c (the change: 'left' or
// 'deleted'), u (the user), r (the reason: '' or 'removed'), and e = '{}', for the nodes of the
// version before changes: their eventsAfter parses it (without an e it would throw), and their
// replay, finding no seq in it, answers `reset` (the client reloads the room) rather than failing;
// it has no type, so there is nothing a client could show or act on. Their live reader never gets
// to it (its seq is one they delivered: they skip it; see events.ts for the cost). Redis's last id of a stream is its last
// entry's here (nothing XDELs an entry, MAXLEN ~ keeps the newest), so XREVRANGE gives it. An XADD
// that fails (it cannot: the id is above the last) changes nothing else: the bus notice still goes.
// Trimmed as an append trims (MAXLEN ~ the retention): leaves and joins over and over in a room
// where nobody writes would grow its stream without bound. changeId reads the id before the stream is emptied (DELETE_ROOM): a change written there at
// `<seq>-1` again would sit at or below the position of a node that read the earlier one, and that
// node would never read it.
const LOG_CHANGE = `
local function changeId(seqKey, logKey)
  local seq = tonumber(redis.call('GET', seqKey) or '0')
  local k = 1
  local last = redis.call('XREVRANGE', logKey, '+', '-', 'COUNT', 1)[1]
  if last then
    local dash = string.find(last[1], '-', 1, true)
    if tonumber(string.sub(last[1], 1, dash - 1)) == seq then k = tonumber(string.sub(last[1], dash + 1)) + 1 end
  end
  return seq .. '-' .. k
end
local function logChange(logKey, id, change, user, reason, retention)
  redis.pcall('XADD', logKey, 'MAXLEN', '~', retention, id, 'c', change, 'u', user, 'r', reason, 'e', '{}')
end
`;

// KEYS: 1 rooms, 2 public, 3 roomcount, 4 empty, 5 members, 6 log, 7 msgs, 8 idx, 9 live, 10 authors,
//       11 mentioned, 12 roster, 13 rosterscan (a roster build in progress: LIST_MEMBERS),
//       14 graves, 15 seq, 16 grave members, 17 grave authors, 18 grave mentioned, 19 grave lease,
//       20 the files uploaded to rooms of the name (att:room:{r}, attachments.ts), 21 invited
//       (its pending invitations: dropped here, all three sides, at most the room's cap of them),
//       22 invites-due, 23 bans (bans.ts: they go with the room), 24 topics (history's topic events)
// ARGV: 1 name, 2 owned: prefix, 3 '1' to delete only if empty, 4 the grave's entry (<id>:<name>),
//       5 the lease's milliseconds, 6 invites: prefix, 7 the owner the room must have ('' for any:
//       a room of another owner, made under the name since the caller looked, is no such room),
//       8 declined: prefix (a declined invitation's entry goes with its room side)
// The deletion is an entry of the room's log, written after its history is unlinked (at the id after
// the last entry it had, a removal's at the counter included: changeId): the stream
// holds that one entry (a few hundred bytes, kept like `seq`) until a room of the name is created
// again, whose events follow it. A node still serving the deleted room's connections reads it
// before any event of the new room, and takes them out first (events.ts).
// -> {1 when a grave is left to clear (GRAVE_STEP, then the files: DROP_ROOM of attachments.ts), 0
// when there was nothing to clear; the users whose invitations it dropped}; nil when there is no such
// room; -1 when it is not empty and must be.
const DELETE_ROOM = `${LOG_CHANGE}
local info = redis.call('HGET', KEYS[1], ARGV[1])
if not info then return false end
local room = cjson.decode(info)
if ARGV[7] ~= '' and room.owner ~= ARGV[7] then return false end
if ARGV[3] == '1' and redis.call('SCARD', KEYS[5]) > 0 then return -1 end
local buried = 0
for i = 0, 2 do
  local key = ({KEYS[5], KEYS[10], KEYS[11]})[i + 1]
  if redis.call('EXISTS', key) == 1 then
    redis.call('RENAME', key, KEYS[16 + i])
    buried = 1
  end
end
if redis.call('EXISTS', KEYS[20]) == 1 then buried = 1 end
if buried == 1 then
  redis.call('ZADD', KEYS[14], tonumber(redis.call('GET', KEYS[15]) or '0'), ARGV[4])
  redis.call('SET', KEYS[19], '1', 'PX', ARGV[5])
end
local changeAt = changeId(KEYS[15], KEYS[6])
redis.call('UNLINK', KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[12], KEYS[13], KEYS[23], KEYS[24])
logChange(KEYS[6], changeAt, 'deleted', '', '', 1)
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
local invitees = {}
for _, invitee in ipairs(redis.call('HKEYS', KEYS[21])) do
  -- Not who declined it (their side is gone): they were told then.
  if redis.call('HDEL', ARGV[6] .. invitee, ARGV[1]) == 1 then invitees[#invitees + 1] = invitee end
  redis.call('HDEL', ARGV[8] .. invitee, ARGV[1])
  redis.call('ZREM', KEYS[22], ARGV[1] .. '\\n' .. invitee)
end
redis.call('DEL', KEYS[21])
if room.kind ~= 'dm' then
  redis.call('DECR', KEYS[3])
  if type(room.owner) == 'string' then redis.call('DECR', ARGV[2] .. room.owner) end
end
return {buried, invitees}
`;

// KEYS: 1 graves, 2 grave members, 3 grave authors, 4 grave mentioned, 5 the room's members now,
//       6 grave lease
// ARGV: 1 the grave's entry, 2 chunk, 3 member: prefix, 4 room, 5 by: prefix, 6 mention: prefix,
//       7 the lease's milliseconds (the deleting node: renews it), or '' (a sweep: leaves a leased
//       grave alone, answering {2, 0, {}}); {3, 0, {}}: the grave has ended (another node's steps)
// -> {more (0: the room's keys are cleared, the files are next), work done (names or zset
// entries), the members whose entry it removed: not those who joined the room created again under
// the name meanwhile, whose entry is the new membership's}. At most about
// `chunk` of work: SPOP of chunk names, or zset entries removed (ZREMRANGEBYRANK of at most what is
// left of the chunk; a whole zset UNLINKed counts 1).
const GRAVE_STEP = `
local head = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not head then return {3, 0, {}} end
if ARGV[7] == '' then
  if redis.call('EXISTS', KEYS[6]) == 1 then return {2, 0, {}} end
else
  redis.call('SET', KEYS[6], '1', 'PX', ARGV[7])
end
local budget = tonumber(ARGV[2])
local names = redis.call('SPOP', KEYS[2], budget)
if #names > 0 then
  local gone = {}
  for _, u in ipairs(names) do
    if redis.call('SISMEMBER', KEYS[5], u) == 0 then
      redis.call('HDEL', ARGV[3] .. u, ARGV[4])
      gone[#gone + 1] = u
    end
  end
  return {1, #names, gone}
end
local spent = 0
local function clear(set, prefix)
  while spent < budget do
    local u = redis.call('SRANDMEMBER', set)
    if not u then return end
    local key = prefix .. u
    local old = redis.call('ZCOUNT', key, '-inf', head)
    if old == 0 then
      redis.call('SREM', set, u)
      spent = spent + 1
    elseif redis.call('ZCOUNT', key, '(' .. head, '+inf') == 0 then
      redis.call('UNLINK', key)
      redis.call('SREM', set, u)
      spent = spent + 1
    else
      -- The room was created again and has entries here too: only the lowest (the old room's).
      local n = math.min(old, budget - spent)
      redis.call('ZREMRANGEBYRANK', key, 0, n - 1)
      if n == old then redis.call('SREM', set, u) end
      spent = spent + n
    end
  end
end
clear(KEYS[3], ARGV[5])
clear(KEYS[4], ARGV[6])
if spent < budget then return {0, spent, {}} end
return {1, spent, {}}
`;

// KEYS: 1 graves, 2 grave lease. ARGV: 1 the grave's entry. The grave's room keys and files are
// cleared: it leaves \`graves\` (last, so that a node dying before this leaves it for a sweep).
const GRAVE_END = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
`;

// The member set (`members`) and the roster (`roster`: the same names in a sorted set, all scores 0,
// so that listMembers pages by name in O(log n + page)) change together in each script below
// (JOIN, LEAVE, DELETE_ROOM), also while a build of the roster is in progress (LIST_MEMBERS and
// ROSTER_STEP, below). A room stored before rosters existed has none: it is built from the set, in
// bounded steps, when the two counts differ (see LIST_MEMBERS).

// KEYS: 1 rooms, 2 member:<user>, 3 members, 4 seq, 5 empty, 6 roster.
// ARGV: 1 room, 2 user, 3 max rooms, 4 members key head, 5 tail (of any room's: `room:{` `}:members`).
// The set says who is a member (see DELETE_ROOM): an entry of the room in `member:<user>` without
// the user in the set is a deleted room's, waiting for its grave's step, and is overwritten here.
// Such entries do not count against the quota: at the quota, the user's entries (at most the quota
// plus the stale ones) are checked against their rooms' sets and the stale ones removed first.
// The join itself, shared by JOIN and ACCEPT. The cap counts the user's rooms of the room's class
// (ports.ts, join): direct messages (`dm:` names) or the others. Under the cap in all (HLEN), no
// entry needs a look; at it, each entry is checked against its room's set (stale ones removed) and
// counted if of the class: at most the two caps' worth of entries, once the user is that full.
// `kind`: the kind the room must have ('' for any: a DM, an accepted invitation), read from the
// room's entry in this script, so a room deleted and made again as private since the caller looked
// adds nobody.
const JOIN_FN = `
local function joinRoom(rooms, memberKey, members, seqKey, empty, roster, room, user, max, head, tail, kind)
  local info = redis.call('HGET', rooms, room)
  if not info then return 'no_room' end
  if redis.call('SISMEMBER', members, user) == 1 then return 'member' end
  if kind ~= '' and cjson.decode(info).kind ~= kind then return 'no_room' end
  local count = redis.call('HLEN', memberKey) - redis.call('HEXISTS', memberKey, room)
  if count >= max then
    local dm = string.sub(room, 1, 3) == 'dm:'
    count = 0
    for _, r in ipairs(redis.call('HKEYS', memberKey)) do
      if r ~= room then
        if redis.call('SISMEMBER', head .. r .. tail, user) == 0 then
          redis.call('HDEL', memberKey, r)
        elseif (string.sub(r, 1, 3) == 'dm:') == dm then
          count = count + 1
        end
      end
    end
    if count >= max then return 'too_many_rooms' end
  end
  redis.call('HSET', memberKey, room, redis.call('GET', seqKey) or '0')
  redis.call('SADD', members, user)
  redis.call('ZADD', roster, 0, user)
  redis.call('ZREM', empty, room)
  return 'joined'
end
`;

// KEYS 7: the room's bans (bans.ts), read with the add: a user the owner banned before this script
// is refused, whatever their membership (the removal that follows a ban takes them out). Never the
// room's owner: a ban of them stored by a version before BAN refused it (an admin's) does not keep
// them out of their own room.
// ARGV 6: the kind the room must have ('' for any).
const JOIN = `${JOIN_FN}
local joining = redis.call('HGET', KEYS[1], ARGV[1])
if joining and redis.call('ZSCORE', KEYS[7], ARGV[2]) and cjson.decode(joining).owner ~= ARGV[2] then
  return 'banned'
end
return joinRoom(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6])
`;

// Invitations: `invites:<user>` (room -> JSON {by, at}), `room:{r}:invited` (user -> at) and
// `invites-due` (`<room>\n<user>` -> at) change together in every script below, in DELETE_ROOM
// (which drops the room's, at most the room's cap of them) and in BLOCK (blocks.ts). Expired ones
// are dropped by INVITE from all sides (at most the two caps' worth), and by the sweep
// (EXPIRE_INVITATIONS), which says so. A declined one has its entry moved from `invites:<user>` to
// `declined:<user>` (DROP_INVITATION), which every script dropping the room's side drops too: BLOCK
// finds there the room sides to drop of the invitations the blocked owner made (blocks.ts).
// KEYS: 1 rooms, 2 members, 3 invites:<user>, 4 room:{r}:invited, 5 invites-due, 6 blocks:<user>
// (blocks.ts: an inviter it holds invites nobody), 7 declined:<user>. ARGV: 1 room, 2 user, 3 JSON
// {by, at}, 4 expiredAt, 5 per user, 6 per room, 7 invites: prefix, 8 room:{ , 9 }:invited,
// 10 declined: prefix.
// `declined:<user>` is kept to the per-user cap here: a decline frees a place in `invites:<user>`,
// so declines alone would let it grow with every invitation made within the expiry. Its expired
// entries go with their room side; past the cap, entries whose room side is another's or gone
// (dropped by a node of the version before this hash), then the oldest: such an entry's room side
// stays until it expires, as every decline's did before (the owner sees the invitee pending). Each
// decline takes an entry of `invites:<user>` (at most the cap) and only INVITE adds those, so
// between two invitations of the user it holds at most twice the cap: BLOCK reads it whole.
// Only the room's owner invites (`by`): a private room of another (the one the hub looked at
// deleted and another made under the name since) is answered 'no_room'. A declined invitation
// (DROP_INVITATION) is on the room's side alone until it expires: 'already_invited', and counted
// against the room's cap, as a pending one (the owner is not told of a decline); not against the
// invitee's (its side is gone: declining makes a place).
const INVITE = `${FORGET_DECLINED_LUA}
local info = redis.call('HGET', KEYS[1], ARGV[1])
if not info then return 'no_room' end
local room = cjson.decode(info)
if room.kind ~= 'private' or room.owner ~= cjson.decode(ARGV[3]).by then return 'no_room' end
if redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 1 then return 'member' end
local expired = tonumber(ARGV[4])
local mine = redis.call('HGETALL', KEYS[3])
for i = 1, #mine, 2 do
  if tonumber(cjson.decode(mine[i + 1]).at) <= expired then
    redis.call('HDEL', KEYS[3], mine[i])
    redis.call('HDEL', ARGV[8] .. mine[i] .. ARGV[9], ARGV[2])
    redis.call('ZREM', KEYS[5], mine[i] .. '\\n' .. ARGV[2])
  end
end
local theirs = redis.call('HGETALL', KEYS[4])
for i = 1, #theirs, 2 do
  if tonumber(theirs[i + 1]) <= expired then
    redis.call('HDEL', KEYS[4], theirs[i])
    redis.call('HDEL', ARGV[7] .. theirs[i], ARGV[1])
    redis.call('HDEL', ARGV[10] .. theirs[i], ARGV[1])
    redis.call('ZREM', KEYS[5], ARGV[1] .. '\\n' .. theirs[i])
  end
end
local declined = redis.call('HGETALL', KEYS[7])
local kept = {}
for i = 1, #declined, 2 do
  local ok, d = pcall(cjson.decode, declined[i + 1])
  local at = ok and type(d) == 'table' and tonumber(d.at)
  if not at then
    redis.call('HDEL', KEYS[7], declined[i])
  elseif at <= expired then
    forgetDeclined(KEYS[7], ARGV[2], declined[i], at, ARGV[8], ARGV[9], KEYS[5])
  else
    kept[#kept + 1] = {declined[i], at}
  end
end
local cap = tonumber(ARGV[5])
if #kept > cap then
  local current = {}
  for _, e in ipairs(kept) do
    if tonumber(redis.call('HGET', ARGV[8] .. e[1] .. ARGV[9], ARGV[2])) == e[2] then
      current[#current + 1] = e
    else
      redis.call('HDEL', KEYS[7], e[1])
    end
  end
  table.sort(current, function(x, y) return x[2] < y[2] end)
  for i = 1, #current - cap do redis.call('HDEL', KEYS[7], current[i][1]) end
end
-- The block first: a declined invitation's room side stays until it expires (dropInvitation), and a
-- blocked owner is answered as the SQLite store answers them (its block drops that side).
if redis.call('HEXISTS', KEYS[6], string.lower(cjson.decode(ARGV[3]).by)) == 1 then return 'blocked' end
if redis.call('HEXISTS', KEYS[4], ARGV[2]) == 1 then return 'already_invited' end
if redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[5]) then return 'user_full' end
if redis.call('HLEN', KEYS[4]) >= tonumber(ARGV[6]) then return 'room_full' end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[4], ARGV[2], cjson.decode(ARGV[3]).at)
redis.call('ZADD', KEYS[5], cjson.decode(ARGV[3]).at, ARGV[1] .. '\\n' .. ARGV[2])
-- An entry of the room left by a node of the version before (its room side dropped without it).
redis.call('HDEL', KEYS[7], ARGV[1])
return 'invited'
`;

// KEYS: 1 rooms, 2 member:<user>, 3 members, 4 seq, 5 empty, 6 roster, 7 invites:<user>,
// 8 room:{r}:invited, 9 invites-due. ARGV: 1 room, 2 user, 3 max rooms, 4 members key head, 5 tail,
// 6 expiredAt.
// The invitation is taken with the join, or stays (too_many_rooms: the user may make room first).
const ACCEPT = `${JOIN_FN}
local invitation = redis.call('HGET', KEYS[7], ARGV[1])
if not invitation then return 'no_invitation' end
if tonumber(cjson.decode(invitation).at) <= tonumber(ARGV[6]) or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  redis.call('HDEL', KEYS[7], ARGV[1])
  redis.call('HDEL', KEYS[8], ARGV[2])
  redis.call('ZREM', KEYS[9], ARGV[1] .. '\\n' .. ARGV[2])
  return 'no_invitation'
end
local joined = joinRoom(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], '')
if joined == 'too_many_rooms' then return joined end
redis.call('HDEL', KEYS[7], ARGV[1])
redis.call('HDEL', KEYS[8], ARGV[2])
redis.call('ZREM', KEYS[9], ARGV[1] .. '\\n' .. ARGV[2])
return joined
`;

// KEYS: 1 invites:<user>, 2 room:{r}:invited, 3 invites-due, 4 rooms, 5 declined:<user>. ARGV: 1 room,
// 2 user, 3 the owner the room must have ('' for none: a decline). -> 1 if there was one.
// A decline takes the invitee's side only: the room's side and the due entry stay until it expires
// (EXPIRE_INVITATIONS then tells nobody: the invitee's side is gone), so to the owner it is pending.
// Its entry moves to `declined:<user>`, for a block of the owner to find that side (blocks.ts).
// The owner's taking back drops all of it, a declined one too (answered as a pending one).
const DROP_INVITATION = `
if ARGV[3] == '' then
  local invitation = redis.call('HGET', KEYS[1], ARGV[1])
  if not invitation then return 0 end
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[5], ARGV[1], invitation)
  return 1
end
local info = redis.call('HGET', KEYS[4], ARGV[1])
if not info or cjson.decode(info).owner ~= ARGV[3] then return 0 end
local theirs = redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[1] .. '\\n' .. ARGV[2])
redis.call('HDEL', KEYS[5], ARGV[1])
local mine = redis.call('HDEL', KEYS[1], ARGV[1])
if theirs == 1 or mine == 1 then return 1 end
return 0
`;

// The sweep's: the invitations made at or before ARGV[1], oldest first, at most ARGV[2] of them,
// dropped from all sides (a declined one's entry in `declined:<user>` too). KEYS: 1 invites-due.
// ARGV: 1 expiredAt, 2 limit, 3 invites: prefix, 4 room:{ , 5 }:invited, 6 declined: prefix.
// -> flat {room, user, ...} of those dropped (each once, whichever node).
// An entry whose invitation is no longer in the user's hash (none should be: every script changes
// the sides together) is dropped untold: its user has nothing to be told about.
const EXPIRE_INVITATIONS = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, entry in ipairs(due) do
  local cut = string.find(entry, '\\n', 1, true)
  local room = string.sub(entry, 1, cut - 1)
  local user = string.sub(entry, cut + 1)
  local had = redis.call('HDEL', ARGV[3] .. user, room)
  redis.call('HDEL', ARGV[4] .. room .. ARGV[5], user)
  redis.call('HDEL', ARGV[6] .. user, room)
  redis.call('ZREM', KEYS[1], entry)
  if had == 1 then
    out[#out + 1] = room
    out[#out + 1] = user
  end
end
return out
`;

// A node's start (indexInvitations): one user's pending invitations put in `invites-due` (and in
// their room's `invited` hash) where they are missing: invitations written before that index
// existed, or since by a node of that version, would otherwise never expire by the sweep. ZADD NX
// and HSETNX: an entry already there is left as it is, so running it again (every start, every
// node) changes nothing. One user's hash at a time, read and indexed in one step: an invitation
// accepted or declined meanwhile is not indexed after its drop. Bounded by the user's hash, which
// INVITE caps (maxInvitationsPerUser).
// KEYS: 1 invites:<user>, 2 invites-due. ARGV: 1 user, 2 room:{ , 3 }:invited. -> entries added.
const INDEX_INVITATIONS = `
local mine = redis.call('HGETALL', KEYS[1])
local added = 0
for i = 1, #mine, 2 do
  local ok, invitation = pcall(cjson.decode, mine[i + 1])
  local at = ok and type(invitation) == 'table' and tonumber(invitation.at)
  if at then
    added = added + redis.call('ZADD', KEYS[2], 'NX', at, mine[i] .. '\\n' .. ARGV[1])
    redis.call('HSETNX', ARGV[2] .. mine[i] .. ARGV[3], ARGV[1], at)
  end
end
return added
`;

// A node's start (indexInvitations, after INDEX_INVITATIONS): one room's invitations declined on a
// node of a version before `declined:<user>` (its decline dropped the invitee's side alone: the
// room's side stays, pending to the owner, until it expires) get their entry there, so that a block
// of the owner drops that side as it drops one declined since (blocks.ts). A room side with neither
// a pending invitation (invites:<user>) nor a declined entry is such a decline: every other script
// changes both sides together. Its due entry is added where missing (ZADD NX: a decline from before
// `invites-due` too), so the sweep expires it. HSETNX and NX: running it again changes nothing. The
// room's info gives `by` (the owner, the only one who invites); a side without its room is left to
// the deletion's steps. Bounded by the room's hash, which INVITE caps (maxInvitationsPerRoom).
// KEYS: 1 room:{r}:invited, 2 rooms, 3 invites-due. ARGV: 1 room, 2 invites: prefix, 3 declined:
// prefix. -> entries added to declined hashes.
const INDEX_DECLINED = `
local info = redis.call('HGET', KEYS[2], ARGV[1])
if not info then return 0 end
local ok, room = pcall(cjson.decode, info)
if not ok or type(room) ~= 'table' or type(room.owner) ~= 'string' then return 0 end
local theirs = redis.call('HGETALL', KEYS[1])
local added = 0
for i = 1, #theirs, 2 do
  local user, at = theirs[i], theirs[i + 1]
  if tonumber(at) and redis.call('HEXISTS', ARGV[2] .. user, ARGV[1]) == 0 then
    local entry = '{"by":' .. cjson.encode(room.owner) .. ',"at":' .. tonumber(at) .. '}'
    added = added + redis.call('HSETNX', ARGV[3] .. user, ARGV[1], entry)
    redis.call('ZADD', KEYS[3], 'NX', at, ARGV[1] .. '\\n' .. user)
  end
end
return added
`;

// A node's start (indexMentions): one step over one mention zset of a room, in seq order after a
// seq, at most `limit` entries (the zset is as long as the room's history: one script for all of
// it could block Redis past its busy limit).
// - mention:<u>: for each entry whose message (msgs) is there and not by u, ZADD NX of it to
//   mention:<u>:<author>, and `<u>:<author>` to mentioned. Mentions stored before the per-author
//   zsets existed (or since by a node of that version) have none, so a count left in their
//   blocked authors' mentions (COUNT_AFTER subtracts those zsets). An entry without its message is
//   a deleted room's, at or below the base of the room made again since (its msgs went with it):
//   left to the grave's steps, and not added to the new room's `mentioned`.
// - mention:<u>:<author>: an entry no longer in mention:<u> is dropped (a node of the version
//   before deleted or edited the message, taking it out of mention:<u> alone: the count would take
//   it away twice).
// Idempotent: every start, on every node, may run it again. One script reads the zsets and the
// message together, so an edit or deletion meanwhile is before the step or after it.
// KEYS: 1 the zset, 2 msgs, 3 mentioned, 4 mention:<u>. ARGV: 1 after (a seq), 2 limit, 3 u,
// 4 mention:<u>: , 5 '1' for a per-author zset. -> {the last seq read ('' for none), entries read,
// entries changed}.
const INDEX_MENTIONS = `
local seqs = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))
local changed = 0
for _, seq in ipairs(seqs) do
  if ARGV[5] == '1' then
    if not redis.call('ZSCORE', KEYS[4], seq) then changed = changed + redis.call('ZREM', KEYS[1], seq) end
  else
    local raw = redis.call('HGET', KEYS[2], seq)
    local ok, m = false, nil
    if raw then ok, m = pcall(cjson.decode, raw) end
    if ok and type(m) == 'table' and type(m.user) == 'string' and not m.deleted and m.user ~= ARGV[3] then
      changed = changed + redis.call('ZADD', ARGV[4] .. m.user, 'NX', seq, seq)
      redis.call('SADD', KEYS[3], ARGV[3] .. ':' .. m.user)
    end
  end
end
return {seqs[#seqs] or '', #seqs, changed}
`;

// KEYS: 1 member:<user>, 2 members, 3 empty, 4 rooms, 5 roster, 6 seq, 7 log. ARGV: 1 room, 2 user,
// 3 now, 4 reason ('' or 'removed'), 5 stream retention, 6 the owner the room must have ('' for
// any: a removal's is its remover, and a room of another owner, made under the name since the hub
// looked, has nobody removed), 7 '1' for a server admin's removal (the hub's word): instead of the
// owner, the room must be public. A removal never takes out the room's own owner (nobody removes
// them: the hub refuses it first, and BAN does), as SQLite's leave.
// Not in the set: not a member (an entry of the room is a deleted room's: removed, as its grave's
// step would). The stay's end is an entry of the room's log, in this script: every node reads it
// before any event written after it, and takes the user's connections out of the room first.
const LEAVE = `${LOG_CHANGE}
if ARGV[7] == '1' or ARGV[6] ~= '' then
  local info = redis.call('HGET', KEYS[4], ARGV[1])
  if not info then return 0 end
  local r = cjson.decode(info)
  if ARGV[7] == '1' then
    if r.kind ~= 'public' then return 0 end
  elseif r.owner ~= ARGV[6] then
    return 0
  end
  if r.owner == ARGV[2] then return 0 end
end
if redis.call('SREM', KEYS[2], ARGV[2]) == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
end
logChange(KEYS[7], changeId(KEYS[6], KEYS[7]), 'left', ARGV[2], ARGV[4], ARGV[5])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[2])
if redis.call('SCARD', KEYS[2]) == 0 and redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
end
return 1
`;

// KEYS: 1 member:<user>, 2 seq, 3 log, 4 members. ARGV: 1 room, 2 seq, 3 the tag of the client's
// event at that seq ('' if it named none), 4 user. The marker moves forward, never past head, and not at all if the tag
// shows that the log no longer holds the client's event at that seq (entryHolds, below, on the
// entry's nonce; here on the tag its payload carries, the same value: Lua has no SHA-256). Its log
// went back and the client has not got its `reset` yet: the seqs it names may be new events it
// never showed.
// -> {marker, held, moved}: held 0 when the tag did not hold (nothing changed); moved 1 when this
// call moved the marker.
const MARK_READ = `
-- Not in the set: no membership (an entry without it is a deleted room's: see DELETE_ROOM).
if redis.call('SISMEMBER', KEYS[4], ARGV[4]) == 0 then return {0, 1, 0} end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return {0, 1, 0} end
local seq = tonumber(ARGV[2])
local head = tonumber(redis.call('GET', KEYS[2]) or '0')
if ARGV[3] ~= '' and seq > 0 then
  local entries = redis.call('XRANGE', KEYS[3], ARGV[2] .. '-0', ARGV[2] .. '-0')
  -- No entry: trimmed away (no evidence), or the counter never reached the seq again.
  local holds = head >= seq
  if #entries > 0 then
    holds = true
    local fields = entries[1][2]
    for i = 1, #fields - 1, 2 do
      if fields[i] == 'e' then
        local ok, event = pcall(cjson.decode, fields[i + 1])
        -- An entry written before tags proves nothing either way.
        if ok and type(event) == 'table' and type(event.tag) == 'string' then holds = event.tag == ARGV[3] end
      end
    end
  end
  if not holds then return {tonumber(current), 0, 0} end
end
local want = math.min(seq, head)
if want > tonumber(current) then
  redis.call('HSET', KEYS[1], ARGV[1], want)
  return {want, 1, 1}
end
return {tonumber(current), 1, 0}
`;

// KEYS: 1 public, 2 rooms. ARGV: 1 after ('' for the start), 2 limit, 3 members key head, 4 tail.
// -> name, member count, topic ('' for none) for each room.
const LIST_ROOMS = `
local min = '-'
if ARGV[1] ~= '' then min = '(' .. ARGV[1] end
local names = redis.call('ZRANGEBYLEX', KEYS[1], min, '+', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, name in ipairs(names) do
  out[#out + 1] = name
  out[#out + 1] = redis.call('SCARD', ARGV[3] .. name .. ARGV[4])
  local raw = redis.call('HGET', KEYS[2], name)
  local topic = ''
  if raw then
    local t = cjson.decode(raw).topic
    if type(t) == 'string' then topic = t end
  end
  out[#out + 1] = topic
end
return out
`;

// Paging the members: a room's roster and its build (listMembers drives the two scripts below).
//
// The roster holds the member set's names whenever the two counts agree and no build is in
// progress: every script that changes one changes the other the same way (JOIN, LEAVE,
// DELETE_ROOM). A room stored before rosters existed has a set and no roster (or, once joined or
// left since, a roster of only the names that changed since): the counts differ. A node of the
// version before rosters, beside this one during a rolling upgrade, changes the set alone: its
// leave leaves the name in the roster, so after its leave and its join the counts agree with
// different names; the page's names are checked against the set too (SMISMEMBER, O(page)), and a
// name no longer in it means the roster is stale. Either way the roster is built again from the
// set, and that build is chunked: a room of 1.5M members from before rosters, built in one
// script, would block Redis for longer than its busy limit (every other client waits on a
// script). So:
//
// - LIST_MEMBERS, finding the roster not whole or not current, UNLINKs it (freed off the main
//   thread) and sets `rosterscan` to '0' in the same script, and answers 'build' without a page.
//   While `rosterscan` exists a build is in progress and the roster is incomplete: LIST_MEMBERS
//   answers 'build' for every listing, so no page is ever served from an incomplete roster.
// - ROSTER_STEP, called by the node again and again, does one chunk: SSCAN the set from the
//   cursor in `rosterscan` (COUNT = the chunk, a hint: about that many names, a few more when a
//   hash bucket holds several), ZADD the names it returned, store the new cursor; the cursor back
//   to 0 ends the build (the key deleted). One script, so the names it adds are in the set at that
//   moment (SSCAN reads the set as it is then).
// - Then LIST_MEMBERS again reads the page (the membership check again in the same script).
//
// Why the roster is whole when the cursor comes back to 0:
// - JOIN and LEAVE keep changing the roster during the build, as always: a name that joins during
//   it is ZADDed by the JOIN, a name that leaves is ZREMed by the LEAVE. A step cannot add back a
//   name that left: SSCAN returns only names in the set at that moment (so it joined again, and
//   that JOIN added it anyway). So the roster never holds a name the set lacks.
// - SSCAN's guarantee: a full iteration (cursor 0 back to 0) returns every element that was in the
//   set from its start to its end, however long the pauses between calls and however the table
//   grew or shrank meanwhile (it may return a name twice: ZADD is idempotent). A name that was in
//   the set for the whole build was returned by some step; one that joined or left during it is
//   the JOIN's or LEAVE's doing (above). So the roster lacks no name of the set.
// - DELETE_ROOM deletes `rosterscan` with the room: a step after it finds no build and does
//   nothing; a room created again under the name starts with no roster and no build.
// - Two nodes listing at once share the one cursor: each step advances it, whichever node runs
//   it (Redis runs scripts one at a time); the node whose step ends the build or that finds no
//   build in progress goes on to LIST_MEMBERS. The steps are idempotent ZADDs of present names.
// - A node that dies mid-build leaves `rosterscan` behind: the next listing, on any node, gets
//   'build' and resumes from the stored cursor (SSCAN cursors are stateless: the guarantee above
//   holds across the pause, and JOIN and LEAVE kept the roster meanwhile).
// - A node of the version before rosters changing the set during the build breaks the argument
//   for that name (the roster misses its join or keeps its leave), as it does outside builds:
//   the next listing's count and page checks start a new build. The listing that drove a build
//   reads its page without checking again ('0' below), as the single-call build did, so it cannot
//   go round forever while such a node keeps changing the set.

// KEYS: 1 members, 2 roster, 3 rosterscan. ARGV: 1 user, 2 after ('' for the start), 3 limit,
//       4 '1': check the roster (start a build when it is not whole or current); '0': serve it
//       unless a build is in progress (just after driving one).
// -> {'not_member'} | {'build'} | {'ok', names}. The user must be in the set at this moment
// (SISMEMBER, O(1), before anything else: a non-member starts no build).
const LIST_MEMBERS = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return {'not_member'} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'build'} end
local function start()
  redis.call('UNLINK', KEYS[2])
  redis.call('SET', KEYS[3], '0')
  return {'build'}
end
local check = ARGV[4] == '1'
if check and redis.call('ZCARD', KEYS[2]) ~= redis.call('SCARD', KEYS[1]) then return start() end
local min = '-'
if ARGV[2] ~= '' then min = '(' .. ARGV[2] end
local names = redis.call('ZRANGE', KEYS[2], min, '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[3]))
if check then
  for i = 1, #names, 1000 do
    local held = redis.call('SMISMEMBER', KEYS[1], unpack(names, i, math.min(i + 999, #names)))
    for _, h in ipairs(held) do
      if h == 0 then return start() end
    end
  end
end
return {'ok', names}
`;

// KEYS: 1 members, 2 roster, 3 rosterscan. ARGV: 1 chunk (SSCAN's COUNT).
// -> {more, names added}: more 1 while the build goes on, 0 when this step ended it or there was
// no build in progress (ended by another node, or the room deleted).
const ROSTER_STEP = `
local cursor = redis.call('GET', KEYS[3])
if not cursor then return {0, 0} end
local res = redis.call('SSCAN', KEYS[1], cursor, 'COUNT', tonumber(ARGV[1]))
local names = res[2]
for i = 1, #names, 1000 do
  local args = {}
  for j = i, math.min(i + 999, #names) do
    args[#args + 1] = 0
    args[#args + 1] = names[j]
  end
  redis.call('ZADD', KEYS[2], unpack(args))
end
if res[1] == '0' then
  redis.call('DEL', KEYS[3])
  return {0, #names}
end
redis.call('SET', KEYS[3], res[1])
return {1, #names}
`;

// APPEND's dedup check alone, writing nothing (RoomStore.storedSend): one round trip, read together.
// KEYS: 1 dedup key, 2 digest key, 3 msgs. ARGV: 1 the send's digest.
const STORED_SEND = `
local prior = redis.call('GET', KEYS[1])
if not prior then return false end
-- The seq of a room deleted since (its entries gone): nothing to answer with, as in APPEND.
local original = redis.call('HGET', KEYS[3], prior)
if not original then return false end
local digest = redis.call('GET', KEYS[2])
if digest and digest ~= ARGV[1] then return {'id_reused'} end
return {'duplicate', original}
`;

// KEYS: 1 session:<token>, 2 sessions:<user>. ARGV: 1 token, 2 the session's JSON, 3 its time to
// live (ms), 4 its expiry, 5 now, 6 the most sessions the user keeps, 7 the session: prefix.
// -> the tokens of the user's oldest sessions it deleted to make room (not the expired ones it
// pruned from the set: their keys have expired, or are past expiry and read as none). The new
// session is added after the trim, so it is never among them. The set lives as long as its latest
// session.
const CREATE_SESSION = `
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
local excess = redis.call('ZCARD', KEYS[2]) - (tonumber(ARGV[6]) - 1)
local ended = {}
if excess > 0 then
  ended = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
  for _, token in ipairs(ended) do
    redis.call('DEL', ARGV[7] .. token)
    redis.call('ZREM', KEYS[2], token)
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return ended
`;

// A sign-up (createUser). KEYS: 1 user:<name lower>, 2 skeleton:<the name's skeleton>. ARGV: 1 the
// user's JSON, 2 the name in lower case (the skeleton key's value: whose it is). The account and its
// skeleton key are written together, so of two look-alike names signing up at once one is refused.
// -> 'created', 'taken' (the name, ignoring case) or 'similar' (the skeleton is another account's).
const SIGN_UP = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'taken' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'similar' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return 'created'
`;

// Signing out a user's other sessions, after a password change or by itself. KEYS: 1 user:<name
// lower>, 2 sessions:<user>. ARGV: 1 the user's JSON as read ('' to leave the account as it is),
// 2 its JSON with the new password hash, 3 the session kept, 4 now, 5 the session: prefix.
// -> false if the account is no longer the one read (changed meanwhile: nothing is done), else the
// tokens of the user's sessions it deleted that had not expired at \`now\`.
const END_OTHER_SESSIONS = `
if ARGV[1] ~= '' then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
  redis.call('SET', KEYS[1], ARGV[2])
end
local sessions = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local live = {}
for i = 1, #sessions, 2 do
  local token = sessions[i]
  if token ~= ARGV[3] then
    redis.call('DEL', ARGV[5] .. token)
    redis.call('ZREM', KEYS[2], token)
    if tonumber(sessions[i + 1]) > tonumber(ARGV[4]) then table.insert(live, token) end
  end
end
return live
`;

/**
 * Keys one SCAN step of indexSkeletons visits (its COUNT: a hint to Redis). 10,000 keys a step is
 * a millisecond or two of Redis's time; 1,000 made the round trips most of the scan's cost.
 */
const SKELETON_SCAN_COUNT = 10_000;

/**
 * The mention zsets indexMentions steps through side by side: their steps queue on the one
 * connection, and a SCAN step can find thousands (each command waits behind those before it, and
 * fails as unavailable past the command timeout).
 */
const MENTION_ZSETS_AT_ONCE = 64;

// KEYS: 1 session:<token>. ARGV: 1 token, 2 the sessions: prefix. Deletes the session and its entry
// in its user's set (read from the session: an expired key is gone, and its entry is pruned by the
// user's next sign-in, or expires with the set).
const DELETE_SESSION = `
local raw = redis.call('GET', KEYS[1])
if raw then
  local ok, session = pcall(cjson.decode, raw)
  if ok and type(session) == 'table' and type(session.user) == 'string' then
    redis.call('ZREM', ARGV[2] .. session.user, ARGV[1])
  end
end
return redis.call('DEL', KEYS[1])
`;

// Counts after a seq, never at or below the room's base (room:{r}:base, the head of the deleted room
// of the name it continues): entries there are a deleted room's, left to its grave's steps
// (DELETE_ROOM), and must not count in the room of the name that exists now.
// Neither count takes in what the users the reader blocks wrote (the page counts no message of
// theirs either: room-state.ts): for each author of the room the reader blocks, one ZCOUNT of that
// author's zset of the room is subtracted (by:<author>, a subset of live;
// mention:<reader>:<author>, a subset of mention:<reader>: APPEND keeps both). Those authors are
// found from the smaller of the two sets, blocks:<reader> (at most maxBlockedUsers, 1,000 by
// default) or the room's authors (two in a direct message: a welcome counts every room, and a
// user with many blocks and many direct messages would otherwise pay blocks x rooms). So a count
// costs O(min(blocked, authors) x log n) whatever how long the reader was away; a scan of the
// unread messages to check their authors would grow with those. blocks:<reader> is outside the
// room's hash tag, as APPEND's blocks:<other> is (keys.ts: one primary, no Cluster).
// KEYS: 1 base, 2 a zset (live, or mention:<reader>), 3 blocks:<reader>, 4 authors, 5 by:<reader>
// (unread: subtracted; absent for mentions). ARGV: 1 after, 2 the prefix of a blocked author's
// zset ('room:{r}:by:' or 'room:{r}:mention:<reader>:').
const COUNT_AFTER = `
local after = '(' .. math.max(tonumber(ARGV[1]), tonumber(redis.call('GET', KEYS[1]) or '0'))
local n = redis.call('ZCOUNT', KEYS[2], after, '+inf')
if #KEYS > 4 then n = n - redis.call('ZCOUNT', KEYS[5], after, '+inf') end
local blocked = redis.call('HLEN', KEYS[3])
if blocked > 0 then
  if redis.call('SCARD', KEYS[4]) < blocked then
    for _, name in ipairs(redis.call('SMEMBERS', KEYS[4])) do
      if redis.call('HEXISTS', KEYS[3], string.lower(name)) == 1 then
        n = n - redis.call('ZCOUNT', ARGV[2] .. name, after, '+inf')
      end
    end
  else
    for _, name in ipairs(redis.call('HVALS', KEYS[3])) do
      n = n - redis.call('ZCOUNT', ARGV[2] .. name, after, '+inf')
    end
  end
end
if n < 0 then return 0 end
return n
`;

type Commands = {
  chatCountAfter(...args: (string | number)[]): Promise<number>;
  chatStoredSend(...args: (string | number)[]): Promise<[string, string?] | null>;
  chatAppend(...args: (string | number)[]): Promise<[string, string | number | null, string?]>;
  chatBefore(...args: (string | number)[]): Promise<(string | null)[]>;
  chatAfter(...args: (string | number)[]): Promise<(string | null)[]>;
  chatReact(...args: (string | number)[]): Promise<[string, number | undefined]>;
  chatTopic(...args: (string | number)[]): Promise<[string, number | undefined]>;
  chatCreateRoom(...args: (string | number)[]): Promise<CreateRoomResult>;
  chatDeleteRoom(...args: (string | number)[]): Promise<[0 | 1, string[]] | null | -1>;
  chatGraveStep(...args: (string | number)[]): Promise<[number, number, string[]]>;
  chatGraveEnd(...args: (string | number)[]): Promise<number>;
  chatJoin(...args: (string | number)[]): Promise<JoinResult>;
  chatInvite(...args: (string | number)[]): Promise<InviteResult>;
  chatAccept(...args: (string | number)[]): Promise<AcceptResult>;
  chatDropInvitation(...args: (string | number)[]): Promise<number>;
  chatExpireInvitations(...args: (string | number)[]): Promise<string[]>;
  chatIndexInvitations(...args: (string | number)[]): Promise<number>;
  chatIndexDeclined(...args: (string | number)[]): Promise<number>;
  chatIndexMentions(...args: (string | number)[]): Promise<[string, number, number]>;
  chatLeave(...args: (string | number)[]): Promise<number>;
  chatMarkRead(...args: (string | number)[]): Promise<[number, number, number]>;
  chatListRooms(...args: (string | number)[]): Promise<(string | number)[]>;
  chatListMembers(...args: (string | number)[]): Promise<['not_member' | 'build'] | ['ok', string[]]>;
  chatRosterStep(...args: (string | number)[]): Promise<[number, number]>;
  chatCreateSession(...args: (string | number)[]): Promise<string[]>;
  chatDeleteSession(...args: (string | number)[]): Promise<number>;
  chatEndOtherSessions(...args: (string | number)[]): Promise<string[] | null>;
  chatSignUp(...args: (string | number)[]): Promise<CreateUserResult>;
};

export class RedisStore implements AccountStore, RoomStore {
  readonly #redis: Redis & Commands;
  readonly #keys: RedisKeys;
  readonly #retention: number;
  readonly #dedupTtl: number;
  readonly #isAvailable: Availability | undefined;
  readonly #delivered: DeliveredPositions | undefined;
  readonly #rosterChunk: number;
  readonly #rosterStepped: RedisStoreOptions['rosterStepped'];
  readonly #graveChunk: number;
  readonly #graveStepped: RedisStoreOptions['graveStepped'];
  readonly #graveLeaseMs: number;
  readonly #fileChunk: number;
  readonly #mentionChunk: number;
  readonly #mentionStepped: RedisStoreOptions['mentionStepped'];
  readonly #log: Log;
  /** The cleanups of this node's deletions running after their answer (deleteRoom). */
  readonly #cleanups = new Set<Promise<void>>();
  readonly #blocks: RedisBlocks;
  readonly #bans: RedisBans;
  #closed = false;
  /** indexInvitations's run from the node's start, settled either way (expireInvitations waits). */
  #invitationsIndexed: Promise<void> = Promise.resolve();
  /** Stream entry nonces: this store's random tag and a count (unique per append, any node). */
  readonly #nonceTag = `${randomBytes(6).toString('base64url')}.`;
  #nonces = 0;

  constructor(redis: Redis, keys: RedisKeys, options: RedisStoreOptions = {}) {
    this.#keys = keys;
    this.#retention = options.streamRetention ?? 10_000;
    this.#dedupTtl = options.dedupTtlSeconds ?? 7 * 24 * 3600;
    if (!Number.isInteger(this.#retention) || this.#retention < 1)
      throw new TypeError('RedisStore: streamRetention must be a positive integer');
    if (!Number.isInteger(this.#dedupTtl) || this.#dedupTtl < 1)
      throw new TypeError('RedisStore: dedupTtlSeconds must be a positive integer');
    this.#isAvailable = options.isAvailable;
    this.#delivered = options.delivered;
    this.#rosterChunk = options.rosterChunk ?? 1000;
    if (!Number.isInteger(this.#rosterChunk) || this.#rosterChunk < 1)
      throw new TypeError('RedisStore: rosterChunk must be a positive integer');
    this.#rosterStepped = options.rosterStepped;
    this.#graveChunk = options.graveChunk ?? 1000;
    if (!Number.isInteger(this.#graveChunk) || this.#graveChunk < 1)
      throw new TypeError('RedisStore: graveChunk must be a positive integer');
    this.#graveStepped = options.graveStepped;
    this.#graveLeaseMs = options.graveLeaseMs ?? 30_000;
    if (!Number.isInteger(this.#graveLeaseMs) || this.#graveLeaseMs < 1)
      throw new TypeError('RedisStore: graveLeaseMs must be a positive integer');
    this.#fileChunk = options.fileChunk ?? DROP_ROOM_STEP;
    if (!Number.isInteger(this.#fileChunk) || this.#fileChunk < 1)
      throw new TypeError('RedisStore: fileChunk must be a positive integer');
    this.#mentionChunk = options.mentionChunk ?? 1000;
    if (!Number.isInteger(this.#mentionChunk) || this.#mentionChunk < 1)
      throw new TypeError('RedisStore: mentionChunk must be a positive integer');
    this.#mentionStepped = options.mentionStepped;
    this.#log = options.log ?? consoleLog;
    const define = (name: string, numberOfKeys: number, lua: string) => {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys, lua });
    };
    define('chatAppend', 15, APPEND);
    define('chatStoredSend', 3, STORED_SEND);
    define('chatBefore', 2, BEFORE);
    define('chatAfter', 2, AFTER);
    define('chatReact', 6, REACT);
    define('chatTopic', 6, TOPIC);
    define('chatCreateRoom', 10, CREATE_ROOM);
    define('chatDeleteRoom', 24, DELETE_ROOM);
    define('chatGraveStep', 6, GRAVE_STEP);
    define('chatGraveEnd', 2, GRAVE_END);
    // Variable key counts (2 or 3): ioredis takes the count as the first argument.
    if (!('chatCountAfter' in redis)) redis.defineCommand('chatCountAfter', { lua: COUNT_AFTER });
    defineDropRoomStep(redis);
    define('chatJoin', 7, JOIN);
    define('chatInvite', 7, INVITE);
    define('chatAccept', 9, ACCEPT);
    define('chatDropInvitation', 5, DROP_INVITATION);
    define('chatExpireInvitations', 1, EXPIRE_INVITATIONS);
    define('chatIndexInvitations', 2, INDEX_INVITATIONS);
    define('chatIndexDeclined', 3, INDEX_DECLINED);
    define('chatIndexMentions', 4, INDEX_MENTIONS);
    define('chatLeave', 7, LEAVE);
    define('chatMarkRead', 4, MARK_READ);
    define('chatListRooms', 2, LIST_ROOMS);
    define('chatListMembers', 3, LIST_MEMBERS);
    define('chatRosterStep', 3, ROSTER_STEP);
    define('chatCreateSession', 2, CREATE_SESSION);
    define('chatDeleteSession', 1, DELETE_SESSION);
    define('chatEndOtherSessions', 2, END_OTHER_SESSIONS);
    define('chatSignUp', 2, SIGN_UP);
    this.#redis = redis as Redis & Commands;
    this.#blocks = new RedisBlocks(redis, keys);
    this.#bans = new RedisBans(redis, keys);
  }

  #call<T>(fn: () => Promise<T>): Promise<T> {
    return callRedis(this.#isAvailable, fn);
  }

  /** A new entry's nonce and its tag (the `tag` its event carries to clients). */
  #nonce(): { nonce: string; tag: string } {
    const nonce = this.#nonceTag + (this.#nonces++).toString(36);
    return { nonce, tag: logTag(nonce) };
  }

  /** A new event got `seq`; `before` was this node's delivered position when it was sent. */
  #assigned(room: string, seq: number, before: number): void {
    if (seq <= before) this.#delivered?.suspect(room);
  }

  // ---- accounts ----

  getUser(name: string): Promise<UserRecord | null> {
    return this.#call(async () => {
      const raw = await this.#redis.get(this.#keys.user(name));
      return raw ? (JSON.parse(raw) as UserRecord) : null;
    });
  }

  /** One script (SIGN_UP): the name and its skeleton checked and written together. */
  createUser(user: UserRecord): Promise<CreateUserResult> {
    const k = this.#keys;
    return this.#call(() =>
      this.#redis.chatSignUp(
        k.user(user.name),
        k.skeleton(nameSkeleton(user.name)),
        J(user),
        user.name.toLowerCase(),
      ),
    );
  }

  /**
   * Gives every account without one its skeleton key (SET NX: an account whose skeleton another
   * already holds, two look-alikes signed up before skeletons were kept, stays as it is; new
   * look-alikes of either are refused). Accounts written by a server before the skeleton keys (by
   * SET NX of user:<name> alone) have none: each node runs this from its start (index.ts), in
   * SCAN steps, until the scan ends ('done') or `stopped()` says the node is stopping ('stopped'),
   * unless its done-marker says it was done (skipped). The marker's rule (done-markers.ts) holds
   * here as for the other passes: only a node of a version before f7b1ffa writes an account without
   * its skeleton key (SIGN_UP is the one write of a new user:<name>, with its skeleton), and every
   * version before NODE_LAYOUT, those included, names its connections as an older node.
   */
  indexSkeletons(stopped: () => boolean = () => false): Promise<IndexOutcome> {
    const k = this.#keys;
    return this.#pass('skeletons', stopped, () =>
      this.#scanSteps(`${globEscape(k.user(''))}*`, stopped, async (found) => {
        const raws = await this.#call(() => this.#redis.mget(...found));
        const batch = this.#redis.pipeline();
        let n = 0;
        for (const raw of raws) {
          const name = raw ? (JSON.parse(raw) as UserRecord).name : undefined;
          if (typeof name !== 'string') continue;
          batch.set(k.skeleton(nameSkeleton(name)), name.toLowerCase(), 'NX');
          n++;
        }
        if (n > 0) await this.#call(() => batch.exec());
      }),
    );
  }

  /**
   * SCANs the keys matching `pattern` (SKELETON_SCAN_COUNT a step) and hands each step's keys to
   * `step`, until the scan ends (true) or `stopped()` says the node is stopping (false): the
   * start's background indexes (indexSkeletons, indexInvitations).
   */
  async #scanSteps(
    pattern: string,
    stopped: () => boolean,
    step: (found: string[]) => Promise<void>,
  ): Promise<boolean> {
    let cursor = '0';
    do {
      if (stopped()) return false;
      const [next, found] = await this.#call(() =>
        this.#redis.scan(cursor, 'MATCH', pattern, 'COUNT', SKELETON_SCAN_COUNT),
      );
      cursor = next;
      if (found.length > 0) await step(found);
    } while (cursor !== '0');
    return true;
  }

  /**
   * Puts every pending invitation missing from `invites-due` in it (INDEX_INVITATIONS, one user's
   * at a time), so that the sweep expires and tells invitations written before the index existed;
   * then gives every invitation declined before `declined:<user>` existed its entry there
   * (INDEX_DECLINED, one room's at a time), so that a block of its owner drops its room side. Each
   * node runs it from its start (index.ts), in SCAN steps of `invites:*` and then of
   * `room:{*}:invited`, until the scans end ('done') or `stopped()` says the node is stopping
   * ('stopped'); a start that finds the pass's done-marker skips it (done-markers.ts: written after
   * a pass while no node of an older version, which writes those layouts, is connected).
   * expireInvitations waits for it first: the sweep after a start misses none. Idempotent: until
   * the marker is written, every start runs it again.
   */
  indexInvitations(stopped: () => boolean = () => false): Promise<IndexOutcome> {
    const k = this.#keys;
    const prefix = k.invitations('');
    const head = k.room('', '').slice(0, -'}:'.length); // '<prefix>room:{'
    const pipelined = async (add: (batch: Commands) => void) => {
      const batch = this.#redis.pipeline() as unknown as Commands & { exec(): Promise<unknown> };
      add(batch);
      const results = (await this.#call(() => batch.exec())) as [Error | null, unknown][] | null;
      const failed = results?.find(([err]) => err !== null);
      if (failed?.[0]) throw failed[0];
    };
    const indexing = this.#pass('invitations', stopped, async () => {
      const pending = await this.#scanSteps(`${globEscape(prefix)}*`, stopped, (found) =>
        pipelined((batch) => {
          for (const key of found)
            batch.chatIndexInvitations(
              key,
              k.invitationsDue(),
              key.slice(prefix.length),
              `${k.prefix}room:{`,
              '}:invited',
            );
        }),
      );
      if (!pending) return false;
      // Then the declines from before `declined:<user>`, one room's side at a time.
      return this.#scanSteps(`${globEscape(head)}*}:invited`, stopped, (found) =>
        pipelined((batch) => {
          for (const key of found) {
            if (!key.startsWith(head) || !key.endsWith('}:invited')) continue;
            const room = key.slice(head.length, -'}:invited'.length);
            batch.chatIndexDeclined(key, k.rooms(), k.invitationsDue(), room, prefix, k.declined(''));
          }
        }),
      );
    });
    this.#invitationsIndexed = indexing.then(
      () => {},
      () => {},
    );
    return indexing;
  }

  /**
   * A start's pass over older layouts, unless its done-marker says it was done: then { skipped:
   * the time }. The marker is written after a full pass when no node of an older version was
   * connected before it nor is after it (done-markers.ts). A marker that could not be written does
   * not undo the pass: { unmarked: the error }, for its own warning (index.ts).
   */
  async #pass(pass: Pass, stopped: () => boolean, run: () => Promise<boolean>): Promise<IndexOutcome> {
    const at = await this.#call(() => doneAt(this.#redis, this.#keys, pass));
    if (at !== null) return { skipped: at };
    const olderBefore = await this.#call(() => olderNodeConnected(this.#redis));
    // A walk of the last SCAN step's zsets that stopped halfway ends the scan as if through.
    if (!(await run()) || stopped()) return 'stopped';
    if (olderBefore || (await this.#call(() => olderNodeConnected(this.#redis)))) return 'done';
    try {
      await this.#call(() => markDone(this.#redis, this.#keys, pass, Date.now()));
    } catch (err) {
      return { unmarked: err };
    }
    return 'done';
  }

  /**
   * Gives every mention its entry in the per-author zset of its author (INDEX_MENTIONS), and drops
   * those entries no longer in the reader's mention:<u>, so that a mention count leaves out the
   * mentions stored before those zsets existed by the authors the reader blocks. Each node runs it
   * from its start (index.ts), in SCAN steps of `room:{*}:mention:*` and, per zset, steps of
   * `mentionChunk` entries, until the scan ends ('done') or `stopped()` says the node is stopping
   * ('stopped'), unless its done-marker says it was done (skipped). Until it has gone by a room, a
   * count there may still take in such older mentions of blocked authors (as it did before):
   * nothing waits for it. Idempotent: until its done-marker is written (as indexInvitations's),
   * every start runs it again.
   */
  indexMentions(stopped: () => boolean = () => false): Promise<IndexOutcome> {
    const k = this.#keys;
    const head = k.room('', '').slice(0, -'}:'.length); // '<prefix>room:{'
    const marker = '}:mention:';
    return this.#pass('mentions', stopped, () =>
      this.#scanSteps(`${globEscape(head)}*${marker}*`, stopped, async (found) => {
        // One zset, from its start to its end: its steps one after another (each reads on from the
        // last seq of the one before), the zsets of a SCAN step side by side.
        const walk = async (key: string) => {
          // <prefix>room:{<room>}:mention:<u> or ...:<u>:<author>: room names hold no '}', user
          // names no ':' (protocol.ts, ROOM_NAME, DM_ROOM, USER_NAME).
          const at = key.indexOf(marker, head.length);
          if (!key.startsWith(head) || at < 0) return;
          const room = key.slice(head.length, at);
          const [user, author, extra] = key.slice(at + marker.length).split(':');
          if (!user || author === '' || extra !== undefined) return;
          const own = k.room(room, `mention:${user}`);
          let after = '0';
          for (;;) {
            if (stopped()) return;
            const [last, read] = await this.#call(() =>
              this.#redis.chatIndexMentions(
                key,
                k.room(room, 'msgs'),
                k.room(room, 'mentioned'),
                own,
                after,
                this.#mentionChunk,
                user,
                `${own}:`,
                author === undefined ? '0' : '1',
              ),
            );
            this.#mentionStepped?.(key, Number(read));
            if (Number(read) < this.#mentionChunk || last === '') return;
            after = String(last);
          }
        };
        for (let i = 0; i < found.length; i += MENTION_ZSETS_AT_ONCE)
          await Promise.all(found.slice(i, i + MENTION_ZSETS_AT_ONCE).map(walk));
      }),
    );
  }

  /** One script (CREATE_SESSION): the user's oldest sessions past the cap go with the insert. */
  createSession(session: SessionRecord, now: number, maxSessions: number): Promise<string[]> {
    const k = this.#keys;
    return this.#call(() =>
      this.#redis.chatCreateSession(
        k.session(session.token),
        k.sessions(session.user),
        session.token,
        J(session),
        Math.max(1, session.expiresAt - now),
        session.expiresAt,
        now,
        maxSessions,
        k.session(''),
      ),
    );
  }

  getSession(token: string, now: number): Promise<SessionRecord | null> {
    return this.#call(async () => {
      const raw = await this.#redis.get(this.#keys.session(token));
      if (!raw) return null;
      const session = JSON.parse(raw) as SessionRecord;
      return session.expiresAt > now ? session : null;
    });
  }

  deleteSession(token: string): Promise<void> {
    return this.#call(async () => {
      await this.#redis.chatDeleteSession(this.#keys.session(token), token, this.#keys.sessions(''));
    });
  }

  /** One script (END_OTHER_SESSIONS): the user's sessions but `keep` go at once. */
  deleteOtherSessions(user: string, keep: string, now: number): Promise<string[]> {
    const k = this.#keys;
    return this.#call(
      async () =>
        (await this.#redis.chatEndOtherSessions(
          k.user(user),
          k.sessions(user),
          '',
          '',
          keep,
          now,
          k.session(''),
        )) ?? [],
    );
  }

  /**
   * The account is read, then written by one script (END_OTHER_SESSIONS) only if it is still what
   * was read, with the other sessions' deletion.
   */
  changePassword(
    user: string,
    oldHash: string,
    newHash: string,
    keep: string,
    now: number,
  ): Promise<string[] | null> {
    const k = this.#keys;
    return this.#call(async () => {
      const raw = await this.#redis.get(k.user(user));
      if (!raw) return null;
      const record = JSON.parse(raw) as UserRecord;
      if (record.passwordHash !== oldHash) return null;
      return this.#redis.chatEndOtherSessions(
        k.user(user),
        k.sessions(record.name),
        raw,
        J({ ...record, passwordHash: newHash }),
        keep,
        now,
        k.session(''),
      );
    });
  }

  // ---- rooms ----

  createRoom(room: RoomInfo, quotas: RoomQuotas): Promise<CreateRoomResult> {
    const k = this.#keys;
    return this.#call(() =>
      this.#redis.chatCreateRoom(
        k.rooms(),
        k.seq(room.name),
        k.publicRooms(),
        k.roomCount(),
        k.owned(room.owner ?? ''),
        k.emptyRooms(),
        k.base(room.name),
        k.generation(room.name),
        k.bans(room.name),
        k.room(room.name, 'topics'),
        room.name,
        J({ kind: room.kind, owner: room.owner, createdAt: room.createdAt }),
        room.kind,
        quotas.maxRooms,
        quotas.maxOwnedRooms,
        room.owner ?? '',
        room.createdAt,
      ),
    );
  }

  getRoom(name: string): Promise<RoomInfo | null> {
    return this.#call(async () => {
      const raw = await this.#redis.hget(this.#keys.rooms(), name);
      if (!raw) return null;
      const info = JSON.parse(raw) as Omit<RoomInfo, 'name'>;
      const room: RoomInfo = { name, kind: info.kind, owner: info.owner, createdAt: info.createdAt };
      if (typeof info.topic === 'string' && info.topic !== '') room.topic = info.topic;
      return room;
    });
  }

  /**
   * DELETE_ROOM: the grave's entry ('' for none) and who was invited when it deleted the room;
   * null: no such room.
   */
  #deleteRoom(
    name: string,
    onlyIfEmpty: boolean,
    owner?: string,
  ): Promise<{ entry: string; invitees: string[] } | null | 'busy'> {
    const k = this.#keys;
    const id = randomBytes(9).toString('base64url'); // 12 characters, no ':'
    const grave = (part: string) => k.room(name, `grave:${id}:${part}`);
    return this.#call(async () => {
      const res = await this.#redis.chatDeleteRoom(
        k.rooms(),
        k.publicRooms(),
        k.roomCount(),
        k.emptyRooms(),
        k.room(name, 'members'),
        k.log(name),
        k.room(name, 'msgs'),
        k.room(name, 'idx'),
        k.room(name, 'live'),
        k.room(name, 'authors'),
        k.room(name, 'mentioned'),
        k.room(name, 'roster'),
        k.room(name, 'rosterscan'),
        k.graves(),
        k.seq(name),
        grave('members'),
        grave('authors'),
        grave('mentioned'),
        grave('lease'),
        `${k.prefix}att:room:{${name}}`,
        k.room(name, 'invited'),
        k.invitationsDue(),
        k.bans(name),
        k.room(name, 'topics'),
        name,
        k.owned(''),
        onlyIfEmpty ? '1' : '0',
        `${id}:${name}`,
        this.#graveLeaseMs,
        k.invitations(''),
        owner ?? '',
        k.declined(''),
      );
      if (res === -1) return 'busy';
      if (res === null) return null;
      const [buried, invitees] = res;
      return { entry: Number(buried) === 1 ? `${id}:${name}` : '', invitees: invitees.map(String) };
    });
  }

  /**
   * Drives the steps of a deleted room's grave (entry `<id>:<room>` of `graves`) to its end:
   * GRAVE_STEP until the room's keys are cleared, then DROP_ROOM (attachments.ts) over the files
   * uploaded to rooms of the name, then GRAVE_END. Each step is bounded and may run again (every
   * removal in it is idempotent), so a grave left midway (its node died, lost Redis or closed) is
   * finished by any node's sweep once its lease ran out. `deleting`: this node deleted the room (it
   * holds the lease and renews it at each step); else a sweep, which leaves a leased grave alone.
   * Stops before its next step once this store is closed (the lease then runs out). Redis
   * unavailable: rejects with UnavailableError (the grave stays for a sweep).
   */
  async #clearGrave(entry: string, deleting: boolean): Promise<void> {
    const k = this.#keys;
    const id = entry.slice(0, 12);
    const room = entry.slice(13);
    const grave = (part: string) => k.room(room, `grave:${id}:${part}`);
    const keys = [
      k.graves(),
      grave('members'),
      grave('authors'),
      grave('mentioned'),
      k.room(room, 'members'),
      grave('lease'),
    ];
    for (;;) {
      if (this.#closed) return;
      const res = await this.#call(() =>
        this.#redis.chatGraveStep(
          ...keys,
          entry,
          this.#graveChunk,
          k.member(''),
          room,
          k.room(room, 'by:'),
          k.room(room, 'mention:'),
          deleting ? this.#graveLeaseMs : '',
        ),
      );
      const more = Number(res[0]);
      // 2: leased, its deleting node is still clearing it; 3: ended meanwhile (another node's).
      if (more >= 2) return;
      await this.#graveStepped?.(room, Number(res[1]));
      if (more === 0) break;
    }
    let cursor = '0';
    do {
      if (this.#closed) return;
      const from = cursor;
      const [next, dropped] = await this.#call(() =>
        dropRoomStep(this.#redis, k, room, from, this.#fileChunk),
      );
      cursor = String(next);
      await this.#graveStepped?.(room, Number(dropped));
    } while (cursor !== '0');
    if (this.#closed) return;
    await this.#call(() => this.#redis.chatGraveEnd(k.graves(), grave('lease'), entry));
  }

  /**
   * Clears the graves left by deletions whose node died, lost Redis or closed midway (see
   * DELETE_ROOM), at most 100 a sweep (a grave that Redis failed again stays for the next one).
   */
  async #clearGraves(stopped: () => boolean): Promise<void> {
    if (stopped()) return;
    const entries = await this.#call(() => this.#redis.zrange(this.#keys.graves(), '0', '99'));
    for (const entry of entries) {
      if (stopped()) return;
      try {
        await this.#clearGrave(entry, false);
      } catch (err) {
        if (!(err instanceof UnavailableError)) throw err;
        return;
      }
    }
  }

  /**
   * Resolves once the room is gone for everyone (DELETE_ROOM, constant work); its grave is cleared
   * after, in the background (a failure there is logged; a sweep finishes it).
   */
  async deleteRoom(name: string, owner?: string): Promise<boolean> {
    return (await this.deleteRoomAndInvitations(name, owner)) !== null;
  }

  /** deleteRoom, answering who was invited (DELETE_ROOM reads them as it drops them). */
  async deleteRoomAndInvitations(name: string, owner?: string): Promise<string[] | null> {
    const deleted = await this.#deleteRoom(name, false, owner);
    if (deleted === null || deleted === 'busy') return null;
    if (deleted.entry !== '') this.#inBackground(deleted.entry);
    return deleted.invitees.sort();
  }

  #inBackground(entry: string): void {
    const cleanup = this.#clearGrave(entry, true).then(
      () => {
        this.#cleanups.delete(cleanup);
      },
      (err: unknown) => {
        this.#cleanups.delete(cleanup);
        const why = redisFailure(err);
        this.#log(`chat: clearing deleted room ${entry.slice(13)} failed (a sweep retries): ${why}`, 'error');
      },
    );
    this.#cleanups.add(cleanup);
  }

  /** Resolves when the cleanups of this node's deletions that are running now have ended. */
  async settled(): Promise<void> {
    while (this.#cleanups.size > 0) await Promise.all([...this.#cleanups]);
  }

  /**
   * Shutdown: no step starts after this; resolves once a step in flight has ended (before the
   * Redis client closes). A grave left midway is finished by any node's sweep.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.settled();
  }

  listRooms(after: string, limit: number): Promise<RoomListing[]> {
    return this.#call(async () => {
      const flat = await this.#redis.chatListRooms(
        this.#keys.publicRooms(),
        this.#keys.rooms(),
        after,
        limit,
        `${this.#keys.prefix}room:{`,
        '}:members',
      );
      const rooms: RoomListing[] = [];
      for (let i = 0; i < flat.length; i += 3) {
        const topic = String(flat[i + 2]);
        rooms.push({
          room: String(flat[i]),
          kind: 'public',
          members: Number(flat[i + 1]),
          ...(topic ? { topic } : {}),
        });
      }
      return rooms;
    });
  }

  /** The keys of JOIN_FN's joinRoom, JOIN's and ACCEPT's first six. */
  #joinKeys(user: string, room: string): string[] {
    const k = this.#keys;
    return [
      k.rooms(),
      k.member(user),
      k.room(room, 'members'),
      k.seq(room),
      k.emptyRooms(),
      k.room(room, 'roster'),
    ];
  }

  join(user: string, room: string, maxRooms: number, kind?: RoomInfo['kind']): Promise<JoinResult> {
    const k = this.#keys;
    return this.#call(() =>
      this.#redis.chatJoin(
        ...this.#joinKeys(user, room),
        k.bans(room),
        room,
        user,
        maxRooms,
        `${k.prefix}room:{`,
        '}:members',
        kind ?? '',
      ),
    );
  }

  /**
   * The invitee's name as their account spells it (user:<name lower>), or as given where there is
   * no account: the key of their invitations (invites:<user>, declined:<user>) and their entry in
   * the room's side and `invites-due`, whatever spelling the caller used. Names of accounts never
   * change, so the read needs no step with the write.
   */
  async #invitee(user: string): Promise<string> {
    const raw = await this.#redis.get(this.#keys.user(user));
    const name = raw === null ? undefined : (JSON.parse(raw) as Partial<UserRecord>).name;
    return typeof name === 'string' && name.toLowerCase() === user.toLowerCase() ? name : user;
  }

  /** One script (INVITE): the checks, the expired invitations dropped, the caps and the writes. */
  invite(
    room: string,
    invitee: string,
    by: string,
    at: number,
    limits: InvitationLimits,
  ): Promise<InviteResult> {
    const k = this.#keys;
    return this.#call(async () => {
      const user = await this.#invitee(invitee);
      return this.#redis.chatInvite(
        k.rooms(),
        k.room(room, 'members'),
        k.invitations(user),
        k.room(room, 'invited'),
        k.invitationsDue(),
        k.blocks(user),
        k.declined(user),
        room,
        user,
        J({ by, at }),
        limits.expiredAt,
        limits.perUser,
        limits.perRoom,
        k.invitations(''),
        `${k.prefix}room:{`,
        '}:invited',
        k.declined(''),
      );
    });
  }

  invitations(invitee: string, expiredAt: number): Promise<InvitationRecord[]> {
    return this.#call(async () => {
      const user = await this.#invitee(invitee);
      const all = await this.#redis.hgetall(this.#keys.invitations(user));
      const out: InvitationRecord[] = [];
      for (const [room, raw] of Object.entries(all)) {
        const { by, at } = JSON.parse(raw) as { by: string; at: number };
        if (at > expiredAt) out.push({ room, user, by, at });
      }
      return out.sort((a, b) => a.at - b.at || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0));
    });
  }

  invitees(room: string): Promise<string[]> {
    return this.#call(async () => (await this.#redis.hkeys(this.#keys.room(room, 'invited'))).sort());
  }

  /** One script (ACCEPT): the invitation taken and the join (JOIN's) together, or neither. */
  accept(invitee: string, room: string, maxRooms: number, expiredAt: number): Promise<AcceptResult> {
    const k = this.#keys;
    return this.#call(async () => {
      const user = await this.#invitee(invitee);
      return this.#redis.chatAccept(
        ...this.#joinKeys(user, room),
        k.invitations(user),
        k.room(room, 'invited'),
        k.invitationsDue(),
        room,
        user,
        maxRooms,
        `${k.prefix}room:{`,
        '}:members',
        expiredAt,
      );
    });
  }

  dropInvitation(invitee: string, room: string, owner?: string): Promise<boolean> {
    const k = this.#keys;
    return this.#call(async () => {
      const user = await this.#invitee(invitee);
      return (
        (await this.#redis.chatDropInvitation(
          k.invitations(user),
          k.room(room, 'invited'),
          k.invitationsDue(),
          k.rooms(),
          k.declined(user),
          room,
          user,
          owner ?? '',
        )) === 1
      );
    });
  }
  /** One script (blocks.ts, BLOCK): the block and the blocked user's invitations of the blocker dropped. */
  block(user: string, blocked: string, max: number): Promise<BlockResult> {
    // The blocker's invitations are keyed by the account's spelling (#invitee).
    return this.#call(async () => this.#blocks.block(await this.#invitee(user), blocked, max));
  }

  unblock(user: string, blocked: string): Promise<boolean> {
    return this.#call(() => this.#blocks.unblock(user, blocked));
  }

  blockedUsers(user: string): Promise<string[]> {
    return this.#call(() => this.#blocks.list(user));
  }

  blocks(user: string, other: string): Promise<boolean> {
    return this.#call(() => this.#blocks.blocks(user, other));
  }

  /** One script (bans.ts, BAN): the owner's check, the cap and the add. */
  ban(room: string, user: string, owner: string, max: number, admin?: boolean): Promise<BanResult> {
    return this.#call(() => this.#bans.ban(room, user, owner, max, admin));
  }

  unban(room: string, user: string, owner: string, admin?: boolean): Promise<boolean> {
    return this.#call(() => this.#bans.unban(room, user, owner, admin));
  }

  bans(room: string, after: string, limit: number): Promise<string[]> {
    return this.#call(() => this.#bans.list(room, after, limit));
  }

  /**
   * EXPIRE_INVITATIONS, 500 at a time until none is left (each call bounded), after this node's
   * start has indexed the invitations written before `invites-due` (indexInvitations).
   */
  async expireInvitations(expiredAt: number): Promise<{ user: string; room: string }[]> {
    await this.#invitationsIndexed;
    const k = this.#keys;
    const out: { user: string; room: string }[] = [];
    for (;;) {
      const flat = await this.#call(() =>
        this.#redis.chatExpireInvitations(
          k.invitationsDue(),
          expiredAt,
          500,
          k.invitations(''),
          `${k.prefix}room:{`,
          '}:invited',
          k.declined(''),
        ),
      );
      for (let i = 0; i + 1 < flat.length; i += 2)
        out.push({ room: String(flat[i]), user: String(flat[i + 1]) });
      if (flat.length < 1000 || this.#closed) return out;
    }
  }

  leave(
    user: string,
    room: string,
    now: number,
    reason?: 'removed',
    owner?: string,
    admin?: boolean,
  ): Promise<boolean> {
    const k = this.#keys;
    return this.#call(
      async () =>
        (await this.#redis.chatLeave(
          k.member(user),
          k.room(room, 'members'),
          k.emptyRooms(),
          k.rooms(),
          k.room(room, 'roster'),
          k.seq(room),
          k.log(room),
          room,
          user,
          now,
          reason ?? '',
          this.#retention,
          owner ?? '',
          admin ? '1' : '',
        )) === 1,
    );
  }

  /**
   * The user's entries, each kept only if its room exists and has the user in its set: an entry
   * without the user in the set is a deleted room's, waiting for its grave's step (DELETE_ROOM).
   */
  memberships(user: string): Promise<Membership[]> {
    return this.#call(async () => {
      const all = await this.#redis.hgetall(this.#keys.member(user));
      const rooms = Object.keys(all).sort();
      if (rooms.length === 0) return [];
      const read = this.#redis.multi().hmget(this.#keys.rooms(), ...rooms);
      for (const room of rooms) read.sismember(this.#keys.room(room, 'members'), user);
      const res = (await read.exec()) as [Error | null, unknown][] | null;
      if (res === null) throw new Error('memberships: MULTI aborted');
      for (const [err] of res) if (err) throw err;
      const infos = res[0][1] as (string | null)[];
      const out: Membership[] = [];
      for (const [i, room] of rooms.entries()) {
        const raw = infos[i];
        // Deleted between the two reads, or a deleted room's entry (the room maybe created again).
        if (!raw || res[i + 1][1] !== 1) continue;
        const info = JSON.parse(raw) as Omit<RoomInfo, 'name'>;
        out.push({ room, kind: info.kind, owner: info.owner, lastRead: Number(all[room]) });
      }
      return out;
    });
  }

  /**
   * A page of the room's `roster` (LIST_MEMBERS): ZRANGE BYLEX from `(after`, so a page costs
   * O(log n + page) however large the room (general holds every account), plus SISMEMBER of the
   * user, SCARD and ZCARD (O(1)) and SMISMEMBER of the page (O(page)) to see that the user is a
   * member and the roster is whole and current. The order is the bytes' (memcmp), which for user
   * names (ASCII) is SQLite's BINARY collation too. A roster to build (see above LIST_MEMBERS) is
   * built here first, one bounded ROSTER_STEP after another, and the page read after it.
   */
  listMembers(user: string, room: string, after: string, limit: number): Promise<MembersPage> {
    const k = this.#keys;
    const keys = [k.room(room, 'members'), k.room(room, 'roster'), k.room(room, 'rosterscan')];
    return this.#call(async () => {
      for (let check = true; ; check = false) {
        const res = await this.#redis.chatListMembers(...keys, user, after, limit, check ? '1' : '0');
        if (res[0] === 'not_member') return { ok: false, reason: 'not_member' };
        if (res[0] === 'ok') return { ok: true, members: res[1] };
        await this.#buildRoster(room, keys);
      }
    });
  }

  /** Drives the roster build in progress to its end (or until another node ended it). */
  async #buildRoster(room: string, keys: string[]): Promise<void> {
    for (;;) {
      const [more, added] = await this.#redis.chatRosterStep(...keys, this.#rosterChunk);
      await this.#rosterStepped?.(room, Number(added));
      if (Number(more) === 0) return;
    }
  }

  /** The room's member set is the truth (an entry in `member:<user>` may be stale: DELETE_ROOM). */
  isMember(user: string, room: string): Promise<boolean> {
    return this.#call(
      async () => (await this.#redis.sismember(this.#keys.room(room, 'members'), user)) === 1,
    );
  }

  /** One SISMEMBER per room's member set (the truth, as for isMember), in one MULTI: one round trip. */
  memberOf(user: string, rooms: readonly string[]): Promise<Set<string>> {
    if (rooms.length === 0) return Promise.resolve(new Set());
    return this.#call(async () => {
      const read = this.#redis.multi();
      for (const room of rooms) read.sismember(this.#keys.room(room, 'members'), user);
      const res = (await read.exec()) as [Error | null, unknown][] | null;
      if (res === null) throw new Error('memberOf: MULTI aborted');
      const out = new Set<string>();
      for (const [i, [err, is]] of res.entries()) {
        if (err) throw err;
        if (is === 1) out.add(rooms[i]);
      }
      return out;
    });
  }

  /**
   * With a tag: checked against the entry at `seq` in the same script (no extra round trip). A tag
   * that does not hold means the log went back and this node may not have noticed yet: the room is
   * checked at once (the hint below), so its clients get `reset` without waiting for the next check.
   */
  markRead(user: string, room: string, seq: number, tag?: string): Promise<ReadMark> {
    return this.#call(async () => {
      const [marker, held, moved] = await this.#redis.chatMarkRead(
        this.#keys.member(user),
        this.#keys.seq(room),
        this.#keys.log(room),
        this.#keys.room(room, 'members'),
        room,
        seq,
        tag ?? '',
        user,
      );
      if (Number(held) === 0) this.#delivered?.suspect(room);
      return { seq: Number(marker), moved: Number(moved) === 1 };
    });
  }

  unreadCount(room: string, user: string, after: number): Promise<number> {
    const k = this.#keys;
    return this.#call(async () =>
      Number(
        await this.#redis.chatCountAfter(
          5,
          k.base(room),
          k.room(room, 'live'),
          k.blocks(user),
          k.room(room, 'authors'),
          k.room(room, `by:${user}`),
          after,
          k.room(room, 'by:'),
        ),
      ),
    );
  }

  appendEvent(input: AppendInput): Promise<AppendResult> {
    return this.#call(async () => {
      const k = this.#keys;
      const room = input.room;
      let head: string;
      let tail: string;
      const mentions = input.type !== 'delete' && input.mentions?.length ? input.mentions : [];
      const mentionsJson = mentions.length > 0 ? `,"mentions":${J(mentions)}` : '';
      const { nonce, tag } = this.#nonce();
      if (input.type === 'message') {
        head = `{"room":${J(room)},"seq":`;
        const files = input.attachments?.length ? `,"attachments":${J(input.attachments)}` : '';
        tail = `,"id":${J(input.clientId)},"user":${J(input.user)},"text":${J(input.text)},"ts":${input.ts}${mentionsJson}${files}`;
      } else if (input.type === 'edit') {
        head = `{"v":${PROTOCOL_VERSION},"type":"edited","tag":"${tag}","room":${J(room)},"seq":`;
        tail = `,"target":${input.target},"user":${J(input.user)},"text":${J(input.text)},"ts":${input.ts}${mentionsJson}}`;
      } else {
        head = `{"v":${PROTOCOL_VERSION},"type":"deleted","tag":"${tag}","room":${J(room)},"seq":`;
        tail = `,"target":${input.target},"user":${J(input.user)},"ts":${input.ts}}`;
      }
      const before = this.#delivered?.delivered(room) ?? -1;
      const [status, value, quote] = await this.#redis.chatAppend(
        k.seq(room),
        k.log(room),
        k.room(room, 'msgs'),
        k.room(room, 'idx'),
        k.room(room, 'live'),
        k.room(room, `by:${input.user}`),
        input.type === 'message'
          ? k.room(room, `dedup:${input.user}:${input.clientId}`)
          : k.room(room, 'none'),
        k.rooms(),
        k.room(room, 'authors'),
        k.room(room, 'mentioned'),
        k.tip(room),
        input.type === 'message'
          ? k.room(room, `digest:${input.user}:${input.clientId}`)
          : k.room(room, 'none'),
        k.room(room, 'members'),
        `${k.prefix}att:unbound`,
        // A direct message's other user's blocks (APPEND reads it only in a DM).
        k.blocks(room.startsWith('dm:') ? dmPeer(room, input.user) : ''),
        input.type,
        this.#retention,
        head,
        tail,
        this.#dedupTtl,
        input.type === 'message' ? 0 : input.target,
        input.user,
        input.type === 'delete' ? '' : input.text,
        input.ts,
        room,
        input.type === 'message' ? (input.replyTo ?? 0) : 0,
        // cjson decodes [] as an empty table either way; the script only iterates it.
        J(mentions),
        k.room(room, 'mention:'),
        nonce,
        tag,
        input.type === 'message' ? sendDigest(input) : '',
        `${k.prefix}att:`,
        (input.type === 'message' && input.bothInDm) || (input.type === 'delete' && input.admin) ? '1' : '',
        ...(input.type === 'message' ? (input.attachments ?? []).map((file) => file.id) : []),
      );
      if (
        status === 'no_room' ||
        status === 'not_member' ||
        status === 'not_found' ||
        status === 'forbidden' ||
        status === 'id_reused' ||
        status === 'blocked' ||
        status === 'dm_closed'
      )
        return { ok: false, reason: status };
      if (status === 'duplicate') {
        const [message] = await this.#present(room, [String(value)]);
        return { ok: true, duplicate: true, event: { type: 'message', message } };
      }
      const seq = Number(value);
      this.#assigned(room, seq, before);
      let event: RoomEvent;
      if (input.type === 'message') {
        const message: ChatMessage = {
          room,
          seq,
          id: input.clientId,
          user: input.user,
          text: input.text,
          ts: input.ts,
        };
        if (mentions.length > 0) message.mentions = mentions;
        // The quote as the script logged it.
        if (quote) message.reply = JSON.parse(quote) as ReplyQuote;
        if (input.attachments?.length) message.attachments = input.attachments;
        event = { type: 'message', message };
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
        if (mentions.length > 0) event.mentions = mentions;
      } else {
        event = { type: 'deleted', room, seq, target: input.target, user: input.user, ts: input.ts };
      }
      return { ok: true, event, duplicate: false };
    });
  }

  storedSend(send: SendLookup): Promise<StoredSend> {
    return this.#call(async () => {
      const res = await this.#redis.chatStoredSend(
        this.#keys.room(send.room, `dedup:${send.user}:${send.clientId}`),
        this.#keys.room(send.room, `digest:${send.user}:${send.clientId}`),
        this.#keys.room(send.room, 'msgs'),
        sendDigestOfIds(send),
      );
      if (res === null) return null;
      if (res[0] === 'id_reused') return { ok: false, reason: 'id_reused' };
      const [message] = await this.#present(send.room, [String(res[1])]);
      return { ok: true, message };
    });
  }

  react(input: ReactInput): Promise<ReactResult> {
    return this.#call(async () => {
      const k = this.#keys;
      const room = input.room;
      const event: Omit<ReactedEvent, 'seq'> & { seq: number } = {
        type: 'reacted',
        room,
        seq: 0,
        target: input.target,
        user: input.user,
        emoji: input.emoji,
        on: input.on,
        ts: input.ts,
      };
      const before = this.#delivered?.delivered(room) ?? -1;
      const { nonce, tag } = this.#nonce();
      const [status, value] = await this.#redis.chatReact(
        k.seq(room),
        k.log(room),
        k.room(room, 'msgs'),
        k.rooms(),
        k.tip(room),
        k.room(room, 'members'),
        room,
        input.target,
        input.user,
        input.emoji,
        input.on ? '1' : '0',
        input.maxEmoji,
        this.#retention,
        `{"v":${PROTOCOL_VERSION},"type":"reacted","tag":"${tag}","room":${J(room)},"seq":`,
        `,"target":${input.target},"user":${J(input.user)},"emoji":${J(input.emoji)},"on":${input.on},"ts":${input.ts}}`,
        nonce,
      );
      if (
        status === 'no_room' ||
        status === 'not_member' ||
        status === 'not_found' ||
        status === 'too_many_reactions'
      )
        return { ok: false, reason: status };
      if (status === 'noop') return { ok: true, event: null, head: Number(value) };
      event.seq = Number(value);
      this.#assigned(room, event.seq, before);
      return { ok: true, event };
    });
  }

  /** TOPIC: the checks, the event and the room's info rewritten in one script. */
  setTopic(input: TopicInput): Promise<TopicResult> {
    return this.#call(async () => {
      const k = this.#keys;
      const room = input.room;
      const before = this.#delivered?.delivered(room) ?? -1;
      const { nonce, tag } = this.#nonce();
      const [status, value] = await this.#redis.chatTopic(
        k.seq(room),
        k.log(room),
        k.rooms(),
        k.tip(room),
        k.room(room, 'members'),
        k.room(room, 'topics'),
        room,
        input.user,
        input.text,
        this.#retention,
        `{"v":${PROTOCOL_VERSION},"type":"topic","tag":"${tag}","room":${J(room)},"seq":`,
        `,"user":${J(input.user)},"text":${J(input.text)},"ts":${input.ts}}`,
        nonce,
        input.admin === true ? '1' : '0',
        `{"type":"topic","room":${J(room)},"seq":`,
      );
      if (status === 'no_room' || status === 'not_member' || status === 'forbidden')
        return { ok: false, reason: status };
      if (status === 'noop') return { ok: true, event: null, head: Number(value) };
      const event: TopicEvent = {
        type: 'topic',
        room,
        seq: Number(value),
        user: input.user,
        text: input.text,
        ts: input.ts,
      };
      this.#assigned(room, event.seq, before);
      return { ok: true, event };
    });
  }

  /**
   * unreadCount, mentionCount and the room's topic (its `rooms` entry), asked at once: the three
   * commands leave together, one round trip.
   */
  async roomCounts(room: string, user: string, after: number): Promise<RoomCounts> {
    const [unread, mentions, raw] = await Promise.all([
      this.unreadCount(room, user, after),
      this.mentionCount(room, user, after),
      this.#call(() => this.#redis.hget(this.#keys.rooms(), room)),
    ]);
    const topic = raw ? (JSON.parse(raw) as { topic?: unknown }).topic : undefined;
    return typeof topic === 'string' && topic !== '' ? { unread, mentions, topic } : { unread, mentions };
  }

  mentionCount(room: string, user: string, after: number): Promise<number> {
    const k = this.#keys;
    return this.#call(async () =>
      Number(
        await this.#redis.chatCountAfter(
          4,
          k.base(room),
          k.room(room, `mention:${user}`),
          k.blocks(user),
          k.room(room, 'authors'),
          after,
          k.room(room, `mention:${user}:`),
        ),
      ),
    );
  }

  /**
   * Stored messages (hash entries) -> the protocol's messages: the quote of the message each one
   * replies to, as that message is now, and the reactions in their fixed order.
   */
  async #present(room: string, raws: string[]): Promise<ChatMessage[]> {
    type Stored = ChatMessage & { replyTo?: number; rx?: Record<string, string[]> };
    const stored = raws.map((r) => JSON.parse(r) as Stored);
    const wanted = [...new Set(stored.flatMap((m) => (m.replyTo === undefined ? [] : [m.replyTo])))];
    const replied = new Map<number, ChatMessage>();
    if (wanted.length > 0) {
      const rows = await this.#redis.hmget(this.#keys.room(room, 'msgs'), ...wanted.map(String));
      for (const raw of rows) {
        if (!raw) continue;
        const m = JSON.parse(raw) as ChatMessage;
        replied.set(m.seq, m);
      }
    }
    return stored.map((m) => {
      const { replyTo, rx, ...message } = m;
      if (replyTo !== undefined) {
        const target = replied.get(replyTo);
        if (target) message.reply = quoteOf(target);
      }
      const reactions = rx
        ? reactionsOf(Object.entries(rx).flatMap(([e, us]) => us.map((u) => [e, u] as const)))
        : undefined;
      if (reactions) message.reactions = reactions;
      return message;
    });
  }

  head(room: string): Promise<number> {
    return this.#call(async () => Number((await this.#redis.get(this.#keys.seq(room))) ?? 0));
  }

  headTag(room: string): Promise<{ head: number; tag: string | null }> {
    return this.#call(async () => {
      // One read: the counter and the tip change together (the append scripts).
      const [counter, tip] = await this.#redis.mget(this.#keys.seq(room), this.#keys.tip(room));
      const head = Number(counter ?? 0);
      return { head, tag: head > 0 && tip ? logTag(tip) : null };
    });
  }

  /**
   * One MULTI (one round trip, one state of Redis): the base (the counter when the room was
   * created, kept until it is created again), the counter, and, when the client named a tag, the
   * entry at `after` to check it against (entryHolds).
   */
  resumePoint(room: string, after: number, tag: string | undefined): Promise<ResumePoint> {
    return this.#call(async () => {
      const k = this.#keys;
      const multi = this.#redis.multi().get(k.base(room)).get(k.seq(room));
      if (tag !== undefined) multi.xrange(k.log(room), `${after}-0`, `${after}-0`);
      const res = (await multi.exec()) as [Error | null, unknown][] | null;
      if (res === null) throw new Error('resumePoint: MULTI aborted');
      for (const [err] of res) if (err) throw err;
      const base = Number((res[0][1] as string | null) ?? 0);
      const head = Number((res[1][1] as string | null) ?? 0);
      const holds =
        tag === undefined || entryHolds((res[2][1] as [string, string[]][])[0]?.[1], head, after, tag);
      return { base, head, holds };
    });
  }

  messagesBefore(room: string, before: number, limit: number): Promise<ChatMessage[]> {
    return this.#call(async () => {
      const rows = await this.#redis.chatBefore(
        this.#keys.room(room, 'idx'),
        this.#keys.room(room, 'msgs'),
        before,
        limit,
      );
      return this.#present(
        room,
        rows.filter((r): r is string => r !== null),
      );
    });
  }

  messagesAfter(room: string, after: number, limit: number): Promise<ChatMessage[]> {
    return this.#call(async () => {
      const rows = await this.#redis.chatAfter(
        this.#keys.room(room, 'idx'),
        this.#keys.room(room, 'msgs'),
        after,
        limit,
      );
      return this.#present(
        room,
        rows.filter((r): r is string => r !== null),
      );
    });
  }

  /** ZREVRANGEBYSCORE of the room's `topics` (TOPIC writes it; the stream is trimmed, this is not). */
  topicEvents(room: string, after: number, upTo: number, limit: number): Promise<TopicEvent[]> {
    return this.#call(async () => {
      const rows = await this.#redis.zrevrangebyscore(
        this.#keys.room(room, 'topics'),
        upTo,
        `(${after}`,
        'LIMIT',
        0,
        limit,
      );
      return rows.map((row) => JSON.parse(row) as TopicEvent).reverse();
    });
  }

  eventsAfter(room: string, after: number, limit: number): Promise<RoomEvent[]> {
    return this.#call(async () => {
      const entries = await this.#redis.xrange(this.#keys.log(room), `${after + 1}-0`, '+', 'COUNT', limit);
      // A membership change is no event (LOG_CHANGE). The range starts at an event's id, so the
      // first entry is the event after `after` whenever the stream has it.
      const events = entries.filter(([id]) => isEventId(id)).map(([, fields]) => parseLogEntry(fields));
      // The stream holds events as they were sent; a message shows its current state and an edit
      // of a message deleted since loses its text (a deleted text is never sent again).
      const wanted = new Set<number>();
      for (const e of events)
        if (e.type === 'message' || e.type === 'edited')
          wanted.add(e.type === 'message' ? e.message.seq : e.target);
      if (wanted.size === 0) return events;
      const seqs = [...wanted];
      const current = await this.#redis.hmget(this.#keys.room(room, 'msgs'), ...seqs.map(String));
      const bySeq = new Map<number, ChatMessage>();
      for (const m of await this.#present(
        room,
        current.filter((r): r is string => r !== null),
      ))
        bySeq.set(m.seq, m);
      return events.map((e): RoomEvent => {
        if (e.type === 'message') {
          const now = bySeq.get(e.message.seq);
          if (!now) return e;
          return e.tag === undefined
            ? { type: 'message', message: now }
            : { type: 'message', message: now, tag: e.tag };
        }
        if (e.type === 'edited' && bySeq.get(e.target)?.deleted) {
          const { mentions: _gone, ...redacted } = e;
          return { ...redacted, text: '' };
        }
        return e;
      });
    });
  }

  /** A sweep's own deletion: its grave cleared now; Redis failing midway leaves it to the next sweep. */
  async #clearGraveOrLeave(entry: string): Promise<void> {
    try {
      await this.#clearGrave(entry, true);
    } catch (err) {
      if (!(err instanceof UnavailableError)) throw err;
    }
  }

  async expireEmptyRooms(emptySince: number, stop?: AbortSignal): Promise<ExpiredRooms> {
    // Each step is bounded and may be left for the next sweep: a closing node stops between them,
    // so no command of the sweep is sent after its Redis client closed.
    const stopped = () => this.#closed || stop?.aborted === true;
    const invitations: ExpiredRooms['invitations'] = [];
    await this.#clearGraves(stopped);
    if (stopped()) return { rooms: [], invitations };
    const names = await this.#call(() =>
      this.#redis.zrangebyscore(this.#keys.emptyRooms(), '-inf', `(${emptySince}`),
    );
    const gone: string[] = [];
    for (const name of names) {
      if (stopped()) break;
      if (name === DEFAULT_ROOM) continue;
      const result = await this.#deleteRoom(name, true);
      if (result !== null && result !== 'busy') {
        gone.push(name);
        // DELETE_ROOM read them as it dropped them: of two sweeps, the one whose step deleted it.
        for (const user of result.invitees) invitations.push({ user, room: name });
        if (result.entry !== '') await this.#clearGraveOrLeave(result.entry);
      }
      // A name left in the set without its room: drop it (a joined room left the set on its join).
      else if (result === null) await this.#call(() => this.#redis.zrem(this.#keys.emptyRooms(), name));
    }
    return { rooms: gone, invitations };
  }
}

/**
 * The log entry at `seq` (its fields, undefined if the stream has none) and the room's counter,
 * against the tag a client saw at `seq`: false if the log proves it no longer holds that event.
 */
export function entryHolds(fields: string[] | undefined, counter: number, seq: number, tag: string): boolean {
  if (fields === undefined) return counter >= seq; // trimmed away (no evidence), or never reached again
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'n') return logTag(fields[i + 1]) === tag;
  return true; // an entry written before nonces existed: no evidence either way
}

/** A stream entry's id is a room event's (`<seq>-0`), not a membership change's (LOG_CHANGE). */
export function isEventId(id: string): boolean {
  return id.endsWith('-0');
}

/** A stream entry's fields ['e', payload] -> the room event (without the protocol's `v`). */
export function parseLogEntry(fields: string[]): RoomEvent {
  const i = fields.indexOf('e');
  const { v: _v, ...event } = JSON.parse(fields[i + 1]) as RoomEvent & { v: number };
  return event as RoomEvent;
}
