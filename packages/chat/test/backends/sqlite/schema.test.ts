/**
 * Schema version 3 (issue #16: replies, mentions, reactions): a version 2 database, as the server
 * wrote it before, opens with its messages intact and takes replies, mentions and reactions.
 * Schema version 6: memberships indexed by (room, user), so a page of members is not a sort.
 * Schema version 7: sessions indexed by (user, expires_at), so a sign-in's cap is not a scan.
 * Schema version 8: users keep their name's skeleton under a unique index (look-alike names).
 * Schema version 9: pending invitations to private rooms.
 * Schema version 10: blocks.
 * Schema version 11: a declined invitation is kept, marked, until it expires.
 * Schema version 12: bans from public rooms.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../src/server/backends/sqlite/store.js';
import { asMembers } from '../members.js';
import { closeSqliteStores, tempDatabasePath, writeDatabaseWithOneMessage } from './helpers.js';

/** The version every migration test ends on (schema.ts's CURRENT): one place to change at the next. */
const CURRENT_VERSION = 13;

afterEach(closeSqliteStores);

describe('SQLite schema 3', () => {
  it('migrates a version 2 database in place: old messages stay, new ones take replies, mentions, reactions', async () => {
    const path = tempDatabasePath();
    // A version 2 database: what SqliteStore wrote before, without the version 3 columns and tables.
    await writeDatabaseWithOneMessage(path, 'before', 2);
    const db = new Database(path);
    db.exec(`
      DROP TABLE reactions; DROP TABLE mentions;
      ALTER TABLE events DROP COLUMN reply_to; ALTER TABLE events DROP COLUMN mentions;
      ALTER TABLE events DROP COLUMN react_on;
      PRAGMA user_version = 2;
    `);
    db.close();

    const store = asMembers(new SqliteStore(path));
    try {
      expect(await store.messagesBefore('a', 99, 9)).toEqual([
        { room: 'a', seq: 1, id: 'c1', user: 'ann', text: 'before', ts: 2 },
      ]);
      await store.appendEvent({
        type: 'message',
        room: 'a',
        user: 'ben',
        clientId: 'c2',
        text: '@ann yes',
        ts: 3,
        replyTo: 1,
        mentions: ['ann'],
      });
      expect(
        await store.react({ room: 'a', user: 'ben', target: 1, emoji: '👍', on: true, ts: 4, maxEmoji: 20 }),
      ).toMatchObject({ ok: true, event: { seq: 3 } });
      expect(await store.messagesAfter('a', 0, 9)).toEqual([
        { room: 'a', seq: 1, id: 'c1', user: 'ann', text: 'before', ts: 2, reactions: { '👍': ['ben'] } },
        {
          room: 'a',
          seq: 2,
          id: 'c2',
          user: 'ben',
          text: '@ann yes',
          ts: 3,
          reply: { seq: 1, user: 'ann', text: 'before' },
          mentions: ['ann'],
        },
      ]);
      expect(await store.mentionCount('a', 'ann', 0)).toBe(1);
    } finally {
      await store.close();
    }
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(CURRENT_VERSION); // and on to the current version
    check.close();
  });
});

describe('SQLite schema 6', () => {
  it("migrates a version 5 database: a page of a room's members is read from the (room, user) index, not sorted", async () => {
    const path = tempDatabasePath();
    const before = new SqliteStore(path);
    await before.createRoom(
      { name: 'a', kind: 'public', owner: null, createdAt: 1 },
      {
        maxRooms: 10,
        maxOwnedRooms: 10,
      },
    );
    for (const user of ['cy', 'ann', 'bob']) await before.join(user, 'a', 10);
    await before.close();
    // What version 5 had: the index of (room) alone.
    const old = new Database(path);
    old.exec(`
      DROP INDEX memberships_room_user; CREATE INDEX memberships_room ON memberships(room);
      PRAGMA user_version = 5;
    `);
    old.close();

    const store = new SqliteStore(path);
    try {
      expect(await store.listMembers('ann', 'a', 'ann', 10)).toEqual({ ok: true, members: ['bob', 'cy'] });
    } finally {
      await store.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(CURRENT_VERSION);
      const indexes = check.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'memberships'",
      );
      expect((indexes.all() as { name: string }[]).map((r) => r.name).sort()).toEqual([
        'memberships_room_user',
        'sqlite_autoindex_memberships_1',
      ]);
      // The store's listing query: a search of the index, in its order (no sort of the room's rows).
      const plan = check
        .prepare(
          'EXPLAIN QUERY PLAN SELECT user FROM memberships WHERE room = ? AND user > ? ORDER BY user LIMIT ?',
        )
        .all('a', '', 10) as { detail: string }[];
      expect(plan.map((p) => p.detail)).toEqual([
        'SEARCH memberships USING COVERING INDEX memberships_room_user (room=? AND user>?)',
      ]);
    } finally {
      check.close();
    }
  });
});

