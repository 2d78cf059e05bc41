/**
 * The chat page's wiring: the DOM's events to the state and the outbox, the server's messages to
 * them, and each change to the renderer. The logic lives in room-state.ts and outbox.ts (no DOM,
 * unit-tested), the drawing in render.ts; this file owns the timers and the browser APIs.
 */
import { isBlankText } from '../shared/blank-text.js';
import type { ChatMessage, ServerMessage } from '../shared/protocol.js';
import { DEFAULT_ROOM, DM_ROOM, ROOM_NAME, USER_NAME } from '../shared/protocol.js';
import { renderBlocked, setUpAccount } from './account.js';
import { AttachmentTray } from './attachments.js';
import { closeMentions, mentionKey, updateMentions } from './autocomplete.js';
import { Connection, type Status } from './connection.js';
import {
  followOwnMessage,
  jumpToLatest,
  onConversationScroll,
  readerMovesUp,
  renderMessages,
  showMessage,
} from './conversation.js';
import { byId, tieError } from './dom.js';
import { type Draft, Drafts, editDraft, editUnchanged, type Reply } from './drafts.js';
import { parse, plainText } from './format.js';
import { invitationText, notifyInvitation, renderInvitations } from './invitations.js';
import { settleRovingFocus, setUpKeyboard } from './keyboard.js';
import { notifyMention, setUpNotifications } from './notify.js';
import { Outbox, type Pending } from './outbox.js';
import { closeDrawer, setUpBanForm, setUpPanels } from './panels.js';
import { closePicker, openPicker, setUpPicker } from './picker.js';
import { fitPlaceholder } from './placeholder.js';
import { droppedNotice, missingPart, refusalReason } from './refusal.js';
import {
  type Actions,
  renderDirectory,
  renderErrors,
  renderHeader,
  renderOnline,
  renderRooms,
  renderTitle,
  renderTyping,
  roomOrder,
} from './render.js';
import { ChatState, excerpt } from './room-state.js';
import { SearchPanel } from './search.js';
import { setUpTheme } from './theme.js';
import { renderTopic, setUpTopic } from './topic.js';
import { PAGE_BUILD, showUpdate } from './update.js';

const OUTBOX_KEY = 'riptide-chat-outbox';
/** Whose messages the saved outbox holds: the account this tab was signed in as when they were typed. */
const OUTBOX_USER_KEY = 'riptide-chat-outbox-user';
const ROOM_KEY = 'riptide-chat-room';
const DRAFTS_KEY = 'riptide-chat-drafts';
const TYPING_SEND_MS = 2000;
const READ_DELAY_MS = 300;
/** Keys that move the conversation's view up (readerMovesUp): the browser's, and keyboard.ts's ↑. */
const UP_KEYS = new Set(['ArrowUp', 'PageUp', 'Home']);
/** How long #announce stays empty before the same notice is written again (writeAnnouncement). */
const SAY_AGAIN_GAP_MS = 150;

const conn = new Connection({ onOpen, onMessage, onStatus });
const state = new ChatState(
  {
    send: (message) => void conn.send(message),
    now: () => Date.now(),
    mentioned: (message, room) =>
      notifyMention(message, state.label(room), room.kind === 'dm', () => actions.open(room.name)),
    olderRefused: (room, said): boolean => search.olderRefused(room, said),
    latestRefused: (room, said): boolean => search.latestRefused(room, said),
    invited: (invitation) => {
      notifyInvitation(invitation);
      say(null, invitationText(invitation));
    },
  },
  sessionStorage.getItem(ROOM_KEY) ?? DEFAULT_ROOM,
);
const outbox = new Outbox(
  {
    send: (message) => conn.send(message),
    now: () => Date.now(),
    later: (ms, fn) => {
      const timer = setTimeout(fn, ms);
      return () => clearTimeout(timer);
    },
    save: (items) => sessionStorage.setItem(OUTBOX_KEY, JSON.stringify(items)),
    onRejected: (item, code, message) => {
      // Kept and shown in place as not sent, with the reason and what to do: said, not shown twice.
      if (item.room === state.active)
        say(item.room, `Your message was not sent: ${refusalReason(item, code, message)}`);
    },
    onDropped: (room, items) => unsentDropped(room, items),
    onChange: () => {
      state.changes.add('messages');
      state.changes.add('errors');
      render();
    },
  },
  JSON.parse(sessionStorage.getItem(OUTBOX_KEY) ?? '[]') as Pending[],
);

/** The composer's draft of each room, kept as the outbox is (this tab's, across reloads). */
const drafts = new Drafts({
  load: () => sessionStorage.getItem(DRAFTS_KEY),
  save: (json) => sessionStorage.setItem(DRAFTS_KEY, json),
});
/**
 * Whether a welcome has said who is signed in since the page loaded. Until then the composer is
 * disabled (static/index.html) and shows no draft: the drafts kept in this tab may be another
 * account's (signed in in another tab meanwhile: the cookie is shared), which the welcome drops.
 */
let confirmed = false;
/**
 * The room whose draft the composer holds: the open room once rendered (render() swaps drafts when
 * the open room changes); null while none (its room gone, the text handed to the unsent note; or
 * before the first welcome).
 */
let composerRoom: string | null = null;
/** Said when the user leaves an edit with changed text (another edit, a reply): the edit stays. */
const EDIT_KEPT = 'You are editing a message and changed it: send the edit (Enter) or cancel it (Esc) first.';
/** An edit is not queued as a new message is: offline, it stays in the composer, and this is said. */
const OFFLINE_EDIT = 'Offline — your edit is kept: press Enter to send it once the chat is back online.';
/** The own message being edited, and the new message (and its reply) put aside meanwhile. */
let editing: { room: string; seq: number; before?: { text: string; reply?: Reply } } | null = null;
let replying: { room: string; seq: number; label: string } | null = null;
/**
 * The unsent messages of a room the user is no longer in, and the draft the composer held for it,
 * told in #unsent-note until dismissed.
 */
let unsent: Map<string, { count: number; draft: boolean; texts: string[] }> | null = null;
let lastTypingSent = 0;
let readTimer: ReturnType<typeof setTimeout> | undefined;
let typingTimer: ReturnType<typeof setTimeout> | undefined;
let belowTimer: ReturnType<typeof setTimeout> | undefined;
/** A notice to write again in #announce once its emptying has been seen (writeAnnouncement). */
let sayAgain: { text: string; timer: ReturnType<typeof setTimeout> } | null = null;
/**
 * What the composer error says of files left out of a message (submitComposer), and their room:
 * it goes once none of them is left failed in the tray (retried and uploaded, or removed).
 */
