/** The search contract on SQLite (FTS5), plus what is SQLite's own: the index rebuilt from `events`. */
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteSearch } from '../../../src/server/backends/sqlite/search.js';
import { parseQuery, type SearchTerm } from '../../../src/server/search/terms.js';
import { asMembers } from '../members.js';
import { searchContract } from '../search-contract.js';
import {
  closeSqliteStores,
  openSqliteStore,
  tempDatabasePath,
  writeDatabaseWithOneMessage,
} from './helpers.js';

afterEach(closeSqliteStores);

function open(path?: string) {
  const store = asMembers(openSqliteStore(path));
  return { rooms: store, search: new SqliteSearch(store.database), store };
}

const terms = (q: string) => parseQuery(q) as SearchTerm[];

searchContract('SQLite', async () => open());

describe('SqliteSearch', () => {
  it('indexes the messages a file already had, and rebuilds the index when its triggers are gone', async () => {
    const path = tempDatabasePath();
    await writeDatabaseWithOneMessage(path, 'older words', 1);

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
