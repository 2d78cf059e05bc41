/**
 * The options of `new WebSocketServer(options)` and `new WebSocket(url, protocols, options)`:
 * ONE table per class. Each entry holds the option's default, its check and (in its doc comment)
 * its documentation; the TypeScript types ServerOptions and ClientOptions are derived from the
 * tables, the constructors validate through `resolveOptions` only, and the option lists in
 * docs/node-layer.md are generated from the same entries (`node scripts/options-doc.mjs`, kept
 * in sync by a test). Adding an option means adding one entry here.
 *
 * Every option of ws 8.23 is in the tables with ws's default. Keys a table does not have are
 * treated as ws 8 treats them, since code written for ws passes its own keys along (rpc-websockets'
 * Client hands `reconnect`, `autoconnect`, ... to the WebSocket constructor): a server ignores
 * them (keeping them in `wss.options`, as ws does), setSocket() and a perMessageDeflate object
 * ignore them, a client passes them to
 * http.request / https.request as given (ResolvedClient.extra). Known keys are always checked.
 * Riptide's own option objects (heartbeat) stay strict: no code written for ws passes them, so an
 * unknown key there is a typo worth reporting.
 *
 * Of the rest of the Node layer it imports only random.ts (and types), so every module can use it.
 */
import type { EventEmitter } from 'node:events';
import type * as http from 'node:http';
import type { ClientHttp2Session, Http2SecureServer, Http2Server } from 'node:http2';
import type * as https from 'node:https';
import { UsageError, UsageRangeError, UsageSyntaxError } from '../core/errors.js';
import { ProtocolSettings } from '../core/protocol.js';
import type { RandomFill } from '../core/sender.js';
import {
  type DeflateOptions,
  normalizeDeflateOptions,
  type PerMessageDeflateOptions,
} from '../deflate/negotiation.js';
import { canonicalOrigin } from '../handshake/server.js';
import { isToken } from '../handshake/syntax.js';
import { randomFill } from './random.js';
import type { ConnectionSettings } from './transport.js';
import type { WebSocket } from './websocket.js';

/** One option: its default and its check. The type parameter is the type users pass. */
export interface OptionSpec<T> {
  /** Used when the option is not given (or given as undefined, or null where ws allows null). */
  readonly default: T | undefined;
  /** Throws a UsageError naming `name` when `value` (not undefined) is not acceptable. */
  readonly check: (value: unknown, name: string) => void;
  /** Whether null means "not given" (the options ws 8 itself defaults to null). */
  readonly nullable: boolean;
  /**
   * ws: ws 8 has this option; riptide: ours; request: passed to http.request / tls.connect as
   * given; url: decided by the URL, a given value is ignored (as in ws).
   */
  readonly origin: 'ws' | 'riptide' | 'request' | 'url';
  /** Phantom: the type of the value (never set). */
  readonly type?: T;
}

/** The option object a table describes (every option optional). */
export type OptionsOf<S> = { [K in keyof S]?: S[K] extends OptionSpec<infer T> ? T : never };

/** Options after `resolveOptions`: defaults filled in (undefined where an option has none). */
export type Resolved<S> = { readonly [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never };

function invalid(name: string, message: string): UsageError {
  return new UsageError('WS_ERR_INVALID_OPTION', `The "${name}" option ${message}`);
}

type Origin = OptionSpec<unknown>['origin'];

function spec<T>(
  check: (value: unknown, name: string) => void,
  defaultValue: T | undefined,
  origin: Origin,
  nullable = false,
): OptionSpec<T> {
  return { check, default: defaultValue, origin, nullable };
}

function integer(min: number, defaultValue: number | undefined, origin: Origin, nullable = false) {
  return spec<number>(
    (value, name) => {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
        throw invalid(name, `must be an integer >= ${min}, got ${String(value)}`);
      }
    },
    defaultValue,
    origin,
    nullable,
  );
}

