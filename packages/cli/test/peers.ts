/**
 * Reference peers for the CLI tests, written with the `ws` package (a dev dependency), so a
 * fault in riptide's own server cannot hide a fault in the CLI's client and the other way round.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

export interface Peer {
  url: string;
  wss: WebSocketServer;
  http: Server;
  requests: IncomingMessage[];
  /** close events seen by the server: [code, reason] */
  closes: [number, string][];
  close(): Promise<void>;
}

/** A ws server on 127.0.0.1:0; `onConnection` defaults to echoing with the same type. */
export async function wsPeer(
  onConnection: (ws: WebSocket, req: IncomingMessage) => void = (ws) =>
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })),
  options: ConstructorParameters<typeof WebSocketServer>[0] = {},
  http: Server = createServer(),
): Promise<Peer> {
  const wss = new WebSocketServer({ server: http, ...options });
  const peer: Peer = {
    url: '',
    wss,
    http,
    requests: [],
    closes: [],
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        http.close(() => resolve());
        http.closeAllConnections?.();
      }),
  };
  wss.on('connection', (ws, req) => {
    peer.requests.push(req);
    ws.on('close', (code, reason) => peer.closes.push([code, reason.toString()]));
    onConnection(ws, req);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  // an https.Server has setSecureContext; a plain http.Server does not
  peer.url = `${'setSecureContext' in http ? 'wss' : 'ws'}://127.0.0.1:${port}`;
  return peer;
}

/**
 * Poll until `check` is true (for server-side effects that have no event of their own). No
 * deadline of its own: on a loaded machine only the test's timeout decides how long is too long.
 */
export async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 20));
}
