/**
 * What a WebSocket does differently to an HTTP/2 stream (RFC 8441) than to a TCP socket:
 * aborting it. Everything else (write, cork, end, pause, 'data', 'drain') is the Duplex interface
 * both share.
 *
 * An HTTP/2 stream is recognised by its public `rstCode` property and `close(code)` method
 * (node:http2 Http2Stream); a net.Socket has neither.
 */
import { constants } from 'node:http2';
import type { Duplex } from 'node:stream';

interface StreamLike {
  rstCode?: number;
  close?: (code: number) => void;
}

function isHttp2Stream(t: Duplex): boolean {
  return 'rstCode' in t && typeof (t as StreamLike).close === 'function';
}

/**
 * Drop the transport without a closing handshake (terminate(), close timeout). For an HTTP/2
 * stream, RFC 8441 5: "RST exceptions are represented with RST_STREAM frames with the CANCEL
 * error code" (a plain destroy() would send NO_ERROR).
 */
export function abortTransport(t: Duplex): void {
  if (isHttp2Stream(t) && !t.destroyed) (t as StreamLike).close!(constants.NGHTTP2_CANCEL);
  else t.destroy();
}
