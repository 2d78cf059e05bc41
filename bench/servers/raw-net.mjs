// The ceiling: a node:net server that answers the WebSocket opening handshake and then reflects
// every byte unchanged. The client's frames come back still masked, so wsload runs with
// --allow-masked. No frame parsing, no unmasking, no UTF-8 validation: this is what any
// WebSocket server on Node pays for the sockets alone.
//
// One exception, so that closing (and therefore the handshake benchmark) does not wait for
// wsload's 1-2 s timeouts: a chunk that is exactly one masked close frame (opcode 0x8, FIN, short
// payload, nothing else in the chunk) is reflected and the socket is ended, as a WebSocket server
// would. Text payloads from wsload are ASCII (< 0x80), so inside a text message no chunk can
// start with 0x88; for binary payloads the check also needs the exact length to match.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { announce, exitOnSignal, portArg } from './common.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HEAD = 8192;
const HEAD = Symbol('head');

function acceptKey(key) {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

function isLoneCloseFrame(chunk) {
  return (
    chunk.length <= 131 &&
    chunk[0] === 0x88 &&
    (chunk[1] & 0x80) !== 0 &&
    (chunk[1] & 0x7f) + 6 === chunk.length
  );
}

function reflect(chunk) {
  if (isLoneCloseFrame(chunk)) {
    this.end(chunk);
    return;
  }
  if (!this.write(chunk)) this.pause();
}

function onDrain() {
  this.resume();
}

function onHandshakeData(chunk) {
  const head = this[HEAD] === undefined ? chunk : Buffer.concat([this[HEAD], chunk]);
  const end = head.indexOf('\r\n\r\n', 0, 'latin1');
  if (end === -1) {
    if (head.length > MAX_HEAD) this.destroy();
    else this[HEAD] = head;
    return;
  }
  this[HEAD] = undefined;
  const text = head.toString('latin1', 0, end);
  const match = /\r\nsec-websocket-key:[ \t]*([A-Za-z0-9+/=]{24})[ \t]*(?:\r\n|$)/i.exec(text);
  if (!match || !/^GET /.test(text) || !/\r\nupgrade:[ \t]*websocket/i.test(text)) {
    this.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  this.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(match[1])}\r\n\r\n`,
  );
  this.removeListener('data', onHandshakeData);
  this.on('data', reflect);
  this.on('drain', onDrain);
  if (head.length > end + 4) reflect.call(this, head.subarray(end + 4));
}

function onError() {}

const sockets = new Set();
function onClose() {
  sockets.delete(this);
}

const server = net.createServer({ noDelay: true }, (socket) => {
  sockets.add(socket);
  socket.on('error', onError);
  socket.on('close', onClose);
  socket.on('data', onHandshakeData);
});

server.listen(portArg(), '127.0.0.1', () => announce(server.address().port));
exitOnSignal(() => {
  server.close();
  for (const s of sockets) s.destroy();
});
