/**
 * What this node knows about its own connections: which users have connections here, which rooms
 * each connection is in, and one RoomChannel per room in use. Entering and leaving a room (and the
 * presence that follows) happen here and nowhere else.
 *
 * - A room's channel opens with the first connection that enters the room on this node and closes
 *   with the last one that leaves (never while it is still opening).
 * - A user's topic (`user:<name>`) is heard while the user has a connection here: membership changes
 *   made elsewhere (another tab joined a room, an invitation, a removal) arrive on it, and so does
 *   the read marker moved by another tab.
 * - A deleted room is told once on the `rooms` topic, which every node hears, whatever the number of
 *   its members: each node hands the notice to its own connections in that room.
 * - Presence is announced on the room's topic when a user's first connection enters the room and
 *   when the last one leaves it, whatever the cause (connecting, joining, leaving, closing).
 * - A membership change may also come through the room's committed events (a backend whose
 *   notices are not ordered with its events: Redis, events.ts), at its place among them: it is
 *   marked on each connection it takes out (the user's, or all of the room's for a deletion) and
 *   handed to `onLogChange` synchronously before the channel publishes its next event, unless the
 *   connection left (the bus notice came first) or entered the room again (the store's word) by
 *   then. Until an event follows, the room's notices reach it as before (the bus usually wins).
 * - Those notices are at most once. When the bus hears its topics again after losing them, each
 *   room's channel is told the store's online list and tells its connections what they missed
 *   (resyncPresence; RoomChannel.resync). If the store cannot be read then, it runs again on a
 *   bounded backoff and when the service is back (serviceBack; rerun.ts). Typing notices are not
 *   resynced: a client forgets them after a few seconds (docs/chat-protocol.md, typing).
 */
import { createHash } from 'node:crypto';
import {
  type Invitation,
  PROTOCOL_VERSION,
  type RoomState,
  type ServerMessage,
} from '../../shared/protocol.js';
import type { Backend, LogChange, Membership } from '../ports.js';
import type { Connection, ConnRoom } from './connection.js';
import { encode } from './replies.js';
import { Rerun } from './rerun.js';
import { RoomChannel } from './room-channel.js';

/** The topic every node hears: rooms deleted (one notice per room, not one per member). */
export const ROOMS_TOPIC = 'rooms';

/**
 * Sent to every connection of a user, on any node: membership changes, invitations made and gone,
 * the read marker moved
 * forward (`from`: the connection that moved it, which has its reply already), and a session
 * signed out (`session`: sessionDigest of its token; the token itself never leaves the node).
 */
export type UserEvent =
  | { op: 'joined'; room: string }
  | { op: 'left'; room: string; reason?: 'deleted' | 'removed' }
  | { op: 'read'; room: string; seq: number; from: string }
  /**
   * A pending invitation made (`invitation`) or gone (`uninvited`: accepted, declined, taken back,
   * its room deleted; `from`: the connection that declined, which has its answer already).
   */
  | { op: 'invitation'; invitation: Invitation }
  | { op: 'uninvited'; room: string; from?: string }
  /**
   * A ban (`banned`) or its lifting in a public room, told to its moderators' connections (the one
   * who made it, the owner, the server admins; `from`: the connection that asked, answered already).
   */
  | { op: 'moderated'; room: string; user: string; banned: boolean; from: string }
  /** The users this user blocks, after a change (`from`: the connection that asked, answered already). */
  | { op: 'blocked'; users: string[]; from: string }
  /** `renewed`: ended by a password change that gave its page a new token (close 4001, not 1008). */
  | { op: 'signed_out'; session: string; renewed?: true };

