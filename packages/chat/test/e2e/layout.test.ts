/**
 * The page's layout in a real browser, measured with boxes (getBoundingClientRect) and the boxes
 * of the glyphs (Range.getClientRects): a message's tools, shown on hover or keyboard focus, never
 * cover any of its own words, its reply quote or its image, on a desktop and on a phone, in both
 * themes; a short message is no taller for the room they keep (on a phone, while not selected),
 * and on a phone a message not selected keeps no room at all: its long first line runs the whole
 * width; on a phone, and just above its layout (721-850 px), the search field is wide enough to
 * use (on a phone its results open below it); the composer's placeholder is shown whole. A phone is
 * touched (no hover); a desktop window as narrow has a mouse, and there nothing of a message moves
 * when it is hovered; a code block on top of a message inside a group keeps the text's whole width.
 * On a phone, the answer to a room request made with the rooms drawer closed is shown on screen,
 * above the composer, and held by one live region (the drawer's is emptied), and one made from the
 * open drawer in the drawer, kept in sight there when the drawer is scrolled (a long directory).
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { png } from '../attachments/files.js';
import { acceptInvitation, register, startTestServer, TestClient } from '../helpers.js';
import { axeViolations } from './axe.js';
import { clickTool, give, sendMessage, seqOf, signIn, useBrowser, waitForMessages } from './browser.js';

const chrome = useBrowser();

// A phone is touched, not pointed at: it has no hover (a desktop window as narrow keeps a mouse).
const PHONE = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
const DESK = { viewport: { width: 1280, height: 800 } };

/**
 * What the shown bar of message `seq` covers in its own message: each text node's glyph boxes
 * (the name line, quote, text, code, file names, reactions) and the boxes of its quote, images,
 * code blocks and reaction chips, described; with the sizes of the bar and the message.
 */
function toolsCover(page: Page, seq: number) {
  return page.evaluate((s) => {
    const li = document.querySelector(`#message-list li.message[data-seq="${s}"]`) as HTMLElement;
    const barNode = li.querySelector('.actions') as HTMLElement;
    const bar = barNode.getBoundingClientRect();
    const meets = (r: DOMRect) =>
      r.width > 0 &&
      r.height > 0 &&
      bar.left < r.right &&
      r.left < bar.right &&
      bar.top < r.bottom &&
      r.top < bar.bottom;
    const body = li.querySelector('.body') as HTMLElement;
    const found: string[] = [];
    const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(node);
      if ([...range.getClientRects()].some(meets))
        found.push(`text "${(node.textContent ?? '').slice(0, 30)}"`);
    }
    for (const box of body.querySelectorAll('.reply-quote, img, pre, .reaction'))
      if (meets(box.getBoundingClientRect())) found.push(`${box.className || box.tagName}`);
    return {
      found,
      shown: getComputedStyle(barNode).opacity === '1',
      barHeight: bar.height,
      height: li.getBoundingClientRect().height,
    };
  }, seq);
}

/**
 * With no message selected (no hover, no focus): how far the first line of message `seq`'s text
 * stops short of its body's far side (the right for left-to-right text, the left for right-to-left)
 * and the width of the room kept for its tools; with the message's height.
 */
async function unselected(page: Page, seq: number) {
  await page.mouse.move(0, 0);
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.waitForFunction(
    () => !document.querySelector('#message-list .message:is(:hover, :focus-within)'),
  );
  return page.evaluate((s) => {
    const li = document.querySelector(`#message-list li.message[data-seq="${s}"]`) as HTMLElement;
    const body = (li.querySelector('.body') as HTMLElement).getBoundingClientRect();
    const text = li.querySelector('.text') as HTMLElement;
    const range = document.createRange();
    range.selectNodeContents(document.createTreeWalker(text, NodeFilter.SHOW_TEXT).nextNode() as Node);
    const first = range.getClientRects()[0] as DOMRect;
    const rtl = getComputedStyle(text).direction === 'rtl';
    return {
      short: rtl ? first.left - body.left : body.right - first.right,
      lines: new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size,
      room: li.querySelector('.tools-room')?.getBoundingClientRect().width ?? 0,
      height: li.getBoundingClientRect().height,
    };
  }, seq);
}

