/**
 * The SQLite schema and its migrations, tracked by PRAGMA user_version:
 *   0  a new file (or one written before versions were tracked: it has `rooms.created_by`)
 *   2  rooms have kind (public, private, dm), owner and empty_since; names keep their seq floor;
 *      events.kind is no longer limited by a CHECK (the store decides the kinds, so new kinds of
 *      room event need no table rebuild)
 *  3  replies, mentions, reactions
 *  4  a client message id is unique per (room, user), as on Redis, not per user across rooms
 *  5  a message keeps the digest of the send that stored it (events.send_digest, see
 *     backends/send-digest.ts); rows from before have none and any resend of their id is a duplicate
 *  6  memberships are indexed by (room, user), not (room) alone: a page of a room's members is read
 *     in order from the index (O(log n + page)), not sorted from all the room's rows
 *  7  sessions are indexed by (user, expires_at): sign-in counts and trims the user's sessions
 *     (MAX_SESSIONS_PER_USER, http/session.ts) from the index, not by a scan of every session
 *  8  users keep their name's skeleton (backends/name-skeleton.ts) under a unique index, so a
 *     sign-up that looks like an existing name is refused in the insert itself. Filled for the
 *     accounts already there in the step; of existing accounts that share a skeleton (signed up
 *     before), the earliest keeps it and the others get NULL (which the index lets repeat): all
 *     stay and sign in as before, and a new look-alike of any of them is refused. A server before
 *     this step refuses the file (checkVersion), so none inserts a user without a skeleton.
 *  9  pending invitations to private rooms (`invitations`: one row per invitee and room, the owner
 *     who invited and when), indexed by room as well; nothing else changes (direct messages count
 *     against their own cap by their `dm:` name, no column needed)
 * 10  blocks (`blocks`: who blocks whom, keyed by both names in lower case, the blocked user's name as
 *     created kept for the list; blocks.ts); nothing else changes
 * 11  a declined invitation stays until it expires, marked (`invitations.declined`): to its owner
 *     it is pending as before (store.ts, dropInvitation); the rows from before are all pending
 * 12  bans from public rooms (`bans`: one row per room and banned user, as the account spells the
 *     name; bans.ts); nothing else changes (a file from before has no bans)
 * 13  room topics: `rooms.topic` (NULL: none), changed with the 'topic' row of `events` that logs
 *     it (store.ts, setTopic); the rooms from before have none
 * Each step runs in one transaction, so a crash mid-migration leaves the previous version.
 */
import type Database from 'better-sqlite3';
import { nameSkeleton } from '../name-skeleton.js';

const CURRENT = 13;

const TABLES = `
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
  kind TEXT NOT NULL DEFAULT 'public' CHECK (kind IN ('public', 'private', 'dm')),
  owner TEXT,
  created_at INTEGER NOT NULL,
  empty_since INTEGER
);
CREATE TABLE IF NOT EXISTS memberships (
  user TEXT NOT NULL,
  room TEXT NOT NULL REFERENCES rooms(name),
  last_read INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user, room)
);
CREATE INDEX IF NOT EXISTS memberships_room_user ON memberships(room, user);
CREATE TABLE IF NOT EXISTS events (
  room TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  user TEXT NOT NULL,
  client_id TEXT,
  text TEXT NOT NULL DEFAULT '',
  ts INTEGER NOT NULL,
  target INTEGER,
  edited_at INTEGER,
  deleted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (room, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS events_dedup ON events(room, user, client_id) WHERE client_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS room_seq_floor (
  name TEXT PRIMARY KEY,
  head INTEGER NOT NULL
);
`;

/** Version 3: replies, mentions, reactions. */
const REPLIES_AND_REACTIONS = `
CREATE TABLE IF NOT EXISTS reactions (
  room TEXT NOT NULL,
  target INTEGER NOT NULL,
  emoji TEXT NOT NULL,
  user TEXT NOT NULL,
  PRIMARY KEY (room, target, emoji, user)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mentions (
  room TEXT NOT NULL,
  user TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (room, user, seq)
) WITHOUT ROWID;
`;

function addReactionsAndReplies(db: Database.Database): void {
  const have = columns(db, 'events');
  if (!have.has('reply_to')) db.exec('ALTER TABLE events ADD COLUMN reply_to INTEGER');
  if (!have.has('mentions')) db.exec('ALTER TABLE events ADD COLUMN mentions TEXT');
  if (!have.has('react_on')) db.exec('ALTER TABLE events ADD COLUMN react_on INTEGER');
  db.exec(REPLIES_AND_REACTIONS);
}

/**
 * Version 9: pending invitations to private rooms (store.ts: invite, accept). `user` is the
 * invitee's name as the account spells it, whatever case a caller gave (store.ts, invitee).
 */
const INVITATIONS = `
CREATE TABLE IF NOT EXISTS invitations (
  user TEXT NOT NULL,
  room TEXT NOT NULL,
  by_user TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (user, room)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS invitations_room ON invitations(room, user);
`;

