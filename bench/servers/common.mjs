// Shared plumbing for the benchmark servers. Every server:
//   - takes the port as its first argument (0 = any free port),
//   - prints exactly one line "listening <port>" on stdout once it accepts connections,
//   - exits with status 0 on SIGTERM (the runner stops servers that way),
//   - exits with status 3 and a message on stderr when the library it needs is not available
//     (the runner then marks that server "not available" instead of failing the run).
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

const require = createRequire(import.meta.url);

export const EXIT_UNAVAILABLE = 3;

/** The port argument: a non-negative integer, default 0. */
export function portArg(argv = process.argv) {
  const raw = argv.slice(2).find((a) => !a.startsWith('--')) ?? '0';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid port: ${raw}`);
    process.exit(2);
  }
  return port;
}

export function flag(name, argv = process.argv) {
  return argv.slice(2).includes(`--${name}`);
}

export function announce(port) {
  process.stdout.write(`listening ${port}\n`);
}

/** Call `stop` on SIGTERM/SIGINT, then exit 0 (also if `stop` throws or hangs for 2 s). */
export function exitOnSignal(stop) {
  const onSignal = () => {
    setTimeout(() => process.exit(0), 2000).unref();
    try {
      stop();
    } catch {}
    process.exit(0);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

/**
 * uWebSockets.js from the `uwebsockets` npm package (a bench-only devDependency with Linux
 * x64 binaries for Node 20-24), or exit "not available" when it is not installed or its
 * binary does not load on this platform or Node version.
 */
export function loadUws() {
  try {
    return require('uwebsockets');
  } catch (err) {
    unavailable('uWebSockets.js (npm package uwebsockets)', err);
  }
}

/**
 * The options every uWS server here uses, chosen to match riptide's and ws's defaults: no
 * compression, 100 MiB maximum message, no idle timeout (riptide and ws have none by
 * default), and no send-buffer limit (uWS's default drops a send once 64 KiB are buffered;
 * riptide and ws queue without bound, and wsload counts a dropped echo as lost).
 */
export function uwsBehavior(uWS) {
  return {
    compression: uWS.DISABLED,
    maxPayloadLength: 100 * 1024 * 1024,
    idleTimeout: 0,
    maxBackpressure: 0,
    closeOnBackpressureLimit: false,
  };
}

/** Listen with a uWS app on 127.0.0.1 and the port argument; announce the port; stop on SIGTERM. */
export function uwsListen(uWS, app) {
  app.listen('127.0.0.1', portArg(), (token) => {
    if (!token) {
      console.error('uWS could not listen');
      process.exit(1);
    }
    announce(uWS.us_socket_local_port(token));
    exitOnSignal(() => uWS.us_listen_socket_close(token));
  });
}

export function unavailable(what, err) {
  console.error(`not available: ${what}${err ? ` (${err.message ?? err})` : ''}`);
  process.exit(EXIT_UNAVAILABLE);
}

/**
 * ws is benchmarked at its best: with the native bufferutil (masking) and utf-8-validate add-ons.
 * Fail loudly if either is missing or would fall back to its JavaScript version, or if ws was told
 * to ignore them. (On Node >= 18.14 ws validates UTF-8 with buffer.isUtf8 and only falls back to
 * utf-8-validate without it; the add-on is still required here so ws has every option it supports.)
 */
export function assertWsNativeAddons() {
  for (const env of ['WS_NO_BUFFER_UTIL', 'WS_NO_UTF_8_VALIDATE']) {
    if (process.env[env]) throw new Error(`${env} is set: ws would not use its native add-ons`);
  }
  const nodeGypBuild = require('node-gyp-build');
  for (const name of ['bufferutil', 'utf-8-validate']) {
    const dir = dirname(require.resolve(`${name}/package.json`));
    // Throws when there is no prebuilt or compiled binary for this platform.
    nodeGypBuild.path(dir);
    const loaded = require(name);
    const fallback = require(`${name}/fallback.js`);
    const isFallback = name === 'bufferutil' ? loaded.mask === fallback.mask : loaded === fallback;
    if (isFallback) throw new Error(`${name}: the JavaScript fallback is loaded, not the native add-on`);
  }
}
