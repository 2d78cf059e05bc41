/**
 * src/habits.ts: what a wscat or websocat user types first gets the riptide way in its usage
 * error (still exit 2, still the usage), from parseCommand and from the command line.
 */
import { describe, expect, it } from 'vitest';
import { CliUsageError, parseCommand } from '../src/args.js';
import { connectSpec } from '../src/commands/connect.js';
import { echoSpec } from '../src/commands/echo.js';
import { listenSpec } from '../src/commands/listen.js';
import { commandHint, flagHint, portHint } from '../src/habits.js';
import { run, USAGE } from './helpers.js';

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CliUsageError);
    return (err as Error).message;
  }
  throw new Error('no usage error');
}

describe('hints', () => {
  it("name riptide's flag for wscat's -c, -s, -n, -P and -o, and nothing for a flag of no habit", () => {
    expect(flagHint('connect', '-s')).toBe("a subprotocol is -p <name> here, wscat's -s");
    expect(flagHint('connect', '--subprotocol')).toBe("a subprotocol is -p <name> here, wscat's -s");
    expect(flagHint('connect', '-n')).toBe("-k or --insecure skips the certificate check, wscat's -n");
    expect(flagHint('connect', '-P')).toBe("--show-ping prints pings and pongs, wscat's -P");
    expect(flagHint('connect', '-o')).toBe('the Origin header is --origin <origin>');
    expect(flagHint('connect', '-c')).toBe('the URL is the argument: riptide connect <url>');
    expect(flagHint('connect', '--bogus')).toBeUndefined();
    expect(flagHint('echo', '-s')).toBeUndefined();
  });

  it('name the command for a wscat flag, a server word or a URL given first, as websocat takes it', () => {
    expect(commandHint('-c')).toBe('try riptide connect <url>');
    expect(commandHint('-l')).toBe('try riptide listen --port N; also echo, broadcast');
    expect(commandHint('serve')).toBe('try riptide listen --port N; also echo, broadcast');
    expect(commandHint('wss://example.com/ws')).toBe('try riptide connect wss://example.com/ws');
    expect(commandHint('frobnicate')).toBeUndefined();
    // Not an object's own property: no hint from its prototype.
    expect(commandHint('toString')).toBeUndefined();
    expect(portHint('8080')).toBe('the port is a flag: --port 8080');
    expect(portHint('extra')).toBeUndefined();
  });
});

describe('usage errors with a hint', () => {
  it('an unknown flag of connect that wscat takes says what riptide takes', () => {
    expect(reason(() => parseCommand(connectSpec, ['ws://x', '-s', 'chat']))).toBe(
      "Unknown option '-s' (a subprotocol is -p <name> here, wscat's -s)",
    );
    expect(reason(() => parseCommand(connectSpec, ['-c', 'ws://x']))).toBe(
      "Unknown option '-c' (the URL is the argument: riptide connect <url>)",
    );
    expect(reason(() => parseCommand(connectSpec, ['ws://x', '--bogus']))).toBe("Unknown option '--bogus'");
  });

  it('a bare number to a server is taken for its port', () => {
    expect(reason(() => parseCommand(echoSpec, ['8080']))).toBe(
      "unexpected argument '8080' (the port is a flag: --port 8080)",
    );
    expect(reason(() => parseCommand(listenSpec, ['--port', '0', 'extra']))).toBe(
      "unexpected argument 'extra'",
    );
  });

  it('riptide -c URL, riptide serve and riptide URL: exit 2, the hint, then the usage', async () => {
    for (const [args, line] of [
      [['-c', 'ws://127.0.0.1:1'], "riptide: unknown command '-c' (try riptide connect <url>)"],
      [['serve'], "riptide: unknown command 'serve' (try riptide listen --port N; also echo, broadcast)"],
      [
        ['ws://127.0.0.1:1'],
        "riptide: unknown command 'ws://127.0.0.1:1' (try riptide connect ws://127.0.0.1:1)",
      ],
      [
        ['help', 'serve'],
        "riptide: unknown command 'serve' (try riptide listen --port N; also echo, broadcast)",
      ],
    ] as const) {
      const result = await run([...args]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.split('\n')[0]).toBe(line);
      expect(result.stderr).toMatch(/\nusage: riptide <command> \[flags\]\n/);
    }
    const flag = await run(['connect', 'ws://127.0.0.1:1', '-n']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(USAGE);
    expect(flag.stderr.split('\n')[0]).toBe(
      "riptide connect: Unknown option '-n' (-k or --insecure skips the certificate check, wscat's -n)",
    );
  });
});
