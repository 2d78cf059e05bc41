/**
 * Removing a member of a private room from the page: the owner's "Remove" in the people panel asks
 * first (keyboard only here), and the member's page loses the room, says why (visibly, in the
 * room error's live region) and keeps the text they were writing there in the unsent note. The
 * panel of a private room lists every member (`members`): online first, then offline ones, marked
 * so in words, whom the owner can remove too. On a phone, a refused Remove is said in the open
 * people drawer (on screen, one live region), and the focus stays in the drawer.
 */
import { describe, expect, it } from 'vitest';
import { acceptInvitation, register, startTestServer, TestClient } from '../helpers.js';
import { axeViolations } from './axe.js';
import { focused, openRoom, sendMessage, signIn, tabTo, useBrowser, waitForMessages } from './browser.js';

const chrome = useBrowser();

describe('remove a member', () => {
  it("the owner removes bob from the people panel; bob's page drops the room, says so, keeps his draft", async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    await alice.page.fill('#room-input', 'plans');
    await alice.page.check('#room-private');
    await alice.page.press('#room-input', 'Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#plans');
    await alice.page.fill('#invite-input', 'bob');
    await alice.page.press('#invite-input', 'Enter');
    await bob.page.click('#invitation-list li[data-room="plans"] button.accept');
    await bob.page.waitForSelector('#room-list button[data-room="plans"]');
    await openRoom(bob.page, 'plans');
    await sendMessage(bob.page, 'count me in');
    await waitForMessages(alice.page, 1);
    // bob starts another message and has not sent it when he is removed.
    await bob.page.fill('#composer-input', 'and my cousin too');

    // Nobody but the owner sees Remove, and the owner not beside her own name.
    await bob.page.waitForSelector('#online-list li[data-user="alice"]');
    expect(await bob.page.locator('#online-list .remove-member').count()).toBe(0);
    const remove = alice.page.locator('#online-list li[data-user="bob"] .remove-member');
    await remove.waitFor();
    expect(await alice.page.locator('#online-list li[data-user="alice"] .remove-member').count()).toBe(0);
    expect(await remove.getAttribute('aria-label')).toBe('Remove bob from #plans');

    // By keyboard: Remove asks, with the focus on Cancel; Cancel puts it back on Remove.
    await remove.focus();
    await alice.page.keyboard.press('Enter');
    await alice.page.waitForSelector('#online-list .remove-confirm');
    expect(await alice.page.textContent('#online-list .remove-confirm .question')).toBe(
      'Remove bob from #plans?',
    );
    expect(await alice.page.evaluate(() => document.activeElement?.classList.contains('cancel-remove'))).toBe(
      true,
    );
    await alice.page.keyboard.press('Enter');
    await remove.waitFor();
    expect(await alice.page.evaluate(() => document.activeElement?.classList.contains('remove-member'))).toBe(
      true,
    );
    expect(await server.backend.rooms.isMember('bob', 'plans')).toBe(true);
    // Asked again, and confirmed: Shift+Tab from Cancel reaches the question's Remove.
    await alice.page.keyboard.press('Enter');
    await alice.page.waitForSelector('#online-list .cancel-remove:focus');
    await alice.page.keyboard.press('Shift+Tab');
    expect(
      await alice.page.evaluate(() => document.activeElement?.classList.contains('confirm-remove')),
    ).toBe(true);
    await alice.page.keyboard.press('Enter');

    // bob's page: the room is gone, he is told, and his draft is offered back.
    await bob.page.waitForFunction(
      () => document.querySelector('#room-error')?.textContent === 'You were removed from #plans',
    );
    expect(await bob.page.getAttribute('#room-error', 'role')).toBe('alert');
    expect(await bob.page.locator('#room-list button[data-room="plans"]').count()).toBe(0);
    expect(await bob.page.textContent('#room-title')).toBe('#general');
    await bob.page.locator('#unsent-note').waitFor();
    expect(await bob.page.textContent('#unsent-text')).toBe(
      'The text you were writing to #plans was not sent: you are no longer in that room.',
    );
    expect(await bob.page.inputValue('#unsent-texts')).toBe('and my cousin too');

    // alice's page: bob left the room and its people panel; his message stays.
    await alice.page.waitForFunction(() =>
      [...document.querySelectorAll('#message-list li.notice')].some(
        (n) => n.textContent === 'bob left #plans',
      ),
    );
    await alice.page.waitForFunction(
      () => document.querySelector('#online-list li[data-user="bob"]') === null,
    );
    expect(await alice.page.textContent('#room-error')).toBe('');
    expect(await server.backend.rooms.isMember('bob', 'plans')).toBe(false);
    expect((await server.backend.rooms.messagesBefore('plans', 100, 100)).map((m) => m.text)).toEqual([
      'count me in',
    ]);
    await alice.context.close();
    await bob.context.close();
  });
});

