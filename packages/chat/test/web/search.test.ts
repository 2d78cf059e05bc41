/**
 * The search panel's parts that run without a page (the panel itself: e2e/files.test.ts, search
 * results opened at the message): the time shown on each hit, and a long hit's text cut around
 * its match.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mediumTime } from '../../src/web/timeline.js';

// Imported by a path tsc does not follow: search.ts is typed against the DOM, which this
// project's tsconfig for the unit tests leaves out (tsconfig.web.json checks the page's code).
const SEARCH: string = '../../src/web/search.js';
type Snippet = { text: string; ranges: [number, number][] };
const { hitTime, snippet, SNIPPET_CHARS } = (await import(SEARCH)) as {
  hitTime: (ts: number, locale?: string) => string;
  snippet: (text: string, ranges: readonly [number, number][], max?: number) => Snippet;
  SNIPPET_CHARS: number;
};

const at = (day: number, hour: number, minute = 0) => new Date(2026, 11, day, hour, minute).getTime();

describe("a hit's time", () => {
  const Original = Intl.DateTimeFormat;
  afterEach(() => {
    Intl.DateTimeFormat = Original;
    vi.restoreAllMocks();
  });

  it("is the date and time in the panel's width, from a formatter made once per locale, not one per hit", () => {
    // Regression: each hit made a formatter of its own (Date#toLocaleString with options makes one
    // at every call), where the conversation's times use one made per locale (timeline.ts).
    let made = 0;
    class Counted extends Original {
      constructor(...args: ConstructorParameters<typeof Original>) {
        super(...args);
        made++;
      }
    }
    Intl.DateTimeFormat = Counted as typeof Intl.DateTimeFormat;
    const perCall = [
      vi.spyOn(Date.prototype, 'toLocaleString'),
      vi.spyOn(Date.prototype, 'toLocaleDateString'),
      vi.spyOn(Date.prototype, 'toLocaleTimeString'),
    ];
    const shown = new Set<string>();
    for (let i = 0; i < 100; i++) {
      shown.add(hitTime(at(2, 9, 5), 'en-US'));
      hitTime(at(2 + (i % 20), 21, i % 60), 'de-DE');
    }
    expect(perCall.map((spy) => spy.mock.calls.length)).toEqual([0, 0, 0]);
    expect(made).toBeLessThanOrEqual(2);
    expect([...shown]).toEqual([mediumTime(at(2, 9, 5), 'en-US')]);
    expect(hitTime(at(2, 9, 5), 'en-US')).toMatch(/^Dec 2, 2026, 9:05\sAM$/);
  });
});

describe("a hit's text", () => {
  /** The marked words of a snippet, as the panel draws them. */
  const marked = (s: Snippet) => s.ranges.map(([a, b]) => s.text.slice(a, b));

  it('is cut around its first match when long, "…" where text was left out', () => {
    // Seen as a user: a hit in a 1,800-character message filled the results panel, and on a phone
    // the whole screen, with that one message.
    const text = `${'filler words '.repeat(100)}the needle here ${'and more after '.repeat(40)}`;
    const at = text.indexOf('needle');
    const cut = snippet(text, [[at, at + 6]]);
    expect(cut.text.length).toBeLessThanOrEqual(SNIPPET_CHARS + 2);
    expect(cut.text.startsWith('…')).toBe(true);
    expect(cut.text.endsWith('…')).toBe(true);
    expect(marked(cut)).toEqual(['needle']);
    // Some words before it are kept, to read the match in its sentence.
    expect(cut.text.indexOf('needle')).toBeGreaterThan(20);
  });

  it('keeps a short text whole, and starts at the beginning when the match is there', () => {
    expect(snippet('find me', [[0, 4]])).toEqual({ text: 'find me', ranges: [[0, 4]] });
    const text = `needle ${'x'.repeat(500)}`;
    const cut = snippet(text, [[0, 6]]);
    expect(cut.text.startsWith('needle')).toBe(true);
    expect(cut.text.endsWith('…')).toBe(true);
    expect(marked(cut)).toEqual(['needle']);
  });

  it('ends at the text when the match is near the end, drops ranges cut out, and never splits an emoji', () => {
    const text = `${'y'.repeat(500)} needle`;
    const at = text.indexOf('needle');
    const cut = snippet(text, [[at, at + 6]]);
    expect(cut.text.endsWith('needle')).toBe(true);
    expect(cut.text.length).toBe(SNIPPET_CHARS + 1);
    expect(marked(cut)).toEqual(['needle']);
    // Two matches far apart: the snippet is around the first; the other, cut out, is not marked.
    const two = `needle ${'y'.repeat(500)} needle`;
    expect(
      marked(
        snippet(two, [
          [0, 6],
          [two.length - 6, two.length],
        ]),
      ),
    ).toEqual(['needle']);
    // An emoji (two UTF-16 units) where the cut would fall is kept whole or left out whole.
    const emoji = `${'😀'.repeat(300)}needle${'😀'.repeat(300)}`;
    const e = emoji.indexOf('needle');
    for (const max of [100, 101]) {
      const c = snippet(emoji, [[e, e + 6]], max);
      expect(c.text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
      expect(marked(c)).toEqual(['needle']);
    }
  });
});
