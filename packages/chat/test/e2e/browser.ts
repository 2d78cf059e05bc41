/**
 * Browser test helpers: the system chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH) through
 * playwright-core, and a TCP proxy that can drop and refuse connections to simulate a network cut.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import {
  type Browser,
  type BrowserContext,
  chromium,
  errors,
  type Locator,
  type Page,
} from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { cleanup } from '../helpers.js';

/**
 * One browser for the test file: launched before its tests and closed after them; the servers a
 * test started are closed after each test. Read `.browser` inside a test.
 */
export function useBrowser(extraArgs: string[] = []): { readonly browser: Browser } {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launch(extraArgs);
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(cleanup);
  return {
    get browser(): Browser {
      if (!browser) throw new Error('the browser is not launched yet');
      return browser;
    },
  };
}

/** Joins (or creates) `room` from the form and waits until it is shown. */
export async function openRoom(page: Page, room: string): Promise<void> {
  await page.fill('#room-input', room);
  await page.press('#room-input', 'Enter');
  await page.waitForFunction((r) => document.querySelector('#room-title')?.textContent === `#${r}`, room);
}

/** Waits until the open room shows `n` delivered messages. */
export function waitForMessages(page: Page, n: number): Promise<unknown> {
  return page.waitForFunction(
    (count) => document.querySelectorAll('#message-list li.message:not(.pending)').length === count,
    n,
  );
}

/** Which element has the focus, as a short description for messages. */
export function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const a = document.activeElement as HTMLElement | null;
    if (!a || a === document.body) return 'body';
    return `${a.tagName.toLowerCase()}${a.id ? `#${a.id}` : ''}${a.className ? `.${a.className.split(' ').join('.')}` : ''}`;
  });
}

/** Whether the focused element matches `selector`. */
export function focusMatches(page: Page, selector: string): Promise<boolean> {
  return page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector);
}

/**
 * Presses `key` (Tab or Shift+Tab) until the focus is on an element matching `selector`, as a
 * keyboard user moves through the page; fails when it is not reached within `max` presses.
 */
export async function tabTo(
  page: Page,
  selector: string,
  key: 'Tab' | 'Shift+Tab' = 'Tab',
  max = 60,
): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; i <= max; i++) {
    if (await focusMatches(page, selector)) return;
    seen.push(await focused(page));
    await page.keyboard.press(key);
  }
  throw new Error(`${key} did not reach ${selector}; went through ${seen.join(', ')}`);
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launch(extraArgs: string[] = []): Promise<Browser> {
  // playwright gives each launch a fresh temporary profile (user data dir) and adds --headless.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}

/**
 * Opens the page in a new context and creates the account with "Create account" (or, with
 * `existing`, signs in with "Sign in").
 */
export async function signIn(
  browser: Browser,
  origin: string,
  name: string,
  options: {
    viewport?: { width: number; height: number };
    existing?: boolean;
    colorScheme?: 'light' | 'dark';
    isMobile?: boolean;
    hasTouch?: boolean;
    /** Run in the page before its own scripts (a test's stand-in for a browser API). */
    initScript?: () => void;
  } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const { existing: _, initScript, ...contextOptions } = options;
  const context = await browser.newContext(contextOptions);
  if (initScript) await context.addInitScript(initScript);
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    throw new Error(`unexpected dialog: ${dialog.message()}`);
  });
  await page.goto(origin);
  await page.fill('#login-name', name);
  await page.fill('#login-password', 'browser password');
  await page.click(options.existing ? '#sign-in' : '#sign-up');
  await page.waitForSelector('#status[data-state="online"]');
  return { context, page };
}

/**
 * Another tab of `context` (the same cookie) signs out and signs up as `name`: the session the
 * context's other pages resume with is now that account's.
 */
export async function switchAccount(context: BrowserContext, origin: string, name: string): Promise<void> {
  const other = await context.newPage();
  await other.goto(origin);
  await other.waitForSelector('#status[data-state="online"]');
  await other.click('#logout');
  await other.fill('#login-name', name);
  await other.fill('#login-password', 'browser password');
  await other.click('#sign-up');
  await other.waitForSelector('#status[data-state="online"]');
}

