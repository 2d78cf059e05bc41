/**
 * Attachments on SQLite: a table of uploaded files (bytes as a BLOB) beside the store's, and the
 * `attachments` column of `events` (the files of a message, JSON, as the message carries them).
 *
 * Triggers on `events` free a message's files when it is deleted (its `deleted` set) or its room
 * is (its row removed), and one on `rooms` frees a deleted room's unsent uploads, each in the
 * store's own transaction; dropMessage and dropRoom are then safety nets. The room's trigger makes
 * a deletion take exactly that room's files: a room created again under the name afterwards
 * (at once: the store allows it) starts with none, and dropRoom, called by the hub after a sweep's
 * deletion (expireEmptyRooms; not after an owner's), leaves a room of that name that exists by
 * then alone.
 * `ensureAttachmentSchema` runs at open, before the store prepares its statements: one nullable
 * column, one table and its triggers (IF NOT EXISTS), so a file of any schema version, or one
 * written before a trigger existed, gets them without a version step.
 */
import type Database from 'better-sqlite3';
import type { Attachment } from '../../../shared/protocol.js';
import type { AttachmentRecord, AttachmentStore, PutAttachmentResult } from '../../ports.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS attachments (
  id TEXT PRIMARY KEY,
  room TEXT NOT NULL,
  user TEXT NOT NULL,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  size INTEGER NOT NULL,
  width INTEGER,
  height INTEGER,
  created_at INTEGER NOT NULL,
  client_id TEXT,
  seq INTEGER,
  data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS attachments_message ON attachments(room, seq) WHERE seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS attachments_unbound ON attachments(created_at) WHERE seq IS NULL;
CREATE INDEX IF NOT EXISTS attachments_unused ON attachments(user) WHERE client_id IS NULL;
CREATE INDEX IF NOT EXISTS attachments_room ON attachments(room);
CREATE TRIGGER IF NOT EXISTS attachments_message_deleted AFTER UPDATE OF deleted ON events
WHEN new.kind = 'message' AND new.deleted = 1 BEGIN
  DELETE FROM attachments WHERE room = new.room AND seq = new.seq;
END;
CREATE TRIGGER IF NOT EXISTS attachments_room_removed AFTER DELETE ON rooms BEGIN
  DELETE FROM attachments WHERE room = old.name;
END;
CREATE TRIGGER IF NOT EXISTS attachments_message_removed AFTER DELETE ON events
WHEN old.kind = 'message' BEGIN
  DELETE FROM attachments WHERE room = old.room AND seq = old.seq;
