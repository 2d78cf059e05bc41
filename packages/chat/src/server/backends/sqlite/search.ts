/**
 * Message search on SQLite: an FTS5 index of the current text of every message not deleted.
 *
 * The index follows the `events` table by triggers, inside the store's own transactions, so it is
 * never behind and the store needs no search code:
 *
 *   events row (kind 'message') --insert--> search_rows (id, room, seq) + search_fts (rowid = id)
 *                               --text or deleted updated (edit, delete)--> reindexed / removed
 *                               --row deleted (room deleted or expired)--> removed
 *
 * `events` is WITHOUT ROWID (keyed by room and seq), and FTS5 keys documents by an integer, so
 * `search_rows` gives each message one. `search_fts` is contentless (`content=''`, with
 * `contentless_delete=1`, SQLite 3.43+): the text lives once, in `events`; hits read it from there.
 *
 * The tables are this file's own, created at open. When a trigger is missing (a new file, or a
 * migration of the store that rebuilt `events`), the index is rebuilt from `events` in one
 * transaction.
 */
import type Database from 'better-sqlite3';
import type { SearchHit } from '../../../shared/protocol.js';
import type { MessageSearch, SearchPage } from '../../ports.js';
import { encodeCursor, ftsQuery, matchRanges, readCursor, type SearchTerm } from '../../search/terms.js';

const TRIGGERS = ['search_message_added', 'search_message_changed', 'search_message_removed'];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS search_rows (
  id INTEGER PRIMARY KEY,
  room TEXT NOT NULL,
  seq INTEGER NOT NULL,
  UNIQUE (room, seq)
);
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
  text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS search_message_added AFTER INSERT ON events
WHEN new.kind = 'message' AND new.deleted = 0 BEGIN
  INSERT INTO search_rows (room, seq) VALUES (new.room, new.seq)
    ON CONFLICT (room, seq) DO NOTHING;
  INSERT INTO search_fts (rowid, text)
    SELECT id, new.text FROM search_rows WHERE room = new.room AND seq = new.seq;
END;
CREATE TRIGGER IF NOT EXISTS search_message_changed AFTER UPDATE OF text, deleted ON events
WHEN new.kind = 'message' BEGIN
  DELETE FROM search_fts WHERE rowid = (SELECT id FROM search_rows WHERE room = old.room AND seq = old.seq);
  INSERT INTO search_fts (rowid, text)
    SELECT id, new.text FROM search_rows WHERE room = new.room AND seq = new.seq AND new.deleted = 0;
END;
CREATE TRIGGER IF NOT EXISTS search_message_removed AFTER DELETE ON events
WHEN old.kind = 'message' BEGIN
  DELETE FROM search_fts WHERE rowid = (SELECT id FROM search_rows WHERE room = old.room AND seq = old.seq);
  DELETE FROM search_rows WHERE room = old.room AND seq = old.seq;
END;
`;

const REBUILD = `
INSERT INTO search_fts (search_fts) VALUES ('delete-all');
DELETE FROM search_rows;
INSERT INTO search_rows (room, seq) SELECT room, seq FROM events WHERE kind = 'message' AND deleted = 0;
INSERT INTO search_fts (rowid, text)
  SELECT r.id, e.text FROM search_rows r JOIN events e ON e.room = r.room AND e.seq = r.seq;
`;

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

  constructor(db: Database.Database) {
    db.transaction(() => {
      const present = db
        .prepare(`SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?, ?)`)
        .get(...TRIGGERS) as { n: number };
      db.exec(SCHEMA);
      if (present.n < TRIGGERS.length) db.exec(REBUILD);
    })();
    this.#query = db.prepare(SEARCH);
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
