import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { HANDSHAKE_ERROR_CODES, HANDSHAKE_ERRORS, handshakeError } from '../../src/handshake/errors.js';
import { parseRequestHead } from '../../src/handshake/http.js';
import {
  acceptResponseBytes,
  acceptResponseText,
  buildAcceptResponse,
  buildErrorResponse,
  buildRejectResponse,
  canonicalOrigin,
  isUpgradeRequest,
  rejectionHeaders,
  serializeResponse,
  ValidateSettings,
  validateUpgradeRequest,
} from '../../src/handshake/server.js';
import { expectFailure, head, RFC_ACCEPT, RFC_KEY, readResponseHead } from './helpers.js';

type Req = Parameters<typeof validateUpgradeRequest>[0];

function request(headers: Record<string, string | string[] | undefined> = {}, over: Partial<Req> = {}): Req {
  const base: Record<string, string | string[] | undefined> = {
    host: 'server.example.com',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': RFC_KEY,
    'sec-websocket-version': '13',
  };
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return { method: 'GET', httpVersion: '1.1', url: '/chat', headers: base, ...over };
}

function expectRejected(
  req: Req,
  code: Parameters<typeof handshakeError>[0],
  headers: Record<string, string> = {},
  options?: Parameters<typeof validateUpgradeRequest>[1],
) {
  const r = validateUpgradeRequest(req, options);
  expectFailure(r, code);
  expect(!r.ok && r.headers).toEqual(headers);
}