/** Version 10: one user blocks another (blocks.ts). */
const BLOCKS = `
CREATE TABLE IF NOT EXISTS blocks (
  user_key TEXT NOT NULL,
  blocked_key TEXT NOT NULL,
  blocked TEXT NOT NULL,
  PRIMARY KEY (user_key, blocked_key)
) WITHOUT ROWID;
`;

/** Version 12: the owner of a public room bans a user from it (bans.ts). */
const BANS = `
CREATE TABLE IF NOT EXISTS bans (
  room TEXT NOT NULL,
  user TEXT NOT NULL,
  PRIMARY KEY (room, user)
) WITHOUT ROWID;
`;

const INDEXES = `
CREATE INDEX IF NOT EXISTS rooms_owner ON rooms(owner) WHERE owner IS NOT NULL;
CREATE INDEX IF NOT EXISTS rooms_empty ON rooms(empty_since) WHERE empty_since IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user, expires_at);
`;

/**
 * Version 8: `users.skeleton` and its unique index, filled for the accounts already there (oldest
 * first: of look-alikes stored before, the earliest keeps the skeleton, the others NULL).
 */
function addSkeletons(db: Database.Database): void {
  if (!columns(db, 'users').has('skeleton')) db.exec('ALTER TABLE users ADD COLUMN skeleton TEXT');
  const rows = db
    .prepare('SELECT rowid AS id, name FROM users WHERE skeleton IS NULL ORDER BY created_at, rowid')
    .all() as { id: number; name: string }[];
  const held = new Set(
    (db.prepare('SELECT skeleton FROM users WHERE skeleton IS NOT NULL').all() as { skeleton: string }[]).map(
      (r) => r.skeleton,
    ),
  );
  const set = db.prepare('UPDATE users SET skeleton = ? WHERE rowid = ?');
  for (const { id, name } of rows) {
    const skeleton = nameSkeleton(name);
    if (held.has(skeleton)) continue;
    held.add(skeleton);
    set.run(skeleton, id);
  }
  db.exec('CREATE UNIQUE INDEX IF NOT EXISTS users_skeleton ON users(skeleton)');
}

function columns(db: Database.Database, table: string): Set<string> {
  return new Set((db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name));
}

/**
 * Throws, writing nothing, when the file is not a database (SQLITE_NOTADB from the read) or was
 * written by a newer server: its data is left for that server.
 */
export function checkVersion(db: Database.Database): number {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > CURRENT)
    throw new Error(
      `it is schema version ${version}, from a newer server; this one knows up to ${CURRENT} (the file is left as it is)`,
    );
  return version;
}

export function migrate(db: Database.Database): void {
  const version = checkVersion(db);
  if (version === CURRENT) return;
  db.transaction(() => {
    const existing = columns(db, 'rooms');
    if (existing.has('created_by')) {
      // The first schema: every room public, owned by its creator ('system' owned general).
      db.exec(`
        ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'public' CHECK (kind IN ('public', 'private', 'dm'));
        ALTER TABLE rooms ADD COLUMN owner TEXT;
        ALTER TABLE rooms ADD COLUMN empty_since INTEGER;
        UPDATE rooms SET owner = NULLIF(created_by, 'system');
        ALTER TABLE rooms DROP COLUMN created_by;
        UPDATE rooms SET empty_since = created_at
          WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.room = rooms.name);
        UPDATE events SET text = '' WHERE kind = 'edit' AND EXISTS (
          SELECT 1 FROM events m WHERE m.room = events.room AND m.seq = events.target AND m.deleted = 1);
        DROP INDEX IF EXISTS events_dedup;
        ALTER TABLE events RENAME TO events_v1;
      `);
      db.exec(TABLES);
      db.exec('INSERT INTO events SELECT * FROM events_v1; DROP TABLE events_v1;');
    }
    // Version 4: TABLES creates the dedup index on (room, user, client_id); drop the one of
    // (user, client_id) an earlier version made, or IF NOT EXISTS would keep it.
    db.exec('DROP INDEX IF EXISTS events_dedup');
    // Version 6: memberships_room_user (TABLES) replaces the index of (room) alone.
    db.exec('DROP INDEX IF EXISTS memberships_room');
    db.exec(TABLES);
    db.exec(INDEXES);
    addReactionsAndReplies(db);
    if (!columns(db, 'events').has('send_digest')) db.exec('ALTER TABLE events ADD COLUMN send_digest TEXT');
    addSkeletons(db);
    db.exec(INVITATIONS);
    db.exec(BLOCKS);
    if (!columns(db, 'invitations').has('declined'))
      db.exec('ALTER TABLE invitations ADD COLUMN declined INTEGER NOT NULL DEFAULT 0');
    db.exec(BANS);
    if (!columns(db, 'rooms').has('topic')) db.exec('ALTER TABLE rooms ADD COLUMN topic TEXT');
    db.pragma(`user_version = ${CURRENT}`);
  })();
}
