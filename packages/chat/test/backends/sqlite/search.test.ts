/** The search contract on SQLite (FTS5), plus what is SQLite's own: the index rebuilt from `events`. */
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteSearch } from '../../../src/server/backends/sqlite/search.js';
import { SqliteStore } from '../../../src/server/backends/sqlite/store.js';
import { FOLD_VERSION } from '../../../src/server/search/fold.js';
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

function open(path?: string, reindexStep?: number) {
  const store = asMembers(openSqliteStore(path));
  return { rooms: store, search: new SqliteSearch(store.database, { reindexStep }), store };
}

/**
 * The index as fold 1 made it (before search_state): the tokenizer alone folded the raw text, so
 * it holds "straße", "ﬁle" and "ａｂｃ" as they were typed.
 */
const FOLD_1_SCHEMA = `
CREATE TABLE search_rows (id INTEGER PRIMARY KEY, room TEXT NOT NULL, seq INTEGER NOT NULL, UNIQUE (room, seq));
CREATE VIRTUAL TABLE search_fts USING fts5(
  text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER search_message_added AFTER INSERT ON events
WHEN new.kind = 'message' AND new.deleted = 0 BEGIN
  INSERT INTO search_rows (room, seq) VALUES (new.room, new.seq) ON CONFLICT (room, seq) DO NOTHING;
  INSERT INTO search_fts (rowid, text) SELECT id, new.text FROM search_rows WHERE room = new.room AND seq = new.seq;
END;
CREATE TRIGGER search_message_changed AFTER UPDATE OF text, deleted ON events
WHEN new.kind = 'message' BEGIN
  DELETE FROM search_fts WHERE rowid = (SELECT id FROM search_rows WHERE room = old.room AND seq = old.seq);
  INSERT INTO search_fts (rowid, text)
    SELECT id, new.text FROM search_rows WHERE room = new.room AND seq = new.seq AND new.deleted = 0;
END;
CREATE TRIGGER search_message_removed AFTER DELETE ON events
WHEN old.kind = 'message' BEGIN
  DELETE FROM search_fts WHERE rowid = (SELECT id FROM search_rows WHERE room = old.room AND seq = old.seq);
  DELETE FROM search_rows WHERE room = old.room AND seq = old.seq;
END;
`;

const TEXTS = ['Die Straße', '\ufb01le', '\uff41\uff42\uff43', 'Maße', 'deleted straße', 'GROSSE Straße'];

/** Writes a file whose index fold 1 made: room 'a', TEXTS as seqs 1..6, seq 5 deleted. */
async function writeFold1Database(path: string): Promise<void> {
  const earlier = new SqliteStore(path);
  earlier.database.exec(FOLD_1_SCHEMA);
  await earlier.createRoom(
    { name: 'a', kind: 'public', owner: null, createdAt: 0 },
    { maxRooms: 9, maxOwnedRooms: 9 },
  );
  await earlier.join('ann', 'a', 9);
  for (const [i, text] of TEXTS.entries())
    await earlier.appendEvent({
      type: 'message',
      room: 'a',
      user: 'ann',
      clientId: `c${i}`,
      text,
      ts: i + 1,
    });
  await earlier.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 5, ts: 10 });
  const old = earlier.database.prepare(`SELECT rowid FROM search_fts WHERE search_fts MATCH '"strasse"'`);
  expect(old.all()).toEqual([]); // what the new fold has to find is not in this index
  await earlier.close();
}

const seqs = async (search: SqliteSearch, query: string) =>
  (await search.search(['a'], terms(query), undefined, 10))!.hits.map((h) => h.seq);

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

  it('reindexes, at open and in steps, a file whose index an older fold made', async () => {
    const path = tempDatabasePath();
    await writeFold1Database(path);
    const { search, store } = open(path, 2);
    expect(await seqs(search, 'strasse')).toEqual([6, 1]);
    expect(await seqs(search, 'file')).toEqual([2]);
    expect(await seqs(search, 'abc')).toEqual([3]);
    expect(await seqs(search, 'masse')).toEqual([4]);
    expect(await seqs(search, 'deleted')).toEqual([]);
    expect(store.database.prepare('SELECT fold, reindex_after FROM search_state').get()).toEqual({
      fold: FOLD_VERSION,
      reindex_after: null,
    });
    // New messages and edits are indexed by the new triggers.
    await store.appendEvent({
      type: 'message',
      room: 'a',
      user: 'ann',
      clientId: 'n',
      text: 'ＳＴＲＡẞＥ',
      ts: 20,
    });
    await store.appendEvent({ type: 'edit', room: 'a', user: 'ann', target: 1, text: 'Die Gasse', ts: 21 });
    expect(await seqs(search, 'strasse')).toEqual([8, 6]);
    expect(await seqs(search, 'gasse')).toEqual([1]);
  });

  it('goes on with a reindex a crash interrupted, from the step it had recorded', async () => {
    const path = tempDatabasePath();
    await writeFold1Database(path);
    // As a crash after the first step of two rows would leave it: rows 1 and 2 (only) done.
    const first = open(path, 2);
    first.store.database.exec("INSERT INTO search_fts (search_fts) VALUES ('delete-all')");
    first.store.database.exec('UPDATE search_state SET reindex_after = 2');
    expect(await seqs(first.search, 'strasse')).toEqual([]);
    await first.store.close();
    const { search, store } = open(path, 2);
    expect(await seqs(search, 'strasse')).toEqual([6]); // 1 was not redone: the state said it was
    expect(await seqs(search, 'masse')).toEqual([4]);
    expect(store.database.prepare('SELECT reindex_after FROM search_state').get()).toEqual({
      reindex_after: null,
    });
  });

  it('refuses a reindex step that is not a positive integer', () => {
    const store = openSqliteStore();
    for (const reindexStep of [0, 1.5, -1])
      expect(() => new SqliteSearch(store.database, { reindexStep })).toThrow(
        new TypeError('SqliteSearch: reindexStep must be a positive integer'),
      );
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
