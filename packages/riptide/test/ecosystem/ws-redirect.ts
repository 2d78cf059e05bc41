/**
 * Test-only: load a CommonJS package whose own `require('ws')` gets riptide's CommonJS entry
 * (dist/cjs/index.cjs, what `require('riptide')` gives) instead, so the package runs unchanged
 * on riptide. Only `ws` requests made by files under the named packages are redirected; every
 * other `require('ws')` (this repository's tests compare against the real ws) is left alone.
 *
 * Node resolves every `require()` through `Module._resolveFilename` (what module-alias and
 * proxyquire hook too). It is not a public API, so it is used here, in tests, and never in src/.
 * The consumers are loaded with `require()` (their CommonJS builds), because the ESM loader does
 * not consult this hook and vitest imports ESM builds.
 */
import { existsSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBuilt, packageRoot } from '../package-entry.js';

type Resolve = (request: string, parent: { filename?: string } | undefined, ...rest: unknown[]) => string;

const moduleInternals = Module as unknown as { _resolveFilename: Resolve };
const workspaceRequire = createRequire(join(packageRoot, '..', '..', 'package.json'));

/** riptide's CommonJS entry point, the file `require('riptide')` loads. */
export const riptideCjsEntry = join(packageRoot, 'dist', 'cjs', 'index.cjs');

/** riptide's ESM entry point (a file: URL), the module `import 'riptide'` loads. */
export const riptideEsmEntry = pathToFileURL(join(packageRoot, 'dist', 'esm', 'index.js')).href;

const consumers: string[] = [];
let installed = false;

/**
 * The directory of an installed package (its package.json's folder), found the way Node looks
 * a bare name up (node_modules folders from the workspace root outwards): a package whose
 * `exports` leaves out './package.json' (@hono/node-ws) cannot be resolved through it.
 */
function packageDir(name: string): string {
  for (const dir of workspaceRequire.resolve.paths(name) ?? []) {
    if (existsSync(join(dir, name, 'package.json'))) return join(dir, name);
  }
  throw new Error(`${name} is not installed`);
}

/**
 * `require(name)` from the workspace root, with `require('ws')` inside each of `consumers`
 * (package names) answered by riptide. Returns the module; riptide's CommonJS export comes
 * with it so that tests can check which class the consumer actually used.
 */
export function requireOnRiptide<T>(
  name: string,
  consumerPackages: readonly string[],
): { module: T; riptide: typeof import('../../src/index.js').WebSocket } {
  redirectWsFor(consumerPackages);
  return { module: workspaceRequire(name) as T, riptide: workspaceRequire(riptideCjsEntry) };
}

/**
 * From now on, `require('ws')` inside each of `consumerPackages` gets riptide. For an ESM package
 * that loads ws through `createRequire(import.meta.url)('ws')` (@nestjs/platform-ws): such a
 * require goes through the same hook, so the package itself can be imported as usual.
 */
export function redirectWsFor(consumerPackages: readonly string[]): void {
  ensureBuilt();
  for (const p of consumerPackages) consumers.push(packageDir(p));
  if (!installed) {
    installed = true;
    const original = moduleInternals._resolveFilename;
    moduleInternals._resolveFilename = function (request, parent, ...rest) {
      const from = parent?.filename;
      if (request === 'ws' && from !== undefined && consumers.some((dir) => from.startsWith(dir + sep))) {
        return riptideCjsEntry;
      }
      return original.call(this, request, parent, ...rest);
    };
  }
}
