/**
 * Accessibility of the chat page, checked by axe-core (axe.ts) in the running page: no violation
 * (serious, critical or lesser) in the sign-in view, in a room with messages (one's own and
 * others', a reply, reactions, mentions, an attachment, a message's tools shown, the reaction
 * picker, the mention list and the shortcut list open), with unread badges and the "New
 * messages" line, edited and deleted messages, offline with a message waiting, messages refused
 * for good (not sent, with the reason and their buttons), in the light and
 * the dark theme, and on a phone-sized screen with its drawers. No rule is disabled: what axe
 * finds is fixed in the page. Also: icon buttons' names, where a message's tools are drawn, and
 * what the live region says when a message arrives.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { png } from '../attachments/files.js';
import { register, startTestServer } from '../helpers.js';
import { axeViolations } from './axe.js';
import {
  deleteMessage,
  give,
  openRoom,
  sendMessage,
  seqOf,
  signIn,
  TcpProxy,
  useBrowser,
  waitForMessages,
} from './browser.js';

const chrome = useBrowser();

/** Each state checked is named, so a failure says where: `[state] rule (impact) target: summary`. */
async function audit(page: Page, state: string, found: string[]): Promise<void> {
  for (const line of await axeViolations(page)) found.push(`[${state}] ${line}`);
}

/** A drawer has slid in (its transition ended): what axe sees is what the user sees. */
function settled(page: Page, drawer: string): Promise<unknown> {
  return page.waitForFunction(
    (d) => getComputedStyle(document.querySelector(d) as Element).transform === 'none',
    drawer,
  );
}

/**
 * A conversation as the screenshots show one: bob writes, alice answers with a mention and an
 * image, bob replies to her and reacts; alice reacts too.
 */
async function converse(alice: Page, bob: Page): Promise<void> {
  await sendMessage(bob, 'Morning! Notes at https://example.com/notes, and `npm test` is green.');
  await waitForMessages(alice, 1);
  await give(alice, 'paste', [
    { name: 'chart.png', type: 'image/png', base64: png(80, 40, [30, 120, 220]).toString('base64') },
  ]);
  await alice.locator('#attachment-tray .upload.done').waitFor();
  await sendMessage(alice, '@bob here is the *chart*');
  await waitForMessages(bob, 2);
  const chart = await seqOf(bob, '@bob here is the chart');
  const item = bob.locator(`#message-list li[data-seq="${chart}"]`);
  await item.hover();
  await item.locator('.reply').click();
  await sendMessage(bob, '@alice thanks, looks right');
  await item.hover();
  await item.locator('.react').click();
  await bob.click('#reaction-picker .pick:text-is("🎉")');
  await alice.waitForSelector(`li[data-seq="${chart}"] .reaction[data-emoji="🎉"]`);
  await alice.click(`li[data-seq="${chart}"] .reaction[data-emoji="🎉"]`);
  await waitForMessages(alice, 3);
  await bob.waitForSelector(`li[data-seq="${chart}"] .reaction[data-emoji="🎉"] .count:text-is("2")`);
  await alice.locator('#message-list .attachment-image img').waitFor();
}

