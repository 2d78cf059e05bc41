/** The in-process committed events (server/backends/memory/events.ts). */
import { describe, expect, it } from 'vitest';
import { MemoryCommittedEvents } from '../../../src/server/backends/memory/events.js';

describe('MemoryCommittedEvents', () => {
  it('starts after the head read when opening and delivers commits of open rooms only', async () => {
    let head = 4;
    const events = new MemoryCommittedEvents(() => head);
    const got: number[] = [];
    expect(await events.open('a', (seq) => got.push(seq))).toBe(4);
    head = 5;
    events.commit('a', 5, '{}');
    events.commit('b', 1, '{}');
    events.close('a');
    events.commit('a', 6, '{}');
    expect(got).toEqual([5]);
  });
});
