/** Make sure the built package (dist/) exists for tests that import 'riptide' itself. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const packageRoot = join(__dirname, '..');

export function ensureBuilt(): void {
  if (
    existsSync(join(packageRoot, 'dist', 'cjs', 'index.cjs')) &&
    existsSync(join(packageRoot, 'dist', 'esm', 'index.js'))
  ) {
    return;
  }
  execFileSync(process.execPath, [join(packageRoot, 'scripts', 'build.mjs')], { stdio: 'inherit' });
}
