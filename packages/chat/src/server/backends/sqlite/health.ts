/**
 * The SQLite store's outages: the disk full (SQLITE_FULL, or SQLITE_IOERR when a write fails), the
 * file locked by another process for longer than busy_timeout (SQLITE_BUSY), the file made
 * read-only under the server (SQLITE_READONLY). These say nothing about the request: the same one
 * succeeds once the condition is gone. So they are reported as Redis's outages are (ports.ts
 * UnavailableError, Backend.onServiceChange): the request is refused `unavailable` (nothing was
 * stored: the store's transaction rolled back), every page is told `service` unavailable and holds
 * its outbox, and when a probe write succeeds again `service` available makes the pages resend
 * under the same ids. No restart is needed.
 *
 *     available ──transient error──▶ away ──probe write commits──▶ available
 *                                     │ ▲
 *                                     └─┘ every probeMs; calls fail at once meanwhile
 *
 * While away, calls fail at once instead of reaching the database: a locked file would otherwise
 * hold the event loop (better-sqlite3 is synchronous) for busy_timeout at every request. Any other
 * error (a constraint, corruption, a bug) passes through unchanged: it is not an outage.
 */
import type Database from 'better-sqlite3';
import { type Log, UnavailableError } from '../../ports.js';

/** SQLite result codes (extended ones start with these) of a condition outside the request. */
const TRANSIENT = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY'];

export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT.some((t) => code === t || code.startsWith(`${t}_`));
}

export interface SqliteHealthOptions {
  /** How often a probe write is tried while away, ms. */
  probeMs: number;
  log: Log;
}

export class SqliteHealth {
  readonly #db: Database.Database;
  readonly #options: SqliteHealthOptions;
  readonly #listeners: ((available: boolean) => void)[] = [];
  #available = true;
  #reason = '';
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(db: Database.Database, options: SqliteHealthOptions) {
    this.#db = db;
    this.#options = options;
    // The probe's table, made while the store opens (when it can be written): at probe time
    // nothing but a row has to fit.
    db.exec('CREATE TABLE IF NOT EXISTS storage_probe (filler BLOB)');
  }

  get available(): boolean {
    return this.#available;
  }

  onChange(listener: (available: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * `target` with every method guarded: a transient error becomes UnavailableError (and the
   * storage is away); while away, a call is refused at once. A guarded method returns a Promise.
   */
  guard<T extends object>(target: T): T {
    return new Proxy(target, {
      get: (obj, key) => {
        const value = Reflect.get(obj, key, obj);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (!this.#available) return Promise.reject(this.#unavailable());
          try {
            return Promise.resolve(value.apply(obj, args)).catch((err: unknown) => {
              throw this.#failed(err);
            });
          } catch (err) {
            return Promise.reject(this.#failed(err));
          }
        };
      },
    });
  }

  /**
   * One probe write: a transaction that allocates pages (a full disk or page limit fails it), takes
   * the write lock without waiting (a lock held elsewhere fails it) and commits (a WAL that cannot
   * grow fails it), leaving nothing behind. True, and available again, when it commits.
   */
  probe(): boolean {
    const pageSize = this.#db.pragma('page_size', { simple: true }) as number;
    const wait = this.#db.pragma('busy_timeout', { simple: true }) as number;
    this.#db.pragma('busy_timeout = 0');
    try {
      this.#db
        .transaction(() => {
          this.#db.prepare('INSERT INTO storage_probe (filler) VALUES (zeroblob(?))').run(pageSize * 2);
          this.#db.prepare('DELETE FROM storage_probe').run();
        })
        .immediate();
    } catch (err) {
      if (!isTransient(err))
        this.#options.log(`chat: storage probe failed: ${(err as Error).message}`, 'error');
      return false;
    } finally {
      this.#db.pragma(`busy_timeout = ${wait}`);
    }
    if (!this.#available) this.#set(true);
    return true;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #unavailable(cause?: unknown): UnavailableError {
    return new UnavailableError(`chat storage (SQLite) is unavailable: ${this.#reason}`, { cause });
  }

  #failed(err: unknown): unknown {
    if (!isTransient(err)) return err;
    if (this.#available) {
      this.#reason = `${(err as Error).message} (${(err as { code: string }).code})`;
      this.#set(false);
    }
    return this.#unavailable(err);
  }

  #set(available: boolean): void {
    this.#available = available;
    if (available) {
      this.close();
      this.#options.log('chat: storage (SQLite) is available again', 'info');
    } else {
      this.#options.log(`chat: storage (SQLite) is unavailable: ${this.#reason}`, 'error');
      this.#timer = setInterval(() => this.probe(), this.#options.probeMs);
      this.#timer.unref();
    }
    for (const listener of this.#listeners) listener(available);
  }
}
