// The raw node:net servers' shared part (raw-net.mjs, raw-broadcast.mjs): listen, read each
// request head, answer 101 with the accept key, then hand the socket to `onOpen(socket, rest)`.
// Just enough for wsload's requests; no validation beyond the key and the Upgrade header.
// `onOpen` is kept on the net.Server, not on each socket, so that the raw servers' sockets carry
// exactly what they did before this was shared (scenario 5 reads their memory).
import { createHash } from 'node:crypto';
import net from 'node:net';
import { announce, exitOnSignal, portArg } from './common.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HEAD = 8192;
const HEAD = Symbol('head');
const ON_OPEN = Symbol('onOpen');

function acceptKey(key) {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
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
  this.server[ON_OPEN](this, head.subarray(end + 4));
}

function onError() {}

/**
 * Serve on the port given on the command line (the servers' contract, ./common.mjs): every
 * connection is upgraded and `onOpen(socket, rest)` runs after the 101, with the bytes that
 * followed the request head. SIGTERM destroys every socket.
 */
export function serveRaw(onOpen) {
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
  server[ON_OPEN] = onOpen;
  server.listen(portArg(), '127.0.0.1', () => announce(server.address().port));
  exitOnSignal(() => {
    server.close();
    for (const s of sockets) s.destroy();
  });
}
