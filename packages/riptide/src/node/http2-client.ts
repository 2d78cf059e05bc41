/**
 * WebSockets over HTTP/2 streams, client side (RFC 8441): `new WebSocket(url, { http2: true })`
 * or `{ http2Session }`.
 *
 *   { http2: true }: one pooled session per origin (and connection options)
 *     wss: TLS with ALPN "h2", "http/1.1" ──server chose http/1.1──► HTTP/1.1 upgrade over that
 *     ws:  HTTP/2 with prior knowledge       same socket (client.ts), or a new one for ws://
 *       │
 *       ▼ the server's first SETTINGS (RFC 8441 3)
 *     ENABLE_CONNECT_PROTOCOL = 1 ──no──► HTTP/1.1 upgrade on a new connection
 *       │ yes
 *       ▼
 *     stream = session.request(buildConnectRequest)  ─► 2xx: 'upgrade' (Http2HandshakeResponse),
 *     validateConnectResponse ─► startClient (client.ts): the WebSocket runs over the stream
 *
 *   A 3xx (followRedirects) cancels the stream and starts the next hop over (client.ts
 *   connectHop); another non-2xx goes to 'unexpected-response' (Http2HandshakeRequest and
 *   Http2HandshakeResponse below), else fails with WS_ERR_HANDSHAKE_STATUS.
 *
 *   { http2Session }: the caller's session, no pool and no fallback (a server without the
 *   setting fails the handshake with WS_ERR_HANDSHAKE_NO_EXTENDED_CONNECT).
 *
 * A pooled session lives as long as WebSockets use it: it is closed (GOAWAY) when the last one's
 * stream closes, and leaves the pool as soon as it goes away (GOAWAY, error, close) so the next
 * WebSocket opens a new one. Its streams are closed with CANCEL on terminate() (RFC 8441 5, see
 * transport.ts); a lost session closes each of its WebSockets with 1006, like a lost TCP
 * connection.
 */
import { EventEmitter } from 'node:events';
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as connectSession,
  constants,
  type IncomingHttpHeaders,
  type IncomingHttpStatusHeader,
} from 'node:http2';
import * as net from 'node:net';
import { type Duplex, Readable } from 'node:stream';
import * as tls from 'node:tls';
import { clientHandshakeError } from '../handshake/errors.js';
import { buildConnectRequest, validateConnectResponse } from '../handshake/extended-connect.js';
import type { ExtensionList } from '../handshake/header-lists.js';
import type { ResolvedClient as Resolved } from './options.js';
import { TLS_KEYS } from './tls-keys.js';
import { type ClientHost, meterWrites } from './transport.js';

/**
 * What the HTTP/2 path borrows from client.ts, handed in by it (client.ts imports this file, so
 * importing it back would make a cycle).
 */
export interface ClientHandshake {
  /** The HTTP/1.1 handshake (the fallback); `resolved` may carry a connected socket. */
  http1(resolved: Resolved): void;
  /** The server accepted over `stream`: start the protocol (client.ts startClient). */
  open(stream: Duplex, protocol: string, extensions: ExtensionList): void;
  /** The permessage-deflate offer to send, if any. */
  offer: string | undefined;
  /**
   * The user's headers and credentials for this hop's CONNECT (client.ts hopCredentials: the
   * URL's userinfo or `auth` as Basic credentials, the redirect policy's stripping).
   */
  headers(): Record<string, string> | undefined;
  /** This hop follows a redirect: 'redirect' is emitted with its request before it is sent. */
  redirected: boolean;
  /**
   * followRedirects: follow a 3xx's non-empty Location (client.ts starts the next hop); the
   * error to fail with instead (maxRedirects, a bad Location). Null: not following.
   */
  follow: ((location: string) => Error | null) | null;
}

/** How a pooled connection turned out. */
type Outcome =
  | { kind: 'h2'; session: ClientHttp2Session }
  /**
   * Use HTTP/1.1; `socket` is a TLS socket that negotiated http/1.1 (the first waiter takes it).
   * `noExtendedConnect`: the server spoke HTTP/2, but its SETTINGS did not allow the extended
   * CONNECT (RFC 8441 3), so each WebSocket hears 'http2-fallback' before its HTTP/1.1 request.
   */
  | { kind: 'http1'; socket: Duplex | null; noExtendedConnect?: boolean }
  | { kind: 'error'; error: Error };

interface PoolEntry {
  key: string;
  outcome: Outcome | null;
  waiters: Array<(outcome: Outcome) => void>;
  /** WebSockets waiting for or running on this entry's session. */
  users: number;
  session: ClientHttp2Session | null;
  /** The connection being made, until the outcome is known: destroyed if every waiter leaves. */
  socket: Duplex | null;
  /** Every waiter left before the outcome: a socket that comes later is destroyed at once. */
  abandoned: boolean;
}

