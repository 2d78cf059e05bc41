import * as v8 from 'node:v8';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import {
  DEFAULT_HTTP_LIMITS,
  findHeadEnd,
  headTooLarge,
  parseRequestHead,
  resolveLimits,
} from '../../src/handshake/http.js';
import { expectFailure, head, LINEAR_BOUND, RFC_KEY, workGrowth } from './helpers.js';

const BROWSER_REQUEST = head(
  'GET /chat?room=1 HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: keep-alive, Upgrade',
  `Sec-WebSocket-Key: ${RFC_KEY}`,
  'Origin: http://example.com',
  'Sec-WebSocket-Protocol: chat, superchat',
  'Sec-WebSocket-Version: 13',
);

function parseOk(buf: Buffer) {
  const r = parseRequestHead(buf);
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}

describe('RFC 9112 3 Request line', () => {
  it('parses the request line and the headers of a browser handshake', () => {
    const value = parseOk(BROWSER_REQUEST);
    expect(value.method).toBe('GET');
    expect(value.url).toBe('/chat?room=1');
    expect(value.httpVersion).toBe('1.1');
    expect(value.headers).toEqual({
      host: 'server.example.com',
      upgrade: 'websocket',
      connection: 'keep-alive, Upgrade',
      'sec-websocket-key': RFC_KEY,
      origin: 'http://example.com',
      'sec-websocket-protocol': 'chat, superchat',
      'sec-websocket-version': '13',
    });
    expect(value.rawHeaders).toEqual([
      'Host',
      'server.example.com',
      'Upgrade',
      'websocket',
      'Connection',
      'keep-alive, Upgrade',
      'Sec-WebSocket-Key',
      RFC_KEY,
      'Origin',
      'http://example.com',
      'Sec-WebSocket-Protocol',
      'chat, superchat',
      'Sec-WebSocket-Version',
      '13',
    ]);
  });

  it('keeps any method token and an absolute-form target (the validator decides)', () => {
    const value = parseOk(head('M-SEARCH http://a.example/x HTTP/1.0', 'Host: a'));
    expect(value.method).toBe('M-SEARCH');
    expect(value.url).toBe('http://a.example/x');
    expect(value.httpVersion).toBe('1.0');
  });

  it('methods and versions near the constant ones (GET, 1.1, 1.0) are decoded as sent', () => {
    for (const [line, method, version] of [
      ['GET / HTTP/1.1', 'GET', '1.1'],
      ['GET / HTTP/1.0', 'GET', '1.0'],
      ['GEt / HTTP/1.2', 'GEt', '1.2'],
      ['GETS / HTTP/1.9', 'GETS', '1.9'],
      ['PUT / HTTP/1.1', 'PUT', '1.1'],
      ['GE / HTTP/1.1', 'GE', '1.1'],
    ]) {
      const value = parseOk(head(line, 'Host: a'));
      expect([value.method, value.httpVersion]).toEqual([method, version]);
    }
  });

  it('accepts a request with no header fields', () => {
    expect(parseOk(head('GET / HTTP/1.1')).headers).toEqual({});
  });

  it.each([
    ['a double space', 'GET  / HTTP/1.1', 'invalid request line'],
    ['no version', 'GET /', 'invalid request line'],
    ['a trailing space', 'GET / HTTP/1.1 ', 'invalid request line'],
    ['a non-token method', 'G(T / HTTP/1.1', 'invalid request line'],
    ['a space in the target', 'GET /a b HTTP/1.1', 'invalid HTTP version'],
    ['a tab separator', 'GET\t/ HTTP/1.1', 'invalid request line'],
    ['a non-ASCII target', 'GET /\u00e9 HTTP/1.1', 'invalid request line'],
    ['a lowercase version', 'GET / http/1.1', 'invalid HTTP version'],
    ['a non-digit minor version', 'GET / HTTP/1.x', 'invalid HTTP version'],
    ['a two-digit version', 'GET / HTTP/11.1', 'invalid HTTP version'],
    ['no method', '/ HTTP/1.1', 'invalid request line'],
    ['an empty line first', '', 'invalid request line'],
  ])('rejects a request line with %s (400)', (_what, line, detail) => {
    expectFailure(parseRequestHead(head(line, 'Host: a')), 'WS_ERR_HANDSHAKE_MALFORMED', { detail });
  });

  it('rejects a request line ending in a bare LF', () => {
    const buf = Buffer.from('GET / HTTP/1.1\nHost: a\r\n\r\n', 'latin1');
    expectFailure(parseRequestHead(buf), 'WS_ERR_HANDSHAKE_MALFORMED', { detail: 'invalid request line' });
  });

  it('rejects HTTP major versions other than 1 with WS_ERR_HANDSHAKE_HTTP_VERSION (400)', () => {
    expectFailure(parseRequestHead(head('GET / HTTP/2.0', 'Host: a')), 'WS_ERR_HANDSHAKE_HTTP_VERSION');
    expectFailure(parseRequestHead(head('GET / HTTP/0.9', 'Host: a')), 'WS_ERR_HANDSHAKE_HTTP_VERSION');
  });
});

