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

export function setUpNotifications(button: HTMLButtonElement): void {
  if (!supported()) {
    button.hidden = true;
    return;
  }
  show(button);
  button.addEventListener('click', async () => {
    if (enabled()) localStorage.removeItem(KEY);
    else {
      const permission =
        Notification.permission === 'default'
          ? await Notification.requestPermission()
          : Notification.permission;
      if (permission === 'granted') localStorage.setItem(KEY, 'on');
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
