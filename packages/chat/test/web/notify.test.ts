// @vitest-environment happy-dom
/**
 * The bell (web/notify.ts) with a stubbed Notification: a click that could not turn notifications
 * on says why next to the bell (denied, or the browser's question dismissed), and the note goes.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BLOCKED_NOTE, DISMISSED_NOTE, NOTE_MS, setUpNotifications } from '../../src/web/notify.js';

/** A Notification whose permission and answer to requestPermission the test sets. */
const fake = {
  permission: 'default' as NotificationPermission,
  answer: 'default' as NotificationPermission,
  asked: 0,
};

const FakeNotification = {
  get permission(): NotificationPermission {
    return fake.permission;
  },
  async requestPermission(): Promise<NotificationPermission> {
    fake.asked++;
    fake.permission = fake.answer;
    return fake.answer;
  },
};

let bell: HTMLButtonElement;
let note: HTMLElement;

beforeEach(() => {
  Object.assign(fake, { permission: 'default', answer: 'default', asked: 0 });
  vi.stubGlobal('Notification', FakeNotification);
  localStorage.clear();
  document.body.innerHTML = `
    <button id="notify-toggle" type="button" aria-pressed="false"><span class="glyph">🔕</span></button>
    <span id="notify-note" role="status"></span>
    <button id="elsewhere" type="button">elsewhere</button>`;
  bell = document.getElementById('notify-toggle') as HTMLButtonElement;
  note = document.getElementById('notify-note') as HTMLElement;
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

/** Clicks the bell and lets its answer come (the permission asked: a few promise steps, no timer). */
async function press(): Promise<void> {
  bell.click();
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('the bell says why notifications did not turn on', () => {
  it('denied at the browser\'s question: "blocked ... in the browser\'s settings"', async () => {
    fake.answer = 'denied';
    setUpNotifications(bell, note);
    await press();
    expect(fake.asked).toBe(1);
    expect(bell.getAttribute('aria-pressed')).toBe('false');
    expect(note.textContent).toBe(BLOCKED_NOTE);
    expect(note.getAttribute('role')).toBe('status');
  });

  it('the question dismissed (the permission stays "default"): said, and asked again at the next click', async () => {
    fake.answer = 'default';
    setUpNotifications(bell, note);
    await press();
    expect(note.textContent).toBe(DISMISSED_NOTE);
    fake.answer = 'granted';
    await press();
    expect(fake.asked).toBe(2);
    expect(bell.getAttribute('aria-pressed')).toBe('true');
    expect(note.textContent).toBe('');
    // Turned off again: nothing to say.
    await press();
    expect(bell.getAttribute('aria-pressed')).toBe('false');
    expect(note.textContent).toBe('');
  });

  it('denied before (the browser asks nothing): said at each click', async () => {
    fake.permission = 'denied';
    setUpNotifications(bell, note);
    await press();
    expect(fake.asked).toBe(0);
    expect(note.textContent).toBe(BLOCKED_NOTE);
  });

  it('the note goes after a click elsewhere, or after NOTE_MS', async () => {
    fake.permission = 'denied';
    setUpNotifications(bell, note);
    await press();
    expect(note.textContent).toBe(BLOCKED_NOTE);
    (document.getElementById('elsewhere') as HTMLElement).click();
    expect(note.textContent).toBe('');
    vi.useFakeTimers();
    await press();
    expect(note.textContent).toBe(BLOCKED_NOTE);
    vi.advanceTimersByTime(NOTE_MS - 1);
    expect(note.textContent).toBe(BLOCKED_NOTE);
    vi.advanceTimersByTime(1);
    expect(note.textContent).toBe('');
  });
});
