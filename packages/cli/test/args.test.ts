/**
 * src/args.ts: parsing from one table per command, the help generated from the same table, and
 * the flag value checks. failures.test.ts checks the lines bin.ts prints for these errors.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CliUsageError,
  type CommandSpec,
  helpText,
  hostFlag,
  parseCommand,
  portFlag,
  secondsFlag,
  stringFlag,
  stringList,
  usageLine,
} from '../src/args.js';
import { broadcastSpec } from '../src/commands/broadcast.js';
import { connectSpec } from '../src/commands/connect.js';
import { echoSpec } from '../src/commands/echo.js';
import { listenSpec } from '../src/commands/listen.js';

const spec: CommandSpec = {
  name: 'demo',
  synopsis: '<url> [flags]',
  brief: 'a demo',
  summary: 'Do the demo.',
  positionals: ['<url>'],
  flags: {
    header: { type: 'string', short: 'H', multiple: true, value: 'NAME: VALUE', description: 'add a header' },
    json: { type: 'boolean', description: 'one JSON object per line' },
    wait: { type: 'string', value: 'S', numeric: true, description: 'wait S seconds' },
  },
  notes: 'Notes here.',
};

/** The CliUsageError `fn` throws (fails the test if it throws none). */
function usageError(fn: () => unknown): CliUsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CliUsageError);
    return err as CliUsageError;
  }
  throw new Error('no CliUsageError thrown');
}

describe('usageLine and helpText', () => {
  it('the usage line is the command and its synopsis', () => {
    expect(usageLine(spec)).toBe('usage: riptide demo <url> [flags]');
  });

  it('describes every flag of the table, and --help, in one aligned column, then the notes', () => {
    expect(helpText(spec)).toBe(
      [
        'usage: riptide demo <url> [flags]',
        '',
        'Do the demo.',
        '',
        'flags:',
        '  -H, --header <NAME: VALUE>  add a header (repeatable)',
        '      --json                  one JSON object per line',
        '      --wait <S>              wait S seconds',
        '  -h, --help                  show this help',
        '',
        'Notes here.',
        '',
      ].join('\n'),
    );
  });

  it('a string flag without a value name shows <value>; no notes, no trailing paragraph', () => {
    const bare: CommandSpec = {
      ...spec,
      notes: undefined,
      flags: { x: { type: 'string', description: 'd' } },
    };
    expect(helpText(bare)).toContain('      --x <value>  d\n');
    expect(helpText(bare).endsWith('show this help\n')).toBe(true);
  });
});

describe('parseCommand', () => {
  it('returns the flags (repeatable ones in order) and the positionals', () => {
    const parsed = parseCommand(spec, ['ws://x', '-H', 'A: 1', '--json', '--header', 'B: 2']);
    expect(parsed).toEqual({
      flags: { header: ['A: 1', 'B: 2'], json: true },
      positionals: ['ws://x'],
      help: false,
    });
  });

  it('--help or -h wins over missing arguments', () => {
    expect(parseCommand(spec, ['--help']).help).toBe(true);
    expect(parseCommand(spec, ['-h', 'a', 'b', 'c']).help).toBe(true);
  });

  it('a missing or an extra positional is a usage error naming it', () => {
    expect(usageError(() => parseCommand(spec, [])).message).toBe('missing argument <url>');
    expect(usageError(() => parseCommand(spec, ['a', 'b'])).message).toBe("unexpected argument 'b'");
  });

  it("keeps the first sentence of parseArgs's own message as the one-line reason, with the command", () => {
    const unknown = usageError(() => parseCommand(spec, ['ws://x', '--bogus']));
    expect(unknown.message).toMatch(/^Unknown option '--bogus'$/);
    expect(unknown.command).toBe(spec);
    const missingValue = usageError(() => parseCommand(spec, ['ws://x', '--wait']));
    expect(missingValue.message).not.toContain('\n');
    expect(missingValue.message).toMatch(/^Option '--wait <value>' argument missing$/);
    // A boolean flag given a value is refused too.
    expect(usageError(() => parseCommand(spec, ['ws://x', '--json=yes'])).message).toMatch(/--json/);
  });
});

