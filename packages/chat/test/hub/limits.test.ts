/**
 * Limits and validation: rate limits per user on a fake clock (the user's tabs share them), the
 * typing gate, requests about a room the user is not in, malformed (and deeply nested) requests,
 * the text and frame limits, and what a peer that does not read can cost (issue 12, hole 2: a
 * ping flood from a user in no room; a flood of requests that each owe an error answer).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/server/clock.js';
import { UnavailableError } from '../../src/server/ports.js';
import { HELLO_TIMEOUT_CLOSE, TIMEOUTS } from '../../src/server/timeouts.js';
import { cleanup, register, startTestServer, TestClient, upgradeStatus, waitFor } from '../helpers.js';

afterEach(cleanup);

describe('rate limits (on a fake clock)', () => {
  it('gives a user one bucket for all their tabs, with an exact retry hint, refilled by time', async () => {
    const clock = new ManualClock();
    const server = await startTestServer({ clock, limits: { messageRate: { burst: 10, perSecond: 2 } } });
    const cookie = await register(server.origin, 'alice');
    const tab1 = (await TestClient.join(server.origin, cookie)).client;
    const tab2 = (await TestClient.join(server.origin, cookie)).client;
    const replies = [];
    for (let i = 0; i < 6; i++)
      replies.push(await tab1.request('ack', { type: 'send', id: `a${i}`, room: 'general', text: 'spam' }));
    for (let i = 0; i < 6; i++)
      replies.push(await tab2.request('ack', { type: 'send', id: `b${i}`, room: 'general', text: 'spam' }));
    expect(replies.map((r) => r.type)).toEqual([...Array(10).fill('ack'), 'error', 'error']);
    expect(replies[10]).toEqual({
      v: 2,
      type: 'error',
      ref: 'r5',
      id: 'b4',
      code: 'rate_limited',
      message: 'too many requests; retry in 500 ms',
      retryAfterMs: 500,
    });
    clock.advance(499);
    expect(await tab1.request('error', { type: 'send', id: 'c', room: 'general', text: 'x' })).toMatchObject({
      retryAfterMs: 1,
    });
    clock.advance(1);
    expect(await tab1.request('ack', { type: 'send', id: 'c', room: 'general', text: 'x' })).toMatchObject({
      type: 'ack',
    });
    // Membership changes and reads have buckets of their own: still allowed.
    expect((await tab1.request('joined', { type: 'create', room: 'quiet' })).type).toBe('joined');
    expect((await tab1.request('history', { type: 'history', room: 'general' })).type).toBe('history');
  });

  it('forwards one typing notice per user and room per interval, dropping the rest silently', async () => {
    const clock = new ManualClock();
    const server = await startTestServer({ clock, limits: { typingIntervalMs: 1000 } });
    const alice = await TestClient.user(server.origin, 'alice');
    const bob = await TestClient.user(server.origin, 'bob');
    for (let i = 0; i < 5; i++) alice.send({ v: 2, type: 'typing', room: 'general' });
    await alice.barrier();
    await bob.barrier();
    expect(bob.all('typing')).toEqual([{ v: 2, type: 'typing', room: 'general', user: 'alice' }]);
    bob.messages.length = 0;
    clock.advance(999);
    alice.send({ v: 2, type: 'typing', room: 'general' });
    await alice.barrier();
    await bob.barrier();
    expect(bob.all('typing')).toEqual([]);
    clock.advance(1);
    alice.send({ v: 2, type: 'typing', room: 'general' });
    expect(await bob.next('typing')).toMatchObject({ user: 'alice' });
  });

  it('drops a typing notice the store cannot answer (an outage) silently, ref or not; other requests still hear why', async () => {
    // Regression: it was answered `unavailable` (with no ref, as the page sends it), which the page
    // ignored: typing is fire-and-forget, and a notice resent after the outage would be stale.
    const server = await startTestServer();
    const alice = await TestClient.user(server.origin, 'alice');
    await alice.barrier();
    alice.messages.length = 0;
    const down = () => Promise.reject(new UnavailableError('chat storage is unavailable'));
    // The gate (shared by the nodes: Redis) cannot be asked; then the membership read behind it.
    const gate = vi.spyOn(server.backend.throttle, 'once').mockImplementation(down);
    alice.send({ v: 2, type: 'typing', room: 'general' });
    alice.send({ v: 2, type: 'typing', room: 'general', ref: 't1' });
    expect(await alice.barrier()).toEqual([]);
    expect(gate).toHaveBeenCalledTimes(2);
    gate.mockRestore();
    const member = vi.spyOn(server.backend.rooms, 'isMember').mockImplementation(down);
    alice.send({ v: 2, type: 'typing', room: 'general' });
    expect(await alice.barrier()).toEqual([]);
    expect(member).toHaveBeenCalledTimes(1);
    // A request with an answer is still told, and the socket stays.
    expect(await alice.request('history', { type: 'history', room: 'general' })).toMatchObject({
      type: 'error',
      code: 'unavailable',
    });
    member.mockRestore();
    alice.send({ v: 2, type: 'typing', room: 'general', ref: 't2' });
    expect(await alice.barrier()).toEqual([]);
  });

  it('lets the first typing notice after a message through the gate (the message cleared the indicator)', async () => {
    const clock = new ManualClock();
    const server = await startTestServer({ clock, limits: { typingIntervalMs: 1000 } });
    const alice = await TestClient.user(server.origin, 'alice');
    const bob = await TestClient.user(server.origin, 'bob');
    alice.send({ v: 2, type: 'typing', room: 'general' });
    expect(await bob.next('typing')).toMatchObject({ user: 'alice' });
    const typingSeen = async () => {
      await alice.barrier();
      await bob.barrier();
      const seen = bob.all('typing');
      bob.messages.length = 0;
      return seen;
    };
    await typingSeen();
    clock.advance(100);
    expect(
      await alice.request('ack', { type: 'send', id: 'm1', room: 'general', text: 'first' }),
    ).toMatchObject({
      type: 'ack',
    });
    // Within the interval: the next notice in that room passes, once.
    clock.advance(100);
    for (let i = 0; i < 3; i++) alice.send({ v: 2, type: 'typing', room: 'general' });
    expect(await typingSeen()).toEqual([{ v: 2, type: 'typing', room: 'general', user: 'alice' }]);
    // A resend of the same message (a duplicate: nothing new arrived for the others) opens nothing.
    clock.advance(100);
    expect(
      await alice.request('ack', { type: 'send', id: 'm1', room: 'general', text: 'first' }),
    ).toMatchObject({
      duplicate: true,
    });
    alice.send({ v: 2, type: 'typing', room: 'general' });
    expect(await typingSeen()).toEqual([]);
  });
});

describe('requests about a room the user is not in', () => {
  it('typing to a private room gets not_member and reaches none of its members', async () => {
    const server = await startTestServer();
    const bob = await TestClient.user(server.origin, 'bob');
    expect((await bob.request('joined', { type: 'create', room: 'secret', private: true })).type).toBe(
      'joined',
    );
    const mallory = await TestClient.user(server.origin, 'mallory');
    for (let i = 0; i < 3; i++) {
      expect(await mallory.request('error', { type: 'typing', room: 'secret' })).toMatchObject({
        code: 'not_member',
      });
    }
    // The same typing from a member is forwarded: bob's barrier would have caught mallory's.
    mallory.send({ v: 2, type: 'typing', room: 'general' });
    expect(await bob.next('typing')).toEqual({ v: 2, type: 'typing', room: 'general', user: 'mallory' });
    await bob.barrier();
    expect(bob.all('typing').filter((m) => m.room === 'secret')).toEqual([]);
  });
});

describe('validation', () => {
  it('answers malformed requests with an error naming the request, and keeps the connection', async () => {
    const server = await startTestServer();
    const alice = await TestClient.user(server.origin, 'alice');
    const cases: [string, string, Record<string, string>][] = [
      ['not json', 'bad_json', {}],
      ['[1,2]', 'bad_message', {}],
      ['{"type":"send"}', 'unsupported_version', {}],
      ['{"v":1,"type":"ping","ref":"old"}', 'unsupported_version', { ref: 'old' }],
      ['{"v":2,"type":"shout","ref":"s"}', 'unknown_type', { ref: 's' }],
      ['{"v":2,"type":"send","id":"a","room":"general"}', 'bad_message', { id: 'a' }],
      ['{"v":2,"type":"send","id":"a","room":"general","text":"x","extra":1}', 'bad_message', { id: 'a' }],
      ['{"v":2,"type":"send","id":"a b","room":"general","text":"x"}', 'bad_message', {}],
      [
        '{"v":2,"type":"send","id":"a","ref":"r","room":"general","text":"   "}',
        'bad_message',
        { ref: 'r', id: 'a' },
      ],
      ['{"v":2,"type":"history","room":"general","before":1.5}', 'bad_message', {}],
      ['{"v":2,"type":"join","room":"../etc"}', 'bad_room_name', {}],
      ['{"v":2,"type":"ping","ref":"not ok"}', 'bad_message', {}],
      ['{"v":2,"type":"create","room":"x","private":"yes"}', 'bad_message', {}],
      ['{"v":2,"type":"toString"}', 'unknown_type', {}],
      ['{"v":2,"type":"rooms","__proto__":{}}', 'bad_message', {}],
    ];
    for (const [raw, code, names] of cases) {
      alice.sendRaw(raw);
      const error = await alice.next('error');
      expect(error.code, raw).toBe(code);
      expect({ ref: error.ref, id: error.id }, raw).toEqual({ ref: names.ref, id: names.id });
    }
    alice.sendRaw(Buffer.from('{"v":2}'), true);
    expect((await alice.next('error')).message).toMatch(/binary/);
    expect(await alice.request('history', { type: 'history', room: 'general' })).toMatchObject({
      messages: [],
    });
  });

  it('answers deeply nested JSON within the frame limit with an error, and keeps the connection', async () => {
    // JSON.parse takes any depth that fits in maxFrameBytes (64 KiB) without a stack overflow;
    // whatever it returns goes through the same shape checks as any request.
    const server = await startTestServer();
    const alice = await TestClient.user(server.origin, 'alice');
    const cases: [string, string][] = [
      ['['.repeat(30_000) + ']'.repeat(30_000), 'bad_message'],
      [`${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`, 'unsupported_version'],
      ['['.repeat(60_000), 'bad_json'],
      [
        `{"v":2,"type":"hello","rooms":{"general":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`,
        'bad_message',
      ],
      [`{"v":2,"type":"ping","ref":${'['.repeat(20_000)}${']'.repeat(20_000)}}`, 'bad_message'],
    ];
    for (const [raw, code] of cases) {
      expect(Buffer.byteLength(raw)).toBeLessThan(64 * 1024);
      alice.sendRaw(raw);
      expect((await alice.next('error')).code, raw.slice(0, 40)).toBe(code);
    }
    expect((await alice.request('pong', { type: 'ping' })).type).toBe('pong');
  });

  it('measures text in UTF-8 bytes (text_too_long) and closes on frames over maxFrameBytes (1009)', async () => {
    const server = await startTestServer({ limits: { maxFrameBytes: 16 * 1024 } });
    const alice = await TestClient.user(server.origin, 'alice');
    expect(
      await alice.request('ack', { type: 'send', id: 'ok', room: 'general', text: 'é'.repeat(2048) }),
    ).toMatchObject({
      type: 'ack',
    });
    expect(
      await alice.request('ack', { type: 'send', id: 'big', room: 'general', text: `${'é'.repeat(2048)}x` }),
    ).toMatchObject({ code: 'text_too_long', id: 'big' });
    alice.sendRaw('x'.repeat(20 * 1024));
    expect((await alice.closed).code).toBe(1009);
  });

  it('requires hello first, and only once', async () => {
    const server = await startTestServer();
    const client = await TestClient.connect(server.origin, await register(server.origin, 'alice'));
    expect(
      await client.request('error', { type: 'send', id: 'early', room: 'general', text: 'hi' }),
    ).toMatchObject({
      code: 'not_ready',
      id: 'early',
    });
    expect((await client.request('welcome', { type: 'hello' })).type).toBe('welcome');
    expect(await client.request('error', { type: 'hello' })).toMatchObject({ code: 'bad_message' });
  });
});

describe('the hello deadline (fake setTimeout)', () => {
  // Only setTimeout is faked, from after the server started: the hub's deadline timer and
  // riptide's handshake and close timers are fake, sockets and the sockets' I/O are real.
  const fakeTimeouts = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('closes a WebSocket that sent no hello within 10 s with 1013 "hello timeout", not one that did', async () => {
    const server = await startTestServer({ dbPath: ':memory:' });
    const cookie = await register(server.origin, 'alice');
    fakeTimeouts();
    const silent = await TestClient.connect(server.origin, cookie);
    const late = await TestClient.connect(server.origin, cookie);
    vi.advanceTimersByTime(TIMEOUTS.helloMs - 1);
    // Other requests do not count as a hello (and prove the socket is still open).
    expect(await silent.request('error', { type: 'ping' })).toMatchObject({ code: 'not_ready' });
    expect((await late.request('welcome', { type: 'hello' })).type).toBe('welcome');
    vi.advanceTimersByTime(1);
    expect(await silent.closed).toEqual({ code: 1013, reason: 'hello timeout' });
    // A socket that said hello in time is never cut, however long it then stays silent.
    vi.advanceTimersByTime(10 * TIMEOUTS.helloMs);
    expect((await late.request('pong', { type: 'ping' })).type).toBe('pong');
    expect(HELLO_TIMEOUT_CLOSE).toEqual({ code: 1013, reason: 'hello timeout' });
    expect(TIMEOUTS.helloMs).toBe(10_000);
  });

  it('clears the deadline of a socket that closes before its hello: no timer is left pending', async () => {
    // A closed socket's deadline would hold its Connection (and socket) for 10 s each: a client
    // that opens and closes sockets in a loop would pile them up.
    const server = await startTestServer({ dbPath: ':memory:', heartbeatMs: 0 });
    const cookie = await register(server.origin, 'alice');
    fakeTimeouts();
    /** Closes the client, then waits for the server's side (polled by setImmediate, not faked). */
    const closeBoth = async (client: TestClient) => {
      client.ws.close();
      await client.closed;
      while (server.hub.connectionsOf('alice') > 0) await new Promise((resolve) => setImmediate(resolve));
    };
    // The baseline: a socket that said hello and closed. What the library keeps armed after a
    // handshake (riptide's handshake sweep, the same 10 s) is pending in both counts.
    const greeted = await TestClient.connect(server.origin, cookie);
    expect((await greeted.request('welcome', { type: 'hello' })).type).toBe('welcome');
    await closeBoth(greeted);
    const before = vi.getTimerCount();
    const silent = await TestClient.connect(server.origin, cookie);
    expect(server.hub.connectionsOf('alice')).toBe(1);
    expect(vi.getTimerCount()).toBe(before + 2); // its hello deadline, and its session's expiry
    await closeBoth(silent);
    expect(vi.getTimerCount()).toBe(before);
  });

  it('gives back the places of silent sockets in the per-user cap (8) once their deadline passes', async () => {
    const server = await startTestServer({ dbPath: ':memory:' });
    const cookie = await register(server.origin, 'alice');
    fakeTimeouts();
    const silent = [];
    for (let i = 0; i < 8; i++) silent.push(await TestClient.connect(server.origin, cookie));
    expect(await upgradeStatus(server.origin, { origin: server.origin, cookie })).toBe(429);
    vi.advanceTimersByTime(TIMEOUTS.helloMs);
    for (const s of silent) expect((await s.closed).code).toBe(1013);
    vi.useRealTimers();
    // The client saw its close; the server's socket closes right after (a condition, polled).
    await waitFor(() => server.hub.connectionsOf('alice') === 0, 'the silent sockets to leave the cap');
    expect(await upgradeStatus(server.origin, { origin: server.origin, cookie })).toBe(101);
  });
});

