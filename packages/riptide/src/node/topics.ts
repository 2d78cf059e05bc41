/**
 * Pub/sub for a WebSocketServer: ws.subscribe(topic), server.publish(topic, data).
 *
 * Theory of operation: server frames are never masked (RFC 6455 5.1: "A server MUST NOT mask
 * any frames that it sends to the client"), so one message has the same bytes on every
 * connection. publish() frames it ONCE (core/sender.ts frameForBroadcast) and queues those
 * same Buffers on each subscriber's core output (Protocol.sendFramed); the outbox then writes
 * them with whatever else that socket has queued, one write per socket per tick. Order is
 * per socket FIFO, so messages of one topic arrive in publish order.
 *
 * A subscriber in the middle of a fragmented send (send(..., { fin: false })) cannot take a
 * data frame until its message ends (RFC 6455 5.4: fragments of one message are not
 * interleaved with other data frames); the WebSocket holds its published frames until then
 * (_deliverFrames).
 *
 * The subscriptions are this class's state, both ways (topic -> sockets, socket -> topics); a
 * WebSocket keeps nothing for them (an idle connection without topics costs nothing here). A
 * socket leaves all its topics as soon as it starts closing.
 */
import { types } from 'node:util';
import { ProtocolError, UsageError } from '../core/errors.js';
import { frameForBroadcast } from '../core/sender.js';

/**
 * A 'fragments' message (Buffer[]), which send() and publish() take as the bytes of its buffers.
 * ws hands an array to Buffer.from, which reads each element as a number (a zero byte per
 * buffer); an array of numbers still goes that way in send(), as in ws.
 */
export function isBufferList(data: unknown): data is Uint8Array[] {
  if (!Array.isArray(data)) return false;
  for (const item of data) if (!(item instanceof Uint8Array)) return false;
  return true;
}

/** What publish() asks of a subscriber (websocket.ts implements it). */
export interface Subscriber {
  readonly readyState: number;
  readonly bufferedAmount: number;
  /** Queue frames built once for many (or hold them during a fragmented send); false if closing. */
  _deliverFrames(frames: readonly Buffer[]): boolean;
  _reportError(err: Error): void;
  close(code?: number, reason?: string): void;
}

export interface PublishOptions {
  /** Send as binary (default: true unless data is a string). */
  binary?: boolean;
}

export interface BackpressurePolicy {
  maxBackpressure?: number;
  onBackpressure?: 'skip' | 'close';
  backpressureCloseCode?: 1008 | 1013;
}

/**
 * A topic is a non-empty string: anything else is refused (UsageError WS_ERR_INVALID_TOPIC) by
 * every pub/sub call that takes one, those that only read included, whether or not anyone ever
 * subscribed.
 */
export function checkTopic(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new UsageError('WS_ERR_INVALID_TOPIC', 'A topic must be a non-empty string');
  }
}

function invalidData(): UsageError {
  return new UsageError(
    'WS_ERR_INVALID_DATA',
    'publish() data must be a string, a Buffer, an ArrayBuffer, a view or a Buffer[] (a Blob: its arrayBuffer())',
  );
}

function checkPublishData(data: unknown): void {
  if (
    typeof data !== 'string' &&
    !types.isAnyArrayBuffer(data) &&
    !ArrayBuffer.isView(data) &&
    !isBufferList(data)
  ) {
    throw invalidData();
  }
}

/**
 * publish()'s checks where nobody is subscribed (no frame is built): the same topics and data
 * are refused whether or not anyone listens, so a wrong call fails from the start, not once a
 * first subscriber comes.
 */
export function checkPublish(topic: unknown, data: unknown): void {
  checkTopic(topic);
  checkPublishData(data);
}

/**
 * One topic's subscribers. publish() walks `members`, a live Set: a socket added during the walk
 * would be visited by it, and one removed and added again visited twice. So while a publish of
 * the topic runs (`walks` > 0: a publish may start another from a listener), a socket that
 * subscribes waits in `held` and joins `members` when the outermost walk ends; it receives the
 * publishes that start after its subscribe(), not the ones already running. One that leaves
 * meanwhile is taken out of either (from `held` by a hole, so the places publishes started with
 * stay put). The walk itself allocates nothing.
 */
class Topic {
  readonly members = new Set<Subscriber>();
  walks = 0;
  /** Subscribed during a walk, in order; null for one that left since (a hole). */
  held: Array<Subscriber | null> | null = null;
  /** The sockets in `held` (holes not counted). */
  heldCount = 0;
}

export class Topics {
  private readonly subscribers = new Map<string, Topic>();
  /** Each subscribed socket's topics. */
  private readonly joined = new Map<Subscriber, Set<string>>();
  private readonly maxBackpressure: number;
  private readonly closeOnBackpressure: boolean;
  private readonly closeCode: number;

  constructor(policy: BackpressurePolicy) {
    this.maxBackpressure = policy.maxBackpressure ?? 0;
    this.closeOnBackpressure = policy.onBackpressure === 'close';
    this.closeCode = policy.backpressureCloseCode ?? 1008;
  }

