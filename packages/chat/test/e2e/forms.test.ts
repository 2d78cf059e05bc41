/**
 * The page's small forms as a user fills them in: the room form takes a name typed with capitals
 * (rooms are lower case) and says what a room name may hold when it is refused; the direct-message
 * form says what a user name may hold. The browser's own "Please match the requested format."
 * bubble gives no reason, and blocked the page's lower-casing and its message before they ran.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers.js';
import { signIn, useBrowser } from './browser.js';

const chrome = useBrowser();

/**
 * What the browser's accessibility tree gives a screen reader on the field `selector`: its
 * description (aria-describedby resolved to text) and whether it is marked invalid.
 */
async function fieldSaid(page: Page, selector: string): Promise<{ description: string; invalid: boolean }> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { root } = await cdp.send('DOM.getDocument');
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    const { nodes } = await cdp.send('Accessibility.getPartialAXTree', { nodeId, fetchRelatives: false });
    const node = nodes[0];
    const invalid = node?.properties?.find((p) => p.name === 'invalid')?.value.value;
    return {
      description: String(node?.description?.value ?? ''),
      invalid: invalid !== undefined && invalid !== 'false',
    };
  } finally {
    await cdp.detach();
  }
}

describe('forms', () => {
  it('joins "Random" as #random, and refuses "has space" with the rule for room names', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    await alice.page.fill('#room-input', 'Random');
    await alice.page.press('#room-input', 'Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#random');

    await alice.page.fill('#room-input', 'has space');
    await alice.page.press('#room-input', 'Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-error')?.textContent !== '');
    expect(await alice.page.textContent('#room-error')).toBe(
      'Room names: 1-32 of a-z, 0-9, - and _, starting with a letter or digit.',
    );
    expect(await alice.page.textContent('#room-title')).toBe('#random');
    // Kept to correct, not emptied.
    expect(await alice.page.inputValue('#room-input')).toBe('has space');
    await alice.context.close();
  });

  it('refuses a direct message to "bad name" with the rule for user names', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    await alice.page.fill('#dm-input', 'bad name');
    await alice.page.press('#dm-input', 'Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-error')?.textContent !== '');
    expect(await alice.page.textContent('#room-error')).toBe('User names: 1-24 of A-Z, a-z, 0-9, - and _.');
    expect(await alice.page.inputValue('#dm-input')).toBe('bad name');
    expect(await alice.page.textContent('#room-title')).toBe('#general');
    await alice.context.close();
  });

  it('ties a refusal to its field: the refused room name and user name are invalid and described by the rule, until sent again', async () => {
    const server = await startTestServer();
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const page = alice.page;
    expect(await fieldSaid(page, '#room-input')).toEqual({ description: '', invalid: false });

    await page.fill('#room-input', 'has space');
    await page.press('#room-input', 'Enter');
    await page.waitForFunction(() => document.querySelector('#room-error')?.textContent !== '');
    const roomRule = 'Room names: 1-32 of a-z, 0-9, - and _, starting with a letter or digit.';
    expect(await fieldSaid(page, '#room-input')).toEqual({ description: roomRule, invalid: true });

    // The user-name refusal replaces it: the room field is untied, the name field tied.
    await page.fill('#dm-input', 'bad name');
    await page.press('#dm-input', 'Enter');
    const userRule = 'User names: 1-24 of A-Z, a-z, 0-9, - and _.';
    await page.waitForFunction((t) => document.querySelector('#room-error')?.textContent === t, userRule);
    expect(await fieldSaid(page, '#dm-input')).toEqual({ description: userRule, invalid: true });
    // ("has space" is still against the field's pattern, which the browser says as invalid.)
    expect((await fieldSaid(page, '#room-input')).description).toBe('');

    // Corrected and sent, it is valid again.
    await page.fill('#dm-input', 'bob');
    await page.press('#dm-input', 'Enter');
    await page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '@bob');
    expect(await fieldSaid(page, '#dm-input')).toEqual({ description: '', invalid: false });
    await alice.context.close();
    await bob.context.close();
  });

  it('ties a wrong password to both sign-in fields, and a taken or look-alike name to the name field', async () => {
    const server = await startTestServer();
    const taken = await signIn(chrome.browser, server.origin, 'alice');
    await taken.context.close();
    const context = await chrome.browser.newContext();
    const page = await context.newPage();
    await page.goto(server.origin);
    await page.waitForSelector('#login-name:focus');
    await page.fill('#login-name', 'alice');
    await page.fill('#login-password', 'not her password');
    await page.press('#login-password', 'Enter');
    await page.waitForFunction(() => document.querySelector('#login-error')?.textContent !== '');
    const wrong = 'Wrong name or password.';
    expect(await fieldSaid(page, '#login-name')).toEqual({ description: wrong, invalid: true });
    expect(await fieldSaid(page, '#login-password')).toEqual({ description: wrong, invalid: true });

    await page.click('#sign-up');
    const takenText = 'That name is taken — choose another, or sign in.';
    await page.waitForFunction((t) => document.querySelector('#login-error')?.textContent === t, takenText);
    expect(await fieldSaid(page, '#login-name')).toEqual({ description: takenText, invalid: true });
    expect(await fieldSaid(page, '#login-password')).toEqual({ description: '', invalid: false });

    // A look-alike (capital I for l) is refused as taken, and told apart: no sign-in offered.
    await page.fill('#login-name', 'aIice');
    await page.fill('#login-password', 'a long enough password');
    await page.click('#sign-up');
    const similarText = 'That name is too similar to an existing name — choose another.';
    await page.waitForFunction((t) => document.querySelector('#login-error')?.textContent === t, similarText);
    expect(await fieldSaid(page, '#login-name')).toEqual({ description: similarText, invalid: true });
    expect(await server.backend.accounts.getUser('aIice')).toBeNull();

    // A name the browser refuses itself (its bubble says why) takes the server's refusal of the
    // name before away: "too similar" stayed under the bubble, as if said of "bad name!".
    await page.fill('#login-name', 'bad name!');
    await page.click('#sign-up');
    expect(
      await page.evaluate(() => (document.querySelector('#login-name') as HTMLInputElement).validity.valid),
    ).toBe(false);
    expect(await page.textContent('#login-error')).toBe('');
    expect(await fieldSaid(page, '#login-name')).toEqual({ description: '', invalid: true });
    // The same for a password too short on Sign in, after a wrong one.
    await page.fill('#login-name', 'alice');
    await page.fill('#login-password', 'not her password');
    await page.press('#login-password', 'Enter');
    await page.waitForFunction((t) => document.querySelector('#login-error')?.textContent === t, wrong);
    await page.fill('#login-password', 'short');
    await page.click('#sign-in');
    expect(await page.textContent('#login-error')).toBe('');
    expect(await fieldSaid(page, '#login-password')).toEqual({ description: '', invalid: true });
    await context.close();
  });
});
