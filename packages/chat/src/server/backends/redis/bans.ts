/**
 * Bans from public rooms on Redis (ports.ts, RoomStore.ban): `room:{r}:bans`, a sorted set of the
 * banned users' names (as the account spells them), all scores 0, so that the owner's list pages
 * by name (ZRANGE BYLEX) in O(log n + page) (keys.ts).
 *
 * BAN checks the room's owner and kind and the cap with its add in one script, and the store's JOIN
 * script reads the set with its add (ZSCORE), so a ban is either before a join (it is refused) or
 * after it (the removal that follows the ban takes the user out: hub, membership.ts). Redis runs
 * one script at a time. The set goes with its room: DELETE_ROOM unlinks it, and CREATE_ROOM drops
 * whatever a room of the name left (a room deleted by a node of the version before bans, whose
 * DELETE_ROOM did not know the key), so a new room under an old name starts with no bans.
 */
import type { Redis } from 'ioredis';
import type { BanResult } from '../../ports.js';
import type { RedisKeys } from './keys.js';

// The room must be public and `owner`'s: one deleted and made again by another, or as private,
// since the hub looked bans nobody. general has no owner (null in its JSON): only a server admin
// (admin '1', the hub's word: admins are config) bans there, as in any public room. Answers the
// room's decoded JSON, or false.
const MODERATED = `
local function moderated(rooms, room, owner, admin)
  local info = redis.call('HGET', rooms, room)
  if not info then return false end
  local r = cjson.decode(info)
  if r.kind == 'public' and (admin == '1' or r.owner == owner) then return r end
  return false
end
`;

// KEYS: 1 rooms, 2 room:{r}:bans. ARGV: 1 room, 2 user, 3 owner, 4 max, 5 admin ('1' or '').
// -> BanResult. The room's own owner is never banned from it (they could lift an admin's ban); a
// ban of them that a version before this check stored is dropped here, so that it takes no place
// under the cap (JOIN lets the owner in whatever the set says, and list() leaves them out).
const BAN = `${MODERATED}
local r = moderated(KEYS[1], ARGV[1], ARGV[3], ARGV[5])
if not r then return 'no_room' end
if r.owner == ARGV[2] then return 'owner' end
if type(r.owner) == 'string' then redis.call('ZREM', KEYS[2], r.owner) end
if redis.call('ZSCORE', KEYS[2], ARGV[2]) then return 'already' end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 'full' end
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return 'banned'
`;

// KEYS: 1 rooms, 2 room:{r}:bans. ARGV: 1 room, 2 user, 3 owner, 4 admin. -> 1 if a ban was lifted
const UNBAN = `${MODERATED}
if not moderated(KEYS[1], ARGV[1], ARGV[3], ARGV[4]) then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[2])
`;

type Commands = {
  chatBan(...args: (string | number)[]): Promise<BanResult>;
  chatUnban(...args: (string | number)[]): Promise<number>;
};

export class RedisBans {
  readonly #redis: Redis & Commands;
  readonly #keys: RedisKeys;

  constructor(redis: Redis, keys: RedisKeys) {
    if (!('chatBan' in redis)) redis.defineCommand('chatBan', { numberOfKeys: 2, lua: BAN });
    if (!('chatUnban' in redis)) redis.defineCommand('chatUnban', { numberOfKeys: 2, lua: UNBAN });
    this.#redis = redis as Redis & Commands;
    this.#keys = keys;
  }

  ban(room: string, user: string, owner: string, max: number, admin = false): Promise<BanResult> {
    const k = this.#keys;
    return this.#redis.chatBan(k.rooms(), k.bans(room), room, user, owner, max, admin ? '1' : '');
  }

  async unban(room: string, user: string, owner: string, admin = false): Promise<boolean> {
    const k = this.#keys;
    return (await this.#redis.chatUnban(k.rooms(), k.bans(room), room, user, owner, admin ? '1' : '')) === 1;
  }

  /**
   * Without the room's owner: a ban of them stored by a version before BAN refused it binds nobody
   * (JOIN lets them in), so the moderators are not shown it. One more is read for the one left out.
   */
  async list(room: string, after: string, limit: number): Promise<string[]> {
    const from = after === '' ? '-' : `(${after}`;
    const [info, names] = await Promise.all([
      this.#redis.hget(this.#keys.rooms(), room),
      this.#redis.zrangebylex(this.#keys.bans(room), from, '+', 'LIMIT', 0, limit + 1),
    ]);
    const owner = info === null ? null : (JSON.parse(info) as { owner?: unknown }).owner;
    return names.filter((name) => name !== owner).slice(0, limit);
  }
}
