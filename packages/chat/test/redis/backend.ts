/** A Redis backend for store-level tests: its own key prefix on a shared redis-server. */
import { DEFAULT_SIGN_IN_BACKOFF } from '../../src/server/backends/backoff.js';
import { createRedisBackend, type RedisBackendOptions } from '../../src/server/backends/redis/index.js';
import { ManualClock } from '../../src/server/clock.js';
import type { Backend } from '../../src/server/ports.js';

const rate = { burst: 10, perSecond: 1 };
let prefixes = 0;

export function openRedisBackend(url: string, extra: Partial<RedisBackendOptions> = {}): Promise<Backend> {
  return createRedisBackend(
    { url, prefix: `b${prefixes++}:`, ...extra },
    {
      clock: new ManualClock(),
      log: () => {},
      buckets: { messages: rate, rooms: rate, requests: rate, signInPerIp: rate, signUpPerIp: rate },
      signInBackoff: DEFAULT_SIGN_IN_BACKOFF,
    },
  );
}
