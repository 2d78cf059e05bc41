/**
 * internals.ts writeDirect against stand-ins for Node's TCP handle and write request, for the
 * cases a real socket cannot be made to show on demand: the write contract of later Node 24
 * releases (no request lent to writeBuffer), and a write that went asynchronous although libuv's
 * queue reads empty right after it (the kernel took part at once and libuv's own first attempt
 * wrote the rest, with the completion still to come). A file of its own: the probe's result is
 * module state, and here it must start unknown (the first test sees the real probe run; the
 * stand-ins come after it, as they leave the probe pointing at their own handle class).
 */
import { describe, expect, it } from 'vitest';
import { overrideProbes, probeResults, writeDirect } from '../../src/node/internals.js';
import { nodeLendsWriteRequest, parseFrames, rawClient, riptideServer, shutdown, until } from './helpers.js';

describe('the probe on this Node', () => {
  it("takes the direct path exactly where Node's own write lends its request to writeBuffer", async () => {
    const lends = await nodeLendsWriteRequest();
    expect(probeResults().directWrite).toBe(null); // nothing written by riptide yet
    const { wss, port } = await riptideServer();
    try {
      const accepted = new Promise<import('../../src/index.js').WebSocket>((r) => wss.once('connection', r));
      const { socket: client, rest } = await rawClient(port);
      const server = await accepted;
      let got = rest;
      client.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
      server.send('the first frame runs the probe');
      await new Promise((r) => setImmediate(r));
      server.send('the next one takes the path it chose');
      await until(() => parseFrames(got).length === 2);
      expect(parseFrames(got).map((f) => String(f.payload))).toEqual([
        'the first frame runs the probe',
        'the next one takes the path it chose',
      ]);
      expect(probeResults().directWrite).toBe(lends);
      client.destroy();
    } finally {
      await shutdown(wss);
    }
  });
});

/** Stands for Node's WriteWrap: getAsyncId() is -1 until a native request is attached. */
class WriteWrap {
  attached = false;
  oncomplete: ((this: WriteWrap, status: number) => void) | null = null;
  buffer: Uint8Array | null = null;
  socket: unknown = null;
  getAsyncId(): number {
    return this.attached ? 42 : -1;
  }
}

/** Stands for Node's TCP handle (the probe recognises the class by its name). */
class TCP {
  writeQueueSize = 0;
  /** Next writes "have to wait": a native request is attached to the request lent. */
  wait = false;
  readonly calls: { req: unknown; data: string }[] = [];
  writeBuffer(req: unknown, data: Uint8Array): number {
    this.calls.push({ req, data: Buffer.from(data).toString() });
    if (this.wait && req instanceof WriteWrap) req.attached = true;
    return 0;
  }
}

/** A socket whose write() passes `lend ? a new request : null` to the handle, as Node does. */
function fakeSocket(lend: boolean) {
  const handle = new TCP();
  const socket = {
    _handle: handle,
    writableLength: 0,
    writableCorked: 0,
    connecting: false,
    timeout: undefined,
    destroyed: false,
    error: undefined as (Error & { code?: string }) | undefined,
    viaWrite: [] as string[],
    write(data: Uint8Array, cb?: (err?: Error | null) => void): boolean {
      socket.viaWrite.push(Buffer.from(data).toString());
      handle.writeBuffer(lend ? new WriteWrap() : null, data);
      if (cb !== undefined) cb(null); // at once here; Node calls it later
      return true;
    },
    destroy(err?: Error): void {
      socket.destroyed = true;
      socket.error = err;
    },
  };
  return {
    socket,
    handle,
    write: (text: string, done?: (err?: Error | null) => void) =>
      writeDirect(socket as never, Buffer.from(text), done),
  };
}