/**
 * A port to listen on: an integer >= 0, or a string of decimal digits, which net.Server#listen
 * (and so ws 8) takes as that number: `{ port: process.env.PORT }`.
 */
function listenPort() {
  return spec<number | string>(
    (value, name) => {
      if (
        typeof value === 'string'
          ? /^\s*\d+\s*$/.test(value)
          : Number.isInteger(value) && (value as number) >= 0
      ) {
        return;
      }
      throw invalid(name, `must be an integer >= 0 or a string of digits, got ${String(value)}`);
    },
    undefined,
    'ws',
    true,
  );
}

function boolean(defaultValue: boolean | undefined, origin: Origin) {
  return spec<boolean>(
    (value, name) => {
      if (typeof value !== 'boolean') throw invalid(name, `must be a boolean, got ${String(value)}`);
    },
    defaultValue,
    origin,
  );
}

function func<T>(origin: Origin, nullable = false) {
  return spec<T>(
    (value, name) => {
      if (typeof value !== 'function') throw invalid(name, 'must be a function');
    },
    undefined,
    origin,
    nullable,
  );
}

function string(origin: Origin, nullable = false) {
  return spec<string>(
    (value, name) => {
      if (typeof value !== 'string') throw invalid(name, 'must be a string');
    },
    undefined,
    origin,
    nullable,
  );
}

function oneOf<T>(values: readonly T[], defaultValue: T, origin: Origin) {
  return spec<T>(
    (value, name) => {
      if (!values.includes(value as T)) throw invalid(name, `must be one of ${values.join(', ')}`);
    },
    defaultValue,
    origin,
  );
}

function object<T>(what: string, origin: Origin, nullable = false) {
  return spec<T>(
    (value, name) => {
      if (typeof value !== 'object' || value === null) throw invalid(name, `must be ${what}`);
    },
    undefined,
    origin,
    nullable,
  );
}

/** Checked by the class that uses it (its own parser validates it completely). */
function custom<T>(defaultValue: T | undefined, origin: Origin, nullable = false) {
  return spec<T>(() => {}, defaultValue, origin, nullable);
}

/** perMessageDeflate: deflate/negotiation.ts validates the whole object (and fills defaults later). */
function deflate(defaultValue: boolean) {
  return spec<boolean | PerMessageDeflateOptions>(
    (value) => {
      normalizeDeflateOptions(value, 'server');
    },
    defaultValue,
    'ws',
  );
}

/** The resolved heartbeat option: one ping round every `interval` ms, `timeout` to answer. */
export interface ResolvedHeartbeat {
  interval: number;
  timeout: number;
}

/** The longest delay setTimeout/setInterval take (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2147483647;

/** The heartbeat option (a number of ms, or { interval, timeout }), validated; null: off. */
export function parseHeartbeat(value: unknown): ResolvedHeartbeat | null {
  if (value === undefined || value === null || value === false) return null;
  let interval: unknown;
  let timeout: unknown;
  if (typeof value === 'number') {
    interval = value;
  } else if (typeof value === 'object') {
    for (const key of Object.keys(value)) {
      if (key !== 'interval' && key !== 'timeout') {
        throw new UsageError('WS_ERR_INVALID_OPTION', `Unknown heartbeat option "${key}"`);
      }
    }
    interval = (value as HeartbeatOptions).interval;
    timeout = (value as HeartbeatOptions).timeout;
  } else {
    throw invalid('heartbeat', 'must be a number or { interval, timeout }');
  }
  // At most what a Node timer takes: a longer delay is made 1 ms (TimeoutOverflowWarning), which
  // would ping every client every millisecond and terminate any that takes longer to answer.
  if (
    typeof interval !== 'number' ||
    !Number.isInteger(interval) ||
    interval < 1 ||
    interval > MAX_TIMER_MS
  ) {
    throw new UsageError(
      'WS_ERR_INVALID_OPTION',
      'heartbeat.interval must be a positive integer (ms), at most 2147483647',
    );
  }
  if (timeout === undefined) timeout = interval;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > interval) {
    throw new UsageError(
      'WS_ERR_INVALID_OPTION',
      'heartbeat.timeout must be a positive integer (ms), at most interval',
    );
  }
  return { interval, timeout };
}