const pool = new Map<string, PoolEntry>();

/** Options that shape the connection itself (not the request): part of the pool key. */
const CONNECTION_KEYS = [...TLS_KEYS, 'localAddress', 'family', 'lookup', 'createConnection'] as const;

/** Objects in pool keys are compared by identity: each gets a number. */
const identities = new WeakMap<object, number>();
let nextIdentity = 1;

function identity(value: unknown): string {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null)
    return JSON.stringify(value);
  let id = identities.get(value);
  if (id === undefined) {
    id = nextIdentity++;
    identities.set(value, id);
  }
  return `#${id}`;
}

function poolKey(url: URL, opts: Resolved['opts']): string {
  let key = `${url.protocol}//${url.host}`;
  for (const name of CONNECTION_KEYS) {
    if (opts[name] !== undefined) key += `\n${name}=${identity(opts[name])}`;
  }
  return key;
}

/** Start the opening handshake of `ws` over HTTP/2 (called by client.ts initiateClient). */
export function connectHttp2(ws: ClientHost, url: URL, resolved: Resolved, hs: ClientHandshake): void {
  ws._setUrl(url.href);
  // handshakeTimeout runs from here: waiting for a connection and its SETTINGS is part of the
  // opening handshake, as connecting is over HTTP/1.1.
  const timeout = resolved.opts.handshakeTimeout;
  const deadline = timeout ? Date.now() + timeout : null;
  const given = resolved.opts.http2Session;
  if (given !== undefined) {
    // Set before waiting: the answer may come synchronously (the SETTINGS are already in).
    const timer = deadlineTimer(ws, deadline);
    // Closed or timed out before the SETTINGS: its listeners leave the caller's session, which
    // may stay silent (and open) for as long as the caller likes.
    let stopWaiting = ignore;
    const waiting = {
      destroy: () => {
        clearTimer(timer);
        stopWaiting();
      },
    };
    ws._setRequest(waiting);
    stopWaiting = waitForSettings(given, (supported) => {
      if (!ws._isRequest(waiting)) return; // closed meanwhile
      clearTimer(timer);
      ws._setRequest(null);
      if (supported) openStream(ws, given, url, resolved, hs, null, null, deadline);
      else fail(ws, clientHandshakeError('WS_ERR_HANDSHAKE_NO_EXTENDED_CONNECT'));
    });
    return;
  }
  if (url.protocol === 'ws+unix:') {
    // A Unix socket path has no origin to pool by: HTTP/1.1, as without the option.
    hs.http1(resolved);
    return;
  }
  if (typeof resolved.opts.agent === 'object' && resolved.opts.agent !== null) {
    // An http.Agent (a proxy agent, say) makes HTTP/1.1 connections only: the handshake goes
    // through it, as without the option. A session of our own would connect around the agent,
    // behind a proxy a connection that bypasses it.
    hs.http1(resolved);
    return;
  }
  connectPooled(ws, url, resolved, hs, 0, deadline);
}

/**
 * Fails the handshake with WS_ERR_HANDSHAKE_TIMEOUT at `deadline` (a Date.now() value; null: no
 * limit) if it is still pending; the abort cancels what it waits for (its request's destroy()).
 */
function deadlineTimer(ws: ClientHost, deadline: number | null): NodeJS.Timeout | null {
  if (deadline === null) return null;
  return setTimeout(
    () => {
      if (ws.readyState === 0) fail(ws, clientHandshakeError('WS_ERR_HANDSHAKE_TIMEOUT'));
    },
    Math.max(0, deadline - Date.now()),
  );
}

function clearTimer(timer: NodeJS.Timeout | null): void {
  if (timer !== null) clearTimeout(timer);
}

/** RFC 9113 8.7: a refused stream "can be safely retried"; at most this many times. */
const MAX_RETRIES = 2;

