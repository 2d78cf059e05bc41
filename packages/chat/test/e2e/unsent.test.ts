/**
 * What the page does with text that cannot go as it was written, in a real browser: messages
 * queued offline in a room the user left meanwhile in another tab (dropped on the resume before
 * any is sent, said, their text offered to copy); messages whose room is left while they may be
 * stored (in flight, or refused as internal): asked about, said unsent only when refused; a reply
 * whose message is deleted while it is written (the banner goes, the text stays, said); and Edit
 * on a message refused for good, which gives its files back to the composer unless the files were
 * what was refused.
 */
import { describe, expect, it } from 'vitest';
import { png } from '../attachments/files.js';
import { startTestServer, TestClient } from '../helpers.js';
import { axeViolations } from './axe.js';
import {
  clickTool,
  comeBack,
  framesSent,
  give,
  goOffline,
  messageTexts,
  openRoom,
  type SentFrame,
  sendMessage,
  seqOf,
  signIn,
  switchAccount,
  TcpProxy,
  useBrowser,
} from './browser.js';

const chrome = useBrowser();

async function say(client: TestClient, room: string, id: string, text: string): Promise<void> {
  const ack = await client.request('ack', { type: 'send', id, room, text });
  if (ack.type !== 'ack') throw new Error(`send refused: ${JSON.stringify(ack)}`);
}

const sends = (frames: SentFrame[]) => frames.filter((m) => m.type === 'send');

