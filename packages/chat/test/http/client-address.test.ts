/**
 * server/http/client-address.ts: the trust list, the walk through X-Forwarded-For and the key of the
 * per-address limits. The chat server's use of them (separate sign-in buckets per forwarded
 * client, the header ignored from an untrusted peer): http/accounts.test.ts, "behind a reverse
 * proxy"; the --trust-proxy flag: main.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  clientAddress,
  NO_TRUSTED_PROXIES,
  parseAddress,
  parseForwardedEntry,
  parseTrustList,
  rateLimitKey,
  TrustListError,
} from '../../src/server/http/client-address.js';

describe('parseTrustList', () => {
  it('takes addresses and subnets of both families, comma-separated or one per string', () => {
    const trusted = parseTrustList(['127.0.0.1, ::1', '10.0.0.0/8,fd00::/8', ' 192.168.1.0/24 ']);
    expect(trusted.size).toBe(5);
    for (const address of ['127.0.0.1', '::1', '10.255.0.3', 'fd12:3456::1', '192.168.1.200'])
      expect(trusted.has(address), address).toBe(true);
    for (const address of ['127.0.0.2', '::2', '11.0.0.1', 'fe80::1', '192.168.2.1', '2001:db8::1'])
      expect(trusted.has(address), address).toBe(false);
  });

  it('matches an IPv4 peer that a dual-stack listener shows as ::ffff:a.b.c.d', () => {
    const trusted = parseTrustList('127.0.0.1,10.0.0.0/8');
    expect(trusted.has('::ffff:127.0.0.1')).toBe(true);
    expect(trusted.has('::FFFF:10.1.2.3')).toBe(true);
    expect(trusted.has('::ffff:11.1.2.3')).toBe(false);
  });

  it('reads an IPv4-mapped entry as its IPv4 address or subnet', () => {
    const trusted = parseTrustList('::ffff:192.0.2.1,::ffff:10.0.0.0/104');
    expect(trusted.has('192.0.2.1')).toBe(true);
    expect(trusted.has('10.9.9.9')).toBe(true);
    expect(trusted.has('11.0.0.0')).toBe(false);
  });

  it('keeps the families apart: an IPv6 subnet never trusts an IPv4 peer', () => {
    const trusted = parseTrustList('::/0');
    expect(trusted.has('2001:db8::1')).toBe(true);
    expect(trusted.has('127.0.0.1')).toBe(false);
    expect(trusted.has('::ffff:127.0.0.1')).toBe(false);
  });

  it('is empty for no strings or blank ones, and then trusts nobody', () => {
    for (const list of [[], [''], ['  '], ''])
      expect(parseTrustList(list).size, JSON.stringify(list)).toBe(0);
    expect(NO_TRUSTED_PROXIES.has('127.0.0.1')).toBe(false);
  });

  it('refuses anything that is not an address or a subnet, naming it', () => {
    const cases: [string, RegExp][] = [
      ['localhost', /^"localhost" is not an IP address or subnet/],
      ['10.0.0.0/33', /^"10.0.0.0\/33": the prefix length of an IPv4 subnet is 0 to 32$/],
      ['fd00::/129', /^"fd00::\/129": the prefix length of an IPv6 subnet is 0 to 128$/],
      ['10.0.0.0/', /prefix length of an IPv4 subnet/],
      ['10.0.0.0/8/8', /prefix length of an IPv4 subnet/],
      ['10.0.0.0/-1', /prefix length of an IPv4 subnet/],
      ['10.0.0.0/x', /prefix length of an IPv4 subnet/],
      ['::ffff:10.0.0.0/64', /IPv4-mapped subnet needs a prefix length of 96 to 128/],
      ['256.0.0.1', /is not an IP address/],
      ['10.0.0', /is not an IP address/],
      ['[::1]', /is not an IP address/],
      ['127.0.0.1:80', /is not an IP address/],
      ['fe80::1%eth0', /is not an IP address/],
      ['127.0.0.1,,::1', /^empty entry in "127.0.0.1,,::1"/],
      ['127.0.0.1,', /^empty entry/],
    ];
    for (const [list, message] of cases) {
      let error: unknown;
      try {
        parseTrustList(list);
      } catch (err) {
        error = err;
      }
      expect(error, list).toBeInstanceOf(TrustListError);
      expect((error as Error).message, list).toMatch(message);
    }
  });
});

describe('parseAddress and parseForwardedEntry', () => {
  it('spells each address one way', () => {
    const cases: [string, string | null][] = [
      ['192.0.2.1', '192.0.2.1'],
      ['::ffff:192.0.2.1', '192.0.2.1'],
      ['::ffff:c000:201', '192.0.2.1'],
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0db8::0001', '2001:db8::1'],
      ['fe80::1%eth0', 'fe80::1'],
      ['::', '::'],
      ['::1', '::1'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8'],
      ['::1.2.3.4', '::102:304'],
      ['', null],
      ['unknown', null],
      ['01.2.3.4', null],
    ];
    for (const [text, expected] of cases) expect(parseAddress(text), text).toBe(expected);
  });

  it('takes bare addresses, IPv6 in brackets (with or without a port) and IPv4 with a port', () => {
    const cases: [string, string | null][] = [
      [' 203.0.113.7 ', '203.0.113.7'],
      ['2001:db8::7', '2001:db8::7'],
      ['[2001:db8::7]', '2001:db8::7'],
      ['[2001:db8::7]:443', '2001:db8::7'],
      ['203.0.113.7:51234', '203.0.113.7'],
      ['203.0.113.7:65536', null],
      ['203.0.113.7:', null],
      ['[203.0.113.7]', null],
      ['[2001:db8::7]:x', null],
      ['2001:db8::7:443', '2001:db8::7:443'], // a valid IPv6 address, not an address and a port
      ['unknown', null],
      ['_hidden', null],
      ['', null],
      ['host.example', null],
    ];
    for (const [entry, expected] of cases) expect(parseForwardedEntry(entry), entry).toBe(expected);
  });
});

describe('clientAddress', () => {
  const proxies = parseTrustList('127.0.0.1,::1,10.0.0.0/8');

  it('is the socket peer when the peer is not trusted, whatever the header says', () => {
    expect(clientAddress('198.51.100.9', '203.0.113.1', proxies)).toBe('198.51.100.9');
    expect(clientAddress('::ffff:198.51.100.9', '203.0.113.1', proxies)).toBe('198.51.100.9');
  });

  it('is the socket peer with no trust list, even from loopback', () => {
    expect(clientAddress('127.0.0.1', '203.0.113.1', NO_TRUSTED_PROXIES)).toBe('127.0.0.1');
    expect(clientAddress('::1', '203.0.113.1', parseTrustList([]))).toBe('::1');
  });

  it('is the socket peer when a trusted peer sends no header', () => {
    expect(clientAddress('127.0.0.1', undefined, proxies)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', [], proxies)).toBe('127.0.0.1');
  });

  it('walks the header right to left past trusted hops: what the client wrote on the left is not read', () => {
    // The client sent "X-Forwarded-For: 1.1.1.1, 2.2.2.2"; the edge proxy appended the address it
    // saw (203.0.113.5), an inner proxy appended the edge's (10.0.0.2).
    const header = '1.1.1.1, 2.2.2.2, 203.0.113.5, 10.0.0.2';
    expect(clientAddress('127.0.0.1', header, proxies)).toBe('203.0.113.5');
    expect(clientAddress('::ffff:127.0.0.1', header, proxies)).toBe('203.0.113.5');
  });

  it('reads every header line, in order', () => {
    expect(clientAddress('127.0.0.1', ['1.1.1.1, 203.0.113.5', '10.0.0.2'], proxies)).toBe('203.0.113.5');
    expect(clientAddress('127.0.0.1', ['203.0.113.5', '10.0.0.2, 10.0.0.3'], proxies)).toBe('203.0.113.5');
    // node joins repeated lines with ", ": the same answer.
    expect(clientAddress('127.0.0.1', '1.1.1.1, 203.0.113.5, 10.0.0.2', proxies)).toBe('203.0.113.5');
  });

  it('is the left-most entry when every entry is trusted', () => {
    expect(clientAddress('127.0.0.1', '10.0.0.7, 10.0.0.2', proxies)).toBe('10.0.0.7');
  });

  it('stops at an entry that is not an address and takes the nearest hop to its right', () => {
    expect(clientAddress('127.0.0.1', '203.0.113.5, garbage, 10.0.0.2', proxies)).toBe('10.0.0.2');
    expect(clientAddress('127.0.0.1', 'unknown', proxies)).toBe('127.0.0.1');
    expect(clientAddress('127.0.0.1', '203.0.113.5, , 10.0.0.2', proxies)).toBe('10.0.0.2');
    expect(clientAddress('127.0.0.1', '', proxies)).toBe('127.0.0.1');
    // The bad entry is left of an untrusted one: never reached.
    expect(clientAddress('127.0.0.1', 'garbage, 203.0.113.5', proxies)).toBe('203.0.113.5');
  });

  it('reads bracketed IPv6 and IPv4 with a port, and spells the result one way', () => {
    expect(clientAddress('::1', '[2001:DB8::5]:443', proxies)).toBe('2001:db8::5');
    expect(clientAddress('::1', '203.0.113.5:51000, [::1]', proxies)).toBe('203.0.113.5');
    expect(clientAddress('::1', '::ffff:203.0.113.5', proxies)).toBe('203.0.113.5');
  });

  it("returns a peer that is not an address (a closed socket's '') as it is", () => {
    expect(clientAddress('', '203.0.113.5', proxies)).toBe('');
  });
});

describe('rateLimitKey', () => {
  it('keys IPv4 by address, IPv4-mapped IPv6 as IPv4, other IPv6 by its /64', () => {
    const cases: [string, string][] = [
      ['203.0.113.5', '203.0.113.5'],
      ['::ffff:203.0.113.5', '203.0.113.5'],
      ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
      ['2001:db8:1:2::ffff', '2001:db8:1:2::/64'],
      ['2001:DB8:0001:0002:aaaa::1', '2001:db8:1:2::/64'],
      ['2001:db8::1', '2001:db8::/64'],
      ['2001:0:0:1::1', '2001:0:0:1::/64'],
      ['::1', '::/64'],
      ['fe80::1%eth0', 'fe80::/64'],
      ['', ''],
    ];
    for (const [address, key] of cases) expect(rateLimitKey(address), address).toBe(key);
  });

  it('gives two addresses of one /64 one key, and the next /64 another', () => {
    expect(rateLimitKey('2001:db8:1:2::a')).toBe(rateLimitKey('2001:db8:1:2:ffff::b'));
    expect(rateLimitKey('2001:db8:1:3::a')).not.toBe(rateLimitKey('2001:db8:1:2::a'));
  });
});
