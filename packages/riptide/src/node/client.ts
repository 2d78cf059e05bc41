/**
 * Outgoing connections: new WebSocket('ws://...' | 'wss://...').
 *
 * The opening handshake (RFC 6455 4.1) goes through http.request / https.request and its
 * 'upgrade' event, which brings for free: agents, proxies via agents, TLS options, lookup,
 * createConnection, and an 'unexpected-response' (req, res) for non-101 answers. The 101
 * response is checked by ../handshake/client.ts (Sec-WebSocket-Accept, subprotocol), then the
 * upgraded socket is handed to the WebSocket and the core takes over.
 *
 * Failures during the handshake are reported as 'error' (only if listened to: a failed
 * connection never crashes the process) followed by 'close' with 1006.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import * as http from 'node:http';
import type { ClientHttp2Session } from 'node:http2';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { HandshakeError, UsageError } from '../core/errors.js';
import type { PerMessageExtension } from '../core/extension.js';
import { ProtocolSettings } from '../core/protocol.js';
import type { RandomFill } from '../core/sender.js';
import { PerMessageDeflate } from '../deflate/codec.js';
import { acceptAsClient, createOffer, type DeflateOptions } from '../deflate/negotiation.js';
import { syncZlibSupported } from '../deflate/zlib-sync.js';
import { generateKey } from '../handshake/accept.js';
import { validateUpgradeResponse } from '../handshake/client.js';
import type { ExtensionList } from '../handshake/header-lists.js';
import { isToken } from '../handshake/syntax.js';
import { connectHttp2 } from './http2-client.js';
import { randomFill } from './random.js';
import { TLS_KEYS } from './tls-keys.js';
import { abortTransport } from './transport.js';
import type { WebSocket } from './websocket.js';
import {
  checkPerMessageDeflate,
  DEFAULT_MAX_PENDING_AUTO_PONGS,
  type PerMessageDeflateOptions,
} from './websocket-server.js';

export interface ClientOptions {
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** The Origin header. */
  origin?: string;
  /** Fail the connection if the handshake takes longer (ms). Default: no limit. */
  handshakeTimeout?: number;
  /** Largest message accepted, in bytes (default 100 MiB; 0: as large as a Buffer can be). Above: close 1009. */
  maxPayload?: number;
  /** permessage-deflate offer; default true (offered) for clients, like ws. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Follow 3xx redirects (default false), at most maxRedirects (default 10). */
  followRedirects?: boolean;
  maxRedirects?: number;
  /** The Sec-WebSocket-Version to send: 13 (RFC 6455, the default) or 8 (hybi-17). */
  protocolVersion?: 8 | 13;
  skipUTF8Validation?: boolean;
  /** Answer pings automatically (default true). */
  autoPong?: boolean;
  /**
   * Terminate the connection once this many automatic pongs wait unwritten because the server
   * does not read (default 60, as ws; 0: no limit).
   */
  maxPendingAutoPongs?: number;
  /** How long close() waits for the server before destroying the socket, in ms (default 30000). */
  closeTimeout?: number;
  /** Custom masking key source: fills the 4-byte buffer it is given. */
  generateMask?: (mask: Buffer) => void;
  /** Accepted for ws compatibility; riptide always emits events synchronously. */
  allowSynchronousEvents?: boolean;
  /** Called with the request before it is sent; it must call request.end(). */
  finishRequest?: (request: ClientRequest, websocket: WebSocket) => void;
  /**
   * Open the WebSocket as a stream of an HTTP/2 connection (RFC 8441), shared with the other
   * WebSockets to the same origin; HTTP/1.1 is used when the server does not offer it.
   */
  http2?: boolean;
  /** Open the WebSocket as a stream of this HTTP/2 session (no HTTP/1.1 fallback). */
  http2Session?: ClientHttp2Session;
  // http.request / https.request / tls.connect options passed through:
  agent?: http.Agent | boolean;
  auth?: string;
  createConnection?: unknown;
  family?: number;
  host?: string;
  hostname?: string;
  localAddress?: string;
  lookup?: unknown;
  port?: number;
  servername?: string;
  ca?: unknown;
  cert?: unknown;
  key?: unknown;
  pfx?: unknown;
  passphrase?: string;
  rejectUnauthorized?: boolean;
  checkServerIdentity?: unknown;
  ciphers?: string;
  minVersion?: string;
  maxVersion?: string;
  secureContext?: unknown;
  ALPNProtocols?: unknown;
  session?: Buffer;
  timeout?: number;
  signal?: AbortSignal;
  socketPath?: string;
  [key: string]: unknown;
}