describe('remove a member: the keyboard focus', () => {
  it('stays on the question while the people panel is redrawn, and goes to the composer once the name is gone', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const bob = await signIn(chrome.browser, server.origin, 'bob');
    const carolCookie = await register(server.origin, 'carol');
    await alice.page.fill('#room-input', 'plans');
    await alice.page.check('#room-private');
    await alice.page.press('#room-input', 'Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#plans');
    for (const name of ['bob', 'carol']) {
      await alice.page.fill('#invite-input', name);
      await alice.page.press('#invite-input', 'Enter');
      await expect.poll(async () => (await server.backend.rooms.invitations(name, 0)).length).toBe(1);
      await acceptInvitation(server.origin, name, 'plans', name === 'bob' ? 'browser password' : undefined);
    }
    const remove = alice.page.locator('#online-list li[data-user="bob"] .remove-member');
    await remove.waitFor();
    await remove.focus();
    await alice.page.keyboard.press('Enter');
    await alice.page.waitForSelector('#online-list .cancel-remove:focus');
    // carol comes online in the room meanwhile (she was listed offline): the list is redrawn under
    // the question.
    await alice.page.waitForSelector('#online-list li.offline[data-user="carol"]');
    const { client: carol } = await TestClient.join(server.origin, carolCookie);
    await alice.page.waitForSelector('#online-list li:not(.offline)[data-user="carol"]');
    expect(await alice.page.locator('#online-list .remove-confirm').count()).toBe(1);
    expect(await alice.page.evaluate(() => document.activeElement?.classList.contains('cancel-remove'))).toBe(
      true,
    );
    // Confirmed: bob's row goes, and the focus with it to the composer (not lost to the page).
    await alice.page.keyboard.press('Shift+Tab');
    await alice.page.keyboard.press('Enter');
    await alice.page.waitForFunction(
      () => document.querySelector('#online-list li[data-user="bob"]') === null,
    );
    expect(await server.backend.rooms.isMember('bob', 'plans')).toBe(false);
    expect(await alice.page.evaluate(() => document.activeElement?.id)).toBe('composer-input');
    await carol.close();
    await alice.context.close();
    await bob.context.close();
  });
});

describe('remove a member who is offline', () => {
  it('lists every member of a private room, offline ones marked; the owner removes one by keyboard alone', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    // bob is online (a program's connection); carol has an account and never connects.
    const { client: bob } = await TestClient.join(server.origin, await register(server.origin, 'bob'));
    await register(server.origin, 'carol');
    await alice.page.fill('#room-input', 'plans');
    await alice.page.check('#room-private');
    await alice.page.press('#room-input', 'Enter');
    await alice.page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#plans');
    for (const name of ['carol', 'bob']) {
      await alice.page.fill('#invite-input', name);
      await alice.page.press('#invite-input', 'Enter');
      await expect.poll(async () => (await server.backend.rooms.invitations(name, 0)).length).toBe(1);
      await acceptInvitation(server.origin, name, 'plans');
      // Confirmed where room requests are answered, in the page's words (not as an error).
      await alice.page.waitForFunction(
        (n) =>
          document.querySelector('#room-error')?.textContent ===
          `Invited ${n} to #plans; waiting for them to accept.`,
        name,
      );
      expect(await alice.page.getAttribute('#room-error', 'class')).toBe('error done');
    }
    await bob.next('joined', (m) => m.room === 'plans');

    // Online first, then offline, in words too; the heading says these are the members.
    const rows = () =>
      alice.page.$$eval('#online-list li', (lis) =>
        lis.map(
          (li) => `${li.getAttribute('data-user')}${li.classList.contains('offline') ? ' (offline)' : ''}`,
        ),
      );
    await expect.poll(rows).toEqual(['alice', 'bob', 'carol (offline)']);
    expect(await alice.page.textContent('#online-title')).toBe('Members');
    expect(await alice.page.textContent('#online-list li[data-user="carol"] .presence-word')).toBe('offline');
    expect(await alice.page.textContent('#online-list li[data-user="bob"]')).not.toContain('offline');
    const remove = alice.page.locator('#online-list li[data-user="carol"] .remove-member');
    expect(await remove.getAttribute('aria-label')).toBe('Remove carol from #plans');

    // From the invitation field, Tab to carol's Remove; Enter asks, with the focus on Cancel;
    // Shift+Tab to the question's Remove; Enter removes her.
    expect(await focused(alice.page)).toBe('input#invite-input');
    await tabTo(alice.page, '#online-list li[data-user="carol"] .remove-member');
    await alice.page.keyboard.press('Enter');
    await alice.page.waitForSelector('#online-list li[data-user="carol"] .cancel-remove:focus');
    expect(await alice.page.textContent('#online-list .remove-confirm .question')).toBe(
      'Remove carol from #plans?',
    );
    await alice.page.keyboard.press('Shift+Tab');
    expect(await focused(alice.page)).toBe('button.danger.confirm-remove');
    await alice.page.keyboard.press('Enter');

    // carol's row goes, the focus to the composer with it; bob stays; everyone hears of it.
    await expect.poll(rows).toEqual(['alice', 'bob']);
    expect(await focused(alice.page)).toBe('textarea#composer-input');
    expect(await server.backend.rooms.isMember('carol', 'plans')).toBe(false);
    await alice.page.waitForFunction(() =>
      [...document.querySelectorAll('#message-list li.notice')].some(
        (n) => n.textContent === 'carol left #plans',
      ),
    );
    expect(await bob.next('member', (m) => m.room === 'plans' && m.user === 'carol')).toMatchObject({
      joined: false,
    });
    expect(await alice.page.textContent('#room-error')).toBe('');

    // Invited again, and accepted from a connection closed at once: listed again, as offline.
    await alice.page.fill('#invite-input', 'carol');
    await alice.page.press('#invite-input', 'Enter');
    await expect.poll(async () => (await server.backend.rooms.invitations('carol', 0)).length).toBe(1);
    await acceptInvitation(server.origin, 'carol', 'plans');
    await expect.poll(rows).toEqual(['alice', 'bob', 'carol (offline)']);
    await bob.close();
    await alice.context.close();
  });
});

