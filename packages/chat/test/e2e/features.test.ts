/**
 * Reactions, replies and mentions of issue 16 in a real browser with two users: reactions seen
 * live and after a reconnect in the middle of a burst, exactly as the other side has them; a reply
 * whose original is edited before it is sent and deleted after; `@` autocomplete, the mention
 * badge and the desktop notification while the tab is hidden.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startTestServer, TestClient } from '../helpers.js';
import {
  clickTool,
  deleteMessage,
  messageTexts,
  refuseHistory,
  sendMessage,
  sendMessages,
  seqOf,
  signIn,
  TcpProxy,
  useBrowser,
  waitForMessages,
} from './browser.js';

const chrome = useBrowser();

const fast = { limits: { messageRate: { burst: 100, perSecond: 100 } } };

async function waitForReactions(page: Page, seq: number, expected: string[]): Promise<void> {
  await page.waitForFunction(
    ({ s, want }) =>
      JSON.stringify(
        [...document.querySelectorAll(`#message-list li[data-seq="${s}"] .reaction`)].map(
          (c) =>
            `${c.querySelector('.emoji')?.textContent} ${c.querySelector('.count')?.textContent}${c.getAttribute('aria-pressed') === 'true' ? ' mine' : ''}`,
        ),
      ) === JSON.stringify(want),
    { s: seq, want: expected },
  );
}

async function pick(page: Page, seq: number, emoji: string): Promise<void> {
  const item = page.locator(`#message-list li[data-seq="${seq}"]`);
  await clickTool(item, '.react');
  await page.waitForSelector('#reaction-picker:not([hidden])');
  const common = page.locator(`#reaction-picker .pick:text-is("${emoji}")`);
  if ((await common.count()) > 0) await common.click();
  else {
    await page.fill('#reaction-input', emoji);
    await page.press('#reaction-input', 'Enter');
  }
  await page.waitForSelector('#reaction-picker', { state: 'hidden' });
}

describe('reactions', () => {
  it('are picked or typed, counted with who on hover, and toggled by a click, live on both sides', async () => {
    const server = await startTestServer(fast);
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await sendMessage(alice.page, 'Lunch?');
    const seq = await seqOf(bob.page, 'Lunch?');
    await pick(bob.page, seq, '👍');
    await pick(bob.page, seq, '🦀'); // typed: not among the common ones
    await waitForReactions(alice.page, seq, ['👍 1', '🦀 1']);
    expect(await alice.page.getAttribute(`li[data-seq="${seq}"] .reaction[data-emoji="👍"]`, 'title')).toBe(
      'bob reacted with 👍',
    );
    await alice.page.click(`li[data-seq="${seq}"] .reaction[data-emoji="👍"]`);
    await waitForReactions(bob.page, seq, ['👍 2 mine', '🦀 1 mine']);
    await waitForReactions(alice.page, seq, ['👍 2 mine', '🦀 1']);
    expect(await bob.page.getAttribute(`li[data-seq="${seq}"] .reaction[data-emoji="👍"]`, 'title')).toBe(
      'alice and you reacted with 👍',
    );
    await bob.page.click(`li[data-seq="${seq}"] .reaction[data-emoji="🦀"]`);
    await waitForReactions(alice.page, seq, ['👍 2 mine']);
    // A typed word is not an emoji: the picker says so and sends nothing.
    const item = bob.page.locator(`#message-list li[data-seq="${seq}"]`);
    await clickTool(item, '.react');
    await bob.page.fill('#reaction-input', 'ok');
    await bob.page.press('#reaction-input', 'Enter');
    expect(await bob.page.textContent('#reaction-error')).toBe('Type one emoji.');
    await bob.page.keyboard.press('Escape');
    await bob.page.waitForSelector('#reaction-picker', { state: 'hidden' });
    await alice.context.close();
    await bob.context.close();
  });

  it('a reconnect in the middle of a reaction burst ends with exactly the reactions the other side has', async () => {
    const server = await startTestServer(fast);
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const alice = await signIn(chrome.browser, proxied, 'alice');
      const bob = await signIn(chrome.browser, server.origin, 'bob');
      await sendMessage(bob.page, 'react to this');
      const seq = await seqOf(alice.page, 'react to this');
      const burst = ['👍', '❤️', '😂', '🎉', '😮', '😢', '👀', '✅'];
      for (const emoji of burst.slice(0, 3)) await pick(bob.page, seq, emoji);
      proxy.drop();
      await alice.page.waitForSelector('#status[data-state="offline"]');
      for (const emoji of burst.slice(3)) await pick(bob.page, seq, emoji);
      // Some taken back while alice is away.
      await bob.page.click(`li[data-seq="${seq}"] .reaction[data-emoji="😂"]`);
      await bob.page.click(`li[data-seq="${seq}"] .reaction[data-emoji="👀"]`);
      // In code point order, as the server sends them.
      const expected = ['✅ 1', '❤️ 1', '🎉 1', '👍 1', '😢 1', '😮 1'];
      await waitForReactions(
        bob.page,
        seq,
        expected.map((r) => `${r} mine`),
      );
      proxy.restore();
      await alice.page.waitForSelector('#status[data-state="online"]', { timeout: 30_000 });
      await waitForReactions(alice.page, seq, expected);
      // More after the reconnect are applied once each on top.
      await alice.page.click(`li[data-seq="${seq}"] .reaction[data-emoji="🎉"]`);
      await pick(bob.page, seq, '👀');
      const after = ['✅ 1', '❤️ 1', '🎉 2', '👀 1', '👍 1', '😢 1', '😮 1'];
      await waitForReactions(
        alice.page,
        seq,
        after.map((r) => (r === '🎉 2' ? `${r} mine` : r)),
      );
      await waitForReactions(
        bob.page,
        seq,
        after.map((r) => `${r} mine`),
      );
      // And a fresh page (history) agrees.
      await alice.page.reload();
      await alice.page.waitForSelector('#status[data-state="online"]');
      await waitForReactions(
        alice.page,
        seq,
        after.map((r) => (r === '🎉 2' ? `${r} mine` : r)),
      );
      await alice.context.close();
      await bob.context.close();
    } finally {
      await proxy.close();
    }
  });
});

describe('replies', () => {
  it('quote the original as it is when sent (edited meanwhile), follow its edits, scroll to it, and say when it was deleted', async () => {
    const server = await startTestServer(fast);
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await sendMessage(alice.page, 'Meet at 12?');
    await sendMessages(
      alice.page,
      Array.from({ length: 30 }, (_, i) => `filler ${i + 1}`),
    );
    const original = await seqOf(bob.page, 'Meet at 12?');
    await waitForMessages(bob.page, 31);
    // alice's own page too: until her 31 are delivered there, each arrival redraws her list and
    // can detach the item the test is about to scroll to (seen under load).
    await waitForMessages(alice.page, 31);
    // bob starts a reply; alice edits the original before he sends it.
    const item = bob.page.locator(`#message-list li[data-seq="${original}"]`);
    await item.scrollIntoViewIfNeeded();
    await clickTool(item, '.reply');
    expect(await bob.page.textContent('#reply-to')).toBe('alice: Meet at 12?');
    const aliceItem = alice.page.locator(`#message-list li[data-seq="${original}"]`);
    await aliceItem.scrollIntoViewIfNeeded();
    await clickTool(aliceItem, '.edit');
    await alice.page.fill('#composer-input', 'Meet at 1?');
    await alice.page.keyboard.press('Enter');
    await bob.page.waitForSelector(`li[data-seq="${original}"] .edited`);
    await bob.page.fill('#composer-input', 'Works for me');
    await bob.page.keyboard.press('Enter');
    const reply = await seqOf(alice.page, 'Works for me');
    const quote = (page: Page) => page.textContent(`li[data-seq="${reply}"] .reply-quote`);
    expect(await quote(alice.page)).toBe('↪ aliceMeet at 1?');
    await bob.page.waitForSelector(`li[data-seq="${reply}"] .reply-quote`);
    expect(await quote(bob.page)).toBe('↪ aliceMeet at 1?');
    expect(await bob.page.isHidden('#reply-banner')).toBe(true);

    // Edited again after the reply: the quote follows.
    await aliceItem.scrollIntoViewIfNeeded();
    await clickTool(aliceItem, '.edit');
    await alice.page.fill('#composer-input', 'Meet at *2*?');
    await alice.page.keyboard.press('Enter');
    await bob.page.waitForFunction(
      (s) => document.querySelector(`li[data-seq="${s}"] .reply-quote`)?.textContent === '↪ aliceMeet at 2?',
      reply,
    );
    // A click on the quote scrolls to the original and focuses it.
    await bob.page.click(`li[data-seq="${reply}"] .reply-quote`);
    await bob.page.waitForFunction(
      (s) => (document.activeElement as HTMLElement | null)?.dataset.seq === String(s),
      original,
    );
    const visible = await bob.page.$eval(`li[data-seq="${original}"]`, (li) => {
      const box = (document.querySelector('#messages') as HTMLElement).getBoundingClientRect();
      const r = li.getBoundingClientRect();
      return r.top >= box.top && r.bottom <= box.bottom;
    });
    expect(visible).toBe(true);

    // Deleted: both pages, and a fresh one, say so (and never show the old text).
    await deleteMessage(alice.page, original);
    for (const page of [alice.page, bob.page]) {
      await page.waitForFunction(
        (s) =>
          document.querySelector(`li[data-seq="${s}"] .reply-quote`)?.textContent ===
          '↪ aliceOriginal message deleted',
        reply,
      );
    }
    await bob.page.reload();
    await bob.page.waitForSelector(`li[data-seq="${reply}"] .reply-quote.deleted`);
    expect(await quote(bob.page)).toBe('↪ aliceOriginal message deleted');
    await alice.context.close();
    await bob.context.close();
  });

  it('a quote of a message not loaded yet loads older pages until it is shown', async () => {
    const server = await startTestServer(fast);
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    await sendMessage(alice.page, 'the very first');
    const first = await seqOf(alice.page, 'the very first');
    await sendMessages(
      alice.page,
      Array.from({ length: 60 }, (_, i) => `more ${i + 1}`),
    );
    await waitForMessages(alice.page, 61);
    const item = alice.page.locator(`#message-list li[data-seq="${first}"]`);
    await item.scrollIntoViewIfNeeded();
    await clickTool(item, '.reply');
    await sendMessage(alice.page, 'answer to the first');
    await waitForMessages(alice.page, 62);
    await alice.page.reload();
    await alice.page.waitForSelector('#status[data-state="online"]');
    await waitForMessages(alice.page, 50);
    const reply = await seqOf(alice.page, 'answer to the first');
    expect(await alice.page.locator(`li[data-seq="${first}"]`).count()).toBe(0);
    await alice.page.locator(`li[data-seq="${reply}"] .reply-quote`).click();
    await alice.page.waitForFunction(
      (s) => (document.activeElement as HTMLElement | null)?.dataset.seq === String(s),
      first,
    );
    await alice.context.close();
  });

  it("ends a quote's reveal whose older page is refused, said; the quote clicked again shows the original", async () => {
    // Regression: the reveal waited for good without a word (storage away), and the next older
    // page, loaded by scrolling up later, would still take the view to the original.
    const server = await startTestServer(fast);
    const carol = await TestClient.user(server.origin, 'carol');
    const send = async (id: string, text: string, replyTo?: number) => {
      const ack = await carol.request('ack', { type: 'send', id, room: 'general', text, replyTo });
      if (ack.type !== 'ack') throw new Error(`send refused: ${JSON.stringify(ack)}`);
    };
    // The original is one older page back: the reply is the 62nd message, the latest page 50.
    await send('original', 'the very first');
    for (let i = 0; i < 60; i++) await send(`more${i}`, `more ${i + 1}`);
    await send('reply', 'answer to the first', 1);
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    const refuse = await refuseHistory(bob.page);
    await bob.page.reload();
    await bob.page.waitForSelector('#status[data-state="online"]');
    await waitForMessages(bob.page, 50);
    refuse.arm('older', 'unavailable');
    const quote = bob.page.locator('li[data-seq="62"] .reply-quote');
    await quote.click();
    await bob.page.waitForFunction(
      () =>
        document.querySelector('#composer-error')?.textContent ===
        'The original message was not loaded: chat storage is unavailable; retry when service resumes',
    );
    expect(await bob.page.locator('li[data-seq="1"]').count()).toBe(0);
    // Clicked again (not refused this time): the original is shown and focused.
    await quote.click();
    await bob.page.waitForFunction(() => (document.activeElement as HTMLElement | null)?.dataset.seq === '1');
    await bob.context.close();
  });
});

describe('mentions', () => {
  it('autocomplete members, are highlighted, count in their own badge, and notify while the tab is hidden (a direct message too)', async () => {
    const server = await startTestServer(fast);
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    await alice.context.grantPermissions(['notifications'], { origin: server.origin });
    // Record the notifications the page makes (the headless browser shows none).
    await alice.page.evaluate(() => {
      const shown: string[] = [];
      (window as unknown as { shown: string[] }).shown = shown;
      const Real = window.Notification;
      class Recorded extends Real {
        constructor(title: string, options?: NotificationOptions) {
          super(title, options);
          shown.push(`${title} | ${options?.body}`);
        }
      }
      window.Notification = Recorded as typeof Notification;
    });
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    // Asked only on the user's action: the bell.
    expect(await alice.page.getAttribute('#notify-toggle', 'aria-pressed')).toBe('false');
    await alice.page.click('#notify-toggle');
    await alice.page.waitForSelector('#notify-toggle[aria-pressed="true"]');
    await alice.page.fill('#room-input', 'random');
    await alice.page.press('#room-input', 'Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#random');

    await bob.page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLElement>('#online-list li')].some(
        (li) => li.dataset.user === 'alice' && !li.classList.contains('offline'),
      ),
    );
    await bob.page.type('#composer-input', 'lunch, @al');
    await bob.page.waitForSelector('#mention-list:not([hidden])');
    expect(
      await bob.page.$$eval('#mention-list [role="option"]', (l) => l.map((x) => x.textContent)),
    ).toEqual(['@alice']);
    await bob.page.keyboard.press('Enter'); // takes the name, does not send
    expect(await bob.page.inputValue('#composer-input')).toBe('lunch, @alice ');
    await bob.page.keyboard.type('?');
    await bob.page.keyboard.press('Enter');
    await sendMessage(bob.page, 'and no mention here');
    await alice.page.waitForFunction(
      () =>
        document.querySelector('#room-list button[data-room="general"] .badge.unread')?.textContent === '2',
    );
    expect(await alice.page.textContent('#room-list button[data-room="general"] .badge.mentions')).toBe('@1');

    // While the tab is hidden, a mention raises a notification.
    await alice.page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await sendMessage(bob.page, '@alice *are* you there?');
    await alice.page.waitForFunction(() => (window as unknown as { shown: string[] }).shown.length === 1);
    expect(await alice.page.evaluate(() => (window as unknown as { shown: string[] }).shown)).toEqual([
      'bob mentioned you in #general | @alice are you there?',
    ]);
    // A direct message is written to her alone: it notifies too, without a mention, saying who wrote.
    await bob.page.fill('#dm-input', 'alice');
    await bob.page.press('#dm-input', 'Enter');
    await bob.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '@alice');
    await sendMessage(bob.page, 'lunch at noon?');
    await alice.page.waitForFunction(() => (window as unknown as { shown: string[] }).shown.length === 2);
    expect(await alice.page.evaluate(() => (window as unknown as { shown: string[] }).shown[1])).toBe(
      'bob sent you a message | lunch at noon?',
    );
    await alice.page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await alice.page.click('#room-list button[data-room="general"]');
    await waitForMessages(alice.page, 3);
    expect(await alice.page.$$eval('#message-list .mention.me', (m) => m.map((x) => x.textContent))).toEqual([
      '@alice',
      '@alice',
    ]);
    expect(await alice.page.locator('#message-list li.mentions-me').count()).toBe(2);
    await alice.context.close();
    await bob.context.close();
  });

  it('send with one Enter when the name is typed in full (any case); Tab still puts it in', async () => {
    const server = await startTestServer(fast);
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await bob.page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLElement>('#online-list li')].some(
        (li) => li.dataset.user === 'alice' && !li.classList.contains('offline'),
      ),
    );
    const listed = () => bob.page.$$eval('#mention-list [role="option"]', (l) => l.map((x) => x.textContent));

    // Typed in full, the list still open on it: one Enter sends the text as typed.
    await bob.page.type('#composer-input', '@alice');
    await bob.page.waitForSelector('#mention-list:not([hidden])');
    expect(await listed()).toEqual(['@alice']);
    await bob.page.keyboard.press('Enter');
    expect(await bob.page.inputValue('#composer-input')).toBe('');
    expect(await bob.page.isHidden('#mention-list')).toBe(true);
    await waitForMessages(bob.page, 1);

    // In another case too (the server finds the name in any case).
    await bob.page.type('#composer-input', 'hi @ALICE');
    await bob.page.waitForSelector('#mention-list:not([hidden])');
    await bob.page.keyboard.press('Enter');
    expect(await bob.page.inputValue('#composer-input')).toBe('');
    await waitForMessages(bob.page, 2);

    // Tab puts the name in (its spelling, and a space) without sending.
    await bob.page.type('#composer-input', '@Alice');
    await bob.page.waitForSelector('#mention-list:not([hidden])');
    await bob.page.keyboard.press('Tab');
    expect(await bob.page.inputValue('#composer-input')).toBe('@alice ');
    expect(await bob.page.isHidden('#mention-list')).toBe(true);
    // A part of the name: Enter completes it, still without sending.
    await bob.page.keyboard.type('and @al');
    await bob.page.waitForSelector('#mention-list:not([hidden])');
    await bob.page.keyboard.press('Enter');
    expect(await bob.page.inputValue('#composer-input')).toBe('@alice and @alice ');
    await bob.page.keyboard.press('Enter');
    await waitForMessages(bob.page, 3);
    expect(await messageTexts(bob.page)).toEqual(['@alice', 'hi @ALICE', '@alice and @alice']);
    await waitForMessages(alice.page, 3);
    expect(await alice.page.locator('#message-list li.mentions-me').count()).toBe(3);
    await alice.context.close();
    await bob.context.close();
  });
});
