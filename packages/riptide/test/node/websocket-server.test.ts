import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WS, { WebSocketServer as WsServer } from 'ws';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import {
  clientFrame,
  collectUntilClose,
  duplexPair,
  once,
  parseFrames,
  rawClient,
  recordHandleWrites,
  riptideServer,
  shutdown,
  until,
} from './helpers.js';

/**
 * ws's client class and ours, for the parity loops: their constructors' option types differ, so
 * the loops see them through the one shape they use.
 */
const BOTH_CLIENTS = [WS, WebSocket] as unknown as Array<
  new (
    url: string,
    second?: string[] | Record<string, unknown>,
  ) => EventEmitter & { terminate(): void }
>;

const fixtures = join(__dirname, '..', 'fixtures');
const cert = readFileSync(join(fixtures, 'test-cert.pem'));
const key = readFileSync(join(fixtures, 'test-key.pem'));

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(options: Record<string, unknown> = {}) {
  const s = await riptideServer(options);
  cleanups.push(() => shutdown(s.wss));
  return s;
}

/** Send a raw HTTP request head; resolve with the whole response once the server closes. */
async function rawRequest(port: number, head: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const done = collectUntilClose(socket);
  socket.write(head);
  return (await done).toString();
}

function upgradeHead(port: number, extra = '', path = '/', version = '13'): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: ${version}\r\n${extra}\r\n`
  );
}

describe('WebSocketServer options', () => {
  it('ignores unknown options as ws does, and rejects bad values and ambiguous modes with UsageError', () => {
    for (const Server of [WebSocketServer, WsServer]) {
      const wss = new Server({ noServer: true, bogus: 1, maxPayLoad: 1 } as never);
      // Kept in `options` (given over the defaults), used by nothing.
      expect(wss.options).toMatchObject({ bogus: 1, maxPayLoad: 1, maxPayload: 100 * 1024 * 1024 });
      wss.close();
    }
    expect(() => new WebSocketServer({ noServer: true, bogus: 1, maxPayload: 'x' } as never)).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        code: 'WS_ERR_INVALID_OPTION',
        message: 'The "maxPayload" option must be an integer >= 0, got x',
      }),
    );
    expect(() => new WebSocketServer({ port: 0, noServer: true })).toThrow(/One and only one/);
    expect(() => new WebSocketServer({} as never)).toThrow(/One and only one/);
    expect(() => new WebSocketServer({ noServer: true, maxPayload: -1 })).toThrow(/maxPayload/);
    expect(() => new WebSocketServer({ noServer: true, heartbeat: { interval: 0 } })).toThrow(/heartbeat/);
    expect(() => new WebSocketServer({ noServer: true, allowedOrigins: ['not an origin'] })).toThrow(
      expect.objectContaining({ code: 'WS_ERR_INVALID_OPTION' }),
    );
    expect(
      () => new WebSocketServer({ noServer: true, perMessageDeflate: { nope: 1, threshold: 'x' } as never }),
    ).toThrow(/Invalid perMessageDeflate option "threshold"/);
  });

  it('address() in noServer mode throws; clients is a Set; perMessageDeflate accepted', () => {
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true });
    expect(() => wss.address()).toThrow(/noServer/);
    expect(wss.clients).toBeInstanceOf(Set);
    expect(new WebSocketServer({ noServer: true, clientTracking: false }).clients).toBeUndefined();
  });
});

describe('RFC 6455 4.2.1 reading the client handshake', () => {
  it('a plain HTTP request gets 426 Upgrade Required', async () => {
    const { port } = await start();
    const res = await new Promise<http.IncomingMessage>((resolve) =>
      http.get(`http://127.0.0.1:${port}/`, resolve),
    );
    expect(res.statusCode).toBe(426);
    res.resume();
  });

  it('version 8 (hybi-17) is accepted like 13, after verifyClient saw Sec-WebSocket-Origin', async () => {
    const origins: (string | undefined)[] = [];
    const { wss, port, url } = await start({
      verifyClient: (info: { origin: string | undefined }) => {
        origins.push(info.origin);
        return true;
      },
    });
    const socket = net.connect(port, '127.0.0.1');
    socket.write(upgradeHead(port, 'Sec-WebSocket-Origin: https://old.example\r\n', '/', '8'));
    const [answer] = await once<[Buffer]>(socket, 'data');
    expect(answer.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    socket.destroy();
    // ws's own client speaks version 8 when asked, and so does ours; both connect.
    for (const Client of BOTH_CLIENTS) {
      const connected = once(wss, 'connection');
      const ws = new Client(url, { protocolVersion: 8, origin: 'https://app.example' });
      await once(ws, 'open');
      await connected;
      ws.terminate();
    }
    expect(origins).toEqual(['https://old.example', 'https://app.example', 'https://app.example']);
  });

  it('a version other than 8 or 13 gets 400 with Sec-WebSocket-Version: 13, 8 (RFC 6455 4.4)', async () => {
    const { port } = await start();
    const res = await rawRequest(port, upgradeHead(port, '', '/', '12'));
    expect(res).toMatch(/^HTTP\/1\.1 400 /);
    expect(res).toMatch(/\r\nSec-WebSocket-Version: 13, 8\r\n/i);
  });

  it('a missing key gets 400', async () => {
    const { port } = await start();
    const head = `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    expect(await rawRequest(port, head)).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('wsClientError listeners get the error and the socket instead of the 400', async () => {
    const { wss, port } = await start();
    const seen = once<[Error & { code: string; status: number }, net.Socket]>(wss, 'wsClientError');
    const socket = net.connect(port, '127.0.0.1');
    socket.write(
      `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    const [err, s] = await seen;
    expect(err).toMatchObject({ code: 'WS_ERR_HANDSHAKE_KEY', status: 400 });
    s.destroy();
    socket.destroy();
  });

  it('allowedOrigins: another origin gets 403, a listed one connects', async () => {
    const { port, url } = await start({ allowedOrigins: ['https://good.example'] });
    const res = await rawRequest(port, upgradeHead(port, 'Origin: https://evil.example\r\n'));
    expect(res).toMatch(/^HTTP\/1\.1 403 /);
    const ws = new WebSocket(url, { origin: 'https://good.example' });
    await once(ws, 'open');
    ws.terminate();
    const refused = new WS(url, { origin: 'https://evil.example' });
    refused.on('error', () => {});
    const [, resp] = await once<[unknown, http.IncomingMessage]>(refused, 'unexpected-response');
    expect(resp.statusCode).toBe(403);
    refused.terminate();
  });

  it('path: other paths get 400; the query string is ignored', async () => {
    const { url, port } = await start({ path: '/chat' });
    expect(await rawRequest(port, upgradeHead(port, '', '/other'))).toMatch(/^HTTP\/1\.1 400 /);
    const ws = new WebSocket(`${url}/chat?room=1`);
    await once(ws, 'open');
    ws.terminate();
  });

  it("{ port }: 'connection' gets an IncomingMessage shaped as node:http's for that socket", async () => {
    const { wss, url } = await start();
    const conn = once<[WebSocket, http.IncomingMessage]>(wss, 'connection');
    const ws = new WebSocket(`${url}/a?b=1`);
    await once(ws, 'open');
    const [serverWs, req] = await conn;
    const socket = serverWs._socket as net.Socket;
    const reference = new http.IncomingMessage(socket);
    expect(req).toBeInstanceOf(http.IncomingMessage);
    expect(Reflect.ownKeys(req)).toEqual(Reflect.ownKeys(reference));
    expect(req.socket).toBe(socket);
    expect((req as unknown as { client: net.Socket }).client).toBe(socket);
    expect(req.readableHighWaterMark).toBe(reference.readableHighWaterMark);
    expect([req.method, req.url, req.httpVersion, req.complete]).toEqual(['GET', '/a?b=1', '1.1', true]);
    expect([req.httpVersionMajor, req.httpVersionMinor]).toEqual([1, 1]);
    expect(req.headers.upgrade).toBe('websocket');
    ws.terminate();
  });

  it('{ port }: a socket whose handshake completed at once is not paused afterwards, and reads on', async () => {
    const { wss, url } = await start();
    const pauses: string[] = [];
    wss.on('connection', (ws) => {
      const socket = ws._socket as net.Socket;
      const pause = socket.pause;
      socket.pause = function (this: net.Socket) {
        pauses.push(new Error().stack ?? '');
        return pause.call(this);
      };
      ws.on('message', (data: Buffer) => ws.send(data));
    });
    const ws = new WebSocket(url);
    await once(ws, 'open');
    ws.send('ping?');
    const [echo] = await once<[Buffer]>(ws, 'message');
    expect(echo.toString()).toBe('ping?');
    expect(pauses).toEqual([]);
    ws.terminate();
  });

  it("a subclass's shouldHandle is the path check, given the request 'connection' gets (ws 8)", async () => {
    const asked: http.IncomingMessage[] = [];
    class RoomServer extends WebSocketServer {
      override shouldHandle(req: http.IncomingMessage): boolean {
        asked.push(req);
        return req.url!.startsWith('/room/');
      }
    }
    const wss = new RoomServer({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => shutdown(wss));
    await once(wss, 'listening');
    const port = (wss.address() as net.AddressInfo).port;
    expect(await rawRequest(port, upgradeHead(port, '', '/lobby'))).toMatch(/^HTTP\/1\.1 400 /);
    const conn = once<[WebSocket, http.IncomingMessage]>(wss, 'connection');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/room/7`);
    await once(ws, 'open');
    const [, req] = await conn;
    expect(asked.map((r) => r.url)).toEqual(['/lobby', '/room/7']);
    expect(asked[1]).toBe(req);
    ws.terminate();
  });
});

describe('ws 8 parity: a refused handshake gets the status and body a ws server sends', () => {
  const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
  const head = (lines: string, path = '/chat') => `GET ${path} HTTP/1.1\r\nHost: h\r\n${lines}\r\n`;
  const upgrade = 'Upgrade: websocket\r\nConnection: Upgrade\r\n';
  const v13 = 'Sec-WebSocket-Version: 13\r\n';
  const cases: [string, string][] = [
    ['a method other than GET', head(upgrade + key + v13).replace('GET', 'POST')],
    ['an Upgrade header other than websocket', head(`Upgrade: h2c\r\nConnection: Upgrade\r\n${key}${v13}`)],
    ['a missing Sec-WebSocket-Key', head(upgrade + v13)],
    ['a malformed Sec-WebSocket-Key', head(`${upgrade}Sec-WebSocket-Key: short\r\n${v13}`)],
    ['a missing Sec-WebSocket-Version', head(upgrade + key)],
    ['an unknown Sec-WebSocket-Version', head(`${upgrade}${key}Sec-WebSocket-Version: 7\r\n`)],
    ['another path', head(upgrade + key + v13, '/other')],
    ['another path and a missing key (the key is checked first)', head(upgrade + v13, '/other')],
    ['a malformed Sec-WebSocket-Protocol', head(`${upgrade}${key}${v13}Sec-WebSocket-Protocol: a b\r\n`)],
    ['a malformed Sec-WebSocket-Extensions', head(`${upgrade}${key}${v13}Sec-WebSocket-Extensions: ;;\r\n`)],
    ['a plain request (no Upgrade)', head('Connection: close\r\n')],
    [
      'Upgrade: websocket without Connection: Upgrade (a plain request for node:http)',
      head(`Upgrade: websocket\r\nConnection: close\r\n${key}${v13}`),
    ],
    // ws 8.23.1 compares the version as a string, exactly "13" or "8"; 8.23.0 read `+value`
    // and took all of these as 13 (or 8).
    ...['13.0', '0xd', '013', '+13', '1.3e1', '08', '8.0'].map((version): [string, string] => [
      `Sec-WebSocket-Version: ${version}`,
      head(`${upgrade}${key}Sec-WebSocket-Version: ${version}\r\n`),
    ]),
  ];

  /**
   * Status, the Sec-WebSocket-Version header of a 400 and the body of a server's answer. (A 426
   * from riptide's own listener also names the version it speaks, which ws's does not.)
   */
  function summary(response: string): [string, string | undefined, string] {
    const end = response.indexOf('\r\n\r\n');
    const status = response.slice(0, response.indexOf('\r\n'));
    const version = status.includes(' 426 ')
      ? undefined
      : /\r\nsec-websocket-version: *([^\r]*)/i.exec(response.slice(0, end))?.[1];
    return [status, version, response.slice(end + 4)];
  }

  it.each(cases)('%s', async (_name, request) => {
    const options = { path: '/chat', perMessageDeflate: true };
    const ours = await start(options);
    const theirs = new WsServer({ port: 0, host: '127.0.0.1', ...options });
    await once(theirs, 'listening');
    cleanups.push(() => shutdown(theirs));
    const expected = summary(await rawRequest((theirs.address() as net.AddressInfo).port, request));
    expect(summary(await rawRequest(ours.port, request))).toEqual(expected);
    expect(expected[0]).toMatch(/^HTTP\/1\.1 4\d\d /);
  });

  it.each(['13', ' 13', '13\t ', '8'])(
    'Sec-WebSocket-Version "%s" is accepted by both (node:http and riptide trim the whitespace around a value)',
    async (version) => {
      const request = head(`${upgrade}${key}Sec-WebSocket-Version: ${version}\r\n`);
      const ours = await start({ path: '/chat' });
      const theirs = new WsServer({ port: 0, host: '127.0.0.1', path: '/chat' });
      await once(theirs, 'listening');
      cleanups.push(() => shutdown(theirs));
      const status = async (port: number) => {
        const socket = net.connect(port, '127.0.0.1');
        await once(socket, 'connect');
        socket.write(request);
        const [chunk] = await once<[Buffer]>(socket, 'data');
        socket.destroy();
        return chunk.toString().slice(0, chunk.indexOf('\r\n'));
      };
      expect(await status((theirs.address() as net.AddressInfo).port)).toBe(
        'HTTP/1.1 101 Switching Protocols',
      );
      expect(await status(ours.port)).toBe('HTTP/1.1 101 Switching Protocols');
    },
  );

  it('a request built in code with the version as the number 13: riptide reads 13, ws 8.23.1 answers 400 (a deliberate difference)', async () => {
    const statusOf = async (wss: { handleUpgrade: (...args: never[]) => void }) => {
      const server = http.createServer();
      server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, rest: Buffer) => {
        // What @fastify/websocket's injectWS() builds: the header as a number.
        (req.headers as Record<string, unknown>)['sec-websocket-version'] = 13;
        (wss.handleUpgrade as (...args: unknown[]) => void)(req, socket, rest, (ws: { terminate(): void }) =>
          ws.terminate(),
        );
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
      const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(head(upgrade + key + v13));
      const [chunk] = await once<[Buffer]>(socket, 'data');
      socket.destroy();
      return chunk.toString().slice(0, chunk.indexOf('\r\n'));
    };
    const ours = new WebSocketServer({ noServer: true, path: '/chat' });
    const theirs = new WsServer({ noServer: true, path: '/chat' });
    cleanups.push(
      () => shutdown(ours),
      () => shutdown(theirs),
    );
    expect(await statusOf(ours as never)).toBe('HTTP/1.1 101 Switching Protocols');
    expect(await statusOf(theirs as never)).toBe('HTTP/1.1 400 Bad Request');
  });

  it("'wsClientError' gets ws's message for the same requests (not for another path)", async () => {
    const { wss, port } = await start({ path: '/chat' });
    const messages: string[] = [];
    wss.on('wsClientError', (err: Error, socket: net.Socket) => {
      messages.push(err.message);
      socket.destroy();
    });
    for (const [, request] of cases.slice(0, 6)) await rawRequest(port, request);
    expect(messages).toEqual([
      'Invalid HTTP method',
      'Invalid Upgrade header',
      'Missing or invalid Sec-WebSocket-Key header',
      'Missing or invalid Sec-WebSocket-Key header',
      'Missing or invalid Sec-WebSocket-Version header',
      'Missing or invalid Sec-WebSocket-Version header',
    ]);
    expect(await rawRequest(port, cases[6][1])).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(messages).toHaveLength(6);
  });
});

describe('RFC 6455 4.2.2 after the handshake', () => {
  it('a frame sent in the same packet as the handshake is not lost', async () => {
    const { wss, port } = await start();
    const got = new Promise<string>((resolve) =>
      wss.on('connection', (ws) => ws.on('message', (d: Buffer) => resolve(d.toString()))),
    );
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(Buffer.concat([Buffer.from(upgradeHead(port)), clientFrame(1, 'early bird')]));
    expect(await got).toBe('early bird');
    socket.destroy();
  });
});

describe('opening handshake write', () => {
  it("the 101 response and the 'connection' handler's first message leave in one write", async () => {
    const { wss, port } = await start();
    let calls: string[][] = [];
    wss.on('connection', (ws) => {
      // What reaches the socket's handle from here on (the 101 is still queued).
      calls = recordHandleWrites(ws._socket as unknown as net.Socket);
      ws.send('welcome');
    });
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(upgradeHead(port));
    let got = Buffer.alloc(0);
    while (!got.includes('welcome')) got = Buffer.concat([got, (await once<[Buffer]>(socket, 'data'))[0]]);
    // One write, one buffer: the 101 and the frame concatenated.
    expect(calls.length).toBe(1);
    expect(calls[0].length).toBe(1);
    expect(calls[0][0].startsWith('HTTP/1.1 101 ')).toBe(true);
    expect(calls[0][0].endsWith('\r\n\r\n\x81\x07welcome')).toBe(true);
    socket.destroy();
  });

  it("the 101 leaves as handleUpgrade's callback returns (no tick later), a throwing callback too", async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ noServer: true });
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => shutdown(wss));
    const writesWhenReturned: number[] = [];
    const thrown: unknown[] = [];
    let calls: string[][] = [];
    let upgraded: WebSocket | null = null;
    server.on('upgrade', (req, socket, head) => {
      try {
        wss.handleUpgrade(req, socket, head, (ws) => {
          upgraded = ws;
          calls = recordHandleWrites(ws._socket as unknown as net.Socket);
          ws.send('one');
          ws.send('two');
          throw new Error('handler bug');
        });
      } catch (err) {
        thrown.push(err);
      }
      writesWhenReturned.push(calls.length);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const socket = net.connect(port, '127.0.0.1');
    cleanups.push(() => void socket.destroy());
    await once(socket, 'connect');
    socket.write(upgradeHead(port));
    let got = Buffer.alloc(0);
    while (!got.includes('two')) got = Buffer.concat([got, (await once<[Buffer]>(socket, 'data'))[0]]);
    expect(thrown).toEqual([new Error('handler bug')]);
    // Written before handleUpgrade returned: the 101 and both frames, one write.
    expect(writesWhenReturned).toEqual([1]);
    expect(calls[0]).toHaveLength(1);
    expect(calls[0][0].startsWith('HTTP/1.1 101 ')).toBe(true);
    expect(calls[0][0].endsWith('\r\n\r\n\x81\x03one\x81\x03two')).toBe(true);
    // The callback threw, and later sends are still flushed (on their own tick).
    upgraded!.send('three');
    while (!got.includes('three')) got = Buffer.concat([got, (await once<[Buffer]>(socket, 'data'))[0]]);
    expect(calls).toHaveLength(2);
    expect(calls[1]).toEqual(['\x81\x05three']);
  });
});

describe('RFC 6455 4.2.2 subprotocols', () => {
  it("default: the client's first offer is selected", async () => {
    const { wss, url } = await start();
    const conn = once<[WebSocket]>(wss, 'connection');
    const ws = new WebSocket(url, ['chat', 'superchat']);
    await once(ws, 'open');
    expect(ws.protocol).toBe('chat');
    expect((await conn)[0].protocol).toBe('chat');
    ws.terminate();
  });

  it('handleProtocols picks one (gets a Set and the request); false selects none', async () => {
    let seen: Set<string> | undefined;
    const { url } = await start({
      handleProtocols: (protocols: Set<string>, req: http.IncomingMessage) => {
        seen = protocols;
        expect(req.headers.upgrade).toBe('websocket');
        return protocols.has('superchat') ? 'superchat' : false;
      },
    });
    const ws = new WS(url, ['chat', 'superchat']);
    await once(ws, 'open');
    expect(ws.protocol).toBe('superchat');
    expect([...(seen ?? [])]).toEqual(['chat', 'superchat']);
    ws.terminate();
    // Like ws's client, ours fails when it offered subprotocols and the server selected none.
    for (const Client of BOTH_CLIENTS) {
      const refused = new Client(url, ['chat']);
      const closed = once(refused, 'close');
      const [err] = await once<[Error]>(refused, 'error');
      expect(err.message).toBe('Server sent no subprotocol');
      await closed;
    }
  });
  it('handleProtocols and verifyClient set on `options` after construction are used (as ws; graphql-ws sets handleProtocols)', async () => {
    const { wss, url } = await start();
    // graphql-ws's useServer does exactly this to a server it is handed.
    wss.options.handleProtocols = (protocols) => (protocols.has('superchat') ? 'superchat' : false);
    const ws = new WebSocket(url, ['chat', 'superchat']);
    await once(ws, 'open');
    expect(ws.protocol).toBe('superchat');
    ws.terminate();
    wss.options.verifyClient = () => false;
    const refused = new WebSocket(url);
    const [err] = await once<[Error]>(refused, 'error');
    expect(err.message).toBe('Unexpected server response: 401');
    // And like ws's, the options object is not the one given (a later change to it is not seen).
    const given = { port: 0, host: '127.0.0.1' };
    const other = new WebSocketServer(given);
    cleanups.push(() => shutdown(other));
    expect(other.options).not.toBe(given);
  });

  it('handleProtocols returning a subprotocol the client did not offer selects none (RFC 6455 4.2.2; ws sends it)', async () => {
    const { wss, port } = await start({ handleProtocols: () => 'not-offered' });
    const connected = once<[WebSocket]>(wss, 'connection');
    const socket = net.connect(port, '127.0.0.1');
    socket.write(upgradeHead(port, 'Sec-WebSocket-Protocol: chat\r\n'));
    const [answer] = await once<[Buffer]>(socket, 'data');
    expect(answer.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    expect(answer.toString('latin1')).not.toMatch(/sec-websocket-protocol/i);
    const [ws] = await connected;
    expect(ws.protocol).toBe('');
    socket.destroy();
  });
});

describe('verifyClient', () => {
  it('sync form: false refuses with 401; info has origin, secure, req', async () => {
    const infos: { origin: string | undefined; secure: boolean }[] = [];
    const { port, url } = await start({
      verifyClient: (info: { origin: string | undefined; secure: boolean; req: http.IncomingMessage }) => {
        infos.push({ origin: info.origin, secure: info.secure });
        return info.req.headers['x-token'] === 'ok';
      },
    });
    expect(await rawRequest(port, upgradeHead(port, 'Origin: http://a.example\r\n'))).toMatch(
      /^HTTP\/1\.1 401 /,
    );
    const ws = new WebSocket(url, { headers: { 'x-token': 'ok' } });
    await once(ws, 'open');
    ws.terminate();
    expect(infos[0]).toEqual({ origin: 'http://a.example', secure: false });
  });

  it('async form: callback(false, code, message, headers)', async () => {
    const { port, url } = await start({
      verifyClient: (
        info: { req: http.IncomingMessage },
        cb: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void,
      ) => {
        setTimeout(() => {
          if (info.req.url === '/ok') cb(true);
          else cb(false, 403, 'Go away', { 'X-Why': 'test' });
        }, 10);
      },
    });
    const res = await rawRequest(port, upgradeHead(port));
    expect(res).toMatch(/^HTTP\/1\.1 403 /);
    expect(res).toMatch(/X-Why: test/);
    expect(res.endsWith('Go away')).toBe(true);
    const ws = new WebSocket(`${url}/ok`);
    await once(ws, 'open');
    ws.terminate();
  });

  it('async form: what ws 8 takes from callback(false, ...) is answered, never thrown out of the callback (it would be uncaught)', async () => {
    // ws writes code, message and headers into the response as they are: a numeric string, 0
    // (ws's `code || 401`), a close code used as a status, headers it lets override its own or
    // whose values are numbers or arrays. Each used to throw a UsageError from inside cb.
    type Refusal = [unknown, unknown?, unknown?];
    const cases: Array<{ args: Refusal; status: number; body: string; has?: RegExp[]; hasNot?: RegExp[] }> = [
      { args: ['403'], status: 403, body: 'Forbidden' },
      { args: [0], status: 401, body: 'Unauthorized' },
      { args: [4001, 'Unauthorized'], status: 401, body: 'Unauthorized' },
      { args: [101], status: 401, body: 'Unauthorized' },
      { args: [403, 42], status: 403, body: 'Forbidden' },
      { args: [403, ''], status: 403, body: 'Forbidden' },
      {
        args: [429, '{"error":"slow down"}', { 'Content-Type': 'application/json', 'Retry-After': 30 }],
        status: 429,
        body: '{"error":"slow down"}',
        has: [/\r\nRetry-After: 30\r\n/, /\r\nContent-Type: text\/plain; charset=utf-8\r\n/],
        hasNot: [/application\/json/],
      },
      {
        args: [403, 'x', { Connection: 'keep-alive', 'Content-Length': '1', 'Transfer-Encoding': 'chunked' }],
        status: 403,
        body: 'x',
        hasNot: [/keep-alive/, /chunked/],
      },
      {
        args: [403, 'x', { 'Set-Cookie': ['a=1', 'b=2'] }],
        status: 403,
        body: 'x',
        has: [/\r\nSet-Cookie: a=1,b=2\r\n/],
      },
      {
        args: [403, 'x', { 'X-Bad': 'a\r\nInjected: 1', 'X-Ok': 'y' }],
        status: 403,
        body: 'x',
        has: [/\r\nX-Ok: y\r\n/],
        hasNot: [/Injected/],
      },
      { args: [403, 'x', null], status: 403, body: 'x' },
    ];
    const uncaught: string[] = [];
    const record = (err: Error) => uncaught.push(err.message);
    process.on('uncaughtException', record);
    try {
      for (const { args, status, body, has = [], hasNot = [] } of cases) {
        const { port } = await start({
          verifyClient: (_info: unknown, cb: (ok: boolean, ...rest: unknown[]) => void) => {
            setImmediate(() => cb(false, ...args));
          },
        });
        const res = await rawRequest(port, upgradeHead(port));
        const what = JSON.stringify(args);
        expect(res.slice(0, res.indexOf('\r\n')), what).toBe(
          `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`,
        );
        expect(res.slice(res.indexOf('\r\n\r\n') + 4), what).toBe(body);
        expect(res, what).toContain(`\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`);
        expect(res, what).toContain('\r\nConnection: close\r\n');
        for (const re of has) expect(res, what).toMatch(re);
        for (const re of hasNot) expect(res, what).not.toMatch(re);
      }
    } finally {
      process.removeListener('uncaughtException', record);
    }
    expect(uncaught).toEqual([]);
  });
});

describe('limits', () => {
  it('maxPayload: a bigger message closes with 1009', async () => {
    const { wss, url } = await start({ maxPayload: 1024 });
    const conn = once<[WebSocket]>(wss, 'connection');
    const ws = new WS(url);
    await once(ws, 'open');
    const [server] = await conn;
    const errors: Error[] = [];
    server.on('error', (e) => errors.push(e));
    const closed = once<[number]>(ws, 'close');
    ws.send(Buffer.alloc(1024)); // at the limit: fine
    ws.send(Buffer.alloc(1025));
    expect((await closed)[0]).toBe(1009);
    expect(errors[0]).toMatchObject({ code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' });
  });

  it('handshakeTimeout: a connection that never completes the upgrade is destroyed', async () => {
    // The server's timer and Date.now() are faked; the socket is real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { wss, port } = await start({ handshakeTimeout: 150 });
    const pending = (wss as unknown as { _pending: Map<unknown, number> })._pending;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {}); // the server destroys it with our bytes unread: a reset
    const closed = once(socket, 'close');
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n'); // and never finish the head
    await until(() => pending.size === 1);
    vi.advanceTimersByTime(149);
    expect(pending.size).toBe(1);
    vi.advanceTimersByTime(1);
    expect(pending.size).toBe(0);
    await closed;
  });

  it('regression: close() keeps the handshake deadline, so a socket mid-handshake cannot hold the server open', async () => {
    // close() used to clear the sweep timer: a peer that connected and never finished its head
    // kept its descriptor forever and the {port} server's 'close' never came.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { wss, port } = await start({ handshakeTimeout: 150 });
    const pending = (wss as unknown as { _pending: Map<unknown, number> })._pending;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    cleanups.push(() => void socket.destroy()); // lets the server close if this test fails
    const socketClosed = once(socket, 'close');
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    await until(() => pending.size === 1);
    const serverClosed = once(wss, 'close');
    wss.close();
    vi.advanceTimersByTime(149);
    expect(pending.size).toBe(1);
    vi.advanceTimersByTime(1);
    expect(pending.size).toBe(0);
    await socketClosed;
    await serverClosed;
  });

  it('regression: after close(), the last handshake ending stops the sweep (no timer left behind until its deadline)', async () => {
    // close() keeps the sweep while a socket is mid-handshake; once that socket went, its timer
    // stayed armed (holding the server) until the deadline.
    const { wss, port } = await start({ handshakeTimeout: 60_000 });
    const internals = wss as unknown as { _pending: Map<unknown, number>; _sweepTimer: unknown };
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    cleanups.push(() => void socket.destroy());
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
    await until(() => internals._pending.size === 1);
    const serverClosed = once(wss, 'close');
    wss.close();
    expect(internals._sweepTimer).not.toBeNull(); // kept: the socket is mid-handshake
    socket.destroy();
    await until(() => internals._pending.size === 0);
    expect(internals._sweepTimer).toBeNull();
    await serverClosed;
  });

  it('regression: handleUpgrade after close() answers 503 and leaves no sweep timer once the socket went', async () => {
    const wss = new WebSocketServer({ noServer: true, handshakeTimeout: 60_000 });
    const internals = wss as unknown as { _pending: Map<unknown, number>; _sweepTimer: unknown };
    const server = http.createServer();
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => {}));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    wss.close();
    const { port } = server.address() as { port: number };
    const ws = new WS(`ws://127.0.0.1:${port}`);
    ws.on('error', () => {});
    const [, res] = await once<[unknown, http.IncomingMessage]>(ws, 'unexpected-response');
    expect(res.statusCode).toBe(503);
    res.socket.destroy();
    await until(() => internals._pending.size === 0);
    expect(internals._sweepTimer).toBeNull();
  });

  it('sockets that close before upgrading leave the handshake-timeout list at once', async () => {
    const { wss, port } = await start({ handshakeTimeout: 60_000 });
    const pending = (wss as unknown as { _pending: Map<unknown, number> })._pending;
    const sockets = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const s = net.connect(port, '127.0.0.1');
        await once(s, 'connect');
        return s;
      }),
    );
    await until(() => pending.size === 5);
    for (const s of sockets) s.destroy();
    // Each socket leaves the map on its 'close', long before its 60 s deadline.
    await until(() => pending.size === 0);
  });

  it('handshakeTimeout does not touch upgraded connections', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { url } = await start({ handshakeTimeout: 100 });
    const ws = new WebSocket(url);
    await once(ws, 'open');
    vi.advanceTimersByTime(300);
    // Barrier: a ping answered after the deadline proves the connection was left alone.
    ws.ping();
    await once(ws, 'pong');
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.terminate();
  });
});

