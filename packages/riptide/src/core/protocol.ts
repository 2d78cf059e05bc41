/**
 * The WebSocket connection state machine: the one place that decides states and transitions.
 *
 * Bytes in (`receive`, `receiveEof`), events out (a ProtocolSink, called synchronously);
 * actions in (`sendText`, `close`, ...), bytes out (`output` / `takeOutput()`). No sockets, no
 * timers, no randomness of its own: the Node layer owns those and drains this object.
 *
 * States (RFC 6455 4.1, 7; readyState values of the WebSocket API):
 *
 *   CONNECTING(0) --open()--> OPEN(1) --close() or peer's close frame or violation--> CLOSING(2)
 *                                                                                        |
 *   CLOSED(3) <--both close frames exchanged, or the transport ended (receiveEof)--------'
 *
 * The closing handshake (RFC 6455 5.5.1, 7.1):
 *
 *     we close first                          the peer closes first
 *     --------------                          ---------------------
 *     close(code) -> [close frame out]        [close frame in] -> onClose(code, reason)
 *     state CLOSING                           [our close frame out, echoing code and reason]
 *     ... data still delivered ...            state CLOSED, endTransport
 *     [close frame in] -> onClose(...)
 *     state CLOSED, endTransport
 *
 * The peer's close frame may arrive while a message is being compressed in slices (its first
 * frames are out, FIN not yet), or while the caller holds data it accepted but could not hand
 * over yet (`dataPending`: the Node layer sets it while it reads a Blob given to send()). Our
 * answer then waits for that message, as ws 8's sender queues its answer behind the messages it
 * is compressing and the Blobs it is reading:
 *
 *     [close frame in] -> onClose, closeOwed, state CLOSING (data frames still accepted)
 *     compressNextSlice() ... [last fragment, FIN]   (the caller's earlier sends may follow)
 *     or: dataPending = false, sendData(the Blob's bytes)   (idem)
 *     answerClose() -> [our close frame out, echoing]   state CLOSED, endTransport
 *
 * The core only decides that the answer is owed; the caller decides when it is due (it knows
 * what it accepted before the close) and bounds the wait with its close timer.
 *
 * After a close frame has been received, input is discarded (the receiver's DISCARD phase).
 * "Fail the WebSocket Connection" (RFC 6455 7.1.7) is ONE transition, `fail(error)`: queue a
 * close frame with the error's close code (unless it is 1006), discard input, set endTransport,
 * report onError. The close code of the 'close' event is the peer's (1005 if its frame had none),
 * or 1006 when no close frame was received (RFC 6455 7.1.5).
 *
 * `endTransport` tells the Node layer to end the TCP connection once the output is flushed.
 * RFC 6455 7.1.1 wants the server to close the TCP connection first; the client half-closes
 * after the handshake too, and the Node layer destroys it if the server has not closed in time.
 */
import { encodeClosePayload, parseClosePayload } from './close.js';
import { CloseCode, ProtocolError, peerError, UsageError, UsageRangeError } from './errors.js';
import type { PerMessageExtension } from './extension.js';
import { Opcode } from './frame.js';
import { type FrameHandler, Receiver } from './receiver.js';
import { closeRun, pushFrame, pushStringFrame, type RandomFill } from './sender.js';

export const State = {
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
} as const;

export type StateValue = (typeof State)[keyof typeof State];

const STATE_NAMES = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'] as const;

/** Events out of the core. Called synchronously from `receive`, in order. */
export interface ProtocolSink {
  /** A whole message; text is already UTF-8 validated (unless skipUtf8Validation). */
  onMessage(data: Buffer, isBinary: boolean): void;
  /** A ping; its pong is already queued when autoPong is on. */
  onPing(data: Buffer): void;
  onPong(data: Buffer): void;
  /**
   * The peer's close frame; our answer (if needed) is already queued, or owed (closeOwed) while a
   * message is being compressed in slices or dataPending: answerClose() queues it once that
   * message is out.
   */
  onClose(code: number, reason: string): void;
  /** The peer broke the protocol; the close frame is queued, endTransport is set. */
  onError(error: ProtocolError): void;
}

