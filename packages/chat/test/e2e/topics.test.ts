/**
 * Room topics, from the page: the owner's "Edit topic" in the header opens an input (Enter saves);
 * another user's page shows the topic under the room's name live, and again after a reload (from
 * `welcome`), and the conversation says who set it, live and after the reload (history's `events`); the owner clears it and both pages show none.
 * The header with its topic and the editor pass axe.
 */
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers.js';
import { axeViolations } from './axe.js';
import { openRoom, signIn, useBrowser } from './browser.js';

const chrome = useBrowser();

const TOPIC = 'Weekend hikes <b>and</b> lifts';

describe('room topics', () => {
  it('the owner sets the topic; the other page shows it live and after a reload, with a line in the conversation; cleared', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await openRoom(alice.page, 'trips'); // made by her (join or create): she owns it
    await openRoom(bob.page, 'trips');

    // Only the owner may edit it; no topic yet, no line for it.
    await alice.page.waitForSelector('#edit-topic:not([hidden])');
    expect(await bob.page.isHidden('#edit-topic')).toBe(true);
    expect(await bob.page.isHidden('#room-topic')).toBe(true);

    await alice.page.click('#edit-topic');
    expect(await alice.page.evaluate(() => document.activeElement?.id)).toBe('topic-input');
    expect(await axeViolations(alice.page)).toEqual([]);
    await alice.page.fill('#topic-input', `  ${TOPIC}  `);
    await alice.page.press('#topic-input', 'Enter');
    expect(await alice.page.evaluate(() => document.activeElement?.id)).toBe('edit-topic');

    // bob's page, live: under the name, as text, and a line in the conversation.
    await bob.page.waitForFunction((t) => document.querySelector('#room-topic')?.textContent === t, TOPIC);
    expect(await bob.page.isVisible('#room-topic')).toBe(true);
    expect(await bob.page.getAttribute('#room-topic', 'title')).toBe(TOPIC);
    expect(await bob.page.locator('#room-topic b').count()).toBe(0);
    await bob.page.waitForFunction(
      (t) =>
        [...document.querySelectorAll('#message-list li.notice')].some(
          (n) => n.textContent === `alice set the topic: ${t}`,
        ),
      TOPIC,
    );
    await alice.page.waitForFunction(
      (t) =>
        [...document.querySelectorAll('#message-list li.notice')].some(
          (n) => n.textContent === `You set the topic: ${t}`,
        ),
      TOPIC,
    );
    // One line: a long topic is cut, not wrapped.
    const line = await bob.page.evaluate(() => {
      const p = document.querySelector('#room-topic') as HTMLElement;
      return { nowrap: getComputedStyle(p).whiteSpace, overflow: getComputedStyle(p).textOverflow };
    });
    expect(line).toEqual({ nowrap: 'nowrap', overflow: 'ellipsis' });
    expect(await axeViolations(bob.page)).toEqual([]);

    // After a reload: the topic from the welcome, and its line in the conversation from the
    // history page (its `events`), as text.
    await bob.page.reload();
    await bob.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#trips');
    await bob.page.waitForFunction((t) => document.querySelector('#room-topic')?.textContent === t, TOPIC);
    expect(await bob.page.isVisible('#room-topic')).toBe(true);
    await bob.page.waitForFunction(
      (t) =>
        [...document.querySelectorAll('#message-list li.notice')].map((n) => n.textContent).join('|') ===
        `alice set the topic: ${t}`,
      TOPIC,
    );
    expect(await bob.page.locator('#message-list li.notice b').count()).toBe(0);

    // Cleared: no topic on either page, and the conversation says so.
    await alice.page.click('#edit-topic');
    expect(await alice.page.inputValue('#topic-input')).toBe(TOPIC);
    await alice.page.fill('#topic-input', '');
    await alice.page.press('#topic-input', 'Enter');
    await bob.page.waitForFunction(() =>
      [...document.querySelectorAll('#message-list li.notice')].some(
        (n) => n.textContent === 'alice cleared the topic',
      ),
    );
    expect(await bob.page.isHidden('#room-topic')).toBe(true);
    await alice.page.waitForSelector('#room-topic', { state: 'hidden' });
    expect((await server.backend.rooms.getRoom('trips'))?.topic).toBeUndefined();
    await alice.context.close();
    await bob.context.close();
  });
});
