/**
 * RFC 7692 permessage-deflate negotiation: options, the client's offer, the server's choice and
 * response, and the client's check of that response. Pure functions, no zlib.
 *
 * Theory of operation.
 *
 *   client                                         server
 *   createOffer(options) ──Sec-WebSocket-Extensions──> negotiateAsServer(parsed offers, options)
 *                                                       first acceptable offer wins (the client
 *                                                       lists them in its order of preference);
 *                                                       bad offers are DECLINED, never a 4xx
 *   acceptAsClient(parsed response, options) <──────── response header value, or none
 *   -> DeflateParams | null (not accepted) | HandshakeError (fail the connection)
 *
 * Both sides end with the same `DeflateParams`, from which each side derives what it compresses
 * with and what it decompresses with (see codec.ts).
 *
 * The parameter table (RFC 7692 7.1), and where each may appear:
 *
 *   parameter                   offer                 response
 *   server_no_context_takeover  no value              no value
 *   client_no_context_takeover  no value              no value
 *   server_max_window_bits      8..15                 8..15
 *   client_max_window_bits      no value, or 8..15    8..15, only if offered
 *
 * The `perMessageDeflate` option follows ws 8: false | true | an object; servers default to off,
 * clients to on. In the object, booleans are tri-state: `undefined` accepts what the peer asks for,
 * `true` requests/imposes the parameter, `false` refuses it.
 */
import { type HandshakeError, UsageError } from '../core/errors.js';
import { clientHandshakeError } from '../handshake/errors.js';

/** One element of a parsed Sec-WebSocket-Extensions header (the handshake parser's shape). */
export interface ExtensionOffer {
  name: string;
  params: Array<[string, string | true]>;
}

/** The zlib options riptide accepts for compression (ws's `zlibDeflateOptions`). */
export interface ZlibDeflateOptions {
  /** -1..9; default -1 (zlib's default, 6). */
  level?: number;
  /** 1..9; default 8. The match finder uses 2^(memLevel + 9) bytes. */
  memLevel?: number;
  /** zlib strategy 0..4; default 0 (Z_DEFAULT_STRATEGY). */
  strategy?: number;
  /** Output granularity in bytes, >= 64; default 16384. */
  chunkSize?: number;
}

/** The zlib options riptide accepts for decompression (ws's `zlibInflateOptions`). */
export interface ZlibInflateOptions {
  /** Output granularity in bytes, >= 64; default 16384. */
  chunkSize?: number;
}

/** The `perMessageDeflate` option object (ws 8 compatible). */
export interface PerMessageDeflateOptions {
  /** Server: true or undefined (the default) = always answer server_no_context_takeover;
   *  false = keep context takeover and decline offers asking for it (ws's default).
   *  Client: true = ask the server not to take over its context. */
  serverNoContextTakeover?: boolean;
  /** Server: true = always require the client not to take over context.
   *  Client: true = promise (and offer) not to take over context. */
  clientNoContextTakeover?: boolean;
  /** Server: a number caps the window the server compresses with; false declines offers that set
   *  server_max_window_bits. Client: a number asks the server for at most that window. */
  serverMaxWindowBits?: boolean | number;
  /** Server: a number caps the client's window (offers without client_max_window_bits are then
   *  declined); false never sets it. Client: a number offers that cap; true/undefined offers the
   *  parameter without a value; false does not offer it. */
  clientMaxWindowBits?: boolean | number;
  zlibDeflateOptions?: ZlibDeflateOptions;
  zlibInflateOptions?: ZlibInflateOptions;
  /**
   * Messages shorter than this many bytes are sent uncompressed when our side has no context
   * takeover; with context takeover every message is compressed (as ws 8 does). Default 1024.
   */
  threshold?: number;
  /** Upper bound of idle pooled zlib contexts kept per configuration (see codec.ts). Default 10. */
  concurrencyLimit?: number;
}

