/**
 * `riptide echo --port N`: every message goes back to its sender with the same type (text or
 * binary). Connections and closes are logged on stdout, one line each; messages are not, so the
 * server stays fast under load. A client that does not read its echoes is read from no faster than
 * it reads (ws's pause/resume), so what waits for it stays within CLIENT_BACKLOG.
 */
import { type CommandSpec, parseCommand, SHOW_HELP } from '../args.js';
import {
  CLIENT_BACKLOG,
  listen,
  logClientEnd,
  ORIGIN_NOTES,
  peerOf,
  SERVER_SYNOPSIS,
  type Socket,
  serverCloseTimeout,
  serverFlags,
  shutdown,
  stopOnSignals,
} from '../server.js';
import type { Io } from '../terminal.js';

export const echoSpec: CommandSpec = {
  name: 'echo',
  brief: 'echo server: every message back to its sender',
  synopsis: SERVER_SYNOPSIS,
  summary: 'An echo server: every message goes back to its sender with the same type (text or binary).',
  positionals: [],
  flags: serverFlags,
  notes:
    'examples:\n  riptide echo --port 8080 &\n  riptide connect ws://127.0.0.1:8080 -x hello\n' +
    '  riptide echo --port 8443 --cert cert.pem --key key.pem &   # wss:// over HTTP/2 and HTTP/1.1\n' +
    '  riptide connect wss://localhost:8443 --http2 -k -x hello\n\n' +
    'a client that does not read its echoes: reading from it waits while more than 4 MiB of\n' +
    "them wait (logged once), so its own sends back up instead of this server's memory.\n\n" +
    ORIGIN_NOTES,
};

export async function echo(argv: string[], io: Io): Promise<number> {
  const { flags, help } = parseCommand(echoSpec, argv);
  if (help) return SHOW_HELP;
  const closeTimeoutMs = serverCloseTimeout(echoSpec, flags);
  const running = await listen(echoSpec, flags, (line) => io.stdout.write(`${line}\n`));
  io.stdout.write(`listening on ${running.url}\n`);
  let next = 1;
  running.wss.on('connection', (ws: Socket, req) => {
    const id = next++;
    io.stdout.write(`[${id}] connected from ${peerOf(req)}\n`);
    // A client that sends without reading its echoes would have them pile up here: stop reading
    // from it until they are written (said once, so the operator knows why it seems stuck).
    let told = false;
    ws.on('message', (data, isBinary) => {
      ws.send(data as Buffer, { binary: isBinary }, () => {
        if (ws.isPaused && ws.bufferedAmount <= CLIENT_BACKLOG) ws.resume();
      });
      if (ws.isPaused || ws.bufferedAmount <= CLIENT_BACKLOG) return;
      ws.pause();
      if (told) return;
      told = true;
      io.stdout.write(`[${id}] does not read its echoes: reading from it waits until it does\n`);
    });
    logClientEnd(running, ws, id, (line) => io.stdout.write(`${line}\n`));
  });
  return new Promise((resolve) => {
    const stop = shutdown(running, () => running.wss.clients, resolve, closeTimeoutMs);
    stopOnSignals(stop);
  });
}
