// The broadcast ceiling (scenario 4): a node:net server that answers the opening handshake and
// forwards every client frame, unmasked, to every open socket with one socket.write each. No
// library, no UTF-8 validation, no per-socket state beyond the net.Socket: what any broadcast
// loop on Node pays for the sockets alone, so riptide's and ws's figures can be read against it.
//
// Framing is just enough for wsload: a frame split across reads is reassembled; a close frame
// is answered and the socket ended; a ping is answered with a pong; fragments are forwarded
// frame by frame as they come (wsload sends whole messages).
import { serveRaw } from './raw-handshake.mjs';

const open = new Set();
const PENDING = Symbol('pending');

/** The unmasked server frame for a client frame's header byte and masked payload. */
function serverFrame(first, payload, mask) {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + len);
  frame[0] = first;
  if (len < 126) frame[1] = len;
  else if (len < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(len), 2);
  }
  for (let i = 0; i < len; i++) frame[head + i] = payload[i] ^ mask[i & 3];
  return frame;
}

function onData(chunk) {
  const buf = this[PENDING] === undefined ? chunk : Buffer.concat([this[PENDING], chunk]);
  this[PENDING] = undefined;
  let off = 0;
  while (buf.length - off >= 6) {
    const first = buf[off];
    let len = buf[off + 1] & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (buf.length - off < 8) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length - off < 14) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    if (buf.length < p + 4 + len) break;
    const frame = serverFrame(first, buf.subarray(p + 4, p + 4 + len), buf.subarray(p, p + 4));
    off = p + 4 + len;
    const opcode = first & 0x0f;
    if (opcode === 0x8) {
      open.delete(this);
      this.end(frame);
      return;
    }
    if (opcode === 0x9) {
      frame[0] = (first & 0xf0) | 0xa;
      this.write(frame);
    } else if (opcode < 0x8) {
      for (const s of open) s.write(frame);
    }
  }
  if (off < buf.length) this[PENDING] = buf.subarray(off);
}

function leave() {
  open.delete(this);
}

function onOpen(socket, rest) {
  open.add(socket);
  socket.on('close', leave);
  socket.on('data', onData);
  if (rest.length > 0) onData.call(socket, rest);
}

serveRaw(onOpen);
