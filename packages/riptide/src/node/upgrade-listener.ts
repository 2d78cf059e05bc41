/**
 * The listener of `new WebSocketServer({ port })`: a net.Server that reads ONE HTTP/1.1
 * request head per connection with the pure parser (../handshake/http.ts) and hands upgrade
 * requests to WebSocketServer.handleUpgrade. Plain HTTP requests get 426 Upgrade Required and
 * a closed connection, malformed heads their 4xx.
 *
 * Why not node:http: an http.Server sets up a parser, a per-connection state object and half a
 * dozen closures for every connection, and leaves some of it on the socket after the upgrade.
 * For a WebSocket-only port none of that is needed; measured with 10,000 idle connections
 * (wsload hold) and handshakes per second (wsload connect), see bench/RESULTS.md.
 *
 * The request handed to 'connection' and verifyClient is a real http.IncomingMessage with
 * method, url, httpVersion, headers and rawHeaders filled in, so code written for ws keeps
 * working (req.headers, req.url, req.socket.remoteAddress, instanceof IncomingMessage).
 */
import { IncomingMessage } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { getDefaultHighWaterMark } from 'node:stream';
import { findHeadEnd, headTooLarge, parseRequestHead } from '../handshake/http.js';
import { buildRejectResponse, isUpgradeRequest } from '../handshake/server.js';
import { rememberServer, serverOf } from './internals.js';

/** What the listener needs from the WebSocketServer. */
export interface UpgradeHandler {
  /**
   * A connection arrived (starts its handshake timer). The socket stays on the timer's list until
   * it is upgraded or closed: a refused one whose answer never flushes is destroyed at its deadline.
   */
  _trackPending(socket: Socket): void;
  /**
   * An upgrade request: run the handshake. True if a WebSocket is attached to the socket when
   * this returns; otherwise the listener pauses the socket, and the server resumes it once the
   * WebSocket has attached (a refused socket stays paused).
   */
  _upgradeFromListener(req: IncomingMessage, socket: Socket, head: Buffer): boolean;
}

const kHandler = Symbol('riptide.upgradeHandler');
const kBuffered = Symbol('riptide.headBuffer');

/**
 * A head split across reads: its bytes so far (`data` up to `length`). The storage doubles when
 * it fills, so a head sent a byte at a time costs O(n) copying in all, not a copy of everything
 * buffered on every read (about 134 MB for a 16 KiB head in one-byte reads).
 */
export interface PartialHead {
  data: Buffer;
  length: number;
}

type PendingSocket = Socket & { [kBuffered]?: PartialHead | null };

type ListenerServer = Server & { [kHandler]?: UpgradeHandler };

export function createUpgradeListener(handler: UpgradeHandler): Server {
  const server: ListenerServer = createServer(onConnection);
  server[kHandler] = handler;
  return server;
}

/**
 * The handler of an accepted socket, through the server that accepted it (internals.ts: Node's
 * own `socket.server` where it exists, so no property of ours stays on every socket).
 */
function handlerOf(socket: Socket): UpgradeHandler {
  return (serverOf(socket) as ListenerServer)[kHandler]!;
}

function onConnection(this: ListenerServer, socket: PendingSocket): void {
  rememberServer(socket, this);
  socket.on('data', onHeadData);
  socket.on('error', onHeadError);
  this[kHandler]!._trackPending(socket);
}

function onHeadError(this: PendingSocket): void {
  this.destroy();
}

