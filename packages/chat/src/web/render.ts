/**
 * Drawing the page from the state (room-state.ts) and the outbox (outbox.ts). Each function redraws
 * one region from scratch; main.ts calls the ones whose part changed. The conversation itself is
 * drawn by conversation.ts.
 */
import type { MessageActions } from './conversation.js';
import { byId, el } from './dom.js';
import type { Outbox } from './outbox.js';
import { answerPlace } from './panels.js';
import type { ChatState, Room } from './room-state.js';

export interface Actions extends MessageActions {
  open(room: string): void;
  join(room: string): void;
  /** The owner takes `user` out of the open room, once confirmed (out of a public room: banned). */
  removeMember(user: string): void;
  /** The owner of the open public room lifts the ban of `user`. */
  unban(user: string): void;
  /** Blocks `user` (docs/chat-protocol.md, "Blocking"), or ends the block. */
  block(user: string): void;
  unblock(user: string): void;
}

/** What the online list remembers between redraws: whose Remove asks "remove?" now. */
const onlineUi = { removing: null as { room: string; user: string } | null };

/** Rooms, then direct messages, each by name: the sidebar's order (Alt+↑/↓ follow it). */
function sortedRooms(state: ChatState): Room[] {
  const rank = (r: Room) => (r.kind === 'dm' ? 1 : 0);
  return [...state.rooms.values()].sort(
    (a, b) => rank(a) - rank(b) || state.label(a).localeCompare(state.label(b)),
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
    button.append(el('span', 'name', state.label(room)));
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
  renderDocumentTitle(state);
}

/**
 * The tab's title: the unread count elsewhere, then the open room, as a chat's tab names where it
 * is ("(2) #random · Riptide chat"); it said only "(2) Riptide chat", the same for every room.
 */
function renderDocumentTitle(state: ChatState): void {
  const total = state.unreadElsewhere;
  const room = state.rooms.get(state.active);
  const title = `${total > 0 ? `(${total}) ` : ''}${room ? `${state.label(room)} · ` : ''}Riptide chat`;
  if (document.title !== title) document.title = title;
}

export function renderDirectory(state: ChatState, actions: Actions): void {
  const list = byId('all-room-list');
  list.replaceChildren();
  for (const info of state.directory) {
    const li = el('li');
    // Says what the number is: "#design (1)" read as a count of something unnamed.
    const members = `${info.members} ${info.members === 1 ? 'member' : 'members'}`;
    const button = el('button', 'link', `#${info.room} · ${members}`);
    button.type = 'button';
    button.addEventListener('click', () => actions.join(info.room));
    li.append(button);
    list.append(li);
  }
}

/** The open room's name (again when a direct message's user's name is learned: see ChatState.label). */
export function renderTitle(state: ChatState): void {
  const room = state.rooms.get(state.active);
  const title = byId('room-title');
  const text = room ? state.label(room) : 'No room';
  if (title.textContent !== text) title.textContent = text;
  renderDocumentTitle(state);
}

export function renderHeader(state: ChatState): void {
  const room = state.rooms.get(state.active);
  renderTitle(state);
  const leave = byId<HTMLButtonElement>('leave-room');
  leave.hidden = !room;
  // A direct message is not a room one leaves: it is closed, and opened again from the name.
  const leaveText = room?.kind === 'dm' ? 'Close conversation' : 'Leave room';
  if (leave.textContent !== leaveText) leave.textContent = leaveText;
  // In no room (a new account whose rooms were all left or deleted): where to find or start one.
  byId('no-room').hidden = room !== undefined;
  // The owner may delete a room they created (not `general`, not a direct message).
  byId('delete-room').hidden = !(room && room.kind !== 'dm' && room.owner === state.me);
  byId('delete-room-confirm').hidden = true;
  byId('invite-form').hidden = !(room?.kind === 'private' && room.owner === state.me);
  byId<HTMLTextAreaElement>('composer-input').disabled = !room;
}

/**
 * The people of the open room: who is online, and in a private room (once its members are loaded)
 * then every other member, marked offline in words (not only by the dot's colour). A name starts a
 * direct message; in a room they own (private or public) its owner also has "Remove" beside each
 * other name (in a private room online or not), which asks first (as deleting a message does): the
 * focus goes to the question's Cancel, and back to Remove if cancelled. In a public room the owner
 * also sees whom they banned (renderBans).
 */
export function renderOnline(state: ChatState, actions: Actions, focus?: string): void {
  renderBans(state, actions);
  const list = byId('online-list');
  const room = state.rooms.get(state.active);
  const online = [...(room?.online ?? [])].sort();
  const offline =
    room?.kind === 'private' && room.members
      ? [...room.members].filter((user) => !room.online.has(user)).sort()
      : [];
  byId('online-title').textContent = room?.kind === 'private' && room.members ? 'Members' : 'Online';
  // A redraw (someone comes online, goes, is removed) must not take the keyboard focus away: it
  // goes back to the same control of the same name, or to the composer if that name is gone.
  // `focus`: where a Remove, its Cancel or its confirmation puts it instead.
  const focused = focus === undefined ? focusedControl(list) : null;
  list.replaceChildren();
  const redraw = (to: string) => renderOnline(state, actions, to);
  const asking = onlineUi.removing;
  const shown = new Set([...online, ...offline]);
  if (asking && (asking.room !== room?.name || !shown.has(asking.user))) onlineUi.removing = null;
  for (const user of [...online, ...offline]) {
    const li = el('li');
    li.dataset.user = user;
    const isOffline = !room?.online.has(user);
    if (isOffline) li.classList.add('offline');
    if (user === state.me) li.textContent = user;
    else {
      // A name in the list starts a direct message.
      const button = el('button', 'link', user);
      button.type = 'button';
      button.title = `Message ${user} directly`;
      button.addEventListener('click', () => actions.dm(user));
      li.append(button);
    }
    if (user !== state.me) li.append(blockButton(user, state, actions));
    if (isOffline) li.append(el('span', 'presence-word', 'offline'));
    if (room && state.mayRemove(room.name, user)) li.append(removeTools(room, user, state, actions, redraw));
    list.append(li);
  }
  if (focus !== undefined) list.querySelector<HTMLElement>(focus)?.focus();
  if (focused === null) return;
  const target = list.querySelector<HTMLElement>(
    `li[data-user="${CSS.escape(focused.user)}"] ${focused.control}`,
  );
  if (target) target.focus();
  else if (byId('composer-input').closest('[inert]')) {
    // The people drawer is open over the conversation (a phone): the composer is inert and could
    // not take the focus, which would be lost to the page. It stays in the drawer.
    (list.querySelector<HTMLElement>('button') ?? byId('online-toggle')).focus();
  } else if (!byId<HTMLTextAreaElement>('composer-input').disabled) byId('composer-input').focus();
}

/** Block, or Unblock for a user blocked already, beside a name in the people list. */
function blockButton(user: string, state: ChatState, actions: Actions): HTMLButtonElement {
  const blocked = state.isBlocked(user);
  const b = el('button', 'quiet block-user', blocked ? 'Unblock' : 'Block');
  b.type = 'button';
  b.setAttribute('aria-label', blocked ? `Unblock ${user}` : `Block ${user}`);
  b.title = blocked
    ? `Show ${user}'s messages again and let them write to you`
    : `Hide ${user}'s messages; they can no longer write to you directly or invite you`;
  b.addEventListener('click', () => (blocked ? actions.unblock(user) : actions.block(user)));
  return b;
}

/** The online list's control that has the focus: whose row, and which of its buttons. */
function focusedControl(list: HTMLElement): { user: string; control: string } | null {
  const active = document.activeElement as HTMLElement | null;
  if (!active || !list.contains(active)) return null;
  const user = active.closest<HTMLElement>('li')?.dataset.user;
  if (user === undefined) return null;
  const control = ['remove-member', 'confirm-remove', 'cancel-remove', 'block-user', 'link'].find((c) =>
    active.classList.contains(c),
  );
  return control === undefined ? null : { user, control: `.${control}` };
}

function removeTools(
  room: Room,
  user: string,
  state: ChatState,
  actions: Actions,
  redraw: (focus: string) => void,
): HTMLElement {
  const label = state.label(room);
  const item = `li[data-user="${CSS.escape(user)}"]`;
  const button = (text: string, className: string, name: string, onClick: () => void) => {
    const b = el('button', className, text);
    b.type = 'button';
    // The name holds the words shown (speech control says what it sees).
    b.setAttribute('aria-label', name);
    b.addEventListener('click', onClick);
    return b;
  };
  if (onlineUi.removing?.room === room.name && onlineUi.removing.user === user) {
    const box = el('span', 'remove-confirm');
    box.append(
      el(
        'span',
        'question',
        room.kind === 'public'
          ? `Remove ${user} from ${label}? They cannot come back until you unban them.`
          : `Remove ${user} from ${label}?`,
      ),
      button('Remove', 'danger confirm-remove', `Remove ${user}, yes`, () => {
        onlineUi.removing = null;
        actions.removeMember(user);
        redraw(`${item} .remove-member`);
      }),
      button('Cancel', 'quiet cancel-remove', `Cancel, keep ${user}`, () => {
        onlineUi.removing = null;
        redraw(`${item} .remove-member`);
      }),
    );
    return box;
  }
  return button('Remove', 'quiet remove-member', `Remove ${user} from ${label}`, () => {
    onlineUi.removing = { room: room.name, user };
    redraw(`${item} .cancel-remove`);
  });
}

/**
 * The Banned list at the end of the people panel of a public room the user moderates (owns it, or
 * is a server admin): each name with Unban, asked at once (it lets someone back, undone by removing
 * them again), the list hidden while it bans nobody; then "Ban someone", a name (online or not, in
 * the room or not) sent as `remove` (main.ts). The focus on an Unban stays in the list after a
 * redraw (the same name's, or the first left), or goes where the people list sends it (the
 * composer) once the list is empty.
 */
function renderBans(state: ChatState, actions: Actions): void {
  const list = byId('ban-list');
  const moderates = state.mayBan(state.active);
  const names = moderates ? (state.bans.get(state.active) ?? []) : [];
  const active = document.activeElement as HTMLElement | null;
  const had = active && list.contains(active) ? active.closest<HTMLElement>('li')?.dataset.user : undefined;
  byId('bans').hidden = !moderates;
  list.hidden = names.length === 0;
  list.replaceChildren();
  for (const user of names) {
    const li = el('li');
    li.dataset.user = user;
    const b = el('button', 'quiet unban-user', 'Unban');
    b.type = 'button';
    b.setAttribute('aria-label', `Unban ${user}`);
    b.title = `Let ${user} join this room again`;
    b.addEventListener('click', () => actions.unban(user));
    li.append(el('span', 'name', user), b);
    list.append(li);
  }
  if (had === undefined) return;
  const target =
    list.querySelector<HTMLElement>(`li[data-user="${CSS.escape(had)}"] button`) ??
    list.querySelector<HTMLElement>('button');
  if (target) target.focus();
  else if (byId('composer-input').closest('[inert]')) byId('online-toggle').focus();
  else byId('composer-input').focus();
}

export function renderTyping(state: ChatState, now: number): void {
  const users = state.typingIn(state.active, now);
  const text =
    users.length === 0
      ? ''
      : users.length === 1
        ? `${users[0]} is typing…`
        : `${users.join(', ')} are typing…`;
  // A polite live region: every notice of someone still typing (one each typingIntervalMs) would
  // write the same words again, and a screen reader may read each write. Written when they change.
  const line = byId('typing');
  if (line.textContent !== text) line.textContent = text;
}

/** The answer to room requests last rendered, and where it was said (panels.ts answerPlace). */
let roomAnswer = { text: '', place: 'room-error' as ReturnType<typeof answerPlace> };

export function renderErrors(state: ChatState, outbox: Outbox): void {
  // An error, else what a request did that shows nothing else (room-state.ts `roomDone`). It is
  // said where it is seen when the answer comes: in the room list's area, in the people drawer
  // open on a phone (its Remove refused, a direct message refused), or above the composer with
  // the drawers closed (an invitation or a leave from the conversation). It stays where it was
  // put when a drawer opens or closes, and the other places are emptied: one live region holds
  // it, and it is announced once.
  const text = state.roomError || state.roomDone;
  if (text !== roomAnswer.text) roomAnswer = { text, place: text === '' ? 'room-error' : answerPlace() };
  const done = state.roomError === '' && state.roomDone !== '';
  for (const id of ['room-error', 'online-error', 'room-note'] as const) {
    const element = byId(id);
    const here = roomAnswer.place === id;
    const said = here ? text : '';
    if (element.textContent !== said) element.textContent = said;
    element.classList.toggle('done', here && done);
  }
  // An alert: written again with the same words at every render (each message that arrives), it
  // could be read out again each time. Written when they change (a new try empties it first).
  const composerError = outbox.slowedDown ? 'Slow down a little — sending shortly.' : state.composerError;
  const element = byId('composer-error');
  if (element.textContent !== composerError) element.textContent = composerError;
}