describe('accessibility (axe-core: no violation, serious, critical or lesser)', () => {
  it('the sign-in view, light and dark, also with an error shown', async () => {
    const server = await startTestServer();
    const found: string[] = [];
    for (const colorScheme of ['light', 'dark'] as const) {
      const context = await chrome.browser.newContext({ colorScheme });
      const page = await context.newPage();
      await page.goto(server.origin);
      await page.waitForSelector('#login-form', { state: 'visible' });
      await audit(page, `sign-in ${colorScheme}`, found);
      await page.fill('#login-name', 'nobody');
      await page.fill('#login-password', 'not the password');
      await page.click('#sign-in');
      await page.waitForFunction(() => document.querySelector('#login-error')?.textContent !== '');
      await audit(page, `sign-in error ${colorScheme}`, found);
      await context.close();
    }
    expect(found).toEqual([]);
  });

  it('a room with messages, a reply, reactions and an image, in the light and the dark theme', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice', { colorScheme: 'light' });
    const bob = await signIn(chrome.browser, server.origin, 'bob', { colorScheme: 'dark' });
    await converse(alice.page, bob.page);
    const found: string[] = [];
    for (const [page, theme] of [
      [alice.page, 'light'],
      [bob.page, 'dark'],
    ] as const) {
      expect(await page.getAttribute('html', 'data-theme')).toBe(theme);
      await audit(page, `room ${theme}`, found);
      // The @-mention list open under the composer.
      await page.fill('#composer-input', '@');
      await page.locator('#composer-input').press(theme === 'light' ? 'b' : 'a');
      await page.waitForSelector('#mention-list [role="option"]');
      await audit(page, `mention list ${theme}`, found);
      await page.keyboard.press('Escape');
      await page.waitForSelector('#mention-list', { state: 'hidden' });
      await page.fill('#composer-input', '');
      // A message's tools shown (hovered), then the reaction picker open from them.
      const own = page.locator('#message-list li.mine').last();
      await own.hover();
      await page.waitForFunction(
        (bar) => bar !== null && getComputedStyle(bar).opacity === '1',
        await own.locator('.actions').elementHandle(),
      );
      await audit(page, `tools ${theme}`, found);
      await own.locator('.react').click();
      await page.waitForSelector('#reaction-picker', { state: 'visible' });
      await audit(page, `picker ${theme}`, found);
      await page.keyboard.press('Escape');
      await page.waitForSelector('#reaction-picker', { state: 'hidden' });
      // The shortcut list (a modal dialog).
      await page.click('#shortcuts-button');
      await page.waitForSelector('#shortcuts[open]');
      await audit(page, `shortcuts ${theme}`, found);
      await page.keyboard.press('Escape');
      await page.waitForSelector('#shortcuts:not([open])', { state: 'attached' });
    }
    expect(found).toEqual([]);
    await alice.context.close();
    await bob.context.close();
  }, 120_000);

  for (const theme of ['light', 'dark'] as const) {
    it(`unread badges and the "New messages" line, an edited and a deleted message, offline with one waiting, refused ones (${theme})`, async () => {
      const server = await startTestServer();
      const proxy = new TcpProxy(server.port);
      const proxied = await proxy.listen();
      try {
        const alice = await signIn(chrome.browser, proxied, 'alice', { colorScheme: theme });
        const bob = await signIn(chrome.browser, server.origin, 'bob');
        await openRoom(bob.page, 'random');
        await openRoom(alice.page, 'random');
        await alice.page.click('#room-list button[data-room="general"]');
        await sendMessage(bob.page, 'first unread');
        await sendMessage(bob.page, 'typo hree');
        await sendMessage(bob.page, 'to be deleted');
        await sendMessage(bob.page, '@alice are you there?');
        await alice.page.waitForSelector('#room-list button[data-room="random"] .badge.mentions');
        await alice.page.waitForFunction(
          () =>
            document.querySelector('#room-list button[data-room="random"] .badge.unread')?.textContent ===
            '4',
        );
        const found: string[] = [];
        await audit(alice.page, `badges ${theme}`, found);
        await alice.page.click('#room-list button[data-room="random"]');
        await waitForMessages(alice.page, 4);
        await alice.page.waitForSelector('.unread-divider');
        await audit(alice.page, `new messages line ${theme}`, found);
        // bob edits one message and deletes another.
        const typo = bob.page.locator(`#message-list li[data-seq="${await seqOf(bob.page, 'typo hree')}"]`);
        await typo.hover();
        await typo.locator('.edit').click();
        await bob.page.fill('#composer-input', 'typo here');
        await bob.page.keyboard.press('Enter');
        await deleteMessage(bob.page, await seqOf(bob.page, 'to be deleted'));
        await alice.page.waitForSelector('#message-list li.deleted');
        await alice.page.waitForSelector('#message-list li.message .edited');
        await audit(alice.page, `edited and deleted ${theme}`, found);
        // Offline, with a message waiting to be sent.
        proxy.drop();
        await alice.page.waitForSelector('#status[data-state="offline"]');
        await sendMessage(alice.page, 'sent when back');
        await alice.page.waitForSelector('#message-list li.pending');
        await audit(alice.page, `offline ${theme}`, found);
        proxy.restore();
        await alice.page.waitForSelector('#status[data-state="online"]', { timeout: 30_000 });
        await waitForMessages(bob.page, 5);
        // Messages refused for good, shown as not sent with the reason and their buttons (as a
        // reload finds them in the outbox): one too long for the server, one after a server fault
        // (it offers "Send again" too).
        await alice.page.evaluate(() => {
          sessionStorage.setItem(
            'riptide-chat-outbox',
            JSON.stringify([
              { id: 'long', room: 'random', text: 'far too long '.repeat(400) },
              {
                id: 'fault',
                room: 'random',
                text: 'hit a server bug',
                failed: { code: 'internal', message: 'internal error' },
              },
            ]),
          );
        });
        await alice.page.reload();
        await alice.page.waitForSelector('#status[data-state="online"]', { timeout: 30_000 });
        await alice.page.waitForFunction(
          () => document.querySelectorAll('#message-list li.pending.failed').length === 2,
        );
        expect(await alice.page.locator('#message-list .failed-note button').allTextContents()).toEqual([
          'Edit',
          'Discard',
          'Send again',
          'Edit',
          'Discard',
        ]);
        await audit(alice.page, `not sent ${theme}`, found);
        await alice.page.locator('#message-list .failed-note button.resend').hover();
        await audit(alice.page, `not sent, a button hovered ${theme}`, found);
        expect(found).toEqual([]);
        await alice.context.close();
        await bob.context.close();
      } finally {
        await proxy.close();
      }
    });
  }

  // One test per theme: each runs axe seven times, which takes long on a loaded machine.
  for (const theme of ['light', 'dark'] as const) {
    it(`search results, the image viewer, the delete question, reply and edit banners, a private room and its remove question, the room directory (${theme})`, async () => {
      const found: string[] = [];
      const server = await startTestServer();
      const bob = await signIn(chrome.browser, server.origin, 'bob', { colorScheme: theme });
      const { context, page } = await signIn(chrome.browser, server.origin, 'alice', { colorScheme: theme });
      await converse(page, bob.page);
      // Search, with a hit highlighted.
      await page.fill('#search-input', 'chart');
      await page.press('#search-input', 'Enter');
      await page.locator('#search-results .search-hit').first().waitFor();
      await audit(page, `search ${theme}`, found);
      await page.click('#search-results .search-close');
      await page.waitForSelector('#search-results', { state: 'hidden' });
      // The image, full size.
      await page.click('#message-list .attachment-image a');
      await page.waitForSelector('#attachment-viewer[open]');
      await audit(page, `image viewer ${theme}`, found);
      await page.keyboard.press('Escape');
      await page.waitForSelector('#attachment-viewer:not([open])', { state: 'attached' });
      // The delete question on one's own message, then replying and editing banners.
      const own = page.locator('#message-list li.mine').last();
      await own.hover();
      await own.locator('.delete').click();
      await own.locator('.confirm-delete').waitFor();
      await audit(page, `delete question ${theme}`, found);
      await own.locator('.cancel-delete').click();
      await own.hover();
      await own.locator('.reply').click();
      await page.waitForSelector('#reply-banner', { state: 'visible' });
      await audit(page, `reply banner ${theme}`, found);
      await page.keyboard.press('Escape');
      await own.hover();
      await own.locator('.edit').click();
      await page.waitForSelector('#edit-banner', { state: 'visible' });
      await audit(page, `edit banner ${theme}`, found);
      await page.keyboard.press('Escape');
      // A private room of one's own (lock, invite field, delete, Remove beside a member, online or
      // offline: carol never signs in), and the directory of rooms; then the remove question.
      await register(server.origin, 'carol');
      await page.check('#room-private');
      await page.fill('#room-input', `secret-${theme}`);
      await page.press('#room-input', 'Enter');
      await page.waitForSelector('#invite-form', { state: 'visible' });
      for (const name of ['bob', 'carol']) {
        await page.fill('#invite-input', name);
        await page.press('#invite-input', 'Enter');
      }
      await page.locator('#online-list li[data-user="bob"] .remove-member').waitFor();
      await page.locator('#online-list li.offline[data-user="carol"] .presence-word').waitFor();
      await page.click('#all-rooms summary');
      await page.locator('#all-room-list button').first().waitFor();
      await audit(page, `private room and directory ${theme}`, found);
      await page.click('#online-list .remove-member');
      await page.locator('#online-list .remove-confirm').waitFor();
      await audit(page, `remove question ${theme}`, found);
      await context.close();
      await bob.context.close();
      expect(found).toEqual([]);
    }, 120_000);
  }

  it('a phone-sized screen: the conversation and both drawers', async () => {
    const server = await startTestServer();
    const bob = await signIn(chrome.browser, server.origin, 'bob', { colorScheme: 'dark' });
    const phone = await signIn(chrome.browser, server.origin, 'pat', {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      colorScheme: 'light',
    });
    await converse(phone.page, bob.page);
    const found: string[] = [];
    await audit(phone.page, 'phone', found);
    await phone.page.click('#menu-toggle');
    await settled(phone.page, '#rooms-panel');
    await audit(phone.page, 'phone rooms drawer', found);
    await phone.page.keyboard.press('Escape');
    await phone.page.waitForSelector('#room-form', { state: 'hidden' });
    await phone.page.click('#online-toggle');
    await settled(phone.page, '#online-panel');
    await audit(phone.page, 'phone people drawer', found);
    expect(found).toEqual([]);
    await phone.context.close();
    await bob.context.close();
  });
});