/** The `perMessageDeflate` option, validated, with defaults applied. */
export interface DeflateOptions {
  serverNoContextTakeover: boolean | undefined;
  clientNoContextTakeover: boolean | undefined;
  serverMaxWindowBits: boolean | number | undefined;
  clientMaxWindowBits: boolean | number | undefined;
  deflate: Required<ZlibDeflateOptions>;
  inflate: Required<ZlibInflateOptions>;
  threshold: number;
  concurrencyLimit: number;
}

/** What both ends agreed on (RFC 7692 7.1: the "agreed parameters"). */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** 8..15; 15 when the response did not set it. */
  serverMaxWindowBits: number;
  /** 8..15; 15 when the response did not set it. */
  clientMaxWindowBits: number;
}

export const EXTENSION_NAME = 'permessage-deflate';

function optionError(key: string, message: string): UsageError {
  return new UsageError('WS_ERR_INVALID_OPTION', `Invalid perMessageDeflate option "${key}": ${message}`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function optionalBoolean(obj: Record<string, unknown>, key: string): boolean | undefined {
  const value = obj[key];
  if (value === undefined || typeof value === 'boolean') return value;
  throw optionError(key, 'must be a boolean');
}

function windowBitsOption(obj: Record<string, unknown>, key: string): boolean | number | undefined {
  const value = obj[key];
  if (value === undefined || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 8 && value <= 15) return value;
  throw optionError(key, 'must be a boolean or an integer from 8 to 15');
}

function integerOption(
  obj: Record<string, unknown>,
  key: string,
  prefix: string,
  min: number,
  max: number,
  fallback: number,
): number {
  const value = obj[key];
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  throw optionError(`${prefix}${key}`, `must be an integer from ${min} to ${max}`);
}

/**
 * A number compared with a count (`threshold`, `concurrencyLimit`): ws 8 only compares it, so any
 * number at or above `min` has a meaning there, Infinity and fractions included (`threshold:
 * Infinity` never compresses without context takeover, `concurrencyLimit: Infinity` sets no
 * bound); NaN, which no comparison holds for, and other types are refused.
 */
function countOption(obj: Record<string, unknown>, key: string, min: number, fallback: number): number {
  const value = obj[key];
  if (value === undefined) return fallback;
  if (typeof value === 'number' && value >= min) return value;
  throw optionError(
    key,
    min === Number.NEGATIVE_INFINITY ? 'must be a number' : `must be a number >= ${min}`,
  );
}

/**
 * Validates the `perMessageDeflate` option at the API boundary. Returns null when compression is
 * off. `undefined` means the role's default: off for servers, on for clients (like ws).
 * Throws UsageError on anything else than false | true | a valid options object. Keys it does not
 * know are ignored, in the object and in its zlib option objects, as ws 8 ignores them (ws hands
 * the zlib objects to zlib with its own windowBits; ours use level, memLevel, strategy and
 * chunkSize only, since pooled contexts are shared by every connection with the same settings).
 */
export function normalizeDeflateOptions(value: unknown, role: 'server' | 'client'): DeflateOptions | null {
  if (value === undefined) value = role === 'client';
  if (value === false) return null;
  if (value === true) value = {};
  if (!isPlainObject(value)) {
    throw new UsageError(
      'WS_ERR_INVALID_OPTION',
      'Invalid option "perMessageDeflate": must be a boolean or an options object',
    );
  }
  const obj = value;
  const zd = obj.zlibDeflateOptions ?? {};
  const zi = obj.zlibInflateOptions ?? {};
  if (!isPlainObject(zd)) throw optionError('zlibDeflateOptions', 'must be an object');
  if (!isPlainObject(zi)) throw optionError('zlibInflateOptions', 'must be an object');
  return {
    serverNoContextTakeover: optionalBoolean(obj, 'serverNoContextTakeover'),
    clientNoContextTakeover: optionalBoolean(obj, 'clientNoContextTakeover'),
    serverMaxWindowBits: windowBitsOption(obj, 'serverMaxWindowBits'),
    clientMaxWindowBits: windowBitsOption(obj, 'clientMaxWindowBits'),
    deflate: {
      level: integerOption(zd, 'level', 'zlibDeflateOptions.', -1, 9, -1),
      memLevel: integerOption(zd, 'memLevel', 'zlibDeflateOptions.', 1, 9, 8),
      strategy: integerOption(zd, 'strategy', 'zlibDeflateOptions.', 0, 4, 0),
      chunkSize: integerOption(zd, 'chunkSize', 'zlibDeflateOptions.', 64, 1 << 30, 16 * 1024),
    },
    inflate: {
      chunkSize: integerOption(zi, 'chunkSize', 'zlibInflateOptions.', 64, 1 << 30, 16 * 1024),
    },
    threshold: countOption(obj, 'threshold', Number.NEGATIVE_INFINITY, 1024),
    concurrencyLimit: countOption(obj, 'concurrencyLimit', 1, 10),
  };
}

/** The parameters of one permessage-deflate element, parsed and checked against RFC 7692 7.1. */
export interface ParsedDeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true`: present without a value (allowed in an offer only). */
  clientMaxWindowBits: number | true | undefined;
}

// RFC 7692 7.1.2.1/7.1.2.2: "a decimal integer value without leading zeroes between 8 to 15, inclusive"
const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

/**
 * Parses one element's parameters. Returns a string saying what is wrong when the element breaks
 * RFC 7692 7.1 (unknown name, duplicate, invalid or missing value); `where` is 'offer' or
 * 'response' because client_max_window_bits may lack a value only in an offer.
 */
export function parseDeflateParams(
  params: ReadonlyArray<readonly [string, string | true]>,
  where: 'offer' | 'response',
): ParsedDeflateParams | string {
  const parsed: ParsedDeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [rawName, value] of params) {
    const name = rawName.toLowerCase();
    if (seen.has(name)) return `duplicate parameter ${name}`;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) return `${name} must not have a value`;
        if (name === 'server_no_context_takeover') parsed.serverNoContextTakeover = true;
        else parsed.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        if (value === true || !WINDOW_BITS.test(value)) {
          return `${name} must be an integer from 8 to 15 without leading zeros`;
        }
        parsed.serverMaxWindowBits = Number(value);
        break;
      case 'client_max_window_bits':
        if (value === true) {
          if (where === 'response') return `${name} must have a value in a response`;
          parsed.clientMaxWindowBits = true;
        } else if (!WINDOW_BITS.test(value)) {
          return `${name} must be an integer from 8 to 15 without leading zeros`;
        } else {
          parsed.clientMaxWindowBits = Number(value);
        }
        break;
      default:
        return `unknown parameter ${JSON.stringify(rawName)}`;
    }
  }
  return parsed;
}

/** Formats one header element: `permessage-deflate; name; name=value`. */
function formatElement(params: Array<[string, string | true]>): string {
  let out = EXTENSION_NAME;
  for (const [name, value] of params) out += value === true ? `; ${name}` : `; ${name}=${value}`;
  return out;
}

/** The client's Sec-WebSocket-Extensions offer for these options. */
export function createOffer(options: DeflateOptions): string {
  const params: Array<[string, string | true]> = [];
  if (options.serverNoContextTakeover === true) params.push(['server_no_context_takeover', true]);
  if (options.clientNoContextTakeover === true) params.push(['client_no_context_takeover', true]);
  if (typeof options.serverMaxWindowBits === 'number') {
    params.push(['server_max_window_bits', String(options.serverMaxWindowBits)]);
  }
  if (typeof options.clientMaxWindowBits === 'number') {
    params.push(['client_max_window_bits', String(options.clientMaxWindowBits)]);
  } else if (options.clientMaxWindowBits !== false) {
    // RFC 7692 7.1.2.2: without a value it tells the server we support a window limit.
    params.push(['client_max_window_bits', true]);
  }
  return formatElement(params);
}

/** Outcome of the server's negotiation. */
export type ServerNegotiation =
  | { params: DeflateParams; response: string; declined: string[] }
  | { params: null; response: null; declined: string[] };

/**
 * Server: picks the first acceptable permessage-deflate offer in `extensions` (other extensions
 * are ignored) and builds the response element. `declined` explains every offer not taken,
 * for logs; declining is never an error (the connection proceeds uncompressed).
 */
export function negotiateAsServer(
  extensions: readonly ExtensionOffer[],
  options: DeflateOptions,
): ServerNegotiation {
  const declined: string[] = [];
  for (const ext of extensions) {
    if (ext.name.toLowerCase() !== EXTENSION_NAME) continue;
    const offer = parseDeflateParams(ext.params, 'offer');
    // RFC 7692 7.1: "A server MUST decline an extension negotiation offer for this extension if
    // ... [it] contains an extension parameter not defined for use in an offer ... with an invalid
    // value ... multiple extension parameters with the same name ... [or] the server doesn't
    // support the offered configuration."
    if (typeof offer === 'string') {
      declined.push(offer);
      continue;
    }
    const accepted = acceptOffer(offer, options);
    if (typeof accepted === 'string') {
      declined.push(accepted);
      continue;
    }
    return { ...accepted, declined };
  }
  return { params: null, response: null, declined };
}

function acceptOffer(
  offer: ParsedDeflateParams,
  options: DeflateOptions,
): { params: DeflateParams; response: string } | string {
  if (offer.serverNoContextTakeover && options.serverNoContextTakeover === false) {
    return 'server_no_context_takeover offered but disabled by serverNoContextTakeover: false';
  }
  if (offer.serverMaxWindowBits !== undefined && options.serverMaxWindowBits === false) {
    return 'server_max_window_bits offered but disabled by serverMaxWindowBits: false';
  }
  if (typeof options.clientMaxWindowBits === 'number' && offer.clientMaxWindowBits === undefined) {
    // RFC 7692 7.1.2.2: "If a received extension negotiation offer doesn't have the
    // "client_max_window_bits" extension parameter, the corresponding extension negotiation
    // response to the offer MUST NOT include the "client_max_window_bits" extension parameter."
    return 'clientMaxWindowBits is set but the offer lacks client_max_window_bits';
  }
  // RFC 7692 7.1.1.1/7.1.1.2: the server MAY add either no_context_takeover parameter even if
  // the offer lacks it; accepting an offer with server_no_context_takeover means echoing it.
  // Riptide's server default (serverNoContextTakeover undefined) adds server_no_context_takeover:
  // every connection then shares a pooled deflater instead of keeping its own 2^(windowBits+2) +
  // 2^(memLevel+9) bytes (about 256 KiB with zlib's defaults) for as long as it is open, and each
  // message costs less CPU (no search through the previous messages' window). Measured in
  // bench/deflate-memory.mjs and scenario 7 of bench/run.mjs; docs/deflate.md has the trade-off.
  // `serverNoContextTakeover: false` restores ws's behaviour (context takeover, and offers that
  // ask for server_no_context_takeover are declined).
  const serverNoContextTakeover = offer.serverNoContextTakeover || options.serverNoContextTakeover !== false;
  const clientNoContextTakeover = offer.clientNoContextTakeover || options.clientNoContextTakeover === true;

  // RFC 7692 7.1.2.1: the response carries server_max_window_bits "with the same or smaller value
  // as the offer"; the server MAY set it when the offer did not.
  let serverBits = offer.serverMaxWindowBits;
  if (typeof options.serverMaxWindowBits === 'number') {
    serverBits = Math.min(options.serverMaxWindowBits, serverBits ?? 15);
  }
  // RFC 7692 7.1.2.2: client_max_window_bits only if offered; a value in the offer is a hint we
  // echo (so our inflater allocates no more than the client will use) unless we cap it lower.
  let clientBits: number | undefined;
  if (typeof options.clientMaxWindowBits === 'number') {
    const hint = offer.clientMaxWindowBits;
    clientBits = Math.min(options.clientMaxWindowBits, typeof hint === 'number' ? hint : 15);
  } else if (options.clientMaxWindowBits !== false && typeof offer.clientMaxWindowBits === 'number') {
    clientBits = offer.clientMaxWindowBits;
  }

  const params: Array<[string, string | true]> = [];
  if (serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  if (clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
  if (serverBits !== undefined) params.push(['server_max_window_bits', String(serverBits)]);
  if (clientBits !== undefined) params.push(['client_max_window_bits', String(clientBits)]);
  return {
    params: {
      serverNoContextTakeover,
      clientNoContextTakeover,
      serverMaxWindowBits: serverBits ?? 15,
      clientMaxWindowBits: clientBits ?? 15,
    },
    response: formatElement(params),
  };
}

function responseError(detail: string): HandshakeError {
  return clientHandshakeError('WS_ERR_HANDSHAKE_EXTENSION_RESPONSE', detail);
}

/**
 * Client: checks the server's Sec-WebSocket-Extensions (parsed) against what `createOffer(options)`
 * offered (`options` null: nothing was offered). Returns the agreed parameters, null if the server
 * did not accept permessage-deflate, or a HandshakeError: the caller fails the connection.
 */
export function acceptAsClient(
  extensions: readonly ExtensionOffer[],
  options: DeflateOptions | null,
): DeflateParams | null | HandshakeError {
  let element: ExtensionOffer | undefined;
  for (const ext of extensions) {
    // RFC 6455 9.1: the server's response may only name extensions the client offered.
    if (ext.name.toLowerCase() !== EXTENSION_NAME || options === null) {
      return clientHandshakeError(
        'WS_ERR_HANDSHAKE_UNREQUESTED_EXTENSION',
        `the server accepted the extension "${ext.name}" that was not offered`,
      );
    }
    if (element !== undefined) return responseError(`${EXTENSION_NAME} appears more than once`);
    element = ext;
  }
  if (element === undefined || options === null) return null;
  // RFC 7692 7.1: "A client MUST _Fail the WebSocket Connection_ if the peer server accepted an
  // extension negotiation offer for this extension with an extension negotiation response meeting
  // any of the following conditions: [an undefined, invalid or duplicate parameter, or] The
  // client does not support the configuration that the response represents."
  const r = parseDeflateParams(element.params, 'response');
  if (typeof r === 'string') return responseError(r);
  if (options.serverNoContextTakeover === true && !r.serverNoContextTakeover) {
    return responseError('server_no_context_takeover was requested but not accepted');
  }
  if (typeof options.serverMaxWindowBits === 'number') {
    // RFC 7692 7.1.2.1: accepting our server_max_window_bits means answering it with the same or
    // a smaller value.
    if (r.serverMaxWindowBits === undefined) {
      return responseError('server_max_window_bits was requested but not accepted');
    }
    if (r.serverMaxWindowBits > options.serverMaxWindowBits) {
      return responseError(
        `server_max_window_bits=${r.serverMaxWindowBits} is above the offered ${options.serverMaxWindowBits}`,
      );
    }
  }
  if (r.clientMaxWindowBits !== undefined && options.clientMaxWindowBits === false) {
    // RFC 7692 7.1.2.2: the response MUST NOT include it when the offer did not.
    return responseError('client_max_window_bits was not offered');
  }
  // Our offered value is a promise (RFC 7692 7.1.2.2): we keep it even if the server answers more.
  const offeredClientBits =
    typeof options.clientMaxWindowBits === 'number' ? options.clientMaxWindowBits : 15;
  const responseClientBits = typeof r.clientMaxWindowBits === 'number' ? r.clientMaxWindowBits : 15;
  return {
    serverNoContextTakeover: r.serverNoContextTakeover,
    // Offering client_no_context_takeover promises not to use context takeover (RFC 7692 7.1.1.2).
    clientNoContextTakeover: r.clientNoContextTakeover || options.clientNoContextTakeover === true,
    serverMaxWindowBits: r.serverMaxWindowBits ?? 15,
    clientMaxWindowBits: Math.min(offeredClientBits, responseClientBits),
  };
}
