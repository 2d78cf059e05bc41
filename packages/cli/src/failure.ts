/**
 * One line that says why a connection could not be made. The library reports Node's own
 * net/dns/tls errors (with their `code`), possibly wrapped with `cause`; we look down the chain
 * for the first code we know.
 *
 * What a peer wrote (a status line's reason phrase, a certificate's names in a TLS message) is
 * shown through safeText, like messages: its control characters are escaped, never run.
 */
import { safeText, shownUrl } from './format.js';

interface CodedError {
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  reason?: unknown;
}

function chain(err: unknown): CodedError[] {
  const out: CodedError[] = [];
  let cur: unknown = err;
  while (cur && typeof cur === 'object' && out.length < 8) {
    out.push(cur as CodedError);
    cur = (cur as CodedError).cause;
  }
  return out;
}

// OpenSSL certificate verification codes as Node reports them (tls.TLSSocket authorizationError).
const CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Of CERT_CODES, those of a certificate that is valid but not signed by a CA we trust (a
 * self-signed one, a private CA's): `--ca` can make it trusted. The others (expired, for another
 * name) only `-k` gets past.
 */
const UNTRUSTED_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

/**
 * TLS 1.3's alert of a server that asks for a client certificate and got none (RFC 8446 6.2):
 * OpenSSL's reason ("tlsv13 alert certificate required") names no flag.
 */
const CLIENT_CERT_REQUIRED = 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED';

/**
 * TLS 1.2 has no such alert: OpenSSL's server (Node's among them) refuses a client without a
 * certificate with a handshake_failure alert (RFC 5246 7.4.6), the alert it also sends when no
 * cipher suite or group is shared. Those come at the ClientHello; the missing certificate only
 * once the client has sent its key exchange, which `afterKeyExchange` tells (the CLI sees the
 * TLS 1.2 master secret being made): then, and without --cert, it is the certificate. OpenSSL
 * 3.0 (Node 20) names the alert 'sslv3 alert ...', 3.2 and later (Node 22, 24) 'ssl/tls alert'.
 */
const HANDSHAKE_FAILURE = new Set(['sslv3 alert handshake failure', 'ssl/tls alert handshake failure']);

/** What the CLI saw of a TLS handshake that failed, beyond the error. */
export interface TlsProgress {
  /** A TLS 1.2 client key exchange was sent: the server's whole first flight was taken. */
  afterKeyExchange: boolean;
  /** --cert was given: a refusal is not for want of a certificate. */
  clientCertificate: boolean;
}

function isTls(code: string): boolean {
  return (
    CERT_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code === 'EPROTO'
  );
}

/**
 * The reason of an OpenSSL error, not its whole string: Node gives it as `reason`, or only inside
 * the message ("write EPROTO 80..:error:0A00010B:SSL routines:ssl3_get_record:wrong version
 * number:../deps/openssl/..c:350:\n"); certificate errors have a plain message already.
 */
function tlsReason(e: CodedError, message: string): string {
  if (typeof e.reason === 'string' && e.reason) return e.reason;
  const openssl = /:error:[0-9A-Fa-f]+:[^:\n]*:[^:\n]*:([^:\n]+):/.exec(message);
  return openssl ? openssl[1] : message.replace(/\s+/g, ' ').trim();
}

/** `host:port` of the URL, with the default port filled in. */
export function endpoint(url: URL): string {
  const port = url.port || (url.protocol === 'wss:' ? '443' : '80');
  return `${url.hostname}:${port}`;
}

/**
 * `url` is the URL of the request that failed (after redirects); `maxRedirects` the limit that a
 * WS_ERR_MAX_REDIRECTS error went past; `timeoutMs` the handshake timeout (--timeout) that a
 * timeout ran out, 0 when unknown.
 */
export function describeConnectError(
  err: unknown,
  url: URL,
  maxRedirects = 0,
  timeoutMs = 0,
  protocols: readonly string[] = [],
  tls: TlsProgress = { afterKeyExchange: false, clientCertificate: false },
): string {
  return safeText(explainConnectError(err, url, maxRedirects, timeoutMs, protocols, tls));
}

/**
 * The client's checks of the server's choice of subprotocol (RFC 6455 4.1, with ws's rule that
 * an offer needs an answer), in terms of the -p flags: the library's "Server sent no subprotocol"
 * said neither what was offered nor that it was the server's answer that failed the connection.
 */
