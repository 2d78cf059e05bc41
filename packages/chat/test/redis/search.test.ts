/** The search contract on Redis: a scan of each room's history (search/scan.ts) over the Redis store. */
import { afterEach, beforeAll } from 'vitest';
import { DEFAULT_SIGN_IN_BACKOFF } from '../../src/server/backends/backoff.js';
import { createRedisBackend } from '../../src/server/backends/redis/index.js';
import { ManualClock } from '../../src/server/clock.js';
import type { Backend } from '../../src/server/ports.js';
import { searchContract } from '../backends/search-contract.js';
import { cleanupAll, RedisServer } from './helpers.js';

const backends: Backend[] = [];
afterEach(async () => {
  for (const b of backends.splice(0)) await b.close();
});

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
  return () => cleanupAll();
});

const rate = { burst: 10, perSecond: 1 };
let prefixes = 0;

searchContract('Redis', async () => {
  const b = await createRedisBackend(
    { url: server.url, prefix: `s${prefixes++}:` },
    {
      clock: new ManualClock(),
      log: () => {},
      buckets: { messages: rate, rooms: rate, requests: rate, signInPerIp: rate, signUpPerIp: rate },
      signInBackoff: DEFAULT_SIGN_IN_BACKOFF,
    },
  );
  backends.push(b);
  return { rooms: b.rooms, search: b.search };
});
