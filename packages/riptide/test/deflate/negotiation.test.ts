import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { HandshakeError, UsageError } from '../../src/core/errors.js';
import { clearZlibPool, PerMessageDeflate } from '../../src/deflate/codec.js';
import {
  acceptAsClient,
  createOffer,
  type DeflateParams,
  negotiateAsServer,
  normalizeDeflateOptions,
  type PerMessageDeflateOptions,
  parseDeflateParams,
} from '../../src/deflate/negotiation.js';
import { liveZlibContexts } from '../../src/deflate/zlib-sync.js';
import { expectBytes, parseExtensions } from './helpers.js';

function server(opts: PerMessageDeflateOptions = {}) {
  return normalizeDeflateOptions(opts, 'server')!;
}
function client(opts: PerMessageDeflateOptions = {}) {
  return normalizeDeflateOptions(opts, 'client')!;
}

const DEFAULTS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

describe('perMessageDeflate option (ws 8 compatible), validated at the boundary', () => {
  it('defaults: off for servers, on for clients; true = defaults; false = off', () => {
    expect(normalizeDeflateOptions(undefined, 'server')).toBeNull();
    expect(normalizeDeflateOptions(false, 'client')).toBeNull();
    const expected = {
      serverNoContextTakeover: undefined,
      clientNoContextTakeover: undefined,
      serverMaxWindowBits: undefined,
      clientMaxWindowBits: undefined,
      deflate: { level: -1, memLevel: 8, strategy: 0, chunkSize: 16384 },
      inflate: { chunkSize: 16384 },
      threshold: 1024,
      concurrencyLimit: 10,
    };
    expect(normalizeDeflateOptions(undefined, 'client')).toEqual(expected);
    expect(normalizeDeflateOptions(true, 'server')).toEqual(expected);
    expect(normalizeDeflateOptions({}, 'server')).toEqual(expected);
  });

  it("accepts ws's README example unchanged", () => {
    const opts = normalizeDeflateOptions(
      {
        zlibDeflateOptions: { chunkSize: 1024, memLevel: 7, level: 3 },
        zlibInflateOptions: { chunkSize: 10 * 1024 },
        clientNoContextTakeover: true,
        serverNoContextTakeover: true,
        serverMaxWindowBits: 10,
        concurrencyLimit: 10,
        threshold: 1024,
      },
      'server',
    )!;
    expect(opts.deflate).toEqual({ level: 3, memLevel: 7, strategy: 0, chunkSize: 1024 });
    expect(opts.inflate).toEqual({ chunkSize: 10240 });
    expect(opts.serverMaxWindowBits).toBe(10);
  });

  // ws 8 only compares threshold and concurrencyLimit with counts, so every number means something
  // there; code written for ws may pass Infinity ("never" / "no bound") or a fraction.
  it('takes any number ws 8 compares with: threshold Infinity, negative, fractional; concurrencyLimit Infinity', () => {
    for (const role of ['server', 'client'] as const) {
      for (const threshold of [Number.POSITIVE_INFINITY, -1, 1.5, 0]) {
        expect(normalizeDeflateOptions({ threshold }, role)!.threshold).toBe(threshold);
      }
      for (const concurrencyLimit of [Number.POSITIVE_INFINITY, 1, 2.5]) {
        expect(normalizeDeflateOptions({ concurrencyLimit }, role)!.concurrencyLimit).toBe(concurrencyLimit);
      }
    }
  });

  it('ignores keys it does not know, in the object and its zlib objects, as ws 8 does', () => {
    for (const role of ['server', 'client'] as const) {
      const given = {
        threshhold: 10,
        zlibDeflateOptions: { windowBits: 10, flush: 2, level: 3 },
        zlibInflateOptions: { maxOutputLength: 10 },
      };
      const expected = normalizeDeflateOptions({ zlibDeflateOptions: { level: 3 } }, role);
      expect(normalizeDeflateOptions(given, role)).toEqual(expected);
      expect(expected!.deflate.level).toBe(3);
      expect(expected!.threshold).toBe(1024);
    }
  });

  const bad: Array<[unknown, string]> = [
    ['yes', 'Invalid option "perMessageDeflate": must be a boolean or an options object'],
    [null, 'Invalid option "perMessageDeflate": must be a boolean or an options object'],
    [[], 'Invalid option "perMessageDeflate": must be a boolean or an options object'],
    [new Map(), 'Invalid option "perMessageDeflate": must be a boolean or an options object'],
    [
      { serverNoContextTakeover: 'true' },
      'Invalid perMessageDeflate option "serverNoContextTakeover": must be a boolean',
    ],
    [
      { clientNoContextTakeover: 1 },
      'Invalid perMessageDeflate option "clientNoContextTakeover": must be a boolean',
    ],
    [
      { serverMaxWindowBits: 7 },
      'Invalid perMessageDeflate option "serverMaxWindowBits": must be a boolean or an integer from 8 to 15',
    ],
    [
      { serverMaxWindowBits: 16 },
      'Invalid perMessageDeflate option "serverMaxWindowBits": must be a boolean or an integer from 8 to 15',
    ],
    [
      { clientMaxWindowBits: 10.5 },
      'Invalid perMessageDeflate option "clientMaxWindowBits": must be a boolean or an integer from 8 to 15',
    ],
    [
      { clientMaxWindowBits: '10' },
      'Invalid perMessageDeflate option "clientMaxWindowBits": must be a boolean or an integer from 8 to 15',
    ],
    [{ threshold: Number.NaN }, 'Invalid perMessageDeflate option "threshold": must be a number'],
    [{ threshold: '1024' }, 'Invalid perMessageDeflate option "threshold": must be a number'],
    [{ threshold: null }, 'Invalid perMessageDeflate option "threshold": must be a number'],
    // ws 8 would take 0 and never run a compression again (its zlib queue runs none at a time).
    [{ concurrencyLimit: 0 }, 'Invalid perMessageDeflate option "concurrencyLimit": must be a number >= 1'],
    [
      { concurrencyLimit: Number.NaN },
      'Invalid perMessageDeflate option "concurrencyLimit": must be a number >= 1',
    ],
    [{ zlibDeflateOptions: 3 }, 'Invalid perMessageDeflate option "zlibDeflateOptions": must be an object'],
    [{ zlibInflateOptions: [] }, 'Invalid perMessageDeflate option "zlibInflateOptions": must be an object'],
    [
      { zlibDeflateOptions: { level: 10 } },
      'Invalid perMessageDeflate option "zlibDeflateOptions.level": must be an integer from -1 to 9',
    ],
    [
      { zlibDeflateOptions: { memLevel: 0 } },
      'Invalid perMessageDeflate option "zlibDeflateOptions.memLevel": must be an integer from 1 to 9',
    ],
    [
      { zlibDeflateOptions: { strategy: 5 } },
      'Invalid perMessageDeflate option "zlibDeflateOptions.strategy": must be an integer from 0 to 4',
    ],
    [
      { zlibInflateOptions: { chunkSize: 63 } },
      'Invalid perMessageDeflate option "zlibInflateOptions.chunkSize": must be an integer from 64 to 1073741824',
    ],
    [
      { threshhold: 10, zlibDeflateOptions: { windowBits: 10, level: 10 } },
      'Invalid perMessageDeflate option "zlibDeflateOptions.level": must be an integer from -1 to 9',
    ],
  ];
  for (const [value, message] of bad) {
    it(`rejects ${JSON.stringify(value) ?? String(value)}`, () => {
      for (const role of ['server', 'client'] as const) {
        let error: unknown;
        try {
          normalizeDeflateOptions(value, role);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(UsageError);
        expect((error as UsageError).code).toBe('WS_ERR_INVALID_OPTION');
        expect((error as UsageError).message).toBe(message);
      }
    });
  }
});

describe('RFC 7692 7.1 client offer', () => {
  const table: Array<[PerMessageDeflateOptions, string]> = [
    [{}, 'permessage-deflate; client_max_window_bits'],
    [
      { serverNoContextTakeover: true },
      'permessage-deflate; server_no_context_takeover; client_max_window_bits',
    ],
    [{ serverNoContextTakeover: false }, 'permessage-deflate; client_max_window_bits'],
    [
      { clientNoContextTakeover: true },
      'permessage-deflate; client_no_context_takeover; client_max_window_bits',
    ],
    [{ serverMaxWindowBits: 10 }, 'permessage-deflate; server_max_window_bits=10; client_max_window_bits'],
    [{ serverMaxWindowBits: true }, 'permessage-deflate; client_max_window_bits'],
    [{ clientMaxWindowBits: 9 }, 'permessage-deflate; client_max_window_bits=9'],
    [{ clientMaxWindowBits: true }, 'permessage-deflate; client_max_window_bits'],
    [{ clientMaxWindowBits: false }, 'permessage-deflate'],
    [
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 8,
        clientMaxWindowBits: 15,
      },
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=15',
    ],
  ];
  for (const [opts, offer] of table) {
    it(`${JSON.stringify(opts)} -> ${offer}`, () => {
      expect(createOffer(client(opts))).toBe(offer);
      // Every offer we make is one we accept ourselves.
      expect(typeof parseDeflateParams(parseExtensions(offer)[0].params, 'offer')).toBe('object');
    });
  }
});