function subprotocolFailure(code: string, protocols: readonly string[]): string | null {
  const offered = protocols.map((p) => `-p ${p}`).join(', ');
  switch (code) {
    case 'WS_ERR_HANDSHAKE_NO_PROTOCOL':
      return `handshake failed: the server accepted none of the subprotocols offered (${offered}): it answered without one`;
    case 'WS_ERR_HANDSHAKE_UNEXPECTED_PROTOCOL':
      return `handshake failed: the server chose a subprotocol that was not offered (${offered})`;
    case 'WS_ERR_HANDSHAKE_UNREQUESTED_PROTOCOL':
      return 'handshake failed: the server chose a subprotocol though none was offered (-p offers one)';
    default:
      return null;
  }
}

/**
 * RFC 8446 5.1: a TLS record starts with its content type (21 alert, 22 handshake) and the legacy
 * version's major byte, 3. Node's HTTP parser keeps the bytes it could not parse as the error's
 * `rawPacket`: an answer to our plain request that begins so came from a TLS endpoint. (A TLS
 * server that just closes the connection, as Node's does, cannot be told from any other reset.)
 */
function isTlsRecord(e: CodedError): boolean {
  const raw = (e as { rawPacket?: unknown }).rawPacket;
  return Buffer.isBuffer(raw) && raw.length >= 2 && (raw[0] === 0x15 || raw[0] === 0x16) && raw[1] === 0x03;
}

/**
 * OpenSSL's reasons when what came back to our ClientHello is not TLS: an HTTP server's answer
 * ("HTTP/1.1 400") read as a record header has no TLS version or an absurd length.
 */
const NOT_TLS_REASONS = new Set(['wrong version number', 'packet length too long', 'unknown protocol']);

/** `url` with the other scheme, its port kept (written out when it was the default). */
function otherScheme(url: URL): string {
  const other = new URL(url.href);
  const port = url.port || (url.protocol === 'wss:' ? '443' : '80');
  other.protocol = url.protocol === 'wss:' ? 'ws:' : 'wss:';
  other.port = port;
  return shownUrl(other);
}

/**
 * RFC 9113 7: the RST_STREAM error codes a server may reset a stream with, in words (node names
 * them NGHTTP2_<name> in "Stream closed with error code ..."). REFUSED_STREAM was retried first.
 */
const RESET_REASONS: Record<string, string> = {
  NO_ERROR: 'the server ended the stream without an error',
  PROTOCOL_ERROR: 'the server saw an HTTP/2 protocol error in the request',
  INTERNAL_ERROR: 'the server failed internally',
  FLOW_CONTROL_ERROR: 'the server saw a flow-control error',
  SETTINGS_TIMEOUT: 'the server timed out waiting for our SETTINGS acknowledgement',
  STREAM_CLOSED: 'the server had already closed the stream',
  FRAME_SIZE_ERROR: 'the server saw a frame of an invalid size',
  REFUSED_STREAM: 'the server refused the stream without processing it (it was retried)',
  CANCEL: 'the server cancelled the stream',
  COMPRESSION_ERROR: 'the server could not decompress the request headers (HPACK)',
  CONNECT_ERROR: "the server's CONNECT failed",
  ENHANCE_YOUR_CALM: 'the server is limiting this client (too many requests or streams)',
  INADEQUATE_SECURITY: 'the server finds the TLS settings too weak',
  HTTP_1_1_REQUIRED: 'the server requires HTTP/1.1 for this request (try without --http2)',
};

