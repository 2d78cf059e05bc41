/**
 * server/clock.ts: the system clock, and the ManualClock tests move themselves.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../src/server/clock.js';

describe('systemClock', () => {
  it('reads Date.now()', () => {
    const before = Date.now();
    const now = systemClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});

describe('ManualClock', () => {
  it('stands still until moved, by advance() or set()', () => {
    const clock = new ManualClock(1000);
    expect(clock.now()).toBe(1000);
    expect(clock.now()).toBe(1000);
    clock.advance(250);
    expect(clock.now()).toBe(1250);
    clock.advance(0);
    expect(clock.now()).toBe(1250);
    clock.set(10);
    expect(clock.now()).toBe(10);
  });

  it('starts at a fixed instant by default (tests do not depend on the day they run)', () => {
    expect(new ManualClock().now()).toBe(new ManualClock().now());
  });

  it('refuses to go back, or by NaN', () => {
    const clock = new ManualClock(5);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advance(Number.NaN)).toThrow('ManualClock.advance: ms must be >= 0');
    expect(clock.now()).toBe(5);
  });
});
