/**
 * riptide's WebSocket against undici's (the WHATWG implementation Node ships as the global
 * WebSocket from Node 22, tested against the web-platform-tests), both used only through the
 * browser's API (WHATWG WebSockets, https://websockets.spec.whatwg.org/): the constructor, event
 * listeners and on<type> handlers, send, close, readyState, bufferedAmount, binaryType, protocol,
 * extensions, url. The same script runs on each against the same riptide server and the two
 * transcripts (event types and order, their fields, readyState at each step, the exceptions'
 * names) are compared.
 *
 * Where they differ, the standard decides: riptide follows it, or keeps ws 8's behaviour
 * on purpose (riptide's WebSocket is also ws's; docs/node-layer.md, "Differences from the
 * WHATWG WebSocket API"), and the test asserts riptide's side. Where undici deviates from the
 * standard, a comment says so. Barriers are replies and awaited events; no sleeps.
 */
import type * as net from 'node:net';
import { WebSocket as UndiciWebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as RiptideWebSocket, type WebSocketServer } from '../../src/index.js';
import { riptideServer } from './helpers.js';

/** The part of the standard API the scripts use. */
interface StdSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  readonly protocol: string;
  readonly extensions: string;
  readonly url: string;
  send(data: string | ArrayBuffer | ArrayBufferView | Blob): unknown;
  close(code?: number, reason?: string): void;
  onopen: ((event: StdEvent) => void) | null;
  onmessage: ((event: StdEvent) => void) | null;
  onerror: ((event: StdEvent) => void) | null;
  onclose: ((event: StdEvent) => void) | null;
  addEventListener(type: string, listener: (event: StdEvent) => void, options?: { once?: boolean }): void;
  removeEventListener(type: string, listener: (event: StdEvent) => void): void;
  dispatchEvent(event: Event): boolean;
}

interface StdEvent {
  readonly type: string;
  readonly target: unknown;
  readonly data?: unknown;
  readonly code?: number;
  readonly reason?: string;
  readonly wasClean?: boolean;
}

type Ctor = new (url: string | URL, protocols?: string | string[]) => StdSocket;

const UNDICI = UndiciWebSocket as unknown as Ctor;
const RIPTIDE = RiptideWebSocket as unknown as Ctor;

/** What a user sees of an event, as one line. */
function describeEvent(ws: StdSocket, e: StdEvent): string {
  const head = `${e.type} rs=${ws.readyState}${e.target === ws ? '' : ' target!'}`;
  switch (e.type) {
    case 'message':
      return `${head} ${describeData(e.data)}`;
    case 'close':
      return `${head} ${e.code} ${JSON.stringify(e.reason)} ${e.wasClean ? 'clean' : 'unclean'}`;
    default:
      return head;
  }
}

function describeData(data: unknown): string {
  if (typeof data === 'string') return `string ${JSON.stringify(data)}`;
  if (data instanceof ArrayBuffer) return `ArrayBuffer ${Buffer.from(data).toString('hex')}`;
  if (data instanceof Blob) return `Blob ${data.size} ${JSON.stringify(data.type)}`;
  return `other ${Object.prototype.toString.call(data)}`;
}

/** The name of what `f` throws ('ok' when it does not throw). */
function thrown(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (err) {
    return (err as Error).name;
  }
}

/** Records a socket's events (listeners added first) and waits for them. */
class Recorder {
  readonly log: string[] = [];
  readonly events: StdEvent[] = [];
  private waiters: Array<{ test: () => boolean; resolve: () => void }> = [];

  constructor(readonly ws: StdSocket) {
    for (const type of ['open', 'message', 'error', 'close']) {
      ws.addEventListener(type, (e) => {
        this.events.push(e);
        this.log.push(describeEvent(ws, e));
        const ready = this.waiters.filter((w) => w.test());
        this.waiters = this.waiters.filter((w) => !ready.includes(w));
        for (const w of ready) w.resolve();
      });
    }
  }

