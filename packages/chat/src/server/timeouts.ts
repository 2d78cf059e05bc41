/**
 * The chat's deadlines for connections that have not yet shown what they are for, in one place
 * (SECURITY.md, "The chat's limits"; the hello deadline also in docs/chat-protocol.md section 2).
 *
 * Theory of operation
 * - node:http reads every request head, an upgrade's too, before the chat sees it; its defaults
 *   (headersTimeout 60 s, requestTimeout 300 s, both checked every 30 s) are replaced here.
 *   riptide's own handshakeTimeout does not cover this: in noServer mode it starts when
 *   handleUpgrade() is called, after node:http has read the head and the gate (http/upgrade.ts)
 *   has checked the session, and the chat's upgrade then completes in the same tick.
 * - requestTimeout bounds a whole request, body included, so it follows the largest upload
 *   (attachments.maxBytes) at the slowest link the chat still serves (minUploadBytesPerSecond).
 * - Over HTTP/2 (`tls`) these apply to the HTTP/1.1 connections the server also accepts; HTTP/2
 *   streams get theirs from closeIdleConnections.
 * - node:http's head deadline starts with a head's first byte, and node's HTTP/2 server has no
 *   deadline at all: a connection that sent nothing, an HTTP/2 connection with no stream open (its
 *   PINGs answered), and an HTTP/2 request whose body never ends were kept for ever, by anyone,
 *   signed in or not, one file descriptor each. closeIdleConnections gives each its deadline.
 * - A WebSocket is opened with the session cookie (the gate counts it against the user's socket
 *   cap at once), but does nothing until its `hello`: one that stays silent past helloMs is
 *   closed with HELLO_TIMEOUT_CLOSE, so silent sockets cannot hold the user's cap for long.
 */
import type { IncomingMessage, Server } from 'node:http';
import { constants, type Http2SecureServer, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';

export const TIMEOUTS = {
  /** A request head must have arrived whole within this (heads, an upgrade's too, are small). */
  headersMs: 15_000,
  /**
   * How often node:http looks for requests past headersMs or their requestTimeout: a head is cut
   * off between headersMs and headersMs + this (node's 30 s would let one take 45 s).
   */
  checkIntervalMs: 5_000,
  /** An idle keep-alive HTTP/1.1 connection is closed after this (node's own default, explicit). */
  keepAliveMs: 5_000,
  /** The slowest upload that must still finish in time: 32 KiB/s, i.e. 256 kbit/s. */
  minUploadBytesPerSecond: 32 * 1024,
  /** A WebSocket must send its `hello` within this of opening. */
  helloMs: 10_000,
} as const;

/**
 * 1013 (try again later), as for a hello that storage cut short: the client reconnects and
 * resumes. Not 1008, which the page takes for "signed out" and stops on: a tab frozen by its
 * browser between opening and hello is not signed out.
 */
export const HELLO_TIMEOUT_CLOSE = { code: 1013, reason: 'hello timeout' } as const;

/** A request's whole deadline: its head, then a body of `maxUploadBytes` at the slowest rate. */
export function requestTimeoutMs(maxUploadBytes: number): number {
  return TIMEOUTS.headersMs + Math.ceil(maxUploadBytes / TIMEOUTS.minUploadBytesPerSecond) * 1000;
}

/** Sets the deadlines above on a server before it listens (both kinds read them at 'listening'). */
export function applyHttpTimeouts(server: Server | Http2SecureServer, maxUploadBytes: number): void {
  const http1 = server as Server;
  http1.headersTimeout = TIMEOUTS.headersMs;
  http1.requestTimeout = requestTimeoutMs(maxUploadBytes);
  http1.keepAliveTimeout = TIMEOUTS.keepAliveMs;
  (http1 as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval =
    TIMEOUTS.checkIntervalMs;
}

/**
 * What node leaves open for ever (see above), closed: a connection (TCP, or with `tls` once its
 * handshake is done; the handshake itself within headersMs) that has begun no request within
 * headersMs + checkIntervalMs, by when node:http would have answered a head still arriving with 408;
 * an HTTP/2 connection with no stream open for as long (closed gracefully: GOAWAY); and an HTTP/2
 * request still open after requestTimeoutMs (its stream reset), as HTTP/1.1's requestTimeout. A
 * WebSocket's stream (extended CONNECT) is no request: it lives as long as the socket.
 */
export function closeIdleConnections(server: Server | Http2SecureServer, maxUploadBytes: number): void {
  const idleMs = TIMEOUTS.headersMs + TIMEOUTS.checkIntervalMs;
  // Each connection's deadline until its first request begins (then node's own deadlines apply).
  const pending = new WeakMap<Socket, NodeJS.Timeout>();
  const deadline = (socket: Socket) => {
    const timer = setTimeout(() => socket.destroy(), idleMs);
    timer.unref();
    pending.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  };
  const began = (req: IncomingMessage) => {
    if (req.httpVersionMajor !== 1) return;
    clearTimeout(pending.get(req.socket));
    pending.delete(req.socket);
  };
  server.on('request', began);
  server.on('checkContinue', began);
  server.on('upgrade', began);
  if (!('setSecureContext' in server)) {
    server.on('connection', deadline);
    return;
  }
  server.on('secureConnection', (socket: Socket & { alpnProtocol?: string | false }) => {
    if (socket.alpnProtocol !== 'h2') deadline(socket);
  });
  const requestMs = requestTimeoutMs(maxUploadBytes);
  server.on('session', (session: Http2Session) => {
    let open = 0;
    let timer: NodeJS.Timeout | undefined;
    const idle = () => {
      timer = setTimeout(() => {
        if (open === 0 && !session.closed) session.close();
      }, idleMs);
      timer.unref();
    };
    idle();
    session.on('stream', (stream: ServerHttp2Stream, headers: Record<string, unknown>) => {
      open++;
      clearTimeout(timer);
      const request =
        headers[':method'] === 'CONNECT'
          ? undefined
          : setTimeout(() => {
              if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
            }, requestMs);
      request?.unref();
      stream.once('close', () => {
        clearTimeout(request);
        if (--open === 0 && !session.closed) idle();
      });
    });
    session.once('close', () => clearTimeout(timer));
  });
}