/**
 * Where the hovered message's tools are drawn against its neighbours: each box the previous and
 * the next list item show (a message's name line, quote, text, files, reactions; a day line or a
 * notice whole) that the bar's box intersects, and whether the bar is inside its own message.
 * Also the lines of the message's own text (their glyph boxes, from a Range) that it covers.
 */
function toolsOverlap(page: Page, seq: number) {
  return page.evaluate((s) => {
    const li = document.querySelector(`#message-list li.message[data-seq="${s}"]`) as HTMLElement;
    const bar = (li.querySelector('.actions') as HTMLElement).getBoundingClientRect();
    const meets = (r: DOMRect) =>
      r.width > 0 &&
      r.height > 0 &&
      bar.left < r.right &&
      r.left < bar.right &&
      bar.top < r.bottom &&
      r.top < bar.bottom;
    const shown = (item: Element | null) =>
      !item ? [] : item.matches('li.message') ? [...item.querySelectorAll('.body > *')] : [item];
    const hit = (item: Element | null, where: string) =>
      shown(item)
        .filter((n) => meets(n.getBoundingClientRect()))
        .map((n) => `${where}: ${n.className || n.tagName} "${(n.textContent ?? '').slice(0, 30)}"`);
    const own = li.getBoundingClientRect();
    // The glyphs' boxes: one range per text node (a range over elements adds their whole boxes).
    const glyphs: DOMRect[] = [];
    const walker = document.createTreeWalker(li.querySelector('.text') as Element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(node);
      glyphs.push(...range.getClientRects());
    }
    return {
      covers: [...hit(li.previousElementSibling, 'previous'), ...hit(li.nextElementSibling, 'next')],
      inside:
        bar.top >= own.top && bar.bottom <= own.bottom && bar.left >= own.left && bar.right <= own.right,
      ownText: glyphs.some(meets),
    };
  }, seq);
}

