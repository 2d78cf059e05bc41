/**
 * node/tls-keys.ts: the tls.connect options a client WebSocket passes through. The list is data;
 * what is checked here is that it is a list of real, distinct TLS options and names none of the
 * connection's own (host, port, path, ...), which the HTTP/2 session pool keys on separately.
 * That a client accepts each of them is in options.test.ts.
 */
import type tls from 'node:tls';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { TLS_KEYS } from '../../src/node/tls-keys.js';

describe('TLS_KEYS', () => {
  it('names each option once', () => {
    expect(new Set(TLS_KEYS).size).toBe(TLS_KEYS.length);
    expect(TLS_KEYS.length).toBeGreaterThan(0);
  });

  it("every key is an option of Node's tls.connect (checked by the type checker: a typo fails npm run typecheck)", () => {
    // tls.connect passes highWaterMark to its TLSSocket (node's lib/_tls_wrap.js); @types/node 20
    // does not list it.
    expectTypeOf<(typeof TLS_KEYS)[number]>().toExtend<keyof tls.ConnectionOptions | 'highWaterMark'>();
    for (const key of TLS_KEYS) expect(key).toMatch(/^[a-zA-Z][a-zA-Z0-9]*$/);
  });

  it('holds the options that decide whom the connection trusts and proves itself to', () => {
    // Two WebSockets differing in one of these must not share an HTTP/2 session.
    for (const key of [
      'ca',
      'cert',
      'key',
      'pfx',
      'passphrase',
      'servername',
      'rejectUnauthorized',
      'checkServerIdentity',
    ])
      expect(TLS_KEYS, key).toContain(key);
  });

  it('names none of the addressing options (the origin and the transport are keyed apart)', () => {
    for (const key of [
      'host',
      'hostname',
      'port',
      'path',
      'socket',
      'localAddress',
      'family',
      'lookup',
      'timeout',
    ])
      expect(TLS_KEYS as readonly string[], key).not.toContain(key);
  });
});
