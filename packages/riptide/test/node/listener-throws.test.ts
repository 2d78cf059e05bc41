/**
 * A listener that throws while the parser hands on a frame (the process kept alive by an
 * 'uncaughtException' handler): the exception goes on to Node's read callback, and the input
 * after that frame is still parsed, in order (websocket.ts _afterThrow, the core's
 * continueAfterThrow). It used to be lost with the stack: the messages behind it in the same read
 * were dropped, and the next read was parsed from the middle of a frame (1002). ws 8 parses
 * nothing more on such a connection (its receiver's write never completes).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WebSocket } from '../../src/index.js';
import {
  cleanupsAfterEachTest,
  clientFrame,
  once,
  rawClient,
  riptideServer,
  shutdown,
  until,
} from './helpers.js';

const cleanups = cleanupsAfterEachTest();
const uncaught: string[] = [];
const record = (err: Error) => uncaught.push(err.message);
beforeEach(() => {
  uncaught.length = 0;
  process.on('uncaughtException', record);
});
afterEach(() => {
  process.removeListener('uncaughtException', record);
});

const closeFrame = () => clientFrame(0x8, Buffer.from([0x03, 0xe8]));

/** A server whose 'message' listener throws on the first message; a raw client. */
async function connection(allowSynchronousEvents: boolean) {
  const { wss, port } = await riptideServer({ allowSynchronousEvents });
  cleanups.push(() => shutdown(wss));
  const accepted = once<[WebSocket]>(wss, 'connection');
  const { socket } = await rawClient(port);
  cleanups.push(() => {
    socket.destroy();
  });
  socket.on('error', () => {});
  const [server] = await accepted;
  const got: string[] = [];
  server.on('message', (data: Buffer) => {
    got.push(String(data));
    if (got.length === 1) throw new Error('listener failed');
  });
  const closed = once<[number]>(server, 'close');
  return { socket, got, closed };
}

describe.each([true, false])("a 'message' listener that throws (allowSynchronousEvents: %s)", (sync) => {
  it('the messages after it in the same read, and the close frame, still arrive', async () => {
    const { socket, got, closed } = await connection(sync);
    socket.write(
      Buffer.concat([
        clientFrame(1, 'first'),
        clientFrame(1, 'second'),
        clientFrame(2, 'third'),
        closeFrame(),
      ]),
    );
    expect((await closed)[0]).toBe(1000);
    expect(got).toEqual(['first', 'second', 'third']);
    expect(uncaught).toEqual(['listener failed']);
  });

  it('a frame split between that read and the next is read whole, not from its middle', async () => {
    const { socket, got, closed } = await connection(sync);
    const second = clientFrame(1, 'second, split');
    socket.write(Buffer.concat([clientFrame(1, 'first'), second.subarray(0, 5)]));
    await until(() => uncaught.length === 1); // that read was handled (barrier)
    socket.write(Buffer.concat([second.subarray(5), clientFrame(1, 'third'), closeFrame()]));
    expect((await closed)[0]).toBe(1000);
    expect(got).toEqual(['first', 'second, split', 'third']);
  });

  it('the peer ends right after: what it sent before its FIN is still delivered', async () => {
    const { socket, got, closed } = await connection(sync);
    socket.end(Buffer.concat([clientFrame(1, 'first'), clientFrame(1, 'second'), closeFrame()]));
    expect((await closed)[0]).toBe(1000);
    expect(got).toEqual(['first', 'second']);
  });
});
