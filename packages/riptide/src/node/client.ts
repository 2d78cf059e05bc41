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
import type { IncomingMessage } from 'node:http';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { UsageSyntaxError } from '../core/errors.js';
import type { PerMessageExtension } from '../core/extension.js';
import { PerMessageDeflate } from '../deflate/codec.js';
import { acceptAsClient, createOffer, type DeflateOptions, EXTENSION_NAME } from '../deflate/negotiation.js';
import { syncZlibSupported } from '../deflate/zlib-sync.js';
import { generateKey } from '../handshake/accept.js';
import { buildUpgradeHeaders, validateUpgradeResponse } from '../handshake/client.js';
import { clientHandshakeError, unexpectedStatusError } from '../handshake/errors.js';
import type { ExtensionList } from '../handshake/header-lists.js';
import { connectHttp2 } from './http2-client.js';
import {
  type CLIENT_OPTIONS,
  connectionSettings,
  type OptionsOf,
  REQUEST_PASS_THROUGH,
  type ResolvedClient,
  resolveClientOptions,
} from './options.js';
import { randomFill } from './random.js';
import { abortTransport, type ClientHost } from './transport.js';

/** The options of `new WebSocket(url, protocols, options)`: see CLIENT_OPTIONS in options.ts. */
export type ClientOptions = OptionsOf<typeof CLIENT_OPTIONS>;

/** ws 8 throws a SyntaxError for a URL it cannot use. */
function invalidUrl(message: string): UsageSyntaxError {
  return new UsageSyntaxError('WS_ERR_INVALID_URL', message);
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
  // MUST NOT be used on these URIs." WHATWG WebSockets: a SyntaxError when the URL's fragment is
  // non-null, so an empty one ('ws://h/#') too: url.hash is '' for it, but a '#' can only be in
  // the href as the fragment's delimiter (elsewhere the URL parser percent-encodes it).
  if (url.href.includes('#')) throw invalidUrl('The URL contains a fragment identifier');
  if (url.protocol === 'ws+unix:' && !url.pathname) throw invalidUrl("The URL's pathname is empty");
  // The userinfo becomes Basic credentials, percent-decoded (connect()): a URL whose userinfo
  // does not decode ('ws://%ZZ@host') is refused here, with the other URL errors, rather than as
  // the decoder's URIError, which has no code (ws 8 decodes it leniently, keeping '%ZZ').
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    throw invalidUrl("The URL's userinfo is not valid percent-encoding");
  }
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
): PerMessageExtension | null | Error {
  // RFC 6455 9.1: the server may only answer with extensions the client offered; we offered
  // none, so any extension in the response fails the connection (4.1 item 5).
  if (extensionOffer(deflate) === undefined || deflate === false) {
    if (accepted.length > 0) return clientHandshakeError('WS_ERR_HANDSHAKE_NO_EXTENSION_REQUESTED');
    return null;
  }
  // RFC 7692 7.1: a bad response fails the connection (a HandshakeError, never a throw).
  const params = acceptAsClient(accepted, deflate);
  if (params === null || params instanceof Error) return params;
  return new PerMessageDeflate('client', params, deflate);
}

/** Start the opening handshake for a new client WebSocket (called by its constructor). */
export function initiateClient(
  ws: ClientHost,
  address: string | URL,
  protocols: string | string[] | undefined,
  options: ClientOptions | undefined,
): void {
  const resolved = resolveClientOptions(options, protocols);
  const url = parseAddress(address);
  connectHop(ws, url, resolved, null);
}

/**
 * One hop of the opening handshake (the first request, or a redirect's): over HTTP/2 when the
 * options ask for it (http2-client.ts, which falls back to connect() below), else HTTP/1.1.
 * Every hop starts as the first did: a redirect from an HTTP/1.1 server to one that takes
 * WebSockets over HTTP/2 opens a stream there, and the other way round.
 */
