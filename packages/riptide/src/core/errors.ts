/**
 * Errors, and the one place where a peer's violation is mapped to a close code.
 *
 * Theory of operation (after h11's split of LocalProtocolError / RemoteProtocolError):
 *
 *   RiptideError           every error this library creates has a stable `code`
 *   ├── ProtocolError      the PEER broke RFC 6455/7692: never thrown to the caller; the
 *   │   (a RangeError)     connection is failed with `closeCode` and the error is reported
 *   │                      (an 'error' event, or an `{ type: 'error' }` result)
 *   ├── HandshakeError     the opening handshake was refused (either side); carries the
 *   │   (an Error)         HTTP status a server answers with
 *   └── UsageError         the CALLER misused the API (bad option, bad close code ...):
 *       (a TypeError, or   thrown synchronously
 *        UsageRangeError / UsageSyntaxError, or an Error where ws throws one: PLAIN_ERROR_CODES)
 *
 * ws 8 compatibility: code written for ws checks `err.code`, `err.message` and `instanceof
 * RangeError` (or TypeError, SyntaxError); so each class extends the built-in error ws uses in
 * the same place, codes and messages are ws's wherever ws has one, and `name` is the built-in's
 * name, so that `String(err)` reads as ws's does. `instanceof RiptideError` (and of each class)
 * still holds: the classes recognise one another by a brand on their prototypes, looked up with
 * Symbol.for, so it also holds between the ESM and the CommonJS copy of the library.
 *
 * Every peer violation is a row of PEER_ERRORS (its key is riptide's name for the violation; the
 * row holds the error code, the close code and the message); adding a violation means adding a
 * row here, and nowhere else decides a close code.
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
 * Violations by the peer. Key: the violation. Value: [error code, close code, message]; the
 * codes and messages are ws 8's where ws reports the same violation (several violations share
 * ws's code, e.g. WS_ERR_INVALID_OPCODE), riptide's own otherwise. A numeric detail (an opcode,
 * a length, a status code) is appended to the message as ws does: "invalid opcode 3".
 * Messages are asserted by tests; change them only together with the tests.
 */
