/**
 * The chat protocol, version 2: JSON text messages over one WebSocket per browser tab.
 * docs/chat-protocol.md is the contract (its examples run as tests: test/protocol-doc.test.ts);
 * this file holds the same types. Keep the two in step.
 *
 * Shared by the server and the web page, so it holds only types and constants (no Node or DOM
 * APIs). Validation of client messages lives in server/hub/validate.ts.
 *
 * Room events (message, edited, deleted, reacted, topic) share ONE sequence per room: seq 1, 2, 3 ... with no gaps.
 * On one connection each event arrives at most once and in seq order; `hello` and `sync` name the
 * last seq a client has (and, on Redis, that event's tag: LOG_TAG), and the server replays what
 * follows.
 *
 * Naming: `room` is always a room's name, `ref` always echoes a request's ref, `id` is always a
 * client message id, `seq` always a position in a room's log.
 */

export const PROTOCOL_VERSION = 2;

/** A token bucket: `burst` requests at once, refilled at `perSecond`. */
export interface Rate {
  burst: number;
  perSecond: number;
}

/** Limits the server enforces; sent in `welcome` so clients can pace themselves. */
export interface Limits {
  /** Longest message text, in UTF-8 bytes (`text_too_long` above). */
  maxTextBytes: number;
  /** Largest WebSocket frame the server reads; a bigger one closes the connection with 1009. */
  maxFrameBytes: number;
  /** Messages per `history` page. */
  historyPage: number;
  /** Rooms per `rooms` page. */
  roomsPage: number;
  /** Names per `members` page. */
  membersPage: number;
  /** Most events a replay sends; further behind than this, the client gets `reset`. */
  replayLimit: number;
  /**
   * Most public and private rooms one user may be a member of (`too_many_rooms` above). Direct
   * messages do not count here (others open them: they must not fill this cap), but against
   * maxDmsPerUser; nor do pending invitations (only an accepted one is a membership).
   */
  maxRoomsPerUser: number;
  /**
   * Most direct message rooms one user may be in (a `dm` that would pass the asker's: `too_many_rooms`;
   * the other user at theirs is not added until they have room).
   */
  maxDmsPerUser: number;
  /** Most pending invitations one user may have (`too_many_invitations` above). */
  maxInvitationsPerUser: number;
  /** Most pending invitations to one room (`room_invitations_full` above). */
  maxInvitationsPerRoom: number;
  /** A pending invitation not accepted or declined within this many ms expires (it is gone). */
  invitationTtlMs: number;
  /** Most public and private rooms one user may own (rooms they created that still exist). */
  maxOwnedRooms: number;
  /** Most public and private rooms on the server. */
  maxRooms: number;
  /** send, edit, delete. */
  messageRate: Rate;
  /** create, join, leave, invite, remove, dm, delete_room, accept, topic. */
  roomRate: Rate;
  /**
   * Every other request except typing (hello, ping, history, sync, read, rooms, members, search,
   * decline, block, unblock, unban, bans).
   */
  requestRate: Rate;
  /** Typing notices per user and room are forwarded at most once per this many ms. */
  typingIntervalMs: number;
  /** An empty room (no members) is deleted with its history after this many ms. */
  emptyRoomTtlMs: number;
  /** Most distinct emoji on one message (`too_many_reactions` above). */
  maxReactionsPerMessage: number;
  /** Most users one user may block (`too_many_blocks` above). */
  maxBlockedUsers: number;
  /** Most users banned from one public room (`too_many_bans` above); `bans` pages by membersPage. */
  maxBansPerRoom: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxTextBytes: 4096,
  maxFrameBytes: 64 * 1024,
  historyPage: 50,
  roomsPage: 100,
  membersPage: 100,
  replayLimit: 1000,
  maxRoomsPerUser: 50,
  maxDmsPerUser: 500,
  maxInvitationsPerUser: 100,
  maxInvitationsPerRoom: 50,
  invitationTtlMs: 7 * 24 * 3600 * 1000,
  maxOwnedRooms: 10,
  maxRooms: 10_000,
  messageRate: { burst: 10, perSecond: 2 },
  roomRate: { burst: 10, perSecond: 0.2 },
  requestRate: { burst: 60, perSecond: 20 },
  typingIntervalMs: 1000,
  emptyRoomTtlMs: 24 * 3600 * 1000,
  maxReactionsPerMessage: 20,
  maxBlockedUsers: 1000,
  maxBansPerRoom: 1000,
};