/** Shows message `seq`'s tools (by hovering it, or by giving it the keyboard focus) and measures. */
async function showTools(page: Page, seq: number, how: 'hover' | 'focus') {
  const item = page.locator(`#message-list li.message[data-seq="${seq}"]`);
  if (how === 'hover') await item.hover();
  else {
    await page.mouse.move(0, 0);
    await item.focus();
  }
  await page.waitForFunction(
    (bar) => bar !== null && getComputedStyle(bar).opacity === '1',
    await item.locator('.actions').elementHandle(),
  );
  return toolsCover(page, seq);
}

describe("a message's tools", () => {
  it('never cover its own words, reply quote or image (a long first line too), desktop and phone, light and dark', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 50, perSecond: 50 } } });
    const alice = await signIn(chrome.browser, server.origin, 'alice', { ...DESK, colorScheme: 'light' });
    const bob = await signIn(chrome.browser, server.origin, 'bob', { ...PHONE, colorScheme: 'dark' });
    const long = `A long first line that runs the whole width: ${'lorem ipsum dolor sit amet '.repeat(12).trim()}`;
    const rtl = `שלום! ${'מימין לשמאל '.repeat(12).trim()}`;
    await sendMessage(alice.page, 'short');
    await sendMessage(alice.page, long);
    await sendMessage(alice.page, 'ok');
    await sendMessage(alice.page, rtl);
    await waitForMessages(bob.page, 4);
    // bob replies twice: to "short", then to the long line (that quote, cut with an ellipsis,
    // fills its line, at the top of a message inside his group).
    const short = await seqOf(bob.page, 'short');
    const longSeq = await seqOf(bob.page, long);
    const firstReply = `First reply: ${'words that wrap '.repeat(10).trim()}`;
    for (const [to, text] of [
      [short, firstReply],
      [longSeq, `Second reply: ${'x'.repeat(300)}`],
    ] as const) {
      const item = bob.page.locator(`#message-list li[data-seq="${to}"]`);
      await clickTool(item, '.reply');
      await sendMessage(bob.page, text);
    }
    // alice: an image with a long line, and an image alone, each inside her group.
    await sendMessage(alice.page, 'Here are the charts');
    for (const text of [long, '']) {
      await give(alice.page, 'paste', [
        { name: 'chart.png', type: 'image/png', base64: png(240, 60, [30, 120, 220]).toString('base64') },
      ]);
      await alice.page.locator('#attachment-tray .upload.done').waitFor();
      if (text) await sendMessage(alice.page, text);
      else await alice.page.click('#composer button[type="submit"]');
      await alice.page.locator('#attachment-tray .upload').waitFor({ state: 'detached' });
    }
    // And a code block at the very top of a message inside her group.
    await sendMessage(alice.page, '```\nconst code = "a block on top";\nreturn code;\n```');
    const total = 10;
    await waitForMessages(alice.page, total);
    await waitForMessages(bob.page, total);
    const carol = await signIn(chrome.browser, server.origin, 'carol', { ...DESK, colorScheme: 'dark' });
    const dave = await signIn(chrome.browser, server.origin, 'dave', { ...PHONE, colorScheme: 'light' });
    const pages = [
      ['desktop light, own messages', alice.page],
      ['phone dark', bob.page],
      ['desktop dark', carol.page],
      ['phone light', dave.page],
    ] as const;
    for (const [where, page] of pages) {
      await waitForMessages(page, total);
      await page.waitForFunction(
        (n) =>
          [...document.querySelectorAll('#message-list .attachment-image img')].filter(
            (i) => (i as HTMLImageElement).complete,
          ).length === n,
        2,
      );
      const seqs = await page.$$eval('#message-list li.message', (lis) =>
        lis.map((li) => Number((li as HTMLElement).dataset.seq)),
      );
      expect(seqs).toHaveLength(total);
      for (const seq of seqs)
        for (const how of ['hover', 'focus'] as const) {
          const measured = await showTools(page, seq, how);
          expect.soft(measured.found, `${where}, ${how}, message ${seq}`).toEqual([]);
        }
      // A message not selected: on a phone its long first line (left to right, or right to left)
      // runs to the body's far side, short of it by less than a word, and no room is kept for the
      // tools; a desktop keeps the room (nothing moves when the bar appears there).
      for (const text of [long, rtl]) {
        const line = await unselected(page, await seqOf(page, text));
        const what = `${where}, ${text.slice(0, 10)}`;
        expect(line.lines, what).toBeGreaterThan(1);
        if (where.startsWith('desktop')) expect(line.room, what).toBeGreaterThan(0);
        else {
          expect(line.short, what).toBeLessThanOrEqual(40);
          expect(line.room, what).toBe(0);
        }
      }
      // A message of one short line inside a group is as tall as the bar and the padding: the
      // room kept for the bar costs no height (on a phone, while the message is not selected;
      // selected, it grows: the bar has a row of its own above the line).
      const okSeq = await seqOf(page, 'ok');
      const ok = await showTools(page, okSeq, 'hover');
      const okAlone = await unselected(page, okSeq);
      expect(okAlone.height, where).toBeLessThanOrEqual(ok.barHeight + 0.2 * 16 + 0.5);
      if (where.startsWith('desktop')) expect(ok.height, where).toBe(okAlone.height);
      else expect(ok.height, where).toBeGreaterThan(okAlone.height);
    }
    // The question of Delete (a wider bar) covers nothing either: on a desktop, and on a phone at
    // the head of a group (name line, quote), also once neither hovered nor focused (the question
    // stays, and so does its row).
    for (const [page, text] of [
      [alice.page, long],
      [bob.page, firstReply],
    ] as const) {
      const seq = await seqOf(page, text);
      const own = page.locator(`#message-list li[data-seq="${seq}"]`);
      await clickTool(own, '.delete');
      await own.locator('.confirm-delete').waitFor();
      const what = `Delete? on ${text.slice(0, 12)}`;
      expect((await toolsCover(page, seq)).found, what).toEqual([]);
      await unselected(page, seq);
      const left = await toolsCover(page, seq);
      expect(left.shown, what).toBe(true);
      expect(left.found, what).toEqual([]);
    }
    for (const p of [alice, bob, carol, dave]) await p.context.close();
  }, 120_000);
});

