/**
 * The chat page. State per room: the messages we hold (by seq), the last seq applied (`head`),
 * unread count, who is online. Room events are applied strictly in seq order: an event at
 * head+1 is applied, older ones are dropped (already seen), newer ones wait while a `sync`
 * fetches the gap. Sent messages stay in an outbox (kept in sessionStorage) until acknowledged,
 * and are resent with the same id after a reconnect; the server stores each id once.
 */
import type { ChatMessage, RoomEvent, RoomState, ServerMessage } from '../shared/protocol.js';
import { DEFAULT_ROOM, ROOM_NAME } from '../shared/protocol.js';
import { Connection, type Status } from './connection.js';
import { byId, el, renderText } from './text.js';

interface Room {
  name: string;
  head: number;
  unread: number;
  online: Set<string>;
  messages: Map<number, ChatMessage>;
  /** Notices (joins, leaves) shown after the message with seq `after`. */
  notices: { after: number; text: string }[];
  loaded: boolean;
  loadingOlder: boolean;
  hasMore: boolean;
  syncing: boolean;
  waiting: Map<number, RoomEvent>;
}

interface Pending {
  id: string;
  room: string;
  text: string;
}

const OUTBOX_KEY = 'riptide-chat-outbox';
const ROOM_KEY = 'riptide-chat-room';
const TYPING_SEND_MS = 2000;
const TYPING_SHOW_MS = 4000;

let me = '';
const rooms = new Map<string, Room>();
let active = sessionStorage.getItem(ROOM_KEY) ?? DEFAULT_ROOM;
const outbox = new Map<string, Pending>(
  (JSON.parse(sessionStorage.getItem(OUTBOX_KEY) ?? '[]') as Pending[]).map((p) => [p.id, p]),
);
const typingUsers = new Map<string, ReturnType<typeof setTimeout>>();
let lastTypingSent = 0;
let editing: { room: string; seq: number } | null = null;
let pendingJoinRef: string | null = null;
let pendingJoinRoom = '';
let readTimer: ReturnType<typeof setTimeout> | undefined;
let nextRef = 1;

const conn = new Connection({ onOpen, onMessage, onStatus });

function randomId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function saveOutbox(): void {
  sessionStorage.setItem(OUTBOX_KEY, JSON.stringify([...outbox.values()]));
}

function newRoom(state: RoomState): Room {
  return {
    name: state.name,
    head: state.head,
    unread: state.unread,
    online: new Set(state.online),
    messages: new Map(),
    notices: [],
    loaded: false,
    loadingOlder: false,
    hasMore: false,
    syncing: false,
    waiting: new Map(),
  };
}

// ---- connection ----

function onOpen(): void {
  const known: Record<string, number> = {};
  for (const room of rooms.values()) if (room.loaded) known[room.name] = room.head;
  conn.send({ v: 1, type: 'hello', rooms: known });
}

function onStatus(status: Status): void {
  const node = byId('status');
  node.dataset.state = status.state;
  if (status.state === 'online') node.textContent = 'Online';
  else if (status.state === 'connecting') node.textContent = 'Connecting…';
  else if (status.state === 'offline')
    node.textContent = `Offline — retrying in ${Math.ceil(status.retryInMs / 1000)} s`;
  else showLogin();
}

