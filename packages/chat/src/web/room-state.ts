/**
 * The page's state, without a DOM: rooms, their messages in seq order, replay and gaps, notices,
 * typing, unread counts and what the server's answers mean. main.ts feeds it server messages and
 * user actions; render.ts draws it. Tests drive it with plain objects and a fake clock.
 *
 * Ordering: a room's events are applied strictly in seq order. The server sends each event once
 * and in order on one connection, so normally each is head + 1; an event further ahead (which
 * would mean something was lost) waits while a `sync` fetches the gap, and older ones are dropped.
 *
 * Notices: the timeline shows membership changes (`member`: "bob joined #random"); presence only
 * moves a user in or out of the online list (joining a room while online is not "coming online").
 *
 * Members: a private room's people panel lists every member, online or not. The list is asked for
 * (`members`, page after page) when the room is opened and again on each new connection, and kept
 * current by the room's `member` notices, also those that arrive while the pages are on their way.
 *
 * Every request carries a `ref`, so an error is matched to what caused it: an error about a room
 * the page has left meanwhile (a read marker sent just before leaving) is not the user's concern.
 *
 * Unread: a room's count is the server's (welcome) plus the messages by others counted here since,
 * each remembered by seq (`counted`). A read in another tab (`read` without `ref`) takes away those
 * at or before its seq, and the server's part once the seq is past the head that count was for;
 * a message after the read position still counts. Messages of users this user blocks count in
 * neither part (as the server counts them, docs/chat-protocol.md "Blocking"); the ones remembered
 * here count again, or no more, when the list changes.
 */

import {
  type ChatMessage,
  type ClientMessage,
  DEFAULT_ROOM,
  dmPeer,
  eventRoom,
  eventSeq,
  type Invitation,
  type Limits,
  type RoomEvent,
  type RoomKind,
  type RoomListing,
  type RoomState,
  type ServerMessage,
} from '../shared/protocol.js';
import { applyReaction } from './reactions.js';

export const TYPING_SHOW_MS = 4000;
/** Older pages loaded at most to show a reply's original. */
const MAX_REVEAL_PAGES = 20;
/**
 * Transient notices (a join, a leave, a reload's word) kept per room: the oldest goes past it. A room
 * event's line (Notice.event: a topic change) is not counted and never dropped: it stays as long as
 * the messages around it, as a reload would draw it again from the history's `events`.
 */
export const MAX_NOTICES = 100;
/** Unread messages remembered one by one; older ones join the server's count (Room.countedAfter). */
const MAX_COUNTED = 1000;
/** The live region says how many messages arrived below the view at most this often (newBelowSaid). */
export const NEW_BELOW_SAY_MS = 5000;

/** The "jump to latest" button's count, and what the live region says of it. */
export function newMessagesLabel(count: number): string {
  return `${count} new ${count === 1 ? 'message' : 'messages'}`;
}

export interface Notice {
  /** Shown after the message with this seq. */
  after: number;
  text: string;
  /** A room event's line (a topic change, live or from a history page): kept, not capped (MAX_NOTICES). */
  event?: true;
}

/** Drops the oldest transient notices past MAX_NOTICES; room events' lines stay. */
function capNotices(notices: Notice[]): void {
  let transient = notices.reduce((n, notice) => (notice.event ? n : n + 1), 0);
  for (let i = 0; transient > MAX_NOTICES && i < notices.length; ) {
    if (notices[i].event) i++;
    else {
      notices.splice(i, 1);
      transient--;
    }
  }
}

export interface Room {
  name: string;
  kind: RoomKind;
  owner: string | null;
  /** What the room is for ('' for none): RoomState's, then each `topic` event's. */
  topic: string;
  head: number;
  /**
   * The tag of the event at `head` when the server gave one (Redis backend): named when resuming,
   * so that the server can tell whether that event is still the room's (else it answers `reset`).
   */
  tag: string | null;
  unread: number;
  /** Unread messages that mention the user (a separate badge). */
  mentions: number;
  /**
   * The messages by others remembered here one by one (oldest first), their author, and whether they
   * mention the user: those whose author is not blocked are in `unread` (and `mentions`).
   */
  counted: { seq: number; user: string; mention: boolean }[];
  /** The rest of `unread` and `mentions` (the server's count) are messages at or before this seq. */
  countedAfter: number;
  online: Set<string>;
  /** Every member, online or not (private rooms, once loaded; else null): see MembersLoad. */
  members: Set<string> | null;
  membersLoad: MembersLoad | null;
  /**
   * The messages loaded, iterated in seq order (putInOrder; a live one comes after them all), so
   * the conversation is drawn without sorting them. A message object is never changed in place: an
   * edit, a deletion, a reaction or a quote's change puts a new object under its seq, and the
   * conversation keeps the row of a message that is the same object (conversation.ts).
   */
  messages: Map<number, ChatMessage>;
  notices: Notice[];
  /** History loaded: the page shows this room's messages (else it only counts unread). */
  loaded: boolean;
  loadingOlder: boolean;
  hasMore: boolean;
  syncing: boolean;
  waiting: Map<number, RoomEvent>;
  /** Who is typing, until when (ms). */
  typing: Map<string, number>;
  /** The first unread message when the room was opened (the "new messages" divider), if any. */
  firstUnread: number | null;
  /** Unread count when opened, until the history shows where the divider goes. */
  unreadAtOpen: number;
  /**
   * Unread messages (of others) older than the loaded ones, when the room was opened with more
   * unread than one page: the divider moves up as the older pages holding them arrive.
   */
  unreadOlder: number;
  /** A message to show that older pages are being loaded for (a reply's original). */
  revealing: number | null;
  revealPages: number;
  /**
   * Its latest page was refused (rate_limited, unavailable) and not asked for since: the room is
   * not loaded and nothing is on its way (opening it asks again).
   */
  latestRefused: boolean;
}

/**
 * A `members` list on its way, page after page. The pages are read when the server answers them,
 * and a `member` notice may reach the page before or after the answer that does or does not count
 * it yet: each notice heard meanwhile is kept and applied over the finished list (applying one the
 * list already counts changes nothing).
 */
export interface MembersLoad {
  /** The ref of the page asked for now: an answer to anything else is stale. */
  ref: string;
  names: Set<string>;
  /** user -> joined (true) or left (false), the last notice heard during the load. */
  notices: Map<string, boolean>;
}

export interface StateHost {
  send(message: ClientMessage): void;
  now(): number;
  /**
   * A live message from someone else mentions the user, or is in a direct message to them, which
   * is all said to them (a desktop notification, maybe).
   */
  mentioned?(message: ChatMessage, room: Room): void;
  /**
   * The server refused an older page of `room` (`said`: its refusal as the page says it). Nothing
   * is redrawn for it: a search's jump waiting for that page ends here (search.ts olderRefused).
   * True if the refusal was said there (where the user clicked): the composer's notice then does
   * not say it a second time.
   */
  olderRefused?(room: string, said: string): boolean;
  /**
   * The server refused the latest page of `room` (opened, not loaded: it stays so), as
   * olderRefused: a search's jump that opened the room ends there (search.ts latestRefused).
   */
  latestRefused?(room: string, said: string): boolean;
  /** A new invitation arrived live (a desktop notification, maybe: invitations.ts). */
  invited?(invitation: Invitation): void;
}

/**
 * Adds a page of `messages` (in any order) to a room's map, which iterates in seq order after it as
 * before: a page after them all (the latest, a sync) is appended; one that goes before or between
 * them (an older page) has the map put in order again, once for the page (a Map iterates in the
 * order its keys were first set, and setting a key it has keeps that key's place).
 */
export function putInOrder(map: Map<number, ChatMessage>, messages: readonly ChatMessage[]): void {
  let last = -Infinity;
  for (const seq of map.keys()) last = seq;
  let inOrder = true;
  for (const message of messages) {
    if (!map.has(message.seq) && message.seq < last) inOrder = false;
    else last = Math.max(last, message.seq);
    map.set(message.seq, message);
  }
  if (inOrder) return;
  const sorted = [...map.values()].sort((a, b) => a.seq - b.seq);
  map.clear();
  for (const message of sorted) map.set(message.seq, message);
}

