/**
 * The page's files and its build id (http/static.ts, routes.ts): every file `no-cache` with an ETag,
 * 304 while it matches, so a page loaded after a deploy is never the one from before; the id
 * scripts/build.mjs writes beside the page (build.json) is read at start and told in `welcome`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, onCleanup, register, startTestServer, TestClient } from '../helpers.js';

afterEach(cleanup);

/** A page of its own: index.html, app.js and, given one, build.json. */
function page(build?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'riptide-chat-page-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>chat</title>');
  writeFileSync(join(dir, 'app.js'), 'console.log(1)');
  if (build !== undefined) writeFileSync(join(dir, 'build.json'), JSON.stringify({ build }));
  onCleanup(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('the page files', () => {
  it('are served no-cache with an ETag, and 304 while it matches (index.html never stale)', async () => {
    const server = await startTestServer({ publicDir: page('b1') });
    for (const path of ['/', '/index.html', '/app.js']) {
      const res = await fetch(`${server.origin}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const etag = res.headers.get('etag');
      expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
      await res.arrayBuffer();
      const again = await fetch(`${server.origin}${path}`, {
        headers: { 'if-none-match': `"other", ${etag}` },
      });
      expect(again.status).toBe(304);
      expect(again.headers.get('etag')).toBe(etag);
      expect(again.headers.get('cache-control')).toBe('no-cache');
      expect(await again.text()).toBe('');
      const weak = await fetch(`${server.origin}${path}`, { headers: { 'if-none-match': `W/${etag}` } });
      expect(weak.status).toBe(304);
      await weak.arrayBuffer();
      for (const other of ['"other"', '"other", W/"x"', `"other" ${etag}`]) {
        const changed = await fetch(`${server.origin}${path}`, { headers: { 'if-none-match': other } });
        expect(changed.status, other).toBe(200);
        await changed.arrayBuffer();
      }
    }
    const index = await fetch(`${server.origin}/`);
    const app = await fetch(`${server.origin}/app.js`);
    expect(index.headers.get('etag')).not.toBe(app.headers.get('etag'));
    await Promise.all([index.arrayBuffer(), app.arrayBuffer()]);
  });
});

describe('the build id', () => {
  it('is told in welcome, as build.json beside the page says', async () => {
    const server = await startTestServer({ publicDir: page('Abc-123_xyz') });
    const { client, welcome } = await TestClient.join(server.origin, await register(server.origin, 'alice'));
    expect(welcome.build).toBe('Abc-123_xyz');
    await client.close();
  });

  it('is absent from welcome when the page has none (not built by scripts/build.mjs)', async () => {
    const server = await startTestServer({ publicDir: page() });
    const { client, welcome } = await TestClient.join(server.origin, await register(server.origin, 'alice'));
    expect(welcome).not.toHaveProperty('build');
    await client.close();
  });
});