describe('on a phone (360 × 740, and 320 wide)', () => {
  it('the search field is wide enough to use, its results open below it, and the buttons stay on one line', async () => {
    const server = await startTestServer();
    for (const viewport of [PHONE.viewport, { width: 320, height: 568 }]) {
      const phone = await signIn(chrome.browser, server.origin, `pat${viewport.width}`, {
        viewport,
        isMobile: true,
        hasTouch: true,
      });
      const page = phone.page;
      const where = `${viewport.width} px`;
      await sendMessage(page, `where is the chart ${where}`);
      await page.waitForFunction(() => document.querySelector('#message-list li.message:not(.pending)'));
      const field = await page.locator('#search-input').boundingBox();
      expect(field?.width, where).toBeGreaterThanOrEqual(viewport.width - 40);
      // The bar's buttons are on one line above the field, all of them shown whole.
      const tops = await page.$$eval(
        '#menu-toggle, #online-toggle, #notify-toggle, #theme-toggle, #logout',
        (nodes) =>
          nodes.map((n) => {
            const box = n.getBoundingClientRect();
            return {
              middle: box.top + box.height / 2,
              right: box.right,
              whole: n.scrollWidth <= n.clientWidth,
            };
          }),
      );
      for (const t of tops) {
        expect(Math.abs(t.middle - (tops[0]?.middle ?? 0)), where).toBeLessThanOrEqual(2);
        expect(t.whole, where).toBe(true);
        expect(t.right, where).toBeLessThanOrEqual(viewport.width);
      }
      // Nothing of the page runs off the side.
      expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), where).toBe(
        0,
      );
      await page.fill('#search-input', 'chart');
      await page.press('#search-input', 'Enter');
      await page.locator('#search-results .search-hit').first().waitFor();
      const results = await page.locator('#search-results').boundingBox();
      expect(results?.y, where).toBeGreaterThanOrEqual((field?.y ?? 0) + (field?.height ?? 0));
      await phone.context.close();
    }
  });

  it("the composer's placeholder is shown whole (a shorter one), while a desktop keeps the full hint", async () => {
    const server = await startTestServer();
    const fits = (page: Page) =>
      page.$eval('#composer-input', (n) => ({
        text: (n as HTMLTextAreaElement).placeholder,
        value: (n as HTMLTextAreaElement).value,
        whole: n.scrollHeight <= n.clientHeight && n.scrollWidth <= n.clientWidth,
      }));
    const hint = 'Message (Enter to send, Shift+Enter for a new line)';
    for (const [options, full] of [
      [PHONE, false],
      [{ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }, false],
      // 800 px wide, the side panels narrower than on a wide desktop leave the hint its width.
      [{ viewport: { width: 800, height: 700 } }, true],
      [DESK, true],
    ] as const) {
      const { page, context } = await signIn(
        chrome.browser,
        server.origin,
        `u${options.viewport.width}`,
        options,
      );
      const shown = await fits(page);
      const where = `${options.viewport.width} px`;
      expect(shown.value, where).toBe('');
      expect(shown.whole, `${where}: "${shown.text}"`).toBe(true);
      expect(shown.text.startsWith('Message'), where).toBe(true);
      if (full) expect(shown.text, where).toBe(hint);
      else expect(shown.text, where).not.toBe(hint);
      await context.close();
    }
    // A window made narrow gets the short one, and the hint back when widened.
    const { page, context } = await signIn(chrome.browser, server.origin, 'resized', DESK);
    await page.setViewportSize(PHONE.viewport);
    await page.waitForFunction(
      (h) => (document.querySelector('#composer-input') as HTMLTextAreaElement).placeholder !== h,
      hint,
    );
    expect((await fits(page)).whole).toBe(true);
    await page.setViewportSize(DESK.viewport);
    await page.waitForFunction(
      (h) => (document.querySelector('#composer-input') as HTMLTextAreaElement).placeholder === h,
      hint,
    );
    await context.close();
  });
});

