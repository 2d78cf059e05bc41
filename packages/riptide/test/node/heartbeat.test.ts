import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, type WebSocketServer } from '../../src/index.js';
import { delay, once, parseFrames, rawClient, riptideServer, shutdown } from './helpers.js';

const servers: WebSocketServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await shutdown(s);
});

describe('RFC 6455 5.5.2 heartbeat: one server-wide timer', () => {
  it('terminates a peer that does not answer pings (1006, WS_ERR_HEARTBEAT_TIMEOUT) and keeps one that does', async () => {
    const { wss, port, url } = await riptideServer({ heartbeat: { interval: 100, timeout: 60 } });
    servers.push(wss);
    const conns: WebSocket[] = [];
    wss.on('connection', (ws) => conns.push(ws));

    // A raw peer that reads (and so receives pings) but never answers them.
    const { socket } = await rawClient(port);
    const pings: number[] = [];
    socket.on('data', (d: Buffer) => {
      for (const f of parseFrames(d)) pings.push(f.opcode);
    });
    // A well-behaved riptide client (autoPong).
    const good = new WebSocket(url);
    await once(good, 'open');
    await delay(20);
    const [silent, healthy] = conns;
    const errors: Error[] = [];
    silent.on('error', (e) => errors.push(e));
    const t0 = Date.now();
    const [code] = await once<[number]>(silent, 'close');
    expect(code).toBe(1006);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(errors[0]).toMatchObject({ code: 'WS_ERR_HEARTBEAT_TIMEOUT', closeCode: 1006 });
    expect(pings).toContain(0x9);
    await delay(250); // several more rounds
    expect(healthy.readyState).toBe(WebSocket.OPEN);
    expect(good.readyState).toBe(WebSocket.OPEN);
    good.terminate();
    socket.destroy();
  });

  it('works with clientTracking: false and stops with the server', async () => {
    const { wss, url } = await riptideServer({ heartbeat: 50, clientTracking: false });
    servers.push(wss);
    expect(wss.clients).toBeUndefined();
    const ws = new WebSocket(url);
    let pings = 0;
    ws.on('ping', () => pings++);
    await once(ws, 'open');
    await delay(230);
    expect(pings).toBeGreaterThanOrEqual(2);
    ws.close();
    await once(ws, 'close');
  });
});