let filesNote: { room: string; text: string } | null = null;
/**
 * What is wrong with the text in the message box (too long; a refused message's text taken back
 * to edit), shown in #composer-input-error and tied to the box (dom.ts tieError), and `fixed`, the
 * test of the box's text that takes it away (showInputError). The composer's other words (offline,
 * slow down, a request refused...) are notices, in #composer-error: not about the text typed.
 */
let inputError: { text: string; fixed: (text: string) => boolean } | null = null;

const actions: Actions = {
  open: (room) => {
    // The composer's text, reply and edit stay with the room left: its draft (render() swaps).
    closePicker();
    closeDrawer();
    state.open(room);
    render();
  },
  join: (room) => {
    // A room already joined opens without the server; any other needs it (offline, the request
    // could only be dropped unsent, without a word).
    if (!state.rooms.has(room) && !conn.open) {
      sayOffline(`you did not join ${room}`);
      return;
    }
    state.joinOrCreate(room);
    render();
  },
  dm: (user) => {
    if (!conn.open) {
      sayOffline(`no conversation with ${user} was opened`);
      return;
    }
    closeDrawer();
    state.startDm(user);
  },
  removeMember: (user) => online(`${user} was not removed`, () => state.removeMember(state.active, user)),
  unban: (user) => online(`${user} was not unbanned`, () => state.unban(state.active, user)),
  block: (user) => online(`${user} was not blocked`, () => state.block(user)),
  unblock: (user) => online(`${user} was not unblocked`, () => state.unblock(user)),
  showBlocked: (message) => {
    state.showBlocked(message.room, message.seq);
    render();
  },
  edit: (message) => startEdit(message),
  remove: (message) => online('the message was not deleted', () => state.remove(message.room, message.seq)),
  react: (message, emoji, on) =>
    online('the reaction was not sent', () => state.react(message.room, message.seq, emoji, on)),
  pickReaction: (message, anchor) =>
    openPicker(anchor, (emoji) => {
      const mine = message.reactions?.[emoji]?.includes(state.me) ?? false;
      if (!mine)
        online('the reaction was not sent', () => state.react(message.room, message.seq, emoji, true));
    }),
  reply: (message) => startReply(message),
  reveal: (seq) => {
    state.reveal(seq);
    render();
  },
  resendPending: (id) => {
    const newId = randomId();
    outbox.resend(id, newId);
    return outbox.has(newId) ? newId : id;
  },
  editPending: (id) => editFailed(id),
  discardPending: (id) => void outbox.discard(id),
};

/**
 * Does `act` (a request about a message already sent: delete, react) when the connection is open;
 * offline, where the request would be dropped unsent (only new messages are queued), says `what`.
 */
function online(what: string, act: () => void): void {
  if (conn.open) act();
  else sayOffline(what);
}

/**
 * Says that `what` was not done for being offline (a notice: not about the text typed). It goes
 * once the chat is back online (room-state.ts offlineNotice).
 */
function sayOffline(what: string): void {
  state.offlineNotice(`Offline — ${what}: try again once the chat is back online.`);
  render();
}

const search = new SearchPanel(
  {
    send: (message) => conn.send(message),
    label: (name) => {
      const room = state.rooms.get(name);
      return room ? state.label(room) : name;
    },
    open: (room) => actions.open(room),
    active: () => state.active,
    locate: (name, seq) => {
      const room = state.rooms.get(name);
      if (!room) return 'gone';
      if (!room.loaded) return room.latestRefused ? 'refused' : 'wait';
      if (room.loadingOlder) return 'wait';
      if (room.messages.has(seq)) return 'loaded';
      return room.hasMore ? 'older' : 'gone';
    },
    loadOlder: () => state.loadOlder(),
  },
  byId('top'),
  byId('message-list'),
);

const tray = new AttachmentTray(
  {
    room: () => (state.rooms.has(state.active) ? state.active : null),
    label: (name) => {
      const room = state.rooms.get(name);
      return room ? state.label(room) : name;
    },
    changed: () => checkFilesNote(),
    online: () => conn.open,
  },
  byId<HTMLFormElement>('composer'),
  byId<HTMLTextAreaElement>('composer-input'),
  byId('conversation'),
);

// ---- rendering ----

function render(): void {
  if (state.changes.has('active') && state.active !== composerRoom) switchDraft();
  const changes = new Set(state.changes);
  state.changes.clear();
  if (changes.has('active')) {
    closeDrawer(); // on a phone, the room now shown is what the user went to the menu for
    sessionStorage.setItem(ROOM_KEY, state.active);
    byId('me').textContent = state.me;
    byId('me').title = state.me; // cut short (…) on a narrow bar
    renderHeader(state);
  } else if (changes.has('rooms')) renderTitle(state);
  if (changes.has('rooms') || changes.has('active')) renderRooms(state, actions);
  if (changes.has('rooms') || changes.has('active') || changes.has('errors')) renderTopic(state);
  if (changes.has('directory')) renderDirectory(state, actions);
  if (changes.has('invitations')) renderInvitations(state, state);
  if (changes.has('blocked'))
    renderBlocked(state.blocked, (user) => online(`${user} was not unblocked`, () => state.unblock(user)));
  if (changes.has('messages') || changes.has('active')) renderMessages(state, outbox, actions);
  else if (changes.has('older')) renderMessages(state, outbox, actions, 'older');
  if (changes.has('messages') || changes.has('active') || changes.has('older'))
    settleRovingFocus(byId('message-list'));
  if (changes.has('reveal') && state.revealed !== null) {
    showMessage(state.revealed);
    state.revealed = null;
  }
  if (changes.has('online') || changes.has('active')) renderOnline(state, actions);
  if (changes.has('typing') || changes.has('active')) renderTypingLine();
  if (changes.has('errors') || changes.has('messages')) {
    renderErrors(state, outbox);
    renderFieldError();
  }
  // Its room gone, the live region is cleared, and a notice about it still to be written is
  // dropped (say() writes every other text itself: written again here, it could be read twice).
  if (changes.has('announce') && state.announcement.text === '') writeAnnouncement('');
  if (changes.has('messages') || changes.has('active')) scheduleRead();
  fitComposer();
}

function renderTypingLine(): void {
  const now = Date.now();
  renderTyping(state, now);
  clearTimeout(typingTimer);
  const next = state.nextTypingExpiry(now);
  if (next !== null) typingTimer = setTimeout(renderTypingLine, next - now);
}

