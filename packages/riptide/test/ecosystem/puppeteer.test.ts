/**
 * puppeteer-core on riptide, unchanged, driving the system Chromium (Debian's /usr/bin/chromium,
 * or CHROMIUM_PATH; never a downloaded browser) over the DevTools protocol. Puppeteer's
 * NodeWebSocketTransport does `new (require('ws'))(endpoint, [], { perMessageDeflate: false,
 * allowSynchronousEvents: false, maxPayload: 256 MiB, followRedirects: true, headers })` and
 * listens with addEventListener; loaded through ws-redirect.ts, that WebSocket is riptide's.
 *
 * What this adds to the other ecosystem tests: the peer is not Node (Chromium's own WebSocket
 * server), messages are megabytes in both directions (a screenshot, an evaluate argument), and
 * the peer can die without a close frame. puppeteer-core 24 is the last line whose engines allow
 * Node 20, this project's floor (25 asks for 22.12).
 *
 * Every wait is on a protocol reply or a puppeteer event; each test launches its own browser and
 * closes it afterwards.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Puppeteer from 'puppeteer-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as realWs from 'ws';
import { requireOnRiptide } from './ws-redirect.js';

const { module: puppeteer, riptide } = requireOnRiptide<typeof Puppeteer>('puppeteer-core', [
  'puppeteer-core',
]);

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Without the background-networking flags Chromium reaches out at start, which a closed network
// refuses (see the e2e tests' browser.ts).
const args = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A browser on a profile folder of our own: puppeteer removes the one it makes itself only when it
 * closes the browser, not when the browser dies (the last test kills it).
 */
async function launch(): Promise<Puppeteer.Browser> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'riptide-puppeteer-'));
  // Retries: Chromium's helper processes may still be writing there as the main one exits.
  cleanups.push(() => rm(userDataDir, { recursive: true, force: true, maxRetries: 5 }));
  const browser = await puppeteer.launch({ executablePath, headless: true, args, userDataDir });
  cleanups.push(async () => {
    const chromium = browser.process();
    const exited =
      chromium && chromium.exitCode === null && chromium.signalCode === null
        ? once(chromium, 'exit')
        : undefined;
    if (browser.connected) await browser.close();
    else chromium?.kill('SIGKILL');
    await exited;
  });
  return browser;
}

/**
 * A page showing a 1200x900 canvas of seeded noise: its PNG barely compresses, so a screenshot
 * is a CDP message of several megabytes (base64 in JSON).
 */
