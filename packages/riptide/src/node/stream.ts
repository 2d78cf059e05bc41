/**
 * createWebSocketStream(ws, options): a Duplex over a WebSocket, with ws 8's semantics.
 *
 *   readable side: each message is one chunk (a Buffer; a string for text messages in
 *                  readableObjectMode); push() returning false pauses the WebSocket, _read()
 *                  resumes it; 'close' ends the readable side.
 *   writable side: each write() is one send() (binary for Buffers, text for strings in
 *                  objectMode); end() starts the closing handshake once the writes are flushed.
 *   destroy():     terminates the connection.
 */
import { Duplex, type DuplexOptions } from 'node:stream';
import type { WebSocket } from './websocket.js';

export function createWebSocketStream(ws: WebSocket, options?: DuplexOptions): Duplex {
  let terminateOnDestroy = true;

  const duplex = new Duplex({
    ...options,
    autoDestroy: false,
    emitClose: false,
    objectMode: false,
    writableObjectMode: false,
  });

  const onMessage = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void => {
    const chunk = !isBinary && duplex.readableObjectMode ? data.toString() : data;
    if (!duplex.push(chunk)) ws.pause();
  };
  ws.on('message', onMessage);

  ws.once('error', function onError(err: Error) {
    if (duplex.destroyed) return;
    // Prevent ws.terminate() from being called by duplex.destroy(): the connection is failing
    // already, its close frame is on the way.
    terminateOnDestroy = false;
    duplex.destroy(err);
  });

  // end()'s last resort (see _final): a clean close without the transport's 'finish'. It runs
  // here, before the readable side ends, so that 'finish' still comes before 'end'.
  let finishOnClose: (() => void) | null = null;

  ws.once('close', function onClose() {
    if (finishOnClose !== null) finishOnClose();
    if (duplex.destroyed) return;
    duplex.push(null);
  });

  duplex._destroy = (err, callback) => {
    if (ws.readyState === ws.CLOSED) {
      callback(err);
      process.nextTick(emitStreamClose, duplex);
      return;
    }
    let called = false;
    ws.once('error', (error: Error) => {
      called = true;
      callback(error);
    });
    ws.once('close', () => {
      if (!called) callback(err);
      process.nextTick(emitStreamClose, duplex);
    });
    if (terminateOnDestroy) ws.terminate();
  };

  duplex._final = (callback) => {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => duplex._final(callback));
      return;
    }
    const socket = ws._socket;
    if (socket === null) return;
    // A server closes its descriptor once the close frames are exchanged and every byte is in
    // the kernel (websocket.ts _flush): its socket never emits 'finish' then, and the clean
    // close says the same thing (everything written reached the kernel, our side is done).
    if (socket.writableFinished || (socket.destroyed && ws._wasClean)) {
      callback();
      if (duplex.readableEnded) duplex.destroy();
    } else {
      let called = false;
      const finished = (): void => {
        if (called) return;
        called = true;
        callback();
      };
      socket.once('finish', finished);
      // That immediate close, told when it happens: 'finish' then comes before the WebSocket's
      // 'close', as ws 8's does (its socket's 'finish' precedes the socket's 'close').
      ws._whenFinished(finished);
      finishOnClose = () => {
        finishOnClose = null;
        if (ws._wasClean) finished();
      };
      ws.close();
    }
  };

  duplex._read = () => {
    if (ws.isPaused) ws.resume();
  };

  duplex._write = (chunk: Buffer | string, _encoding, callback) => {
    if (ws.readyState === ws.CONNECTING) {
      ws.once('open', () => duplex._write(chunk, _encoding, callback));
      return;
    }
    ws.send(chunk, callback);
  };

  duplex.on('end', () => {
    if (!duplex.destroyed && duplex.writableFinished) duplex.destroy();
  });
  duplex.on('error', duplexOnError);
  return duplex;
}

/**
 * ws 8: an 'error' (a write after the WebSocket closed, a failed connection) destroys the stream
 * first, so it does not linger half alive; with no other 'error' listener the error is emitted
 * again, to throw as any unhandled stream error does.
 */
function duplexOnError(this: Duplex, err: Error): void {
  this.removeListener('error', duplexOnError);
  this.destroy();
  if (this.listenerCount('error') === 0) this.emit('error', err);
}

function emitStreamClose(stream: Duplex): void {
  stream.emit('close');
}
