/**
 * Races between ending sessions and starting them (test/http/account-races.ts) on two nodes sharing
 * Redis: the password change and "sign out other sessions" on node 0, the sign-in and the upgrade
 * on node 1.
 */
import { describe, it } from 'vitest';
import { signInRace, upgradeRace } from '../http/account-races.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

async function twoNodes(prefix: string) {
  const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix });
  servers.push(...nodes);
  return { origins: nodes.map((node) => node.url.replace(/\/$/, '')), accounts: nodes[1].backend.accounts };
}

describe('ending sessions on one node while the other starts one', () => {
  it('a sign-in with the old password on node 1 gets no session past a change on node 0', async () => {
    const { origins, accounts } = await twoNodes('signinrace:');
    await signInRace(origins, accounts);
  });

  it('an upgrade on node 1 whose session node 0 ended during its look-up is closed', async () => {
    const { origins, accounts } = await twoNodes('upgraderace:');
    await upgradeRace(origins, accounts, (c) => clients.push(c));
  });
});
