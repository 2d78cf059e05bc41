/** The skeleton that makes look-alike user names one (name-skeleton.ts). */
import { describe, expect, it } from 'vitest';
import { nameSkeleton } from '../../src/server/backends/name-skeleton.js';
import { USER_NAME } from '../../src/shared/protocol.js';

const alike = (a: string, b: string) => nameSkeleton(a) === nameSkeleton(b);

describe('nameSkeleton', () => {
  it('folds capital I, small l and the digit 1 into one', () => {
    expect(nameSkeleton('aIice')).toBe('alice');
    expect(alike('alice', 'aIice')).toBe(true);
    expect(alike('alice', 'a1ice')).toBe(true);
    expect(alike('Ian', 'lan')).toBe(true);
    expect(alike('bill', 'biII')).toBe(true);
    // A small i keeps its dot.
    expect(alike('ian', 'lan')).toBe(false);
    expect(alike('ali', 'all')).toBe(false);
  });

  it('folds capital O, small o and the digit 0 into one', () => {
    expect(alike('bob', 'b0b')).toBe(true);
    expect(alike('BOB', 'b0b')).toBe(true);
    expect(alike('oona', '00na')).toBe(true);
  });

  it('reads m as rn and w as vv, wherever the pair starts', () => {
    expect(alike('mary', 'rnary')).toBe(true);
    expect(alike('will', 'vvill')).toBe(true);
    expect(alike('vvv', 'wv')).toBe(true);
    expect(alike('vvv', 'vw')).toBe(true);
    expect(alike('rnm', 'mrn')).toBe(true);
    expect(alike('Mike', 'rnike')).toBe(true);
    expect(alike('RNike', 'mike')).toBe(true);
  });

  it('is case-insensitive otherwise, and leaves the other characters apart', () => {
    expect(alike('Anna', 'ANNA')).toBe(true);
    expect(alike('clare', 'dare')).toBe(false);
    expect(alike('jess5', 'jessS')).toBe(false);
    expect(alike('a-b', 'a_b')).toBe(false);
    expect(alike('alice', 'alicia')).toBe(false);
    expect(nameSkeleton('x_y-z9')).toBe('x_y-z9');
  });

  it('is at most twice the name, from the characters a name may have', () => {
    const longest = 'm'.repeat(24);
    expect(USER_NAME.test(longest)).toBe(true);
    expect(nameSkeleton(longest)).toHaveLength(48);
    expect(nameSkeleton('wWmM')).toBe('vvvvrnrn');
  });
});