/** Public and private room names: 1-32 of a-z 0-9 - _, starting with a letter or digit. */
export const ROOM_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** User names: 1-24 of A-Z a-z 0-9 - _ (case-insensitively unique). */
export const USER_NAME = /^[A-Za-z0-9_-]{1,24}$/;
/** A direct message room: `dm:` and the two users' names in lower case, sorted. */
export const DM_ROOM = /^dm:[a-z0-9_-]{1,24}:[a-z0-9_-]{1,24}$/;
export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 256;
export const DEFAULT_ROOM = 'general';

/** The room two users share for direct messages (the same whoever asks). */
export function dmRoom(a: string, b: string): string {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()].sort();
  return `dm:${x}:${y}`;
}

/** The other user of a direct message room, as the room name spells it (lower case). */
export function dmPeer(room: string, me: string): string {
  const [, x, y] = room.split(':');
  return x === me.toLowerCase() ? y : x;
}

// ---- reactions, replies, mentions (issue #16) ----

/** A reply's quote keeps at most this many characters (Unicode code points) of the original. */
export const REPLY_EXCERPT_CHARS = 200;
/** A reaction's emoji: at most this many UTF-8 bytes (one emoji grapheme; see validate.ts). */
export const MAX_EMOJI_BYTES = 32;

/**
 * The message a reply answers (same room), as it is now: an excerpt of its current text, or empty
 * text and `deleted` once it is deleted (a deleted text is never sent again).
 */
export interface ReplyQuote {
  seq: number;
  user: string;
  text: string;
  deleted?: true;
}

/** Emoji -> the users who reacted with it (sorted); emoji in code point order; absent when none. */
export type Reactions = Record<string, string[]>;

/** A `reacted` event: `user` set (`on`) or removed their `emoji` on message `target`. */
export interface ReactedEvent {
  type: 'reacted';
  room: string;
  seq: number;
  target: number;
  user: string;
  emoji: string;
  on: boolean;
  ts: number;
}

/** A chat message as it is now (an edit changes text and sets editedAt; a delete empties it). */
export interface ChatMessage {
  room: string;
  seq: number;
  /** The sender's client message id (dedup key per room and user). */
  id: string;
  user: string;
  text: string;
  /** Milliseconds since the epoch. */
  ts: number;
  editedAt?: number;
  deleted?: true;
  /** Files sent with the message (uploaded first: POST /api/attachments); gone once it is deleted. */
  attachments?: Attachment[];
  /** The message this one replies to (history and replay: as it is now; live: as it was sent). */
  reply?: ReplyQuote;
  /** Room members mentioned as `@name` in the text (canonical spelling), computed by the server. */
  mentions?: string[];
  /** Reactions as they are now (absent when none, and on a deleted message). */
  reactions?: Reactions;
}

/**
 * A file sent with a message. `type` is decided by the server from the bytes: image/png,
 * image/jpeg, image/gif, image/webp (with `width` and `height`), application/pdf, text/plain or
 * application/octet-stream. GET /api/attachments/<id> serves it to members of the room.
 */
export interface Attachment {
  id: string;
  name: string;
  type: string;
  size: number;
  width?: number;
  height?: number;
}

/** Most attachments on one message; attachment ids are 1-64 of A-Z a-z 0-9 - _. */
export const MAX_ATTACHMENTS = 10;

/**
 * Which entry of the room's log an event is, beside its seq (Redis backend only): when Redis loses
 * acknowledged writes, a seq can be given again to another event, with another tag. A client keeps
 * the tag of the last event it applied and names it when it resumes (`hello` tags, `sync` tag): if
 * the log no longer holds that entry at that seq, the server answers `reset`. A `read` names it too
 * (`tag`): the marker then moves only if the log still holds that entry at that seq. 1-16 of
 * A-Z a-z 0-9 - _.
 */
export const LOG_TAG = /^[A-Za-z0-9_-]{1,16}$/;

/** Longest room topic, in Unicode code points (not graphemes), after trimming (see validate.ts). */
export const MAX_TOPIC_CHARS = 250;

/**
 * A `topic` event: `user` set the room's topic to `text` ("" cleared it). It is no message: not
 * unread, no notification, not searched, not among a `history`'s messages (a replay and the live
 * stream carry it, and a `history` page its `events`, so a page loaded later draws its line too).
 */
export interface TopicEvent {
  type: 'topic';
  room: string;
  seq: number;
  user: string;
  text: string;
  ts: number;
}