describe('parseCommand: a numeric flag followed by a dash', () => {
  const withShort: CommandSpec = {
    ...spec,
    flags: { ...spec.flags, wait: { ...spec.flags.wait, short: 'w' } },
  };

  it.each([
    [['ws://x', '--wait', '-1'], '-1'],
    [['ws://x', '-w', '-0.5'], '-0.5'],
    [['ws://x', '--wait', '-soon'], '-soon'],
    [['--wait', '-1', 'ws://x'], '-1'],
  ])('%j takes the dash argument as the value, for the flag to refuse in its own words', (argv, value) => {
    const parsed = parseCommand(withShort, argv);
    expect(parsed.flags.wait).toBe(value);
    expect(parsed.positionals).toEqual(['ws://x']);
    expect(usageError(() => secondsFlag(spec, 'wait', stringFlag(parsed.flags.wait), 0)).message).toBe(
      `--wait must be a number of seconds, got '${value}'`,
    );
  });

  it('a flag of the command after it is that flag (the value is missing), and after -- nothing changes', () => {
    expect(usageError(() => parseCommand(spec, ['ws://x', '--wait', '--json'])).message).toBe(
      '--wait needs a value before --json',
    );
    expect(usageError(() => parseCommand(spec, ['ws://x', '--wait', '-H'])).message).toBe(
      '--wait needs a value before -H',
    );
    expect(usageError(() => parseCommand(spec, ['ws://x', '--wait', '-h'])).message).toBe(
      '--wait needs a value before -h',
    );
    const two: CommandSpec = { ...spec, positionals: ['<a>', '<b>'] };
    expect(parseCommand(two, ['--', '--wait', '-1'])).toMatchObject({
      flags: {},
      positionals: ['--wait', '-1'],
    });
  });

  it('an argument that is not a flag is left alone, however it ends (`aw` is no `-w`)', () => {
    const two: CommandSpec = { ...withShort, positionals: ['<a>', '<b>'] };
    expect(parseCommand(two, ['aw', '-'])).toMatchObject({ flags: {}, positionals: ['aw', '-'] });
    expect(parseCommand(two, ['-H', 'xw', '-', 'b'])).toMatchObject({
      flags: { header: ['xw'] },
      positionals: ['-', 'b'],
    });
  });

  it('a group of boolean short flags ending in the numeric one takes the dash argument too', () => {
    const grouped: CommandSpec = {
      ...withShort,
      flags: { ...withShort.flags, json: { ...spec.flags.json, short: 'j' } },
    };
    const parsed = parseCommand(grouped, ['ws://x', '-jw', '-5']);
    expect(parsed.flags).toMatchObject({ json: true, wait: '-5' });
    expect(parsed.positionals).toEqual(['ws://x']);
    expect(usageError(() => secondsFlag(spec, 'wait', stringFlag(parsed.flags.wait), 0)).message).toBe(
      "--wait must be a number of seconds, got '-5'",
    );
    // A group with a value-taking flag before the last one (`-H` takes `w`), or an unknown
    // letter, is left to parseArgs.
    expect(usageError(() => parseCommand(grouped, ['ws://x', '-Hw', '-5'])).message).toBe(
      "Unknown option '-5'",
    );
    expect(usageError(() => parseCommand(grouped, ['ws://x', '-zw', '-5'])).message).toBe(
      "Unknown option '-z'",
    );
    // A group that ends in a flag which is not numeric keeps parseArgs behaviour.
    expect(usageError(() => parseCommand(grouped, ['ws://x', '-jH', '-1'])).message).toBe(
      "the value of -H, '-1', starts with a dash: write it as --header=-1",
    );
  });

  it('a flag that is not numeric refuses it, and says how to give a value that starts with a dash', () => {
    // Regression: parseArgs's "Option '-H' argument is ambiguous." (its advice cut) said neither
    // what was wrong nor how to send such a value.
    expect(usageError(() => parseCommand(spec, ['ws://x', '-H', '-1'])).message).toBe(
      "the value of -H, '-1', starts with a dash: write it as --header=-1",
    );
    expect(usageError(() => parseCommand(spec, ['ws://x', '--header', '-x: 1'])).message).toBe(
      "the value of --header, '-x: 1', starts with a dash: write it as --header=-x: 1",
    );
    // `-hello` is no group of short flags (`-h` is one, `e` none): a value, not a flag.
    expect(usageError(() => parseCommand(spec, ['ws://x', '-H', '-hello'])).message).toMatch(
      /^the value of -H, '-hello'/,
    );
    // a flag of the command, or `--`, after it: the value is missing
    expect(usageError(() => parseCommand(spec, ['ws://x', '-H', '--json'])).message).toBe(
      '-H needs a value before --json',
    );
    expect(usageError(() => parseCommand(spec, ['ws://x', '-H', '--', 'x'])).message).toBe(
      '-H needs a value before --',
    );
    // the forms it names are taken
    expect(parseCommand(spec, ['ws://x', '--header=-1']).flags.header).toEqual(['-1']);
    expect(parseCommand(spec, ['ws://x', '-H-1']).flags.header).toEqual(['-1']);
  });
});

describe('hostFlag', () => {
  it('127.0.0.1 by default; an IPv6 address in brackets, as a URL writes it, without them', () => {
    expect(hostFlag(spec, undefined)).toBe('127.0.0.1');
    expect(hostFlag(spec, '0.0.0.0')).toBe('0.0.0.0');
    expect(hostFlag(spec, 'localhost')).toBe('localhost');
    expect(hostFlag(spec, '::1')).toBe('::1');
    // Regression: "cannot listen on [::1]:0: getaddrinfo ENOTFOUND [::1]".
    expect(hostFlag(spec, '[::1]')).toBe('::1');
    expect(hostFlag(spec, '[fe80::1%eth0]')).toBe('fe80::1%eth0');
  });

  // Regression: Node took an empty host as none and listened on every address.
  it.each(['', ' ', 'a b'])('refuses %j', (value) => {
    expect(usageError(() => hostFlag(spec, value)).message).toBe(
      `--host must be an address or a name (0.0.0.0 for all), got '${value}'`,
    );
  });
});