describe('modes', () => {
  it('{ server }: shares an http.Server that also answers plain requests', async () => {
    const server = http.createServer((_req, res) => res.end('plain'));
    const wss = new WebSocketServer({ server });
    const listening = once(wss, 'listening');
    server.listen(0, '127.0.0.1');
    await listening;
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => shutdown(wss));
    const port = (wss.address() as net.AddressInfo).port;
    const body = await new Promise<string>((resolve) =>
      http.get(`http://127.0.0.1:${port}/`, (res) => {
        let s = '';
        res.on('data', (d) => (s += d)).on('end', () => resolve(s));
      }),
    );
    expect(body).toBe('plain');
    wss.on('connection', (ws) => ws.send('hi'));
    const ws = new WS(`ws://127.0.0.1:${port}`);
    const [msg] = await once<[Buffer]>(ws, 'message');
    expect(msg.toString()).toBe('hi');
    ws.terminate();
  });

  it('{ noServer }: handleUpgrade(req, socket, head, cb) and shouldHandle', async () => {
    const wss = new WebSocketServer({ noServer: true, path: '/ws' });
    const server = http.createServer();
    server.on('upgrade', (req, socket, head) => {
      if (!wss.shouldHandle(req)) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws, request) => wss.emit('connection', ws, request));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => shutdown(wss));
    const port = (server.address() as net.AddressInfo).port;
    const conn = once<[WebSocket, http.IncomingMessage]>(wss, 'connection');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await once(ws, 'open');
    const [serverWs, req] = await conn;
    expect(req.url).toBe('/ws');
    expect(wss.clients.has(serverWs)).toBe(true);
    const other = new WebSocket(`ws://127.0.0.1:${port}/nope`);
    const [, res] = await once<[unknown, http.IncomingMessage]>(other, 'unexpected-response');
    expect(res.statusCode).toBe(404);
    other.terminate();
    const closed = once(serverWs, 'close');
    ws.close();
    await closed;
    expect(wss.clients.size).toBe(0);
  });

  it('wss:// with a TLS certificate, secure: true in verifyClient', async () => {
    const server = https.createServer({ cert, key });
    let secure: boolean | undefined;
    const wss = new WebSocketServer({
      server,
      verifyClient: (info: { secure: boolean }) => {
        secure = info.secure;
        return true;
      },
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => shutdown(wss));
    const port = (server.address() as net.AddressInfo).port;
    wss.on('connection', (ws) => ws.on('message', (d: Buffer) => ws.send(`echo ${d}`)));
    const ws = new WebSocket(`wss://localhost:${port}`, { ca: cert });
    await once(ws, 'open');
    ws.send('tls');
    const [msg] = await once<[Buffer]>(ws, 'message');
    expect(msg.toString()).toBe('echo tls');
    expect(secure).toBe(true);
    ws.close();
    await once(ws, 'close');
    // Without the CA the certificate is refused.
    const bad = new WebSocket(`wss://localhost:${port}`);
    const [err] = await once<[Error & { code: string }]>(bad, 'error');
    expect(err.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    // And the ws client talks to it too.
    const wsc = new WS(`wss://localhost:${port}`, { ca: cert });
    await once(wsc, 'open');
    wsc.terminate();
  });

  it("'headers' listeners can add response headers", async () => {
    const { wss, url } = await start();
    wss.on('headers', (lines: string[]) => lines.push('X-Riptide: yes'));
    const ws = new WebSocket(url);
    const [res] = await once<[http.IncomingMessage]>(ws, 'upgrade');
    expect(res.headers['x-riptide']).toBe('yes');
    ws.terminate();
  });

  it("a 'headers' listener's line that cannot be sent is left out, never thrown out of the handshake; a number is written as ws writes it", async () => {
    const uncaught: string[] = [];
    const record = (err: Error) => uncaught.push(err.message);
    process.on('uncaughtException', record);
    try {
      const responseHead = async (push: unknown[]) => {
        const { wss, port } = await start();
        wss.on('headers', (lines: unknown[]) => {
          lines.push(...push);
        });
        const socket = net.connect(port, '127.0.0.1');
        cleanups.push(() => {
          socket.destroy();
        });
        await once(socket, 'connect');
        socket.write(upgradeHead(port));
        let got = '';
        while (!got.includes('\r\n\r\n')) got += String((await once<[Buffer]>(socket, 'data'))[0]);
        return got;
      };
      const res = await responseHead(['X-Before: 1', 'X-Bad: a\r\nInjected: 1', 'X-After: 2']);
      expect(res).toMatch(/^HTTP\/1\.1 101 /);
      expect(res).toContain('\r\nX-Before: 1\r\nX-After: 2\r\n\r\n');
      expect(res).not.toContain('Injected');
      // ws joins the lines as they are: a number becomes its text (a line no client parses).
      expect(await responseHead([5])).toMatch(/\r\n5\r\n\r\n$/);
    } finally {
      process.removeListener('uncaughtException', record);
    }
    expect(uncaught).toEqual([]);
  });

  it("a 'headers' listener that empties the list gets the standard 101 (ws writes a lone CRLF)", async () => {
    const { wss, port, url } = await start();
    wss.on('headers', (lines: string[]) => {
      lines.length = 0;
    });
    const socket = net.connect(port, '127.0.0.1');
    cleanups.push(() => {
      socket.destroy();
    });
    await once(socket, 'connect');
    // The head, or what went wrong instead: an error thrown out of the handshake, the socket gone.
    const head = new Promise<string>((resolve, reject) => {
      let got = '';
      socket.on('data', (chunk: Buffer) => {
        got += String(chunk);
        if (got.includes('\r\n\r\n')) resolve(got);
      });
      socket.on('close', () => reject(new Error(`closed after ${JSON.stringify(got)}`)));
      process.once('uncaughtException', reject);
      cleanups.push(() => {
        process.removeListener('uncaughtException', reject);
      });
    });
    socket.write(upgradeHead(port));
    const got = await head;
    // RFC 6455 1.3's key and accept value.
    expect(got).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
    );
    const ws = new WebSocket(url);
    cleanups.push(() => ws.terminate());
    await once(ws, 'open');
  });

  it('close(cb): stops listening, keeps open connections, calls back once they are gone', async () => {
    const s = await riptideServer();
    const conn = once<[WebSocket]>(s.wss, 'connection');
    const ws = new WebSocket(s.url);
    await once(ws, 'open');
    const [serverWs] = await conn;
    let closed = false;
    s.wss.close(() => {
      closed = true;
    });
    // Barrier: a ping round trip through the closing server; the connection is still served.
    ws.ping();
    await once(ws, 'pong');
    expect(serverWs.readyState).toBe(WebSocket.OPEN);
    expect(closed).toBe(false);
    ws.close();
    await once(s.wss, 'close');
    expect(closed).toBe(true);
    const err = await new Promise((resolve) => s.wss.close(resolve));
    expect(err).toMatchObject({ code: 'WS_ERR_NOT_RUNNING' });
  });
});

