/**
 * GET /healthz of a node on Redis: 503 {"ok":false,"reason":"redis"} while its Redis is lost, 200
 * again once the node has it back by itself. (test/http/healthz.test.ts has the SQLite and stopping
 * cases; the reason is read from the backend's availability, which outage.test.ts drives.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startChatServer } from '../../src/server/chat-server.js';
import { cleanupAll, RedisServer } from './helpers.js';

afterEach(cleanupAll);

describe('GET /healthz on Redis', () => {
  it('503 {"ok":false,"reason":"redis"} while Redis is down (GET and HEAD), 200 once the node has it back', async () => {
    const redis = await RedisServer.start();
    const server = await startChatServer({
      port: 0,
      redis: { url: redis.url },
      sweepIntervalMs: 0,
      log: () => {},
    });
    try {
      const healthz = `${server.url}healthz`;
      expect((await fetch(healthz)).status).toBe(200);

      // Barriers on the node's own view of Redis (the change it reports), not on time.
      const serviceChange = (to: boolean) =>
        new Promise<void>((resolve) => server.backend.onServiceChange((up) => up === to && resolve()));
      const lost = serviceChange(false);
      await redis.stop('SIGKILL');
      await lost;
      const res = await fetch(healthz);
      expect(res.status).toBe(503);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toEqual({ ok: false, reason: 'redis' });
      const head = await fetch(healthz, { method: 'HEAD' });
      expect(head.status).toBe(503);
      expect(await head.text()).toBe('');

      const back = serviceChange(true);
      await redis.restart();
      await back;
      const again = await fetch(healthz);
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual({ ok: true });
    } finally {
      await server.close();
    }
  });
});
