/**
 * ChatStore on SQLite (better-sqlite3), one file, WAL mode.
 *
 * Durability: WAL with synchronous=FULL syncs the log on every commit, so a message is on disk
 * before appendEvent resolves, and the hub acknowledges only after that. A SIGKILL (or a power
 * cut) after the acknowledgement cannot lose it.
 *
 * Each room's events live in `events` keyed by (room, seq). A 'message' row holds the message as
 * it is now (edits update it in place); 'edit' and 'delete' rows record the change with their
 * own seq, so replaying events after a seq gives a client every change it missed, in order.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { ChatMessage, RoomEvent } from '../../shared/protocol.js';
import type { AppendInput, AppendResult, ChatStore, Membership, SessionRecord, UserRecord } from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  token TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rooms (
  name TEXT PRIMARY KEY,
  head INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
  user TEXT NOT NULL,
  room TEXT NOT NULL REFERENCES rooms(name),
  last_read INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user, room)
);
CREATE INDEX IF NOT EXISTS memberships_room ON memberships(room);
CREATE TABLE IF NOT EXISTS events (
  room TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('message', 'edit', 'delete')),
  user TEXT NOT NULL,
  client_id TEXT,
  text TEXT NOT NULL DEFAULT '',
  ts INTEGER NOT NULL,
  target INTEGER,
  edited_at INTEGER,
  deleted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (room, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS events_dedup ON events(user, client_id) WHERE client_id IS NOT NULL;
`;

interface EventRow {
  room: string;
  seq: number;
  kind: 'message' | 'edit' | 'delete';
  user: string;
  client_id: string | null;
  text: string;
  ts: number;
  target: number | null;
  edited_at: number | null;
  deleted: number;
}

function toMessage(row: EventRow): ChatMessage {
  const message: ChatMessage = {
    room: row.room,
    seq: row.seq,
    id: row.client_id ?? '',
    user: row.user,
    text: row.text,
    ts: row.ts,
  };
  if (row.edited_at !== null) message.editedAt = row.edited_at;
  if (row.deleted) message.deleted = true;
  return message;
}

function toEvent(row: EventRow): RoomEvent {
  switch (row.kind) {
    case 'message':
      return { type: 'message', message: toMessage(row) };
    case 'edit':
      return {
        type: 'edited',
        room: row.room,
        seq: row.seq,
        target: row.target ?? 0,
        user: row.user,
        text: row.text,
        ts: row.ts,
      };
    case 'delete':
      return {
        type: 'deleted',
        room: row.room,
        seq: row.seq,
        target: row.target ?? 0,
        user: row.user,
        ts: row.ts,
      };
  }
}

export class SqliteStore implements ChatStore {
  readonly #db: Database.Database;
  readonly #append: (input: AppendInput) => AppendResult;
  readonly #stmt;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    this.#db = db;
    db.pragma('journal_mode = WAL');
    // FULL: the WAL is synced at every commit, so an acknowledged message survives a crash.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    const s = {
      getUser: db.prepare('SELECT name, password_hash, created_at FROM users WHERE name = ?'),
      createUser: db.prepare(
        'INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      createSession: db.prepare('INSERT INTO sessions (token, user, expires_at) VALUES (?, ?, ?)'),
      getSession: db.prepare(
        'SELECT token, user, expires_at FROM sessions WHERE token = ? AND expires_at > ?',
      ),
      deleteSession: db.prepare('DELETE FROM sessions WHERE token = ?'),
      purgeSessions: db.prepare('DELETE FROM sessions WHERE expires_at <= ?'),
      createRoom: db.prepare(
        'INSERT INTO rooms (name, created_by, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      roomExists: db.prepare('SELECT 1 FROM rooms WHERE name = ?'),
      listRooms: db.prepare(
        'SELECT r.name AS name, COUNT(m.user) AS members FROM rooms r LEFT JOIN memberships m ON m.room = r.name GROUP BY r.name ORDER BY r.name',
      ),
      join: db.prepare(
        'INSERT INTO memberships (user, room, last_read) SELECT ?, name, head FROM rooms WHERE name = ? ON CONFLICT DO NOTHING',
      ),
      leave: db.prepare('DELETE FROM memberships WHERE user = ? AND room = ?'),
      memberships: db.prepare('SELECT room, last_read FROM memberships WHERE user = ? ORDER BY room'),
      members: db.prepare('SELECT user FROM memberships WHERE room = ? ORDER BY user'),
      markRead: db.prepare(
        'UPDATE memberships SET last_read = MAX(last_read, MIN(?, (SELECT head FROM rooms WHERE name = ?))) WHERE user = ? AND room = ?',
      ),
      unread: db.prepare(
        "SELECT COUNT(*) AS n FROM events WHERE room = ? AND seq > ? AND kind = 'message' AND deleted = 0 AND user <> ?",
      ),
      head: db.prepare('SELECT head FROM rooms WHERE name = ?'),
      bumpHead: db.prepare('UPDATE rooms SET head = head + 1 WHERE name = ? RETURNING head'),
      dedup: db.prepare('SELECT * FROM events WHERE user = ? AND client_id = ?'),
      insert: db.prepare(
        'INSERT INTO events (room, seq, kind, user, client_id, text, ts, target) VALUES (@room, @seq, @kind, @user, @clientId, @text, @ts, @target)',
      ),
      getMessage: db.prepare("SELECT * FROM events WHERE room = ? AND seq = ? AND kind = 'message'"),
      applyEdit: db.prepare('UPDATE events SET text = ?, edited_at = ? WHERE room = ? AND seq = ?'),
      applyDelete: db.prepare("UPDATE events SET text = '', deleted = 1 WHERE room = ? AND seq = ?"),
      before: db.prepare(
        "SELECT * FROM events WHERE room = ? AND seq < ? AND kind = 'message' ORDER BY seq DESC LIMIT ?",
      ),
      after: db.prepare('SELECT * FROM events WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?'),
    };
    this.#stmt = s;
    s.purgeSessions.run(Date.now());

    // One transaction per event: the seq, the row and (for edit/delete) the update commit together.
    this.#append = db.transaction((input: AppendInput): AppendResult => {
      if (input.type === 'message') {
        const existing = s.dedup.get(input.user, input.clientId) as EventRow | undefined;
        if (existing)
          return { ok: true, event: { type: 'message', message: toMessage(existing) }, duplicate: true };
      } else {
        const target = s.getMessage.get(input.room, input.target) as EventRow | undefined;
        if (!target || target.deleted) return { ok: false, reason: 'not_found' };
        if (target.user !== input.user) return { ok: false, reason: 'forbidden' };
      }
      const bumped = s.bumpHead.get(input.room) as { head: number } | undefined;
      if (!bumped) return { ok: false, reason: 'not_found' };
      const seq = bumped.head;
      const row: EventRow = {
        room: input.room,
        seq,
        kind: input.type,
        user: input.user,
        client_id: input.type === 'message' ? input.clientId : null,
        text: input.type === 'delete' ? '' : input.text,
        ts: input.ts,
        target: input.type === 'message' ? null : input.target,
        edited_at: null,
        deleted: 0,
      };
      s.insert.run({
        room: row.room,
        seq: row.seq,
        kind: row.kind,
        user: row.user,
        clientId: row.client_id,
        text: row.text,
        ts: row.ts,
        target: row.target,
      });
      if (input.type === 'edit') s.applyEdit.run(input.text, input.ts, input.room, input.target);
      if (input.type === 'delete') s.applyDelete.run(input.room, input.target);
      return { ok: true, event: toEvent(row), duplicate: false };
    });
  }

  async getUser(name: string): Promise<UserRecord | null> {
    const row = this.#stmt.getUser.get(name) as
      | { name: string; password_hash: string; created_at: number }
      | undefined;
    return row ? { name: row.name, passwordHash: row.password_hash, createdAt: row.created_at } : null;
  }

  async createUser(user: UserRecord): Promise<boolean> {
    return this.#stmt.createUser.run(user.name, user.passwordHash, user.createdAt).changes === 1;
  }

  async createSession(session: SessionRecord): Promise<void> {
    this.#stmt.createSession.run(session.token, session.user, session.expiresAt);
  }

  async getSession(token: string): Promise<SessionRecord | null> {
    const row = this.#stmt.getSession.get(token, Date.now()) as
      | { token: string; user: string; expires_at: number }
      | undefined;
    return row ? { token: row.token, user: row.user, expiresAt: row.expires_at } : null;
  }

  async deleteSession(token: string): Promise<void> {
    this.#stmt.deleteSession.run(token);
  }

  async createRoom(name: string, createdBy: string, ts: number): Promise<boolean> {
    return this.#stmt.createRoom.run(name, createdBy, ts).changes === 1;
  }

  async roomExists(name: string): Promise<boolean> {
    return this.#stmt.roomExists.get(name) !== undefined;
  }

  async listRooms(): Promise<{ name: string; members: number }[]> {
    return this.#stmt.listRooms.all() as { name: string; members: number }[];
  }

  async join(user: string, room: string): Promise<boolean> {
    return this.#stmt.join.run(user, room).changes === 1;
  }

  async leave(user: string, room: string): Promise<boolean> {
    return this.#stmt.leave.run(user, room).changes === 1;
  }

  async memberships(user: string): Promise<Membership[]> {
    const rows = this.#stmt.memberships.all(user) as { room: string; last_read: number }[];
    return rows.map((r) => ({ room: r.room, lastRead: r.last_read }));
  }

  async members(room: string): Promise<string[]> {
    return (this.#stmt.members.all(room) as { user: string }[]).map((r) => r.user);
  }

  async markRead(user: string, room: string, seq: number): Promise<void> {
    this.#stmt.markRead.run(seq, room, user, room);
  }

  async unreadCount(room: string, user: string, after: number): Promise<number> {
    return (this.#stmt.unread.get(room, after, user) as { n: number }).n;
  }

  async appendEvent(input: AppendInput): Promise<AppendResult> {
    return this.#append(input);
  }

  async head(room: string): Promise<number> {
    const row = this.#stmt.head.get(room) as { head: number } | undefined;
    return row?.head ?? 0;
  }

  async messagesBefore(room: string, before: number, limit: number): Promise<ChatMessage[]> {
    return (this.#stmt.before.all(room, before, limit) as EventRow[]).map(toMessage);
  }

  async eventsAfter(room: string, after: number, limit: number): Promise<RoomEvent[]> {
    return (this.#stmt.after.all(room, after, limit) as EventRow[]).map(toEvent);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
