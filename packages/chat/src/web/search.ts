/**
 * The page's search: a search box in the header, the hits in a panel under it with the matched
 * words highlighted, and a click on a hit opening its room at that message.
 *
 * - Hits are drawn from text nodes and <mark> elements around the server's `ranges`: user text
 *   never becomes HTML.
 * - Typing searches after a short pause (Enter at once); only the reply to the latest request is
 *   shown, so a slow reply never replaces a newer one. "More results" sends the reply's `next`.
 * - Jumping to a message: the room is opened, then older pages are loaded until the message is in
 *   the conversation (at most JUMP_PAGES pages), and it is scrolled to, focused and flashed. A
 *   MutationObserver on the message list sees each redraw, so the page's renderer needs no hook.
 *   A refused older page redraws nothing: room-state tells main.ts, which calls olderRefused(),
 *   and the jump ends with the refusal said in the panel (only there), the hit there to click
 *   again. So does a refused latest page of a room the jump opened (latestRefused()): the hit
 *   clicked again asks for it again.
 *   A message further back is shown in context in the panel instead: the page of the room around
 *   it (`history` with `around`), read-only, the hit marked.
 *
 * main.ts gives it the connection and the room state through SearchHost, and passes it every
 * server message first (handles() takes the ones that answer a search).
 */
import type { ChatMessage, ClientMessage, SearchHit, ServerMessage } from '../shared/protocol.js';
import { centre } from './conversation.js';
import { el } from './dom.js';
import { mediumTime } from './timeline.js';

export interface SearchHost {
  send(message: ClientMessage): boolean;
  /** The room's name as the page shows it (#room, @user). */
  label(room: string): string;
  /** Opens the room in the conversation. */
  open(room: string): void;
  /** The open room. */
  active(): string;
  /**
   * Where message `seq` of `room` stands in the page: `loaded` (drawn at the next redraw),
   * `older` (an older page may hold it), `wait` (the room is still loading), `refused` (the
   * room's latest page was refused: nothing is on its way, opening the room asks again), `gone`
   * (not in the room: deleted since, or the room left).
   */
  locate(room: string, seq: number): 'loaded' | 'older' | 'wait' | 'refused' | 'gone';
  /** Loads the open room's next older page. */
  loadOlder(): void;
}

const DEBOUNCE_MS = 300;
/** Most older pages loaded to reach a hit (50 messages each). */
const JUMP_PAGES = 10;
const FLASH_MS = 2500;

/** `text` as text nodes, with the [start, end) ranges wrapped in <mark>. */
export function highlighted(text: string, ranges: readonly [number, number][]): DocumentFragment {
  const out = document.createDocumentFragment();
  let at = 0;
  for (const [start, end] of [...ranges].sort((a, b) => a[0] - b[0])) {
    if (start < at || end > text.length || end <= start) continue; // malformed: skip, never throw
    if (start > at) out.append(document.createTextNode(text.slice(at, start)));
    out.append(el('mark', '', text.slice(start, end)));
    at = end;
  }
  if (at < text.length) out.append(document.createTextNode(text.slice(at)));
  return out;
}

/** Most characters of a hit's text shown in the results: a few lines, not a whole long message. */
export const SNIPPET_CHARS = 200;
/** How much of the text before its first match a snippet keeps, for the words leading to it. */
const SNIPPET_LEAD = 40;

/**
 * A long hit's text cut to `max` characters around its first match, with "…" where text was left
 * out, and its ranges moved to match (those outside dropped, one cut short ends at the cut). A whole
 * message of 2,000 characters filled the panel, and a phone's screen, with one hit. A surrogate
 * pair (an emoji) is never split.
 */