function onHeadData(this: PendingSocket, chunk: Buffer): void {
  // A head split across reads (rare) is kept on the socket until its end arrives.
  const prev = this[kBuffered] ?? null;
  const from = prev === null ? 0 : prev.length;
  const buf = prev === null ? chunk : appendToHead(prev, chunk);
  const end = findHeadEnd(buf, from);
  if (typeof end !== 'number') {
    // Bytes no later read can turn into a head (a bare LF line ending...): answered now, as
    // node:http does, not left to the handshake deadline.
    refuse(this, buildRejectResponse(end.status, end.message));
    return;
  }
  if (end < 0) {
    if (headTooLarge(buf.length)) {
      refuse(this, buildRejectResponse(431, 'Request Header Fields Too Large'));
      return;
    }
    // The first piece is kept as it came (its storage is full: the next read copies it once).
    if (prev === null) this[kBuffered] = { data: chunk, length: chunk.length };
    return;
  }
  if (prev !== null) this[kBuffered] = null;
  // Usually the chunk is the head, nothing after it: no view of it is made.
  const parsed = parseRequestHead(end === buf.length ? buf : buf.subarray(0, end));
  if (!parsed.ok) {
    refuse(this, buildRejectResponse(parsed.error.status, parsed.error.message));
    return;
  }
  const head = parsed.value;
  if (!isUpgradeRequest(head.headers)) {
    // A plain HTTP request to a WebSocket-only port (RFC 9110 15.5.22).
    refuse(
      this,
      buildRejectResponse(426, 'Upgrade Required', { Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' }),
    );
    return;
  }
  const handler = handlerOf(this);
  this.removeListener('data', onHeadData);
  // handleUpgrade attaches its own error listener (and the WebSocket its own after that).
  this.removeListener('error', onHeadError);
  // Given the socket, IncomingMessage builds an options object to copy its highWaterMark into
  // the request's (never read: the request has no body); where that is the default anyway, the
  // socket is set afterwards, as the constructor would have.
  const req = new IncomingMessage(this.readableHighWaterMark === DEFAULT_HWM ? (null as never) : this);
  req.socket = this;
  (req as IncomingMessage & { client: Socket }).client = this;
  req.method = head.method;
  req.url = head.url;
  req.httpVersion = head.httpVersion;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = head.httpVersion === '1.0' ? 0 : 1;
  req.headers = head.headers as IncomingMessage['headers'];
  req.rawHeaders = head.rawHeaders;
  req.complete = true;
  const rest = end < buf.length ? buf.subarray(end) : EMPTY;
  // Bytes after the head go back into the socket (unshift) when the WebSocket attaches; on a
  // flowing socket they would be delivered at once, before the 'connection' handlers have
  // attached theirs. Paused, they wait for the server's resume() (a nextTick later).
  if (rest.length > 0) this.pause();
  const attached = handler._upgradeFromListener(req, this, rest);
  // Nothing is read while this 'data' handler runs, and a handshake without an asynchronous
  // verifyClient has attached the WebSocket by now (reading on, through its 'data' listener or
  // the shared read buffer, which adds none: asking for 'data' listeners would stop a socket
  // that reads into it, for Node to start it again a tick later). Otherwise stop reading until
  // it does (the server resumes the socket then): bytes arriving meanwhile would be lost.
  if (!attached && !this.destroyed) this.pause();
}

/** Append a read to a partial head; returns a view of the bytes buffered so far. */
export function appendToHead(head: PartialHead, chunk: Buffer): Buffer {
  const length = head.length + chunk.length;
  if (length > head.data.length) {
    const data = Buffer.allocUnsafe(Math.max(length, head.data.length * 2));
    head.data.copy(data, 0, 0, head.length);
    head.data = data;
  }
  chunk.copy(head.data, head.length);
  head.length = length;
  return head.data.subarray(0, length);
}

/**
 * Answer a refused head and let the socket go (issue 12, holes 1, 4 and 5):
 * - the error listener stays: a client that resets the connection without reading the answer
 *   makes the write fail with ECONNRESET, which must not reach an unhandled 'error';
 * - nothing more is read: a client that keeps sending after a 431 is not read on;
 * - the socket is destroyed once the answer is flushed, not merely half-closed: a client that
 *   never closes its side must not hold a descriptor. One that never reads the answer (a zero
 *   window) is destroyed at its handshake deadline, since the socket stays on that list.
 */
function refuse(socket: PendingSocket, response: Buffer): void {
  socket.removeListener('data', onHeadData);
  socket[kBuffered] = null;
  socket.pause();
  if (socket.writable) {
    socket.once('finish', socket.destroy);
    socket.end(response);
  } else {
    socket.destroy();
  }
}

const EMPTY = Buffer.alloc(0);
const DEFAULT_HWM = getDefaultHighWaterMark(false);
