/**
 * The two checks that say a room's log went back in Redis (log-regression.ts), on positions and
 * reads written out by hand: every case where the data proves it, and every case where it cannot
 * (entries without nonces, a trimmed stream, the normal next entry); and the check of a resuming
 * client's tag against the entry at its seq (store.ts entryHolds).
 */
import { describe, expect, it } from 'vitest';
import { chainBroken, counterWentBack, logTag } from '../../src/server/backends/redis/log-regression.js';
import { entryHolds } from '../../src/server/backends/redis/store.js';
import { LOG_TAG } from '../../src/shared/protocol.js';

const at = (seq: number, nonce: string | null) => ({ seq, nonce });

describe('counterWentBack (the counter and tip read with MGET)', () => {
  it('is true when the counter is below the delivered seq, with or without nonces', () => {
    expect(counterWentBack(at(6, 'n6'), 3, 'n3')).toBe(true);
    expect(counterWentBack(at(6, null), 3, null)).toBe(true);
    expect(counterWentBack(at(6, 'n6'), 0, null)).toBe(true); // everything lost
  });

  it('is true when the counter is back at the delivered seq but another entry is the tip', () => {
    expect(counterWentBack(at(6, 'n6'), 6, 'other')).toBe(true);
    // The tip key itself was lost with the entries, then as many events came from old code.
    expect(counterWentBack(at(6, 'n6'), 6, null)).toBe(true);
  });

  it('is false at the same entry, ahead of it, or when the delivered entry has no nonce', () => {
    expect(counterWentBack(at(6, 'n6'), 6, 'n6')).toBe(false);
    // Ahead: events this node has not read yet; the chain check sees the next one.
    expect(counterWentBack(at(6, 'n6'), 9, 'n9')).toBe(false);
    expect(counterWentBack(at(6, null), 6, 'n6')).toBe(false);
    expect(counterWentBack(at(0, null), 0, null)).toBe(false);
  });
});

describe('chainBroken (each entry XREAD returns)', () => {
  it('is true when the next entry names another entry before it', () => {
    expect(chainBroken(at(6, 'n6'), 7, 'x6')).toBe(true);
    // The first entry of a log that lost everything names no entry at all.
    expect(chainBroken(at(6, 'n6'), 7, '')).toBe(true);
  });

  it('is false for the entry that follows, and whenever the data cannot tell', () => {
    expect(chainBroken(at(6, 'n6'), 7, 'n6')).toBe(false);
    // Not the next seq: the stream was trimmed past this node (a gap, not a regression).
    expect(chainBroken(at(6, 'n6'), 9, 'x8')).toBe(false);
    // An entry written before nonces existed, or a position whose entry had none.
    expect(chainBroken(at(6, 'n6'), 7, undefined)).toBe(false);
    expect(chainBroken(at(6, null), 7, 'n6')).toBe(false);
  });
});

describe("logTag and entryHolds (a resuming client's tag against the entry at its seq)", () => {
  it('tags an entry with 8 characters of its nonce, the same every time, another for the next nonce', () => {
    expect(logTag('AbCdEfGh.1')).toMatch(LOG_TAG);
    expect(logTag('AbCdEfGh.1')).toHaveLength(8);
    expect(logTag('AbCdEfGh.1')).toBe(logTag('AbCdEfGh.1'));
    // One node's nonces share their start: the tags must not.
    const tags = new Set(Array.from({ length: 1000 }, (_, i) => logTag(`AbCdEfGh.${i.toString(36)}`)));
    expect(tags.size).toBe(1000);
  });

  const entry = (nonce: string) => ['e', '{}', 'n', nonce, 'p', 'before'];

  it('holds when the entry at the seq is the one the client saw', () => {
    expect(entryHolds(entry('n5'), 5, 5, logTag('n5'))).toBe(true);
    expect(entryHolds(entry('n5'), 9, 5, logTag('n5'))).toBe(true);
  });

  it('does not hold when another entry has the seq now, or the counter never reached it again', () => {
    expect(entryHolds(entry('other'), 5, 5, logTag('n5'))).toBe(false);
    expect(entryHolds(undefined, 4, 5, logTag('n5'))).toBe(false);
    expect(entryHolds(undefined, 0, 5, logTag('n5'))).toBe(false);
  });

  it('holds when the data cannot tell: the entry trimmed away, or written before nonces', () => {
    expect(entryHolds(undefined, 20_000, 5, logTag('n5'))).toBe(true);
    expect(entryHolds(['e', '{}'], 5, 5, logTag('n5'))).toBe(true);
  });
});
