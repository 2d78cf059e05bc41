/**
 * Signing up, in and out; the WebSocket gate. Attacks from issue 15: user enumeration (one answer
 * for every failed sign-in, sign-in never registers) and password guessing from many addresses
 * (a backoff per account, counted whatever the address).
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/server/clock.js';
import { MAX_SESSIONS_PER_USER } from '../../src/server/http/session.js';
import {
  cleanup,
  login,
  PASSWORD,
  post,
  register,
  startTestServer,
  TestClient,
  type TestServer,
  upgradeStatus,
  waitFor,
} from '../helpers.js';

afterEach(cleanup);

/**
 * GET /api/session with `cookie`: who is signed in. "Nobody" is an answer (200), not a 401 (a
 * signed-out page load logged it as an error in the browser's console).
 */
async function whoIs(origin: string, cookie?: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${origin}/api/session`, cookie === undefined ? {} : { headers: { cookie } });
  return { status: res.status, body: await res.json() };
}
const ALICE = { status: 200, body: { signedIn: true, user: 'alice' } };
const NOBODY = { status: 200, body: { signedIn: false } };

describe('sign-up and sign-in', () => {
  it('creates an account once, signs in case-insensitively, and gives an HttpOnly SameSite cookie', async () => {
    const server = await startTestServer();
    const created = await post(server.origin, '/api/register', { name: 'Alice', password: PASSWORD });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ user: 'Alice' });
    expect(created.cookie).toMatch(/^riptide_chat_session=[A-Za-z0-9_-]{43}$/);
    const again = await post(server.origin, '/api/register', { name: 'alice', password: 'another one' });
    expect(again).toMatchObject({ status: 409, body: { error: 'name_taken' } });
    const res = await fetch(`${server.origin}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: server.origin },
      body: JSON.stringify({ name: 'ALICE', password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ user: 'Alice' });
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
  });

  it('refuses a name that looks like an existing one as taken, saying it is too similar, also when both sign up at once', async () => {
    // Regression (lookalike): `aIice` (capital I) signed up beside `alice`.
    const server = await startTestServer();
    const similar = {
      status: 409,
      cookie: '',
      body: { error: 'name_taken', message: 'that name is too similar to an existing name', similar: true },
    };
    const both = await Promise.all(
      ['alice', 'aIice'].map((name) => post(server.origin, '/api/register', { name, password: PASSWORD })),
    );
    expect(both.map((r) => r.status).sort()).toEqual([201, 409]);
    expect(both.find((r) => r.status === 409)).toMatchObject(similar);
    const winner = both.find((r) => r.status === 201)?.body as { user: string };
    // Four sign-ups in all: the address's bucket (signUpPerIp, a burst of 5) would refuse more.
    expect(await post(server.origin, '/api/register', { name: 'a1ice', password: PASSWORD })).toMatchObject(
      similar,
    );
    expect(
      await post(server.origin, '/api/register', { name: winner.user.toUpperCase(), password: PASSWORD }),
    ).toMatchObject({ status: 409, body: { error: 'name_taken', message: 'that name is taken' } });
    expect(await server.backend.accounts.getUser('a1ice')).toBeNull();
  });

  it('gives the same answer to a wrong password and to a name that does not exist, and registers nobody', async () => {
    const server = await startTestServer();
    await register(server.origin, 'alice');
    const wrong = await post(server.origin, '/api/login', { name: 'alice', password: 'wrong password' });
    const unknown = await post(server.origin, '/api/login', { name: 'nobody', password: 'wrong password' });
    const invalid = await post(server.origin, '/api/login', { name: '<b>', password: 'x' });
    for (const res of [wrong, unknown, invalid]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'bad_credentials', message: 'wrong name or password' });
      expect(res.cookie).toBe('');
    }
    expect(await server.backend.accounts.getUser('nobody')).toBeNull();
    // The probe did not register the name: it is still free.
    expect((await post(server.origin, '/api/register', { name: 'nobody', password: PASSWORD })).status).toBe(
      201,
    );
  });

  it('refuses bad input to sign-up with 400 and a reason', async () => {
    const server = await startTestServer();
    for (const body of [
      { name: '<b>', password: PASSWORD },
      { name: 'bob', password: 'short' },
      { name: 'bob' },
      null,
    ]) {
      const res = await post(server.origin, '/api/register', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe('bad_request');
    }
  });

  it('slows down guessing one account from any number of addresses, then lets the owner in', async () => {
    const clock = new ManualClock();
    // Every request comes from 127.0.0.1 here; lift the per-address bucket to see the per-account one.
    const server = await startTestServer({ clock, signInPerIp: { burst: 1000, perSecond: 1000 } });
    await register(server.origin, 'alice');
    const attempt = (password: string) => post(server.origin, '/api/login', { name: 'alice', password });
    for (let i = 0; i < 5; i++) expect((await attempt(`guess ${i} wrong`)).status).toBe(401);
    // Five failures are free; the sixth attempt waits 1 s, the seventh 2 s ...
    const blocked = await attempt(PASSWORD);
    expect(blocked).toMatchObject({ status: 429, body: { error: 'rate_limited', retryAfterMs: 1000 } });
    clock.advance(1000);
    expect((await attempt('guess 6 wrong')).status).toBe(401);
    expect((await attempt(PASSWORD)).body.retryAfterMs).toBe(2000);
    clock.advance(2000);
    // The right password after the wait: in, and the count starts again.
    expect((await attempt(PASSWORD)).status).toBe(200);
    expect((await attempt('wrong again')).status).toBe(401);
    expect((await attempt(PASSWORD)).status).toBe(200);
    // A name that does not exist is slowed down the same way (nothing to learn from a 429).
    for (let i = 0; i < 5; i++)
      await post(server.origin, '/api/login', { name: 'ghost', password: `x${i}xxxxxxx` });
    expect((await post(server.origin, '/api/login', { name: 'ghost', password: PASSWORD })).status).toBe(429);
  });

  it('counts sign-ins sent at once one by one: a burst of guesses gets no more than the free ones', async () => {
    // The clock stands still: after the five free failures every further attempt must wait. The
    // count used to be made after the password check, so a burst sent at once (from any number of
    // addresses) all passed the check before the first was counted: 30 guesses, 30 answers 401.
    const clock = new ManualClock();
    const server = await startTestServer({ clock, signInPerIp: { burst: 1000, perSecond: 1000 } });
    await register(server.origin, 'alice');
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        post(server.origin, '/api/login', { name: 'alice', password: `guess ${i} wrong` }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(25);
    // The owner, after the wait, is let in, and that clears the count.
    clock.advance(1000);
    expect((await post(server.origin, '/api/login', { name: 'alice', password: PASSWORD })).status).toBe(200);
    expect((await post(server.origin, '/api/login', { name: 'alice', password: 'wrong again' })).status).toBe(
      401,
    );
  });

  it('never counts a name no account can have: its key would be as long as the body allows', async () => {
    const server = await startTestServer({ signInPerIp: { burst: 1000, perSecond: 1000 } });
    const { throttle } = server.backend;
    const counted: string[] = [];
    const attempt = throttle.signInAttempt.bind(throttle);
    throttle.signInAttempt = (name, now) => {
      counted.push(name);
      return attempt(name, now);
    };
    // 4 KiB bodies: each failure would keep a 4 KB key for an hour (in Redis too, on several nodes).
    const long = 'x'.repeat(4000);
    for (let i = 0; i < 7; i++) {
      const res = await post(server.origin, '/api/login', { name: `${long}${i}`, password: PASSWORD });
      expect(res).toMatchObject({ status: 401, body: { error: 'bad_credentials' } });
    }
    expect(counted).toEqual([]);
    // A well-formed name is counted as before, whether or not it exists.
    await post(server.origin, '/api/login', { name: 'ghost', password: PASSWORD });
    expect(counted).toEqual(['ghost']);
  });

  it('limits sign-in attempts and sign-ups per address', async () => {
    const clock = new ManualClock();
    const server = await startTestServer({
      clock,
      signInPerIp: { burst: 3, perSecond: 1 },
      signUpPerIp: { burst: 2, perSecond: 1 / 60 },
    });
    for (let i = 0; i < 3; i++)
      await post(server.origin, '/api/login', { name: `u${i}`, password: PASSWORD });
    const limited = await post(server.origin, '/api/login', { name: 'u9', password: PASSWORD });
    expect(limited).toMatchObject({ status: 429, body: { retryAfterMs: 1000 } });
    await register(server.origin, 'one');
    await register(server.origin, 'two');
    expect(
      (await post(server.origin, '/api/register', { name: 'three', password: PASSWORD })).body,
    ).toMatchObject({
      error: 'rate_limited',
      retryAfterMs: 60_000,
    });
  });

  it('needs JSON and a same-origin (or no) Origin on every POST', async () => {
    const server = await startTestServer();
    const form = await fetch(`${server.origin}/api/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.origin },
      body: 'a=b',
    });
    expect(form.status).toBe(415);
    const evil = await post(
      server.origin,
      '/api/register',
      { name: 'x', password: PASSWORD },
      { origin: 'http://evil.example' },
    );
    expect(evil.status).toBe(403);
  });

  it('takes application/json exactly (any case, with parameters), refusing longer types with 415', async () => {
    // Regression: the type was checked by its prefix, so application/json-evil (or jsonp) passed
    // as JSON, while APPLICATION/JSON was refused.
    const server = await startTestServer();
    const logout = (type: string) =>
      post(server.origin, '/api/logout', {}, { 'content-type': type }).then((r) => [type, r.status]);
    const refused = [
      'application/json-evil',
      'application/jsonp',
      'application/json+x',
      'application/json,text/plain',
    ];
    const taken = [
      'application/json',
      'APPLICATION/JSON',
      'application/json; charset=utf-8',
      'Application/Json;charset=UTF-8',
      'application/json ; charset=utf-8',
    ];
    for (const type of refused) expect(await logout(type)).toEqual([type, 415]);
    for (const type of taken) expect(await logout(type)).toEqual([type, 200]);
    expect(
      (await post(server.origin, '/api/logout', {}, { 'content-type': 'application/json-evil' })).body,
    ).toEqual({
      error: 'bad_content_type',
      message: 'send application/json',
    });
  });

  it('answers a body above 4 KiB with 413 and its reason, declared or chunked, and registers nobody', async () => {
    const server = await startTestServer();
    const big = JSON.stringify({ name: 'alice', password: PASSWORD, pad: 'x'.repeat(5000) });
    // Regression: the request was destroyed before the answer was written, so the client saw
    // its connection reset instead of a 413.
    const declared = await fetch(`${server.origin}/api/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: big,
    });
    expect([declared.status, declared.headers.get('connection'), await declared.json()]).toEqual([
      413,
      'close',
      { error: 'bad_request', message: 'body too large' },
    ]);
    // Chunked: no Content-Length, so the cap is applied while reading.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.origin}/api/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(big.slice(0, 3000));
      req.write(big.slice(3000));
      req.end();
    });
    expect(chunked).toBe(413);
    expect((await post(server.origin, '/api/login', { name: 'alice', password: PASSWORD })).status).toBe(401);
  });

  it('signs a new account up into general even when the store lost it, and makes it ownerless again', async () => {
    // A Redis that came back empty while the nodes ran on has no general: nothing else makes it again.
    const server = await startTestServer();
    expect(await server.backend.rooms.deleteRoom('general')).toBe(true);
    const cookie = await register(server.origin, 'alice');
    const { welcome } = await TestClient.join(server.origin, cookie);
    expect(welcome.rooms.map((r) => [r.room, r.owner])).toEqual([['general', null]]);
    expect(await server.backend.rooms.getRoom('general')).toMatchObject({ kind: 'public', owner: null });
  });

  it('signing out deletes the session and closes its sockets with 1008', async () => {
    const server = await startTestServer();
    const cookie = await register(server.origin, 'alice');
    const { client } = await TestClient.join(server.origin, cookie);
    const res = await post(server.origin, '/api/logout', {}, { cookie });
    expect(res).toMatchObject({ status: 200, body: { ok: true } });
    expect((await client.closed).code).toBe(1008);
    expect(await whoIs(server.origin, cookie)).toEqual(NOBODY);
    // No cookie at all: the same answer. The other routes still refuse (401) without a session.
    expect(await whoIs(server.origin)).toEqual(NOBODY);
    expect((await fetch(`${server.origin}/api/attachments/x`, { headers: { cookie } })).status).toBe(401);
  });

  it('signing out with a session that expired meanwhile still closes its open sockets with 1008', async () => {
    // Regression: logout looked the session up (for its user's topic) and, finding it expired,
    // closed nothing; the tab's socket, opened while it was valid, stayed open.
    const clock = new ManualClock();
    const server = await startTestServer({ clock });
    const cookie = await register(server.origin, 'alice');
    const { client } = await TestClient.join(server.origin, cookie);
    clock.advance(30 * 24 * 3600 * 1000);
    const res = await post(server.origin, '/api/logout', {}, { cookie });
    expect(res).toMatchObject({ status: 200, body: { ok: true } });
    // Closed before the answer went out, so before a request sent now could be answered.
    const ping = client.request('pong', { type: 'ping' }).then(
      () => 'answered',
      () => 'refused',
    );
    expect(await Promise.race([client.closed, ping])).toMatchObject({ code: 1008, reason: 'signed out' });
  });

  it('a sign-in past MAX_SESSIONS_PER_USER ends the oldest session: its socket closes as at a sign-out', async () => {
    // Regression (security pass): every sign-in added a 30-day session, without limit per user.
    const clock = new ManualClock();
    const server = await startTestServer({ clock, signInPerIp: { burst: 100, perSecond: 1 } });
    const oldest = await register(server.origin, 'alice');
    clock.advance(1);
    const second = await login(server.origin, 'alice');
    const pushedOut = (await TestClient.join(server.origin, oldest)).client;
    const kept = (await TestClient.join(server.origin, second)).client;
    for (let i = 2; i < MAX_SESSIONS_PER_USER; i++) {
      clock.advance(1);
      await login(server.origin, 'alice');
    }
    expect(await whoIs(server.origin, oldest)).toEqual(ALICE);
    clock.advance(1);
    const newest = await login(server.origin, 'alice');
    // Closed before the sign-in was answered, so before a request sent now could be answered.
    const ping = pushedOut.request('pong', { type: 'ping' }).then(
      () => 'answered',
      () => 'refused',
    );
    expect(await Promise.race([pushedOut.closed, ping])).toMatchObject({ code: 1008, reason: 'signed out' });
    expect(await whoIs(server.origin, oldest)).toEqual(NOBODY);
    expect(await kept.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });
    for (const cookie of [second, newest]) expect(await whoIs(server.origin, cookie)).toEqual(ALICE);
  });

  it('expires sessions by the server clock', async () => {
    const clock = new ManualClock();
    const server = await startTestServer({ clock });
    const cookie = await register(server.origin, 'alice');
    expect(await whoIs(server.origin, cookie)).toEqual(ALICE);
    clock.advance(30 * 24 * 3600 * 1000);
    expect(await whoIs(server.origin, cookie)).toEqual(NOBODY);
    expect(await login(server.origin, 'alice')).toMatch(/^riptide_chat_session=/);
  });
});

