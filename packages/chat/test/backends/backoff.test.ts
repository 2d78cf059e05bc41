/**
 * server/backends/backoff.ts: the sign-in backoff arithmetic both throttles (memory, Redis)
 * share. The throttles themselves: backends/memory/throttle.test.ts, redis/store.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { accountKey, DEFAULT_SIGN_IN_BACKOFF, signInWait } from '../../src/server/backends/backoff.js';

describe('sign-in backoff', () => {
  const p = DEFAULT_SIGN_IN_BACKOFF;
  it('is free for the first failures, then doubles from 1 s up to 5 min, and forgets after an hour', () => {
    expect(signInWait(p, 4, 0, 0)).toBe(0);
    expect(signInWait(p, 5, 0, 0)).toBe(1000);
    expect(signInWait(p, 6, 0, 500)).toBe(1500);
    expect(signInWait(p, 13, 0, 0)).toBe(256_000);
    expect(signInWait(p, 14, 0, 0)).toBe(300_000);
    expect(signInWait(p, 99, 0, 0)).toBe(300_000);
    expect(signInWait(p, 99, 0, 3600 * 1000)).toBe(0);
  });

  it('a custom policy: its free failures, base, cap and forgetting time', () => {
    const q = { freeFailures: 0, baseMs: 10, maxMs: 35, forgetMs: 100 };
    expect(signInWait(q, 0, 50, 50)).toBe(10);
    expect(signInWait(q, 1, 50, 50)).toBe(20);
    expect(signInWait(q, 2, 50, 50)).toBe(35);
    // The wait counts from the last failure, and is never negative.
    expect(signInWait(q, 2, 50, 80)).toBe(5);
    expect(signInWait(q, 2, 50, 90)).toBe(0);
    expect(signInWait(q, 2, 50, 150)).toBe(0);
  });

  it('a huge failure count neither overflows nor waits past the cap', () => {
    expect(signInWait(p, Number.MAX_SAFE_INTEGER, 0, 0)).toBe(p.maxMs);
    expect(signInWait({ ...p, maxMs: Number.MAX_SAFE_INTEGER }, 1e9, 0, 0)).toBe(p.baseMs * 2 ** 30);
  });
});

describe('accountKey', () => {
  it('one counter per name, whatever its case', () => {
    expect(accountKey('Ann')).toBe(accountKey('ANN'));
    expect(accountKey('Ann')).toBe('ann');
    expect(accountKey('ann')).not.toBe(accountKey('anne'));
  });
});
