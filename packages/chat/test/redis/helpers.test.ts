/**
 * The Redis harness itself (helpers.ts): its redis-server must be its own, on a port no other
 * test file's server is given, while the files run side by side.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAll, freePort, RedisServer } from './helpers.js';

afterEach(cleanupAll);

describe('RedisServer', () => {
  it('start: a port given to another server (here another redis-server) in the meantime: another port, and that other server is not taken for ours', async () => {
    const other = await RedisServer.start();
    const offered: number[] = [];
    const ports = async () => {
      // The first port was free when chosen and has been given to another server since.
      const port = offered.length === 0 ? other.port : await freePort();
      offered.push(port);
      return port;
    };
    const ours = await RedisServer.start([], ports);
    expect(offered).toHaveLength(2);
    expect(ours.port).toBe(offered[1]);
    const client = new Redis(ours.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      const info = await client.info('server');
      expect(info).toContain(`process_id:${ours.proc?.pid}\r\n`);
    } finally {
      client.disconnect();
    }
  });
});
