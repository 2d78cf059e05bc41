/**
 * Committed events on Redis: each node reads the streams of the rooms it has clients in.
 *
 * Theory of operation
 * - Room log events are not published at all: the store's append script already XADDed them to the
 *   room's stream with id `<seq>-0`. Each node runs ONE reader loop on its own connection: XREAD
 *   BLOCK over the streams of its open rooms, from the last id it delivered. So every node delivers
 *   a room's events in seq order (the stream's order), each once, and a node with no client in a
 *   room never reads its stream. When the room set changes the loop is woken with CLIENT UNBLOCK.
 * - open(room) reads the room's counter (GET seq) and resolves with it: the reader delivers every
 *   event after that seq. Events up to it are in the stream and the history already.
 * - Redis down: the reader retries with backoff from the ids it has delivered, so nothing is
 *   skipped when Redis returns.
 * - `stats` counts what this node read per room (tests and /_stats).
 */
import type { Redis } from 'ioredis';
import type { CommittedEvents, EventListener } from '../../ports.js';
import { type RedisKeys, toStoreError } from './keys.js';

export interface RedisEventsOptions {
  /** Longest XREAD BLOCK, ms. Default 2000. */
  blockMs?: number;
  /** Most entries one XREAD returns per stream. Default 1000. */
  batch?: number;
  log?: (line: string) => void;
}

interface Cursor {
  /** Last stream id delivered ('<seq>-0'). */
  id: string;
  listener: EventListener;
}

export class RedisCommittedEvents implements CommittedEvents {
  readonly stats = { roomEventsReceived: {} as Record<string, number>, readFailures: 0 };
  readonly #cmd: Redis;
  readonly #reader: Redis;
  readonly #keys: RedisKeys;
  readonly #blockMs: number;
  readonly #batch: number;
  readonly #log: (line: string) => void;
  readonly #rooms = new Map<string, Cursor>();
  #readerId: number | null = null;
  #reading = false;
  #wake: (() => void) | null = null;
  #closed = false;
  readonly #loop: Promise<void>;

  constructor(cmd: Redis, reader: Redis, keys: RedisKeys, options: RedisEventsOptions = {}) {
    this.#cmd = cmd;
    this.#reader = reader;
    this.#keys = keys;
    this.#blockMs = options.blockMs ?? 2000;
    this.#batch = options.batch ?? 1000;
    this.#log = options.log ?? (() => {});
    const learnId = () => {
      reader.client('ID').then(
        (id) => {
          this.#readerId = Number(id);
        },
        () => {},
      );
    };
    reader.on('ready', learnId);
    if (reader.status === 'ready') learnId();
    this.#loop = this.#run();
  }

  async open(room: string, listener: EventListener): Promise<number> {
    let seq: number;
    try {
      seq = Number((await this.#cmd.get(this.#keys.seq(room))) ?? 0);
    } catch (err) {
      throw toStoreError(err);
    }
    this.#rooms.set(room, { id: `${seq}-0`, listener });
    this.#interrupt();
    return seq;
  }

  close(room: string): void {
    if (this.#rooms.delete(room)) this.#interrupt();
  }

  /** Rooms whose streams this node is reading. */
  get rooms(): string[] {
    return [...this.#rooms.keys()].sort();
  }

  async stop(): Promise<void> {
    this.#closed = true;
    this.#interrupt();
    await this.#loop;
  }

  /** Wakes the reader: it is idle (no rooms) or blocked in XREAD with an outdated room set. */
  #interrupt(): void {
    if (this.#wake) {
      const wake = this.#wake;
      this.#wake = null;
      wake();
    } else if (this.#reading && this.#readerId !== null) {
      this.#cmd.client('UNBLOCK', this.#readerId).catch(() => {});
    }
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      const rooms = [...this.#rooms];
      if (rooms.length === 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = null;
        continue;
      }
      const keys = rooms.map(([room]) => this.#keys.log(room));
      const ids = rooms.map(([, c]) => c.id);
      let res: [string, [string, string[]][]][] | null;
      try {
        this.#reading = true;
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
        if (failures++ === 0) this.#log(`chat: redis event read failed, retrying: ${(err as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** failures)).unref());
        continue;
      } finally {
        this.#reading = false;
      }
      if (!res) continue;
      for (const [key, entries] of res) {
        const room = this.#keys.roomOfLog(key);
        const cursor = room === null ? undefined : this.#rooms.get(room);
        if (room === null || !cursor) continue;
        const counts = this.stats.roomEventsReceived;
        for (const [id, fields] of entries) {
          // The room was closed and opened again from a later seq while this read was in flight.
          if (compareIds(id, cursor.id) <= 0) continue;
          cursor.id = id;
          counts[room] = (counts[room] ?? 0) + 1;
          const i = fields.indexOf('e');
          if (i >= 0) cursor.listener(Number(id.slice(0, id.indexOf('-'))), fields[i + 1]);
        }
      }
    }
  }
}

/** Compares stream ids '<ms>-<n>' numerically. */
function compareIds(a: string, b: string): number {
  const [a1, a2] = a.split('-').map(Number);
  const [b1, b2] = b.split('-').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}
