/**
 * What a user does to messages already sent while the page is offline: an edit, a delete, a
 * reaction. None of them is queued (only new messages are); each used to be dropped without a
 * word, and an edit's text with it (the composer emptied as if the edit had gone). Now the edit
 * stays in the composer, and each says it was not done and why. And Sign out, which cannot end the
 * session offline: it says so, and the page stays signed in. A join, a new room or a direct message
 * asked offline is said too, the name kept in its field.
 */
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers.js';
import {
  clickTool,
  comeBack,
  focusMatches,
  give,
  goOffline,
  sendMessage,
  seqOf,
  signIn,
  TcpProxy,
  tabTo,
  useBrowser,
} from './browser.js';

const chrome = useBrowser();
const OFFLINE_EDIT = 'Offline — your edit is kept: press Enter to send it once the chat is back online.';

describe('offline, on messages already sent', () => {
  it('keeps an edit made offline in the composer, says why, and sends it once back', async () => {
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const alice = await signIn(chrome.browser, proxied, 'alice');
      await sendMessage(alice.page, 'first');
      await sendMessage(alice.page, 'teh end');
      const seq = await seqOf(alice.page, 'teh end');
      const first = await seqOf(alice.page, 'first');
      await goOffline(proxy, alice.page);

      await alice.page.focus('#composer-input');
      await alice.page.keyboard.press('ArrowUp');
      await alice.page.waitForSelector('#edit-banner:not([hidden])');
      await alice.page.fill('#composer-input', 'the end');
      await alice.page.keyboard.press('Enter');
      await alice.page.waitForFunction(
        (t) => document.querySelector('#composer-error')?.textContent === t,
        OFFLINE_EDIT,
      );
      expect(await alice.page.inputValue('#composer-input')).toBe('the end');
      expect(await alice.page.isVisible('#edit-banner')).toBe(true);

      // A delete and a reaction: not done, and said.
      const item = alice.page.locator(`#message-list li.message[data-seq="${first}"]`);
      await clickTool(item, '.delete');
      await item.locator('.confirm-delete').click();
      await alice.page.waitForFunction(() =>
        document
          .querySelector('#composer-error')
          ?.textContent?.startsWith('Offline — the message was not deleted'),
      );
      const last = alice.page.locator(`#message-list li.message[data-seq="${seq}"]`);
      await clickTool(last, '.react');
      await alice.page.fill('#reaction-input', '🦄');
      await alice.page.press('#reaction-input', 'Enter');
      await alice.page.waitForFunction(() =>
        document
          .querySelector('#composer-error')
          ?.textContent?.startsWith('Offline — the reaction was not sent'),
      );
      await alice.page.keyboard.press('Escape');

      // Back online, the offline notice goes (it stayed, saying "Offline" under an Online bar);
      // the edit waits in the composer, its banner up.
      await comeBack(proxy, alice.page);
      expect(await alice.page.textContent('#composer-error')).toBe('');
      expect(await alice.page.isVisible('#edit-banner')).toBe(true);
      await alice.page.focus('#composer-input');
      await alice.page.keyboard.press('Enter');
      await alice.page.waitForSelector(`#message-list li.message[data-seq="${seq}"] .edited`);
      const stored = await server.backend.rooms.messagesBefore('general', 100, 100);
      expect(stored.map((m) => m.text).reverse()).toEqual(['first', 'the end']);
      expect(stored.every((m) => m.reactions === undefined || Object.keys(m.reactions).length === 0)).toBe(
        true,
      );
      await alice.context.close();
    } finally {
      await proxy.close();
    }
  });

  it('takes the "Delete this message?" question away when the delete is refused offline; the focus goes to the message', async () => {
    // Regression: the refusal was said, but nothing redrew the list, so the question stayed up
    // (with its Delete, which could only be refused again) until some other change came.
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const alice = await signIn(chrome.browser, proxied, 'alice');
      const page = alice.page;
      await sendMessage(page, 'keep me');
      await sendMessage(page, 'last');
      const seq = await seqOf(page, 'keep me');
      await seqOf(page, 'last');
      await goOffline(proxy, page);

      // From the keyboard: the message, Delete (the question takes the focus, on Cancel), then
      // Shift+Tab to its Delete and Enter.
      const item = `#message-list li.message[data-seq="${seq}"]`;
      await tabTo(page, '#message-list li.message', 'Shift+Tab');
      await page.keyboard.press('ArrowUp');
      expect(await focusMatches(page, item)).toBe(true);
      await page.keyboard.press('Delete');
      expect(await focusMatches(page, `${item} .cancel-delete`)).toBe(true);
      await page.keyboard.press('Shift+Tab');
      expect(await focusMatches(page, `${item} .confirm-delete`)).toBe(true);
      await page.keyboard.press('Enter');
      await page.waitForFunction(() =>
        document
          .querySelector('#composer-error')
          ?.textContent?.startsWith('Offline — the message was not deleted'),
      );
      // Gone in the same task as the refusal, with nothing else redrawing the list.
      expect(await page.locator('#message-list .question, #message-list .confirm-delete').count()).toBe(0);
      expect(await focusMatches(page, item)).toBe(true);
      expect(await page.textContent(`${item} .text`)).toBe('keep me');
      // The message's own tools are back: Delete on it asks again.
      await page.keyboard.press('Delete');
      expect(await focusMatches(page, `${item} .cancel-delete`)).toBe(true);
      await page.keyboard.press('Enter');
      expect(await page.locator('#message-list .confirm-delete').count()).toBe(0);
      expect(await focusMatches(page, item)).toBe(true);

      await comeBack(proxy, page);
      const stored = await server.backend.rooms.messagesBefore('general', 100, 100);
      expect(stored.map((m) => [m.text, m.deleted ?? false]).reverse()).toEqual([
        ['keep me', false],
        ['last', false],
      ]);
      await alice.context.close();
    } finally {
      await proxy.close();
    }
  });

  it('says a Sign out that could not reach the server, and stays signed in with its queue until one does', async () => {
    // Regression: offline, Sign out threw (an uncaught "Failed to fetch") and did nothing that the
    // user could see; the queued message then went out once back, from a page they had left.
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const alice = await signIn(chrome.browser, proxied, 'alice');
      const page = alice.page;
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await goOffline(proxy, page);
      await sendMessage(page, 'queued');
      await page.locator('#message-list li.pending').waitFor();
      await page.click('#logout');
      await page.waitForFunction(
        () =>
          document.querySelector('#composer-error')?.textContent ===
          'Offline — you are still signed in: sign out again once the chat is back online.',
      );
      expect(await page.isVisible('#chat-view')).toBe(true);
      expect(await page.locator('#message-list li.pending').count()).toBe(1);
      expect(errors).toEqual([]);
      // Back: the queue goes (the user is still signed in, as said), and the offline notice;
      // then Sign out works.
      await comeBack(proxy, page);
      expect(await page.textContent('#composer-error')).toBe('');
      await page.waitForSelector('#message-list li.pending', { state: 'detached' });
      await page.click('#logout');
      await page.waitForSelector('#login-view:not([hidden])');
      const stored = await server.backend.rooms.messagesBefore('general', 100, 100);
      expect(stored.map((m) => m.text)).toEqual(['queued']);
      await alice.context.close();
    } finally {
      await proxy.close();
    }
  });

  it('says a join, a new room and a direct message asked offline, and keeps the name typed', async () => {
    // Regression: offline, the request went nowhere and the field was emptied, without a word.
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const alice = await signIn(chrome.browser, proxied, 'alice');
      const page = alice.page;
      await goOffline(proxy, page);

      await page.fill('#room-input', 'later');
      await page.press('#room-input', 'Enter');
      expect(await page.textContent('#composer-error')).toBe(
        'Offline — you did not join later: try again once the chat is back online.',
      );
      expect(await page.inputValue('#room-input')).toBe('later');
      await page.fill('#dm-input', 'bob');
      await page.press('#dm-input', 'Enter');
      expect(await page.textContent('#composer-error')).toBe(
        'Offline — no conversation with bob was opened: try again once the chat is back online.',
      );
      expect(await page.inputValue('#dm-input')).toBe('bob');
      // A room already joined opens without the server.
      await page.fill('#room-input', 'general');
      await page.press('#room-input', 'Enter');
      expect(await page.textContent('#room-title')).toBe('#general');

      await comeBack(proxy, page);
      expect(await page.textContent('#composer-error')).toBe('');
      await page.fill('#room-input', 'later');
      await page.press('#room-input', 'Enter');
      await page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#later');
      expect(await page.inputValue('#room-input')).toBe('');
      await alice.context.close();
    } finally {
      await proxy.close();
    }
  });

  it('asks again by itself, once back, what it could not ask offline: a search, an upload', async () => {
    // Regression: "Offline — search when the chat is connected again" and an upload's "check the
    // connection" stayed once back online, until the user searched again or pressed Retry.
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const alice = await signIn(chrome.browser, proxied, 'alice');
      const page = alice.page;
      await sendMessage(page, 'a needle here');
      await seqOf(page, 'a needle here');
      await goOffline(proxy, page);

      await page.fill('#search-input', 'needle');
      await page.press('#search-input', 'Enter');
      const status = page.locator('#search-results .search-status');
      expect(await status.textContent()).toBe('Offline — searching once the chat is connected again.');
      await give(page, 'paste', [
        { name: 'note.txt', type: 'text/plain', base64: Buffer.from('hello').toString('base64') },
      ]);
      const upload = page.locator('#attachment-tray .upload');
      await page.locator('#attachment-tray .upload.failed').waitFor();
      expect(await upload.locator('.upload-status').textContent()).toBe(
        'offline — sent again once the chat is back online',
      );
      expect(await upload.locator('.upload-retry').isVisible()).toBe(true);

      await comeBack(proxy, page);
      await page.locator('#search-results .search-hit').waitFor();
      expect(await status.textContent()).toBe('1 message with “needle”');
      await page.locator('#attachment-tray .upload.done').waitFor();
      expect(await upload.locator('.upload-status').textContent()).toBe('ready');
      await page.press('#composer-input', 'Enter');
      await page.waitForSelector('#message-list li.message:not(.pending) .attachments');
      const stored = await server.backend.rooms.messagesBefore('general', 100, 100);
      expect(stored.map((m) => m.attachments?.map((a) => a.name))).toEqual([['note.txt'], undefined]);
      await alice.context.close();
    } finally {
      await proxy.close();
    }
  });
});