function connectHop(
  ws: ClientHost,
  url: URL,
  resolved: ResolvedClient,
  redirect: RedirectState | null,
): void {
  const { opts } = resolved;
  if (opts.http2Session === undefined && opts.http2 !== true) {
    connect(ws, url, resolved, redirect);
    return;
  }
  // The first hop over HTTP/2 starts the redirect state itself: it has no request of connect()'s.
  const state = redirect ?? (opts.followRedirects ? startRedirects(url, opts) : null);
  connectHttp2(ws, url, resolved, {
    http1: (r: ResolvedClient) => connect(ws, url, r, state),
    open: (stream, protocol, extensions) => startClient(ws, stream, EMPTY, resolved, protocol, extensions),
    offer: extensionOffer(resolved.deflate),
    headers: () => {
      const hop = hopCredentials(ws, url, opts, state, url.host);
      const headers = hop.headers;
      if (hop.auth === undefined || (headers !== undefined && 'authorization' in lowercaseHeaders(headers)))
        return headers;
      return { ...headers, authorization: `Basic ${Buffer.from(hop.auth).toString('base64')}` };
    },
    redirected: state !== null && state.count > 0,
    follow:
      state === null
        ? null
        : (location) => {
            const next = redirectTarget(url, location, opts, state);
            if (next instanceof Error) return next;
            // A session of the caller's reaches its own origin only; a new connection elsewhere
            // would be one the caller did not make (through their proxy, with their TLS).
            if (
              opts.http2Session !== undefined &&
              (next.protocol !== url.protocol || next.host !== url.host)
            ) {
              return clientHandshakeError('WS_ERR_REDIRECT_OTHER_SESSION');
            }
            connectLater(ws, next, resolved, state);
            return null;
          },
  });
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
 *
 * One difference from ws: a redirect from ws:/wss: to ws+unix: is refused
 * (WS_ERR_REDIRECT_TO_UNIX), so a server on the network cannot aim the client at a local socket.
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

function startRedirects(url: URL, opts: ResolvedClient['opts']): RedirectState {
  const ipc = url.protocol === 'ws+unix:';
  return {
    count: 0,
    originalSecure: url.protocol === 'wss:',
    originalIpc: ipc,
    originalHostOrSocketPath: ipc ? socketPathOf(url) : url.host,
    headers: lowercaseHeaders(opts.headers),
  };
}

/**
 * What one hop sends of the user's headers and credentials (the policy above): the headers, and
 * the Basic credentials (`auth`, "user:password") to send unless an Authorization is among them.
 * `hostOrSocketPath` is this hop's host:port, or its socket path for ws+unix:. The redirect
 * state comes back (started here for the first HTTP/1.1 request when following).
 */
function hopCredentials(
  ws: ClientHost,
  url: URL,
  opts: ResolvedClient['opts'],
  redirect: RedirectState | null,
  hostOrSocketPath: string,
): { headers: Record<string, string> | undefined; auth: string | undefined; redirect: RedirectState | null } {
  // Credentials in the URL become Basic authentication (RFC 7617), like browsers and ws.
  let auth =
    url.username || url.password
      ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
      : (opts.auth as string | undefined);
  if (!opts.followRedirects) return { headers: opts.headers, auth, redirect };
  const secure = url.protocol === 'wss:';
  const ipc = url.protocol === 'ws+unix:';
  let headers: Record<string, string>;
  if (redirect === null) {
    redirect = startRedirects(url, opts);
    headers = { ...redirect.headers };
  } else {
    headers = { ...redirect.headers };
    if (redirect.count > 0 && ws.listenerCount('redirect') === 0) {
      const sameHost = ipc
        ? redirect.originalIpc && hostOrSocketPath === redirect.originalHostOrSocketPath
        : !redirect.originalIpc && hostOrSocketPath === redirect.originalHostOrSocketPath;
      // Credentials never leave for another host, nor go down from TLS to clear text.
      if (!sameHost || (redirect.originalSecure && !secure)) {
        delete headers.authorization;
        delete headers.cookie;
        if (!sameHost) delete headers.host;
        auth = undefined;
      }
    }
  }
  // The first request's credentials win over a later Location's userinfo (ws, curl).
  if (auth !== undefined && redirect.headers.authorization === undefined) {
    redirect.headers.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  }
  return { headers, auth, redirect };
}

/**
 * A 3xx with a non-empty Location while following: counted against maxRedirects, resolved
 * against `url`, checked as a WebSocket URL. The next hop's URL, or the error to fail with.
 */
function redirectTarget(
  url: URL,
  location: string,
  opts: ResolvedClient['opts'],
  redirect: RedirectState,
): URL | Error {
  if (++redirect.count > opts.maxRedirects) return clientHandshakeError('WS_ERR_MAX_REDIRECTS');
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
    return err as Error;
  }
  if (next.protocol === 'ws+unix:' && !redirect.originalIpc) {
    // A server on the network may not send the client to a socket on this machine (ws 8
    // follows it): a local service would get the request, and its answer would come back.
    return clientHandshakeError('WS_ERR_REDIRECT_TO_UNIX');
  }
  return next;
}

