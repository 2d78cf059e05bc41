/**
 * Drawing the page from the state (room-state.ts) and the outbox (outbox.ts). Each function redraws
 * one region from scratch; main.ts calls the ones whose part changed. User text only ever becomes
 * text nodes and vetted links (text.ts), never HTML.
 */
import type { ChatMessage } from '../shared/protocol.js';
import { renderAttachments } from './attachments.js';
import type { Outbox } from './outbox.js';
import { type ChatState, type Room, roomLabel } from './room-state.js';
import { byId, el, renderText } from './text.js';

export interface Actions {
  open(room: string): void;
  join(room: string): void;
  dm(user: string): void;
  edit(message: ChatMessage): void;
  remove(message: ChatMessage): void;
}

export function renderRooms(state: ChatState, actions: Actions): void {
  const rooms = byId('room-list');
  const dms = byId('dm-list');
  // Redrawing the list must not take the keyboard focus away from the room the user is on.
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.room;
  rooms.replaceChildren();
  dms.replaceChildren();
  const sorted = [...state.rooms.values()].sort((a, b) =>
    roomLabel(a, state.me).localeCompare(roomLabel(b, state.me)),
  );
  for (const room of sorted) {
    const li = el('li');
    const button = el('button');
    button.type = 'button';
    button.dataset.room = room.name;
    button.setAttribute('aria-current', String(room.name === state.active));
    button.append(el('span', 'name', roomLabel(room, state.me)));
    if (room.kind === 'private') button.append(el('span', 'lock', ' (private)'));
    if (room.unread > 0 && room.name !== state.active) {
      const badge = el('span', 'badge', String(room.unread));
      badge.setAttribute('aria-label', `${room.unread} unread`);
      button.append(badge);
    }
    button.addEventListener('click', () => actions.open(room.name));
    li.append(button);
    (room.kind === 'dm' ? dms : rooms).append(li);
    if (focused === room.name) button.focus();
  }
  byId('dm-title').hidden = dms.childElementCount === 0;
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
  byId('invite-form').hidden = !(room?.kind === 'private' && room.owner === state.me);
  byId<HTMLTextAreaElement>('composer-input').disabled = !room;
}

function messageItem(message: ChatMessage, me: string, actions: Actions): HTMLLIElement {
  const li = el('li', 'message');
  li.dataset.seq = String(message.seq);
  if (message.user === me) li.classList.add('mine');
  if (message.deleted) li.classList.add('deleted');
  const meta = el('div', 'meta');
  meta.append(el('span', 'user', message.user));
  const time = el(
    'time',
    '',
    new Date(message.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
  );
  time.dateTime = new Date(message.ts).toISOString();
  meta.append(time);
  if (message.editedAt && !message.deleted) meta.append(el('span', 'edited', '(edited)'));
  if (message.user === me && !message.deleted) {
    const tools = el('span', 'actions');
    const edit = el('button', 'link edit', 'Edit');
    edit.type = 'button';
    edit.setAttribute('aria-label', `Edit message ${message.seq}`);
    edit.addEventListener('click', () => actions.edit(message));
    const del = el('button', 'link delete', 'Delete');
    del.type = 'button';
    del.setAttribute('aria-label', `Delete message ${message.seq}`);
    del.addEventListener('click', () => actions.remove(message));
    tools.append(edit, del);
    meta.append(tools);
  }
  const text = el('div', 'text');
  text.dir = 'auto';
  if (message.deleted) text.textContent = 'message deleted';
  else renderText(text, message.text);
  li.append(meta, text);
  if (message.attachments?.length && !message.deleted) li.append(renderAttachments(message.attachments));
  return li;
}

/** The conversation: messages in seq order with notices between them, then the unsent ones. */
export function renderMessages(state: ChatState, outbox: Outbox, actions: Actions, keepOffset = false): void {
  const box = byId('messages');
  const list = byId('message-list');
  const fromBottom = box.scrollHeight - box.scrollTop;
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const room: Room | undefined = state.rooms.get(state.active);
  list.replaceChildren();
  byId('load-older').hidden = !room?.hasMore;
  if (!room) return;
  const seqs = [...room.messages.keys()].sort((a, b) => a - b);
  let n = 0;
  const notices = room.notices;
  for (const seq of seqs) {
    while (n < notices.length && notices[n].after < seq) list.append(el('li', 'notice', notices[n++].text));
    list.append(messageItem(room.messages.get(seq) as ChatMessage, state.me, actions));
  }
  while (n < notices.length) list.append(el('li', 'notice', notices[n++].text));
  for (const pending of outbox.items) {
    if (pending.room !== room.name) continue;
    const li = el('li', 'message mine pending');
    const meta = el('div', 'meta');
    meta.append(el('span', 'user', state.me), el('span', 'state', 'sending…'));
    const text = el('div', 'text');
    text.dir = 'auto';
    renderText(text, pending.text);
    li.append(meta, text);
    if (pending.attachments?.length) li.append(renderAttachments(pending.attachments));
    list.append(li);
  }
  if (keepOffset) box.scrollTop = box.scrollHeight - fromBottom;
  else if (state.stick && nearBottom) box.scrollTop = box.scrollHeight;
  state.stick = false;
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
