import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/shared/token-bucket.js';

describe('TokenBucket', () => {
  it('allows a burst, then one token per 1/rate seconds, with the exact wait until the next', () => {
    const bucket = new TokenBucket(10, 2, 0);
    for (let i = 0; i < 10; i++) expect(bucket.take(0)).toBe(0);
    expect(bucket.take(0)).toBe(500);
    expect(bucket.take(250)).toBe(250);
    expect(bucket.take(499)).toBe(1);
    expect(bucket.take(500)).toBe(0);
    expect(bucket.take(500)).toBe(500);
    expect(bucket.isFull(500 + 5000)).toBe(true);
  });

  it('ignores a clock that goes back', () => {
    const bucket = new TokenBucket(1, 1, 1000);
    expect(bucket.take(1000)).toBe(0);
    expect(bucket.take(0)).toBe(1000);
    expect(bucket.take(2000)).toBe(0);
  });

  it('rejects nonsense parameters', () => {
    expect(() => new TokenBucket(0, 1, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(1.5, 1, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(5, 0, 0)).toThrow(RangeError);
  });
});
