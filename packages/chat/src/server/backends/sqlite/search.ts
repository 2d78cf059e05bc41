/**
 * Message search on SQLite: an FTS5 index of the current text of every message not deleted.
 *
 * The index follows the `events` table by triggers, inside the store's own transactions, so it is
 * never behind and the store needs no search code but the fold function the triggers call:
 *
 *   events row (kind 'message') --insert--> search_rows (id, room, seq) + search_fts (rowid = id)
 *                               --text or deleted updated (edit, delete)--> reindexed / removed
 *                               --row deleted (room deleted or expired)--> removed
 *
 * `events` is WITHOUT ROWID (keyed by room and seq), and FTS5 keys documents by an integer, so
 * `search_rows` gives each message one. `search_fts` is contentless (`content=''`, with
 * `contentless_delete=1`, SQLite 3.43+): the text lives once, in `events`; hits read it from there.
 *
 * What is indexed is not the text but its folded words (search/terms.ts indexText, through the
 * SQL function `search_fold`, which registerSearchFold adds to the connection: the store does so
 * at open, since its writes fire the triggers). The tokenizer's own folding would differ from the
 * query's and the Redis scan's (it keeps "ß", "ﬁ", "Ａ"); on folded words it finds those words.
 *
 * The tables are this file's own, created at open. The index is rebuilt from `events` when a
 * trigger is missing (a new file, or a migration of the store that rebuilt `events`) or when it
 * holds words of an older fold (`search_state.fold` below FOLD_VERSION; a file without
 * `search_state` was indexed by fold 1, the tokenizer on the raw text). The rebuild runs at open
 * in steps of `reindexStep` messages, each its own transaction, and `search_state.reindex_after`
 * records how far it got, so a large file neither holds one huge transaction nor starts over
 * after a crash:
 *
 *   open: triggers replaced, state = (FOLD_VERSION, after 0)      one transaction
 *         rows 1..500 reindexed, after = 500                        one transaction each
 *         rows 501..742 reindexed, after = NULL (done)
 */
import type Database from 'better-sqlite3';
import type { SearchHit } from '../../../shared/protocol.js';
import type { MessageSearch, SearchPage } from '../../ports.js';
import { FOLD_VERSION } from '../../search/fold.js';
import {
  encodeCursor,
  ftsQuery,
  indexText,
  matchRanges,
  readCursor,
  type SearchTerm,
} from '../../search/terms.js';

const TRIGGERS = ['search_message_added', 'search_message_changed', 'search_message_removed'];

/** Adds `search_fold(text)`, the words the index holds for a text, to a connection. */
export function registerSearchFold(db: Database.Database): void {
  db.function('search_fold', { deterministic: true }, (text: unknown) =>
    typeof text === 'string' ? indexText(text) : '',
  );
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS search_rows (
  id INTEGER PRIMARY KEY,
  room TEXT NOT NULL,
  seq INTEGER NOT NULL,
  UNIQUE (room, seq)
);
CREATE TABLE IF NOT EXISTS search_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  fold INTEGER NOT NULL,
  reindex_after INTEGER
);
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
  text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS search_message_added AFTER INSERT ON events
WHEN new.kind = 'message' AND new.deleted = 0 BEGIN
  INSERT INTO search_rows (room, seq) VALUES (new.room, new.seq)
    ON CONFLICT (room, seq) DO NOTHING;
  INSERT INTO search_fts (rowid, text)
    SELECT id, search_fold(new.text) FROM search_rows WHERE room = new.room AND seq = new.seq;
END;
CREATE TRIGGER IF NOT EXISTS search_message_changed AFTER UPDATE OF text, deleted ON events
WHEN new.kind = 'message' BEGIN
  DELETE FROM search_fts WHERE rowid = (SELECT id FROM search_rows WHERE room = old.room AND seq = old.seq);
  INSERT INTO search_fts (rowid, text)
    SELECT id, search_fold(new.text) FROM search_rows WHERE room = new.room AND seq = new.seq AND new.deleted = 0;
END;
CREATE TRIGGER IF NOT EXISTS search_message_removed AFTER DELETE ON events
WHEN old.kind = 'message' BEGIN
  DELETE FROM search_fts WHERE rowid = (SELECT id FROM search_rows WHERE room = old.room AND seq = old.seq);
  DELETE FROM search_rows WHERE room = old.room AND seq = old.seq;
