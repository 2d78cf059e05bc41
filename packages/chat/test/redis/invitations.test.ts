/**
 * Invitations that go away without their user (expired, their room deleted) are told to the
 * invitee's connections on both nodes sharing Redis (test/hub/invitation-news.ts): EXPIRE_INVITATIONS
 * and DELETE_ROOM answer which invitations they dropped. And a DM closed by one side opens again
 * for them at the other's message (test/hub/dm-reopen.ts): APPEND says when it has one member.
 */
import { describe, it } from 'vitest';
import { ManualClock } from '../../src/server/clock.js';
import { DEFAULT_LIMITS } from '../../src/shared/protocol.js';
import { dmReopens } from '../hub/dm-reopen.js';
import { deletionTellsTheLastInvitee, emptyRoomExpiryTold, expiryTold } from '../hub/invitation-news.js';
import { declineUntold, dmAtTheirCap } from '../hub/neutral-refusals.js';
import { removeRacingAccept } from '../hub/remove-race.js';
import { closedAfterEachTest, redisServerForThisFile, startChatServersOnRedis } from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

const fast = { roomRate: { burst: 1000, perSecond: 1000 }, requestRate: { burst: 1000, perSecond: 1000 } };

describe('invitations gone without their user, on two nodes', () => {
  it('expired: the sweep of one node tells the invitee’s tabs on both', async () => {
    const clock = new ManualClock();
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'invexpiry:',
      limits: fast,
      clock,
    });
    servers.push(...nodes);
    await expiryTold(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      () => nodes[0].hub.sweep(),
      nodes[1].backend.rooms,
      clock,
      DEFAULT_LIMITS.invitationTtlMs,
      (c) => clients.push(c),
    );
  });

  it('its room expired empty: the sweep of one node tells the invitee’s tabs on both', async () => {
    const clock = new ManualClock();
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'invempty:',
      limits: fast,
      clock,
    });
    servers.push(...nodes);
    await emptyRoomExpiryTold(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      () => nodes[0].hub.sweep(),
      nodes[1].backend.rooms,
      clock,
      DEFAULT_LIMITS.emptyRoomTtlMs,
      (c) => clients.push(c),
    );
  });

  it('its room deleted: one invited while the deletion runs is told too', async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'invdelete:', limits: fast });
    servers.push(...nodes);
    await deletionTellsTheLastInvitee(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      nodes[0].backend.rooms,
      (c) => clients.push(c),
    );
  });
});

describe('a direct message closed by one side, on two nodes', () => {
  it('opens again for them at a new message from the other node, live and unread', async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'dmreopen:', limits: fast });
    servers.push(...nodes);
    await dmReopens(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      nodes[0].backend,
      (c) => clients.push(c),
    );
  });
});

describe('remove racing accept, on two nodes', () => {
  it('the invitee who accepts on the other node between the owner’s leave and drop is removed', async () => {
    const nodes = await startChatServersOnRedis(2, { url: redis().url, prefix: 'removerace:', limits: fast });
    servers.push(...nodes);
    await removeRacingAccept(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      nodes[0].backend.rooms,
      (c) => clients.push(c),
    );
  });
});

describe('what one user is told about another, on two nodes', () => {
  it('a decline on one node is not told to the owner on the other', async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'declineuntold:',
      limits: fast,
    });
    servers.push(...nodes);
    await declineUntold(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      nodes[0].backend.rooms,
      (c) => clients.push(c),
    );
  });

  it('a dm to a user at their cap on direct messages opens for the asker alone', async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'dmatcap:',
      limits: { ...fast, maxDmsPerUser: 1 },
    });
    servers.push(...nodes);
    await dmAtTheirCap(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (c) => clients.push(c),
    );
  });
});
