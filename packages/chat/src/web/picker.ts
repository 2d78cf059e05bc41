/**
 * The reaction picker: a small popover (#reaction-picker) with the common reactions and a field
 * for any emoji typed (or pasted). Opened from a message's ☺+ button or the `+` key; Esc, a click
 * outside or a choice closes it and gives the focus back to the message; the focus leaving it
 * (Tab past its last field) closes it too.
 */
import { COMMON_REACTIONS, typedEmoji } from './reactions.js';

let onPick: ((emoji: string) => void) | null = null;
let returnTo: HTMLElement | null = null;

function picker(): HTMLElement {
  return document.getElementById('reaction-picker') as HTMLElement;
}

export function closePicker(): boolean {
  const node = picker();
  if (node.hidden) return false;
  node.hidden = true;
  onPick = null;
  const back = returnTo?.closest<HTMLElement>('li.message') ?? returnTo;
  returnTo = null;
  if (back?.isConnected) back.focus({ preventScroll: true });
  return true;
}

export function openPicker(anchor: HTMLElement, pick: (emoji: string) => void): void {
  const node = picker();
  onPick = pick;
  returnTo = anchor;
  node.hidden = false;
  (node.querySelector('#reaction-error') as HTMLElement).textContent = '';
  (node.querySelector('#reaction-input') as HTMLInputElement).value = '';
  // Next to the button, kept on screen.
  const r = anchor.getBoundingClientRect();
  const width = node.offsetWidth;
  const height = node.offsetHeight;
  node.style.left = `${Math.max(8, Math.min(r.right - width, window.innerWidth - width - 8))}px`;
  node.style.top = `${r.bottom + 6 + height > window.innerHeight ? Math.max(8, r.top - height - 6) : r.bottom + 6}px`;
  node.querySelector<HTMLButtonElement>('.pick')?.focus();
}

function choose(emoji: string): void {
  const pick = onPick;
  closePicker();
  pick?.(emoji);
}

export function setUpPicker(): void {
  const node = picker();
  const row = node.querySelector('.common') as HTMLElement;
  for (const emoji of COMMON_REACTIONS) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'pick';
    button.textContent = emoji;
    button.setAttribute('aria-label', `React with ${emoji}`);
    button.addEventListener('click', () => choose(emoji));
    row.append(button);
  }
  node.querySelector('form')?.addEventListener('submit', (event) => {
    event.preventDefault();
    const input = node.querySelector('#reaction-input') as HTMLInputElement;
    const emoji = typedEmoji(input.value);
    if (emoji) choose(emoji);
    else (node.querySelector('#reaction-error') as HTMLElement).textContent = 'Type one emoji.';
  });
  node.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      closePicker();
    } else if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
      const picks = [...node.querySelectorAll<HTMLElement>('.pick')];
      const i = picks.indexOf(document.activeElement as HTMLElement);
      if (i < 0) return;
      event.preventDefault();
      picks[(i + (event.key === 'ArrowRight' ? 1 : -1) + picks.length) % picks.length].focus();
    }
  });
  // Tab (or anything) taking the focus out of the picker closes it, leaving the focus there.
  node.addEventListener('focusout', (event) => {
    const to = event.relatedTarget as Node | null;
    if (node.hidden || !to || node.contains(to)) return;
    returnTo = null;
    closePicker();
  });
  document.addEventListener('pointerdown', (event) => {
    if (!node.hidden && !node.contains(event.target as Node)) closePicker();
  });
}
