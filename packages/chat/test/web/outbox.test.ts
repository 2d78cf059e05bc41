/**
 * The page's outbox without a browser: one ordered queue, one message in flight, paced by the
 * server's rate, held by the rate limit, an outage or a lost connection, never reordered (issue 15,
 * item 3: m1..m15 typed quickly were stored m1..m11, m15, m12, m13, m14).
 */
import { describe, expect, it } from 'vitest';
import type { ChatMessage, ClientMessage, ServerMessage } from '../../src/shared/protocol.js';
import { Outbox, type OutboxHost, type Pending } from '../../src/web/outbox.js';

class FakeHost implements OutboxHost {
  time = 0;
  sent: string[] = [];
  saved: readonly Pending[] = [];
  rejected: string[] = [];
  dropped: string[] = [];
  changes = 0;
  online = true;
  #timers: { at: number; fn: () => void }[] = [];

  send(message: ClientMessage): boolean {
    if (!this.online) return false;
    if (message.type === 'send') this.sent.push(message.id);
    return true;
  }
  now(): number {
    return this.time;
  }
  later(ms: number, fn: () => void): () => void {
    const timer = { at: this.time + ms, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }
  save(items: readonly Pending[]): void {
    this.saved = [...items];
  }
  onRejected(item: Pending, code: string): void {
    this.rejected.push(`${item.id}:${code}`);
  }
  onDropped(room: string, items: Pending[]): void {
    this.dropped.push(`${room}:${items.map((p) => p.id).join(',')}`);
  }
  onChange(): void {
    this.changes++;
  }
  /** Moves the clock, running the timers that come due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = end;
  }
}

const item = (n: number, room = 'general'): Pending => ({ id: `m${n}`, room, text: `message ${n}` });
/** As the queue keeps a message once it went out to the server (it may be stored). */
const wentOut = (p: Pending): Pending => ({ ...p, sent: true });
const rate = { burst: 10, perSecond: 2 };

describe('Outbox', () => {
  it('keeps typed order under the rate limit: one in flight, paced, "slow down" only while held', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate);
    for (let n = 1; n <= 15; n++) outbox.add(item(n));
    const stored: string[] = [];
    // The server: acknowledges whatever is in flight, in the order it arrives.
    const serve = () => {
      while (host.sent.length > stored.length) {
        const id = host.sent[stored.length];
        stored.push(id);
        outbox.acknowledged(id);
      }
    };
    serve();
    expect(stored).toEqual(Array.from({ length: 10 }, (_, i) => `m${i + 1}`));
    expect(outbox.slowedDown).toBe(true);
    for (let t = 0; t < 10; t++) {
      host.advance(500);
      serve();
    }
    expect(stored).toEqual(Array.from({ length: 15 }, (_, i) => `m${i + 1}`));
    expect(outbox.items).toEqual([]);
    expect(host.saved).toEqual([]);
    expect(outbox.slowedDown).toBe(false);
  });

  it('holds the queue for the server\u2019s retry hint and resends the same id first', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected({ burst: 100, perSecond: 100 });
    outbox.add(item(1));
    outbox.add(item(2));
    expect(host.sent).toEqual(['m1']);
    // Another tab of the same user used the shared bucket: the server refuses m1.
    expect(outbox.failed('m1', 'rate_limited', 'slow down', 480)).toBe(true);
    expect(outbox.slowedDown).toBe(true);
    host.advance(479);
    expect(host.sent).toEqual(['m1']);
    host.advance(1);
    expect(host.sent).toEqual(['m1', 'm1']);
    expect(outbox.slowedDown).toBe(false);
    outbox.acknowledged('m1');
    expect(host.sent).toEqual(['m1', 'm1', 'm2']);
  });

