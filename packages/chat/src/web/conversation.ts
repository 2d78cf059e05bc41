/**
 * Drawing the open room's conversation: the timeline (timeline.ts) as list items, messages with
 * avatar and name at the start of a group, formatted text (format.ts), the tools of a message
 * (shown on hover or focus), the unsent messages of the outbox, and the scroll position: follow new
 * messages when at the end, else offer "jump to latest" and keep the message at the top in place.
 *
 * The list is drawn from the state on each change, but only what changed is drawn anew: each row
 * is kept, by its message (or day, notice, unsent message), while it would look the same, so a
 * change costs what changed, not the length of the conversation (a search's jump ten pages back
 * loads ~3,300 messages). The keyboard focus and an open "delete?" question survive the redraw.
 */
import type { ChatMessage, Reactions, ReplyQuote } from '../shared/protocol.js';
import { renderAttachments } from './attachments.js';
import { avatar } from './avatar.js';
import { byId, el } from './dom.js';
import { type DomElement, parse, plainText, renderFormatted } from './format.js';
import { outOfTabOrder } from './keyboard.js';
import type { Outbox, Pending } from './outbox.js';
import { whoReacted } from './reactions.js';
import { canSendAgain, refusalReason } from './refusal.js';
import { type ChatState, newMessagesLabel, type Room } from './room-state.js';
import { buildTimeline, fullTime, shortTime } from './timeline.js';

export interface MessageActions {
  edit(message: ChatMessage): void;
  remove(message: ChatMessage): void;
  dm(user: string): void;
  /** Sets or removes the user's reaction. */
  react(message: ChatMessage, emoji: string, on: boolean): void;
  /** Opens the reaction picker for the message, next to `anchor`. */
  pickReaction(message: ChatMessage, anchor: HTMLElement): void;
  reply(message: ChatMessage): void;
  /** Shows the message `seq` of the open room (a quote was clicked). */
  reveal(seq: number): void;
  /** Shows one collapsed message of a blocked user (room-state.ts `hides`). */
  showBlocked(message: ChatMessage): void;
  /**
   * An unsent message refused for good (outbox.ts `failed`): send it again (refusal.ts). Returns
   * the outbox id it goes out under (a new one after `id_reused`).
   */
  resendPending(id: string): string;
  /** ... take its text back into the composer to change it (the failed one goes) ... */
  editPending(id: string): void;
  /** ... or drop it. */
  discardPending(id: string): void;
}

/** What the conversation remembers between redraws. */
const ui = {
  /** The message whose Delete asks "delete?" now. */
  confirming: null as { room: string; seq: number } | null,
  /** The room whose messages the list shows: a seq names a message of one room only. */
  shown: null as string | null,
  /**
   * The unsent message that had the focus when it left the outbox (its id and room): stored, it is
   * drawn as a message of the room, maybe a redraw later (its ack and its `message` event each
   * take it out of the outbox, the list meanwhile shows neither); the focus goes to it then, if
   * nothing else took it meanwhile (restoreFocus).
   */
  following: null as { room: string; id: string } | null,
  /** One's own message is going out (followOwnMessage): the next draw takes the reader to the end. */
  own: false,
};

const NEAR_END_PX = 80;

function isNearEnd(box: HTMLElement): boolean {
  return box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_END_PX;
}

function toolButton(label: string, className: string, title: string, onClick: () => void): HTMLButtonElement {
  const button = el('button', `tool ${className}`, label);
  button.type = 'button';
  button.tabIndex = -1;
  button.setAttribute('aria-label', title);
  button.title = title;
  button.addEventListener('click', onClick);
  return button;
}

/** The most characters of a message's words that name it (messageName). */
export const EXCERPT_CHARS = 40;

/**
 * `text` on one line, cut to at most `max` characters (an ellipsis included) between two
 * graphemes, never inside an emoji, a flag or a surrogate pair; between words if it can.
 */
export function excerpt(text: string, max = EXCERPT_CHARS): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line.length <= max) return line;
  let cut = '';
  for (const { segment } of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(line)) {
    if (cut.length + segment.length > max - 1) break;
    cut += segment;
  }
  // At the end of a word if one ends in the second half (a space is a grapheme of its own).
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/**
 * A message as its tools name it: whose it is, then the start of its words ("bob's message: lunch
 * at noon?"), or, with files and no words, that it has only those ("your message, 2 files only:
 * a.png, b.pdf").
 */
export function messageName(message: ChatMessage, me: string): string {
  const whose = message.user === me ? 'your message' : `${message.user}'s message`;
  const words = plainText(parse(message.text));
  if (words.trim() !== '') return `${whose}: ${excerpt(words)}`;
  const files = message.attachments ?? [];
  if (files.length === 0) return whose;
  const count = files.length === 1 ? 'a file' : `${files.length} files`;
  return `${whose}, ${count} only: ${excerpt(files.map((f) => f.name).join(', '))}`;
}

/**
 * The message's tool bar: React and Reply on every message; Edit and Delete on one's own; Delete
 * alone on another's where the user may delete it (`deletes`: a server admin in a public room,
 * ChatState.mayDeleteOthers).
 */
