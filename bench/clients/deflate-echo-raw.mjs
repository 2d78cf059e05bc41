#!/usr/bin/env node
// Closed-loop load client for scenario 7 that does not compress: the server is the limit.
//
//   node bench/clients/deflate-echo-raw.mjs --url ws://127.0.0.1:PORT/ --conns 100 --size 16384 \
//        --warmup 2 --duration 5 --pid SERVER_PID
//
// The client offers `permessage-deflate; client_no_context_takeover; client_max_window_bits`.
// Without context takeover every request message compresses the same way whenever it is sent,
// so each of the 64 JSON-like messages (the same as deflate-echo.mjs) is compressed, framed
// (RSV1, FIN, text) and masked ONCE before the run; sending is one socket write of a ready
// buffer. The server does all the zlib work it does for any client: it inflates each request
// and deflates each echo, with the window it negotiated (context takeover towards the client,
// as both servers default to).
//
// Replies: every frame's header is checked (FIN, RSV1 or not, text opcode, unmasked) and its
// payload skipped; the first 3 echoes of each connection are also inflated (as one stream, which
// is what context takeover makes them) and compared with what was sent. After that only the
// framing is checked: content checks of the whole run are the libraries' test suites' job; this
// client measures.
//
// Output: one JSON line, the same fields as deflate-echo.mjs (mode "deflate-echo").
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { readCpuSeconds, readRss } from '../lib/proc.mjs';
import { cpuSince, finish, finishRun, jsonMessage, parseArgs } from './deflate-echo.mjs';

/** deflate-echo.mjs's options, plus the URL's parts for the raw socket. */
function parseRawArgs(argv) {
  const o = parseArgs(argv);
  const url = new URL(o.url);
  return { ...o, host: url.hostname, port: Number(url.port || 80), path: url.pathname + url.search };
}

const VERIFY_FIRST = 3;
const MASK = Buffer.from([0x5a, 0xa5, 0x3c, 0xc3]);
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** One request: compressed without context (RFC 7692 7.2.1: the trailing 00 00 ff ff removed), framed, masked. */
function requestFrame(text) {
  const full = deflateRawSync(Buffer.from(text), { finishFlush: constants.Z_SYNC_FLUSH });
  const payload = full.subarray(0, full.length - 4);
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.alloc(head + 4 + len);
  frame[0] = 0xc1; // FIN, RSV1, text
  if (len < 126) frame[1] = 0x80 | len;
  else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(len), 2);
  }
  MASK.copy(frame, head);
  for (let i = 0; i < len; i++) frame[head + 4 + i] = payload[i] ^ MASK[i & 3];
  return frame;
}