describe('the top bar just above the phone layout', () => {
  it('at 721-850 px the search field keeps 160 px and the bar one line, with a long name and status', async () => {
    const server = await startTestServer();
    // The longest name there is (24 characters), and the longest status the page shows offline.
    const desk = await signIn(chrome.browser, server.origin, 'abcdefghijklmnopqrstuvwx', {
      viewport: { width: 721, height: 700 },
    });
    const page = desk.page;
    await page.evaluate(() => {
      (document.querySelector('#status') as HTMLElement).textContent = 'Offline — retrying in 30 s';
    });
    for (const width of [721, 780, 850, 900]) {
      const where = `${width} px`;
      await page.setViewportSize({ width, height: 700 });
      const bar = await page.evaluate(() => {
        const box = (s: string) => (document.querySelector(s) as HTMLElement).getBoundingClientRect();
        const items = [
          '#top h1',
          '#search-form',
          '#status',
          '#notify-toggle',
          '#theme-toggle',
          '#shortcuts-button',
          '#me',
          '#logout',
        ];
        return {
          field: box('#search-input').width,
          middles: items.map((s) => box(s).top + box(s).height / 2),
          right: Math.max(...items.map((s) => box(s).right)),
          buttonsWhole: ['#notify-toggle', '#theme-toggle', '#shortcuts-button', '#logout'].every((s) => {
            const n = document.querySelector(s) as HTMLElement;
            return n.scrollWidth <= n.clientWidth;
          }),
          overflow: document.documentElement.scrollWidth - window.innerWidth,
        };
      });
      expect(bar.field, where).toBeGreaterThanOrEqual(160);
      for (const middle of bar.middles)
        expect(Math.abs(middle - (bar.middles[0] ?? 0)), where).toBeLessThanOrEqual(2);
      expect(bar.right, where).toBeLessThanOrEqual(width);
      expect(bar.buttonsWhole, where).toBe(true);
      expect(bar.overflow, where).toBe(0);
    }
    // A name cut short still says itself on hover.
    expect(await page.getAttribute('#me', 'title')).toBe('abcdefghijklmnopqrstuvwx');
    await desk.context.close();
  });
});

/**
 * Where the words of message `seq` are, from its own top left corner (the boxes of each text node's
 * glyphs, of its quote, images, code blocks and reaction chips), and its size, rounded to 0.1 px.
 */
function wordBoxes(page: Page, seq: number) {
  return page.evaluate((s) => {
    const li = document.querySelector(`#message-list li.message[data-seq="${s}"]`) as HTMLElement;
    const at = li.getBoundingClientRect();
    const round = (n: number) => Math.round(n * 10) / 10;
    const put = (r: DOMRect) =>
      `${round(r.left - at.left)},${round(r.top - at.top)} ${round(r.width)}×${round(r.height)}`;
    const body = li.querySelector('.body') as HTMLElement;
    const boxes: string[] = [`message ${round(at.width)}×${round(at.height)}`];
    const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(node);
      boxes.push(
        `"${(node.textContent ?? '').slice(0, 12)}" ${[...range.getClientRects()].map(put).join(' ')}`,
      );
    }
    for (const box of body.querySelectorAll('.reply-quote, img, pre, .reaction'))
      boxes.push(`${box.tagName} ${put(box.getBoundingClientRect())}`);
    return boxes;
  }, seq);
}

