/**
 * Command-line parsing for every `riptide` command, from one table per command.
 *
 * The help text is generated from the same table that parseArgs validates against, so a flag
 * cannot exist without being described, and `--help` can never drift from what is accepted.
 * Bad input (unknown flag, missing argument, malformed value) becomes a CliUsageError: the
 * entry point prints its one-line reason and the command's usage, then exits 2.
 */
import { parseArgs } from 'node:util';
import { flagHint, portHint } from './habits.js';

export interface FlagSpec {
  /** parseArgs type: 'string' takes a value, 'boolean' does not. */
  type: 'string' | 'boolean';
  short?: string;
  /** may be given several times; the values are collected in order */
  multiple?: boolean;
  /** shown in the help after the flag, e.g. 'N' or 'NAME: VALUE' */
  value?: string;
  /**
   * The value is a number: a following argument that starts with '-' and is no flag of the
   * command (`--timeout -1`) is taken as the value, so the flag's own check refuses it in words
   * of its own rather than parseArgs calling it ambiguous.
   */
  numeric?: boolean;
  description: string;
}

export interface CommandSpec {
  name: string;
  /** one line after `riptide <name>` in the usage, e.g. '<url> [flags]' */
  synopsis: string;
  /** a few words for `riptide --help` */
  brief: string;
  summary: string;
  positionals: string[];
  flags: Record<string, FlagSpec>;
  /** extra help paragraphs (slash commands, behaviour) */
  notes?: string;
}

/** Wrong invocation: exit status 2, one line of reason, then the usage. */
export class CliUsageError extends Error {
  readonly command: CommandSpec | null;
  constructor(message: string, command: CommandSpec | null) {
    super(message);
    this.name = 'CliUsageError';
    this.command = command;
  }
}

/** What a command returns instead of an exit status when it was given --help. */
export const SHOW_HELP = -1;

const helpFlag: FlagSpec = { type: 'boolean', short: 'h', description: 'show this help' };

export function usageLine(spec: CommandSpec): string {
  return `usage: riptide ${spec.name} ${spec.synopsis}`;
}

export function helpText(spec: CommandSpec): string {
  const rows: [string, string][] = [];
  for (const [name, flag] of Object.entries({ ...spec.flags, help: helpFlag })) {
    const short = flag.short ? `-${flag.short}, ` : '    ';
    const value = flag.type === 'string' ? ` <${flag.value ?? 'value'}>` : '';
    const repeat = flag.multiple ? ' (repeatable)' : '';
    rows.push([`  ${short}--${name}${value}`, `${flag.description}${repeat}`]);
  }
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const lines = [
    usageLine(spec),
    '',
    spec.summary,
    '',
    'flags:',
    ...rows.map(([left, right]) => left.padEnd(width) + right),
  ];
  if (spec.notes) lines.push('', spec.notes);
  return `${lines.join('\n')}\n`;
}

export type FlagValue = string | boolean | (string | boolean)[] | undefined;
export type ParsedFlags = Record<string, FlagValue>;

export interface Parsed {
  flags: ParsedFlags;
  positionals: string[];
  help: boolean;
}

/** Parse argv for one command; throws CliUsageError on anything parseArgs or the arity rejects. */
export function parseCommand(spec: CommandSpec, argv: string[]): Parsed {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, flag] of Object.entries({ ...spec.flags, help: helpFlag })) {
    options[name] = { type: flag.type };
    if (flag.short) options[name].short = flag.short;
    if (flag.multiple) options[name].multiple = true;
  }
  let values: ParsedFlags;
  let positionals: string[];
  const args = attachDashValues(spec, argv);
  try {
    ({ values, positionals } = parseArgs({
      args,
      options,
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    // parseArgs messages are multi-line sentences with advice; keep the first line as the reason.
    const message = (err as Error).message.split('\n')[0].replace(/\.\s.*$/, '');
    const ambiguous = /^Option '(-[^']+)' argument is ambiguous/.exec(message);
    const unknown = /^Unknown option '([^']+)'$/.exec(message);
    const hint = unknown && flagHint(spec.name, unknown[1]);
    const reason = hint ? `${message} (${hint})` : message;
    throw new CliUsageError((ambiguous && dashValueReason(spec, args, ambiguous[1])) ?? reason, spec);
  }
  if (values.help) return { flags: values, positionals, help: true };
  if (positionals.length < spec.positionals.length) {
    throw new CliUsageError(`missing argument ${spec.positionals[positionals.length]}`, spec);
  }
  if (positionals.length > spec.positionals.length) {
    const extra = positionals[spec.positionals.length];
    const hint = spec.flags.port && portHint(extra);
    throw new CliUsageError(`unexpected argument '${extra}'${hint ? ` (${hint})` : ''}`, spec);
  }
  return { flags: values, positionals, help: false };
}