describe('RFC 9112 5 Field syntax', () => {
  it('lowercases names, trims OWS around values and keeps inner whitespace', () => {
    const value = parseOk(head('GET / HTTP/1.1', 'X-Thing:\t  a  b \t', 'X-Empty:', 'X-Empty-Ows:   '));
    expect(value.headers).toEqual({ 'x-thing': 'a  b', 'x-empty': '', 'x-empty-ows': '' });
    expect(value.rawHeaders).toEqual(['X-Thing', 'a  b', 'X-Empty', '', 'X-Empty-Ows', '']);
  });

  it('decodes obs-text in values as latin1, like Node', () => {
    const buf = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\nX-Name: caf'),
      Buffer.from([0xe9]),
      Buffer.from('\r\n\r\n'),
    ]);
    expect(parseOk(buf).headers['x-name']).toBe('caf\u00e9');
  });

  // RFC 9112 5.2: "A server that receives an obs-fold in a request message ... MUST either
  // reject the message by sending a 400 (Bad Request) ... or replace each received obs-fold"
  it('rejects obs-fold (a line starting with SP or HTAB)', () => {
    for (const fold of [' ', '\t']) {
      expectFailure(
        parseRequestHead(head('GET / HTTP/1.1', 'X-A: b', `${fold}continued`)),
        'WS_ERR_HANDSHAKE_MALFORMED',
        { detail: 'obs-fold line folding is not allowed' },
      );
    }
  });

  // RFC 9112 5.1: "A server MUST reject, with a response status code of 400 (Bad Request), any
  // received request message that contains whitespace between a header field name and colon."
  it('rejects whitespace between a field name and the colon', () => {
    expectFailure(parseRequestHead(head('GET / HTTP/1.1', 'Host : a')), 'WS_ERR_HANDSHAKE_MALFORMED', {
      detail: 'whitespace before the colon of a header',
    });
  });

  it.each([
    ['a separator in the name', 'Bad@Name: x'],
    ['no colon', 'NoColon'],
    ['an empty name', ': x'],
    ['a non-ASCII name', 'N\u00e4me: x'],
  ])('rejects a header line with %s', (_what, line) => {
    expectFailure(parseRequestHead(head('GET / HTTP/1.1', line)), 'WS_ERR_HANDSHAKE_MALFORMED', {
      detail: 'invalid header name',
    });
  });

  it.each([
    ['NUL', '\u0000'],
    ['DEL', '\u007f'],
    ['a C0 control', '\u0001'],
    ['ESC', '\u001b'],
  ])('rejects %s in a field value', (_what, ch) => {
    expectFailure(parseRequestHead(head('GET / HTTP/1.1', `X: a${ch}b`)), 'WS_ERR_HANDSHAKE_MALFORMED', {
      detail: 'invalid character in a header value',
    });
  });

  // Policy: bare LF and bare CR are never line endings here (see http.ts).
  it('rejects a bare LF inside the header section', () => {
    const buf = Buffer.from('GET / HTTP/1.1\r\nX: a\nY: b\r\n\r\n', 'latin1');
    expectFailure(parseRequestHead(buf), 'WS_ERR_HANDSHAKE_MALFORMED', { detail: 'bare LF line ending' });
  });

  it('rejects a bare CR inside a field value', () => {
    const buf = Buffer.from('GET / HTTP/1.1\r\nX: a\rY: b\r\n\r\n', 'latin1');
    expectFailure(parseRequestHead(buf), 'WS_ERR_HANDSHAKE_MALFORMED', { detail: 'bare CR' });
  });

  it('rejects a head that does not end with the empty line', () => {
    for (const text of ['GET / HTTP/1.1\r\nHost: a\r\n', 'GET / HTTP/1.1\n\n', '', '\r\n\r']) {
      expectFailure(parseRequestHead(Buffer.from(text, 'latin1')), 'WS_ERR_HANDSHAKE_MALFORMED', {
        detail: 'the head must end with an empty line',
      });
    }
  });

  it('rejects bytes after the first empty line', () => {
    const buf = Buffer.from('GET / HTTP/1.1\r\n\r\nX: a\r\n\r\n', 'latin1');
    expectFailure(parseRequestHead(buf), 'WS_ERR_HANDSHAKE_MALFORMED', {
      detail: 'bytes after the empty line',
    });
  });
});

