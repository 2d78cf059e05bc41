/** The search contract on Redis: a scan of each room's history (search/scan.ts) over the Redis store. */
import { afterEach, beforeAll } from 'vitest';
import type { Backend } from '../../src/server/ports.js';
import { searchContract } from '../backends/search-contract.js';
import { openRedisBackend } from './backend.js';
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

searchContract('Redis', async () => {
  const b = await openRedisBackend(server.url);
  backends.push(b);
  return { rooms: b.rooms, search: b.search };
});