/** The open room's read marker, a moment after its messages were shown. */
function scheduleRead(): void {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    if (document.hidden) return;
    state.markRead();
    render();
  }, READ_DELAY_MS);
}

// ---- connection ----

function onOpen(): void {
  conn.send(state.hello());
}

function onStatus(status: Status): void {
  if (status.state === 'online') showStatus('online', 'Online');
  else if (status.state === 'connecting') {
    // A retry while offline (or refused) is part of being so: the words said stay (showStatus).
    const retry = ['offline', 'refused'].includes(byId('status').dataset.state ?? '');
    showStatus('connecting', 'Connecting…', retry ? null : 'Connecting…');
  } else if (status.state === 'offline') {
    showStatus(
      'offline',
      `Offline — retrying in ${Math.ceil(status.retryInMs / 1000)} s`,
      'Offline — reconnecting by itself',
    );
    outbox.disconnected();
  } else if (status.state === 'refused') {
    showStatus(
      'refused',
      `${status.reason}; retrying in ${Math.ceil(status.retryInMs / 1000)} s`,
      status.reason,
    );
    outbox.disconnected();
  } else showLogin();
}

/**
 * The connection's state: `shown` in the bar (#status, with the seconds to the next try), `said`
 * (by default the same; null: what it says stays) in its polite live region (#status-said),
 * written only when the words change. A region rewritten at every try (Connecting…, Offline —
 * retrying in 4 s, Connecting…, ... 30 s) would talk over the user every few seconds for as long
 * as the server is away.
 *
 * Assistive technology gets the state once, from #status-said: the bar is aria-hidden (index.html),
 * else a screen reader reading the page line by line says "Online" twice. The bar's countdown is
 * not given to it: a number of seconds frozen when the try was planned, with nothing to do about
 * it (the page tries again by itself), while "reconnecting by itself" says what matters.
 */
function showStatus(state: string, shown: string, said: string | null = shown): void {
  const node = byId('status');
  node.dataset.state = state;
  if (node.textContent !== shown) node.textContent = shown;
  const region = byId('status-said');
  if (said !== null && region.textContent !== said) region.textContent = said;
}

function onMessage(msg: ServerMessage): void {
  // An ack, our own message arriving (its ack may have been lost), or a history page holding it
  // (a reload, a room loaded again; also a search's context): stored, it leaves the outbox,
  // whatever state it is in there (outbox.ts `seen`).
  outbox.seen(msg, state.me);
  if (search.handles(msg)) return;
  switch (msg.type) {
    case 'welcome': {
      if (drafts.signedIn(msg.user) && composerRoom !== null) {
        // Another account's drafts (this tab was signed in as someone else): never shown to this one.
        clearComposer();
        composerRoom = null;
      }
      if (!confirmed) {
        // The drafts left are this account's: the open room's is put back by render() (switchDraft).
        confirmed = true;
        const input = byId<HTMLTextAreaElement>('composer-input');
        input.disabled = false;
        if (!byId('chat-view').hidden && document.activeElement === document.body) input.focus();
      }
      // Another account signed in meanwhile (in another tab: the cookie is shared): what this tab
      // queued was written as someone else, so it is neither sent as this one nor shown to it.
      const owner = sessionStorage.getItem(OUTBOX_USER_KEY);
      if (owner !== null && owner !== msg.user) {
        outbox.clear();
        tray.clear();
      }
      sessionStorage.setItem(OUTBOX_USER_KEY, msg.user);
      state.receive(msg);
      // Opened before a deploy: offered a reload, never made to (a draft would be lost).
      showUpdate(PAGE_BUILD, msg.build);
      // A room left while offline (in another tab) is absent: its queue is dropped, not sent, and
      // its draft goes with it to the unsent note; but a message that may be stored (went out
      // unanswered, its ack lost with the connection, or failed `internal`) is sent again to ask:
      // an ack removes it (nothing to show: the room is not here), a refusal adds it to the note.
      const rooms = msg.rooms.map((r) => r.room);
      outbox.connected(msg.limits.messageRate, rooms);
      // A search, or a hit's context, asked for offline (or its answer lost): asked again.
      search.reconnected();
      // A welcome is read from storage (refused while it is away): the uploads it refused go again;
      // so do those that got no answer (offline), in the rooms the user is still in.
      tray.serviceBack();
      tray.reconnected(rooms);
      const member = new Set(rooms);
      const held = composerRoom === null ? [] : [composerRoom];
      for (const room of new Set([...held, ...drafts.rooms()])) if (!member.has(room)) draftDropped(room);
      break;
    }
    case 'message':
      state.receive(msg);
      announce(msg.message);
      break;
    case 'error':
      if (msg.id === undefined || !outbox.failed(msg.id, msg.code, msg.message, msg.retryAfterMs))
        state.receive(msg);
      else if (msg.code === 'not_accepted') {
        // A direct message whose other user blocks this one: said where the composer says what
        // was not done, besides under the message kept unsent.
        state.composerError = msg.message;
        state.changes.add('errors');
      }
      break;
    case 'left':
      // Left, removed or deleted: its queue goes to the unsent note, but for the messages that may
      // be stored (in flight, or failed `internal`): asked about, their refusal (any) adds them.
      state.receive(msg);
      outbox.dropRoom(msg.room);
      draftDropped(msg.room);
      break;
    case 'joined':
      // In the room again: its messages being asked about are shown there again, as they were.
      state.receive(msg);
      outbox.roomBack(msg.room);
      break;
    case 'service': {
      // Several nodes on Redis: storage went away (messages wait in the outbox) or came back.
      if (msg.available) showStatus('online', 'Online');
      else showStatus('degraded', 'Connected — messages are held until the server recovers');
      if (msg.available) {
        outbox.serviceBack();
        tray.serviceBack(); // the uploads refused meanwhile (503) go again, each once
      } else outbox.serviceLost();
      state.receive(msg); // the open room is loaded again if its history was refused meanwhile
      break;
    }
    default:
      state.receive(msg);
  }
  checkReply();
  checkEdit();
  render();
}

/** How a room is named, also once the page no longer has it (left, or unknown after a reload). */
function labelOf(name: string): string {
  const room = state.rooms.get(name);
  return state.label(room ?? { name, kind: DM_ROOM.test(name) ? 'dm' : 'public' });
}

