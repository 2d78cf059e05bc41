/**
 * Blocking on the page, in Chromium: alice blocks bob from the people list. bob's message in their
 * direct message is refused, with the words said where the composer says what was not done and
 * under the message kept unsent (Edit, Discard; no Send again), and so is his new conversation with her; his message in #general reaches carol in full and shows
 * collapsed on alice's page ("Message from a blocked user — Show", as text), until she shows it.
 * The Account dialog lists him with Unblock.
 */
import { describe, expect, it } from 'vitest';
import { dmRoom } from '../../src/shared/protocol.js';
import { startTestServer } from '../helpers.js';
import { sendMessage, signIn, useBrowser } from './browser.js';

const chrome = useBrowser();

const REFUSAL = 'alice is not accepting messages or invitations from you';

describe('blocking', () => {
  it('alice blocks bob: his DM is refused with the words; his #general message collapsed for her, whole for carol', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    const carol = await signIn(chrome.browser, server.origin, 'carol');
    const dm = dmRoom('alice', 'bob');

    // bob opens a conversation with alice from the people list, before any block.
    const aliceInBobsList = bob.page.locator('#online-list li[data-user="alice"] button.link');
    await aliceInBobsList.click();
    await bob.page.waitForFunction(() =>
      document.querySelector('#room-title')?.textContent?.includes('alice'),
    );
    expect(await server.backend.rooms.isMember('bob', dm)).toBe(true);

    // alice blocks him from her people list (#general): the button then says Unblock.
    await alice.page.locator('#online-list li[data-user="bob"] button.block-user').click();
    await alice.page
      .locator('#online-list li[data-user="bob"] button.block-user', { hasText: 'Unblock' })
      .waitFor();
    expect(await server.backend.rooms.blockedUsers('alice')).toEqual(['bob']);

    // His message in their conversation: refused, the words in the composer's notice; not stored.
    await sendMessage(bob.page, 'are you there?');
    await bob.page.waitForFunction(
      (text) => document.querySelector('#composer-error')?.textContent === text,
      REFUSAL,
    );
    expect(await server.backend.rooms.head(dm)).toBe(0);
    // Kept unsent with the words, and with Edit and Discard but no Send again: sent unchanged, it
    // would be refused the same way (regression, blockleft: Send again was offered).
    const unsent = bob.page.locator('#message-list li.pending.failed');
    await unsent.locator('.failed-note .reason', { hasText: REFUSAL }).waitFor();
    expect(await unsent.locator('.failed-note button').allTextContents()).toEqual(['Edit', 'Discard']);

    // A new conversation with her, from #general's people list: refused with the same words.
    await bob.page.locator('#room-list button[data-room="general"]').click();
    await bob.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#general');
    await bob.page.locator('#online-list li[data-user="alice"] button.link').click();
    await bob.page.waitForFunction((text) => document.body.textContent?.includes(text), REFUSAL);

    // His message in #general: carol reads it; alice's page collapses it, as text.
    await sendMessage(bob.page, 'hello <b>everyone</b>');
    await carol.page.waitForFunction(() =>
      document.querySelector('#message-list')?.textContent?.includes('hello <b>everyone</b>'),
    );
    const hidden = alice.page.locator('#message-list li.blocked-message');
    await hidden.waitFor();
    expect(await hidden.textContent()).toBe('Message from a blocked user — Show');
    expect(await alice.page.textContent('#message-list')).not.toContain('everyone');
    // Show: that message in full, still as text.
    await hidden.locator('button.show-blocked').click();
    await alice.page.waitForFunction(() =>
      document.querySelector('#message-list')?.textContent?.includes('hello <b>everyone</b>'),
    );
    expect(await alice.page.locator('#message-list b').count()).toBe(0);

    // The Account dialog lists him, with Unblock.
    await alice.page.click('#account');
    const listed = alice.page.locator('#blocked-list li[data-user="bob"]');
    await listed.waitFor();
    await listed.locator('button').click();
    await alice.page.waitForFunction(() => document.querySelectorAll('#blocked-list li').length === 0);
    expect(await server.backend.rooms.blockedUsers('alice')).toEqual([]);
  });
});
