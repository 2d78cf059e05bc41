/**
 * One chat server per database file (owner-lock.ts): a second store on a file another holds is
 * refused before it touches the database, and the lock goes with its holder.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SIGN_IN_BACKOFF } from '../../../src/server/backends/backoff.js';
import { createSqliteBackend } from '../../../src/server/backends/sqlite/index.js';
import { DatabaseInUseError, OwnerLock } from '../../../src/server/backends/sqlite/owner-lock.js';
import { SqliteStore } from '../../../src/server/backends/sqlite/store.js';
import { PortInUseError, startChatServer } from '../../../src/server/chat-server.js';
import { ManualClock } from '../../../src/server/clock.js';
import { closeSqliteStores, openSqliteStore, tempDatabasePath } from './helpers.js';

afterEach(async () => {
  vi.restoreAllMocks();
  await closeSqliteStores();
});

const rate = { burst: 10, perSecond: 1 };
const backendOptions = {
  clock: new ManualClock(),
  log: () => {},
  buckets: { messages: rate, rooms: rate, requests: rate, signInPerIp: rate, signUpPerIp: rate },
  signInBackoff: DEFAULT_SIGN_IN_BACKOFF,
};

describe('OwnerLock', () => {
  it('refuses a second holder of one database at once, with the path, and takes it after a release', () => {
    const path = tempDatabasePath();
    const first = OwnerLock.acquire(path);
    let refused: unknown;
    try {
      OwnerLock.acquire(path);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(DatabaseInUseError);
    expect((refused as DatabaseInUseError).code).toBe('database_in_use');
    expect((refused as DatabaseInUseError).message).toBe(
      `the database ${path} is in use by another chat server (its lock ${path}-lock is held); stop that one, or give another database file with the option dbPath`,
    );
    first.release();
    OwnerLock.acquire(path).release();
  });

  it('says which lock file it cannot create (a read-only folder), not "unable to open database file"', () => {
    const path = tempDatabasePath('missing/chat.db'); // its folder does not exist
    let message = '';
    try {
      OwnerLock.acquire(path);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.startsWith(`cannot create its lock ${path}-lock (`)).toBe(true);
    expect(message.endsWith('); the folder must be writable')).toBe(true);
  });

  it('leaves no journal beside the lock', () => {
    const path = tempDatabasePath();
    const lock = OwnerLock.acquire(path);
    expect(existsSync(`${path}-lock`)).toBe(true);
    expect(existsSync(`${path}-lock-journal`)).toBe(false);
    lock.release();
  });

  it('a store on a file another store holds is refused, and the held database is not written', async () => {
    const path = tempDatabasePath();
    const first = openSqliteStore(path);
    const before = readFileSync(path);
    expect(() => openSqliteStore(path)).toThrow(DatabaseInUseError);
    expect(readFileSync(path)).toEqual(before);
    await first.close();
    // Closed: the file is free for the next server.
    await openSqliteStore(path).close();
  });

  it('a store on a symbolic link to a held database is refused, naming the lock beside the file', async () => {
    // SQLite follows the link (the second would share the first's -wal and -shm), so does the lock.
    const path = tempDatabasePath();
    const link = join(dirname(path), 'link.db');
    const first = openSqliteStore(path);
    symlinkSync(path, link);
    expect(() => openSqliteStore(link)).toThrow(
      `the database ${link} is in use by another chat server (its lock ${path}-lock is held)`,
    );
    expect(existsSync(`${link}-lock`)).toBe(false);
    await first.close();
    await openSqliteStore(link).close();
  });

  it('a backend whose start-up write is refused names the file and lets go of the lock', async () => {
    // The backend writes at start after the store opened (the expired sessions' purge): another
    // process holding the write lock past busy_timeout (5 s, not waited out here) refuses it.
    const path = tempDatabasePath();
    const locked = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    vi.spyOn(SqliteStore.prototype, 'purgeSessions').mockImplementation(() => {
      throw locked;
    });
    let refused: unknown;
    try {
      createSqliteBackend(path, backendOptions);
    } catch (err) {
      refused = err;
    }
    expect((refused as Error).message).toBe(
      `cannot open the database ${path}: database is locked (SQLITE_BUSY)`,
    );
    expect((refused as Error).cause).toBe(locked);
    vi.restoreAllMocks();
    // Nothing held: the next start (a retry in the same process, or another server) gets the file.
    OwnerLock.acquire(path).release();
    await createSqliteBackend(path, backendOptions).close();
  });

  it('a server start refused for an option, or for a certificate it cannot read, holds no lock', async () => {
    // Regression: these were checked after the backend had opened (sweepIntervalMs even after the
    // port was listening), so the refused start kept the database, its lock and the port.
    const path = tempDatabasePath();
    const base = { port: 0, dbPath: path, log: () => {} };
    await expect(startChatServer({ ...base, sweepIntervalMs: -1 })).rejects.toThrow(
      'startChatServer: sweepIntervalMs',
    );
    await expect(startChatServer({ ...base, maxQueuedRequests: 0 })).rejects.toThrow(
      'startChatServer: maxQueuedRequests',
    );
    await expect(
      startChatServer({ ...base, tls: { cert: 'not a cert', key: 'not a key' } }),
    ).rejects.toThrow();
    const server = await startChatServer({ ...base, sweepIntervalMs: 0 });
    await server.close();
  });

  it('a server start refused because its port is taken holds no lock, and the next start gets the file', async () => {
    const path = tempDatabasePath();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const refused = startChatServer({ port, dbPath: path, log: () => {}, sweepIntervalMs: 0 });
      await expect(refused).rejects.toBeInstanceOf(PortInUseError);
      await expect(refused).rejects.toThrow(`port ${port} is in use`);
      // The database's lock went with the refused start: a retry in this process gets it.
      OwnerLock.acquire(path).release();
      const server = await startChatServer({ port: 0, dbPath: path, log: () => {}, sweepIntervalMs: 0 });
      await server.close();
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  // As root (who may write any file) it runs as nobody through setpriv; skipped if neither can be.
  const asRoot = process.getuid?.() === 0;
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((file) => existsSync(file));
  it.runIf(process.getuid !== undefined && (!asRoot || setpriv !== undefined))(
    'refuses a lock file this user may not write, where two servers would both have "taken" it',
    async () => {
      // Regression: SQLite opens a file it may not write read-only, and the empty EXCLUSIVE
      // transaction then succeeded without locking anything: every server started on the database
      // (say, its lock left by a start as root) went ahead, each unaware of the other.
      const path = tempDatabasePath();
      chmodSync(dirname(path), 0o777);
      writeFileSync(`${path}-lock`, '');
      chmodSync(`${path}-lock`, 0o444);
      const built = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dist', 'server');
      const script = `const { OwnerLock } = await import(${JSON.stringify(join(built, 'backends', 'sqlite', 'owner-lock.js'))});
        const held = [];
        for (const i of [1, 2]) {
          try { held.push(OwnerLock.acquire(process.argv[1])); console.log('taken'); }
          catch (err) { console.log(err.message); }
        }`;
      const node = ['--input-type=module', '-e', script, path];
      const [command, args] = asRoot
        ? [setpriv as string, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...node]]
        : [process.execPath, node];
      const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk;
      });
      await new Promise((resolve) => child.once('close', resolve));
      const refusal = `cannot write its lock ${path}-lock (SQLITE_READONLY); the lock file and its folder must be writable by this user`;
      expect(out.trim().split('\n')).toEqual([refusal, refusal]);
    },
  );

  it('is released when its holder is killed with SIGKILL (no stale lock after a crash)', async () => {
    const path = tempDatabasePath();
    // A process that takes the lock, says so, and waits to be killed.
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const D = require('better-sqlite3'); const db = new D(process.argv[1]);
         db.pragma('journal_mode = MEMORY'); db.pragma('locking_mode = EXCLUSIVE');
         db.exec('BEGIN EXCLUSIVE; COMMIT'); process.stdout.write('held\\n'); setInterval(() => {}, 1000);`,
        `${path}-lock`,
      ],
      // From here, so require('better-sqlite3') finds the workspace's.
      { cwd: dirname(fileURLToPath(import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
    expect(() => OwnerLock.acquire(path)).toThrow(DatabaseInUseError);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    OwnerLock.acquire(path).release();
  });
});
