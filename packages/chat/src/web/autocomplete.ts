/**
 * `@name` autocomplete in the composer: a listbox (#mention-list) of the room's members matching
 * what is typed after `@` (mentions.ts); ↑/↓ choose, Enter or Tab put the name in, Esc closes.
 * When what is typed already is the chosen name in full (in any case), Enter is left to the
 * composer, which sends (as Slack and Discord do): `@bob` Enter needs no second Enter. Tab still
 * puts the name in (its spelling, and the space after it).
 * The textarea keeps the focus (aria-activedescendant names the chosen option). It stays a plain
 * textbox with aria-autocomplete: ARIA allows the combobox role (and so aria-expanded) on an
 * <input>, not on a <textarea>.
 */
import { insertMention, type MentionQuery, mentionAt, mentionCandidates } from './mentions.js';

let query: MentionQuery | null = null;
let options: string[] = [];
let chosen = 0;

function list(): HTMLElement {
  return document.getElementById('mention-list') as HTMLElement;
}

/** Closes the list (the composer's text was replaced: another room's draft). */
export function closeMentions(input: HTMLTextAreaElement): void {
  close(input);
}

function close(input: HTMLTextAreaElement): void {
  query = null;
  options = [];
  list().hidden = true;
  input.removeAttribute('aria-activedescendant');
}

function draw(input: HTMLTextAreaElement): void {
  const node = list();
  node.replaceChildren();
  options.forEach((name, i) => {
    const li = document.createElement('div');
    li.id = `mention-option-${i}`;
    li.setAttribute('role', 'option');
    li.setAttribute('aria-selected', String(i === chosen));
    li.textContent = `@${name}`;
    li.addEventListener('pointerdown', (event) => {
      event.preventDefault(); // keep the focus in the textarea
      chosen = i;
      accept(input);
    });
    node.append(li);
  });
  node.hidden = options.length === 0;
  if (options.length > 0) input.setAttribute('aria-activedescendant', `mention-option-${chosen}`);
  else input.removeAttribute('aria-activedescendant');
}

function accept(input: HTMLTextAreaElement): void {
  if (!query || !options[chosen]) return;
  const result = insertMention(input.value, input.selectionStart, query, options[chosen]);
  input.value = result.text;
  input.setSelectionRange(result.caret, result.caret);
  close(input);
}

/** Call on each input event: opens, updates or closes the list. */
export function updateMentions(input: HTMLTextAreaElement, names: () => Iterable<string>, me: string): void {
  query = input.selectionStart === input.selectionEnd ? mentionAt(input.value, input.selectionStart) : null;
  if (!query) {
    close(input);
    return;
  }
  options = mentionCandidates(query.prefix, names(), me);
  chosen = 0;
  draw(input);
}

/** Call first in the composer's keydown: true when the list used the key. */
export function mentionKey(event: KeyboardEvent, input: HTMLTextAreaElement): boolean {
  if (list().hidden || options.length === 0) return false;
  if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
    chosen = (chosen + (event.key === 'ArrowDown' ? 1 : -1) + options.length) % options.length;
    draw(input);
  } else if (event.key === 'Enter' && !event.shiftKey) {
    if (query && query.prefix.toLowerCase() === options[chosen]?.toLowerCase()) {
      close(input); // the name is typed in full: the composer sends
      return false;
    }
    accept(input);
  } else if (event.key === 'Tab') accept(input);
  else if (event.key === 'Escape') close(input);
  else return false;
  event.preventDefault();
  return true;
}
