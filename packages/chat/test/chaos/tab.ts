/**
 * A browser tab of the chat, without a browser: the page's own state (web/room-state.ts) and
 * outbox (web/outbox.ts), wired to a riptide WebSocket the way web/main.ts and web/connection.ts
 * wire them to the browser's. What the page does with each server message is done here in the
 * same order, so the chaos tests exercise the page's logic, not a re-implementation of it.
 *
 * Differences from the page, on purpose: the tab reconnects when the test says so (the page waits
 * a backoff), and the test can cut its connection at chosen moments (`kill*`): the socket is
 * destroyed without a closing handshake, as when a laptop drops off the network.
 */
import { WebSocket } from 'riptide';
import {
  type ClientMessage,
  eventRoom,
  eventSeq,
  type RoomEvent,
  type ServerMessage,
} from '../../src/shared/protocol.js';
import { Outbox, type Pending } from '../../src/web/outbox.js';
import { ChatState } from '../../src/web/room-state.js';

/** The requests that change memberships (chaos/run.ts waits for their answers). */
const MEMBERSHIP = new Set<ClientMessage['type']>([
  'join',
  'create',
  'leave',
  'delete_room',
  'invite',
  'accept',
  'remove',
]);

const isRoomEvent = (m: ServerMessage): m is Extract<ServerMessage, RoomEvent> =>
  m.type === 'message' || m.type === 'edited' || m.type === 'deleted' || m.type === 'reacted';

export interface Ack {
  seq: number;
  duplicate: boolean;
}

/** Where the tab connects: the test moves it (a restarted server, another node). */
export interface Place {
  origin(): string;
}

/** How long a wait for a condition may take before it is a failure (a deadline, not a barrier). */
export const PATIENCE_MS = 30_000;