function connectPooled(
  ws: ClientHost,
  url: URL,
  resolved: Resolved,
  hs: ClientHandshake,
  retries: number,
  deadline: number | null,
  request: Http2HandshakeRequest | null = null,
): void {
  const key = poolKey(url, resolved.opts);
  let entry = pool.get(key);
  if (entry === undefined) {
    entry = openEntry(key, url, resolved);
    pool.set(key, entry);
  }
  entry.users++;
  const current = entry;
  const timer = deadlineTimer(ws, deadline);
  // close(), terminate() or the deadline while the connection is being set up: this WebSocket
  // stops waiting at once (the last one to leave a connection still being made ends it).
  const waiting = {
    destroy() {
      clearTimer(timer);
      request?.emit('close'); // a retry that ends here: the request is done
      const i = current.waiters.indexOf(waiter);
      if (i === -1) return;
      current.waiters.splice(i, 1);
      release(current);
    },
  };
  ws._setRequest(waiting);
  const waiter = (outcome: Outcome): void => {
    clearTimer(timer);
    if (!ws._isRequest(waiting)) {
      if (outcome.kind === 'http1' && outcome.socket !== null) outcome.socket.destroy();
      release(current);
      return;
    }
    ws._setRequest(null);
    if (outcome.kind === 'h2') {
      const retry =
        retries < MAX_RETRIES
          ? (refused: Http2HandshakeRequest) => {
              // Not this session again: it refuses streams (a GOAWAY crossed our request).
              if (pool.get(current.key) === current) pool.delete(current.key);
              connectPooled(ws, url, resolved, hs, retries + 1, deadline, refused);
            }
          : null;
      openStream(ws, outcome.session, url, resolved, hs, current, retry, deadline, request);
      return;
    }
    release(current);
    // A retry that goes to HTTP/1.1 or fails: the refused request is done. (HTTP/1.1 builds a
    // request of its own, a ClientRequest, which a redirect's hop emits 'redirect' with.)
    request?.emit('close');
    if (outcome.kind === 'error') {
      fail(ws, outcome.error);
    } else if (outcome.socket !== null && resolved.opts.agent === undefined) {
      // The TLS server chose http/1.1 by ALPN: the upgrade goes over this very connection.
      const socket = outcome.socket;
      fallBack(ws, hs, { ...resolved, opts: { ...resolved.opts, createConnection: () => socket } }, socket);
    } else {
      outcome.socket?.destroy();
      fallBack(ws, hs, resolved, null, outcome.noExtendedConnect === true);
    }
  };
  whenSettled(entry, waiter);
}

function fail(ws: ClientHost, error: Error): void {
  ws._abortHandshake(error);
}

/**
 * The HTTP/1.1 handshake after the HTTP/2 attempt, from a callback of the session's or the
 * socket's (or settle()'s loop over the waiters): a request node:http refuses synchronously (an
 * invalid header value, ERR_INVALID_CHAR) or a throwing finishRequest would be an uncaught
 * exception here, and would stop the waiters after this one. It fails this WebSocket instead
 * ('error', then 'close' 1006), as ws 8.23.1 does for a redirect's request. `socket`, the TLS
 * connection that chose http/1.1, is closed with it (the request may not have taken it yet).
 *
 * `noExtendedConnect`: the server speaks HTTP/2 without WebSockets over it. 'http2-fallback'
 * says so first (WS_ERR_HANDSHAKE_NO_EXTENDED_CONNECT, the error an http2Session would fail
 * with), so that whatever the HTTP/1.1 request meets (an h2-only server's 403, a parse error
 * from an h2c one) can be told apart from a server that never spoke HTTP/2. A listener that
 * closes the WebSocket ends it there; one that throws fails it as a throwing request does.
 */
function fallBack(
  ws: ClientHost,
  hs: ClientHandshake,
  resolved: Resolved,
  socket: Duplex | null,
  noExtendedConnect = false,
): void {
  try {
    if (noExtendedConnect) {
      ws.emit('http2-fallback', clientHandshakeError('WS_ERR_HANDSHAKE_NO_EXTENDED_CONNECT'));
      if (ws.readyState !== 0) return;
    }
    hs.http1(resolved);
  } catch (error) {
    socket?.destroy();
    fail(ws, error as Error);
  }
}

function whenSettled(entry: PoolEntry, cb: (outcome: Outcome) => void): void {
  if (entry.outcome !== null) cb(entry.outcome);
  else entry.waiters.push(cb);
}

function settle(entry: PoolEntry, outcome: Outcome): void {
  if (entry.outcome !== null) return;
  entry.outcome = outcome;
  if (outcome.kind !== 'h2' && pool.get(entry.key) === entry) pool.delete(entry.key);
  const waiters = entry.waiters;
  entry.waiters = [];
  for (let i = 0; i < waiters.length; i++) {
    // Only the first waiter can take over a TLS socket that negotiated http/1.1.
    if (i > 0 && outcome.kind === 'http1') waiters[i]({ ...outcome, socket: null });
    else waiters[i](outcome);
  }
}

/** One WebSocket is done with the entry: the last one closes the session. */
function release(entry: PoolEntry): void {
  entry.users--;
  if (entry.users > 0) return;
  if (pool.get(entry.key) === entry) pool.delete(entry.key);
  const session = entry.session;
  if (entry.outcome === null) {
    entry.abandoned = true;
    // Nobody waits for this connection any more (they all closed or timed out): a server that
    // never finishes the TLS handshake or never sends its SETTINGS must not keep it open.
    session?.destroy();
    entry.socket?.destroy();
  } else if (session !== null && !session.closed && !session.destroyed) session.close();
}

