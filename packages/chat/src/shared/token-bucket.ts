/**
 * Token bucket: `burst` tokens, refilled continuously at `perSecond`. One request takes one token;
 * with none left, take() says how long until the next one (the client's retry hint). The clock is
 * a parameter, so tests need no timers. Shared: the server's memory throttle counts with it, the page
 * paces its outbox with it, and server/backends/redis/throttle.ts runs the same arithmetic in Lua.
 */
export class TokenBucket {
  readonly #burst: number;
  readonly #perMs: number;
  #tokens: number;
  #last: number;

  constructor(burst: number, perSecond: number, now: number) {
    checkRate(burst, perSecond);
    this.#burst = burst;
    this.#perMs = perSecond / 1000;
    this.#tokens = burst;
    this.#last = now;
  }

  /** Takes a token: 0 if allowed, otherwise the milliseconds until a token is available. */
  take(now: number): number {
    // A clock that went back (another node's, on Redis) refills nothing and takes nothing back.
    if (now > this.#last) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
      this.#last = now;
    }
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    // (Less a hair: a float error must not turn an exact 1 ms into 2.)
    return Math.ceil((1 - this.#tokens) / this.#perMs - 1e-9);
  }

  /** True when the bucket is full again (its owner may forget it). */
  isFull(now: number): boolean {
    return this.#tokens + Math.max(0, now - this.#last) * this.#perMs >= this.#burst;
  }
}

export function checkRate(burst: number, perSecond: number): void {
  if (!(Number.isInteger(burst) && burst >= 1) || !(perSecond > 0 && Number.isFinite(perSecond)))
    throw new RangeError('a rate needs an integer burst >= 1 and perSecond > 0');
}
