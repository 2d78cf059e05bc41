/**
 * Blocks on Redis (ports.ts, RoomStore.block): `blocks:<user lower>`, a hash from each blocked
 * user's name in lower case to the name as created (keys.ts).
 *
 * BLOCK adds the entry under the cap and, in the same script, drops the invitations of the blocker
 * made by the blocked user, as SQLite's block deletes their rows:
 * - the pending ones (`invites:<user>`, each room's `room:{r}:invited` and `invites-due`, as
 *   store.ts DROP_INVITATION does), answered as `dropped`;
 * - the declined ones, whose room side stays until it expires (to the owner it is pending), found
 *   in `declined:<user>` (store.ts, DROP_INVITATION keeps it): their room side and due entry go,
 *   so the blocked owner no longer sees the blocker among the invitees. Not answered: the blocker
 *   was told at the decline. A decline made by a node of the version before `declined:` has no
 *   entry there until a node's start gives it one (store.ts, INDEX_DECLINED): until then its room
 *   side stays until it expires, as it did (invite answers the owner 'blocked' all the same:
 *   INVITE checks the block first).
 * Both hashes are bounded by the per-user cap of invitations (INVITE keeps `declined:<user>` to it),
 * so the script is O(cap).
 *
 * The store's APPEND and INVITE scripts read the hash with their writes (HEXISTS), so a block is
 * either before a write (it is refused) or after it: Redis runs one script at a time.
 */
import type { Redis } from 'ioredis';
import type { BlockResult } from '../../ports.js';
import type { RedisKeys } from './keys.js';

/**
 * Lua: forgets the user's declined invitation to `room` (its entry in `declined:<user>`, made at
 * `at`) and, while the room's side is still that invitation's (the same time: an invitation made
 * there since has its own), drops that side and its entry in `invites-due`. Shared by BLOCK and
 * store.ts's INVITE (which drops the expired ones).
 */
export const FORGET_DECLINED_LUA = `
local function forgetDeclined(declined, user, room, at, head, tail, due)
  redis.call('HDEL', declined, room)
  local side = head .. room .. tail
  if at and tonumber(redis.call('HGET', side, user)) == at then
    redis.call('HDEL', side, user)
    redis.call('ZREM', due, room .. '\\n' .. user)
  end
end
`;

// KEYS: 1 blocks:<user>, 2 invites:<user>, 3 invites-due, 4 declined:<user>. ARGV: 1 blocked (lower),
// 2 blocked (as created), 3 max, 4 user, 5 'room:{' with the prefix, 6 '}:invited'.
// -> {status, dropped rooms (pending ones)...}
const BLOCK = `${FORGET_DECLINED_LUA}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'already'} end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return {'full'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local out = {'blocked'}
local mine = redis.call('HGETALL', KEYS[2])
for i = 1, #mine, 2 do
  if string.lower(cjson.decode(mine[i + 1]).by) == ARGV[1] then
    redis.call('HDEL', KEYS[2], mine[i])
    redis.call('HDEL', ARGV[5] .. mine[i] .. ARGV[6], ARGV[4])
    redis.call('ZREM', KEYS[3], mine[i] .. '\\n' .. ARGV[4])
    out[#out + 1] = mine[i]
  end
end
local declined = redis.call('HGETALL', KEYS[4])
for i = 1, #declined, 2 do
  local ok, d = pcall(cjson.decode, declined[i + 1])
  if ok and type(d) == 'table' and type(d.by) == 'string' and string.lower(d.by) == ARGV[1] then
    forgetDeclined(KEYS[4], ARGV[4], declined[i], tonumber(d.at), ARGV[5], ARGV[6], KEYS[3])
  end
end
return out
`;

type Commands = { chatBlock(...args: (string | number)[]): Promise<string[]> };

export class RedisBlocks {
  readonly #redis: Redis & Commands;
  readonly #keys: RedisKeys;

  constructor(redis: Redis, keys: RedisKeys) {
    if (!('chatBlock' in redis)) redis.defineCommand('chatBlock', { numberOfKeys: 4, lua: BLOCK });
    this.#redis = redis as Redis & Commands;
    this.#keys = keys;
  }

  async block(user: string, blocked: string, max: number): Promise<BlockResult> {
    const k = this.#keys;
    const [result, ...dropped] = await this.#redis.chatBlock(
      k.blocks(user),
      k.invitations(user),
      k.invitationsDue(),
      k.declined(user),
      blocked.toLowerCase(),
      blocked,
      max,
      user,
      `${k.prefix}room:{`,
      '}:invited',
    );
    return { result: result as BlockResult['result'], dropped: dropped.sort() };
  }

  async unblock(user: string, blocked: string): Promise<boolean> {
    return (await this.#redis.hdel(this.#keys.blocks(user), blocked.toLowerCase())) === 1;
  }

  async list(user: string): Promise<string[]> {
    return (await this.#redis.hvals(this.#keys.blocks(user))).sort();
  }

  async blocks(user: string, other: string): Promise<boolean> {
    return (await this.#redis.hexists(this.#keys.blocks(user), other.toLowerCase())) === 1;
  }
}
