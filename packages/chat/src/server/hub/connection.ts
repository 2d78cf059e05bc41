/**
 * One WebSocket in the hub. This class is the one owner of a connection's state: its request
 * queue, the rooms it is in (and where each stands in its room's log), and what it may still write.
 *
 * - Requests run one after another on the queue, so replies keep request order and a close never
 *   races a half-done hello. More than `maxQueued` waiting requests pause reading from the socket
 *   (the peer's own TCP window then holds the rest) until the queue is short again.
 * - Outbound bytes are capped: a write that leaves more than `maxBufferedBytes` unsent ends the
 *   connection (terminate: a peer that does not read would not read a close frame either). The
 *   library applies the same cap to what it publishes (maxBackpressure, see transport.ts).
 * - Long writes (replays) wait for `drained()` whenever a send reports a full socket buffer, so a
 *   replay costs about one socket buffer of memory whatever its length.
 */
import type { ChatSocket } from '../transport.js';
import type { RoomChannel } from './room-channel.js';

const OPEN = 1;
/** The longest delay setTimeout takes (2^31 - 1 ms); node fires a longer one after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** Where one connection stands in one room. */
export interface ConnRoom {
  readonly room: string;
  readonly channel: RoomChannel;
  /** The last seq written to this connection (meaningful while catching up). */
  cursor: number;
  /**
   * Subscribed to the room's library topic: the room's live events and notices go straight to the
   * socket. While false (entering, or answering a sync) they are not sent; the replay brings the
   * events and `notices` keeps the notices until the connection goes live.
   */
  live: boolean;
  notices: string[];
  /**
   * The room's log went back (the store lost acknowledged events) while this connection was not
   * live: what it was sent or told may no longer be in the store, so its replay ends with `reset`.
   */
  reload: boolean;
  /**
   * This connection asked to leave the room (leave, delete_room) and waits for the store: the
   * change in the room's log takes it out without a word, the request's own answer tells it.
   */
  leaving?: boolean;
  /**
   * The room's log took the user out (or the room away) at a point this connection has not got
   * past: called before the channel publishes its next event (RoomChannel.onEvent), unless the
   * connection leaves first (the bus notice) or enters the room again meanwhile (LocalRooms.enter).
   */
  ended?: () => void;
}

export interface ConnectionLimits {
  maxBufferedBytes: number;
  maxQueued: number;
}

export class Connection {
  readonly rooms = new Map<string, ConnRoom>();
  /** hello was received (a second one is refused); `ready` once it has been answered. */
  helloSeen = false;
  ready = false;
  closed = false;
  /**
   * The room this connection's user last sent a message to, until its next typing notice there:
   * that notice passes the typing gate (see hub.ts, 'typing').
   */
  typingAfterSend: string | null = null;
  #queue: Promise<void> = Promise.resolve();
  #queued = 0;
  #paused = false;
  #congested = false;
  #helloTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  /** Resolves when the socket has closed. */
  readonly gone: Promise<void>;

  constructor(
    readonly id: string,
    readonly user: string,
    readonly token: string,
    /** When its session expires (clock time): one gone by then expired, it was not signed out. */
    readonly expiresAt: number,
    readonly socket: ChatSocket,
    readonly limits: ConnectionLimits,
  ) {
    socket.on('drain', () => {
      this.#congested = false;
    });
    this.gone = new Promise((resolve) =>
      socket.once('close', () => {
        clearTimeout(this.#helloTimer);
        clearTimeout(this.#expiryTimer);
        resolve();
      }),
    );
  }

  /**
   * Closes the socket with `code` and `reason` unless helloArrived() is called within `ms`: a
   * socket that never says hello holds a place of its user's socket cap for nothing.
   */
  expectHello(ms: number, code: number, reason: string): void {
    this.#helloTimer = setTimeout(() => {
      this.#helloTimer = undefined;
      if (!this.closed) this.socket.close(code, reason);
    }, ms);
    // The server's close() closes every socket itself; this timer must not hold the process.
    this.#helloTimer.unref();
  }

  /**
   * Calls `check` after `ms` (the session's expiry: Hub), unless the socket has closed by then. One
   * timer per connection, replaced by each call; `ms` is capped at what setTimeout takes (about
   * 24.8 days: a longer delay would fire at once), so a 30-day session needs a second one.
   */
  checkExpiryIn(ms: number, check: () => void): void {
    clearTimeout(this.#expiryTimer);
    if (this.closed) return;
    this.#expiryTimer = setTimeout(
      () => {
        this.#expiryTimer = undefined;
        if (!this.closed) check();
      },
      Math.min(ms, MAX_TIMER_MS),
    );
    this.#expiryTimer.unref();
  }

  /** A valid hello was received: whatever it waits for now is the server's doing, not the peer's. */
  helloArrived(): void {
    clearTimeout(this.#helloTimer);
    this.#helloTimer = undefined;
  }

  /** Writes one message; false when the connection is gone or was just dropped as too slow. */
  write(payload: string): boolean {
    if (this.closed || this.socket.readyState !== OPEN) return false;
    this.#congested = !this.socket.send(payload);
    if (this.socket.bufferedAmount > this.limits.maxBufferedBytes) {
      this.socket.terminate();
      return false;
    }
    return true;
  }

  /** Resolves once the socket took what was written (or closed); at once if it is not congested. */
  drained(): Promise<void> {
    if (!this.#congested || this.closed || this.socket.readyState !== OPEN) return Promise.resolve();
    return Promise.race([new Promise<void>((resolve) => this.socket.once('drain', resolve)), this.gone]);
  }

  get congested(): boolean {
    return this.#congested;
  }

  /** Queues a task after the connection's earlier ones. */
  run(task: () => Promise<void>, onError: (err: unknown) => void): void {
    this.#queued++;
    if (this.#queued > this.limits.maxQueued && !this.#paused && !this.closed) {
      this.#paused = true;
      this.socket.pause();
    }
    this.#queue = this.#queue
      .then(task)
      .catch(onError)
      .finally(() => {
        this.#queued--;
        if (this.#paused && this.#queued <= this.limits.maxQueued / 4) {
          this.#paused = false;
          if (!this.closed) this.socket.resume();
        }
      });
  }

  /** Resolves when every queued task has finished (shutdown). */
  idle(): Promise<void> {
    return this.#queue;
  }

  subscribe(topic: string): void {
    if (!this.closed && this.socket.readyState === OPEN) this.socket.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    if (!this.closed && this.socket.readyState === OPEN) this.socket.unsubscribe(topic);
  }
}