export interface ProtocolOptions {
  role: 'client' | 'server';
  /** Maximum message size in bytes, after decompression. 0 = 4 GiB (the largest Buffer on Node 20). Default 100 MiB. */
  maxPayload?: number;
  /** Maximum number of frames in one message (ws 8's maxFragments). 0 (default) = no limit. */
  maxFragments?: number;
  /**
   * Maximum number of input chunks held for one unfinished frame (ws 8's maxBufferedChunks):
   * a peer dribbling a frame in tiny pieces is failed with 1008. 0 (default) = no limit.
   */
  maxBufferedChunks?: number;
  /** Randomness for masking keys; required for the client role. */
  randomFill?: RandomFill | null;
  extension?: PerMessageExtension | null;
  skipUtf8Validation?: boolean;
  /** RFC 6455 5.5.2: answer pings automatically (default true). */
  autoPong?: boolean;
  /** Start in CONNECTING (then call open()); default: start OPEN. */
  connecting?: boolean;
}

export const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;

/**
 * The deflate budget: input bytes compressed per event-loop turn. A compressed message up to
 * this size is compressed in one call, as before; a larger one is compressed one slice per turn
 * (the Node layer calls compressNextSlice() after each turn) and sent as a fragmented message,
 * one frame per slice. The same figure as receiver.ts INFLATE_SLICE, the budget on the way in.
 */
export const DEFLATE_SLICE = 256 * 1024;

/** Protocol.flags bits: the connection's booleans packed in one small integer. */
const END_TRANSPORT = 1;
const CLOSE_SENT = 2;
const CLOSE_RECEIVED = 4;
const DISCARDED_EARLY = 8;
const FRAGMENTING = 16;
const TRANSPORT_ENDED = 32;
const CLOSE_OWED = 64;
const DATA_PENDING = 128;

/**
 * The validated settings of one endpoint (role, limits, randomness, autoPong): immutable, so a
 * server builds one and shares it with all of its connections instead of each Protocol
 * carrying its own copy (bench scenario 5 counts the bytes of every idle connection).
 */
export class ProtocolSettings {
  readonly role: 'client' | 'server';
  readonly maxPayload: number;
  readonly maxFragments: number;
  readonly maxBufferedChunks: number;
  readonly skipUtf8: boolean;
  /** Masking randomness (client role), null for a server. */
  readonly random: RandomFill | null;
  readonly autoPong: boolean;

  constructor(options: ProtocolOptions) {
    if (options === null || typeof options !== 'object') {
      throw new UsageError('WS_ERR_INVALID_OPTION', 'Protocol options must be an object');
    }
    const role = options.role;
    if (role !== 'client' && role !== 'server') {
      throw new UsageError('WS_ERR_INVALID_OPTION', `role must be 'client' or 'server', got ${String(role)}`);
    }
    const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (!Number.isSafeInteger(maxPayload) || maxPayload < 0) {
      throw new UsageError(
        'WS_ERR_INVALID_OPTION',
        `maxPayload must be a non-negative integer, got ${maxPayload}`,
      );
    }
    const random = options.randomFill ?? null;
    if (role === 'client' && random === null) {
      throw new UsageError('WS_ERR_INVALID_OPTION', 'the client role needs randomFill for masking keys');
    }
    this.role = role;
    this.maxPayload = maxPayload;
    this.maxFragments = countLimit(options.maxFragments, 'maxFragments');
    this.maxBufferedChunks = countLimit(options.maxBufferedChunks, 'maxBufferedChunks');
    this.skipUtf8 = options.skipUtf8Validation ?? false;
    this.random = role === 'client' ? random : null;
    this.autoPong = options.autoPong ?? true;
  }
}