/** Options of riptide itself; everything else must be an http/https/tls request option. */
const OWN_KEYS = new Set([
  'headers',
  'origin',
  'handshakeTimeout',
  'maxPayload',
  'perMessageDeflate',
  'followRedirects',
  'maxRedirects',
  'protocolVersion',
  'skipUTF8Validation',
  'autoPong',
  'maxPendingAutoPongs',
  'closeTimeout',
  'generateMask',
  'allowSynchronousEvents',
  'finishRequest',
  'http2',
  'http2Session',
  'protocol',
  'maxBufferedChunks',
  'maxFragments',
]);

/** http.request / https.request / tls.connect options passed through unchanged. */
const PASS_KEYS = new Set([
  'agent',
  'auth',
  'createConnection',
  'defaultPort',
  'family',
  'hints',
  'insecureHTTPParser',
  'joinDuplicateHeaders',
  'localAddress',
  'localPort',
  'lookup',
  'maxHeaderSize',
  'setHost',
  'signal',
  'socketPath',
  'timeout',
  'uniqueHeaders',
  'host',
  'hostname',
  'port',
  'path',
  'method',
  // tls
  ...TLS_KEYS,
]);

function invalid(message: string): UsageError {
  return new UsageError('WS_ERR_INVALID_OPTION', message);
}

function invalidUrl(message: string): UsageError {
  return new UsageError('WS_ERR_INVALID_URL', message);
}

/** @internal Validated options of one client connection (shared with http2-client.ts). */
export interface Resolved {
  opts: ClientOptions;
  protocols: string[];
  deflate: false | DeflateOptions;
  maxPayload: number;
  random: RandomFill;
}

function resolveOptions(
  options: ClientOptions | undefined,
  protocols: string | string[] | undefined,
): Resolved {
  const opts: ClientOptions = options === undefined || options === null ? {} : options;
  if (typeof opts !== 'object') throw invalid('WebSocket options must be an object');
  for (const key of Object.keys(opts)) {
    if (!OWN_KEYS.has(key) && !PASS_KEYS.has(key)) throw invalid(`Unknown WebSocket option "${key}"`);
  }
  // ws 8 speaks 13 (RFC 6455) and 8 (the hybi-17 draft: same framing, Sec-WebSocket-Origin).
  if (opts.protocolVersion !== undefined && opts.protocolVersion !== 13 && opts.protocolVersion !== 8) {
    throw invalid(`Unsupported protocol version: ${opts.protocolVersion} (supported versions: 8, 13)`);
  }
  for (const name of [
    'handshakeTimeout',
    'maxPayload',
    'maxRedirects',
    'closeTimeout',
    'maxPendingAutoPongs',
  ] as const) {
    const v = opts[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
      throw invalid(`The "${name}" option must be a non-negative integer`);
    }
  }
  if (opts.headers !== undefined && (typeof opts.headers !== 'object' || opts.headers === null)) {
    throw invalid('The "headers" option must be an object');
  }
  if (opts.generateMask !== undefined && typeof opts.generateMask !== 'function') {
    throw invalid('The "generateMask" option must be a function');
  }
  if (opts.http2 !== undefined && typeof opts.http2 !== 'boolean') {
    throw invalid('The "http2" option must be a boolean');
  }
  if (
    opts.http2Session !== undefined &&
    (opts.http2Session === null || typeof (opts.http2Session as { request?: unknown }).request !== 'function')
  ) {
    throw invalid('The "http2Session" option must be a ClientHttp2Session (from http2.connect)');
  }
  const list = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : protocols;
  if (!Array.isArray(list)) throw invalid('protocols must be a string or an array of strings');
  const seen = new Set<string>();
  for (const p of list) {
    // RFC 6455 4.1: subprotocol values "MUST be non-empty strings with characters in the
    // range U+0021 to U+007E not including separator characters" and "MUST all be unique".
    if (typeof p !== 'string' || !isToken(p) || seen.has(p)) {
      throw new UsageError(
        'WS_ERR_INVALID_PROTOCOL',
        `An invalid or duplicated subprotocol was specified: ${String(p)}`,
      );
    }
    seen.add(p);
  }
  const generateMask = opts.generateMask;
  const random: RandomFill =
    generateMask === undefined
      ? randomFill
      : (target, offset, length) => {
          const mask = Buffer.alloc(length);
          generateMask(mask);
          mask.copy(target, offset);
        };
  return {
    opts,
    protocols: list,
    // ws compatibility: clients offer permessage-deflate unless told not to.
    deflate: checkPerMessageDeflate(opts.perMessageDeflate === undefined ? true : opts.perMessageDeflate),
    maxPayload: opts.maxPayload ?? 100 * 1024 * 1024,
    random,
  };
}

