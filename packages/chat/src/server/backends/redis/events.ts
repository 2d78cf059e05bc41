/**
 * Committed events on Redis: each node reads the streams of the rooms it has clients in.
 *
 * Theory of operation
 * - Room log events are not published at all: the store's append script already XADDed them to the
 *   room's stream with id `<seq>-0`. Each node runs ONE reader loop on its own connection: XREAD
 *   BLOCK over the streams of its open rooms, from the last id it delivered. So every node delivers
 *   a room's events in seq order (the stream's order), each once, and a node with no client in a
 *   room never reads its stream.
 * - Waking the reader when its room set changes (a room opened or closed, a hint) must not be
 *   lost. Each reader has a private wake stream (`wake:<random id>`) that every XREAD includes, read
 *   from an explicit id: `<w>-0`, where w is the number of wakes this reader had sent when it built
 *   that read's room set. A wake is an XADD with the next id `<w+1>-0` (MAXLEN 1, expiring after
 *   WAKE_TTL_MS so that a dead node leaves nothing behind; stop() deletes it), sent on the command
 *   connection. Whatever order the XADD and the XREAD reach Redis in, the read ends at once:
 *   before, the XREAD finds an entry above its id and returns without blocking; after, the XADD
 *   ends the blocked XREAD. (CLIENT UNBLOCK, used before, did nothing when it reached Redis before
 *   the XREAD, e.g. sent while the read was built but not yet at Redis on the other connection,
 *   and the read then ran on the old room set for up to blockMs.) A change made before a read's
 *   room set is built needs no wake: that read includes it. The ids come from this process's
 *   counter, not from Redis's clock, so a wake stream that expired (or was lost) and is created
 *   again by the next XADD still gets an id above what any read waits from; only this reader
 *   writes its stream, so the ids never clash. One wake per read is enough: more changes before
 *   that read returns are seen when the next one is built. stop() sends no wake: it disconnects
 *   the reader.
 * - open(room) reads the room's counter (GET seq) and resolves with it: the reader delivers every
 *   event after that seq. Events up to it are in the stream and the history already.
 * - Redis down: the reader retries with backoff from the ids it has delivered, so nothing is
 *   skipped when Redis returns.
 * - Redis back with less than this node delivered (it lost acknowledged writes): the room's log
 *   went back (log-regression.ts). The reader checks every entry it reads against the one it
 *   delivered before it, and between two reads compares the counters of its rooms (one MGET) with
 *   its positions: after every reconnection, every `checkMs`, and at once for a room in which
 *   this node's own append got a seq it had already delivered (the store's hint). A room whose log
 *   went back is re-based: its position becomes what Redis holds now, one warning is logged and
 *   the room's `rebased` callback runs (the hub tells the room's clients to reload it), then the
 *   events after it are delivered as usual. Nothing is written to Redis, so nodes that notice at
 *   the same time each re-base their own position, with no race between them.
 * - Membership changes are entries of the stream too (store.ts, LOG_CHANGE): a leave or a removal
 *   (LEAVE) and a room's deletion (DELETE_ROOM) write `<seq>-<k>` (k >= 1) after the room's last
 *   entry, in the script that makes the change. The reader keeps its position as the whole id
 *   (`seq`, `sub`) and hands such an entry to the room's `changed` callback, not its listener: in
 *   stream order, so the hub takes a user's connections out of the room before this node delivers
 *   any event written after the change. Pub/sub carries the same change as a notice (for the
 *   remaining members, and for the SQLite backend's hub); it may come before or after: the hub's
 *   handling of both is idempotent. open() starts after the stream's last entry when it is at the
 *   room's counter, so a change made before the room was opened here is not applied again.
 *   A node of the version before changes reads from `<seq>-0`: it skips such an entry (its seq is
 *   one it delivered) and never delivers it, but the entry stays above its position, so its XREAD
 *   returns at once, again and again, until the room's next event moves it past (or the room is
 *   closed on it): a busy read loop for the length of a rolling upgrade, never a wrong delivery.
 * - `stats` counts what this node read per room while it has the room open (tests and /_stats).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { CommittedEvents, EventListener, Log, LogChange } from '../../ports.js';
import { type RedisKeys, redisFailure, toStoreError } from './keys.js';
import { chainBroken, counterWentBack, type LogPosition } from './log-regression.js';
import type { DeliveredPositions } from './store.js';

export interface RedisEventsOptions {
  /** Longest XREAD BLOCK, ms. Default 2000. */
  blockMs?: number;
  /** Most entries one XREAD returns per stream. Default 1000. */
  batch?: number;
  /** Longest time between two checks of the rooms' counters, ms. Default 2000. */
  checkMs?: number;
  log?: Log;
}

