import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, type WebSocketServer } from '../../src/index.js';
import {
  clientFrame,
  duplexClient,
  once,
  parseFrames,
  rawClient,
  riptideServer,
  shutdown,
} from './helpers.js';

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await shutdown(s);
});

/**
 * The heartbeat's timers are faked (the sockets are real): a round happens when the test
 * advances the clock, and the pings and pongs it causes are awaited as events, so the test
 * never depends on how fast a loaded machine delivers them.
 */
describe('RFC 6455 5.5.2 heartbeat: one server-wide timer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('terminates a peer that does not answer pings (1006, WS_ERR_HEARTBEAT_TIMEOUT) and keeps one that does', async () => {
    const { wss, port, url } = await riptideServer({ heartbeat: { interval: 100, timeout: 60 } });
    servers.push(wss);
    const conns: WebSocket[] = [];
    let onSecond = () => {};
    const bothAccepted = new Promise<void>((resolve) => (onSecond = resolve));
    wss.on('connection', (ws) => {
      if (conns.push(ws) === 2) onSecond();
    });

    // A raw peer that reads (and so receives pings) but never answers them.
    const { socket } = await rawClient(port);
    const firstPing = new Promise<void>((resolve) => {
      socket.on('data', (d: Buffer) => {
        if (parseFrames(d).some((f) => f.opcode === 0x9)) resolve();
      });
    });
    // A well-behaved riptide client (autoPong).
    const good = new WebSocket(url);
    await once(good, 'open');
    await bothAccepted;
    const [silent, healthy] = conns;
    const errors: Error[] = [];
    silent.on('error', (e) => errors.push(e));

    // t=100: both are pinged; the healthy one answers.
    const pong = once(healthy, 'pong');
    vi.advanceTimersByTime(100);
    await firstPing;
    await pong;
    // t=160: the check terminates the silent one only.
    const closed = once<[number]>(silent, 'close');
    vi.advanceTimersByTime(60);
    const [code] = await closed;
    expect(code).toBe(1006);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'WS_ERR_HEARTBEAT_TIMEOUT', closeCode: 1006 });
    expect(healthy.readyState).toBe(WebSocket.OPEN);

    // Two more rounds (pings at t=200 and 300, checks at 260 and 360), each answered in time.
    for (let round = 0; round < 2; round++) {
      const answered = once(healthy, 'pong');
      vi.advanceTimersByTime(40);
      await answered;
      vi.advanceTimersByTime(60);
      expect(healthy.readyState).toBe(WebSocket.OPEN);
    }
    // Barrier: a ping round trip from the client proves its side is still open too.
    good.ping();
    await once(good, 'pong');
    expect(good.readyState).toBe(WebSocket.OPEN);
    good.terminate();
    socket.destroy();
  });

  it('a pong that arrived while the process was busy is read before the check (a round waits for the poll phase)', async () => {
    const { wss, port } = await riptideServer({ heartbeat: { interval: 100, timeout: 60 } });
    servers.push(wss);
    const accepted = once<[WebSocket]>(wss, 'connection');
    // A raw peer that answers the ping by hand, when the test says so.
    const { socket } = await rawClient(port);
    socket.on('error', () => {}); // a reset, without the fix
    const [ws] = await accepted;
    const errors: Error[] = [];
    ws.on('error', (e) => errors.push(e));
    const pinged = new Promise<void>((resolve) => {
      socket.on('data', (d: Buffer) => {
        if (parseFrames(d).some((f) => f.opcode === 0x9)) resolve();
      });
    });
    vi.advanceTimersByTime(100);
    await pinged;
    // From the check phase: the pong goes into the kernel (a loopback write lands at once),
    // then, with no turn of the event loop between (the server busy), the check comes due.
    await new Promise<void>((resolve) => setImmediate(resolve));
    socket.write(clientFrame(0xa, ''));
    // Whichever comes first: the pong read, or the socket terminated for want of it.
    const outcome = Promise.race([
      once(ws, 'pong').then(() => 'pong'),
      once(ws, 'close').then(() => 'close'),
    ]);
    vi.advanceTimersByTime(60);
    expect(await outcome).toBe('pong');
    // One more turn for the deferred check, then a barrier: the socket still answers.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(errors).toEqual([]);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    socket.destroy();
  });

  it('keeps reaping the connections that outlive close(), and stops once the last one is gone', async () => {
    const { wss, port, url } = await riptideServer({ heartbeat: { interval: 100, timeout: 60 } });
    const conns: WebSocket[] = [];
    let onSecond = () => {};
    const bothAccepted = new Promise<void>((resolve) => (onSecond = resolve));
    wss.on('connection', (ws) => {
      if (conns.push(ws) === 2) onSecond();
    });
    // A peer that reads (and so receives pings) but never answers, and a riptide client.
    const { socket } = await rawClient(port);
    const firstPing = new Promise<void>((resolve) => {
      socket.on('data', (d: Buffer) => {
        if (parseFrames(d).some((f) => f.opcode === 0x9)) resolve();
      });
    });
    const good = new WebSocket(url);
    await once(good, 'open');
    await bothAccepted;
    const [silent, healthy] = conns;
    const errors: Error[] = [];
    silent.on('error', (e) => errors.push(e));
    const serverClosed = new Promise<void>((resolve) => wss.close(() => resolve()));

    // Open connections are left alone by close() (ws 8); the heartbeat still pings them.
    const pong = once(healthy, 'pong');
    vi.advanceTimersByTime(100);
    await firstPing;
    await pong;
    const closed = once<[number]>(silent, 'close');
    vi.advanceTimersByTime(60);
    expect((await closed)[0]).toBe(1006);
    expect(errors[0]).toMatchObject({ code: 'WS_ERR_HEARTBEAT_TIMEOUT' });
    expect(healthy.readyState).toBe(WebSocket.OPEN);

    // The last connection gone: nothing of the heartbeat is left.
    const healthyClosed = once(healthy, 'close');
    const goodClosed = once(good, 'close');
    good.close();
    await healthyClosed;
    await goodClosed;
    await serverClosed;
    expect(vi.getTimerCount()).toBe(0);
    socket.destroy();
  });

  it('works with clientTracking: false and stops with the server', async () => {
    const { wss, url } = await riptideServer({ heartbeat: 50, clientTracking: false });
    expect(wss.clients).toBeUndefined();
    const accepted = once<[WebSocket]>(wss, 'connection');
    const ws = new WebSocket(url);
    await once(ws, 'open');
    const [peer] = await accepted;
    for (let round = 0; round < 2; round++) {
      const pinged = once(ws, 'ping');
      const answered = once(peer, 'pong');
      vi.advanceTimersByTime(50);
      await pinged;
      await answered; // the next round would reap a client whose pong is still on its way
    }
    ws.close();
    await once(ws, 'close');
    await shutdown(wss);
    // The server's interval is gone: nothing is left to fire.
    expect(vi.getTimerCount()).toBe(0);
  });
});

