/**
 * Token bucket: `burst` tokens, refilled continuously at `perSecond`. One action takes one token;
 * with none left, take() says how long until the next one (the client's retry hint).
 * The clock is a parameter so tests need no timers.
 */
export class TokenBucket {
  readonly #burst: number;
  readonly #perMs: number;
  #tokens: number;
  #last: number;

  constructor(burst: number, perSecond: number, now: number) {
    if (!(burst >= 1) || !(perSecond > 0))
      throw new RangeError('TokenBucket needs burst >= 1 and perSecond > 0');
    this.#burst = burst;
    this.#perMs = perSecond / 1000;
    this.#tokens = burst;
    this.#last = now;
  }

  /** Takes a token: 0 if allowed, otherwise the milliseconds until a token is available. */
  take(now: number): number {
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, now - this.#last) * this.#perMs);
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.#tokens) / this.#perMs);
  }

  /** True when the bucket is full again (its owner may forget it). */
  isFull(now: number): boolean {
    return this.#tokens + Math.max(0, now - this.#last) * this.#perMs >= this.#burst;
  }
}

/** One bucket per key (user, IP), forgetting full buckets so the map stays small. */
export class RateLimiter {
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #burst: number;
  readonly #perSecond: number;

  constructor(burst: number, perSecond: number) {
    new TokenBucket(burst, perSecond, 0); // validates the numbers now, not at the first take
    this.#burst = burst;
    this.#perSecond = perSecond;
  }

  take(key: string, now = Date.now()): number {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size > 10_000) this.#sweep(now);
      bucket = new TokenBucket(this.#burst, this.#perSecond, now);
      this.#buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) if (bucket.isFull(now)) this.#buckets.delete(key);
  }
}
