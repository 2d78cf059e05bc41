/**
 * The option tables (src/node/options.ts): every option ws 8 documents is in them with ws's
 * default, unknown keys are treated as ws treats them (ignored, or kept for a client's request),
 * and each table is what the constructors validate with.
 * ws's list is read from ws's own JSDoc (node_modules/ws), so a ws upgrade that adds an option
 * fails here until the table has it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocketServer as WsServer } from 'ws';
import { UsageError } from '../../src/core/errors.js';
import { WebSocket, WebSocketServer } from '../../src/index.js';
import {
  CLIENT_OPTIONS,
  parseHeartbeat,
  resolveClientOptions,
  resolveOptions,
  SERVER_OPTIONS,
  setSocketSettings,
} from '../../src/node/options.js';
import { TLS_KEYS } from '../../src/node/tls-keys.js';
import {
  clientFrame,
  collectUntilClose,
  duplexClient,
  once,
  parseFrames,
  rawClient,
  riptideServer,
  shutdown,
} from './helpers.js';

const wsLib = join(dirname(createRequire(import.meta.url).resolve('ws')), 'lib');

/** The `[options.name=default]` parameters of the JSDoc block that ends right before `marker`. */
function documentedOptions(file: string, marker: string): Map<string, string | undefined> {
  const source = readFileSync(join(wsLib, file), 'utf8');
  const end = source.indexOf(marker);
  const start = source.lastIndexOf('/**', end);
  const options = new Map<string, string | undefined>();
  for (const m of source.slice(start, end).matchAll(/\[options\.(\w+)(?:=([^\]]*))?\]/g)) {
    options.set(m[1], m[2]);
  }
  return options;
}

/** ws's documented default, as our table would hold it. */
function wsDefault(name: string, text: string | undefined): unknown {
  if (text === undefined || name === 'WebSocket' || name === 'backlog') return undefined;
  if (text === 'true' || text === 'false') return text === 'true';
  return Number(text);
}

describe("every ws 8 option is in the tables, with ws's default", () => {
  const server = documentedOptions('websocket-server.js', '  constructor(options, callback)');
  const client = documentedOptions('websocket.js', 'function initAsClient(');
  // Read by ws outside initAsClient's doc block: the constructor's and the request's.
  client.set('protocols', undefined);
  client.set('headers', undefined);

  it('reads a plausible list from ws (the parse itself works)', () => {
    expect(server.get('maxPayload')).toBe('104857600');
    expect(client.get('maxRedirects')).toBe('10');
    expect(server.size).toBeGreaterThan(15);
    expect(client.size).toBeGreaterThan(15);
  });

  it.each([
    ['WebSocketServer', server, SERVER_OPTIONS],
    ['WebSocket (client)', client, CLIENT_OPTIONS],
  ] as const)('%s', (_what, documented, table) => {
    for (const [name, text] of documented) {
      const entry = (table as Record<string, { default: unknown; origin: string }>)[name];
      expect(entry, `${name} is missing`).toBeDefined();
      expect(entry.origin).toBe('ws');
      expect(entry.default, `default of ${name}`).toEqual(wsDefault(name, text));
    }
  });

  it('the constructors accept every one of them with its ws default', () => {
    const serverOptions = Object.fromEntries(
      [...server.keys()]
        .filter((name) => !['port', 'server', 'host', 'backlog', 'WebSocket'].includes(name))
        .map((name) => [name, (SERVER_OPTIONS as Record<string, { default: unknown }>)[name].default]),
    );
    const wss = new WebSocketServer({ ...serverOptions, noServer: true });
    expect(wss.options).toMatchObject({
      maxFragments: 16384,
      maxBufferedChunks: 262144,
      closeTimeout: 30000,
    });
    wss.close();
    const clientOptions = Object.fromEntries(
      [...client.keys()].map((name) => [
        name,
        (CLIENT_OPTIONS as Record<string, { default: unknown }>)[name].default,
      ]),
    );
    const ws = new WebSocket('ws://127.0.0.1:1', { ...clientOptions, finishRequest: (req) => req.destroy() });
    ws.on('error', () => {});
    ws.terminate();
  });
});

