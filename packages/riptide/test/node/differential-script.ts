/**
 * The scripts of the differential test (differential.test.ts): a seeded PRNG and a generator of
 * steps, each done by one side of a connection. The same script runs on every pair of
 * implementations; everything random is decided here, before any socket exists.
 */

export type Side = 0 | 1; // 0: the server's WebSocket, 1: the client
export type BinaryType = 'nodebuffer' | 'arraybuffer' | 'fragments' | 'blob';

/** mulberry32: a small 32-bit generator, good enough to pick test cases, same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How a piece of data is handed to send()/ping(): every form ws 8 accepts. */
export type Source =
  | 'string'
  | 'buffer'
  | 'uint8array'
  | 'arraybuffer'
  | 'dataview'
  | 'offset-view'
  | 'number'
  | 'blob';

export interface Fragment {
  /** The bytes of this fragment (a text message's UTF-8 bytes). */
  bytes: Buffer;
  /** For a text message sent from strings: this fragment's string (split at a character). */
  text?: string;
  compress: boolean;
  /** A ping sent right after this fragment, before the next one (control frames interleave). */
  pingAfter?: Buffer;
}

export interface Message {
  binary: boolean;
  source: Source;
  /** Pass `binary` in the options even where the data's type already says it. */
  explicitBinary: boolean;
  /** One fragment: a plain send(); more: send(..., { fin: false }) for all but the last. */
  fragments: Fragment[];
  /** Pass an options object at all (a single unfragmented send may omit it). */
  withOptions: boolean;
  callback: boolean;
}

export type Step =
  | { op: 'send'; side: Side; messages: Message[] }
  | { op: 'ping' | 'pong'; side: Side; payload: Buffer; source: Source; callback: boolean }
  | { op: 'pause' | 'resume'; side: Side }
  | { op: 'binaryType'; side: Side; value: BinaryType }
  | {
      op: 'close';
      side: Side;
      /** undefined: close() without arguments (the peer sees 1005). */
      code?: number;
      reason?: string;
      /** Sent by the closing side just before close(), in the same tick. */
      before: Message[];
      /** Sent by the peer in the same tick, after close() (it reaches a closing side). */
      peerBefore: Message[];
      /** The peer closes too in the same tick, with this code and reason. */
      both?: { code: number; reason: string };
      /** Sent by the closing side after close(), same tick: callbacks with an error. */
      after: Message[];
      /** close() again right after (with another code): no effect. */
      twice: boolean;
    }
  | { op: 'terminate'; side: Side; before: Message[] }
  /** A call ws refuses with an exception (the socket stays usable): the same error here. */
  | { op: 'misuse'; side: Side; what: Misuse }
  | { op: 'late'; side: Side; what: 'send' | 'ping' | 'pong' | 'close' | 'terminate' | 'pause-resume' };

export const MISUSES = [
  'ping 126 B',
  'pong 126 B',
  'close(999)',
  'close(1004)',
  'close(1005)',
  'close(1006)',
  'close(1015)',
  'close(2999)',
  'close(5000)',
  "close(1000, 'x'.repeat(124))",
  "close('1000')",
  "binaryType = 'bogus'",
] as const;
export type Misuse = (typeof MISUSES)[number];

/** Close codes an application may send (ws 8 accepts all of these from either side). */
const CODES = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
];
const CHARS = ['a', 'z', ' ', '~', 'é', 'ß', '✓', '€', '🌊', '𝄞'];

export interface Script {
  deflate: boolean;
  /** allowSynchronousEvents on both sides (ws 8's default: true). */
  synchronous: boolean;
  /** The client calls send() before 'open' (ws throws). */
  sendWhileConnecting: boolean;
  script: Step[];
}