describe("a message's tools", () => {
  it('are drawn inside their message: never over the text of the one above or below, nor over its own, desktop and phone', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 50, perSecond: 50 } } });
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const pat = await signIn(chrome.browser, server.origin, 'pat', {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    const long = `A long line that wraps: ${'word '.repeat(40).trim()}`;
    const rtl = 'שלום! Hebrew and Arabic align right: مرحبا';
    const texts = ['one', 'two', long, rtl, 'three'];
    for (const text of texts) await sendMessage(alice.page, text);
    await sendMessage(pat.page, 'from the phone');
    await sendMessage(pat.page, 'שלום');
    await sendMessage(pat.page, 'and a reply');
    for (const page of [alice.page, pat.page]) {
      await waitForMessages(page, 8);
      const seqs = await page.$$eval('#message-list li.message', (lis) =>
        lis.map((li) => Number((li as HTMLElement).dataset.seq)),
      );
      for (const seq of seqs) {
        const item = page.locator(`#message-list li.message[data-seq="${seq}"]`);
        await item.hover();
        await page.waitForFunction(
          (bar) => bar !== null && getComputedStyle(bar).opacity === '1',
          await item.locator('.actions').elementHandle(),
        );
        const text = `${page.viewportSize()?.width}px: ${await item.locator('.text').textContent()}`;
        const found = await toolsOverlap(page, seq);
        expect(found.covers, text).toEqual([]);
        expect(found.inside, text).toBe(true);
        // Nor does it cover its own message's text: a line long enough to reach it (the long one,
        // the RTL sentence on the phone) wraps before it (layout.test.ts checks more kinds).
        expect(found.ownText, text).toBe(false);
      }
    }
    await alice.context.close();
    await pat.context.close();
  });
});

