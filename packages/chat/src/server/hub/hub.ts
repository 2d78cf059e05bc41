/**
 * The hub: every request of every connection, from validation to reply.
 *
 * Theory of operation
 * - Each connection's requests run on its own queue (connection.ts), one after another, so replies
 *   keep request order. Every request except `typing` gets exactly one reply, or one `error`, that
 *   carries its `ref`.
 * - A room event is stored first (RoomStore.appendEvent assigns its seq), then acknowledged to the
 *   sender. Delivery is not the hub's doing: the backend's CommittedEvents hands each committed
 *   event to the room's channel on every node with clients in the room, which publishes it through
 *   riptide's topics (room-channel.ts). So an event is shown only after it is stored, once per
 *   connection, in seq order.
 * - A connection enters a room's live stream only through replay.ts (after hello, a join, an
 *   invitation, a sync): it is brought up to the channel's head and subscribed in the same tick.
 * - A request about a room the connection is not in is refused `not_member`, except a `send` of the
 *   user's own message stored under that id before they left: acknowledged as a duplicate, from a
 *   lookup that writes nothing (`#sendFromOutside`). `conn.rooms` learns of a leave or a removal
 *   only when the news reaches this connection (the user's channel; on Redis, another node), so
 *   the writes (send, edit, delete, react) are checked again by the store, atomically with the write
 *   and after its dedup: a member removed meanwhile gets the same `not_member` (ports.ts), and so
 *   does a write to a room deleted meanwhile (the store's 'no_room'): to someone no longer in it, a
 *   room deleted, a room they were removed from and a room that never was answer alike. The reads
 *   of the log are asked of the store too: history and search after their hits are read (search.ts),
 *   sync before its replay, members with its read. What still reaches such a connection until the news does
 *   (the remover's PUBLISH, this node's subscriber, the connection's queued requests, then one
 *   isMember) is the live stream it is subscribed to: the room's events and notices. On Redis the
 *   events come from the room's stream (the reader's connection) and the removal's notice over
 *   pub/sub (the subscriber's), with no order between them, so an event committed after the
 *   removal may come first. So may, within a round trip, the events committed while a sync's
 *   replay or a search runs.
 * - Room membership requests live in membership.ts; who is in which room on this node, in
 *   local-rooms.ts. The clock is injected: every timestamp and every limit uses `clock.now()`.
 */
import {
  type ClientMessage,
  type ErrorCode,
  type Limits,
  PROTOCOL_VERSION,
  type ServerMessage,
} from '../../shared/protocol.js';
import { createDefaultRoom } from '../default-room.js';
import { type Backend, type BucketName, type Clock, type Log, UnavailableError } from '../ports.js';
import { HELLO_TIMEOUT_CLOSE, TIMEOUTS } from '../timeouts.js';
import type { ChatSocket } from '../transport.js';
import { claimAttachments, releaseAttachments } from './attachments.js';
import { BlockHandlers } from './blocks.js';
import { Connection } from './connection.js';
import { LocalRooms, sessionDigest } from './local-rooms.js';
import { MembershipHandlers } from './membership.js';
import { resolveMentions } from './mentions.js';
import { leaveLive, replay, reset } from './replay.js';
import { encode, errorMessage, reply } from './replies.js';
import { Rerun } from './rerun.js';
import { search } from './search.js';
import { setTopic } from './topics.js';
import { normalizeEmoji, parseClientMessage } from './validate.js';

export interface HubOptions {
  limits: Limits;
  clock: Clock;
  /** A socket with more unsent bytes than this is too slow to keep: it is closed. */
  maxBufferedBytes: number;
  /** Requests waiting on one connection before its socket stops being read. */
  maxQueuedRequests: number;
  log: Log;
  /**
   * Server admins (ChatServerOptions.admins): account names, matched ignoring case. Each node's
   * own: nodes sharing a store should be given the same list.
   */
  admins?: readonly string[];
  /** The build id of the page this node serves (http/static.ts, readBuild), told in `welcome`. */
  build?: string;
}

/** Which token bucket a request takes from (typing has its own gate). */
const BUCKET: Record<ClientMessage['type'], BucketName | null> = {
  hello: 'requests',
  ping: 'requests',
  history: 'requests',
  sync: 'requests',
  read: 'requests',
  rooms: 'requests',
  members: 'requests',
  send: 'messages',
  edit: 'messages',
  delete: 'messages',
  create: 'rooms',
  join: 'rooms',
  leave: 'rooms',
  invite: 'rooms',
  accept: 'rooms',
  // Cheap, and the invitee's way out of a flood of invitations: the larger bucket.
  decline: 'requests',
  remove: 'rooms',
  // Neither changes a membership: the larger bucket, as block and unblock.
  unban: 'requests',
  bans: 'requests',
  dm: 'rooms',
  delete_room: 'rooms',
  search: 'requests',
  react: 'messages',
  // A change of the room, as create and remove: the smaller bucket.
  topic: 'rooms',
  // A user's way out of harassment: the larger bucket, as decline.
  block: 'requests',
  unblock: 'requests',
  typing: null,
};