/** What names a session on the bus: a digest of its token, which is a secret. */
export function sessionDigest(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export class LocalRooms {
  readonly #backend: Backend;
  readonly #publishLocal: (topic: string, payload: string) => void;
  readonly #onUserEvent: (conn: Connection, event: UserEvent) => void;
  readonly #onLogChange: (conn: Connection, room: string, change: LogChange) => void;
  readonly #channels = new Map<string, RoomChannel>();
  readonly #byUser = new Map<string, { conns: Set<Connection>; listener: (payload: string) => void }>();
  readonly #resync = new Rerun(() => this.#resyncOnce());

  constructor(
    backend: Backend,
    publishLocal: (topic: string, payload: string) => void,
    onUserEvent: (conn: Connection, event: UserEvent) => void,
    onLogChange: (conn: Connection, room: string, change: LogChange) => void = () => {},
  ) {
    this.#backend = backend;
    this.#publishLocal = publishLocal;
    this.#onUserEvent = onUserEvent;
    this.#onLogChange = onLogChange;
    // Heard for the hub's life: the subscription ends with the backend's bus at shutdown.
    backend.bus.subscribe(ROOMS_TOPIC, this.#onRoomsNotice);
    backend.bus.onResubscribed(() => void this.resyncPresence());
  }

  readonly #onRoomsNotice = (payload: string): void => {
    const event = JSON.parse(payload) as Extract<UserEvent, { op: 'left' }>;
    for (const conn of this.connections()) if (conn.rooms.has(event.room)) this.#onUserEvent(conn, event);
  };

  // ---- users ----

  track(conn: Connection): void {
    let entry = this.#byUser.get(conn.user);
    if (!entry) {
      const conns = new Set<Connection>();
      const listener = (payload: string) => {
        const event = JSON.parse(payload) as UserEvent;
        for (const c of conns) this.#onUserEvent(c, event);
      };
      entry = { conns, listener };
      this.#byUser.set(conn.user, entry);
      this.#backend.bus.subscribe(`user:${conn.user}`, listener);
    }
    entry.conns.add(conn);
  }

  untrack(conn: Connection): void {
    const entry = this.#byUser.get(conn.user);
    if (!entry?.conns.delete(conn) || entry.conns.size > 0) return;
    this.#byUser.delete(conn.user);
    this.#backend.bus.unsubscribe(`user:${conn.user}`, entry.listener);
  }

  /** Connections of `user` on this node. */
  connectionsOf(user: string): number {
    return this.#byUser.get(user)?.conns.size ?? 0;
  }

  *connections(): Iterable<Connection> {
    for (const { conns } of this.#byUser.values()) yield* conns;
  }

  /** Tells every connection of `user`, on every node. */
  tellUser(user: string, event: UserEvent): void {
    this.#backend.bus.publish(`user:${user}`, JSON.stringify(event));
  }

  /**
   * Tells every connection in the deleted room, on every node, in one notice (a member's
   * connections are in each of their rooms, so none is missed; those still saying hello read their
   * memberships from the store, which no longer has the room).
   */
  tellRoomDeleted(room: string): void {
    const event: UserEvent = { op: 'left', room, reason: 'deleted' };
    this.#backend.bus.publish(ROOMS_TOPIC, JSON.stringify(event));
  }

  /** Publishes a notice to everyone in the room, on every node. */
  notice(room: string, message: ServerMessage): void {
    this.#backend.bus.publish(`room:${room}`, encode(message));
  }

  // ---- rooms ----

  #channel(room: string): RoomChannel {
    const existing = this.#channels.get(room);
    if (existing) return existing;
    const channel = new RoomChannel(room, this.#publishLocal);
    this.#channels.set(room, channel);
    this.#backend.bus.subscribe(channel.topic, channel.onNotice);
    const changed = (change: LogChange) => this.#logChange(channel, change);
    channel.ready = this.#backend.events.open(room, channel.onEvent, channel.onRebased, changed).then(
      (head) => {
        channel.settled = true;
        channel.start(head);
        this.#closeIfUnused(channel);
      },
      (err: unknown) => {
        channel.settled = true;
        this.#closeIfUnused(channel);
        throw err;
      },
    );
    channel.ready.catch(() => {}); // the entering connection sees the error
    return channel;
  }

  /** The channel's log says a user's stay ended, or the room is gone: each connection it concerns. */
  #logChange(channel: RoomChannel, change: LogChange): void {
    if (this.#channels.get(channel.room) !== channel) return;
    const conns = change.op === 'left' ? (this.#byUser.get(change.user)?.conns ?? []) : this.connections();
    for (const conn of [...conns]) {
      const cr = conn.rooms.get(channel.room);
      if (cr?.channel !== channel) continue;
      cr.ended = () => this.#onLogChange(conn, channel.room, change);
      channel.ending = true;
    }
  }

  #closeIfUnused(channel: RoomChannel): void {
    if (channel.members.size > 0 || !channel.settled || this.#channels.get(channel.room) !== channel) return;
    this.#channels.delete(channel.room);
    this.#backend.bus.unsubscribe(channel.topic, channel.onNotice);
    this.#backend.events.close(channel.room);
  }

  /**
   * Puts the connection in the room (not live yet: see replay.ts) and announces its user online
   * there if this is the user's first connection in it. Rejects (and undoes) if the room's events
   * cannot be opened (storage unavailable).
   */
  async enter(conn: Connection, room: string): Promise<ConnRoom> {
    const existing = conn.rooms.get(room);
    if (existing) {
      // Entered again on the store's word, read after the log's change that ended the stay.
      existing.ended = undefined;
      return existing;
    }
    const channel = this.#channel(room);
    const cr: ConnRoom = { room, channel, cursor: 0, live: false, notices: [], reload: false };
    conn.rooms.set(room, cr);
    channel.members.add(cr);
    try {
      await channel.ready;
      if (await this.#backend.presence.add(room, conn.user, conn.id))
        this.notice(room, { v: PROTOCOL_VERSION, type: 'presence', room, user: conn.user, online: true });
    } catch (err) {
      await this.exit(conn, room);
      throw err;
    }
    return cr;
  }

  /** Takes the connection out of the room; announces its user offline there if it was the last. */
  async exit(conn: Connection, room: string): Promise<boolean> {
    const cr = conn.rooms.get(room);
    if (!cr) return false;
    conn.rooms.delete(room);
    if (cr.live) conn.unsubscribe(cr.channel.topic);
    cr.channel.members.delete(cr);
    this.#closeIfUnused(cr.channel);
    if (await this.#backend.presence.remove(room, conn.user, conn.id))
      this.notice(room, { v: PROTOCOL_VERSION, type: 'presence', room, user: conn.user, online: false });
    return true;
  }

  /**
   * The room as this connection will see it: `head` is where its stream starts (the cursor is set
   * to it), so the events after it follow with nothing missed or repeated.
   */
  async state(conn: Connection, cr: ConnRoom, membership: Omit<Membership, 'room'>): Promise<RoomState> {
    cr.cursor = cr.channel.head;
    // The topic is read after the cursor is set: it is at least as new as `head`, and a `topic`
    // event after it follows (setting it again, or to newer), so the client never keeps an older one.
    // It comes with the counts (one store read, not a getRoom more per room).
    const [{ unread, mentions, topic }, online] = await Promise.all([
      this.#backend.rooms.roomCounts(cr.room, conn.user, membership.lastRead),
      this.#backend.presence.online(cr.room),
    ]);
    cr.channel.listed(online);
    const state: RoomState = {
      room: cr.room,
      kind: membership.kind,
      owner: membership.owner,
      head: cr.cursor,
      unread,
      mentions,
      online,
    };
    if (topic) state.topic = topic;
    return state;
  }

  /**
   * Presence notices may have been lost (the bus was away): each room's connections are told how
   * the store's online list differs from what they were told. One at a time; a call during one
   * runs again after it (the bus may have been lost again meanwhile). Never rejects: a resync that
   * could not read the store runs again on a bounded backoff and when the service is back
   * (rerun.ts), until close().
   */
  resyncPresence(): Promise<void> {
    return this.#resync.request();
  }

  /** One resync of every open channel; false if some channel's list could not be read. */
  async #resyncOnce(): Promise<boolean> {
    const results = await Promise.allSettled(
      [...this.#channels.values()].map(async (channel) => {
        channel.resyncing();
        try {
          const online = await this.#backend.presence.online(channel.room);
          // Dropped while the list was read: its record is gone with it, and a new channel of
          // the room (same topic) hears notices this one did not, so what it would tell is stale.
          if (this.#channels.get(channel.room) === channel) channel.resync(online);
          else channel.resyncFailed();
        } catch (err) {
          channel.resyncFailed();
          throw err;
        }
      }),
    );
    return results.every((r) => r.status === 'fulfilled');
  }

  /** The store is reachable again: a resync that could not read it runs now. */
  serviceBack(): void {
    this.#resync.serviceBack();
  }

  /** The hub is closing: no resync is retried after this. */
  close(): void {
    this.#resync.close();
  }

  /** A failed resync waits for its retry timer (tests). */
  get resyncRetryScheduled(): boolean {
    return this.#resync.retryScheduled;
  }

  /** Open channels (tests, /_stats). */
  get rooms(): string[] {
    return [...this.#channels.keys()].sort();
  }
}
