/**
 * The repository's Markdown (README.md, SECURITY.md, docs/, the packages' and bench's documents):
 * every relative link and image resolves to a file of the repository, and every `#anchor` to a
 * heading of the document it names, as GitHub derives heading ids. A link inside code (a fenced
 * block, a code span) is an example and is not followed; external links are not fetched.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIENT_OPTIONS, SERVER_OPTIONS } from '../src/node/options.js';

const root = join(__dirname, '..', '..', '..');
/** Folders that hold no document of the repository (installed, built or written by runs). */
const NOT_DOCS = new Set(['.git', 'node_modules', 'dist', 'coverage', 'data', 'reports', 'test-output']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return NOT_DOCS.has(name) ? [] : markdownFiles(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

const FENCE = /^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm;

/** GitHub's id of a heading: its text in lower case, without punctuation, spaces as dashes. */
export function headingId(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The ids a document's headings (and its explicit `<a id>` / `<a name>`) can be linked to. */
function anchorsOf(text: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of text.replace(FENCE, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const id = headingId(m[1]);
    const n = seen.get(id) ?? 0;
    seen.set(id, n + 1);
    ids.add(n === 0 ? id : `${id}-${n}`);
  }
  for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) ids.add(m[1]);
  return ids;
}

/** The relative link targets of a document's prose (inline links, images, reference definitions). */
export function linkTargets(text: string): string[] {
  const prose = text.replace(FENCE, '').replace(/(`+)[\s\S]*?\1/g, '');
  const targets = [
    ...[...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
    ...[...prose.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]),
  ];
  return targets.filter((t) => !/^([a-z][a-z0-9+.-]*:|\/\/)/i.test(t));
}

/** The links of `file` (its `text`) that name no file, or a heading its document does not have. */
export function brokenLinks(file: string, text: string): string[] {
  return linkTargets(text).filter((target) => {
    const [path, anchor] = target.split('#');
    const to = path === '' ? file : join(dirname(file), decodeURIComponent(path));
    if (!existsSync(to)) return true;
    if (anchor === undefined) return false;
    if (!to.endsWith('.md')) return true;
    return !anchorsOf(to === file ? text : readFileSync(to, 'utf8')).has(anchor);
  });
}

/**
 * The documents a document names in its text, linked or not (`docs/http2.md`, `SECURITY.md`,
 * `README-redis.md`), that exist neither beside it nor from the repository's root.
 */
export function missingDocuments(file: string, text: string): string[] {
  const named = new Set(text.match(/(?<![\w./:-])[\w.-][\w./-]*\.md\b/g) ?? []);
  return [...named].filter((name) => !existsSync(join(dirname(file), name)) && !existsSync(join(root, name)));
}

/**
 * The repository paths a document names, linked or not (`packages/riptide/src/core/errors.ts`,
 * `bench/deflate-memory.mjs`), that do not exist from the root. A pattern (`run-*.json`,
 * `run-<date>.json`, `{package.json,dist}`, `riptide-….mjs`) is not a path; what a build or a run
 * writes, which git ignores (`bench/results/dev/`), need not exist.
 */
export function missingPaths(text: string, ignored: (path: string) => boolean = gitIgnores): string[] {
  const named = new Set(
    [
      ...text.matchAll(/(?<![\w./-])(?:packages|docs|bench|test-support|\.ci)\/[\w./<>*{},…-]*[\w/>}*…]/g),
    ].map((m) => m[0]),
  );
  return [...named].filter((path) => !/[*<{…]/.test(path) && !existsSync(join(root, path)) && !ignored(path));
}

function gitIgnores(path: string): boolean {
  try {
    execFileSync('git', ['check-ignore', '-q', path], { cwd: root, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe("the repository's Markdown", () => {
  const files = markdownFiles(root);

  it('links only to files that exist and headings that are there', () => {
    const broken: string[] = [];
    let links = 0;
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      links += linkTargets(text).length;
      for (const target of brokenLinks(file, text)) broken.push(`${relative(root, file)}: ${target}`);
    }
    expect(broken).toEqual([]);
    // The documents are found and their links read (README.md alone has a dozen).
    expect(files.map((f) => relative(root, f).split('\\').join('/'))).toContain('docs/architecture.md');
    expect(links).toBeGreaterThan(20);
  });

  it('names only documents that exist', () => {
    const missing = files.flatMap((file) =>
      missingDocuments(file, readFileSync(file, 'utf8')).map((name) => `${relative(root, file)}: ${name}`),
    );
    expect(missing).toEqual([]);
    const cli = join(root, 'packages', 'cli', 'README.md');
    expect(missingDocuments(cli, 'see docs/http2.md, SECURITY.md, ../../README.md and docs/gone.md')).toEqual(
      ['docs/gone.md'],
    );
  });

  it('names only repository paths that exist (or that git ignores, written by a build or a run)', () => {
    const missing = files.flatMap((file) =>
      missingPaths(readFileSync(file, 'utf8')).map((path) => `${relative(root, file)}: ${path}`),
    );
    expect(missing).toEqual([]);
    const text =
      'see `packages/riptide/src/core/errors.ts`, packages/cli/src/gone.ts, (docs/http2.md), bench/results/run-*.json, `bench/results/dev/x.json` and my-packages/x.ts';
    expect(missingPaths(text, (path) => path.startsWith('bench/results/dev/'))).toEqual([
      'packages/cli/src/gone.ts',
    ]);
  });

  it('finds a missing file, a missing heading, and no link in code (the check is not vacuous)', () => {
    const readme = join(root, 'README.md');
    const text = [
      '# Top',
      '[gone](docs/no-such.md), [no heading](docs/http2.md#no-such-heading), [there](docs/http2.md#server),',
      '[here](#top), [not here](#bottom), ![img](docs/chat-light.png), [web](https://example.com/x.md),',
      '`[in code](nowhere.md)`',
      '```sh',
      '[in a block](nowhere.md)',
      '```',
      '[ref]: SECURITY.md#reporting-a-vulnerability',
    ].join('\n');
    expect(brokenLinks(readme, text)).toEqual([
      'docs/no-such.md',
      'docs/http2.md#no-such-heading',
      '#bottom',
    ]);
    expect(headingId("`pause()` and `'close'`")).toBe('pause-and-close');
    expect(headingId('TypeScript and `@types/ws`')).toBe('typescript-and-typesws');
  });
});

