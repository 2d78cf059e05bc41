// Builds the library twice from one source: ESM (dist/esm) and CommonJS (dist/cjs).
// The CommonJS entry (index.cjs) re-shapes the module the way ws does for require():
// module.exports is the WebSocket class, with the named exports as its properties, so
// `const WebSocket = require('riptide'); new WebSocket.Server(...)` works unchanged.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, '..', '..', 'node_modules', 'typescript', 'bin', 'tsc');
rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.cjs.json')], { stdio: 'inherit' });
mkdirSync(join(root, 'dist', 'cjs'), { recursive: true });
writeFileSync(join(root, 'dist', 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
writeFileSync(
  join(root, 'dist', 'cjs', 'index.cjs'),
  `'use strict';
const lib = require('./index.js');
const WebSocket = lib.WebSocket;
for (const key of Object.keys(lib)) {
  if (key !== 'default' && !(key in WebSocket)) {
    Object.defineProperty(WebSocket, key, { enumerable: true, value: lib[key] });
  }
}
module.exports = WebSocket;
`,
);
if (existsSync(join(root, 'dist', 'cjs', 'index.d.ts'))) {
  copyFileSync(join(root, 'dist', 'cjs', 'index.d.ts'), join(root, 'dist', 'cjs', 'index.d.cts'));
}
