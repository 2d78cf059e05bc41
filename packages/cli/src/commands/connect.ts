/**
 * `riptide connect <url>`: a WebSocket client for the terminal and for scripts.
 *
 *   interactive (stdin is a terminal)   each typed line is sent; slash commands; Ctrl-D or Ctrl-C close
 *   piped (stdin is a file or pipe)     each line is sent as it is read (no slash commands); at end
 *                                       of input, wait until every line sent has had a reply, at
 *                                       most --wait seconds, then close with 1000
 *   --execute                           send the given messages, wait --wait seconds, close
 *
 * Received messages go to stdout (text as is, binary as length and hex); status (open, close,
 * pings, errors) goes to stderr, so `riptide connect URL > file` keeps only the data. With
 * --json every event is one JSON object per line on stdout.
 *
 * Exit status: 0 after a closing handshake, 1 if the connection could not be made or was lost
 * without a close frame (1006), 2 for usage errors, 3 when the server's close code reports a
 * failure (1002, 1003, 1007 to 1014: exit.ts, isErrorClose), 130 on a second Ctrl-C (or a first
 * one before the connection opened). SIGTERM and a hang-up (SIGHUP) close the connection with
 * 1001 "going away" and exit 128 + the signal's number (143, 129), as a process they ended would:
 * the session was cut short, not finished, and a script that sent SIGTERM still sees 143.
 *
 * Output slower than the connection (a pipe to a slow reader): while more than OUTPUT_BACKLOG
 * bytes wait for stdout, reading from the server pauses (its sends back up in TCP, not in our
 * memory) and resumes when stdout drains.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import {
  bytesFlag,
  CliUsageError,
  type CommandSpec,
  DEFAULT_MAX_MESSAGE,
  parseCommand,
  SHOW_HELP,
  secondsFlag,
  stringFlag,
  stringList,
} from '../args.js';
import { CLOSED_WITH_ERROR, isErrorClose, onStopSignals, type StopSignal, signalStatus } from '../exit.js';
import { afterHttp2Fallback, describeConnectError, describeStatus } from '../failure.js';
import {
  describeClose,
  describeMessage,
  hexPreview,
  jsonEvent,
  jsonMessage,
  parseHex,
  safeText,
  shownUrl,
  toBuffer,
} from '../format.js';
import { WebSocket } from '../lib.js';
import { checkOrigin } from '../origin.js';
import { tlsFiles } from '../server.js';
import { type Io, Terminal } from '../terminal.js';

export const connectSpec: CommandSpec = {
  name: 'connect',
  brief: 'talk to a WebSocket server (interactive or piped)',
  synopsis: '<url> [flags]',
  summary:
    'Connect to a WebSocket server (ws:// or wss://; a URL without a scheme gets ws://).\n' +
    'Prints what arrives on stdout (text as is, binary as length and hex) and status on stderr.\n' +
    'In a terminal each typed line is sent; with piped input each line is sent, then the\n' +
    'connection closes cleanly once every line has had a reply (at most --wait seconds).',
  positionals: ['<url>'],
  flags: {
    header: {
      type: 'string',
      short: 'H',
      multiple: true,
      value: 'name: value',
      description: 'extra request header',
    },
    protocol: {
      type: 'string',
      short: 'p',
      multiple: true,
      value: 'name',
      description: 'offer a subprotocol',
    },
    origin: {
      type: 'string',
      value: 'origin',
      description: 'Origin header: scheme://host[:port] or null, e.g. https://example.com',
    },
    auth: { type: 'string', value: 'user:pass', description: 'HTTP Basic authorization' },
    ca: {
      type: 'string',
      value: 'file',
      description: 'trust the CA certificate(s) in this PEM file (wss://)',
    },
    cert: {
      type: 'string',
      value: 'file',
      description: 'client certificate (PEM, with --key) for a server that asks for one (wss://)',
    },
    key: { type: 'string', value: 'file', description: 'private key (PEM) of --cert' },
    insecure: { type: 'boolean', short: 'k', description: 'do not verify the server certificate (wss://)' },
    binary: {
      type: 'boolean',
      short: 'b',
      description: 'bytes in and out: each chunk of piped input (and -x) a binary message; see below',
    },
    deflate: { type: 'boolean', description: 'offer permessage-deflate compression' },
    http2: {
      type: 'boolean',
      description: 'open the WebSocket as a stream of an HTTP/2 connection (RFC 8441), else HTTP/1.1',
    },
    execute: {
      type: 'string',
      short: 'x',
      multiple: true,
      value: 'message',
      description: 'send this message, wait --wait seconds, close',
    },
    wait: {
      type: 'string',
      short: 'w',
      value: 'seconds',
      numeric: true,
      description: 'how long to wait for replies before closing (default 2)',
    },
    timeout: {
      type: 'string',
      value: 'seconds',
      numeric: true,
      description: 'opening handshake timeout (default 10)',
    },
    'close-timeout': {
      type: 'string',
      value: 'seconds',
      numeric: true,
      description: "wait this long for the server's answer to a close, then drop (default 5)",
    },
    location: {
      type: 'boolean',
      short: 'L',
      description: 'follow 3xx redirects of the handshake (see redirects below)',
    },
    'max-redirects': {
      type: 'string',
      value: 'N',
      numeric: true,
      description: 'the most redirects -L follows (default 10)',
    },
    'max-message-size': {
      type: 'string',
      value: 'bytes',
      numeric: true,
      description: 'close with 1009 when the server sends a larger message (default 100M; 0: no limit)',
    },
    'ping-interval': {
      type: 'string',
      value: 'seconds',
      numeric: true,
      description: 'send a ping every so many seconds while connected (--show-ping shows the pongs)',
    },
    'ping-timeout': {
      type: 'string',
      value: 'seconds',
      numeric: true,
      description: 'drop the connection as dead (exit 1) when a ping has no pong within so many seconds',
    },
    'show-ping': { type: 'boolean', description: 'print pings and pongs' },
    json: { type: 'boolean', description: 'one JSON object per event on stdout, for scripts' },
  },
  notes: [
    'interactive slash commands:',
    '  /ping [data]             send a ping',
    '  /close [code] [reason]   close the connection (default 1000)',
    '  /binary <hex>            send a binary message, e.g. /binary 68 69',
    '  /help                    list these commands',
    '  //text                   send "/text" (a leading // sends one slash)',
    '',
    'exit status: 0 after a clean close, 1 if the connection failed or was lost (or closed for a',
    'message over --max-message-size), 2 for usage errors,',
    '3 the server closed with a code that reports a failure: 1002, 1003, 1007 to 1014',
    '(0 for 1000, 1001, a close without a code and the application codes 3000 to 4999),',
    '130 a second Ctrl-C, or a first one before the connection opened,',
    '141 the output went away (the reader of a pipe closed it),',
    '129 a hang-up (SIGHUP), 143 SIGTERM: the connection is closed with 1001 first',
    '',
    'binary input (-b): each chunk read from piped stdin is one binary message, bytes unchanged',
    '(no line splitting, no UTF-8 decoding); without -b each line is a text message. With -b, a',
    'binary message received is written to stdout as its bytes, unchanged and with no newline,',
    'when stdout is a file or a pipe (riptide connect -b URL < in.bin > out.bin); to a terminal',
    'it is still shown as length and hex. Without -b, binary is shown as length and hex',
    '(the first 32 bytes; --json gives them all).',
    '',
    'keep-alive: --ping-interval S sends a ping every S seconds (decimals allowed) while',
    'connected; with --show-ping each pong is printed. --ping-timeout T: when no pong has come',
    'T seconds after the first ping not yet answered, the connection is taken for dead: one',
    'line says so, it is dropped without a close (closed 1006) and the exit status is 1.',
    '--ping-timeout alone pings every T seconds (one ping at a time).',
    '',
    'slow output: while more than 1 MiB of output waits for a slow reader of stdout, reading',
    'from the server pauses (it resumes when the reader catches up; said once on stderr).',
    '',
    'redirects: without -L a 3xx answer is a failure that names its Location. With -L,',
    'Authorization (--auth, -H) and Cookie go only to the host of the URL given, never from',
    'wss:// to ws://; other -H headers go to every host. A redirect from wss:// to ws:// is',
    'followed (as ws and curl do) with a warning: the rest is not encrypted.',
    '',
    'client certificate (mutual TLS): --cert FILE --key FILE (PEM), both or neither, only with',
    'a wss:// URL; over HTTP/1.1 and --http2 alike. A server that requires one and got none is',
    "said so (TLS 1.3's 'certificate required'; TLS 1.2's handshake failure after the key",
    'exchange, not with --http2).',
    '',
    'examples:',
    '  riptide connect ws://localhost:8080',
    "  printf 'a\\nb\\n' | riptide connect ws://localhost:8080",
    "  riptide connect wss://example.com/socket -H 'Authorization: Bearer t' -p chat --json",
  ].join('\n'),
};

const SLASH_HELP = [
  '/ping [data]             send a ping',
  '/close [code] [reason]   close the connection (default 1000)',
  '/binary <hex>            send a binary message',
  '/help                    this list',
  '//text                   send "/text"',
];

// RFC 7230 3.2.6: a header field name is a token.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export function parseUrl(input: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `ws://${input}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CliUsageError(`malformed URL '${input}'`, connectSpec);
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new CliUsageError(`malformed URL '${input}': the scheme must be ws:// or wss://`, connectSpec);
  }
  if (!url.hostname) throw new CliUsageError(`malformed URL '${input}': no host`, connectSpec);
  // RFC 6455 3: fragment identifiers are meaningless in WebSocket URIs and MUST NOT be used.
  if (url.hash)
    throw new CliUsageError(`malformed URL '${input}': a fragment (#...) is not allowed`, connectSpec);
  return url;
}

/**
 * With --http2 the request is a stream of an HTTP/2 connection whenever the server offers it, and
 * such a request cannot carry these -H headers: the library would fail the connection only once
 * the server had answered with its SETTINGS (exit 1), and over HTTP/1.1 (a server without
 * HTTP/2) it would send or replace them. One answer, whatever the server: a usage error.
 */