  it('waits for the connection, then for the service, resending with the same ids', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host, [item(1)]); // restored from sessionStorage
    outbox.add(item(2));
    expect(host.sent).toEqual([]); // not connected yet
    outbox.connected(rate);
    expect(host.sent).toEqual(['m1']);
    outbox.disconnected();
    outbox.connected(rate); // after the next welcome: m1's ack may have been lost
    expect(host.sent).toEqual(['m1', 'm1']);
    outbox.failed('m1', 'unavailable', 'storage down');
    outbox.add(item(3));
    expect(host.sent).toEqual(['m1', 'm1']);
    outbox.serviceBack();
    expect(host.sent).toEqual(['m1', 'm1', 'm1']);
    outbox.acknowledged('m1');
    outbox.acknowledged('m2');
    outbox.acknowledged('m3');
    expect(host.sent).toEqual(['m1', 'm1', 'm1', 'm2', 'm3']);
  });

  it('keeps waiting for the welcome through service notices, and keeps a message refused as not_ready', () => {
    // Found by the chaos test: a node lost Redis between the upgrade and the hello; `service`
    // false then true arrived before any welcome, serviceBack released the queue, and every
    // message was sent before the hello was answered, refused `not_ready` and dropped as rejected.
    const host = new FakeHost();
    const outbox = new Outbox(host, [item(1), item(2)]);
    outbox.serviceLost();
    outbox.serviceBack();
    expect(host.sent).toEqual([]); // still waiting for the welcome
    outbox.connected(rate);
    expect(host.sent).toEqual(['m1']);
    // A send that reached the server before its hello was answered (not by this page's order of
    // things, but whatever the cause): nothing was done, so it waits for the next welcome.
    outbox.failed('m1', 'not_ready', 'send hello first');
    expect(host.rejected).toEqual([]);
    expect(outbox.items.map((p) => p.id)).toEqual(['m1', 'm2']);
    outbox.serviceBack();
    expect(host.sent).toEqual(['m1']);
    outbox.disconnected();
    outbox.connected(rate);
    expect(host.sent).toEqual(['m1', 'm1']);
  });

  it('drops a message its room refused (left or deleted), told, and goes on with the next', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate);
    outbox.add(item(1, 'random'));
    outbox.add(item(2, 'gone'));
    outbox.add(item(3));
    outbox.add(item(4, 'random'));
    outbox.failed('m1', 'not_member', 'you are not in room random');
    outbox.failed('m2', 'no_such_room', 'room gone does not exist');
    expect(host.dropped).toEqual(['random:m1', 'gone:m2']);
    expect(host.rejected).toEqual([]);
    expect(outbox.items.map((p) => p.id)).toEqual(['m3', 'm4']);
    // Only the refused one: m4 may have been typed after the room was joined again.
    outbox.acknowledged('m3');
    expect(host.sent).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(outbox.failed('zzz', 'not_member', 'x')).toBe(false); // not ours
  });

  it('on a welcome without a room (left while offline), drops its messages, told, before sending any', () => {
    const host = new FakeHost();
    const failed: Pending = { ...item(2, 'random'), failed: { code: 'text_too_long', message: 'long' } };
    // As a reload finds them: queued in two rooms, one of them refused for good earlier.
    const outbox = new Outbox(host, [item(1, 'random'), failed, item(3), item(4, 'random')]);
    outbox.connected(rate, ['general']);
    expect(host.dropped).toEqual(['random:m1,m2,m4']);
    // Nothing known to be refused went out: the first send is general's.
    expect(host.sent).toEqual(['m3']);
    expect(host.saved).toEqual([wentOut(item(3))]);
    // A welcome that still lists the room drops nothing.
    const again = new FakeHost();
    const kept = new Outbox(again, [item(5, 'random')]);
    kept.connected(rate, ['general', 'random']);
    expect(again.dropped).toEqual([]);
    expect(again.sent).toEqual(['m5']);
  });

  it('on a welcome without a room, asks about the message that went out unanswered (it may be stored): an ack removes it, untold', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate);
    outbox.add(item(1, 'random'));
    outbox.add(item(2, 'random'));
    outbox.add(item(3));
    expect(host.sent).toEqual(['m1']);
    // The connection drops with m1's ack; random is left in another tab meanwhile.
    outbox.disconnected();
    outbox.connected(rate, ['general']);
    // m2 never went out: told at once, without a request. m1 is asked about first, in its place.
    expect(host.dropped).toEqual(['random:m2']);
    expect(host.sent).toEqual(['m1', 'm1']);
    expect(outbox.items).toEqual([{ ...wentOut(item(1, 'random')), outside: true }, item(3)]);
    // It was stored before the leave: acknowledged (as a duplicate), gone, nothing told; on with m3.
    outbox.acknowledged('m1');
    expect(host.dropped).toEqual(['random:m2']);
    expect(host.sent).toEqual(['m1', 'm1', 'm3']);
    outbox.acknowledged('m3');
    expect(outbox.items).toEqual([]);
  });

  it('drops the asked message, told, on any refusal that is not a wait: it has no room to be shown in', () => {
    for (const code of ['not_member', 'id_reused', 'internal']) {
      const host = new FakeHost();
      const outbox = new Outbox(host);
      outbox.connected(rate);
      outbox.add(item(1, 'random'));
      outbox.add(item(2));
      outbox.disconnected();
      outbox.connected(rate, ['general']);
      // A wait keeps it and asks again, same id, in its place.
      outbox.failed('m1', 'rate_limited', 'slow down', 500);
      host.advance(500);
      expect(host.sent).toEqual(['m1', 'm1', 'm1']);
      outbox.failed('m1', code, 'refused');
      expect(host.dropped).toEqual(['random:m1']);
      expect(host.rejected).toEqual([]);
      expect(outbox.items).toEqual([wentOut(item(2))]);
      expect(host.sent).toEqual(['m1', 'm1', 'm1', 'm2']);
    }
  });

  it('asks after a live leave and a lost connection, and after a reload (what went out is saved)', () => {
    // The leave races the ack: dropRoom keeps m1 in flight, then the connection drops unanswered.
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate);
    outbox.add(item(1, 'random'));
    outbox.add(item(2, 'random'));
    outbox.dropRoom('random');
    expect(host.dropped).toEqual(['random:m2']);
    outbox.disconnected();
    // The page reloads before it reconnects: only what it saved is left.
    const reloaded = new FakeHost();
    const again = new Outbox(reloaded, host.saved);
    again.connected(rate, ['general']);
    expect(reloaded.dropped).toEqual([]);
    expect(reloaded.sent).toEqual(['m1']);
    again.failed('m1', 'not_member', 'you are not in room random');
    expect(reloaded.dropped).toEqual(['random:m1']);
    expect(reloaded.saved).toEqual([]);
    // A message refused id_reused and given a new id has not gone out under it: never asked about.
    const third = new FakeHost();
    third.online = false;
    const failed = { ...wentOut(item(3, 'random')), failed: { code: 'id_reused', message: 'reused' } };
    const fresh = new Outbox(third, [failed]);
    fresh.resend('m3', 'm3b');
    expect(fresh.items).toEqual([{ ...item(3, 'random'), id: 'm3b' }]);
    third.online = true;
    fresh.connected(rate, ['general']);
    expect(third.dropped).toEqual(['random:m3b']);
    expect(third.sent).toEqual([]);
  });

  it('tells at once the message in flight when its room was left, refused for good after the leave, whatever the code, and never again', () => {
    for (const code of ['not_member', 'id_reused', 'text_too_long', 'internal', 'unknown_code']) {
      const host = new FakeHost();
      const outbox = new Outbox(host);
      outbox.connected(rate);
      outbox.add(item(1, 'random'));
      outbox.add(item(2));
      outbox.dropRoom('random');
      // Its answer decides (it may be stored): nothing told yet; saved as asked, for a reload.
      expect(host.dropped).toEqual([]);
      expect(host.saved).toEqual([{ ...wentOut(item(1, 'random')), outside: true }, item(2)]);
      // A wait is no answer: it is asked again, same id.
      outbox.failed('m1', 'rate_limited', 'slow down', 500);
      host.advance(500);
      expect(host.sent).toEqual(['m1', 'm1']);
      outbox.failed('m1', code, 'refused');
      expect(host.dropped).toEqual(['random:m1']);
      expect(host.rejected).toEqual([]);
      expect(outbox.items).toEqual([wentOut(item(2))]);
      expect(host.saved).toEqual([wentOut(item(2))]);
      expect(host.sent).toEqual(['m1', 'm1', 'm2']);
      // Told once: neither a welcome without the room nor a reload of what was saved tells it again.
      outbox.disconnected();
      outbox.connected(rate, ['general']);
      const reloaded = new FakeHost();
      new Outbox(reloaded, host.saved).connected(rate, ['general']);
      expect(host.dropped).toEqual(['random:m1']);
      expect(reloaded.dropped).toEqual([]);
      expect(reloaded.sent).toEqual(['m2']);
    }
  });

  it('on a welcome without a room, asks about a message refused as internal (it may be stored), not one refused for its content', () => {
    const host = new FakeHost();
    // Fresh each time: the outbox keeps (and marks) the objects it is given.
    const failed = (n: number, code: string): Pending => ({
      ...wentOut(item(n, 'random')),
      failed: { code, message: code },
    });
    // As a reload finds them after random was left in another tab.
    const outbox = new Outbox(host, [
      failed(1, 'internal'),
      failed(2, 'text_too_long'),
      failed(3, 'internal'),
      item(4),
    ]);
    outbox.connected(rate, ['general']);
    // The one refused for its content is told at once; the internal ones are asked, in their place.
    expect(host.dropped).toEqual(['random:m2']);
    expect(host.sent).toEqual(['m1']);
    expect(host.saved).toEqual([
      { ...failed(1, 'internal'), outside: true },
      { ...failed(3, 'internal'), outside: true },
      item(4),
    ]);
    // Stored after all: acknowledged (a duplicate), gone, nothing told; the next one is asked.
    outbox.acknowledged('m1');
    expect(host.sent).toEqual(['m1', 'm3']);
    outbox.failed('m3', 'not_member', 'you are not in room random');
    expect(host.dropped).toEqual(['random:m2', 'random:m3']);
    expect(host.rejected).toEqual([]);
    expect(host.sent).toEqual(['m1', 'm3', 'm4']);
    expect(outbox.items).toEqual([wentOut(item(4))]);
    // A welcome that lists the room again (joined again): shown failed as before, not sent by itself.
    const again = new FakeHost();
    const back = new Outbox(again, [{ ...failed(3, 'internal'), outside: true }]);
    back.connected(rate, ['general', 'random']);
    expect(back.items).toEqual([failed(3, 'internal')]);
    expect(again.saved).toEqual([failed(3, 'internal')]);
    expect(again.sent).toEqual([]);
    expect(again.dropped).toEqual([]);
  });

  it('on a live leave, asks about a message refused as internal: at once if nothing is in flight, else after it', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate);
    outbox.add(item(1, 'random'));
    outbox.failed('m1', 'internal', 'internal error');
    outbox.dropRoom('random');
    expect(host.dropped).toEqual([]);
    expect(host.sent).toEqual(['m1', 'm1']);
    // Refused again, even as internal: told now (no endless asking, never kept unseen).
    outbox.failed('m1', 'internal', 'internal error');
    expect(host.dropped).toEqual(['random:m1']);
    expect(outbox.items).toEqual([]);

    outbox.add(item(2, 'dev'));
    outbox.failed('m2', 'internal', 'internal error');
    outbox.add(item(3, 'dev')); // in flight
    outbox.add(item(4, 'dev')); // never went out
    outbox.add(item(5));
    outbox.dropRoom('dev');
    expect(host.dropped).toEqual(['random:m1', 'dev:m4']);
    expect(outbox.items.map((p) => [p.id, p.outside])).toEqual([
      ['m2', true],
      ['m3', true],
      ['m5', undefined],
    ]);
    // One at a time, in the typed order: m3's answer first, then m2 is asked, then general's m5.
    expect(host.sent).toEqual(['m1', 'm1', 'm2', 'm3']);
    outbox.acknowledged('m3');
    expect(host.sent).toEqual(['m1', 'm1', 'm2', 'm3', 'm2']);
    outbox.acknowledged('m2');
    expect(host.dropped).toEqual(['random:m1', 'dev:m4']);
    expect(host.sent).toEqual(['m1', 'm1', 'm2', 'm3', 'm2', 'm5']);
    expect(outbox.items).toEqual([wentOut(item(5))]);
  });

  it('gives asked messages back to their room when the page joins it again live, failed as they were', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate);
    outbox.add(item(1, 'random'));
    outbox.failed('m1', 'internal', 'internal error');
    outbox.add(item(2, 'random')); // in flight
    outbox.add(item(3));
    outbox.dropRoom('random');
    outbox.roomBack('random');
    const m1 = { ...wentOut(item(1, 'random')), failed: { code: 'internal', message: 'internal error' } };
    expect(outbox.items).toEqual([m1, wentOut(item(2, 'random')), item(3)]);
    expect(host.saved).toEqual(outbox.items);
    // m2 is the room's again: refused for its content, it is shown failed there, not told unsent.
    outbox.failed('m2', 'text_too_long', 'long');
    expect(host.rejected).toEqual(['m1:internal', 'm2:text_too_long']);
    expect(host.dropped).toEqual([]);
    // m1 is not sent again by itself; the queue went on.
    expect(host.sent).toEqual(['m1', 'm2', 'm3']);
    // Left again: m2 (refused for its content) is told, m1 is asked; the page joins again before
    // the answer, which leaves m1 failed, shown, and the queue goes on.
    outbox.acknowledged('m3');
    outbox.dropRoom('random');
    expect(host.dropped).toEqual(['random:m2']);
    expect(host.sent).toEqual(['m1', 'm2', 'm3', 'm1']);
    outbox.roomBack('random');
    outbox.failed('m1', 'not_member', 'you are not in room random');
    expect(outbox.items).toEqual([m1]);
    expect(host.dropped).toEqual(['random:m2']);
    outbox.add(item(4));
    expect(host.sent).toEqual(['m1', 'm2', 'm3', 'm1', 'm4']);
  });

  it('treats the asked message as any other once a welcome lists its room again (joined again)', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate);
    outbox.add(item(1, 'random'));
    outbox.disconnected();
    outbox.connected(rate, ['general']);
    outbox.disconnected();
    outbox.connected(rate, ['general', 'random']);
    expect(outbox.items).toEqual([wentOut(item(1, 'random'))]);
    // Shown where it was typed, refused for its content: kept, failed, not dropped.
    outbox.failed('m1', 'text_too_long', 'long');
    expect(host.rejected).toEqual(['m1:text_too_long']);
    expect(host.dropped).toEqual([]);
  });

  it('keeps a message refused for its content (too long, reply target or files gone, bad), shown failed, and goes on', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate);
    const reply = { ...item(2), replyTo: 7 };
    outbox.add(item(1));
    outbox.add(reply);
    outbox.add(item(3));
    outbox.add(item(4));
    outbox.failed('m1', 'text_too_long', 'text is longer than 4096 bytes');
    outbox.failed('m2', 'not_found', 'no message 7 in general to reply to');
    outbox.failed('m3', 'bad_message', 'text must be valid Unicode (no lone surrogate)');
    expect(host.rejected).toEqual(['m1:text_too_long', 'm2:not_found', 'm3:bad_message']);
    expect(host.sent).toEqual(['m1', 'm2', 'm3', 'm4']); // the queue went on after each
    outbox.acknowledged('m4');
    const failed = [
      { ...wentOut(item(1)), failed: { code: 'text_too_long', message: 'text is longer than 4096 bytes' } },
      { ...wentOut(reply), failed: { code: 'not_found', message: 'no message 7 in general to reply to' } },
      {
        ...wentOut(item(3)),
        failed: { code: 'bad_message', message: 'text must be valid Unicode (no lone surrogate)' },
      },
    ];
    expect(outbox.items).toEqual(failed);
    expect(host.saved).toEqual(failed); // a reload shows them failed too
    // Nothing sends them again by itself.
    outbox.disconnected();
    outbox.connected(rate);
    outbox.serviceLost();
    outbox.serviceBack();
    host.advance(60_000);
    expect(host.sent).toEqual(['m1', 'm2', 'm3', 'm4']);
    // "Edit" takes one back (its text and reply target go to the composer) and it is gone here.
    expect(outbox.discard('m2')).toEqual(failed[1]);
    expect(outbox.items.map((p) => p.id)).toEqual(['m1', 'm3']);
    expect(host.saved.map((p) => p.id)).toEqual(['m1', 'm3']);
    expect(outbox.discard('m2')).toBeUndefined();
  });

  it('keeps a message after an internal error and sends it again under the same id, so it is stored once', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate);
    outbox.add(item(1));
    outbox.add(item(2));
    outbox.failed('m1', 'internal', 'internal error');
    expect(outbox.items[0]?.failed).toEqual({ code: 'internal', message: 'internal error' });
    expect(host.sent).toEqual(['m1', 'm2']);
    outbox.acknowledged('m2');
    outbox.resend('m1', 'unused');
    expect(outbox.items).toEqual([wentOut(item(1))]);
    expect(host.sent).toEqual(['m1', 'm2', 'm1']);
    outbox.acknowledged('m1');
    expect(outbox.items).toEqual([]);
    // Had the server stored it after all, its message event acknowledges the failed one.
    outbox.add(item(3));
    outbox.failed('m3', 'internal', 'internal error');
    outbox.acknowledged('m3');
    expect(outbox.items).toEqual([]);
    expect(host.saved).toEqual([]);
  });

  it('keeps a message refused as id_reused, shown failed and never resent under that id, until the user acts', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate);
    outbox.add(item(1));
    outbox.add(item(2));
    expect(outbox.failed('m1', 'id_reused', 'id m1 is already used')).toBe(true);
    expect(host.rejected).toEqual(['m1:id_reused']);
    expect(outbox.items).toEqual([
      { ...wentOut(item(1)), failed: { code: 'id_reused', message: 'id m1 is already used' } },
      wentOut(item(2)),
    ]);
    expect(host.saved).toEqual(outbox.items); // a reload shows it failed too
    expect(host.sent).toEqual(['m1', 'm2']); // the queue went on
    // The message stored under m1 (arriving as our own message event) is not this one.
    outbox.acknowledged('m1');
    expect(outbox.has('m1')).toBe(true);
    outbox.acknowledged('m2');
    // Reconnects and service recoveries send nothing again under the refused id.
    outbox.disconnected();
    outbox.connected(rate);
    outbox.serviceLost();
    outbox.serviceBack();
    host.advance(60_000);
    expect(host.sent).toEqual(['m1', 'm2']);
    expect(outbox.items.map((p) => p.id)).toEqual(['m1']);
    // "Send again": the same content as a new message, with a new id.
    outbox.resend('m1', 'm1b');
    expect(outbox.items).toEqual([wentOut({ ...item(1), id: 'm1b' })]);
    expect(host.sent).toEqual(['m1', 'm2', 'm1b']);
    outbox.acknowledged('m1b');
    expect(outbox.items).toEqual([]);
  });

  it('discards a failed message when the user says so, and only a failed one', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate);
    outbox.add(item(1));
    outbox.failed('m1', 'id_reused', 'reused');
    outbox.add(item(2)); // in flight
    outbox.discard('m2');
    outbox.resend('m2', 'other');
    expect(outbox.items.map((p) => p.id)).toEqual(['m1', 'm2']);
    outbox.discard('m1');
    expect(outbox.items.map((p) => p.id)).toEqual(['m2']);
    expect(host.saved).toEqual([wentOut(item(2))]);
    expect(host.sent).toEqual(['m1', 'm2']);
  });

  it('drops the unsent messages of a room it left, told (not the one in flight: its answer decides)', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate);
    outbox.add(item(1, 'random'));
    outbox.add(item(2, 'random'));
    outbox.add(item(3));
    outbox.dropRoom('random');
    expect(host.dropped).toEqual(['random:m2']);
    expect(outbox.items.map((p) => p.id)).toEqual(['m1', 'm3']);
    outbox.acknowledged('m1');
    expect(host.sent).toEqual(['m1', 'm3']);
    outbox.dropRoom('random'); // nothing left of it: nothing told
    expect(host.dropped).toEqual(['random:m2']);
    // The one in flight refused after the leave is told too.
    outbox.add(item(4, 'random'));
    outbox.acknowledged('m3');
    outbox.dropRoom('random');
    expect(host.dropped).toEqual(['random:m2']);
    outbox.failed('m4', 'not_member', 'you are not in room random');
    expect(host.dropped).toEqual(['random:m2', 'random:m4']);
    expect(outbox.items).toEqual([]);
  });
});

