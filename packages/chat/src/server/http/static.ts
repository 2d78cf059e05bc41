/**
 * The page's files: read into memory at start from dist/public (a fixed list; nothing else is ever
 * served), with the security headers every response carries, and the page's build id.
 *
 * Every file is served `no-cache` with an ETag (a hash of its bytes): a browser asks each time and
 * gets 304 while the file is unchanged, so a page loaded after a deploy is the new one, never an
 * index.html or app.js kept from before (routes.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export interface StaticFile {
  body: Buffer;
  type: string;
  /** A strong validator: the hash of the body, quoted. */
  etag: string;
}

/** Written by scripts/build.mjs beside the page: {"build": the id the page's bundle was built with}. */
export const BUILD_FILE = 'build.json';

/**
 * The build id of the page in `dir` (BUILD_FILE), which `welcome` tells every page: one built
 * otherwise was opened before a deploy (web/update.ts). Undefined when there is none (not built by
 * scripts/build.mjs): then no page is told anything.
 */
export function readBuild(dir: string): string | undefined {
  const path = join(dir, BUILD_FILE);
  if (!existsSync(path)) return undefined;
  try {
    const { build } = JSON.parse(readFileSync(path, 'utf8')) as { build?: unknown };
    return typeof build === 'string' && build !== '' ? build : undefined;
  } catch {
    return undefined; // not JSON: as if none (the page still loads; no page is told to reload)
  }
}

export function loadStatic(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (sub: string) => {
    for (const name of readdirSync(join(dir, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      if (statSync(join(dir, rel)).isDirectory()) walk(rel);
      else {
        const body = readFileSync(join(dir, rel));
        files.set(`/${rel}`, {
          body,
          type: TYPES[extname(name)] ?? 'application/octet-stream',
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
        });
      }
    }
  };
  walk('');
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  return files;
}
