/**
 * Socket.IO on riptide, unchanged. The server side uses Socket.IO's documented `wsEngine`
 * option (the class engine.io constructs instead of ws's server) with riptide's
 * WebSocketServer; the client side is socket.io-client, whose engine.io-client imports `ws` in
 * Node, loaded with that import answered by riptide (ws-redirect.ts; there is no option for it).
 * Every wait is on an event or an acknowledgement; every server and client is closed after
 * each test.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io as ioWs, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import { ensureBuilt, packageRoot } from '../package-entry.js';
import { requireOnRiptide, riptideEsmEntry } from './ws-redirect.js';

type Io = typeof ioWs;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A Socket.IO server on a free port, websocket transport only; `wsEngine` as given. */
async function ioServer(
  wsEngine?: unknown,
  compress = false,
  transports: Array<'polling' | 'websocket'> = ['websocket'],
): Promise<{ io: Server; url: string }> {
  const http: HttpServer = createServer();
  const io = new Server(http, {
    transports,
    // engine.io hands this to the wsEngine's constructor (permessage-deflate above 0 bytes).
    perMessageDeflate: compress ? { threshold: 0 } : false,
    ...(wsEngine === undefined ? {} : { wsEngine }),
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
  return { io, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

function client(io: Io, url: string, reconnection = false): Socket {
  const socket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection,
    // socket.io-client reads 0 as "unset" (1 s): 1 ms is the shortest delay it takes.
    reconnectionDelay: 1,
    reconnectionDelayMax: 1,
    randomizationFactor: 0,
  });
  cleanups.push(() => {
    socket.disconnect();
  });
  return socket;
}

function next<T extends unknown[]>(
  emitter: { once(e: string, f: (...a: T) => void): unknown },
  event: string,
): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: T) => resolve(args)));
}

/** The conversations every pairing must hold: the same code for both directions. */
function conversations(name: string, setup: () => Promise<{ io: Server; url: string; connect: Io }>) {
  describe(name, () => {
    it('connects and answers an emit with an acknowledgement', async () => {
      const { io, url, connect } = await setup();
      io.on('connection', (socket) => {
        socket.on('echo', (value: unknown, ack: (v: unknown) => void) => ack({ echoed: value }));
      });
      const c = client(connect, url);
      await next(c, 'connect');
      expect(c.connected).toBe(true);
      expect(await c.emitWithAck('echo', { n: 1, s: 'héllo' })).toEqual({ echoed: { n: 1, s: 'héllo' } });
    });

    it('carries binary payloads both ways (attachments as binary frames)', async () => {
      const { io, url, connect } = await setup();
      io.on('connection', (socket) => {
        socket.on('reverse', (data: Buffer, ack: (v: unknown) => void) =>
          ack({ reversed: Buffer.from(data).reverse(), length: data.length }),
        );
      });
      const c = client(connect, url);
      const payload = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
      const reply = (await c.emitWithAck('reverse', payload)) as { reversed: Buffer; length: number };
      expect(reply.length).toBe(payload.length);
      expect(Buffer.from(reply.reversed).equals(Buffer.from(payload).reverse())).toBe(true);
    });

    it('broadcasts to a room of two clients, not to a third', async () => {
      const { io, url, connect } = await setup();
      io.on('connection', (socket) => {
        socket.on('join', (room: string, ack: () => void) => {
          socket.join(room);
          ack();
        });
        socket.on('shout', (room: string, text: string, ack: () => void) => {
          io.to(room).emit('news', text);
          ack();
        });
      });
      const [a, b, outsider] = [client(connect, url), client(connect, url), client(connect, url)];
      await a.emitWithAck('join', 'lobby');
      await b.emitWithAck('join', 'lobby');
      let outsiderGot = 0;
      outsider.on('news', () => outsiderGot++);
      const heard = Promise.all([next<[string]>(a, 'news'), next<[string]>(b, 'news')]);
      await a.emitWithAck('shout', 'lobby', 'hello room');
      expect(await heard).toEqual([['hello room'], ['hello room']]);
      // The outsider's own round trip comes after the broadcast on the server: had it been sent
      // the news, it would have arrived before this acknowledgement.
      await outsider.emitWithAck('join', 'elsewhere');
      expect(outsiderGot).toBe(0);
    });

    it('reports a server-side disconnect to the client', async () => {
      const { io, url, connect } = await setup();
      const serverSide = next<[ServerSocket]>(io, 'connection');
      const c = client(connect, url);
      const [socket] = await serverSide;
      const closed = next<[string]>(c, 'disconnect');
      const serverSaw = next<[string]>(socket, 'disconnect');
      socket.disconnect(true);
      expect((await closed)[0]).toBe('io server disconnect');
      expect((await serverSaw)[0]).toBe('server namespace disconnect');
      expect(c.connected).toBe(false);
    });

    it('reconnects after the server drops the connection, and works again', async () => {
      const { io, url, connect } = await setup();
      const connections: ServerSocket[] = [];
      io.on('connection', (socket) => {
        connections.push(socket);
        socket.on('echo', (value: unknown, ack: (v: unknown) => void) => ack(value));
      });
      const c = client(connect, url, true);
      await next(c, 'connect');
      const dropped = next<[string]>(c, 'disconnect');
      const back = next(c.io, 'reconnect');
      // Closes the engine.io connection, so the WebSocket below it, from the server's side.
      connections[0].conn.close();
      expect((await dropped)[0]).toBe('transport close');
      await back;
      expect(await c.emitWithAck('echo', 'again')).toBe('again');
      expect(connections.length).toBe(2);
    });
  });
}

