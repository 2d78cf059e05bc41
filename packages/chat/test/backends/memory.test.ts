/** The in-process parts (backends/memory/): throttle, bus, committed events, presence. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIGN_IN_BACKOFF } from '../../src/server/backends/backoff.js';
import { MemoryBus } from '../../src/server/backends/memory/bus.js';
import { MemoryCommittedEvents } from '../../src/server/backends/memory/events.js';
import { MemoryPresence } from '../../src/server/backends/memory/presence.js';
import { MemoryThrottle } from '../../src/server/backends/memory/throttle.js';

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
    for (let i = 0; i < 5; i++) await t.signInFailed(i % 2 ? 'Ann' : 'ann', 0);
    expect(await t.signInWait('ANN', 0)).toBe(1000);
    expect(await t.signInWait('ben', 0)).toBe(0);
    await t.signInSucceeded('ann');
    expect(await t.signInWait('ann', 0)).toBe(0);
  });
});

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
