/** The in-process presence (server/backends/memory/presence.ts). */
import { describe, expect, it } from 'vitest';
import { MemoryPresence } from '../../../src/server/backends/memory/presence.js';

describe('MemoryPresence', () => {
  it('announces a user\u2019s first connection in a room and their last one', async () => {
    const p = new MemoryPresence();
    expect(await p.add('r', 'ann', 'c1')).toBe(true);
    expect(await p.add('r', 'ann', 'c2')).toBe(false);
    expect(await p.add('r', 'ben', 'c3')).toBe(true);
    expect(await p.online('r')).toEqual(['ann', 'ben']);
    expect(await p.remove('r', 'ann', 'c1')).toBe(false);
    expect(await p.remove('r', 'ann', 'c2')).toBe(true);
    expect(await p.remove('r', 'ann', 'c2')).toBe(false);
    expect(await p.online('r')).toEqual(['ben']);
  });
});
