/**
 * The ports between the chat's logic (hub/, http/) and a backend (backends/): what the chat needs
 * from storage and from the other nodes, and nothing about how a backend does it.
 *
 *   backends/sqlite/   one process: SQLite store + the in-process parts of backends/memory/
 *   backends/redis/    several nodes sharing one Redis: every port on Redis
 *
 * Rules every implementation keeps (the contract tests in test/backends/ run on each):
 *   - A method resolves once its effect is durable (SQLite: committed with synchronous=FULL; Redis:
 *     replied, with appendfsync always). The hub acknowledges only after that.
 *   - A room event gets the room's next seq atomically with being stored; dedup by (room, user,
 *     client id), and a resend must carry the same content (backends/send-digest.ts); storedSend
 *     answers that dedup question alone, writing nothing.
 *   - appendEvent and react store nothing from a user who is not a member of the room at that
 *     moment ('not_member'), checked atomically with the write and after the dedup (a resend of
 *     one's own stored message is still its duplicate). The hub's own check is the connection's
 *     room set, which hears of a leave or a removal late (another tab, another node): this one
 *     cannot be raced. Cost: one indexed SELECT in the SQLite transaction; one SISMEMBER on the
 *     room's `members` set inside the Redis script (no extra round trip).
 *   - CommittedEvents delivers every committed room event of an open room once, in seq order.
 *   - Storage that cannot be reached rejects with UnavailableError (nothing was done).
 *   - Times come from the caller (`now` arguments) so tests drive them with a fake clock.
 */
import type {
  Attachment,
  ChatMessage,
  Rate,
  ReactedEvent,
  RoomEvent,
  RoomKind,
  RoomListing,
  SearchHit,
  TopicEvent,
} from '../shared/protocol.js';
import type { SearchTerm } from './search/terms.js';

/** The time source of the chat's logic; tests pass a ManualClock (clock.ts). */
export interface Clock {
  now(): number;
}

/**
 * The store cannot be reached right now (a networked store: connection lost, server loading).
 * Nothing was done; the hub answers the request with error code 'unavailable' and the client
 * retries once the server reports `service` available again.
 */
export class UnavailableError extends Error {
  readonly code = 'unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnavailableError';
  }
}

// ---- accounts ----

export interface UserRecord {
  name: string;
  /** scrypt hash in the self-describing form written by http/passwords.ts. */
  passwordHash: string;
  createdAt: number;
}

export interface SessionRecord {
  token: string;
  user: string;
  expiresAt: number;
}

/** createUser's answer: made, the name taken (ignoring case), or too similar to an existing one. */
export type CreateUserResult = 'created' | 'taken' | 'similar';

export interface AccountStore {
  /** The user, matching the name case-insensitively. */
  getUser(name: string): Promise<UserRecord | null>;
  /**
   * Creates the user, unless the name is taken (case-insensitively) or looks like an existing
   * account's name (the same skeleton, backends/name-skeleton.ts): one atomic step, so of two
   * look-alike names signing up at once one is refused. An existing account whose skeleton is
   * another's (stored before skeletons were kept) is kept; new look-alikes of either are refused.
   */
  createUser(user: UserRecord): Promise<CreateUserResult>;
  /**
   * Stores the session. The user keeps at most `maxSessions` sessions not expired at `now`: when
   * they already have that many, their oldest (earliest expiry) are deleted in the same atomic
   * step as the insert, so that this one makes `maxSessions`; their tokens are returned (for their
   * sockets to be closed). The new session itself is never among them. Expired sessions of the
   * user are dropped on the way and not returned.
   */
  createSession(session: SessionRecord, now: number, maxSessions: number): Promise<string[]>;
  /** The session if it exists and has not expired at `now`. */
  getSession(token: string, now: number): Promise<SessionRecord | null>;
  /** Deletes the session, and its entry among its user's sessions (counted by createSession). */
  deleteSession(token: string): Promise<void>;
  /**
   * Deletes every session of `user` but `keep` (sign out other sessions) in one atomic step;
   * resolves with the tokens of those not expired at `now` (for their sockets to be closed).
   */
  deleteOtherSessions(user: string, keep: string, now: number): Promise<string[]>;
  /**
   * Replaces the user's password hash, if it is still `oldHash` (the one the current password was
   * checked against: of two changes at once, only one applies), and deletes every other session of
   * the user but `keep`, in one atomic step. Resolves with the tokens of the sessions ended (as
   * deleteOtherSessions), or null when the hash was not `oldHash` (nothing changed).
   */
  changePassword(
    user: string,
    oldHash: string,
    newHash: string,
    keep: string,
    now: number,
  ): Promise<string[] | null>;
}

// ---- rooms and their logs ----