describe('a desktop window with a mouse, as narrow as a phone or just above (600-900 px)', () => {
  it('nothing of a message moves when it is hovered: at the head of a group or inside it, a code block on top too', async () => {
    const server = await startTestServer({ limits: { messageRate: { burst: 50, perSecond: 50 } } });
    const desk = await signIn(chrome.browser, server.origin, 'alice', {
      viewport: { width: 900, height: 800 },
    });
    const page = desk.page;
    const long = `A long first line that runs the whole width: ${'lorem ipsum dolor sit amet '.repeat(8).trim()}`;
    const code = 'const code = "a block at the very top of a message inside a group";';
    const texts = [
      long,
      'ok',
      `Inside the group, ${long}`,
      `שלום! ${'מימין לשמאל '.repeat(10).trim()}`,
      `\`\`\`\n${code}\nreturn code;\n\`\`\``,
    ];
    for (const text of texts) await sendMessage(page, text);
    await waitForMessages(page, texts.length);
    const seqs = await page.$$eval('#message-list li.message', (lis) =>
      lis.map((li) => Number((li as HTMLElement).dataset.seq)),
    );
    const codeSeq = seqs.at(-1) as number;
    for (const width of [600, 720, 721, 730, 760, 800, 850, 900]) {
      await page.setViewportSize({ width, height: 800 });
      for (const seq of seqs) {
        const where = `${width} px, message ${seq}`;
        await unselected(page, seq);
        const before = await wordBoxes(page, seq);
        const shown = await showTools(page, seq, 'hover');
        expect.soft(shown.found, where).toEqual([]);
        expect.soft(await wordBoxes(page, seq), where).toEqual(before);
      }
      // The code block on top of a message inside a group has the text's whole width: it is not
      // narrowed by the room kept for the tools along its whole height.
      const block = await page.evaluate((s) => {
        const li = document.querySelector(`#message-list li.message[data-seq="${s}"]`) as HTMLElement;
        const text = (li.querySelector('.text') as HTMLElement).getBoundingClientRect();
        const pre = (li.querySelector('.text pre') as HTMLElement).getBoundingClientRect();
        return { text: text.width, pre: pre.width, left: pre.left - text.left };
      }, codeSeq);
      expect.soft(block.pre, `${width} px, code block`).toBeCloseTo(block.text, 0);
      expect.soft(block.left, `${width} px, code block`).toBeCloseTo(0, 0);
    }
    await desk.context.close();
  });
});

describe('a narrow desktop window (600-900 px): the room kept for the tools', () => {
  it('leaves a name line and a first line of a message more than a few letters (it left 11 px at 721 px)', async () => {
    const server = await startTestServer();
    const desk = await signIn(chrome.browser, server.origin, 'alice', {
      viewport: { width: 900, height: 800 },
    });
    const page = desk.page;
    await sendMessage(page, 'first');
    await sendMessage(page, 'second');
    await waitForMessages(page, 2);
    const [head, inside] = await page.$$eval('#message-list li.message', (lis) =>
      lis.map((li) => Number((li as HTMLElement).dataset.seq)),
    );
    for (const width of [600, 721, 760, 800, 850, 900]) {
      await page.setViewportSize({ width, height: 800 });
      for (const seq of [head, inside] as number[]) {
        await unselected(page, seq);
        const free = await page.evaluate((s) => {
          const li = document.querySelector(`#message-list li.message[data-seq="${s}"]`) as HTMLElement;
          const body = (li.querySelector('.body') as HTMLElement).getBoundingClientRect();
          const room = li.querySelector('.tools-room') as HTMLElement;
          const margin = Number.parseFloat(getComputedStyle(room).marginLeft);
          const meta = li.querySelector('.meta .user');
          const range = document.createRange();
          if (meta) range.selectNodeContents(meta);
          const nameLines = meta
            ? new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size
            : 1;
          return { px: body.width - room.getBoundingClientRect().width - margin, nameLines };
        }, seq);
        // 6rem: a dozen letters beside the bar's room, on every message, hovered or not.
        expect.soft(free.px, `${width} px, message ${seq}`).toBeGreaterThanOrEqual(96);
        expect.soft(free.nameLines, `${width} px, message ${seq}: the name on one line`).toBe(1);
      }
    }
    await desk.context.close();
  });
});

