import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import {
  type ExtensionOffer,
  formatExtensionList,
  parseExtensionList,
  parseProtocolList,
  parseTokenList,
  tokenListHas,
} from '../../src/handshake/header-lists.js';
import { LINEAR_BOUND, workGrowth } from './helpers.js';

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = fc.array(fc.constantFrom(...TCHARS), { minLength: 1, maxLength: 10 }).map((a) => a.join(''));
const ows = fc.constantFrom('', ' ', '\t', '  ', ' \t ');

describe('RFC 9110 5.6.1 Token lists (Connection, Upgrade)', () => {
  it.each([
    ['Upgrade', ['upgrade']],
    ['keep-alive, Upgrade', ['keep-alive', 'upgrade']],
    ['  keep-alive ,\tUPGRADE  ', ['keep-alive', 'upgrade']],
    [', , Upgrade,,', ['upgrade']],
    ['websocket/13, h2c', ['websocket/13', 'h2c']],
    ['', []],
    [' , ', []],
  ])('parses %j', (value, expected) => {
    expect(parseTokenList(value)).toEqual(expected);
  });

  it('reads an absent header as an empty list and an array as its values joined', () => {
    expect(parseTokenList(undefined)).toEqual([]);
    expect(parseTokenList(['keep-alive', 'Upgrade, x'])).toEqual(['keep-alive', 'upgrade', 'x']);
  });

  it.each(['keep alive', 'a;b', 'a/', '/a', 'a/b/c', '"upgrade"', 'upgr\u00e4de', 'a,b c'])(
    'rejects %j',
    (value) => {
      expect(parseTokenList(value)).toBeNull();
    },
  );
});