export interface RoomInfo {
  name: string;
  kind: RoomKind;
  /** The creator of a public or private room; null for `general` and direct messages. */
  owner: string | null;
  createdAt: number;
  /** The room's topic (RoomStore.setTopic); absent when it has none. */
  topic?: string;
}

/** RoomStore.roomCounts: a room's unread and mention counts for a user, and its topic (absent: none). */
export interface RoomCounts {
  unread: number;
  mentions: number;
  topic?: string;
}

/** A read marker as markRead left it. */
export interface ReadMark {
  /** Where the marker is now. */
  seq: number;
  /** This call moved it forward. */
  moved: boolean;
}

export interface Membership {
  room: string;
  kind: RoomKind;
  owner: string | null;
  /** seq of the last event the user has read in this room. */
  lastRead: number;
}

export type CreateRoomResult = 'created' | 'exists' | 'owner_quota' | 'server_quota';
/** banned: the public room's owner or a server admin banned the user (RoomStore.ban), checked with the add. */
export type JoinResult = 'joined' | 'member' | 'no_room' | 'too_many_rooms' | 'banned';

/**
 * RoomStore.ban: `banned` (new), `already` (it was: nothing changed), `full` (the room has `max`
 * bans: nothing done), `no_room` (no such room, not public, or not `owner`'s), `owner` (the user
 * is the room's owner, whom nobody bans from it: nothing done).
 */
export type BanResult = 'banned' | 'already' | 'full' | 'no_room' | 'owner';

/** A pending invitation to a private room (RoomStore.invite). */
export interface InvitationRecord {
  room: string;
  user: string;
  /** The owner who invited. */
  by: string;
  at: number;
}

export interface InvitationLimits {
  /** Most pending invitations of one invitee ('user_full' at it). */
  perUser: number;
  /** Most pending invitations to one room ('room_full' at it). */
  perRoom: number;
  /** Invitations made at or before this time have expired: they count for nothing and are dropped. */
  expiredAt: number;
}

/**
 * no_room: no such room, or not a private one. member: the user is in the room already.
 * already_invited: a pending invitation is there (left as it was).
 */
export type InviteResult =
  | 'invited'
  | 'no_room'
  | 'member'
  | 'already_invited'
  | 'user_full'
  | 'room_full'
  /** The invitee blocks the inviter (RoomStore.block), checked in the same atomic step. */
  | 'blocked';

/**
 * RoomStore.block: `blocked` (new), `already` (it was), `full` (the blocker has the cap: nothing
 * done). `dropped`: the rooms whose pending invitations of the blocker by the blocked user went
 * with it (in the same atomic step). The declined ones go with it too, unanswered (the blocker was
 * told at the decline).
 */
export interface BlockResult {
  result: 'blocked' | 'already' | 'full';
  dropped: string[];
}

/**
 * accept: joined (the invitation gone with the join), member (already in: the invitation is gone),
 * no_invitation (none pending, expired, or its room is gone), too_many_rooms (the invitation stays).
 */
export type AcceptResult = 'joined' | 'member' | 'no_invitation' | 'too_many_rooms';

/**
 * A new message may reply to another message of the room (`replyTo`: it must exist and not be
 * deleted, else 'not_found'); `mentions` are the members it mentions (the hub computes them), also
 * for an edit (they replace the message's mentions).
 */
export type AppendInput =
  | {
      type: 'message';
      room: string;
      user: string;
      clientId: string;
      text: string;
      ts: number;
      replyTo?: number;
      mentions?: string[];
      /** Stored with the message (claimed first: AttachmentStore.claim); dropped when it is deleted. */
      attachments?: Attachment[];
      /**
       * A direct message that must have both its users: with fewer than two members (the other
       * closed it) nothing is written and the answer is 'dm_closed' (after every other check, the
       * dedup, the author's, a block's and the reply's target, in the same atomic step: only a
       * message that would be stored opens it), for the hub to open it again for them and send
       * again (hub.ts, send). Costs nothing more when both are in.
       */
      bothInDm?: boolean;
    }
  | {
      type: 'edit';
      room: string;
      user: string;
      target: number;
      text: string;
      ts: number;
      mentions?: string[];
    }
  | {
      type: 'delete';
      room: string;
      user: string;
      target: number;
      ts: number;
      /**
       * The hub says `user` is a server admin (config, not stored): the message may be another
       * user's if the room is public, checked in the same atomic step (else 'forbidden').
       */
      admin?: boolean;
    };

/** A reaction set (on) or removed (off) by `user` on message `target`. */
export interface ReactInput {
  room: string;
  user: string;
  target: number;
  emoji: string;
  on: boolean;
  ts: number;
  /** Most distinct emoji on one message: a new emoji beyond it is 'too_many_reactions'. */
  maxEmoji: number;
}