/** Passed to http.request / https.request / tls.connect as given. */
function request<T = unknown>() {
  return spec<T>(() => {}, undefined, 'request');
}

// ---------------------------------------------------------------------------------------------
// Types the tables refer to

export interface VerifyClientInfo {
  /** The Origin header (Sec-WebSocket-Origin for protocol version 8). */
  origin: string | undefined;
  /** The connection is TLS. */
  secure: boolean;
  req: http.IncomingMessage;
}

export type VerifyClientSync = (info: VerifyClientInfo) => boolean;
export type VerifyClientAsync = (
  info: VerifyClientInfo,
  callback: (result: boolean, code?: number, message?: string, headers?: Record<string, string>) => void,
) => void;
/** ws's names for the two verifyClient forms. */
export type VerifyClientCallbackSync = VerifyClientSync;
export type VerifyClientCallbackAsync = VerifyClientAsync;

export interface HeartbeatOptions {
  /** Milliseconds between pings. */
  interval: number;
  /** Milliseconds a client has to answer a ping (default: interval). At most interval. */
  timeout?: number;
}

/** A class whose instances the server hands out: riptide's WebSocket or a subclass of it. */
export interface WebSocketClass {
  new (address: null, ...rest: never[]): EventEmitter;
  prototype: EventEmitter;
}

// ---------------------------------------------------------------------------------------------
// new WebSocketServer(options)

/** One table for the server; its doc comments are the documentation of each option. */
export const SERVER_OPTIONS = {
  /**
   * Listen on this port (0: any free port; a string of digits, such as `process.env.PORT`, as
   * Node's listen() takes it) with a server of our own; plain requests get 426.
   */
  port: listenPort(),
  /** The address to listen on (with `port`). */
  host: string('ws', true),
  /** The listen backlog (with `port`). */
  backlog: integer(0, undefined, 'ws', true),
  /**
   * Use an existing http.Server or https.Server (its 'upgrade' event), or an http2 server (then
   * also extended CONNECT streams, RFC 8441, docs/http2.md).
   */
  server: object<http.Server | https.Server | Http2SecureServer | Http2Server>(
    'an http.Server, https.Server or http2 server',
    'ws',
    true,
  ),
  /** Do not listen at all: call handleUpgrade() yourself. */
  noServer: boolean(false, 'ws'),
  /** Accept only this request path (the query string is ignored); others get 400. */
  path: string('ws', true),
  /** Accept or refuse a handshake: `(info) => boolean` or `(info, cb) => void`; refused: 401. */
  verifyClient: func<VerifyClientSync | VerifyClientAsync>('ws', true),
  /** Select the subprotocol among those offered; false: none. Default: the client's first. */
  handleProtocols: func<(protocols: Set<string>, req: http.IncomingMessage) => string | false>('ws', true),
  /** Keep the `clients` set. */
  clientTracking: boolean(true, 'ws'),
  /** The largest message accepted, in bytes (0: 4 GiB, the most a Buffer holds on Node 20); above it the connection closes with 1009. */
  maxPayload: integer(0, 100 * 1024 * 1024, 'ws'),
  /** The most frames one message may have (0: no limit); above it the connection closes with 1008. */
  maxFragments: integer(0, 16 * 1024, 'ws'),
  /** The most chunks of input held for one unfinished frame (0: no limit); above it, 1008. */
  maxBufferedChunks: integer(0, 256 * 1024, 'ws'),
  /** Terminate a peer once this many automatic pongs wait unwritten (0: no limit). */
  maxPendingAutoPongs: integer(0, 60, 'ws'),
  /** How long close() waits for the peer's close frame before destroying the socket, in ms. */
  closeTimeout: integer(0, 30_000, 'ws'),
  /** permessage-deflate (RFC 7692): false, true or its options. */
  perMessageDeflate: deflate(false),
  /** Do not check that text messages and close reasons are valid UTF-8. */
  skipUTF8Validation: boolean(false, 'ws'),
  /** Answer pings with pongs automatically. */
  autoPong: boolean(true, 'ws'),
  /** false: emit at most one 'message', 'ping' or 'pong' per macrotask (setImmediate between). */
  allowSynchronousEvents: boolean(true, 'ws'),
  /** The class of the WebSockets handed out: WebSocket or a subclass of it. */
  WebSocket: func<WebSocketClass>('ws'),
  /** Refuse (403) requests whose Origin is not in this list ("https://example.com", "null"). */
  allowedOrigins: spec<readonly string[]>(
    (value, name) => {
      if (!Array.isArray(value)) throw invalid(name, 'must be an array of origins');
      for (const entry of value) {
        if (canonicalOrigin(entry) === null) {
          throw invalid(
            name,
            `has ${JSON.stringify(entry)}, which is not an origin (e.g. "https://example.com:8443")`,
          );
        }
      }
    },
    undefined,
    'riptide',
    true,
  ),
  /** Destroy sockets that did not complete the upgrade within this many ms (0: never). */
  handshakeTimeout: integer(0, 10_000, 'riptide'),
  /** Ping every client every `interval` ms; terminate those that did not answer in `timeout`. */
  heartbeat: spec<number | HeartbeatOptions>(
    (value) => {
      parseHeartbeat(value);
    },
    undefined,
    'riptide',
    true,
  ),
  /** publish(): bytes a socket may have buffered before onBackpressure applies (0: no limit). */
  maxBackpressure: integer(0, 16 * 1024 * 1024, 'riptide'),
  /** What publish() does with a socket above maxBackpressure: close it, or skip it (its messages are lost). */
  onBackpressure: oneOf(['skip', 'close'] as const, 'close', 'riptide'),
  /** The close code onBackpressure 'close' uses. */
  backpressureCloseCode: oneOf([1008, 1013] as const, 1008, 'riptide'),
} satisfies Record<string, OptionSpec<unknown>>;

