/**
 * GET /ws without Upgrade answers what an upgrade would get now (the page asks after its
 * WebSocket failed to open, because browsers hide a refused upgrade's status): 401 without a
 * session, 426 when the upgrade would be accepted, 429 with Retry-After at the per-user cap.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, register, startTestServer, TestClient } from '../helpers.js';

afterEach(cleanup);

describe('GET /ws without Upgrade', () => {
  it('gives the gate\u2019s answer: 401, 426, then 429 once the user has maxSocketsPerUser sockets', async () => {
    const server = await startTestServer({ maxSocketsPerUser: 1 });
    const probe = (cookie?: string) => fetch(`${server.origin}/ws`, { headers: cookie ? { cookie } : {} });
    expect((await probe()).status).toBe(401);
    const cookie = await register(server.origin, 'alice');
    const ok = await probe(cookie);
    expect(ok.status).toBe(426);
    expect(ok.headers.get('upgrade')).toBe('websocket');
    const { client } = await TestClient.join(server.origin, cookie);
    const refused = await probe(cookie);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    client.ws.close();
    await client.closed;
  });
});