/** The socket path of a ws+unix: URL (see connect()). */
function socketPathOf(url: URL): string {
  const target = url.pathname + url.search;
  const colon = target.indexOf(':');
  return colon === -1 ? target : target.slice(0, colon);
}

/** The HTTP/1.1 opening handshake (also http2-client.ts's fallback). */
function connect(ws: ClientHost, url: URL, resolved: ResolvedClient, redirect: RedirectState | null): void {
  const { opts, protocols } = resolved;
  ws._setUrl(url.href);
  const secure = url.protocol === 'wss:';
  const ipc = url.protocol === 'ws+unix:';
  let socketPath: string | undefined;
  let path: string;
  if (ipc) {
    // ws+unix:///path/to.sock:/request/path?query. Split at the first colon of the path and query
    // together, as ws 8 splits them: without a colon all of it names the socket, a query too
    // ('ws+unix:/s.sock?v=1' is the socket file 's.sock?v=1', requested as '/').
    const target = url.pathname + url.search;
    const colon = target.indexOf(':');
    socketPath = colon === -1 ? target : target.slice(0, colon);
    path = colon === -1 ? '/' : target.slice(colon + 1);
  } else {
    path = (url.pathname || '/') + url.search;
  }
  const hop = hopCredentials(ws, url, opts, redirect, ipc ? socketPath! : url.host);
  redirect = hop.redirect;
  const userHeaders = hop.headers;
  const auth = hop.auth;

  const key = generateKey((b) => randomFill(b));
  // The user's headers, then the handshake's own (they win, as in ws): RFC 6455 4.1's fields
  // come from the pure handshake module; node:http adds the request line and Host.
  const headers: Record<string, string> = { ...userHeaders };
  Object.assign(
    headers,
    buildUpgradeHeaders({
      key,
      version: opts.protocolVersion as 8 | 13, // checked: 8 or 13 (options.ts)
      protocols,
      extensions: extensionOffer(resolved.deflate),
      // ws sends no Origin for an empty one.
      origin: opts.origin === '' ? undefined : opts.origin,
    }),
  );

  // ws 8 spreads every option into the request's, so keys it does not know reach node as given
  // (node ignores those it does not know either); the request's own fields are set after them.
  const reqOpts: http.RequestOptions & Record<string, unknown> = { ...resolved.extra };
  for (const k of REQUEST_PASS_THROUGH) {
    const value = (opts as Record<string, unknown>)[k];
    if (value !== undefined) reqOpts[k] = value;
  }
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
  // node:http refuses some requests synchronously (an http.Agent given for a wss: URL:
  // ERR_INVALID_PROTOCOL; a header value it cannot send: ERR_INVALID_CHAR). Called from the
  // constructor, the error reaches its caller, as in ws; called from a callback, the caller fails
  // the connection instead (connectLater for a redirect, http2-client.ts fallBack).
  const req = (secure ? https.request : http.request)(reqOpts);
  ws._setRequest(req);

  // A deadline for this request's handshake, from now until the response head is complete:
  // not the socket's idle timeout (ws's `timeout`), which a server sending its head a byte at
  // a time resets forever. Each redirect's request gets its own. A response handed to an
  // 'unexpected-response' listener keeps it until the request is over (its body read, or the
  // request destroyed): one left unread would hold the connection open, CONNECTING, for good
  // (ws 8's idle timeout fails it).
  const deadline = opts.handshakeTimeout
    ? setTimeout(handshakeExpired, opts.handshakeTimeout, ws, req)
    : null;
  req.on('error', (err: Error) => {
    if (deadline !== null) clearTimeout(deadline);
    if (!ws._isRequest(req)) return;
    ws._abortHandshake(err);
  });
  if (deadline !== null) req.on('close', () => clearTimeout(deadline));
  req.on('response', (res: IncomingMessage) => {
    if (!ws._isRequest(req)) {
      if (deadline !== null) clearTimeout(deadline);
      return;
    }
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    // An empty Location (node trims the value, so a blank one too) is not followed: it would
    // name this same URL again until maxRedirects. The answer is the user's, as any other (ws 8).
    if (redirect !== null && location && status >= 300 && status < 400) {
      if (deadline !== null) clearTimeout(deadline);
      const next = redirectTarget(url, location, opts, redirect);
      req.destroy();
      res.resume();
      ws._setRequest(null);
      if (next instanceof Error) {
        ws._abortHandshake(next);
        return;
      }
      if (ws.readyState === 0) connectLater(ws, next, resolved, redirect);
      return;
    }
    if (ws.listenerCount('unexpected-response') > 0) {
      // ws compatibility: the listener owns the response; the connection is not opened. The
      // deadline runs on until the request closes (above).
      ws.emit('unexpected-response', req, res);
      return;
    }
    if (deadline !== null) clearTimeout(deadline);
    ws._abortHandshake(unexpectedStatusError(status));
  });
  req.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
    if (deadline !== null) clearTimeout(deadline);
    if (!ws._isRequest(req)) {
      socket.destroy();
      return;
    }
    ws.emit('upgrade', res);
    // An 'upgrade' listener may have closed or terminated the WebSocket.
    if (!ws._isRequest(req)) {
      socket.destroy();
      return;
    }
    ws._setRequest(null);
    const result = validateUpgradeResponse(
      { statusCode: res.statusCode ?? 0, headers: res.headers },
      { key, protocols },
    );
    if (!result.ok) {
      socket.destroy();
      ws._abortHandshake(result.error);
      return;
    }
    startClient(ws, socket, head, resolved, result.protocol, result.extensions);
  });

  // The host is the WebSocket being opened (its constructor called initiateClient); the callback's
  // type names it, which this module does not import (websocket.ts imports this one).
  type OpeningSocket = Parameters<NonNullable<typeof opts.finishRequest>>[1];
  // ws 8: the listener gets the new request before it is sent, so it can still change it. After
  // the request's listeners are attached (ws emits it before): a listener that throws fails the
  // connection (connectLater), whose abort destroys the request, and that request's 'error'
  // (ECONNRESET) must find its listener, not be an uncaught exception.
  if (redirect !== null && redirect.count > 0) ws.emit('redirect', url.href, req);
  if (opts.finishRequest !== undefined) opts.finishRequest(req, ws as unknown as OpeningSocket);
  else req.end();
}