/**
 * The reason for parseArgs's "Option '-x' argument is ambiguous": the argument after a flag that
 * takes a value starts with a dash. Its own advice is cut with the rest of its message, and "is
 * ambiguous" says neither what was wrong nor how to send `-hello`: say which, and how.
 */
function dashValueReason(spec: CommandSpec, args: string[], option: string): string | null {
  const allFlags: Record<string, FlagSpec> = { ...spec.flags, help: helpFlag };
  const long = option.startsWith('--')
    ? option.slice(2)
    : Object.entries(allFlags).find(([, flag]) => flag.short === option[1])?.[0];
  if (long === undefined) return null;
  // The option as given (`-kx` ends with `-x`), followed by the argument parseArgs refused.
  const given = (arg: string) =>
    arg === option || (!option.startsWith('--') && /^-[^-]/.test(arg) && arg.endsWith(option[1]));
  const end = args.indexOf('--');
  const at = args.findIndex((arg, i) => (end < 0 || i < end) && given(arg) && args[i + 1]?.startsWith('-'));
  if (at < 0) return null;
  const next = args[at + 1];
  if (next === '--' || isFlagOf(spec, next)) return `${option} needs a value before ${next}`;
  return `the value of ${option}, '${next}', starts with a dash: write it as --${long}=${next}`;
}

/**
 * `arg` names flags of the command: `--json`, `--wait=1`, `-H`, or a group of short ones (`-kL`);
 * `-hello` is no `-h`.
 */
function isFlagOf(spec: CommandSpec, arg: string): boolean {
  const flags = Object.entries({ ...spec.flags, help: helpFlag });
  const isShort = (c: string) => flags.some(([, flag]) => flag.short === c);
  return arg.startsWith('--')
    ? flags.some(([name]) => arg === `--${name}` || arg.startsWith(`--${name}=`))
    : arg.length > 1 && [...arg.slice(1)].every(isShort);
}

/**
 * `--timeout -1` as `--timeout=-1` for the numeric flags, when the argument after the flag is no
 * flag of the command (`-k` or `--json` after it still mean those flags: the value is missing).
 * `-kw -1` (boolean short flags grouped before the numeric one) is `-k --wait=-1`. Nothing after
 * a `--` is touched.
 */