export class Protocol implements FrameHandler {
  state: StateValue;
  /** Frames queued since the last takeOutput(), in order (null: none; allocated on demand). */
  output: Buffer[] | null = null;
  outputBytes = 0;
  /**
   * The application's part of `outputBytes`: the payload of the messages, pings and pongs the
   * caller queued (before compression), without frame headers, automatic pongs, close frames
   * or a preamble. What the WebSocket API's bufferedAmount counts for bytes not yet written.
   */
  outputPayload = 0;
  /** What the 'close' event reports: the peer's code, 1005 if none in its frame, else 1006. */
  closeCode: number = CloseCode.ABNORMAL;
  closeReason = '';
  /**
   * The peer's reason as it came (ws 8's 'close' gives these bytes): with skipUtf8Validation they
   * may not be UTF-8, and `closeReason` then holds U+FFFD where the bytes were invalid.
   */
  closeReasonBytes: Buffer = EMPTY;
  readonly extension: PerMessageExtension | null;
  readonly settings: ProtocolSettings;
  private readonly sink: ProtocolSink;
  /** The parser, created on the first input: an idle connection carries none. */
  private parser: Receiver | null = null;
  /** END_TRANSPORT | CLOSE_SENT | ...: see the accessors below. */
  private flags = 0;

  /**
   * `options`: ProtocolOptions, or settings shared by many connections (then `extension` and
   * `connecting` are this connection's own).
   */
  constructor(
    sink: ProtocolSink,
    options: ProtocolOptions | ProtocolSettings,
    extension?: PerMessageExtension | null,
    connecting?: boolean,
  ) {
    if (options instanceof ProtocolSettings) {
      this.settings = options;
      this.extension = extension ?? null;
    } else {
      this.settings = new ProtocolSettings(options);
      this.extension = options.extension ?? null;
      connecting = options.connecting;
    }
    this.sink = sink;
    this.state = connecting === true ? State.CONNECTING : State.OPEN;
  }

  get role(): 'client' | 'server' {
    return this.settings.role;
  }

  /** The transport should be ended once `output` is flushed. */
  get endTransport(): boolean {
    return (this.flags & END_TRANSPORT) !== 0;
  }
  set endTransport(on: boolean) {
    this.flags = on ? this.flags | END_TRANSPORT : this.flags & ~END_TRANSPORT;
  }

  get closeSent(): boolean {
    return (this.flags & CLOSE_SENT) !== 0;
  }
  set closeSent(on: boolean) {
    this.flags = on ? this.flags | CLOSE_SENT : this.flags & ~CLOSE_SENT;
  }

  get closeReceived(): boolean {
    return (this.flags & CLOSE_RECEIVED) !== 0;
  }
  set closeReceived(on: boolean) {
    this.flags = on ? this.flags | CLOSE_RECEIVED : this.flags & ~CLOSE_RECEIVED;
  }

  /** Input was discarded before any arrived (the parser, once made, starts discarding). */
  private get discardedEarly(): boolean {
    return (this.flags & DISCARDED_EARLY) !== 0;
  }
  private set discardedEarly(on: boolean) {
    this.flags = on ? this.flags | DISCARDED_EARLY : this.flags & ~DISCARDED_EARLY;
  }

  /** Inside a fragmented outgoing message: the next data frame is a continuation. */
  private get fragmenting(): boolean {
    return (this.flags & FRAGMENTING) !== 0;
  }
  private set fragmenting(on: boolean) {
    this.flags = on ? this.flags | FRAGMENTING : this.flags & ~FRAGMENTING;
  }

  /**
   * The peer's close frame arrived while a message was being compressed in slices, or while
   * dataPending: our answer waits for it. Until answerClose() (or close()) queues the answer, the state is CLOSING and
   * data frames are still accepted: the rest of that message, and what the caller had accepted
   * before the peer's close. Cleared by the answer, a failure or the transport's end.
   */
  get closeOwed(): boolean {
    return (this.flags & CLOSE_OWED) !== 0;
  }
  private set closeOwed(on: boolean) {
    this.flags = on ? this.flags | CLOSE_OWED : this.flags & ~CLOSE_OWED;
  }