function tools(
  message: ChatMessage,
  me: string,
  actions: MessageActions,
  redraw: () => void,
  deletes: boolean,
): HTMLElement | null {
  if (message.deleted) return null;
  const bar = el('div', 'actions');
  bar.setAttribute('role', 'toolbar');
  bar.setAttribute('aria-label', 'Message actions');
  const confirming = ui.confirming?.room === message.room && ui.confirming.seq === message.seq;
  if (confirming) {
    bar.classList.add('confirming');
    bar.append(
      el('span', 'question', 'Delete this message?'),
      toolButton('Delete', 'confirm-delete danger', 'Yes, delete it', () => {
        ui.confirming = null;
        // The question goes at once, answered: a delete refused (offline) redraws nothing else, and
        // it stayed up until some other change. The focus goes to the message, as after Cancel (its
        // button gone, restoreFocus falls back to the item), which is also where it stays once the
        // deletion comes back and the message reads "message deleted".
        redraw();
        actions.remove(message);
      }),
      // A name holds the words shown (speech control says what it sees).
      toolButton('Cancel', 'cancel-delete', 'Cancel, keep the message', () => {
        ui.confirming = null;
        redraw();
      }),
    );
    return bar;
  }
  // Named by whose message it is and what it says: "Reply to message 12" told a screen reader
  // nothing. The row is drawn anew when its message changes (renderMessages), and its names with it.
  const name = messageName(message, me);
  const react = toolButton('☺+', 'react', `React to ${name}`, () => actions.pickReaction(message, react));
  bar.append(
    react,
    toolButton('Reply', 'reply', `Reply to ${name}`, () => actions.reply(message)),
  );
  if (message.user !== me && !deletes) return bar;
  if (message.user === me)
    bar.append(toolButton('Edit', 'edit', `Edit ${name}`, () => actions.edit(message)));
  bar.append(
    toolButton('Delete', 'delete', `Delete ${name}`, () => {
      ui.confirming = { room: message.room, seq: message.seq };
      redraw();
      // The question is where the focus goes: Enter then Cancel, or Tab to Delete.
      document
        .querySelector<HTMLElement>(`#message-list li[data-seq="${message.seq}"] .cancel-delete`)
        ?.focus();
    }),
  );
  return bar;
}

function messageItem(
  message: ChatMessage,
  first: boolean,
  state: ChatState,
  actions: MessageActions,
  redraw: () => void,
): HTMLLIElement {
  const me = state.me;
  const li = el('li', 'message');
  li.dataset.seq = String(message.seq);
  li.dataset.user = message.user;
  // Our own message's outbox id: the focus on it while unsent follows it once stored (restoreFocus).
  if (message.user === me) li.dataset.id = message.id;
  li.tabIndex = -1;
  if (first) li.classList.add('first');
  if (message.user === me) li.classList.add('mine');
  if (message.deleted) li.classList.add('deleted');
  const time = el('time', first ? 'time' : 'time gutter', shortTime(message.ts));
  time.dateTime = new Date(message.ts).toISOString();
  time.title = fullTime(message.ts);
  if (first) li.append(avatar(message.user));
  else li.append(time);
  const body = el('div', 'body');
  if (first) {
    const meta = el('div', 'meta');
    if (message.user === me) meta.append(el('span', 'user', message.user));
    else {
      const name = el('button', 'user', message.user);
      name.type = 'button';
      name.title = `Message ${message.user} directly`;
      name.addEventListener('click', () => actions.dm(message.user));
      meta.append(name);
    }
    meta.append(time);
    body.append(meta);
  }
  if (message.reply && !message.deleted) body.append(replyQuote(message.reply, actions));
  const text = el('div', 'text');
  text.dir = 'auto';
  if (message.deleted) text.textContent = 'message deleted';
  else {
    renderFormatted(document, text as unknown as DomElement, message.text, {
      mentions: new Set((message.mentions ?? []).map((n) => n.toLowerCase())),
      me: me.toLowerCase(),
    });
    if (message.editedAt) {
      const edited = el('span', 'edited', '(edited)');
      edited.title = `Edited ${fullTime(message.editedAt)}`;
      const last = text.lastElementChild;
      (last?.tagName === 'P' ? last : text).append(' ', edited);
    }
  }
  body.append(text);
  if (message.attachments?.length && !message.deleted) body.append(renderAttachments(message.attachments));
  if (message.reactions && !message.deleted)
    body.append(reactionRow(message, message.reactions, me, actions));
  if (!message.deleted && (message.mentions ?? []).some((n) => n.toLowerCase() === me.toLowerCase()))
    li.classList.add('mentions-me');
  li.append(body);
  const bar = tools(message, me, actions, redraw, state.mayDeleteOthers(message.room));
  if (bar) {
    body.prepend(toolsRoom(bar));
    li.append(bar);
  }
  // Its name, links and files too, until keyboard.ts makes it the current message.
  outOfTabOrder(li);
  return li;
}

/**
 * A blocked user's message, collapsed: no name, text, files or reactions of it, only words saying
 * what it is (text, never HTML) and Show, which draws it in full (this one alone).
 */
function blockedItem(message: ChatMessage, actions: MessageActions): HTMLLIElement {
  const li = el('li', 'message blocked-message');
  li.dataset.seq = String(message.seq);
  li.tabIndex = -1;
  const body = el('div', 'body');
  const text = el('div', 'text', 'Message from a blocked user — ');
  const show = el('button', 'link show-blocked', 'Show');
  show.type = 'button';
  show.setAttribute('aria-label', 'Show the message from a blocked user');
  show.addEventListener('click', () => actions.showBlocked(message));
  text.append(show);
  body.append(text);
  li.append(body);
  outOfTabOrder(li);
  return li;
}

/**
 * The room kept for a message's tools at the top of its body: an empty float as wide and tall as
 * the bar (the same words in the same boxes, drawn by CSS from data-label, so they are neither
 * read nor copied), which the name line, a quote, the text or the files flow beside: shown on
 * hover or focus, the bar never covers them, and nothing moves when it appears. A short first
 * line is untouched; a long one wraps before the bar.
 */