function attachDashValues(spec: CommandSpec, argv: string[]): string[] {
  const allFlags: Record<string, FlagSpec> = { ...spec.flags, help: helpFlag };
  const flags = Object.entries(allFlags);
  const byShort = new Map(flags.filter(([, f]) => f.short).map(([name, f]) => [f.short!, name]));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') return out.concat(argv.slice(i));
    // Only a flag takes a value: `aw` or `-` (a positional, a flag's value) is no `-w`. A group
    // of short flags (`-kw`) ends with the one that takes the value, after boolean ones only.
    const group = !arg.startsWith('--') && arg.length > 2 && arg[0] === '-' ? arg.slice(1, -1) : '';
    const booleans = [...group].every((c) => {
      const flag = byShort.get(c);
      return flag !== undefined && allFlags[flag].type === 'boolean';
    });
    const name = arg.startsWith('--')
      ? arg.slice(2)
      : arg[0] === '-' && (arg.length === 2 || (group !== '' && booleans))
        ? byShort.get(arg[arg.length - 1])
        : undefined;
    const next = argv[i + 1];
    if (
      name !== undefined &&
      spec.flags[name]?.numeric === true &&
      next?.startsWith('-') &&
      next !== '--' &&
      !isFlagOf(spec, next)
    ) {
      if (group !== '') out.push(`-${group}`);
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** A TCP port: an integer 0..65535 (0 picks a free port). */
export function portFlag(
  spec: CommandSpec,
  value: string | undefined,
  required: boolean,
): number | undefined {
  if (value === undefined) {
    if (required) throw new CliUsageError('missing flag --port', spec);
    return undefined;
  }
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new CliUsageError(`--port must be an integer from 0 to 65535, got '${value}'`, spec);
  }
  return Number(value);
}

/**
 * The address a server listens on (default 127.0.0.1). An IPv6 address may be given in brackets,
 * as URLs write it (`[::1]`: getaddrinfo did not resolve it). An empty one is refused: Node takes
 * it as none and listens on every address (`--host "$HOST"` with HOST unset served the network).
 */
export function hostFlag(spec: CommandSpec, value: string | undefined): string {
  if (value === undefined) return '127.0.0.1';
  const host = /^\[([0-9A-Fa-f:.]*:[0-9A-Fa-f:.%\w]*)\]$/.exec(value)?.[1] ?? value;
  if (host.trim() === '' || /\s/.test(host)) {
    throw new CliUsageError(`--host must be an address or a name (0.0.0.0 for all), got '${value}'`, spec);
  }
  return host;
}

/**
 * A duration in seconds (decimals allowed), returned in milliseconds. `positive`: 0 is refused
 * (a timeout of 0 means none to the library) and a fraction of a millisecond is 1 ms, not 0.
 */
export function secondsFlag(
  spec: CommandSpec,
  name: string,
  value: string | undefined,
  fallback: number,
  positive = false,
): number {
  if (value === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(value)) {
    throw new CliUsageError(`--${name} must be a number of seconds, got '${value}'`, spec);
  }
  if (positive && Number(value) === 0) {
    throw new CliUsageError(`--${name} must be more than 0 seconds, got '${value}'`, spec);
  }
  const ms = positive ? Math.max(1, Math.round(Number(value) * 1000)) : Math.round(Number(value) * 1000);
  // Node's timers hold a signed 32-bit count of milliseconds: a longer one fires after 1 ms
  // with a TimeoutOverflowWarning on stderr, so refuse it here instead.
  if (ms > MAX_TIMER_MS) {
    throw new CliUsageError(
      `--${name} must be at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds, got '${value}'`,
      spec,
    );
  }
  return ms;
}

/**
 * A size in bytes: an integer, or one with a K, M or G suffix (KiB, MiB, GiB). 0 is allowed: to
 * the library's maxPayload it means no limit. `fallback` when the flag is absent.
 */
export function bytesFlag(
  spec: CommandSpec,
  name: string,
  value: string | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const m = /^(\d{1,16})([KMG])?$/i.exec(value);
  const units: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
  const bytes = m === null ? Number.NaN : Number(m[1]) * (m[2] ? units[m[2].toLowerCase()] : 1);
  if (!Number.isSafeInteger(bytes)) {
    throw new CliUsageError(
      `--${name} must be a number of bytes (an integer, or with K, M or G: 64K, 1M), got '${value}'`,
      spec,
    );
  }
  return bytes;
}

/** The library's default maxPayload (ws's too): 100 MiB, on both ends of a connection. */
export const DEFAULT_MAX_MESSAGE = 100 * 1024 * 1024;

/** The longest delay setTimeout takes (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function stringList(value: FlagValue): string[] {
  if (value === undefined || typeof value === 'boolean') return [];
  return typeof value === 'string' ? [value] : value.filter((v): v is string => typeof v === 'string');
}

export function stringFlag(value: FlagValue): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
