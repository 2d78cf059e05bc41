/**
 * The search panel's parts that run without a page (the panel itself: e2e/files.test.ts, search
 * results opened at the message): the time shown on each hit.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fullTime } from '../../src/web/timeline.js';

// Imported by a path tsc does not follow: search.ts is typed against the DOM, which this
// project's tsconfig for the unit tests leaves out (tsconfig.web.json checks the page's code).
const SEARCH: string = '../../src/web/search.js';
const { hitTime } = (await import(SEARCH)) as { hitTime: (ts: number, locale?: string) => string };

const at = (day: number, hour: number, minute = 0) => new Date(2026, 11, day, hour, minute).getTime();

describe("a hit's time", () => {
  const Original = Intl.DateTimeFormat;
  afterEach(() => {
    Intl.DateTimeFormat = Original;
    vi.restoreAllMocks();
  });

  it("is the conversation's full time, from its formatter made once per locale, not one per hit", () => {
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
    expect([...shown]).toEqual([fullTime(at(2, 9, 5), 'en-US')]);
    expect(hitTime(at(2, 9, 5), 'en-US')).toMatch(/^Wednesday, December 2, 2026 at 9:05\sAM$/);
  });
});