/** A frame the page sent, parsed: its type and, for a send, its id, room and text. */
export type SentFrame = { type: string; id?: string; text?: string; room?: string };

/** The text frames the page sends on WebSockets opened from now on. */
export function framesSent(page: Page): SentFrame[] {
  const frames: SentFrame[] = [];
  page.on('websocket', (ws) =>
    ws.on('framesent', (frame) => {
      if (typeof frame.payload === 'string') frames.push(JSON.parse(frame.payload) as SentFrame);
    }),
  );
  return frames;
}

/** Cuts the page off (the proxy refuses it) and waits until it says so. */
export async function goOffline(proxy: TcpProxy, page: Page): Promise<void> {
  proxy.drop();
  await page.waitForSelector('#status[data-state="offline"]');
}

/** Lets the page back in and has it reconnect now (as the browser's `online` event does). */
export async function comeBack(proxy: TcpProxy, page: Page): Promise<void> {
  proxy.restore();
  await page.evaluate(() => window.dispatchEvent(new Event('online')));
  await page.waitForSelector('#status[data-state="online"]', { timeout: 30_000 });
}

export async function sendMessage(page: Page, text: string): Promise<void> {
  await page.fill('#composer-input', text);
  await page.keyboard.press('Enter');
}

/**
 * Sends several messages in one task, each with Enter as the keyboard would: for tests about what
 * happens to many messages, not about typing (which a loaded machine makes slow).
 */
export async function sendMessages(page: Page, texts: string[]): Promise<void> {
  await page.evaluate((all) => {
    const input = document.querySelector('#composer-input') as HTMLTextAreaElement;
    for (const text of all) {
      input.value = text;
      input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
    }
  }, texts);
}

/** Texts of the delivered (not pending) messages in the open room (without an "(edited)" mark). */
export function messageTexts(page: Page): Promise<string[]> {
  return page.$$eval('#message-list li.message:not(.pending) .text', (nodes) =>
    nodes.map((n) => {
      const copy = n.cloneNode(true) as HTMLElement;
      for (const mark of copy.querySelectorAll('.edited')) mark.remove();
      return (copy.textContent ?? '').trimEnd();
    }),
  );
}

/** Deletes one of the user's own messages: Delete, then the confirmation. */
export async function deleteMessage(page: Page, seq: number): Promise<void> {
  const item = page.locator(`#message-list li.message[data-seq="${seq}"]`);
  await clickTool(item, '.delete');
  await item.locator('.confirm-delete').click();
}

/** How long one try of clickTool waits for its click (a loaded machine's click takes about 1 s). */
const TOOL_TRY_MS = 5_000;

/**
 * Clicks one of a message's tools (`tool`, a selector inside the message `item`) as a mouse user
 * does: the pointer goes to the tool's own spot, which lies inside the message, so the message is
 * hovered and its bar shows (style.css: the bar takes no pointer events until then), and clicks
 * there. Hovering the message and then clicking the tool is not enough: Playwright checks what is
 * under the tool before it moves the pointer, so a message that moved in between (a row put in or
 * taken away above it, a scroll) leaves the pointer off it and the bar hidden for every retry of
 * the click. Here a try the bar refuses for `TOOL_TRY_MS`, or whose button was replaced meanwhile
 * (a row is drawn again when its reactions change), starts again from the pointer move, `tries`
 * times at most; any other failure is thrown as it is.
 */
export async function clickTool(item: Locator, tool: string, tries = 4): Promise<void> {
  const button = item.locator(tool);
  for (let attempt = 1; ; attempt++) {
    try {
      await button.scrollIntoViewIfNeeded({ timeout: TOOL_TRY_MS });
      const box = await button.boundingBox({ timeout: TOOL_TRY_MS });
      if (box) await item.page().mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await button.click({ timeout: TOOL_TRY_MS });
      return;
    } catch (error) {
      const again =
        error instanceof errors.TimeoutError ||
        (error instanceof Error && error.message.includes('not attached to the DOM'));
      if (!again || attempt >= tries) throw error;
    }
  }
}