  /**
   * Set by the caller while it holds data it accepted before any close but has not handed to
   * the core yet (the Node layer: a Blob being read, and what was sent behind it). A peer's
   * close frame that arrives meanwhile is then owed (closeOwed) instead of answered at once, as
   * during a sliced message; the caller clears it once the data is queued (or given up) and
   * calls answerClose() after it. The core never clears it itself.
   */
  get dataPending(): boolean {
    return (this.flags & DATA_PENDING) !== 0;
  }
  set dataPending(on: boolean) {
    this.flags = on ? this.flags | DATA_PENDING : this.flags & ~DATA_PENDING;
  }

  private get transportEnded(): boolean {
    return (this.flags & TRANSPORT_ENDED) !== 0;
  }
  private set transportEnded(on: boolean) {
    this.flags = on ? this.flags | TRANSPORT_ENDED : this.flags & ~TRANSPORT_ENDED;
  }

  private get receiver(): Receiver {
    let parser = this.parser;
    if (parser === null) {
      parser = new Receiver(this, {
        expectMasked: this.settings.role === 'server',
        maxPayload: this.settings.maxPayload,
        maxFragments: this.settings.maxFragments,
        maxBufferedChunks: this.settings.maxBufferedChunks,
        skipUtf8Validation: this.settings.skipUtf8,
        extension: this.extension,
      });
      if (this.discardedEarly) parser.discard();
      this.parser = parser;
    }
    return parser;
  }

  /** Ignore all further input (after a close frame, a violation or EOF). */
  private discardInput(): void {
    if (this.parser !== null) this.parser.discard();
    else this.discardedEarly = true;
  }

  private get discarding(): boolean {
    return this.parser === null ? this.discardedEarly : this.parser.discarding;
  }

  // ---------------------------------------------------------------- input

  /**
   * Parse bytes from the peer; sink methods are called synchronously, in order. `borrowed`: the
   * caller reuses `chunk`'s memory once this returns, so nothing handed on or kept is a view of
   * it (Receiver#receive).
   */
  receive(chunk: Buffer, borrowed = false): void {
    if (this.state === State.CONNECTING) {
      throw new UsageError('WS_ERR_NOT_OPEN', 'receive() before open()');
    }
    this.receiver.receive(chunk, borrowed);
  }

  /**
   * Where the next read may land directly (Receiver#directTarget): a view of the current large
   * payload's buffer, or null. Bytes read there are given with receivedInPlace, never receive.
   */
  directTarget(min?: number): Buffer | null {
    return this.parser === null ? null : this.parser.directTarget(min);
  }

  /** `n` bytes were read into the last directTarget() (Receiver#receivedInPlace). */
  receivedInPlace(n: number): void {
    this.receiver.receivedInPlace(n);
  }

  /**
   * The transport has ended: no more bytes will come, none can be sent. Releases the extension
   * (zlib memory) whether the closing handshake completed or not. Idempotent.
   *
   * Input that already arrived but waits for its inflate slices (sliceSpent) is still parsed, one
   * slice per nextSlice() as before, as ws 8 delivers what it received before the end (a peer
   * may send a large compressed message, its close frame and its FIN at once): sliceSpent stays
   * true until it is done, then input is discarded and the extension released. So is input held
   * by a pause (the Node layer's deferred events, allowSynchronousEvents: false): resume() goes
   * on with it (inputWaiting), and so is input a throwing sink left (continueAfterThrow). A
   * message we are compressing in slices is given up at once. abort() drops that input too.
   */
  receiveEof(): void {
    if (this.transportEnded) return;
    this.endTransportState();
    if (this.sliceSpent || (this.isPaused && !this.discarding) || this.unparsedAfterThrow) {
      this.extension?.cancelCompress();
      return;
    }
    this.endInput();
  }