describe('SQLite schema 7', () => {
  it("migrates a version 6 database: a sign-in finds the user's sessions by the (user, expires_at) index", async () => {
    const path = tempDatabasePath();
    const before = new SqliteStore(path);
    await before.createSession({ token: 't1', user: 'ann', expiresAt: 5000 }, 1000, 32);
    await before.close();
    // What version 6 had: no index of sessions but their token's.
    const old = new Database(path);
    old.exec('DROP INDEX sessions_user; PRAGMA user_version = 6;');
    old.close();

    const store = new SqliteStore(path);
    try {
      expect(await store.createSession({ token: 't2', user: 'ann', expiresAt: 6000 }, 2000, 1)).toEqual([
        't1',
      ]);
    } finally {
      await store.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(CURRENT_VERSION);
      const plan = (sql: string) =>
        (check.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('ann', 1) as { detail: string }[]).map(
          (p) => p.detail,
        );
      // The store's statements (store.ts: dropExpiredSessions, dropOldestSessions' inner select).
      expect(plan('DELETE FROM sessions WHERE user = ? AND expires_at <= ?')).toEqual([
        'SEARCH sessions USING INDEX sessions_user (user=? AND expires_at<?)',
      ]);
      expect(
        plan(
          'SELECT token FROM sessions WHERE user = ? ORDER BY expires_at DESC, rowid DESC LIMIT -1 OFFSET ?',
        ),
      ).toEqual(['SEARCH sessions USING INDEX sessions_user (user=?)']);
    } finally {
      check.close();
    }
  });
});

describe('SQLite schema 8', () => {
  it('migrates a version 7 database holding look-alike accounts: both stay, the earliest keeps the skeleton, new look-alikes are refused', async () => {
    const path = tempDatabasePath();
    await new SqliteStore(path).close();
    // What version 7 had: users without skeletons, so `aIice` could sign up beside `alice`.
    const old = new Database(path);
    old.exec(`
      DROP INDEX users_skeleton; ALTER TABLE users DROP COLUMN skeleton;
      INSERT INTO users (name, password_hash, created_at) VALUES
        ('aIice', 'h2', 20), ('alice', 'h1', 10), ('Bob', 'h3', 30), ('rnike', 'h4', 40), ('Mike', 'h5', 35);
      PRAGMA user_version = 7;
    `);
    old.close();

    const store = new SqliteStore(path);
    try {
      for (const [name, createdAt] of [
        ['alice', 10],
        ['aIice', 20],
        ['rnike', 40],
        ['Mike', 35],
        ['Bob', 30],
      ] as const)
        expect(await store.getUser(name)).toMatchObject({ name, createdAt });
      const user = (name: string) => ({ name, passwordHash: 'h', createdAt: 50 });
      expect(await store.createUser(user('a1ice'))).toBe('similar');
      expect(await store.createUser(user('B0b'))).toBe('similar');
      expect(await store.createUser(user('ALICE'))).toBe('taken');
      expect(await store.createUser(user('carol'))).toBe('created');
      expect(await store.createUser(user('caroI'))).toBe('similar');
    } finally {
      await store.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(CURRENT_VERSION);
      expect(check.prepare('SELECT name, skeleton FROM users ORDER BY created_at').all()).toEqual([
        { name: 'alice', skeleton: 'alice' },
        { name: 'aIice', skeleton: null },
        { name: 'Bob', skeleton: 'bob' },
        { name: 'Mike', skeleton: 'rnike' },
        { name: 'rnike', skeleton: null },
        { name: 'carol', skeleton: 'carol' },
      ]);
    } finally {
      check.close();
    }
  });
});