/** How long a reader's wake stream outlives its last wake (a dead node's is then gone), ms. */
const WAKE_TTL_MS = 60_000;

interface Cursor extends LogPosition {
  /** The sequence part of the last entry read: 0 for an event, k for a change `<seq>-<k>`. */
  sub: number;
  listener: EventListener;
  rebased: ((head: number) => void) | undefined;
  changed: ((change: LogChange) => void) | undefined;
}

export class RedisCommittedEvents implements CommittedEvents, DeliveredPositions {
  readonly stats = {
    // No prototype: a room may be named after an inherited key (`constructor`).
    roomEventsReceived: Object.create(null) as Record<string, number>,
    readFailures: 0,
    logRegressions: 0,
  };
  readonly #cmd: Redis;
  readonly #reader: Redis;
  readonly #keys: RedisKeys;
  readonly #blockMs: number;
  readonly #batch: number;
  readonly #checkMs: number;
  readonly #log: Log;
  readonly #rooms = new Map<string, Cursor>();
  /** Rooms to check before the next read; all of them after a reconnection. */
  readonly #suspects = new Set<string>();
  #checkAll = true;
  #lastCheck = 0;
  /** This reader's wake stream (see the top of the file). */
  readonly #wakeKey: string;
  /** Wakes sent: the last one's entry id is `<wakes>-0`. */
  #wakes = 0;
  /** While a read is built or in flight: the wake count it was built at (it reads ids above). */
  #readFrom: number | null = null;
  #wake: (() => void) | null = null;
  /** While the loop pauses after a failed read: ends the pause (stop). */
  #endPause: (() => void) | null = null;
  #closed = false;
  readonly #loop: Promise<void>;

  constructor(cmd: Redis, reader: Redis, keys: RedisKeys, options: RedisEventsOptions = {}) {
    this.#cmd = cmd;
    this.#reader = reader;
    this.#keys = keys;
    this.#blockMs = options.blockMs ?? 2000;
    this.#batch = options.batch ?? 1000;
    this.#checkMs = options.checkMs ?? 2000;
    this.#log = options.log ?? (() => {});
    this.#wakeKey = keys.wake(randomBytes(12).toString('base64url'));
    // A new connection may lead to another Redis, or to one that came back with less.
    reader.on('ready', () => {
      this.#checkAll = true;
    });
    this.#loop = this.#run();
  }

