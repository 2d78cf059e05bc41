/**
 * The chat's store on SQLite (better-sqlite3), one file in WAL mode: accounts, rooms, memberships
 * and each room's event log.
 *
 * Durability: WAL with synchronous=FULL syncs the log on every commit, so a message is on disk
 * before appendEvent resolves, and the hub acknowledges only after that. A SIGKILL (or a power cut)
 * after the acknowledgement cannot lose it.
 *
 * Each room's events live in `events` keyed by (room, seq). A 'message' row holds the message as it
 * is now (edits update it in place); 'edit' and 'delete' rows record the change with their own
 * seq, so replaying events after a seq gives a client every change it missed, in order. Deleting a
 * message also empties the text of its edit rows: a deleted text is never sent again.
 *
 * Replies, mentions, reactions (issue #16): a message row keeps `reply_to` (the seq it answers) and
 * `mentions` (JSON); the quote is built from the replied-to row when the message is read, so it
 * shows that message as it is now. A 'react' row logs a reaction change (emoji in `text`, on/off in
 * `react_on`); the table `reactions` holds the current state and `mentions` who is mentioned where
 * (the unread-mention count).
 *
 * Topics: a 'topic' row logs a change (the new topic in `text`, '' for cleared) and `rooms.topic`
 * holds the current one, both written by setTopic's transaction.
 *
 * better-sqlite3 is synchronous: every method runs to completion before another starts, so each
 * check-then-write below is atomic without further locking, and `onCommit` sees events in seq order.
 * So is the membership check of a write (ports.ts): one primary-key read of `memberships` inside
 * the append and react transactions.
 */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import {
  type Attachment,
  type ChatMessage,
  DEFAULT_ROOM,
  PROTOCOL_VERSION,
  type ReactedEvent,
  type RoomEvent,
  type RoomListing,
  type TopicEvent,
} from '../../../shared/protocol.js';
import { makeFolder } from '../../make-folder.js';
import type {
  AcceptResult,
  AccountStore,
  AppendInput,
  AppendResult,
  BanResult,
  BlockResult,
  CreateRoomResult,
  CreateUserResult,
  ExpiredRooms,
  InvitationLimits,
  InvitationRecord,
  InviteResult,
  JoinResult,
  Membership,
  MembersPage,
  ReactInput,
  ReactResult,
  ReadMark,
  ResumePoint,
  RoomCounts,
  RoomInfo,
  RoomQuotas,
  RoomStore,
  SendLookup,
  SessionRecord,
  StoredSend,
  TopicInput,
  TopicResult,
  UserRecord,
} from '../../ports.js';
import { quoteOf, reactionsOf } from '../message-parts.js';
import { nameSkeleton } from '../name-skeleton.js';
import { sendDigest, sendDigestOfIds } from '../send-digest.js';
import { ensureAttachmentSchema } from './attachments.js';
import { SqliteBans } from './bans.js';
import { SqliteBlocks } from './blocks.js';
import { DatabaseInUseError, OwnerLock } from './owner-lock.js';
import { checkVersion, migrate } from './schema.js';
import { registerSearchFold } from './search.js';

interface EventRow {
  room: string;
  seq: number;
  kind: 'message' | 'edit' | 'delete' | 'react' | 'topic';
  user: string;
  client_id: string | null;
  text: string;
  ts: number;
  target: number | null;
  edited_at: number | null;
  deleted: number;
  reply_to: number | null;
  mentions: string | null;
  react_on: number | null;
  /** The message's files, JSON (attachments.ts), or null. */
  attachments: string | null;
  /** A message: the digest of the send that stored it (send-digest.ts); null before schema 5. */
  send_digest?: string | null;
}

interface RoomRow {
  name: string;
  kind: RoomInfo['kind'];
  owner: string | null;
  created_at: number;
  topic: string | null;
}

/** The parts of a message kept elsewhere than its row: the replied-to row, the reactions. */
interface Extras {
  replied(room: string, seq: number): EventRow | undefined;
  reactions(room: string, seq: number): [string, string][];
}

/**
 * A start-up refusal: the database named, with SQLite's reason and its code (index.ts uses it too,
 * for the writes the backend makes at start).
 */
export function cannotOpen(path: string, err: unknown): Error {
  const code = (err as { code?: unknown }).code;
  const reason = typeof code === 'string' ? `${(err as Error).message} (${code})` : (err as Error).message;
  return new Error(`cannot open the database ${path}: ${reason}`, { cause: err });
}

/** True when `path` is a folder (SQLite would only say "unable to open database file"). */
function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // not there yet (the first start makes it), or SQLite says why
  }
}

function toMessage(row: EventRow, extras: Extras): ChatMessage {
  const message: ChatMessage = {
    room: row.room,
    seq: row.seq,
    id: row.client_id ?? '',
    user: row.user,
    text: row.text,
    ts: row.ts,
  };
  if (row.edited_at !== null) message.editedAt = row.edited_at;
  if (row.deleted) {
    // Nothing derived from a deleted text is sent again (its mentions, its quote, its reactions).
    message.deleted = true;
    return message;
  }
  if (row.reply_to !== null) {
    const target = extras.replied(row.room, row.reply_to);
    if (target) message.reply = quoteOf({ ...target, deleted: target.deleted === 1 });
  }
  if (row.mentions !== null) message.mentions = JSON.parse(row.mentions) as string[];
  const reactions = reactionsOf(extras.reactions(row.room, row.seq));
  if (reactions) message.reactions = reactions;
  if (row.attachments) message.attachments = JSON.parse(row.attachments) as Attachment[];
  return message;
}