describe('the composer', () => {
  it('grows with a long draft up to its maximum, then scrolls, and shrinks back once sent (desktop and phone)', async () => {
    const server = await startTestServer();
    const phone = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true };
    for (const [name, options] of [
      ['alice', DESK],
      ['bob', phone],
    ] as const) {
      const { page, context } = await signIn(chrome.browser, server.origin, name, options);
      const box = () =>
        page.evaluate(() => {
          const input = document.querySelector('#composer-input') as HTMLTextAreaElement;
          const list = (document.querySelector('#messages') as HTMLElement).getBoundingClientRect();
          return {
            height: input.getBoundingClientRect().height,
            scrolls: input.scrollHeight > input.clientHeight,
            bottom: input.getBoundingClientRect().bottom,
            list: list.height,
            listTop: list.top,
          };
        });
      const two = await box();
      const vh = options.viewport.height;
      // Three lines: taller than its two rows, and all of it shown.
      await page.fill('#composer-input', 'one\ntwo\nthree');
      const three = await box();
      expect(three.height, name).toBeGreaterThan(two.height);
      expect(three.scrolls, name).toBe(false);
      // Forty lines: no taller than its maximum (40% of the viewport), and it scrolls.
      await page.fill('#composer-input', Array.from({ length: 40 }, (_, i) => `line ${i + 1}`).join('\n'));
      const long = await box();
      expect(long.height, name).toBeGreaterThan(three.height);
      expect(long.height, name).toBeLessThanOrEqual(vh * 0.4 + 1);
      expect(long.scrolls, name).toBe(true);
      // The box stays on screen, and the messages keep most of what is left (on a phone too).
      expect(long.bottom, name).toBeLessThanOrEqual(vh);
      expect(long.listTop, name).toBeGreaterThanOrEqual(0);
      expect(long.list, name).toBeGreaterThan(vh * 0.3);
      // Sent (the composer is emptied as Enter is handled): back to two rows.
      await page.press('#composer-input', 'Enter');
      expect(await page.inputValue('#composer-input'), name).toBe('');
      expect((await box()).height, name).toBe(two.height);
      await context.close();
    }
  });
});

describe("the composer's buttons", () => {
  it('Attach and Send stand side by side at the foot of the box, one height, with two rows or eight (desktop and phone)', async () => {
    // Seen as a user: Attach was stretched to the box's height (a tall empty frame beside a grown
    // draft, its word in the middle), Send a small button at the foot.
    const server = await startTestServer();
    const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
    for (const [name, options] of [
      ['alice', DESK],
      ['bob', phone],
    ] as const) {
      const { page, context } = await signIn(chrome.browser, server.origin, name, options);
      const boxes = () =>
        page.evaluate(() => {
          const of = (s: string) => (document.querySelector(s) as HTMLElement).getBoundingClientRect();
          const [input, attach, send] = [
            of('#composer-input'),
            of('#attach-button'),
            of('#composer button[type="submit"]'),
          ];
          return {
            input: input.bottom,
            attach: [attach.bottom, attach.height],
            send: [send.bottom, send.height],
          };
        });
      for (const lines of [0, 8]) {
        await page.fill(
          '#composer-input',
          Array.from({ length: lines }, (_, i) => `line ${i + 1}`).join('\n'),
        );
        const b = await boxes();
        const where = `${name}, ${lines} lines`;
        expect(Math.abs(b.attach[1] - b.send[1]), where).toBeLessThanOrEqual(2);
        expect(Math.abs(b.attach[0] - b.send[0]), where).toBeLessThanOrEqual(1);
        expect(Math.abs(b.attach[0] - b.input), where).toBeLessThanOrEqual(1);
      }
      await context.close();
    }
  });
});

