/**
 * The chat server through real WebSocket clients: rooms, history, presence, typing, edit/delete,
 * dedup, replay, limits, origin and session checks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { cleanup, login, startTestServer, TestClient, until } from './helpers.js';

afterEach(cleanup);

describe('sign-in and the upgrade gate', () => {
  it('registers a new name on first sign-in and rejects a wrong password later', async () => {
    const server = await startTestServer();
    const cookie = await login(server.origin, 'alice', 'first password');
    expect(cookie).toMatch(/^riptide_chat_session=[A-Za-z0-9_-]{43}$/);
    await expect(login(server.origin, 'alice', 'other password')).rejects.toThrow(/401/);
    await expect(login(server.origin, 'ALICE', 'first password')).resolves.toMatch(/^riptide_chat_session=/);
  });

  it('sets an HttpOnly SameSite cookie and rejects bad names', async () => {
    const server = await startTestServer();
    const res = await fetch(`${server.origin}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bob', password: 'long enough' }),
    });
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const bad = await fetch(`${server.origin}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: '<b>', password: 'long enough' }),
    });
    expect(bad.status).toBe(400);
  });

  it('refuses the WebSocket without a session (401) and from another origin (403)', async () => {
    const server = await startTestServer();
    const cookie = await login(server.origin, 'alice');
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${server.origin.replace('http', 'ws')}/ws`, { headers });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => {});
      });
    expect(await status({ origin: server.origin })).toBe(401);
    expect(await status({ origin: server.origin, cookie: 'riptide_chat_session=forged' })).toBe(401);
    expect(await status({ origin: 'http://evil.example', cookie })).toBe(403);
    expect(await status({ origin: server.origin, cookie })).toBe(101);
  });

  it('accepts an origin given in allowedOrigins', async () => {
    const server = await startTestServer({ allowedOrigins: ['https://chat.example'] });
    const cookie = await login(server.origin, 'alice');
    const client = await TestClient.connect(server.origin, cookie, { origin: 'https://chat.example' });
    await client.close();
  });

  it('signing out closes the session sockets with 1008', async () => {
    const server = await startTestServer();
    const cookie = await login(server.origin, 'alice');
    const { client } = await TestClient.join(server.origin, cookie);
    await fetch(`${server.origin}/api/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, origin: server.origin },
      body: '{}',
    });
    expect((await client.closed).code).toBe(1008);
  });
});

describe('rooms and messages', () => {
  it('delivers a message to every member once, acknowledges the sender with the seq', async () => {
    const server = await startTestServer();
    const [a, b, c] = await Promise.all(['alice', 'bob', 'carol'].map((n) => login(server.origin, n)));
    const alice = (await TestClient.join(server.origin, a)).client;
    const bob = (await TestClient.join(server.origin, b)).client;
    const carol = (await TestClient.join(server.origin, c)).client;
    alice.send({ v: 1, type: 'send', id: 'm1', room: 'general', text: 'hello all' });
    const ack = await alice.next('ack');
    expect(ack).toMatchObject({ id: 'm1', room: 'general', seq: 1 });
    for (const client of [alice, bob, carol]) {
      const event = await client.next('message');
      expect(event.message).toMatchObject({
        room: 'general',
        seq: 1,
        id: 'm1',
        user: 'alice',
        text: 'hello all',
      });
    }
    await alice.barrier();
    await bob.barrier();
    expect(bob.all('message')).toHaveLength(0);
  });

  it('creates, lists, joins and leaves rooms, with member notices and unread counts', async () => {
    const server = await startTestServer();
    const alice = (await TestClient.join(server.origin, await login(server.origin, 'alice'))).client;
    const bobCookie = await login(server.origin, 'bob');
    const bob = (await TestClient.join(server.origin, bobCookie)).client;

    alice.send({ v: 1, type: 'create', ref: 'c1', room: 'rust' });
    expect(await alice.next('joined')).toMatchObject({ ref: 'c1', name: 'rust', head: 0, unread: 0 });
    alice.send({ v: 1, type: 'create', ref: 'c2', room: 'rust' });
    expect(await alice.next('error')).toMatchObject({ code: 'room_exists', ref: 'c2' });
    alice.send({ v: 1, type: 'join', ref: 'j1', room: 'nope' });
    expect(await alice.next('error')).toMatchObject({ code: 'no_such_room', ref: 'j1' });
    alice.send({ v: 1, type: 'create', ref: 'c3', room: 'Bad Name' });
    expect(await alice.next('error')).toMatchObject({ code: 'bad_room_name', ref: 'c3' });

    bob.send({ v: 1, type: 'rooms', ref: 'r' });
    expect((await bob.next('rooms')).rooms).toEqual([
      { name: 'general', members: 2 },
      { name: 'rust', members: 1 },
    ]);
    // bob cannot post in a room he has not joined
    bob.send({ v: 1, type: 'send', id: 'x', room: 'rust', text: 'hi' });
    expect(await bob.next('error')).toMatchObject({ code: 'not_member', ref: 'x' });

    bob.send({ v: 1, type: 'join', ref: 'j2', room: 'rust' });
    expect(await bob.next('joined')).toMatchObject({ name: 'rust', online: ['alice', 'bob'] });
    expect(await alice.next('member', (m) => m.room === 'rust')).toMatchObject({ user: 'bob', joined: true });
    expect(await alice.next('presence', (m) => m.room === 'rust' && m.user === 'bob')).toMatchObject({
      online: true,
    });

    // Unread: bob leaves, alice posts 3 messages in rust, bob comes back to 3 unread
    await bob.close();
    for (let i = 1; i <= 3; i++) {
      alice.send({ v: 1, type: 'send', id: `u${i}`, room: 'rust', text: `msg ${i}` });
      await alice.next('ack');
    }
    const { client: bob2, welcome } = await TestClient.join(server.origin, bobCookie);
    expect(welcome.rooms.find((r) => r.name === 'rust')).toMatchObject({ head: 3, unread: 3 });
    bob2.send({ v: 1, type: 'read', room: 'rust', seq: 2 });
    await bob2.barrier(); // the read is stored before the barrier is answered
    const { welcome: again } = await TestClient.join(server.origin, bobCookie);
    expect(again.rooms.find((r) => r.name === 'rust')).toMatchObject({ unread: 1 });

    bob2.send({ v: 1, type: 'leave', ref: 'l1', room: 'rust' });
    expect(await bob2.next('left')).toMatchObject({ ref: 'l1', room: 'rust' });
    expect(await alice.next('member', (m) => m.room === 'rust' && !m.joined)).toMatchObject({ user: 'bob' });
  });

  it('caps the rooms one user may be in', async () => {
    const server = await startTestServer({ limits: { maxRoomsPerUser: 2 } });
    const alice = (await TestClient.join(server.origin, await login(server.origin, 'alice'))).client;
    alice.send({ v: 1, type: 'create', ref: 'a', room: 'second' });
    await alice.next('joined');
    alice.send({ v: 1, type: 'create', ref: 'b', room: 'third' });
    expect(await alice.next('error')).toMatchObject({ code: 'too_many_rooms', ref: 'b' });
  });

  it('pages history 50 at a time, newest page first, in seq order', async () => {
    const server = await startTestServer({ limits: { rateBurst: 1000 } });
    const alice = (await TestClient.join(server.origin, await login(server.origin, 'alice'))).client;
    for (let i = 1; i <= 120; i++)
      alice.send({ v: 1, type: 'send', id: `h${i}`, room: 'general', text: `n${i}` });
    for (let i = 1; i <= 120; i++) await alice.next('ack');
    alice.send({ v: 1, type: 'history', ref: 'p1', room: 'general' });
    const p1 = await alice.next('history');
    expect(p1.head).toBe(120);
    expect(p1.hasMore).toBe(true);
    expect(p1.messages.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 71 + i));
    alice.send({ v: 1, type: 'history', ref: 'p2', room: 'general', before: 71 });
    const p2 = await alice.next('history');
    expect(p2.messages.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 21 + i));
    alice.send({ v: 1, type: 'history', ref: 'p3', room: 'general', before: 21 });
    const p3 = await alice.next('history');
    expect(p3.messages.map((m) => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => `n${i + 1}`));
    expect(p3.hasMore).toBe(false);
  });
});

describe('presence, typing, edit and delete', () => {
  it('keeps a user online while any tab is open, with one notice per transition', async () => {
    const server = await startTestServer();
    const aliceCookie = await login(server.origin, 'alice');
    const bob = (await TestClient.join(server.origin, await login(server.origin, 'bob'))).client;
    const tab1 = (await TestClient.join(server.origin, aliceCookie)).client;
    expect(await bob.next('presence', (m) => m.user === 'alice')).toMatchObject({ online: true });
    const { client: tab2, welcome } = await TestClient.join(server.origin, aliceCookie);
    expect(welcome.rooms[0].online).toEqual(['alice', 'bob']);
    await tab1.close();
    // The server has let go of tab1 (and published whatever that causes) once it counts two
    // connections; bob's barrier then flushes anything it sent bob.
    await until(() => server.hub.connectionCount === 2);
    await bob.barrier();
    expect(bob.all('presence').filter((m) => m.user === 'alice')).toEqual([]); // tab2 is still open: no offline notice
    await tab2.close();
    expect(await bob.next('presence', (m) => m.user === 'alice')).toMatchObject({ online: false });
    const { welcome: later } = await TestClient.join(server.origin, await login(server.origin, 'carol'));
    expect(later.rooms[0].online).toEqual(['bob', 'carol']);
  });

  it('forwards typing to the room, throttled per user', async () => {
    let clock = 1_000_000; // the hub's clock: moved by hand
    const server = await startTestServer({ typingIntervalMs: 500, now: () => clock });
    const alice = (await TestClient.join(server.origin, await login(server.origin, 'alice'))).client;
    const bob = (await TestClient.join(server.origin, await login(server.origin, 'bob'))).client;
    for (let i = 0; i < 5; i++) alice.send({ v: 1, type: 'typing', room: 'general' });
    expect(await bob.next('typing')).toEqual({ v: 1, type: 'typing', room: 'general', user: 'alice' });
    await alice.barrier();
    await bob.barrier();
    expect(bob.all('typing')).toHaveLength(0);
    clock += 499;
    alice.send({ v: 1, type: 'typing', room: 'general' });
    await alice.barrier();
    await bob.barrier();
    expect(bob.all('typing')).toHaveLength(0);
    clock += 1;
    alice.send({ v: 1, type: 'typing', room: 'general' });
    await bob.next('typing');
  });

  it('lets the author edit and delete; others see it; others cannot', async () => {
    const server = await startTestServer();
    const alice = (await TestClient.join(server.origin, await login(server.origin, 'alice'))).client;
    const bob = (await TestClient.join(server.origin, await login(server.origin, 'bob'))).client;
    alice.send({ v: 1, type: 'send', id: 'e1', room: 'general', text: 'tpyo' });
    const { seq } = await alice.next('ack');
    await bob.next('message');
    alice.send({ v: 1, type: 'edit', room: 'general', seq, text: 'typo' });
    expect(await bob.next('edited')).toMatchObject({
      room: 'general',
      seq: seq + 1,
      target: seq,
      text: 'typo',
      user: 'alice',
    });
    bob.send({ v: 1, type: 'edit', ref: 'no', room: 'general', seq, text: 'mine now' });
    expect(await bob.next('error')).toMatchObject({ code: 'forbidden', ref: 'no' });
    bob.send({ v: 1, type: 'delete', ref: 'no2', room: 'general', seq });
    expect(await bob.next('error')).toMatchObject({ code: 'forbidden', ref: 'no2' });
    alice.send({ v: 1, type: 'delete', room: 'general', seq });
    expect(await bob.next('deleted')).toMatchObject({ seq: seq + 2, target: seq, user: 'alice' });
    alice.send({ v: 1, type: 'edit', ref: 'gone', room: 'general', seq, text: 'again' });
    expect(await alice.next('error')).toMatchObject({ code: 'not_found', ref: 'gone' });
    bob.send({ v: 1, type: 'history', room: 'general' });
    const history = await bob.next('history');
    expect(history.messages).toEqual([
      expect.objectContaining({ seq, text: '', deleted: true, editedAt: expect.any(Number) }),
    ]);
  });
});

describe('delivery guarantees', () => {
  it('stores and delivers a resent message once (dedup by client id)', async () => {
    const server = await startTestServer();
    const aliceCookie = await login(server.origin, 'alice');
    const alice = (await TestClient.join(server.origin, aliceCookie)).client;
    const bob = (await TestClient.join(server.origin, await login(server.origin, 'bob'))).client;
    alice.send({ v: 1, type: 'send', id: 'dup-1', room: 'general', text: 'once' });
    const first = await alice.next('ack');
    await alice.close();
    // The ack was lost with the connection: the client resends the same id after reconnecting.
    const again = (await TestClient.join(server.origin, aliceCookie)).client;
    again.send({ v: 1, type: 'send', id: 'dup-1', room: 'general', text: 'once' });
    const second = await again.next('ack');
    expect(second).toMatchObject({ id: 'dup-1', seq: first.seq, duplicate: true });
    await again.barrier();
    await bob.barrier();
    expect(bob.all('message').map((m) => m.message.id)).toEqual(['dup-1']);
    bob.send({ v: 1, type: 'history', room: 'general' });
    expect((await bob.next('history')).messages).toHaveLength(1);
  });

  it('replays what a client missed, in order, exactly once, including edits', async () => {
    const server = await startTestServer();
    const aliceCookie = await login(server.origin, 'alice');
    const alice = (await TestClient.join(server.origin, aliceCookie)).client;
    const bob = (await TestClient.join(server.origin, await login(server.origin, 'bob'))).client;
    bob.send({ v: 1, type: 'send', id: 'b1', room: 'general', text: 'before' });
    await bob.next('ack');
    const seen = await alice.next('message');
    await alice.close();
    for (let i = 1; i <= 5; i++) {
      bob.send({ v: 1, type: 'send', id: `b${i + 1}`, room: 'general', text: `missed ${i}` });
      await bob.next('ack');
    }
    bob.send({ v: 1, type: 'edit', room: 'general', seq: 2, text: 'missed 1 (edited)' });
    await bob.next('edited');
    const { client: back } = await TestClient.join(server.origin, aliceCookie, { general: seen.message.seq });
    const synced = await back.next('synced');
    expect(synced).toMatchObject({ room: 'general', head: 7 });
    const messages = back.all('message').map((m) => m.message.seq);
    expect(messages).toEqual([2, 3, 4, 5, 6]);
    expect(back.all('edited').map((e) => e.seq)).toEqual([7]);
    // live traffic continues after the replay, without repeats
    bob.send({ v: 1, type: 'send', id: 'b7', room: 'general', text: 'live' });
    expect((await back.next('message', (m) => m.message.seq === 8)).message.text).toBe('live');
    await bob.barrier();
    await back.barrier();
    expect(back.all('message').filter((m) => m.message.seq <= 6)).toHaveLength(5);
  });

  it('tells a client too far behind to reload history (reset)', async () => {
    const server = await startTestServer({ limits: { replayLimit: 10, rateBurst: 100 } });
    const alice = (await TestClient.join(server.origin, await login(server.origin, 'alice'))).client;
    for (let i = 1; i <= 15; i++)
      alice.send({ v: 1, type: 'send', id: `r${i}`, room: 'general', text: `${i}` });
    for (let i = 1; i <= 15; i++) await alice.next('ack');
    alice.send({ v: 1, type: 'sync', ref: 's1', room: 'general', after: 2 });
    expect(await alice.next('reset')).toMatchObject({ ref: 's1', room: 'general', head: 15 });
    alice.send({ v: 1, type: 'sync', ref: 's2', room: 'general', after: 5 });
    expect(await alice.next('synced')).toMatchObject({ ref: 's2', head: 15 });
  });
});

describe('validation and limits', () => {
  it('answers malformed messages with an error and keeps the connection', async () => {
    const server = await startTestServer();
    const alice = (await TestClient.join(server.origin, await login(server.origin, 'alice'))).client;
    const cases: [string | Buffer, string][] = [
      ['not json', 'bad_json'],
      ['[1,2]', 'bad_message'],
      ['{"type":"send"}', 'unsupported_version'],
      ['{"v":2,"type":"send"}', 'unsupported_version'],
      ['{"v":1,"type":"shout"}', 'unknown_type'],
      ['{"v":1,"type":"send","id":"a","room":"general"}', 'bad_message'],
      ['{"v":1,"type":"send","id":"a","room":"general","text":"x","extra":1}', 'bad_message'],
      ['{"v":1,"type":"send","id":"a b","room":"general","text":"x"}', 'bad_message'],
      ['{"v":1,"type":"send","id":"a","room":"general","text":"   "}', 'bad_message'],
      ['{"v":1,"type":"history","room":"general","before":1.5}', 'bad_message'],
      ['{"v":1,"type":"join","room":"../etc"}', 'bad_room_name'],
    ];
    for (const [raw, code] of cases) {
      alice.sendRaw(raw);
      expect((await alice.next('error')).code, String(raw)).toBe(code);
    }
    alice.sendRaw(Buffer.from('{"v":1}'), true);
    expect((await alice.next('error')).message).toMatch(/binary/);
    alice.send({ v: 1, type: 'history', room: 'general' });
    expect((await alice.next('history')).messages).toEqual([]); // nothing was stored
  });

  it('rejects text over 4 KiB (in UTF-8 bytes) and closes on frames over maxPayload', async () => {
    const server = await startTestServer({ maxPayload: 16 * 1024 });
    const alice = (await TestClient.join(server.origin, await login(server.origin, 'alice'))).client;
    alice.send({ v: 1, type: 'send', id: 'ok', room: 'general', text: 'é'.repeat(2048) }); // 4096 bytes
    expect(await alice.next('ack')).toMatchObject({ id: 'ok' });
    alice.send({ v: 1, type: 'send', id: 'big', room: 'general', text: `${'é'.repeat(2048)}x` });
    expect(await alice.next('error')).toMatchObject({ code: 'text_too_long', ref: 'big' });
    alice.sendRaw('x'.repeat(20 * 1024));
    expect((await alice.closed).code).toBe(1009);
  });

  it('rate-limits actions per user with a token bucket and a retry hint', async () => {
    let clock = 1_000_000; // the hub's clock stands still until the test moves it
    const server = await startTestServer({ limits: { rateBurst: 10, ratePerSecond: 2 }, now: () => clock });
    const cookie = await login(server.origin, 'alice');
    const tab1 = (await TestClient.join(server.origin, cookie)).client;
    const tab2 = (await TestClient.join(server.origin, cookie)).client;
    for (let i = 0; i < 6; i++) tab1.send({ v: 1, type: 'send', id: `a${i}`, room: 'general', text: 'spam' });
    for (let i = 0; i < 6; i++) tab2.send({ v: 1, type: 'send', id: `b${i}`, room: 'general', text: 'spam' });
    const replies = (tab: TestClient) => tab.all('ack').length + tab.all('error').length;
    await until(() => replies(tab1) === 6 && replies(tab2) === 6);
    const acks = tab1.all('ack').length + tab2.all('ack').length;
    const errors = [...tab1.all('error'), ...tab2.all('error')];
    expect(acks).toBe(10); // the bucket is shared by the user's tabs
    expect(errors.length).toBe(2);
    expect(errors[0]).toMatchObject({ code: 'rate_limited', retryAfterMs: 500 });
    clock += errors[0].retryAfterMs ?? 500;
    tab1.send({ v: 1, type: 'send', id: 'later', room: 'general', text: 'ok now' });
    expect(await tab1.next('ack', (a) => a.id === 'later')).toBeTruthy();
  });

  it('requires hello before anything else', async () => {
    const server = await startTestServer();
    const client = await TestClient.connect(server.origin, await login(server.origin, 'alice'));
    client.send({ v: 1, type: 'send', id: 'early', room: 'general', text: 'hi' });
    expect(await client.next('error')).toMatchObject({ code: 'not_ready', ref: 'early' });
    await client.close();
  });
});

describe('shutdown', () => {
  it('closes sockets with 1001 on close()', async () => {
    const server = await startTestServer();
    const alice = (await TestClient.join(server.origin, await login(server.origin, 'alice'))).client;
    await server.close();
    expect((await alice.closed).code).toBe(1001);
  });
});
