/**
 * Attachments over HTTP (docs/chat-protocol.md, section 11):
 *
 *   POST /api/attachments?room=R&name=N   the file's bytes as the body (Content-Type:
 *                                         application/octet-stream, in any case, parameters
 *                                         allowed) -> 201 {id, name, type, size,
 *                                         width?, height?}: an unused upload, for a `send` within
 *                                         unusedTtlMs
 *   GET  /api/attachments/<id>            the bytes, to members of the room only
 *
 * Safe by default:
 * - Uploads need the session cookie, a same-site Origin (if any), membership of the room, a token
 *   of the user's message rate, and fit maxBytes (checked on Content-Length before reading, and
 *   while reading). The type is sniffed from the bytes (attachments/sniff.ts), never taken from
 *   the name or the request.
 * - Downloads are answered 404 alike for a missing file, a room the user is not in, a deleted
 *   message's file and someone else's upload not yet sent, so nothing is learnt by probing ids.
 * - A served file can never act as a page of this origin: `X-Content-Type-Options: nosniff`,
 *   `Content-Security-Policy: default-src 'none'; sandbox` (no script, no plugin, an opaque
 *   origin even when opened directly), `Cross-Origin-Resource-Policy: same-origin`, and
 *   `Content-Disposition: inline` only for the sniffed raster images; everything else (HTML and
 *   SVG included, which sniff as text) is `attachment`, a download.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isBlankText } from '../../shared/blank-text.js';
import { type Attachment, DM_ROOM, MAX_ATTACHMENTS, ROOM_NAME } from '../../shared/protocol.js';
import { sniff } from '../attachments/sniff.js';
import type {
  AccountStore,
  AttachmentRecord,
  AttachmentStore,
  Clock,
  RoomStore,
  Throttle,
} from '../ports.js';
import type { Send } from './accounts.js';
import { continueBody, isMediaType } from './body.js';
import { etagMatches } from './etag.js';
import { originAllowed } from './origin.js';
import { sessionFromRequest } from './session.js';

export interface AttachmentLimits {
  /** Largest file, bytes. Default 5 MiB. */
  maxBytes: number;
  /** Uploads one user may hold that no message has used yet. Default 20. */
  maxUnusedPerUser: number;
  /** An upload not sent with a message within this long is deleted, ms. Default 1 hour. */
  unusedTtlMs: number;
}

export const DEFAULT_ATTACHMENT_LIMITS: AttachmentLimits = {
  maxBytes: 5 * 1024 * 1024,
  maxUnusedPerUser: 20,
  unusedTtlMs: 3600 * 1000,
};

export interface AttachmentRouteDeps {
  accounts: AccountStore;
  rooms: RoomStore;
  attachments: AttachmentStore;
  throttle: Throttle;
  clock: Clock;
  allowedOrigins: readonly string[];
  attachmentLimits: AttachmentLimits;
  /** The session cookie is Secure, and named `__Host-...` (session.ts). */
  secureCookies: boolean;
}

const ID = /^[A-Za-z0-9_-]{22}$/;
const MAX_NAME = 200;

/** A file name safe to show and to put in a header: no path, no controls, no bidi overrides. */
export function cleanName(raw: string): string {
  const base = raw.slice(Math.max(raw.lastIndexOf('/'), raw.lastIndexOf('\\')) + 1);
  const clean = [...base.replace(/[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, '').trim()]
    .slice(0, MAX_NAME)
    .join('');
  // Nothing a reader would see (zero-width characters...): a link without a name otherwise.
  return isBlankText(clean) || clean === '.' || clean === '..' ? 'file' : clean;
}

/** RFC 6266 / RFC 8187: an ASCII fallback and the UTF-8 name. */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${kind}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

const CONTENT_TYPE: Record<string, string> = { 'text/plain': 'text/plain; charset=utf-8' };

/**
 * Uploads one user may have in flight on one node: a message's worth of files (the page sends the
 * files of a message at once). Each holds its bytes in memory until its body ends (up to maxBytes,
 * for up to the request deadline: timeouts.ts), so without a cap one account held as many as its
 * message tokens allowed over that deadline: 10 at once and 2 more a second, some 360 of 5 MiB, near
 * 1.8 GB, by sending each body but its last byte.
 */
export const MAX_UPLOADS_IN_FLIGHT = MAX_ATTACHMENTS;

class TooLarge extends Error {}
/** The request ended before its body did (a reset stream, a closed connection). */
class Gone extends Error {}

function readBody(req: IncomingMessage, res: ServerResponse, max: number): Promise<Buffer> {
  continueBody(res); // the checks passed: a client waiting for 100 Continue may send it now
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // A request cut off mid-body (a stream reset, a connection closed) is never a file: over HTTP/2
    // node ends such a request with 'aborted' and then 'end', and the bytes so far were stored as
    // an upload (a truncated file, counted among the user's unsent uploads for an hour).
    const declared = req.headers['content-length'];
    let aborted = false;
    req.on('aborted', () => {
      aborted = true;
      reject(new Gone());
    });
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.resume(); // discard the rest; the answer closes the connection
        reject(new TooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (aborted || (declared !== undefined && Number(declared) !== size)) return reject(new Gone());
      resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (err) => reject(aborted ? new Gone() : err));
    // Over HTTP/2 a reset stream's request closes before its 'end' (if that comes at all): settled
    // here, so the upload neither waits for ever holding its place in flight nor stores its part.
    req.on('close', () => reject(new Gone()));
  });
}