describe('robustness: a server without error listeners', () => {
  it('property: arbitrary bytes after the handshake only ever close that connection', async () => {
    const { wss, port, url } = await start({ closeTimeout: 200 });
    wss.on('connection', (ws) => ws.on('message', (d: Buffer) => ws.send(d)));
    const good = new WebSocket(url);
    await once(good, 'open');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
        const { socket, rest } = await rawClient(port);
        const done = collectUntilClose(socket, rest);
        // Then end our side: bytes that leave a frame unfinished make the server close on EOF
        // instead of waiting for the rest.
        socket.end(bytes);
        // Whatever the bytes, the peer gets at most a close frame before the socket ends.
        const out = await done;
        for (const frame of parseFrames(out)) expect([0x1, 0x2, 0x8, 0x9, 0xa]).toContain(frame.opcode);
      }),
      { numRuns: 50, seed: 6455 },
    );
    good.send('alive');
    const [msg] = await once<[Buffer]>(good, 'message');
    expect(msg.toString()).toBe('alive');
    good.terminate();
  });

  it('survives garbage frames and broken handshakes and keeps serving others', async () => {
    const { wss, port, url } = await start();
    wss.on('connection', (ws) => ws.on('message', (d: Buffer) => ws.send(d)));
    const good = new WebSocket(url);
    await once(good, 'open');

    const garbage = [
      Buffer.from([0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f]), // unmasked
      Buffer.from([0x83, 0x80, 0, 0, 0, 0]), // reserved opcode
      Buffer.from([0xf1, 0x80, 0, 0, 0, 0]), // RSV bits
      Buffer.from([0x89, 0xfe, 0x00, 0x7e, 0, 0, 0, 0]), // ping with 126 bytes
      Buffer.from([0x08 | 0x80, 0x81, 0, 0, 0, 0, 0x01]), // 1-byte close payload
      clientFrame(0, 'continuation without start'),
      clientFrame(1, Buffer.from([0xc3])), // truncated UTF-8
      Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), // 2^63 length
      Buffer.alloc(64, 0xff),
    ];
    for (const bytes of garbage) {
      const { socket, rest } = await rawClient(port);
      const done = collectUntilClose(socket, rest);
      socket.write(bytes);
      const out = await done;
      // A close frame (opcode 8) was sent, or the socket was simply dropped.
      if (out.length > 0) expect(out[0] & 0x0f).toBe(8);
    }
    for (const head of [
      'garbage\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: nope\r\nSec-WebSocket-Version: 13\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      `GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: a b\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ]) {
      const res = await rawRequest(port, head);
      expect(res).toMatch(/^HTTP\/1\.1 4\d\d /);
    }
    // A socket that resets mid-message; its server side is closed before the good one is tried.
    const accepted = once<[WebSocket]>(wss, 'connection');
    const { socket } = await rawClient(port);
    const [resetPeer] = await accepted;
    const resetClosed = once(resetPeer, 'close');
    socket.write(clientFrame(2, Buffer.alloc(100_000)).subarray(0, 5000));
    socket.resetAndDestroy();
    await resetClosed;

    good.send('still here');
    const [msg] = await once<[Buffer]>(good, 'message');
    expect(msg.toString()).toBe('still here');
    good.terminate();
  });
});