function onMessage(msg: ServerMessage): void {
  switch (msg.type) {
    case 'welcome':
      onWelcome(msg.user, msg.rooms);
      return;
    case 'message':
    case 'edited':
    case 'deleted':
      receiveEvent(msg);
      return;
    case 'ack': {
      outbox.delete(msg.id);
      saveOutbox();
      if (msg.room === active) renderMessages(false);
      return;
    }
    case 'history':
      onHistory(msg.room, msg.messages, msg.head, msg.hasMore, msg.ref !== undefined);
      return;
    case 'synced': {
      const room = rooms.get(msg.room);
      if (!room) return;
      room.syncing = false;
      drainWaiting(room);
      return;
    }
    case 'reset': {
      const room = rooms.get(msg.room);
      if (!room) return;
      // Too far behind to replay: start this room again from its latest page.
      room.loaded = false;
      room.messages.clear();
      room.waiting.clear();
      room.notices = [];
      room.syncing = false;
      room.head = msg.head;
      if (room.name === active) loadLatest(room);
      return;
    }
    case 'presence': {
      const room = rooms.get(msg.room);
      if (!room) return;
      if (msg.online) room.online.add(msg.user);
      else room.online.delete(msg.user);
      if (msg.user !== me) addNotice(room, `${msg.user} ${msg.online ? 'came online' : 'went offline'}`);
      if (room.name === active) renderOnline();
      return;
    }
    case 'member': {
      const room = rooms.get(msg.room);
      if (!room) return;
      if (!msg.joined) room.online.delete(msg.user);
      addNotice(room, `${msg.user} ${msg.joined ? 'joined' : 'left'} #${msg.room}`);
      if (room.name === active) renderOnline();
      return;
    }
    case 'typing': {
      if (msg.user === me) return;
      const key = `${msg.room}\n${msg.user}`;
      clearTimeout(typingUsers.get(key));
      typingUsers.set(
        key,
        setTimeout(() => {
          typingUsers.delete(key);
          renderTyping();
        }, TYPING_SHOW_MS),
      );
      renderTyping();
      return;
    }
    case 'rooms': {
      const list = byId('all-room-list');
      list.replaceChildren();
      for (const info of msg.rooms) {
        const li = el('li');
        const button = el('button', 'link', `#${info.name} (${info.members})`);
        button.type = 'button';
        button.addEventListener('click', () => joinRoom(info.name));
        li.append(button);
        list.append(li);
      }
      return;
    }
    case 'joined': {
      let room = rooms.get(msg.name);
      if (!room) {
        room = newRoom(msg);
        rooms.set(room.name, room);
      }
      if (msg.ref !== undefined && msg.ref === pendingJoinRef) {
        pendingJoinRef = null;
        byId('room-error').textContent = '';
        switchRoom(room.name);
      } else {
        renderRooms();
      }
      return;
    }
    case 'left': {
      rooms.delete(msg.room);
      if (active === msg.room)
        switchRoom(rooms.has(DEFAULT_ROOM) ? DEFAULT_ROOM : ([...rooms.keys()][0] ?? ''));
      else renderRooms();
      return;
    }
    case 'error':
      onError(msg.code, msg.message, msg.ref, msg.retryAfterMs);
      return;
    case 'service': {
      // Several nodes on Redis: storage went away (messages wait in the outbox) or came back.
      const node = byId('status');
      node.dataset.state = msg.available ? 'online' : 'degraded';
      node.textContent = msg.available ? 'Online' : 'Connected — messages are held until the server recovers';
      if (msg.available)
        for (const pending of outbox.values())
          if (rooms.has(pending.room))
            conn.send({ v: 1, type: 'send', id: pending.id, room: pending.room, text: pending.text });
      return;
    }
  }
}

function onWelcome(user: string, states: RoomState[]): void {
  me = user;
  byId('me').textContent = user;
  const seen = new Set<string>();
  for (const state of states) {
    seen.add(state.name);
    const room = rooms.get(state.name);
    if (!room) {
      rooms.set(state.name, newRoom(state));
      continue;
    }
    room.online = new Set(state.online);
    if (room.name !== active) room.unread = state.unread;
    if (!room.loaded) room.head = state.head;
    // A loaded room gets its missed events by replay (we sent its head in hello).
  }
  for (const name of [...rooms.keys()]) if (!seen.has(name)) rooms.delete(name);
  if (!rooms.has(active)) active = rooms.has(DEFAULT_ROOM) ? DEFAULT_ROOM : ([...rooms.keys()][0] ?? '');
  switchRoom(active);
  // Resend what was never acknowledged, with the same ids: the server stores each id once.
  for (const pending of outbox.values()) {
    if (rooms.has(pending.room))
      conn.send({ v: 1, type: 'send', id: pending.id, room: pending.room, text: pending.text });
  }
}