  subscribe(ws: Subscriber, topic: string): boolean {
    checkTopic(topic);
    // A closing socket receives nothing more; subscribing it would only leak the entry.
    if (ws.readyState !== 1) return false;
    let own = this.joined.get(ws);
    if (own === undefined) {
      own = new Set();
      this.joined.set(ws, own);
    }
    if (own.has(topic)) return false;
    own.add(topic);
    let entry = this.subscribers.get(topic);
    if (entry === undefined) {
      entry = new Topic();
      this.subscribers.set(topic, entry);
    }
    if (entry.walks === 0) {
      entry.members.add(ws);
    } else {
      // A publish of this topic is walking its members: join once it is done.
      if (entry.held === null) entry.held = [ws];
      else entry.held.push(ws);
      entry.heldCount++;
    }
    return true;
  }

  unsubscribe(ws: Subscriber, topic: string): boolean {
    checkTopic(topic);
    const own = this.joined.get(ws);
    if (own === undefined || !own.delete(topic)) return false;
    if (own.size === 0) this.joined.delete(ws);
    this.remove(topic, ws);
    return true;
  }

  leaveAll(ws: Subscriber): void {
    const own = this.joined.get(ws);
    if (own === undefined) return;
    this.joined.delete(ws);
    for (const topic of own) this.remove(topic, ws);
  }

  isSubscribed(ws: Subscriber, topic: string): boolean {
    checkTopic(topic);
    const own = this.joined.get(ws);
    return own?.has(topic) === true;
  }

  topicsOf(ws: Subscriber): string[] {
    const own = this.joined.get(ws);
    return own === undefined ? [] : [...own];
  }

  count(topic: string): number {
    checkTopic(topic);
    const entry = this.subscribers.get(topic);
    return entry === undefined ? 0 : entry.members.size + entry.heldCount;
  }

  publish(topic: string, data: unknown, options?: PublishOptions): number {
    checkTopic(topic);
    const entry = this.subscribers.get(topic);
    if (entry === undefined) {
      checkPublishData(data);
      return 0;
    }
    let payload: Buffer | string;
    let binary: boolean;
    if (typeof data === 'string') {
      payload = data;
      binary = false;
    } else if (Buffer.isBuffer(data)) {
      payload = data;
      binary = true;
    } else if (types.isAnyArrayBuffer(data)) {
      // Any ArrayBuffer, a SharedArrayBuffer or one of another realm too, as send() takes it.
      payload = Buffer.from(data);
      binary = true;
    } else if (ArrayBuffer.isView(data)) {
      payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      binary = true;
    } else if (isBufferList(data)) {
      // A 'fragments' message: its buffers' bytes, as send() takes it.
      payload = Buffer.concat(data);
      binary = true;
    } else {
      throw invalidData();
    }
    // Read by truthiness, as send() reads it (ws 8).
    if (options?.binary !== undefined) binary = !!options.binary;
    // One frame for every subscriber (uncompressed: RSV1 clear is valid with permessage-deflate).
    const frame = frameForBroadcast(binary ? 2 : 1, payload);
    const max = this.maxBackpressure;
    // Those that subscribed during a publish still running (this one is nested in it) and
    // before this one started receive it too, after the members.
    const heldBefore = entry.held === null ? 0 : entry.held.length;
    let sent = 0;
    // Marked as walking until the end, whatever a listener called from here does or throws.
    entry.walks++;
    try {
      for (const ws of entry.members) {
        if (max > 0 && ws.bufferedAmount > max) {
          if (this.closeOnBackpressure) this.evict(ws);
          continue;
        }
        if (ws._deliverFrames(frame)) sent++;
      }
      if (heldBefore > 0) sent += this.deliverHeld(entry, heldBefore, frame);
    } finally {
      if (--entry.walks === 0 && (entry.held !== null || entry.members.size === 0)) this.admit(topic, entry);
    }
    return sent;
  }

  /** A nested publish: the first `n` of `held` (those that were there when it started). */
  private deliverHeld(entry: Topic, n: number, frame: readonly Buffer[]): number {
    const max = this.maxBackpressure;
    let sent = 0;
    for (let i = 0; i < n; i++) {
      const ws = entry.held![i];
      if (ws === null) continue;
      if (max > 0 && ws.bufferedAmount > max) {
        if (this.closeOnBackpressure) this.evict(ws);
        continue;
      }
      if (ws._deliverFrames(frame)) sent++;
    }
    return sent;
  }

  /**
   * The outermost walk ended: those that subscribed meanwhile join the members, and a topic
   * everyone left meanwhile goes (remove() keeps it while a publish walks it).
   */
  private admit(topic: string, entry: Topic): void {
    const held = entry.held;
    if (held !== null) {
      entry.held = null;
      entry.heldCount = 0;
      for (let i = 0; i < held.length; i++) {
        const ws = held[i];
        if (ws !== null) entry.members.add(ws);
      }
    }
    if (entry.members.size === 0 && this.subscribers.get(topic) === entry) this.subscribers.delete(topic);
  }

  private evict(ws: Subscriber): void {
    const err = new ProtocolError('WS_ERR_BACKPRESSURE');
    ws._reportError(err);
    // The close frame queues behind what the peer is not reading; the close timer bounds it.
    ws.close(this.closeCode, 'Send buffer above maxBackpressure');
  }

  private remove(topic: string, ws: Subscriber): void {
    const entry = this.subscribers.get(topic);
    if (entry === undefined) return;
    if (!entry.members.delete(ws) && entry.held !== null) {
      const i = entry.held.indexOf(ws);
      if (i >= 0) {
        entry.held[i] = null;
        entry.heldCount--;
      }
    }
    // While a publish walks it, the topic stays (admit() removes it if it is still empty then).
    if (entry.walks === 0 && entry.members.size === 0) this.subscribers.delete(topic);
  }
}
