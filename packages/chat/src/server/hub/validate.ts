/**
 * Validation of client messages: text in, a typed ClientMessage or an error reply out. Nothing here
 * has side effects; an invalid message changes nothing on the server.
 * Rules: a JSON object, `v` equal to PROTOCOL_VERSION, a known `type`, exactly the fields that type
 * allows (unknown fields are rejected, not ignored) with the right types and ranges.
 */

import { isBlankText } from '../../shared/blank-text.js';
import {
  type ClientMessage,
  DM_ROOM,
  type ErrorCode,
  LOG_TAG,
  MAX_ATTACHMENTS,
  MAX_EMOJI_BYTES,
  MAX_SEARCH_QUERY,
  MAX_TOPIC_CHARS,
  PROTOCOL_VERSION,
  ROOM_NAME,
  USER_NAME,
} from '../../shared/protocol.js';

export type Parsed =
  | { ok: true; message: ClientMessage }
  | { ok: false; code: ErrorCode; message: string; ref?: string; id?: string };

/** Client message ids and request refs: 1-64 characters of A-Z a-z 0-9 - _. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_ROOMS_IN_HELLO = 1000;

/** room: any room (public, private or dm:a:b); roomName: a room that can be created by name. */
type FieldKind =
  | 'room'
  | 'roomName'
  | 'user'
  | 'id'
  | 'ref'
  | 'seq'
  | 'seq0'
  | 'text'
  | 'roomMap'
  | 'tag'
  | 'tagMap'
  | 'bool'
  | 'query'
  | 'cursor'
  | 'attachments'
  | 'emoji'
  | 'topic';

/**
 * A UTF-16 surrogate not in a pair: JSON can carry it ("\ud800") but UTF-8 cannot, so a store
 * would keep something else than what was acknowledged and sent live (with the u flag a pair is
 * one code point, so only lone halves match).
 */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** A search cursor: opaque to clients (base64url), bounded. */
const CURSOR = /^[A-Za-z0-9_-]{1,4096}$/;

/** Allowed fields per type besides v, type and ref; `?` marks optional ones. */
const SHAPES: Record<ClientMessage['type'], Record<string, FieldKind | `${FieldKind}?`>> = {
  hello: { rooms: 'roomMap?', tags: 'tagMap?' },
  ping: {},
  send: { id: 'id', room: 'room', text: 'text', replyTo: 'seq?', attachments: 'attachments?' },
  edit: { room: 'room', seq: 'seq', text: 'text' },
  delete: { room: 'room', seq: 'seq' },
  history: { room: 'room', before: 'seq?', around: 'seq?', after: 'seq0?' },
  sync: { room: 'room', after: 'seq0', tag: 'tag?' },
  typing: { room: 'room' },
  read: { room: 'room', seq: 'seq0', tag: 'tag?' },
  rooms: { after: 'roomName?' },
  // after: the last name of the previous page (its `next`), a user name.
  members: { room: 'room', after: 'user?' },
  create: { room: 'roomName', private: 'bool?' },
  join: { room: 'roomName' },
  leave: { room: 'room' },
  invite: { room: 'roomName', user: 'user' },
  accept: { room: 'roomName' },
  decline: { room: 'roomName' },
  remove: { room: 'roomName', user: 'user' },
  unban: { room: 'roomName', user: 'user' },
  // after: the last name of the previous page (its `next`), a user name.
  bans: { room: 'roomName', after: 'user?' },
  dm: { user: 'user' },
  delete_room: { room: 'roomName' },
  search: { query: 'query', room: 'room?', before: 'cursor?' },
  react: { room: 'room', target: 'seq', emoji: 'emoji', on: 'bool' },
  topic: { room: 'room', text: 'topic' },
  block: { user: 'user' },
  unblock: { user: 'user' },
};

export const CLIENT_TYPES = Object.keys(SHAPES) as ClientMessage['type'][];

function isSeq(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
}

const isRoom = (value: string) => ROOM_NAME.test(value) || DM_ROOM.test(value);

// ---- emoji (react) ----

/** A pictograph with an optional presentation selector (VS16) and skin tone, or tag sequence. */
const PICTOGRAPH = String.raw`\p{Extended_Pictographic}\uFE0F?\p{Emoji_Modifier}?(?:[\u{E0020}-\u{E007E}]+\u{E007F})?`;
/**
 * One emoji grapheme: pictographs joined by ZWJ (👩‍💻, 🏳️‍🌈), a regional-indicator pair (a flag:
 * 🇫🇷), or a keycap (1️⃣).
 */
const EMOJI = new RegExp(
  String.raw`^(?:${PICTOGRAPH}(?:\u200D${PICTOGRAPH})*|[\u{1F1E6}-\u{1F1FF}]{2}|[0-9#*]\uFE0F?\u20E3)$`,
  'u',
);