export type ReactResult =
  /** Stored with the room's next seq and delivered like every room event. */
  | { ok: true; event: ReactedEvent }
  /** Already in that state: nothing was written; `head` is the room's head at that moment. */
  | { ok: true; event: null; head: number }
  /** not_member: `user` is not a member of the room at that moment (checked with the write). */
  | { ok: false; reason: 'no_room' | 'not_member' | 'not_found' | 'too_many_reactions' };

/** RoomStore.setTopic: `text` is the topic as stored (trimmed; "" clears it). */
export interface TopicInput {
  room: string;
  user: string;
  text: string;
  ts: number;
  /**
   * The hub says `user` is a server admin (config, not stored): they may set the topic of any
   * public room, general too; the store still checks the room's kind and the membership.
   */
  admin?: boolean;
}

export type TopicResult =
  /** Stored with the room's next seq and delivered like every room event; the room's topic now. */
  | { ok: true; event: TopicEvent }
  /** The topic is `text` already: nothing was written; `head` is the room's head at that moment. */
  | { ok: true; event: null; head: number }
  /**
   * not_member: `user` is not a member at that moment; forbidden: not the room's owner (a public
   * or private room; `general` has none) nor in a direct message. Both checked with the write.
   */
  | { ok: false; reason: 'no_room' | 'not_member' | 'forbidden' };

export type AppendResult =
  | { ok: true; event: RoomEvent; duplicate: false }
  /**
   * The same (room, user, clientId) was stored before with the same content (send-digest.ts):
   * nothing was written; here is the original, as it is now.
   */
  | { ok: true; event: { type: 'message'; message: ChatMessage }; duplicate: true }
  /**
   * id_reused: that (room, user, clientId) holds a message with another text, reply target or
   * files; nothing was written.
   * not_member: `user` is not a member of the room at that moment, checked atomically with the
   * write, after the dedup (a resend of one's own stored message is still a duplicate); nothing was
   * written.
   * blocked: a message or an edit in a direct message whose other user blocks `user`
   * (RoomStore.block), checked atomically with the write after the membership; nothing was written.
   * dm_closed: asked with `bothInDm` and the DM has one member (checked last); nothing was written.
   */
  | {
      ok: false;
      reason: 'no_room' | 'not_member' | 'not_found' | 'forbidden' | 'id_reused' | 'blocked' | 'dm_closed';
    };

/**
 * A send looked up by its dedup key (room, user, clientId) and its content (send-digest.ts), for
 * RoomStore.storedSend. `attachments`: the ids of the files, in the order sent.
 */
export interface SendLookup {
  room: string;
  user: string;
  clientId: string;
  text: string;
  replyTo?: number;
  attachments?: readonly string[];
}

/**
 * A page of a room's members (RoomStore.listMembers). not_member: the user asking is not a member
 * of the room at the moment the page is read (checked with the read, so a member removed through
 * another node cannot read the list in the moment before their connection hears of it); a room
 * that does not exist has no members, so that is its answer too.
 */
export type MembersPage = { ok: true; members: string[] } | { ok: false; reason: 'not_member' };

export type StoredSend =
  /** Stored under that key with that content: the message as it is now (maybe deleted since). */
  | { ok: true; message: ChatMessage }
  /** That key holds a message with other content (appendEvent would answer 'id_reused'). */
  | { ok: false; reason: 'id_reused' }
  /** Nothing (any more) under that key: never stored, the room deleted with its log, or forgotten. */
  | null;

export interface RoomQuotas {
  /** Most public and private rooms in total. */
  maxRooms: number;
  /** Most public and private rooms one owner may have. */
  maxOwnedRooms: number;
}

/** A room as a client resuming at some seq `after` finds it (RoomStore.resumePoint). */
export interface ResumePoint {
  /**
   * The seq the room's current log starts after: the head of the deleted room of the same name it
   * was created in place of (its numbering continues), 0 if there was none. The seqs up to it were
   * the deleted room's, so a client resuming at one of them holds that room's messages, and the hub
   * answers `reset` (a tag does not tell it: the deleted room's log is gone, and a seq missing from
   * the log may as well have been trimmed away).
   */
  base: number;
  /** head(): the highest seq in the room, 0 if none. */
  head: number;
  /**
   * False if the client named a tag and the log proves it no longer holds, at `after`, the event
   * with that tag (the log went back: that seq is not reached again, or another event has it);
   * true otherwise (always, for a store that tags no events).
   */
  holds: boolean;
}