describe('handleUpgrade over any Duplex (ws works over any Duplex)', () => {
  it('an in-process pair: the client reaches it through createConnection, the server through an http.Server', async () => {
    const wss = new WebSocketServer({ noServer: true });
    cleanups.push(() => shutdown(wss));
    const server = http.createServer();
    server.on('upgrade', (req, socket: Duplex, head) => {
      expect(socket).not.toBeInstanceOf(net.Socket);
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data) => ws.send(`echo ${data}`));
        serverClosed = once<[number]>(ws, 'close');
      });
    });
    let serverClosed: Promise<[number]> | undefined;
    const client = new WebSocket('ws://in-process.test/', {
      createConnection: () => {
        const [serverEnd, clientEnd] = duplexPair();
        server.emit('connection', serverEnd);
        return clientEnd;
      },
    });
    const clientClosed = once<[number]>(client, 'close');
    await once(client, 'open');
    const reply = once<[Buffer]>(client, 'message');
    client.send('over a pair');
    expect(String((await reply)[0])).toBe('echo over a pair');
    client.close(1000);
    expect((await clientClosed)[0]).toBe(1000);
    expect((await serverClosed!)[0]).toBe(1000);
  });
});

describe("ws 8 parity: a peer's bad frame gets ws's error and ws's close frame", () => {
  const masked = (first: number, payload: Buffer) => {
    const frame = clientFrame(first & 0x0f, payload);
    frame[0] = first;
    return frame;
  };
  const cases: [string, Buffer, Record<string, unknown>][] = [
    ['RSV2 set', masked(0xa1, Buffer.from('a')), {}],
    ['an unmasked frame', Buffer.from([0x81, 0x01, 0x61]), {}],
    ['invalid UTF-8', clientFrame(1, Buffer.from([0xc3, 0x28])), {}],
    ['a message above maxPayload', clientFrame(2, Buffer.alloc(11)), { maxPayload: 10 }],
    ['close code 1005', clientFrame(8, Buffer.from([0x03, 0xed])), {}],
    ['a fragmented ping', clientFrame(9, 'p', false), {}],
    ['invalid compressed data', masked(0xc2, Buffer.from('ffffffff', 'hex')), { perMessageDeflate: true }],
  ];

  /** Upgrade (offering permessage-deflate), send `frame`, read until the server closes. */
  async function exchange(port: number, frame: Buffer): Promise<{ code: number; reason: string }> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(upgradeHead(port, 'Sec-WebSocket-Extensions: permessage-deflate\r\n'));
    let buf = Buffer.alloc(0);
    while (buf.indexOf('\r\n\r\n') === -1)
      buf = Buffer.concat([buf, (await once<[Buffer]>(socket, 'data'))[0]]);
    const closed = collectUntilClose(socket, buf.subarray(buf.indexOf('\r\n\r\n') + 4));
    socket.on('end', () => socket.end());
    socket.write(frame);
    const [close] = parseFrames(await closed);
    expect(close.opcode).toBe(8);
    return { code: close.payload.readUInt16BE(0), reason: close.payload.subarray(2).toString() };
  }

  it.each(cases)('%s', async (_what, frame, options) => {
    const results = [];
    for (const make of [
      () => new WsServer({ port: 0, host: '127.0.0.1', ...options }),
      () => new WebSocketServer({ port: 0, host: '127.0.0.1', ...options }),
    ]) {
      const wss = make();
      await once(wss, 'listening');
      cleanups.push(() => shutdown(wss));
      const error = new Promise<Error & { code: string; errno?: number }>((resolve) =>
        wss.on('connection', (ws: EventEmitter) => ws.on('error', resolve)),
      );
      const close = await exchange((wss.address() as net.AddressInfo).port, frame);
      const err = await error;
      results.push({
        close,
        code: err.code,
        message: err.message,
        errno: err.errno,
        string: String(err),
        isRangeError: err instanceof RangeError,
      });
    }
    const [theirs, ours] = results;
    // ws's close frames carry no reason; neither do ours.
    expect(ours.close).toEqual(theirs.close);
    expect(ours).toMatchObject({ code: theirs.code, message: theirs.message, errno: theirs.errno });
    expect(ours.string).toBe(theirs.string);
    if (theirs.isRangeError) expect(ours.isRangeError).toBe(true);
  });
});

