/**
 * SQLite's outages (health.ts): a full disk (simulated with PRAGMA max_page_count on the store's
 * own connection) and a file locked by another connection for longer than busy_timeout. A write
 * then is refused `unavailable` with nothing of it stored (not the message, not its search entry),
 * the pages are told, and the same send succeeds once once the condition is gone, without a
 * restart.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isTransient, SqliteHealth } from '../../../src/server/backends/sqlite/health.js';
import { SqliteSearch } from '../../../src/server/backends/sqlite/search.js';
import { BUSY_TIMEOUT_MS, type SqliteStore } from '../../../src/server/backends/sqlite/store.js';
import { MAX_SESSIONS_PER_USER } from '../../../src/server/http/session.js';
import { UnavailableError } from '../../../src/server/ports.js';
import { parseQuery, type SearchTerm } from '../../../src/server/search/terms.js';
import { cleanup, register, startTestServer, TestClient } from '../../helpers.js';
import { asMembers } from '../members.js';
import { closeSqliteStores, openSqliteStore, tempDatabasePath } from './helpers.js';

afterEach(async () => {
  vi.useRealTimers();
  await cleanup();
  await closeSqliteStores();
});

const terms = (q: string) => parseQuery(q) as SearchTerm[];

/** Past the ~1000 bytes a WITHOUT ROWID row keeps in its page: the row needs a new (overflow) page. */
const LONG = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');

/** A store on a file with room 'a' that ann is in, its guarded parts, and what its health said. */
async function setUp() {
  const store = asMembers(openSqliteStore(tempDatabasePath()));
  const lines: string[] = [];
  const changes: boolean[] = [];
  const health = new SqliteHealth(store.database, { probeMs: 1000, log: (line) => lines.push(line) });
  health.onChange((available) => changes.push(available));
  await store.createRoom(
    { name: 'a', kind: 'public', owner: null, createdAt: 0 },
    { maxRooms: 9, maxOwnedRooms: 9 },
  );
  await store.join('ann', 'a', 9);
  const rooms = health.guard(store);
  const unguarded = new SqliteSearch(store.database);
  const search = health.guard(unguarded);
  return { store, db: store.database, health, rooms, search, unguarded, lines, changes };
}

const send = (clientId: string, text = LONG) =>
  ({ type: 'message', room: 'a', user: 'ann', clientId, text, ts: 5 }) as const;

/** The database as full as it is now: no page can be added. */
function fill(db: Database.Database): void {
  expect(db.pragma('freelist_count', { simple: true })).toBe(0);
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
}

