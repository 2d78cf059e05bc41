/**
 * What the three server commands (echo, listen, broadcast) share: the --port/--host/--deflate,
 * --cert/--key, --allow-origin and --close-timeout flags, an HTTP server the WebSocket server attaches to (so plain
 * HTTP requests get a useful answer), the Origin check (origin.ts: browser pages of other sites
 * are refused with 403), client numbering, and the shutdown on Ctrl-C, SIGTERM or a hang-up
 * (SIGHUP) (close every client with 1001 "going away", then exit 0; a second signal exits at once).
 *
 * With --cert and --key the server is node's HTTP/2 secure server with HTTP/1.1 allowed: one
 * port serves wss:// to HTTP/1.1 clients (an upgrade) and to HTTP/2 clients (RFC 8441, a stream
 * of their connection), and the page of `broadcast` over both.
 */
import { readFileSync } from 'node:fs';
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import {
  bytesFlag,
  CliUsageError,
  type CommandSpec,
  DEFAULT_MAX_MESSAGE,
  type FlagSpec,
  hostFlag,
  type ParsedFlags,
  portFlag,
  secondsFlag,
  stringFlag,
  stringList,
} from './args.js';
import { onStopSignals, signalStatus } from './exit.js';
import { describeClose, safeText, toBuffer } from './format.js';
import { WebSocket, WebSocketServer } from './lib.js';
import { originPolicy, refusal, refusalLine } from './origin.js';

export type Socket = InstanceType<typeof WebSocket>;
export type SocketServer = InstanceType<typeof WebSocketServer>;

export const serverFlags: Record<string, FlagSpec> = {
  port: {
    type: 'string',
    value: 'N',
    numeric: true,
    description: 'port to listen on (required; 0 picks a free one)',
  },
  host: {
    type: 'string',
    value: 'host',
    description: 'address to listen on (default 127.0.0.1; 0.0.0.0 for all)',
  },
  deflate: { type: 'boolean', description: 'accept permessage-deflate compression' },
  cert: {
    type: 'string',
    value: 'file',
    description: 'TLS certificate (PEM, with --key): wss:// over HTTP/2 and HTTP/1.1 on one port',
  },
  key: { type: 'string', value: 'file', description: 'TLS private key (PEM) of --cert' },
  'allow-origin': {
    type: 'string',
    multiple: true,
    value: 'origin',
    description: "also accept browser pages of this origin (scheme://host[:port] or null; '*': any)",
  },
  'close-timeout': {
    type: 'string',
    value: 'seconds',
    numeric: true,
    description: "when stopping, wait this long for the clients' answers to the close (default 2)",
  },
  'max-message-size': {
    type: 'string',
    value: 'bytes',
    numeric: true,
    description: 'close a client that sends a larger message with 1009 (default 100M; 0: no limit)',
  },
};

/** How long a stopping server waits for its clients' answers to its close, by default. */
export const SERVER_CLOSE_TIMEOUT_MS = 2000;

/**
 * A server command's --close-timeout in milliseconds (a bad value is a usage error; 0 too, as for
 * connect: see the comment on closeTimeoutMs in commands/connect.ts).
 */
export function serverCloseTimeout(spec: CommandSpec, flags: ParsedFlags): number {
  return secondsFlag(
    spec,
    'close-timeout',
    stringFlag(flags['close-timeout']),
    SERVER_CLOSE_TIMEOUT_MS,
    true,
  );
}

/** The help paragraph on origins, in every server command's notes. */
export const ORIGIN_NOTES = [
  'origins: clients that send no Origin header (scripts, riptide connect without --origin)',
  'are always accepted. Browser pages are accepted from this host only: on loopback (the',
  'default --host), any local page (http://localhost:3000, http://127.0.0.1:5173, ...); on',
  'another address, pages whose host and port are the ones the request was sent to. Other',
  "pages get 403 and a log line, unless --allow-origin names their origin (or is '*').",
].join('\n');

/** The synopsis of the server commands. */
export const SERVER_SYNOPSIS =
  '--port N [--host H] [--deflate] [--cert F --key F] [--allow-origin O] [--close-timeout S] [--max-message-size B]';

