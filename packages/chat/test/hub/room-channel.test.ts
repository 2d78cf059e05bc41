/**
 * A room's channel, without a server: what it tells the room's connections when presence notices
 * may have been lost (the bus lost its subscription) and the store's online list is read again.
 * Delivery of events and notices through a live server: hub/delivery.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { ConnRoom } from '../../src/server/hub/connection.js';
import { RoomChannel } from '../../src/server/hub/room-channel.js';

const presence = (user: string, online: boolean) =>
  JSON.stringify({ v: 2, type: 'presence', room: 'general', user, online });

/** A channel whose published payloads are kept, with one connection still catching up. */
function channel() {
  const published: string[] = [];
  const ch = new RoomChannel('general', (topic, payload) => {
    expect(topic).toBe('room:general');
    published.push(payload);
  });
  const catchingUp = { room: 'general', channel: ch, cursor: 0, live: false, notices: [], reload: false };
  ch.members.add(catchingUp satisfies ConnRoom);
  return { ch, published, catchingUp };
}

describe('presence resync', () => {
  it('tells who went offline and who came online since the connections were told', () => {
    const { ch, published, catchingUp } = channel();
    ch.listed(['alice', 'bob', 'carol']);
    ch.onNotice(presence('erin', true));
    published.length = 0;
    catchingUp.notices.length = 0;
    ch.resyncing();
    ch.resync(['alice', 'dave', 'erin']);
    expect(published.sort()).toEqual([
      presence('bob', false),
      presence('carol', false),
      presence('dave', true),
    ]);
    // A connection catching up gets them after its replay, like any notice.
    expect(catchingUp.notices.sort()).toEqual(published);
    // Told: the next resync against the same list tells nothing.
    ch.resyncing();
    ch.resync(['alice', 'dave', 'erin']);
    expect(published).toHaveLength(3);
  });

  it('tells nothing about a user a notice told of while the list was being read', () => {
    const { ch, published } = channel();
    ch.listed(['alice', 'bob']);
    ch.resyncing();
    // Published after the read: the list (with bob, without carol) is older than these.
    ch.onNotice(presence('bob', false));
    ch.onNotice(presence('carol', true));
    published.length = 0;
    ch.resync(['alice', 'bob']);
    expect(published).toEqual([]);
  });

  it('tells an unsure user afresh: a later online list disagreed with what the others were told', () => {
    const { ch, published } = channel();
    ch.listed(['alice', 'carol']);
    // A second tab was given the store's list while carol's offline and dave's online notices
    // were lost: the record still says carol online and dave offline.
    ch.listed(['alice', 'dave']);
    ch.resyncing();
    ch.resync(['alice']);
    // carol differs from the record; dave agrees with it, but the second tab was told otherwise.
    expect(published.sort()).toEqual([presence('carol', false), presence('dave', false)]);
  });

  it('a notice about an unsure user settles it (every connection got it)', () => {
    const { ch, published } = channel();
    ch.listed(['alice']);
    ch.listed(['alice', 'bob']); // bob's online notice is on its way
    ch.onNotice(presence('bob', true));
    published.length = 0;
    ch.resyncing();
    ch.resync(['alice', 'bob']);
    expect(published).toEqual([]);
  });

  it('tells nothing before any connection was given a list, nor after a failed read', () => {
    const { ch, published } = channel();
    ch.resyncing();
    ch.resync(['alice']);
    expect(published).toEqual([]);
    ch.listed(['alice']);
    ch.resyncing();
    ch.onNotice(presence('bob', true));
    ch.resyncFailed();
    published.length = 0;
    ch.resyncing();
    ch.resync(['alice']); // bob is not in this list: the notice was not during this read
    expect(published).toEqual([presence('bob', false)]);
  });
});

describe("a stay ended in the room's log (ConnRoom.ended)", () => {
  it('runs before the next event is published, once, and only for the members marked', () => {
    const { ch, published } = channel();
    const catchingUp: ConnRoom = [...ch.members][0];
    const order: string[] = [];
    const other = { room: 'general', channel: ch, cursor: 0, live: true, notices: [], reload: false };
    ch.members.add(other satisfies ConnRoom);
    ch.start(1);
    catchingUp.ended = () => order.push('ended');
    ch.ending = true;
    // A notice is no event: the mark waits (the bus's own notices usually come first).
    ch.onNotice(presence('bob', false));
    expect(order).toEqual([]);
    const event = (seq: number) => JSON.stringify({ v: 2, type: 'message', message: { seq } });
    const publish = ch.publish;
    Object.defineProperty(ch, 'publish', {
      value: (topic: string, payload: string) => {
        order.push(`published ${JSON.parse(payload).message.seq}`);
        publish(topic, payload);
      },
    });
    ch.onEvent(2, event(2));
    ch.onEvent(3, event(3));
    expect(order).toEqual(['ended', 'published 2', 'published 3']);
    expect(catchingUp.ended).toBeUndefined();
    expect(ch.ending).toBe(false);
    expect(published).toHaveLength(3);
  });
});