describe('RFC 7692 7.1 server: choosing and answering an offer', () => {
  // [offer header, server options, response (null: declined), agreed params]
  const table: Array<[string, PerMessageDeflateOptions, string | null, Partial<DeflateParams>?]> = [
    ['permessage-deflate', {}, 'permessage-deflate', {}],
    ['permessage-deflate; client_max_window_bits', {}, 'permessage-deflate', {}],
    [
      'permessage-deflate; client_max_window_bits=10',
      {},
      'permessage-deflate; client_max_window_bits=10',
      { clientMaxWindowBits: 10 },
    ],
    [
      'permessage-deflate; server_max_window_bits=10',
      {},
      'permessage-deflate; server_max_window_bits=10',
      { serverMaxWindowBits: 10 },
    ],
    [
      'permessage-deflate; server_no_context_takeover',
      {},
      'permessage-deflate; server_no_context_takeover',
      { serverNoContextTakeover: true },
    ],
    [
      'permessage-deflate; client_no_context_takeover',
      {},
      'permessage-deflate; client_no_context_takeover',
      { clientNoContextTakeover: true },
    ],
    // 7.1.1.1 / 7.1.1.2: the server MAY add the no_context_takeover parameters on its own.
    [
      'permessage-deflate',
      { serverNoContextTakeover: true },
      'permessage-deflate; server_no_context_takeover',
      { serverNoContextTakeover: true },
    ],
    [
      'permessage-deflate',
      { clientNoContextTakeover: true },
      'permessage-deflate; client_no_context_takeover',
      { clientNoContextTakeover: true },
    ],
    ['permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: false }, null],
    [
      'permessage-deflate; client_no_context_takeover',
      { clientNoContextTakeover: false },
      'permessage-deflate; client_no_context_takeover',
      { clientNoContextTakeover: true },
    ],
    // 7.1.2.1: same or smaller server_max_window_bits; MAY be set when not offered.
    [
      'permessage-deflate; server_max_window_bits=12',
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_max_window_bits=10',
      { serverMaxWindowBits: 10 },
    ],
    [
      'permessage-deflate; server_max_window_bits=9',
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_max_window_bits=9',
      { serverMaxWindowBits: 9 },
    ],
    [
      'permessage-deflate',
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_max_window_bits=10',
      { serverMaxWindowBits: 10 },
    ],
    [
      'permessage-deflate; server_max_window_bits=11',
      { serverMaxWindowBits: true },
      'permessage-deflate; server_max_window_bits=11',
      { serverMaxWindowBits: 11 },
    ],
    ['permessage-deflate; server_max_window_bits=10', { serverMaxWindowBits: false }, null],
    ['permessage-deflate', { serverMaxWindowBits: false }, 'permessage-deflate', {}],
    // 7.1.2.2: client_max_window_bits only if offered.
    ['permessage-deflate', { clientMaxWindowBits: 10 }, null],
    [
      'permessage-deflate; client_max_window_bits',
      { clientMaxWindowBits: 10 },
      'permessage-deflate; client_max_window_bits=10',
      { clientMaxWindowBits: 10 },
    ],
    [
      'permessage-deflate; client_max_window_bits=12',
      { clientMaxWindowBits: 10 },
      'permessage-deflate; client_max_window_bits=10',
      { clientMaxWindowBits: 10 },
    ],
    [
      'permessage-deflate; client_max_window_bits=8',
      { clientMaxWindowBits: 10 },
      'permessage-deflate; client_max_window_bits=8',
      { clientMaxWindowBits: 8 },
    ],
    [
      'permessage-deflate; client_max_window_bits=10',
      { clientMaxWindowBits: false },
      'permessage-deflate',
      {},
    ],
    ['permessage-deflate; client_max_window_bits', { clientMaxWindowBits: true }, 'permessage-deflate', {}],
    [
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8',
      {},
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=8',
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 8,
      },
    ],
    // RFC 6455 9.1: a quoted-string value is the same value.
    [
      'permessage-deflate; server_max_window_bits="10"',
      {},
      'permessage-deflate; server_max_window_bits=10',
      { serverMaxWindowBits: 10 },
    ],
    // Names compare case-insensitively; other extensions are ignored.
    [
      'x-webkit-deflate-frame, PerMessage-Deflate; Server_No_Context_Takeover',
      {},
      'permessage-deflate; server_no_context_takeover',
      { serverNoContextTakeover: true },
    ],
    ['x-webkit-deflate-frame', {}, null],
  ];
  // The rows give the answers of a server that keeps its compression context (ws's default).
  // Riptide's default (serverNoContextTakeover undefined) also answers server_no_context_takeover
  // (7.1.1.1), so unless a row sets serverNoContextTakeover: false, the expected answer gets it.
  for (const [offer, opts, rowResponse, rowParams] of table) {
    const keepsContext = opts.serverNoContextTakeover === false;
    const response =
      rowResponse === null || keepsContext || rowResponse.includes('server_no_context_takeover')
        ? rowResponse
        : rowResponse.replace('permessage-deflate', 'permessage-deflate; server_no_context_takeover');
    const params = keepsContext ? rowParams : { ...rowParams, serverNoContextTakeover: true };
    it(`${offer} with ${JSON.stringify(opts)} -> ${response ?? 'declined'}`, () => {
      const result = negotiateAsServer(parseExtensions(offer), server(opts));
      expect(result.response).toBe(response);
      if (response === null) {
        expect(result.params).toBeNull();
      } else {
        expect(result.params).toEqual({ ...DEFAULTS, ...params });
        expect(result.declined).toEqual([]);
      }
    });
  }

  it('takes the first acceptable of several offers, in the client’s order', () => {
    const result = negotiateAsServer(
      parseExtensions(
        'permessage-deflate; server_max_window_bits=10; client_max_window_bits, permessage-deflate; client_max_window_bits, permessage-deflate',
      ),
      server({ serverMaxWindowBits: false }),
    );
    expect(result.response).toBe('permessage-deflate; server_no_context_takeover');
    expect(result.declined).toEqual([
      'server_max_window_bits offered but disabled by serverMaxWindowBits: false',
    ]);
  });

  it('by default answers server_no_context_takeover unasked; serverNoContextTakeover: false keeps ws behaviour', () => {
    // RFC 7692 7.1.1.1: "A server MAY include the "server_no_context_takeover" extension
    // parameter in an extension negotiation response even if the extension negotiation offer
    // being accepted by the response doesn't include" it.
    const byDefault = negotiateAsServer(
      parseExtensions('permessage-deflate; client_max_window_bits'),
      server(),
    );
    expect(byDefault.response).toBe('permessage-deflate; server_no_context_takeover');
    expect(byDefault.params).toEqual({ ...DEFAULTS, serverNoContextTakeover: true });
    const wsLike = negotiateAsServer(
      parseExtensions('permessage-deflate; client_max_window_bits'),
      server({ serverNoContextTakeover: false }),
    );
    expect(wsLike.response).toBe('permessage-deflate');
    expect(wsLike.params).toEqual(DEFAULTS);
  });

  it('explains why each offer was declined', () => {
    const result = negotiateAsServer(
      parseExtensions(
        'permessage-deflate; server_no_context_takeover, permessage-deflate; foo, permessage-deflate; server_max_window_bits',
      ),
      server({ serverNoContextTakeover: false, clientMaxWindowBits: 9 }),
    );
    expect(result.params).toBeNull();
    expect(result.declined).toEqual([
      'server_no_context_takeover offered but disabled by serverNoContextTakeover: false',
      'unknown parameter "foo"',
      'server_max_window_bits must be an integer from 8 to 15 without leading zeros',
    ]);
  });

  // RFC 7692 7.1: "A server MUST decline an extension negotiation offer for this extension if ..."
  const badOffers: Array<[string, string]> = [
    [
      'server_no_context_takeover; server_no_context_takeover',
      'duplicate parameter server_no_context_takeover',
    ],
    [
      'client_no_context_takeover; Client_No_Context_Takeover',
      'duplicate parameter client_no_context_takeover',
    ],
    ['server_max_window_bits=10; server_max_window_bits=10', 'duplicate parameter server_max_window_bits'],
    ['client_max_window_bits; client_max_window_bits=10', 'duplicate parameter client_max_window_bits'],
    ['server_no_context_takeover=1', 'server_no_context_takeover must not have a value'],
    ['client_no_context_takeover=true', 'client_no_context_takeover must not have a value'],
    [
      'server_max_window_bits',
      'server_max_window_bits must be an integer from 8 to 15 without leading zeros',
    ],
    [
      'server_max_window_bits=7',
      'server_max_window_bits must be an integer from 8 to 15 without leading zeros',
    ],
    [
      'server_max_window_bits=16',
      'server_max_window_bits must be an integer from 8 to 15 without leading zeros',
    ],
    [
      'server_max_window_bits=08',
      'server_max_window_bits must be an integer from 8 to 15 without leading zeros',
    ],
    [
      'server_max_window_bits=1e1',
      'server_max_window_bits must be an integer from 8 to 15 without leading zeros',
    ],
    [
      'server_max_window_bits=',
      'server_max_window_bits must be an integer from 8 to 15 without leading zeros',
    ],
    [
      'server_max_window_bits=+9',
      'server_max_window_bits must be an integer from 8 to 15 without leading zeros',
    ],
    [
      'client_max_window_bits=7',
      'client_max_window_bits must be an integer from 8 to 15 without leading zeros',
    ],
    [
      'client_max_window_bits=010',
      'client_max_window_bits must be an integer from 8 to 15 without leading zeros',
    ],
    [
      'client_max_window_bits=9.0',
      'client_max_window_bits must be an integer from 8 to 15 without leading zeros',
    ],
    ['foo', 'unknown parameter "foo"'],
    ['max_window_bits=10', 'unknown parameter "max_window_bits"'],
  ];
  for (const [params, reason] of badOffers) {
    it(`declines permessage-deflate; ${params}`, () => {
      const result = negotiateAsServer(parseExtensions(`permessage-deflate; ${params}`), server());
      expect(result).toEqual({ params: null, response: null, declined: [reason] });
      // ... and takes a following valid offer.
      const next = negotiateAsServer(
        parseExtensions(`permessage-deflate; ${params}, permessage-deflate`),
        server(),
      );
      expect(next.response).toBe('permessage-deflate; server_no_context_takeover');
    });
  }
});