export function generate(seed: number, steps: number): Script {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const chance = (p: number) => rnd() < p;

  const bytes = (n: number): Buffer => {
    const b = Buffer.allocUnsafe(n);
    let x = (rnd() * 4294967296) >>> 0 || 1;
    for (let i = 0; i < n; i++) {
      // xorshift32, seeded from the script's generator: cheap enough for 1 MiB.
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[i] = x & 0xff;
    }
    return b;
  };
  /** A string of about `n` bytes of UTF-8 (exactly n when only one-byte characters are used). */
  const text = (n: number): string => {
    if (n > 4096 || chance(0.4)) return 'x'.repeat(n);
    let s = '';
    let len = 0;
    while (len < n) {
      const c = pick(CHARS);
      const l = Buffer.byteLength(c);
      if (len + l > n) {
        s += 'a'.repeat(n - len);
        break;
      }
      s += c;
      len += l;
    }
    return s;
  };
  const size = (): number => {
    const r = rnd();
    if (r < 0.02) return 1024 * 1024;
    if (r < 0.08) return 65536 + 1;
    if (r < 0.5) return pick([0, 1, 2, 125, 126, 127, 65535, 65536]);
    if (r < 0.8) return int(300);
    return int(20000);
  };

  let deflate = chance(0.5);
  if (seed === 1) deflate = false;
  if (seed === 2) deflate = true;
  const synchronous = chance(0.7);
  const sendWhileConnecting = chance(0.2);

  const message = (small = false): Message => {
    const binary = chance(0.5);
    const n = small ? int(200) : size();
    const source: Source = binary
      ? pick(['buffer', 'uint8array', 'arraybuffer', 'dataview', 'offset-view', 'string', 'blob'] as const)
      : pick(['string', 'string', 'buffer', 'offset-view', 'number'] as const);
    const whole = source === 'number' ? String(int(1e9)) : !binary || source === 'string' ? text(n) : null;
    const data = whole !== null ? Buffer.from(whole) : bytes(n);
    const count = source === 'number' || chance(0.65) ? 1 : 1 + int(4);
    const fragments: Fragment[] = [];
    const compress = chance(0.8);
    if (count === 1) {
      fragments.push({ bytes: data, text: whole ?? undefined, compress });
    } else if (whole !== null && source === 'string') {
      // Text from strings: split at characters, every fragment a string of its own.
      const chars = Array.from(whole);
      const cuts = [
        0,
        ...Array.from({ length: count - 1 }, () => int(chars.length + 1)).sort((x, y) => x - y),
      ];
      cuts.push(chars.length);
      for (let i = 0; i < count; i++) {
        const t = chars.slice(cuts[i], cuts[i + 1]).join('');
        fragments.push({ bytes: Buffer.from(t), text: t, compress: i === 0 ? compress : chance(0.5) });
      }
    } else {
      // Bytes split anywhere, even inside a UTF-8 sequence of a text message.
      const cuts = [
        0,
        ...Array.from({ length: count - 1 }, () => int(data.length + 1)).sort((x, y) => x - y),
      ];
      cuts.push(data.length);
      for (let i = 0; i < count; i++) {
        fragments.push({
          bytes: data.subarray(cuts[i], cuts[i + 1]),
          compress: i === 0 ? compress : chance(0.5),
        });
      }
    }
    for (let i = 0; i < fragments.length - 1; i++) if (chance(0.25)) fragments[i].pingAfter = bytes(int(126));
    return {
      binary,
      source,
      explicitBinary: chance(0.3),
      fragments,
      withOptions: count > 1 || chance(0.5),
      callback: chance(0.6),
    };
  };
  const payload = (): Buffer => bytes(chance(0.3) ? pick([0, 1, 125]) : int(126));
  const reason = (): string => {
    if (chance(0.3)) return '';
    let s = text(int(124));
    while (Buffer.byteLength(s) > 123) s = s.slice(0, -1);
    return s;
  };

  const script: Step[] = [];
  const paused = [false, false];
  for (let i = 0; i < steps; i++) {
    const side: Side = chance(0.5) ? 0 : 1;
    const r = rnd();
    if (r < 0.45) {
      const messages = [message()];
      while (chance(0.3) && messages.length < 6) messages.push(message());
      script.push({ op: 'send', side, messages });
    } else if (r < 0.55) {
      script.push({
        op: 'ping',
        side,
        payload: payload(),
        source: pick(['buffer', 'string'] as const),
        callback: chance(0.5),
      });
    } else if (r < 0.6) {
      script.push({ op: 'pong', side, payload: payload(), source: 'buffer', callback: chance(0.5) });
    } else if (r < 0.63) {
      script.push({ op: 'misuse', side, what: pick(MISUSES) });
    } else if (r < 0.8) {
      script.push({ op: paused[side] ? 'resume' : 'pause', side });
      paused[side] = !paused[side];
    } else {
      script.push({
        op: 'binaryType',
        side,
        value: pick(['nodebuffer', 'arraybuffer', 'fragments', 'blob'] as const),
      });
    }
  }
  // The end: one closing step and what follows it. The side that closes reads again first;
  // its peer may stay paused through the close (it sees the close frame after resume()).
  const side: Side = chance(0.5) ? 0 : 1;
  const peer = (1 - side) as Side;
  const few = () => Array.from({ length: int(3) }, () => message(true));
  const terminate = chance(0.25);
  const peerStaysPaused = !terminate && chance(0.3);
  if (peerStaysPaused && !paused[peer]) script.push({ op: 'pause', side: peer });
  for (const s of [0, 1] as const)
    if (paused[s] && !(peerStaysPaused && s === peer)) script.push({ op: 'resume', side: s });
  if (terminate) {
    // With permessage-deflate, ws compresses on the thread pool, so terminate() right after a
    // compressed send() drops the message; riptide compresses at once and sends it
    // (docs/node-layer.md, test/deflate/interop.test.ts): those sends go uncompressed here.
    const before = few();
    if (deflate) {
      for (const m of before) {
        m.withOptions = true;
        for (const f of m.fragments) f.compress = false;
      }
    }
    script.push({ op: 'terminate', side, before });
  } else {
    const plain = chance(0.15);
    script.push({
      op: 'close',
      side,
      code: plain ? undefined : pick(CODES),
      reason: plain ? undefined : reason(),
      before: few(),
      peerBefore: chance(0.3) ? few() : [],
      both: chance(0.2) ? { code: pick(CODES), reason: reason() } : undefined,
      after: chance(0.5) ? few() : [],
      twice: chance(0.2),
    });
  }
  if (peerStaysPaused) {
    // The paused peer still sends (it has not read the close), the closing side still gets it.
    if (chance(0.5)) script.push({ op: 'send', side: peer, messages: few() });
    if (chance(0.5)) script.push({ op: 'late', side, what: 'send' });
    script.push({ op: 'resume', side: peer });
  }
  const lates = int(4);
  for (let i = 0; i < lates; i++) {
    script.push({
      op: 'late',
      side: chance(0.5) ? 0 : 1,
      what: pick(['send', 'ping', 'pong', 'close', 'terminate', 'pause-resume'] as const),
    });
  }
  return { deflate, synchronous, sendWhileConnecting, script };
}