function toEvent(row: EventRow, extras: Extras): RoomEvent {
  switch (row.kind) {
    case 'message':
      return { type: 'message', message: toMessage(row, extras) };
    case 'edit': {
      const edited: RoomEvent = {
        type: 'edited',
        room: row.room,
        seq: row.seq,
        target: row.target ?? 0,
        user: row.user,
        text: row.text,
        ts: row.ts,
      };
      if (row.mentions !== null) edited.mentions = JSON.parse(row.mentions) as string[];
      return edited;
    }
    case 'react':
      return {
        type: 'reacted',
        room: row.room,
        seq: row.seq,
        target: row.target ?? 0,
        user: row.user,
        emoji: row.text,
        on: row.react_on === 1,
        ts: row.ts,
      };
    case 'topic':
      return { type: 'topic', room: row.room, seq: row.seq, user: row.user, text: row.text, ts: row.ts };
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

/**
 * How long a call waits for a write lock another process holds (busy_timeout), ms. The wait holds
 * the whole node (better-sqlite3 is synchronous: no socket is served meanwhile), and only another
 * process can hold the lock (one server per file: owner-lock.ts; WAL readers never block the
 * writer), whose ordinary writes last milliseconds. A longer hold becomes an outage (health.ts):
 * the send is refused `unavailable`, the pages hold it and resend when the next probe, within a
 * second, commits. So a lock held past 0.25 s costs a notice and a resend, where a wait of 5 s
 * froze every user of the node for 5 s at each outage's start. (While away, calls fail at once
 * and the probe does not wait: health.ts. This bounds the first call of an outage.)
 */
export const BUSY_TIMEOUT_MS = 250;

const toRoom = (row: RoomRow): RoomInfo => ({
  name: row.name,
  kind: row.kind,
  owner: row.owner,
  createdAt: row.created_at,
  ...(row.topic ? { topic: row.topic } : {}),
});

/** A committed event, encoded once for every client that receives it. */
export type CommitListener = (room: string, seq: number, payload: string) => void;

export class SqliteStore implements AccountStore, RoomStore {
  readonly #db: Database.Database;
  /** Held while open: one server per database file (owner-lock.ts); none in memory. */
  readonly #lock: OwnerLock | undefined;
  readonly #stmt;
  readonly #tx;
  readonly #extras: Extras;
  readonly #blocks: SqliteBlocks;
  readonly #bans: SqliteBans;
  #onCommit: CommitListener = () => {};

  constructor(path: string) {
    if (path !== ':memory:') {
      const folder = dirname(path);
      try {
        makeFolder(folder);
      } catch (err) {
        const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new Error(`cannot create the database folder ${folder} (${reason})`, { cause: err });
      }
    }
    let lock: OwnerLock | undefined;
    let opened: Database.Database | undefined;
    // SQLite's word for a folder is "unable to open database file": say what is wrong (--db names
    // the file, not the folder it goes in), before a lock is made beside it.
    if (path !== ':memory:' && isFolder(path))
      throw new Error(
        `cannot open the database ${path}: it is a folder; name the database file in it (${join(path, 'chat.db')})`,
      );
    try {
      // Before the database is touched: a second server must not even switch its journal mode.
      if (path !== ':memory:') lock = OwnerLock.acquire(path);
      opened = new Database(path);
      // Before any write (journal_mode = WAL writes the header): a file that is not a database, or
      // one of a newer schema, is refused as it is.
      checkVersion(opened);
      opened.pragma('journal_mode = WAL');
      // FULL: the WAL is synced at every commit, so an acknowledged message survives a crash.
      opened.pragma('synchronous = FULL');
      opened.pragma('foreign_keys = ON');
      opened.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // The search index's triggers (search.ts) call search_fold: every write to `events` needs it.
      registerSearchFold(opened);
      migrate(opened);
      ensureAttachmentSchema(opened);
    } catch (err) {
      opened?.close();
      lock?.release();
      if (err instanceof DatabaseInUseError) throw err;
      throw cannotOpen(path, err);
    }
    const db = opened;
    this.#db = db;
    this.#lock = lock;
    const s = {
      getUser: db.prepare('SELECT name, password_hash, created_at FROM users WHERE name = ?'),
      createUser: db.prepare(
        'INSERT INTO users (name, password_hash, created_at, skeleton) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ),
      createSession: db.prepare('INSERT INTO sessions (token, user, expires_at) VALUES (?, ?, ?)'),
      dropExpiredSessions: db.prepare('DELETE FROM sessions WHERE user = ? AND expires_at <= ?'),
      // All but the user's newest `?` sessions (the index sessions_user gives them in order; rowid
      // orders sessions of the same expiry by insertion).
      dropOldestSessions: db.prepare(
        'DELETE FROM sessions WHERE token IN (SELECT token FROM sessions WHERE user = ? ORDER BY expires_at DESC, rowid DESC LIMIT -1 OFFSET ?) RETURNING token',
      ),
      getSession: db.prepare(
        'SELECT token, user, expires_at FROM sessions WHERE token = ? AND expires_at > ?',
      ),
      deleteSession: db.prepare('DELETE FROM sessions WHERE token = ?'),
      deleteOtherSessions: db.prepare(
        'DELETE FROM sessions WHERE user = ? AND token <> ? RETURNING token, expires_at',
      ),
      setPassword: db.prepare('UPDATE users SET password_hash = ? WHERE name = ? AND password_hash = ?'),
      purgeSessions: db.prepare('DELETE FROM sessions WHERE expires_at <= ?'),
      getRoom: db.prepare('SELECT name, kind, owner, created_at, topic FROM rooms WHERE name = ?'),
      setTopic: db.prepare('UPDATE rooms SET topic = ? WHERE name = ?'),
      countRooms: db.prepare("SELECT COUNT(*) AS n FROM rooms WHERE kind <> 'dm'"),
      countOwned: db.prepare("SELECT COUNT(*) AS n FROM rooms WHERE owner = ? AND kind <> 'dm'"),
      seqFloor: db.prepare('SELECT head FROM room_seq_floor WHERE name = ?'),
      createRoom: db.prepare(
        'INSERT INTO rooms (name, kind, owner, created_at, head, empty_since) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      keepFloor: db.prepare(
        'INSERT INTO room_seq_floor (name, head) SELECT name, head FROM rooms WHERE name = ? ON CONFLICT (name) DO UPDATE SET head = excluded.head',
      ),
      deleteRoomEvents: db.prepare('DELETE FROM events WHERE room = ?'),
      deleteRoomMembers: db.prepare('DELETE FROM memberships WHERE room = ?'),
      deleteRoom: db.prepare('DELETE FROM rooms WHERE name = ?'),
      listRooms: db.prepare(
        "SELECT r.name AS room, (SELECT COUNT(*) FROM memberships m WHERE m.room = r.name) AS members, r.topic FROM rooms r WHERE r.kind = 'public' AND r.name > ? ORDER BY r.name LIMIT ?",
      ),
      expired: db.prepare(
        'SELECT name FROM rooms WHERE empty_since IS NOT NULL AND empty_since < ? AND name <> ?',
      ),
      isMember: db.prepare('SELECT 1 FROM memberships WHERE user = ? AND room = ?'),
      memberOf: db.prepare(
        'SELECT room FROM memberships WHERE user = ? AND room IN (SELECT value FROM json_each(?))',
      ),
      // BINARY collation: code unit order for names of A-Z a-z 0-9 - _, as JavaScript sorts them.
      listMembers: db.prepare(
        'SELECT user FROM memberships WHERE room = ? AND user > ? ORDER BY user LIMIT ?',
      ),
      // The user's rooms of one class: direct messages (`dm:` names) or the others (ports.ts, join).
      countMemberships: db.prepare(
        "SELECT COUNT(*) AS n FROM memberships WHERE user = ? AND (substr(room, 1, 3) = 'dm:') = ?",
      ),
      expireUserInvitations: db.prepare('DELETE FROM invitations WHERE user = ? AND at <= ?'),
      expireRoomInvitations: db.prepare('DELETE FROM invitations WHERE room = ? AND at <= ?'),
      // A declined invitation counts against the room's cap (to its owner it is pending) but not
      // against the invitee's: declining frees a place, as before.
      countUserInvitations: db.prepare(
        'SELECT COUNT(*) AS n FROM invitations WHERE user = ? AND declined = 0',
      ),
      countRoomInvitations: db.prepare('SELECT COUNT(*) AS n FROM invitations WHERE room = ?'),
      getInvitation: db.prepare('SELECT at, declined FROM invitations WHERE user = ? AND room = ?'),
      addInvitation: db.prepare('INSERT INTO invitations (user, room, by_user, at) VALUES (?, ?, ?, ?)'),
      dropInvitation: db.prepare('DELETE FROM invitations WHERE user = ? AND room = ?'),
      declineInvitation: db.prepare(
        'UPDATE invitations SET declined = 1 WHERE user = ? AND room = ? AND declined = 0',
      ),
      dropRoomInvitations: db.prepare('DELETE FROM invitations WHERE room = ?'),
      invitations: db.prepare(
        'SELECT room, user, by_user, at FROM invitations WHERE user = ? AND at > ? AND declined = 0 ORDER BY at, room',
      ),
      invitees: db.prepare('SELECT user FROM invitations WHERE room = ? ORDER BY user'),
      // Those to tell when the room's invitations go: not who declined (they were told then).
      pendingInvitees: db.prepare(
        'SELECT user FROM invitations WHERE room = ? AND declined = 0 ORDER BY user',
      ),
      expireInvitations: db.prepare('DELETE FROM invitations WHERE at <= ? RETURNING user, room, declined'),
      countMembers: db.prepare('SELECT COUNT(*) AS n FROM memberships WHERE room = ?'),
      join: db.prepare(
        'INSERT INTO memberships (user, room, last_read) SELECT ?, name, head FROM rooms WHERE name = ?',
      ),
      occupied: db.prepare('UPDATE rooms SET empty_since = NULL WHERE name = ?'),
      emptied: db.prepare('UPDATE rooms SET empty_since = ? WHERE name = ?'),
      leave: db.prepare('DELETE FROM memberships WHERE user = ? AND room = ?'),
      memberships: db.prepare(
        'SELECT m.room, m.last_read, r.kind, r.owner FROM memberships m JOIN rooms r ON r.name = m.room WHERE m.user = ? ORDER BY m.room',
      ),
      lastRead: db.prepare('SELECT last_read FROM memberships WHERE user = ? AND room = ?'),
      markRead: db.prepare(
        'UPDATE memberships SET last_read = MAX(last_read, MIN(?, (SELECT head FROM rooms WHERE name = ?))) WHERE user = ? AND room = ? RETURNING last_read',
      ),
      // Neither count takes in the messages of the authors the reader blocks (the page counts none
      // of theirs either: room-state.ts); at most maxBlockedUsers keys, read by the primary key.
      unread: db.prepare(
        "SELECT COUNT(*) AS n FROM events WHERE room = ? AND seq > ? AND kind = 'message' AND deleted = 0 AND user <> ? AND lower(user) NOT IN (SELECT blocked_key FROM blocks WHERE user_key = ?)",
      ),
      head: db.prepare('SELECT head FROM rooms WHERE name = ?'),
      bumpHead: db.prepare('UPDATE rooms SET head = head + 1 WHERE name = ? RETURNING head'),
      dedup: db.prepare('SELECT * FROM events WHERE room = ? AND user = ? AND client_id = ?'),
      insert: db.prepare(
        'INSERT INTO events (room, seq, kind, user, client_id, text, ts, target, reply_to, mentions, react_on, attachments, send_digest) VALUES (@room, @seq, @kind, @user, @clientId, @text, @ts, @target, @replyTo, @mentions, @reactOn, @attachments, @sendDigest)',
      ),
      bindFile: db.prepare('UPDATE attachments SET seq = ? WHERE id = ? AND room = ?'),
      // ---- replies, mentions, reactions ----
      reactionsOf: db.prepare('SELECT emoji, user FROM reactions WHERE room = ? AND target = ?'),
      reactionsIn: db.prepare(
        'SELECT target, emoji, user FROM reactions WHERE room = ? AND target BETWEEN ? AND ?',
      ),
      hasReaction: db.prepare(
        'SELECT 1 FROM reactions WHERE room = ? AND target = ? AND emoji = ? AND user = ?',
      ),
      hasEmoji: db.prepare('SELECT 1 FROM reactions WHERE room = ? AND target = ? AND emoji = ? LIMIT 1'),
      countEmoji: db.prepare(
        'SELECT COUNT(DISTINCT emoji) AS n FROM reactions WHERE room = ? AND target = ?',
      ),
      addReaction: db.prepare('INSERT INTO reactions (room, target, emoji, user) VALUES (?, ?, ?, ?)'),
      removeReaction: db.prepare(
        'DELETE FROM reactions WHERE room = ? AND target = ? AND emoji = ? AND user = ?',
      ),
      clearReactions: db.prepare('DELETE FROM reactions WHERE room = ? AND target = ?'),
      deleteRoomReactions: db.prepare('DELETE FROM reactions WHERE room = ?'),
      addMention: db.prepare('INSERT OR IGNORE INTO mentions (room, user, seq) VALUES (?, ?, ?)'),
      clearMentions: db.prepare('DELETE FROM mentions WHERE room = ? AND seq = ?'),
      deleteRoomMentions: db.prepare('DELETE FROM mentions WHERE room = ?'),
      setMentions: db.prepare('UPDATE events SET mentions = ? WHERE room = ? AND seq = ?'),
      mentionCount: db.prepare(
        'SELECT COUNT(*) AS n FROM mentions mt JOIN events e ON e.room = mt.room AND e.seq = mt.seq WHERE mt.room = ? AND mt.user = ? AND mt.seq > ? AND e.deleted = 0 AND e.user <> ? AND lower(e.user) NOT IN (SELECT blocked_key FROM blocks WHERE user_key = ?)',
      ),
      messagesAfter: db.prepare(
        "SELECT * FROM events WHERE room = ? AND seq > ? AND kind = 'message' ORDER BY seq LIMIT ?",
      ),
      getMessage: db.prepare("SELECT * FROM events WHERE room = ? AND seq = ? AND kind = 'message'"),
      applyEdit: db.prepare('UPDATE events SET text = ?, edited_at = ? WHERE room = ? AND seq = ?'),
      applyDelete: db.prepare(
        "UPDATE events SET text = '', deleted = 1, attachments = NULL WHERE room = ? AND seq = ?",
      ),
      redactEdits: db.prepare(
        "UPDATE events SET text = '', mentions = NULL WHERE room = ? AND target = ? AND kind = 'edit'",
      ),
      before: db.prepare(
        "SELECT * FROM events WHERE room = ? AND seq < ? AND kind = 'message' ORDER BY seq DESC LIMIT ?",
      ),
      after: db.prepare('SELECT * FROM events WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?'),
      topicsBetween: db.prepare(
        "SELECT * FROM events WHERE room = ? AND seq > ? AND seq <= ? AND kind = 'topic' ORDER BY seq DESC LIMIT ?",
      ),
    };
    this.#stmt = s;
    const blocks = new SqliteBlocks(db);
    this.#blocks = blocks;
    const bans = new SqliteBans(db);
    this.#bans = bans;
    this.#extras = {
      replied: (room, seq) => s.getMessage.get(room, seq) as EventRow | undefined,
      reactions: (room, seq) =>
        (s.reactionsOf.all(room, seq) as { emoji: string; user: string }[]).map((r) => [r.emoji, r.user]),
    };
    const extras = this.#extras;
    /** The members a message mentions, besides its author (whose own messages are never unread). */
    const recordMentions = (room: string, seq: number, author: string, mentions: string[] | undefined) => {
      s.clearMentions.run(room, seq);
      for (const u of mentions ?? []) if (u !== author) s.addMention.run(room, u, seq);
    };

    const n = (row: unknown) => (row as { n: number }).n;
    // BEGIN IMMEDIATE for a transaction that writes: it waits for a lock held elsewhere up to
    // busy_timeout, as a lone write does. A deferred one reads first, and SQLite refuses its later
    // upgrade to a write at once (SQLITE_BUSY, no wait): a write of a moment by another process
    // (the sqlite3 shell) was an outage at once instead of the 0.25 s wait the README promises.
    const writing = <F extends (...args: never[]) => unknown>(fn: F) => db.transaction(fn).immediate;
    // An invitation's rows are keyed by the invitee's name as the account spells it, whatever case
    // the caller gave (as on Redis, store.ts #invitee): read in the transaction that uses it. A name
    // with no account is kept as given (nobody can accept it; it expires). The hub always passed the
    // account's spelling, so rows from before are keyed so already: no schema step (a NOCASE
    // column would need the table rebuilt, and an older server refuses a newer file).
    const invitee = (user: string) => (s.getUser.get(user) as { name: string } | undefined)?.name ?? user;
    // Inside a transaction (join, accept): the cap counts the user's rooms of the room's class.
    const joinRoom = (user: string, room: string, maxRooms: number, kind?: RoomInfo['kind']): JoinResult => {
      const found = s.getRoom.get(room) as RoomRow | undefined;
      if (!found) return 'no_room';
      // Read with the add: a ban committed before this transaction refuses it (bans.ts). Never the
      // room's owner: a ban of them stored by a version before the ban step refused it (an admin's)
      // does not keep them out of their own room.
      if (found.owner !== user && bans.isBanned(room, user)) return 'banned';
      if (s.isMember.get(user, room)) return 'member';
      if (kind !== undefined && found.kind !== kind) return 'no_room';
      if (n(s.countMemberships.get(user, room.startsWith('dm:') ? 1 : 0)) >= maxRooms)
        return 'too_many_rooms';
      s.join.run(user, room);
      s.occupied.run(room);
      return 'joined';
    };
    this.#tx = {
      createRoom: writing((room: RoomInfo, quotas: RoomQuotas): CreateRoomResult => {
        if (s.getRoom.get(room.name)) return 'exists';
        if (room.kind !== 'dm') {
          if (room.owner !== null && n(s.countOwned.get(room.owner)) >= quotas.maxOwnedRooms)
            return 'owner_quota';
          if (n(s.countRooms.get()) >= quotas.maxRooms) return 'server_quota';
        }
        // A room created again under an old name continues its numbering (see deleteRoom).
        const floor = (s.seqFloor.get(room.name) as { head: number } | undefined)?.head ?? 0;
        s.createRoom.run(room.name, room.kind, room.owner, room.createdAt, floor, room.createdAt);
        return 'created';
      }),
      deleteRoom: writing((name: string, owner?: string): string[] | null => {
        const found = s.getRoom.get(name) as RoomRow | undefined;
        if (!found || (owner !== undefined && found.owner !== owner)) return null;
        // Read in the step that drops them: an invitation made just before is among them.
        const invitees = (s.pendingInvitees.all(name) as { user: string }[]).map((r) => r.user);
        // Keep the head: the seq of a name never goes back, so a client's or a node's cursor from
        // the deleted room can never hide the events of a new room with the same name.
        s.keepFloor.run(name);
        s.deleteRoomMembers.run(name);
        s.deleteRoomEvents.run(name);
        s.deleteRoomReactions.run(name);
        s.deleteRoomMentions.run(name);
        s.dropRoomInvitations.run(name);
        bans.dropRoom(name);
        s.deleteRoom.run(name); // its files go with it (attachments.ts: the triggers)
        return invitees;
      }),
      join: writing(
        (user: string, room: string, maxRooms: number, kind?: RoomInfo['kind']): JoinResult =>
          joinRoom(user, room, maxRooms, kind),
      ),
      invite: writing(
        (room: string, given: string, by: string, at: number, limits: InvitationLimits): InviteResult => {
          const user = invitee(given);
          const info = s.getRoom.get(room) as RoomRow | undefined;
          if (info?.kind !== 'private' || info.owner !== by) return 'no_room';
          if (s.isMember.get(user, room)) return 'member';
          s.expireUserInvitations.run(user, limits.expiredAt);
          s.expireRoomInvitations.run(room, limits.expiredAt);
          // The block first, as on Redis (where a declined invitation's room side outlives a block).
          if (blocks.blocks(user, by)) return 'blocked';
          if (s.getInvitation.get(user, room)) return 'already_invited';
          if (n(s.countUserInvitations.get(user)) >= limits.perUser) return 'user_full';
          if (n(s.countRoomInvitations.get(room)) >= limits.perRoom) return 'room_full';
          s.addInvitation.run(user, room, by, at);
          return 'invited';
        },
      ),
      accept: writing((given: string, room: string, maxRooms: number, expiredAt: number): AcceptResult => {
        const user = invitee(given);
        const invitation = s.getInvitation.get(user, room) as { at: number; declined: number } | undefined;
        if (!invitation || invitation.declined) return 'no_invitation';
        if (invitation.at <= expiredAt || !s.getRoom.get(room)) {
          s.dropInvitation.run(user, room);
          return 'no_invitation';
        }
        const joined = joinRoom(user, room, maxRooms);
        if (joined === 'too_many_rooms') return joined; // the invitation stays for later
        s.dropInvitation.run(user, room);
        return joined === 'joined' ? 'joined' : 'member';
      }),
      invitations: db.transaction((given: string, expiredAt: number) => {
        const rows = s.invitations.all(invitee(given), expiredAt) as {
          room: string;
          user: string;
          by_user: string;
          at: number;
        }[];
        return rows.map((r): InvitationRecord => ({ room: r.room, user: r.user, by: r.by_user, at: r.at }));
      }),
      // A decline: marked, kept until it expires (RoomStore.dropInvitation). The owner's taking
      // back: the owner's check and the delete in one step.
      dropInvitation: writing((given: string, room: string, owner?: string): boolean => {
        const user = invitee(given);
        if (owner === undefined) return s.declineInvitation.run(user, room).changes === 1;
        if ((s.getRoom.get(room) as RoomRow | undefined)?.owner !== owner) return false;
        return s.dropInvitation.run(user, room).changes === 1;
      }),
      listMembers: db.transaction((user: string, room: string, after: string, limit: number): MembersPage => {
        if (this.#stmt.isMember.get(user, room) === undefined) return { ok: false, reason: 'not_member' };
        const rows = this.#stmt.listMembers.all(room, after, limit) as { user: string }[];
        return { ok: true, members: rows.map((r) => r.user) };
      }),
      // The marker before and after in one transaction: `moved` is this call's alone.
      markRead: writing((user: string, room: string, seq: number): ReadMark => {
        const before = s.lastRead.get(user, room) as { last_read: number } | undefined;
        if (!before) return { seq: 0, moved: false };
        const row = s.markRead.get(seq, room, user, room) as { last_read: number };
        return { seq: row.last_read, moved: row.last_read > before.last_read };
      }),
      leave: writing((user: string, room: string, now: number, owner?: string, admin?: boolean): boolean => {
        const found = owner !== undefined || admin ? (s.getRoom.get(room) as RoomRow | undefined) : undefined;
        // A server admin's removal: any public room (the hub vouches for the admin); an owner's: theirs.
        if (admin ? found?.kind !== 'public' : owner !== undefined && found?.owner !== owner) return false;
        // A removal never takes out the room's own owner (the hub and the ban step refuse it first).
        if (found !== undefined && found.owner === user) return false;
        if (s.leave.run(user, room).changes !== 1) return false;
        if (n(s.countMembers.get(room)) === 0) s.emptied.run(now, room);
        return true;
      }),
      append: writing((input: AppendInput): AppendResult => {
        if (input.type === 'message') {
          const existing = s.dedup.get(input.room, input.user, input.clientId) as EventRow | undefined;
          if (existing) {
            // A row from before schema 5 has no digest: its id dedups as it always did.
            if (existing.send_digest && existing.send_digest !== sendDigest(input))
              return { ok: false, reason: 'id_reused' };
            return {
              ok: true,
              event: { type: 'message', message: toMessage(existing, extras) },
              duplicate: true,
            };
          }
          // After the dedup (a resend of one's own stored message is answered even after leaving),
          // before anything else: the author must be a member at this moment (one indexed read).
          if (!s.isMember.get(input.user, input.room))
            return { ok: false, reason: s.getRoom.get(input.room) ? 'not_member' : 'no_room' };
          if (blocks.refusesDm(input.room, input.user)) return { ok: false, reason: 'blocked' };
          if (input.replyTo !== undefined) {
            const target = s.getMessage.get(input.room, input.replyTo) as EventRow | undefined;
            if (!target || target.deleted)
              return { ok: false, reason: s.getRoom.get(input.room) ? 'not_found' : 'no_room' };
          }
          // Last: a closed DM is reopened (then the append asked again) only for a message that
          // would be stored, never for a refused one.
          if (input.bothInDm && n(s.countMembers.get(input.room)) < 2)
            return { ok: false, reason: 'dm_closed' };
        } else {
          if (!s.isMember.get(input.user, input.room))
            return { ok: false, reason: s.getRoom.get(input.room) ? 'not_member' : 'no_room' };
          const target = s.getMessage.get(input.room, input.target) as EventRow | undefined;
          if (!target || target.deleted)
            return { ok: false, reason: s.getRoom.get(input.room) ? 'not_found' : 'no_room' };
          // Another's message: only a server admin's delete (the hub's word), in a public room.
          if (
            target.user !== input.user &&
            !(
              input.type === 'delete' &&
              input.admin &&
              (s.getRoom.get(input.room) as RoomRow | undefined)?.kind === 'public'
            )
          )
            return { ok: false, reason: 'forbidden' };
          if (input.type === 'edit' && blocks.refusesDm(input.room, input.user))
            return { ok: false, reason: 'blocked' };
        }
        const bumped = s.bumpHead.get(input.room) as { head: number } | undefined;
        if (!bumped) return { ok: false, reason: 'no_room' };
        const row: EventRow = {
          room: input.room,
          seq: bumped.head,
          kind: input.type,
          user: input.user,
          client_id: input.type === 'message' ? input.clientId : null,
          text: input.type === 'delete' ? '' : input.text,
          ts: input.ts,
          target: input.type === 'message' ? null : input.target,
          edited_at: null,
          deleted: 0,
          reply_to: input.type === 'message' ? (input.replyTo ?? null) : null,
          mentions: input.type !== 'delete' && input.mentions?.length ? JSON.stringify(input.mentions) : null,
          react_on: null,
          attachments:
            input.type === 'message' && input.attachments?.length ? JSON.stringify(input.attachments) : null,
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
          replyTo: row.reply_to,
          mentions: row.mentions,
          reactOn: null,
          attachments: row.attachments,
          sendDigest: input.type === 'message' ? sendDigest(input) : null,
        });
        if (input.type === 'message') {
          recordMentions(input.room, row.seq, input.user, input.mentions);
          // Its files are bound in its own commit, not by the hub's bind after it: a bind that
          // failed (disk full, database locked) or never ran (killed after the commit) would
          // leave them unbound, and the sweep of unused uploads would take a stored message's files.
          for (const file of input.attachments ?? []) s.bindFile.run(row.seq, file.id, input.room);
        }
        if (input.type === 'edit') {
          s.applyEdit.run(input.text, input.ts, input.room, input.target);
          s.setMentions.run(row.mentions, input.room, input.target);
          recordMentions(input.room, input.target, input.user, input.mentions);
        }
        if (input.type === 'delete') {
          s.applyDelete.run(input.room, input.target);
          s.redactEdits.run(input.room, input.target);
          s.clearReactions.run(input.room, input.target);
        }
        return { ok: true, event: toEvent(row, extras), duplicate: false };
      }),
      react: writing((input: ReactInput): ReactResult => {
        if (!s.isMember.get(input.user, input.room))
          return { ok: false, reason: s.getRoom.get(input.room) ? 'not_member' : 'no_room' };
        const target = s.getMessage.get(input.room, input.target) as EventRow | undefined;
        if (!target || target.deleted)
          return { ok: false, reason: s.getRoom.get(input.room) ? 'not_found' : 'no_room' };
        const key = [input.room, input.target, input.emoji, input.user] as const;
        const has = s.hasReaction.get(...key) !== undefined;
        if (has === input.on) return { ok: true, event: null, head: this.headSync(input.room) };
        if (
          input.on &&
          s.hasEmoji.get(input.room, input.target, input.emoji) === undefined &&
          n(s.countEmoji.get(input.room, input.target)) >= input.maxEmoji
        )
          return { ok: false, reason: 'too_many_reactions' };
        const bumped = s.bumpHead.get(input.room) as { head: number };
        s.insert.run({
          room: input.room,
          seq: bumped.head,
          kind: 'react',
          user: input.user,
          clientId: null,
          text: input.emoji,
          ts: input.ts,
          target: input.target,
          replyTo: null,
          mentions: null,
          reactOn: input.on ? 1 : 0,
          attachments: null,
          sendDigest: null,
        });
        if (input.on) s.addReaction.run(...key);
        else s.removeReaction.run(...key);
        const event: ReactedEvent = {
          type: 'reacted',
          room: input.room,
          seq: bumped.head,
          target: input.target,
          user: input.user,
          emoji: input.emoji,
          on: input.on,
          ts: input.ts,
        };
        return { ok: true, event };
      }),
      setTopic: writing((input: TopicInput): TopicResult => {
        const found = s.getRoom.get(input.room) as RoomRow | undefined;
        if (!found) return { ok: false, reason: 'no_room' };
        if (!s.isMember.get(input.user, input.room)) return { ok: false, reason: 'not_member' };
        const admin = input.admin === true && found.kind === 'public';
        if (found.kind !== 'dm' && found.owner !== input.user && !admin)
          return { ok: false, reason: 'forbidden' };
        if ((found.topic ?? '') === input.text)
          return { ok: true, event: null, head: this.headSync(input.room) };
        const bumped = s.bumpHead.get(input.room) as { head: number };
        s.insert.run({
          room: input.room,
          seq: bumped.head,
          kind: 'topic',
          user: input.user,
          clientId: null,
          text: input.text,
          ts: input.ts,
          target: null,
          replyTo: null,
          mentions: null,
          reactOn: null,
          attachments: null,
          sendDigest: null,
        });
        s.setTopic.run(input.text === '' ? null : input.text, input.room);
        const event: TopicEvent = {
          type: 'topic',
          room: input.room,
          seq: bumped.head,
          user: input.user,
          text: input.text,
          ts: input.ts,
        };
        return { ok: true, event };
      }),
      createSession: writing((session: SessionRecord, now: number, maxSessions: number): string[] => {
        s.dropExpiredSessions.run(session.user, now);
        const ended = s.dropOldestSessions.all(session.user, maxSessions - 1) as { token: string }[];
        s.createSession.run(session.token, session.user, session.expiresAt);
        return ended.map((row) => row.token);
      }),
      endOtherSessions: writing((user: string, keep: string, now: number): string[] => {
        const rows = s.deleteOtherSessions.all(user, keep) as { token: string; expires_at: number }[];
        return rows.filter((row) => row.expires_at > now).map((row) => row.token);
      }),
      changePassword: writing(
        (user: string, oldHash: string, newHash: string, keep: string, now: number): string[] | null => {
          if (s.setPassword.run(newHash, user, oldHash).changes !== 1) return null;
          const rows = s.deleteOtherSessions.all(user, keep) as { token: string; expires_at: number }[];
          return rows.filter((row) => row.expires_at > now).map((row) => row.token);
        },
      ),
      expire: writing((emptySince: number): ExpiredRooms => {
        const gone: string[] = [];
        const invitations: ExpiredRooms['invitations'] = [];
        for (const { name } of s.expired.all(emptySince, DEFAULT_ROOM) as { name: string }[]) {
          if (n(s.countMembers.get(name)) > 0) continue;
          // Read in the step that drops them, as deleteRoom reads them.
          for (const { user } of s.pendingInvitees.all(name) as { user: string }[])
            invitations.push({ user, room: name });
          s.keepFloor.run(name);
          s.deleteRoomEvents.run(name);
          s.deleteRoomReactions.run(name);
          s.deleteRoomMentions.run(name);
          s.dropRoomInvitations.run(name);
          bans.dropRoom(name);
          s.deleteRoom.run(name);
          gone.push(name);
        }
        return { rooms: gone, invitations };
      }),
    };
  }

  /** The connection, for modules that keep their own tables beside the store's (search.ts). */
  get database(): Database.Database {
    return this.#db;
  }

  /** Called with every committed room event, inside appendEvent (the memory feed listens here). */
  onCommit(listener: CommitListener): void {
    this.#onCommit = listener;
  }

  /** The head, synchronously (for the memory feed: read atomically with its registration). */
  headSync(room: string): number {
    return (this.#stmt.head.get(room) as { head: number } | undefined)?.head ?? 0;
  }

  /** Drops expired sessions (called at start). */
  purgeSessions(now: number): void {
    this.#stmt.purgeSessions.run(now);
  }

  // ---- accounts ----

  async getUser(name: string): Promise<UserRecord | null> {
    const row = this.#stmt.getUser.get(name) as
      | { name: string; password_hash: string; created_at: number }
      | undefined;
    return row ? { name: row.name, passwordHash: row.password_hash, createdAt: row.created_at } : null;
  }

  /**
   * The name's primary key (NOCASE) and the skeleton's unique index refuse in the insert itself
   * (ON CONFLICT DO NOTHING covers both); which one refused is read after, in the same synchronous
   * call, so no other write comes between.
   */
  async createUser(user: UserRecord): Promise<CreateUserResult> {
    const s = this.#stmt;
    if (s.createUser.run(user.name, user.passwordHash, user.createdAt, nameSkeleton(user.name)).changes === 1)
      return 'created';
    return s.getUser.get(user.name) ? 'taken' : 'similar';
  }

  /** One transaction: the user's expired and oldest sessions go with the insert (ports.ts). */
  async createSession(session: SessionRecord, now: number, maxSessions: number): Promise<string[]> {
    return this.#tx.createSession(session, now, maxSessions);
  }

  async getSession(token: string, now: number): Promise<SessionRecord | null> {
    const row = this.#stmt.getSession.get(token, now) as
      | { token: string; user: string; expires_at: number }
      | undefined;
    return row ? { token: row.token, user: row.user, expiresAt: row.expires_at } : null;
  }

  async deleteSession(token: string): Promise<void> {
    this.#stmt.deleteSession.run(token);
  }

  /** One statement: the user's sessions but `keep` go at once. */
  async deleteOtherSessions(user: string, keep: string, now: number): Promise<string[]> {
    return this.#tx.endOtherSessions(user, keep, now);
  }

  /** One transaction: the hash changes (if still `oldHash`) with the other sessions' deletion. */
  async changePassword(
    user: string,
    oldHash: string,
    newHash: string,
    keep: string,
    now: number,
  ): Promise<string[] | null> {
    return this.#tx.changePassword(user, oldHash, newHash, keep, now);
  }

  // ---- rooms ----

  async createRoom(room: RoomInfo, quotas: RoomQuotas): Promise<CreateRoomResult> {
    return this.#tx.createRoom(room, quotas);
  }

  async getRoom(name: string): Promise<RoomInfo | null> {
    const row = this.#stmt.getRoom.get(name) as RoomRow | undefined;
    return row ? toRoom(row) : null;
  }

  /** One transaction: nothing of the room is left when it resolves. */
  async deleteRoom(name: string, owner?: string): Promise<boolean> {
    return this.#tx.deleteRoom(name, owner) !== null;
  }

  /** deleteRoom's transaction, answering who was invited to the room (read in it). */
  async deleteRoomAndInvitations(name: string, owner?: string): Promise<string[] | null> {
    return this.#tx.deleteRoom(name, owner);
  }

  async listRooms(after: string, limit: number): Promise<RoomListing[]> {
    const rows = this.#stmt.listRooms.all(after, limit) as {
      room: string;
      members: number;
      topic: string | null;
    }[];
    return rows.map((r) => ({
      room: r.room,
      kind: 'public',
      members: r.members,
      ...(r.topic ? { topic: r.topic } : {}),
    }));
  }

  async join(user: string, room: string, maxRooms: number, kind?: RoomInfo['kind']): Promise<JoinResult> {
    return this.#tx.join(user, room, maxRooms, kind);
  }

  async leave(
    user: string,
    room: string,
    now: number,
    _reason?: 'removed',
    owner?: string,
    admin?: boolean,
  ): Promise<boolean> {
    return this.#tx.leave(user, room, now, owner, admin);
  }

  /** One transaction: the checks, the expired invitations dropped, the caps and the insert. */
  async invite(
    room: string,
    user: string,
    by: string,
    at: number,
    limits: InvitationLimits,
  ): Promise<InviteResult> {
    return this.#tx.invite(room, user, by, at, limits);
  }

  /** One transaction: the account's spelling of `user` read, then its invitations. */
  async invitations(user: string, expiredAt: number): Promise<InvitationRecord[]> {
    return this.#tx.invitations(user, expiredAt);
  }

  async invitees(room: string): Promise<string[]> {
    return (this.#stmt.invitees.all(room) as { user: string }[]).map((r) => r.user);
  }

  /** One transaction: the invitation taken and the membership added (or neither). */
  async accept(user: string, room: string, maxRooms: number, expiredAt: number): Promise<AcceptResult> {
    return this.#tx.accept(user, room, maxRooms, expiredAt);
  }

  /** One statement: the expired rows deleted and returned (a scan of the table, once a sweep). */
  async expireInvitations(expiredAt: number): Promise<{ user: string; room: string }[]> {
    const rows = this.#stmt.expireInvitations.all(expiredAt) as {
      user: string;
      room: string;
      declined: number;
    }[];
    // A declined one's user was told at the decline.
    return rows.filter((r) => !r.declined).map((r) => ({ user: r.user, room: r.room }));
  }

  /** One transaction: the account's spelling of `user` read, the owner checked, the row changed. */
  async dropInvitation(user: string, room: string, owner?: string): Promise<boolean> {
    return this.#tx.dropInvitation(user, room, owner);
  }

  /** One transaction: the block and the blocked user's invitations of the blocker dropped (blocks.ts). */
  async block(user: string, blocked: string, max: number): Promise<BlockResult> {
    return this.#blocks.block(user, blocked, max);
  }

  async unblock(user: string, blocked: string): Promise<boolean> {
    return this.#blocks.unblock(user, blocked);
  }

  async blockedUsers(user: string): Promise<string[]> {
    return this.#blocks.list(user);
  }

  async blocks(user: string, other: string): Promise<boolean> {
    return this.#blocks.blocks(user, other);
  }

  /** One transaction: the owner's check, the cap and the insert (bans.ts). */
  async ban(room: string, user: string, owner: string, max: number, admin?: boolean): Promise<BanResult> {
    return this.#bans.ban(room, user, owner, max, admin);
  }

  async unban(room: string, user: string, owner: string, admin?: boolean): Promise<boolean> {
    return this.#bans.unban(room, user, owner, admin);
  }

  async bans(room: string, after: string, limit: number): Promise<string[]> {
    return this.#bans.list(room, after, limit);
  }

  async memberships(user: string): Promise<Membership[]> {
    const rows = this.#stmt.memberships.all(user) as {
      room: string;
      last_read: number;
      kind: RoomInfo['kind'];
      owner: string | null;
    }[];
    return rows.map((r) => ({ room: r.room, kind: r.kind, owner: r.owner, lastRead: r.last_read }));
  }

  /** The check and the page in one transaction: one state of the database (both O(log n)). */
  async listMembers(user: string, room: string, after: string, limit: number): Promise<MembersPage> {
    return this.#tx.listMembers(user, room, after, limit);
  }

  async isMember(user: string, room: string): Promise<boolean> {
    return this.#stmt.isMember.get(user, room) !== undefined;
  }

  /** One indexed lookup per room, in one statement (the names passed as a JSON array). */
  async memberOf(user: string, rooms: readonly string[]): Promise<Set<string>> {
    if (rooms.length === 0) return new Set();
    const rows = this.#stmt.memberOf.all(user, JSON.stringify(rooms)) as { room: string }[];
    return new Set(rows.map((r) => r.room));
  }

  /** `tag` is ignored: events are not tagged here, a seq is always the one event (ports.ts). */
  async markRead(user: string, room: string, seq: number, _tag?: string): Promise<ReadMark> {
    return this.#tx.markRead(user, room, seq);
  }

  async unreadCount(room: string, user: string, after: number): Promise<number> {
    return (this.#stmt.unread.get(room, after, user, user.toLowerCase()) as { n: number }).n;
  }

  async mentionCount(room: string, user: string, after: number): Promise<number> {
    return (this.#stmt.mentionCount.get(room, user, after, user, user.toLowerCase()) as { n: number }).n;
  }

  /** Three reads with nothing in between (better-sqlite3 is synchronous): one view of the room. */
  async roomCounts(room: string, user: string, after: number): Promise<RoomCounts> {
    const s = this.#stmt;
    const key = user.toLowerCase();
    const unread = (s.unread.get(room, after, user, key) as { n: number }).n;
    const mentions = (s.mentionCount.get(room, user, after, user, key) as { n: number }).n;
    const topic = (s.getRoom.get(room) as RoomRow | undefined)?.topic;
    return topic ? { unread, mentions, topic } : { unread, mentions };
  }

  async appendEvent(input: AppendInput): Promise<AppendResult> {
    const result = this.#tx.append(input);
    if (result.ok && !result.duplicate) {
      const event = result.event;
      const seq = event.type === 'message' ? event.message.seq : event.seq;
      this.#onCommit(input.room, seq, JSON.stringify({ v: PROTOCOL_VERSION, ...event }));
    }
    return result;
  }

  /** appendEvent's dedup check alone: one read of the row the dedup index finds (ports.ts). */
  async storedSend(send: SendLookup): Promise<StoredSend> {
    const row = this.#stmt.dedup.get(send.room, send.user, send.clientId) as EventRow | undefined;
    if (!row) return null;
    // A row from before schema 5 has no digest: its id answers any resend, as in appendEvent.
    if (row.send_digest && row.send_digest !== sendDigestOfIds(send))
      return { ok: false, reason: 'id_reused' };
    return { ok: true, message: toMessage(row, this.#extras) };
  }

  async react(input: ReactInput): Promise<ReactResult> {
    const result = this.#tx.react(input);
    if (result.ok && result.event)
      this.#onCommit(input.room, result.event.seq, JSON.stringify({ v: PROTOCOL_VERSION, ...result.event }));
    return result;
  }

  /** One transaction: the checks, the 'topic' row and `rooms.topic` (ports.ts). */
  async setTopic(input: TopicInput): Promise<TopicResult> {
    const result = this.#tx.setTopic(input);
    if (result.ok && result.event)
      this.#onCommit(input.room, result.event.seq, JSON.stringify({ v: PROTOCOL_VERSION, ...result.event }));
    return result;
  }

  async head(room: string): Promise<number> {
    return this.headSync(room);
  }

  /**
   * The base is the head of the deleted room this one continues the numbering of (0 if none). A
   * seq here is always one event (events are not tagged), so any tag holds: ports.ts.
   */
  async resumePoint(room: string, _after: number, _tag: string | undefined): Promise<ResumePoint> {
    const base = (this.#stmt.seqFloor.get(room) as { head: number } | undefined)?.head ?? 0;
    return { base, head: this.headSync(room), holds: true };
  }

  /** The extras of a page of rows: the reactions of all its messages in one range query. */
  #pageExtras(room: string, rows: EventRow[]): Extras {
    let min = Number.MAX_SAFE_INTEGER;
    let max = 0;
    for (const r of rows)
      if (r.kind === 'message' && !r.deleted) {
        if (r.seq < min) min = r.seq;
        if (r.seq > max) max = r.seq;
      }
    if (max === 0) return this.#extras;
    const bySeq = new Map<number, [string, string][]>();
    for (const r of this.#stmt.reactionsIn.all(room, min, max) as {
      target: number;
      emoji: string;
      user: string;
    }[]) {
      const list = bySeq.get(r.target);
      if (list) list.push([r.emoji, r.user]);
      else bySeq.set(r.target, [[r.emoji, r.user]]);
    }
    return { replied: this.#extras.replied, reactions: (_room, seq) => bySeq.get(seq) ?? [] };
  }

  async messagesBefore(room: string, before: number, limit: number): Promise<ChatMessage[]> {
    const rows = this.#stmt.before.all(room, before, limit) as EventRow[];
    const extras = this.#pageExtras(room, rows);
    return rows.map((r) => toMessage(r, extras));
  }

  async messagesAfter(room: string, after: number, limit: number): Promise<ChatMessage[]> {
    const rows = this.#stmt.messagesAfter.all(room, after, limit) as EventRow[];
    const extras = this.#pageExtras(room, rows);
    return rows.map((r) => toMessage(r, extras));
  }

  async topicEvents(room: string, after: number, upTo: number, limit: number): Promise<TopicEvent[]> {
    const rows = this.#stmt.topicsBetween.all(room, after, upTo, limit) as EventRow[];
    return rows
      .reverse()
      .map((r) => ({ type: 'topic', room: r.room, seq: r.seq, user: r.user, text: r.text, ts: r.ts }));
  }

  async eventsAfter(room: string, after: number, limit: number): Promise<RoomEvent[]> {
    const rows = this.#stmt.after.all(room, after, limit) as EventRow[];
    const extras = this.#pageExtras(room, rows);
    return rows.map((r) => toEvent(r, extras));
  }

  async expireEmptyRooms(emptySince: number): Promise<ExpiredRooms> {
    return this.#tx.expire(emptySince);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
    this.#lock?.release();
  }
}