async function noisePage(browser: Puppeteer.Browser): Promise<Puppeteer.Page> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900 });
  await page.setContent(
    '<title>noise</title><body style="margin:0"><canvas id="c" width="1200" height="900"></canvas></body>',
  );
  // Runs in the page; this project's test types have no DOM, hence the narrow shapes.
  await page.evaluate(() => {
    type ImageData = { data: Uint8ClampedArray };
    type Canvas = {
      width: number;
      height: number;
      getContext(kind: '2d'): {
        createImageData(w: number, h: number): ImageData;
        putImageData(image: ImageData, x: number, y: number): void;
      };
    };
    const { document } = globalThis as unknown as { document: { querySelector(s: string): Canvas } };
    const canvas = document.querySelector('canvas');
    const ctx = canvas.getContext('2d');
    const image = ctx.createImageData(canvas.width, canvas.height);
    // xorshift32, seeded: the same noise on every run.
    let x = 2463534242;
    for (let i = 0; i < image.data.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      image.data[i] = i % 4 === 3 ? 255 : x & 0xff;
    }
    ctx.putImageData(image, 0, 0);
  });
  return page;
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Uint8Array): [number, number] {
  const b = Buffer.from(png);
  expect(b.subarray(1, 4).toString()).toBe('PNG');
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

/**
 * Puppeteer's documented ConnectionTransport on ws itself, with the options puppeteer gives its
 * own: the same browser seen through ws, to compare with what riptide carried.
 */
async function wsTransport(endpoint: string): Promise<Puppeteer.ConnectionTransport> {
  const ws = new realWs.WebSocket(endpoint, [], { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const transport: Puppeteer.ConnectionTransport = {
    send: (message) => ws.send(message),
    close: () => ws.close(),
  };
  ws.on('message', (data) => transport.onmessage?.(String(data)));
  ws.on('close', () => transport.onclose?.());
  return transport;
}

describe('puppeteer-core on riptide, Chromium as the server', () => {
  it("speaks CDP through riptide's WebSocket: a page opens and evaluates", async () => {
    const send = vi.spyOn(riptide.prototype, 'send');
    cleanups.push(() => send.mockRestore());
    const browser = await launch();
    expect(browser.wsEndpoint()).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/devtools\/browser\//);
    const page = await browser.newPage();
    await page.setContent('<title>riptide</title><p id="p">hello</p>');
    expect(await page.title()).toBe('riptide');
    expect(await page.$eval('#p', (p) => p.textContent)).toBe('hello');
    // Every command went out through riptide's send, each one JSON with an id.
    expect(send.mock.calls.length).toBeGreaterThan(5);
    expect(JSON.parse(String(send.mock.calls[0][0]))).toHaveProperty('id');
  });

  it('receives a multi-megabyte screenshot, byte for byte what ws receives from the same page', async () => {
    const browser = await launch();
    const page = await noisePage(browser);
    const onRiptide = await page.screenshot({ type: 'png' });
    expect(pngSize(onRiptide)).toEqual([1200, 900]);
    // 1200x900 RGB noise: over 3 MB of PNG, a third more as base64 inside the CDP reply.
    expect(onRiptide.byteLength).toBeGreaterThan(3_000_000);

    // The same page through a second connection on ws.
    const viaWs = await puppeteer.connect({ transport: await wsTransport(browser.wsEndpoint()) });
    cleanups.push(() => viaWs.disconnect());
    const titles = await Promise.all((await viaWs.pages()).map(async (p) => [p, await p.title()] as const));
    const wsPage = titles.find(([, title]) => title === 'noise')?.[0];
    if (!wsPage) throw new Error('the noise page is not among the pages seen through ws');
    await wsPage.setViewport({ width: 1200, height: 900 });
    const onWs = await wsPage.screenshot({ type: 'png' });
    expect(sha256(onRiptide)).toBe(sha256(onWs));
  });

  it('sends a 4 MiB argument to the page and gets a 4 MiB result back', async () => {
    const browser = await launch();
    const page = await browser.newPage();
    const letters = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < letters.length; i++) letters[i] = 97 + ((i * 31 + (i >> 10)) % 26);
    const big = letters.toString('latin1');
    // The page reverses the string: a 4 MiB masked frame to Chromium, and 4 MiB back.
    const reversed = await page.evaluate((s: string) => s.split('').reverse().join(''), big);
    expect(reversed.length).toBe(big.length);
    expect(sha256(reversed)).toBe(sha256(big.split('').reverse().join('')));
  });

  it('interleaves calls from the page to Node (exposeFunction) with protocol replies', async () => {
    const browser = await launch();
    const page = await browser.newPage();
    await page.exposeFunction('double', (n: number) => n * 2);
    const results = await page.evaluate(async () => {
      const w = globalThis as unknown as { double: (n: number) => Promise<number> };
      return Promise.all(Array.from({ length: 200 }, (_, i) => w.double(i)));
    });
    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => i * 2));
  });

  it('a second client on the same browser (puppeteer.connect over riptide) sees it close', async () => {
    const browser = await launch();
    const second = await puppeteer.connect({ browserWSEndpoint: browser.wsEndpoint() });
    cleanups.push(async () => {
      if (second.connected) await second.disconnect();
    });
    const page = await browser.newPage();
    await page.setContent('<title>shared</title>');
    const titles = await Promise.all((await second.pages()).map((p) => p.title()));
    expect(titles).toContain('shared');

    const gone = new Promise<void>((resolve) => second.once('disconnected', () => resolve()));
    await browser.close();
    await gone;
    expect(second.connected).toBe(false);
  });

  it('reports the browser dying without a close frame: disconnected, and a pending call rejects', async () => {
    const browser = await launch();
    const page = await browser.newPage();
    const disconnected = new Promise<void>((resolve) => browser.once('disconnected', () => resolve()));
    // A call Chromium never answers: only the connection's end can settle it.
    const pending = page.evaluate(() => new Promise(() => {}));
    const settled = pending.then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    browser.process()?.kill('SIGKILL');
    await disconnected;
    expect(browser.connected).toBe(false);
    expect(await settled).toMatch(/closed|detached/i);
  });
});
