/**
 * Throttle for one process: token buckets per (bucket, key), the typing gate and the sign-in
 * backoff, in Maps that forget idle entries so they stay small.
 */

import { checkRate, TokenBucket } from '../../../shared/token-bucket.js';
import type { BucketName, Buckets, SignInBackoff, Throttle } from '../../ports.js';
import { accountKey, signInWait } from '../backoff.js';

const SWEEP_AT = 10_000;

export class MemoryThrottle implements Throttle {
  readonly #rates: Buckets;
  readonly #backoff: SignInBackoff;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #once = new Map<string, number>();
  readonly #failures = new Map<string, { count: number; last: number }>();

  constructor(rates: Buckets, backoff: SignInBackoff) {
    for (const rate of Object.values(rates)) checkRate(rate.burst, rate.perSecond);
    this.#rates = rates;
    this.#backoff = backoff;
  }

  async take(bucket: BucketName, key: string, now: number): Promise<number> {
    const id = `${bucket}\n${key}`;
    let b = this.#buckets.get(id);
    if (!b) {
      if (this.#buckets.size >= SWEEP_AT)
        for (const [k, v] of this.#buckets) if (v.isFull(now)) this.#buckets.delete(k);
      const rate = this.#rates[bucket];
      b = new TokenBucket(rate.burst, rate.perSecond, now);
      this.#buckets.set(id, b);
    }
    return b.take(now);
  }

  async once(key: string, intervalMs: number, now: number): Promise<boolean> {
    const last = this.#once.get(key);
    if (last !== undefined && now - last < intervalMs && now >= last) return false;
    if (this.#once.size >= SWEEP_AT)
      for (const [k, t] of this.#once) if (now - t >= intervalMs) this.#once.delete(k);
    this.#once.set(key, now);
    return true;
  }

  async signInWait(name: string, now: number): Promise<number> {
    const f = this.#failures.get(accountKey(name));
    return f ? signInWait(this.#backoff, f.count, f.last, now) : 0;
  }

  async signInAttempt(name: string, now: number): Promise<number> {
    const key = accountKey(name);
    const f = this.#failures.get(key);
    // Checked and counted in one synchronous step: concurrent attempts are counted one by one.
    const wait = f ? signInWait(this.#backoff, f.count, f.last, now) : 0;
    if (wait > 0) return wait;
    if (f && now - f.last < this.#backoff.forgetMs) {
      f.count++;
      f.last = Math.max(f.last, now);
      return 0;
    }
    if (this.#failures.size >= SWEEP_AT)
      for (const [k, v] of this.#failures)
        if (now - v.last >= this.#backoff.forgetMs) this.#failures.delete(k);
    this.#failures.set(key, { count: 1, last: now });
    return 0;
  }

  async signInSucceeded(name: string): Promise<void> {
    this.#failures.delete(accountKey(name));
  }
}