export function snippet(
  text: string,
  ranges: readonly [number, number][],
  max = SNIPPET_CHARS,
): { text: string; ranges: [number, number][] } {
  if (text.length <= max) return { text, ranges: ranges.map(([a, b]) => [a, b]) };
  const first = Math.min(...ranges.filter(([a, b]) => a >= 0 && b > a && b <= text.length).map(([a]) => a));
  let start = Number.isFinite(first) ? Math.max(0, Math.min(first - SNIPPET_LEAD, text.length - max)) : 0;
  let end = Math.min(text.length, start + max);
  const low = (i: number) => i > 0 && i < text.length && /[\uDC00-\uDFFF]/.test(text[i] ?? '');
  if (low(start)) start++;
  if (low(end)) end--;
  const before = start > 0 ? '…' : '';
  const after = end < text.length ? '…' : '';
  const shift = before.length - start;
  const moved: [number, number][] = [];
  for (const [a, b] of ranges) {
    if (b <= start || a >= end || b <= a) continue;
    moved.push([Math.max(a, start) + shift, Math.min(b, end) + shift]);
  }
  return { text: before + text.slice(start, end) + after, ranges: moved };
}

/** Whether the two elements' boxes share some area of the page. */
function overlaps(a: Element, b: Element): boolean {
  const p = a.getBoundingClientRect();
  const q = b.getBoundingClientRect();
  return p.left < q.right && q.left < p.right && p.top < q.bottom && q.top < p.bottom;
}

/**
 * A hit's time: the date and time in the panel's width ("Dec 2, 2026, 9:05 AM"), from the formatter
 * timeline.ts makes once per locale, not one made for each hit (as Date#toLocaleString with
 * options does at every call, which is slow).
 */
export function hitTime(ts: number, locale?: string): string {
  return mediumTime(ts, locale);
}

function timeOf(ts: number): HTMLTimeElement {
  const time = el('time', '', hitTime(ts));
  time.dateTime = new Date(ts).toISOString();
  return time;
}

export class SearchPanel {
  readonly #host: SearchHost;
  readonly #form: HTMLFormElement;
  readonly #input: HTMLInputElement;
  readonly #panel: HTMLElement;
  readonly #status: HTMLElement;
  readonly #list: HTMLOListElement;
  readonly #more: HTMLButtonElement;
  #ref = '';
  #n = 0;
  #query = '';
  /**
   * The search asked for and not answered yet: sent (#ref), or not sent for being offline. Asked
   * again on a new connection (reconnected), whose answer replaces "Offline —" or "Searching…".
   */
  #asked: { query: string; before: string | undefined } | null = null;
  /** The context of a far-back hit asked for and not answered yet, as #asked. */
  #around: { room: string; seq: number } | null = null;
  #next: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #jump: { room: string; seq: number; pages: number } | null = null;
  #contextRef = '';
  readonly #context: HTMLElement;

