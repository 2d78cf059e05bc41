/**
 * Fan-out across nodes on Redis, reading only what this node's clients need.
 *
 * Theory of operation
 * - Room log events (message, edited, deleted) are not published at all: the store's append
 *   script already XADDed them to the room's stream with id `<seq>-0`. Each node runs ONE reader
 *   loop on its own connection: XREAD BLOCK over the streams of the rooms it has local
 *   subscribers for, from the last id it delivered. So every node delivers a room's events in seq
 *   order (the stream's order), each once, and a node with no subscriber for a room never reads
 *   its stream. When the room set changes the loop is woken with CLIENT UNBLOCK.
 * - Starting a room: subscribe() sends GET <room seq> on the shared command connection at once,
 *   BEFORE the hub reads the room's head on that same connection (Redis answers one connection in
 *   order), and the reader starts after that seq. So the hub's rule holds: anything committed after
 *   the subscription arrives through fan-out; at worst an event arrives both by replay and by
 *   fan-out, and clients drop a seq they already have.
 * - Everything else (presence, typing, member notices, `user:<name>` topics) is ephemeral and goes
 *   through Redis pub/sub, one channel per topic; a node SUBSCRIBEs a channel only while it has a
 *   local subscriber for the topic. Pub/sub is at-most-once: a notice published while Redis is
 *   unreachable is lost (presence is re-derived, see presence-redis.ts), never a room event.
 * - Redis down: the reader retries with backoff from the ids it has delivered, so nothing is
 *   skipped when Redis returns; ioredis resubscribes the pub/sub channels itself.
 * - `stats` counts what this node received per room and topic (tests and /_stats read it).
 */
import type { Redis } from 'ioredis';
import type { Deliver, FanOut } from './fanout.js';
import type { RedisKeys } from './storage/redis.js';

export interface RedisFanOutStats {
  /** Stream entries (room log events) this node read, per room. */
  roomEventsReceived: Record<string, number>;
  /** Pub/sub messages this node received, per topic. */
  topicMessagesReceived: Record<string, number>;
  /** Pub/sub publishes that failed (Redis unreachable). */
  publishFailures: number;
  /** XREAD calls that failed (Redis unreachable); the loop retried them. */
  readFailures: number;
}

export interface RedisFanOutOptions {
  /** Longest XREAD BLOCK, ms. Default 2000. */
  blockMs?: number;
  /** Most entries one XREAD returns per stream. Default 1000. */
  batch?: number;
  log?: (line: string) => void;
}

interface RoomCursor {
  /** Last stream id delivered ('<seq>-0'); null until the start seq is known. */
  id: string | null;
  /** The GET of the start seq is in flight (sent by subscribe, ahead of the hub's reads). */
  starting: boolean;
}

const ROOM = 'room:';

export class RedisFanOut implements FanOut {
  readonly stats: RedisFanOutStats = {
    roomEventsReceived: {},
    topicMessagesReceived: {},
    publishFailures: 0,
    readFailures: 0,
  };
  readonly #cmd: Redis;
  readonly #reader: Redis;
  readonly #sub: Redis;
  readonly #keys: RedisKeys;
  readonly #blockMs: number;
  readonly #batch: number;
  readonly #log: (line: string) => void;
  readonly #topics = new Map<string, Set<Deliver>>();
  readonly #rooms = new Map<string, RoomCursor>();
  #readerId: number | null = null;
  #reading = false;
  #wake: (() => void) | null = null;
  #closed = false;
  readonly #loop: Promise<void>;

  constructor(cmd: Redis, reader: Redis, sub: Redis, keys: RedisKeys, options: RedisFanOutOptions = {}) {
    this.#cmd = cmd;
    this.#reader = reader;
    this.#sub = sub;
    this.#keys = keys;
    this.#blockMs = options.blockMs ?? 2000;
    this.#batch = options.batch ?? 1000;
    this.#log = options.log ?? (() => {});
    const channelHead = `${keys.prefix}topic:`;
    sub.on('message', (channel: string, payload: string) => {
      if (!channel.startsWith(channelHead)) return;
      const topic = channel.slice(channelHead.length);
      const counts = this.stats.topicMessagesReceived;
      counts[topic] = (counts[topic] ?? 0) + 1;
      this.#deliver(topic, payload);
    });
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

  #channel(topic: string): string {
    return `${this.#keys.prefix}topic:${topic}`;
  }

