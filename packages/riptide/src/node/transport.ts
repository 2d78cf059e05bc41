/**
 * The transport under a WebSocket: any Duplex whose opening handshake is done (a TCP or TLS
 * socket after an HTTP/1.1 upgrade, an HTTP/2 stream after an extended CONNECT, an in-process
 * pair). `WebSocket#_attach(transport, head, init)` starts the protocol over it; the types it
 * takes are here, so the handshake modules (client.ts, websocket-server.ts, http2-*.ts) need
 * nothing else from websocket.ts. See docs/node-layer.md, "Attaching a WebSocket to a transport".
 *
 * What a WebSocket does differently to an HTTP/2 stream (RFC 8441) than to a TCP socket:
 * aborting it, and how much of its output it hands to node's session at once (meterWrites).
 * Everything else (write, cork, end, pause, 'data', 'drain') is the Duplex interface both share.
 *
 * An HTTP/2 stream is recognised by its public `rstCode` property and `close(code)` method
 * (node:http2 Http2Stream); a net.Socket has neither.
 */

import type { EventEmitter } from 'node:events';
import { constants } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { PerMessageExtension } from '../core/extension.js';
import type { ProtocolSettings } from '../core/protocol.js';

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

// ---------------------------------------------------------------------------------------------
// Writing to an HTTP/2 stream

/**
 * At most this many bytes of one stream's output are in node's HTTP/2 session at a time (plus
 * node's framing). What a stream's write hands to node stays in the session until the peer's
 * flow-control window takes it, and it counts against the session's `maxSessionMemory` (10 MB
 * by default), past which node resets every new stream on that session (ENHANCE_YOUR_CALM):
 * one large send would refuse the page's next WebSocket and its requests (docs/http2.md). What
 * waits in the stream's Writable buffer behind a write in progress is not counted.
 */
export const STREAM_PIECE = 1024 * 1024;

/** Set on a stream by meterWrites: outbox.ts cuts batches larger than STREAM_PIECE for it. */
export const kMetered = Symbol('riptide.metered');

/** A metered stream's small writes gathered for one write to node (meteredWrite), or null. */
const kGathered = Symbol('riptide.gathered');

/**
 * Below this size, writes waiting in a metered stream's buffer behind more than STREAM_PIECE
 * bytes are gathered into one write to node (copied together); larger ones go as they are.
 */
const GATHER_MAX = 64 * 1024;

interface Gathered {
  chunks: Buffer[];
  bytes: number;
}

type WriteDone = (err?: Error | null) => void;

type MeteredStream = Duplex & { [kMetered]?: boolean; [kGathered]?: Gathered | null };

/**
 * Make `stream` (an HTTP/2 stream a WebSocket is about to run over) hand node its output in
 * pieces of at most STREAM_PIECE bytes: outbox.ts writes larger batches as several writes of at
 * most that size (subarrays of large payloads, small frames copied together), and the stream's
 * Writable, which hands node one write at a time and everything it buffered meanwhile as one
 * writev, makes that writev only while the buffered bytes stay within STREAM_PIECE, else one
 * write at a time (meteredWritev). Those writes one at a time would leave a backlog of many small
 * writes (a client that stopped reading, then resumed) one round trip through node's session
 * each: meteredWrite gathers them into writes of up to STREAM_PIECE instead. What waits stays in
 * the Writable (writableLength, bufferedAmount, 'drain' and the write callbacks as before, but
 * for the gathered writes: see meteredWrite). Called once per stream, by the HTTP/2 handshakes;
 * a TCP socket never gets it.
 */
export function meterWrites(stream: Duplex): void {
  const metered = stream as MeteredStream;
  metered[kMetered] = true;
  metered[kGathered] = null;
  // Node's Writable reads `_writev` each time it empties its buffer (clearBuffer): with it, the
  // buffered writes leave in one writev, without it one at a time, each through `_write`.
  Object.defineProperty(stream, '_writev', { configurable: true, get: meteredWritev });
  Object.defineProperty(stream, '_write', { configurable: true, writable: true, value: meteredWrite });
}

function meteredWritev(this: Duplex): unknown {
  return this.writableLength <= STREAM_PIECE ? (Object.getPrototypeOf(this) as Duplex)._writev : null;
}

/**
 * A metered stream's `_write`. Node's Writable calls it for a write made while the stream was
 * idle (nothing behind it: handed to node as is) and, while more than STREAM_PIECE bytes wait in
 * its buffer, for each of them in turn (meteredWritev), calling it again at once for the next
 * when a write completes synchronously. So a small write with more behind it is gathered and
 * completed at once, and the gathered writes go to node as one write (copied together) when they
 * reach STREAM_PIECE bytes or the buffer's end; the write that closes the group completes with
 * it, so node holds at most that one group of this stream's, and the Writable goes on once the
 * peer's window took it. The writes completed at once are called back as they join the group,
 * before it is in node's session (a TCP socket's writes call back once in the kernel, before the
 * peer has them); writableLength and bufferedAmount leave them out, at most STREAM_PIECE bytes.
 * Anything GATHER_MAX or larger goes as it is, after the group.
 */