describe('writeDirect against stand-ins', () => {
  it("Node's own write lends no request (later Node 24): the probe turns the path off, socket.write does every write", () => {
    const restore = overrideProbes({ directWrite: null });
    try {
      const { socket, handle, write } = fakeSocket(false);
      expect(write('first')).toBe(true); // written by socket.write while the probe looked
      expect(probeResults().directWrite).toBe(false);
      expect(write('second')).toBe(false); // the caller writes it with socket.write
      expect(socket.viaWrite).toEqual(['first']);
      expect(handle.calls).toEqual([{ req: null, data: 'first' }]);
    } finally {
      restore();
    }
  });

  it('the classic contract: one request lent to every write that completes at once, a new one after a write that has to wait, even with an empty queue', () => {
    const restore = overrideProbes({ directWrite: null });
    try {
      const { socket, handle, write } = fakeSocket(true);
      expect(write('probe')).toBe(true);
      expect(probeResults().directWrite).toBe(true);
      expect(socket.viaWrite).toEqual(['probe']);

      expect(write('a')).toBe(true);
      expect(write('b')).toBe(true);
      const lent = handle.calls[1].req as WriteWrap;
      expect(lent).toBeInstanceOf(WriteWrap);
      expect(handle.calls[2].req).toBe(lent); // completed at once: lent again

      handle.wait = true; // the next write has to wait, yet libuv's queue reads empty after it
      expect(write('c')).toBe(true);
      expect(handle.writeQueueSize).toBe(0);
      expect(lent.buffer && Buffer.from(lent.buffer).toString()).toBe('c'); // kept alive until done
      expect(lent.socket).toBe(socket);
      expect(typeof lent.oncomplete).toBe('function');

      handle.wait = false;
      expect(write('d')).toBe(true);
      const next = handle.calls[4].req as WriteWrap;
      expect(next).not.toBe(lent); // never lent while its native request is attached

      lent.oncomplete!.call(lent, 0);
      expect(lent.buffer).toBeNull();
      expect(lent.socket).toBeNull();
      expect(socket.destroyed).toBe(false);

      handle.wait = true;
      expect(write('e')).toBe(true);
      next.oncomplete!.call(next, -32); // EPIPE, as libuv reports it
      expect(socket.destroyed).toBe(true);
      expect(socket.error?.code).toBe('EPIPE');
      expect(socket.viaWrite).toEqual(['probe']); // all the rest went straight to the handle
    } finally {
      restore();
    }
  });

  it("`done` reports when the write is done: at once, at libuv's completion (with its error), through socket.write for the probe's write; ordinary writes store none", () => {
    const restore = overrideProbes({ directWrite: null });
    try {
      const { socket, handle, write } = fakeSocket(true);
      const results: string[] = [];
      const done = (name: string) => (err?: Error | null) =>
        results.push(`${name}: ${err == null ? 'ok' : (err as Error & { code?: string }).code}`);
      expect(write('probe', done('probe'))).toBe(true);
      expect(results).toEqual(['probe: ok']); // socket.write's callback (the stand-in calls it at once)

      expect(write('whole', done('whole'))).toBe(true);
      expect(results).toEqual(['probe: ok', 'whole: ok']); // before writeDirect returned

      handle.wait = true; // the kernel takes part: the rest waits in libuv
      expect(write('fails', done('fails'))).toBe(true);
      const failing = handle.calls[2].req as WriteWrap;
      expect(write('succeeds', done('succeeds'))).toBe(true);
      const succeeding = handle.calls[3].req as WriteWrap;
      expect(write('plain')).toBe(true);
      const plain = handle.calls[4].req as WriteWrap & { done?: unknown };
      expect(results).toHaveLength(2); // nothing known yet about the three waiting

      succeeding.oncomplete!.call(succeeding, 0);
      expect(results.at(-1)).toBe('succeeds: ok');
      plain.oncomplete!.call(plain, 0);
      expect(plain.done ?? undefined).toBeUndefined();
      failing.oncomplete!.call(failing, -104); // ECONNRESET, as libuv reports it
      expect(results.at(-1)).toBe('fails: ECONNRESET');
      expect(socket.error?.code).toBe('ECONNRESET');
      expect(results).toHaveLength(4);
    } finally {
      restore();
    }
  });

  it('anything queued on the handle sends the write through socket.write, behind it', () => {
    const restore = overrideProbes({ directWrite: null });
    try {
      const { handle, write } = fakeSocket(true);
      write('probe');
      handle.writeQueueSize = 100;
      expect(write('behind')).toBe(false);
      expect(handle.calls.map((c) => c.data)).toEqual(['probe']);
    } finally {
      restore();
    }
  });
});