function checkHttp2Headers(headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    // RFC 9113 8.2.2: "An endpoint MUST NOT generate an HTTP/2 message containing
    // connection-specific header fields"; TE only with the value "trailers".
    if (CONNECTION_SPECIFIC.has(lower) || (lower === 'te' && value.toLowerCase() !== 'trailers')) {
      throw new CliUsageError(
        `--header '${name}' cannot go with --http2: HTTP/2 forbids connection-specific headers (RFC 9113 8.2.2)`,
        connectSpec,
      );
    }
    // RFC 8441 4: the handshake sets these fields itself (and sends no key).
    if (HANDSHAKE_FIELDS.has(lower)) {
      throw new CliUsageError(
        `--header '${name}' cannot go with --http2: the handshake sets it (-p offers subprotocols, --deflate compression)`,
        connectSpec,
      );
    }
  }
}

const CONNECTION_SPECIFIC = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
]);
const HANDSHAKE_FIELDS = new Set([
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
]);

function parseHeaders(values: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const raw of values) {
    const colon = raw.indexOf(':');
    const name = colon > 0 ? raw.slice(0, colon).trim() : '';
    if (!TOKEN.test(name)) {
      throw new CliUsageError(`--header must look like 'Name: value', got '${raw}'`, connectSpec);
    }
    const value = raw.slice(colon + 1).trim();
    // RFC 7230 3.2: field-value = *( VCHAR / obs-text / SP / HTAB ); no controls, no line breaks.
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(value)) {
      throw new CliUsageError(`--header '${name}' has a control character in its value`, connectSpec);
    }
    headers[name] = value;
  }
  return headers;
}