/** A request to the servers: HTTP/1.1, or HTTP/2 through node's compatibility API (--cert). */
export type Request = IncomingMessage | Http2ServerRequest;
export type Response = ServerResponse | Http2ServerResponse;
export type Handler = (req: Request, res: Response) => void;

/**
 * Answer with `status`, `headers` and `body`. HTTP/1.1 and node's HTTP/2 responses have the
 * same writeHead/end; the union of their signatures is not callable, hence the one cast here.
 */
export function respond(res: Response, status: number, headers: OutgoingHttpHeaders, body?: string): void {
  const r = res as ServerResponse;
  r.writeHead(status, headers);
  if (body === undefined) r.end();
  else r.end(body);
}

/** Plain HTTP requests to a WebSocket-only endpoint. */
export const upgradeRequired: Handler = (req, res) => {
  const body = 'This is a WebSocket endpoint: connect with a WebSocket client, e.g. riptide connect.\n';
  if (req.httpVersionMajor === 2) {
    // RFC 9110 15.5.22: a 426 "MUST send an Upgrade header field", which HTTP/2 forbids
    // (RFC 9113 8.2.2); WebSocket clients reach this port with an extended CONNECT instead.
    respond(res, 400, { 'Content-Type': 'text/plain; charset=utf-8' }, body);
    return;
  }
  respond(
    res,
    426,
    { 'Content-Type': 'text/plain; charset=utf-8', Upgrade: 'websocket', Connection: 'close' },
    body,
  );
};

export interface Running {
  http: Server | Http2SecureServer;
  wss: SocketServer;
  /** --max-message-size in bytes (0: no limit) */
  maxPayload: number;
  /** ws://host:port (wss:// with --cert) as clients should write it */
  url: string;
}

/** --cert and --key, read; null when neither is given (also `connect`'s client certificate). */
export function tlsFiles(spec: CommandSpec, flags: ParsedFlags): { cert: Buffer; key: Buffer } | null {
  const cert = stringFlag(flags.cert);
  const key = stringFlag(flags.key);
  if (cert === undefined && key === undefined) return null;
  if (cert === undefined || key === undefined) {
    throw new CliUsageError(
      `--${cert === undefined ? 'key' : 'cert'} needs --${cert === undefined ? 'cert' : 'key'}`,
      spec,
    );
  }
  const read = (name: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new CliUsageError(
        `cannot read --${name} file '${file}': ${(err as NodeJS.ErrnoException).code}`,
        spec,
      );
    }
  };
  return { cert: read('cert', cert), key: read('key', key) };
}

/**
 * Listen; resolves once listening, rejects with a one-line reason (address in use, ...). A
 * WebSocket request refused for its Origin is answered 403 and logged through `log`.
 */
export function listen(
  spec: CommandSpec,
  flags: ParsedFlags,
  log: (line: string) => void,
  handler: Handler = upgradeRequired,
): Promise<Running> {
  const port = portFlag(spec, stringFlag(flags.port), true)!;
  const host = hostFlag(spec, stringFlag(flags.host));
  const policy = originPolicy(stringList(flags['allow-origin']), host, spec);
  const tls = tlsFiles(spec, flags);
  const maxPayload = bytesFlag(
    spec,
    'max-message-size',
    stringFlag(flags['max-message-size']),
    DEFAULT_MAX_MESSAGE,
  );
  let http: Server | Http2SecureServer;
  if (tls === null) {
    http = createServer(handler);
  } else {
    try {
      http = createSecureServer({ ...tls, allowHTTP1: true }, handler);
    } catch (err) {
      // a file that is not a PEM certificate or key, or a key that does not match
      throw new CliUsageError(`invalid --cert/--key: ${(err as Error).message}`, spec);
    }
  }
  return new Promise((resolve, reject) => {
    http.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE' ? 'address in use' : err.code === 'EACCES' ? 'permission denied' : '';
      reject(new Error(`cannot listen on ${host}:${port}: ${why || err.message}`));
    });
    http.listen(port, host, () => {
      // Attached only once listening, so a listen error is reported once, by us, not re-emitted.
      const wss = new WebSocketServer({
        server: http,
        perMessageDeflate: flags.deflate === true,
        maxPayload,
        verifyClient: (info, done) => {
          const why = refusal(policy, info.origin, info.req.headers.host);
          if (why === null) return done(true);
          log(refusalLine(peerOf(info.req), safeText(info.origin ?? ''), why));
          done(false, 403, `Forbidden: origin not allowed (riptide ${spec.name} --allow-origin)`);
        },
      });
      const address = http.address() as AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        http,
        wss,
        maxPayload,
        url: `${tls === null ? 'ws' : 'wss'}://${shownHost}:${address.port}`,
      });
    });
  });
}