describe('peers that do not read', () => {
  it('drops a user who floods invalid requests and typing to rooms they are not in, and never reads', async () => {
    // An invalid request is answered at once, outside the request queue (whose pause does not
    // hold it back), a typing notice for a room not joined gets not_member through the queue:
    // what bounds those answers is the outbound cap, maxBufferedBytes (2 MiB), then terminate.
    const server = await startTestServer({ dbPath: ':memory:' });
    const mallory = await TestClient.user(server.origin, 'mallory');
    const alice = await TestClient.user(server.origin, 'alice');
    mallory.ws.pause();
    let closed = false;
    void mallory.closed.then(() => {
      closed = true;
    });
    let sent = 0;
    // Each 1-byte request owes an answer of about 80 bytes: 2 million of them would be 160 MB.
    for (; sent < 2_000_000 && !closed; sent++) {
      mallory.sendRaw(sent % 2 === 0 ? 'x' : '{"v":2,"type":"typing","room":"nowhere"}');
      if (sent % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(closed).toBe(true);
    expect(sent).toBeLessThan(2_000_000);
    mallory.ws.resume();
    expect((await mallory.closed).code).toBe(1006); // terminated
    expect((await alice.request('pong', { type: 'ping' })).type).toBe('pong');
  });

  it('drops a user in no room who floods pings and never reads; others are still served', async () => {
    const server = await startTestServer({ dbPath: ':memory:' });
    const mallory = await TestClient.user(server.origin, 'mallory');
    await mallory.request('left', { type: 'leave', room: 'general' });
    const alice = await TestClient.user(server.origin, 'alice');
    mallory.ws.pause();
    const payload = Buffer.alloc(125, 1);
    let closed = false;
    void mallory.closed.then(() => {
      closed = true;
    });
    // Pings until the server gives up on us (it must, long before this loop ends).
    for (let i = 0; i < 400_000 && !closed; i++) {
      mallory.ws.ping(payload);
      if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
    mallory.ws.resume();
    expect((await mallory.closed).code).toBe(1006); // terminated
    expect((await alice.request('pong', { type: 'ping' })).type).toBe('pong');
  });
});
