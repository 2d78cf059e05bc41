/**
 * `riptide listen --port N`: an interactive server. Each client gets a number; what clients send
 * is printed as `[n] message`; a typed (or piped) line goes to every client. Slash commands work
 * in both modes, since this is a server console: /clients, /kick n [reason], /binary, /help.
 * End of input (Ctrl-D) in a terminal stops the server; with piped input (a pipe, a file,
 * /dev/null) the server keeps running after the input ends, until Ctrl-C, SIGTERM or SIGHUP: a server
 * run by a process manager must not stop because its stdin is empty. The help says so.
 */
import { type CommandSpec, parseCommand, SHOW_HELP } from '../args.js';
import { onStopSignals } from '../exit.js';
import { describeMessage, parseHex, safeText, toBuffer } from '../format.js';
import { WebSocket } from '../lib.js';
import {
  listen as listenOn,
  logClientEnd,
  ORIGIN_NOTES,
  peerOf,
  SERVER_SYNOPSIS,
  type Socket,
  serverCloseTimeout,
  serverFlags,
  shutdown,
} from '../server.js';
import { type Io, Terminal } from '../terminal.js';

export const listenSpec: CommandSpec = {
  name: 'listen',
  brief: 'interactive server: see and answer clients',
  synopsis: SERVER_SYNOPSIS,
  summary:
    'An interactive server: prints what each client sends as [n] message, and sends every\n' +
    'line you type to all connected clients.',
  positionals: [],
  flags: serverFlags,
  notes: [
    'slash commands:',
    '  /clients              list connected clients',
    '  /kick <n> [reason]    close client n (code 1000)',
    '  /binary <hex>         send a binary message to every client',
    '  /help                 list these commands',
    '  //text                send "/text"',
    '',
    'input: each line goes to every client (slash commands too, typed or piped). In a',
    'terminal, Ctrl-D stops the server as Ctrl-C does. When stdin is a pipe, a file or',
    '/dev/null (e.g. under a process manager), the server keeps running after the input',
    'ends, until Ctrl-C, SIGTERM or a hang-up (SIGHUP); all three close the clients',
    'with 1001 and exit 0.',
    '',
    'example:\n  riptide listen --port 8080',
    '',
    ORIGIN_NOTES,
  ].join('\n'),
};

interface Client {
  id: number;
  ws: Socket;
  peer: string;
}

export async function listen(argv: string[], io: Io): Promise<number> {
  const { flags, help } = parseCommand(listenSpec, argv);
  if (help) return SHOW_HELP;
  const closeTimeoutMs = serverCloseTimeout(listenSpec, flags);
  // The terminal starts once listening (a flag or listen error leaves stdin alone); a refusal
  // cannot be logged before that, since none can happen before.
  let log = (_line: string) => {};
  const running = await listenOn(listenSpec, flags, (line) => log(line));
  const term = new Terminal(io);
  log = (line) => term.out(line);
  const clients = new Map<number, Client>();
  let next = 1;
  term.out(`listening on ${running.url}`);
  term.startPrompt();

  running.wss.on('connection', (ws: Socket, req) => {
    const client: Client = { id: next++, ws, peer: peerOf(req) };
    clients.set(client.id, client);
    term.out(`[${client.id}] connected from ${client.peer}`);
    ws.on('message', (data, isBinary) =>
      term.out(`[${client.id}] ${describeMessage(toBuffer(data), isBinary)}`),
    );
    ws.on('close', () => clients.delete(client.id));
    logClientEnd(running, ws, client.id, (line) => term.out(line));
  });

  const sendAll = (data: string | Buffer, binary: boolean) => {
    const open = [...clients.values()].filter((c) => c.ws.readyState === WebSocket.OPEN);
    if (open.length === 0) term.out('no clients connected');
    for (const c of open) c.ws.send(data, { binary });
  };

  const slash = (line: string) => {
    const [command, ...rest] = line.slice(1).split(' ');
    switch (command) {
      case 'clients':
        if (clients.size === 0) term.out('no clients connected');
        for (const c of clients.values()) term.out(`[${c.id}] ${c.peer}`);
        break;
      case 'kick': {
        const client = clients.get(Number(rest[0]));
        if (!client) {
          term.out(`no client '${safeText(rest[0] ?? '')}'; /clients lists them`);
          break;
        }
        // The library throws for caller misuse, here a reason over 123 bytes (RFC 6455 5.5).
        try {
          if (client.ws.readyState === WebSocket.OPEN)
            client.ws.close(1000, rest.slice(1).join(' ') || 'kicked');
        } catch (err) {
          term.out(`error: ${(err as Error).message}`);
        }
        break;
      }
      case 'binary': {
        const bytes = parseHex(rest.join(' '));
        if (bytes === null) term.out('error: /binary wants hex bytes, e.g. /binary 68 69');
        else sendAll(bytes, true);
        break;
      }
      case 'help':
        for (const text of (listenSpec.notes ?? '').split('\n').slice(1, 6)) term.out(text.trim());
        break;
      default:
        term.out(`unknown command /${safeText(command)}; /help lists them`);
    }
  };

  return new Promise((resolve) => {
    let finished = false;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      term.close();
      resolve(code);
    };
    const shutDown = shutdown(running, () => [...clients.values()].map((c) => c.ws), finish, closeTimeoutMs);
    let stopping = false;
    // The clients' close lines come while the server stops: no prompt is drawn again after them.
    const interrupt = (signal: NodeJS.Signals = 'SIGINT') => {
      stopping = true;
      term.stopPrompt();
      shutDown(signal);
    };
    term.onInterrupt(() => interrupt('SIGINT'));
    // A hang-up also ends the terminal's input: that end is no second signal (onEnd below), and
    // when the end (the terminal's EIO) comes first, the SIGHUP after it is none either.
    let hangUpSeen = false;
    onStopSignals((signal) => {
      if (signal === 'SIGHUP' && hangUpSeen) {
        hangUpSeen = false;
        return;
      }
      interrupt(signal);
    });
    term.onLine((line) => {
      if (line.startsWith('//')) sendAll(line.slice(1), false);
      else if (line.startsWith('/')) slash(line);
      else sendAll(line, false);
    });
    term.onEnd((hungUp) => {
      if (!term.interactive || finished || stopping) return;
      // Regression: a hang-up whose EIO came before its SIGHUP was two stops, and the second
      // exited at once with 129 instead of 0 once the clients were closed.
      interrupt(hungUp ? 'SIGHUP' : 'SIGINT');
      // No SIGHUP follows the EIO of a terminal that is not our controlling one: a later one is
      // a second stop (at once), not that hang-up's.
      hangUpSeen = hungUp && term.hangUpSignals;
    });
  });
}
