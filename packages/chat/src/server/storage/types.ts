/**
 * Storage behind the chat: users, sessions, rooms, memberships and each room's event log.
 *
 * Every method is async so that a networked store can implement it. The contract is written so
 * Redis can keep it as well as SQLite:
 *   - appendEvent assigns the room's next seq atomically with storing the event (SQLite: one
 *     transaction; Redis: a Lua script doing INCR room:seq + XADD room:log <seq>-0 + HSET msg).
 *   - dedup: (user, clientId) maps to the seq of the stored message. SQLite: a UNIQUE index;
 *     Redis: SET dedup:<user>:<id> <room>:<seq> NX EX <ttl> inside the same script.
 *   - eventsAfter reads the log in seq order (XRANGE room:log (<after> + COUNT n).
 *   - when a method resolves, the data is durable (SQLite: committed with synchronous=FULL;
 *     Redis: appendfsync always, or WAIT for replicas). The hub acknowledges only after that.
 */
import type { ChatMessage, RoomEvent } from '../../shared/protocol.js';

/**
 * The store cannot be reached right now (a networked store: connection lost, server loading).
 * Nothing was acknowledged; the hub answers the request with error code 'unavailable' and the
 * client retries once the server reports `service` available again.
 */
export class UnavailableError extends Error {
  readonly code = 'unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnavailableError';
  }
}

export interface UserRecord {
  name: string;
  /** scrypt hash in the self-describing form written by auth.ts. */
  passwordHash: string;
  createdAt: number;
}

export interface SessionRecord {
  token: string;
  user: string;
  expiresAt: number;
}

export interface Membership {
  room: string;
  /** seq of the last event the user has read in this room. */
  lastRead: number;
}

export type AppendInput =
  | { type: 'message'; room: string; user: string; clientId: string; text: string; ts: number }
  | { type: 'edit'; room: string; user: string; target: number; text: string; ts: number }
  | { type: 'delete'; room: string; user: string; target: number; ts: number };

export type AppendResult =
  | { ok: true; event: RoomEvent; duplicate: false }
  /** The same (user, clientId) was stored before: nothing was written; here is the original. */
  | { ok: true; event: { type: 'message'; message: ChatMessage }; duplicate: true }
  | { ok: false; reason: 'not_found' | 'forbidden' };

export interface ChatStore {
  getUser(name: string): Promise<UserRecord | null>;
  /** Creates the user; resolves false if the name (case-insensitively) is taken. */
  createUser(user: UserRecord): Promise<boolean>;

  createSession(session: SessionRecord): Promise<void>;
  /** The session if it exists and has not expired. */
  getSession(token: string): Promise<SessionRecord | null>;
  deleteSession(token: string): Promise<void>;

  /** Creates the room; resolves false if it exists. */
  createRoom(name: string, createdBy: string, ts: number): Promise<boolean>;
  roomExists(name: string): Promise<boolean>;
  /** All rooms with their member counts, by name. */
  listRooms(): Promise<{ name: string; members: number }[]>;

  /** Adds the membership (read marker at the room's head); false if already a member. */
  join(user: string, room: string): Promise<boolean>;
  /** Removes the membership; false if the user was not a member. */
  leave(user: string, room: string): Promise<boolean>;
  memberships(user: string): Promise<Membership[]>;
  members(room: string): Promise<string[]>;
  /** Moves the read marker forward (never back). */
  markRead(user: string, room: string, seq: number): Promise<void>;
  /** Messages (not edits or deletes) after `after` written by someone other than `user`. */
  unreadCount(room: string, user: string, after: number): Promise<number>;

  /** Stores one event with the room's next seq (see the file comment for the contract). */
  appendEvent(input: AppendInput): Promise<AppendResult>;
  /** Highest seq in the room, 0 if none. */
  head(room: string): Promise<number>;
  /** Up to `limit` messages (current state) with seq < before, newest first. */
  messagesBefore(room: string, before: number, limit: number): Promise<ChatMessage[]>;
  /** Up to `limit` events with seq > after, oldest first. */
  eventsAfter(room: string, after: number, limit: number): Promise<RoomEvent[]>;

  close(): Promise<void>;
}
