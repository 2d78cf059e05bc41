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
 *
 * Presence reaches the connections as notices, which the bus delivers at most once: a notice lost
 * while this node's subscription was away would leave them with a wrong online list for good. So
 * the channel keeps what it told them (the users told online; those some connection may see
 * otherwise, because an online list it was given disagreed), and when the subscription is back
 * resync() tells them the differences from the store's list (LocalRooms.resyncPresence). The record
 * holds at most the room's users.
 */
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { ConnRoom } from './connection.js';

/** Events kept for connections finishing a replay (bounds the store round trips of a busy room). */
const RECENT = 256;
const TYPING = /^\{"v":\d+,"type":"typing"/;
const PRESENCE = /^\{"v":\d+,"type":"presence"/;
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
  /** Some member has `ended` set: onEvent runs them before the next event. */
  ending = false;
  #recent: { seq: number; payload: string }[] = [];
  #waiters: { seq: number; resolve: () => void }[] = [];
  /** Users this node last told the room's connections are online. */
  readonly #online = new Set<string>();
  /** Users some connection may see otherwise than #online says: told afresh by the next resync. */
  readonly #unsure = new Set<string>();
  #listed = false;
  /** While a resync reads the store: users a notice told of meanwhile (it is no older than the read). */
  #heard: Set<string> | null = null;

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
    // Connections whose stay ended in the log before this event: out first (ConnRoom.ended).
    if (this.ending) {
      this.ending = false;
      for (const member of [...this.members]) {
        const end = member.ended;
        member.ended = undefined;
        end?.();
      }
    }
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
    if (PRESENCE.test(payload)) {
      const { user, online } = JSON.parse(payload) as { user: string; online: boolean };
      if (online) this.#online.add(user);
      else this.#online.delete(user);
      // Every connection in the room gets this notice (those catching up, below): they agree now.
      this.#unsure.delete(user);
      this.#heard?.add(user);
    }
    this.publish(this.topic, payload);
    // Kept for connections still catching up, except typing: it is stale by the time they are
    // live, and a long replay must not gather every keystroke notice of a busy room.
    if (TYPING.test(payload)) return;
    for (const member of this.members) if (!member.live) member.notices.push(payload);
  };

  /**
   * A connection was given `online` (the store's list, in its welcome or joined): the first list
   * is what the room's connections were told; a later one that disagrees with the record leaves the
   * users it disagrees on unsure (a notice about them was lost, or is on its way).
   */
  listed(online: readonly string[]): void {
    if (!this.#listed) {
      this.#listed = true;
      this.#online.clear();
      for (const user of online) this.#online.add(user);
      return;
    }
    const list = new Set(online);
    for (const user of this.#online) if (!list.has(user)) this.#unsure.add(user);
    for (const user of list) if (!this.#online.has(user)) this.#unsure.add(user);
  }

  /** A resync is about to read the store's list: from now on, note whom notices tell of. */
  resyncing(): void {
    this.#heard ??= new Set();
  }

  /** The read failed: nothing to tell (the next resync starts over). */
  resyncFailed(): void {
    this.#heard = null;
  }

  /**
   * `online` is the store's list, read after the subscription was back (resyncing() before the
   * read): tells the room's connections each user on whom they may be wrong, except those a notice
   * told of during the read (the notice is at least as new as the list).
   */
  resync(online: readonly string[]): void {
    const heard = this.#heard ?? new Set<string>();
    this.#heard = null;
    const now = new Set(online);
    const unsure = new Set(this.#unsure);
    this.#unsure.clear();
    // Before any list was given, nothing was told: the members still waiting for theirs need none.
    const told = this.#listed ? new Set([...this.#online, ...now]) : new Set<string>();
    for (const user of [...told, ...unsure]) {
      if (heard.has(user)) continue;
      const isOnline = now.has(user);
      if (this.#online.has(user) === isOnline && !unsure.has(user)) continue;
      this.onNotice(
        JSON.stringify({ v: PROTOCOL_VERSION, type: 'presence', room: this.room, user, online: isOnline }),
      );
      heard.add(user); // told once, even if it was both unsure and different
    }
  }

  /** The payloads of seq `from` .. head, if the recent list holds them all; null if not. */
  recentFrom(from: number): string[] | null {
    if (from > this.head) return [];
    const first = this.#recent[0]?.seq;
    if (first === undefined || first > from) return null;
    return this.#recent.slice(from - first).map((e) => e.payload);
  }
}
