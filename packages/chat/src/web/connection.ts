/**
 * One WebSocket to the chat with automatic reconnect: backoff with jitter, reset after a welcome
 * (backoffDelay: 0.25-0.5 s first, then 0.5-1 s while a restart is likely, then doubling to 30 s).
 * A missing session stops reconnecting.
 *
 * A WebSocket that never opened was refused or never reached the server; the browser does not say
 * which, so the page asks `GET /ws` (the server answers what an upgrade would get): 401 stops,
 * 429 (too many open tabs) is told to the user and waits at least its Retry-After. A close with
 * 1008 (policy: this socket's session ended) asks the same way before it stops: the cookie the page
 * holds now may be a newer session's.
 */
import type { ClientMessage, ServerMessage } from '../shared/protocol.js';

export type Status =
  | { state: 'connecting' }
  | { state: 'online' }
  | { state: 'offline'; retryInMs: number }
  /** The server refused the WebSocket (429: this user has too many open). */
  | { state: 'refused'; retryInMs: number; reason: string }
  | { state: 'signed-out' };

export interface ConnectionHandlers {
  onOpen(): void;
  onMessage(message: ServerMessage): void;
  onStatus(status: Status): void;
}

const FIRST_MS = 500;
const QUICK_MS = 1000;
/** Tries after the first at QUICK_MS: about 4.5 s, what a server's restart takes. */
const QUICK_TRIES = 4;
const CAP_MS = 30_000;

/**
 * The wait before try `attempt` (0: the first after the connection was lost), drawn uniformly from
 * [c/2, c] (jitter, so the pages of a restarted server do not all come back at once) for a ceiling
 * c of 0.5 s, then 1 s for four tries, then 2 s doubling to 30 s. Doubling from the first try (0.5,
 * 1, 2, 4 s) had a page find a server restarted in 2-3 s only 5.5-6.3 s after it went away (its
 * tries at ~0.4, 1.1, 2.6 and 5.6 s); a server down for longer is tried as seldom as before, one try
 * in 15-30 s once 30 s is reached.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling =
    attempt === 0
      ? FIRST_MS
      : attempt <= QUICK_TRIES
        ? QUICK_MS
        : Math.min(CAP_MS, QUICK_MS * 2 ** (attempt - QUICK_TRIES));
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
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.#handlers.onOpen();
    };
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
      // 1008: this socket's session ended. The page may still hold a good cookie (a password change
      // renewed it and this node missed the notice that closes with 4001, or another tab signed in
      // again), so the server is asked as for a refused upgrade: 401 stops, else the page comes back.
      void this.#scheduleReconnect(opened && event.code !== 1008);
    };
  }

  async #scheduleReconnect(opened: boolean): Promise<void> {
    if (this.#stopped) return;
    let delay = backoffDelay(this.#attempt++);
    if (!opened) {
      // A refused upgrade looks like any other failure to a page: ask the server what it was.
      const res = await fetch('/ws', { cache: 'no-store' }).catch(() => null);
      if (this.#stopped) return;
      if (res?.status === 401) {
        this.stop();
        return;
      }
      if (res?.status === 429) {
        const retryAfterMs = Number(res.headers.get('retry-after') ?? '5') * 1000;
        delay = Math.max(delay, retryAfterMs);
        this.#handlers.onStatus({
          state: 'refused',
          retryInMs: delay,
          reason: 'Too many chat tabs are open for your account — close one',
        });
        this.#timer = setTimeout(() => this.connect(), delay);
        return;
      }
    }
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