  /**
   * The caller gives the connection up (the WebSocket API's terminate()): as receiveEof(), but
   * input already received is discarded too, unparsed. Idempotent.
   */
  abort(): void {
    if (!this.transportEnded) this.endTransportState();
    this.endInput();
  }

  /**
   * The transport has ended, but input that came before its end is still to be parsed (it waits
   * for its inflate slices, or for resume()): nextSlice() and resume() go on with it; abort()
   * drops it.
   */
  get inputWaiting(): boolean {
    return this.transportEnded && !this.discarding;
  }

  private endTransportState(): void {
    this.transportEnded = true;
    this.closeOwed = false; // nothing can be sent any more
    this.state = State.CLOSED;
  }

  /** After the transport's end: ignore input, release the extension (both idempotent). */
  private endInput(): void {
    this.discardInput();
    this.extension?.close();
  }

  pause(): void {
    this.receiver.pause();
  }

  resume(): void {
    if (this.parser !== null) this.parser.resume();
    this.endInputIfParsed();
  }

  get isPaused(): boolean {
    return this.parser?.isPaused === true;
  }

  /**
   * A sink method threw out of receive(), resume() or nextSlice() (user code) and left input
   * unparsed: the caller lets the exception go on and calls continueAfterThrow() later.
   */
  get unparsedAfterThrow(): boolean {
    return this.parser?.unparsedAfterThrow === true;
  }

  /** Parse the input a throw left (see unparsedAfterThrow), in order, from the next frame. */
  continueAfterThrow(): void {
    if (this.parser !== null) this.parser.continueAfterThrow();
    this.endInputIfParsed();
  }

  /**
   * The inflate budget of this slice is spent (receiver.ts, INFLATE_SLICE): the I/O layer should
   * stop reading, let other work run, then call nextSlice(). Input received meanwhile is kept.
   */
  get sliceSpent(): boolean {
    return this.parser?.sliceSpent === true;
  }

  /** A new inflate budget: go on with the suspended frame and the input waiting behind it. */
  nextSlice(): void {
    if (this.parser !== null) this.parser.nextSlice();
    this.endInputIfParsed();
  }

  /**
   * The transport ended while input waited for its inflate slices (receiveEof): once it is all
   * parsed, the end takes effect. A pause that stops the parser on the way (a deferred event,
   * allowSynchronousEvents: false) keeps the rest for resume(); the caller that gives it up
   * calls abort().
   */
  private endInputIfParsed(): void {
    if (this.transportEnded && !this.sliceSpent && !this.isPaused) this.endInput();
  }

  /** A fragmented message is being sent (fin: false so far): whole frames must wait. */
  get sendingFragments(): boolean {
    return this.fragmenting;
  }

  /**
   * A large message is being compressed in slices (DEFLATE_SLICE): until it is done, data frames
   * (send, sendFramed) are refused; control frames may go between its frames (RFC 6455 5.4).
   */
  get compressing(): boolean {
    const ext = this.extension;
    return ext !== null && ext.compressLeft > 0;
  }

  /** Input bytes of that message not compressed yet (the application's bytes still queued). */
  get compressPending(): number {
    const ext = this.extension;
    return ext === null ? 0 : ext.compressLeft;
  }

  /**
   * Compress the next slice of the message being compressed and queue it as a continuation
   * frame (the last one with FIN). The Node layer calls this once per event-loop turn while
   * `compressing`; a no-op otherwise.
   */
  compressNextSlice(): void {
    const ext = this.extension;
    if (ext === null) return;
    const left = ext.compressLeft;
    if (left === 0) return;
    const payload = ext.compressNext(DEFLATE_SLICE);
    if (payload === null) {
      this.fail(peerError('WS_ERR_COMPRESSION_FAILED'));
      return;
    }
    this.outputPayload += Math.min(left, DEFLATE_SLICE);
    const fin = ext.compressLeft === 0;
    this.outputBytes += pushFrame(
      this.out(),
      Opcode.CONTINUATION,
      fin,
      false,
      payload,
      this.settings.random,
      true,
    );
  }

