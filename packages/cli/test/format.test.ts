/**
 * src/format.ts: how messages and events are shown. Text as is, with control characters escaped
 * (a peer cannot drive the reader's terminal); binary as its length and a hex preview; --json
 * one object per line. connect.test.ts checks the same through the command.
 */
import { describe, expect, it } from 'vitest';
import {
  describeBinary,
  describeClose,
  describeMessage,
  hexPreview,
  jsonEvent,
  jsonMessage,
  parseHex,
  safeText,
  shownUrl,
  toBuffer,
} from '../src/format.js';

describe('safeText', () => {
  it('keeps printable text, tab and newline as they are', () => {
    expect(safeText('héllo\tworld\nline 2 ✓ 😀')).toBe('héllo\tworld\nline 2 ✓ 😀');
  });

  it('shows ESC as \\e, so an escape sequence is printed, not run', () => {
    expect(safeText('\u001b[2J\u001b]0;title\u0007')).toBe('\\e[2J\\e]0;title\\x07');
  });

  it('escapes every other C0 control, DEL and the C1 controls as \\xNN', () => {
    const escaped = [...Array(0x20).keys(), ...Array.from({ length: 0x21 }, (_, i) => 0x7f + i)].filter(
      (c) => c !== 0x09 && c !== 0x0a && c !== 0x1b,
    );
    for (const c of escaped)
      expect(safeText(String.fromCharCode(c)), c.toString(16)).toBe(`\\x${c.toString(16).padStart(2, '0')}`);
    // CR is escaped: it would move the cursor back over what was printed.
    expect(safeText('safe\roops')).toBe('safe\\x0doops');
    // The first character after the C1 range is printable.
    expect(safeText('\u00a0')).toBe('\u00a0');
  });
});

describe('hexPreview and describeBinary', () => {
  it('shows up to 32 bytes, spaced, and ... after a longer payload', () => {
    expect(hexPreview(Buffer.from([0x00, 0xff, 0x10]))).toBe('00 ff 10');
    const b32 = Buffer.alloc(32, 0xab);
    expect(hexPreview(b32)).toBe(Array(32).fill('ab').join(' '));
    expect(hexPreview(Buffer.alloc(33, 0xab))).toBe(`${Array(32).fill('ab').join(' ')} ...`);
    expect(hexPreview(Buffer.alloc(0))).toBe('');
  });

  it('names the length in bytes (byte for one, nothing after 0)', () => {
    expect(describeBinary(Buffer.from('hello'))).toBe('binary 5 bytes: 68 65 6c 6c 6f');
    expect(describeBinary(Buffer.from([7]))).toBe('binary 1 byte: 07');
    expect(describeBinary(Buffer.alloc(0))).toBe('binary 0 bytes');
    expect(describeBinary(Buffer.alloc(100))).toMatch(/^binary 100 bytes: (00 ){31}00 \.\.\.$/);
  });
});

describe('describeMessage and describeClose', () => {
  it('text through safeText, binary through describeBinary', () => {
    expect(describeMessage(Buffer.from('hi\u001b[31m'), false)).toBe('hi\\e[31m');
    expect(describeMessage(Buffer.from('hi'), true)).toBe('binary 2 bytes: 68 69');
  });

  it('a close with its reason escaped, or the code alone', () => {
    expect(describeClose(1000, '')).toBe('closed 1000');
    // Regression: a registered code alone (`closed 1009`) left a reader to look the number up.
    // 1006 is no code a peer sends: the connection ended without a closing handshake.
    expect(describeClose(1006, '')).toBe('closed 1006 (the connection ended without a closing handshake)');
    expect(describeClose(1009, '')).toBe('closed 1009 (message too big)');
    expect(describeClose(1011, '')).toBe('closed 1011 (server error)');
    // the peer's own reason is shown instead; unregistered codes stay bare
    expect(describeClose(1009, 'too long')).toBe('closed 1009 too long');
    expect(describeClose(4000, '')).toBe('closed 4000');
    expect(describeClose(4000, 'bye\u001b[2J')).toBe('closed 4000 bye\\e[2J');
  });
});

describe('--json lines', () => {
  it('one JSON object per event, the event name first', () => {
    expect(jsonEvent('open', { url: 'ws://x/' })).toBe('{"event":"open","url":"ws://x/"}');
    expect(jsonEvent('close')).toBe('{"event":"close"}');
    // JSON.stringify escapes control characters: no escaping of our own is needed.
    expect(JSON.parse(jsonEvent('close', { reason: '\u001b' })).reason).toBe('\u001b');
  });

  it('a message as text, or as binary with its length and whole hex (no preview cut)', () => {
    expect(JSON.parse(jsonMessage(Buffer.from('a\nb'), false))).toEqual({
      event: 'message',
      type: 'text',
      data: 'a\nb',
    });
    const big = Buffer.alloc(40, 1);
    expect(JSON.parse(jsonMessage(big, true))).toEqual({
      event: 'message',
      type: 'binary',
      length: 40,
      hex: '01'.repeat(40),
    });
  });
});

describe('parseHex (/binary input)', () => {
  it('reads hex digits in either case, with any whitespace between', () => {
    expect(parseHex('68 65 6C6c\t6f')).toEqual(Buffer.from('hello'));
    expect(parseHex('  ')).toEqual(Buffer.alloc(0));
  });

  it('refuses an odd number of digits or a non-hex character', () => {
    expect(parseHex('abc')).toBeNull();
    expect(parseHex('zz')).toBeNull();
    expect(parseHex('0x41')).toBeNull();
    expect(parseHex('4 1 g0')).toBeNull();
  });
});

describe('toBuffer (what the library hands to message listeners)', () => {
  it('takes a Buffer as is, joins fragments, and copies nothing for a view', () => {
    const b = Buffer.from('x');
    expect(toBuffer(b)).toBe(b);
    expect(toBuffer([Buffer.from('ab'), Buffer.from('cd')])).toEqual(Buffer.from('abcd'));
    const ab = new Uint8Array([1, 2, 3, 4]).buffer;
    expect(toBuffer(ab)).toEqual(Buffer.from([1, 2, 3, 4]));
    const view = new Uint8Array(ab, 1, 2);
    const out = toBuffer(view);
    expect(out).toEqual(Buffer.from([2, 3]));
    expect(out.buffer).toBe(ab);
    expect(toBuffer('text')).toEqual(Buffer.from('text'));
  });
});

describe('shownUrl', () => {
  it('shows a password as *** and keeps the user name', () => {
    expect(shownUrl('ws://bob:s3cret@example.com:8080/feed?x=1')).toBe(
      'ws://bob:***@example.com:8080/feed?x=1',
    );
    expect(shownUrl(new URL('wss://bob:p%40ss@example.com/'))).toBe('wss://bob:***@example.com/');
  });

  it('leaves a URL without a password as it is', () => {
    expect(shownUrl('ws://bob@example.com/')).toBe('ws://bob@example.com/');
    expect(shownUrl('ws://example.com/a')).toBe('ws://example.com/a');
  });
});