function onError(code: string, message: string, ref?: string, retryAfterMs?: number): void {
  const pending = ref ? outbox.get(ref) : undefined;
  // Not stored (Redis unreachable): keep it; it is resent when a `service` message says available.
  if (pending && code === 'unavailable') return;
  if (pending) {
    if (code === 'rate_limited') {
      byId('composer-error').textContent = 'Slow down a little — sending shortly.';
      setTimeout(() => {
        if (outbox.has(pending.id)) conn.send({ v: 1, type: 'send', ...pending });
      }, retryAfterMs ?? 1000);
      return;
    }
    outbox.delete(pending.id);
    saveOutbox();
    renderMessages(false);
    byId('composer-error').textContent = message;
    return;
  }
  if (ref !== undefined && ref === pendingJoinRef) {
    if (code === 'no_such_room' && ref.startsWith('join')) {
      pendingJoinRef = `create${nextRef++}`;
      conn.send({ v: 1, type: 'create', ref: pendingJoinRef, room: pendingJoinRoom });
      return;
    }
    pendingJoinRef = null;
    byId('room-error').textContent = message;
    return;
  }
  byId('composer-error').textContent = message;
}

// ---- room events, in seq order ----

function eventSeq(event: RoomEvent): number {
  return event.type === 'message' ? event.message.seq : event.seq;
}

function eventRoom(event: RoomEvent): string {
  return event.type === 'message' ? event.message.room : event.room;
}

function receiveEvent(event: RoomEvent): void {
  const room = rooms.get(eventRoom(event));
  if (!room) return;
  const seq = eventSeq(event);
  if (!room.loaded) {
    // Not displayed yet: only count unread messages; history loads when the room is opened.
    if (seq > room.head) {
      room.head = seq;
      if (event.type === 'message' && event.message.user !== me) room.unread++;
      renderRooms();
    }
    return;
  }
  if (seq <= room.head) return; // already applied (replay overlap, or a duplicate delivery)
  if (seq > room.head + 1) {
    room.waiting.set(seq, event);
    if (!room.syncing) {
      room.syncing = true;
      conn.send({ v: 1, type: 'sync', room: room.name, after: room.head });
    }
    return;
  }
  apply(room, event);
  drainWaiting(room);
}

function drainWaiting(room: Room): void {
  for (;;) {
    const next = room.waiting.get(room.head + 1);
    if (!next) break;
    room.waiting.delete(room.head + 1);
    apply(room, next);
  }
  for (const seq of room.waiting.keys()) if (seq <= room.head) room.waiting.delete(seq);
}

function apply(room: Room, event: RoomEvent): void {
  room.head = eventSeq(event);
  const isActive = room.name === active;
  if (event.type === 'message') {
    room.messages.set(event.message.seq, event.message);
    if (event.message.user === me && outbox.delete(event.message.id)) saveOutbox();
    if (event.message.user !== me && (!isActive || document.hidden)) {
      room.unread++;
      renderRooms();
    }
  } else {
    const target = room.messages.get(event.target);
    if (target) {
      if (event.type === 'edited') {
        target.text = event.text;
        target.editedAt = event.ts;
      } else {
        target.text = '';
        target.deleted = true;
      }
    }
  }
  if (isActive) {
    renderMessages(event.type === 'message');
    markRead();
  }
}

function onHistory(
  name: string,
  messages: ChatMessage[],
  head: number,
  hasMore: boolean,
  older: boolean,
): void {
  const room = rooms.get(name);
  if (!room) return;
  if (!older) {
    room.messages.clear();
    room.notices = [];
    room.waiting.clear();
    room.head = head;
    room.loaded = true;
  }
  for (const message of messages) room.messages.set(message.seq, message);
  room.hasMore = hasMore;
  room.loadingOlder = false;
  if (name !== active) return;
  if (older) {
    const box = byId('messages');
    const fromBottom = box.scrollHeight - box.scrollTop;
    renderMessages(false);
    box.scrollTop = box.scrollHeight - fromBottom;
  } else {
    renderMessages(true);
    markRead();
  }
}

function loadLatest(room: Room): void {
  conn.send({ v: 1, type: 'history', room: room.name });
}

function loadOlder(): void {
  const room = rooms.get(active);
  if (!room?.loaded || !room.hasMore || room.loadingOlder) return;
  const oldest = Math.min(...room.messages.keys());
  room.loadingOlder = true;
  conn.send({ v: 1, type: 'history', ref: `older${nextRef++}`, room: room.name, before: oldest });
}

function addNotice(room: Room, text: string): void {
  room.notices.push({ after: room.head, text });
  if (room.notices.length > 100) room.notices.shift();
  if (room.name === active) renderMessages(true);
}