function openEntry(key: string, url: URL, resolved: Resolved): PoolEntry {
  const entry: PoolEntry = {
    key,
    outcome: null,
    waiters: [],
    users: 0,
    session: null,
    socket: null,
    abandoned: false,
  };
  const opts = resolved.opts;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const secure = url.protocol === 'wss:';
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const origin = `${secure ? 'https' : 'http'}://${url.host}`;
  const tlsOptions: Record<string, unknown> = {};
  for (const name of CONNECTION_KEYS) if (opts[name] !== undefined) tlsOptions[name] = opts[name];

  if (typeof opts.createConnection === 'function') {
    // The caller's function is called as over HTTP/1.1 (node:http's options, the port as written
    // in the URL, an optional callback), not as http2.connect would (authority, options): one
    // option, one signature. A wss: connection offers h2 by ALPN; one that is not HTTP/2 fails
    // the session, and HTTP/1.1 gets its chance as above.
    const create = opts.createConnection as (
      options: Record<string, unknown>,
      done: (error: Error | null, socket?: Duplex) => void,
    ) => Duplex | undefined;
    const { createConnection: _own, ...rest } = tlsOptions;
    const options: Record<string, unknown> = { ...rest, host, port: url.port || port };
    if (secure) {
      options.servername = opts.servername ?? (/^[\d.]+$|:/.test(host) ? undefined : host);
      options.ALPNProtocols = ['h2', 'http/1.1'];
    }
    let settled = false;
    const use = (error: Error | null, socket?: Duplex) => {
      if (settled) return;
      settled = true;
      if (error !== null) {
        // Later: the entry is in the pool once openEntry returns (settle() takes it out).
        process.nextTick(() => settle(entry, { kind: 'error', error }));
        return;
      }
      if (socket === undefined) return;
      if (entry.abandoned) {
        // createConnection called back after every WebSocket waiting for it left.
        socket.destroy();
        return;
      }
      entry.socket = socket;
      startSession(
        entry,
        connectSession(origin, { settings: SESSION_SETTINGS, createConnection: () => socket }),
      );
    };
    try {
      const socket = create(options, use);
      if (socket) use(null, socket);
    } catch (error) {
      use(error as Error);
    }
    return entry;
  }
  if (!secure) {
    // ws:// has no negotiation: HTTP/2 with prior knowledge (RFC 9113 3.3). A server that
    // does not speak it fails the session before its SETTINGS: fall back to HTTP/1.1 then.
    const socket = net.connect({ ...tlsOptions, host, port });
    entry.socket = socket;
    socket.setNoDelay(true);
    startSession(
      entry,
      connectSession(origin, { settings: SESSION_SETTINGS, createConnection: () => socket }),
    );
    return entry;
  }
  // wss://: offer both protocols by ALPN (RFC 7301), so a server without HTTP/2 costs no second
  // connection, then run the session over the socket that chose h2.
  const socket = tls.connect({
    ...tlsOptions,
    host,
    port,
    servername: opts.servername ?? (/^[\d.]+$|:/.test(host) ? undefined : host),
    ALPNProtocols: ['h2', 'http/1.1'],
  });
  entry.socket = socket;
  // Small frames leave at once, as on an HTTP/1.1 WebSocket's socket (the session's socket cannot
  // be reached once node's HTTP/2 owns it).
  socket.setNoDelay(true);
  const onError = (error: Error) => settle(entry, { kind: 'error', error });
  socket.once('error', onError);
  socket.once('secureConnect', () => {
    socket.removeListener('error', onError);
    // The socket keeps an error listener for its whole life: node's session stops listening when
    // it closes, and a reset that arrives after that (a peer killed while our FIN is in flight)
    // must not become an uncaught 'error'. The session still hears every error while it lives.
    socket.on('error', ignore);
    if (socket.alpnProtocol === 'h2') {
      startSession(
        entry,
        connectSession(origin, { ...tlsOptions, settings: SESSION_SETTINGS, createConnection: () => socket }),
      );
    } else {
      settle(entry, { kind: 'http1', socket });
    }
  });
  return entry;
}

function ignore(): void {}

/**
 * Flow-control windows of the sessions we open. HTTP/2's default, 65,535 bytes per stream and per
 * connection (RFC 9113 6.9.2), lets the server send only that much per round trip, where a
 * WebSocket over TCP has the kernel's buffers. A window also bounds what may arrive unread (a
 * paused WebSocket), so it stays well below what browsers allow themselves (Chromium: 6 MiB per
 * stream, 15 MiB per connection). Servers keep node's defaults unless their owner raises them
 * (docs/http2.md): there the window is memory a client may fill.
 */
const STREAM_WINDOW = 1024 * 1024;
const CONNECTION_WINDOW = 8 * 1024 * 1024;
const SESSION_SETTINGS = { initialWindowSize: STREAM_WINDOW };