describe('remove a member on a phone (375 × 667)', () => {
  it('a refused Remove is said in the open people drawer, on screen, in one live region; the focus stays there', async () => {
    const server = await startTestServer();
    for (const name of ['bob', 'carol']) await register(server.origin, name);
    const phone = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true };
    const { page, context } = await signIn(chrome.browser, server.origin, 'alice', phone);
    await page.click('#menu-toggle');
    await page.fill('#room-input', 'plans');
    await page.check('#room-private');
    await page.press('#room-input', 'Enter');
    await page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#plans');
    await page.waitForSelector('#room-form', { state: 'hidden' });
    for (const name of ['bob', 'carol']) {
      await page.fill('#invite-input', name);
      await page.press('#invite-input', 'Enter');
      await expect.poll(async () => (await server.backend.rooms.invitations(name, 0)).length).toBe(1);
      await acceptInvitation(server.origin, name, 'plans');
    }
    // bob leaves behind the page's back (nobody is told): the page still lists him, and the
    // server refuses his removal.
    await server.backend.rooms.leave('bob', 'plans', Date.now());
    await page.click('#online-toggle');
    await page.locator('#online-list li[data-user="bob"] .remove-member').click();
    await page.locator('#online-list li[data-user="bob"] .confirm-remove').click();
    const refused = 'bob is not in room plans';
    await page.waitForFunction((t) => document.body.textContent?.includes(t), refused);
    // The live regions holding `text`; and whether the element saying it lies inside the
    // viewport, on top at its centre (not under the drawer or the backdrop, not in a closed one).
    const said = (text: string) =>
      page.evaluate((t) => {
        const live = '[role="alert"], [role="status"], [aria-live]:not([aria-live="off"])';
        const shown = [...document.querySelectorAll('p')].filter((e) => {
          if (e.textContent !== t) return false;
          const r = e.getBoundingClientRect();
          const inside =
            r.width > 0 &&
            r.height > 0 &&
            r.left >= 0 &&
            r.top >= 0 &&
            r.right <= innerWidth &&
            r.bottom <= innerHeight;
          return inside && e.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2));
        });
        return {
          regions: [...document.querySelectorAll(live)]
            .filter((e) => e.textContent?.includes(t))
            .map((e) => e.id),
          shown: shown.map((e) => e.id),
        };
      }, text);
    // Polled: the drawer may still be sliding in.
    await expect.poll(() => said(refused)).toEqual({ regions: ['online-error'], shown: ['online-error'] });
    expect(await focused(page)).toBe('button.quiet.remove-member');
    expect(await page.evaluate(() => document.activeElement?.closest('li')?.dataset.user)).toBe('bob');
    // Its colours in the drawer pass axe, as a11y.test.ts checks the rest of the phone's page.
    expect(await axeViolations(page)).toEqual([]);

    // carol's removal goes through: the answer is emptied, and her row's focus stays in the
    // drawer (the composer behind it is inert: it could not take it).
    await page.locator('#online-list li[data-user="carol"] .remove-member').click();
    await page.locator('#online-list li[data-user="carol"] .confirm-remove').click();
    await page.waitForFunction(() => document.querySelector('#online-list li[data-user="carol"]') === null);
    expect(await said(refused)).toEqual({ regions: [], shown: [] });
    expect(
      await page.evaluate(() => document.getElementById('online-panel')?.contains(document.activeElement)),
    ).toBe(true);
    await context.close();
  });
});