function toolsRoom(bar: HTMLElement): HTMLElement {
  // A bar holds one of a few sets of words: each set's room is made once, then copied.
  const labels = [...bar.children].map((part) => [
    part.classList.contains('question'),
    part.textContent ?? '',
  ]);
  const key = JSON.stringify(labels);
  let room = rooms.get(key);
  if (!room) {
    room = el('span', 'tools-room');
    room.setAttribute('aria-hidden', 'true');
    for (const [question, label] of labels) {
      // Classes of their own: a selector for the bar's parts (.tool, .question) never finds these.
      const copy = el('span', question ? 'room-question' : 'room-tool');
      copy.dataset.label = label as string;
      room.append(copy);
    }
    rooms.set(key, room);
  }
  return room.cloneNode(true) as HTMLElement;
}

/** The tools' rooms made, by the bar's words (toolsRoom). */
const rooms = new Map<string, HTMLElement>();

/** The quote above a reply: who and what (or that it was deleted); a click shows the original. */
function replyQuote(quote: ReplyQuote, actions: MessageActions): HTMLElement {
  const button = el('button', quote.deleted ? 'reply-quote deleted' : 'reply-quote');
  button.type = 'button';
  button.tabIndex = -1;
  button.dataset.target = String(quote.seq);
  button.append(el('span', 'reply-user', `↪ ${quote.user}`));
  const text = el(
    'span',
    'reply-text',
    quote.deleted ? 'Original message deleted' : plainText(parse(quote.text)),
  );
  text.dir = 'auto';
  button.append(text);
  button.title = quote.deleted ? 'The message this replied to was deleted' : 'Show the original message';
  button.addEventListener('click', () => actions.reveal(quote.seq));
  return button;
}

/** The reactions under a message: emoji and count; who on hover; a click adds or removes one's own. */
function reactionRow(
  message: ChatMessage,
  reactions: Reactions,
  me: string,
  actions: MessageActions,
): HTMLElement {
  const row = el('div', 'reactions');
  for (const [emoji, users] of Object.entries(reactions)) {
    const mine = users.includes(me);
    const chip = el('button', mine ? 'reaction mine' : 'reaction');
    chip.type = 'button';
    chip.tabIndex = -1;
    chip.dataset.emoji = emoji;
    chip.setAttribute('aria-pressed', String(mine));
    // The name is what the chip shows (emoji and count), as a speech user would say it; who
    // reacted is its description (the title), read after the name.
    chip.title = whoReacted(users, me, emoji);
    chip.append(el('span', 'emoji', emoji), el('span', 'count', String(users.length)));
    chip.addEventListener('click', () => actions.react(message, emoji, !mine));
    row.append(chip);
  }
  return row;
}

/**
 * Where the focus was, to put it back after the redraw: the message and which of its buttons; for
 * an unsent message, also its outbox id (`pending`).
 */
type Spot = { item: string; selector: string | null; pending?: string };

/**
 * The focused message (by its seq; an unsent one, which has none, by its outbox id) and which of
 * its buttons has the focus.
 */
function focusedSpot(list: HTMLElement): Spot | null {
  const active = document.activeElement as HTMLElement | null;
  if (!active || !list.contains(active)) return null;
  const li = active.closest<HTMLElement>('li.message');
  const { seq, pending } = li?.dataset ?? {};
  const item =
    seq !== undefined
      ? `li.message[data-seq="${seq}"]`
      : pending !== undefined
        ? `li.message[data-pending="${CSS.escape(pending)}"]`
        : null;
  if (!li || item === null) return null;
  const at = seq === undefined ? { item, pending } : { item };
  if (active === li) return { ...at, selector: null };
  if (active.dataset.emoji) return { ...at, selector: `[data-emoji="${CSS.escape(active.dataset.emoji)}"]` };
  // All its classes: a class alone may be shared (.failed-action is on each of an unsent one's).
  const classes = [...active.classList].map((c) => `.${CSS.escape(c)}`).join('');
  return { ...at, selector: classes || null };
}

/**
 * The index of the first row whose bottom is below `top` (rows.length if none): the rows lie one
 * below the other, so it is found by halving (a look at each of 3,300 rows' boxes cost more than
 * drawing the one that changed).
 */