/**
 * The -p values, checked here so that the error names the one at fault: the library's own says
 * only "An invalid or duplicated subprotocol was specified".
 */
function checkProtocols(protocols: string[]): string[] {
  const seen = new Set<string>();
  for (const p of protocols) {
    // RFC 6455 4.1: non-empty tokens, all unique (the WHATWG API compares them without case).
    if (!TOKEN.test(p)) {
      throw new CliUsageError(
        `--protocol '${safeText(p)}' is not a subprotocol name (an HTTP token: no spaces, commas or quotes)`,
        connectSpec,
      );
    }
    if (seen.has(p.toLowerCase())) {
      throw new CliUsageError(`--protocol '${p}' is given twice`, connectSpec);
    }
    seen.add(p.toLowerCase());
  }
  return protocols;
}

/**
 * PEM certificate blocks, as OpenSSL reads them from a CA file (text around them, as in system
 * bundles, is ignored; OpenSSL also takes its TRUSTED and old X509 CERTIFICATE labels).
 */
const PEM_CERTIFICATE = /-----BEGIN ((?:TRUSTED |X509 )?CERTIFICATE)-----[^-]*-----END \1-----/g;

/**
 * The --ca file's certificates. Node's TLS silently skips what is not a PEM certificate, so a
 * wrong file (a key, DER, a typo'd path to some text) would otherwise show up later as an
 * untrusted-certificate failure that names the server, not the flag.
 */
