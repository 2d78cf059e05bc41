/**
 * Search and attachments in a real browser, with two users: search finds messages across rooms
 * with the words highlighted (as text, never HTML) and a click opens the room at the message even
 * when it is pages back.
 */
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, startTestServer, TestClient } from '../helpers.js';
import { launch, signIn } from './browser.js';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(cleanup);

const fast = { burst: 500, perSecond: 500 };

async function say(client: TestClient, room: string, id: string, text: string): Promise<void> {
  const ack = await client.request('ack', { type: 'send', id, room, text });
  if (ack.type !== 'ack') throw new Error(`send refused: ${JSON.stringify(ack)}`);
}

describe('search in the page', () => {
  it('finds a message pages back, highlights the words as text, and jumps to it in its room', async () => {
    const server = await startTestServer({ limits: { messageRate: fast, roomRate: fast } });
    const carol = await TestClient.user(server.origin, 'carol');
    // The hit is the oldest of 120 messages: three history pages back from the latest.
    await say(carol, 'general', 'needle', 'the <b>needle</b> is <img src=x onerror="window.pwned=1"> here');
    for (let i = 0; i < 120; i++) await say(carol, 'general', `hay${i}`, `hay number ${i}`);
    const { page } = await signIn(browser, server.origin, 'bob');
    await page.waitForSelector('#message-list li.message');

    await page.fill('#search-input', 'NEEDLE');
    await page.press('#search-input', 'Enter');
    const hit = page.locator('#search-results .search-hit');
    await hit.waitFor();
    expect(await hit.count()).toBe(1);
    expect(await hit.locator('.search-room').textContent()).toBe('#general');
    expect(await hit.locator('.search-user').textContent()).toBe('carol');
    expect(await hit.locator('mark').allTextContents()).toEqual(['needle']);
    expect(await hit.locator('.search-text').textContent()).toBe(
      'the <b>needle</b> is <img src=x onerror="window.pwned=1"> here',
    );
    expect(await page.locator('#search-results img, #search-results b').count()).toBe(0);
    expect(await page.locator('#search-results .search-status').textContent()).toBe(
      '1 message with “NEEDLE”',
    );

    await hit.click();
    const target = page.locator('#message-list li.message[data-seq="1"]');
    await target.waitFor();
    expect(await target.evaluate((node) => node.classList.contains('search-target'))).toBe(true);
    expect(await target.evaluate((node) => document.activeElement === node)).toBe(true);
    // The message is scrolled into the visible part of the conversation.
    expect(
      await target.evaluate((node) => {
        const box = document.getElementById('messages')!.getBoundingClientRect();
        const r = node.getBoundingClientRect();
        return r.bottom > box.top && r.top < box.bottom;
      }),
    ).toBe(true);
    expect(await page.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined();

    // No hit: said so; Escape closes the panel.
    await page.fill('#search-input', 'nothing matches this');
    await page.press('#search-input', 'Enter');
    await page.waitForFunction(
      () =>
        document.querySelector('#search-results .search-status')?.textContent ===
        'No messages with “nothing matches this”.',
    );
    await page.press('#search-input', 'Escape');
    expect(await page.locator('#search-results').isHidden()).toBe(true);
  });

  it('searches the rooms of the user only, and opens the other room of a hit', async () => {
    const server = await startTestServer({ limits: { messageRate: fast, roomRate: fast } });
    const { page: alice } = await signIn(browser, server.origin, 'alice');
    const { page: bob } = await signIn(browser, server.origin, 'bob');
    const carol = await TestClient.user(server.origin, 'carol');
    await carol.request('joined', { type: 'create', room: 'kitchen' });
    await say(carol, 'kitchen', 'k1', 'the soup recipe');
    // Alice joins kitchen through the page; bob does not.
    await alice.fill('#room-input', 'kitchen');
    await alice.press('#room-input', 'Enter');
    await alice.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#kitchen');
    await alice.click('#room-list button[data-room="general"]');
    await alice.fill('#search-input', 'soup');
    await alice.press('#search-input', 'Enter');
    await alice.locator('#search-results .search-hit').waitFor();
    await alice.click('#search-results .search-hit');
    await alice.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#kitchen');
    await alice.locator('#message-list li.message[data-seq="1"].search-target').waitFor();

    await bob.fill('#search-input', 'soup');
    await bob.press('#search-input', 'Enter');
    await bob.waitForFunction(
      () =>
        document.querySelector('#search-results .search-status')?.textContent === 'No messages with “soup”.',
    );
  });
});
