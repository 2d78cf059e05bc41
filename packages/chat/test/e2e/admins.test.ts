/**
 * A server admin (--admin) from the page: in `general`, which has no owner, the people panel shows
 * the Banned section with "Ban someone"; the admin bans bob, who is offline, by name; the admin's
 * other tab shows him on its Banned list at once (the server tells every moderator's tabs); bob's
 * join of general is then refused with the server's words; an Unban in the second tab empties the
 * first tab's list. The panel passes axe. And the admin deletes bob's message in general from its
 * tools (Delete, no Edit), for everyone.
 */
import { describe, expect, it } from 'vitest';
import { register, startTestServer } from '../helpers.js';
import { axeViolations } from './axe.js';
import { deleteMessage, sendMessage, seqOf, signIn, useBrowser } from './browser.js';

const chrome = useBrowser();

describe('a server admin on the page', () => {
  it('bans an offline user from general by name; the other tab follows; their join is refused', async () => {
    const server = await startTestServer({ admins: ['root'] });
    await register(server.origin, 'bob', 'browser password');
    const root = await signIn(chrome.browser, server.origin, 'root');
    const tab2 = await root.context.newPage();
    await tab2.goto(server.origin);
    await tab2.waitForSelector('#status[data-state="online"]');
    for (const page of [root.page, tab2])
      await page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#general');

    // The Banned section, empty, with its form (the list itself hidden).
    for (const page of [root.page, tab2]) {
      await page.waitForSelector('#bans:not([hidden])');
      expect(await page.isHidden('#ban-list')).toBe(true);
    }
    expect(await root.page.textContent('label[for="ban-input"]')).toBe('Ban someone');
    expect(await axeViolations(root.page)).toEqual([]);

    await root.page.fill('#ban-input', 'bob');
    await root.page.press('#ban-input', 'Enter');
    await root.page.waitForSelector('#ban-list li[data-user="bob"]');
    expect(await root.page.inputValue('#ban-input')).toBe('');
    // The other tab, live.
    await tab2.waitForSelector('#ban-list li[data-user="bob"]');
    expect(await server.backend.rooms.bans('general', '', 10)).toEqual(['bob']);

    // bob signs in: general is not his any more, and his join of it is refused.
    const bob = await signIn(chrome.browser, server.origin, 'bob', { existing: true });
    expect(await bob.page.locator('#room-list button[data-room="general"]').count()).toBe(0);
    await bob.page.fill('#room-input', 'general');
    await bob.page.press('#room-input', 'Enter');
    await bob.page.waitForFunction(
      () => document.querySelector('#room-error')?.textContent === 'You are banned from #general.',
    );
    expect(await server.backend.rooms.isMember('bob', 'general')).toBe(false);

    // Unban in the second tab: the first tab's list empties too.
    await tab2.locator('#ban-list li[data-user="bob"] .unban-user').click();
    await root.page.waitForFunction(() => document.querySelector('#ban-list li') === null);
    expect(await root.page.isHidden('#ban-list')).toBe(true);
    // bob's page is told the ban was lifted.
    await bob.page.waitForFunction(
      () => document.querySelector('#room-error')?.textContent === 'You may join #general again.',
    );
    await root.context.close();
    await bob.context.close();
  });

  it("deletes another user's message in general from its tools, for everyone", async () => {
    const server = await startTestServer({ admins: ['root'] });
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    const root = await signIn(chrome.browser, server.origin, 'root');
    await sendMessage(bob.page, 'buy now');
    const seq = await seqOf(root.page, 'buy now');
    const item = root.page.locator(`#message-list li.message[data-seq="${seq}"]`);
    expect(await item.locator('.tool.edit').count()).toBe(0);
    await deleteMessage(root.page, seq);
    for (const page of [root.page, bob.page])
      await page.waitForSelector(`#message-list li.message.deleted[data-seq="${seq}"]`);
    const stored = await server.backend.rooms.messagesAfter('general', seq - 1, 1);
    await root.context.close();
    await bob.context.close();
    expect(stored).toMatchObject([{ seq, deleted: true }]);
  });
});