/**
 * Unsent messages of a room the user is no longer in were dropped (outbox.ts `onDropped`): said
 * once (live region) and shown with their text to copy, until dismissed; so is the draft the
 * composer held for it (`draft`, draftDropped). More from the same room (the one that was in
 * flight, refused after the leave) or from other rooms add to the same note.
 */
function unsentDropped(room: string, items: Pending[], draft?: string): void {
  unsent ??= new Map();
  const entry = unsent.get(room) ?? { count: 0, draft: false, texts: [] };
  unsent.set(room, entry);
  entry.count += items.length;
  // Files alone have no text: they are counted, there is nothing to copy.
  entry.texts.push(...items.map((p) => p.text).filter((t) => t !== ''));
  if (draft !== undefined) {
    entry.draft = true;
    entry.texts.push(draft);
  }
  // Several rooms at once (a resume after leaving some elsewhere): each said, none replacing another.
  const rooms = [...unsent];
  const notice = rooms.map(([name, e]) => droppedNotice(labelOf(name), e.count, e.draft)).join(' ');
  byId('unsent-text').textContent = notice;
  say(null, notice);
  const copy = byId('unsent-copy');
  const withText = rooms.filter(([, e]) => e.texts.length > 0);
  copy.hidden = withText.length === 0;
  copy.textContent = 'Copy the text';
  const texts = byId<HTMLTextAreaElement>('unsent-texts');
  texts.value =
    withText.length === 1
      ? withText[0][1].texts.join('\n\n')
      : withText.map(([name, e]) => `${labelOf(name)}:\n${e.texts.join('\n\n')}`).join('\n\n');
  texts.hidden = true;
  byId('unsent-note').hidden = false;
}

/** The clipboard, or where there is none (a page not served over https), the text shown selected. */
async function copyUnsent(): Promise<void> {
  const texts = byId<HTMLTextAreaElement>('unsent-texts');
  const copied = await (navigator.clipboard?.writeText(texts.value).then(
    () => true,
    () => false,
  ) ?? Promise.resolve(false));
  if (copied) {
    byId('unsent-copy').textContent = 'Copied';
    return;
  }
  texts.hidden = false;
  texts.focus();
  texts.select();
}

function dismissUnsent(): void {
  unsent = null;
  byId('unsent-note').hidden = true;
  byId('composer-input').focus();
}

/**
 * The message the open reply banner answers was deleted (live, or found deleted on a resume): the
 * reply could only be refused (`not_found`), so the banner goes, the text stays, and the user is
 * told (the composer error is a visible live region). Its room gone: the whole draft goes to the
 * unsent note (draftDropped).
 */
function checkReply(): void {
  // Its room gone: draftDropped() has taken the whole draft (or, before the welcome, the page does
  // not know its rooms yet).
  if (!replying || state.replyTarget(replying.room, replying.seq) !== 'deleted') return;
  cancelReply();
  state.composerError =
    'The message you were replying to was deleted: your text is kept, and will be sent without the reply.';
  state.changes.add('errors');
  saveDraft();
}

/**
 * The message being edited was deleted (in another tab, live or found on a resume or reset): the
 * edit could only be refused (`not_found`) and its text lost, so the edit banner goes and the text
 * stays in the composer as a new message's (the user sends it or not), and the user is told (the
 * composer error is a visible live region). Its room gone: the room's draft goes to the unsent note.
 */
function checkEdit(): void {
  if (!editing || state.editTarget(editing.room, editing.seq) !== 'deleted') return;
  const input = byId<HTMLTextAreaElement>('composer-input');
  const before = editing.before;
  cancelEdit();
  // The new message put aside for the edit comes back, first: nothing typed is lost.
  if (before && before.text !== '') input.value = `${before.text}\n${input.value}`;
  if (before?.reply && composerRoom !== null) showReply(composerRoom, before.reply.seq, before.reply.label);
  state.composerError =
    'The message you were editing was deleted: your text is kept here, and Send posts it as a new message.';
  state.changes.add('errors');
  saveDraft();
}

// ---- drafts ----

/** What the composer holds, as its room's draft. */
function composerDraft(): Draft {
  const draft: Draft = { text: byId<HTMLTextAreaElement>('composer-input').value };
  if (replying) draft.reply = { seq: replying.seq, label: replying.label };
  if (editing) draft.edit = editing.seq;
  if (editing?.before) draft.before = editing.before;
  return draft;
}

/** Saves the composer into its room's draft (on each change of its text, reply or edit). */
function saveDraft(): void {
  if (composerRoom !== null) drafts.set(composerRoom, composerDraft());
}

function clearComposer(): void {
  cancelEdit();
  cancelReply();
  const input = byId<HTMLTextAreaElement>('composer-input');
  input.value = '';
  closeMentions(input);
  showInputError(null);
}

/**
 * The open room changed: the composer's text (reply, edit) is saved as its room's draft, and the
 * draft of the room opened is put back, without a typing notice (setting the value fires no
 * `input` event) and with the mention list closed. Each room's files are its own (the tray shows
 * those of the open room).
 */
function switchDraft(): void {
  saveDraft();
  clearComposer();
  // Before the first welcome, none: the drafts may be another account's.
  composerRoom = state.active === '' || !confirmed ? null : state.active;
  lastTypingSent = 0;
  tray.show(state.active);
  const draft = composerRoom === null ? undefined : drafts.get(composerRoom);
  if (!draft || composerRoom === null) return;
  putDraft(composerRoom, draft);
  // Its reply or edit may be known refused already (deleted while the room was not shown).
  checkReply();
  checkEdit();
}

/** Shows `draft` (of `room`, the composer's) in the composer, instead of what it held. */
function putDraft(room: string, draft: Draft): void {
  clearComposer();
  byId<HTMLTextAreaElement>('composer-input').value = draft.text;
  if (draft.edit !== undefined) {
    editing = { room, seq: draft.edit, ...(draft.before ? { before: draft.before } : {}) };
    byId('edit-banner').hidden = false;
  }
  if (draft.reply) showReply(room, draft.reply.seq, draft.reply.label);
}

/**
 * `room` is gone (left, deleted, absent from the welcome): its draft never moves to another room.
 * Its text joins the unsent note (to copy); its files go (they could only be refused).
 */
function draftDropped(room: string): void {
  if (room === composerRoom) {
    saveDraft();
    clearComposer();
    composerRoom = null;
  }
  tray.dropRoom(room);
  const draft = drafts.take(room);
  const texts = [draft?.before?.text ?? '', draft?.text ?? ''].filter((t) => !isBlankText(t));
  if (texts.length > 0) unsentDropped(room, [], texts.join('\n\n'));
}