describe('RFC 9110 5.3 Repeated fields, shaped like IncomingMessage.headers', () => {
  it('joins repeated fields with ", " in order', () => {
    const value = parseOk(
      head('GET / HTTP/1.1', 'Connection: keep-alive', 'X-A: 1', 'connection: Upgrade', 'x-a: 2', 'X-A: 3'),
    );
    expect(value.headers.connection).toBe('keep-alive, Upgrade');
    expect(value.headers['x-a']).toBe('1, 2, 3');
    expect(value.rawHeaders).toHaveLength(10);
  });

  it('joins Cookie lines with "; " and keeps the first of single-valued fields', () => {
    const value = parseOk(
      head('GET / HTTP/1.1', 'Cookie: a=1', 'User-Agent: first', 'cookie: b=2', 'user-agent: second'),
    );
    expect(value.headers.cookie).toBe('a=1; b=2');
    expect(value.headers['user-agent']).toBe('first');
    expect(value.rawHeaders).toEqual([
      'Cookie',
      'a=1',
      'User-Agent',
      'first',
      'cookie',
      'b=2',
      'user-agent',
      'second',
    ]);
  });

  // RFC 9112 3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
  // request message that ... contains more than one Host header field line"
  it('rejects a request with two Host lines', () => {
    expectFailure(
      parseRequestHead(head('GET / HTTP/1.1', 'Host: a', 'host: b')),
      'WS_ERR_HANDSHAKE_MALFORMED',
      {
        detail: 'more than one Host header',
      },
    );
  });

  // RFC 9112 6.3: repeated Content-Length lines make the framing ambiguous; keeping the first
  // (as for other single-valued fields) would hide a body behind "Content-Length: 0".
  it('rejects a request with two Content-Length lines, even equal ones', () => {
    for (const second of ['Content-Length: 5', 'content-length: 0']) {
      expectFailure(
        parseRequestHead(head('GET / HTTP/1.1', 'Host: a', 'Content-Length: 0', second)),
        'WS_ERR_HANDSHAKE_MALFORMED',
        { detail: 'more than one Content-Length header' },
      );
    }
    expect(parseOk(head('GET / HTTP/1.1', 'Host: a', 'Content-Length: 0')).headers['content-length']).toBe(
      '0',
    );
  });

  it('stores a header named __proto__ as data (the object has no prototype)', () => {
    const value = parseOk(head('GET / HTTP/1.1', '__proto__: x', 'constructor: y'));
    expect(Object.getPrototypeOf(value.headers)).toBe(null);
    expect(Object.keys(value.headers)).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(value.headers, '__proto__')?.value).toBe('x');
  });

  it("builds a browser request's headers as a fast-mode object, not a hash table (V8)", () => {
    // %HasFastProperties is V8's own answer; the flag only applies to functions compiled after it.
    v8.setFlagsFromString('--allow-natives-syntax');
    const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
    const browser = [
      'GET /chat HTTP/1.1',
      'Host: chat.example.com',
      'Connection: Upgrade',
      'Pragma: no-cache',
      'Cache-Control: no-cache',
      'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)',
      'Upgrade: websocket',
      'Origin: https://chat.example.com',
      'Sec-WebSocket-Version: 13',
      'Accept-Encoding: gzip, deflate, br',
      'Accept-Language: en-US,en;q=0.9',
      'Cookie: session=abc',
      `Sec-WebSocket-Key: ${RFC_KEY}`,
      'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits',
    ];
    const { headers } = parseOk(head(...browser));
    expect(Object.keys(headers)).toHaveLength(13);
    expect(hasFastProperties(headers)).toBe(true);
    // The probe itself tells the two apart.
    expect(hasFastProperties(Object.create(null))).toBe(false);
  });
});

