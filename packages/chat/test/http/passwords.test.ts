/**
 * server/http/passwords.ts: scrypt hashes stored self-describing, their check, what may register,
 * and the check that spends the same time on a name without an account.
 */
import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import {
  credentialProblem,
  hashPassword,
  verifyNothing,
  verifyPassword,
} from '../../src/server/http/passwords.js';

// scrypt as node:crypto has it, but counted, and refusing a call that would need more than 64 MiB
// or about a second: a test of a tampered record must not be the one that allocates gigabytes.
const scryptCalls = vi.hoisted(() => ({ count: 0, expensive: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  const scrypt = (...args: Parameters<typeof real.scrypt>) => {
    scryptCalls.count++;
    const options = args[3] as crypto.ScryptOptions;
    const callback = args[args.length - 1] as (err: Error | null, key: Buffer) => void;
    const cost = (options.N ?? 16384) * (options.r ?? 8) * (options.p ?? 1);
    if (cost > 2 ** 19 || (args[2] as number) > 1024) {
      scryptCalls.expensive++;
      callback(new Error('test guard: an expensive scrypt call'), Buffer.alloc(0));
      return;
    }
    (real.scrypt as (...a: unknown[]) => void)(...args);
  };
  return { ...real, scrypt, default: { ...real, scrypt } };
});

describe('hashPassword and verifyPassword', () => {
  it('stores scrypt$N$r$p$salt$hash, with a fresh 16-byte salt each time', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
  });

  it('accepts the password and nothing else', async () => {
    const stored = await hashPassword('correct horse');
    expect(await verifyPassword('correct horse', stored)).toBe(true);
    expect(await verifyPassword('correct hors', stored)).toBe(false);
    expect(await verifyPassword('Correct horse', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('reads the parameters from the stored value (they can be raised later)', async () => {
    const stored = await hashPassword('pw-12345');
    // The same key under other parameters is another key: the stored N is the one used.
    const parts = stored.split('$');
    parts[1] = '1024';
    expect(await verifyPassword('pw-12345', parts.join('$'))).toBe(false);
  });

  it('refuses a stored value that is not a scrypt record', async () => {
    const stored = await hashPassword('pw-12345');
    expect(await verifyPassword('pw-12345', '')).toBe(false);
    expect(await verifyPassword('pw-12345', stored.replace(/^scrypt/, 'bcrypt'))).toBe(false);
    expect(await verifyPassword('pw-12345', `${stored}$extra`)).toBe(false);
    expect(await verifyPassword('pw-12345', 'pw-12345')).toBe(false);
  });

  it('refuses every password for a record whose hash is empty (a zero-length key always matched)', async () => {
    const [scheme, n, r, p, salt] = (await hashPassword('pw-12345')).split('$');
    const truncated = [scheme, n, r, p, salt, ''].join('$');
    expect(await verifyPassword('pw-12345', truncated)).toBe(false);
    expect(await verifyPassword('anything at all', truncated)).toBe(false);
  });
});

describe('verifyPassword on a damaged or tampered record', () => {
  /** The record of `password` with fields replaced: 1 N, 2 r, 3 p, 4 salt, 5 hash. */
  async function tampered(password: string, fields: Record<number, string>): Promise<string> {
    const parts = (await hashPassword(password)).split('$');
    for (const [i, value] of Object.entries(fields)) parts[Number(i)] = value;
    return parts.join('$');
  }

  it.each([
    ['N not a power of two', { 1: '1000' }],
    ['N of 0', { 1: '0' }],
    ['N of 1', { 1: '1' }],
    ['N not a number', { 1: 'lots' }],
    ['N written as an exponent', { 1: '16384e0' }],
    ['N with a sign', { 1: '+16384' }],
    ['r of 0', { 2: '0' }],
    ['p of 0', { 3: '0' }],
    ['r over what scrypt accepts', { 2: String(2 ** 31) }],
    ['an empty salt', { 4: '' }],
  ])('answers false, never throws, for %s', async (_what, fields) => {
    const stored = await tampered('pw-12345', fields);
    await expect(verifyPassword('pw-12345', stored)).resolves.toBe(false);
  });

  it.each([
    ['a giant N (1 GiB of memory)', { 1: String(2 ** 20) }],
    ['a giant N past maxmem', { 1: String(2 ** 40) }],
    ['a giant r', { 2: '1048576' }],
    ['a giant p (minutes of work)', { 3: '1048576' }],
    ['a giant hash (key length)', { 5: Buffer.alloc(1 << 20, 1).toString('base64url') }],
  ])('answers false for %s without running scrypt', async (_what, fields) => {
    const stored = await tampered('pw-12345', fields);
    scryptCalls.count = 0;
    scryptCalls.expensive = 0;
    await expect(verifyPassword('pw-12345', stored)).resolves.toBe(false);
    expect(scryptCalls.count).toBe(0);
    expect(scryptCalls.expensive).toBe(0);
  });

  it('still accepts a record with smaller parameters than it writes (written before they were raised)', async () => {
    const salt = crypto.randomBytes(16);
    const key = crypto.scryptSync('pw-12345', salt, 32, { N: 1024, r: 8, p: 1 });
    const stored = `scrypt$1024$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
    expect(await verifyPassword('pw-12345', stored)).toBe(true);
    expect(await verifyPassword('pw-12346', stored)).toBe(false);
  });
});

describe('verifyNothing', () => {
  it('checks against a dummy hash and always answers false', async () => {
    expect(await verifyNothing('whatever')).toBe(false);
    expect(await verifyNothing('')).toBe(false);
  });
});

describe('credentialProblem', () => {
  it('passes 1-24 letters, digits, - or _ with an 8-256 character password', () => {
    expect(credentialProblem('a', '12345678')).toBeNull();
    expect(credentialProblem('Ann_the-2nd', 'x'.repeat(256))).toBeNull();
    expect(credentialProblem('x'.repeat(24), 'password')).toBeNull();
  });

  it.each([
    ['an empty name', ''],
    ['a 25-character name', 'x'.repeat(25)],
    ['a space', 'ann b'],
    ['an @', '@ann'],
    ['a non-ASCII letter', 'zoë'],
    ['a trailing newline', 'ann\n'],
    ['a name that is not a string', 42],
  ])('refuses %s as a name', (_what, name) => {
    expect(credentialProblem(name, 'long enough')).toBe('name must be 1-24 letters, digits, - or _');
  });

  it.each([
    ['7 characters', '1234567'],
    ['257 characters', 'x'.repeat(257)],
    ['a password that is not a string', 12345678],
    ['no password', undefined],
  ])('refuses a password of %s', (_what, password) => {
    expect(credentialProblem('ann', password)).toBe('password must be 8-256 characters');
  });
});