describe('RFC 7692 7.1 client: checking the response', () => {
  const ok: Array<[PerMessageDeflateOptions, string, Partial<DeflateParams>]> = [
    [{}, 'permessage-deflate', {}],
    [{}, 'permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: true }],
    [{}, 'permessage-deflate; client_no_context_takeover', { clientNoContextTakeover: true }],
    [{}, 'permessage-deflate; server_max_window_bits=10', { serverMaxWindowBits: 10 }],
    [{}, 'permessage-deflate; client_max_window_bits=8', { clientMaxWindowBits: 8 }],
    [
      { serverNoContextTakeover: true },
      'permessage-deflate; server_no_context_takeover',
      { serverNoContextTakeover: true },
    ],
    [
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_max_window_bits=10',
      { serverMaxWindowBits: 10 },
    ],
    [{ serverMaxWindowBits: 10 }, 'permessage-deflate; server_max_window_bits=9', { serverMaxWindowBits: 9 }],
    // Our offered client_max_window_bits is a promise we keep whatever the server answers.
    [{ clientMaxWindowBits: 9 }, 'permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 9 }],
    [{ clientMaxWindowBits: 9 }, 'permessage-deflate', { clientMaxWindowBits: 9 }],
    [
      { clientMaxWindowBits: 12 },
      'permessage-deflate; client_max_window_bits=10',
      { clientMaxWindowBits: 10 },
    ],
    [{ clientNoContextTakeover: true }, 'permessage-deflate', { clientNoContextTakeover: true }],
    [{}, 'PERMESSAGE-DEFLATE; SERVER_MAX_WINDOW_BITS="11"', { serverMaxWindowBits: 11 }],
  ];
  for (const [opts, response, params] of ok) {
    it(`${JSON.stringify(opts)} accepts ${response}`, () => {
      expect(acceptAsClient(parseExtensions(response), client(opts))).toEqual({ ...DEFAULTS, ...params });
    });
  }

  it('no permessage-deflate in the response: null (uncompressed), with or without an offer', () => {
    expect(acceptAsClient([], client())).toBeNull();
    expect(acceptAsClient([], null)).toBeNull();
  });

  // RFC 7692 7.1: "A client MUST _Fail the WebSocket Connection_ if ..."
  const failures: Array<[PerMessageDeflateOptions | null, string, string]> = [
    [
      null,
      'permessage-deflate',
      'the server accepted the extension "permessage-deflate" that was not offered',
    ],
    [
      {},
      'x-webkit-deflate-frame',
      'the server accepted the extension "x-webkit-deflate-frame" that was not offered',
    ],
    [{}, 'permessage-deflate, permessage-deflate', 'permessage-deflate appears more than once'],
    [{}, 'permessage-deflate; foo', 'unknown parameter "foo"'],
    [
      {},
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      'duplicate parameter server_no_context_takeover',
    ],
    [
      {},
      'permessage-deflate; client_no_context_takeover=1',
      'client_no_context_takeover must not have a value',
    ],
    [
      {},
      'permessage-deflate; client_max_window_bits',
      'client_max_window_bits must have a value in a response',
    ],
    [
      {},
      'permessage-deflate; client_max_window_bits=16',
      'client_max_window_bits must be an integer from 8 to 15 without leading zeros',
    ],
    [
      {},
      'permessage-deflate; server_max_window_bits=7',
      'server_max_window_bits must be an integer from 8 to 15 without leading zeros',
    ],
    [
      { serverNoContextTakeover: true },
      'permessage-deflate',
      'server_no_context_takeover was requested but not accepted',
    ],
    [
      { serverMaxWindowBits: 10 },
      'permessage-deflate',
      'server_max_window_bits was requested but not accepted',
    ],
    [
      { serverMaxWindowBits: 10 },
      'permessage-deflate; server_max_window_bits=11',
      'server_max_window_bits=11 is above the offered 10',
    ],
    [
      { clientMaxWindowBits: false },
      'permessage-deflate; client_max_window_bits=10',
      'client_max_window_bits was not offered',
    ],
  ];
  for (const [opts, response, message] of failures) {
    it(`${JSON.stringify(opts)} fails on ${response}`, () => {
      const result = acceptAsClient(parseExtensions(response), opts === null ? null : client(opts));
      expect(result).toBeInstanceOf(HandshakeError);
      const err = result as HandshakeError;
      const notOffered = message.includes('was not offered"') || message.startsWith('the server accepted');
      expect(err.code).toBe(
        notOffered ? 'WS_ERR_HANDSHAKE_UNREQUESTED_EXTENSION' : 'WS_ERR_HANDSHAKE_EXTENSION_RESPONSE',
      );
      expect(err.status).toBe(0);
      // ws's message; what exactly was wrong is the cause.
      expect(err.message).toBe(
        notOffered
          ? 'Server indicated an extension that was not requested'
          : 'Invalid Sec-WebSocket-Extensions header',
      );
      expect((err.cause as Error).message).toBe(message);
    });
  }
});

describe('RFC 7692 7.1 every option combination, riptide client against riptide server', () => {
  const tri = [undefined, true, false];
  const serverBits = [undefined, true, false, 9, 15];
  const clientBits = [undefined, true, false, 8, 12];
  const all: PerMessageDeflateOptions[] = [];
  for (const serverNoContextTakeover of tri)
    for (const clientNoContextTakeover of tri)
      for (const serverMaxWindowBits of serverBits)
        for (const clientMaxWindowBits of clientBits)
          all.push({
            serverNoContextTakeover,
            clientNoContextTakeover,
            serverMaxWindowBits,
            clientMaxWindowBits,
          });

  afterAll(() => {
    clearZlibPool();
    expect(liveZlibContexts()).toBe(0);
  });

  it(`${all.length} x ${all.length} pairs: the client never fails, both sides agree, declines are explained`, () => {
    const agreed = new Map<string, [DeflateParams, DeflateParams]>();
    let accepted = 0;
    for (const c of all) {
      const copts = client(c);
      const offer = parseExtensions(createOffer(copts));
      for (const s of all) {
        const result = negotiateAsServer(offer, server(s));
        const expectDecline =
          (c.serverNoContextTakeover === true && s.serverNoContextTakeover === false) ||
          (typeof c.serverMaxWindowBits === 'number' && s.serverMaxWindowBits === false) ||
          (typeof s.clientMaxWindowBits === 'number' && c.clientMaxWindowBits === false);
        expect(result.params === null).toBe(expectDecline);
        if (result.params === null) continue;
        accepted++;
        const mine = acceptAsClient(parseExtensions(result.response), copts);
        if (mine === null || mine instanceof HandshakeError)
          throw new Error(`client rejected ${result.response}`);
        const theirs = result.params;
        expect(mine.serverNoContextTakeover).toBe(theirs.serverNoContextTakeover);
        expect(mine.serverMaxWindowBits).toBe(theirs.serverMaxWindowBits);
        // The client may promise more than the server asked for, never less.
        expect(mine.clientMaxWindowBits).toBeLessThanOrEqual(theirs.clientMaxWindowBits);
        if (theirs.clientNoContextTakeover) expect(mine.clientNoContextTakeover).toBe(true);
        // What each side asked for, it got.
        if (c.serverNoContextTakeover === true || s.serverNoContextTakeover === true) {
          expect(mine.serverNoContextTakeover).toBe(true);
        }
        if (typeof c.serverMaxWindowBits === 'number') {
          expect(mine.serverMaxWindowBits).toBeLessThanOrEqual(c.serverMaxWindowBits);
        }
        if (typeof s.serverMaxWindowBits === 'number') {
          expect(mine.serverMaxWindowBits).toBeLessThanOrEqual(s.serverMaxWindowBits);
        }
        if (typeof s.clientMaxWindowBits === 'number') {
          expect(mine.clientMaxWindowBits).toBeLessThanOrEqual(s.clientMaxWindowBits);
        }
        agreed.set(JSON.stringify([mine, theirs]), [mine, theirs]);
      }
    }
    expect(accepted).toBeGreaterThan(all.length * all.length * 0.7);

    // Every distinct agreement carries data both ways, each side using its own view.
    const opts = normalizeDeflateOptions({ threshold: 0 }, 'server')!;
    const text = Buffer.from('{"user":"ada","text":"hello, hello, hello world"}'.repeat(50));
    for (const [mine, theirs] of agreed.values()) {
      const c = new PerMessageDeflate('client', mine, opts);
      const s = new PerMessageDeflate('server', theirs, opts);
      for (const msg of [text, randomBytes(3000), text, Buffer.alloc(0), text]) {
        expectBytes(s.decompress(c.compress(msg, false)!, true, 0), msg);
        expectBytes(c.decompress(s.compress(msg, false)!, true, 0), msg);
      }
      c.close();
      s.close();
    }
    // 2 (server takeover) x 2 (client takeover) x several window sizes per side.
    expect(agreed.size).toBeGreaterThan(30);
  });
});
