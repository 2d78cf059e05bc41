import { describe, expect, it } from 'vitest';
import { HandshakeError, RiptideError } from '../../src/core/errors.js';
import { HANDSHAKE_ERROR_CODES, HANDSHAKE_ERRORS, handshakeError } from '../../src/handshake/errors.js';

describe('Handshake error table', () => {
  it('lists every code, all in the WS_ERR_HANDSHAKE_ family but the two redirect codes', () => {
    expect(HANDSHAKE_ERROR_CODES).toEqual(Object.keys(HANDSHAKE_ERRORS));
    expect(Object.isFrozen(HANDSHAKE_ERROR_CODES)).toBe(true);
    // The redirect codes predate the table and are a public contract: they keep their names.
    for (const code of HANDSHAKE_ERROR_CODES)
      expect(code).toMatch(/^(WS_ERR_HANDSHAKE_[A-Z_]+|WS_ERR_MAX_REDIRECTS|WS_ERR_REDIRECT_TO_UNIX)$/);
    expect([...HANDSHAKE_ERROR_CODES].sort()).toEqual(
      [
        'WS_ERR_HANDSHAKE_METHOD',
        'WS_ERR_HANDSHAKE_HTTP_VERSION',
        'WS_ERR_HANDSHAKE_MISSING_HOST',
        'WS_ERR_HANDSHAKE_UPGRADE',
        'WS_ERR_HANDSHAKE_CONNECTION',
        'WS_ERR_HANDSHAKE_KEY',
        'WS_ERR_HANDSHAKE_VERSION',
        'WS_ERR_HANDSHAKE_PATH',
        'WS_ERR_HANDSHAKE_PROTOCOL',
        'WS_ERR_HANDSHAKE_EXTENSIONS',
        'WS_ERR_HANDSHAKE_ORIGIN',
        'WS_ERR_HANDSHAKE_BODY',
        'WS_ERR_HANDSHAKE_HEADERS_TOO_LARGE',
        'WS_ERR_HANDSHAKE_TOO_MANY_HEADERS',
        'WS_ERR_HANDSHAKE_MALFORMED',
        'WS_ERR_HANDSHAKE_UPGRADE_REQUIRED',
        'WS_ERR_HANDSHAKE_CONNECT_METHOD',
        'WS_ERR_HANDSHAKE_CONNECT_PROTOCOL',
        'WS_ERR_HANDSHAKE_CONNECT_PSEUDO',
        'WS_ERR_HANDSHAKE_STATUS',
        'WS_ERR_HANDSHAKE_ACCEPT',
        'WS_ERR_HANDSHAKE_UNEXPECTED_PROTOCOL',
        'WS_ERR_HANDSHAKE_UNREQUESTED_PROTOCOL',
        'WS_ERR_HANDSHAKE_NO_PROTOCOL',
        'WS_ERR_HANDSHAKE_EXTENSION_RESPONSE',
        'WS_ERR_HANDSHAKE_UNREQUESTED_EXTENSION',
        'WS_ERR_HANDSHAKE_NO_EXTENSION_REQUESTED',
        'WS_ERR_HANDSHAKE_NO_EXTENDED_CONNECT',
        'WS_ERR_MAX_REDIRECTS',
        'WS_ERR_REDIRECT_TO_UNIX',
      ].sort(),
    );
  });

  it('gives server-side codes a 4xx status and client-only codes 0', () => {
    const statuses = Object.fromEntries(HANDSHAKE_ERROR_CODES.map((c) => [c, HANDSHAKE_ERRORS[c][0]]));
    expect(statuses).toEqual({
      WS_ERR_HANDSHAKE_METHOD: 405,
      WS_ERR_HANDSHAKE_HTTP_VERSION: 400,
      WS_ERR_HANDSHAKE_MISSING_HOST: 400,
      WS_ERR_HANDSHAKE_UPGRADE: 400,
      WS_ERR_HANDSHAKE_CONNECTION: 400,
      WS_ERR_HANDSHAKE_KEY: 400,
      WS_ERR_HANDSHAKE_VERSION: 400,
      WS_ERR_HANDSHAKE_PATH: 400,
      WS_ERR_HANDSHAKE_PROTOCOL: 400,
      WS_ERR_HANDSHAKE_EXTENSIONS: 400,
      WS_ERR_HANDSHAKE_ORIGIN: 403,
      WS_ERR_HANDSHAKE_BODY: 400,
      WS_ERR_HANDSHAKE_HEADERS_TOO_LARGE: 431,
      WS_ERR_HANDSHAKE_TOO_MANY_HEADERS: 431,
      WS_ERR_HANDSHAKE_MALFORMED: 400,
      WS_ERR_HANDSHAKE_UPGRADE_REQUIRED: 426,
      WS_ERR_HANDSHAKE_CONNECT_METHOD: 405,
      WS_ERR_HANDSHAKE_CONNECT_PROTOCOL: 501,
      WS_ERR_HANDSHAKE_CONNECT_PSEUDO: 400,
      WS_ERR_HANDSHAKE_STATUS: 0,
      WS_ERR_HANDSHAKE_ACCEPT: 0,
      WS_ERR_HANDSHAKE_UNEXPECTED_PROTOCOL: 0,
      WS_ERR_HANDSHAKE_UNREQUESTED_PROTOCOL: 0,
      WS_ERR_HANDSHAKE_NO_PROTOCOL: 0,
      WS_ERR_HANDSHAKE_EXTENSION_RESPONSE: 0,
      WS_ERR_HANDSHAKE_UNREQUESTED_EXTENSION: 0,
      WS_ERR_HANDSHAKE_NO_EXTENSION_REQUESTED: 0,
      WS_ERR_HANDSHAKE_NO_EXTENDED_CONNECT: 0,
      WS_ERR_MAX_REDIRECTS: 0,
      WS_ERR_REDIRECT_TO_UNIX: 0,
    });
  });

  it('creates HandshakeErrors with the table message, an optional detail and status override', () => {
    const e = handshakeError('WS_ERR_HANDSHAKE_KEY');
    expect(e).toBeInstanceOf(HandshakeError);
    expect(e).toBeInstanceOf(RiptideError);
    expect(e.name).toBe('Error');
    expect(e.code).toBe('WS_ERR_HANDSHAKE_KEY');
    expect(e.status).toBe(400);
    expect(e.message).toBe('Missing or invalid Sec-WebSocket-Key header');

    const d = handshakeError('WS_ERR_HANDSHAKE_STATUS', '404');
    expect(d.message).toBe('Unexpected server response (404)');
    expect(d.status).toBe(0);

    const c = handshakeError('WS_ERR_HANDSHAKE_UPGRADE', undefined, 0);
    expect(c.status).toBe(0);
    expect(c.message).toBe('Invalid Upgrade header');
  });
});
