/**
 * The single-process backend: the SQLite store plus the in-process parts of backends/memory/
 * (committed events handed over at commit, the notice bus, presence, throttle). With
 * `dbPath: ':memory:'` nothing is written to disk.
 */
import type { Backend, BackendOptions } from '../../ports.js';
import { MemoryBus } from '../memory/bus.js';
import { MemoryCommittedEvents } from '../memory/events.js';
import { MemoryPresence } from '../memory/presence.js';
import { MemoryThrottle } from '../memory/throttle.js';
import { SqliteAttachments } from './attachments.js';
import { SqliteSearch } from './search.js';
import { SqliteStore } from './store.js';

export function createSqliteBackend(dbPath: string, options: BackendOptions): Backend {
  const store = new SqliteStore(dbPath);
  store.purgeSessions(options.clock.now());
  const events = new MemoryCommittedEvents((room) => store.headSync(room));
  store.onCommit((room, seq, payload) => events.commit(room, seq, payload));
  const bus = new MemoryBus();
  return {
    name: 'sqlite',
    accounts: store,
    rooms: store,
    events,
    bus,
    presence: new MemoryPresence(),
    throttle: new MemoryThrottle(options.buckets, options.signInBackoff),
    search: new SqliteSearch(store.database),
    attachments: new SqliteAttachments(store.database, options.maxAttachmentBytesTotal),
    available: true,
    onServiceChange() {
      // One process: storage is this process's own file; there is no outage to report.
    },
    stats: () => ({ backend: 'sqlite', rooms: events.rooms, topics: bus.topics }),
    close: () => store.close(),
  };
}