function firstBelow(rows: ArrayLike<HTMLElement>, top: number): number {
  let low = 0;
  let high = rows.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (rows[mid].getBoundingClientRect().bottom > top) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * The first message seen at the top of the conversation (firstBelow), and how far below the top
 * it starts.
 */
function topMessage(box: HTMLElement, list: HTMLElement): { seq: string; offset: number } | null {
  const top = box.getBoundingClientRect().top;
  const rows = list.querySelectorAll<HTMLElement>('li.message[data-seq]');
  const li = rows[firstBelow(rows, top)];
  return li ? { seq: li.dataset.seq as string, offset: li.getBoundingClientRect().top - top } : null;
}

/**
 * Puts that message back where it was: an edit, a reaction or a deletion above it changes the
 * height of what comes before (and its row is a new node), so the words being read would move.
 */
function keepInPlace(
  box: HTMLElement,
  list: HTMLElement,
  anchor: { seq: string; offset: number } | null,
): void {
  if (!anchor) return;
  const li = list.querySelector<HTMLElement>(`li.message[data-seq="${anchor.seq}"]`);
  if (!li) return;
  box.scrollTop += li.getBoundingClientRect().top - box.getBoundingClientRect().top - anchor.offset;
}

export type ScrollMode = 'update' | 'older';

/**
 * A row of the list as drawn: its node, and what it was drawn from: `sig`, and for a message the
 * message object itself (`of`), which room-state.ts replaces, never changes, when the message
 * changes (an edit, a reaction, a deletion, its quote's original changed).
 */
interface Row {
  node: HTMLLIElement;
  sig: string;
  of: object | null;
}

/**
 * The rows drawn last, by key (a message's seq, an unsent one's outbox id, a day, a notice...),
 * and what they were drawn for: a row whose key, `sig` and `of` come again is kept as it is (the
 * same node: its focus, its loaded images, a selection in it stay), the others are drawn anew.
 * Another list, room, state or set of actions starts afresh.
 */
const drawn = {
  list: null as HTMLElement | null,
  room: null as string | null,
  state: null as ChatState | null,
  actions: null as MessageActions | null,
  outbox: null as Outbox | null,
  rows: new Map<string, Row>(),
};

/**
 * What a message's row shows besides the message itself (the row's `of`: its text, edit,
 * reactions, deletion, files, quote, mentions): whether it starts a group, whether it asks
 * "delete?", whether its reader may delete it (an admin), who reads it. A few characters, whatever
 * the message holds: no message is read to find the ones that changed (stringifying each one at
 * each change cost more than the rest of the call in a long room: bench/chat-page-render.mjs).
 */
function messageSig(message: ChatMessage, first: boolean, me: string, deletes: boolean): string {
  const confirming = ui.confirming?.room === message.room && ui.confirming.seq === message.seq;
  return `${first ? 1 : 0}${confirming ? 1 : 0}${deletes ? 1 : 0}${me}`;
}

/** The conversation: messages in seq order with notices between them, then the unsent ones. */
export function renderMessages(
  state: ChatState,
  outbox: Outbox,
  actions: MessageActions,
  mode: ScrollMode = 'update',
): void {
  const box = byId('messages');
  const list = byId('message-list');
  // Where the reader is, read before the rows change (a read after lays them out in the call).
  // A scroll to the end waiting for its frame (toEndSoon): the reader is at the end, nothing is
  // read (the rows of the draw before are not laid out yet: a read would lay them out now). One's
  // own message going out (followOwnMessage): the reader goes to the end wherever they are.
  const own = ui.own;
  ui.own = false;
  const ending = endPending;
  const unread = ending !== null || own;
  const top = unread ? 0 : box.scrollTop;
  const fromBottom = unread ? 0 : box.scrollHeight - top;
  const view = ending ? ending.view : box.clientHeight;
  const nearEnd = unread || isNearEnd(box);
  const spot = focusedSpot(list);
  const anchor = mode === 'update' && !state.jump && !unread ? topMessage(box, list) : null;
  // The last message the reader has seen at the end, if they are there: what comes after it is
  // counted for "jump to latest" if they leave before the scroll to the end (leaveEnd).
  const seenTo = ending ? ending.seenTo : lastSeq(list);
  const room: Room | undefined = state.rooms.get(state.active);
  const redraw = () => renderMessages(state, outbox, actions, 'older');
  byId('load-older').hidden = !room?.hasMore;
  if (
    drawn.list !== list ||
    drawn.room !== (room?.name ?? null) ||
    drawn.state !== state ||
    drawn.actions !== actions ||
    drawn.outbox !== outbox
  ) {
    list.replaceChildren();
    drawn.rows.clear();
    // The rows of the room before are gone: so are their background steps (layOutLater).
    layOutPending?.();
    layOutPending = null;
    endPending?.cancel();
    endPending = null;
    Object.assign(drawn, { list, room: room?.name ?? null, state, actions, outbox });
  }
  if (!room) return;
  // In seq order as the state keeps them (room-state.ts putInOrder): no sort at each change.
  const entries = buildTimeline(room.messages.values(), room.notices, {
    now: Date.now(),
    firstUnread: room.firstUnread,
  });
  const rows = new Map<string, Row>();
  const wanted: HTMLLIElement[] = [];
  /**
   * The row for `key`: the one drawn last if drawn from the same `sig` and object `of`, else
   * `draw()`'s.
   */
  const row = (key: string, sig: string, draw: () => HTMLLIElement, of: object | null = null) => {
    let unique = key;
    for (let n = 1; rows.has(unique); n++) unique = `${key}#${n}`;
    const old = drawn.rows.get(unique);
    const kept = old?.sig === sig && old.of === of ? old : { node: draw(), sig, of };
    rows.set(unique, kept);
    wanted.push(kept.node);
  };
  let lastUser: string | null = null;
  for (const entry of entries) {
    if (entry.kind === 'message') {
      const { message, first } = entry;
      if (state.hides(message)) row(`m${message.seq}`, 'blocked', () => blockedItem(message, actions));
      else
        row(
          `m${message.seq}`,
          messageSig(message, first, state.me, state.mayDeleteOthers(message.room)),
          () => messageItem(message, first, state, actions, redraw),
          message,
        );
      lastUser = message.user;
      continue;
    }
    lastUser = null;
    if (entry.kind === 'day') {
      row(`d${entry.label}`, entry.label, () => {
        const li = el('li', 'day');
        li.append(el('span', '', entry.label));
        return li;
      });
    } else if (entry.kind === 'unread') {
      row('u', 'u', () => {
        const li = el('li', 'unread-divider');
        li.append(el('span', '', 'New messages'));
        return li;
      });
    } else row(`n${entry.text}`, entry.text, () => el('li', 'notice', entry.text));
  }
  for (const pending of outbox.items) {
    if (pending.room !== room.name) continue;
    const first = lastUser !== state.me;
    row(`p${pending.id}`, `${first ? 1 : 0}${state.me}\u0000${JSON.stringify(pending)}`, () =>
      pendingItem(pending, first, state.me, actions),
    );
    lastUser = state.me;
  }
  place(list, wanted);
  drawn.rows = rows;
  restoreFocus(list, spot, ui.shown === room.name, room.name);
  ui.shown = room.name;
  const jump = byId('jump-latest');
  // At the end, where a new message leaves the reader: known without reading the layout; so is
  // a scroll to the end under way.
  let atEnd: boolean | undefined = ending ? true : undefined;
  if (state.jump) {
    endPending?.cancel();
    endPending = null;
    const divider = list.querySelector<HTMLElement>('.unread-divider');
    if (divider) {
      showNear(list, divider, view);
      divider.scrollIntoView({ block: 'start' });
    } else toEnd(box, list, view);
    jump.hidden = true;
  } else if (mode === 'older') {
    // Going to the end anyway (toEndSoon), else as far from the end as before.
    if (!unread) box.scrollTop = box.scrollHeight - fromBottom;
  } else if (own || (state.stick && nearEnd)) {
    toEndSoon(box, list, view, { from: top, own, state, room: room.name, seenTo });
    atEnd = true;
  } else {
    if (state.stick) jump.hidden = false;
    keepInPlace(box, list, anchor);
  }
  state.stick = false;
  state.jump = false;
  seen(state, box, atEnd);
  layOutLater(box, list);
}

/**
 * The page's clock and the schedulers the conversation waits on: a test gives its own
 * (setPageClock), to run the steps when it chooses, with the deadlines and times it chooses.
 */
export interface PageClock {
  /** Milliseconds, from any origin. */
  now(): number;
  /** Runs `step` when the page is idle, with the time left to it; returns how to cancel it. */
  idle(step: (deadline: { timeRemaining(): number; didTimeout: boolean }) => void): () => void;
  /** Runs `step` before the next frame is drawn; returns how to cancel it. */
  frame(step: () => void): () => void;
}

const pageClock: PageClock = {
  now: () => performance.now(),
  idle: whenIdle,
  frame(step) {
    if (typeof requestAnimationFrame === 'function') {
      const id = requestAnimationFrame(() => step());
      return () => cancelAnimationFrame(id);
    }
    const id = setTimeout(step, 16);
    return () => clearTimeout(id);
  },
};
const defaultClock = { ...pageClock };

/**
 * Replaces the clock and schedulers (a test's), or puts the page's back (null); either way what
 * the idle steps learnt of their cost is forgotten.
 */
export function setPageClock(clock: Partial<PageClock> | null): void {
  Object.assign(pageClock, defaultClock, clock ?? {});
  cost = { ...FIRST_COST };
  lastStep = null;
  probe = false;
}

/**
 * The fewest rows an idle step lays out, however little time is left (also when its deadline has
 * passed: `didTimeout`), so the steps always get to the end; and the most (where a time per row
 * misread as tiny on a busy machine stops).
 */
export const LAY_OUT_MIN = 20;
export const LAY_OUT_MAX = 500;

/**
 * What a step costs: a part whatever its size (`fixed`: the layout the step forces goes over the
 * whole list, however few rows changed) and a part per row (`perRow`: each row's own style and
 * layout, its parts' style computed the first time), both measured in bench/CHAT-PAGE-RESULTS.md.
 * First a guess (300 rows took ~40 ms, all counted per row), then measured by each step
 * (layOutTime).
 */
const FIRST_COST = { fixed: 0, perRow: 0.15 };
let cost = { ...FIRST_COST };
/** The step before: its rows and time (ms). */
let lastStep: { rows: number; ms: number } | null = null;

/**
 * How many rows an idle step with `left` ms lays out (LAY_OUT_MIN to LAY_OUT_MAX), and never so
 * few that its fixed part costs more than its rows: idle slots shorter than the fixed part (7.5 ms
 * left in the benchmark against ~25 ms a step) made twelve times as many steps of the fewest rows,
 * each paying the whole list's layout, five times the work of the page's load in all.
 */
function rowsFor(left: number): number {
  const rows = Math.floor((left - cost.fixed) / cost.perRow);
  const least = Math.max(LAY_OUT_MIN, Math.ceil(cost.fixed / cost.perRow));
  return Math.min(LAY_OUT_MAX, Math.max(least, rows) + (probe ? LAY_OUT_MIN : 0));
}

/**
 * The next step lays out LAY_OUT_MIN rows more than its time says (rowsFor): the two steps before
 * were of one size and no fixed part is known, so layOutTime could not tell one from the rows.
 * Where every idle period was too short for more than the fewest rows (the benchmark's), every
 * step was the fewest, the fixed part was never measured, and the least size never applied.
 */
let probe = false;

/**
 * A step of `rows` took `ms`: with the step before, of another size, both parts (the difference
 * in time over the difference in rows is the time per row); else, or when that reads as nonsense
 * (a busy machine's noise), the time per row of this step, its fixed part as known, or all of it
 * counted per row.
 */
function layOutTime(rows: number, ms: number): void {
  const before = lastStep;
  lastStep = { rows, ms };
  probe = false;
  if (before && Math.abs(rows - before.rows) >= LAY_OUT_MIN / 2) {
    const perRow = (ms - before.ms) / (rows - before.rows);
    const fixed = ms - perRow * rows;
    if (perRow > 0 && fixed >= 0) {
      cost = { fixed, perRow: Math.max(perRow, 0.001) };
      return;
    }
  }
  const fixed = before && ms > cost.fixed ? cost.fixed : 0;
  cost = { fixed, perRow: Math.max((ms - fixed) / rows, 0.001) };
  probe = before !== null && fixed === 0;
}

/** The background step waiting for the page to be idle: how to cancel it. */
let layOutPending: (() => void) | null = null;

/**
 * Runs `step` when the page is idle (requestIdleCallback; a timer where there is none), and
 * returns how to cancel it.
 */
function whenIdle(step: (deadline: { timeRemaining(): number; didTimeout: boolean }) => void): () => void {
  if (typeof requestIdleCallback === 'function') {
    const id = requestIdleCallback(step, { timeout: 1000 });
    return () => cancelIdleCallback(id);
  }
  const id = setTimeout(() => step({ timeRemaining: () => 0, didTimeout: true }), 50);
  return () => clearTimeout(id);
}

/**
 * Lays out, while the page is idle, the message rows a draw left to content-visibility (style.css:
 * `data-laid` makes a row visible), a batch at a time, the rows nearest the top of the view first
 * and outward: a page of 3,400 rows left `auto` has Chromium check each one at every frame of a
 * scroll and lay out those coming in sight (62 ms a frame instead of 31), so once it settles the
 * page scrolls as it did before. The first draw stays fast: the batches come after its frame.
 * Each batch looks at the list as it is then: a redraw or a room switch starts again from the
 * rows then in the list, and a row that went away is never touched.
 *
 * A batch is as many rows as the idle time left lays out, at the cost the steps before measured
 * (rowsFor, layOutTime), at least LAY_OUT_MIN: a fixed 300 took ~50 ms on a loaded machine, past
 * the deadline, and a key pressed or a message come meanwhile waited for it.
 */
function layOutLater(box: HTMLElement, list: HTMLElement): void {
  layOutPending?.();
  layOutPending = null;
  const step = (deadline: { timeRemaining(): number }) => {
    layOutPending = null;
    if (!list.isConnected) return;
    const start = pageClock.now();
    const size = rowsFor(deadline.timeRemaining());
    const rows = [...list.children] as HTMLElement[];
    const top = box.getBoundingClientRect().top;
    const low = firstBelow(rows, top);
    const batch: HTMLElement[] = [];
    const pending = (li: HTMLElement) => li.classList.contains('message') && li.dataset.laid === undefined;
    let up = low - 1;
    let down = low;
    while (batch.length < size && (up >= 0 || down < rows.length)) {
      if (down < rows.length) {
        if (pending(rows[down])) batch.push(rows[down]);
        down++;
      }
      if (up >= 0 && batch.length < size) {
        if (pending(rows[up])) batch.push(rows[up]);
        up--;
      }
    }
    if (batch.length === 0) return;
    // Rows above the view go from their guessed height to their own: what is read stays where it
    // is. Chromium's scroll anchoring did not hold it here (the message read moved by the rows'
    // growth, the e2e test), so the step puts it back itself, which also lays the rows out now,
    // in the idle time, rather than in the next frame: one read of the message at the top before
    // the rows change (the layout is clean then), one after (the whole list laid out, the step's
    // fixed part). That message is found among the rows listed above: topMessage's own list of
    // the rows and keepInPlace's search by seq were a quarter of that fixed part
    // (bench/CHAT-PAGE-RESULTS.md), and the step's nodes are the list's, none replaced.
    let at = low;
    while (at < rows.length && rows[at].dataset.seq === undefined) at++;
    const read = rows[at] as HTMLElement | undefined;
    const offset = read ? read.getBoundingClientRect().top - top : 0;
    for (const li of batch) li.dataset.laid = '';
    let moved = 0;
    if (read) {
      moved = read.getBoundingClientRect().top - box.getBoundingClientRect().top - offset;
      box.scrollTop += moved;
    }
    // The page moved the reader, not they: a scroll to the end waiting counts from there.
    if (endPending) endPending.from += moved;
    layOutTime(batch.length, pageClock.now() - start);
    layOutPending = pageClock.idle(step);
  };
  layOutPending = pageClock.idle(step);
}

/** The least a message's row is tall (its tools' height and padding, style.css), in CSS pixels. */
const MIN_ROW_PX = 24;

/** The rows laid out though out of sight (`data-near`), for the page's last scroll. */
let nearRows: HTMLElement[] = [];

/**
 * Lays out the messages around `around` (as many before and after it as a `view` pixels tall box
 * can show) before the page scrolls there. A message out of sight is not laid out (style.css:
 * content-visibility), it counts as a one-line message until it is seen, so a scroll to the end
 * or to a message would be measured with those guesses, and land short of it once the rows seen
 * are laid out, a frame later. The ones marked for the scroll before are laid out as the others
 * again (they keep the height they were seen at).
 */
function showNear(list: HTMLElement, around: Element | null, view: number): void {
  for (const li of nearRows) delete li.dataset.near;
  nearRows = [];
  if (!around || around.parentElement !== list) return;
  const count = Math.ceil(view / MIN_ROW_PX) + 2;
  for (const way of ['previousElementSibling', 'nextElementSibling'] as const) {
    let n = 0;
    for (let node: Element | null = around; node && n < count; node = node[way]) {
      if (!node.classList.contains('message') || (node as HTMLElement).dataset.near !== undefined) continue;
      (node as HTMLElement).dataset.near = '';
      nearRows.push(node as HTMLElement);
      n++;
    }
  }
}

/** Scrolls to the end, its last messages laid out first (showNear). */
function toEnd(box: HTMLElement, list: HTMLElement, view = box.clientHeight): void {
  showNear(list, list.lastElementChild, view);
  box.scrollTop = box.scrollHeight;
}

/**
 * Why a scroll to the end waits (toEndSoon): where the reader was (`from`, their scrollTop read
 * before the rows changed), whether it follows one's own message (`own`), and the last message
 * seen at the end (`seenTo`) in `room` of `state`.
 */
interface EndReason {
  from: number;
  own: boolean;
  state: ChatState;
  room: string;
  seenTo: number;
}

/**
 * The scroll to the end waiting for its frame (toEndSoon): how to cancel it, the height of the
 * conversation read before it, and why it waits.
 */
let endPending: ({ cancel: () => void; view: number } & EndReason) | null = null;

/**
 * How far up (CSS pixels) the reader may be moved, by the page or by a rounding, and still count
 * as at the end; a wheel's or a key's step is far more.
 */
const MOVED_PX = 2;

/** The seq of the list's last message (unsent ones, with none, come after them); 0 if none. */
function lastSeq(list: HTMLElement): number {
  for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
    const seq = (node as HTMLElement).dataset.seq;
    if (seq !== undefined) return Number(seq);
  }
  return 0;
}