function markRead(): void {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    const room = rooms.get(active);
    if (!room?.loaded || document.hidden) return;
    room.unread = 0;
    renderRooms();
    conn.send({ v: 1, type: 'read', room: room.name, seq: room.head });
  }, 300);
}

// ---- rendering ----

function switchRoom(name: string): void {
  active = name;
  sessionStorage.setItem(ROOM_KEY, name);
  cancelEdit();
  const room = rooms.get(name);
  byId('room-title').textContent = room ? `#${name}` : 'No room';
  byId<HTMLButtonElement>('leave-room').hidden = !room;
  byId<HTMLTextAreaElement>('composer-input').disabled = !room;
  if (room) {
    if (!room.loaded) loadLatest(room);
    room.unread = 0;
    markRead();
  }
  renderRooms();
  renderMessages(true);
  renderOnline();
  renderTyping();
}

function renderRooms(): void {
  const list = byId('room-list');
  list.replaceChildren();
  for (const room of [...rooms.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const li = el('li');
    const button = el('button');
    button.type = 'button';
    button.dataset.room = room.name;
    button.setAttribute('aria-current', String(room.name === active));
    button.append(el('span', 'name', `#${room.name}`));
    if (room.unread > 0 && room.name !== active) {
      const badge = el('span', 'badge', String(room.unread));
      badge.setAttribute('aria-label', `${room.unread} unread`);
      button.append(badge);
    }
    button.addEventListener('click', () => switchRoom(room.name));
    li.append(button);
    list.append(li);
  }
  const total = [...rooms.values()].reduce((n, r) => n + (r.name === active ? 0 : r.unread), 0);
  document.title = total > 0 ? `(${total}) Riptide chat` : 'Riptide chat';
}

function messageItem(message: ChatMessage): HTMLLIElement {
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
    const actions = el('span', 'actions');
    const edit = el('button', 'link edit', 'Edit');
    edit.type = 'button';
    edit.setAttribute('aria-label', `Edit message ${message.seq}`);
    edit.addEventListener('click', () => startEdit(message));
    const del = el('button', 'link delete', 'Delete');
    del.type = 'button';
    del.setAttribute('aria-label', `Delete message ${message.seq}`);
    del.addEventListener('click', () =>
      conn.send({ v: 1, type: 'delete', room: message.room, seq: message.seq }),
    );
    actions.append(edit, del);
    meta.append(actions);
  }
  const text = el('div', 'text');
  if (message.deleted) text.textContent = 'message deleted';
  else renderText(text, message.text);
  li.append(meta, text);
  return li;
}

function renderMessages(stickToBottom: boolean): void {
  const box = byId('messages');
  const list = byId('message-list');
  const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const room = rooms.get(active);
  list.replaceChildren();
  byId('load-older').hidden = !room?.hasMore;
  if (!room) return;
  const seqs = [...room.messages.keys()].sort((a, b) => a - b);
  let n = 0;
  const notices = room.notices;
  for (const seq of seqs) {
    while (n < notices.length && notices[n].after < seq) list.append(el('li', 'notice', notices[n++].text));
    list.append(messageItem(room.messages.get(seq)!));
  }
  while (n < notices.length) list.append(el('li', 'notice', notices[n++].text));
  for (const pending of outbox.values()) {
    if (pending.room !== room.name) continue;
    const li = el('li', 'message mine pending');
    const meta = el('div', 'meta');
    meta.append(el('span', 'user', me), el('span', 'state', 'sending…'));
    const text = el('div', 'text');
    renderText(text, pending.text);
    li.append(meta, text);
    list.append(li);
  }
  if (stickToBottom && nearBottom) box.scrollTop = box.scrollHeight;
}

function renderOnline(): void {
  const list = byId('online-list');
  list.replaceChildren();
  const room = rooms.get(active);
  for (const user of [...(room?.online ?? [])].sort()) list.append(el('li', '', user));
}

function renderTyping(): void {
  const users = [...typingUsers.keys()]
    .filter((key) => key.startsWith(`${active}\n`))
    .map((key) => key.slice(active.length + 1));
  byId('typing').textContent =
    users.length === 0
      ? ''
      : users.length === 1
        ? `${users[0]} is typing…`
        : `${users.join(', ')} are typing…`;
}

// ---- composer ----

