/**
 * The one place the chat touches the WebSocket library: riptide, through its public API only
 * (the ws 8 API plus riptide's server-wide heartbeat). Everything else sees the types below.
 *
 * The HTTP server (http.ts) checks the Origin and the session cookie first, then hands the
 * upgrade here; the WebSocketServer runs in noServer mode.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'riptide';

export type ChatSocket = WebSocket;

export interface TransportOptions {
  /** Largest accepted message in bytes; a bigger one fails the connection with 1009. */
  maxPayload: number;
  /** Ping every this many ms; a socket that has not answered the previous ping is terminated. */
  heartbeatMs: number;
}

export class Transport {
  readonly #wss: WebSocketServer;

  constructor(options: TransportOptions) {
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload,
      clientTracking: true,
      // riptide's heartbeat: one timer for the whole server, not one per socket.
      ...(options.heartbeatMs > 0 ? { heartbeat: { interval: options.heartbeatMs } } : {}),
    });
  }

  /** Completes the upgrade (the caller has already checked origin and session). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<ChatSocket> {
    return new Promise((resolve) => {
      this.#wss.handleUpgrade(req, socket, head, (ws) => resolve(ws));
    });
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