/**
 * Scrolls to the end before the next frame is drawn, its last messages laid out first (showNear),
 * without reading the layout now: read after the rows changed (scrollHeight), it was laid out in
 * the call, 12-13 ms of a new message's 15-28 in a room of 3,400 (bench/chat-page-render.mjs),
 * and again for the frame. In the frame's callback it is laid out once. Until then the reader
 * counts as at the end (renderMessages), whatever else is drawn meanwhile.
 */
function toEndSoon(box: HTMLElement, list: HTMLElement, view: number, why: EndReason): void {
  showNear(list, list.lastElementChild, view);
  if (endPending) {
    endPending.own ||= why.own;
    return;
  }
  const cancel = pageClock.frame(() => {
    const pending = endPending;
    endPending = null;
    if (!box.isConnected || !pending) return;
    // Only if the reader is at the end still (a scroll up the events did not tell yet): read here,
    // the layout is the one the scroll to the end needs anyway.
    if (movedAway(pending, box)) leaveEnd(pending, box);
    else box.scrollTop = box.scrollHeight;
  });
  endPending = { cancel, view, ...why };
}

/**
 * Whether the reader went up from where they were when the scroll to the end `pending` was asked
 * for (not for one's own message): above it, and no longer near the end. Near it, they did not
 * move, or the browser moved them: rows that got shorter (an unsent message drawn as sent) bring
 * the end, and the most the view can be scrolled, up to them.
 */
