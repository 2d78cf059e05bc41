/**
 * Validation of client messages: text in, a typed ClientMessage or an error reply out.
 * Nothing here has side effects; an invalid message changes nothing on the server.
 * Rules: a JSON object, `v` equal to PROTOCOL_VERSION, a known `type`, exactly the fields that
 * type allows (unknown fields are rejected, not ignored) with the right types and ranges.
 */
import {
  type ClientMessage,
  type ErrorCode,
  PROTOCOL_VERSION,
  ROOM_NAME,
  type ServerMessage,
} from '../shared/protocol.js';

export type Parsed =
  | { ok: true; message: ClientMessage }
  | { ok: false; code: ErrorCode; message: string; ref?: string };

/** Client message ids and request refs: 1-64 characters of A-Z a-z 0-9 - _. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_ROOMS_IN_HELLO = 1000;

type FieldKind = 'room' | 'id' | 'ref' | 'seq' | 'seq0' | 'text' | 'roomMap';

/** Allowed fields per type; `?` marks optional ones. */
const SHAPES: Record<ClientMessage['type'], Record<string, FieldKind | `${FieldKind}?`>> = {
  hello: { rooms: 'roomMap?' },
  send: { id: 'id', room: 'room', text: 'text' },
  edit: { ref: 'ref?', room: 'room', seq: 'seq', text: 'text' },
  delete: { ref: 'ref?', room: 'room', seq: 'seq' },
  history: { ref: 'ref?', room: 'room', before: 'seq?' },
  sync: { ref: 'ref?', room: 'room', after: 'seq0' },
  typing: { room: 'room' },
  read: { room: 'room', seq: 'seq0' },
  rooms: { ref: 'ref?' },
  create: { ref: 'ref?', room: 'room' },
  join: { ref: 'ref?', room: 'room' },
  leave: { ref: 'ref?', room: 'room' },
};

function isSeq(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
}

function checkField(
  kind: FieldKind,
  name: string,
  value: unknown,
): { code: ErrorCode; message: string } | null {
  switch (kind) {
    case 'room':
      if (typeof value !== 'string') return { code: 'bad_message', message: `${name} must be a string` };
      if (!ROOM_NAME.test(value)) {
        return {
          code: 'bad_room_name',
          message: 'room names are 1-32 of a-z 0-9 - _ and start with a letter or digit',
        };
      }
      return null;
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
    case 'text':
      if (typeof value !== 'string') return { code: 'bad_message', message: `${name} must be a string` };
      if (value.trim() === '') return { code: 'bad_message', message: `${name} must not be empty` };
      return null;
    case 'roomMap': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return { code: 'bad_message', message: `${name} must be an object of room name to seq` };
      }
      const entries = Object.entries(value);
      if (entries.length > MAX_ROOMS_IN_HELLO)
        return { code: 'bad_message', message: `${name} has too many rooms` };
      for (const [room, seq] of entries) {
        if (!ROOM_NAME.test(room) || !isSeq(seq, 0)) {
          return { code: 'bad_message', message: `${name} must map room names to non-negative integers` };
        }
      }
      return null;
    }
  }
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
  const ref = typeof obj.ref === 'string' && ID.test(obj.ref) ? obj.ref : undefined;
  const id = typeof obj.id === 'string' && ID.test(obj.id) ? obj.id : undefined;
  const fail = (code: ErrorCode, message: string): Parsed => {
    const refOf = ref ?? id;
    return refOf === undefined ? { ok: false, code, message } : { ok: false, code, message, ref: refOf };
  };
  if (obj.v !== PROTOCOL_VERSION) {
    return fail('unsupported_version', `v must be ${PROTOCOL_VERSION}`);
  }
  const type = obj.type;
  if (typeof type !== 'string' || !Object.hasOwn(SHAPES, type)) {
    return fail('unknown_type', `unknown type ${JSON.stringify(String(type)).slice(0, 40)}`);
  }
  const shape = SHAPES[type as ClientMessage['type']];
  for (const key of Object.keys(obj)) {
    if (key !== 'v' && key !== 'type' && !Object.hasOwn(shape, key)) {
      return fail('bad_message', `unknown field ${JSON.stringify(key).slice(0, 40)} for ${type}`);
    }
  }
  for (const [name, spec] of Object.entries(shape)) {
    const optional = spec.endsWith('?');
    const kind = (optional ? spec.slice(0, -1) : spec) as FieldKind;
    if (obj[name] === undefined) {
      if (optional) continue;
      return fail('bad_message', `${type} needs ${name}`);
    }
    const problem = checkField(kind, name, obj[name]);
    if (problem) return fail(problem.code, problem.message);
  }
  if (typeof obj.text === 'string' && Buffer.byteLength(obj.text, 'utf8') > maxTextBytes) {
    return fail('text_too_long', `text is longer than ${maxTextBytes} bytes`);
  }
  return { ok: true, message: obj as unknown as ClientMessage };
}

export function encode(message: ServerMessage): string {
  return JSON.stringify(message);
}

export function errorReply(code: ErrorCode, message: string, ref?: string, retryAfterMs?: number): string {
  const reply: ServerMessage = { v: 1, type: 'error', code, message };
  if (ref !== undefined) reply.ref = ref;
  if (retryAfterMs !== undefined) reply.retryAfterMs = retryAfterMs;
  return encode(reply);
}
