/**
 * Signing out on one node closes the session's sockets on every node (docs/chat-protocol.md:
 * "the session's WebSockets close with 1008"); the same user's other sessions stay open.
 */
import { describe, expect, it } from 'vitest';
import { login, post, register, TestClient } from '../helpers.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

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
