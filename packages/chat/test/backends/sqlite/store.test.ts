/** The store contract on SQLite, plus what is SQLite's own: reopening, and the first schema migrated. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../src/server/backends/sqlite/store.js';
import { bansContract } from '../bans-contract.js';
import { blocksContract } from '../blocks-contract.js';
import { asMembers } from '../members.js';
import { messagePartsContract } from '../message-parts-contract.js';
import { storeContract } from '../store-contract.js';
import {
  closeSqliteStores,
  openSqliteStore,
  tempDatabasePath,
  writeDatabaseWithOneMessage,
} from './helpers.js';

afterEach(closeSqliteStores);

/** In a folder that does not exist yet: the store makes it. */
const tempPath = () => tempDatabasePath('nested/chat.db');
const openStore = (path = tempPath()) => openSqliteStore(path);

storeContract('SQLite', async () => {
  const store = openStore();
  return { accounts: store, rooms: store };
});

blocksContract('SQLite', async () => ({ rooms: openStore() }));

bansContract('SQLite', async () => {
  const store = openStore();
  const insert = store.database.prepare('INSERT INTO bans (room, user) VALUES (?, ?)');
  return { rooms: store, olderBan: async (room, user) => void insert.run(room, user) };
});

messagePartsContract('SQLite', async () => {
  const store = openStore();
  return { accounts: store, rooms: store };
});

