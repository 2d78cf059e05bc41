/**
 * A seeded, randomized differential test against ws 8: the same script of steps (sends of every
 * size and form, fragments with pings between them, ping/pong, pause/resume, binaryType changes,
 * close or terminate, calls after the close) runs on a ws server with a ws client (the
 * reference), then with riptide on one side or both. What each side's user sees (its events, in
 * order, its readyState after each step, its send callbacks) must be the same as in the
 * reference. Steps end on request/reply barriers: the counts of events the script implies, never
 * a delay.
 *
 * DIFF_SEEDS=200 runs seeds 1..200; DIFF_SEED=17 runs only seed 17; DIFF_STEPS sets the steps
 * per script (40); DIFF_DUMP=1 prints each script and the reference's record.
 */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'vitest';
import WS, { WebSocketServer as WsServer } from 'ws';
import { WebSocketServer as RiptideServer, WebSocket as RiptideWebSocket } from '../../src/index.js';
import {
  describeStep,
  generate,
  type Message,
  type Script,
  type Side,
  type Source,
  type Step,
} from './differential-script.js';
import { once } from './helpers.js';

type Impl = 'ws' | 'riptide';
// biome-ignore lint/suspicious/noExplicitAny: the two libraries' socket types differ only in name
type Sock = any;

const SEEDS = Number(process.env.DIFF_SEEDS ?? 16);
const ONLY = process.env.DIFF_SEED === undefined ? null : Number(process.env.DIFF_SEED);
const STEPS = Number(process.env.DIFF_STEPS ?? 40);
/** A failure's deadline for one barrier (the test fails with the state it waited for). */
const STUCK_MS = 20_000;

/** What the user of each side saw: [server, client]. */
interface Rec {
  /** Events in order, with a `@step` line after each step's barrier. */
  events: [string[], string[]];
  /** Callbacks of send()/ping()/pong() made while open, in the order they were called back. */
  callbacks: [string[], string[]];
  /** Callbacks of calls made once close() or terminate() had started, in their order. */
  late: [string[], string[]];
}

/**
 * An exception's name, and whether it is an instance of the built-in class of that name. Where ws
 * throws a plain Error (send() while connecting), riptide's UsageError is named 'Error' but is a
 * TypeError (docs/architecture.md: every misuse is a UsageError); the name and message are
 * compared, and for a RangeError or TypeError the class too.
 */
function errorKind(err: unknown): string {
  const e = err as Error;
  const builtin = { RangeError, TypeError, SyntaxError, Error }[e.name];
  return builtin !== undefined && e instanceof builtin ? e.name : `${e.name} (not one)`;
}

function digest(data: Buffer): string {
  if (data.length <= 16) return data.toString('hex');
  return createHash('sha1').update(data).digest('hex').slice(0, 16);
}

/** The data as a source form ws 8 accepts. */
function asSource(bytes: Buffer, text: string | undefined, source: Source): unknown {
  switch (source) {
    case 'string':
    case 'number':
      return source === 'number' ? Number(text) : (text ?? bytes.toString());
    case 'buffer':
      return bytes;
    case 'uint8array':
      return new Uint8Array(bytes);
    case 'arraybuffer':
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    case 'dataview':
    case 'offset-view': {
      const ab = new ArrayBuffer(bytes.length + 7);
      new Uint8Array(ab, 3, bytes.length).set(bytes);
      return source === 'dataview' ? new DataView(ab, 3, bytes.length) : new Uint8Array(ab, 3, bytes.length);
    }
    case 'blob':
      // Read asynchronously (ws 8.18): what the side sends after it waits for it.
      return new Blob([bytes]);
  }
}