/**
 * `127.0.0.1:54321` of the peer, as the HTTP upgrade request saw it, and ` (HTTP/2)` when the
 * WebSocket is a stream of an HTTP/2 connection.
 */
export function peerOf(req: IncomingMessage): string {
  const { remoteAddress, remotePort } = req.socket;
  const peer = remoteAddress?.includes(':')
    ? `[${remoteAddress}]:${remotePort}`
    : `${remoteAddress}:${remotePort}`;
  return req.httpVersionMajor === 2 ? `${peer} (HTTP/2)` : peer;
}

/**
 * Bytes a server lets wait for one client that does not read what it is sent: past this, echo
 * stops reading from the client (its own TCP window fills, not our memory) and broadcast drops it.
 */
export const CLIENT_BACKLOG = 4 * 1024 * 1024;

export function closeLine(code: number, reason: unknown): string {
  return describeClose(code, toBuffer(reason).toString('utf8'));
}

/** The library's error for a message over maxPayload, after which it closes with 1009. */
export function isTooBig(err: Error): boolean {
  return (err as { code?: unknown }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
}

/**
 * Log a client's errors and its close as `[n] ...`. A message over --max-message-size is said so:
 * the library's "Max payload size exceeded" and then `closed 1006` (the close frame it sent,
 * 1009, is not answered once it stops reading) read as a lost connection, not a refusal.
 */
export function logClientEnd(running: Running, ws: Socket, id: number, log: (line: string) => void): void {
  let tooBig = false;
  ws.on('error', (err) => {
    if (isTooBig(err)) {
      tooBig = true;
      log(
        `[${id}] sent a message over --max-message-size (${running.maxPayload} bytes): closing it with 1009`,
      );
    } else log(`[${id}] error: ${err.message}`);
  });
  ws.on('close', (code, reason) => log(`[${id}] ${tooBig ? closeLine(1009, '') : closeLine(code, reason)}`));
}

/**
 * Ctrl-C, SIGTERM or a hang-up: close every client with 1001 and the servers, then exit 0 once all
 * closing handshakes are done (or after `closeTimeoutMs`: --close-timeout, two seconds by
 * default); a second signal resolves 128 + its number at once (130 for a second Ctrl-C).
 */
export function shutdown(
  running: Running,
  clients: () => Iterable<Socket>,
  done: (code: number) => void,
  closeTimeoutMs = SERVER_CLOSE_TIMEOUT_MS,
): (signal?: NodeJS.Signals) => void {
  let stopping = false;
  return (signal = 'SIGINT') => {
    if (stopping) {
      done(signalStatus(signal));
      return;
    }
    stopping = true;
    const open = [...clients()].filter(
      (c) => c.readyState === WebSocket.OPEN || c.readyState === WebSocket.CLOSING,
    );
    let left = open.length;
    const timer = setTimeout(() => done(0), closeTimeoutMs);
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

/**
 * Stop a server that reads no terminal (echo, broadcast) on Ctrl-C, SIGTERM and a hang-up: a
 * server started from an ssh session must close its clients with 1001 when the session drops,
 * not die with no close frame.
 */
export function stopOnSignals(stop: (signal: NodeJS.Signals) => void): void {
  process.on('SIGINT', () => stop('SIGINT'));
  onStopSignals(stop);
}