function meteredWrite(this: MeteredStream, chunk: Buffer, encoding: BufferEncoding, cb: WriteDone): void {
  const node = Object.getPrototypeOf(this) as Duplex;
  const length = chunk.length;
  // The bytes in the Writable's buffer behind this write (its length counts this one too).
  const behind = this.writableLength - length;
  let group = this[kGathered] ?? null;
  if (group === null) {
    if (behind <= 0 || length >= GATHER_MAX) {
      node._write.call(this, chunk, encoding, cb);
      return;
    }
    group = this[kGathered] = { chunks: [], bytes: 0 };
  } else if (length >= GATHER_MAX) {
    // A large write ends the group: the group goes first, then this write as it is.
    this[kGathered] = null;
    if (behind <= 0 && this.writableEnded) {
      // The last write of an ending stream: node ends the stream (END_STREAM) after a write it is
      // handed while nothing waits in the Writable's buffer, so this one cannot wait for the
      // group; it goes in the group's write (node takes one write of a stream at a time), which
      // can then be up to twice the piece.
      group.chunks.push(chunk);
      group.bytes += length;
      handOver(this, group, cb);
      return;
    }
    handOver(this, group, (err) => {
      if (err) cb(err);
      else if (this.destroyed) cb(streamDestroyed());
      else node._write.call(this, chunk, encoding, cb);
    });
    return;
  }
  group.chunks.push(chunk);
  group.bytes += length;
  // Chunks are below GATHER_MAX, so a group stays within STREAM_PIECE.
  if (behind <= 0 || group.bytes >= STREAM_PIECE - GATHER_MAX) {
    this[kGathered] = null;
    handOver(this, group, cb);
  } else {
    cb();
  }
}

/** One write to node with a group's bytes; `cb` once node has taken it. */
function handOver(stream: Duplex, group: Gathered, cb: WriteDone): void {
  const { chunks, bytes } = group;
  const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes);
  // Called on the stream itself: node's _write reads its state from `this`. ('buffer' is what
  // node's Writable passes with a Buffer; not a BufferEncoding to the types.)
  (Object.getPrototypeOf(stream) as Duplex)._write.call(stream, data, 'buffer' as BufferEncoding, cb);
}

/** What node's Writable answers a write on a destroyed stream. */
function streamDestroyed(): Error {
  const err = new Error('Cannot call write after a stream was destroyed');
  (err as Error & { code: string }).code = 'ERR_STREAM_DESTROYED';
  return err;
}

// ---------------------------------------------------------------------------------------------
// Attaching a WebSocket to a transport: WebSocket#_attach(transport, head, init)

/**
 * The settings a connection runs with, validated once: a server builds one object and shares it
 * with all of its connections (bench scenario 5 counts the bytes of every idle connection).
 */
export interface ConnectionSettings {
  /** How long close() waits for the peer's close frame before destroying the transport (ms). */
  closeTimeout: number;
  /** ws 8's option: terminate a peer once this many automatic pongs wait unwritten (0: no limit). */
  maxPendingAutoPongs: number;
  /** ws 8's option; false: at most one 'message', 'ping' or 'pong' per macrotask. */
  allowSynchronousEvents: boolean;
  /** The core's settings (role, limits, masking randomness, autoPong). */
  protocol: ProtocolSettings;
}

/**
 * What a server gives each of its WebSockets: the WebSocket calls it (passing itself) when it
 * starts closing and once it is closed, and for its pub/sub methods. websocket-server.ts.
 */
export interface ServerLink {
  _clientClosing(ws: object): void;
  _clientClosed(ws: object): void;
  _subscribe(ws: object, topic: string): boolean;
  _unsubscribe(ws: object, topic: string): boolean;
  _isSubscribed(ws: object, topic: string): boolean;
  _topicsOf(ws: object): string[];
}

/** Everything a WebSocket needs to run over a transport whose handshake is done. */
export interface AttachInit {
  settings: ConnectionSettings;
  /** The negotiated permessage-deflate (or other extension) the core runs, or null. */
  extension: PerMessageExtension | null;
  /** The negotiated subprotocol ('' if none). */
  protocol: string;
  /** The Sec-WebSocket-Extensions value that was agreed ('' if none). */
  extensions: string;
  /** The server the WebSocket belongs to (server side), or null. */
  server: ServerLink | null;
  /**
   * Bytes to send before the first frame (the HTTP/1.1 101 response), if not sent yet. Sends wait
   * (as inside a 'data' handler) until the caller runs the handshake's callback through
   * `_opening()`, which writes them with what the callback sent.
   */
  preamble?: Buffer;
}

/**
 * What a client handshake (client.ts, http2-client.ts) needs from the WebSocket it opens
 * (websocket.ts implements it): the WebSocket owns its state, the handshake only calls these.
 */
export interface ClientHost extends EventEmitter {
  readonly readyState: number;
  /** The URL connected to (set again after each redirect). */
  _setUrl(href: string): void;
  /** The pending handshake (cancelled by close()/terminate()), or null once answered. */
  _setRequest(req: Cancelable | null): void;
  /** Is `req` still the pending handshake (not cancelled, not replaced by a redirect)? */
  _isRequest(req: Cancelable): boolean;
  /** Fail the handshake: 'error' (to listeners) then 'close' 1006. */
  _abortHandshake(err: Error): void;
  /** The server accepted: run the protocol over `transport`. */
  _attach(transport: Duplex, head: Buffer | null, init: AttachInit): void;
}

/** Something a pending handshake can be cancelled through (a request, an HTTP/2 stream). */
export interface Cancelable {
  destroy(): void;
}