export interface RoomStore {
  /** Creates the room (checking the quotas in the same step). Direct messages have no quota. */
  createRoom(room: RoomInfo, quotas: RoomQuotas): Promise<CreateRoomResult>;
  getRoom(name: string): Promise<RoomInfo | null>;
  /**
   * Deletes the room, its memberships, its log and its files; false if there is no such room. When
   * it resolves the room is gone for everyone: no reader sees it, its members or its messages, and
   * a room created again under the name is a new one (none of the old room's members, unread
   * counts, mentions or files show in it). A store may clear the old room's leftovers afterwards,
   * in the background (Redis: its grave, store.ts), never visibly. `owner`: the owner the room
   * must have, checked in the same atomic step as the deletion: a room of another owner (the one
   * the caller looked at deleted and another made under the name since) is left as it is, and the
   * answer is false, as for no such room.
   */
  deleteRoom(name: string, owner?: string): Promise<boolean>;
  /**
   * deleteRoom, answering also who had a pending invitation to the room: read in the same atomic
   * step as the deletion drops them, so an invitation made up to the deletion is among them (the
   * hub tells those users `uninvited`). null if there is no such room (or another owner's).
   */
  deleteRoomAndInvitations(name: string, owner?: string): Promise<string[] | null>;
  /** Public rooms with names after `after`, by name, at most `limit`. */
  listRooms(after: string, limit: number): Promise<RoomListing[]>;

