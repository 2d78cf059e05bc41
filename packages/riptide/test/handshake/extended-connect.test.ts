import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import type { HandshakeErrorCode } from '../../src/handshake/errors.js';
import {
  buildConnectRequest,
  buildConnectResponse,
  CONNECT_STATUS_LINE,
  connectAcceptHeaders,
  connectRejectHeaders,
  connectResponseHeaders,
  isExtendedConnect,
  sendableConnectHeaders,
  validateConnectRequest,
  validateConnectResponse,
} from '../../src/handshake/extended-connect.js';
import { headerLines, validateUpgradeRequest } from '../../src/handshake/server.js';
import { expectFailure, RFC_KEY } from './helpers.js';

type Headers = Record<string, string | string[] | undefined>;

/** RFC 8441 5.1's example request, as node:http2 hands it over. */
function connect(over: Headers = {}): Headers {
  const base: Headers = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': '/chat',
    ':authority': 'server.example.com',
    'sec-websocket-protocol': 'chat, superchat',
    'sec-websocket-version': '13',
    origin: 'http://www.example.com',
  };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

function expectRejected(
  headers: Headers,
  code: HandshakeErrorCode,
  extra: Record<string, string> = {},
  opts: { status?: number; detail?: string } = {},
  options?: Parameters<typeof validateConnectRequest>[1],
) {
  const r = validateConnectRequest(headers, options);
  expectFailure(r, code, opts);
  expect(!r.ok && r.headers).toEqual(extra);
}

describe('RFC 8441 4 The Extended CONNECT Method', () => {
  it('recognizes a CONNECT bearing :protocol, and nothing else', () => {
    expect(isExtendedConnect(connect())).toBe(true);
    expect(isExtendedConnect(connect({ ':protocol': 'webtransport' }))).toBe(true);
    expect(isExtendedConnect(connect({ ':protocol': undefined }))).toBe(false);
    expect(isExtendedConnect(connect({ ':method': 'GET' }))).toBe(false);
    expect(isExtendedConnect({ ':method': 'CONNECT', ':authority': 'proxy.example:443' })).toBe(false);
  });
});