async function run(
  { script, deflate, synchronous, sendWhileConnecting }: Script,
  serverImpl: Impl,
  clientImpl: Impl,
): Promise<{ rec: Rec; failure?: string }> {
  const rec: Rec = { events: [[], []], callbacks: [[], []], late: [[], []] };
  const got = { in: [0, 0], callbacks: [0, 0], late: [0, 0], closed: [false, false] };
  const blobs: Promise<void>[] = [];
  let wake = () => {};

  const wss: Sock =
    serverImpl === 'ws'
      ? new WsServer({
          port: 0,
          host: '127.0.0.1',
          perMessageDeflate: deflate,
          allowSynchronousEvents: synchronous,
        })
      : new RiptideServer({
          port: 0,
          host: '127.0.0.1',
          perMessageDeflate: deflate,
          allowSynchronousEvents: synchronous,
        });
  await once(wss, 'listening');
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;

  const attach = (side: Side, ws: Sock) => {
    const events = rec.events[side];
    const seen = () => {
      got.in[side]++;
      wake();
    };
    ws.on('message', (data: unknown, isBinary: boolean) => {
      const kind = isBinary ? 'binary' : 'text';
      const line = (type: string, bytes: Buffer) =>
        `message ${kind} ${type} ${bytes.length} ${digest(bytes)}`;
      if (Buffer.isBuffer(data)) events.push(line('Buffer', data));
      else if (data instanceof ArrayBuffer) events.push(line('ArrayBuffer', Buffer.from(data)));
      else if (Array.isArray(data)) {
        // riptide gives one Buffer per message, ws one per frame (docs/node-layer.md): the
        // type and the bytes are compared, not the count.
        const ok = data.every((d) => Buffer.isBuffer(d));
        events.push(line(ok ? 'Buffer[]' : 'Array of non-Buffers', Buffer.concat(data)));
      } else if (data instanceof Blob) {
        const at = events.push('(a Blob being read)') - 1;
        blobs.push(data.arrayBuffer().then((ab) => void (events[at] = line('Blob', Buffer.from(ab)))));
      } else events.push(`message ${kind} of an unexpected type: ${Object.prototype.toString.call(data)}`);
      seen();
    });
    ws.on('ping', (data: Buffer) => {
      events.push(`ping ${data.toString('hex')}`);
      seen();
    });
    ws.on('pong', (data: Buffer) => {
      events.push(`pong ${data.toString('hex')}`);
      seen();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      events.push(`close ${code} ${JSON.stringify(reason.toString())} readyState=${ws.readyState}`);
      got.closed[side] = true;
      wake();
    });
    ws.on('error', (err: Error & { code?: string }) => {
      events.push(`error ${err.code ?? err.message}`);
      wake();
    });
  };

  const connected = new Promise<Sock>((resolve) =>
    wss.once('connection', (ws: Sock) => {
      attach(0, ws);
      resolve(ws);
    }),
  );
  const client: Sock =
    clientImpl === 'ws'
      ? new WS(url, { perMessageDeflate: deflate, allowSynchronousEvents: synchronous })
      : new RiptideWebSocket(url, { perMessageDeflate: deflate, allowSynchronousEvents: synchronous });
  attach(1, client);
  if (sendWhileConnecting) {
    try {
      client.send('too early');
      rec.events[1].push('send() while connecting: no exception');
    } catch (err) {
      rec.events[1].push(`send() while connecting: ${errorKind(err)} ${(err as Error).message}`);
    }
  }
  await once(client, 'open');
  const server = await connected;
  const socks: [Sock, Sock] = [server, client];
  for (const side of [0, 1] as const) {
    rec.events[side].push(
      `open extensions=${socks[side].extensions !== ''} readyState=${socks[side].readyState}`,
    );
  }

  // What the script implies the user sees by the end of each step.
  const want = { in: [0, 0], callbacks: [0, 0], late: [0, 0], closed: false };
  const paused = [false, false];
  const pendingPongs = [0, 0]; // pings sent to a paused side: its pongs come after resume()
  /** Whether a side's calls come after its close()/terminate() (or the peer's close frame). */
  const closing = [false, false];
  const ids = [0, 0];
  /** A callback for a call of `side`: `what` is 'ping', 'pong' or 'send <message bytes>'. */
  const callback = (side: Side, what: string) => {
    const id = `${ids[side]++} ${what}`;
    const lateCall = closing[side];
    if (lateCall) want.late[side]++;
    else want.callbacks[side]++;
    return (err?: Error) => {
      const result = err === undefined || err === null ? 'ok' : `error ${err.message}`;
      if (lateCall) {
        rec.late[side].push(`#${id} ${result}`);
        got.late[side]++;
      } else {
        rec.callbacks[side].push(`#${id} ${result}`);
        got.callbacks[side]++;
      }
      wake();
    };
  };
  const ping = (side: Side, data: unknown, withCallback: boolean) => {
    const peer = (1 - side) as Side;
    if (withCallback) socks[side].ping(data, undefined, callback(side, 'ping'));
    else socks[side].ping(data);
    if (closing[side]) return;
    want.in[peer]++;
    if (paused[peer]) pendingPongs[peer]++;
    else want.in[side]++;
  };
  const send = (side: Side, m: Message) => {
    const peer = (1 - side) as Side;
    const n = m.fragments.length;
    // The options ws needs to send this type as this kind of message, and those the script adds.
    const typeSays = m.source !== 'string' && m.source !== 'number';
    let size = 0;
    for (const f of m.fragments) size += f.bytes.length;
    for (let i = 0; i < n; i++) {
      const f = m.fragments[i];
      const data = asSource(f.bytes, f.text, m.source);
      const options: Record<string, unknown> = {};
      if (typeSays !== m.binary || m.explicitBinary) options.binary = m.binary;
      if (n > 1) options.fin = i === n - 1;
      if (m.withOptions) options.compress = f.compress;
      const withOptions = Object.keys(options).length > 0;
      if (m.callback) {
        if (withOptions) socks[side].send(data, options, callback(side, `send ${size}`));
        else socks[side].send(data, callback(side, `send ${size}`));
      } else if (withOptions) socks[side].send(data, options);
      else socks[side].send(data);
      if (f.pingAfter !== undefined) ping(side, f.pingAfter, false);
    }
    if (!closing[side]) want.in[peer]++;
  };
  const snapshot = (label: string) => {
    for (const side of [0, 1] as const) {
      const ws = socks[side];
      rec.events[side].push(
        `${label} readyState=${ws.readyState} isPaused=${ws.isPaused} binaryType=${ws.binaryType}`,
      );
    }
  };
  const state = () =>
    `expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}, paused ${JSON.stringify(paused)}, pongs owed ${JSON.stringify(pendingPongs)}`;
  const counted = (s: Side) => !paused[s] && !got.closed[s];
  const barrier = (step: number) => {
    // 'close' is a side's last event: once a side has it, what arrived before it is compared,
    // not counted (the pongs a terminated side never reads, those of pings that crossed a close).
    // A paused side reads nothing: its counts (and its peer's callbacks, which may wait for the
    // socket to drain) are checked after resume().
    const done = () =>
      (!counted(0) || got.in[0] >= want.in[0]) &&
      (!counted(1) || got.in[1] >= want.in[1]) &&
      (paused[1] || got.callbacks[0] >= want.callbacks[0]) &&
      (paused[0] || got.callbacks[1] >= want.callbacks[1]) &&
      got.late[0] >= want.late[0] &&
      got.late[1] >= want.late[1] &&
      (!want.closed || paused[0] || paused[1] || (got.closed[0] && got.closed[1]));
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        wake = () => {};
        reject(new Error(`step ${step} never completed: ${state()}`));
      }, STUCK_MS);
      wake = () => {
        if (!done()) return;
        clearTimeout(timer);
        wake = () => {};
        resolve();
      };
    });
  };

  let failure: string | undefined;
  try {
    for (let i = 0; i < script.length; i++) {
      const step = script[i];
      const side = step.side;
      const peer = (1 - side) as Side;
      const ws = socks[side];
      switch (step.op) {
        case 'send':
          for (const m of step.messages) send(side, m);
          break;
        case 'ping': {
          const data =
            step.source === 'string'
              ? step.payload.toString('hex').slice(0, step.payload.length)
              : step.payload;
          ping(side, data, step.callback);
          break;
        }
        case 'pong':
          if (step.callback) ws.pong(step.payload, undefined, callback(side, 'pong'));
          else ws.pong(step.payload);
          want.in[peer]++;
          break;
        case 'pause':
          ws.pause();
          paused[side] = true;
          break;
        case 'resume':
          ws.resume();
          paused[side] = false;
          // The pings it had not read are answered now (if its peer reads).
          want.in[peer] += pendingPongs[side];
          pendingPongs[side] = 0;
          break;
        case 'binaryType':
          ws.binaryType = step.value;
          break;
        case 'close':
          for (const m of step.before) send(side, m);
          ws.close(step.code, step.reason);
          closing[side] = true;
          for (const m of step.peerBefore) send(peer, m);
          if (step.both) {
            socks[peer].close(step.both.code, step.both.reason);
            closing[peer] = true;
          }
          for (const m of step.after) send(side, m);
          if (step.twice) ws.close(4321, 'again');
          want.closed = true;
          snapshot(`@${i}!`);
          break;
        case 'terminate':
          for (const m of step.before) send(side, m);
          ws.terminate();
          closing[side] = closing[peer] = true;
          want.closed = true;
          snapshot(`@${i}!`);
          break;
        case 'misuse':
          try {
            if (step.what === 'ping 126 B') ws.ping(Buffer.alloc(126));
            else if (step.what === 'pong 126 B') ws.pong(Buffer.alloc(126));
            else if (step.what === "close(1000, 'x'.repeat(124))") ws.close(1000, 'x'.repeat(124));
            else if (step.what === "close('1000')") ws.close('1000');
            else if (step.what === "binaryType = 'bogus'") ws.binaryType = 'bogus';
            else ws.close(Number(/\d+/.exec(step.what)![0]));
            rec.events[side].push(`${step.what}: no exception`);
          } catch (err) {
            rec.events[side].push(`${step.what}: ${errorKind(err)} ${(err as Error).message}`);
          }
          break;
        case 'late':
          if (step.what === 'send') ws.send('late', callback(side, 'send 4'));
          else if (step.what === 'ping') ws.ping('late', undefined, callback(side, 'ping'));
          else if (step.what === 'pong') ws.pong(Buffer.from('late'), undefined, callback(side, 'pong'));
          else if (step.what === 'close') ws.close(1000, 'again');
          else if (step.what === 'terminate') ws.terminate();
          else {
            ws.pause();
            rec.events[side].push(`paused after close: isPaused=${ws.isPaused}`);
            ws.resume();
          }
          break;
      }
      await barrier(i);
      // Once a side has its 'close', its peer's calls are late too.
      for (const s of [0, 1] as const) if (got.closed[s]) closing[0] = closing[1] = true;
      snapshot(`@${i}`);
    }
  } catch (err) {
    failure = (err as Error).message;
  } finally {
    await Promise.all(blobs);
    for (const ws of socks) ws.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
  return { rec, failure };
}

