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
import type { SqliteStore } from '../../src/server/backends/sqlite/store.js';
import { png } from '../attachments/files.js';
import { acceptInvitation, register, startTestServer } from '../helpers.js';
import { axeViolations } from './axe.js';
import {
  clickTool,
  deleteMessage,
  focusMatches,
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
  await clickTool(item, '.reply');
  await sendMessage(bob, '@alice thanks, looks right');
  await clickTool(item, '.react');
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
      await clickTool(own, '.react');
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
        await clickTool(typo, '.edit');
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
      await clickTool(own, '.delete');
      await own.locator('.confirm-delete').waitFor();
      await audit(page, `delete question ${theme}`, found);
      await own.locator('.cancel-delete').click();
      await clickTool(own, '.reply');
      await page.waitForSelector('#reply-banner', { state: 'visible' });
      await audit(page, `reply banner ${theme}`, found);
      await page.keyboard.press('Escape');
      await clickTool(own, '.edit');
      await page.waitForSelector('#edit-banner', { state: 'visible' });
      await audit(page, `edit banner ${theme}`, found);
      await page.keyboard.press('Escape');
      // A private room of one's own (lock, invite field, delete, Remove beside a member, online or
      // offline: carol accepts from a connection closed at once), and the directory of rooms; then
      // the remove question.
      await register(server.origin, 'carol');
      await page.check('#room-private');
      await page.fill('#room-input', `secret-${theme}`);
      await page.press('#room-input', 'Enter');
      await page.waitForSelector('#invite-form', { state: 'visible' });
      for (const name of ['bob', 'carol']) {
        await page.fill('#invite-input', name);
        await page.press('#invite-input', 'Enter');
        await expect.poll(async () => (await server.backend.rooms.invitations(name, 0)).length).toBe(1);
      }
      // bob's page with the invitation pending (its Accept and Decline), then accepted there.
      const invitation = bob.page.locator(`#invitation-list li[data-room="secret-${theme}"]`);
      await invitation.waitFor();
      await audit(bob.page, `pending invitation ${theme}`, found);
      await invitation.locator('button.accept').click();
      await acceptInvitation(server.origin, 'carol', `secret-${theme}`);
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
    for (const name of ['Dark theme', 'Notify me of mentions and direct messages', 'Keyboard shortcuts'])
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
  it('says the same notice twice: emptied, rendered empty, then written again', async () => {
    // Regression: a second "bob: ok" was written over the first, the same words: no change to a
    // screen reader, which said nothing.
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await listen(alice.page, 'announce');
    for (let n = 1; n <= 2; n++) {
      await sendMessage(bob.page, 'ok');
      await alice.page.waitForFunction(
        (count) =>
          (window as unknown as { said: Record<string, string[]> }).said.announce.filter(
            (t) => t === 'bob: ok',
          ).length === count,
        n,
      );
    }
    expect(await heard(alice.page, 'announce')).toEqual(['bob: ok', '', 'bob: ok']);
    // The empty region was drawn (a frame at least) before the words came back.
    const [, emptied, again] = await heardAt(alice.page, 'announce');
    expect(again).toBeGreaterThan(emptied);
    // Another notice is written at once, not emptied first.
    await sendMessage(bob.page, 'fine');
    await alice.page.waitForFunction(() => document.querySelector('#announce')?.textContent === 'bob: fine');
    expect(await heard(alice.page, 'announce')).toEqual(['bob: ok', '', 'bob: ok', 'bob: fine']);
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

/**
 * Every text a live region is given, in order, kept in `window.said[id]`: one entry per change of
 * its content (the text a write puts in, '' for one that empties it), also when several come in
 * one task. A region written again with the same text counts: its new text node is new content
 * to a screen reader, which may read it again.
 */
async function listen(page: Page, id: string): Promise<void> {
  await page.evaluate((region) => {
    const node = document.getElementById(region) as HTMLElement;
    const w = window as unknown as {
      said?: Record<string, string[]>;
      saidAt?: Record<string, number[]>;
      frame?: number;
    };
    const all = (w.said ??= {});
    const at = (w.saidAt ??= {});
    // The frames rendered so far (see heardAt).
    if (w.frame === undefined) {
      w.frame = 0;
      const tick = () => {
        w.frame = (w.frame ?? 0) + 1;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    }
    const said: string[] = [];
    const frames: number[] = [];
    all[region] = said;
    at[region] = frames;
    new MutationObserver((records) => {
      for (const r of records) {
        said.push(
          r.type === 'characterData'
            ? (r.target.textContent ?? '')
            : [...r.addedNodes].map((n) => n.textContent).join(''),
        );
        frames.push(w.frame ?? 0);
      }
    }).observe(node, {
      childList: true,
      characterData: true,
      subtree: true,
    });
  }, id);
}

function heard(page: Page, id: string): Promise<string[]> {
  return page.evaluate(
    (region) => (window as unknown as { said: Record<string, string[]> }).said[region],
    id,
  );
}

/** For each text of heard(), the number of frames the page had rendered when it was written. */
function heardAt(page: Page, id: string): Promise<number[]> {
  return page.evaluate(
    (region) => (window as unknown as { saidAt: Record<string, number[]> }).saidAt[region],
    id,
  );
}

/**
 * WCAG's contrast ratio of an element's text against what is drawn behind it: its own background
 * or the nearest ancestor's that is not transparent (a translucent one is laid over the next).
 */
function contrastOf(page: Page, selector: string): Promise<number> {
  return page.evaluate((s) => {
    const rgba = (value: string) => {
      const n = (value.match(/[\d.]+/g) ?? []).map(Number);
      return [n[0], n[1], n[2], n[3] ?? 1];
    };
    const over = (top: number[], below: number[]) =>
      [0, 1, 2].map((i) => top[i] * top[3] + below[i] * (1 - top[3])).concat(1);
    const layers: number[][] = [];
    for (let node: Element | null = document.querySelector(s); node; node = node.parentElement) {
      const bg = rgba(getComputedStyle(node).backgroundColor);
      if (bg[3] > 0) layers.push(bg);
      if (bg[3] === 1) break;
    }
    let back = [255, 255, 255, 1];
    for (const layer of layers.reverse()) back = over(layer, back);
    const text = over(rgba(getComputedStyle(document.querySelector(s) as Element).color), back);
    const lum = (c: number[]) => {
      const [r, g, b] = c.slice(0, 3).map((v) => {
        const x = v / 255;
        return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const [hi, lo] = [lum(text), lum(back)].sort((a, b) => b - a);
    return (hi + 0.05) / (lo + 0.05);
  }, selector);
}

describe('a storage outage, as a keyboard and a screen reader meet it', () => {
  for (const theme of ['light', 'dark'] as const) {
    it(`says storage is away and back once each (politely), keeps the focus, names and reaches Retry, and its notices are legible (${theme})`, async () => {
      const server = await startTestServer();
      const alice = await signIn(chrome.browser, server.origin, 'alice', { colorScheme: theme });
      const page = alice.page;
      await listen(page, 'status-said');
      await listen(page, 'announce');
      expect(await page.getAttribute('#status-said', 'role')).toBe('status');
      await page.focus('#composer-input');
      await page.keyboard.type('draft in progress');
      // The disk full, as files.test.ts makes it: the upload is refused (503), storage is away.
      const db = (server.backend.rooms as unknown as SqliteStore).database;
      db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
      await give(page, 'paste', [
        { name: 'log.txt', type: 'text/plain', base64: Buffer.alloc(256 * 1024, 0x61).toString('base64') },
      ]);
      await page.locator('#attachment-tray .upload.failed').waitFor();
      await page.waitForSelector('#status[data-state="degraded"]');
      // The focus stayed where the user was typing, the text intact.
      expect(await focusMatches(page, '#composer-input')).toBe(true);
      expect(await page.inputValue('#composer-input')).toBe('draft in progress');
      // Retry is named for its file, and reached from the text box with the keyboard alone.
      const retry = page.getByRole('button', { name: 'Retry log.txt', exact: true });
      expect(await retry.count()).toBe(1);
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Shift+Tab');
      expect(await focusMatches(page, '#attachment-tray .upload-retry')).toBe(true);
      // What the file's line says is an alert (its failure), its text the reason, not colour alone.
      const status = page.locator('#attachment-tray .upload.failed .upload-status');
      expect(await status.getAttribute('role')).toBe('alert');
      expect(await status.textContent()).toMatch(/unavailable.*sent again when it recovers$/);
      const found: string[] = [];
      await audit(page, `storage away ${theme}`, found);
      for (const selector of ['#status', '#attachment-tray .upload.failed .upload-status']) {
        expect(await contrastOf(page, selector), selector).toBeGreaterThanOrEqual(4.5);
      }
      // Back: the probe finds the space, the `service` notice says so, the file goes again by itself.
      db.pragma('max_page_count = 1073741823');
      await page.waitForSelector('#status[data-state="online"]');
      await page.locator('#attachment-tray .upload.done').waitFor({ timeout: 10_000 });
      await audit(page, `storage back ${theme}`, found);
      expect(found).toEqual([]);
      expect(await contrastOf(page, '#status')).toBeGreaterThanOrEqual(4.5);
      expect(await heard(page, 'status-said')).toEqual([
        'Connected — messages are held until the server recovers',
        'Online',
      ]);
      expect(await heard(page, 'announce')).toEqual([]);
      // Regression: the focused Retry hid when the file went again by itself, and the focus fell to
      // the page's body. It is on the file's × now.
      expect(await focusMatches(page, '#attachment-tray .upload-remove[aria-label="Remove log.txt"]')).toBe(
        true,
      );
      await alice.context.close();
    });
  }
});

/**
 * What the top bar's accessibility tree holds about the connection: each of its text lines (the
 * tree a screen reader reads line by line) that names a state.
 */
async function spoken(page: Page): Promise<string[]> {
  const tree = await page.locator('#top').ariaSnapshot();
  return tree
    .split('\n')
    .map((line) => line.replace(/^\s*- (text|status)( "[^"]*")?:?\s*/, '').replace(/^"|"$/g, ''))
    .filter((line) => /Online|Offline|Connect/.test(line));
}

describe('the connection', () => {
  it('says it is offline once while it retries, not at every try, and online once back', async () => {
    // Regression: #status was the live region and each try rewrote it ("Connecting…", "Offline —
    // retrying in 1 s", "Connecting…", "Offline — retrying in 2 s", ...): read out at every try
    // for as long as the server was away.
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const { context, page } = await signIn(chrome.browser, proxied, 'alice');
      await page.clock.install();
      await listen(page, 'status');
      await listen(page, 'status-said');
      await page.focus('#composer-input');
      proxy.drop();
      await page.waitForSelector('#status[data-state="offline"]');
      // Three more tries, each refused: the clock is moved to each one, then its failure awaited.
      for (let tries = 1; tries <= 3; tries++) {
        await page.clock.fastForward(31_000);
        await page.waitForFunction(
          (n) =>
            (window as unknown as { said: Record<string, string[]> }).said.status.filter((t) =>
              t.startsWith('Offline'),
            ).length === n,
          tries + 1,
        );
      }
      expect(await page.textContent('#status')).toMatch(/^Offline — retrying in \d+ s$/);
      // Read line by line, the bar says the state once (its region's words; the countdown is for
      // the eyes). Regression: the bar and the region both said it.
      expect(await spoken(page)).toEqual(['Offline — reconnecting by itself']);
      proxy.restore();
      await page.evaluate(() => window.dispatchEvent(new Event('online')));
      await page.waitForSelector('#status[data-state="online"]', { timeout: 30_000 });
      expect(await heard(page, 'status-said')).toEqual(['Offline — reconnecting by itself', 'Online']);
      expect(await spoken(page)).toEqual(['Online']);
      // The bar showed each try; the focus stayed where the user was.
      expect((await heard(page, 'status')).filter((t) => t === 'Connecting…').length).toBe(4);
      expect(await focusMatches(page, '#composer-input')).toBe(true);
      await context.close();
    } finally {
      await proxy.close();
    }
  });
});

describe('sign-in errors', () => {
  it('the same error again is emptied first, so it is shown and said again', async () => {
    // Regression: a second wrong password wrote the same words over the first: nothing changed on
    // the screen, and a screen reader need not say it again.
    const server = await startTestServer();
    await register(server.origin, 'alice');
    const context = await chrome.browser.newContext();
    const page = await context.newPage();
    await page.goto(server.origin);
    await page.waitForSelector('#login-form', { state: 'visible' });
    await listen(page, 'login-error');
    expect(await page.getAttribute('#login-error', 'role')).toBe('alert');
    await page.fill('#login-name', 'alice');
    await page.fill('#login-password', 'not the password');
    for (let attempt = 1; attempt <= 2; attempt++) {
      await page.press('#login-password', 'Enter');
      await page.waitForFunction(
        (n) =>
          (window as unknown as { said: Record<string, string[]> }).said['login-error'].filter(
            (t) => t === 'Wrong name or password.',
          ).length === n,
        attempt,
      );
    }
    expect(await heard(page, 'login-error')).toEqual([
      'Wrong name or password.',
      '',
      'Wrong name or password.',
    ]);
    // The focus stays in the form, on the field the user pressed Enter in.
    expect(await focusMatches(page, '#login-password')).toBe(true);
    await context.close();
  });
});

describe("the composer's errors", () => {
  it('a message refused by the page (too long) is said once, not again at each message that arrives, and again at the next try', async () => {
    // Regression: every render wrote the alert again (each message from someone else), the same
    // words read out again and again while the user was shortening the text.
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await listen(alice.page, 'composer-input-error');
    expect(await alice.page.getAttribute('#composer-input-error', 'role')).toBe('alert');
    await sendMessage(alice.page, 'x'.repeat(5000));
    const tooLong = 'Message is too long (4096 bytes at most).';
    await alice.page.waitForFunction(
      (t) => document.querySelector('#composer-input-error')?.textContent === t,
      tooLong,
    );
    await sendMessage(bob.page, 'one');
    await sendMessage(bob.page, 'two');
    await waitForMessages(alice.page, 2);
    // The text is kept to shorten, the focus where it was.
    expect(await focusMatches(alice.page, '#composer-input')).toBe(true);
    expect((await alice.page.inputValue('#composer-input')).length).toBe(5000);
    await alice.page.keyboard.press('Enter');
    await alice.page.waitForFunction(
      (t) =>
        (window as unknown as { said: Record<string, string[]> }).said['composer-input-error'].filter(
          (s) => s === t,
        ).length >= 2,
      tooLong,
    );
    expect(await heard(alice.page, 'composer-input-error')).toEqual([tooLong, '', tooLong]);
    await alice.context.close();
    await bob.context.close();
  });

  it('an error about the text typed is tied to the message box until the text is right; a notice is not', async () => {
    // Regression: one alert under the box said both what was wrong with the text and the page's
    // notices (offline, slow down), and the box said nothing of it: back on it to shorten the text,
    // a screen reader gave no reason. A notice ("Slow down") also hid "too long".
    const server = await startTestServer({ limits: { messageRate: { burst: 1, perSecond: 0.001 } } });
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const page = alice.page;
    const box = page.locator('#composer-input');
    const error = page.locator('#composer-input-error');
    const tooLong = 'Message is too long (4096 bytes at most).';
    await sendMessage(page, 'x'.repeat(4098));
    await page.waitForFunction(
      (t) => document.querySelector('#composer-input-error')?.textContent === t,
      tooLong,
    );
    expect(await box.getAttribute('aria-invalid')).toBe('true');
    expect(await box.getAttribute('aria-describedby')).toBe('composer-input-error');
    // What a screen reader says on the box: its name, and why it is refused.
    expect(await box.evaluate((node: HTMLTextAreaElement) => node.matches(':focus'))).toBe(true);
    const described = await page.evaluate(() =>
      (document.getElementById('composer-input')?.getAttribute('aria-describedby') ?? '')
        .split(' ')
        .map((id) => document.getElementById(id)?.textContent)
        .join(' '),
    );
    expect(described).toBe(tooLong);
    // The line under the box is the one it had: no room added for the second place.
    const lines = await page.evaluate(() =>
      ['composer-input-error', 'composer-error'].map(
        (id) => (document.getElementById(id) as HTMLElement).getBoundingClientRect().height > 0,
      ),
    );
    expect(lines).toEqual([true, false]);
    // Still too long as the user shortens it: still said; right, it goes, and the box is untied.
    await page.keyboard.press('Backspace');
    expect(await error.textContent()).toBe(tooLong);
    expect(await box.getAttribute('aria-invalid')).toBe('true');
    await page.keyboard.press('Backspace');
    expect(await error.textContent()).toBe('');
    expect(await box.getAttribute('aria-invalid')).toBeNull();
    expect(await box.getAttribute('aria-describedby')).toBeNull();

    // A notice under the box (the rate limit) is not about the text: the box is not tied to it,
    // and an error about the text is shown with it, not hidden by it.
    await page.fill('#composer-input', 'first');
    await page.keyboard.press('Enter');
    await page.fill('#composer-input', 'second');
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      () =>
        document.querySelector('#composer-error')?.textContent === 'Slow down a little — sending shortly.',
    );
    expect(await box.getAttribute('aria-describedby')).toBeNull();
    expect(await box.getAttribute('aria-invalid')).toBeNull();
    await page.fill('#composer-input', 'y'.repeat(4097));
    await page.keyboard.press('Enter');
    expect(await error.textContent()).toBe(tooLong);
    expect(await page.textContent('#composer-error')).toBe('Slow down a little — sending shortly.');
    expect(await box.getAttribute('aria-describedby')).toBe('composer-input-error');
    await alice.context.close();
  });

  it('a message refused for its text, taken back to edit, brings the reason into the box, tied to it until changed', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const page = alice.page;
    // Queued as by a page with another limit: the server refuses it for good (text_too_long).
    const long = 'z'.repeat(4097);
    await page.evaluate((text) => {
      sessionStorage.setItem('riptide-chat-outbox', JSON.stringify([{ id: 'long', room: 'general', text }]));
    }, long);
    await page.reload();
    const failed = page.locator('#message-list li.pending.failed');
    await failed.waitFor();
    // From the keyboard: the message's Edit, reached and pressed.
    await failed.locator('.edit-failed').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(
      (t) => (document.querySelector('#composer-input') as HTMLTextAreaElement).value === t,
      long,
    );
    const box = page.locator('#composer-input');
    const said = await page.textContent('#composer-input-error');
    expect(said).toMatch(/^Not sent: it is too long for the server \(.+\)\. Edit it to shorten it\.$/);
    expect(await box.getAttribute('aria-invalid')).toBe('true');
    expect(await box.getAttribute('aria-describedby')).toBe('composer-input-error');
    expect(await page.textContent('#composer-error')).toBe('');
    // Changed (shortened), it goes.
    await page.keyboard.press('Backspace');
    expect(await page.textContent('#composer-input-error')).toBe('');
    expect(await box.getAttribute('aria-invalid')).toBeNull();
    await alice.context.close();
  });
});

describe('typing', () => {
  it('says someone is typing once while they keep typing, not at every notice', async () => {
    const server = await startTestServer({ limits: { typingIntervalMs: 1 } });
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    // alice's clock stands still (no notice expires); bob's moves on when told (his page sends a
    // notice at most every 2 s of its clock).
    await alice.page.clock.install();
    await alice.page.clock.pauseAt(Date.now() + 1000);
    await bob.page.clock.install();
    await listen(alice.page, 'typing');
    expect(await alice.page.getAttribute('#typing', 'aria-live')).toBe('polite');
    await bob.page.focus('#composer-input');
    for (const key of ['h', 'i', '!']) {
      await bob.page.clock.fastForward(2500);
      await bob.page.keyboard.type(key);
    }
    await bob.page.keyboard.press('Enter');
    // The message comes after the three notices on alice's socket: they have all arrived.
    await waitForMessages(alice.page, 1);
    expect(await heard(alice.page, 'typing')).toEqual(['bob is typing…', '']);
    await alice.context.close();
    await bob.context.close();
  });
});
