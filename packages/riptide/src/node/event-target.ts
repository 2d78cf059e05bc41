/**
 * The browser's WebSocket event surface (WHATWG HTML "The WebSocket interface") on top of the
 * EventEmitter events: `onopen`/`onmessage`/`onclose`/`onerror` and
 * `addEventListener(type, listener, { once })` / `removeEventListener`.
 *
 * Theory of operation: every browser-style listener is an EventEmitter listener wrapper that
 * builds the event object and calls the user's function (or `handleEvent` object). The wrapper
 * remembers the user's listener (kListener) and whether it came from an `on<type>` attribute
 * (kAttribute), so removal and the attribute getters can find it again. Nothing here runs unless
 * such a listener is registered: the EventEmitter path stays free of event objects.
 *
 * `dispatchEvent()` walks the same list the other way: it calls each wrapper's listener with the
 * caller's event object as it is, and skips the plain EventEmitter listeners (`on('message',
 * fn)`), which are not EventTarget listeners and take other arguments.
 */
import type { EventEmitter } from 'node:events';
import { UsageError } from '../core/errors.js';
import type { Data, WebSocket } from './websocket.js';

const kListener = Symbol('riptide.listener');
const kAttribute = Symbol('riptide.attribute');
const kRemoved = Symbol('riptide.removed');

/** What the wrappers need from the WebSocket beyond EventEmitter. */
export interface EventTargetHost extends EventEmitter {
  /** True when both close frames were exchanged (CloseEvent.wasClean). */
  readonly _wasClean: boolean;
}

// The fields are private with getters on the prototype, as in ws 8 and the browsers: an event
// has no own enumerable keys (JSON.stringify gives '{}') and its fields cannot be assigned.

/** Set by dispatchEvent(): DOM "dispatch" sets the event's target to the object it runs on. */
let setTarget: (event: Event, target: unknown) => void;

export class Event {
  readonly #type: string;
  #target: unknown;
  constructor(type: string, target: unknown = null) {
    this.#type = type;
    this.#target = target;
  }
  static {
    setTarget = (event, target) => {
      event.#target = target;
    };
  }
  get type(): string {
    return this.#type;
  }
  get target(): unknown {
    return this.#target;
  }
}

export class MessageEvent extends Event {
  readonly #data: unknown;
  constructor(type: string, data: unknown, target: unknown = null) {
    super(type, target);
    this.#data = data;
  }
  /** A string for a text message; for binary, what binaryType selects. */
  get data(): unknown {
    return this.#data;
  }
}

export class CloseEvent extends Event {
  readonly #code: number;
  readonly #reason: string;
  readonly #wasClean: boolean;
  constructor(type: string, code: number, reason: string, wasClean: boolean, target: unknown = null) {
    super(type, target);
    this.#code = code;
    this.#reason = reason;
    this.#wasClean = wasClean;
  }
  get code(): number {
    return this.#code;
  }
  get reason(): string {
    return this.#reason;
  }
  get wasClean(): boolean {
    return this.#wasClean;
  }
}

export class ErrorEvent extends Event {
  readonly #error: unknown;
  readonly #message: string;
  constructor(type: string, error: unknown, message: string, target: unknown = null) {
    super(type, target);
    this.#error = error;
    this.#message = message;
  }
  get error(): unknown {
    return this.#error;
  }
  get message(): string {
    return this.#message;
  }
}

// ws 8 defines these attributes enumerable on the prototypes, as WebIDL does for the browsers'
// events: `for (const key in event)` lists them (class getters alone are not enumerable).
for (const [proto, names] of [
  [Event.prototype, ['type', 'target']],
  [MessageEvent.prototype, ['data']],
  [CloseEvent.prototype, ['code', 'reason', 'wasClean']],
  [ErrorEvent.prototype, ['error', 'message']],
] as const) {
  for (const name of names) Object.defineProperty(proto, name, { enumerable: true });
}

export type EventListener<E = Event> = ((event: E) => void) | { handleEvent(event: E): void };

