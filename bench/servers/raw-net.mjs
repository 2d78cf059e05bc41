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
import { serveRaw } from './raw-handshake.mjs';

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

function onOpen(socket, rest) {
  socket.on('data', reflect);
  socket.on('drain', onDrain);
  if (rest.length > 0) reflect.call(socket, rest);
}

serveRaw(onOpen);