conversations(
  'a socket.io server with wsEngine: riptide WebSocketServer, socket.io-client on ws',
  async () => {
    const { io, url } = await ioServer(WebSocketServer);
    return { io, url, connect: ioWs };
  },
);

describe('the riptide wsEngine and engine.io-specific uses', () => {
  it("engine.io's 'headers' event (fed by the wsEngine's) adds response headers to the 101", async () => {
    const { io, url } = await ioServer(WebSocketServer);
    io.engine.on('initial_headers', (headers: Record<string, string>) => {
      headers['set-cookie'] = 'io=riptide; Path=/';
    });
    io.engine.on('headers', (headers: Record<string, string>) => {
      headers['x-engine'] = 'riptide';
    });
    const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
    cleanups.push(() => ws.terminate());
    const upgrade = next<[IncomingMessage]>(ws, 'upgrade');
    // engine.io's open packet ('0' and the handshake JSON), which may come with the 101.
    const opened = next<[Buffer]>(ws, 'message');
    const [response] = await upgrade;
    expect(response.headers['x-engine']).toBe('riptide');
    expect(response.headers['set-cookie']).toEqual(['io=riptide; Path=/']);
    const [open] = await opened;
    expect(String(open)).toMatch(/^0\{"sid":/);
  });

  it("refuses a message above socket.io's maxHttpBufferSize (engine.io hands it over as maxPayload), as on ws", async () => {
    const reasons = [];
    for (const wsEngine of [undefined, WebSocketServer]) {
      const http: HttpServer = createServer();
      const io = new Server(http, {
        transports: ['websocket'],
        maxHttpBufferSize: 1000,
        ...(wsEngine === undefined ? {} : { wsEngine }),
      });
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
      const serverSide = next<[ServerSocket]>(io, 'connection');
      const c = client(ioWs, `http://127.0.0.1:${(http.address() as AddressInfo).port}`);
      const [socket] = await serverSide;
      const dropped = next<[string]>(socket, 'disconnect');
      const clientSaw = next<[string]>(c, 'disconnect');
      c.emit('big', 'x'.repeat(2000));
      reasons.push([(await dropped)[0], (await clientSaw)[0]]);
    }
    expect(reasons[1]).toEqual(reasons[0]);
    expect(reasons[0]).toEqual(['transport error', 'transport close']);
  });
});

conversations('the riptide wsEngine with permessage-deflate, socket.io-client on ws', async () => {
  const { io, url } = await ioServer(WebSocketServer, true);
  return { io, url, connect: ioWs };
});

/** engine.io's default: long-polling first, then a probe over WebSocket and the upgrade. */
async function upgradesFromPolling(connect: Io, wsEngine?: unknown): Promise<void> {
  const { io, url } = await ioServer(wsEngine, false, ['polling', 'websocket']);
  io.on('connection', (socket) => socket.on('echo', (v: unknown, ack: (v: unknown) => void) => ack(v)));
  const c = connect(url, { forceNew: true, reconnection: false });
  cleanups.push(() => {
    c.disconnect();
  });
  const upgraded = next<[{ name: string }]>(c.io.engine, 'upgrade');
  await next(c, 'connect');
  expect((await upgraded)[0].name).toBe('websocket');
  expect(await c.emitWithAck('echo', 'after the upgrade')).toBe('after the upgrade');
}

it('the riptide wsEngine takes the upgrade from long-polling (engine.io default transports)', async () => {
  await upgradesFromPolling(ioWs, WebSocketServer);
});

describe('socket.io-client on riptide', () => {
  const { module, riptide } = requireOnRiptide<{ io: Io }>('socket.io-client', [
    'socket.io-client',
    'engine.io-client',
  ]);

  it('uses riptide: its transport socket is a riptide WebSocket (with permessage-deflate when offered)', async () => {
    for (const compress of [false, true]) {
      const { url } = await ioServer(undefined, compress);
      const c = client(module.io, url);
      await next(c, 'connect');
      const { ws } = (c.io.engine as unknown as { transport: { ws: InstanceType<typeof riptide> } })
        .transport;
      expect(ws).toBeInstanceOf(riptide);
      // What ws's server answered to engine.io-client's offer.
      expect(ws.extensions).toBe(compress ? 'permessage-deflate' : '');
    }
  });

  it("autoUnref: engine.io-client unrefs the riptide socket's transport (ws._socket.unref())", async () => {
    const { io, url } = await ioServer();
    io.on('connection', (socket) => socket.on('echo', (v: unknown, ack: (v: unknown) => void) => ack(v)));
    const c = module.io(url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      autoUnref: true,
    });
    cleanups.push(() => {
      c.disconnect();
    });
    await next(c, 'connect');
    expect(await c.emitWithAck('echo', 'unref')).toBe('unref');
  });

  it('upgrades from long-polling to a riptide WebSocket (engine.io default transports)', async () => {
    await upgradesFromPolling(module.io);
  });

  conversations('socket.io-client on riptide, the server on ws', async () => {
    const { io, url } = await ioServer();
    return { io, url, connect: module.io };
  });

  conversations('socket.io-client on riptide, the server on riptide', async () => {
    const { io, url } = await ioServer(WebSocketServer);
    return { io, url, connect: module.io };
  });

  conversations('both on riptide, with permessage-deflate', async () => {
    const { io, url } = await ioServer(WebSocketServer, true);
    return { io, url, connect: module.io };
  });
});

