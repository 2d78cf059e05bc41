/**
 * Sign-in backoff per account (the arithmetic both throttles share): the first `freeFailures`
 * failures cost nothing; after that each attempt must wait baseMs, 2 baseMs, 4 baseMs ... (at most
 * maxMs) after the previous failure. A success clears the count; so does forgetMs without failures.
 * The wait applies whether or not the name exists, so it reveals nothing about accounts.
 */
import type { SignInBackoff } from '../ports.js';

export const DEFAULT_SIGN_IN_BACKOFF: SignInBackoff = {
  freeFailures: 5,
  baseMs: 1000,
  maxMs: 5 * 60 * 1000,
  forgetMs: 3600 * 1000,
};

/** The wait before the next attempt after `failures` failures, the last one at `last`. */
export function signInWait(policy: SignInBackoff, failures: number, last: number, now: number): number {
  if (failures < policy.freeFailures || now - last >= policy.forgetMs) return 0;
  const exponent = Math.min(30, failures - policy.freeFailures);
  const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  return Math.max(0, last + delay - now);
}

/** Account names are case-insensitive: one counter per lower-cased name. */
export function accountKey(name: string): string {
  return name.toLowerCase();
}
