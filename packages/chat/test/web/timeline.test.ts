/**
 * The conversation's entries (web/timeline.ts): grouping by author and time, day separators, the
 * "new messages" divider, notices in place, and the time formats. Dates are built in local time
 * so the test holds in any time zone.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ChatMessage } from '../../src/shared/protocol.js';
import { buildTimeline, dayLabel, fullTime, GROUP_MS, shortTime } from '../../src/web/timeline.js';

const at = (day: number, hour: number, minute = 0) => new Date(2026, 11, day, hour, minute).getTime();
const msg = (seq: number, user: string, ts: number): ChatMessage => ({
  room: 'general',
  seq,
  id: `i${seq}`,
  user,
  text: `t${seq}`,
  ts,
});

function shape(entries: ReturnType<typeof buildTimeline>): string[] {
  return entries.map((e) =>
    e.kind === 'message'
      ? `${e.first ? '+' : ' '}${e.message.seq}`
      : e.kind === 'day'
        ? `[${e.label}]`
        : e.kind === 'notice'
          ? `(${e.text})`
          : '--new--',
  );
}

describe('buildTimeline', () => {
  const now = at(2, 12);

  it('groups one author within a few minutes, and starts a new group for another author or a pause', () => {
    const messages = [
      msg(1, 'alice', at(2, 9, 0)),
      msg(2, 'alice', at(2, 9, 2)),
      msg(3, 'bob', at(2, 9, 3)),
      msg(4, 'alice', at(2, 9, 4)),
      msg(5, 'alice', at(2, 9, 4) + GROUP_MS + 1),
    ];
    expect(shape(buildTimeline(messages, [], { now, firstUnread: null }))).toEqual([
      '[Today]',
      '+1',
      ' 2',
      '+3',
      '+4',
      '+5',
    ]);
  });

  it('puts day separators, the unread divider and notices between messages, each breaking a group', () => {
    const messages = [
      msg(1, 'alice', at(1, 23, 58)),
      msg(2, 'alice', at(2, 0, 1)),
      msg(3, 'alice', at(2, 0, 2)),
      msg(4, 'alice', at(2, 0, 3)),
    ];
    const notices = [{ after: 3, text: 'bob joined #general' }];
    expect(shape(buildTimeline(messages, notices, { now, firstUnread: 3 }))).toEqual([
      '[Yesterday]',
      '+1',
      '[Today]',
      '+2',
      '--new--',
      '+3',
      '(bob joined #general)',
      '+4',
    ]);
  });

  it('names older days by date, with the year only when it is not this year', () => {
    const label = dayLabel(new Date(2026, 10, 20, 10).getTime(), now, 'en-US');
    expect(label).toBe('Friday, November 20');
    expect(dayLabel(new Date(2025, 10, 20, 10).getTime(), now, 'en-US')).toBe('Thursday, November 20, 2025');
  });

  it('shows times without a leading zero in 12- and 24-hour locales', () => {
    expect(shortTime(at(2, 9, 5), 'en-US')).toMatch(/^9:05\sAM$/);
    expect(shortTime(at(2, 9, 5), 'en-GB')).toBe('9:05');
    expect(shortTime(at(2, 21, 5), 'de-DE')).toBe('21:05');
  });
});

describe('the times of messages', () => {
  const Original = Intl.DateTimeFormat;
  afterEach(() => {
    Intl.DateTimeFormat = Original;
  });

  it('makes a formatter once per kind and locale, not for each message drawn', () => {
    // Regression: one made per call, two per message at each redraw of the whole conversation: a
    // search's jump to a hit ten pages back (~3,300 messages drawn) took seconds, more than the
    // e2e's 30 s wait for the hit's context on a loaded machine.
    let made = 0;
    class Counted extends Original {
      constructor(...args: ConstructorParameters<typeof Original>) {
        super(...args);
        made++;
      }
    }
    Intl.DateTimeFormat = Counted as typeof Intl.DateTimeFormat;
    const full = fullTime(at(2, 9, 5), 'en-US');
    for (let i = 0; i < 100; i++) {
      expect(shortTime(at(2, 9, 5), 'en-US')).toMatch(/^9:05\sAM$/);
      expect(fullTime(at(2, 9, 5), 'en-US')).toBe(full);
      shortTime(at(2, 21, 5), 'de-DE');
    }
    expect(made).toBeLessThanOrEqual(3);
    expect(full).toMatch(/^Wednesday, December 2, 2026 at 9:05\sAM$/);
  });

  it('writes the times of one minute once: a first draw of 3,300 messages writes two each', () => {
    // Seconds apart in one minute (a burst of messages), then the next minute.
    const minute = new Date(2027, 2, 3, 14, 7).getTime();
    const parts = vi.spyOn(Original.prototype, 'formatToParts');
    // `format` is a getter (a bound function): each call reads it once.
    const format = vi.spyOn(Original.prototype as { readonly format: unknown }, 'format', 'get');
    for (let s = 0; s < 60; s++) {
      expect(shortTime(minute + s * 1000, 'en-US')).toMatch(/^2:07\sPM$/);
      expect(fullTime(minute + s * 1000, 'en-US')).toMatch(/^Wednesday, March 3, 2027 at 2:07\sPM$/);
    }
    expect(shortTime(minute + 60_000, 'en-US')).toMatch(/^2:08\sPM$/);
    expect(fullTime(minute + 60_000, 'en-GB')).toMatch(/^Wednesday,? 3 March 2027 at 14:08$/);
    expect(parts).toHaveBeenCalledTimes(2);
    expect(format).toHaveBeenCalledTimes(2);
    parts.mockRestore();
    format.mockRestore();
  });
});
