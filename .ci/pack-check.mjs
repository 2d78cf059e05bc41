#!/usr/bin/env node
// The packages as users get them: `npm pack` the library and the CLI (after `npm run build`),
// install both tarballs into a scratch project outside the workspace, and check what a user of
// ws would do with them:
//
// - the tarballs hold no tests, and every source map's sources are in the tarball;
// - `import` and `require` both work, including `new (require('riptide').Server)({ port })`, and
//   a message goes through a server and a client of each;
// - TypeScript resolves the types for both (`moduleResolution` node16 and bundler, with and
//   without esModuleInterop, the package's .d.ts files checked too);
// - `npx riptide --help` runs the installed CLI.
//
// Usage: node .ci/pack-check.mjs [--keep]   (--keep leaves the scratch project for a look)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const scratch = mkdtempSync(join(tmpdir(), 'riptide-pack-'));
let failures = 0;

function check(name, fn) {
  try {
    const detail = fn();
    process.stdout.write(`ok   ${name}${detail ? ` (${detail})` : ''}\n`);
  } catch (err) {
    failures++;
    // tsc prints its errors on stdout among the --listFiles lines: keep only the errors.
    const stdout = String(err.stdout ?? '')
      .split('\n')
      .filter((line) => !line.startsWith('/'))
      .join('\n');
    process.stdout.write(`FAIL ${name}\n${stdout}${String(err.stderr ?? '')}${err.message.split('\n')[0]}\n`);
  }
}

function run(cmd, args, options = {}) {
  return execFileSync(cmd, args, { cwd: scratch, encoding: 'utf8', stdio: 'pipe', ...options });
}