describe('SQLite schema 9', () => {
  it('migrates a version 8 database: its rooms and members stay, and invitations work on it', async () => {
    const path = tempDatabasePath();
    const before = new SqliteStore(path);
    const quotas = { maxRooms: 9, maxOwnedRooms: 9 };
    await before.createRoom({ name: 'sec', kind: 'private', owner: 'ann', createdAt: 1 }, quotas);
    expect(await before.join('ann', 'sec', 9)).toBe('joined');
    await before.close();
    // What version 8 had: no invitations table.
    const old = new Database(path);
    old.exec('DROP TABLE invitations; PRAGMA user_version = 8;');
    old.close();

    const store = new SqliteStore(path);
    try {
      expect(await store.isMember('ann', 'sec')).toBe(true);
      const limits = { perUser: 9, perRoom: 9, expiredAt: 0 };
      expect(await store.invite('sec', 'ben', 'ann', 100, limits)).toBe('invited');
      expect(await store.invitations('ben', 0)).toEqual([{ room: 'sec', user: 'ben', by: 'ann', at: 100 }]);
      expect(await store.accept('ben', 'sec', 9, 0)).toBe('joined');
    } finally {
      await store.close();
    }
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('user_version', { simple: true })).toBe(CURRENT_VERSION);
      const plan = (
        check.prepare('EXPLAIN QUERY PLAN SELECT user FROM invitations WHERE room = ?').all('sec') as {
          detail: string;
        }[]
      ).map((p) => p.detail);
      expect(plan.join()).toContain('invitations_room');
    } finally {
      check.close();
    }
  });
});

/** Invitation limits for the migrated stores below. */
const limits = { perUser: 9, perRoom: 9, expiredAt: 0 };

/** The file at `path` is at CURRENT_VERSION. */
function expectCurrentVersion(path: string): void {
  const check = new Database(path, { readonly: true });
  try {
    expect(check.pragma('user_version', { simple: true })).toBe(CURRENT_VERSION);
  } finally {
    check.close();
  }
}

/**
 * A database of today's schema with ann's private room `sec` and ben's pending invitation to it,
 * then taken back to an older version by `sql` (what that version did not have, dropped; no older
 * version had bans or topics: dropped here).
 */
async function inviteThenDowngrade(path: string, sql: string): Promise<void> {
  const before = new SqliteStore(path);
  await before.createRoom(
    { name: 'sec', kind: 'private', owner: 'ann', createdAt: 1 },
    { maxRooms: 9, maxOwnedRooms: 9 },
  );
  expect(await before.join('ann', 'sec', 9)).toBe('joined');
  expect(await before.invite('sec', 'ben', 'ann', 100, limits)).toBe('invited');
  await before.close();
  const old = new Database(path);
  old.exec('DROP TABLE bans; ALTER TABLE rooms DROP COLUMN topic;');
  old.exec(sql);
  old.close();
}

describe('SQLite schema 10', () => {
  it('migrates a version 9 database: its rooms, members and invitations stay, and blocks work on it', async () => {
    const path = tempDatabasePath();
    // What version 9 had: no blocks table.
    await inviteThenDowngrade(path, 'DROP TABLE blocks; PRAGMA user_version = 9;');

    const store = new SqliteStore(path);
    try {
      expect(await store.isMember('ann', 'sec')).toBe(true);
      expect(await store.blockedUsers('ben')).toEqual([]);
      expect(await store.block('ben', 'ann', 9)).toEqual({ result: 'blocked', dropped: ['sec'] });
      expect(await store.blockedUsers('ben')).toEqual(['ann']);
      expect(await store.invite('sec', 'ben', 'ann', 101, limits)).toBe('blocked');
    } finally {
      await store.close();
    }
    expectCurrentVersion(path);
  });
});

