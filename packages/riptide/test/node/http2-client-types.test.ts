/**
 * The HTTP/2 client's handshake objects in riptide's shipped declarations (the built package,
 * 'riptide'): what 'redirect', 'unexpected-response' and 'upgrade' listeners are given, and how a listener
 * tells the two transports apart. Compile-time checks: `npm run typecheck` fails if one breaks;
 * the listeners are never called (the runtime side, instanceof on real events, is in
 * http2-client.test.ts).
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type * as riptide from 'riptide';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type * as ws from 'ws';

type H2Request = riptide.Http2HandshakeRequest;
type H2Response = riptide.Http2HandshakeResponse;

describe("'redirect', 'unexpected-response' and 'upgrade' name both transports' objects", () => {
  it('an unannotated listener gets the unions (riptide.HandshakeRequest, riptide.HandshakeResponse)', () => {
    const socket = {} as riptide.WebSocket;
    const check = (): void => {
      socket.on('redirect', (url, request) => {
        expectTypeOf(url).toEqualTypeOf<string>();
        expectTypeOf(request).toEqualTypeOf<ClientRequest | H2Request>();
        // What both have: a ws-style listener's usual calls compile without narrowing.
        request.setHeader('x-hop', '1');
        request.removeHeader('cookie');
        void request.getHeader('authorization');
        request.destroy(new Error('no'));
      });
      socket.once('unexpected-response', (request, response) => {
        expectTypeOf(request).toEqualTypeOf<riptide.HandshakeRequest>();
        expectTypeOf(response).toEqualTypeOf<IncomingMessage | H2Response>();
        void [response.statusCode, response.headers.location];
        response.on('data', (chunk: Buffer) => void chunk);
        response.resume();
      });
      socket.on('upgrade', (response) => {
        // The 101 over HTTP/1.1, the 2xx in its place over HTTP/2 (RFC 8441).
        expectTypeOf(response).toEqualTypeOf<riptide.HandshakeResponse>();
        expectTypeOf(response).toEqualTypeOf<IncomingMessage | H2Response>();
        void [response.statusCode, response.headers['set-cookie']];
      });
    };
    expect(typeof check).toBe('function');
  });

  it('a listener narrows by instanceof (the classes are exported values)', () => {
    const socket = {} as riptide.WebSocket;
    const check = (
      Request: typeof riptide.Http2HandshakeRequest,
      Response: typeof riptide.Http2HandshakeResponse,
    ) => {
      socket.on('unexpected-response', (request, response) => {
        if (request instanceof Request) {
          expectTypeOf(request).toEqualTypeOf<H2Request>();
          expectTypeOf(request.stream).toEqualTypeOf<import('node:http2').ClientHttp2Stream | null>();
        } else {
          expectTypeOf(request).toEqualTypeOf<ClientRequest>();
          void request.socket;
        }
        if (response instanceof Response) expectTypeOf(response.httpVersion).toEqualTypeOf<'2.0'>();
        else expectTypeOf(response).toEqualTypeOf<IncomingMessage>();
      });
    };
    expect(typeof check).toBe('function');
  });

  it("a listener narrows by a property: 'stream' is on the HTTP/2 objects only", () => {
    const socket = {} as riptide.WebSocket;
    const check = (): void => {
      socket.on('redirect', (_url, request) => {
        if ('stream' in request) expectTypeOf(request).toEqualTypeOf<H2Request>();
        else expectTypeOf(request).toEqualTypeOf<ClientRequest>();
      });
      socket.on('unexpected-response', (_request, response) => {
        if ('stream' in response) expectTypeOf(response).toEqualTypeOf<H2Response>();
        else expectTypeOf(response).toEqualTypeOf<IncomingMessage>();
      });
      socket.once('upgrade', (response) => {
        if ('stream' in response) expectTypeOf(response).toEqualTypeOf<H2Response>();
        else expectTypeOf(response).toEqualTypeOf<IncomingMessage>();
      });
    };
    expect(typeof check).toBe('function');
  });

  it("what only node:http's objects have needs narrowing first", () => {
    const socket = {} as riptide.WebSocket;
    const check = (): void => {
      socket.on('unexpected-response', (request, response) => {
        // @ts-expect-error no socket over HTTP/2: the request is one HEADERS frame on a stream
        void request.socket;
        // @ts-expect-error an Http2HandshakeResponse is not an IncomingMessage
        const message: IncomingMessage = response;
        void message;
      });
      socket.on('upgrade', (response) => {
        // @ts-expect-error the 2xx of an HTTP/2 handshake has no socket of its own (its `stream`)
        void response.socket;
      });
    };
    // Neither HTTP/2 object is node's (they share the members listed in docs/http2.md).
    const notClientRequest: [H2Request] extends [ClientRequest] ? true : false = false;
    const notIncomingMessage: [H2Response] extends [IncomingMessage] ? true : false = false;
    expect([typeof check, notClientRequest, notIncomingMessage]).toEqual(['function', false, false]);
  });
});

describe('code written for ws (typed with ClientRequest and IncomingMessage) still compiles', () => {
  it('listeners annotated with node:http types, or typed as @types/ws declares them', () => {
    const socket = {} as riptide.WebSocket;
    type WsRedirect = (this: ws.WebSocket, url: string, request: ClientRequest) => void;
    type WsUnexpected = (this: ws.WebSocket, request: ClientRequest, response: IncomingMessage) => void;
    type WsUpgrade = (this: ws.WebSocket, response: IncomingMessage) => void;
    const check = (redirect: WsRedirect, unexpected: WsUnexpected, upgrade: WsUpgrade): void => {
      socket.on('upgrade', (response: IncomingMessage) => void response.socket);
      socket.once('upgrade', upgrade);
      socket.on('redirect', (url: string, request: ClientRequest) => void [url, request.socket]);
      socket.on('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
        void [request.path, response.socket];
      });
      socket.on('redirect', redirect);
      socket.once('unexpected-response', unexpected);
    };
    // And the WebSocket is still one where @types/ws's is expected.
    const instance: ws.WebSocket = {} as riptide.WebSocket;
    expect([typeof check, typeof instance]).toEqual(['function', 'object']);
  });
});