// ---------------------------------------------------------------------------------------------
// new WebSocket(url, protocols, options)

/** One table for the client; its doc comments are the documentation of each option. */
export const CLIENT_OPTIONS = {
  /** Subprotocols to offer when the `protocols` argument is not given. */
  protocols: spec<string | string[]>(
    (value, name) => {
      if (typeof value !== 'string' && !Array.isArray(value))
        throw invalid(name, 'must be a string or an array');
    },
    undefined,
    'ws',
  ),
  /** Extra request headers. */
  headers: object<Record<string, string>>('an object of header values', 'ws'),
  /** The Origin header (Sec-WebSocket-Origin with protocolVersion 8). */
  origin: string('ws'),
  /** Fail the connection if the opening handshake takes longer, in ms (default: no limit). */
  handshakeTimeout: integer(0, undefined, 'ws'),
  /** The largest message accepted, in bytes (0: 4 GiB, the most a Buffer holds on Node 20); above it the connection closes with 1009. */
  maxPayload: integer(0, 100 * 1024 * 1024, 'ws'),
  /** The most frames one message may have (0: no limit); above it the connection closes with 1008. */
  maxFragments: integer(0, 16 * 1024, 'ws'),
  /** The most chunks of input held for one unfinished frame (0: no limit); above it, 1008. */
  maxBufferedChunks: integer(0, 256 * 1024, 'ws'),
  /** Terminate the connection once this many automatic pongs wait unwritten (0: no limit). */
  maxPendingAutoPongs: integer(0, 60, 'ws'),
  /** How long close() waits for the server's close frame before destroying the socket, in ms. */
  closeTimeout: integer(0, 30_000, 'ws'),
  /** permessage-deflate (RFC 7692): false, true or its options (offered by default). */
  perMessageDeflate: deflate(true),
  /** Follow 3xx redirects (credentials go only to the same host, never from wss: to ws:). */
  followRedirects: boolean(false, 'ws'),
  /** The most redirects followed. */
  maxRedirects: integer(0, 10, 'ws'),
  /** The Sec-WebSocket-Version sent: 13 (RFC 6455) or 8 (hybi-17); another number throws. */
  protocolVersion: spec<number>(
    (value) => {
      // ws 8 speaks 13 (RFC 6455) and 8 (the hybi-17 draft: same framing, Sec-WebSocket-Origin).
      if (value !== 13 && value !== 8) {
        throw new UsageRangeError(
          'WS_ERR_INVALID_OPTION',
          `Unsupported protocol version: ${String(value)} (supported versions: 8, 13)`,
        );
      }
    },
    13,
    'ws',
  ),
  /** Do not check that text messages and close reasons are valid UTF-8. */
  skipUTF8Validation: boolean(false, 'ws'),
  /** Answer pings with pongs automatically. */
  autoPong: boolean(true, 'ws'),
  /** false: emit at most one 'message', 'ping' or 'pong' per macrotask (setImmediate between). */
  allowSynchronousEvents: boolean(true, 'ws'),
  /** Fills the 4-byte masking key of each frame (default: the CSPRNG). */
  generateMask: func<(mask: Buffer) => void>('ws'),
  /** Called with the request before it is sent; it must call request.end(). */
  finishRequest: func<(request: http.ClientRequest, websocket: WebSocket) => void>('ws'),
  /** Open the WebSocket as a stream of a pooled HTTP/2 connection (RFC 8441), else HTTP/1.1. */
  http2: boolean(undefined, 'riptide'),
  /** Open the WebSocket as a stream of this HTTP/2 session (no HTTP/1.1 fallback). */
  http2Session: spec<ClientHttp2Session>(
    (value, name) => {
      if (typeof (value as { request?: unknown } | null)?.request !== 'function') {
        throw invalid(name, 'must be a ClientHttp2Session (from http2.connect)');
      }
    },
    undefined,
    'riptide',
  ),
  // http.request / https.request / net.connect / tls.connect options, passed through.
  agent: request<http.Agent | boolean>(),
  auth: request<string>(),
  createConnection: request(),
  defaultPort: request<number>(),
  family: request<number>(),
  hints: request<number>(),
  insecureHTTPParser: request<boolean>(),
  joinDuplicateHeaders: request<boolean>(),
  localAddress: request<string>(),
  localPort: request<number>(),
  lookup: request(),
  maxHeaderSize: request<number>(),
  setHost: request<boolean>(),
  signal: request<AbortSignal>(),
  uniqueHeaders: request<Array<string | string[]>>(),
  noDelay: request<boolean>(),
  keepAlive: request<boolean>(),
  keepAliveInitialDelay: request<number>(),
  autoSelectFamily: request<boolean>(),
  autoSelectFamilyAttemptTimeout: request<number>(),
  highWaterMark: request<number>(),
  ca: request(),
  cert: request(),
  key: request(),
  pfx: request(),
  passphrase: request<string>(),
  crl: request(),
  ciphers: request<string>(),
  ecdhCurve: request<string>(),
  dhparam: request(),
  honorCipherOrder: request<boolean>(),
  minVersion: request<string>(),
  maxVersion: request<string>(),
  secureOptions: request<number>(),
  secureProtocol: request<string>(),
  secureContext: request(),
  sessionIdContext: request<string>(),
  sigalgs: request<string>(),
  privateKeyEngine: request<string>(),
  privateKeyIdentifier: request<string>(),
  clientCertEngine: request<string>(),
  servername: request<string>(),
  rejectUnauthorized: request<boolean>(),
  checkServerIdentity: request(),
  ALPNProtocols: request(),
  session: request<Buffer>(),
  minDHSize: request<number>(),
  pskCallback: request(),
  enableTrace: request<boolean>(),
  requestOCSP: request<boolean>(),
  // Decided by the URL (as in ws, given values are ignored): accepted so code written for ws runs.
  host: custom<string>(undefined, 'url'),
  hostname: custom<string>(undefined, 'url'),
  port: custom<number | string>(undefined, 'url'),
  path: custom<string>(undefined, 'url'),
  socketPath: custom<string>(undefined, 'url'),
  method: custom<string>(undefined, 'url'),
  protocol: custom<string>(undefined, 'url'),
  timeout: custom<number>(undefined, 'url'),
} satisfies Record<string, OptionSpec<unknown>>;

