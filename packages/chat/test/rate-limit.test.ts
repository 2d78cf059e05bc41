import { describe, expect, it } from 'vitest';
import { RateLimiter, TokenBucket } from '../src/server/rate-limit.js';

describe('TokenBucket', () => {
  it('allows a burst, then one token per 1/rate seconds, with the wait until the next', () => {
    const bucket = new TokenBucket(10, 2, 0);
    for (let i = 0; i < 10; i++) expect(bucket.take(0)).toBe(0);
    expect(bucket.take(0)).toBe(500);
    expect(bucket.take(250)).toBe(250);
    expect(bucket.take(500)).toBe(0);
    expect(bucket.take(500)).toBe(500);
    expect(bucket.isFull(500 + 5000)).toBe(true);
  });

  it('rejects nonsense parameters', () => {
    expect(() => new TokenBucket(0, 1, 0)).toThrow(RangeError);
    expect(() => new RateLimiter(5, 0)).toThrow(RangeError);
  });

  it('keeps one bucket per key', () => {
    const limiter = new RateLimiter(1, 1);
    expect(limiter.take('a', 0)).toBe(0);
    expect(limiter.take('a', 0)).toBe(1000);
    expect(limiter.take('b', 0)).toBe(0);
  });
});