  async open(
    room: string,
    listener: EventListener,
    rebased?: (head: number) => void,
    changed?: (change: LogChange) => void,
  ): Promise<number> {
    let counter: string | null;
    let tip: string | null;
    let last: [string, string[]][];
    try {
      // One state of Redis: the counter and the stream's last entry (a change at the counter's
      // seq, made before this open, is not read again).
      const res = await this.#cmd
        .multi()
        .mget(this.#keys.seq(room), this.#keys.tip(room))
        .xrevrange(this.#keys.log(room), '+', '-', 'COUNT', 1)
        .exec();
      if (!res) throw new Error('the MULTI of open() was discarded');
      for (const [err] of res) if (err) throw err;
      [counter, tip] = res[0][1] as (string | null)[];
      last = res[1][1] as [string, string[]][];
    } catch (err) {
      throw toStoreError(err);
    }
    const seq = Number(counter ?? 0);
    const [lastSeq, lastSub] = last.length > 0 ? parseId(last[0][0]) : [0, 0];
    const sub = lastSeq === seq ? lastSub : 0;
    this.#rooms.set(room, { seq, sub, nonce: tip, listener, rebased, changed });
    this.#interrupt();
    return seq;
  }

  delivered(room: string): number {
    return this.#rooms.get(room)?.seq ?? -1;
  }

  suspect(room: string): void {
    if (!this.#rooms.has(room)) return;
    this.#suspects.add(room);
    this.#interrupt();
  }

  close(room: string): void {
    // Its count goes with it (a room opened again counts afresh): kept, the counts of every room
    // this node ever read would pile up as rooms come and go.
    delete this.stats.roomEventsReceived[room];
    if (this.#rooms.delete(room)) this.#interrupt();
  }

  /** Rooms whose streams this node is reading. */
  get rooms(): string[] {
    return [...this.#rooms.keys()].sort();
  }

  /**
   * Ends the loop at once, whatever Redis does: the reader connection is this loop's alone and is
   * disconnected (a read blocked at Redis has nothing to finish, and a hung Redis would never end
   * it: that connection has no command timeout). Then the wake stream's DEL is sent on the command
   * connection and not waited for: the connections' close() QUITs after it on that connection, so
   * a healthy Redis deletes the stream before the node lets go; a hung or lost one lets it expire.
   */
  async stop(): Promise<void> {
    this.#closed = true;
    if (this.#wake) {
      const wake = this.#wake;
      this.#wake = null;
      wake();
    }
    this.#endPause?.();
    this.#reader.disconnect();
    await this.#loop;
    if (this.#wakes > 0) this.#cmd.del(this.#wakeKey).catch(() => {});
  }

  /**
   * Wakes the reader: it is idle (no rooms), or its read was built with the room set as it was
   * before (it may be blocked in XREAD, or not at Redis yet). Not reading: the next read is built
   * from the room set as it is now.
   */
  #interrupt(): void {
    if (this.#wake) {
      const wake = this.#wake;
      this.#wake = null;
      wake();
    } else if (this.#readFrom !== null && this.#wakes === this.#readFrom) {
      const id = `${++this.#wakes}-0`;
      // If this fails, Redis is out of reach: the read fails too (or ends at blockMs) and the next
      // one is built from the room set as it is then.
      this.#cmd
        .multi()
        .xadd(this.#wakeKey, 'MAXLEN', '1', id, 'w', '1')
        .pexpire(this.#wakeKey, WAKE_TTL_MS)
        .exec()
        .catch(() => {});
    }
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      if (this.#rooms.size === 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = null;
        continue;
      }
      let res: [string, [string, string[]][]][] | null;
      try {
        // Between two reads, so that no entry is delivered while a room is being re-based; the
        // read then starts from the positions as the check left them. What changed during the
        // check (a room opened, a hint, a reconnection) is seen before reading.
        if (this.#checkAll || this.#suspects.size > 0 || Date.now() - this.#lastCheck >= this.#checkMs) {
          await this.#check();
          if (this.#checkAll || this.#suspects.size > 0) continue;
        }
        if (this.#closed) break;
        const rooms = [...this.#rooms];
        if (rooms.length === 0) continue;
        // The room set and the wake id are taken together (no await between): a change from here
        // on sends a wake above `readFrom`.
        this.#readFrom = this.#wakes;
        const keys = [...rooms.map(([room]) => this.#keys.log(room)), this.#wakeKey];
        const ids = [...rooms.map(([, c]) => `${c.seq}-${c.sub}`), `${this.#readFrom}-0`];
        res = (await this.#reader.xread(
          'COUNT',
          this.#batch,
          'BLOCK',
          this.#blockMs,
          'STREAMS',
          ...keys,
          ...ids,
        )) as [string, [string, string[]][]][] | null;
        failures = 0;
      } catch (err) {
        if (this.#closed) break;
        this.stats.readFailures++;
        if (failures++ === 0)
          this.#log(`chat: redis event read failed, retrying: ${redisFailure(err)}`, 'error');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(1000, 50 * 2 ** failures)).unref();
          this.#endPause = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#endPause = null;
        continue;
      } finally {
        this.#readFrom = null;
      }
      if (!res) continue;
      for (const [key, entries] of res) {
        const room = this.#keys.roomOfLog(key); // null for the wake stream
        const cursor = room === null ? undefined : this.#rooms.get(room);
        if (room === null || !cursor) continue;
        const counts = this.stats.roomEventsReceived;
        for (const [id, fields] of entries) {
          const [seq, sub] = parseId(id);
          // The room was closed and opened again from a later position while this read was in flight.
          if (seq < cursor.seq || (seq === cursor.seq && sub <= cursor.sub)) continue;
          if (sub > 0) {
            // A membership change (store.ts, LOG_CHANGE): no event, no seq of its own. At a seq
            // above the position only when the stream lacks the events before it (a room deleted
            // and created again has none before its base): the chain is not known from there.
            if (seq > cursor.seq) cursor.nonce = null;
            cursor.seq = seq;
            cursor.sub = sub;
            const change = logChange(fields);
            if (change) cursor.changed?.(change);
            if (this.#rooms.get(room) !== cursor) break; // closed by the change (its last connection)
            continue;
          }
          const prev = field(fields, 'p');
          if (chainBroken(cursor, seq, prev)) this.#rebase(room, cursor, seq - 1, prev ?? null);
          cursor.seq = seq;
          cursor.sub = 0;
          cursor.nonce = field(fields, 'n') ?? null;
          counts[room] = (counts[room] ?? 0) + 1;
          const event = field(fields, 'e');
          if (event !== undefined) cursor.listener(seq, event);
        }
      }
    }
  }

  /** Compares the counters of the rooms due for a check with this node's positions (one MGET). */
  async #check(): Promise<void> {
    const all = this.#checkAll || Date.now() - this.#lastCheck >= this.#checkMs;
    const names = all ? [...this.#rooms.keys()] : [...this.#suspects];
    this.#checkAll = false;
    this.#suspects.clear();
    if (all) this.#lastCheck = Date.now();
    const cursors = names.flatMap((room) => {
      const cursor = this.#rooms.get(room);
      return cursor ? [{ room, cursor }] : [];
    });
    if (cursors.length === 0) return;
    let values: (string | null)[];
    try {
      values = await this.#reader.mget(
        ...cursors.flatMap(({ room }) => [this.#keys.seq(room), this.#keys.tip(room)]),
      );
    } catch (err) {
      // Checked again once a read succeeds from a (new) connection.
      if (all) this.#checkAll = true;
      else for (const { room } of cursors) this.#suspects.add(room);
      throw err;
    }
    for (const [i, { room, cursor }] of cursors.entries()) {
      // Closed (and maybe opened again, from the counter as it is now) meanwhile.
      if (this.#rooms.get(room) !== cursor) continue;
      const counter = Number(values[2 * i] ?? 0);
      const tip = values[2 * i + 1];
      if (counterWentBack(cursor, counter, tip)) this.#rebase(room, cursor, counter, tip);
    }
  }

  /** The room's log went back: this node goes on from what Redis holds now (`seq`, `nonce`). */
  #rebase(room: string, cursor: Cursor, seq: number, nonce: string | null): void {
    this.stats.logRegressions++;
    this.#log(
      `chat: warning: the log of room ${room} went back in Redis (it lost acknowledged writes?): ` +
        `this node had delivered up to seq ${cursor.seq}, Redis holds ${seq}; the room's clients reload it`,
      'warning',
    );
    cursor.seq = seq;
    cursor.sub = 0;
    cursor.nonce = nonce;
    cursor.rebased?.(seq);
  }
}

/** A stream id `<seq>-<sub>` as numbers. */
function parseId(id: string): [number, number] {
  const dash = id.indexOf('-');
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}

/** The change a stream entry `<seq>-<k>` holds (store.ts, LOG_CHANGE); null for one unknown here. */
export function logChange(fields: string[]): LogChange | null {
  const c = field(fields, 'c');
  if (c === 'deleted') return { op: 'deleted' };
  const user = field(fields, 'u');
  if (c !== 'left' || !user) return null;
  return field(fields, 'r') === 'removed' ? { op: 'left', user, reason: 'removed' } : { op: 'left', user };
}

/** The value of `name` in a stream entry's field list, undefined if it has none. */
function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