/** The user the page is signed in as, in the tests below. */
const ME = 'alice';
/** Message `m<n>` as the server stored it (seq n), by `user`. */
const storedMessage = (n: number, room = 'general', user = ME): ChatMessage => ({
  room,
  seq: n,
  id: `m${n}`,
  user,
  text: `message ${n}`,
  ts: 1796000000000,
});
const historyPage = (room: string, messages: ChatMessage[]): ServerMessage => ({
  v: 2,
  type: 'history',
  room,
  messages,
  head: Math.max(0, ...messages.map((m) => m.seq)),
  hasMore: false,
});
const ackOf = (n: number, room = 'general'): ServerMessage => ({
  v: 2,
  type: 'ack',
  id: `m${n}`,
  room,
  seq: n,
  ts: 1796000000000,
  duplicate: true,
});
const failedAs = (p: Pending, code: string): Pending => ({ ...wentOut(p), failed: { code, message: code } });

describe('Outbox: our own message seen stored', () => {
  it('is acknowledged by an ack, our own message event, and our own message in a history page as it was sent', () => {
    const host = new FakeHost();
    const failed = (n: number, room = 'general') => failedAs(item(n, room), 'internal');
    const outbox = new Outbox(host, [failed(1), failed(2), failed(3, 'random'), failed(4), failed(5)]);
    outbox.connected(rate, ['general', 'random']);
    // A react's ack names no id; someone else's message under our id is theirs.
    outbox.seen({ v: 2, type: 'ack', room: 'general', seq: 9, ts: 0 }, ME);
    outbox.seen({ v: 2, type: 'message', message: storedMessage(1, 'general', 'bob') }, ME);
    outbox.seen(historyPage('general', [storedMessage(2, 'general', 'bob')]), ME);
    expect(outbox.items.map((p) => p.id)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    outbox.seen(ackOf(1), ME);
    outbox.seen({ v: 2, type: 'message', message: storedMessage(2) }, ME);
    // A history page (the latest, an older one, a search's context): in its room only.
    outbox.seen(historyPage('general', [storedMessage(3, 'general'), storedMessage(4)]), ME);
    expect(outbox.items.map((p) => p.id)).toEqual(['m3', 'm5']);
    outbox.seen(historyPage('random', [storedMessage(3, 'random'), storedMessage(5, 'random')]), ME);
    expect(outbox.items.map((p) => p.id)).toEqual(['m5']);
    expect(host.saved).toEqual([failed(5)]);
    expect(host.sent).toEqual([]);
  });

  it('takes a message of a history page for the queued one only with the content it was sent with, unedited', () => {
    const host = new FakeHost();
    const files = [{ id: 'f1', name: 'a.png', type: 'image/png', size: 3 }];
    const queued: Pending[] = [
      { ...failedAs(item(1), 'internal'), replyTo: 7 },
      { ...failedAs(item(2), 'internal'), attachments: files },
      failedAs(item(3), 'internal'),
      failedAs(item(4), 'internal'),
      item(5), // queued again under an id that holds another message: the server will refuse it
      failedAs(item(6), 'id_reused'),
    ];
    const outbox = new Outbox(host, queued);
    outbox.seen(
      historyPage('general', [
        { ...storedMessage(1), reply: { seq: 8, user: 'bob', text: 'another' } },
        storedMessage(2), // without its file
        { ...storedMessage(3), text: 'message 3, edited', editedAt: 1796000001000 },
        { ...storedMessage(4), text: '', deleted: true },
        { ...storedMessage(5), text: 'what was stored under m5' },
        storedMessage(6),
      ]),
      ME,
    );
    // None of them can be told to be the queued one: each stays as it was (the answer to a resend
    // decides, a duplicate's ack or id_reused); the text of none vanishes.
    expect(outbox.items).toEqual(queued);
    outbox.seen(
      historyPage('general', [
        { ...storedMessage(1), reply: { seq: 7, user: 'bob', text: 'the original' } },
        { ...storedMessage(2), attachments: files },
      ]),
      ME,
    );
    expect(outbox.items.map((p) => p.id)).toEqual(['m3', 'm4', 'm5', 'm6']);
  });

  it('acknowledges a message refused as internal that a history page shows stored: not shown failed any more, never sent again', () => {
    const host = new FakeHost();
    // As a reload finds them: both answered `internal`; the server had stored m1 (after the commit).
    const outbox = new Outbox(host, [failedAs(item(1), 'internal'), failedAs(item(2), 'internal')]);
    outbox.connected(rate, ['general']);
    expect(host.sent).toEqual([]); // failed: not sent by itself
    // The room's history comes (the reload opened it): m1 is there; bob's m2 is his, not ours.
    outbox.seen(historyPage('general', [storedMessage(1), storedMessage(2, 'general', 'bob')]), ME);
    expect(outbox.items).toEqual([failedAs(item(2), 'internal')]);
    expect(host.saved).toEqual(outbox.items); // a reload shows it stored only
    expect(host.rejected).toEqual([]);
    expect(host.dropped).toEqual([]);
    // Nothing goes again: not on a reconnect, not on "Send again" (gone), nothing else typed.
    outbox.resend('m1', 'other');
    outbox.disconnected();
    outbox.connected(rate, ['general']);
    host.advance(60_000);
    expect(host.sent).toEqual([]);
    expect(outbox.items.map((p) => p.id)).toEqual(['m2']);
    // An id names one message of its sender in one room: m2 stored in random is another message.
    outbox.seen(historyPage('random', [storedMessage(2, 'random')]), ME);
    expect(outbox.items.map((p) => p.id)).toEqual(['m2']);
  });

  it('acknowledges the message in flight that a history page shows stored: the next one goes, the late ack changes nothing', () => {
    const host = new FakeHost();
    // A reload: m1 went out unanswered (its ack lost); the welcome sends it again to ask.
    const outbox = new Outbox(host, [wentOut(item(1)), item(2)]);
    outbox.connected(rate, ['general']);
    expect(host.sent).toEqual(['m1']);
    // The open room's history answers before the resend's ack: m1 is stored; on with m2.
    outbox.seen(historyPage('general', [storedMessage(1)]), ME);
    expect(outbox.items).toEqual([wentOut(item(2))]);
    expect(host.sent).toEqual(['m1', 'm2']);
    outbox.seen(ackOf(1), ME); // the duplicate ack of the resend
    expect(outbox.items).toEqual([wentOut(item(2))]);
    expect(host.sent).toEqual(['m1', 'm2']);
    outbox.seen(ackOf(2), ME);
    expect(outbox.items).toEqual([]);
    expect(host.sent).toEqual(['m1', 'm2']);
  });

  it('acknowledges a message waiting for the rate limit or the service that a history page shows stored: it is not sent again', () => {
    const waits: [string, (host: FakeHost, outbox: Outbox) => void][] = [
      ['rate_limited', (host) => host.advance(500)],
      ['unavailable', (_, outbox) => outbox.serviceBack()],
    ];
    for (const [code, waitIsOver] of waits) {
      const host = new FakeHost();
      const outbox = new Outbox(host);
      outbox.connected(rate);
      outbox.add(item(1));
      outbox.add(item(2));
      // m1 is stored (say, sent earlier under its id from a page since reloaded), but this
      // answer says wait; a history page shows it meanwhile.
      outbox.failed('m1', code, 'wait', 500);
      outbox.seen(historyPage('general', [storedMessage(1)]), ME);
      expect(outbox.items).toEqual([item(2)]);
      expect(host.sent).toEqual(['m1']); // still waiting
      waitIsOver(host, outbox);
      // The next one goes, not m1 again.
      expect(host.sent).toEqual(['m1', 'm2']);
    }
  });

  it('ignores a late error for a message already acknowledged: not shown, not kept, nothing sent again', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate, ['general']);
    outbox.add(item(1));
    outbox.add(item(2));
    // The server stored m1, then failed (after the commit): its message event comes first.
    outbox.seen({ v: 2, type: 'message', message: storedMessage(1) }, ME);
    expect(host.sent).toEqual(['m1', 'm2']);
    // The error is about a stored message: handled (true: the page shows no composer error).
    expect(outbox.failed('m1', 'internal', 'internal error')).toBe(true);
    // So is a wait answering a resend that a history page acknowledged meanwhile.
    outbox.seen(historyPage('general', [storedMessage(2)]), ME);
    expect(outbox.failed('m2', 'rate_limited', 'wait', 500)).toBe(true);
    expect(outbox.slowedDown).toBe(false);
    expect(outbox.items).toEqual([]);
    expect(host.rejected).toEqual([]);
    expect(host.dropped).toEqual([]);
    outbox.add(item(3));
    expect(host.sent).toEqual(['m1', 'm2', 'm3']);
    // An id never queued here is still not ours.
    expect(outbox.failed('m9', 'internal', 'internal error')).toBe(false);
  });

  it('acknowledges a message asked about (its room dropped) that a history page shows stored: gone, untold, the queue goes on', () => {
    const host = new FakeHost();
    const outbox = new Outbox(host);
    outbox.connected(rate);
    outbox.add(item(1, 'random'));
    outbox.failed('m1', 'internal', 'internal error');
    outbox.add(item(2, 'random'));
    outbox.add(item(3, 'random')); // queued behind m2: never went out
    outbox.add(item(4));
    // random is left: m3 is told unsent, m1 (internal) and m2 (in flight) are asked, in order.
    outbox.dropRoom('random');
    expect(host.dropped).toEqual(['random:m3']);
    expect(host.sent).toEqual(['m1', 'm2']);
    // A history of random asked before the leave answers: m2 is stored (so is m1: the server
    // failed after its commit). Both are acknowledged, nothing more is told, general's m4 goes.
    outbox.seen(historyPage('random', [storedMessage(1, 'random'), storedMessage(2, 'random')]), ME);
    expect(host.dropped).toEqual(['random:m3']);
    expect(outbox.items).toEqual([wentOut(item(4))]);
    expect(host.sent).toEqual(['m1', 'm2', 'm4']);
    // The answers to the questions come late: they change nothing.
    outbox.seen(ackOf(2, 'random'), ME);
    expect(outbox.failed('m1', 'not_member', 'you are not in room random')).toBe(true);
    expect(host.dropped).toEqual(['random:m3']);
    expect(host.sent).toEqual(['m1', 'm2', 'm4']);

    // Asked, then the room is the page's again (joined again): shown failed as before, until its
    // history shows it stored.
    outbox.seen(ackOf(4), ME);
    outbox.add(item(5, 'random'));
    outbox.failed('m5', 'internal', 'internal error');
    outbox.dropRoom('random');
    outbox.roomBack('random');
    outbox.failed('m5', 'not_member', 'you are not in room random'); // the question's answer
    expect(outbox.items).toEqual([
      { ...wentOut(item(5, 'random')), failed: { code: 'internal', message: 'internal error' } },
    ]);
    outbox.seen(historyPage('random', [storedMessage(5, 'random')]), ME);
    expect(outbox.items).toEqual([]);
    expect(host.sent).toEqual(['m1', 'm2', 'm4', 'm5', 'm5']);
    expect(host.dropped).toEqual(['random:m3']);
  });
});
