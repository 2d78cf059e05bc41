import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { acceptKey, generateKey } from '../../src/handshake/accept.js';
import { buildUpgradeHeaders, validateUpgradeResponse } from '../../src/handshake/client.js';
import { parseRequestHead } from '../../src/handshake/http.js';
import {
  buildAcceptResponse,
  serializeResponse,
  validateUpgradeRequest,
} from '../../src/handshake/server.js';
import { expectFailure, RFC_ACCEPT, RFC_KEY, readResponseHead } from './helpers.js';

const BASE = { key: RFC_KEY };

describe("RFC 6455 4.1 Client requirements: the client's opening handshake", () => {
  it('gives the header fields of section 1.2 (node:http adds the request line and Host)', () => {
    expect(buildUpgradeHeaders(BASE)).toEqual({
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': RFC_KEY,
      Connection: 'Upgrade',
      Upgrade: 'websocket',
    });
  });

  it('adds subprotocols, extensions and Origin (Sec-WebSocket-Origin for version 8)', () => {
    const offer = {
      ...BASE,
      protocols: ['chat', 'superchat'],
      extensions: 'permessage-deflate; client_max_window_bits',
      origin: 'http://example.com',
    };
    expect(buildUpgradeHeaders(offer)).toMatchObject({
      'Sec-WebSocket-Protocol': 'chat,superchat',
      'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
      Origin: 'http://example.com',
    });
    const v8 = buildUpgradeHeaders({ ...offer, version: 8 });
    expect(v8).toMatchObject({ 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Origin': 'http://example.com' });
    expect(v8.Origin).toBeUndefined();
  });

  it('is accepted by the server-side parser and validator (round trip)', () => {
    const key = generateKey((b) => b.fill(7));
    const fields = buildUpgradeHeaders({
      key,
      protocols: ['a', 'b'],
      extensions: 'permessage-deflate',
      origin: 'http://localhost:8080',
    });
    const lines = [
      'GET / HTTP/1.1',
      'Host: localhost:8080',
      ...Object.entries(fields).map(([n, v]) => `${n}: ${v}`),
    ];
    const parsed = parseRequestHead(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'));
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
      'buildUpgradeHeaders: duplicate subprotocol "chat"',
    ],
    [
      'a subprotocol with a space',
      { protocols: ['my chat'] },
      'buildUpgradeHeaders: invalid subprotocol "my chat" (subprotocols must be HTTP tokens)',
    ],
    [
      'a CRLF in a subprotocol',
      { protocols: ['a\r\nX-Evil: 1'] },
      'buildUpgradeHeaders: invalid subprotocol "a\\r\\nX-Evil: 1" (subprotocols must be HTTP tokens)',
    ],
    [
      'protocols that are not an array',
      { protocols: 'chat' },
      'buildUpgradeHeaders: protocols must be an array of strings',
    ],
    [
      'an invalid key',
      { key: 'short' },
      'buildUpgradeHeaders: key must be the base64 encoding of 16 bytes (use generateKey)',
    ],
    ['version 7', { version: 7 }, 'buildUpgradeHeaders: unsupported version 7 (13 or 8)'],
    [
      'invalid extensions',
      { extensions: 'a;' },
      'buildUpgradeHeaders: "a;" is not a valid Sec-WebSocket-Extensions value',
    ],
    [
      'an origin with CRLF',
      { origin: 'http://a\r\nX: 1' },
      'buildUpgradeHeaders: invalid origin "http://a\\r\\nX: 1"',
    ],
    [
      'an unknown option',
      { host: 'x' },
      'buildUpgradeHeaders: unknown option "host" (expected key, version, protocols, extensions, origin)',
    ],
  ])('throws UsageError for %s', (_what, over, message) => {
    const call = () => buildUpgradeHeaders({ ...BASE, ...over } as never);
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
    expect(validateUpgradeResponse(readResponseHead(bytes), offered)).toEqual({
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
    expectFailure(validateUpgradeResponse(response({}, status), none), 'WS_ERR_HANDSHAKE_STATUS', {
      message: `Unexpected server response: ${status}`,
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
