/**
 * Close frames: status codes and payloads (RFC 6455 5.5.1, 7.4).
 *
 *   payload = [ 2-byte status code, big-endian ] [ UTF-8 reason ]     (or empty)
 *
 * A payload of exactly one byte is invalid; the reason MUST be valid UTF-8; a control frame
 * payload is at most 125 bytes, so the reason is at most 123.
 */
import { type ProtocolError, peerError, UsageError, UsageRangeError } from './errors.js';
import { isValidUtf8 } from './utf8.js';

export const MAX_REASON_BYTES = 123;

/**
 * May this code appear in a close frame on the wire? (RFC 6455 7.4.1, 7.4.2, and the IANA
 * registry: 1012-1014 were registered after the RFC.) 1004 is reserved, 1005/1006/1015 are
 * "MUST NOT be set as a status code in a Close control frame by an endpoint"; 1016-2999 are
 * reserved for future revisions; 3000-4999 are for libraries and applications.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  );
}

/**
 * Encode a close payload for sending. Caller misuse throws, with ws 8's errors: a bad code is a
 * TypeError, a reason above 123 bytes a RangeError. As in ws, a reason without a code is not
 * sent (the frame carries no status then, RFC 6455 5.5.1).
 */
export function encodeClosePayload(code?: number, reason?: string): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new UsageError('WS_ERR_INVALID_CLOSE_CODE', 'First argument must be a valid error code number');
  }
  const reasonBytes = reason ? Buffer.byteLength(reason) : 0;
  if (reasonBytes > MAX_REASON_BYTES) {
    throw new UsageRangeError(
      'WS_ERR_CLOSE_REASON_TOO_LONG',
      `The message must not be greater than ${MAX_REASON_BYTES} bytes`,
    );
  }
  const buf = Buffer.allocUnsafe(2 + reasonBytes);
  buf.writeUInt16BE(code, 0);
  if (reasonBytes) buf.write(reason as string, 2);
  return buf;
}

export interface ClosePayload {
  /** 1005 when the frame had no status code. */
  code: number;
  reason: string;
}

/**
 * Decode a received close payload; a peer's invalid payload is a ProtocolError value.
 * `skipUtf8` (the skipUTF8Validation option) leaves the reason unchecked, as ws does.
 */
export function parseClosePayload(payload: Buffer, skipUtf8 = false): ClosePayload | ProtocolError {
  if (payload.length === 0) return { code: 1005, reason: '' };
  // RFC 6455 5.5.1: "If there is a body, the first two bytes of the body MUST be a 2-byte
  // unsigned integer ... representing a status code"
  if (payload.length === 1) return peerError('WS_ERR_INVALID_CLOSE_PAYLOAD', 1);
  const code = payload.readUInt16BE(0);
  if (!isValidCloseCode(code)) return peerError('WS_ERR_INVALID_CLOSE_CODE', code);
  // The usual close frame: a code and no reason (no view and no decoding for an empty one).
  if (payload.length === 2) return { code, reason: '' };
  const reasonBytes = payload.subarray(2);
  if (!skipUtf8 && !isValidUtf8(reasonBytes)) return peerError('WS_ERR_INVALID_CLOSE_UTF8');
  return { code, reason: reasonBytes.toString('utf8') };
}
