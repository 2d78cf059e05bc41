/**
 * The conversation view of issue 16 in a real browser, with two users: grouping, day separator,
 * times, the "new messages" divider and "jump to latest", the message read kept in place while
 * those above it change, and only what changed drawn again (the other rows the same nodes); message tools on hover or focus with a confirmed delete and "(edited)";
 * formatting (and markup staying text); dark mode; the phone layout; the keyboard; direct messages
 * from a name; the owner deleting a room. The README's screenshots (light, dark, phone) are taken
 * here.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startTestServer, TestClient } from '../helpers.js';
import {
  clickTool,
  deleteMessage,
  messageTexts,
  openRoom,
  sendMessage,
  sendMessages,
  seqOf,
  signIn,
  useBrowser,
  waitForMessages,
} from './browser.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
// The README's screenshots are tracked: rewritten only on request (UPDATE_SCREENSHOT=1); otherwise
// they go to test-output/ (ignored by git), so a test run leaves a clean tree.
const screenshotDir = process.env.UPDATE_SCREENSHOT === '1' ? join(root, 'docs') : join(root, 'test-output');

const chrome = useBrowser();

/**
 * Holds the page's idle callbacks (requestIdleCallback: the background lay-out of the messages)
 * until the test runs them, one at a time, with `runIdle()` (false: none was waiting).
 */
function holdIdle(): void {
  const waiting = new Map<number, IdleRequestCallback>();
  let ids = 0;
  const w = window as unknown as { runIdle(): boolean };
  window.requestIdleCallback = (step) => {
    waiting.set(++ids, step);
    return ids;
  };
  window.cancelIdleCallback = (id) => {
    waiting.delete(id);
  };
  w.runIdle = () => {
    const next = [...waiting][0];
    if (!next) return false;
    waiting.delete(next[0]);
    next[1]({ didTimeout: false, timeRemaining: () => 50 });
    return true;
  };
}

const title = (page: Page) => page.textContent('#room-title');

/** Scrolls the conversation back (not far enough to load older messages), once the page has seen it. */
function scrollBack(page: Page): Promise<void> {
  return page.$eval(
    '#messages',
    (box) =>
      new Promise<void>((resolve) => {
        // Added after the page's own listener: it runs once the page has handled the scroll.
        box.addEventListener('scroll', () => resolve(), { once: true });
        box.scrollTop = 100;
      }),
  );
}