describe('resolveOptions', () => {
  it('fills in the defaults and keeps what was given', () => {
    const o = resolveOptions(SERVER_OPTIONS, { noServer: true, maxPayload: 5 }, 'WebSocketServer');
    expect(o.maxPayload).toBe(5);
    expect(o.autoPong).toBe(true);
    expect(o.handshakeTimeout).toBe(10_000);
    expect(o.port).toBeUndefined();
  });

  it('ignores keys the table does not have, as ws 8 does, or hands them back as given', () => {
    const o = resolveOptions(SERVER_OPTIONS, { maxPayLoad: 1, toString: 2 }, 'WebSocketServer');
    expect(o.maxPayload).toBe(100 * 1024 * 1024);
    expect(Object.hasOwn(o, 'maxPayLoad')).toBe(false);
    expect(Object.hasOwn(o, 'toString')).toBe(false);
    const lookup = () => {};
    const extra: Record<string, unknown> = {};
    const c = resolveOptions(CLIENT_OPTIONS, { reconnect: true, toString: 1, lookup }, 'WebSocket', extra);
    expect(extra).toEqual({ reconnect: true, toString: 1 });
    expect(c.lookup).toBe(lookup);
    // A "__proto__" key (JSON.parse makes one) is a key to resolveOptions, polluting nothing...
    const parsed = JSON.parse('{"__proto__": {"polluted": 1}, "reconnect": false}');
    const kept: Record<string, unknown> = Object.create(null);
    resolveOptions(CLIENT_OPTIONS, parsed, 'WebSocket', kept);
    expect(Object.keys(kept)).toEqual(['__proto__', 'reconnect']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // ...but a client does not hand it to http.request, whose Object.assign would make it the
    // prototype of node's options (client.test.ts: it could set `hostname`).
    const r = resolveClientOptions(parsed, undefined);
    expect(Object.keys(r.extra)).toEqual(['reconnect']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('still checks the known keys next to unknown ones', () => {
    expect(() => resolveOptions(SERVER_OPTIONS, { nope: 1, maxPayload: 'x' }, 'WebSocketServer')).toThrow(
      new UsageError('WS_ERR_INVALID_OPTION', 'The "maxPayload" option must be an integer >= 0, got x'),
    );
    expect(() =>
      resolveClientOptions({ reconnect: true, family: 4, headers: 'x' } as never, undefined),
    ).toThrow('The "headers" option must be an object of header values');
  });

  it('a client accepts every TLS option the HTTP/2 session pool keys on, passed through', () => {
    for (const key of TLS_KEYS)
      expect(CLIENT_OPTIONS[key as keyof typeof CLIENT_OPTIONS]?.origin, key).toBe('request');
  });

  it('port: a string of digits, as net.Server#listen and so ws 8 take it ({ port: process.env.PORT }); other strings refused', async () => {
    const wss = new WebSocketServer({ port: ' 0 ' as unknown as number, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    expect((wss.address() as AddressInfo).port).toBeGreaterThan(0);
    await new Promise((resolve) => wss.close(resolve));
    for (const port of ['', 'http', '-1', '1.5'])
      expect(() => new WebSocketServer({ port: port as unknown as number }), port).toThrow(
        `The "port" option must be an integer >= 0 or a string of digits, got ${port}`,
      );
    expect(() => new WebSocketServer({ port: -1 })).toThrow(
      'must be an integer >= 0 or a string of digits, got -1',
    );
  });

  it('treats null as not given where ws defaults to null, and refuses it elsewhere', () => {
    expect(
      resolveOptions(SERVER_OPTIONS, { port: null, path: null, noServer: true }, 'x').port,
    ).toBeUndefined();
    expect(() => resolveOptions(SERVER_OPTIONS, { maxPayload: null }, 'x')).toThrow(
      'The "maxPayload" option must be an integer >= 0, got null',
    );
  });

  it.each([
    [{ maxPayload: -1 }, 'The "maxPayload" option must be an integer >= 0, got -1'],
    [{ maxPayload: 1.5 }, 'The "maxPayload" option must be an integer >= 0, got 1.5'],
    [{ autoPong: 'yes' }, 'The "autoPong" option must be a boolean, got yes'],
    [{ verifyClient: 'no' }, 'The "verifyClient" option must be a function'],
    [{ onBackpressure: 'drop' }, 'The "onBackpressure" option must be one of skip, close'],
    [{ allowedOrigins: ['example.com'] }, 'which is not an origin'],
    [{ perMessageDeflate: { nope: 1, threshold: '1' } }, 'Invalid perMessageDeflate option "threshold"'],
    [{ nope: 1, heartbeat: { interval: 100, every: 1 } }, 'Unknown heartbeat option "every"'],
  ])('server %j: %s', (options, message) => {
    expect(() => new WebSocketServer({ noServer: true, ...(options as object) })).toThrow(message);
  });

  it.each([
    [{ protocolVersion: 7 }, 'Unsupported protocol version: 7 (supported versions: 8, 13)'],
    [{ maxRedirects: -1 }, 'The "maxRedirects" option must be an integer >= 0, got -1'],
    [{ headers: 'x' }, 'The "headers" option must be an object of header values'],
    [{ protocols: 5 }, 'The "protocols" option must be a string or an array'],
  ])('client %j: %s', (options, message) => {
    expect(() => new WebSocket('ws://127.0.0.1:1', options as never)).toThrow(message);
  });
});

describe('resolveClientOptions: subprotocols', () => {
  it('duplicates are compared ASCII case-insensitively (WHATWG WebSockets, as the web-platform-tests do)', () => {
    for (const list of [
      ['chat', 'CHAT'],
      ['Chat', 'v1', 'cHaT'],
    ]) {
      expect(() => resolveClientOptions(undefined, list)).toThrow(
        expect.objectContaining({ name: 'SyntaxError', code: 'WS_ERR_INVALID_PROTOCOL' }),
      );
    }
    expect(resolveClientOptions(undefined, ['Chat', 'v1']).protocols).toEqual(['Chat', 'v1']);
  });
});

describe('heartbeat option', () => {
  it('accepts a number or { interval, timeout }; rejects the rest', () => {
    expect(parseHeartbeat(1000)).toEqual({ interval: 1000, timeout: 1000 });
    expect(parseHeartbeat({ interval: 1000, timeout: 200 })).toEqual({ interval: 1000, timeout: 200 });
    expect(parseHeartbeat(undefined)).toBe(null);
    expect(() => parseHeartbeat({ interval: 100, timeout: 200 })).toThrow(/at most interval/);
    // Beyond what a Node timer takes (it would fire every millisecond instead).
    expect(parseHeartbeat(2147483647)).toEqual({ interval: 2147483647, timeout: 2147483647 });
    expect(() => parseHeartbeat(2147483648)).toThrow(/at most 2147483647/);
    expect(() => parseHeartbeat({ interval: 2 ** 40, timeout: 1000 })).toThrow(/at most 2147483647/);
    expect(() => parseHeartbeat({ interval: 100, every: 1 })).toThrow(/Unknown heartbeat option "every"/);
    expect(() => parseHeartbeat('fast')).toThrow(
      'The "heartbeat" option must be a number or { interval, timeout }',
    );
  });
});

describe('ws 8 options at work', () => {
  it('maxFragments: a message in more frames closes with 1008, as a ws server does', async () => {
    const codes: number[] = [];
    for (const make of [
      () => new WsServer({ port: 0, host: '127.0.0.1', maxFragments: 2 }),
      () => new WebSocketServer({ port: 0, host: '127.0.0.1', maxFragments: 2 }),
    ]) {
      const wss = make();
      await once(wss, 'listening');
      // Both emit the RangeError on the connection; unheard, it would be thrown.
      const quiet = (ws: { on(event: 'error', listener: () => void): unknown }) => ws.on('error', () => {});
      (wss as unknown as { on(event: 'connection', listener: typeof quiet): unknown }).on(
        'connection',
        quiet,
      );
      const { socket, rest } = await rawClient((wss.address() as AddressInfo).port);
      const closed = collectUntilClose(socket, rest);
      socket.write(
        Buffer.concat([clientFrame(1, 'a', false), clientFrame(0, 'b', false), clientFrame(0, 'c')]),
      );
      const frames = parseFrames(await closed);
      codes.push(frames[0].payload.readUInt16BE(0));
      await shutdown(wss);
    }
    expect(codes).toEqual([1008, 1008]);
  });

  it('maxBufferedChunks: a frame spread over more chunks closes with 1008 (WS_ERR_TOO_MANY_BUFFERED_PARTS)', async () => {
    const wss = new WebSocketServer({ noServer: true, maxBufferedChunks: 3 });
    const errors: string[] = [];
    wss.on('connection', (ws) => ws.on('error', (err: Error & { code: string }) => errors.push(err.code)));
    const { end, rest } = await duplexClient(wss);
    const closed = collectUntilClose(end as unknown as Socket, rest);
    // The server ends its side after its close frame; end ours as a TCP peer would.
    end.on('end', () => end.end());
    const frame = clientFrame(2, Buffer.alloc(20, 7));
    for (let i = 0; i < 5; i++) end.write(frame.subarray(i * 2, i * 2 + 2));
    const frames = parseFrames(await closed);
    expect(frames[0].payload.readUInt16BE(0)).toBe(1008);
    expect(errors).toEqual(['WS_ERR_TOO_MANY_BUFFERED_PARTS']);
    await shutdown(wss);
  });

  it.each([true, false])(
    'allowSynchronousEvents %s: messages of one chunk in one macrotask, or one per setImmediate',
    async (allowSynchronousEvents) => {
      const wss = new WebSocketServer({ noServer: true, allowSynchronousEvents });
      const order: string[] = [];
      const done = new Promise<void>((resolve) =>
        wss.on('connection', (ws) =>
          ws.on('message', (data: Buffer) => {
            order.push(String(data));
            // Runs before the next message only if that one waits for a macrotask.
            setImmediate(() => order.push(`after ${data}`));
            if (String(data) === 'c') setImmediate(resolve);
          }),
        ),
      );
      const { end } = await duplexClient(wss);
      end.write(Buffer.concat([clientFrame(1, 'a'), clientFrame(1, 'b'), clientFrame(1, 'c')]));
      await done;
      expect(order).toEqual(
        allowSynchronousEvents
          ? ['a', 'b', 'c', 'after a', 'after b', 'after c']
          : ['a', 'after a', 'b', 'after b', 'c', 'after c'],
      );
      end.destroy();
      await shutdown(wss);
    },
  );

  it('protocols: the option offers subprotocols when the argument is left out', async () => {
    const { wss, url } = await riptideServer();
    const ws = new WebSocket(url, { protocols: ['chat', 'superchat'] });
    await once(ws, 'open');
    expect(ws.protocol).toBe('chat');
    ws.terminate();
    await shutdown(wss);
  });
});

describe('docs/node-layer.md', () => {
  it('lists the options as the tables define them (node packages/riptide/scripts/options-doc.mjs)', async () => {
    const { withOptionTables, docFile, sameIgnoringTablePadding } = await import(
      '../../scripts/options-doc.mjs'
    );
    const options = await import('../../src/node/options.js');
    const doc = readFileSync(docFile, 'utf8');
    expect(sameIgnoringTablePadding(withOptionTables(doc, options), doc)).toBe(true);
    // And it would notice a change.
    expect(
      sameIgnoringTablePadding(withOptionTables(doc, options), doc.replace('`maxFragments`', '`maxFrags`')),
    ).toBe(false);
  });
});

describe("setSocketSettings: ws's setSocket() options", () => {
  it('takes maxPayload, skipUTF8Validation, allowSynchronousEvents and generateMask over the defaults', () => {
    const d = setSocketSettings(undefined, 'server');
    expect(d).toMatchObject({
      closeTimeout: SERVER_OPTIONS.closeTimeout.default,
      allowSynchronousEvents: true,
      protocol: {
        role: 'server',
        maxPayload: SERVER_OPTIONS.maxPayload.default,
        skipUtf8: false,
        random: null,
      },
    });
    const masks: Buffer[] = [];
    const s = setSocketSettings(
      {
        maxPayload: 10,
        skipUTF8Validation: true,
        allowSynchronousEvents: false,
        generateMask: (m: Buffer) => masks.push(m.fill(7)),
      },
      'client',
    );
    expect(s).toMatchObject({
      allowSynchronousEvents: false,
      protocol: { role: 'client', maxPayload: 10, skipUtf8: true },
    });
    const target = Buffer.alloc(6);
    s.protocol.random!(target, 2, 4);
    expect(target).toEqual(Buffer.from([0, 0, 7, 7, 7, 7]));
    expect(masks.length).toBe(1);
  });

  it('ignores keys ws ignores there, and refuses a bad value of its own, with the option named', () => {
    const s = setSocketSettings({ perMessageDeflate: true, maxPayload: 10 }, 'client');
    expect(s.protocol).toMatchObject({ maxPayload: 10 });
    expect(() => setSocketSettings({ perMessageDeflate: true, maxPayload: -1 }, 'server')).toThrow(
      expect.objectContaining({
        code: 'WS_ERR_INVALID_OPTION',
        message: 'The "maxPayload" option must be an integer >= 0, got -1',
      }),
    );
  });
});