/**
 * A new message from someone else in the open room is said by screen readers: its author and
 * plain text in a polite live region (#announce, visually hidden). The list itself is redrawn on
 * each change, so it cannot be the live region. Set with textContent: never HTML.
 */
function announce(message: ChatMessage): void {
  if (message.room !== state.active || message.user === state.me) return;
  // Scrolled back, the reader has not reached them: how many, not each (room-state.ts newBelowSaid).
  if (state.scrolledBack) {
    sayNewBelow();
    return;
  }
  const files = message.attachments?.length ?? 0;
  const text = plainText(parse(message.text)).slice(0, 200);
  const extra = files === 0 ? '' : ` (${files} ${files === 1 ? 'file' : 'files'})`;
  say(message.room, `${message.user}: ${text}${extra}`);
}

/** The count of the messages below the view, said at most every NEW_BELOW_SAY_MS (the last one too). */
function sayNewBelow(): void {
  clearTimeout(belowTimer);
  const said = state.newBelowSaid();
  if (typeof said === 'string') say(state.active, said);
  else if (typeof said === 'number') belowTimer = setTimeout(sayNewBelow, said - Date.now());
}

/** Sets the live region's text, about `room` (room-state.ts `announcement`: cleared when it goes). */
function say(room: string | null, text: string): void {
  state.announce(room, text);
  writeAnnouncement(text);
}

/**
 * Writes #announce. A notice identical to the one it holds (bob sends "ok" twice, the same message
 * refused twice) is no change to a screen reader, which then says nothing: the region is emptied,
 * and the text written SAY_AGAIN_GAP_MS later, once the empty region has been rendered (several
 * frames) and seen by the accessibility tree. A timer, not a frame: frames stop in a hidden tab,
 * and the text would then come, stale, when the user is back. Another text is written at once (a
 * pending one is dropped: the newer notice replaces it). Two identical notices within the gap are
 * said once.
 */
function writeAnnouncement(text: string): void {
  const region = byId('announce');
  if (sayAgain !== null) {
    if (sayAgain.text === text) return;
    clearTimeout(sayAgain.timer);
    sayAgain = null;
  }
  if (text !== '' && region.textContent === text) {
    region.textContent = '';
    const timer = setTimeout(() => {
      sayAgain = null;
      region.textContent = text;
    }, SAY_AGAIN_GAP_MS);
    sayAgain = { text, timer };
    return;
  }
  if (region.textContent !== text) region.textContent = text;
}

// ---- composer ----

/**
 * The composer grows with its text from its two rows up to its CSS max-height (a share of the
 * viewport; a few rows on a phone), then scrolls; it shrinks back once sent. The "jump to latest"
 * button above it moves up as much (--composer-grow).
 */
function fitComposer(): void {
  const input = byId<HTMLTextAreaElement>('composer-input');
  input.style.height = '';
  const rest = input.offsetHeight;
  // border-box: the borders are part of the height that scrollHeight leaves out. Empty, the box
  // keeps its rows: the placeholder's wording is chosen to fit them (placeholder.ts), and a longer
  // one, chosen while the box was grown, would otherwise keep it tall.
  const needed = input.scrollHeight + input.offsetHeight - input.clientHeight;
  if (input.value !== '' && needed > rest) input.style.height = `${needed}px`;
  byId('conversation').style.setProperty('--composer-grow', `${input.offsetHeight - rest}px`);
}

/** Files left out of a message are all uploaded or removed: what was said of them goes. */
function checkFilesNote(): void {
  if (!filesNote || tray.failed(filesNote.room) > 0) return;
  if (state.composerError === filesNote.text) clearComposerError();
  filesNote = null;
  render();
}

function randomId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The composer edits one of the user's messages: the new message being written there (and its
 * reply) is put aside, and comes back when the edit is sent or cancelled.
 */
function startEdit(message: ChatMessage): void {
  if (message.room !== composerRoom) return;
  const input = byId<HTMLTextAreaElement>('composer-input');
  // Already editing another message, with changed text: that edit stays (editDraft), and is said.
  const next = editDraft(composerDraft(), { seq: message.seq, text: message.text }, editedOriginal());
  if (!next) {
    editKept();
    return;
  }
  if (state.composerError === EDIT_KEPT) clearComposerError();
  putDraft(composerRoom, next);
  saveDraft();
  input.focus();
  render();
}

/** The text of the message being edited, as the page has it (undefined: not editing, or not loaded). */
function editedOriginal(): string | undefined {
  return editing ? state.rooms.get(editing.room)?.messages.get(editing.seq)?.text : undefined;
}

/** Whether the composer may leave its edit (for another edit, a reply): its text is unchanged. */
function mayLeaveEdit(): boolean {
  return editUnchanged(composerDraft(), editedOriginal());
}

/** The user tried to leave an edit with changed text: it stays, and they are told what to do. */
function editKept(): void {
  state.composerError = EDIT_KEPT;
  state.changes.add('errors');
  render();
  byId('composer-input').focus();
}

function clearComposerError(): void {
  state.composerError = '';
  state.changes.add('errors');
}

/**
 * Who `@` can name in the open room: those online, the members (private rooms), the authors seen,
 * the other side of a DM.
 */
function memberNames(): Set<string> {
  const room = state.rooms.get(state.active);
  const names = new Set<string>([...(room?.online ?? []), ...(room?.members ?? [])]);
  for (const m of room?.messages.values() ?? []) names.add(m.user);
  return names;
}

/** ↑ in an empty composer: edit the last message of mine in this room. */
function editLast(): boolean {
  const room = state.rooms.get(state.active);
  if (!room) return false;
  const mine = [...room.messages.values()].filter((m) => m.user === state.me && !m.deleted);
  const last = mine.sort((a, b) => b.seq - a.seq)[0];
  if (!last) return false;
  startEdit(last);
  return true;
}

function startReply(message: ChatMessage): void {
  // Reply while editing: an unchanged edit ends, and the message put aside for it answers this one;
  // a changed one stays (said).
  if (editing) {
    if (!mayLeaveEdit()) {
      editKept();
      return;
    }
    if (state.composerError === EDIT_KEPT) clearComposerError();
    endEdit();
  }
  showReply(message.room, message.seq, `${message.user}: ${excerpt(message.text).slice(0, 80)}`);
  saveDraft();
  byId('composer-input').focus();
}

