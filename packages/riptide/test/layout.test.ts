/**
 * The library's module graph, as docs/architecture.md and docs/node-layer.md describe it: no
 * import cycle at run time, a core that imports nothing of the layers above it, one module that
 * touches Node's private fields, and one owner of a connection's state. And the rule that tests
 * mirror files: src/a/b.ts is tested by test/a/b.test.ts, unless it holds types only.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { treeFiles } from '../../../test-support/architecture-tree.js';

const src = join(__dirname, '..', 'src');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

const files = sources(src);
const text = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));

/** The relative imports of a file, and whether each is type-only (erased at run time). */
function imports(file: string): Array<{ to: string; typeOnly: boolean }> {
  const out = [];
  for (const m of text
    .get(file)!
    .matchAll(/^(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?'(\.[^']+)';/gms)) {
    const clause = m[0];
    // `import { type A, type B } from` is type-only too.
    const names = /\{([^}]*)\}/.exec(clause)?.[1];
    const allTypes =
      (names ?? '')
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== '')
        .every((n) => n.startsWith('type ')) && names !== undefined;
    out.push({
      to: resolve(dirname(file), m[2].replace(/\.js$/, '.ts')),
      typeOnly: m[1] !== undefined || allTypes,
    });
  }
  return out;
}

const rel = (f: string) => relative(src, f);

describe('the module graph of packages/riptide/src', () => {
  it('has no import cycle at run time (type-only imports are erased)', () => {
    const cycles: string[] = [];
    const done = new Set<string>();
    const stack: string[] = [];
    const visit = (file: string) => {
      const at = stack.indexOf(file);
      if (at !== -1) {
        cycles.push([...stack.slice(at), file].map(rel).join(' -> '));
        return;
      }
      if (done.has(file)) return;
      stack.push(file);
      for (const dep of imports(file)) if (!dep.typeOnly) visit(dep.to);
      stack.pop();
      done.add(file);
    };
    for (const f of files) visit(f);
    expect(cycles).toEqual([]);
  });

  it('the parser can see a cycle (the check above is not vacuous)', () => {
    const deps = imports(join(src, 'node', 'websocket.ts'))
      .filter((d) => !d.typeOnly)
      .map((d) => rel(d.to));
    expect(deps).toContain(join('node', 'client.ts'));
    expect(
      imports(join(src, 'node', 'client.ts')).some((d) => rel(d.to) === join('node', 'websocket.ts')),
    ).toBe(false);
  });

  it('the core imports nothing from the layers above it', () => {
    for (const f of files.filter((f) => rel(f).startsWith('core'))) {
      for (const dep of imports(f))
        expect(rel(dep.to).startsWith('core'), `${rel(f)} -> ${rel(dep.to)}`).toBe(true);
    }
  });

  it("only node/internals.ts reaches into Node's private fields", () => {
    const privateField =
      /\._(handle|events|writeState|outBuffer|readableState|writableState)\b|onReadableStreamEnd/;
    const offenders = files
      .filter((f) => rel(f) !== join('node', 'internals.ts'))
      .filter((f) =>
        text
          .get(f)!
          .split('\n')
          .some((line) => !/^\s*(\*|\/\/)/.test(line) && privateField.test(line)),
      )
      .map(rel);
    expect(offenders).toEqual([]);
  });

  it('only the server and the entry point import websocket.ts at run time (one owner of the state)', () => {
    const importers = files
      .filter((f) => imports(f).some((d) => !d.typeOnly && rel(d.to) === join('node', 'websocket.ts')))
      .map(rel)
      .sort();
    expect(importers).toEqual(['index.ts', join('node', 'websocket-server.ts')].sort());
  });
});

/**
 * The source files that need no mirror test because they hold no run-time code (types and
 * interfaces only), each with its reason. Everything else in src/ has test/<same path>.test.ts.
 */
const TYPE_ONLY: Record<string, string> = {
  'core/extension.ts':
    'the PerMessageExtension interface only; its implementation is tested in deflate/codec.test.ts',
};

/** src-relative paths (with '/') of the files without a mirror test and not allowed to be. */
function missingMirrors(
  srcFiles: readonly string[],
  hasTest: (testPath: string) => boolean,
  allow: Record<string, string>,
): string[] {
  return srcFiles
    .filter((f) => !(f in allow))
    .filter((f) => !hasTest(f.replace(/\.ts$/, '.test.ts')))
    .sort();
}

/** The JavaScript a file compiles to, without comments and blank lines ('' for types only). */
function runtimeCode(file: string): string {
  const out = ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  return out
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^\s*\/\//.test(line) && line.trim() !== 'export {};')
    .join('\n');
}

describe('tests mirror files (docs/architecture.md)', () => {
  const test = join(__dirname);
  const posix = (f: string) => rel(f).split('\\').join('/');

  it('every source file has its mirror test, or is type-only and allowlisted', () => {
    const missing = missingMirrors(files.map(posix), (t) => existsSync(join(test, t)), TYPE_ONLY);
    expect(missing, 'add test/<path>.test.ts, or (types only) an entry in TYPE_ONLY').toEqual([]);
  });

  it('every allowlisted file exists, compiles to no run-time code and has a reason', () => {
    for (const [file, reason] of Object.entries(TYPE_ONLY)) {
      expect(existsSync(join(src, file)), file).toBe(true);
      expect(runtimeCode(join(src, file)), `${file} has run-time code: it needs a test`).toBe('');
      expect(reason.length, file).toBeGreaterThan(10);
    }
  });

  it('the check fails for a new source file without a test (it is not vacuous)', () => {
    const withNew = [...files.map(posix), 'core/new-concept.ts'];
    expect(missingMirrors(withNew, (t) => existsSync(join(test, t)), TYPE_ONLY)).toContain(
      'core/new-concept.ts',
    );
    // And for a file that lost its test, or is type-only but not allowlisted.
    expect(missingMirrors(['core/frame.ts'], () => false, TYPE_ONLY)).toEqual(['core/frame.ts']);
    expect(missingMirrors(['core/extension.ts'], () => false, {})).toEqual(['core/extension.ts']);
    // runtimeCode() sees code: a file with a function is not type-only.
    expect(runtimeCode(join(src, 'core', 'word-view.ts'))).toContain('function wordView');
  });
});

describe("docs/architecture.md's library tree", () => {
  const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'architecture.md'), 'utf8');

  it('names every source file of src/, and no file that is not there', () => {
    const actual = files.map((f) => rel(f).split('\\').join('/')).sort();
    expect(treeFiles(doc, 'packages/riptide/src/'), 'docs/architecture.md, "The library tree"').toEqual(
      actual,
    );
  });

  it('reads folders, lists and descriptions as the doc writes them (the check is not vacuous)', () => {
    const tree = [
      '```',
      'packages/x/src/',
      '  a/                  a folder',
      '    b.ts, c.ts        two files; d/e.ts and f/g.ts live elsewhere',
      '    h/                i.ts (described here), j.ts (and',
      '                      k.ts on a second line)',
      '  l/m.ts              a file in a folder named at once',
      '  n.ts',
      'packages/x/test/      mirrors src/: test/a/b.test.ts, ...',
      '```',
    ].join('\n');
    expect(treeFiles(tree, 'packages/x/src/')).toEqual([
      'a/b.ts',
      'a/c.ts',
      'a/h/i.ts',
      'a/h/j.ts',
      'a/h/k.ts',
      'l/m.ts',
      'n.ts',
    ]);
  });
});