async function main() {
  const o = parseRawArgs(process.argv.slice(2));
  const texts = Array.from({ length: o.variants }, (_, i) => jsonMessage(o.size, i + 1));
  const frames = texts.map(requestFrame);
  const rssBefore = readRss(o.pid);
  let phase = 'ramp';
  let msgs = 0;
  // Bytes of the counted echo frames (header + compressed payload): the compression the server's
  // settings achieve, so a faster setting that compresses worse shows it.
  let wireBytes = 0;
  let errors = 0;
  const errorKinds = {};
  const error = (kind) => {
    errors++;
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };
  const conns = [];

  const open = (index) =>
    new Promise((resolve) => {
      const key = randomBytes(16).toString('base64');
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      const socket = connect(o.port, o.host);
      socket.setNoDelay(true);
      const c = {
        socket,
        next: index % frames.length,
        sentText: [],
        verified: 0,
        z: [],
        zText: [],
        windowBits: 15,
        buf: null,
      };
      let handshaken = false;
      socket.on('connect', () =>
        socket.write(
          `GET ${o.path} HTTP/1.1\r\nHost: ${o.host}:${o.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
            'Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits\r\n\r\n',
        ),
      );
      socket.on('error', () => error('socket'));
      socket.on('close', () => {
        if (phase !== 'done') error('closed');
        resolve(null);
      });
      socket.on('data', (chunk) => {
        c.buf = c.buf === null ? chunk : Buffer.concat([c.buf, chunk]);
        if (!handshaken) {
          const end = c.buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = c.buf.subarray(0, end).toString('latin1');
          c.buf = c.buf.length > end + 4 ? c.buf.subarray(end + 4) : null;
          handshaken = true;
          const ext = /\r\nsec-websocket-extensions:([^\r]*)/i.exec(head)?.[1] ?? '';
          if (!head.startsWith('HTTP/1.1 101') || !head.includes(accept)) {
            error('handshake');
            socket.destroy();
            return;
          }
          if (!ext.includes('permessage-deflate')) {
            c.noDeflate = true;
            resolve(c);
            return;
          }
          const bits = /server_max_window_bits=(\d+)/.exec(ext)?.[1];
          c.windowBits = bits ? Number(bits) : 15;
          conns.push(c);
          resolve(c);
          if (c.buf === null) return;
        }
        onFrames(c);
      });
    });

  function send(c) {
    const i = c.next;
    c.next = (c.next + 1) % frames.length;
    if (c.verified < VERIFY_FIRST) c.sentText.push(texts[i]);
    c.socket.write(frames[i]);
  }

  function onFrames(c) {
    let buf = c.buf;
    while (buf !== null && buf.length >= 2) {
      const b0 = buf[0];
      const b1 = buf[1];
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) break;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) break;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      if (buf.length < off + len) break;
      const payload = buf.subarray(off, off + len);
      buf = buf.length > off + len ? buf.subarray(off + len) : null;
      if ((b0 & 0x80) === 0 || (b0 & 0x0f) !== 1 || (b1 & 0x80) !== 0) {
        error('frame');
        continue;
      }
      if (c.verified < VERIFY_FIRST) verify(c, payload, (b0 & 0x40) !== 0);
      else if (phase === 'measure') {
        msgs++;
        wireBytes += off + len;
      }
      if (phase !== 'done') send(c);
    }
    c.buf = buf;
  }

  function verify(c, payload, compressed) {
    const expected = c.sentText.shift();
    if (compressed) {
      // With context takeover the echoes are one DEFLATE stream: keep them (tail restored,
      // RFC 7692 7.2.2) and inflate them together once the first VERIFY_FIRST have arrived.
      c.z.push(payload, TAIL);
      c.zText.push(expected);
    } else if (payload.toString() !== expected) {
      error('mismatch');
    }
    c.verified++;
    if (c.verified === VERIFY_FIRST && c.z.length > 0) {
      let text = '';
      try {
        text = inflateRawSync(Buffer.concat(c.z), {
          windowBits: c.windowBits,
          finishFlush: constants.Z_SYNC_FLUSH,
        }).toString();
      } catch {
        error('inflate');
      }
      if (text !== c.zText.join('')) error('mismatch');
      c.z = [];
      c.zText = [];
    }
  }

  for (let i = 0; i < o.conns; i += 64) {
    await Promise.all(Array.from({ length: Math.min(64, o.conns - i) }, (_, k) => open(i + k)));
  }
  if (conns.length !== o.conns) {
    for (const c of conns) c.socket.destroy();
    const declined = errors === 0;
    finish(
      {
        error: declined
          ? 'the server did not accept permessage-deflate'
          : `only ${conns.length} of ${o.conns} connections opened`,
      },
      declined ? 3 : 1,
    );
    return;
  }
  phase = 'warmup';
  for (const c of conns) send(c);
  await new Promise((r) => setTimeout(r, o.warmup * 1000));
  phase = 'measure';
  const cpu0 = process.cpuUsage();
  const serverCpu0 = readCpuSeconds(o.pid);
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, o.duration * 1000));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = cpuSince(serverCpu0, o.pid);
  const counted = msgs;
  const wirePerMsg = counted > 0 ? wireBytes / counted : null;
  const rssLoaded = readRss(o.pid);
  phase = 'done';
  for (const c of conns) c.socket.destroy();
  finishRun(
    o,
    { seconds, counted, rssBefore, rssLoaded, errors, errorKinds, cpu, serverCpu },
    {
      client: 'raw',
      // Echo frame bytes per message, and as a fraction of the uncompressed message.
      wire_bytes_per_msg: wirePerMsg,
      wire_ratio: wirePerMsg === null ? null : wirePerMsg / o.size,
    },
  );
}

await main();