END;
`;

export function ensureAttachmentSchema(db: Database.Database): void {
  db.transaction(() => {
    const columns = (db.pragma('table_info(events)') as { name: string }[]).map((c) => c.name);
    if (!columns.includes('attachments')) db.exec('ALTER TABLE events ADD COLUMN attachments TEXT');
    db.exec(SCHEMA);
  })();
}

interface Row {
  id: string;
  room: string;
  user: string;
  name: string;
  type: string;
  size: number;
  width: number | null;
  height: number | null;
  created_at: number;
  client_id: string | null;
  seq: number | null;
}

export function publicPart(r: Pick<AttachmentRecord, keyof Attachment>): Attachment {
  const out: Attachment = { id: r.id, name: r.name, type: r.type, size: r.size };
  if (r.width !== undefined) out.width = r.width;
  if (r.height !== undefined) out.height = r.height;
  return out;
}

function toRecord(row: Row): AttachmentRecord {
  const record: AttachmentRecord = {
    id: row.id,
    name: row.name,
    type: row.type,
    size: row.size,
    room: row.room,
    user: row.user,
    createdAt: row.created_at,
    clientId: row.client_id,
    seq: row.seq,
  };
  if (row.width !== null) record.width = row.width;
  if (row.height !== null) record.height = row.height;
  return record;
}

const COLUMNS = 'id, room, user, name, type, size, width, height, created_at, client_id, seq';

export class SqliteAttachments implements AttachmentStore {
  readonly #s;
  readonly #put;
  readonly #claim;
  readonly #maxTotal: number;

  constructor(db: Database.Database, maxTotalBytes = Number.POSITIVE_INFINITY) {
    this.#maxTotal = maxTotalBytes;
    const s = {
      unused: db.prepare('SELECT COUNT(*) AS n FROM attachments WHERE user = ? AND client_id IS NULL'),
      total: db.prepare('SELECT COALESCE(SUM(size), 0) AS n FROM attachments'),
      insert: db.prepare(
        `INSERT INTO attachments (${COLUMNS}, data) VALUES (@id, @room, @user, @name, @type, @size, @width, @height, @createdAt, NULL, NULL, @data)`,
      ),
      get: db.prepare(`SELECT ${COLUMNS}, data FROM attachments WHERE id = ?`),
      meta: db.prepare(`SELECT ${COLUMNS} FROM attachments WHERE id = ?`),
      setClaim: db.prepare('UPDATE attachments SET client_id = ? WHERE id = ?'),
      bind: db.prepare('UPDATE attachments SET seq = ? WHERE id = ? AND room = ?'),
      release: db.prepare(
        'UPDATE attachments SET client_id = NULL WHERE id = ? AND user = ? AND client_id = ? AND seq IS NULL',
      ),
      drop: db.prepare('DELETE FROM attachments WHERE room = ? AND seq = ?'),
      expire: db.prepare('DELETE FROM attachments WHERE seq IS NULL AND created_at < ?'),
      dropRoom: db.prepare(
        'DELETE FROM attachments WHERE room = @room AND NOT EXISTS (SELECT 1 FROM rooms WHERE name = @room)',
      ),
    };
    this.#s = s;
    const n = (row: unknown) => (row as { n: number }).n;
    this.#put = db.transaction(
      (record: AttachmentRecord, data: Buffer, maxUnused: number): PutAttachmentResult => {
        if (n(s.unused.get(record.user)) >= maxUnused) return 'too_many_unused';
        if (n(s.total.get()) + data.length > this.#maxTotal) return 'full';
        s.insert.run({
          id: record.id,
          room: record.room,
          user: record.user,
          name: record.name,
          type: record.type,
          size: record.size,
          width: record.width ?? null,
          height: record.height ?? null,
          createdAt: record.createdAt,
          data,
        });
        return 'stored';
      },
    ).immediate; // reads, then writes: BEGIN IMMEDIATE waits for a lock held elsewhere (store.ts)
    this.#claim = db.transaction(
      (ids: readonly string[], user: string, room: string, clientId: string): Attachment[] | null => {
        const rows: Row[] = [];
        for (const id of ids) {
          const row = s.meta.get(id) as Row | undefined;
          if (!row || row.user !== user || row.room !== room) return null;
          if (row.client_id !== null && row.client_id !== clientId) return null;
          rows.push(row);
        }
        for (const row of rows) s.setClaim.run(clientId, row.id);
        return rows.map((row) => publicPart(toRecord(row)));
      },
    ).immediate;
  }

  async put(record: AttachmentRecord, data: Buffer, maxUnused: number): Promise<PutAttachmentResult> {
    return this.#put(record, data, maxUnused);
  }

  async get(id: string): Promise<{ record: AttachmentRecord; data: Buffer } | null> {
    const row = this.#s.get.get(id) as (Row & { data: Buffer }) | undefined;
    return row ? { record: toRecord(row), data: row.data } : null;
  }

  async claim(
    ids: readonly string[],
    user: string,
    room: string,
    clientId: string,
  ): Promise<Attachment[] | null> {
    return this.#claim(ids, user, room, clientId);
  }

  async bind(room: string, ids: readonly string[], seq: number): Promise<void> {
    for (const id of ids) this.#s.bind.run(seq, id, room);
  }

  async release(ids: readonly string[], user: string, clientId: string): Promise<void> {
    for (const id of ids) this.#s.release.run(id, user, clientId);
  }

  async dropMessage(room: string, seq: number): Promise<void> {
    this.#s.drop.run(room, seq);
  }

  /**
   * The room's files went with it (the triggers, in its deletion's transaction); this takes an
   * upload that reached the store after that (its membership checked before the deletion), unless
   * a room of the name exists again: then every file under the name is that room's.
   */
  async dropRoom(room: string): Promise<number> {
    return this.#s.dropRoom.run({ room }).changes;
  }

  async expireUnused(before: number): Promise<number> {
    return this.#s.expire.run(before).changes;
  }
}