describe('An upgrade request with a body is refused at the handshake (400 WS_ERR_HANDSHAKE_BODY)', () => {
  const withBody: [string, string, string][] = [
    ['Content-Length', 'Content-Length: 5\r\n', 'hello'],
    ['Transfer-Encoding', 'Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\n\r\n'],
  ];
  const message = 'Invalid handshake: an upgrade request must not have a body';

  async function expectRefused(
    port: number,
    wss: WebSocketServer,
    extra: string,
    body: string,
    detail: string,
  ) {
    let connected = false;
    wss.on('connection', () => (connected = true));
    const res = await rawRequest(port, upgradeHead(port, extra) + body);
    expect(res).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(res.slice(res.indexOf('\r\n\r\n') + 4)).toBe(`${message} (${detail})`);
    expect(connected).toBe(false);
  }

  it.each(withBody)("riptide's own listener: %s", async (detail, extra, body) => {
    const { wss, port } = await start();
    await expectRefused(port, wss, extra, body, detail);
  });

  it.each(withBody)('handleUpgrade from an http.Server: %s', async (detail, extra, body) => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    cleanups.push(() => shutdown(wss));
    await expectRefused((server.address() as net.AddressInfo).port, wss, extra, body, detail);
  });

  it("'wsClientError' gets the error with its stable code", async () => {
    const { wss, port } = await start();
    const errors: (Error & { code?: string })[] = [];
    wss.on('wsClientError', (err: Error, socket: net.Socket) => {
      errors.push(err);
      socket.destroy();
    });
    await rawRequest(port, `${upgradeHead(port, 'Content-Length: 5\r\n')}hello`);
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      ['WS_ERR_HANDSHAKE_BODY', `${message} (Content-Length)`],
    ]);
  });

  it('accepts Content-Length: 0', async () => {
    const { wss, port } = await start();
    const conn = once(wss, 'connection');
    const socket = net.connect(port, '127.0.0.1');
    cleanups.push(() => void socket.destroy());
    await once(socket, 'connect');
    socket.write(upgradeHead(port, 'Content-Length: 0\r\n'));
    const [chunk] = await once<[Buffer]>(socket, 'data');
    expect(chunk.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    await conn;
  });
});