describe('behind a reverse proxy (trustProxy)', () => {
  /** A failed sign-in under a fresh name (the per-name backoff stays out of the way). */
  let names = 0;
  const attempt = (
    server: TestServer,
    forwardedFor?: string,
    name = `u${names++}`,
    password = 'wrong password',
  ) =>
    post(
      server.origin,
      '/api/login',
      { name, password },
      forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
    );
  const FROM_ADDRESS = { status: 429, body: { message: 'too many sign-in attempts from this address' } };
  /** A server whose sign-in bucket per address holds 3 attempts, on a clock that does not move. */
  const start = (options: { trustProxy?: string[]; log?: (line: string) => void } = {}) =>
    startTestServer({ clock: new ManualClock(), signInPerIp: { burst: 3, perSecond: 1 }, ...options });

  it('gives each forwarded client its own sign-in bucket: one exhausting it does not lock out another', async () => {
    // The test's requests come from 127.0.0.1: the proxy.
    const server = await start({ trustProxy: ['127.0.0.1', '::1'] });
    await register(server.origin, 'alice');
    for (let i = 0; i < 3; i++) expect((await attempt(server, '203.0.113.1')).status).toBe(401);
    expect(await attempt(server, '203.0.113.1')).toMatchObject(FROM_ADDRESS);
    expect((await attempt(server, '203.0.113.2', 'alice', PASSWORD)).status).toBe(200);
    // What the client wrote itself is left of what the proxy appended, and is not read.
    expect(await attempt(server, '198.51.100.1, 203.0.113.1')).toMatchObject(FROM_ADDRESS);
    // The proxy's own requests (no header) are another bucket again.
    expect((await attempt(server, undefined, 'alice', PASSWORD)).status).toBe(200);
  });

  it('says at start which proxies X-Forwarded-For is read from, as given; nothing when none', async () => {
    const logged = async (trustProxy?: string[]) => {
      const lines: string[] = [];
      await start({ log: (line) => lines.push(line), ...(trustProxy ? { trustProxy } : {}) });
      return lines;
    };
    expect(await logged(['127.0.0.1', '::1'])).toEqual([
      'chat: trusting X-Forwarded-For from 127.0.0.1, ::1',
    ]);
    // Comma lists (CHAT_TRUST_PROXY is one) are split; each entry is shown as written.
    expect(await logged([' 10.0.0.0/8,FD00::/8 ', '192.168.1.1'])).toEqual([
      'chat: trusting X-Forwarded-For from 10.0.0.0/8, FD00::/8, 192.168.1.1',
    ]);
    for (const none of [undefined, [], ['']]) expect(await logged(none)).toEqual([]);
  });

  it('counts an IPv6 client per /64', async () => {
    const server = await start({ trustProxy: ['127.0.0.1'] });
    await register(server.origin, 'alice');
    for (const host of ['a', 'b', 'c'])
      expect((await attempt(server, `2001:db8:1:2::${host}`)).status).toBe(401);
    expect(await attempt(server, '2001:db8:1:2:ffff::d')).toMatchObject(FROM_ADDRESS);
    expect((await attempt(server, '2001:db8:1:3::a', 'alice', PASSWORD)).status).toBe(200);
  });

  it('ignores X-Forwarded-For without a trust list, or from a peer that is not on it', async () => {
    for (const trustProxy of [undefined, ['10.0.0.0/8', '::1']]) {
      const server = await start(trustProxy ? { trustProxy } : {});
      await register(server.origin, 'alice');
      for (let i = 0; i < 3; i++) expect((await attempt(server, `203.0.113.${i}`)).status).toBe(401);
      // Another forwarded address, or none: the same bucket, that of the socket's peer.
      expect(await attempt(server, '203.0.113.200'), String(trustProxy)).toMatchObject(FROM_ADDRESS);
      expect(await attempt(server, '203.0.113.201', 'alice', PASSWORD)).toMatchObject(FROM_ADDRESS);
      expect(await attempt(server)).toMatchObject(FROM_ADDRESS);
    }
  });

  it('refuses a trust list it cannot read, naming the entry', async () => {
    await expect(start({ trustProxy: ['10.0.0.0/33'] })).rejects.toThrow(
      'startChatServer: trustProxy: "10.0.0.0/33": the prefix length of an IPv4 subnet is 0 to 32',
    );
    await expect(start({ trustProxy: '127.0.0.1' as unknown as string[] })).rejects.toThrow(
      'startChatServer: trustProxy must be an array of strings',
    );
  });
});