describe('SqliteHealth', () => {
  it('the disk full: the send is refused unavailable, nothing of it stored, and taken once after the probe', async () => {
    const { store, db, health, rooms, search, unguarded, lines, changes } = await setUp();
    fill(db);
    const refused = await rooms.appendEvent(send('m1')).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(UnavailableError);
    expect((refused as UnavailableError).code).toBe('unavailable');
    expect((refused as UnavailableError).message).toBe(
      'chat storage (SQLite) is unavailable: database or disk is full (SQLITE_FULL)',
    );
    expect(health.available).toBe(false);
    expect(changes).toEqual([false]);
    expect(lines).toEqual(['chat: storage (SQLite) is unavailable: database or disk is full (SQLITE_FULL)']);
    // Nothing half-stored: no seq taken, no row, no search entry (read past the guard).
    expect(store.headSync('a')).toBe(0);
    expect(await store.eventsAfter('a', 0, 9)).toEqual([]);
    expect((await unguarded.search(['a'], terms('word299'), undefined, 9))?.hits).toEqual([]);
    // Meanwhile every call is refused at once, reads too (a locked file would stall each one).
    await expect(rooms.getRoom('a')).rejects.toBeInstanceOf(UnavailableError);
    // Still full: the probe fails and says nothing new.
    expect(health.probe()).toBe(false);
    expect(changes).toEqual([false]);

    db.pragma('max_page_count = 1073741823'); // space again
    expect(health.probe()).toBe(true);
    expect(changes).toEqual([false, true]);
    expect(lines.at(-1)).toBe('chat: storage (SQLite) is available again');
    const stored = await rooms.appendEvent(send('m1'));
    expect(stored).toMatchObject({ ok: true, duplicate: false, event: { message: { seq: 1, id: 'm1' } } });
    expect(await rooms.appendEvent(send('m1'))).toMatchObject({ ok: true, duplicate: true });
    expect((await search.search(['a'], terms('word299'), undefined, 9))?.hits.map((h) => h.seq)).toEqual([1]);
    // The probe left nothing behind.
    expect(db.prepare('SELECT COUNT(*) AS n FROM storage_probe').get()).toEqual({ n: 0 });
  });

  it('probes every probeMs while away, and stops once it is back', async () => {
    vi.useFakeTimers();
    const { db, health, rooms, changes } = await setUp();
    fill(db);
    await expect(rooms.appendEvent(send('m1'))).rejects.toBeInstanceOf(UnavailableError);
    vi.advanceTimersByTime(1000);
    expect(changes).toEqual([false]);
    db.pragma('max_page_count = 1073741823');
    vi.advanceTimersByTime(999);
    expect(changes).toEqual([false]);
    vi.advanceTimersByTime(1);
    expect(changes).toEqual([false, true]);
    expect(vi.getTimerCount()).toBe(0);
    expect(health.available).toBe(true);
  });

  it('the file locked by another process past busy_timeout: unavailable, and back when it lets go', async () => {
    const { store, db, health, rooms, changes } = await setUp();
    expect(db.pragma('busy_timeout', { simple: true })).toBe(BUSY_TIMEOUT_MS);
    const other = new Database(store.database.name);
    try {
      other.exec('BEGIN IMMEDIATE');
      // (A transaction that reads first fails at its first write without waiting: SQLite does not
      // wait to upgrade a read.)
      const refused = await rooms.appendEvent(send('m1', 'hi')).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(UnavailableError);
      expect((refused as Error).message).toBe(
        'chat storage (SQLite) is unavailable: database is locked (SQLITE_BUSY)',
      );
      expect(health.probe()).toBe(false); // still held
      // The probe does not wait, and leaves the connection's busy_timeout as it was.
      expect(db.pragma('busy_timeout', { simple: true })).toBe(BUSY_TIMEOUT_MS);
      other.exec('COMMIT');
      expect(health.probe()).toBe(true);
      expect(changes).toEqual([false, true]);
      expect(await rooms.appendEvent(send('m1', 'hi'))).toMatchObject({ ok: true, duplicate: false });
    } finally {
      other.close();
    }
  });

  it('a write that waits for a lock held elsewhere holds the node at most BUSY_TIMEOUT_MS, then the outage is declared', async () => {
    // Regression: busy_timeout was 5 s. better-sqlite3 is synchronous, so the first call of an
    // outage that starts with a write (a sign-in's session, an upload) held the whole node, every
    // socket of it, for 5 s before the outage was declared.
    const { store, db, health, rooms, changes } = await setUp();
    expect(db.pragma('busy_timeout', { simple: true })).toBe(BUSY_TIMEOUT_MS);
    expect(BUSY_TIMEOUT_MS).toBe(250);
    const other = new Database(store.database.name);
    try {
      other.exec('BEGIN IMMEDIATE');
      const refused = await rooms
        .createSession({ token: 't1', user: 'ann', expiresAt: 9 }, 0, MAX_SESSIONS_PER_USER)
        .catch((err: unknown) => err);
      // The wait itself is SQLite's (the pragma read above pins its length); no wall-clock bound
      // here, since a loaded machine can stretch any real wait.
      expect(refused).toBeInstanceOf(UnavailableError);
      expect(changes).toEqual([false]);
    } finally {
      other.close();
      health.close(); // its probe timer, before the store closes
    }
  });

  it('a write that reads first (a send) waits for a lock held elsewhere too, and goes through once it is let go', async () => {
    // Regression: the store's transactions began DEFERRED. A send reads (its dedup, the room's
    // head) before it writes, and SQLite refuses the upgrade of a read to a write at once while
    // another connection holds the write lock (SQLITE_BUSY, busy_timeout not waited): a write of a
    // moment by another process, the sqlite3 shell, was an outage at once. Now BEGIN IMMEDIATE.
    const { store, db, rooms, changes } = await setUp();
    // Long, so that only the holder letting go ends the wait (never the timeout, on a slow machine).
    db.pragma('busy_timeout = 120000');
    // The holder is a worker thread: this thread is blocked inside SQLite while it waits. It takes
    // the lock, says so, waits for the go (set just before the send), and lets go 100 ms later: the
    // send has begun by then, so a send that does not wait has failed already.
    const go = new Int32Array(new SharedArrayBuffer(4));
    const holder = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const Database = require(workerData.sqlite);
       const db = new Database(workerData.path);
       db.exec('BEGIN IMMEDIATE');
       parentPort.postMessage('held');
       Atomics.wait(workerData.go, 0, 0);
       Atomics.wait(workerData.go, 0, 1, 100);
       db.exec('COMMIT');
       db.close();`,
      {
        eval: true,
        workerData: {
          sqlite: createRequire(import.meta.url).resolve('better-sqlite3'),
          path: store.database.name,
          go,
        },
      },
    );
    try {
      await new Promise((resolve) => holder.once('message', resolve));
      Atomics.store(go, 0, 1);
      Atomics.notify(go, 0);
      expect(await rooms.appendEvent(send('m1', 'hi'))).toMatchObject({ ok: true, duplicate: false });
      expect(changes).toEqual([]);
    } finally {
      await holder.terminate();
    }
  });

  it('passes any other error through unchanged: it is not an outage', async () => {
    const { health, changes } = await setUp();
    const bug = Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT_UNIQUE' });
    const guarded = health.guard({
      fails: async () => {
        throw bug;
      },
      throws: () => {
        throw bug;
      },
    });
    await expect(guarded.fails()).rejects.toBe(bug);
    await expect(guarded.throws()).rejects.toBe(bug);
    expect(health.available).toBe(true);
    expect(changes).toEqual([]);
  });

  it('knows the transient codes, extended ones too', () => {
    for (const code of [
      'SQLITE_BUSY',
      'SQLITE_BUSY_SNAPSHOT',
      'SQLITE_FULL',
      'SQLITE_IOERR_WRITE',
      'SQLITE_READONLY',
    ])
      expect(isTransient({ code })).toBe(true);
    for (const code of ['SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CONSTRAINT', 'SQLITE_FULLX', undefined])
      expect(isTransient({ code })).toBe(false);
    expect(isTransient(null)).toBe(false);
  });
});

describe('SQLite outage through the server', () => {
  it('a send while the disk is full: unavailable to the sender, service to all, then the resend is stored once', async () => {
    const server = await startTestServer();
    const cookie = await register(server.origin, 'alice');
    const { client: alice } = await TestClient.join(server.origin, cookie);
    const bob = await TestClient.user(server.origin, 'bob');
    const db = (server.backend.rooms as unknown as SqliteStore).database;
    fill(db);
    const text = LONG;
    const refused = await alice.request('ack', { type: 'send', room: 'general', id: 'm1', text });
    expect(refused).toMatchObject({
      type: 'error',
      code: 'unavailable',
      id: 'm1',
      message: 'chat storage is unavailable; retry when service resumes',
    });
    for (const client of [alice, bob])
      expect(await client.next('service')).toMatchObject({ available: false });
    expect(server.backend.available).toBe(false);
    // The connection stays open and answers.
    await alice.barrier();
    // An upload meanwhile: 503, which the page shows with its Retry; the store's reason stays in the
    // server's log (http/routes.ts: it tells a client how the storage is run).
    const upload = await fetch(`${server.origin}/api/attachments?room=general&name=a.bin`, {
      method: 'POST',
      headers: { cookie, origin: server.origin, 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(8192, 1),
    });
    expect(upload.status).toBe(503);
    expect(upload.headers.get('retry-after')).toBe('1');
    expect(await upload.json()).toEqual({
      error: 'unavailable',
      message: 'chat storage is unavailable',
    });

    db.pragma('max_page_count = 1073741823');
    // The server's own probe (every second) finds the space: no restart.
    for (const client of [alice, bob])
      expect(await client.next('service')).toMatchObject({ available: true });
    const ack = await alice.request('ack', { type: 'send', room: 'general', id: 'm1', text });
    expect(ack).toMatchObject({ type: 'ack', id: 'm1' });
    expect(ack).not.toHaveProperty('duplicate');
    await bob.next('message', (m) => m.message.id === 'm1');
    expect((await bob.barrier()).filter((m) => m.type === 'message')).toEqual([]);
  });
});