/**
 * The event each addEventListener() type gets (ws 8's WebSocketEventMap): its target is the
 * WebSocket that dispatched it and a message's data is a string or what binaryType selects, the
 * shape @types/ws gives these events, so a listener written against ws's event types is accepted.
 */
export interface WebSocketEventMap {
  open: Event & { readonly target: WebSocket };
  message: MessageEvent & { readonly target: WebSocket; readonly data: Data };
  close: CloseEvent & { readonly target: WebSocket };
  error: ErrorEvent & { readonly target: WebSocket };
}

/**
 * What an `on<type>` attribute reads back: a function of the event's public fields, its target
 * typed unknown. TypeScript compares a function-typed property's parameter contravariantly, and
 * @types/ws types `onopen` as `((event: WebSocket.Event) => void) | null`: its event interfaces
 * have ws's WebSocket as target and lack the private fields of these classes, so only this wider
 * parameter makes the attribute (and so the WebSocket) assignable to ws's type.
 */
export type EventHandler<E> = (
  event: { readonly [K in keyof E]: K extends 'target' ? unknown : E[K] },
) => void;

export interface AddEventListenerOptions {
  once?: boolean;
  /** DOM: an aborted signal adds nothing; aborting it later removes the listener. */
  signal?: AbortSignal;
}

// biome-ignore lint/suspicious/noExplicitAny: EventEmitter listeners take any arguments
type Wrapper = ((...args: any[]) => void) & {
  [kListener]?: unknown;
  [kAttribute]?: boolean;
  /** Removed: an emit() that started before (EventEmitter calls a copy of its list) skips it. */
  [kRemoved]?: boolean;
};

function dispatch(handler: EventListener<never>, target: unknown, event: Event): void {
  if (typeof handler === 'function') {
    (handler as (e: Event) => void).call(target, event);
    return;
  }
  // WebIDL "call a user object's operation": handleEvent is read at each call (it may be set
  // after addEventListener()); one that is not callable is a TypeError, thrown as a listener's.
  const handleEvent = (handler as { handleEvent?: unknown }).handleEvent;
  if (typeof handleEvent !== 'function') {
    throw new UsageError(
      'WS_ERR_INVALID_LISTENER',
      `The listener for "${event.type}" has no handleEvent method`,
    );
  }
  handleEvent.call(handler, event);
}

/**
 * The wrapper calls the listener it holds now (wrapper[kListener]), not the one it was made
 * for: an `on<type>` attribute set again swaps the listener in the same wrapper, so the new
 * handler keeps the old one's place among the listeners (HTML "event handlers": setting a
 * non-null value to an event handler whose listener is registered only changes its callback).
 */
function wrap(type: string, handler: EventListener<never>): Wrapper | null {
  let wrapper: Wrapper;
  switch (type) {
    case 'message':
      wrapper = function onMessage(this: EventTargetHost, data: Buffer | unknown, isBinary: boolean) {
        if (wrapper[kRemoved]) return;
        dispatch(
          listenerOf(wrapper),
          this,
          new MessageEvent('message', isBinary ? data : String(data), this),
        );
      };
      break;
    case 'close':
      wrapper = function onClose(this: EventTargetHost, code: number, reason: Buffer) {
        if (wrapper[kRemoved]) return;
        dispatch(
          listenerOf(wrapper),
          this,
          new CloseEvent('close', code, reason.toString(), this._wasClean, this),
        );
      };
      break;
    case 'error':
      wrapper = function onError(this: EventTargetHost, error: Error) {
        if (wrapper[kRemoved]) return;
        dispatch(listenerOf(wrapper), this, new ErrorEvent('error', error, error.message, this));
      };
      break;
    case 'open':
      wrapper = function onOpen(this: EventTargetHost) {
        if (wrapper[kRemoved]) return;
        dispatch(listenerOf(wrapper), this, new Event('open', this));
      };
      break;
    default:
      return null;
  }
  wrapper[kListener] = handler;
  return wrapper;
}

