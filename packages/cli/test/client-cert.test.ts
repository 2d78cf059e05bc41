/**
 * `connect --cert F --key F`: a client certificate for a server that requires one (mutual TLS),
 * over HTTP/1.1 and HTTP/2, against riptide's own server on node's secure HTTP/2 server (HTTP/1.1
 * allowed) that asks for a client certificate and refuses a connection without one it trusts.
 * The certificates are made here with openssl.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer } from 'riptide';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll, PATIENT, run, selfSignedCertificate, USAGE } from './helpers.js';

afterEach(() => killAll());

let dir: string;
let server: { cert: string; key: string };
let client: { cert: string; key: string };
let http: Http2SecureServer;
let wss: InstanceType<typeof WebSocketServer>;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'riptide-cli-mtls-'));
  server = selfSignedCertificate(dir);
  client = { cert: join(dir, 'client-cert.pem'), key: join(dir, 'client-key.pem') };
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      client.key,
      '-out',
      client.cert,
      '-days',
      '1',
      '-subj',
      '/CN=riptide-test-client',
    ],
    { stdio: 'ignore' },
  );
  http = createSecureServer({
    cert: readFileSync(server.cert),
    key: readFileSync(server.key),
    // the client's self-signed certificate is the one it trusts
    ca: readFileSync(client.cert),
    requestCert: true,
    rejectUnauthorized: true,
    allowHTTP1: true,
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  wss = new WebSocketServer({ server: http as never });
  // Each connection is told who it is and over what, then echoed.
  wss.on('connection', (ws, req) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    ws.send(`HTTP/${req.httpVersion} ${peer.subject?.CN}`);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  url = `wss://127.0.0.1:${(http.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  wss.close();
  await new Promise<void>((resolve) => http.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('connect --cert/--key: a client certificate (mutual TLS)', () => {
  it('without them, a server that requires one fails the handshake: exit 1, one line saying so', async () => {
    const res = await run(['connect', url, '--ca', server.cert, ...PATIENT], 'hi\n');
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(
      /^riptide: TLS failure: tlsv13 alert certificate required \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\): the server requires a client certificate, which --cert FILE --key FILE give\n$/,
    );
  });

  it('with them, connects over HTTP/1.1, the server seeing the certificate', async () => {
    const res = await run(
      ['connect', url, '--ca', server.cert, '--cert', client.cert, '--key', client.key, ...PATIENT],
      'hi\n',
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('HTTP/1.1 riptide-test-client\nhi\n');
  });

  it('with them and --http2, connects as an HTTP/2 stream, the server seeing the certificate', async () => {
    const res = await run(
      [
        'connect',
        url,
        '--http2',
        '--ca',
        server.cert,
        '--cert',
        client.cert,
        '--key',
        client.key,
        ...PATIENT,
      ],
      'hi\n',
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('HTTP/2.0 riptide-test-client\nhi\n');
  });

  it.each([
    ['--cert without --key', () => ['--cert', client.cert], '--cert needs --key'],
    ['--key without --cert', () => ['--key', client.key], '--key needs --cert'],
    [
      'an unreadable --cert',
      () => ['--cert', join(dir, 'missing.pem'), '--key', client.key],
      `cannot read --cert file '${'DIR'}/missing.pem': ENOENT`,
    ],
  ])('refuses %s with exit 2 and one line', async (_name, flags, line) => {
    const res = await run(['connect', url, ...flags(), '-x', 'hi']);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(USAGE);
    expect(res.stderr.split('\n')[0]).toBe(`riptide connect: ${line.replace('DIR', dir)}`);
  });

  it('refuses a key that is not the certificate’s with exit 2, naming the flags', async () => {
    const res = await run(['connect', url, '--cert', client.cert, '--key', server.key, '-x', 'hi']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(USAGE);
    expect(res.stderr.split('\n')[0]).toMatch(
      /^riptide connect: invalid --cert\/--key: .*key values mismatch/,
    );
  });

  it('refuses them with a ws:// URL (exit 2): a client certificate goes only over TLS', async () => {
    const res = await run(['connect', 'ws://127.0.0.1:1/', '--cert', client.cert, '--key', client.key]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(USAGE);
    expect(res.stderr.split('\n')[0]).toBe(
      'riptide connect: --cert/--key apply only to wss:// URLs (a client certificate is sent over TLS)',
    );
  });
});

describe('connect without --cert against TLS 1.2 servers', () => {
  // TLS 1.2 has no 'certificate required' alert: OpenSSL's server sends handshake_failure, the
  // alert of a failed negotiation too. The CLI tells the two apart by when it comes.
  const servers: HttpsServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });
  async function tls12(options: Parameters<typeof createHttpsServer>[0]): Promise<string> {
    const https = createHttpsServer({
      cert: readFileSync(server.cert),
      key: readFileSync(server.key),
      maxVersion: 'TLSv1.2',
      ...options,
    });
    servers.push(https);
    const ws = new WebSocketServer({ server: https as never });
    ws.on('connection', (socket, req) => {
      const tls = req.socket as TLSSocket;
      socket.send(`${tls.getProtocol()} ${tls.getPeerCertificate().subject?.CN}`);
    });
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    return `wss://127.0.0.1:${(https.address() as AddressInfo).port}/`;
  }
  const requiring = () =>
    tls12({ ca: readFileSync(client.cert), requestCert: true, rejectUnauthorized: true });

  it('its handshake failure after our key exchange gets the --cert/--key hint: exit 1, one line', async () => {
    const res = await run(['connect', await requiring(), '--ca', server.cert, ...PATIENT], 'hi\n');
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    // Node 20 (OpenSSL 3.0) names the alert sslv3, Node 22 and 24 ssl/tls.
    expect(res.stderr).toMatch(
      /^riptide: TLS failure: (sslv3|ssl\/tls) alert handshake failure \((EPROTO|ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE)\): the server requires a client certificate, which --cert FILE --key FILE give\n$/,
    );
  });

  it('with --cert/--key the same server takes the connection (TLS 1.2)', async () => {
    const res = await run(
      [
        'connect',
        await requiring(),
        '--ca',
        server.cert,
        '--cert',
        client.cert,
        '--key',
        client.key,
        ...PATIENT,
      ],
      '',
    );
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('TLSv1.2 riptide-test-client\n');
  });

  it('a handshake failure at the negotiation (no cipher suite shared) gets no such hint', async () => {
    // The server's certificate has an EC key; RSA-authenticated suites only: nothing to agree on.
    const url = await tls12({ ciphers: 'AES128-SHA' });
    const res = await run(['connect', url, '--ca', server.cert, ...PATIENT], 'hi\n');
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /^riptide: TLS failure: (sslv3|ssl\/tls) alert handshake failure \((EPROTO|ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE)\)\n$/,
    );
  });
});