/** A reply's quote keeps this many code points of the original (as the server does). */
const EXCERPT_CHARS = 200;

export function excerpt(text: string): string {
  const chars = [...text];
  return chars.length <= EXCERPT_CHARS ? text : chars.slice(0, EXCERPT_CHARS).join('');
}

export function mentionsMe(message: { mentions?: string[] }, me: string): boolean {
  const lower = me.toLowerCase();
  return (message.mentions ?? []).some((n) => n.toLowerCase() === lower);
}

/** What changed since the renderer last looked. */
export type Change =
  | 'rooms'
  | 'messages'
  | 'older'
  | 'online'
  | 'typing'
  | 'active'
  | 'errors'
  | 'directory'
  /** The message in `revealed` is loaded: scroll to it. */
  | 'reveal'
  /** `announcement` changed (its room went: it was cleared). */
  | 'announce'
  /** The pending invitations changed (invitations.ts draws them). */
  | 'invitations'
  /** The users this user blocks changed (the people list, the conversation, the Account dialog). */
  | 'blocked';

type RequestKind =
  | 'join'
  | 'create'
  | 'dm'
  | 'leave'
  | 'delete_room'
  | 'invite'
  | 'accept'
  | 'decline'
  | 'block'
  | 'remove_member'
  | 'unban'
  | 'bans'
  | 'members'
  | 'read'
  | 'typing'
  | 'history'
  | 'older'
  | 'sync'
  | 'rooms'
  | 'edit'
  | 'delete'
  | 'react'
  | 'topic';

function newRoom(state: RoomState): Room {
  return {
    name: state.room,
    kind: state.kind,
    owner: state.owner,
    topic: state.topic ?? '',
    head: state.head,
    tag: null,
    unread: state.unread,
    mentions: state.mentions ?? 0,
    counted: [],
    countedAfter: state.head,
    online: new Set(state.online),
    members: null,
    membersLoad: null,
    messages: new Map(),
    notices: [],
    loaded: false,
    loadingOlder: false,
    hasMore: false,
    syncing: false,
    waiting: new Map(),
    typing: new Map(),
    firstUnread: null,
    unreadAtOpen: 0,
    unreadOlder: 0,
    revealing: null,
    revealPages: 0,
    latestRefused: false,
  };
}

/**
 * What the page says of a refusal: the server's message, except a rate limit's, whose wait is said
 * in seconds ("retry in 3808 ms" is the protocol's wording, not the user's).
 */
function saidOf(code: string, message: string, retryAfterMs: number | undefined): string {
  if (code !== 'rate_limited') return message;
  return `Too many requests — try again in ${Math.max(1, Math.ceil((retryAfterMs ?? 1000) / 1000))} s.`;
}

/**
 * The line in the conversation when someone joins or leaves it. In a direct message one closes the
 * conversation (Close conversation), and the other is told what that means: a new message opens it
 * again for the one who closed it (the server adds them back with it).
 */
export function memberNotice(who: string, joined: boolean, kind: Room['kind'], label: string): string {
  if (kind !== 'dm' || joined) return `${who} ${joined ? 'joined' : 'left'} ${label}`;
  if (who === 'You') return 'You closed this conversation';
  return `${who} closed this conversation: a new message opens it again for them`;
}

/** The room events this page shows; others are stepped over (unknownRoomEvent). */
const KNOWN_EVENTS: ReadonlySet<string> = new Set(['message', 'edited', 'deleted', 'reacted', 'topic']);

/**
 * A room event of a type this page does not know, from a newer server (docs/chat-protocol.md,
 * "New kinds of event": a server message with a `room` and a `seq`, but `ack` and `read`): its seq
 * is taken as applied, else the page would wait for that seq for ever and the room would stall.
 */
function unknownRoomEvent(msg: ServerMessage): RoomEvent | null {
  const m = msg as { type: string; room?: unknown; seq?: unknown };
  if (m.type === 'ack' || m.type === 'read' || KNOWN_EVENTS.has(m.type)) return null;
  return typeof m.room === 'string' && typeof m.seq === 'number' ? (msg as unknown as RoomEvent) : null;
}

/** The line in the conversation when someone sets or clears the room's topic (text, never HTML). */
export function topicNotice(who: string, text: string): string {
  return text === '' ? `${who} cleared the topic` : `${who} set the topic: ${text}`;
}

/**
 * How a room is named on the page: `#name`, or the other user of a direct message, as they signed
 * up if `names` (lower case -> as signed up) has them, else in lower case as the room name has it.
 */

export function roomLabel(
  room: Pick<Room, 'name' | 'kind'>,
  me: string,
  names?: ReadonlyMap<string, string>,
): string {
  if (room.kind !== 'dm') return `#${room.name}`;
  const peer = dmPeer(room.name, me);
  return `@${names?.get(peer) ?? peer}`;
}

export class ChatState {
  me = '';
  /**
   * Users' names as they signed up, by their lower-case form: a direct message's label shows its
   * other user so (the room name has them in lower case). Learned only from what the server says
   * of users (authors, presence, member notices, online and member lists), which is the account's
   * name; never from what was typed (a `dm` to "BOB" opens bob's room whatever the case).
   */
  readonly #names = new Map<string, string>();
  active: string;
  readonly rooms = new Map<string, Room>();
  readonly changes = new Set<Change>();
  limits: Limits | null = null;
  /** New messages at the end: follow them if the reader is at the end (else offer "jump to latest"). */
  stick = false;
  /** A room was opened or reloaded: show its first unread message, or its end. */
  jump = false;
  /** The tab is visible (messages in the open room are then read). */
  visible = true;
  roomError = '';
  /**
   * A room request done that shows nothing else (an invitation: the invited user is only added to
   * the members' list), said where room requests are answered until the next answer; an error
   * (roomError) is shown instead.
   */
  roomDone = '';
  /** A `topic` request refused: said beside the topic's editor in the header until the next one. */
  topicError = '';
  composerError = '';
  /**
   * The composer notice set by offlineNotice(): an action not done for being offline. Back online
   * (a welcome), it no longer holds and goes, if still the one shown.
   */
  #offlineNotice = '';
  /**
   * The reader is scrolled back from the end of the open room (conversation.ts says where they
   * are, seenEnd): messages by others arriving meanwhile are counted in `newBelow` for the "jump
   * to latest" button, until the reader reaches the end or opens a room.
   */
  scrolledBack = false;
  newBelow = 0;
  /** The count the live region said last, and when (newBelowSaid): a count, not each message. */
  #belowSaid = { count: 0, at: Number.NEGATIVE_INFINITY };
  /**
   * What the screen readers' live region (#announce) says, and the room it is about (null: none,
   * as the unsent note, which is about rooms already gone). Cleared when its room goes: it would
   * be a stale announcement about a room that no longer exists.
   */
  announcement: { room: string | null; text: string } = { room: null, text: '' };
  /** The user's pending invitations by room, oldest first (welcome, then `invitation`/`uninvited`). */
  readonly invitations = new Map<string, Invitation>();
  /**
   * Whom the user bans from the public rooms they own (docs/chat-protocol.md, "bans"), by room, in
   * code unit order: the people panel's Banned list. Asked for when the room is opened (every page),
   * then kept by this tab's own `removed` and `unbanned` answers.
   */
  readonly bans = new Map<string, string[]>();
  /**
   * A server admin (welcome `admin`): moderates every public room, general too, as its owner would
   * (Remove, the Banned list; docs/chat-protocol.md, "Server admins").
   */
  admin = false;
  /** The `bans` request on its way per room, and the names of its pages so far. */
  readonly #bansLoad = new Map<string, { ref: string; names: string[] }>();
  /**
   * The users this user blocks, as the server lists them (welcome, then `blocked`): their messages
   * are drawn collapsed (until shown one by one: `shownBlocked`), their typing is not shown, and
   * their messages notify nothing and count in no mention badge.
   */
  blocked: string[] = [];
  readonly #blockedKeys = new Set<string>();
  /** The messages of blocked users the reader asked to see: `room \0 seq`. */
  readonly #shownBlocked = new Set<string>();
  /** The last page of `rooms` (the directory of public rooms). */
  directory: RoomListing[] = [];
  directoryNext: string | undefined;
  readonly #host: StateHost;
  readonly #requests = new Map<
    string,
    { kind: RequestKind; room: string; private?: boolean; afterJoin?: boolean; user?: string }
  >();
  #nextRef = 1;