  count(type: string): number {
    return this.log.filter((l) => l.startsWith(`${type} `)).length;
  }

  /** Resolves once `n` events of `type` have been seen in all. */
  until(type: string, n = 1): Promise<void> {
    const test = () => this.count(type) >= n;
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }
}

let wss: WebSocketServer;
let base: string;

beforeAll(async () => {
  ({ wss, url: base } = await riptideServer({
    perMessageDeflate: true,
    verifyClient: (info: { req: { url?: string } }) => !info.req.url!.startsWith('/refuse'),
    handleProtocols: (protocols, req) => (req.url === '/none' ? false : ([...protocols][0] ?? false)),
  }));
  // The server's script: a few commands, everything else echoed as it came.
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      if (text.startsWith('close:')) {
        const [, code, reason] = text.split(':');
        ws.close(Number(code), reason);
      } else if (text.startsWith('bin:')) {
        ws.send(Buffer.from(text.slice(4), 'hex'));
      } else if (text === 'terminate') {
        ws.terminate();
      } else if (text === 'bad-frame') {
        // A frame with reserved opcode 0x3: RFC 6455 5.2, the client must fail the connection.
        (ws as unknown as { _socket: net.Socket })._socket.write(Buffer.from([0x83, 0x00]));
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
  });
});

afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise((resolve) => wss.close(resolve));
});

/** Runs `script` on undici's WebSocket, then on riptide's; returns both transcripts. */
async function both(
  script: (C: Ctor, log: string[]) => Promise<void>,
): Promise<{ undici: string[]; riptide: string[] }> {
  const undici: string[] = [];
  const riptide: string[] = [];
  await script(UNDICI, undici);
  await script(RIPTIDE, riptide);
  return { undici, riptide };
}

/**
 * undici's transcript with the one difference riptide keeps on purpose in every failure: its
 * error event is ws 8's 'error', emitted before the closing handshake ends (readyState CLOSING),
 * where the standard fires it once the connection is closed (CLOSED).
 */
function errorWhileClosing(log: string[]): string[] {
  return log.map((l) => (l === 'error rs=3' ? 'error rs=2' : l));
}

/** Opens a recorded socket and waits for its open event. */
async function open(C: Ctor, path = '/', protocols?: string | string[]): Promise<Recorder> {
  const rec = new Recorder(new C(`${base}${path}`, protocols));
  await rec.until('open');
  return rec;
}

/** Sends `text` and waits for the server's reply (the n-th message in all). */
async function roundTrip(rec: Recorder, data: string | ArrayBuffer | ArrayBufferView): Promise<void> {
  const n = rec.count('message') + 1;
  rec.ws.send(data);
  await rec.until('message', n);
}

describe('WHATWG WebSockets: the constructor', () => {
  it('maps http: and https: to ws: and wss: (the current standard), and keeps the URL it parsed', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      for (const url of [`${base.replace('ws:', 'http:')}/p?q=1`, 'https://127.0.0.1:1/x', `${base}`]) {
        const ws = new C(url);
        ws.onerror = () => {};
        log.push(`${ws.url} rs=${ws.readyState}`);
        ws.close();
      }
      const ws = new C(new URL(`${base}/from-url-object`));
      ws.onerror = () => {};
      log.push(ws.url);
      ws.close();
    });
    expect(riptide).toEqual(undici);
    expect(riptide[0]).toBe(`${base}/p?q=1 rs=0`);
    expect(riptide[1]).toBe('wss://127.0.0.1:1/x rs=0');
    expect(riptide[2]).toBe(`${base}/ rs=0`);
  });

  it('throws a SyntaxError for an unparsable or relative URL, another scheme, or a fragment (empty too)', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      for (const url of [
        'ws://[bad',
        '/relative',
        'relative',
        'ftp://127.0.0.1/',
        `${base}/#frag`,
        `${base}/#`,
      ]) {
        log.push(`${url} ${thrown(() => new C(url))}`);
      }
    });
    expect(riptide).toEqual(undici);
    expect(riptide.every((l) => l.endsWith(' SyntaxError'))).toBe(true);
  });

  it('throws a SyntaxError for an invalid or duplicated protocol, duplicates compared ASCII case-insensitively', async () => {
    const lists: Array<string | string[]> = [
      ['a', 'a'],
      ['chat', 'CHAT'],
      [''],
      ['a b'],
      ['a,b'],
      ['é'],
      'a{',
    ];
    const { undici, riptide } = await both(async (C, log) => {
      for (const p of lists) log.push(`${JSON.stringify(p)} ${thrown(() => new C(base, p))}`);
    });
    expect(riptide).toEqual(undici);
    expect(riptide.every((l) => l.endsWith(' SyntaxError'))).toBe(true);
  });
});