function explainConnectError(
  err: unknown,
  url: URL,
  maxRedirects: number,
  timeoutMs: number,
  protocols: readonly string[],
  tls: TlsProgress,
): string {
  for (const e of chain(err)) {
    const code = typeof e.code === 'string' ? e.code : '';
    const message = typeof e.message === 'string' ? e.message : String(e);
    const subprotocol = subprotocolFailure(code, protocols);
    if (subprotocol !== null) return subprotocol;
    if (url.protocol === 'ws:' && isTlsRecord(e)) {
      return `${endpoint(url)} answered in TLS: the server expects wss:// on this port (try ${otherScheme(url)})`;
    }
    // Node's error for most resets; the library's cause for those Node reports as a plain close
    // (CANCEL, NO_ERROR): "RST_STREAM NGHTTP2_CANCEL".
    if (code === 'ERR_HTTP2_STREAM_ERROR' || message.startsWith('RST_STREAM NGHTTP2_')) {
      const name = /NGHTTP2_([A-Z0-9_]+)/.exec(message);
      if (name !== null) {
        const words = RESET_REASONS[name[1]] ?? 'the server reset the stream';
        return `the server reset the HTTP/2 stream before answering: ${words} (RST_STREAM ${name[0]})`;
      }
    }
    if (url.protocol === 'wss:' && code && isTls(code) && NOT_TLS_REASONS.has(tlsReason(e, message))) {
      return `the server does not speak TLS on ${endpoint(url)} (${tlsReason(e, message)}, ${code}): try ${otherScheme(url)}`;
    }
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL') {
      return `name not resolved: ${url.hostname} (${code})`;
    }
    if (code === 'ECONNREFUSED') return `connection refused: ${endpoint(url)}`;
    if (code === 'ECONNRESET') {
      // Node's TLS server (riptide's own with --cert among them) resets a plain request so.
      const tls = url.protocol === 'ws:' ? ` (if this port expects TLS, try ${otherScheme(url)})` : '';
      return `connection reset by ${endpoint(url)} during the handshake${tls}`;
    }
    // llhttp's codes: what came back is no HTTP/1.1 response ("Parse Error: Expected HTTP/...").
    if (code.startsWith('HPE_')) return `${endpoint(url)} did not answer in HTTP/1.1 (${message}, ${code})`;
    if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
      return `cannot reach ${endpoint(url)} (${code})`;
    }
    if (code && isTls(code)) {
      // Say which flag gets past it, as curl does: the reason alone left a user to find them.
      const hint = UNTRUSTED_CODES.has(code)
        ? ': --ca FILE trusts the certificate or its CA, -k skips the check'
        : CERT_CODES.has(code)
          ? ': -k skips the check'
          : code === CLIENT_CERT_REQUIRED ||
              (tls.afterKeyExchange && !tls.clientCertificate && HANDSHAKE_FAILURE.has(tlsReason(e, message)))
            ? ': the server requires a client certificate, which --cert FILE --key FILE give'
            : '';
      return `TLS failure: ${tlsReason(e, message)} (${code})${hint}`;
    }
    if (code === 'WS_ERR_MAX_REDIRECTS') {
      return `too many redirects: the server still redirected after ${maxRedirects} (--max-redirects raises the limit)`;
    }
  }
  const first = chain(err)[0];
  const message = first && typeof first.message === 'string' ? first.message : String(err);
  // A library that reports a non-101 answer only as an error still gets a recognisable line.
  const status = /Unexpected server response: (\d{3})/.exec(message);
  if (status) return `handshake failed: server answered ${status[1]} instead of 101 Switching Protocols`;
  if (/timed? ?out/i.test(message)) {
    // Regression: "handshake timed out: Opening handshake has timed out" said it twice, and
    // neither who did not answer nor how long was waited nor which flag sets it.
    return timeoutMs > 0
      ? `handshake timed out: ${endpoint(url)} did not complete it within ${timeoutMs / 1000} s (--timeout raises the limit)`
      : `handshake timed out: ${message}`;
  }
  return `connection failed: ${message}`;
}

/**
 * The line for a non-101 answer, from the response the library hands to 'unexpected-response'.
 * Over HTTP/2 (`httpVersion` '2.0', RFC 8441 5) the extended CONNECT succeeds with a 200 (RFC
 * 9110 9.3.6), not a 101, and a status has no reason phrase. A redirect (3xx with a Location)
 * says where to and how to follow it: `connect` follows redirects only with -L, over HTTP/1.1
 * and HTTP/2 alike.
 */
export function describeStatus(res: {
  statusCode?: number;
  statusMessage?: string;
  httpVersion?: string;
  headers?: Record<string, string | string[] | undefined>;
}): string {
  const version = res.httpVersion ?? '1.1';
  const status = res.statusCode ?? 0;
  const http2 = version === '2.0';
  const line = safeText(
    `HTTP/${http2 ? '2' : version} ${res.statusCode ?? '???'} ${res.statusMessage ?? ''}`.trimEnd(),
  );
  const failed = http2
    ? `handshake failed: server answered "${line}" instead of 200 to the HTTP/2 WebSocket request`
    : `handshake failed: server answered "${line}" instead of 101 Switching Protocols`;
  const location = res.headers?.location;
  if (status >= 300 && status < 400 && typeof location === 'string') {
    return `${failed}: a redirect to ${safeText(location)}; use -L to follow it`;
  }
  return failed;
}

/**
 * `why` the HTTP/1.1 handshake failed, after an HTTP/2 server (with --http2) turned out not to
 * take WebSockets over its streams (the library's 'http2-fallback'): without this, an h2-only
 * server's answer to the HTTP/1.1 attempt (node's "HTTP/1.0 403 Forbidden", an h2c server's
 * bytes that are no HTTP/1.1) reads as the server's verdict on the WebSocket.
 */
export function afterHttp2Fallback(why: string): string {
  return `the server speaks HTTP/2 without WebSockets over it (no SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441); the HTTP/1.1 attempt: ${why}`;
}