/**
 * Take a wrapper off the host. DOM "inner invoke": a listener removed while an event is being
 * dispatched is not called for it ("If listener's removed is true, then continue"), while
 * EventEmitter's emit() calls every listener of the list it started with.
 */
function remove(host: EventTargetHost, type: string, wrapper: Wrapper): void {
  wrapper[kRemoved] = true;
  host.removeListener(type, wrapper);
}

function listenerOf(wrapper: Wrapper): EventListener<never> {
  return wrapper[kListener] as EventListener<never>;
}

/** DOM's EventListener is a callback interface: a function, or any object (handleEvent is looked up when called). */
function isListener(handler: unknown): handler is EventListener<never> {
  return typeof handler === 'function' || (typeof handler === 'object' && handler !== null);
}

export function addEventListener(
  host: EventTargetHost,
  type: string,
  handler: unknown,
  options?: AddEventListenerOptions,
): void {
  const signal = options?.signal;
  if (signal !== undefined && !isAbortSignal(signal)) {
    // WebIDL: AddEventListenerOptions.signal is an AbortSignal (Node's EventTarget says the same).
    throw new UsageError(
      'WS_ERR_INVALID_OPTION',
      'The "options.signal" property must be an instance of AbortSignal',
    );
  }
  if (!isListener(handler)) return;
  // DOM "add an event listener": "If listener's signal is not null and is aborted, then return."
  if (signal?.aborted) return;
  // DOM: adding the same listener twice for the same type is a no-op.
  for (const l of host.listeners(type) as Wrapper[]) {
    if (l[kListener] === handler && !l[kAttribute]) return;
  }
  const wrapper = wrap(type, handler);
  // Only the four WebSocket event types are dispatched; others are ignored like ws does.
  if (wrapper === null) return;
  if (options?.once) host.once(type, wrapper);
  else host.on(type, wrapper);
  // DOM: "add the following abort steps to it: Remove an event listener with eventTarget and
  // listener" (this registration, not a later one of the same function).
  if (signal !== undefined) removeOnAbort(signal, host, type, wrapper);
}

/**
 * Node's AbortSignal, or one that works as it does (another realm's, the abort-controller
 * package's): `aborted`, and an 'abort' event.
 */
function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    value instanceof AbortSignal ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as { aborted?: unknown }).aborted === 'boolean' &&
      typeof (value as { addEventListener?: unknown }).addEventListener === 'function' &&
      typeof (value as { removeEventListener?: unknown }).removeEventListener === 'function')
  );
}

/**
 * The abort steps hold the socket and the wrapper weakly, as Node's EventTarget holds its
 * target: a signal that outlives many sockets (a server's shutdown signal) does not keep the
 * closed ones alive, and the step itself is taken off the signal once the socket is collected.
 */