describe('SqliteStore', () => {
  it('keeps everything across reopening', async () => {
    const path = tempPath();
    const first = asMembers(new SqliteStore(path));
    await first.createRoom(
      { name: 'a', kind: 'private', owner: 'ann', createdAt: 1 },
      { maxRooms: 9, maxOwnedRooms: 9 },
    );
    await first.join('ann', 'a', 9);
    await first.appendEvent({ type: 'message', room: 'a', user: 'ann', clientId: 'c', text: 'kept', ts: 2 });
    await first.close();
    const again = asMembers(openStore(path));
    expect(await again.memberships('ann')).toEqual([
      { room: 'a', kind: 'private', owner: 'ann', lastRead: 0 },
    ]);
    expect((await again.messagesBefore('a', 9, 9))[0]).toMatchObject({ text: 'kept' });
  });

  it('hands each committed event over once, in order, as the message clients receive', async () => {
    const store = asMembers(openStore());
    const seen: [string, number, string][] = [];
    store.onCommit((room, seq, payload) => seen.push([room, seq, payload]));
    await store.createRoom(
      { name: 'a', kind: 'public', owner: null, createdAt: 1 },
      { maxRooms: 9, maxOwnedRooms: 9 },
    );
    await store.appendEvent({ type: 'message', room: 'a', user: 'ann', clientId: 'c', text: 'hi', ts: 2 });
    await store.appendEvent({ type: 'message', room: 'a', user: 'ann', clientId: 'c', text: 'hi', ts: 3 }); // duplicate
    await store.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 1, ts: 4 });
    expect(seen).toEqual([
      [
        'a',
        1,
        '{"v":2,"type":"message","message":{"room":"a","seq":1,"id":"c","user":"ann","text":"hi","ts":2}}',
      ],
      ['a', 2, '{"v":2,"type":"deleted","room":"a","seq":2,"target":1,"user":"ann","ts":4}'],
    ]);
  });

  it('migrates a version 3 database: a client id becomes unique per room, old ids still dedup', async () => {
    const path = tempPath();
    mkdirSync(dirname(path), { recursive: true });
    await writeDatabaseWithOneMessage(path, 'in a', 2);
    // What version 3 had: one id per user across all rooms.
    const db = new Database(path);
    db.exec(`
      DROP INDEX events_dedup;
      CREATE UNIQUE INDEX events_dedup ON events(user, client_id) WHERE client_id IS NOT NULL;
      PRAGMA user_version = 3;
    `);
    db.close();
    const store = asMembers(openStore(path));
    await store.createRoom(
      { name: 'b', kind: 'public', owner: null, createdAt: 3 },
      { maxRooms: 9, maxOwnedRooms: 9 },
    );
    const input = { type: 'message', room: 'b', user: 'ann', clientId: 'c1', text: 'in b', ts: 4 } as const;
    expect(await store.appendEvent(input)).toMatchObject({
      duplicate: false,
      event: { message: { seq: 1 } },
    });
    expect(await store.appendEvent({ ...input, room: 'a', text: 'in a' })).toMatchObject({
      duplicate: true,
      event: { message: { room: 'a', seq: 1, text: 'in a' } },
    });
  });

  it('refuses a reused client id after reopening, and dedups any resend of an id stored before digests', async () => {
    const path = tempPath();
    mkdirSync(dirname(path), { recursive: true });
    await writeDatabaseWithOneMessage(path, 'in a', 2);
    const input = { type: 'message', room: 'a', user: 'ann', clientId: 'c1', text: 'in a', ts: 4 } as const;
    const reopened = asMembers(new SqliteStore(path));
    expect(await reopened.appendEvent({ ...input, text: 'other' })).toEqual({
      ok: false,
      reason: 'id_reused',
    });
    expect(await reopened.appendEvent(input)).toMatchObject({
      duplicate: true,
      event: { message: { seq: 1 } },
    });
    await reopened.close();
    // What version 4 had: no digest column.
    const db = new Database(path);
    db.exec('ALTER TABLE events DROP COLUMN send_digest; PRAGMA user_version = 4;');
    db.close();
    const store = asMembers(openStore(path));
    expect(await store.appendEvent({ ...input, text: 'other' })).toMatchObject({
      duplicate: true,
      event: { message: { seq: 1, text: 'in a' } },
    });
    // New messages get their digest.
    await store.appendEvent({ ...input, clientId: 'c2', text: 'new' });
    expect(await store.appendEvent({ ...input, clientId: 'c2', text: 'other' })).toEqual({
      ok: false,
      reason: 'id_reused',
    });
  });

  it('migrates a database of the first schema (rooms.created_by) in place', async () => {
    const path = tempPath();
    mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.exec(`
      CREATE TABLE rooms (name TEXT PRIMARY KEY, head INTEGER NOT NULL DEFAULT 0, created_by TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE memberships (user TEXT NOT NULL, room TEXT NOT NULL REFERENCES rooms(name), last_read INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user, room));
      CREATE TABLE events (room TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('message', 'edit', 'delete')), user TEXT NOT NULL, client_id TEXT,
        text TEXT NOT NULL DEFAULT '', ts INTEGER NOT NULL, target INTEGER, edited_at INTEGER, deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (room, seq)) WITHOUT ROWID;
      CREATE UNIQUE INDEX events_dedup ON events(user, client_id) WHERE client_id IS NOT NULL;
      INSERT INTO rooms VALUES ('general', 3, 'system', 1), ('rust', 0, 'ann', 2);
      INSERT INTO memberships VALUES ('ann', 'general', 1);
      INSERT INTO events VALUES ('general', 1, 'message', 'ann', 'c1', '', 5, NULL, 6, 1);
      INSERT INTO events VALUES ('general', 2, 'edit', 'ann', NULL, 'secret', 6, 1, NULL, 0);
      INSERT INTO events VALUES ('general', 3, 'delete', 'ann', NULL, '', 7, 1, NULL, 0);
    `);
    db.close();
    const store = asMembers(openStore(path));
    expect(await store.getRoom('general')).toEqual({
      name: 'general',
      kind: 'public',
      owner: null,
      createdAt: 1,
    });
    expect(await store.getRoom('rust')).toEqual({ name: 'rust', kind: 'public', owner: 'ann', createdAt: 2 });
    expect(await store.memberships('ann')).toEqual([
      { room: 'general', kind: 'public', owner: null, lastRead: 1 },
    ]);
    expect(JSON.stringify(await store.eventsAfter('general', 0, 9))).not.toContain('secret');
    // The empty room (nobody in it) now expires like any other.
    expect((await store.expireEmptyRooms(10)).rooms).toEqual(['rust']);
    // Events live in the new table, with its dedup index and without the old kind CHECK.
    const check = new Database(path, { readonly: true });
    const sql = (
      check.prepare("SELECT sql FROM sqlite_master WHERE name = 'events'").get() as { sql: string }
    ).sql;
    expect(sql).not.toContain('CHECK');
    expect(
      check.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'events%' ORDER BY name").all(),
    ).toEqual([{ name: 'events' }, { name: 'events_dedup' }]);
    check.close();
  });
});