function movedAway(pending: NonNullable<typeof endPending>, box: HTMLElement): boolean {
  return !pending.own && box.scrollTop < pending.from - MOVED_PX && !isNearEnd(box);
}

/**
 * The reader moved up before the scroll to the end `pending` ran (in the same frame a message
 * came): it is dropped, and the messages by others after the last one they saw at the end are
 * counted on "jump to latest", shown (as when they arrive with the reader scrolled up). One's own
 * message goes to the end whatever the reader does (followOwnMessage).
 */
function leaveEnd(pending: NonNullable<typeof endPending>, box: HTMLElement): void {
  pending.cancel();
  endPending = null;
  const { state } = pending;
  const room = state.rooms.get(state.active);
  if (room?.name === pending.room) {
    let count = 0;
    for (const message of room.messages.values())
      if (message.seq > pending.seenTo && message.user !== state.me) count++;
    state.newBelow += count;
  }
  seen(state, box, false);
  byId('jump-latest').hidden = false;
}

/**
 * The reader moves the view up (a wheel turned up, a key: main.ts), maybe before any scroll event:
 * a scroll to the end waiting for its frame goes no further, unless for one's own message.
 */
export function readerMovesUp(): void {
  if (endPending && !endPending.own) leaveEnd(endPending, byId('messages'));
}

