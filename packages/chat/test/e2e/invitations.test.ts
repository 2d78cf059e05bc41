/**
 * An invitation on the page: alice invites bob to her private room, her page says it waits for
 * him; bob's page lists "alice invited you to #secret" (as text) with Accept and Decline, a reload
 * still lists it, and Accept puts him in the room, where each sees the other's messages.
 */
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers.js';
import { openRoom, sendMessage, signIn, useBrowser, waitForMessages } from './browser.js';

const chrome = useBrowser();

describe('invitations', () => {
  it('alice invites bob; bob sees it, accepts, and both see each other’s messages', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    expect(await bob.page.locator('#invitations').isHidden()).toBe(true);
    await alice.page.fill('#room-input', 'secret');
    await alice.page.check('#room-private');
    await alice.page.press('#room-input', 'Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#secret');
    await sendMessage(alice.page, 'welcome <b>bob</b>');
    await alice.page.fill('#invite-input', 'bob');
    await alice.page.press('#invite-input', 'Enter');
    await alice.page.waitForFunction(() =>
      document.querySelector('#room-error')?.textContent?.includes('waiting for them to accept'),
    );

    // bob's page lists it; he is not in the room yet.
    const item = bob.page.locator('#invitation-list li[data-room="secret"]');
    await item.waitFor();
    expect(await item.locator('.text').textContent()).toBe('alice invited you to #secret');
    expect(await bob.page.locator('#room-list button[data-room="secret"]').count()).toBe(0);
    expect(await server.backend.rooms.isMember('bob', 'secret')).toBe(false);
    // A reload (a new connection) still has it, from the welcome.
    await bob.page.reload();
    await item.waitFor();

    await item.locator('button.accept').click();
    await bob.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#secret');
    expect(await bob.page.locator('#invitations').isHidden()).toBe(true);
    expect(await bob.page.locator('#room-list button[data-room="secret"]').count()).toBe(1);
    // alice's message, as text (never HTML), then his answer on her page and hers on his.
    await waitForMessages(bob.page, 1);
    expect(await bob.page.locator('#message-list b').count()).toBe(0);
    await sendMessage(bob.page, 'thanks alice');
    await openRoom(alice.page, 'secret');
    await alice.page.waitForFunction(() => document.body.textContent?.includes('thanks alice'));
    await sendMessage(alice.page, 'you are in');
    await bob.page.waitForFunction(() => document.body.textContent?.includes('you are in'));
    expect(await bob.page.textContent('#message-list')).toContain('welcome <b>bob</b>');
  });
});