/**
 * riptide compresses a message above 256 KiB in slices, one per event-loop turn; the data
 * messages sent meanwhile wait behind it, but a ping or pong may leave at once
 * (docs/node-layer.md). ws sends everything in order. For a receiver whose peer is riptide with
 * permessage-deflate, both records move each ping and pong that follows such a message (with
 * only messages between them) to just before it; nothing else moves.
 */
function controlsFirst(
  list: string[],
  sizeOf: (e: string) => number,
  isControl: (e: string) => boolean,
): string[] {
  const out = list.slice();
  for (let j = 0; j < out.length; j++) {
    if (!isControl(out[j])) continue;
    let to = -1;
    for (let i = j - 1; i >= 0 && sizeOf(out[i]) >= 0; i--) if (sizeOf(out[i]) > 256 * 1024) to = i;
    if (to >= 0) out.splice(to, 0, ...out.splice(j, 1));
  }
  return out;
}
/** Events: messages have a size, pings and pongs move. */
const eventsFirst = (events: string[]) =>
  controlsFirst(
    events,
    (e) => Number(/^message \S+ \S+ (\d+) /.exec(e)?.[1] ?? -1),
    (e) => e.startsWith('ping ') || e.startsWith('pong '),
  );
/** The first difference between a record and the reference's, with the step it happened in. */
function firstDifference(script: Step[], ref: Rec, rec: Rec): string | null {
  for (const list of ['events', 'callbacks', 'late'] as const) {
    for (const side of [0, 1] as const) {
      const a = ref[list][side];
      const b = rec[list][side];
      const n = Math.max(a.length, b.length);
      for (let i = 0; i < n; i++) {
        if (a[i] === b[i]) continue;
        let step = -1;
        if (list === 'events') {
          for (let j = i - 1; j >= 0; j--) {
            const m = /^@(\d+) /.exec(a[j]);
            if (m) {
              step = Number(m[1]);
              break;
            }
          }
        }
        const where =
          list === 'events' && step + 1 < script.length
            ? `in step ${step + 1}: ${describeStep(script[step + 1])}`
            : '';
        const around = (xs: string[]) =>
          xs
            .slice(Math.max(0, i - 3), i + 4)
            .map((e) => (e.length > 90 ? `${e.slice(0, 90)}...` : e))
            .join('\n      ');
        return (
          `${side === 0 ? 'server' : 'client'} ${list}[${i}] ${where}\n` +
          `    ws:      ${a[i] ?? '(nothing)'}\n    riptide: ${b[i] ?? '(nothing)'}\n` +
          `    ws from ${list}[${Math.max(0, i - 3)}]:\n      ${around(a)}\n    riptide:\n      ${around(b)}`
        );
      }
    }
  }
  return null;
}

