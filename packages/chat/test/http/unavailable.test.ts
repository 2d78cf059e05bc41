/**
 * A 503 (the store unavailable) says so in fixed words: the store's own text (on Redis its reply:
 * OOM, READONLY..., or the connection's failure) is never sent. It is logged unless the node knows
 * of the outage, whose start the backend logged with its reason.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { callRedis, toStoreError } from '../../src/server/backends/redis/keys.js';
import { ManualClock } from '../../src/server/clock.js';
import { createRequestHandler, type RouteDeps, UNAVAILABLE_TEXT } from '../../src/server/http/routes.js';
import type { LogLevel } from '../../src/server/ports.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** A Redis reply error as ioredis gives it. */
function replyError(message: string): Error {
  return Object.assign(new Error(message), { name: 'ReplyError' });
}

/**
 * The API over stores that fail every call with `failure` (the error the Redis store throws):
 * its origin, and the lines logged.
 */
async function failingApi(
  failure: Error,
  unhealthy: string | null = null,
): Promise<{ origin: string; lines: [string, LogLevel][] }> {
  const lines: [string, LogLevel][] = [];
  const fail = async () => {
    throw failure;
  };
  const store = new Proxy({}, { get: () => fail });
  const deps = {
    accounts: store,
    rooms: store,
    attachments: store,
    throttle: store,
    clock: new ManualClock(),
    secureCookies: false,
    maxRoomsPerUser: 10,
    trustedProxies: [],
    endSession: () => {},
    files: new Map(),
    allowedOrigins: [],
    unhealthy: () => unhealthy,
    stats: null,
    log: (line: string, level: LogLevel) => lines.push([line, level]),
  } as unknown as RouteDeps;
  const server = createServer(createRequestHandler(deps));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lines };
}

describe('503 unavailable', () => {
  const OOM = "OOM command not allowed when used memory > 'maxmemory'.";
  const READONLY = "READONLY You can't write against a read only replica.";

  const CLOSED = 'Connection is closed.';
  const login = (origin: string) =>
    fetch(`${origin}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: JSON.stringify({ name: 'alice', password: 'correct horse' }),
    });

  it.each([OOM, READONLY, CLOSED])(
    'answers fixed words, not the store’s (%s), and logs those',
    async (reply) => {
      // The error the Redis store throws for a failed call (keys.ts, toStoreError), here while the node
      // has not noticed an outage (a connection's failure, before the probe's).
      const failure = toStoreError(reply === CLOSED ? new Error(reply) : replyError(reply));
      const { origin, lines } = await failingApi(failure);
      const res = await login(origin);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      const text = await res.text();
      // Regression: the body was {"error":"unavailable","message":"chat storage (Redis) is
      // unavailable: OOM command not allowed..."}.
      expect(JSON.parse(text)).toEqual({ error: 'unavailable', message: UNAVAILABLE_TEXT });
      expect(text).not.toContain(reply.split(' ')[0]);
      expect(lines).toEqual([
        [`chat: http request failed: chat storage (Redis) is unavailable: ${reply}`, 'error'],
      ]);
    },
  );

  it('logs nothing while the node knows of the outage (the backend logged it when it noticed)', async () => {
    for (const failure of [toStoreError(replyError(OOM)), await refusedWhileDown()]) {
      const { origin, lines } = await failingApi(failure, 'redis');
      const res = await fetch(`${origin}/api/session`, {
        headers: { cookie: `riptide_chat_session=${'a'.repeat(43)}` },
      });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ error: 'unavailable', message: UNAVAILABLE_TEXT });
      expect((await login(origin)).status).toBe(503);
      expect(lines).toEqual([]);
    }
  });
});

/** What a store call throws while the node knows Redis is down (keys.ts, callRedis). */
function refusedWhileDown(): Promise<Error> {
  return callRedis(
    () => false,
    async () => null,
  ).then(
    () => {
      throw new Error('callRedis should refuse while Redis is known to be down');
    },
    (err: Error) => err,
  );
}
