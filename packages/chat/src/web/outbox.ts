/**
 * The page's outbox: messages typed but not yet acknowledged, in ONE ordered queue.
 *
 * - Stop and wait: only the first message is in flight; the next one is sent when the server
 *   acknowledges it. So the stored order is the typed order, whatever the rate limit does.
 * - Paced: before sending, the outbox takes a token from a bucket that mirrors the server's
 *   messageRate (from `welcome`); without one it waits the time the bucket says. A `rate_limited`
 *   error (the user's other tabs share the server's bucket) holds the queue for `retryAfterMs`.
 *   Either way `slowedDown` is true while a message waits for the rate limit, and false again as
 *   soon as it is sent.
 * - `unavailable` (Redis down; SQLite full or locked) holds the queue until `serviceBack()`; a lost
 *   connection holds it until `connected()` (after the next welcome). The same ids are resent, so
 *   the server stores each message once.
 * - `not_ready` (sent before the hello was answered) holds it until `connected()` like a lost
 *   connection; a `service` notice before the welcome does not release the queue.
 * - A room the user is no longer in (left or deleted, maybe in another tab) has no place to show
 *   its unsent messages: they are dropped and handed to `onDropped` (the page says so and offers
 *   their text), however the page learns it: `dropRoom` (a live `left`), `connected` (the room is
 *   absent from the welcome: left while offline, so nothing known to be refused is sent), or a
 *   send refused with `not_member`/`no_such_room` (refusal.ts `drop`; the one in flight when the
 *   `left` came, or any sent while the page did not know yet).
 * - Except a message that may have been stored (`mayBeStored`): one that went out (`sent`, kept
 *   across a reload) and was not answered (its ack lost with the connection, or still in flight
 *   when the `left` came), or was answered `internal` (a server fault, maybe after the commit: the
 *   request "may not have been applied", so it may have been). The server acknowledges its own
 *   author's stored message even from outside the room (docs/chat-protocol.md, `send`), so neither
 *   `dropRoom` nor `connected` drops it: it is marked `outside` (saved with the queue) and sent
 *   again under its id, in its place in the queue (also if failed), to ask. An ack removes it like
 *   any other (the page shows nothing: the room is not there); any refusal but a wait drops it,
 *   told at once, whatever its code (`not_member`, but also `id_reused`, `internal`... that would
 *   keep it shown failed in a room the page has): it is never kept where nobody sees it. So a
 *   message everyone else got is never called unsent (nor offered to be posted again), and asking
 *   stores nothing (the sender is not a member: the answer is an ack of what is stored, or a
 *   refusal). Once the page has the room again (a welcome lists it, or a live join: `roomBack`),
 *   such a message is the room's again: shown there, failed as before if it was.
 * - Stored is stored, however the page sees it (`seen`): the ack, our own message arriving live
 *   or replayed, or in a `history` page (a reload, a room loaded again, also a search's context)
 *   with the content it was sent with (`sentAs`). Each acknowledges the queued message in whatever
 *   state it is (in flight, waiting for the rate limit or the service, failed `internal`, asked
 *   about): it leaves the queue, so it is neither shown twice (delivered and still queued) nor
 *   sent again. A late error for it (an `internal` after the commit whose message event came
 *   first, the answer to a resend) is ignored (`failed`): it is not about an unsent message.
 * - Any other error refuses this message for good (`text_too_long`, a reply target or files
 *   `not_found`, `bad_message`, `id_reused`, `internal`...): it is marked failed with the reason and
 *   stays in the queue, shown as not sent (also after a reload), is not sent again by itself, and
 *   the queue goes on with the next. The user sends it again (`resend`; where refusal.ts
 *   `canSendAgain`), takes it back to edit (`discard` returns it) or discards it.
 *
 * No DOM and no global timers: time and timers come from the host, so tests drive them.
 */
import type { Attachment, ChatMessage, ClientMessage, Rate, ServerMessage } from '../shared/protocol.js';
import { TokenBucket } from '../shared/token-bucket.js';
import { refusalHandling } from './refusal.js';

