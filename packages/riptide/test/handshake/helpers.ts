import { expect } from 'vitest';
import { HandshakeError } from '../../src/core/errors.js';
import {
  HANDSHAKE_ERRORS,
  type HandshakeErrorCode,
  handshakeErrorCodeOf,
} from '../../src/handshake/errors.js';

/** A head from lines: each line + CRLF, then the empty line. */
export function head(...lines: string[]): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** The handshake a browser sends (RFC 6455 1.3's example key). */
export const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/**
 * Assert a failure result: class, code, status and the exact message (the row's, with `detail`
 * in parentheses, or `message` whole).
 */
export function expectFailure(
  result: { ok: boolean; error?: unknown },
  code: HandshakeErrorCode,
  opts: { status?: number; detail?: string; message?: string } = {},
): HandshakeError {
  expect(result.ok).toBe(false);
  const error = result.error as HandshakeError;
  expect(error).toBeInstanceOf(HandshakeError);
  // ws reports handshake failures as plain Errors; riptide's class adds code and status.
  expect(error).toBeInstanceOf(Error);
  expect(error.name).toBe('Error');
  expect(error.code).toBe(handshakeErrorCodeOf(code));
  const [status, message] = HANDSHAKE_ERRORS[code];
  expect(error.status).toBe(opts.status ?? status);
  expect(error.message).toBe(
    opts.message ?? (opts.detail === undefined ? message : `${message} (${opts.detail})`),
  );
  return error;
}

/**
 * Complexity by counted work, not by time (a timed ratio fails on a loaded machine): `fn` runs
 * once on an input of size `n` and once on 16n while every character or byte the parser reads
 * is counted, and the ratio of the two counts is returned. The count is a cost model of the
 * primitives the handshake parsers use:
 *
 * - strings: each `String.prototype` call costs 1 plus the characters it produces (slice,
 *   toLowerCase...) or scans (indexOf: from the start position to the match; includes, split
 *   and the like: the whole string);
 * - Buffers: the input is wrapped in a Proxy; each indexed read costs 1, `toString` the bytes
 *   it decodes, `indexOf` the bytes it scans, and `subarray` gives a counted view.
 *
 * Linear code gives a ratio of about 16 (a little more from constant work), quadratic code
 * about 256. Deterministic: the same code and input always give the same figure.
 */
/** The input growth factor of workGrowth(). */
export const GROWTH = 16;
/** The bound tests put on workGrowth(): linear is 16 plus constant work, quadratic ~256. */
export const LINEAR_BOUND = 20;

/** What one String.prototype call costs beyond 1: the characters it produces or scans. */
function stringCost(name: string, s: string, args: unknown[], result: unknown): number {
  if (typeof result === 'string') return result.length;
  if (name === 'indexOf') {
    const from = Math.max(0, Number(args[1] ?? 0) || 0);
    return (result === -1 ? s.length : (result as number) + String(args[0]).length) - from;
  }
  if (name === 'startsWith' || name === 'endsWith') return String(args[0]).length;
  if (name === 'charCodeAt' || name === 'codePointAt' || name === 'at') return 0;
  return s.length; // includes, split, localeCompare...: the whole string at worst
}

/** Steps counted while `fn(input)` runs, with the cost model described above. */
export function countWork<T>(fn: (input: T) => unknown, input: T): number {
  let steps = 0;
  const proto = String.prototype as unknown as Record<string, unknown>;
  const saved = new Map<string, (...args: unknown[]) => unknown>();
  for (const name of Object.getOwnPropertyNames(String.prototype)) {
    const original = proto[name];
    if (
      typeof original !== 'function' ||
      name === 'constructor' ||
      name === 'toString' ||
      name === 'valueOf'
    ) {
      continue;
    }
    saved.set(name, original as (...args: unknown[]) => unknown);
  }
  for (const [name, original] of saved) {
    proto[name] = function counted(this: string, ...args: unknown[]) {
      const result = original.apply(this, args);
      steps += 1 + stringCost(name, this, args, result);
      return result;
    };
  }
  try {
    fn(Buffer.isBuffer(input) ? (countedBuffer(input, (k) => (steps += k)) as T) : input);
  } finally {
    for (const [name, original] of saved) proto[name] = original;
  }
  return steps;
}

function countedBuffer(buf: Buffer, add: (k: number) => void): Buffer {
  return new Proxy(buf, {
    get(target, key) {
      // No String.prototype method in here: they are being counted.
      const index = typeof key === 'string' ? Number(key) : Number.NaN;
      if (Number.isInteger(index)) {
        add(1);
        return target[index];
      }
      if (key === 'toString') {
        return (encoding?: BufferEncoding, start = 0, end = target.length) => {
          add(1 + Math.max(0, Math.min(end, target.length) - start));
          return target.toString(encoding, start, end);
        };
      }
      if (key === 'indexOf') {
        return (needle: Buffer | string | number, from = 0) => {
          const i = target.indexOf(needle, from);
          add(1 + (i === -1 ? target.length : i + 1) - Math.max(0, from));
          return i;
        };
      }
      if (key === 'subarray') {
        return (start?: number, end?: number) => {
          add(1);
          return countedBuffer(target.subarray(start, end), add);
        };
      }
      const value = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** countWork on `make(16n)` divided by countWork on `make(n)`; the inputs are built first. */
export function workGrowth<T>(make: (n: number) => T, fn: (input: T) => unknown, n: number): number {
  const small = make(n);
  const large = make(GROWTH * n);
  return countWork(fn, large) / countWork(fn, small);
}

/**
 * A response head, read plainly (the library parses only requests; clients use node:http's
 * parser): status code, reason phrase, headers with lowercase names (repeated ones joined).
 */
export function readResponseHead(bytes: Buffer): {
  statusCode: number;
  statusMessage: string;
  headers: Record<string, string>;
} {
  const text = bytes.toString('latin1');
  const [statusLine, ...lines] = text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
  const [, code, ...reason] = statusLine.split(' ');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { statusCode: Number(code), statusMessage: reason.join(' '), headers };
}