describe("the room's header", () => {
  it("keeps the room's name in sight beside a private room's tools, on two lines at most (phone to desktop)", async () => {
    // Seen as a user: on a phone, the owner of a private room saw the invitation's field and the
    // room's buttons on the header's one line, and no room name at all (squeezed to 0 px).
    const server = await startTestServer();
    const { page, context } = await signIn(chrome.browser, server.origin, 'alice', {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
    });
    for (const room of ['secret', 'the-quarterly-planning-meeting-x']) {
      await page.evaluate((r) => {
        (document.querySelector('#room-input') as HTMLInputElement).value = r;
        (document.querySelector('#room-private') as HTMLInputElement).checked = true;
        (document.querySelector('#room-form') as HTMLFormElement).requestSubmit();
      }, room);
      await page.waitForFunction((r) => document.querySelector('#room-title')?.textContent === `#${r}`, room);
      await page.waitForSelector('#invite-form:not([hidden])');
      for (const width of [320, 390, 800, 1280]) {
        await page.setViewportSize({ width, height: 800 });
        const got = await page.evaluate(() => {
          const title = document.querySelector('#room-title') as HTMLElement;
          const header = (document.querySelector('#room-header') as HTMLElement).getBoundingClientRect();
          const line = (document.querySelector('#delete-room') as HTMLElement).getBoundingClientRect().height;
          return {
            shown: title.getBoundingClientRect().width,
            whole: title.scrollWidth,
            height: header.height,
            line,
            overflow: document.documentElement.scrollWidth - window.innerWidth,
          };
        });
        const where = `#${room} at ${width} px`;
        // All of a short name, and at least 7rem (112 px) of a long one (the rest cut with "…").
        expect(got.shown, where).toBeGreaterThanOrEqual(Math.min(got.whole, 112));
        expect(got.height, where).toBeLessThan(got.line * 2 + 60);
        expect(got.overflow, where).toBe(0);
      }
      await page.setViewportSize({ width: 390, height: 844 });
    }
    await context.close();
  });
});

describe('the people panel', () => {
  it("keeps a private room's Remove buttons inside it, beside a member who is offline (800 px to desktop)", async () => {
    // Seen as a user: at 800 px "bob offline Remove" ran out of the panel, Remove cut at its edge.
    const server = await startTestServer();
    await register(server.origin, 'bob');
    const { page, context } = await signIn(chrome.browser, server.origin, 'alice', DESK);
    await page.fill('#room-input', 'secret');
    await page.check('#room-private');
    await page.press('#room-input', 'Enter');
    await page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#secret');
    await page.fill('#invite-input', 'bob');
    await page.press('#invite-input', 'Enter');
    // bob accepts from a connection closed at once: a member, offline.
    await page.waitForFunction(() =>
      document.querySelector('#room-error')?.textContent?.startsWith('Invited bob'),
    );
    await acceptInvitation(server.origin, 'bob', 'secret');
    await page.waitForSelector('#online-list li.offline .remove-member');
    for (const width of [800, 1024, 1280]) {
      await page.setViewportSize({ width, height: 800 });
      const got = await page.evaluate(() => {
        const panel = (document.querySelector('#online-panel') as HTMLElement).getBoundingClientRect();
        const button = (
          document.querySelector('#online-list .remove-member') as HTMLElement
        ).getBoundingClientRect();
        return {
          right: button.right,
          inner: panel.right - 4,
          scroll:
            (document.querySelector('#online-panel') as HTMLElement).scrollWidth -
            (document.querySelector('#online-panel') as HTMLElement).clientWidth,
        };
      });
      expect(got.right, `${width} px`).toBeLessThanOrEqual(got.inner);
      expect(got.scroll, `${width} px`).toBe(0);
    }
    await context.close();
  });
});

