/**
 * The page's small forms as a user fills them in: the room form takes a name typed with capitals
 * (rooms are lower case) and says what a room name may hold when it is refused; the direct-message
 * form says what a user name may hold. The browser's own "Please match the requested format."
 * bubble gives no reason, and blocked the page's lower-casing and its message before they ran.
 */
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers.js';
import { signIn, useBrowser } from './browser.js';

const chrome = useBrowser();

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
});
