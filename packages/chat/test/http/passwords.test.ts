/**
 * server/http/passwords.ts: scrypt hashes stored self-describing, their check, what may register,
 * and the check that spends the same time on a name without an account.
 */
import { describe, expect, it } from 'vitest';
import {
  credentialProblem,
  hashPassword,
  verifyNothing,
  verifyPassword,
} from '../../src/server/http/passwords.js';

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