/** `npm pack` a workspace package into the scratch folder; returns the tarball's path. */
function pack(dir) {
  const out = run('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: join(root, dir) });
  const [info] = JSON.parse(out);
  return { path: join(scratch, info.filename), files: info.files.map((f) => f.path) };
}

/** Reads a file inside a tarball. */
function fromTarball(tarball, file) {
  return execFileSync('tar', ['-xzOf', tarball, `package/${file}`], { encoding: 'utf8' });
}

function checkTarball(label, tarball) {
  check(`${label}: no tests in the tarball`, () => {
    const tests = tarball.files.filter((f) => /(^|\/)(test|tests|__tests__)\/|\.test\.|\.spec\./.test(f));
    if (tests.length > 0) throw new Error(`test files: ${tests.join(', ')}`);
    return `${tarball.files.length} files`;
  });
  check(`${label}: every source map's sources are in the tarball`, () => {
    const files = new Set(tarball.files);
    const missing = [];
    let maps = 0;
    for (const file of tarball.files) {
      if (file.endsWith('.js') || file.endsWith('.cjs')) {
        const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(fromTarball(tarball.path, file))?.[1];
        if (url && !url.startsWith('data:') && !files.has(posix.join(posix.dirname(file), url))) {
          missing.push(`${file} -> ${url}`);
        }
      }
      if (!file.endsWith('.map')) continue;
      maps++;
      const map = JSON.parse(fromTarball(tarball.path, file));
      map.sources.forEach((source, i) => {
        if (map.sourcesContent?.[i] != null) return;
        const path = posix.normalize(posix.join(posix.dirname(file), map.sourceRoot ?? '', source));
        if (!files.has(path)) missing.push(`${file} -> ${source}`);
      });
    }
    if (missing.length > 0)
      throw new Error(`dangling: ${missing.slice(0, 5).join(', ')} (${missing.length} in all)`);
    return `${maps} maps`;
  });
}

try {
  const lib = pack('packages/riptide');
  const cli = pack('packages/cli');
  checkTarball('riptide', lib);
  checkTarball('@riptide/cli', cli);

  // The scratch project: the two tarballs, and the TypeScript and @types/node the workspace uses.
  const version = (name) =>
    JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true }, null, 2));
  run('npm', [
    'install',
    '--no-audit',
    '--no-fund',
    '--prefer-offline',
    '--loglevel=error',
    lib.path,
    cli.path,
    `typescript@${version('typescript')}`,
    `@types/node@${version('@types/node')}`,
  ]);

  const roundTrip = (WebSocket, Server) => `
const wss = new ${Server}({ port: 0, host: '127.0.0.1' }, () => {
  const ws = new ${WebSocket}('ws://127.0.0.1:' + wss.address().port);
  ws.on('open', () => ws.send('ping'));
  ws.on('message', (data) => {
    if (String(data) !== 'echo:ping') throw new Error('unexpected ' + data);
    ws.close();
    wss.close();
    console.log('round trip ok');
  });
});
wss.on('connection', (peer) => peer.on('message', (data) => peer.send('echo:' + data)));
`;
  writeFileSync(
    join(scratch, 'esm.mjs'),
    `import WebSocket, { WebSocketServer, Server, WebSocket as Named, createWebSocketStream } from 'riptide';
import { Protocol } from 'riptide/core';
if (Named !== WebSocket || Server !== WebSocketServer) throw new Error('named exports differ');
if (typeof createWebSocketStream !== 'function' || typeof Protocol !== 'function') throw new Error('missing exports');
${roundTrip('WebSocket', 'WebSocketServer')}`,
  );
  writeFileSync(
    join(scratch, 'cjs.cjs'),
    `const WebSocket = require('riptide');
const { WebSocketServer } = require('riptide');
const { Protocol } = require('riptide/core');
if (typeof WebSocket !== 'function' || WebSocket.WebSocket !== WebSocket) throw new Error('require() is not the class');
if (require('riptide').Server !== WebSocketServer || typeof Protocol !== 'function') throw new Error('missing exports');
${roundTrip('WebSocket', "(require('riptide').Server)")}`,
  );
  for (const file of ['esm.mjs', 'cjs.cjs']) {
    check(`node ${file}: ${file.startsWith('esm') ? 'import' : 'require'} and a round trip`, () => {
      const out = run(process.execPath, [file], { timeout: 60_000 });
      if (!out.includes('round trip ok')) throw new Error(out);
    });
  }

  // TypeScript: an ES module and a CommonJS module of a user, under each resolution mode.
  const types = join(scratch, 'types');
  mkdirSync(types);
  const esmSource = `import WebSocket, { type RawData, WebSocketServer } from 'riptide';
import { Protocol } from 'riptide/core';
const wss: WebSocketServer = new WebSocketServer({ port: 0 });
const ws: WebSocket = new WebSocket('ws://127.0.0.1:1', { handshakeTimeout: 1000 });
ws.on('message', (data: RawData, isBinary: boolean) => console.log(data, isBinary));
wss.close();
export const core: typeof Protocol = Protocol;
`;
  const cjsSource = `import WebSocket = require('riptide');
import { WebSocketServer } from 'riptide';
const options: WebSocket.ServerOptions = { port: 0 };
const wss = new WebSocket.Server(options);
const same: WebSocketServer = wss;
wss.on('connection', (peer: WebSocket) => peer.send('welcome'));
const ws: WebSocket = new WebSocket('ws://127.0.0.1:1');
ws.on('message', (data: WebSocket.RawData) => console.log(data, WebSocket.OPEN));
export = same;
`;
  writeFileSync(join(types, 'esm.mts'), esmSource);
  writeFileSync(join(types, 'cjs.cts'), cjsSource);
  writeFileSync(join(types, 'bundler.ts'), esmSource);
  const tsc = join(scratch, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const [resolution, files, module] of [
    ['node16', ['esm.mts', 'cjs.cts'], 'node16'],
    ['bundler', ['bundler.ts'], 'esnext'],
  ]) {
    for (const interop of [true, false]) {
      const name = `tsconfig.${resolution}.${interop ? 'interop' : 'plain'}.json`;
      writeFileSync(
        join(types, name),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            module,
            moduleResolution: resolution,
            esModuleInterop: interop,
            target: 'es2022',
            types: ['node'],
          },
          files,
        }),
      );
      check(`tsc: moduleResolution ${resolution}, esModuleInterop ${interop}`, () => {
        const out = run(process.execPath, [tsc, '-p', name, '--listFiles'], { cwd: types });
        const used = out.split('\n').filter((f) => f.includes('/node_modules/riptide/'));
        const want =
          resolution === 'node16' ? ['dist/esm/index.d.ts', 'dist/cjs/index.d.cts'] : ['dist/esm/index.d.ts'];
        const missing = want.filter((w) => !used.some((f) => f.endsWith(w)));
        if (missing.length > 0) throw new Error(`did not resolve ${missing.join(', ')}:\n${used.join('\n')}`);
        return `read ${want.join(' and ')}`;
      });
    }
  }

  check('npx riptide --help from the installed CLI', () => {
    const r = spawnSync('npx', ['--no-install', 'riptide', '--help'], { cwd: scratch, encoding: 'utf8' });
    if (r.status !== 0 || !/usage: riptide/.test(r.stdout + r.stderr)) {
      throw new Error(`exit ${r.status}\n${r.stdout}${r.stderr}`);
    }
    return (r.stdout + r.stderr).split('\n')[0];
  });
} catch (err) {
  failures++;
  process.stdout.write(`FAIL pack check: ${err.stack ?? err}\n${err.stderr ?? ''}\n`);
} finally {
  if (keep) process.stdout.write(`scratch project kept at ${scratch}\n`);
  else rmSync(scratch, { recursive: true, force: true });
}
process.exit(failures === 0 ? 0 : 1);