  subscribe(topic: string, deliver: Deliver): void {
    let subs = this.#topics.get(topic);
    if (!subs) {
      subs = new Set();
      this.#topics.set(topic, subs);
      this.#sub.subscribe(this.#channel(topic)).catch(() => {});
      if (topic.startsWith(ROOM)) this.#startRoom(topic.slice(ROOM.length));
    }
    subs.add(deliver);
  }

  unsubscribe(topic: string, deliver: Deliver): void {
    const subs = this.#topics.get(topic);
    if (!subs?.delete(deliver) || subs.size > 0) return;
    this.#topics.delete(topic);
    this.#sub.unsubscribe(this.#channel(topic)).catch(() => {});
    if (topic.startsWith(ROOM)) {
      this.#rooms.delete(topic.slice(ROOM.length));
      this.#interrupt();
    }
  }

  publish(topic: string, payload: string): void {
    this.#cmd.publish(this.#channel(topic), payload).catch(() => {
      this.stats.publishFailures++;
    });
  }

  publishEvent(_room: string, _seq: number, _payload: string): void {
    // The store's append wrote the event to the room's stream; the reader loops deliver it.
  }

  /** Rooms whose streams this node is reading. */
  get rooms(): string[] {
    return [...this.#rooms.keys()].sort();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#interrupt();
    await this.#loop;
  }

  #startRoom(room: string): void {
    const cursor: RoomCursor = { id: null, starting: true };
    this.#rooms.set(room, cursor);
    // Sent now, on the command connection, ahead of the hub's head read (see the file comment).
    this.#cmd.get(this.#keys.seq(room)).then(
      (seq) => {
        cursor.starting = false;
        if (this.#rooms.get(room) !== cursor || cursor.id !== null) return;
        cursor.id = `${Number(seq ?? 0)}-0`;
        this.#interrupt();
      },
      () => {
        // Redis is unreachable: the reader loop asks again when it can.
        cursor.starting = false;
      },
    );
  }

  #deliver(topic: string, payload: string): void {
    const subs = this.#topics.get(topic);
    if (!subs) return;
    // Copy: a delivery may unsubscribe (a socket closing on a failed send).
    for (const deliver of [...subs]) deliver(payload);
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
      // Rooms whose start seq could not be read (Redis was down): read it now.
      for (const [room, cursor] of this.#rooms) {
        if (cursor.id !== null || cursor.starting) continue;
        try {
          const seq = await this.#cmd.get(this.#keys.seq(room));
          if (this.#rooms.get(room) === cursor && cursor.id === null) cursor.id = `${Number(seq ?? 0)}-0`;
        } catch {
          break;
        }
      }
      const rooms = [...this.#rooms].filter(([, c]) => c.id !== null) as [string, { id: string }][];
      if (rooms.length === 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          // Also poll: a room whose start seq is unknown needs another try.
          if (this.#rooms.size > 0) setTimeout(resolve, 500).unref();
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
        if (failures++ === 0)
          this.#log(`chat: redis fan-out read failed, retrying: ${(err as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** failures)).unref());
        continue;
      } finally {
        this.#reading = false;
      }
      if (!res) continue;
      for (const [key, entries] of res) {
        const room = this.#keys.roomOfLog(key);
        const cursor = room === null ? undefined : this.#rooms.get(room);
        if (room === null || !cursor || cursor.id === null) continue;
        const topic = `${ROOM}${room}`;
        const counts = this.stats.roomEventsReceived;
        for (const [id, fields] of entries) {
          if (compareIds(id, cursor.id) <= 0) continue; // the room restarted from a later seq
          cursor.id = id;
          counts[room] = (counts[room] ?? 0) + 1;
          const i = fields.indexOf('e');
          if (i >= 0) this.#deliver(topic, fields[i + 1]);
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
