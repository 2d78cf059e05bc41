/**
 * What the three server commands (echo, listen, broadcast) share: the --port/--host/--deflate
 * flags, an HTTP server the WebSocket server attaches to (so plain HTTP requests get a useful
 * answer), client numbering, and the shutdown on Ctrl-C (close every client with 1001 "going
 * away", then exit; a second Ctrl-C exits at once).
 */
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CommandSpec, type FlagSpec, type ParsedFlags, portFlag, stringFlag } from './args.js';
import { describeClose, toBuffer } from './format.js';
import { WebSocket, WebSocketServer } from './lib.js';

export type Socket = InstanceType<typeof WebSocket>;
export type SocketServer = InstanceType<typeof WebSocketServer>;

export const serverFlags: Record<string, FlagSpec> = {
  port: { type: 'string', value: 'N', description: 'port to listen on (required; 0 picks a free one)' },
  host: {
    type: 'string',
    value: 'host',
    description: 'address to listen on (default 127.0.0.1; 0.0.0.0 for all)',
  },
  deflate: { type: 'boolean', description: 'accept permessage-deflate compression' },
};

/** Plain HTTP requests to a WebSocket-only endpoint. */
export const upgradeRequired: RequestListener = (_req, res) => {
  const body = 'This is a WebSocket endpoint: connect with a WebSocket client, e.g. riptide connect.\n';
  res.writeHead(426, {
    'Content-Type': 'text/plain; charset=utf-8',
    Upgrade: 'websocket',
    Connection: 'close',
  });
  res.end(body);
};

export interface Running {
  http: Server;
  wss: SocketServer;
  /** ws://host:port as clients should write it */
  url: string;
}

/** Listen; resolves once listening, rejects with a one-line reason (address in use, ...). */
export function listen(
  spec: CommandSpec,
  flags: ParsedFlags,
  handler: RequestListener = upgradeRequired,
): Promise<Running> {
  const port = portFlag(spec, stringFlag(flags.port), true)!;
  const host = stringFlag(flags.host) ?? '127.0.0.1';
  const http = createServer(handler);
  return new Promise((resolve, reject) => {
    http.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE' ? 'address in use' : err.code === 'EACCES' ? 'permission denied' : '';
      reject(new Error(`cannot listen on ${host}:${port}: ${why || err.message}`));
    });
    http.listen(port, host, () => {
      // Attached only once listening, so a listen error is reported once, by us, not re-emitted.
      const wss = new WebSocketServer({ server: http, perMessageDeflate: flags.deflate === true });
      const address = http.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({ http, wss, url: `ws://${shownHost}:${address.port}` });
    });
  });
}

/** `127.0.0.1:54321` of the peer, as the HTTP upgrade request saw it. */
export function peerOf(req: IncomingMessage): string {
  const { remoteAddress, remotePort } = req.socket;
  return remoteAddress?.includes(':') ? `[${remoteAddress}]:${remotePort}` : `${remoteAddress}:${remotePort}`;
}

export function closeLine(code: number, reason: unknown): string {
  return describeClose(code, toBuffer(reason).toString('utf8'));
}

/**
 * Ctrl-C: close every client with 1001 and the servers, then exit 0 once all closing handshakes
 * are done (or after two seconds); a second Ctrl-C resolves 130 at once.
 */
export function shutdown(
  running: Running,
  clients: () => Iterable<Socket>,
  done: (code: number) => void,
): () => void {
  let stopping = false;
  return () => {
    if (stopping) {
      done(130);
      return;
    }
    stopping = true;
    const open = [...clients()].filter(
      (c) => c.readyState === WebSocket.OPEN || c.readyState === WebSocket.CLOSING,
    );
    let left = open.length;
    const timer = setTimeout(() => done(0), 2000);
    const allClosed = () => {
      clearTimeout(timer);
      running.http.close();
      done(0);
    };
    running.wss.close();
    if (left === 0) {
      allClosed();
      return;
    }
    for (const client of open) {
      client.once('close', () => {
        if (--left === 0) allClosed();
      });
      // RFC 6455 7.4.1: 1001 indicates that an endpoint is "going away", such as a server going down.
      if (client.readyState === WebSocket.OPEN) client.close(1001, 'server shutting down');
    }
  };
}