/** A single pictograph shown as text unless followed by VS16 (❤ U+2764, ☺ U+263A...). */
const TEXT_STYLE = /^(?:(?!\p{Emoji_Presentation})\p{Extended_Pictographic})$/u;

/**
 * One spelling per emoji: a lone text-style pictograph gets its emoji presentation selector, so ❤
 * typed on a keyboard and ❤️ from a picker are one reaction.
 */
export function normalizeEmoji(emoji: string): string {
  return TEXT_STYLE.test(emoji) ? `${emoji}\uFE0F` : emoji;
}

/** Whether `value` is one emoji of at most MAX_EMOJI_BYTES UTF-8 bytes. */
export function isEmoji(value: string): boolean {
  return Buffer.byteLength(value, 'utf8') <= MAX_EMOJI_BYTES && EMOJI.test(value);
}

// ---- topic ----

/**
 * C0 and C1 controls (newlines and tabs among them): a topic is one line of visible text. And the
 * bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), refused as a file name
 * drops them (http/attachments.ts, cleanName): a topic is shown inside other text (the line "bob
 * changed the topic to “…”"), where an override left open reverses what follows it, the closing
 * quote included, so a topic could make the line read as something else. Right-to-left text needs
 * none of them (the page shows it `dir=auto`); the marks U+200E, U+200F stay allowed.
 */
const CONTROL = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;

/**
 * A topic as it is stored: the text without the white space around it (`trim`). "" clears the
 * topic; the caller validated it first (checkField 'topic').
 */
export function normalizeTopic(text: string): string {
  return text.trim();
}

function notUnicode(name: string): { code: ErrorCode; message: string } {
  return { code: 'bad_message', message: `${name} must be valid Unicode (no lone surrogate)` };
}

function checkField(
  kind: FieldKind,
  name: string,
  value: unknown,
): { code: ErrorCode; message: string } | null {
  switch (kind) {
    case 'room':
    case 'roomName':
      if (typeof value !== 'string') return { code: 'bad_message', message: `${name} must be a string` };
      if (kind === 'room' ? !isRoom(value) : !ROOM_NAME.test(value)) {
        return {
          code: 'bad_room_name',
          message: 'room names are 1-32 of a-z 0-9 - _ and start with a letter or digit',
        };
      }
      return null;
    case 'user':
      return typeof value === 'string' && USER_NAME.test(value)
        ? null
        : { code: 'bad_message', message: `${name} must be a user name (1-24 of A-Z a-z 0-9 - _)` };
    case 'id':
    case 'ref':
      return typeof value === 'string' && ID.test(value)
        ? null
        : { code: 'bad_message', message: `${name} must be 1-64 characters of A-Z a-z 0-9 - _` };
    case 'seq':
      return isSeq(value, 1) ? null : { code: 'bad_message', message: `${name} must be a positive integer` };
    case 'seq0':
      return isSeq(value, 0)
        ? null
        : { code: 'bad_message', message: `${name} must be a non-negative integer` };
    case 'bool':
      return typeof value === 'boolean'
        ? null
        : { code: 'bad_message', message: `${name} must be true or false` };
    case 'text':
      if (typeof value !== 'string') return { code: 'bad_message', message: `${name} must be a string` };
      // Only spaces or invisible characters (U+200B...) would store a message nobody can see.
      if (isBlankText(value)) return { code: 'bad_message', message: `${name} must not be empty` };
      if (LONE_SURROGATE.test(value)) return notUnicode(name);
      return null;
    case 'query':
      if (typeof value !== 'string') return { code: 'bad_message', message: `${name} must be a string` };
      if (value.length > MAX_SEARCH_QUERY)
        return { code: 'bad_message', message: `${name} is longer than ${MAX_SEARCH_QUERY} characters` };
      if (LONE_SURROGATE.test(value)) return notUnicode(name);
      return null;
    case 'attachments':
      if (
        !Array.isArray(value) ||
        value.length < 1 ||
        value.length > MAX_ATTACHMENTS ||
        !value.every((v) => typeof v === 'string' && ID.test(v)) ||
        new Set(value).size !== value.length
      )
        return {
          code: 'bad_message',
          message: `${name} must be 1-${MAX_ATTACHMENTS} different attachment ids`,
        };
      return null;
    case 'cursor':
      return typeof value === 'string' && CURSOR.test(value)
        ? null
        : { code: 'bad_message', message: `${name} must be a cursor from a search reply` };
    case 'emoji':
      return typeof value === 'string' && isEmoji(value)
        ? null
        : {
            code: 'bad_emoji',
            message: `${name} must be one emoji (at most ${MAX_EMOJI_BYTES} bytes)`,
          };
    case 'topic': {
      if (typeof value !== 'string') return { code: 'bad_message', message: `${name} must be a string` };
      if (LONE_SURROGATE.test(value)) return notUnicode(name);
      if (CONTROL.test(value))
        return { code: 'bad_message', message: `${name} must be one line without control characters` };
      const topic = normalizeTopic(value);
      // Code points, not UTF-16 units or graphemes: what the page's counter counts too.
      if ([...topic].length > MAX_TOPIC_CHARS)
        return { code: 'bad_message', message: `${name} is longer than ${MAX_TOPIC_CHARS} characters` };
      // As a message's text: only invisible characters would be a topic nobody can read.
      if (topic !== '' && isBlankText(topic))
        return { code: 'bad_message', message: `${name} must be visible text, or "" to clear it` };
      return null;
    }
    case 'tag':
      return typeof value === 'string' && LOG_TAG.test(value)
        ? null
        : { code: 'bad_message', message: `${name} must be 1-16 characters of A-Z a-z 0-9 - _` };
    case 'tagMap':
      return checkRoomMap(name, value, 'tag', 'tags', (tag) => typeof tag === 'string' && LOG_TAG.test(tag));
    case 'roomMap':
      return checkRoomMap(name, value, 'seq', 'non-negative integers', (seq) => isSeq(seq, 0));
  }
}

