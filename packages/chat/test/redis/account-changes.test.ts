/**
 * A password change or "sign out other sessions" on one node closes the other sessions' sockets on
 * every node (the END_OTHER_SESSIONS script ends them in Redis; the `signed_out` notices reach the
 * other nodes); a password change renews the asking session (its old token ends, its sockets close
 * with 4001), sign out of the others keeps it.
 */
import { describe, expect, it } from 'vitest';
import { login, PASSWORD, post, register, TestClient } from '../helpers.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

async function aliceOnTwoNodes(prefix: string) {
  const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix });
  servers.push(...nodes);
  const [one, two] = nodes.map((node) => node.url.replace(/\/$/, ''));
  const mine = await register(one, 'alice');
  const other = await login(two, 'alice');
  const myTabOnTwo = (await TestClient.join(two, mine)).client;
  const otherTab = (await TestClient.join(two, other)).client;
  clients.push(myTabOnTwo, otherTab);
  return { one, two, mine, other, myTabOnTwo, otherTab };
}

describe('ending the other sessions with sockets on two nodes', () => {
  it('a password change closes the other session’s socket on the other node, and renews this one', async () => {
    const { one, two, mine, other, myTabOnTwo, otherTab } = await aliceOnTwoNodes('pwchange:');
    const res = await post(
      one,
      '/api/password',
      { current: PASSWORD, password: 'new password!' },
      { cookie: mine },
    );
    expect(res).toMatchObject({ status: 200, body: { ended: 1 } });
    expect(await otherTab.closed).toMatchObject({ code: 1008, reason: 'signed out' });
    // The asking session's old token is ended too: its socket on the other node closes with 4001
    // (a page reconnects), and the cookie the answer set connects there.
    expect(await myTabOnTwo.closed).toMatchObject({ code: 4001, reason: 'session renewed' });
    expect(await (await fetch(`${two}/api/session`, { headers: { cookie: mine } })).json()).toEqual({
      signedIn: false,
    });
    const renewed = (await TestClient.join(two, res.cookie)).client;
    clients.push(renewed);
    expect(await renewed.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(await (await fetch(`${two}/api/session`, { headers: { cookie: other } })).json()).toEqual({
      signedIn: false,
    });
    expect((await post(two, '/api/login', { name: 'alice', password: PASSWORD })).status).toBe(401);
    expect((await post(two, '/api/login', { name: 'alice', password: 'new password!' })).status).toBe(200);
  });

  it('signing out other sessions closes their sockets on the other node, not this one’s', async () => {
    const { one, two, mine, other, myTabOnTwo, otherTab } = await aliceOnTwoNodes('others:');
    expect(await post(one, '/api/logout-others', {}, { cookie: mine })).toMatchObject({
      status: 200,
      body: { ended: 1 },
    });
    expect(await otherTab.closed).toMatchObject({ code: 1008, reason: 'signed out' });
    expect(await myTabOnTwo.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(await (await fetch(`${two}/api/session`, { headers: { cookie: other } })).json()).toEqual({
      signedIn: false,
    });
    expect(await (await fetch(`${two}/api/session`, { headers: { cookie: mine } })).json()).toEqual({
      signedIn: true,
      user: 'alice',
    });
  });
});