  /**
   * Adds the membership with the read marker at the room's head. `maxRooms` caps the user's rooms
   * of the room's class: direct messages (names `dm:...`) count against DMs only, public and
   * private rooms against each other only, so DMs others open cannot fill the cap on rooms.
   * `kind`: the kind the room must have, checked in the same atomic step as the add: a room of
   * another kind (made again under the name since the caller looked) adds nobody, and is answered
   * 'member' if the user is already a member of it, else 'no_room'. (A join asks 'public': no
   * check made before can let it into a private room; a DM asks none.)
   */
  join(user: string, room: string, maxRooms: number, kind?: RoomKind): Promise<JoinResult>;
  /**
   * Records a pending invitation of `user` to the private room `room` by `by` at `at`, in one atomic
   * step with its checks (InviteResult) and the caps; expired invitations of the user and of the
   * room are dropped in the same step. An invitation is not a membership (no room cap counts it).
   * `by` must be the room's owner, checked in that step: a private room of another owner (the one
   * the hub looked at deleted and another made under the name since) is answered 'no_room'.
   */
  invite(room: string, user: string, by: string, at: number, limits: InvitationLimits): Promise<InviteResult>;
  /** The user's pending invitations made after `expiredAt`, oldest first. */
  invitations(user: string, expiredAt: number): Promise<InvitationRecord[]>;
  /**
   * Who has a pending invitation to `room` (any age), by name: as its owner sees them, so one
   * declined is among them until it expires (dropInvitation). The hub does not call it (a deleted
   * room's invitees come from deleteRoomAndInvitations): it is the one view of a room's side both
   * stores answer alike, which the store, block and hub tests assert on.
   */
  invitees(room: string): Promise<string[]>;
  /**
   * Takes the user's pending invitation (made after `expiredAt`) and joins them to its room, as
   * join would (the same cap), in one atomic step: only an invited user enters a private room this
   * way, and an invitation is used once.
   */
  accept(user: string, room: string, maxRooms: number, expiredAt: number): Promise<AcceptResult>;
  /**
   * Without `owner`, the invitee declines: the invitation is gone for them (not listed, not
   * accepted, not counted against their cap, not told again at its expiry), and stays as it was for
   * the room's owner until it expires: invite answers 'already_invited', the room's cap counts it,
   * taking it back succeeds, so the owner learns nothing of the decline. False if there was none
   * pending (or it was declined already).
   * With `owner`, the owner takes it back (pending or declined: all of it is dropped); `owner` is
   * the owner the room must have, checked in the same atomic step, as deleteRoom's; false if it has
   * another, or if there was none. deleteRoom and the expiry of an empty room drop a room's
   * invitations with it.
   */
  dropInvitation(user: string, room: string, owner?: string): Promise<boolean>;
  /**
   * Blocks (user names compare ignoring case; `blocked` is stored as given, the account's name):
   * `user` blocks `blocked`, unless they block `max` users already. In the same atomic step, the
   * pending invitations of `user` made by `blocked` are dropped (BlockResult.dropped), and the
   * declined ones (gone for `user`, pending to the owner until they expire: dropInvitation) leave
   * the owner's side: `blocked` no longer sees `user` among the invitees. From then on
   * appendEvent refuses `blocked`'s messages and edits in their direct message with `user`, and
   * invite refuses `blocked` inviting `user` ('blocked'), each checked with its write.
   */
  block(user: string, blocked: string, max: number): Promise<BlockResult>;
  /** Ends the block; false if there was none. */
  unblock(user: string, blocked: string): Promise<boolean>;
  /** The users `user` blocks, as stored, in code unit order. */
  blockedUsers(user: string): Promise<string[]>;
  /** Whether `user` blocks `other` (ignoring case). */
  blocks(user: string, other: string): Promise<boolean>;
  /**
   * Drops the pending invitations made at or before `expiredAt` (all rooms, all users) and answers
   * which they were, so that the hub's sweep tells their users (`uninvited`). Each is dropped and
   * answered once: a sweep on another node at the same moment gets the others, or none.
   */
  expireInvitations(expiredAt: number): Promise<{ user: string; room: string }[]>;
  /**
   * Removes the membership (false if there was none); an emptied room starts its expiry at `now`.
   * `reason` ('removed': by the room's owner) goes with the stay's end into the room's log where
   * the backend has one (CommittedEvents, `changed`). `owner` (a removal): the owner the room must
   * have, checked in the same atomic step, as deleteRoom's; false, nobody removed, if it has another.
   * `admin` (a removal by a server admin, whom the hub vouches for): instead of the owner, the room
   * must be public, checked the same way. A removal (either) never takes out the room's own owner:
   * false, nothing done.
   */
  leave(
    user: string,
    room: string,
    now: number,
    reason?: 'removed',
    owner?: string,
    admin?: boolean,
  ): Promise<boolean>;
  /**
   * Bans `user` (the account's name) from the public room `room`, whose owner must be `owner`,
   * checked in the same atomic step (a room deleted and made again by another, or as private, since
   * the caller looked, is 'no_room'), unless the room has `max` bans already. From then on join
   * refuses them ('banned', checked with its add). Whether they are a member is not looked at: the
   * caller takes them out after (leave with 'removed'), so a join stored before the ban is undone
   * and one after it is refused. A room's bans go with it (deleteRoom, the expiry of an empty room).
   * `admin`: the hub says `owner` is a server admin (config, not stored), who may ban in any public
   * room: the room's kind is still checked in the step, its owner is not. The room's own owner is
   * never banned from it ('owner', checked in the step too): an admin's ban of them would mean
   * nothing, as they could lift it themselves.
   */
  ban(room: string, user: string, owner: string, max: number, admin?: boolean): Promise<BanResult>;
  /**
   * Lifts the ban (the owner, or with `admin` only the kind, checked as ban's); false if there was
   * none, or the room is not `owner`'s (or not public).
   */
  unban(room: string, user: string, owner: string, admin?: boolean): Promise<boolean>;
  /** The users banned from `room` with names after `after` ('' for the first), in code unit order, at most `limit`. */
  bans(room: string, after: string, limit: number): Promise<string[]>;
  memberships(user: string): Promise<Membership[]>;
  /**
   * The room's members (any kind of room) with names after `after` ('' for the first), sorted in
   * code unit order (as the online list), at most `limit`, read for `user`, who must be a member of
   * the room at that moment (checked with the read, O(1)): else not_member (MembersPage).
   */
  listMembers(user: string, room: string, after: string, limit: number): Promise<MembersPage>;
  isMember(user: string, room: string): Promise<boolean>;
  /**
   * Which of `rooms` the user is a member of at this moment, read together (SQLite: one query;
   * Redis: one round trip). The hub asks it after a search has read its hits, for the rooms they
   * came from (hub/search.ts).
   */
  memberOf(user: string, rooms: readonly string[]): Promise<Set<string>>;
  /**
   * Moves the read marker forward (never back, never past head); resolves with the marker. `tag`:
   * the tag of the event the client holds at `seq` (see headTag below); a store that tags events
   * leaves the marker where it is if its log proves it no longer holds that event there
   * (ResumePoint.holds would be false), so a client that has not yet got its `reset` never marks events it did not
   * show. A store that tags no events (SQLite) ignores it. `moved`: this call moved the marker (the
   * hub tells the user's other connections only then; decided with the write, so two tabs marking
   * at once on two nodes do not both see the marker move).
   */
  markRead(user: string, room: string, seq: number, tag?: string): Promise<ReadMark>;
  /**
   * Messages (not edits or deletes, not deleted) after `after` written by someone other than `user`
   * and not by a user `user` blocks (as the page counts them live: what a blocked user wrote while
   * the reader was away is not unread to them either, as Discord and Matrix do with ignored users).
   */
  unreadCount(room: string, user: string, after: number): Promise<number>;
  /** Of those unread messages, the ones whose (current) mentions include `user`. */
  mentionCount(room: string, user: string, after: number): Promise<number>;
  /**
   * unreadCount, mentionCount and the room's topic (getRoom's), read together: what `welcome` says
   * of each room beside its online list (SQLite: one transaction; Redis: one round trip).
   */
  roomCounts(room: string, user: string, after: number): Promise<RoomCounts>;