function readCaFile(file: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    throw new CliUsageError(
      `cannot read --ca file '${file}': ${(err as NodeJS.ErrnoException).code}`,
      connectSpec,
    );
  }
  const blocks = data.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new CliUsageError(
      `--ca file '${file}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
      connectSpec,
    );
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch {
      throw new CliUsageError(`--ca file '${file}': certificate ${i + 1} cannot be parsed`, connectSpec);
    }
  });
  return data;
}

/**
 * --cert and --key: a client certificate for mutual TLS, checked as the servers' pair is (both or
 * neither, readable), and checked to be a PEM certificate with its own key here, so a wrong file
 * is one line naming the flags, not a handshake failure that reads as the server's doing.
 */
function clientCertificate(
  flags: Parameters<typeof tlsFiles>[1],
  url: URL,
): { cert: Buffer; key: Buffer } | null {
  const files = tlsFiles(connectSpec, flags);
  if (files === null) return null;
  // Unlike --ca and -k (kept for a redirect to wss://), a certificate sent to whatever the URL
  // redirects to is no thing to do by accident: only a wss:// URL takes it.
  if (url.protocol !== 'wss:') {
    throw new CliUsageError(
      '--cert/--key apply only to wss:// URLs (a client certificate is sent over TLS)',
      connectSpec,
    );
  }
  try {
    createSecureContext(files);
  } catch (err) {
    // not PEM, a key that does not match the certificate, an encrypted key
    throw new CliUsageError(`invalid --cert/--key: ${(err as Error).message}`, connectSpec);
  }
  return files;
}

type Client = InstanceType<typeof WebSocket>;

/** Bytes of piped input held (unsent) before reading more of it waits. */
export const INPUT_BACKLOG = 1024 * 1024;
/** Bytes of output waiting for stdout before reading from the server waits. */
export const OUTPUT_BACKLOG = 1024 * 1024;
type ClientOptions = NonNullable<ConstructorParameters<typeof WebSocket>[2]>;

export async function connect(argv: string[], io: Io): Promise<number> {
  const { flags, positionals, help } = parseCommand(connectSpec, argv);
  if (help) return SHOW_HELP;
  const url = parseUrl(positionals[0]);
  const headers = parseHeaders(stringList(flags.header));
  const auth = stringFlag(flags.auth);
  if (auth !== undefined) {
    if (!auth.includes(':')) throw new CliUsageError(`--auth must be user:pass, got '${auth}'`, connectSpec);
    headers.Authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
  }
  const waitMs = secondsFlag(connectSpec, 'wait', stringFlag(flags.wait), 2000);
  const timeoutMs = secondsFlag(connectSpec, 'timeout', stringFlag(flags.timeout), 10_000, true);
  // --close-timeout 0 is refused as --timeout 0 is: to a reader of timeouts (curl's, ws's
  // handshakeTimeout, this CLI's own --timeout) 0 means "none, wait for ever", and here it would
  // have meant the opposite, dropping at once, every close a 1006 and exit 1. Nobody who asks for
  // a close wants that; a wait of their choosing is a positive number.
  const closeTimeoutMs = secondsFlag(
    connectSpec,
    'close-timeout',
    stringFlag(flags['close-timeout']),
    5000,
    true,
  );
  const execute = stringList(flags.execute);
  // --binary: piped input is read as bytes, each chunk read one binary message (no line
  // splitting, no UTF-8 decoding: invalid UTF-8 goes as it is, not as U+FFFD); -x messages are
  // sent binary too. A terminal has /binary <hex> for that.
  const binary = flags.binary === true;
  if (binary && io.stdin.isTTY === true && execute.length === 0) {
    throw new CliUsageError(
      '--binary sends piped input (or -x); in a terminal, /binary <hex> sends bytes',
      connectSpec,
    );
  }
  const protocols = checkProtocols(stringList(flags.protocol));
  const json = flags.json === true;
  // Bytes in, bytes out: with -b a binary message received goes to stdout as it is (a preview
  // of its first 32 bytes in hex lost the rest: `-b < in.bin > out.bin` kept none of the data),
  // but not to a terminal, where a peer's bytes would run as escape sequences.
  const rawOutput = binary && !json && io.stdout.isTTY !== true;
  const follow = flags.location === true;
  const maxRedirectsText = stringFlag(flags['max-redirects']);
  if (maxRedirectsText !== undefined && !follow) {
    throw new CliUsageError('--max-redirects applies only with -L/--location', connectSpec);
  }
  if (maxRedirectsText !== undefined && !/^\d{1,4}$/.test(maxRedirectsText)) {
    throw new CliUsageError(
      `--max-redirects must be an integer from 0 to 9999, got '${maxRedirectsText}'`,
      connectSpec,
    );
  }
  // The library's default when following (ws's too).
  const maxRedirects = maxRedirectsText === undefined ? 10 : Number(maxRedirectsText);
  const showPing = flags['show-ping'] === true;
  // 0: no pings of our own. A positive number only: an interval of 0 would ping without pause.
  const pingText = stringFlag(flags['ping-interval']);
  const pingTimeoutText = stringFlag(flags['ping-timeout']);
  // 0: no deadline. A timeout of 0 would call every connection dead at its first ping.
  const pingTimeoutMs =
    pingTimeoutText === undefined ? 0 : secondsFlag(connectSpec, 'ping-timeout', pingTimeoutText, 0, true);
  // --ping-timeout alone pings as often as it waits: each ping has the whole timeout to be
  // answered before the next goes (no default interval of our own to explain).
  const pingMs =
    pingText === undefined ? pingTimeoutMs : secondsFlag(connectSpec, 'ping-interval', pingText, 0, true);

  const maxPayload = bytesFlag(
    connectSpec,
    'max-message-size',
    stringFlag(flags['max-message-size']),
    DEFAULT_MAX_MESSAGE,
  );
  const options: ClientOptions = {
    headers,
    handshakeTimeout: timeoutMs,
    perMessageDeflate: flags.deflate === true,
    maxPayload,
  };
  const origin = stringFlag(flags.origin);
  if (origin !== undefined) options.origin = checkOrigin(origin, 'origin', connectSpec);
  const caFile = stringFlag(flags.ca);
  if (caFile !== undefined) options.ca = readCaFile(caFile);
  if (flags.insecure === true) options.rejectUnauthorized = false;
  const client = clientCertificate(flags, url);
  if (client !== null) {
    options.cert = client.cert;
    options.key = client.key;
  }
  // TLS 1.2's refusal of a client without a certificate reads as any handshake failure; what
  // tells it apart is that it comes after our key exchange (failure.ts, TlsProgress): the
  // 'keylog' line of the TLS 1.2 master secret marks that point. Nothing of the line is kept.
  // (With --http2 the library makes the TLS connection itself, out of reach: no hint there.)
  const tlsProgress = { afterKeyExchange: false, clientCertificate: client !== null };
  if (client === null) {
    options.finishRequest = (req) => {
      tlsProgress.afterKeyExchange = false; // each request of -L's redirects anew
      req.on('socket', (socket) => {
        socket.on('keylog', (line: Buffer) => {
          if (line.subarray(0, 14).toString('latin1') === 'CLIENT_RANDOM ') {
            tlsProgress.afterKeyExchange = true;
          }
        });
      });
      req.end();
    };
  }
  if (flags.http2 === true) {
    checkHttp2Headers(headers);
    options.http2 = true;
  }
  if (follow) {
    // No 'redirect' listener: with one the library would leave the credentials on every hop.
    options.followRedirects = true;
    options.maxRedirects = maxRedirects;
  }

  let ws: Client;
  try {
    ws = new WebSocket(url.href, protocols, options);
  } catch (err) {
    // The library validates subprotocol names and options synchronously.
    throw new CliUsageError((err as Error).message, connectSpec);
  }

  const term = new Terminal(io, undefined, { rawInput: binary });
  // --ca and -k are kept for a redirect to wss:// (-L), and are no mistake, but with a ws:// URL
  // they may well have been meant for a wss:// one: say so, once, on stderr (also with --json,
  // whose stdout stays events of the connection).
  const tlsFlags = [caFile !== undefined && '--ca', flags.insecure === true && '-k/--insecure'].filter(
    (f): f is string => f !== false,
  );
  if (url.protocol === 'ws:' && tlsFlags.length > 0) {
    term.info(
      `note: ${tlsFlags.join(' and ')} ${tlsFlags.length > 1 ? 'apply' : 'applies'} only to wss:// (or after a redirect to it), not to this ws:// URL`,
    );
  }
  return new Promise<number>((resolve) => {
    let opened = false;
    let finished = false;
    let interrupted = false;
    let closeTimer: NodeJS.Timeout | null = null;
    /** --ping-interval's timer, from the open to the close. */
    let pingTimer: NodeJS.Timeout | null = null;
    /** --ping-timeout's timer: runs from the first ping not yet answered to a pong. */
    let pongTimer: NodeJS.Timeout | null = null;
    const stopPinging = () => {
      if (pingTimer) clearInterval(pingTimer);
      if (pongTimer) clearTimeout(pongTimer);
      pingTimer = null;
      pongTimer = null;
    };
    /**
     * No pong within --ping-timeout of a ping: the peer (or the path to it) is gone, and a close
     * would only wait --close-timeout for an answer that will not come either: drop the connection
     * now, which the close event reports as 1006 and exit 1.
     */
    const expectPong = () => {
      pongTimer = setTimeout(() => {
        pongTimer = null;
        if (ws.readyState !== WebSocket.OPEN) return;
        // While reading waits for a slow stdout, a pong that came is not read yet: no verdict
        // on the peer then; its pong has another --ping-timeout once reading goes on.
        if (ws.isPaused) {
          expectPong();
          return;
        }
        const message = `no pong within ${pingTimeoutMs / 1000} s of a ping (--ping-timeout): dropping the connection as dead`;
        status(message, 'error', { message });
        stopPinging();
        ws.terminate();
      }, pingTimeoutMs);
    };
    let inputEnded = execute.length > 0;
    let sent = 0;
    let replies = 0;
    const pending: (string | Buffer)[] = [];
    let pendingBytes = 0;

    /** The status to exit with once closed, when a SIGTERM or a hang-up asked for the close. */
    let stoppedBy: StopSignal | null = null;
    const finish = (code: number) => {
      if (finished) return;
      finished = true;
      if (closeTimer) clearTimeout(closeTimer);
      stopPinging();
      offStopSignals();
      io.stdout.off('drain', resumeReading);
      term.close();
      resolve(code);
    };
    const status = (text: string, event: string, fields: Record<string, unknown> = {}) => {
      if (json) term.out(jsonEvent(event, fields));
      else term.info(text);
    };
    /**
     * The server has not answered our close within --close-timeout: say so (a bare `closed 1006`
     * after a wait of seconds said neither why nor which flag sets it), then drop the connection.
     */
    const dropLater = () => {
      closeTimer = setTimeout(() => {
        if (!json) {
          term.info(
            `no answer to the close within ${closeTimeoutMs / 1000} s (--close-timeout): dropping the connection`,
          );
        }
        ws.terminate();
      }, closeTimeoutMs);
    };
    /** Start the closing handshake; if the peer never answers, give up after --close-timeout. */
    const closeNow = (code = 1000, reason = '') => {
      if (ws.readyState !== WebSocket.OPEN) return;
      stopPinging();
      ws.close(code, reason);
      dropLater();
    };
    /**
     * Piped input is read far faster than a socket takes it: stop reading while more than
     * INPUT_BACKLOG bytes wait (to be sent, or for the handshake), so memory stays bounded
     * whatever the size of the input; each message written lets it go on.
     */
    const throttle = () => {
      if (term.interactive) return;
      if ((opened ? ws.bufferedAmount : pendingBytes) > INPUT_BACKLOG) term.pauseInput();
      else term.resumeInput();
    };
    /**
     * stdout is slower than the socket: stop reading from the server (the library reads no more
     * of its socket; what the current chunk holds still comes) until stdout has taken its backlog,
     * so a slow reader backs the server's sends up in TCP instead of growing our memory.
     */
    let toldSlow = false;
    function resumeReading() {
      if (ws.isPaused) ws.resume();
    }
    const pauseReading = () => {
      ws.pause();
      io.stdout.once('drain', resumeReading);
      if (toldSlow) return;
      toldSlow = true;
      term.info('output is slower than the connection: reading from the server waits for it');
    };
    // A connection lost with messages queued fails each of them: one line says so, not one each.
    let sendFailed = false;
    const send = (data: string | Buffer, binary: boolean) => {
      sent++;
      ws.send(data, { binary }, (err) => {
        if (!err) throttle();
        else if (!sendFailed) {
          sendFailed = true;
          status(`error: ${err.message}`, 'error', { message: err.message });
        }
      });
      throttle();
    };
    /** Piped input ended: close once every line has had a reply, or when --wait runs out. */
    const drain = () => {
      if (replies >= sent) closeNow();
      else if (!closeTimer) closeTimer = setTimeout(() => closeNow(), waitMs);
    };

    // --http2 met an HTTP/2 server without RFC 8441: HTTP/1.1 is tried next, and its failure
    // says so (the HTTP/1.1 answer alone reads as the server's verdict on the WebSocket).
    let fellBack = false;
    /** A message over --max-message-size came: the library closed with 1009. */
    let tooBig = false;
    ws.on('http2-fallback', () => {
      fellBack = true;
    });
    const failed = (why: string) => {
      io.stderr.write(`riptide: ${fellBack ? afterHttp2Fallback(why) : why}\n`);
      finish(1);
    };
    ws.on('unexpected-response', (_req: unknown, res: Parameters<typeof describeStatus>[0]) => {
      failed(describeStatus(res));
    });
    ws.on('error', (err: Error) => {
      // A Ctrl-C before the handshake's end terminates it: that error is ours, not the server's.
      if (finished) return;
      if (!opened) {
        // After a redirect the failed request went to another URL than the one given.
        const failedUrl = ws.url ? new URL(ws.url) : url;
        failed(describeConnectError(err, failedUrl, maxRedirects, timeoutMs, protocols, tlsProgress));
        return;
      }
      // Said in terms of the flag: the library's "Max payload size exceeded", then `closed 1006`
      // (it stops reading, so the answer to its close 1009 is not seen), read as a lost connection.
      if ((err as { code?: unknown }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') tooBig = true;
      const message = tooBig
        ? `the server sent a message over --max-message-size (${maxPayload} bytes): closing with 1009`
        : err.message;
      status(`error: ${message}`, 'error', { message, code: (err as { code?: string }).code });
    });
    ws.on('open', () => {
      opened = true;
      const finalUrl = ws.url ?? url.href;
      const details = [
        finalUrl !== url.href && `redirected from ${shownUrl(url)}`,
        ws.protocol && `subprotocol ${ws.protocol}`,
        ws.extensions && `extensions ${ws.extensions}`,
      ]
        .filter(Boolean)
        .join(', ');
      status(
        `connected to ${safeText(shownUrl(finalUrl))}${details ? ` (${safeText(details)})` : ''}`,
        'open',
        {
          url: shownUrl(finalUrl),
          ...(finalUrl !== url.href && { redirectedFrom: shownUrl(url) }),
          protocol: ws.protocol,
          extensions: ws.extensions,
        },
      );
      if (url.protocol === 'wss:' && finalUrl.startsWith('ws:')) {
        // ws and curl follow this downgrade (without the credentials): say so before anything is sent.
        status(
          `warning: redirected from wss:// to ws://: this connection is not encrypted (Authorization and Cookie were not sent)`,
          'warning',
          { message: 'redirected from wss:// to ws://: not encrypted' },
        );
      }
      if (pingMs > 0) {
        // A keep-alive, as websocat's --ping-interval: pings stop once a close has begun.
        pingTimer = setInterval(() => {
          if (ws.readyState !== WebSocket.OPEN) {
            stopPinging();
            return;
          }
          ws.ping();
          // The deadline runs from the oldest ping unanswered: a later ping does not move it.
          if (pingTimeoutMs > 0 && pongTimer === null) expectPong();
        }, pingMs);
      }
      if (execute.length > 0) {
        for (const message of execute) send(message, binary);
        closeTimer = setTimeout(() => closeNow(), waitMs);
        return;
      }
      for (const line of pending.splice(0)) send(line, binary);
      pendingBytes = 0;
      throttle();
      if (inputEnded) drain();
      else if (term.interactive) term.startPrompt();
    });
    ws.on('message', (data: unknown, isBinary: boolean) => {
      const buf = toBuffer(data);
      if (sent > 0) replies++;
      if (json) term.out(jsonMessage(buf, isBinary));
      else if (isBinary && rawOutput) io.stdout.write(buf);
      else term.out(describeMessage(buf, isBinary));
      if (io.stdout.writableLength > OUTPUT_BACKLOG && !ws.isPaused) pauseReading();
      if (inputEnded && execute.length === 0 && replies >= sent) closeNow();
    });
    ws.on('ping', (data: Buffer) => {
      if (showPing) status(`ping ${hexPreview(data)}`.trimEnd(), 'ping', { hex: data.toString('hex') });
    });
    ws.on('pong', (data: Buffer) => {
      // RFC 6455 5.5.3: a pong may answer only the latest of several pings: any pong answers all.
      if (pongTimer) clearTimeout(pongTimer);
      pongTimer = null;
      if (showPing) status(`pong ${hexPreview(data)}`.trimEnd(), 'pong', { hex: data.toString('hex') });
    });
    ws.on('close', (closeCode: number, reason: Buffer) => {
      if (finished) return;
      // The close we sent: the message was refused, and the exit is 1 as for a connection lost.
      const code = tooBig ? 1009 : closeCode;
      const why = tooBig ? '' : toBuffer(reason).toString('utf8');
      stopPinging();
      term.stopPrompt();
      status(describeClose(code, why), 'close', { code, reason: why });
      if (stoppedBy !== null) finish(signalStatus(stoppedBy));
      // 1006: the connection dropped without a closing handshake.
      else if ((code === 1006 && !interrupted) || tooBig) finish(1);
      // The server's code says that something failed (its 1011...): a script must see it.
      else finish(isErrorClose(code) ? CLOSED_WITH_ERROR : 0);
    });

    if (execute.length === 0) {
      term.onLine((line) => {
        if (!opened) {
          pending.push(line);
          pendingBytes += Buffer.byteLength(line);
          throttle();
          return;
        }
        if (ws.readyState !== WebSocket.OPEN) return;
        if (term.interactive && line.startsWith('/')) runSlash(line);
        else send(line, false);
      });
      term.onChunk((chunk) => {
        if (!opened) {
          pending.push(chunk);
          pendingBytes += chunk.length;
          throttle();
        } else if (ws.readyState === WebSocket.OPEN) send(chunk, true);
      });
      term.onEnd((hungUp) => {
        if (finished || inputEnded) return;
        inputEnded = true;
        if (hungUp) {
          // Regression: the terminal's EIO often comes before its SIGHUP, and closed with 1000
          // as Ctrl-D does: the server was told of a normal end of a session that was cut.
          stop('SIGHUP');
          // Its SIGHUP is that same stop; when the terminal was not our controlling one, none
          // comes, and a later SIGHUP (kill -HUP) is a second stop: at once, not after the timer.
          hangUpSeen = term.hangUpSignals;
        } else if (term.interactive) closeNow();
        else if (opened) drain();
      });
    }
    term.onInterrupt(() => {
      if (interrupted || !opened || ws.readyState !== WebSocket.OPEN) {
        io.stderr.write('\n');
        ws.terminate();
        finish(130);
        return;
      }
      interrupted = true;
      term.stopPrompt();
      if (!json) term.info('closing (Ctrl-C again to quit now)');
      closeNow(1000);
    });

    /**
     * SIGTERM or a hang-up: close with 1001 and exit 128 + the signal's number once the server
     * answers (or the close timer gives up); before the connection is open, or on a second
     * signal, at once.
     */
    /** The terminal's hang-up was seen as its EIO: its SIGHUP is that same stop, not a second one. */
    let hangUpSeen = false;
    function stop(signal: StopSignal) {
      if (signal === 'SIGHUP' && hangUpSeen) {
        hangUpSeen = false;
        return;
      }
      if (stoppedBy !== null || interrupted || !opened || ws.readyState !== WebSocket.OPEN) {
        ws.terminate();
        finish(signalStatus(signal));
        return;
      }
      stoppedBy = signal;
      term.stopPrompt();
      // RFC 6455 7.4.1: 1001 indicates that an endpoint is "going away".
      closeNow(1001);
    }
    const offStopSignals = onStopSignals(stop);

    const runSlash = (line: string) => {
      if (line.startsWith('//')) {
        send(line.slice(1), false);
        return;
      }
      const [command, ...rest] = line.slice(1).split(' ');
      const arg = rest.join(' ');
      switch (command) {
        case 'ping':
          // The library throws for caller misuse, here more than 125 bytes (RFC 6455 5.5).
          try {
            ws.ping(arg);
          } catch (err) {
            term.info(`error: ${(err as Error).message}`);
          }
          break;
        case 'close': {
          const [codeText, ...reasonWords] = rest;
          const code = codeText ? Number(codeText) : 1000;
          try {
            if (!Number.isInteger(code)) throw new Error(`'${codeText}' is not a close code`);
            ws.close(code, reasonWords.join(' '));
            // From here --close-timeout bounds the wait, as for every other close.
            stopPinging();
            dropLater();
            term.stopPrompt();
          } catch (err) {
            term.info(`error: ${(err as Error).message}`);
          }
          break;
        }
        case 'binary': {
          const bytes = parseHex(arg);
          if (bytes === null) term.info('error: /binary wants hex bytes, e.g. /binary 68 69');
          else send(bytes, true);
          break;
        }
        case 'help':
          for (const help of SLASH_HELP) term.info(help);
          break;
        default:
          term.info(`unknown command /${safeText(command)}; /help lists them (//text sends "/text")`);
      }
    };
  });
}
