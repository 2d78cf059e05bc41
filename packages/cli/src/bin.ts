/**
 * The `riptide` command: dispatch to a subcommand and turn its outcome into an exit status.
 *
 *   0   done (clean close, or server stopped with Ctrl-C)
 *   1   the connection could not be made or was lost; a server could not listen
 *   2   usage: unknown flag, missing argument, malformed URL or value
 *   3   connect: the server closed with a code that reports a failure (1002, 1003, 1007 to 1014)
 *   130 a second Ctrl-C (connect: also a first one before the connection opened)
 *   141 the output went away (the reader of a pipe closed it: `riptide connect URL | head -1`)
 *   129, 143 connect ended by a hang-up (SIGHUP) or SIGTERM, after closing with 1001; the servers
 *            stop cleanly on both, as on Ctrl-C (0)
 */
import { readFileSync } from 'node:fs';
import { CliUsageError, type CommandSpec, helpText, SHOW_HELP, usageLine } from './args.js';
import { broadcast, broadcastSpec } from './commands/broadcast.js';
import { connect, connectSpec } from './commands/connect.js';
import { echo, echoSpec } from './commands/echo.js';
import { listen, listenSpec } from './commands/listen.js';
import { exitWhenFlushed, output } from './exit.js';
import { commandHint } from './habits.js';
import type { Io } from './terminal.js';

type Run = (argv: string[], io: Io) => Promise<number>;

const COMMANDS: Record<string, [CommandSpec, Run]> = {
  connect: [connectSpec, connect],
  listen: [listenSpec, listen],
  echo: [echoSpec, echo],
  broadcast: [broadcastSpec, broadcast],
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * One line per command: its synopsis, then its brief in a column wide enough for every synopsis.
 * A synopsis with several optional flags is cut to its required part and `[flags]`, so each line
 * fits 80 columns; `riptide <command> --help` gives the whole one.
 */
function commandRows(): string {
  const rows = Object.values(COMMANDS).map(([spec]) => {
    const optional = spec.synopsis.indexOf('[');
    const short =
      spec.synopsis.length > 24 && optional > 0
        ? `${spec.synopsis.slice(0, optional)}[flags]`
        : spec.synopsis;
    return [`${spec.name} ${short}`, spec.brief];
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, brief]) => `  ${left.padEnd(width)}${brief}`).join('\n');
}

const MAIN_HELP = `usage: riptide <command> [flags]

Connect to, listen on and serve WebSocket endpoints.

commands:
${commandRows()}

flags:
  -h, --help       show this help (help <command>: that command's flags)
  -v, --version    print the version

exit status: 0 done, 1 connection failed or lost, 2 usage error,
3 connect: the server closed with an error code (1002, 1003, 1007 to 1014),
130 a second Ctrl-C (connect: also a first one before the connection opened),
141 the output went away (the reader of a pipe closed it),
129/143 connect ended by a hang-up (SIGHUP) / SIGTERM, after closing with 1001;
servers stop on SIGHUP and SIGTERM as on Ctrl-C (clients get 1001, exit 0)
`;

/** The reason for a first word that is no command, with a hint for a wscat or websocat habit. */
function unknownCommand(word: string): string {
  const hint = commandHint(word);
  return `unknown command '${word}'${hint ? ` (${hint})` : ''}`;
}

async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // A usage error like the others: one line of reason, then the usage.
    io.stderr.write(`riptide: no command given\n${MAIN_HELP}`);
    return 2;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    // `riptide help connect`, as git and npm take it: that command's help. Regression: the main
    // help, which then sent the user on to `riptide connect --help`.
    const topic = name === 'help' && rest.length > 0 ? COMMANDS[rest[0]] : undefined;
    if (name === 'help' && rest.length > 0 && topic === undefined) {
      io.stderr.write(`riptide: ${unknownCommand(rest[0])}\n${MAIN_HELP}`);
      return 2;
    }
    io.stdout.write(topic ? helpText(topic[0]) : MAIN_HELP);
    return 0;
  }
  if (name === '-v' || name === '--version') {
    io.stdout.write(`riptide ${version()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`riptide: ${unknownCommand(name)}\n${MAIN_HELP}`);
    return 2;
  }
  const [spec, run] = command;
  try {
    const code = await run(rest, io);
    if (code === SHOW_HELP) {
      io.stdout.write(helpText(spec));
      return 0;
    }
    return code;
  } catch (err) {
    if (err instanceof CliUsageError) {
      io.stderr.write(
        `riptide ${spec.name}: ${err.message}\n${usageLine(spec)}\n(riptide ${spec.name} --help for all flags)\n`,
      );
      return 2;
    }
    io.stderr.write(`riptide ${spec.name}: ${(err as Error).message}\n`);
    return 1;
  }
}

// A write to a pipe whose reader is gone ends the command quietly (141); one to a terminal that
// hung up is dropped (exit.ts).
output.guard([process.stdout, process.stderr]);
const exit = (code: number) => process.exit(code);

const io: Io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
main(process.argv.slice(2), io).then(
  (code) => exitWhenFlushed([process.stdout, process.stderr], code, exit),
  (err) => {
    process.stderr.write(`riptide: internal error: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