  constructor(host: SearchHost, header: HTMLElement, messageList: HTMLElement) {
    this.#host = host;
    this.#form = el('form');
    this.#form.id = 'search-form';
    this.#form.setAttribute('role', 'search');
    const label = el('label', 'visually-hidden', 'Search messages');
    label.htmlFor = 'search-input';
    this.#input = el('input');
    this.#input.id = 'search-input';
    this.#input.type = 'search';
    this.#input.placeholder = 'Search messages';
    this.#input.autocomplete = 'off';
    this.#input.maxLength = 200;
    this.#input.setAttribute('aria-controls', 'search-results');
    this.#form.append(label, this.#input);
    const title = header.querySelector('h1');
    if (title) title.after(this.#form);
    else header.prepend(this.#form);

    this.#panel = el('section');
    this.#panel.id = 'search-results';
    this.#panel.hidden = true;
    this.#panel.setAttribute('aria-label', 'Search results');
    const close = el('button', 'link search-close', 'Close');
    close.type = 'button';
    // The Close just pressed goes with the panel: the focus goes back to the search box, as on
    // Esc, not to the page's body (from where Tab starts again at the top).
    close.addEventListener('click', () => {
      this.close();
      this.#input.focus();
    });
    this.#status = el('p', 'search-status');
    this.#status.setAttribute('role', 'status');
    this.#list = el('ol', 'search-hits');
    this.#more = el('button', 'link search-more', 'More results');
    this.#more.type = 'button';
    this.#more.hidden = true;
    this.#more.addEventListener('click', () => {
      // More results hides itself while it asks: the focus waits on the last hit shown, and goes
      // on to the first new one when they come (#show), not to the page's body.
      const last = this.#list.lastElementChild?.querySelector<HTMLElement>('.search-hit');
      if (document.activeElement === this.#more && last) {
        last.focus();
        this.#moreFrom = last;
      }
      this.#request(this.#query, this.#next);
    });
    this.#context = el('section', 'search-context');
    this.#context.hidden = true;
    this.#context.setAttribute('aria-label', 'The message in its room');
    this.#panel.append(close, this.#status, this.#list, this.#more, this.#context);
    header.after(this.#panel);

    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      clearTimeout(this.#timer);
      this.#start();
    });
    this.#input.addEventListener('input', () => {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#start(), DEBOUNCE_MS);
    });
    const onEscape = (event: KeyboardEvent) => {
      if (event.key === 'Escape' && !this.#panel.hidden) {
        this.close();
        this.#input.focus();
      }
    };
    this.#input.addEventListener('keydown', onEscape);
    this.#panel.addEventListener('keydown', onEscape);
    new MutationObserver(() => this.#continueJump()).observe(messageList, { childList: true });
  }

  close(): void {
    this.#panel.hidden = true;
    this.#ref = '';
    this.#asked = null;
    this.#contextRef = '';
    this.#around = null;
  }

  /**
   * A new connection (a welcome): what the open panel asked for and got no answer to (refused
   * offline, or its answer lost with the old connection) is asked again; its answer replaces what
   * the panel said meanwhile ("Offline — ...", "Searching…").
   */
  reconnected(): void {
    if (this.#panel.hidden) return;
    if (this.#asked) this.#sendSearch();
    if (this.#around) this.#askAround();
  }

  /** Takes the server's answers to this panel's requests; false for anything else. */
  handles(msg: ServerMessage): boolean {
    if (msg.type === 'deleted' || msg.type === 'edited') this.#follow(msg.room, msg.target, msg);
    const ref = 'ref' in msg ? msg.ref : undefined;
    if (ref === undefined || !ref.startsWith('search-')) return false;
    if (ref === this.#contextRef) {
      this.#contextRef = '';
      this.#around = null;
      if (msg.type === 'history') this.#showContext(msg.room, msg.messages);
      else if (msg.type === 'error') this.#status.textContent = msg.message;
      return true;
    }
    if (ref !== this.#ref) return true; // an answer to a request since replaced
    this.#ref = '';
    this.#asked = null;
    if (msg.type === 'search') this.#show(msg.hits, msg.next, msg.query);
    else if (msg.type === 'error')
      this.#status.textContent =
        msg.code === 'rate_limited' ? 'Searching too fast — try again in a moment.' : msg.message;
    return true;
  }

  /**
   * A message shown in the panel (a hit, or in a hit's context) was deleted or edited: a deleted
   * one's text goes, as in the conversation and in the quotes of it; an edited one shows its new
   * text (without marks: they were for the old words). Room events are not answers: main.ts goes
   * on with them.
   */
  #follow(room: string, seq: number, event: { type: 'deleted' } | { type: 'edited'; text: string }): void {
    const text = event.type === 'deleted' ? 'message deleted' : event.text;
    const hit = `.search-hit[data-room="${CSS.escape(room)}"][data-seq="${seq}"] .search-text`;
    const context = `.search-context-list[data-room="${CSS.escape(room)}"] li[data-seq="${seq}"] .search-text`;
    for (const node of this.#panel.querySelectorAll<HTMLElement>(`${hit}, ${context}`))
      node.textContent = text;
  }

  #start(): void {
    const query = this.#input.value.trim();
    if (query === '') {
      this.close();
      return;
    }
    this.#list.replaceChildren();
    this.#list.hidden = false;
    this.#context.hidden = true;
    this.#contextRef = '';
    this.#around = null;
    this.#request(query, undefined);
  }

  #request(query: string, before: string | undefined): void {
    this.#query = query;
    this.#asked = { query, before };
    this.#panel.hidden = false;
    this.#more.hidden = true;
    this.#sendSearch();
  }

  #sendSearch(): void {
    if (!this.#asked) return;
    const { query, before } = this.#asked;
    this.#ref = `search-${++this.#n}`;
    const message: ClientMessage = { v: 2, type: 'search', ref: this.#ref, query };
    if (before !== undefined) message.before = before;
    this.#status.textContent = 'Searching…';
    if (!this.#host.send(message)) {
      this.#ref = '';
      this.#status.textContent = 'Offline — searching once the chat is connected again.';
    }
  }

  #show(hits: SearchHit[], next: string | undefined, query: string): void {
    const count0 = this.#list.childElementCount;
    for (const hit of hits) this.#list.append(this.#item(hit));
    const from = this.#moreFrom;
    this.#moreFrom = null;
    if (from && document.activeElement === from)
      (this.#list.children[count0]?.querySelector<HTMLElement>('.search-hit') ?? this.#more).focus();
    this.#next = next;
    this.#more.hidden = next === undefined;
    const count = this.#list.childElementCount;
    this.#status.textContent =
      count === 0
        ? next === undefined
          ? `No messages with “${query}”.`
          : 'Nothing yet — More results searches further back.'
        : `${count}${next === undefined ? '' : '+'} message${count === 1 ? '' : 's'} with “${query}”`;
  }

  #item(hit: SearchHit): HTMLLIElement {
    const li = el('li');
    const button = el('button', 'search-hit');
    button.type = 'button';
    button.dataset.room = hit.room;
    button.dataset.seq = String(hit.seq);
    const meta = el('span', 'search-meta');
    const time = timeOf(hit.ts);
    meta.append(
      el('span', 'search-room', this.#host.label(hit.room)),
      el('span', 'search-user', hit.user),
      time,
    );
    const text = el('span', 'search-text');
    text.dir = 'auto';
    const shown = snippet(hit.text, hit.ranges);
    text.append(highlighted(shown.text, shown.ranges));
    button.append(meta, text);
    button.addEventListener('click', () => this.jumpTo(hit.room, hit.seq));
    li.append(button);
    return li;
  }

  /** Opens `room` at message `seq` (loading older pages as needed). */
  jumpTo(room: string, seq: number): void {
    this.#jump = { room, seq, pages: 0 };
    // Its latest page refused, the room open stays empty: opening it again asks again.
    if (this.#host.active() !== room || this.#host.locate(room, seq) === 'refused') this.#host.open(room);
    this.#continueJump();
  }

  #continueJump(): void {
    const jump = this.#jump;
    if (!jump) return;
    if (this.#host.active() !== jump.room) {
      this.#jump = null; // the user went elsewhere meanwhile
      return;
    }
    const item = document.querySelector<HTMLElement>(`#message-list li.message[data-seq="${jump.seq}"]`);
    if (item) {
      this.#jump = null;
      item.tabIndex = -1;
      item.classList.add('search-target');
      centre(item);
      item.focus({ preventScroll: true });
      // The message is what the hit was for: where the panel lies over it (a phone, where the
      // panel is as wide as the screen) the panel gives way. The search box keeps the query.
      if (overlaps(this.#panel, item)) this.close();
      setTimeout(() => item.classList.remove('search-target'), FLASH_MS);
      return;
    }
    const where = this.#host.locate(jump.room, jump.seq);
    // The next redraw comes back here; a refusal of the page waited for ends the jump (latestRefused).
    if (where === 'loaded' || where === 'wait' || where === 'refused') return;
    if (where === 'older' && jump.pages < JUMP_PAGES) {
      jump.pages++;
      this.#host.loadOlder();
      return;
    }
    this.#jump = null;
    this.#panel.hidden = false;
    if (where === 'gone') {
      this.#status.textContent = 'That message is no longer in its room.';
      return;
    }
    // Too far back to page to: the room around it, here.
    this.#target = jump.seq;
    this.#around = { room: jump.room, seq: jump.seq };
    this.#askAround();
  }

  /**
   * The server refused an older page of `room` (`said`: why, as the page says it): a jump waiting
   * for it ends, said in the panel, its hit there to click again. (Nothing is redrawn for a
   * refusal: the jump waited for good.) True if said here: the page then says it nowhere else.
   */
  olderRefused(room: string, said: string): boolean {
    return this.#refused(room, `Older messages not loaded: ${said}`);
  }

  /** The latest page of `room`, opened by a jump, was refused: as olderRefused. */
  latestRefused(room: string, said: string): boolean {
    return this.#refused(room, `Messages of ${this.#host.label(room)} not loaded: ${said}`);
  }

  #refused(room: string, text: string): boolean {
    if (this.#jump?.room !== room) return false;
    this.#jump = null;
    this.#panel.hidden = false;
    this.#status.textContent = text;
    return true;
  }

  #askAround(): void {
    if (!this.#around) return;
    const { room, seq } = this.#around;
    this.#contextRef = `search-${++this.#n}`;
    this.#status.textContent = 'That message is far back: here it is in context.';
    if (!this.#host.send({ v: 2, type: 'history', ref: this.#contextRef, room, around: seq })) {
      this.#contextRef = '';
      this.#status.textContent =
        'Offline — the message is shown in context once the chat is connected again.';
    }
  }

  #target = 0;
  /** The hit that holds the focus while More results asks (see its click). */
  #moreFrom: HTMLElement | null = null;

  /** The page around a hit, read-only in the panel, the hit marked and scrolled to. */
  #showContext(room: string, messages: readonly ChatMessage[]): void {
    this.#list.hidden = true;
    this.#more.hidden = true;
    const title = el('h3', '', `${this.#host.label(room)} around the message`);
    const back = el('button', 'link', 'Back to results');
    back.type = 'button';
    const seq = this.#target;
    back.addEventListener('click', () => {
      // The focused Back goes with the context: the focus goes to the hit it was opened from (or,
      // gone from the list, to the first hit, else the search box), not to the page's body.
      const hadFocus = this.#context.contains(document.activeElement);
      this.#context.hidden = true;
      this.#list.hidden = false;
      this.#more.hidden = this.#next === undefined;
      if (!hadFocus) return;
      const hits = [...this.#list.querySelectorAll<HTMLElement>('.search-hit')];
      const from = hits.find((hit) => hit.dataset.room === room && hit.dataset.seq === String(seq));
      (from ?? hits[0] ?? this.#input).focus();
    });
    const list = el('ol', 'search-context-list');
    list.dataset.room = room;
    let target: HTMLElement | null = null;
    for (const m of messages) {
      const li = el('li');
      li.dataset.seq = String(m.seq);
      const meta = el('span', 'search-meta');
      const time = timeOf(m.ts);
      meta.append(el('span', 'search-user', m.user), time);
      const text = el('span', 'search-text');
      text.dir = 'auto';
      if (m.deleted) text.textContent = 'message deleted';
      else text.textContent = m.text;
      li.append(meta, text);
      if (m.seq === this.#target) {
        li.classList.add('search-target');
        li.tabIndex = -1;
        target = li;
      }
      list.append(li);
    }
    this.#context.replaceChildren(back, title, list);
    this.#context.hidden = false;
    target?.scrollIntoView({ block: 'center' });
    target?.focus({ preventScroll: true });
  }
}
