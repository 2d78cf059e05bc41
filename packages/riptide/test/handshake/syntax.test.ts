/**
 * handshake/syntax.ts: the RFC 9110 character classes (token, field value, request-target) as
 * lookup tables, and the guards on every header this library writes.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import {
  assertHeader,
  checkExtraHeaders,
  FIELD_VALUE_CHAR,
  HEAD_CTL,
  isFieldValue,
  isOws,
  isToken,
  TARGET_CHAR,
  TCHAR,
} from '../../src/handshake/syntax.js';

/** The bytes of a 256-entry table that are set, as a string of code points. */
function members(table: Uint8Array): number[] {
  expect(table).toHaveLength(256);
  const out: number[] = [];
  for (let c = 0; c < 256; c++) {
    expect(table[c] === 0 || table[c] === 1, `entry ${c}`).toBe(true);
    if (table[c] === 1) out.push(c);
  }
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const codes = (s: string) => [...s].map((ch) => ch.charCodeAt(0));

// RFC 9110 5.6.2: the delimiters, which are exactly the VCHARs that are not tchar.
const DELIMITERS = '"(),/:;<=>?@[\\]{}';

describe('TCHAR (RFC 9110 5.6.2)', () => {
  it("holds exactly DIGIT, ALPHA and !#$%&'*+-.^_`|~", () => {
    const expected = [
      ...codes("!#$%&'*+-.^_`|~"),
      ...range(0x30, 0x39),
      ...range(0x41, 0x5a),
      ...range(0x61, 0x7a),
    ].sort((a, b) => a - b);
    expect(members(TCHAR)).toEqual(expected);
    expect(expected).toHaveLength(77);
  });

  it('a VCHAR is a tchar unless it is one of the delimiters', () => {
    for (const c of range(0x21, 0x7e))
      expect(TCHAR[c], String.fromCharCode(c)).toBe(DELIMITERS.includes(String.fromCharCode(c)) ? 0 : 1);
  });
});

describe('isToken', () => {
  it.each(['websocket', 'Upgrade', 'permessage-deflate', 'chat.v2', "!#$%&'*+-.^_`|~", '0', 'x-riptide_1'])(
    'accepts %j',
    (s) => {
      expect(isToken(s)).toBe(true);
    },
  );

  it.each([
    ['the empty string', ''],
    ['a space', 'a b'],
    ['a leading space', ' a'],
    ['a trailing HTAB', 'a\t'],
    ['a quoted-string', '"chat"'],
    ['a comma (list separator)', 'a,b'],
    ['a semicolon (parameter separator)', 'a;b'],
    ['an equals sign', 'a=b'],
    ['a slash', 'text/plain'],
    ['a colon', 'Host:'],
    ['brackets and braces', '[a]{b}'],
    ['CR LF (header injection)', 'a\r\nX-Evil: 1'],
    ['NUL', 'a\0'],
    ['DEL (0x7f)', 'a\x7f'],
    ['obs-text (0x80-0xff)', 'caf\u00e9'],
    ['a character above U+00FF', 'a\u0100'],
    ['a character above U+00FF whose low byte is a tchar (U+0161)', '\u0161'],
    ['an astral character', 'a\u{1f600}'],
  ])('refuses %s', (_name, s) => {
    expect(isToken(s)).toBe(false);
  });

  it('refuses every delimiter on its own', () => {
    for (const ch of DELIMITERS) expect(isToken(ch), ch).toBe(false);
  });

  it('refuses values that are not strings (callers pass user input)', () => {
    for (const v of [undefined, null, 1, ['a'], { toString: () => 'a' }])
      expect(isToken(v as unknown as string)).toBe(false);
  });
});

describe('FIELD_VALUE_CHAR and isFieldValue (RFC 9110 5.5)', () => {
  it('the table holds HTAB, SP, VCHAR and obs-text, and no other control character', () => {
    expect(members(FIELD_VALUE_CHAR)).toEqual([0x09, ...range(0x20, 0x7e), ...range(0x80, 0xff)]);
  });

  it.each([
    ['the empty string', ''],
    ['a plain value', 'Upgrade'],
    ['a list with OWS', 'keep-alive, Upgrade'],
    ['a quoted-string with a backslash escape', '"a \\"b\\""'],
    ['HTAB inside', 'a\tb'],
    ['obs-text (Latin-1)', 'caf\u00e9 \u00ff'],
    ['every VCHAR', String.fromCharCode(...range(0x21, 0x7e))],
  ])('accepts %s', (_name, s) => {
    expect(isFieldValue(s)).toBe(true);
  });

  it.each([
    ['CR', 'a\rb'],
    ['LF', 'a\nb'],
    ['CR LF (header injection)', 'a\r\nSet-Cookie: x=1'],
    ['NUL', 'a\0b'],
    ['another C0 control (0x01)', 'a\u0001b'],
    ['vertical tab', 'a\u000bb'],
    ['DEL (0x7f)', 'a\x7fb'],
    ['a character above U+00FF', 'a\u0100'],
    // Its low byte, 0x0a, is LF: a check that truncated to a byte would pass it.
    ['U+010A, whose low byte is LF', 'a\u010ab'],
    ['a lone surrogate', 'a\ud800'],
  ])('refuses %s', (_name, s) => {
    expect(isFieldValue(s)).toBe(false);
  });

  it('refuses values that are not strings', () => {
    for (const v of [undefined, null, 1, ['a']]) expect(isFieldValue(v as unknown as string)).toBe(false);
  });
});

describe('HEAD_CTL (RFC 5234 B.1 CTL)', () => {
  it('is every CTL but HTAB, CR and LF: bytes no head may hold anywhere', () => {
    expect(members(HEAD_CTL)).toEqual([...range(0x00, 0x08), 0x0b, 0x0c, ...range(0x0e, 0x1f), 0x7f]);
  });

  it('holds no byte a field value, a token or a request-target may hold', () => {
    for (let c = 0; c < 256; c++) {
      if (HEAD_CTL[c] === 1) expect(FIELD_VALUE_CHAR[c] + TCHAR[c] + TARGET_CHAR[c], `byte ${c}`).toBe(0);
    }
  });
});

describe('TARGET_CHAR and isOws', () => {
  it('a request-target byte is a VCHAR: no SP, no control, no obs-text', () => {
    expect(members(TARGET_CHAR)).toEqual(range(0x21, 0x7e));
  });

  it('OWS is SP or HTAB only (RFC 9110 5.6.3)', () => {
    const ows = range(0, 0xffff).filter(isOws);
    expect(ows).toEqual([0x09, 0x20]);
  });
});

describe('assertHeader (headers this library writes)', () => {
  it('passes a token name with a field value', () => {
    expect(() => assertHeader('X-Trace', 'abc, def', 'here')).not.toThrow();
    expect(() => assertHeader('X-Empty', '', 'here')).not.toThrow();
  });

  it('throws UsageError WS_ERR_INVALID_HEADER for a name that is not a token, naming the caller', () => {
    const thrown = (() => {
      try {
        assertHeader('Bad Name', 'v', 'new WebSocket()');
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(UsageError);
    expect(thrown).toMatchObject({
      code: 'WS_ERR_INVALID_HEADER',
      message: 'new WebSocket(): invalid header name "Bad Name"',
    });
    expect(() => assertHeader('', 'v', 'x')).toThrow('x: invalid header name ""');
    expect(() => assertHeader('X:Y', 'v', 'x')).toThrow(UsageError);
  });

  it('throws for a value with CR/LF (no header injection), naming the header', () => {
    expect(() => assertHeader('X-A', 'a\r\nX-Injected: 1', 'x')).toThrow(
      'x: invalid header value for "X-A" (control characters such as CR/LF, or characters above U+00FF, are not allowed)',
    );
    expect(() => assertHeader('X-A', 'a\u0100', 'x')).toThrow(UsageError);
  });
});

describe('checkExtraHeaders (a caller-supplied headers object)', () => {
  const reserved = new Set(['upgrade', 'sec-websocket-key']);

  it('undefined gives no headers', () => {
    expect(checkExtraHeaders(undefined, reserved, 'x')).toEqual([]);
  });

  it('returns the own enumerable pairs in order, as given (case kept)', () => {
    const proto = { Inherited: 'no' };
    const headers = Object.create(proto) as Record<string, string>;
    headers['X-B'] = '2';
    headers['x-a'] = '1';
    Object.defineProperty(headers, 'X-Hidden', { value: 'no', enumerable: false });
    expect(checkExtraHeaders(headers, reserved, 'x')).toEqual([
      ['X-B', '2'],
      ['x-a', '1'],
    ]);
  });

  it.each([
    ['null', null],
    ['an array', [['X-A', '1']]],
    ['a string', 'X-A: 1'],
  ])('refuses %s', (_name, headers) => {
    expect(() => checkExtraHeaders(headers as unknown as Record<string, string>, reserved, 'x')).toThrow(
      new UsageError('WS_ERR_INVALID_HEADER', 'x: headers must be an object of strings'),
    );
  });

  it('refuses a value that is not a string (no silent String(value))', () => {
    expect(() => checkExtraHeaders({ 'X-N': 1 } as unknown as Record<string, string>, reserved, 'x')).toThrow(
      'x: the value of header "X-N" must be a string',
    );
  });

  it('refuses a bad name or value with the assertHeader messages', () => {
    expect(() => checkExtraHeaders({ 'X A': '1' }, reserved, 'x')).toThrow('x: invalid header name "X A"');
    expect(() => checkExtraHeaders({ 'X-A': 'a\nb' }, reserved, 'x')).toThrow(
      'x: invalid header value for "X-A"',
    );
  });

  it('refuses the names the handshake writes itself, in any case', () => {
    for (const name of ['Upgrade', 'UPGRADE', 'Sec-WebSocket-Key'])
      expect(() => checkExtraHeaders({ [name]: 'v' }, reserved, 'x')).toThrow(
        `x: header ${JSON.stringify(name)} is set by the handshake itself and cannot be given in headers`,
      );
    expect(checkExtraHeaders({ Connection: 'x' }, reserved, 'x')).toEqual([['Connection', 'x']]);
  });
});
