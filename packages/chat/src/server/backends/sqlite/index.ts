/**
 * The single-process backend: the SQLite store plus the in-process parts of backends/memory/
 * (committed events handed over at commit, the notice bus, presence, throttle). With
 * `dbPath: ':memory:'` nothing is written to disk. The store, search and attachments are reached
 * through health.ts: a full disk or a file locked elsewhere is an outage the pages wait out, not an
 * internal error.
 */
import type { Backend, BackendOptions } from '../../ports.js';
import { MemoryBus } from '../memory/bus.js';
import { MemoryCommittedEvents } from '../memory/events.js';
import { MemoryPresence } from '../memory/presence.js';
import { MemoryThrottle } from '../memory/throttle.js';
import { SqliteAttachments } from './attachments.js';
import { SqliteHealth } from './health.js';
import { SqliteSearch } from './search.js';
import { cannotOpen, SqliteStore } from './store.js';

/** How often a write is tried while the storage is away (health.ts), ms. */
const PROBE_MS = 1000;

export function createSqliteBackend(dbPath: string, options: BackendOptions): Backend {
  const store = new SqliteStore(dbPath);
  let health: SqliteHealth;
  try {
    // Writes (the probe's table, the purge of expired sessions), which a file locked elsewhere or
    // a full disk refuses: the start is refused like the store's own, naming the file, and the
    // store is closed, so a failed start holds neither the database nor its lock (owner-lock.ts).
    health = new SqliteHealth(store.database, { probeMs: PROBE_MS, log: options.log });
    store.purgeSessions(options.clock.now());
  } catch (err) {
    store.close().catch(() => {});
    throw cannotOpen(dbPath, err);
  }
  const guarded = health.guard(store);
  const events = new MemoryCommittedEvents((room) => store.headSync(room));
  store.onCommit((room, seq, payload) => events.commit(room, seq, payload));
  const bus = new MemoryBus();
  return {
    name: 'sqlite',
    accounts: guarded,
    rooms: guarded,
    events,
    bus,
    presence: new MemoryPresence(),
    throttle: new MemoryThrottle(options.buckets, options.signInBackoff),
    search: health.guard(new SqliteSearch(store.database)),
    attachments: health.guard(new SqliteAttachments(store.database, options.maxAttachmentBytesTotal)),
    get available() {
      return health.available;
    },
    onServiceChange: (listener) => health.onChange(listener),
    stats: () => ({ backend: 'sqlite', rooms: events.rooms, topics: bus.topics }),
    close: () => {
      health.close();
      return store.close();
    },
  };
}
