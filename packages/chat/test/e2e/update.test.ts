/**
 * A page opened before a deploy (web/update.ts): the server restarts serving a page of another
 * build; the open page reconnects by itself, its welcome names the new build, and the bar says
 * "The chat was updated. Reload" (a role=status region) without reloading: the draft typed before
 * is still there. Its Reload button loads the new page, which says nothing.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type ChatServer, startChatServer } from '../../src/server/chat-server.js';
import { onCleanup } from '../helpers.js';
import { openRoom, signIn, useBrowser } from './browser.js';

const chrome = useBrowser();

const built = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'public');

describe('a page from before a deploy', () => {
  it('offers a reload after the reconnect to a server of another build, and never reloads by itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riptide-chat-update-'));
    // The deploy: the page as another build would be: its id in build.json and in its bundle.
    const newer = join(dir, 'public');
    cpSync(built, newer, { recursive: true });
    const { build } = JSON.parse(readFileSync(join(built, 'build.json'), 'utf8')) as { build: string };
    const app = readFileSync(join(built, 'app.js'), 'utf8');
    expect(app.split(JSON.stringify(build))).toHaveLength(2); // the define's one literal
    writeFileSync(join(newer, 'app.js'), app.replace(JSON.stringify(build), JSON.stringify('a-newer-build')));
    writeFileSync(join(newer, 'build.json'), JSON.stringify({ build: 'a-newer-build' }));
    const options = { dbPath: join(dir, 'chat.db'), log: () => {}, sweepIntervalMs: 0 };
    let server: ChatServer = await startChatServer({ port: 0, ...options });
    onCleanup(async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const origin = server.url.replace(/\/$/, '');
    const { page } = await signIn(chrome.browser, origin, 'alice');
    await openRoom(page, 'general');
    // The same build: nothing said.
    expect(await page.textContent('#update-note')).toBe('');
    expect(await page.getAttribute('#update-note', 'role')).toBe('status');
    await page.fill('#composer-input', 'a draft in progress');

    const port = server.port;
    await server.close();
    await page.waitForSelector('#status:not([data-state="online"])');
    server = await startChatServer({ port, ...options, publicDir: newer });
    await page.waitForSelector('#status[data-state="online"]');
    await page.waitForFunction(
      () => document.querySelector('#update-note')?.textContent === 'The chat was updated. Reload',
    );
    // Not reloaded: the draft is there.
    expect(await page.inputValue('#composer-input')).toBe('a draft in progress');

    // Reload: the new page (no-cache: not the old app.js kept), of the server's build, says nothing.
    await page.click('#update-note button');
    await page.waitForSelector('#status[data-state="online"]');
    expect(
      await page.evaluate(
        () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).type,
      ),
    ).toBe('reload');
    await page.waitForFunction(() => document.querySelector('#room-title')?.textContent === '#general');
    expect(await page.textContent('#update-note')).toBe('');
  });
});