describe("RFC 6455 4.2.1 Reading the client's opening handshake", () => {
  it('accepts the minimal handshake', () => {
    expect(validateUpgradeRequest(request())).toEqual({
      ok: true,
      key: RFC_KEY,
      protocols: [],
      extensions: [],
      origin: undefined,
      version: 13,
    });
  });

  it('accepts the handshake of section 1.2 as parsed from the wire', () => {
    const parsed = parseRequestHead(
      head(
        'GET /chat HTTP/1.1',
        'Host: server.example.com',
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${RFC_KEY}`,
        'Origin: http://example.com',
        'Sec-WebSocket-Protocol: chat, superchat',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits',
      ),
    );
    if (!parsed.ok) throw parsed.error;
    expect(validateUpgradeRequest(parsed.value)).toEqual({
      ok: true,
      key: RFC_KEY,
      protocols: ['chat', 'superchat'],
      extensions: [{ name: 'permessage-deflate', params: [['client_max_window_bits', true]] }],
      origin: 'http://example.com',
      version: 13,
    });
  });

  it('treats Upgrade and Connection case-insensitively and as token lists', () => {
    for (const [upgrade, connection] of [
      ['WebSocket', 'keep-alive, Upgrade'],
      ['WEBSOCKET', 'UPGRADE'],
      ['h2c, websocket', 'upgrade,keep-alive'],
      ['websocket', 'keep-alive,\tUpgrade '],
    ]) {
      expect(validateUpgradeRequest(request({ upgrade, connection })).ok).toBe(true);
    }
  });

  it('accepts Connection sent as two header lines ("keep-alive" then "Upgrade")', () => {
    const parsed = parseRequestHead(
      head(
        'GET / HTTP/1.1',
        'Host: a',
        'Upgrade: websocket',
        'Connection: keep-alive',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${RFC_KEY}`,
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Protocol: a',
        'Sec-WebSocket-Protocol: b',
      ),
    );
    if (!parsed.ok) throw parsed.error;
    expect(validateUpgradeRequest(parsed.value)).toMatchObject({ ok: true, protocols: ['a', 'b'] });
  });

  it('accepts HTTP versions above 1.1 ("HTTP/1.1 or higher")', () => {
    expect(validateUpgradeRequest(request({}, { httpVersion: '2.0' })).ok).toBe(true);
    expect(validateUpgradeRequest(request({}, { httpVersion: '1.2' })).ok).toBe(true);
  });

  describe('rejections, each with its code, status, message and headers', () => {
    // RFC 9110 15.5.6: a 405 "MUST generate an Allow header field"
    it.each(['POST', 'HEAD', 'get', 'CONNECT', undefined])('method %s: 405 with Allow: GET', (method) => {
      expectRejected(request({}, { method }), 'WS_ERR_HANDSHAKE_METHOD', { Allow: 'GET' });
    });

    it.each(['1.0', '0.9', '', 'abc', '1.', '.1', '1.x'])('HTTP version %j: 400', (httpVersion) => {
      expectRejected(request({}, { httpVersion }), 'WS_ERR_HANDSHAKE_HTTP_VERSION');
    });

    it.each([
      ['missing', undefined],
      ['empty', ''],
      ['repeated', ['a', 'b']],
    ])('Host %s: 400', (_what, host) => {
      expectRejected(request({ host }), 'WS_ERR_HANDSHAKE_MISSING_HOST');
    });

    it.each([
      ['missing', undefined],
      ['another protocol', 'h2c'],
      ['a versioned product instead of the keyword', 'websocket/13'],
      ['bad syntax', 'web socket'],
      ['empty', ''],
    ])('Upgrade %s: 400', (_what, upgrade) => {
      expectRejected(request({ upgrade }), 'WS_ERR_HANDSHAKE_UPGRADE');
    });

    it.each([
      ['missing', undefined],
      ['without upgrade', 'keep-alive'],
      ['close', 'close'],
      ['bad syntax', 'Upgrade;'],
      ['a token containing upgrade', 'upgraded'],
    ])('Connection %s: 400', (_what, connection) => {
      expectRejected(request({ connection }), 'WS_ERR_HANDSHAKE_CONNECTION');
    });

    it.each([
      ['missing', undefined],
      ['not base64 of 16 bytes', 'dGhlIHNhbXBsZSBub25jZQ='],
      ['two header lines (joined)', `${RFC_KEY}, ${RFC_KEY}`],
      ['an array', [RFC_KEY, RFC_KEY]],
      ['empty', ''],
    ])('Sec-WebSocket-Key %s: 400', (_what, key) => {
      expectRejected(request({ 'sec-websocket-key': key }), 'WS_ERR_HANDSHAKE_KEY');
    });

    // RFC 6455 4.4: answer with the versions we speak (ws's status and header value).
    it.each([
      ['missing', undefined],
      ['7', '7'],
      ['"13, 8"', '13, 8'],
      ['two header lines', '13, 13'],
      ['with spaces', ' 13'],
      ['14', '14'],
    ])('Sec-WebSocket-Version %s: 400 with Sec-WebSocket-Version: 13, 8', (_what, version) => {
      expectRejected(request({ 'sec-websocket-version': version }), 'WS_ERR_HANDSHAKE_VERSION', {
        'Sec-WebSocket-Version': '13, 8',
      });
    });

    it('Sec-WebSocket-Version 8 (hybi-17, which ws speaks too) is accepted; its origin is Sec-WebSocket-Origin', () => {
      expect(
        validateUpgradeRequest(
          request({ 'sec-websocket-version': '8', 'sec-websocket-origin': 'https://a.example', origin: 'x' }),
        ),
      ).toMatchObject({ ok: true, version: 8, origin: 'https://a.example' });
    });

    it('a request built in code with the version as a number (13, 8) is read as that value (@fastify/websocket injectWS)', () => {
      const numeric = (version: number) => {
        const req = request();
        (req.headers as Record<string, unknown>)['sec-websocket-version'] = version;
        return req;
      };
      expect(validateUpgradeRequest(numeric(13))).toMatchObject({ ok: true, version: 13 });
      expect(validateUpgradeRequest(numeric(8))).toMatchObject({ ok: true, version: 8 });
      expectRejected(numeric(14), 'WS_ERR_HANDSHAKE_VERSION', { 'Sec-WebSocket-Version': '13, 8' });
      expectRejected(numeric(13.5), 'WS_ERR_HANDSHAKE_VERSION', { 'Sec-WebSocket-Version': '13, 8' });
    });

    it('shouldHandle runs after the version check and before the subprotocols (ws order)', () => {
      const no = () => false;
      expectRejected(request({ 'sec-websocket-version': '1' }), 'WS_ERR_HANDSHAKE_VERSION', {
        'Sec-WebSocket-Version': '13, 8',
      });
      expect(
        validateUpgradeRequest(request({ 'sec-websocket-version': '1' }), { shouldHandle: no }),
      ).toMatchObject({ ok: false, error: { code: 'WS_ERR_HANDSHAKE_VERSION' } });
      expect(
        validateUpgradeRequest(request({ 'sec-websocket-protocol': 'a b' }), { shouldHandle: no }),
      ).toMatchObject({
        ok: false,
        error: { code: 'WS_ERR_HANDSHAKE_PATH', status: 400, message: 'Bad Request' },
      });
    });

    it('extensions: false ignores the Sec-WebSocket-Extensions header (a server without extensions)', () => {
      expect(
        validateUpgradeRequest(request({ 'sec-websocket-extensions': ';;' }), { extensions: false }),
      ).toMatchObject({ ok: true, extensions: [] });
    });

    it.each([
      ['empty', ''],
      ['with duplicates', 'chat, chat'],
      ['with a space inside an element', 'my chat'],
      ['with a separator', 'chat;v=1'],
    ])('Sec-WebSocket-Protocol %s: 400', (_what, value) => {
      expectRejected(request({ 'sec-websocket-protocol': value }), 'WS_ERR_HANDSHAKE_PROTOCOL');
    });

    it.each([
      ['empty', ''],
      ['a trailing semicolon', 'permessage-deflate;'],
      ['an unterminated quoted value', 'permessage-deflate; client_max_window_bits="15'],
    ])('Sec-WebSocket-Extensions %s: 400', (_what, value) => {
      expectRejected(request({ 'sec-websocket-extensions': value }), 'WS_ERR_HANDSHAKE_EXTENSIONS');
    });

    it('reports the first failing check in the RFC order', () => {
      expectRejected(
        request({ 'sec-websocket-key': undefined, host: undefined }, { method: 'POST' }),
        'WS_ERR_HANDSHAKE_METHOD',
        {
          Allow: 'GET',
        },
      );
      expectRejected(
        request({ 'sec-websocket-key': undefined, upgrade: undefined }),
        'WS_ERR_HANDSHAKE_UPGRADE',
      );
    });
  });

  describe('RFC 6455 10.2 Origin allow-list (403)', () => {
    const allowedOrigins = ['https://example.com', 'http://localhost:8080'];

    it.each([
      'https://example.com',
      'HTTPS://EXAMPLE.COM',
      'https://example.com:443',
      'https://example.com/',
      'http://localhost:8080',
      'http://LocalHost:8080',
    ])('allows %j', (origin) => {
      expect(validateUpgradeRequest(request({ origin }), { allowedOrigins })).toMatchObject({
        ok: true,
        origin,
      });
    });

    it.each([
      ['a missing Origin', undefined],
      ['another host', 'https://evil.example'],
      ['a suffix attack', 'https://example.com.evil.example'],
      ['another scheme', 'http://example.com'],
      ['another port', 'https://example.com:8443'],
      ['the default port instead of 8080', 'http://localhost'],
      ['a path', 'https://example.com/app'],
      ['userinfo', 'https://user@example.com'],
      ['the opaque origin', 'null'],
      ['garbage', 'not an origin'],
      ['two Origin values', ['https://example.com', 'https://example.com']],
    ])('refuses %s', (_what, origin) => {
      expectRejected(request({ origin }), 'WS_ERR_HANDSHAKE_ORIGIN', {}, { allowedOrigins });
    });

    it('allows the opaque origin "null" only when listed', () => {
      expect(validateUpgradeRequest(request({ origin: 'null' }), { allowedOrigins: ['null'] }).ok).toBe(true);
    });

    it('checks nothing when the list is null or absent, and reports the Origin', () => {
      for (const options of [undefined, {}, { allowedOrigins: null }]) {
        expect(
          validateUpgradeRequest(request({ origin: 'https://anything.example' }), options),
        ).toMatchObject({
          ok: true,
          origin: 'https://anything.example',
        });
      }
    });

    it('refuses every origin with an empty list', () => {
      expectRejected(
        request({ origin: 'https://example.com' }),
        'WS_ERR_HANDSHAKE_ORIGIN',
        {},
        { allowedOrigins: [] },
      );
    });

    it('canonicalizes origins (scheme/host lowercase, default port explicit)', () => {
      expect(canonicalOrigin('HTTPS://Example.COM')).toBe('https://example.com:443');
      expect(canonicalOrigin('ws://a.example:80')).toBe('ws://a.example:80');
      expect(canonicalOrigin('http://[::1]:3000')).toBe('http://[::1]:3000');
      expect(canonicalOrigin('null')).toBe('null');
      expect(canonicalOrigin('https://a.example?')).toBeNull();
      expect(canonicalOrigin('https://a.example/#')).toBeNull();
      expect(canonicalOrigin('')).toBeNull();
    });

    it.each([
      [
        { allowedOrigin: ['x'] },
        'validateUpgradeRequest: unknown option "allowedOrigin" (expected allowedOrigins, extensions or shouldHandle)',
      ],
      [{ allowedOrigins: 'https://example.com' }, 'allowedOrigins must be an array of origins or null'],
      [
        { allowedOrigins: ['example.com'] },
        'allowedOrigins: "example.com" is not an origin (expected e.g. "https://example.com:8443")',
      ],
      [null, 'validateUpgradeRequest: options must be an object'],
    ])('throws UsageError for options %j', (options, message) => {
      const call = () => validateUpgradeRequest(request(), options as never);
      expect(call).toThrow(UsageError);
      expect(call).toThrow(message);
    });
  });

  describe('ValidateSettings: the options prepared once for many requests', () => {
    it('decides as the same options given directly', () => {
      const options = {
        allowedOrigins: ['https://example.com'],
        shouldHandle: (req?: Req) => req?.url === '/chat',
      };
      const settings = new ValidateSettings(options);
      const cases = [
        request({ origin: 'https://example.com' }),
        request({ origin: 'https://evil.example' }),
        request({ origin: 'https://example.com' }, { url: '/other' }),
        request({ origin: 'https://example.com', 'sec-websocket-version': '7' }),
        request({ origin: 'https://example.com', 'sec-websocket-extensions': 'x;' }),
      ];
      const codes = cases.map((r) => {
        const prepared = validateUpgradeRequest(r, settings);
        expect(prepared).toEqual(validateUpgradeRequest(r, options));
        return prepared.ok ? 'ok' : prepared.error.code;
      });
      expect(codes).toEqual([
        'ok',
        'WS_ERR_HANDSHAKE_ORIGIN',
        'WS_ERR_HANDSHAKE_PATH',
        'WS_ERR_HANDSHAKE_VERSION',
        'WS_ERR_HANDSHAKE_EXTENSIONS',
      ]);
    });

    it('gives shouldHandle the request being validated', () => {
      const seen: unknown[] = [];
      const settings = new ValidateSettings({ shouldHandle: (req) => seen.push(req) > 0 });
      const a = request();
      const b = request({}, { url: '/b' });
      validateUpgradeRequest(a, settings);
      validateUpgradeRequest(b, { shouldHandle: (req) => seen.push(req) > 0 });
      expect(seen).toEqual([a, b]);
      expect(seen[0]).toBe(a);
    });

    it('reads the allowed origins once, when it is made', () => {
      const allowedOrigins = ['https://example.com'];
      const settings = new ValidateSettings({ allowedOrigins });
      allowedOrigins[0] = 'https://other.example';
      expect(validateUpgradeRequest(request({ origin: 'https://example.com' }), settings).ok).toBe(true);
      expect(validateUpgradeRequest(request({ origin: 'https://other.example' }), settings).ok).toBe(false);
    });

    it('throws UsageError for bad options when made, not at the first request', () => {
      expect(() => new ValidateSettings({ allowedOrigins: ['example.com'] })).toThrow(UsageError);
      expect(() => new ValidateSettings({ allowedOrigin: [] } as never)).toThrow(
        'ValidateSettings: unknown option "allowedOrigin"',
      );
    });
  });
});

