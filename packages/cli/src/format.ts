/**
 * How messages and events are shown. Text is printed as is; binary as its length and a hex
 * preview (whole hex in --json, which is for scripts). Control characters in text are escaped
 * so a peer cannot move the cursor or recolour the terminal of the person reading.
 */

const PREVIEW_BYTES = 32;

export function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(String(data));
}

export function hexPreview(buf: Buffer): string {
  const shown = buf
    .subarray(0, PREVIEW_BYTES)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');
  return buf.length > PREVIEW_BYTES ? `${shown} ...` : shown;
}

/** `binary 5 bytes: 68 65 6c 6c 6f` */
export function describeBinary(buf: Buffer): string {
  const unit = buf.length === 1 ? 'byte' : 'bytes';
  return buf.length === 0 ? 'binary 0 bytes' : `binary ${buf.length} ${unit}: ${hexPreview(buf)}`;
}

/**
 * Escape C0/C1 controls except tab (and newline, which a multi-line message legitimately has),
 * so terminal escape sequences from the peer are shown, not executed.
 */
export function safeText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => {
    const code = c.charCodeAt(0);
    return code === 0x1b ? '\\e' : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

/**
 * A URL as the CLI prints it: a password in its userinfo is shown as `***` (the user name stays,
 * to tell accounts apart). Terminals are recorded, shared and logged; the password was typed
 * once and is not repeated in what the command says.
 */
export function shownUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(typeof url === 'string' ? url : url.href);
  } catch {
    return String(url);
  }
  if (u.password === '') return u.href;
  u.password = '***';
  return u.href;
}

export function describeMessage(data: Buffer, isBinary: boolean): string {
  return isBinary ? describeBinary(data) : safeText(data.toString('utf8'));
}

/** One --json event per line. */
export function jsonEvent(event: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ event, ...fields });
}

export function jsonMessage(data: Buffer, isBinary: boolean): string {
  return isBinary
    ? jsonEvent('message', { type: 'binary', length: data.length, hex: data.toString('hex') })
    : jsonEvent('message', { type: 'text', data: data.toString('utf8') });
}

/**
 * What the registered close codes mean (RFC 6455 7.4.1, IANA's registry), for a close without a
 * reason: `closed 1009` alone left a reader to look the number up.
 */
const CLOSE_CODES: Record<number, string> = {
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no code given',
  // never sent by a peer: what the endpoint reports when there was no close frame
  1006: 'the connection ended without a closing handshake',
  1007: 'invalid data',
  1008: 'policy violation',
  1009: 'message too big',
  1010: 'an extension the server did not accept',
  1011: 'server error',
  1012: 'service restart',
  1013: 'try again later',
  1014: 'bad gateway',
};

/**
 * `closed 1000`, `closed 4000 bye` (the peer's reason, escaped), `closed 1009 (message too big)`
 * (a registered code without a reason: what it means).
 */
export function describeClose(code: number, reason: string): string {
  if (reason) return `closed ${code} ${safeText(reason)}`;
  const meaning = CLOSE_CODES[code];
  return meaning ? `closed ${code} (${meaning})` : `closed ${code}`;
}

/** Parse `/binary` input: hex digits, spaces allowed between bytes. Returns null if malformed. */
export function parseHex(text: string): Buffer | null {
  const digits = text.replace(/\s+/g, '');
  if (digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits)) return null;
  return Buffer.from(digits, 'hex');
}