/** Events of a room's log, in seq order; `tag` see LOG_TAG (absent on memory and SQLite). */
export type RoomEvent = (
  | { type: 'message'; message: ChatMessage }
  | {
      type: 'edited';
      room: string;
      seq: number;
      target: number;
      user: string;
      text: string;
      ts: number;
      /** The edited message's mentions after the edit (absent: none). */
      mentions?: string[];
    }
  | { type: 'deleted'; room: string; seq: number; target: number; user: string; ts: number }
  | ReactedEvent
  | TopicEvent
) & { tag?: string };

export type RoomEventType = RoomEvent['type'];

export function eventSeq(event: RoomEvent): number {
  return event.type === 'message' ? event.message.seq : event.seq;
}

export function eventRoom(event: RoomEvent): string {
  return event.type === 'message' ? event.message.room : event.room;
}

/** public: anyone may list and join it; private: members invited by the owner; dm: two users. */
export type RoomKind = 'public' | 'private' | 'dm';

export interface RoomState {
  room: string;
  kind: RoomKind;
  /** Who created it (null for `general` and direct messages). */
  owner: string | null;
  /** Highest seq in the room (0 if empty). Events after it follow on this connection. */
  head: number;
  /** Messages by others after this user's read marker. */
  unread: number;
  /** Of those, the ones that mention this user (a separate badge). */
  mentions: number;
  /** Members with at least one open connection, sorted. */
  online: string[];
  /** What the room is for, set by its owner (either user of a DM); absent when it has none. */
  topic?: string;
}

/**
 * A pending invitation to a private room: `by` (its owner) invited the user at `ts`. It stays
 * pending until the user accepts it (and is then a member), declines it, the owner takes it back
 * (`remove`) or deletes the room, or it expires (Limits.invitationTtlMs after `ts`).
 */
export interface Invitation {
  room: string;
  by: string;
  ts: number;
}

export interface RoomListing {
  room: string;
  kind: 'public';
  members: number;
  /** The room's topic; absent when it has none. */
  topic?: string;
}

/**
 * A message found by `search`, with its current text; `ranges` are [start, end) UTF-16 offsets in
 * `text` of the words that matched (for highlighting).
 */
export interface SearchHit {
  room: string;
  seq: number;
  user: string;
  text: string;
  ts: number;
  ranges: [number, number][];
}

/** Hits per `search` reply; the longest query (UTF-16 units) and the most words in it. */
export const SEARCH_PAGE = 20;
export const MAX_SEARCH_QUERY = 200;
export const MAX_SEARCH_TERMS = 8;

// ---- client -> server ----

/** Every request may carry `ref` (1-64 of A-Z a-z 0-9 - _); its reply echoes it. */
type Req<T> = T & { v: 2; ref?: string };

export type ClientMessage =
  /** rooms: room -> the last seq the client has; tags: room -> the tag of that event (LOG_TAG). */
  | Req<{ type: 'hello'; rooms?: Record<string, number>; tags?: Record<string, string> }>
  | Req<{ type: 'ping' }>
  | Req<{
      type: 'send';
      id: string;
      room: string;
      text: string;
      replyTo?: number;
      attachments?: string[];
    }>
  | Req<{ type: 'edit'; room: string; seq: number; text: string }>
  /**
   * One's own message; a server admin (welcome `admin`) any message of a public room (the
   * `deleted` event's `user` is then the admin's).
   */
  | Req<{ type: 'delete'; room: string; seq: number }>
  /**
   * At most one of: `before` (older messages, the default: the newest), `around` (a page holding that
   * seq, with messages before and after it), `after` (newer messages, oldest first).
   */
  | Req<{ type: 'history'; room: string; before?: number; around?: number; after?: number }>
  | Req<{ type: 'sync'; room: string; after: number; tag?: string }>
  | Req<{ type: 'typing'; room: string }>
  /** tag: the tag of the event at `seq` (LOG_TAG); the marker stays if the log holds another there. */
  | Req<{ type: 'read'; room: string; seq: number; tag?: string }>
  | Req<{ type: 'rooms'; after?: string }>
  /** Every member of a room the user is in, online or not, by name; `after`: a `next` from a reply. */
  | Req<{ type: 'members'; room: string; after?: string }>
  | Req<{ type: 'create'; room: string; private?: boolean }>
  | Req<{ type: 'join'; room: string }>
  | Req<{ type: 'leave'; room: string }>
  /** The owner of a private room invites a user: a pending invitation, until they accept it. */
  | Req<{ type: 'invite'; room: string; user: string }>
  /** Accepts a pending invitation: joins the room (as `join`, against maxRoomsPerUser now). */
  | Req<{ type: 'accept'; room: string }>
  /** Declines a pending invitation: it is gone (the owner is not told). */
  | Req<{ type: 'decline'; room: string }>
  /**
   * The owner takes a user (not themselves) out of their room: of a private room a member (or a
   * pending invitation back); of a public room, a member or not, who is banned from it too (`join`
   * refused `banned`) until `unban`. A server admin (welcome `admin`) may in any public room.
   */
  | Req<{ type: 'remove'; room: string; user: string }>
  /**
   * The owner of a public room (or a server admin) lifts a ban (`remove`); answered `unbanned`
   * (idempotent).
   */
  | Req<{ type: 'unban'; room: string; user: string }>
  /**
   * The owner of a public room (or a server admin) lists whom it bans, by name; `after`: a `next`
   * from a reply.
   */
  | Req<{ type: 'bans'; room: string; after?: string }>
  | Req<{ type: 'dm'; user: string }>
  | Req<{ type: 'delete_room'; room: string }>
  | Req<{ type: 'search'; query: string; room?: string; before?: string }>
  /** Sets (on) or removes (off) the user's emoji on message `target`: idempotent, not a toggle. */
  | Req<{ type: 'react'; room: string; target: number; emoji: string; on: boolean }>
  /**
   * Sets the room's topic ("" clears it): the owner of a public or private room, either user of a
   * direct message. Answered `ack` with the `topic` event's seq (`duplicate` and the head when the
   * topic is that already: nothing is stored).
   */
  | Req<{ type: 'topic'; room: string; text: string }>
  /**
   * Blocks a user (one-way): they can no longer open or write in a direct message with the blocker
   * nor invite them (`not_accepted`); in shared rooms their messages still reach the others, and the
   * blocker's client hides them. Answered `blocked` with the whole list (idempotent).
   */
  | Req<{ type: 'block'; user: string }>
  /** Ends a block; answered `blocked` with the whole list (idempotent). */
  | Req<{ type: 'unblock'; user: string }>;

