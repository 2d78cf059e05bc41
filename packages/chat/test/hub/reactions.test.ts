/**
 * Reactions, replies, mentions and `history` around on one SQLite node (issue #16), through the
 * WebSocket: what the protocol doc's examples do not show.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, login, startTestServer, TestClient } from '../helpers.js';
import { reactionBurst } from './reaction-burst.js';

afterEach(cleanup);

const fast = { messageRate: { burst: 10_000, perSecond: 10_000 } };

describe('reactions', () => {
  it('a client resuming in the middle of a reaction burst gets each event once, in order, and the right state', async () => {
    const server = await startTestServer({ limits: fast });
    await reactionBurst([server.origin, server.origin], () => {});
  });
});

describe('mentions', () => {
  it('lists only members of the room (a private room hides the others), and counts unread mentions per user', async () => {
    const server = await startTestServer({ limits: fast });
    const alice = await TestClient.user(server.origin, 'alice');
    const bob = await TestClient.user(server.origin, 'Bob');
    await TestClient.user(server.origin, 'carol');
    expect(await alice.request('joined', { type: 'create', room: 'plans', private: true })).toMatchObject({
      type: 'joined',
    });
    expect(await alice.request('invited', { type: 'invite', room: 'plans', user: 'bob' })).toMatchObject({
      user: 'Bob',
    });
    await bob.request('joined', { type: 'accept', room: 'plans' });
    const sent = await alice.request('ack', {
      type: 'send',
      id: 'p1',
      room: 'plans',
      text: '@carol @BOB and @bob again, @nobody, @alice',
    });
    expect(sent.type).toBe('ack');
    const event = await bob.next('message', (m) => m.message.room === 'plans');
    expect(event.message.mentions).toEqual(['Bob', 'alice']);
    // Bob's count: messages by others after his marker that mention him.
    await alice.request('ack', { type: 'send', id: 'p2', room: 'plans', text: 'no mention' });
    await alice.request('ack', { type: 'send', id: 'g1', room: 'general', text: 'hi @bob' });
    const { client: again, welcome } = await TestClient.join(
      server.origin,
      await login(server.origin, 'bob'),
    );
    expect(welcome.rooms.map((r) => [r.room, r.unread, r.mentions])).toEqual([
      ['general', 1, 1],
      ['plans', 2, 1],
    ]);
    expect(await again.request('read', { type: 'read', room: 'plans', seq: 2 })).toMatchObject({ seq: 2 });
    const { welcome: later } = await TestClient.join(server.origin, await login(server.origin, 'bob'));
    expect(later.rooms.find((r) => r.room === 'plans')).toMatchObject({ unread: 0, mentions: 0 });
    // Alice's own message mentioning herself is never unread for her.
    const { welcome: hers } = await TestClient.join(server.origin, await login(server.origin, 'alice'));
    expect(hers.rooms.find((r) => r.room === 'plans')).toMatchObject({ mentions: 0 });
  });

  // Regression: `@bob` in backticks gave bob a mention badge and a notification, though the page
  // shows it as code.
  it('counts no @name written in code, in a fenced block or in a link, on send or on edit', async () => {
    const server = await startTestServer({ limits: fast });
    const alice = await TestClient.user(server.origin, 'alice');
    const bob = await TestClient.user(server.origin, 'bob');
    const texts = ['try `@bob`', 'look:\n```\n@bob\n```', 'https://example.social/@bob'];
    for (const [i, text] of texts.entries()) {
      expect(await alice.request('ack', { type: 'send', id: `c${i}`, room: 'general', text })).toMatchObject({
        type: 'ack',
      });
      const event = await bob.next('message', (m) => m.message.text === text);
      expect(event.message.mentions).toBeUndefined();
    }
    // The same name outside code counts, and an edit that puts it in code takes the mention away.
    await alice.request('ack', { type: 'send', id: 'p1', room: 'general', text: 'hi @bob' });
    expect((await bob.next('message', (m) => m.message.text === 'hi @bob')).message.mentions).toEqual([
      'bob',
    ]);
    const counts = async () => {
      const { welcome } = await TestClient.join(server.origin, await login(server.origin, 'bob'));
      return welcome.rooms.map((r) => [r.room, r.unread, r.mentions]);
    };
    expect(await counts()).toEqual([['general', 4, 1]]);
    await alice.request('ack', { type: 'edit', room: 'general', seq: 4, text: 'hi `@bob`' });
    expect((await bob.next('edited')).mentions).toBeUndefined();
    expect(await counts()).toEqual([['general', 4, 0]]);
  });
});

describe('reactions, replies and history around through the hub', () => {
  it('reactions are not unread, count against the message rate, and need membership', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 4, perSecond: 0.001 } } });
    const alice = await TestClient.user(server.origin, 'alice');
    const bob = await TestClient.user(server.origin, 'bob');
    await alice.request('ack', { type: 'send', id: 'm1', room: 'general', text: 'hello' });
    const r = (emoji: string) =>
      alice.request('ack', { type: 'react', room: 'general', target: 1, emoji, on: true });
    expect((await r('👍')).type).toBe('ack');
    expect((await r('🎉')).type).toBe('ack');
    expect((await r('👀')).type).toBe('ack');
    expect(await r('🚀')).toMatchObject({ type: 'error', code: 'rate_limited' });
    const { welcome } = await TestClient.join(server.origin, await login(server.origin, 'bob'));
    expect(welcome.rooms[0]).toMatchObject({ head: 4, unread: 1 });
    expect(
      await bob.request('ack', { type: 'react', room: 'elsewhere', target: 1, emoji: '👍', on: true }),
    ).toMatchObject({ type: 'error', code: 'not_member' });
  });

  it('takes ❤ from a keyboard and ❤️ from a picker as one reaction', async () => {
    const server = await startTestServer({ limits: fast });
    const alice = await TestClient.user(server.origin, 'alice');
    await alice.request('ack', { type: 'send', id: 'm1', room: 'general', text: 'hello' });
    const react = (emoji: string, on = true) =>
      alice.request('ack', { type: 'react', room: 'general', target: 1, emoji, on });
    expect(await react('❤')).toMatchObject({ type: 'ack', seq: 2 });
    expect((await alice.next('reacted')).emoji).toBe('❤\uFE0F');
    expect(await react('❤\uFE0F')).toMatchObject({ type: 'ack', seq: 2, duplicate: true });
    expect(await react('❤', false)).toMatchObject({ type: 'ack', seq: 3 });
    const page = await alice.request('history', { type: 'history', room: 'general' });
    expect(page.type === 'history' && page.messages[0].reactions).toBeUndefined();
  });

  it('refuses a reply to what is not a message, storing nothing; history around a reaction seq', async () => {
    const server = await startTestServer({ limits: { ...fast, historyPage: 4 } });
    const alice = await TestClient.user(server.origin, 'alice');
    for (let i = 1; i <= 3; i++)
      await alice.request('ack', { type: 'send', id: `m${i}`, room: 'general', text: `${i}` });
    await alice.request('ack', { type: 'react', room: 'general', target: 2, emoji: '👍', on: true }); // seq 4
    for (let i = 5; i <= 7; i++)
      await alice.request('ack', { type: 'send', id: `m${i}`, room: 'general', text: `${i}` });
    expect(
      await alice.request('ack', {
        type: 'send',
        id: 'r1',
        room: 'general',
        text: 'to a reaction',
        replyTo: 4,
      }),
    ).toMatchObject({ type: 'error', code: 'not_found', id: 'r1' });
    expect(
      await alice.request('ack', {
        type: 'send',
        id: 'r2',
        room: 'general',
        text: 'to the future',
        replyTo: 99,
      }),
    ).toMatchObject({ type: 'error', code: 'not_found' });
    expect(await server.backend.rooms.head('general')).toBe(7);
    const page = await alice.request('history', { type: 'history', room: 'general', around: 4 });
    expect(page).toMatchObject({ type: 'history', head: 7, hasMore: true, hasNewer: true });
    if (page.type !== 'history') return;
    expect(page.messages.map((m) => m.seq)).toEqual([2, 3, 5, 6]);
    expect(page.messages[0].reactions).toEqual({ '👍': ['alice'] });
  });
});