function parseAddress(address: string | URL): URL {
  let url: URL;
  if (address instanceof URL) url = new URL(address.href);
  else {
    try {
      url = new URL(address);
    } catch {
      throw invalidUrl(`Invalid URL: ${address}`);
    }
  }
  // ws compatibility: http(s) URLs are accepted and mean ws(s).
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:' && url.protocol !== 'ws+unix:') {
    throw invalidUrl(`The URL's protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"`);
  }
  // RFC 6455 3: "Fragment identifiers are meaningless in the context of WebSocket URIs and
  // MUST NOT be used on these URIs."
  if (url.hash) throw invalidUrl('The URL contains a fragment identifier');
  if (url.protocol === 'ws+unix:' && !url.pathname) throw invalidUrl("The URL's pathname is empty");
  return url;
}

/**
 * permessage-deflate plugs in here (RFC 7692 5): the offer to send, and, once the server
 * answered, the extension object the core will run (or a HandshakeError failing the connection).
 */
function extensionOffer(deflate: false | DeflateOptions): string | undefined {
  return deflate === false || !syncZlibSupported() ? undefined : createOffer(deflate);
}

function acceptedExtension(
  accepted: ExtensionList,
  deflate: false | DeflateOptions,
  _maxPayload: number,
): PerMessageExtension | null | Error {
  // RFC 6455 9.1: the server may only answer with extensions the client offered; we offered
  // none, so any extension in the response fails the connection (4.1 item 5).
  if (extensionOffer(deflate) === undefined || deflate === false) {
    if (accepted.length > 0) {
      return new HandshakeError(
        'WS_ERR_HANDSHAKE_EXTENSIONS',
        0,
        'Server sent a Sec-WebSocket-Extensions header but no extension was requested',
      );
    }
    return null;
  }
  // RFC 7692 7.1: a bad response fails the connection (a HandshakeError, never a throw).
  const params = acceptAsClient(accepted, deflate);
  if (params === null || params instanceof Error) return params;
  return new PerMessageDeflate('client', params, deflate);
}

/** Start the opening handshake for a new client WebSocket (called by its constructor). */
export function initiateClient(
  ws: WebSocket,
  address: string | URL,
  protocols: string | string[] | undefined,
  options: ClientOptions | undefined,
): void {
  const resolved = resolveOptions(options, protocols);
  const url = parseAddress(address);
  if (resolved.opts.http2Session !== undefined || resolved.opts.http2 === true) {
    connectHttp2(ws, url, resolved, {
      http1: (r) => connect(ws, url, r, null),
      open: (stream, protocol, extensions, header) =>
        startClient(ws, stream, EMPTY, resolved, protocol, extensions, header),
      offer: extensionOffer(resolved.deflate),
      timeout: timeoutError,
    });
  } else {
    connect(ws, url, resolved, null);
  }
}

/**
 * What a client following redirects (followRedirects) remembers from its first request, to
 * decide what the next hops may receive. The policy is ws 8's (itself curl 7.77's):
 *
 *   - Authorization, Cookie and the `auth` option's credentials go only to the same host
 *     (host:port, or for ws+unix: the same socket path) and never from wss: down to ws:;
 *     a Host header given by the user goes only to the same host;
 *   - the first request's credentials win: its Authorization (from the URL's userinfo or the
 *     `auth` option) is kept for the later hops to the same host, a Location's userinfo does
 *     not replace it;
 *   - with a 'redirect' listener nothing is stripped: the listener gets the next request
 *     before it is sent and decides (removeHeader(), abort()).
 */
interface RedirectState {
  count: number;
  originalSecure: boolean;
  originalIpc: boolean;
  /** host:port of the first URL, or its socket path for ws+unix:. */
  originalHostOrSocketPath: string;
  /** The user's headers with lowercase names, shared by every hop. */
  headers: Record<string, string>;
}

function lowercaseHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers !== undefined)
    for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