  /** Stores one event with the room's next seq (see the file comment for the contract). */
  appendEvent(input: AppendInput): Promise<AppendResult>;
  /**
   * appendEvent's dedup answer for a message, without writing anything (no event, no seq, no dedup
   * key): what `user` stored in `room` under `clientId`, compared with this send's content as
   * appendEvent compares it. The hub asks it when a user who is not in the room sends (a message
   * whose ack was lost, resent after leaving): it acknowledges the user's own stored message and
   * refuses anything else. A deleted room's log is gone, so is its answer (null); Redis forgets an
   * id after dedupTtlSeconds, as its appendEvent does.
   */
  storedSend(send: SendLookup): Promise<StoredSend>;
  /**
   * Sets or removes a reaction (the target must be a message of the room, not deleted). A change is
   * a `reacted` event with the room's next seq, committed like appendEvent's; no change, no event.
   */
  react(input: ReactInput): Promise<ReactResult>;
  /**
   * Sets the room's topic: a `topic` event with the room's next seq and the room's topic (getRoom,
   * listRooms) changed in the same atomic step, committed like appendEvent's; the same topic again
   * writes nothing. Who may (TopicResult) is checked in that step too: the owner of a public or
   * private room (a room deleted and made again by another since the caller looked is theirs, not
   * this user's), either member of a direct message. The topic goes with the room.
   */
  setTopic(input: TopicInput): Promise<TopicResult>;
  /** Highest seq in the room, 0 if none. */
  head(room: string): Promise<number>;
  /**
   * A store that can lose acknowledged events (Redis, see CommittedEvents) tags each event
   * (RoomEvent `tag`), so that a client resuming at a seq can say which event it saw there, and
   * implements headTag: head() and the tag of the event at it (null when the room has none), read
   * together. Memory and SQLite do not (a seq there is always one event; across a room deleted and
   * created again, ResumePoint.base tells).
   */
  headTag?(room: string): Promise<{ head: number; tag: string | null }>;
  /**
   * What the hub checks before it replays a room to a client that has it up to `after` (> 0), read
   * together (Redis: one MULTI, one round trip): see ResumePoint. `tag`: the tag the client named
   * for its event at `after` (RoomEvent `tag`), undefined if it named none.
   */
  resumePoint(room: string, after: number, tag: string | undefined): Promise<ResumePoint>;
  /**
   * Up to `limit` messages (as they are now) with seq < before, newest first. As they are now: the
   * current text (or deleted), reactions, and the quote of the message replied to as it is now.
   */
  messagesBefore(room: string, before: number, limit: number): Promise<ChatMessage[]>;
  /** Up to `limit` messages (as they are now) with seq > after, oldest first. */
  messagesAfter(room: string, after: number, limit: number): Promise<ChatMessage[]>;
  /**
   * The room's `topic` events with after < seq <= upTo, the newest `limit` of them, oldest first:
   * the topic lines a history page draws between its messages (they are no messages). Kept as long
   * as the room's messages (not trimmed with a replay log).
   */
  topicEvents(room: string, after: number, upTo: number, limit: number): Promise<TopicEvent[]>;
  /**
   * Up to `limit` events with seq > after, oldest first. A message shows its current state (its
   * latest text, or deleted with empty text) and an edit of a since-deleted message has empty text:
   * a deleted text is never sent again.
   */
  eventsAfter(room: string, after: number, limit: number): Promise<RoomEvent[]>;
  /**
   * Deletes rooms without members since before `emptySince` (never `general`); their names. Once
   * `stop` is aborted (the node is closing), it stops before its next bounded step (a room, a
   * grave step) and answers the names deleted so far: the rest is left to the next sweep. With them,
   * the pending invitations that went with those rooms (a private room's invitees are no members,
   * so it can be empty with some), read in the step that drops them, for the hub to tell their
   * users (`uninvited`); each answered once, by the node whose step deleted the room.
   */
  expireEmptyRooms(emptySince: number, stop?: AbortSignal): Promise<ExpiredRooms>;
}

/** RoomStore.expireEmptyRooms: the rooms deleted and the invitations dropped with them. */
export interface ExpiredRooms {
  rooms: string[];
  invitations: { user: string; room: string }[];
}

// ---- search ----

export interface SearchPage {
  hits: SearchHit[];
  /** Present when there may be more: pass it as `after` to go on. */
  next?: string;
}

/**
 * Finds messages by their words (search/terms.ts says what a term matches). Only the current text
 * of messages not deleted is searched. Hits come newest first: by ts descending, then room name,
 * then seq descending. SQLite: an FTS5 index kept by triggers. Redis: a scan of each room's
 * history, newest first, bounded per call (a page may then hold fewer hits than `limit`, with
 * `next`).
 */
