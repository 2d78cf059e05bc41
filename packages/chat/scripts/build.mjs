// Builds the chat: the server with tsc (dist/server, dist/shared), the web page's TypeScript with
// tsc (type-check only, DOM lib) and esbuild (one bundled, minified dist/public/app.js), and copies
// static/ (HTML, CSS) next to it. The server serves dist/public and nothing else.
//
// The page's build id: a hash of what the page is made of (src/web, src/shared, static/, and the
// esbuild version), put into the bundle (define __CHAT_BUILD__) and written to
// dist/public/build.json, which the server reads at start and tells every page in `welcome`: a page
// whose own id differs was opened before a deploy and offers a reload (src/web/update.ts). The same
// sources give the same id, so a rebuild of one commit on every node tells no page to reload.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/** Every file under `dir`, relative to root, sorted (so the hash does not depend on the order read). */
function files(dir) {
  const out = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) out.push(...files(rel));
    else out.push(rel);
  }
  return out.sort();
}
const hash = createHash('sha256').update(`esbuild ${esbuild.version}\n`);
for (const rel of [...files('src/web'), ...files('src/shared'), ...files('static')])
  hash
    .update(`${rel}\n`)
    .update(readFileSync(join(root, rel)))
    .update('\n');
const build = hash.digest('base64url').slice(0, 16);

esbuild.buildSync({
  entryPoints: [join(root, 'src', 'web', 'main.ts')],
  outfile: join(root, 'dist', 'public', 'app.js'),
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: 'es2020',
  logLevel: 'warning',
  define: { __CHAT_BUILD__: JSON.stringify(build) },
});
cpSync(join(root, 'static'), join(root, 'dist', 'public'), { recursive: true });
writeFileSync(join(root, 'dist', 'public', 'build.json'), `${JSON.stringify({ build })}\n`);
