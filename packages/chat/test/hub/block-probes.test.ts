/**
 * An attacker's look at blocking (hub/blocks.ts), from the blocked user's modified client: what a
 * block leaves them able to do in the direct message the blocker keeps open, and what they can
 * learn of the block other than through the one `not_accepted` answer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { dmRoom } from '../../src/shared/protocol.js';
import { cleanup, startTestServer, TestClient } from '../helpers.js';

afterEach(cleanup);

const fast = { roomRate: { burst: 100, perSecond: 100 }, requestRate: { burst: 100, perSecond: 100 } };
const NOT_ACCEPTED = {
  type: 'error',
  code: 'not_accepted',
  message: 'alice is not accepting messages or invitations from you',
};

/** alice and bob in an open DM with bob's message b1 (seq 1) in it. */
async function openDm() {
  const server = await startTestServer({ limits: fast });
  const alice = await TestClient.user(server.origin, 'alice');
  const bob = await TestClient.user(server.origin, 'bob');
  const dm = dmRoom('alice', 'bob');
  expect(await bob.request('joined', { type: 'dm', user: 'alice' })).toMatchObject({ room: dm });
  await alice.next('joined', (m) => m.room === dm);
  expect(await bob.request('ack', { type: 'send', id: 'b1', room: dm, text: 'hi' })).toMatchObject({
    seq: 1,
  });
  await alice.next('message', (m) => m.message.id === 'b1');
  return { server, alice, bob, dm };
}

describe('the blocked user in a direct message the blocker keeps open', () => {
  it('cannot edit or react there (one answer, nothing reaches the blocker); may delete their own message', async () => {
    const { alice, bob, dm } = await openDm();
    await alice.request('blocked', { type: 'block', user: 'bob' });
    expect(await bob.request('ack', { type: 'edit', room: dm, seq: 1, text: 'edited' })).toMatchObject(
      NOT_ACCEPTED,
    );
    for (const on of [true, false])
      expect(await bob.request('ack', { type: 'react', room: dm, target: 1, emoji: '👍', on })).toMatchObject(
        NOT_ACCEPTED,
      );
    await bob.barrier();
    const written = (await alice.barrier()).filter((m) => m.type === 'edited' || m.type === 'reacted');
    expect(written).toEqual([]);
    // Taking back what one wrote is not writing to the blocker: allowed, as before the block.
    expect(await bob.request('ack', { type: 'delete', room: dm, seq: 1 })).toMatchObject({ type: 'ack' });
    expect(await alice.next('deleted')).toMatchObject({ room: dm, target: 1 });
  });

  it('is told nothing of the block: no message at all reaches their sockets', async () => {
    const { alice, bob } = await openDm();
    await bob.barrier();
    const before = bob.messages.length;
    await alice.request('blocked', { type: 'block', user: 'bob' });
    await alice.request('blocked', { type: 'unblock', user: 'bob' });
    await alice.request('blocked', { type: 'block', user: 'bob' });
    expect((await bob.barrier()).slice(before).filter((m) => m.type !== 'pong')).toEqual([]);
  });

  it('has no typing notice of theirs shown to the blocker there', async () => {
    const { alice, bob, dm } = await openDm();
    await alice.request('blocked', { type: 'block', user: 'bob' });
    bob.send({ v: 2, type: 'typing', room: dm });
    // bob's queue handled the typing before this pong; a notice it sent was published then, on this
    // one node before alice's own pong below.
    await bob.barrier();
    expect((await alice.barrier()).filter((m) => m.type === 'typing')).toEqual([]);
  });
});

describe('block and unblock in a burst', () => {
  it('are counted in the request bucket: past it, rate_limited, and the list holds one entry at most', async () => {
    const server = await startTestServer({ limits: { requestRate: { burst: 10, perSecond: 1 } } });
    const alice = await TestClient.user(server.origin, 'alice');
    await TestClient.user(server.origin, 'bob');
    const answers = [];
    for (let i = 0; i < 12; i++)
      answers.push(await alice.request('blocked', { type: i % 2 === 0 ? 'block' : 'unblock', user: 'bob' }));
    expect(answers.filter((a) => a.type === 'blocked')).toHaveLength(9); // the hello took one token
    expect(answers.slice(9).every((a) => a.type === 'error' && a.code === 'rate_limited')).toBe(true);
    expect(await server.backend.rooms.blockedUsers('alice')).toEqual(['bob']);
  });
});