function startSession(entry: PoolEntry, session: ClientHttp2Session): void {
  entry.session = session;
  const widen = () => session.setLocalWindowSize(CONNECTION_WINDOW);
  if (session.connecting) session.once('connect', widen);
  else widen();
  const leave = () => {
    if (pool.get(entry.key) === entry) pool.delete(entry.key);
  };
  session.on('error', (error: Error & { syscall?: string }) => {
    leave();
    // Before the server's SETTINGS: a failure to connect is reported as is; anything else
    // means the peer does not speak HTTP/2 here, so HTTP/1.1 gets its chance.
    if (error.syscall !== undefined) settle(entry, { kind: 'error', error });
    else settle(entry, { kind: 'http1', socket: null });
  });
  // A GOAWAY: no new streams on this session; those open run to their end.
  session.on('goaway', leave);
  session.on('close', () => {
    leave();
    settle(entry, { kind: 'http1', socket: null });
  });
  waitForSettings(session, (supported) => {
    if (supported) settle(entry, { kind: 'h2', session });
    else {
      // Its SETTINGS came (a session that failed first was settled by its 'error' or 'close').
      settle(entry, { kind: 'http1', socket: null, noExtendedConnect: !session.destroyed });
      if (entry.users === 0) session.close();
    }
  });
}

/**
 * Call `cb` once the server's SETTINGS say whether the extended CONNECT is allowed (RFC 8441
 * 3). A session whose SETTINGS arrived before we looked is settled by a PING: the server sends
 * its SETTINGS first (RFC 9113 3.4), so once the PING's answer is in, the setting is known.
 * Returns a cancel: `cb` is not called after it, and the session's listeners are removed (a PING
 * already sent is answered, or fails with the session, into a callback that does nothing).
 */
function waitForSettings(session: ClientHttp2Session, cb: (supported: boolean) => void): () => void {
  let done = false;
  const check = () => {
    if (done) return;
    const settings = session.destroyed ? null : session.remoteSettings;
    if (settings !== null && settings.enableConnectProtocol === true) {
      done = true;
      session.removeListener('remoteSettings', check);
      cb(true);
    } else if (settings === null || pingAnswered) {
      done = true;
      session.removeListener('remoteSettings', check);
      cb(false);
    }
  };
  let pingAnswered = false;
  session.on('remoteSettings', check);
  if (session.destroyed || session.closed) {
    pingAnswered = true;
    process.nextTick(check);
    return () => {
      done = true;
      session.removeListener('remoteSettings', check);
    };
  }
  const ping = () => {
    check();
    if (done) return;
    session.ping((err) => {
      pingAnswered = true;
      if (err && !done) {
        done = true;
        session.removeListener('remoteSettings', check);
        cb(false);
        return;
      }
      check();
    });
  };
  if (session.connecting) session.once('connect', ping);
  else ping();
  return () => {
    done = true;
    session.removeListener('remoteSettings', check);
    session.removeListener('connect', ping);
  };
}

/**
 * Open the WebSocket's stream on a session that allows the extended CONNECT. `retry` (pooled
 * sessions only) starts over when the server refused the stream before processing it, with the
 * refused request: `prior`, sent again as it was (a redirect's hop emits no second 'redirect':
 * the listener's header changes are in it, and the listener already decided about this hop).
 *
 * The answer (RFC 8441 5, RFC 9110 9.3.6): a 2xx is emitted as 'upgrade' (in place of the 101),
 * checked, and opens the WebSocket; with followRedirects a 3xx
 * with a non-empty Location is followed (hs.follow: a new hop, maybe to another origin, a new
 * session or HTTP/1.1); any other status goes to an 'unexpected-response' listener, as over
 * HTTP/1.1, with an Http2HandshakeRequest and an Http2HandshakeResponse, else fails with
 * WS_ERR_HANDSHAKE_STATUS.
 */
