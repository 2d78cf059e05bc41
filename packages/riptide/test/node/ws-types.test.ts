/**
 * TypeScript drop-in: riptide's shipped declarations (the built package, 'riptide') against
 * @types/ws, both ways a ws user meets them. These are compile-time checks: `npm run typecheck`
 * fails if one breaks; the runtime assertions only keep vitest from reporting an empty file.
 */
import type { IncomingMessage } from 'node:http';
import type * as riptide from 'riptide';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type * as ws from 'ws';

/** True when A is assignable to B (checked at compile time by the `true` it is assigned). */
type Assignable<A, B> = [A] extends [B] ? true : false;

/** A value of type T for an assignment to check (the tests run no code on it). */
const value = <T>(): T => undefined as T;

describe("riptide's objects where ws's types are expected", () => {
  it("a WebSocket is a ws WebSocket (not the class: ws's constructor takes http.ClientRequestArgs)", () => {
    const instance: ws.WebSocket = value<riptide.WebSocket>();
    const many: ws.WebSocket[] = value<riptide.WebSocket[]>();
    // The constructor: ws's also takes http.ClientRequestArgs, whose headers riptide does not.
    const klass: Assignable<typeof riptide.WebSocket, typeof ws.WebSocket> = false;
    expect([instance, many, klass]).toEqual([undefined, undefined, false]);
  });

  it('the event objects and message data are the ones ws declares', () => {
    const checks: true[] = [
      true as Assignable<riptide.RawData, ws.RawData>,
      true as Assignable<riptide.Data, ws.Data>,
      true as Assignable<riptide.WebSocketEventMap['open'], ws.Event>,
      true as Assignable<riptide.WebSocketEventMap['message'], ws.MessageEvent>,
      true as Assignable<riptide.WebSocketEventMap['close'], ws.CloseEvent>,
      true as Assignable<riptide.WebSocketEventMap['error'], ws.ErrorEvent>,
    ];
    expect(checks).toHaveLength(6);
  });

  it('a WebSocketServer is not a ws WebSocketServer: known gaps (docs/node-layer.md)', () => {
    // @types/ws declares `path: string` on the server, which ws 8 neither has nor documents, and
    // its `options.server` is an http(s) server where riptide's may also be an http2 one.
    // @ts-expect-error path, options.server
    const server: ws.WebSocketServer = value<riptide.WebSocketServer>();
    expect(server).toBeUndefined();
  });
});

describe('callbacks and options written for ws, given to riptide', () => {
  it("on(...) listeners typed with ws's types", () => {
    const socket = {} as riptide.WebSocket;
    const server = {} as riptide.WebSocketServer;
    // The parameters riptide infers are ws's types (compile-time only: never called).
    const check = (): void => {
      server.on('connection', (client, request) => {
        expectTypeOf(client).toExtend<ws.WebSocket>();
        expectTypeOf(request).toEqualTypeOf<IncomingMessage>();
      });
      socket.on('message', (data, isBinary) => {
        expectTypeOf(data).toExtend<ws.RawData>();
        expectTypeOf(isBinary).toEqualTypeOf<boolean>();
      });
      socket.on('close', (code, reason) => {
        expectTypeOf(code).toEqualTypeOf<number>();
        expectTypeOf(reason).toEqualTypeOf<Buffer>();
      });
    };
    expect(typeof check).toBe('function');
  });

  it("on<type> attributes and addEventListener take handlers of ws's event types", () => {
    const socket = {} as riptide.WebSocket;
    const set = (): void => {
      socket.onmessage = (event: ws.MessageEvent) => void event.data;
      socket.onclose = (event: ws.CloseEvent) => void event.code;
      socket.onerror = (event: ws.ErrorEvent) => void event.message;
      socket.onopen = (event: ws.Event) => void event.target;
      socket.addEventListener('message', (event: ws.MessageEvent) => void event.data);
    };
    expect(typeof set).toBe('function');
  });

  it("ws's ClientOptions are riptide's (protocolVersion: number, finishRequest's socket)", () => {
    const options: riptide.ClientOptions = value<ws.ClientOptions>();
    expect(options).toBeUndefined();
  });

  it("ws's ServerOptions and verifyClient types are not riptide's: known gaps", () => {
    // verifyClient: ws types info.origin as string, riptide as string | undefined (no Origin
    // header, in ws too); server: riptide's may also be an HTTP/2 server.
    const gaps: false[] = [
      false as Assignable<ws.ServerOptions, riptide.ServerOptions>,
      false as Assignable<ws.VerifyClientCallbackSync, riptide.VerifyClientCallbackSync>,
      false as Assignable<ws.VerifyClientCallbackAsync, riptide.VerifyClientCallbackAsync>,
    ];
    expect(gaps).toHaveLength(3);
  });
});

describe("riptide's WebSocket where the standard's (undici-types, Node's global) is expected", () => {
  // What keeps `typeof WebSocket` from the standard's (docs/node-layer.md, "Not assignable, and
  // why"); the rest of the standard interface is assignable, dispatchEvent() and send(Blob)
  // included (ws 8.18 and the standard read a Blob and send it). onerror is
  // left out too: its parameter is ws's ErrorEvent where the standard's is a plain Event, which
  // tsc reports or not depending on the order it checks the files in, so it is not pinned.
  type Gaps = 'binaryType' | 'onerror';
  type Standard = Omit<globalThis.WebSocket, Gaps>;

  it('an instance and the class have the rest of the standard interface, dispatchEvent() too', () => {
    const instance: Standard = value<riptide.WebSocket>();
    const klass: new (url: string | URL, protocols?: string | string[]) => Standard =
      value<typeof riptide.WebSocket>();
    const dispatch: Pick<globalThis.WebSocket, 'dispatchEvent'> = value<riptide.WebSocket>();
    // The standard's send(data: string | ArrayBufferLike | Blob | ArrayBufferView).
    const send: Pick<globalThis.WebSocket, 'send'> = value<riptide.WebSocket>();
    const sendsBlob: Assignable<riptide.WebSocket, Pick<globalThis.WebSocket, 'send'>> = true;
    expect([instance, klass, dispatch, send, sendsBlob]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      true,
    ]);
  });

  it("the class is not the standard's typeof WebSocket: known gaps, a cast is still needed", () => {
    // binaryType reads 'nodebuffer' | 'arraybuffer' | 'fragments' (ws's values, which @types/ws
    // needs; the standard's are 'blob' | 'arraybuffer'). Typed constants: a gap that closes (or
    // opens) is a type error here.
    const whole: Assignable<typeof riptide.WebSocket, typeof globalThis.WebSocket> = false;
    const binaryType: Assignable<riptide.WebSocket, Pick<globalThis.WebSocket, 'binaryType'>> = false;
    expect([whole, binaryType]).toEqual([false, false]);
  });
});
