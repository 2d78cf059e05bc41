/**
 * One WebSocket to the chat with automatic reconnect: exponential backoff with jitter
 * (0.5 s doubling to 30 s, each wait drawn uniformly from [d/2, d]), reset after a welcome.
 * A close with 1008 (policy: signed out) or a missing session stops reconnecting.
 */
import type { ClientMessage, ServerMessage } from '../shared/protocol.js';

export type Status =
  | { state: 'connecting' }
  | { state: 'online' }
  | { state: 'offline'; retryInMs: number }
  | { state: 'signed-out' };

export interface ConnectionHandlers {
  onOpen(): void;
  onMessage(message: ServerMessage): void;
  onStatus(status: Status): void;
}

const BASE_MS = 500;
const CAP_MS = 30_000;

export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export class Connection {
  #ws: WebSocket | null = null;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  readonly #handlers: ConnectionHandlers;

  constructor(handlers: ConnectionHandlers) {
    this.#handlers = handlers;
  }

  get open(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN;
  }

  connect(): void {
    clearTimeout(this.#timer);
    if (this.#stopped) return;
    this.#handlers.onStatus({ state: 'connecting' });
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/ws`);
    this.#ws = ws;
    ws.onopen = () => this.#handlers.onOpen();
    ws.onmessage = (event) => {
      let message: ServerMessage;
      try {
        message = JSON.parse(String(event.data)) as ServerMessage;
      } catch {
        return;
      }
      if (message.type === 'welcome') {
        this.#attempt = 0;
        this.#handlers.onStatus({ state: 'online' });
      }
      this.#handlers.onMessage(message);
    };
    ws.onclose = (event) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      if (event.code === 1008) {
        this.stop();
        return;
      }
      void this.#scheduleReconnect();
    };
  }

  async #scheduleReconnect(): Promise<void> {
    if (this.#stopped) return;
    // A refused upgrade looks like any other failure to a page; ask whether we are still signed in.
    if (this.#attempt > 0) {
      const res = await fetch('/api/session', { cache: 'no-store' }).catch(() => null);
      if (res?.status === 401) {
        this.stop();
        return;
      }
    }
    const delay = backoffDelay(this.#attempt++);
    this.#handlers.onStatus({ state: 'offline', retryInMs: delay });
    this.#timer = setTimeout(() => this.connect(), delay);
  }

  /** Reconnects now (the user asked, or the browser came back online). */
  retryNow(): void {
    if (!this.#ws && !this.#stopped) this.connect();
  }

  send(message: ClientMessage): boolean {
    if (this.#ws?.readyState !== WebSocket.OPEN) return false;
    this.#ws.send(JSON.stringify(message));
    return true;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const ws = this.#ws;
    this.#ws = null;
    ws?.close(1000);
    this.#handlers.onStatus({ state: 'signed-out' });
  }
}
