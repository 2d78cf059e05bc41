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
 * interleaved with other data frames); its published frames wait in ws._held until then.
 *
 * A socket leaves all its topics as soon as it starts closing.
 */
import { ProtocolError, UsageError } from '../core/errors.js';
import { frameForBroadcast } from '../core/sender.js';
import { schedule } from './outbox.js';
import type { WebSocket } from './websocket.js';

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

export class Topics {
  private readonly subscribers = new Map<string, Set<WebSocket>>();
  private readonly maxBackpressure: number;
  private readonly closeOnBackpressure: boolean;
  private readonly closeCode: number;

  constructor(policy: BackpressurePolicy) {
    this.maxBackpressure = policy.maxBackpressure ?? 0;
    this.closeOnBackpressure = policy.onBackpressure === 'close';
    this.closeCode = policy.backpressureCloseCode ?? 1008;
  }

  subscribe(ws: WebSocket, topic: string): boolean {
    checkTopic(topic);
    // A closing socket receives nothing more; subscribing it would only leak the entry.
    if (ws.readyState !== 1) return false;
    let own = ws._topics;
    if (own === null) own = ws._topics = new Set();
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

  unsubscribe(ws: WebSocket, topic: string): boolean {
    checkTopic(topic);
    const own = ws._topics;
    if (own === null || !own.delete(topic)) return false;
    if (own.size === 0) ws._topics = null;
    this.remove(topic, ws);
    return true;
  }

  leaveAll(ws: WebSocket): void {
    const own = ws._topics;
    if (own === null) return;
    ws._topics = null;
    for (const topic of own) this.remove(topic, ws);
  }

  count(topic: string): number {
    return this.subscribers.get(topic)?.size ?? 0;
  }

  publish(topic: string, data: unknown, options?: PublishOptions): number {
    checkTopic(topic);
    const set = this.subscribers.get(topic);
    if (set === undefined || set.size === 0) return 0;
    let payload: Buffer | string;
    let binary: boolean;
    if (typeof data === 'string') {
      payload = data;
      binary = false;
    } else if (Buffer.isBuffer(data)) {
      payload = data;
      binary = true;
    } else if (data instanceof ArrayBuffer) {
      payload = Buffer.from(data);
      binary = true;
    } else if (ArrayBuffer.isView(data)) {
      payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      binary = true;
    } else {
      throw new UsageError(
        'WS_ERR_INVALID_DATA',
        'publish() data must be a string, a Buffer, an ArrayBuffer or a view',
      );
    }
    if (options?.binary !== undefined) binary = options.binary === true;
    // One frame for every subscriber (uncompressed: RSV1 clear is valid with permessage-deflate).
    const frame = frameForBroadcast(binary ? 2 : 1, payload);
    const max = this.maxBackpressure;
    let sent = 0;
    for (const ws of set) {
      const proto = ws._proto;
      if (proto === null || ws._closing) continue;
      if (max > 0 && ws.bufferedAmount > max) {
        if (this.closeOnBackpressure) this.evict(ws);
        continue;
      }
      if (proto.sendingFragments) {
        let held = ws._held;
        if (held === null) held = ws._held = [];
        for (let i = 0; i < frame.length; i++) held.push(frame[i]);
      } else {
        for (let i = 0; i < frame.length; i++) proto.sendFramed(frame[i]);
        schedule(ws);
      }
      sent++;
    }
    return sent;
  }

  private evict(ws: WebSocket): void {
    const err = new ProtocolError('WS_ERR_BACKPRESSURE');
    ws._reportError(err);
    // The close frame queues behind what the peer is not reading; the close timer bounds it.
    ws.close(this.closeCode, 'Send buffer above maxBackpressure');
  }

  private remove(topic: string, ws: WebSocket): void {
    const set = this.subscribers.get(topic);
    if (set === undefined) return;
    set.delete(ws);
    if (set.size === 0) this.subscribers.delete(topic);
  }
}