describe('validateUpgradeRequest results', () => {
  it('carry the key; without offers they share frozen empty lists, with offers they get their own', () => {
    const a = validateUpgradeRequest(request());
    const b = validateUpgradeRequest(request());
    if (!a.ok || !b.ok) throw new Error('expected ok');
    expect(a.key).toBe(RFC_KEY);
    expect(a.protocols).toEqual([]);
    expect(a.extensions).toEqual([]);
    expect(a.protocols).toBe(b.protocols);
    expect(a.extensions).toBe(b.extensions);
    expect(Object.isFrozen(a.protocols) && Object.isFrozen(a.extensions)).toBe(true);
    const c = validateUpgradeRequest(
      request({ 'sec-websocket-protocol': 'chat', 'sec-websocket-extensions': 'permessage-deflate' }),
    );
    if (!c.ok) throw new Error('expected ok');
    expect(c.protocols).toEqual(['chat']);
    expect(c.extensions.map((e) => e.name)).toEqual(['permessage-deflate']);
    expect(Object.isFrozen(c.protocols) || Object.isFrozen(c.extensions)).toBe(false);
  });
});

describe('An upgrade request has no body (RFC 9110 9.3.1; after the 101 the bytes are frames)', () => {
  it.each([
    ['Content-Length: 5', { 'content-length': '5' }, 'Content-Length'],
    ['a huge Content-Length', { 'content-length': '99999999999999999999' }, 'Content-Length'],
    ['an invalid Content-Length', { 'content-length': '5x' }, 'Content-Length'],
    ['an empty Content-Length', { 'content-length': '' }, 'Content-Length'],
    ['two Content-Length values (an array)', { 'content-length': ['0', '5'] }, 'Content-Length'],
    ['Transfer-Encoding: chunked', { 'transfer-encoding': 'chunked' }, 'Transfer-Encoding'],
    [
      'any Transfer-Encoding, even with Content-Length: 0',
      { 'transfer-encoding': 'identity', 'content-length': '0' },
      'Transfer-Encoding',
    ],
  ])('refuses %s with 400 WS_ERR_HANDSHAKE_BODY', (_what, headers, detail) => {
    const r = validateUpgradeRequest(request(headers));
    expectFailure(r, 'WS_ERR_HANDSHAKE_BODY', { detail });
    expect(!r.ok && r.headers).toEqual({});
  });

  it('accepts Content-Length: 0 (no body)', () => {
    expect(validateUpgradeRequest(request({ 'content-length': '0' })).ok).toBe(true);
    expect(validateUpgradeRequest(request({ 'content-length': '00' })).ok).toBe(true);
  });

  it("checks the body last, so a request ws 8 refuses for another reason gets ws's answer", () => {
    expectRejected(request({ 'sec-websocket-key': 'short', 'content-length': '5' }), 'WS_ERR_HANDSHAKE_KEY');
    expectRejected(
      request({ 'sec-websocket-version': '7', 'transfer-encoding': 'chunked' }),
      'WS_ERR_HANDSHAKE_VERSION',
      {
        'Sec-WebSocket-Version': '13, 8',
      },
    );
  });

  it('refuses a body announced in a head parsed from the wire', () => {
    const parsed = parseRequestHead(
      head(
        'GET /chat HTTP/1.1',
        'Host: server.example.com',
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${RFC_KEY}`,
        'Sec-WebSocket-Version: 13',
        'Transfer-Encoding: gzip',
        'Transfer-Encoding: chunked',
      ),
    );
    if (!parsed.ok) throw parsed.error;
    expectFailure(validateUpgradeRequest(parsed.value), 'WS_ERR_HANDSHAKE_BODY', {
      detail: 'Transfer-Encoding',
    });
  });
});

describe("RFC 9110 7.8 isUpgradeRequest: node:http's rule (the others are plain requests: 426)", () => {
  it.each([
    [{}, false],
    [{ upgrade: 'websocket' }, false],
    [{ upgrade: 'websocket', connection: 'keep-alive' }, false],
    [{ upgrade: 'websocket', connection: 'Upgrade' }, true],
    [{ upgrade: 'h2c', connection: 'keep-alive, upgrade' }, true],
    [{ connection: 'upgrade' }, false],
  ])('%j -> %s', (headers, expected) => {
    expect(isUpgradeRequest(headers)).toBe(expected);
  });

  it('has a 426 error with the Upgrade header for that answer', () => {
    const error = handshakeError('WS_ERR_HANDSHAKE_UPGRADE_REQUIRED');
    expect(error.status).toBe(426);
    const text = buildErrorResponse(error).toString('latin1');
    expect(text).toBe(
      'HTTP/1.1 426 Upgrade Required\r\n' +
        'Connection: Upgrade, close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 66\r\n' +
        'Upgrade: websocket\r\n' +
        '\r\n' +
        'Upgrade required: this endpoint only accepts WebSocket connections',
    );
  });
});

describe("RFC 6455 4.2.2 Sending the server's opening handshake", () => {
  it('builds the 101 response of section 1.3 as lines', () => {
    expect(buildAcceptResponse({ key: RFC_KEY })).toEqual([
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${RFC_ACCEPT}`,
    ]);
  });

  it('adds the selected subprotocol, the extensions and extra headers, in that order', () => {
    const lines = buildAcceptResponse({
      key: RFC_KEY,
      protocol: 'chat',
      extensions: 'permessage-deflate; server_no_context_takeover',
      headers: { 'Set-Cookie': 'id=1', 'X-Server': 'riptide' },
    });
    expect(lines.slice(4)).toEqual([
      'Sec-WebSocket-Protocol: chat',
      'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover',
      'Set-Cookie: id=1',
      'X-Server: riptide',
    ]);
  });

  it('acceptResponseText gives the bytes serializeResponse(buildAcceptResponse(...)) gives', () => {
    const cases: Array<[string | undefined, string | undefined]> = [
      [undefined, undefined],
      ['chat', undefined],
      [undefined, 'permessage-deflate; server_no_context_takeover'],
      ['chat', 'permessage-deflate'],
      ['', ''],
    ];
    for (const [protocol, extensions] of cases) {
      const expected = serializeResponse(buildAcceptResponse({ key: RFC_KEY, protocol, extensions }));
      expect(acceptResponseText(RFC_KEY, protocol, extensions)).toBe(expected.toString('latin1'));
    }
    expect(acceptResponseText(RFC_KEY)).toContain(`\r\nSec-WebSocket-Accept: ${RFC_ACCEPT}\r\n`);
  });

  it('acceptResponseBytes gives those bytes too, as a Buffer', () => {
    const cases: Array<[string | undefined, string | undefined]> = [
      [undefined, undefined],
      ['chat', undefined],
      [undefined, 'permessage-deflate; server_no_context_takeover'],
      ['chat.v2', 'permessage-deflate; client_max_window_bits=10'],
      ['', ''],
    ];
    for (const [protocol, extensions] of cases) {
      const expected = serializeResponse(buildAcceptResponse({ key: RFC_KEY, protocol, extensions }));
      const bytes = acceptResponseBytes(RFC_KEY, protocol, extensions);
      expect(Buffer.isBuffer(bytes)).toBe(true);
      expect(bytes.toString('latin1')).toBe(expected.toString('latin1'));
    }
  });

  it('acceptResponseBytes writes the accept value in place for any valid key, as buildAcceptResponse has it', () => {
    // The in-place SHA-1 (writeAcceptKey) at its offset, followed by each optional field.
    for (let n = 0; n < 256; n++) {
      const nonce = Buffer.alloc(16, n);
      nonce[n % 16] = 255 - n;
      const key = nonce.toString('base64');
      const [protocol, extensions] = [
        [undefined, undefined],
        ['chat', undefined],
        [undefined, 'permessage-deflate'],
        ['chat.v2', 'permessage-deflate; client_max_window_bits=10'],
      ][n % 4];
      const expected = serializeResponse(buildAcceptResponse({ key, protocol, extensions }));
      expect(acceptResponseBytes(key, protocol, extensions).toString('latin1')).toBe(
        expected.toString('latin1'),
      );
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      expect(expected.toString('latin1')).toContain(`\r\nSec-WebSocket-Accept: ${accept}\r\n`);
    }
  });

  it('omits empty protocol and extensions', () => {
    expect(buildAcceptResponse({ key: RFC_KEY, protocol: '', extensions: '' })).toHaveLength(4);
  });

  it('serializes lines (including ones a headers listener appended) into a head clients parse', () => {
    const lines = buildAcceptResponse({ key: RFC_KEY, protocol: 'chat' });
    lines.push('X-Added: by a listener');
    const bytes = serializeResponse(lines);
    expect(bytes.toString('latin1')).toBe(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${RFC_ACCEPT}\r\n` +
        'Sec-WebSocket-Protocol: chat\r\n' +
        'X-Added: by a listener\r\n' +
        '\r\n',
    );
    expect(readResponseHead(bytes).headers).toEqual({
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-accept': RFC_ACCEPT,
      'sec-websocket-protocol': 'chat',
      'x-added': 'by a listener',
    });
  });

  it.each<[string, unknown, string]>([
    ['an invalid key', { key: 'abc' }, 'buildAcceptResponse: key must be a valid Sec-WebSocket-Key'],
    [
      'an unknown option',
      { key: RFC_KEY, protocols: ['a'] },
      'buildAcceptResponse: unknown option "protocols"',
    ],
    [
      'a subprotocol that is not a token',
      { key: RFC_KEY, protocol: 'a b' },
      'buildAcceptResponse: the subprotocol "a b" is not a token',
    ],
    [
      'a CRLF in the subprotocol',
      { key: RFC_KEY, protocol: 'a\r\nX-Evil: 1' },
      'buildAcceptResponse: the subprotocol "a\\r\\nX-Evil: 1" is not a token',
    ],
    [
      'invalid extensions',
      { key: RFC_KEY, extensions: 'a;\r\nX-Evil: 1' },
      'buildAcceptResponse: "a;\\r\\nX-Evil: 1" is not a valid Sec-WebSocket-Extensions value',
    ],
    [
      'a CRLF in a header value',
      { key: RFC_KEY, headers: { 'X-A': 'a\r\nX-Evil: 1' } },
      'buildAcceptResponse: invalid header value for "X-A" (control characters such as CR/LF, or characters above U+00FF, are not allowed)',
    ],
    [
      'a header name with a space',
      { key: RFC_KEY, headers: { 'X A': 'a' } },
      'buildAcceptResponse: invalid header name "X A"',
    ],
    [
      'a header the handshake sets',
      { key: RFC_KEY, headers: { 'sec-websocket-accept': 'x' } },
      'buildAcceptResponse: header "sec-websocket-accept" is set by the handshake itself and cannot be given in headers',
    ],
    [
      'a non-string header value',
      { key: RFC_KEY, headers: { 'X-A': 1 } },
      'buildAcceptResponse: the value of header "X-A" must be a string',
    ],
  ])('throws UsageError for %s', (_what, opts, message) => {
    const call = () => buildAcceptResponse(opts as never);
    expect(call).toThrow(UsageError);
    expect(call).toThrow(message);
  });

  it.each<[string, unknown, string]>([
    [
      'a line with CRLF',
      ['HTTP/1.1 101 Switching Protocols', 'X: a\r\nX-Evil: 1'],
      'serializeResponse: invalid response line "X: a\\r\\nX-Evil: 1" (no CR, LF or other control characters)',
    ],
    [
      'a line with a character above U+00FF',
      ['HTTP/1.1 101 Switching Protocols', 'X: \u2713'],
      'serializeResponse: invalid response line "X: \u2713" (no CR, LF or other control characters)',
    ],
    ['no lines', [], 'serializeResponse: expected a non-empty array of lines'],
  ])('serializeResponse throws UsageError for %s', (_what, lines, message) => {
    const call = () => serializeResponse(lines as never);
    expect(call).toThrow(UsageError);
    expect(call).toThrow(message);
  });
});

describe('Rejection responses', () => {
  it('writes status, reason, Connection: close, text/plain, Content-Length and the body', () => {
    expect(buildRejectResponse(400, 'Bad key').toString('latin1')).toBe(
      'HTTP/1.1 400 Bad Request\r\n' +
        'Connection: close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 7\r\n' +
        '\r\n' +
        'Bad key',
    );
  });

  it('counts Content-Length in UTF-8 bytes and sends HTML-looking text verbatim as text/plain', () => {
    const message = '<script>alert("d\u00e9j\u00e0 \u2713")</script>';
    const bytes = buildRejectResponse(403, message);
    const split = bytes.indexOf('\r\n\r\n') + 4;
    expect(bytes.subarray(split).toString('utf8')).toBe(message);
    const parsed = readResponseHead(bytes);
    expect(parsed.statusCode).toBe(403);
    expect(parsed.statusMessage).toBe('Forbidden');
    expect(parsed.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(Number(parsed.headers['content-length'])).toBe(Buffer.byteLength(message));
    expect(bytes.length - split).toBe(Buffer.byteLength(message));
  });

  it('appends extra headers and uses "Unknown" for a status without a standard reason', () => {
    const text = buildRejectResponse(499, 'x', { 'Retry-After': '5' }).toString('latin1');
    expect(text.startsWith('HTTP/1.1 499 Unknown\r\n')).toBe(true);
    expect(text).toContain('\r\nRetry-After: 5\r\n\r\nx');
  });

  it.each([
    [418, "I'm a Teapot"],
    [423, 'Locked'],
    [451, 'Unavailable For Legal Reasons'],
    [511, 'Network Authentication Required'],
  ])('a registered status %i has its reason phrase, as ws sends it (not "Unknown")', (status, phrase) => {
    const text = buildRejectResponse(status, 'x').toString('latin1');
    expect(text.startsWith(`HTTP/1.1 ${status} ${phrase}\r\n`)).toBe(true);
  });

  it.each<[string, unknown[], string]>([
    ['a status below 200', [101, 'x'], 'buildRejectResponse: status must be an integer 200-599, got 101'],
    ['a status above 599', [600, 'x'], 'buildRejectResponse: status must be an integer 200-599, got 600'],
    [
      'a fractional status',
      [400.5, 'x'],
      'buildRejectResponse: status must be an integer 200-599, got 400.5',
    ],
    ['a non-string message', [400, 5], 'buildRejectResponse: message must be a string'],
    [
      'a CRLF in a header value (header injection)',
      [400, 'x', { 'X-A': 'a\r\nSet-Cookie: evil=1' }],
      'buildRejectResponse: invalid header value for "X-A" (control characters such as CR/LF, or characters above U+00FF, are not allowed)',
    ],
    [
      'a bare LF in a header value',
      [400, 'x', { 'X-A': 'a\nb' }],
      'buildRejectResponse: invalid header value for "X-A" (control characters such as CR/LF, or characters above U+00FF, are not allowed)',
    ],
    [
      'a CRLF in a header name',
      [400, 'x', { 'X-A\r\nX-B': 'a' }],
      'buildRejectResponse: invalid header name "X-A\\r\\nX-B"',
    ],
    [
      'an overridden Content-Length',
      [400, 'x', { 'Content-Length': '0' }],
      'buildRejectResponse: header "Content-Length" is set by the handshake itself and cannot be given in headers',
    ],
  ])('throws UsageError for %s', (_what, args, message) => {
    const call = () => (buildRejectResponse as (...a: unknown[]) => Buffer)(...args);
    expect(call).toThrow(UsageError);
    expect(call).toThrow(message);
  });

  it('renders every server-side error as a well-formed response with its status and headers', () => {
    for (const code of HANDSHAKE_ERROR_CODES) {
      const [status, message] = HANDSHAKE_ERRORS[code];
      if (status === 0) continue;
      const error = handshakeError(code);
      const bytes = buildErrorResponse(error);
      const split = bytes.indexOf('\r\n\r\n') + 4;
      const parsed = readResponseHead(bytes);
      expect(parsed.statusCode).toBe(status);
      expect(bytes.subarray(split).toString('utf8')).toBe(message);
      for (const [name, value] of Object.entries(rejectionHeaders(error))) {
        expect(parsed.headers[name.toLowerCase()]).toBe(value);
      }
    }
  });

  it('refuses to render a client-side error (status 0)', () => {
    expect(() => buildErrorResponse(handshakeError('WS_ERR_HANDSHAKE_ACCEPT'))).toThrow(UsageError);
  });
});

describe('Fuzz: arbitrary header values only produce documented results', () => {
  it('never throws and fails only with server-side codes', () => {
    const names = [
      'host',
      'upgrade',
      'connection',
      'sec-websocket-key',
      'sec-websocket-version',
      'sec-websocket-protocol',
      'sec-websocket-extensions',
      'origin',
    ];
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom('websocket', 'Upgrade', RFC_KEY, '13', 'chat, chat', 'a; b="1"', 'https://example.com'),
      fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }),
    );
    const headers = fc.record(Object.fromEntries(names.map((n) => [n, value])), { requiredKeys: [] });
    fc.assert(
      fc.property(headers, fc.constantFrom('GET', 'POST'), (h, method) => {
        const r = validateUpgradeRequest(
          { method, httpVersion: '1.1', headers: h as Record<string, string | string[]> },
          { allowedOrigins: ['https://example.com'] },
        );
        if (!r.ok) {
          expect(HANDSHAKE_ERRORS[r.error.code as keyof typeof HANDSHAKE_ERRORS][0]).toBe(r.error.status);
          expect(r.error.status).toBeGreaterThanOrEqual(400);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