  // ---------------------------------------------------------------- actions

  open(): void {
    if (this.state !== State.CONNECTING) this.misuse('open()');
    this.state = State.OPEN;
  }

  /** Send a text message, or a fragment of one (fin = false; continue with more sends). */
  sendText(data: Buffer | string, fin = true): void {
    this.sendData(Opcode.TEXT, data, fin, false);
  }

  sendBinary(data: Buffer, fin = true): void {
    this.sendData(Opcode.BINARY, data, fin, false);
  }

  /**
   * Send a message. `compress`: run it through the extension (whole messages only; a fragmented
   * message goes uncompressed, which RFC 7692 allows). A compressed message above DEFLATE_SLICE
   * leaves as fragments: the first slice now, the others by compressNextSlice() (`compressing`
   * until then; send() and sendFramed() throw WS_ERR_COMPRESSING meanwhile).
   */
  sendData(opcode: 1 | 2, data: Buffer | string, fin: boolean, compress: boolean): void {
    if ((this.state !== State.OPEN && !this.closeOwed) || this.closeSent) this.misuse('send()');
    if (this.compressing) this.busy('send()');
    const op = this.fragmenting ? Opcode.CONTINUATION : opcode;
    this.fragmenting = !fin;
    const ext = this.extension;
    if (compress && fin && op !== Opcode.CONTINUATION && ext !== null) {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      if (buf.length > DEFLATE_SLICE) {
        const first = ext.compressFirst(buf, opcode === Opcode.BINARY, DEFLATE_SLICE);
        if (first !== null) {
          // RFC 7692 6.1: RSV1 on the first frame only; the other slices follow as continuation
          // frames (compressNextSlice), the last with FIN (RFC 6455 5.4).
          this.outputPayload += DEFLATE_SLICE;
          this.outputBytes += pushFrame(this.out(), op, false, true, first, this.settings.random, true);
          return;
        }
      } else {
        const compressed = ext.compress(buf, opcode === Opcode.BINARY);
        if (compressed !== null) {
          this.outputPayload += buf.length;
          this.outputBytes += pushFrame(this.out(), op, true, true, compressed, this.settings.random, true);
          return;
        }
      }
      this.outputPayload += buf.length;
      this.outputBytes += pushFrame(this.out(), op, fin, false, buf, this.settings.random);
      return;
    }
    if (typeof data === 'string') {
      const bytes = pushStringFrame(this.out(), op, fin, data, this.settings.random);
      this.outputBytes += bytes;
      this.outputPayload += payloadLength(bytes, this.settings.random !== null);
    } else {
      this.outputBytes += pushFrame(this.out(), op, fin, false, data, this.settings.random);
      this.outputPayload += data.length;
    }
  }

  /**
   * Queue bytes that must precede every frame on the transport (the Node layer's 101 response,
   * so that it and the first messages leave in one write). Not payload: bufferedAmount ignores it.
   */
  sendPreamble(bytes: Buffer): void {
    // The first output of a server connection: a one-slot list (an empty one grows to 17 slots
    // on its first push, about 130 bytes more per handshake), which grows if frames follow.
    const out = this.output;
    if (out === null) {
      this.output = [bytes];
    } else {
      // After frames (not the Node layer's use): behind the small frames' open run.
      closeRun(out);
      out.push(bytes);
    }
    this.outputBytes += bytes.length;
  }

  /** Queue pre-framed bytes (pub/sub: one frame built for many connections). Server role only. */
  sendFramed(frame: Buffer): void {
    if ((this.state !== State.OPEN && !this.closeOwed) || this.closeSent || this.fragmenting) {
      this.misuse('sendFramed()');
    }
    if (this.compressing) this.busy('sendFramed()');
    const out = this.out();
    closeRun(out);
    out.push(frame);
    this.outputBytes += frame.length;
    this.outputPayload += frame.length;
  }

  sendPing(data: Buffer = EMPTY): void {
    this.sendControl(Opcode.PING, data);
    this.outputPayload += data.length;
  }

