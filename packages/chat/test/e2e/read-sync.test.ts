/**
 * The read state shared by a user's tabs in a real browser: reading a room in one tab clears its
 * unread and mention badges and the `(N)` of the title in the user's other tab, at once, without a
 * reconnect; a message that arrives after the read still counts there.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers.js';
import { openRoom, sendMessage, signIn, useBrowser } from './browser.js';

const chrome = useBrowser();

const badge = (page: Page, kind: 'unread' | 'mentions') =>
  page.locator(`#room-list button[data-room="general"] .badge.${kind}`);

describe('read in another tab', () => {
  it("clears the room's badges and the title's count in the user's other tab", async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 100, perSecond: 100 } } });
    const first = await signIn(chrome.browser, server.origin, 'alice');
    await openRoom(first.page, 'random');
    // The second tab: the same browser profile, so the same session.
    const second = await first.context.newPage();
    await second.goto(server.origin);
    await second.waitForSelector('#status[data-state="online"]');
    await openRoom(second, 'random');

    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await sendMessage(bob.page, '@alice lunch?');
    await sendMessage(bob.page, 'at noon');
    for (const page of [first.page, second]) {
      await badge(page, 'unread').filter({ hasText: /^2$/ }).waitFor();
      await badge(page, 'mentions').filter({ hasText: /^@1$/ }).waitFor();
      await page.waitForFunction(() => document.title === '(2) #random · Riptide chat');
    }

    // Read in the first tab: the second one's badges and title clear, with no reload.
    await first.page.click('#room-list button[data-room="general"]');
    await first.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#general');
    // The title names the open room.
    await first.page.waitForFunction(() => document.title === '#general · Riptide chat');
    await badge(second, 'unread').waitFor({ state: 'detached' });
    await badge(second, 'mentions').waitFor({ state: 'detached' });
    await second.waitForFunction(() => document.title === '#random · Riptide chat');
    expect(await second.textContent('#room-title')).toBe('#random');

    // After the read, a new message counts in the second tab again (the first one shows it).
    await sendMessage(bob.page, 'still there?');
    await badge(second, 'unread').filter({ hasText: /^1$/ }).waitFor();
    await second.waitForFunction(() => document.title === '(1) #random · Riptide chat');
    expect(await badge(second, 'mentions').count()).toBe(0);
  });
});