describe('WHATWG WebSockets: opening', () => {
  it('negotiates a protocol: the server selects the first offered; a string is a list of one', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      for (const p of [['v2', 'v1'], 'v1', []]) {
        const rec = await open(C, '/', p);
        log.push(`protocol=${JSON.stringify(rec.ws.protocol)}`, ...rec.log);
        rec.ws.close();
        await rec.until('close');
      }
    });
    expect(riptide).toEqual(undici);
    expect(riptide).toContain('protocol="v2"');
  });

  it('readyState: CONNECTING, OPEN, CLOSING after close(), CLOSED in the close event', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const ws = new C(base);
      const rec = new Recorder(ws);
      log.push(`start rs=${ws.readyState}`);
      await rec.until('open');
      ws.close(1000, 'done');
      log.push(`after close() rs=${ws.readyState}`);
      await rec.until('close');
      log.push(...rec.log);
    });
    expect(riptide).toEqual(undici);
    expect(riptide).toEqual([
      'start rs=0',
      'after close() rs=2',
      'open rs=1',
      'close rs=3 1000 "done" clean',
    ]);
  });

  it('a refused handshake: error, then close 1006 not clean', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = new Recorder(new C(`${base}/refuse`));
      await rec.until('close');
      log.push(...rec.log);
    });
    // WHATWG: the error event fires once the connection is closed, so readyState is already
    // CLOSED in it (undici: 3). riptide's 'error' is ws 8's, emitted before 'close' while the
    // socket is CLOSING (docs/node-layer.md); the order and the close event are the standard's.
    expect(undici).toEqual(['error rs=3', 'close rs=3 1006 "" unclean']);
    expect(riptide).toEqual(errorWhileClosing(undici));
  });

  it('close() while CONNECTING fails the connection: CLOSING at once, then error and close 1006', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const ws = new C(base);
      const rec = new Recorder(ws);
      ws.close();
      rec.log.push(`close() returned, rs=${ws.readyState}`);
      await rec.until('close');
      log.push(...rec.log);
    });
    // WHATWG close(): "Fail the WebSocket connection and set this's ready state to CLOSING";
    // the events come from a task queued once the connection is closed. undici fires them
    // synchronously inside close(), against the standard.
    expect(undici).toEqual(['error rs=3', 'close rs=3 1006 "" unclean', 'close() returned, rs=2']);
    expect(riptide).toEqual(['close() returned, rs=2', 'error rs=2', 'close rs=3 1006 "" unclean']);
  });

  it('a server that selects none of the offered protocols: the connection fails', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = new Recorder(new C(`${base}/none`, ['v1']));
      await Promise.race([rec.until('open'), rec.until('close')]);
      log.push(`protocol=${JSON.stringify(rec.ws.protocol)}`, ...rec.log);
      rec.ws.close();
      await rec.until('close');
    });
    // Fetch, "establish a WebSocket connection": "If protocols is not the empty list and
    // extracting header list values given `Sec-WebSocket-Protocol` ... results in null, failure,
    // or the empty byte sequence, then fail the WebSocket connection" (ws 8 fails too).
    expect(riptide).toEqual(errorWhileClosing(undici));
    expect(riptide).toEqual(['protocol=""', 'error rs=2', 'close rs=3 1006 "" unclean']);
  });

  it('extensions: the full header value in the standard, the extension names in riptide (ws 8)', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = await open(C);
      log.push(rec.ws.extensions);
      rec.ws.close();
      await rec.until('close');
    });
    expect(undici[0]).toMatch(/^permessage-deflate; /);
    expect(riptide).toEqual(['permessage-deflate']);
  });
});

