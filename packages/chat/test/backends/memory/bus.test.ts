/** The in-process notice bus (server/backends/memory/bus.ts). */
import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../../../src/server/backends/memory/bus.js';

describe('MemoryBus', () => {
  it('calls the topic\u2019s listeners in order, and a listener may unsubscribe while called', () => {
    const bus = new MemoryBus();
    const got: string[] = [];
    const first = (p: string) => {
      got.push(`1:${p}`);
      bus.unsubscribe('t', first);
    };
    bus.subscribe('t', first);
    bus.subscribe('t', (p) => got.push(`2:${p}`));
    bus.publish('t', 'a');
    bus.publish('t', 'b');
    bus.publish('other', 'c');
    expect(got).toEqual(['1:a', '2:a', '2:b']);
  });
});