function showReply(room: string, seq: number, label: string): void {
  replying = { room, seq, label };
  byId('reply-banner').hidden = false;
  byId('reply-to').textContent = label;
}

/**
 * "Edit" on a message refused for good: its text goes back into the composer (before a new message
 * typed there, so nothing typed is lost; instead of the text of a message being edited), with its reply target if that is still shown and not deleted,
 * and its files back in the tray unless they were what the server refused; the failed one goes.
 */
function editFailed(id: string): void {
  // An edit with changed text in the composer stays: the refused message waits (said).
  if (editing && !mayLeaveEdit()) {
    editKept();
    return;
  }
  const item = outbox.discard(id);
  if (!item) return;
  const input = byId<HTMLTextAreaElement>('composer-input');
  // Text being edited is a stored message's, not a new one: it must not go out with this one (the
  // new one put aside for the edit does).
  const typed = editing ? (editing.before?.text ?? '') : input.value;
  cancelEdit();
  input.value = typed === '' ? item.text : `${item.text}\n${typed}`;
  const target =
    item.replyTo === undefined ? undefined : state.rooms.get(item.room)?.messages.get(item.replyTo);
  if (target && !target.deleted && item.room === state.active) startReply(target);
  else cancelReply();
  const filesRefused =
    item.failed?.code === 'not_found' && missingPart(item, item.failed.message) === 'files';
  if (item.attachments?.length && !filesRefused) tray.restore(item.room, item.attachments);
  state.composerError = '';
  state.changes.add('errors');
  // Refused for its text (too long for the server, not taken as it is): the reason, shown with
  // the message until now, goes with its text into the box, until that text is changed.
  const failure = item.failed;
  if (failure && (failure.code === 'text_too_long' || failure.code === 'bad_message')) {
    const refused = item.text;
    showInputError({
      text: `Not sent: ${refusalReason(item, failure.code, failure.message)}`,
      fixed: (now) => !now.includes(refused),
    });
  }
  saveDraft();
  input.focus();
  input.setSelectionRange(item.text.length, item.text.length);
  render();
}

function cancelReply(): void {
  replying = null;
  byId('reply-banner').hidden = true;
}

function cancelEdit(): void {
  editing = null;
  byId('edit-banner').hidden = true;
}

/** The edit is sent or cancelled: the composer gets back the new message put aside for it. */
function endEdit(): void {
  const before = editing?.before;
  cancelEdit();
  byId<HTMLTextAreaElement>('composer-input').value = before?.text ?? '';
  // What was wrong with the edit's text goes with it.
  showInputError(null);
  if (before?.reply && composerRoom !== null) showReply(composerRoom, before.reply.seq, before.reply.label);
  // Its reply may have been deleted during the edit.
  checkReply();
}

function maxTextBytes(): number {
  return state.limits?.maxTextBytes ?? 4096;
}

/** What the composer says of a text above the server's limit. */
function tooLong(): string {
  return `Message is too long (${maxTextBytes()} bytes at most).`;
}

function fits(text: string): boolean {
  return new TextEncoder().encode(text).length <= maxTextBytes();
}

/**
 * Shows (`null`: takes away) what is wrong with the message box's text, tied to the box: marked
 * invalid and described by it, so a screen reader on the box says why, not only the alert said
 * once when it was written. Written only when its words change (an alert rewritten says it again).
 */
function showInputError(error: typeof inputError): void {
  inputError = error;
  const text = error?.text ?? '';
  const element = byId('composer-input-error');
  if (element.textContent !== text) element.textContent = text;
  tieError(byId('composer-input'), error ? 'composer-input-error' : null);
}

/** The box's text changed: what was wrong with it goes once it is right (checked as it is typed). */
function checkInputError(): void {
  if (inputError?.fixed(byId<HTMLTextAreaElement>('composer-input').value)) showInputError(null);
}

function filesCount(n: number): string {
  return `${n} ${n === 1 ? 'file' : 'files'}`;
}

/** Says `text` of the open room's failed files, until none is left failed (checkFilesNote). */
function noteFiles(text: string): void {
  state.composerError = text;
  filesNote = { room: state.active, text };
}

function submitComposer(): void {
  const input = byId<HTMLTextAreaElement>('composer-input');
  const text = input.value;
  state.composerError = '';
  // Emptied now, not at the next render: the same error for this try (still too long) is then new
  // text, said again (render.ts and showInputError write an alert only when its words change).
  byId('composer-error').textContent = '';
  // A refused text taken back (editFailed) is said again if sent unchanged: the server's answer is
  // its refusal, shown with the message.
  showInputError(null);
  state.changes.add('errors');
  if (!editing && tray.busy(state.active)) {
    state.composerError = 'Wait for the uploads to finish.';
    render();
    return;
  }
  // The server's rule (shared/blank-text.ts): only spaces or invisible characters is no text.
  const blank = isBlankText(text);
  if (!state.rooms.has(state.active) || composerRoom !== state.active) {
    render();
    return;
  }
  if (!fits(text)) {
    showInputError({ text: tooLong(), fixed: fits });
    render();
    return;
  }
  // Files that failed to upload stay in the tray, marked, to retry or remove: the message goes
  // with the ones that did upload, and the user is told it went without the others.
  const files = editing ? [] : tray.take(state.active);
  const failed = editing ? 0 : tray.failed(state.active);
  const them = failed === 1 ? 'it' : 'them';
  filesNote = null;
  if (blank && files.length === 0) {
    if (failed > 0) noteFiles(`${filesCount(failed)} could not be uploaded: retry or remove ${them} above.`);
    render();
    return;
  }
  if (failed > 0)
    noteFiles(
      `Sent without ${filesCount(failed)} that could not be uploaded: retry or remove ${them} above.`,
    );
  if (editing) {
    // Enter on an edit that changes nothing ends it, as Esc does: sent, it would mark the message
    // "(edited)" for everyone and take a seq of the room for nothing.
    if (text !== editedOriginal()) {
      if (!conn.open) {
        // Gone once back online: the edit banner and the text in the box still say it waits.
        state.offlineNotice(OFFLINE_EDIT);
        render();
        return;
      }
      state.edit(editing.room, editing.seq, text);
    }
    endEdit();
    saveDraft();
    render();
    return;
  }
  const replyTo = replying?.room === state.active ? replying.seq : undefined;
  // One's own message goes to the end, wherever the reader is, in the next frame: the draw that
  // outbox.add causes does it (conversation.ts), with no layout read in this call.
  state.stick = true;
  followOwnMessage();
  outbox.add({
    id: randomId(),
    room: state.active,
    // Files with blank text are files alone, which the server takes only with empty text.
    text: blank ? '' : text,
    ...(replyTo === undefined ? {} : { replyTo }),
    ...(files.length ? { attachments: files } : {}),
  });
  cancelReply();
  // The others stop showing "typing" when this message arrives: the next one's first key says so again.
  lastTypingSent = 0;
  input.value = '';
  saveDraft();
  render();
}