function removeOnAbort(signal: AbortSignal, host: EventTargetHost, type: string, wrapper: Wrapper): void {
  const hostRef = new WeakRef(host);
  const wrapperRef = new WeakRef(wrapper);
  const onAbort = () => {
    const h = hostRef.deref();
    const w = wrapperRef.deref();
    if (h !== undefined && w !== undefined) remove(h, type, w);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  abortSteps.register(host, { signal, onAbort });
}

const abortSteps = new FinalizationRegistry<{ signal: AbortSignal; onAbort: () => void }>(
  ({ signal, onAbort }) => signal.removeEventListener('abort', onAbort),
);

export function removeEventListener(host: EventTargetHost, type: string, handler: unknown): void {
  for (const l of host.listeners(type) as Wrapper[]) {
    if (l[kListener] === handler && !l[kAttribute]) {
      remove(host, type, l);
      return;
    }
  }
}

/** The `on<type>` getter: the attribute handler, or null. */
export function getAttribute(host: EventTargetHost, type: string): unknown {
  for (const l of host.listeners(type) as Wrapper[]) {
    if (l[kAttribute]) return l[kListener];
  }
  return null;
}

/**
 * The `on<type>` setter: replaces the attribute handler in its place among the listeners (as
 * the browsers do; ws 8 removes it and adds the new one last); a non-function removes it, and a
 * function set after that is added last.
 */
export function setAttribute(host: EventTargetHost, type: string, handler: unknown): void {
  for (const l of host.listeners(type) as Wrapper[]) {
    if (l[kAttribute]) {
      if (typeof handler === 'function') l[kListener] = handler;
      else remove(host, type, l);
      return;
    }
  }
  if (typeof handler !== 'function') return;
  const wrapper = wrap(type, handler as EventListener<never>);
  if (wrapper === null) return;
  wrapper[kAttribute] = true;
  host.on(type, wrapper);
}

/** What dispatchEvent() accepts: riptide's events, and Node's global Event and its subclasses. */
export type DispatchableEvent = Event | globalThis.Event;

/** Events being dispatched: DOM "dispatch" refuses an event whose dispatch flag is set. */
const dispatching = new WeakSet<object>();

function isEvent(value: unknown): value is DispatchableEvent {
  return (
    value instanceof Event || (typeof globalThis.Event === 'function' && value instanceof globalThis.Event)
  );
}

/**
 * DOM EventTarget.dispatchEvent() on a target with no tree: the addEventListener() listeners and
 * the `on<type>` attribute of `event.type`, in registration order, with the event itself (never
 * converted) and `this` the host. As DOM "inner invoke": a `once` listener is removed before it
 * is called, a listener removed meanwhile is skipped, one added meanwhile is not called, a
 * listener that throws does not stop the others and its exception is reported as Node's
 * EventTarget reports it (thrown from process.nextTick: 'uncaughtException'), and
 * stopImmediatePropagation() stops the rest. Returns false when a cancelable event's
 * preventDefault() was called. Plain EventEmitter listeners are not called.
 */
export function dispatchEvent(host: EventTargetHost, event: unknown): boolean {
  if (!isEvent(event)) {
    throw new UsageError('WS_ERR_INVALID_EVENT', 'The "event" argument must be an instance of Event');
  }
  if (dispatching.has(event)) {
    throw new UsageError('WS_ERR_EVENT_RECURSION', `The event "${event.type}" is already being dispatched`);
  }
  if (event instanceof Event) setTarget(event, host);
  // Node's Event keeps its "stop immediate propagation" flag private: watch the call instead,
  // with an own property that lives as long as the dispatch.
  let stopped = false;
  const stop = (event as { stopImmediatePropagation?: unknown }).stopImmediatePropagation;
  // An own stopImmediatePropagation the caller gave the event is put back afterwards; one that
  // cannot be redefined is left alone (not watched, as on a frozen event).
  const own = Object.getOwnPropertyDescriptor(event, 'stopImmediatePropagation');
  const watch =
    typeof stop === 'function' &&
    Object.isExtensible(event) &&
    (own === undefined || own.configurable === true);
  if (watch) {
    Object.defineProperty(event, 'stopImmediatePropagation', {
      configurable: true,
      writable: true,
      value(this: unknown) {
        stopped = true;
        return stop.call(this);
      },
    });
  }
  dispatching.add(event);
  try {
    const type = event.type;
    // rawListeners() is a copy: a listener added by a listener is not called (DOM clones the list).
    for (const raw of host.rawListeners(type) as Wrapper[]) {
      // once() wraps a listener; EventEmitter keeps the wrapped one in `listener`.
      const wrapper = kListener in raw ? raw : (raw as { listener?: Wrapper }).listener;
      if (wrapper === undefined || !(kListener in wrapper) || wrapper[kRemoved]) continue;
      if (wrapper !== raw) remove(host, type, wrapper);
      try {
        dispatch(listenerOf(wrapper), host, event as Event);
      } catch (err) {
        process.nextTick(() => {
          throw err;
        });
      }
      if (stopped) break;
    }
  } finally {
    dispatching.delete(event);
    if (watch) {
      if (own === undefined)
        delete (event as { stopImmediatePropagation?: unknown }).stopImmediatePropagation;
      else Object.defineProperty(event, 'stopImmediatePropagation', own);
    }
  }
  return (event as { defaultPrevented?: unknown }).defaultPrevented !== true;
}