/**
 * One's own message goes out (the composer's send, main.ts): the draw it causes takes the reader
 * to the end in the next frame (toEndSoon), wherever they are, as chat users expect, reading no
 * layout in the send's call (it read scrollHeight, the whole list laid out, and again in the frame).
 */
export function followOwnMessage(): void {
  ui.own = true;
}

/**
 * Makes the list's children `wanted`, in order, touching only what changed: rows no longer wanted
 * go, new ones go in at their place, and a kept row stays where it is (moved only if the order
 * changed, which seq order never does): a focused one keeps the focus. New rows next to each
 * other go in together (a fragment): a room's first draw puts its 3,300 rows in at once.
 */
function place(list: HTMLElement, wanted: readonly HTMLLIElement[]): void {
  const keep = new Set<Element>(wanted);
  for (const child of [...list.children]) if (!keep.has(child)) child.remove();
  let at = list.firstElementChild;
  let run: DocumentFragment | null = null;
  for (const node of wanted) {
    if (node !== at) (run ??= document.createDocumentFragment()).append(node);
    else {
      if (run) list.insertBefore(run, at);
      run = null;
      at = at.nextElementSibling;
    }
  }
  if (run) list.insertBefore(run, at);
}

/** An unsent message of the outbox: "sending…", or "not sent" with why and what to do. */
function pendingItem(pending: Pending, first: boolean, me: string, actions: MessageActions): HTMLLIElement {
  const li = el('li', pending.failed ? 'message mine pending failed' : 'message mine pending');
  li.dataset.pending = pending.id;
  // Focusable (not a Tab stop): where the focus stays when its buttons go (Send again).
  li.tabIndex = -1;
  if (first) li.classList.add('first');
  li.append(first ? avatar(me) : el('span', 'gutter'));
  const body = el('div', 'body');
  const meta = el('div', 'meta');
  if (first) meta.append(el('span', 'user', me));
  meta.append(el('span', 'state', pending.failed ? 'not sent' : 'sending…'));
  const text = el('div', 'text');
  text.dir = 'auto';
  renderFormatted(document, text as unknown as DomElement, pending.text);
  body.append(meta, text);
  if (pending.attachments?.length) body.append(renderAttachments(pending.attachments));
  if (pending.failed) body.append(failedNote(pending, pending.failed, actions));
  li.append(body);
  return li;
}

/**
 * Tells the state where the reader is (room-state.ts `seenEnd`): at the end, "jump to latest"
 * goes, with its count; scrolled back, the button says how many messages arrived below. `atEnd`
 * when known (a scroll to the end under way), else read from the layout.
 */
function seen(state: ChatState, box: HTMLElement, atEnd = isNearEnd(box)): void {
  state.seenEnd(atEnd);
  if (atEnd) byId('jump-latest').hidden = true;
  byId('jump-count').textContent = state.newBelow > 0 ? `${newMessagesLabel(state.newBelow)} · ` : '';
}

