/**
 * The keyboard: every action without a mouse, and the shortcut list (`?`, the #shortcuts dialog).
 *
 * - The conversation is one Tab stop (a roving tabindex): ↑/↓, Home/End move between messages;
 *   Tab reaches the focused message's tools (← → move between them); E edits, Delete deletes,
 *   R replies, + reacts (the tools present on that message); Esc goes back to the composer.
 * - Alt+↑/Alt+↓ open the previous/next room or direct message, from anywhere.
 * - `?` (outside a text field) shows the list; Esc closes it.
 */

export interface KeyboardHost {
  /** Room names in the order the sidebar shows them. */
  roomOrder(): string[];
  active(): string;
  open(room: string): void;
  focusComposer(): void;
}

const KEYS: Record<string, string> = { e: '.edit', Delete: '.delete', r: '.reply', '+': '.react' };

function typingInField(target: EventTarget | null): boolean {
  const node = target as HTMLElement | null;
  return !!node && (node.tagName === 'INPUT' || node.tagName === 'TEXTAREA' || node.isContentEditable);
}

function messages(list: HTMLElement): HTMLElement[] {
  return [...list.querySelectorAll<HTMLElement>('li.message:not(.pending)')];
}

/** What Tab can reach inside a message: its buttons and its links (in the text, its files). */
const CONTROLS = 'button, a[href]';

/** Which message of the list is current (a Tab stop, its controls in the Tab order). */
const currents = new WeakMap<HTMLElement, HTMLElement>();

function setTabStop(li: HTMLElement, on: boolean): void {
  li.tabIndex = on ? 0 : -1;
  for (const b of li.querySelectorAll<HTMLElement>(CONTROLS)) b.tabIndex = on ? 0 : -1;
}

/**
 * A message as drawn (conversation.ts): out of the Tab order, its controls too (a link left in it
 * made each linked message a stop of its own, and skipped the current message when Tab entered
 * the list), until made current.
 */
export function outOfTabOrder(li: HTMLElement): void {
  setTabStop(li, false);
}

/**
 * Makes `current` the message Tab lands on, with its controls reachable by Tab; every other
 * message's controls stay out of the Tab order. Messages are drawn out of it, and only this
 * puts one in: the one current before is all there is to take out (the rows are kept across
 * redraws, and a look at each of thousands at each change cost more than drawing what changed).
 * An unsent message is never current: made "current", none is.
 */
function makeCurrent(list: HTMLElement, current: HTMLElement): void {
  const before = currents.get(list);
  if (before && before !== current) setTabStop(before, false);
  if (!current.matches('li.message:not(.pending)')) {
    currents.delete(list);
    return;
  }
  setTabStop(current, true);
  currents.set(list, current);
}

/** The last sent message of the list (unsent ones, days and notices passed over), if any. */
function lastMessage(list: HTMLElement): HTMLElement | undefined {
  for (let node = list.lastElementChild; node; node = node.previousElementSibling)
    if (node.matches('li.message:not(.pending)')) return node as HTMLElement;
  return undefined;
}

/** After a redraw: the focused message stays current, else the last one. */
export function settleRovingFocus(list: HTMLElement): void {
  const focused = (document.activeElement as HTMLElement | null)?.closest<HTMLElement>('li.message');
  const current = focused && list.contains(focused) ? focused : lastMessage(list);
  if (current) makeCurrent(list, current);
}

export function setUpKeyboard(host: KeyboardHost): void {
  const list = document.getElementById('message-list') as HTMLElement;
  const dialog = document.getElementById('shortcuts') as HTMLDialogElement;

  list.addEventListener('focusin', (event) => {
    const li = (event.target as HTMLElement).closest<HTMLElement>('li.message');
    if (li && !li.classList.contains('pending')) makeCurrent(list, li);
  });
  list.addEventListener('keydown', (event) => {
    const target = event.target as HTMLElement;
    const li = target.closest<HTMLElement>('li.message');
    if (!li) return;
    // In a message's toolbar, ← and → go from tool to tool (the ARIA toolbar's keys; Tab too).
    const bar = target.closest<HTMLElement>('.actions');
    if (bar && (event.key === 'ArrowLeft' || event.key === 'ArrowRight')) {
      const tools = [...bar.querySelectorAll<HTMLElement>('button')];
      const at = tools.indexOf(target);
      const to = tools[(at + (event.key === 'ArrowRight' ? 1 : -1) + tools.length) % tools.length];
      if (at >= 0 && to) {
        event.preventDefault();
        to.focus();
      }
      return;
    }
    const all = messages(list);
    // An unsent message (its item or its buttons: Send again...) comes after the sent ones: ↑ goes
    // to the last of them, ↓ nowhere (it went to the first message).
    const i = li.classList.contains('pending') ? all.length : all.indexOf(li);
    // The moves are the keys alone. Alt+↑/↓ is "previous/next room" (the document's handler below),
    // here as anywhere: taken for ↑/↓ too, it first moved the focus to another message.
    const move = !event.altKey && !event.ctrlKey && !event.metaKey;
    let next: HTMLElement | undefined;
    if (move && event.key === 'ArrowUp') next = all[Math.max(0, i - 1)];
    else if (move && event.key === 'ArrowDown' && i < all.length) next = all[Math.min(all.length - 1, i + 1)];
    else if (move && event.key === 'Home') next = all[0];
    else if (move && event.key === 'End') next = all.at(-1);
    else if (event.key === 'Escape') {
      event.preventDefault();
      host.focusComposer();
      return;
    } else if (target === li && KEYS[event.key] && !event.ctrlKey && !event.metaKey && !event.altKey) {
      const tool = li.querySelector<HTMLElement>(KEYS[event.key]);
      if (tool) {
        event.preventDefault();
        tool.click();
      }
      return;
    }
    if (next) {
      event.preventDefault();
      next.focus();
    }
  });

  document.addEventListener('keydown', (event) => {
    if (event.altKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
      const order = host.roomOrder();
      const i = order.indexOf(host.active());
      const next = order[(i + (event.key === 'ArrowUp' ? -1 : 1) + order.length) % order.length];
      if (next !== undefined) {
        event.preventDefault();
        host.open(next);
      }
      return;
    }
    if (event.key === '?' && !typingInField(event.target) && !dialog.open) {
      event.preventDefault();
      dialog.showModal();
    }
  });
  document.getElementById('shortcuts-button')?.addEventListener('click', () => dialog.showModal());
}