const PAIRS: [Impl, Impl][] = [
  ['riptide', 'ws'],
  ['ws', 'riptide'],
  ['riptide', 'riptide'],
];

const seeds = ONLY !== null ? [ONLY] : Array.from({ length: SEEDS }, (_, i) => i + 1);

describe('differential: riptide against ws 8 on seeded random scripts', () => {
  for (const seed of seeds) {
    it(`seed ${seed}`, { timeout: 120_000 }, async () => {
      const generated = generate(seed, STEPS);
      const { deflate, script } = generated;
      const reference = await run(generated, 'ws', 'ws');
      if (reference.failure !== undefined) {
        throw new Error(`seed ${seed}: the reference (ws, ws) itself failed: ${reference.failure}`);
      }
      if (process.env.DIFF_DUMP !== undefined) {
        console.log(script.map((step, i) => `${i} ${describeStep(step)}`).join('\n'));
        console.log(JSON.stringify(reference.rec, null, 1));
      }
      const problems: string[] = [];
      for (const [serverImpl, clientImpl] of PAIRS) {
        const { rec, failure } = await run(generated, serverImpl, clientImpl);
        const ref = reference.rec;
        let expected = ref;
        if (deflate) {
          // Where riptide sends, its ping and pong frames may overtake a large compressed
          // message on the wire, so its peer may see them first. Their callbacks keep the
          // call order (docs/deflate.md), so the callbacks are compared as they are.
          const events = ref.events.slice() as Rec['events'];
          const impls = [serverImpl, clientImpl];
          for (const side of [0, 1] as const) {
            if (impls[1 - side] === 'riptide') {
              events[side] = eventsFirst(events[side]);
              rec.events[side] = eventsFirst(rec.events[side]);
            }
          }
          expected = { ...ref, events };
        }
        const diff = firstDifference(script, expected, rec);
        if (diff !== null || failure !== undefined) {
          problems.push(
            `seed ${seed} (perMessageDeflate ${deflate}, allowSynchronousEvents ${generated.synchronous}), ${serverImpl} server with ${clientImpl} client:\n  ` +
              (diff ?? `no difference before: ${failure}`) +
              (diff !== null && failure !== undefined ? `\n  then: ${failure}` : ''),
          );
        }
      }
      if (problems.length > 0) throw new Error(`${problems.join('\n')}\n(rerun: DIFF_SEED=${seed})`);
    });
  }
});
