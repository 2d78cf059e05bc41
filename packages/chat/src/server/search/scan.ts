/**
 * Message search by scanning history, for stores without a word index (the Redis backend): each
 * room's messages are read newest first through RoomStore.messagesBefore (their current state:
 * edited text, deleted ones empty) and matched with search/terms.ts.
 *
 * The work per call is bounded: at most `budget` messages are read (or one per room, if the rooms
 * outnumber the budget), whatever the query. Rooms are merged by time, newest first (like SQLite's FTS order: ts descending, then room
 * name, then seq descending), so the hits of a page are the newest of everything scanned. A call
 * that used up its budget before filling the page returns the hits it has and a `next` cursor;
 * the cursor holds, for each room still to scan, the seq below which to go on.
 *
 *   room a: 97 96 95 | 94 ...      <- buffers read in chunks, newest first
 *   room b: 40 39 | 38 ...          the head with the greatest ts is taken next
 */
import type { ChatMessage, SearchHit } from '../../shared/protocol.js';
import type { MessageSearch, RoomStore, SearchPage } from '../ports.js';
import { encodeCursor, matchRanges, readCursor, type SearchTerm } from './terms.js';

export interface ScanSearchOptions {
  /** Most messages read per call. Default 1000. */
  budget?: number;
  /** Most messages read from one room at a time. Default 100. */
  chunk?: number;
}

const MAX_CURSOR_ROOMS = 1000;

/** The cursor: rooms still to scan, each with the seq to continue below. */
type Cursor = { r: [room: string, before: number][] };

function isCursor(value: unknown): value is Cursor {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as Cursor).r)) return false;
  const r = (value as Cursor).r;
  return (
    r.length <= MAX_CURSOR_ROOMS &&
    r.every(
      (e) =>
        Array.isArray(e) &&
        e.length === 2 &&
        typeof e[0] === 'string' &&
        Number.isSafeInteger(e[1]) &&
        e[1] > 1,
    )
  );
}

interface Lane {
  room: string;
  /** Exclusive upper bound of what is still to read (and to take from `buffer` onwards). */
  before: number;
  buffer: ChatMessage[];
  /** The last read came back short: nothing older than the buffer. */
  ended: boolean;
}

export class ScanSearch implements MessageSearch {
  readonly #rooms: RoomStore;
  readonly #budget: number;
  readonly #chunk: number;

  constructor(rooms: RoomStore, options: ScanSearchOptions = {}) {
    this.#rooms = rooms;
    this.#budget = options.budget ?? 1000;
    this.#chunk = options.chunk ?? 100;
    for (const [name, value] of [
      ['budget', this.#budget],
      ['chunk', this.#chunk],
    ] as const)
      if (!Number.isSafeInteger(value) || value < 1)
        throw new TypeError(`ScanSearch: ${name} must be a positive integer`);
  }

  async search(
    rooms: readonly string[],
    terms: readonly SearchTerm[],
    after: string | undefined,
    limit: number,
  ): Promise<SearchPage | null> {
    const cursor = readCursor(after, isCursor);
    if (!cursor.ok) return null;
    let start: [string, number][];
    if (cursor.value === null) start = rooms.map((room) => [room, Number.MAX_SAFE_INTEGER]);
    else {
      // Rooms left since the first page are no longer searched; rooms joined since are not added
      // (their messages would be newer than hits already shown).
      const allowed = new Set(rooms);
      start = cursor.value.r.filter(([room]) => allowed.has(room));
    }
    const lanes: Lane[] = start.map(([room, before]) => ({ room, before, buffer: [], ended: false }));
    const hits: SearchHit[] = [];
    let read = 0;
    let outOfBudget = false;
    while (hits.length < limit) {
      const empty = lanes.filter((l) => l.buffer.length === 0 && !l.ended && l.before > 1);
      if (empty.length > 0) {
        const left = this.#budget - read;
        if (left <= 0) {
          outOfBudget = true;
          break;
        }
        // Every room gets at least one message, so that each call makes progress even when the
        // rooms outnumber the budget (the merge needs the head of every room).
        const size = Math.max(1, Math.min(this.#chunk, Math.floor(left / empty.length)));
        const pages = await Promise.all(empty.map((l) => this.#rooms.messagesBefore(l.room, l.before, size)));
        for (const [i, lane] of empty.entries()) {
          lane.buffer = pages[i];
          lane.ended = pages[i].length < size;
          if (pages[i].length === 0) lane.before = 0;
          read += pages[i].length;
        }
      }
      let next: Lane | undefined;
      let best: ChatMessage | undefined;
      for (const lane of lanes) {
        const head = lane.buffer[0];
        if (!head) continue;
        if (!best || !next || head.ts > best.ts || (head.ts === best.ts && lane.room < next.room)) {
          next = lane;
          best = head;
        }
      }
      if (!next || !best) break; // every room scanned to its start
      const message = best;
      next.buffer.shift();
      next.before = message.seq;
      if (next.buffer.length === 0 && next.ended) next.before = 0;
      if (message.deleted) continue;
      const ranges = matchRanges(message.text, terms);
      if (ranges)
        hits.push({
          room: message.room,
          seq: message.seq,
          user: message.user,
          text: message.text,
          ts: message.ts,
          ranges,
        });
    }
    const page: SearchPage = { hits };
    const remaining = lanes.filter((l) => l.before > 1).map((l): [string, number] => [l.room, l.before]);
    if (remaining.length > 0 && (outOfBudget || hits.length >= limit))
      page.next = encodeCursor({ r: remaining });
    return page;
  }
}
