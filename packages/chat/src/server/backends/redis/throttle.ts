/**
 * The throttle on Redis, so that a user's budget is the same however many nodes they use: token
 * buckets (shared/token-bucket.ts's arithmetic, in Lua), the typing gate and the sign-in backoff.
 * Times are the calling node's clock (passed in, so tests can drive it); a clock that runs behind
 * another node's refills nothing rather than taking tokens back. Every key expires once it would be
 * back to its initial state, so idle users cost nothing.
 */
import type { Redis } from 'ioredis';
import { checkRate } from '../../../shared/token-bucket.js';
import type { BucketName, Buckets, SignInBackoff, Throttle } from '../../ports.js';
import { accountKey, signInWait } from '../backoff.js';
import { type Availability, callRedis, type RedisKeys } from './keys.js';

// KEYS: 1 bucket. ARGV: 1 burst, 2 tokens per ms, 3 now. -> 0 or the ms to wait.
const TAKE = `
local burst = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'l')
local tokens = tonumber(state[1]) or burst
local last = tonumber(state[2]) or now
if now > last then
  tokens = math.min(burst, tokens + (now - last) * perMs)
  last = now
end
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / perMs - 1e-9) end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'l', tostring(last))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / perMs) + 1000)
return wait
`;

// KEYS: 1 gate. ARGV: 1 interval, 2 now. -> 1 if this one passes.
const ONCE = `
local last = tonumber(redis.call('GET', KEYS[1]))
local now = tonumber(ARGV[2])
if last and now - last < tonumber(ARGV[1]) and now >= last then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', tonumber(ARGV[1]) * 2)
return 1
`;

// KEYS: 1 failures hash. ARGV: 1 now, 2 forget ms, 3 free failures, 4 base ms, 5 max ms. -> 0, the
// attempt counted as a failure, or the ms to wait (nothing counted): backoff.ts's arithmetic, checked
// and counted in one step so that attempts made at once are counted one by one.
const ATTEMPT = `
local state = redis.call('HMGET', KEYS[1], 'n', 'l')
local n = tonumber(state[1]) or 0
local last = tonumber(state[2]) or 0
local now = tonumber(ARGV[1])
local forget = tonumber(ARGV[2])
if now - last >= forget then n = 0 end
local free = tonumber(ARGV[3])
if n >= free then
  local delay = math.min(tonumber(ARGV[5]), tonumber(ARGV[4]) * 2 ^ math.min(30, n - free))
  local wait = last + delay - now
  if wait > 0 then return wait end
end
redis.call('HSET', KEYS[1], 'n', n + 1, 'l', math.max(last, now))
redis.call('PEXPIRE', KEYS[1], forget)
return 0
`;

type Commands = {
  throttleTake(...args: (string | number)[]): Promise<number>;
  throttleOnce(...args: (string | number)[]): Promise<number>;
  throttleAttempt(...args: (string | number)[]): Promise<number>;
};

export class RedisThrottle implements Throttle {
  readonly #redis: Redis & Commands;
  readonly #keys: RedisKeys;
  readonly #rates: Buckets;
  readonly #backoff: SignInBackoff;
  readonly #isAvailable: Availability;

  constructor(
    redis: Redis,
    keys: RedisKeys,
    rates: Buckets,
    backoff: SignInBackoff,
    isAvailable: Availability = () => true,
  ) {
    for (const rate of Object.values(rates)) checkRate(rate.burst, rate.perSecond);
    const define = (name: string, lua: string) => {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 1, lua });
    };
    define('throttleTake', TAKE);
    define('throttleOnce', ONCE);
    define('throttleAttempt', ATTEMPT);
    this.#redis = redis as Redis & Commands;
    this.#keys = keys;
    this.#rates = rates;
    this.#backoff = backoff;
    this.#isAvailable = isAvailable;
  }

  #call<T>(fn: () => Promise<T>): Promise<T> {
    return callRedis(this.#isAvailable, fn);
  }

  take(bucket: BucketName, key: string, now: number): Promise<number> {
    const rate = this.#rates[bucket];
    return this.#call(async () =>
      Number(
        await this.#redis.throttleTake(
          this.#keys.throttle(`${bucket}:${key}`),
          rate.burst,
          rate.perSecond / 1000,
          now,
        ),
      ),
    );
  }

  once(key: string, intervalMs: number, now: number): Promise<boolean> {
    return this.#call(
      async () => (await this.#redis.throttleOnce(this.#keys.throttle(`once:${key}`), intervalMs, now)) === 1,
    );
  }

  signInWait(name: string, now: number): Promise<number> {
    return this.#call(async () => {
      const [n, last] = await this.#redis.hmget(this.#keys.throttle(`signin:${accountKey(name)}`), 'n', 'l');
      return n === null ? 0 : signInWait(this.#backoff, Number(n), Number(last), now);
    });
  }

  signInAttempt(name: string, now: number): Promise<number> {
    const { forgetMs, freeFailures, baseMs, maxMs } = this.#backoff;
    return this.#call(async () =>
      Number(
        await this.#redis.throttleAttempt(
          this.#keys.throttle(`signin:${accountKey(name)}`),
          now,
          forgetMs,
          freeFailures,
          baseMs,
          maxMs,
        ),
      ),
    );
  }

  signInSucceeded(name: string): Promise<void> {
    return this.#call(async () => {
      await this.#redis.del(this.#keys.throttle(`signin:${accountKey(name)}`));
    });
  }
}
