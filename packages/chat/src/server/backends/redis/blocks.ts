/**
 * Blocks on Redis (ports.ts, RoomStore.block): `blocks:<user lower>`, a hash from each blocked
 * user's name in lower case to the name as created (keys.ts).
 *
 * BLOCK adds the entry under the cap and drops the blocker's pending invitations made by the
 * blocked user (`invites:<user>` and each room's `room:{r}:invited`, as store.ts DROP_INVITATION
 * does) in one script. The store's APPEND and INVITE scripts read the hash with their writes
 * (HEXISTS), so a block is either before a write (it is refused) or after it: Redis runs one
 * script at a time.
 */
import type { Redis } from 'ioredis';
import type { BlockResult } from '../../ports.js';
import type { RedisKeys } from './keys.js';

// KEYS: 1 blocks:<user>, 2 invites:<user>. ARGV: 1 blocked (lower), 2 blocked (as created), 3 max,
// 4 user, 5 'room:{' with the prefix, 6 '}:invited'. -> {status, dropped rooms...}
const BLOCK = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'already'} end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return {'full'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local out = {'blocked'}
local mine = redis.call('HGETALL', KEYS[2])
for i = 1, #mine, 2 do
  if string.lower(cjson.decode(mine[i + 1]).by) == ARGV[1] then
    redis.call('HDEL', KEYS[2], mine[i])
    redis.call('HDEL', ARGV[5] .. mine[i] .. ARGV[6], ARGV[4])
    out[#out + 1] = mine[i]
  end
end
return out
`;

type Commands = { chatBlock(...args: (string | number)[]): Promise<string[]> };

export class RedisBlocks {
  readonly #redis: Redis & Commands;
  readonly #keys: RedisKeys;

  constructor(redis: Redis, keys: RedisKeys) {
    if (!('chatBlock' in redis)) redis.defineCommand('chatBlock', { numberOfKeys: 2, lua: BLOCK });
    this.#redis = redis as Redis & Commands;
    this.#keys = keys;
  }

  async block(user: string, blocked: string, max: number): Promise<BlockResult> {
    const k = this.#keys;
    const [result, ...dropped] = await this.#redis.chatBlock(
      k.blocks(user),
      k.invitations(user),
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
