import { EventEmitter } from 'node:events';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WS from 'ws';
import { UsageError } from '../../src/core/errors.js';
import {
  addEventListener,
  CloseEvent,
  dispatchEvent,
  ErrorEvent,
  Event,
  getAttribute,
  MessageEvent,
  removeEventListener,
  setAttribute,
} from '../../src/node/event-target.js';

function host() {
  return Object.assign(new EventEmitter(), { _wasClean: true });
}

describe('event-target', () => {
  it("lists an event's fields in for...in, as ws 8's enumerable getters do (found by ws's own suite)", () => {
    const h = host();
    const keys: Record<string, string[]> = {};
    for (const type of ['message', 'close', 'error', 'open'])
      addEventListener(h, type, (e: object) => {
        const seen: string[] = [];
        for (const key in e) seen.push(key);
        keys[type] = seen.sort();
      });
    h.emit('open');
    h.emit('message', Buffer.from('txt'), false);
    h.emit('close', 1000, Buffer.from('bye'));
    h.emit('error', new Error('oops'));
    expect(keys).toEqual({
      open: ['target', 'type'],
      message: ['data', 'target', 'type'],
      close: ['code', 'reason', 'target', 'type', 'wasClean'],
      error: ['error', 'message', 'target', 'type'],
    });
    // Still getters: no own keys, nothing to assign.
    expect(Object.keys(new CloseEvent('close', 1000, '', true))).toEqual([]);
  });

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

  it('takes any object as a listener and reads its handleEvent at each call, as the browsers do', () => {
    const h = host();
    const calls: string[] = [];
    const late: { handleEvent?: unknown } = {};
    addEventListener(h, 'message', late);
    late.handleEvent = function (this: unknown, e: MessageEvent) {
      calls.push(`late ${String(e.data)} this=object:${this === late}`);
    };
    h.emit('message', Buffer.from('a'), false);
    late.handleEvent = () => calls.push('swapped');
    h.emit('message', Buffer.from('b'), false);
    expect(calls).toEqual(['late a this=object:true', 'swapped']);
    // One without a callable handleEvent is a TypeError when the event comes, thrown as a
    // listener's exception (DOM reports it; ws throws calling it as a function).
    late.handleEvent = 'no';
    expect(() => h.emit('message', Buffer.from('c'), false)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'WS_ERR_INVALID_LISTENER' }),
    );
    removeEventListener(h, 'message', late);
    expect(h.listenerCount('message')).toBe(0);
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

describe('dispatchEvent (DOM EventTarget, a target with no tree)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('calls the listeners and the on<type> attribute in registration order, interleaved', () => {
    const h = host();
    const calls: string[] = [];
    addEventListener(h, 'message', () => calls.push('a'));
    setAttribute(h, 'message', () => calls.push('attribute'));
    addEventListener(h, 'message', () => calls.push('b'));
    setAttribute(h, 'message', () => calls.push('attribute again')); // keeps its place
    addEventListener(h, 'open', () => calls.push('other type'));
    expect(dispatchEvent(h, new MessageEvent('message', 'x'))).toBe(true);
    expect(calls).toEqual(['a', 'attribute again', 'b']);
  });

  it("honours addEventListener's signal: an aborted one adds nothing, an abort removes the listener (during a dispatch too)", () => {
    const h = host();
    const calls: string[] = [];
    const early = new AbortController();
    early.abort();
    addEventListener(h, 'message', () => calls.push('early'), { signal: early.signal });
    expect(h.listenerCount('message')).toBe(0);
    const later = new AbortController();
    const later2 = new AbortController();
    addEventListener(
      h,
      'message',
      () => {
        calls.push('first');
        later2.abort();
      },
      { signal: later.signal },
    );
    addEventListener(h, 'message', () => calls.push('once'), { once: true, signal: later.signal });
    addEventListener(h, 'message', () => calls.push('second'), { signal: later2.signal });
    h.emit('message', Buffer.from('a'), false);
    // The first listener aborted the second's signal: removed, so not called by this dispatch.
    expect(calls).toEqual(['first', 'once']);
    calls.length = 0;
    addEventListener(h, 'message', () => calls.push('third'));
    later.abort();
    h.emit('message', Buffer.from('b'), false);
    expect(calls).toEqual(['third']);
    expect(h.listenerCount('message')).toBe(1);
    // One that works as an AbortSignal (another realm's, a polyfill's) is taken.
    const polyfill = Object.assign(new EventEmitter(), {
      aborted: false,
      addEventListener(type: string, f: () => void) {
        polyfill.once(type, f);
      },
      removeEventListener(type: string, f: () => void) {
        polyfill.removeListener(type, f);
      },
    });
    addEventListener(h, 'message', () => calls.push('polyfilled'), {
      signal: polyfill as unknown as AbortSignal,
    });
    expect(h.listenerCount('message')).toBe(2);
    polyfill.emit('abort');
    expect(h.listenerCount('message')).toBe(1);
    // The browsers and Node's EventTarget refuse a signal that is not an AbortSignal.
    expect(() => addEventListener(h, 'message', () => {}, { signal: {} as AbortSignal })).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'WS_ERR_INVALID_OPTION' }),
    );
  });

  it('a signal that outlives the socket does not keep it alive (the abort steps hold it weakly)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const long = new AbortController();
    const refs: WeakRef<object>[] = [];
    for (let i = 0; i < 3; i++) {
      const h = host();
      // The listener refers to its socket, as `ws.addEventListener('message', () => ws.send(...))`.
      addEventListener(h, 'message', () => h.emit('x'), { signal: long.signal });
      refs.push(new WeakRef(h));
    }
    // A WeakRef's target lives until the end of the job that made it.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(refs.map((r) => r.deref() === undefined)).toEqual([true, true, true]);
    long.abort();
  });

  it('removes a once listener before calling it; skips one removed meanwhile; not one added meanwhile', () => {
    const h = host();
    const calls: string[] = [];
    const late = () => calls.push('late');
    addEventListener(h, 'open', () => calls.push('once'), { once: true });
    addEventListener(h, 'open', () => {
      calls.push(`first listeners=${h.listenerCount('open')}`);
      removeEventListener(h, 'open', late);
      addEventListener(h, 'open', () => calls.push('added'));
    });
    addEventListener(h, 'open', late);
    dispatchEvent(h, new Event('open'));
    expect(calls).toEqual(['once', 'first listeners=2']);
    calls.length = 0;
    dispatchEvent(h, new Event('open'));
    // The first listener adds another 'added' (a new function each time): only the old one runs.
    expect(calls).toEqual(['first listeners=2', 'added']);
  });

  it('gives the event itself, unconverted, with this = the target; handleEvent objects with this = the object', () => {
    const h = host();
    const data = { not: 'a string' };
    const event = new MessageEvent('message', data);
    const seen: unknown[] = [];
    addEventListener(h, 'message', function (this: unknown, e: MessageEvent) {
      seen.push(this, e, e.data);
    });
    const handler = {
      handleEvent(this: unknown, e: MessageEvent) {
        seen.push(this, e);
      },
    };
    addEventListener(h, 'message', handler);
    dispatchEvent(h, event);
    expect(seen).toHaveLength(5);
    expect(seen[0]).toBe(h);
    expect(seen[1]).toBe(event);
    expect(seen[2]).toBe(data); // not String(data), as an emitted 'message' would give
    expect(seen[3]).toBe(handler);
    expect(seen[4]).toBe(event);
    // DOM "dispatch" sets the target: a riptide event made without one gets the host.
    expect(event.target).toBe(h);
  });

  it("takes Node's global Event and MessageEvent too", () => {
    const h = host();
    const seen: unknown[] = [];
    addEventListener(h, 'message', (e: unknown) => seen.push(e));
    addEventListener(h, 'open', (e: unknown) => seen.push(e));
    const message = new globalThis.MessageEvent('message', { data: 42 });
    const open = new globalThis.Event('open');
    dispatchEvent(h, message);
    dispatchEvent(h, open);
    expect(seen[0]).toBe(message);
    expect((seen[0] as globalThis.MessageEvent).data).toBe(42);
    expect(seen[1]).toBe(open);
  });

  it('returns false only when a cancelable event had preventDefault() called', () => {
    const h = host();
    // riptide's own events have no preventDefault(): they are never canceled.
    addEventListener(h, 'open', (e: { preventDefault?: () => void }) => e.preventDefault?.());
    expect(dispatchEvent(h, new globalThis.Event('open', { cancelable: true }))).toBe(false);
    expect(dispatchEvent(h, new globalThis.Event('open'))).toBe(true);
    expect(dispatchEvent(h, new Event('open'))).toBe(true);
    expect(dispatchEvent(h, new globalThis.Event('close', { cancelable: true }))).toBe(true);
  });

  it('stopImmediatePropagation() stops the listeners after it, and leaves no trace on the event', () => {
    const h = host();
    const calls: string[] = [];
    addEventListener(h, 'open', () => calls.push('a'));
    addEventListener(h, 'open', (e: globalThis.Event) => {
      calls.push('b');
      e.stopImmediatePropagation();
    });
    setAttribute(h, 'open', () => calls.push('attribute'));
    const event = new globalThis.Event('open');
    dispatchEvent(h, event);
    expect(calls).toEqual(['a', 'b']);
    expect(Object.getOwnPropertyNames(event)).not.toContain('stopImmediatePropagation');
  });

  it("puts back the caller's own stopImmediatePropagation, and leaves a non-configurable one alone", () => {
    const h = host();
    const calls: string[] = [];
    addEventListener(h, 'open', (e: globalThis.Event) => {
      calls.push('a');
      e.stopImmediatePropagation();
    });
    addEventListener(h, 'open', () => calls.push('b'));
    const event = new globalThis.Event('open');
    const own = () => calls.push('own');
    Object.defineProperty(event, 'stopImmediatePropagation', {
      configurable: true,
      writable: true,
      value: own,
    });
    dispatchEvent(h, event);
    // Watched through the caller's own method, which is called and then restored.
    expect(calls).toEqual(['a', 'own']);
    expect(Object.getOwnPropertyDescriptor(event, 'stopImmediatePropagation')?.value).toBe(own);
    calls.length = 0;
    const fixed = new globalThis.Event('open');
    Object.defineProperty(fixed, 'stopImmediatePropagation', { configurable: false, value: () => {} });
    expect(dispatchEvent(h, fixed)).toBe(true);
    expect(calls).toEqual(['a', 'b']);
  });

  it('a listener that throws does not stop the others; its error is thrown from process.nextTick (as Node does)', () => {
    const h = host();
    const ticks: Array<() => void> = [];
    vi.spyOn(process, 'nextTick').mockImplementation(((fn: () => void) => {
      ticks.push(fn);
    }) as typeof process.nextTick);
    const boom = new Error('boom');
    const calls: string[] = [];
    addEventListener(h, 'open', () => {
      calls.push('a');
      throw boom;
    });
    addEventListener(h, 'open', () => calls.push('b'));
    expect(dispatchEvent(h, new Event('open'))).toBe(true);
    vi.restoreAllMocks();
    expect(calls).toEqual(['a', 'b']);
    expect(ticks).toHaveLength(1);
    expect(() => ticks[0]!()).toThrow(boom);
  });

  it("does not call EventEmitter listeners (on(type), once(type)): they are not EventTarget's", () => {
    const h = host();
    const calls: string[] = [];
    h.on('message', () => calls.push('on'));
    h.once('message', () => calls.push('once'));
    addEventListener(h, 'message', () => calls.push('listener'));
    dispatchEvent(h, new MessageEvent('message', 'x'));
    expect(calls).toEqual(['listener']);
    expect(h.listenerCount('message')).toBe(3);
  });

  it('throws a TypeError (WS_ERR_INVALID_EVENT) for a non-event, and WS_ERR_EVENT_RECURSION for one being dispatched', () => {
    const h = host();
    for (const bad of [undefined, null, 'open', { type: 'open' }]) {
      let caught: unknown;
      try {
        dispatchEvent(h, bad);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(TypeError);
      expect(caught).toBeInstanceOf(UsageError);
      expect(caught).toMatchObject({
        code: 'WS_ERR_INVALID_EVENT',
        message: 'The "event" argument must be an instance of Event',
      });
    }
    const event = new Event('open');
    let inner: unknown;
    addEventListener(h, 'open', () => {
      try {
        dispatchEvent(h, event);
      } catch (err) {
        inner = err;
      }
    });
    dispatchEvent(h, event);
    expect(inner).toBeInstanceOf(UsageError);
    expect(inner).toMatchObject({
      code: 'WS_ERR_EVENT_RECURSION',
      message: 'The event "open" is already being dispatched',
    });
    // Once that dispatch is over, the event may be dispatched again.
    expect(() => dispatchEvent(h, event)).not.toThrow();
  });
});