/**
 * A pause() holds 'close' with the input the transport's end left (websocket.ts CLOSE_PENDING):
 * the socket stays in wss.clients (CLOSING) until resume() delivers the rest and 'close', or until
 * the heartbeat ends the wait (no ping can be answered once the transport is gone), as it ends a
 * paused open socket whose pong is not read. The server's transport is an in-process Duplex,
 * destroyed by the peer (a reset) while the server's socket is paused.
 */
describe("a paused server socket whose transport is gone: 'close' waits for resume(), the heartbeat ends the wait", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function heldServerSocket(): Promise<{ wss: WebSocketServer; ws: WebSocket; got: string[] }> {
    const { wss } = await riptideServer({ heartbeat: { interval: 100, timeout: 60 } });
    servers.push(wss);
    const accepted = once<[WebSocket]>(wss, 'connection');
    const { end } = await duplexClient(wss);
    const [ws] = await accepted;
    const got: string[] = [];
    const first = once(ws, 'message');
    ws.on('message', (data: Buffer) => {
      if (got.push(data.toString()) === 1) ws.pause();
    });
    end.write(
      Buffer.concat([clientFrame(1, 'a'), clientFrame(1, 'b'), clientFrame(8, Buffer.from([0x03, 0xe8]))]),
    );
    await first;
    const transportClosed = once(ws._socket!, 'close');
    end.destroy();
    await transportClosed;
    return { wss, ws, got };
  }

  it("resume(): the held message, then 'close' 1000; wss.clients drops the socket at 'close'", async () => {
    const { wss, ws, got } = await heldServerSocket();
    let closes = 0;
    ws.on('close', () => closes++);
    // Barrier: a round trip through the event loop's check phase (anything queued has run).
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(closes).toBe(0);
    expect(ws.readyState).toBe(WebSocket.CLOSING);
    expect(wss.clients.has(ws)).toBe(true);
    const closed = once<[number]>(ws, 'close');
    ws.resume();
    const [code] = await closed;
    expect(code).toBe(1000);
    expect(got).toEqual(['a', 'b']);
    expect(wss.clients.has(ws)).toBe(false);
  });

  it("the heartbeat's check ends the wait: 1006, WS_ERR_HEARTBEAT_TIMEOUT, the held input dropped", async () => {
    const { wss, ws, got } = await heldServerSocket();
    const errors: Error[] = [];
    ws.on('error', (e) => errors.push(e));
    let closes = 0;
    ws.on('close', () => closes++);
    vi.advanceTimersByTime(100); // the round's pings: none can be sent to this one
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(closes).toBe(0);
    expect(wss.clients.has(ws)).toBe(true);
    const closed = once<[number]>(ws, 'close');
    vi.advanceTimersByTime(60); // the check
    const [code] = await closed;
    expect(code).toBe(1006);
    expect(errors).toMatchObject([{ code: 'WS_ERR_HEARTBEAT_TIMEOUT' }]);
    expect(got).toEqual(['a']);
    expect(wss.clients.has(ws)).toBe(false);
  });
});
