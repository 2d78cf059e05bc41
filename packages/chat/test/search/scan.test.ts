/**
 * The scan search's own promise (the Redis backend uses it): a bounded number of messages read per
 * call, whatever the rooms and the query, and paging on from where the budget ran out. Run here
 * over the SQLite store (any RoomStore does); the contract itself runs on Redis in
 * test/redis/search.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RoomStore } from '../../src/server/ports.js';
import { ScanSearch } from '../../src/server/search/scan.js';
import { parseQuery, type SearchTerm } from '../../src/server/search/terms.js';
import { asMembers } from '../backends/members.js';
import { searchContract } from '../backends/search-contract.js';
import { closeSqliteStores, openSqliteStore } from '../backends/sqlite/helpers.js';

afterEach(closeSqliteStores);

/** The store, counting the messages read through messagesBefore. */
function counted(): { rooms: RoomStore; read: () => number } {
  const store = asMembers(openSqliteStore());
  let read = 0;
  const messagesBefore: RoomStore['messagesBefore'] = async (room, before, limit) => {
    const rows = await store.messagesBefore(room, before, limit);
    read += rows.length;
    return rows;
  };
  const rooms = new Proxy(store, {
    get(target, key) {
      if (key === 'messagesBefore') return messagesBefore;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as RoomStore;
  return { rooms, read: () => read };
}

const terms = (q: string) => parseQuery(q) as SearchTerm[];

searchContract('ScanSearch (over SQLite)', async () => {
  const { rooms } = counted();
  return { rooms, search: new ScanSearch(rooms, { budget: 50, chunk: 4 }) };
});

describe('ScanSearch', () => {
  it('reads at most its budget per call and goes on from there with `next`', async () => {
    const { rooms, read } = counted();
    const search = new ScanSearch(rooms, { budget: 100, chunk: 30 });
    for (const name of ['a', 'b', 'c'])
      await rooms.createRoom(
        { name, kind: 'public', owner: null, createdAt: 0 },
        { maxRooms: 9, maxOwnedRooms: 9 },
      );
    let ts = 0;
    // The only hit is the oldest message of `a`, under 300 messages of noise in three rooms.
    await rooms.appendEvent({
      type: 'message',
      room: 'a',
      user: 'u',
      clientId: 'needle',
      text: 'needle',
      ts: ++ts,
    });
    for (let i = 0; i < 300; i++)
      await rooms.appendEvent({
        type: 'message',
        room: 'abc'[i % 3],
        user: 'u',
        clientId: `n${i}`,
        text: 'hay',
        ts: ++ts,
      });

    const pages = [];
    let after: string | undefined;
    do {
      const before = read();
      const page = await search.search(['a', 'b', 'c'], terms('needle'), after, 20);
      expect(read() - before).toBeLessThanOrEqual(100);
      pages.push(page!.hits.map((h) => h.text));
      after = page!.next;
    } while (after !== undefined && pages.length < 10);
    expect(pages).toEqual([[], [], [], ['needle']]);
  });

  it('a page full of hits stops reading early', async () => {
    const { rooms, read } = counted();
    const search = new ScanSearch(rooms, { budget: 1000, chunk: 10 });
    await rooms.createRoom(
      { name: 'a', kind: 'public', owner: null, createdAt: 0 },
      { maxRooms: 9, maxOwnedRooms: 9 },
    );
    for (let i = 0; i < 200; i++)
      await rooms.appendEvent({
        type: 'message',
        room: 'a',
        user: 'u',
        clientId: `n${i}`,
        text: `word ${i}`,
        ts: i,
      });
    const page = await search.search(['a'], terms('word'), undefined, 5);
    expect(page!.hits.map((h) => h.text)).toEqual([
      'word 199',
      'word 198',
      'word 197',
      'word 196',
      'word 195',
    ]);
    expect(page!.next).toBeDefined();
    expect(read()).toBe(10);
  });

  it('with more rooms than budget, reads one message per room per call and loses no room', async () => {
    const { rooms, read } = counted();
    const search = new ScanSearch(rooms, { budget: 3, chunk: 10 });
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      await rooms.createRoom(
        { name, kind: 'public', owner: null, createdAt: 0 },
        { maxRooms: 9, maxOwnedRooms: 9 },
      );
      await rooms.appendEvent({
        type: 'message',
        room: name,
        user: 'u',
        clientId: name,
        text: `hit in ${name}`,
        ts: name.charCodeAt(0),
      });
    }
    const found: string[] = [];
    let after: string | undefined;
    for (let calls = 0; calls < 10; calls++) {
      const before = read();
      const page = await search.search(['a', 'b', 'c', 'd', 'e'], terms('hit'), after, 10);
      expect(read() - before).toBeLessThanOrEqual(5);
      found.push(...page!.hits.map((h) => h.room));
      after = page!.next;
      if (!after) break;
    }
    expect(found.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('refuses bad options', () => {
    const { rooms } = counted();
    expect(() => new ScanSearch(rooms, { budget: 0 })).toThrow(
      'ScanSearch: budget must be a positive integer',
    );
    expect(() => new ScanSearch(rooms, { chunk: 1.5 })).toThrow(
      'ScanSearch: chunk must be a positive integer',
    );
  });
});