describe('WHATWG WebSockets: messages', () => {
  it('text, ArrayBuffer and views are sent; binaryType switches between messages', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = await open(C);
      rec.ws.binaryType = 'arraybuffer';
      log.push(`binaryType=${rec.ws.binaryType}`);
      await roundTrip(rec, 'héllo');
      await roundTrip(rec, new Uint8Array([1, 2, 3, 4]).subarray(1, 3));
      await roundTrip(rec, new Uint8Array([5, 6]).buffer);
      await roundTrip(rec, 'bin:0a0b');
      rec.ws.binaryType = 'blob';
      await roundTrip(rec, 'bin:0c0d0e');
      rec.ws.binaryType = 'bogus'; // an unknown value is ignored (WebIDL enumeration attribute)
      log.push(`binaryType=${rec.ws.binaryType}`);
      await roundTrip(rec, new Uint8Array([]));
      rec.ws.close();
      await rec.until('close');
      log.push(...rec.log);
      const blob = rec.events.find((e) => e.data instanceof Blob)!.data as Blob;
      log.push(Buffer.from(await blob.arrayBuffer()).toString('hex'));
    });
    expect(riptide).toEqual(undici);
    expect(riptide).toEqual([
      'binaryType=arraybuffer',
      'binaryType=blob',
      'open rs=1',
      'message rs=1 string "héllo"',
      'message rs=1 ArrayBuffer 0203',
      'message rs=1 ArrayBuffer 0506',
      'message rs=1 ArrayBuffer 0a0b',
      'message rs=1 Blob 3 ""',
      'message rs=1 Blob 0 ""',
      'close rs=3 1005 "" clean',
      '0c0d0e',
    ]);
  });

  it("binaryType's initial value: 'blob' in the standard, 'nodebuffer' in riptide (ws 8)", async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const ws = new C(base);
      ws.onerror = () => {};
      log.push(ws.binaryType);
      ws.close();
    });
    expect(undici).toEqual(['blob']);
    expect(riptide).toEqual(['nodebuffer']);
  });

  it("send() while CONNECTING throws (InvalidStateError in the standard, ws 8's Error in riptide)", async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const ws = new C(base);
      ws.onerror = () => {};
      log.push(thrown(() => ws.send('early')));
      ws.close();
    });
    expect(undici).toEqual(['InvalidStateError']);
    expect(riptide).toEqual(['Error']);
  });
});

