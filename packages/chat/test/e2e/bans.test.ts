/**
 * Bans from a public room, from the page: the owner's "Remove" in the people panel of a public room
 * asks first, saying the user cannot come back until unbanned; the removed user's page drops the
 * room and says so, and their join (from the room form) is refused, said in the page's words; the
 * owner's Banned list at the end of the people panel has Unban, after which the user's page says
 * they may join again, and they do. "Ban someone" offers the names the page knows in the room.
 * The panel with its Banned list passes axe.
 */
import { describe, expect, it } from 'vitest';
import { startTestServer } from '../helpers.js';
import { axeViolations } from './axe.js';
import { openRoom, signIn, useBrowser } from './browser.js';

const chrome = useBrowser();

describe('bans from a public room', () => {
  it("the owner removes bob; bob's page leaves the room and his join is refused; unban lets him back", async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await openRoom(alice.page, 'lobby'); // made by her (join or create): she owns it
    await openRoom(bob.page, 'lobby');

    // Only the owner sees Remove, and not beside her own name; no Banned list while there is none
    // (its section, with "Ban someone", is hers only).
    await bob.page.waitForSelector('#online-list li[data-user="alice"]');
    expect(await bob.page.locator('#online-list .remove-member').count()).toBe(0);
    const remove = alice.page.locator('#online-list li[data-user="bob"] .remove-member');
    await remove.waitFor();
    expect(await alice.page.locator('#online-list li[data-user="alice"] .remove-member').count()).toBe(0);
    expect(await alice.page.isHidden('#ban-list')).toBe(true);
    expect(await alice.page.isVisible('#ban-form')).toBe(true);
    expect(await bob.page.isHidden('#bans')).toBe(true);
    // "Ban someone" offers the names the page knows in the room: bob, not alice herself.
    await alice.page.focus('#ban-input');
    expect(
      await alice.page.$$eval('#ban-names option', (os) => os.map((o) => (o as HTMLOptionElement).value)),
    ).toEqual(['bob']);

    // Asked first, in words that say what a removal from a public room does.
    await remove.click();
    expect(await alice.page.textContent('#online-list .remove-confirm .question')).toBe(
      'Remove bob from #lobby? They cannot come back until you unban them.',
    );
    await alice.page.locator('#online-list .confirm-remove').click();

    // bob's page: the room is gone and he is told; joining again is refused with the server's words.
    await bob.page.waitForFunction(
      () => document.querySelector('#room-error')?.textContent === 'You were removed from #lobby',
    );
    expect(await bob.page.locator('#room-list button[data-room="lobby"]').count()).toBe(0);
    await bob.page.fill('#room-input', 'lobby');
    await bob.page.press('#room-input', 'Enter');
    await bob.page.waitForFunction(
      () => document.querySelector('#room-error')?.textContent === 'You are banned from #lobby.',
    );
    expect(await bob.page.textContent('#room-title')).toBe('#general');
    expect(await server.backend.rooms.isMember('bob', 'lobby')).toBe(false);

    // alice's page: bob is out of the people list and on the Banned list, with Unban.
    await alice.page.waitForFunction(
      () => document.querySelector('#online-list li[data-user="bob"]') === null,
    );
    await alice.page.waitForSelector('#ban-list li[data-user="bob"]');
    expect(await alice.page.isVisible('#ban-list')).toBe(true);
    expect(await alice.page.textContent('#bans-title')).toBe('Banned');
    const unban = alice.page.locator('#ban-list li[data-user="bob"] .unban-user');
    expect(await unban.getAttribute('aria-label')).toBe('Unban bob');
    expect(await axeViolations(alice.page)).toEqual([]);

    // A reload finds the list again (asked for when the room is opened).
    await alice.page.reload();
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#lobby');
    await alice.page.waitForSelector('#ban-list li[data-user="bob"]');

    // Unban: the list empties (and hides), alice is told, and bob joins.
    await alice.page.locator('#ban-list li[data-user="bob"] .unban-user').click();
    await alice.page.waitForFunction(() => document.querySelector('#ban-list li') === null);
    expect(await alice.page.isHidden('#ban-list')).toBe(true);
    expect(await alice.page.textContent('#room-error')).toBe('bob can join #lobby again.');
    // bob's page is told, in place of his refused join.
    await bob.page.waitForFunction(
      () => document.querySelector('#room-error')?.textContent === 'You may join #lobby again.',
    );
    // The focus, on the Unban that went, is not lost to the page.
    expect(await alice.page.evaluate(() => document.activeElement?.id)).toBe('composer-input');
    await openRoom(bob.page, 'lobby');
    expect(await server.backend.rooms.isMember('bob', 'lobby')).toBe(true);
    await alice.page.waitForSelector('#online-list li[data-user="bob"]');
    await alice.context.close();
    await bob.context.close();
  });
});