export const PEER_ERRORS = {
  // RFC 6455 5.2: frame header
  WS_ERR_UNEXPECTED_RSV_1: ['WS_ERR_UNEXPECTED_RSV_1', 1002, 'Invalid WebSocket frame: RSV1 must be clear'],
  WS_ERR_UNEXPECTED_RSV_2_3: [
    'WS_ERR_UNEXPECTED_RSV_2_3',
    1002,
    'Invalid WebSocket frame: RSV2 and RSV3 must be clear',
  ],
  WS_ERR_INVALID_OPCODE: ['WS_ERR_INVALID_OPCODE', 1002, 'Invalid WebSocket frame: invalid opcode'],
  WS_ERR_EXPECTED_MASK: ['WS_ERR_EXPECTED_MASK', 1002, 'Invalid WebSocket frame: MASK must be set'],
  WS_ERR_UNEXPECTED_MASK: ['WS_ERR_UNEXPECTED_MASK', 1002, 'Invalid WebSocket frame: MASK must be clear'],
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: [
    'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH',
    1009,
    'Unsupported WebSocket frame: payload length > 2^53 - 1',
  ],
  // Stricter than ws, which reports a 64-bit length with the most significant bit set as too
  // big (1009): RFC 6455 5.2 "the most significant bit MUST be 0", so it is no length at all.
  WS_ERR_LENGTH_MSB: [
    'WS_ERR_INVALID_PAYLOAD_LENGTH',
    1002,
    'Invalid WebSocket frame: the most significant bit of a 64-bit payload length must be 0',
  ],
  // Stricter than ws, which accepts a length in a longer form than needed.
  WS_ERR_NON_MINIMAL_LENGTH: [
    'WS_ERR_NON_MINIMAL_LENGTH',
    1002,
    'Invalid WebSocket frame: payload length not in its minimal form',
  ],
  // RFC 6455 5.4 / 5.5: fragmentation and control frames (ws names the opcode it did not expect)
  WS_ERR_EXPECTED_CONTINUATION: ['WS_ERR_INVALID_OPCODE', 1002, 'Invalid WebSocket frame: invalid opcode'],
  WS_ERR_UNEXPECTED_CONTINUATION: ['WS_ERR_INVALID_OPCODE', 1002, 'Invalid WebSocket frame: invalid opcode'],
  WS_ERR_FRAGMENTED_CONTROL: ['WS_ERR_EXPECTED_FIN', 1002, 'Invalid WebSocket frame: FIN must be set'],
  WS_ERR_CONTROL_TOO_LONG: [
    'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
    1002,
    'Invalid WebSocket frame: invalid payload length',
  ],
  // Limits (RFC 6455 10.4)
  WS_ERR_MESSAGE_TOO_BIG: ['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009, 'Max payload size exceeded'],
  WS_ERR_TOO_MANY_FRAGMENTS: ['WS_ERR_TOO_MANY_BUFFERED_PARTS', 1008, 'Too many message fragments'],
  WS_ERR_TOO_MANY_BUFFERED_PARTS: ['WS_ERR_TOO_MANY_BUFFERED_PARTS', 1008, 'Too many buffered chunks'],
  // RFC 6455 8.1: UTF-8
  WS_ERR_INVALID_UTF8: ['WS_ERR_INVALID_UTF8', 1007, 'Invalid WebSocket frame: invalid UTF-8 sequence'],
  WS_ERR_INVALID_CLOSE_UTF8: ['WS_ERR_INVALID_UTF8', 1007, 'Invalid WebSocket frame: invalid UTF-8 sequence'],
  // RFC 6455 5.5.1 / 7.4: close frames
  WS_ERR_INVALID_CLOSE_PAYLOAD: [
    'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
    1002,
    'Invalid WebSocket frame: invalid payload length',
  ],
  WS_ERR_INVALID_CLOSE_CODE: [
    'WS_ERR_INVALID_CLOSE_CODE',
    1002,
    'Invalid WebSocket frame: invalid status code',
  ],
  // RFC 7692: permessage-deflate data path. zlib's own code, errno and message replace these
  // (as in ws, where the error is zlib's), e.g. Z_DATA_ERROR, -3, 'invalid stored block lengths'.
  WS_ERR_INVALID_COMPRESSED_DATA: ['Z_DATA_ERROR', 1007, 'invalid compressed data'],
  // Connection-level failures reported as errors (no close frame can be sent)
  WS_ERR_CLOSE_TIMEOUT: ['WS_ERR_CLOSE_TIMEOUT', 1006, 'Close handshake timed out'],
  WS_ERR_HEARTBEAT_TIMEOUT: [
    'WS_ERR_HEARTBEAT_TIMEOUT',
    1006,
    'No pong received before the heartbeat timeout',
  ],
  WS_ERR_PENDING_PONGS: [
    'WS_ERR_PENDING_PONGS',
    1006,
    'The peer does not read: too many automatic pongs pending',
  ],
  WS_ERR_BACKPRESSURE: ['WS_ERR_BACKPRESSURE', 1008, 'Send buffer above maxBackpressure'],
  // Not the peer's doing: zlib failed (out of memory) in the middle of a message compressed in
  // slices, whose first frames already left, so the message cannot be finished (RFC 6455 7.4.1).
  WS_ERR_COMPRESSION_FAILED: ['WS_ERR_COMPRESSION_FAILED', 1011, 'Compressing a message failed'],
  // Not the peer's doing either: the node layer could not read a Blob given to send(), ping() or
  // pong() (blob.arrayBuffer() rejected; the reason is the error's cause). What was sent after
  // it cannot keep its order, so the connection fails (ws 8.18 fails it too).
  WS_ERR_BLOB_READ_FAILED: ['WS_ERR_BLOB_READ_FAILED', 1011, 'Reading a Blob to send failed'],
} as const satisfies Record<string, readonly [string, number, string]>;

/** A violation by the peer: a key of PEER_ERRORS. */
export type PeerViolation = keyof typeof PEER_ERRORS;
/** @deprecated the keys of PEER_ERRORS name violations; see PeerViolation. */
export type PeerErrorCode = PeerViolation;

/** ws 8 throws a plain Error (name 'Error') for these usage errors. */
const PLAIN_ERROR_CODES: ReadonlySet<string> = new Set([
  'WS_ERR_NOT_OPEN',
  'WS_ERR_HANDSHAKE_TWICE',
  'WS_ERR_NO_SERVER',
  'WS_ERR_NOT_RUNNING',
]);

// ---------------------------------------------------------------------------------------------
// Brands: `instanceof` between the classes below, and between two copies of the library.

const kKind = Symbol.for('riptide.errorKind');
type Kind = 'riptide' | 'protocol' | 'handshake' | 'usage';

function kindOf(value: unknown): Kind | undefined {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  return (value as { [kKind]?: Kind })[kKind];
}

function brand(ctor: { prototype: object }, kind: Kind): void {
  Object.defineProperty(ctor.prototype, kKind, { value: kind });
}

/**
 * `value instanceof ctor`: the prototype chain, or, for the classes below themselves, the brand
 * (an error of the other copy of the library, or of a sibling class such as UsageRangeError).
 */
function isInstance(ctor: Function, base: Function, kinds: readonly Kind[], value: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(ctor, value)) return true;
  if (ctor !== base) return false;
  const kind = kindOf(value);
  return kind !== undefined && kinds.includes(kind);
}

const ALL_KINDS: readonly Kind[] = ['riptide', 'protocol', 'handshake', 'usage'];