export function attachmentRoutes(
  deps: AttachmentRouteDeps,
  send: Send,
): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void> {
  const limits = deps.attachmentLimits;
  const notFound = (res: ServerResponse) =>
    send(res, 404, { error: 'not_found', message: 'no such attachment' });
  /** Uploads in flight per user on this node, from their first byte read to their answer. */
  const inFlight = new Map<string, number>();

  async function upload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Refused before its body is read: HTTP/1.1 closes the connection rather than read the body
    // (HTTP/2 resets the stream instead, and forbids this header).
    const close: Record<string, string> = req.httpVersionMajor === 1 ? { connection: 'close' } : {};
    if (!originAllowed(req, deps.allowedOrigins))
      return send(res, 403, { error: 'bad_origin', message: 'origin not allowed' }, close);
    // In any case, parameters allowed (`Application/Octet-Stream; x=1`): exactly the string was
    // required, and a client that sent a parameter or capitals was refused 415.
    if (!isMediaType(req.headers['content-type'], 'application/octet-stream'))
      return send(res, 415, { error: 'bad_content_type', message: 'send application/octet-stream' }, close);
    const now = deps.clock.now();
    const session = await sessionFromRequest(deps.accounts, req, now, deps.secureCookies);
    if (!session) return send(res, 401, { error: 'no_session', message: 'not signed in' }, close);
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const room = query.get('room') ?? '';
    if (!ROOM_NAME.test(room) && !DM_ROOM.test(room))
      return send(res, 400, { error: 'bad_request', message: 'room must be a room name' }, close);
    if (!(await deps.rooms.isMember(session.user, room)))
      return send(res, 403, { error: 'not_member', message: `you are not in room ${room}` }, close);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limits.maxBytes) return tooLarge(res, close);
    const user = session.user;
    // Checked and counted in one tick, before any await: uploads started together are counted too.
    const mine = inFlight.get(user) ?? 0;
    if (mine >= MAX_UPLOADS_IN_FLIGHT)
      return send(
        res,
        429,
        {
          error: 'too_many_uploads',
          message: `at most ${MAX_UPLOADS_IN_FLIGHT} uploads at once; wait for one to finish`,
        },
        close,
      );
    inFlight.set(user, mine + 1);
    try {
      return await receive(req, res, user, room, cleanName(query.get('name') ?? ''), now, close);
    } finally {
      const left = (inFlight.get(user) ?? 1) - 1;
      if (left > 0) inFlight.set(user, left);
      else inFlight.delete(user);
    }
  }

  /** The rest of an upload, counted among the user's uploads in flight: its token, body and store. */
  async function receive(
    req: IncomingMessage,
    res: ServerResponse,
    user: string,
    room: string,
    name: string,
    now: number,
    close: Record<string, string>,
  ): Promise<void> {
    const wait = await deps.throttle.take('messages', user, now);
    if (wait > 0)
      return send(
        res,
        429,
        { error: 'rate_limited', message: `too many requests; retry in ${wait} ms`, retryAfterMs: wait },
        { 'retry-after': String(Math.ceil(wait / 1000)), ...close },
      );
    let data: Buffer;
    try {
      data = await readBody(req, res, limits.maxBytes);
    } catch (err) {
      if (err instanceof TooLarge) return tooLarge(res, close);
      if (err instanceof Gone) return; // nobody to answer
      throw err;
    }
    if (data.length === 0) return send(res, 400, { error: 'bad_request', message: 'the file is empty' });
    const sniffed = sniff(data);
    const record: AttachmentRecord = {
      id: randomBytes(16).toString('base64url'),
      name,
      type: sniffed.type,
      size: data.length,
      ...(sniffed.kind === 'image' ? { width: sniffed.width, height: sniffed.height } : {}),
      room,
      user,
      createdAt: now,
      clientId: null,
      seq: null,
    };
    const stored = await deps.attachments.put(record, data, limits.maxUnusedPerUser);
    if (stored === 'too_many_unused')
      return send(res, 429, {
        error: 'too_many_uploads',
        message: `at most ${limits.maxUnusedPerUser} uploads may wait to be sent`,
      });
    if (stored === 'full')
      return send(res, 507, { error: 'storage_full', message: 'the chat has no room for more files' });
    const { id, type, size, width, height } = record;
    const body: Attachment = { id, name, type, size };
    if (width !== undefined) body.width = width;
    if (height !== undefined) body.height = height;
    send(res, 201, body);
  }

  function tooLarge(res: ServerResponse, close: Record<string, string>): void {
    send(
      res,
      413,
      {
        error: 'too_large',
        message: `files are at most ${limits.maxBytes} bytes`,
        maxBytes: limits.maxBytes,
      },
      close,
    );
  }

  async function download(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    if (!originAllowed(req, deps.allowedOrigins) || req.headers['sec-fetch-site'] === 'cross-site')
      return send(res, 403, { error: 'bad_origin', message: 'origin not allowed' });
    const now = deps.clock.now();
    const session = await sessionFromRequest(deps.accounts, req, now, deps.secureCookies);
    if (!session) return send(res, 401, { error: 'no_session', message: 'not signed in' });
    // Each download reads the whole file from the store (up to maxBytes, on Redis out of its
    // memory), a 304 too: uncounted, one account asking for a 5 MiB file in a loop had the store
    // send it as fast as it could. Counted per user in the `requests` bucket under a key of its
    // own (a page's images do not use up its WebSocket's requests, nor the other way round).
    const wait = await deps.throttle.take('requests', `download ${session.user}`, now);
    if (wait > 0)
      return send(
        res,
        429,
        { error: 'rate_limited', message: `too many requests; retry in ${wait} ms`, retryAfterMs: wait },
        { 'retry-after': String(Math.ceil(wait / 1000)) },
      );
    if (!ID.test(id)) return notFound(res);
    const found = await deps.attachments.get(id);
    if (!found) return notFound(res);
    const { record, data } = found;
    if (!(await deps.rooms.isMember(session.user, record.room))) return notFound(res);
    if (record.seq === null) {
      // Not sent yet: only its uploader sees it (a preview).
      if (record.user !== session.user) return notFound(res);
    } else {
      const [message] = await deps.rooms.messagesBefore(record.room, record.seq + 1, 1);
      if (message?.seq !== record.seq || message.deleted) {
        await deps.attachments.dropMessage(record.room, record.seq);
        return notFound(res);
      }
    }
    const image = record.type.startsWith('image/');
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPE[record.type] ?? record.type,
      'content-disposition': contentDisposition(image ? 'inline' : 'attachment', record.name),
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; sandbox",
      'cross-origin-resource-policy': 'same-origin',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      // The bytes never change, but access can end (a deleted message, a room left): revalidate.
      'cache-control': 'private, no-cache',
      etag: `"${record.id}"`,
    };
    // As the page's files are (etag.ts): a list naming it, or `W/"id"`, is a match too. Compared
    // exactly, a cache that sent its tags as a list, or weakened this one, was sent the bytes again.
    if (etagMatches(req.headers['if-none-match'], headers.etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    headers['content-length'] = String(data.length);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : data);
  }

  return async (req, res, path) => {
    if (path === '/api/attachments' && req.method === 'POST') return upload(req, res);
    if (path.startsWith('/api/attachments/') && (req.method === 'GET' || req.method === 'HEAD'))
      return download(req, res, path.slice('/api/attachments/'.length));
    send(res, 405, { error: 'method_not_allowed', message: 'use POST to upload, GET to download' });
  };
}
