import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HandshakeError, RiptideError } from '../../src/core/errors.js';
import {
  clientHandshakeError,
  HANDSHAKE_ERROR_CODES,
  HANDSHAKE_ERRORS,
  handshakeError,
  handshakeErrorCodeOf,
  unexpectedStatusError,
} from '../../src/handshake/errors.js';

describe('Handshake error table', () => {
  it('lists every row; codes are in the WS_ERR_HANDSHAKE_ family but the redirect and socket ones', () => {
    expect(HANDSHAKE_ERROR_CODES).toEqual(Object.keys(HANDSHAKE_ERRORS));
    expect(Object.isFrozen(HANDSHAKE_ERROR_CODES)).toBe(true);
    // The redirect and socket codes predate the table and are a public contract: they keep
    // their names.
    for (const key of HANDSHAKE_ERROR_CODES)
      expect(handshakeErrorCodeOf(key)).toMatch(
        /^(WS_ERR_HANDSHAKE_[A-Z_]+|WS_ERR_MAX_REDIRECTS|WS_ERR_REDIRECT_(?:TO_UNIX|OTHER_SESSION)|WS_ERR_SOCKET_CLOSED)$/,
      );
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
        'WS_ERR_HANDSHAKE_TIMEOUT',
        'WS_ERR_HANDSHAKE_ABORTED',
        'WS_ERR_HANDSHAKE_STREAM_CLOSED',
        'WS_ERR_HANDSHAKE_STREAM_CLOSED_AFTER_ANSWER',
        'WS_ERR_MAX_REDIRECTS',
        'WS_ERR_REDIRECT_TO_UNIX',
        'WS_ERR_REDIRECT_OTHER_SESSION',
        'WS_ERR_SOCKET_CLOSED',
        'WS_ERR_SOCKET_CLOSED_COMPRESSING',
        'WS_ERR_SOCKET_CLOSED_READING_BLOB',
      ].sort(),
    );
  });

  it("reports a finer-named row under the code of another row, with that row's status", () => {
    const shared = Object.fromEntries(
      HANDSHAKE_ERROR_CODES.filter((k) => handshakeErrorCodeOf(k) !== k).map((k) => [
        k,
        handshakeErrorCodeOf(k),
      ]),
    );
    expect(shared).toEqual({
      WS_ERR_HANDSHAKE_STREAM_CLOSED: 'WS_ERR_HANDSHAKE_ABORTED',
      WS_ERR_HANDSHAKE_STREAM_CLOSED_AFTER_ANSWER: 'WS_ERR_HANDSHAKE_ABORTED',
      WS_ERR_SOCKET_CLOSED_COMPRESSING: 'WS_ERR_SOCKET_CLOSED',
      WS_ERR_SOCKET_CLOSED_READING_BLOB: 'WS_ERR_SOCKET_CLOSED',
    });
    for (const [key, code] of Object.entries(shared)) {
      const target = code as keyof typeof HANDSHAKE_ERRORS;
      expect(HANDSHAKE_ERROR_CODES).toContain(target);
      expect(handshakeErrorCodeOf(target)).toBe(target);
      expect(HANDSHAKE_ERRORS[key as keyof typeof HANDSHAKE_ERRORS][0]).toBe(HANDSHAKE_ERRORS[target][0]);
    }
  });

  it('gives every row its own message (the message tells the rows of one code apart)', () => {
    const messages = HANDSHAKE_ERROR_CODES.map((k) => HANDSHAKE_ERRORS[k][1]);
    expect(new Set(messages).size).toBe(messages.length);
  });

  it('keeps the messages ws 8 gives for the same failures, word for word', () => {
    // ws 8.x lib/websocket.js and lib/sender.js; asserted against a real ws where a test can
    // provoke the failure (test/node/client.test.ts, websocket.test.ts).
    expect({
      WS_ERR_HANDSHAKE_TIMEOUT: HANDSHAKE_ERRORS.WS_ERR_HANDSHAKE_TIMEOUT[1],
      WS_ERR_HANDSHAKE_ABORTED: HANDSHAKE_ERRORS.WS_ERR_HANDSHAKE_ABORTED[1],
      WS_ERR_MAX_REDIRECTS: HANDSHAKE_ERRORS.WS_ERR_MAX_REDIRECTS[1],
      WS_ERR_SOCKET_CLOSED_COMPRESSING: HANDSHAKE_ERRORS.WS_ERR_SOCKET_CLOSED_COMPRESSING[1],
      WS_ERR_SOCKET_CLOSED_READING_BLOB: HANDSHAKE_ERRORS.WS_ERR_SOCKET_CLOSED_READING_BLOB[1],
      status: unexpectedStatusError(404).message,
    }).toEqual({
      WS_ERR_HANDSHAKE_TIMEOUT: 'Opening handshake has timed out',
      WS_ERR_HANDSHAKE_ABORTED: 'WebSocket was closed before the connection was established',
      WS_ERR_MAX_REDIRECTS: 'Maximum redirects exceeded',
      WS_ERR_SOCKET_CLOSED_COMPRESSING: 'The socket was closed while data was being compressed',
      WS_ERR_SOCKET_CLOSED_READING_BLOB: 'The socket was closed while the blob was being read',
      status: 'Unexpected server response: 404',
    });
  });

  it('is the one place a HandshakeError is constructed (no other source file builds one)', () => {
    const src = join(__dirname, '../../src');
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? walk(path) : name.endsWith('.ts') ? [path] : [];
      });
    const builds = /\bnew HandshakeError\b/;
    const offenders = walk(src)
      .filter((f) => relative(src, f) !== join('handshake', 'errors.ts'))
      .filter((f) => builds.test(readFileSync(f, 'utf8')))
      .map((f) => relative(src, f));
    expect(offenders).toEqual([]);
    // The pattern matches the table's own constructors (it is not vacuous).
    expect(builds.test(readFileSync(join(src, 'handshake', 'errors.ts'), 'utf8'))).toBe(true);
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
      WS_ERR_HANDSHAKE_TIMEOUT: 0,
      WS_ERR_HANDSHAKE_ABORTED: 0,
      WS_ERR_HANDSHAKE_STREAM_CLOSED: 0,
      WS_ERR_HANDSHAKE_STREAM_CLOSED_AFTER_ANSWER: 0,
      WS_ERR_MAX_REDIRECTS: 0,
      WS_ERR_REDIRECT_TO_UNIX: 0,
      WS_ERR_REDIRECT_OTHER_SESSION: 0,
      WS_ERR_SOCKET_CLOSED: 0,
      WS_ERR_SOCKET_CLOSED_COMPRESSING: 0,
      WS_ERR_SOCKET_CLOSED_READING_BLOB: 0,
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

    // A finer-named row carries its code, not its key, and its own message.
    const s = handshakeError('WS_ERR_SOCKET_CLOSED_COMPRESSING');
    expect(s).toBeInstanceOf(HandshakeError);
    expect(s).toMatchObject({ code: 'WS_ERR_SOCKET_CLOSED', status: 0, name: 'Error' });
    expect(s.message).toBe('The socket was closed while data was being compressed');
    const a = clientHandshakeError('WS_ERR_HANDSHAKE_STREAM_CLOSED');
    expect(a).toMatchObject({ code: 'WS_ERR_HANDSHAKE_ABORTED', status: 0 });
    expect(a.message).toBe('The server closed the stream before answering');
  });

  it("words a refused status as ws 8 does: the row's message, a colon, the status", () => {
    const e = unexpectedStatusError(403);
    expect(e).toBeInstanceOf(HandshakeError);
    expect(e).toMatchObject({ code: 'WS_ERR_HANDSHAKE_STATUS', status: 0, name: 'Error' });
    expect(e.message).toBe(`${HANDSHAKE_ERRORS.WS_ERR_HANDSHAKE_STATUS[1]}: 403`);
    expect(e.message).toBe('Unexpected server response: 403');
  });
});
