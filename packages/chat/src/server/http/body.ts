/**
 * What a request's body may still be doing when the chat answers: not sent yet (`Expect:
 * 100-continue`), or still coming (an answer given before it was read, a 413 first of all).
 *
 * - `Expect: 100-continue`: the server listens for 'checkContinue', so node:http sends no 100 by
 *   itself. `continueBody` sends it when a route starts reading the body; an answer given before
 *   that (a Content-Length over the limit: 413; a bad origin, no session...) goes without it, and
 *   the client need not send the body at all (RFC 9110 10.1.1).
 * - An HTTP/1.1 answer given while the body is still coming closes the connection (the rest of the
 *   body is not worth reading). node:http would close it as soon as the answer is flushed; the
 *   client's next bytes then meet a closed socket, the kernel answers them with a reset, and a
 *   client still writing its body sees "connection reset" instead of the answer (a reset can also
 *   discard an answer not read yet). Instead the server half-closes (a FIN after the answer) and
 *   reads and drops what still comes, until the body ends, up to LINGER.bytes, or after
 *   LINGER.idleMs without a byte; only then is the socket closed ("lingering close").
 * - What the body is said to be (isMediaType): the Content-Type's media type, in any case, with or
 *   without parameters.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';

export const LINGER = {
  /** The most of an unwanted body read and dropped after the answer, bytes. */
  bytes: 1024 * 1024,
  /** A lingering connection silent this long is closed, ms. */
  idleMs: 5_000,
} as const;

type AnyResponse = ServerResponse | Http2ServerResponse;

/** Responses whose request expects 100 Continue and has not had it yet. */
const owed = new WeakSet<AnyResponse>();

/** The server's 'checkContinue' listener, in front of the request handler: no 100 yet. */
export function deferContinue<Req extends IncomingMessage | Http2ServerRequest, Res extends AnyResponse>(
  handler: (req: Req, res: Res) => void,
): (req: Req, res: Res) => void {
  return (req, res) => {
    owed.add(res);
    handler(req, res);
  };
}

/** A route is about to read the body: invites it if the client waits for that. */
export function continueBody(res: AnyResponse): void {
  if (owed.delete(res)) res.writeContinue();
}

/**
 * Whether a request's Content-Type names this media type (given in lower case): in any case, alone
 * or with parameters (`; charset=utf-8`, whitespace allowed before the `;`), as RFC 9110 8.3.1
 * has it. Not by prefix: `application/json-evil` or `application/jsonp` is another type.
 */
export function isMediaType(contentType: string | undefined, type: string): boolean {
  if (contentType === undefined) return false;
  const semicolon = contentType.indexOf(';');
  const named = semicolon === -1 ? contentType : contentType.slice(0, semicolon);
  return named.trim().toLowerCase() === type;
}

/** The request each lingering-ready HTTP/1.1 socket is on now. */
const current = new WeakMap<Socket, IncomingMessage>();

/**
 * Call for each request before answering it: if node:http then closes the connection while this
 * request's body is still coming, it closes as described above. HTTP/2 streams are left alone
 * (a stream answered early is reset on its own, the connection stays).
 */
export function lingerOnClose(req: IncomingMessage | Http2ServerRequest, res: AnyResponse): void {
  if (req.httpVersionMajor !== 1) return;
  const socket = req.socket as Socket;
  // Answered with the body still coming: read on (and drop). Left unread, node:http would "dump"
  // the request once the answer is flushed, and a dumped request drops its body without a 'data'
  // event, so what linger() reads could not be counted.
  res.once('prefinish', () => {
    if (!req.complete) req.resume();
  });
  if (!current.has(socket)) {
    // node:http ends the connection after an answer marked as the last with destroySoon():
    // end(), then destroy() once flushed.
    const destroySoon = socket.destroySoon;
    socket.destroySoon = function (this: Socket) {
      const incoming = current.get(this);
      if (incoming === undefined || incoming.complete || this.destroyed) return destroySoon.call(this);
      linger(this, incoming);
    };
  }
  current.set(socket, req as IncomingMessage);
}

function linger(socket: Socket, req: IncomingMessage): void {
  socket.end();
  const close = () => {
    if (socket.writableFinished) socket.destroy();
    else socket.once('finish', () => socket.destroy());
  };
  // node:http destroys a socket that times out when nobody listens for that.
  socket.setTimeout(LINGER.idleMs);
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER.bytes) socket.destroy();
  });
  // The whole body read: nothing left in flight for a reset to answer.
  req.once('end', close);
  req.resume();
}