  constructor(host: StateHost, active = DEFAULT_ROOM) {
    this.#host = host;
    this.active = active;
  }

  #request(
    kind: RequestKind,
    room: string,
    message: ClientMessage,
    extra: { private?: boolean; afterJoin?: boolean; user?: string } = {},
  ): string {
    const ref = `${kind}${this.#nextRef++}`;
    this.#requests.set(ref, { kind, room, ...extra });
    // Replies that never come (a connection lost) must not keep entries forever.
    if (this.#requests.size > 200) this.#requests.delete(this.#requests.keys().next().value as string);
    this.#host.send({ ...message, ref } as ClientMessage);
    return ref;
  }

  #changed(...changes: Change[]): void {
    for (const c of changes) this.changes.add(c);
  }

  /** Sets what the live region says, about `room` (see `announcement`). */
  announce(room: string | null, text: string): void {
    this.announcement = { room, text };
    this.#changed('announce');
  }

  /**
   * Says `text` as the composer's notice: an action (a delete, a reaction, an edit, an invitation,
   * Sign out...) was not done for being offline. It goes at the next welcome, back online, unless
   * another notice has replaced it meanwhile.
   */
  offlineNotice(text: string): void {
    this.composerError = text;
    this.#offlineNotice = text;
    this.#changed('errors');
  }

  /** `name` is no longer the user's: what the live region said about it goes with it. */
  #forget(name: string): void {
    this.rooms.delete(name);
    this.bans.delete(name);
    this.#bansLoad.delete(name);
    if (this.announcement.room === name) this.announce(null, '');
  }

  /** The first message on a new connection: the head of every room whose messages the page holds. */
  hello(): ClientMessage {
    const known: Record<string, number> = {};
    const tags: Record<string, string> = {};
    for (const room of this.rooms.values()) {
      if (!room.loaded) continue;
      known[room.name] = room.head;
      if (room.tag !== null) tags[room.name] = room.tag;
    }
    return Object.keys(tags).length > 0
      ? { v: 2, type: 'hello', rooms: known, tags }
      : { v: 2, type: 'hello', rooms: known };
  }

  /** How a room is named on the page (roomLabel, with the names the page has seen). */
  label(room: Pick<Room, 'name' | 'kind'>): string {
    return roomLabel(room, this.me, this.#names);
  }

  receive(msg: ServerMessage): void {
    this.#learnNames(msg);
    switch (msg.type) {
      case 'welcome':
        this.admin = msg.admin === true;
        this.#welcome(msg.user, msg.rooms, msg.limits);
        this.invitations.clear();
        for (const invitation of msg.invitations ?? []) this.invitations.set(invitation.room, invitation);
        this.#changed('invitations');
        this.#setBlocked(msg.blocked ?? []);
        return;
      case 'blocked':
        if (msg.ref !== undefined) this.#requests.delete(msg.ref);
        this.#setBlocked(msg.users);
        return;
      case 'invitation': {
        const { room, by, ts } = msg;
        this.invitations.set(room, { room, by, ts });
        this.#changed('invitations');
        this.#host.invited?.({ room, by, ts });
        return;
      }
      case 'uninvited':
        if (msg.ref !== undefined) this.#requests.delete(msg.ref);
        if (this.invitations.delete(msg.room)) this.#changed('invitations');
        return;
      case 'message':
      case 'edited':
      case 'deleted':
      case 'reacted':
      case 'topic':
        this.#event(msg);
        return;
      case 'history':
        this.#history(
          msg.room,
          msg.messages,
          msg.head,
          msg.tag ?? null,
          msg.hasMore,
          msg.ref,
          msg.events ?? [],
        );
        return;
      case 'synced': {
        const room = this.rooms.get(msg.room);
        if (!room) return;
        room.syncing = false;
        this.#drain(room);
        return;
      }
      case 'service':
        if (msg.available) this.#loadRefused();
        return;
      case 'reset': {
        const room = this.rooms.get(msg.room);
        if (!room) return;
        // Too far behind to replay: start this room again from its latest page.
        room.loaded = false;
        room.messages.clear();
        room.waiting.clear();
        room.notices = [];
        room.syncing = false;
        room.head = msg.head;
        room.tag = null;
        if (room.name === this.active) this.#loadLatest(room);
        this.#changed('messages');
        return;
      }
      case 'presence': {
        const room = this.rooms.get(msg.room);
        if (!room) return;
        if (msg.online) room.online.add(msg.user);
        else room.online.delete(msg.user);
        // No connection of theirs is in the room any more: they type nowhere there. (It also ends
        // a notice that crossed their removal: sent from their node before this one.)
        if (!msg.online && room.typing.delete(msg.user)) this.#changed('typing');
        this.#changed('online');
        return;
      }
      case 'member': {
        const room = this.rooms.get(msg.room);
        if (!room) return;
        if (!msg.joined) room.online.delete(msg.user);
        // Left or removed: their typing line goes with them (the server sends no "stopped typing").
        if (!msg.joined && room.typing.delete(msg.user)) this.#changed('typing');
        if (msg.joined) room.members?.add(msg.user);
        else room.members?.delete(msg.user);
        room.membersLoad?.notices.set(msg.user, msg.joined);
        this.#notice(
          room,
          memberNotice(msg.user === this.me ? 'You' : msg.user, msg.joined, room.kind, this.label(room)),
        );
        this.#changed('online');
        return;
      }
      case 'typing': {
        const room = this.rooms.get(msg.room);
        if (!room || msg.user === this.me || this.isBlocked(msg.user)) return;
        room.typing.set(msg.user, this.#host.now() + TYPING_SHOW_MS);
        this.#changed('typing');
        return;
      }
      case 'members':
        this.#membersPage(msg.room, msg.members, msg.next, msg.ref);
        return;
      case 'bans':
        this.#bansPage(msg.room, msg.users, msg.next, msg.ref);
        return;
      case 'unbanned': {
        if (msg.ref !== undefined) this.#requests.delete(msg.ref);
        const list = this.bans.get(msg.room);
        if (list)
          this.bans.set(
            msg.room,
            list.filter((u) => u !== msg.user),
          );
        const room = this.rooms.get(msg.room);
        if (msg.ref === undefined) {
          // This user's own ban lifted (by the room's owner or an admin): said, in place of what
          // was said of their removal or refused join (the server sends this only for a ban it
          // lifted). Made in another tab of a moderator: the list follows, no word here.
          if (msg.user.toLowerCase() === this.me.toLowerCase()) {
            this.roomError = '';
            this.roomDone = `You may join ${room ? this.label(room) : `#${msg.room}`} again.`;
            this.#changed('errors');
          }
          this.#changed('online');
          return;
        }
        this.roomError = '';
        this.roomDone = `${msg.user} can join ${room ? this.label(room) : `#${msg.room}`} again.`;
        this.#changed('errors', 'online');
        return;
      }
      case 'rooms':
        this.directory = msg.rooms;
        this.directoryNext = msg.next;
        this.#changed('directory');
        return;
      case 'joined':
        this.#joined(msg);
        return;
      case 'left':
        this.#left(msg.room, msg.reason);
        return;
      case 'error':
        this.#error(msg.code, saidOf(msg.code, msg.message, msg.retryAfterMs), msg.ref);
        return;
      case 'read':
        // With a ref: the answer to this tab's own marker. Without: read in another tab or device.
        if (msg.ref !== undefined) this.#requests.delete(msg.ref);
        else this.#readElsewhere(msg.room, msg.seq);
        return;
      case 'invited':
      case 'removed': {
        const request = msg.ref === undefined ? undefined : this.#requests.get(msg.ref);
        if (msg.ref !== undefined) this.#requests.delete(msg.ref);
        // Without ref: a ban made in another tab (the owner's, an admin's): the list only, below.
        if (msg.ref === undefined) {
          const list = this.bans.get(msg.room);
          if (msg.type === 'removed' && list && !list.includes(msg.user)) {
            this.bans.set(msg.room, [...list, msg.user].sort());
            this.#changed('online');
          }
          return;
        }
        this.roomError = '';
        // Invited: nothing else shows it but a name added to the members' list (a removal takes
        // the name away and says "left" in the conversation).
        const room = this.rooms.get(msg.room);
        const label = room ? this.label(room) : `#${msg.room}`;
        this.roomDone =
          msg.type === 'invited' && request?.kind === 'invite'
            ? `Invited ${msg.user} to ${label}; waiting for them to accept.`
            : '';
        // Out of a public room, and banned: on the owner's Banned list (also one who was not in).
        const list = this.bans.get(msg.room);
        if (msg.type === 'removed' && room?.kind === 'public' && list && !list.includes(msg.user)) {
          this.bans.set(msg.room, [...list, msg.user].sort());
          this.#changed('online');
        }
        this.#changed('errors');
        return;
      }
      default: {
        const stepped = unknownRoomEvent(msg);
        if (stepped) {
          this.#event(stepped);
          return;
        }
        // ack, pong: the outbox (main.ts) handles them.
        if ('ref' in msg && msg.ref !== undefined) this.#requests.delete(msg.ref);
        return;
      }
    }
  }

  /** Keeps the users' names a server message gives (see #names); relabels a direct message. */
  #learnNames(msg: ServerMessage): void {
    const names: string[] = [];
    switch (msg.type) {
      case 'welcome':
        for (const room of msg.rooms) names.push(...room.online);
        break;
      case 'joined':
        names.push(...msg.online);
        break;
      case 'message':
        names.push(msg.message.user);
        break;
      case 'history':
        for (const m of msg.messages) names.push(m.user);
        break;
      case 'members':
        names.push(...msg.members);
        break;
      case 'edited':
      case 'deleted':
      case 'reacted':
      case 'topic':
      case 'presence':
      case 'member':
      case 'typing':
      case 'invited':
      case 'removed':
        names.push(msg.user);
        break;
      case 'invitation':
        names.push(msg.by);
        break;
    }
    const learned = new Set<string>();
    for (const name of names) {
      const key = name.toLowerCase();
      if (this.#names.get(key) === name) continue;
      this.#names.set(key, name);
      learned.add(key);
    }
    if (learned.size === 0) return;
    // The room list and the header show it (a name of no direct message's user changes nothing).
    const dms = [...this.rooms.values()].filter((room) => room.kind === 'dm');
    if (dms.some((room) => learned.has(dmPeer(room.name, this.me)))) this.#changed('rooms');
  }

  #welcome(user: string, states: RoomState[], limits: Limits): void {
    this.me = user;
    this.limits = limits;
    // "Offline — ...: try again once the chat is back online": it is back. (Not done again by
    // itself: the user may no longer want it, and the control is there to do it.)
    if (this.#offlineNotice !== '' && this.composerError === this.#offlineNotice) {
      this.composerError = '';
      this.#changed('errors');
    }
    this.#offlineNotice = '';
    const seen = new Set<string>();
    for (const state of states) {
      seen.add(state.room);
      const room = this.rooms.get(state.room);
      if (!room) {
        this.rooms.set(state.room, newRoom(state));
        continue;
      }
      room.online = new Set(state.online);
      // Someone gone offline meanwhile (a presence notice missed) is typing no more.
      for (const user of room.typing.keys()) if (!room.online.has(user)) room.typing.delete(user);
      room.kind = state.kind;
      room.owner = state.owner;
      // As of the welcome's head; a loaded room's replay from its own head sets it again in order.
      room.topic = state.topic ?? '';
      if (room.name !== this.active) {
        room.unread = state.unread;
        room.mentions = state.mentions ?? 0;
        room.counted = [];
        room.countedAfter = state.head;
      }
      // A loaded room gets its missed events by replay (the hello named its head).
      if (!room.loaded) {
        room.head = state.head;
        room.tag = null;
      }
    }
    for (const name of [...this.rooms.keys()]) if (!seen.has(name)) this.#forget(name);
    if (!this.rooms.has(this.active)) this.active = this.#fallbackRoom();
    // Notices were missed while away: the open room's list is asked for again (shown as it was
    // until the answer), the others' when they are opened. A load of the old connection is over.
    this.#bansLoad.clear();
    for (const room of this.rooms.values()) {
      room.membersLoad = null;
      if (room.name !== this.active) room.members = null;
      // So is an older page asked for on it: its answer was lost with it. Waited for, it kept
      // every next loadOlder() from asking (scrolling up loaded nothing more in that room) and a
      // search's jump to a hit further back waiting for good (main.ts locate: 'wait').
      room.loadingOlder = false;
    }
    this.open(this.active);
    const active = this.rooms.get(this.active);
    if (active) this.#loadMembers(active, true);
  }

  /**
   * Asks for a private room's members (`again`: even if the page has them), unless a load is on its
   * way. Public rooms and direct messages show who is online only.
   */
  #loadMembers(room: Room, again: boolean): void {
    if (room.kind !== 'private' || room.membersLoad || (room.members && !again)) return;
    const ref = this.#request('members', room.name, { v: 2, type: 'members', room: room.name });
    room.membersLoad = { ref, names: new Set(), notices: new Map() };
  }

  /**
   * Asks for the bans of a public room the user owns, each time it is opened (another tab of theirs
   * may have changed them), unless a load is on its way.
   */
  #loadBans(room: Room): void {
    if (!this.mayBan(room.name) || this.#bansLoad.has(room.name)) return;
    const ref = this.#request('bans', room.name, { v: 2, type: 'bans', room: room.name });
    this.#bansLoad.set(room.name, { ref, names: [] });
  }

  #bansPage(name: string, names: string[], next: string | undefined, ref: string | undefined): void {
    if (ref !== undefined) this.#requests.delete(ref);
    const load = this.#bansLoad.get(name);
    if (!load || load.ref !== ref) return;
    load.names.push(...names);
    if (next !== undefined) {
      load.ref = this.#request('bans', name, { v: 2, type: 'bans', room: name, after: next });
      return;
    }
    this.#bansLoad.delete(name);
    if (!this.rooms.has(name)) return;
    this.bans.set(name, load.names);
    if (name === this.active) this.#changed('online');
  }

  #membersPage(name: string, names: string[], next: string | undefined, ref: string | undefined): void {
    if (ref !== undefined) this.#requests.delete(ref);
    const room = this.rooms.get(name);
    const load = room?.membersLoad;
    if (!room || !load || load.ref !== ref) return;
    for (const user of names) load.names.add(user);
    if (next !== undefined) {
      load.ref = this.#request('members', name, { v: 2, type: 'members', room: name, after: next });
      return;
    }
    for (const [user, joined] of load.notices) {
      if (joined) load.names.add(user);
      else load.names.delete(user);
    }
    room.members = load.names;
    room.membersLoad = null;
    if (name === this.active) this.#changed('online');
  }

  #fallbackRoom(): string {
    return this.rooms.has(DEFAULT_ROOM) ? DEFAULT_ROOM : ([...this.rooms.keys()].sort()[0] ?? '');
  }

  // ---- room events, in seq order ----

  #event(event: RoomEvent): void {
    const room = this.rooms.get(eventRoom(event));
    if (!room) return;
    const seq = eventSeq(event);
    if (!room.loaded) {
      // Not displayed yet: only count unread messages; history loads when the room is opened.
      if (seq > room.head) {
        room.head = seq;
        room.tag = event.tag ?? null;
        // At or before `countedAfter`: in the server's count already, or read in another tab.
        if (event.type === 'message' && event.message.user !== this.me && seq > room.countedAfter) {
          // The open room, its history on its way: the reader sees this message with it, as one
          // arriving just after (counted, it stayed unread if they left before the read marker and
          // put "new messages" one too high when they came back). It is new to them, though: below
          // the divider if there is one.
          if (room.name === this.active && this.visible) {
            if (room.unreadAtOpen > 0 && this.#unreadKind(event.message)) room.unreadAtOpen++;
          } else this.#countUnread(room, event.message);
          if (this.#speaksToMe(room, event.message)) this.#host.mentioned?.(event.message, room);
        } else if (event.type === 'edited' || event.type === 'deleted') this.#recount(room, event);
        // The header shows it whether the room's messages are loaded or not.
        else if (event.type === 'topic') room.topic = event.text;
        this.#changed('rooms');
      }
      return;
    }
    if (seq <= room.head) return; // already applied
    if (seq > room.head + 1) {
      room.waiting.set(seq, event);
      if (!room.syncing) this.#sync(room);
      return;
    }
    this.#apply(room, event);
    this.#drain(room);
  }

  /** Asks for the room's events after its head (they arrive before `synced`, or `reset` comes). */
  #sync(room: Room): void {
    room.syncing = true;
    const sync: ClientMessage = { v: 2, type: 'sync', room: room.name, after: room.head };
    if (room.tag !== null) sync.tag = room.tag;
    this.#request('sync', room.name, sync);
  }

  #drain(room: Room): void {
    for (;;) {
      const next = room.waiting.get(room.head + 1);
      if (!next) break;
      room.waiting.delete(room.head + 1);
      this.#apply(room, next);
    }
    for (const seq of room.waiting.keys()) if (seq <= room.head) room.waiting.delete(seq);
  }

  #apply(room: Room, event: RoomEvent): void {
    room.head = eventSeq(event);
    room.tag = event.tag ?? null;
    if (!KNOWN_EVENTS.has(event.type)) return; // stepped over (unknownRoomEvent)
    const isActive = room.name === this.active;
    if (event.type === 'message') {
      putInOrder(room.messages, [event.message]);
      // Their message is here: they are no longer typing it.
      if (room.typing.delete(event.message.user)) this.#changed('typing');
      if (event.message.user !== this.me && this.#speaksToMe(room, event.message))
        this.#host.mentioned?.(event.message, room);
      if (event.message.user !== this.me && isActive && this.scrolledBack) this.newBelow++;
      // At or before `countedAfter`, the server's count has it already: a resume's welcome counts
      // what a room not shown missed, and its replay follows (counted again, 2 unread were 4).
      const counted = event.message.seq <= room.countedAfter;
      if (event.message.user !== this.me && (!isActive || !this.visible) && !counted) {
        this.#countUnread(room, event.message);
        // Arriving while the tab is hidden: the reader finds the divider above it on return.
        if (isActive && room.firstUnread === null && this.#unreadKind(event.message))
          room.firstUnread = event.message.seq;
        this.#changed('rooms');
      }
    } else if (event.type === 'topic') {
      // No message: not unread, no notification; a line in the conversation says who changed it.
      room.topic = event.text;
      this.#notice(room, topicNotice(event.user === this.me ? 'You' : event.user, event.text), true);
      this.#changed('rooms');
    } else if (event.type === 'reacted') {
      const target = room.messages.get(event.target);
      if (target && !target.deleted) {
        const { reactions: before, ...rest } = target;
        const reactions = applyReaction(before, event.user, event.emoji, event.on);
        room.messages.set(target.seq, reactions ? { ...rest, reactions } : rest);
      }
    } else {
      if (this.#recount(room, event)) this.#changed('rooms');
      const target = room.messages.get(event.target);
      if (target) {
        if (event.type === 'edited') {
          const { mentions: _, ...rest } = target;
          const edited: ChatMessage = { ...rest, text: event.text, editedAt: event.ts };
          if (event.mentions) edited.mentions = event.mentions;
          room.messages.set(target.seq, edited);
        } else {
          // As a reload would show it: nothing derived from the deleted text (the server sends a
          // deleted message without its quote, mentions, files and reactions; chaos test).
          const { reactions: _r, reply: _q, mentions: _m, attachments: _a, ...rest } = target;
          room.messages.set(target.seq, { ...rest, text: '', deleted: true });
        }
      }
      // The quotes of the replies to it follow: the new text, or "deleted" (never the old text).
      for (const message of room.messages.values()) {
        if (message.reply?.seq !== event.target) continue;
        const reply: ChatMessage['reply'] =
          event.type === 'edited'
            ? { seq: event.target, user: message.reply.user, text: excerpt(event.text) }
            : { seq: event.target, user: message.reply.user, text: '', deleted: true };
        // Set on a key it has: the map's order stays (and iterating it, it is not seen again).
        room.messages.set(message.seq, { ...message, reply });
      }
    }
    if (isActive) {
      if (event.type === 'message') this.stick = true;
      this.#changed('messages');
    }
  }

  #history(
    name: string,
    messages: ChatMessage[],
    head: number,
    tag: string | null,
    hasMore: boolean,
    ref: string | undefined,
    events: readonly RoomEvent[] = [],
  ): void {
    const room = this.rooms.get(name);
    const request = ref === undefined ? undefined : this.#requests.get(ref);
    if (ref !== undefined) this.#requests.delete(ref);
    if (!room) return;
    const older = request?.kind === 'older';
    if (!older) {
      // Replies and room events are not ordered with each other: on several nodes the page may
      // have been read before events that reached us ahead of it. Those are asked for again.
      const seen = Math.max(room.head, ...room.waiting.keys());
      room.messages.clear();
      room.notices = [];
      room.waiting.clear();
      room.head = head;
      room.tag = tag;
      room.loaded = true;
      if (seen > head) this.#sync(room);
    }
    putInOrder(room.messages, messages);
    this.#historyLines(room, events);
    room.hasMore = hasMore;
    room.loadingOlder = false;
    if (older && room.unreadOlder > 0) {
      const theirs = messages.filter((m) => this.#unreadKind(m)).map((m) => m.seq);
      theirs.sort((a, b) => b - a);
      const n = Math.min(room.unreadOlder, theirs.length);
      if (n > 0) room.firstUnread = theirs[n - 1];
      room.unreadOlder = hasMore ? room.unreadOlder - n : 0;
    }
    if (room.revealing !== null) this.#continueReveal(room);
    if (name !== this.active) return;
    if (older) this.#changed('older');
    else {
      room.firstUnread = this.#divider(room, room.unreadAtOpen);
      this.jump = true;
      this.#changed('messages');
    }
  }

  /**
   * The lines a history page's `events` draw among its messages, each after the seq it had: the
   * topic changes of the seqs the page covers (they are no messages). A type this page does not
   * know is stepped over, as in a replay. A page covers its own seqs only, so no line comes twice.
   */
  #historyLines(room: Room, events: readonly RoomEvent[]): void {
    const lines: Notice[] = [];
    for (const event of events)
      if (event.type === 'topic')
        lines.push({
          after: event.seq,
          text: topicNotice(event.user === this.me ? 'You' : event.user, event.text),
          event: true,
        });
    if (lines.length === 0) return;
    // Room events' lines, kept as the page's messages are (MAX_NOTICES caps the transient ones).
    room.notices = [...room.notices, ...lines].sort((a, b) => a.after - b.after);
  }

  #loadLatest(room: Room): void {
    room.latestRefused = false;
    this.#request('history', room.name, { v: 2, type: 'history', room: room.name });
  }

  /**
   * Storage is back (several nodes): the open room is loaded again if its history was refused as
   * `unavailable` meanwhile. A node can notice that Redis lost events (and send `reset`) on its
   * reader connection before its command connection is back, so the reload after that `reset` may
   * be refused; nothing else would ask again until the user opened another room.
   */
  #loadRefused(): void {
    const room = this.rooms.get(this.active);
    if (!room || room.loaded) return;
    for (const r of this.#requests.values()) if (r.kind === 'history' && r.room === room.name) return;
    this.#loadLatest(room);
  }

  loadOlder(): void {
    const room = this.rooms.get(this.active);
    if (!room?.loaded || !room.hasMore || room.loadingOlder || room.messages.size === 0) return;
    room.loadingOlder = true;
    const oldest = Math.min(...room.messages.keys());
    this.#request('older', room.name, { v: 2, type: 'history', room: room.name, before: oldest });
  }

  /** `event`: the line of a room event (a topic change), kept as the messages are (Notice.event). */
  #notice(room: Room, text: string, event = false): void {
    room.notices.push(event ? { after: room.head, text, event } : { after: room.head, text });
    capNotices(room.notices);
    if (room.name === this.active) {
      this.stick = true;
      this.#changed('messages');
    }
  }

  // ---- rooms ----

  /**
   * Shows message `seq` of the open room (a reply's original): at once if loaded, else after
   * loading older pages, at most MAX_REVEAL_PAGES of them.
   */
  reveal(seq: number): void {
    const room = this.rooms.get(this.active);
    if (!room?.loaded) return;
    room.revealing = seq;
    room.revealPages = 0;
    this.#continueReveal(room);
  }

  /** The message reveal() found, once (render.ts scrolls to it). */
  revealed: number | null = null;

  #continueReveal(room: Room): void {
    const seq = room.revealing;
    if (seq === null) return;
    if (room.messages.has(seq) || !room.hasMore || room.revealPages >= MAX_REVEAL_PAGES) {
      room.revealing = null;
      if (room.messages.has(seq)) {
        this.revealed = seq;
        this.#changed('reveal');
      } else {
        this.composerError = 'That message is too far back to show here.';
        this.#changed('errors');
      }
      return;
    }
    room.revealPages++;
    this.loadOlder();
  }

  /** Shows a room (loading its history the first time) and clears its unread count. */
  open(name: string): void {
    const previous = this.rooms.get(this.active);
    if (previous && previous.name !== name) {
      previous.firstUnread = null;
      previous.unreadOlder = 0;
      // A reply's original being loaded is for the room left: its older page, arriving now, went
      // on loading the open room's pages and showing the message of that seq there.
      previous.revealing = null;
      // "Invited bob to #plans." is about the room left: shown on in another room (a direct
      // message), it read as news about that one. An error stays (a refusal to act on).
      if (this.roomDone !== '') {
        this.roomDone = '';
        this.#changed('errors');
      }
    }
    this.active = name;
    if (previous?.name !== name) this.seenEnd(true);
    const room = this.rooms.get(name);
    if (room) {
      if (room.name !== previous?.name || room.unread > 0) {
        room.unreadAtOpen = room.unread;
        if (room.loaded) room.firstUnread = this.#divider(room, room.unread);
      }
      this.#loadMembers(room, false);
      this.#loadBans(room);
      if (!room.loaded) this.#loadLatest(room);
      this.#clearUnread(room);
    }
    if (room?.name !== previous?.name || !room?.loaded) this.jump = true;
    this.#changed('active', 'rooms', 'messages', 'online', 'typing');
  }

  /**
   * Whether a message from someone else is for the user: it mentions them, or it is in a direct
   * message (a person writing to them alone, which a notification of mentions only missed).
   */
  #speaksToMe(room: Room, message: ChatMessage): boolean {
    if (this.isBlocked(message.user)) return false; // a blocked user's message says nothing to them
    return room.kind === 'dm' || mentionsMe(message, this.me);
  }

  /**
   * A message that can be unread to the user: by someone else whom they do not block (the server
   * counts the same: a blocked user's messages notify nothing and count in no badge, Discord's and
   * Matrix's way with ignored users).
   */
  #unreadKind(message: { user: string }): boolean {
    return message.user !== this.me && !this.isBlocked(message.user);
  }

  /** What a remembered message adds to the counts now: [unread, mentions]. */
  #weight(entry: Room['counted'][number]): [number, number] {
    if (this.isBlocked(entry.user)) return [0, 0];
    return [1, entry.mention ? 1 : 0];
  }

  /** What the remembered messages add to the counts now: [unread, mentions]. */
  #weights(entries: Room['counted']): [number, number] {
    let unread = 0;
    let mentions = 0;
    for (const entry of entries) {
      const [u, m] = this.#weight(entry);
      unread += u;
      mentions += m;
    }
    return [unread, mentions];
  }

  /** Remembers a message by someone else; it counts unless its author is blocked. */
  #countUnread(room: Room, message: ChatMessage): void {
    const entry = { seq: message.seq, user: message.user, mention: mentionsMe(message, this.me) };
    const [unread, mentions] = this.#weight(entry);
    room.unread += unread;
    room.mentions += mentions;
    room.counted.push(entry);
    // Forgotten one by one, it joins the server's part: still counted, read once a read passes it.
    const oldest = room.counted.length > MAX_COUNTED ? room.counted.shift() : undefined;
    if (oldest) room.countedAfter = Math.max(room.countedAfter, oldest.seq);
  }

  /**
   * An unread message counted here was edited or deleted: as the server counts (messages not
   * deleted, their mentions as they are now), a deleted one is unread no more and an edit may add or
   * take away its mention. One within the server's count (at or before `countedAfter`) is not
   * known here: it stays until the next welcome. Whether a count changed.
   */
  #recount(room: Room, event: RoomEvent & { type: 'edited' | 'deleted' }): boolean {
    const i = room.counted.findIndex((c) => c.seq === event.target);
    const entry = room.counted[i];
    if (!entry) return false;
    const [unread, mentions] = this.#weight(entry);
    if (event.type === 'deleted') {
      room.counted.splice(i, 1);
      room.unread -= unread;
      room.mentions -= mentions;
      return unread > 0;
    }
    const mention = mentionsMe(event, this.me);
    if (mention === entry.mention) return false;
    entry.mention = mention;
    room.mentions += this.#weight(entry)[1] - mentions;
    return unread > 0;
  }

  #clearUnread(room: Room): void {
    room.unread = 0;
    room.mentions = 0;
    room.counted = [];
    room.countedAfter = room.head;
  }

  /**
   * The user read `name` up to `seq` in another tab or device: what this tab counted at or before
   * it is read, and the server's count too once `seq` reaches the head it was for (before that, the
   * page cannot tell which of those messages are still unread: they stay). Later messages count.
   */
  #readElsewhere(name: string, seq: number): void {
    const room = this.rooms.get(name);
    if (!room) return;
    const later = room.counted.filter((c) => c.seq > seq);
    const [laterUnread, laterMentions] = this.#weights(later);
    if (seq >= room.countedAfter) {
      room.unread = laterUnread;
      room.mentions = laterMentions;
      // Read up to there: a message at or before it that arrives later (the replay of a node back
      // from an outage, behind the marker it tells) is not counted.
      room.countedAfter = seq;
    } else {
      const [allUnread, allMentions] = this.#weights(room.counted);
      room.unread -= allUnread - laterUnread;
      room.mentions -= allMentions - laterMentions;
    }
    room.counted = later;
    this.#changed('rooms');
  }

  /** Where "new messages" goes: before the `count`-th last message by someone else. */
  #divider(room: Room, count: number): number | null {
    room.unreadOlder = 0;
    if (count <= 0) return null;
    const theirs = [...room.messages.values()]
      .filter((m) => this.#unreadKind(m))
      .map((m) => m.seq)
      .sort((a, b) => b - a);
    if (room.hasMore) room.unreadOlder = Math.max(0, count - theirs.length);
    return theirs.length === 0 ? null : theirs[Math.min(count, theirs.length) - 1];
  }

  /** The read marker for the open room (main.ts sends it a moment after the room is seen). */
  markRead(): void {
    const room = this.rooms.get(this.active);
    if (!room?.loaded || !this.visible) return;
    this.#clearUnread(room);
    this.#changed('rooms');
    // With the tag of the event at head (Redis): if Redis lost that event and the node has not yet
    // said `reset`, the marker stays instead of marking the new events under those seqs.
    const read: ClientMessage = { v: 2, type: 'read', room: room.name, seq: room.head };
    if (room.tag !== null) read.tag = room.tag;
    this.#request('read', room.name, read);
  }

  /** Joins the room if it exists, otherwise creates it (public) or creates it private. */
  joinOrCreate(name: string, isPrivate = false): void {
    if (this.rooms.has(name)) {
      // Answered at once: what was said of the last room asked for is not about this one.
      this.roomError = '';
      this.roomDone = '';
      this.#changed('errors');
      this.open(name);
      return;
    }
    if (isPrivate) this.#request('create', name, { v: 2, type: 'create', room: name, private: true });
    else this.#request('join', name, { v: 2, type: 'join', room: name });
  }

  // ---- blocks ----

  #setBlocked(users: string[]): void {
    const before = new Map([...this.rooms.values()].map((room) => [room, this.#weights(room.counted)]));
    this.blocked = [...users];
    this.#blockedKeys.clear();
    for (const user of users) this.#blockedKeys.add(user.toLowerCase());
    // The messages remembered here count as the list says now (the server's part is as the last
    // welcome counted it: a reload counts it with the list of then).
    for (const [room, [unread, mentions]] of before) {
      const [nowUnread, nowMentions] = this.#weights(room.counted);
      room.unread += nowUnread - unread;
      room.mentions += nowMentions - mentions;
    }
    // Typing lines of users blocked now go at once (their notices are dropped from now on).
    for (const room of this.rooms.values())
      for (const user of room.typing.keys()) if (this.isBlocked(user)) room.typing.delete(user);
    this.#changed('blocked', 'messages', 'online', 'typing', 'rooms');
  }

  isBlocked(user: string): boolean {
    return this.#blockedKeys.has(user.toLowerCase());
  }

  /** Whether the conversation draws this message collapsed: its author is blocked, not shown yet. */
  hides(message: ChatMessage): boolean {
    return this.isBlocked(message.user) && !this.#shownBlocked.has(`${message.room}\u0000${message.seq}`);
  }

  /** Shows one collapsed message of a blocked user (the reader clicked Show). */
  showBlocked(room: string, seq: number): void {
    this.#shownBlocked.add(`${room}\u0000${seq}`);
    this.#changed('messages');
  }

  block(user: string): void {
    this.#request('block', '', { v: 2, type: 'block', user }, { user });
  }

  unblock(user: string): void {
    this.#request('block', '', { v: 2, type: 'unblock', user }, { user });
  }

  startDm(user: string): void {
    this.#request('dm', user, { v: 2, type: 'dm', user });
  }

  leave(name: string): void {
    if (this.rooms.has(name)) this.#request('leave', name, { v: 2, type: 'leave', room: name });
  }

  /** Deletes a room the user owns, with its history, for everyone (answered by `left`). */
  deleteRoom(name: string): void {
    if (this.rooms.has(name)) this.#request('delete_room', name, { v: 2, type: 'delete_room', room: name });
  }

  invite(room: string, user: string): void {
    this.#request('invite', room, { v: 2, type: 'invite', room, user }, { user });
  }

  /** Accepts the invitation to `room`: answered by `joined`, which opens the room. */
  accept(room: string): void {
    this.#request('accept', room, { v: 2, type: 'accept', room });
  }

  /** Declines the invitation to `room` (answered by `uninvited`). */
  decline(room: string): void {
    this.#request('decline', room, { v: 2, type: 'decline', room });
  }

  /**
   * The owner takes `user` out of their room (answered by `removed`; the member notice and the
   * online list follow); out of a public room, also banned until `unban`.
   */
  removeMember(room: string, user: string): void {
    this.#request('remove_member', room, { v: 2, type: 'remove', room, user });
  }

  /** The owner of a public room lifts a ban (answered by `unbanned`). */
  unban(room: string, user: string): void {
    this.#request('unban', room, { v: 2, type: 'unban', room, user });
  }

  /**
   * Whether the user may remove `user` from room `name`: they own it (a private or a public room:
   * general and direct messages have no owner) or, a server admin, it is public; not themselves.
   */
  mayRemove(name: string, user: string): boolean {
    const room = this.rooms.get(name);
    // Nor the room's owner, whom nobody removes from it (the server refuses an admin's removal).
    if (room === undefined || room.kind === 'dm' || user === this.me || user === room.owner) return false;
    return room.owner === this.me || this.mayBan(name);
  }

  /**
   * Whether the user may set the topic of room `name`: they own it (a public or private room), it
   * is a direct message of theirs, or they are a server admin and it is public (general too).
   */
  maySetTopic(name: string): boolean {
    const room = this.rooms.get(name);
    if (room === undefined) return false;
    return room.kind === 'dm' || (room.owner !== null && room.owner === this.me) || this.mayBan(name);
  }

  /** Sets the room's topic ("" clears it); the `topic` event changes it here, a refusal sets topicError. */
  setTopic(room: string, text: string): void {
    this.topicError = '';
    this.#changed('errors');
    this.#request('topic', room, { v: 2, type: 'topic', room, text });
  }

  /**
   * Whether the user may delete other people's messages in room `name`: a server admin, in a public
   * room (general too); nobody else, the room's owner included (docs/chat-protocol.md).
   */
  mayDeleteOthers(name: string): boolean {
    return this.admin && this.rooms.get(name)?.kind === 'public';
  }

  /**
   * Whether the user moderates the public room `name` (owns it, or is a server admin: any public
   * room, general too): its removals ban, and they see and lift the bans.
   */
  mayBan(name: string): boolean {
    const room = this.rooms.get(name);
    return room?.kind === 'public' && (room.owner === this.me || this.admin);
  }

  /**
   * The names "Ban someone" offers in room `name` (panels.ts setUpBanForm): the people the page
   * knows there (online, its members once listed, the authors of its loaded messages), in code unit
   * order; not the user, nor the room's owner (nobody removes them), nor those it bans already.
   * None where the user does not moderate the room.
   */
  banNames(name: string): string[] {
    const room = this.rooms.get(name);
    if (room === undefined || !this.mayBan(name)) return [];
    const names = new Set([...room.online, ...(room.members ?? [])]);
    for (const m of room.messages.values()) names.add(m.user);
    const banned = new Set(this.bans.get(name) ?? []);
    return [...names].filter((n) => n !== this.me && n !== room.owner && !banned.has(n)).sort();
  }

  listRooms(after?: string): void {
    this.#request(
      'rooms',
      '',
      after === undefined ? { v: 2, type: 'rooms' } : { v: 2, type: 'rooms', after },
    );
  }

  edit(room: string, seq: number, text: string): void {
    this.#request('edit', room, { v: 2, type: 'edit', room, seq, text });
  }

  remove(room: string, seq: number): void {
    this.#request('delete', room, { v: 2, type: 'delete', room, seq });
  }

  /** Sets (`on`) or removes the user's reaction; the `reacted` event updates the message. */
  react(room: string, target: number, emoji: string, on: boolean): void {
    this.#request('react', room, { v: 2, type: 'react', room, target, emoji, on });
  }

  typing(room: string): void {
    this.#request('typing', room, { v: 2, type: 'typing', room });
  }

  #joined(msg: RoomState & { ref?: string }): void {
    let room = this.rooms.get(msg.room);
    if (!room) {
      room = newRoom(msg);
      this.rooms.set(room.name, room);
    }
    const request = msg.ref === undefined ? undefined : this.#requests.get(msg.ref);
    if (msg.ref !== undefined) this.#requests.delete(msg.ref);
    // In the room: an invitation to it is spent (accepted here or in another tab).
    if (this.invitations.delete(msg.room)) this.#changed('invitations');
    if (request && ['join', 'create', 'dm', 'accept'].includes(request.kind)) {
      this.roomError = '';
      this.roomDone = '';
      this.#changed('errors');
      this.open(room.name);
    } else this.#changed('rooms');
  }

  #left(name: string, reason: 'deleted' | 'removed' | undefined): void {
    const room = this.rooms.get(name);
    if (!room) return;
    this.#forget(name);
    // Deleted by its owner: the others are told (the owner asked for it).
    if (reason === 'deleted' && room.owner !== this.me) {
      this.roomError = `${this.label(room)} was deleted by its owner`;
      this.#changed('errors');
    }
    // Removed by its owner: as for a deletion, the room goes and the user is told why.
    if (reason === 'removed') {
      this.roomError = `You were removed from ${this.label(room)}`;
      this.#changed('errors');
    }
    if (this.active === name) this.open(this.#fallbackRoom());
    else this.#changed('rooms');
    // Closed here or in another tab: said, as the conversation leaves the list without a word.
    if (reason === undefined && room.kind === 'dm') {
      this.roomDone = `Closed the conversation with ${this.label(room).slice(1)}.`;
      this.#changed('errors');
    }
  }

  #error(code: string, message: string, ref: string | undefined): void {
    const request = ref === undefined ? undefined : this.#requests.get(ref);
    if (ref !== undefined) this.#requests.delete(ref);
    if (request) {
      if (request.kind === 'join' && code === 'no_such_room') {
        // "Join or create": nobody has this room yet.
        this.#request(
          'create',
          request.room,
          { v: 2, type: 'create', room: request.room },
          { afterJoin: true },
        );
        return;
      }
      if (request.kind === 'create' && request.afterJoin && code === 'room_exists') {
        // Not joinable, yet taken: a private room the user is not in ("already exists" would
        // answer a question the user did not ask, after they asked to join it).
        this.roomError = `#${request.room} is a private room: its owner can invite you`;
        this.#changed('errors');
        return;
      }
      if ((request.kind === 'accept' || request.kind === 'decline') && code === 'no_such_room') {
        // Gone meanwhile (expired, taken back, its room deleted): it goes from the list too.
        if (this.invitations.delete(request.room)) this.#changed('invitations');
      }
      if (request.kind === 'invite' && code === 'already_member') {
        // Nothing was done (the server's `invited` would have said someone was let in): said in
        // the page's words, the room as the page names it.
        const room = this.rooms.get(request.room);
        const label = room ? this.label(room) : `#${request.room}`;
        const who = request.user ?? '';
        this.roomError =
          who.toLowerCase() === this.me.toLowerCase()
            ? `You are already in ${label}.`
            : `${who} is already in ${label}.`;
        this.#changed('errors');
        return;
      }
      if (request.kind === 'join' && code === 'banned') {
        // In the page's words and the room's name (the server's are the same whoever banned).
        this.roomError = `You are banned from #${request.room}.`;
        this.#changed('errors');
        return;
      }
      if (request.kind === 'invite' && code === 'already_invited') {
        const room = this.rooms.get(request.room);
        this.roomError = `${request.user ?? ''} is already invited to ${room ? this.label(room) : `#${request.room}`}.`;
        this.#changed('errors');
        return;
      }
      // The directory (`rooms`: "All rooms", in the room list's area) is answered there too: under
      // the composer, a phone's open rooms drawer covered its refusal.
      if (
        [
          'join',
          'create',
          'dm',
          'leave',
          'invite',
          'accept',
          'decline',
          'remove_member',
          'unban',
          'delete_room',
          'rooms',
          'block',
        ].includes(request.kind)
      ) {
        this.roomError = message;
        this.#changed('errors');
        return;
      }
      if (request.kind === 'older') {
        const room = this.rooms.get(request.room);
        if (room) {
          room.loadingOlder = false;
          // Said once, where the user looks: a search's jump says it in the search panel, where
          // its hit was clicked and is there to click again (the composer's notice, an alert at
          // the other end of the page, said it a second time).
          const toldThere = this.#host.olderRefused?.(room.name, message) === true;
          // A reply's original waited for this page: the reveal ends (else the next older page,
          // scrolled to maybe minutes later, went on with it and took the view to it). Said where
          // a reveal's end is ("too far back"); the quote clicked again asks again.
          const revealing = room.revealing !== null;
          room.revealing = null;
          if (toldThere) return;
          if (revealing && room.name === this.active) {
            this.composerError = `The original message was not loaded: ${message}`;
            this.#changed('errors');
            return;
          }
        }
      }
      if (request.kind === 'history') {
        const room = this.rooms.get(request.room);
        if (room && !room.loaded) {
          room.latestRefused = true;
          // A search's jump that opened the room waited for this page: it ends, said there.
          if (this.#host.latestRefused?.(room.name, message) === true) return;
        }
      }
      if (request.kind === 'topic') {
        // Said beside the topic's editor (the header), where it was typed.
        this.topicError = message;
        this.#changed('errors');
        return;
      }
      if (request.kind === 'bans') {
        // The Banned list stays as it was (or absent); asked for again when the room is opened next.
        if (this.#bansLoad.get(request.room)?.ref === ref) this.#bansLoad.delete(request.room);
        return;
      }
      if (request.kind === 'members') {
        // The panel keeps what it shows (the online list, or the members as they were); the list
        // is asked for again when the room is opened next.
        const room = this.rooms.get(request.room);
        if (room && room.membersLoad?.ref === ref) room.membersLoad = null;
        return;
      }
      // A request about a room left meanwhile (a read marker, a typing notice): nothing to tell.
      if (request.room !== '' && !this.rooms.has(request.room)) return;
      if (request.kind === 'sync') {
        const room = this.rooms.get(request.room);
        if (room) room.syncing = false;
      }
    }
    if (code === 'unavailable' && request && ['read', 'typing', 'history', 'older'].includes(request.kind))
      return;
    this.composerError = message;
    this.#changed('errors');
  }

  /**
   * Whether a reply being written to message `seq` of `room` can still be sent as one: 'deleted'
   * once the page holds that message as deleted (a live `deleted`, a replay or a history after a
   * resume), 'gone' when the room is; else 'ok' (a message not loaded is not known to be deleted).
   */
  replyTarget(room: string, seq: number): 'ok' | 'deleted' | 'gone' {
    return this.#target(room, seq);
  }

  /**
   * Whether an edit being written of message `seq` of `room` can still be sent: as replyTarget (an
   * edit of a deleted message is refused, `not_found`, and its text would be lost).
   */
  editTarget(room: string, seq: number): 'ok' | 'deleted' | 'gone' {
    return this.#target(room, seq);
  }

  #target(room: string, seq: number): 'ok' | 'deleted' | 'gone' {
    const r = this.rooms.get(room);
    if (!r) return 'gone';
    return r.messages.get(seq)?.deleted ? 'deleted' : 'ok';
  }

  // ---- the reader's place ----

  /**
   * Where the reader is in the open room (conversation.ts, after each redraw and scroll): at its
   * end, what arrived below has been seen. (Called with true on opening another room: a count is
   * the open room's; its redraw and the scroll say where the reader is then.)
   */
  seenEnd(atEnd: boolean): void {
    this.scrolledBack = !atEnd;
    if (!atEnd) return;
    this.newBelow = 0;
    this.#belowSaid.count = 0;
  }

  /**
   * What the live region says of the messages arriving below the view: their count, not each
   * message, and at most once per NEW_BELOW_SAY_MS. A string: say it now; a number: ask again then
   * (main.ts owns the timer); null: nothing new to say.
   */
  newBelowSaid(): string | number | null {
    if (this.newBelow === 0 || this.newBelow === this.#belowSaid.count) return null;
    const now = this.#host.now();
    const due = this.#belowSaid.at + NEW_BELOW_SAY_MS;
    if (now < due) return due;
    this.#belowSaid = { count: this.newBelow, at: now };
    return `${newMessagesLabel(this.newBelow)} below`;
  }

  // ---- typing ----

  /** Users typing in `room` at `now`, sorted. */
  typingIn(room: string, now: number): string[] {
    const r = this.rooms.get(room);
    if (!r) return [];
    for (const [user, until] of r.typing) if (until <= now) r.typing.delete(user);
    return [...r.typing.keys()].sort();
  }

  /** When the typing line of the open room changes next by itself (an indicator expires). */
  nextTypingExpiry(now: number): number | null {
    const r = this.rooms.get(this.active);
    let next: number | null = null;
    for (const until of r?.typing.values() ?? [])
      if (until > now && (next === null || until < next)) next = until;
    return next;
  }

  /** Total unread in the rooms not shown (the tab title). */
  get unreadElsewhere(): number {
    let n = 0;
    for (const r of this.rooms.values()) if (r.name !== this.active) n += r.unread;
    return n;
  }
}
