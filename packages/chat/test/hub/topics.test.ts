/**
 * Room topics (test/hub/topics.ts) on one SQLite node; a topic takes from the room bucket (roomRate).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, startTestServer, TestClient } from '../helpers.js';
import { topicScenario } from './topics.js';

afterEach(cleanup);

const fast = { roomRate: { burst: 100, perSecond: 100 }, requestRate: { burst: 100, perSecond: 100 } };

describe('room topics', () => {
  it('the owner sets it: an event on every tab, in joined, welcome and rooms; not unread; replayed once; refusals store nothing', async () => {
    const server = await startTestServer({ limits: fast });
    const clients: TestClient[] = [];
    await topicScenario([server.origin], (c) => clients.push(c));
    for (const c of clients) await c.close();
  });

  it('takes from the room bucket', async () => {
    const server = await startTestServer({ limits: { roomRate: { burst: 2, perSecond: 0.001 } } });
    const alice = await TestClient.user(server.origin, 'alice');
    expect(await alice.request('joined', { type: 'create', room: 'lobby' })).toMatchObject({
      type: 'joined',
    });
    expect(await alice.request('ack', { type: 'topic', room: 'lobby', text: 'one' })).toMatchObject({
      type: 'ack',
    });
    expect(await alice.request('ack', { type: 'topic', room: 'lobby', text: 'two' })).toMatchObject({
      code: 'rate_limited',
    });
    await alice.close();
  });
});