/** The seq of the last delivered message whose text is `text`. */
export async function seqOf(page: Page, text: string): Promise<number> {
  await page.waitForFunction(
    (t) =>
      [...document.querySelectorAll('#message-list li.message:not(.pending) .text')].some(
        (n) => n.textContent === t,
      ),
    text,
  );
  return page.$$eval(
    '#message-list li.message:not(.pending)',
    (items, t) => {
      const found = items.filter((li) => li.querySelector('.text')?.textContent === t).at(-1);
      return Number((found as HTMLElement).dataset.seq);
    },
    text,
  );
}

export type FileSpec = { name: string; type: string; base64: string };

/**
 * Gives files to the page as a paste into the composer or a drop on the conversation would (the
 * clipboard and drag-and-drop of the desktop are not scriptable headless).
 */
export async function give(page: Page, how: 'paste' | 'drop', files: FileSpec[]): Promise<void> {
  await page.evaluate(
    ([mode, list]) => {
      const data = new DataTransfer();
      for (const f of list) {
        const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
        data.items.add(new File([bytes], f.name, { type: f.type }));
      }
      const init = { bubbles: true, cancelable: true };
      if (mode === 'paste') {
        const input = document.getElementById('composer-input') as HTMLTextAreaElement;
        input.focus();
        input.dispatchEvent(new ClipboardEvent('paste', { ...init, clipboardData: data }));
      } else {
        const zone = document.getElementById('conversation') as HTMLElement;
        zone.dispatchEvent(new DragEvent('dragover', { ...init, dataTransfer: data }));
        zone.dispatchEvent(new DragEvent('drop', { ...init, dataTransfer: data }));
      }
    },
    [how, files] as const,
  );
}

/**
 * A TCP proxy in front of the chat: drop() cuts every connection and refuses new ones until
 * restore(); holdReplies() stops passing on what the server sends (kept back, then lost with the
 * connection at drop(): a reply the server wrote that the page never gets).
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #down = false;
  #holding = false;
  port = 0;

  constructor(targetPort: number) {
    this.#server = createServer((client) => {
      if (this.#down) {
        client.destroy();
        return;
      }
      const upstream = connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => {
        if (!this.#holding) client.write(chunk);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return `http://127.0.0.1:${this.port}`;
  }

  drop(): void {
    this.#down = true;
    for (const s of this.#sockets) s.destroy();
  }

  /** From now until drop(), the server's bytes go nowhere (the page's still reach the server). */
  holdReplies(): void {
    this.#holding = true;
  }

  restore(): void {
    this.#down = false;
    this.#holding = false;
  }

  close(): Promise<void> {
    this.drop();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** A refusal the page's next history request of a kind gets (refuseHistory). */
export type HistoryRefusal = 'rate_limited' | 'unavailable';

/**
 * Routes the page's WebSockets (opened from now on: reload the page) through the test: once
 * armed, the page's next request for a room's `older` page (`history` with `before`) or `latest`
 * page (`history` with neither `before` nor `around`) is answered with the refusal armed, as the
 * server words it, and not sent on. Every other frame goes through.
 */
export async function refuseHistory(
  page: Page,
): Promise<{ arm(page: 'older' | 'latest', code: HistoryRefusal): void }> {
  let armed: { page: 'older' | 'latest'; code: HistoryRefusal } | null = null;
  await page.routeWebSocket(/./, (route) => {
    const upstream = route.connectToServer();
    route.onMessage((message) => {
      const frame = typeof message === 'string' ? (JSON.parse(message) as Record<string, unknown>) : {};
      const kind =
        frame.type !== 'history' || frame.around !== undefined
          ? null
          : frame.before !== undefined
            ? 'older'
            : 'latest';
      if (armed === null || kind !== armed.page) {
        upstream.send(message);
        return;
      }
      const error =
        armed.code === 'rate_limited'
          ? { code: 'rate_limited', message: 'too many requests; retry in 3808 ms', retryAfterMs: 3808 }
          : { code: 'unavailable', message: 'chat storage is unavailable; retry when service resumes' };
      armed = null;
      route.send(JSON.stringify({ v: 2, type: 'error', ref: frame.ref, ...error }));
    });
  });
  return {
    arm: (kind, code) => {
      armed = { page: kind, code };
    },
  };
}
