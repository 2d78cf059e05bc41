import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { acceptKey, generateKey } from '../../src/handshake/accept.js';
import { buildUpgradeRequest, validateUpgradeResponse } from '../../src/handshake/client.js';
import { parseRequestHead, parseResponseHead } from '../../src/handshake/http.js';
import {
  buildAcceptResponse,
  serializeResponse,
  validateUpgradeRequest,
} from '../../src/handshake/server.js';
import { expectFailure, RFC_ACCEPT, RFC_KEY } from './helpers.js';

const BASE = { host: 'server.example.com', path: '/chat', key: RFC_KEY };

describe("RFC 6455 4.1 Client requirements: the client's opening handshake", () => {
  it('builds the request of section 1.2', () => {
    expect(buildUpgradeRequest(BASE).toString('latin1')).toBe(
      'GET /chat HTTP/1.1\r\n' +
        'Host: server.example.com\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${RFC_KEY}\r\n` +
        'Sec-WebSocket-Version: 13\r\n' +
        '\r\n',
    );
  });

  it('adds subprotocols, extensions, Origin and extra headers', () => {
    const text = buildUpgradeRequest({
      ...BASE,
      path: '/chat?room=a%20b',
      protocols: ['chat', 'superchat'],
      extensions: 'permessage-deflate; client_max_window_bits',
      origin: 'http://example.com',
      headers: { Authorization: 'Bearer t', 'X-Trace': '1' },
    }).toString('latin1');
    expect(text).toBe(
      'GET /chat?room=a%20b HTTP/1.1\r\n' +
        'Host: server.example.com\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${RFC_KEY}\r\n` +
        'Sec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: chat, superchat\r\n' +
        'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' +
        'Origin: http://example.com\r\n' +
        'Authorization: Bearer t\r\n' +
        'X-Trace: 1\r\n' +
        '\r\n',
    );
  });

  it('lets Host and Origin in headers replace the options', () => {
    const text = buildUpgradeRequest({
      ...BASE,
      origin: 'http://a.example',
      headers: { host: 'proxy.example', Origin: 'http://b.example' },
    }).toString('latin1');
    expect(text).not.toContain('server.example.com');
    expect(text).not.toContain('a.example\r\n');
    expect(text).toContain('\r\nhost: proxy.example\r\n');
    expect(text).toContain('\r\nOrigin: http://b.example\r\n');
    expect(text.match(/host:/gi)).toHaveLength(1);
  });

  it('is accepted by the server-side parser and validator (round trip)', () => {
    const key = generateKey((b) => b.fill(7));
    const bytes = buildUpgradeRequest({
      host: 'localhost:8080',
      path: '/',
      key,
      protocols: ['a', 'b'],
      extensions: 'permessage-deflate',
      origin: 'http://localhost:8080',
    });
    const parsed = parseRequestHead(bytes);
    if (!parsed.ok) throw parsed.error;
    expect(validateUpgradeRequest(parsed.value, { allowedOrigins: ['http://localhost:8080'] })).toEqual({
      ok: true,
      key,
      protocols: ['a', 'b'],
      extensions: [{ name: 'permessage-deflate', params: [] }],
      origin: 'http://localhost:8080',
      version: 13,
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    // RFC 6455 4.1 item 10: subprotocol elements "MUST all be unique strings"
    [
      'a duplicate subprotocol',
      { protocols: ['chat', 'chat'] },
      'buildUpgradeRequest: duplicate subprotocol "chat"',
    ],
    [
      'a subprotocol with a space',
      { protocols: ['my chat'] },
      'buildUpgradeRequest: invalid subprotocol "my chat" (subprotocols must be HTTP tokens)',
    ],
    [
      'a subprotocol with a comma',
      { protocols: ['a,b'] },
      'buildUpgradeRequest: invalid subprotocol "a,b" (subprotocols must be HTTP tokens)',
    ],
    [
      'an empty subprotocol',
      { protocols: [''] },
      'buildUpgradeRequest: invalid subprotocol "" (subprotocols must be HTTP tokens)',
    ],
    [
      'a CRLF in a subprotocol',
      { protocols: ['a\r\nX-Evil: 1'] },
      'buildUpgradeRequest: invalid subprotocol "a\\r\\nX-Evil: 1" (subprotocols must be HTTP tokens)',
    ],
    [
      'protocols that are not an array',
      { protocols: 'chat' },
      'buildUpgradeRequest: protocols must be an array of strings',
    ],
    [
      'a CRLF in a header value',
      { headers: { 'X-A': 'a\r\nX-Evil: 1' } },
      'buildUpgradeRequest: invalid header value for "X-A" (control characters such as CR/LF, or characters above U+00FF, are not allowed)',
    ],
    [
      'a CRLF in a header name',
      { headers: { 'X\r\nA': 'a' } },
      'buildUpgradeRequest: invalid header name "X\\r\\nA"',
    ],
    [
      'a WebSocket header in headers',
      { headers: { 'Sec-WebSocket-Protocol': 'chat' } },
      'buildUpgradeRequest: header "Sec-WebSocket-Protocol" is set by the handshake itself and cannot be given in headers',
    ],
    [
      'a path without a leading slash',
      { path: 'chat' },
      'buildUpgradeRequest: invalid path "chat" (must start with "/" and contain only visible ASCII)',
    ],
    [
      'a path with a space',
      { path: '/a b' },
      'buildUpgradeRequest: invalid path "/a b" (must start with "/" and contain only visible ASCII)',
    ],
    [
      'a path with CRLF',
      { path: '/\r\nX: 1' },
      'buildUpgradeRequest: invalid path "/\\r\\nX: 1" (must start with "/" and contain only visible ASCII)',
    ],
    ['an empty host', { host: '' }, 'buildUpgradeRequest: invalid host ""'],
    ['a host with a space', { host: 'a b' }, 'buildUpgradeRequest: invalid host "a b"'],
    ['a host with CRLF', { host: 'a\r\nX: 1' }, 'buildUpgradeRequest: invalid host "a\\r\\nX: 1"'],
    [
      'an invalid key',
      { key: 'short' },
      'buildUpgradeRequest: key must be the base64 encoding of 16 bytes (use generateKey)',
    ],
    [
      'invalid extensions',
      { extensions: 'a;' },
      'buildUpgradeRequest: "a;" is not a valid Sec-WebSocket-Extensions value',
    ],
    [
      'an origin with CRLF',
      { origin: 'http://a\r\nX: 1' },
      'buildUpgradeRequest: invalid origin "http://a\\r\\nX: 1"',
    ],
    [
      'an unknown option',
      { protocol: 'chat' },
      'buildUpgradeRequest: unknown option "protocol" (expected host, path, key, protocols, extensions, origin, headers)',
    ],
  ])('throws UsageError for %s', (_what, over, message) => {
    const call = () => buildUpgradeRequest({ ...BASE, ...over } as never);
    expect(call).toThrow(UsageError);
    expect(call).toThrow(message);
  });
});

describe("RFC 6455 4.1 Client requirements: validating the server's opening handshake", () => {
  function response(headers: Record<string, string | string[] | undefined> = {}, statusCode = 101) {
    const base: Record<string, string | string[] | undefined> = {
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-accept': RFC_ACCEPT,
    };
    for (const [k, v] of Object.entries(headers)) {
      if (v === undefined) delete base[k];
      else base[k] = v;
    }
    return { statusCode, headers: base };
  }
  const none = { key: RFC_KEY, protocols: [] as string[] };
  const offered = { key: RFC_KEY, protocols: ['chat', 'superchat'] };

  it('accepts the response of section 1.3', () => {
    expect(validateUpgradeResponse(response(), none)).toEqual({ ok: true, protocol: '', extensions: [] });
  });

  it('accepts a response built and serialized by the server side, parsed from bytes', () => {
    const bytes = serializeResponse(
      buildAcceptResponse({
        key: RFC_KEY,
        protocol: 'superchat',
        extensions: 'permessage-deflate; server_max_window_bits=10',
      }),
    );
    const parsed = parseResponseHead(bytes);
    if (!parsed.ok) throw parsed.error;
    expect(validateUpgradeResponse(parsed.value, offered)).toEqual({
      ok: true,
      protocol: 'superchat',
      extensions: [{ name: 'permessage-deflate', params: [['server_max_window_bits', '10']] }],
    });
  });

  it('treats Upgrade and Connection case-insensitively', () => {
    const r = validateUpgradeResponse(
      response({ upgrade: 'WebSocket', connection: 'keep-alive, UPGRADE' }),
      none,
    );
    expect(r.ok).toBe(true);
  });

  it('fails a response without a subprotocol when some were offered (ws 8; browsers open)', () => {
    expectFailure(validateUpgradeResponse(response(), offered), 'WS_ERR_HANDSHAKE_NO_PROTOCOL', {
      status: 0,
    });
    expect(validateUpgradeResponse(response(), offered)).toMatchObject({
      error: { message: 'Server sent no subprotocol' },
    });
  });

  // Item 1
  it.each([200, 302, 400, 426, 500])('fails on status %i', (status) => {
    const result = validateUpgradeResponse(response({}, status), none);
    expect(result).toMatchObject({
      ok: false,
      error: { code: 'WS_ERR_HANDSHAKE_STATUS', status: 0, message: `Unexpected server response: ${status}` },
    });
  });

  // Item 2: "not an ASCII case-insensitive match for the value "websocket""
  it.each([
    ['missing', undefined],
    ['another protocol', 'h2c'],
    ['a list', 'websocket, h2c'],
    ['repeated', ['websocket', 'websocket']],
  ])('fails when Upgrade is %s', (_what, upgrade) => {
    expectFailure(validateUpgradeResponse(response({ upgrade }), none), 'WS_ERR_HANDSHAKE_UPGRADE', {
      status: 0,
    });
  });

  // Item 3
  it.each([
    ['missing', undefined],
    ['close', 'close'],
    ['malformed', 'Upgrade;'],
  ])('fails when Connection is %s', (_what, connection) => {
    expectFailure(validateUpgradeResponse(response({ connection }), none), 'WS_ERR_HANDSHAKE_CONNECTION', {
      status: 0,
    });
  });

  // Item 4
  it.each([
    ['missing', undefined],
    ['for another key', acceptKey('AAAAAAAAAAAAAAAAAAAAAA==')],
    ['in another case', RFC_ACCEPT.toLowerCase()],
    ['with a trailing character', `${RFC_ACCEPT}x`],
    ['repeated', [RFC_ACCEPT, RFC_ACCEPT]],
  ])('fails when Sec-WebSocket-Accept is %s', (_what, accept) => {
    expectFailure(
      validateUpgradeResponse(response({ 'sec-websocket-accept': accept }), none),
      'WS_ERR_HANDSHAKE_ACCEPT',
      { status: 0 },
    );
  });

  // Item 5 (syntax; "was it offered" is the extension code's check)
  it.each(['', 'permessage-deflate;', 'a b'])('fails on Sec-WebSocket-Extensions %j', (value) => {
    expectFailure(
      validateUpgradeResponse(response({ 'sec-websocket-extensions': value }), none),
      'WS_ERR_HANDSHAKE_EXTENSION_RESPONSE',
      { status: 0 },
    );
  });

  it('returns extensions it did not offer, parsed, for the caller to judge', () => {
    expect(validateUpgradeResponse(response({ 'sec-websocket-extensions': 'x-unknown; a=1' }), none)).toEqual(
      {
        ok: true,
        protocol: '',
        extensions: [{ name: 'x-unknown', params: [['a', '1']] }],
      },
    );
  });

  // Item 6
  it('fails on a subprotocol when none was offered', () => {
    const result = validateUpgradeResponse(response({ 'sec-websocket-protocol': 'chat' }), none);
    expectFailure(result, 'WS_ERR_HANDSHAKE_UNREQUESTED_PROTOCOL', { status: 0 });
    expect(result).toMatchObject({ error: { message: 'Server sent a subprotocol but none was requested' } });
  });

  it.each<[string, string | string[], readonly string[]]>([
    ['one that was not offered', 'other', ['chat']],
    ['a different case', 'Chat', ['chat']],
    ['a list', 'chat, superchat', ['chat', 'superchat']],
    ['an empty value', '', ['chat']],
    ['repeated lines', ['chat', 'chat'], ['chat']],
  ])('fails on %s', (_what, value, protocols) => {
    expectFailure(
      validateUpgradeResponse(response({ 'sec-websocket-protocol': value }), { key: RFC_KEY, protocols }),
      'WS_ERR_HANDSHAKE_UNEXPECTED_PROTOCOL',
      { status: 0 },
    );
  });

  it('throws UsageError when the expectation is not what was sent', () => {
    const message =
      'validateUpgradeResponse: expect must be { key: the Sec-WebSocket-Key sent, protocols: the subprotocols offered }';
    for (const expectArg of [null, { key: 'x', protocols: [] }, { key: RFC_KEY }]) {
      const call = () => validateUpgradeResponse(response(), expectArg as never);
      expect(call).toThrow(UsageError);
      expect(call).toThrow(message);
    }
  });
});