/** An object of room name to a value (hello's `rooms` and `tags`), at most MAX_ROOMS_IN_HELLO. */
function checkRoomMap(
  name: string,
  value: unknown,
  one: string,
  many: string,
  valid: (v: unknown) => boolean,
): { code: ErrorCode; message: string } | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { code: 'bad_message', message: `${name} must be an object of room name to ${one}` };
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_ROOMS_IN_HELLO)
    return { code: 'bad_message', message: `${name} has too many rooms` };
  for (const [room, v] of entries) {
    if (!isRoom(room) || !valid(v))
      return { code: 'bad_message', message: `${name} must map room names to ${many}` };
  }
  return null;
}

/** Parses one text frame. `maxTextBytes` bounds the `text` field in UTF-8 bytes. */
export function parseClientMessage(data: string, maxTextBytes: number): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { ok: false, code: 'bad_json', message: 'message is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'bad_message', message: 'message must be a JSON object' };
  }
  const obj = value as Record<string, unknown>;
  // The error to an invalid request still names it, when its ref (and a send's id) are readable.
  const ref = typeof obj.ref === 'string' && ID.test(obj.ref) ? obj.ref : undefined;
  const id = obj.type === 'send' && typeof obj.id === 'string' && ID.test(obj.id) ? obj.id : undefined;
  const fail = (code: ErrorCode, message: string): Parsed => {
    const out: Parsed = { ok: false, code, message };
    if (ref !== undefined) out.ref = ref;
    if (id !== undefined) out.id = id;
    return out;
  };
  if (obj.v !== PROTOCOL_VERSION) {
    return fail(
      'unsupported_version',
      `this server speaks version ${PROTOCOL_VERSION}: v must be ${PROTOCOL_VERSION}`,
    );
  }
  const type = obj.type;
  if (typeof type !== 'string' || !Object.hasOwn(SHAPES, type)) {
    return fail('unknown_type', `unknown type ${JSON.stringify(String(type)).slice(0, 40)}`);
  }
  const shape = SHAPES[type as ClientMessage['type']];
  for (const key of Object.keys(obj)) {
    if (key !== 'v' && key !== 'type' && key !== 'ref' && !Object.hasOwn(shape, key)) {
      return fail('bad_message', `unknown field ${JSON.stringify(key).slice(0, 40)} for ${type}`);
    }
  }
  if (obj.ref !== undefined && ref === undefined) {
    return fail('bad_message', 'ref must be 1-64 characters of A-Z a-z 0-9 - _');
  }
  for (const [name, spec] of Object.entries(shape)) {
    const optional = spec.endsWith('?');
    const kind = (optional ? spec.slice(0, -1) : spec) as FieldKind;
    if (obj[name] === undefined) {
      if (optional) continue;
      return fail('bad_message', `${type} needs ${name}`);
    }
    // A message may be files alone: its text may then be empty (not absent).
    const filesOnly = kind === 'text' && type === 'send' && obj.text === '' && Array.isArray(obj.attachments);
    const problem = filesOnly ? null : checkField(kind, name, obj[name]);
    if (problem) return fail(problem.code, problem.message);
  }
  if (type === 'history' && [obj.before, obj.around, obj.after].filter((x) => x !== undefined).length > 1) {
    return fail('bad_message', 'history takes one of before, around and after');
  }
  if (typeof obj.text === 'string' && Buffer.byteLength(obj.text, 'utf8') > maxTextBytes) {
    return fail('text_too_long', `text is longer than ${maxTextBytes} bytes`);
  }
  return { ok: true, message: obj as unknown as ClientMessage };
}