export class Tab {
  readonly state: ChatState;
  readonly outbox: Outbox;
  ws: WebSocket | null = null;
  welcomed = false;
  /** Messages the user typed here, in the order typed. */
  readonly typed: Pending[] = [];
  /** Every `ack` of a send received here, per message id. */
  readonly acks = new Map<string, Ack[]>();
  /** Sends the server refused for good (none expected: every text is valid). */
  readonly rejected: { id: string; code: string; message: string }[] = [];
  /**
   * Typed messages the outbox dropped unsent because their room was left or deleted (outbox.ts
   * `onDropped`: a `left`, a welcome without the room, or a send refused for its room).
   */
  readonly dropped = new Set<string>();
  /** Errors answering other requests (an edit of a message deleted meanwhile is fine). */
  readonly errors: Extract<ServerMessage, { type: 'error' }>[] = [];
  /** The last things that happened to this tab, for the failure message. */
  readonly trace: string[] = [];
  /** Every line of the trace as it happens, when the run is verbose (CHAOS_VERBOSE). */
  log: ((line: string) => void) | undefined;
  /** What happened here, counted (the test shows that the run went through what it is for). */
  readonly seen = {
    resets: 0,
    synced: 0,
    duplicateAcks: 0,
    histories: 0,
    kills: 0,
    syncs: 0,
    /**
     * Rooms entered (`joined`), left (`left`), and left because their owner deleted them or removed
     * the user from them.
     */
    joined: 0,
    left: 0,
    deleted: 0,
    removed: 0,
    /** Members this tab's user removed from their private rooms (`removed` answers). */
    removals: 0,
  };
  /** Rooms this tab created (a `joined` answering its `create`), in order; a name may come again. */
  readonly created: string[] = [];
  /** Refs of the `create` requests sent here. */
  #creates = new Set<string>();
  /** Refs of the membership requests sent on this connection and not answered yet. */
  #membership = new Set<string>();
  /** Reconnect at once when the socket closes (while the test waits for quiescence). */
  autoReconnect = false;
  #n = 0;
  #refs = 0;
  #killOnWrite: ClientMessage['type'] | null = null;
  #killAfterMessages = 0;
  #watchers = new Set<() => void>();
  #pongs = new Set<string>();
  /** Per room, the seq the next event on this connection must have (each once, in order, no gap). */
  #expected = new Map<string, number>();
  /** Broken delivery promises seen on a connection (section 3 of the protocol). */
  readonly violations: string[] = [];
  /** Per room, the newest event that reached the page (on any connection). */
  #newest = new Map<string, number>();
  /** Refs of the `sync`s sent, with their rooms, until answered. */
  #syncs = new Map<string, string>();
  /** Rooms whose `sync` was answered `unavailable`, until a replay of them ends (see #checkKept). */
  #cutShort = new Set<string>();
  #reported = new Set<string>();
  /** Per room, where a replay the page asked for with `sync` starts (its events come again). */
  #replayFrom = new Map<string, number>();
  /** The rooms the hello named, with the seq named (the welcome says which of them the user is in). */
  #named = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly user: string,
    readonly cookie: string,
    readonly place: Place,
  ) {
    this.state = new ChatState({ send: (m) => void this.#send(m), now: () => Date.now() });
    this.outbox = new Outbox({
      send: (m) => this.#send(m),
      now: () => Date.now(),
      later: (ms, fn) => {
        const timer = setTimeout(fn, ms);
        return () => clearTimeout(timer);
      },
      save: () => {},
      onRejected: (item, code, message) => {
        this.rejected.push({ id: item.id, code, message });
        // A message refused for good stays, shown failed, until the user acts (outbox.ts): this
        // user discards it (the page's Discard), after the outbox has gone on with the next.
        if (item.failed) queueMicrotask(() => this.outbox.discard(item.id));
      },
      onDropped: (_room, items) => {
        for (const item of items) this.dropped.add(item.id);
      },
      onChange: () => {},
    });
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Notes a line in the trace (shown when the run fails). */
  note(line: string): void {
    this.#note(line);
  }

  #note(line: string): void {
    this.log?.(`${this.name} ${line}`);
    this.trace.push(line);
    if (this.trace.length > 60) this.trace.shift();
  }

  /** Opens a WebSocket and says hello with the heads of the rooms the tab holds (onOpen). */
  connect(): void {
    if (this.ws) return;
    const origin = this.place.origin();
    const ws = new WebSocket(`${origin.replace('http', 'ws')}/ws`, {
      headers: { cookie: this.cookie, origin },
    });
    this.ws = ws;
    this.welcomed = false;
    this.#note(`connect ${origin}`);
    ws.on('open', () => {
      if (this.ws !== ws) return;
      const hello = this.state.hello();
      this.#replayFrom.clear();
      this.#expected.clear();
      this.#named = new Map(Object.entries(hello.type === 'hello' ? (hello.rooms ?? {}) : {}));
      this.#note(`open; ${JSON.stringify(hello)}`);
      this.#send(hello);
    });
    ws.on('message', (data) => {
      if (this.ws !== ws) return;
      this.#onMessage(JSON.parse(String(data)) as ServerMessage);
    });
    ws.on('close', (code) => {
      if (this.ws !== ws) return;
      this.#note(`closed by the server or the network (${code})`);
      this.#lost(code);
    });
    ws.on('error', () => {});
  }

  /** The connection is gone (connection.ts onclose, main.ts onStatus 'offline'). */
  #lost(code?: number): void {
    this.ws = null;
    this.#membership.clear(); // their answers, if any, went with the connection
    this.welcomed = false;
    this.outbox.disconnected();
    if (this.autoReconnect) {
      // 1013 (storage unavailable, or refused): try again in a moment, as the page's backoff does;
      // a pace, not a barrier (the test waits for conditions).
      if (code === 1013 || code === 1006) setTimeout(() => this.autoReconnect && this.connect(), 50);
      else this.connect();
    }
    this.#wake();
  }

  /** Destroys the socket now, without a closing handshake: whatever is unsent is lost. */
  kill(why: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.#note(`kill: ${why}`);
    this.seen.kills++;
    ws.terminate();
    this.#lost();
  }

  /** Destroys the socket once the next request of this type has been written to it. */
  killOnWrite(type: ClientMessage['type']): void {
    this.#killOnWrite = type;
  }

  /** Destroys the socket after `count` more server messages (in a replay, a history, live...). */
  killAfterMessages(count: number): void {
    this.#killAfterMessages = count;
  }

  disarm(): void {
    this.#killOnWrite = null;
    this.#killAfterMessages = 0;
  }

  #send(message: ClientMessage): boolean {
    const ws = this.ws;
    if (ws?.readyState !== WebSocket.OPEN) return false;
    const text = JSON.stringify(message);
    if (message.type === 'sync' || message.type === 'history') this.#note(`→ ${text}`);
    else if (message.type !== 'typing') this.log?.(`${this.name} → ${text}`);
    if (message.type === 'sync') {
      this.#replayFrom.set(message.room, message.after + 1);
      this.seen.syncs++;
      if (message.ref !== undefined) this.#syncs.set(message.ref, message.room);
    }
    if (message.type === 'create' && message.ref !== undefined) this.#creates.add(message.ref);
    if (MEMBERSHIP.has(message.type) && message.ref !== undefined) this.#membership.add(message.ref);
    if (this.#killOnWrite === message.type) {
      this.#killOnWrite = null;
      ws.send(text, () => {
        if (this.ws === ws) this.kill(`after writing ${text.slice(0, 120)}`);
      });
    } else ws.send(text);
    return true;
  }

  /** The user types a message (main.ts: the composer's submit). */
  type(room: string, replyTo?: number): Pending {
    const item: Pending = { id: `${this.name}-${++this.#n}`, room, text: `${this.name} says ${this.#n}` };
    if (replyTo !== undefined) item.replyTo = replyTo;
    this.typed.push(item);
    this.#note(`type ${item.id} in ${room}${replyTo === undefined ? '' : ` replying to ${replyTo}`}`);
    this.outbox.add(item);
    return item;
  }

  /** main.ts onMessage: the outbox and the state get each server message. */
  #onMessage(msg: ServerMessage): void {
    this.#checkOrder(msg);
    if (msg.type === 'reset') this.seen.resets++;
    else if (msg.type === 'synced') this.seen.synced++;
    else if (msg.type === 'history') this.seen.histories++;
    else if (msg.type === 'joined') {
      this.seen.joined++;
      if (msg.ref !== undefined && this.#creates.delete(msg.ref)) this.created.push(msg.room);
    } else if (msg.type === 'left') {
      this.seen.left++;
      if (msg.reason === 'deleted') this.seen.deleted++;
      if (msg.reason === 'removed') this.seen.removed++;
    } else if (msg.type === 'removed') this.seen.removals++;
    else if (msg.type === 'ack' && msg.duplicate && msg.id !== undefined) this.seen.duplicateAcks++;
    if (msg.type !== 'presence' && msg.type !== 'typing')
      this.#note(`← ${JSON.stringify(msg).slice(0, 160)}`);
    switch (msg.type) {
      case 'welcome':
        this.state.receive(msg);
        this.outbox.connected(
          msg.limits.messageRate,
          msg.rooms.map((r) => r.room),
        );
        this.welcomed = true;
        break;
      case 'ack':
        if (msg.id !== undefined) {
          const list = this.acks.get(msg.id) ?? [];
          list.push({ seq: msg.seq, duplicate: msg.duplicate === true });
          this.acks.set(msg.id, list);
          this.outbox.acknowledged(msg.id);
        }
        this.state.receive(msg);
        break;
      case 'message':
        if (msg.message.user === this.state.me) this.outbox.acknowledged(msg.message.id);
        this.state.receive(msg);
        break;
      case 'error':
        // A ping refused (storage unavailable: the request rate is counted there) still ends a round trip.
        if (msg.ref?.startsWith('rt')) this.#pongs.add(msg.ref);
        if (msg.id === undefined || !this.outbox.failed(msg.id, msg.code, msg.message, msg.retryAfterMs)) {
          this.errors.push(msg);
          this.state.receive(msg);
        }
        break;
      case 'left': {
        this.state.receive(msg);
        this.outbox.dropRoom(msg.room);
        break;
      }
      case 'service':
        if (msg.available) this.outbox.serviceBack();
        else this.outbox.serviceLost();
        this.state.receive(msg);
        break;
      case 'pong':
        if (msg.ref?.startsWith('rt')) this.#pongs.add(msg.ref);
        this.state.receive(msg);
        break;
      default:
        this.state.receive(msg);
    }
    this.#checkKept(msg);
    // After the page's own answer to it (a `join` refused as `no_such_room` sends `create`).
    const ref = (msg as { ref?: string }).ref;
    if (ref !== undefined) this.#membership.delete(ref);
    if (this.#killAfterMessages > 0 && --this.#killAfterMessages === 0)
      this.kill(`after receiving ${JSON.stringify(msg).slice(0, 120)}`);
    this.#wake();
  }

  /**
   * The page never forgets an event it received: a room's head stays at or past the newest event
   * of the room that reached the page (until a `reset` says otherwise), or the page is asking for
   * the events it is missing (`sync`).
   */
  #checkKept(msg: ServerMessage): void {
    // A `sync` cut short by a storage outage: the page stops asking, and the node closes the
    // connection with 1013 right after the error (hub.ts #failed); the next hello names the room's
    // head, and its replay ends with `synced` or `reset`. The room is not checked until then.
    const ref = (msg as { ref?: string }).ref;
    const synced = ref === undefined ? undefined : this.#syncs.get(ref);
    if (ref !== undefined) this.#syncs.delete(ref);
    if (msg.type === 'error' && msg.code === 'unavailable' && synced !== undefined)
      this.#cutShort.add(synced);
    if (msg.type === 'synced' || msg.type === 'reset' || msg.type === 'left' || msg.type === 'joined')
      this.#cutShort.delete(msg.room);
    if (msg.type === 'reset') this.#newest.set(msg.room, msg.head);
    else if (msg.type === 'left')
      this.#newest.delete(msg.room); // the page forgets the room
    else if (msg.type === 'welcome') {
      const now = new Set(msg.rooms.map((r) => r.room));
      for (const room of [...this.#newest.keys()]) if (!now.has(room)) this.#newest.delete(room);
    } else if (isRoomEvent(msg)) {
      const room = eventRoom(msg);
      this.#newest.set(room, Math.max(this.#newest.get(room) ?? 0, eventSeq(msg)));
    }
    for (const room of this.state.rooms.values()) {
      if (this.#cutShort.has(room.name)) continue;
      const newest = this.#newest.get(room.name) ?? 0;
      const key = `${room.name} ${newest}`;
      if (room.head < newest && !room.syncing && !this.#reported.has(key)) {
        this.#reported.add(key);
        this.violations.push(
          `${this.name}: ${room.name} at head ${room.head}, without event ${newest} it received, and not asking for it (after ${JSON.stringify(msg).slice(0, 200)})`,
        );
      }
    }
  }

  /**
   * One connection gets each event of its rooms once, in seq order, without a gap; a `sync` the
   * page sends starts the room again after the seq it names (live events may come before it).
   * It gets events only of the rooms it is in: those of its welcome, and those it entered
   * (`joined`: the events after its head follow) until it leaves them (`left`: none after it).
   */
  #checkOrder(msg: ServerMessage): void {
    if (msg.type === 'welcome') {
      for (const r of msg.rooms) {
        const named = this.#named.get(r.room);
        this.#expected.set(r.room, named === undefined ? r.head + 1 : named + 1);
      }
    } else if (msg.type === 'joined') {
      this.#expected.set(msg.room, msg.head + 1);
      this.#replayFrom.delete(msg.room);
    } else if (msg.type === 'left') {
      this.#expected.delete(msg.room);
      this.#replayFrom.delete(msg.room);
    } else if (msg.type === 'reset') {
      this.#expected.set(msg.room, msg.head + 1);
      this.#replayFrom.delete(msg.room);
    } else if (msg.type === 'synced') this.#replayFrom.delete(msg.room);
    else if (isRoomEvent(msg)) {
      const room = eventRoom(msg);
      const seq = eventSeq(msg);
      const expected = this.#expected.get(room);
      if (expected === undefined) {
        this.violations.push(`${this.name}: ${room} event ${seq} arrived on a connection not in the room`);
        return;
      }
      if (this.#replayFrom.get(room) === seq) this.#replayFrom.delete(room);
      else if (seq !== expected)
        this.violations.push(
          `${this.name}: ${room} event ${seq} arrived where ${expected} was due${
            this.violations.length === 0 ? `; the tab's last steps:\n${this.trace.join('\n')}` : ''
          }`,
        );
      this.#expected.set(room, seq + 1);
    }
  }

  #wake(): void {
    for (const w of [...this.#watchers]) w();
  }

  /**
   * Resolves once `check()` holds, looking again after each message and each close of this tab
   * (no polling, no sleeping); fails after PATIENCE_MS with what the tab saw last.
   */
  until(what: string, check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const watcher = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.#watchers.delete(watcher);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#watchers.delete(watcher);
        reject(new Error(`${this.name}: timed out waiting for ${what}; last:\n${this.trace.join('\n')}`));
      }, PATIENCE_MS);
      this.#watchers.add(watcher);
    });
  }

  /**
   * Until the membership requests this connection sent (join, create, leave, delete_room, invite,
   * and those the page sent in answer to their replies) are answered, or the connection is gone.
   */
  async answered(): Promise<void> {
    const ws = this.ws;
    await this.until(
      'the answers to membership requests',
      () => this.#membership.size === 0 || this.ws !== ws,
    );
  }

  /** A ping round trip (when open): everything the server queued here before it has arrived. */
  async roundTrip(): Promise<void> {
    const ws = this.ws;
    if (!this.open || !ws) return;
    const ref = `rt${++this.#refs}`;
    this.#send({ v: 2, type: 'ping', ref });
    await this.until(`pong ${ref}`, () => this.#pongs.delete(ref) || this.ws !== ws);
  }

  /** Nothing in flight: welcomed, outbox empty, no room syncing or waiting for its history. */
  get settled(): boolean {
    if (!this.open || !this.welcomed || this.outbox.items.length > 0) return false;
    for (const room of this.state.rooms.values()) {
      if (room.syncing || room.waiting.size > 0) return false;
      if (room.name === this.state.active && !room.loaded) return false;
    }
    return true;
  }

  close(): void {
    this.autoReconnect = false;
    this.ws?.terminate();
    this.ws = null;
  }
}