describe('names', () => {
  it('icon buttons are named by what they do (not by their glyph), and the bar heading is the brand', async () => {
    const server = await startTestServer();
    const desk = await signIn(chrome.browser, server.origin, 'alice', { colorScheme: 'light' });
    const phone = await signIn(chrome.browser, server.origin, 'pat', {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });
    for (const name of ['Dark theme', 'Notify me of mentions', 'Keyboard shortcuts'])
      expect(await button(desk.page, name).count(), name).toBe(1);
    // A toggle keeps its name; aria-pressed says whether it is on.
    const theme = button(desk.page, 'Dark theme');
    expect(await theme.getAttribute('aria-pressed')).toBe('false');
    await theme.click();
    expect(await button(desk.page, 'Dark theme').getAttribute('aria-pressed')).toBe('true');
    expect(await desk.page.textContent('#theme-toggle .glyph')).toBe('☀');
    for (const page of [desk.page, phone.page])
      expect(await page.getByRole('heading', { level: 1, name: 'Riptide', exact: true }).count()).toBe(1);
    for (const name of ['Rooms', 'People']) expect(await button(phone.page, name).count(), name).toBe(1);
    // The people toggle is named for what its panel holds in any room: who is online (a public room,
    // a direct message), every member (a private room). It keeps its name; aria-expanded says
    // whether its drawer is open.
    const people = button(phone.page, 'People');
    expect(await people.getAttribute('aria-controls')).toBe('online-panel');
    expect(await people.getAttribute('aria-expanded')).toBe('false');
    await people.click();
    expect(await button(phone.page, 'People').getAttribute('aria-expanded')).toBe('true');
    const panel = (name: string) => phone.page.getByRole('complementary', { name, exact: true });
    await panel('Online').waitFor();
    await phone.page.keyboard.press('Escape');
    await panel('Online').waitFor({ state: 'hidden' });
    expect(await people.getAttribute('aria-expanded')).toBe('false');
    await phone.page.click('#menu-toggle');
    await phone.page.fill('#room-input', 'crew');
    await phone.page.check('#room-private');
    await phone.page.press('#room-input', 'Enter');
    await phone.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#crew');
    await button(phone.page, 'People').click();
    await panel('Members').waitFor();
    expect(await people.getAttribute('aria-expanded')).toBe('true');
    await desk.context.close();
    await phone.context.close();
  });
});

describe('announcements', () => {
  it("says a new message from someone else in the open room (a polite live region), not one's own or another room's", async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    // alice is in #random too, but has #general open.
    await openRoom(alice.page, 'random');
    await alice.page.click('#room-list button[data-room="general"]');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#general');
    expect(await alice.page.getAttribute('#announce', 'aria-live')).toBe('polite');
    // Every text the region is given, in order.
    await alice.page.evaluate(() => {
      const region = document.querySelector('#announce') as HTMLElement;
      const said: string[] = [];
      (window as unknown as { said: string[] }).said = said;
      new MutationObserver(() => said.push(region.textContent ?? '')).observe(region, {
        childList: true,
        characterData: true,
        subtree: true,
      });
    });
    await sendMessage(bob.page, 'hello *there* <b>x</b>');
    await sendMessage(alice.page, 'my own');
    await waitForMessages(bob.page, 2);
    await openRoom(bob.page, 'random');
    await sendMessage(bob.page, 'elsewhere');
    // alice has it (the unread badge), unannounced.
    await alice.page.waitForSelector('#room-list button[data-room="random"] .badge.unread');
    await bob.page.click('#room-list button[data-room="general"]');
    await sendMessage(bob.page, 'back');
    await waitForMessages(alice.page, 3);
    await alice.page.waitForFunction(() => document.querySelector('#announce')?.textContent === 'bob: back');
    expect(await alice.page.evaluate(() => (window as unknown as { said: string[] }).said)).toEqual([
      'bob: hello there <b>x</b>',
      'bob: back',
    ]);
    expect(await alice.page.locator('#announce *').count()).toBe(0);
    await alice.context.close();
    await bob.context.close();
  });
  it('clears what it said about a room once that room is deleted', async () => {
    // Regression: "bob: last words" stayed in the live region after #doomed was deleted, a stale
    // announcement about a room that no longer exists.
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await openRoom(bob.page, 'doomed');
    await openRoom(alice.page, 'doomed');
    await sendMessage(bob.page, 'last words');
    await alice.page.waitForFunction(
      () => document.querySelector('#announce')?.textContent === 'bob: last words',
    );
    await bob.page.click('#delete-room');
    await bob.page.click('#delete-room-yes');
    await alice.page.waitForFunction(
      () => document.querySelector('#room-error')?.textContent === '#doomed was deleted by its owner',
    );
    expect(await alice.page.textContent('#announce')).toBe('');
    await alice.context.close();
    await bob.context.close();
  });
});
