/** The search contract on SQLite (FTS5), plus what is SQLite's own: the index rebuilt from `events`. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteSearch } from '../../src/server/backends/sqlite/search.js';
import { SqliteStore } from '../../src/server/backends/sqlite/store.js';
import { parseQuery, type SearchTerm } from '../../src/server/search/terms.js';
import { searchContract } from './search-contract.js';

const stores: SqliteStore[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(path = ':memory:') {
  const store = new SqliteStore(path);
  stores.push(store);
  return { rooms: store, search: new SqliteSearch(store.database), store };
}

const terms = (q: string) => parseQuery(q) as SearchTerm[];

searchContract('SQLite', async () => open());

describe('SqliteSearch', () => {
  it('indexes the messages a file already had, and rebuilds the index when its triggers are gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riptide-search-'));
    dirs.push(dir);
    const path = join(dir, 'chat.db');
    const before = new SqliteStore(path);
    await before.createRoom(
      { name: 'a', kind: 'public', owner: null, createdAt: 0 },
      { maxRooms: 9, maxOwnedRooms: 9 },
    );
    await before.appendEvent({
      type: 'message',
      room: 'a',
      user: 'ann',
      clientId: 'c1',
      text: 'older words',
      ts: 1,
    });
    await before.close();

    const { search, store } = open(path);
    expect((await search.search(['a'], terms('older'), undefined, 5))!.hits.map((h) => h.seq)).toEqual([1]);
    // A migration that rebuilds `events` drops its triggers with it: the next open reindexes.
    store.database.exec('DROP TRIGGER search_message_added');
    store.database.exec("INSERT INTO search_fts (search_fts) VALUES ('delete-all')");
    const again = new SqliteSearch(store.database);
    expect((await again.search(['a'], terms('older'), undefined, 5))!.hits.map((h) => h.seq)).toEqual([1]);
    await store.appendEvent({
      type: 'message',
      room: 'a',
      user: 'ann',
      clientId: 'c2',
      text: 'newer words',
      ts: 2,
    });
    expect((await again.search(['a'], terms('words'), undefined, 5))!.hits.map((h) => h.seq)).toEqual([2, 1]);
  });

  it('treats the query as words, never as FTS5 syntax', async () => {
    const { rooms, search } = open();
    await rooms.createRoom(
      { name: 'a', kind: 'public', owner: null, createdAt: 0 },
      { maxRooms: 9, maxOwnedRooms: 9 },
    );
    await rooms.appendEvent({
      type: 'message',
      room: 'a',
      user: 'ann',
      clientId: 'c1',
      text: 'NEAR the OR gate',
      ts: 1,
    });
    for (const q of ['"near', 'near(', 'gate:near', 'or*', '^gate', 'OR gate', 'NEAR(gate)', '-gate'])
      expect(
        (await search.search(['a'], terms(q), undefined, 5))!.hits.map((h) => h.seq),
        q,
      ).toEqual([1]);
  });
});
