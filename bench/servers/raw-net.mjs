// The ceiling: a node:net server that answers the WebSocket opening handshake and then reflects
// every byte unchanged. The client's frames come back still masked, so wsload runs with
// --allow-masked. No unmasking, no copies, no UTF-8 validation: this is what any WebSocket
// server on Node pays for the sockets alone.
//
// One exception, so that closing (and therefore the handshake benchmark) does not wait for
// wsload's 1-2 s timeouts: once the client's close frame has come in, it is reflected and the
// socket is ended, as a WebSocket server would. To find the close frame the server follows the
// frame boundaries (./raw-frames.mjs): it reads each frame's header (opcode and length) and
// skips its payload, so a read that lies inside a payload costs one comparison, and a frame
// that starts in a read a few byte reads of its header. (Matching a read's first bytes against
// a close frame's, as this server once did, is not enough: a read can start inside a payload,
// whose masked bytes are random, and in run 11 such reads ended 4 connections.)
import { closeFrameEnd } from './raw-frames.mjs';
import { serveRaw } from './raw-handshake.mjs';

function reflect(chunk) {
  const end = closeFrameEnd(this, chunk);
  if (end !== -1) {
    // Anything after the close frame is not answered.
    this.removeListener('data', reflect);
    this.end(chunk.subarray(0, end));
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