describe('text that cannot go as written', () => {
  it('says, and offers the text of, messages queued offline in a room left in another tab, without sending them', async () => {
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const alice = await signIn(chrome.browser, proxied, 'alice');
      await alice.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: proxied });
      await openRoom(alice.page, 'random');
      const frames = framesSent(alice.page);
      await goOffline(proxy, alice.page);
      await sendMessage(alice.page, 'first unsent line');
      await sendMessage(alice.page, 'second unsent line');
      expect(await alice.page.locator('#message-list li.pending').count()).toBe(2);

      // Another tab of alice's (the same session; its own outbox), online, leaves the room.
      const other = await alice.context.newPage();
      await other.goto(server.origin);
      await other.waitForSelector('#status[data-state="online"]');
      await other.click('#room-list button[data-room="random"]');
      await other.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#random');
      await other.click('#leave-room');
      await other.waitForSelector('#room-list button[data-room="random"]', { state: 'detached' });

      await comeBack(proxy, alice.page);
      await alice.page.locator('#unsent-note').waitFor();
      const said = '2 messages you wrote to #random were not sent: you are no longer in that room.';
      expect(await alice.page.textContent('#unsent-text')).toBe(said);
      expect(await alice.page.textContent('#announce')).toBe(said);
      expect(await alice.page.textContent('#room-title')).toBe('#general');
      expect(await alice.page.textContent('#composer-error')).toBe('');
      expect(await alice.page.evaluate(() => sessionStorage.getItem('riptide-chat-outbox'))).toBe('[]');
      // Barrier: a message sent now is the first send on the new connection, so none of the
      // dropped ones went (to be refused) before it.
      await sendMessage(alice.page, 'back in general');
      await seqOf(alice.page, 'back in general');
      expect(sends(frames).map((m) => m.text)).toEqual(['back in general']);
      // The typed text is one click away.
      await alice.page.click('#unsent-copy');
      await alice.page.waitForFunction(
        () => document.querySelector('#unsent-copy')?.textContent === 'Copied',
      );
      expect(await alice.page.evaluate(() => navigator.clipboard.readText())).toBe(
        'first unsent line\n\nsecond unsent line',
      );
      await alice.page.click('#unsent-dismiss');
      expect(await alice.page.locator('#unsent-note').isHidden()).toBe(true);
      await alice.context.close();
    } finally {
      await proxy.close();
    }
  });

  it('asks about the message whose ack was lost before its room was left elsewhere: stored, so not called unsent', async () => {
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const alice = await signIn(chrome.browser, proxied, 'alice');
      await openRoom(alice.page, 'random');
      const bob = await TestClient.user(server.origin, 'bob');
      expect(await bob.request('joined', { type: 'join', room: 'random' })).toMatchObject({ type: 'joined' });
      // Frames are seen on sockets opened from now on: the page reconnects by reloading.
      const frames = framesSent(alice.page);
      await alice.page.reload();
      await alice.page.waitForSelector('#status[data-state="online"]');
      await alice.page.waitForFunction(
        () => document.querySelector('#room-title')?.textContent === '#random',
      );

      // The server stores the message (bob gets it) but its ack never reaches the page.
      proxy.holdReplies();
      await sendMessage(alice.page, 'stored before the leave');
      const delivered = await bob.next('message', (m) => m.message.room === 'random');
      expect(delivered.message).toMatchObject({ user: 'alice', text: 'stored before the leave' });
      // Typed behind it (one message in flight at a time): never sent.
      await sendMessage(alice.page, 'never sent');
      expect(await alice.page.locator('#message-list li.pending').count()).toBe(2);
      await goOffline(proxy, alice.page);

      // Another tab of alice's leaves the room meanwhile.
      const cookie = (await alice.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
      const otherTab = (await TestClient.join(server.origin, cookie)).client;
      expect(await otherTab.request('left', { type: 'leave', room: 'random' })).toMatchObject({
        room: 'random',
      });
      await otherTab.close();

      await comeBack(proxy, alice.page);
      // Barrier: general's message is sent after the question about the stored one is answered (one
      // ordered queue, one message in flight).
      await sendMessage(alice.page, 'back in general');
      await seqOf(alice.page, 'back in general');
      expect(await alice.page.textContent('#room-title')).toBe('#general');
      // Only the message that never went out is said to be unsent, and only its text is offered.
      await alice.page.locator('#unsent-note').waitFor();
      const said = 'A message you wrote to #random was not sent: you are no longer in that room.';
      expect(await alice.page.textContent('#unsent-text')).toBe(said);
      expect(await alice.page.inputValue('#unsent-texts')).toBe('never sent');
      expect(await alice.page.evaluate(() => sessionStorage.getItem('riptide-chat-outbox'))).toBe('[]');
      // The stored one was asked about (same id, again), the other never went out.
      const sent = sends(frames);
      expect(sent.map((m) => [m.room, m.text])).toEqual([
        ['random', 'stored before the leave'],
        ['random', 'stored before the leave'],
        ['general', 'back in general'],
      ]);
      expect(sent[1].id).toBe(sent[0].id);
      expect(sent[0].id).toBeTruthy();
      // The page did not take the room back for it.
      expect(await alice.page.locator('#room-list button[data-room="random"]').count()).toBe(0);
      // Stored once.
      const history = await bob.request('history', { type: 'history', room: 'random' });
      expect(history.type === 'history' && history.messages.map((m) => m.text)).toEqual([
        'stored before the leave',
      ]);
      await bob.close();
      await alice.context.close();
    } finally {
      await proxy.close();
    }
  });

  it('tells at once a message in flight when its room was left, refused for good after the leave; once, also after a reload', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const page = alice.page;
    await openRoom(page, 'random');
    // Queued as by a page with another limit: the server refuses it for good (text_too_long),
    // whether alice is in the room or not.
    const long = 'z'.repeat(4097);
    await page.evaluate((text) => {
      sessionStorage.setItem('riptide-chat-outbox', JSON.stringify([{ id: 'long', room: 'random', text }]));
    }, long);
    // The page's first send is held on its way to the server (a slow network) until released.
    let held!: (release: () => void) => void;
    const sendHeld = new Promise<() => void>((resolve) => {
      held = resolve;
    });
    let holding = true;
    await page.routeWebSocket(/./, (route) => {
      const upstream = route.connectToServer();
      route.onMessage((message) => {
        if (holding && typeof message === 'string' && (JSON.parse(message) as SentFrame).type === 'send') {
          holding = false;
          held(() => upstream.send(message));
        } else upstream.send(message);
      });
    });
    await page.reload();
    const release = await sendHeld;
    await page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#random');
    await page.locator('#message-list li.pending:not(.failed)').waitFor();

    // Another tab of alice's leaves the room while the message is on its way.
    const cookie = (await alice.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const otherTab = (await TestClient.join(server.origin, cookie)).client;
    expect(await otherTab.request('left', { type: 'leave', room: 'random' })).toMatchObject({
      room: 'random',
    });
    await otherTab.close();
    await page.waitForSelector('#room-list button[data-room="random"]', { state: 'detached' });
    // Its answer decides (had it been stored, it would not be unsent): nothing said yet.
    expect(await page.isHidden('#unsent-note')).toBe(true);

    // Refused for good after the leave: said now, with its text, not kept unseen in the queue.
    release();
    await page.locator('#unsent-note').waitFor();
    const said = 'A message you wrote to #random was not sent: you are no longer in that room.';
    expect(await page.textContent('#unsent-text')).toBe(said);
    expect(await page.inputValue('#unsent-texts')).toBe(long);
    expect(await page.evaluate(() => sessionStorage.getItem('riptide-chat-outbox'))).toBe('[]');

    // Said once: a reload (a new welcome without the room) does not say it again.
    await page.click('#unsent-dismiss');
    const frames = framesSent(page);
    await page.reload();
    await page.waitForSelector('#status[data-state="online"]');
    await sendMessage(page, 'back in general');
    await seqOf(page, 'back in general');
    expect(await page.isHidden('#unsent-note')).toBe(true);
    expect(sends(frames).map((m) => m.text)).toEqual(['back in general']);
    await alice.context.close();
  });

  it('asks about messages refused as internal when their room is left: the one stored is not called unsent, nor stored twice', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const page = alice.page;
    await openRoom(page, 'random');
    await openRoom(page, 'general');
    const bob = await TestClient.user(server.origin, 'bob');
    expect(await bob.request('joined', { type: 'join', room: 'random' })).toMatchObject({ type: 'joined' });
    const cookie = (await alice.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const tab = async () => (await TestClient.join(server.origin, cookie)).client;

    // Two of alice's messages to random were answered `internal`: the server stored the first
    // (the fault came after the commit: bob got it), not the second. Her page kept both, failed
    // (as it saves them), and did not see the first arrive.
    const storing = await tab();
    await say(storing, 'random', 'i1', 'stored despite the error');
    await storing.close();
    await page.evaluate(() => {
      const failed = { code: 'internal', message: 'internal error' };
      sessionStorage.setItem(
        'riptide-chat-outbox',
        JSON.stringify([
          { id: 'i1', room: 'random', text: 'stored despite the error', sent: true, failed },
          { id: 'i2', room: 'random', text: 'not stored', sent: true, failed },
        ]),
      );
    });
    const frames = framesSent(page);
    await page.reload();
    await page.waitForSelector('#status[data-state="online"]');
    expect(await page.textContent('#room-title')).toBe('#general');

    // Another tab of alice's leaves random.
    const leaving = await tab();
    expect(await leaving.request('left', { type: 'leave', room: 'random' })).toMatchObject({
      room: 'random',
    });
    await leaving.close();
    await page.waitForSelector('#room-list button[data-room="random"]', { state: 'detached' });
    // Barrier: general's message goes after both questions are answered (one queue, one in flight).
    await sendMessage(page, 'back in general');
    await seqOf(page, 'back in general');
    // Only the message that was not stored is said to be unsent, and only its text offered.
    await page.locator('#unsent-note').waitFor();
    const said = 'A message you wrote to #random was not sent: you are no longer in that room.';
    expect(await page.textContent('#unsent-text')).toBe(said);
    expect(await page.inputValue('#unsent-texts')).toBe('not stored');
    expect(await page.evaluate(() => sessionStorage.getItem('riptide-chat-outbox'))).toBe('[]');
    // Both were asked (same ids), only after the leave: not sent again by themselves before it.
    expect(sends(frames).map((m) => [m.id, m.room, m.text])).toEqual([
      ['i1', 'random', 'stored despite the error'],
      ['i2', 'random', 'not stored'],
      [expect.any(String), 'general', 'back in general'],
    ]);
    // Stored once; the question stored nothing.
    const history = await bob.request('history', { type: 'history', room: 'random' });
    expect(history.type === 'history' && history.messages.map((m) => m.text)).toEqual([
      'stored despite the error',
    ]);
    await bob.close();
    await alice.context.close();
  });

  it('shows a message refused as internal but stored once, delivered, when a reload loads it in the history; sends nothing again', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    const page = alice.page;
    await openRoom(page, 'random');
    const cookie = (await alice.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');

    // Two of alice's messages to random were answered `internal`: the server stored the first
    // (the fault came after the commit), not the second. Her page kept both, failed, and did not
    // see the first arrive.
    const storing = (await TestClient.join(server.origin, cookie)).client;
    await say(storing, 'random', 'i1', 'stored despite the error');
    await storing.close();
    await page.evaluate(() => {
      const failed = { code: 'internal', message: 'internal error' };
      sessionStorage.setItem(
        'riptide-chat-outbox',
        JSON.stringify([
          { id: 'i1', room: 'random', text: 'stored despite the error', sent: true, failed },
          { id: 'i2', room: 'random', text: 'not stored', sent: true, failed },
        ]),
      );
    });
    const frames = framesSent(page);
    await page.reload();
    await page.waitForSelector('#status[data-state="online"]');
    expect(await page.textContent('#room-title')).toBe('#random');

    // The history holds i1: shown delivered, once, and no longer as not sent; i2 still is.
    await seqOf(page, 'stored despite the error');
    await page.waitForFunction(() => document.querySelectorAll('#message-list li.pending').length === 1);
    expect(await messageTexts(page)).toEqual(['stored despite the error']);
    expect(await page.locator('#message-list li.pending.failed .text').allTextContents()).toEqual([
      'not stored',
    ]);
    expect(
      await page.evaluate(() =>
        (JSON.parse(sessionStorage.getItem('riptide-chat-outbox') ?? '[]') as { id: string }[]).map(
          (p) => p.id,
        ),
      ),
    ).toEqual(['i2']);
    // Barrier: a message sent now goes after anything the outbox would have sent; only it went.
    await sendMessage(page, 'after the reload');
    await seqOf(page, 'after the reload');
    expect(sends(frames).map((m) => m.text)).toEqual(['after the reload']);
    expect(await messageTexts(page)).toEqual(['stored despite the error', 'after the reload']);
    expect(await page.locator('#message-list li.pending').count()).toBe(1);
    await alice.context.close();
  });

  it('never sends, as another account signed in meanwhile in another tab, what was queued offline as the first', async () => {
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const alice = await signIn(chrome.browser, proxied, 'alice');
      const frames = framesSent(alice.page);
      // A file of alice's waits in another room's draft (the tray keeps it, hidden here).
      await openRoom(alice.page, 'random');
      const image = { name: 'alice.png', type: 'image/png', base64: png(20, 10).toString('base64') };
      await give(alice.page, 'paste', [image]);
      await alice.page.locator('#attachment-tray .upload.done').waitFor();
      await openRoom(alice.page, 'general');
      expect(await alice.page.locator('#attachment-tray .upload').count()).toBe(1);
      await goOffline(proxy, alice.page);
      await sendMessage(alice.page, 'written as alice');
      expect(await alice.page.locator('#message-list li.pending').count()).toBe(1);

      // Another tab shares the cookie: it signs out and signs up as bob.
      await switchAccount(alice.context, server.origin, 'bob');

      // alice's tab comes back signed in as bob: her queued message is not his to send or see.
      await comeBack(proxy, alice.page);
      await sendMessage(alice.page, 'written as bob');
      await seqOf(alice.page, 'written as bob');
      expect(sends(frames).map((m) => m.text)).toEqual(['written as bob']);
      expect(await alice.page.locator('#message-list li.pending').count()).toBe(0);
      expect(await messageTexts(alice.page)).not.toContain('written as alice');
      expect(await alice.page.locator('#attachment-tray .upload').count()).toBe(0);
      await alice.context.close();
    } finally {
      await proxy.close();
    }
  });

  it('says so when a room is left with a message kept unsent in it, online; without a clipboard, shows the text to copy', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    await openRoom(alice.page, 'random');
    // A message refused for good, kept as not sent in random (queued as by a page with another limit).
    await alice.page.evaluate((text) => {
      sessionStorage.setItem('riptide-chat-outbox', JSON.stringify([{ id: 'long', room: 'random', text }]));
    }, 'y'.repeat(4097));
    await alice.page.reload();
    await alice.page.waitForSelector('#status[data-state="online"]');
    await alice.page.locator('#message-list li.pending.failed').waitFor();
    await alice.page.click('#leave-room');
    await alice.page.locator('#unsent-note').waitFor();
    expect(await alice.page.textContent('#unsent-text')).toBe(
      'A message you wrote to #random was not sent: you are no longer in that room.',
    );
    expect(await alice.page.evaluate(() => sessionStorage.getItem('riptide-chat-outbox'))).toBe('[]');
    expect(await alice.page.isHidden('#unsent-texts')).toBe(true);
    // A page served without https has no clipboard API: the text is shown, selected, to copy.
    await alice.page.evaluate(() => Object.defineProperty(navigator, 'clipboard', { value: undefined }));
    await alice.page.click('#unsent-copy');
    await alice.page.waitForSelector('#unsent-texts', { state: 'visible' });
    expect(await alice.page.inputValue('#unsent-texts')).toBe('y'.repeat(4097));
    expect(
      await alice.page.evaluate(() => {
        const area = document.activeElement as HTMLTextAreaElement;
        return (
          area.id === 'unsent-texts' && area.selectionStart === 0 && area.selectionEnd === area.value.length
        );
      }),
    ).toBe(true);
    expect(await axeViolations(alice.page)).toEqual([]);
    await alice.context.close();
  });

  it('offers the text of every room whose unsent messages were dropped at once, not only the last room', async () => {
    const server = await startTestServer();
    const alice = await signIn(chrome.browser, server.origin, 'alice');
    // Queued (as by a page that went offline) in two rooms alice is not in when it comes back:
    // the welcome drops both rooms' messages in the same task.
    await alice.page.evaluate(() => {
      sessionStorage.setItem(
        'riptide-chat-outbox',
        JSON.stringify([
          { id: 'r1', room: 'random', text: 'to random' },
          { id: 'd1', room: 'dev', text: 'to dev' },
          { id: 'r2', room: 'random', text: 'to random again' },
        ]),
      );
    });
    await alice.page.reload();
    await alice.page.waitForSelector('#status[data-state="online"]');
    await alice.page.locator('#unsent-note').waitFor();
    const said =
      '2 messages you wrote to #random were not sent: you are no longer in that room. ' +
      'A message you wrote to #dev was not sent: you are no longer in that room.';
    expect(await alice.page.textContent('#unsent-text')).toBe(said);
    expect(await alice.page.textContent('#announce')).toBe(said);
    expect(await alice.page.evaluate(() => sessionStorage.getItem('riptide-chat-outbox'))).toBe('[]');
    await alice.page.evaluate(() => Object.defineProperty(navigator, 'clipboard', { value: undefined }));
    await alice.page.click('#unsent-copy');
    await alice.page.waitForSelector('#unsent-texts', { state: 'visible' });
    expect(await alice.page.inputValue('#unsent-texts')).toBe(
      '#random:\nto random\n\nto random again\n\n#dev:\nto dev',
    );
    await alice.context.close();
  });

  it('cancels a reply whose message is deleted, live or found on a resume, keeping the text, and says so', async () => {
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const bob = await TestClient.user(server.origin, 'bob');
      await say(bob, 'general', 'q1', 'first question');
      await say(bob, 'general', 'q2', 'second question');
      const alice = await signIn(chrome.browser, proxied, 'alice');
      const page = alice.page;
      const replyTo = async (text: string) => {
        const item = page.locator(`#message-list li.message[data-seq="${await seqOf(page, text)}"]`);
        await clickTool(item, '.reply');
        expect(await page.isVisible('#reply-banner')).toBe(true);
      };
      const told =
        'The message you were replying to was deleted: your text is kept, and will be sent without the reply.';

      // Live.
      await replyTo('first question');
      await page.fill('#composer-input', 'my first answer');
      const deleted = await bob.request('ack', { type: 'delete', room: 'general', seq: 1 });
      expect(deleted.type).toBe('ack');
      await page.waitForSelector('#reply-banner', { state: 'hidden' });
      expect(await page.inputValue('#composer-input')).toBe('my first answer');
      expect(await page.textContent('#composer-error')).toBe(told);
      expect(await page.getAttribute('#composer-error', 'role')).toBe('alert');
      await page.keyboard.press('Enter');
      const answer = page.locator(`#message-list li[data-seq="${await seqOf(page, 'my first answer')}"]`);
      expect(await answer.locator('.reply-quote').count()).toBe(0);
      expect(await page.locator('#message-list li.pending').count()).toBe(0);

      // On a resume: deleted while the page was offline.
      await replyTo('second question');
      await page.fill('#composer-input', 'my second answer');
      await goOffline(proxy, page);
      expect(await bob.request('ack', { type: 'delete', room: 'general', seq: 2 })).toMatchObject({
        type: 'ack',
      });
      await comeBack(proxy, page);
      await page.waitForSelector('#reply-banner', { state: 'hidden' });
      expect(await page.inputValue('#composer-input')).toBe('my second answer');
      expect(await page.textContent('#composer-error')).toBe(told);
      await page.keyboard.press('Enter');
      await seqOf(page, 'my second answer');
      expect(await messageTexts(page)).toEqual([
        'message deleted',
        'message deleted',
        'my first answer',
        'my second answer',
      ]);
      await alice.context.close();
    } finally {
      await proxy.close();
    }
  });

  it('gives the files of a refused message back to the composer on Edit, unless they were what was refused', async () => {
    const server = await startTestServer();
    const proxy = new TcpProxy(server.port);
    const proxied = await proxy.listen();
    try {
      const bob = await TestClient.user(server.origin, 'bob');
      await say(bob, 'general', 'q', 'a question');
      const alice = await signIn(chrome.browser, proxied, 'alice');
      const page = alice.page;
      const image = png(40, 20);
      const file = { name: 'sky.png', type: 'image/png', base64: image.toString('base64') };

      // A reply with a file, sent offline; its message is deleted before the page is back: the
      // server refuses the reply (not_found), not its file.
      const question = page.locator(
        `#message-list li.message[data-seq="${await seqOf(page, 'a question')}"]`,
      );
      await clickTool(question, '.reply');
      await give(page, 'paste', [file]);
      await page.locator('#attachment-tray .upload.done').waitFor();
      await goOffline(proxy, page);
      await page.fill('#composer-input', 'see the picture');
      await page.keyboard.press('Enter');
      expect(await page.locator('#attachment-tray').isHidden()).toBe(true);
      expect(await bob.request('ack', { type: 'delete', room: 'general', seq: 1 })).toMatchObject({
        type: 'ack',
      });
      await comeBack(proxy, page);
      const failed = page.locator('#message-list li.pending.failed');
      await failed.waitFor();
      expect(await failed.locator('.failed-note .reason').textContent()).toMatch(
        /^Not sent: the message it replies to was deleted/,
      );
      expect(await failed.locator('.attachments img, .attachments a').count()).toBeGreaterThan(0);
      await failed.locator('button.edit-failed').click();
      expect(await page.inputValue('#composer-input')).toBe('see the picture');
      expect(await page.isHidden('#reply-banner')).toBe(true);
      expect(await page.locator('#attachment-tray .upload.done .upload-name').allTextContents()).toEqual([
        'sky.png',
      ]);
      expect(await page.isVisible('#attachment-tray')).toBe(true);
      // Sent again: the text with its file, no longer a reply.
      await page.keyboard.press('Enter');
      const sent = page.locator(`#message-list li[data-seq="${await seqOf(page, 'see the picture')}"]`);
      expect(await sent.locator('.reply-quote').count()).toBe(0);
      const href = await sent.locator('a[href^="/api/attachments/"]').first().getAttribute('href');
      const id = decodeURIComponent((href ?? '').replace('/api/attachments/', ''));
      expect(id).not.toBe('');

      // The same upload queued again: used already, so the server refuses the files. Edit gives
      // the text back, not the files (they would be refused again).
      await page.evaluate(
        (attachment) => {
          sessionStorage.setItem(
            'riptide-chat-outbox',
            JSON.stringify([
              { id: 'again', room: 'general', text: 'the same file again', attachments: [attachment] },
            ]),
          );
        },
        { id, name: file.name, type: file.type, size: image.length, width: 40, height: 20 },
      );
      await page.reload();
      await page.waitForSelector('#status[data-state="online"]');
      await failed.waitFor();
      expect(await failed.locator('.failed-note .reason').textContent()).toMatch(
        /^Not sent: its files are no longer waiting on the server/,
      );
      await failed.locator('button.edit-failed').click();
      expect(await page.inputValue('#composer-input')).toBe('the same file again');
      expect(await page.locator('#attachment-tray .upload').count()).toBe(0);
      expect(await page.isHidden('#attachment-tray')).toBe(true);
      await alice.context.close();
    } finally {
      await proxy.close();
    }
  });
});
