/**
 * The hub: one Connection per WebSocket; rooms, membership, history, replay and fan-out.
 *
 * Theory of operation
 * - Every message a connection receives, and every change to its state (entering or leaving a
 *   room, closing), runs on that connection's queue, one after another; so replies keep request
 *   order and a close never races a half-done hello.
 * - A room event is stored first (ChatStore.appendEvent assigns its seq), then acknowledged to the
 *   sender, then published once to `room:<name>`. Nothing is acknowledged or shown before commit.
 * - Until its hello is answered, a connection buffers what fan-out delivers to it, and flushes the
 *   buffer after the welcome and the replay; the client drops events whose seq it already has.
 * - State shared between nodes (store, fan-out, presence) goes through interfaces; the only local
 *   state is per-connection and the throttles.
 */
import type { ChatMessage, Limits, RoomState, ServerMessage } from '../shared/protocol.js';
import { DEFAULT_ROOM } from '../shared/protocol.js';
import type { FanOut } from './fanout.js';
import type { Presence } from './presence.js';
import { encode, errorReply, parseClientMessage } from './protocol.js';
import { RateLimiter } from './rate-limit.js';
import { type ChatStore, UnavailableError } from './storage/types.js';
import type { ChatSocket } from './transport.js';

export interface HubOptions {
  limits: Limits;
  /** Typing notices per user and room are forwarded at most once per this many ms. */
  typingIntervalMs: number;
  /** A socket with more than this many bytes unsent is too slow to keep: it is terminated. */
  maxBufferedBytes: number;
  log: (line: string) => void;
  /** The clock (ms) of the rate limits and the typing throttle; tests pass a fake one. */
  now?: () => number;
}

const OPEN = 1;
const roomTopic = (room: string) => `room:${room}`;
const userTopic = (user: string) => `user:${user}`;

class Connection {
  readonly rooms = new Set<string>();
  ready = false;
  closed = false;
  queue: Promise<void> = Promise.resolve();
  #pending: string[] = [];

  constructor(
    readonly id: string,
    readonly user: string,
    readonly token: string,
    readonly socket: ChatSocket,
    readonly maxBufferedBytes: number,
  ) {}

  /** Fan-out delivery: buffered until the hello is answered. */
  readonly deliver = (payload: string): void => {
    if (this.closed) return;
    if (this.ready) this.write(payload);
    else this.#pending.push(payload);
  };

  write(payload: string): void {
    if (this.closed || this.socket.readyState !== OPEN) return;
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.socket.terminate();
      return;
    }
    this.socket.send(payload);
  }

  markReady(): void {
    this.ready = true;
    const pending = this.#pending;
    this.#pending = [];
    for (const payload of pending) this.write(payload);
  }

  run(task: () => Promise<void>, onError: (err: unknown) => void): void {
    this.queue = this.queue.then(task).catch(onError);
  }
}

export class Hub {
  readonly #store: ChatStore;
  readonly #fanout: FanOut;
  readonly #presence: Presence;
  readonly #options: HubOptions;
  readonly #actions: RateLimiter;
  readonly #requests: RateLimiter;
  readonly #typing = new Map<string, number>();
  readonly #connections = new Set<Connection>();
  #nextId = 1;
  readonly #nodeId = Math.random().toString(36).slice(2, 10);

  constructor(store: ChatStore, fanout: FanOut, presence: Presence, options: HubOptions) {
    this.#store = store;
    this.#fanout = fanout;
    this.#presence = presence;
    this.#options = options;
    this.#actions = new RateLimiter(options.limits.rateBurst, options.limits.ratePerSecond);
    // Reads (history, sync, rooms, read markers) are cheap but not free: a generous second bucket.
    this.#requests = new RateLimiter(options.limits.rateBurst * 6, options.limits.ratePerSecond * 10);
  }