const UNIT: Record<string, number> = { KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, s: 1000, ms: 1 };

/** The default a cell of SECURITY.md states: `16,384 frames ...` 16384, `10 s (...)` 10000, `off` undefined. */
export function statedDefault(cell: string): number | undefined | null {
  if (/^off\b/.test(cell)) return undefined;
  const m = cell.match(/^(\d[\d,]*)(?: (KiB|MiB|GiB|s|ms)\b)?/);
  return m ? Number(m[1].replace(/,/g, '')) * (m[2] ? UNIT[m[2]] : 1) : null;
}

/** SECURITY.md's rows for an option of the library (`name` first), each as [row, default stated, default in options.ts]. */
export function limitRows(text: string): [string, number | undefined | null, unknown][] {
  const tables = { server: SERVER_OPTIONS, client: CLIENT_OPTIONS } as Record<
    string,
    Record<string, { default?: unknown }>
  >;
  const section = text.split("## The library's limits")[1].split('\n## ')[0];
  return [...section.matchAll(/^\| `(\w+)`([^|]*)\| ([^|]*?) +\|/gm)].flatMap(([, name, where, cell]) => {
    const roles = /\(server\)/.test(where)
      ? ['server']
      : /\(client\)/.test(where)
        ? ['client']
        : ['server', 'client'];
    return roles
      .filter((role) => name in tables[role])
      .map((role): [string, number | undefined | null, unknown] => [
        `${role} ${name}`,
        statedDefault(cell),
        tables[role][name].default,
      ]);
  });
}

describe("SECURITY.md's table of the library's limits", () => {
  it("states each option's default as the option tables (src/node/options.ts) have it", () => {
    const rows = limitRows(readFileSync(join(root, 'SECURITY.md'), 'utf8'));
    expect(rows.filter(([, stated, actual]) => stated !== actual)).toEqual([]);
    // The rows are found: maxPayload, maxFragments, maxBufferedChunks, maxPendingAutoPongs and
    // closeTimeout for both roles; handshakeTimeout, heartbeat and maxBackpressure for a server.
    expect(rows.map(([row]) => row)).toEqual(
      expect.arrayContaining([
        'server maxPayload',
        'client closeTimeout',
        'server heartbeat',
        'server maxBackpressure',
      ]),
    );
    expect(rows.length).toBeGreaterThanOrEqual(13);
    expect([
      statedDefault('16,384 frames'),
      statedDefault('10 s (`0`: none)'),
      statedDefault('100 MiB'),
    ]).toEqual([16384, 10_000, 100 * 1024 * 1024]);
  });
});
