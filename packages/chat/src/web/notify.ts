/**
 * Desktop notifications for mentions and direct messages while the tab is hidden. Permission is asked only when the
 * user presses the bell (#notify-toggle), never on load; the choice to be notified is kept in
 * localStorage.
 */
import type { ChatMessage } from '../shared/protocol.js';
import { parse, plainText } from './format.js';

const KEY = 'riptide-chat-notify';

function supported(): boolean {
  return typeof Notification !== 'undefined';
}

function enabled(): boolean {
  return supported() && Notification.permission === 'granted' && localStorage.getItem(KEY) === 'on';
}

/** The user turned notifications on (the bell) and the browser allows them. */
export const notificationsOn = enabled;

function show(button: HTMLButtonElement): void {
  const on = enabled();
  button.hidden = !supported();
  button.setAttribute('aria-pressed', String(on));
  // The name stays "Notify me of mentions and direct messages" (aria-pressed says whether it is on).
  (button.querySelector('.glyph') as HTMLElement).textContent = on ? '🔔' : '🔕';
  button.title = on
    ? 'Notifying you of mentions and direct messages while this tab is hidden — click to stop'
    : Notification.permission === 'denied'
      ? 'Notifications are blocked in the browser settings'
      : 'Notify me of mentions and direct messages while this tab is hidden';
}

/** What the bell's note says when a click did not turn notifications on (setUpNotifications). */
export const BLOCKED_NOTE = "Notifications are blocked for this site in the browser's settings";
export const DISMISSED_NOTE = 'Notifications were not allowed — click the bell to be asked again';
/** How long the note stays, ms (a click elsewhere or on the bell takes it away sooner). */
export const NOTE_MS = 10_000;

/**
 * The bell: a click asks for permission if the browser has not been answered yet, then turns
 * notifications on or off. A click that could not turn them on, the permission denied (now or
 * before) or the browser's question dismissed unanswered, says so in `note` (a status region shown
 * below the bell): it used to do nothing at all.
 */
export function setUpNotifications(button: HTMLButtonElement, note?: HTMLElement): void {
  if (!supported()) {
    button.hidden = true;
    return;
  }
  show(button);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const say = (text: string) => {
    if (!note) return;
    clearTimeout(timer);
    note.textContent = text;
    if (text === '') return;
    const bell = button.getBoundingClientRect();
    note.style.top = `${Math.round(bell.bottom + 4)}px`;
    note.style.right = `${Math.max(8, Math.round(window.innerWidth - bell.right))}px`;
    timer = setTimeout(() => say(''), NOTE_MS);
  };
  document.addEventListener('click', (event) => {
    if (note?.textContent && !button.contains(event.target as Node)) say('');
  });
  button.addEventListener('click', async () => {
    say('');
    if (enabled()) localStorage.removeItem(KEY);
    else {
      const permission =
        Notification.permission === 'default'
          ? await Notification.requestPermission()
          : Notification.permission;
      if (permission === 'granted') localStorage.setItem(KEY, 'on');
      else say(permission === 'denied' ? BLOCKED_NOTE : DISMISSED_NOTE);
    }
    show(button);
  });
}

/**
 * A notification's title: a mention names the room it is in; a direct message (`where` is then
 * "@bob", the person) says who wrote, not that they "mentioned you in @bob".
 */
export function notificationTitle(user: string, where: string, direct: boolean): string {
  return direct ? `${user} sent you a message` : `${user} mentioned you in ${where}`;
}

/** A mention or a direct message arrived: notify if the tab is hidden and the user asked for it. */
export function notifyMention(message: ChatMessage, where: string, direct: boolean, open: () => void): void {
  if (!document.hidden || !enabled()) return;
  const note = new Notification(notificationTitle(message.user, where, direct), {
    body: plainText(parse(message.text)).slice(0, 200),
    tag: `${message.room}:${message.seq}`,
    icon: '/favicon.svg',
  });
  note.onclick = () => {
    window.focus();
    open();
    note.close();
  };
}