describe('the WebSocket gate', () => {
  it('refuses without a session (401), from another origin (403), and opens otherwise', async () => {
    const server = await startTestServer({ allowedOrigins: ['https://chat.example'] });
    const cookie = await register(server.origin, 'alice');
    expect(await upgradeStatus(server.origin, { origin: server.origin })).toBe(401);
    expect(
      await upgradeStatus(server.origin, { origin: server.origin, cookie: 'riptide_chat_session=forged' }),
    ).toBe(401);
    expect(await upgradeStatus(server.origin, { origin: 'http://evil.example', cookie })).toBe(403);
    expect(await upgradeStatus(server.origin, { origin: server.origin, cookie })).toBe(101);
    expect(await upgradeStatus(server.origin, { origin: 'https://chat.example', cookie })).toBe(101);
    // A program that sends no Origin (a bot) still needs the session.
    expect(await upgradeStatus(server.origin, { cookie })).toBe(101);
  });

  it('closes a refused upgrade once the answer is written, without waiting for the client', async () => {
    const server = await startTestServer();
    // A raw client that reads the 401 and never closes its side.
    const socket = connect(server.port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(
      'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await ended; // the server closed it (the test would time out otherwise)
    expect(answer).toMatch(/^HTTP\/1.1 401 Unauthorized\r\n/);
  });

  it('caps the sockets one user has open on a node (429), counting closes', async () => {
    const server = await startTestServer({ maxSocketsPerUser: 3 });
    const cookie = await register(server.origin, 'alice');
    const open = await Promise.all([1, 2, 3].map(() => TestClient.connect(server.origin, cookie)));
    expect(await upgradeStatus(server.origin, { origin: server.origin, cookie })).toBe(429);
    // Another user is not affected.
    expect(
      await upgradeStatus(server.origin, {
        origin: server.origin,
        cookie: await register(server.origin, 'bob'),
      }),
    ).toBe(101);
    await open[0].close();
    await waitFor(() => server.hub.connectionsOf('alice') === 2, 'the close to be counted');
    expect(await upgradeStatus(server.origin, { origin: server.origin, cookie })).toBe(101);
  });
});
