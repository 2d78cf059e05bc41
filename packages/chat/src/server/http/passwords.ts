/**
 * Passwords: scrypt (node:crypto) with a random 16-byte salt, stored self-describing as
 * `scrypt$N$r$p$salt$hash` (base64url) so parameters can be raised later without breaking old hashes.
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { MAX_PASSWORD, MIN_PASSWORD, USER_NAME } from '../../shared/protocol.js';

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;
const SALT_BYTES = 16;

function scryptAsync(
  password: string,
  salt: Buffer,
  keylen: number,
  options: ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await scryptAsync(password, salt, KEYLEN, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** A decimal integer as written by hashPassword (no sign, exponent, fraction or spaces), or NaN. */
function parameter(text: string): number {
  return /^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : Number.NaN;
}

/**
 * Whether a stored record's parameters are ones hashPassword writes (these constants or smaller,
 * for records written before they were raised), checked before scrypt runs: a tampered or
 * damaged record must neither throw (N not a power of two, r or p of 0) nor make one sign-in
 * allocate gigabytes or run for minutes (a huge N, r, p or key length). A record written by a
 * later version with larger parameters needs these constants raised first.
 */
function withinLimits(n: number, r: number, p: number, salt: Buffer, key: Buffer): boolean {
  const powerOfTwo = n >= 2 && (n & (n - 1)) === 0;
  return (
    powerOfTwo &&
    n <= N &&
    r >= 1 &&
    r <= R &&
    p >= 1 &&
    p <= P &&
    salt.length === SALT_BYTES &&
    // A truncated record must not match: a zero-length key equals every password's (and a short
    // one is guessed quickly).
    key.length === KEYLEN
  );
}

/**
 * Whether `password` is the one `stored` was made from. False (never a throw) for a record that is
 * not one hashPassword writes, so a damaged database fails sign-ins instead of answering 500.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(parameter);
  const salt = Buffer.from(parts[4], 'base64url');
  const expected = Buffer.from(parts[5], 'base64url');
  if (!withinLimits(n, r, p, salt, expected)) return false;
  let key: Buffer;
  try {
    // scrypt needs about 128 * N * r bytes; twice that leaves room (32 MiB at most for the
    // parameters allowed above).
    key = await scryptAsync(password, salt, KEYLEN, { N: n, r, p, maxmem: 256 * n * r });
  } catch {
    return false;
  }
  return timingSafeEqual(key, expected);
}

/** Why a name/password pair cannot register, or null if it can. */
export function credentialProblem(name: unknown, password: unknown): string | null {
  if (typeof name !== 'string' || !USER_NAME.test(name)) {
    return 'name must be 1-24 letters, digits, - or _';
  }
  return passwordProblem(password);
}

/** Why a password cannot be an account's (sign-up, a password change), or null if it can. */
export function passwordProblem(password: unknown): string | null {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD || password.length > MAX_PASSWORD) {
    return `password must be ${MIN_PASSWORD}-${MAX_PASSWORD} characters`;
  }
  return null;
}

let dummy: Promise<string> | undefined;

/**
 * Spends the time of one password check on a name that has no account, so that a failed sign-in
 * takes as long whether or not the name exists (the answer is the same too).
 */
export async function verifyNothing(password: string): Promise<false> {
  dummy ??= hashPassword(randomBytes(16).toString('base64url'));
  await verifyPassword(password, await dummy);
  return false;
}
