/**
 * The server commands' Origin check (src/origin.ts) as a table: which pages a server on loopback
 * or on another address accepts, with and without --allow-origin. servers.test.ts checks the
 * same through the commands (403, the log line, the flag).
 */
import { describe, expect, it } from 'vitest';
import type { CommandSpec } from '../src/args.js';
import { NOT_AN_ORIGIN, originPolicy, refusal, refusalLine } from '../src/origin.js';

const spec: CommandSpec = { name: 'echo', synopsis: '', brief: '', summary: '', positionals: [], flags: {} };
const on = (host: string, ...allow: string[]) => originPolicy(allow, host, spec);

describe('the Origin check of the server commands', () => {
  it('accepts clients without an Origin header (not a browser), whatever the policy', () => {
    expect(refusal(on('127.0.0.1'), undefined, 'anything')).toBeNull();
    expect(refusal(on('0.0.0.0'), undefined, undefined)).toBeNull();
  });

  it('on loopback accepts local pages only, by the Origin, not the Host (DNS rebinding)', () => {
    const policy = on('127.0.0.1');
    for (const origin of [
      'http://localhost:3000',
      'https://app.localhost',
      'http://127.0.0.1:8080',
      'http://127.1.2.3',
      'http://[::1]:5173',
      'HTTP://LOCALHOST:3000',
    ])
      expect(refusal(policy, origin, '127.0.0.1:8080'), origin).toBeNull();
    expect(refusal(policy, 'https://evil.example', '127.0.0.1:8080')).toBe('not a local page');
    // A rebinding page: its name resolves to 127.0.0.1, so Host matches its Origin.
    expect(refusal(policy, 'http://evil.example:8080', 'evil.example:8080')).toBe('not a local page');
    expect(refusal(policy, 'http://localhost.evil.example', '127.0.0.1:8080')).toBe('not a local page');
    expect(refusal(policy, 'null', '127.0.0.1:8080')).toMatch(/^an opaque origin/);
    expect(refusal(policy, 'not an origin', '127.0.0.1:8080')).toBe(NOT_AN_ORIGIN);
    for (const host of ['localhost', '::1', '127.0.0.2'])
      expect(refusal(on(host), 'https://evil.example', host)).toBe('not a local page');
  });

  it('on another address accepts pages whose host and port are the Host the request names', () => {
    const policy = on('0.0.0.0');
    expect(refusal(policy, 'http://box.lan:8080', 'box.lan:8080')).toBeNull();
    expect(refusal(policy, 'http://BOX.lan:8080', 'box.LAN:8080')).toBeNull();
    expect(refusal(policy, 'https://box.lan', 'box.lan:443')).toBeNull(); // the default port
    expect(refusal(policy, 'http://box.lan:8081', 'box.lan:8080')).toBe('not a page of this host');
    expect(refusal(policy, 'http://localhost:3000', '192.168.1.5:8080')).toBe('not a page of this host');
    expect(refusal(policy, 'http://box.lan:8080', undefined)).toBe('not a page of this host');
    expect(refusal(policy, 'http://box.lan:8080', 'bad host/')).toBe('not a page of this host');
  });

  it('--allow-origin widens it: named origins (as a browser writes them), null, or * for any', () => {
    const policy = on('127.0.0.1', 'HTTPS://App.Example:443', 'null');
    expect(refusal(policy, 'https://app.example', '127.0.0.1:1')).toBeNull();
    expect(refusal(policy, 'null', '127.0.0.1:1')).toBeNull();
    expect(refusal(policy, 'http://app.example', '127.0.0.1:1')).toBe('not a local page');
    expect(refusal(policy, 'http://localhost:3000', '127.0.0.1:1')).toBeNull(); // still
    const any = on('0.0.0.0', '*');
    for (const origin of ['https://evil.example', 'null', 'not an origin'])
      expect(refusal(any, origin, 'x:1')).toBeNull();
  });

  it('refuses a flag value that is not an origin, naming the flag and *', () => {
    for (const value of ['', 'https://a.test/', 'a.test', '**', 'https://a.test:70000'])
      expect(() => on('127.0.0.1', value)).toThrow(
        `--allow-origin must be an origin (scheme://host[:port], e.g. https://example.com) or null, or '*' for any, got ${JSON.stringify(value)}`,
      );
  });

  it('logs the peer, the origin, why, and the flag that would accept it', () => {
    expect(refusalLine('127.0.0.1:5', 'https://evil.example', 'not a local page')).toBe(
      'refused 127.0.0.1:5: origin https://evil.example, not a local page (--allow-origin https://evil.example accepts it)',
    );
    expect(refusalLine('127.0.0.1:5', 'x y', NOT_AN_ORIGIN)).toBe(
      'refused 127.0.0.1:5: origin x y, not an origin',
    );
  });
});