/**
 * The sidebar field whose value the room answer refuses (a room name, a user name), and those
 * words: the field stays tied to the error (dom.ts tieError) while that refusal is the answer
 * shown, untied once another answer replaces it or the field is sent again.
 */
let fieldError: { field: HTMLInputElement; text: string } | null = null;

function refuseField(field: HTMLInputElement, text: string): void {
  if (fieldError && fieldError.field !== field) tieError(fieldError.field, null);
  fieldError = { field, text };
  state.roomError = text;
  state.changes.add('errors');
  render();
}

function acceptField(field: HTMLInputElement): void {
  if (fieldError?.field !== field) return;
  tieError(field, null);
  fieldError = null;
}

/** Ties the refused field to the element its error was written into (panels.ts answerPlace). */
function renderFieldError(): void {
  if (!fieldError) return;
  const place = ['room-error', 'online-error', 'room-note'].find(
    (id) => byId(id).textContent === fieldError?.text,
  );
  if (state.roomError !== fieldError.text || place === undefined) acceptField(fieldError.field);
  else tieError(fieldError.field, place);
}

function joinFromForm(): void {
  const field = byId<HTMLInputElement>('room-input');
  const privateBox = byId<HTMLInputElement>('room-private');
  const isPrivate = privateBox.checked;
  const room = field.value.trim().toLowerCase();
  if (!ROOM_NAME.test(room)) {
    refuseField(field, 'Room names: 1-32 of a-z, 0-9, - and _, starting with a letter or digit.');
    return;
  }
  // Offline, a room not joined could not be asked for: the name stays in the field to try again.
  if (!state.rooms.has(room) && !conn.open) {
    sayOffline(`you did not join ${room}`);
    return;
  }
  acceptField(field);
  field.value = '';
  // "Private" is for the room asked for now: left checked, the next name typed to join a public
  // room would ask for a new private room instead (refused as taken).
  privateBox.checked = false;
  state.joinOrCreate(room, isPrivate);
  render();
}

// ---- signing in ----

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

/** The sign-in form's refusal taken away, its fields untied from it. */
function clearLoginError(): void {
  byId('login-error').textContent = '';
  tieError(byId('login-name'), null);
  tieError(byId('login-password'), null);
}

async function signIn(path: '/api/login' | '/api/register'): Promise<void> {
  const name = byId<HTMLInputElement>('login-name').value.trim();
  const password = byId<HTMLInputElement>('login-password').value;
  const error = byId('login-error');
  const nameField = byId('login-name');
  const passwordField = byId('login-password');
  // Emptied first: the same error again (a second wrong password) is then new text, shown and
  // said again, not a rewrite of the words already there that says nothing happened.
  clearLoginError();
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password }),
  }).catch(() => null);
  if (!res) {
    error.textContent = 'Cannot reach the server.';
    return;
  }
  const body = (await res.json().catch(() => ({}))) as {
    message?: string;
    retryAfterMs?: number;
    similar?: boolean;
  };
  if (res.ok) {
    location.reload(); // a fresh page with the new session cookie
    return;
  }
  // The fields the refusal is about are tied to it (dom.ts tieError): back on one of them to
  // correct it, a screen reader says why it was refused.
  if (res.status === 401) {
    error.textContent = 'Wrong name or password.';
    tieError(nameField, 'login-error');
    tieError(passwordField, 'login-error');
  } else if (res.status === 409) {
    // A look-alike of an existing name (`aIice` beside `alice`) is refused as taken, with
    // `similar`: signing in with it would not work, so only another name is offered.
    error.textContent = body.similar
      ? 'That name is too similar to an existing name — choose another.'
      : 'That name is taken — choose another, or sign in.';
    tieError(nameField, 'login-error');
  } else if (res.status === 429)
    error.textContent = `Too many attempts — try again in ${Math.ceil((body.retryAfterMs ?? 1000) / 1000)} s.`;
  else error.textContent = body.message ?? 'Sign-in failed.';
}

