// Builds the chat: the server with tsc (dist/server, dist/shared), the web page's TypeScript with
// tsc (type-check only, DOM lib) and esbuild (one bundled, minified dist/public/app.js), and copies
// static/ (HTML, CSS) next to it. The server serves dist/public and nothing else.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const esbuild = require('esbuild');

rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.web.json')], { stdio: 'inherit' });
mkdirSync(join(root, 'dist', 'public'), { recursive: true });
esbuild.buildSync({
  entryPoints: [join(root, 'src', 'web', 'main.ts')],
  outfile: join(root, 'dist', 'public', 'app.js'),
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: 'es2020',
  logLevel: 'warning',
});
cpSync(join(root, 'static'), join(root, 'dist', 'public'), { recursive: true });