describe('RFC 6585 5 Header limits (431)', () => {
  function withHeaders(count: number): Buffer {
    const lines = ['GET / HTTP/1.1'];
    for (let i = 0; i < count; i++) lines.push(`X-${i}: v`);
    return head(...lines);
  }

  it('has the documented defaults', () => {
    expect(DEFAULT_HTTP_LIMITS).toEqual({ maxHeaderBytes: 16384, maxHeaders: 100 });
    expect(Object.isFrozen(DEFAULT_HTTP_LIMITS)).toBe(true);
  });

  it('accepts exactly maxHeaders fields and rejects one more', () => {
    expect(parseRequestHead(withHeaders(100)).ok).toBe(true);
    expectFailure(parseRequestHead(withHeaders(101)), 'WS_ERR_HANDSHAKE_TOO_MANY_HEADERS', {
      detail: 'above 100',
    });
    expect(parseRequestHead(withHeaders(3), { maxHeaders: 3 }).ok).toBe(true);
    expectFailure(parseRequestHead(withHeaders(4), { maxHeaders: 3 }), 'WS_ERR_HANDSHAKE_TOO_MANY_HEADERS', {
      detail: 'above 3',
    });
  });

  it('accepts a head of exactly maxHeaderBytes and rejects one byte more', () => {
    const base = head('GET / HTTP/1.1', 'X: ').length;
    const sized = (total: number) => head('GET / HTTP/1.1', `X: ${'v'.repeat(total - base)}`);
    expect(sized(16384)).toHaveLength(16384);
    expect(parseRequestHead(sized(16384)).ok).toBe(true);
    expectFailure(parseRequestHead(sized(16385)), 'WS_ERR_HANDSHAKE_HEADERS_TOO_LARGE', {
      detail: 'above 16384 bytes',
    });
    expect(parseRequestHead(sized(100), { maxHeaderBytes: 100 }).ok).toBe(true);
    expectFailure(
      parseRequestHead(sized(101), { maxHeaderBytes: 100 }),
      'WS_ERR_HANDSHAKE_HEADERS_TOO_LARGE',
      {
        detail: 'above 100 bytes',
      },
    );
  });

  it('checks the size before the syntax (an oversized garbage head is a 431, not a 400)', () => {
    const garbage = Buffer.alloc(20000, 0);
    expectFailure(parseRequestHead(garbage), 'WS_ERR_HANDSHAKE_HEADERS_TOO_LARGE', {
      detail: 'above 16384 bytes',
    });
  });

  it('headTooLarge() tells an incremental reader when to give up', () => {
    expect(headTooLarge(16384)).toBe(false);
    expect(headTooLarge(16385)).toBe(true);
    expect(headTooLarge(11, { maxHeaderBytes: 10 })).toBe(true);
  });

  it.each([
    [{ maxHeaderBytes: 0 }, 'HTTP limit maxHeaderBytes must be a positive integer, got 0'],
    [{ maxHeaders: -1 }, 'HTTP limit maxHeaders must be a positive integer, got -1'],
    [{ maxHeaders: 1.5 }, 'HTTP limit maxHeaders must be a positive integer, got 1.5'],
    [{ maxHeaders: '10' }, 'HTTP limit maxHeaders must be a positive integer, got 10'],
    [{ maxHeaderSize: 10 }, 'Unknown HTTP limit "maxHeaderSize" (expected maxHeaderBytes, maxHeaders)'],
    [null, 'HTTP limits must be an object'],
  ])('throws UsageError for bad limits %j', (limits, message) => {
    const call = () => parseRequestHead(head('GET / HTTP/1.1'), limits as never);
    expect(call).toThrow(UsageError);
    expect(call).toThrow(message);
    expect(() => resolveLimits(limits as never)).toThrow(message);
  });

  it('throws UsageError when the head is not a Buffer', () => {
    expect(() => parseRequestHead('GET / HTTP/1.1\r\n\r\n' as never)).toThrow('head must be a Buffer');
  });
});