/** One line per step, for a failure's report. */
export function describeStep(step: Step): string {
  const who = step.side === 0 ? 'server' : 'client';
  const msg = (m: Message) =>
    `${m.binary ? 'bin' : 'txt'}/${m.source}[${m.fragments.map((f) => f.bytes.length + (f.compress ? '' : 'u') + (f.pingAfter ? '+ping' : '')).join(',')}]${m.callback ? '+cb' : ''}`;
  switch (step.op) {
    case 'send':
      return `${who} send ${step.messages.map(msg).join(' ')}`;
    case 'ping':
    case 'pong':
      return `${who} ${step.op} ${step.payload.length} B (${step.source})${step.callback ? '+cb' : ''}`;
    case 'pause':
    case 'resume':
      return `${who} ${step.op}`;
    case 'binaryType':
      return `${who} binaryType = ${step.value}`;
    case 'close':
      return (
        `${who} close(${step.code ?? ''}, ${JSON.stringify(step.reason ?? '')}) before [${step.before.map(msg)}]` +
        ` peer before [${step.peerBefore.map(msg)}] after [${step.after.map(msg)}]` +
        (step.both ? ` and the peer close(${step.both.code})` : '') +
        (step.twice ? ', close() twice' : '')
      );
    case 'terminate':
      return `${who} terminate() before [${step.before.map(msg)}]`;
    case 'late':
      return `${who} after close: ${step.what}`;
    case 'misuse':
      return `${who} ${step.what}`;
  }
}