function openStream(
  ws: ClientHost,
  session: ClientHttp2Session,
  url: URL,
  resolved: Resolved,
  hs: ClientHandshake,
  entry: PoolEntry | null,
  retry: ((refused: Http2HandshakeRequest) => void) | null,
  deadline: number | null,
  prior: Http2HandshakeRequest | null = null,
): void {
  const { opts, protocols } = resolved;
  let request: Http2HandshakeRequest;
  let stream: ClientHttp2Stream;
  /** The request of this hop once made: one not sent is done, its 'close' is emitted here. */
  let hopRequest: Http2HandshakeRequest | null = prior;
  try {
    if (prior !== null) {
      request = prior;
    } else {
      request = hopRequest = new Http2HandshakeRequest(
        url,
        buildConnectRequest({
          authority: url.host,
          path: (url.pathname || '/') + url.search,
          scheme: url.protocol === 'wss:' ? 'https' : 'http',
          protocols,
          extensions: hs.offer,
          origin: opts.origin,
          headers: hs.headers(),
        }),
      );
      if (hs.redirected) {
        // ws 8: the listener gets the next request before it is sent, so it can still change it
        // (setHeader, removeHeader) or cancel it (destroy). Closing the WebSocket cancels it too.
        ws._setRequest(request);
        ws.emit('redirect', url.href, request);
        if (!ws._isRequest(request)) {
          // The WebSocket was closed by the listener: the request is cancelled hopRequest.
          if (entry !== null) release(entry);
          request.emit('close');
          return;
        }
        ws._setRequest(null);
      }
    }
    // Destroyed by a 'redirect' listener, or by one that kept it while a refused stream waited
    // for its retry.
    if (request.destroyed) throw request.failure();
    stream = request._send(session);
  } catch (err) {
    // A bad header is the caller's (it was validated by buildConnectRequest), a session that
    // went away in the meantime the network's, a 'redirect' listener's throw its own: all end
    // this handshake.
    if (entry !== null) release(entry);
    fail(ws, err as Error);
    // Destroyed or thrown over by a listener, or a refused request not sent again: it is done, as
    // a ClientRequest destroyed before it has a socket emits 'close' too.
    hopRequest?.emit('close');
    return;
  }
  if (entry !== null) stream.once('close', () => release(entry));
  // Before the answer, closing the WebSocket cancels the stream (RFC 8441 5: CANCEL).
  const pending = { destroy: () => stream.close(constants.NGHTTP2_CANCEL) };
  ws._setRequest(pending);
  let timer: NodeJS.Timeout | null = null;
  /** The answer went to an 'unexpected-response' listener: the stream is the listener's. */
  let handedOver = false;
  /** The request goes on with a retry: its 'close' comes with the last stream it is sent on. */
  let retrying = false;
  /** A 2xx came and went to 'upgrade', whose listener threw: the WebSocket is still CONNECTING. */
  let answered = false;
  /** True if the stream ended unanswered in a way RFC 9113 8.7 says is safe to retry. */
  const retried = (): boolean => {
    if (retry === null || stream.rstCode !== constants.NGHTTP2_REFUSED_STREAM) return false;
    retrying = true;
    ws._setRequest(null);
    retry(request);
    return true;
  };
  const onError = (err: Error) => {
    if (timer !== null) clearTimeout(timer);
    if (!ws._isRequest(pending) || (!handedOver && !answered && retried())) return;
    fail(ws, err);
  };
  stream.on('error', onError);
  stream.once('close', () => {
    if (timer !== null) clearTimeout(timer);
    if (retrying) return; // retried at its 'error'
    if (!ws._isRequest(pending)) {
      request.emit('close');
      return;
    }
    if (request.destroyed && (!handedOver || request.failure(false) !== undefined)) {
      // The request's destroy(), from a listener that kept it: its error, as over HTTP/1.1 (where
      // a request destroyed without one after its response fails nothing).
      request.emit('close');
      fail(ws, request.failure() as Error);
      return;
    }
    if (!handedOver && !answered && retried()) return;
    request.emit('close');
    // An answer handed to the listener: the WebSocket stays CONNECTING, the listener's to end.
    if (handedOver) return;
    // The reset's code goes in the cause, named as Node names the others it reports ("Stream
    // closed with error code NGHTTP2_..."): CANCEL and NO_ERROR come without a Node error.
    const key = answered ? 'WS_ERR_HANDSHAKE_STREAM_CLOSED_AFTER_ANSWER' : 'WS_ERR_HANDSHAKE_STREAM_CLOSED';
    fail(ws, clientHandshakeError(key, resetCodeText(stream.rstCode)));
  });
  if (deadline !== null) {
    // Until the answer, or for an answer handed to 'unexpected-response', until the stream is
    // over (its body read to its end), as over HTTP/1.1: one left unread would hold the stream,
    // and the pooled session with it, for good.
    timer = setTimeout(
      () => {
        if (!ws._isRequest(pending)) return;
        stream.close(constants.NGHTTP2_CANCEL);
        fail(ws, clientHandshakeError('WS_ERR_HANDSHAKE_TIMEOUT'));
      },
      Math.max(0, deadline - Date.now()),
    );
  }
  stream.once('response', (headers: IncomingHttpHeaders & IncomingHttpStatusHeader) => {
    if (!ws._isRequest(pending)) {
      if (timer !== null) clearTimeout(timer);
      stream.close(constants.NGHTTP2_CANCEL);
      return;
    }
    const status = headers[':status'] ?? 0;
    if (status < 200 || status > 299) {
      const location = headers.location;
      // An empty Location is not followed (it names this URL again), as over HTTP/1.1.
      if (
        hs.follow !== null &&
        status >= 300 &&
        status < 400 &&
        typeof location === 'string' &&
        location.trim()
      ) {
        if (timer !== null) clearTimeout(timer);
        ws._setRequest(null);
        stream.close(constants.NGHTTP2_CANCEL);
        const error = hs.follow(location.trim());
        if (error !== null) fail(ws, error);
        return;
      }
      if (ws.listenerCount('unexpected-response') > 0) {
        // ws compatibility: the listener owns the response; the WebSocket is not opened. Our
        // half of the stream ends, so the stream closes once the body is read; the deadline
        // runs on until then (above).
        handedOver = true;
        stream.end();
        ws.emit('unexpected-response', request, new Http2HandshakeResponse(stream, headers));
        return;
      }
    }
    if (timer !== null) clearTimeout(timer);
    if (status >= 200 && status <= 299) {
      // ws 8 emits 'upgrade' with the 101 as it arrives, before checking it (client.ts does the
      // same): here with the 2xx that takes its place (RFC 8441 5), so a listener reads its
      // headers (Set-Cookie) at the same point, before 'open' or a failed check. A listener that
      // throws leaves the WebSocket CONNECTING and the throw goes on to node's caller, as over
      // HTTP/1.1 (node's 'response' event, which the session survives).
      // Flagged first: if the listener throws, a later end of the stream is not "unanswered".
      answered = true;
      ws.emit('upgrade', new Http2HandshakeResponse(stream, headers, false));
      // The listener closed or terminated the WebSocket: that cancelled the stream (`pending`).
      if (!ws._isRequest(pending)) return;
    }
    ws._setRequest(null);
    const result = validateConnectResponse({ status, headers }, { protocols });
    if (!result.ok) {
      stream.close(constants.NGHTTP2_CANCEL);
      // A refusal reads as over HTTP/1.1 (ws's "Unexpected server response: 401").
      fail(ws, result.error);
      return;
    }
    stream.removeListener('error', onError);
    // The stream is the WebSocket's now: a request kept by a 'redirect' listener no longer
    // reaches it (as a ClientRequest lets go of its socket after the upgrade).
    request._detach();
    // Large sends go to node's session in pieces, as on the server (transport.ts).
    meterWrites(stream);
    hs.open(stream, result.protocol, result.extensions);
  });
}