describe('findHeadEnd (incremental reading, after h11 tr(): whole, byte by byte, with trailing bytes)', () => {
  const request = head('GET / HTTP/1.1', 'Host: a');

  it('finds the end of a whole head', () => {
    expect(findHeadEnd(request, 0)).toBe(request.length);
  });

  it('finds the end when the head arrives one byte at a time', () => {
    let buf = Buffer.alloc(0);
    let found: ReturnType<typeof findHeadEnd> = -1;
    for (let i = 0; i < request.length; i++) {
      const from = buf.length;
      buf = Buffer.concat([buf, request.subarray(i, i + 1)]);
      found = findHeadEnd(buf, from);
      if (i < request.length - 1) expect(found).toBe(-1);
    }
    expect(found).toBe(request.length);
  });

  it('finds the end when "\\r\\n\\r\\n" is split at every possible point across two chunks', () => {
    for (let cut = request.length - 4; cut < request.length; cut++) {
      const first = request.subarray(0, cut);
      expect(findHeadEnd(first, 0)).toBe(-1);
      expect(findHeadEnd(request, first.length)).toBe(request.length);
    }
  });

  it('stops at the first empty line when frame bytes follow the head', () => {
    const withFrames = Buffer.concat([request, Buffer.from([0x81, 0x85, 0x0d, 0x0a, 0x0d, 0x0a])]);
    expect(findHeadEnd(withFrames, 0)).toBe(request.length);
    const r = parseRequestHead(withFrames.subarray(0, findHeadEnd(withFrames, 0) as number));
    expect(r.ok).toBe(true);
  });

  it('returns -1 without an empty line', () => {
    expect(findHeadEnd(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n'), 0)).toBe(-1);
    expect(findHeadEnd(Buffer.alloc(0), 0)).toBe(-1);
  });

  it('returns -1 for a CR that ends a chunk (its LF may come next)', () => {
    const buf = Buffer.from('GET / HTTP/1.1\r\nHost: a\r', 'latin1');
    expect(findHeadEnd(buf, 0)).toBe(-1);
    expect(findHeadEnd(Buffer.concat([buf, Buffer.from('\n')]), buf.length)).toBe(-1);
  });
});

// Regression: a head whose lines end in a bare LF holds no "\r\n\r\n", so its client waited
// for the handshake deadline; node:http answers it 400 at once (RFC 9112 2.2: recognise a bare
// LF or reject the message, here reject).
describe('RFC 9112 2.2 findHeadEnd refuses a head that can never end, on the chunk that shows it', () => {
  const cases: Array<[string, string, string]> = [
    ['a bare LF ending the request line', 'GET / HTTP/1.1\nHost: a\n\n', 'bare LF line ending'],
    ['a bare LF at the start', '\nGET / HTTP/1.1\r\nHost: a\r\n', 'bare LF line ending'],
    ['a bare LF in the middle', 'GET / HTTP/1.1\r\nHost: a\nX: b\r\n', 'bare LF line ending'],
    ['a bare LF as the final empty line', 'GET / HTTP/1.1\r\nHost: a\r\n\n', 'bare LF line ending'],
    ['bare CR line endings', 'GET / HTTP/1.1\rHost: a\r\r', 'bare CR'],
    ['a bare CR in a value', 'GET / HTTP/1.1\r\nHost: a\rb\r\n', 'bare CR'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nHost: a\u0000b', 'control character'],
    ['a NUL in the request line', 'GET /\u0000 HTTP/1.1', 'control character'],
    ['another control character', 'GET / HTTP/1.1\r\nHost: a\u0001b', 'control character'],
    ['a DEL', 'GET / HTTP/1.1\r\nHost: a\u007fb', 'control character'],
  ];

  /** Index of the byte that shows the head can never end: a stray LF or control, or the byte after a bare CR. */
  function badAt(buf: Buffer): number {
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i];
      if (b === 0x0d) {
        if (i + 1 < buf.length && buf[i + 1] !== 0x0a) return i + 1;
        i++;
      } else if (b === 0x0a || (b < 0x20 && b !== 0x09) || b === 0x7f) {
        return i;
      }
    }
    throw new Error('no bad byte');
  }

  it.each(cases)('refuses %s whole (400)', (_what, text, detail) => {
    const buf = Buffer.from(text, 'latin1');
    expectFailure({ ok: false, error: findHeadEnd(buf, 0) }, 'WS_ERR_HANDSHAKE_MALFORMED', { detail });
  });

  it.each(cases)(
    'refuses %s split in two at every byte, on the chunk with the bad byte',
    (_what, text, detail) => {
      const buf = Buffer.from(text, 'latin1');
      const bad = badAt(buf);
      for (let cut = 0; cut <= buf.length; cut++) {
        const first = findHeadEnd(buf.subarray(0, cut), 0);
        if (cut > bad) {
          expectFailure({ ok: false, error: first }, 'WS_ERR_HANDSHAKE_MALFORMED', { detail });
        } else {
          expect(first).toBe(-1);
          expectFailure({ ok: false, error: findHeadEnd(buf, cut) }, 'WS_ERR_HANDSHAKE_MALFORMED', {
            detail,
          });
        }
      }
    },
  );

  it.each(cases)('refuses %s fed one byte at a time, at the bad byte', (_what, text, detail) => {
    const buf = Buffer.from(text, 'latin1');
    const bad = badAt(buf);
    for (let len = 1; len <= buf.length; len++) {
      const r = findHeadEnd(buf.subarray(0, len), len - 1);
      if (len <= bad) expect(r).toBe(-1);
      else {
        expectFailure({ ok: false, error: r }, 'WS_ERR_HANDSHAKE_MALFORMED', { detail });
        return;
      }
    }
    throw new Error('never refused');
  });

  it('leaves a chunk that holds the end to parseRequestHead, which refuses the same bytes', () => {
    const buf = Buffer.from('GET / HTTP/1.1\nHost: a\r\n\r\n', 'latin1');
    expect(findHeadEnd(buf, 0)).toBe(buf.length);
    expectFailure(parseRequestHead(buf), 'WS_ERR_HANDSHAKE_MALFORMED', { detail: 'invalid request line' });
  });

  it('accepts HTAB and obs-text while the head is incomplete (field values may hold them)', () => {
    expect(findHeadEnd(Buffer.from('GET / HTTP/1.1\r\nX: a\tb\u00ff', 'latin1'), 0)).toBe(-1);
  });
});

describe('Fuzz: arbitrary bytes only produce documented results', () => {
  const documented = new Set([
    'WS_ERR_HANDSHAKE_MALFORMED',
    'WS_ERR_HANDSHAKE_HTTP_VERSION',
    'WS_ERR_HANDSHAKE_HEADERS_TOO_LARGE',
    'WS_ERR_HANDSHAKE_TOO_MANY_HEADERS',
  ]);

  it('never throws on arbitrary bytes, with or without a proper ending', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc
        .array(fc.constantFrom(...'GET / HTTP/1.1\r\n:Host a\t\x00\xff'.split('')), { maxLength: 200 })
        .map((cs) => Buffer.from(`${cs.join('')}\r\n\r\n`, 'latin1')),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        const buf = Buffer.from(b);
        const r = parseRequestHead(buf, { maxHeaders: 5 });
        if (!r.ok) expect(documented.has(r.error.code)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the spelling of common field names as sent, in any case, and keys them lowercase', () => {
    const common = ['Host', 'Upgrade', 'Connection', 'Sec-WebSocket-Key', 'Sec-WebSocket-Version', 'Origin'];
    const spelled = fc
      .tuple(fc.constantFrom(...common), fc.array(fc.boolean(), { minLength: 21, maxLength: 21 }))
      .map(([n, upper]) => [...n].map((ch, i) => (upper[i] ? ch.toUpperCase() : ch.toLowerCase())).join(''));
    fc.assert(
      fc.property(spelled, (name) => {
        const value = parseOk(head('GET / HTTP/1.1', `${name}: v`));
        expect(value.rawHeaders).toEqual([name, 'v']);
        expect(Object.keys(value.headers)).toEqual([name.toLowerCase()]);
      }),
      { numRuns: 300 },
    );
    // Same lengths as common names, one byte off: decoded as sent.
    const near = parseOk(
      head('GET / HTTP/1.1', 'Hosu: a', 'Sec-WebSocket-Kez: b', 'upgradE: c', 'Origin-: d'),
    );
    expect(near.rawHeaders).toEqual(['Hosu', 'a', 'Sec-WebSocket-Kez', 'b', 'upgradE', 'c', 'Origin-', 'd']);
    expect(Object.keys(near.headers)).toEqual(['hosu', 'sec-websocket-kez', 'upgrade', 'origin-']);
  });

  it('common values come back exactly as sent, near misses and other casings included', () => {
    const values = [
      'websocket',
      'WebSocket',
      'websockeT',
      'websocke',
      'Upgrade',
      'upgrade',
      'Upgradf',
      '13',
      '8',
      '14',
      'keep-alive, Upgrade',
      'Keep-Alive, Upgrade',
      'keep-alive, upgrade',
      'keep-alive, Upgradf',
    ];
    const parsed = parseOk(head('GET / HTTP/1.1', ...values.map((v, i) => `X-${i}: ${v}`)));
    expect(parsed.rawHeaders.filter((_, i) => i % 2 === 1)).toEqual(values);
    expect(values.map((_, i) => parsed.headers[`x-${i}`])).toEqual(values);
  });

  it('round-trips generated header fields through the parser', () => {
    const tchar = fc.constantFrom(
      ..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    );
    const name = fc.array(tchar, { minLength: 1, maxLength: 12 }).map((a) => a.join(''));
    const valueChar = fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f);
    const value = fc
      .array(valueChar, { maxLength: 20 })
      .map((cs) => String.fromCharCode(...cs).trim())
      .filter((v) => !/^[ \t]|[ \t]$/.test(v));
    fc.assert(
      fc.property(fc.array(fc.tuple(name, value), { maxLength: 20 }), (fields) => {
        const filtered = fields.filter(([n]) => n.toLowerCase() !== 'host');
        const r = parseRequestHead(head('GET / HTTP/1.1', ...filtered.map(([n, v]) => `${n}: ${v}`)));
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.value.rawHeaders).toEqual(filtered.flat());
      }),
      { numRuns: 500 },
    );
  });
});

