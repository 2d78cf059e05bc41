/**
 * A room as one node serves it: the room's committed events and notices in, the library's pub/sub
 * out. One channel per room with at least one connection on this node.
 *
 *   CommittedEvents ──onEvent(seq)──┐                 ┌── live connections: ws.subscribe(topic),
 *   NoticeBus ───────onNotice──────►├─ wss.publish ──►│   framed once for all (riptide topics)
 *                                   │                 └── maxBackpressure closes the slow ones
 *                                   └─ recent events; notices kept for connections catching up
 *
 * `head` is the last seq this node delivered: every event up to it is in the store, and every
 * event after it will come through onEvent. A connection catching up (replay.ts) reads the store
 * up to `head`, takes the rest from `recentFrom`, and subscribes in the same tick: so it gets each
 * event once and in order, with no event between the replay and the live stream.
 *
 * When the store lost acknowledged events (a networked store: see ports.ts, CommittedEvents) the
 * backend re-bases the channel (onRebased): `head` goes back to what the store holds, the live
 * connections get `reset` on the topic, before any event after that head, and those catching up
 * are marked to end their replay with `reset` (ConnRoom.reload).
 */
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { ConnRoom } from './connection.js';

/** Events kept for connections finishing a replay (bounds the store round trips of a busy room). */
const RECENT = 256;
const TYPING = /^\{"v":\d+,"type":"typing"/;
/**
 * An edit, a delete or a reaction changes an earlier message (and the quotes of its replies): the
 * recent list no longer shows it as it is.
 */
const CHANGE = /^\{"v":\d+,"type":"(?:edited|deleted|reacted)"/;

export class RoomChannel {
  readonly topic: string;
  head = 0;
  /** Resolves once the committed events are open (head known); rejects if they could not be. */
  ready: Promise<void> = Promise.resolve();
  settled = false;
  readonly members = new Set<ConnRoom>();
  #recent: { seq: number; payload: string }[] = [];
  #waiters: { seq: number; resolve: () => void }[] = [];

  constructor(
    readonly room: string,
    readonly publish: (topic: string, payload: string) => void,
  ) {
    this.topic = `room:${room}`;
  }

  /** The committed events start after `head` (events may already have arrived before this). */
  start(head: number): void {
    if (head > this.head) this.head = head;
    this.#wake();
  }

  readonly onEvent = (seq: number, payload: string): void => {
    if (seq <= this.head) return;
    const last = this.#recent.at(-1);
    // A gap (a stream trimmed past this node's cursor during a long outage), an edit, a delete or
    // a reaction empties the recent list: replays then come from the store, which shows every message as it
    // is now (and a deleted text never again).
    if ((last !== undefined && last.seq !== seq - 1) || seq !== this.head + 1 || CHANGE.test(payload))
      this.#recent = [];
    else {
      this.#recent.push({ seq, payload });
      if (this.#recent.length > RECENT) this.#recent.shift();
    }
    this.head = seq;
    this.publish(this.topic, payload);
    if (this.#waiters.length > 0) this.#wake();
  };

  /**
   * The store's log went back to `head`: this node's events after it are not in the store any more
   * (other events get their seqs). Every connection in the room reloads it.
   */
  readonly onRebased = (head: number): void => {
    this.head = head;
    this.#recent = [];
    for (const member of this.members) if (!member.live) member.reload = true;
    this.publish(this.topic, JSON.stringify({ v: PROTOCOL_VERSION, type: 'reset', room: this.room, head }));
    // Those waiting for a seq the store may never have again look at the room anew.
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const w of waiting) w.resolve();
  };

  /**
   * Resolves once the channel has delivered `seq` (the store has it: it will come), or the log
   * went back (the caller then finds `head` below `seq`).
   */
  reached(seq: number): Promise<void> {
    if (this.head >= seq) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ seq, resolve }));
  }

  #wake(): void {
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const w of waiting) {
      if (this.head >= w.seq) w.resolve();
      else this.#waiters.push(w);
    }
  }

  readonly onNotice = (payload: string): void => {
    this.publish(this.topic, payload);
    // Kept for connections still catching up, except typing: it is stale by the time they are
    // live, and a long replay must not gather every keystroke notice of a busy room.
    if (TYPING.test(payload)) return;
    for (const member of this.members) if (!member.live) member.notices.push(payload);
  };

  /** The payloads of seq `from` .. head, if the recent list holds them all; null if not. */
  recentFrom(from: number): string[] | null {
    if (from > this.head) return [];
    const first = this.#recent[0]?.seq;
    if (first === undefined || first > from) return null;
    return this.#recent.slice(from - first).map((e) => e.payload);
  }
}