export type ClientMessageType = ClientMessage['type'];

// ---- server -> client ----

export const ERROR_CODES = [
  'bad_json',
  'bad_message',
  'unsupported_version',
  'unknown_type',
  'not_ready',
  'text_too_long',
  'rate_limited',
  'bad_room_name',
  'no_such_room',
  'room_exists',
  'no_such_user',
  'not_member',
  'too_many_rooms',
  'room_quota',
  'not_found',
  'forbidden',
  /** The storage (Redis, on several nodes) is unreachable: nothing was done; retry later. */
  'unavailable',
  'internal',
  /** react: `emoji` is not one emoji. */
  'bad_emoji',
  /** react: the message already has maxReactionsPerMessage distinct emoji. */
  'too_many_reactions',
  /**
   * send: the id already names another message of the sender in that room (another text, reply
   * target or files); nothing was stored. A resend must be the same message; a new one needs a new id.
   */
  'id_reused',
  /** invite: the user (the owner themselves, too) is already a member of the room; nothing was done. */
  'already_member',
  /**
   * invite: the user already has a pending invitation to the room (or declined it, and it has not
   * expired: a decline is not told to the owner); nothing was done.
   */
  'already_invited',
  /** invite: the user has maxInvitationsPerUser pending invitations (not said to the owner); nothing was done. */
  'too_many_invitations',
  /** invite: the room has maxInvitationsPerRoom pending invitations; nothing was done. */
  'room_invitations_full',
  /**
   * dm, send or edit in a direct message, react there, invite: the other user has blocked the
   * sender; nothing was stored or told to them.
   */
  'not_accepted',
  /** block: the user has blocked maxBlockedUsers users already; nothing was done. */
  'too_many_blocks',
  /** block: of oneself. */
  'cannot_block_self',
  /** join: the owner of the public room removed the user from it (`remove`) and has not lifted it. */
  'banned',
  /** remove in a public room: it bans maxBansPerRoom users already; nothing was done. */
  'too_many_bans',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

type Reply<T> = T & { v: 2; ref?: string };

export type ServerMessage =
  /**
   * invitations: the user's pending invitations, oldest first; blocked: the users they block.
   * admin: present (true) when the user is a server admin (the node's --admin): in every public
   * room, general too, they may do what its owner may (remove, unban, bans) and delete anyone's
   * message; not in private rooms or direct messages.
   */
  | Reply<{
      type: 'welcome';
      user: string;
      rooms: RoomState[];
      invitations: Invitation[];
      blocked: string[];
      limits: Limits;
      admin?: true;
      /**
       * The server's page build (the id its page was built with): a page built otherwise (opened
       * before a deploy) offers a reload, since it may not know newer events. Absent: unknown.
       */
      build?: string;
    }>
  | Reply<{ type: 'pong' }>
  | ({ v: 2 } & RoomEvent)
  /**
   * duplicate: nothing new was stored (a resent `send`: seq is the original's; a `react` that
   * changed nothing: seq is the room's head, whose state already holds that reaction state).
   */
  | Reply<{ type: 'ack'; id?: string; room: string; seq: number; ts: number; duplicate?: true }>
  /**
   * hasMore: older messages exist; hasNewer (only with `around` or `after`): newer ones exist.
   * events: the room's events that are no messages but draw a line among them (`topic` for now),
   * of the seqs this page covers (from its oldest message, or the room's start when there is none
   * older, up to `before`, its newest message, or `head`), oldest first, at most `historyPage` of
   * them (the newest); absent when none. A client steps over a type it does not know (as in a replay).
   */
  | Reply<{
      type: 'history';
      room: string;
      messages: ChatMessage[];
      head: number;
      hasMore: boolean;
      hasNewer?: boolean;
      events?: RoomEvent[];
      /** The tag of the event at `head` (Redis backend; see LOG_TAG). */
      tag?: string;
    }>
  | Reply<{ type: 'synced'; room: string; head: number }>
  | Reply<{ type: 'reset'; room: string; head: number }>
  | Reply<{ type: 'read'; room: string; seq: number }>
  | Reply<{ type: 'rooms'; rooms: RoomListing[]; next?: string }>
  /** members: names in code unit order (as `online`); next: the name to pass as `after` for more. */
  | Reply<{ type: 'members'; room: string; members: string[]; next?: string }>
  | Reply<{ type: 'joined' } & RoomState>
  /** reason: absent for a leave (in this tab or another), or why the user is out of the room. */
  | Reply<{ type: 'left'; room: string; reason?: 'deleted' | 'removed' }>
  /** To the owner: `user` has a pending invitation now (they are a member once they accept). */
  | Reply<{ type: 'invited'; room: string; user: string }>
  /** To every connection of the invitee: a new pending invitation. */
  | ({ v: 2; type: 'invitation' } & Invitation)
  /**
   * To every connection of the user: the pending invitation is gone (accepted: `joined` follows;
   * declined, here or in another tab; taken back by the owner; or the room deleted). With `ref`:
   * the answer to `decline`.
   */
  | Reply<{ type: 'uninvited'; room: string }>
  /**
   * The answer to `remove`. From a public room (a ban) also sent, without ref, to the other
   * connections of the remover, of the room's owner and of every server admin, on every node, so
   * that their Banned lists follow; likewise `unbanned`.
   */
  | Reply<{ type: 'removed'; room: string; user: string }>
  /**
   * The answer to `unban`: `user` may join the public room again. Without ref: see `removed`; and
   * to every connection of the user whose ban was lifted.
   */
  | Reply<{ type: 'unbanned'; room: string; user: string }>
  /** The answer to `bans`: names in code unit order; next: the name to pass as `after` for more. */
  | Reply<{ type: 'bans'; room: string; users: string[]; next?: string }>
  /**
   * The users this user blocks (their names as they were created, in code unit order): the answer
   * to `block` and `unblock` (with `ref`), and to every other connection of the user, on every node.
   */
  | Reply<{ type: 'blocked'; users: string[] }>
  | Reply<{ type: 'search'; query: string; hits: SearchHit[]; next?: string }>
  | { v: 2; type: 'presence'; room: string; user: string; online: boolean }
  | { v: 2; type: 'member'; room: string; user: string; joined: boolean; online?: boolean }
  | { v: 2; type: 'typing'; room: string; user: string }
  /** Sent to every connection when storage becomes unreachable (false) and again when it is back. */
  | { v: 2; type: 'service'; available: boolean; message: string }
  | Reply<{ type: 'error'; code: ErrorCode; message: string; id?: string; retryAfterMs?: number }>;

export type ServerMessageType = ServerMessage['type'];

/** Every server message type (the protocol doc's test checks each appears in an example). */
export const SERVER_MESSAGE_TYPES: readonly ServerMessageType[] = [
  'welcome',
  'pong',
  'message',
  'edited',
  'deleted',
  'reacted',
  'topic',
  'ack',
  'history',
  'synced',
  'reset',
  'read',
  'rooms',
  'members',
  'joined',
  'left',
  'invited',
  'invitation',
  'uninvited',
  'removed',
  'unbanned',
  'bans',
  'blocked',
  'search',
  'presence',
  'member',
  'typing',
  'service',
  'error',
];
export type ServerMessageOf<T extends ServerMessageType> = Extract<ServerMessage, { type: T }>;
