/**
 * The composer's drafts in a real browser: each room keeps its own text and reply target, across
 * room switches and a reload, without a typing notice for a restored draft; the draft of a room left
 * in another tab goes to the unsent note, never to the room shown next. And an edit whose message
 * is deleted (in another tab: live, or while this one was offline) closes, keeping the text as a
 * new message's, and says so; a new message being written is put aside during an edit, not lost,
 * and so is an edit with changed text when another message is to be edited. A tab reloaded after
 * another account signed in elsewhere shows no draft (and sends nothing) before the welcome.
 */
import type { Page, WebSocketRoute } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startTestServer, TestClient } from '../helpers.js';
import { axeViolations } from './axe.js';
import {
  clickTool,
  comeBack,
  framesSent,
  goOffline,
  messageTexts,
  openRoom,
  seqOf,
  signIn,
  switchAccount,
  TcpProxy,
  useBrowser,
} from './browser.js';

const chrome = useBrowser();

async function showRoom(page: Page, room: string): Promise<void> {
  await page.click(`#room-list button[data-room="${room}"]`);
  await page.waitForFunction((r) => document.querySelector('#room-title')?.textContent === `#${r}`, room);
}

describe('drafts', () => {
  it('keeps a draft per room across switches and a reload, and hands the draft of a room left elsewhere to the unsent note', async () => {
    const server = await startTestServer();
    const bob = await TestClient.user(server.origin, 'bob');
    const asked = await bob.request('ack', { type: 'send', id: 'q', room: 'general', text: 'a question' });
    expect(asked.type).toBe('ack');
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const page = alice.page;
    const question = page.locator(`#message-list li.message[data-seq="${await seqOf(page, 'a question')}"]`);
    await clickTool(question, '.reply');
    await page.fill('#composer-input', 'the general draft');

    // Another room: an empty composer, no reply; its own draft.
    await openRoom(page, 'random');
    expect(await page.inputValue('#composer-input')).toBe('');
    expect(await page.isHidden('#reply-banner')).toBe(true);
    await page.fill('#composer-input', 'the random draft');
    await showRoom(page, 'general');
    expect(await page.inputValue('#composer-input')).toBe('the general draft');
    expect(await page.textContent('#reply-to')).toBe('bob: a question');

    // A reload keeps both; putting a draft back sends no typing notice.
    const frames = framesSent(page);
    await page.reload();
    await page.waitForSelector('#status[data-state="online"]');
    expect(await page.textContent('#room-title')).toBe('#general');
    expect(await page.inputValue('#composer-input')).toBe('the general draft');
    expect(await page.isVisible('#reply-banner')).toBe(true);
    expect(await page.textContent('#reply-to')).toBe('bob: a question');
    await showRoom(page, 'random');
    expect(await page.inputValue('#composer-input')).toBe('the random draft');
    expect(await page.isHidden('#reply-banner')).toBe(true);
    await showRoom(page, 'general');
    // Sent where it was written, still a reply; the send is the barrier for the frames before it.
    await page.press('#composer-input', 'Enter');
    const answer = page.locator(`#message-list li[data-seq="${await seqOf(page, 'the general draft')}"]`);
    expect(await answer.locator('.reply-quote .reply-user').textContent()).toBe('↪ bob');
    expect(frames.filter((f) => f.type === 'send').map((f) => [f.room, f.text])).toEqual([
      ['general', 'the general draft'],
    ]);
    expect(frames.filter((f) => f.type === 'typing')).toEqual([]);
    expect(await page.inputValue('#composer-input')).toBe('');

    // dev (not shown) and random (shown), each with its draft, are left in another tab of alice's.
    await openRoom(page, 'dev');
    await page.fill('#composer-input', 'the dev draft');
    await showRoom(page, 'random');
    expect(await page.inputValue('#composer-input')).toBe('the random draft');
    const other = await alice.context.newPage();
    await other.goto(server.origin);
    await other.waitForSelector('#status[data-state="online"]');
    await showRoom(other, 'dev');
    await other.click('#leave-room');
    await page.locator('#unsent-note').waitFor();
    const devSaid = 'The text you were writing to #dev was not sent: you are no longer in that room.';
    expect(await page.textContent('#unsent-text')).toBe(devSaid);
    expect(await page.inputValue('#unsent-texts')).toBe('the dev draft');
    expect(await page.inputValue('#composer-input')).toBe('the random draft');
    await showRoom(other, 'random');
    await other.click('#leave-room');
    // Both said, neither replacing the other; each text under its room.
    const said = `${devSaid} The text you were writing to #random was not sent: you are no longer in that room.`;
    await page.waitForFunction((t) => document.querySelector('#unsent-text')?.textContent === t, said);
    expect(await page.textContent('#announce')).toBe(said);
    expect(await page.inputValue('#unsent-texts')).toBe('#dev:\nthe dev draft\n\n#random:\nthe random draft');
    // Never moved to the room shown now.
    expect(await page.textContent('#room-title')).toBe('#general');
    expect(await page.inputValue('#composer-input')).toBe('');
    expect(await axeViolations(page)).toEqual([]);
    await page.reload();
    await page.waitForSelector('#status[data-state="online"]');
    expect(await page.inputValue('#composer-input')).toBe('');
    const saved = await page.evaluate(() => sessionStorage.getItem('riptide-chat-drafts'));
    expect(saved).not.toContain('random');
    expect(saved).not.toContain('dev');
    await alice.context.close();
  });

  it('closes an edit whose message is deleted in another tab, live or while offline, keeping the text as a new message, and says so', async () => {
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const alice = await signIn(chrome.browser, proxied, 'alice');
      const page = alice.page;
      // Alice's other device: her session, straight to the server.
      const cookie = (await alice.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
      const { client: elsewhere } = await TestClient.join(server.origin, cookie);
      const edit = async (text: string, changed: string) => {
        const item = page.locator(`#message-list li.message[data-seq="${await seqOf(page, text)}"]`);
        await clickTool(item, '.edit');
        expect(await page.isVisible('#edit-banner')).toBe(true);
        await page.fill('#composer-input', changed);
      };
      const told =
        'The message you were editing was deleted: your text is kept here, and Send posts it as a new message.';
      await page.fill('#composer-input', 'first version');
      await page.press('#composer-input', 'Enter');
      await page.fill('#composer-input', 'second version');
      await page.press('#composer-input', 'Enter');
      await page.fill('#composer-input', 'third version');
      await page.press('#composer-input', 'Enter');
      await seqOf(page, 'third version');

      // A new message being written is put aside during an edit, back when it is cancelled or sent.
      await page.fill('#composer-input', 'not sent yet');
      await edit('first version', 'never sent');
      await page.press('#composer-input', 'Escape');
      expect(await page.isHidden('#edit-banner')).toBe(true);
      expect(await page.inputValue('#composer-input')).toBe('not sent yet');
      await edit('third version', 'third version, edited');
      await page.press('#composer-input', 'Enter');
      await page.locator('#message-list li.message .edited').waitFor();
      expect(await page.inputValue('#composer-input')).toBe('not sent yet');

      // Live; the message put aside comes back first, with the edited text after it.
      await edit('first version', 'first, corrected');
      const first = await seqOf(page, 'first version');
      expect(await elsewhere.request('ack', { type: 'delete', room: 'general', seq: first })).toMatchObject({
        type: 'ack',
      });
      await page.waitForSelector('#edit-banner', { state: 'hidden' });
      expect(await page.inputValue('#composer-input')).toBe('not sent yet\nfirst, corrected');
      expect(await page.textContent('#composer-error')).toBe(told);
      expect(await page.getAttribute('#composer-error', 'role')).toBe('alert');
      await page.fill('#composer-input', 'first, corrected');
      await page.press('#composer-input', 'Enter');
      await seqOf(page, 'first, corrected');

      // Deleted while this page was offline: found on the resume.
      await edit('second version', 'second, corrected');
      const second = await seqOf(page, 'second version');
      await goOffline(proxy, page);
      expect(await elsewhere.request('ack', { type: 'delete', room: 'general', seq: second })).toMatchObject({
        type: 'ack',
      });
      await comeBack(proxy, page);
      await page.waitForSelector('#edit-banner', { state: 'hidden' });
      expect(await page.inputValue('#composer-input')).toBe('second, corrected');
      expect(await page.textContent('#composer-error')).toBe(told);
      await page.press('#composer-input', 'Enter');
      await seqOf(page, 'second, corrected');
      expect(await messageTexts(page)).toEqual([
        'message deleted',
        'message deleted',
        'third version, edited',
        'first, corrected',
        'second, corrected',
      ]);
      await alice.context.close();
    } finally {
      await proxy.close();
    }
  });

  it('keeps an edit with changed text when another message is to be edited or replied to, and says so; an unchanged one switches', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const page = alice.page;
    await page.fill('#composer-input', 'one');
    await page.press('#composer-input', 'Enter');
    await page.fill('#composer-input', 'two');
    await page.press('#composer-input', 'Enter');
    await seqOf(page, 'two');
    const item = async (text: string) =>
      page.locator(`#message-list li.message[data-seq="${await seqOf(page, text)}"]`);
    const click = async (text: string, button: 'edit' | 'reply') => {
      const li = await item(text);
      await clickTool(li, `.${button}`);
    };
    const kept = 'You are editing a message and changed it: send the edit (Enter) or cancel it (Esc) first.';
    await page.fill('#composer-input', 'a new message');

    // Unchanged: another edit takes its place; the new message stays aside.
    await click('one', 'edit');
    expect(await page.inputValue('#composer-input')).toBe('one');
    await click('two', 'edit');
    expect(await page.inputValue('#composer-input')).toBe('two');
    expect(await page.textContent('#composer-error')).toBe('');

    // Changed: neither another edit nor a reply drops it; the user is told.
    await page.fill('#composer-input', 'two, corrected');
    await click('one', 'edit');
    expect(await page.inputValue('#composer-input')).toBe('two, corrected');
    expect(await page.isVisible('#edit-banner')).toBe(true);
    expect(await page.textContent('#composer-error')).toBe(kept);
    await click('one', 'reply');
    expect(await page.inputValue('#composer-input')).toBe('two, corrected');
    expect(await page.isHidden('#reply-banner')).toBe(true);
    // The same message again keeps its text.
    await click('two', 'edit');
    expect(await page.inputValue('#composer-input')).toBe('two, corrected');
    // Kept across a reload as the room's draft.
    await page.reload();
    await page.waitForSelector('#status[data-state="online"]');
    expect(await page.inputValue('#composer-input')).toBe('two, corrected');
    await click('one', 'edit');
    expect(await page.inputValue('#composer-input')).toBe('two, corrected');

    // Cancelled: the new message comes back, the note goes; sent: the edit is stored.
    await page.press('#composer-input', 'Escape');
    expect(await page.inputValue('#composer-input')).toBe('a new message');
    expect(await page.textContent('#composer-error')).toBe('');
    await click('two', 'edit');
    await page.fill('#composer-input', 'two, corrected');
    await page.press('#composer-input', 'Enter');
    await page.locator('#message-list li.message .edited').waitFor();
    expect(await page.inputValue('#composer-input')).toBe('a new message');
    expect(await messageTexts(page)).toEqual(['one', 'two, corrected']);
    await alice.context.close();
  });

  it("shows a tab reloaded after another account signed in elsewhere none of the first account's draft, and sends nothing, before the welcome", async () => {
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const alice = await signIn(chrome.browser, proxied, 'alice');
      const page = alice.page;
      await page.fill('#composer-input', 'written by alice');
      await goOffline(proxy, page);

      // Another tab shares the cookie: it signs out and signs up as bob.
      await switchAccount(alice.context, server.origin, 'bob');

      // alice's tab is reloaded; its WebSocket is held (no welcome) while it is looked at.
      proxy.restore();
      let held!: (route: WebSocketRoute) => void;
      const socket = new Promise<WebSocketRoute>((resolve) => {
        held = resolve;
      });
      let through = false;
      await page.routeWebSocket(/./, (route) => {
        if (through) route.connectToServer();
        else held(route);
      });
      const frames = framesSent(page);
      await page.reload();
      const route = await socket;
      expect(await page.isVisible('#composer-input')).toBe(true);
      expect(await page.inputValue('#composer-input')).toBe('');
      expect(await page.isDisabled('#composer-input')).toBe(true);
      // Send does nothing: no message is queued to go out as bob.
      await page.click('#composer button[type="submit"]');
      expect(
        await page.evaluate(() => JSON.parse(sessionStorage.getItem('riptide-chat-outbox') ?? '[]')),
      ).toEqual([]);

      // The welcome (bob) drops alice's drafts; the composer is his, empty.
      through = true;
      await route.close();
      await page.waitForSelector('#status[data-state="offline"]');
      await page.evaluate(() => window.dispatchEvent(new Event('online')));
      await page.waitForSelector('#status[data-state="online"]', { timeout: 30_000 });
      expect(await page.textContent('#me')).toBe('bob');
      expect(await page.isEnabled('#composer-input')).toBe(true);
      expect(await page.inputValue('#composer-input')).toBe('');
      expect(await page.evaluate(() => sessionStorage.getItem('riptide-chat-drafts'))).not.toContain('alice');
      await page.fill('#composer-input', 'written by bob');
      await page.press('#composer-input', 'Enter');
      await seqOf(page, 'written by bob');
      expect(frames.filter((f) => f.type === 'send').map((f) => f.text)).toEqual(['written by bob']);
      expect(await messageTexts(page)).not.toContain('written by alice');
      await alice.context.close();
    } finally {
      await proxy.close();
    }
  });
});
