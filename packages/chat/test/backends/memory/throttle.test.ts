/** The in-process throttle (server/backends/memory/throttle.ts): buckets, typing gate, sign-in backoff. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIGN_IN_BACKOFF } from '../../../src/server/backends/backoff.js';
import { MemoryThrottle } from '../../../src/server/backends/memory/throttle.js';

const rate = { burst: 2, perSecond: 1 };
const buckets = { messages: rate, rooms: rate, requests: rate, signInPerIp: rate, signUpPerIp: rate };

describe('MemoryThrottle', () => {
  it('keeps one bucket per bucket name and key', async () => {
    const t = new MemoryThrottle(buckets, DEFAULT_SIGN_IN_BACKOFF);
    expect(await t.take('messages', 'ann', 0)).toBe(0);
    expect(await t.take('messages', 'ann', 0)).toBe(0);
    expect(await t.take('messages', 'ann', 0)).toBe(1000);
    expect(await t.take('rooms', 'ann', 0)).toBe(0);
    expect(await t.take('messages', 'ben', 0)).toBe(0);
  });

  it('lets one typing notice through per interval and key', async () => {
    const t = new MemoryThrottle(buckets, DEFAULT_SIGN_IN_BACKOFF);
    expect(await t.once('k', 1000, 0)).toBe(true);
    expect(await t.once('k', 1000, 999)).toBe(false);
    expect(await t.once('other', 1000, 999)).toBe(true);
    expect(await t.once('k', 1000, 1000)).toBe(true);
  });

  it('counts failed sign-ins per name, case-insensitively, until a success', async () => {
    const t = new MemoryThrottle(buckets, DEFAULT_SIGN_IN_BACKOFF);
    for (let i = 0; i < 5; i++) expect(await t.signInAttempt(i % 2 ? 'Ann' : 'ann', 0)).toBe(0);
    expect(await t.signInWait('ANN', 0)).toBe(1000);
    expect(await t.signInWait('ben', 0)).toBe(0);
    await t.signInSucceeded('ann');
    expect(await t.signInWait('ann', 0)).toBe(0);
  });
});