function distinct(count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(`X-${i}: v`);
  return out;
}

describe('Linear time (CVE-2021-32640 class): 16x the input costs about 16x the counted work, not 256x', () => {
  const big = { maxHeaderBytes: 64 * 1024 * 1024, maxHeaders: 10_000_000 };
  const cases: Array<[string, (n: number) => Buffer]> = [
    ['a value of spaces', (n) => head('GET / HTTP/1.1', `X: ${' '.repeat(n)}y${' \t'.repeat(n / 2)}`)],
    ['a name without a colon', (n) => head('GET / HTTP/1.1', 'a'.repeat(n))],
    ['a value made of ", "', (n) => head('GET / HTTP/1.1', `Connection: ${', '.repeat(n / 2)}`)],
    // All named X-a: every line after the first is joined onto one growing value.
    ['many repeated fields', (n) => Buffer.from(`GET / HTTP/1.1\r\n${'X-a: b\r\n'.repeat(n / 8)}\r\n`)],
    [
      'many distinct fields',
      (n) => Buffer.from(`GET / HTTP/1.1\r\n${distinct(n / 16).join('\r\n')}\r\n\r\n`),
    ],
    ['a target of slashes', (n) => head(`GET ${'/'.repeat(n)} HTTP/1.1`)],
  ];

  it.each(cases)('parses a head of 4 KiB then 64 KiB with %s in linear time', (_what, make) => {
    const ratio = workGrowth(make, (buf) => parseRequestHead(buf, big), 4 * 1024);
    expect(ratio).toBeLessThan(LINEAR_BOUND);
  });

  it('findHeadEnd called once per byte stays linear', () => {
    const make = (n: number) => Buffer.from(`GET / HTTP/1.1\r\n${'X\r\n'.repeat(n / 3)}\r\n`, 'latin1');
    const ratio = workGrowth(
      make,
      (buf) => {
        for (let len = 1; len <= buf.length; len += 1024) findHeadEnd(buf.subarray(0, len), len - 1024);
      },
      4 * 1024,
    );
    expect(ratio).toBeLessThan(LINEAR_BOUND);
  });
});