async function start(): Promise<void> {
  state.visible = !document.hidden;
  setUpTheme(byId<HTMLButtonElement>('theme-toggle'));
  setUpAccount(byId('logout'));
  setUpPanels();
  setUpTopic(state, (room, text) => online('the topic was not changed', () => state.setTopic(room, text)));
  setUpPicker();
  setUpNotifications(byId<HTMLButtonElement>('notify-toggle'), byId('notify-note'));
  byId('unsent-copy').addEventListener('click', () => void copyUnsent());
  byId('unsent-dismiss').addEventListener('click', dismissUnsent);
  byId('reply-cancel').addEventListener('click', () => {
    cancelReply();
    saveDraft();
    byId('composer-input').focus();
  });
  setUpKeyboard({
    roomOrder: () => roomOrder(state),
    active: () => state.active,
    open: (room) => actions.open(room),
    focusComposer: () => byId('composer-input').focus(),
  });
  byId('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void signIn('/api/login');
  });
  // The browser refused the form itself (its bubble: "Please match the requested format."): the
  // server's refusal of the name tried before ("That name is too similar...") no longer holds,
  // and beside the bubble it read as the reason for this one.
  for (const id of ['login-name', 'login-password']) byId(id).addEventListener('invalid', clearLoginError);
  byId('sign-up').addEventListener('click', () => {
    const form = byId<HTMLFormElement>('login-form');
    if (form.reportValidity()) void signIn('/api/register');
  });
  byId('logout').addEventListener('click', async () => {
    const res = await fetch('/api/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    }).catch(() => null);
    // Not ended by the server, the session goes on (its cookie is the server's to clear: a reload
    // would sign back in), and so do the queue and the drafts: said, not dropped. A sign-out refused
    // by the address's limit (429) cleared the cookie all the same: signed out here, as at a 200.
    if (!res?.ok && res?.status !== 429) {
      const refused = res && ((await res.json().catch(() => null)) as { message?: string } | null)?.message;
      if (res) {
        state.composerError = `You are still signed in: the server refused (${refused ?? res.status}). Try Sign out again.`;
        state.changes.add('errors');
      } else
        state.offlineNotice(
          'Offline — you are still signed in: sign out again once the chat is back online.',
        );
      render();
      return;
    }
    outbox.clear();
    tray.clear();
    sessionStorage.removeItem(OUTBOX_USER_KEY);
    drafts.clear();
    conn.stop();
  });
  byId('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    submitComposer();
  });
  const input = byId<HTMLTextAreaElement>('composer-input');
  // The hint as long as the box shows it whole (a phone's box is too small for all of it).
  fitPlaceholder(input, [input.placeholder, 'Message (Enter to send)', 'Message']);
  input.addEventListener('keydown', (event) => {
    if (mentionKey(event, input)) return;
    if (event.key === 'Escape' && replying) {
      cancelReply();
      saveDraft();
      return;
    }
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitComposer();
    } else if (event.key === 'Escape' && editing) {
      endEdit();
      saveDraft();
      fitComposer();
      // What was said about the edit (kept; its text too long: endEdit) goes with it.
      if (state.composerError === EDIT_KEPT) {
        clearComposerError();
        render();
      }
    } else if (
      // Alt+↑ is "previous room" (keyboard.ts), not "edit your last message".
      event.key === 'ArrowUp' &&
      !event.altKey &&
      !event.ctrlKey &&
      !event.metaKey &&
      input.value === '' &&
      !editing &&
      editLast()
    ) {
      event.preventDefault();
    }
  });
  input.addEventListener('input', () => {
    fitComposer();
    saveDraft();
    checkInputError();
    updateMentions(input, () => memberNames(), state.me);
    const now = Date.now();
    if (
      input.value !== '' &&
      !editing &&
      now - lastTypingSent > TYPING_SEND_MS &&
      state.rooms.has(state.active)
    ) {
      lastTypingSent = now;
      state.typing(state.active);
    }
  });
  byId('room-form').addEventListener('submit', (event) => {
    event.preventDefault();
    joinFromForm();
  });
  byId('invite-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const field = byId<HTMLInputElement>('invite-input');
    const user = field.value.trim();
    if (user === '') {
      field.value = '';
      return;
    }
    // Offline, the request would be dropped unsent: the name stays in the field, and it is said.
    online(`${user} was not invited`, () => {
      state.invite(state.active, user);
      field.value = '';
    });
  });
  // "Ban someone" in the Banned list: removed, and so banned (answered `removed`, the list follows).
  setUpBanForm(
    (user) => {
      let sent = false;
      online(`${user} was not banned`, () => {
        state.removeMember(state.active, user);
        sent = true;
      });
      return sent;
    },
    () => state.banNames(state.active),
  );
  byId('leave-room').addEventListener('click', () =>
    online(
      state.rooms.get(state.active)?.kind === 'dm'
        ? 'the conversation was not closed'
        : 'you did not leave the room',
      () => {
        clearTimeout(readTimer);
        state.leave(state.active);
      },
    ),
  );
  const askDelete = (asking: boolean) => {
    byId('delete-room').hidden = asking;
    byId('delete-room-confirm').hidden = !asking;
    byId(asking ? 'delete-room-no' : 'delete-room').focus();
  };
  byId('delete-room').addEventListener('click', () => askDelete(true));
  byId('delete-room-no').addEventListener('click', () => askDelete(false));
  // Esc answers "no", as it closes every other question and edit on the page; the focus goes back
  // to the Delete room button that asked it.
  byId('delete-room-confirm').addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    event.preventDefault();
    askDelete(false);
  });
  byId('delete-room-yes').addEventListener('click', () => {
    // Offline, the request could only be dropped unsent: the question is answered "no", and said.
    if (!conn.open) {
      askDelete(false);
      sayOffline('the room was not deleted');
      return;
    }
    clearTimeout(readTimer);
    // Delete room is back until the room goes (the page then shows another room): refused, it is
    // there to try again. The focused Delete was just hidden with its question: the focus goes to
    // the composer, not to the body.
    byId('delete-room-confirm').hidden = true;
    byId('delete-room').hidden = false;
    byId('composer-input').focus();
    state.deleteRoom(state.active);
  });
  byId('dm-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const field = byId<HTMLInputElement>('dm-input');
    const user = field.value.trim();
    if (user === '') return;
    if (!USER_NAME.test(user)) {
      refuseField(field, 'User names: 1-24 of A-Z, a-z, 0-9, - and _.');
      return;
    }
    // Offline: the name stays in the field to try again (actions.dm says why).
    if (!conn.open) {
      actions.dm(user);
      return;
    }
    acceptField(field);
    field.value = '';
    actions.dm(user);
  });
  byId('load-older').addEventListener('click', () => state.loadOlder());
  byId('messages').addEventListener('scroll', () => {
    if (byId('messages').scrollTop < 40) state.loadOlder();
    onConversationScroll(state);
  });
  // The reader going up, told before the scroll it makes: a scroll to the end waiting for its frame
  // (a message came in the same frame) does not take them back down (conversation.ts).
  byId('messages').addEventListener(
    'wheel',
    (event) => {
      if (event.deltaY < 0) readerMovesUp();
    },
    { passive: true },
  );
  byId('messages').addEventListener('keydown', (event) => {
    if (UP_KEYS.has(event.key)) readerMovesUp();
  });
  byId('jump-latest').addEventListener('click', () => {
    jumpToLatest(state);
    input.focus();
  });
  byId('all-rooms').addEventListener('toggle', () => {
    if ((byId('all-rooms') as HTMLDetailsElement).open) state.listRooms();
  });
  document.addEventListener('visibilitychange', () => {
    state.visible = !document.hidden;
    if (state.visible) scheduleRead();
  });
  window.addEventListener('online', () => conn.retryNow());
  // A name put in from the mention list changes the text without an `input` event.
  window.addEventListener('pagehide', saveDraft);

  // No draft before the welcome says who is signed in (`confirmed`): render() puts it back then.
  // Only a "nobody" answer shows the sign-in. Any other (429: the address's requests are used up,
  // perhaps by someone else behind it; 503; no answer: the server is restarting) is no answer about
  // the cookie: the chat view connects, and the connection asks what an upgrade would get (401
  // shows the sign-in, 429 and an outage are said and tried again: connection.ts).
  const res = await fetch('/api/session', { cache: 'no-store' }).catch(() => null);
  const session = res?.ok ? ((await res.json().catch(() => null)) as { signedIn?: boolean } | null) : null;
  if (session?.signedIn === false) showLogin();
  else showChat();
}

void start();
