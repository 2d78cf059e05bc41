/**
 * The page's fixes of issue 15 in a real browser: messages typed faster than the rate limit are
 * stored in the order typed and the "slow down" line goes away; join and leave notices are right
 * (no "came online"/"went offline" for a room change, no red error after Leave); the typing line
 * ends when the typist's message arrives; sign-up apart from sign-in; direct messages and private
 * rooms from the page. Also: text of only invisible characters is not sent, as only spaces is not.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers.js';
import { messageTexts, openRoom, sendMessage, sendMessages, signIn, useBrowser } from './browser.js';

const chrome = useBrowser();

const notices = (page: Page) =>
  page.$$eval('#message-list li.notice', (nodes) => nodes.map((n) => n.textContent ?? ''));

describe('the page', () => {
  it('stores messages typed faster than the rate limit in the order typed, then clears "slow down"', async () => {
    // A small bucket: 3 at once, then 5 per second.
    const server = await startTestServer({ limits: { messageRate: { burst: 3, perSecond: 5 } } });
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    await openRoom(alice.page, 'fresh');
    const typed = Array.from({ length: 15 }, (_, i) => `m${i + 1}`);
    // Typed in one task, so the burst is spent whatever the machine's load.
    await sendMessages(alice.page, typed);
    await alice.page.waitForFunction(
      () =>
        document.querySelector('#composer-error')?.textContent === 'Slow down a little — sending shortly.',
    );
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message:not(.pending)').length === 15,
      undefined,
      { timeout: 30_000 },
    );
    expect(await messageTexts(alice.page)).toEqual(typed);
    // The order stored is the order typed (what any other client or a reload sees).
    const stored = (await server.backend.rooms.messagesBefore('fresh', 100, 100))
      .reverse()
      .map((m) => m.text);
    expect(stored).toEqual(typed);
    await alice.page.waitForFunction(() => document.querySelector('#composer-error')?.textContent === '');
    await alice.context.close();
  });

  it('says "joined" and "left" for room changes, never "came online"/"went offline", and no error after Leave', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await openRoom(alice.page, 'random');
    await openRoom(bob.page, 'random');
    await alice.page.waitForFunction(() =>
      [...document.querySelectorAll('#message-list li.notice')].some(
        (n) => n.textContent === 'bob joined #random',
      ),
    );
    await alice.page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLElement>('#online-list li')].some(
        (n) => n.dataset.user === 'bob' && !n.classList.contains('offline'),
      ),
    );
    for (let round = 0; round < 4; round++) {
      // Leave right after a message arrived (its read marker is still to be sent), then come back.
      await sendMessage(alice.page, `hello ${round}`);
      await bob.page.waitForFunction(
        (n) => document.querySelectorAll('#message-list li.message:not(.pending)').length === n,
        round + 1,
      );
      await bob.page.click('#leave-room');
      await bob.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#general');
      await alice.page.waitForFunction(
        (n) =>
          [...document.querySelectorAll('#message-list li.notice')].filter(
            (x) => x.textContent === 'bob left #random',
          ).length === n,
        round + 1,
      );
      await openRoom(bob.page, 'random');
    }
    await alice.page.waitForFunction(
      () =>
        [...document.querySelectorAll('#message-list li.notice')].filter(
          (x) => x.textContent === 'bob joined #random',
        ).length === 5,
    );
    const seen = await notices(alice.page);
    expect(seen.filter((t) => /online|offline/.test(t))).toEqual([]);
    // bob stayed online in general all along.
    await alice.page.click('#room-list button[data-room="general"]');
    expect(await notices(alice.page)).toEqual([]);
    expect(
      await alice.page.$$eval('#online-list li', (l) =>
        // The name, and whether it is shown offline (the row also holds Block: render.ts).
        l.map(
          (n) => `${(n as HTMLElement).dataset.user}${n.classList.contains('offline') ? ' (offline)' : ''}`,
        ),
      ),
    ).toEqual(['alice', 'bob']);
    // A read marker or typing notice answered after the leave shows no error.
    expect(await bob.page.textContent('#composer-error')).toBe('');
    expect(await bob.page.textContent('#room-error')).toBe('');
    await alice.context.close();
    await bob.context.close();
  });

  it('ends "x is typing…" when x\u2019s message arrives', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await bob.page.fill('#composer-input', 'Hel');
    await bob.page.locator('#composer-input').press('l');
    await alice.page.waitForFunction(
      () => document.querySelector('#typing')?.textContent === 'bob is typing…',
    );
    await bob.page.locator('#composer-input').press('o');
    await bob.page.keyboard.press('Enter');
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message').length === 1,
    );
    // At once, not after the indicator's 4 s.
    expect(await alice.page.textContent('#typing')).toBe('');
    await alice.context.close();
    await bob.context.close();
  });

  it('shows "x is typing…" again as soon as x starts the next message', async () => {
    // Regression: the page sends a typing notice at most every 2 s, and did not start again after a
    // send, so the next message's first keys (within 2 s of the last notice) said nothing: a quick
    // reply was never announced. The server's gate (typingIntervalMs) is made small here: this is
    // about the page.
    const server = await startTestServer({ limits: { typingIntervalMs: 1 } });
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    const composer = bob.page.locator('#composer-input');
    await composer.pressSequentially('Hi');
    await alice.page.waitForFunction(
      () => document.querySelector('#typing')?.textContent === 'bob is typing…',
    );
    await composer.press('Enter');
    await alice.page.waitForFunction(
      () =>
        document.querySelectorAll('#message-list li.message').length === 1 &&
        document.querySelector('#typing')?.textContent === '',
    );
    await composer.press('o');
    await alice.page.waitForFunction(
      () => document.querySelector('#typing')?.textContent === 'bob is typing…',
      undefined,
      { timeout: 5_000 },
    );
    await alice.context.close();
    await bob.context.close();
  });

  it('creates an account only with "Create account", and gives one answer for a failed sign-in', async () => {
    const server = await startTestServer();
    const context = await chrome.browser.newContext();
    const page = await context.newPage();
    await page.goto(server.origin);
    await page.fill('#login-name', 'nobody');
    await page.fill('#login-password', 'some password');
    await page.click('#sign-in');
    await page.waitForFunction(
      () => document.querySelector('#login-error')?.textContent === 'Wrong name or password.',
    );
    expect(await server.backend.accounts.getUser('nobody')).toBeNull();
    await page.click('#sign-up');
    await page.waitForSelector('#status[data-state="online"]');
    expect(await page.textContent('#me')).toBe('nobody');
    await page.click('#logout');
    await page.waitForSelector('#login-view:not([hidden])');
    await page.fill('#login-name', 'nobody');
    await page.fill('#login-password', 'another password');
    await page.click('#sign-up');
    await page.waitForFunction(() =>
      document.querySelector('#login-error')?.textContent?.startsWith('That name is taken'),
    );
    await page.fill('#login-password', 'some password');
    await page.click('#sign-in');
    await page.waitForSelector('#status[data-state="online"]');
    await context.close();
  });

  it('starts a direct message from a name in the online list, and keeps a private room to its members', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await alice.page.waitForSelector('#online-list button:text("bob")');
    await alice.page.click('#online-list button:text("bob")');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '@bob');
    await sendMessage(alice.page, 'just between us');
    await bob.page.waitForSelector('#dm-list button[data-room="dm:alice:bob"] .badge');
    expect(await bob.page.textContent('#dm-list button[data-room="dm:alice:bob"] .name')).toBe('@alice');
    await bob.page.click('#dm-list button[data-room="dm:alice:bob"]');
    await bob.page.waitForFunction(() => document.querySelectorAll('#message-list li.message').length === 1);
    expect(await messageTexts(bob.page)).toEqual(['just between us']);

    await alice.page.fill('#room-input', 'plans');
    await alice.page.check('#room-private');
    await alice.page.press('#room-input', 'Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#plans');
    // bob cannot join it (the page then tries to create it: the name is taken, so the room is a
    // private one; it stays hidden, and he is told what would let him in).
    await bob.page.fill('#room-input', 'plans');
    await bob.page.press('#room-input', 'Enter');
    await bob.page.waitForFunction(() => document.querySelector('#room-error')?.textContent !== '');
    expect(await bob.page.textContent('#room-error')).toBe(
      '#plans is a private room: its owner can invite you',
    );
    expect(await bob.page.locator('#room-list button[data-room="plans"]').count()).toBe(0);
    // Until alice invites him.
    await alice.page.fill('#invite-input', 'bob');
    await alice.page.press('#invite-input', 'Enter');
    await bob.page.click('#invitation-list li[data-room="plans"] button.accept');
    await bob.page.waitForSelector('#room-list button[data-room="plans"]');
    await alice.context.close();
    await bob.context.close();
  });

  it('does not send text of only invisible characters (zero-width, word joiner), as it does not send spaces', async () => {
    // Regression: the page checked trim() only, so "\u200B" went out and came back refused.
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const invisible = ' \u200B\u2060\uFEFF ';
    await sendMessage(alice.page, invisible);
    // Not sent: the composer keeps it (a sent message empties it at once).
    expect(await alice.page.inputValue('#composer-input')).toBe(invisible);
    await sendMessage(alice.page, '\u{1F469}\u200D\u{1F4BB} after');
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message:not(.pending)').length === 1,
    );
    expect(await messageTexts(alice.page)).toEqual(['\u{1F469}\u200D\u{1F4BB} after']);
    expect(await alice.page.textContent('#composer-error')).toBe('');
    const stored = await server.backend.rooms.messagesBefore('general', 100, 100);
    expect(stored.map((m) => m.text)).toEqual(['\u{1F469}\u200D\u{1F4BB} after']);
    await alice.context.close();
  });

  it('tells the user when the server refuses another tab (429), and connects once one is closed', async () => {
    const server = await startTestServer({ maxSocketsPerUser: 1 });
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const second = await alice.context.newPage();
    await second.goto(server.origin);
    await second.waitForSelector('#status[data-state="refused"]');
    expect(await second.textContent('#status')).toMatch(
      /^Too many chat tabs are open for your account — close one; retrying in \d+ s$/,
    );
    await alice.page.close();
    await second.waitForSelector('#status[data-state="online"]', { timeout: 30_000 });
    await alice.context.close();
  });

  it('a signed-out page load logs no error in the console (GET /api/session answers 200, not 401)', async () => {
    const server = await startTestServer();
    const context = await chrome.browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(String(error)));
    const session = page.waitForResponse((res) => new URL(res.url()).pathname === '/api/session');
    await page.goto(server.origin);
    expect((await session).status()).toBe(200);
    await page.waitForSelector('#login-view:not([hidden])');
    // Signed up, then out, the page loaded again (its cookie gone): the same.
    await page.fill('#login-name', 'alice');
    await page.fill('#login-password', 'browser password');
    await page.click('#sign-up');
    await page.waitForSelector('#status[data-state="online"]');
    await page.click('#logout');
    await page.waitForSelector('#login-view:not([hidden])');
    const again = page.waitForResponse((res) => new URL(res.url()).pathname === '/api/session');
    await page.reload();
    expect((await again).status()).toBe(200);
    await page.waitForSelector('#login-view:not([hidden])');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a page load whose session question gets no answer about the cookie (429, 503) asks the WebSocket instead', async () => {
    // Regression: any answer but 200 showed the sign-in, so someone using up an address's requests
    // (GET /api/session is counted per address) signed out, in effect, everyone behind it.
    const server = await startTestServer();
    const { context, page } = await signIn(chrome.browser, server.origin, 'alice');
    await page.route('**/api/session', (route) =>
      route.fulfill({
        status: 429,
        headers: { 'content-type': 'application/json', 'retry-after': '1' },
        body: JSON.stringify({ error: 'rate_limited', message: 'too many requests from this address' }),
      }),
    );
    const asked = page.waitForResponse((res) => new URL(res.url()).pathname === '/api/session');
    await page.reload();
    expect((await asked).status()).toBe(429);
    await page.waitForSelector('#status[data-state="online"]');
    expect(await page.isHidden('#login-view')).toBe(true);
    // Signed out (no cookie), the same answer: the upgrade is refused, GET /ws says 401, sign-in.
    const other = await chrome.browser.newContext();
    const stranger = await other.newPage();
    await stranger.route('**/api/session', (route) => route.fulfill({ status: 503, body: '{}' }));
    await stranger.goto(server.origin);
    await stranger.waitForSelector('#login-view:not([hidden])');
    expect(await stranger.isHidden('#chat-view')).toBe(true);
    await other.close();
    await context.close();
  });
});
