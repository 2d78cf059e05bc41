/**
 * Server-wide heartbeat: ONE timer per server pings every client; a client that has not
 * answered the previous ping when the next check comes is terminated ('close' 1006, error
 * code WS_ERR_HEARTBEAT_TIMEOUT to 'error' listeners).
 *
 *   t=0         ping all (each marked "awaiting pong")
 *   t=timeout   terminate those still awaiting (only when timeout < interval; else at t=interval)
 *   t=interval  terminate those still awaiting, ping the rest again
 *
 * RFC 6455 5.5.2/5.5.3: a Ping "MAY serve either as a keepalive or as a means to verify that
 * the remote endpoint is still responsive"; the peer MUST answer with a Pong. Any pong counts
 * (an unsolicited one too: it still proves the peer is alive).
 *
 * Timers run before the event loop reads the sockets (Node's timers phase comes before its poll
 * phase), so a round that ran in its timer callback would judge the pongs that arrived while the
 * process was busy (a long synchronous task, a GC pause) as missing, and terminate peers that
 * answered in time. Each round therefore runs from setImmediate, after the next poll phase has
 * read what the kernel holds.
 */
import type { ResolvedHeartbeat } from './options.js';

/**
 * What the heartbeat asks of each client (websocket.ts implements it; the "awaiting a pong" mark
 * is the WebSocket's own state).
 */
export interface HeartbeatPeer {
  /** Ping, and expect a pong before the next check (an open socket only). */
  _heartbeatPing(): void;
  /** No pong since the last ping: terminate (1006, WS_ERR_HEARTBEAT_TIMEOUT); true if it did. */
  _heartbeatCheck(): boolean;
}

export class Heartbeat {
  private readonly clients: Set<HeartbeatPeer>;
  private readonly interval: number;
  private readonly timeout: number;
  private timer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;

  constructor(clients: Set<HeartbeatPeer>, options: ResolvedHeartbeat) {
    this.clients = clients;
    this.interval = options.interval;
    this.timeout = options.timeout;
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(tick, this.interval, this);
    // The heartbeat alone never keeps the process alive (a listening server does).
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    if (this.checkTimer !== null) clearTimeout(this.checkTimer);
    this.timer = this.checkTimer = null;
  }

  /** @internal False once stopped (a round deferred to setImmediate then does nothing). */
  _running(): boolean {
    return this.timer !== null;
  }

  /** @internal One round: reap the previous round's silent clients, ping everyone again. */
  _tick(): void {
    // Without a separate timeout, the previous round is checked right before the next pings.
    this._reap();
    for (const ws of this.clients) ws._heartbeatPing();
    if (this.timeout < this.interval && this.checkTimer === null) {
      this.checkTimer = setTimeout(reap, this.timeout, this);
      this.checkTimer.unref();
    }
  }

  /** @internal Terminate every client still awaiting a pong. */
  _reap(): void {
    if (this.checkTimer !== null) {
      clearTimeout(this.checkTimer);
      this.checkTimer = null;
    }
    for (const ws of this.clients) ws._heartbeatCheck();
  }
}

function tick(hb: Heartbeat): void {
  setImmediate(tickAfterReads, hb);
}

function reap(hb: Heartbeat): void {
  setImmediate(reapAfterReads, hb);
}

function tickAfterReads(hb: Heartbeat): void {
  if (hb._running()) hb._tick();
}

function reapAfterReads(hb: Heartbeat): void {
  if (hb._running()) hb._reap();
}