export class RiptideError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'Error';
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` asks about (a subclass too)
    return isInstance(this, RiptideError, ALL_KINDS, value);
  }
}
brand(RiptideError, 'riptide');

/**
 * The peer broke the protocol. Reported, never thrown at the caller. A RangeError, as ws's
 * receiver errors are.
 */
export class ProtocolError extends RangeError {
  /** ws's code (WS_ERR_...), or zlib's (Z_DATA_ERROR ...) for invalid compressed data. */
  readonly code: string;
  /** The close code sent (or, for 1006, recorded) when failing the connection. */
  readonly closeCode: number;
  /** The violation (a key of PEER_ERRORS): riptide's finer name for what the peer did. */
  readonly violation: PeerViolation;
  /** zlib's error number, for invalid compressed data (as ws's error carries it). */
  readonly errno?: number;

  constructor(violation: PeerViolation, detail?: string | number, options?: { cause?: unknown }) {
    const [code, closeCode, message] = PEER_ERRORS[violation];
    const text =
      detail === undefined || detail === ''
        ? message
        : typeof detail === 'number'
          ? `${message} ${detail}`
          : `${message} (${detail})`;
    super(text, options);
    this.code = code;
    this.closeCode = closeCode;
    this.violation = violation;
    // ws's UTF-8 errors are plain Errors: String(err) reads the same.
    this.name = code === 'WS_ERR_INVALID_UTF8' || closeCode === 1006 ? 'Error' : 'RangeError';
  }

  /** Invalid compressed data, described by zlib (ws reports zlib's error itself). */
  static fromZlib(message: string, errno: number, code: string | undefined): ProtocolError {
    const err = new ProtocolError('WS_ERR_INVALID_COMPRESSED_DATA');
    const self = err as { -readonly [K in keyof ProtocolError]: ProtocolError[K] };
    if (message !== '') self.message = message;
    if (code !== undefined) self.code = code;
    self.errno = errno;
    self.name = 'Error';
    return err;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` asks about (a subclass too)
    return isInstance(this, ProtocolError, ['protocol'], value);
  }
}
brand(ProtocolError, 'protocol');

/**
 * The opening handshake failed. `status` is what a server answers (0 on the client side). Also
 * the class of WS_ERR_SOCKET_CLOSED (a send's callback when the socket closed first), which it
 * has always been. Every one is created from HANDSHAKE_ERRORS (handshake/errors.ts).
 */
export class HandshakeError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = status;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` asks about (a subclass too)
    return isInstance(this, HandshakeError, ['handshake'], value);
  }
}
brand(HandshakeError, 'handshake');

function usageName(code: string, builtin: string): string {
  return PLAIN_ERROR_CODES.has(code) ? 'Error' : builtin;
}

/**
 * The caller misused the API: thrown synchronously. A TypeError, as ws throws for the same
 * misuse, or a plain Error for the codes ws throws one for (PLAIN_ERROR_CODES); UsageRangeError
 * and UsageSyntaxError are the other two kinds ws throws (out-of-range values, malformed URLs and
 * subprotocols), and `instanceof UsageError` holds for all of them.
 */
export class UsageError extends TypeError {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = usageName(code, 'TypeError');
    // ws 8 throws a plain Error for these (send() while CONNECTING, address() without a server...):
    // not a TypeError, or `err instanceof TypeError` (ws's sign of bad arguments, such as data of
    // the wrong type) would read true. `instanceof UsageError` still holds, by the brand.
    if (PLAIN_ERROR_CODES.has(code)) Object.setPrototypeOf(this, PlainUsageError.prototype);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` asks about (a subclass too)
    return isInstance(this, UsageError, ['usage'], value);
  }
}
brand(UsageError, 'usage');

/**
 * The prototype of a UsageError whose code is in PLAIN_ERROR_CODES: an Error, as ws 8 throws
 * there (`instanceof UsageError` and `instanceof RiptideError` hold by the brand). Never
 * constructed itself: `new UsageError` gives its errors this prototype.
 */
class PlainUsageError extends Error {
  declare readonly code: string;
}
brand(PlainUsageError, 'usage');

/** A UsageError for an out-of-range value, where ws throws a RangeError. */
export class UsageRangeError extends RangeError {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = usageName(code, 'RangeError');
  }
}
brand(UsageRangeError, 'usage');

/** A UsageError for a malformed URL or subprotocol, where ws throws a SyntaxError. */
export class UsageSyntaxError extends SyntaxError {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = usageName(code, 'SyntaxError');
  }
}
brand(UsageSyntaxError, 'usage');

/** A peer violation, as a value (cheap to create on the hot path: no stack until needed). */
export function peerError(violation: PeerViolation, detail?: string | number): ProtocolError {
  return new ProtocolError(violation, detail);
}