export interface Pending {
  id: string;
  room: string;
  text: string;
  /** Uploaded files sent with it (web/attachments.ts). */
  attachments?: Attachment[];
  /** The seq of the message this one replies to. */
  replyTo?: number;
  /**
   * Refused for good (refusal.ts `keep`): shown with the reason, not sent again by itself (but to
   * ask, `outside`, after `internal`).
   */
  failed?: { code: string; message: string };
  /** Went out to the server at least once under this id: it may be stored (saved with the queue). */
  sent?: true;
  /**
   * Its room is gone from the page (a `left`, or absent from the last welcome) but it may be stored
   * (`mayBeStored`): sent only to ask, also when `failed`; an ack removes it, any refusal that is
   * not a wait drops it (`onDropped`).
   */
  outside?: true;
}

export interface OutboxHost {
  /** Sends to the server; false when there is no open connection. */
  send(message: ClientMessage): boolean;
  now(): number;
  /** Runs `fn` after `ms`; returns a cancel function. */
  later(ms: number, fn: () => void): () => void;
  /** Persists the queue (sessionStorage on the page). */
  save(items: readonly Pending[]): void;
  /** A message the server refused for good, kept and shown failed (`item.failed` is set). */
  onRejected(item: Pending, code: string, message: string): void;
  /**
   * Unsent messages (queued or failed) of a room the user is no longer in, dropped from the queue
   * in typed order: the page tells the user, whose text must not vanish unsaid.
   */
  onDropped(room: string, items: Pending[]): void;
  /** The queue or its state changed (re-render). */
  onChange(): void;
}

type Hold = 'offline' | 'rate' | 'unavailable' | null;

/** How many acknowledged ids the outbox remembers, to ignore a late error for one (`failed`). */
const ACKED_KEPT = 1000;

/**
 * Whether `message`, ours in a `history` page under the id and in the room of `p`, is `p` as the
 * server would take a resend of it: the same text, reply target and files. A history shows
 * messages as they are now, so one edited or deleted since cannot be compared: not taken for `p`
 * (its resend's answer decides, the ack of a duplicate). Nor is one with other content: the page
 * queued another message under a used id, which the server refuses (`id_reused`) and the page
 * shows as not sent; taken for the stored one, its text would vanish unsent and unsaid.
 */
export function sentAs(p: Pending, message: ChatMessage): boolean {
  if (message.deleted || message.editedAt !== undefined) return false;
  const files = (list: readonly { id: string }[] | undefined) => (list ?? []).map((a) => a.id).join(',');
  return (
    message.text === p.text &&
    message.reply?.seq === p.replyTo &&
    files(message.attachments) === files(p.attachments)
  );
}

/**
 * Whether `p` may be stored although not acknowledged: it went out and no answer said it was not
 * stored (none came, or `internal`: the server failed, maybe after the commit). Only such a message
 * of a room the page no longer has is asked about (the file comment); the others are told unsent.
 */
function mayBeStored(p: Pending): boolean {
  return p.failed ? p.failed.code === 'internal' : p.sent === true;
}

export class Outbox {
  readonly #host: OutboxHost;
  #items: Pending[];
  #inFlight: string | null = null;
  #hold: Hold = 'offline';
  #cancel: (() => void) | null = null;
  #bucket: TokenBucket | null = null;
  /**
   * Ids acknowledged lately (`acknowledged`), oldest first, at most ACKED_KEPT: a late error for
   * one (an `internal` after the commit, its message event came first; the answer to a resend
   * asked while a history page showed it stored) is not about an unsent message (`failed`).
   */
  readonly #acked = new Set<string>();

  constructor(host: OutboxHost, saved: readonly Pending[] = []) {
    this.#host = host;
    this.#items = [...saved];
  }

  get items(): readonly Pending[] {
    return this.#items;
  }

  /** A message waits for the rate limit (the page says "Slow down a little — sending shortly."). */
  get slowedDown(): boolean {
    return this.#hold === 'rate';
  }

  has(id: string): boolean {
    return this.#items.some((p) => p.id === id);
  }

  add(item: Pending): void {
    this.#items.push(item);
    this.#host.save(this.#items);
    this.#pump();
    this.#host.onChange();
  }

