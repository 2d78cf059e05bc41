/**
 * src/failure.ts: the one line that says why a connection could not be made, from Node's
 * net/dns/tls error codes anywhere down the `cause` chain. failures.test.ts checks the lines the
 * command prints against real refusals (a closed port, a bad certificate, a 404 ...).
 */
import { describe, expect, it } from 'vitest';
import { describeConnectError, describeStatus, endpoint } from '../src/failure.js';

const url = new URL('wss://example.test/feed');
const coded = (code: string, message = `${code} happened`, extra: object = {}) =>
  Object.assign(new Error(message), { code }, extra);

describe('endpoint', () => {
  it('host:port, with the default port of the scheme', () => {
    expect(endpoint(new URL('ws://a.test/'))).toBe('a.test:80');
    expect(endpoint(new URL('wss://a.test/'))).toBe('a.test:443');
    expect(endpoint(new URL('ws://a.test:8080/'))).toBe('a.test:8080');
    expect(endpoint(new URL('ws://[::1]:9/'))).toBe('[::1]:9');
  });
});

describe('describeConnectError', () => {
  it.each([
    ['ENOTFOUND', 'name not resolved: example.test (ENOTFOUND)'],
    ['EAI_AGAIN', 'name not resolved: example.test (EAI_AGAIN)'],
    ['EAI_NONAME', 'name not resolved: example.test (EAI_NONAME)'],
    ['EAI_FAIL', 'name not resolved: example.test (EAI_FAIL)'],
    ['ECONNREFUSED', 'connection refused: example.test:443'],
    ['ECONNRESET', 'connection reset by example.test:443 during the handshake'],
    ['ETIMEDOUT', 'cannot reach example.test:443 (ETIMEDOUT)'],
    ['EHOSTUNREACH', 'cannot reach example.test:443 (EHOSTUNREACH)'],
    ['ENETUNREACH', 'cannot reach example.test:443 (ENETUNREACH)'],
  ])('%s', (code, line) => {
    expect(describeConnectError(coded(code), url)).toBe(line);
  });

  it('a subprotocol chosen though none was offered: says how to offer one', () => {
    expect(describeConnectError(coded('WS_ERR_HANDSHAKE_UNREQUESTED_PROTOCOL'), url)).toBe(
      'handshake failed: the server chose a subprotocol though none was offered (-p offers one)',
    );
  });

  it("a reset of ws:// names wss:// as what to try: a TLS-only server (node's) resets a plain request", () => {
    expect(describeConnectError(coded('ECONNRESET'), new URL('ws://example.test:8443/feed'))).toBe(
      'connection reset by example.test:8443 during the handshake (if this port expects TLS, try wss://example.test:8443/feed)',
    );
  });

  it('a certificate error keeps its plain message, and names the flags that get past it', () => {
    // Regression: the reason alone left a user to find --ca and -k in the help.
    expect(describeConnectError(coded('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), url)).toBe(
      'TLS failure: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT): --ca FILE trusts the certificate or its CA, -k skips the check',
    );
    expect(
      describeConnectError(
        coded('UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'unable to get local issuer certificate'),
        url,
      ),
    ).toMatch(/: --ca FILE trusts the certificate or its CA, -k skips the check$/);
    // --ca cannot make a certificate for another name, or an expired one, valid
    expect(
      describeConnectError(
        coded('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"),
        url,
      ),
    ).toBe(
      "TLS failure: Hostname/IP does not match certificate's altnames (ERR_TLS_CERT_ALTNAME_INVALID): -k skips the check",
    );
    expect(describeConnectError(coded('CERT_HAS_EXPIRED', 'certificate has expired'), url)).toBe(
      'TLS failure: certificate has expired (CERT_HAS_EXPIRED): -k skips the check',
    );
  });

  it('an OpenSSL error: its `reason`, or the reason inside the message, not the whole string', () => {
    expect(
      describeConnectError(
        coded('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'long', { reason: 'tlsv1 alert protocol version' }),
        url,
      ),
    ).toBe('TLS failure: tlsv1 alert protocol version (ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION)');
    const message =
      'write EPROTO 80C0:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 40\n';
    expect(describeConnectError(coded('EPROTO', message), url)).toBe(
      'TLS failure: sslv3 alert handshake failure (EPROTO)',
    );
  });

  it('TLS 1.2 handshake failure: the client-certificate hint only after our key exchange, without --cert', () => {
    const alert = () =>
      coded(
        'EPROTO',
        'write EPROTO 80C0:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:x.c:1605:SSL alert number 40\n',
      );
    const hint = ': the server requires a client certificate, which --cert FILE --key FILE give';
    const plain = 'TLS failure: sslv3 alert handshake failure (EPROTO)';
    const at = (afterKeyExchange: boolean, clientCertificate: boolean) =>
      describeConnectError(alert(), url, 0, 0, [], { afterKeyExchange, clientCertificate });
    expect(at(true, false)).toBe(plain + hint);
    // at the ClientHello: a negotiation that failed (no suite, group or version shared)
    expect(at(false, false)).toBe(plain);
    // a certificate was sent: whatever the server wants, it is not one
    expect(at(true, true)).toBe(plain);
    // OpenSSL 3.2 and later (Node 22, 24) name the same alert ssl/tls
    const newer = coded('EPROTO', 'x', { reason: 'ssl/tls alert handshake failure' });
    expect(
      describeConnectError(newer, url, 0, 0, [], { afterKeyExchange: true, clientCertificate: false }),
    ).toBe(`TLS failure: ssl/tls alert handshake failure (EPROTO)${hint}`);
    // another alert after the key exchange is not this one
    const other = coded('ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR', 'x', { reason: 'tlsv1 alert decrypt error' });
    expect(
      describeConnectError(other, url, 0, 0, [], { afterKeyExchange: true, clientCertificate: false }),
    ).toBe('TLS failure: tlsv1 alert decrypt error (ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR)');
  });

  it('wss:// to a port without TLS: says so and names ws:// with the same port', () => {
    const plain = new URL('wss://example.test/feed?x=1');
    const message =
      'write EPROTO 80C0:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:354:\n';
    expect(describeConnectError(coded('EPROTO', message), plain)).toBe(
      'the server does not speak TLS on example.test:443 (wrong version number, EPROTO): try ws://example.test:443/feed?x=1',
    );
    expect(
      describeConnectError(
        coded('ERR_SSL_PACKET_LENGTH_TOO_LONG', 'x', { reason: 'packet length too long' }),
        new URL('wss://example.test:8080/'),
      ),
    ).toBe(
      'the server does not speak TLS on example.test:8080 (packet length too long, ERR_SSL_PACKET_LENGTH_TOO_LONG): try ws://example.test:8080/',
    );
    // other TLS failures stay TLS failures
    expect(
      describeConnectError(coded('EPROTO', 'x', { reason: 'sslv3 alert handshake failure' }), plain),
    ).toBe('TLS failure: sslv3 alert handshake failure (EPROTO)');
  });

  it('ws:// answered with a TLS record (alert or handshake): says so and names wss://', () => {
    const parse = (bytes: number[]) =>
      coded('HPE_INVALID_CONSTANT', 'Parse Error: Expected HTTP/, RTSP/ or ICE/', {
        rawPacket: Buffer.from(bytes),
      });
    const plain = new URL('ws://example.test/feed');
    for (const first of [0x15, 0x16]) {
      expect(describeConnectError(parse([first, 0x03, 0x03, 0x00, 0x02]), plain)).toBe(
        'example.test:80 answered in TLS: the server expects wss:// on this port (try wss://example.test:80/feed)',
      );
    }
    // Other bytes (or no bytes) that are not HTTP are no sign of TLS: the answer was no HTTP/1.1.
    // Regression: "connection failed: Parse Error: Expected HTTP/, RTSP/ or ICE/" (llhttp's words
    // alone) said neither who answered nor that the answer was not HTTP.
    for (const bytes of [[0x15, 0x02], [0x17, 0x03], [0x16]]) {
      expect(describeConnectError(parse(bytes), plain)).toBe(
        'example.test:80 did not answer in HTTP/1.1 (Parse Error: Expected HTTP/, RTSP/ or ICE/, HPE_INVALID_CONSTANT)',
      );
    }
    // over wss:// a TLS record is what is expected
    expect(describeConnectError(parse([0x16, 0x03]), url)).toBe(
      'example.test:443 did not answer in HTTP/1.1 (Parse Error: Expected HTTP/, RTSP/ or ICE/, HPE_INVALID_CONSTANT)',
    );
  });

  it.each([
    ['REFUSED_STREAM', 'the server refused the stream without processing it (it was retried)'],
    ['CANCEL', 'the server cancelled the stream'],
    ['INTERNAL_ERROR', 'the server failed internally'],
    ['PROTOCOL_ERROR', 'the server saw an HTTP/2 protocol error in the request'],
    ['ENHANCE_YOUR_CALM', 'the server is limiting this client (too many requests or streams)'],
    ['HTTP_1_1_REQUIRED', 'the server requires HTTP/1.1 for this request (try without --http2)'],
    ['SOMETHING_NEW', 'the server reset the stream'],
  ])('an HTTP/2 stream reset with %s: words, and the code name', (name, words) => {
    const err = coded('ERR_HTTP2_STREAM_ERROR', `Stream closed with error code NGHTTP2_${name}`);
    expect(describeConnectError(err, url)).toBe(
      `the server reset the HTTP/2 stream before answering: ${words} (RST_STREAM NGHTTP2_${name})`,
    );
  });

  it('looks down the cause chain for the first code it knows', () => {
    const err = new Error('outer', {
      cause: Object.assign(new Error('middle'), { cause: coded('ECONNREFUSED') }),
    });
    expect(describeConnectError(err, url)).toBe('connection refused: example.test:443');
  });

  it('a cyclic cause chain ends (no hang)', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    const b: Error & { cause?: unknown } = new Error('b', { cause: a });
    a.cause = b;
    expect(describeConnectError(a, url)).toBe('connection failed: a');
  });

  it('without a known code: a non-101 status, a timeout, or the message', () => {
    expect(describeConnectError(new Error('Unexpected server response: 404'), url)).toBe(
      'handshake failed: server answered 404 instead of 101 Switching Protocols',
    );
    expect(describeConnectError(new Error('Opening handshake has timed out'), url)).toBe(
      'handshake timed out: Opening handshake has timed out',
    );
    // with the timeout it ran out: who, how long, and the flag (not the library's words twice)
    expect(describeConnectError(new Error('Opening handshake has timed out'), url, 0, 2500)).toBe(
      'handshake timed out: example.test:443 did not complete it within 2.5 s (--timeout raises the limit)',
    );
    expect(describeConnectError(new Error('something else'), url)).toBe('connection failed: something else');
    expect(describeConnectError('a string', url)).toBe('connection failed: a string');
  });

  it('escapes control characters of what the peer wrote (a TLS reason, a message)', () => {
    expect(describeConnectError(coded('ERR_TLS_X', 'bad\u001b[2J'), url)).toBe(
      'TLS failure: bad\\e[2J (ERR_TLS_X)',
    );
    expect(describeConnectError(new Error('x\u0007'), url)).toBe('connection failed: x\\x07');
  });

  it('too many redirects names the limit and the flag that raises it', () => {
    const err = coded('WS_ERR_MAX_REDIRECTS', 'Maximum redirects exceeded');
    expect(describeConnectError(err, url, 3)).toBe(
      'too many redirects: the server still redirected after 3 (--max-redirects raises the limit)',
    );
  });
});

describe('describeStatus', () => {
  it('quotes the status line, with the reason escaped', () => {
    expect(describeStatus({ statusCode: 404, statusMessage: 'Not Found', httpVersion: '1.1' })).toBe(
      'handshake failed: server answered "HTTP/1.1 404 Not Found" instead of 101 Switching Protocols',
    );
    expect(describeStatus({ statusCode: 403, statusMessage: 'No\u001b[31m' })).toBe(
      'handshake failed: server answered "HTTP/1.1 403 No\\e[31m" instead of 101 Switching Protocols',
    );
    expect(describeStatus({ statusCode: 500, statusMessage: '', httpVersion: '1.0' })).toBe(
      'handshake failed: server answered "HTTP/1.0 500" instead of 101 Switching Protocols',
    );
    expect(describeStatus({})).toBe(
      'handshake failed: server answered "HTTP/1.1 ???" instead of 101 Switching Protocols',
    );
  });

  it('a redirect names its Location (escaped) and -L; a 3xx without one is a plain failure', () => {
    const found = { statusCode: 302, statusMessage: 'Found', httpVersion: '1.1' };
    expect(describeStatus({ ...found, headers: { location: 'wss://b.test/x\u001b[2J' } })).toBe(
      'handshake failed: server answered "HTTP/1.1 302 Found" instead of 101 Switching Protocols: a redirect to wss://b.test/x\\e[2J; use -L to follow it',
    );
    expect(describeStatus({ ...found, headers: {} })).toBe(
      'handshake failed: server answered "HTTP/1.1 302 Found" instead of 101 Switching Protocols',
    );
    // a Location on another status is no redirect
    expect(describeStatus({ statusCode: 201, statusMessage: 'Created', headers: { location: '/x' } })).toBe(
      'handshake failed: server answered "HTTP/1.1 201 Created" instead of 101 Switching Protocols',
    );
  });
});

describe('describeStatus over HTTP/2 (the response of an extended CONNECT)', () => {
  const h2 = (statusCode: number, headers = {}) => ({
    statusCode,
    statusMessage: '',
    httpVersion: '2.0',
    headers,
  });

  it('expects a 200, not a 101 (RFC 8441 5), and shows no reason phrase', () => {
    expect(describeStatus(h2(404))).toBe(
      'handshake failed: server answered "HTTP/2 404" instead of 200 to the HTTP/2 WebSocket request',
    );
  });

  it('a 3xx names its Location and -L, as over HTTP/1.1', () => {
    expect(describeStatus(h2(308, { location: 'wss://b.test/x' }))).toBe(
      'handshake failed: server answered "HTTP/2 308" instead of 200 to the HTTP/2 WebSocket request: a redirect to wss://b.test/x; use -L to follow it',
    );
  });
});
