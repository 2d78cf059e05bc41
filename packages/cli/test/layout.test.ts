/**
 * Tests mirror files (docs/architecture.md): src/a/b.ts is tested by test/a/b.test.ts. The CLI's
 * commands and entry point run as child processes (the tests drive the built `riptide` binary),
 * so their tests are by command, not by file: those files are listed below with the test that
 * runs them. A new source file needs its mirror test, or an entry here with its reason.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = join(__dirname, '..', 'src');
const test = __dirname;

/** Source files that need no mirror test because they hold no run-time code: none in the CLI. */
const TYPE_ONLY: Record<string, string> = {};

/** Source files run through the binary, by the test named first in the reason. */
const RUN_AS_A_PROCESS: Record<string, string> = {
  'bin.ts': 'failures.test.ts: dispatch, usage errors, --help, --version and exit statuses',
  'commands/connect.ts': 'connect.test.ts (piped) and pty.test.ts (interactive) run `riptide connect`',
  'commands/echo.ts': 'servers.test.ts runs `riptide echo` with ws clients',
  'commands/listen.ts': 'servers.test.ts runs `riptide listen` with ws clients',
  'commands/broadcast.ts': 'servers.test.ts runs `riptide broadcast` with ws clients and its page',
  'server.ts': 'servers.test.ts: the listening, TLS, HTTP/2 and Origin parts the server commands share',
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : [];
  });
}

function missingMirrors(files: readonly string[], hasTest: (t: string) => boolean): string[] {
  return files
    .filter((f) => !(f in TYPE_ONLY) && !(f in RUN_AS_A_PROCESS))
    .filter((f) => !hasTest(f.replace(/\.ts$/, '.test.ts')))
    .sort();
}

const files = sources(src).map((f) => relative(src, f).split('\\').join('/'));
const hasTest = (t: string) => existsSync(join(test, t));

describe('tests mirror files (packages/cli)', () => {
  it('every source file has its mirror test, or an entry with its reason', () => {
    expect(missingMirrors(files, hasTest), 'add test/<path>.test.ts').toEqual([]);
  });

  it('every entry names an existing source file without a mirror test, and an existing test', () => {
    for (const [file, reason] of Object.entries({ ...TYPE_ONLY, ...RUN_AS_A_PROCESS })) {
      expect(files, file).toContain(file);
      expect(
        hasTest(file.replace(/\.ts$/, '.test.ts')),
        `${file} has a mirror test now: drop its entry`,
      ).toBe(false);
      expect(reason.length, file).toBeGreaterThan(10);
    }
    for (const [file, reason] of Object.entries(RUN_AS_A_PROCESS)) {
      const testFile = /^[\w-]+\.test\.ts/.exec(reason)?.[0] ?? '';
      expect(hasTest(testFile), `${file}: ${reason}`).toBe(true);
    }
  });

  it('the check fails for a new source file without a test (it is not vacuous)', () => {
    expect(missingMirrors([...files, 'commands/new-command.ts'], hasTest)).toEqual([
      'commands/new-command.ts',
    ]);
    expect(missingMirrors(['format.ts'], () => false)).toEqual(['format.ts']);
  });
});