  sendPong(data: Buffer = EMPTY): void {
    this.sendControl(Opcode.PONG, data);
    this.outputPayload += data.length;
  }

  private sendControl(opcode: number, data: Buffer): void {
    if (this.state === State.CONNECTING || this.closeSent)
      this.misuse(opcode === Opcode.PING ? 'ping()' : 'pong()');
    // RFC 6455 5.5: "All control frames MUST have a payload length of 125 bytes or less"
    if (data.length > 125) {
      throw new UsageRangeError(
        'WS_ERR_CONTROL_TOO_LONG',
        'The data size must not be greater than 125 bytes',
      );
    }
    this.outputBytes += pushFrame(this.out(), opcode, true, false, data, this.settings.random);
  }

  /**
   * Start the closing handshake, or answer the peer's close frame (while closeOwed: with this
   * code and reason instead of the echo, as ws 8 sends a close() queued before the peer's
   * frame came). A second call is a no-op. An invalid code or a reason above 123 bytes throws
   * (caller misuse).
   */
  close(code?: number, reason?: string): void {
    if (this.state === State.CONNECTING) this.misuse('close()');
    if (this.closeSent) return;
    const payload = encodeClosePayload(code, reason);
    this.queueClose(payload);
  }

  /**
   * Queue the close answer owed since the peer's close frame came in during a sliced message
   * (closeOwed), echoing its code and reason as handleClose would have. The caller calls this
   * once that message and the sends it had accepted before the close are queued; earlier, the
   * rest of the message is given up (no data frame after a close frame). A no-op if none is owed.
   */
  answerClose(): void {
    if (!this.closeOwed) return;
    this.queueClose(this.echoPayload());
  }

  /** Fail the connection (RFC 6455 7.1.7) because of the peer; one transition for every cause. */
  fail(error: ProtocolError): void {
    if (this.discarding && this.state === State.CLOSED) return;
    this.discardInput();
    // A message being compressed in slices will not be finished: no data frame follows this.
    this.extension?.cancelCompress();
    const code = error.closeCode;
    if (!this.closeSent && this.state !== State.CLOSED && code !== CloseCode.ABNORMAL) {
      // The status code alone, as ws sends it: the peer's own fault needs no reason text, and
      // the text would tell the peer about this side's parser.
      this.queueClose(encodeClosePayload(code));
    }
    this.closeSent = true;
    this.closeOwed = false;
    if (this.state !== State.CLOSED) this.state = State.CLOSING;
    this.endTransport = true;
    this.sink.onError(error);
  }

  // ---------------------------------------------------------------- output

  /** The queued frames, in order, and reset; null when nothing is queued. */
  takeOutput(): Buffer[] | null {
    const out = this.output;
    // Small frames wait in the sender's slab as one open run until the list is read.
    if (out !== null) closeRun(out);
    this.output = null;
    this.outputBytes = 0;
    this.outputPayload = 0;
    return out;
  }

  private out(): Buffer[] {
    let out = this.output;
    if (out === null) {
      out = [];
      this.output = out;
    }
    return out;
  }

  // ---------------------------------------------------------------- FrameHandler (receiver)

  deliverMessage(data: Buffer, isBinary: boolean): void {
    this.sink.onMessage(data, isBinary);
  }

  handlePing(payload: Buffer): void {
    // RFC 6455 5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
    // response, unless it already received a Close frame." (Once we sent ours, no more frames.)
    if (this.settings.autoPong && !this.closeSent) {
      this.outputBytes += pushFrame(this.out(), Opcode.PONG, true, false, payload, this.settings.random);
    }
    this.sink.onPing(payload);
  }

  handlePong(payload: Buffer): void {
    this.sink.onPong(payload);
  }

