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
import { findHeadEnd, headTooLarge, parseRequestHead } from '../handshake/http.js';
import { buildRejectResponse, isUpgradeRequest } from '../handshake/server.js';

/** What the listener needs from the WebSocketServer. */
export interface UpgradeHandler {
  /** A connection arrived (starts its handshake timer). */
  _trackPending(socket: Socket): void;
  /** A head was refused (4xx written): drop its handshake timer. */
  _untrackPending(socket: Socket): void;
  /**
   * An upgrade request: run the handshake. The socket is paused; the server resumes it once
   * the WebSocket has attached its own 'data' listener.
   */
  _upgradeFromListener(req: IncomingMessage, socket: Socket, head: Buffer): void;
}

const kHandler = Symbol('riptide.upgradeHandler');
const kBuffered = Symbol('riptide.headBuffer');

type PendingSocket = Socket & { [kHandler]?: UpgradeHandler; [kBuffered]?: Buffer | null };

export function createUpgradeListener(handler: UpgradeHandler): Server {
  const server = createServer(onConnection);
  (server as Server & { [kHandler]?: UpgradeHandler })[kHandler] = handler;
  return server;
}

function onConnection(this: Server & { [kHandler]?: UpgradeHandler }, socket: PendingSocket): void {
  const handler = this[kHandler]!;
  socket[kHandler] = handler;
  socket[kBuffered] = null;
  socket.on('data', onHeadData);
  socket.on('error', onHeadError);
  handler._trackPending(socket);
}

function onHeadError(this: PendingSocket): void {
  this.destroy();
}

function onHeadData(this: PendingSocket, chunk: Buffer): void {
  const prev = this[kBuffered] ?? null;
  const buf = prev === null ? chunk : Buffer.concat([prev, chunk]);
  const end = findHeadEnd(buf, prev === null ? 0 : prev.length);
  if (end < 0) {
    if (headTooLarge(buf.length)) {
      reject(this, 431, 'Request Header Fields Too Large');
      return;
    }
    this[kBuffered] = buf;
    return;
  }
  const handler = this[kHandler]!;
  this.removeListener('data', onHeadData);
  this.removeListener('error', onHeadError);
  this[kBuffered] = undefined;
  this[kHandler] = undefined;
  const parsed = parseRequestHead(buf.subarray(0, end));
  if (!parsed.ok) {
    handler._untrackPending(this);
    writeAndClose(this, buildRejectResponse(parsed.error.status, parsed.error.message));
    return;
  }
  const head = parsed.value;
  if (!isUpgradeRequest(head.headers)) {
    // A plain HTTP request to a WebSocket-only port (RFC 9110 15.5.22).
    handler._untrackPending(this);
    writeAndClose(
      this,
      buildRejectResponse(426, 'Upgrade Required', { Upgrade: 'websocket', 'Sec-WebSocket-Version': '13' }),
    );
    return;
  }
  // No more automatic reading until the WebSocket attaches its own listener.
  this.pause();
  const req = new IncomingMessage(this);
  req.method = head.method;
  req.url = head.url;
  req.httpVersion = head.httpVersion;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = head.httpVersion === '1.0' ? 0 : 1;
  req.headers = head.headers as IncomingMessage['headers'];
  req.rawHeaders = head.rawHeaders;
  req.complete = true;
  const rest = end < buf.length ? buf.subarray(end) : EMPTY;
  handler._upgradeFromListener(req, this, rest);
}

function reject(socket: PendingSocket, status: number, message: string): void {
  const handler = socket[kHandler];
  socket.removeListener('data', onHeadData);
  socket[kBuffered] = undefined;
  handler?._untrackPending(socket);
  writeAndClose(socket, buildRejectResponse(status, message));
}

function writeAndClose(socket: Socket, response: Buffer): void {
  if (socket.writable) socket.end(response);
  else socket.destroy();
}

const EMPTY = Buffer.alloc(0);