  /** Creates the default room if the store is new. */
  async start(): Promise<void> {
    await this.#store.createRoom(DEFAULT_ROOM, 'system', Date.now());
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Takes over an authenticated socket. */
  attach(socket: ChatSocket, user: string, token: string): void {
    const conn = new Connection(
      `${this.#nodeId}-${this.#nextId++}`,
      user,
      token,
      socket,
      this.#options.maxBufferedBytes,
    );
    this.#connections.add(conn);
    const onUserEvent = (payload: string) =>
      conn.run(() => this.#onUserEvent(conn, payload), this.#fail(conn));
    this.#fanout.subscribe(userTopic(user), onUserEvent);
    socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (isBinary) {
        conn.write(errorReply('bad_message', 'binary messages are not supported'));
        return;
      }
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString()
        : Buffer.from(data as Buffer).toString();
      conn.run(() => this.#handleOrRefuse(conn, text), this.#fail(conn));
    });
    socket.on('close', () => {
      conn.closed = true;
      this.#fanout.unsubscribe(userTopic(user), onUserEvent);
      conn.run(() => this.#detach(conn), this.#fail(conn));
    });
  }

  /** Closes every connection of a session (sign-out). */
  endSession(token: string): void {
    for (const conn of this.#connections) {
      if (conn.token === token) conn.socket.close(1008, 'signed out');
    }
  }

  /** Resolves when every connection has finished its queued work (used at shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.#connections].map((c) => c.queue));
  }

  #fail(conn: Connection): (err: unknown) => void {
    return (err) => {
      this.#options.log(`chat: internal error for ${conn.user}: ${(err as Error)?.stack ?? err}`);
      conn.write(errorReply('internal', 'internal error'));
    };
  }

  #publish(topic: string, message: ServerMessage): void {
    this.#fanout.publish(topic, encode(message));
  }

  /**
   * A store outage (UnavailableError) while handling a request is answered with code 'unavailable'
   * and the request's id/ref: nothing was acknowledged, the client keeps the message and resends
   * it once a `service` message says the chat is available again (dedup makes that safe).
   */
  async #handleOrRefuse(conn: Connection, text: string): Promise<void> {
    try {
      await this.#handle(conn, text);
    } catch (err) {
      if (!(err instanceof UnavailableError)) throw err;
      const parsed = parseClientMessage(text, this.#options.limits.maxTextBytes);
      const msg = parsed.ok ? parsed.message : undefined;
      const ref = msg?.type === 'send' ? msg.id : msg && 'ref' in msg ? msg.ref : undefined;
      conn.write(errorReply('unavailable', 'chat storage is unavailable; retry when service resumes', ref));
      // A hello cut short leaves nothing to keep: 1013 (try again later) makes the client reconnect.
      if (msg?.type === 'hello' && !conn.ready) conn.socket.close(1013, 'storage unavailable');
    }
  }

  async #handle(conn: Connection, text: string): Promise<void> {
    if (conn.closed) return;
    const parsed = parseClientMessage(text, this.#options.limits.maxTextBytes);
    if (!parsed.ok) {
      conn.write(errorReply(parsed.code, parsed.message, parsed.ref));
      return;
    }
    const msg = parsed.message;
    if (msg.type === 'hello') {
      await this.#hello(conn, msg.rooms ?? {});
      return;
    }
    const ref = msg.type === 'send' ? msg.id : 'ref' in msg ? msg.ref : undefined;
    if (!conn.ready) {
      conn.write(errorReply('not_ready', 'send hello first', ref));
      return;
    }
    const now = this.#options.now?.() ?? Date.now();
    const isAction = ['send', 'edit', 'delete', 'create', 'join', 'leave'].includes(msg.type);
    if (msg.type !== 'typing') {
      const wait = isAction ? this.#actions.take(conn.user, now) : this.#requests.take(conn.user, now);
      if (wait > 0) {
        conn.write(errorReply('rate_limited', `too many messages; retry in ${wait} ms`, ref, wait));
        return;
      }
    }
    if ('room' in msg && !['create', 'join'].includes(msg.type) && !conn.rooms.has(msg.room)) {
      conn.write(errorReply('not_member', `you are not in room ${msg.room}`, ref));
      return;
    }
    const user = conn.user;
    switch (msg.type) {
      case 'send': {
        const res = await this.#store.appendEvent({
          type: 'message',
          room: msg.room,
          user,
          clientId: msg.id,
          text: msg.text,
          ts: now,
        });
        if (!res.ok) {
          conn.write(errorReply('no_such_room', `room ${msg.room} does not exist`, ref));
          return;
        }
        const stored = (res.event as { message: ChatMessage }).message;
        // Acknowledge only now: appendEvent resolved, so the message is committed.
        const ack: ServerMessage = {
          v: 1,
          type: 'ack',
          id: msg.id,
          room: stored.room,
          seq: stored.seq,
          ts: stored.ts,
        };
        if (res.duplicate) ack.duplicate = true;
        conn.write(encode(ack));
        if (!res.duplicate)
          this.#fanout.publishEvent(stored.room, stored.seq, encode({ v: 1, ...res.event }));
        return;
      }
      case 'edit':
      case 'delete': {
        const res = await this.#store.appendEvent(
          msg.type === 'edit'
            ? { type: 'edit', room: msg.room, user, target: msg.seq, text: msg.text, ts: now }
            : { type: 'delete', room: msg.room, user, target: msg.seq, ts: now },
        );
        if (!res.ok) {
          conn.write(
            res.reason === 'forbidden'
              ? errorReply('forbidden', 'you can only change your own messages', ref)
              : errorReply('not_found', `no message ${msg.seq} in ${msg.room}`, ref),
          );
          return;
        }
        const event = res.event as { seq: number };
        this.#fanout.publishEvent(msg.room, event.seq, encode({ v: 1, ...res.event }));
        return;
      }
      case 'history': {
        const page = this.#options.limits.historyPage;
        const head = await this.#store.head(msg.room);
        const rows = await this.#store.messagesBefore(msg.room, msg.before ?? head + 1, page + 1);
        const messages = rows.slice(0, page).reverse();
        const reply: ServerMessage = {
          v: 1,
          type: 'history',
          room: msg.room,
          messages,
          head,
          hasMore: rows.length > page,
        };
        if (ref !== undefined) reply.ref = ref;
        conn.write(encode(reply));
        return;
      }
      case 'sync':
        await this.#replay(conn, msg.room, msg.after, ref);
        return;
      case 'typing': {
        const key = `${user}\n${msg.room}`;
        const last = this.#typing.get(key) ?? 0;
        if (now - last < this.#options.typingIntervalMs) return; // throttled: dropped without an error
        this.#typing.set(key, now);
        if (this.#typing.size > 10_000) this.#sweepTyping(now);
        this.#publish(roomTopic(msg.room), { v: 1, type: 'typing', room: msg.room, user });
        return;
      }
      case 'read':
        await this.#store.markRead(user, msg.room, msg.seq);
        return;
      case 'rooms': {
        const reply: ServerMessage = { v: 1, type: 'rooms', rooms: await this.#store.listRooms() };
        if (ref !== undefined) reply.ref = ref;
        conn.write(encode(reply));
        return;
      }
      case 'create':
      case 'join':
        await this.#join(conn, msg.room, msg.type === 'create', ref);
        return;
      case 'leave':
        await this.#leave(conn, msg.room, ref);
        return;
    }
  }

  #sweepTyping(now: number): void {
    for (const [key, ts] of this.#typing)
      if (now - ts >= this.#options.typingIntervalMs) this.#typing.delete(key);
  }

  async #hello(conn: Connection, known: Record<string, number>): Promise<void> {
    if (conn.ready) {
      conn.write(errorReply('bad_message', 'hello was already sent'));
      return;
    }
    const rooms: RoomState[] = [];
    for (const m of await this.#store.memberships(conn.user)) {
      // Subscribe before reading head: anything committed later arrives through the buffer.
      await this.#enterRoom(conn, m.room);
      rooms.push(await this.#roomState(m.room, conn.user, m.lastRead));
    }
    conn.write(encode({ v: 1, type: 'welcome', user: conn.user, rooms, limits: this.#options.limits }));
    for (const [room, after] of Object.entries(known)) {
      if (conn.rooms.has(room)) await this.#replay(conn, room, after, undefined);
    }
    conn.markReady();
  }

  async #roomState(room: string, user: string, lastRead: number): Promise<RoomState> {
    return {
      name: room,
      head: await this.#store.head(room),
      unread: await this.#store.unreadCount(room, user, lastRead),
      online: await this.#presence.online(room),
    };
  }

  /**
   * Sends the events after `after`, in order, then `synced`; or `reset` when the client is more than
   * replayLimit events behind (or claims a seq the room never had) and must reload history instead.
   */
  async #replay(conn: Connection, room: string, after: number, ref: string | undefined): Promise<void> {
    const limit = this.#options.limits.replayLimit;
    const head = await this.#store.head(room);
    if (after > head || head - after > limit) {
      const reset: ServerMessage = { v: 1, type: 'reset', room, head };
      if (ref !== undefined) reset.ref = ref;
      conn.write(encode(reset));
      return;
    }
    let last = after;
    for (const event of await this.#store.eventsAfter(room, after, limit)) {
      conn.write(encode({ v: 1, ...event }));
      last = event.type === 'message' ? event.message.seq : event.seq;
    }
    const synced: ServerMessage = { v: 1, type: 'synced', room, head: Math.max(head, last) };
    if (ref !== undefined) synced.ref = ref;
    conn.write(encode(synced));
  }

  async #enterRoom(conn: Connection, room: string): Promise<void> {
    if (conn.closed || conn.rooms.has(room)) return;
    conn.rooms.add(room);
    this.#fanout.subscribe(roomTopic(room), conn.deliver);
    if (await this.#presence.add(room, conn.user, conn.id)) {
      this.#publish(roomTopic(room), { v: 1, type: 'presence', room, user: conn.user, online: true });
    }
  }

  async #exitRoom(conn: Connection, room: string): Promise<void> {
    if (!conn.rooms.delete(room)) return;
    this.#fanout.unsubscribe(roomTopic(room), conn.deliver);
    if (await this.#presence.remove(room, conn.user, conn.id)) {
      this.#publish(roomTopic(room), { v: 1, type: 'presence', room, user: conn.user, online: false });
    }
  }

  async #join(conn: Connection, room: string, create: boolean, ref: string | undefined): Promise<void> {
    const user = conn.user;
    if (create) {
      if (await this.#store.roomExists(room)) {
        conn.write(errorReply('room_exists', `room ${room} already exists`, ref));
        return;
      }
    } else if (!(await this.#store.roomExists(room))) {
      conn.write(errorReply('no_such_room', `room ${room} does not exist`, ref));
      return;
    }
    const memberships = await this.#store.memberships(user);
    const existing = memberships.find((m) => m.room === room);
    if (!existing && memberships.length >= this.#options.limits.maxRoomsPerUser) {
      conn.write(
        errorReply(
          'too_many_rooms',
          `you can be in at most ${this.#options.limits.maxRoomsPerUser} rooms`,
          ref,
        ),
      );
      return;
    }
    if (create && !(await this.#store.createRoom(room, user, Date.now()))) {
      conn.write(errorReply('room_exists', `room ${room} already exists`, ref));
      return;
    }
    const added = !existing && (await this.#store.join(user, room));
    if (added) this.#publish(roomTopic(room), { v: 1, type: 'member', room, user, joined: true });
    await this.#enterRoom(conn, room);
    const lastRead = existing?.lastRead ?? (await this.#store.head(room));
    const state = await this.#roomState(room, user, lastRead);
    const reply: ServerMessage = { v: 1, type: 'joined', ...state };
    if (ref !== undefined) reply.ref = ref;
    conn.write(encode(reply));
    // The user's other tabs enter the room too.
    if (added) this.#publish(userTopic(user), { v: 1, type: 'joined', ...state });
  }

  async #leave(conn: Connection, room: string, ref: string | undefined): Promise<void> {
    const user = conn.user;
    const removed = await this.#store.leave(user, room);
    await this.#exitRoom(conn, room);
    const reply: ServerMessage = { v: 1, type: 'left', room };
    if (ref !== undefined) reply.ref = ref;
    conn.write(encode(reply));
    if (removed) {
      this.#publish(roomTopic(room), { v: 1, type: 'member', room, user, joined: false });
      this.#publish(userTopic(user), { v: 1, type: 'left', room });
    }
  }

  /** A membership change made by another connection of the same user. */
  async #onUserEvent(conn: Connection, payload: string): Promise<void> {
    if (conn.closed) return;
    const event = JSON.parse(payload) as ServerMessage;
    if (event.type === 'joined') {
      if (conn.rooms.has(event.name)) return; // the connection that asked already entered
      await this.#enterRoom(conn, event.name);
      conn.deliver(payload);
    } else if (event.type === 'left') {
      if (!conn.rooms.has(event.room)) return;
      await this.#exitRoom(conn, event.room);
      conn.deliver(payload);
    }
  }

  async #detach(conn: Connection): Promise<void> {
    for (const room of [...conn.rooms]) await this.#exitRoom(conn, room);
    this.#connections.delete(conn);
  }
}
