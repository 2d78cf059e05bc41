import { describe, expect, it } from 'vitest';
import { randomFill } from '../../src/node/random.js';

describe('RFC 6455 5.3 masking keys: pooled randomness', () => {
  it('fills exactly the requested range', () => {
    const buf = Buffer.alloc(12);
    randomFill(buf, 4, 4);
    expect(buf.subarray(0, 4).equals(Buffer.alloc(4))).toBe(true);
    expect(buf.subarray(8).equals(Buffer.alloc(4))).toBe(true);
  });

  it('never hands out the same bytes twice across pool refills', () => {
    const seen = new Set<string>();
    const mask = Buffer.alloc(8);
    for (let i = 0; i < 5000; i++) {
      randomFill(mask);
      seen.add(mask.toString('hex'));
    }
    expect(seen.size).toBe(5000);
  });

  it('large requests bypass the pool', () => {
    const big = Buffer.alloc(64 * 1024);
    randomFill(big);
    let zeros = 0;
    for (const b of big) if (b === 0) zeros++;
    expect(zeros).toBeLessThan(1000); // ~256 expected
  });
});
