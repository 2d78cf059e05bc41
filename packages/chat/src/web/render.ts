/**
 * Drawing the page from the state (room-state.ts) and the outbox (outbox.ts). Each function redraws
 * one region from scratch; main.ts calls the ones whose part changed. The conversation itself is
 * drawn by conversation.ts.
 */
import type { MessageActions } from './conversation.js';
import { byId, el } from './dom.js';
import type { Outbox } from './outbox.js';
import { type ChatState, type Room, roomLabel } from './room-state.js';

export interface Actions extends MessageActions {
  open(room: string): void;
  join(room: string): void;
}

/** Rooms, then direct messages, each by name: the sidebar's order (Alt+↑/↓ follow it). */
function sortedRooms(state: ChatState): Room[] {
  const rank = (r: Room) => (r.kind === 'dm' ? 1 : 0);
  return [...state.rooms.values()].sort(
    (a, b) => rank(a) - rank(b) || roomLabel(a, state.me).localeCompare(roomLabel(b, state.me)),
  );
}

export function roomOrder(state: ChatState): string[] {
  return sortedRooms(state).map((r) => r.name);
}

export function renderRooms(state: ChatState, actions: Actions): void {
  const rooms = byId('room-list');
  const dms = byId('dm-list');
  // Redrawing the list must not take the keyboard focus away from the room the user is on.
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.room;
  rooms.replaceChildren();
  dms.replaceChildren();
  for (const room of sortedRooms(state)) {
    const li = el('li');
    const button = el('button');
    button.type = 'button';
    button.dataset.room = room.name;
    button.setAttribute('aria-current', String(room.name === state.active));
    button.append(el('span', 'name', roomLabel(room, state.me)));
    if (room.kind === 'private') button.append(el('span', 'lock', ' (private)'));
    if (room.mentions > 0 && room.name !== state.active) {
      const badge = el('span', 'badge mentions', `@${room.mentions}`);
      badge.setAttribute('aria-label', `${room.mentions} mentioning you`);
      button.append(badge);
    }
    if (room.unread > 0 && room.name !== state.active) {
      const badge = el('span', 'badge unread', String(room.unread));
      badge.setAttribute('aria-label', `${room.unread} unread`);
      button.append(badge);
    }
    button.addEventListener('click', () => actions.open(room.name));
    li.append(button);
    (room.kind === 'dm' ? dms : rooms).append(li);
    if (focused === room.name) button.focus();
  }
  const total = state.unreadElsewhere;
  document.title = total > 0 ? `(${total}) Riptide chat` : 'Riptide chat';
}

export function renderDirectory(state: ChatState, actions: Actions): void {
  const list = byId('all-room-list');
  list.replaceChildren();
  for (const info of state.directory) {
    const li = el('li');
    const button = el('button', 'link', `#${info.room} (${info.members})`);
    button.type = 'button';
    button.addEventListener('click', () => actions.join(info.room));
    li.append(button);
    list.append(li);
  }
}

export function renderHeader(state: ChatState): void {
  const room = state.rooms.get(state.active);
  byId('room-title').textContent = room ? roomLabel(room, state.me) : 'No room';
  byId<HTMLButtonElement>('leave-room').hidden = !room;
  // The owner may delete a room they created (not `general`, not a direct message).
  byId('delete-room').hidden = !(room && room.kind !== 'dm' && room.owner === state.me);
  byId('delete-room-confirm').hidden = true;
  byId('invite-form').hidden = !(room?.kind === 'private' && room.owner === state.me);
  byId<HTMLTextAreaElement>('composer-input').disabled = !room;
}

export function renderOnline(state: ChatState, actions: Actions): void {
  const list = byId('online-list');
  list.replaceChildren();
  const room = state.rooms.get(state.active);
  for (const user of [...(room?.online ?? [])].sort()) {
    const li = el('li');
    if (user === state.me) li.textContent = user;
    else {
      // A name in the list starts a direct message.
      const button = el('button', 'link', user);
      button.type = 'button';
      button.title = `Message ${user} directly`;
      button.addEventListener('click', () => actions.dm(user));
      li.append(button);
    }
    list.append(li);
  }
}

export function renderTyping(state: ChatState, now: number): void {
  const users = state.typingIn(state.active, now);
  byId('typing').textContent =
    users.length === 0
      ? ''
      : users.length === 1
        ? `${users[0]} is typing…`
        : `${users.join(', ')} are typing…`;
}

export function renderErrors(state: ChatState, outbox: Outbox): void {
  byId('room-error').textContent = state.roomError;
  byId('composer-error').textContent = outbox.slowedDown
    ? 'Slow down a little — sending shortly.'
    : state.composerError;
}
