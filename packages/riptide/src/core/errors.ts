/**
 * Errors, and the one place where a peer's violation is mapped to a close code.
 *
 * Theory of operation (after h11's split of LocalProtocolError / RemoteProtocolError):
 *
 *   RiptideError                 every error this library creates; has a stable `code`
 *   ├── ProtocolError            the PEER broke RFC 6455/7692: never thrown to the caller;
 *   │                            the connection is failed with `closeCode` and the error is
 *   │                            reported (an 'error' event, or an `{ type: 'error' }` result)
 *   ├── HandshakeError           the opening handshake was refused (either side); carries the
 *   │                            HTTP status a server answers with
 *   └── UsageError               the CALLER misused the API (bad option, send while closed
 *                                ...): thrown synchronously, like a TypeError
 *
 * Every peer violation code is listed in PEER_ERRORS with its close code and message; adding
 * a violation means adding a row here, and nowhere else decides a close code.
 */

/** RFC 6455 7.4.1 status codes, plus the ones registered since. */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** Reserved: "no status code was present"; never sent on the wire. */
  NO_STATUS: 1005,
  /** Reserved: "the connection was closed abnormally"; never sent on the wire. */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  /** Reserved: TLS handshake failure; never sent on the wire. */
  TLS_HANDSHAKE: 1015,
} as const;

/**
 * Violations by the peer. Key: the stable error code. Value: [close code, message].
 * Messages are asserted by tests; change them only together with the tests.
 */
export const PEER_ERRORS = {
  // RFC 6455 5.2: frame header
  WS_ERR_UNEXPECTED_RSV_1: [1002, 'Invalid frame: RSV1 must be clear'],
  WS_ERR_UNEXPECTED_RSV_2_3: [1002, 'Invalid frame: RSV2 and RSV3 must be clear'],
  WS_ERR_INVALID_OPCODE: [1002, 'Invalid frame: reserved opcode'],
  WS_ERR_EXPECTED_MASK: [1002, 'Invalid frame: client frames must be masked'],
  WS_ERR_UNEXPECTED_MASK: [1002, 'Invalid frame: server frames must not be masked'],
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: [1009, 'Invalid frame: payload length above 2^53 - 1'],
  WS_ERR_NON_MINIMAL_LENGTH: [1002, 'Invalid frame: payload length not in its minimal form'],
  // RFC 6455 5.4 / 5.5: fragmentation and control frames
  WS_ERR_EXPECTED_CONTINUATION: [1002, 'Invalid frame: expected a continuation frame'],
  WS_ERR_UNEXPECTED_CONTINUATION: [1002, 'Invalid frame: continuation frame without a message'],
  WS_ERR_FRAGMENTED_CONTROL: [1002, 'Invalid frame: control frames must not be fragmented'],
  WS_ERR_CONTROL_TOO_LONG: [1002, 'Invalid frame: control frame payload above 125 bytes'],
  // Limits (RFC 6455 10.4)
  WS_ERR_MESSAGE_TOO_BIG: [1009, 'Message too big: above maxPayload'],
  WS_ERR_TOO_MANY_FRAGMENTS: [1008, 'Too many message fragments'],
  WS_ERR_TOO_MANY_BUFFERED_PARTS: [1008, 'Too many buffered chunks'],
  // RFC 6455 8.1: UTF-8
  WS_ERR_INVALID_UTF8: [1007, 'Invalid UTF-8 in a text message'],
  WS_ERR_INVALID_CLOSE_UTF8: [1007, 'Invalid UTF-8 in a close reason'],
  // RFC 6455 5.5.1 / 7.4: close frames
  WS_ERR_INVALID_CLOSE_PAYLOAD: [1002, 'Invalid close frame: a 1-byte payload'],
  WS_ERR_INVALID_CLOSE_CODE: [1002, 'Invalid close frame: invalid status code'],
  WS_ERR_DATA_AFTER_CLOSE: [1002, 'Invalid frame: data frame after a close frame'],
  // RFC 7692: permessage-deflate data path
  WS_ERR_INVALID_COMPRESSED_DATA: [1007, 'Invalid compressed data'],
  WS_ERR_COMPRESSION_FAILED: [1011, 'Compression failed'],
  // Connection-level failures reported as errors (no close frame can be sent)
  WS_ERR_UNEXPECTED_EOF: [1006, 'Connection closed without a close frame'],
  WS_ERR_CLOSE_TIMEOUT: [1006, 'Close handshake timed out'],
  WS_ERR_HEARTBEAT_TIMEOUT: [1006, 'No pong received before the heartbeat timeout'],
  WS_ERR_PENDING_PONGS: [1006, 'The peer does not read: too many automatic pongs pending'],
  WS_ERR_SOCKET: [1006, 'Socket error'],
  WS_ERR_BACKPRESSURE: [1008, 'Send buffer above maxBackpressure'],
} as const satisfies Record<string, readonly [number, string]>;

export type PeerErrorCode = keyof typeof PEER_ERRORS;

export class RiptideError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The peer broke the protocol. Reported, never thrown at the caller. */
export class ProtocolError extends RiptideError {
  declare readonly code: PeerErrorCode;
  /** The close code sent (or, for 1006, recorded) when failing the connection. */
  readonly closeCode: number;
  constructor(code: PeerErrorCode, detail?: string, options?: { cause?: unknown }) {
    const [closeCode, message] = PEER_ERRORS[code];
    super(code, detail ? `${message} (${detail})` : message, options);
    this.closeCode = closeCode;
  }
}

/** The opening handshake failed. `status` is what a server answers (0 on the client side). */
export class HandshakeError extends RiptideError {
  readonly status: number;
  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

/** The caller misused the API: thrown synchronously. */
export class UsageError extends RiptideError {}

/** A peer violation, as a value (cheap to create on the hot path: no stack until needed). */
export function peerError(code: PeerErrorCode, detail?: string): ProtocolError {
  return new ProtocolError(code, detail);
}
