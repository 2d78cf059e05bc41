/**
 * Clocks for the chat's logic. The server uses the system clock; tests pass a ManualClock and move
 * it themselves, so rate limits, typing throttles, session expiry and room expiry are tested
 * without sleeping.
 */
import type { Clock } from './ports.js';

export const systemClock: Clock = { now: () => Date.now() };

export class ManualClock implements Clock {
  #now: number;

  constructor(start = 1_796_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('ManualClock.advance: ms must be >= 0');
    this.#now += ms;
  }

  set(now: number): void {
    this.#now = now;
  }
}