/** node:http's error for a request destroyed without one (ECONNRESET, "socket hang up"). */
function hangUp(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

/**
 * The brands `instanceof` checks for the two classes below: on the prototype, found with
 * Symbol.for, so that the ESM and the CommonJS copy of riptide recognise each other's objects
 * (as WebSocket does).
 */
const kRequestBrand = Symbol.for('riptide.Http2HandshakeRequest');
const kResponseBrand = Symbol.for('riptide.Http2HandshakeResponse');

function branded(value: unknown, brand: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

/**
 * The extended CONNECT of one handshake, as a 'redirect' listener (before it is sent) and an
 * 'unexpected-response' listener see it: the part of http.ClientRequest's interface that
 * applies to a stream. `method` 'CONNECT', `protocol`, `host`, `path`; the header methods over
 * the regular fields (the pseudo-headers are the request line's parts); `stream` once sent;
 * destroy()/abort() cancel it (RST_STREAM CANCEL), and fail the WebSocket with the error given,
 * else ECONNRESET "socket hang up" as node:http would. 'close' once the stream is closed.
 */
export class Http2HandshakeRequest extends EventEmitter {
  readonly method: 'CONNECT' = 'CONNECT';
  readonly protocol: 'http:' | 'https:';
  readonly host: string;
  readonly path: string;
  /**
   * The stream once the request is sent; null before. A stream the server refused unprocessed
   * (REFUSED_STREAM, or beyond its GOAWAY's last stream) is retried: then the one it was sent on
   * again.
   */
  stream: ClientHttp2Stream | null = null;
  destroyed = false;
  private readonly _pseudo: Record<string, string> = {};
  private readonly _fields: Record<string, string | string[]> = {};
  private _error: Error | undefined;
  private _detached = false;

  constructor(url: URL, headers: Record<string, string>) {
    super();
    this.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
    this.host = url.hostname;
    this.path = headers[':path'];
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(':')) this._pseudo[name] = value;
      else this._fields[name] = value;
    }
  }

  /** `instanceof` holds for a request of another copy of riptide (ESM and CommonJS). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class asked about (a subclass too)
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    // biome-ignore lint/complexity/noThisInStatic: only the class itself answers for the other copy
    return this === Http2HandshakeRequest && branded(value, kRequestBrand);
  }

  get headersSent(): boolean {
    return this.stream !== null;
  }

  getHeader(name: string): string | string[] | undefined {
    return this._fields[String(name).toLowerCase()];
  }

  getHeaders(): Record<string, string | string[]> {
    return { ...this._fields };
  }

  getHeaderNames(): string[] {
    return Object.keys(this._fields);
  }

  hasHeader(name: string): boolean {
    return String(name).toLowerCase() in this._fields;
  }

  setHeader(name: string, value: string | number | readonly string[]): this {
    this._unsent('set');
    this._fields[String(name).toLowerCase()] = Array.isArray(value) ? [...value] : String(value);
    return this;
  }

  removeHeader(name: string): void {
    this._unsent('remove');
    delete this._fields[String(name).toLowerCase()];
  }

  destroy(error?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this._error = error;
    if (this.stream !== null && !this._detached && !this.stream.closed)
      this.stream.close(constants.NGHTTP2_CANCEL);
    return this;
  }

  abort(): void {
    this.destroy();
  }

  /** @internal What fails the WebSocket after destroy() (`orHangUp` false: only an error given). */
  failure(orHangUp = true): Error | undefined {
    return this._error ?? (orHangUp ? hangUp() : undefined);
  }

  /** @internal The WebSocket opened over the stream: destroy() leaves it alone. */
  _detach(): void {
    this._detached = true;
  }

  /** @internal Send it on `session`. */
  _send(session: ClientHttp2Session): ClientHttp2Stream {
    const stream = session.request({ ...this._pseudo, ...this._fields }, { endStream: false });
    this.stream = stream;
    return stream;
  }

  private _unsent(verb: string): void {
    if (this.stream !== null) {
      throw Object.assign(new Error(`Cannot ${verb} headers after they are sent to the client`), {
        code: 'ERR_HTTP_HEADERS_SENT',
      });
    }
  }
}