/** The validated options of one client connection (client.ts, http2-client.ts). */
export interface ResolvedClient {
  opts: Resolved<typeof CLIENT_OPTIONS>;
  /**
   * The given keys CLIENT_OPTIONS does not have, as given: ws 8 spreads every option into the
   * object it hands http.request, so these reach node (and a `createConnection` or `agent`).
   */
  extra: Readonly<Record<string, unknown>>;
  protocols: string[];
  deflate: false | DeflateOptions;
  random: RandomFill;
}

/**
 * A client's options (checked against CLIENT_OPTIONS, defaults filled in) and its subprotocols:
 * the `protocols` argument, or ws's `protocols` option when the argument is left out.
 */
export function resolveClientOptions(
  options: OptionsOf<typeof CLIENT_OPTIONS> | undefined,
  protocols: string | string[] | undefined,
): ResolvedClient {
  // No prototype: a "__proto__" key given (JSON.parse makes one) is kept as a key, as ws's spread keeps it.
  const extra: Record<string, unknown> = Object.create(null);
  const opts = resolveOptions(CLIENT_OPTIONS, options, 'WebSocket', extra);
  // But not passed on: node:http copies its options with Object.assign, whose "__proto__" setter
  // would make that key's value the prototype of node's copy, and every field the handshake does
  // not set itself would then be read from it unchecked (`hostname`, which wins over the URL's
  // host, `setHost`, `rejectUnauthorized`...). node has no "__proto__" option to lose.
  Reflect.deleteProperty(extra, '__proto__');
  // ws 8: the `protocols` option stands in for a missing `protocols` argument.
  if (protocols === undefined) protocols = opts.protocols;
  const list: unknown[] = protocols === undefined ? [] : Array.isArray(protocols) ? protocols : [protocols];
  const seen = new Set<string>();
  for (const p of list) {
    // RFC 6455 4.1: subprotocol values "MUST be non-empty strings with characters in the
    // range U+0021 to U+007E not including separator characters" and "MUST all be unique".
    // WHATWG WebSockets, new WebSocket(): a SyntaxError when a value "occurs more than once",
    // and the web-platform-tests count 'a' and 'A' as the same value (ASCII case-insensitive).
    if (typeof p !== 'string' || !isToken(p) || seen.has(p.toLowerCase())) {
      throw new UsageSyntaxError(
        'WS_ERR_INVALID_PROTOCOL',
        'An invalid or duplicated subprotocol was specified',
      );
    }
    seen.add(p.toLowerCase());
  }
  return {
    opts,
    extra,
    protocols: list as string[],
    deflate: normalizeDeflateOptions(opts.perMessageDeflate, 'client') ?? false,
    random: maskSource(opts.generateMask),
  };
}

