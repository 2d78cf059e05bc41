/**
 * Signing out on one node closes the session's sockets on every node (docs/chat-protocol.md:
 * "the session's WebSockets close with 1008"); the same user's other sessions stay open. A node
 * that could not hear the notice looks its sockets' sessions up when it hears the bus again.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/server/ports.js';
import { login, post, register, TestClient } from '../helpers.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();
const admins: Redis[] = [];
afterEach(() => {
  for (const admin of admins.splice(0)) admin.disconnect();
});

/**
 * Nodes a and b on one Redis, b connecting as its own ACL user; alice signed in twice, both
 * sessions' sockets on node b; then node b's subscriber cut off, unable to come back until the
 * test turns `user` on again (`ACL SETUSER user on`).
 */
async function signedOutWhileNodeBCannotHear(user: string, prefix: string) {
  const admin = new Redis(redis().url, { lazyConnect: true });
  admins.push(admin);
  await admin.connect();
  await admin.call('ACL', 'SETUSER', user, 'on', '>secret', '~*', '&*', '+@all');
  const [a] = await startChatServersOnRedis(1, { url: redis().url, prefix });
  servers.push(a);
  const [b] = await startChatServersOnRedis(1, {
    url: redis().url.replace('redis://', `redis://${user}:secret@`),
    prefix,
  });
  servers.push(b);
  const [one, two] = [a, b].map((node) => node.url.replace(/\/$/, ''));
  const cookie = await register(one, 'alice');
  const otherSession = await login(two, 'alice');
  const signedOut = (await TestClient.join(two, cookie)).client;
  const kept = (await TestClient.join(two, otherSession)).client;
  clients.push(signedOut, kept);
  await admin.call('ACL', 'SETUSER', user, 'off');
  expect(await admin.call('CLIENT', 'KILL', 'USER', user, 'TYPE', 'pubsub')).toBe(1);
  return { admin, b, one, cookie, signedOut, kept };
}

describe('signing out with sockets on two nodes', () => {
  it('closes the session’s socket on the other node with 1008, and no other session’s', async () => {
    // Regression: only the node that answered the sign-out closed its sockets; a tab on another
    // node went on reading and writing with the deleted session.
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'signout:' });
    servers.push(...nodes);
    const [one, two] = nodes.map((node) => node.url.replace(/\/$/, ''));
    const cookie = await register(one, 'alice');
    const otherSession = await login(two, 'alice');
    const signedOut = (await TestClient.join(two, cookie)).client;
    const kept = (await TestClient.join(two, otherSession)).client;
    clients.push(signedOut, kept);

    expect(await post(one, '/api/logout', {}, { cookie })).toMatchObject({ status: 200 });
    expect(await signedOut.closed).toMatchObject({ code: 1008, reason: 'signed out' });
    expect(await kept.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });
  });
});

describe('signing out while a node cannot hear it (pub/sub is at most once)', () => {
  it('closes the session’s socket on that node once its subscription is back, and no other session’s', async () => {
    // Regression: the `signed_out` notice published while node b's subscriber was away never
    // reached it, and the signed-out session's socket there stayed open for good.
    const { admin, one, cookie, signedOut, kept } = await signedOutWhileNodeBCannotHear('nodeb', 'signout2:');
    expect(await post(one, '/api/logout', {}, { cookie })).toMatchObject({ status: 200 });
    expect(await signedOut.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' }); // not heard

    await admin.call('ACL', 'SETUSER', 'nodeb', 'on');
    expect(await signedOut.closed).toMatchObject({ code: 1008, reason: 'signed out' });
    expect(await kept.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });
  });

  it('looks again once the service is back when the store could not be read as the subscription came back', async () => {
    // Regression: a recheck whose session lookups failed was never run again (presence was):
    // the signed-out session's socket on node b stayed open for good.
    const { admin, b, one, cookie, signedOut, kept } = await signedOutWhileNodeBCannotHear(
      'nodeb3',
      'signout3:',
    );
    expect(await post(one, '/api/logout', {}, { cookie })).toMatchObject({ status: 200 });
    // Node b's session lookups fail as unavailable until its command connection is back.
    const accounts = b.backend.accounts;
    const getSession = accounts.getSession.bind(accounts);
    let refuse: (() => void) | undefined;
    const refused = new Promise<void>((resolve) => {
      refuse = resolve;
    });
    let down = true;
    accounts.getSession = (token, now) => {
      if (!down) return getSession(token, now);
      refuse?.();
      return Promise.reject(new UnavailableError('storage went away'));
    };
    await admin.call('ACL', 'SETUSER', 'nodeb3', 'on');
    await refused;
    expect(await signedOut.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });

    // Node b's command connection drops and comes back: the service is back, the recheck runs.
    down = false;
    expect(await admin.call('CLIENT', 'KILL', 'USER', 'nodeb3', 'TYPE', 'normal')).toBe(2);
    await kept.next('service', (m) => m.available);
    expect(await signedOut.closed).toMatchObject({ code: 1008, reason: 'signed out' });
    expect(await kept.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });
  });
});
