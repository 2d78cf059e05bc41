// `bench/wsload/wsload hold` pinned to CPU 1 (the servers run on CPU 0): `conns` connections to
// ws://127.0.0.1:PORT/ held for `seconds`. Its JSON progress lines come on stdout; the raw
// node:net server does not unmask, so wsload is told to accept that.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const wsload = fileURLToPath(new URL('../wsload/wsload', import.meta.url));

/** Starts the hold load against server `name` ('raw' sends masked frames back). */
export function spawnHold(name, port, conns, seconds) {
  return spawn(
    'taskset',
    [
      '-c',
      '1',
      wsload,
      'hold',
      '--url',
      `ws://127.0.0.1:${port}/`,
      '-c',
      String(conns),
      '-d',
      String(seconds),
      ...(name === 'raw' ? ['--allow-masked'] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
}
