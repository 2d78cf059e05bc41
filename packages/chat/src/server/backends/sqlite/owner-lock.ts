/**
 * One chat server per database file. Two servers on one file (no Redis) would each store
 * messages the other never broadcasts: their users would not see each other's live messages, and
 * each server's in-memory feed would miss the other's events. So the second one is refused at
 * start, before it touches the database.
 *
 * The lock is a small SQLite file beside the database (`<db>-lock`, like its -wal and -shm) that
 * the owner holds in EXCLUSIVE locking mode for as long as it runs. SQLite's locks are the
 * operating system's (fcntl), released when the process ends however it ends (kill -9
 * included), so a crash leaves no stale lock to clean up. The database itself stays readable by
 * others (the sqlite3 shell, a backup) as before.
 */
import { lstatSync, realpathSync } from 'node:fs';
import Database from 'better-sqlite3';

/**
 * Another chat server holds the database (its lock file is locked). The message's remedy names
 * startChatServer's option (dbPath); naming() gives it with another caller's name for that setting
 * (main.ts: its --db flag).
 */
export class DatabaseInUseError extends Error {
  readonly code = 'database_in_use';
  constructor(
    readonly databasePath: string,
    readonly lockPath: string,
    options?: { cause?: unknown },
  ) {
    super('', options);
    this.message = this.naming('the option dbPath');
    this.name = 'DatabaseInUseError';
  }

  /** The message with `setting` as the name of the setting that chooses the database file. */
  naming(setting: string): string {
    return `the database ${this.databasePath} is in use by another chat server (its lock ${this.lockPath} is held); stop that one, or give another database file with ${setting}`;
  }
}

/**
 * The file SQLite opens for `path`: it follows a symbolic link to the database (its -wal and -shm
 * go beside the target), so the lock must too, or a server started through a link would hold a
 * lock of its own on the same database. A linked folder needs nothing: the lock beside the
 * database through it is the same file. A path that is no link (or not there yet) is itself.
 */
function fileOf(path: string): string {
  try {
    return lstatSync(path).isSymbolicLink() ? realpathSync(path) : path;
  } catch {
    return path; // not there yet (the first start creates it), or a dangling link: SQLite fails on it
  }
}

export class OwnerLock {
  readonly #db: Database.Database;

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Takes the lock of the database at `databasePath`, or throws DatabaseInUseError at once. */
  static acquire(databasePath: string): OwnerLock {
    const lockPath = `${fileOf(databasePath)}-lock`;
    let db: Database.Database;
    try {
      db = new Database(lockPath);
    } catch (err) {
      // A read-only folder or file system: say which file, not SQLite's "unable to open database file".
      const code = (err as { code?: string }).code ?? (err as Error).message;
      throw new Error(`cannot create its lock ${lockPath} (${code}); the folder must be writable`, {
        cause: err,
      });
    }
    try {
      // No waiting: a lock held now is held by a running server.
      db.pragma('busy_timeout = 0');
      // MEMORY: no -journal file beside the lock; there is nothing in it to protect.
      db.pragma('journal_mode = MEMORY');
      // EXCLUSIVE: the lock taken by the first write transaction is kept until close.
      db.pragma('locking_mode = EXCLUSIVE');
      // A write, so that a lock file this user may not write (left by a start as root, say) is
      // refused: SQLite opens it read-only then, and an empty transaction "takes" the lock without
      // locking anything, so every server started on the database went ahead.
      db.exec('BEGIN EXCLUSIVE; PRAGMA user_version = 1; COMMIT');
    } catch (err) {
      db.close();
      const code = (err as { code?: string }).code;
      if (code?.startsWith('SQLITE_BUSY'))
        throw new DatabaseInUseError(databasePath, lockPath, { cause: err });
      // SQLite opens a file lazily, and read-only where it may not write: on a read-only file
      // system, or a lock file this user may not write, the open above succeeds and only the write
      // finds out.
      if (code?.startsWith('SQLITE_CANTOPEN') || code?.startsWith('SQLITE_READONLY'))
        throw new Error(
          `cannot write its lock ${lockPath} (${code}); the lock file and its folder must be writable by this user`,
          { cause: err },
        );
      throw err;
    }
    return new OwnerLock(db);
  }

  release(): void {
    if (this.#db.open) this.#db.close();
  }
}