describe('WHATWG WebSockets: closing', () => {
  it('the server closes with a code and a reason', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = await open(C);
      rec.ws.send('close:4001:going');
      await rec.until('close');
      log.push(...rec.log);
    });
    expect(riptide).toEqual(undici);
    expect(riptide).toEqual(['open rs=1', 'close rs=3 4001 "going" clean']);
  });

  it('the client closes: without a code (1005), with one, with a reason only (1000)', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const calls: Array<[number?, string?]> = [[], [4002], [4003, 'why'], [undefined, 'reason only']];
      for (const args of calls) {
        const rec = await open(C);
        rec.ws.close(...args);
        await rec.until('close');
        log.push(rec.log[1]);
      }
    });
    expect(riptide).toEqual(undici);
    expect(riptide).toEqual([
      'close rs=3 1005 "" clean',
      'close rs=3 4002 "" clean',
      'close rs=3 4003 "why" clean',
      'close rs=3 1000 "reason only" clean',
    ]);
  });

  it('a message that arrives after close(): dropped in the standard, delivered in riptide (ws 8)', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = await open(C);
      // The server echoes both before it reads the close frame: they arrive while CLOSING.
      rec.ws.send('a');
      rec.ws.send('b');
      rec.ws.close(1000);
      await rec.until('close');
      log.push(...rec.log);
    });
    // WHATWG "feedback from the protocol": when a message has been received, "If ws's ready
    // state is not OPEN (1), then return." (chromium drops them too.)
    expect(undici).toEqual(['open rs=1', 'close rs=3 1000 "" clean']);
    expect(riptide).toEqual([
      'open rs=1',
      'message rs=2 string "a"',
      'message rs=2 string "b"',
      'close rs=3 1000 "" clean',
    ]);
  });

  it("close() checks its arguments in every state; the names are ws 8's in riptide", async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const calls: Array<[number, string?]> = [[1005], [999], [5000], [1000, 'x'.repeat(124)], [1001]];
      const connecting = new C(base);
      connecting.onerror = () => {};
      for (const args of calls) log.push(`connecting ${args[0]} ${thrown(() => connecting.close(...args))}`);
      connecting.close();
      const rec = await open(C);
      for (const args of calls.slice(0, 4))
        log.push(`open ${args[0]} ${thrown(() => rec.ws.close(...args))}`);
      log.push(`rs=${rec.ws.readyState}`);
      rec.ws.close();
      await rec.until('close');
      log.push(`closed 999 ${thrown(() => rec.ws.close(999))}`);
    });
    // WHATWG: InvalidAccessError for a code other than 1000 and 3000-4999, SyntaxError for a
    // reason above 123 bytes. riptide throws ws 8's TypeError and RangeError, and lets a
    // server's socket (the same class) close with 1001 "going away" (docs/node-layer.md).
    expect(undici).toEqual([
      'connecting 1005 InvalidAccessError',
      'connecting 999 InvalidAccessError',
      'connecting 5000 InvalidAccessError',
      'connecting 1000 SyntaxError',
      'connecting 1001 InvalidAccessError',
      'open 1005 InvalidAccessError',
      'open 999 InvalidAccessError',
      'open 5000 InvalidAccessError',
      'open 1000 SyntaxError',
      'rs=1',
      'closed 999 InvalidAccessError',
    ]);
    expect(riptide).toEqual([
      'connecting 1005 TypeError',
      'connecting 999 TypeError',
      'connecting 5000 TypeError',
      'connecting 1000 RangeError',
      'connecting 1001 ok',
      'open 1005 TypeError',
      'open 999 TypeError',
      'open 5000 TypeError',
      'open 1000 RangeError',
      'rs=1',
      'closed 999 TypeError',
    ]);
  });

  it('send(Blob): sent as binary, in order with what is sent after it; bufferedAmount counts it at once', async () => {
    const amounts: Record<string, number> = {};
    const { undici, riptide } = await both(async (C, log) => {
      const rec = await open(C);
      rec.ws.binaryType = 'arraybuffer';
      rec.ws.send(new Blob([new Uint8Array([1, 2, 3])]));
      // WHATWG send(Blob): "increase the bufferedAmount attribute by data's size".
      amounts[C === RIPTIDE ? 'riptide' : 'undici'] = rec.ws.bufferedAmount;
      rec.ws.send('after');
      rec.ws.send(new Uint8Array([4]));
      rec.ws.send(new Blob([]));
      await rec.until('message', 4);
      rec.ws.close();
      await rec.until('close');
      log.push(...rec.log);
    });
    expect(riptide).toEqual(undici);
    expect(riptide).toEqual([
      'open rs=1',
      'message rs=1 ArrayBuffer 010203',
      'message rs=1 string "after"',
      'message rs=1 ArrayBuffer 04',
      'message rs=1 ArrayBuffer ',
      'close rs=3 1005 "" clean',
    ]);
    expect(amounts.riptide).toBe(3);
  });

  it('send() after close() does not throw and grows bufferedAmount', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = await open(C);
      rec.ws.close();
      log.push(`closing rs=${rec.ws.readyState} ${thrown(() => rec.ws.send('ab'))} ${rec.ws.bufferedAmount}`);
      await rec.until('close');
      log.push(`${thrown(() => rec.ws.send('héllo'))} ${thrown(() => rec.ws.send(new Uint8Array(5)))}`);
      log.push(`bufferedAmount=${rec.ws.bufferedAmount}`);
    });
    // WHATWG send(): while CLOSING or CLOSED, "increase the bufferedAmount attribute by the
    // length of data" (2, then 6 + 5 bytes). undici leaves it at 0, against the standard.
    expect(undici).toEqual(['closing rs=2 ok 0', 'ok ok', 'bufferedAmount=0']);
    expect(riptide).toEqual(['closing rs=2 ok 2', 'ok ok', 'bufferedAmount=13']);
  });

  it('a protocol error from the server: error, then close 1006 not clean', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = await open(C);
      rec.ws.send('bad-frame');
      await rec.until('close');
      log.push(...rec.log);
    });
    // WHATWG: "fail the WebSocket connection", then the close event with the connection's
    // close code: 1006, as no close frame was received (RFC 6455 7.1.5).
    expect(undici).toEqual(['open rs=1', 'error rs=3', 'close rs=3 1006 "" unclean']);
    expect(riptide).toEqual(errorWhileClosing(undici));
  });

  it('the server drops the connection: close 1006 not clean, no error event', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = await open(C);
      rec.ws.send('terminate');
      await rec.until('close');
      log.push(...rec.log);
    });
    // WHATWG fires error only when the connection was failed (or flagged as full); a TCP close
    // is neither. undici fires one anyway.
    expect(undici).toEqual(['open rs=1', 'error rs=3', 'close rs=3 1006 "" unclean']);
    expect(riptide).toEqual(['open rs=1', 'close rs=3 1006 "" unclean']);
  });
});

