/**
 * The account dialog (web/account.ts) in Chromium: alice signed in in two browsers changes her
 * password in the first; the second is signed out at once (its socket closes, its page shows the
 * sign-in form), the first gets a new session token and reconnects with it, without a reload; the
 * old password no longer signs in, the new one does. Wrong answers are shown as
 * the page's text.
 */
import { describe, expect, it } from 'vitest';
import { post, startTestServer } from '../helpers.js';
import { sendMessage, signIn, useBrowser } from './browser.js';

const chrome = useBrowser();
const OLD = 'browser password';
const NEW = 'a new browser password';

describe('the account dialog', () => {
  it('changes the password: the other browser is signed out, only the new password signs in', async () => {
    const server = await startTestServer();
    const first = await signIn(chrome.browser, server.origin, 'alice');
    const second = await signIn(chrome.browser, server.origin, 'alice', { existing: true });
    const page = first.page;

    await page.click('#account');
    await page.waitForSelector('#account-dialog[open]');
    // Refusals, shown as text: the repeat differs, then a wrong current password.
    await page.fill('#password-current', OLD);
    await page.fill('#password-new', NEW);
    await page.fill('#password-repeat', `${NEW}!`);
    await page.click('#password-form button[type="submit"]');
    expect(await page.textContent('#password-error')).toBe('The new passwords do not match.');
    await page.fill('#password-current', 'not my password');
    await page.fill('#password-repeat', NEW);
    await page.click('#password-form button[type="submit"]');
    await page.waitForFunction(() => document.querySelector('#password-error')?.textContent !== '');
    expect(await page.textContent('#password-error')).toBe('The current password is wrong.');
    expect(await second.page.getAttribute('#status', 'data-state')).toBe('online');

    const cookieBefore = (await first.context.cookies()).find(
      (c) => c.name === 'riptide_chat_session',
    )?.value;
    let sockets = 0;
    page.on('websocket', () => sockets++);
    await page.fill('#password-current', OLD);
    await page.click('#password-form button[type="submit"]');
    await page.waitForFunction(() => document.querySelector('#password-done')?.textContent !== '');
    expect(await page.textContent('#password-done')).toBe('Password changed. 1 other session signed out.');
    expect(await page.textContent('#password-error')).toBe('');

    // The second browser: its socket closed by the server (1008), the sign-in form shown.
    await second.page.waitForSelector('#login-view:not([hidden])');
    expect(await second.page.isHidden('#chat-view')).toBe(true);
    // The first stays signed in, with a new session token (its old one ended with the others):
    // its socket, closed for the old token (4001, not 1008), comes back with the new cookie, and
    // the page works on without a reload.
    await page.click('#account-dialog form[method="dialog"] button');
    const cookieAfter = (await first.context.cookies()).find((c) => c.name === 'riptide_chat_session')?.value;
    expect(cookieAfter).toBeTruthy();
    expect(cookieAfter).not.toBe(cookieBefore);
    await expect.poll(() => sockets, { timeout: 20_000 }).toBe(1);
    await page.waitForSelector('#status[data-state="online"]');
    expect(await page.isHidden('#login-view')).toBe(true);
    await sendMessage(page, 'still here');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('#message-list li.message:not(.pending) .text')].some(
        (n) => n.textContent === 'still here',
      ),
    );

    // The old password is refused, the new one signs in.
    await second.page.fill('#login-name', 'alice');
    await second.page.fill('#login-password', OLD);
    await second.page.click('#sign-in');
    await second.page.waitForFunction(() => document.querySelector('#login-error')?.textContent !== '');
    expect(await second.page.textContent('#login-error')).toBe('Wrong name or password.');
    await second.page.fill('#login-password', NEW);
    await second.page.click('#sign-in');
    await second.page.waitForSelector('#status[data-state="online"]');
    expect(await second.page.textContent('#me')).toBe('alice');
    await first.context.close();
    await second.context.close();
  });

  it('signs out the other sessions and says how many', async () => {
    const server = await startTestServer();
    const first = await signIn(chrome.browser, server.origin, 'bob');
    const others = [
      await signIn(chrome.browser, server.origin, 'bob', { existing: true }),
      await signIn(chrome.browser, server.origin, 'bob', { existing: true }),
    ];
    await first.page.click('#account');
    await first.page.click('#logout-others');
    await first.page.waitForFunction(() => document.querySelector('#logout-others-said')?.textContent !== '');
    expect(await first.page.textContent('#logout-others-said')).toBe('Signed out 2 other sessions.');
    for (const other of others) await other.page.waitForSelector('#login-view:not([hidden])');
    await first.page.click('#logout-others');
    await first.page.waitForFunction(
      () => document.querySelector('#logout-others-said')?.textContent === 'No other session was signed in.',
    );
    expect(await first.page.getAttribute('#status', 'data-state')).toBe('online');
    for (const context of [first.context, ...others.map((o) => o.context)]) await context.close();
  });

  it('a sign-out refused by the address limit (429) still shows the sign-in: the server cleared the cookie', async () => {
    // The address's sign-in bucket holds one, used up by a made-up token's sign-out; it refills
    // long after the test.
    const server = await startTestServer({ signInPerIp: { burst: 1, perSecond: 0.001 } });
    const carol = await signIn(chrome.browser, server.origin, 'carol');
    const madeUp = `riptide_chat_session=${'x'.repeat(43)}`;
    expect((await post(server.origin, '/api/logout', {}, { cookie: madeUp })).status).toBe(200);
    expect((await post(server.origin, '/api/logout', {}, { cookie: madeUp })).status).toBe(429);
    const answer = carol.page.waitForResponse((r) => r.url().endsWith('/api/logout'));
    await carol.page.click('#logout');
    expect((await answer).status()).toBe(429);
    await carol.page.waitForSelector('#login-view:not([hidden])');
    expect(await carol.page.isHidden('#chat-view')).toBe(true);
    expect((await carol.context.cookies()).find((c) => c.name === 'riptide_chat_session')).toBeUndefined();
    await carol.context.close();
  });
});
