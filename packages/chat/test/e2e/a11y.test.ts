/**
 * Accessibility of the chat page, checked by axe-core (axe.ts) in the running page: no serious or
 * critical violation in the sign-in view, in a room with messages (one's own and others', a
 * reply, reactions, a mention, an attachment, a message's tools shown, the reaction picker and
 * the shortcut list open), in the light and the dark theme, and on a phone-sized screen with its
 * drawers. No rule is disabled: what axe finds is fixed in the page.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { png } from '../attachments/files.js';
import { startTestServer } from '../helpers.js';
import { axeViolations } from './axe.js';
import { give, sendMessage, seqOf, signIn, useBrowser, waitForMessages } from './browser.js';

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
  await sendMessage(bob, 'Thanks, looks right');
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
  });

  it('a phone-sized screen: the conversation and both drawers', async () => {
    const server = await startTestServer();
    const bob = await signIn(chrome.browser, server.origin, 'bob', { colorScheme: 'dark' });
    const phone = await signIn(chrome.browser, server.origin, 'pat', {
      viewport: { width: 390, height: 844 },
      isMobile: true,
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
    await audit(phone.page, 'phone online drawer', found);
    expect(found).toEqual([]);
    await phone.context.close();
    await bob.context.close();
  });
});