describe('WHATWG WebSockets: event handlers and listeners', () => {
  it('an on<type> handler set again keeps its place among the listeners; null removes it', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = await open(C);
      const ws = rec.ws;
      const a = () => log.push('a');
      const b = () => log.push('b');
      const c = () => log.push('c');
      const d = () => log.push('d');
      ws.onmessage = a;
      ws.addEventListener('message', b);
      ws.onmessage = c;
      log.push(`same=${ws.onmessage === c}`);
      await roundTrip(rec, '1');
      ws.onmessage = null;
      log.push(`null=${ws.onmessage === null}`);
      ws.onmessage = d; // after null: added again, last
      ws.addEventListener('message', b); // the same listener twice: no-op
      await roundTrip(rec, '2');
      ws.removeEventListener('message', b);
      await roundTrip(rec, '3');
      ws.close();
      await rec.until('close');
    });
    // HTML "event handlers": setting an event handler that already has a listener only changes
    // its callback, so c runs where a was, before b. undici (like ws 8) removes a and adds c
    // last ('b', 'c'), against the standard.
    expect(undici).toEqual(['same=true', 'b', 'c', 'null=true', 'b', 'd', 'd']);
    expect(riptide).toEqual(['same=true', 'c', 'b', 'null=true', 'b', 'd', 'd']);
  });

  it('a listener removed during a dispatch is not called by it; one added is called from the next', async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = await open(C);
      const ws = rec.ws;
      const late = () => log.push('late');
      const added = () => log.push('added');
      const handler = () => log.push('onmessage');
      ws.addEventListener('message', () => {
        log.push('first');
        ws.removeEventListener('message', late);
        ws.onmessage = null;
        ws.addEventListener('message', added);
      });
      ws.onmessage = handler;
      ws.addEventListener('message', late);
      await roundTrip(rec, '1');
      await roundTrip(rec, '2');
      ws.close();
      await rec.until('close');
    });
    // DOM "inner invoke": a listener removed meanwhile is skipped ("removed" is true); the
    // listeners are those of the dispatch's start, so the one added runs from the next event.
    expect(riptide).toEqual(undici);
    expect(riptide).toEqual(['first', 'first', 'added']);
  });

  it("'once' listeners, handleEvent objects, and this = the socket", async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = await open(C);
      const ws = rec.ws;
      ws.addEventListener('message', () => log.push('once'), { once: true });
      const handler = {
        handleEvent(e: StdEvent) {
          log.push(`handleEvent this=handler:${this === handler} target:${e.target === ws}`);
        },
      };
      ws.addEventListener('message', handler as unknown as (e: StdEvent) => void);
      ws.onmessage = function (this: unknown) {
        log.push(`onmessage this=socket:${this === ws}`);
      };
      await roundTrip(rec, '1');
      await roundTrip(rec, '2');
      ws.close();
      await rec.until('close');
    });
    expect(riptide).toEqual(undici);
    expect(riptide).toEqual([
      'once',
      'handleEvent this=handler:true target:true',
      'onmessage this=socket:true',
      'handleEvent this=handler:true target:true',
      'onmessage this=socket:true',
    ]);
  });

  it("a listener's signal (aborted before, aborted later) and a handleEvent set after addEventListener()", async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = await open(C);
      const ws = rec.ws;
      const before = new AbortController();
      before.abort();
      const later = new AbortController();
      type Add = (type: string, l: unknown, o?: { signal?: AbortSignal }) => void;
      const add = ws.addEventListener.bind(ws) as unknown as Add;
      add('message', () => log.push('aborted before'), { signal: before.signal });
      add('message', () => log.push('until aborted'), { signal: later.signal });
      const late: { handleEvent?: (e: StdEvent) => void } = {};
      add('message', late);
      late.handleEvent = (e) => log.push(`late handleEvent ${String(e.data)}`);
      await roundTrip(rec, '1');
      later.abort();
      await roundTrip(rec, '2');
      ws.close();
      await rec.until('close');
    });
    expect(riptide).toEqual(undici);
    expect(riptide).toEqual(['until aborted', 'late handleEvent 1', 'late handleEvent 2']);
  });

  it("dispatchEvent(): the listeners and on<type> in order with the caller's event, once, stopImmediatePropagation, the result", async () => {
    const { undici, riptide } = await both(async (C, log) => {
      const rec = await open(C);
      const ws = rec.ws;
      const data = { not: 'converted' };
      ws.addEventListener('message', () => log.push('once'), { once: true });
      ws.onmessage = function (this: unknown, e: StdEvent) {
        log.push(`onmessage this=socket:${this === ws} data:${e.data === data}`);
      };
      const handler = {
        handleEvent(e: StdEvent) {
          log.push(`handleEvent this=handler:${this === handler}`);
          (e as Event).preventDefault(); // cancels the cancelable one only
        },
      };
      ws.addEventListener('message', handler as unknown as (e: StdEvent) => void);
      ws.addEventListener('message', (e) => {
        log.push('stopper');
        (e as MessageEvent).stopImmediatePropagation();
      });
      ws.addEventListener('message', () => log.push('after the stopper'));
      // Node 20's MessageEvent ignores `cancelable`: a plain Event is the cancelable one.
      log.push(`returned ${ws.dispatchEvent(new Event('message', { cancelable: true }))}`);
      log.push(`returned ${ws.dispatchEvent(new MessageEvent('message', { data }))}`);
      log.push(`returned ${ws.dispatchEvent(new Event('unlistened'))}`);
      log.push(`non-event: ${thrown(() => ws.dispatchEvent({ type: 'message' } as unknown as Event))}`);
      ws.close();
      await rec.until('close');
    });
    expect(riptide).toEqual(undici);
    expect(riptide).toEqual([
      'once',
      'onmessage this=socket:true data:false',
      'handleEvent this=handler:true',
      'stopper',
      'returned false',
      'onmessage this=socket:true data:true',
      'handleEvent this=handler:true',
      'stopper',
      'returned true',
      'returned true',
      'non-event: TypeError',
    ]);
  });
});