describe('the conversation view', () => {
  it('groups messages under name and avatar, with the day, short times and the full date on hover', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await sendMessage(alice.page, 'one');
    await sendMessage(alice.page, 'two');
    await sendMessage(bob.page, 'three');
    await waitForMessages(bob.page, 3);
    const items = await bob.page.$$eval('#message-list > li', (lis) =>
      lis.map((li) => ({
        cls: li.className,
        avatar: li.querySelector('.avatar')?.textContent ?? null,
        colour: (li.querySelector('.avatar') as HTMLElement | null)?.style.backgroundColor ?? null,
        name: li.querySelector('.user')?.textContent ?? null,
        text: li.querySelector('.text')?.textContent ?? li.textContent,
      })),
    );
    expect(items.map((i) => [i.cls, i.avatar, i.name, i.text])).toEqual([
      ['day', null, null, 'Today'],
      ['message first', 'A', 'alice', 'one'],
      ['message', null, null, 'two'],
      ['message first mine', 'B', 'bob', 'three'],
    ]);
    // The colour comes from the name: alice's is the same on both pages and differs from bob's.
    const aliceColour = await alice.page.$eval(
      'li.first .avatar',
      (n) => (n as HTMLElement).style.backgroundColor,
    );
    expect(aliceColour).toBe(items[1].colour);
    expect(items[3].colour).not.toBe(items[1].colour);
    const time = await bob.page.$eval('li.first .time', (n) => ({
      text: n.textContent ?? '',
      title: (n as HTMLElement).title,
    }));
    expect(time.text).toMatch(/^[1-9]\d?:\d\d/);
    expect(time.title).toContain(String(new Date().getFullYear()));
    expect(await bob.page.$eval('li.message .text', (n) => (n as HTMLElement).dir)).toBe('auto');
    await alice.context.close();
    await bob.context.close();
  });

  it('puts "New messages" above the first unread one, and offers "jump to latest" when scrolled up', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 100, perSecond: 100 } } });
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await openRoom(bob.page, 'random');
    for (let i = 1; i <= 3; i++) await sendMessage(bob.page, `seen ${i}`);
    await openRoom(alice.page, 'random');
    await waitForMessages(alice.page, 3);
    await alice.page.click('#room-list button[data-room="general"]');
    await sendMessages(
      bob.page,
      Array.from({ length: 30 }, (_, i) => `new ${i + 1}`),
    );
    await alice.page.waitForFunction(
      () => document.querySelector('#room-list button[data-room="random"] .badge')?.textContent === '30',
    );
    await alice.page.click('#room-list button[data-room="random"]');
    await waitForMessages(alice.page, 33);
    expect(await alice.page.$eval('.unread-divider + li.message .text', (n) => n.textContent)).toBe('new 1');
    expect(await alice.page.locator('.unread-divider').count()).toBe(1);
    // The divider is in view (the page opened there, not at the end).
    const inView = await alice.page.$eval('.unread-divider', (d) => {
      const box = document.querySelector('#messages') as HTMLElement;
      const r = d.getBoundingClientRect();
      const b = box.getBoundingClientRect();
      return r.top >= b.top && r.bottom <= b.bottom;
    });
    expect(inView).toBe(true);

    // Scrolled up, a new message brings the button; it takes the reader to the end.
    await alice.page.$eval('#messages', (box) => {
      box.scrollTop = 100;
    });
    expect(await alice.page.isHidden('#jump-latest')).toBe(true);
    await sendMessage(bob.page, 'latest');
    await waitForMessages(alice.page, 34);
    await alice.page.waitForSelector('#jump-latest:not([hidden])');
    await alice.page.click('#jump-latest');
    await alice.page.waitForSelector('#jump-latest', { state: 'hidden' });
    const atEnd = await alice.page.$eval(
      '#messages',
      (b) => b.scrollHeight - b.scrollTop - b.clientHeight < 5,
    );
    expect(atEnd).toBe(true);
    // Leaving the room and coming back: no divider (all read).
    await alice.page.click('#room-list button[data-room="general"]');
    await alice.page.click('#room-list button[data-room="random"]');
    await waitForMessages(alice.page, 34);
    expect(await alice.page.locator('.unread-divider').count()).toBe(0);
    await alice.context.close();
    await bob.context.close();
  });

  it('"jump to latest" says how many messages arrived while scrolled back, and the live region only their count', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 100, perSecond: 100 } } });
    const bob = await TestClient.user(server.origin, 'bob');
    for (let i = 1; i <= 60; i++)
      await bob.request('ack', { type: 'send', id: `m${i}`, room: 'general', text: `line ${i}` });
    const { page } = await signIn(chrome.browser, server.origin, 'alice');
    await page.locator('#message-list li.message[data-seq="60"]').waitFor();
    await scrollBack(page);
    for (let i = 1; i <= 3; i++)
      await bob.request('ack', { type: 'send', id: `n${i}`, room: 'general', text: `new ${i}` });
    await page.locator('#message-list li.message[data-seq="63"]').waitFor();
    await page.waitForFunction(
      () =>
        document.querySelector('#jump-latest:not([hidden])')?.textContent ===
        '3 new messages · Jump to latest ↓',
    );
    // Said as a count, never each message: the first one at once, the rest later (rate-limited).
    expect(await page.textContent('#announce')).toMatch(/^\d new messages? below$/);
    // At the end: the button goes, with its count; the next one is counted from one.
    await page.click('#jump-latest');
    await page.locator('#jump-latest').waitFor({ state: 'hidden' });
    expect(await page.textContent('#jump-count')).toBe('');
    await scrollBack(page);
    await bob.request('ack', { type: 'send', id: 'n4', room: 'general', text: 'new 4' });
    await page.waitForFunction(
      () =>
        document.querySelector('#jump-latest:not([hidden])')?.textContent ===
        '1 new message · Jump to latest ↓',
    );
    await page.context().close();
  });

  it('keeps the message read in place when one above it is edited, reacted to or deleted', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 100, perSecond: 100 } } });
    const bob = await TestClient.user(server.origin, 'bob');
    for (let i = 1; i <= 60; i++)
      await bob.request('ack', { type: 'send', id: `m${i}`, room: 'general', text: `line ${i}` });
    const { page } = await signIn(chrome.browser, server.origin, 'alice');
    await page.locator('#message-list li.message[data-seq="60"]').waitFor();
    // Scrolled back: message 40 at the top of the conversation, 30 to 39 above it.
    await page.$eval('#message-list li.message[data-seq="40"]', (li) =>
      li.scrollIntoView({ block: 'start' }),
    );
    const top = () =>
      page.$eval('#message-list li.message[data-seq="40"] .text', (text) =>
        Math.round(
          text.getBoundingClientRect().top - document.getElementById('messages')!.getBoundingClientRect().top,
        ),
      );
    const before = await top();
    bob.send({ v: 2, type: 'edit', room: 'general', seq: 30, text: 'a much longer line '.repeat(40) });
    await page.locator('#message-list li.message[data-seq="30"] .edited').waitFor();
    expect(await top()).toBe(before);
    bob.send({ v: 2, type: 'react', room: 'general', target: 31, emoji: '👍', on: true });
    await page.locator('#message-list li.message[data-seq="31"] [data-emoji="👍"]').waitFor();
    expect(await top()).toBe(before);
    bob.send({ v: 2, type: 'delete', room: 'general', seq: 30 });
    await page.locator('#message-list li.message[data-seq="30"] .edited').waitFor({ state: 'detached' });
    expect(await top()).toBe(before);
  });

  it('draws only what changed: the other rows stay the same nodes, the message read stays in place', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 100, perSecond: 100 } } });
    const bob = await TestClient.user(server.origin, 'bob');
    for (let i = 1; i <= 60; i++)
      await bob.request('ack', { type: 'send', id: `m${i}`, room: 'general', text: `line ${i}` });
    const { page } = await signIn(chrome.browser, server.origin, 'alice');
    await page.locator('#message-list li.message[data-seq="60"]').waitFor();
    // Each row drawn so far marked; how many of them are still in the list, marked, later.
    await page.$$eval('#message-list > li', (rows) => {
      for (const li of rows) li.dataset.drawn = 'before';
    });
    const kept = () => page.$$eval('#message-list > li[data-drawn="before"]', (rows) => rows.length);
    const rows = await kept();
    const offset = (seq: number) =>
      page.$eval(`#message-list li.message[data-seq="${seq}"]`, (li) =>
        Math.round(
          li.getBoundingClientRect().top - document.getElementById('messages')!.getBoundingClientRect().top,
        ),
      );
    // Scrolled back (far from the end, where a new message would scroll to it).
    await page.$eval('#message-list li.message[data-seq="25"]', (li) =>
      li.scrollIntoView({ block: 'start' }),
    );
    const at = await offset(25);
    bob.send({ v: 2, type: 'send', id: 'm61', room: 'general', text: 'line 61' });
    await page.locator('#message-list li.message[data-seq="61"]').waitFor();
    expect(await kept()).toBe(rows);
    expect(await offset(25)).toBe(at);
    bob.send({ v: 2, type: 'react', room: 'general', target: 45, emoji: '👍', on: true });
    await page.locator('#message-list li.message[data-seq="45"] [data-emoji="👍"]').waitFor();
    // The row reacted to is drawn again: the others are kept.
    expect(await kept()).toBe(rows - 1);
    expect(await offset(25)).toBe(at);
    // At the top, the older page comes above: the rows are kept (but 11, now in the group of bob's
    // 10 before it: no name, no avatar), and the ones read stay put.
    const first = await page.$eval('#messages', (box) => {
      box.scrollTop = 0;
      const li = document.querySelector('#message-list li.message[data-seq="12"]') as HTMLElement;
      return Math.round(li.getBoundingClientRect().top - box.getBoundingClientRect().top);
    });
    await page.locator('#message-list li.message[data-seq="1"]').waitFor();
    expect(await kept()).toBe(rows - 2);
    expect(await page.isVisible('#message-list li.message[data-seq="11"] .avatar')).toBe(false);
    expect(await offset(12)).toBe(first);
  });

  it('lays out only the messages in sight, and opens a long room at its very end; a reply\u2019s original is shown whole', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 100, perSecond: 100 } } });
    const bob = await TestClient.user(server.origin, 'bob');
    // Three lines each: taller than the one line a message not yet seen counts as (style.css).
    for (let i = 1; i <= 50; i++)
      await bob.request('ack', {
        type: 'send',
        id: `m${i}`,
        room: 'general',
        text: `line ${i}\nsecond line\nthird line`,
      });
    await bob.request('ack', { type: 'send', id: 'm51', room: 'general', text: 'about 3', replyTo: 3 });
    // The background lay-out (idle steps) held: what the first draw itself lays out is seen.
    const { page } = await signIn(chrome.browser, server.origin, 'alice', { initScript: holdIdle });
    await page.locator('#message-list li.message[data-seq="51"]').waitFor();
    // Two frames drawn: what comes in sight is laid out by then (a barrier, no time waited).
    const frames = () =>
      page.evaluate(
        () => new Promise<void>((done) => requestAnimationFrame(() => requestAnimationFrame(() => done()))),
      );
    /** How far row `seq` is from the conversation's top and bottom edges (>= 0: inside). */
    const inside = (seq: number) =>
      page.$eval(`#message-list li.message[data-seq="${seq}"]`, (li) => {
        const r = li.getBoundingClientRect();
        const b = (document.getElementById('messages') as HTMLElement).getBoundingClientRect();
        return { top: Math.round(r.top - b.top), bottom: Math.round(b.bottom - r.bottom) };
      });
    // A row out of sight keeps its own box (its height guessed): its content is what is skipped.
    const laidOut = (seq: number) =>
      page.$eval(`#message-list li.message[data-seq="${seq}"] .text`, (text) =>
        text.checkVisibility({ contentVisibilityAuto: true }),
      );
    await frames();
    // At the very end: the last message whole, nothing below it.
    expect(await page.$eval('#messages', (b) => b.scrollHeight - b.scrollTop - b.clientHeight)).toBeLessThan(
      2,
    );
    expect((await inside(51)).bottom).toBeGreaterThanOrEqual(0);
    expect(await laidOut(51)).toBe(true);
    // Far above, out of sight: not laid out (a room of 3,300 messages drew in seconds).
    expect(await laidOut(5)).toBe(false);
    expect(await page.$eval('li.message[data-seq="5"]', (li) => li.textContent)).toContain('line 5');
    // The quote shows the original in the middle, whole, though never laid out before.
    await page.click('#message-list li.message[data-seq="51"] .reply-quote');
    await frames();
    const shown = await inside(3);
    expect(shown.top).toBeGreaterThanOrEqual(0);
    expect(shown.bottom).toBeGreaterThanOrEqual(0);
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.seq)).toBe('3');
    expect(await laidOut(3)).toBe(true);
  });

  it('lays out every message once the page is idle, the message being read held at its place', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 100, perSecond: 100 } } });
    const bob = await TestClient.user(server.origin, 'bob');
    // Three lines each: taller than the one line a message not yet laid out counts as (style.css).
    for (let i = 1; i <= 100; i++)
      await bob.request('ack', {
        type: 'send',
        id: `m${i}`,
        room: 'general',
        text: `line ${i}\nsecond line\nthird line`,
      });
    const { page } = await signIn(chrome.browser, server.origin, 'alice', { initScript: holdIdle });
    await page.locator('#message-list li.message[data-seq="100"]').waitFor();
    const frames = () =>
      page.evaluate(
        () => new Promise<void>((done) => requestAnimationFrame(() => requestAnimationFrame(() => done()))),
      );
    const laidOut = (seq: number) =>
      page.$eval(`#message-list li.message[data-seq="${seq}"] .text`, (text) =>
        text.checkVisibility({ contentVisibilityAuto: true }),
      );
    /** Where message 51 (the first of the page opened with) is from the conversation's top edge. */
    const offset = () =>
      page.$eval('#message-list li.message[data-seq="51"]', (li) => {
        const box = document.getElementById('messages') as HTMLElement;
        return li.getBoundingClientRect().top - box.getBoundingClientRect().top;
      });
    const scrollTop = () => page.$eval('#messages', (box) => box.scrollTop);
    await frames();
    // An older page comes in above what is read (pressed with the keyboard: see chat.test.ts):
    // its rows never seen, counted one line tall.
    await page.focus('#load-older');
    await page.keyboard.press('Enter');
    await page.locator('#message-list li.message[data-seq="1"]').waitFor();
    await frames();
    // (Chromium lays out rows within some way of the view too: 5 is far enough.)
    expect(await laidOut(5)).toBe(false);
    const reading = await offset();
    const before = await scrollTop();
    // The idle steps run one at a time: after each, message 51 is where it was.
    let steps = 0;
    while (await page.evaluate(() => (window as unknown as { runIdle(): boolean }).runIdle())) {
      steps++;
      await frames();
      expect(Math.abs((await offset()) - reading)).toBeLessThan(1);
    }
    expect(steps).toBeGreaterThan(0);
    // The rows above grew from their guess (one line) to their three: the scroll followed them.
    expect(await scrollTop()).toBeGreaterThan(before + 200);
    for (const seq of [1, 5, 50, 51, 100]) expect(await laidOut(seq)).toBe(true);
    expect(
      await page.$$eval('#message-list li.message', (rows) =>
        rows.filter((li) => (li as HTMLElement).dataset.laid === undefined).map((li) => li.textContent),
      ),
    ).toEqual([]);
  });

  it('shows Edit and Delete only on hover or focus of one\u2019s own messages, asks before deleting, and dates the edit', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await sendMessage(bob.page, 'from bob');
    await sendMessage(alice.page, 'a typo hree');
    await waitForMessages(alice.page, 2);
    await waitForMessages(bob.page, 2);
    const seq = await seqOf(alice.page, 'a typo hree');
    const mine = alice.page.locator(`#message-list li[data-seq="${seq}"]`);
    // Edit and Delete only for one's own messages (anyone's can be reacted and replied to).
    expect(
      await alice.page
        .locator('#message-list li:not(.mine) .edit, #message-list li:not(.mine) .delete')
        .count(),
    ).toBe(0);
    expect(await alice.page.locator('#message-list li:not(.mine) .reply').count()).toBe(1);
    await alice.page.mouse.move(0, 0);
    const opacity = () => mine.locator('.actions').evaluate((n) => getComputedStyle(n).opacity);
    expect(await opacity()).toBe('0');
    await mine.hover();
    await alice.page.waitForFunction(
      (s) =>
        getComputedStyle(document.querySelector(`li[data-seq="${s}"] .actions`) as Element).opacity === '1',
      seq,
    );
    await clickTool(mine, '.edit');
    await alice.page.fill('#composer-input', 'a typo here');
    await alice.page.keyboard.press('Enter');
    await bob.page.waitForSelector(`#message-list li[data-seq="${seq}"] .edited`);
    expect(await bob.page.getAttribute(`li[data-seq="${seq}"] .edited`, 'title')).toMatch(/^Edited .+/);
    expect(await messageTexts(bob.page)).toEqual(['from bob', 'a typo here']);

    // Delete asks; Cancel keeps the message.
    await clickTool(mine, '.delete');
    expect(await mine.locator('.question').textContent()).toBe('Delete this message?');
    await mine.locator('.cancel-delete').click();
    expect(await mine.locator('.confirm-delete').count()).toBe(0);
    expect(await alice.page.locator('li.deleted').count()).toBe(0);
    await deleteMessage(alice.page, seq);
    await bob.page.waitForSelector(`#message-list li[data-seq="${seq}"].deleted`);
    await alice.context.close();
    await bob.context.close();
  });

  it('renders *bold*, _italic_, `code`, code blocks, quotes and links, and markup as text', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await sendMessage(
      alice.page,
      '> quoted *loud*\n_soft_ and `x < y` at https://example.com/a_b\n```\n<b>raw</b>\n```',
    );
    await sendMessage(
      alice.page,
      '*<img src=x onerror=alert(1)>* `<script>alert(2)</script>` _<svg onload=alert(3)>_',
    );
    await waitForMessages(bob.page, 2);
    const html = await bob.page.$$eval('#message-list li.message .text', (n) =>
      n.map((x) => [...x.querySelectorAll('*')].map((e) => e.tagName.toLowerCase())),
    );
    expect(html[0]).toEqual(['blockquote', 'p', 'strong', 'p', 'em', 'code', 'a', 'pre', 'code']);
    expect(await bob.page.textContent('li.message pre')).toBe('<b>raw</b>');
    expect(await bob.page.getAttribute('li.message a', 'href')).toBe('https://example.com/a_b');
    expect(html[1]).toEqual(['p', 'strong', 'code', 'em']);
    expect(await messageTexts(bob.page).then((t) => t[1])).toBe(
      '<img src=x onerror=alert(1)> <script>alert(2)</script> <svg onload=alert(3)>',
    );
    expect(await bob.page.locator('#message-list img, #message-list script, #message-list svg').count()).toBe(
      0,
    );
    await alice.context.close();
    await bob.context.close();
  });

  it('follows the system colour scheme, and the toggle chooses one that stays after a reload', async () => {
    const server = await startTestServer();
    const dark = await signIn(chrome.browser, server.origin, 'dana', { colorScheme: 'dark' });
    const light = await signIn(chrome.browser, server.origin, 'lee', { colorScheme: 'light' });
    const background = (page: Page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(await dark.page.getAttribute('html', 'data-theme')).toBe('dark');
    expect(await light.page.getAttribute('html', 'data-theme')).toBe('light');
    expect(await background(dark.page)).toBe('rgb(21, 24, 28)');
    expect(await background(light.page)).toBe('rgb(246, 247, 249)');
    await light.page.click('#theme-toggle');
    expect(await light.page.getAttribute('html', 'data-theme')).toBe('dark');
    expect(await light.page.getAttribute('#theme-toggle', 'aria-pressed')).toBe('true');
    await light.page.reload();
    await light.page.waitForSelector('#status[data-state="online"]');
    expect(await background(light.page)).toBe('rgb(21, 24, 28)');
    // Links take the theme's colour.
    await sendMessage(dark.page, 'see https://example.com');
    await light.page.waitForSelector('#message-list a');
    const linkColour = await light.page.$eval('#message-list a', (a) => getComputedStyle(a).color);
    expect(['rgb(138, 180, 248)', 'rgb(197, 138, 249)']).toContain(linkColour);
    // The favicon is served.
    const icon = await light.page.evaluate(async () =>
      (await fetch('/favicon.svg')).headers.get('content-type'),
    );
    expect(icon).toBe('image/svg+xml');
    await dark.context.close();
    await light.context.close();
  });

  it('on a phone, rooms and the people panel are drawers and the composer stays on screen', async () => {
    const server = await startTestServer();
    const phone = await signIn(chrome.browser, server.origin, 'pat', {
      viewport: { width: 390, height: 844 },
      isMobile: true,
    });
    const other = await signIn(chrome.browser, server.origin, 'quinn');
    expect(await phone.page.isVisible('#room-form')).toBe(false);
    expect(await phone.page.isVisible('#online-list')).toBe(false);
    await phone.page.click('#menu-toggle');
    await phone.page.waitForSelector('#room-form', { state: 'visible' });
    expect(await phone.page.getAttribute('#menu-toggle', 'aria-expanded')).toBe('true');
    await phone.page.fill('#room-input', 'mobile');
    await phone.page.press('#room-input', 'Enter');
    await phone.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#mobile');
    // Opening a room closes the drawer.
    await phone.page.waitForSelector('#room-form', { state: 'hidden' });
    await phone.page.click('#menu-toggle');
    await phone.page.waitForSelector('#room-list', { state: 'visible' });
    await phone.page.keyboard.press('Escape');
    await phone.page.waitForSelector('#room-list', { state: 'hidden' });
    await openRoom(other.page, 'mobile');
    await phone.page.click('#online-toggle');
    await phone.page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLElement>('#online-list li')].some(
        (li) => li.dataset.user === 'quinn' && !li.classList.contains('offline'),
      ),
    );
    expect(await phone.page.isVisible('#online-list')).toBe(true);
    await phone.page.click('#backdrop', { position: { x: 20, y: 400 } });
    await phone.page.waitForSelector('#online-list', { state: 'hidden' });
    // The on-screen keyboard shrinks the viewport: the composer stays in view, at the bottom.
    for (const height of [844, 420]) {
      await phone.page.setViewportSize({ width: 390, height });
      await phone.page.waitForFunction(
        (h) =>
          Math.abs((document.querySelector('#composer') as Element).getBoundingClientRect().bottom - h) < 2,
        height,
      );
    }
    await sendMessage(phone.page, 'typed on a phone');
    await waitForMessages(other.page, 1);
    const overflow = await phone.page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.context.close();
    await other.context.close();
  });

  it('works from the keyboard: shortcut list, rooms, messages, and focus kept when the room list is redrawn', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await openRoom(alice.page, 'random');
    await openRoom(bob.page, 'random');
    await alice.page.click('#room-list button[data-room="general"]');
    // `?` outside a text field opens the list; Esc closes it.
    await alice.page.focus('#room-list button[data-room="general"]');
    await alice.page.keyboard.press('?');
    await alice.page.waitForSelector('#shortcuts[open]');
    await alice.page.keyboard.press('Escape');
    await alice.page.waitForSelector('#shortcuts:not([open])', { state: 'attached' });
    // The room list is redrawn (a badge arrives): the focus stays on the same room's button.
    await alice.page.focus('#room-list button[data-room="general"]');
    await sendMessage(bob.page, 'redraw');
    await alice.page.waitForSelector('#room-list button[data-room="random"] .badge');
    expect(await alice.page.evaluate(() => (document.activeElement as HTMLElement).dataset.room)).toBe(
      'general',
    );
    // Alt+↓ goes to the next room.
    await alice.page.keyboard.press('Alt+ArrowDown');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#random');
    // Send, then ↑ in the empty composer edits the last own message.
    await alice.page.focus('#composer-input');
    await sendMessage(alice.page, 'first draft');
    await waitForMessages(alice.page, 2);
    await alice.page.keyboard.press('ArrowUp');
    expect(await alice.page.inputValue('#composer-input')).toBe('first draft');
    await alice.page.keyboard.press('Escape');
    expect(await alice.page.isHidden('#edit-banner')).toBe(true);
    // Shift+Tab from the composer reaches the conversation: the last message's tools, then the
    // message itself (the list is one Tab stop).
    const focused = () =>
      alice.page.evaluate(() => (document.activeElement as HTMLElement).dataset.seq ?? null);
    const stops: string[] = [];
    for (let i = 0; i < 5; i++) {
      await alice.page.keyboard.press('Shift+Tab');
      stops.push(await alice.page.evaluate(() => (document.activeElement as HTMLElement).className));
    }
    expect(stops).toEqual(['tool delete', 'tool edit', 'tool reply', 'tool react', 'message first mine']);
    const last = await seqOf(alice.page, 'first draft');
    expect(await focused()).toBe(String(last));
    await alice.page.keyboard.press('ArrowUp');
    expect(await focused()).toBe(String(await seqOf(alice.page, 'redraw')));
    await alice.page.keyboard.press('ArrowDown');
    // Delete from the keyboard: the question takes the focus; Tab to Delete, Enter.
    await alice.page.keyboard.press('Delete');
    await alice.page.waitForSelector(`li[data-seq="${last}"] .cancel-delete:focus`);
    await alice.page.keyboard.press('Shift+Tab');
    await alice.page.keyboard.press('Enter');
    await bob.page.waitForSelector(`li[data-seq="${last}"].deleted`);
    await alice.context.close();
    await bob.context.close();
  });

  it('lists direct messages apart, starts one from a name in the conversation, and lets the owner delete a room', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await sendMessage(bob.page, 'ping me');
    await waitForMessages(alice.page, 1);
    await alice.page.click('#message-list li.first button.user');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '@bob');
    expect(await alice.page.$$eval('#dm-list button .name', (n) => n.map((x) => x.textContent))).toEqual([
      '@bob',
    ]);
    expect(await alice.page.$$eval('#room-list button .name', (n) => n.map((x) => x.textContent))).toEqual([
      '#general',
    ]);
    expect(await alice.page.isHidden('#delete-room')).toBe(true);

    await openRoom(alice.page, 'temp');
    await openRoom(bob.page, 'temp');
    expect(await bob.page.isHidden('#delete-room')).toBe(true);
    await alice.page.click('#delete-room');
    await alice.page.click('#delete-room-yes');
    await alice.page.waitForFunction(() => !document.querySelector('#room-list button[data-room="temp"]'));
    expect(await title(alice.page)).not.toBe('#temp');
    await bob.page.waitForFunction(() => !document.querySelector('#room-list button[data-room="temp"]'));
    await bob.page.waitForFunction(
      () => document.querySelector('#room-error')?.textContent === '#temp was deleted by its owner',
    );
    await alice.context.close();
    await bob.context.close();
  });
});

