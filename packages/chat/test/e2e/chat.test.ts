/**
 * The chat page in a real browser: live chat between two users, history across a reload,
 * a dropped connection catching up exactly once, user text never interpreted as HTML.
 */

import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers.js';
import {
  clickTool,
  deleteMessage,
  focusMatches,
  messageTexts,
  sendMessage,
  sendMessages,
  seqOf,
  signIn,
  TcpProxy,
  useBrowser,
} from './browser.js';

const chrome = useBrowser();

/**
 * Puts `text` in the page's outbox (kept in sessionStorage across a reload) under the id `reused`
 * and reloads: the page sends it on connecting. A second text under the same id is refused as
 * `id_reused`, as from a client that reuses its ids.
 */
async function resumeWithReusedId(page: Page, text: string): Promise<void> {
  await page.evaluate((t) => {
    sessionStorage.setItem(
      'riptide-chat-outbox',
      JSON.stringify([{ id: 'reused', room: 'general', text: t }]),
    );
  }, text);
  await page.reload();
  await page.waitForSelector('#status[data-state="online"]');
}

describe('chat page', () => {
  it('two users in two browser contexts chat in real time', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await sendMessage(alice.page, 'Hi Bob! The docs are at https://example.com/docs.');
    await bob.page.waitForSelector('#message-list li.message:not(.pending)');
    expect(await messageTexts(bob.page)).toEqual(['Hi Bob! The docs are at https://example.com/docs.']);
    const link = bob.page.locator('#message-list a');
    expect(await link.getAttribute('href')).toBe('https://example.com/docs');
    expect(await link.getAttribute('rel')).toBe('noopener noreferrer');

    // typing line and online list
    await bob.page.fill('#composer-input', 'Hel');
    await bob.page.locator('#composer-input').press('l');
    await alice.page.waitForFunction(
      () => document.querySelector('#typing')?.textContent === 'bob is typing…',
    );
    expect(
      await alice.page.$$eval('#online-list li', (l) =>
        // The name, and whether it is shown offline (the row also holds Block: render.ts).
        l.map(
          (n) => `${(n as HTMLElement).dataset.user}${n.classList.contains('offline') ? ' (offline)' : ''}`,
        ),
      ),
    ).toEqual(['alice', 'bob']);
    await bob.page.keyboard.press('Control+A');
    await sendMessage(bob.page, 'Hello Alice — got it.');
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message').length === 2,
    );
    expect(await messageTexts(alice.page)).toEqual([
      'Hi Bob! The docs are at https://example.com/docs.',
      'Hello Alice — got it.',
    ]);

    // a second room with an unread badge, created with the keyboard only
    await alice.page.focus('#room-input');
    await alice.page.keyboard.type('random');
    await alice.page.keyboard.press('Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#random');
    await sendMessage(bob.page, 'Lunch at noon?');
    await alice.page.waitForSelector('#room-list button[data-room="general"] .badge');
    expect(await alice.page.textContent('#room-list button[data-room="general"] .badge')).toBe('1');
    await alice.page.click('#room-list button[data-room="general"]');
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message').length === 3,
    );

    // edit and delete own messages; the other side sees both
    await sendMessage(alice.page, 'Sure, see you tehre');
    await bob.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message:not(.pending)').length === 4,
    );
    const typo = await seqOf(alice.page, 'Sure, see you tehre');
    await clickTool(alice.page.locator(`#message-list li.message[data-seq="${typo}"]`), '.edit');
    await alice.page.fill('#composer-input', 'Sure, see you there');
    await alice.page.keyboard.press('Enter');
    await bob.page.waitForSelector('#message-list li.message .edited');
    expect(await messageTexts(bob.page)).toContain('Sure, see you there');
    await sendMessage(alice.page, 'oops, wrong room');
    await bob.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message:not(.pending)').length === 5,
    );
    await deleteMessage(alice.page, await seqOf(alice.page, 'oops, wrong room'));
    await bob.page.waitForSelector('#message-list li.deleted');
    expect(await bob.page.textContent('#message-list li.deleted .text')).toBe('message deleted');

    await alice.context.close();
    await bob.context.close();
  });

  it('keeps history across a reload and pages back through older messages', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 200, perSecond: 200 } } });
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    await sendMessages(
      alice.page,
      Array.from({ length: 60 }, (_, i) => `line ${i + 1}`),
    );
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message:not(.pending)').length === 60,
    );
    await alice.page.reload();
    await alice.page.waitForSelector('#status[data-state="online"]');
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message').length === 50,
    );
    expect((await messageTexts(alice.page)).at(-1)).toBe('line 60');
    // Pressed with the keyboard: scrolling to the button would load the older page by itself
    // (the list loads older messages when scrolled to its top) and race the click.
    await alice.page.focus('#load-older');
    await alice.page.keyboard.press('Enter');
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message').length === 60,
    );
    expect((await messageTexts(alice.page))[0]).toBe('line 1');
    expect(await alice.page.isHidden('#load-older')).toBe(true);
    await alice.context.close();
  });

  it('a dropped connection gets the missed messages exactly once when it comes back', async () => {
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const alice = await signIn(chrome.browser, proxied, 'alice');
      const bob = await signIn(chrome.browser, server.origin, 'bob');
      await sendMessage(bob.page, 'before the cut');
      await alice.page.waitForFunction(
        () => document.querySelectorAll('#message-list li.message').length === 1,
      );

      proxy.drop();
      await alice.page.waitForSelector('#status[data-state="offline"]');
      for (const text of ['missed one', 'missed two', 'missed three']) await sendMessage(bob.page, text);
      await sendMessage(alice.page, 'written while offline');
      await bob.page.waitForFunction(
        () => document.querySelectorAll('#message-list li.message').length === 4,
      );
      expect(await alice.page.locator('#message-list li.pending').count()).toBe(1);

      proxy.restore();
      await alice.page.waitForSelector('#status[data-state="online"]', { timeout: 30_000 });
      await alice.page.waitForFunction(
        () => document.querySelectorAll('#message-list li.message:not(.pending)').length === 5,
      );
      await bob.page.waitForFunction(
        () => document.querySelectorAll('#message-list li.message').length === 5,
      );
      // Barrier: one more message from bob, delivered after everything the server sent before it,
      // so a duplicate of any earlier one would be on both pages by the time it shows.
      await sendMessage(bob.page, 'barrier');
      for (const page of [alice.page, bob.page]) {
        await page.waitForFunction(() =>
          [...document.querySelectorAll('#message-list li.message:not(.pending) .text')].some(
            (n) => n.textContent === 'barrier',
          ),
        );
      }
      const expected = [
        'before the cut',
        'missed one',
        'missed two',
        'missed three',
        'written while offline',
        'barrier',
      ];
      expect(await messageTexts(alice.page)).toEqual(expected);
      expect(await messageTexts(bob.page)).toEqual(expected);
      await alice.context.close();
      await bob.context.close();
    } finally {
      await proxy.close();
    }
  });

  it('shows a message refused as id_reused as not sent, with the reason, until sent again as new', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    // One message under a chosen id, then another text under the same id, as a client that reuses
    // its ids would (resumeWithReusedId).
    const resume = (text: string) => resumeWithReusedId(alice.page, text);
    await resume('the first message');
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message:not(.pending)').length === 1,
    );
    await resume('another text');
    const failed = alice.page.locator('#message-list li.pending.failed');
    await failed.waitFor();
    expect(await failed.locator('.state').textContent()).toBe('not sent');
    expect(await failed.locator('.text').textContent()).toBe('another text');
    expect(await failed.locator('.failed-note .reason').textContent()).toMatch(
      /^Not sent: another of your messages was already sent under its id/,
    );
    expect(await messageTexts(alice.page)).toEqual(['the first message']);
    // It stays failed across a reload (never sent again under that id) ...
    await alice.page.reload();
    await alice.page.waitForSelector('#status[data-state="online"]');
    await failed.waitFor();
    // ... until "Send again" sends it as a new message (a new id).
    await failed.locator('button.resend').click();
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message:not(.pending)').length === 2,
    );
    expect(await messageTexts(alice.page)).toEqual(['the first message', 'another text']);
    expect(await alice.page.locator('#message-list li.pending').count()).toBe(0);
    // Discard drops one.
    await resume('a third text');
    await failed.waitFor();
    await failed.locator('button.discard').click();
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.pending').length === 0,
    );
    expect(await alice.page.evaluate(() => sessionStorage.getItem('riptide-chat-outbox'))).toBe('[]');
    expect(await messageTexts(alice.page)).toEqual(['the first message', 'another text']);
    await alice.context.close();
  });

  it("keeps the focus on a not-sent message's button when the list is redrawn", async () => {
    // Regression: the focus was put back after a redraw by the message's seq, which an unsent one
    // has not: a message arriving took it off the unsent one's Send again, Edit or Discard, to the
    // page's body.
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    // Two texts under one id (put in the outbox kept across a reload): the second is refused.
    for (const text of ['stored', 'refused']) await resumeWithReusedId(alice.page, text);
    await alice.page.locator('#message-list li.pending.failed').waitFor();
    await alice.page.focus('#message-list li.pending.failed button.discard');
    await sendMessage(bob.page, 'a redraw');
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message:not(.pending)').length === 2,
    );
    expect(await focusMatches(alice.page, '#message-list li.pending.failed button.discard')).toBe(true);
    await alice.context.close();
    await bob.context.close();
  });

  it('keeps the focus on a not-sent message sent again, from its Send again to the message stored', async () => {
    // Regression: Send again took the button away and, after id_reused, the message's outbox id
    // with it; once stored, the message is drawn anew by its seq: each time the focus fell to the
    // page's body. It stays on the message: sending, then sent.
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    for (const text of ['stored', 'refused']) await resumeWithReusedId(alice.page, text);
    await alice.page.locator('#message-list li.pending.failed').waitFor();
    const stored = await seqOf(alice.page, 'stored');
    // From an unsent message, ↑ goes to the last message sent (it went to the first one).
    await sendMessage(alice.page, 'a later one');
    const later = await seqOf(alice.page, 'a later one');
    await alice.page.focus('#message-list li.pending.failed button.resend');
    await alice.page.keyboard.press('ArrowUp');
    expect(await focusMatches(alice.page, `#message-list li.message[data-seq="${later}"]`)).toBe(true);
    await alice.page.focus('#message-list li.pending.failed button.resend');
    await alice.page.keyboard.press('Enter');
    await alice.page.waitForFunction(
      () =>
        document.querySelectorAll('#message-list li.message:not(.pending)').length === 3 &&
        document.querySelector('#message-list li.pending') === null,
    );
    const seq = await seqOf(alice.page, 'refused');
    expect(await focusMatches(alice.page, `#message-list li.message[data-seq="${seq}"]`)).toBe(true);
    // It is the conversation's current message: ↑ goes on from it, to the one before.
    await alice.page.keyboard.press('ArrowUp');
    expect(await focusMatches(alice.page, `#message-list li.message[data-seq="${later}"]`)).toBe(true);
    expect(later).toBeGreaterThan(stored);
    await alice.context.close();
  });

  it('puts the focus, after Discard on a not-sent message, on the next one, else the one before, else the composer', async () => {
    // Regression: Discard took its message away, and the focus on its button fell to the page's
    // body: a keyboard or screen reader user had to find their place again from the top.
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    // Three messages the server refuses for good (too long), from the outbox a reload finds.
    await alice.page.evaluate((text) => {
      sessionStorage.setItem(
        'riptide-chat-outbox',
        JSON.stringify(['a', 'b', 'c'].map((id) => ({ id, room: 'general', text: `${id}${text}` }))),
      );
    }, 'x'.repeat(4096));
    await alice.page.reload();
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.pending.failed').length === 3,
    );
    const discard = async (id: string) => {
      await alice.page.focus(`#message-list li[data-pending="${id}"] button.discard`);
      await alice.page.keyboard.press('Enter');
      await alice.page.waitForSelector(`#message-list li[data-pending="${id}"]`, { state: 'detached' });
    };
    await discard('b');
    expect(await focusMatches(alice.page, '#message-list li.message[data-pending="c"]')).toBe(true);
    await discard('c');
    expect(await focusMatches(alice.page, '#message-list li.message[data-pending="a"]')).toBe(true);
    await discard('a');
    expect(await focusMatches(alice.page, '#composer-input')).toBe(true);
    await alice.context.close();
  });

  it('keeps messages the server refuses for their content in place, not sent, with the reason, Edit and Discard', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    await sendMessage(alice.page, 'the original');
    await sendMessage(alice.page, 'soon deleted');
    const original = await seqOf(alice.page, 'the original');
    const gone = await seqOf(alice.page, 'soon deleted');
    await deleteMessage(alice.page, gone);
    await alice.page.waitForSelector('#message-list li.deleted');
    // The page checks the length of what is typed, so these come from its outbox as a reload finds
    // it (queued earlier, as by a page that knew another limit): a reply that is too long, a reply
    // to the message deleted since, and one that goes through after them.
    const long = 'x'.repeat(4097);
    await alice.page.evaluate(
      ([text, to, deleted]) => {
        sessionStorage.setItem(
          'riptide-chat-outbox',
          JSON.stringify([
            { id: 'long1', room: 'general', text, replyTo: to },
            { id: 'orphan', room: 'general', text: 'an answer to nothing', replyTo: deleted },
            { id: 'fine', room: 'general', text: 'this one goes' },
          ]),
        );
      },
      [long, original, gone] as const,
    );
    await alice.page.reload();
    await alice.page.waitForSelector('#status[data-state="online"]');
    const failed = alice.page.locator('#message-list li.pending.failed');
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.pending.failed').length === 2,
    );
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.pending').length === 2,
    );
    // The queue went on: the third was stored.
    expect(await messageTexts(alice.page)).toEqual(['the original', 'message deleted', 'this one goes']);
    const tooLong = failed.filter({ hasText: long });
    const orphan = failed.filter({ hasText: 'an answer to nothing' });
    expect(await tooLong.locator('.state').textContent()).toBe('not sent');
    expect(await tooLong.locator('.text').textContent()).toBe(long);
    expect(await tooLong.locator('.failed-note .reason').textContent()).toBe(
      'Not sent: it is too long for the server (text is longer than 4096 bytes). Edit it to shorten it.',
    );
    expect(await orphan.locator('.failed-note .reason').textContent()).toMatch(
      /^Not sent: the message it replies to was deleted/,
    );
    // Screen readers hear it (the list is redrawn, so it is not a live region): the last one said.
    expect(await alice.page.textContent('#announce')).toMatch(
      /^Your message was not sent: the message it replies to was deleted/,
    );
    // Sending either unchanged would be refused again: no "Send again".
    for (const item of [tooLong, orphan])
      expect(await item.locator('.failed-note button').allTextContents()).toEqual(['Edit', 'Discard']);
    // A reload shows them the same (nothing sent again by itself).
    await alice.page.reload();
    await alice.page.waitForSelector('#status[data-state="online"]');
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.pending.failed').length === 2,
    );
    expect(await messageTexts(alice.page)).toEqual(['the original', 'message deleted', 'this one goes']);
    // Edit: the text goes back to the composer, before what was typed there, with its reply
    // target (still there); the failed one goes.
    await alice.page.fill('#composer-input', 'draft');
    await tooLong.locator('button.edit-failed').click();
    expect(await alice.page.inputValue('#composer-input')).toBe(`${long}\ndraft`);
    expect(await alice.page.textContent('#reply-to')).toBe('alice: the original');
    expect(await alice.page.isVisible('#reply-banner')).toBe(true);
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.pending').length === 1,
    );
    // Shortened, it goes as a reply.
    await alice.page.fill('#composer-input', 'shorter');
    await alice.page.keyboard.press('Enter');
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.message:not(.pending)').length === 4,
    );
    const shorter = alice.page.locator(`#message-list li[data-seq="${await seqOf(alice.page, 'shorter')}"]`);
    expect(await shorter.locator('.reply-quote .reply-text').textContent()).toBe('the original');
    // Edit of the reply to the deleted message: its text back, without the reply.
    await orphan.locator('button.edit-failed').click();
    expect(await alice.page.inputValue('#composer-input')).toBe('an answer to nothing');
    expect(await alice.page.isHidden('#reply-banner')).toBe(true);
    await alice.page.waitForFunction(
      () => document.querySelectorAll('#message-list li.pending').length === 0,
    );
    expect(await alice.page.evaluate(() => sessionStorage.getItem('riptide-chat-outbox'))).toBe('[]');
    await alice.context.close();
  });

  it('ends an edit whose text is unchanged without sending it: the message is not marked edited', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await sendMessage(alice.page, 'as it was');
    await seqOf(alice.page, 'as it was');
    await alice.page.press('#composer-input', 'ArrowUp');
    await alice.page.waitForSelector('#edit-banner:not([hidden])');
    expect(await alice.page.inputValue('#composer-input')).toBe('as it was');
    await alice.page.press('#composer-input', 'Enter');
    await alice.page.waitForSelector('#edit-banner', { state: 'hidden' });
    expect(await alice.page.inputValue('#composer-input')).toBe('');
    // A message sent after it is the barrier: an edit sent would have reached bob before it.
    await sendMessage(alice.page, 'next');
    await seqOf(bob.page, 'next');
    await seqOf(alice.page, 'next');
    for (const page of [alice.page, bob.page]) {
      expect(await messageTexts(page)).toEqual(['as it was', 'next']);
      expect(await page.locator('#message-list .edited').count()).toBe(0);
    }
    await alice.context.close();
    await bob.context.close();
  });

  it('takes back "too long" with the edit it was said of when the edit is cancelled', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    await sendMessage(alice.page, 'short');
    await seqOf(alice.page, 'short');
    await alice.page.press('#composer-input', 'ArrowUp');
    await alice.page.waitForSelector('#edit-banner:not([hidden])');
    await alice.page.fill('#composer-input', 'x'.repeat(5000));
    await alice.page.press('#composer-input', 'Enter');
    await alice.page.waitForFunction(
      () =>
        document.querySelector('#composer-input-error')?.textContent ===
        'Message is too long (4096 bytes at most).',
    );
    await alice.page.press('#composer-input', 'Escape');
    await alice.page.waitForSelector('#edit-banner', { state: 'hidden' });
    expect(await alice.page.inputValue('#composer-input')).toBe('');
    expect(await alice.page.textContent('#composer-input-error')).toBe('');
    expect(await alice.page.getAttribute('#composer-input', 'aria-invalid')).toBeNull();
    // A new message too long is still said.
    await alice.page.fill('#composer-input', 'y'.repeat(5000));
    await alice.page.press('#composer-input', 'Enter');
    expect(await alice.page.textContent('#composer-input-error')).toBe(
      'Message is too long (4096 bytes at most).',
    );
    await alice.context.close();
  });

  it('shows markup in a message as text', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    const attack = '<img src=x onerror=alert(1)> <script>alert(2)</script> javascript:alert(3)';
    await sendMessage(alice.page, attack);
    await bob.page.waitForSelector('#message-list li.message:not(.pending)');
    expect(await messageTexts(bob.page)).toEqual([attack]);
    expect(await bob.page.locator('#message-list img, #message-list script, #message-list a').count()).toBe(
      0,
    );
    await alice.context.close();
    await bob.context.close();
  });

  it('is usable on a phone-sized screen', async () => {
    const server = await startTestServer();
    const phone = await signIn(chrome.browser, server.origin, 'pat', {
      viewport: { width: 375, height: 667 },
    });
    await sendMessage(phone.page, 'hello from a small screen');
    await phone.page.waitForSelector('#message-list li.message:not(.pending)');
    expect(await phone.page.isVisible('#composer-input')).toBe(true);
    // The room list is behind the menu.
    expect(await phone.page.isVisible('#room-list')).toBe(false);
    await phone.page.click('#menu-toggle');
    await phone.page.waitForFunction(
      () => getComputedStyle(document.querySelector('#rooms-panel') as Element).transform === 'none',
    );
    expect(await phone.page.isVisible('#room-list')).toBe(true);
    const overflow = await phone.page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.context.close();
  });

  it('creates one private room with "Private" checked, then joins a public room by name, not creating it private', async () => {
    // Regression: the box stayed checked after the private room was made, so the next name typed
    // (a public room to join) was asked for as a new private room and refused "room pub already exists".
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await bob.page.fill('#room-input', 'pub');
    await bob.page.press('#room-input', 'Enter');
    await bob.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#pub');
    await alice.page.fill('#room-input', 'secret');
    await alice.page.check('#room-private');
    await alice.page.press('#room-input', 'Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#secret');
    expect(await alice.page.isChecked('#room-private')).toBe(false);
    await alice.page.fill('#room-input', 'pub');
    await alice.page.press('#room-input', 'Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#pub');
    expect(await alice.page.textContent('#room-error')).toBe('');
    await alice.context.close();
    await bob.context.close();
  });

  it('deleting a room from the keyboard leaves the focus on the composer, not on the page body', async () => {
    // Regression: the confirmation's Delete, focused, was hidden with its question and the focus
    // fell to the body: a keyboard user had to start again from the top of the page.
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    await alice.page.fill('#room-input', 'doomed');
    await alice.page.press('#room-input', 'Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#doomed');
    await alice.page.focus('#delete-room');
    await alice.page.keyboard.press('Enter');
    expect(await focusMatches(alice.page, '#delete-room-no')).toBe(true);
    await alice.page.keyboard.press('Shift+Tab');
    expect(await focusMatches(alice.page, '#delete-room-yes')).toBe(true);
    await alice.page.keyboard.press('Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#general');
    expect(await focusMatches(alice.page, '#composer-input')).toBe(true);
    await alice.context.close();
  });

  it('Esc closes the "delete this room?" question and gives the focus back to Delete room', async () => {
    // Regression: Esc did nothing there, while it closes every other dialog and edit on the page.
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    await alice.page.fill('#room-input', 'kept');
    await alice.page.press('#room-input', 'Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#kept');
    await alice.page.focus('#delete-room');
    await alice.page.keyboard.press('Enter');
    expect(await focusMatches(alice.page, '#delete-room-no')).toBe(true);
    await alice.page.keyboard.press('Escape');
    expect(await alice.page.isHidden('#delete-room-confirm')).toBe(true);
    expect(await alice.page.isVisible('#delete-room')).toBe(true);
    expect(await focusMatches(alice.page, '#delete-room')).toBe(true);
    // From the question's other button too, and the room is still there.
    await alice.page.keyboard.press('Enter');
    await alice.page.keyboard.press('Shift+Tab');
    expect(await focusMatches(alice.page, '#delete-room-yes')).toBe(true);
    await alice.page.keyboard.press('Escape');
    expect(await alice.page.isHidden('#delete-room-confirm')).toBe(true);
    expect(await focusMatches(alice.page, '#delete-room')).toBe(true);
    expect(await alice.page.textContent('#room-title')).toBe('#kept');
    await alice.context.close();
  });
});