export interface MessageSearch {
  /** Resolves null when `after` is not a cursor this search gave (nothing else is checked). */
  search(
    rooms: readonly string[],
    terms: readonly SearchTerm[],
    after: string | undefined,
    limit: number,
  ): Promise<SearchPage | null>;
}

// ---- attachments ----

/** An uploaded file's record (its bytes are kept beside it). */
export interface AttachmentRecord extends Attachment {
  room: string;
  /** Who uploaded it. */
  user: string;
  createdAt: number;
  /** The client id of the message that claimed it (null while unused). */
  clientId: string | null;
  /** The seq of that message once stored (null before). */
  seq: number | null;
}

export type PutAttachmentResult = 'stored' | 'too_many_unused' | 'full';

/**
 * Uploaded files, from upload to deletion:
 *
 *   put (unused) --claim by a send (user, room, client id)--> claimed --bind (seq)--> a message's
 *        |                                                       |                      |
 *        +--- expireUnused: not bound within the TTL ------------+      dropMessage (message deleted)
 *
 * claim is all-or-nothing and idempotent for the same message (a resend claims again). A claimed
 * file is bound to its message's seq by the store's append of that message, in the same atomic step
 * (SQLite: its transaction; Redis: its script), so a stored message never names a file the sweep
 * may take; one never bound (the message was refused, or a node died before storing it) expires
 * like an unused upload. `bind` does what the append does, alone (idempotent); the hub never calls
 * it (the append has bound the files by the time it answers), the contract tests set up bound files
 * with it.
 */
export interface AttachmentStore {
  /** Stores an unused upload, unless the user has `maxUnused` already or the store is full. */
  put(record: AttachmentRecord, data: Buffer, maxUnused: number): Promise<PutAttachmentResult>;
  get(id: string): Promise<{ record: AttachmentRecord; data: Buffer } | null>;
  /** The files, in the order of `ids`, if each is the user's upload to the room, unused or claimed by this message. */
  claim(ids: readonly string[], user: string, room: string, clientId: string): Promise<Attachment[] | null>;
  bind(room: string, ids: readonly string[], seq: number): Promise<void>;
  /**
   * Gives back the files `user`'s message `clientId` claimed but was not stored with (its send was
   * refused): unused again, for any message. Files claimed by another message or bound stay so.
   */
  release(ids: readonly string[], user: string, clientId: string): Promise<void>;
  /** Deletes the files of a deleted message. */
  dropMessage(room: string, seq: number): Promise<void>;
  /**
   * Deletes every file uploaded to a deleted room of that name, sent or not; how many. The store's
   * deleteRoom takes a room's files itself; this is called after expireEmptyRooms (a safety net
   * where the store takes them too), by which time a room of the name may exist again
   * and hold uploads: the files of a room of the name that exists when dropRoom runs are never
   * deleted (claim does not give a deleted room's file to it either).
   */
  dropRoom(room: string): Promise<number>;
  /** Deletes files created before `before` and not bound to a message; how many. */
  expireUnused(before: number): Promise<number>;
}

// ---- between nodes ----

/** Delivers one committed room event: its seq and the encoded server message. */
export type EventListener = (seq: number, payload: string) => void;

/**
 * A change of the room's membership that its log carries, in order with its events: a user's stay
 * ended (a leave, or a removal by the owner), or the room was deleted. Never a message: it takes
 * no seq, and is never sent to a client as an event.
 */
export type LogChange = { op: 'left'; user: string; reason?: 'removed' } | { op: 'deleted' };

/**
 * The committed events of the rooms this node has clients in, from the store itself. Memory
 * (SQLite) backend: the store hands each event over as it commits. Redis: each node reads the
 * room's stream, which the store's append wrote.
 */
export interface CommittedEvents {
  /**
   * Starts delivering `room`'s events to `listener`, each once, in seq order, beginning right
   * after the seq this resolves with (every event up to it is already in the store). One listener
   * per room: the hub's room channel.
   *
   * A networked store may lose acknowledged events (Redis without an fsync on every write, a
   * failover, a restored backup): the room's log then went back, and seqs already delivered are
   * given to new events. A backend that can notice it calls `rebased(head)`: the store now holds the
   * room up to `head` (not what was delivered before), and delivery goes on with the events after
   * it. Stores that cannot lose an acknowledged event (memory, SQLite) never call it.
   *
   * A backend whose nodes learn of membership changes later than of events (Redis: the events come
   * from the room's stream, the notices over pub/sub, and nothing orders the two) calls
   * `changed(change)` at the change's place among the events: after every event committed before
   * it, before any committed after it, so that the node stops delivering to a user who is out
   * before it delivers an event written after their removal. The bus notice of the same change
   * may come before or after it: acting on both must be harmless.
   */
  open(
    room: string,
    listener: EventListener,
    rebased?: (head: number) => void,
    changed?: (change: LogChange) => void,
  ): Promise<number>;
  close(room: string): void;
}