/** The HTTP/1.1 opening handshake (also http2-client.ts's fallback). */
function connect(ws: WebSocket, url: URL, resolved: Resolved, redirect: RedirectState | null): void {
  const { opts, protocols } = resolved;
  ws._url = url.href;
  const secure = url.protocol === 'wss:';
  const ipc = url.protocol === 'ws+unix:';
  let socketPath: string | undefined;
  let path: string;
  if (ipc) {
    // ws+unix:///path/to.sock:/request/path
    const colon = url.pathname.indexOf(':');
    socketPath = colon === -1 ? url.pathname : url.pathname.slice(0, colon);
    path = colon === -1 ? '/' : url.pathname.slice(colon + 1) + url.search;
  } else {
    path = (url.pathname || '/') + url.search;
  }
  // Credentials in the URL become Basic authentication (RFC 7617), like browsers and ws.
  let auth =
    url.username || url.password
      ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
      : (opts.auth as string | undefined);

  let userHeaders: Record<string, string> | undefined = opts.headers;
  if (opts.followRedirects) {
    if (redirect === null) {
      redirect = {
        count: 0,
        originalSecure: secure,
        originalIpc: ipc,
        originalHostOrSocketPath: ipc ? socketPath! : url.host,
        headers: lowercaseHeaders(opts.headers),
      };
      userHeaders = { ...redirect.headers };
    } else {
      userHeaders = { ...redirect.headers };
      if (ws.listenerCount('redirect') === 0) {
        const sameHost = ipc
          ? redirect.originalIpc && socketPath === redirect.originalHostOrSocketPath
          : !redirect.originalIpc && url.host === redirect.originalHostOrSocketPath;
        // Credentials never leave for another host, nor go down from TLS to clear text.
        if (!sameHost || (redirect.originalSecure && !secure)) {
          delete userHeaders.authorization;
          delete userHeaders.cookie;
          if (!sameHost) delete userHeaders.host;
          auth = undefined;
        }
      }
    }
    // The first request's credentials win over a later Location's userinfo (ws, curl).
    if (auth !== undefined && redirect.headers.authorization === undefined) {
      redirect.headers.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
    }
  }

  const key = generateKey((b) => randomFill(b));
  const headers: Record<string, string> = {};
  if (userHeaders !== undefined) Object.assign(headers, userHeaders);
  headers['Sec-WebSocket-Version'] = String(opts.protocolVersion ?? 13);
  headers['Sec-WebSocket-Key'] = key;
  headers.Connection = 'Upgrade';
  headers.Upgrade = 'websocket';
  if (protocols.length > 0) headers['Sec-WebSocket-Protocol'] = protocols.join(',');
  if (opts.origin !== undefined) {
    if (opts.protocolVersion === 8) headers['Sec-WebSocket-Origin'] = opts.origin;
    else headers.Origin = opts.origin;
  }
  const offer = extensionOffer(resolved.deflate);
  if (offer !== undefined) headers['Sec-WebSocket-Extensions'] = offer;

  const reqOpts: http.RequestOptions & Record<string, unknown> = {};
  for (const k of Object.keys(opts)) if (PASS_KEYS.has(k)) reqOpts[k] = opts[k];
  reqOpts.method = 'GET';
  reqOpts.headers = headers;
  reqOpts.path = path;
  reqOpts.auth = auth;
  // Like ws: the handshake opens its own connection (no agent unless the user gives one), so a
  // refused handshake never leaves a socket in Node's keep-alive pool; `createConnection` gets
  // the URL's port as written (a string), the default port as a number.
  reqOpts.createConnection = (opts.createConnection ??
    (secure ? tlsConnect : netConnect)) as http.RequestOptions['createConnection'];
  reqOpts.defaultPort = (opts.defaultPort as number | undefined) ?? (secure ? 443 : 80);
  if (ipc) {
    reqOpts.socketPath = socketPath;
  } else {
    reqOpts.host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    reqOpts.port = url.port || (secure ? 443 : 80);
  }
  if (opts.handshakeTimeout) reqOpts.timeout = opts.handshakeTimeout;

  const req = (secure ? https.request : http.request)(reqOpts);
  ws._req = req;
  // ws 8: the listener gets the new request before it is sent, so it can still change it.
  if (redirect !== null && redirect.count > 0) ws.emit('redirect', url.href, req);

  if (opts.handshakeTimeout) {
    req.on('timeout', () => {
      if (ws._req === req) ws._abortHandshake('Opening handshake has timed out', timeoutError());
    });
  }
  req.on('error', (err: Error) => {
    if (ws._req !== req) return;
    ws._abortHandshake(err.message, err);
  });
  req.on('response', (res: IncomingMessage) => {
    if (ws._req !== req) return;
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (redirect !== null && location !== undefined && status >= 300 && status < 400) {
      if (++redirect.count > (opts.maxRedirects ?? 10)) {
        ws._abortHandshake(
          'Maximum redirects exceeded',
          handshakeFailure('WS_ERR_MAX_REDIRECTS', 'Maximum redirects exceeded'),
        );
        return;
      }
      req.destroy();
      res.resume();
      ws._req = null;
      let next: URL;
      try {
        let target: URL;
        try {
          target = new URL(location, url);
        } catch {
          throw invalidUrl(`Invalid URL: ${location}`);
        }
        next = parseAddress(target);
      } catch (err) {
        ws._abortHandshake((err as Error).message, err as Error);
        return;
      }
      if (!ws._closing) connect(ws, next, resolved, redirect);
      return;
    }
    if (ws.listenerCount('unexpected-response') > 0) {
      // ws compatibility: the listener owns the response; the connection is not opened.
      ws.emit('unexpected-response', req, res);
      return;
    }
    ws._abortHandshake(
      `Unexpected server response: ${status}`,
      handshakeFailure('WS_ERR_HANDSHAKE_STATUS', `Unexpected server response: ${status}`),
    );
  });
  req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
    if (ws._req !== req) {
      socket.destroy();
      return;
    }
    ws.emit('upgrade', res);
    // An 'upgrade' listener may have closed or terminated the WebSocket.
    if (ws._req !== req) {
      socket.destroy();
      return;
    }
    ws._req = null;
    const result = validateUpgradeResponse(
      { statusCode: res.statusCode ?? 0, headers: res.headers },
      { key, protocols },
    );
    if (!result.ok) {
      socket.destroy();
      ws._abortHandshake(result.error.message, result.error);
      return;
    }
    startClient(
      ws,
      socket,
      head,
      resolved,
      result.protocol,
      result.extensions,
      res.headers['sec-websocket-extensions'],
    );
  });

  if (opts.finishRequest !== undefined) opts.finishRequest(req, ws);
  else req.end();
}

