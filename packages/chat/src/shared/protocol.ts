/**
 * The chat protocol, version 1: JSON text messages over one WebSocket per browser tab.
 * docs/chat-protocol.md documents every type below with an example; keep the two in step.
 *
 * This file is shared by the server and the web page, so it holds only types and constants
 * (no Node or DOM APIs). Validation of client messages lives in server/protocol.ts.
 *
 * Room events (message, edit, delete) share ONE sequence per room: seq 1, 2, 3 ... with no gaps.
 * A client that has seen every event up to `seq` can ask for the ones after it (replay).
 */

export const PROTOCOL_VERSION = 1;

/** Limits the server enforces; sent in `welcome` so clients can check before sending. */
export interface Limits {
  /** Maximum message text, in UTF-8 bytes. */
  maxTextBytes: number;
  /** Messages per history page. */
  historyPage: number;
  /** Most events a replay sends; further behind than this, the client gets `reset`. */
  replayLimit: number;
  /** Most rooms one user may be a member of. */
  maxRoomsPerUser: number;
  /** Token bucket for actions (send, edit, delete, create, join, leave). */
  rateBurst: number;
  ratePerSecond: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxTextBytes: 4096,
  historyPage: 50,
  replayLimit: 1000,
  maxRoomsPerUser: 50,
  rateBurst: 10,
  ratePerSecond: 2,
};

/** Room names: 1-32 of a-z 0-9 - _, starting with a letter or digit. */
export const ROOM_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** User names: 1-24 of A-Z a-z 0-9 - _ (case-insensitively unique). */
export const USER_NAME = /^[A-Za-z0-9_-]{1,24}$/;
export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 256;
export const DEFAULT_ROOM = 'general';

/** A chat message as it is now (an edit changes text and sets editedAt; a delete empties it). */
export interface ChatMessage {
  room: string;
  seq: number;
  /** The sender's client message id (dedup key per user). */
  id: string;
  user: string;
  text: string;
  /** Milliseconds since the epoch. */
  ts: number;
  editedAt?: number;
  deleted?: true;
}

/** Events of a room's log, in seq order. */
export type RoomEvent =
  | { type: 'message'; message: ChatMessage }
  | { type: 'edited'; room: string; seq: number; target: number; user: string; text: string; ts: number }
  | { type: 'deleted'; room: string; seq: number; target: number; user: string; ts: number };

export interface RoomState {
  name: string;
  /** Highest seq in the room (0 if empty). */
  head: number;
  /** Messages by others after this user's read marker. */
  unread: number;
  /** Users with at least one open connection who are members. */
  online: string[];
}

// ---- client -> server ----

export type ClientMessage =
  | { v: 1; type: 'hello'; rooms?: Record<string, number> }
  | { v: 1; type: 'send'; id: string; room: string; text: string }
  | { v: 1; type: 'edit'; ref?: string; room: string; seq: number; text: string }
  | { v: 1; type: 'delete'; ref?: string; room: string; seq: number }
  | { v: 1; type: 'history'; ref?: string; room: string; before?: number }
  | { v: 1; type: 'sync'; ref?: string; room: string; after: number }
  | { v: 1; type: 'typing'; room: string }
  | { v: 1; type: 'read'; room: string; seq: number }
  | { v: 1; type: 'rooms'; ref?: string }
  | { v: 1; type: 'create'; ref?: string; room: string }
  | { v: 1; type: 'join'; ref?: string; room: string }
  | { v: 1; type: 'leave'; ref?: string; room: string };

export type ClientMessageType = ClientMessage['type'];

// ---- server -> client ----

export type ErrorCode =
  | 'bad_json'
  | 'bad_message'
  | 'unsupported_version'
  | 'unknown_type'
  | 'not_ready'
  | 'text_too_long'
  | 'rate_limited'
  | 'bad_room_name'
  | 'no_such_room'
  | 'room_exists'
  | 'not_member'
  | 'too_many_rooms'
  | 'not_found'
  | 'forbidden'
  | 'internal'
  /** The storage (Redis, on several nodes) is unreachable: nothing was done; retry later. */
  | 'unavailable';

export type ServerMessage =
  | { v: 1; type: 'welcome'; user: string; rooms: RoomState[]; limits: Limits }
  | ({ v: 1 } & RoomEvent)
  | { v: 1; type: 'ack'; id: string; room: string; seq: number; ts: number; duplicate?: true }
  | {
      v: 1;
      type: 'history';
      ref?: string;
      room: string;
      messages: ChatMessage[];
      head: number;
      hasMore: boolean;
    }
  | { v: 1; type: 'synced'; ref?: string; room: string; head: number }
  | { v: 1; type: 'reset'; ref?: string; room: string; head: number }
  | { v: 1; type: 'presence'; room: string; user: string; online: boolean }
  | { v: 1; type: 'member'; room: string; user: string; joined: boolean }
  | { v: 1; type: 'typing'; room: string; user: string }
  | { v: 1; type: 'rooms'; ref?: string; rooms: { name: string; members: number }[] }
  | ({ v: 1; type: 'joined'; ref?: string } & RoomState)
  | { v: 1; type: 'left'; ref?: string; room: string }
  /** Sent to every connection when storage becomes unreachable (false) and again when it is back. */
  | { v: 1; type: 'service'; available: boolean; message: string }
  | { v: 1; type: 'error'; code: ErrorCode; message: string; ref?: string; retryAfterMs?: number };

export type ServerMessageOf<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;