END;
`;

/** Empties the index and lists every message to index (the steps then fill it). */
const REBUILD = `
INSERT INTO search_fts (search_fts) VALUES ('delete-all');
DELETE FROM search_rows;
INSERT INTO search_rows (room, seq) SELECT room, seq FROM events WHERE kind = 'message' AND deleted = 0;
`;

const STEP = `
SELECT r.id, e.text, e.deleted FROM search_rows r JOIN events e ON e.room = r.room AND e.seq = r.seq
WHERE r.id > ? ORDER BY r.id LIMIT ?
`;

export interface SqliteSearchOptions {
  /** Most messages reindexed per transaction when the index is rebuilt at open. Default 500. */
  reindexStep?: number;
}

/** Hits after the cursor's (ts, room, seq) in the order ts DESC, room ASC, seq DESC. */
const SEARCH = `
SELECT e.room, e.seq, e.user, e.text, e.ts
FROM search_fts f
JOIN search_rows r ON r.id = f.rowid
JOIN events e ON e.room = r.room AND e.seq = r.seq
WHERE search_fts MATCH @match
  AND r.room IN (SELECT value FROM json_each(@rooms))
  AND (@ts IS NULL OR e.ts < @ts OR (e.ts = @ts AND (e.room > @room OR (e.room = @room AND e.seq < @seq))))
ORDER BY e.ts DESC, e.room ASC, e.seq DESC
LIMIT @limit
`;

type Cursor = [ts: number, room: string, seq: number];

function isCursor(value: unknown): value is Cursor {
  return (
    Array.isArray(value) &&
    value.length === 3 &&
    Number.isSafeInteger(value[0]) &&
    typeof value[1] === 'string' &&
    Number.isSafeInteger(value[2])
  );
}

export class SqliteSearch implements MessageSearch {
  readonly #query: Database.Statement;

  constructor(db: Database.Database, options: SqliteSearchOptions = {}) {
    const step = options.reindexStep ?? 500;
    if (!Number.isSafeInteger(step) || step < 1)
      throw new TypeError('SqliteSearch: reindexStep must be a positive integer');
    registerSearchFold(db);
    db.transaction(() => {
      const present = db
        .prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?, ?)`)
        .get(...TRIGGERS) as { n: number };
      const hasState = db
        .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'search_state'`)
        .get();
      const fold = hasState
        ? ((db.prepare('SELECT fold FROM search_state').get() as { fold: number } | undefined)?.fold ?? 1)
        : 1;
      const stale = present.n < TRIGGERS.length || fold !== FOLD_VERSION;
      // The triggers of an older fold index the raw text: replaced by this file's.
      if (stale) for (const name of TRIGGERS) db.exec(`DROP TRIGGER IF EXISTS ${name}`);
      db.exec(SCHEMA);
      if (present.n < TRIGGERS.length) db.exec(REBUILD);
      if (stale)
        db.prepare(
          'INSERT INTO search_state (id, fold, reindex_after) VALUES (1, ?, 0) ON CONFLICT (id) DO UPDATE SET fold = excluded.fold, reindex_after = 0',
        ).run(FOLD_VERSION);
    })();
    this.#reindex(db, step);
    this.#query = db.prepare(SEARCH);
  }

  /** Reindexes the rows after `search_state.reindex_after`, `step` rows per transaction. */
  #reindex(db: Database.Database, step: number): void {
    const state = db.prepare('SELECT reindex_after AS after FROM search_state');
    const rows = db.prepare(STEP);
    const remove = db.prepare('DELETE FROM search_fts WHERE rowid = ?');
    const insert = db.prepare('INSERT INTO search_fts (rowid, text) VALUES (?, ?)');
    const save = db.prepare('UPDATE search_state SET reindex_after = ?');
    const one = db.transaction((after: number): boolean => {
      const batch = rows.all(after, step) as { id: number; text: string; deleted: number }[];
      for (const row of batch) {
        remove.run(row.id);
        if (row.deleted === 0) insert.run(row.id, indexText(row.text));
      }
      const done = batch.length < step;
      save.run(done ? null : (batch.at(-1)?.id ?? after));
      return done;
    });
    for (;;) {
      const after = (state.get() as { after: number | null } | undefined)?.after ?? null;
      if (after === null || one(after)) return;
    }
  }

  async search(
    rooms: readonly string[],
    terms: readonly SearchTerm[],
    after: string | undefined,
    limit: number,
  ): Promise<SearchPage | null> {
    const read = readCursor(after, isCursor);
    if (!read.ok) return null;
    const cursor = read.value;
    if (rooms.length === 0) return { hits: [] };
    const rows = this.#query.all({
      match: ftsQuery(terms),
      rooms: JSON.stringify(rooms),
      ts: cursor?.[0] ?? null,
      room: cursor?.[1] ?? null,
      seq: cursor?.[2] ?? null,
      limit: limit + 1,
    }) as Omit<SearchHit, 'ranges'>[];
    const hits = rows.slice(0, limit).map((row) => ({ ...row, ranges: matchRanges(row.text, terms) ?? [] }));
    const page: SearchPage = { hits };
    const last = hits.at(-1);
    if (rows.length > limit && last) page.next = encodeCursor([last.ts, last.room, last.seq]);
    return page;
  }
}