/** Requests about a room the connection must be in. */
const IN_ROOM = new Set<ClientMessage['type']>([
  'send',
  'edit',
  'delete',
  'history',
  'sync',
  'typing',
  'read',
  'leave',
  'invite',
  'remove',
  'unban',
  'bans',
  'react',
  'members',
  'topic',
]);

/**
 * A socket whose session ended: 1008 (the page stops and shows the sign-in), or, for a session
 * renewed by a password change, 4001 (the page reconnects as after any drop, with the cookie the
 * change's answer set; a page without it is refused 401 and stops).
 */
function closeEnded(conn: Connection, renewed: boolean): void {
  if (renewed) conn.socket.close(4001, 'session renewed');
  else conn.socket.close(1008, 'signed out');
}

export class Hub {
  readonly #backend: Backend;
  readonly #options: HubOptions;
  readonly #local: LocalRooms;
  readonly #membership: MembershipHandlers;
  readonly #blocks: BlockHandlers;
  readonly #connections = new Set<Connection>();
  readonly #nodeId = Math.random().toString(36).slice(2, 10);
  /** Session lookups after the bus was away; retried while the store cannot be read (rerun.ts). */
  readonly #recheck = new Rerun(() => this.#recheckSessions());
  #nextId = 1;

  constructor(backend: Backend, publishLocal: (topic: string, payload: string) => void, options: HubOptions) {
    this.#backend = backend;
    this.#options = options;
    this.#local = new LocalRooms(
      backend,
      publishLocal,
      (conn, event) => {
        // At once, not after the queued work: nothing more of a signed-out session is answered.
        if (event.op === 'signed_out') {
          if (!conn.closed && sessionDigest(conn.token) === event.session)
            closeEnded(conn, event.renewed === true);
          return;
        }
        if (event.op === 'blocked')
          return conn.run(
            async () => this.#blocks.onUserEvent(conn, event),
            () => {},
          );
        conn.run(() => this.#membership.onUserEvent(conn, event), this.#failed(conn, undefined, undefined));
      },
      (conn, room, change) => {
        // At once (the channel publishes the next event after this returns); the rest in turn.
        const rest = this.#membership.changedInLog(conn, room, change);
        if (rest) conn.run(rest, this.#failed(conn, undefined, undefined));
      },
    );
    this.#membership = new MembershipHandlers(backend, this.#local, options);
    this.#blocks = new BlockHandlers(backend, this.#local, options.limits);
    // A `signed_out`, a membership change or a read marker published while the bus was away never
    // came: look the sessions and memberships up again.
    backend.bus.onResubscribed(() => void this.#recheck.request());
  }

  /**
   * Closes this node's connections whose session is gone: a sign-out on another node whose notice
   * was lost, or a session that expired meanwhile. One lookup per session; false if one failed
   * (storage away again): its connections are left as they are until the next run. Then checks
   * each remaining connection's rooms and read markers against the store (reconcile).
   */
  async #recheckSessions(): Promise<boolean> {
    const ok = await this.#recheckTokens();
    // The membership notices (an invitation, a DM, a room joined in another tab) and read markers
    // lost with the rest: made up from the store, as after an outage (serviceChanged).
    const reconciled = await Promise.all(
      [...this.#connections]
        .filter((conn) => conn.ready && !conn.closed)
        .map(
          (conn) =>
            new Promise<boolean>((resolve) =>
              conn.run(
                () => this.#membership.reconcile(conn).then(() => resolve(true)),
                (err) => {
                  resolve(false);
                  if (!(err instanceof UnavailableError)) this.#failed(conn, undefined, undefined)(err);
                },
              ),
            ),
        ),
    );
    return ok && reconciled.every(Boolean);
  }

  async #recheckTokens(): Promise<boolean> {
    let ok = true;
    for (const token of new Set([...this.#connections].map((conn) => conn.token))) {
      const now = this.#options.clock.now();
      const session = await this.#backend.accounts.getSession(token, now).catch(() => undefined);
      if (session === undefined) ok = false;
      if (session !== null) continue;
      for (const conn of this.#connections) {
        if (conn.token !== token) continue;
        // The page reads only the code (1008: stop reconnecting, show the sign-in); the reason is
        // for people reading logs and devtools: a session past its expiry was not signed out.
        conn.socket.close(1008, now >= conn.expiresAt ? 'session expired' : 'signed out');
      }
    }
    return ok;
  }

  /** The hub is closing: no session recheck or presence resync is retried after this. */
  close(): void {
    this.#recheck.close();
    this.#local.close();
  }

  /** Creates `general` if the store is new. */
  async start(): Promise<void> {
    await createDefaultRoom(this.#backend.rooms, this.#options.clock.now());
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** This node's connections of `user` (the upgrade gate caps them). */
  connectionsOf(user: string): number {
    return this.#local.connectionsOf(user);
  }

  /** Connections waiting for their socket to drain (a replay held by backpressure). */
  get congestedConnections(): number {
    let n = 0;
    for (const conn of this.#connections) if (conn.congested) n++;
    return n;
  }

  /** Rooms with a channel on this node (tests, /_stats). */
  get openRooms(): string[] {
    return this.#local.rooms;
  }

  /** Takes over an authenticated socket; `expiresAt`: its session's (the session recheck says so). */
  attach(socket: ChatSocket, user: string, token: string, expiresAt: number): void {
    const conn = new Connection(`${this.#nodeId}-${this.#nextId++}`, user, token, expiresAt, socket, {
      maxBufferedBytes: this.#options.maxBufferedBytes,
      maxQueued: this.#options.maxQueuedRequests,
    });
    this.#connections.add(conn);
    this.#local.track(conn);
    conn.expectHello(TIMEOUTS.helloMs, HELLO_TIMEOUT_CLOSE.code, HELLO_TIMEOUT_CLOSE.reason);
    this.#closeAtExpiry(conn);
    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (isBinary) {
        conn.write(errorMessage('bad_message', 'binary messages are not supported'));
        return;
      }
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString()
        : Buffer.from(data as Buffer).toString();
      const parsed = parseClientMessage(text, this.#options.limits.maxTextBytes);
      if (!parsed.ok) {
        conn.write(errorMessage(parsed.code, parsed.message, parsed));
        return;
      }
      const msg = parsed.message;
      // Its arrival ends the deadline, not its answer: a hello waiting on storage is not cut off.
      if (msg.type === 'hello') conn.helloArrived();
      const id = msg.type === 'send' ? msg.id : undefined;
      conn.run(() => this.#request(conn, msg), this.#failed(conn, msg.ref, id));
    });
    socket.on('close', () => {
      conn.closed = true;
      // At once, not after the queued work: the socket cap counts open sockets.
      this.#local.untrack(conn);
      conn.run(() => this.#detach(conn), this.#failed(conn, undefined, undefined));
    });
  }

  /**
   * Closes the connection with 1008 'session expired' once its session has expired by the clock
   * (as the session recheck does): a socket opened in the session's last minute would otherwise be
   * served for as long as it stays open, and "sign out other sessions" or a password change, which
   * end only the sessions not yet expired, would not reach it. One timer per connection (as its
   * hello deadline), unref'd and cleared at its close: a few hundred bytes, no work until it fires;
   * a periodic sweep would walk every connection each time to close a few. The clock has the last
   * word: a timer that fires early by the clock (the clock is injected; setTimeout's longest delay
   * is shorter than a session) is set again for what is left.
   */
  #closeAtExpiry(conn: Connection): void {
    const left = conn.expiresAt - this.#options.clock.now();
    if (left <= 0) {
      if (!conn.closed) conn.socket.close(1008, 'session expired');
      return;
    }
    conn.checkExpiryIn(left, () => this.#closeAtExpiry(conn));
  }

  /**
   * Closes every connection of a session (sign-out): this node's at once, the other nodes' when
   * the user's topic tells them (`user` null: an expired session, whose user is not known).
   */
  endSession(user: string | null, token: string, renewed = false): void {
    for (const conn of this.#connections) if (conn.token === token) closeEnded(conn, renewed);
    if (user !== null)
      this.#local.tellUser(
        user,
        renewed
          ? { op: 'signed_out', session: sessionDigest(token), renewed: true }
          : { op: 'signed_out', session: sessionDigest(token) },
      );
  }

  /** Resolves when every connection has finished its queued work (shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.#connections].map((c) => c.idle()));
  }

  /**
   * Deletes rooms empty for longer than emptyRoomTtlMs, and their files; their names. The pending
   * invitations that went with them are told to their users (`uninvited`, on every node, once: the
   * node whose store step deleted the room). Then drops the invitations past invitationTtlMs, their
   * users told (MembershipHandlers.expireInvitations).
   * `stop` (shutdown) ends it between its steps; a dropRoom skipped then is only the safety net
   * (the store's deletion took the room's files).
   */
  async sweep(stop?: AbortSignal): Promise<string[]> {
    const { rooms: names, invitations } = await this.#backend.rooms.expireEmptyRooms(
      this.#options.clock.now() - this.#options.limits.emptyRoomTtlMs,
      stop,
    );
    this.#membership.uninvited(invitations);
    for (const name of names) {
      if (stop?.aborted) break;
      await this.#backend.attachments.dropRoom(name);
    }
    if (!stop?.aborted) await this.#membership.expireInvitations();
    return names;
  }

  /** Storage went away or came back (several nodes): tell everyone; afterwards, recheck rooms. */
  serviceChanged(available: boolean): void {
    const message = available
      ? 'the chat is available again'
      : 'chat storage is unavailable; messages are not accepted';
    const payload = encode({ v: PROTOCOL_VERSION, type: 'service', available, message });
    for (const conn of this.#connections) conn.write(payload);
    // Membership notices are at most once; some may have been lost during the outage. (So may
    // presence and sign-out notices: the presence resync and the session recheck run when the bus
    // is back, and again now if they could not read the store then.)
    if (available) this.#local.serviceBack();
    if (available) this.#recheck.serviceBack();
    if (available)
      for (const conn of this.#connections)
        if (conn.ready)
          conn.run(() => this.#membership.reconcile(conn), this.#failed(conn, undefined, undefined));
  }

  #failed(conn: Connection, ref: string | undefined, id: string | undefined): (err: unknown) => void {
    return (err) => {
      if (err instanceof UnavailableError) {
        // Nothing was done; the client keeps a message and resends it once `service` says available.
        conn.write(
          errorMessage('unavailable', 'chat storage is unavailable; retry when service resumes', { ref, id }),
        );
        // A hello cut short leaves nothing to keep, and a sync or a room entry cut short left its
        // room out of the live stream (no later event of it would reach this socket): 1013 (try
        // again later) makes the client reconnect and resume from what it has. Before the welcome
        // only the hello reaches storage (its rate check first), so any failure then is the hello's.
        const cutShort = conn.ready ? [...conn.rooms.values()].some((cr) => !cr.live) : true;
        if (cutShort && !conn.closed) conn.socket.close(1013, 'storage unavailable');
        return;
      }
      this.#options.log(`chat: internal error for ${conn.user}: ${(err as Error)?.stack ?? err}`, 'error');
      conn.write(errorMessage('internal', 'internal error', { ref, id }));
    };
  }

  async #request(conn: Connection, msg: ClientMessage): Promise<void> {
    if (conn.closed) return;
    const ref = msg.ref;
    const id = msg.type === 'send' ? msg.id : undefined;
    const fail = (code: ErrorCode, message: string, retryAfterMs?: number) =>
      conn.write(
        errorMessage(code, message, retryAfterMs === undefined ? { ref, id } : { ref, id, retryAfterMs }),
      );
    if (msg.type === 'hello' && conn.helloSeen) return void fail('bad_message', 'hello was already sent');
    if (msg.type !== 'hello' && !conn.ready) return void fail('not_ready', 'send hello first');
    const now = this.#options.clock.now();
    const bucket = BUCKET[msg.type];
    if (bucket !== null) {
      const wait = await this.#backend.throttle.take(bucket, conn.user, now);
      if (wait > 0) return void fail('rate_limited', `too many requests; retry in ${wait} ms`, wait);
    }
    if (IN_ROOM.has(msg.type) && 'room' in msg && msg.room !== undefined && !conn.rooms.has(msg.room)) {
      if (msg.type === 'send') return this.#sendFromOutside(conn, msg);
      return void fail('not_member', `you are not in room ${msg.room}`);
    }
    const rooms = this.#backend.rooms;
    const user = conn.user;
    const v = PROTOCOL_VERSION;
    switch (msg.type) {
      case 'hello':
        return this.#hello(conn, msg.rooms ?? {}, msg.tags ?? {}, ref);
      case 'ping':
        return reply(conn, ref, { v, type: 'pong' });
      case 'send': {
        const files = await claimAttachments(this.#backend, user, msg);
        if (!files) return void fail('not_found', 'attachments must be your unused uploads to this room');
        const mentions = await resolveMentions(msg.text, msg.room, this.#backend.accounts, rooms);
        const input = {
          type: 'message',
          room: msg.room,
          user,
          clientId: msg.id,
          text: msg.text,
          ts: now,
          ...(files.length > 0 ? { attachments: files } : {}),
          ...(msg.replyTo === undefined ? {} : { replyTo: msg.replyTo }),
          ...(mentions.length > 0 ? { mentions } : {}),
        } as const;
        // A DM the other user closed opens again for them with this message (reopenDm), before it
        // is stored. The store tells (bothInDm, in the append's own step): the common case, both
        // in, costs no lookup; a closed one is opened, then the message appended again.
        const dm = msg.room.startsWith('dm:');
        let res = await rooms.appendEvent(dm ? { ...input, bothInDm: true } : input);
        if (!res.ok && res.reason === 'dm_closed') {
          await this.#membership.reopenDm(msg.room, user);
          res = await rooms.appendEvent(input);
        }
        if (!res.ok) {
          await releaseAttachments(this.#backend, user, msg);
          if (res.reason === 'id_reused')
            return void fail(
              'id_reused',
              `id ${msg.id} is already used by another of your messages in ${msg.room}; send a new message with a new id`,
            );
          if (res.reason === 'not_found')
            return void fail('not_found', `no message ${msg.replyTo} in ${msg.room} to reply to`);
          // The other user of the direct message blocks the sender (checked with the write).
          if (res.reason === 'blocked')
            return void fail('not_accepted', await this.#blocks.refusal(msg.room, user));
          // 'not_member' or 'no_room': one answer. The connection still lists a room its user was
          // removed from, or one deleted since, until the news reaches it; a resend from there must
          // not tell "deleted" from "removed", nor either from a room that never was (not_member,
          // as from outside the room: #sendFromOutside).
          return void fail('not_member', `you are not in room ${msg.room}`);
        }
        // Acknowledged only now: appendEvent resolved, so the message is committed.
        // Its files were bound by the append itself (a duplicate's, by the first append).
        const stored = (res.event as Extract<typeof res.event, { type: 'message' }>).message;
        const ack: ServerMessage = {
          v,
          type: 'ack',
          id: msg.id,
          room: stored.room,
          seq: stored.seq,
          ts: stored.ts,
        };
        if (res.duplicate) ack.duplicate = true;
        else conn.typingAfterSend = stored.room;
        return reply(conn, ref, ack);
      }
      case 'edit':
      case 'delete': {
        const mentions =
          msg.type === 'edit' ? await resolveMentions(msg.text, msg.room, this.#backend.accounts, rooms) : [];
        const res = await rooms.appendEvent(
          msg.type === 'edit'
            ? {
                type: 'edit',
                room: msg.room,
                user,
                target: msg.seq,
                text: msg.text,
                ts: now,
                ...(mentions.length > 0 ? { mentions } : {}),
              }
            : {
                type: 'delete',
                room: msg.room,
                user,
                target: msg.seq,
                ts: now,
                // Another's message too, in a public room (the store checks the kind).
                ...(this.#membership.isAdmin(user) ? { admin: true } : {}),
              },
        );
        if (!res.ok) {
          // A room deleted since answers as one the user was removed from (see send).
          if (res.reason === 'not_member' || res.reason === 'no_room')
            return void fail('not_member', `you are not in room ${msg.room}`);
          if (res.reason === 'forbidden')
            return void fail('forbidden', 'you can only change your own messages');
          if (res.reason === 'blocked')
            return void fail('not_accepted', await this.#blocks.refusal(msg.room, user));
          return void fail('not_found', `no message ${msg.seq} in ${msg.room}`);
        }
        const event = res.event as Extract<typeof res.event, { type: 'edited' | 'deleted' }>;
        if (msg.type === 'delete') await this.#backend.attachments.dropMessage(msg.room, msg.seq);
        return reply(conn, ref, { v, type: 'ack', room: event.room, seq: event.seq, ts: event.ts });
      }
      case 'react':
        return this.#react(conn, msg, now);
      case 'history': {
        const page = this.#options.limits.historyPage;
        if (msg.around !== undefined) {
          const newer = Math.floor(page / 2);
          return this.#historyWindow(conn, msg.room, msg.around, page - newer, newer, ref);
        }
        if (msg.after !== undefined) return this.#historyWindow(conn, msg.room, msg.after, 0, page, ref);
        const { head, tag } = await this.#head(msg.room);
        const before = msg.before ?? head + 1;
        const rows = await rooms.messagesBefore(msg.room, before, page + 1);
        const messages = rows.slice(0, page).reverse();
        const hasMore = rows.length > page;
        // The seqs this page covers: from its oldest message (the room's start if none is older)
        // up to `before`; the topic lines between the older page's newest and it go with that page.
        const from = hasMore ? messages[0].seq - 1 : 0;
        const to = Math.min(before - 1, head);
        const events = from < to ? await rooms.topicEvents(msg.room, from, to, page) : [];
        if (!(await this.#stillMember(conn, msg.room)))
          return void fail('not_member', `you are not in room ${msg.room}`);
        const history: ServerMessage = { v, type: 'history', room: msg.room, messages, head, hasMore };
        if (events.length > 0) history.events = events;
        if (tag !== null) history.tag = tag;
        return reply(conn, ref, history);
      }
      case 'sync': {
        const cr = conn.rooms.get(msg.room);
        if (!cr) return;
        // The replay reads the store's log: asked of the store first, as history is (see there).
        if (!(await rooms.isMember(user, msg.room)))
          return void fail('not_member', `you are not in room ${msg.room}`);
        leaveLive(conn, cr);
        return this.#resume(conn, msg.room, msg.after, msg.tag, ref);
      }
      case 'typing': {
        // The others clear a user's indicator when that user's message arrives, so the first
        // notice after a message starts the next one and passes the gate (at most one more
        // notice per message sent, itself rate-limited); the gate still counts it.
        const afterSend = conn.typingAfterSend === msg.room;
        if (afterSend) conn.typingAfterSend = null;
        try {
          const gated = await this.#backend.throttle.once(
            `${user}\n${msg.room}`,
            this.#options.limits.typingIntervalMs,
            now,
          );
          const ok = gated || afterSend;
          // conn.rooms hears of a removal only when the news reaches this connection (on Redis,
          // from another node), so the store has the last word, as for writes. Asked only for a
          // notice the gate let through, the one that would be fanned out: at most one read per
          // user, room and typingIntervalMs, on every node together (the gate is shared), whatever
          // the client sends (one indexed lookup on SQLite, one SISMEMBER on Redis). The dropped
          // ones cost nothing more.
          // Nor to the other user of a direct message who blocks this one (blocks.ts).
          if (
            ok &&
            (await rooms.isMember(user, msg.room)) &&
            !(await this.#blocks.typingDropped(msg.room, user))
          )
            this.#local.notice(msg.room, { v, type: 'typing', room: msg.room, user });
        } catch (err) {
          // Storage out (the gate or the membership could not be asked): dropped silently, like
          // any typing notice the gate drops. Typing is fire-and-forget (no answer when it
          // passes, nothing for the client to resend: a notice sent again after the outage would
          // be stale), and the `service` notice has told the client of the outage already.
          if (!(err instanceof UnavailableError)) throw err;
        }
        return;
      }
      case 'read': {
        const mark = await rooms.markRead(user, msg.room, msg.seq, msg.tag);
        reply(conn, ref, { v, type: 'read', room: msg.room, seq: mark.seq });
        // The user's other tabs and devices clear their badges. Only a move: a stale mark (from a
        // tab behind the others) or a repeated one tells them nothing new.
        if (mark.moved)
          this.#local.tellUser(user, { op: 'read', room: msg.room, seq: mark.seq, from: conn.id });
        return;
      }
      case 'rooms': {
        const size = this.#options.limits.roomsPage;
        const list = await rooms.listRooms(msg.after ?? '', size + 1);
        const message: ServerMessage = { v, type: 'rooms', rooms: list.slice(0, size) };
        if (list.length > size) message.next = list[size - 1].room;
        return reply(conn, ref, message);
      }
      case 'members': {
        // Every member, online or not, paged by name like `rooms` (the store sorts them).
        const size = this.#options.limits.membersPage;
        // The store checks the membership again with the read: a member removed through another
        // node is refused even before this connection hears of the removal (conn.rooms lags).
        const res = await rooms.listMembers(user, msg.room, msg.after ?? '', size + 1);
        if (!res.ok) return void fail('not_member', `you are not in room ${msg.room}`);
        const names = res.members;
        const message: ServerMessage = { v, type: 'members', room: msg.room, members: names.slice(0, size) };
        if (names.length > size) message.next = names[size - 1];
        return reply(conn, ref, message);
      }
      case 'create':
        return this.#membership.create(conn, msg.room, msg.private === true, ref);
      case 'join':
        return this.#membership.join(conn, msg.room, ref);
      case 'leave':
        return this.#membership.leave(conn, msg.room, ref);
      case 'invite':
        return this.#membership.invite(conn, msg.room, msg.user, ref);
      case 'accept':
        return this.#membership.accept(conn, msg.room, ref);
      case 'decline':
        return this.#membership.decline(conn, msg.room, ref);
      case 'remove':
        return this.#membership.remove(conn, msg.room, msg.user, ref);
      case 'unban':
        return this.#membership.unban(conn, msg.room, msg.user, ref);
      case 'bans':
        return this.#membership.bans(conn, msg.room, msg.after ?? '', ref);
      case 'dm':
        return this.#membership.dm(conn, msg.user, ref);
      case 'delete_room':
        return this.#membership.deleteRoom(conn, msg.room, ref);
      case 'search':
        return search(conn, this.#backend, msg, ref);
      case 'topic': {
        // A direct message whose other user blocks this one: refused as a message there is. The
        // topic line reached the blocker live and in the header, a channel the block had closed.
        // Only the user's own DMs are looked at: another DM's name tells nothing of its blocks.
        const own = msg.room.startsWith('dm:') && msg.room.split(':').includes(user.toLowerCase());
        const refused = own ? await this.#blocks.refusedIn(msg.room, user) : null;
        if (refused !== null) return void fail('not_accepted', refused);
        return setTopic(conn, this.#backend, msg, now, ref, this.#membership.isAdmin(conn.user));
      }
      case 'block':
        return this.#blocks.block(conn, msg.user, ref);
      case 'unblock':
        return this.#blocks.unblock(conn, msg.user, ref);
    }
  }

  /**
   * A send to a room the user is not in. The one case that is not refused: the user's own message,
   * stored under that id before they left (its ack lost with the connection, the leave in another
   * tab meanwhile): acknowledged as the duplicate it is, as it would be to a member, so the client
   * does not call it unsent (docs/chat-protocol.md, "send"). Anything else is `not_member`: a new id,
   * an id never stored, or stored in a room deleted since (its log is gone, nothing is left to
   * acknowledge: not being in the room is the answer). Nothing is written either way: no event, no
   * claimed or bound file; the lookup is the user's own key, so it tells nothing of anyone else's.
   */
  async #sendFromOutside(conn: Connection, msg: Extract<ClientMessage, { type: 'send' }>): Promise<void> {
    const { ref, id, room } = msg;
    const found = await this.#backend.rooms.storedSend({
      room,
      user: conn.user,
      clientId: id,
      text: msg.text,
      ...(msg.replyTo === undefined ? {} : { replyTo: msg.replyTo }),
      ...(msg.attachments?.length ? { attachments: msg.attachments } : {}),
    });
    if (found === null)
      return void conn.write(errorMessage('not_member', `you are not in room ${room}`, { ref, id }));
    if (!found.ok)
      return void conn.write(
        errorMessage(
          'id_reused',
          `id ${id} is already used by another of your messages in ${room}; send a new message with a new id`,
          { ref, id },
        ),
      );
    const { message } = found;
    reply(conn, ref, {
      v: PROTOCOL_VERSION,
      type: 'ack',
      id,
      room: message.room,
      seq: message.seq,
      ts: message.ts,
      duplicate: true,
    });
  }

  /**
   * A reaction set or removed: acknowledged with the `reacted` event's seq; one that changes nothing
   * (already so) is acknowledged as `duplicate` with the room's head, and logs nothing.
   */
  async #react(conn: Connection, msg: Extract<ClientMessage, { type: 'react' }>, now: number): Promise<void> {
    const ref = msg.ref;
    // A reaction in a direct message whose other user blocks this one (asked before the write: a
    // reaction is no message, and one let through by a block landing meanwhile is harmless).
    const refused = await this.#blocks.refusedIn(msg.room, conn.user);
    if (refused !== null) return void conn.write(errorMessage('not_accepted', refused, { ref }));
    const res = await this.#backend.rooms.react({
      room: msg.room,
      user: conn.user,
      target: msg.target,
      emoji: normalizeEmoji(msg.emoji),
      on: msg.on,
      ts: now,
      maxEmoji: this.#options.limits.maxReactionsPerMessage,
    });
    if (!res.ok) {
      const [code, text]: [ErrorCode, string] =
        res.reason === 'too_many_reactions'
          ? [
              'too_many_reactions',
              `a message has at most ${this.#options.limits.maxReactionsPerMessage} different emoji`,
            ]
          : res.reason === 'no_room' || res.reason === 'not_member' // one answer, as for send
            ? ['not_member', `you are not in room ${msg.room}`]
            : ['not_found', `no message ${msg.target} in ${msg.room}`];
      return void conn.write(errorMessage(code, text, { ref }));
    }
    const ack: ServerMessage = res.event
      ? { v: PROTOCOL_VERSION, type: 'ack', room: msg.room, seq: res.event.seq, ts: res.event.ts }
      : { v: PROTOCOL_VERSION, type: 'ack', room: msg.room, seq: res.head, ts: now, duplicate: true };
    reply(conn, ref, ack);
  }

  /**
   * A history page at `anchor`: up to `olderWanted` messages with seq <= anchor and up to
   * `newerWanted` after it (never past the head it reports), oldest first. `around` takes half a
   * page each way (the anchor's message among the older half); `after`, a page of newer ones.
   */
  async #historyWindow(
    conn: Connection,
    room: string,
    anchor: number,
    olderWanted: number,
    newerWanted: number,
    ref: string | undefined,
  ): Promise<void> {
    const rooms = this.#backend.rooms;
    const { head, tag } = await this.#head(room);
    const older = await rooms.messagesBefore(room, anchor + 1, olderWanted + 1);
    const newer = (await rooms.messagesAfter(room, anchor, newerWanted + 1)).filter((m) => m.seq <= head);
    const messages = [...older.slice(0, olderWanted).reverse(), ...newer.slice(0, newerWanted)];
    const hasMore = older.length > olderWanted;
    const hasNewer = newer.length > newerWanted;
    // The seqs this page covers (as a `before` page's): from its oldest message, the room's start
    // when none is older, or `after` itself (a page of newer ones), up to its newest message when
    // newer ones follow (theirs are the next page's), else the head.
    const from = olderWanted === 0 ? Math.min(anchor, head) : hasMore ? messages[0].seq - 1 : 0;
    const to = hasNewer ? (messages.at(-1)?.seq ?? anchor) : head;
    const events = from < to ? await rooms.topicEvents(room, from, to, this.#options.limits.historyPage) : [];
    if (!(await this.#stillMember(conn, room)))
      return void conn.write(errorMessage('not_member', `you are not in room ${room}`, { ref }));
    const history: ServerMessage = {
      v: PROTOCOL_VERSION,
      type: 'history',
      room,
      messages,
      head,
      hasMore,
      hasNewer,
    };
    if (events.length > 0) history.events = events;
    if (tag !== null) history.tag = tag;
    reply(conn, ref, history);
  }

  /**
   * Asked after a history page is read, not before: `conn.rooms` hears of a removal made through
   * another node only when its notice arrives, so the store has the last word (as for writes), and
   * asked last it answers for every message of the page: each was committed before the user was
   * seen still in the room, and a member may read the whole log. One SISMEMBER on Redis.
   */
  #stillMember(conn: Connection, room: string): Promise<boolean> {
    return this.#backend.rooms.isMember(conn.user, room);
  }

  /** The room's head, with the tag of the event at it where the store tags events (history). */
  #head(room: string): Promise<{ head: number; tag: string | null }> {
    const rooms = this.#backend.rooms;
    if (rooms.headTag) return rooms.headTag(room);
    return rooms.head(room).then((head) => ({ head, tag: null }));
  }

  /**
   * welcome, then per member room: the replay from the seq the client named and `synced` (or
   * `reset`), or, for a room it did not name, whatever arrived since the welcome's head.
   */
  async #hello(
    conn: Connection,
    known: Record<string, number>,
    tags: Record<string, string>,
    ref: string | undefined,
  ): Promise<void> {
    conn.helloSeen = true;
    const memberships = await this.#backend.rooms.memberships(conn.user);
    const entered = [];
    for (const m of memberships) entered.push({ cr: await this.#local.enter(conn, m.room), m });
    const states = [];
    for (const { cr, m } of entered) states.push(await this.#local.state(conn, cr, m));
    const invitations = await this.#membership.invitations(conn.user);
    const blocked = await this.#backend.rooms.blockedUsers(conn.user);
    reply(conn, ref, {
      v: PROTOCOL_VERSION,
      type: 'welcome',
      user: conn.user,
      rooms: states,
      invitations,
      blocked,
      limits: this.#options.limits,
      ...(this.#membership.isAdmin(conn.user) ? { admin: true as const } : {}),
      ...(this.#options.build !== undefined ? { build: this.#options.build } : {}),
    });
    for (const { cr } of entered) {
      // Own keys only: `known` and `tags` are plain objects from JSON, and a room may be named
      // after something every object inherits (`constructor`).
      const after = Object.hasOwn(known, cr.room) ? known[cr.room] : undefined;
      const tag = Object.hasOwn(tags, cr.room) ? tags[cr.room] : undefined;
      if (after !== undefined) await this.#resume(conn, cr.room, after, tag, ref);
      else if ((await replay(conn, cr, this.#backend.rooms)) === 'gap') reset(conn, cr, undefined);
    }
    conn.ready = true;
  }

  /**
   * Replays the room after `after`, then `synced`; or `reset` if that is impossible, or if the
   * client's event at `after` (named by its `tag`) is no longer the log's: the log went back while
   * the client was away and the seqs up to `after` now hold other events (ports.ts, ResumePoint).
   */
  async #resume(
    conn: Connection,
    room: string,
    after: number,
    tag: string | undefined,
    ref: string | undefined,
  ): Promise<void> {
    const cr = conn.rooms.get(room);
    if (!cr) return;
    const channel = cr.channel;
    // One read per resumed room (Redis: one round trip): the base, the head and the tag's entry.
    const point = after > 0 ? await this.#backend.rooms.resumePoint(room, after, tag) : null;
    // The seqs up to the base were a deleted room's of the same name: the client holds its
    // messages, not this room's (found by the chaos test).
    if (point && after <= point.base) return reset(conn, cr, ref);
    if (point && after > channel.head) {
      // The client has seen events this node has not delivered yet (it was on a node further
      // ahead): wait for them, unless the store has never had them (it lost them, or never had).
      if (after > point.head) return reset(conn, cr, ref);
      await Promise.race([channel.reached(after), conn.gone]);
      // The room's log went back meanwhile: the store may never have `after` again.
      if (after > channel.head) return reset(conn, cr, ref);
    }
    if (channel.head - after > this.#options.limits.replayLimit) return reset(conn, cr, ref);
    // The client's event at `after` is not the log's any more. A log that goes back after this
    // read is the channel's to notice: it marks this connection, which is not live while it
    // resumes, to end its replay with `reset` (room-channel.ts).
    if (point && !point.holds) return reset(conn, cr, ref);
    if (conn.closed || conn.rooms.get(room) !== cr) return;
    cr.cursor = after;
    if ((await replay(conn, cr, this.#backend.rooms, { ref })) === 'gap') reset(conn, cr, ref);
  }

  async #detach(conn: Connection): Promise<void> {
    for (const room of [...conn.rooms.keys()]) await this.#local.exit(conn, room);
    this.#connections.delete(conn);
  }
}