describe("RFC 8441 5 Using Extended CONNECT: the server reads the client's request", () => {
  it("accepts section 5.1's example, with the RFC 6455 fields read as over HTTP/1.1", () => {
    expect(validateConnectRequest(connect())).toEqual({
      ok: true,
      protocols: ['chat', 'superchat'],
      extensions: [],
      origin: 'http://www.example.com',
      version: 13,
      authority: 'server.example.com',
      path: '/chat',
      scheme: 'https',
    });
  });

  it('parses an extension offer and accepts the http scheme (ws:// URIs)', () => {
    const r = validateConnectRequest(
      connect({
        ':scheme': 'http',
        ':path': '/a?b=c',
        'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
        'sec-websocket-protocol': undefined,
        origin: undefined,
      }),
    );
    expect(r).toEqual({
      ok: true,
      protocols: [],
      extensions: [{ name: 'permessage-deflate', params: [['client_max_window_bits', true]] }],
      origin: undefined,
      version: 13,
      authority: 'server.example.com',
      path: '/a?b=c',
      scheme: 'http',
    });
  });

  it('ignores a Sec-WebSocket-Key ("do not do the processing of the Sec-WebSocket-Key")', () => {
    expect(validateConnectRequest(connect({ 'sec-websocket-key': 'not base64!' })).ok).toBe(true);
  });

  describe('rejections, each with its code, status, message and headers', () => {
    it('refuses a request that is not an extended CONNECT with 405 and Allow: CONNECT', () => {
      expectRejected(connect({ ':method': 'GET' }), 'WS_ERR_HANDSHAKE_CONNECT_METHOD', { allow: 'CONNECT' });
      expectRejected(connect({ ':protocol': undefined }), 'WS_ERR_HANDSHAKE_CONNECT_METHOD', {
        allow: 'CONNECT',
      });
    });

    it('answers another :protocol with 501 (RFC 9220 3)', () => {
      expectRejected(connect({ ':protocol': 'webtransport' }), 'WS_ERR_HANDSHAKE_CONNECT_PROTOCOL');
      // the string "websocket", "not the value of the Sec-WebSocket-Protocol header field"
      expectRejected(connect({ ':protocol': 'chat' }), 'WS_ERR_HANDSHAKE_CONNECT_PROTOCOL');
      expectRejected(connect({ ':protocol': 'WebSocket' }), 'WS_ERR_HANDSHAKE_CONNECT_PROTOCOL');
    });

    it('requires :scheme http or https, a :path and an :authority', () => {
      for (const over of [
        { ':scheme': undefined },
        { ':scheme': 'wss' },
        { ':path': undefined },
        { ':path': '' },
        { ':path': 'chat' },
        { ':path': '/a b' },
        { ':authority': undefined },
        { ':authority': '' },
        { ':authority': 'a b' },
        { ':authority': ['a', 'b'] },
      ]) {
        expectRejected(connect(over), 'WS_ERR_HANDSHAKE_CONNECT_PSEUDO');
      }
    });

    it('treats connection-specific fields as malformed (RFC 9113 8.2.2)', () => {
      for (const over of [
        { connection: 'Upgrade' },
        { upgrade: 'websocket' },
        { 'keep-alive': 'timeout=5' },
        { 'proxy-connection': 'keep-alive' },
        { 'transfer-encoding': 'chunked' },
        { te: 'gzip' },
      ]) {
        expectRejected(
          connect(over),
          'WS_ERR_HANDSHAKE_MALFORMED',
          {},
          {
            detail: 'connection-specific header field in HTTP/2',
          },
        );
      }
      expect(validateConnectRequest(connect({ te: 'trailers' })).ok).toBe(true);
    });

    it('refuses another version with 400 and the versions spoken (no 426: it would need Upgrade)', () => {
      for (const version of ['7', '14', undefined]) {
        expectRejected(connect({ 'sec-websocket-version': version }), 'WS_ERR_HANDSHAKE_VERSION', {
          'sec-websocket-version': '13, 8',
        });
      }
    });

    it('applies the path check (shouldHandle) where the HTTP/1.1 handshake does', () => {
      expectRejected(connect(), 'WS_ERR_HANDSHAKE_PATH', {}, {}, { shouldHandle: () => false });
      expectRejected(
        connect({ 'sec-websocket-version': '7' }),
        'WS_ERR_HANDSHAKE_VERSION',
        { 'sec-websocket-version': '13, 8' },
        {},
        { shouldHandle: () => false },
      );
    });

    it('refuses malformed subprotocol and extension lists, like the HTTP/1.1 handshake', () => {
      expectRejected(connect({ 'sec-websocket-protocol': 'a b' }), 'WS_ERR_HANDSHAKE_PROTOCOL');
      expectRejected(
        connect({ 'sec-websocket-extensions': 'permessage-deflate;' }),
        'WS_ERR_HANDSHAKE_EXTENSIONS',
      );
    });

    it('applies allowedOrigins exactly as validateUpgradeRequest does', () => {
      const options = { allowedOrigins: ['https://www.example.com'] };
      expectRejected(connect(), 'WS_ERR_HANDSHAKE_ORIGIN', {}, {}, options);
      expectRejected(connect({ origin: undefined }), 'WS_ERR_HANDSHAKE_ORIGIN', {}, {}, options);
      expect(validateConnectRequest(connect({ origin: 'https://WWW.example.com:443' }), options).ok).toBe(
        true,
      );
    });
  });

  it('reports the same RFC 6455 field errors as the HTTP/1.1 handshake for any header values', () => {
    // One implementation behind both: for arbitrary values of the shared fields, the HTTP/2 and
    // HTTP/1.1 validations agree on success and on the error code.
    const value = fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(
        '13',
        '8',
        'chat',
        'a, b',
        'a b',
        ',',
        'permessage-deflate',
        'x; y=',
        'http://a.example',
      ),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(value, value, value, value, (version, protocol, extensions, origin) => {
        const fields: Headers = {
          'sec-websocket-version': version,
          'sec-websocket-protocol': protocol,
          'sec-websocket-extensions': extensions,
          origin,
        };
        const options = { allowedOrigins: ['http://a.example'] };
        const h2 = validateConnectRequest(connect(fields), options);
        const h1base: Headers = {
          host: 'a',
          upgrade: 'websocket',
          connection: 'Upgrade',
          'sec-websocket-key': RFC_KEY,
        };
        for (const [k, v] of Object.entries(fields)) if (v !== undefined) h1base[k] = v;
        const h1 = validateUpgradeRequest({ method: 'GET', httpVersion: '1.1', headers: h1base }, options);
        expect(h2.ok).toBe(h1.ok);
        if (!h1.ok && !h2.ok) expect(h2.error.code).toBe(h1.error.code);
        if (h1.ok && h2.ok) {
          expect(h2.protocols).toEqual(h1.protocols);
          expect(h2.extensions).toEqual(h1.extensions);
          expect(h2.origin).toBe(h1.origin);
        }
      }),
    );
  });

  it('throws for bad options (caller misuse), never for bad headers', () => {
    expect(() => validateConnectRequest(connect(), { allowedOrigins: ['nope'] })).toThrow(UsageError);
    expect(() => validateConnectRequest(connect(), { x: 1 } as never)).toThrow(
      'validateConnectRequest: unknown option "x" (expected allowedOrigins, extensions or shouldHandle)',
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.array(fc.string()))), (h) => {
        const r = validateConnectRequest({ ...connect(), ...h });
        expect(typeof r.ok).toBe('boolean');
      }),
    );
  });
});