  handleClose(payload: Buffer): void {
    const parsed = parseClosePayload(payload, this.settings.skipUtf8);
    if (parsed instanceof ProtocolError) {
      this.fail(parsed);
      return;
    }
    this.discardInput();
    this.closeReceived = true;
    this.closeCode = parsed.code;
    this.closeReason = parsed.reason;
    // A copy: the payload may be a view of the caller's input chunk, and 'close' comes later.
    if (payload.length > 2) this.closeReasonBytes = Buffer.from(payload.subarray(2));
    if (!this.closeSent) {
      if (this.compressing || this.dataPending) {
        // RFC 6455 5.5.1: "An endpoint MAY delay sending a Close frame until its current
        // message is sent (for instance, if the majority of a fragmented message is already
        // sent, an endpoint MAY send the remaining fragments before sending a Close frame)."
        // The peer has the first fragments of a message being compressed in slices: answered
        // now, it would get a message that never ends. Or the caller accepted a message before
        // this close and is still reading its bytes (a Blob): ws 8 sends it, then the answer.
        // The answer waits (answerClose()).
        this.closeOwed = true;
        this.state = State.CLOSING;
        this.sink.onClose(parsed.code, parsed.reason);
        return;
      }
      // RFC 6455 5.5.1: "If an endpoint receives a Close frame and did not previously send a
      // Close frame, the endpoint MUST send a Close frame in response. ... typically echoing
      // the status code it received." The reason goes back too, as ws sends it: the side that
      // closed first then sees its own reason in its 'close' event (valid UTF-8, checked above).
      this.queueClose(parsed.code === CloseCode.NO_STATUS ? EMPTY : payload);
    }
    this.state = State.CLOSED;
    this.endTransport = true;
    this.sink.onClose(parsed.code, parsed.reason);
  }

  handleViolation(error: ProtocolError): void {
    this.fail(error);
  }

  // ---------------------------------------------------------------- internals

  private queueClose(payload: Buffer): void {
    // RFC 6455 5.5.1: no data frame after a close frame, so a message being compressed in slices
    // ends here, unfinished (the close frame may come between its fragments: 5.4). The Node
    // layer's close() and the answer to the peer's close (closeOwed) wait for the message
    // instead; this is a failure, or a caller that gave the message up.
    this.extension?.cancelCompress();
    this.outputBytes += pushFrame(this.out(), Opcode.CLOSE, true, false, payload, this.settings.random);
    this.closeSent = true;
    this.closeOwed = false;
    if (this.closeReceived) {
      this.state = State.CLOSED;
      this.endTransport = true;
    } else {
      this.state = State.CLOSING;
    }
  }

  /** The payload of the answer owed: the peer's code and reason bytes as they came (handleClose). */
  private echoPayload(): Buffer {
    if (this.closeCode === CloseCode.NO_STATUS) return EMPTY;
    const reason = this.closeReasonBytes;
    const payload = Buffer.allocUnsafe(2 + reason.length);
    payload.writeUInt16BE(this.closeCode, 0);
    reason.copy(payload, 2);
    return payload;
  }

  private busy(action: string): never {
    throw new UsageError(
      'WS_ERR_COMPRESSING',
      `${action} is not allowed while a message is being compressed in slices`,
    );
  }

  private misuse(action: string): never {
    throw new UsageError(
      'WS_ERR_NOT_OPEN',
      `${action} is not allowed in state ${STATE_NAMES[this.state]}${this.closeSent && this.state === State.CLOSING ? ' (close frame sent)' : ''}`,
    );
  }
}

const EMPTY = Buffer.alloc(0);

function countLimit(value: number | undefined, name: string): number {
  if (value === undefined) return 0;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new UsageError('WS_ERR_INVALID_OPTION', `${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

/** The payload length of a frame of `frameBytes` bytes (RFC 6455 5.2's three length forms). */
function payloadLength(frameBytes: number, masked: boolean): number {
  const key = masked ? 4 : 0;
  if (frameBytes - 2 - key < 126) return frameBytes - 2 - key;
  if (frameBytes - 4 - key < 0x10000) return frameBytes - 4 - key;
  return frameBytes - 10 - key;
}