describe('screenshots', () => {
  it('takes the README\u2019s light, dark and phone screenshots', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 100, perSecond: 100 } } });
    const alice = await signIn(chrome.browser, server.origin, 'alice', { colorScheme: 'light' });
    const bob = await signIn(chrome.browser, server.origin, 'bob', { colorScheme: 'dark' });
    await openRoom(alice.page, 'release');
    await openRoom(bob.page, 'release');
    await alice.page.click('#room-list button[data-room="general"]');
    await alice.page.click('#room-list button[data-room="release"]');
    await sendMessage(alice.page, 'Morning! The release notes are at https://example.com/notes.');
    await sendMessage(
      alice.page,
      'Run `npm test` first, *then* the browser suite:\n```\nnpm run test:e2e\n```',
    );
    const notes = await seqOf(bob.page, 'Morning! The release notes are at https://example.com/notes.');
    await waitForMessages(bob.page, 2);
    for (const emoji of ['🎉', '👀']) {
      const item = bob.page.locator(`#message-list li[data-seq="${notes}"]`);
      await clickTool(item, '.react');
      await bob.page.click(`#reaction-picker .pick:text-is("${emoji}")`);
    }
    await alice.page.click(`li[data-seq="${notes}"] .reaction[data-emoji="🎉"]`);
    const item = bob.page.locator('#message-list li.message').nth(1);
    await clickTool(item, '.reply');
    await sendMessage(bob.page, '@alice done — all green _on both backends_ ✅');
    await sendMessage(bob.page, 'שלום! Hebrew and Arabic align right: مرحبا');
    await waitForMessages(alice.page, 4);
    await waitForMessages(bob.page, 4);
    await bob.page.waitForSelector(`li[data-seq="${notes}"] .reaction[data-emoji="🎉"] .count:text-is("2")`);
    await sendMessage(alice.page, 'Thanks! Shipping it.');
    await waitForMessages(bob.page, 5);
    mkdirSync(screenshotDir, { recursive: true });
    await alice.page.locator('#message-list li.mine').last().hover();
    await alice.page.screenshot({ path: join(screenshotDir, 'chat-light.png') });
    await bob.page.mouse.move(0, 0);
    await bob.page.screenshot({ path: join(screenshotDir, 'chat-dark.png') });
    const phone = await signIn(chrome.browser, server.origin, 'pat', {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      colorScheme: 'light',
    });
    await phone.page.click('#menu-toggle');
    await phone.page.fill('#room-input', 'release');
    await phone.page.press('#room-input', 'Enter');
    await waitForMessages(phone.page, 5);
    await phone.page.screenshot({ path: join(screenshotDir, 'chat-phone.png') });
    // A code block, a reply quote and long words wrap or scroll inside the column: nothing sideways.
    expect(await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBe(0);
    await alice.context.close();
    await bob.context.close();
    await phone.context.close();
  });
});
