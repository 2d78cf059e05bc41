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
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, KEYLEN, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [n, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], 'base64url');
  const expected = Buffer.from(parts[5], 'base64url');
  // A truncated record must not match: a zero-length key equals every password's (and a short one
  // is guessed quickly). hashPassword writes KEYLEN bytes.
  if (expected.length < 16) return false;
  const key = await scryptAsync(password, salt, expected.length, { N: n, r, p, maxmem: 256 * n * r });
  return timingSafeEqual(key, expected);
}

/** Why a name/password pair cannot register, or null if it can. */
export function credentialProblem(name: unknown, password: unknown): string | null {
  if (typeof name !== 'string' || !USER_NAME.test(name)) {
    return 'name must be 1-24 letters, digits, - or _';
  }
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