describe('on a phone (375 × 667), the answers to room requests', () => {
  it('made with the rooms drawer closed are shown above the composer, in one live region; in the drawer, there', async () => {
    const server = await startTestServer();
    await register(server.origin, 'bob');
    const carol = await TestClient.user(server.origin, 'carol');
    await carol.request('joined', { type: 'create', room: 'secret', private: true });
    const phone = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true };
    const { page, context } = await signIn(chrome.browser, server.origin, 'alice', phone);
    // Where `text` is: the live regions holding it, and the box of each element saying it.
    const said = (text: string) =>
      page.evaluate((t) => {
        const live = '[role="alert"], [role="status"], [aria-live]:not([aria-live="off"])';
        return {
          regions: [...document.querySelectorAll(live)]
            .filter((e) => e.textContent?.includes(t))
            .map((e) => e.id),
          shown: [...document.querySelectorAll('p')]
            .filter((e) => e.textContent === t && e.checkVisibility({ visibilityProperty: true }))
            .map((e) => {
              const r = e.getBoundingClientRect();
              const inside = r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0;
              return `${e.id}${inside && r.right <= innerWidth && r.bottom <= innerHeight ? '' : ' (off screen)'}`;
            }),
          done: document.querySelector('#room-note')?.classList.contains('done'),
        };
      }, text);
    // A private room of alice's, made from the drawer, which closes as the room opens.
    await page.click('#menu-toggle');
    await page.fill('#room-input', 'plans');
    await page.check('#room-private');
    await page.press('#room-input', 'Enter');
    await page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#plans');
    await page.waitForSelector('#room-form', { state: 'hidden' });

    // From the conversation's invite field: confirmed on screen, said once.
    await page.fill('#invite-input', 'bob');
    await page.press('#invite-input', 'Enter');
    const invited = 'Invited bob to #plans; waiting for them to accept.';
    await page.waitForFunction((t) => document.body.textContent?.includes(t), invited);
    expect(await said(invited)).toEqual({ regions: ['room-note'], shown: ['room-note'], done: true });
    // Its colours (and the page's) pass axe, as a11y.test.ts checks the rest of the phone's page.
    expect(await axeViolations(page)).toEqual([]);
    // An error (already_invited) replaces it there, as an error.
    await page.fill('#invite-input', 'bob');
    await page.press('#invite-input', 'Enter');
    const already = 'bob is already invited to #plans.';
    await page.waitForFunction((t) => document.body.textContent?.includes(t), already);
    expect(await said(already)).toEqual({ regions: ['room-note'], shown: ['room-note'], done: false });
    expect(await said(invited)).toEqual({ regions: [], shown: [], done: false });
    expect(await axeViolations(page)).toEqual([]);

    // A request from the open drawer is answered in it (the note above the composer is emptied).
    await page.click('#menu-toggle');
    await page.fill('#room-input', 'secret');
    await page.press('#room-input', 'Enter');
    const refused = '#secret is a private room: its owner can invite you';
    await page.waitForFunction((t) => document.body.textContent?.includes(t), refused);
    // Polled: the drawer may still be sliding in.
    await expect
      .poll(() => said(refused))
      .toEqual({ regions: ['room-error'], shown: ['room-error'], done: false });
    expect(await said(already)).toEqual({ regions: [], shown: [], done: false });
    await carol.close();
    await context.close();
  });

  it('made from the far end of a long room directory in the drawer stay on screen there, on top', async () => {
    // alice may be in one room (general): joining another is refused (too_many_rooms).
    const server = await startTestServer({ limits: { maxRoomsPerUser: 1 } });
    for (let i = 0; i < 30; i++) {
      const room = `r${String(i).padStart(2, '0')}`;
      await server.backend.rooms.createRoom(
        { name: room, kind: 'public', owner: null, createdAt: Date.now() },
        { maxRooms: 100, maxOwnedRooms: 100 },
      );
    }
    const phone = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true };
    const { page, context } = await signIn(chrome.browser, server.origin, 'alice', phone);
    await page.click('#menu-toggle');
    await page.click('#all-rooms summary');
    // The last room of the directory: the drawer is scrolled down to it, past the answer's place.
    const last = page.locator('#all-room-list button', { hasText: '#r29' });
    // The number says what it counts (it was "#r29 (0)").
    expect(await last.textContent()).toBe('#r29 · 0 members');
    await last.click();
    const refused = 'you can be in at most 1 room';
    await page.waitForFunction((t) => document.querySelector('#room-error')?.textContent === t, refused);
    expect(await page.evaluate(() => document.getElementById('rooms-panel')?.scrollTop)).toBeGreaterThan(0);
    // Inside the viewport, and on top at its centre (not scrolled off the drawer, not covered).
    const seen = () =>
      page.evaluate(() => {
        const e = document.getElementById('room-error') as HTMLElement;
        const r = e.getBoundingClientRect();
        const inside = r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
        return inside && e.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2));
      });
    await expect.poll(seen).toBe(true);
    // One live region holds it (the note above the composer, and the composer's, do not).
    const regions = await page.evaluate(
      (t) =>
        [...document.querySelectorAll('[role="alert"], [role="status"], [aria-live]:not([aria-live="off"])')]
          .filter((e) => e.textContent?.includes(t))
          .map((e) => e.id),
      refused,
    );
    expect(regions).toEqual(['room-error']);
    await context.close();
  });
});
