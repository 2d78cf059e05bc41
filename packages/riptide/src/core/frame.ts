/**
 * Frames (RFC 6455 5.2): opcodes and the header layout.
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-------+-+-------------+-------------------------------+
 *   |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 *   |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 *   |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 *   | |1|2|3|       |K|             |                               |
 *   +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 *   |     Extended payload length continued, if payload len == 127  |
 *   + - - - - - - - - - - - - - - - +-------------------------------+
 *   |                               |Masking-key, if MASK set to 1  |
 *   +-------------------------------+-------------------------------+
 *   | Masking-key (continued)       |          Payload Data         |
 *   +-------------------------------- - - - - - - - - - - - - - - - +
 *
 * Parsing a stream of frames is receiver.ts's job; this file holds the layout, header encoding,
 * and a standalone Frame value type with `serializeFrame` (used by senders of arbitrary frames,
 * by tests and by fuzzers).
 */
import { applyMask } from './mask.js';

export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

export type OpcodeValue = (typeof Opcode)[keyof typeof Opcode];

export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

/** RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less" */
export const MAX_CONTROL_PAYLOAD = 125;

/** Largest payload length this implementation accepts: a JS number is exact up to 2^53 - 1. */
export const MAX_SAFE_PAYLOAD = Number.MAX_SAFE_INTEGER;

/** Header size for a payload length, with or without a 4-byte masking key. */
export function headerSize(payloadLength: number, masked: boolean): number {
  const base = payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10;
  return masked ? base + 4 : base;
}

/**
 * Write a frame header into `target` at `offset`; returns the offset after the header (where the
 * masking key goes if `masked`, which the caller writes). RFC 6455 5.2: lengths use the minimal
 * encoding ("the minimal number of bytes MUST be used to encode the length").
 */
export function writeHeader(
  target: Buffer,
  offset: number,
  opcode: number,
  fin: boolean,
  rsv1: boolean,
  payloadLength: number,
  masked: boolean,
): number {
  target[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = masked ? 0x80 : 0;
  if (payloadLength < 126) {
    target[offset + 1] = maskBit | payloadLength;
    return offset + 2;
  }
  if (payloadLength < 0x10000) {
    target[offset + 1] = maskBit | 126;
    target[offset + 2] = payloadLength >>> 8;
    target[offset + 3] = payloadLength & 0xff;
    return offset + 4;
  }
  target[offset + 1] = maskBit | 127;
  const hi = Math.floor(payloadLength / 0x100000000);
  target.writeUInt32BE(hi, offset + 2);
  target.writeUInt32BE(payloadLength >>> 0, offset + 6);
  return offset + 10;
}

/** A single frame as a value. `mask` is the 4-byte key of a masked frame, or null. */
export interface Frame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  mask: Uint8Array | null;
  /** The payload, unmasked. */
  payload: Buffer;
}

export function makeFrame(opcode: number, payload: Buffer | string, fields: Partial<Frame> = {}): Frame {
  return {
    fin: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    mask: null,
    ...fields,
    opcode,
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
  };
}

/** Serialise any frame (including invalid ones, for tests) into one buffer. */
export function serializeFrame(frame: Frame): Buffer {
  const len = frame.payload.length;
  const masked = frame.mask !== null;
  const out = Buffer.allocUnsafe(headerSize(len, masked) + len);
  let o = writeHeader(out, 0, frame.opcode, frame.fin, frame.rsv1, len, masked);
  out[0] |= (frame.rsv2 ? 0x20 : 0) | (frame.rsv3 ? 0x10 : 0);
  if (frame.mask) {
    out.set(frame.mask.subarray(0, 4), o);
    o += 4;
  }
  frame.payload.copy(out, o);
  if (frame.mask) applyMask(out, o, o + len, frame.mask, 0, 0);
  return out;
}
