/**
 * `members` (test/hub/members.ts) on two nodes sharing Redis: the list is read from Redis, so a
 * member on either node gets the same pages.
 */
import { describe, it } from 'vitest';
import { listMembers, MEMBERS_PAGE, membersAfterRemoval } from '../hub/members.js';
import {
  closedAfterEachTest,
  dropUntold,
  redisServerForThisFile,
  startChatServersOnRedis,
} from './helpers.js';

const redis = redisServerForThisFile();

const { servers, clients } = closedAfterEachTest();

describe('members, on two nodes', () => {
  it('lists every member, online or not, in pages; only to members; follows removals and leaves', async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'members:',
      limits: { membersPage: MEMBERS_PAGE, roomRate: { burst: 100, perSecond: 100 } },
    });
    servers.push(...nodes);
    await listMembers(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (c) => clients.push(c),
    );
  });

  it('refuses a member removed through another node before their connection hears of it', async () => {
    const nodes = await startChatServersOnRedis(2, {
      url: redis().url,
      prefix: 'members-removed:',
      limits: { roomRate: { burst: 100, perSecond: 100 } },
    });
    servers.push(...nodes);
    await membersAfterRemoval(
      nodes.map((node) => node.url.replace(/\/$/, '')),
      (user, room) => dropUntold(redis().url, 'members-removed:', user, room),
      (c) => clients.push(c),
    );
  });
});