/**
 * @internal Both transports, once the server's answer passed its checks: set up the accepted
 * extension and start the protocol over `socket` (an upgraded socket or an HTTP/2 stream).
 */
function startClient(
  ws: WebSocket,
  socket: Duplex,
  head: Buffer,
  resolved: Resolved,
  protocol: string,
  accepted: ExtensionList,
  extensionsHeader: string | string[] | undefined,
): void {
  const extension = acceptedExtension(accepted, resolved.deflate, resolved.maxPayload);
  if (extension instanceof Error) {
    abortTransport(socket);
    ws._abortHandshake(extension.message, extension);
    return;
  }
  const { opts } = resolved;
  ws._protocol = protocol;
  ws._extensions = typeof extensionsHeader === 'string' && extension !== null ? extensionsHeader : '';
  const settings = {
    closeTimeout: opts.closeTimeout ?? 30_000,
    maxPendingAutoPongs: opts.maxPendingAutoPongs ?? DEFAULT_MAX_PENDING_AUTO_PONGS,
    protocol: new ProtocolSettings({
      role: 'client',
      maxPayload: resolved.maxPayload,
      skipUtf8Validation: opts.skipUTF8Validation === true,
      autoPong: opts.autoPong !== false,
      randomFill: resolved.random,
    }),
  };
  ws._setSocket(socket as Socket, head, settings, extension);
  ws.emit('open');
}

const EMPTY = Buffer.alloc(0);

/** The default transport of a ws: handshake: its own TCP (or Unix socket) connection. */
function netConnect(options: net.NetConnectOpts & { socketPath?: string }): net.Socket {
  (options as { path?: string }).path = options.socketPath;
  return net.connect(options);
}

/** The default transport of a wss: handshake; SNI names the host unless it is an IP address. */
function tlsConnect(options: tls.ConnectionOptions & { path?: string }): tls.TLSSocket {
  options.path = undefined;
  if (!options.servername && options.servername !== '') {
    options.servername = net.isIP(options.host ?? '') ? '' : options.host;
  }
  return tls.connect(options);
}

function handshakeFailure(code: string, message: string): Error {
  return new HandshakeError(code, 0, message);
}

function timeoutError(): Error {
  return new HandshakeError('WS_ERR_HANDSHAKE_TIMEOUT', 0, 'Opening handshake has timed out');
}
