import { expect } from 'vitest';
import { HandshakeError } from '../../src/core/errors.js';
import { HANDSHAKE_ERRORS, type HandshakeErrorCode } from '../../src/handshake/errors.js';

/** A head from lines: each line + CRLF, then the empty line. */
export function head(...lines: string[]): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** The handshake a browser sends (RFC 6455 1.3's example key). */
export const RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** Assert a failure result: class, code, status and the exact message. */
export function expectFailure(
  result: { ok: boolean; error?: unknown },
  code: HandshakeErrorCode,
  opts: { status?: number; detail?: string } = {},
): HandshakeError {
  expect(result.ok).toBe(false);
  const error = result.error as HandshakeError;
  expect(error).toBeInstanceOf(HandshakeError);
  expect(error.name).toBe('HandshakeError');
  expect(error.code).toBe(code);
  const [status, message] = HANDSHAKE_ERRORS[code];
  expect(error.status).toBe(opts.status ?? status);
  expect(error.message).toBe(opts.detail === undefined ? message : `${message} (${opts.detail})`);
  return error;
}

/**
 * Loose complexity check: how much the best-of-`runs` time of `fn` grows when the input grows
 * 16x (from `n` to 16n). Linear code gives about 16, quadratic about 256; tests assert < 64,
 * which leaves room for a noisy shared machine and still fails any superlinear algorithm.
 * Inputs are built before timing. Returns the ratio so a failing assertion shows it.
 */
/** The input growth factor of growthRatio(). */
export const GROWTH = 16;
/** The bound tests put on growthRatio(): linear is ~16, quadratic ~256. */
export const LINEAR_BOUND = 64;

export function growthRatio<T>(
  make: (n: number) => T,
  fn: (input: T) => unknown,
  n: number,
  runs = 5,
): number {
  const best = (input: T) => {
    let min = Number.POSITIVE_INFINITY;
    for (let r = 0; r < runs; r++) {
      const t0 = process.hrtime.bigint();
      fn(input);
      const dt = Number(process.hrtime.bigint() - t0);
      if (dt < min) min = dt;
    }
    return Math.max(min, 1);
  };
  const small = make(n);
  const large = make(GROWTH * n);
  best(small); // warm up the JIT
  return best(large) / best(small);
}