/** A client's masking randomness: ws's `generateMask` option if given, else the default. */
function maskSource(generateMask: ((mask: Buffer) => void) | undefined): RandomFill {
  if (generateMask === undefined) return randomFill;
  // ws calls generateMask with one 4-byte buffer per connection, reused for every frame.
  const mask = Buffer.alloc(4);
  return (target, offset) => {
    generateMask(mask);
    mask.copy(target, offset);
  };
}

/** The options of ws 8's `WebSocket#setSocket(socket, head, options)` (websocket.ts). */
const SET_SOCKET_OPTIONS = {
  maxPayload: SERVER_OPTIONS.maxPayload,
  skipUTF8Validation: SERVER_OPTIONS.skipUTF8Validation,
  allowSynchronousEvents: SERVER_OPTIONS.allowSynchronousEvents,
  generateMask: CLIENT_OPTIONS.generateMask,
};

/**
 * The settings of a connection started with `setSocket()`: its four options (ws's) over the
 * defaults, the other connection options at theirs. Other keys are ignored, as ws 8 ignores them.
 */
export function setSocketSettings(given: unknown, role: 'client' | 'server'): ConnectionSettings {
  const o = resolveOptions(SET_SOCKET_OPTIONS, given, 'setSocket');
  const d = SERVER_OPTIONS;
  return connectionSettings(
    {
      closeTimeout: d.closeTimeout.default!,
      maxPendingAutoPongs: d.maxPendingAutoPongs.default!,
      maxFragments: d.maxFragments.default!,
      maxBufferedChunks: d.maxBufferedChunks.default!,
      autoPong: d.autoPong.default!,
      maxPayload: o.maxPayload,
      skipUTF8Validation: o.skipUTF8Validation,
      allowSynchronousEvents: o.allowSynchronousEvents,
    },
    role,
    role === 'client' ? maskSource(o.generateMask) : undefined,
  );
}

