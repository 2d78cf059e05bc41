/**
 * Test helpers for the I/O-free core: a recording sink, deterministic randomness, hex vectors,
 * and `feedThreeWays` (after h11's tr()): every vector is fed whole, one byte at a time, and
 * followed by trailing bytes that must be left alone (or discarded after a close/violation).
 */
import type { ProtocolError } from '../../src/core/errors.js';
import { applyMask } from '../../src/core/mask.js';
import { Protocol, type ProtocolOptions, type ProtocolSink } from '../../src/core/protocol.js';
import type { RandomFill } from '../../src/core/sender.js';

export type Event =
  | { type: 'message'; data: string; isBinary: boolean }
  | { type: 'ping'; data: string }
  | { type: 'pong'; data: string }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; code: string; closeCode: number; message: string };

export class RecordingSink implements ProtocolSink {
  events: Event[] = [];
  onEvent: ((e: Event) => void) | null = null;
  private push(e: Event) {
    this.events.push(e);
    this.onEvent?.(e);
  }
  onMessage(data: Buffer, isBinary: boolean): void {
    this.push({ type: 'message', data: isBinary ? data.toString('hex') : data.toString('utf8'), isBinary });
  }
  onPing(data: Buffer): void {
    this.push({ type: 'ping', data: data.toString('hex') });
  }
  onPong(data: Buffer): void {
    this.push({ type: 'pong', data: data.toString('hex') });
  }
  onClose(code: number, reason: string): void {
    this.push({ type: 'close', code, reason });
  }
  onError(error: ProtocolError): void {
    this.push({ type: 'error', code: error.code, closeCode: error.closeCode, message: error.message });
  }
}

/** Deterministic "randomness": the masking key is always 37 fa 21 3d (RFC 6455 5.7's example). */
export const fixedMask: RandomFill = (buf, offset, length) => {
  const key = [0x37, 0xfa, 0x21, 0x3d];
  for (let i = 0; i < length; i++) buf[offset + i] = key[i % 4];
};

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

export function makeProtocol(role: 'client' | 'server', options: Partial<ProtocolOptions> = {}) {
  const sink = new RecordingSink();
  const proto = new Protocol(sink, { role, randomFill: fixedMask, ...options });
  return { sink, proto };
}

export type FeedMode = 'whole' | 'bytewise' | 'trailing';
export const FEED_MODES: FeedMode[] = ['whole', 'bytewise', 'trailing'];

/** Trailing bytes: the start of a valid next frame (an unfinished masked/unmasked text header). */
const TRAILING = hex('81');

export function feed(proto: Protocol, bytes: Buffer, mode: FeedMode): void {
  if (mode === 'whole') {
    proto.receive(Buffer.from(bytes));
  } else if (mode === 'bytewise') {
    for (let i = 0; i < bytes.length; i++) proto.receive(Buffer.from(bytes.subarray(i, i + 1)));
  } else {
    proto.receive(Buffer.concat([bytes, TRAILING]));
  }
}

export function output(proto: Protocol): string {
  const out = proto.takeOutput();
  return out === null ? '' : Buffer.concat(out).toString('hex');
}

export const KEY = hex('37fa213d');

/**
 * The bytes a peer in the other role would send: a server's frames go out unmasked; towards a
 * server, the same header (length encoding kept as written) gets the mask bit, the fixed key and
 * a masked payload.
 */
export function wire(role: 'client' | 'server', frameHex: string): Buffer {
  const b = hex(frameHex);
  if (role === 'client') return b;
  const len7 = b[1] & 0x7f;
  const off = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
  const out = Buffer.concat([b.subarray(0, off), KEY, b.subarray(off)]);
  out[1] |= 0x80;
  applyMask(out, off + 4, out.length, KEY, 0, 0);
  return out;
}

export const ROLES = ['client', 'server'] as const;