describe('tokenListHas: the same answer as parseTokenList, without building the list', () => {
  it.each([
    ['Upgrade', 'upgrade', true],
    ['keep-alive, UPGRADE', 'upgrade', true],
    ['keep-alive', 'upgrade', false],
    ['upgrades', 'upgrade', false],
    ['upgrad', 'upgrade', false],
    ['websocket/13', 'websocket', false],
    [', , WebSocket ,,', 'websocket', true],
    ['', 'websocket', false],
    ['keep alive, upgrade', 'upgrade', null],
    ['upgrade, a;b', 'upgrade', null],
    ['upgrade/', 'upgrade', null],
  ] as const)('%j has %j: %j', (value, tok, expected) => {
    expect(tokenListHas(value, tok)).toBe(expected);
  });

  it('absent headers and repeated lines (arrays) answer like parseTokenList', () => {
    expect(tokenListHas(undefined, 'upgrade')).toBe(false);
    expect(tokenListHas(['keep-alive', 'Upgrade'], 'upgrade')).toBe(true);
    expect(tokenListHas(['keep-alive', 'a b'], 'upgrade')).toBeNull();
  });

  it('agrees with parseTokenList on arbitrary strings and lists (fast-check)', () => {
    const piece = fc.oneof(
      token,
      ows,
      fc.constantFrom(',', '/', ';', '"', 'Upgrade', 'websocket', 'WebSocket'),
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 12 }),
        fc.constantFrom('upgrade', 'websocket'),
        (parts, tok) => {
          const value = parts.join('');
          const list = parseTokenList(value);
          expect(tokenListHas(value, tok)).toBe(list === null ? null : list.includes(tok));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('RFC 6455 4.1 Sec-WebSocket-Protocol (1#token, unique)', () => {
  it.each([
    ['chat', ['chat']],
    ['chat, superchat', ['chat', 'superchat']],
    ['\tchat ,superchat\t', ['chat', 'superchat']],
    ['chat,', ['chat']],
    ['Chat, chat', ['Chat', 'chat']],
    ['v1.json.example.com, v2.json.example.com', ['v1.json.example.com', 'v2.json.example.com']],
  ])('parses %j (case preserved)', (value, expected) => {
    expect(parseProtocolList(value)).toEqual(expected);
  });

  // RFC 6455 4.1: elements "MUST all be unique strings"
  it.each([
    ['a duplicate', 'chat, chat'],
    ['a duplicate after others', 'a, b, c, b'],
    ['an empty value', ''],
    ['only commas', ', ,'],
    ['a space inside an element', 'my chat'],
    ['a separator', 'chat/1'],
    ['a quoted element', '"chat"'],
    ['a non-ASCII element', 'ch\u00e4t'],
  ])('rejects %s', (_what, value) => {
    expect(parseProtocolList(value)).toBeNull();
  });

  it('finds a duplicate at the end of a header-sized list of distinct tokens', () => {
    // 16 KB of distinct tokens (the default maxHeaderBytes), then the first one again. (Growth
    // tests leave out lists of many distinct short tokens: their cost is dominated by the
    // allocation of one string per token, so the timing measures the GC, not the scan.)
    const tokens = Array.from({ length: 2000 }, (_, i) => `p${i}`);
    expect(parseProtocolList(tokens.join(', '))).toEqual(tokens);
    expect(parseProtocolList([...tokens, 'p0'].join(', '))).toBeNull();
  });

  it('reads an array as its values joined (so duplicates across lines are caught)', () => {
    expect(parseProtocolList(['a', 'b'])).toEqual(['a', 'b']);
    expect(parseProtocolList(['a', 'a'])).toBeNull();
  });
});

describe('RFC 6455 9.1 Sec-WebSocket-Extensions', () => {
  it.each<[string, ExtensionOffer[]]>([
    // The examples of RFC 6455 9.1 and RFC 7692 5 / 7.1.
    [
      'foo, bar; baz=2',
      [
        { name: 'foo', params: [] },
        { name: 'bar', params: [['baz', '2']] },
      ],
    ],
    [
      'mux; max-channels=4; flow-control, deflate-stream',
      [
        {
          name: 'mux',
          params: [
            ['max-channels', '4'],
            ['flow-control', true],
          ],
        },
        { name: 'deflate-stream', params: [] },
      ],
    ],
    [
      'permessage-deflate; client_max_window_bits; server_max_window_bits=10',
      [
        {
          name: 'permessage-deflate',
          params: [
            ['client_max_window_bits', true],
            ['server_max_window_bits', '10'],
          ],
        },
      ],
    ],
    [
      'permessage-deflate; server_max_window_bits="10"',
      [{ name: 'permessage-deflate', params: [['server_max_window_bits', '10']] }],
    ],
    ['a; b="1\\0"', [{ name: 'a', params: [['b', '10']] }]],
    [
      ' a ; b = 1 ;c\t,\tD ',
      [
        {
          name: 'a',
          params: [
            ['b', '1'],
            ['c', true],
          ],
        },
        { name: 'D', params: [] },
      ],
    ],
    [
      'a,, b',
      [
        { name: 'a', params: [] },
        { name: 'b', params: [] },
      ],
    ],
    [
      'x; p; p=1; p=2, x',
      [
        {
          name: 'x',
          params: [
            ['p', true],
            ['p', '1'],
            ['p', '2'],
          ],
        },
        { name: 'x', params: [] },
      ],
    ],
  ])('parses %j', (value, expected) => {
    expect(parseExtensionList(value)).toEqual(expected);
  });

  it.each([
    ['an empty value', ''],
    ['only commas', ' , ,'],
    ['a trailing semicolon', 'a;'],
    ['a leading semicolon', '; a'],
    ['a space inside a name', 'a b'],
    ['a space inside a parameter name', 'a; b c'],
    ['an empty value after =', 'a; b='],
    ['an empty quoted value', 'a; b=""'],
    ['a quoted value that is not a token', 'a; b="1 0"'],
    ['a quoted value with a separator', 'a; b="x,y"'],
    ['an unterminated quoted string', 'a; b="10'],
    ['an escaped closing quote', 'a; b="\\"'],
    ['a trailing backslash', 'a; b="1\\'],
    ['a quoted name', '"a"'],
    ['a quoted parameter name', 'a; "b"=1'],
    ['text after a quoted value', 'a; b="1"2'],
    ['a non-token value', 'a; b=1/2'],
    ['a double equals', 'a; b==1'],
    ['a non-ASCII name', '\u00e4'],
  ])('rejects %s', (_what, value) => {
    expect(parseExtensionList(value)).toBeNull();
  });

  it('reads an array as its values joined', () => {
    expect(parseExtensionList(['a; x=1', 'b'])).toEqual([
      { name: 'a', params: [['x', '1']] },
      { name: 'b', params: [] },
    ]);
  });
});

describe('formatExtensionList', () => {
  it('writes names, flag parameters and token values', () => {
    expect(
      formatExtensionList([
        {
          name: 'permessage-deflate',
          params: [
            ['client_max_window_bits', true],
            ['server_max_window_bits', '10'],
          ],
        },
        { name: 'x-other', params: [] },
      ]),
    ).toBe('permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-other');
    expect(formatExtensionList([])).toBe('');
  });

  it.each<[string, unknown, string]>([
    [
      'a list that is not an array',
      'permessage-deflate',
      'formatExtensionList: expected an array of extensions',
    ],
    [
      'a name with a space',
      [{ name: 'a b', params: [] }],
      'formatExtensionList: invalid extension {"name":"a b","params":[]} (the name must be a token and params an array)',
    ],
    [
      'params that are not an array',
      [{ name: 'a' }],
      'formatExtensionList: invalid extension {"name":"a"} (the name must be a token and params an array)',
    ],
    [
      'a bad parameter name',
      [{ name: 'a', params: [['b c', true]] }],
      'formatExtensionList: invalid parameter name "b c" in a',
    ],
    [
      'a value with a space',
      [{ name: 'a', params: [['b', '1 0']] }],
      'formatExtensionList: the value of a; b must be true or a token, got "1 0"',
    ],
    [
      'a CRLF injection in a value',
      [{ name: 'a', params: [['b', '1\r\nX-Evil: 1']] }],
      'formatExtensionList: the value of a; b must be true or a token, got "1\\r\\nX-Evil: 1"',
    ],
    [
      'a number value',
      [{ name: 'a', params: [['b', 10]] }],
      'formatExtensionList: the value of a; b must be true or a token, got 10',
    ],
    [
      'a false value',
      [{ name: 'a', params: [['b', false]] }],
      'formatExtensionList: the value of a; b must be true or a token, got false',
    ],
  ])('throws UsageError for %s', (_what, list, message) => {
    const call = () => formatExtensionList(list as never);
    expect(call).toThrow(UsageError);
    expect(call).toThrow(message);
    try {
      call();
    } catch (err) {
      expect((err as UsageError).code).toBe('WS_ERR_INVALID_EXTENSION');
    }
  });
});

describe('Properties (fast-check)', () => {
  const param = fc.tuple(token, fc.oneof(fc.constant(true as const), token));
  const extension = fc.record({ name: token, params: fc.array(param, { maxLength: 4 }) });
  const list = fc.array(extension, { minLength: 1, maxLength: 5 });

  it('parse(format(list)) gives the list back', () => {
    fc.assert(
      fc.property(list, (l) => {
        expect(parseExtensionList(formatExtensionList(l))).toEqual(l);
      }),
      { numRuns: 500 },
    );
  });

  it('quoting values (with escapes) and adding OWS anywhere allowed does not change the result', () => {
    // Serialize with random OWS, random quoting and random backslash escapes.
    const written = list.chain((l) =>
      fc
        .array(fc.tuple(ows, ows, fc.boolean(), fc.boolean()), { minLength: 64, maxLength: 64 })
        .map((choices) => {
          let k = 0;
          const pick = () => choices[k++ % choices.length];
          const text = l
            .map((ext) => {
              let s = `${pick()[0]}${ext.name}`;
              for (const [name, value] of ext.params) {
                const [o1, o2, quote, escaped] = pick();
                if (value === true) s += `${o1};${o2}${name}`;
                else {
                  const v = escaped ? value.replace(/(.)/g, '\\$1') : value;
                  s += `${o1};${o2}${name}${o2}=${o1}${quote || escaped ? `"${v}"` : v}`;
                }
              }
              return `${s}${pick()[1]}`;
            })
            .join(',');
          return { l, text };
        }),
    );
    fc.assert(
      fc.property(written, ({ l, text }) => {
        expect(parseExtensionList(text)).toEqual(l);
      }),
      { numRuns: 500 },
    );
  });

  it('token and protocol lists round-trip with any OWS and empty elements', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(token, { minLength: 1, maxLength: 8 }),
        ows,
        fc.boolean(),
        (tokens, space, empty) => {
          const text = tokens.join(`${space},${empty ? `${space},` : ''}${space}`);
          expect(parseProtocolList(text)).toEqual(tokens);
          expect(parseTokenList(text)).toEqual(tokens.map((t) => t.toLowerCase()));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('arbitrary strings never throw, and what parses re-formats to the same list', () => {
    const alphabet = fc.constantFrom(...'ab1=;," \t\\/é\r\n\u0000');
    const input = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.array(alphabet, { maxLength: 60 }).map((a) => a.join('')),
    );
    fc.assert(
      fc.property(input, (s) => {
        const ext = parseExtensionList(s);
        if (ext !== null) expect(parseExtensionList(formatExtensionList(ext))).toEqual(ext);
        const protocols = parseProtocolList(s);
        if (protocols !== null) expect(new Set(protocols).size).toBe(protocols.length);
        const tokens = parseTokenList(s);
        if (tokens !== null) for (const t of tokens) expect(t).toBe(t.toLowerCase());
      }),
      { numRuns: 3000 },
    );
  });
});

describe('Linear time on long adversarial inputs (ws CVE-2021-32640 was a backtracking split)', () => {
  // Work is counted (helpers.ts countWork), not timed, so a few KiB show the growth exactly.
  const n = 4 * 1024;

  it('the work counter tells a quadratic scan from a linear one (strings and Buffers)', () => {
    const make = (k: number) => 'a'.repeat(k);
    const linear = (s: string) => {
      let sum = 0;
      for (let i = 0; i < s.length; i++) sum += s.charCodeAt(i);
      return sum;
    };
    // Re-scans the rest of the string at every position, as a backtracking split would.
    const quadratic = (s: string) => {
      let count = 0;
      for (let i = 0; i < s.length; i += 8) if (s.slice(i).includes('b')) count++;
      return count;
    };
    expect(workGrowth(make, linear, 256)).toBe(16);
    expect(workGrowth(make, quadratic, 256)).toBeGreaterThan(200);
    const makeBuf = (k: number) => Buffer.alloc(k, 0x61);
    const bytewise = (b: Buffer) => {
      let sum = 0;
      for (let i = 0; i < b.length; i++) sum += b[i];
      return sum;
    };
    const rescan = (b: Buffer) => {
      let count = 0;
      for (let i = 0; i < b.length; i += 8) if (b.indexOf(0x62, i) === -1) count++;
      return count;
    };
    expect(workGrowth(makeBuf, bytewise, 256)).toBe(16);
    expect(workGrowth(makeBuf, rescan, 256)).toBeGreaterThan(200);
  });

  const cases: Array<[string, (n: number) => string]> = [
    ['spaces then an invalid character', (k) => `a${' '.repeat(k)}\u0000`],
    ['spaces between two tokens', (k) => `a${' '.repeat(k)}b`],
    ['commas and spaces', (k) => ', '.repeat(k / 2)],
    ['semicolons', (k) => `a${'; b'.repeat(k / 3)};`],
    ['an unterminated quoted string of escapes', (k) => `a; b="${'\\a'.repeat(k / 2)}`],
    ['a long valid parameter list', (k) => `x${'; p=v'.repeat(k / 5)}`],
    ['a long quoted escaped value', (k) => `x; p="${'\\v'.repeat(k / 2)}"`],
  ];

  for (const [name, parse] of [
    ['parseTokenList', parseTokenList],
    ['parseProtocolList', parseProtocolList],
    ['parseExtensionList', parseExtensionList],
  ] as const) {
    it.each(cases)(`${name}: %s`, (_what, make) => {
      expect(workGrowth(make, parse, n)).toBeLessThan(LINEAR_BOUND);
    });
  }
});