/** The options passed to http.request as given (the others are the client's own or decided by the URL). */
export const REQUEST_PASS_THROUGH: ReadonlySet<string> = new Set(
  Object.entries(CLIENT_OPTIONS)
    .filter(([, entry]) => entry.origin === 'request')
    .map(([name]) => name),
);

/**
 * Check `given` against `schema` and fill in the defaults. Keys the schema does not have are
 * ignored, as ws 8 ignores them, or copied into `unknown` when it is given (a client passes them
 * to http.request, a server keeps them in `wss.options`).
 */
export function resolveOptions<S extends Record<string, OptionSpec<unknown>>>(
  schema: S,
  given: unknown,
  what: string,
  unknown?: Record<string, unknown>,
): Resolved<S> {
  if (given === undefined || given === null) given = {};
  if (typeof given !== 'object')
    throw new UsageError('WS_ERR_INVALID_OPTION', `${what} options must be an object`);
  const options = given as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(options)) {
    const entry = schema[key];
    const value = options[key];
    if (entry === undefined || !Object.hasOwn(schema, key)) {
      if (unknown !== undefined) unknown[key] = value;
      continue;
    }
    if (value === undefined || (value === null && entry.nullable)) continue;
    entry.check(value, key);
    out[key] = value;
  }
  for (const key of Object.keys(schema)) if (!(key in out)) out[key] = schema[key].default;
  return out as Resolved<S>;
}

/** The options a connection runs with (both tables have them, with the same defaults). */
type ConnectionOptions = Pick<
  Resolved<typeof SERVER_OPTIONS>,
  | 'closeTimeout'
  | 'maxPendingAutoPongs'
  | 'allowSynchronousEvents'
  | 'maxPayload'
  | 'maxFragments'
  | 'maxBufferedChunks'
  | 'skipUTF8Validation'
  | 'autoPong'
>;

/**
 * The settings of a connection from resolved options: built once per server (and shared by its
 * connections) or once per client connection. A client passes its masking randomness.
 */
export function connectionSettings(
  o: ConnectionOptions,
  role: 'client' | 'server',
  randomFill?: RandomFill,
): ConnectionSettings {
  return {
    closeTimeout: o.closeTimeout,
    maxPendingAutoPongs: o.maxPendingAutoPongs,
    allowSynchronousEvents: o.allowSynchronousEvents,
    protocol: new ProtocolSettings({
      role,
      maxPayload: o.maxPayload,
      maxFragments: o.maxFragments,
      maxBufferedChunks: o.maxBufferedChunks,
      skipUtf8Validation: o.skipUTF8Validation,
      autoPong: o.autoPong,
      randomFill,
    }),
  };
}