  /**
   * After a welcome: pace like the server, and send the first message (again, same id). `rooms`,
   * the welcome's rooms: the messages of any other room are dropped first (`onDropped`), not sent
   * to be refused; except one that may be stored (`mayBeStored`): it is marked `outside` and sent
   * to ask (the file comment). A message marked `outside` whose room is listed again (joined again)
   * is one like any other again: shown in its room, failed if it was.
   */
  connected(rate: Rate, rooms?: Iterable<string>): void {
    this.#bucket = new TokenBucket(rate.burst, rate.perSecond, this.#host.now());
    this.#inFlight = null;
    if (rooms !== undefined) {
      const member = new Set(rooms);
      let marked = false;
      for (const p of this.#items) {
        const outside = !member.has(p.room) && mayBeStored(p);
        if (outside === (p.outside === true)) continue;
        if (outside) p.outside = true;
        else delete p.outside;
        marked = true;
      }
      const gone = new Set(this.#items.filter((p) => !member.has(p.room)).map((p) => p.room));
      let dropped = false;
      for (const room of gone) dropped = this.#drop(room, (p) => p.outside === true) || dropped;
      if (marked && !dropped) this.#host.save(this.#items);
    }
    this.#release('offline');
    if (this.#hold === null) this.#pump();
  }

  disconnected(): void {
    this.#inFlight = null;
    this.#setHold('offline');
  }

  serviceLost(): void {
    // Before the welcome the queue waits for it: a `service` notice must not make it a wait for
    // the service alone (serviceBack would then send before the hello is answered).
    if (this.#hold !== 'offline') this.#setHold('unavailable');
  }

  serviceBack(): void {
    this.#inFlight = null;
    this.#release('unavailable');
    this.#pump();
  }

  /**
   * Every server message goes by here first: what it shows stored of ours is acknowledged, in
   * whatever state it is here (the file comment). A send's `ack` (a react's has no id); our own
   * `message` event, live or replayed (its ack may have been lost); and our own messages in a
   * `history` page (the latest, an older one, a search's context: a reload or a room loaded again
   * finds there what may still be queued, unanswered or refused `internal` after the commit), each
   * if it is the queued one as sent (`sentAs`).
   */
  seen(msg: ServerMessage, me: string): void {
    if (msg.type === 'ack') {
      if (msg.id !== undefined) this.acknowledged(msg.id, msg.room);
    } else if (msg.type === 'message') {
      if (msg.message.user === me) this.acknowledged(msg.message.id, msg.message.room);
    } else if (msg.type === 'history') {
      for (const message of msg.messages) {
        if (message.user !== me) continue;
        const p = this.#items.find((q) => q.id === message.id && q.room === msg.room);
        if (p && sentAs(p, message)) this.acknowledged(p.id, p.room);
      }
    }
  }

  /**
   * The server stored `id` (in `room`, when known: an id names one message of its sender in one
   * room): its ack, or our own message seen stored (`seen`). Whatever state it is in (in
   * flight, waiting, failed, asked about), it leaves the queue and is never sent again.
   */
  acknowledged(id: string, room?: string): void {
    // A message refused as id_reused is not the one stored under its id (that is why it failed).
    // Any other failed one may be acknowledged: after `internal` it may have been stored after all.
    const i = this.#items.findIndex(
      (p) => p.id === id && (room === undefined || p.room === room) && p.failed?.code !== 'id_reused',
    );
    if (i < 0) return;
    this.#items.splice(i, 1);
    this.#acked.add(id);
    if (this.#acked.size > ACKED_KEPT) this.#acked.delete(this.#acked.values().next().value as string);
    this.#host.save(this.#items);
    if (this.#inFlight === id) this.#inFlight = null;
    this.#pump();
    this.#host.onChange();
  }

  /**
   * An error answering the send of `id`; false if `id` is not ours. One for a message acknowledged
   * since (stored: it left the queue) is ignored, true: the page shows nothing about it.
   */
  failed(id: string, code: string, message: string, retryAfterMs?: number): boolean {
    const item = this.#items.find((p) => p.id === id);
    if (!item) return this.#acked.has(id);
    if (this.#inFlight === id) this.#inFlight = null;
    // A failed message goes out only to ask (`outside`): that answer decides. One whose room came
    // back meanwhile (`roomBack`) is shown failed already: it stays so, the queue goes on.
    if (item.failed && !item.outside) {
      this.#pump();
      return true;
    }
    const handling = refusalHandling(code);
    if (code === 'rate_limited') {
      this.#wait(retryAfterMs ?? 1000);
    } else if (code === 'unavailable') {
      this.#setHold('unavailable');
    } else if (handling === 'retry') {
      // not_ready: sent before the hello was answered: nothing was done; it goes again after the
      // welcome.
      this.#setHold('offline');
    } else if (handling === 'keep' && !item.outside) {
      item.failed = { code, message };
      this.#host.save(this.#items);
      this.#host.onRejected(item, code, message);
      this.#pump();
    } else {
      // Only this one: a message typed after the room was joined again, behind it, can go. (Also a
      // message of a room the page no longer has, refused for any reason: it has nowhere to be shown,
      // so it is told now, not kept unseen until a welcome drops it.)
      this.#items.splice(this.#items.indexOf(item), 1);
      this.#host.save(this.#items);
      this.#host.onDropped(item.room, [item]);
      this.#pump();
    }
    this.#host.onChange();
    return true;
  }

  /**
   * A failed message goes again, in its place in the queue: under `newId` if its id was refused
   * (`id_reused`), else under its own id (after `internal` the server may hold it: it then
   * acknowledges it as a duplicate instead of storing it twice).
   */
  resend(id: string, newId: string): void {
    const item = this.#items.find((p) => p.id === id);
    if (!item?.failed) return;
    if (item.failed.code === 'id_reused') {
      item.id = newId;
      delete item.sent;
    }
    delete item.failed;
    this.#host.save(this.#items);
    this.#pump();
    this.#host.onChange();
  }

  /** A failed message is dropped by the user (or taken back to edit): returns it. */
  discard(id: string): Pending | undefined {
    const i = this.#items.findIndex((p) => p.id === id && p.failed);
    if (i < 0) return undefined;
    const [item] = this.#items.splice(i, 1);
    this.#host.save(this.#items);
    this.#host.onChange();
    return item;
  }

  /**
   * The room was left or deleted (or the user removed): its unsent messages go to `onDropped`,
   * except those that may be stored (`mayBeStored`: the one in flight, one answered `internal`),
   * marked `outside` and asked about: their answer decides (an ack if stored before the leave, else
   * a refusal, told then, whatever its code).
   */
  dropRoom(room: string): void {
    let marked = false;
    for (const p of this.#items) {
      if (p.room !== room || p.outside || !mayBeStored(p)) continue;
      p.outside = true;
      marked = true;
    }
    const dropped = this.#drop(room, (p) => p.outside === true);
    if (!marked && !dropped) return;
    if (marked && !dropped) this.#host.save(this.#items);
    this.#pump();
    this.#host.onChange();
  }

  /**
   * The page has `room` again (joined again, live): its messages asked about are the room's again,
   * shown there (failed if they were), as when a welcome lists the room again.
   */
  roomBack(room: string): void {
    let changed = false;
    for (const p of this.#items) {
      if (p.room !== room || !p.outside) continue;
      delete p.outside;
      changed = true;
    }
    if (!changed) return;
    this.#host.save(this.#items);
    this.#host.onChange();
  }

  /** Drops the messages of `room` but those kept (that may be stored: their answer decides). */
  #drop(room: string, keep: (p: Pending) => boolean): boolean {
    const dropped = this.#items.filter((p) => p.room === room && !keep(p));
    if (dropped.length === 0) return false;
    this.#items = this.#items.filter((p) => !dropped.includes(p));
    this.#host.save(this.#items);
    this.#host.onDropped(room, dropped);
    return true;
  }

  clear(): void {
    this.#items = [];
    this.#host.save(this.#items);
    this.#cancel?.();
  }

  #setHold(hold: Exclude<Hold, null>): void {
    this.#cancel?.();
    this.#cancel = null;
    this.#hold = hold;
  }

  #release(hold: Exclude<Hold, null>): void {
    if (this.#hold === hold) this.#hold = null;
  }

  #wait(ms: number): void {
    this.#setHold('rate');
    this.#cancel = this.#host.later(ms, () => {
      this.#cancel = null;
      this.#release('rate');
      this.#pump();
      this.#host.onChange();
    });
  }

  #pump(): void {
    if (this.#hold !== null || this.#inFlight !== null) return;
    const next = this.#items.find((p) => !p.failed || p.outside);
    if (!next) return;
    const wait = this.#bucket?.take(this.#host.now()) ?? 0;
    if (wait > 0) {
      this.#wait(wait);
      return;
    }
    const message: ClientMessage = { v: 2, type: 'send', id: next.id, room: next.room, text: next.text };
    if (next.attachments?.length) message.attachments = next.attachments.map((a) => a.id);
    if (next.replyTo !== undefined) message.replyTo = next.replyTo;
    if (!this.#host.send(message)) return void this.#setHold('offline');
    this.#inFlight = next.id;
    if (!next.sent) {
      next.sent = true;
      this.#host.save(this.#items);
    }
  }
}