describe('portFlag', () => {
  it('an integer 0..65535 (0: a free port)', () => {
    expect(portFlag(spec, '0', true)).toBe(0);
    expect(portFlag(spec, '8080', true)).toBe(8080);
    expect(portFlag(spec, '65535', true)).toBe(65535);
    expect(portFlag(spec, undefined, false)).toBeUndefined();
  });

  it.each(['65536', '-1', '80.5', '', ' 80', '0x50', '123456', '1e3'])('refuses %j', (value) => {
    expect(usageError(() => portFlag(spec, value, true)).message).toBe(
      `--port must be an integer from 0 to 65535, got '${value}'`,
    );
  });

  it('a required port that is missing is a usage error', () => {
    expect(usageError(() => portFlag(spec, undefined, true)).message).toBe('missing flag --port');
  });
});

describe('secondsFlag', () => {
  it('seconds (decimals allowed) in milliseconds, or the fallback', () => {
    expect(secondsFlag(spec, 'wait', undefined, 1234)).toBe(1234);
    expect(secondsFlag(spec, 'wait', '2', 0)).toBe(2000);
    expect(secondsFlag(spec, 'wait', '0.25', 0)).toBe(250);
    expect(secondsFlag(spec, 'wait', '0', 5)).toBe(0);
    expect(secondsFlag(spec, 'wait', '0.0001', 5)).toBe(0);
  });

  it('positive: 0 is refused and a fraction of a millisecond is 1 ms (never "no timeout")', () => {
    expect(usageError(() => secondsFlag(spec, 'timeout', '0', 5, true)).message).toBe(
      "--timeout must be more than 0 seconds, got '0'",
    );
    expect(usageError(() => secondsFlag(spec, 'timeout', '0.000', 5, true)).message).toMatch(/more than 0/);
    expect(secondsFlag(spec, 'timeout', '0.0001', 5, true)).toBe(1);
  });

  it.each(['-1', '1s', '.5', '1.', '1e3', 'soon', ''])('refuses %j', (value) => {
    expect(usageError(() => secondsFlag(spec, 'wait', value, 0)).message).toBe(
      `--wait must be a number of seconds, got '${value}'`,
    );
  });

  it("refuses what Node's timers cannot hold (2^31 - 1 ms), and takes the largest that fits", () => {
    expect(secondsFlag(spec, 'wait', '2147483.647', 0)).toBe(2 ** 31 - 1);
    expect(usageError(() => secondsFlag(spec, 'wait', '2147483.648', 0)).message).toBe(
      "--wait must be at most 2147483 seconds, got '2147483.648'",
    );
  });
});

describe('stringList and stringFlag', () => {
  it('the strings of a flag value, whatever its shape', () => {
    expect(stringList(undefined)).toEqual([]);
    expect(stringList(true)).toEqual([]);
    expect(stringList('a')).toEqual(['a']);
    expect(stringList(['a', true, 'b'])).toEqual(['a', 'b']);
    expect(stringFlag('a')).toBe('a');
    expect(stringFlag(true)).toBeUndefined();
    expect(stringFlag(['a'])).toBeUndefined();
  });
});

describe("the READMEs and the commands' tables", () => {
  const specs = [connectSpec, listenSpec, echoSpec, broadcastSpec];
  /** Backticks out and whitespace collapsed, so a phrase may be a code span or cross a line end. */
  const prose = (text: string) => text.replace(/`/g, '').replace(/\s+/g, ' ');
  const cliReadme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const rootReadme = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
  const rootSection = rootReadme.split('## The `riptide` command')[1].split('\n## ')[0];
  /** The long flags a text names: `--name`, not part of a longer word. */
  const longFlags = (text: string) =>
    new Set([...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]));

  it('packages/cli/README.md names every flag of every command (a short one as -s/--name), and the defaults --help states', () => {
    const text = prose(cliReadme);
    const named = longFlags(cliReadme);
    const missing: string[] = [];
    for (const spec of specs)
      for (const [name, flag] of Object.entries(spec.flags)) {
        if (!named.has(name)) missing.push(`${spec.name} --${name}`);
        if (flag.short && !text.includes(`-${flag.short}/--${name}`))
          missing.push(`${spec.name} -${flag.short}/--${name}`);
        for (const m of flag.description.matchAll(/\(default ([^;)]+)[;)]/g))
          if (!text.includes(`default ${m[1]}`)) missing.push(`${spec.name} --${name}: default ${m[1]}`);
      }
    expect(missing).toEqual([]);
  });

  it('both READMEs name no flag that no command has (beyond --help and --version)', () => {
    const known = new Set(['help', 'version', ...specs.flatMap((spec) => Object.keys(spec.flags))]);
    const unknown = (text: string) => [...longFlags(text)].filter((name) => !known.has(name));
    expect(unknown(cliReadme)).toEqual([]);
    expect(unknown(rootSection)).toEqual([]);
    expect(rootSection).toContain('npx riptide connect');
    expect(unknown('see --wait, --no-such-flag and a-- b--c')).toEqual(['no-such-flag']);
  });
});