/**
 * Ephemeral notices between nodes (presence, typing, membership changes), per topic
 * (`room:<name>`, `user:<name>`, and `rooms` for deleted rooms). At most once: a notice published while the bus is down is lost.
 * Delivery order per topic is publish order; a publisher's own node hears its notices too.
 */
export interface NoticeBus {
  subscribe(topic: string, listener: (payload: string) => void): void;
  unsubscribe(topic: string, listener: (payload: string) => void): void;
  publish(topic: string, payload: string): void;
  /**
   * Calls `listener` each time this node hears its topics again after its subscription was lost
   * (the notices published meanwhile are gone): what they would have told is re-derived from the
   * store (presence: LocalRooms.resyncPresence; sign-outs: Hub, which looks its sockets' sessions
   * up). A bus that never loses its subscription (memory) never calls it.
   */
  onResubscribed(listener: () => void): void;
}

/**
 * Who is online in each room, counted per connection so that several tabs or devices of one user
 * come and go without flicker: add() says whether this was the user's first connection in the room,
 * remove() whether it was the last.
 */
export interface Presence {
  add(room: string, user: string, connId: string): Promise<boolean>;
  remove(room: string, user: string, connId: string): Promise<boolean>;
  /** Users online in the room, sorted. */
  online(room: string): Promise<string[]>;
}

export type BucketName = 'messages' | 'rooms' | 'requests' | 'signInPerIp' | 'signUpPerIp';

export type Buckets = Record<BucketName, Rate>;

/** How failed sign-ins of one account slow down further attempts. */
export interface SignInBackoff {
  /** Failures allowed before the backoff starts. */
  freeFailures: number;
  /** The first wait; it doubles with each further failure. */
  baseMs: number;
  maxMs: number;
  /** The count is forgotten this long after the last failure. */
  forgetMs: number;
}

/** Limits per user, shared by every node (on Redis: counted in Redis). */
export interface Throttle {
  /** Takes a token from `key`'s bucket: 0 if allowed, else the ms until a token is available. */
  take(bucket: BucketName, key: string, now: number): Promise<number>;
  /** At most once per `intervalMs` per key (typing): true if this one may pass. */
  once(key: string, intervalMs: number, now: number): Promise<boolean>;
  /** How long sign-in for this account name must wait (0: it may try now). Reads only. */
  signInWait(name: string, now: number): Promise<number>;
  /**
   * A sign-in for this account name is about to check a password: the ms it must wait (it is
   * refused, and not counted), or 0, and then it is counted as a failure in the same step, before
   * its password is checked; signInSucceeded clears the count. Counted first, so attempts made
   * at once cannot all pass the check before any of them is counted (each check takes the
   * password's work, tens of ms, in which a burst would otherwise be let through whole).
   */
  signInAttempt(name: string, now: number): Promise<number>;
  signInSucceeded(name: string): Promise<void>;
}

// ---- the whole ----

export interface Backend {
  readonly name: 'sqlite' | 'redis';
  readonly accounts: AccountStore;
  readonly rooms: RoomStore;
  readonly events: CommittedEvents;
  readonly bus: NoticeBus;
  readonly presence: Presence;
  readonly throttle: Throttle;
  readonly search: MessageSearch;
  readonly attachments: AttachmentStore;
  /** False while storage is unreachable (Redis down); requests are then refused as unavailable. */
  readonly available: boolean;
  onServiceChange(listener: (available: boolean) => void): void;
  /** Counters for tests and GET /_stats. */
  stats(): Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * How a logged line reads to an operator: `info` is the normal course (start, stop, back after an
 * outage), `warning` a setting or a state to look at, `error` a failure (an outage, a request that
 * failed, a background task that failed).
 */
export type LogLevel = 'info' | 'warning' | 'error';

/** Where the server's lines go (startChatServer's `log`): each with its level. */
export type Log = (line: string, level: LogLevel) => void;

/**
 * The default log: warnings and errors to stderr, the rest to stdout (a supervisor shows them apart:
 * journald by priority, Docker by stream).
 */
export const consoleLog: Log = (line, level) => {
  if (level === 'info') console.log(line);
  else console.error(line);
};

export interface BackendOptions {
  /** Bytes of attachments a backend holds in total (Redis: memory; SQLite: disk, unlimited if unset). */
  maxAttachmentBytesTotal?: number;
  clock: Clock;
  buckets: Buckets;
  signInBackoff: SignInBackoff;
  log: Log;
}
