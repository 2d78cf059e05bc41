/**
 * The conversation as a list of entries to draw, without a DOM: day separators ("Today",
 * "Yesterday", a date), the "new messages" divider before the first unread message, notices in
 * their place, and messages grouped under their author while one person writes several in a row
 * within GROUP_MS. Times are shown in the reader's locale without a leading zero.
 */
import type { ChatMessage } from '../shared/protocol.js';

export const GROUP_MS = 5 * 60_000;

export interface TimelineNotice {
  /** Shown after the message with this seq. */
  after: number;
  text: string;
}

export type Entry =
  | { kind: 'day'; label: string }
  | { kind: 'unread' }
  | { kind: 'notice'; text: string }
  /** `first`: starts a group (shows the name and avatar). */
  | { kind: 'message'; message: ChatMessage; first: boolean };

export function buildTimeline(
  /** In seq order. */
  messages: Iterable<ChatMessage>,
  notices: readonly TimelineNotice[],
  options: { now: number; firstUnread: number | null; locale?: string },
): Entry[] {
  const entries: Entry[] = [];
  let n = 0;
  let day = '';
  let previous: ChatMessage | null = null;
  for (const message of messages) {
    while (n < notices.length && notices[n].after < message.seq) {
      entries.push({ kind: 'notice', text: notices[n++].text });
      previous = null;
    }
    const key = dayKey(message.ts);
    if (key !== day) {
      day = key;
      entries.push({ kind: 'day', label: dayLabel(message.ts, options.now, options.locale) });
      previous = null;
    }
    if (options.firstUnread === message.seq) {
      entries.push({ kind: 'unread' });
      previous = null;
    }
    const first =
      previous === null ||
      previous.user !== message.user ||
      message.ts - previous.ts > GROUP_MS ||
      message.ts < previous.ts;
    entries.push({ kind: 'message', message, first });
    previous = message;
  }
  while (n < notices.length) entries.push({ kind: 'notice', text: notices[n++].text });
  return entries;
}

function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** "Today", "Yesterday", or the date (with the year only when it is not this year's). */
export function dayLabel(ts: number, now: number, locale?: string): string {
  const date = new Date(ts);
  const today = new Date(now);
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(ts) === dayKey(now)) return 'Today';
  if (dayKey(ts) === dayKey(yesterday.getTime())) return 'Yesterday';
  return formatter(date.getFullYear() === today.getFullYear() ? 'day' : 'dayYear', locale).format(date);
}

/**
 * One formatter per kind and locale, made once. Making one (as toLocaleString does at each call)
 * is slow: a message drawn uses two, the conversation's days one each at every change (a day
 * label is worked out for each day shown), and a search's jump to a hit ten pages back draws
 * ~3,300 messages, which took seconds (30 s and more on a loaded machine, the files e2e's wait for
 * the hit's context).
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

const FORMATS: Record<'short' | 'medium' | 'full' | 'day' | 'dayYear', Intl.DateTimeFormatOptions> = {
  short: { hour: 'numeric', minute: '2-digit' },
  medium: { dateStyle: 'medium', timeStyle: 'short' },
  full: { dateStyle: 'full', timeStyle: 'short' },
  day: { weekday: 'long', month: 'long', day: 'numeric' },
  dayYear: { weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' },
};

function formatter(kind: keyof typeof FORMATS, locale: string | undefined): Intl.DateTimeFormat {
  const key = `${kind} ${locale ?? ''}`;
  let made = formatters.get(key);
  if (!made) {
    made = new Intl.DateTimeFormat(locale, FORMATS[kind]);
    formatters.set(key, made);
  }
  return made;
}

/**
 * The times written, by kind, locale and minute: those formats show no seconds, and the local
 * time's offset from UTC is whole minutes, so one minute reads the same throughout. A room's first
 * draw writes two for each message (3,300 after a search's jump ten pages back), and messages
 * come in bursts within a minute. Emptied when it grows past MAX_TIMES.
 */
const times = new Map<string, string>();
const MAX_TIMES = 20_000;

function minuteTime(
  kind: 'short' | 'full',
  ts: number,
  locale: string | undefined,
  make: () => string,
): string {
  const key = `${kind} ${locale ?? ''} ${Math.floor(ts / 60_000)}`;
  let text = times.get(key);
  if (text === undefined) {
    text = make();
    if (times.size >= MAX_TIMES) times.clear();
    times.set(key, text);
  }
  return text;
}

/** "9:05 AM" or "9:05": the locale's clock, the hour without a leading zero. */
export function shortTime(ts: number, locale?: string): string {
  return minuteTime('short', ts, locale, () =>
    formatter('short', locale)
      .formatToParts(new Date(ts))
      .map((p) => (p.type === 'hour' && /^0\d$/.test(p.value) ? p.value.slice(1) : p.value))
      .join(''),
  );
}

/** The date and time in a list's width ("Dec 2, 2026, 9:05 AM"): a search hit's. */
export function mediumTime(ts: number, locale?: string): string {
  return formatter('medium', locale).format(new Date(ts));
}

/** The full date and time, for a tooltip. */
export function fullTime(ts: number, locale?: string): string {
  return minuteTime('full', ts, locale, () => formatter('full', locale).format(new Date(ts)));
}
