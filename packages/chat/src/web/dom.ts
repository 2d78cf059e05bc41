/** Small DOM helpers for the page's renderers. User text goes through format.ts, never through here as HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing #${id}`);
  return node as T;
}

/**
 * A form's refusal tied to the field it is about: the field is marked invalid and described by
 * the error's text, so a screen reader on the field (focus back on it to correct it) says what
 * is wrong, not only the alert said once when the error was written. `null` unties it.
 */
export function tieError(field: HTMLElement, errorId: string | null): void {
  if (errorId === null) {
    field.removeAttribute('aria-invalid');
    field.removeAttribute('aria-describedby');
    return;
  }
  field.setAttribute('aria-invalid', 'true');
  field.setAttribute('aria-describedby', errorId);
}