function startEdit(message: ChatMessage): void {
  editing = { room: message.room, seq: message.seq };
  const input = byId<HTMLTextAreaElement>('composer-input');
  input.value = message.text;
  byId('edit-banner').hidden = false;
  input.focus();
}

function cancelEdit(): void {
  editing = null;
  byId('edit-banner').hidden = true;
}

function submitComposer(): void {
  const input = byId<HTMLTextAreaElement>('composer-input');
  const text = input.value;
  byId('composer-error').textContent = '';
  if (text.trim() === '' || !rooms.has(active)) return;
  if (new TextEncoder().encode(text).length > 4096) {
    byId('composer-error').textContent = 'Message is too long (4 KiB at most).';
    return;
  }
  if (editing) {
    conn.send({ v: 1, type: 'edit', room: editing.room, seq: editing.seq, text });
    cancelEdit();
  } else {
    const pending: Pending = { id: randomId(), room: active, text };
    outbox.set(pending.id, pending);
    saveOutbox();
    conn.send({ v: 1, type: 'send', ...pending }); // if offline, the outbox resends after the welcome
    renderMessages(false);
    const box = byId('messages');
    box.scrollTop = box.scrollHeight;
  }
  input.value = '';
}

function joinRoom(name: string): void {
  const room = name.trim().toLowerCase();
  if (!ROOM_NAME.test(room)) {
    byId('room-error').textContent =
      'Room names: 1-32 of a-z, 0-9, - and _, starting with a letter or digit.';
    return;
  }
  if (rooms.has(room)) {
    switchRoom(room);
    return;
  }
  pendingJoinRef = `join${nextRef++}`;
  pendingJoinRoom = room;
  // Join if it exists, otherwise create it: the server answers no_such_room to a join.
  conn.send({ v: 1, type: 'join', ref: pendingJoinRef, room });
}

// ---- sign-in ----

function showLogin(): void {
  byId('chat-view').hidden = true;
  byId('login-view').hidden = false;
  byId('login-name').focus();
}

function showChat(): void {
  byId('login-view').hidden = true;
  byId('chat-view').hidden = false;
  conn.connect();
  byId('composer-input').focus();
}

async function start(): Promise<void> {
  byId('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const name = byId<HTMLInputElement>('login-name').value.trim();
    const password = byId<HTMLInputElement>('login-password').value;
    const res = await fetch('/api/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, password }),
    }).catch(() => null);
    if (!res) {
      byId('login-error').textContent = 'Cannot reach the server.';
      return;
    }
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    if (!res.ok) {
      byId('login-error').textContent = body.message ?? 'Sign-in failed.';
      return;
    }
    location.reload(); // a fresh page with the new session cookie
  });
  byId('logout').addEventListener('click', async () => {
    await fetch('/api/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    sessionStorage.removeItem(OUTBOX_KEY);
    conn.stop();
  });
  byId('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    submitComposer();
  });
  const input = byId<HTMLTextAreaElement>('composer-input');
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitComposer();
    } else if (event.key === 'Escape' && editing) {
      cancelEdit();
      input.value = '';
    }
  });
  input.addEventListener('input', () => {
    const now = Date.now();
    if (input.value !== '' && !editing && now - lastTypingSent > TYPING_SEND_MS && rooms.has(active)) {
      lastTypingSent = now;
      conn.send({ v: 1, type: 'typing', room: active });
    }
  });
  byId('room-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const field = byId<HTMLInputElement>('room-input');
    joinRoom(field.value);
    field.value = '';
  });
  byId('leave-room').addEventListener('click', () => {
    if (rooms.has(active)) conn.send({ v: 1, type: 'leave', room: active });
  });
  byId('load-older').addEventListener('click', loadOlder);
  byId('messages').addEventListener('scroll', () => {
    if (byId('messages').scrollTop < 40) loadOlder();
  });
  byId('all-rooms').addEventListener('toggle', () => {
    if ((byId('all-rooms') as HTMLDetailsElement).open) conn.send({ v: 1, type: 'rooms' });
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) markRead();
  });
  window.addEventListener('online', () => conn.retryNow());

  const res = await fetch('/api/session', { cache: 'no-store' }).catch(() => null);
  if (res?.ok) showChat();
  else showLogin();
}

void start();