describe('RFC 8441 5 the server answers', () => {
  it('answers 200 with the selected subprotocol and extensions (fast path)', () => {
    expect(connectAcceptHeaders()).toEqual({ ':status': 200 });
    expect(connectAcceptHeaders('chat', 'permessage-deflate')).toEqual({
      ':status': 200,
      'sec-websocket-protocol': 'chat',
      'sec-websocket-extensions': 'permessage-deflate',
    });
  });

  it("builds lines for 'headers' listeners that map back to the same header object", () => {
    const lines = buildConnectResponse({ protocol: 'chat', extensions: 'permessage-deflate' });
    expect(lines).toEqual([
      CONNECT_STATUS_LINE,
      'sec-websocket-protocol: chat',
      'sec-websocket-extensions: permessage-deflate',
    ]);
    expect(connectResponseHeaders(lines)).toEqual(connectAcceptHeaders('chat', 'permessage-deflate'));
  });

  it('takes what a ws-style listener appends: lowercased names, repeated names as arrays', () => {
    const lines = buildConnectResponse({});
    lines.push('Set-Cookie: a=1', 'Set-Cookie: b=2', 'X-Served-By:  node-1 ');
    expect(connectResponseHeaders(lines)).toEqual({
      ':status': 200,
      'set-cookie': ['a=1', 'b=2'],
      'x-served-by': 'node-1',
    });
  });

  it('refuses lines that would break the response (caller misuse)', () => {
    const bad = (line: string) => [CONNECT_STATUS_LINE, line];
    expect(() => connectResponseHeaders(bad('Connection: close'))).toThrow(
      '"connection" is a connection-specific header field, which HTTP/2 forbids (RFC 9113 8.2.2)',
    );
    expect(() => connectResponseHeaders(bad('no colon'))).toThrow('expected "Name: value"');
    expect(() => connectResponseHeaders(bad(':status: 500'))).toThrow('expected "Name: value"');
    expect(() => connectResponseHeaders(bad('X-A: b\r\nX-C: d'))).toThrow(UsageError);
    // A line break at the end is no more one line of a response than one in the middle (the
    // trim that cleans the value must not hide it), as sendableConnectHeaders leaves it out.
    expect(() => connectResponseHeaders(bad('X-Trailing: b\n'))).toThrow(
      'invalid response line "X-Trailing: b\\n" (control characters',
    );
    expect(() => connectResponseHeaders(bad('X Y: b'))).toThrow('invalid header name "x y"');
    expect(() => connectResponseHeaders(['HTTP/1.1 101 Switching Protocols'])).toThrow(
      'expected the lines of buildConnectResponse, starting with "HTTP/2 200"',
    );
    expect(() => buildConnectResponse({ protocol: 'a b' })).toThrow('the subprotocol "a b" is not a token');
    expect(() => buildConnectResponse({ extensions: ';' })).toThrow(UsageError);
  });

  it("keeps of a 'headers' listener's lines the ones connectResponseHeaders takes, in one pass", () => {
    expect(
      sendableConnectHeaders([
        'Set-Cookie: a=1',
        'Connection: close',
        'no colon',
        ':status: 500',
        5,
        'X-Bad: a\r\nInjected: 1',
        'X-Trailing: b\n',
        'TE: gzip',
        'TE: trailers',
        'Set-Cookie: b=2',
        'X-Served-By:  node-1 ',
      ]),
    ).toEqual({ ':status': 200, 'set-cookie': ['a=1', 'b=2'], te: 'trailers', 'x-served-by': 'node-1' });
    // The same result as checking each line alone with connectResponseHeaders, then all at once.
    const part = fc.constantFrom(
      'X-A',
      'set-cookie',
      'Connection',
      'te',
      'trailers',
      ':',
      ' ',
      '\r\n',
      '\t',
      'é',
      'a b',
      '',
    );
    const line = fc.oneof(
      fc.array(part, { maxLength: 5 }).map((p) => p.join('')),
      fc.string(),
      fc.integer(),
      fc.constant(null),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (fields) => {
        const kept = [CONNECT_STATUS_LINE];
        for (const l of headerLines(fields)) {
          try {
            connectResponseHeaders([CONNECT_STATUS_LINE, l]);
            kept.push(l);
          } catch {}
        }
        expect(sendableConnectHeaders(fields)).toEqual(connectResponseHeaders(kept));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses with the status, a text/plain type and the extra fields', () => {
    expect(connectRejectHeaders(403)).toEqual({
      ':status': 403,
      'content-type': 'text/plain; charset=utf-8',
    });
    expect(connectRejectHeaders(401, { 'WWW-Authenticate': 'Basic' })).toEqual({
      ':status': 401,
      'content-type': 'text/plain; charset=utf-8',
      'www-authenticate': 'Basic',
    });
    expect(() => connectRejectHeaders(101)).toThrow('status must be an integer 200-599, got 101');
    expect(() => connectRejectHeaders(400, { Connection: 'close' })).toThrow('connection-specific');
    expect(() => connectRejectHeaders(400, { 'Content-Type': 'text/html' })).toThrow(
      'set by the handshake itself',
    );
    expect(() => connectRejectHeaders(400, { a: 1 as unknown as string })).toThrow('must be a string');
  });
});

describe("RFC 8441 5 the client's request and its checks of the response", () => {
  it("builds section 5.1's example", () => {
    expect(
      buildConnectRequest({
        authority: 'server.example.com',
        path: '/chat',
        scheme: 'https',
        protocols: ['chat', 'superchat'],
        origin: 'http://www.example.com',
      }),
    ).toEqual({
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'https',
      ':path': '/chat',
      ':authority': 'server.example.com',
      'sec-websocket-protocol': 'chat, superchat',
      'sec-websocket-version': '13',
      origin: 'http://www.example.com',
    });
  });

  it('is accepted by the server side as the same offer', () => {
    const req = buildConnectRequest({
      authority: 'a.example:8443',
      path: '/x?y',
      scheme: 'http',
      protocols: ['p1', 'p2'],
      extensions: 'permessage-deflate; client_max_window_bits',
    });
    expect(validateConnectRequest(req)).toMatchObject({
      ok: true,
      protocols: ['p1', 'p2'],
      extensions: [{ name: 'permessage-deflate', params: [['client_max_window_bits', true]] }],
      authority: 'a.example:8443',
      path: '/x?y',
    });
  });

  it('lowercases extra headers; Host becomes the :authority, Origin replaces the option', () => {
    const req = buildConnectRequest({
      authority: 'a',
      path: '/',
      scheme: 'https',
      origin: 'https://o1',
      headers: { Host: 'b.example', Origin: 'https://o2', Authorization: 'Bearer t' },
    });
    expect(req[':authority']).toBe('b.example');
    expect(req.origin).toBe('https://o2');
    expect(req.authorization).toBe('Bearer t');
    expect(req.host).toBeUndefined();
  });

  it('refuses bad options (caller misuse)', () => {
    const base = { authority: 'a', path: '/', scheme: 'https' as const };
    expect(() => buildConnectRequest({ ...base, scheme: 'wss' as never })).toThrow('invalid scheme "wss"');
    expect(() => buildConnectRequest({ ...base, path: 'x' })).toThrow('invalid path "x"');
    expect(() => buildConnectRequest({ ...base, authority: 'a b' })).toThrow('invalid authority "a b"');
    expect(() => buildConnectRequest({ ...base, protocols: ['a', 'a'] })).toThrow(
      'duplicate subprotocol "a"',
    );
    expect(() => buildConnectRequest({ ...base, headers: { Upgrade: 'websocket' } })).toThrow(
      'connection-specific',
    );
    expect(() => buildConnectRequest({ ...base, headers: { 'Sec-WebSocket-Key': RFC_KEY } })).toThrow(
      'set by the handshake itself',
    );
    expect(() => buildConnectRequest({ ...base, x: 1 } as never)).toThrow('unknown option "x"');
  });

  it('accepts any 2xx, with the subprotocol and extensions the server selected', () => {
    expect(
      validateConnectResponse(
        { status: 200, headers: { ':status': 200, 'sec-websocket-protocol': 'chat' } },
        { protocols: ['chat', 'superchat'] },
      ),
    ).toEqual({ ok: true, protocol: 'chat', extensions: [] });
    expect(validateConnectResponse({ status: 204, headers: {} }, { protocols: [] })).toEqual({
      ok: true,
      protocol: '',
      extensions: [],
    });
  });

  it('fails on another status, an unoffered subprotocol or a malformed extension list', () => {
    // The status as HTTP/1.1's check words it (ws 8's "Unexpected server response: N").
    expectFailure(
      validateConnectResponse({ status: 404, headers: {} }, { protocols: [] }),
      'WS_ERR_HANDSHAKE_STATUS',
      { status: 0, message: 'Unexpected server response: 404' },
    );
    expectFailure(
      validateConnectResponse({ status: 101, headers: {} }, { protocols: [] }),
      'WS_ERR_HANDSHAKE_STATUS',
      { status: 0, message: 'Unexpected server response: 101' },
    );
    expectFailure(
      validateConnectResponse(
        { status: 200, headers: { 'sec-websocket-protocol': 'x' } },
        { protocols: ['chat'] },
      ),
      'WS_ERR_HANDSHAKE_UNEXPECTED_PROTOCOL',
      { status: 0 },
    );
    expectFailure(
      validateConnectResponse(
        { status: 200, headers: { 'sec-websocket-extensions': ';' } },
        { protocols: [] },
      ),
      'WS_ERR_HANDSHAKE_EXTENSION_RESPONSE',
      { status: 0 },
    );
  });
});
