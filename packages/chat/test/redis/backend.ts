/** Redis backends for store-level tests: each with its own key prefix on a shared redis-server. */
import { afterEach } from 'vitest';
import { DEFAULT_SIGN_IN_BACKOFF } from '../../src/server/backends/backoff.js';
import { createRedisBackend, type RedisBackendOptions } from '../../src/server/backends/redis/index.js';
import { ManualClock } from '../../src/server/clock.js';
import type { Backend } from '../../src/server/ports.js';
import { redisServerForThisFile } from './helpers.js';

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

/**
 * For a test file of store-level tests: one redis-server for the file (`redisServerForThisFile`)
 * and a function that opens a backend on it with `openRedisBackend`, closed after its test. Call it
 * at the top of the file.
 */
export function redisBackendsForThisFile(): (extra?: Partial<RedisBackendOptions>) => Promise<Backend> {
  const server = redisServerForThisFile();
  const open: Backend[] = [];
  afterEach(async () => {
    for (const b of open.splice(0)) await b.close();
  });
  return async (extra = {}) => {
    const b = await openRedisBackend(server().url, extra);
    open.push(b);
    return b;
  };
}
