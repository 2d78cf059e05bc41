/**
 * Set-up shared by the SQLite tests: stores (in memory or on a file in a temporary directory) that
 * are closed, and directories that are removed, by `closeSqliteStores` (each test file registers it
 * with `afterEach(closeSqliteStores)`), and a database file as an earlier server left it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../../src/server/backends/sqlite/store.js';

const stores: SqliteStore[] = [];
const dirs: string[] = [];

/** Closes every store `openSqliteStore` opened, then removes every `tempDatabasePath` directory. */
export async function closeSqliteStores(): Promise<void> {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * A database path in a fresh temporary directory (removed by `closeSqliteStores`); nothing is
 * created at it. `file` may name a subfolder too ('nested/chat.db'), which does not exist yet.
 */
export function tempDatabasePath(file = 'chat.db'): string {
  const dir = mkdtempSync(join(tmpdir(), 'riptide-sqlite-'));
  dirs.push(dir);
  return join(dir, file);
}

/** A SqliteStore on `path` (in memory by default), closed by `closeSqliteStores`. */
export function openSqliteStore(path = ':memory:'): SqliteStore {
  const store = new SqliteStore(path);
  stores.push(store);
  return store;
}

/**
 * Writes, and closes, a database file holding what an earlier server would have left: public room
 * 'a' (created at `ts - 1`) with one message from ann (client id 'c1', seq 1) of `text` at `ts`.
 */
export async function writeDatabaseWithOneMessage(path: string, text: string, ts: number): Promise<void> {
  const earlier = new SqliteStore(path);
  await earlier.createRoom(
    { name: 'a', kind: 'public', owner: null, createdAt: ts - 1 },
    { maxRooms: 9, maxOwnedRooms: 9 },
  );
  await earlier.join('ann', 'a', 9);
  await earlier.appendEvent({ type: 'message', room: 'a', user: 'ann', clientId: 'c1', text, ts });
  await earlier.close();
}