/**
 * The ESM build: in Node, vitest and `import` load engine.io-client's ESM build, whose
 * `import * as ws from "ws"` the CommonJS redirect cannot reach. A child process registers a
 * resolve hook (node:module register(), test-only, given as a data: URL) that answers that one
 * import with riptide's ESM entry, then runs a socket.io server on ws and the client against it
 * and prints what it saw.
 */
describe("socket.io-client's ESM build on riptide's ESM entry (a child process with a resolve hook)", () => {
  it('connects through a riptide WebSocket and gets an acknowledgement', async () => {
    ensureBuilt();
    const hooks = `export async function resolve(specifier, context, next) {
      if (specifier === 'ws' && context.parentURL?.includes('/node_modules/engine.io-client/'))
        return { url: ${JSON.stringify(riptideEsmEntry)}, shortCircuit: true };
      return next(specifier, context);
    }`;
    const register = `import { register } from 'node:module';
      register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
    const script = `
      import { createServer } from 'node:http';
      import { Server } from 'socket.io';
      import { io } from 'socket.io-client';
      import { WebSocket } from ${JSON.stringify(riptideEsmEntry)};
      const http = createServer();
      const server = new Server(http, { transports: ['websocket'] });
      server.on('connection', (s) => s.on('echo', (v, ack) => ack(v)));
      await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
      const client = io('http://127.0.0.1:' + http.address().port, { transports: ['websocket'], reconnection: false });
      await new Promise((resolve) => client.once('connect', resolve));
      const reply = await client.emitWithAck('echo', 'over riptide');
      const onRiptide = client.io.engine.transport.ws instanceof WebSocket;
      client.disconnect();
      await new Promise((resolve) => server.close(resolve));
      console.log(JSON.stringify({ reply, onRiptide }));
    `;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [
          '--import',
          `data:text/javascript,${encodeURIComponent(register)}`,
          '--input-type=module',
          '-e',
          script,
        ],
        // The workspace root, so that the script's bare imports resolve as a consumer's would.
        { cwd: join(packageRoot, '..', '..') },
        (err, stdout, stderr) => (err ? reject(new Error(stderr || String(err))) : resolve(stdout)),
      ),
    );
    expect(JSON.parse(out)).toEqual({ reply: 'over riptide', onRiptide: true });
  });
});
