/** The search contract on Redis: a scan of each room's history (search/scan.ts) over the Redis store. */
import { searchContract } from '../backends/search-contract.js';
import { redisBackendsForThisFile } from './backend.js';

const openBackend = redisBackendsForThisFile();

searchContract('Redis', async () => {
  const b = await openBackend();
  return { rooms: b.rooms, search: b.search };
});
