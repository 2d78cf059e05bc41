/**
 * The one place the chat touches the WebSocket library: riptide, through its public API only (the
 * ws 8 API plus riptide's heartbeat, topics and backpressure). Everything else sees the types below.
 *
 * The HTTP server (http/upgrade.ts) checks the Origin, the session and the per-user socket cap
 * first, then hands the upgrade (or, over HTTP/2, the stream) here; the WebSocketServer runs in
 * noServer mode.
 *
 * Live room traffic goes through riptide's topics: publish() frames a message once for every
 * subscribed socket, and a socket with more than `maxBufferedBytes` unsent is closed with 1013
 * (try again later: the page reconnects and replays what it missed) instead of being written to.
 */
import type { IncomingMessage } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'riptide';

export type ChatSocket = WebSocket;

export interface TransportOptions {
  /** Largest accepted message in bytes; a bigger one fails the connection with 1009. */
  maxPayload: number;
  /** Ping every this many ms; a socket that has not answered the previous ping is terminated. */
  heartbeatMs: number;
  /** Unsent bytes a socket may hold before published traffic closes it (1013). */
  maxBufferedBytes: number;
  /** How long a close waits for the peer's close frame before the socket is destroyed, ms. */
  closeTimeoutMs: number;
}

export class Transport {
  readonly #wss: WebSocketServer;

  constructor(options: TransportOptions) {
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload,
      clientTracking: true,
      closeTimeout: options.closeTimeoutMs,
      maxBackpressure: options.maxBufferedBytes,
      onBackpressure: 'close',
      // 1013 and not the default 1008: the page treats 1008 as "signed out" and stops.
      backpressureCloseCode: 1013,
      // A peer that pings and never reads is dropped once 60 automatic pongs wait unwritten
      // (riptide's default, as ws; set here so the chat never runs without it: issue 12, hole 2).
      maxPendingAutoPongs: 60,
      // riptide's heartbeat: one timer for the whole server, not one per socket.
      ...(options.heartbeatMs > 0 ? { heartbeat: { interval: options.heartbeatMs } } : {}),
    });
  }

  /**
   * Completes the upgrade (the caller has already checked origin, session and caps). Without a
   * verifyClient, riptide answers or refuses the handshake synchronously: `onOpen` runs before this
   * returns, or never (the library refused a malformed upgrade itself).
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, onOpen: (ws: ChatSocket) => void): void {
    this.#wss.handleUpgrade(req, socket, head, onOpen);
  }

  /** The same for a WebSocket over an HTTP/2 stream (RFC 8441 extended CONNECT). */
  upgradeStream(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    onOpen: (ws: ChatSocket) => void,
  ): void {
    this.#wss.handleStream(stream, headers, onOpen);
  }

  /** Sends `payload` to every socket subscribed to `topic` (framed once). */
  publish(topic: string, payload: string): void {
    this.#wss.publish(topic, payload);
  }

  get clients(): Set<ChatSocket> {
    return this.#wss.clients;
  }

  /** Closes every socket with `code`, waits up to `timeoutMs` for them, then terminates the rest. */
  async closeAll(code: number, reason: string, timeoutMs: number): Promise<void> {
    const sockets = [...this.#wss.clients];
    const closed = sockets.map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())));
    for (const ws of sockets) ws.close(code, reason);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}
