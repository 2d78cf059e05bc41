/**
 * The one place the chat touches a WebSocket library. Everything else sees the types below, which
 * are the ws 8 API subset riptide implements: a WebSocketServer in noServer mode, handleUpgrade,
 * and sockets with send / close / terminate / ping and 'message' / 'close' / 'pong' events.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';

export type ChatSocket = WebSocket;

export interface TransportOptions {
  /** Largest accepted message in bytes; a bigger one fails the connection with 1009. */
  maxPayload: number;
  /** Ping every this many ms; a socket that has not answered the previous ping is terminated. */
  heartbeatMs: number;
}

export class Transport {
  readonly #wss: WebSocketServer;
  readonly #alive = new WeakSet<ChatSocket>();
  readonly #timer: NodeJS.Timeout | undefined;

  constructor(options: TransportOptions) {
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload, clientTracking: true });
    if (options.heartbeatMs > 0) {
      this.#timer = setInterval(() => this.#beat(), options.heartbeatMs);
      this.#timer.unref();
    }
  }

  /** Completes the upgrade (the caller has already checked origin and session). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<ChatSocket> {
    return new Promise((resolve) => {
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        this.#alive.add(ws);
        // A peer's protocol violation (e.g. a frame over maxPayload) closes that socket with the
        // mapped code; without a listener ws would rethrow it and stop the whole server.
        ws.on('error', () => {});
        ws.on('pong', () => this.#alive.add(ws));
        resolve(ws);
      });
    });
  }

  get clients(): Set<ChatSocket> {
    return this.#wss.clients;
  }

  #beat(): void {
    for (const ws of this.#wss.clients) {
      if (!this.#alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.#alive.delete(ws);
      ws.ping();
    }
  }

  /** Closes every socket with `code`, waits up to `timeoutMs` for them, then terminates the rest. */
  async closeAll(code: number, reason: string, timeoutMs: number): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
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
