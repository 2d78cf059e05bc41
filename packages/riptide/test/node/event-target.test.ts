import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import WS from 'ws';
import {
  addEventListener,
  CloseEvent,
  ErrorEvent,
  getAttribute,
  MessageEvent,
  removeEventListener,
  setAttribute,
} from '../../src/node/event-target.js';

function host() {
  return Object.assign(new EventEmitter(), { _wasClean: true });
}

describe('event-target', () => {
  it('builds MessageEvent / CloseEvent / ErrorEvent / open Event with target', () => {
    const h = host();
    const seen: unknown[] = [];
    for (const type of ['message', 'close', 'error', 'open'])
      addEventListener(h, type, (e: unknown) => seen.push(e));
    h.emit('message', Buffer.from('txt'), false);
    h.emit('message', Buffer.from([1]), true);
    h.emit('close', 1001, Buffer.from('bye'));
    const err = new Error('boom');
    h.emit('error', err);
    h.emit('open');
    expect(seen[0]).toBeInstanceOf(MessageEvent);
    expect(seen[0]).toMatchObject({ type: 'message', data: 'txt', target: h });
    expect(Buffer.isBuffer((seen[1] as MessageEvent).data)).toBe(true);
    expect(seen[2]).toBeInstanceOf(CloseEvent);
    expect(seen[2]).toMatchObject({ type: 'close', code: 1001, reason: 'bye', wasClean: true });
    expect(seen[3]).toBeInstanceOf(ErrorEvent);
    expect(seen[3]).toMatchObject({ type: 'error', error: err, message: 'boom' });
    expect(seen[4]).toMatchObject({ type: 'open', target: h });
  });

  it('ignores unknown types and non-listeners; removes once-listeners before they fire', () => {
    const h = host();
    addEventListener(h, 'custom', () => {});
    addEventListener(h, 'message', null);
    addEventListener(h, 'message', 'nope');
    expect(h.listenerCount('custom')).toBe(0);
    expect(h.listenerCount('message')).toBe(0);
    let n = 0;
    const fn = () => n++;
    addEventListener(h, 'open', fn, { once: true });
    removeEventListener(h, 'open', fn);
    h.emit('open');
    expect(n).toBe(0);
  });

  it('on<type> attributes are separate from addEventListener listeners', () => {
    const h = host();
    const calls: string[] = [];
    const fn = () => calls.push('listener');
    addEventListener(h, 'open', fn);
    setAttribute(h, 'open', fn);
    expect(getAttribute(h, 'open')).toBe(fn);
    h.emit('open');
    expect(calls).toEqual(['listener', 'listener']);
    removeEventListener(h, 'open', fn); // removes the listener, not the attribute
    expect(getAttribute(h, 'open')).toBe(fn);
    setAttribute(h, 'open', 42);
    expect(getAttribute(h, 'open')).toBe(null);
    expect(h.listenerCount('open')).toBe(0);
  });

  it('an on<type> attribute set again keeps its place among the listeners (HTML event handlers)', () => {
    const h = host();
    const calls: string[] = [];
    const a = () => calls.push('a');
    const b = () => calls.push('b');
    const c = () => calls.push('c');
    setAttribute(h, 'message', a);
    addEventListener(h, 'message', b);
    setAttribute(h, 'message', c);
    expect(getAttribute(h, 'message')).toBe(c);
    h.emit('message', Buffer.from('x'), false);
    expect(calls).toEqual(['c', 'b']);
    // Removed (a non-function), then set: added last.
    setAttribute(h, 'message', null);
    setAttribute(h, 'message', a);
    calls.length = 0;
    h.emit('message', Buffer.from('x'), false);
    expect(calls).toEqual(['b', 'a']);
    expect(h.listenerCount('message')).toBe(2);
  });

  it('a listener or attribute removed during a dispatch is not called by it (DOM inner invoke)', () => {
    const h = host();
    const calls: string[] = [];
    const late = () => calls.push('late');
    const lateOnce = () => calls.push('late once');
    addEventListener(h, 'open', () => {
      calls.push('first');
      removeEventListener(h, 'open', late);
      removeEventListener(h, 'open', lateOnce);
      setAttribute(h, 'open', null);
    });
    setAttribute(h, 'open', () => calls.push('attribute'));
    addEventListener(h, 'open', late);
    addEventListener(h, 'open', lateOnce, { once: true });
    h.emit('open');
    expect(calls).toEqual(['first']);
    expect(h.listenerCount('open')).toBe(1);
  });

  it("event fields are read-only getters on the prototype, as ws 8's and the browsers' are", () => {
    // ws's event classes are not exported: take its events from a ws socket's listeners.
    const theirs: Record<string, object> = {};
    const ours: Record<string, object> = {};
    const wsHost = Object.create(WS.prototype) as InstanceType<typeof WS>;
    EventEmitter.call(wsHost);
    const h = host();
    for (const type of ['message', 'close', 'error', 'open']) {
      wsHost.addEventListener(type as 'open', (e: object) => (theirs[type] = e));
      addEventListener(h, type, (e: object) => (ours[type] = e));
    }
    for (const target of [wsHost as unknown as EventEmitter, h]) {
      target.emit('message', Buffer.from('txt'), false);
      target.emit('close', 1001, Buffer.from('bye'));
      target.emit('error', new Error('boom'));
      target.emit('open');
    }
    const getters = (o: object) =>
      Object.entries(Object.getOwnPropertyDescriptors(Object.getPrototypeOf(o)))
        .filter(([, d]) => d.get !== undefined)
        .map(([k]) => k)
        .sort();
    for (const type of ['message', 'close', 'error', 'open']) {
      expect(Object.keys(ours[type]), type).toEqual(Object.keys(theirs[type]));
      expect(JSON.stringify(ours[type]), type).toBe(JSON.stringify(theirs[type]));
      expect(getters(ours[type]), type).toEqual(getters(theirs[type]));
    }
    expect(ours.close).toMatchObject({ type: 'close', target: h, code: 1001, reason: 'bye', wasClean: true });
  });
});