/**
 * connectHop() for a redirect, from the previous response's listener (or stream's), where
 * nothing would catch what it throws: a request node:http refuses, a throwing finishRequest or
 * 'redirect' listener.
 * It fails the connection instead,
 * 'error' then 'close' 1006, as ws 8.23.1 does for a redirect's request.
 */
function connectLater(ws: ClientHost, url: URL, resolved: ResolvedClient, redirect: RedirectState): void {
  try {
    connectHop(ws, url, resolved, redirect);
  } catch (err) {
    ws._abortHandshake(err as Error);
  }
}

/**
 * @internal Both transports, once the server's answer passed its checks: set up the accepted
 * extension and start the protocol over `socket` (an upgraded socket or an HTTP/2 stream).
 */
function startClient(
  ws: ClientHost,
  socket: Duplex,
  head: Buffer,
  resolved: ResolvedClient,
  protocol: string,
  accepted: ExtensionList,
): void {
  const extension = acceptedExtension(accepted, resolved.deflate);
  if (extension instanceof Error) {
    abortTransport(socket);
    ws._abortHandshake(extension);
    return;
  }
  ws._attach(socket, head, {
    settings: connectionSettings(resolved.opts, 'client', resolved.random),
    extension,
    protocol,
    // ws 8's `extensions` names what was agreed ('permessage-deflate'), not the server's spelling:
    // the header may differ in case ('PERMESSAGE-DEFLATE') or hold empty list elements
    // ('permessage-deflate, ', RFC 9110 5.6.1), which `ws.extensions` must not show.
    extensions: extension !== null ? EXTENSION_NAME : '',
    server: null,
  });
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

/** The handshakeTimeout deadline of `req` passed before its response head was complete. */
function handshakeExpired(ws: ClientHost, req: http.ClientRequest): void {
  if (ws._isRequest(req)) ws._abortHandshake(clientHandshakeError('WS_ERR_HANDSHAKE_TIMEOUT'));
}
