/**
 * The library's module graph, as docs/architecture.md and docs/node-layer.md describe it: no
 * import cycle at run time, a core that imports nothing of the layers above it, one module that
 * touches Node's private fields, and one owner of a connection's state.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

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