/** Why an unsent message was refused, and what the user can do about it. */
function failedNote(
  pending: Pending,
  failed: { code: string; message: string },
  actions: MessageActions,
): HTMLElement {
  const note = el('div', 'failed-note');
  note.append(el('span', 'reason', `Not sent: ${refusalReason(pending, failed.code, failed.message)}`));
  const buttons = el('span', 'failed-actions');
  const button = (label: string, className: string, title: string, onClick: () => void) => {
    const b = el('button', `quiet failed-action ${className}`, label);
    b.type = 'button';
    b.title = title;
    b.addEventListener('click', onClick);
    buttons.append(b);
  };
  const id = pending.id;
  if (canSendAgain(failed.code))
    button('Send again', 'resend', 'Send this message again', () => {
      // The button goes (the message is sending again), maybe with the id the list knew the message
      // by (a new one after id_reused): the focus stays on the message, which says "sending…" and
      // then is the message sent (restoreFocus follows it); Tab goes on to the next unsent one's.
      const now = actions.resendPending(id);
      document
        .querySelector<HTMLElement>(`#message-list li.message[data-pending="${CSS.escape(now)}"]`)
        ?.focus({ preventScroll: true });
    });
  button('Edit', 'edit-failed', 'Put its text back in the message box to change it', () =>
    actions.editPending(id),
  );
  button('Discard', 'discard', 'Drop this message', () => {
    // The message goes, and the focus on its button with it: it goes to the message now in its
    // place (the next unsent one, so that several are gone through in turn), else to the one before
    // (the user's place in the conversation), else, none left, to the composer; never the body.
    const near = discardTarget(id);
    actions.discardPending(id);
    ui.following = null;
    const active = document.activeElement;
    if (active !== null && active !== document.body) return;
    const to = near === null ? null : byId('message-list').querySelector<HTMLElement>(near);
    (to ?? byId('composer-input')).focus();
  });
  note.append(' ', buttons);
  return note;
}

/**
 * The message next to unsent message `id` (the next one, else the one before; days and notices are
 * passed over), as a selector that finds it once the list is drawn again; null if it has none.
 */
function discardTarget(id: string): string | null {
  const li = document.querySelector<HTMLElement>(
    `#message-list li.message[data-pending="${CSS.escape(id)}"]`,
  );
  if (!li) return null;
  const sibling = (way: 'nextElementSibling' | 'previousElementSibling'): HTMLElement | null => {
    let node = li[way];
    while (node && !node.matches('li.message')) node = node[way];
    return node as HTMLElement | null;
  };
  const near = sibling('nextElementSibling') ?? sibling('previousElementSibling');
  if (!near) return null;
  const { seq, pending } = near.dataset;
  if (seq !== undefined) return `li.message[data-seq="${CSS.escape(seq)}"]`;
  return pending === undefined ? null : `li.message[data-pending="${CSS.escape(pending)}"]`;
}

/**
 * Puts the focus back on the message (and button) that had it before the redraw. Drawn for another
 * room (Alt+↑/↓ pressed on a message, keyboard.ts), the same seq there is another message: the
 * focus stays in the conversation, on its last message (where Tab enters it: keyboard.ts
 * settleRovingFocus), or in a room with none, goes to the composer; never to the page's body.
 *
 * An unsent message that had the focus and left the outbox (stored: acknowledged or seen) is drawn
 * as the room's message under its outbox id (data-id), in this redraw or a later one
 * (`ui.following`): the focus goes to it, unless the user put it somewhere else meanwhile.
 */
function restoreFocus(list: HTMLElement, spot: Spot | null, sameRoom: boolean, room: string): void {
  if (!sameRoom) ui.following = null;
  else if (!spot && ui.following) {
    const lost = document.activeElement === null || document.activeElement === document.body;
    if (!lost || ui.following.room !== room) ui.following = null;
    else if (focusStored(list, ui.following.id)) ui.following = null;
    return;
  }
  if (!spot) return;
  if (!sameRoom) {
    const last = [...list.querySelectorAll<HTMLElement>('li.message:not(.pending)')].at(-1);
    (last ?? byId('composer-input')).focus({ preventScroll: true });
    return;
  }
  ui.following = null;
  const li = list.querySelector<HTMLElement>(spot.item);
  if (!li) {
    if (spot.pending !== undefined && !focusStored(list, spot.pending))
      ui.following = { room, id: spot.pending };
    return;
  }
  const target = spot.selector ? li.querySelector<HTMLElement>(spot.selector) : null;
  (target ?? li).focus({ preventScroll: true });
}

/** Focuses our own message stored under outbox id `id`, if drawn; whether it was. */
function focusStored(list: HTMLElement, id: string): boolean {
  const li = list.querySelector<HTMLElement>(`li.message.mine[data-id="${CSS.escape(id)}"]`);
  li?.focus({ preventScroll: true });
  return li !== null;
}

/** The reader scrolled: at the end, "jump to latest" goes away (and the count of new messages). */
export function onConversationScroll(state: ChatState): void {
  const box = byId('messages');
  // A scroll to the end under way (toEndSoon) is where the reader is about to be, unless this
  // scroll took them up from where they were (in the same frame a message came): then it goes.
  if (endPending && movedAway(endPending, box)) leaveEnd(endPending, box);
  seen(state, box, endPending === null ? undefined : true);
}

export function jumpToLatest(state: ChatState): void {
  const box = byId('messages');
  toEnd(box, byId('message-list'));
  seen(state, box);
}

/**
 * Scrolls message row `li` to the middle of the conversation, the messages around it laid out
 * first (showNear): a reply's original, a search's hit.
 */
export function centre(li: HTMLElement): void {
  showNear(byId('message-list'), li, byId('messages').clientHeight);
  li.scrollIntoView({ block: 'center' });
}

/** Scrolls to message `seq` and marks it for a moment (a reply's original). */
export function showMessage(seq: number): void {
  const li = document.querySelector<HTMLElement>(`#message-list li.message[data-seq="${seq}"]`);
  if (!li) return;
  centre(li);
  li.classList.add('flash');
  li.focus({ preventScroll: true });
  li.addEventListener('animationend', () => li.classList.remove('flash'), { once: true });
}