describe('SQLite schema 11', () => {
  it('migrates a version 10 database: its invitations stay pending, and a decline is kept until they expire', async () => {
    const path = tempDatabasePath();
    // What version 10 had: no declined column.
    await inviteThenDowngrade(
      path,
      'ALTER TABLE invitations DROP COLUMN declined; PRAGMA user_version = 10;',
    );

    const store = new SqliteStore(path);
    try {
      expect(await store.invitations('ben', 0)).toEqual([{ room: 'sec', user: 'ben', by: 'ann', at: 100 }]);
      expect(await store.dropInvitation('ben', 'sec')).toBe(true);
      expect(await store.invitations('ben', 0)).toEqual([]);
      expect(await store.invite('sec', 'ben', 'ann', 101, limits)).toBe('already_invited');
    } finally {
      await store.close();
    }
    expectCurrentVersion(path);
  });
});

describe('SQLite schema 12', () => {
  it('migrates a version 11 database: its rooms, members and invitations stay, and bans work on it', async () => {
    const path = tempDatabasePath();
    await inviteThenDowngrade(path, 'PRAGMA user_version = 11;');
    const old = new Database(path);
    old.exec(
      "INSERT INTO rooms (name, kind, owner, created_at) VALUES ('hall', 'public', 'ann', 1); INSERT INTO memberships (user, room) VALUES ('ann', 'hall'), ('ben', 'hall');",
    );
    old.close();

    const store = new SqliteStore(path);
    try {
      expect(await store.isMember('ann', 'sec')).toBe(true);
      expect(await store.invitations('ben', 0)).toEqual([{ room: 'sec', user: 'ben', by: 'ann', at: 100 }]);
      expect(await store.bans('hall', '', 10)).toEqual([]);
      expect(await store.ban('hall', 'ben', 'ann', 9)).toBe('banned');
      expect(await store.leave('ben', 'hall', 2, 'removed', 'ann')).toBe(true);
      expect(await store.join('ben', 'hall', 9, 'public')).toBe('banned');
      expect(await store.bans('hall', '', 10)).toEqual(['ben']);
      // Not in a private room, nor by anyone but the owner.
      expect(await store.ban('sec', 'ben', 'ann', 9)).toBe('no_room');
      expect(await store.ban('hall', 'cy', 'ben', 9)).toBe('no_room');
    } finally {
      await store.close();
    }
    expectCurrentVersion(path);
  });
});

describe('SQLite schema 13', () => {
  it('migrates a version 12 database: its rooms have no topic, and one is set and logged on it', async () => {
    const path = tempDatabasePath();
    const before = new SqliteStore(path);
    await before.createRoom(
      { name: 'hall', kind: 'public', owner: 'ann', createdAt: 1 },
      { maxRooms: 9, maxOwnedRooms: 9 },
    );
    expect(await before.join('ann', 'hall', 9)).toBe('joined');
    expect(await before.ban('hall', 'ben', 'ann', 9)).toBe('banned');
    await before.close();
    // What version 12 had: no rooms.topic.
    const old = new Database(path);
    old.exec('ALTER TABLE rooms DROP COLUMN topic; PRAGMA user_version = 12;');
    old.close();

    const store = new SqliteStore(path);
    try {
      expect(await store.getRoom('hall')).toEqual({
        name: 'hall',
        kind: 'public',
        owner: 'ann',
        createdAt: 1,
      });
      expect(await store.bans('hall', '', 10)).toEqual(['ben']);
      const set = await store.setTopic({ room: 'hall', user: 'ann', text: 'Lunch', ts: 5 });
      expect(set).toEqual({
        ok: true,
        event: { type: 'topic', room: 'hall', seq: 1, user: 'ann', text: 'Lunch', ts: 5 },
      });
      expect(await store.getRoom('hall')).toMatchObject({ topic: 'Lunch' });
      expect(await store.listRooms('', 10)).toEqual([
        { room: 'hall', kind: 'public', members: 1, topic: 'Lunch' },
      ]);
      expect(await store.eventsAfter('hall', 0, 10)).toEqual([
        { type: 'topic', room: 'hall', seq: 1, user: 'ann', text: 'Lunch', ts: 5 },
      ]);
      expect(await store.unreadCount('hall', 'ben', 0)).toBe(0);
    } finally {
      await store.close();
    }
    expectCurrentVersion(path);
  });
});