/**
 * The answer to the extended CONNECT, shaped as http.IncomingMessage: `statusCode`,
 * `statusMessage` ('': HTTP/2 has no reason phrase), `httpVersion` '2.0', `headers` (node's,
 * without the pseudo-headers), `rawHeaders`, and the body as a Readable.
 *
 * A non-2xx, as an 'unexpected-response' listener gets it: the stream is read only as this is
 * (an unread body holds it, as an unread response holds an HTTP/1.1 connection); destroy()
 * cancels it. A 2xx, as an 'upgrade' listener gets it: what follows on the stream is the
 * WebSocket's, so this body is empty and ended, and destroy() leaves the stream alone.
 */
export class Http2HandshakeResponse extends Readable {
  readonly statusCode: number;
  readonly statusMessage: '' = '';
  readonly httpVersion: '2.0' = '2.0';
  readonly httpVersionMajor: 2 = 2;
  readonly httpVersionMinor: 0 = 0;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[] = [];
  readonly trailers: IncomingHttpHeaders = {};
  readonly stream: ClientHttp2Stream;

  /** False for a 2xx: the stream carries the WebSocket, not this body. */
  private readonly _ownsStream: boolean;

  /** Made by the client; `ownsStream` false for the 2xx that opens the WebSocket (no body is read). */
  constructor(
    stream: ClientHttp2Stream,
    headers: IncomingHttpHeaders & IncomingHttpStatusHeader,
    ownsStream = true,
  ) {
    super();
    this.stream = stream;
    this._ownsStream = ownsStream;
    this.statusCode = headers[':status'] ?? 0;
    const fields: IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(':') || value === undefined) continue;
      fields[name] = value as string | string[];
      for (const v of Array.isArray(value) ? value : [value]) this.rawHeaders.push(name, String(v));
    }
    this.headers = fields;
    if (!ownsStream) {
      this.push(null);
      return;
    }
    // Paused first: the 'data' listener would start the flow, which waits for this one's reads.
    stream.pause();
    stream.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) stream.pause();
    });
    stream.once('end', () => this.push(null));
    stream.once('trailers', (t: IncomingHttpHeaders) => Object.assign(this.trailers, t));
    stream.once('close', () => {
      // Reset before its end (CANCEL, a lost session): no more body comes.
      if (!this.readableEnded && stream.readableEnded !== true) this.destroy();
    });
  }

  /** `instanceof` holds for a response of another copy of riptide (ESM and CommonJS). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class asked about (a subclass too)
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    // biome-ignore lint/complexity/noThisInStatic: only the class itself answers for the other copy
    return this === Http2HandshakeResponse && branded(value, kResponseBrand);
  }

  override _read(): void {
    if (this._ownsStream) this.stream.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this._ownsStream && !this.stream.closed) this.stream.close(constants.NGHTTP2_CANCEL);
    callback(error);
  }
}

Object.defineProperty(Http2HandshakeRequest.prototype, kRequestBrand, { value: true });
Object.defineProperty(Http2HandshakeResponse.prototype, kResponseBrand, { value: true });

/** RFC 9113 7's error codes, by value, as nghttp2 names them. */
const RST_NAMES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

/** "RST_STREAM NGHTTP2_CANCEL" for a stream's rstCode; undefined when it has none. */
function resetCodeText(code: number | undefined): string | undefined {
  if (typeof code !== 'number') return undefined;
  const name = RST_NAMES[code];
  return name === undefined ? `RST_STREAM 0x${code.toString(16)}` : `RST_STREAM NGHTTP2_${name}`;
}
