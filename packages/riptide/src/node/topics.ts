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

function checkTopic(topic: unknown): asserts topic is string {
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

export class Topics {
  private readonly subscribers = new Map<string, Set<Subscriber>>();
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
    let set = this.subscribers.get(topic);
    if (set === undefined) {
      set = new Set();
      this.subscribers.set(topic, set);
    }
    set.add(ws);
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
    const own = this.joined.get(ws);
    return own?.has(topic) === true;
  }

  topicsOf(ws: Subscriber): string[] {
    const own = this.joined.get(ws);
    return own === undefined ? [] : [...own];
  }

  count(topic: string): number {
    return this.subscribers.get(topic)?.size ?? 0;
  }

  publish(topic: string, data: unknown, options?: PublishOptions): number {
    checkTopic(topic);
    const set = this.subscribers.get(topic);
    if (set === undefined || set.size === 0) {
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
    let sent = 0;
    for (const ws of set) {
      if (max > 0 && ws.bufferedAmount > max) {
        if (this.closeOnBackpressure) this.evict(ws);
        continue;
      }
      if (ws._deliverFrames(frame)) sent++;
    }
    return sent;
  }

  private evict(ws: Subscriber): void {
    const err = new ProtocolError('WS_ERR_BACKPRESSURE');
    ws._reportError(err);
    // The close frame queues behind what the peer is not reading; the close timer bounds it.
    ws.close(this.closeCode, 'Send buffer above maxBackpressure');
  }

  private remove(topic: string, ws: Subscriber): void {
    const set = this.subscribers.get(topic);
    if (set === undefined) return;
    set.delete(ws);
    if (set.size === 0) this.subscribers.delete(topic);
  }
}
