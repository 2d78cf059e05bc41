import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeFolder } from '../src/server/make-folder.js';

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'riptide-folder-'));
  made.push(dir);
  return dir;
}

describe('makeFolder', () => {
  it('makes a folder and its missing parents, and accepts one that is there', () => {
    const root = tempDir();
    const deep = join(root, 'a', 'b', 'c');
    makeFolder(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    makeFolder(deep);
    makeFolder(root);
    mkdirSync(join(root, 'real'));
    symlinkSync(join(root, 'real'), join(root, 'link'));
    makeFolder(join(root, 'link', 'd'));
    expect(existsSync(join(root, 'real', 'd'))).toBe(true);
  });

  it('throws when a parent is a file or a dangling link, or the path is a file', () => {
    const root = tempDir();
    writeFileSync(join(root, 'file'), '');
    expect(() => makeFolder(join(root, 'file', 'x', 'y'))).toThrow(
      expect.objectContaining({ code: 'ENOTDIR' }),
    );
    expect(() => makeFolder(join(root, 'file'))).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    symlinkSync(join(root, 'missing'), join(root, 'dangling'));
    expect(() => makeFolder(join(root, 'dangling', 'x'))).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
  });

  // Regression: Node 20's mkdirSync(dir, { recursive: true }) spins forever on /proc/nope.
  it.runIf(existsSync('/proc/self'))(
    'throws ENOENT at once under a parent that refuses children (/proc)',
    () => {
      expect(() => makeFolder('/proc/nope/deeper')).toThrow(
        expect.objectContaining({ code: 'ENOENT', path: '/proc/nope' }),
      );
    },
  );
});
